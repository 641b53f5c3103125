/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the cowfs selftests: building lower layers under a
 * private mkdtemp() directory, mounting a union over them with the legacy
 * mount(2) API or the new mount API, inspecting /proc/self/mountinfo and
 * cleaning everything up again.
 *
 * The filesystem type under test is "cowfs" unless COWFS_TEST_FSTYPE says
 * otherwise (e.g. "overlay", to validate the tests against overlayfs).
 */
#ifndef COWFS_UTIL_H
#define COWFS_UTIL_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#define COWFS_MAX_LAYERS	500
#define COWFS_OPAQUE_XATTR	"trusted.overlay.opaque"
#define NOBODY_ID		65534

static inline const char *test_fstype(void)
{
	const char *t = getenv("COWFS_TEST_FSTYPE");

	return t && *t ? t : "cowfs";
}

/* Is @type listed in /proc/filesystems? */
static inline bool fs_registered(const char *type)
{
	char line[256], name[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, '\t');

		if (sscanf(p ? p + 1 : line, "%127s", name) == 1 &&
		    !strcmp(name, type))
			found = true;
	}
	fclose(f);
	return found;
}

/* Use at the start of FIXTURE_SETUP(): skip when the fs is not available. */
#define REQUIRE_FSTYPE() do { \
	if (getuid() != 0) \
		SKIP(return, "must run as root"); \
	if (!fs_registered(test_fstype())) \
		SKIP(return, "filesystem type %s not registered", test_fstype()); \
} while (0)

/*
 * Small rotating buffer pool for building paths inline: each call returns
 * a buffer that stays valid for the next 15 calls.
 */
static inline char *pathf(const char *fmt, ...)
{
	static char bufs[16][PATH_MAX];
	static unsigned int next;
	char *buf = bufs[next++ % 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return buf;
}

static inline int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return chmod(tmp, mode) ? -errno : 0;
}

static inline int mkparent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	return mkdir_p(dir, 0755);
}

static inline int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Deterministic pseudo-random bytes (xorshift32) for file contents. */
static inline void fill_pattern(unsigned char *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		buf[i] = seed & 0xff;
	}
}

/* Create (or replace) a regular file with @len bytes of @data and @mode. */
static inline int mkfile_data(const char *path, const void *data, size_t len,
			      mode_t mode)
{
	int fd, ret = mkparent(path);

	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, data, len);
	if (!ret && fchmod(fd, mode))
		ret = -errno;
	close(fd);
	return ret;
}

static inline int mkfile(const char *path, const char *content)
{
	return mkfile_data(path, content, strlen(content), 0644);
}

/* An overlayfs whiteout: a 0/0 character device. */
static inline int mkwhiteout(const char *path)
{
	int ret = mkparent(path);

	if (ret)
		return ret;
	return mknod(path, S_IFCHR | 0, makedev(0, 0)) ? -errno : 0;
}

/* A directory marked opaque with trusted.overlay.opaque = "y". */
static inline int mkopaque(const char *dir)
{
	int ret = mkdir_p(dir, 0755);

	if (ret)
		return ret;
	return setxattr(dir, COWFS_OPAQUE_XATTR, "y", 1, 0) ? -errno : 0;
}

static inline int mksymlink(const char *path, const char *target)
{
	int ret = mkparent(path);

	if (ret)
		return ret;
	return symlink(target, path) ? -errno : 0;
}

/* Read up to @len - 1 bytes of @path into @buf, NUL terminated. */
static inline ssize_t read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - total);
		if (n < 0) {
			total = -errno;
			break;
		}
		if (!n)
			break;
		total += n;
	}
	close(fd);
	if (total >= 0)
		buf[total] = '\0';
	return total;
}

/* Bounded, easy to compare snapshot of a file's contents. */
static inline const char *slurp(const char *path)
{
	static char bufs[4][4096];
	static unsigned int next;
	char *buf = bufs[next++ % 4];
	ssize_t n = read_file(path, buf, sizeof(bufs[0]));

	if (n < 0)
		snprintf(buf, sizeof(bufs[0]), "<error %s>", strerror((int)-n));
	return buf;
}

