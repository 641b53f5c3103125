// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: copying objects up from a lower layer into the upper layer.
 *
 * A copy-up builds the object in workdir (data, extended attributes,
 * ACLs, owner, mode and times), makes it durable, and only then renames
 * it into place: an error or a crash never leaves a partial object in the
 * upper layer.  Ancestors are copied up first.  The inode's mutex makes
 * concurrent writers of one lower file cause exactly one copy-up.
 *
 * Copied-up files carry trusted.overlay.origin, a file handle of the
 * lower file in overlayfs's format, so that lookup finds the lower file
 * again and st_ino does not change, also after a remount.
 *
 * With metacopy=on a regular file is copied up without its data when only
 * its metadata changes: the upper file gets the size but no blocks, and
 * trusted.overlay.metacopy.  The data follows in place on the first open
 * for write (or truncate), and only once it is durable does the xattr go.
 */
#include <linux/cred.h>
#include <linux/exportfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <linux/uuid.h>
#include <linux/xattr.h>

#include "cowfs.h"

#define COWFS_COPY_UP_CHUNK_SIZE	SZ_1M

/* overlayfs's on-disk file handle (trusted.overlay.origin) */
#define COWFS_FH_VERSION	0
#define COWFS_FH_MAGIC		0xfb
#ifdef __LITTLE_ENDIAN
#define COWFS_FH_FLAG_CPU_ENDIAN	0
#else
#define COWFS_FH_FLAG_CPU_ENDIAN	BIT(0)
#endif
/* The handle is of an upper object (the index directory's "upper") */
#define COWFS_FH_FLAG_PATH_UPPER	BIT(2)

struct cowfs_fb {
	u8 version;
	u8 magic;
	u8 len;		/* this header and the fid */
	u8 flags;
	u8 type;	/* fid_type of fid */
	uuid_t uuid;	/* of the lower file system */
	u32 fid[];
} __packed;

/*
 * Encode real object @real in overlayfs's format: as an origin, or with
 * @upper as an upper object.  NULL when its file system cannot.
 */
void *cowfs_encode_fh(struct dentry *real, bool upper, int *len)
{
	struct inode *inode = d_inode(real);
	int dwords = MAX_HANDLE_SZ >> 2;
	struct cowfs_fb *fb;
	int type;

	if (!exportfs_can_encode_fh(inode->i_sb->s_export_op, 0) ||
	    uuid_is_null(&inode->i_sb->s_uuid))
		return NULL;

	fb = kzalloc(sizeof(*fb) + MAX_HANDLE_SZ, GFP_KERNEL);
	if (!fb)
		return ERR_PTR(-ENOMEM);

	type = exportfs_encode_inode_fh(inode, (struct fid *)fb->fid, &dwords,
					NULL, 0);
	if (type < 0 || type == FILEID_INVALID || dwords > MAX_HANDLE_SZ >> 2) {
		kfree(fb);
		return NULL;
	}

	fb->version = COWFS_FH_VERSION;
	fb->magic = COWFS_FH_MAGIC;
	fb->flags = COWFS_FH_FLAG_CPU_ENDIAN;
	if (upper)
		fb->flags |= COWFS_FH_FLAG_PATH_UPPER;
	fb->type = type;
	fb->len = sizeof(*fb) + dwords * 4;
	uuid_copy(&fb->uuid, &inode->i_sb->s_uuid);
	*len = fb->len;
	return fb;
}

