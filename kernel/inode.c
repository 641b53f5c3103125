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
#include <linux/fileattr.h>
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
	struct mnt_idmap *idmap;
	struct inode *realinode = cowfs_inode_real_idmap(inode, &idmap);

	if (!realinode)
		return;

	/* The owners as the layer's mount shows them (idmapped layers) */
	inode->i_uid = vfsuid_into_kuid(i_uid_into_vfsuid(idmap, realinode));
	inode->i_gid = vfsgid_into_kgid(i_gid_into_vfsgid(idmap, realinode));
	inode->i_mode = realinode->i_mode;
	inode_set_atime_to_ts(inode, inode_get_atime(realinode));
	inode_set_mtime_to_ts(inode, inode_get_mtime(realinode));
	inode_set_ctime_to_ts(inode, inode_get_ctime(realinode));
	i_size_write(inode, i_size_read(realinode));
	inode_set_flags(inode, realinode->i_flags & COWFS_COPY_I_FLAGS_MASK,
			COWFS_COPY_I_FLAGS_MASK);
	/* An indexed file counts the union's names (index.c), not the entry's */
	if (!S_ISDIR(inode->i_mode) &&
	    !test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags))
		set_nlink(inode, realinode->i_nlink);
}

/*
 * The union's st_ino (and readdir's d_ino) of @inode: its origin's, so that
 * a copy-up does not change it, except for a copied-up name of a lower file
 * that has others.  Without an index each name is copied up alone, and is
 * a file of its own from then on: sharing the lower file's number would
 * make tar or rsync -H take it for a hard link of the others (overlayfs's
 * rule too).  With the index (index=on) they stay one file.
 *
 * With userxattr, origins are never decoded, so a name linked to a
 * copied-up file finds no lower file after a remount and shows the upper
 * file's number: then every name shows it, or tar and rsync -H would take
 * the names for two files.
 */
u64 cowfs_inode_ino(struct inode *inode)
{
	struct dentry *upper = cowfs_upperdentry(inode);
	struct cowfs_entry *oe = COWFS_I(inode)->oe;

	if (upper && cowfs_numlower(oe) && !S_ISDIR(inode->i_mode) &&
	    !test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags) &&
	    (d_inode(oe->lowerstack[0].dentry)->i_nlink > 1 ||
	     (COWFS_FS(inode->i_sb)->config.userxattr &&
	      d_inode(upper)->i_nlink > 1)))
		return cowfs_map_ino(inode->i_sb, cowfs_upper_layer(inode),
				     d_inode(upper)->i_ino);
	return inode->i_ino;
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
	stat->ino = cowfs_inode_ino(inode);

	/* The link count of a merged directory is unknown, as on overlayfs */
	if (cowfs_dir_is_merged(inode))
		stat->nlink = 1;
	/* An indexed file's is the union's, without the index entry's link */
	else if (test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags))
		stat->nlink = inode->i_nlink;

	/*
	 * A metacopy file's blocks are its data's, as on overlayfs.  A
	 * partial file's data is mostly its lower file's: the more of the
	 * two, so that it does not look sparse (cp would seek for holes).
	 */
	if ((request_mask & STATX_BLOCKS) &&
	    (cowfs_is_metacopy(inode) || cowfs_is_partial(inode))) {
		struct kstat datastat;

		if (cowfs_is_partial(inode))
			cowfs_path_lower(dentry, &realpath);
		else
			cowfs_path_realdata(dentry, &realpath);
		old_cred = cowfs_override_creds(dentry->d_sb);
		err = cowfs_do_getattr(&realpath, &datastat, STATX_BLOCKS,
				       flags);
		cowfs_revert_creds(old_cred);
		if (err)
			return err;
		if (cowfs_is_partial(inode))
			stat->blocks = max(stat->blocks, datastat.blocks);
		else
			stat->blocks = datastat.blocks;
	}
	return 0;
}

