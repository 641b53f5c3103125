/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raw generic netlink helpers for the tests of the "cowfs" family
 * (netlink_test.c, nlfuzz_test.c): resolve the family, build requests,
 * send them and read replies, errors with their extended ack, and
 * notifications.  No library: the tests see exactly what the kernel says.
 */
#ifndef COWFS_NL_H
#define COWFS_NL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <linux/cowfs.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

#define CNL_BUF		(1 << 20)

struct cnl {
	int fd;
	uint16_t family;
	uint32_t version;
	uint32_t events;	/* multicast group id of "events" */
	uint32_t seq;
	/* The last error's extended ack */
	char ext_msg[256];
	uint32_t ext_bad_attr;	/* offset of the bad attribute, 0 if none */
	uint32_t ext_miss_type;	/* type of a missing attribute, 0 if none */
	/* Replies of the last request, one after another */
	char *rbuf;
	size_t rlen;
};

/* A request being built */
struct cnl_msg {
	union {
		struct nlmsghdr nlh;
		char buf[CNL_BUF];
	};
	struct nlattr *nest[8];
	int depth;
};

static inline struct nlattr *cnl_attr_next(struct nlattr *a)
{
	return (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
}

#define cnl_for_each_attr(a, head, len)					\
	for (a = (struct nlattr *)(head);				\
	     (char *)a + NLA_HDRLEN <= (char *)(head) + (len) &&	\
	     a->nla_len >= NLA_HDRLEN &&				\
	     (char *)a + a->nla_len <= (char *)(head) + (len);		\
	     a = cnl_attr_next(a))

static inline void *cnl_attr_data(const struct nlattr *a)
{
	/* Through an integer: the payload is not part of struct nlattr */
	return (void *)((uintptr_t)a + NLA_HDRLEN);
}

static inline int cnl_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static inline int cnl_attr_type(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

static inline uint64_t cnl_attr_uint(const struct nlattr *a)
{
	uint64_t v64;
	uint32_t v32;

	if (cnl_attr_len(a) == 8) {
		memcpy(&v64, cnl_attr_data(a), 8);
		return v64;
	}
	memcpy(&v32, cnl_attr_data(a), 4);
	return v32;
}

static inline const char *cnl_attr_str(const struct nlattr *a)
{
	return cnl_attr_data(a);
}

/* The attributes of a genetlink message */
static inline struct nlattr *cnl_msg_attrs(const struct nlmsghdr *nlh,
					   int *len)
{
	*len = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	return (struct nlattr *)((char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
}

/* The first attribute of @type among @len bytes at @head, or NULL */
static inline struct nlattr *cnl_find(void *head, int len, int type)
{
	struct nlattr *a;

	cnl_for_each_attr(a, head, len)
		if (cnl_attr_type(a) == type)
			return a;
	return NULL;
}

/* String attribute @type inside nest @nest, "<absent>" if missing */
static inline const char *cnl_nest_str(const struct nlattr *nest, int type)
{
	struct nlattr *a;

	if (!nest)
		return "<absent>";
	a = cnl_find(cnl_attr_data(nest), cnl_attr_len(nest), type);
	return a ? cnl_attr_str(a) : "<absent>";
}

static inline struct nlattr *cnl_get(const struct nlmsghdr *nlh, int type)
{
	int len;
	struct nlattr *head = cnl_msg_attrs(nlh, &len);

	return cnl_find(head, len, type);
}

static inline int cnl_count(const struct nlmsghdr *nlh, int type)
{
	struct nlattr *a, *head;
	int len, n = 0;

	head = cnl_msg_attrs(nlh, &len);
	cnl_for_each_attr(a, head, len)
		n += cnl_attr_type(a) == type;
	return n;
}

/* ---- building ------------------------------------------------------------ */

static inline void cnl_init(struct cnl_msg *m, uint16_t family, uint8_t cmd,
			    uint16_t flags)
{
	struct genlmsghdr *g;

	memset(&m->nlh, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	m->nlh.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	m->nlh.nlmsg_type = family;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	g = NLMSG_DATA(&m->nlh);
	g->cmd = cmd;
	g->version = COWFS_FAMILY_VERSION;
	m->depth = 0;
}

static inline struct nlattr *cnl_put(struct cnl_msg *m, uint16_t type,
				     const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->nlh.nlmsg_len));

	if (NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_HDRLEN + NLA_ALIGN(len) > CNL_BUF)
		abort();
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy(cnl_attr_data(a), data, len);
	memset((char *)cnl_attr_data(a) + len, 0, NLA_ALIGN(len) - len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static inline void cnl_put_str(struct cnl_msg *m, uint16_t type, const char *s)
{
	cnl_put(m, type, s, strlen(s) + 1);
}

static inline void cnl_put_u32(struct cnl_msg *m, uint16_t type, uint32_t v)
{
	cnl_put(m, type, &v, sizeof(v));
}

static inline void cnl_put_u64(struct cnl_msg *m, uint16_t type, uint64_t v)
{
	cnl_put(m, type, &v, sizeof(v));
}

static inline void cnl_nest_start(struct cnl_msg *m, uint16_t type)
{
	m->nest[m->depth++] = cnl_put(m, type | NLA_F_NESTED, NULL, 0);
}

static inline void cnl_nest_end(struct cnl_msg *m)
{
	struct nlattr *a = m->nest[--m->depth];

	a->nla_len = m->buf + m->nlh.nlmsg_len - (char *)a;
}

static inline void cnl_put_kv(struct cnl_msg *m, uint16_t type,
			      const char *key, const char *value)
{
	cnl_nest_start(m, type);
	if (key)
		cnl_put_str(m, COWFS_A_KV_KEY, key);
	if (value)
		cnl_put_str(m, COWFS_A_KV_VALUE, value);
	cnl_nest_end(m);
}

/* ---- socket -------------------------------------------------------------- */

static inline int cnl_socket(struct cnl *c)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 20 };
	int one = 1, size = 4 << 20;

	c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* An answer that never comes fails the test instead of hanging it */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	if (!c->rbuf)
		c->rbuf = malloc(CNL_BUF);
	return c->rbuf ? 0 : -ENOMEM;
}

/* Parse the extended ack that follows a struct nlmsgerr. */
static inline void cnl_parse_ext(struct cnl *c, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	struct nlattr *a, *head;
	int len, off;

	c->ext_msg[0] = '\0';
	c->ext_bad_attr = 0;
	c->ext_miss_type = 0;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	head = (struct nlattr *)((char *)e + off);
	len = (int)nlh->nlmsg_len - NLMSG_HDRLEN - off;
	cnl_for_each_attr(a, head, len) {
		switch (cnl_attr_type(a)) {
		case NLMSGERR_ATTR_MSG:
			snprintf(c->ext_msg, sizeof(c->ext_msg), "%.*s",
				 cnl_attr_len(a), cnl_attr_str(a));
			break;
		case NLMSGERR_ATTR_OFFS:
			memcpy(&c->ext_bad_attr, cnl_attr_data(a), 4);
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			memcpy(&c->ext_miss_type, cnl_attr_data(a), 4);
			break;
		}
	}
}

/*
 * Send @m and read until its ack (or the end of a dump).  Returns 0 or
 * the negative errno of the kernel's answer; replies are in c->rbuf.
 */
static inline int cnl_send_raw(struct cnl *c, const void *buf, size_t len,
			       uint32_t seq)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char rx[CNL_BUF];
	struct nlmsghdr *nlh;
	ssize_t n;

	c->rlen = 0;
	c->ext_msg[0] = '\0';
	c->ext_bad_attr = 0;
	c->ext_miss_type = 0;
	if (sendto(c->fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		n = recv(c->fd, rx, sizeof(rx), 0);
		if (n < 0)
			return -errno;
		for (nlh = (struct nlmsghdr *)rx; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				cnl_parse_ext(c, nlh);
				return e->error;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int err = 0;

				if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&err, NLMSG_DATA(nlh), sizeof(int));
				if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
					/* The extack follows the error code */
					struct nlattr *a, *head;
					int alen;

					head = (struct nlattr *)((char *)NLMSG_DATA(nlh) + sizeof(int));
					alen = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(int));
					cnl_for_each_attr(a, head, alen)
						if (cnl_attr_type(a) == NLMSGERR_ATTR_MSG)
							snprintf(c->ext_msg, sizeof(c->ext_msg),
								 "%.*s", cnl_attr_len(a),
								 cnl_attr_str(a));
				}
				/* A dump is not acked after its end */
				return err;
			}
			if (c->rlen + nlh->nlmsg_len <= CNL_BUF) {
				memcpy(c->rbuf + c->rlen, nlh, nlh->nlmsg_len);
				c->rlen += NLMSG_ALIGN(nlh->nlmsg_len);
			}
		}
	}
}

