// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: mount options through the fs_context API.
 *
 * Options follow overlayfs so that `mount -t overlay` users feel at home:
 *
 *   lowerdir=/l1:/l2:/l3   top layer first; "\:" escapes a colon and "\,"
 *                          a comma in the legacy mount(2) option string
 *   lowerdir+=/l1          one layer per option, appended below the others
 *                          (fsconfig(2): no page-size limit on layers)
 *   lowerdir=/l1::/d1::/d2 data-only lower layers, each after a "::", below
 *   datadir+=/d1           all the others (datadir+ after every lowerdir+):
 *                          not part of the merged tree, only the absolute
 *                          redirects of metacopy files in the lower layers
 *                          reach their regular files (composefs images).
 *                          Need metacopy=on and one lower layer that is
 *                          not data-only
 *   upperdir=/u            the writable layer, and workdir=/w on the same
 *                          filesystem for building objects atomically
 *   redirect_dir=on|follow|off|nofollow
 *                          rename lower directories with redirect xattrs
 *                          (on, the default) or refuse with EXDEV (the
 *                          others); follow redirects found in the layers
 *                          (on, follow, off) or not (nofollow)
 *   userxattr              keep the union's own xattrs in user.overlay.*
 *                          rather than trusted.overlay.* (overlayfs's
 *                          format for unprivileged mounts); needed to
 *                          mount in a user namespace, and it turns
 *                          redirects off (redirect_dir=nofollow)
 *   aufs_whiteouts         also take the layers' AUFS-style whiteouts:
 *                          a file .wh.NAME hides NAME, a directory holding
 *                          .wh..wh..opq is opaque, and .wh.* names are not
 *                          shown (what containers/storage writes for a
 *                          mount_program, as fuse-overlayfs reads it)
 *   volume=NAME:/path      attach volume NAME (see the cowfs netlink
 *                          family) at /path inside the union; repeatable
 *                          (not in a user namespace)
 *   metacopy=on|off        chmod, chown, utimes and xattr changes copy
 *                          up the metadata only (trusted.overlay.metacopy);
 *                          the data follows on the first open for write.
 *                          Also follow the layers' metacopy files, which
 *                          metacopy=off refuses (EPERM), as overlayfs.
 *                          Needs redirect_dir=on (the default)
 *   verity=off|on|require  check the fs-verity digest a metacopy file
 *                          records for its data (on), and insist on one
 *                          (require); record it at metacopy copy-up.
 *                          Turns metacopy on (verity.c)
 *   index=on|off           keep the names of a hard-linked lower file
 *                          linked when one is copied up, through an index
 *                          in workdir (index.c); off by default, as on
 *                          Debian's overlayfs.  Without upperdir it does
 *                          nothing; it conflicts with userxattr
 *   copyup=full|partial    partial: the first write to a big lower file
 *                          copies up only the granules it touches; the
 *                          rest is read from the lower file until written
 *                          or until the file is completed (partial.c).
 *                          Conflicts with metacopy=on and verity=
 *   xino=on|auto|off, volatile
 *                          accepted for compatibility with overlay2
 *                          mount lines; cowfs always keeps st_ino unique
 *                          (as with xino=on) and syncs the upper layer
 *                          when asked to even with volatile
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "cowfs.h"
#include "params.h"

enum cowfs_opt {
	opt_lowerdir,
	opt_lowerdir_add,
	opt_upperdir,
	opt_workdir,
	opt_redirect_dir,
	opt_index,
	opt_metacopy,
	opt_copyup,
	opt_xino,
	opt_userxattr,
	opt_volatile,
	opt_aufs_whiteouts,
	opt_volume,
	opt_datadir_add,
	opt_default_permissions,
	opt_uuid,
	opt_nfs_export,
	opt_verity,
	opt_fsync,
};

enum {
	redirect_on = 1,	/* 0: not given */
	redirect_follow,
	redirect_off,
	redirect_nofollow,
};

static const struct constant_table cowfs_parameter_redirect_dir[] = {
	{ "on",		redirect_on },
	{ "follow",	redirect_follow },
	{ "off",	redirect_off },
	{ "nofollow",	redirect_nofollow },
	{}
};