int cowfs_permission(struct mnt_idmap *idmap, struct inode *inode, int mask)
{
	struct mnt_idmap *real_idmap;
	struct inode *realinode = cowfs_inode_real_idmap(inode, &real_idmap);
	const struct cred *old_cred;
	int err;

	/* Careful in RCU walk: the inode may be on its way out */
	if (!realinode)
		return -ECHILD;

	/* The caller's rights, on the attributes the union shows */
	err = generic_permission(&nop_mnt_idmap, inode, mask);
	if (err)
		return err;

	/* The mounter's rights, on the real object */
	old_cred = cowfs_override_creds(inode->i_sb);
	/* A write to a lower file copies it up: the mounter must read it */
	if (realinode != cowfs_inode_upper(inode) &&
	    !special_file(realinode->i_mode) && (mask & MAY_WRITE)) {
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

struct posix_acl *cowfs_get_inode_acl(struct inode *inode, int type, bool rcu)
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

struct posix_acl *cowfs_get_acl(struct mnt_idmap *idmap,
				struct dentry *dentry, int type)
{
	const struct cred *old_cred;
	struct posix_acl *acl;
	struct path realpath;

	if (!IS_POSIXACL(d_inode(dentry)))
		return NULL;

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	acl = cowfs_do_get_acl(&realpath, posix_acl_xattr_name(type));
	cowfs_revert_creds(old_cred);
	return acl;
}

int cowfs_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct posix_acl *acl, int type)
{
	const struct cowfs_layer *layer;
	const struct cred *old_cred;
	struct dentry *upper;
	int err;

	if (!IS_POSIXACL(d_inode(dentry)))
		return -EOPNOTSUPP;

	/* Into the upper file as it is, as cowfs_other_xattr_set() */
	if (!cowfs_dentry_upper(dentry)) {
		err = cowfs_copy_up(dentry);
		if (err)
			return err;
	}

	upper = cowfs_dentry_upper(dentry);
	layer = cowfs_upper_layer(d_inode(dentry));
	err = cowfs_want_write(layer);
	if (err)
		return err;
	old_cred = cowfs_override_creds(dentry->d_sb);
	if (acl)
		err = cowfs_do_set_acl(layer, upper, posix_acl_xattr_name(type),
				       acl);
	else
		err = cowfs_do_remove_acl(layer, upper,
					  posix_acl_xattr_name(type));
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);

	/* The upper's own cached ACL is what counts from now on */
	forget_all_cached_acls(d_inode(dentry));
	cowfs_copyattr(d_inode(dentry));
	return err;
}

/*
 * chmod, chown, utimes and truncate: copy up (without data when the file
 * is truncated to nothing; with metacopy=on, with data only to truncate),
 * then change the upper object.
 */
int cowfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	const struct cowfs_layer *layer;
	const struct cred *old_cred;
	struct dentry *upper;
	int err;

	err = setattr_prepare(&nop_mnt_idmap, dentry, attr);
	if (err)
		return err;

	if ((attr->ia_valid & ATTR_SIZE) && d_is_reg(dentry)) {
		int flags = O_WRONLY;

		if (!attr->ia_size && (!cowfs_dentry_upper(dentry) ||
				       !cowfs_has_upperdata(inode))) {
			/*
			 * Copied up empty, the file no longer changes size
			 * below: change its times as the truncate would have.
			 */
			if (i_size_read(inode))
				attr->ia_valid |= ATTR_MTIME | ATTR_CTIME;
			flags |= O_TRUNC;
		}
		err = cowfs_copy_up_flags(dentry, flags);
		/* A size change of two files: make it one first (partial.c) */
		if (!err)
			err = cowfs_partial_complete(inode);
	} else {
		err = cowfs_copy_up(dentry);
	}
	if (err)
		return err;

	/*
	 * The real file system gets no file of ours, and no ATTR_OPEN: we
	 * never passed it O_TRUNC.  It clears setuid bits itself.
	 */
	attr->ia_valid &= ~(ATTR_FILE | ATTR_OPEN);
	if (attr->ia_valid & (ATTR_KILL_SUID | ATTR_KILL_SGID))
		attr->ia_valid &= ~ATTR_MODE;

	/* The union's upper layer, or the volume the object is in */
	upper = cowfs_dentry_upper(dentry);
	layer = cowfs_upper_layer(inode);
	err = cowfs_want_write(layer);
	if (err)
		return err;
	inode_lock(d_inode(upper));
	old_cred = cowfs_override_creds(dentry->d_sb);
	err = cowfs_do_notify_change(layer, upper, attr);
	cowfs_revert_creds(old_cred);
	inode_unlock(d_inode(upper));
	cowfs_drop_write(layer);
	if (!err)
		cowfs_copyattr(inode);
	return err;
}

