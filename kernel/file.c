// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: regular files.
 *
 * Opening a cowfs file opens the real file behind it as a backing file, and
 * every I/O operation is handed to it through the backing_file helpers, so
 * that the page cache is the real file's: any number of containers reading
 * one image file share one copy of its pages.
 *
 * Opening a lower file for writing copies it up first.  A file opened for
 * reading before a copy-up keeps working: on its next read it switches to
 * the upper file (opened once and kept until release), so it sees what was
 * written since, as a file on one filesystem would.  A mapping made before
 * the copy-up stays on the lower file.  A metacopy file's data is its lower
 * data file's until its data is copied up too (metacopy=on).
 */
#include <linux/backing-file.h>
#include <linux/cred.h>
#include <linux/fadvise.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/uio.h>

#include "cowfs.h"

/* Never let reading through the union touch the lower file's atime. */
#define COWFS_OPEN_FLAGS	(O_NOATIME)

/* Flags that fcntl(F_SETFL) may change after open. */
#define COWFS_SETFL_MASK	(O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT)

struct cowfs_file {
	struct file *realfile;
	/* The upper file, once the file was copied up under this open */
	struct file *upperfile;
	/* A partial file's lower file, read-only, once read (partial.c) */
	struct file *lowerfile;
};

static struct file *cowfs_open_realfile_flags(const struct file *file,
					      const struct path *realpath,
					      int flags)
{
	struct inode *realinode = d_inode(realpath->dentry);
	struct mnt_idmap *real_idmap = mnt_idmap(realpath->mnt);
	int acc_mode = ACC_MODE(flags);
	const struct cred *old_cred;
	struct file *realfile;
	int err;

	if (flags & O_APPEND)
		acc_mode |= MAY_APPEND;

	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	err = inode_permission(real_idmap, realinode, MAY_OPEN | acc_mode);
	if (err) {
		realfile = ERR_PTR(err);
	} else {
		if (!inode_owner_or_capable(real_idmap, realinode))
			flags &= ~O_NOATIME;
#ifdef COWFS_BACKING_FILE_OPEN_USER_FILE
		realfile = backing_file_open(file, flags, realpath,
					     current_cred());
#else
		realfile = backing_file_open(&file->f_path, flags, realpath,
					     current_cred());
#endif
	}
	cowfs_revert_creds(old_cred);

	pr_debug("open(%pD2, 0%o) = %pe\n", file, flags, realfile);
	return realfile;
}

static struct file *cowfs_open_realfile(const struct file *file,
					const struct path *realpath)
{
	return cowfs_open_realfile_flags(file, realpath,
					 file->f_flags | COWFS_OPEN_FLAGS);
}

static int cowfs_change_flags(struct file *realfile, unsigned int flags)
{
	struct inode *inode = file_inode(realfile);
	int err;

	flags &= COWFS_SETFL_MASK;

	if (((flags ^ realfile->f_flags) & O_APPEND) && IS_APPEND(inode))
		return -EPERM;

	if ((flags & O_DIRECT) && !(realfile->f_mode & FMODE_CAN_ODIRECT))
		return -EINVAL;

	if (realfile->f_op->check_flags) {
		err = realfile->f_op->check_flags(flags);
		if (err)
			return err;
	}

	spin_lock(&realfile->f_lock);
	realfile->f_flags = (realfile->f_flags & ~COWFS_SETFL_MASK) | flags;
	realfile->f_iocb_flags = iocb_flags(realfile);
	spin_unlock(&realfile->f_lock);
	return 0;
}

/*
 * The real file behind @file, valid until @file is released, with the
 * status flags that fcntl(F_SETFL) set on @file since it was opened.
 */
static struct file *cowfs_real_file(struct file *file)
{
	struct cowfs_file *of = file->private_data;
	struct file *realfile = READ_ONCE(of->upperfile) ?: of->realfile;
	struct dentry *upper = cowfs_dentry_upper(file_dentry(file));
	int err;

