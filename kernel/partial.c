// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: partial copy-up (copyup=partial).
 *
 * The first open for writing of a big lower file copies up its metadata
 * and an upper file of its size with no data.  Each write then first
 * copies up the granules it touches (64 KiB, more for huge files), whole,
 * and nothing else: the first write costs what it writes, not the size of
 * the file.  The union reads each granule the upper file holds from it and
 * the others from the lower file, so it shows the bytes a full copy-up
 * would.
 *
 * A granule is copied, made durable, and only then recorded: after a crash
 * the record never claims a granule whose data is not on disk, and one not
 * recorded is read from the lower file, with the bytes it had before the
 * write that was under way.
 *
 * On disk (cowfs's own; overlayfs has nothing like it): the upper file
 * carries trusted.overlay.cowfs.partial, struct cowfs_partial_xattr and a
 * bitmap in which bit i says the upper file holds granule i.  Granules
 * from the limit on are the upper file's: the lower file had no bytes
 * there.  A 1-byte trusted.overlay.metacopy, too short to be overlayfs's,
 * makes overlayfs refuse the file (EIO) rather than show its holes as
 * zeros; cowfs looks for the partial xattr first.
 *
 * Only a lower file with one link is copied up partially, and a partial
 * file is completed before it gets a second name: the record belongs to
 * one cowfs inode.
 *
 * Copying granules (a fill) is no write of the user's: it keeps mtime,
 * the setuid bits and file capabilities (ctime moves).  It goes through a buffer, never
 * splice: a write that needs a fill may itself run inside a splice
 * (copy_file_range(), sendfile()).
 *
 * Mappings.  A partial file is mapped as its upper file, with the upper
 * file's vm_ops wrapped (cowfs_partial_vm_ops): a page of a granule the
 * upper file holds is the upper file's page, as for any upper file; a
 * fault on a missing granule fills the granule first.  The fill takes the
 * upper file's i_rwsem and freeze protection, which a write(2) holds
 * while it faults on its buffer, so it never runs under the mmap lock:
 * the fault drops the lock, fills, and has the fault retried; a fault that
 * may not drop the lock gets SIGBUS.  Fault-around maps only what is
 * there.  A write through the union first faults in its buffer, so that
 * a buffer mapped from a partial file is filled before the write takes
 * its locks.
 *
 * What cannot work on two files completes the file first: every missing
 * granule is copied, then both xattrs go.  That is fallocate, a truncate,
 * a link, and POSIX_FADV_WILLNEED over the whole file on a writable
 * union, which 'cowctl complete' uses.  A write that copies the last
 * missing granule completes the file too.  fiemap is EOPNOTSUPP: no
 * extent map tells of two files (SEEK_DATA and SEEK_HOLE do).
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/xattr.h>

#include "cowfs.h"

/* Smaller files are copied up whole */
#define COWFS_PARTIAL_MIN_SIZE	SZ_1M
#define COWFS_PARTIAL_SHIFT	16		/* 64 KiB granules */
#define COWFS_PARTIAL_MAX_SHIFT	40
/* A bitmap of 2 KiB at most fits any filesystem's xattr */
#define COWFS_PARTIAL_MAX_BITS	(SZ_2K * BITS_PER_BYTE)
#define COWFS_PARTIAL_VERSION	0
/* A fill copies through a buffer of this size at most */
#define COWFS_PARTIAL_BUF	SZ_256K

struct cowfs_partial_xattr {
	u8 version;
	u8 shift;		/* granules of 1 << shift bytes */
	__le16 pad;
	__le32 ngranules;	/* DIV_ROUND_UP(limit, 1 << shift) */
	__le64 limit;		/* from here on, the upper file's */
	u8 bitmap[];		/* bit i of byte i / 8: granule i is upper */
} __packed;

struct cowfs_partial {
	unsigned int shift;
	unsigned int ngranules;
	/* Granules still the lower file's; under the inode's lock */
	unsigned int missing;
	loff_t limit;
	/* The upper file's vm_ops, set by the first mapping (cmpxchg) */
	const struct vm_operations_struct *real_vm_ops;
	/* The record changed since the last fsync(): cowfs_partial_synced() */
	bool unsynced;
	/* Read without locks (acquire), set under the inode's lock (release) */
	u8 bitmap[];
};

static size_t cowfs_partial_bytes(unsigned int ngranules)
{
	return DIV_ROUND_UP(ngranules, BITS_PER_BYTE);
}

static struct cowfs_partial *cowfs_partial_alloc(loff_t limit,
						 unsigned int shift)
{
	unsigned int ngranules = DIV_ROUND_UP_ULL(limit, 1ULL << shift);
	struct cowfs_partial *p;

	p = kzalloc(struct_size(p, bitmap, cowfs_partial_bytes(ngranules)),
		    GFP_KERNEL);
	if (!p)
		return NULL;
	p->shift = shift;
	p->ngranules = ngranules;
	p->missing = ngranules;
	p->limit = limit;
	return p;
}

void cowfs_partial_free(struct cowfs_partial *p)
{
	kfree(p);
}

/* Is granule @g the upper file's? */
static bool cowfs_partial_has(struct cowfs_partial *p, u64 g)
{
	if (g >= p->ngranules)
		return true;
	/* The granule's data before the bit: cowfs_partial_set() */
	return smp_load_acquire(&p->bitmap[g / BITS_PER_BYTE]) &
	       BIT(g % BITS_PER_BYTE);
}

/* Byte @i of the bitmap is @v now: under the inode's lock */
static void cowfs_partial_publish(struct cowfs_partial *p, size_t i, u8 v)
{
	/* Whoever sees a bit sees its granule's data: cowfs_partial_has() */
	smp_store_release(&p->bitmap[i], v);
}

/* Under the inode's lock, once the granule's data is durable */
static void cowfs_partial_set(struct cowfs_partial *p, u64 g)
{
	size_t i = g / BITS_PER_BYTE;

	cowfs_partial_publish(p, i, p->bitmap[i] | BIT(g % BITS_PER_BYTE));
	p->missing--;
}

/* Does the upper file of @inode hold all of bytes @start to @end? */
static bool cowfs_partial_holds(struct inode *inode, loff_t start, loff_t end)
{
	struct cowfs_partial *p = COWFS_I(inode)->partial;
	u64 g;

	if (!cowfs_is_partial(inode))
		return true;
	end = min(end, p->limit);
	for (g = start >> p->shift; (g << p->shift) < end; g++)
		if (!cowfs_partial_has(p, g))
			return false;
	return true;
}

/*
 * The end of the run of bytes from @pos on that are in one file, the
 * upper one if *@upper.
 */
static loff_t cowfs_partial_run(struct inode *inode, loff_t pos, bool *upper)
{
	struct cowfs_partial *p = COWFS_I(inode)->partial;
	u64 g = pos >> p->shift;

	*upper = true;
	if (pos >= p->limit || !cowfs_is_partial(inode))
		return LLONG_MAX;
	*upper = cowfs_partial_has(p, g);
	while (++g < p->ngranules && cowfs_partial_has(p, g) == *upper)
		;
	if (g < p->ngranules)
		return g << p->shift;
	return *upper ? LLONG_MAX : p->limit;
}

/*
 * Should copying up @dentry (regular, @size bytes) for an open with @flags
 * copy no data yet?  Only for writing, only big files, and only where the
 * data is the one lower file the origin names, found again after a
 * remount or a rename: the top of a stack of one, on a filesystem that
 * encodes file handles, with one link (the record is one inode's).
 */
bool cowfs_want_partial(struct dentry *dentry, loff_t size, int flags)
{
	struct cowfs_entry *oe = COWFS_E(dentry);
	struct dentry *lower;
	void *fh;
	int len;

	if (!COWFS_FS(dentry->d_sb)->config.copyup_partial ||
	    size < COWFS_PARTIAL_MIN_SIZE ||
	    !(OPEN_FMODE(flags) & FMODE_WRITE) || (flags & O_TRUNC) ||
	    cowfs_numlower(oe) != 1 || cowfs_need_index(dentry))
		return false;
	lower = oe->lowerstack[0].dentry;
	if (d_inode(lower)->i_nlink != 1)
		return false;
	fh = cowfs_encode_fh(lower, false, &len);
	if (IS_ERR_OR_NULL(fh))
		return false;
	kfree(fh);
	return true;
}

/* Record @p on upper file @upper; with freeze protection. */
static int cowfs_partial_store(struct cowfs_fs *ofs, struct dentry *upper,
			       const struct cowfs_partial *p)
{
	size_t nbytes = cowfs_partial_bytes(p->ngranules);
	struct cowfs_partial_xattr *x;
	int err;

	x = kzalloc(struct_size(x, bitmap, nbytes), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->version = COWFS_PARTIAL_VERSION;
	x->shift = p->shift;
	x->ngranules = cpu_to_le32(p->ngranules);
	x->limit = cpu_to_le64(p->limit);
	memcpy(x->bitmap, p->bitmap, nbytes);
	err = cowfs_do_setxattr(&ofs->layers[0], upper,
				cowfs_xattr(ofs, COWFS_XA_PARTIAL), x,
				struct_size(x, bitmap, nbytes), 0);
	kfree(x);
	return err;
}

/*
 * Does error @err of cowfs_partial_init() mean that the record does not
 * fit next to the file's other xattrs?  Then a full copy-up does.
 */
bool cowfs_partial_unfit(int err)
{
	return err == -ENOSPC || err == -E2BIG;
}

/*
 * Make temporary upper file @temp, of @size bytes and no data yet, a
 * partial file: its record, all granules missing, and the xattr that
 * keeps overlayfs away.  With freeze protection, after the origin.  On an
 * error @temp has neither.
 */
struct cowfs_partial *cowfs_partial_init(struct cowfs_fs *ofs,
					 struct dentry *temp, loff_t size)
{
	const char *metacopy = cowfs_xattr(ofs, COWFS_XA_METACOPY);
	unsigned int shift = COWFS_PARTIAL_SHIFT;
	struct cowfs_partial *p;
	int err;

	while (DIV_ROUND_UP_ULL(size, 1ULL << shift) > COWFS_PARTIAL_MAX_BITS)
		shift++;
	p = cowfs_partial_alloc(size, shift);
	if (!p)
		return ERR_PTR(-ENOMEM);
	err = cowfs_do_setxattr(&ofs->layers[0], temp, metacopy, "", 1, 0);
	if (err)
		goto out_free;
	err = cowfs_partial_store(ofs, temp, p);
	if (!err)
		return p;
	cowfs_do_removexattr(&ofs->layers[0], temp, metacopy);
out_free:
	cowfs_partial_free(p);
	return ERR_PTR(err);
}

/*
 * The record of upper file @upper of @layer: NULL if it is not a partial
 * file, ERR_PTR(-EIO) if the record makes no sense.
 */
struct cowfs_partial *cowfs_partial_load(const struct cowfs_layer *layer,
					 struct dentry *upper)
{
	struct path path = { .mnt = layer->mnt, .dentry = upper };
	const char *name = cowfs_layer_xattr(layer, COWFS_XA_PARTIAL);
	struct cowfs_partial_xattr *x;
	struct cowfs_partial *p = ERR_PTR(-EIO);
	size_t max = struct_size(x, bitmap,
				 cowfs_partial_bytes(COWFS_PARTIAL_MAX_BITS));
	unsigned int ngranules, g;
	ssize_t res;
	u64 limit;

	if (!d_is_reg(upper) || !(d_inode(upper)->i_opflags & IOP_XATTR))
		return NULL;
	x = kmalloc(max, GFP_KERNEL);
	if (!x)
		return ERR_PTR(-ENOMEM);
	res = cowfs_do_getxattr(&path, name, x, max);
	if (res == -ENODATA || res == -EOPNOTSUPP) {
		p = NULL;
		goto out;
	}
	if (res < 0 && res != -ERANGE) {
		p = ERR_PTR(res);
		goto out;
	}
	if (res < (ssize_t)sizeof(*x))
		goto bad;
	ngranules = le32_to_cpu(x->ngranules);
	limit = le64_to_cpu(x->limit);
	if (x->version != COWFS_PARTIAL_VERSION ||
	    x->shift < COWFS_PARTIAL_SHIFT ||
	    x->shift > COWFS_PARTIAL_MAX_SHIFT || limit > MAX_LFS_FILESIZE ||
	    ngranules > COWFS_PARTIAL_MAX_BITS ||
	    ngranules != DIV_ROUND_UP_ULL(limit, 1ULL << x->shift) ||
	    res != struct_size(x, bitmap, cowfs_partial_bytes(ngranules)))
		goto bad;

	p = cowfs_partial_alloc(limit, x->shift);
	if (!p) {
		p = ERR_PTR(-ENOMEM);
		goto out;
	}
	memcpy(p->bitmap, x->bitmap, cowfs_partial_bytes(ngranules));
	for (g = 0; g < ngranules; g++)
		if (cowfs_partial_has(p, g))
			p->missing--;
	goto out;

bad:
	pr_warn_ratelimited("partial file '%pd2' has a bad record (%zd bytes): refused\n",
			    upper, res);
out:
	kfree(x);
	return p;
}

/*
 * The lower file of a partial file found by lookup must be one regular
 * file with the bytes the record says are below, and the partial file
 * must have no other name: the record is one inode's.
 */
int cowfs_partial_check_lower(struct cowfs_partial *p,
			      struct cowfs_entry *oe, struct dentry *upper)
{
	struct dentry *lower;

	if (d_inode(upper)->i_nlink != 1) {
		pr_warn_ratelimited("partial file '%pd2' has %u links: refused\n",
				    upper, d_inode(upper)->i_nlink);
		return -EIO;
	}
	if (cowfs_numlower(oe) == 1) {
		lower = oe->lowerstack[0].dentry;
		if (d_is_reg(lower) &&
		    i_size_read(d_inode(lower)) >= p->limit &&
		    i_size_read(d_inode(upper)) >= p->limit)
			return 0;
	}
	pr_warn_ratelimited("partial file '%pd2' has no lower file of its size: refused\n",
			    upper);
	return -EIO;
}

/*
 * What a write changes and a fill must keep: mtime (tmpfs moves it even
 * for FMODE_NOCMTIME), the setuid and setgid bits and file capabilities.
 * The capabilities are read only where the upper filesystem does not know
 * the file to have none (S_NOSEC).
 */
struct cowfs_partial_meta {
	umode_t mode;
	struct timespec64 mtime;
	ssize_t caplen;
	struct vfs_ns_cap_data caps;
};

static void cowfs_partial_save_meta(const struct path *upperpath,
				    struct cowfs_partial_meta *pm)
{
	struct inode *inode = d_inode(upperpath->dentry);

	pm->mode = inode->i_mode;
	pm->mtime = inode_get_mtime(inode);
	pm->caplen = 0;
	if (!IS_NOSEC(inode))
		pm->caplen = cowfs_do_getxattr(upperpath, XATTR_NAME_CAPS,
					       &pm->caps, sizeof(pm->caps));
}

static int cowfs_partial_restore_meta(const struct cowfs_layer *layer,
				      struct dentry *upper,
				      const struct cowfs_partial_meta *pm)
{
	struct inode *inode = d_inode(upper);
	struct timespec64 mtime;
	struct iattr attr = {
		.ia_mode = pm->mode,
		.ia_mtime = pm->mtime,
	};
	int err = 0;

	if (pm->caplen > 0)
		err = cowfs_do_setxattr(layer, upper, XATTR_NAME_CAPS,
					&pm->caps, pm->caplen, 0);
	if (err)
		return err;
	inode_lock(inode);
	mtime = inode_get_mtime(inode);
	if (inode->i_mode != pm->mode)
		attr.ia_valid |= ATTR_MODE;
	if (!timespec64_equal(&mtime, &pm->mtime))
		attr.ia_valid |= ATTR_MTIME | ATTR_MTIME_SET;
	if (attr.ia_valid)
		err = cowfs_do_notify_change(layer, upper, &attr);
	inode_unlock(inode);
	return err;
}

/*
 * Copy bytes @pos to @pos + @len of @lower into the same place of @upper,
 * through a buffer.  A chunk of zeros is written only where the upper
 * file has data (a fill cut short by a crash): elsewhere its hole reads
 * as zeros already.  Without freeze protection: each write takes it, and
 * a read must not hold it (the two files may share a filesystem).
 */
static int cowfs_partial_copy(struct file *lower, struct file *upper,
			      loff_t pos, loff_t len)
{
	size_t size = min_t(loff_t, len, COWFS_PARTIAL_BUF);
	void *buf = kvmalloc(size, GFP_KERNEL);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (len > 0) {
		size_t n = min_t(loff_t, len, size);
		loff_t rpos = pos, wpos = pos;
		ssize_t res;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		res = kernel_read(lower, buf, n, &rpos);
		if (res >= 0 && res != n)
			res = -EIO;	/* the lower file shrank */
		if (res >= 0 && !memchr_inv(buf, 0, n)) {
			res = vfs_llseek(upper, pos, SEEK_DATA);
			if (res == -ENXIO || (res >= 0 && res >= pos + n))
				res = n;	/* a hole: zeros already */
			else if (res >= 0)
				res = kernel_write(upper, buf, n, &wpos);
		} else if (res >= 0) {
			res = kernel_write(upper, buf, n, &wpos);
		}
		if (res >= 0 && res != n)
			res = -EIO;
		if (res < 0) {
			err = res;
			break;
		}
		pos += n;
		len -= n;
		cond_resched();
	}
	kvfree(buf);
	return err;
}

/* The file is whole: it is an upper file as any other from now on. */
static int cowfs_partial_done(struct inode *inode)
{
	struct cowfs_fs *ofs = COWFS_FS(inode->i_sb);
	const struct cowfs_layer *upper = &ofs->layers[0];
	struct dentry *realupper = cowfs_upperdentry(inode);
	int err;

	/* Not overlayfs's metacopy xattr first: the record says it all */
	err = cowfs_do_removexattr(upper, realupper,
				   cowfs_xattr(ofs, COWFS_XA_METACOPY));
	if (!err || err == -ENODATA)
		err = cowfs_do_removexattr(upper, realupper,
					   cowfs_xattr(ofs, COWFS_XA_PARTIAL));
	if (err)
		return err;
	/* Pairs with test_bit_acquire() in cowfs_is_partial() */
	clear_bit_unlock(COWFS_I_PARTIAL, &COWFS_I(inode)->flags);
	return 0;
}

/*
 * Copy the missing granules of bytes @start to @end of partial file
 * @inode from @lower to @upper, durably, then record them; with the
 * inode's lock, write access to the upper mount, the mounter's
 * credentials.  Freeze protection is taken for each step.
 */
static int cowfs_partial_fill_files(struct inode *inode, struct file *lower,
				    struct file *upper, loff_t start,
				    loff_t end)
{
	struct cowfs_fs *ofs = COWFS_FS(inode->i_sb);
	struct cowfs_partial *p = COWFS_I(inode)->partial;
	size_t nbytes = cowfs_partial_bytes(p->ngranules);
	struct cowfs_partial_meta pm;
	unsigned int missing = p->missing;
	u64 g, last, run;
	bool filled = false;
	int err = 0, serr;
	u8 *old;

	/* What the record says now, for when the new one cannot be stored */
	old = kmemdup(p->bitmap, nbytes, GFP_KERNEL);
	if (!old)
		return -ENOMEM;
	cowfs_partial_save_meta(&upper->f_path, &pm);
	last = (end - 1) >> p->shift;
	for (g = start >> p->shift; g <= last && !err; g = run) {
		loff_t pos, len;

		if (cowfs_partial_has(p, g)) {
			run = g + 1;
			continue;
		}
		/* One copy for a run of missing granules */
		for (run = g + 1; run <= last && !cowfs_partial_has(p, run); run++)
			;
		pos = g << p->shift;
		len = min_t(loff_t, run << p->shift, p->limit) - pos;
		err = cowfs_partial_copy(lower, upper, pos, len);
		if (!err)
			err = vfs_fsync_range(upper, pos, pos + len - 1, 1);
		if (err)
			break;
		for (; g < run; g++)
			cowfs_partial_set(p, g);
		atomic64_add(len, &ofs->stats.copy_up_bytes);
		filled = true;
	}
	if (!filled)
		goto out;
	cowfs_start_write(&ofs->layers[0]);
	err = cowfs_partial_restore_meta(&ofs->layers[0], upper->f_path.dentry,
					 &pm) ?: err;
	/* Whole: the xattrs go.  Else, or if they cannot, the record */
	serr = p->missing ? -EAGAIN : cowfs_partial_done(inode);
	if (serr)
		serr = cowfs_partial_store(ofs, upper->f_path.dentry, p);
	cowfs_end_write(&ofs->layers[0]);
	/*
	 * Not recorded: after a remount the granules are the lower file's
	 * again, so a write to them now would be lost.  Forget them (their
	 * bytes are the lower file's: readers see no change).
	 */
	if (serr) {
		size_t i;

		for (i = 0; i < nbytes; i++)
			cowfs_partial_publish(p, i, old[i]);
		p->missing = missing;
		err = serr;
	}
	/* Even after an error: the record may have changed */
	WRITE_ONCE(p->unsynced, true);
out:
	kfree(old);
	return err;
}

/* cowfs_partial_fill_files(), with files of its own */
static int cowfs_partial_fill_locked(struct inode *inode, loff_t start,
				     loff_t end)
{
	struct cowfs_fs *ofs = COWFS_FS(inode->i_sb);
	const struct cowfs_layer *layer = &ofs->layers[0];
	struct cowfs_partial *p = COWFS_I(inode)->partial;
	struct cowfs_entry *oe = COWFS_I(inode)->oe;
	struct path lowerpath = {
		.mnt = oe->lowerstack[0].layer->mnt,
		.dentry = oe->lowerstack[0].dentry,
	};
	struct path upperpath = {
		.mnt = cowfs_upper_mnt(ofs),
		.dentry = cowfs_upperdentry(inode),
	};
	struct file *lower, *upper;
	int err;

	if (!test_bit(COWFS_I_PARTIAL, &COWFS_I(inode)->flags))
		return 0;
	end = min(end, p->limit);
	if (start >= end || cowfs_partial_holds(inode, start, end))
		return 0;

	lower = dentry_open(&lowerpath, O_LARGEFILE | O_RDONLY, current_cred());
	if (IS_ERR(lower))
		return PTR_ERR(lower);
	upper = dentry_open(&upperpath, O_LARGEFILE | O_WRONLY, current_cred());
	err = PTR_ERR_OR_ZERO(upper);
	if (err)
		goto out_lower;
	/* A fill is no change of the user's: mtime stays */
	upper->f_mode |= FMODE_NOCMTIME;
	err = cowfs_get_write_access(layer);
	if (!err) {
		err = cowfs_partial_fill_files(inode, lower, upper, start, end);
		cowfs_put_write_access(layer);
	}
	fput(upper);
out_lower:
	fput(lower);
	return err;
}

/*
 * Fill bytes @start to @end of @inode: before a write to them, or a
 * mapping of them.  A wait for another fill can be killed, not
 * interrupted: a write(2) must not fail with EINTR for it.
 */
int cowfs_partial_fill(struct inode *inode, loff_t start, loff_t end)
{
	struct cowfs_inode *oi = COWFS_I(inode);
	const struct cred *old_cred;
	int err;

	if (!cowfs_is_partial(inode) || cowfs_partial_holds(inode, start, end))
		return 0;
	err = mutex_lock_killable(&oi->lock);
	if (err)
		return err;
	old_cred = cowfs_override_creds(inode->i_sb);
	err = cowfs_partial_fill_locked(inode, start, end);
	cowfs_revert_creds(old_cred);
	mutex_unlock(&oi->lock);
	return err;
}

/*
 * A sync of @inode's data must sync its record too: without it, granules
 * copied are read from the lower file again after a crash, and writes
 * made to them are lost.  The record is an xattr, which fdatasync() and
 * O_DSYNC leave alone (ext4): so a full sync it must be.  True if the
 * record changed since the last full sync, which the caller is to make;
 * cowfs_partial_unsynced() if it fails.
 */
bool cowfs_partial_synced(struct inode *inode)
{
	struct cowfs_partial *p = COWFS_I(inode)->partial;

	/* Set before the inode is hashed or the upper file published */
	return p && READ_ONCE(p->unsynced) && xchg(&p->unsynced, false);
}

void cowfs_partial_unsynced(struct inode *inode)
{
	WRITE_ONCE(COWFS_I(inode)->partial->unsynced, true);
}

/* Copy all that is missing: the file is an upper file as any other then */
int cowfs_partial_complete(struct inode *inode)
{
	return cowfs_partial_fill(inode, 0, LLONG_MAX);
}

/*
 * Read from partial file @inode at @iocb's position into @iter: each run
 * of granules from the file that holds it, @upperfile or @lowerfile.
 * Synchronous, with the mounter's credentials.
 */
ssize_t cowfs_partial_read(struct inode *inode, struct kiocb *iocb,
			   struct iov_iter *iter, struct file *upperfile,
			   struct file *lowerfile)
{
	/* These IOCB_ flags are the RWF_ flags of the same names */
	rwf_t rwf = (__force rwf_t)(iocb->ki_flags & (IOCB_HIPRI | IOCB_NOWAIT));
	loff_t pos = iocb->ki_pos;
	ssize_t done = 0, ret = 0;

	while (iov_iter_count(iter)) {
		size_t left = iov_iter_count(iter);
		bool upper;
		loff_t end = cowfs_partial_run(inode, pos, &upper);
		size_t count = min_t(loff_t, left, end - pos);

		iov_iter_truncate(iter, count);
		ret = vfs_iter_read(upper ? upperfile : lowerfile, iter, &pos,
				    rwf);
		iov_iter_reexpand(iter, left - max_t(ssize_t, ret, 0));
		if (ret <= 0)
			break;
		done += ret;
		if (ret < count)
			break;
	}
	iocb->ki_pos = pos;
	return done ?: ret;
}

/*
 * SEEK_DATA or SEEK_HOLE (@whence) from @offset in partial file @inode:
 * each run of granules asks the file that holds it, @upperfile (whose
 * position the caller owns) or @lowerfile.  With the mounter's
 * credentials.
 */
loff_t cowfs_partial_llseek(struct inode *inode, struct file *upperfile,
			    struct file *lowerfile, loff_t offset, int whence)
{
	loff_t size = i_size_read(file_inode(upperfile));
	loff_t pos = offset;

	if (offset < 0 || offset >= size)
		return -ENXIO;
	while (pos < size) {
		bool upper;
		loff_t end = min(cowfs_partial_run(inode, pos, &upper), size);
		loff_t res = vfs_llseek(upper ? upperfile : lowerfile, pos,
					whence);

		/* No data from @pos on, or @pos past the file's end */
		if (res == -ENXIO)
			res = whence == SEEK_DATA ? end : pos;
		if (res < 0 || res < end)
			return res;
		pos = end;
	}
	return whence == SEEK_DATA ? -ENXIO : size;
}

/*
 * Mappings of a partial file: see the top of this file.  The VMA's file
 * is the upper file, opened for the union file whose inode has the
 * record and the upper file's vm_ops.
 */
static struct inode *cowfs_partial_vma_inode(struct vm_area_struct *vma)
{
	return d_inode(backing_file_user_path(vma->vm_file)->dentry);
}

static const struct vm_operations_struct *
cowfs_partial_real_vm_ops(struct inode *inode)
{
	return READ_ONCE(COWFS_I(inode)->partial->real_vm_ops);
}

/*
 * A fault on a missing granule drops the mmap lock (or the VMA's), fills
 * the granule and has the fault retried, when it may; a retry finds it
 * there.
 */
static vm_fault_t cowfs_partial_fault(struct vm_fault *vmf)
{
	struct inode *inode = cowfs_partial_vma_inode(vmf->vma);
	loff_t pos = (loff_t)vmf->pgoff << PAGE_SHIFT;
	struct file *fpin;
	int err;

	if (cowfs_partial_holds(inode, pos, pos + PAGE_SIZE))
		return cowfs_partial_real_vm_ops(inode)->fault(vmf);
	/* A fill under the mmap lock could deadlock: see the top */
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY) ||
	    (vmf->flags & FAULT_FLAG_TRIED))
		return VM_FAULT_SIGBUS;
	/* Asked not to wait: the lock stays, as filemap_fault() does */
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;

	fpin = get_file(vmf->vma->vm_file);
	release_fault_lock(vmf);
	err = cowfs_partial_fill(inode, pos, pos + PAGE_SIZE);
	if (err)
		pr_warn_ratelimited("fault in partial file '%pD2' at %lld: %pe\n",
				    fpin, pos, ERR_PTR(err));
	fput(fpin);
	return VM_FAULT_RETRY | VM_FAULT_MAJOR;
}