/* atime: the real object's is what getattr shows */
int cowfs_update_time(struct inode *inode, int flags)
{
	if (flags & S_ATIME) {
		struct dentry *upper = cowfs_upperdentry(inode);
		struct path realpath = {
			.mnt = cowfs_upper_layer(inode)->mnt,
			.dentry = upper,
		};

		if (upper) {
			touch_atime(&realpath);
			cowfs_copyattr(inode);
		}
	}
	return 0;
}

static int cowfs_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
			u64 start, u64 len)
{
	struct inode *realinode;
	const struct cred *old_cred;
	int err;

	/*
	 * A partial file's data is in two files: no extent map says that.
	 * SEEK_DATA and SEEK_HOLE do, and cp falls back to them.
	 */
	if (cowfs_is_partial(inode))
		return -EOPNOTSUPP;
	realinode = cowfs_inode_realdata(inode);
	if (!realinode || !realinode->i_op->fiemap)
		return -EOPNOTSUPP;

	old_cred = cowfs_override_creds(inode->i_sb);
	err = realinode->i_op->fiemap(realinode, fieinfo, start, len);
	cowfs_revert_creds(old_cred);
	return err;
}

int cowfs_fileattr_get(struct dentry *dentry, struct fileattr *fa)
{
	const struct cred *old_cred;
	struct path realpath;
	int err;

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	err = vfs_fileattr_get(realpath.dentry, fa);
	cowfs_revert_creds(old_cred);
	return err;
}

int cowfs_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
		       struct fileattr *fa)
{
	const struct cowfs_layer *layer;
	const struct cred *old_cred;
	int err;

	err = cowfs_copy_up(dentry);
	if (err)
		return err;

	layer = cowfs_upper_layer(d_inode(dentry));
	err = cowfs_want_write(layer);
	if (err)
		return err;
	old_cred = cowfs_override_creds(dentry->d_sb);
	err = cowfs_do_fileattr_set(layer, cowfs_dentry_upper(dentry), fa);
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);
	cowfs_copyattr(d_inode(dentry));
	return err;
}

static const struct inode_operations cowfs_file_inode_operations = {
	.permission	= cowfs_permission,
	.getattr	= cowfs_getattr,
	.setattr	= cowfs_setattr,
	.listxattr	= cowfs_listxattr,
	.get_inode_acl	= cowfs_get_inode_acl,
	.get_acl	= cowfs_get_acl,
	.set_acl	= cowfs_set_acl,
	.update_time	= cowfs_update_time,
	.fiemap		= cowfs_fiemap,
	.fileattr_get	= cowfs_fileattr_get,
	.fileattr_set	= cowfs_fileattr_set,
};

static const struct inode_operations cowfs_symlink_inode_operations = {
	.get_link	= cowfs_get_link,
	.getattr	= cowfs_getattr,
	.setattr	= cowfs_setattr,
	.listxattr	= cowfs_listxattr,
	.update_time	= cowfs_update_time,
};

static const struct inode_operations cowfs_special_inode_operations = {
	.permission	= cowfs_permission,
	.getattr	= cowfs_getattr,
	.setattr	= cowfs_setattr,
	.listxattr	= cowfs_listxattr,
	.get_inode_acl	= cowfs_get_inode_acl,
	.get_acl	= cowfs_get_acl,
	.set_acl	= cowfs_set_acl,
	.update_time	= cowfs_update_time,
};

/*
 * A cowfs may stack on another cowfs: give each stacking depth lock
 * classes of its own, or lockdep takes the lower union's directory lock,
 * taken inside the upper union's, for recursive locking (as overlayfs).
 */
