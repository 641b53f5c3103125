// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: changing the namespace of a union.
 *
 * Every change happens in the upper layer, after the parent directories
 * have been copied up.  What a lower layer holds is hidden, never touched:
 *  - removing or renaming away a name that a lower layer has leaves a
 *    whiteout (a 0/0 character device) in its place;
 *  - creating over a whiteout builds the object in workdir and renames it
 *    over the whiteout, so the name is never missing or half made; a
 *    directory made there is opaque (trusted.overlay.opaque=y);
 *  - a directory with lower contents is renamed in the upper layer and
 *    records where its lower contents are in trusted.overlay.redirect.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/posix_acl.h>
#include <linux/security.h>
#include <linux/slab.h>

#include "cowfs.h"

struct cowfs_cattr {
	umode_t mode;
	dev_t rdev;
	const char *link;
	/* link(2): the upper object to link to */
	struct dentry *hardlink;
};

/*
 * Creation is done with the mounter's capabilities but the caller's fsuid
 * and fsgid, so that new objects belong to whoever made them.
 */
static const struct cred *cowfs_override_creds_as_caller(struct super_block *sb,
							 struct inode *dir)
{
	kuid_t fsuid = current_fsuid();
	kgid_t fsgid = current_fsgid();
	const struct cred *old_cred;
	struct cred *cred;

	old_cred = cowfs_override_creds(sb);
	cred = prepare_creds();
	if (!cred) {
		cowfs_revert_creds(old_cred);
		return ERR_PTR(-ENOMEM);
	}
	cred->fsuid = fsuid;
	cred->fsgid = fsgid;
	/* Nests inside the mounter's: both are reverted by the caller */
	put_cred(override_creds(cred));
	put_cred(cred);
	return old_cred;
}

static void cowfs_revert_creds_as_caller(const struct cred *old_cred)
{
	cowfs_revert_creds(old_cred);
}

/* Make the object in directory @dir of @layer. */
static int cowfs_create_real(const struct cowfs_layer *layer, struct inode *dir,
			     struct dentry *newdentry, struct cowfs_cattr *attr)
{
	if (attr->hardlink)
		return cowfs_do_link(layer, attr->hardlink, dir, newdentry);

	switch (attr->mode & S_IFMT) {
	case S_IFREG:
		return cowfs_do_create(layer, dir, newdentry, attr->mode);
	case S_IFDIR:
		return cowfs_do_mkdir(layer, dir, newdentry, attr->mode);
	case S_IFLNK:
		return cowfs_do_symlink(layer, dir, newdentry, attr->link);
	default:
		return cowfs_do_mknod(layer, dir, newdentry, attr->mode,
				      attr->rdev);
	}
}

/*
 * Whether a lower layer has something at @dentry's name: removing it then
 * needs a whiteout, or the lower object would show through.
 */
static bool cowfs_lower_positive(struct dentry *dentry)
{
	struct cowfs_entry *poe = COWFS_E(dentry->d_parent);
	const struct cred *old_cred;
	bool positive = false;
	unsigned int i;

	/* Only in a lower layer: certainly there */
	if (d_inode(dentry) && !cowfs_dentry_upper(dentry))
		return true;
	/*
	 * In the upper layer, or whited out: ask the layers below by name.
	 * (A copied-up object's lower origin may have been elsewhere.)
	 * Opaque parents have no lower stack: nothing to look at.
	 */
	old_cred = cowfs_override_creds(dentry->d_sb);
	for (i = 0; i < cowfs_numlower(poe); i++) {
		struct dentry *this;

		this = cowfs_do_lookup(poe->lowerstack[i].layer,
				       dentry->d_name.name,
				       poe->lowerstack[i].dentry,
				       dentry->d_name.len);
		if (IS_ERR(this)) {
			/* Unsure: a superfluous whiteout hides nothing */
			positive = PTR_ERR(this) != -ENOENT &&
				   PTR_ERR(this) != -ENAMETOOLONG;
			if (positive)
				break;
			continue;
		}
		if (d_is_positive(this)) {
			positive = !cowfs_is_whiteout(this);
			dput(this);
			break;
		}
		dput(this);
	}
	cowfs_revert_creds(old_cred);
	return positive;
}

/*
 * One name of @inode is gone.  The count mirrors the real object's, which
 * may already be 0 when a lower layer was changed under the live union
 * (its file unlinked there): don't go below that.
 */
static void cowfs_drop_nlink(struct inode *inode, bool is_dir)
{
	if (is_dir)
		clear_nlink(inode);
	else if (inode->i_nlink)
		drop_nlink(inode);
}

/*
 * The last upper name of non-directory @inode went (the upper file has no
 * link left), but a lower name may still show the inode: one that a
 * crafted origin, or a redirect in a lower layer, made an alias of the
 * copied-up file.  Such a name is its lower file again: forget the inode
 * and unhash its dentries, so that they are looked up afresh rather than
 * show a file with no links.  (An indexed file's entry keeps it linked.)
 */
static void cowfs_forget_upper(struct inode *inode)
{
	struct inode *upper = cowfs_inode_upper(inode);
	struct dentry *alias;

	if (!upper || upper->i_nlink || S_ISDIR(inode->i_mode) ||
	    !cowfs_numlower(COWFS_I(inode)->oe) ||
	    test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags))
		return;
	remove_inode_hash(inode);
	spin_lock(&inode->i_lock);
	hlist_for_each_entry(alias, &inode->i_dentry, d_u.d_alias)
		d_drop(alias);
	spin_unlock(&inode->i_lock);
}

