// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: the storage driver registry, the driver context (root directory,
 * lock, options) and the image/container metadata every driver shares.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "utils.h"

const struct storage_driver *const storage_drivers[] = {
	&drv_cowfs,
	&drv_overlay2,
	&drv_devicemapper,
	&drv_btrfs,
	&drv_zfs,
	NULL,
};

const struct storage_driver *driver_find(const char *name)
{
	for (const struct storage_driver *const *d = storage_drivers; *d; d++)
		if (!strcmp((*d)->name, name))
			return *d;
	/* Docker's names for the same thing. */
	if (!strcmp(name, "overlay"))
		return &drv_overlay2;
	if (!strcmp(name, "dm"))
		return &drv_devicemapper;
	return NULL;
}

/* ---- metadata ---- */

const char *meta_get(const struct meta *m, const char *key)
{
	for (size_t i = 0; i < m->keys.n; i++)
		if (!strcmp(m->keys.v[i], key))
			return m->vals.v[i];
	return NULL;
}

void meta_set(struct meta *m, const char *key, const char *val)
{
	for (size_t i = 0; i < m->keys.n; i++)
		if (!strcmp(m->keys.v[i], key)) {
			free(m->vals.v[i]);
			m->vals.v[i] = xstrdup(val);
			return;
		}
	strvec_push(&m->keys, key);
	strvec_push(&m->vals, val);
}

