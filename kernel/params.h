/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cowfs: state of a mount being configured, before the superblock exists.
 */
#ifndef _COWFS_PARAMS_H
#define _COWFS_PARAMS_H

#include <linux/path.h>

#include "cowfs_entry.h"

struct cowfs_fs_context_layer {
	char *name;		/* unescaped, as the user wrote it */
	struct path path;	/* resolved when the option was parsed */
};

enum cowfs_fsync {
	cowfs_fsync_volatile = 1,
	cowfs_fsync_auto,
	cowfs_fsync_strict,
};

enum cowfs_uuid {
	cowfs_uuid_off = 1,
	cowfs_uuid_null,
	cowfs_uuid_on,
	cowfs_uuid_auto,
};

struct cowfs_fs_context {
	struct cowfs_fs_context_layer *lower;
	unsigned int nr;
	/* The last nr_data of lower[] are data-only layers ('::', datadir+) */
	unsigned int nr_data;
	unsigned int capacity;
	/* upperdir= and workdir=, name NULL when not given */
	struct cowfs_fs_context_layer upper;
	struct cowfs_fs_context_layer work;
	/* redirect_dir=: 0 if not given, else redirect_on... (params.c) */
	int redirect_mode;
	bool userxattr;
	bool aufs_whiteouts;
	bool default_permissions;
	/* metacopy=on, and whether metacopy= was given at all */
	bool metacopy;
	bool metacopy_set;
	/* index=on */
	bool index;
	/* copyup=partial */
	bool copyup_partial;
	/* verity=: enum cowfs_verity */
	int verity_mode;
	/* fsync=, uuid=: 0 if not given, else enum cowfs_fsync/cowfs_uuid */
	int fsync_mode;
	int uuid_mode;
	/* volume=NAME:/target, as given */
	char *volumes[COWFS_MAX_VOLUMES];
	unsigned int nr_volumes;
	/* The whole lowerdir= value, NULL when layers came from lowerdir+ */
	char *lowerdir_all;
};

#endif /* _COWFS_PARAMS_H */
