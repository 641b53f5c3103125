/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cowfs: the data structures behind a union mount.
 *
 * A cowfs superblock stacks on N read-only lower layers.  Each layer is a
 * private clone of the mount the user named.  Objects in the union are
 * cowfs inodes that point at the real dentries they are made of: one per
 * layer for a merged directory, exactly one for anything else.
 */
#ifndef _COWFS_ENTRY_H
#define _COWFS_ENTRY_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>

/* Same limit as overlayfs: the lowest layer is number 500. */
#define COWFS_MAX_STACK		500

/* Volumes one union may attach */
#define COWFS_MAX_VOLUMES	64

/* verity= */
enum cowfs_verity {
	COWFS_VERITY_OFF,
	COWFS_VERITY_ON,
	COWFS_VERITY_REQUIRE,
};

struct cowfs_config {
	/* The lowerdir= value as given, or NULL when built with lowerdir+ */
	char *lowerdir_all;
	char *upperdir;
	char *workdir;
	/* redirect_dir=on: rename lower directories by redirect xattrs */
	bool redirect_dir;
	/* Not redirect_dir=nofollow: follow redirects found in the layers */
	bool redirect_follow;
	/* userxattr: the union's xattrs are user.overlay.* */
	bool userxattr;
	/* aufs_whiteouts: the layers' .wh. files are whiteouts too */
	bool aufs_whiteouts;
	/* metacopy=on: copy metadata only up until the data is written */
	bool metacopy;
	/* index=on, with an upper layer: lower hard links stay linked */
	bool index;
	/* copyup=partial: first writes copy up what they touch (partial.c) */
	bool copyup_partial;
	/* verity=: enum cowfs_verity, check metacopy files' data digests */
	int verity_mode;
	/* default_permissions: accepted and shown, as on overlayfs 6.12 */
	bool default_permissions;
	/* fsync=strict: fsync every copied-up file and directory */
	bool fsync_strict;
	/* uuid=null was given: shown (cowfs behaves so with any value) */
	bool uuid_null;
	/* The redirect_dir= value given, for show_options; NULL if none */
	const char *redirect_shown;
};

/* One filesystem that backs one or more layers. */
struct cowfs_sb {
	struct super_block *sb;
};

struct cowfs_layer {
	/* Private clone of the layer's mount; mnt_root is the layer root */
	struct vfsmount *mnt;
	/* The path as the user wrote it (unescaped), for show_options */
	char *name;
	/* Index in the stack: 1 is the top lower layer */
	int idx;
	/* Index in cowfs_fs->fs[]: layers on one filesystem share it */
	int fsid;
	/* The union's xattrs here are user.overlay.* (userxattr) */
	bool userxattr;
	/* .wh.NAME files are whiteouts, .wh..wh..opq opaque (aufs_whiteouts) */
	bool aufs_whiteouts;
};

/* Counters reported per mount over netlink (mount-get). */
struct cowfs_stats {
	atomic64_t lookups;
	atomic64_t copy_ups;
	atomic64_t copy_up_bytes;
	atomic64_t whiteouts;
};

struct cowfs_volume_ref;

/*
 * A volume attached inside the union: the union's entry @name in the
 * directory @parent is the volume's root, and everything below it is the
 * volume's, read and written directly (its own upper layer, no lowers).
 */
struct cowfs_graft {
	struct cowfs_volume_ref *ref;
	/* The volume's root and its mount, as the registry hands it out */
	struct path root;
	struct cowfs_layer layer;
	/* "NAME:/target" as given, for show_options */
	char *spec;
	/* The union directory it appears in, pinned until umount */
	struct dentry *parent;
	struct qstr name;
};

struct cowfs_fs {
	/* Unique for the module's lifetime; 1 is the first mount */
	u64 id;
	struct super_block *sb;
	/* On cowfs_mounts, under cowfs_mounts_lock, while mounted */
	struct list_head mounts_node;
	struct cowfs_stats stats;

	unsigned int numlayer;
	/*
	 * The last numdatalayer lower layers are data-only ('::', datadir+):
	 * not in the root's stack, reached only by metacopy redirects
	 */
	unsigned int numdatalayer;
	/* layers[0] is reserved for the upper layer; lowers follow */
	struct cowfs_layer *layers;
	/* The layers' private mounts, for kern_unmount_array() */
	struct vfsmount **mounts;
	unsigned int numfs;
	struct cowfs_sb *fs;
	/* Bits of st_ino reserved to tell layer filesystems apart */
	unsigned int xino_bits;
	/* Longest name any layer's filesystem takes (statfs f_namelen) */
	unsigned long namelen;
	/* Credentials of the mounter, used for every real-layer access */
	const struct cred *creator_cred;
	struct cowfs_config config;

	/* With an upper layer: layers[0].mnt is its private mount */
	struct dentry *workbasedir;	/* the workdir= directory */
	struct dentry *workdir;		/* workdir/work: temporary objects */
	/* index=on: workdir/index, the upper objects of lower hard links */
	struct dentry *indexdir;
	/* We hold I_OVL_INUSE on these: no other union may use them */
	bool upperdir_locked;
	bool workdir_locked;
	/* Names of temporary objects in workdir */
	atomic_long_t last_temp_id;

	unsigned int numgrafts;
	struct cowfs_graft *grafts;
};

/* A real dentry and the layer it belongs to. */
struct cowfs_path {
	const struct cowfs_layer *layer;
	struct dentry *dentry;
};

/*
 * The real objects behind a cowfs inode, top layer first.  A regular file
 * has one lower object, or two when the first is a metacopy file (it holds
 * the metadata, the last the data: intermediate metacopy files are not
 * kept, as on overlayfs).
 */
