// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: a copy-on-write union filesystem for container storage.
 *
 * The superblock: setting up the layers, statfs, the inode cache and the
 * module's registration.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/statfs.h>

#include "cowfs.h"
#include "params.h"

static struct kmem_cache *cowfs_inode_cachep;

/*
 * Every live cowfs superblock is on cowfs_mounts from the end of a
 * successful fill_super() until kill_sb, in the order of their ids; its
 * cowfs_fs stays valid while cowfs_mounts_lock is held and it is on the
 * list.  The lock also protects cowfs_last_mount_id.
 */
static DEFINE_MUTEX(cowfs_mounts_lock);
static LIST_HEAD(cowfs_mounts);
static u64 cowfs_last_mount_id;

/*
 * Call @fn on each mount whose id is above *@after, in the order of ids,
 * under cowfs_mounts_lock, until it returns nonzero, which is returned;
 * *@after follows each mount for which it returned 0.  So a netlink dump
 * goes on after the last mount it sent.
 */
int cowfs_mounts_walk(u64 *after,
		      int (*fn)(struct cowfs_fs *ofs, void *arg), void *arg)
{
	struct cowfs_fs *ofs;
	int ret = 0;

	mutex_lock(&cowfs_mounts_lock);
	list_for_each_entry(ofs, &cowfs_mounts, mounts_node) {
		if (ofs->id <= *after)
			continue;
		ret = fn(ofs, arg);
		if (ret)
			break;
		*after = ofs->id;
	}
	mutex_unlock(&cowfs_mounts_lock);
	return ret;
}

/* Call @fn on mount @id, under cowfs_mounts_lock; -ENOENT if none. */
int cowfs_mount_call(u64 id, int (*fn)(struct cowfs_fs *ofs, void *arg),
		     void *arg)
{
	struct cowfs_fs *ofs;
	int ret = -ENOENT;

	mutex_lock(&cowfs_mounts_lock);
	list_for_each_entry(ofs, &cowfs_mounts, mounts_node) {
		if (ofs->id == id) {
			ret = fn(ofs, arg);
			break;
		}
	}
	mutex_unlock(&cowfs_mounts_lock);
	return ret;
}

/* Before anything else: volumes record which mount uses them. */
static void cowfs_mount_new_id(struct cowfs_fs *ofs)
{
	mutex_lock(&cowfs_mounts_lock);
	ofs->id = ++cowfs_last_mount_id;
	mutex_unlock(&cowfs_mounts_lock);
}

static void cowfs_mount_register(struct cowfs_fs *ofs)
{
	mutex_lock(&cowfs_mounts_lock);
	list_add_tail(&ofs->mounts_node, &cowfs_mounts);
	mutex_unlock(&cowfs_mounts_lock);
}

static void cowfs_mount_unregister(struct cowfs_fs *ofs)
{
	mutex_lock(&cowfs_mounts_lock);
	list_del_init(&ofs->mounts_node);
	mutex_unlock(&cowfs_mounts_lock);
}

static struct inode *cowfs_alloc_inode(struct super_block *sb)
{
	struct cowfs_inode *oi = alloc_inode_sb(sb, cowfs_inode_cachep,
						GFP_KERNEL);

	if (!oi)
		return NULL;

	oi->oe = NULL;
	oi->__upperdentry = NULL;
	oi->redirect = NULL;
	oi->version = 0;
	oi->nidx = NULL;
	oi->nidx_probes = 0;
	oi->nidx_need = 0;
	oi->dir_cache = NULL;
	oi->flags = 0;
	oi->partial = NULL;
	return &oi->vfs_inode;
}

/*
 * After an RCU grace period: RCU-walk (cowfs_permission(), the RCU ACL
 * lookup) may read the lower stack and the upper dentry of an inode that
 * is being destroyed until then, so they stay in place.
 */
static void cowfs_free_inode(struct inode *inode)
{
	struct cowfs_inode *oi = COWFS_I(inode);

	kfree(oi->redirect);
	kfree(oi->oe);
	cowfs_partial_free(oi->partial);
	kmem_cache_free(cowfs_inode_cachep, oi);
}

/* Drop the real dentries now; the dcache frees them after RCU too. */
static void cowfs_destroy_inode(struct inode *inode)
{
	struct cowfs_inode *oi = COWFS_I(inode);

	dput(oi->__upperdentry);
	cowfs_put_entry(oi->oe);
	/* Only ref-walk lookups and readers of the directory use these */
	cowfs_nidx_free(oi->nidx);
	cowfs_dir_cache_put(oi->dir_cache);
}

