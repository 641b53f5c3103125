/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: storage drivers behind one interface.
 *
 * A driver stores image layers and containers (writable snapshots of an
 * image) under a root directory, ROOT/<driver>/ (--root, $COWCTL_ROOT,
 * default /var/lib/cowctl):
 *
 *	ROOT/<driver>/lock		flock()ed by every command
 *	ROOT/<driver>/config		options given to 'cowctl driver up -o'
 *	ROOT/<driver>/images/NAME	metadata of image NAME (KEY=VALUE lines)
 *	ROOT/<driver>/containers/NAME	metadata of container NAME
 *	ROOT/<driver>/mnt/NAME		default mount point of container NAME
 *	ROOT/<driver>/...		the driver's own data
 *
 * An image is one layer on top of an optional parent image.  The generic
 * code (driver.c, image.c, container.c) keeps the metadata, checks names
 * and references and calls the driver's operations; a driver file
 * (driver_*.c) keeps the data:
 *
 *	cowfs, overlay2	layer directories; a container is an upper and a
 *			work directory, mounted as a union of them
 *	devicemapper	a dm-thin pool; every layer a thin snapshot of its
 *			parent carrying an ext4 (or xfs) filesystem
 *	btrfs		a btrfs filesystem; layers and containers subvolume
 *			snapshots
 *	zfs		a pool; layers datasets (clones of the parent's
 *			snapshot), containers clones of the image's snapshot
 *
 * The backing store (pool, loop devices, filesystem) is brought up by the
 * first command that needs it and stays up until 'cowctl driver down'.
 */
#ifndef COWCTL_DRIVER_H
#define COWCTL_DRIVER_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utils.h"

#define COWCTL_DEFAULT_ROOT	"/var/lib/cowctl"
#define COWCTL_DEFAULT_DRIVER	"cowfs"

/* KEY=VALUE metadata, kept in file order. */
struct meta {
	struct strvec keys;
	struct strvec vals;
};

#define META_INIT { STRVEC_INIT, STRVEC_INIT }

