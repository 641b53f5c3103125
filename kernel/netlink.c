// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: the "cowfs" generic netlink family, the control plane.
 *
 * The ABI is Documentation/netlink/specs/cowfs.yaml; the uAPI header and
 * the policies and ops table (netlink-gen.c) are generated from it.  The
 * policies are strict: every attribute typed and bounded, unknown ones
 * rejected.  What a policy cannot say (a volume name's characters, which
 * attributes go with which volume type) is checked here, and each error
 * names its attribute in the extended ack.
 *
 * Mutations carry GENL_ADMIN_PERM (CAP_NET_ADMIN) and also need
 * CAP_SYS_ADMIN, since they create and delete files and mounts.
 *
 * Reads are scoped to the caller.  A union's layer paths and a volume's
 * source and labels belong to whoever set them up, and a module cannot
 * tell which mounts a caller's mount namespace holds (struct mount is
 * private to fs/).  cowfs is not mountable in a user namespace, so every
 * union and volume was made by CAP_SYS_ADMIN in the initial user
 * namespace: volume-get and mount-get show them only to that capability
 * (of the socket's opener and of the caller, netlink_capable()).  Anyone
 * else gets an empty dump, and for a do the very error of a name or id
 * that does not exist, so that neither can be probed.  The "events" group
 * needs the same capability to join (cowfs_netlink_init()), and so does
 * config-get (EPERM), whose store root is a host path too.
 *
 * Locking: the family runs requests in parallel (parallel_ops).  Volume
 * requests take the registry mutex (volume.c) around each read or change;
 * mount requests take cowfs_mounts_lock (super.c) and, inside it, the
 * registry mutex for the volumes a mount uses.  Replies and notifications
 * are built under the lock that keeps their object alive and sent after
 * dropping it.  Notifications go to the "events" group of the initial
 * network namespace.
 */
#include <linux/capability.h>
#include <linux/kdev_t.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string_helpers.h>
#include <net/genetlink.h>

#include "cowfs.h"
#include "netlink-gen.h"
#include "volume.h"

/* The biggest message we build (a mount with many long layer paths) */
#define COWFS_NL_MSG_MAX	(4 << 20)

typedef int (*cowfs_nl_fill_t)(struct sk_buff *skb, const void *obj);

/* Where a dump goes on from, in netlink_callback->ctx */
struct cowfs_nl_dump_ctx {
	unsigned long idx;
	u64 mount_id;
	bool started;
	bool may_read;	/* the requester may see mounts and volumes */
};

static_assert(sizeof(struct cowfs_nl_dump_ctx) <=
	      sizeof_field(struct netlink_callback, ctx));

static bool cowfs_nl_sysadmin(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return true;
	NL_SET_ERR_MSG(info->extack, "CAP_SYS_ADMIN is required");
	return false;
}

/* May the requester of @skb see the mounts and volumes? (see the top) */
static bool cowfs_nl_may_read(const struct sk_buff *skb)
{
	return netlink_capable(skb, CAP_SYS_ADMIN);
}

#define COWFS_NL_HIDDEN	"(other users' objects need CAP_SYS_ADMIN)"

/* Ops without a policy take no attributes: say so rather than ignore them */
static int cowfs_nl_no_attrs(const struct nlmsghdr *nlh,
			     struct netlink_ext_ack *extack)
{
	if (nlmsg_attrlen(nlh, GENL_HDRLEN) <= 0)
		return 0;
	NL_SET_ERR_MSG_ATTR(extack, nlmsg_attrdata(nlh, GENL_HDRLEN),
			    "this request takes no attributes");
	return -EINVAL;
}

/*
 * The first call of a dump: refuse attributes, and decide once, in the
 * requester's context, whether it may see anything.
 */
static int cowfs_nl_dump_begin(struct netlink_callback *cb)
{
	struct cowfs_nl_dump_ctx *ctx = (void *)cb->ctx;
	int err;

	if (ctx->started)
		return 0;
	err = cowfs_nl_no_attrs(cb->nlh, cb->extack);
	if (err)
		return err;
	ctx->started = true;
	ctx->may_read = cowfs_nl_may_read(cb->skb);
	if (!ctx->may_read)
		NL_SET_ERR_MSG(cb->extack,
			       "listing needs CAP_SYS_ADMIN: nothing shown");
	return 0;
}

/* An absolute path without control characters */
static bool cowfs_nl_path_ok(const char *path)
{
	if (path[0] != '/')
		return false;
	for (; *path; path++) {
		if ((unsigned char)*path < 0x20 || *path == 0x7f)
			return false;
	}
	return true;
}

/*
 * A message for @obj: a reply to @info, or notification @cmd when @info is
 * NULL.  Starts small and grows while @fill runs out of room.
 */
static struct sk_buff *cowfs_nl_msg(struct genl_info *info, u8 cmd,
				    cowfs_nl_fill_t fill, const void *obj)
{
	size_t size = NLMSG_GOODSIZE;
	struct sk_buff *skb;
	void *hdr;
	int err;

	for (;;) {
		skb = genlmsg_new(size, GFP_KERNEL);
		if (!skb)
			return ERR_PTR(-ENOMEM);
		if (info)
			hdr = genlmsg_iput(skb, info);
		else
			hdr = genlmsg_put(skb, 0, 0, &cowfs_nl_family, 0, cmd);
		err = hdr ? fill(skb, obj) : -EMSGSIZE;
		if (!err) {
			genlmsg_end(skb, hdr);
			return skb;
		}
		nlmsg_free(skb);
		if (err != -EMSGSIZE || size >= COWFS_NL_MSG_MAX)
			return ERR_PTR(err);
		size *= 4;
	}
}

static bool cowfs_nl_listening(void)
{
	return genl_has_listeners(&cowfs_nl_family, &init_net,
				  COWFS_NLGRP_EVENTS);
}

/* A notification of @obj, or NULL when nobody listens */
static struct sk_buff *cowfs_nl_ntf(u8 cmd, cowfs_nl_fill_t fill,
				    const void *obj)
{
	struct sk_buff *skb;

	if (!cowfs_nl_listening())
		return NULL;
	skb = cowfs_nl_msg(NULL, cmd, fill, obj);
	if (IS_ERR(skb)) {
		pr_warn_ratelimited("netlink event %u lost: %pe\n", cmd, skb);
		return NULL;
	}
	return skb;
}

static void cowfs_nl_send_ntf(struct sk_buff *skb)
{
	if (skb)
		genlmsg_multicast(&cowfs_nl_family, skb, 0, COWFS_NLGRP_EVENTS,
				  GFP_KERNEL);
}

/* ---- volumes -------------------------------------------------------------- */

static int cowfs_nl_put_kv(struct sk_buff *skb, int type,
			   const struct cowfs_kv *kv, unsigned int n)
{
	struct nlattr *nest;
	unsigned int i;

	for (i = 0; i < n; i++) {
		nest = nla_nest_start(skb, type);
		if (!nest)
			return -EMSGSIZE;
		if (nla_put_string(skb, COWFS_A_KV_KEY, kv[i].key) ||
		    nla_put_string(skb, COWFS_A_KV_VALUE, kv[i].value)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}

/* Under the registry lock, or of an unregistered volume of the caller's */
static int cowfs_nl_fill_volume(struct sk_buff *skb, const void *obj)
{
	const struct cowfs_volume *vol = obj;
	const struct cowfs_volume_ref *ref;

	if (nla_put_string(skb, COWFS_A_VOLUME_NAME, vol->name) ||
	    nla_put_u32(skb, COWFS_A_VOLUME_TYPE, vol->type) ||
	    (vol->path && nla_put_string(skb, COWFS_A_VOLUME_PATH, vol->path)) ||
	    (vol->size && nla_put_uint(skb, COWFS_A_VOLUME_SIZE, vol->size)) ||
	    cowfs_nl_put_kv(skb, COWFS_A_VOLUME_LABEL, vol->labels,
			    vol->nlabels) ||
	    cowfs_nl_put_kv(skb, COWFS_A_VOLUME_OPTION, vol->options,
			    vol->noptions) ||
	    nla_put_uint(skb, COWFS_A_VOLUME_CREATED, vol->created))
		return -EMSGSIZE;
	list_for_each_entry(ref, &vol->refs, node) {
		if (nla_put_uint(skb, COWFS_A_VOLUME_MOUNT_ID, ref->mount_id))
			return -EMSGSIZE;
	}
	return 0;
}

/*
 * The labels (or options) among attributes @head (@len bytes): of a
 * volume-new request, or of a volume's record in the store.
 */
static int cowfs_nl_parse_kv(const struct nlattr *head, int len,
			     struct cowfs_volume *vol, bool option,
			     struct netlink_ext_ack *extack)
{
	int type = option ? COWFS_A_VOLUME_OPTION : COWFS_A_VOLUME_LABEL;
	struct nlattr *kv[COWFS_A_KV_MAX + 1];
	const char *key, *value, *why;
	const struct nlattr *a;
	int err, rem;

	nla_for_each_attr_type(a, type, head, len, rem) {
		err = nla_parse_nested(kv, COWFS_A_KV_MAX, a,
				       cowfs_kv_nl_policy, extack);
		if (err)
			return err;
		if (NL_REQ_ATTR_CHECK(extack, a, kv, COWFS_A_KV_KEY)) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, a, "%s: the key is missing",
						option ? "option" : "label");
			return -EINVAL;
		}
		key = nla_data(kv[COWFS_A_KV_KEY]);
		value = kv[COWFS_A_KV_VALUE] ? nla_data(kv[COWFS_A_KV_VALUE]) : "";
		if (option && vol->type == COWFS_VOLUME_TYPE_TMPFS &&
		    !strcmp(key, "size")) {
			NL_SET_ERR_MSG_ATTR(extack, a,
					    "option: give a tmpfs's size in the size attribute");
			return -EINVAL;
		}
		err = cowfs_volume_add_kv(vol, option, key, value, &why);
		if (err == -EINVAL)
			NL_SET_ERR_MSG_ATTR_FMT(extack, a, "%s: %s",
						option ? "option" : "label", why);
		if (err)
			return err;
	}
	return 0;
}

static int cowfs_nl_parse_kvs(const struct nlattr *head, int len,
			      struct cowfs_volume *vol,
			      struct netlink_ext_ack *extack)
{
	int err = cowfs_nl_parse_kv(head, len, vol, false, extack);

	return err ?: cowfs_nl_parse_kv(head, len, vol, true, extack);
}

/*
 * A bind volume's directory: it must exist; keep its absolute path, with
 * the symlinks resolved, and which directory it is.
 */
static int cowfs_nl_parse_bind(struct genl_info *info,
			       struct cowfs_volume *vol)
{
	struct nlattr *a = info->attrs[COWFS_A_VOLUME_PATH];
	struct netlink_ext_ack *extack = info->extack;
	struct path path;
	char *buf, *p;
	int err;

	if (!cowfs_nl_path_ok(nla_data(a))) {
		NL_SET_ERR_MSG_ATTR(extack, a,
				    "path: not an absolute path, or holds control characters");
		return -EINVAL;
	}
	err = kern_path(nla_data(a), LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);
	if (err) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, a, "path: no such directory (%pe)",
					ERR_PTR(err));
		return err;
	}
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	err = -ENOMEM;
	if (buf) {
		p = d_path(&path, buf, PATH_MAX);
		err = PTR_ERR_OR_ZERO(p);
		if (!err && !cowfs_nl_path_ok(p))
			err = -EINVAL;
		if (!err) {
			vol->path = kstrdup(p, GFP_KERNEL);
			if (!vol->path)
				err = -ENOMEM;
		}
		kfree(buf);
	}
	if (!err && cowfs_volume_overlaps_store(&path)) {
		NL_SET_ERR_MSG_ATTR(extack, a,
				    "path: overlaps the volume store (is it, is in it, or holds it)");
		err = -ELOOP;
	}
	/* Every attach checks that it finds this very directory */
	if (!err) {
		err = cowfs_dir_id_get(&path, &vol->bind_id);
		if (err)
			NL_SET_ERR_MSG_ATTR_FMT(extack, a,
						"path: its filesystem gives no file handle (%pe)",
						ERR_PTR(err));
	}
	path_put(&path);
	if (err == -EINVAL)
		NL_SET_ERR_MSG_ATTR(extack, a, "path: unusable as a bind volume");
	return err;
}

