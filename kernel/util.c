// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: small helpers shared by the rest of the filesystem.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/mount.h>
#include <linux/slab.h>
#include <linux/stringhash.h>
#include <linux/xattr.h>

#include "cowfs.h"

/*
 * Real layers are always accessed with the credentials of whoever mounted
 * the union, after the caller's own permission has been checked on the
 * cowfs inode.
 */
const struct cred *cowfs_override_creds(struct super_block *sb)
{
	return override_creds(COWFS_FS(sb)->creator_cred);
}

void cowfs_revert_creds(const struct cred *old_cred)
{
	revert_creds(old_cred);
}

struct cowfs_entry *cowfs_alloc_entry(unsigned int numlower)
{
	struct cowfs_entry *oe;

	oe = kzalloc(struct_size(oe, lowerstack, numlower), GFP_KERNEL);
	if (oe)
		oe->numlower = numlower;
	return oe;
}

/* Drop the real dentries of @oe, but leave it allocated. */
void cowfs_put_entry(struct cowfs_entry *oe)
{
	unsigned int i;

	for (i = 0; i < cowfs_numlower(oe); i++)
		dput(oe->lowerstack[i].dentry);
}

void cowfs_free_entry(struct cowfs_entry *oe)
{
	cowfs_put_entry(oe);
	kfree(oe);
}

/* Layers whose names can change behind our back cannot be stacked on. */
bool cowfs_dentry_weird(struct dentry *dentry)
{
	if (!d_can_lookup(dentry) && !d_is_file(dentry) && !d_is_symlink(dentry))
		return true;

	return dentry->d_flags & (DCACHE_NEED_AUTOMOUNT | DCACHE_MANAGE_TRANSIT |
				  DCACHE_OP_HASH | DCACHE_OP_COMPARE);
}

/* overlayfs's whiteout: a character device with device number 0/0. */
bool cowfs_is_whiteout(struct dentry *dentry)
{
	struct inode *inode = dentry ? d_inode(dentry) : NULL;

	return inode && IS_WHITEOUT(inode);
}

/* Whether @dir of @layer holds @len bytes of @name (lookup errors: no). */
bool cowfs_layer_has_name(const struct cowfs_layer *layer, struct dentry *dir,
			  const char *name, int len)
{
	struct dentry *this = cowfs_do_lookup(layer, name, dir, len);
	bool found;

	if (IS_ERR(this))
		return false;
	found = d_is_positive(this);
	dput(this);
	return found;
}

/* overlay.opaque=y on a directory hides the layers below it. */
bool cowfs_is_opaquedir(const struct cowfs_layer *layer, struct dentry *dir)
{
	struct path path = { .mnt = layer->mnt, .dentry = dir };
	char val;
	ssize_t res;

	if (!d_is_dir(dir))
		return false;
	if (layer->aufs_whiteouts &&
	    cowfs_layer_has_name(layer, dir, COWFS_AUFS_OPQ,
				 strlen(COWFS_AUFS_OPQ)))
		return true;
	if (!(d_inode(dir)->i_opflags & IOP_XATTR))
		return false;

	res = cowfs_do_getxattr(&path, cowfs_layer_xattr(layer, COWFS_XA_OPAQUE),
				&val, 1);
	return res == 1 && val == 'y';
}

/* The top real object behind @dentry. */
void cowfs_path_lower(struct dentry *dentry, struct path *path)
{
	struct cowfs_entry *oe = COWFS_E(dentry);

	if (cowfs_numlower(oe)) {
		path->mnt = oe->lowerstack[0].layer->mnt;
		path->dentry = oe->lowerstack[0].dentry;
	} else {
		*path = (struct path) { };
	}
}

void cowfs_path_upper(struct dentry *dentry, struct path *path)
{
	path->mnt = cowfs_upper_layer(d_inode(dentry))->mnt;
	path->dentry = cowfs_dentry_upper(dentry);
}

/* The real object that holds @dentry's data and attributes. */
void cowfs_path_real(struct dentry *dentry, struct path *path)
{
	cowfs_path_upper(dentry, path);
	if (!path->dentry)
		cowfs_path_lower(dentry, path);
}