void meta_setf(struct meta *m, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		v = NULL;
	va_end(ap);
	if (!v) {
		fputs("cowctl: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	meta_set(m, key, v);
	free(v);
}

void meta_free(struct meta *m)
{
	strvec_free(&m->keys);
	strvec_free(&m->vals);
}

int meta_load(struct meta *m, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *eq;

		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (!eq || line[0] == '#')
			continue;
		*eq = '\0';
		meta_set(m, line, eq + 1);
	}
	free(line);
	fclose(f);
	return 0;
}

int meta_save(const struct meta *m, const char *path)
{
	char *tmp;
	FILE *f;
	int ret = 0;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	f = fopen(tmp, "we");
	if (!f) {
		ret = -errno;
		free(tmp);
		return ret;
	}
	for (size_t i = 0; i < m->keys.n; i++)
		fprintf(f, "%s=%s\n", m->keys.v[i], m->vals.v[i]);
	if (fflush(f) || fsync(fileno(f)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* ---- options and context ---- */

bool driver_opt(struct drv_args *a, int c, const char *arg)
{
	if (c == DRV_OPT_DRIVER)
		a->driver = arg;
	else if (c == DRV_OPT_ROOT)
		a->root = arg;
	else
		return false;
	return true;
}

const char *drv_args_driver(const struct drv_args *a)
{
	const char *e = getenv("COWCTL_DRIVER");

	if (a && a->driver)
		return a->driver;
	return e && *e ? e : COWCTL_DEFAULT_DRIVER;
}

const char *drv_args_root(const struct drv_args *a)
{
	const char *e = getenv("COWCTL_ROOT");

	if (a && a->root)
		return a->root;
	return e && *e ? e : COWCTL_DEFAULT_ROOT;
}

char *ctx_path(const struct drv_ctx *ctx, const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s%s%s", ctx->dir, a, b ? "/" : "", b ? b : "") < 0) {
		fputs("cowctl: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return p;
}

const char *ctx_opt(const struct drv_ctx *ctx, const char *key,
		    const char *def)
{
	const char *v = meta_get(&ctx->config, key);

	return v && *v ? v : def;
}

static void ctx_tag(struct drv_ctx *ctx)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *s = ctx->dir; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	snprintf(ctx->tag, sizeof(ctx->tag), "%08x", h);
}

int drv_ctx_open(struct drv_ctx *ctx, const struct drv_args *a,
		 unsigned int flags)
{
	const char *dname = drv_args_driver(a);
	const char *root = drv_args_root(a);
	char *path;
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ctx->lock_fd = -1;
	ctx->drv = driver_find(dname);
	if (!ctx->drv) {
		error_msg("unknown storage driver '%s': the drivers are cowfs, overlay2, devicemapper, btrfs and zfs%s",
			  dname, !strcmp(dname, "aufs") ?
			  " (aufs is not in mainline Linux: use cowfs, which stands in for it)" :
			  "");
		return -EINVAL;
	}
	if (root[0] != '/') {
		error_msg("the root directory '%s' must be an absolute path",
			  msg_path(root));
		return -EINVAL;
	}
	if (!(flags & CTX_NOCREATE)) {
		ret = mkdir_p(root, 0711);
		if (ret) {
			error_msg("cannot create the root directory '%s': %s",
				  msg_path(root), strerror(-ret));
			return ret;
		}
	}
	ctx->root = realpath(root, NULL);
	if (!ctx->root) {
		ret = -errno;
		if (flags & CTX_NOCREATE && ret == -ENOENT)
			return 1;
		error_msg("cannot use the root directory '%s': %s",
			  msg_path(root), strerror(-ret));
		return ret;
	}
	if (asprintf(&ctx->dir, "%s/%s", ctx->root, ctx->drv->name) < 0)
		return -ENOMEM;
	ctx_tag(ctx);
	if (flags & CTX_NOCREATE && access(ctx->dir, F_OK) < 0) {
		drv_ctx_close(ctx);
		return 1;
	}
	for (const char *const *sub = (const char *const[]){
		     "images", "containers", "mnt", NULL }; *sub; sub++) {
		path = ctx_path(ctx, *sub, NULL);
		ret = mkdir_p(path, 0700);
		if (ret) {
			error_msg("cannot create '%s': %s", msg_path(path),
				  strerror(-ret));
			free(path);
			drv_ctx_close(ctx);
			return ret;
		}
		free(path);
	}
	path = ctx_path(ctx, "lock", NULL);
	ctx->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ctx->lock_fd < 0 || flock(ctx->lock_fd, LOCK_EX) < 0) {
		ret = -errno;
		error_msg("cannot lock '%s': %s", msg_path(path),
			  strerror(-ret));
		free(path);
		drv_ctx_close(ctx);
		return ret;
	}
	free(path);
	path = ctx_path(ctx, "config", NULL);
	ret = meta_load(&ctx->config, path);
	free(path);
	if (ret && ret != -ENOENT) {
		error_msg("cannot read %s/config: %s", ctx->dir, strerror(-ret));
		drv_ctx_close(ctx);
		return ret;
	}
	if (flags & CTX_UP) {
		ret = drv_ctx_up(ctx);
		if (ret) {
			drv_ctx_close(ctx);
			return ret;
		}
	}
	return 0;
}

int drv_ctx_up(struct drv_ctx *ctx)
{
	char why[512];
	int ret;

	if (ctx->drv->is_up(ctx))
		return 0;
	why[0] = '\0';
	ret = ctx->drv->probe(why, sizeof(why));
	if (ret) {
		drv_err(ctx, "%s", why[0] ? why : strerror(-ret));
		return ret;
	}
	if (geteuid() != 0) {
		drv_err(ctx, "setting up the backing store needs root: run cowctl as root");
		return -EPERM;
	}
	ret = ctx->drv->up(ctx);
	return ret > 0 ? -EIO : ret;
}

void drv_ctx_close(struct drv_ctx *ctx)
{
	if (ctx->lock_fd >= 0)
		close(ctx->lock_fd);
	ctx->lock_fd = -1;
	meta_free(&ctx->config);
	free(ctx->root);
	free(ctx->dir);
	ctx->root = ctx->dir = NULL;
}

/* ---- images and containers ---- */

bool name_valid(const char *what, const char *name)
{
	size_t len = strlen(name);

	if (!len || len > 64 || !isalnum((unsigned char)name[0]))
		goto bad;
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			goto bad;
	return true;
bad:
	usage_error("%s name '%s' is not valid: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
		    what, msg_path(name));
	return false;
}

static int load_kind(struct drv_ctx *ctx, const char *kind, const char *name,
		     struct meta *m)
{
	char *path = ctx_path(ctx, kind, name);
	int ret = meta_load(m, path);

	free(path);
	return ret;
}

int image_meta(struct drv_ctx *ctx, const char *name, struct meta *m)
{
	return load_kind(ctx, "images", name, m);
}

int ctr_meta(struct drv_ctx *ctx, const char *name, struct meta *m)
{
	return load_kind(ctx, "containers", name, m);
}

int image_chain(struct drv_ctx *ctx, const char *name, struct strvec *out)
{
	char *cur = xstrdup(name);

	while (cur) {
		struct meta m = META_INIT;
		const char *parent;
		int ret = image_meta(ctx, cur, &m);

		if (ret) {
			drv_err(ctx, "image '%s' in the chain of '%s' is missing: %s",
				cur, name, strerror(-ret));
			free(cur);
			meta_free(&m);
			return ret;
		}
		if (out->n > 4096) {
			drv_err(ctx, "the parent chain of image '%s' loops", name);
			free(cur);
			meta_free(&m);
			return -ELOOP;
		}
		strvec_push_owned(out, cur);
		parent = meta_get(&m, "parent");
		cur = parent && *parent ? xstrdup(parent) : NULL;
		meta_free(&m);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void list_names(struct drv_ctx *ctx, const char *kind, struct strvec *out)
{
	char *path = ctx_path(ctx, kind, NULL);
	DIR *d = opendir(path);
	struct dirent *e;

	free(path);
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' ||
		    (len > 4 && !strcmp(e->d_name + len - 4, ".tmp")))
			continue;
		strvec_push(out, e->d_name);
	}
	if (d)
		closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

char *ctr_mountpoint(struct drv_ctx *ctx, const char *name,
		     const struct meta *m)
{
	const char *mp = meta_get(m, "mountpoint");

	(void)ctx;
	(void)name;
	if (mp && *mp && is_mounted(mp, NULL))
		return xstrdup(mp);
	return NULL;
}
