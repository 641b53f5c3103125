// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: the zfs storage driver.
 *
 * A pool named cowctl-TAG on a sparse file on a loop device (ROOT/zfs/
 * pool.img; or a block device given with -o device=DEV), made with
 * cachefile=none so nothing is written outside ROOT:
 *
 *	POOL/layers/IMAGE	a dataset: a clone of POOL/layers/PARENT@layer
 *				(created empty for a base layer) with the
 *				layer applied, then snapshotted as @layer
 *	POOL/containers/NAME	a clone of POOL/layers/IMAGE@layer
 *
 * Datasets have mountpoint=legacy and are mounted with mount(2).  The
 * driver runs the zfs and zpool programs of zfsutils-linux.  When the zfs
 * module is not loaded it is loaded with modprobe, or else from the cache
 * that scripts/deps-zfs.sh fills (/var/cache/cowfs/zfs-KVER/, or
 * $COWCTL_ZFS_MODULES): the kernel modules it needs, then spl.ko and
 * zfs.ko.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "utils.h"

#define ZFS_DEFAULT_SIZE	"8G"
#define ZFS_SNAP		"layer"

static const char *const zfs_opts[] = {
	"size=SIZE          pool file size, sparse (default " ZFS_DEFAULT_SIZE ")",
	"device=DEV         make the pool on block device DEV (wiped)",
	NULL,
};

static void module_cache(char *buf, size_t len)
{
	const char *env = getenv("COWCTL_ZFS_MODULES");
	struct utsname u;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	snprintf(buf, len, "/var/cache/cowfs/zfs-%s", u.release);
}

static bool module_loaded(void)
{
	return access("/sys/module/zfs", F_OK) == 0;
}

static int zfs_probe(char *why, size_t len)
{
	char cache[512], ko[600];

	if (need_prog("zfs", "zfsutils-linux (bookworm-backports contrib; scripts/deps-zfs.sh)",
		      why, len) ||
	    need_prog("zpool", "zfsutils-linux (bookworm-backports contrib; scripts/deps-zfs.sh)",
		      why, len))
		return -ENOENT;
	if (module_loaded())
		return 0;
	module_cache(cache, sizeof(cache));
	snprintf(ko, sizeof(ko), "%s/zfs.ko", cache);
	if (access(ko, R_OK) == 0)
		return 0;
	{
		struct utsname u;
		char path[600];

		uname(&u);
		snprintf(path, sizeof(path), "/lib/modules/%s/updates/dkms",
			 u.release);
		if (access(path, F_OK) == 0)
			return 0;	/* modprobe may find it there */
		snprintf(why, len, "the zfs kernel module is not loaded and none is built for %s (no %s): build it on the host with scripts/deps-zfs.sh (make deps)",
			 u.release, ko);
	}
	return -ENODEV;
}

/* Load spl and zfs: modprobe, else insmod from the deps-zfs.sh cache. */
static int load_module(struct drv_ctx *ctx)
{
	char cache[512], path[700], line[128];
	FILE *f;

	if (module_loaded())
		return 0;
	if (!RUN(ctx, RUN_QUIET, NULL, "modprobe", "zfs") && module_loaded())
		return 0;
	module_cache(cache, sizeof(cache));
	snprintf(path, sizeof(path), "%s/kernel-deps", cache);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			RUN(ctx, 0, NULL, "modprobe", line);
	}
	if (f)
		fclose(f);
	if (access("/sys/module/spl", F_OK) < 0) {
		snprintf(path, sizeof(path), "%s/spl.ko", cache);
		if (RUN(ctx, 0, NULL, "insmod", path))
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/zfs.ko", cache);
	if (RUN(ctx, 0, NULL, "insmod", path))
		goto fail;
	return 0;
fail:
	drv_err(ctx, "cannot load the zfs module from %s: is it built for this kernel? (scripts/deps-zfs.sh)",
		cache);
	return -ENODEV;
}

static void pool_name(const struct drv_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "cowctl-%s", ctx->tag);
}

/* "POOL/KIND/NAME[@layer]" */
static void ds_name(const struct drv_ctx *ctx, const char *kind,
		    const char *name, bool snap, char *buf, size_t len)
{
	char pool[64];

	pool_name(ctx, pool, sizeof(pool));
	snprintf(buf, len, "%s/%s/%s%s", pool, kind, name,
		 snap ? "@" ZFS_SNAP : "");
}

static bool zfs_is_up(struct drv_ctx *ctx)
{
	char pool[64], path[128];

	if (!module_loaded())
		return false;
	pool_name(ctx, pool, sizeof(pool));
	snprintf(path, sizeof(path), "/proc/spl/kstat/zfs/%s", pool);
	return access(path, F_OK) == 0;
}

