// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: inodes, attributes and permission.
 *
 * A cowfs inode mirrors the attributes of the real object it stands for.
 * Non-directories are hashed by their real inode, so hard links within a
 * layer stay hard links in the union; directories are not hashed, since a
 * merged directory has no single real inode to key on.
 */
#include <linux/cred.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/slab.h>

#include "cowfs.h"

/* Flags the real inode imposes on every access through the union. */
#define COWFS_COPY_I_FLAGS_MASK (S_SYNC | S_NOATIME | S_APPEND | S_IMMUTABLE)

void cowfs_copyattr(struct inode *inode)
{
	struct inode *realinode = cowfs_inode_real(inode);

	if (!realinode)
		return;

	inode->i_uid = realinode->i_uid;
	inode->i_gid = realinode->i_gid;
	inode->i_mode = realinode->i_mode;
	inode_set_atime_to_ts(inode, inode_get_atime(realinode));
	inode_set_mtime_to_ts(inode, inode_get_mtime(realinode));
	inode_set_ctime_to_ts(inode, inode_get_ctime(realinode));
	i_size_write(inode, i_size_read(realinode));
	inode_set_flags(inode, realinode->i_flags & COWFS_COPY_I_FLAGS_MASK,
			COWFS_COPY_I_FLAGS_MASK);
	if (!S_ISDIR(inode->i_mode))
		set_nlink(inode, realinode->i_nlink);
}

int cowfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct dentry *dentry = path->dentry;
	struct inode *inode = d_inode(dentry);
	const struct cred *old_cred;
	struct path realpath;
	int err;

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	err = cowfs_do_getattr(&realpath, stat, request_mask, flags);
	cowfs_revert_creds(old_cred);
	if (err)
		return err;

	/*
	 * One device for the whole union, and inode numbers made unique
	 * across layer filesystems (see cowfs_map_ino()).
	 */
	stat->dev = dentry->d_sb->s_dev;
	stat->ino = inode->i_ino;

	/* The link count of a merged directory is unknown, as on overlayfs */
	if (cowfs_dir_is_merged(inode))
		stat->nlink = 1;

	return 0;
}

int cowfs_permission(struct mnt_idmap *idmap, struct inode *inode, int mask)
{
	struct inode *realinode = cowfs_inode_real(inode);
	const struct cred *old_cred;
	struct mnt_idmap *real_idmap;
	int err;

	/* Careful in RCU walk: the inode may be on its way out */
	if (!realinode)
		return -ECHILD;

	/* The caller's rights, on the attributes the union shows */
	err = generic_permission(&nop_mnt_idmap, inode, mask);
	if (err)
		return err;

	/* The mounter's rights, on the real object */
	real_idmap = mnt_idmap(COWFS_I(inode)->oe->lowerstack[0].layer->mnt);
	old_cred = cowfs_override_creds(inode->i_sb);
	if (!special_file(realinode->i_mode) && (mask & MAY_WRITE)) {
		/* Lower layers are never written through the union */
		mask &= ~(MAY_WRITE | MAY_APPEND);
		mask |= MAY_READ;
	}
	err = inode_permission(real_idmap, realinode, mask);
	cowfs_revert_creds(old_cred);

	return err;
}

static const char *cowfs_get_link(struct dentry *dentry, struct inode *inode,
				  struct delayed_call *done)
{
	const struct cred *old_cred;
	struct path realpath;
	const char *p;

	if (!dentry)
		return ERR_PTR(-ECHILD);

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	p = vfs_get_link(realpath.dentry, done);
	cowfs_revert_creds(old_cred);
	return p;
}

static struct posix_acl *cowfs_get_inode_acl(struct inode *inode, int type,
					     bool rcu)
{
	struct inode *realinode = cowfs_inode_real(inode);
	const struct cred *old_cred;
	struct posix_acl *acl;

	if (!realinode || !IS_POSIXACL(realinode))
		return NULL;

	if (rcu)
		return get_cached_acl_rcu(realinode, type);

	old_cred = cowfs_override_creds(inode->i_sb);
	acl = get_inode_acl(realinode, type);
	cowfs_revert_creds(old_cred);
	return acl;
}

static struct posix_acl *cowfs_get_acl(struct mnt_idmap *idmap,
				       struct dentry *dentry, int type)
{
	const struct cred *old_cred;
	struct posix_acl *acl;
	struct path realpath;

	if (!IS_POSIXACL(d_inode(dentry)))
		return NULL;

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	acl = vfs_get_acl(mnt_idmap(realpath.mnt), realpath.dentry,
			  posix_acl_xattr_name(type));
	cowfs_revert_creds(old_cred);
	return acl;
}

