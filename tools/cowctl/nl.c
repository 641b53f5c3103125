// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: talking to the cowfs generic netlink family, after iw(8).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <stdarg.h>
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
	nl->extack[0] = '\0';
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
	/*
	 * Receive with a 32 KiB buffer from the first read on: the kernel
	 * sizes each dump message after the biggest read so far (capped at
	 * 32 KiB), and a mount with many layers needs the room.
	 */
	nl_socket_set_msg_buf_size(nl->sk, COWCTL_NL_BUFSIZE);
	nl_socket_enable_msg_peek(nl->sk);	/* and more for a bigger one */

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
	/* Room for the largest request the kernel takes (16 KiB of labels) */
	struct nl_msg *msg = nlmsg_alloc_size(COWCTL_NL_BUFSIZE);

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

/* The state of one request, for the callbacks. */
struct req_state {
	int ret;		/* 1 while waiting for the ACK or DONE */
	struct cowctl_nl *nl;
};

/*
 * Keep the extack message of NLMSG_ERROR @nlh: an error's reason, or a
 * warning that came with a success (error 0, an ACK).
 */
static void keep_extack(struct req_state *st, struct nlmsghdr *nlh)
{
	struct nlmsgerr *err = nlmsg_data(nlh);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	int len = nlh->nlmsg_len, ack_len;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	ack_len = sizeof(*nlh) + sizeof(int) + sizeof(*nlh);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		ack_len += err->msg.nlmsg_len - sizeof(*nlh);
	if (len <= ack_len)
		return;

	if (nla_parse(tb, NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((unsigned char *)nlh + ack_len),
		      len - ack_len, NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG]) {
		const char *msg = nla_data(tb[NLMSGERR_ATTR_MSG]);
		int n = strnlen(msg, nla_len(tb[NLMSGERR_ATTR_MSG]));

		while (n > 0 && msg[n - 1] == '\n')
			n--;
		snprintf(st->nl->extack, sizeof(st->nl->extack), "%.*s", n,
			 msg);
	}
}

/* The kernel's NLMSG_ERROR: keep the errno and the extack message. */
static int error_cb(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct req_state *st = arg;

	(void)nla;
	st->ret = err->error;
	keep_extack(st, (struct nlmsghdr *)err - 1);
	return NL_STOP;
}

/*
 * NLMSG_DONE ends a dump.  It carries the dump's error, if any: a dump
 * that failed part way (an entry too big for a message) must not pass
 * for a complete one.  Its extack, if any, follows as in NLMSG_ERROR; a
 * complete dump may carry one too, a warning (the kernel hid what the
 * caller may not see), kept in nl->extack all the same.
 */
static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct req_state *st = arg;
	int err = 0;

	if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
		memcpy(&err, nlmsg_data(nlh), sizeof(int));
	st->ret = err < 0 ? err : 0;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    nlh->nlmsg_len > NLMSG_LENGTH(sizeof(int))) {
		struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
		struct nlattr *a = (struct nlattr *)((char *)nlmsg_data(nlh) +
						     NLMSG_ALIGN(sizeof(int)));
		int len = nlh->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(int)));

		if (len > 0 && !nla_parse(tb, NLMSGERR_ATTR_MAX, a, len, NULL) &&
		    tb[NLMSGERR_ATTR_MSG])
			snprintf(st->nl->extack, sizeof(st->nl->extack), "%.*s",
				 (int)strnlen(nla_data(tb[NLMSGERR_ATTR_MSG]),
					      nla_len(tb[NLMSGERR_ATTR_MSG])),
				 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	}
	return NL_STOP;
}

/* Success; its extack message, if any, is a warning for the user */
static int ack_cb(struct nl_msg *msg, void *arg)
{
	struct req_state *st = arg;

	st->ret = 0;
	keep_extack(st, nlmsg_hdr(msg));
	return NL_STOP;
}

int cowctl_nl_request(struct cowctl_nl *nl, struct nl_msg *msg,
		      int (*cb)(struct nl_msg *msg, void *arg), void *arg)
{
	struct nl_cb *nlcb = nl_cb_alloc(NL_CB_DEFAULT);
	struct req_state st = { 1, nl };
	int err;

	nl->extack[0] = '\0';
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

	nl_cb_err(nlcb, NL_CB_CUSTOM, error_cb, &st);
	nl_cb_set(nlcb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, &st);
	nl_cb_set(nlcb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &st);
	if (cb)
		nl_cb_set(nlcb, NL_CB_VALID, NL_CB_CUSTOM, cb, arg);

	while (st.ret > 0) {
		err = nl_recvmsgs(nl->sk, nlcb);
		if (err < 0 && st.ret > 0) {
			error_msg("cannot receive the netlink reply: %s",
				  nl_geterror(err));
			st.ret = -nlerr_to_errno(err);
		}
	}
	nl_cb_put(nlcb);
	return st.ret;
}

void cowctl_nl_error(struct cowctl_nl *nl, int err, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	error_msg("%s: %s", what, strerror(err < 0 ? -err : err));
	if (nl->extack[0])
		error_msg("kernel: %s", nl->extack);
	else if (err == -EPERM)
		error_msg("this needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run cowctl as root");
}

int cowctl_nl_open_or_fail(struct cowctl_nl *nl)
{
	return cowctl_nl_open(nl, 0) ? EXIT_FAIL : EXIT_OK;
}

uint64_t cowctl_nla_get_uint(const struct nlattr *a)
{
	if (nla_len(a) == sizeof(uint32_t))
		return nla_get_u32((struct nlattr *)a);
	if (nla_len(a) == sizeof(uint64_t))
		return nla_get_u64((struct nlattr *)a);
	return 0;
}

struct nlattr *cowctl_genl_attrs(struct nl_msg *msg, int *len)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	*len = genlmsg_attrlen(nlmsg_data(nlh), 0);
	return genlmsg_attrdata(nlmsg_data(nlh), 0);
}

uint8_t cowctl_genl_cmd(struct nl_msg *msg)
{
	struct genlmsghdr *g = nlmsg_data(nlmsg_hdr(msg));

	return g->cmd;
}