const char *meta_get(const struct meta *m, const char *key);
void meta_set(struct meta *m, const char *key, const char *val);
void meta_setf(struct meta *m, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void meta_free(struct meta *m);
/* 0, -ENOENT when there is no such file, or -errno after a message. */
int meta_load(struct meta *m, const char *path);
/* Write atomically (temporary file and rename); 0 or -errno. */
int meta_save(const struct meta *m, const char *path);

/* Where a new layer's content comes from. */
struct layer_src {
	const char *path;	/* a directory, a tar file, or "-" (stdin) */
	bool is_dir;
};

struct drv_ctx;

struct storage_driver {
	const char *name;
	const char *summary;
	/* Options 'cowctl driver up -o KEY=VAL' takes, for the help. */
	const char *const *opts_help;

	/*
	 * Can the driver work on this system (tools, kernel support)?  0, or
	 * -errno with a sentence in @why a person can act on.  Cheap and
	 * without side effects.
	 */
	int (*probe)(char *why, size_t len);
	/* Is the backing store up?  No side effects. */
	bool (*is_up)(struct drv_ctx *ctx);
	/* Bring the backing store up, creating it on first use. */
	int (*up)(struct drv_ctx *ctx);
	/* Take it down (containers are unmounted first); data is kept. */
	int (*down)(struct drv_ctx *ctx);
	/* Delete the backing store's files; called when it is down. */
	int (*destroy)(struct drv_ctx *ctx);
	/* Print driver-specific " Key: value" status lines (print_*). */
	void (*status)(struct drv_ctx *ctx);

	/*
	 * Create layer @name on top of @parent (NULL: a base layer) from
	 * @src, converting OCI whiteouts to the driver's form.  May add
	 * driver keys to @m.  On failure it leaves nothing behind.
	 */
	int (*layer_create)(struct drv_ctx *ctx, const char *name,
			    const char *parent, const struct meta *pmeta,
			    const struct layer_src *src, struct meta *m);
	int (*layer_remove)(struct drv_ctx *ctx, const char *name,
			    const struct meta *m);
	/* Create container @name from image @image (metadata @imeta). */
	int (*ctr_create)(struct drv_ctx *ctx, const char *name,
			  const char *image, const struct meta *imeta,
			  struct meta *m);
	int (*ctr_mount)(struct drv_ctx *ctx, const char *name,
			 const struct meta *m, const char *target);
	/* Unmount @target (the container's mount point). */
	int (*ctr_umount)(struct drv_ctx *ctx, const char *name,
			  const struct meta *m, const char *target);
	int (*ctr_remove)(struct drv_ctx *ctx, const char *name,
			  const struct meta *m);
	/*
	 * Bytes a layer (@is_image) or a container uses on its own (what it
	 * added to its parent), or -errno.
	 */
	int64_t (*usage)(struct drv_ctx *ctx, bool is_image, const char *name,
			 const struct meta *m);
	/* Bytes used and in total in the backing store; 0 or -errno. */
	int (*df)(struct drv_ctx *ctx, uint64_t *used, uint64_t *total);
};

struct drv_ctx {
	const struct storage_driver *drv;
	char *root;		/* canonical ROOT */
	char *dir;		/* ROOT/<driver> */
	int lock_fd;
	struct meta config;	/* ROOT/<driver>/config */
	char tag[16];		/* hex hash of dir: names pools uniquely */
};

extern const struct storage_driver drv_cowfs;
extern const struct storage_driver drv_overlay2;
extern const struct storage_driver drv_devicemapper;
extern const struct storage_driver drv_btrfs;
extern const struct storage_driver drv_zfs;

/* All drivers, NULL terminated, in the order 'cowctl driver ls' shows. */
extern const struct storage_driver *const storage_drivers[];

const struct storage_driver *driver_find(const char *name);

/*
 * Common options of the image, container and driver commands.
 * DRV_LONGOPTS go into a command's struct option array and "d:r:" into
 * its short options; driver_opt() takes them.
 */
#define DRV_OPT_DRIVER	'd'
#define DRV_OPT_ROOT	'r'
#define DRV_LONGOPTS						\
	{ "driver", required_argument, NULL, DRV_OPT_DRIVER },	\
	{ "root", required_argument, NULL, DRV_OPT_ROOT }
#define DRV_USAGE_OPTS							\
	"  -d, --driver NAME  storage driver: cowfs (default), overlay2,",\
	"                     devicemapper, btrfs or zfs ($COWCTL_DRIVER)",\
	"  -r, --root DIR     root directory of the drivers' data",	\
	"                     ($COWCTL_ROOT, default " COWCTL_DEFAULT_ROOT ")"

struct drv_args {
	const char *driver;
	const char *root;
};

/* Handle -d/-r: true when @c was one of them. */
bool driver_opt(struct drv_args *a, int c, const char *arg);
const char *drv_args_driver(const struct drv_args *a);
const char *drv_args_root(const struct drv_args *a);

#define CTX_UP		0x1	/* bring the backing store up */
#define CTX_NOCREATE	0x2	/* do not create ROOT/<driver> */

/*
 * Open the driver's context: resolve the driver and root, create
 * ROOT/<driver>/{images,containers,mnt} and take the lock.  With CTX_UP
 * also probe the driver and bring its store up.  0, 1 (CTX_NOCREATE and
 * there is no ROOT/<driver>: nothing to do), or -errno after a message.
 */
int drv_ctx_open(struct drv_ctx *ctx, const struct drv_args *a,
		 unsigned int flags);
int drv_ctx_up(struct drv_ctx *ctx);
void drv_ctx_close(struct drv_ctx *ctx);

/* "ROOT/<driver>/<a>[/<b>]", a new string. */
char *ctx_path(const struct drv_ctx *ctx, const char *a, const char *b);
/* A driver option ('driver up -o KEY=VAL', remembered), or @def. */
const char *ctx_opt(const struct drv_ctx *ctx, const char *key,
		    const char *def);

/* Image and container metadata. */
bool name_valid(const char *what, const char *name);
int image_meta(struct drv_ctx *ctx, const char *name, struct meta *m);
int ctr_meta(struct drv_ctx *ctx, const char *name, struct meta *m);
/* Image names from @name down to its base layer, top first. */
int image_chain(struct drv_ctx *ctx, const char *name, struct strvec *out);
/* Sorted names in ROOT/<driver>/images or containers. */
void list_names(struct drv_ctx *ctx, const char *kind, struct strvec *out);

/* image.c: the options every image/container/driver command takes */
int drv_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *opts, struct drv_args *a, int *ret);
int drv_ls_begin(int argc, char **argv, const char *kind, struct drv_ctx *ctx,
		 struct strvec *names, bool *size, bool *noheadings, int *ret);

/* container.c */
int ctr_remove_one(struct drv_ctx *ctx, const char *name, bool force);
int ctr_umount_all(struct drv_ctx *ctx);
/* Where a container is mounted now ('mountpoint' key if still a mount). */
char *ctr_mountpoint(struct drv_ctx *ctx, const char *name,
		     const struct meta *m);

