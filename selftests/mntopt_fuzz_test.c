// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile mount options: random and grammar-made option strings through
 * mount(2), random fsconfig(2) sequences of every command type, values as
 * long as the interfaces take, 10,000 layers, paths holding ':', '\' and
 * ',', remounts with garbage, and all of it as an unprivileged user in a
 * user namespace.  Every call must succeed or fail with a clean error,
 * the fs_context log must stay well formed, and nothing may be left
 * mounted.  COWFS_FUZZ_SEED and COWFS_FUZZ_ITERS change the seed (printed)
 * and the number of random attempts.
 */
#include <sched.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <time.h>

#include "kselftest_harness.h"
#include "cowfs_util.h"

#ifndef FSCONFIG_CMD_CREATE_EXCL
#define FSCONFIG_CMD_CREATE_EXCL 8
#endif

#define NR_DIRS		8
#define ERRNO_OF(expr)	((expr) < 0 ? -errno : 0)

FIXTURE(fuzz) {
	struct cowfs_env env;
	uint64_t rng;
	int iters;
	unsigned long mounted, refused, errs[256];
	char dirs[NR_DIRS][PATH_MAX];	/* real directories to name */
};

static uint64_t rnd64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd(uint64_t *s, unsigned int n)
{
	return n ? (unsigned int)(rnd64(s) % n) : 0;
}

FIXTURE_SETUP(fuzz)
{
	const char *env_seed = getenv("COWFS_FUZZ_SEED");
	const char *env_iters = getenv("COWFS_FUZZ_ITERS");
	static const char *const names[NR_DIRS] = {
		"plain", "co:lon", "back\\slash", "com,ma", "eq=ual", "sp ace",
		"trail\\", "all:\\,=\n\t",
	};
	uint64_t seed;
	int i;

	REQUIRE_FSTYPE();
	seed = env_seed ? strtoull(env_seed, NULL, 0) : (uint64_t)time(NULL);
	self->rng = seed * 2654435761ULL + 1;
	self->iters = env_iters ? atoi(env_iters) : 3000;
	TH_LOG("seed %llu (COWFS_FUZZ_SEED), %d iterations (COWFS_FUZZ_ITERS)",
	       (unsigned long long)seed, self->iters);
	SETUP_ASSERT0(&self->env, env_init(&self->env, 2));
	for (i = 0; i < NR_DIRS; i++) {
		snprintf(self->dirs[i], sizeof(self->dirs[i]), "%s/%s", self->env.base,
			 names[i]);
		SETUP_ASSERT0(&self->env, mkdir_p(self->dirs[i], 0755));
		SETUP_ASSERT0(&self->env, mkfile(pathf("%s/in_%d", self->dirs[i], i), "x"));
	}
	SETUP_ASSERT0(&self->env, mkfile(LPATH(&self->env, 0, "top"), "top"));
	SETUP_ASSERT0(&self->env, mkfile(LPATH(&self->env, 1, "bottom"), "bottom"));
	SETUP_ASSERT0(&self->env, mkdir_p(pathf("%s/u", self->env.base), 0755));
	SETUP_ASSERT0(&self->env, mkdir_p(pathf("%s/w", self->env.base), 0755));
}

FIXTURE_TEARDOWN(fuzz)
{
	env_cleanup(&self->env);
}

/* Errors a bad option may cause; anything else is a bug */
static bool clean_err(int err)
{
	switch (err) {
	case EINVAL: case ENOENT: case ENOTDIR: case ENAMETOOLONG: case EROFS:
	case EBUSY: case ELOOP: case EOPNOTSUPP: case EACCES: case EXDEV:
		return true;
	}
	return false;
}

/* Is anything mounted below the test's base directory? */
static bool anything_mounted(const char *base)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t blen = strlen(base);
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return true;
	while (getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		unescape_octal(mp);
		if (!strncmp(mp, base, blen) && mp[blen] == '/')
			found = true;
	}
	free(line);
	fclose(f);
	return found;
}

/* ---- making hostile values ------------------------------------------------ */