/* The real object of a regular file, for file_dentry() and friends. */
static struct dentry *cowfs_d_real(struct dentry *dentry,
				   enum d_real_type type)
{
	struct path realpath;

	switch (type) {
	case D_REAL_DATA:
	case D_REAL_METADATA:
		break;
	default:
		WARN_ONCE(1, "cowfs: unknown d_real type %d\n", type);
		return dentry;
	}

	if (!d_is_reg(dentry))
		return dentry;

	cowfs_path_real(dentry, &realpath);
	if (!realpath.dentry)
		return dentry;

	/* The real object may itself be on a stacked filesystem */
	return d_real(realpath.dentry, type);
}

static const struct dentry_operations cowfs_dentry_operations = {
	.d_real = cowfs_d_real,
};

static int cowfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	const struct cred *old_cred;
	struct path realpath;
	int err;

	cowfs_path_real(sb->s_root, &realpath);
	old_cred = cowfs_override_creds(sb);
	err = vfs_statfs(&realpath, buf);
	cowfs_revert_creds(old_cred);
	if (!err) {
		buf->f_type = COWFS_SUPER_MAGIC;
		buf->f_namelen = COWFS_FS(sb)->namelen;
	}
	return err;
}

static const struct super_operations cowfs_super_operations = {
	.alloc_inode	= cowfs_alloc_inode,
	.free_inode	= cowfs_free_inode,
	.destroy_inode	= cowfs_destroy_inode,
	/* Unused inodes pin real dentries: don't keep them around */
	.drop_inode	= generic_delete_inode,
	.statfs		= cowfs_statfs,
	.show_options	= cowfs_show_options,
};

/*
 * Give each distinct filesystem under the layers a small index, and learn
 * the longest name it takes from the first layer seen on it.
 */
int cowfs_get_fsid_path(struct cowfs_fs *ofs, const struct path *path)
{
	struct super_block *sb = path->mnt->mnt_sb;
	struct kstatfs st;
	unsigned int i;

	for (i = 0; i < ofs->numfs; i++) {
		if (ofs->fs[i].sb == sb)
			return i;
	}
	if (!vfs_statfs(path, &st))
		ofs->namelen = max(ofs->namelen, (unsigned long)st.f_namelen);
	ofs->fs[ofs->numfs].sb = sb;
	return ofs->numfs++;
}

struct cowfs_clean_ctx {
	struct cowfs_fs *ofs;
	struct dentry *dir;
	int depth;
};

static int cowfs_clean_one(const char *name, void *arg)
{
	struct cowfs_clean_ctx *c = arg;

	return cowfs_clean_name(c->ofs, c->dir, name, c->depth);
}

/*
 * Remove what a crash or an error left in workdir: temporary objects, and
 * directories that held whiteouts (@depth levels deep at most).
 */
static int cowfs_clean_dir(struct cowfs_fs *ofs, struct dentry *dir, int depth)
{
	struct path path = { .mnt = cowfs_upper_mnt(ofs), .dentry = dir };
	struct cowfs_clean_ctx c = { .ofs = ofs, .dir = dir, .depth = depth };

	return cowfs_walk_names(&path, cowfs_clean_one, &c);
}

/*
 * Remove @name from @dir in workdir, with what it holds (@depth levels of
 * directories deep at most).
 */
int cowfs_clean_name(struct cowfs_fs *ofs, struct dentry *dir,
		     const char *name, int depth)
{
	const struct cowfs_layer *upper = &ofs->layers[0];
	struct dentry *this;
	int err = 0;

	inode_lock_nested(d_inode(dir), I_MUTEX_PARENT);
	this = cowfs_do_lookup_locked(upper, name, dir, strlen(name));
	inode_unlock(d_inode(dir));
	if (IS_ERR(this))
		return PTR_ERR(this);
	if (d_is_positive(this)) {
		if (d_is_dir(this) && depth > 0)
			err = cowfs_clean_dir(ofs, this, depth - 1);
		inode_lock_nested(d_inode(dir), I_MUTEX_PARENT);
		err = err ?: cowfs_cleanup(upper, d_inode(dir), this);
		inode_unlock(d_inode(dir));
	}
	dput(this);
	return err;
}

struct cowfs_dtype_ctx {
	struct dir_context ctx;
	const char *name;
	unsigned int d_type;
};

