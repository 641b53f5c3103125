// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: reading directories.
 *
 * An open cowfs directory reads every real directory behind it, upper layer
 * first, into one list of names: a name seen in a higher layer hides the
 * same name below, and whiteouts take part in hiding but are never shown.
 * The list is built when the directory is first read (or read again from
 * the start after it changed) and the position is an index into it, so
 * seekdir() and telldir() are exact.  The list of a merged directory stays
 * with its inode for the next reader until the directory changes: the
 * layers below do not change while mounted, and every change made through
 * the union bumps the directory's version.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/refcount.h>
#include <linux/slab.h>

#include "cowfs.h"

struct cowfs_cache_entry {
	struct cowfs_nnode node;
	struct list_head l_node;
	u64 ino;
	unsigned int type;
	bool is_whiteout;
	bool is_upper;
	/* A whiteout made of a .wh.NAME file (aufs_whiteouts) */
	bool is_aufs;
	/* cowfs_layer.idx of the layer the name was read from */
	int layer;
	int len;
	char name[];
};

struct cowfs_dir_cache {
	/* The inode's reference, and one per open file reading it */
	refcount_t ref;
	u64 version;
	unsigned int count;
	/* Entries to show, in the order they are read; whiteouts are not */
	struct cowfs_cache_entry **entries;
	/* Every name, shown or not */
	struct list_head all;
	/* Where the entries are */
	struct cowfs_arena arena;
};

struct cowfs_readdir_data {
	struct dir_context ctx;
	struct super_block *sb;
	const struct cowfs_layer *layer;
	/* The names read so far, while the list is built */
	struct cowfs_ntable names;
	struct cowfs_arena *arena;
	struct list_head *all;
	/* Character devices of the layer being read: maybe whiteouts */
	struct list_head chrdevs;
	unsigned int count;
	int err;
};

/* The entry already read for @len bytes of @name, or NULL. */
static struct cowfs_cache_entry *
cowfs_cache_find(struct cowfs_readdir_data *rdd, const char *name, int len,
		 u32 *hashp)
{
	struct cowfs_nnode *node;

	node = cowfs_ntable_find(&rdd->names, name, len, hashp);
	return node ? container_of(node, struct cowfs_cache_entry, node) : NULL;
}

/*
 * With aufs_whiteouts, a .wh.NAME read from a layer whites NAME out, there
 * and below (.wh..wh..opq was seen by lookup, which stopped the stack).
 * Returns the name to record as a whiteout, or NULL to skip the entry.
 */
static const char *cowfs_fill_aufs(struct cowfs_readdir_data *rdd,
				   const char *name, int *namelen)
{
	struct cowfs_cache_entry *p;

	if (!strncmp(name, COWFS_AUFS_OPQ, *namelen) &&
	    *namelen == strlen(COWFS_AUFS_OPQ))
		return NULL;
	name += COWFS_AUFS_WH_LEN;
	*namelen -= COWFS_AUFS_WH_LEN;
	if (!*namelen)
		return NULL;
	p = cowfs_cache_find(rdd, name, *namelen, NULL);
	/* The same layer's NAME, read first: the whiteout wins */
	if (p && p->layer == rdd->layer->idx && !p->is_whiteout) {
		p->is_whiteout = true;
		p->is_aufs = true;
		rdd->count--;
	}
	return p ? NULL : name;
}

static bool cowfs_fill_merge(struct dir_context *ctx, const char *name,
			     int namelen, loff_t offset, u64 ino,
			     unsigned int d_type)
{
	struct cowfs_readdir_data *rdd =
		container_of(ctx, struct cowfs_readdir_data, ctx);
	struct cowfs_cache_entry *p;
	bool aufs = false;
	u32 hash;

	if (rdd->layer->aufs_whiteouts && cowfs_is_aufs_name(name, namelen)) {
		name = cowfs_fill_aufs(rdd, name, &namelen);
		if (!name)
			return true;
		aufs = true;
	}

	/* A name from a higher layer hides this one */
	if (cowfs_cache_find(rdd, name, namelen, &hash))
		return true;

	p = cowfs_arena_alloc(rdd->arena, struct_size(p, name, namelen + 1));
	if (!p) {
		rdd->err = -ENOMEM;
		return false;
	}
	memcpy(p->name, name, namelen);
	p->name[namelen] = '\0';
	p->len = namelen;
	p->type = d_type;
	p->ino = cowfs_map_ino(rdd->sb, rdd->layer, ino);
	p->is_whiteout = aufs;
	p->is_aufs = aufs;
	p->is_upper = rdd->layer->idx == 0;
	p->layer = rdd->layer->idx;
	p->node.name = p->name;
	p->node.len = namelen;
	rdd->err = cowfs_ntable_add(&rdd->names, &p->node, hash);
	if (rdd->err)
		return false;

	if (aufs) {
		list_add_tail(&p->l_node, rdd->all);
		return true;
	}
	/* Checked once iterate_dir() has dropped the directory lock */
	if (d_type == DT_CHR)
		list_add_tail(&p->l_node, &rdd->chrdevs);
	else
		list_add_tail(&p->l_node, rdd->all);
	rdd->count++;
	return true;
}

