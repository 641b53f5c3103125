// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: fs-verity digests of metacopy files (verity=on|require).
 *
 * A metacopy file's trusted.overlay.metacopy may carry the fs-verity
 * digest of its data (overlayfs's struct ovl_metacopy): with verity=on the
 * union checks it before it reads the data, and a data file whose digest
 * differs reads EIO, as on overlayfs.  With verity=require a metacopy file
 * without a digest is EIO too.  A metacopy copy-up records the data's
 * digest when the data file has fs-verity; under verity=require a file
 * without it is copied up whole instead.
 *
 * This is what composefs images rely on: a metadata layer of metacopy
 * files whose redirects name objects in a content-addressed store, each
 * object trusted through the digest its metacopy file names.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsverity.h>
#include <linux/mount.h>

#include "cowfs.h"

static_assert(sizeof_field(struct cowfs_metacopy, digest) ==
	      FS_VERITY_MAX_DIGEST_SIZE);

/*
 * fs-verity loads a file's verity info when the file is opened: open it
 * once if it has fs-verity but was never opened (overlayfs's
 * ovl_ensure_verity_loaded()).
 */
static int cowfs_verity_load(const struct path *datapath)
{
	struct inode *inode = d_inode(datapath->dentry);
	struct file *file;

	if (fsverity_active(inode) || !IS_VERITY(inode))
		return 0;
	file = dentry_open(datapath, O_RDONLY | O_LARGEFILE, current_cred());
	if (IS_ERR(file))
		return PTR_ERR(file);
	fput(file);
	return 0;
}

/*
 * The metacopy xattr of a copy-up from @datapath into @mc: with the data's
 * fs-verity digest when the union checks digests and the file has one.
 * -ENODATA when verity=require and it has none: copy the data up instead.
 */
int cowfs_verity_metacopy(struct cowfs_fs *ofs, const struct path *datapath,
			  struct cowfs_metacopy *mc)
{
	int size;

	*mc = (struct cowfs_metacopy) { .len = COWFS_METACOPY_MIN_SIZE };
	if (!ofs->config.verity_mode)
		return 0;

	if (cowfs_verity_load(datapath)) {
		pr_warn_ratelimited("lower file '%pd' failed to load fs-verity info\n",
				    datapath->dentry);
		return -EIO;
	}
	size = fsverity_get_digest(d_inode(datapath->dentry), mc->digest,
				   &mc->digest_algo, NULL);
	if (size <= 0 || WARN_ON_ONCE(size > FS_VERITY_MAX_DIGEST_SIZE)) {
		mc->digest_algo = 0;
		return ofs->config.verity_mode == COWFS_VERITY_REQUIRE ?
		       -ENODATA : 0;
	}
	mc->len += size;
	return 0;
}

/* Read the metacopy xattr of @metapath (in @layer); its size, or -errno */
static int cowfs_get_metacopy(const struct cowfs_layer *layer,
			      const struct path *metapath,
			      struct cowfs_metacopy *mc)
{
	ssize_t res;

	memset(mc, 0, sizeof(*mc));
	res = cowfs_do_getxattr(metapath,
				cowfs_layer_xattr(layer, COWFS_XA_METACOPY),
				mc, sizeof(*mc));
	if (res < 0)
		return res == -ERANGE ? -EIO : res;
	if (res && (res < COWFS_METACOPY_MIN_SIZE || mc->version ||
		    mc->len != res)) {
		pr_warn_ratelimited("metacopy file '%pd' has an invalid xattr\n",
				    metapath->dentry);
		return -EIO;
	}
	return res;
}

/* Check @dentry's data against its metacopy file's digest: 0 or -EIO */
static int cowfs_verity_check(struct cowfs_fs *ofs, struct dentry *dentry,
			      const struct path *datapath)
{
	u8 digest[FS_VERITY_MAX_DIGEST_SIZE];
	struct inode *inode = d_inode(dentry);
	const struct cowfs_layer *layer;
	struct cowfs_metacopy mc;
	struct path metapath;
	int size, res;
	u8 algo;

	cowfs_path_real(dentry, &metapath);
	layer = cowfs_upperdentry(inode) ? cowfs_upper_layer(inode) :
					   COWFS_I(inode)->oe->lowerstack[0].layer;
	res = cowfs_get_metacopy(layer, &metapath, &mc);
	if (res < 0)
		return res;
	if (!res || !mc.digest_algo) {
		if (ofs->config.verity_mode != COWFS_VERITY_REQUIRE)
			return 0;
		pr_warn_ratelimited("metacopy file '%pd' has no digest (verity=require)\n",
				    dentry);
		return -EIO;
	}

	if (cowfs_verity_load(datapath)) {
		pr_warn_ratelimited("lower file '%pd' failed to load fs-verity info\n",
				    datapath->dentry);
		return -EIO;
	}
	size = fsverity_get_digest(d_inode(datapath->dentry), digest, &algo,
				   NULL);
	if (size <= 0) {
		pr_warn_ratelimited("lower file '%pd' has no fs-verity digest\n",
				    datapath->dentry);
		return -EIO;
	}
	if (size != mc.len - COWFS_METACOPY_MIN_SIZE || algo != mc.digest_algo ||
	    memcmp(digest, mc.digest, size)) {
		pr_warn_ratelimited("lower file '%pd' has the wrong fs-verity digest\n",
				    datapath->dentry);
		return -EIO;
	}
	return 0;
}

/*
 * Before the data of metacopy file @dentry is read or copied up: check it
 * (once per inode) when the union checks digests.  Called with the inode's
 * copy-up lock held, so that the data cannot be copied up meanwhile.
 */
int cowfs_verify_lowerdata_locked(struct dentry *dentry)
{
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	struct inode *inode = d_inode(dentry);
	const struct cred *old_cred;
	struct path datapath;
	int err;

	if (!ofs->config.verity_mode || !cowfs_is_metacopy(inode) ||
	    test_bit(COWFS_I_VERIFIED, &COWFS_I(inode)->flags))
		return 0;

	cowfs_path_realdata(dentry, &datapath);
	if (!datapath.dentry)
		return -EIO;

	old_cred = cowfs_override_creds(dentry->d_sb);
	err = cowfs_verity_check(ofs, dentry, &datapath);
	cowfs_revert_creds(old_cred);
	if (!err)
		set_bit(COWFS_I_VERIFIED, &COWFS_I(inode)->flags);
	return err;
}

int cowfs_verify_lowerdata(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	int err;

	if (!COWFS_FS(dentry->d_sb)->config.verity_mode ||
	    !cowfs_is_metacopy(inode) ||
	    test_bit(COWFS_I_VERIFIED, &COWFS_I(inode)->flags))
		return 0;

	err = mutex_lock_interruptible(&COWFS_I(inode)->lock);
	if (err)
		return err;
	err = cowfs_verify_lowerdata_locked(dentry);
	mutex_unlock(&COWFS_I(inode)->lock);
	return err;
}
