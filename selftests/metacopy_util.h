/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the metacopy selftests (metacopy_test, datadir_test,
 * verity_test): files of known data made with fill_pattern() and checks
 * of them, trusted.overlay.metacopy, lstat, open and mtime shortcuts.
 */
#ifndef COWFS_METACOPY_UTIL_H
#define COWFS_METACOPY_UTIL_H

#include "cowfs_rw.h"

#define OVL_METACOPY_XATTR	"trusted.overlay.metacopy"

/* Create @path with @len bytes of fill_pattern(@seed) and mode 0644. */
static inline int mkpat(const char *path, uint32_t seed, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	int ret;

	if (!buf)
		return -ENOMEM;
	fill_pattern(buf, len, seed);
	ret = mkfile_data(path, buf, len, 0644);
	free(buf);
	return ret;
}

/*
 * Compare all of @path with @len bytes of fill_pattern(@seed), whose byte
 * at @poke (if >= 0) is replaced by its complement.  0 if the same, 1 if
 * not (size or bytes), -errno if @path cannot be read.
 */
static inline int data_is(const char *path, uint32_t seed, size_t len,
			  long poke)
{
	unsigned char *want = malloc(len + 1), *got = malloc(len + 2);
	ssize_t total;
	int ret;

	if (!want || !got) {
		free(want);
		free(got);
		return -ENOMEM;
	}
	fill_pattern(want, len, seed);
	if (poke >= 0)
		want[poke] = ~want[poke];
	/* One byte more than expected (a longer file differs), and the NUL */
	total = read_file(path, (char *)got, len + 2);
	if (total < 0)
		ret = (int)total;
	else
		ret = (size_t)total != len || memcmp(want, got, len) ? 1 : 0;
	free(want);
	free(got);
	return ret;
}

/* Same as data_is() through the open descriptor @fd (pread from 0). */
static inline int fd_data_is(int fd, uint32_t seed, size_t len, long poke)
{
	unsigned char *want = malloc(len + 1), *got = malloc(len + 1);
	ssize_t n, total = 0;
	int ret;

	if (!want || !got) {
		free(want);
		free(got);
		return -ENOMEM;
	}
	fill_pattern(want, len, seed);
	if (poke >= 0)
		want[poke] = ~want[poke];
	while ((size_t)total < len + 1) {
		n = pread(fd, got + total, len + 1 - total, total);
		if (n < 0) {
			total = -errno;
			break;
		}
		if (!n)
			break;
		total += n;
	}
	if (total < 0)
		ret = (int)total;
	else
		ret = (size_t)total != len || memcmp(want, got, len) ? 1 : 0;
	free(want);
	free(got);
	return ret;
}

/* Complement byte @off of @path through a new O_RDWR descriptor. */
static inline int poke_byte(const char *path, off_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &c, 1, off) != 1) {
		ret = -EIO;
	} else {
		c = ~c;
		if (pwrite(fd, &c, 1, off) != 1)
			ret = -errno;
	}
	close(fd);
	return ret;
}

static inline int set_x(const char *path, const char *name, const void *v,
			size_t n)
{
	return lsetxattr(path, name, v, n, 0) ? -errno : 0;
}

static inline bool has_metacopy(const char *path)
{
	return lgetxattr(path, OVL_METACOPY_XATTR, NULL, 0) >= 0;
}

/* lgetxattr's size for trusted.overlay.metacopy, or -errno. */
static inline ssize_t metacopy_len(const char *path)
{
	ssize_t n = lgetxattr(path, OVL_METACOPY_XATTR, NULL, 0);

	return n < 0 ? -errno : n;
}

/* lstat(@path), all bits set if it fails. */
static inline struct stat lst(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		memset(&st, 0xff, sizeof(st));
	return st;
}

/* -errno of open(@path, @flags) (closed again), 0 if it opened. */
static inline int open_err_flags(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* -errno of open(@path, O_RDONLY) (closed again), 0 if it opened. */
static inline int open_err(const char *path)
{
	return open_err_flags(path, O_RDONLY);
}

/* Set the mtime of @path (not following a symlink) to @t seconds. */
static inline int set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = t },
	};

	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/* Is filesystem @fstype there (loading overlayfs if need be)? */
static inline int want_fs(const char *fstype)
{
	if (!strcmp(fstype, "overlay"))
		return have_overlay();
	return fs_registered(fstype);
}

/*
 * The variants of fixture @name: the same tests on overlayfs (the
 * reference) and on cowfs.  Its FIXTURE_SETUP() starts with
 * BOTH_FS_REQUIRE().  (After kselftest_harness.h.)
 */
#define BOTH_FS_VARIANTS(name)						\
	FIXTURE_VARIANT(name) {						\
		const char *fstype;					\
	};								\
	FIXTURE_VARIANT_ADD(name, overlay) {				\
		.fstype = "overlay",					\
	};								\
	FIXTURE_VARIANT_ADD(name, cowfs) {				\
		.fstype = "cowfs",					\
	}

/* As root, with the variant's filesystem, which the helpers then mount */
#define BOTH_FS_REQUIRE() do {						\
	if (getuid() != 0)						\
		SKIP(return, "must run as root");			\
	if (!want_fs(variant->fstype))					\
		SKIP(return, "no %s", variant->fstype);			\
	setenv("COWFS_TEST_FSTYPE", variant->fstype, 1);		\
} while (0)

/*
 * Fixture @name for an upper written by one filesystem and read by the
 * other: its variants name the writer and the reader, overlay_to_overlay
 * checking the test itself.  Its FIXTURE_SETUP() starts with
 * INTEROP_REQUIRE().  (After kselftest_harness.h.)
 */
#define INTEROP_FIXTURE(name)						\
	FIXTURE(name) {							\
		struct rw_env rw;					\
	};								\
	FIXTURE_VARIANT(name) {						\
		const char *writer;					\
		const char *reader;					\
	};								\
	FIXTURE_VARIANT_ADD(name, cowfs_to_overlay) {			\
		.writer = "cowfs",					\
		.reader = "overlay",					\
	};								\
	FIXTURE_VARIANT_ADD(name, overlay_to_cowfs) {			\
		.writer = "overlay",					\
		.reader = "cowfs",					\
	};								\
	FIXTURE_VARIANT_ADD(name, overlay_to_overlay) {			\
		.writer = "overlay",					\
		.reader = "overlay",					\
	};								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		rw_cleanup(&self->rw);					\
	}

#define INTEROP_REQUIRE() do {						\
	if (getuid() != 0)						\
		SKIP(return, "must run as root");			\
	if (!want_fs(variant->writer) || !want_fs(variant->reader))	\
		SKIP(return, "needs %s and %s", variant->writer,	\
		     variant->reader);					\
} while (0)

#endif /* COWFS_METACOPY_UTIL_H */
