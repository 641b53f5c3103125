// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: the btrfs storage driver.
 *
 * A btrfs filesystem on a sparse file on a loop device (ROOT/btrfs/
 * disk.img; or a block device given with -o device=DEV), mounted at
 * ROOT/btrfs/fs:
 *
 *	fs/layers/IMAGE		a subvolume: a snapshot of its parent's
 *				subvolume with the layer applied
 *	fs/containers/NAME	a snapshot of the image's subvolume
 *
 * A container is mounted by bind-mounting its subvolume.  Subvolumes are
 * made and deleted with the btrfs ioctls; mkfs.btrfs makes the filesystem.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/btrfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "utils.h"

#define BTRFS_DEFAULT_SIZE	"8G"

static const char *const btrfs_opts[] = {
	"size=SIZE          disk file size, sparse (default " BTRFS_DEFAULT_SIZE ")",
	"device=DEV         make the filesystem on block device DEV (wiped)",
	NULL,
};

static int btrfs_probe(char *why, size_t len)
{
	FILE *f;
	char line[128];
	bool have = false;

	if (need_prog("mkfs.btrfs", "btrfs-progs", why, len))
		return -ENOENT;
	f = fopen("/proc/filesystems", "re");
	while (f && !have && fgets(line, sizeof(line), f))
		have = strstr(line, "\tbtrfs\n") != NULL;
	if (f)
		fclose(f);
	if (!have && access("/sys/module/btrfs", F_OK) < 0 &&
	    need_prog("modprobe", "kmod", why, len))
		return -ENOENT;
	return 0;
}

static char *fs_dir(const struct drv_ctx *ctx, const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/fs%s%s%s%s", ctx->dir, a ? "/" : "", a ? a : "",
		     b ? "/" : "", b ? b : "") < 0) {
		fputs("cowctl: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return p;
}

static bool btrfs_is_up(struct drv_ctx *ctx)
{
	char *fs = fs_dir(ctx, NULL, NULL);
	bool ret = is_mounted(fs, "btrfs");

	free(fs);
	return ret;
}

static int btrfs_up(struct drv_ctx *ctx)
{
	char *img = ctx_path(ctx, "disk.img", NULL);
	char *state = ctx_path(ctx, "state", NULL);
	char *fs = fs_dir(ctx, NULL, NULL);
	const char *device = ctx_opt(ctx, "device", NULL);
	bool fresh = access(state, F_OK) < 0;
	char dev[64];
	int ret;

	ret = need_modules(ctx, (const char *const[]){ "btrfs",
			   device ? NULL : "loop", NULL });
	if (ret)
		goto out;
	if (device) {
		snprintf(dev, sizeof(dev), "%s", device);
	} else {
		ret = loop_image(ctx, img, BTRFS_DEFAULT_SIZE, fresh, false, dev,
				 sizeof(dev));
		if (ret)
			goto out;
	}
	if (fresh && RUN(ctx, 0, NULL, "mkfs.btrfs", "-q", "-f", "-m", "single",
			 "-d", "single", dev)) {
		ret = -EIO;
		goto out;
	}
	mkdir(fs, 0700);
	if (mount(dev, fs, "btrfs", 0, "") < 0) {
		ret = -errno;
		drv_err(ctx, "cannot mount %s (btrfs) on %s: %s", dev, fs,
			strerror(errno));
		goto out;
	}
	if (fresh) {
		for (const char *const *d = (const char *const[]){ "layers",
		     "containers", NULL }; *d; d++) {
			char *p = fs_dir(ctx, *d, NULL);

			mkdir(p, 0700);
			free(p);
		}
		ret = make_sparse(state, 0);
		if (ret) {
			drv_err(ctx, "cannot create %s: %s", state, strerror(-ret));
			umount2(fs, 0);
		}
	}
out:
	free(img);
	free(state);
	free(fs);
	return ret;
}

static int btrfs_down(struct drv_ctx *ctx)
{
	char *fs = fs_dir(ctx, NULL, NULL);
	int ret = 0;

	if (is_mounted(fs, "btrfs") && umount2(fs, 0) < 0) {
		ret = -errno;
		drv_err(ctx, "cannot unmount %s: %s", fs, strerror(errno));
	}
	free(fs);
	return ret;
}

static int btrfs_destroy(struct drv_ctx *ctx)
{
	const char *files[] = { "disk.img", "state", NULL };
	char *fs = fs_dir(ctx, NULL, NULL);

	rmdir(fs);
	free(fs);
	for (const char **f = files; *f; f++) {
		char *p = ctx_path(ctx, *f, NULL);

		unlink(p);
		free(p);
	}
	return 0;
}

static void btrfs_status(struct drv_ctx *ctx)
{
	char *img = ctx_path(ctx, "disk.img", NULL);
	char dev[64] = "";

	print_string(PRINT_ANY, "backing_filesystem", " Backing Filesystem: %s\n",
		     "btrfs");
	if (ctx_opt(ctx, "device", NULL))
		snprintf(dev, sizeof(dev), "%s", ctx_opt(ctx, "device", ""));
	else if (loop_find(img, dev, sizeof(dev)) < 0)
		dev[0] = '\0';
	print_string(PRINT_ANY, "device", " Device: %s\n", dev[0] ? dev : NULL);
	print_string(PRINT_ANY, "disk_file", " Disk file: %s\n",
		     ctx_opt(ctx, "device", NULL) ? NULL : img);
	free(img);
}

/* Snapshot @src into the new subvolume @dst (dst's dir must exist). */
static int subvol_snapshot(struct drv_ctx *ctx, const char *src,
			   const char *dst)
{
	struct btrfs_ioctl_vol_args_v2 args;
	char *dir = xstrdup(dst), *slash = strrchr(dir, '/');
	int sfd, dfd, ret = 0;

	*slash = '\0';
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || dfd < 0) {
		ret = -errno;
		goto out;
	}
	memset(&args, 0, sizeof(args));
	args.fd = sfd;
	snprintf(args.name, sizeof(args.name), "%s", slash + 1);
	if (ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &args) < 0)
		ret = -errno;
