// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl driver ls|status|up|down|destroy|df, and the "Storage Driver"
 * part of 'cowctl info'.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "utils.h"


#define AUFS_NOTE "aufs is not in mainline Linux; cowfs stands in for it"

static int drv_ls(int argc, char **argv);
static int drv_status(int argc, char **argv);
static int drv_up(int argc, char **argv);
static int drv_down(int argc, char **argv);
static int drv_destroy(int argc, char **argv);
static int drv_df(int argc, char **argv);

static const char *const ls_usage_[] = {
	"cowctl driver ls [OPTIONS]",
	"List the storage drivers, whether each can run here and is up.",
	"",
	"A driver is available when its tools and kernel support are there;",
	"when not, the reason says what to install. aufs is listed as not",
	"available: it is not in mainline Linux, and cowfs stands in for it.",
	"",
	"Options:",
	"  -r, --root DIR      root directory of the drivers' data",
	"                      ($COWCTL_ROOT, default " COWCTL_DEFAULT_ROOT ")",
	"  -j, --json          print a JSON array",
	"  -h, --help          print this help",
	NULL,
};

static const char *const status_usage[] = {
	"cowctl driver status [OPTIONS]",
	"Show a storage driver's status, as 'docker info' shows its Storage Driver.",
	"",
	"Never sets anything up: a driver that is down is shown as down.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -j, --json          print a JSON object",
	"  -h, --help          print this help",
	NULL,
};

static const char *const up_usage[] = {
	"cowctl driver up [OPTIONS]",
	"Set up a storage driver's backing store, or bring it back up.",
	"",
	"Every image and container command does this when needed; 'up' is for",
	"giving options, which are remembered in ROOT/DRIVER/config. Options",
	"that size or place the store only count the first time it is made:",
	"",
	"  devicemapper: size=, metasize=, basesize=, fs=ext4|xfs,",
	"                datadev=DEV and metadatadev=DEV (block devices)",
	"  btrfs, zfs:   size= (of the sparse file on a loop device), or",
	"                device=DEV (a block device, wiped)",
	"  cowfs, overlay2: none (layers live under ROOT/DRIVER)",
	"",
	"Options:",
	"  -o, --opt KEY=VALUE a driver option; repeat for more",
	DRV_USAGE_OPTS,
	"  -h, --help          print this help",
	"",
	"Example:",
	"  cowctl driver up -d devicemapper -o size=4G -o fs=xfs",
	NULL,
};

static const char *const down_usage[] = {
	"cowctl driver down [OPTIONS]",
	"Take a storage driver's backing store down; its data is kept.",
	"",
	"Unmounts the driver's containers, then removes its device-mapper",
	"devices, unmounts its filesystem or exports its pool; the loop devices",
	"go away with them. The next command that needs the store brings it up.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -h, --help          print this help",
	NULL,
};

static const char *const destroy_usage[] = {
	"cowctl driver destroy [OPTIONS]",
	"Remove all containers and images of a driver, and its backing store.",
	"",
	"Leaves no mounts, loop devices, device-mapper devices or pools behind",
	"and deletes ROOT/DRIVER.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -h, --help          print this help",
	NULL,
};

static const char *const df_usage[] = {
	"cowctl driver df [OPTIONS]",
	"Show the disk space a driver's backing store uses.",
	"",
	"USED and TOTAL are those of the backing store: the filesystem of",
	"ROOT for cowfs and overlay2, the thin pool's data blocks for",
	"devicemapper, the btrfs filesystem, the zfs pool's allocated space.",
	"",
	"Options:",
	DRV_USAGE_OPTS,
	"  -j, --json          print a JSON object (bytes)",
	"  -h, --help          print this help",
	NULL,
};

const char *const driver_usage[] = {
	"cowctl driver COMMAND [ARGS...]",
	"Manage the storage drivers.",
	"",
	"Drivers: cowfs (default), overlay2, devicemapper, btrfs, zfs. " AUFS_NOTE ".",
	NULL,
};

static const struct cmd drv_cmds[] = {
	{ "ls",		drv_ls,		ls_usage_ },
	{ "list",	drv_ls,		ls_usage_ },
	{ "status",	drv_status,	status_usage },
	{ "up",		drv_up,		up_usage },
	{ "down",	drv_down,	down_usage },
	{ "destroy",	drv_destroy,	destroy_usage },
	{ "df",		drv_df,		df_usage },
	{ NULL, NULL, NULL },
};

