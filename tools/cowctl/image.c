// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl image import|ls|rm: image layers of a storage driver.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

static int image_import(int argc, char **argv);
static int image_ls(int argc, char **argv);
static int image_rm(int argc, char **argv);

static const char *const import_usage[] = {
	"cowctl image import [OPTIONS] NAME SOURCE",
	"Create image NAME, one layer, from a directory or a tar archive.",
	"",
	"SOURCE is a directory, a tar archive (gzip, xz or zstd compressed ones",
	"too) or '-' for a tar stream on stdin. OCI whiteouts in it (.wh.NAME,",
	"and .wh..wh..opq for an opaque directory) are converted to the",
	"driver's form: overlayfs whiteouts for cowfs and overlay2, deletions",
	"from the parent's snapshot for devicemapper, btrfs and zfs. With",
	"--parent the layer goes on top of image PARENT.",
	"",
	"Options:",
	"  -p, --parent IMAGE  the image this layer goes on top of",
	DRV_USAGE_OPTS,
	"  -j, --json          print the new image as JSON",
	"  -h, --help          print this help",
	"",
	"Examples:",
	"  cowctl image import base /srv/rootfs",
	"  cowctl image import -d zfs --parent base app app-layer.tar.gz",
	NULL,
};

static const char *const image_ls_usage[] = {
	"cowctl image ls [OPTIONS]",
	"List the images of a storage driver.",
	"",
	"Shows each image with its parent and its number of layers; with",
	"--size also the bytes its own layer uses (for devicemapper the blocks",
	"it maps beyond its parent, for btrfs what its subvolume references,",
	"for zfs the dataset's 'used').",
	"",
	"Options:",
	"  -s, --size          show each layer's disk usage",
	"  -n, --noheadings    do not print the header line",
	DRV_USAGE_OPTS,
	"  -j, --json          print a JSON array",
	"  -h, --help          print this help",
	NULL,
};

static const char *const image_rm_usage[] = {
	"cowctl image rm [OPTIONS] NAME...",
	"Remove images.",
	"",
	"An image that is the parent of another image or the image of a",
	"container is refused: remove those first.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -h, --help          print this help",
	NULL,
};

const char *const image_usage[] = {
	"cowctl image COMMAND [ARGS...]",
	"Manage the image layers of a storage driver.",
	NULL,
};

static const struct cmd image_cmds[] = {
	{ "import",	image_import,	import_usage },
	{ "ls",		image_ls,	image_ls_usage },
	{ "list",	image_ls,	image_ls_usage },
	{ "rm",		image_rm,	image_rm_usage },
	{ NULL, NULL, NULL },
};

int cmd_image(int argc, char **argv)
{
	return cmd_group(image_cmds, "image", image_usage, argc, argv);
}

/* Parse the options every image/container/driver command takes. */
int drv_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *opts, struct drv_args *a, int *ret)
{
	int c;

	while ((c = cmd_getopt(argc, argv, shortopts, opts)) != -1) {
		if (driver_opt(a, c, optarg))
			continue;
		if (c == 'h' || c == 'j' || c == '?' || c == ':') {
			*ret = cmd_common_opt(c, argv);
			if (*ret != CMD_CONTINUE)
				return -1;
			continue;
		}
		return c;
	}
	return 0;
}

/*
 * The start of 'image ls' and 'container ls': their options (-s, -n and
 * the driver's) and the names of @kind ("images" or "containers").
 * Returns -1 with *ret to exit with, 0 with @ctx open, or 1 when the
 * driver has no store yet: nothing to list, and @ctx is not open.
 */