static bool cowfs_find_dtype(struct dir_context *ctx, const char *name,
			     int len, loff_t offset, u64 ino,
			     unsigned int d_type)
{
	struct cowfs_dtype_ctx *dc = container_of(ctx, struct cowfs_dtype_ctx,
						  ctx);

	if (strlen(dc->name) != len || memcmp(dc->name, name, len))
		return true;
	dc->d_type = d_type;
	return false;
}

/* readdir must tell whiteouts (DT_CHR) from other entries cheaply. */
static int cowfs_check_d_type(struct cowfs_fs *ofs, struct dentry *dir,
			      const char *name)
{
	struct path path = { .mnt = cowfs_upper_mnt(ofs), .dentry = dir };
	struct cowfs_dtype_ctx dc = {
		.ctx.actor = cowfs_find_dtype,
		.name = name,
		.d_type = DT_UNKNOWN,
	};
	int err;

	err = cowfs_iterate_real_dir(&path, &dc.ctx);
	if (err)
		return err;
	return dc.d_type == DT_REG ? 0 : -EINVAL;
}

/* Whether the upper file system has what the union needs from it. */
static int cowfs_check_upper_fs(struct cowfs_fs *ofs, struct fs_context *fc)
{
	const struct cowfs_layer *upper = &ofs->layers[0];
	struct dentry *work = ofs->workdir;
	struct inode *wdir = d_inode(work);
	struct dentry *temp, *dest;
	int err;

	err = cowfs_do_setxattr(upper, work, cowfs_xattr(ofs, COWFS_XA_OPAQUE),
				"0", 1, 0);
	if (err) {
		errorfc(fc, "upper filesystem does not support %s xattrs (%d)",
			ofs->config.userxattr ? "user.*" : "trusted.*", err);
		return -EINVAL;
	}
	cowfs_do_removexattr(upper, work, cowfs_xattr(ofs, COWFS_XA_OPAQUE));

	inode_lock_nested(wdir, I_MUTEX_PARENT);
	temp = cowfs_lookup_temp(ofs, work);
	err = PTR_ERR_OR_ZERO(temp);
	if (err)
		goto out_unlock;
	dest = cowfs_lookup_temp(ofs, work);
	err = PTR_ERR_OR_ZERO(dest);
	if (err)
		goto out_temp;

	err = cowfs_do_create(upper, wdir, temp, S_IFREG);
	if (!err) {
		/* rename moves the dentry: remember the name it leaves */
		char name[24];

		strscpy(name, temp->d_name.name, sizeof(name));
		/* Not under the directory lock: iterate_dir() takes it */
		inode_unlock(wdir);
		err = cowfs_check_d_type(ofs, work, name);
		inode_lock_nested(wdir, I_MUTEX_PARENT);
		if (err) {
			errorfc(fc, "upper filesystem does not report d_type in readdir");
			cowfs_cleanup(upper, wdir, temp);
			dput(dest);
			goto out_temp;
		}
		err = cowfs_do_rename(upper, wdir, temp, wdir, dest,
				      RENAME_WHITEOUT);
		if (!err) {
			struct dentry *wh;

			wh = cowfs_do_lookup_locked(upper, name, work,
						    strlen(name));
			if (!IS_ERR(wh)) {
				if (!cowfs_is_whiteout(wh))
					err = -EINVAL;
				else
					cowfs_cleanup(upper, wdir, wh);
				dput(wh);
			}
			cowfs_cleanup(upper, wdir, temp);
		} else {
			cowfs_cleanup(upper, wdir, temp);
		}
	}
	dput(dest);
	if (err)
		errorfc(fc, "upper filesystem does not support whiteouts (RENAME_WHITEOUT: %d)",
			err);
out_temp:
	dput(temp);
out_unlock:
	inode_unlock(wdir);
	return err ? -EINVAL : 0;
}

/*
 * Directory @name in workdir=, made if it is not there yet: work, and
 * index (index=on).
 */
struct dentry *cowfs_make_work_subdir(struct cowfs_fs *ofs, const char *name)
{
	struct dentry *base = ofs->workbasedir;
	struct dentry *dir;
	int err;

	inode_lock_nested(d_inode(base), I_MUTEX_PARENT);
	dir = cowfs_do_lookup_locked(&ofs->layers[0], name, base, strlen(name));
	if (!IS_ERR(dir) && d_is_negative(dir)) {
		err = cowfs_do_mkdir(&ofs->layers[0], d_inode(base), dir,
				     S_IFDIR);
		if (!err && d_is_negative(dir))
			err = -EIO;
		if (err) {
			dput(dir);
			dir = ERR_PTR(err);
		}
	}
	inode_unlock(d_inode(base));
	if (!IS_ERR(dir) && !d_is_dir(dir)) {
		dput(dir);
		dir = ERR_PTR(-ENOTDIR);
	}
	return dir;
}

