/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: talking to the cowfs generic netlink family.
 *
 * Only the transport lives here (connect, resolve, send a request and
 * collect replies, print the kernel's extended ACK message).  The commands
 * and attributes are those of include/uapi/linux/cowfs.h once it exists.
 */
#ifndef COWCTL_NL_H
#define COWCTL_NL_H

#include <stdint.h>
#include <netlink/netlink.h>

/* The generic netlink family registered by the cowfs module. */
#define COWCTL_GENL_NAME "cowfs"

struct cowctl_nl {
	struct nl_sock *sk;
	int family;		/* resolved family id */
};

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
 * kernel's error, after its extack message was printed.
 */
int cowctl_nl_request(struct cowctl_nl *nl, struct nl_msg *msg,
		      int (*cb)(struct nl_msg *msg, void *arg), void *arg);

#endif /* COWCTL_NL_H */