static int cowfs_nl_parse_volume(struct genl_info *info,
				 struct cowfs_volume *vol)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **tb = info->attrs;
	int err;

	if (!cowfs_volume_name_valid(nla_data(tb[COWFS_A_VOLUME_NAME]))) {
		NL_SET_ERR_MSG_ATTR(extack, tb[COWFS_A_VOLUME_NAME],
				    "name: not [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
		return -EINVAL;
	}
	strscpy(vol->name, nla_data(tb[COWFS_A_VOLUME_NAME]));
	if (tb[COWFS_A_VOLUME_TYPE])
		vol->type = nla_get_u32(tb[COWFS_A_VOLUME_TYPE]);
	else
		vol->type = COWFS_VOLUME_TYPE_LOCAL;

	if (vol->type == COWFS_VOLUME_TYPE_BIND) {
		if (GENL_REQ_ATTR_CHECK(info, COWFS_A_VOLUME_PATH)) {
			NL_SET_ERR_MSG(extack, "path: a bind volume needs one");
			return -EINVAL;
		}
		err = cowfs_nl_parse_bind(info, vol);
		if (err)
			return err;
	} else if (tb[COWFS_A_VOLUME_PATH]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[COWFS_A_VOLUME_PATH],
				    "path: only bind volumes take one");
		return -EINVAL;
	}

	if (tb[COWFS_A_VOLUME_SIZE]) {
		if (vol->type != COWFS_VOLUME_TYPE_TMPFS) {
			NL_SET_ERR_MSG_ATTR(extack, tb[COWFS_A_VOLUME_SIZE],
					    "size: only tmpfs volumes take one");
			return -EINVAL;
		}
		vol->size = nla_get_uint(tb[COWFS_A_VOLUME_SIZE]);
	}

	return cowfs_nl_parse_kvs(nlmsg_attrdata(info->nlhdr, GENL_HDRLEN),
				  nlmsg_attrlen(info->nlhdr, GENL_HDRLEN), vol,
				  extack);
}