/* workdir/work: where objects are built before they appear in upper. */
static int cowfs_make_workdir(struct cowfs_fs *ofs, struct fs_context *fc)
{
	struct dentry *work;
	int err;

	work = cowfs_make_work_subdir(ofs, COWFS_WORKDIR_NAME);
	if (IS_ERR(work)) {
		errorfc(fc, "cannot make directory '%s/%s': %ld",
			ofs->config.workdir, COWFS_WORKDIR_NAME, PTR_ERR(work));
		return PTR_ERR(work);
	}
	ofs->workdir = work;

	err = cowfs_clean_dir(ofs, work, 1);
	if (err) {
		errorfc(fc, "cannot clean up '%s/%s': %d", ofs->config.workdir,
			COWFS_WORKDIR_NAME, err);
		return err;
	}
	return cowfs_check_upper_fs(ofs, fc);
}

/* Whether two layer directories on one filesystem nest. */
static bool cowfs_paths_overlap(const struct path *a, const struct path *b)
{
	if (a->mnt->mnt_sb != b->mnt->mnt_sb)
		return false;
	return is_subdir(a->dentry, b->dentry) || is_subdir(b->dentry, a->dentry);
}

static int cowfs_get_upper(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs *ofs = COWFS_FS(sb);
	struct path *upperpath = &ctx->upper.path;
	struct path *workpath = &ctx->work.path;
	struct vfsmount *mnt;
	unsigned int i;
	int err;

	if (!ctx->work.name)
		return invalfc(fc, "missing workdir: upperdir needs one");
	if (upperpath->mnt != workpath->mnt)
		return invalfc(fc, "workdir '%s' and upperdir '%s' must be on the same mount",
			       ctx->work.name, ctx->upper.name);
	if (cowfs_paths_overlap(upperpath, workpath))
		return invalfc(fc, "workdir '%s' and upperdir '%s' must not be inside one another",
			       ctx->work.name, ctx->upper.name);
	for (i = 0; i < ctx->nr; i++) {
		if (cowfs_paths_overlap(upperpath, &ctx->lower[i].path) ||
		    cowfs_paths_overlap(workpath, &ctx->lower[i].path))
			return invalfc(fc, "lower layer '%s' overlaps upperdir or workdir",
				       ctx->lower[i].name);
	}

	if (!cowfs_inuse_trylock(upperpath->dentry)) {
		errorfc(fc, "upperdir '%s' is in use by another mount",
			ctx->upper.name);
		return -EBUSY;
	}
	ofs->upperdir_locked = true;

	mnt = clone_private_mount(upperpath);
	if (IS_ERR(mnt)) {
		errorfc(fc, "failed to clone the mount of upperdir '%s': %ld",
			ctx->upper.name, PTR_ERR(mnt));
		/* Not ours yet for cowfs_free_fs() to unlock */
		cowfs_inuse_unlock(upperpath->dentry);
		ofs->upperdir_locked = false;
		return PTR_ERR(mnt);
	}
	/* The union decides about atime, not the mount it came from */
	mnt->mnt_flags &= ~(MNT_NOATIME | MNT_NODIRATIME | MNT_RELATIME);
	ofs->layers[0].mnt = mnt;
	ofs->layers[0].idx = 0;
	ofs->layers[0].userxattr = ofs->config.userxattr;
	ofs->layers[0].aufs_whiteouts = ofs->config.aufs_whiteouts;
	ofs->layers[0].fsid = cowfs_get_fsid_path(ofs, upperpath);
	ofs->mounts[0] = mnt;

	ofs->config.upperdir = ctx->upper.name;
	ctx->upper.name = NULL;
	ofs->config.workdir = ctx->work.name;
	ctx->work.name = NULL;
	path_put(upperpath);

	if (!cowfs_inuse_trylock(workpath->dentry)) {
		errorfc(fc, "workdir '%s' is in use by another mount",
			ofs->config.workdir);
		path_put(workpath);
		return -EBUSY;
	}
	ofs->workbasedir = dget(workpath->dentry);
	ofs->workdir_locked = true;
	path_put(workpath);

	err = cowfs_want_write(&ofs->layers[0]);
	if (err)
		return err;
	err = cowfs_make_workdir(ofs, fc);
	cowfs_drop_write(&ofs->layers[0]);
	return err;
}

