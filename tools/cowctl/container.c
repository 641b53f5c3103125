// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl container create|mount|umount|rm|ls: writable snapshots of
 * images, through a storage driver.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "utils.h"

static int ctr_create(int argc, char **argv);
static int ctr_mount(int argc, char **argv);
static int ctr_umount(int argc, char **argv);
static int ctr_rm(int argc, char **argv);
static int ctr_ls(int argc, char **argv);

static const char *const create_usage[] = {
	"cowctl container create [OPTIONS] IMAGE NAME",
	"Create container NAME, a writable snapshot of IMAGE.",
	"",
	"cowfs, overlay2: an empty upper and work directory over the image's",
	"layers; devicemapper: a thin snapshot of the image's device; btrfs: a",
	"subvolume snapshot; zfs: a clone of the image's snapshot. The image",
	"is never changed by the container.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -j, --json          print the new container as JSON",
	"  -h, --help          print this help",
	NULL,
};

static const char *const mount_usage_[] = {
	"cowctl container mount [OPTIONS] NAME [TARGET]",
	"Mount container NAME and print where.",
	"",
	"TARGET is an existing directory; without it the container is mounted",
	"on ROOT/DRIVER/mnt/NAME.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -j, --json          print the mount point as JSON",
	"  -h, --help          print this help",
	NULL,
};

static const char *const umount_usage_[] = {
	"cowctl container umount [OPTIONS] NAME",
	"Unmount container NAME.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -h, --help          print this help",
	NULL,
};

static const char *const rm_usage[] = {
	"cowctl container rm [OPTIONS] NAME...",
	"Remove containers and everything they wrote.",
	"",
	"A mounted container is refused unless --force is given, which",
	"unmounts it first.",
	"",
	"Options:",
	"  -f, --force         unmount a mounted container first",
	DRV_USAGE_OPTS,
	"  -h, --help          print this help",
	NULL,
};

static const char *const ls_usage_[] = {
	"cowctl container ls [OPTIONS]",
	"List the containers of a storage driver.",
	"",
	"Shows each container with its image and where it is mounted; with",
	"--size also the bytes it wrote (the upper directory for cowfs and",
	"overlay2, the blocks it maps beyond its image for devicemapper, what",
	"its subvolume references for btrfs, the clone's 'used' for zfs).",
	"",
	"Options:",
	"  -s, --size          show each container's disk usage",
	"  -n, --noheadings    do not print the header line",
	DRV_USAGE_OPTS,
	"  -j, --json          print a JSON array",
	"  -h, --help          print this help",
	NULL,
};

const char *const container_usage[] = {
	"cowctl container COMMAND [ARGS...]",
	"Manage containers: writable snapshots of images.",
	NULL,
};

static const struct cmd ctr_cmds[] = {
	{ "create",	ctr_create,	create_usage },
	{ "mount",	ctr_mount,	mount_usage_ },
	{ "umount",	ctr_umount,	umount_usage_ },
	{ "unmount",	ctr_umount,	umount_usage_ },
	{ "rm",		ctr_rm,		rm_usage },
	{ "ls",		ctr_ls,		ls_usage_ },
	{ "list",	ctr_ls,		ls_usage_ },
	{ NULL, NULL, NULL },
};

int cmd_container(int argc, char **argv)
{
	return cmd_group(ctr_cmds, "container", container_usage, argc, argv);
}