int drv_ls_begin(int argc, char **argv, const char *kind, struct drv_ctx *ctx,
		 struct strvec *names, bool *size, bool *noheadings, int *ret)
{
	static const struct option opts[] = {
		{ "size", no_argument, NULL, 's' },
		{ "noheadings", no_argument, NULL, 'n' },
		DRV_LONGOPTS,
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct drv_args a = { 0 };
	int c;

	*size = false;
	*noheadings = false;
	*ret = EXIT_OK;
	while ((c = drv_getopt(argc, argv, ":hjd:r:sn", opts, &a, ret)) > 0) {
		if (c == 's')
			*size = true;
		else
			*noheadings = true;
	}
	if (c < 0)
		return -1;
	*ret = cmd_no_args(argc, argv);
	if (*ret)
		return -1;
	c = drv_ctx_open(ctx, &a, CTX_NOCREATE);
	if (c < 0) {
		*ret = EXIT_FAIL;
		return -1;
	}
	if (c == 0) {
		list_names(ctx, kind, names);
		if (*size && names->n && drv_ctx_up(ctx))
			*size = false;
	}
	return c;
}

static int image_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		DRV_LONGOPTS,
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct drv_args a = { 0 };
	struct meta m = META_INIT, pm = META_INIT;
	struct layer_src src = { 0 };
	struct drv_ctx ctx;
	const char *parent = NULL, *name;
	char *path = NULL;
	struct stat st;
	int c, ret = EXIT_OK;

	while ((c = drv_getopt(argc, argv, ":hjd:r:p:", opts, &a, &ret)) > 0)
		parent = optarg;
	if (c < 0)
		return ret;
	if (argc - optind != 2)
		return usage_error(argc - optind < 2 ?
				   "image import needs NAME and SOURCE" :
				   "too many arguments: image import takes NAME and SOURCE");
	name = argv[optind];
	src.path = argv[optind + 1];
	if (!name_valid("image", name) || (parent && !name_valid("image", parent)))
		return EXIT_USAGE;
	if (strcmp(src.path, "-")) {
		if (stat(src.path, &st) < 0) {
			error_msg("cannot import '%s': %s", msg_path(src.path),
				  strerror(errno));
			return EXIT_FAIL;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			error_msg("cannot import '%s': it is neither a directory nor a tar archive",
				  msg_path(src.path));
			return EXIT_FAIL;
		}
		src.is_dir = S_ISDIR(st.st_mode);
	}
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	if (!image_meta(&ctx, name, &m)) {
		drv_err(&ctx, "image '%s' already exists: remove it first with 'cowctl image rm %s'",
			name, name);
		goto out;
	}
	if (parent && image_meta(&ctx, parent, &pm)) {
		drv_err(&ctx, "parent image '%s' does not exist (see 'cowctl image ls')",
			parent);
		goto out;
	}
	meta_set(&m, "parent", parent ? parent : "");
	meta_setf(&m, "created", "%lld", (long long)time(NULL));
	if (ctx.drv->layer_create(&ctx, name, parent, &pm, &src, &m))
		goto out;
	path = ctx_path(&ctx, "images", name);
	c = meta_save(&m, path);
	if (c) {
		drv_err(&ctx, "cannot write %s: %s", path, strerror(-c));
		ctx.drv->layer_remove(&ctx, name, &m);
		goto out;
	}
	open_json_object(NULL);
	print_string(PRINT_JSON, "name", NULL, name);
	print_string(PRINT_JSON, "parent", NULL, parent);
	print_string(PRINT_JSON, "driver", NULL, ctx.drv->name);
	close_json_object();
	ret = EXIT_OK;
out:
	free(path);
	meta_free(&m);
	meta_free(&pm);
	drv_ctx_close(&ctx);
	return ret;
}

static void human(uint64_t b, char *buf, size_t len)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", v, u[i]);
}

