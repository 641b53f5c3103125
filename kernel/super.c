// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: a copy-on-write union filesystem for container storage.
 *
 * The superblock: setting up the layers, statfs, the inode cache and the
 * module's registration.
 */
#include <linux/cred.h>
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

/* Protects cowfs_mounts and cowfs_last_mount_id */
DEFINE_MUTEX(cowfs_mounts_lock);
LIST_HEAD(cowfs_mounts);
static u64 cowfs_last_mount_id;

static void cowfs_mount_register(struct cowfs_fs *ofs)
{
	mutex_lock(&cowfs_mounts_lock);
	ofs->id = ++cowfs_last_mount_id;
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
	oi->version = 0;
	return &oi->vfs_inode;
}

static void cowfs_free_inode(struct inode *inode)
{
	kmem_cache_free(cowfs_inode_cachep, COWFS_I(inode));
}

static void cowfs_destroy_inode(struct inode *inode)
{
	struct cowfs_inode *oi = COWFS_I(inode);

	cowfs_free_entry(oi->oe);
	oi->oe = NULL;
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
	if (!err)
		buf->f_type = COWFS_SUPER_MAGIC;
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

/* Give each distinct filesystem under the layers a small index. */
static int cowfs_get_fsid(struct cowfs_fs *ofs, struct super_block *sb)
{
	unsigned int i;

	for (i = 0; i < ofs->numfs; i++) {
		if (ofs->fs[i].sb == sb)
			return i;
	}
	ofs->fs[ofs->numfs].sb = sb;
	return ofs->numfs++;
}

static int cowfs_get_layers(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs *ofs = COWFS_FS(sb);
	unsigned int i;
	int depth = 0;

	for (i = 0; i < ctx->nr; i++)
		depth = max(depth, ctx->lower[i].path.mnt->mnt_sb->s_stack_depth);
	sb->s_stack_depth = depth + 1;
	if (sb->s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH)
		return invalfc(fc, "maximum fs stacking depth exceeded (%d)",
			       FILESYSTEM_MAX_STACK_DEPTH);

	/* layers[0] is the upper layer's place; lower layers follow */
	ofs->layers = kcalloc(ctx->nr + 1, sizeof(*ofs->layers), GFP_KERNEL);
	ofs->mounts = kcalloc(ctx->nr + 1, sizeof(*ofs->mounts), GFP_KERNEL);
	ofs->fs = kcalloc(ctx->nr, sizeof(*ofs->fs), GFP_KERNEL);
	if (!ofs->layers || !ofs->mounts || !ofs->fs)
		return -ENOMEM;
	ofs->numlayer = 1;

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
		layer->name = l->name;
		l->name = NULL;
		layer->idx = i + 1;
		layer->fsid = cowfs_get_fsid(ofs, l->path.mnt->mnt_sb);
		ofs->mounts[i + 1] = mnt;
		ofs->numlayer++;

		if (IS_POSIXACL(d_inode(l->path.dentry)))
			sb->s_flags |= SB_POSIXACL;
	}

	/* fsid 0 .. numfs - 1 must fit in the high bits of st_ino */
	if (ofs->numfs > 1)
		ofs->xino_bits = ilog2(ofs->numfs - 1) + 1;

	ofs->config.lowerdir_all = ctx->lowerdir_all;
	ctx->lowerdir_all = NULL;
	return 0;
}

static struct dentry *cowfs_get_root(struct super_block *sb)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);
	struct cowfs_entry *oe;
	struct inode *inode;
	unsigned int i;

	oe = cowfs_alloc_entry(ofs->numlayer - 1);
	if (!oe)
		return ERR_PTR(-ENOMEM);

	for (i = 1; i < ofs->numlayer; i++) {
		oe->lowerstack[i - 1].layer = &ofs->layers[i];
		oe->lowerstack[i - 1].dentry = dget(ofs->layers[i].mnt->mnt_root);
	}

	inode = cowfs_get_inode(sb, oe);
	if (IS_ERR(inode))
		return ERR_CAST(inode);

	return d_make_root(inode) ?: ERR_PTR(-ENOMEM);
}

int cowfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs *ofs = COWFS_FS(sb);
	struct dentry *root;
	int err;

	if (!ctx->nr)
		return invalfc(fc, "missing lowerdir: name at least one lower layer");

	ofs->creator_cred = prepare_creds();
	if (!ofs->creator_cred)
		return -ENOMEM;

	err = cowfs_get_layers(sb, fc);
	if (err)
		return err;

	sb->s_magic = COWFS_SUPER_MAGIC;
	sb->s_op = &cowfs_super_operations;
	sb->s_xattr = cowfs_xattr_handlers;
	sb->s_d_op = &cowfs_dentry_operations;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	/* Until there is an upper layer, the union is read-only */
	sb->s_flags |= SB_RDONLY;
	sb->s_iflags |= SB_I_SKIP_SYNC;

	root = cowfs_get_root(sb);
	if (IS_ERR(root))
		return PTR_ERR(root);

	sb->s_root = root;
	ofs->sb = sb;
	cowfs_mount_register(ofs);
	return 0;
}

/* Also frees what a failed fill_super() left, since the sb owns it. */
static void cowfs_kill_sb(struct super_block *sb)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);

	if (ofs && ofs->sb)
		cowfs_mount_unregister(ofs);
	kill_anon_super(sb);
	cowfs_free_fs(ofs);
}

static struct file_system_type cowfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "cowfs",
	.init_fs_context	= cowfs_init_fs_context,
	.parameters		= cowfs_parameter_spec,
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

	err = register_filesystem(&cowfs_fs_type);
	if (err)
		kmem_cache_destroy(cowfs_inode_cachep);
	return err;
}

static void __exit cowfs_exit(void)
{
	unregister_filesystem(&cowfs_fs_type);
	/* Inodes are freed after an RCU grace period: wait for them */
	rcu_barrier();
	kmem_cache_destroy(cowfs_inode_cachep);
}

module_init(cowfs_init);
module_exit(cowfs_exit);

MODULE_DESCRIPTION("Copy-on-write union filesystem for container storage");
MODULE_AUTHOR("The cowfs developers");
MODULE_LICENSE("GPL");