	/* Copied up since we opened it: from now on, read the upper file */
	if (unlikely(upper && file_inode(realfile) != d_inode(upper) &&
		     cowfs_has_upperdata(file_inode(file)))) {
		struct path upperpath;
		struct file *f;

		cowfs_path_upper(file_dentry(file), &upperpath);
		f = cowfs_open_realfile(file, &upperpath);

		if (IS_ERR(f))
			return f;
		realfile = cmpxchg(&of->upperfile, NULL, f);
		if (realfile)
			fput(f);	/* another thread was first */
		else
			realfile = f;
	}

	if (unlikely((file->f_flags ^ realfile->f_flags) & COWFS_SETFL_MASK)) {
		err = cowfs_change_flags(realfile, file->f_flags);
		if (err)
			return ERR_PTR(err);
	}
	return realfile;
}

/*
 * The lower file of partial file @file, opened for reading the granules
 * its upper file does not hold yet; valid until @file is released.
 */
static struct file *cowfs_lower_file(struct file *file)
{
	struct cowfs_file *of = file->private_data;
	struct file *lowerfile = READ_ONCE(of->lowerfile);
	struct path lowerpath;
	struct file *f;

	if (lowerfile)
		return lowerfile;
	cowfs_path_lower(file_dentry(file), &lowerpath);
	f = cowfs_open_realfile_flags(file, &lowerpath,
				      (file->f_flags & O_DIRECT) | O_RDONLY |
				      O_LARGEFILE | COWFS_OPEN_FLAGS);
	if (IS_ERR(f))
		return f;
	lowerfile = cmpxchg(&of->lowerfile, NULL, f);
	if (lowerfile) {
		fput(f);	/* another thread was first */
		return lowerfile;
	}
	return f;
}

static bool cowfs_open_need_copy_up(struct inode *inode, int flags)
{
	if (special_file(inode->i_mode))
		return false;
	return (OPEN_FMODE(flags) & FMODE_WRITE) || (flags & O_TRUNC);
}

static int cowfs_open(struct inode *inode, struct file *file)
{
	struct cowfs_file *of;
	struct file *realfile;
	struct path realpath;
	int err;

	if (cowfs_open_need_copy_up(inode, file->f_flags)) {
		err = cowfs_copy_up_flags(file_dentry(file), file->f_flags);
		if (err)
			return err;
	}
	/* A metacopy file's data, checked against its digest (verity=on) */
	err = cowfs_verify_lowerdata(file_dentry(file));
	if (err)
		return err;

	of = kzalloc(sizeof(*of), GFP_KERNEL);
	if (!of)
		return -ENOMEM;

	/* No longer needed: don't pass them on to the real filesystem */
	file->f_flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);

	cowfs_path_realdata(file_dentry(file), &realpath);
	realfile = cowfs_open_realfile(file, &realpath);
	if (IS_ERR(realfile)) {
		kfree(of);
		return PTR_ERR(realfile);
	}

	of->realfile = realfile;
	file->private_data = of;
	/* O_DIRECT works through the union when it works on the real file */
	if (realfile->f_mode & FMODE_CAN_ODIRECT)
		file->f_mode |= FMODE_CAN_ODIRECT;
	return 0;
}

static int cowfs_release(struct inode *inode, struct file *file)
{
	struct cowfs_file *of = file->private_data;

	if (of->upperfile)
		fput(of->upperfile);
	if (of->lowerfile)
		fput(of->lowerfile);
	fput(of->realfile);
	kfree(of);
	return 0;
}

static void cowfs_file_accessed(struct file *file)
{
	cowfs_copyattr(file_inode(file));
}

static void cowfs_file_end_write(struct file *file, loff_t pos, ssize_t ret)
{
	cowfs_copyattr(file_inode(file));
}

static void cowfs_init_ctx(struct backing_file_ctx *ctx, struct file *file)
{
	*ctx = (struct backing_file_ctx) {
		.cred = COWFS_FS(file_inode(file)->i_sb)->creator_cred,
		.user_file = file,
		.accessed = cowfs_file_accessed,
		.end_write = cowfs_file_end_write,
	};
}