static void cowfs_instantiate(struct dentry *dentry, struct inode *inode,
			      bool opaque)
{
	if (opaque)
		cowfs_dentry_set_flag(COWFS_E_OPAQUE, dentry);
	else
		cowfs_dentry_clear_flag(COWFS_E_OPAQUE, dentry);
	cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, dentry);
	d_instantiate(dentry, inode);
}

static void cowfs_unlock_upper(struct cowfs_fs *ofs, struct dentry *upperdir,
			       bool with_workdir)
{
	if (with_workdir)
		unlock_rename(ofs->workdir, upperdir);
	else
		inode_unlock(d_inode(upperdir));
}

/*
 * Lock upper directory @upperdir of @layer, and workdir with it when
 * @with_workdir, and look @name up in it.
 */
static int cowfs_lock_upper(struct cowfs_fs *ofs,
			    const struct cowfs_layer *layer,
			    struct dentry *upperdir, const struct qstr *name,
			    bool with_workdir, struct dentry **upper)
{
	struct dentry *trap;

	/*
	 * workdir is the union's upper layer's: a volume's objects never
	 * move through it, even when the volume shares its filesystem
	 * (callers handle a volume's 0/0 devices in place).
	 */
	if (WARN_ON_ONCE(with_workdir && layer != &ofs->layers[0]))
		return -EXDEV;

	if (with_workdir) {
		trap = lock_rename(ofs->workdir, upperdir);
		if (trap) {
			if (IS_ERR(trap))
				return -EXDEV;
			unlock_rename(ofs->workdir, upperdir);
			return -EIO;
		}
	} else {
		inode_lock_nested(d_inode(upperdir), I_MUTEX_PARENT);
	}

	*upper = cowfs_do_lookup_locked(layer, name->name, upperdir, name->len);
	if (IS_ERR(*upper)) {
		int err = PTR_ERR(*upper);

		cowfs_unlock_upper(ofs, upperdir, with_workdir);
		return err;
	}
	return 0;
}

/*
 * A 0/0 character device below a volume's root hides nothing, since a
 * volume has no layers below it, and workdir is not the volume's: remove
 * it in place from locked @upperdir of @layer and look @name up again.
 */
static int cowfs_remove_stray_whiteout(const struct cowfs_layer *layer,
				       struct dentry *upperdir,
				       const struct qstr *name,
				       struct dentry **upper)
{
	int err = cowfs_do_unlink(layer, d_inode(upperdir), *upper);

	dput(*upper);
	*upper = NULL;
	if (err)
		return err;
	*upper = cowfs_do_lookup_locked(layer, name->name, upperdir, name->len);
	if (IS_ERR(*upper)) {
		err = PTR_ERR(*upper);
		*upper = NULL;
	}
	return err;
}

/*
 * Make the object in workdir and rename it over the whiteout at @upper,
 * all on the union's upper layer.
 */
static struct dentry *cowfs_create_over_whiteout(struct cowfs_fs *ofs,
						 struct dentry *upperdir,
						 struct dentry *upper,
						 struct cowfs_cattr *attr)
{
	const struct cowfs_layer *layer = &ofs->layers[0];
	struct inode *wdir = d_inode(ofs->workdir);
	struct inode *udir = d_inode(upperdir);
	struct dentry *temp;
	int err;

	temp = cowfs_lookup_temp(ofs, ofs->workdir);
	if (IS_ERR(temp))
		return temp;

	err = cowfs_create_real(layer, wdir, temp, attr);
	if (err)
		goto out_dput;

	if (S_ISDIR(attr->mode)) {
		/* Lower directories of this name were removed: hide them */
		err = cowfs_set_opaque(layer, temp);
		if (!err)
			err = cowfs_do_rename(layer, wdir, temp, udir, upper,
					      RENAME_EXCHANGE);
		/* The whiteout is in workdir now */
		if (!err)
			cowfs_cleanup(layer, wdir, upper);
	} else {
		err = cowfs_do_rename(layer, wdir, temp, udir, upper, 0);
	}
	if (err) {
		cowfs_cleanup(layer, wdir, temp);
		goto out_dput;
	}
	return temp;

out_dput:
	dput(temp);
	return ERR_PTR(err);
}

/*
 * Create @dentry in the upper layer.  For a hard link, @inode is the
 * cowfs inode to link; otherwise a new one is made.
 */
static int cowfs_create_object(struct dentry *dentry, struct inode *inode,
			       struct cowfs_cattr *attr)
{
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	struct dentry *parent = dentry->d_parent;
	struct dentry *upperdir, *upper, *newdentry;
	const struct cowfs_layer *layer;
	const struct cred *old_cred;
	bool with_workdir = false;
	bool opaque = false;
	int err;

	err = cowfs_copy_up(parent);
	if (err)
		return err;

	/* The new object goes where its parent is: upper layer or volume */
	layer = cowfs_upper_layer(d_inode(parent));
	if (attr->hardlink && layer != cowfs_upper_layer(inode))
		return -EXDEV;
	err = cowfs_want_write(layer);
	if (err)
		return err;

	old_cred = cowfs_override_creds_as_caller(dentry->d_sb, d_inode(parent));
	if (IS_ERR(old_cred)) {
		err = PTR_ERR(old_cred);
		goto out_drop_write;
	}