static const struct constant_table cowfs_parameter_bool[] = {
	{ "on",		true },
	{ "off",	false },
	{}
};

/* overlayfs's values; cowfs behaves as uuid=null (docs/overlay-differences.md) */
static const struct constant_table cowfs_parameter_uuid[] = {
	{ "off",	cowfs_uuid_off },
	{ "null",	cowfs_uuid_null },
	{ "on",		cowfs_uuid_on },
	{ "auto",	cowfs_uuid_auto },
	{}
};

static const struct constant_table cowfs_parameter_verity[] = {
	{ "off",	COWFS_VERITY_OFF },
	{ "on",		COWFS_VERITY_ON },
	{ "require",	COWFS_VERITY_REQUIRE },
	{}
};

static const struct constant_table cowfs_parameter_fsync[] = {
	{ "volatile",	cowfs_fsync_volatile },
	{ "auto",	cowfs_fsync_auto },
	{ "strict",	cowfs_fsync_strict },
	{}
};

static const struct constant_table cowfs_parameter_copyup[] = {
	{ "full",	0 },
	{ "partial",	1 },
	{}
};

static const struct constant_table cowfs_parameter_xino[] = {
	{ "off",	0 },
	{ "auto",	1 },
	{ "on",		2 },
	{}
};

const struct fs_parameter_spec cowfs_parameter_spec[] = {
	fsparam_string_empty("lowerdir", opt_lowerdir),
	fsparam_string("lowerdir+", opt_lowerdir_add),
	fsparam_string("upperdir", opt_upperdir),
	fsparam_string("workdir", opt_workdir),
	fsparam_enum("redirect_dir", opt_redirect_dir,
		     cowfs_parameter_redirect_dir),
	fsparam_enum("index", opt_index, cowfs_parameter_bool),
	fsparam_enum("metacopy", opt_metacopy, cowfs_parameter_bool),
	fsparam_enum("xino", opt_xino, cowfs_parameter_xino),
	fsparam_flag("userxattr", opt_userxattr),
	fsparam_flag("volatile", opt_volatile),
	fsparam_flag("aufs_whiteouts", opt_aufs_whiteouts),
	fsparam_string("volume", opt_volume),
	fsparam_string("datadir+", opt_datadir_add),
	fsparam_flag("default_permissions", opt_default_permissions),
	fsparam_enum("uuid", opt_uuid, cowfs_parameter_uuid),
	fsparam_enum("nfs_export", opt_nfs_export, cowfs_parameter_bool),
	fsparam_enum("verity", opt_verity, cowfs_parameter_verity),
	fsparam_enum("fsync", opt_fsync, cowfs_parameter_fsync),
	fsparam_enum("copyup", opt_copyup, cowfs_parameter_copyup),
	{}
};

/* Split the legacy option string at commas that are not escaped. */
static char *cowfs_next_opt(char **s)
{
	char *sbegin = *s;
	char *p;

	if (!sbegin)
		return NULL;

	for (p = sbegin; *p; p++) {
		if (*p == '\\') {
			p++;
			if (!*p)
				break;
		} else if (*p == ',') {
			*p = '\0';
			*s = p + 1;
			return sbegin;
		}
	}
	*s = NULL;
	return sbegin;
}

static int cowfs_parse_monolithic(struct fs_context *fc, void *data)
{
	return vfs_parse_monolithic_sep(fc, data, cowfs_next_opt);
}

/* Drop the backslash of every escaped character, in place. */
static void cowfs_unescape(char *s)
{
	char *d = s;

	for (;; s++, d++) {
		if (*s == '\\' && s[1])
			s++;
		*d = *s;
		if (!*s)
			break;
	}
}

static void cowfs_ctx_reset_lower(struct cowfs_fs_context *ctx)
{
	unsigned int i;

	for (i = 0; i < ctx->nr; i++) {
		path_put(&ctx->lower[i].path);
		kfree(ctx->lower[i].name);
	}
	ctx->nr = 0;
	ctx->nr_data = 0;
	kfree(ctx->lowerdir_all);
	ctx->lowerdir_all = NULL;
}

