// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: the volume registry and the API that mounts use to attach
 * volumes.
 *
 * Locking: one mutex, cowfs_volumes_mutex, protects the registry (the
 * xarray of volumes and every volume's fields, the list of references),
 * the store (which root is open) and its name.  Netlink requests run in
 * parallel (parallel_ops) and each takes the mutex around what it reads or
 * changes, so each request sees and makes one consistent change; creating
 * a volume writes to the store under it.  Deleting a volume's data is the
 * one slow thing and is done after dropping it: the volume is first taken
 * out of the registry and its directory renamed into the store's trash.
 * Lock order: cowfs_mounts_lock (super.c), then cowfs_volumes_mutex; the
 * filesystem's locks (i_rwsem of the store's directories) nest inside.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "cowfs.h"
#include "store.h"
#include "volume.h"

static char *cowfs_store_param = "/var/lib/cowfs/volumes";
module_param_named(store, cowfs_store_param, charp, 0444);
MODULE_PARM_DESC(store,
		 "Volume store root at load time (default /var/lib/cowfs/volumes); config-set moves it");

static DEFINE_MUTEX(cowfs_volumes_mutex);
/* Volumes by index; names are unique */
static DEFINE_XARRAY_ALLOC1(cowfs_volumes);
/* Every cowfs_volume_ref */
static LIST_HEAD(cowfs_volume_refs);
/* The store root as configured, and the store when it could be opened */
static char *cowfs_store_name;
static struct cowfs_store cowfs_store;

void cowfs_volumes_lock(void)
{
	mutex_lock(&cowfs_volumes_mutex);
}

void cowfs_volumes_unlock(void)
{
	mutex_unlock(&cowfs_volumes_mutex);
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, as Docker's volume names */
bool cowfs_volume_name_valid(const char *name)
{
	size_t i, len = strnlen(name, COWFS_VOLUME_NAME_MAX + 1);

	if (!len || len > COWFS_VOLUME_NAME_MAX || !isalnum(name[0]))
		return false;
	for (i = 1; i < len; i++) {
		if (!isalnum(name[i]) && !strchr("_.-", name[i]))
			return false;
	}
	return true;
}

static bool cowfs_kv_printable(const char *s, bool key)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
		if (key && *s == '=')
			return false;
	}
	return true;
}

static size_t cowfs_kv_bytes(const struct cowfs_volume *vol)
{
	size_t bytes = 0;
	unsigned int i;

	for (i = 0; i < vol->nlabels; i++)
		bytes += strlen(vol->labels[i].key) +
			 strlen(vol->labels[i].value);
	for (i = 0; i < vol->noptions; i++)
		bytes += strlen(vol->options[i].key) +
			 strlen(vol->options[i].value);
	return bytes;
}

/*
 * Add a label (or an option) to @vol.  -EINVAL with *@why saying what is
 * wrong: a bad key or value, a duplicate key, too many or too big.
 */
int cowfs_volume_add_kv(struct cowfs_volume *vol, bool option,
			const char *key, const char *value, const char **why)
{
	struct cowfs_kv **kvp = option ? &vol->options : &vol->labels;
	unsigned int *np = option ? &vol->noptions : &vol->nlabels;
	struct cowfs_kv *kv;
	unsigned int i;

	*why = "the key is empty or holds '=' or a control character";
	if (!*key || strlen(key) > COWFS_KV_KEY_MAX ||
	    !cowfs_kv_printable(key, true))
		return -EINVAL;
	*why = "the value holds a control character";
	if (strlen(value) > COWFS_KV_VALUE_MAX ||
	    !cowfs_kv_printable(value, false))
		return -EINVAL;
	*why = "duplicate key";
	for (i = 0; i < *np; i++) {
		if (!strcmp((*kvp)[i].key, key))
			return -EINVAL;
	}
	*why = "too many labels or options (COWFS_KV_MAX)";
	if (*np >= COWFS_KV_MAX)
		return -EINVAL;
	*why = "labels and options too big together (COWFS_KV_BYTES_MAX)";
	if (cowfs_kv_bytes(vol) + strlen(key) + strlen(value) >
	    COWFS_KV_BYTES_MAX)
		return -EINVAL;

	*why = "out of memory";
	if (!*kvp) {
		*kvp = kcalloc(COWFS_KV_MAX, sizeof(**kvp), GFP_KERNEL);
		if (!*kvp)
			return -ENOMEM;
	}
	kv = &(*kvp)[*np];
	kv->key = kstrdup(key, GFP_KERNEL);
	kv->value = kstrdup(value, GFP_KERNEL);
	if (!kv->key || !kv->value) {
		kfree(kv->key);
		kfree(kv->value);
		kv->key = NULL;
		kv->value = NULL;
		return -ENOMEM;
	}
	(*np)++;
	return 0;
}

