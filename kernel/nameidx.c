// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: the name index of a merged directory.
 *
 * A lookup in a merged directory probes the directory of every lower
 * layer in its stack, top first, until one decides the name (see
 * namei.c).  Most probes miss: at 64 layers a lookup costs 64 real
 * lookups, and a miss (a PATH search, a library search) costs them all.
 *
 * The lower layers do not change while they are mounted (overlayfs's rule
 * too: changing them is undefined behaviour), so the first lookups in a
 * merged directory read its lower directories once and index, by name,
 * which positions of the stack hold each name.  A lookup then probes only
 * those positions, and a name no lower layer holds costs one hash probe.
 * Every answer still comes from a real lookup in the layer: the index only
 * says where not to look.  It can therefore never show a name that no
 * layer has; it must never omit a position that has the name, which is why
 * it is built only where a directory's listing names everything a lookup
 * finds (cowfs_nidx_dir_ok()), only from a complete read of every
 * directory, and over-approximates: an AUFS marker .wh.NAME counts as a
 * NAME there, a whiteout is a name like any other.
 *
 * The upper layer is never indexed: it changes, and a lookup always probes
 * it first.  A directory gets an index only when its lookups have probed
 * about as many entries as reading it costs (cowfs_nidx_worth()), so a
 * directory that is looked up in once is never read whole; one that is
 * too big (COWFS_NIDX_MAX_NAMES, COWFS_NIDX_MAX_BYTES) is never indexed.
 * The index lives while an inode holds it, so memory pressure reclaims it
 * with the inodes, and it is read without locks: it is complete before it
 * is published and never changes after.
 *
 * The unions of one image stack the same real directories: they share the
 * index of each (cowfs_nidx_shared), so only the first container started
 * from an image reads them, and they hold one copy.
 */
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/jhash.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "cowfs.h"

static bool cowfs_lookup_index = true;
module_param_named(lookup_index, cowfs_lookup_index, bool, 0644);
MODULE_PARM_DESC(lookup_index,
		 "Index the names of merged lower directories, so that a lookup probes only the layers that hold the name (default: on)");

/* Names (counted once per layer) one index holds at most */
#define COWFS_NIDX_MAX_NAMES	65536
/* ... and at most this much memory for them (long names: a crafted layer) */
#define COWFS_NIDX_MAX_BYTES	(4 << 20)

/* A position in the stack that holds a name; in stack order */
struct cowfs_nidx_occ {
	struct cowfs_nidx_occ *next;
	unsigned int pos;
};

struct cowfs_nidx_name {
	struct cowfs_nnode node;
	struct cowfs_nidx_occ *occ;
	struct cowfs_nidx_occ **tail;
	char name[];
};

/* What an index was read from: one of these per position of the stack */
struct cowfs_nidx_key {
	struct dentry *dentry;
	bool aufs_whiteouts;
};

struct cowfs_nidx {
	struct cowfs_ntable names;
	unsigned int occs;
	struct cowfs_arena arena;
	/* In cowfs_nidx_shared while an inode holds a reference */
	struct hlist_node share;
	refcount_t ref;
	u32 key_hash;
	unsigned int numlower;
	/*
	 * Not references: every inode that holds the index holds these
	 * dentries in its stack, so none is freed (and its address reused)
	 * while the index is in the table.
	 */
	struct cowfs_nidx_key *key;
};

/* Every index some inode holds, by the directories it was read from */
static DEFINE_HASHTABLE(cowfs_nidx_shared, 8);
static DEFINE_SPINLOCK(cowfs_nidx_lock);

/* The state of an inode that will not be indexed (too big, unreadable) */
#define COWFS_NIDX_NONE		((struct cowfs_nidx *)ERR_PTR(-ENOENT))

static void cowfs_nidx_destroy(struct cowfs_nidx *nidx)
{
	cowfs_arena_free(&nidx->arena);
	cowfs_ntable_destroy(&nidx->names);
	kfree(nidx->key);
	kfree(nidx);
}