static int cowfs_ctx_grow(struct cowfs_fs_context *ctx)
{
	struct cowfs_fs_context_layer *l;
	unsigned int cap;

	if (ctx->nr < ctx->capacity)
		return 0;

	cap = min_t(unsigned int, max(16U, ctx->capacity * 2),
		    COWFS_MAX_STACK);
	l = krealloc_array(ctx->lower, cap, sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	ctx->lower = l;
	ctx->capacity = cap;
	return 0;
}

/* Resolve the directory of a layer option into @path. */
static int cowfs_resolve_dir(struct fs_context *fc, const char *what,
			     const char *name, struct path *path)
{
	int err;

	if (!*name)
		return invalfc(fc, "empty %s path", what);
	if (*name != '/')
		return invalfc(fc, "%s path '%s' is not absolute", what, name);

	err = kern_path(name, LOOKUP_FOLLOW, path);
	if (err) {
		errorfc(fc, "failed to resolve %s '%s': %d", what, name, err);
		return err;
	}

	if (!d_is_dir(path->dentry)) {
		errorfc(fc, "%s '%s' is not a directory", what, name);
		err = -ENOTDIR;
	} else if (sb_has_encoding(path->mnt->mnt_sb)) {
		errorfc(fc, "case-insensitive filesystem on '%s' not supported",
			name);
		err = -EINVAL;
	} else if (cowfs_dentry_weird(path->dentry)) {
		errorfc(fc, "filesystem on '%s' not supported", name);
		err = -EINVAL;
	}
	if (err)
		path_put(path);
	return err;
}

/*
 * Resolve one layer and append it below the others, as a data-only layer
 * if @data.  @name is unescaped and owned by the caller.
 */
static int cowfs_add_layer(struct fs_context *fc, const char *name,
			   bool data)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs_context_layer *l;
	struct path path;
	int err;

	/* As overlayfs: data-only layers come after all the others */
	if (!data && ctx->nr_data)
		return invalfc(fc, "regular lower layers cannot follow data-only layers");
	if (ctx->nr == COWFS_MAX_STACK)
		return invalfc(fc, "too many lower layers, limit is %d",
			       COWFS_MAX_STACK);

	err = cowfs_resolve_dir(fc, "layer", name, &path);
	if (err)
		return err;

	err = cowfs_ctx_grow(ctx);
	if (err)
		goto out_put;

	l = &ctx->lower[ctx->nr];
	l->name = kstrdup(name, GFP_KERNEL);
	if (!l->name) {
		err = -ENOMEM;
		goto out_put;
	}
	l->path = path;
	ctx->nr++;
	if (data)
		ctx->nr_data++;
	return 0;

out_put:
	path_put(&path);
	return err;
}

/*
 * volume=NAME:/target.  The name is checked by the volume registry when
 * the volume is attached; the target must be a plain absolute path below
 * the root of the union, and each target is used once.
 */
static int cowfs_add_volume(struct fs_context *fc, const char *spec)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	const char *target = strchr(spec, ':');
	const char *p;
	unsigned int i;

	if (ctx->nr_volumes == COWFS_MAX_VOLUMES)
		return invalfc(fc, "too many volumes, limit is %d",
			       COWFS_MAX_VOLUMES);
	if (!target || target == spec)
		return invalfc(fc, "volume '%s' must be NAME:/path", spec);
	target++;
	if (*target != '/' || !target[1])
		return invalfc(fc, "volume '%s': the path must be absolute and not /",
			       spec);
	if (strstr(target, "//") || target[strlen(target) - 1] == '/')
		return invalfc(fc, "volume '%s': the path must not contain '//' or end in '/'",
			       spec);
	for (p = target + 1; *p; ) {
		int len = strchrnul(p, '/') - p;

		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return invalfc(fc, "volume '%s': the path must not contain '.' or '..'",
				       spec);
		p += len;
		if (*p)
			p++;
	}
	for (i = 0; i < ctx->nr_volumes; i++) {
		if (!strcmp(strchr(ctx->volumes[i], ':') + 1, target))
			return invalfc(fc, "two volumes at '%s'", target);
	}

	ctx->volumes[ctx->nr_volumes] = kstrdup(spec, GFP_KERNEL);
	if (!ctx->volumes[ctx->nr_volumes])
		return -ENOMEM;
	ctx->nr_volumes++;
	return 0;
}