/* ---- volume records, for the store ---------------------------------------- */

/*
 * The store keeps a local or bind volume's record in an xattr of its
 * directory: the attributes of the volume-new request that made it, and
 * its creation time.  Loading parses them as a request is parsed, with
 * the same label and option checks, and nothing else.
 */
static const struct nla_policy cowfs_volume_record_policy[COWFS_A_VOLUME_MAX + 1] = {
	[COWFS_A_VOLUME_NAME] = { .type = NLA_NUL_STRING, .len = COWFS_VOLUME_NAME_MAX, },
	[COWFS_A_VOLUME_TYPE] = NLA_POLICY_RANGE(NLA_U32, COWFS_VOLUME_TYPE_LOCAL,
						 COWFS_VOLUME_TYPE_BIND),
	[COWFS_A_VOLUME_PATH] = { .type = NLA_NUL_STRING, .len = COWFS_PATH_MAX, },
	[COWFS_A_VOLUME_LABEL] = NLA_POLICY_NESTED(cowfs_kv_nl_policy),
	[COWFS_A_VOLUME_OPTION] = NLA_POLICY_NESTED(cowfs_kv_nl_policy),
	[COWFS_A_VOLUME_CREATED] = { .type = NLA_UINT, },
	[COWFS_A_VOLUME_SOURCE_FSID] = NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[COWFS_A_VOLUME_SOURCE_HANDLE_TYPE] = { .type = NLA_U32, },
	[COWFS_A_VOLUME_SOURCE_HANDLE] = NLA_POLICY_RANGE(NLA_BINARY, 4,
							  MAX_HANDLE_SZ),
};