static int cowfs_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
			u64 start, u64 len)
{
	struct inode *realinode = cowfs_inode_real(inode);
	const struct cred *old_cred;
	int err;

	if (!realinode || !realinode->i_op->fiemap)
		return -EOPNOTSUPP;

	old_cred = cowfs_override_creds(inode->i_sb);
	err = realinode->i_op->fiemap(realinode, fieinfo, start, len);
	cowfs_revert_creds(old_cred);
	return err;
}

const struct inode_operations cowfs_dir_inode_operations = {
	.lookup		= cowfs_lookup,
	.permission	= cowfs_permission,
	.getattr	= cowfs_getattr,
	.listxattr	= cowfs_listxattr,
	.get_inode_acl	= cowfs_get_inode_acl,
	.get_acl	= cowfs_get_acl,
};

static const struct inode_operations cowfs_file_inode_operations = {
	.permission	= cowfs_permission,
	.getattr	= cowfs_getattr,
	.listxattr	= cowfs_listxattr,
	.get_inode_acl	= cowfs_get_inode_acl,
	.get_acl	= cowfs_get_acl,
	.fiemap		= cowfs_fiemap,
};

static const struct inode_operations cowfs_symlink_inode_operations = {
	.get_link	= cowfs_get_link,
	.getattr	= cowfs_getattr,
	.listxattr	= cowfs_listxattr,
};

static const struct inode_operations cowfs_special_inode_operations = {
	.permission	= cowfs_permission,
	.getattr	= cowfs_getattr,
	.listxattr	= cowfs_listxattr,
	.get_inode_acl	= cowfs_get_inode_acl,
	.get_acl	= cowfs_get_acl,
};

static void cowfs_fill_inode(struct inode *inode, struct cowfs_entry *oe)
{
	const struct cowfs_path *top = &oe->lowerstack[0];
	struct inode *realinode = d_inode(top->dentry);

	COWFS_I(inode)->oe = oe;
	inode->i_ino = cowfs_map_ino(inode->i_sb, top->layer, realinode->i_ino);
	inode->i_mode = realinode->i_mode;
	/* Times are the real object's: never update our copy on our own */
	inode->i_flags |= S_NOCMTIME;
	cowfs_copyattr(inode);

	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &cowfs_file_inode_operations;
		inode->i_fop = &cowfs_file_operations;
		break;
	case S_IFDIR:
		inode->i_op = &cowfs_dir_inode_operations;
		inode->i_fop = &cowfs_dir_operations;
		set_nlink(inode, cowfs_numlower(oe) > 1 ? 1 : realinode->i_nlink);
		break;
	case S_IFLNK:
		inode->i_op = &cowfs_symlink_inode_operations;
		break;
	default:
		inode->i_op = &cowfs_special_inode_operations;
		init_special_inode(inode, inode->i_mode, realinode->i_rdev);
		break;
	}
}

static int cowfs_inode_test(struct inode *inode, void *data)
{
	struct cowfs_entry *oe = data;

	return cowfs_inode_real(inode) == d_inode(oe->lowerstack[0].dentry);
}

static int cowfs_inode_set(struct inode *inode, void *data)
{
	/* Under inode_hash_lock: cowfs_inode_test() may see us from now on */
	COWFS_I(inode)->oe = data;
	return 0;
}

/*
 * Return the cowfs inode for the real objects in @oe, taking ownership of
 * @oe: it is either installed in a new inode or freed.
 */
struct inode *cowfs_get_inode(struct super_block *sb, struct cowfs_entry *oe)
{
	struct inode *realinode = d_inode(oe->lowerstack[0].dentry);
	struct inode *inode;

	if (S_ISDIR(realinode->i_mode)) {
		inode = new_inode(sb);
		if (!inode)
			goto out_nomem;
		cowfs_fill_inode(inode, oe);
		return inode;
	}

	inode = iget5_locked(sb, (unsigned long)realinode, cowfs_inode_test,
			     cowfs_inode_set, oe);
	if (!inode)
		goto out_nomem;

	if (!(inode->i_state & I_NEW)) {
		/* Already in the union, e.g. another link to the same file */
		cowfs_free_entry(oe);
		return inode;
	}

	cowfs_fill_inode(inode, oe);
	unlock_new_inode(inode);
	return inode;

out_nomem:
	cowfs_free_entry(oe);
	return ERR_PTR(-ENOMEM);
}