/* The origin recorded on @upper, NULL if none; the caller frees it. */
void *cowfs_get_origin(const struct cowfs_layer *layer, struct dentry *upper,
		       int *len)
{
	struct path path = { .mnt = layer->mnt, .dentry = upper };
	ssize_t res;
	void *buf;

	if (!(d_inode(upper)->i_opflags & IOP_XATTR))
		return NULL;

	res = cowfs_do_getxattr(&path, cowfs_layer_xattr(layer, COWFS_XA_ORIGIN),
				NULL, 0);
	if (res <= (ssize_t)sizeof(struct cowfs_fb) ||
	    res > sizeof(struct cowfs_fb) + MAX_HANDLE_SZ)
		return NULL;

	buf = kzalloc(res, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	res = cowfs_do_getxattr(&path, cowfs_layer_xattr(layer, COWFS_XA_ORIGIN),
				buf, res);
	if (res <= 0) {
		kfree(buf);
		return NULL;
	}
	*len = res;
	return buf;
}

/*
 * Is @fh, @len bytes, a file handle in overlayfs's format as we write it:
 * an origin, or with @upper an upper object's?
 */
bool cowfs_fh_valid(const void *fh, int len, bool upper)
{
	const struct cowfs_fb *fb = fh;

	return len > (int)sizeof(*fb) && fb->version == COWFS_FH_VERSION &&
	       fb->magic == COWFS_FH_MAGIC && fb->len == len &&
	       fb->flags == (COWFS_FH_FLAG_CPU_ENDIAN |
			     (upper ? COWFS_FH_FLAG_PATH_UPPER : 0)) &&
	       !((len - sizeof(*fb)) % 4);
}

/* Any non-directory will do: the file handle says which file it is. */
static int cowfs_acceptable(void *ctx, struct dentry *dentry)
{
	return !d_is_dir(dentry);
}

/*
 * Find the lower file a copied-up file came from by its file handle, in
 * the first lower layer on the filesystem the handle names.  Layers on one
 * filesystem share an st_ino index, so any of them gives the same number.
 */
struct dentry *cowfs_decode_origin(struct cowfs_fs *ofs, const void *origin,
				   int len, const struct cowfs_layer **layerp)
{
	const struct cowfs_fb *fb = origin;
	unsigned int i;

	/*
	 * With userxattr anyone who owns an upper file can write its origin:
	 * a handle must not be a way to reach (or probe) other inodes.
	 */
	if (ofs->config.userxattr)
		return NULL;
	if (!cowfs_fh_valid(origin, len, false))
		return NULL;

	/* Not in data-only layers, as overlayfs's ovl_check_origin_fh() */
	for (i = 1; i <= cowfs_numlowerlayer(ofs); i++) {
		const struct cowfs_layer *layer = &ofs->layers[i];
		struct super_block *sb = layer->mnt->mnt_sb;
		struct dentry *dentry;

		if (!uuid_equal(&fb->uuid, &sb->s_uuid) ||
		    !sb->s_export_op || !sb->s_export_op->fh_to_dentry)
			continue;

		dentry = exportfs_decode_fh(layer->mnt, (struct fid *)fb->fid,
					    (len - sizeof(*fb)) >> 2, fb->type,
					    cowfs_acceptable, NULL);
		if (IS_ERR_OR_NULL(dentry))
			return NULL;	/* gone from the lower layer */
		*layerp = layer;
		return dentry;
	}
	return NULL;
}

bool cowfs_origin_matches(struct cowfs_fs *ofs, struct dentry *lower,
			  const void *origin, int len)
{
	struct cowfs_fb *fb;
	int fblen;
	bool match;

	fb = cowfs_encode_fh(lower, false, &fblen);
	if (IS_ERR_OR_NULL(fb))
		return false;
	match = fblen == len && !memcmp(fb, origin, len);
	kfree(fb);
	return match;
}

/* Copy every xattr and ACL but our own bookkeeping to @new in @layer. */
int cowfs_copy_xattr(const struct cowfs_layer *layer,
		     const struct path *oldpath, struct dentry *new)
{
	struct dentry *old = oldpath->dentry;
	ssize_t list_size, size, value_size = 0;
	char *buf, *name, *value = NULL;
	int err = 0;

	if (!(d_inode(old)->i_opflags & IOP_XATTR) ||
	    !(d_inode(new)->i_opflags & IOP_XATTR))
		return 0;

	list_size = cowfs_do_listxattr(old, NULL, 0);
	if (list_size <= 0)
		return list_size == -EOPNOTSUPP ? 0 : list_size;

	buf = kvzalloc(list_size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	list_size = cowfs_do_listxattr(old, buf, list_size);
	if (list_size <= 0) {
		err = list_size;
		goto out;
	}

	for (name = buf; list_size > 0 && !err; name += size) {
		size = strnlen(name, list_size) + 1;
		list_size -= size;

		if (cowfs_is_private_xattr(layer->userxattr, name))
			continue;

		if (is_posix_acl_xattr(name)) {
			struct posix_acl *acl;

			acl = cowfs_do_get_acl(oldpath, name);
			if (IS_ERR_OR_NULL(acl)) {
				err = PTR_ERR_OR_ZERO(acl);
				if (err == -ENODATA || err == -EOPNOTSUPP)
					err = 0;
				continue;
			}
			err = cowfs_do_set_acl(layer, new, name, acl);
			posix_acl_release(acl);
			continue;
		}
retry:
		err = cowfs_do_getxattr(oldpath, name, value, value_size);
		if (err == -ERANGE)
			err = cowfs_do_getxattr(oldpath, name, NULL, 0);
		if (err < 0) {
			/* Gone or unreadable since it was listed: skip it */
			if (err == -ENODATA || err == -EOPNOTSUPP)
				err = 0;
			continue;
		}
		if (err > value_size) {
			void *new_value = kvmalloc(err, GFP_KERNEL);

			if (!new_value) {
				err = -ENOMEM;
				break;
			}
			kvfree(value);
			value = new_value;
			value_size = err;
			goto retry;
		}

		err = cowfs_do_setxattr(layer, new, name, value, err, 0);
		/* The upper may not know a security module's names */
		if (err == -EOPNOTSUPP &&
		    strncmp(name, XATTR_USER_PREFIX, XATTR_USER_PREFIX_LEN))
			err = 0;
	}
	kvfree(value);
out:
	kvfree(buf);
	return err;
}

/* Called without freeze protection, from the data copy. */
static int cowfs_set_size(struct cowfs_fs *ofs, struct dentry *upper,
			  loff_t size)
{
	struct iattr attr = {
		.ia_valid = ATTR_SIZE,
		.ia_size = size,
	};
	int err;

	cowfs_start_write(&ofs->layers[0]);
	inode_lock(d_inode(upper));
	err = cowfs_do_notify_change(&ofs->layers[0], upper, &attr);
	inode_unlock(d_inode(upper));
	cowfs_end_write(&ofs->layers[0]);
	return err;
}

/*
 * Copy-up reads the lower file once, from start to end, so read it ahead
 * a whole chunk at a time rather than in the device's default window
 * (often 128 KiB): fewer, larger reads, and the next chunk is on its way
 * while this one is written.  A file whose readahead is off stays so.
 */
static void cowfs_copy_up_readahead(struct file *file)
{
	unsigned int pages = COWFS_COPY_UP_CHUNK_SIZE >> PAGE_SHIFT;

	if (file->f_ra.ra_pages && file->f_ra.ra_pages < pages)
		file->f_ra.ra_pages = pages;
}

/*
 * Copy @len bytes of data: a clone when the file systems can share
 * extents, else in chunks by splice, skipping the holes the lower file
 * reports through SEEK_DATA so that sparse files stay sparse.  Called
 * without freeze protection: the clone and each splice take it.
 */
static int cowfs_copy_data(struct cowfs_fs *ofs, const struct path *lowerpath,
			   struct dentry *temp, loff_t len)
{
	struct path temppath = { .mnt = cowfs_upper_mnt(ofs), .dentry = temp };
	struct file *old_file, *new_file;
	loff_t old_pos = 0, new_pos = 0;
	loff_t data_end = 0;	/* end of the lower data being copied */
	loff_t size = len;
	bool skip_hole;
	loff_t cloned;
	int err = 0;

	old_file = dentry_open(lowerpath, O_LARGEFILE | O_RDONLY,
			       current_cred());
	if (IS_ERR(old_file))
		return PTR_ERR(old_file);

	new_file = dentry_open(&temppath, O_LARGEFILE | O_WRONLY,
			       current_cred());
	if (IS_ERR(new_file)) {
		err = PTR_ERR(new_file);
		goto out_old;
	}

	/*
	 * A clone writes no data, only the new file's extent map, which the
	 * upper file system journals ahead of the rename that later shows
	 * the file: no fsync needed (overlayfs skips it too).
	 */
	cloned = cowfs_do_clone(old_file, new_file, len);
	if (cloned == len)
		goto out_new;

	cowfs_copy_up_readahead(old_file);
	skip_hole = old_file->f_mode & FMODE_LSEEK;
	while (len > 0) {
		size_t this_len = min_t(loff_t, len, COWFS_COPY_UP_CHUNK_SIZE);
		ssize_t bytes;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}

		/*
		 * Two seeks for each extent of data, not one for each chunk:
		 * where the data starts (the hole before it is skipped) and
		 * where it ends.
		 */
		if (skip_hole && old_pos >= data_end) {
			loff_t data = vfs_llseek(old_file, old_pos, SEEK_DATA);

			if (data == -ENXIO)
				break;	/* only a hole left */
			if (data >= 0)
				data_end = vfs_llseek(old_file, data, SEEK_HOLE);
			if (data < 0 || data_end <= data) {
				skip_hole = false;
			} else if (data > old_pos) {
				len -= data - old_pos;
				old_pos = data;
				new_pos = data;
				continue;
			}
		}
		if (skip_hole)
			this_len = min_t(loff_t, this_len, data_end - old_pos);

		bytes = do_splice_direct(old_file, &old_pos, new_file, &new_pos,
					 this_len, SPLICE_F_MOVE);
		if (bytes <= 0) {
			err = bytes ?: -EIO;
			break;
		}
		len -= bytes;
	}

	/* A trailing hole was skipped: give the file its full size */
	if (!err && new_pos < size)
		err = cowfs_set_size(ofs, temp, size);
	if (!err)
		err = vfs_fsync(new_file, 0);
out_new:
	fput(new_file);
out_old:
	fput(old_file);
	return err;
}

/* Owner first, then mode (not for symlinks), then times. */
int cowfs_set_attr(const struct cowfs_layer *layer, struct dentry *upper,
		   const struct kstat *stat)
{
	struct iattr attr = {
		.ia_valid = ATTR_UID | ATTR_GID,
		.ia_vfsuid = VFSUIDT_INIT(stat->uid),
		.ia_vfsgid = VFSGIDT_INIT(stat->gid),
	};
	int err;

	inode_lock(d_inode(upper));
	err = cowfs_do_notify_change(layer, upper, &attr);
	if (!err && !S_ISLNK(stat->mode)) {
		attr = (struct iattr) {
			.ia_valid = ATTR_MODE,
			.ia_mode = stat->mode,
		};
		err = cowfs_do_notify_change(layer, upper, &attr);
	}
	if (!err) {
		attr = (struct iattr) {
			.ia_valid = ATTR_ATIME | ATTR_MTIME | ATTR_ATIME_SET |
				    ATTR_MTIME_SET,
			.ia_atime = stat->atime,
			.ia_mtime = stat->mtime,
		};
		err = cowfs_do_notify_change(layer, upper, &attr);
	}
	inode_unlock(d_inode(upper));
	return err;
}

/* Make the temporary object in locked workdir. */
static int cowfs_create_temp(struct cowfs_fs *ofs, struct dentry *temp,
			     const struct kstat *stat, const char *link)
{
	const struct cowfs_layer *upper = &ofs->layers[0];
	struct inode *wdir = d_inode(ofs->workdir);
	umode_t type = stat->mode & S_IFMT;

	switch (type) {
	case S_IFREG:
		return cowfs_do_create(upper, wdir, temp, type);
	case S_IFDIR:
		return cowfs_do_mkdir(upper, wdir, temp, 0);
	case S_IFLNK:
		return cowfs_do_symlink(upper, wdir, temp, link);
	default:
		return cowfs_do_mknod(upper, wdir, temp, type, stat->rdev);
	}
}

/*
 * Give the temporary object its xattrs, origin and attributes, after the
 * data: writing data would clear security.capability.
 */
static int cowfs_copy_metadata(struct cowfs_fs *ofs,
			       const struct path *lowerpath,
			       struct dentry *temp, const struct kstat *stat,
			       const struct cowfs_metacopy *mc)
{
	struct cowfs_fb *fb;
	int err, len;

	err = cowfs_copy_xattr(&ofs->layers[0], lowerpath, temp);
	if (err)
		return err;

	if (!S_ISDIR(stat->mode)) {
		fb = cowfs_encode_fh(lowerpath->dentry, false, &len);
		if (IS_ERR(fb))
			return PTR_ERR(fb);
		if (fb) {
			err = cowfs_do_setxattr(&ofs->layers[0], temp,
						cowfs_xattr(ofs, COWFS_XA_ORIGIN),
						fb, len, 0);
			kfree(fb);
			/*
			 * user.* xattrs are refused on symlinks and special
			 * files (userxattr): they go without an origin, as on
			 * overlayfs (ovl_set_origin_fh()).
			 */
			if (err == -EPERM && ofs->config.userxattr &&
			    !S_ISREG(stat->mode))
				err = 0;
			if (err)
				return err;
		}
	}

	/*
	 * Empty without a verity digest, as overlayfs writes it.  After the
	 * origin, as overlayfs: on ext4 (256-byte inodes) the origin fills
	 * the inode's xattr space, and this one goes to an xattr block that,
	 * being the same for every metacopy file, they all share.  The other
	 * order costs a block of every file.
	 */
	if (mc) {
		err = cowfs_do_setxattr(&ofs->layers[0], temp,
					cowfs_xattr(ofs, COWFS_XA_METACOPY),
					mc, mc->digest_algo ? mc->len : 0, 0);
		if (err)
			return err;
	}

	return cowfs_set_attr(&ofs->layers[0], temp, stat);
}

/*
 * A copy-up changes nothing the union shows about the parent: its upper
 * directory's times are read before the new name goes in, and put back.
 */
static int cowfs_save_dir_times(struct cowfs_fs *ofs, struct dentry *upperdir,
				struct kstat *pstat)
{
	struct path parentpath = {
		.mnt = cowfs_upper_mnt(ofs),
		.dentry = upperdir,
	};

	return cowfs_do_getattr(&parentpath, pstat, STATX_ATIME | STATX_MTIME,
				AT_STATX_SYNC_AS_STAT);
}

static void cowfs_restore_dir_times(struct cowfs_fs *ofs,
				    struct dentry *upperdir,
				    const struct kstat *pstat)
{
	struct iattr attr = {
		.ia_valid = ATTR_ATIME | ATTR_MTIME | ATTR_ATIME_SET |
			    ATTR_MTIME_SET,
		.ia_atime = pstat->atime,
		.ia_mtime = pstat->mtime,
	};

	inode_lock(d_inode(upperdir));
	cowfs_do_notify_change(&ofs->layers[0], upperdir, &attr);
	inode_unlock(d_inode(upperdir));
}

/*
 * fsync=strict: the temporary object's metadata (and a directory's
 * entries) reach the disk before the rename shows it, for filesystems that
 * do not order metadata updates (overlayfs's ovl_sync_file()).
 */
static int cowfs_sync_temp(struct cowfs_fs *ofs, struct dentry *temp)
{
	struct path path = { .mnt = cowfs_upper_mnt(ofs), .dentry = temp };

	if (!ofs->config.fsync_strict ||
	    !(d_is_reg(temp) || d_is_dir(temp)))
		return 0;
	return cowfs_fsync_path(&path, 0, LLONG_MAX, 0);
}

/*
 * Rename the finished temporary object to @name in @upperdir (the index
 * directory for an indexed one), and make it @inode's upper object, with
 * @iflags (COWFS_I_METACOPY, COWFS_I_INDEX) set first.
 */
static int cowfs_install_temp(struct cowfs_fs *ofs, struct inode *inode,
			      struct dentry *temp, struct dentry *upperdir,
			      const struct qstr *name, unsigned long iflags)
{
	struct dentry *trap, *upper;
	struct kstat pstat;
	int err;

	err = cowfs_save_dir_times(ofs, upperdir, &pstat);
	if (err)
		return err;

	trap = lock_rename(ofs->workdir, upperdir);
	if (IS_ERR(trap))
		return -EXDEV;
	/* Locks were dropped for the data copy: is temp still in workdir? */
	if (trap || temp->d_parent != ofs->workdir) {
		err = -EIO;
		goto out_unlock;
	}

	upper = cowfs_do_lookup_locked(&ofs->layers[0], name->name, upperdir,
				       name->len);
	if (IS_ERR(upper)) {
		err = PTR_ERR(upper);
		goto out_unlock;
	}
	if (d_is_positive(upper)) {
		/* Someone wrote to the upper layer behind the union's back */
		pr_warn_ratelimited("copy-up target '%pd2' already exists\n",
				    upper);
		err = -EEXIST;
	} else {
		err = cowfs_do_rename(&ofs->layers[0], d_inode(ofs->workdir),
				      temp, d_inode(upperdir), upper, 0);
	}
	/*
	 * temp is the upper object now.  Publish it before the upper
	 * directory is unlocked: a lookup that finds the name there must
	 * find the inode copied up too (cowfs_get_inode() checks).
	 */
	if (!err) {
		/* The data is still below: say so before the upper shows */
		if (iflags & BIT(COWFS_I_METACOPY))
			set_bit(COWFS_I_METACOPY, &COWFS_I(inode)->flags);
		/* And that its link count is the union's from now on */
		if (iflags & BIT(COWFS_I_INDEX))
			set_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags);
		/* And that it holds no data yet (copyup=partial) */
		if (iflags & BIT(COWFS_I_PARTIAL))
			set_bit(COWFS_I_PARTIAL, &COWFS_I(inode)->flags);
		/* Pairs with smp_load_acquire() in cowfs_upperdentry() */
		smp_store_release(&COWFS_I(inode)->__upperdentry, temp);
	}
	dput(upper);
out_unlock:
	unlock_rename(ofs->workdir, upperdir);
	if (!err)
		cowfs_restore_dir_times(ofs, upperdir, &pstat);
	return err;
}