struct cowfs_volume *cowfs_volume_alloc(void)
{
	struct cowfs_volume *vol = kzalloc(sizeof(*vol), GFP_KERNEL);

	if (vol)
		INIT_LIST_HEAD(&vol->refs);
	return vol;
}

static void cowfs_kv_free(struct cowfs_kv *kv, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		kfree(kv[i].key);
		kfree(kv[i].value);
	}
	kfree(kv);
}

/* Free a volume that is not (or no longer) in the registry. */
void cowfs_volume_free(struct cowfs_volume *vol)
{
	WARN_ON(!list_empty(&vol->refs));
	if (vol->type == COWFS_VOLUME_TYPE_TMPFS && vol->root.mnt) {
		dput(vol->root.dentry);
		kern_unmount(vol->root.mnt);
	} else {
		path_put(&vol->root);
	}
	cowfs_kv_free(vol->labels, vol->nlabels);
	cowfs_kv_free(vol->options, vol->noptions);
	kfree(vol->path);
	kfree(vol);
}

struct cowfs_volume *cowfs_volume_find(const char *name)
{
	struct cowfs_volume *vol;
	unsigned long idx;

	lockdep_assert_held(&cowfs_volumes_mutex);
	xa_for_each(&cowfs_volumes, idx, vol) {
		if (!strcmp(vol->name, name))
			return vol;
	}
	return NULL;
}

/* The first volume at or after *@idx, which is set to it; NULL at the end */
struct cowfs_volume *cowfs_volume_next(unsigned long *idx)
{
	lockdep_assert_held(&cowfs_volumes_mutex);
	return xa_find(&cowfs_volumes, idx, ULONG_MAX, XA_PRESENT);
}

static int cowfs_volume_insert(struct cowfs_volume *vol)
{
	u32 idx;
	int err;

	lockdep_assert_held(&cowfs_volumes_mutex);
	if (cowfs_volume_find(vol->name))
		return -EEXIST;
	err = xa_alloc(&cowfs_volumes, &idx, vol, xa_limit_31b, GFP_KERNEL);
	if (err)
		return err;
	vol->idx = idx;
	return 0;
}

/* Open the store if it is not open yet, and load its volumes. */
static int cowfs_store_ready(struct netlink_ext_ack *extack)
{
	int err;

	lockdep_assert_held(&cowfs_volumes_mutex);
	if (cowfs_store.root.mnt)
		return 0;
	err = cowfs_store_open(cowfs_store_name, &cowfs_store);
	if (err) {
		NL_SET_ERR_MSG_FMT(extack, "volume store %.40s: %pe",
				   cowfs_store_name, ERR_PTR(err));
		return err;
	}
	err = cowfs_store_load(&cowfs_store, cowfs_volume_insert);
	if (err)
		pr_warn("volume store %s: loading failed: %pe\n",
			cowfs_store.name, ERR_PTR(err));
	return 0;
}

/* The tmpfs mount parameters that a tmpfs volume's options may set */
static const char * const cowfs_tmpfs_options[] = {
	"mode", "uid", "gid", "nr_inodes", "huge", "mpol", "inode32",
	"inode64", "noswap", "quota", "usrquota", "grpquota",
};

static int cowfs_volume_mount_tmpfs(struct cowfs_volume *vol,
				    struct netlink_ext_ack *extack)
{
	struct file_system_type *type;
	struct fs_context *fc;
	struct vfsmount *mnt;
	unsigned int i;
	char size[24];
	int err = 0;