static inline int cnl_send(struct cnl *c, struct cnl_msg *m)
{
	m->nlh.nlmsg_seq = ++c->seq;
	return cnl_send_raw(c, &m->nlh, m->nlh.nlmsg_len, m->nlh.nlmsg_seq);
}

/* Iterate over the replies of the last request */
#define cnl_for_each_reply(c, nlh)					\
	for (nlh = (struct nlmsghdr *)(c)->rbuf;			\
	     (char *)nlh < (c)->rbuf + (c)->rlen;			\
	     nlh = (struct nlmsghdr *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len)))

static inline struct nlmsghdr *cnl_reply(struct cnl *c)
{
	return c->rlen ? (struct nlmsghdr *)c->rbuf : NULL;
}

/* Resolve "cowfs": its id, version and the "events" group. */
static inline int cnl_open(struct cnl *c)
{
	struct nlattr *a, *grp, *g, *head;
	struct cnl_msg *m;
	struct nlmsghdr *nlh;
	int err, len;

	memset(c, 0, sizeof(*c));
	err = cnl_socket(c);
	if (err)
		return err;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	cnl_init(m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	((struct genlmsghdr *)NLMSG_DATA(&m->nlh))->version = 2;
	cnl_put_str(m, CTRL_ATTR_FAMILY_NAME, COWFS_FAMILY_NAME);
	err = cnl_send(c, m);
	free(m);
	if (err)
		return err;
	nlh = cnl_reply(c);
	if (!nlh)
		return -ENOENT;
	head = cnl_msg_attrs(nlh, &len);
	cnl_for_each_attr(a, head, len) {
		switch (cnl_attr_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			memcpy(&c->family, cnl_attr_data(a), 2);
			break;
		case CTRL_ATTR_VERSION:
			memcpy(&c->version, cnl_attr_data(a), 4);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			cnl_for_each_attr(grp, cnl_attr_data(a), cnl_attr_len(a)) {
				struct nlattr *name, *id;

				g = cnl_attr_data(grp);
				name = cnl_find(g, cnl_attr_len(grp), CTRL_ATTR_MCAST_GRP_NAME);
				id = cnl_find(g, cnl_attr_len(grp), CTRL_ATTR_MCAST_GRP_ID);
				if (name && id && !strcmp(cnl_attr_str(name), COWFS_MCGRP_EVENTS))
					memcpy(&c->events, cnl_attr_data(id), 4);
			}
			break;
		}
	}
	return c->family ? 0 : -ENOENT;
}

static inline void cnl_close(struct cnl *c)
{
	if (c->fd > 0)
		close(c->fd);
	free(c->rbuf);
	c->rbuf = NULL;
	c->fd = -1;
}

static inline int cnl_subscribe(struct cnl *c)
{
	return setsockopt(c->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			  &c->events, sizeof(c->events)) ? -errno : 0;
}

/*
 * Wait up to @ms for a notification @cmd (on a subscribed socket) whose
 * string attribute @type is @str, or (str == NULL) whose uint attribute
 * @type is @id.  Returns 0 when it came.
 */
static inline int cnl_wait_ntf(struct cnl *c, uint8_t cmd, int type,
			       const char *str, uint64_t id, int ms)
{
	static char rx[CNL_BUF];
	struct nlmsghdr *nlh;
	struct timeval tv;
	ssize_t n;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		n = recv(c->fd, rx, sizeof(rx), 0);
		if (n < 0)
			return -errno;
		for (nlh = (struct nlmsghdr *)rx; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			struct genlmsghdr *g = NLMSG_DATA(nlh);
			struct nlattr *a;

			if (nlh->nlmsg_type != c->family || g->cmd != cmd)
				continue;
			a = cnl_get(nlh, type);
			if (!a)
				continue;
			if (str ? !strcmp(cnl_attr_str(a), str) :
			    cnl_attr_uint(a) == id)
				return 0;
		}
	}
}

#endif /* COWFS_NL_H */