/* Each granule from the file that holds it, the upper @realfile or lower */
static ssize_t cowfs_read_partial(struct kiocb *iocb, struct iov_iter *iter,
				  struct file *realfile)
{
	struct file *file = iocb->ki_filp;
	const struct cred *old_cred;
	struct file *lowerfile;
	ssize_t ret;

	lowerfile = cowfs_lower_file(file);
	if (IS_ERR(lowerfile))
		return PTR_ERR(lowerfile);
	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	ret = cowfs_partial_read(file_inode(file), iocb, iter, realfile,
				 lowerfile);
	cowfs_revert_creds(old_cred);
	cowfs_file_accessed(file);
	return ret;
}

/* SEEK_DATA, SEEK_HOLE in a partial file: each granule's own file */
static loff_t cowfs_partial_seek(struct file *file, struct file *realfile,
				 loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;
	struct file *lowerfile;
	loff_t ret;

	lowerfile = cowfs_lower_file(file);
	if (IS_ERR(lowerfile))
		return PTR_ERR(lowerfile);
	mutex_lock(&COWFS_I(inode)->lock);
	old_cred = cowfs_override_creds(inode->i_sb);
	ret = cowfs_partial_llseek(inode, realfile, lowerfile, offset, whence);
	cowfs_revert_creds(old_cred);
	if (ret >= 0)
		ret = vfs_setpos(file, ret, inode->i_sb->s_maxbytes);
	mutex_unlock(&COWFS_I(inode)->lock);
	return ret;
}

/*
 * A user buffer mapped from a partial file is filled when it faults, and
 * a fill takes the upper file's i_rwsem and freeze protection, which a
 * real file's write (or O_DIRECT read) holds while it faults on its
 * buffer (partial.c): on a copyup=partial mount, fault @iter in first,
 * for reading if it is a write's source (@from).  Cut short to what
 * could be faulted in; -EFAULT if nothing could.
 */
static ssize_t cowfs_prefault(struct file *file, struct iov_iter *iter,
			      bool from)
{
	size_t count = iov_iter_count(iter), left;

	if (!COWFS_FS(file_inode(file)->i_sb)->config.copyup_partial ||
	    !user_backed_iter(iter))
		return 0;
	left = from ? fault_in_iov_iter_readable(iter, count) :
		      fault_in_iov_iter_writeable(iter, count);
	if (left == count)
		return -EFAULT;
	iov_iter_truncate(iter, count - left);
	return 0;
}

static ssize_t cowfs_read_iter(struct kiocb *iocb, struct iov_iter *iter)
{
	struct file *file = iocb->ki_filp;
	struct backing_file_ctx ctx;
	struct file *realfile;
	ssize_t ret;

	if (!iov_iter_count(iter))
		return 0;
	/* An O_DIRECT read holds the real file's lock while it faults */
	if (iocb->ki_flags & IOCB_DIRECT) {
		ret = cowfs_prefault(file, iter, false);
		if (ret)
			return ret;
	}

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	if (unlikely(cowfs_is_partial(file_inode(file))))
		return cowfs_read_partial(iocb, iter, realfile);

	cowfs_init_ctx(&ctx, file);
	return backing_file_read_iter(realfile, iter, iocb, iocb->ki_flags,
				      &ctx);
}