static size_t cowfs_nl_kv_size(const struct cowfs_kv *kv, unsigned int n)
{
	size_t size = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		size += nla_total_size(0) +
			nla_total_size(strlen(kv[i].key) + 1) +
			nla_total_size(strlen(kv[i].value) + 1);
	return size;
}

static int cowfs_nl_put_dir_id(struct sk_buff *skb,
			       const struct cowfs_dir_id *id)
{
	return nla_put(skb, COWFS_A_VOLUME_SOURCE_FSID, id->fsid_len,
		       id->fsid) ||
	       nla_put_u32(skb, COWFS_A_VOLUME_SOURCE_HANDLE_TYPE,
			   id->handle_type) ||
	       nla_put(skb, COWFS_A_VOLUME_SOURCE_HANDLE, id->handle_len,
		       id->handle);
}

/* A bind volume's directory id in its record, if it has one */
static int cowfs_nl_get_dir_id(struct nlattr **tb, struct cowfs_dir_id *id)
{
	struct nlattr *fsid = tb[COWFS_A_VOLUME_SOURCE_FSID];
	struct nlattr *type = tb[COWFS_A_VOLUME_SOURCE_HANDLE_TYPE];
	struct nlattr *fh = tb[COWFS_A_VOLUME_SOURCE_HANDLE];

	memset(id, 0, sizeof(*id));
	if (!fsid && !type && !fh)
		return 0;	/* written before cowfs kept it */
	if (!fsid || !type || !fh || nla_len(fh) % 4)
		return -EINVAL;
	id->fsid_len = nla_len(fsid);
	nla_memcpy(id->fsid, fsid, sizeof(id->fsid));
	id->handle_type = nla_get_u32(type);
	id->handle_len = nla_len(fh);
	nla_memcpy(id->handle, fh, sizeof(id->handle));
	return 0;
}

/* @vol's record: its attributes in an skb's data; consume_skb() it. */
struct sk_buff *cowfs_nl_volume_record(const struct cowfs_volume *vol)
{
	bool bind = vol->type == COWFS_VOLUME_TYPE_BIND;
	struct sk_buff *skb;
	size_t size;

	size = nla_total_size(strlen(vol->name) + 1) + nla_total_size(4) +
	       (bind ? nla_total_size(strlen(vol->path) + 1) +
		       nla_total_size(vol->bind_id.fsid_len) +
		       nla_total_size(4) +
		       nla_total_size(vol->bind_id.handle_len) : 0) +
	       cowfs_nl_kv_size(vol->labels, vol->nlabels) +
	       cowfs_nl_kv_size(vol->options, vol->noptions) +
	       nla_total_size(sizeof(u64));
	skb = alloc_skb(size, GFP_KERNEL);
	if (!skb)
		return ERR_PTR(-ENOMEM);
	if (nla_put_string(skb, COWFS_A_VOLUME_NAME, vol->name) ||
	    nla_put_u32(skb, COWFS_A_VOLUME_TYPE, vol->type) ||
	    (bind && (nla_put_string(skb, COWFS_A_VOLUME_PATH, vol->path) ||
		      cowfs_nl_put_dir_id(skb, &vol->bind_id))) ||
	    cowfs_nl_put_kv(skb, COWFS_A_VOLUME_LABEL, vol->labels,
			    vol->nlabels) ||
	    cowfs_nl_put_kv(skb, COWFS_A_VOLUME_OPTION, vol->options,
			    vol->noptions) ||
	    nla_put_uint(skb, COWFS_A_VOLUME_CREATED, vol->created)) {
		kfree_skb(skb);
		return ERR_PTR(-EMSGSIZE);
	}
	return skb;
}

/*
 * Fill @vol from a record (@len bytes at @buf) that the store read.  On
 * error, *@why says what is wrong with it.
 */
int cowfs_nl_volume_parse_record(struct cowfs_volume *vol, const void *buf,
				 int len, const char **why)
{
	struct nlattr *tb[COWFS_A_VOLUME_MAX + 1];
	struct nlattr *path;
	int err;

	*why = "malformed: not a volume record of this cowfs";
	err = nla_parse(tb, COWFS_A_VOLUME_MAX, buf, len,
			cowfs_volume_record_policy, NULL);
	if (err)
		return err;
	*why = "the name, type or creation time is missing";
	if (!tb[COWFS_A_VOLUME_NAME] || !tb[COWFS_A_VOLUME_TYPE] ||
	    !tb[COWFS_A_VOLUME_CREATED])
		return -EINVAL;
	*why = "bad name";
	if (!cowfs_volume_name_valid(nla_data(tb[COWFS_A_VOLUME_NAME])))
		return -EINVAL;
	strscpy(vol->name, nla_data(tb[COWFS_A_VOLUME_NAME]));
	vol->type = nla_get_u32(tb[COWFS_A_VOLUME_TYPE]);
	vol->created = nla_get_uint(tb[COWFS_A_VOLUME_CREATED]);

	path = tb[COWFS_A_VOLUME_PATH];
	*why = "a bind volume without an absolute path, or a local one with a path";
	if (vol->type == COWFS_VOLUME_TYPE_BIND ?
	    !path || !cowfs_nl_path_ok(nla_data(path)) : !!path)
		return -EINVAL;
	if (path) {
		vol->path = nla_strdup(path, GFP_KERNEL);
		if (!vol->path)
			return -ENOMEM;
	}
	*why = "the bind directory's id is incomplete, or not for a bind volume";
	if (cowfs_nl_get_dir_id(tb, &vol->bind_id) ||
	    (vol->type != COWFS_VOLUME_TYPE_BIND && vol->bind_id.handle_len))
		return -EINVAL;
	*why = "bad label or option";
	return cowfs_nl_parse_kvs(buf, len, vol, NULL);
}

