/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cowfs: volumes, named directories that union mounts attach.
 *
 * Two parts: the API for the filesystem (attach a volume to a mount, get
 * its root, detach), and the registry that netlink.c manages.
 */
#ifndef _COWFS_VOLUME_H
#define _COWFS_VOLUME_H

#include <linux/exportfs.h>
#include <linux/list.h>
#include <linux/netlink.h>
#include <linux/path.h>
#include <linux/types.h>
#include <uapi/linux/cowfs.h>

/* ---- for the filesystem -------------------------------------------------- */

struct cowfs_volume;
struct cowfs_volume_ref;

/*
 * cowfs_volume_attach - use volume @name in mount @mount_id at @target
 * @name:	the volume's name, as in volume=NAME:/path
 * @mount_id:	the mount's cowfs_fs->id, reported by volume-get and in
 *		volume-del's "in use" error
 * @target:	where it appears in the union (reported by mount-get); copied
 *
 * Returns a reference that keeps the volume from being removed (volume-del
 * and volume-prune fail with EBUSY, config-set too) until
 * cowfs_volume_detach(), or ERR_PTR(-ENOENT) if there is no such volume,
 * ERR_PTR(-EINVAL) for a malformed name, another ERR_PTR for a bind
 * volume whose directory is gone.  Sleeps; takes the registry mutex, so
 * it must not be called with cowfs_mounts_lock held.
 */
struct cowfs_volume_ref *cowfs_volume_attach(const char *name, u64 mount_id,
					     const char *target);

/*
 * cowfs_volume_root - the volume's root directory, with a reference
 *
 * The mount is private to cowfs (a kernel-internal tmpfs, a private clone
 * of the store root or of a bind volume's directory): use it as it is,
 * don't clone_private_mount() it.  Release with path_put().
 */
void cowfs_volume_root(const struct cowfs_volume_ref *ref, struct path *path);

/* The volume's name, valid until cowfs_volume_detach() */
const char *cowfs_volume_ref_name(const struct cowfs_volume_ref *ref);

/* Drop a reference from cowfs_volume_attach(); @ref may be NULL. */
void cowfs_volume_detach(struct cowfs_volume_ref *ref);

/* ---- the registry, for netlink.c ------------------------------------------ */

/*
 * Which directory a bind volume was made on, for good: its filesystem
 * (the UUID, or the device number of one without) and its file handle,
 * so that it holds across reboots.  @handle_len 0: not known (a record
 * written before cowfs kept it).
 */
struct cowfs_dir_id {
	u8 fsid[16];
	u8 fsid_len;
	u8 handle_len;
	u32 handle_type;
	u8 handle[MAX_HANDLE_SZ];
};

/* A label or an option */
struct cowfs_kv {
	char *key;
	char *value;
};

struct cowfs_volume {
	/* Index in the registry: dumps resume from it */
	u32 idx;
	char name[COWFS_VOLUME_NAME_MAX + 1];
	enum cowfs_volume_type type;
	/* local: STORE/NAME/_data; bind: the directory; tmpfs: NULL */
	char *path;
	/*
	 * bind: the directory the volume was made on, recorded in the
	 * store: every attach must find that directory at @path, reached
	 * without symlinks.
	 */
	struct cowfs_dir_id bind_id;
	/* tmpfs: size limit in bytes, 0 for tmpfs's default */
	u64 size;
	/* Nanoseconds since the epoch */
	u64 created;
	unsigned int nlabels;
	unsigned int noptions;
	struct cowfs_kv *labels;
	struct cowfs_kv *options;
	/* local: the store's private mount and _data; tmpfs: its root */
	struct path root;
	/* cowfs_volume_ref.node of the mounts that use it */
	struct list_head refs;
	/* Once unregistered: its store directory in the trash, if any */
	struct path trash;
	/* Free for the caller's use once unregistered (volume-prune) */
	struct list_head gc;
};

/* The reference of one mount to one volume */
struct cowfs_volume_ref {
	/* On the volume's refs */
	struct list_head node;
	/* On the list of all references */
	struct list_head all;
	struct cowfs_volume *vol;
	u64 mount_id;
	char *target;
	/* The root this mount uses (a bind volume's is cloned per mount) */
	struct path root;
};

/* The registry mutex; every function below needs it held. */
void cowfs_volumes_lock(void);
void cowfs_volumes_unlock(void);

bool cowfs_volume_name_valid(const char *name);
struct cowfs_volume *cowfs_volume_alloc(void);
void cowfs_volume_free(struct cowfs_volume *vol);
int cowfs_dir_id_get(const struct path *dir, struct cowfs_dir_id *id);
int cowfs_volume_create(struct cowfs_volume *vol,
			struct netlink_ext_ack *extack);
struct cowfs_volume *cowfs_volume_find(const char *name);
struct cowfs_volume *cowfs_volume_next(unsigned long *idx);
int cowfs_volume_unregister(struct cowfs_volume *vol,
			    struct netlink_ext_ack *extack);
bool cowfs_volume_in_use(const struct cowfs_volume *vol);
void cowfs_volume_prune(struct list_head *gc);
bool cowfs_volumes_attached(void);
const char *cowfs_volume_store(void);
int cowfs_volume_set_store(const char *path, struct netlink_ext_ack *extack);

bool cowfs_volume_overlaps_store(const struct path *dir);

/* netlink.c: a volume's record in the store, as netlink attributes */
struct sk_buff *cowfs_nl_volume_record(const struct cowfs_volume *vol);
int cowfs_nl_volume_parse_record(struct cowfs_volume *vol, const void *buf,
				 int len, const char **why);
typedef int (*cowfs_volume_ref_fn)(const struct cowfs_volume_ref *ref,
				   void *arg);
int cowfs_volume_walk_refs(u64 mount_id, cowfs_volume_ref_fn fn, void *arg);
int cowfs_volume_add_kv(struct cowfs_volume *vol, bool option,
			const char *key, const char *value, const char **why);

/* Without the lock: finish a removal; adds the bytes freed to @reclaimed */
int cowfs_volume_destroy(struct cowfs_volume *vol, u64 *reclaimed);

#endif /* _COWFS_VOLUME_H */