/* -errno of stat(@path), 0 if it exists. */
static inline int stat_err(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -errno : 0;
}

static inline int lstat_err(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -errno : 0;
}

/* ---- /proc/self/mountinfo ---------------------------------------------- */

/* Undo the octal escaping of mountinfo fields (\040 etc.) in place. */
static inline void unescape_octal(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    isdigit(s[2]) && isdigit(s[3])) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

struct mnt_info {
	char fstype[64];
	char source[PATH_MAX];
	char mnt_opts[256];
	char *super_opts;	/* malloc'ed, may be long with 500 layers */
};

static inline void mnt_info_free(struct mnt_info *mi)
{
	free(mi->super_opts);
	mi->super_opts = NULL;
}

/*
 * Find the topmost mount on @mnt in /proc/self/mountinfo. Returns 1 if found
 * (and fills @mi if not NULL), 0 if nothing is mounted there, -errno on
 * error.
 */
static inline int mountinfo_find(const char *mnt, struct mnt_info *mi)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -errno;
	if (mi)
		memset(mi, 0, sizeof(*mi));
	while (getline(&line, &cap, f) > 0) {
		char *save, *field[6], *fstype, *source, *super;
		int i;

		line[strcspn(line, "\n")] = '\0';
		field[0] = strtok_r(line, " ", &save);
		for (i = 1; i < 6 && field[i - 1]; i++)
			field[i] = strtok_r(NULL, " ", &save);
		if (i < 6 || !field[5])
			continue;
		unescape_octal(field[4]);
		if (strcmp(field[4], mnt))
			continue;
		/* Skip optional fields up to the "-" separator. */
		while ((fstype = strtok_r(NULL, " ", &save)) && strcmp(fstype, "-"))
			;
		fstype = strtok_r(NULL, " ", &save);
		source = strtok_r(NULL, " ", &save);
		super = strtok_r(NULL, " ", &save);
		found = 1;	/* later lines are mounted on top: keep last */
		if (!mi)
			continue;
		mnt_info_free(mi);
		snprintf(mi->fstype, sizeof(mi->fstype), "%s", fstype ?: "");
		snprintf(mi->source, sizeof(mi->source), "%s", source ?: "");
		snprintf(mi->mnt_opts, sizeof(mi->mnt_opts), "%s", field[5]);
		mi->super_opts = strdup(super ?: "");
	}
	free(line);
	fclose(f);
	return found;
}

static inline bool is_mounted(const char *mnt)
{
	return mountinfo_find(mnt, NULL) == 1;
}

/*
 * Return the value of option @key in a comma separated option string as a
 * malloc'ed string (octal escapes undone), or NULL if absent.
 */