static ssize_t cowfs_write_iter(struct kiocb *iocb, struct iov_iter *iter)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct backing_file_ctx ctx;
	struct file *realfile;
	ssize_t ret;

	if (!iov_iter_count(iter))
		return 0;

	ret = cowfs_prefault(file, iter, true);
	if (ret)
		return ret;

	inode_lock(inode);
	/* Update mode (and with it the setuid bits) before writing */
	cowfs_copyattr(inode);
	realfile = cowfs_real_file(file);
	/* A partial file: the granules written to first (partial.c) */
	if (!IS_ERR(realfile) && unlikely(cowfs_is_partial(inode))) {
		loff_t pos = iocb->ki_flags & IOCB_APPEND ? i_size_read(inode) :
							   iocb->ki_pos;

		ret = cowfs_partial_fill(inode, pos,
					 pos + iov_iter_count(iter));
		if (ret)
			realfile = ERR_PTR(ret);
	}
	if (IS_ERR(realfile)) {
		ret = PTR_ERR(realfile);
	} else {
		int flags = iocb->ki_flags;
		bool synced = false;

		/* O_DSYNC: the record too, as cowfs_fsync() */
		if ((flags & IOCB_DSYNC) && !(flags & IOCB_SYNC)) {
			synced = cowfs_partial_synced(inode);
			if (synced)
				flags |= IOCB_SYNC;
		}
		cowfs_init_ctx(&ctx, file);
		ret = backing_file_write_iter(realfile, iter, iocb, flags,
					      &ctx);
		if (synced && ret < 0 && ret != -EIOCBQUEUED)
			cowfs_partial_unsynced(inode);
	}
	inode_unlock(inode);
	return ret;
}

static ssize_t cowfs_splice_write(struct pipe_inode_info *pipe,
				  struct file *out, loff_t *ppos, size_t len,
				  unsigned int flags)
{
	struct inode *inode = file_inode(out);
	struct backing_file_ctx ctx;
	struct file *realfile;
	ssize_t ret;

	/* Through cowfs_write_iter(), which fills what it writes to */
	if (unlikely(cowfs_is_partial(inode)))
		return iter_file_splice_write(pipe, out, ppos, len, flags);

	inode_lock(inode);
	cowfs_copyattr(inode);
	realfile = cowfs_real_file(out);
	if (IS_ERR(realfile)) {
		ret = PTR_ERR(realfile);
	} else {
		cowfs_init_ctx(&ctx, out);
		ret = backing_file_splice_write(pipe, realfile, ppos, len,
						flags, &ctx);
	}
	inode_unlock(inode);
	return ret;
}

static ssize_t cowfs_splice_read(struct file *in, loff_t *ppos,
				 struct pipe_inode_info *pipe, size_t len,
				 unsigned int flags)
{
	struct backing_file_ctx ctx;
	struct file *realfile;

	/* Through cowfs_read_iter(), which reads from both files */
	if (unlikely(cowfs_is_partial(file_inode(in))))
		return copy_splice_read(in, ppos, pipe, len, flags);

	realfile = cowfs_real_file(in);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	cowfs_init_ctx(&ctx, in);
	return backing_file_splice_read(realfile, ppos, pipe, len, flags, &ctx);
}

static int cowfs_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct inode *inode = file_inode(file);
	struct backing_file_ctx ctx;
	struct file *realfile;
	int err;

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	cowfs_init_ctx(&ctx, file);
	err = backing_file_mmap(realfile, vma, &ctx);
	/* A partial file's pages: each granule there before it is mapped */
	if (!err && unlikely(cowfs_is_partial(inode)) &&
	    file_inode(realfile) == d_inode(cowfs_upperdentry(inode)))
		err = cowfs_partial_mmap(inode, vma);
	return err;
}

/*
 * f_pos of the cowfs file is the master copy; the real file knows how to
 * seek in its data (SEEK_DATA, SEEK_HOLE, its own size limits).
 */
static loff_t cowfs_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;
	struct file *realfile;
	loff_t ret;

	/* Nothing to ask the real file for a plain seek to the start */
	if (offset == 0 && (whence == SEEK_SET || whence == SEEK_CUR)) {
		if (whence == SEEK_SET)
			return vfs_setpos(file, 0, 0);
		return file->f_pos;
	}

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	/* A partial file's data and holes are those of two files */
	if (unlikely(cowfs_is_partial(inode)) &&
	    (whence == SEEK_DATA || whence == SEEK_HOLE))
		return cowfs_partial_seek(file, realfile, offset, whence);

	mutex_lock(&COWFS_I(inode)->lock);
	realfile->f_pos = file->f_pos;
	old_cred = cowfs_override_creds(inode->i_sb);
	ret = vfs_llseek(realfile, offset, whence);
	cowfs_revert_creds(old_cred);
	file->f_pos = realfile->f_pos;
	mutex_unlock(&COWFS_I(inode)->lock);

	return ret;
}