static void cowfs_ctx_put_layer(struct cowfs_fs_context_layer *l)
{
	if (l->name)
		path_put(&l->path);
	kfree(l->name);
	l->name = NULL;
}

/* upperdir= or workdir=: a later option replaces an earlier one. */
static int cowfs_set_dir(struct fs_context *fc, const char *what,
			 struct cowfs_fs_context_layer *l, const char *value)
{
	struct path path;
	char *name;
	int err;

	name = kstrdup(value, GFP_KERNEL);
	if (!name)
		return -ENOMEM;
	cowfs_unescape(name);

	err = cowfs_resolve_dir(fc, what, name, &path);
	if (err)
		goto out_free;

	if (l == &((struct cowfs_fs_context *)fc->fs_private)->upper &&
	    __mnt_is_readonly(path.mnt)) {
		errorfc(fc, "filesystem on upperdir '%s' is read-only", name);
		path_put(&path);
		err = -EROFS;
		goto out_free;
	}

	cowfs_ctx_put_layer(l);
	l->name = name;
	l->path = path;
	return 0;

out_free:
	kfree(name);
	return err;
}

/*
 * lowerdir=/a:/b:/c replaces every layer given so far; "::" before a layer
 * makes it data-only (lowerdir=/a::/d1::/d2), as on overlayfs.
 */
static int cowfs_parse_lowerdir(struct fs_context *fc, const char *value)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	bool data = false;
	char *dup, *s, *p;
	int err = 0;

	cowfs_ctx_reset_lower(ctx);

	if (!*value)
		return invalfc(fc, "empty lowerdir: name at least one layer");
	if (*value == ':')
		return invalfc(fc, "lowerdir must not start with ':'");

	ctx->lowerdir_all = kstrdup(value, GFP_KERNEL);
	dup = kstrdup(value, GFP_KERNEL);
	if (!ctx->lowerdir_all || !dup) {
		kfree(dup);
		return -ENOMEM;
	}

	for (s = p = dup; !err; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != ':' && *p)
			continue;
		if (*p && p[1] == ':' && p[2] == ':') {
			err = invalfc(fc, "only ':' or '::' may separate layers in lowerdir");
			break;
		}
		if (*p) {
			*p = '\0';
			cowfs_unescape(s);
			err = cowfs_add_layer(fc, s, data);
			/* "::": the next layer is data-only */
			data = p[1] == ':';
			if (data)
				p++;
			s = p + 1;
			continue;
		}
		cowfs_unescape(s);
		err = cowfs_add_layer(fc, s, data);
		break;
	}
	kfree(dup);
	if (err)
		cowfs_ctx_reset_lower(ctx);
	return err;
}

/*
 * Layers cannot change under a live mount.  Old mount(2) users get
 * overlayfs's behaviour for options that say what is already true, so
 * that "mount -o remount,ro" with the current options keeps working.
 */
static int cowfs_reconfigure_param(struct fs_context *fc,
				   struct fs_parameter *param)
{
	struct cowfs_fs *ofs = COWFS_FS(fc->root->d_sb);

	if (fc->oldapi && !strcmp(param->key, "lowerdir") &&
	    param->type == fs_value_is_string && ofs->config.lowerdir_all &&
	    !strcmp(param->string, ofs->config.lowerdir_all))
		return 0;

	return invalfc(fc, "'%s' cannot be changed on remount", param->key);
}