/*
 * @dentry's inode has an upper object already, copied up through another
 * name of the same lower file (a redirect in a lower layer shows a lower
 * directory at two names), but @dentry's own name is not in the upper
 * layer: hard-link it there, as overlayfs's ovl_link_up().  Called with
 * the inode's copy-up lock held and write access to the upper layer.
 */
static int cowfs_link_up(struct cowfs_fs *ofs, struct dentry *parent,
			 struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	bool indexed = test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags);
	struct dentry *upperdir = cowfs_dentry_upper(parent);
	struct inode *udir = d_inode(upperdir);
	struct dentry *upper;
	struct kstat pstat;
	int err;

	/* Directories have one name; a volume's objects have no lower */
	if (S_ISDIR(inode->i_mode) ||
	    COWFS_I(inode)->upper_layer != cowfs_upper_layer(d_inode(parent)))
		return -ESTALE;

	err = cowfs_save_dir_times(ofs, upperdir, &pstat);
	if (err)
		return err;

	cowfs_start_write(&ofs->layers[0]);
	/* The name's st_ino and readdir's d_ino come from the origin now */
	err = cowfs_do_setxattr(&ofs->layers[0], upperdir,
				cowfs_xattr(ofs, COWFS_XA_IMPURE), "y", 1, 0);
	if (err && err != -EOPNOTSUPP)
		goto out_end_write;
	/*
	 * Indexed: the union's count does not change, the entry's does.
	 * Kept relative to the lower file's over the link, then to the
	 * entry's again (index.c).
	 */
	err = 0;
	if (indexed)
		err = cowfs_set_nlink_lower(inode);
	if (err)
		goto out_end_write;

	inode_lock_nested(udir, I_MUTEX_PARENT);
	upper = cowfs_do_lookup_locked(&ofs->layers[0], dentry->d_name.name,
				       upperdir, dentry->d_name.len);
	err = PTR_ERR_OR_ZERO(upper);
	if (!err) {
		if (d_is_negative(upper)) {
			err = cowfs_do_link(&ofs->layers[0],
					    cowfs_upperdentry(inode), udir,
					    upper);
		} else {
			pr_warn_ratelimited("link-up target '%pd2' already exists\n",
					    upper);
			err = -EEXIST;
		}
		dput(upper);
	}
	if (!err)
		cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, dentry);
	inode_unlock(udir);
	if (!err) {
		cowfs_restore_dir_times(ofs, upperdir, &pstat);
		cowfs_copyattr(inode);
		if (indexed)
			err = cowfs_set_nlink_upper(inode);
	}