static int cowfs_fadvise(struct file *file, loff_t offset, loff_t len,
			 int advice)
{
	const struct cred *old_cred;
	struct file *realfile;
	int ret;

	/*
	 * "All of it will be needed": a partial file is completed, unless
	 * the union is read-only (cowctl complete refuses that).
	 */
	if (advice == POSIX_FADV_WILLNEED && !offset && !len &&
	    !__mnt_is_readonly(file->f_path.mnt)) {
		ret = cowfs_partial_complete(file_inode(file));
		if (ret)
			return ret;
	}

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	ret = vfs_fadvise(realfile, offset, len, advice);
	/* A partial file's pages are those of two files */
	if (!ret && cowfs_is_partial(file_inode(file))) {
		struct file *lowerfile = cowfs_lower_file(file);

		ret = PTR_ERR_OR_ZERO(lowerfile) ?:
		      vfs_fadvise(lowerfile, offset, len, advice);
	}
	cowfs_revert_creds(old_cred);
	return ret;
}

/*
 * Lower layers are never written through the union, so an fsync() of a
 * file that still lives in one has nothing of ours to flush: succeed, as
 * overlayfs does, rather than fail with EROFS from the lower filesystem.
 * Of a metacopy file, only the upper metadata is ours.
 */
static int cowfs_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync)
{
	struct dentry *upper = cowfs_dentry_upper(file_dentry(file));
	const struct cred *old_cred;
	struct file *realfile;
	bool synced;
	int ret;

	if (!upper)
		return 0;

	if (!cowfs_has_upperdata(file_inode(file))) {
		struct path upperpath;

		if (datasync)
			return 0;
		cowfs_path_upper(file_dentry(file), &upperpath);
		old_cred = cowfs_override_creds(file_inode(file)->i_sb);
		ret = cowfs_fsync_path(&upperpath, start, end, 0);
		cowfs_revert_creds(old_cred);
		return ret;
	}

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	/* The data of a partial file is found through its record */
	synced = cowfs_partial_synced(file_inode(file));
	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	ret = vfs_fsync_range(realfile, start, end, synced ? 0 : datasync);
	cowfs_revert_creds(old_cred);
	if (ret && synced)
		cowfs_partial_unsynced(file_inode(file));
	return ret;
}

static long cowfs_fallocate(struct file *file, int mode, loff_t offset,
			    loff_t len)
{
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;
	struct file *realfile;
	long ret;

	/* Punching or zeroing a range of two files: make it one first */
	ret = cowfs_partial_complete(inode);
	if (ret)
		return ret;

	inode_lock(inode);
	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile)) {
		ret = PTR_ERR(realfile);
	} else {
		old_cred = cowfs_override_creds(inode->i_sb);
		ret = vfs_fallocate(realfile, mode, offset, len);
		cowfs_revert_creds(old_cred);
		cowfs_copyattr(inode);
	}
	inode_unlock(inode);
	return ret;
}

static int cowfs_flush(struct file *file, fl_owner_t id)
{
	const struct cred *old_cred;
	struct file *realfile;
	int err = 0;

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	if (realfile->f_op->flush) {
		old_cred = cowfs_override_creds(file_inode(file)->i_sb);
		err = realfile->f_op->flush(realfile, id);
		cowfs_revert_creds(old_cred);
	}
	return err;
}

const struct file_operations cowfs_file_operations = {
	.open		= cowfs_open,
	.release	= cowfs_release,
	.llseek		= cowfs_llseek,
	.read_iter	= cowfs_read_iter,
	.write_iter	= cowfs_write_iter,
	.splice_read	= cowfs_splice_read,
	.splice_write	= cowfs_splice_write,
	.mmap		= cowfs_mmap,
	.fadvise	= cowfs_fadvise,
	.fsync		= cowfs_fsync,
	.fallocate	= cowfs_fallocate,
	.flush		= cowfs_flush,
};
