// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: talking to the cowfs generic netlink family, after iw(8).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "cowctl.h"
#include "nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* libnl's error codes, as the nearest errno. */
static int nlerr_to_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case NLE_NOMEM:		return ENOMEM;
	case NLE_PERM:		return EPERM;
	case NLE_OBJ_NOTFOUND:	return ENOENT;
	case NLE_NOACCESS:	return EACCES;
	case NLE_AF_NOSUPPORT:	return EAFNOSUPPORT;
	case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
	case NLE_OPNOTSUPP:	return EOPNOTSUPP;
	case NLE_INVAL:		return EINVAL;
	case NLE_BUSY:		return EBUSY;
	case NLE_AGAIN:		return EAGAIN;
	default:		return EIO;
	}
}

int cowctl_nl_open(struct cowctl_nl *nl, unsigned int flags)
{
	int one = 1, err;

	nl->family = -1;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		error_msg("cannot allocate a netlink socket: %s",
			  strerror(ENOMEM));
		return -ENOMEM;
	}
	err = genl_connect(nl->sk);
	if (err < 0) {
		error_msg("cannot open a generic netlink socket: %s",
			  nl_geterror(err));
		err = -nlerr_to_errno(err);
		goto fail;
	}
	/* Ask for the kernel's error messages; older kernels just ignore it. */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));

	nl->family = genl_ctrl_resolve(nl->sk, COWCTL_GENL_NAME);
	if (nl->family < 0) {
		err = nl->family == -NLE_OBJ_NOTFOUND ? -ENOENT :
			-nlerr_to_errno(nl->family);
		if (err != -ENOENT)
			error_msg("cannot look up the %s netlink family: %s",
				  COWCTL_GENL_NAME, nl_geterror(nl->family));
		else if (!(flags & COWCTL_NL_QUIET))
			error_msg("the cowfs kernel module is not loaded (load it with 'modprobe cowfs' or 'insmod kernel/cowfs.ko')");
		goto fail;
	}
	return 0;
fail:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	nl->family = -1;
	return err;
}

void cowctl_nl_close(struct cowctl_nl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
	nl->family = -1;
}

struct nl_msg *cowctl_nl_msg(struct cowctl_nl *nl, uint8_t cmd, int flags,
			     uint8_t version)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg) {
		error_msg("cannot allocate a netlink message: %s",
			  strerror(ENOMEM));
		return NULL;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, version)) {
		error_msg("cannot build a netlink message: %s",
			  strerror(ENOBUFS));
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* The kernel's NLMSG_ERROR: keep the errno, print the extack message. */
static int error_cb(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)err - 1;
	int len = nlh->nlmsg_len, ack_len;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	int *ret = arg;

	(void)nla;
	*ret = err->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;

	ack_len = sizeof(*nlh) + sizeof(int) + sizeof(*nlh);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		ack_len += err->msg.nlmsg_len - sizeof(*nlh);
	if (len <= ack_len)
		return NL_STOP;

	if (nla_parse(tb, NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((unsigned char *)nlh + ack_len),
		      len - ack_len, NULL) < 0)
		return NL_STOP;
	if (tb[NLMSGERR_ATTR_MSG]) {
		const char *msg = nla_data(tb[NLMSGERR_ATTR_MSG]);
		int n = strnlen(msg, nla_len(tb[NLMSGERR_ATTR_MSG]));

		while (n > 0 && msg[n - 1] == '\n')
			n--;
		error_msg("kernel: %.*s", n, msg);
	}
	return NL_STOP;
}

static int finish_cb(struct nl_msg *msg, void *arg)
{
	int *ret = arg;

	(void)msg;
	*ret = 0;
	return NL_SKIP;
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	int *ret = arg;

	(void)msg;
	*ret = 0;
	return NL_STOP;
}

int cowctl_nl_request(struct cowctl_nl *nl, struct nl_msg *msg,
		      int (*cb)(struct nl_msg *msg, void *arg), void *arg)
{
	struct nl_cb *nlcb = nl_cb_alloc(NL_CB_DEFAULT);
	int err, ret = 1;	/* 1: still waiting for ACK or DONE */

	if (!nlcb) {
		nlmsg_free(msg);
		error_msg("cannot allocate netlink callbacks: %s",
			  strerror(ENOMEM));
		return -ENOMEM;
	}
	err = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (err < 0) {
		error_msg("cannot send a netlink request: %s",
			  nl_geterror(err));
		nl_cb_put(nlcb);
		return -nlerr_to_errno(err);
	}

	nl_cb_err(nlcb, NL_CB_CUSTOM, error_cb, &ret);
	nl_cb_set(nlcb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, &ret);
	nl_cb_set(nlcb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &ret);
	if (cb)
		nl_cb_set(nlcb, NL_CB_VALID, NL_CB_CUSTOM, cb, arg);

	while (ret > 0) {
		err = nl_recvmsgs(nl->sk, nlcb);
		if (err < 0 && ret > 0) {
			error_msg("cannot receive the netlink reply: %s",
				  nl_geterror(err));
			ret = -nlerr_to_errno(err);
		}
	}
	nl_cb_put(nlcb);
	return ret;
}