static const char *const keys[] = {
	"lowerdir", "lowerdir+", "upperdir", "workdir", "redirect_dir", "index",
	"metacopy", "xino", "lowerdir ", "LOWERDIR", "", "=", "source",
	"datadir+", "userxattr", "volatile", "nfs_export", "uuid", "verity",
	"default_permissions", "lowerdir+lowerdir",
};

/* A value: a real path (escaped or not), garbage, or something long. */
static size_t gen_value(struct _test_data_fuzz *self, char *out, size_t size,
			bool escape)
{
	size_t len = 0, n, i;
	unsigned int r = rnd(&self->rng, 100);

	if (size < 2)
		return 0;
	if (r < 45) {
		/* one or more real directories, maybe escaped right */
		int parts = 1 + rnd(&self->rng, 4);

		while (parts-- && len + 1 < size) {
			const char *d = self->dirs[rnd(&self->rng, NR_DIRS)];

			if (!rnd(&self->rng, 5))
				d = self->env.layers[rnd(&self->rng, 2)];
			for (; *d && len + 3 < size; d++) {
				if (escape && strchr(":\\,", *d))
					out[len++] = '\\';
				out[len++] = *d;
			}
			if (parts && len + 1 < size)
				out[len++] = rnd(&self->rng, 8) ? ':' : ',';
		}
	} else if (r < 60) {
		static const char *const words[] = {
			"on", "off", "follow", "nofollow", "auto", "", "/", "//",
			"/proc", "/dev/null", "relative/path", ":", "::", "\\",
			"\\\\", "\\:", "/tmp:", ":/tmp", "/tmp/\\", "=on", "on,",
		};

		len = snprintf(out, size, "%s", words[rnd(&self->rng, ARRAY_LEN(words))]);
	} else if (r < 85) {
		/* random bytes, no NUL */
		n = 1 + rnd(&self->rng, rnd(&self->rng, 4) ? 40 : 600);
		for (i = 0; i < n && len + 1 < size; i++) {
			unsigned char c = 1 + rnd(&self->rng, 255);

			out[len++] = (char)c;
		}
	} else {
		/* long: a path component past NAME_MAX, or a long path */
		char c = rnd(&self->rng, 2) ? 'a' : '/';

		n = 200 + rnd(&self->rng, 3900);
		out[len++] = '/';
		for (i = 0; i < n && len + 1 < size; i++)
			out[len++] = (c == '/' && i % 2) ? 'd' : c;
	}
	out[len < size ? len : size - 1] = '\0';
	return strlen(out);
}

/*
 * A valid option string (layers escaped right, maybe upper and work, maybe
 * a known option), then 0-3 bytes inserted, deleted or replaced.
 */
static size_t near_valid(struct _test_data_fuzz *self, char *out, size_t size)
{
	static const char *const extra[] = {
		",redirect_dir=on", ",redirect_dir=off", ",index=off", ",xino=auto",
		",metacopy=off", ",lowerdir=", ",upperdir=", "",
	};
	int nl = 1 + rnd(&self->rng, 4), m, k;
	size_t len = snprintf(out, size, "lowerdir=");

	for (k = 0; k < nl; k++) {
		const char *d = k == nl - 1 ? self->env.layers[1] :
				self->dirs[rnd(&self->rng, NR_DIRS)];

		for (; *d && len + 3 < size; d++) {
			if (strchr(":\\,", *d))
				out[len++] = '\\';
			out[len++] = *d;
		}
		if (k < nl - 1)
			out[len++] = ':';
	}
	if (rnd(&self->rng, 2))
		len += snprintf(out + len, size - len, ",upperdir=%s/u,workdir=%s/w",
				self->env.base, self->env.base);
	len += snprintf(out + len, size - len, "%s", extra[rnd(&self->rng, ARRAY_LEN(extra))]);
	for (m = rnd(&self->rng, 4); m > 0 && len > 1 && len + 2 < size; m--) {
		size_t at = rnd(&self->rng, len);
		static const char pick[] = ":,\\=/ x";

		switch (rnd(&self->rng, 3)) {
		case 0:	/* insert */
			memmove(out + at + 1, out + at, len - at + 1);
			out[at] = pick[rnd(&self->rng, sizeof(pick) - 1)];
			len++;
			break;
		case 1:	/* delete */
			memmove(out + at, out + at + 1, len - at);
			len--;
			break;
		default:
			out[at] = pick[rnd(&self->rng, sizeof(pick) - 1)];
		}
	}
	out[len] = '\0';
	return len;
}