	type = get_fs_type("tmpfs");
	if (!type) {
		NL_SET_ERR_MSG(extack, "the kernel has no tmpfs");
		return -ENODEV;
	}
	fc = fs_context_for_mount(type, SB_KERNMOUNT);
	/* put_filesystem(): the context holds its own reference */
	module_put(type->owner);
	if (IS_ERR(fc))
		return PTR_ERR(fc);

	if (vol->size) {
		snprintf(size, sizeof(size), "%llu", vol->size);
		err = vfs_parse_fs_string(fc, "size", size, strlen(size));
		if (err)
			NL_SET_ERR_MSG(extack, "tmpfs refused the size");
	}
	for (i = 0; i < vol->noptions && !err; i++) {
		const char *value = vol->options[i].value;

		/* Known ones only: tmpfs would log the others */
		if (match_string(cowfs_tmpfs_options,
				 ARRAY_SIZE(cowfs_tmpfs_options),
				 vol->options[i].key) < 0) {
			NL_SET_ERR_MSG_FMT(extack, "tmpfs has no option %.40s",
					   vol->options[i].key);
			err = -EINVAL;
			break;
		}
		/* An empty value is a flag (noswap, inode64) */
		err = vfs_parse_fs_string(fc, vol->options[i].key,
					  *value ? value : NULL, strlen(value));
		if (err)
			NL_SET_ERR_MSG_FMT(extack,
					   "tmpfs refused option %.40s: %pe",
					   vol->options[i].key, ERR_PTR(err));
	}
	if (err)
		goto out;

	mnt = fc_mount(fc);
	if (IS_ERR(mnt)) {
		err = PTR_ERR(mnt);
		NL_SET_ERR_MSG_FMT(extack, "tmpfs mount failed: %pe",
				   ERR_PTR(err));
		goto out;
	}
	vol->root.mnt = mnt;
	vol->root.dentry = dget(mnt->mnt_root);
out:
	put_fs_context(fc);
	return err;
}

/*
 * Create @vol, filled in and checked by netlink.c, and add it to the
 * registry, which owns it on success.
 */
int cowfs_volume_create(struct cowfs_volume *vol,
			struct netlink_ext_ack *extack)
{
	int err;

	lockdep_assert_held(&cowfs_volumes_mutex);
	if (vol->type != COWFS_VOLUME_TYPE_TMPFS) {
		err = cowfs_store_ready(extack);
		if (err)
			return err;
	}
	if (cowfs_volume_find(vol->name)) {
		NL_SET_ERR_MSG_FMT(extack, "volume %.40s exists", vol->name);
		return -EEXIST;
	}
	vol->created = ktime_get_real_ns();

	if (vol->type == COWFS_VOLUME_TYPE_TMPFS) {
		err = cowfs_volume_mount_tmpfs(vol, extack);
	} else {
		err = cowfs_store_add(&cowfs_store, vol);
		if (err == -EEXIST)
			NL_SET_ERR_MSG_FMT(extack,
					   "volume store has a stray %.40s: not a volume",
					   vol->name);
		else if (err == -EOPNOTSUPP)
			NL_SET_ERR_MSG(extack,
				       "the volume store's filesystem has no trusted.* xattrs, where volumes are recorded");
		else if (err == -ENOSPC || err == -E2BIG)
			NL_SET_ERR_MSG(extack,
				       "the volume store's filesystem has no room for the volume's record (an xattr with its labels and options: fewer or shorter ones may fit)");
		else if (err)
			NL_SET_ERR_MSG_FMT(extack,
					   "cannot create the volume in the store: %pe",
					   ERR_PTR(err));
	}
	if (err)
		return err;

	err = cowfs_volume_insert(vol);
	if (err && vol->type != COWFS_VOLUME_TYPE_TMPFS) {
		struct path trash;

		path_put(&vol->root);
		memset(&vol->root, 0, sizeof(vol->root));
		if (!cowfs_store_trash(&cowfs_store, vol->name, &trash))
			cowfs_store_rmtree(&trash, NULL);
	}
	return err;
}

bool cowfs_volume_in_use(const struct cowfs_volume *vol)
{
	return !list_empty(&vol->refs);
}

bool cowfs_volumes_attached(void)
{
	lockdep_assert_held(&cowfs_volumes_mutex);
	return !list_empty(&cowfs_volume_refs);
}