int cmd_driver(int argc, char **argv)
{
	return cmd_group(drv_cmds, "driver", driver_usage, argc, argv);
}

static const struct option common_opts[] = {
	DRV_LONGOPTS,
	CMD_COMMON_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

/*
 * The options of a driver command that takes -d/-r and no arguments.
 * True with *ret = EXIT_OK to go on; false with the exit status in *ret
 * after --help or a usage error.
 */
static bool drv_only_opts(int argc, char **argv, struct drv_args *a, int *ret)
{
	*ret = EXIT_OK;
	if (drv_getopt(argc, argv, ":hjd:r:", common_opts, a, ret) < 0)
		return false;
	*ret = cmd_no_args(argc, argv);
	return *ret == EXIT_OK;
}

/* Is driver @d set up in @root ("up", "down"), or not at all ("-")? */
static const char *state_of(const struct storage_driver *d, const char *root)
{
	struct drv_args a = { .driver = d->name, .root = root };
	struct drv_ctx ctx;
	const char *s;

	if (drv_ctx_open(&ctx, &a, CTX_NOCREATE))
		return "-";
	s = d->is_up(&ctx) ? "up" : "down";
	drv_ctx_close(&ctx);
	return s;
}

/* One object per driver: name, available, reason, state. */
static void print_driver_list(const char *root, bool table)
{
	open_json_array(PRINT_JSON, table ? NULL : "storage_drivers");
	if (table && !is_json_context())
		printf("%-13s %-9s %-5s %s\n", "DRIVER", "AVAILABLE", "STATE",
		       "DESCRIPTION");
	for (const struct storage_driver *const *d = storage_drivers; *d; d++) {
		char why[512] = "";
		int err = (*d)->probe(why, sizeof(why));

		open_json_object(NULL);
		if (table) {
			print_string(PRINT_ANY, "name", "%-13s ", (*d)->name);
			print_bool(PRINT_ANY, "available", "%-9s ", !err);
			print_string(PRINT_ANY, "state", "%-5s ",
				     state_of(*d, root));
			print_string(PRINT_ANY, "description", "%s\n",
				     (*d)->summary);
			if (err)
				print_string(PRINT_ANY, "reason",
					     "              not available: %s\n", why);
			else
				print_null(PRINT_JSON, "reason", NULL, NULL);
		} else {
			print_string(PRINT_ANY, "name", " %-13s", (*d)->name);
			print_bool(PRINT_JSON, "available", NULL, !err);
			print_string(PRINT_ANY, "state", NULL, state_of(*d, root));
			if (err)
				print_string(PRINT_ANY, "reason",
					     "not available: %s\n", why);
			else
				print_string(PRINT_FP, NULL, "%s\n",
					     !strcmp(state_of(*d, root), "-") ?
					     "available" :
					     !strcmp(state_of(*d, root), "up") ?
					     "available, up" : "available, down");
			if (!err)
				print_null(PRINT_JSON, "reason", NULL, NULL);
		}
		close_json_object();
	}
	open_json_object(NULL);
	print_string(PRINT_ANY, "name", table ? "%-13s " : " %-13s", "aufs");
	print_bool(PRINT_JSON, "available", NULL, false);
	if (table) {
		print_string(PRINT_FP, NULL, "%-9s ", "no");
		print_string(PRINT_ANY, "state", "%-5s ", "-");
	}
	print_string(PRINT_ANY, "reason", table ? "%s\n" : "not available: %s\n",
		     AUFS_NOTE);
	close_json_object();
	close_json_array(PRINT_JSON, NULL);
}

/*
 * The driver's status lines; inside an open JSON object.  Opens the
 * context without creating anything.
 */
static int print_driver_status(const struct drv_args *a)
{
	struct strvec imgs = STRVEC_INIT, ctrs = STRVEC_INIT;
	struct drv_ctx ctx;
	const struct storage_driver *d = driver_find(drv_args_driver(a));
	unsigned int mounted = 0;
	char why[512] = "";
	int c, err;

	if (!d) {
		drv_ctx_open(&ctx, a, CTX_NOCREATE);	/* prints the error */
		return -EINVAL;
	}
	err = d->probe(why, sizeof(why));
	print_string(PRINT_ANY, "name", "Storage Driver: %s\n", d->name);
	print_string(PRINT_ANY, "description", " Description: %s\n", d->summary);
	print_bool(PRINT_ANY, "available", " Available: %s", !err);
	if (err)
		print_string(PRINT_ANY, "reason", " (%s)\n", why);
	else
		print_nl();
	c = drv_ctx_open(&ctx, a, CTX_NOCREATE);
	if (c < 0)
		return c;
	if (c == 1) {
		print_string(PRINT_ANY, "root_dir", " Root Dir: %s\n", NULL);
		print_string(PRINT_ANY, "state", " State: %s\n",
			     "not set up (the first image or container command sets it up)");
		return 0;
	}
	list_names(&ctx, "images", &imgs);
	list_names(&ctx, "containers", &ctrs);
	for (size_t i = 0; i < ctrs.n; i++) {
		struct meta m = META_INIT;
		char *mp;

		ctr_meta(&ctx, ctrs.v[i], &m);
		mp = ctr_mountpoint(&ctx, ctrs.v[i], &m);
		mounted += !!mp;
		free(mp);
		meta_free(&m);
	}
	print_string(PRINT_ANY, "root_dir", " Root Dir: %s\n", ctx.dir);
	print_string(PRINT_ANY, "state", " State: %s\n",
		     d->is_up(&ctx) ? "up" : "down");
	print_uint(PRINT_ANY, "images", " Images: %u\n", imgs.n);
	print_uint(PRINT_ANY, "containers", " Containers: %u", ctrs.n);
	print_uint(PRINT_ANY, "mounted", " (%u mounted)\n", mounted);
	d->status(&ctx);
	for (size_t i = 0; i < ctx.config.keys.n; i++) {
		if (!i)
			open_json_object("options");
		print_string(PRINT_FP, NULL, " Option: %s=", ctx.config.keys.v[i]);
		print_string(PRINT_ANY, ctx.config.keys.v[i], "%s\n",
			     ctx.config.vals.v[i]);
		if (i + 1 == ctx.config.keys.n)
			close_json_object();
	}
	strvec_free(&imgs);
	strvec_free(&ctrs);
	drv_ctx_close(&ctx);
	return 0;
}

/* Called by 'cowctl info' inside its JSON object. */
void print_storage_info(void)
{
	struct drv_args a = { 0 };

	print_nl();
	open_json_object("storage_driver");
	print_driver_status(&a);
	close_json_object();
	print_string(PRINT_FP, NULL, "%s\n", "Storage Drivers:");
	print_driver_list(NULL, false);
}

static int drv_ls(int argc, char **argv)
{
	struct drv_args a = { 0 };
	int ret;

	if (!drv_only_opts(argc, argv, &a, &ret))
		return ret;
	print_driver_list(a.root, true);
	return EXIT_OK;
}

static int drv_status(int argc, char **argv)
{
	struct drv_args a = { 0 };
	int ret;

	if (!drv_only_opts(argc, argv, &a, &ret))
		return ret;
	open_json_object(NULL);
	ret = print_driver_status(&a) ? EXIT_FAIL : EXIT_OK;
	close_json_object();
	return ret;
}

static int drv_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "opt", required_argument, NULL, 'o' },
		DRV_LONGOPTS,
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct drv_args a = { 0 };
	struct strvec kv = STRVEC_INIT;
	struct drv_ctx ctx;
	char *path;
	int c, ret = EXIT_OK;

	while ((c = drv_getopt(argc, argv, ":hjd:r:o:", opts, &a, &ret)) > 0) {
		const char *eq = strchr(optarg, '=');

		if (!eq || eq == optarg) {
			strvec_free(&kv);
			return usage_error("-o '%s' is not KEY=VALUE",
					   msg_path(optarg));
		}
		strvec_push(&kv, optarg);
	}
	if (c < 0) {
		strvec_free(&kv);
		return ret;
	}
	ret = cmd_no_args(argc, argv);
	if (ret) {
		strvec_free(&kv);
		return ret;
	}
	if (drv_ctx_open(&ctx, &a, 0)) {
		strvec_free(&kv);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < kv.n; i++) {
		char *eq = strchr(kv.v[i], '=');
		bool known = false;

		*eq = '\0';
		for (const char *const *h = ctx.drv->opts_help; *h; h++)
			if (!strncmp(*h, kv.v[i], strlen(kv.v[i])) &&
			    (*h)[strlen(kv.v[i])] == '=')
				known = true;
		if (!known) {
			drv_err(&ctx, "unknown option '%s' (see 'cowctl driver up --help')",
				kv.v[i]);
			ret = EXIT_USAGE;
			goto out;
		}
		meta_set(&ctx.config, kv.v[i], eq + 1);
	}
	if (kv.n) {
		path = ctx_path(&ctx, "config", NULL);
		c = meta_save(&ctx.config, path);
		if (c)
			drv_err(&ctx, "cannot write %s: %s", path, strerror(-c));
		free(path);
		if (c) {
			ret = EXIT_FAIL;
			goto out;
		}
	}
	if (drv_ctx_up(&ctx))
		ret = EXIT_FAIL;