out_end_write:
	cowfs_end_write(&ofs->layers[0]);
	return err;
}

/* Does a copy-up for an open with @flags need the data (not metacopy)? */
static bool cowfs_copy_up_wants_data(int flags)
{
	return (OPEN_FMODE(flags) & FMODE_WRITE) || (flags & O_TRUNC);
}

/* Is @dentry in the upper layer, with its data if @flags want it? */
static bool cowfs_copy_up_done(struct dentry *dentry, int flags)
{
	return cowfs_already_copied_up(dentry) &&
	       (cowfs_has_upperdata(d_inode(dentry)) ||
		!cowfs_copy_up_wants_data(flags));
}

/*
 * Copy the data of metacopy file @dentry into its upper file, in place.
 * Until the metacopy xattr goes the union reads the lower data, so a copy
 * cut short (an error, a crash) leaves the file as it was; the data is
 * durable before the xattr goes.  As on overlayfs, the copy's writes
 * update the file's mtime.  O_TRUNC in @flags: the data is about to be
 * thrown away, so the file is emptied instead.  Called with the inode's
 * copy-up lock and write access to the upper layer.
 */
static int cowfs_copy_up_data(struct cowfs_fs *ofs, struct dentry *dentry,
			      int flags)
{
	const struct cowfs_layer *upper = &ofs->layers[0];
	struct inode *inode = d_inode(dentry);
	struct path upperpath, datapath;
	char cap[XATTR_CAPS_SZ_3];
	ssize_t cap_size = 0;
	struct kstat stat;
	int err;

	cowfs_path_upper(dentry, &upperpath);
	cowfs_path_realdata(dentry, &datapath);
	if (WARN_ON_ONCE(!upperpath.dentry || !datapath.dentry ||
			 datapath.dentry == upperpath.dentry))
		return -EIO;
	/* verity=on: the data must be what the metacopy file says */
	err = cowfs_verify_lowerdata_locked(dentry);
	if (err)
		return err;

	err = cowfs_do_getattr(&upperpath, &stat, STATX_BASIC_STATS,
			       AT_STATX_SYNC_AS_STAT);
	if (err)
		return err;

	if (flags & O_TRUNC) {
		err = cowfs_set_size(ofs, upperpath.dentry, 0);
	} else {
		/* Writing data clears security.capability: put it back after */
		cap_size = cowfs_do_getxattr(&upperpath, XATTR_NAME_CAPS, cap,
					     sizeof(cap));
		if (cap_size == -ENODATA || cap_size == -EOPNOTSUPP)
			cap_size = 0;
		if (cap_size < 0)
			return cap_size;
		err = cowfs_copy_data(ofs, &datapath, upperpath.dentry,
				      stat.size);
	}
	if (err)
		return err;

	cowfs_start_write(upper);
	if (cap_size)
		err = cowfs_do_setxattr(upper, upperpath.dentry,
					XATTR_NAME_CAPS, cap, cap_size, 0);
	if (!err)
		err = cowfs_do_removexattr(upper, upperpath.dentry,
					   cowfs_xattr(ofs, COWFS_XA_METACOPY));
	cowfs_end_write(upper);
	if (err)
		return err;

	/* Pairs with test_bit_acquire() in cowfs_has_upperdata() */
	clear_bit_unlock(COWFS_I_METACOPY, &COWFS_I(inode)->flags);
	if (!(flags & O_TRUNC))
		atomic64_add(stat.size, &ofs->stats.copy_up_bytes);
	cowfs_copyattr(inode);
	return 0;
}

