// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: the devicemapper storage driver.
 *
 * A dm-thin pool, on two sparse files on loop devices (ROOT/devicemapper/
 * data.img and metadata.img) or on block devices given with
 * 'cowctl driver up -d devicemapper -o datadev=DEV -o metadatadev=DEV'.
 * Thin device 0 is the base: an empty ext4 (or xfs: -o fs=xfs) filesystem
 * of basesize.  Every layer is a thin snapshot of its parent's device (of
 * the base for a base layer) with the layer applied, and a container a
 * thin snapshot of its image's device.  A device is active (a dm table)
 * only while it is mounted, so snapshots never need their origin
 * suspended.
 *
 * dm names: cowctl-TAG-pool, and cowctl-TAG-ID for thin device ID, where
 * TAG is a hash of ROOT/devicemapper.  The pool is driven with dmsetup.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "utils.h"

#define DM_BLOCK_SECTORS	128		/* 64 KiB pool blocks */
#define DM_DEFAULT_SIZE		"8G"
#define DM_DEFAULT_METASIZE	"128M"
#define DM_DEFAULT_BASESIZE	"2G"

static const char *const dm_opts[] = {
	"size=SIZE          data file size, sparse (default " DM_DEFAULT_SIZE ")",
	"metasize=SIZE      metadata file size (default " DM_DEFAULT_METASIZE ")",
	"basesize=SIZE      size of every thin device (default " DM_DEFAULT_BASESIZE ")",
	"fs=ext4|xfs        filesystem of the thin devices (default ext4)",
	"datadev=DEV        use block device DEV for the pool's data",
	"metadatadev=DEV    and DEV for its metadata (needs datadev; wiped)",
	NULL,
};

static void dm_name(const struct drv_ctx *ctx, const char *what, char *buf,
		    size_t len)
{
	snprintf(buf, len, "cowctl-%s-%s", ctx->tag, what);
}

/* Is there a dm device called @name?  (sysfs: no exec, no udev needed) */
static bool dm_exists(const char *name)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		char path[300], buf[256];
		FILE *f;

		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			found = !strcmp(buf, name);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

static const char *dm_fs(const struct drv_ctx *ctx)
{
	return ctx_opt(ctx, "fs", "ext4");
}

static uint64_t opt_size(const struct drv_ctx *ctx, const char *key,
			 const char *def)
{
	uint64_t v;

	if (!parse_size(ctx_opt(ctx, key, def), &v))
		parse_size(def, &v);
	return v;
}

static int dm_probe(char *why, size_t len)
{
	if (need_prog("dmsetup", "dmsetup", why, len) ||
	    need_prog("mkfs.ext4", "e2fsprogs", why, len))
		return -ENOENT;
	if (access("/sys/module/dm_thin_pool", F_OK) < 0 &&
	    need_prog("modprobe", "kmod", why, len))
		return -ENOENT;
	return 0;
}

static bool dm_is_up(struct drv_ctx *ctx)
{
	char pool[64];

	dm_name(ctx, "pool", pool, sizeof(pool));
	return dm_exists(pool);
}

/* Thin device @id's dm name and /dev/mapper path. */
static void thin_names(const struct drv_ctx *ctx, const char *id, char *name,
		       size_t nlen, char *dev, size_t dlen)
{
	dm_name(ctx, id, name, nlen);
	snprintf(dev, dlen, "/dev/mapper/%s", name);
}

static int pool_msg(struct drv_ctx *ctx, const char *fmt, const char *a,
		    const char *b)
{
	char pool[64], msg[128];

	dm_name(ctx, "pool", pool, sizeof(pool));
	snprintf(msg, sizeof(msg), fmt, a, b);
	return RUN(ctx, 0, NULL, "dmsetup", "message", pool, "0", msg) ? -EIO : 0;
}