/* RCU-safe: the upper is set once and the lower stack never changes. */
/*
 * The real object that holds a regular file's data: the upper one, unless
 * it is a metacopy file (then, as for a file not copied up, the last lower
 * object).  Read the upper first: a metacopy upper is published with its
 * flag already set.
 */
void cowfs_path_realdata(struct dentry *dentry, struct path *path)
{
	struct inode *inode = d_inode(dentry);
	const struct cowfs_path *data;

	cowfs_path_upper(dentry, path);
	if (path->dentry && cowfs_has_upperdata(inode))
		return;
	data = cowfs_lowerdata(COWFS_I(inode)->oe);
	if (data) {
		path->mnt = data->layer->mnt;
		path->dentry = data->dentry;
	} else {
		*path = (struct path) { };
	}
}

struct inode *cowfs_inode_realdata(struct inode *inode)
{
	struct dentry *upper = cowfs_upperdentry(inode);
	const struct cowfs_path *data;

	if (upper && cowfs_has_upperdata(inode))
		return d_inode(upper);
	data = cowfs_lowerdata(COWFS_I(inode)->oe);
	return data ? d_inode(data->dentry) : NULL;
}

/* Are a regular file's metadata and data in two real objects? */
bool cowfs_is_metacopy(struct inode *inode)
{
	if (!S_ISREG(inode->i_mode))
		return false;
	if (cowfs_upperdentry(inode))
		return !cowfs_has_upperdata(inode);
	return cowfs_numlower(COWFS_I(inode)->oe) > 1;
}

/* fsync a real object that no open file of the union's stands for */
int cowfs_fsync_path(const struct path *path, loff_t start, loff_t end,
		     int datasync)
{
	struct file *file;
	int err;

	file = dentry_open(path, O_LARGEFILE | O_RDONLY, current_cred());
	if (IS_ERR(file))
		return PTR_ERR(file);
	err = vfs_fsync_range(file, start, end, datasync);
	fput(file);
	return err;
}

struct inode *cowfs_inode_real(struct inode *inode)
{
	return cowfs_inode_real_idmap(inode, NULL);
}

/*
 * The same, and in *@idmap (if not NULL) the idmap of the mount of its
 * layer: an idmapped layer shows other owners than the inode's.
 */
struct inode *cowfs_inode_real_idmap(struct inode *inode,
				     struct mnt_idmap **idmap)
{
	struct cowfs_entry *oe = COWFS_I(inode)->oe;
	struct inode *upperinode = cowfs_inode_upper(inode);
	const struct cowfs_layer *layer;

	if (upperinode) {
		layer = cowfs_upper_layer(inode);
	} else {
		if (!cowfs_numlower(oe))
			return NULL;
		layer = oe->lowerstack[0].layer;
	}
	if (idmap)
		*idmap = mnt_idmap(layer->mnt);
	return upperinode ?: d_inode(oe->lowerstack[0].dentry);
}

bool cowfs_dentry_has_lower(struct dentry *dentry)
{
	return d_inode(dentry) && cowfs_numlower(COWFS_E(dentry));
}

/* A directory whose contents come from more than one layer. */
bool cowfs_dir_is_merged(struct inode *inode)
{
	unsigned int nr = cowfs_numlower(COWFS_I(inode)->oe);

	if (cowfs_upperdentry(inode))
		nr++;
	return S_ISDIR(inode->i_mode) && nr > 1;
}

bool cowfs_dentry_is_opaque(struct dentry *dentry)
{
	return cowfs_dentry_test_flag(COWFS_E_OPAQUE, dentry);
}

/*
 * @dentry's name is in the upper layer, with its inode's upper object.
 * Lockless: the upper dentry is published with a barrier, the flag is
 * set after it, and the name stays until the parent is locked for a
 * change, which rechecks.
 */
bool cowfs_already_copied_up(struct dentry *dentry)
{
	return cowfs_dentry_upper(dentry) &&
	       cowfs_dentry_test_flag(COWFS_E_UPPER_ALIAS, dentry);
}

