// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: the volume store.
 *
 * Local and bind volumes persist in a directory, the store root
 * (/var/lib/cowfs/volumes unless the store= module parameter or
 * config-set says otherwise):
 *
 *	STORE/NAME/		the volume; its record in an xattr
 *	STORE/NAME/_data/	a local volume's data (bind volumes have none)
 *	STORE/.trash/		volumes being removed
 *
 * A volume's record, in xattr trusted.cowfs.volume of STORE/NAME, is the
 * netlink attributes of the volume-new request that made it (name, type,
 * a bind volume's path, labels, options) and its creation time: loading
 * parses it with netlink's parser and the checks of a request
 * (netlink.c), nothing else.  It is set once the directory is complete,
 * in one setxattr, and synced, so a volume exists exactly when its record
 * does: a directory without one (a crash halfway through volume-new) is
 * ignored.  A record that does not parse is reported and ignored.  The
 * text "meta" file of earlier versions is not read: 'cowctl volume
 * migrate' converts such a store.
 *
 * A removed volume's directory is first renamed into .trash, which is
 * atomic, then deleted from there; leftovers in .trash (a crash, an error)
 * are deleted when the store is next loaded.  Deletion walks the tree one
 * directory at a time without recursion, looks names up on the store's
 * filesystem only (it never follows symlinks: they are unlinked, and it
 * never enters other mounts: removing a mount point fails with EBUSY and
 * the walk stops).
 *
 * Everything here runs on a private clone of the store root's mount, taken
 * when the store is opened, and with the credentials of the task that
 * asked: the netlink caller (who has CAP_SYS_ADMIN) for volume-new,
 * volume-del, volume-prune and config-set, the mounter for a mount that
 * attaches a volume first, the module's loader for store=.  So removing a
 * volume deletes no more than its caller could with rm -rf: a directory
 * the caller may not read or empty stays in the trash (logged), and is
 * retried whenever the store is next loaded, by whoever loads it.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <linux/xattr.h>

#include "cowfs.h"
#include "store.h"
#include "volume.h"

#define COWFS_XATTR_VOLUME	"trusted.cowfs.volume"
#define COWFS_DATA		"_data"
#define COWFS_TRASH		".trash"
/* Where cowfs kept a volume's record in text before: not read any more */
#define COWFS_OLD_META		"meta"

/*
 * A layer for a path on the store's mount: every call into the store
 * goes through the same wrappers as calls into a union's layers.
 */
static void cowfs_store_layer(const struct path *path,
			      struct cowfs_layer *layer)
{
	*layer = (struct cowfs_layer) {
		.mnt = path->mnt,
		.idx = COWFS_STORE_LAYER_IDX,
	};
}

int cowfs_store_open(const char *name, struct cowfs_store *st)
{
	struct path path;
	struct vfsmount *mnt;
	char *buf, *p;
	int err;

	err = kern_path(name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);
	if (err)
		return err;

	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	err = -ENOMEM;
	if (!buf)
		goto out;
	p = d_path(&path, buf, PATH_MAX);
	err = PTR_ERR(p);
	if (IS_ERR(p))
		goto out;
	err = -ENOMEM;
	st->name = kstrdup(p, GFP_KERNEL);
	if (!st->name)
		goto out;

	mnt = clone_private_mount(&path);
	err = PTR_ERR(mnt);
	if (IS_ERR(mnt)) {
		kfree(st->name);
		st->name = NULL;
		goto out;
	}
	st->root.mnt = mnt;
	st->root.dentry = dget(path.dentry);
	cowfs_store_layer(&st->root, &st->layer);
	err = 0;
out:
	kfree(buf);
	path_put(&path);
	return err;
}

void cowfs_store_close(struct cowfs_store *st)
{
	if (!st->root.mnt)
		return;
	dput(st->root.dentry);
	kern_unmount(st->root.mnt);
	kfree(st->name);
	memset(st, 0, sizeof(*st));
}

/* ---- creation ------------------------------------------------------------- */

/* Look up @name in @dir of @layer, which the caller has locked. */
static struct dentry *cowfs_store_lookup(const struct cowfs_layer *layer,
					 struct dentry *dir, const char *name)
{
	return cowfs_do_lookup_locked(layer, name, dir, strlen(name));
}

/* The same, with @dir unlocked */
static struct dentry *cowfs_store_lookup_unlocked(const struct cowfs_layer *layer,
						  struct dentry *dir,
						  const char *name)
{
	return cowfs_do_lookup(layer, name, dir, strlen(name));
}

static struct dentry *cowfs_store_mkdir(const struct cowfs_layer *layer,
					struct dentry *dir, const char *name,
					umode_t mode)
{
	struct inode *idir = d_inode(dir);
	struct dentry *dentry;
	int err;

	inode_lock_nested(idir, I_MUTEX_PARENT);
	dentry = cowfs_store_lookup(layer, dir, name);
	if (IS_ERR(dentry))
		goto out;
	err = -EEXIST;
	if (d_is_positive(dentry))
		goto out_err;
	err = cowfs_do_mkdir(layer, idir, dentry, mode);
	if (err)
		goto out_err;
	/* A filesystem may leave the dentry unhashed (negative) */
	err = -ENOENT;
	if (d_is_negative(dentry) || d_unhashed(dentry))
		goto out_err;
	goto out;
out_err:
	dput(dentry);
	dentry = ERR_PTR(err);
out:
	inode_unlock(idir);
	return dentry;
}

/* Rename @old in @dir to @new in @newdir, both on the store's @layer. */
static int cowfs_store_rename(const struct cowfs_layer *layer,
			      struct dentry *dir, const char *old,
			      struct dentry *newdir, const char *new)
{
	struct dentry *trap, *od, *nd;
	int err;

	trap = lock_rename(newdir, dir);
	if (IS_ERR(trap))
		return PTR_ERR(trap);
	od = cowfs_store_lookup(layer, dir, old);
	err = PTR_ERR(od);
	if (IS_ERR(od))
		goto out_unlock;
	err = -ENOENT;
	if (d_is_negative(od))
		goto out_od;
	err = -EINVAL;
	if (od == trap)
		goto out_od;
	nd = cowfs_store_lookup(layer, newdir, new);
	err = PTR_ERR(nd);
	if (IS_ERR(nd))
		goto out_od;
	err = -ENOTEMPTY;
	if (nd == trap)
		goto out_nd;

	err = cowfs_do_rename(layer, d_inode(dir), od, d_inode(newdir), nd, 0);
out_nd:
	dput(nd);
out_od:
	dput(od);
out_unlock:
	unlock_rename(newdir, dir);
	return err;
}

/*
 * cowfs_store_add() holds write access to the store's mount throughout
 * and freeze protection (cowfs_start_write()) only around each change:
 * not around anything that takes it itself (a write to a file), as a
 * task that takes it twice deadlocks with a freeze that began in between.
 */

/*
 * Record @vol in an xattr of its directory @voldir, durably.  From then on
 * the volume exists: a directory without a record (a crash halfway through
 * volume-new) is not a volume.
 */
static int cowfs_record_write(const struct cowfs_layer *layer,
			      const struct path *voldir,
			      const struct cowfs_volume *vol)
{
	struct sk_buff *rec;
	struct file *dir;
	int err;

	rec = cowfs_nl_volume_record(vol);
	if (IS_ERR(rec))
		return PTR_ERR(rec);
	cowfs_start_write(layer);
	err = cowfs_do_setxattr(layer, voldir->dentry, COWFS_XATTR_VOLUME,
				rec->data, rec->len, XATTR_CREATE);
	cowfs_end_write(layer);
	consume_skb(rec);
	if (err)
		return err;

	dir = cowfs_open_real_dir(voldir);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	err = vfs_fsync(dir, 0);
	fput(dir);
	return err;
}

static int cowfs_store_add_dirs(struct cowfs_store *st,
				struct cowfs_volume *vol)
{
	struct path voldir = { .mnt = st->root.mnt };
	struct dentry *data = NULL;
	struct path trash;
	int err;

	cowfs_start_write(&st->layer);
	voldir.dentry = cowfs_store_mkdir(&st->layer, st->root.dentry,
					  vol->name, 0755);
	cowfs_end_write(&st->layer);
	if (IS_ERR(voldir.dentry))
		return PTR_ERR(voldir.dentry);
	if (vol->type == COWFS_VOLUME_TYPE_LOCAL) {
		cowfs_start_write(&st->layer);
		data = cowfs_store_mkdir(&st->layer, voldir.dentry, COWFS_DATA,
					 0755);
		cowfs_end_write(&st->layer);
		err = PTR_ERR(data);
		if (IS_ERR(data)) {
			data = NULL;
			goto fail;
		}
		err = -ENOMEM;
		vol->path = kasprintf(GFP_KERNEL, "%s/%s/" COWFS_DATA,
				      st->name, vol->name);
		if (!vol->path)
			goto fail;
	}
	err = cowfs_record_write(&st->layer, &voldir, vol);
	if (err)
		goto fail;
	if (data) {
		vol->root.mnt = mntget(st->root.mnt);
		vol->root.dentry = data;
	}
	dput(voldir.dentry);
	return 0;

fail:
	dput(data);
	dput(voldir.dentry);
	/* Undo through the trash, like a removal */
	if (!cowfs_store_trash(st, vol->name, &trash))
		cowfs_store_rmtree(&trash, NULL);
	return err;
}

/*
 * Create @vol (local or bind) in the store: STORE/NAME, its _data for a
 * local volume, then its record.  Sets a local volume's root and path.
 */
int cowfs_store_add(struct cowfs_store *st, struct cowfs_volume *vol)
{
	int err;

	/* Write access throughout; freeze protection step by step */
	err = cowfs_get_write_access(&st->layer);
	if (err)
		return err;
	err = cowfs_store_add_dirs(st, vol);
	cowfs_put_write_access(&st->layer);
	return err;
}

/* STORE/.trash, created if need be; with a reference. */
static struct dentry *cowfs_store_trashdir(struct cowfs_store *st)
{
	struct inode *idir = d_inode(st->root.dentry);
	struct dentry *trash;

	inode_lock_nested(idir, I_MUTEX_PARENT);
	trash = cowfs_store_lookup(&st->layer, st->root.dentry, COWFS_TRASH);
	inode_unlock(idir);
	if (IS_ERR(trash))
		return trash;
	if (d_is_dir(trash))
		return trash;
	if (d_is_positive(trash)) {
		dput(trash);
		return ERR_PTR(-ENOTDIR);
	}
	dput(trash);
	trash = cowfs_store_mkdir(&st->layer, st->root.dentry, COWFS_TRASH,
				  0700);
	if (PTR_ERR(trash) == -EEXIST)
		return cowfs_store_trashdir(st);
	return trash;
}

/*
 * Move STORE/@name into STORE/.trash, under a name no volume can have
 * (volume names never hold '#'), and return it in @trash for
 * cowfs_store_rmtree().
 */
static int cowfs_store_trash_move(struct cowfs_store *st, const char *name,
				  struct path *trash)
{
	static atomic64_t seq = ATOMIC64_INIT(0);
	char tname[COWFS_VOLUME_NAME_MAX + 64];
	struct dentry *dir, *moved;
	struct inode *idir;
	int err;

	dir = cowfs_store_trashdir(st);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	do {
		snprintf(tname, sizeof(tname), "%s#%llx.%llx", name,
			 ktime_get_real_ns(), (u64)atomic64_inc_return(&seq));
		err = cowfs_store_rename(&st->layer, st->root.dentry, name, dir,
					 tname);
	} while (err == -EEXIST || err == -ENOTEMPTY);
	if (err) {
		dput(dir);
		return err;
	}
	idir = d_inode(dir);
	inode_lock_nested(idir, I_MUTEX_PARENT);
	moved = cowfs_store_lookup(&st->layer, dir, tname);
	inode_unlock(idir);
	dput(dir);
	if (IS_ERR(moved))
		return PTR_ERR(moved);
	if (d_is_negative(moved)) {
		dput(moved);
		return -ENOENT;
	}
	trash->mnt = mntget(st->root.mnt);
	trash->dentry = moved;
	return 0;
}

int cowfs_store_trash(struct cowfs_store *st, const char *name,
		      struct path *trash)
{
	int err;

	err = cowfs_want_write(&st->layer);
	if (err)
		return err;
	err = cowfs_store_trash_move(st, name, trash);
	cowfs_drop_write(&st->layer);
	return err;
}

/* ---- removal -------------------------------------------------------------- */

/* Remove @dentry from its (locked) parent @dir: @dentry is not a dir. */
static int cowfs_rm_one(const struct cowfs_layer *layer, struct inode *dir,
			struct dentry *dentry, u64 *reclaimed)
{
	struct inode *inode = d_inode(dentry);

	if (reclaimed && inode->i_nlink == 1)
		*reclaimed += (u64)inode->i_blocks << 9;
	return cowfs_do_unlink(layer, dir, dentry);
}

/*
 * Remove the empty directory @dentry from @parent, the directory the walk
 * found it in: -ENOENT if it is no longer there (moved away meanwhile).
 */
static int cowfs_rm_dir(const struct cowfs_layer *layer, struct dentry *parent,
			struct dentry *dentry, u64 *reclaimed)
{
	struct inode *dir = d_inode(parent);
	int err;

	inode_lock_nested(dir, I_MUTEX_PARENT);
	if (dentry->d_parent != parent || d_unhashed(dentry)) {
		err = -ENOENT;
	} else {
		if (reclaimed)
			*reclaimed += (u64)d_inode(dentry)->i_blocks << 9;
		err = cowfs_do_rmdir(layer, dir, dentry);
	}
	inode_unlock(dir);
	return err;
}

/*
 * Unlink every non-directory among the names read from @cur and return
 * the first subdirectory (referenced), NULL if there is none.  Sets
 * *@progress if something was removed.
 */
static struct dentry *cowfs_rm_batch(const struct cowfs_layer *layer,
				     const struct path *cur,
				     struct cowfs_names *nm, u64 *reclaimed,
				     bool *progress, int *err)
{
	struct inode *dir = d_inode(cur->dentry);
	struct dentry *sub = NULL, *dentry;
	char *name;

	*err = 0;
	inode_lock_nested(dir, I_MUTEX_PARENT);
	for (name = cowfs_names_next(nm, NULL); name;
	     name = cowfs_names_next(nm, name)) {
		dentry = cowfs_store_lookup(layer, cur->dentry, name);
		if (IS_ERR(dentry)) {
			*err = PTR_ERR(dentry);
			break;
		}
		if (d_is_negative(dentry)) {
			dput(dentry);
			continue;
		}
		/* d_is_dir() is false for a symlink to a directory */
		if (d_is_dir(dentry)) {
			if (!sub)
				sub = dget(dentry);
			dput(dentry);
			continue;
		}
		*err = cowfs_rm_one(layer, dir, dentry, reclaimed);
		dput(dentry);
		if (*err)
			break;
		*progress = true;
	}
	inode_unlock(dir);
	return sub;
}

/* The directories the walk went down through, to go back up the same way */
struct cowfs_rm_stack {
	struct dentry **d;
	unsigned int depth;
	unsigned int size;
};

static int cowfs_rm_push(struct cowfs_rm_stack *st, struct dentry *dentry)
{
	if (st->depth == st->size) {
		unsigned int size = st->size ? st->size * 2 : 16;
		struct dentry **d = krealloc_array(st->d, size, sizeof(*d),
						   GFP_KERNEL);

		if (!d)
			return -ENOMEM;
		st->d = d;
		st->size = size;
	}
	st->d[st->depth++] = dentry;
	return 0;
}

/*
 * Delete the tree at @top, depth first, never leaving it: the walk goes
 * back up only to the directories it came down through, not to whatever
 * a directory's parent is by then, so a directory renamed out of the tree
 * while it runs (by a process with its cwd inside) takes nothing outside
 * with it.  Such a directory is left where it went.
 */
static int cowfs_rmtree_walk(const struct cowfs_layer *layer,
			     const struct path *top, struct cowfs_names *nm,
			     u64 *reclaimed)
{
	struct path cur = { .mnt = top->mnt, .dentry = dget(top->dentry) };
	struct cowfs_rm_stack stack = { };
	struct dentry *next, *parent;
	struct file *file;
	bool progress;
	int err, n;

	if (!d_is_dir(cur.dentry)) {
		parent = dget_parent(cur.dentry);
		inode_lock_nested(d_inode(parent), I_MUTEX_PARENT);
		err = -ENOENT;
		if (cur.dentry->d_parent == parent && !d_unhashed(cur.dentry))
			err = cowfs_rm_one(layer, d_inode(parent), cur.dentry,
					   reclaimed);
		inode_unlock(d_inode(parent));
		dput(parent);
		dput(cur.dentry);
		return err;
	}

	for (;;) {
		/* Moved out of the tree since we came down: leave it there */
		bool gone = stack.depth && !is_subdir(cur.dentry, top->dentry);

		n = 0;
		if (!gone) {
			file = cowfs_open_real_dir(&cur);
			err = PTR_ERR(file);
			if (IS_ERR(file))
				break;
			n = cowfs_names_read(file, nm);
			fput(file);
			err = n;
			if (n < 0)
				break;
		}

		if (!stack.depth && !n) {
			/* The top itself, empty: out of the trash */
			parent = dget_parent(cur.dentry);
			err = cowfs_rm_dir(layer, parent, cur.dentry, reclaimed);
			dput(parent);
			break;
		}
		if (!n) {
			/* Empty (or gone): remove it, go back up */
			err = gone ? 0 : cowfs_rm_dir(layer,
						      stack.d[stack.depth - 1],
						      cur.dentry, reclaimed);
			if (err && err != -ENOENT)
				break;
			dput(cur.dentry);
			cur.dentry = stack.d[--stack.depth];
			continue;
		}

		progress = false;
		next = cowfs_rm_batch(layer, &cur, nm, reclaimed, &progress,
				      &err);
		if (err) {
			dput(next);
			break;
		}
		if (next) {
			err = cowfs_rm_push(&stack, cur.dentry);
			if (err) {
				dput(next);
				break;
			}
			cur.dentry = next;
		} else if (!progress) {
			/* Names we could neither remove nor enter */
			err = -ENOTEMPTY;
			break;
		}
		cond_resched();
	}
	dput(cur.dentry);
	while (stack.depth)
		dput(stack.d[--stack.depth]);
	kfree(stack.d);
	return err;
}

/*
 * Delete the tree at @trash (from cowfs_store_trash()) and put it.
 * Failures are logged and returned: what is left is retried at the next
 * load.
 */
int cowfs_store_rmtree(struct path *trash, u64 *reclaimed)
{
	struct cowfs_names nm;
	struct cowfs_layer layer;
	int err;

	cowfs_store_layer(trash, &layer);
	err = cowfs_names_alloc(&nm);
	if (!err) {
		err = cowfs_want_write(&layer);
		if (!err) {
			err = cowfs_rmtree_walk(&layer, trash, &nm, reclaimed);
			cowfs_drop_write(&layer);
		}
		cowfs_names_free(&nm);
	}
	if (err)
		pr_warn("could not delete %pd from the volume store's trash: %pe\n",
			trash->dentry, ERR_PTR(err));
	path_put(trash);
	return err;
}

/* ---- loading -------------------------------------------------------------- */

/* @voldir's record, in a kvmalloc()ed buffer of *@len bytes. */
static void *cowfs_record_read(const struct path *voldir, int *len)
{
	ssize_t size;
	void *buf;

	size = cowfs_do_getxattr(voldir, COWFS_XATTR_VOLUME, NULL, 0);
	if (size < 0)
		return ERR_PTR(size);
	buf = kvmalloc(size ?: 1, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	size = cowfs_do_getxattr(voldir, COWFS_XATTR_VOLUME, buf, size);
	if (size < 0) {
		kvfree(buf);
		return ERR_PTR(size);
	}
	*len = size;
	return buf;
}

/* STORE/@name has no record: say why it is not loaded. */
static void cowfs_store_no_record(const struct cowfs_layer *layer,
				  const struct path *voldir, const char *name)
{
	struct dentry *meta;

	meta = cowfs_store_lookup_unlocked(layer, voldir->dentry,
					   COWFS_OLD_META);
	if (!IS_ERR(meta) && d_is_reg(meta))
		pr_warn("volume store: %s was made by an older cowfs (it has a text meta file): 'cowctl volume migrate' converts it\n",
			name);
	else
		pr_info("volume store: %s has no record, not a volume\n", name);
	if (!IS_ERR(meta))
		dput(meta);
}

/* Load the volume in STORE/@name; a missing record is not an error. */
static int cowfs_store_load_one(struct cowfs_store *st, const char *name,
				int (*add)(struct cowfs_volume *vol))
{
	struct path voldir = { .mnt = st->root.mnt };
	struct cowfs_volume *vol = NULL;
	struct dentry *data = NULL;
	const char *why = "";
	void *rec;
	int err, len;

	voldir.dentry = cowfs_store_lookup_unlocked(&st->layer, st->root.dentry,
						    name);
	if (IS_ERR(voldir.dentry))
		return PTR_ERR(voldir.dentry);
	err = 0;
	if (!d_is_dir(voldir.dentry))
		goto out;

	rec = cowfs_record_read(&voldir, &len);
	err = PTR_ERR_OR_ZERO(rec);
	if (err == -ENODATA) {
		cowfs_store_no_record(&st->layer, &voldir, name);
		err = 0;
		goto out;
	}
	why = "its record cannot be read";
	if (err)
		goto out_warn;

	err = -ENOMEM;
	vol = cowfs_volume_alloc();
	if (vol)
		err = cowfs_nl_volume_parse_record(vol, rec, len, &why);
	kvfree(rec);
	if (err)
		goto out_warn;
	why = "the name in its record is not the directory's";
	err = -EINVAL;
	if (strcmp(vol->name, name))
		goto out_warn;

	if (vol->type == COWFS_VOLUME_TYPE_LOCAL) {
		data = cowfs_store_lookup_unlocked(&st->layer, voldir.dentry,
						   COWFS_DATA);
		err = PTR_ERR(data);
		why = "no " COWFS_DATA " directory";
		if (IS_ERR(data)) {
			data = NULL;
			goto out_warn;
		}
		err = -ENOENT;
		if (!d_is_dir(data))
			goto out_warn;
		err = -ENOMEM;
		why = "";
		vol->path = kasprintf(GFP_KERNEL, "%s/%s/" COWFS_DATA,
				      st->name, name);
		if (!vol->path)
			goto out_warn;
		vol->root.mnt = mntget(st->root.mnt);
		vol->root.dentry = data;
		data = NULL;
	}

	why = "";
	err = add(vol);
	if (!err) {
		vol = NULL;
		goto out;
	}
out_warn:
	pr_warn("volume store %s: volume %s not loaded: %s (%pe)\n",
		st->name, name, why, ERR_PTR(err));
out:
	dput(data);
	if (vol)
		cowfs_volume_free(vol);
	dput(voldir.dentry);
	return err == -ENOMEM ? err : 0;
}

/* Delete what a removal or a crash left in STORE/.trash. */
static void cowfs_store_empty_trash(struct cowfs_store *st,
				    struct cowfs_names *nm)
{
	struct path trash = { .mnt = st->root.mnt };
	struct path victim;
	struct file *file;
	int n, left;
	char *name;

	trash.dentry = cowfs_store_lookup_unlocked(&st->layer, st->root.dentry,
						   COWFS_TRASH);
	if (IS_ERR(trash.dentry))
		return;
	if (!d_is_dir(trash.dentry))
		goto out;

	/* Each pass reads from the start: what it deletes is gone */
	for (;;) {
		file = cowfs_open_real_dir(&trash);
		if (IS_ERR(file))
			break;
		n = cowfs_names_read(file, nm);
		fput(file);
		if (n <= 0)
			break;
		for (name = cowfs_names_next(nm, NULL); name;
		     name = cowfs_names_next(nm, name)) {
			victim.dentry = cowfs_store_lookup_unlocked(&st->layer,
								    trash.dentry,
								    name);
			if (IS_ERR(victim.dentry))
				goto out;
			if (d_is_negative(victim.dentry)) {
				dput(victim.dentry);
				continue;
			}
			victim.mnt = mntget(trash.mnt);
			cowfs_store_rmtree(&victim, NULL);
		}
		/* Something could not be deleted: don't loop on it */
		file = cowfs_open_real_dir(&trash);
		if (IS_ERR(file))
			break;
		left = cowfs_names_read(file, nm);
		fput(file);
		if (left >= n)
			break;
	}
out:
	dput(trash.dentry);
}

static int cowfs_store_load_names(struct cowfs_store *st,
				  struct cowfs_names *nm,
				  int (*add)(struct cowfs_volume *vol))
{
	struct file *file;
	int err = 0, n;
	char *name;

	cowfs_store_empty_trash(st, nm);

	file = cowfs_open_real_dir(&st->root);
	if (IS_ERR(file))
		return PTR_ERR(file);
	do {
		/* Each read goes on where the last one stopped */
		n = cowfs_names_read(file, nm);
		if (n < 0) {
			err = n;
			break;
		}
		for (name = cowfs_names_next(nm, NULL); name;
		     name = cowfs_names_next(nm, name)) {
			if (cowfs_volume_name_valid(name))
				err = cowfs_store_load_one(st, name, add);
			if (err)
				break;
		}
	} while (n > 0 && !err);
	fput(file);
	return err;
}

/* Load every volume in the store, passing each to @add. */
int cowfs_store_load(struct cowfs_store *st,
		     int (*add)(struct cowfs_volume *vol))
{
	struct cowfs_names nm;
	int err;

	err = cowfs_names_alloc(&nm);
	if (err)
		return err;
	err = cowfs_store_load_names(st, &nm, add);
	cowfs_names_free(&nm);
	return err;
}