static inline char *opt_value(const char *opts, const char *key)
{
	size_t klen = strlen(key);
	const char *p = opts;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			char *v = strndup(p + klen + 1, len - klen - 1);

			if (v)
				unescape_octal(v);
			return v;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* lowerdir= value shown in /proc/self/mountinfo for @mnt (malloc'ed). */
static inline char *mountinfo_lowerdir(const char *mnt)
{
	struct mnt_info mi;
	char *v = NULL;

	if (mountinfo_find(mnt, &mi) == 1)
		v = opt_value(mi.super_opts, "lowerdir");
	mnt_info_free(&mi);
	return v;
}

/* Options field of the topmost /proc/mounts line for @mnt (malloc'ed). */
static inline char *proc_mounts_opts(const char *mnt)
{
	FILE *f = fopen("/proc/mounts", "re");
	char *line = NULL, *v = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		char *save, *dir, *opts;

		if (!strtok_r(line, " ", &save))
			continue;
		dir = strtok_r(NULL, " ", &save);
		if (!strtok_r(NULL, " ", &save))
			continue;
		opts = strtok_r(NULL, " ", &save);
		if (!dir || !opts)
			continue;
		unescape_octal(dir);
		if (strcmp(dir, mnt))
			continue;
		free(v);	/* keep the topmost mount */
		v = strdup(opts);
	}
	free(line);
	fclose(f);
	return v;
}

/* lowerdir= value shown in /proc/mounts for @mnt (malloc'ed). */
static inline char *proc_mounts_lowerdir(const char *mnt)
{
	char *opts = proc_mounts_opts(mnt);
	char *v = opts ? opt_value(opts, "lowerdir") : NULL;

	free(opts);
	return v;
}

/* ---- building the lowerdir= option ---------------------------------------- */

/* Append @path to @buf escaping ':' and '\' as the lowerdir= syntax needs. */
static inline int lowerdir_append(char *buf, size_t size, size_t *len,
				  const char *path)
{
	const char *p;

	for (p = path; *p; p++) {
		if (*len + 3 > size)
			return -E2BIG;
		if (*p == ':' || *p == '\\')
			buf[(*len)++] = '\\';
		buf[(*len)++] = *p;
	}
	buf[*len] = '\0';
	return 0;
}

/* Build "lowerdir=L0:L1:..." (top layer first) into a malloc'ed string. */
static inline char *lowerdir_opt(const char *const *layers, int n)
{
	size_t size = 16, len;
	char *buf;
	int i;

	for (i = 0; i < n; i++)
		size += 2 * strlen(layers[i]) + 1;
	buf = malloc(size);
	if (!buf)
		return NULL;
	len = (size_t)sprintf(buf, "lowerdir=");
	for (i = 0; i < n; i++) {
		if (i)
			buf[len++] = ':';
		lowerdir_append(buf, size, &len, layers[i]);
	}
	buf[len] = '\0';
	return buf;
}

/* Legacy mount(2) with raw option @data. Returns 0 or -errno. */
static inline int mount_data(const char *mnt, const char *data)
{
	return mount("none", mnt, test_fstype(), 0, data) ? -errno : 0;
}

/* mount -t cowfs none @mnt -o lowerdir=layers[0]:...:layers[n-1] */
static inline int mount_union(const char *mnt, const char *const *layers, int n)
{
	char *opt = lowerdir_opt(layers, n);
	int ret;

	if (!opt)
		return -ENOMEM;
	ret = mount_data(mnt, opt);
	free(opt);
	return ret;
}

/* ---- new mount API ------------------------------------------------------- */

struct fsparam {
	const char *key;
	const char *value;	/* NULL: FSCONFIG_SET_FLAG */
};

/* Drain the fs_context log of @fsfd into @log ("e cowfs: ...\n" lines). */
static inline void fsctx_read_log(int fsfd, char *log, size_t size)
{
	size_t len = strlen(log);
	char msg[1024];
	ssize_t n;

	while ((n = read(fsfd, msg, sizeof(msg) - 1)) > 0) {
		msg[n] = '\0';
		len += snprintf(log + len, len < size ? size - len : 0, "%s\n", msg);
		if (len >= size)
			len = size - 1;
	}
}

/*
 * fsopen(type) + one fsconfig() per parameter + FSCONFIG_CMD_CREATE +
 * fsmount() + move_mount() onto @mnt. Returns 0 or -errno of the first step
 * that failed; the fs_context log is left in @log (if not NULL).
 */
static inline int fsapi_mount(const char *mnt, const struct fsparam *p, int n,
			      char *log, size_t logsize)
{
	int fsfd, mfd, i, ret = 0;

	if (log && logsize)
		log[0] = '\0';
	fsfd = fsopen(test_fstype(), FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	for (i = 0; i < n && !ret; i++) {
		if (p[i].value)
			ret = fsconfig(fsfd, FSCONFIG_SET_STRING, p[i].key,
				       p[i].value, 0);
		else
			ret = fsconfig(fsfd, FSCONFIG_SET_FLAG, p[i].key,
				       NULL, 0);
		if (ret)
			ret = -errno;
	}
	if (!ret && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		ret = -errno;
	if (!ret) {
		mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
		if (mfd < 0) {
			ret = -errno;
		} else {
			if (move_mount(mfd, "", AT_FDCWD, mnt,
				       MOVE_MOUNT_F_EMPTY_PATH))
				ret = -errno;
			close(mfd);
		}
	}
	if (log && logsize)
		fsctx_read_log(fsfd, log, logsize);
	close(fsfd);
	return ret;
}

/*
 * Mount a union on @mnt over @layers (top first) plus @nextra extra
 * key=value options, either with legacy mount(2) ("lowerdir=a:b:c,k=v")
 * or with the new mount API (one "lowerdir+" per layer, then each extra).
 * With no layers and no extras, legacy mount(2) gets NULL data. Returns 0
 * or -errno; @log receives the fs_context log (new API only).
 */
static inline int union_mount(bool fsapi, const char *mnt,
			      const char *const *layers, int n,
			      const struct fsparam *extra, int nextra,
			      char *log, size_t logsize)
{
	struct fsparam *p;
	char *data = NULL, *tmp;
	size_t len = 0, size;
	int i, ret;

	if (log && logsize)
		log[0] = '\0';
	if (fsapi) {
		p = calloc(n + nextra + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			p[i] = (struct fsparam){ "lowerdir+", layers[i] };
		for (i = 0; i < nextra; i++)
			p[n + i] = extra[i];
		ret = fsapi_mount(mnt, p, n + nextra, log, logsize);
		free(p);
		return ret;
	}
	if (n) {
		data = lowerdir_opt(layers, n);
		if (!data)
			return -ENOMEM;
		len = strlen(data);
	}
	for (i = 0; i < nextra; i++) {
		size = len + strlen(extra[i].key) +
		       (extra[i].value ? strlen(extra[i].value) : 0) + 3;
		tmp = realloc(data, size);
		if (!tmp) {
			free(data);
			return -ENOMEM;
		}
		data = tmp;
		len += snprintf(data + len, size - len, "%s%s%s%s", len ? "," : "",
				extra[i].key, extra[i].value ? "=" : "",
				extra[i].value ?: "");
	}
	ret = mount("none", mnt, test_fstype(), 0, data) ? -errno : 0;
	free(data);
	return ret;
}

/* ---- the per-test environment -------------------------------------------- */

/*
 * A fresh directory /tmp/cowfs-XXXXXX holding the lower layers l0 (top) ..
 * l<n-1> (bottom) and the mount point m.
 */
struct cowfs_env {
	char base[64];
	char mnt[PATH_MAX];
	int nlayers;
	char **layers;
};

static inline int rm_rf_cb(const char *path, const struct stat *st, int flag,
			   struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static inline void rm_rf(const char *path)
{
	/* FTW_MOUNT: never descend into something still mounted. */
	nftw(path, rm_rf_cb, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Unmount every mount below @base (deepest first) until none is left. */
static inline void umount_below(const char *base)
{
	size_t blen = strlen(base);
	int round;

	for (round = 0; round < 16; round++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char *line = NULL, *last = NULL;
		size_t cap = 0;

		if (!f)
			return;
		while (getline(&line, &cap, f) > 0) {
			char mp[PATH_MAX];

			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
				continue;
			unescape_octal(mp);
			if (!strncmp(mp, base, blen) && mp[blen] == '/') {
				free(last);
				last = strdup(mp);
			}
		}
		free(line);
		fclose(f);
		if (!last)
			return;
		umount2(last, MNT_DETACH);
		free(last);
	}
}

static inline void env_cleanup(struct cowfs_env *env)
{
	int i;

	if (!env->base[0])
		return;
	umount_below(env->base);
	rm_rf(env->base);
	for (i = 0; env->layers && i < env->nlayers; i++)
		free(env->layers[i]);
	free(env->layers);
	env->layers = NULL;
	env->base[0] = '\0';
}

/* Create the base directory, @n empty layers and the mount point. */
static inline int env_init(struct cowfs_env *env, int n)
{
	int i, ret;

	memset(env, 0, sizeof(*env));
	snprintf(env->base, sizeof(env->base), "/tmp/cowfs-XXXXXX");
	if (!mkdtemp(env->base)) {
		env->base[0] = '\0';
		return -errno;
	}
	/* mkdtemp makes it 0700; the permission tests run as nobody. */
	if (chmod(env->base, 0755))
		return -errno;
	snprintf(env->mnt, sizeof(env->mnt), "%s/m", env->base);
	ret = mkdir_p(env->mnt, 0755);
	if (ret)
		return ret;
	env->layers = calloc(n ? n : 1, sizeof(*env->layers));
	if (!env->layers)
		return -ENOMEM;
	env->nlayers = n;
	for (i = 0; i < n; i++) {
		if (asprintf(&env->layers[i], "%s/l%d", env->base, i) < 0)
			return -ENOMEM;
		ret = mkdir_p(env->layers[i], 0755);
		if (ret)
			return ret;
	}
	return 0;
}

/* Path of @rel inside layer @i (0 = top). */
#define LPATH(env, i, rel)	pathf("%s/%s", (env)->layers[i], rel)
/* Path of @rel inside the union mount. */
#define UPATH(env, rel)		pathf("%s/%s", (env)->mnt, rel)

static inline int env_mount(struct cowfs_env *env)
{
	return mount_union(env->mnt, (const char *const *)env->layers,
			   env->nlayers);
}

static inline int env_umount(struct cowfs_env *env)
{
	return umount2(env->mnt, 0) ? -errno : 0;
}

/*
 * Declarative layer contents: a table of these is applied with
 * build_layers() before mounting.
 */
enum entry_kind { E_FILE, E_DIR, E_WHITEOUT, E_OPAQUE, E_SYMLINK };

struct layer_entry {
	int layer;		/* 0 = top */
	enum entry_kind kind;
	const char *path;	/* relative to the layer root */
	const char *data;	/* file content or symlink target */
};

static inline int build_layers(struct cowfs_env *env,
			       const struct layer_entry *e, size_t n)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && !ret; i++) {
		const char *path = LPATH(env, e[i].layer, e[i].path);

		switch (e[i].kind) {
		case E_FILE:
			ret = mkfile(path, e[i].data ?: "");
			break;
		case E_DIR:
			ret = mkdir_p(path, 0755);
			break;
		case E_WHITEOUT:
			ret = mkwhiteout(path);
			break;
		case E_OPAQUE:
			ret = mkopaque(path);
			break;
		case E_SYMLINK:
			ret = mksymlink(path, e[i].data);
			break;
		}
	}
	return ret;
}

/*
 * ASSERT that a fixture setup step returned 0, removing the environment
 * first if it did not (no teardown runs after a failed setup).
 */
#define SETUP_ASSERT0(env, expr) do { \
	int __ret = (expr); \
	if (__ret) { \
		TH_LOG("%s: %s", #expr, strerror(-__ret)); \
		env_cleanup(env); \
	} \
	ASSERT_EQ(0, __ret); \
} while (0)

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Run @fn(@arg) in a child that dropped to uid/gid 65534 with no
 * supplementary groups. Returns what @fn returned (a small errno value or
 * 0), or -1 if the child could not be run.
 */
static inline int run_as_nobody(int (*fn)(const void *arg), const void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) ||
		    setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
		    setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID))
			_exit(255);
		_exit(fn(arg) & 0xff);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 255)
		return -1;
	return WEXITSTATUS(status);
}

/* Write @s to the file @path (opened with O_WRONLY | @flags); 0 or -errno. */
static inline int write_str(const char *path, const char *s, int flags)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno;
	close(fd);
	return ret;
}

/* Drop the dcache/icache so the next lookups really go to the fs. */
static inline void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n;

		sync();
		n = write(fd, "2", 1);	/* best effort */
		(void)n;
		close(fd);
	}
}

#endif /* COWFS_UTIL_H */