static void count(struct _test_data_fuzz *self, int ret)
{
	if (!ret)
		self->mounted++;
	else
		self->refused++;
	self->errs[(-ret) & 0xff]++;
}

static void log_counts(struct __test_metadata *_metadata,
		       struct _test_data_fuzz *self)
{
	char line[512];
	int i, len;

	len = snprintf(line, sizeof(line), "%lu mounted, %lu refused:", self->mounted,
		       self->refused);
	for (i = 1; i < 256 && len < (int)sizeof(line) - 40; i++)
		if (self->errs[i])
			len += snprintf(line + len, sizeof(line) - len, " %s %lu",
					strerrorname_np(i) ?: "?", self->errs[i]);
	TH_LOG("%s", line);
}

/* What a mount that worked must do: list its root, unmount. */
static int use_and_umount(const char *mnt)
{
	int n = 0;
	DIR *d = opendir(mnt);

	if (d) {
		while (readdir(d))
			n++;
		closedir(d);
	}
	if (umount2(mnt, 0))
		return -errno;
	return n >= 2 ? 0 : -EIO;
}

/* ---- mount(2) ------------------------------------------------------------------ */

static int legacy_try(struct __test_metadata *_metadata,
		      struct _test_data_fuzz *self, const char *data,
		      unsigned long flags)
{
	int ret = mount("none", self->env.mnt, test_fstype(), flags, data) ? -errno : 0;

	count(self, ret);
	if (!ret) {
		EXPECT_TRUE(is_mounted(self->env.mnt));
		EXPECT_EQ(0, use_and_umount(self->env.mnt)) TH_LOG("options: %.200s", data);
	} else {
		EXPECT_TRUE(clean_err(-ret)) TH_LOG("mount -o '%.300s': %s", data,
						     strerror(-ret));
	}
	EXPECT_FALSE(anything_mounted(self->env.base)) TH_LOG("options: %.200s", data);
	return ret;
}

/* Option strings of random keys and values, joined and escaped badly or well */
TEST_F_TIMEOUT(fuzz, legacy_random_options, 900)
{
	static const unsigned long fl[] = { 0, MS_RDONLY, MS_NOSUID | MS_NODEV,
					    MS_SILENT, MS_RDONLY | MS_NOATIME };
	char *data = malloc(8192);
	int i;

	ASSERT_NE(NULL, data);
	for (i = 0; i < self->iters && !_metadata->exit_code; i++) {
		size_t len = 0;
		int nopts = rnd(&self->rng, 6), k;

		if (rnd(&self->rng, 2)) {
			/* nearly right: a good option string, then a few bytes changed */
			len = near_valid(self, data, 8192);
			legacy_try(_metadata, self, data, fl[rnd(&self->rng, ARRAY_LEN(fl))]);
			continue;
		}
		for (k = 0; k < nopts && len < 4000; k++) {
			const char *key = keys[rnd(&self->rng, ARRAY_LEN(keys))];

			len += snprintf(data + len, 8192 - len, "%s%s", k ? "," : "", key);
			if (rnd(&self->rng, 5)) {
				data[len++] = '=';
				len += gen_value(self, data + len, 8192 - len, rnd(&self->rng, 2));
			}
		}
		data[len] = '\0';
		if (rnd(&self->rng, 10) == 0)
			legacy_try(_metadata, self, NULL, 0);
		legacy_try(_metadata, self, data, fl[rnd(&self->rng, ARRAY_LEN(fl))]);
	}
	log_counts(_metadata, self);
	free(data);
}

