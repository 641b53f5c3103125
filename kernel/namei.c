// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: looking names up across the layers.
 *
 * A name is looked up in the parent's upper directory, then in its real
 * directories of every lower layer, top first.  The first positive entry
 * decides what the name is:
 *  - a whiteout (0/0 character device) hides the name entirely;
 *  - a non-directory is the object, layers below it are not consulted
 *    (except to find the lower file a copied-up file came from);
 *  - a directory is merged with the directories of the same name below
 *    it, down to the first opaque one, non-directory or whiteout.
 * A directory renamed by the union carries trusted.overlay.redirect: the
 * path (from the layer root, when it starts with '/') or the name (in the
 * same parent) under which the layers below hold its contents.
 *
 * A regular file with trusted.overlay.metacopy (metacopy=on) holds the
 * metadata only: its data is the first regular file below it that is not
 * a metacopy file too, found by name or by the file's (absolute) redirect.
 * As on overlayfs, a union mounted without metacopy=on refuses to follow
 * one (EPERM), and one with no data below is an error (EIO).
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/slab.h>

#include "cowfs.h"

struct cowfs_lookup_data {
	struct cowfs_fs *ofs;
	struct qstr name;
	unsigned int ctr;
	bool stop;
	bool opaque;
	/* The name is a directory: only directories below may merge */
	bool is_dir;
	/* Redirect in force for the layers below, NULL for d->name */
	char *redirect;
	/* Lowest layer index that may still contribute */
	int next_idx;
	/* A metacopy file was found: a regular file below has the data */
	bool metacopy;
	/* The upper object is a metacopy file */
	bool uppermetacopy;
	/* The upper object is the index entry of the first lower one */
	bool indexed;
	/* ... found in the index, not at the name (not linked up yet) */
	bool index_only;
	/* The upper object is a partial file (copyup=partial): its record */
	struct cowfs_partial *partial;
	/* The last redirect read (a metacopy file's) is absolute */
	bool absolute_redirect;
	/* Only a lower object with this origin and type may follow */
	void *origin;
	int origin_len;
	umode_t origin_type;
	struct cowfs_path *stack;
};

/*
 * No "." or ".." in a redirect: it names a place, never climbs.  Nor an
 * empty component ("/a//b", "/"), which overlayfs refuses too.
 */