out:
	if (ret)
		drv_err(ctx, "cannot snapshot '%s' as '%s': %s", src, dst,
			strerror(-ret));
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return ret;
}

static int subvol_op(struct drv_ctx *ctx, const char *path, unsigned long op,
		     const char *what)
{
	struct btrfs_ioctl_vol_args args;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int dfd, ret = 0;

	*slash = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
	} else {
		memset(&args, 0, sizeof(args));
		snprintf(args.name, sizeof(args.name), "%s", slash + 1);
		if (ioctl(dfd, op, &args) < 0)
			ret = -errno;
		close(dfd);
	}
	if (ret == -ENOENT && op == BTRFS_IOC_SNAP_DESTROY)
		ret = 0;
	else if (ret)
		drv_err(ctx, "cannot %s subvolume '%s': %s", what, path,
			strerror(-ret));
	free(dir);
	return ret;
}

static int btrfs_layer_create(struct drv_ctx *ctx, const char *name,
			      const char *parent, const struct meta *pmeta,
			      const struct layer_src *src, struct meta *m)
{
	char *dst = fs_dir(ctx, "layers", name);
	int ret;

	(void)pmeta;
	(void)m;
	subvol_op(ctx, dst, BTRFS_IOC_SNAP_DESTROY, "delete");
	if (parent) {
		char *p = fs_dir(ctx, "layers", parent);

		ret = subvol_snapshot(ctx, p, dst);
		free(p);
	} else {
		ret = subvol_op(ctx, dst, BTRFS_IOC_SUBVOL_CREATE, "create");
	}
	if (!ret) {
		ret = layer_unpack(ctx, src, dst, WH_APPLY);
		if (ret)
			subvol_op(ctx, dst, BTRFS_IOC_SNAP_DESTROY, "delete");
	}
	free(dst);
	return ret;
}

static int btrfs_layer_remove(struct drv_ctx *ctx, const char *name,
			      const struct meta *m)
{
	char *p = fs_dir(ctx, "layers", name);
	int ret = subvol_op(ctx, p, BTRFS_IOC_SNAP_DESTROY, "delete");

	(void)m;
	free(p);
	return ret;
}

static int btrfs_ctr_create(struct drv_ctx *ctx, const char *name,
			    const char *image, const struct meta *imeta,
			    struct meta *m)
{
	char *src = fs_dir(ctx, "layers", image);
	char *dst = fs_dir(ctx, "containers", name);
	int ret;

	(void)imeta;
	(void)m;
	subvol_op(ctx, dst, BTRFS_IOC_SNAP_DESTROY, "delete");
	ret = subvol_snapshot(ctx, src, dst);
	free(src);
	free(dst);
	return ret;
}

static int btrfs_ctr_mount(struct drv_ctx *ctx, const char *name,
			   const struct meta *m, const char *target)
{
	char *src = fs_dir(ctx, "containers", name);
	int ret = 0;

	(void)m;
	if (mount(src, target, NULL, MS_BIND, NULL) < 0) {
		ret = -errno;
		drv_err(ctx, "cannot bind-mount '%s' on '%s': %s", src,
			msg_path(target), strerror(errno));
	}
	free(src);
	return ret;
}

static int btrfs_ctr_umount(struct drv_ctx *ctx, const char *name,
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

static int btrfs_ctr_remove(struct drv_ctx *ctx, const char *name,
			    const struct meta *m)
{
	char *p = fs_dir(ctx, "containers", name);
	int ret = subvol_op(ctx, p, BTRFS_IOC_SNAP_DESTROY, "delete");

	(void)m;
	free(p);
	return ret;
}

static int64_t btrfs_usage(struct drv_ctx *ctx, bool is_image,
			   const char *name, const struct meta *m)
{
	char *p = fs_dir(ctx, is_image ? "layers" : "containers", name);
	int64_t ret = du_bytes(p);	/* referenced, shared extents too */

	(void)m;
	free(p);
	return ret;
}

static int btrfs_df(struct drv_ctx *ctx, uint64_t *used, uint64_t *total)
{
	char *fs = fs_dir(ctx, NULL, NULL);
	struct statvfs sv;
	int fd, ret = 0;

	/* Commit the transaction so statfs sees what was written. */
	fd = open(fs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		ioctl(fd, BTRFS_IOC_SYNC, NULL);
		close(fd);
	}
	if (statvfs(fs, &sv) < 0) {
		ret = -errno;
	} else {
		*total = (uint64_t)sv.f_blocks * sv.f_frsize;
		*used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	}
	free(fs);
	return ret;
}

const struct storage_driver drv_btrfs = {
	.name = "btrfs",
	.summary = "btrfs filesystem, subvolume snapshots per layer and container",
	.opts_help = btrfs_opts,
	.probe = btrfs_probe,
	.is_up = btrfs_is_up,
	.up = btrfs_up,
	.down = btrfs_down,
	.destroy = btrfs_destroy,
	.status = btrfs_status,
	.layer_create = btrfs_layer_create,
	.layer_remove = btrfs_layer_remove,
	.ctr_create = btrfs_ctr_create,
	.ctr_mount = btrfs_ctr_mount,
	.ctr_umount = btrfs_ctr_umount,
	.ctr_remove = btrfs_ctr_remove,
	.usage = btrfs_usage,
	.df = btrfs_df,
};