/* Pure random pages, no terminating NUL: the kernel cuts at 4095 bytes */
TEST_F_TIMEOUT(fuzz, legacy_random_pages, 600)
{
	char *page = malloc(4096);
	int i, j;

	ASSERT_NE(NULL, page);
	for (i = 0; i < self->iters / 4 && !_metadata->exit_code; i++) {
		int mode = rnd(&self->rng, 3);

		for (j = 0; j < 4096; j++)
			page[j] = mode == 0 ? (char)(1 + rnd(&self->rng, 255)) :
				  mode == 1 ? "\\:,=/a"[rnd(&self->rng, 6)] : '\\';
		if (mode == 1)
			memcpy(page, "lowerdir=", 9);
		legacy_try(_metadata, self, page, 0);
	}
	log_counts(_metadata, self);
	free(page);
}

/* ---- fsconfig(2) ------------------------------------------------------------------- */

/* Read the fs_context log: every message "e|w|i <text>" */
static void check_log(struct __test_metadata *_metadata, int fsfd)
{
	char msg[2048];
	ssize_t n;
	int k;

	/* A path from the user may hold any byte: only check the frame */
	for (k = 0; k < 200 && (n = read(fsfd, msg, sizeof(msg) - 1)) > 0; k++) {
		msg[n] = '\0';
		EXPECT_TRUE((msg[0] == 'e' || msg[0] == 'w' || msg[0] == 'i') && msg[1] == ' ')
			TH_LOG("log message '%.100s'", msg);
	}
}

/* A random sequence of fsconfig() calls of every kind, then maybe a mount */
TEST_F_TIMEOUT(fuzz, fsconfig_random_sequences, 900)
{
	char val[1200], key[300];
	int i, k;

	for (i = 0; i < self->iters / 2 && !_metadata->exit_code; i++) {
		int fsfd = fsopen(test_fstype(), FSOPEN_CLOEXEC);
		int ncalls = 1 + rnd(&self->rng, 12), created = 0;
		bool good = rnd(&self->rng, 2);

		ASSERT_LE(0, fsfd) TH_LOG("fsopen: %s", strerror(errno));
		if (good) {
			/* a good start, then a few random calls, then create */
			int nl = 1 + rnd(&self->rng, 3);

			for (k = 0; k < nl; k++)
				EXPECT_EQ(0, fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+",
						      self->dirs[rnd(&self->rng, NR_DIRS)], 0));
			if (rnd(&self->rng, 2)) {
				EXPECT_EQ(0, fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir",
						      pathf("%s/u", self->env.base), 0));
				EXPECT_EQ(0, fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir",
						      pathf("%s/w", self->env.base), 0));
			}
			ncalls = rnd(&self->rng, 3);
		}
		for (k = 0; k < ncalls + good; k++) {
			unsigned int cmd = rnd(&self->rng, 10);
			int ret, fd = -1;

			if (rnd(&self->rng, 8)) {
				snprintf(key, sizeof(key), "%s", keys[rnd(&self->rng, ARRAY_LEN(keys))]);
			} else {
				size_t n = 1 + rnd(&self->rng, 299), j;

				for (j = 0; j < n; j++)
					key[j] = (char)(1 + rnd(&self->rng, 255));
				key[n] = '\0';
			}
			gen_value(self, val, rnd(&self->rng, 3) ? 257 : sizeof(val), false);
			if (good && k == ncalls)
				cmd = 8;	/* the last one creates */
			switch (cmd) {
			case 0:
				ret = fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
				break;
			case 1: case 2: case 3:
				ret = fsconfig(fsfd, FSCONFIG_SET_STRING, key, val, 0);
				break;
			case 4:
				ret = fsconfig(fsfd, FSCONFIG_SET_BINARY, key, val,
					       1 + rnd(&self->rng, sizeof(val) - 1));
				break;
			case 5:
				ret = fsconfig(fsfd, FSCONFIG_SET_PATH, key,
					       self->dirs[rnd(&self->rng, NR_DIRS)], AT_FDCWD);
				break;
			case 6:
				fd = open(self->dirs[rnd(&self->rng, NR_DIRS)],
					  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				ret = fsconfig(fsfd, FSCONFIG_SET_PATH_EMPTY, key, "", fd);
				break;
			case 7:
				fd = open(self->dirs[rnd(&self->rng, NR_DIRS)],
					  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				ret = fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd);
				break;
			case 8:
				ret = fsconfig(fsfd, rnd(&self->rng, 2) ? FSCONFIG_CMD_CREATE :
					       FSCONFIG_CMD_CREATE_EXCL, NULL, NULL, 0);
				created |= !ret;
				break;
			default:
				ret = fsconfig(fsfd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0);
				break;
			}
			if (ret)
				ret = -errno;
			if (fd >= 0)
				close(fd);
			if (ret)
				EXPECT_TRUE(clean_err(-ret)) TH_LOG("fsconfig cmd %u key '%.40s': %s",
								     cmd, key, strerror(-ret));
		}
		if (created) {
			int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);

			if (mfd >= 0) {
				int moved = !move_mount(mfd, "", AT_FDCWD, self->env.mnt,
							MOVE_MOUNT_F_EMPTY_PATH);

				close(mfd);	/* it would keep the mount busy */
				if (moved) {
					count(self, 0);
					EXPECT_EQ(0, use_and_umount(self->env.mnt));
				}
			}
		} else {
			count(self, -EINVAL);
		}
		check_log(_metadata, fsfd);
		close(fsfd);
		EXPECT_FALSE(anything_mounted(self->env.base));
	}
	log_counts(_metadata, self);
}