static void cowfs_lockdep_annotate_inode(struct inode *inode)
{
#ifdef CONFIG_LOCKDEP
	static struct lock_class_key cowfs_i_mutex_key[FILESYSTEM_MAX_STACK_DEPTH];
	static struct lock_class_key cowfs_i_mutex_dir_key[FILESYSTEM_MAX_STACK_DEPTH];
	static struct lock_class_key cowfs_i_lock_key[FILESYSTEM_MAX_STACK_DEPTH];
	int depth = inode->i_sb->s_stack_depth - 1;

	if (WARN_ON_ONCE(depth < 0 || depth >= FILESYSTEM_MAX_STACK_DEPTH))
		depth = 0;

	if (S_ISDIR(inode->i_mode))
		lockdep_set_class(&inode->i_rwsem, &cowfs_i_mutex_dir_key[depth]);
	else
		lockdep_set_class(&inode->i_rwsem, &cowfs_i_mutex_key[depth]);
	lockdep_set_class(&COWFS_I(inode)->lock, &cowfs_i_lock_key[depth]);
#endif
}

static void cowfs_fill_inode(struct inode *inode,
			     const struct cowfs_layer *upper_layer,
			     struct dentry *upperdentry, struct cowfs_entry *oe,
			     unsigned long iflags)
{
	struct inode *realinode;

	/* Before the upper object shows: see cowfs_path_realdata() */
	COWFS_I(inode)->flags |= iflags;
	COWFS_I(inode)->oe = oe;
	COWFS_I(inode)->__upperdentry = upperdentry;
	COWFS_I(inode)->upper_layer = upper_layer;
	realinode = cowfs_inode_real(inode);

	/*
	 * st_ino is the origin's: the lower object's when there is one, so
	 * that it does not change when the object is copied up.
	 */
	if (cowfs_numlower(oe))
		inode->i_ino = cowfs_map_ino(inode->i_sb, oe->lowerstack[0].layer,
					     d_inode(oe->lowerstack[0].dentry)->i_ino);
	else
		inode->i_ino = cowfs_map_ino(inode->i_sb, upper_layer,
					     realinode->i_ino);
	inode->i_mode = realinode->i_mode;
	/* Times are the real object's: never update our copy on our own */
	inode->i_flags |= S_NOCMTIME;
	cowfs_copyattr(inode);
	cowfs_lockdep_annotate_inode(inode);

	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &cowfs_file_inode_operations;
		inode->i_fop = &cowfs_file_operations;
		break;
	case S_IFDIR:
		inode->i_op = &cowfs_dir_inode_operations;
		inode->i_fop = &cowfs_dir_operations;
		set_nlink(inode, cowfs_dir_is_merged(inode) ? 1 :
			  realinode->i_nlink);
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

struct cowfs_inode_key {
	struct inode *key;
	const struct cowfs_layer *upper_layer;
	struct dentry *upperdentry;
	struct cowfs_entry *oe;
	unsigned long iflags;
	struct cowfs_partial *partial;
};

/* Non-directories are hashed by their origin: lower if any, else upper. */
static struct inode *cowfs_inode_hashkey(struct inode *inode)
{
	struct cowfs_entry *oe = COWFS_I(inode)->oe;

	if (cowfs_numlower(oe))
		return d_inode(oe->lowerstack[0].dentry);
	return cowfs_inode_upper(inode);
}

static int cowfs_inode_test(struct inode *inode, void *data)
{
	struct cowfs_inode_key *k = data;

	return cowfs_inode_hashkey(inode) == k->key;
}

static int cowfs_inode_set(struct inode *inode, void *data)
{
	struct cowfs_inode_key *k = data;

	/* Under inode_hash_lock: cowfs_inode_test() may see us from now on */
	COWFS_I(inode)->flags |= k->iflags;
	COWFS_I(inode)->partial = k->partial;
	COWFS_I(inode)->oe = k->oe;
	COWFS_I(inode)->__upperdentry = k->upperdentry;
	COWFS_I(inode)->upper_layer = k->upper_layer;
	return 0;
}

/*
 * Whether the cowfs inode can be shared by every name of the real one.
 * Directories have one name.  Without an index a hard-linked lower file is
 * copied up per name, so its names must not share a cowfs inode once they
 * can be written; st_ino still tells they were one file.  With the index
 * they do, copied up or not, unless a name was copied up without it
 * (overlayfs's ovl_hash_bylower()).
 */
static bool cowfs_hash_inode(struct super_block *sb, struct inode *realinode,
			     struct dentry *upperdentry, struct cowfs_entry *oe,
			     unsigned long iflags)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);

	if (S_ISDIR(realinode->i_mode))
		return false;
	if (!cowfs_numlower(oe) || !cowfs_has_upper(ofs) ||
	    (iflags & BIT(COWFS_I_INDEX)))
		return true;
	if (upperdentry || !ofs->indexdir)
		return d_inode(oe->lowerstack[0].dentry)->i_nlink == 1;
	return true;
}

