// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: the inode index (index=on), in overlayfs's on-disk format.
 *
 * Without an index each name of a hard-linked lower file is copied up on
 * its own, and is a file of its own from then on.  With one, the first
 * copy-up of any of the names puts the upper file in workdir/index, named
 * by the hex of the lower file's handle (the bytes of its
 * trusted.overlay.origin), and links the name to it.  The other names find
 * the entry by their lower file and are linked to it when they are copied
 * up in turn.  All of them share one cowfs inode.
 *
 * The inode's link count is the union's: the names in the upper layer and
 * the lower names not copied up or removed.  The entry keeps it in
 * trusted.overlay.nlink, relative to the upper file's count ("U+1") or to
 * the lower file's ("L-1").  It is written before each change of the
 * upper file's count, relative to the count that changes with the union's
 * (a link, an unlink) or to the one that does not (a copy-up), so that it
 * holds whether the change happens or not.
 *
 * At mount the upper root records the first lower layer's root as its
 * origin and the index directory the upper root as its "upper": an index
 * is used only with the layers it was made for.  What a crash leaves
 * (temporaries, entries whose names are all gone) is removed then.
 */
#include <linux/cred.h>
#include <linux/exportfs.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/namei.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uuid.h>

#include "cowfs.h"

/* "U-2147483648" and its NUL */
#define COWFS_NLINK_BUF_SIZE	13
/* Room for any file handle we write: the header and MAX_HANDLE_SZ */
#define COWFS_FH_BUF_SIZE	256

/* Is copying @dentry up done through the index?  A lower hard link's is. */
bool cowfs_need_index(struct dentry *dentry)
{
	struct cowfs_path *lower = cowfs_lowerstack(COWFS_E(dentry));

	return COWFS_FS(dentry->d_sb)->indexdir && lower &&
	       !d_is_dir(lower->dentry) && d_inode(lower->dentry)->i_nlink > 1;
}

/* The name of lower object @origin's index entry; the caller frees it. */
int cowfs_index_name(struct dentry *origin, struct qstr *name)
{
	char *n;
	void *fh;
	int len;

	fh = cowfs_encode_fh(origin, false, &len);
	if (IS_ERR(fh))
		return PTR_ERR(fh);
	/* The mount checked that every layer encodes handles */
	if (WARN_ON_ONCE(!fh))
		return -EIO;

	n = kmalloc(len * 2 + 1, GFP_KERNEL);
	if (n) {
		*bin2hex(n, fh, len) = '\0';
		*name = (struct qstr)QSTR_INIT(n, len * 2);
	}
	kfree(fh);
	return n ? 0 : -ENOMEM;
}

/*
 * The index entry of lower object @origin, or NULL: none, or one that is
 * not @upper's (the name was copied up without the index, a file of its
 * own).  A whiteout or an object of another type is an error (EIO), as on
 * overlayfs: the index must not be trusted any further.
 */
struct dentry *cowfs_index_lookup(struct cowfs_fs *ofs, struct dentry *upper,
				  struct dentry *origin)
{
	struct dentry *index;
	struct qstr name;
	int err;

	err = cowfs_index_name(origin, &name);
	if (err)
		return ERR_PTR(err);

	index = cowfs_do_lookup(&ofs->layers[0], name.name, ofs->indexdir,
				name.len);
	if (IS_ERR(index)) {
		pr_warn_ratelimited("index lookup of lower inode %lu failed (%ld)\n",
				    d_inode(origin)->i_ino, PTR_ERR(index));
	} else if (d_is_negative(index)) {
		dput(index);
		index = NULL;
	} else if (cowfs_is_whiteout(index) || cowfs_dentry_weird(index) ||
		   inode_wrong_type(d_inode(index), d_inode(origin)->i_mode)) {
		pr_warn_ratelimited("bad index entry %s (type %o, lower file's %o): mount with index=off to go without the index\n",
				    name.name, d_inode(index)->i_mode & S_IFMT,
				    d_inode(origin)->i_mode & S_IFMT);
		dput(index);
		index = ERR_PTR(-EIO);
	} else if (upper && d_inode(upper) != d_inode(index)) {
		dput(index);
		index = NULL;
	}
	kfree(name.name);
	return index;
}