/* Activate thin device @id; its /dev/mapper path goes to @dev. */
static int thin_activate(struct drv_ctx *ctx, const char *id, char *dev,
			 size_t dlen)
{
	char name[64], pool[64], table[256];
	uint64_t size = opt_size(ctx, "basesize", DM_DEFAULT_BASESIZE);

	thin_names(ctx, id, name, sizeof(name), dev, dlen);
	if (dm_exists(name))
		return 0;
	dm_name(ctx, "pool", pool, sizeof(pool));
	snprintf(table, sizeof(table), "0 %" PRIu64 " thin /dev/mapper/%s %s",
		 size / 512, pool, id);
	if (RUN(ctx, 0, NULL, "dmsetup", "create", name, "--table", table))
		return -EIO;
	if (access(dev, F_OK) < 0) {
		/* No udev to make the node: have dmsetup make it. */
		RUN(ctx, RUN_QUIET, NULL, "dmsetup", "mknodes", name);
	}
	return 0;
}

static int thin_deactivate(struct drv_ctx *ctx, const char *id)
{
	char name[64], dev[96];

	thin_names(ctx, id, name, sizeof(name), dev, sizeof(dev));
	if (!dm_exists(name))
		return 0;
	return RUN(ctx, 0, NULL, "dmsetup", "remove", "--retry", name) ? -EIO : 0;
}

static int thin_mount(struct drv_ctx *ctx, const char *id, const char *target)
{
	char dev[96];
	const char *fs = dm_fs(ctx);
	int ret = thin_activate(ctx, id, dev, sizeof(dev));

	if (ret)
		return ret;
	if (mount(dev, target, fs, 0, !strcmp(fs, "xfs") ? "nouuid" : "") < 0) {
		ret = -errno;
		drv_err(ctx, "cannot mount %s (%s) on '%s': %s", dev, fs,
			msg_path(target), strerror(errno));
		thin_deactivate(ctx, id);
		return ret;
	}
	return 0;
}

static int thin_umount(struct drv_ctx *ctx, const char *id, const char *target)
{
	if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
		int ret = -errno;

		drv_err(ctx, "cannot unmount '%s': %s", msg_path(target),
			strerror(errno));
		return ret;
	}
	return thin_deactivate(ctx, id);
}

/* Allocate the next thin device id (ROOT/devicemapper/state). */
static int next_id(struct drv_ctx *ctx, char *buf, size_t len)
{
	struct meta st = META_INIT;
	char *path = ctx_path(ctx, "state", NULL);
	const char *v;
	unsigned long id;
	int ret;

	meta_load(&st, path);
	v = meta_get(&st, "next_id");
	id = v ? strtoul(v, NULL, 10) : 1;
	snprintf(buf, len, "%lu", id);
	meta_setf(&st, "next_id", "%lu", id + 1);
	ret = meta_save(&st, path);
	if (ret)
		drv_err(ctx, "cannot write %s: %s", path, strerror(-ret));
	meta_free(&st);
	free(path);
	return ret;
}

static int dev_sectors(struct drv_ctx *ctx, const char *dev, uint64_t *out)
{
	char *s = NULL;
	int ret = RUN(ctx, 0, &s, "blockdev", "--getsz", dev);

	if (!ret)
		*out = strtoull(s, NULL, 10);
	free(s);
	return ret ? -EIO : 0;
}

