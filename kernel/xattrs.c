// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: extended attributes.
 *
 * The trusted.overlay.* names (user.overlay.* with userxattr) hold the
 * union's own bookkeeping (opaque directories, redirects, origins).  They
 * are neither shown to nor settable by users of the union, just as on
 * overlayfs.  Every other name is the real object's.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/string.h>
#include <linux/xattr.h>

#include "cowfs.h"

const char *const cowfs_xattr_names[][2] = {
	[COWFS_XA_OPAQUE] = { COWFS_XATTR_TRUSTED_PREFIX "opaque",
			      COWFS_XATTR_USER_PREFIX "opaque" },
	[COWFS_XA_REDIRECT] = { COWFS_XATTR_TRUSTED_PREFIX "redirect",
				COWFS_XATTR_USER_PREFIX "redirect" },
	[COWFS_XA_ORIGIN] = { COWFS_XATTR_TRUSTED_PREFIX "origin",
			      COWFS_XATTR_USER_PREFIX "origin" },
	[COWFS_XA_IMPURE] = { COWFS_XATTR_TRUSTED_PREFIX "impure",
			      COWFS_XATTR_USER_PREFIX "impure" },
	[COWFS_XA_METACOPY] = { COWFS_XATTR_TRUSTED_PREFIX "metacopy",
				COWFS_XATTR_USER_PREFIX "metacopy" },
	[COWFS_XA_UPPER] = { COWFS_XATTR_TRUSTED_PREFIX "upper",
			     COWFS_XATTR_USER_PREFIX "upper" },
	[COWFS_XA_NLINK] = { COWFS_XATTR_TRUSTED_PREFIX "nlink",
			     COWFS_XATTR_USER_PREFIX "nlink" },
	/* cowfs's own (copyup=partial): overlayfs has no such file */
	[COWFS_XA_PARTIAL] = { COWFS_XATTR_TRUSTED_PREFIX "cowfs.partial",
			       COWFS_XATTR_USER_PREFIX "cowfs.partial" },
};

/* One of the union's own names (userxattr's?): never shown or copied up */
bool cowfs_is_private_xattr(bool userxattr, const char *name)
{
	if (userxattr)
		return !strncmp(name, COWFS_XATTR_USER_PREFIX,
				COWFS_XATTR_USER_PREFIX_LEN);
	return !strncmp(name, COWFS_XATTR_TRUSTED_PREFIX,
			COWFS_XATTR_TRUSTED_PREFIX_LEN);
}

/* Whether the caller, not the mounter, may see @name in a listing. */
static bool cowfs_can_list(const struct cowfs_fs *ofs, const char *name)
{
	if (cowfs_is_private_xattr(ofs->config.userxattr, name))
		return false;

	/* Listing trusted.* needs CAP_SYS_ADMIN, as on any filesystem */
	if (!strncmp(name, XATTR_TRUSTED_PREFIX, XATTR_TRUSTED_PREFIX_LEN))
		return ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);

	return true;
}

ssize_t cowfs_listxattr(struct dentry *dentry, char *list, size_t size)
{
	const struct cred *old_cred;
	struct path realpath;
	ssize_t res, remain;
	size_t len;
	char *s;

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	res = cowfs_do_listxattr(realpath.dentry, list, size);
	cowfs_revert_creds(old_cred);
	if (res <= 0 || size == 0)
		return res;

	/* Filter out the names this caller must not see, in place */
	for (s = list, remain = res; remain > 0; remain -= len) {
		len = strnlen(s, remain) + 1;
		if (WARN_ON_ONCE(len > remain))
			return -EIO;

		if (cowfs_can_list(COWFS_FS(dentry->d_sb), s)) {
			s += len;
		} else {
			res -= len;
			memmove(s, s + len, remain - len);
		}
	}
	return res;
}

static int cowfs_own_xattr_get(const struct xattr_handler *handler,
			       struct dentry *dentry, struct inode *inode,
			       const char *name, void *buffer, size_t size)
{
	return -EOPNOTSUPP;
}