static int zfs_up(struct drv_ctx *ctx)
{
	char *img = ctx_path(ctx, "pool.img", NULL);
	char *state = ctx_path(ctx, "state", NULL);
	const char *device = ctx_opt(ctx, "device", NULL);
	bool fresh = access(state, F_OK) < 0;
	char dev[64], pool[64], sub[128];
	int ret;

	ret = load_module(ctx);
	if (ret)
		goto out;
	pool_name(ctx, pool, sizeof(pool));
	if (!device) {
		ret = need_modules(ctx, (const char *const[]){ "loop", NULL });
		if (ret)
			goto out;
	}
	if (device) {
		snprintf(dev, sizeof(dev), "%s", device);
	} else {
		ret = loop_image(ctx, img, ZFS_DEFAULT_SIZE, fresh, true, dev,
				 sizeof(dev));
		if (ret)
			goto out;
	}
	if (!fresh) {
		ret = RUN(ctx, 0, NULL, "zpool", "import", "-d", dev, "-o",
			  "cachefile=none", "-N", pool) ? -EIO : 0;
		goto out;
	}
	if (RUN(ctx, 0, NULL, "zpool", "create", "-f", "-o", "cachefile=none",
		"-O", "mountpoint=none", "-O", "atime=off", "-O",
		"compression=off", pool, dev)) {
		ret = -EIO;
		goto out;
	}
	for (const char *const *k = (const char *const[]){ "layers",
	     "containers", NULL }; *k && !ret; k++) {
		snprintf(sub, sizeof(sub), "%s/%s", pool, *k);
		if (RUN(ctx, 0, NULL, "zfs", "create", "-o", "mountpoint=none",
			sub))
			ret = -EIO;
	}
	if (!ret)
		ret = make_sparse(state, 0);
	if (ret)
		RUN(ctx, RUN_QUIET, NULL, "zpool", "destroy", "-f", pool);
out:
	free(img);
	free(state);
	return ret;
}

static int zfs_down(struct drv_ctx *ctx)
{
	char pool[64], *mnt = ctx_path(ctx, "mnt", ".layer");
	int ret = 0;

	if (is_mounted(mnt, "zfs"))
		umount2(mnt, MNT_DETACH);
	free(mnt);
	pool_name(ctx, pool, sizeof(pool));
	if (zfs_is_up(ctx) && RUN(ctx, 0, NULL, "zpool", "export", pool))
		ret = -EBUSY;
	return ret;
}

static int zfs_destroy(struct drv_ctx *ctx)
{
	const char *files[] = { "pool.img", "state", NULL };
	const char *device = ctx_opt(ctx, "device", NULL);

	if (device)
		RUN(ctx, RUN_QUIET, NULL, "zpool", "labelclear", "-f", device);
	for (const char **f = files; *f; f++) {
		char *p = ctx_path(ctx, *f, NULL);

		unlink(p);
		free(p);
	}
	return 0;
}

static void zfs_status(struct drv_ctx *ctx)
{
	char pool[64], *out = NULL;
	bool up = zfs_is_up(ctx);

	pool_name(ctx, pool, sizeof(pool));
	print_string(PRINT_ANY, "zpool", " Zpool: %s\n", pool);
	print_bool(PRINT_ANY, "module_loaded", " Module Loaded: %s\n",
		   module_loaded());
	if (up && !RUN(ctx, RUN_QUIET, &out, "zpool", "list", "-H", "-o",
		       "health", pool)) {
		out[strcspn(out, "\n")] = '\0';
		print_string(PRINT_ANY, "zpool_health", " Zpool Health: %s\n",
			     out);
	}
	free(out);
	out = NULL;
	if (up && !RUN(ctx, RUN_QUIET, &out, "zfs", "version")) {
		char *nl = strchr(out, '\n');

		if (nl)
			*nl = '\0';
		print_string(PRINT_ANY, "zfs_version", " ZFS Version: %s\n",
			     out);
	}
	free(out);
	print_string(PRINT_ANY, "backing_filesystem", " Backing Filesystem: %s\n",
		     "zfs");
}

static int zfs_layer_create(struct drv_ctx *ctx, const char *name,
			    const char *parent, const struct meta *pmeta,
			    const struct layer_src *src, struct meta *m)
{
	char ds[256], origin[256], snap[256];
	char *mnt = ctx_path(ctx, "mnt", ".layer");
	int ret;

	(void)pmeta;
	(void)m;
	ds_name(ctx, "layers", name, false, ds, sizeof(ds));
	ds_name(ctx, "layers", name, true, snap, sizeof(snap));
	RUN(ctx, RUN_QUIET, NULL, "zfs", "destroy", "-r", ds);
	if (parent) {
		ds_name(ctx, "layers", parent, true, origin, sizeof(origin));
		ret = RUN(ctx, 0, NULL, "zfs", "clone", "-o", "mountpoint=legacy",
			  origin, ds);
	} else {
		ret = RUN(ctx, 0, NULL, "zfs", "create", "-o", "mountpoint=legacy",
			  ds);
	}
	if (ret) {
		free(mnt);
		return -EIO;
	}
	rm_rf(mnt);
	mkdir(mnt, 0700);
	if (mount(ds, mnt, "zfs", 0, NULL) < 0) {
		ret = -errno;
		drv_err(ctx, "cannot mount %s on %s: %s", ds, mnt,
			strerror(errno));
	} else {
		ret = layer_unpack(ctx, src, mnt, WH_APPLY);
		if (umount2(mnt, 0) < 0 && !ret) {
			ret = -errno;
			drv_err(ctx, "cannot unmount %s: %s", mnt,
				strerror(errno));
		}
	}
	rmdir(mnt);
	free(mnt);
	if (!ret && RUN(ctx, 0, NULL, "zfs", "snapshot", snap))
		ret = -EIO;
	if (ret)
		RUN(ctx, RUN_QUIET, NULL, "zfs", "destroy", "-r", ds);
	return ret;
}