/* ---- long values, many layers, escapes ------------------------------------------------ */

/*
 * A layer at a path of almost PATH_MAX bytes mounts, and is shown the
 * way it was given; a path component longer than NAME_MAX, a path longer
 * than PATH_MAX and a fsconfig value longer than 256 bytes are refused.
 */
TEST_F_TIMEOUT(fuzz, long_values, 300)
{
	char *deep = malloc(PATH_MAX), *opt = malloc(PATH_MAX + 64), *shown;
	char comp[NAME_MAX + 2];
	size_t len;
	int fd, ret;

	ASSERT_NE(NULL, deep);
	ASSERT_NE(NULL, opt);
	/* A deep real directory, 4000 bytes long */
	len = snprintf(deep, PATH_MAX, "%s", self->env.base);
	while (len + 101 < 4000) {
		memset(comp, 'd', 100);
		comp[100] = '\0';
		len += snprintf(deep + len, PATH_MAX - len, "/%s", comp);
		ASSERT_EQ(0, mkdir(deep, 0755) && errno != EEXIST ? -errno : 0);
	}
	ASSERT_EQ(0, mkfile(pathf("%s/f", deep), "deep"));
	/* mount(2) takes one page: 4095 bytes with "lowerdir=" */
	snprintf(opt, PATH_MAX + 64, "lowerdir=%s", deep);
	ret = mount_data(self->env.mnt, opt);
	ASSERT_EQ(0, ret) TH_LOG("%zu byte layer path: %s", len, strerror(-ret));
	EXPECT_STREQ("deep", slurp(pathf("%s/f", self->env.mnt)));
	shown = mountinfo_lowerdir(self->env.mnt);
	EXPECT_STREQ(deep, shown ?: "(none)");
	free(shown);
	EXPECT_EQ(0, umount2(self->env.mnt, 0));
	/* lowerdir+ through fsconfig takes 256 bytes at most (the VFS's limit) */
	fd = fsopen(test_fstype(), FSOPEN_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, ERRNO_OF(fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", deep, 0)));
	close(fd);

	/* A component over NAME_MAX */
	memset(comp, 'n', NAME_MAX + 1);
	comp[NAME_MAX + 1] = '\0';
	ret = mount_data(self->env.mnt, pathf("lowerdir=%s/%s", self->env.base, comp));
	EXPECT_EQ(-ENAMETOOLONG, ret);
	/* A path over PATH_MAX (in a page: made of "/." pairs after the base) */
	len = snprintf(opt, PATH_MAX + 64, "lowerdir=%s", self->env.layers[0]);
	while (len + 2 < 4095)
		len += snprintf(opt + len, PATH_MAX + 64 - len, "/.");
	ret = mount_data(self->env.mnt, opt);
	EXPECT_TRUE(ret == -ENAMETOOLONG || ret == 0) TH_LOG("%s", strerror(-ret));
	if (!ret)
		EXPECT_EQ(0, umount2(self->env.mnt, 0));
	EXPECT_FALSE(anything_mounted(self->env.base));
	free(deep);
	free(opt);
}

/*
 * 10,000 layers through fsconfig: the first 500 (cowfs's limit) are
 * taken, every one after that is refused with EINVAL and says why, and
 * the union of the 500 mounts and shows the top and the bottom one.  With
 * mount(2) a page holds at most ~800 layers: refused the same way.
 */
TEST_F_TIMEOUT(fuzz, ten_thousand_layers, 900)
{
	char log[4096], *opt;
	int fd, i, ok = 0, refused = 0, ret;
	size_t len;

	for (i = 0; i < 500; i++) {
		ASSERT_EQ(0, mkdir_p(pathf("%s/L/%d", self->env.base, i), 0755));
	}
	ASSERT_EQ(0, mkfile(pathf("%s/L/0/first", self->env.base), "first"));
	ASSERT_EQ(0, mkfile(pathf("%s/L/499/last", self->env.base), "last"));
	fd = fsopen(test_fstype(), FSOPEN_CLOEXEC);
	ASSERT_LE(0, fd);
	for (i = 0; i < 10000; i++) {
		ret = fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+",
			       pathf("%s/L/%d", self->env.base, i < 500 ? i : i % 500), 0);
		if (!ret) {
			ok++;
		} else {
			EXPECT_EQ(EINVAL, errno) TH_LOG("layer %d: %s", i, strerror(errno));
			refused++;
		}
		if (i == 500) {
			log[0] = '\0';
			fsctx_read_log(fd, log, sizeof(log));
			EXPECT_NE(NULL, strstr(log, "too many")) TH_LOG("log: %s", log);
		}
	}
	EXPECT_EQ(500, ok);
	EXPECT_EQ(9500, refused);
	fsctx_read_log(fd, log, sizeof(log));	/* drain */
	ASSERT_EQ(0, fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		TH_LOG("create with 500 layers: %s", strerror(errno));
	i = fsmount(fd, FSMOUNT_CLOEXEC, 0);
	ASSERT_LE(0, i);
	ASSERT_EQ(0, move_mount(i, "", AT_FDCWD, self->env.mnt, MOVE_MOUNT_F_EMPTY_PATH));
	close(i);
	close(fd);
	EXPECT_STREQ("first", slurp(pathf("%s/first", self->env.mnt)));
	EXPECT_STREQ("last", slurp(pathf("%s/last", self->env.mnt)));
	EXPECT_EQ(0, umount2(self->env.mnt, 0));

	/* mount(2): "/tmp" 818 times fills the page */
	opt = malloc(4096);
	ASSERT_NE(NULL, opt);
	len = snprintf(opt, 4096, "lowerdir=/tmp");
	while (len + 5 < 4096)
		len += snprintf(opt + len, 4096 - len, ":/tmp");
	ret = mount_data(self->env.mnt, opt);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("%zu layers by mount(2): %s", (len - 4) / 5,
				       strerror(-ret));
	if (!ret)
		umount2(self->env.mnt, 0);
	free(opt);
	EXPECT_FALSE(anything_mounted(self->env.base));
}

/* Escape @path for lowerdir= in mount(2): '\' before ':', '\' and ','. */
static void escape_path(const char *path, char *out, size_t size)
{
	size_t len = 0;

	for (; *path && len + 3 < size; path++) {
		if (strchr(":\\,", *path))
			out[len++] = '\\';
		out[len++] = *path;
	}
	out[len] = '\0';
}

/*
 * Layers named with ':', '\', ',', '=', blanks and a trailing '\':
 * escaped right they mount (mount(2), and fsconfig's lowerdir+ takes them
 * as they are), the lowerdir= shown mounts the same union again; left
 * unescaped they are refused cleanly.
 */
TEST_F(fuzz, escaped_paths)
{
	char esc[PATH_MAX * 2], esc2[PATH_MAX * 2], *shown, log[2048];
	int i, ret;

	for (i = 1; i < NR_DIRS; i++) {
		const char *d = self->dirs[i], *in = pathf("%s/in_%d", self->env.mnt, i);
		struct fsparam p[2];

		escape_path(d, esc, sizeof(esc));
		escape_path(self->env.layers[1], esc2, sizeof(esc2));
		ret = mount_data(self->env.mnt, pathf("lowerdir=%s:%s", esc, esc2));
		ASSERT_EQ(0, ret) TH_LOG("layer '%s': %s", d, strerror(-ret));
		EXPECT_STREQ("x", slurp(in));
		EXPECT_STREQ("bottom", slurp(pathf("%s/bottom", self->env.mnt)));
		shown = mountinfo_lowerdir(self->env.mnt);
		ASSERT_NE(NULL, shown);
		EXPECT_EQ(0, umount2(self->env.mnt, 0));
		ret = mount_data(self->env.mnt, pathf("lowerdir=%s", shown));
		EXPECT_EQ(0, ret) TH_LOG("shown lowerdir=%s: %s", shown, strerror(-ret));
		if (!ret) {
			EXPECT_STREQ("x", slurp(in));
			EXPECT_EQ(0, umount2(self->env.mnt, 0));
		}
		free(shown);

		/* fsconfig: no escaping */
		p[0] = (struct fsparam){ "lowerdir+", d };
		p[1] = (struct fsparam){ "lowerdir+", self->env.layers[1] };
		ret = fsapi_mount(self->env.mnt, p, 2, log, sizeof(log));
		EXPECT_EQ(0, ret) TH_LOG("lowerdir+ '%s': %s %s", d, strerror(-ret), log);
		if (!ret) {
			EXPECT_STREQ("x", slurp(in));
			EXPECT_EQ(0, umount2(self->env.mnt, 0));
		}

		/*
		 * Unescaped: ':' and ',' split it, '\' escapes what follows;
		 * a name without them (a trailing '\' is taken as it is) mounts.
		 */
		ret = mount_data(self->env.mnt, pathf("lowerdir=%s", d));
		if (!strpbrk(d, ":,") && !(strchr(d, '\\') && strchr(d, '\\')[1])) {
			EXPECT_EQ(0, ret) TH_LOG("plain '%s': %s", d, strerror(-ret));
			EXPECT_STREQ("x", slurp(in));
		} else if (!ret) {
			EXPECT_EQ(-ENOENT, stat_err(in)) TH_LOG("unescaped '%s' mounted it", d);
		} else {
			EXPECT_TRUE(clean_err(-ret)) TH_LOG("%s", strerror(-ret));
		}
		if (!ret)
			EXPECT_EQ(0, umount2(self->env.mnt, 0));
	}
	EXPECT_FALSE(anything_mounted(self->env.base));
}

/* ---- remount -------------------------------------------------------------------------- */

/* Remounting a live union with garbage: refused or harmless; it keeps working */
TEST_F_TIMEOUT(fuzz, remount_random_options, 600)
{
	char *data = malloc(4096);
	int i;

	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, mount_data(self->env.mnt,
				pathf("lowerdir=%s:%s,upperdir=%s/u,workdir=%s/w",
				      self->env.layers[0], self->env.layers[1],
				      self->env.base, self->env.base)));
	for (i = 0; i < self->iters / 4 && !_metadata->exit_code; i++) {
		unsigned long flags = MS_REMOUNT | (rnd(&self->rng, 2) ? MS_RDONLY : 0);
		size_t len = snprintf(data, 4096, "%s=", keys[rnd(&self->rng, ARRAY_LEN(keys))]);
		int ret, fd;

		gen_value(self, data + len, 4096 - len, rnd(&self->rng, 2));
		ret = mount("none", self->env.mnt, test_fstype(), flags, data) ? -errno : 0;
		if (ret)
			EXPECT_TRUE(clean_err(-ret)) TH_LOG("remount '%.100s': %s", data,
							     strerror(-ret));
		/* and by fspick() + fsconfig() */
		fd = fspick(AT_FDCWD, self->env.mnt, FSPICK_CLOEXEC);
		ASSERT_LE(0, fd);
		ret = fsconfig(fd, FSCONFIG_SET_STRING, keys[rnd(&self->rng, ARRAY_LEN(keys))],
			       data + len, 0) ? -errno : 0;
		if (ret)
			EXPECT_TRUE(clean_err(-ret)) TH_LOG("fspick set: %s", strerror(-ret));
		ret = fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) ? -errno : 0;
		if (ret)
			EXPECT_TRUE(clean_err(-ret)) TH_LOG("reconfigure: %s", strerror(-ret));
		close(fd);
		count(self, ret);
	}
	log_counts(_metadata, self);
	/* Still the same union, writable again */
	ASSERT_EQ(0, mount("none", self->env.mnt, NULL, MS_REMOUNT, NULL) ? -errno : 0);
	EXPECT_STREQ("top", slurp(pathf("%s/top", self->env.mnt)));
	EXPECT_STREQ("bottom", slurp(pathf("%s/bottom", self->env.mnt)));
	EXPECT_EQ(0, mkfile(pathf("%s/written", self->env.mnt), "w"));
	EXPECT_EQ(0, umount2(self->env.mnt, 0));
	EXPECT_FALSE(anything_mounted(self->env.base));
	free(data);
}

