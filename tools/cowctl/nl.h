/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: talking to the cowfs generic netlink family.
 *
 * Only the transport lives here (connect, resolve, send a request and
 * collect replies, keep the kernel's extended ACK message).  The commands
 * and attributes are those of include/uapi/linux/cowfs.h; objects.c
 * parses the replies.
 */
#ifndef COWCTL_NL_H
#define COWCTL_NL_H

#include <stdint.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>

/* The generic netlink family registered by the cowfs module. */
#define COWCTL_GENL_NAME "cowfs"

struct cowctl_nl {
	struct nl_sock *sk;
	int family;		/* resolved family id */
	char extack[1024];	/* the last request's kernel message, or "" */
};

/* The receive buffer: the most the kernel uses for one dump message. */
#define COWCTL_NL_BUFSIZE 32768

/* Don't print a message when the family is missing (cowctl info). */
#define COWCTL_NL_QUIET 0x1

/*
 * Connect and resolve the family.  Returns 0, -ENOENT when the family is
 * not registered (the module is not loaded: says so unless QUIET), or
 * another -errno after a message.
 */
int cowctl_nl_open(struct cowctl_nl *nl, unsigned int flags);
void cowctl_nl_close(struct cowctl_nl *nl);

/* A new request for @cmd of the family, or NULL after a message. */
struct nl_msg *cowctl_nl_msg(struct cowctl_nl *nl, uint8_t cmd, int flags,
			     uint8_t version);

/*
 * Send @msg (freed here) and receive until the kernel's ACK or
 * NLMSG_DONE, passing each reply to @cb.  Returns 0, or -errno: the
 * kernel's error, with its extack message kept in nl->extack (print it
 * with cowctl_nl_error()), or a transport error after a message.  A dump
 * that succeeded may leave a warning in nl->extack (reads scoped to the
 * caller: "listing needs CAP_SYS_ADMIN: nothing shown").
 */
int cowctl_nl_request(struct cowctl_nl *nl, struct nl_msg *msg,
		      int (*cb)(struct nl_msg *msg, void *arg), void *arg);

/*
 * Print "cowctl: <what>: <strerror(-err)>" and then the kernel's message
 * for the failed request, "cowctl: kernel: <extack>", when it gave one.
 */
void cowctl_nl_error(struct cowctl_nl *nl, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Open the family or say why not; EXIT_OK or EXIT_FAIL. */
int cowctl_nl_open_or_fail(struct cowctl_nl *nl);

/*
 * A "uint" attribute (NLA_UINT): the kernel sends 4 bytes when the value
 * fits, else 8.  Requests always carry 8 bytes.
 */
uint64_t cowctl_nla_get_uint(const struct nlattr *a);

/* The attributes of a generic netlink message, for nla_for_each_attr(). */
struct nlattr *cowctl_genl_attrs(struct nl_msg *msg, int *len);
uint8_t cowctl_genl_cmd(struct nl_msg *msg);

#endif /* COWCTL_NL_H */
