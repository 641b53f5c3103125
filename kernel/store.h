/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cowfs: the volume store, where local and bind volumes persist (store.c).
 */
#ifndef _COWFS_STORE_H
#define _COWFS_STORE_H

#include <linux/path.h>
#include <linux/types.h>

#include "cowfs_entry.h"

/* The store's layer index, as the wrappers' traces show it */
#define COWFS_STORE_LAYER_IDX	(-1)

struct cowfs_volume;

struct cowfs_store {
	/* A private clone of the store root's mount, and the root */
	struct path root;
	/* root.mnt as a layer, for the cowfs_do_*() wrappers */
	struct cowfs_layer layer;
	/* The root's absolute path, as d_path() saw it when opened */
	char *name;
};

int cowfs_store_open(const char *name, struct cowfs_store *st);
void cowfs_store_close(struct cowfs_store *st);
int cowfs_store_add(struct cowfs_store *st, struct cowfs_volume *vol);
int cowfs_store_trash(struct cowfs_store *st, const char *name,
		      struct path *trash);
int cowfs_store_rmtree(struct path *trash, u64 *reclaimed);
int cowfs_store_load(struct cowfs_store *st,
		     int (*add)(struct cowfs_volume *vol));

#endif /* _COWFS_STORE_H */