static int cowfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	if (fc->purpose == FS_CONTEXT_FOR_RECONFIGURE)
		return cowfs_reconfigure_param(fc, param);

	opt = fs_parse(fc, cowfs_parameter_spec, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case opt_lowerdir:
		return cowfs_parse_lowerdir(fc, param->string);
	case opt_lowerdir_add:
	case opt_datadir_add:
		if (ctx->lowerdir_all)
			return invalfc(fc, "lowerdir+ and datadir+ cannot follow lowerdir");
		return cowfs_add_layer(fc, param->string,
				       opt == opt_datadir_add);
	case opt_upperdir:
		return cowfs_set_dir(fc, "upperdir", &ctx->upper, param->string);
	case opt_workdir:
		return cowfs_set_dir(fc, "workdir", &ctx->work, param->string);
	case opt_redirect_dir:
		ctx->redirect_mode = result.uint_32;
		return 0;
	case opt_userxattr:
		ctx->userxattr = true;
		return 0;
	case opt_aufs_whiteouts:
		ctx->aufs_whiteouts = true;
		return 0;
	case opt_volatile:
		/* A hint that syncs may be skipped: cowfs syncs all the same */
		ctx->fsync_mode = cowfs_fsync_volatile;
		return 0;
	case opt_fsync:
		ctx->fsync_mode = result.uint_32;
		return 0;
	case opt_default_permissions:
		/* overlayfs 6.12 accepts it and checks permissions the same */
		ctx->default_permissions = true;
		return 0;
	case opt_uuid:
		if (result.uint_32 == cowfs_uuid_on || result.uint_32 == cowfs_uuid_off)
			return invalfc(fc, "uuid=%s is not supported (cowfs acts as uuid=null)",
				       param->string);
		ctx->uuid_mode = result.uint_32;
		return 0;
	case opt_nfs_export:
		if (result.uint_32)
			return invalfc(fc, "nfs_export=on is not supported: no NFS export");
		return 0;
	case opt_verity:
		ctx->verity_mode = result.uint_32;
		return 0;
	case opt_index:
		ctx->index = result.uint_32;
		return 0;
	case opt_metacopy:
		ctx->metacopy = result.uint_32;
		ctx->metacopy_set = true;
		return 0;
	case opt_copyup:
		ctx->copyup_partial = result.uint_32;
		return 0;
	case opt_xino:
		/* st_ino is always unique across layers, as with xino=on */
		return 0;
	case opt_volume:
		return cowfs_add_volume(fc, param->string);
	}
	return -EINVAL;
}

static const char *const cowfs_redirect_names[] = {
	[redirect_on]		= "on",
	[redirect_follow]	= "follow",
	[redirect_off]		= "off",
	[redirect_nofollow]	= "nofollow",
};

/*
 * Settle the options that depend on each other and on where the mount is
 * made, into @config (fill_super, in the mounter's context).
 */