/* Fault-around: only where every page's granule is there */
static vm_fault_t cowfs_partial_map_pages(struct vm_fault *vmf,
					  pgoff_t start_pgoff,
					  pgoff_t end_pgoff)
{
	struct inode *inode = cowfs_partial_vma_inode(vmf->vma);
	const struct vm_operations_struct *real;

	real = cowfs_partial_real_vm_ops(inode);
	if (!real->map_pages ||
	    !cowfs_partial_holds(inode, (loff_t)start_pgoff << PAGE_SHIFT,
				 (loff_t)(end_pgoff + 1) << PAGE_SHIFT))
		return 0;
	return real->map_pages(vmf, start_pgoff, end_pgoff);
}

/* A page faulted in is of a granule that is there: the upper file's */
static vm_fault_t cowfs_partial_page_mkwrite(struct vm_fault *vmf)
{
	struct inode *inode = cowfs_partial_vma_inode(vmf->vma);

	return cowfs_partial_real_vm_ops(inode)->page_mkwrite(vmf);
}

/*
 * access_remote_vm() (ptrace, /proc/PID/mem) may not drop the mmap lock:
 * the fault above gives it SIGBUS on a missing granule, and it falls back
 * to this.  A peek reads the lower file's bytes; a poke needs a fill, and
 * fails.
 */