	upperdir = cowfs_dentry_upper(parent);
	err = cowfs_lock_upper(ofs, layer, upperdir, &dentry->d_name, false,
			       &upper);
	if (!err && cowfs_is_whiteout(upper) && layer != &ofs->layers[0]) {
		err = cowfs_remove_stray_whiteout(layer, upperdir,
						  &dentry->d_name, &upper);
		if (err)
			cowfs_unlock_upper(ofs, upperdir, false);
	} else if (!err && cowfs_is_whiteout(upper)) {
		/* Replacing a whiteout takes workdir too: lock again */
		dput(upper);
		cowfs_unlock_upper(ofs, upperdir, false);
		with_workdir = true;
		err = cowfs_lock_upper(ofs, layer, upperdir, &dentry->d_name,
				       true, &upper);
	}
	if (err)
		goto out_revert;

	if (cowfs_is_whiteout(upper)) {
		newdentry = cowfs_create_over_whiteout(ofs, upperdir, upper,
						       attr);
		opaque = S_ISDIR(attr->mode) && !IS_ERR(newdentry);
	} else if (d_is_positive(upper)) {
		/* Something appeared in the upper layer behind our back */
		newdentry = ERR_PTR(-EEXIST);
	} else {
		err = cowfs_create_real(layer, d_inode(upperdir), upper, attr);
		newdentry = err ? ERR_PTR(err) : dget(upper);
		/*
		 * As overlayfs does: a new directory in a merged one is
		 * opaque, so that nothing of the layers below ever shows
		 * through it.
		 */
		if (!err && S_ISDIR(attr->mode) && !attr->hardlink &&
		    cowfs_dir_is_merged(d_inode(parent))) {
			err = cowfs_set_opaque(layer, newdentry);
			if (err) {
				cowfs_cleanup(layer, d_inode(upperdir),
					      newdentry);
				dput(newdentry);
				newdentry = ERR_PTR(err);
			}
			opaque = true;
		}
	}
	dput(upper);
	if (IS_ERR(newdentry)) {
		err = PTR_ERR(newdentry);
		goto out_unlock;
	}
	if (d_is_negative(newdentry)) {
		/* Some file systems leave the new dentry unhashed */
		pr_warn_ratelimited("'%pd2' negative after create\n", newdentry);
		dput(newdentry);
		err = -EIO;
		goto out_unlock;
	}

	if (!inode) {
		inode = cowfs_new_inode(dentry->d_sb, layer, newdentry);
		if (IS_ERR(inode)) {
			err = PTR_ERR(inode);
			goto out_dput;
		}
	} else {
		ihold(inode);
		cowfs_copyattr(inode);
		/* An indexed file's count is the union's (index.c) */
		if (test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags))
			inc_nlink(inode);
	}
	cowfs_instantiate(dentry, inode, opaque);
	cowfs_dir_modified(parent);
	err = 0;
out_dput:
	dput(newdentry);
out_unlock:
	cowfs_unlock_upper(ofs, upperdir, with_workdir);
out_revert:
	cowfs_revert_creds_as_caller(old_cred);
out_drop_write:
	cowfs_drop_write(layer);
	return err;
}

static int cowfs_create(struct mnt_idmap *idmap, struct inode *dir,
			struct dentry *dentry, umode_t mode, bool excl)
{
	struct cowfs_cattr attr = { .mode = (mode & 07777) | S_IFREG };

	return cowfs_create_object(dentry, NULL, &attr);
}

static int cowfs_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode)
{
	struct cowfs_cattr attr = { .mode = (mode & 07777) | S_IFDIR };

	return cowfs_create_object(dentry, NULL, &attr);
}

static int cowfs_mknod(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode, dev_t rdev)
{
	struct cowfs_cattr attr = { .mode = mode, .rdev = rdev };

	/* A 0/0 character device would be taken for a whiteout */
	if (S_ISCHR(mode) && rdev == WHITEOUT_DEV)
		return -EPERM;

	return cowfs_create_object(dentry, NULL, &attr);
}

static int cowfs_symlink(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *dentry, const char *link)
{
	struct cowfs_cattr attr = { .mode = S_IFLNK | 0777, .link = link };

	return cowfs_create_object(dentry, NULL, &attr);
}

static int cowfs_tmpfile(struct mnt_idmap *idmap, struct inode *dir,
			 struct file *file, umode_t mode)
{
	struct dentry *dentry = file->f_path.dentry;
	const struct cowfs_layer *layer;
	const struct cred *old_cred;
	struct file *realfile;
	struct inode *inode;
	int err;

	err = cowfs_copy_up(dentry->d_parent);
	if (err)
		return err;

	layer = cowfs_upper_layer(dir);
	err = cowfs_want_write(layer);
	if (err)
		return err;

	old_cred = cowfs_override_creds_as_caller(dir->i_sb, dir);
	if (IS_ERR(old_cred)) {
		err = PTR_ERR(old_cred);
		goto out_drop_write;
	}
	realfile = cowfs_do_tmpfile(layer, cowfs_dentry_upper(dentry->d_parent),
				    mode, file->f_flags, current_cred());
	cowfs_revert_creds_as_caller(old_cred);
	if (IS_ERR(realfile)) {
		err = PTR_ERR(realfile);
		goto out_drop_write;
	}