/*
 * The union's link count of an indexed file, from its entry @upper's
 * xattr and the counts of @upper and its lower file @lower; @fallback if
 * the xattr is missing or makes no sense.  It cannot exceed the upper
 * names (the entry's own link aside) and the lower names together.
 */
unsigned int cowfs_get_nlink(struct cowfs_fs *ofs, struct dentry *lower,
			     struct dentry *upper, unsigned int fallback)
{
	struct path path = { .mnt = cowfs_upper_mnt(ofs), .dentry = upper };
	unsigned int nupper = d_inode(upper)->i_nlink;
	unsigned int nlower = d_inode(lower)->i_nlink;
	char buf[COWFS_NLINK_BUF_SIZE];
	int diff, nlink;
	ssize_t res;

	res = cowfs_do_getxattr(&path, cowfs_xattr(ofs, COWFS_XA_NLINK), buf,
				sizeof(buf) - 1);
	if (res < 0)
		goto fail;
	buf[res] = '\0';
	if (res < 2 || (buf[0] != 'L' && buf[0] != 'U') ||
	    (buf[1] != '+' && buf[1] != '-')) {
		res = -EINVAL;
		goto fail;
	}
	res = kstrtoint(buf + 1, 10, &diff);
	if (res)
		goto fail;
	res = -ERANGE;
	if (nupper > INT_MAX || nlower > INT_MAX ||
	    check_add_overflow((int)(buf[0] == 'L' ? nlower : nupper), diff,
			       &nlink) ||
	    nlink <= 0 || (unsigned int)nlink > nupper - 1 + nlower)
		goto fail;
	return nlink;

fail:
	pr_warn_ratelimited("index entry '%pd' has no usable link count (%zd)\n",
			    upper, res);
	return fallback;
}

/*
 * Record indexed @inode's union link count relative to that of @real, its
 * upper object ('U') or its lower one ('L').  The caller holds the inode's
 * lock and freeze protection on the upper layer.
 */
static int cowfs_set_nlink(struct inode *inode, struct inode *real, char base)
{
	struct cowfs_fs *ofs = COWFS_FS(inode->i_sb);
	char buf[COWFS_NLINK_BUF_SIZE];
	int len;

	len = snprintf(buf, sizeof(buf), "%c%+i", base,
		       (int)(inode->i_nlink - real->i_nlink));
	if (WARN_ON_ONCE(len >= sizeof(buf)))
		return -EIO;
	return cowfs_do_setxattr(&ofs->layers[0], cowfs_upperdentry(inode),
				 cowfs_xattr(ofs, COWFS_XA_NLINK), buf, len, 0);
}

int cowfs_set_nlink_upper(struct inode *inode)
{
	return cowfs_set_nlink(inode, cowfs_inode_upper(inode), 'U');
}

int cowfs_set_nlink_lower(struct inode *inode)
{
	struct cowfs_entry *oe = COWFS_I(inode)->oe;

	return cowfs_set_nlink(inode, d_inode(oe->lowerstack[0].dentry), 'L');
}

/*
 * A name of @dentry is about to be added or removed (link, unlink, rename
 * over it).  With the index the union's count is kept in the entry, and
 * the name must be in the upper layer for the entry's count to change
 * with it: copy a lower name up (link it to the entry) first, as
 * overlayfs's ovl_nlink_start() does.  Before the inode's lock is taken.
 */
int cowfs_nlink_prepare(struct dentry *dentry)
{
	if (d_is_dir(dentry) || !cowfs_need_index(dentry) ||
	    cowfs_dentry_test_flag(COWFS_E_UPPER_ALIAS, dentry))
		return 0;
	return cowfs_copy_up(dentry);
}

/*
 * Then, under the inode's lock, with write access to the upper layer and
 * the mounter's credentials: record the count relative to the upper
 * file's, which the change moves in step with the union's.
 */