/* Drop what cowfs_nidx_get() hung on an inode (NULL and "none" too). */
void cowfs_nidx_free(struct cowfs_nidx *nidx)
{
	bool last;

	if (IS_ERR_OR_NULL(nidx))
		return;
	/* Once an inode is destroyed: no need for refcount_dec_and_lock() */
	spin_lock(&cowfs_nidx_lock);
	last = refcount_dec_and_test(&nidx->ref);
	if (last)
		hash_del(&nidx->share);
	spin_unlock(&cowfs_nidx_lock);
	if (last)
		cowfs_nidx_destroy(nidx);
}

static u32 cowfs_nidx_key_hash(const struct cowfs_entry *oe)
{
	u32 hash = cowfs_numlower(oe);
	unsigned int i;

	for (i = 0; i < cowfs_numlower(oe); i++) {
		u64 p = (unsigned long)oe->lowerstack[i].dentry;

		hash = jhash_3words(lower_32_bits(p), upper_32_bits(p),
				    oe->lowerstack[i].layer->aufs_whiteouts,
				    hash);
	}
	return hash;
}

static bool cowfs_nidx_key_match(const struct cowfs_nidx *nidx,
				 const struct cowfs_entry *oe, u32 hash)
{
	unsigned int i;

	if (nidx->key_hash != hash || nidx->numlower != cowfs_numlower(oe))
		return false;
	for (i = 0; i < nidx->numlower; i++) {
		if (nidx->key[i].dentry != oe->lowerstack[i].dentry ||
		    nidx->key[i].aufs_whiteouts !=
		    oe->lowerstack[i].layer->aufs_whiteouts)
			return false;
	}
	return true;
}

/* The index another union read from @oe's directories, referenced; or NULL */
static struct cowfs_nidx *cowfs_nidx_find_shared(const struct cowfs_entry *oe,
						 u32 hash)
{
	struct cowfs_nidx *nidx;

	spin_lock(&cowfs_nidx_lock);
	hash_for_each_possible(cowfs_nidx_shared, nidx, share, hash) {
		if (cowfs_nidx_key_match(nidx, oe, hash) &&
		    refcount_inc_not_zero(&nidx->ref))
			goto out;
	}
	nidx = NULL;
out:
	spin_unlock(&cowfs_nidx_lock);
	return nidx;
}

/* Offer the new @nidx to other unions; another's, if it came first. */
static struct cowfs_nidx *cowfs_nidx_share(struct cowfs_nidx *nidx,
					   const struct cowfs_entry *oe)
{
	struct cowfs_nidx *other;

	spin_lock(&cowfs_nidx_lock);
	hash_for_each_possible(cowfs_nidx_shared, other, share, nidx->key_hash) {
		if (cowfs_nidx_key_match(other, oe, nidx->key_hash) &&
		    refcount_inc_not_zero(&other->ref)) {
			spin_unlock(&cowfs_nidx_lock);
			cowfs_nidx_destroy(nidx);
			return other;
		}
	}
	hash_add(cowfs_nidx_shared, &nidx->share, nidx->key_hash);
	spin_unlock(&cowfs_nidx_lock);
	return nidx;
}

/* Note that stack position @pos holds @name. */
static int cowfs_nidx_add(struct cowfs_nidx *nidx, const char *name,
			  unsigned int len, unsigned int pos)
{
	struct cowfs_nidx_name *n;
	struct cowfs_nidx_occ *occ;
	struct cowfs_nnode *node;
	u32 hash;
	int err;

	node = cowfs_ntable_find(&nidx->names, name, len, &hash);
	n = node ? container_of(node, struct cowfs_nidx_name, node) : NULL;
	/* A .wh.NAME marker and a NAME in one layer: one position */
	if (n && container_of(n->tail, struct cowfs_nidx_occ, next)->pos == pos)
		return 0;
	if (++nidx->occs > COWFS_NIDX_MAX_NAMES ||
	    nidx->arena.size > COWFS_NIDX_MAX_BYTES)
		return -E2BIG;
	occ = cowfs_arena_alloc(&nidx->arena, sizeof(*occ));
	if (!occ)
		return -ENOMEM;
	occ->pos = pos;
	occ->next = NULL;
	if (!n) {
		n = cowfs_arena_alloc(&nidx->arena, struct_size(n, name, len));
		if (!n)
			return -ENOMEM;
		memcpy(n->name, name, len);
		n->node.name = n->name;
		n->node.len = len;
		err = cowfs_ntable_add(&nidx->names, &n->node, hash);
		if (err)
			return err;
		n->tail = &n->occ;
	}
	/* Layers are read top first: positions stay in stack order */
	*n->tail = occ;
	n->tail = &occ->next;
	return 0;
}