	inode = cowfs_new_inode(dir->i_sb, layer, realfile->f_path.dentry);
	fput(realfile);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_drop_write;
	}
	/* The real tmpfile has no link already: don't drop one more */
	d_mark_tmpfile(file, inode);
	/* Its one name, for linkat(), is the real tmpfile's */
	cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, dentry);
	d_instantiate(dentry, inode);
	err = finish_open_simple(file, 0);
out_drop_write:
	cowfs_drop_write(layer);
	return err;
}

/*
 * Swap a whiteout made in workdir with @upper, then remove the old object
 * (and the whiteouts it held, for a directory) from workdir.  All of it
 * on the union's upper layer: volumes have no whiteouts.
 */
static int cowfs_replace_with_whiteout(struct cowfs_fs *ofs,
				       struct dentry *upperdir,
				       struct dentry *upper,
				       struct list_head *whiteouts)
{
	const struct cowfs_layer *layer = &ofs->layers[0];
	struct inode *wdir = d_inode(ofs->workdir);
	struct dentry *whiteout;
	int err;

	whiteout = cowfs_lookup_temp(ofs, ofs->workdir);
	if (IS_ERR(whiteout))
		return PTR_ERR(whiteout);

	err = cowfs_do_whiteout(layer, wdir, whiteout);
	if (err)
		goto out_dput;
	atomic64_inc(&ofs->stats.whiteouts);

	err = cowfs_do_rename(layer, wdir, whiteout, d_inode(upperdir), upper,
			      RENAME_EXCHANGE);
	if (err) {
		cowfs_cleanup(layer, wdir, whiteout);
		goto out_dput;
	}

	/* @upper is in workdir now */
	if (d_is_dir(upper))
		cowfs_cleanup_whiteouts(layer, upper, whiteouts);
	cowfs_cleanup(layer, wdir, upper);
out_dput:
	dput(whiteout);
	return err;
}

/*
 * A directory that looks empty is about to go, by rmdir or by a rename
 * over it, but its upper directory still holds whiteouts that hide what
 * the layers below have.  Removing them one by one would let those lower
 * objects come back if we crashed (or failed) half-way: swap the upper
 * directory for an empty opaque one made in workdir instead, and remove
 * the old one and its whiteouts there (as overlayfs's ovl_clear_empty()).
 * The union shows the same empty directory at every step.  Returns the
 * opaque directory, now at @dentry's name in the upper layer; @dentry is
 * unhashed, since its upper object is gone.
 */
static struct dentry *cowfs_clear_empty(struct dentry *dentry,
					struct list_head *whiteouts)
{
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	struct dentry *upperdir = cowfs_dentry_upper(dentry->d_parent);
	const struct cowfs_layer *layer = &ofs->layers[0];
	struct inode *wdir = d_inode(ofs->workdir);
	struct dentry *upper, *opaquedir;
	struct path upperpath;
	struct kstat stat;
	int err;

	cowfs_path_upper(dentry, &upperpath);
	err = cowfs_do_getattr(&upperpath, &stat, STATX_BASIC_STATS,
			       AT_STATX_SYNC_AS_STAT);
	if (err)
		return ERR_PTR(err);

	/* Through workdir: not in a volume (EXDEV) */
	err = cowfs_lock_upper(ofs, cowfs_upper_layer(d_inode(dentry->d_parent)),
			       upperdir, &dentry->d_name, true, &upper);
	if (err)
		return ERR_PTR(err);

	opaquedir = ERR_PTR(-ESTALE);
	if (!d_is_dir(upper) || d_inode(upper) != d_inode(upperpath.dentry))
		goto out_unlock;

	opaquedir = cowfs_lookup_temp(ofs, ofs->workdir);
	if (IS_ERR(opaquedir))
		goto out_unlock;
	/* The mode is set below: mkdir would apply the caller's umask */
	err = cowfs_do_mkdir(layer, wdir, opaquedir, 0);
	if (err)
		goto out_dput;
	err = cowfs_copy_xattr(layer, &upperpath, opaquedir);
	if (!err)
		err = cowfs_set_opaque(layer, opaquedir);
	if (!err)
		err = cowfs_set_attr(layer, opaquedir, &stat);
	if (!err)
		err = cowfs_do_rename(layer, wdir, opaquedir, d_inode(upperdir),
				      upper, RENAME_EXCHANGE);
	if (err) {
		cowfs_cleanup(layer, wdir, opaquedir);
		goto out_dput;
	}

	/* The old directory is in workdir now, out of the union's sight */
	cowfs_cleanup_whiteouts(layer, upper, whiteouts);
	cowfs_cleanup(layer, wdir, upper);
	d_drop(dentry);
	goto out_unlock;

out_dput:
	dput(opaquedir);
	opaquedir = ERR_PTR(err);
out_unlock:
	dput(upper);
	cowfs_unlock_upper(ofs, upperdir, true);
	return opaquedir;
}