/* Tell whiteouts from real character devices among the names just read. */
static int cowfs_check_whiteouts(struct cowfs_readdir_data *rdd,
				 struct dentry *realdir)
{
	struct cowfs_cache_entry *p, *n;
	struct dentry *dentry;
	int err = 0;

	list_for_each_entry_safe(p, n, &rdd->chrdevs, l_node) {
		list_move_tail(&p->l_node, rdd->all);
		/* Already whited out by a .wh. file of its own layer */
		if (err || p->is_whiteout)
			continue;
		dentry = cowfs_do_lookup(rdd->layer, p->name, realdir, p->len);
		if (IS_ERR(dentry)) {
			err = PTR_ERR(dentry);
			continue;
		}
		if (cowfs_is_whiteout(dentry)) {
			p->is_whiteout = true;
			rdd->count--;
		}
		dput(dentry);
	}
	return err;
}

static int cowfs_read_layer(struct cowfs_readdir_data *rdd,
			    const struct cowfs_path *lower)
{
	struct path realpath = {
		.mnt = lower->layer->mnt,
		.dentry = lower->dentry,
	};
	int err;

	rdd->layer = lower->layer;
	err = cowfs_iterate_real_dir(&realpath, &rdd->ctx);
	if (!err)
		err = rdd->err;
	/* Even on error: what was read must reach rdd->all to be freed */
	err = cowfs_check_whiteouts(rdd, lower->dentry) ?: err;
	return err;
}

void cowfs_cache_free_list(struct list_head *list)
{
	struct cowfs_cache_entry *p, *n;

	list_for_each_entry_safe(p, n, list, l_node)
		kfree(p);
	INIT_LIST_HEAD(list);
}

/* Drop a reference to a directory's list (NULL is fine). */
void cowfs_dir_cache_put(struct cowfs_dir_cache *cache)
{
	if (!cache || !refcount_dec_and_test(&cache->ref))
		return;
	cowfs_arena_free(&cache->arena);
	kvfree(cache->entries);
	kfree(cache);
}

/*
 * Upper entries that may have come from a lower layer (copied up, or
 * moved here by rename) show the st_ino of their origin: ask the union.
 */
static bool cowfs_dir_is_impure(struct dentry *dentry)
{
	struct path path;
	char val;

	cowfs_path_upper(dentry, &path);
	if (!path.dentry)
		return false;
	if (cowfs_dir_is_merged(d_inode(dentry)))
		return true;
	return cowfs_do_getxattr(&path,
				 cowfs_xattr(COWFS_FS(dentry->d_sb),
					     COWFS_XA_IMPURE),
				 &val, 1) == 1 &&
	       val == 'y';
}

/* Called with the directory locked exclusively: lookup_one() is fine. */
static void cowfs_cache_update_ino(struct dentry *dir,
				   struct cowfs_dir_cache *cache)
{
	struct cowfs_cache_entry *p;
	struct dentry *this;

	list_for_each_entry(p, &cache->all, l_node) {
		if (!p->is_upper || p->is_whiteout ||
		    cowfs_name_is_dot(p->name, p->len))
			continue;
		this = lookup_one(&nop_mnt_idmap, p->name, dir, p->len);
		if (IS_ERR(this))
			continue;	/* keep the upper's own number */
		if (d_really_is_positive(this))
			p->ino = cowfs_inode_ino(d_inode(this));
		dput(this);
	}
}