out:
	strvec_free(&kv);
	drv_ctx_close(&ctx);
	return ret;
}

static int down_ctx(struct drv_ctx *ctx)
{
	if (ctr_umount_all(ctx))
		return -EBUSY;
	if (!ctx->drv->is_up(ctx))
		return 0;
	return ctx->drv->down(ctx);
}

static int drv_down(int argc, char **argv)
{
	struct drv_args a = { 0 };
	struct drv_ctx ctx;
	int c, ret;

	if (!drv_only_opts(argc, argv, &a, &ret))
		return ret;
	c = drv_ctx_open(&ctx, &a, CTX_NOCREATE);
	if (c)
		return c < 0 ? EXIT_FAIL : EXIT_OK;
	ret = down_ctx(&ctx) ? EXIT_FAIL : EXIT_OK;
	drv_ctx_close(&ctx);
	return ret;
}

static int drv_destroy(int argc, char **argv)
{
	struct drv_args a = { 0 };
	struct strvec names = STRVEC_INIT;
	struct drv_ctx ctx;
	int c, ret;

	if (!drv_only_opts(argc, argv, &a, &ret))
		return ret;
	c = drv_ctx_open(&ctx, &a, CTX_NOCREATE);
	if (c)
		return c < 0 ? EXIT_FAIL : EXIT_OK;
	/*
	 * With the store up, remove the containers and images one by one
	 * (a pool on a given device is cleaned); then take it down and
	 * delete its files.
	 */
	if (ctr_umount_all(&ctx)) {
		ret = EXIT_FAIL;
		goto out;
	}
	list_names(&ctx, "containers", &names);
	if (names.n && !drv_ctx_up(&ctx))
		for (size_t i = 0; i < names.n; i++)
			if (ctr_remove_one(&ctx, names.v[i], true))
				ret = EXIT_FAIL;
	strvec_free(&names);
	if (ret == EXIT_OK && down_ctx(&ctx))
		ret = EXIT_FAIL;
	if (ret == EXIT_OK && ctx.drv->destroy(&ctx))
		ret = EXIT_FAIL;
	if (ret == EXIT_OK) {
		c = rm_rf(ctx.dir);
		if (c) {
			drv_err(&ctx, "cannot remove %s: %s", ctx.dir,
				strerror(-c));
			ret = EXIT_FAIL;
		}
	}
out:
	drv_ctx_close(&ctx);
	return ret;
}