static int cowfs_remove(struct dentry *dentry, bool is_dir)
{
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	struct dentry *parent = dentry->d_parent;
	struct dentry *upperdir, *upper, *opaquedir = NULL;
	const struct cred *old_cred;
	const struct cowfs_layer *layer;
	LIST_HEAD(whiteouts);
	bool with_workdir;
	bool whiteout;
	int err;

	/* A volume's root stays while the union is mounted */
	if (cowfs_is_graft_root(dentry))
		return -EBUSY;

	/* First, as overlayfs: a failed rmdir copies nothing up */
	if (is_dir) {
		err = cowfs_check_empty_dir(dentry, &whiteouts);
		if (err)
			return err;
	}
	/* index=on: the name goes from the index entry's links */
	err = cowfs_nlink_prepare(dentry);
	if (err)
		goto out_free;
	/*
	 * Copied up through another name of its lower file: link this name
	 * up too (cowfs_link_up()), then remove it as any other.
	 */
	err = cowfs_copy_up(cowfs_dentry_upper(dentry) ? dentry : parent);
	if (err)
		goto out_free;
	/*
	 * Not while the object is being copied up: the copy-up would put
	 * it back over the whiteout, or fail on it.
	 */
	err = mutex_lock_interruptible(&COWFS_I(d_inode(dentry))->lock);
	if (err)
		goto out_free;
	whiteout = cowfs_lower_positive(dentry);

	layer = cowfs_upper_layer(d_inode(parent));
	err = cowfs_want_write(layer);
	if (err)
		goto out_unlock_inode;

	old_cred = cowfs_override_creds(dentry->d_sb);
	err = cowfs_nlink_start(dentry);
	if (err)
		goto out_revert;
	/*
	 * Removed without a whiteout, so in place: its whiteouts go first,
	 * atomically.  (cowfs_replace_with_whiteout() moves a directory out
	 * of sight before it removes them.)  Below a volume they hide
	 * nothing: they go just before the directory, in place.
	 */
	if (!whiteout && !list_empty(&whiteouts) && layer == &ofs->layers[0]) {
		opaquedir = cowfs_clear_empty(dentry, &whiteouts);
		if (IS_ERR(opaquedir)) {
			err = PTR_ERR(opaquedir);
			opaquedir = NULL;
			goto out_revert;
		}
	}
	upperdir = cowfs_dentry_upper(parent);
	/* Only swapping an upper object for a whiteout needs workdir */
	with_workdir = whiteout && cowfs_dentry_upper(dentry);
	err = cowfs_lock_upper(ofs, layer, upperdir, &dentry->d_name,
			       with_workdir, &upper);
	if (err)
		goto out_revert;

	/*
	 * What the union knows must still be what the upper layer holds.
	 * Compare inodes: the names of a hard-linked file share one cowfs
	 * inode, which holds the upper dentry of just one of them.
	 */
	err = -ESTALE;
	if (opaquedir ? upper != opaquedir :
	    d_is_positive(upper) ?
	    d_inode(upper) != cowfs_inode_upper(d_inode(dentry)) :
	    (cowfs_dentry_upper(dentry) || !whiteout))
		goto out_dput;

	if (!whiteout) {
		if (is_dir && !opaquedir && !list_empty(&whiteouts))
			cowfs_cleanup_whiteouts(layer, upper, &whiteouts);
		if (is_dir)
			err = cowfs_do_rmdir(layer, d_inode(upperdir), upper);
		else
			err = cowfs_do_unlink(layer, d_inode(upperdir), upper);
	} else if (d_is_negative(upper)) {
		err = cowfs_do_whiteout(layer, d_inode(upperdir), upper);
		if (!err)
			atomic64_inc(&ofs->stats.whiteouts);
	} else {
		err = cowfs_replace_with_whiteout(ofs, upperdir, upper,
						  &whiteouts);
	}
out_dput:
	dput(upper);
	cowfs_unlock_upper(ofs, upperdir, with_workdir);
out_revert:
	dput(opaquedir);
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);
	if (!err) {
		cowfs_drop_nlink(d_inode(dentry), is_dir);
		cowfs_nlink_end(dentry);
		cowfs_forget_upper(d_inode(dentry));
		cowfs_dir_modified(parent);
		/* Look the name up afresh next time: it is a whiteout now */
		d_drop(dentry);
	}
out_unlock_inode:
	mutex_unlock(&COWFS_I(d_inode(dentry))->lock);
out_free:
	cowfs_cache_free_list(&whiteouts);
	return err;
}

static int cowfs_unlink(struct inode *dir, struct dentry *dentry)
{
	return cowfs_remove(dentry, false);
}

static int cowfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	return cowfs_remove(dentry, true);
}

/*
 * Where the lower contents of directory @dentry (or the data of metacopy
 * file @dentry) are, to be recorded in its redirect before it is renamed:
 * its name within the same parent, or the path from the root otherwise.
 * An existing redirect is built on, as it already says where the contents
 * came from.
 */