struct cowfs_entry {
	unsigned int numlower;
	struct cowfs_path lowerstack[] __counted_by(numlower);
};

/* Bits of cowfs_inode.flags */
enum cowfs_inode_flag {
	/*
	 * The upper object holds the metadata only (metacopy=on): the data
	 * is the lower data file's.  Set before the upper object is
	 * published; cleared, with release order, once the data is copied up.
	 */
	COWFS_I_METACOPY,
	/* The lower data matched its metacopy file's fs-verity digest */
	COWFS_I_VERIFIED,
	/*
	 * The upper object is an index entry (index=on): the names of a
	 * lower hard link share it, and i_nlink counts the union's names,
	 * kept in the entry's trusted.overlay.nlink (index.c).  Set before
	 * the upper object is published.
	 */
	COWFS_I_INDEX,
	/*
	 * The upper file holds only the granules cowfs_inode.partial says;
	 * the rest is the lower file's (copyup=partial, partial.c).  Set
	 * before the upper object is published; cleared, with release
	 * order, once the file is complete.
	 */
	COWFS_I_PARTIAL,
};

struct cowfs_inode {
	/* Lower real objects: read-only once the inode is instantiated */
	struct cowfs_entry *oe;
	/*
	 * The upper real object: set once, at creation or copy-up, under
	 * ->lock and published with smp_store_release(); read it with
	 * cowfs_upperdentry().
	 */
	struct dentry *__upperdentry;
	/* Where the upper object is: the union's upper layer or a volume */
	const struct cowfs_layer *upper_layer;
	/*
	 * The trusted.overlay.redirect of a renamed directory or metacopy
	 * file, under ->lock
	 */
	char *redirect;
	/* Bumped on every change to a directory's merged contents */
	u64 version;
	/*
	 * A merged directory's name index (nameidx.c): set once, published
	 * with cmpxchg_release(), read with smp_load_acquire().  Until then,
	 * the lower entries its lookups have probed, and how many make one
	 * worth building.
	 */
	struct cowfs_nidx *nidx;
	unsigned int nidx_probes;
	unsigned int nidx_need;
	/* A merged directory's list of names (readdir.c), under i_rwsem */
	struct cowfs_dir_cache *dir_cache;
	/* enum cowfs_inode_flag */
	unsigned long flags;
	/* Which granules a partial upper file holds: with COWFS_I_PARTIAL */
	struct cowfs_partial *partial;
	/* Serialises copy-up, redirect updates and llseek */
	struct mutex lock;
	struct inode vfs_inode;
};

static inline struct cowfs_fs *COWFS_FS(const struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct cowfs_inode *COWFS_I(const struct inode *inode)
{
	return container_of(inode, struct cowfs_inode, vfs_inode);
}

static inline struct cowfs_entry *COWFS_E(const struct dentry *dentry)
{
	return COWFS_I(d_inode(dentry))->oe;
}

static inline bool cowfs_has_upper(const struct cowfs_fs *ofs)
{
	return ofs->layers[0].mnt;
}

static inline struct vfsmount *cowfs_upper_mnt(const struct cowfs_fs *ofs)
{
	return ofs->layers[0].mnt;
}

static inline struct dentry *cowfs_upperdentry(const struct inode *inode)
{
	/* Pairs with smp_store_release() in cowfs_copy_up_one() */
	return smp_load_acquire(&COWFS_I(inode)->__upperdentry);
}

static inline const struct cowfs_layer *
cowfs_upper_layer(const struct inode *inode)
{
	return COWFS_I(inode)->upper_layer;
}

static inline struct inode *cowfs_inode_upper(const struct inode *inode)
{
	struct dentry *upper = cowfs_upperdentry(inode);

	return upper ? d_inode(upper) : NULL;
}

/* The upper real dentry of a positive cowfs dentry, or NULL. */
static inline struct dentry *cowfs_dentry_upper(const struct dentry *dentry)
{
	return cowfs_upperdentry(d_inode(dentry));
}

/* The lower layers that merge: layers[1 .. cowfs_numlowerlayer()] */
static inline unsigned int cowfs_numlowerlayer(const struct cowfs_fs *ofs)
{
	return ofs->numlayer - ofs->numdatalayer - 1;
}

static inline unsigned int cowfs_numlower(const struct cowfs_entry *oe)
{
	return oe ? oe->numlower : 0;
}

/* Is the data the upper object's?  (Not while it is a metacopy file.) */
static inline bool cowfs_has_upperdata(const struct inode *inode)
{
	/* Pairs with clear_bit_unlock() after the data copy-up */
	return !test_bit_acquire(COWFS_I_METACOPY, &COWFS_I(inode)->flags);
}

/* Does the upper file hold only some of the data?  (copyup=partial) */
static inline bool cowfs_is_partial(const struct inode *inode)
{
	/* Pairs with clear_bit_unlock() when the file is complete */
	return test_bit_acquire(COWFS_I_PARTIAL, &COWFS_I(inode)->flags);
}

/* The lower object holding a regular file's data: the last of its stack */
static inline const struct cowfs_path *
cowfs_lowerdata(const struct cowfs_entry *oe)
{
	return cowfs_numlower(oe) ? &oe->lowerstack[oe->numlower - 1] : NULL;
}

static inline struct cowfs_path *cowfs_lowerstack(struct cowfs_entry *oe)
{
	return oe ? oe->lowerstack : NULL;
}

#endif /* _COWFS_ENTRY_H */