int cowfs_params_verify(struct fs_context *fc, struct cowfs_config *config)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	int mode = ctx->redirect_mode;

	if (fc->user_ns != &init_user_ns) {
		if (!ctx->userxattr)
			return invalfc(fc, "a user namespace needs userxattr (user.* xattrs)");
		if (ctx->nr_volumes)
			return invalfc(fc, "no volumes in a user namespace (they are the host's)");
	}
	/*
	 * As overlayfs: anyone who owns a lower directory can set a user.*
	 * redirect on it, so with userxattr redirects are neither made nor
	 * followed.
	 */
	if (ctx->userxattr) {
		if (mode && mode != redirect_nofollow)
			return invalfc(fc, "conflicting options: userxattr,redirect_dir=%s",
				       cowfs_redirect_names[mode]);
		if (ctx->verity_mode)
			return invalfc(fc, "conflicting options: userxattr,verity=%s",
				       cowfs_parameter_verity[ctx->verity_mode].name);
		if (ctx->metacopy)
			return invalfc(fc, "conflicting options: userxattr,metacopy=on");
		/* The index trusts origins, which user.* xattrs cannot be */
		if (ctx->index)
			return invalfc(fc, "conflicting options: userxattr,index=on");
		mode = redirect_nofollow;
	}
	/* Digests are metacopy files': verity= turns metacopy on */
	if (ctx->verity_mode && !ctx->metacopy) {
		if (ctx->metacopy_set)
			return invalfc(fc, "conflicting options: metacopy=off,verity=%s",
				       cowfs_parameter_verity[ctx->verity_mode].name);
		ctx->metacopy = true;
	}
	/* A partial file's data is its upper file's and its origin's only */
	if (ctx->copyup_partial && ctx->metacopy)
		return invalfc(fc, ctx->verity_mode ?
			       "conflicting options: copyup=partial,verity=" :
			       "conflicting options: copyup=partial,metacopy=on");
	/* As overlayfs: only metacopy files' redirects reach data layers */
	if (ctx->nr_data && !ctx->metacopy)
		return invalfc(fc, "data-only lower layers need metacopy=on");
	if (ctx->nr_data && ctx->nr_data == ctx->nr)
		return invalfc(fc, "data-only lower layers need a regular lower layer too");
	/* A metacopy file renamed is found by its redirect */
	if (ctx->metacopy && mode && mode != redirect_on)
		return invalfc(fc, "conflicting options: metacopy=on,redirect_dir=%s",
			       cowfs_redirect_names[mode]);
	config->userxattr = ctx->userxattr;
	config->aufs_whiteouts = ctx->aufs_whiteouts;
	config->default_permissions = ctx->default_permissions;
	config->fsync_strict = ctx->fsync_mode == cowfs_fsync_strict;
	config->uuid_null = ctx->uuid_mode == cowfs_uuid_null;
	config->metacopy = ctx->metacopy;
	config->copyup_partial = ctx->copyup_partial;
	/* As overlayfs: without an upper layer nothing is copied up */
	config->index = ctx->index && ctx->upper.name;
	config->verity_mode = ctx->verity_mode;
	config->redirect_dir = !mode || mode == redirect_on;
	config->redirect_follow = mode != redirect_nofollow;
	config->redirect_shown = mode ? cowfs_redirect_names[mode] : NULL;
	return 0;
}

static int cowfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, cowfs_fill_super);
}

static int cowfs_reconfigure(struct fs_context *fc)
{
	/* Without an upper layer there is nowhere to write */
	if (!(fc->sb_flags & SB_RDONLY) &&
	    !cowfs_has_upper(COWFS_FS(fc->root->d_sb))) {
		errorfc(fc, "a union without upperdir is read-only");
		return -EROFS;
	}
	return 0;
}

static void cowfs_fs_context_free(struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;

	if (ctx) {
		cowfs_ctx_reset_lower(ctx);
		kfree(ctx->lower);
		cowfs_ctx_put_layer(&ctx->upper);
		cowfs_ctx_put_layer(&ctx->work);
		while (ctx->nr_volumes)
			kfree(ctx->volumes[--ctx->nr_volumes]);
		kfree(ctx);
	}
	/* Set only if fill_super never took ownership of it */
	cowfs_free_fs(fc->s_fs_info);
}

static const struct fs_context_operations cowfs_context_ops = {
	.parse_monolithic	= cowfs_parse_monolithic,
	.parse_param		= cowfs_parse_param,
	.get_tree		= cowfs_get_tree,
	.reconfigure		= cowfs_reconfigure,
	.free			= cowfs_fs_context_free,
};

int cowfs_init_fs_context(struct fs_context *fc)
{
	struct cowfs_fs_context *ctx;
	struct cowfs_fs *ofs;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;

	ofs = kzalloc(sizeof(*ofs), GFP_KERNEL_ACCOUNT);
	if (!ofs) {
		kfree(ctx);
		return -ENOMEM;
	}

	INIT_LIST_HEAD(&ofs->mounts_node);
	fc->fs_private = ctx;
	fc->s_fs_info = ofs;
	fc->ops = &cowfs_context_ops;
	return 0;
}

