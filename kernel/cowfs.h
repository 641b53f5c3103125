/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cowfs: shared definitions, wrappers around real-layer calls and the
 * prototypes of each file, grouped by the file that defines them.
 */
#ifndef _COWFS_H
#define _COWFS_H

#include <linux/cred.h>
#include <linux/fs_parser.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/xattr.h>
#include <linux/version.h>

#include "cowfs_entry.h"

#undef pr_fmt
#define pr_fmt(fmt) "cowfs: " fmt

#define COWFS_SUPER_MAGIC	0x636f7766	/* "cowf" */

/* Names shared with overlayfs: layers are interchangeable with overlay2 */
#define COWFS_XATTR_TRUSTED_PREFIX	"trusted.overlay."
#define COWFS_XATTR_TRUSTED_PREFIX_LEN	(sizeof(COWFS_XATTR_TRUSTED_PREFIX) - 1)
#define COWFS_XATTR_OPAQUE	COWFS_XATTR_TRUSTED_PREFIX "opaque"

/* ->d_fsdata flags of a cowfs dentry */
enum cowfs_dentry_flag {
	COWFS_E_OPAQUE,		/* the top directory hides lower layers */
};

/*
 * Calls into a real layer.  Every one goes through a wrapper here, so that
 * there is one place to trace (with dynamic debug) and one place to fix.
 */
static inline struct dentry *cowfs_do_lookup(const struct cowfs_layer *layer,
					     const char *name,
					     struct dentry *base, int len)
{
	struct dentry *this;

	this = lookup_one_unlocked(mnt_idmap(layer->mnt), name, base, len);
	pr_debug("lookup(%pd2/%.*s, layer %d) = %pe\n", base, len, name,
		 layer->idx, this);
	return this;
}

static inline ssize_t cowfs_do_getxattr(const struct path *path,
					const char *name, void *value,
					size_t size)
{
	ssize_t res;

	res = vfs_getxattr(mnt_idmap(path->mnt), path->dentry, name, value,
			   size);
	pr_debug("getxattr(%pd2, \"%s\", %zu) = %zi\n", path->dentry, name,
		 size, res);
	return res;
}

static inline ssize_t cowfs_do_listxattr(struct dentry *dentry, char *list,
					 size_t size)
{
	ssize_t res = vfs_listxattr(dentry, list, size);

	pr_debug("listxattr(%pd2, %zu) = %zi\n", dentry, size, res);
	return res;
}

static inline int cowfs_do_getattr(const struct path *path,
				   struct kstat *stat, u32 request_mask,
				   unsigned int flags)
{
	/* Stacked getattr without LSM checks stays without them below */
	if (flags & AT_GETATTR_NOSEC)
		return vfs_getattr_nosec(path, stat, request_mask, flags);
	return vfs_getattr(path, stat, request_mask, flags);
}

/* util.c */
const struct cred *cowfs_override_creds(struct super_block *sb);
void cowfs_revert_creds(const struct cred *old_cred);
struct cowfs_entry *cowfs_alloc_entry(unsigned int numlower);
void cowfs_free_entry(struct cowfs_entry *oe);
bool cowfs_dentry_weird(struct dentry *dentry);
bool cowfs_is_whiteout(struct dentry *dentry);
bool cowfs_is_opaquedir(const struct cowfs_layer *layer, struct dentry *dir);
void cowfs_path_lower(struct dentry *dentry, struct path *path);
void cowfs_path_real(struct dentry *dentry, struct path *path);
struct inode *cowfs_inode_real(struct inode *inode);
bool cowfs_dir_is_merged(struct inode *inode);
u64 cowfs_map_ino(struct super_block *sb, const struct cowfs_layer *layer,
		  u64 real_ino);
void cowfs_dentry_set_flag(unsigned long flag, struct dentry *dentry);
bool cowfs_dentry_test_flag(unsigned long flag, struct dentry *dentry);

/* namei.c */
struct dentry *cowfs_lookup(struct inode *dir, struct dentry *dentry,
			    unsigned int flags);

/* inode.c */
struct inode *cowfs_get_inode(struct super_block *sb,
			      struct cowfs_entry *oe);
void cowfs_copyattr(struct inode *inode);
int cowfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int flags);
int cowfs_permission(struct mnt_idmap *idmap, struct inode *inode, int mask);
extern const struct inode_operations cowfs_dir_inode_operations;

/* readdir.c */
extern const struct file_operations cowfs_dir_operations;

/* file.c */
extern const struct file_operations cowfs_file_operations;

/* xattrs.c */
extern const struct xattr_handler * const cowfs_xattr_handlers[];
ssize_t cowfs_listxattr(struct dentry *dentry, char *list, size_t size);

/* params.c */
extern const struct fs_parameter_spec cowfs_parameter_spec[];
int cowfs_init_fs_context(struct fs_context *fc);
int cowfs_show_options(struct seq_file *m, struct dentry *dentry);
void cowfs_free_fs(struct cowfs_fs *ofs);

/* super.c */
int cowfs_fill_super(struct super_block *sb, struct fs_context *fc);
/*
 * Every live cowfs superblock is on cowfs_mounts from the end of a
 * successful fill_super() until kill_sb; its cowfs_fs stays valid while
 * cowfs_mounts_lock is held and it is on the list.
 */
extern struct mutex cowfs_mounts_lock;
extern struct list_head cowfs_mounts;

#endif /* _COWFS_H */
