/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cowfs: shared definitions, wrappers around real-layer calls and the
 * prototypes of each file, grouped by the file that defines them.
 */
#ifndef _COWFS_H
#define _COWFS_H

#include <linux/cred.h>
#include <linux/fileattr.h>
#include <linux/fs_parser.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/posix_acl.h>
#include <linux/xattr.h>
#include <linux/version.h>

#include "cowfs_entry.h"

#undef pr_fmt
#define pr_fmt(fmt) "cowfs: " fmt

#define COWFS_SUPER_MAGIC	0x636f7766	/* "cowf" */

/* Names shared with overlayfs: layers are interchangeable with overlay2 */
#define COWFS_XATTR_TRUSTED_PREFIX	"trusted.overlay."
#define COWFS_XATTR_TRUSTED_PREFIX_LEN	(sizeof(COWFS_XATTR_TRUSTED_PREFIX) - 1)
/* With userxattr (unprivileged mounts), as overlayfs's userxattr */
#define COWFS_XATTR_USER_PREFIX		"user.overlay."
#define COWFS_XATTR_USER_PREFIX_LEN	(sizeof(COWFS_XATTR_USER_PREFIX) - 1)

/* The union's own xattrs: cowfs_xattr() names them for a mount */
enum cowfs_xattr {
	COWFS_XA_OPAQUE,
	COWFS_XA_REDIRECT,
	COWFS_XA_ORIGIN,
	COWFS_XA_IMPURE,
	COWFS_XA_METACOPY,
	/* index=on: the index directory's upper root, an entry's link count */
	COWFS_XA_UPPER,
	COWFS_XA_NLINK,
	/* copyup=partial: which granules a partial upper file holds */
	COWFS_XA_PARTIAL,
};

/* AUFS-style whiteouts (aufs_whiteouts): .wh.NAME and .wh..wh..opq */
#define COWFS_AUFS_WH		".wh."
#define COWFS_AUFS_WH_LEN	(sizeof(COWFS_AUFS_WH) - 1)
#define COWFS_AUFS_OPQ		".wh..wh..opq"

static inline bool cowfs_is_aufs_name(const char *name, int len)
{
	return len >= COWFS_AUFS_WH_LEN &&
	       !memcmp(name, COWFS_AUFS_WH, COWFS_AUFS_WH_LEN);
}

/*
 * trusted.overlay.metacopy: empty, or overlayfs's struct ovl_metacopy: the
 * header, then the used bytes of the data's fs-verity digest.
 */
struct cowfs_metacopy {
	u8 version;	/* 0 */
	u8 len;		/* the header and the digest's bytes */
	u8 flags;
	u8 digest_algo;	/* FS_VERITY_HASH_ALG_*, 0 for no digest */
	u8 digest[64];	/* FS_VERITY_MAX_DIGEST_SIZE */
} __packed;

#define COWFS_METACOPY_MIN_SIZE	4

/* Longest redirect we write; overlayfs reads up to PATH_MAX */
#define COWFS_REDIRECT_MAX	256

/* Name of the directory made inside workdir= for temporary objects */
#define COWFS_WORKDIR_NAME	"work"
/* And for the index (index=on), as overlayfs names it */
#define COWFS_INDEXDIR_NAME	"index"

/* ->d_fsdata flags of a cowfs dentry */
enum cowfs_dentry_flag {
	COWFS_E_OPAQUE,		/* the top directory hides lower layers */
	/*
	 * The name is in the upper layer.  Without it, the inode may still
	 * have an upper object, copied up through another name of the same
	 * lower file: cowfs_copy_up() links this name up then.
	 */
	COWFS_E_UPPER_ALIAS,
};

extern const char *const cowfs_xattr_names[][2];

/* The name of the union's own xattr @ox: trusted.overlay.* or user.* */
static inline const char *cowfs_xattr(const struct cowfs_fs *ofs,
				      enum cowfs_xattr ox)
{
	return cowfs_xattr_names[ox][ofs->config.userxattr];
}

/* The same, for a layer of the union */
static inline const char *cowfs_layer_xattr(const struct cowfs_layer *layer,
					    enum cowfs_xattr ox)
{
	return cowfs_xattr_names[ox][layer->userxattr];
}

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