/*
 * Take @vol out of the registry: EBUSY while a mount uses it.  Its store
 * directory goes to the trash (vol->trash); cowfs_volume_destroy()
 * finishes the job.
 */
int cowfs_volume_unregister(struct cowfs_volume *vol,
			    struct netlink_ext_ack *extack)
{
	struct cowfs_volume_ref *ref;
	int err;

	lockdep_assert_held(&cowfs_volumes_mutex);
	ref = list_first_entry_or_null(&vol->refs, struct cowfs_volume_ref,
				       node);
	if (ref) {
		NL_SET_ERR_MSG_FMT(extack, "volume %.32s is in use by mount %llu",
				   vol->name, ref->mount_id);
		return -EBUSY;
	}
	if (vol->type != COWFS_VOLUME_TYPE_TMPFS) {
		err = cowfs_store_trash(&cowfs_store, vol->name, &vol->trash);
		if (err) {
			NL_SET_ERR_MSG_FMT(extack,
					   "cannot remove %.24s from the store: %pe",
					   vol->name, ERR_PTR(err));
			return err;
		}
	}
	xa_erase(&cowfs_volumes, vol->idx);
	return 0;
}

/*
 * volume-prune: take every local and tmpfs volume that no mount uses out
 * of the registry, onto @gc (by vol->gc), for cowfs_volume_destroy().
 * A bind volume's data is never ours to delete.
 */
void cowfs_volume_prune(struct list_head *gc)
{
	struct cowfs_volume *vol;
	unsigned long idx;

	mutex_lock(&cowfs_volumes_mutex);
	xa_for_each(&cowfs_volumes, idx, vol) {
		if (vol->type == COWFS_VOLUME_TYPE_BIND ||
		    cowfs_volume_in_use(vol))
			continue;
		if (cowfs_volume_unregister(vol, NULL)) {
			pr_warn("volume-prune: cannot remove %s\n", vol->name);
			continue;
		}
		list_add_tail(&vol->gc, gc);
	}
	mutex_unlock(&cowfs_volumes_mutex);
}

/*
 * After cowfs_volume_unregister(), without the lock: delete and free.
 * An error says that some of the data is left in the store's trash.
 */
int cowfs_volume_destroy(struct cowfs_volume *vol, u64 *reclaimed)
{
	struct kstatfs st;
	int err = 0;

	if (vol->type == COWFS_VOLUME_TYPE_TMPFS && vol->root.mnt &&
	    !vfs_statfs(&vol->root, &st))
		*reclaimed += (u64)(st.f_blocks - st.f_bfree) * st.f_bsize;
	if (vol->type == COWFS_VOLUME_TYPE_LOCAL) {
		/* Let go of _data before deleting it */
		path_put(&vol->root);
		memset(&vol->root, 0, sizeof(vol->root));
	}
	if (vol->trash.mnt)
		err = cowfs_store_rmtree(&vol->trash, reclaimed);
	cowfs_volume_free(vol);
	return err;
}

const char *cowfs_volume_store(void)
{
	lockdep_assert_held(&cowfs_volumes_mutex);
	return cowfs_store.name ?: cowfs_store_name;
}

/* Forget the store's volumes (their data stays) and close it. */
static void cowfs_store_forget(void)
{
	struct cowfs_volume *vol;
	unsigned long idx;

	xa_for_each(&cowfs_volumes, idx, vol) {
		if (vol->type == COWFS_VOLUME_TYPE_TMPFS)
			continue;
		xa_erase(&cowfs_volumes, idx);
		cowfs_volume_free(vol);
	}
	cowfs_store_close(&cowfs_store);
}

/* config-set: use the store at @path (an existing directory) from now on. */
int cowfs_volume_set_store(const char *path, struct netlink_ext_ack *extack)
{
	struct cowfs_store st = {};
	char *name;
	int err;

	lockdep_assert_held(&cowfs_volumes_mutex);
	if (cowfs_volumes_attached()) {
		NL_SET_ERR_MSG(extack,
			       "volumes are attached to mounts: unmount them first");
		return -EBUSY;
	}
	err = cowfs_store_open(path, &st);
	if (err) {
		NL_SET_ERR_MSG_FMT(extack, "cannot use %.32s as the volume store: %pe",
				   path, ERR_PTR(err));
		return err;
	}
	name = kstrdup(st.name, GFP_KERNEL);
	if (!name) {
		cowfs_store_close(&st);
		return -ENOMEM;
	}
	cowfs_store_forget();
	kfree(cowfs_store_name);
	cowfs_store_name = name;
	cowfs_store = st;
	err = cowfs_store_load(&cowfs_store, cowfs_volume_insert);
	if (err)
		pr_warn("volume store %s: loading failed: %pe\n", name,
			ERR_PTR(err));
	return 0;
}

