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
};

static struct file *cowfs_open_realfile(const struct file *file,
					const struct path *realpath)
{
	struct inode *realinode = d_inode(realpath->dentry);
	struct mnt_idmap *real_idmap = mnt_idmap(realpath->mnt);
	int flags = file->f_flags | COWFS_OPEN_FLAGS;
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

	pr_debug("open(%pD2, 0%o) = %pe\n", file, file->f_flags, realfile);
	return realfile;
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

static ssize_t cowfs_read_iter(struct kiocb *iocb, struct iov_iter *iter)
{
	struct file *file = iocb->ki_filp;
	struct backing_file_ctx ctx;
	struct file *realfile;

	if (!iov_iter_count(iter))
		return 0;

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

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

	inode_lock(inode);
	/* Update mode (and with it the setuid bits) before writing */
	cowfs_copyattr(inode);
	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile)) {
		ret = PTR_ERR(realfile);
	} else {
		cowfs_init_ctx(&ctx, file);
		ret = backing_file_write_iter(realfile, iter, iocb,
					      iocb->ki_flags, &ctx);
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

	realfile = cowfs_real_file(in);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	cowfs_init_ctx(&ctx, in);
	return backing_file_splice_read(realfile, ppos, pipe, len, flags, &ctx);
}

static int cowfs_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct backing_file_ctx ctx;
	struct file *realfile;

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	cowfs_init_ctx(&ctx, file);
	return backing_file_mmap(realfile, vma, &ctx);
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

	realfile = cowfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	ret = vfs_fadvise(realfile, offset, len, advice);
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

	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	ret = vfs_fsync_range(realfile, start, end, datasync);
	cowfs_revert_creds(old_cred);
	return ret;
}

static long cowfs_fallocate(struct file *file, int mode, loff_t offset,
			    loff_t len)
{
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;
	struct file *realfile;
	long ret;

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