static bool cowfs_redirect_components_ok(const char *s)
{
	if (*s == '/')
		s++;
	for (;;) {
		const char *end = strchrnul(s, '/');
		size_t len = end - s;

		if (!len || (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (!*end)
			return true;
		s = end + 1;
	}
}

/* Read a redirect xattr; NULL if there is none (or a bad one). */
static char *cowfs_get_redirect(const struct cowfs_layer *layer,
				struct dentry *dentry)
{
	struct path path = { .mnt = layer->mnt, .dentry = dentry };
	ssize_t res;
	char *buf;

	if (!(d_inode(dentry)->i_opflags & IOP_XATTR))
		return NULL;

	res = cowfs_do_getxattr(&path,
				cowfs_layer_xattr(layer, COWFS_XA_REDIRECT), NULL, 0);
	if (res <= 0 || res > PATH_MAX)
		return NULL;

	buf = kzalloc(res + 1, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	res = cowfs_do_getxattr(&path,
				cowfs_layer_xattr(layer, COWFS_XA_REDIRECT), buf, res);
	if (res <= 0 || (buf[0] != '/' && strchr(buf, '/')) ||
	    strlen(buf) != res || !cowfs_redirect_components_ok(buf)) {
		pr_warn_ratelimited("invalid redirect on '%pd2' in layer %d\n",
				    dentry, layer->idx);
		kfree(buf);
		return NULL;
	}
	return buf;
}

static void cowfs_set_redirect(struct cowfs_lookup_data *d, char *redirect)
{
	kfree(d->redirect);
	d->redirect = redirect;
}

/*
 * Where below @this (a directory or a metacopy file in @layer) the name
 * goes on: its redirect, unless redirects are not followed (overlayfs's
 * redirect_dir=nofollow).
 */
static int cowfs_lookup_redirect(struct cowfs_lookup_data *d,
				 const struct cowfs_layer *layer,
				 struct dentry *this)
{
	char *redirect;

	d->absolute_redirect = false;
	/* redirect_dir=nofollow (and userxattr): redirects mean nothing */
	if (!d->ofs->config.redirect_follow)
		return 0;
	redirect = cowfs_get_redirect(layer, this);
	if (IS_ERR(redirect))
		return PTR_ERR(redirect);
	if (redirect) {
		d->absolute_redirect = redirect[0] == '/';
		cowfs_set_redirect(d, redirect);
	}
	return 0;
}

/*
 * A directory was found in @layer: an opaque one hides the layers below,
 * a redirect says where below its contents are.
 */
static int cowfs_lookup_dir_next(struct cowfs_lookup_data *d,
				 const struct cowfs_layer *layer,
				 struct dentry *this)
{
	if (cowfs_is_opaquedir(layer, this)) {
		d->opaque = true;
		d->stop = true;
		return 0;
	}
	return cowfs_lookup_redirect(d, layer, this);
}

/*
 * Is @this, in @layer, a metacopy file (1), or not (0)?  As overlayfs's
 * ovl_check_metacopy_xattr(): an empty value, or one of at least the
 * header of struct ovl_metacopy; a shorter one is -EIO.
 */
static int cowfs_check_metacopy(const struct cowfs_layer *layer,
				struct dentry *this)
{
	struct path path = { .mnt = layer->mnt, .dentry = this };
	ssize_t res;

	if (!d_is_reg(this) || !(d_inode(this)->i_opflags & IOP_XATTR))
		return 0;
	res = cowfs_do_getxattr(&path,
				cowfs_layer_xattr(layer, COWFS_XA_METACOPY),
				NULL, 0);
	if (res == -ENODATA || res == -EOPNOTSUPP ||
	    (layer->userxattr && res == -EACCES))
		return 0;
	if (res < 0)
		return res;
	if (res && res < COWFS_METACOPY_MIN_SIZE) {
		pr_warn_ratelimited("metacopy file '%pd2' in layer %d has a too small xattr\n",
				    this, layer->idx);
		return -EIO;
	}
	return 1;
}

/* The component of a path that @name starts with, and its length. */
static int cowfs_next_component(const char **name)
{
	const char *s = *name;

	while (*s == '/')
		s++;
	*name = s;
	return strchrnul(s, '/') - s;
}

/*
 * Screen an entry a layer has for the name: a whiteout hides it and every
 * layer below (0, and @d stops); a dentry cowfs cannot stack on
 * (cowfs_dentry_weird()) is -EREMOTE.  Both consume @this.  1 when @this
 * is an entry to use.
 */
static int cowfs_lookup_usable(struct cowfs_lookup_data *d, struct dentry *this)
{
	if (cowfs_is_whiteout(this)) {
		dput(this);
		d->stop = true;
		return 0;
	}
	if (cowfs_dentry_weird(this)) {
		dput(this);
		return -EREMOTE;
	}
	return 1;
}

/*
 * An upper object and its origin are the same object: a crafted origin
 * naming an object of another type would hand the inode of one to the
 * other (a directory's operations on a file, say).
 */
static bool cowfs_origin_type_ok(struct cowfs_lookup_data *d,
				 struct dentry *origin)
{
	if ((d_inode(origin)->i_mode & S_IFMT) == d->origin_type)
		return true;
	pr_warn_ratelimited("origin of '%.*s' is a different type of object (%o, %o): ignored\n",
			    d->name.len, d->name.name,
			    d_inode(origin)->i_mode & S_IFMT, d->origin_type);
	return false;
}

/*
 * Found @this for the last component in @layer: decide what it adds to the
 * stack.  Consumes @this.
 */
static int cowfs_lookup_found(struct cowfs_lookup_data *d,
			      const struct cowfs_layer *layer,
			      struct dentry *this)
{
	int usable = cowfs_lookup_usable(d, this);
	int metacopy = 0;

	if (usable <= 0)
		return usable;

	if (d->origin) {
		/* Only the file a copied-up file came from belongs here */
		bool match = (d_inode(this)->i_mode & S_IFMT) == d->origin_type &&
			     cowfs_origin_matches(d->ofs, this, d->origin,
						  d->origin_len);

		d->stop = true;
		if (!match) {
			dput(this);
			return 0;
		}
	} else if ((d->is_dir && !d_can_lookup(this)) ||
		   (d->metacopy && !d_is_reg(this))) {
		/*
		 * Only directories merge: a file (or anything else) below a
		 * directory, upper or lower, is hidden by it, and ends the
		 * stack, as it does on overlayfs.  Only a regular file holds
		 * the data of a metacopy file.
		 */
		dput(this);
		d->stop = true;
		return 0;
	}

	/* A copied-up file's origin only gives st_ino, not data */
	if (!d->origin) {
		metacopy = cowfs_check_metacopy(layer, this);
		if (metacopy < 0) {
			dput(this);
			return metacopy;
		}
	}

	if ((metacopy || d->metacopy) && !d->ofs->config.metacopy) {
		pr_warn_ratelimited("refusing to follow metacopy file '%pd2' in layer %d: mount with metacopy=on\n",
				    this, layer->idx);
		dput(this);
		return -EPERM;
	}

	if (metacopy && d->ctr) {
		/* Between the top metacopy file and the data: not kept */
		dput(this);
	} else {
		d->stack[d->ctr].layer = layer;
		d->stack[d->ctr].dentry = this;
		d->ctr++;
	}

	d->metacopy = metacopy;
	if (metacopy)
		return cowfs_lookup_redirect(d, layer, this);
	if (!d_can_lookup(this)) {
		d->stop = true;
		return 0;
	}
	d->is_dir = true;
	return cowfs_lookup_dir_next(d, layer, this);
}

/*
 * Look @len bytes of @name up in @base of @layer; NULL if not there.  With
 * aufs_whiteouts a layer's .wh.* names are markers, never there.
 */
static struct dentry *cowfs_lookup_one(const struct cowfs_layer *layer,
				       const char *name, int len,
				       struct dentry *base)
{
	struct dentry *this;

	if (layer->aufs_whiteouts && cowfs_is_aufs_name(name, len))
		return NULL;
	this = cowfs_do_lookup(layer, name, base, len);

	if (IS_ERR(this)) {
		/* A name that a layer cannot hold is simply not there */
		if (PTR_ERR(this) == -ENAMETOOLONG || PTR_ERR(this) == -ENOENT)
			return NULL;
		return this;
	}
	if (d_is_negative(this)) {
		dput(this);
		return NULL;
	}
	return this;
}

/*
 * With aufs_whiteouts, is @len bytes of @name whited out in @dir of @layer
 * by a .wh.NAME there?  (Which also hides a NAME in the same directory.)
 */
static bool cowfs_aufs_whiteout(const struct cowfs_layer *layer,
				const char *name, int len, struct dentry *dir)
{
	char wh[NAME_MAX + 1];

	if (!layer->aufs_whiteouts || len > NAME_MAX - COWFS_AUFS_WH_LEN)
		return false;
	memcpy(wh, COWFS_AUFS_WH, COWFS_AUFS_WH_LEN);
	memcpy(wh + COWFS_AUFS_WH_LEN, name, len);
	return cowfs_layer_has_name(layer, dir, wh, len + COWFS_AUFS_WH_LEN);
}

/*
 * Look a '/'-separated @path up from @base of @layer, one component at a
 * time: a missing, non-directory or whiteout component means this layer
 * has nothing there; an opaque one hides the layers below.
 */
static int cowfs_lookup_path(struct cowfs_lookup_data *d,
			     const struct cowfs_layer *layer,
			     struct dentry *base, const char *path)
{
	struct dentry *dir = dget(base);
	struct dentry *this;
	int len;

	for (;;) {
		len = cowfs_next_component(&path);
		if (!len) {
			dput(dir);
			return 0;
		}
		if (cowfs_aufs_whiteout(layer, path, len, dir)) {
			dput(dir);
			/* The name itself: nothing below shows either */
			if (!path[len + strspn(path + len, "/")])
				d->stop = true;
			return 0;
		}
		this = cowfs_lookup_one(layer, path, len, dir);
		dput(dir);
		if (IS_ERR_OR_NULL(this))
			return PTR_ERR_OR_ZERO(this);
		path += len;
		while (*path == '/')
			path++;
		if (!*path)
			return cowfs_lookup_found(d, layer, this);

		if (!d_can_lookup(this) || cowfs_is_whiteout(this)) {
			dput(this);
			return 0;
		}
		if (cowfs_is_opaquedir(layer, this))
			d->stop = true;
		dir = this;
	}
}

/* Look the name (or the redirect in force) up in one layer. */
static int cowfs_lookup_layer(struct cowfs_lookup_data *d,
			      const struct cowfs_path *parent)
{
	const char *name = d->redirect ?: (const char *)d->name.name;
	int err;

	if (d->redirect && d->redirect[0] == '/')
		err = cowfs_lookup_path(d, parent->layer,
					parent->layer->mnt->mnt_root,
					d->redirect);
	else
		err = cowfs_lookup_path(d, parent->layer, parent->dentry, name);

	d->next_idx = parent->layer->idx + 1;
	return err;
}

/*
 * The lower layers below the upper: those of the parent's stack for a
 * plain name or a relative redirect, every lower layer's root for an
 * absolute redirect (not the data-only layers': see cowfs_lookup_data()).
 * The parent's name index (nameidx.c), if it has one, skips the positions
 * of its stack that do not hold the name.
 */
static int cowfs_lookup_lower(struct cowfs_lookup_data *d, struct inode *dir)
{
	struct cowfs_entry *poe = COWFS_I(dir)->oe;
	/* One lower directory: nothing to skip */
	const struct cowfs_nidx *nidx = cowfs_numlower(poe) > 1 ?
					cowfs_nidx_get(dir) : NULL;
	struct cowfs_fs *ofs = d->ofs;
	unsigned int i = 0;
	int err = 0;

	while (!d->stop && !err) {
		struct cowfs_path root;

		if (d->redirect && d->redirect[0] == '/') {
			if (d->next_idx > cowfs_numlowerlayer(ofs))
				break;
			root.layer = &ofs->layers[d->next_idx];
			root.dentry = root.layer->mnt->mnt_root;
			err = cowfs_lookup_layer(d, &root);
			continue;
		}

		while (i < cowfs_numlower(poe) &&
		       poe->lowerstack[i].layer->idx < d->next_idx)
			i++;
		if (nidx) {
			/* A relative redirect names an entry of this parent */
			if (d->redirect)
				i = cowfs_nidx_next(nidx, d->redirect,
						    strlen(d->redirect), i,
						    cowfs_numlower(poe));
			else
				i = cowfs_nidx_next(nidx, d->name.name,
						    d->name.len, i,
						    cowfs_numlower(poe));
		}
		if (i == cowfs_numlower(poe))
			break;
		err = cowfs_lookup_layer(d, &poe->lowerstack[i]);
	}
	return err;
}

/*
 * The data of a metacopy file in a lower layer whose absolute redirect
 * found no data in the lower layers: the first data-only layer with a
 * regular file at the redirect that is not a metacopy file itself, as
 * overlayfs's ovl_lookup_data_layers() (which takes a metacopy file as
 * data too).  Unlike overlayfs, looked up now, not at the first open.
 */
static int cowfs_lookup_data(struct cowfs_lookup_data *d)
{
	struct cowfs_fs *ofs = d->ofs;
	unsigned int i;

	for (i = cowfs_numlowerlayer(ofs) + 1; i < ofs->numlayer; i++) {
		const struct cowfs_layer *layer = &ofs->layers[i];
		struct path path;
		int err;

		err = vfs_path_lookup(layer->mnt->mnt_root, layer->mnt,
				      d->redirect, LOOKUP_BENEATH |
				      LOOKUP_NO_SYMLINKS | LOOKUP_NO_XDEV,
				      &path);
		if (err == -ENOMEM)
			return err;
		if (err)
			continue;
		mntput(path.mnt);
		/* Only a regular file that is not a metacopy file is data */
		err = 1;
		if (d_is_reg(path.dentry) && !cowfs_dentry_weird(path.dentry))
			err = cowfs_check_metacopy(layer, path.dentry);
		if (err) {
			dput(path.dentry);
			if (err == -ENOMEM)
				return err;
			continue;
		}
		d->stack[d->ctr].layer = layer;
		d->stack[d->ctr].dentry = path.dentry;
		d->ctr++;
		d->metacopy = false;
		return 0;
	}
	return 0;
}

/* Look the name up in the parent's upper directory. */
static int cowfs_lookup_upper_layer(struct cowfs_lookup_data *d,
				    const struct cowfs_layer *layer,
				    struct dentry *upperdir,
				    struct dentry **upperdentry)
{
	struct dentry *this;
	int usable;

	if (cowfs_aufs_whiteout(layer, d->name.name, d->name.len, upperdir)) {
		d->stop = true;
		return 0;
	}
	this = cowfs_lookup_one(layer, d->name.name, d->name.len, upperdir);
	if (IS_ERR_OR_NULL(this))
		return PTR_ERR_OR_ZERO(this);

	usable = cowfs_lookup_usable(d, this);
	if (usable <= 0)
		return usable;

	*upperdentry = this;
	/*
	 * A volume's objects are its own: nothing below them merges, and
	 * no origin or redirect in a volume may reach into the layers.
	 */
	if (layer != &d->ofs->layers[0]) {
		d->stop = true;
		return 0;
	}
	if (!d_can_lookup(this)) {
		int metacopy;

		/* copyup=partial: its data is its own and its origin's */
		d->partial = cowfs_partial_load(layer, this);
		if (IS_ERR(d->partial)) {
			int err = PTR_ERR(d->partial);

			d->partial = NULL;
			return err;
		}
		metacopy = d->partial ? 0 : cowfs_check_metacopy(layer, this);
		if (metacopy < 0)
			return metacopy;
		/* Metadata only: the data is below, by name or redirect */
		if (metacopy) {
			d->metacopy = true;
			d->uppermetacopy = true;
			return cowfs_lookup_redirect(d, layer, this);
		}
		/* A copied-up file: find its origin for a stable st_ino */
		d->origin_type = d_inode(this)->i_mode & S_IFMT;
		d->origin = cowfs_get_origin(layer, this, &d->origin_len);
		if (IS_ERR(d->origin)) {
			int err = PTR_ERR(d->origin);

			d->origin = NULL;
			return err;
		}
		d->stop = !d->origin;
		return 0;
	}
	d->is_dir = true;
	return cowfs_lookup_dir_next(d, layer, this);
}

/*
 * Might the file found have an index entry?  Only lower hard links are
 * indexed, but overlayfs's nfs_export indexes every file it copies up: an
 * upper file with other links may be one of those.
 */
static bool cowfs_want_index(struct cowfs_lookup_data *d,
			     struct dentry *upperdentry)
{
	struct dentry *lower = d->stack[0].dentry;

	return d->ofs->indexdir && !d->is_dir && !d_is_dir(lower) &&
	       (d_inode(lower)->i_nlink > 1 ||
		(upperdentry && d_inode(upperdentry)->i_nlink > 1));
}

/*
 * Look the index entry of the file found up (its first lower object's).
 * Found, it is the upper object of a name not copied up yet, and, for one
 * that is, it must be the same inode (else it was copied up without the
 * index, a file of its own).
 */
static int cowfs_lookup_indexed(struct cowfs_lookup_data *d,
				struct dentry **upperdentry)
{
	const struct cowfs_layer *upper = &d->ofs->layers[0];
	struct dentry *index;
	int metacopy;

	index = cowfs_index_lookup(d->ofs, *upperdentry, d->stack[0].dentry);
	if (IS_ERR_OR_NULL(index))
		return PTR_ERR_OR_ZERO(index);

	d->indexed = true;
	if (*upperdentry) {
		dput(index);
		return 0;
	}
	metacopy = cowfs_check_metacopy(upper, index);
	if (metacopy > 0 && !d->ofs->config.metacopy) {
		pr_warn_ratelimited("refusing to follow metacopy index entry '%pd': mount with metacopy=on\n",
				    index);
		metacopy = -EPERM;
	}
	if (metacopy < 0) {
		dput(index);
		return metacopy;
	}
	d->uppermetacopy = metacopy;
	d->index_only = true;
	*upperdentry = index;
	return 0;
}

struct dentry *cowfs_lookup(struct inode *dir, struct dentry *dentry,
			    unsigned int flags)
{
	struct dentry *upperdir = cowfs_dentry_upper(dentry->d_parent);
	struct dentry *upperdentry = NULL;
	struct cowfs_entry *oe = NULL;
	struct inode *inode = NULL;
	const struct cred *old_cred;
	struct cowfs_lookup_data d = {
		.ofs = COWFS_FS(dentry->d_sb),
		.name = dentry->d_name,
		.next_idx = 1,
	};
	struct cowfs_graft *graft;
	char *redirect = NULL;
	unsigned int i;
	int err = 0;

	/* As on any filesystem: too long for every layer is an error */
	if (dentry->d_name.len > d.ofs->namelen)
		return ERR_PTR(-ENAMETOOLONG);

	/* A volume attached here hides what the layers have */
	graft = cowfs_graft_find(d.ofs, dentry->d_parent, &dentry->d_name);
	if (graft) {
		inode = cowfs_get_inode(dentry->d_sb, &graft->layer,
					dget(graft->root.dentry), NULL, 0, NULL);
		if (IS_ERR(inode))
			return ERR_CAST(inode);
		cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, dentry);
		return d_splice_alias(inode, dentry);
	}

	/* A redirect may reach any lower layer, not just the parent's */
	d.stack = kcalloc(d.ofs->numlayer, sizeof(*d.stack), GFP_KERNEL);
	if (!d.stack)
		return ERR_PTR(-ENOMEM);

	atomic64_inc(&d.ofs->stats.lookups);
	old_cred = cowfs_override_creds(dentry->d_sb);
	if (upperdir)
		err = cowfs_lookup_upper_layer(&d, cowfs_upper_layer(dir),
					       upperdir, &upperdentry);
	/* Keep the upper's redirect: rename builds on it */
	if (!err && d.redirect)
		redirect = kstrdup(d.redirect, GFP_KERNEL);
	if (!err && !d.stop)
		err = cowfs_lookup_lower(&d, dir);
	/* Only a lower metacopy file's absolute redirect, as overlayfs */
	if (!err && d.metacopy && d.ctr && d.ofs->numdatalayer &&
	    d.absolute_redirect)
		err = cowfs_lookup_data(&d);
	/* Renamed since it was copied up: find its origin by file handle */
	if (!err && d.origin && !d.ctr) {
		const struct cowfs_layer *layer;
		struct dentry *origin;

		origin = cowfs_decode_origin(d.ofs, d.origin, d.origin_len,
					     &layer);
		if (origin && !cowfs_origin_type_ok(&d, origin)) {
			dput(origin);
			origin = NULL;
		}
		if (origin) {
			d.stack[0].layer = layer;
			d.stack[0].dentry = origin;
			d.ctr = 1;
		}
	}
	/* index=on: a lower hard link's upper object is its index entry */
	if (!err && d.ctr && cowfs_want_index(&d, upperdentry))
		err = cowfs_lookup_indexed(&d, &upperdentry);
	cowfs_revert_creds(old_cred);
	kfree(d.redirect);
	kfree(d.origin);
	if (!err && d.metacopy) {
		pr_warn_ratelimited("metacopy file '%pd2' has no data below it\n",
				    dentry);
		err = -EIO;
	}
	if (err)
		goto out_put;

	if (d.ctr) {
		err = -ENOMEM;
		oe = cowfs_alloc_entry(d.ctr);
		if (!oe)
			goto out_put;
		memcpy(oe->lowerstack, d.stack, d.ctr * sizeof(*d.stack));
		d.ctr = 0;
	}
	if (d.partial) {
		err = cowfs_partial_check_lower(d.partial, oe, upperdentry);
		if (err) {
			cowfs_free_entry(oe);
			goto out_put;
		}
	}
	if (upperdentry && !d.index_only)
		cowfs_dentry_set_flag(COWFS_E_UPPER_ALIAS, dentry);
	if (upperdentry || oe) {
		inode = cowfs_get_inode(dentry->d_sb, cowfs_upper_layer(dir),
					upperdentry, oe,
					(d.uppermetacopy ? BIT(COWFS_I_METACOPY) : 0) |
					(d.indexed ? BIT(COWFS_I_INDEX) : 0) |
					(d.partial ? BIT(COWFS_I_PARTIAL) : 0),
					d.partial);
		upperdentry = NULL;
		d.partial = NULL;
		if (IS_ERR(inode)) {
			err = PTR_ERR(inode);
			goto out_put;
		}
		/* A directory's or a metacopy file's, kept for rename */
		if (redirect) {
			mutex_lock(&COWFS_I(inode)->lock);
			if (!COWFS_I(inode)->redirect) {
				COWFS_I(inode)->redirect = redirect;
				redirect = NULL;
			}
			mutex_unlock(&COWFS_I(inode)->lock);
		}
		if (d.opaque)
			cowfs_dentry_set_flag(COWFS_E_OPAQUE, dentry);
	}
	kfree(redirect);
	kfree(d.stack);
	return d_splice_alias(inode, dentry);

out_put:
	for (i = 0; i < d.ctr; i++)
		dput(d.stack[i].dentry);
	dput(upperdentry);
	cowfs_partial_free(d.partial);
	kfree(redirect);
	kfree(d.stack);
	return ERR_PTR(err);
}