static const struct option common_opts[] = {
	DRV_LONGOPTS,
	CMD_COMMON_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

static int ctr_create(int argc, char **argv)
{
	struct drv_args a = { 0 };
	struct meta m = META_INIT, im = META_INIT;
	struct drv_ctx ctx;
	const char *image, *name;
	char *path = NULL;
	int c, ret = EXIT_OK;

	c = drv_getopt(argc, argv, ":hjd:r:", common_opts, &a, &ret);
	if (c < 0)
		return ret;
	if (argc - optind != 2)
		return usage_error(argc - optind < 2 ?
				   "container create needs IMAGE and NAME" :
				   "too many arguments: container create takes IMAGE and NAME");
	image = argv[optind];
	name = argv[optind + 1];
	if (!name_valid("image", image) || !name_valid("container", name))
		return EXIT_USAGE;
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	if (!ctr_meta(&ctx, name, &m)) {
		drv_err(&ctx, "container '%s' already exists", name);
		goto out;
	}
	if (image_meta(&ctx, image, &im)) {
		drv_err(&ctx, "no image '%s' (see 'cowctl image ls')", image);
		goto out;
	}
	meta_set(&m, "image", image);
	meta_setf(&m, "created", "%lld", (long long)time(NULL));
	if (ctx.drv->ctr_create(&ctx, name, image, &im, &m))
		goto out;
	path = ctx_path(&ctx, "containers", name);
	c = meta_save(&m, path);
	if (c) {
		drv_err(&ctx, "cannot write %s: %s", path, strerror(-c));
		ctx.drv->ctr_remove(&ctx, name, &m);
		goto out;
	}
	open_json_object(NULL);
	print_string(PRINT_JSON, "name", NULL, name);
	print_string(PRINT_JSON, "image", NULL, image);
	print_string(PRINT_JSON, "driver", NULL, ctx.drv->name);
	close_json_object();
	ret = EXIT_OK;
out:
	free(path);
	meta_free(&m);
	meta_free(&im);
	drv_ctx_close(&ctx);
	return ret;
}

static int ctr_mount(int argc, char **argv)
{
	struct drv_args a = { 0 };
	struct meta m = META_INIT;
	struct drv_ctx ctx;
	char *target = NULL, *mp = NULL, *path = NULL;
	const char *name;
	int c, ret = EXIT_OK;

	c = drv_getopt(argc, argv, ":hjd:r:", common_opts, &a, &ret);
	if (c < 0)
		return ret;
	if (argc - optind < 1 || argc - optind > 2)
		return usage_error(argc - optind < 1 ?
				   "container mount needs the NAME of a container" :
				   "too many arguments: container mount takes NAME [TARGET]");
	name = argv[optind];
	if (!name_valid("container", name))
		return EXIT_USAGE;
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	if (ctr_meta(&ctx, name, &m)) {
		drv_err(&ctx, "no container '%s' (see 'cowctl container ls')",
			name);
		goto out;
	}
	mp = ctr_mountpoint(&ctx, name, &m);
	if (mp) {
		drv_err(&ctx, "container '%s' is already mounted on '%s'", name,
			msg_path(mp));
		goto out;
	}
	if (argc - optind == 2) {
		target = realpath(argv[optind + 1], NULL);
		if (!target) {
			error_msg("cannot mount on '%s': %s",
				  msg_path(argv[optind + 1]), strerror(errno));
			goto out;
		}
	} else {
		target = ctx_path(&ctx, "mnt", name);
		mkdir(target, 0755);
	}
	if (ctx.drv->ctr_mount(&ctx, name, &m, target))
		goto out;
	meta_set(&m, "mountpoint", target);
	path = ctx_path(&ctx, "containers", name);
	c = meta_save(&m, path);
	if (c) {
		drv_err(&ctx, "cannot write %s: %s", path, strerror(-c));
		ctx.drv->ctr_umount(&ctx, name, &m, target);
		goto out;
	}
	open_json_object(NULL);
	print_string(PRINT_ANY, "mountpoint", "%s\n", target);
	close_json_object();
	ret = EXIT_OK;
out:
	free(target);
	free(mp);
	free(path);
	meta_free(&m);
	drv_ctx_close(&ctx);
	return ret;
}

/* Unmount container @name if mounted; 0, or -errno after a message. */
static int unmount_one(struct drv_ctx *ctx, const char *name, struct meta *m,
		       bool must)
{
	char *mp = ctr_mountpoint(ctx, name, m);
	char *path, *dflt;
	int ret;

	if (!mp) {
		if (must)
			drv_err(ctx, "container '%s' is not mounted", name);
		return must ? -EINVAL : 0;
	}
	ret = ctx->drv->ctr_umount(ctx, name, m, mp);
	if (!ret) {
		dflt = ctx_path(ctx, "mnt", name);
		if (!strcmp(dflt, mp))
			rmdir(dflt);
		free(dflt);
		meta_set(m, "mountpoint", "");
		path = ctx_path(ctx, "containers", name);
		meta_save(m, path);
		free(path);
	}
	free(mp);
	return ret;
}

static int ctr_umount(int argc, char **argv)
{
	struct drv_args a = { 0 };
	struct meta m = META_INIT;
	struct drv_ctx ctx;
	const char *name;
	int c, ret = EXIT_OK;

	c = drv_getopt(argc, argv, ":hjd:r:", common_opts, &a, &ret);
	if (c < 0)
		return ret;
	if (argc - optind != 1)
		return usage_error(argc - optind < 1 ?
				   "container umount needs the NAME of a container" :
				   "too many arguments: container umount takes NAME");
	name = argv[optind];
	if (!name_valid("container", name))
		return EXIT_USAGE;
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	if (ctr_meta(&ctx, name, &m))
		drv_err(&ctx, "no container '%s' (see 'cowctl container ls')",
			name);
	else if (!unmount_one(&ctx, name, &m, true))
		ret = EXIT_OK;
	meta_free(&m);
	drv_ctx_close(&ctx);
	return ret;
}

/* Remove container @name (unmounting it with @force); used by destroy. */
int ctr_remove_one(struct drv_ctx *ctx, const char *name, bool force)
{
	struct meta m = META_INIT;
	char *mp, *path;
	int ret = -ENOENT;

	if (ctr_meta(ctx, name, &m)) {
		drv_err(ctx, "no container '%s' (see 'cowctl container ls')",
			name);
		goto out;
	}
	mp = ctr_mountpoint(ctx, name, &m);
	if (mp && !force) {
		drv_err(ctx, "container '%s' is mounted on '%s': unmount it first ('cowctl container umount %s') or use --force",
			name, msg_path(mp), name);
		free(mp);
		ret = -EBUSY;
		goto out;
	}
	free(mp);
	ret = unmount_one(ctx, name, &m, false);
	if (!ret)
		ret = ctx->drv->ctr_remove(ctx, name, &m);
	if (!ret) {
		path = ctx_path(ctx, "containers", name);
		unlink(path);
		free(path);
	}
out:
	meta_free(&m);
	return ret;
}

int ctr_umount_all(struct drv_ctx *ctx)
{
	struct strvec names = STRVEC_INIT;
	int ret = 0;

	list_names(ctx, "containers", &names);
	for (size_t i = 0; i < names.n; i++) {
		struct meta m = META_INIT;

		if (!ctr_meta(ctx, names.v[i], &m) &&
		    unmount_one(ctx, names.v[i], &m, false))
			ret = -EBUSY;
		meta_free(&m);
	}
	strvec_free(&names);
	return ret;
}

static int ctr_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		DRV_LONGOPTS,
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct drv_args a = { 0 };
	struct drv_ctx ctx;
	bool force = false;
	int c, ret = EXIT_OK;

	while ((c = drv_getopt(argc, argv, ":hjd:r:f", opts, &a, &ret)) > 0)
		force = true;
	if (c < 0)
		return ret;
	if (optind >= argc)
		return usage_error("container rm needs the NAME of a container");
	for (int i = optind; i < argc; i++)
		if (!name_valid("container", argv[i]))
			return EXIT_USAGE;
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++)
		if (ctr_remove_one(&ctx, argv[i], force))
			ret = EXIT_FAIL;
	drv_ctx_close(&ctx);
	return ret;
}

