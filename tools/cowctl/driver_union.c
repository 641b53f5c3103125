// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: what the union drivers (cowfs, overlay2) share.
 *
 *	ROOT/<driver>/layers/IMAGE/		the layer's files, whiteouts in
 *						overlayfs form
 *	ROOT/<driver>/ctr/NAME/upper, work	a container's writable part
 *
 * A container is mounted as a union of its image's layers (top first,
 * passed one by one with fsconfig "lowerdir+", so there is no limit from
 * the size of a page of mount options) with its upper and work
 * directories.  driver_cowfs.c and driver_overlay2.c only name the
 * filesystem type.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "driver_union.h"
#include "json_print.h"
#include "mountapi.h"
#include "utils.h"

/* The filesystem type: overlay2 mounts "overlay". */
static const char *union_fstype(const struct drv_ctx *ctx)
{
	return strcmp(ctx->drv->name, "overlay2") ? ctx->drv->name : "overlay";
}

int union_fs_registered(const char *fstype)
{
	FILE *f = fopen("/proc/filesystems", "re");
	char line[256];
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, '\t');

		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		found = !strcmp(name, fstype);
	}
	fclose(f);
	return found;
}

bool union_is_up(struct drv_ctx *ctx)
{
	char *p = ctx_path(ctx, "layers", NULL);
	bool ret = !access(p, F_OK) && union_fs_registered(union_fstype(ctx)) > 0;

	free(p);
	return ret;
}

int union_up(struct drv_ctx *ctx)
{
	const char *fstype = union_fstype(ctx);
	int ret;

	if (union_fs_registered(fstype) <= 0) {
		ret = RUN(ctx, 0, NULL, "modprobe", fstype);
		if (ret)
			return -ENODEV;
	}
	for (const char *const *d = (const char *const[]){ "layers", "ctr", NULL };
	     *d; d++) {
		char *p = ctx_path(ctx, *d, NULL);

		ret = mkdir_p(p, 0700);
		if (ret) {
			drv_err(ctx, "cannot create '%s': %s", p, strerror(-ret));
			free(p);
			return ret;
		}
		free(p);
	}
	return 0;
}

int union_down(struct drv_ctx *ctx)
{
	(void)ctx;	/* nothing but the container mounts, already gone */
	return 0;
}

int union_destroy(struct drv_ctx *ctx)
{
	int ret = 0;

	for (const char *const *d = (const char *const[]){ "layers", "ctr", NULL };
	     *d && !ret; d++) {
		char *p = ctx_path(ctx, *d, NULL);

		ret = rm_rf(p);
		if (ret)
			drv_err(ctx, "cannot remove '%s': %s", p, strerror(-ret));
		free(p);
	}
	return ret;
}

void union_status(struct drv_ctx *ctx)
{
	const char *fstype = union_fstype(ctx);
	int reg = union_fs_registered(fstype);

	print_string(PRINT_ANY, "backing_filesystem", " Backing Filesystem: %s\n",
		     fs_name(ctx->dir));
	print_string(PRINT_ANY, "filesystem_type", " Filesystem Type: %s",
		     fstype);
	print_string(PRINT_FP, NULL, " (%s)\n",
		     reg > 0 ? "registered" : "not registered");
	print_bool(PRINT_ANY, "supports_d_type", " Supports d_type: %s\n",
		   true);
}

int union_probe(const char *fstype, char *why, size_t len)
{
	if (union_fs_registered(fstype) > 0)
		return 0;
	if (!strcmp(fstype, "cowfs")) {
		snprintf(why, len, "the cowfs module is not loaded: load it with 'insmod kernel/cowfs.ko' (or 'modprobe cowfs' when installed)");
		return -ENODEV;
	}
	if (need_prog("modprobe", "kmod", why, len))
		return -ENOENT;
	return 0;	/* up() loads the module */
}

int union_layer_create(struct drv_ctx *ctx, const char *name,
		       const char *parent, const struct meta *pmeta,
		       const struct layer_src *src, struct meta *m)
{
	char *dir = ctx_path(ctx, "layers", name);
	int ret;

	(void)parent;
	(void)pmeta;
	(void)m;
	rm_rf(dir);
	if (mkdir(dir, 0755) < 0) {
		ret = -errno;
		drv_err(ctx, "cannot create '%s': %s", dir, strerror(errno));
		free(dir);
		return ret;
	}
	ret = layer_unpack(ctx, src, dir, WH_OVERLAY);
	if (ret)
		rm_rf(dir);
	free(dir);
	return ret;
}