static char *cowfs_get_redirect(struct dentry *dentry, bool samedir)
{
	char *redirect, *buf;
	struct dentry *d;
	int buflen = COWFS_REDIRECT_MAX + 1;

	mutex_lock(&COWFS_I(d_inode(dentry))->lock);
	redirect = COWFS_I(d_inode(dentry))->redirect;
	if (redirect && (samedir || redirect[0] == '/'))
		redirect = kstrdup(redirect, GFP_KERNEL);
	else
		redirect = NULL;
	mutex_unlock(&COWFS_I(d_inode(dentry))->lock);
	if (redirect)
		return redirect;

	if (samedir)
		return kstrndup(dentry->d_name.name, dentry->d_name.len,
				GFP_KERNEL) ?: ERR_PTR(-ENOMEM);

	buf = kmalloc(buflen, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	buflen--;
	buf[buflen] = '\0';

	for (d = dget(dentry); !IS_ROOT(d);) {
		struct cowfs_inode *oi = COWFS_I(d_inode(d));
		struct dentry *tmp;
		bool fits = false;
		int len = 0;

		mutex_lock(&oi->lock);
		if (oi->redirect) {
			len = strlen(oi->redirect);
			fits = len < buflen;
			if (fits) {
				buflen -= len;
				memcpy(&buf[buflen], oi->redirect, len);
			}
		}
		mutex_unlock(&oi->lock);
		if (!fits && !len) {
			spin_lock(&d->d_lock);
			len = d->d_name.len;
			fits = len < buflen;
			if (fits) {
				buflen -= len;
				memcpy(&buf[buflen], d->d_name.name, len);
			}
			spin_unlock(&d->d_lock);
		}
		tmp = dget_parent(d);
		dput(d);
		d = tmp;

		/* Too deep for a redirect: fall back to copying (EXDEV) */
		if (!fits) {
			dput(d);
			kfree(buf);
			return ERR_PTR(-EXDEV);
		}
		/* An absolute redirect above says the rest */
		if (buf[buflen] == '/')
			break;
		buf[--buflen] = '/';
	}
	dput(d);

	redirect = kstrdup(&buf[buflen], GFP_KERNEL);
	kfree(buf);
	return redirect ?: ERR_PTR(-ENOMEM);
}

/*
 * May @dentry's redirect be relative, a name in its parent?  When it stays
 * in the same parent: a directory always, a metacopy file unless its lower
 * file has other names, which could land in other directories (overlayfs's
 * ovl_need_absolute_redirect()).
 */
static bool cowfs_redirect_relative(struct dentry *dentry, bool samedir)
{
	struct cowfs_path *lower = cowfs_lowerstack(COWFS_E(dentry));

	if (!samedir || d_is_dir(dentry))
		return samedir;
	return lower && d_inode(lower->dentry)->i_nlink == 1;
}

struct cowfs_rename_side {
	struct dentry *dentry;
	bool is_dir;
	bool has_lower;
	bool lower_positive;
	char *redirect;
	bool set_opaque;
	/* A non-directory replaced: one name fewer (index=on: see index.c) */
	bool nlink;
};

static int cowfs_set_redirect_xattr(const struct cowfs_layer *layer,
				    struct dentry *upper, const char *redirect)
{
	int err = cowfs_do_setxattr(layer, upper,
				    cowfs_layer_xattr(layer, COWFS_XA_REDIRECT),
				    redirect, strlen(redirect), 0);

	/* No xattrs: the user may move the tree by copying it instead */
	return err == -EOPNOTSUPP ? -EXDEV : err;
}

/*
 * Metacopy file @dentry is about to get a second name in the upper layer,
 * which must find the data too, also after a remount: give it an absolute
 * redirect (overlayfs's ovl_set_link_redirect()).
 */
static int cowfs_set_link_redirect(struct dentry *dentry)
{
	struct cowfs_inode *oi = COWFS_I(d_inode(dentry));
	const struct cowfs_layer *layer = cowfs_upper_layer(d_inode(dentry));
	const struct cred *old_cred;
	char *redirect;
	int err;

	redirect = cowfs_get_redirect(dentry, false);
	if (IS_ERR(redirect))
		return PTR_ERR(redirect);

	err = cowfs_want_write(layer);
	if (!err) {
		old_cred = cowfs_override_creds(dentry->d_sb);
		err = cowfs_set_redirect_xattr(layer, cowfs_dentry_upper(dentry),
					       redirect);
		cowfs_revert_creds(old_cred);
		cowfs_drop_write(layer);
	}
	if (!err) {
		mutex_lock(&oi->lock);
		swap(oi->redirect, redirect);
		mutex_unlock(&oi->lock);
	}
	kfree(redirect);
	return err;
}

/*
 * index=on: record the union's link count of @old relative to its upper
 * file's before a link changes both (index.c).
 */
static int cowfs_link_nlink_start(struct dentry *old)
{
	const struct cowfs_layer *layer = cowfs_upper_layer(d_inode(old));
	const struct cred *old_cred;
	int err;

	if (!test_bit(COWFS_I_INDEX, &COWFS_I(d_inode(old))->flags))
		return 0;
	err = cowfs_want_write(layer);
	if (err)
		return err;
	old_cred = cowfs_override_creds(old->d_sb);
	err = cowfs_nlink_start(old);
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);
	return err;
}

static int cowfs_link(struct dentry *old, struct inode *newdir,
		      struct dentry *new)
{
	struct cowfs_cattr attr = { .mode = d_inode(old)->i_mode };
	struct cowfs_inode *oi = COWFS_I(d_inode(old));
	int err;

	err = cowfs_copy_up(old);
	if (!err && cowfs_is_metacopy(d_inode(old)))
		err = cowfs_set_link_redirect(old);
	/* A partial file's record is one inode's: it is whole first */
	if (!err)
		err = cowfs_partial_complete(d_inode(old));
	/* Now, not under the lock below: copy-up takes the parent's */
	if (!err)
		err = cowfs_copy_up(new->d_parent);
	if (err)
		return err;

	/* One link at a time: the count recorded is the one changed */
	err = mutex_lock_interruptible(&oi->lock);
	if (err)
		return err;
	err = cowfs_link_nlink_start(old);
	if (!err) {
		attr.hardlink = cowfs_dentry_upper(old);
		err = cowfs_create_object(new, d_inode(old), &attr);
	}
	mutex_unlock(&oi->lock);
	return err;
}