int cowfs_nlink_start(struct dentry *dentry)
{
	if (d_is_dir(dentry) ||
	    !test_bit(COWFS_I_INDEX, &COWFS_I(d_inode(dentry))->flags))
		return 0;
	return cowfs_set_nlink_upper(d_inode(dentry));
}

/*
 * And after it, still under the lock but without write access: the last
 * name of an indexed file is gone, so its entry goes too.  Should the
 * entry still have other links (a lower name was added behind the union's
 * back), keep it and count those, as overlayfs's ovl_cleanup_index() does.
 */
void cowfs_nlink_end(struct dentry *dentry)
{
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	const struct cowfs_layer *layer = &ofs->layers[0];
	struct inode *inode = d_inode(dentry);
	struct inode *upper = cowfs_inode_upper(inode);
	struct cowfs_entry *oe = COWFS_I(inode)->oe;
	const struct cred *old_cred;
	struct dentry *index;
	struct inode *dir;
	struct qstr name;
	int err;

	if (d_is_dir(dentry) || inode->i_nlink ||
	    !test_bit(COWFS_I_INDEX, &COWFS_I(inode)->flags))
		return;
	dir = d_inode(ofs->indexdir);

	err = cowfs_index_name(oe->lowerstack[0].dentry, &name);
	if (err)
		goto fail;
	err = cowfs_want_write(layer);
	if (err)
		goto out_free;
	old_cred = cowfs_override_creds(dentry->d_sb);
	if (upper->i_nlink != 1) {
		pr_warn_ratelimited("index entry %s still has %u links: kept\n",
				    name.name, upper->i_nlink);
		set_nlink(inode, upper->i_nlink - 1);
		err = cowfs_set_nlink_upper(inode);
		goto out_revert;
	}
	inode_lock_nested(dir, I_MUTEX_PARENT);
	index = cowfs_do_lookup_locked(layer, name.name, ofs->indexdir,
				       name.len);
	err = PTR_ERR_OR_ZERO(index);
	if (!err) {
		if (d_inode(index) == upper)
			err = cowfs_cleanup(layer, dir, index);
		dput(index);
	}
	inode_unlock(dir);
out_revert:
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);
out_free:
	kfree(name.name);
fail:
	if (err)
		pr_err("cleanup of the index entry of '%pd2' failed (%d)\n",
		       dentry, err);
}

/* ---- at mount ------------------------------------------------------------ */

/*
 * Can every layer's filesystem encode and decode the handles that name
 * index entries, and tell its handles from another's by uuid?
 */
static bool cowfs_index_layers_ok(struct cowfs_fs *ofs, struct fs_context *fc)
{
	unsigned int i, j;

	for (i = 0; i < ofs->numlayer; i++) {
		struct super_block *sb = ofs->layers[i].mnt->mnt_sb;

		if (!exportfs_can_decode_fh(sb->s_export_op) ||
		    uuid_is_null(&sb->s_uuid)) {
			warnfc(fc, "%s '%s' has no file handles or no uuid: index=off",
			       i ? "lower layer" : "upperdir",
			       i ? ofs->layers[i].name : ofs->config.upperdir);
			return false;
		}
		for (j = 1; j < i; j++) {
			struct super_block *other = ofs->layers[j].mnt->mnt_sb;

			if (other != sb && uuid_equal(&other->s_uuid, &sb->s_uuid)) {
				warnfc(fc,
				       "lower layers '%s' and '%s' share a uuid on two filesystems: index=off",
				       ofs->layers[j].name, ofs->layers[i].name);
				return false;
			}
		}
	}
	return true;
}

/*
 * Does xattr @ox of @dentry hold file handle @fh, @len bytes, of an upper
 * object if @upper?  0 if it does, -ESTALE if it holds another, -ENODATA
 * if none.  With @set, none becomes @fh.  As on overlayfs, a value that is
 * not a handle in overlayfs's format counts as none.
 */