static int cowfs_own_xattr_set(const struct xattr_handler *handler,
			       struct mnt_idmap *idmap,
			       struct dentry *dentry, struct inode *inode,
			       const char *name, const void *value,
			       size_t size, int flags)
{
	return -EOPNOTSUPP;
}

static int cowfs_other_xattr_get(const struct xattr_handler *handler,
				 struct dentry *dentry, struct inode *inode,
				 const char *name, void *buffer, size_t size)
{
	const struct cred *old_cred;
	struct path realpath;
	ssize_t res;

	cowfs_path_real(dentry, &realpath);
	old_cred = cowfs_override_creds(dentry->d_sb);
	res = cowfs_do_getxattr(&realpath, xattr_full_name(handler, name),
				buffer, size);
	cowfs_revert_creds(old_cred);
	return res;
}

/* Setting or removing (@value NULL) an xattr copies the object up. */
static int cowfs_other_xattr_set(const struct xattr_handler *handler,
				 struct mnt_idmap *idmap,
				 struct dentry *dentry, struct inode *inode,
				 const char *name, const void *value,
				 size_t size, int flags)
{
	const struct cowfs_layer *layer;
	const struct cred *old_cred;
	struct path upper;
	int err;

	name = xattr_full_name(handler, name);
	/*
	 * As overlayfs: removing what a lower file does not have changes
	 * nothing, and copies nothing up.
	 */
	if (!value && !cowfs_dentry_upper(dentry)) {
		struct path lower;

		cowfs_path_lower(dentry, &lower);
		old_cred = cowfs_override_creds(dentry->d_sb);
		err = cowfs_do_getxattr(&lower, name, NULL, 0);
		cowfs_revert_creds(old_cred);
		if (err < 0)
			return err;
	}
	/*
	 * An upper file copied up through another name (index=on) takes
	 * the xattr as it is: this name is not linked up for it (overlayfs's
	 * ovl_xattr_set() neither).
	 */
	if (!cowfs_dentry_upper(dentry)) {
		err = cowfs_copy_up(dentry);
		if (err)
			return err;
	}

	/* The union's upper layer, or the volume the object is in */
	cowfs_path_upper(dentry, &upper);
	layer = cowfs_upper_layer(inode);
	err = cowfs_want_write(layer);
	if (err)
		return err;

	old_cred = cowfs_override_creds(dentry->d_sb);
	if (value)
		err = cowfs_do_setxattr(layer, upper.dentry, name, value, size,
					flags);
	else
		err = cowfs_do_removexattr(layer, upper.dentry, name);
	cowfs_revert_creds(old_cred);
	cowfs_drop_write(layer);

	cowfs_copyattr(inode);
	return err;
}

static const struct xattr_handler cowfs_own_trusted_xattr_handler = {
	.prefix	= COWFS_XATTR_TRUSTED_PREFIX,
	.get	= cowfs_own_xattr_get,
	.set	= cowfs_own_xattr_set,
};

static const struct xattr_handler cowfs_own_user_xattr_handler = {
	.prefix	= COWFS_XATTR_USER_PREFIX,
	.get	= cowfs_own_xattr_get,
	.set	= cowfs_own_xattr_set,
};

static const struct xattr_handler cowfs_other_xattr_handler = {
	.prefix	= "", /* catch all */
	.get	= cowfs_other_xattr_get,
	.set	= cowfs_other_xattr_set,
};

static const struct xattr_handler * const cowfs_trusted_xattr_handlers[] = {
	&cowfs_own_trusted_xattr_handler,
	&cowfs_other_xattr_handler,
	NULL
};

static const struct xattr_handler * const cowfs_user_xattr_handlers[] = {
	&cowfs_own_user_xattr_handler,
	&cowfs_other_xattr_handler,
	NULL
};

/* The handlers of a mount: its own names hidden, the others passed on */
const struct xattr_handler * const *cowfs_xattr_handlers(struct cowfs_fs *ofs)
{
	return ofs->config.userxattr ? cowfs_user_xattr_handlers :
				       cowfs_trusted_xattr_handlers;
}