static void cowfs_rename_side_done(struct cowfs_rename_side *side)
{
	struct cowfs_inode *oi;

	if (!side->dentry || d_is_negative(side->dentry))
		return;

	oi = COWFS_I(d_inode(side->dentry));
	if (side->redirect) {
		mutex_lock(&oi->lock);
		kfree(oi->redirect);
		oi->redirect = side->redirect;
		side->redirect = NULL;
		mutex_unlock(&oi->lock);
	}
	if (side->set_opaque)
		cowfs_dentry_set_flag(COWFS_E_OPAQUE, side->dentry);
}

static int cowfs_rename(struct mnt_idmap *idmap, struct inode *olddir,
			struct dentry *old, struct inode *newdir,
			struct dentry *new, unsigned int flags)
{
	struct cowfs_fs *ofs = COWFS_FS(old->d_sb);
	bool overwrite = !(flags & RENAME_EXCHANGE);
	bool samedir = olddir == newdir;
	struct cowfs_rename_side o = { .dentry = old }, n = { .dentry = new };
	struct dentry *old_upperdir, *new_upperdir;
	struct dentry *olddentry = NULL, *newdentry = NULL, *opaquedir = NULL;
	bool cleanup_whiteout = false;
	const struct cred *old_cred;
	const struct cowfs_layer *layer;
	unsigned int real_flags;
	LIST_HEAD(whiteouts);
	struct dentry *trap;
	int err;

	if (flags & ~(RENAME_EXCHANGE | RENAME_NOREPLACE | RENAME_WHITEOUT))
		return -EINVAL;

	if (cowfs_is_graft_root(old) || cowfs_is_graft_root(new))
		return -EBUSY;

	/* Between the union's upper layer and a volume: as across mounts */
	layer = cowfs_upper_layer(olddir);
	if (layer != cowfs_upper_layer(newdir))
		return -EXDEV;

	o.is_dir = d_is_dir(old);
	o.has_lower = cowfs_dentry_has_lower(old);
	n.is_dir = d_is_positive(new) && d_is_dir(new);
	n.has_lower = d_is_positive(new) && cowfs_dentry_has_lower(new);

	/* Without redirects a directory with lower contents cannot move */
	if (!ofs->config.redirect_dir &&
	    ((o.is_dir && o.has_lower) || (!overwrite && n.is_dir && n.has_lower)))
		return -EXDEV;

	if (overwrite && n.is_dir) {
		err = cowfs_check_empty_dir(new, &whiteouts);
		if (err)
			return err;
	}

	err = cowfs_copy_up(old);
	if (!err)
		err = cowfs_copy_up(new->d_parent);
	if (!err && !overwrite)
		err = cowfs_copy_up(new);
	/* index=on: a name of the file replaced goes from its entry's links */
	n.nlink = overwrite && d_is_positive(new) && !n.is_dir;
	if (!err && n.nlink)
		err = cowfs_nlink_prepare(new);
	if (err)
		goto out_free;

	o.lower_positive = cowfs_lower_positive(old);
	n.lower_positive = cowfs_lower_positive(new);

	if ((o.is_dir && o.has_lower) || cowfs_is_metacopy(d_inode(old))) {
		o.redirect = cowfs_get_redirect(old,
						cowfs_redirect_relative(old, samedir));
		if (IS_ERR(o.redirect)) {
			err = PTR_ERR(o.redirect);
			o.redirect = NULL;
			goto out_free;
		}
	}
	if (!overwrite && ((n.is_dir && n.has_lower) ||
			   cowfs_is_metacopy(d_inode(new)))) {
		n.redirect = cowfs_get_redirect(new,
						cowfs_redirect_relative(new, samedir));
		if (IS_ERR(n.redirect)) {
			err = PTR_ERR(n.redirect);
			n.redirect = NULL;
			goto out_free;
		}
	}
	/* A directory of the upper layer only must not merge where it lands */
	o.set_opaque = o.is_dir && !o.has_lower && !cowfs_dentry_is_opaque(old) &&
		       n.lower_positive;
	n.set_opaque = !overwrite && n.is_dir && !n.has_lower &&
		       !cowfs_dentry_is_opaque(new) && o.lower_positive;

	/* Against copy-ups and other changes of its count, as unlink */
	if (n.nlink) {
		err = mutex_lock_interruptible(&COWFS_I(d_inode(new))->lock);
		if (err)
			goto out_free;
	}
	err = cowfs_want_write(layer);
	if (err)
		goto out_unlock_new;
	old_cred = cowfs_override_creds(old->d_sb);
	if (n.nlink) {
		err = cowfs_nlink_start(new);
		if (err)
			goto out_revert;
	}

	/*
	 * Replacing a directory: its whiteouts go first, atomically (below
	 * a volume, where they hide nothing, in place once it is locked).
	 */
	if (!list_empty(&whiteouts) && layer == &ofs->layers[0]) {
		opaquedir = cowfs_clear_empty(new, &whiteouts);
		if (IS_ERR(opaquedir)) {
			err = PTR_ERR(opaquedir);
			opaquedir = NULL;
			goto out_revert;
		}
	}

	old_upperdir = cowfs_dentry_upper(old->d_parent);
	new_upperdir = cowfs_dentry_upper(new->d_parent);
	trap = lock_rename(new_upperdir, old_upperdir);
	if (IS_ERR(trap)) {
		err = PTR_ERR(trap);
		goto out_revert;
	}