struct cowfs_nidx_fill {
	struct dir_context ctx;
	struct cowfs_nidx *nidx;
	unsigned int pos;
	bool aufs_whiteouts;
	int err;
};

static bool cowfs_nidx_actor(struct dir_context *ctx, const char *name,
			     int len, loff_t offset, u64 ino, unsigned int type)
{
	struct cowfs_nidx_fill *fill = container_of(ctx, struct cowfs_nidx_fill,
						    ctx);

	if (cowfs_name_is_dot(name, len))
		return true;
	/* No name a lookup could ask for: a crafted layer, no index */
	if (len > NAME_MAX) {
		fill->err = -ENAMETOOLONG;
		return false;
	}
	/* What .wh.NAME whites out is NAME: probe this layer for it */
	if (fill->aufs_whiteouts && cowfs_is_aufs_name(name, len)) {
		name += COWFS_AUFS_WH_LEN;
		len -= COWFS_AUFS_WH_LEN;
		if (!len)
			return true;
	}
	fill->err = cowfs_nidx_add(fill->nidx, name, len, fill->pos);
	return !fill->err;
}

/*
 * Does a listing of @dir name every entry a lookup there finds?  Not where
 * names fold (case-insensitive directories), not on a filesystem that
 * revalidates its dentries (remote ones, and procfs, whose thread
 * directories are found but not listed), and not at a filesystem's root,
 * where a lookup may find a hidden control directory (ZFS's .zfs).
 */
static bool cowfs_nidx_dir_ok(struct dentry *dir)
{
	if (dir->d_flags & (DCACHE_OP_HASH | DCACHE_OP_COMPARE |
			    DCACHE_OP_REVALIDATE | DCACHE_OP_WEAK_REVALIDATE))
		return false;
	if (dir->d_sb->s_d_op && (dir->d_sb->s_d_op->d_revalidate ||
				  dir->d_sb->s_d_op->d_weak_revalidate ||
				  dir->d_sb->s_d_op->d_hash))
		return false;
	return dir != dir->d_sb->s_root;
}

static struct cowfs_nidx *cowfs_nidx_build(struct cowfs_entry *oe, u32 hash)
{
	struct cowfs_nidx_fill fill = {
		.ctx.actor = cowfs_nidx_actor,
	};
	struct cowfs_nidx *nidx;
	unsigned int i;
	int err = 0;

	for (i = 0; i < cowfs_numlower(oe); i++) {
		if (!cowfs_nidx_dir_ok(oe->lowerstack[i].dentry))
			return COWFS_NIDX_NONE;
	}

	nidx = kzalloc(sizeof(*nidx), GFP_KERNEL_ACCOUNT);
	if (!nidx)
		return NULL;
	refcount_set(&nidx->ref, 1);
	INIT_HLIST_NODE(&nidx->share);
	nidx->key_hash = hash;
	nidx->numlower = cowfs_numlower(oe);
	nidx->key = kmalloc_array(nidx->numlower, sizeof(*nidx->key),
				  GFP_KERNEL_ACCOUNT);
	if (!nidx->key || cowfs_ntable_init(&nidx->names, nidx))
		goto fail;
	for (i = 0; i < nidx->numlower; i++) {
		nidx->key[i].dentry = oe->lowerstack[i].dentry;
		nidx->key[i].aufs_whiteouts =
			oe->lowerstack[i].layer->aufs_whiteouts;
	}