int union_layer_remove(struct drv_ctx *ctx, const char *name,
		       const struct meta *m)
{
	char *dir = ctx_path(ctx, "layers", name);
	int ret = rm_rf(dir);

	(void)m;
	if (ret)
		drv_err(ctx, "cannot remove '%s': %s", dir, strerror(-ret));
	free(dir);
	return ret;
}

int union_ctr_create(struct drv_ctx *ctx, const char *name,
		     const char *image, const struct meta *imeta,
		     struct meta *m)
{
	char *dir = ctx_path(ctx, "ctr", name);
	int ret = 0;

	(void)image;
	(void)imeta;
	(void)m;
	rm_rf(dir);
	for (const char *const *d = (const char *const[]){ "", "/upper", "/work",
	     NULL }; *d && !ret; d++) {
		char *p;

		if (asprintf(&p, "%s%s", dir, *d) < 0)
			return -ENOMEM;
		if (mkdir(p, 0755) < 0) {
			ret = -errno;
			drv_err(ctx, "cannot create '%s': %s", p,
				strerror(errno));
		}
		free(p);
	}
	if (ret)
		rm_rf(dir);
	free(dir);
	return ret;
}

/* Print the kernel's messages queued on the fs_context @fd. */
static void fc_log(const struct drv_ctx *ctx, int fd)
{
	char buf[1024];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		drv_err(ctx, "kernel: %s", n > 2 && buf[1] == ' ' ? buf + 2 : buf);
	}
}

static int fsconf(int fd, const char *key, const char *val)
{
	return sys_fsconfig(fd, FSCONFIG_SET_STRING, key, val, 0);
}

int union_ctr_mount(struct drv_ctx *ctx, const char *name,
		    const struct meta *m, const char *target)
{
	const char *fstype = union_fstype(ctx);
	struct strvec chain = STRVEC_INIT;
	char *dir = ctx_path(ctx, "ctr", name), *upper = NULL, *work = NULL;
	const char *step = "fsopen";
	int fd, mfd, ret;

	ret = image_chain(ctx, meta_get(m, "image"), &chain);
	if (ret)
		goto out_free;
	if (asprintf(&upper, "%s/upper", dir) < 0 ||
	    asprintf(&work, "%s/work", dir) < 0) {
		ret = -ENOMEM;
		goto out_free;
	}
	fd = sys_fsopen(fstype, FSOPEN_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		drv_err(ctx, "cannot open a %s filesystem context: %s%s", fstype,
			strerror(errno), errno == ENODEV ?
			" (is the module loaded?)" : "");
		goto out_free;
	}
	for (size_t i = 0; i < chain.n; i++) {
		char *layer = ctx_path(ctx, "layers", chain.v[i]);

		ret = fsconf(fd, "lowerdir+", layer);
		free(layer);
		if (ret < 0) {
			step = "lowerdir+";
			goto fail;
		}
	}
	step = "upperdir";
	if (fsconf(fd, "upperdir", upper) < 0)
		goto fail;
	step = "workdir";
	if (fsconf(fd, "workdir", work) < 0)
		goto fail;
	step = "create";
	if (sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;
	step = "fsmount";
	mfd = sys_fsmount(fd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		goto fail;
	step = "move_mount";
	if (sys_move_mount(mfd, "", AT_FDCWD, target,
			   MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		ret = -errno;
		close(mfd);
		errno = -ret;
		goto fail;
	}
	close(mfd);
	close(fd);
	ret = 0;
	goto out_free;
fail:
	ret = -errno;
	drv_err(ctx, "cannot mount container '%s' (%d layers) on '%s': %s: %s",
		name, (int)chain.n, msg_path(target), step, strerror(-ret));
	fc_log(ctx, fd);
	close(fd);
out_free:
	strvec_free(&chain);
	free(dir);
	free(upper);
	free(work);
	return ret;
}

int union_ctr_umount(struct drv_ctx *ctx, const char *name,
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

int union_ctr_remove(struct drv_ctx *ctx, const char *name,
		     const struct meta *m)
{
	char *dir = ctx_path(ctx, "ctr", name);
	int ret = rm_rf(dir);

	(void)m;
	if (ret)
		drv_err(ctx, "cannot remove '%s': %s", dir, strerror(-ret));
	free(dir);
	return ret;
}

int64_t union_usage(struct drv_ctx *ctx, bool is_image, const char *name,
		    const struct meta *m)
{
	char *p = is_image ? ctx_path(ctx, "layers", name) :
			     ctx_path(ctx, "ctr", name);
	int64_t ret;

	(void)m;
	ret = du_bytes(p);
	free(p);
	return ret;
}

int union_df(struct drv_ctx *ctx, uint64_t *used, uint64_t *total)
{
	struct statvfs sv;

	sync();
	if (statvfs(ctx->dir, &sv) < 0)
		return -errno;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	return 0;
}