	olddentry = cowfs_do_lookup_locked(layer, old->d_name.name,
					   old_upperdir, old->d_name.len);
	if (IS_ERR(olddentry)) {
		err = PTR_ERR(olddentry);
		olddentry = NULL;
		goto out_unlock;
	}
	err = -ESTALE;
	if (d_inode(olddentry) != cowfs_inode_upper(d_inode(old)))
		goto out_unlock;

	newdentry = cowfs_do_lookup_locked(layer, new->d_name.name,
					   new_upperdir, new->d_name.len);
	if (IS_ERR(newdentry)) {
		err = PTR_ERR(newdentry);
		newdentry = NULL;
		goto out_unlock;
	}
	if (opaquedir) {
		if (newdentry != opaquedir)
			goto out_unlock;
	} else if (d_is_positive(new) && cowfs_dentry_upper(new)) {
		if (d_inode(newdentry) != cowfs_inode_upper(d_inode(new)))
			goto out_unlock;
	} else if (d_is_positive(newdentry) && !cowfs_is_whiteout(newdentry)) {
		goto out_unlock;
	}

	err = -EINVAL;
	if (olddentry == trap)
		goto out_unlock;
	err = -ENOTEMPTY;
	if (newdentry == trap)
		goto out_unlock;
	if (!opaquedir && !list_empty(&whiteouts))
		cowfs_cleanup_whiteouts(layer, newdentry, &whiteouts);

	real_flags = flags & RENAME_EXCHANGE;
	if (cowfs_is_whiteout(newdentry)) {
		/*
		 * Swap with the whiteout: it ends up where the old name was,
		 * which needs one if a lower layer has that name too.
		 */
		real_flags = RENAME_EXCHANGE;
		cleanup_whiteout = !o.lower_positive && !(flags & RENAME_WHITEOUT);
	} else if (overwrite &&
		   (o.lower_positive || (flags & RENAME_WHITEOUT))) {
		real_flags |= RENAME_WHITEOUT;
	}

	if (o.redirect)
		err = cowfs_set_redirect_xattr(layer, olddentry, o.redirect);
	else if (o.set_opaque)
		err = cowfs_set_opaque(layer, olddentry);
	else
		err = 0;
	if (!err && n.redirect)
		err = cowfs_set_redirect_xattr(layer, newdentry, n.redirect);
	else if (!err && n.set_opaque)
		err = cowfs_set_opaque(layer, newdentry);
	if (err)
		goto out_unlock;

	err = cowfs_do_rename(layer, d_inode(old_upperdir), olddentry,
			      d_inode(new_upperdir), newdentry, real_flags);
	if (err)
		goto out_unlock;
	if (real_flags & RENAME_WHITEOUT)
		atomic64_inc(&ofs->stats.whiteouts);

	if (cleanup_whiteout)
		cowfs_cleanup(layer, d_inode(old_upperdir), newdentry);
out_unlock:
	unlock_rename(new_upperdir, old_upperdir);
	/*
	 * Moved an object with lower origins: readdir must ask the union
	 * for its st_ino.  Best effort; setxattr locks the directories.
	 */
	if (!err && !samedir && (o.has_lower || (!overwrite && n.has_lower))) {
		const char *impure = cowfs_layer_xattr(layer, COWFS_XA_IMPURE);

		cowfs_do_setxattr(layer, new_upperdir, impure, "y", 1, 0);
		cowfs_do_setxattr(layer, old_upperdir, impure, "y", 1, 0);
	}
out_revert:
	dput(opaquedir);
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);
	if (!err) {
		if (overwrite && d_is_positive(new))
			cowfs_drop_nlink(d_inode(new), n.is_dir);
		if (n.nlink) {
			cowfs_nlink_end(new);
			cowfs_forget_upper(d_inode(new));
		}
	}
	dput(olddentry);
	dput(newdentry);
out_unlock_new:
	/* Before the sides are done: that takes the old inode's lock */
	if (n.nlink)
		mutex_unlock(&COWFS_I(d_inode(new))->lock);
	if (!err) {
		cowfs_rename_side_done(&o);
		cowfs_rename_side_done(&n);
		cowfs_dir_modified(old->d_parent);
		if (!samedir)
			cowfs_dir_modified(new->d_parent);
	}
out_free:
	cowfs_cache_free_list(&whiteouts);
	kfree(o.redirect);
	kfree(n.redirect);
	return err;
}

const struct inode_operations cowfs_dir_inode_operations = {
	.lookup		= cowfs_lookup,
	.create		= cowfs_create,
	.mkdir		= cowfs_mkdir,
	.mknod		= cowfs_mknod,
	.symlink	= cowfs_symlink,
	.link		= cowfs_link,
	.unlink		= cowfs_unlink,
	.rmdir		= cowfs_rmdir,
	.rename		= cowfs_rename,
	.tmpfile	= cowfs_tmpfile,
	.permission	= cowfs_permission,
	.getattr	= cowfs_getattr,
	.setattr	= cowfs_setattr,
	.listxattr	= cowfs_listxattr,
	.get_inode_acl	= cowfs_get_inode_acl,
	.get_acl	= cowfs_get_acl,
	.set_acl	= cowfs_set_acl,
	.update_time	= cowfs_update_time,
	.fileattr_get	= cowfs_fileattr_get,
	.fileattr_set	= cowfs_fileattr_set,
};