/*
 * Whether directory @dir overlaps the volume store's root: a bind volume
 * there would hand containers every volume's data, or the store.
 */
bool cowfs_volume_overlaps_store(const struct path *dir)
{
	struct dentry *root;
	bool overlap = false;

	mutex_lock(&cowfs_volumes_mutex);
	root = cowfs_store.root.dentry;
	if (root)
		overlap = cowfs_dirs_overlap(root, dir->dentry);
	mutex_unlock(&cowfs_volumes_mutex);
	return overlap;
}

/* ---- the API for mounts --------------------------------------------------- */

/*
 * Which directory @dir is: the filesystem's UUID (its device number if it
 * has none) and the directory's file handle, one that need not be
 * decodable (EXPORT_FH_FID: any filesystem gives one).  Stable across
 * reboots wherever the filesystem's are.
 */
int cowfs_dir_id_get(const struct path *dir, struct cowfs_dir_id *id)
{
	struct super_block *sb = dir->dentry->d_sb;
	int dwords = MAX_HANDLE_SZ / 4;
	int type;

	memset(id, 0, sizeof(*id));
	if (!uuid_is_null(&sb->s_uuid)) {
		memcpy(id->fsid, &sb->s_uuid, sizeof(sb->s_uuid));
		id->fsid_len = sizeof(sb->s_uuid);
	} else {
		u32 dev = new_encode_dev(sb->s_dev);

		memcpy(id->fsid, &dev, sizeof(dev));
		id->fsid_len = sizeof(dev);
	}
	type = exportfs_encode_fid(d_inode(dir->dentry),
				   (struct fid *)id->handle, &dwords);
	if (type < 0)
		return type;
	if (type == FILEID_INVALID || dwords <= 0)
		return -EOVERFLOW;
	id->handle_type = type;
	id->handle_len = dwords * 4;
	return 0;
}

static bool cowfs_dir_id_equal(const struct cowfs_dir_id *a,
			       const struct cowfs_dir_id *b)
{
	return a->fsid_len == b->fsid_len &&
	       !memcmp(a->fsid, b->fsid, a->fsid_len) &&
	       a->handle_type == b->handle_type &&
	       a->handle_len == b->handle_len &&
	       !memcmp(a->handle, b->handle, a->handle_len);
}

/*
 * A bind volume's directory, for a mount: reached without following a
 * symlink (its path was made canonical at creation), and the very
 * directory it was made on.  Otherwise a component of the path swapped
 * for a symlink, or the directory for another one, would graft some
 * other host directory into a container.  ELOOP and ESTALE say which.
 */
static int cowfs_volume_bind_path(struct cowfs_volume *vol, struct path *path)
{
	struct cowfs_dir_id *id;
	int err;

	err = kern_path(vol->path, LOOKUP_NO_SYMLINKS | LOOKUP_DIRECTORY, path);
	if (err)
		return err;
	id = kmalloc(sizeof(*id), GFP_KERNEL);
	err = -ENOMEM;
	if (id)
		err = cowfs_dir_id_get(path, id);
	if (!err && !vol->bind_id.handle_len) {
		/* A record from before cowfs kept the id: from now on */
		vol->bind_id = *id;
	} else if (!err && !cowfs_dir_id_equal(id, &vol->bind_id)) {
		err = -ESTALE;
	}
	kfree(id);
	if (err)
		path_put(path);
	return err;
}