/*
 * Freeze protection and write access.  Every change to a real layer is
 * made between cowfs_want_write() and cowfs_drop_write() on the layer it
 * changes, so that a frozen layer makes it wait for the thaw (overlayfs's
 * ovl_want_write()).  Copy-up keeps write access to the mount for its
 * whole length (cowfs_get_write_access()) but holds freeze protection
 * (cowfs_start_write()) only around its metadata steps: the data copy
 * takes it itself, once per chunk, and a task that takes it a second
 * time deadlocks with a freeze that began in between.
 */
static inline int cowfs_want_write(const struct cowfs_layer *layer)
{
	return mnt_want_write(layer->mnt);
}

static inline void cowfs_drop_write(const struct cowfs_layer *layer)
{
	mnt_drop_write(layer->mnt);
}

static inline int cowfs_get_write_access(const struct cowfs_layer *layer)
{
	return mnt_get_write_access(layer->mnt);
}

static inline void cowfs_put_write_access(const struct cowfs_layer *layer)
{
	mnt_put_write_access(layer->mnt);
}

static inline void cowfs_start_write(const struct cowfs_layer *layer)
{
	sb_start_write(layer->mnt->mnt_sb);
}

static inline void cowfs_end_write(const struct cowfs_layer *layer)
{
	sb_end_write(layer->mnt->mnt_sb);
}

/*
 * Changes to a real layer.  Each wrapper is keyed on the layer whose
 * object it changes: the union's upper layer (&ofs->layers[0], also for
 * workdir), a volume attached in the union (cowfs_upper_layer() of an
 * inode below the volume's root), or the volume store.  The layer's
 * mount gives the idmap the change is made through.  The caller holds
 * cowfs_want_write() (or write access and cowfs_start_write()) on that
 * same layer.  scripts/check-wrappers.sh ('make check') fails when a
 * kernel file other than this one calls one of these VFS helpers.
 */
static inline struct mnt_idmap *cowfs_layer_idmap(const struct cowfs_layer *layer)
{
	return mnt_idmap(layer->mnt);
}