/* ---- unprivileged --------------------------------------------------------------------- */

/*
 * As uid 65534: mount(2) and fsopen(2) are refused with EPERM.  In a user
 * namespace of its own (root there, with its own mount namespace) it may
 * open a cowfs context and feed it anything, its paths looked up with its
 * own rights, but creating the union is refused (EPERM: cowfs is not
 * mountable in user namespaces).
 */
TEST_F_TIMEOUT(fuzz, unprivileged, 600)
{
	int status, i;
	pid_t pid;

	/* The layers must be reachable by nobody */
	ASSERT_EQ(0, chmod(self->env.base, 0755));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char val[1200];
		int fd, bad = 0;

		if (setgroups(0, NULL) || setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
		    setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
		    /* changing uid made /proc/self/uid_map root's */
		    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			_exit(100);
		if (!mount("none", self->env.mnt, test_fstype(), 0,
			   pathf("lowerdir=%s", self->env.layers[0])) || errno != EPERM)
			_exit(101);
		if (fsopen(test_fstype(), FSOPEN_CLOEXEC) >= 0 || errno != EPERM)
			_exit(102);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) ||
		    write_str("/proc/self/setgroups", "deny", 0) ||
		    write_str("/proc/self/uid_map", "0 65534 1", 0) ||
		    write_str("/proc/self/gid_map", "0 65534 1", 0))
			_exit(50);	/* no user namespace for us here */
		for (i = 0; i < self->iters / 4; i++) {
			int k, n = 1 + rnd(&self->rng, 6);

			fd = fsopen(test_fstype(), FSOPEN_CLOEXEC);
			if (fd < 0)
				_exit(errno == EPERM ? 0 : 104);
			for (k = 0; k < n; k++) {
				gen_value(self, val, 257, false);
				if (fsconfig(fd, FSCONFIG_SET_STRING,
					     keys[rnd(&self->rng, ARRAY_LEN(keys))], val, 0) &&
				    !clean_err(errno) && errno != EPERM)
					bad++;
			}
			if (!fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
				_exit(105);	/* must not be creatable */
			if (errno != EPERM && !clean_err(errno))
				bad++;
			close(fd);
			if (!mount("none", self->env.mnt, test_fstype(), 0,
				   pathf("lowerdir=%s", self->env.layers[0])))
				_exit(106);
		}
		_exit(bad ? 107 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status 0x%x", status);
	if (WEXITSTATUS(status) == 50)
		TH_LOG("no user namespace: only the plain unprivileged calls were made");
	else if (WEXITSTATUS(status) == 105 && strcmp(test_fstype(), "cowfs"))
		TH_LOG("%s is mountable in user namespaces", test_fstype());
	else
		EXPECT_EQ(0, WEXITSTATUS(status))
			TH_LOG("100 setuid, 101 mount(2) not EPERM, 102 fsopen not EPERM, "
			       "104 fsopen in userns, 105 union created in userns, "
			       "106 mount(2) in userns, 107 unclean errors");
	EXPECT_FALSE(anything_mounted(self->env.base));
}

TEST_HARNESS_MAIN
