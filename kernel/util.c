// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: small helpers shared by the rest of the filesystem.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/slab.h>
#include <linux/xattr.h>

#include "cowfs.h"

/*
 * Real layers are always accessed with the credentials of whoever mounted
 * the union, after the caller's own permission has been checked on the
 * cowfs inode.
 */
const struct cred *cowfs_override_creds(struct super_block *sb)
{
	return override_creds(COWFS_FS(sb)->creator_cred);
}

void cowfs_revert_creds(const struct cred *old_cred)
{
	revert_creds(old_cred);
}

struct cowfs_entry *cowfs_alloc_entry(unsigned int numlower)
{
	struct cowfs_entry *oe;

	oe = kzalloc(struct_size(oe, lowerstack, numlower), GFP_KERNEL);
	if (oe)
		oe->numlower = numlower;
	return oe;
}

void cowfs_free_entry(struct cowfs_entry *oe)
{
	unsigned int i;

	if (!oe)
		return;
	for (i = 0; i < oe->numlower; i++)
		dput(oe->lowerstack[i].dentry);
	kfree(oe);
}

/* Layers whose names can change behind our back cannot be stacked on. */
bool cowfs_dentry_weird(struct dentry *dentry)
{
	if (!d_can_lookup(dentry) && !d_is_file(dentry) && !d_is_symlink(dentry))
		return true;

	return dentry->d_flags & (DCACHE_NEED_AUTOMOUNT | DCACHE_MANAGE_TRANSIT |
				  DCACHE_OP_HASH | DCACHE_OP_COMPARE);
}

/* overlayfs's whiteout: a character device with device number 0/0. */
bool cowfs_is_whiteout(struct dentry *dentry)
{
	struct inode *inode = dentry ? d_inode(dentry) : NULL;

	return inode && IS_WHITEOUT(inode);
}

/* trusted.overlay.opaque=y on a directory hides the layers below it. */
bool cowfs_is_opaquedir(const struct cowfs_layer *layer, struct dentry *dir)
{
	struct path path = { .mnt = layer->mnt, .dentry = dir };
	char val;
	ssize_t res;

	if (!d_is_dir(dir) || !(d_inode(dir)->i_opflags & IOP_XATTR))
		return false;

	res = cowfs_do_getxattr(&path, COWFS_XATTR_OPAQUE, &val, 1);
	return res == 1 && val == 'y';
}

/* The top real object behind @dentry. */
void cowfs_path_lower(struct dentry *dentry, struct path *path)
{
	struct cowfs_entry *oe = COWFS_E(dentry);

	if (cowfs_numlower(oe)) {
		path->mnt = oe->lowerstack[0].layer->mnt;
		path->dentry = oe->lowerstack[0].dentry;
	} else {
		*path = (struct path) { };
	}
}

/* The real object that holds @dentry's data and attributes. */
void cowfs_path_real(struct dentry *dentry, struct path *path)
{
	cowfs_path_lower(dentry, path);
}

/* RCU-safe: the stack of a live inode never changes. */
struct inode *cowfs_inode_real(struct inode *inode)
{
	struct cowfs_entry *oe = COWFS_I(inode)->oe;

	if (!cowfs_numlower(oe))
		return NULL;
	return d_inode(oe->lowerstack[0].dentry);
}

bool cowfs_dir_is_merged(struct inode *inode)
{
	return S_ISDIR(inode->i_mode) && cowfs_numlower(COWFS_I(inode)->oe) > 1;
}

/*
 * Every object in the union reports the union's st_dev.  Inode numbers of
 * different layer filesystems may collide, so when the layers span more
 * than one filesystem the high bits of st_ino carry the index of the
 * filesystem (as overlayfs's xino=on does).
 */
u64 cowfs_map_ino(struct super_block *sb, const struct cowfs_layer *layer,
		  u64 real_ino)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);
	unsigned int shift = 64 - ofs->xino_bits;

	if (!ofs->xino_bits)
		return real_ino;

	if (unlikely(real_ino >> shift))
		pr_warn_once("inode number %llu on layer %d overflows into the filesystem index bits; st_ino may not be unique\n",
			     real_ino, layer->idx);

	return (real_ino & (U64_MAX >> ofs->xino_bits)) |
	       ((u64)layer->fsid << shift);
}

void cowfs_dentry_set_flag(unsigned long flag, struct dentry *dentry)
{
	set_bit(flag, (unsigned long *)&dentry->d_fsdata);
}

bool cowfs_dentry_test_flag(unsigned long flag, struct dentry *dentry)
{
	return test_bit(flag, (unsigned long *)&dentry->d_fsdata);
}