static int cowfs_copy_up_one(struct dentry *parent, struct dentry *dentry,
			     int flags)
{
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	const struct cowfs_layer *upper = &ofs->layers[0];
	struct inode *inode = d_inode(dentry);
	struct cowfs_inode *oi = COWFS_I(inode);
	bool copy_data = !(flags & O_TRUNC);
	DEFINE_DELAYED_CALL(done);
	const struct cred *old_cred;
	struct path lowerpath, datapath;
	struct cowfs_metacopy mc;
	bool metacopy, indexed, partial;
	const char *link = NULL;
	struct dentry *temp, *destdir;
	const char *indexname = NULL;
	struct qstr destname;
	struct kstat stat;
	int err;

	cowfs_path_lower(dentry, &lowerpath);
	if (WARN_ON_ONCE(!lowerpath.dentry))
		return -EIO;

	err = mutex_lock_interruptible(&oi->lock);
	if (err)
		return err;
	/* Someone else copied it up while we waited */
	if (cowfs_copy_up_done(dentry, flags))
		goto out_unlock;
	/*
	 * Removed while we waited (cowfs_remove() holds the lock too): the
	 * name is a whiteout now.  ESTALE makes the VFS look the name up
	 * again, and find nothing.
	 */
	err = -ESTALE;
	if (d_unhashed(dentry))
		goto out_unlock;

	/* Write access for the whole copy-up; freeze protection in steps */
	err = cowfs_get_write_access(upper);
	if (err)
		goto out_unlock;

	old_cred = cowfs_override_creds(dentry->d_sb);
	if (cowfs_upperdentry(inode)) {
		/* Copied up through another name: this one is a link to it */
		if (!cowfs_dentry_test_flag(COWFS_E_UPPER_ALIAS, dentry))
			err = cowfs_link_up(ofs, parent, dentry);
		/* A metacopy file about to be written: its data now */
		if (!err && !cowfs_copy_up_done(dentry, flags))
			err = cowfs_copy_up_data(ofs, dentry, flags);
		goto out_revert;
	}
	err = cowfs_do_getattr(&lowerpath, &stat, STATX_BASIC_STATS,
			       AT_STATX_SYNC_AS_STAT);
	if (err)
		goto out_revert;
	/* metacopy=on: a change of metadata only copies up metadata only */
	metacopy = ofs->config.metacopy && S_ISREG(stat.mode) &&
		   !cowfs_copy_up_wants_data(flags);
	cowfs_path_realdata(dentry, &datapath);
	/* A lower metacopy file's data must be what it says (verity=on) */
	err = cowfs_verify_lowerdata_locked(dentry);
	/* With the data's digest; verity=require, none: all of it, then */
	if (!err && metacopy) {
		err = cowfs_verity_metacopy(ofs, &datapath, &mc);
		if (err == -ENODATA) {
			metacopy = false;
			err = 0;
		}
	}
	if (err)
		goto out_revert;

	if (S_ISLNK(stat.mode)) {
		link = vfs_get_link(lowerpath.dentry, &done);
		if (IS_ERR(link)) {
			err = PTR_ERR(link);
			goto out_revert;
		}
	}

	/*
	 * index=on, a lower hard link: into the index, named by the lower
	 * file, then this name is linked to it (cowfs_link_up()).
	 */
	indexed = cowfs_need_index(dentry);
	/* copyup=partial: no data yet, each write copies what it touches */
	partial = !metacopy && copy_data && S_ISREG(stat.mode) &&
		  cowfs_want_partial(dentry, stat.size, flags);
	destdir = cowfs_dentry_upper(parent);
	destname = dentry->d_name;
	if (indexed) {
		err = cowfs_index_name(lowerpath.dentry, &destname);
		if (err)
			goto out_revert;
		indexname = destname.name;
		destdir = ofs->indexdir;
	}

	cowfs_start_write(upper);
	inode_lock_nested(d_inode(ofs->workdir), I_MUTEX_PARENT);
	temp = cowfs_lookup_temp(ofs, ofs->workdir);
	err = PTR_ERR_OR_ZERO(temp);
	if (!err) {
		err = cowfs_create_temp(ofs, temp, &stat, link);
		if (err)
			dput(temp);
	}
	inode_unlock(d_inode(ofs->workdir));
	cowfs_end_write(upper);
	if (err)
		goto out_revert;

	/*
	 * The temporary object is ours alone: copy data without locks, from
	 * the lower data file (a lower metacopy file has only the metadata).
	 * A metacopy file gets the size, as a hole.
	 */
	if (metacopy || partial)
		err = cowfs_set_size(ofs, temp, stat.size);
	else if (S_ISREG(stat.mode) && copy_data)
		err = cowfs_copy_data(ofs, &datapath, temp, stat.size);

	cowfs_start_write(upper);
	if (!err)
		err = cowfs_copy_metadata(ofs, &lowerpath, temp, &stat,
					  metacopy ? &mc : NULL);
	/* copyup=partial: the record of which granules it holds (none) */
	if (!err && partial) {
		oi->partial = cowfs_partial_init(ofs, temp, stat.size);
		if (IS_ERR(oi->partial)) {
			err = PTR_ERR(oi->partial);
			oi->partial = NULL;
		}
		/*
		 * No room for the record next to the lower file's xattrs:
		 * a full copy-up then.  The data goes in first, then the
		 * metadata again, since writing drops setuid and caps.
		 */
		if (cowfs_partial_unfit(err)) {
			partial = false;
			cowfs_end_write(upper);
			err = cowfs_copy_data(ofs, &datapath, temp, stat.size);
			cowfs_start_write(upper);
			if (!err)
				err = cowfs_copy_metadata(ofs, &lowerpath, temp,
							  &stat, NULL);
		}
	}
	if (!err)
		err = cowfs_sync_temp(ofs, temp);
	if (!err)
		err = cowfs_install_temp(ofs, inode, temp, destdir, &destname,
					 (metacopy ? BIT(COWFS_I_METACOPY) : 0) |
					 (indexed ? BIT(COWFS_I_INDEX) : 0) |
					 (partial ? BIT(COWFS_I_PARTIAL) : 0));
	if (err && partial) {
		/* Not published: no reader has seen it */
		cowfs_partial_free(oi->partial);
		oi->partial = NULL;
	}
	if (err) {
		inode_lock_nested(d_inode(ofs->workdir), I_MUTEX_PARENT);
		/* Not if someone moved it out of workdir meanwhile */
		if (temp->d_parent == ofs->workdir)
			cowfs_cleanup(upper, d_inode(ofs->workdir), temp);
		inode_unlock(d_inode(ofs->workdir));
		cowfs_end_write(upper);
		dput(temp);
		goto out_revert;
	}
	/*
	 * The entry's count, for a mount after a crash before the link:
	 * nothing copied up yet, the union's names are the lower ones.  If
	 * the link fails, the entry stays, and the next copy-up links it.
	 */
	if (indexed)
		err = cowfs_set_nlink_upper(inode);
	else
		cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, dentry);
	cowfs_end_write(upper);
	if (!err && indexed)
		err = cowfs_link_up(ofs, parent, dentry);
	if (err)
		goto out_revert;

	atomic64_inc(&ofs->stats.copy_ups);
	/* A partial file's granules count as they are copied */
	if (S_ISREG(stat.mode) && copy_data && !metacopy && !partial)
		atomic64_add(stat.size, &ofs->stats.copy_up_bytes);
	cowfs_copyattr(inode);