int cowfs_nl_volume_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *rep, *ntf = NULL;
	struct cowfs_volume *vol;
	int err;

	if (!cowfs_nl_sysadmin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, COWFS_A_VOLUME_NAME))
		return -EINVAL;
	vol = cowfs_volume_alloc();
	if (!vol)
		return -ENOMEM;
	err = cowfs_nl_parse_volume(info, vol);
	if (err)
		goto out_free;

	cowfs_volumes_lock();
	err = cowfs_volume_create(vol, info->extack);
	if (err) {
		cowfs_volumes_unlock();
		goto out_free;
	}
	/* The registry owns it now */
	rep = cowfs_nl_msg(info, 0, cowfs_nl_fill_volume, vol);
	ntf = cowfs_nl_ntf(COWFS_CMD_VOLUME_ADD_NTF, cowfs_nl_fill_volume, vol);
	cowfs_volumes_unlock();

	cowfs_nl_send_ntf(ntf);
	if (IS_ERR(rep))
		return PTR_ERR(rep);
	return genlmsg_reply(rep, info);

out_free:
	cowfs_volume_free(vol);
	return err;
}

/*
 * The volume named in the request, under the registry lock.  Unless
 * @visible, answer as if there were no such volume, without looking.
 */
static struct cowfs_volume *cowfs_nl_find_volume(struct genl_info *info,
						 bool visible)
{
	struct nlattr *a = info->attrs[COWFS_A_VOLUME_NAME];
	struct cowfs_volume *vol;

	if (!cowfs_volume_name_valid(nla_data(a))) {
		NL_SET_ERR_MSG_ATTR(info->extack, a,
				    "name: not [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
		return ERR_PTR(-EINVAL);
	}
	vol = visible ? cowfs_volume_find(nla_data(a)) : NULL;
	if (!vol) {
		NL_SET_ERR_MSG_ATTR_FMT(info->extack, a, "name: no volume %.40s%s",
					(char *)nla_data(a),
					visible ? "" : " " COWFS_NL_HIDDEN);
		return ERR_PTR(-ENOENT);
	}
	return vol;
}

int cowfs_nl_volume_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cowfs_volume *vol;
	struct sk_buff *ntf;
	u64 reclaimed = 0;
	int err;

	if (!cowfs_nl_sysadmin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, COWFS_A_VOLUME_NAME))
		return -EINVAL;

	cowfs_volumes_lock();
	vol = cowfs_nl_find_volume(info, true);
	err = PTR_ERR_OR_ZERO(vol);
	if (!err)
		err = cowfs_volume_unregister(vol, info->extack);
	if (err) {
		cowfs_volumes_unlock();
		return err;
	}
	ntf = cowfs_nl_ntf(COWFS_CMD_VOLUME_DEL_NTF, cowfs_nl_fill_volume, vol);
	cowfs_volumes_unlock();

	/* The volume is gone either way: its name is free again */
	if (cowfs_volume_destroy(vol, &reclaimed))
		NL_SET_ERR_MSG(info->extack,
			       "volume removed, but some of its data could not be deleted with the caller's credentials: it stays in the store's .trash until the store is next loaded");
	cowfs_nl_send_ntf(ntf);
	return 0;
}

int cowfs_nl_volume_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cowfs_volume *vol;
	struct sk_buff *rep;

	if (GENL_REQ_ATTR_CHECK(info, COWFS_A_VOLUME_NAME))
		return -EINVAL;
	cowfs_volumes_lock();
	vol = cowfs_nl_find_volume(info, cowfs_nl_may_read(skb));
	rep = IS_ERR(vol) ? ERR_CAST(vol) :
	      cowfs_nl_msg(info, 0, cowfs_nl_fill_volume, vol);
	cowfs_volumes_unlock();
	if (IS_ERR(rep))
		return PTR_ERR(rep);
	return genlmsg_reply(rep, info);
}