static struct cowfs_dir_cache *cowfs_cache_build(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	struct cowfs_entry *oe = COWFS_I(inode)->oe;
	struct cowfs_fs *ofs = COWFS_FS(dentry->d_sb);
	struct dentry *upper = cowfs_dentry_upper(dentry);
	struct cowfs_cache_entry *p;
	struct cowfs_dir_cache *cache;
	struct cowfs_readdir_data rdd = {
		.ctx.actor = cowfs_fill_merge,
		.sb = dentry->d_sb,
		.chrdevs = LIST_HEAD_INIT(rdd.chrdevs),
	};
	const struct cred *old_cred;
	unsigned int i;
	int err = 0;

	cache = kzalloc(sizeof(*cache), GFP_KERNEL_ACCOUNT);
	if (!cache)
		return ERR_PTR(-ENOMEM);
	refcount_set(&cache->ref, 1);
	INIT_LIST_HEAD(&cache->all);
	cache->version = READ_ONCE(COWFS_I(inode)->version);
	rdd.all = &cache->all;
	rdd.arena = &cache->arena;
	err = cowfs_ntable_init(&rdd.names, cache);
	if (err) {
		kfree(cache);
		return ERR_PTR(err);
	}

	old_cred = cowfs_override_creds(dentry->d_sb);
	/* Volumes attached here come first: they hide the layers' entries */
	for (i = 0; i < ofs->numgrafts && !err; i++) {
		struct cowfs_graft *g = &ofs->grafts[i];

		if (g->parent != dentry)
			continue;
		rdd.layer = &g->layer;
		if (!cowfs_fill_merge(&rdd.ctx, g->name.name, g->name.len, 0,
				      d_inode(g->root.dentry)->i_ino, DT_DIR))
			err = rdd.err;
	}
	if (upper && !err) {
		struct cowfs_path top = {
			.layer = cowfs_upper_layer(inode),
			.dentry = upper,
		};

		err = cowfs_read_layer(&rdd, &top);
	}
	for (i = 0; i < cowfs_numlower(oe) && !err; i++)
		err = cowfs_read_layer(&rdd, &oe->lowerstack[i]);
	if (!err && upper && cowfs_dir_is_impure(dentry))
		cowfs_cache_update_ino(dentry, cache);
	cowfs_revert_creds(old_cred);
	cowfs_ntable_destroy(&rdd.names);
	if (err)
		goto out_free;

	err = -ENOMEM;
	cache->entries = kvmalloc_array(rdd.count, sizeof(*cache->entries),
					GFP_KERNEL_ACCOUNT);
	if (!cache->entries && rdd.count)
		goto out_free;

	list_for_each_entry(p, &cache->all, l_node) {
		if (!p->is_whiteout)
			cache->entries[cache->count++] = p;
	}
	return cache;

out_free:
	cowfs_dir_cache_put(cache);
	return ERR_PTR(err);
}

/*
 * The list of names to read @dentry by, with a reference for the caller:
 * the one its inode keeps if the directory has not changed since, else a
 * new one, which the inode keeps if the directory is merged.  Called with
 * the directory locked exclusively, as every change to it is.
 */
static struct cowfs_dir_cache *cowfs_cache_get(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	struct cowfs_inode *oi = COWFS_I(inode);
	struct cowfs_dir_cache *cache = oi->dir_cache;

	if (cache && cache->version == READ_ONCE(oi->version)) {
		refcount_inc(&cache->ref);
		return cache;
	}
	cowfs_dir_cache_put(cache);
	oi->dir_cache = NULL;

	cache = cowfs_cache_build(dentry);
	if (!IS_ERR(cache) && cowfs_dir_is_merged(inode)) {
		refcount_inc(&cache->ref);
		oi->dir_cache = cache;
	}
	return cache;
}

static int cowfs_iterate(struct file *file, struct dir_context *ctx)
{
	struct dentry *dentry = file->f_path.dentry;
	struct inode *inode = d_inode(dentry);
	struct cowfs_dir_cache *cache = file->private_data;

	/* Read again from the start: see what changed since */
	if (!cache || (!ctx->pos &&
		       cache->version != READ_ONCE(COWFS_I(inode)->version))) {
		struct cowfs_dir_cache *new = cowfs_cache_get(dentry);

		if (IS_ERR(new))
			return PTR_ERR(new);
		cowfs_dir_cache_put(cache);
		file->private_data = new;
		cache = new;
	}

	while (ctx->pos < cache->count) {
		struct cowfs_cache_entry *p = cache->entries[ctx->pos];
		u64 ino = p->ino;

		/* ".." of the top layer may not be the union's parent */
		if (p->len == 2 && p->name[0] == '.' && p->name[1] == '.')
			ino = d_inode(dentry->d_parent)->i_ino;
		if (!dir_emit(ctx, p->name, p->len, ino, p->type))
			break;
		ctx->pos++;
	}
	return 0;
}