static int dm_up(struct drv_ctx *ctx)
{
	char *data = ctx_path(ctx, "data.img", NULL);
	char *meta = ctx_path(ctx, "metadata.img", NULL);
	char *state = ctx_path(ctx, "state", NULL);
	const char *datadev = ctx_opt(ctx, "datadev", NULL);
	const char *metadev = ctx_opt(ctx, "metadatadev", NULL);
	char ddev[64], mdev[64], pool[64], table[512], base[96];
	bool fresh = access(state, F_OK) < 0;
	uint64_t sectors;
	int ret;

	/* Loaded by name: module autoloading may not reach them (a chroot). */
	ret = need_modules(ctx, (const char *const[]){ "dm_thin_pool", dm_fs(ctx),
			   datadev ? NULL : "loop", NULL });
	if (ret)
		goto out;
	if (!!datadev != !!metadev) {
		drv_err(ctx, "give both datadev= and metadatadev=, or neither");
		ret = -EINVAL;
		goto out;
	}
	if (datadev) {
		snprintf(ddev, sizeof(ddev), "%s", datadev);
		snprintf(mdev, sizeof(mdev), "%s", metadev);
	} else {
		if (fresh) {
			unlink(data);
			unlink(meta);
		}
		ret = make_sparse(data, opt_size(ctx, "size", DM_DEFAULT_SIZE));
		if (!ret)
			ret = make_sparse(meta, opt_size(ctx, "metasize",
							 DM_DEFAULT_METASIZE));
		if (ret) {
			drv_err(ctx, "cannot create the pool files in %s: %s",
				ctx->dir, strerror(-ret));
			goto out;
		}
		ret = loop_get(ctx, data, false, ddev, sizeof(ddev)) ?:
		      loop_get(ctx, meta, false, mdev, sizeof(mdev));
		if (ret)
			goto out;
	}
	if (fresh) {
		/* A zeroed superblock makes dm-thin format the metadata. */
		int fd = open(mdev, O_WRONLY | O_CLOEXEC);
		char zero[4096] = { 0 };

		if (fd < 0 || pwrite(fd, zero, sizeof(zero), 0) != sizeof(zero)) {
			ret = -errno;
			drv_err(ctx, "cannot wipe the metadata device %s: %s",
				mdev, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		fsync(fd);
		close(fd);
	}
	ret = dev_sectors(ctx, ddev, &sectors);
	if (ret)
		goto out;
	dm_name(ctx, "pool", pool, sizeof(pool));
	/* low water mark: 1% of the blocks; no zeroing of new blocks */
	snprintf(table, sizeof(table),
		 "0 %" PRIu64 " thin-pool %s %s %d %" PRIu64 " 1 skip_block_zeroing",
		 sectors / DM_BLOCK_SECTORS * DM_BLOCK_SECTORS, mdev, ddev,
		 DM_BLOCK_SECTORS, sectors / DM_BLOCK_SECTORS / 100 + 1);
	if (RUN(ctx, 0, NULL, "dmsetup", "create", pool, "--table", table)) {
		ret = -EIO;
		goto out;
	}
	if (access("/dev/mapper/control", F_OK) == 0) {
		char p[96];

		snprintf(p, sizeof(p), "/dev/mapper/%s", pool);
		if (access(p, F_OK) < 0)
			RUN(ctx, RUN_QUIET, NULL, "dmsetup", "mknodes", pool);
	}
	if (!fresh)
		goto out;

	/* The base device: thin id 0 with an empty filesystem. */
	ret = pool_msg(ctx, "create_thin %s%s", "0", "");
	if (!ret)
		ret = thin_activate(ctx, "0", base, sizeof(base));
	if (!ret) {
		if (!strcmp(dm_fs(ctx), "xfs"))
			ret = RUN(ctx, 0, NULL, "mkfs.xfs", "-q", "-f", "-K", base);
		else
			ret = RUN(ctx, 0, NULL, "mkfs.ext4", "-q", "-F", "-E",
				  "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
				  base);
		if (ret)
			ret = -EIO;
		thin_deactivate(ctx, "0");
	}
	if (!ret) {
		struct meta st = META_INIT;

		meta_set(&st, "next_id", "1");
		meta_set(&st, "fs", dm_fs(ctx));
		ret = meta_save(&st, state);
		meta_free(&st);
	}
	if (ret) {
		RUN(ctx, RUN_QUIET, NULL, "dmsetup", "remove", pool);
		unlink(state);
	}
out:
	free(data);
	free(meta);
	free(state);
	return ret;
}

static int dm_down(struct drv_ctx *ctx)
{
	char pool[64], prefix[64];
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	int ret = 0;

	dm_name(ctx, "", prefix, sizeof(prefix));
	/* Leftover thin devices of this pool (a layer being built...). */
	while (d && (e = readdir(d))) {
		char path[300], buf[256];
		FILE *f;

		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			if (!strncmp(buf, prefix, strlen(prefix)) &&
			    strcmp(buf + strlen(prefix), "pool") &&
			    RUN(ctx, 0, NULL, "dmsetup", "remove", "--retry", buf))
				ret = -EBUSY;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	dm_name(ctx, "pool", pool, sizeof(pool));
	if (!ret && dm_exists(pool) &&
	    RUN(ctx, 0, NULL, "dmsetup", "remove", "--retry", pool))
		ret = -EBUSY;
	return ret;
}

static int dm_destroy(struct drv_ctx *ctx)
{
	const char *files[] = { "data.img", "metadata.img", "state", NULL };

	for (const char **f = files; *f; f++) {
		char *p = ctx_path(ctx, *f, NULL);

		unlink(p);
		free(p);
	}
	return 0;
}

/* "TRANSID USEDMETA/TOTALMETA USEDDATA/TOTALDATA ..." of the pool. */
static int pool_status(struct drv_ctx *ctx, uint64_t *used, uint64_t *total,
		       uint64_t *mused, uint64_t *mtotal)
{
	char pool[64], *out = NULL;
	unsigned long long s, l, tid, mu, mt, du, dt;
	int ret;

	dm_name(ctx, "pool", pool, sizeof(pool));
	ret = RUN(ctx, 0, &out, "dmsetup", "status", pool);
	if (!ret && sscanf(out, "%llu %llu thin-pool %llu %llu/%llu %llu/%llu",
			   &s, &l, &tid, &mu, &mt, &du, &dt) == 7) {
		*used = du * DM_BLOCK_SECTORS * 512;
		*total = dt * DM_BLOCK_SECTORS * 512;
		*mused = mu * 4096;
		*mtotal = mt * 4096;
	} else {
		ret = -EIO;
	}
	free(out);
	return ret;
}

static void dm_status(struct drv_ctx *ctx)
{
	char pool[64];
	uint64_t u, t, mu, mt;
	bool up = dm_is_up(ctx);

	dm_name(ctx, "pool", pool, sizeof(pool));
	print_string(PRINT_ANY, "pool_name", " Pool Name: %s\n", pool);
	print_uint(PRINT_ANY, "pool_blocksize", " Pool Blocksize: %u\n",
		   DM_BLOCK_SECTORS * 512);
	print_string(PRINT_ANY, "base_device_size", " Base Device Size: %s\n",
		     ctx_opt(ctx, "basesize", DM_DEFAULT_BASESIZE));
	print_string(PRINT_ANY, "backing_filesystem", " Backing Filesystem: %s\n",
		     !strcmp(dm_fs(ctx), "ext4") ? "extfs" : dm_fs(ctx));
	print_string(PRINT_ANY, "data_file", " Data file: %s\n",
		     ctx_opt(ctx, "datadev", "data.img (loop)"));
	print_string(PRINT_ANY, "metadata_file", " Metadata file: %s\n",
		     ctx_opt(ctx, "metadatadev", "metadata.img (loop)"));
	if (up && !pool_status(ctx, &u, &t, &mu, &mt)) {
		print_u64(PRINT_ANY, "data_space_used", " Data Space Used: %" PRIu64 " bytes\n", u);
		print_u64(PRINT_ANY, "data_space_total", " Data Space Total: %" PRIu64 " bytes\n", t);
		print_u64(PRINT_ANY, "metadata_space_used", " Metadata Space Used: %" PRIu64 " bytes\n", mu);
		print_u64(PRINT_ANY, "metadata_space_total", " Metadata Space Total: %" PRIu64 " bytes\n", mt);
	}
	print_bool(PRINT_ANY, "udev_sync_supported", " Udev Sync Supported: %s\n",
		   access("/run/udev/control", F_OK) == 0);
}

static int dm_layer_create(struct drv_ctx *ctx, const char *name,
			   const char *parent, const struct meta *pmeta,
			   const struct layer_src *src, struct meta *m)
{
	const char *origin = parent ? meta_get(pmeta, "thin_id") : "0";
	char id[32], *mnt;
	int ret;

	if (!origin) {
		drv_err(ctx, "image '%s' has no thin device id", parent);
		return -EINVAL;
	}
	ret = next_id(ctx, id, sizeof(id));
	if (ret)
		return ret;
	ret = pool_msg(ctx, "create_snap %s %s", id, origin);
	if (ret)
		return ret;
	mnt = ctx_path(ctx, "mnt", ".layer");
	rm_rf(mnt);
	mkdir(mnt, 0700);
	ret = thin_mount(ctx, id, mnt);
	if (!ret) {
		ret = layer_unpack(ctx, src, mnt, WH_APPLY);
		if (thin_umount(ctx, id, mnt) && !ret)
			ret = -EIO;
	}
	rmdir(mnt);
	free(mnt);
	if (ret) {
		pool_msg(ctx, "delete %s%s", id, "");
		return ret;
	}
	meta_set(m, "thin_id", id);
	(void)name;
	return 0;
}

static int dm_delete(struct drv_ctx *ctx, const struct meta *m)
{
	const char *id = meta_get(m, "thin_id");
	int ret;

	if (!id)
		return 0;
	ret = thin_deactivate(ctx, id);
	return ret ? ret : pool_msg(ctx, "delete %s%s", id, "");
}

static int dm_layer_remove(struct drv_ctx *ctx, const char *name,
			   const struct meta *m)
{
	(void)name;
	return dm_delete(ctx, m);
}

static int dm_ctr_create(struct drv_ctx *ctx, const char *name,
			 const char *image, const struct meta *imeta,
			 struct meta *m)
{
	const char *origin = meta_get(imeta, "thin_id");
	char id[32];
	int ret;

	(void)name;
	if (!origin) {
		drv_err(ctx, "image '%s' has no thin device id", image);
		return -EINVAL;
	}
	ret = next_id(ctx, id, sizeof(id));
	if (!ret)
		ret = pool_msg(ctx, "create_snap %s %s", id, origin);
	if (!ret)
		meta_set(m, "thin_id", id);
	return ret;
}

static int dm_ctr_mount(struct drv_ctx *ctx, const char *name,
			const struct meta *m, const char *target)
{
	(void)name;
	return thin_mount(ctx, meta_get(m, "thin_id"), target);
}

static int dm_ctr_umount(struct drv_ctx *ctx, const char *name,
			 const struct meta *m, const char *target)
{
	(void)name;
	return thin_umount(ctx, meta_get(m, "thin_id"), target);
}

static int dm_ctr_remove(struct drv_ctx *ctx, const char *name,
			 const struct meta *m)
{
	(void)name;
	return dm_delete(ctx, m);
}

/* Mapped bytes of thin device @id (activated for the look if need be). */
static int64_t thin_mapped(struct drv_ctx *ctx, const char *id)
{
	char name[64], dev[96], *out = NULL;
	unsigned long long s, l, mapped;
	bool was = false;
	int64_t ret = -EIO;

	thin_names(ctx, id, name, sizeof(name), dev, sizeof(dev));
	was = dm_exists(name);
	if (!was && thin_activate(ctx, id, dev, sizeof(dev)))
		return -EIO;
	if (!RUN(ctx, 0, &out, "dmsetup", "status", name) &&
	    sscanf(out, "%llu %llu thin %llu", &s, &l, &mapped) == 3)
		ret = (int64_t)mapped * 512;
	free(out);
	if (!was)
		thin_deactivate(ctx, id);
	return ret;
}

static int64_t dm_usage(struct drv_ctx *ctx, bool is_image, const char *name,
			const struct meta *m)
{
	const char *id = meta_get(m, "thin_id");
	const char *parent = meta_get(m, is_image ? "parent" : "image");
	int64_t own, below = 0;

	(void)name;
	if (!id)
		return -EINVAL;
	own = thin_mapped(ctx, id);
	if (own < 0)
		return own;
	/* What it maps beyond its parent's (or image's) device. */
	if (parent && *parent) {
		struct meta pm = META_INIT;

		if (!image_meta(ctx, parent, &pm) && meta_get(&pm, "thin_id"))
			below = thin_mapped(ctx, meta_get(&pm, "thin_id"));
		meta_free(&pm);
	} else {
		below = thin_mapped(ctx, "0");
	}
	return below > 0 && below < own ? own - below : below > 0 ? 0 : own;
}

static int dm_df(struct drv_ctx *ctx, uint64_t *used, uint64_t *total)
{
	uint64_t mu, mt;

	return pool_status(ctx, used, total, &mu, &mt);
}

const struct storage_driver drv_devicemapper = {
	.name = "devicemapper",
	.summary = "dm-thin pool, a thin snapshot per layer (ext4 or xfs)",
	.opts_help = dm_opts,
	.probe = dm_probe,
	.is_up = dm_is_up,
	.up = dm_up,
	.down = dm_down,
	.destroy = dm_destroy,
	.status = dm_status,
	.layer_create = dm_layer_create,
	.layer_remove = dm_layer_remove,
	.ctr_create = dm_ctr_create,
	.ctr_mount = dm_ctr_mount,
	.ctr_umount = dm_ctr_umount,
	.ctr_remove = dm_ctr_remove,
	.usage = dm_usage,
	.df = dm_df,
};