out_revert:
	cowfs_revert_creds(old_cred);
	do_delayed_call(&done);
	kfree(indexname);
	cowfs_put_write_access(upper);
out_unlock:
	mutex_unlock(&oi->lock);
	return err;
}

/*
 * Copy @dentry up, with its ancestors first, for an open with @flags: for
 * writing (or truncating) with its data, else (metacopy=on) perhaps only
 * its metadata.  O_TRUNC in @flags: the data is about to be thrown away,
 * so don't copy it.
 */
int cowfs_copy_up_flags(struct dentry *dentry, int flags)
{
	int err = 0;

	if (cowfs_copy_up_done(dentry, flags))
		return 0;
	if (!cowfs_has_upper(COWFS_FS(dentry->d_sb)))
		return -EROFS;

	while (!err && !cowfs_copy_up_done(dentry, flags)) {
		struct dentry *next = dget(dentry);
		struct dentry *parent;

		/* The topmost ancestor that is not yet in the upper layer */
		for (;;) {
			parent = dget_parent(next);
			if (cowfs_dentry_upper(parent))
				break;
			dput(next);
			next = parent;
		}

		err = cowfs_copy_up_one(parent, next,
					next == dentry ? flags : 0);
		dput(parent);
		dput(next);
	}
	return err;
}

/* Copy @dentry up for a change of metadata (metacopy=on: without data) */
int cowfs_copy_up(struct dentry *dentry)
{
	return cowfs_copy_up_flags(dentry, 0);
}