static int ctr_ls(int argc, char **argv)
{
	struct strvec names = STRVEC_INIT;
	bool size, noheadings;
	struct drv_ctx ctx;
	int c, ret;

	c = drv_ls_begin(argc, argv, "containers", &ctx, &names, &size,
			 &noheadings, &ret);
	if (c < 0)
		return ret;
	open_json_array(PRINT_JSON, NULL);
	if (!noheadings && !is_json_context())
		printf("%-24s %-24s %s%s\n", "NAME", "IMAGE", "MOUNTPOINT",
		       size ? "  SIZE" : "");
	for (size_t i = 0; i < names.n; i++) {
		struct meta m = META_INIT;
		char *mp;

		if (ctr_meta(&ctx, names.v[i], &m))
			continue;
		mp = ctr_mountpoint(&ctx, names.v[i], &m);
		open_json_object(NULL);
		print_string(PRINT_ANY, "name", "%-24s ", names.v[i]);
		print_string(PRINT_ANY, "image", "%-24s ", meta_get(&m, "image"));
		print_string(PRINT_ANY, "mountpoint", "%s", mp);
		if (size) {
			int64_t u = ctx.drv->usage(&ctx, false, names.v[i], &m);

			if (u >= 0) {
				print_u64(PRINT_ANY, "size", "  %" PRIu64, u);
			} else {
				print_null(PRINT_ANY, "size", "  %s", "-");
			}
		}
		print_string(PRINT_ANY, "created", NULL, meta_get(&m, "created"));
		print_nl();
		close_json_object();
		free(mp);
		meta_free(&m);
	}
	close_json_array(PRINT_JSON, NULL);
	strvec_free(&names);
	if (c == 0)
		drv_ctx_close(&ctx);
	return ret;
}