static int drv_df(int argc, char **argv)
{
	struct drv_args a = { 0 };
	struct strvec imgs = STRVEC_INIT, ctrs = STRVEC_INIT;
	struct drv_ctx ctx;
	uint64_t used = 0, total = 0;
	int c, ret;

	if (!drv_only_opts(argc, argv, &a, &ret))
		return ret;
	if (drv_ctx_open(&ctx, &a, CTX_UP))
		return EXIT_FAIL;
	c = ctx.drv->df(&ctx, &used, &total);
	if (c) {
		drv_err(&ctx, "cannot read the backing store's usage: %s",
			strerror(-c));
		drv_ctx_close(&ctx);
		return EXIT_FAIL;
	}
	list_names(&ctx, "images", &imgs);
	list_names(&ctx, "containers", &ctrs);
	open_json_object(NULL);
	if (!is_json_context())
		printf("%-13s %14s %14s %7s %11s\n", "DRIVER", "USED", "TOTAL",
		       "IMAGES", "CONTAINERS");
	print_string(PRINT_ANY, "driver", "%-13s ", ctx.drv->name);
	print_u64(PRINT_ANY, "used", "%14" PRIu64 " ", used);
	print_u64(PRINT_ANY, "total", "%14" PRIu64 " ", total);
	print_uint(PRINT_ANY, "images", "%7u ", imgs.n);
	print_uint(PRINT_ANY, "containers", "%11u\n", ctrs.n);
	close_json_object();
	strvec_free(&imgs);
	strvec_free(&ctrs);
	drv_ctx_close(&ctx);
	return EXIT_OK;
}