static inline int cowfs_do_setxattr(const struct cowfs_layer *layer,
				    struct dentry *dentry, const char *name,
				    const void *value, size_t size, int flags)
{
	int err = vfs_setxattr(cowfs_layer_idmap(layer), dentry, name, value,
			       size, flags);

	pr_debug("setxattr(%pd2, \"%s\", \"%*pE\", %zu, %d, layer %d) = %i\n",
		 dentry, name, min((int)size, 48), value, size, flags,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_removexattr(const struct cowfs_layer *layer,
				       struct dentry *dentry, const char *name)
{
	int err = vfs_removexattr(cowfs_layer_idmap(layer), dentry, name);

	pr_debug("removexattr(%pd2, \"%s\", layer %d) = %i\n", dentry, name,
		 layer->idx, err);
	return err;
}

/* With the real inode locked, as notify_change() wants it. */
static inline int cowfs_do_notify_change(const struct cowfs_layer *layer,
					 struct dentry *dentry,
					 struct iattr *attr)
{
	int err = notify_change(cowfs_layer_idmap(layer), dentry, attr, NULL);

	pr_debug("notify_change(%pd2, 0x%x, layer %d) = %i\n", dentry,
		 attr->ia_valid, layer->idx, err);
	return err;
}

static inline int cowfs_do_create(const struct cowfs_layer *layer,
				  struct inode *dir, struct dentry *dentry,
				  umode_t mode)
{
	int err = vfs_create(cowfs_layer_idmap(layer), dir, dentry, mode, true);

	pr_debug("create(%pd2, 0%o, layer %d) = %i\n", dentry, mode,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_mkdir(const struct cowfs_layer *layer,
				 struct inode *dir, struct dentry *dentry,
				 umode_t mode)
{
	int err = vfs_mkdir(cowfs_layer_idmap(layer), dir, dentry, mode);

	pr_debug("mkdir(%pd2, 0%o, layer %d) = %i\n", dentry, mode,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_mknod(const struct cowfs_layer *layer,
				 struct inode *dir, struct dentry *dentry,
				 umode_t mode, dev_t dev)
{
	int err = vfs_mknod(cowfs_layer_idmap(layer), dir, dentry, mode, dev);

	pr_debug("mknod(%pd2, 0%o, 0%o, layer %d) = %i\n", dentry, mode, dev,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_symlink(const struct cowfs_layer *layer,
				   struct inode *dir, struct dentry *dentry,
				   const char *oldname)
{
	int err = vfs_symlink(cowfs_layer_idmap(layer), dir, dentry, oldname);

	pr_debug("symlink(\"%s\", %pd2, layer %d) = %i\n", oldname, dentry,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_link(const struct cowfs_layer *layer,
				struct dentry *old_dentry, struct inode *dir,
				struct dentry *new_dentry)
{
	int err = vfs_link(old_dentry, cowfs_layer_idmap(layer), dir,
			   new_dentry, NULL);

	pr_debug("link(%pd2, %pd2, layer %d) = %i\n", old_dentry, new_dentry,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_unlink(const struct cowfs_layer *layer,
				  struct inode *dir, struct dentry *dentry)
{
	int err = vfs_unlink(cowfs_layer_idmap(layer), dir, dentry, NULL);

	pr_debug("unlink(%pd2, layer %d) = %i\n", dentry, layer->idx, err);
	return err;
}

static inline int cowfs_do_rmdir(const struct cowfs_layer *layer,
				 struct inode *dir, struct dentry *dentry)
{
	int err = vfs_rmdir(cowfs_layer_idmap(layer), dir, dentry);

	pr_debug("rmdir(%pd2, layer %d) = %i\n", dentry, layer->idx, err);
	return err;
}

/* The caller counts it in cowfs_fs->stats.whiteouts. */
static inline int cowfs_do_whiteout(const struct cowfs_layer *layer,
				    struct inode *dir, struct dentry *dentry)
{
	int err = vfs_whiteout(cowfs_layer_idmap(layer), dir, dentry);

	pr_debug("whiteout(%pd2, layer %d) = %i\n", dentry, layer->idx, err);
	return err;
}

/* Both directories are on @layer: a rename never crosses layers. */
static inline int cowfs_do_rename(const struct cowfs_layer *layer,
				  struct inode *olddir,
				  struct dentry *olddentry,
				  struct inode *newdir,
				  struct dentry *newdentry, unsigned int flags)
{
	struct renamedata rd = {
		.old_mnt_idmap	= cowfs_layer_idmap(layer),
		.old_dir	= olddir,
		.old_dentry	= olddentry,
		.new_mnt_idmap	= cowfs_layer_idmap(layer),
		.new_dir	= newdir,
		.new_dentry	= newdentry,
		.flags		= flags,
	};
	int err = vfs_rename(&rd);

	pr_debug("rename(%pd2, %pd2, 0x%x, layer %d) = %i\n", olddentry,
		 newdentry, flags, layer->idx, err);
	return err;
}

/* Look a name up in a locked directory of @layer. */
static inline struct dentry *cowfs_do_lookup_locked(const struct cowfs_layer *layer,
						    const char *name,
						    struct dentry *base,
						    int len)
{
	struct dentry *this;

	this = lookup_one(cowfs_layer_idmap(layer), name, base, len);
	pr_debug("lookup_locked(%pd2/%.*s, layer %d) = %pe\n", base, len, name,
		 layer->idx, this);
	return this;
}

static inline struct posix_acl *cowfs_do_get_acl(const struct path *path,
						 const char *name)
{
	return vfs_get_acl(mnt_idmap(path->mnt), path->dentry, name);
}

static inline int cowfs_do_set_acl(const struct cowfs_layer *layer,
				   struct dentry *dentry, const char *name,
				   struct posix_acl *acl)
{
	int err = vfs_set_acl(cowfs_layer_idmap(layer), dentry, name, acl);

	pr_debug("set_acl(%pd2, \"%s\", layer %d) = %i\n", dentry, name,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_remove_acl(const struct cowfs_layer *layer,
				      struct dentry *dentry, const char *name)
{
	int err = vfs_remove_acl(cowfs_layer_idmap(layer), dentry, name);

	pr_debug("remove_acl(%pd2, \"%s\", layer %d) = %i\n", dentry, name,
		 layer->idx, err);
	return err;
}

static inline int cowfs_do_fileattr_set(const struct cowfs_layer *layer,
					struct dentry *dentry,
					struct fileattr *fa)
{
	int err = vfs_fileattr_set(cowfs_layer_idmap(layer), dentry, fa);

	pr_debug("fileattr_set(%pd2, 0x%x, layer %d) = %i\n", dentry, fa->flags,
		 layer->idx, err);
	return err;
}

/*
 * An unnamed file in directory @dir of @layer, opened with @cred.  The
 * open holds write access to the layer's mount until the file is put.
 */
static inline struct file *cowfs_do_tmpfile(const struct cowfs_layer *layer,
					    struct dentry *dir, umode_t mode,
					    int open_flag,
					    const struct cred *cred)
{
	struct path parent = { .mnt = layer->mnt, .dentry = dir };
	struct file *file;

	file = kernel_tmpfile_open(cowfs_layer_idmap(layer), &parent, mode,
				   open_flag, cred);
	pr_debug("tmpfile(%pd2, 0%o, layer %d) = %pe\n", dir, mode,
		 layer->idx, file);
	return file;
}

/*
 * Share @len bytes of @in's extents with @out, both from offset 0.  The
 * files were opened on their layers' mounts, which key the call; it takes
 * freeze protection of @out's filesystem itself.
 */
static inline loff_t cowfs_do_clone(struct file *in, struct file *out,
				    loff_t len)
{
	loff_t res = vfs_clone_file_range(in, 0, out, 0, len, 0);

	pr_debug("clone(%pD2, %pD2, %lld) = %lld\n", in, out, len, res);
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
void cowfs_put_entry(struct cowfs_entry *oe);
void cowfs_free_entry(struct cowfs_entry *oe);
bool cowfs_dentry_weird(struct dentry *dentry);
bool cowfs_is_whiteout(struct dentry *dentry);
bool cowfs_layer_has_name(const struct cowfs_layer *layer, struct dentry *dir,
			  const char *name, int len);
bool cowfs_is_opaquedir(const struct cowfs_layer *layer, struct dentry *dir);
void cowfs_path_lower(struct dentry *dentry, struct path *path);
void cowfs_path_real(struct dentry *dentry, struct path *path);
void cowfs_path_realdata(struct dentry *dentry, struct path *path);
struct inode *cowfs_inode_real(struct inode *inode);
struct inode *cowfs_inode_realdata(struct inode *inode);
bool cowfs_is_metacopy(struct inode *inode);
int cowfs_fsync_path(const struct path *path, loff_t start, loff_t end,
		     int datasync);
struct inode *cowfs_inode_real_idmap(struct inode *inode,
				     struct mnt_idmap **idmap);
bool cowfs_dir_is_merged(struct inode *inode);
u64 cowfs_map_ino(struct super_block *sb, const struct cowfs_layer *layer,
		  u64 real_ino);
void cowfs_dentry_set_flag(unsigned long flag, struct dentry *dentry);
void cowfs_dentry_clear_flag(unsigned long flag, struct dentry *dentry);
bool cowfs_dentry_test_flag(unsigned long flag, struct dentry *dentry);
void cowfs_path_upper(struct dentry *dentry, struct path *path);
bool cowfs_dentry_has_lower(struct dentry *dentry);
bool cowfs_dentry_is_opaque(struct dentry *dentry);
bool cowfs_already_copied_up(struct dentry *dentry);
bool cowfs_dirs_overlap(struct dentry *a, struct dentry *b);
void cowfs_dir_modified(struct dentry *dentry);
bool cowfs_inuse_trylock(struct dentry *dentry);
void cowfs_inuse_unlock(struct dentry *dentry);
int cowfs_set_opaque(const struct cowfs_layer *layer,
		     struct dentry *upperdentry);
struct dentry *cowfs_lookup_temp(struct cowfs_fs *ofs, struct dentry *workdir);
int cowfs_cleanup(const struct cowfs_layer *layer, struct inode *dir,
		  struct dentry *dentry);

/*
 * Names read from a real directory, NUL-separated in one buffer, by
 * cowfs_names_read(); walk them with cowfs_names_next().
 */
struct cowfs_names {
	struct dir_context ctx;
	char *buf;
	size_t size;
	size_t used;
	unsigned int count;
	bool full;
};

/* The first name in @nm (@name NULL) or the one after @name; NULL at the end */
static inline char *cowfs_names_next(const struct cowfs_names *nm, char *name)
{
	name = name ? name + strlen(name) + 1 : nm->buf;
	return name < nm->buf + nm->used ? name : NULL;
}

/* An arena of small objects, freed all at once; zero-initialise it */
struct cowfs_arena {
	struct cowfs_arena_chunk *chunks;
	/* Bytes of chunks allocated */
	size_t size;
};

void *cowfs_arena_alloc(struct cowfs_arena *arena, size_t size);
void cowfs_arena_free(struct cowfs_arena *arena);

/* A node of a cowfs_ntable, inside an object that holds the name */
struct cowfs_nnode {
	struct cowfs_nnode *next;
	const char *name;
	u32 hash;
	u32 len;
};

struct cowfs_ntable {
	struct cowfs_nnode **buckets;
	unsigned int bits;
	unsigned int count;
	const void *salt;
};

int cowfs_ntable_init(struct cowfs_ntable *t, const void *salt);
void cowfs_ntable_destroy(struct cowfs_ntable *t);
struct cowfs_nnode *cowfs_ntable_find(const struct cowfs_ntable *t,
				      const char *name, unsigned int len,
				      u32 *hashp);
int cowfs_ntable_add(struct cowfs_ntable *t, struct cowfs_nnode *n, u32 hash);

bool cowfs_name_is_dot(const char *name, int len);
struct file *cowfs_open_real_dir(const struct path *path);
int cowfs_iterate_real_dir(const struct path *path, struct dir_context *ctx);
int cowfs_names_alloc(struct cowfs_names *nm);
void cowfs_names_free(struct cowfs_names *nm);
int cowfs_names_read(struct file *file, struct cowfs_names *nm);
int cowfs_walk_names(const struct path *path,
		     int (*fn)(const char *name, void *arg), void *arg);

/* nameidx.c */
struct cowfs_nidx;
const struct cowfs_nidx *cowfs_nidx_get(struct inode *dir);
unsigned int cowfs_nidx_next(const struct cowfs_nidx *nidx, const char *name,
			     unsigned int len, unsigned int pos,
			     unsigned int numlower);
void cowfs_nidx_free(struct cowfs_nidx *nidx);

/* graft.c */
int cowfs_attach_volumes(struct super_block *sb, struct fs_context *fc);
int cowfs_graft_volumes(struct super_block *sb, struct fs_context *fc);
struct cowfs_graft *cowfs_graft_find(struct cowfs_fs *ofs,
				     struct dentry *parent,
				     const struct qstr *name);
bool cowfs_is_graft_root(struct dentry *dentry);
void cowfs_graft_put_parents(struct cowfs_fs *ofs);
void cowfs_free_grafts(struct cowfs_fs *ofs);

/* copy_up.c */
void *cowfs_encode_fh(struct dentry *real, bool upper, int *len);
bool cowfs_fh_valid(const void *fh, int len, bool upper);
void *cowfs_get_origin(const struct cowfs_layer *layer, struct dentry *upper,
		       int *len);
struct dentry *cowfs_decode_origin(struct cowfs_fs *ofs, const void *origin,
				   int len, const struct cowfs_layer **layerp);
bool cowfs_origin_matches(struct cowfs_fs *ofs, struct dentry *lower,
			  const void *origin, int len);
int cowfs_copy_up(struct dentry *dentry);
int cowfs_copy_up_flags(struct dentry *dentry, int flags);
int cowfs_copy_xattr(const struct cowfs_layer *layer,
		     const struct path *oldpath, struct dentry *new);
int cowfs_set_attr(const struct cowfs_layer *layer, struct dentry *upper,
		   const struct kstat *stat);

/* index.c */
bool cowfs_need_index(struct dentry *dentry);
int cowfs_index_name(struct dentry *origin, struct qstr *name);
struct dentry *cowfs_index_lookup(struct cowfs_fs *ofs, struct dentry *upper,
				  struct dentry *origin);
unsigned int cowfs_get_nlink(struct cowfs_fs *ofs, struct dentry *lower,
			     struct dentry *upper, unsigned int fallback);
int cowfs_set_nlink_upper(struct inode *inode);
int cowfs_set_nlink_lower(struct inode *inode);
int cowfs_nlink_prepare(struct dentry *dentry);
int cowfs_nlink_start(struct dentry *dentry);
void cowfs_nlink_end(struct dentry *dentry);
int cowfs_index_setup(struct super_block *sb, struct fs_context *fc);

/* partial.c */
struct cowfs_partial;
bool cowfs_want_partial(struct dentry *dentry, loff_t size, int flags);
struct cowfs_partial *cowfs_partial_init(struct cowfs_fs *ofs,
					 struct dentry *temp, loff_t size);
struct cowfs_partial *cowfs_partial_load(const struct cowfs_layer *layer,
					 struct dentry *upper);
bool cowfs_partial_unfit(int err);
int cowfs_partial_check_lower(struct cowfs_partial *p,
			      struct cowfs_entry *oe, struct dentry *upper);
void cowfs_partial_free(struct cowfs_partial *p);
int cowfs_partial_fill(struct inode *inode, loff_t start, loff_t end);
int cowfs_partial_complete(struct inode *inode);
bool cowfs_partial_synced(struct inode *inode);
void cowfs_partial_unsynced(struct inode *inode);
ssize_t cowfs_partial_read(struct inode *inode, struct kiocb *iocb,
			   struct iov_iter *iter, struct file *upperfile,
			   struct file *lowerfile);
loff_t cowfs_partial_llseek(struct inode *inode, struct file *upperfile,
			    struct file *lowerfile, loff_t offset, int whence);
int cowfs_partial_mmap(struct inode *inode, struct vm_area_struct *vma);

/* dir.c */
extern const struct inode_operations cowfs_dir_inode_operations;

/* verity.c */
int cowfs_verity_metacopy(struct cowfs_fs *ofs, const struct path *datapath,
			  struct cowfs_metacopy *mc);
int cowfs_verify_lowerdata_locked(struct dentry *dentry);
int cowfs_verify_lowerdata(struct dentry *dentry);

/* namei.c */
struct dentry *cowfs_lookup(struct inode *dir, struct dentry *dentry,
			    unsigned int flags);

/* inode.c */
struct inode *cowfs_get_inode(struct super_block *sb,
			      const struct cowfs_layer *upper_layer,
			      struct dentry *upperdentry,
			      struct cowfs_entry *oe, unsigned long iflags,
			      struct cowfs_partial *partial);
void cowfs_copyattr(struct inode *inode);
u64 cowfs_inode_ino(struct inode *inode);
int cowfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int flags);
int cowfs_permission(struct mnt_idmap *idmap, struct inode *inode, int mask);
int cowfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct iattr *attr);
struct posix_acl *cowfs_get_inode_acl(struct inode *inode, int type, bool rcu);
struct posix_acl *cowfs_get_acl(struct mnt_idmap *idmap,
				struct dentry *dentry, int type);
int cowfs_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct posix_acl *acl, int type);
int cowfs_update_time(struct inode *inode, int flags);
int cowfs_fileattr_get(struct dentry *dentry, struct fileattr *fa);
int cowfs_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
		       struct fileattr *fa);
struct inode *cowfs_new_inode(struct super_block *sb,
			      const struct cowfs_layer *upper_layer,
			      struct dentry *upperdentry);

/* readdir.c */
extern const struct file_operations cowfs_dir_operations;
int cowfs_check_empty_dir(struct dentry *dentry, struct list_head *whiteouts);
void cowfs_cleanup_whiteouts(const struct cowfs_layer *layer,
			     struct dentry *upper, struct list_head *whiteouts);
void cowfs_cache_free_list(struct list_head *list);
struct cowfs_dir_cache;
void cowfs_dir_cache_put(struct cowfs_dir_cache *cache);

/* file.c */
extern const struct file_operations cowfs_file_operations;

/* xattrs.c */
const struct xattr_handler * const *cowfs_xattr_handlers(struct cowfs_fs *ofs);
bool cowfs_is_private_xattr(bool userxattr, const char *name);
ssize_t cowfs_listxattr(struct dentry *dentry, char *list, size_t size);

/* params.c */
extern const struct fs_parameter_spec cowfs_parameter_spec[];
int cowfs_init_fs_context(struct fs_context *fc);
int cowfs_show_options(struct seq_file *m, struct dentry *dentry);
int cowfs_params_verify(struct fs_context *fc, struct cowfs_config *config);
int cowfs_options_walk(struct cowfs_fs *ofs, void *arg,
		       int (*fn)(const char *key, const char *val, void *arg));
void cowfs_free_fs(struct cowfs_fs *ofs);

/* super.c */
int cowfs_clean_name(struct cowfs_fs *ofs, struct dentry *dir,
		     const char *name, int depth);
struct dentry *cowfs_make_work_subdir(struct cowfs_fs *ofs, const char *name);
int cowfs_fill_super(struct super_block *sb, struct fs_context *fc);
int cowfs_get_fsid_path(struct cowfs_fs *ofs, const struct path *path);
int cowfs_mounts_walk(u64 *after,
		      int (*fn)(struct cowfs_fs *ofs, void *arg), void *arg);
int cowfs_mount_call(u64 id, int (*fn)(struct cowfs_fs *ofs, void *arg),
		     void *arg);

/* netlink.c */
int cowfs_netlink_init(void);
void cowfs_netlink_exit(void);
void cowfs_netlink_mount_event(struct cowfs_fs *ofs, bool mounted);

/* volume.c (the API for mounts is in volume.h) */
int cowfs_volumes_init(void);
void cowfs_volumes_exit(void);

#endif /* _COWFS_H */