static int image_ls(int argc, char **argv)
{
	struct strvec names = STRVEC_INIT;
	bool size, noheadings;
	struct drv_ctx ctx;
	int c, ret;

	c = drv_ls_begin(argc, argv, "images", &ctx, &names, &size,
			 &noheadings, &ret);
	if (c < 0)
		return ret;
	open_json_array(PRINT_JSON, NULL);
	if (!noheadings && !is_json_context())
		printf("%-24s %-24s %6s%s\n", "NAME", "PARENT", "LAYERS",
		       size ? "  SIZE" : "");
	for (size_t i = 0; i < names.n; i++) {
		struct meta m = META_INIT;
		struct strvec chain = STRVEC_INIT;
		const char *parent;

		if (image_meta(&ctx, names.v[i], &m))
			continue;
		parent = meta_get(&m, "parent");
		if (parent && !*parent)
			parent = NULL;
		image_chain(&ctx, names.v[i], &chain);
		open_json_object(NULL);
		print_string(PRINT_ANY, "name", "%-24s ", names.v[i]);
		print_string(PRINT_ANY, "parent", "%-24s ", parent);
		print_uint(PRINT_ANY, "layers", "%6u", chain.n);
		if (size) {
			int64_t u = ctx.drv->usage(&ctx, true, names.v[i], &m);
			char h[32];

			if (u >= 0) {
				human(u, h, sizeof(h));
				print_string(PRINT_FP, NULL, "  %s", h);
				print_u64(PRINT_JSON, "size", NULL, u);
			} else {
				print_null(PRINT_ANY, "size", "  %s", "-");
			}
		}
		print_string(PRINT_ANY, "created", NULL, meta_get(&m, "created"));
		print_nl();
		close_json_object();
		strvec_free(&chain);
		meta_free(&m);
	}
	close_json_array(PRINT_JSON, NULL);
	strvec_free(&names);
	if (c == 0)
		drv_ctx_close(&ctx);
	return ret;
}

static int image_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		DRV_LONGOPTS,
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct drv_args a = { 0 };
	struct drv_ctx ctx;
	int c, ret = EXIT_OK;

	c = drv_getopt(argc, argv, ":hjd:r:", opts, &a, &ret);
	if (c < 0)
		return ret;
	if (optind >= argc)
		return usage_error("image rm needs the NAME of an image");
	for (int i = optind; i < argc; i++)
		if (!name_valid("image", argv[i]))
			return EXIT_USAGE;
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	for (int i = optind; i < argc; i++) {
		struct strvec imgs = STRVEC_INIT, ctrs = STRVEC_INIT;
		struct meta m = META_INIT;
		const char *name = argv[i], *user = NULL, *kind = NULL;
		char *path;

		if (image_meta(&ctx, name, &m)) {
			drv_err(&ctx, "no image '%s' (see 'cowctl image ls')", name);
			ret = EXIT_FAIL;
			meta_free(&m);
			continue;
		}
		list_names(&ctx, "images", &imgs);
		list_names(&ctx, "containers", &ctrs);
		for (size_t j = 0; j < imgs.n && !user; j++) {
			struct meta o = META_INIT;

			if (!image_meta(&ctx, imgs.v[j], &o) &&
			    meta_get(&o, "parent") &&
			    !strcmp(meta_get(&o, "parent"), name)) {
				user = imgs.v[j];
				kind = "image";
			}
			meta_free(&o);
		}
		for (size_t j = 0; j < ctrs.n && !user; j++) {
			struct meta o = META_INIT;

			if (!ctr_meta(&ctx, ctrs.v[j], &o) &&
			    meta_get(&o, "image") &&
			    !strcmp(meta_get(&o, "image"), name)) {
				user = ctrs.v[j];
				kind = "container";
			}
			meta_free(&o);
		}
		if (user) {
			drv_err(&ctx, "image '%s' is in use by %s '%s': remove that first",
				name, kind, user);
			ret = EXIT_FAIL;
		} else if (ctx.drv->layer_remove(&ctx, name, &m)) {
			ret = EXIT_FAIL;
		} else {
			path = ctx_path(&ctx, "images", name);
			unlink(path);
			free(path);
		}
		strvec_free(&imgs);
		strvec_free(&ctrs);
		meta_free(&m);
	}
	drv_ctx_close(&ctx);
	return ret;
}