/* Put one dump entry; on -EMSGSIZE nothing of it is left in @skb. */
static int cowfs_nl_dump_one(struct sk_buff *skb, struct netlink_callback *cb,
			     u8 cmd, cowfs_nl_fill_t fill, const void *obj)
{
	void *hdr;
	int err;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &cowfs_nl_family, NLM_F_MULTI, cmd);
	if (!hdr)
		return -EMSGSIZE;
	err = fill(skb, obj);
	if (err) {
		genlmsg_cancel(skb, hdr);
		return err;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* What a dumpit returns: go on while something fit, else the error */
static int cowfs_nl_dump_ret(struct sk_buff *skb, int err)
{
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ?: skb->len;
}

/* An upper bound of the room one volume's entry takes */
static size_t cowfs_nl_volume_size(const struct cowfs_volume *vol)
{
	const struct cowfs_volume_ref *ref;
	size_t size = NLMSG_HDRLEN + GENL_HDRLEN +
		      nla_total_size(sizeof(vol->name)) +
		      4 * nla_total_size(sizeof(u64)) +
		      cowfs_nl_kv_size(vol->labels, vol->nlabels) +
		      cowfs_nl_kv_size(vol->options, vol->noptions);

	if (vol->path)
		size += nla_total_size(strlen(vol->path) + 1);
	list_for_each_entry(ref, &vol->refs, node)
		size += nla_total_size(sizeof(u64));
	return size;
}

/*
 * A dump message holds at least one whole volume: size the messages for
 * the biggest one now (a volume's labels alone may take 16 KiB, and a
 * requester whose first read was of a page gets pages otherwise).
 */
int cowfs_nl_volume_get_dump_start(struct netlink_callback *cb)
{
	struct cowfs_volume *vol;
	unsigned long idx;
	size_t size = 0;

	cowfs_volumes_lock();
	for (idx = 0; (vol = cowfs_volume_next(&idx)); idx++)
		size = max(size, cowfs_nl_volume_size(vol));
	cowfs_volumes_unlock();
	cb->min_dump_alloc = min_t(size_t, size, COWFS_NL_MSG_MAX);
	return 0;
}

int cowfs_nl_volume_get_dumpit(struct sk_buff *skb,
			       struct netlink_callback *cb)
{
	struct cowfs_nl_dump_ctx *ctx = (void *)cb->ctx;
	struct cowfs_volume *vol;
	unsigned long idx;
	int err;

	err = cowfs_nl_dump_begin(cb);
	if (err || !ctx->may_read)
		return err;
	cowfs_volumes_lock();
	for (idx = ctx->idx; (vol = cowfs_volume_next(&idx)); idx++) {
		err = cowfs_nl_dump_one(skb, cb, COWFS_CMD_VOLUME_GET,
					cowfs_nl_fill_volume, vol);
		if (err)
			break;
		ctx->idx = idx + 1;
	}
	cowfs_volumes_unlock();
	return cowfs_nl_dump_ret(skb, err);
}

int cowfs_nl_volume_prune_doit(struct sk_buff *skb, struct genl_info *info)
{
	size_t size = nla_total_size(sizeof(u64));
	struct cowfs_volume *vol, *tmp;
	struct sk_buff_head ntfs;
	struct sk_buff *rep, *ntf;
	u64 reclaimed = 0;
	LIST_HEAD(gc);
	void *hdr;
	int err;

	if (!cowfs_nl_sysadmin(skb, info))
		return -EPERM;
	err = cowfs_nl_no_attrs(info->nlhdr, info->extack);
	if (err)
		return err;

	cowfs_volume_prune(&gc);

	/* The volumes are ours now: describe them before they go */
	skb_queue_head_init(&ntfs);
	list_for_each_entry(vol, &gc, gc) {
		size += nla_total_size(strlen(vol->name) + 1);
		ntf = cowfs_nl_ntf(COWFS_CMD_VOLUME_DEL_NTF,
				   cowfs_nl_fill_volume, vol);
		if (ntf)
			__skb_queue_tail(&ntfs, ntf);
	}
	/* Sized for what it holds: no put below can fail */
	rep = genlmsg_new(size, GFP_KERNEL);
	hdr = rep ? genlmsg_iput(rep, info) : NULL;
	list_for_each_entry_safe(vol, tmp, &gc, gc) {
		list_del(&vol->gc);
		if (hdr)
			nla_put_string(rep, COWFS_A_VOLUME_PRUNED, vol->name);
		cowfs_volume_destroy(vol, &reclaimed);
	}
	while ((ntf = __skb_dequeue(&ntfs)))
		cowfs_nl_send_ntf(ntf);

	if (!hdr) {
		nlmsg_free(rep);
		NL_SET_ERR_MSG(info->extack,
			       "volumes were pruned, but there was no memory for the reply");
		return -ENOMEM;
	}
	nla_put_uint(rep, COWFS_A_VOLUME_RECLAIMED, reclaimed);
	genlmsg_end(rep, hdr);
	return genlmsg_reply(rep, info);
}

/* ---- mounts --------------------------------------------------------------- */

/* Building mount-get's options string */
struct cowfs_nl_opts {
	char *buf;
	size_t len;
	size_t size;
};

/* Room for an option escaped (octal: at most 4 bytes a byte), a ',', '=' */
static int cowfs_nl_opt_room(const char *key, const char *value, void *arg)
{
	size_t *size = arg;

	*size += 2 + 4 * strlen(key) + (value ? 4 * strlen(value) : 0);
	return 0;
}

/* Escaped as seq_show_option() does for /proc/self/mountinfo */
static int cowfs_nl_opt_put(const char *key, const char *value, void *arg)
{
	struct cowfs_nl_opts *o = arg;

	if (o->len)
		o->buf[o->len++] = ',';
	o->len += string_escape_str(key, o->buf + o->len, o->size - o->len,
				    ESCAPE_OCTAL, ",= \t\n\\");
	if (value) {
		o->buf[o->len++] = '=';
		o->len += string_escape_str(value, o->buf + o->len,
					    o->size - o->len, ESCAPE_OCTAL,
					    ", \t\n\\");
	}
	return 0;
}

/* The mount options as /proc/self/mountinfo shows them; kvfree() them. */
static char *cowfs_nl_mount_options(struct cowfs_fs *ofs)
{
	struct cowfs_nl_opts o = { .size = 1 };
	int err;

	cowfs_options_walk(ofs, &o.size, cowfs_nl_opt_room);
	o.buf = kvmalloc(o.size, GFP_KERNEL);
	if (!o.buf)
		return ERR_PTR(-ENOMEM);
	err = cowfs_options_walk(ofs, &o, cowfs_nl_opt_put);
	if (err) {
		kvfree(o.buf);
		return ERR_PTR(err);
	}
	o.buf[o.len] = '\0';
	return o.buf;
}

static int cowfs_nl_put_mount_volume(const struct cowfs_volume_ref *ref,
				     void *arg)
{
	struct sk_buff *skb = arg;
	struct nlattr *nest;

	nest = nla_nest_start(skb, COWFS_A_MOUNT_VOLUME);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_string(skb, COWFS_A_MOUNT_VOLUME_NAME,
			   cowfs_volume_ref_name(ref)) ||
	    nla_put_string(skb, COWFS_A_MOUNT_VOLUME_TARGET, ref->target)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The mount's sb is alive: under cowfs_mounts_lock, or from its own sb */
static int cowfs_nl_fill_mount(struct sk_buff *skb, const void *obj)
{
	struct cowfs_fs *ofs = (struct cowfs_fs *)obj;
	const struct cowfs_stats *st = &ofs->stats;
	unsigned int i;
	char *opts;
	int err;

	if (nla_put_uint(skb, COWFS_A_MOUNT_ID, ofs->id) ||
	    nla_put_u32(skb, COWFS_A_MOUNT_DEV_MAJOR, MAJOR(ofs->sb->s_dev)) ||
	    nla_put_u32(skb, COWFS_A_MOUNT_DEV_MINOR, MINOR(ofs->sb->s_dev)))
		return -EMSGSIZE;
	for (i = 1; i < ofs->numlayer; i++) {
		if (nla_put_string(skb, COWFS_A_MOUNT_LOWER,
				   ofs->layers[i].name))
			return -EMSGSIZE;
	}
	if ((ofs->config.upperdir &&
	     nla_put_string(skb, COWFS_A_MOUNT_UPPER, ofs->config.upperdir)) ||
	    (ofs->config.workdir &&
	     nla_put_string(skb, COWFS_A_MOUNT_WORK, ofs->config.workdir)))
		return -EMSGSIZE;

	opts = cowfs_nl_mount_options(ofs);
	if (IS_ERR(opts))
		return PTR_ERR(opts);
	err = nla_put_string(skb, COWFS_A_MOUNT_OPTIONS, opts);
	kvfree(opts);
	if (err)
		return -EMSGSIZE;

	cowfs_volumes_lock();
	err = cowfs_volume_walk_refs(ofs->id, cowfs_nl_put_mount_volume, skb);
	cowfs_volumes_unlock();
	if (err)
		return err;

	if (nla_put_uint(skb, COWFS_A_MOUNT_LOOKUPS,
			 atomic64_read(&st->lookups)) ||
	    nla_put_uint(skb, COWFS_A_MOUNT_COPY_UPS,
			 atomic64_read(&st->copy_ups)) ||
	    nla_put_uint(skb, COWFS_A_MOUNT_COPY_UP_BYTES,
			 atomic64_read(&st->copy_up_bytes)) ||
	    nla_put_uint(skb, COWFS_A_MOUNT_WHITEOUTS,
			 atomic64_read(&st->whiteouts)) ||
	    (ofs->numdatalayer &&
	     nla_put_u32(skb, COWFS_A_MOUNT_DATA_LAYERS, ofs->numdatalayer)))
		return -EMSGSIZE;
	return 0;
}

struct cowfs_nl_mount_reply {
	struct genl_info *info;
	struct sk_buff *rep;
};

static int cowfs_nl_mount_reply(struct cowfs_fs *ofs, void *arg)
{
	struct cowfs_nl_mount_reply *r = arg;

	r->rep = cowfs_nl_msg(r->info, 0, cowfs_nl_fill_mount, ofs);
	return PTR_ERR_OR_ZERO(r->rep);
}

int cowfs_nl_mount_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cowfs_nl_mount_reply r = { .info = info };
	bool visible = cowfs_nl_may_read(skb);
	int err = -ENOENT;

	if (GENL_REQ_ATTR_CHECK(info, COWFS_A_MOUNT_ID))
		return -EINVAL;

	/* Hidden mounts are not looked for: no id can be told from another */
	if (visible)
		err = cowfs_mount_call(nla_get_uint(info->attrs[COWFS_A_MOUNT_ID]),
				       cowfs_nl_mount_reply, &r);
	if (err == -ENOENT && visible)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[COWFS_A_MOUNT_ID],
				    "id: no cowfs mount has this id");
	else if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[COWFS_A_MOUNT_ID],
				    "id: no cowfs mount has this id " COWFS_NL_HIDDEN);
	if (err)
		return err;
	return genlmsg_reply(r.rep, info);
}

