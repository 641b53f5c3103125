// SPDX-License-Identifier: GPL-2.0-only
/*
 * cowfs: looking names up across the layers.
 *
 * A name is looked up in the parent's real directory of every layer, top
 * first.  The first positive entry decides what the name is:
 *  - a whiteout (0/0 character device) hides the name entirely;
 *  - a non-directory is the object, layers below it are not consulted;
 *  - a directory is merged with the directories of the same name below
 *    it, down to the first opaque one, non-directory or whiteout.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/slab.h>

#include "cowfs.h"

struct cowfs_lookup_data {
	struct qstr name;
	unsigned int ctr;
	bool stop;
	bool opaque;
	struct cowfs_path *stack;
};

/*
 * Look @d->name up in one real parent directory and add what it finds to
 * the stack.  Returns 0 or a negative error; sets @d->stop when the
 * layers below cannot contribute.
 */
static int cowfs_lookup_layer(struct cowfs_lookup_data *d,
			      const struct cowfs_path *parent)
{
	struct dentry *this;

	this = cowfs_do_lookup(parent->layer, d->name.name, parent->dentry,
			       d->name.len);
	if (IS_ERR(this)) {
		/* A name that a layer cannot hold is simply not there */
		if (PTR_ERR(this) == -ENAMETOOLONG || PTR_ERR(this) == -ENOENT)
			return 0;
		return PTR_ERR(this);
	}

	if (d_is_negative(this)) {
		dput(this);
		return 0;
	}

	if (cowfs_is_whiteout(this)) {
		dput(this);
		d->stop = true;
		return 0;
	}

	/* Only directories merge: anything else below one is hidden */
	if (d->ctr && !d_is_dir(this)) {
		dput(this);
		d->stop = true;
		return 0;
	}

	if (cowfs_dentry_weird(this)) {
		dput(this);
		return -EREMOTE;
	}

	d->stack[d->ctr].layer = parent->layer;
	d->stack[d->ctr].dentry = this;
	d->ctr++;

	if (!d_is_dir(this)) {
		d->stop = true;
	} else if (cowfs_is_opaquedir(parent->layer, this)) {
		d->opaque = true;
		d->stop = true;
	}
	return 0;
}

struct dentry *cowfs_lookup(struct inode *dir, struct dentry *dentry,
			    unsigned int flags)
{
	struct cowfs_entry *poe = COWFS_I(dir)->oe;
	struct cowfs_entry *oe = NULL;
	struct inode *inode = NULL;
	const struct cred *old_cred;
	struct cowfs_lookup_data d = {
		.name = dentry->d_name,
	};
	unsigned int i;
	int err;

	d.stack = kcalloc(cowfs_numlower(poe), sizeof(*d.stack), GFP_KERNEL);
	if (!d.stack)
		return ERR_PTR(-ENOMEM);

	atomic64_inc(&COWFS_FS(dentry->d_sb)->stats.lookups);
	old_cred = cowfs_override_creds(dentry->d_sb);
	err = 0;
	for (i = 0; i < cowfs_numlower(poe) && !d.stop && !err; i++)
		err = cowfs_lookup_layer(&d, &poe->lowerstack[i]);
	cowfs_revert_creds(old_cred);
	if (err)
		goto out_put;

	if (d.ctr) {
		err = -ENOMEM;
		oe = cowfs_alloc_entry(d.ctr);
		if (!oe)
			goto out_put;
		memcpy(oe->lowerstack, d.stack, d.ctr * sizeof(*d.stack));
		d.ctr = 0;

		inode = cowfs_get_inode(dentry->d_sb, oe);
		if (IS_ERR(inode)) {
			err = PTR_ERR(inode);
			goto out_put;
		}
		if (d.opaque)
			cowfs_dentry_set_flag(COWFS_E_OPAQUE, dentry);
	}
	kfree(d.stack);
	return d_splice_alias(inode, dentry);

out_put:
	for (i = 0; i < d.ctr; i++)
		dput(d.stack[i].dentry);
	kfree(d.stack);
	return ERR_PTR(err);
}
