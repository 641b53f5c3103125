// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: unpack a layer (a directory or a tar stream) and convert its OCI
 * whiteouts to a storage driver's form.
 *
 * OCI image layers mark deletions with whiteout files:
 *
 *	dir/.wh.NAME		NAME was deleted from the layers below
 *	dir/.wh..wh..opq	dir is opaque: nothing below shows through
 *
 * The union drivers (cowfs, overlay2) keep a layer as a directory, and
 * the kernel reads whiteouts in overlayfs' form: a character device 0/0
 * named NAME, and the xattr trusted.overlay.opaque="y" on an opaque
 * directory (WH_OVERLAY).  The snapshot drivers (devicemapper, btrfs, zfs)
 * start a layer as a copy of its parent, so whiteouts are applied: NAME
 * is deleted, an opaque directory emptied first (WH_APPLY).
 *
 * The archive is read by GNU tar (numeric owners, permissions, xattrs;
 * compressed archives are recognized), a directory is streamed through
 * a tar pipe, so both sources take the same path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "utils.h"

#define WH_PREFIX	".wh."
#define WH_META_PREFIX	".wh..wh."
#define WH_OPAQUE	".wh..wh..opq"
#define OVL_OPAQUE_XATTR "trusted.overlay.opaque"
#define STAGING		".cowctl-staging"

static const char *const tar_x[] = {
	"tar", "--extract", "--numeric-owner", "--preserve-permissions",
	"--same-owner", "--xattrs", "--xattrs-include=*", "--no-overwrite-dir",
	"--delay-directory-restore",
};

static const char *const tar_c[] = {
	"tar", "--create", "--numeric-owner", "--xattrs", "--xattrs-include=*",
	"--sparse",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static pid_t spawn(const char *const *argv, int in, int out)
{
	char *prog = find_prog(argv[0]);
	pid_t pid;

	if (!prog)
		return -ENOENT;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0)
			dup2(out, 1);
		execv(prog, (char *const *)argv);
		fprintf(stderr, "cowctl: exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	free(prog);
	return pid < 0 ? -errno : pid;
}

static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Unpack @src into the (existing, empty) directory @dest with tar. */
static int untar(const struct drv_ctx *ctx, const struct layer_src *src,
		 const char *dest)
{
	const char *xv[NELEM(tar_x) + 6], *cv[NELEM(tar_c) + 6];
	size_t n = 0, m = 0;
	int pfd[2] = { -1, -1 }, rc, rc2 = 0;
	pid_t prod = -1, cons;

	for (size_t i = 0; i < NELEM(tar_x); i++)
		xv[n++] = tar_x[i];
	xv[n++] = "--directory";
	xv[n++] = dest;
	xv[n++] = "--file";
	xv[n++] = src->is_dir ? "-" : src->path;
	xv[n] = NULL;

	if (src->is_dir) {
		for (size_t i = 0; i < NELEM(tar_c); i++)
			cv[m++] = tar_c[i];
		cv[m++] = "--directory";
		cv[m++] = src->path;
		cv[m++] = "--file";
		cv[m++] = "-";
		cv[m++] = ".";
		cv[m] = NULL;
		if (pipe2(pfd, O_CLOEXEC) < 0) {
			drv_err(ctx, "cannot unpack '%s': pipe: %s",
				msg_path(src->path), strerror(errno));
			return -errno;
		}
		prod = spawn(cv, -1, pfd[1]);
		close(pfd[1]);
		if (prod < 0) {
			close(pfd[0]);
			drv_err(ctx, "tar not found: install tar");
			return (int)prod;
		}
	}
	cons = spawn(xv, pfd[0], -1);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (cons < 0) {
		if (prod > 0)
			reap(prod);
		drv_err(ctx, "tar not found: install tar");
		return (int)cons;
	}
	rc = reap(cons);
	if (prod > 0)
		rc2 = reap(prod);
	if (rc || rc2) {
		drv_err(ctx, "cannot unpack '%s': tar exited with status %d (see tar's message above)",
			msg_path(src->path), rc ? rc : rc2);
		return -EIO;
	}
	return 0;
}

/* The names in directory @path, without "." and "..". */
static int read_names(const char *path, struct strvec *out)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			strvec_push(out, e->d_name);
	closedir(d);
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0) {
		fputs("cowctl: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return p;
}

/* WH_OVERLAY: convert the whiteouts under @dir in place. */
static int convert_overlay(const struct drv_ctx *ctx, const char *dir)
{
	struct strvec names = STRVEC_INIT;
	int ret = read_names(dir, &names);

	if (ret) {
		drv_err(ctx, "cannot read '%s': %s", msg_path(dir),
			strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < names.n && !ret; i++) {
		const char *name = names.v[i];
		char *path = join(dir, name);
		struct stat st;

		if (!strcmp(name, WH_OPAQUE)) {
			if (lsetxattr(dir, OVL_OPAQUE_XATTR, "y", 1, 0) < 0) {
				ret = -errno;
				drv_err(ctx, "cannot mark '%s' opaque (xattr %s): %s",
					msg_path(dir), OVL_OPAQUE_XATTR,
					strerror(errno));
			} else if (unlink(path) < 0) {
				ret = -errno;
			}
		} else if (!strncmp(name, WH_META_PREFIX, strlen(WH_META_PREFIX))) {
			ret = rm_rf(path);	/* aufs bookkeeping: drop it */
		} else if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX))) {
			char *victim = join(dir, name + strlen(WH_PREFIX));

			ret = rm_rf(victim);
			if (!ret && unlink(path) < 0)
				ret = -errno;
			if (!ret && mknod(victim, S_IFCHR, makedev(0, 0)) < 0) {
				ret = -errno;
				drv_err(ctx, "cannot create the whiteout '%s': %s",
					msg_path(victim), strerror(errno));
			}
			free(victim);
		} else if (!lstat(path, &st) && S_ISDIR(st.st_mode)) {
			ret = convert_overlay(ctx, path);
		}
		free(path);
	}
	strvec_free(&names);
	return ret;
}