WRAP_DIR_ITER(cowfs_iterate) // lookup_one() for st_ino needs it exclusive

static loff_t cowfs_dir_llseek(struct file *file, loff_t offset, int whence)
{
	switch (whence) {
	case SEEK_CUR:
		offset += file->f_pos;
		break;
	case SEEK_SET:
		break;
	default:
		return -EINVAL;
	}
	if (offset < 0)
		return -EINVAL;

	file->f_pos = offset;
	return offset;
}

/* Only an upper directory has anything of ours to sync. */
static int cowfs_dir_fsync(struct file *file, loff_t start, loff_t end,
			   int datasync)
{
	const struct cred *old_cred;
	struct path upperpath;
	struct file *realfile;
	int err;

	cowfs_path_upper(file->f_path.dentry, &upperpath);
	if (!upperpath.dentry)
		return 0;

	old_cred = cowfs_override_creds(file_inode(file)->i_sb);
	realfile = cowfs_open_real_dir(&upperpath);
	if (IS_ERR(realfile)) {
		err = PTR_ERR(realfile);
	} else {
		err = vfs_fsync_range(realfile, start, end, datasync);
		fput(realfile);
	}
	cowfs_revert_creds(old_cred);
	return err;
}

/* A copy of upper whiteout @p on @whiteouts, for the cleanup. */
static bool cowfs_whiteout_note(const struct cowfs_cache_entry *p,
				struct list_head *whiteouts)
{
	struct cowfs_cache_entry *wh;

	wh = kmemdup(p, struct_size(p, name, p->len + 1), GFP_KERNEL);
	if (wh)
		list_add_tail(&wh->l_node, whiteouts);
	return wh;
}

/*
 * Whether a directory about to be removed or replaced is empty as the
 * union shows it.  The whiteouts of its upper directory are moved to
 * @whiteouts, for cowfs_cleanup_whiteouts() to remove with it.
 */
int cowfs_check_empty_dir(struct dentry *dentry, struct list_head *whiteouts)
{
	struct cowfs_dir_cache *cache;
	struct cowfs_cache_entry *p, *n;
	int err = 0;

	cache = cowfs_cache_build(dentry);
	if (IS_ERR(cache))
		return PTR_ERR(cache);

	list_for_each_entry_safe(p, n, &cache->all, l_node) {
		/*
		 * An upper .wh. file (cowfs makes none: a crafted upper)
		 * would be left behind by the cleanup: not empty then.
		 */
		if (p->is_whiteout && p->is_aufs && p->is_upper) {
			err = -ENOTEMPTY;
			break;
		}
		if (p->is_whiteout) {
			if (p->is_upper && !cowfs_whiteout_note(p, whiteouts)) {
				err = -ENOMEM;
				break;
			}
			continue;
		}
		if (cowfs_name_is_dot(p->name, p->len))
			continue;
		err = -ENOTEMPTY;
		break;
	}
	cowfs_dir_cache_put(cache);
	if (err)
		cowfs_cache_free_list(whiteouts);
	return err;
}

/* Remove the whiteouts listed by cowfs_check_empty_dir() from @upper. */
void cowfs_cleanup_whiteouts(const struct cowfs_layer *layer,
			     struct dentry *upper, struct list_head *whiteouts)
{
	struct cowfs_cache_entry *p;

	inode_lock_nested(d_inode(upper), I_MUTEX_CHILD);
	list_for_each_entry(p, whiteouts, l_node) {
		struct dentry *dentry;

		dentry = cowfs_do_lookup_locked(layer, p->name, upper, p->len);
		if (IS_ERR(dentry)) {
			pr_err("lookup '%pd2/%s' for cleanup failed (%ld)\n",
			       upper, p->name, PTR_ERR(dentry));
			continue;
		}
		if (cowfs_is_whiteout(dentry))
			cowfs_cleanup(layer, d_inode(upper), dentry);
		dput(dentry);
	}
	inode_unlock(d_inode(upper));
}

static int cowfs_dir_open(struct inode *inode, struct file *file)
{
	file->private_data = NULL;
	return 0;
}

static int cowfs_dir_release(struct inode *inode, struct file *file)
{
	cowfs_dir_cache_put(file->private_data);
	return 0;
}

const struct file_operations cowfs_dir_operations = {
	.open		= cowfs_dir_open,
	.release	= cowfs_dir_release,
	.read		= generic_read_dir,
	.iterate_shared	= shared_cowfs_iterate,
	.fsync		= cowfs_dir_fsync,
	.llseek		= cowfs_dir_llseek,
};
