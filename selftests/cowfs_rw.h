/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the writable-union selftests (issue 3): a lower stack from
 * cowfs_util.h plus an upper layer and a workdir, optionally on their own
 * tmpfs (to make layers span filesystems, or to make the upper small),
 * and small checks of the upper layer's on-disk format.
 *
 * Like cowfs_util.h, everything mounts test_fstype(): run a test binary
 * with COWFS_TEST_FSTYPE=overlay to check it against overlayfs (the mount
 * options then include redirect_dir=on, which cowfs has by default).
 */
#ifndef COWFS_RW_H
#define COWFS_RW_H

#include "cowfs_util.h"

#include <sys/statfs.h>

#define OVL_ORIGIN_XATTR	"trusted.overlay.origin"
#define OVL_REDIRECT_XATTR	"trusted.overlay.redirect"
#define OVL_IMPURE_XATTR	"trusted.overlay.impure"

struct rw_env {
	struct cowfs_env e;
	char upper[PATH_MAX];
	char work[PATH_MAX];
	char extra[256];	/* options of the last rw_mount(), for remount */
};

static inline bool is_overlay(void)
{
	return !strcmp(test_fstype(), "overlay");
}

/* Make sure overlayfs is there (for the tests that mount both). */
static inline bool have_overlay(void)
{
	if (!fs_registered("overlay") &&
	    system("modprobe overlay >/dev/null 2>&1") != 0)
		return false;
	return fs_registered("overlay");
}

/* mount -t tmpfs (with @opts, may be NULL) on @dir, creating it. */
static inline int mount_tmpfs(const char *dir, const char *opts)
{
	int ret = mkdir_p(dir, 0755);

	if (ret)
		return ret;
	return mount("tmpfs", dir, "tmpfs", 0, opts) ? -errno : 0;
}

enum {
	RW_UPPER_FS = 1 << 0,	/* upper and work on a tmpfs of their own */
	RW_LOWER_FS = 1 << 1,	/* each lower layer on a tmpfs of its own */
};

/*
 * @n lower layers (see env_init()), upper "u" and workdir "w" in the base
 * directory, or in "ufs" (a tmpfs of size @upper_size, if not NULL) with
 * RW_UPPER_FS.
 */
static inline int rw_init(struct rw_env *rw, int n, int flags,
			  const char *upper_size)
{
	char opts[64];
	int i, ret;

	memset(rw, 0, sizeof(*rw));
	ret = env_init(&rw->e, n);
	if (ret)
		return ret;
	if (flags & RW_LOWER_FS) {
		for (i = 0; i < n; i++) {
			ret = mount_tmpfs(rw->e.layers[i], "mode=0755");
			if (ret)
				return ret;
		}
	}
	if (flags & RW_UPPER_FS) {
		snprintf(opts, sizeof(opts), "mode=0755%s%s",
			 upper_size ? ",size=" : "", upper_size ?: "");
		ret = mount_tmpfs(pathf("%s/ufs", rw->e.base), opts);
		if (ret)
			return ret;
		snprintf(rw->upper, sizeof(rw->upper), "%s/ufs/u", rw->e.base);
		snprintf(rw->work, sizeof(rw->work), "%s/ufs/w", rw->e.base);
	} else {
		snprintf(rw->upper, sizeof(rw->upper), "%s/u", rw->e.base);
		snprintf(rw->work, sizeof(rw->work), "%s/w", rw->e.base);
	}
	return mkdir_p(rw->upper, 0755) ?: mkdir_p(rw->work, 0755);
}

static inline void rw_cleanup(struct rw_env *rw)
{
	env_cleanup(&rw->e);
}

/* "lowerdir=..,upperdir=..,workdir=..[,redirect_dir=on][,@extra]" */
static inline char *rw_opts_for(struct rw_env *rw, const char *upper,
				const char *work, const char *extra)
{
	char *lower = lowerdir_opt((const char *const *)rw->e.layers,
				   rw->e.nlayers);
	char *opts = NULL;

	if (!lower)
		return NULL;
	if (asprintf(&opts, "%s,upperdir=%s,workdir=%s%s%s%s", lower, upper,
		     work, is_overlay() ? ",redirect_dir=on" : "",
		     extra && *extra ? "," : "", extra ?: "") < 0)
		opts = NULL;
	free(lower);
	return opts;
}

/* Mount the union with upper and work dirs @upper and @work on @mnt. */
static inline int rw_mount_at(struct rw_env *rw, const char *mnt,
			      const char *upper, const char *work,
			      const char *extra)
{
	char *opts = rw_opts_for(rw, upper, work, extra);
	int ret;

	if (!opts)
		return -ENOMEM;
	ret = mount_data(mnt, opts);
	free(opts);
	return ret;
}

static inline int rw_mount(struct rw_env *rw, const char *extra)
{
	if (extra != rw->extra)
		snprintf(rw->extra, sizeof(rw->extra), "%s", extra ?: "");
	return rw_mount_at(rw, rw->e.mnt, rw->upper, rw->work, rw->extra);
}

static inline int rw_umount(struct rw_env *rw)
{
	return umount2(rw->e.mnt, 0) ? -errno : 0;
}

/* Unmount, drop the caches and mount again with the same layers. */
static inline int rw_remount(struct rw_env *rw)
{
	int ret = rw_umount(rw);

	if (ret)
		return ret;
	drop_caches();
	return rw_mount(rw, rw->extra);
}