static int cowfs_check_fh(struct cowfs_fs *ofs, struct dentry *dentry,
			  enum cowfs_xattr ox, const void *fh, int len,
			  bool upper, bool set)
{
	struct path path = { .mnt = cowfs_upper_mnt(ofs), .dentry = dentry };
	const char *xname = cowfs_xattr(ofs, ox);
	ssize_t res;
	void *buf;

	buf = kmalloc(COWFS_FH_BUF_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	res = cowfs_do_getxattr(&path, xname, buf, COWFS_FH_BUF_SIZE);
	if (res == -ERANGE || (res >= 0 && !cowfs_fh_valid(buf, res, upper))) {
		pr_warn_ratelimited("%s of '%pd2' is not a file handle: %s\n",
				    xname, dentry,
				    set ? "replaced" : "taken as none");
		res = -ENODATA;
	}
	if (res == -ENODATA && set)
		res = cowfs_do_setxattr(&ofs->layers[0], dentry, xname, fh, len,
					0);
	else if (res >= 0)
		res = res == len && !memcmp(fh, buf, len) ? 0 : -ESTALE;
	kfree(buf);
	return res;
}

/* The same, for the handle of real object @real (an upper one: @upper) */
static int cowfs_check_real_fh(struct cowfs_fs *ofs, struct dentry *dentry,
			       enum cowfs_xattr ox, struct dentry *real,
			       bool upper, bool set)
{
	void *fh;
	int len, err;

	fh = cowfs_encode_fh(real, upper, &len);
	if (IS_ERR_OR_NULL(fh))
		return fh ? PTR_ERR(fh) : -EOPNOTSUPP;
	err = cowfs_check_fh(ofs, dentry, ox, fh, len, upper, set);
	kfree(fh);
	return err;
}

/*
 * Check index entry @index: its name must be the hex of the origin it
 * records.  0: keep it.  -ESTALE: its origin is gone or not its name's,
 * -ENOENT: no name of it is left (an orphan); remove both.  Any other
 * error: the index is not in a format we know, and the mount fails rather
 * than risk it (as overlayfs's ovl_verify_index()).
 */
static int cowfs_verify_index(struct cowfs_fs *ofs, struct dentry *index)
{
	const struct qstr *name = &index->d_name;
	const struct cowfs_layer *layer;
	struct dentry *origin;
	int len = name->len / 2;
	void *fh;
	int err;

	if (name->len % 2 || !len || len > MAX_HANDLE_SZ + 64)
		return -EINVAL;
	fh = kmalloc(len, GFP_KERNEL);
	if (!fh)
		return -ENOMEM;
	err = -EINVAL;
	if (hex2bin(fh, name->name, len) || !cowfs_fh_valid(fh, len, false))
		goto out;

	/* Kept, as overlayfs keeps them: without nfs_export they do nothing */
	err = 0;
	if (cowfs_is_whiteout(index) || d_is_dir(index))
		goto out;

	err = cowfs_check_fh(ofs, index, COWFS_XA_ORIGIN, fh, len, false,
			     false);
	if (err || d_inode(index)->i_nlink != 1)
		goto out;

	/* Only the entry's own link: are there lower names still? */
	origin = cowfs_decode_origin(ofs, fh, len, &layer);
	err = -ESTALE;
	if (!origin)
		goto out;
	if (!cowfs_get_nlink(ofs, origin, index, 0))
		err = -ENOENT;
	else
		err = 0;
	dput(origin);
out:
	kfree(fh);
	return err;
}

/* Check entry @name of the index directory; remove it if it is stale. */
static int cowfs_clean_index_entry(struct cowfs_fs *ofs, struct fs_context *fc,
				   const char *name)
{
	const struct cowfs_layer *layer = &ofs->layers[0];
	struct dentry *indexdir = ofs->indexdir;
	struct dentry *index;
	int err;

	/* What a copy-up on overlayfs left (it builds objects here) */
	if (name[0] == '#')
		return cowfs_clean_name(ofs, indexdir, name, 1);

	inode_lock_nested(d_inode(indexdir), I_MUTEX_PARENT);
	index = cowfs_do_lookup_locked(layer, name, indexdir, strlen(name));
	err = PTR_ERR_OR_ZERO(index);
	if (err)
		goto out_unlock;
	if (d_is_positive(index)) {
		err = cowfs_verify_index(ofs, index);
		if (err == -ESTALE || err == -ENOENT) {
			pr_info("removing %s index entry %s\n",
				err == -ESTALE ? "stale" : "orphan", name);
			err = cowfs_cleanup(layer, d_inode(indexdir), index);
		} else if (err) {
			errorfc(fc,
				"index entry '%s' is not one cowfs or overlayfs made (%d): delete '%s/%s' or mount with index=off",
				name, err, ofs->config.workdir,
				COWFS_INDEXDIR_NAME);
		}
	}
	dput(index);
out_unlock:
	inode_unlock(d_inode(indexdir));
	return err;
}

struct cowfs_index_clean {
	struct cowfs_fs *ofs;
	struct fs_context *fc;
};

static int cowfs_clean_index_one(const char *name, void *arg)
{
	struct cowfs_index_clean *c = arg;

	return cowfs_clean_index_entry(c->ofs, c->fc, name);
}

static int cowfs_clean_indexdir(struct cowfs_fs *ofs, struct fs_context *fc)
{
	struct path path = { .mnt = cowfs_upper_mnt(ofs), .dentry = ofs->indexdir };
	struct cowfs_index_clean c = { .ofs = ofs, .fc = fc };

	return cowfs_walk_names(&path, cowfs_clean_index_one, &c);
}

/*
 * index=on: tie the upper layer to the lower layers and to its index
 * directory, or refuse; then clean the index.  With the mounter's
 * credentials and write access to the upper layer.
 */
static int cowfs_index_setup_locked(struct cowfs_fs *ofs, struct fs_context *fc)
{
	struct dentry *upperroot = cowfs_upper_mnt(ofs)->mnt_root;
	struct dentry *lowerroot = ofs->layers[1].mnt->mnt_root;
	struct dentry *indexdir;
	int err;

	/* The upper root's origin: the top lower layer's root */
	err = cowfs_check_real_fh(ofs, upperroot, COWFS_XA_ORIGIN, lowerroot,
				  false, true);
	if (err) {
		errorfc(fc,
			"upperdir '%s' was not made over these lower layers, or its origin is unreadable (%d): mount with index=off to use it anyway",
			ofs->config.upperdir, err);
		return err;
	}

	/* Never cleaned whole, unlike workdir/work */
	indexdir = cowfs_make_work_subdir(ofs, COWFS_INDEXDIR_NAME);
	if (IS_ERR(indexdir)) {
		errorfc(fc, "cannot make '%s/%s': %ld", ofs->config.workdir,
			COWFS_INDEXDIR_NAME, PTR_ERR(indexdir));
		return PTR_ERR(indexdir);
	}
	ofs->indexdir = indexdir;

	/* The index directory's upper: the upper root (older kernels: origin) */
	err = cowfs_check_real_fh(ofs, indexdir, COWFS_XA_ORIGIN, upperroot,
				  true, false);
	if (err == -ENODATA)
		err = cowfs_check_real_fh(ofs, indexdir, COWFS_XA_UPPER,
					  upperroot, true, true);
	if (err) {
		errorfc(fc,
			"index '%s/%s' belongs to another upperdir, or is unreadable (%d): delete it or mount with index=off",
			ofs->config.workdir, COWFS_INDEXDIR_NAME, err);
		return err;
	}
	return cowfs_clean_indexdir(ofs, fc);
}

int cowfs_index_setup(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);
	const struct cred *old_cred;
	int err;

	if (!ofs->config.index)
		return 0;
	if (!cowfs_index_layers_ok(ofs, fc)) {
		ofs->config.index = false;
		return 0;
	}

	err = cowfs_want_write(&ofs->layers[0]);
	if (err)
		return err;
	old_cred = cowfs_override_creds(sb);
	err = cowfs_index_setup_locked(ofs, fc);
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(&ofs->layers[0]);
	return err;
}