/* Directories @a and @b are one, or one is below the other. */
bool cowfs_dirs_overlap(struct dentry *a, struct dentry *b)
{
	return a->d_sb == b->d_sb && (is_subdir(a, b) || is_subdir(b, a));
}

/* The merged contents of a directory changed: readdir must look again. */
void cowfs_dir_modified(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);

	WRITE_ONCE(COWFS_I(inode)->version, COWFS_I(inode)->version + 1);
	cowfs_copyattr(inode);
}

/*
 * Exclusive use of an upper or work directory, shared with overlayfs
 * through the same inode flag, so neither file system can mount a
 * directory the other (or another union) is writing to.
 */
bool cowfs_inuse_trylock(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	bool locked = false;

	spin_lock(&inode->i_lock);
	if (!(inode->i_state & I_OVL_INUSE)) {
		inode->i_state |= I_OVL_INUSE;
		locked = true;
	}
	spin_unlock(&inode->i_lock);
	return locked;
}

void cowfs_inuse_unlock(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);

	spin_lock(&inode->i_lock);
	WARN_ON(!(inode->i_state & I_OVL_INUSE));
	inode->i_state &= ~I_OVL_INUSE;
	spin_unlock(&inode->i_lock);
}

int cowfs_set_opaque(const struct cowfs_layer *layer,
		     struct dentry *upperdentry)
{
	return cowfs_do_setxattr(layer, upperdentry,
				 cowfs_layer_xattr(layer, COWFS_XA_OPAQUE), "y",
				 1, 0);
}

/*
 * A fresh negative dentry for a temporary object in locked @workdir, on
 * the union's upper layer.
 */
struct dentry *cowfs_lookup_temp(struct cowfs_fs *ofs, struct dentry *workdir)
{
	char name[24];
	struct dentry *temp;

	snprintf(name, sizeof(name), "#%lx",
		 atomic_long_inc_return(&ofs->last_temp_id));
	temp = cowfs_do_lookup_locked(&ofs->layers[0], name, workdir,
				      strlen(name));
	if (!IS_ERR(temp) && d_is_positive(temp)) {
		pr_err("workdir/%s already exists\n", name);
		dput(temp);
		temp = ERR_PTR(-EIO);
	}
	return temp;
}

/* Remove an object left in locked @dir of @layer, e.g. a temporary in workdir. */
int cowfs_cleanup(const struct cowfs_layer *layer, struct inode *dir,
		  struct dentry *dentry)
{
	int err;

	dget(dentry);
	if (d_is_dir(dentry))
		err = cowfs_do_rmdir(layer, dir, dentry);
	else
		err = cowfs_do_unlink(layer, dir, dentry);
	dput(dentry);
	if (err)
		pr_err("cleanup of '%pd2' failed (%i)\n", dentry, err);
	return err;
}

/*
 * Every object in the union reports the union's st_dev.  Inode numbers of
 * different layer filesystems may collide, so when the layers span more
 * than one filesystem the high bits of st_ino carry the index of the
 * filesystem (as overlayfs's xino=on does).
 */
u64 cowfs_map_ino(struct super_block *sb, const struct cowfs_layer *layer,
		  u64 real_ino)
{
	struct cowfs_fs *ofs = COWFS_FS(sb);
	unsigned int shift = 64 - ofs->xino_bits;

	if (!ofs->xino_bits)
		return real_ino;

	if (unlikely(real_ino >> shift))
		pr_warn_once("inode number %llu on layer %d overflows into the filesystem index bits; st_ino may not be unique\n",
			     real_ino, layer->idx);

	return (real_ino & (U64_MAX >> ofs->xino_bits)) |
	       ((u64)layer->fsid << shift);
}

void cowfs_dentry_set_flag(unsigned long flag, struct dentry *dentry)
{
	set_bit(flag, (unsigned long *)&dentry->d_fsdata);
}