struct cowfs_volume_ref *cowfs_volume_attach(const char *name, u64 mount_id,
					     const char *target)
{
	struct cowfs_volume_ref *ref;
	struct cowfs_volume *vol;
	struct vfsmount *mnt;
	struct path path;
	int err;

	if (!cowfs_volume_name_valid(name))
		return ERR_PTR(-EINVAL);
	ref = kzalloc(sizeof(*ref), GFP_KERNEL);
	if (!ref)
		return ERR_PTR(-ENOMEM);
	ref->mount_id = mount_id;
	ref->target = kstrdup(target ?: "", GFP_KERNEL);
	if (!ref->target) {
		kfree(ref);
		return ERR_PTR(-ENOMEM);
	}

	mutex_lock(&cowfs_volumes_mutex);
	cowfs_store_ready(NULL);
	vol = cowfs_volume_find(name);
	err = -ENOENT;
	if (!vol)
		goto fail;
	if (vol->type == COWFS_VOLUME_TYPE_BIND) {
		err = cowfs_volume_bind_path(vol, &path);
		if (err)
			goto fail;
		mnt = clone_private_mount(&path);
		err = PTR_ERR(mnt);
		if (IS_ERR(mnt)) {
			path_put(&path);
			goto fail;
		}
		ref->root.mnt = mnt;
		ref->root.dentry = dget(path.dentry);
		path_put(&path);
	} else {
		ref->root = vol->root;
		path_get(&ref->root);
	}
	ref->vol = vol;
	list_add_tail(&ref->node, &vol->refs);
	list_add_tail(&ref->all, &cowfs_volume_refs);
	mutex_unlock(&cowfs_volumes_mutex);
	return ref;

fail:
	mutex_unlock(&cowfs_volumes_mutex);
	kfree(ref->target);
	kfree(ref);
	return ERR_PTR(err);
}

void cowfs_volume_root(const struct cowfs_volume_ref *ref, struct path *path)
{
	*path = ref->root;
	path_get(path);
}

const char *cowfs_volume_ref_name(const struct cowfs_volume_ref *ref)
{
	return ref->vol->name;
}

void cowfs_volume_detach(struct cowfs_volume_ref *ref)
{
	bool bind;

	if (!ref)
		return;
	mutex_lock(&cowfs_volumes_mutex);
	/* Once off the list, the volume may go at any time */
	bind = ref->vol->type == COWFS_VOLUME_TYPE_BIND;
	list_del(&ref->node);
	list_del(&ref->all);
	mutex_unlock(&cowfs_volumes_mutex);
	if (bind) {
		dput(ref->root.dentry);
		kern_unmount(ref->root.mnt);
	} else {
		path_put(&ref->root);
	}
	kfree(ref->target);
	kfree(ref);
}

/* Call @fn for each volume that mount @mount_id uses, until it fails. */
int cowfs_volume_walk_refs(u64 mount_id, cowfs_volume_ref_fn fn, void *arg)
{
	struct cowfs_volume_ref *ref;
	int err = 0;

	lockdep_assert_held(&cowfs_volumes_mutex);
	list_for_each_entry(ref, &cowfs_volume_refs, all) {
		if (ref->mount_id != mount_id)
			continue;
		err = fn(ref, arg);
		if (err)
			break;
	}
	return err;
}

/* ---- module load and unload ----------------------------------------------- */

/* Never fails for want of a store: volume-new reports that. */
int cowfs_volumes_init(void)
{
	int err;

	cowfs_store_name = kstrdup(cowfs_store_param ?: "", GFP_KERNEL);
	if (!cowfs_store_name)
		return -ENOMEM;
	mutex_lock(&cowfs_volumes_mutex);
	err = cowfs_store_open(cowfs_store_name, &cowfs_store);
	if (!err)
		err = cowfs_store_load(&cowfs_store, cowfs_volume_insert);
	mutex_unlock(&cowfs_volumes_mutex);
	if (err)
		pr_info("volume store %s not loaded: %pe\n", cowfs_store_name,
			ERR_PTR(err));
	return 0;
}

void cowfs_volumes_exit(void)
{
	struct cowfs_volume *vol;
	unsigned long idx;

	/* No mounts are left, so no references */
	WARN_ON(!list_empty(&cowfs_volume_refs));
	xa_for_each(&cowfs_volumes, idx, vol) {
		xa_erase(&cowfs_volumes, idx);
		cowfs_volume_free(vol);
	}
	xa_destroy(&cowfs_volumes);
	cowfs_store_close(&cowfs_store);
	kfree(cowfs_store_name);
}