	fill.nidx = nidx;
	for (i = 0; i < cowfs_numlower(oe) && !err; i++) {
		const struct cowfs_path *lp = &oe->lowerstack[i];
		struct path path = { .mnt = lp->layer->mnt, .dentry = lp->dentry };

		fill.pos = i;
		fill.aufs_whiteouts = lp->layer->aufs_whiteouts;
		err = cowfs_iterate_real_dir(&path, &fill.ctx);
		/* A listing cut short would leave names out: no index */
		if (!err)
			err = fill.err;
	}
	if (err) {
		pr_debug("no name index for %pd: %d\n",
			 oe->lowerstack[0].dentry, err);
		cowfs_nidx_destroy(nidx);
		/* Out of memory may pass; a listing that fails will not */
		return err == -ENOMEM ? NULL : COWFS_NIDX_NONE;
	}
	return nidx;

fail:
	cowfs_nidx_destroy(nidx);
	return NULL;
}

/*
 * Is an index worth reading @oe's directories whole?  Once the lookups
 * without one have probed about a quarter as many entries as the
 * directories hold, as their sizes estimate (at least one full probe of
 * the stack, so a directory looked up in once is never read).
 */
static bool cowfs_nidx_worth(struct cowfs_inode *oi, struct cowfs_entry *oe)
{
	unsigned int probes = READ_ONCE(oi->nidx_probes);
	unsigned int need = READ_ONCE(oi->nidx_need);
	unsigned int i;

	if (!need) {
		u64 size = 0;

		for (i = 0; i < cowfs_numlower(oe); i++)
			size += i_size_read(d_inode(oe->lowerstack[i].dentry));
		/* 32 bytes an entry is a fair guess for most filesystems */
		need = clamp_t(u64, size / 32 / 4, cowfs_numlower(oe),
			       COWFS_NIDX_MAX_NAMES);
		WRITE_ONCE(oi->nidx_need, need);
	}
	if (probes >= need)
		return true;
	WRITE_ONCE(oi->nidx_probes, probes + cowfs_numlower(oe));
	return false;
}

/*
 * The name index of the merged directory @dir, built now if it is worth
 * it; NULL if there is none.  Call with the mounter's credentials (the
 * lower directories are read with them).
 */
const struct cowfs_nidx *cowfs_nidx_get(struct inode *dir)
{
	struct cowfs_inode *oi = COWFS_I(dir);
	struct cowfs_entry *oe = oi->oe;
	struct cowfs_nidx *nidx, *old;
	bool first, worth;
	u32 hash;

	/* Pairs with cmpxchg_release() below: the index is complete */
	nidx = smp_load_acquire(&oi->nidx);
	if (nidx)
		return IS_ERR(nidx) ? NULL : nidx;
	if (cowfs_numlower(oe) < 2 || !READ_ONCE(cowfs_lookup_index))
		return NULL;

	/* Another union of the image may have one: ask at the first lookup */
	first = !READ_ONCE(oi->nidx_probes);
	worth = cowfs_nidx_worth(oi, oe);
	if (!first && !worth)
		return NULL;
	hash = cowfs_nidx_key_hash(oe);
	nidx = cowfs_nidx_find_shared(oe, hash);
	if (!nidx) {
		if (!worth)
			return NULL;
		nidx = cowfs_nidx_build(oe, hash);
		if (!nidx)
			return NULL;
		if (!IS_ERR(nidx))
			nidx = cowfs_nidx_share(nidx, oe);
	}
	/* Two lookups may have built it at once: the first one wins */
	old = cmpxchg_release(&oi->nidx, NULL, nidx);
	if (old) {
		cowfs_nidx_free(nidx);
		nidx = old;
	}
	return IS_ERR(nidx) ? NULL : nidx;
}

/*
 * The first position of the stack at or after @pos that holds @len bytes
 * of @name, or cowfs_numlower() of the stack if none does.
 */
unsigned int cowfs_nidx_next(const struct cowfs_nidx *nidx, const char *name,
			     unsigned int len, unsigned int pos,
			     unsigned int numlower)
{
	const struct cowfs_nnode *node;
	const struct cowfs_nidx_occ *occ = NULL;

	node = cowfs_ntable_find(&nidx->names, name, len, NULL);
	if (node)
		occ = container_of(node, struct cowfs_nidx_name, node)->occ;
	for (; occ; occ = occ->next) {
		if (occ->pos >= pos)
			return occ->pos;
	}
	return numlower;
}