void cowfs_dentry_clear_flag(unsigned long flag, struct dentry *dentry)
{
	clear_bit(flag, (unsigned long *)&dentry->d_fsdata);
}

bool cowfs_dentry_test_flag(unsigned long flag, struct dentry *dentry)
{
	return test_bit(flag, (unsigned long *)&dentry->d_fsdata);
}

/* ---- reading real directories --------------------------------------------- */

/* "." or "..": every directory has them, nobody needs them listed. */
bool cowfs_name_is_dot(const char *name, int len)
{
	return name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'));
}

/* Open the real directory @path for reading, with the current creds. */
struct file *cowfs_open_real_dir(const struct path *path)
{
	return dentry_open(path, O_RDONLY | O_DIRECTORY | O_LARGEFILE,
			   current_cred());
}

/* Read the whole real directory @path, from the start, through @ctx. */
int cowfs_iterate_real_dir(const struct path *path, struct dir_context *ctx)
{
	struct file *file;
	int err;

	file = cowfs_open_real_dir(path);
	if (IS_ERR(file))
		return PTR_ERR(file);
	ctx->pos = 0;
	err = iterate_dir(file, ctx);
	fput(file);
	return err;
}

static bool cowfs_names_actor(struct dir_context *ctx, const char *name,
			      int len, loff_t pos, u64 ino, unsigned int type)
{
	struct cowfs_names *nm = container_of(ctx, struct cowfs_names, ctx);

	if (cowfs_name_is_dot(name, len))
		return true;
	if (nm->used + len + 1 > nm->size) {
		nm->full = true;
		return false;
	}
	memcpy(nm->buf + nm->used, name, len);
	nm->buf[nm->used + len] = '\0';
	nm->used += len + 1;
	nm->count++;
	return true;
}

/* A buffer of a page for cowfs_names_read(); free with cowfs_names_free(). */
int cowfs_names_alloc(struct cowfs_names *nm)
{
	*nm = (struct cowfs_names) { .size = PAGE_SIZE };
	nm->buf = kmalloc(nm->size, GFP_KERNEL);
	return nm->buf ? 0 : -ENOMEM;
}

void cowfs_names_free(struct cowfs_names *nm)
{
	kfree(nm->buf);
	nm->buf = NULL;
}

/*
 * Read one buffer of names (without "." and "..") from @file, from where
 * it is: the next call goes on after the last name that fitted.  Returns
 * how many were read, 0 at the end, or an error.
 */
int cowfs_names_read(struct file *file, struct cowfs_names *nm)
{
	int err;

	nm->ctx.actor = cowfs_names_actor;
	nm->ctx.pos = file->f_pos;
	nm->used = 0;
	nm->count = 0;
	nm->full = false;
	err = iterate_dir(file, &nm->ctx);
	if (err < 0)
		return err;
	return nm->count;
}

/*
 * Call @fn(@name, @arg) for each name (but "." and "..") in real directory
 * @path, until it returns an error, which is returned.  The directory is
 * read a buffer at a time and not locked while @fn runs, so @fn may
 * change it.
 */
int cowfs_walk_names(const struct path *path,
		     int (*fn)(const char *name, void *arg), void *arg)
{
	struct cowfs_names nm;
	struct file *file;
	int err, n = 0;
	char *name;

	err = cowfs_names_alloc(&nm);
	if (err)
		return err;
	file = cowfs_open_real_dir(path);
	if (IS_ERR(file)) {
		cowfs_names_free(&nm);
		return PTR_ERR(file);
	}
	/* Each read goes on where the last one stopped */
	while (!err && (n = cowfs_names_read(file, &nm)) > 0) {
		for (name = cowfs_names_next(&nm, NULL); name && !err;
		     name = cowfs_names_next(&nm, name))
			err = fn(name, arg);
	}
	if (!err && n < 0)
		err = n;
	fput(file);
	cowfs_names_free(&nm);
	return err;
}

/* ---- tables of names ------------------------------------------------------- */

/* Objects of an arena come from chunks of this size */
#define COWFS_ARENA_CHUNK	(16 * 1024)