/* Print "<driver> driver: <message>" to stderr. */
void drv_err(const struct drv_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- helpers for the drivers (drvutil.c) ---- */

/* Full path of the program @prog in $PATH or the sbin directories. */
char *find_prog(const char *prog);
/*
 * Check that @prog exists; if not, write "<what>: <prog> not found:
 * install <pkg>" into @why and return -ENOENT.
 */
int need_prog(const char *prog, const char *pkg, char *why, size_t len);

#define RUN_QUIET	0x1	/* do not print the command's stderr */
#define RUN_STDOUT	0x2	/* let stdout through (default: captured) */

/*
 * Run argv (NULL terminated) and wait.  stdout is captured into @out
 * (when non-NULL, a new string), stderr is captured and, when the command
 * fails, printed after "<driver> driver: <prog> failed".  Returns the exit
 * status (0 success), or -errno when it could not run.
 */
int run_cmd(const struct drv_ctx *ctx, const char *const *argv,
	    unsigned int flags, char **out);
#define RUN(ctx, flags, out, ...)					\
	run_cmd(ctx, (const char *const[]){ __VA_ARGS__, NULL }, flags, out)

int mkdir_p(const char *path, unsigned int mode);
/* rm -rf, without crossing into other filesystems; 0 or -errno. */
int rm_rf(const char *path);
/* Bytes allocated under @path (hard links counted once), or -errno. */
int64_t du_bytes(const char *path);
/* Is @path a mount point (of @fstype when non-NULL)? */
bool is_mounted(const char *path, const char *fstype);
/*
 * modprobe each module of the NULL terminated @mods that /sys/module does
 * not list (names as there: "dm_thin_pool").  0, or -ENODEV after a
 * message.
 */
int need_modules(const struct drv_ctx *ctx, const char *const *mods);
/* Create a sparse file of @size bytes if it does not exist. */
int make_sparse(const char *path, uint64_t size);
/* "10G", "512M", "4096" -> bytes; false when it does not parse. */
bool parse_size(const char *s, uint64_t *out);
/* The filesystem type of @path as statfs names it ("ext4", "xfs"...). */
const char *fs_name(const char *path);

/*
 * Attach @file to a free loop device, "/dev/loopN" in @dev.  The device
 * is autocleared: it goes away when its last user (a mount, a dm table, a
 * zpool) lets go of it; cowctl keeps it open until it exits.  @partscan
 * asks the kernel to scan it for partitions.
 */
int loop_attach(const char *file, bool partscan, char *dev, size_t len);
/* The loop device backed by @file, or -ENOENT. */
int loop_find(const char *file, char *dev, size_t len);
/* loop_find(), else loop_attach(): 0, or -errno after a message. */
int loop_get(const struct drv_ctx *ctx, const char *file, bool partscan,
	     char *dev, size_t len);
/*
 * A backing store in a file: @img, a sparse file of option size= bytes
 * (@def_size when not given; made anew when @fresh), on a loop device
 * ("/dev/loopN" in @dev).  0, or -errno after a message.
 */
int loop_image(const struct drv_ctx *ctx, const char *img,
	       const char *def_size, bool fresh, bool partscan,
	       char *dev, size_t len);
int loop_detach(const char *dev);

/* Layer content import (import.c). */
enum wh_mode {
	WH_OVERLAY,	/* .wh.X -> char device 0/0 X; .wh..wh..opq -> xattr */
	WH_APPLY,	/* apply to a snapshot of the parent: delete X */
};

/*
 * Unpack @src into the directory @dir, converting OCI whiteouts per
 * @mode.  WH_OVERLAY: @dir is empty and becomes the layer as is.
 * WH_APPLY: @dir holds a copy of the parent layer; the content is
 * unpacked into a staging directory inside @dir, then whiteouts delete
 * entries and the rest is moved over (a directory replaces a non-directory
 * and the other way round; an opaque directory loses all lower entries).
 */
int layer_unpack(const struct drv_ctx *ctx, const struct layer_src *src,
		 const char *dir, enum wh_mode mode);

/* Command groups (image.c, container.c, drivercmd.c). */
int cmd_image(int argc, char **argv);
int cmd_container(int argc, char **argv);
int cmd_driver(int argc, char **argv);
extern const char *const image_usage[];
extern const char *const container_usage[];
extern const char *const driver_usage[];
/* The "Storage Driver" part of 'cowctl info' (drivercmd.c). */
void print_storage_info(void);

#endif /* COWCTL_DRIVER_H */
