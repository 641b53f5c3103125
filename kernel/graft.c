// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: volumes attached inside a union (volume=NAME:/path).
 *
 * A volume's root takes the place of the union's entry at /path: lookup
 * finds it there (hiding whatever the layers have under that name),
 * readdir lists it, and it cannot be removed or renamed (EBUSY, as a
 * mount point).  Below it, objects are the volume's own: their upper layer
 * is the volume, they have no lower layers, so they are read and written
 * directly, never copied up or whited out, and they outlive the union's
 * upper layer.
 *
 * The volume registry (volume.c) keeps a volume from being removed while
 * a union uses it.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/namei.h>
#include <linux/slab.h>

#include "cowfs.h"
#include "params.h"
#include "volume.h"

/*
 * A volume's directory must stay apart from the union's upper and work
 * directories: through it a container would change them behind the
 * union's back (or the union the volume's data), as overlapping layers
 * would (overlayfs refuses those with ELOOP too).
 */
static bool cowfs_volume_overlaps_upper(struct cowfs_fs *ofs,
					struct dentry *root)
{
	return cowfs_has_upper(ofs) &&
	       (cowfs_dirs_overlap(root, cowfs_upper_mnt(ofs)->mnt_root) ||
		cowfs_dirs_overlap(root, ofs->workbasedir));
}

/* Before the root exists: take the volumes and their mounts. */
int cowfs_attach_volumes(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs_context *ctx = fc->fs_private;
	struct cowfs_fs *ofs = COWFS_FS(sb);
	unsigned int i;

	if (!ctx->nr_volumes)
		return 0;

	ofs->grafts = kcalloc(ctx->nr_volumes, sizeof(*ofs->grafts),
			      GFP_KERNEL);
	if (!ofs->grafts)
		return -ENOMEM;

	for (i = 0; i < ctx->nr_volumes; i++) {
		struct cowfs_graft *g = &ofs->grafts[i];
		char *spec = ctx->volumes[i];
		char *target = strchr(spec, ':');
		struct cowfs_volume_ref *ref;

		*target = '\0';
		ref = cowfs_volume_attach(spec, ofs->id, target + 1);
		*target = ':';
		if (IS_ERR(ref)) {
			long err = PTR_ERR(ref);

			if (err == -ENOENT)
				errorfc(fc, "volume '%.*s' does not exist: create it first",
					(int)(target - spec), spec);
			else if (err == -ELOOP || err == -ESTALE)
				errorfc(fc, "volume '%.*s': its directory %s: refused",
					(int)(target - spec), spec,
					err == -ELOOP ? "is reached through a symlink now" :
					"is not the one it was created on");
			else
				errorfc(fc, "volume '%.*s' cannot be attached: %ld",
					(int)(target - spec), spec, err);
			return err;
		}

		g->ref = ref;
		g->spec = spec;
		ctx->volumes[i] = NULL;
		ofs->numgrafts++;

		cowfs_volume_root(ref, &g->root);
		if (cowfs_volume_overlaps_upper(ofs, g->root.dentry)) {
			errorfc(fc, "volume '%.*s': its directory overlaps the upperdir or workdir",
				(int)(target - spec), spec);
			return -ELOOP;
		}
		g->layer.mnt = g->root.mnt;
		g->layer.idx = 0;
		g->layer.userxattr = ofs->config.userxattr;
		g->layer.fsid = cowfs_get_fsid_path(ofs, &g->root);

		/*
		 * Calls go through the union into the volume as into any
		 * layer: a volume on a stacked filesystem stacks us higher.
		 */
		sb->s_stack_depth = max(sb->s_stack_depth,
					g->root.mnt->mnt_sb->s_stack_depth + 1);
		if (sb->s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH)
			return invalfc(fc, "volume '%.*s' is on a stacked filesystem: %s (%d)",
				       (int)(target - spec), spec,
				       "maximum fs stacking depth exceeded",
				       FILESYSTEM_MAX_STACK_DEPTH);
	}
	return 0;
}

/*
 * After the root exists: find the union directory each volume appears
 * in.  Volumes are grafted in the order given, so a volume may appear
 * inside one given before it.
 */
int cowfs_graft_volumes(struct super_block *sb, struct fs_context *fc)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);
	unsigned int i;

	for (i = 0; i < ofs->numgrafts; i++) {
		struct cowfs_graft *g = &ofs->grafts[i];
		const char *path = strchr(g->spec, ':') + 1;
		struct dentry *dir = dget(sb->s_root);
		const char *last = strrchr(path, '/') + 1;
		struct dentry *stale;

		while (path < last - 1) {
			struct dentry *this;
			int len;

			path++;
			len = strchrnul(path, '/') - path;
			this = lookup_one_unlocked(&nop_mnt_idmap, path, dir, len);
			dput(dir);
			if (IS_ERR(this)) {
				errorfc(fc, "volume '%s': lookup of '%.*s' failed: %ld",
					g->spec, len, path, PTR_ERR(this));
				return PTR_ERR(this);
			}
			if (!d_can_lookup(this)) {
				errorfc(fc, "volume '%s': '%.*s' is not a directory in the union",
					g->spec, len, path);
				dput(this);
				return -ENOTDIR;
			}
			dir = this;
			path += len;
		}

		g->parent = dir;
		g->name = (struct qstr)QSTR_INIT(last, strlen(last));
		/* Forget what the layers showed under that name */
		stale = d_hash_and_lookup(dir, &g->name);
		if (!IS_ERR_OR_NULL(stale)) {
			d_invalidate(stale);
			dput(stale);
		}
	}
	return 0;
}

struct cowfs_graft *cowfs_graft_find(struct cowfs_fs *ofs,
				     struct dentry *parent,
				     const struct qstr *name)
{
	unsigned int i;

	for (i = 0; i < ofs->numgrafts; i++) {
		struct cowfs_graft *g = &ofs->grafts[i];

		if (g->parent == parent && g->name.len == name->len &&
		    !memcmp(g->name.name, name->name, name->len))
			return g;
	}
	return NULL;
}

/* A volume's root, where the union's and the volume's layers meet. */
bool cowfs_is_graft_root(struct dentry *dentry)
{
	return d_inode(dentry) && !IS_ROOT(dentry) &&
	       cowfs_upper_layer(d_inode(dentry)) !=
	       cowfs_upper_layer(d_inode(dentry->d_parent));
}

/* The pinned directories must go before the dcache is shrunk. */
void cowfs_graft_put_parents(struct cowfs_fs *ofs)
{
	unsigned int i;

	for (i = 0; i < ofs->numgrafts; i++) {
		dput(ofs->grafts[i].parent);
		ofs->grafts[i].parent = NULL;
	}
}

void cowfs_free_grafts(struct cowfs_fs *ofs)
{
	unsigned int i;

	for (i = 0; i < ofs->numgrafts; i++) {
		struct cowfs_graft *g = &ofs->grafts[i];

		dput(g->parent);
		path_put(&g->root);
		cowfs_volume_detach(g->ref);
		kfree(g->spec);
	}
	kfree(ofs->grafts);
	ofs->grafts = NULL;
	ofs->numgrafts = 0;
}