/* Give directory @dst the owner, mode and times of @src. */
static void copy_dir_attrs(const char *src, const char *dst)
{
	struct timespec ts[2];
	struct stat st;

	if (lstat(src, &st) < 0)
		return;
	if (lchown(dst, st.st_uid, st.st_gid) < 0 ||
	    chmod(dst, st.st_mode & 07777) < 0)
		return;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
}

/* WH_APPLY: apply the layer unpacked in @src to the snapshot dir @dst. */
static int apply_dir(const struct drv_ctx *ctx, const char *src,
		     const char *dst, bool top)
{
	struct strvec names = STRVEC_INIT;
	int ret = read_names(src, &names);
	bool opaque = false;

	if (ret) {
		drv_err(ctx, "cannot read '%s': %s", msg_path(src),
			strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < names.n; i++)
		if (!strcmp(names.v[i], WH_OPAQUE))
			opaque = true;
	if (opaque) {
		struct strvec old = STRVEC_INIT;

		read_names(dst, &old);
		for (size_t i = 0; i < old.n && !ret; i++) {
			char *p;

			if (top && !strcmp(old.v[i], STAGING))
				continue;
			p = join(dst, old.v[i]);
			ret = rm_rf(p);
			free(p);
		}
		strvec_free(&old);
	}
	/* Deletions first, then what the layer adds. */
	for (size_t i = 0; i < names.n && !ret; i++) {
		const char *name = names.v[i];
		char *victim;

		if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) ||
		    !strncmp(name, WH_META_PREFIX, strlen(WH_META_PREFIX)))
			continue;
		if (top && !strcmp(name + strlen(WH_PREFIX), STAGING))
			continue;
		victim = join(dst, name + strlen(WH_PREFIX));
		ret = rm_rf(victim);
		if (ret)
			drv_err(ctx, "cannot delete '%s' (whiteout): %s",
				msg_path(victim), strerror(-ret));
		free(victim);
	}
	for (size_t i = 0; i < names.n && !ret; i++) {
		const char *name = names.v[i];
		struct stat ss, ds;
		char *s, *d;

		if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX)))
			continue;
		s = join(src, name);
		d = join(dst, name);
		if (lstat(s, &ss) < 0) {
			ret = -errno;
		} else if (S_ISDIR(ss.st_mode) && !lstat(d, &ds) &&
			   S_ISDIR(ds.st_mode)) {
			ret = apply_dir(ctx, s, d, false);
			if (!ret)
				copy_dir_attrs(s, d);
		} else {
			ret = rm_rf(d);
			if (!ret && rename(s, d) < 0)
				ret = -errno;
			if (ret)
				drv_err(ctx, "cannot move '%s' into the layer: %s",
					msg_path(d), strerror(-ret));
		}
		free(s);
		free(d);
	}
	strvec_free(&names);
	return ret;
}

int layer_unpack(const struct drv_ctx *ctx, const struct layer_src *src,
		 const char *dir, enum wh_mode mode)
{
	char *stage;
	int ret;

	if (mode == WH_OVERLAY) {
		ret = untar(ctx, src, dir);
		return ret ? ret : convert_overlay(ctx, dir);
	}
	stage = join(dir, STAGING);
	rm_rf(stage);
	if (mkdir(stage, 0700) < 0) {
		ret = -errno;
		drv_err(ctx, "cannot create '%s': %s", msg_path(stage),
			strerror(errno));
		free(stage);
		return ret;
	}
	ret = untar(ctx, src, stage);
	if (!ret)
		ret = apply_dir(ctx, stage, dir, true);
	rm_rf(stage);
	free(stage);
	return ret;
}