#define MP(rw, rel)	pathf("%s/%s", (rw)->e.mnt, rel)	/* merged */
#define UP(rw, rel)	pathf("%s/%s", (rw)->upper, rel)	/* upper */
#define LP(rw, i, rel)	pathf("%s/%s", (rw)->e.layers[i], rel)	/* lower */

/* Is @path an overlayfs whiteout (a 0/0 character device)? */
static inline bool is_whiteout(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

/* lstat()'s S_IFMT of @path, 0 if it does not exist. */
static inline mode_t ftype(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_mode & S_IFMT;
}

/* Value of xattr @name of @path (not followed) as a string, or "<errno>". */
static inline const char *xattr_str(const char *path, const char *name)
{
	static char bufs[4][PATH_MAX];
	static unsigned int next;
	char *buf = bufs[next++ % 4];
	ssize_t n = lgetxattr(path, name, buf, PATH_MAX - 1);

	if (n < 0)
		snprintf(buf, PATH_MAX, "<%s>", strerror(errno));
	else
		buf[n] = '\0';
	return buf;
}

/* Number of entries of directory @path but "." and "..", -errno if none. */
static inline int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Is name @name listed in directory @dir? */
static inline bool dir_lists(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		found = !strcmp(de->d_name, name);
	closedir(d);
	return found;
}

/*
 * Entries left in workdir/work (temporary objects), -errno if unreadable.
 * overlayfs keeps one whiteout there to hard-link new whiteouts to: its
 * whiteouts do not count.
 */
static inline int work_leftovers(struct rw_env *rw)
{
	const char *work = pathf("%s/work", rw->work);
	DIR *d = opendir(work);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (is_overlay() &&
		    is_whiteout(pathf("%s/%s", work, de->d_name)))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static inline int rw_renameat2(const char *from, const char *to,
			       unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags) ?
	       -errno : 0;
}

/* -errno of @expr (a call returning -1 and setting errno), or 0. */
#define ERRNO_OF(expr)	((expr) < 0 ? -errno : 0)

/* ---- a comparable picture of a tree -------------------------------------- */

static inline int snap_filter(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

/*
 * Append one line per object under @dir (sorted, depth first) to the
 * malloc'ed string *@out: path, type, mode, size, the first bytes of a
 * file, a symlink's target and the user.* xattrs.
 */
static inline int tree_snapshot_at(const char *dir, const char *rel,
				   char **out, size_t *len)
{
	struct dirent **names;
	int i, n = scandir(dir, &names, snap_filter, alphasort);

	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		char path[PATH_MAX], r[PATH_MAX], line[PATH_MAX * 2];
		char extra[256] = "", xl[1024];
		struct stat st;
		ssize_t xn;
		char *p;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		snprintf(r, sizeof(r), "%s%s", rel, names[i]->d_name);
		if (lstat(path, &st)) {
			snprintf(extra, sizeof(extra), "lstat:%d", errno);
		} else if (S_ISREG(st.st_mode)) {
			char buf[48] = "";
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			ssize_t k = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

			if (fd >= 0)
				close(fd);
			for (p = buf; k > 0 && p < buf + k; p++)
				if (!isprint((unsigned char)*p))
					*p = '.';
			snprintf(extra, sizeof(extra), "[%s]", k < 0 ? "?" : buf);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlink(path, extra, sizeof(extra) - 1);

			extra[k < 0 ? 0 : k] = '\0';
		}
		xn = llistxattr(path, xl, sizeof(xl));
		snprintf(line, sizeof(line), "%s %o %lld %s", r,
			 (unsigned int)st.st_mode,
			 S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size,
			 extra);
		for (p = xl; xn > 0 && p < xl + xn; p += strlen(p) + 1) {
			if (strncmp(p, "user.", 5))
				continue;
			snprintf(line + strlen(line), sizeof(line) - strlen(line),
				 " %s=%s", p, xattr_str(path, p));
		}
		p = realloc(*out, *len + strlen(line) + 2);
		if (!p)
			return -ENOMEM;
		*out = p;
		*len += sprintf(*out + *len, "%s\n", line);
		if (S_ISDIR(st.st_mode)) {
			snprintf(r + strlen(r), sizeof(r) - strlen(r), "/");
			tree_snapshot_at(path, r, out, len);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

/* The snapshot of the tree under @dir, malloc'ed ("" for an empty dir). */
static inline char *tree_snapshot(const char *dir)
{
	char *out = strdup("");
	size_t len = 0;

	if (out && tree_snapshot_at(dir, "", &out, &len)) {
		free(out);
		return NULL;
	}
	return out;
}

/* A POSIX ACL xattr: user::rw- user:1234:r-- group::r-- mask::r-- other::--- */
static const unsigned char acl_blob[] __attribute__((unused)) = {
	2, 0, 0, 0,				/* version */
	1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,	/* ACL_USER_OBJ rw */
	2, 0, 4, 0, 0xd2, 0x04, 0, 0,		/* ACL_USER 1234 r */
	4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* ACL_GROUP_OBJ r */
	0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* ACL_MASK r */
	0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,	/* ACL_OTHER - */
};

/* Run a shell command quietly (output appended to @log); its status. */
static inline int run(const char *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int run(const char *log, const char *fmt, ...)
{
	char cmd[2048], full[2400];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "(%s) >>%s 2>&1", cmd, log);
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline bool have_cmd(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return !system(cmd);
}

#endif /* COWFS_RW_H */