static int cowfs_get_layers(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs *ofs = COWFS_FS(sb);
	unsigned int i;
	int depth = 0;
	int err;

	for (i = 0; i < ctx->nr; i++)
		depth = max(depth, ctx->lower[i].path.mnt->mnt_sb->s_stack_depth);
	if (ctx->upper.name)
		depth = max(depth, ctx->upper.path.mnt->mnt_sb->s_stack_depth);
	sb->s_stack_depth = depth + 1;
	if (sb->s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH)
		return invalfc(fc, "maximum fs stacking depth exceeded (%d)",
			       FILESYSTEM_MAX_STACK_DEPTH);

	/* layers[0] is the upper layer's place; lower layers follow */
	ofs->layers = kcalloc(ctx->nr + 1, sizeof(*ofs->layers), GFP_KERNEL);
	ofs->mounts = kcalloc(ctx->nr + 1, sizeof(*ofs->mounts), GFP_KERNEL);
	/* One each for the upper, the lowers and the volumes at most */
	ofs->fs = kcalloc(ctx->nr + 1 + ctx->nr_volumes, sizeof(*ofs->fs),
			  GFP_KERNEL);
	if (!ofs->layers || !ofs->mounts || !ofs->fs)
		return -ENOMEM;
	ofs->numlayer = 1;
	err = cowfs_params_verify(fc, &ofs->config);
	if (err)
		return err;

	/* The upper's filesystem gets index 0: its st_ino are unchanged */
	if (ctx->upper.name) {
		err = cowfs_get_upper(sb, fc);
		if (err)
			return err;
		if (IS_POSIXACL(d_inode(cowfs_upper_mnt(ofs)->mnt_root)))
			sb->s_flags |= SB_POSIXACL;
	} else if (ctx->work.name) {
		return invalfc(fc, "workdir '%s' given without upperdir",
			       ctx->work.name);
	}

	for (i = 0; i < ctx->nr; i++) {
		struct cowfs_fs_context_layer *l = &ctx->lower[i];
		struct cowfs_layer *layer = &ofs->layers[i + 1];
		struct vfsmount *mnt;

		mnt = clone_private_mount(&l->path);
		if (IS_ERR(mnt)) {
			errorfc(fc, "failed to clone the mount of layer '%s': %ld",
				l->name, PTR_ERR(mnt));
			return PTR_ERR(mnt);
		}
		/* Read-only and no atime updates: lower layers are images */
		mnt->mnt_flags |= MNT_READONLY | MNT_NOATIME;

		layer->mnt = mnt;
		layer->userxattr = ofs->config.userxattr;
		layer->aufs_whiteouts = ofs->config.aufs_whiteouts;
		layer->name = l->name;
		l->name = NULL;
		layer->idx = i + 1;
		layer->fsid = cowfs_get_fsid_path(ofs, &l->path);
		ofs->mounts[i + 1] = mnt;
		ofs->numlayer++;

		/* Without an upper, ACLs are the lower layers' to enforce */
		if (!cowfs_has_upper(ofs) &&
		    IS_POSIXACL(d_inode(l->path.dentry)))
			sb->s_flags |= SB_POSIXACL;
	}

	err = cowfs_attach_volumes(sb, fc);
	if (err)
		return err;

	/* fsid 0 .. numfs - 1 must fit in the high bits of st_ino */
	if (ofs->numfs > 1)
		ofs->xino_bits = ilog2(ofs->numfs - 1) + 1;

	ofs->numdatalayer = ctx->nr_data;
	ofs->config.lowerdir_all = ctx->lowerdir_all;
	ctx->lowerdir_all = NULL;
	return 0;
}

static struct dentry *cowfs_get_root(struct super_block *sb)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);
	struct dentry *upper = NULL, *root;
	struct cowfs_entry *oe;
	struct inode *inode;
	unsigned int i;

	/* Data-only layers are not merged: only metacopy redirects reach them */
	oe = cowfs_alloc_entry(cowfs_numlowerlayer(ofs));
	if (!oe)
		return ERR_PTR(-ENOMEM);

	for (i = 1; i <= cowfs_numlowerlayer(ofs); i++) {
		oe->lowerstack[i - 1].layer = &ofs->layers[i];
		oe->lowerstack[i - 1].dentry = dget(ofs->layers[i].mnt->mnt_root);
	}

	if (cowfs_has_upper(ofs))
		upper = dget(cowfs_upper_mnt(ofs)->mnt_root);
	inode = cowfs_get_inode(sb, &ofs->layers[0], upper, oe, 0, NULL);
	if (IS_ERR(inode))
		return ERR_CAST(inode);

	root = d_make_root(inode);
	if (!root)
		return ERR_PTR(-ENOMEM);
	if (cowfs_has_upper(ofs))
		cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, root);
	return root;
}

int cowfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs *ofs = COWFS_FS(sb);
	struct dentry *root;
	struct cred *cred;
	int err;

	if (!ctx->nr)
		return invalfc(fc, "missing lowerdir: name at least one lower layer");
	/* The fs_context may have been handed to another user namespace */
	if (fc->user_ns != current_user_ns())
		return invalfc(fc, "mount from the user namespace that configured it");

	cowfs_mount_new_id(ofs);
	cred = prepare_creds();
	if (!cred)
		return -ENOMEM;
	/* Never override disk quotas or use reserved space (as overlayfs) */
	cap_lower(cred->cap_effective, CAP_SYS_RESOURCE);
	ofs->creator_cred = cred;

	err = cowfs_get_layers(sb, fc);
	if (err)
		return err;

	sb->s_magic = COWFS_SUPER_MAGIC;
	sb->s_op = &cowfs_super_operations;
	sb->s_xattr = cowfs_xattr_handlers(ofs);
	sb->s_d_op = &cowfs_dentry_operations;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	/* Without an upper layer, the union is read-only */
	if (!cowfs_has_upper(ofs))
		sb->s_flags |= SB_RDONLY;
	sb->s_iflags |= SB_I_SKIP_SYNC;

	err = cowfs_index_setup(sb, fc);
	if (err)
		return err;

	root = cowfs_get_root(sb);
	if (IS_ERR(root))
		return PTR_ERR(root);

	sb->s_root = root;
	err = cowfs_graft_volumes(sb, fc);
	if (err)
		return err;

	ofs->sb = sb;
	cowfs_mount_register(ofs);
	cowfs_netlink_mount_event(ofs, true);
	return 0;
}

/* Also frees what a failed fill_super() left, since the sb owns it. */
static void cowfs_kill_sb(struct super_block *sb)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);

	if (ofs && ofs->sb) {
		cowfs_netlink_mount_event(ofs, false);
		cowfs_mount_unregister(ofs);
	}
	/* Union dentries pinned by volumes: drop before the dcache goes */
	if (ofs)
		cowfs_graft_put_parents(ofs);
	kill_anon_super(sb);
	cowfs_free_fs(ofs);
}

static struct file_system_type cowfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "cowfs",
	.init_fs_context	= cowfs_init_fs_context,
	.parameters		= cowfs_parameter_spec,
	/* As overlayfs: a user namespace's root may mount it (userxattr) */
	.fs_flags		= FS_USERNS_MOUNT,
	.kill_sb		= cowfs_kill_sb,
};
MODULE_ALIAS_FS("cowfs");

static void cowfs_inode_init_once(void *foo)
{
	struct cowfs_inode *oi = foo;

	inode_init_once(&oi->vfs_inode);
	mutex_init(&oi->lock);
}

static int __init cowfs_init(void)
{
	int err;

	cowfs_inode_cachep = kmem_cache_create("cowfs_inode",
					       sizeof(struct cowfs_inode), 0,
					       SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT,
					       cowfs_inode_init_once);
	if (!cowfs_inode_cachep)
		return -ENOMEM;

	err = cowfs_volumes_init();
	if (err)
		goto out_cache;
	err = cowfs_netlink_init();
	if (err)
		goto out_volumes;
	err = register_filesystem(&cowfs_fs_type);
	if (err)
		goto out_netlink;
	return 0;

out_netlink:
	cowfs_netlink_exit();
out_volumes:
	cowfs_volumes_exit();
out_cache:
	kmem_cache_destroy(cowfs_inode_cachep);
	return err;
}

static void __exit cowfs_exit(void)
{
	unregister_filesystem(&cowfs_fs_type);
	cowfs_netlink_exit();
	cowfs_volumes_exit();
	/* Inodes are freed after an RCU grace period: wait for them */
	rcu_barrier();
	kmem_cache_destroy(cowfs_inode_cachep);
}

module_init(cowfs_init);
module_exit(cowfs_exit);

MODULE_DESCRIPTION("Copy-on-write union filesystem for container storage");
MODULE_AUTHOR("The cowfs developers");
MODULE_LICENSE("GPL");