static int cowfs_partial_access(struct vm_area_struct *vma,
				unsigned long addr, void *buf, int len,
				int write)
{
	struct inode *inode = cowfs_partial_vma_inode(vma);
	struct cowfs_entry *oe = COWFS_I(inode)->oe;
	struct path lowerpath = {
		.mnt = oe->lowerstack[0].layer->mnt,
		.dentry = oe->lowerstack[0].dentry,
	};
	loff_t pos = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) +
		     (addr - vma->vm_start);
	const struct cred *old_cred;
	struct file *lower;
	int res;

	len = min_t(int, len, PAGE_SIZE - offset_in_page(addr));
	if (write || cowfs_partial_holds(inode, pos, pos + len))
		return -EIO;
	old_cred = cowfs_override_creds(inode->i_sb);
	lower = dentry_open(&lowerpath, O_LARGEFILE | O_RDONLY, current_cred());
	res = PTR_ERR_OR_ZERO(lower);
	if (!res) {
		res = kernel_read(lower, buf, len, &pos);
		fput(lower);
	}
	cowfs_revert_creds(old_cred);
	return res;
}

static const struct vm_operations_struct cowfs_partial_vm_ops = {
	.fault		= cowfs_partial_fault,
	.map_pages	= cowfs_partial_map_pages,
	.page_mkwrite	= cowfs_partial_page_mkwrite,
	.access		= cowfs_partial_access,
};

