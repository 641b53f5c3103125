/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: the objects of the cowfs netlink family (volumes and live
 * mounts) as C structs, parsed from volume-get and mount-get replies and
 * notifications, and joined with /proc/self/mountinfo.
 */
#ifndef COWCTL_OBJECTS_H
#define COWCTL_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mountinfo.h"
#include "nl.h"
#include "utils.h"

struct nl_msg;

/* A label or an option. */
struct kv {
	char *key;
	char *value;
};

struct kvs {
	struct kv *v;
	size_t n;
};

struct nl_volume {
	char *name;
	uint32_t type;		/* COWFS_VOLUME_TYPE_* */
	char *path;		/* NULL for tmpfs */
	uint64_t size;		/* tmpfs size limit, 0: none */
	uint64_t created;	/* ns since the epoch */
	struct kvs labels;
	struct kvs options;
	uint64_t *mount_ids;	/* mounts that use it */
	size_t nmount_ids;
};

struct nl_volumes {
	struct nl_volume *v;
	size_t n;
};

struct nl_mount_volume {
	char *name;
	char *target;		/* where it appears in the union */
};

struct nl_mount {
	uint64_t id;
	unsigned int major, minor;
	struct strvec lower;	/* top first */
	unsigned int ndata;	/* the last ndata of lower are data-only */
	char *upper;		/* NULL: read-only union */
	char *work;
	char *options;
	struct nl_mount_volume *vols;
	size_t nvols;
	uint64_t lookups, copy_ups, copy_up_bytes, whiteouts;
};

struct nl_mounts {
	struct nl_mount *m;
	size_t n;
};

/* "local", "bind", "tmpfs", or "unknown". */
const char *volume_type_name(uint32_t type);
/* COWFS_VOLUME_TYPE_* for @name, or -1. */
int volume_type_parse(const char *name);

/* Parse one reply or notification; 0 or -EINVAL (no name / no id). */
int nl_volume_parse(struct nl_msg *msg, struct nl_volume *v);
int nl_mount_parse(struct nl_msg *msg, struct nl_mount *m);
void nl_volume_free(struct nl_volume *v);
void nl_mount_free(struct nl_mount *m);

/*
 * Dump every volume (sorted by name) or mount (by id).  0, or -errno after
 * a message.
 */
int nl_volumes_dump(struct cowctl_nl *nl, struct nl_volumes *out);
int nl_mounts_dump(struct cowctl_nl *nl, struct nl_mounts *out);
void nl_volumes_free(struct nl_volumes *l);
void nl_mounts_free(struct nl_mounts *l);

/*
 * Get one volume by name: 0, or -errno with nl->extack set (the caller
 * reports it with cowctl_nl_error()).
 */
int nl_volume_get(struct cowctl_nl *nl, const char *name,
		  struct nl_volume *v);

const struct nl_mount *nl_mounts_find_id(const struct nl_mounts *l,
					 uint64_t id);
const struct nl_mount *nl_mounts_find_dev(const struct nl_mounts *l,
					  unsigned int major,
					  unsigned int minor);

/*
 * Where the union @m is mounted in this mount namespace: the last
 * mountinfo entry of type cowfs with its device, or NULL.
 */
const struct mnt_entry *mount_target(const struct mnt_table *t,
				     const struct nl_mount *m);

/* "2026-01-02T03:04:05Z" from ns since the epoch, in @buf (>= 32 bytes). */
const char *format_time_ns(uint64_t ns, char *buf, size_t size);

/* Docker's human size: "0B", "4.1kB", "12.3MB" (powers of 1000). */
const char *format_size(uint64_t bytes, char *buf, size_t size);
/* The same in powers of 1024 (tmpfs's): "64MiB". */
const char *format_size_iec(uint64_t bytes, char *buf, size_t size);

#endif /* COWCTL_OBJECTS_H */