struct cowfs_arena_chunk {
	struct cowfs_arena_chunk *next;
	size_t used;
	char data[];
};

/*
 * Many small objects freed at once (every name of a directory): one
 * allocation per 16 KiB, charged to the caller's memory cgroup.
 */
void *cowfs_arena_alloc(struct cowfs_arena *arena, size_t size)
{
	const size_t room = COWFS_ARENA_CHUNK - sizeof(struct cowfs_arena_chunk);
	struct cowfs_arena_chunk *c = arena->chunks;
	void *p;

	size = ALIGN(size, sizeof(void *));
	if (WARN_ON_ONCE(size > room))
		return NULL;
	if (!c || c->used + size > room) {
		c = kmalloc(COWFS_ARENA_CHUNK, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!c)
			return NULL;
		c->used = 0;
		c->next = arena->chunks;
		arena->chunks = c;
		arena->size += COWFS_ARENA_CHUNK;
	}
	p = c->data + c->used;
	c->used += size;
	return p;
}

void cowfs_arena_free(struct cowfs_arena *arena)
{
	struct cowfs_arena_chunk *c, *next;

	for (c = arena->chunks; c; c = next) {
		next = c->next;
		kfree(c);
	}
	arena->chunks = NULL;
	arena->size = 0;
}

/* Starting size of a name table, as a power of two */
#define COWFS_NTABLE_MIN_BITS	6

/*
 * A hash table of names, salted with @salt (as the dcache salts with the
 * parent) so that a crafted layer cannot choose names that collide.  Its
 * nodes live in their owner's memory (an arena, usually).
 */
int cowfs_ntable_init(struct cowfs_ntable *t, const void *salt)
{
	t->bits = COWFS_NTABLE_MIN_BITS;
	t->count = 0;
	t->salt = salt;
	t->buckets = kvcalloc(1U << t->bits, sizeof(*t->buckets),
			      GFP_KERNEL_ACCOUNT);
	return t->buckets ? 0 : -ENOMEM;
}

void cowfs_ntable_destroy(struct cowfs_ntable *t)
{
	kvfree(t->buckets);
	t->buckets = NULL;
}

/* The node of @len bytes of @name, or NULL; *@hashp: its hash, for add. */
struct cowfs_nnode *cowfs_ntable_find(const struct cowfs_ntable *t,
				      const char *name, unsigned int len,
				      u32 *hashp)
{
	u32 hash = full_name_hash(t->salt, name, len);
	struct cowfs_nnode *n;

	if (hashp)
		*hashp = hash;
	n = t->buckets[hash_32(hash, t->bits)];
	for (; n; n = n->next) {
		if (n->hash == hash && n->len == len &&
		    !memcmp(n->name, name, len))
			return n;
	}
	return NULL;
}

/* Double the table once it holds more names than buckets. */
static int cowfs_ntable_grow(struct cowfs_ntable *t)
{
	unsigned int bits = t->bits + 1;
	struct cowfs_nnode **buckets, *n, *next;
	unsigned int i;

	buckets = kvcalloc(1U << bits, sizeof(*buckets),
			   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buckets)
		return -ENOMEM;
	for (i = 0; i < (1U << t->bits); i++) {
		for (n = t->buckets[i]; n; n = next) {
			u32 b = hash_32(n->hash, bits);

			next = n->next;
			n->next = buckets[b];
			buckets[b] = n;
		}
	}
	kvfree(t->buckets);
	t->buckets = buckets;
	t->bits = bits;
	return 0;
}

/*
 * Add @n, whose ->name and ->len are set and not in @t yet; @hash from
 * cowfs_ntable_find().
 */
int cowfs_ntable_add(struct cowfs_ntable *t, struct cowfs_nnode *n, u32 hash)
{
	u32 b;

	if (t->count >= (1U << t->bits)) {
		int err = cowfs_ntable_grow(t);

		if (err)
			return err;
	}
	n->hash = hash;
	b = hash_32(hash, t->bits);
	n->next = t->buckets[b];
	t->buckets[b] = n;
	t->count++;
	return 0;
}