/*
 * Return the cowfs inode for @upperdentry (in @upper_layer, where it goes
 * when copied up if there is none yet) and the lower objects in @oe,
 * taking ownership of both: they are installed in a new inode or dropped.
 * @iflags, bits of enum cowfs_inode_flag: COWFS_I_METACOPY, @upperdentry
 * is a metacopy file, its data the last of @oe; COWFS_I_INDEX, it is the
 * index entry of the first of @oe; COWFS_I_PARTIAL, it holds the granules
 * @partial says (taken too).
 */
struct inode *cowfs_get_inode(struct super_block *sb,
			      const struct cowfs_layer *upper_layer,
			      struct dentry *upperdentry,
			      struct cowfs_entry *oe, unsigned long iflags,
			      struct cowfs_partial *partial)
{
	struct cowfs_inode_key k = {
		.upper_layer = upper_layer,
		.upperdentry = upperdentry,
		.oe = oe,
		.iflags = iflags,
		.partial = partial,
	};
	struct inode *realinode;
	struct inode *inode;

	realinode = upperdentry ? d_inode(upperdentry) :
				  d_inode(oe->lowerstack[0].dentry);
	k.key = cowfs_numlower(oe) ? d_inode(oe->lowerstack[0].dentry) :
				     realinode;

	if (!cowfs_hash_inode(sb, realinode, upperdentry, oe, iflags)) {
		inode = new_inode(sb);
		if (!inode)
			goto out_nomem;
		COWFS_I(inode)->partial = partial;
		cowfs_fill_inode(inode, upper_layer, upperdentry, oe, iflags);
		return inode;
	}

	inode = iget5_locked(sb, (unsigned long)k.key, cowfs_inode_test,
			     cowfs_inode_set, &k);
	if (!inode)
		goto out_nomem;

	if (!(inode->i_state & I_NEW)) {
		/*
		 * Already in the union, e.g. another link to the same file.
		 * It must be the same object: layers with crafted origins
		 * may claim otherwise, and one inode must not stand for
		 * objects of two types, or for two upper objects.  (A lower
		 * alias of a copied-up file comes without an upper object.
		 * Copy-up publishes its upper object before the name shows
		 * in the upper layer.)
		 */
		struct inode *upperinode = cowfs_inode_upper(inode);
		int err = 0;

		if (inode_wrong_type(inode, realinode->i_mode) ||
		    (upperdentry && upperinode != d_inode(upperdentry))) {
			pr_warn_ratelimited("two objects claim one origin (ino %lu): refused\n",
					    realinode->i_ino);
			err = -ESTALE;
		}
		dput(upperdentry);
		cowfs_free_entry(oe);
		cowfs_partial_free(partial);
		if (err) {
			iput(inode);
			return ERR_PTR(err);
		}
		return inode;
	}

	cowfs_fill_inode(inode, upper_layer, upperdentry, oe, iflags);
	if (iflags & BIT(COWFS_I_INDEX))
		set_nlink(inode, cowfs_get_nlink(COWFS_FS(sb),
						 oe->lowerstack[0].dentry,
						 upperdentry, realinode->i_nlink));
	unlock_new_inode(inode);
	return inode;

out_nomem:
	dput(upperdentry);
	cowfs_free_entry(oe);
	cowfs_partial_free(partial);
	return ERR_PTR(-ENOMEM);
}

/* The inode for an object just made in @upper_layer. */
struct inode *cowfs_new_inode(struct super_block *sb,
			      const struct cowfs_layer *upper_layer,
			      struct dentry *upperdentry)
{
	return cowfs_get_inode(sb, upper_layer, dget(upperdentry), NULL, 0,
			       NULL);
}