/*
 * An upper bound of the room one mount's entry takes: its paths as
 * attributes, and again escaped in the options string (at most eight
 * bytes a character, a backslash escaped twice), plus the fixed part.
 */
static size_t cowfs_nl_mount_size(const struct cowfs_fs *ofs)
{
	size_t size = NLMSG_HDRLEN + GENL_HDRLEN + SZ_1K;
	unsigned int i;

	for (i = 1; i < ofs->numlayer; i++) {
		size_t len = strlen(ofs->layers[i].name) + 1;

		size += nla_total_size(len) + 8 * len;
	}
	if (ofs->config.upperdir)
		size += 9 * (strlen(ofs->config.upperdir) +
			     strlen(ofs->config.workdir) + 2) + 2 * NLA_HDRLEN;
	for (i = 0; i < ofs->numgrafts; i++)
		size += 10 * (strlen(ofs->grafts[i].spec) + 1) + 3 * NLA_HDRLEN;
	return size;
}

/*
 * A dump message holds at least one whole mount: size the messages for
 * the biggest one now (dumps default to 32 KiB at most, which a union of
 * a few hundred layers outgrows).
 */
static int cowfs_nl_mount_max_size(struct cowfs_fs *ofs, void *arg)
{
	size_t *size = arg;

	*size = max(*size, cowfs_nl_mount_size(ofs));
	return 0;
}