void cowfs_free_fs(struct cowfs_fs *ofs)
{
	unsigned int i;

	if (!ofs)
		return;

	dput(ofs->workdir);
	dput(ofs->indexdir);
	if (ofs->workdir_locked)
		cowfs_inuse_unlock(ofs->workbasedir);
	dput(ofs->workbasedir);
	if (ofs->upperdir_locked)
		cowfs_inuse_unlock(cowfs_upper_mnt(ofs)->mnt_root);

	/* One RCU grace period for all layers, not one each */
	if (ofs->numlayer)
		kern_unmount_array(ofs->mounts, ofs->numlayer);
	for (i = 0; i < ofs->numlayer; i++)
		kfree(ofs->layers[i].name);
	cowfs_free_grafts(ofs);
	kfree(ofs->mounts);
	kfree(ofs->layers);
	kfree(ofs->fs);
	kfree(ofs->config.lowerdir_all);
	kfree(ofs->config.upperdir);
	kfree(ofs->config.workdir);
	if (ofs->creator_cred)
		put_cred(ofs->creator_cred);
	kfree(ofs);
}

/*
 * Call @fn on each option of @ofs as mount(8) would take it back, @value
 * NULL for a flag, until it returns nonzero; for /proc/mounts and for
 * netlink's mount-get.
 */
int cowfs_options_walk(struct cowfs_fs *ofs, void *arg,
		       int (*fn)(const char *key, const char *val, void *arg))
{
	unsigned int i;
	size_t len = 0;
	char *buf;
	int err;

	/*
	 * Always show one lowerdir=, also for layers added with lowerdir+
	 * and datadir+, so that the options can be handed back to mount(8):
	 * the ':'-joined, '\'-escaped list, "::" before a data-only layer
	 * (overlayfs shows lowerdir+= and datadir+= one by one instead).
	 */
	if (ofs->config.lowerdir_all) {
		err = fn("lowerdir", ofs->config.lowerdir_all, arg);
	} else {
		for (i = 1; i < ofs->numlayer; i++)
			len += 2 * strlen(ofs->layers[i].name) + 2;
		buf = kmalloc(len + 1, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;

		len = 0;
		for (i = 1; i < ofs->numlayer; i++) {
			const char *p;

			if (i > 1)
				buf[len++] = ':';
			if (i > cowfs_numlowerlayer(ofs))
				buf[len++] = ':';
			for (p = ofs->layers[i].name; *p; p++) {
				if (*p == ':' || *p == '\\')
					buf[len++] = '\\';
				buf[len++] = *p;
			}
		}
		buf[len] = '\0';
		err = fn("lowerdir", buf, arg);
		kfree(buf);
	}
	if (!err && ofs->config.upperdir)
		err = fn("upperdir", ofs->config.upperdir, arg) ?:
		      fn("workdir", ofs->config.workdir, arg);
	/* What was asked for, not what it implies (userxattr: nofollow) */
	if (!err && ofs->config.redirect_shown)
		err = fn("redirect_dir", ofs->config.redirect_shown, arg);
	if (!err && ofs->config.index)
		err = fn("index", "on", arg);
	if (!err && ofs->config.metacopy)
		err = fn("metacopy", "on", arg);
	if (!err && ofs->config.copyup_partial)
		err = fn("copyup", "partial", arg);
	if (!err && ofs->config.verity_mode)
		err = fn("verity",
			 cowfs_parameter_verity[ofs->config.verity_mode].name,
			 arg);
	if (!err && ofs->config.default_permissions)
		err = fn("default_permissions", NULL, arg);
	if (!err && ofs->config.uuid_null)
		err = fn("uuid", "null", arg);
	if (!err && ofs->config.fsync_strict)
		err = fn("fsync", "strict", arg);
	if (!err && ofs->config.userxattr)
		err = fn("userxattr", NULL, arg);
	if (!err && ofs->config.aufs_whiteouts)
		err = fn("aufs_whiteouts", NULL, arg);
	for (i = 0; i < ofs->numgrafts && !err; i++)
		err = fn("volume", ofs->grafts[i].spec, arg);
	return err;
}

static int cowfs_seq_option(const char *key, const char *value, void *arg)
{
	seq_show_option(arg, key, value);
	return 0;
}

int cowfs_show_options(struct seq_file *m, struct dentry *dentry)
{
	return cowfs_options_walk(COWFS_FS(dentry->d_sb), m, cowfs_seq_option);
}