/* For an upper filesystem without ->page_mkwrite (tmpfs) */
static const struct vm_operations_struct cowfs_partial_vm_ops_nomkwrite = {
	.fault		= cowfs_partial_fault,
	.map_pages	= cowfs_partial_map_pages,
	.access		= cowfs_partial_access,
};

/*
 * @vma of partial file @inode was just mapped by its upper file: wrap the
 * upper file's vm_ops.  What the wrapper does not forward must be what
 * it can do without: a huge page (it could span a missing granule), a
 * NUMA policy.  Under the mmap lock: no fill, no inode lock here.
 */
int cowfs_partial_mmap(struct inode *inode, struct vm_area_struct *vma)
{
	struct cowfs_partial *p = COWFS_I(inode)->partial;
	const struct vm_operations_struct *real = vma->vm_ops, *old;

	if (!cowfs_is_partial(inode))
		return 0;
	if (!real || !real->fault || real->open || real->close ||
	    real->may_split || real->mremap || real->mprotect ||
	    real->pfn_mkwrite || real->access || real->name ||
	    real->find_special_page) {
		pr_warn_once("partial files on %s cannot be mapped\n",
			     file_inode(vma->vm_file)->i_sb->s_type->name);
		return -ENODEV;
	}
	/* The upper file's vm_ops are one file's: they do not change */
	old = cmpxchg(&p->real_vm_ops, NULL, real);
	if (WARN_ON_ONCE(old && old != real))
		return -EIO;
	vma->vm_ops = real->page_mkwrite ? &cowfs_partial_vm_ops :
					   &cowfs_partial_vm_ops_nomkwrite;
	return 0;
}