int cowfs_nl_mount_get_dump_start(struct netlink_callback *cb)
{
	size_t size = 0;
	u64 all = 0;

	cowfs_mounts_walk(&all, cowfs_nl_mount_max_size, &size);
	cb->min_dump_alloc = min_t(size_t, size, COWFS_NL_MSG_MAX);
	return 0;
}

struct cowfs_nl_dump_arg {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int cowfs_nl_dump_mount(struct cowfs_fs *ofs, void *arg)
{
	struct cowfs_nl_dump_arg *d = arg;

	return cowfs_nl_dump_one(d->skb, d->cb, COWFS_CMD_MOUNT_GET,
				 cowfs_nl_fill_mount, ofs);
}

int cowfs_nl_mount_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct cowfs_nl_dump_ctx *ctx = (void *)cb->ctx;
	struct cowfs_nl_dump_arg d = { skb, cb };
	int err;

	err = cowfs_nl_dump_begin(cb);
	if (err || !ctx->may_read)
		return err;
	/* Goes on after the last mount sent */
	err = cowfs_mounts_walk(&ctx->mount_id, cowfs_nl_dump_mount, &d);
	return cowfs_nl_dump_ret(skb, err);
}

/* A mount came (@mounted) or goes: tell the "events" group. */
void cowfs_netlink_mount_event(struct cowfs_fs *ofs, bool mounted)
{
	cowfs_nl_send_ntf(cowfs_nl_ntf(mounted ? COWFS_CMD_MOUNT_ADD_NTF :
					COWFS_CMD_MOUNT_DEL_NTF,
				       cowfs_nl_fill_mount, ofs));
}

/* ---- configuration -------------------------------------------------------- */

static int cowfs_nl_fill_config(struct sk_buff *skb, const void *obj)
{
	return nla_put_string(skb, COWFS_A_CONFIG_STORE, cowfs_volume_store());
}

int cowfs_nl_config_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *rep;
	int err;

	/* The store's path is the host's: as a mount's layers */
	if (!cowfs_nl_sysadmin(skb, info))
		return -EPERM;
	err = cowfs_nl_no_attrs(info->nlhdr, info->extack);
	if (err)
		return err;
	cowfs_volumes_lock();
	rep = cowfs_nl_msg(info, 0, cowfs_nl_fill_config, NULL);
	cowfs_volumes_unlock();
	if (IS_ERR(rep))
		return PTR_ERR(rep);
	return genlmsg_reply(rep, info);
}

int cowfs_nl_config_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *a = info->attrs[COWFS_A_CONFIG_STORE];
	struct sk_buff *rep;
	int err;

	if (!cowfs_nl_sysadmin(skb, info))
		return -EPERM;
	if (GENL_REQ_ATTR_CHECK(info, COWFS_A_CONFIG_STORE))
		return -EINVAL;
	if (!cowfs_nl_path_ok(nla_data(a))) {
		NL_SET_ERR_MSG_ATTR(info->extack, a,
				    "store: not an absolute path, or holds control characters");
		return -EINVAL;
	}
	cowfs_volumes_lock();
	err = cowfs_volume_set_store(nla_data(a), info->extack);
	rep = err ? ERR_PTR(err) :
	      cowfs_nl_msg(info, 0, cowfs_nl_fill_config, NULL);
	cowfs_volumes_unlock();
	if (IS_ERR(rep))
		return PTR_ERR(rep);
	return genlmsg_reply(rep, info);
}

/* ---- module load and unload ----------------------------------------------- */

/*
 * The events carry every mount's paths and every volume's labels: joining
 * the group needs CAP_SYS_ADMIN, like reading them, and CAP_NET_ADMIN, the
 * spec's admin-perm.  genetlink checks them in the socket's network
 * namespace's user namespace; events are only sent in the initial network
 * namespace, whose is the initial one.  The 6.12 generator does not render
 * a group's flags, so this table replaces the generated one.
 */
static const struct genl_multicast_group cowfs_nl_mcgrps_perm[] = {
	[COWFS_NLGRP_EVENTS] = {
		.name	= COWFS_MCGRP_EVENTS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN | GENL_MCAST_CAP_SYS_ADMIN,
	},
};

int cowfs_netlink_init(void)
{
	unsigned int i;

	/* cowfs_nl_family is writable until the module's init returns */
	if (WARN_ON(cowfs_nl_family.n_mcgrps != ARRAY_SIZE(cowfs_nl_mcgrps_perm)))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(cowfs_nl_mcgrps_perm); i++) {
		if (WARN_ON(strcmp(cowfs_nl_family.mcgrps[i].name,
				   cowfs_nl_mcgrps_perm[i].name)))
			return -EINVAL;
	}
	cowfs_nl_family.mcgrps = cowfs_nl_mcgrps_perm;
	return genl_register_family(&cowfs_nl_family);
}

void cowfs_netlink_exit(void)
{
	genl_unregister_family(&cowfs_nl_family);
}
