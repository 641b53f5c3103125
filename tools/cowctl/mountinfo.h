/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: read /proc/self/mountinfo.
 */
#ifndef COWCTL_MOUNTINFO_H
#define COWCTL_MOUNTINFO_H

#include <stddef.h>

/* One line of mountinfo, with the octal escapes decoded. */
struct mnt_entry {
	int id;
	int parent;
	unsigned int major, minor;	/* st_dev of the filesystem */
	char *root;
	char *target;		/* mount point */
	char *mnt_opts;		/* per-mount options: rw,relatime */
	char *fstype;
	char *source;
	char *super_opts;	/* still escaped: split it first */
};

struct mnt_table {
	struct mnt_entry *e;
	size_t n;
	size_t alloc;
};

#define MNT_TABLE_INIT { NULL, 0, 0 }

#define MOUNTINFO_PATH "/proc/self/mountinfo"

/*
 * Read @path (MOUNTINFO_PATH when NULL) into @t.  Lines that do not parse
 * are skipped.  Returns 0, or -errno when the file cannot be read.
 */
int mnt_table_read(struct mnt_table *t, const char *path);
void mnt_table_free(struct mnt_table *t);

/*
 * The mount visible at @target (the last one mounted there), or NULL.
 * @target must be canonical (no trailing slash, no symlinks).
 */
const struct mnt_entry *mnt_table_find_target(const struct mnt_table *t,
					      const char *target);

/* Is @opt ("ro") one of the comma-separated options in @opts? */
int mnt_opts_has(const char *opts, const char *opt);

#endif /* COWCTL_MOUNTINFO_H */