static int zfs_layer_remove(struct drv_ctx *ctx, const char *name,
			    const struct meta *m)
{
	char ds[256];

	(void)m;
	ds_name(ctx, "layers", name, false, ds, sizeof(ds));
	return RUN(ctx, 0, NULL, "zfs", "destroy", "-r", ds) ? -EIO : 0;
}

static int zfs_ctr_create(struct drv_ctx *ctx, const char *name,
			  const char *image, const struct meta *imeta,
			  struct meta *m)
{
	char ds[256], origin[256];

	(void)imeta;
	(void)m;
	ds_name(ctx, "containers", name, false, ds, sizeof(ds));
	ds_name(ctx, "layers", image, true, origin, sizeof(origin));
	return RUN(ctx, 0, NULL, "zfs", "clone", "-o", "mountpoint=legacy",
		   origin, ds) ? -EIO : 0;
}

static int zfs_ctr_mount(struct drv_ctx *ctx, const char *name,
			 const struct meta *m, const char *target)
{
	char ds[256];

	(void)m;
	ds_name(ctx, "containers", name, false, ds, sizeof(ds));
	if (mount(ds, target, "zfs", 0, NULL) < 0) {
		int ret = -errno;

		drv_err(ctx, "cannot mount %s on '%s': %s", ds,
			msg_path(target), strerror(errno));
		return ret;
	}
	return 0;
}

static int zfs_ctr_umount(struct drv_ctx *ctx, const char *name,
			  const struct meta *m, const char *target)
{
	(void)m;
	if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
		int ret = -errno;

		drv_err(ctx, "cannot unmount container '%s' from '%s': %s",
			name, msg_path(target), strerror(errno));
		return ret;
	}
	return 0;
}

static int zfs_ctr_remove(struct drv_ctx *ctx, const char *name,
			  const struct meta *m)
{
	char ds[256];

	(void)m;
	ds_name(ctx, "containers", name, false, ds, sizeof(ds));
	return RUN(ctx, 0, NULL, "zfs", "destroy", "-r", ds) ? -EIO : 0;
}

static int64_t zfs_usage(struct drv_ctx *ctx, bool is_image, const char *name,
			 const struct meta *m)
{
	char ds[256], *out = NULL;
	int64_t ret = -EIO;

	(void)m;
	ds_name(ctx, is_image ? "layers" : "containers", name, false, ds,
		sizeof(ds));
	/* "used": what the dataset and its snapshots hold on their own */
	if (!RUN(ctx, 0, &out, "zfs", "get", "-Hp", "-o", "value", "used", ds))
		ret = strtoll(out, NULL, 10);
	free(out);
	return ret;
}

static int zfs_df(struct drv_ctx *ctx, uint64_t *used, uint64_t *total)
{
	char pool[64], *out = NULL;
	unsigned long long a, s;
	int ret = -EIO;

	pool_name(ctx, pool, sizeof(pool));
	RUN(ctx, RUN_QUIET, NULL, "zpool", "sync", pool);
	if (!RUN(ctx, 0, &out, "zpool", "list", "-Hp", "-o", "allocated,size",
		 pool) && sscanf(out, "%llu %llu", &a, &s) == 2) {
		*used = a;
		*total = s;
		ret = 0;
	}
	free(out);
	return ret;
}

const struct storage_driver drv_zfs = {
	.name = "zfs",
	.summary = "ZFS pool, datasets per layer, clones per container",
	.opts_help = zfs_opts,
	.probe = zfs_probe,
	.is_up = zfs_is_up,
	.up = zfs_up,
	.down = zfs_down,
	.destroy = zfs_destroy,
	.status = zfs_status,
	.layer_create = zfs_layer_create,
	.layer_remove = zfs_layer_remove,
	.ctr_create = zfs_ctr_create,
	.ctr_mount = zfs_ctr_mount,
	.ctr_umount = zfs_ctr_umount,
	.ctr_remove = zfs_ctr_remove,
	.usage = zfs_usage,
	.df = zfs_df,
};
