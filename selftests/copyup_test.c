// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-up: data (holes kept), directories with their ancestors, symlinks
 * and special files, with mode, owner, times, xattrs and ACLs; no data
 * copied for open(O_TRUNC) or truncate(0); atomic under ENOSPC; exactly
 * one copy-up for many concurrent writers; st_ino and st_dev stable
 * across copy-up and remount, also with layers on different filesystems.
 *
 * Whether the lower file was read is observed with inotify: a copy-up of
 * data opens the lower file (IN_OPEN), one without data never does.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

#include <pthread.h>
#include <sys/inotify.h>
#include <sys/statvfs.h>

#define MIB		(1024 * 1024)
#define DATA_SIZE	(3 * MIB + 17)
#define SPARSE_SIZE	(16 * MIB)
#define SPARSE_CHUNK	(64 * 1024)
#define SPARSE_OFF2	(8 * MIB)
/* "islands": a page of data every 256 KiB, holes between */
#define ISLAND_STEP	(256 * 1024)
#define ISLAND_COUNT	32
#define NTHREADS	64
#define BLK		4096

static int mksparse(const char *path)
{
	static char chunk[SPARSE_CHUNK];
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	memset(chunk, 'A', sizeof(chunk));
	if (pwrite(fd, chunk, sizeof(chunk), 0) != sizeof(chunk))
		ret = -EIO;
	memset(chunk, 'B', sizeof(chunk));
	if (pwrite(fd, chunk, sizeof(chunk), SPARSE_OFF2) != sizeof(chunk))
		ret = -EIO;
	if (ftruncate(fd, SPARSE_SIZE))
		ret = -errno;
	close(fd);
	return ret;
}

static int mkislands(const char *path)
{
	char page[4096];
	int fd, i, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (i = 0; i < ISLAND_COUNT && !ret; i++) {
		memset(page, 'a' + i % 26, sizeof(page));
		if (pwrite(fd, page, sizeof(page), (off_t)i * ISLAND_STEP) !=
		    sizeof(page))
			ret = -EIO;
	}
	close(fd);
	return ret;
}

static const struct timespec meta_times[2] = {
	{ .tv_sec = 1000000001, .tv_nsec = 111 },	/* atime */
	{ .tv_sec = 1100000002, .tv_nsec = 222 },	/* mtime */
};

/* Objects with metadata that a copy-up must keep. */
static int make_meta_objects(struct rw_env *rw, unsigned char *data)
{
	const char *meta = LP(rw, 0, "meta");
	int ret;

	fill_pattern(data, DATA_SIZE, 0x5eed);
	ret = mkfile_data(LP(rw, 0, "data"), data, DATA_SIZE, 0644) ?:
	      mksparse(LP(rw, 0, "sparse")) ?:
	      mkislands(LP(rw, 0, "islands")) ?:
	      mkfile(meta, "meta\n") ?:
	      mkfile(LP(rw, 0, "aclf"), "acl\n") ?:
	      mkdir_p(LP(rw, 0, "d1/d2/d3"), 0711) ?:
	      mkfile(LP(rw, 0, "d1/d2/d3/f"), "f\n") ?:
	      mksymlink(LP(rw, 0, "sym"), "meta");
	if (ret)
		return ret;
	if (chmod(meta, 0751) || chown(meta, 1001, 1002) ||
	    setxattr(meta, "user.k", "v", 1, 0) ||
	    setxattr(meta, "security.cowfs_test", "s", 1, 0) ||
	    setxattr(LP(rw, 0, "aclf"), "system.posix_acl_access", acl_blob,
		     sizeof(acl_blob), 0) ||
	    utimensat(AT_FDCWD, meta, meta_times, 0) ||
	    chown(LP(rw, 0, "d1"), 1003, 1003) ||
	    chown(LP(rw, 0, "d1/d2"), 1003, 1003) ||
	    utimensat(AT_FDCWD, LP(rw, 0, "d1/d2"), meta_times, 0) ||
	    utimensat(AT_FDCWD, LP(rw, 0, "d1"), meta_times, 0) ||
	    lchown(LP(rw, 0, "sym"), 1004, 1004) ||
	    utimensat(AT_FDCWD, LP(rw, 0, "sym"), meta_times,
		      AT_SYMLINK_NOFOLLOW) ||
	    mkfifo(LP(rw, 0, "fifo"), 0620) ||
	    chmod(LP(rw, 0, "fifo"), 0620) ||
	    mknod(LP(rw, 0, "chr"), S_IFCHR | 0640, makedev(1, 5)))
		return -errno;
	return 0;
}

FIXTURE(cu) {
	struct rw_env rw;
	unsigned char *data;
};

FIXTURE_SETUP(cu)
{
	REQUIRE_FSTYPE();
	self->data = malloc(DATA_SIZE);
	ASSERT_NE(NULL, self->data);
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 1, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, make_meta_objects(&self->rw, self->data));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, NULL));
}

FIXTURE_TEARDOWN(cu)
{
	rw_cleanup(&self->rw);
	free(self->data);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

/* Does @path hold exactly @len bytes equal to @want? */
static bool file_equals(const char *path, const unsigned char *want,
			size_t len)
{
	unsigned char *buf = malloc(len + 1);
	ssize_t n, total = 0;
	bool eq = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && buf) {
		while ((n = read(fd, buf + total, len + 1 - total)) > 0)
			total += n;
		eq = total == (ssize_t)len && !memcmp(buf, want, len);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return eq;
}

/* An inotify instance watching @path for IN_OPEN (and IN_ACCESS). */
static int watch_opens(const char *path)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, path, IN_OPEN | IN_ACCESS) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Number of events of @mask queued on inotify fd @fd (drains it). */
static int count_events(int fd, uint32_t mask)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;
	int count = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (p < buf + n) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & mask)
				count++;
			p += sizeof(*ev) + ev->len;
		}
	}
	return count;
}

TEST_F(cu, data_copied_on_write)
{
	int fd = open(M("data"), O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(4, pwrite(fd, "XXXX", 4, 2 * MIB));
	close(fd);
	memcpy(self->data + 2 * MIB, "XXXX", 4);
	EXPECT_TRUE(file_equals(UP(RW, "data"), self->data, DATA_SIZE));
	EXPECT_TRUE(file_equals(M("data"), self->data, DATA_SIZE));
	fill_pattern(self->data, DATA_SIZE, 0x5eed);
	EXPECT_TRUE(file_equals(LP(RW, 0, "data"), self->data, DATA_SIZE));
	EXPECT_EQ(0, work_leftovers(RW));
}

/*
 * Data is copied where the lower file reports it (SEEK_DATA to SEEK_HOLE):
 * the holes, the trailing one too, stay holes.
 */
TEST_F(cu, holes_preserved)
{
	struct stat st;
	int fd;

	if (is_overlay())
		SKIP(return, "overlayfs copies 1 MiB chunks (documented)");
	ASSERT_EQ(0, chmod(M("sparse"), 0600));
	fd = open(UP(RW, "sparse"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(SPARSE_SIZE, st.st_size);
	EXPECT_EQ(SPARSE_CHUNK, lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(SPARSE_OFF2, lseek(fd, SPARSE_CHUNK, SEEK_DATA));
	/* The trailing hole is a hole, not zeros */
	EXPECT_EQ(-ENXIO, ERRNO_OF(lseek(fd, SPARSE_OFF2 + SPARSE_CHUNK, SEEK_DATA)));
	EXPECT_EQ(2 * SPARSE_CHUNK, st.st_blocks * 512);
	close(fd);
}

/*
 * Holes smaller than a copy-up chunk are kept too: the data is copied
 * extent by extent, so the upper file has the lower file's data map and
 * allocates no more blocks (overlayfs fills holes inside a 1 MiB chunk).
 */
TEST_F(cu, small_holes_preserved)
{
	struct stat lst, ust;
	char buf[4096];
	int fd, i;

	if (is_overlay())
		SKIP(return, "overlayfs copies 1 MiB chunks (documented)");
	ASSERT_EQ(0, stat(LP(RW, 0, "islands"), &lst));
	ASSERT_EQ(0, chmod(M("islands"), 0600));
	fd = open(UP(RW, "islands"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &ust));
	EXPECT_EQ(lst.st_size, ust.st_size);
	EXPECT_EQ(lst.st_blocks, ust.st_blocks);
	for (i = 0; i < ISLAND_COUNT; i++) {
		off_t at = (off_t)i * ISLAND_STEP;

		ASSERT_EQ(at, lseek(fd, at, SEEK_DATA));
		ASSERT_EQ(at + 4096, lseek(fd, at, SEEK_HOLE));
		ASSERT_EQ(4096, pread(fd, buf, sizeof(buf), at));
		EXPECT_EQ('a' + i % 26, buf[0]);
		EXPECT_EQ('a' + i % 26, buf[4095]);
	}
	close(fd);
}

TEST_F(cu, holes_read_as_zeros_after_copy_up)
{
	char buf[16];
	int fd;

	ASSERT_EQ(0, chmod(M("sparse"), 0600));
	fd = open(M("sparse"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pread(fd, buf, 1, 0));
	EXPECT_EQ('A', buf[0]);
	ASSERT_EQ(16, pread(fd, buf, 16, MIB));
	EXPECT_EQ(0, memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));
	ASSERT_EQ(1, pread(fd, buf, 1, SPARSE_OFF2));
	EXPECT_EQ('B', buf[0]);
	close(fd);
}

/* A setxattr copies "meta" up without changing mode, owner or times. */
static int copy_up_meta(struct rw_env *rw)
{
	return setxattr(MP(rw, "meta"), "user.new", "1", 1, 0) ? -errno : 0;
}

TEST_F(cu, keeps_mode)
{
	struct stat st;

	ASSERT_EQ(0, copy_up_meta(RW));
	ASSERT_EQ(0, stat(UP(RW, "meta"), &st));
	EXPECT_EQ(0751, st.st_mode & 07777);
}

TEST_F(cu, keeps_owner)
{
	struct stat st;

	ASSERT_EQ(0, copy_up_meta(RW));
	ASSERT_EQ(0, stat(UP(RW, "meta"), &st));
	EXPECT_EQ(1001, st.st_uid);
	EXPECT_EQ(1002, st.st_gid);
}

TEST_F(cu, keeps_times)
{
	struct stat st;

	ASSERT_EQ(0, copy_up_meta(RW));
	ASSERT_EQ(0, stat(UP(RW, "meta"), &st));
	EXPECT_EQ(meta_times[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(meta_times[1].tv_nsec, st.st_mtim.tv_nsec);
	EXPECT_EQ(meta_times[0].tv_sec, st.st_atim.tv_sec);
	ASSERT_EQ(0, stat(M("meta"), &st));
	EXPECT_EQ(meta_times[1].tv_sec, st.st_mtim.tv_sec);
}

TEST_F(cu, keeps_user_and_security_xattrs)
{
	ASSERT_EQ(0, copy_up_meta(RW));
	EXPECT_STREQ("v", xattr_str(UP(RW, "meta"), "user.k"));
	EXPECT_STREQ("1", xattr_str(UP(RW, "meta"), "user.new"));
	EXPECT_STREQ("s", xattr_str(UP(RW, "meta"), "security.cowfs_test"));
	EXPECT_STREQ("<No data available>",
		     xattr_str(LP(RW, 0, "meta"), "user.new"));
}

TEST_F(cu, keeps_acl)
{
	unsigned char buf[256];
	ssize_t n;

	ASSERT_EQ(0, setxattr(M("aclf"), "user.new", "1", 1, 0));
	n = getxattr(UP(RW, "aclf"), "system.posix_acl_access", buf,
		     sizeof(buf));
	ASSERT_EQ(sizeof(acl_blob), n);
	EXPECT_EQ(0, memcmp(buf, acl_blob, n));
}

TEST_F(cu, dir_copied_up_with_ancestors)
{
	struct stat st;

	ASSERT_EQ(0, mkfile(M("d1/d2/d3/new"), "new\n"));
	ASSERT_EQ(0, stat(UP(RW, "d1"), &st));
	EXPECT_EQ(1003, st.st_uid);
	EXPECT_EQ(meta_times[1].tv_sec, st.st_mtim.tv_sec);
	ASSERT_EQ(0, stat(UP(RW, "d1/d2"), &st));
	EXPECT_EQ(0711, st.st_mode & 07777);
	EXPECT_EQ(meta_times[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "d1/d2/d3")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "d1/d2/d3/new")));
	/* Copying a directory up copies none of its entries */
	EXPECT_EQ(0, ftype(UP(RW, "d1/d2/d3/f")));
	EXPECT_STREQ("f\n", slurp(M("d1/d2/d3/f")));
}

TEST_F(cu, symlink_copied_up)
{
	char buf[64] = "";
	struct stat st;

	ASSERT_EQ(0, lchown(M("sym"), -1, -1));
	ASSERT_EQ(0, lstat(UP(RW, "sym"), &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	EXPECT_EQ(1004, st.st_uid);
	EXPECT_EQ(meta_times[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(4, readlink(UP(RW, "sym"), buf, sizeof(buf)));
	EXPECT_STREQ("meta", buf);
	/* The target stays where it was */
	EXPECT_EQ(0, ftype(UP(RW, "meta")));
}

TEST_F(cu, fifo_copied_up)
{
	struct stat st;

	ASSERT_EQ(0, chown(M("fifo"), 7, 8));
	ASSERT_EQ(0, lstat(UP(RW, "fifo"), &st));
	EXPECT_TRUE(S_ISFIFO(st.st_mode));
	EXPECT_EQ(0620, st.st_mode & 07777);
	EXPECT_EQ(7, st.st_uid);
}

TEST_F(cu, chardev_copied_up)
{
	struct stat st;

	ASSERT_EQ(0, chmod(M("chr"), 0600));
	ASSERT_EQ(0, lstat(UP(RW, "chr"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(1, 5), st.st_rdev);
	EXPECT_EQ(0600, st.st_mode & 07777);
}

TEST_F(cu, copied_up_file_has_origin)
{
	ASSERT_EQ(0, chmod(M("meta"), 0700));
	EXPECT_LT(0, lgetxattr(UP(RW, "meta"), OVL_ORIGIN_XATTR, NULL, 0));
	/*
	 * ... which users of the union never see (overlayfs escapes the
	 * names of users' trusted.overlay.* xattrs: it finds none here)
	 */
	EXPECT_EQ(is_overlay() ? -ENODATA : -EOPNOTSUPP,
		  ERRNO_OF(lgetxattr(M("meta"), OVL_ORIGIN_XATTR, NULL, 0)));
}

/* Control for the two below: a copy-up with data opens the lower file. */
TEST_F(cu, write_open_reads_lower)
{
	int in = watch_opens(LP(RW, 0, "data"));
	int fd;

	ASSERT_LE(0, in);
	fd = open(M("data"), O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(1, count_events(in, IN_OPEN));
	close(in);
}

TEST_F(cu, open_trunc_copies_no_data)
{
	struct stat st;
	int in = watch_opens(LP(RW, 0, "data"));
	int fd;

	ASSERT_LE(0, in);
	fd = open(M("data"), O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(0, count_events(in, IN_OPEN | IN_ACCESS));
	close(in);
	ASSERT_EQ(0, stat(UP(RW, "data"), &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_TRUE(file_equals(LP(RW, 0, "data"), self->data, DATA_SIZE));
}

/* overlayfs copies the data up before truncate(0) (documented) */
TEST_F(cu, truncate_zero_copies_no_data)
{
	struct stat st;
	int in = watch_opens(LP(RW, 0, "data"));

	if (is_overlay())
		SKIP(return, "overlayfs copies data for truncate(0) (documented)");
	ASSERT_LE(0, in);
	ASSERT_EQ(0, truncate(M("data"), 0));
	EXPECT_EQ(0, count_events(in, IN_OPEN | IN_ACCESS));
	close(in);
	ASSERT_EQ(0, stat(M("data"), &st));
	EXPECT_EQ(0, st.st_size);
	ASSERT_EQ(0, stat(UP(RW, "data"), &st));
	EXPECT_EQ(0, st.st_size);
}

/* truncate(0) copies no data, but the file did change: new mtime */
TEST_F(cu, truncate_zero_updates_mtime)
{
	struct stat st;

	ASSERT_EQ(0, truncate(M("meta"), 0));
	ASSERT_EQ(0, stat(M("meta"), &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_NE(meta_times[1].tv_sec, st.st_mtim.tv_sec);
	ASSERT_EQ(0, stat(UP(RW, "meta"), &st));
	EXPECT_NE(meta_times[1].tv_sec, st.st_mtim.tv_sec);
}

/* A hard link made through the union, after a remount */
TEST_F(cu, unlink_hard_linked_copy_up_after_remount)
{
	struct stat st;

	ASSERT_EQ(0, link(M("meta"), M("meta_link")));
	ASSERT_EQ(0, rw_remount(RW));
	ASSERT_EQ(0, lstat(M("meta_link"), &st));
	ASSERT_EQ(0, lstat(M("meta"), &st));
	EXPECT_EQ(0, ERRNO_OF(unlink(M("meta"))));
	EXPECT_EQ(-ENOENT, lstat_err(M("meta")));
	EXPECT_STREQ("meta\n", slurp(M("meta_link")));
}

struct writer {
	const char *path;
	pthread_barrier_t *barrier;
	int idx;
	int err;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	char buf[BLK];
	int fd;

	memset(buf, 'a' + w->idx % 26, sizeof(buf));
	pthread_barrier_wait(w->barrier);
	fd = open(w->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		w->err = errno;
		return NULL;
	}
	if (pwrite(fd, buf, BLK, (off_t)w->idx * BLK) != BLK)
		w->err = errno ?: EIO;
	close(fd);
	return NULL;
}

/*
 * 64 threads open one lower file for writing at once and each writes its
 * own block: exactly one copy-up (one open of the lower file), and every
 * write is in the upper file (none went to a copy that was replaced).
 */
TEST_F_TIMEOUT(cu, concurrent_writers_one_copy_up, 120)
{
	static unsigned char zeros[NTHREADS * BLK];
	pthread_t tid[NTHREADS];
	struct writer w[NTHREADS];
	pthread_barrier_t barrier;
	int round, i, in;

	for (round = 0; round < 4; round++) {
		char name[16], path[PATH_MAX];
		char buf[BLK];
		int fd;

		snprintf(name, sizeof(name), "conc%d", round);
		snprintf(path, sizeof(path), "%s", M(name));
		/* Made before the mount sees it: umount, add, mount */
		ASSERT_EQ(0, rw_umount(RW));
		ASSERT_EQ(0, mkfile_data(LP(RW, 0, name), zeros, sizeof(zeros),
					 0644));
		ASSERT_EQ(0, rw_mount(RW, NULL));
		in = watch_opens(LP(RW, 0, name));
		ASSERT_LE(0, in);
		ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, NTHREADS));
		for (i = 0; i < NTHREADS; i++) {
			w[i] = (struct writer){ .path = path,
						.barrier = &barrier, .idx = i };
			ASSERT_EQ(0, pthread_create(&tid[i], NULL, writer_fn,
						    &w[i]));
		}
		for (i = 0; i < NTHREADS; i++) {
			pthread_join(tid[i], NULL);
			EXPECT_EQ(0, w[i].err) TH_LOG("writer %d", i);
		}
		pthread_barrier_destroy(&barrier);
		EXPECT_EQ(1, count_events(in, IN_OPEN)) TH_LOG("round %d", round);
		close(in);

		fd = open(UP(RW, name), O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		for (i = 0; i < NTHREADS; i++) {
			ASSERT_EQ(BLK, pread(fd, buf, BLK, (off_t)i * BLK));
			EXPECT_EQ('a' + i % 26, buf[0]) TH_LOG("block %d", i);
			EXPECT_EQ('a' + i % 26, buf[BLK - 1]);
		}
		close(fd);
		EXPECT_EQ(0, work_leftovers(RW));
	}
}

TEST_F(cu, st_ino_and_dev_stable_over_copy_up)
{
	struct stat before, after;

	ASSERT_EQ(0, stat(M("meta"), &before));
	ASSERT_EQ(0, chmod(M("meta"), 0700));
	ASSERT_EQ(S_IFREG, ftype(UP(RW, "meta")));
	ASSERT_EQ(0, stat(M("meta"), &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	EXPECT_EQ(before.st_dev, after.st_dev);
	/* and after a remount, when nothing is cached */
	ASSERT_EQ(0, rw_remount(RW));
	ASSERT_EQ(0, stat(M("meta"), &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
}

/* readdir's d_ino of @name in @dir, 0 if not listed */
static ino_t dirent_ino(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	ino_t ino = 0;

	while (d && (de = readdir(d)))
		if (!strcmp(de->d_name, name))
			ino = de->d_ino;
	if (d)
		closedir(d);
	return ino;
}

/*
 * A lower file with two names, one of them written: without an index that
 * name alone is copied up, and from then on they are two files.  They must
 * not share st_ino, or tar and rsync -H would store one as a hard link to
 * the other (overlayfs gives the copy the upper's number).  readdir's
 * d_ino says the same as stat.
 */
TEST_F(cu, copied_up_hard_link_gets_own_st_ino)
{
	struct stat a, b;
	int round;

	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "hl/a"), "one file\n"));
	ASSERT_EQ(0, link(LP(RW, 0, "hl/a"), LP(RW, 0, "hl/b")));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(0, stat(M("hl/a"), &a));
	ASSERT_EQ(0, stat(M("hl/b"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);

	ASSERT_EQ(0, write_str(M("hl/a"), "changed\n", O_TRUNC));
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, stat(M("hl/a"), &a));
		ASSERT_EQ(0, stat(M("hl/b"), &b));
		EXPECT_NE(a.st_ino, b.st_ino);
		EXPECT_EQ(a.st_ino, dirent_ino(M("hl"), "a"));
		EXPECT_EQ(b.st_ino, dirent_ino(M("hl"), "b"));
		EXPECT_STREQ("one file\n", slurp(M("hl/b")));
		/* and when nothing is cached */
		ASSERT_EQ(0, rw_remount(RW));
	}
}

/*
 * userxattr: origins are not decoded, so after a remount the name linked
 * to a copied-up file has no lower file.  Both names must still show one
 * st_ino (tar and rsync -H group names by it).
 */
TEST_F(cu, userxattr_links_share_st_ino)
{
	struct stat a, b;
	int round;

	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "ux/f"), "one file\n"));
	ASSERT_EQ(0, rw_mount(RW, "userxattr"));
	ASSERT_EQ(0, chmod(M("ux/f"), 0600));
	ASSERT_EQ(0, link(M("ux/f"), M("ux/g")));
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, stat(M("ux/f"), &a));
		ASSERT_EQ(0, stat(M("ux/g"), &b));
		EXPECT_EQ(a.st_ino, b.st_ino);
		EXPECT_EQ(2, a.st_nlink);
		EXPECT_EQ(a.st_ino, dirent_ino(M("ux"), "f"));
		EXPECT_EQ(b.st_ino, dirent_ino(M("ux"), "g"));
		/* and when nothing is cached */
		ASSERT_EQ(0, rw_remount(RW));
	}
}

TEST_F(cu, st_ino_stable_for_open_file)
{
	struct stat before, after;
	int fd = open(M("data"), O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &before));
	ASSERT_EQ(0, truncate(M("data"), 10));
	ASSERT_EQ(0, fstat(fd, &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	EXPECT_EQ(before.st_dev, after.st_dev);
	EXPECT_EQ(10, after.st_size);
	close(fd);
}

TEST_F(cu, st_ino_stable_after_rename_and_remount)
{
	struct stat before, after;

	ASSERT_EQ(0, stat(M("meta"), &before));
	ASSERT_EQ(0, rename(M("meta"), M("d1/moved")));
	ASSERT_EQ(0, stat(M("d1/moved"), &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	ASSERT_EQ(0, rw_remount(RW));
	ASSERT_EQ(0, stat(M("d1/moved"), &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
}

/*
 * cowfs reports the union's st_dev for every object; overlayfs (without
 * xino) reports the real filesystem's for non-directories.  See
 * docs/overlay-differences.md.
 */
TEST_F(cu, one_st_dev_for_all_objects)
{
	const char *names[] = { "", "meta", "sym", "fifo", "d1", "d1/d2/d3/f" };
	struct stat root, st;
	size_t i;

	if (is_overlay())
		SKIP(return, "overlayfs reports the real st_dev of non-dirs (documented)");
	ASSERT_EQ(0, stat(M(""), &root));
	ASSERT_EQ(0, chmod(M("meta"), 0700));
	for (i = 0; i < ARRAY_LEN(names); i++) {
		ASSERT_EQ(0, lstat(M(names[i]), &st));
		EXPECT_EQ(root.st_dev, st.st_dev) TH_LOG("%s", names[i]);
	}
}

/* ---- copy-up failing on a full upper layer --------------------------- */

#define BIG_SIZE	(4 * MIB)

FIXTURE(full) {
	struct rw_env rw;
	unsigned char *big;
};

FIXTURE_SETUP(full)
{
	REQUIRE_FSTYPE();
	self->big = malloc(BIG_SIZE);
	ASSERT_NE(NULL, self->big);
	fill_pattern(self->big, BIG_SIZE, 0xb16);
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 1, RW_UPPER_FS, "1m"));
	SETUP_ASSERT0(&self->rw.e, mkfile_data(LP(&self->rw, 0, "big"),
					       self->big, BIG_SIZE, 0644));
	SETUP_ASSERT0(&self->rw.e, mkfile_data(LP(&self->rw, 0, "d/big"),
					       self->big, BIG_SIZE, 0644));
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 0, "small"), "small\n"));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, NULL));
}

FIXTURE_TEARDOWN(full)
{
	rw_cleanup(&self->rw);
	free(self->big);
}

static long free_blocks(const char *path)
{
	struct statvfs sv;

	return statvfs(path, &sv) ? -1 : (long)sv.f_bfree;
}

TEST_F(full, enospc_fails_open_and_leaves_nothing)
{
	long before = free_blocks(RW->upper);
	struct stat st;

	EXPECT_EQ(-ENOSPC, ERRNO_OF(open(M("big"), O_WRONLY | O_CLOEXEC)));
	EXPECT_EQ(0, ftype(UP(RW, "big")));
	EXPECT_EQ(0, work_leftovers(RW));
	/* The temporary file's blocks were given back */
	EXPECT_EQ(before, free_blocks(RW->upper));
	/* The merged view still shows the lower file, intact */
	ASSERT_EQ(0, stat(M("big"), &st));
	EXPECT_EQ(BIG_SIZE, st.st_size);
	EXPECT_TRUE(file_equals(M("big"), self->big, BIG_SIZE));
	EXPECT_TRUE(file_equals(LP(RW, 0, "big"), self->big, BIG_SIZE));
}

TEST_F(full, enospc_in_subdir_keeps_parent_consistent)
{
	EXPECT_EQ(-ENOSPC, ERRNO_OF(chmod(M("d/big"), 0600)));
	EXPECT_EQ(0, ftype(UP(RW, "d/big")));
	EXPECT_EQ(0, work_leftovers(RW));
	EXPECT_TRUE(dir_lists(M("d"), "big"));
	EXPECT_TRUE(file_equals(M("d/big"), self->big, BIG_SIZE));
	/* Other writes still work */
	EXPECT_EQ(0, mkfile(M("d/other"), "o\n"));
	EXPECT_STREQ("o\n", slurp(M("d/other")));
}

TEST_F(full, enospc_then_remount_is_clean)
{
	EXPECT_EQ(-ENOSPC, ERRNO_OF(setxattr(M("big"), "user.x", "1", 1, 0)));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(file_equals(M("big"), self->big, BIG_SIZE));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(full, open_trunc_needs_no_space)
{
	int fd = open(M("big"), O_WRONLY | O_TRUNC | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open(O_TRUNC): %s", strerror(errno));
	ASSERT_EQ(0, write_all(fd, "new\n", 4));
	close(fd);
	EXPECT_STREQ("new\n", slurp(M("big")));
	EXPECT_STREQ("new\n", slurp(UP(RW, "big")));
}

TEST_F(full, truncate_zero_needs_no_space)
{
	struct stat st;

	if (is_overlay())
		SKIP(return, "overlayfs copies data for truncate(0) (documented)");
	ASSERT_EQ(0, truncate(M("big"), 0));
	ASSERT_EQ(0, stat(M("big"), &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_TRUE(file_equals(LP(RW, 0, "big"), self->big, BIG_SIZE));
}

/* ---- copy-up failing with EIO from the upper's disk ------------------- */

/*
 * The upper layer is ext4 (no journal) on a device-mapper target over a
 * loop device: "linear" while setting up, "flakey" failing every write
 * while the copy-up runs.  The copy-up's fsync then fails with EIO.
 */
FIXTURE(eio) {
	struct rw_env rw;
	char dm[64];
	char table_ok[256];
	char table_bad[256];
	char loop[64];
};

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) ? -EIO : 0;
}

static int sh_out(char *out, size_t size, const char *cmd)
{
	FILE *f = popen(cmd, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(out, size, f) != NULL;
	pclose(f);
	if (!ok)
		return -EIO;
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static int dm_load(const char *dm, const char *table)
{
	return sh("DM_DISABLE_UDEV=1 dmsetup suspend --nolockfs --noflush %s && "
		  "DM_DISABLE_UDEV=1 dmsetup reload %s --table '%s' && "
		  "DM_DISABLE_UDEV=1 dmsetup resume %s", dm, dm, table, dm);
}

FIXTURE_SETUP(eio)
{
	struct rw_env *rw = &self->rw;
	char cmd[512], sectors[32];

	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 1, 0, NULL));
	snprintf(self->dm, sizeof(self->dm), "cowfs-eio-%d", getpid());
	snprintf(cmd, sizeof(cmd),
		 "modprobe loop; modprobe dm-flakey; modprobe ext4; "
		 "truncate -s 32M %s/img && losetup -f --show %s/img 2>/dev/null",
		 rw->e.base, rw->e.base);
	if (sh_out(self->loop, sizeof(self->loop), cmd) ||
	    sh_out(sectors, sizeof(sectors),
		   pathf("blockdev --getsz %s", self->loop))) {
		rw_cleanup(rw);
		SKIP(return, "no loop device");
	}
	snprintf(self->table_ok, sizeof(self->table_ok), "0 %s linear %s 0",
		 sectors, self->loop);
	snprintf(self->table_bad, sizeof(self->table_bad),
		 "0 %s flakey %s 0 0 1 1 error_writes", sectors, self->loop);
	if (sh("mkfs.ext4 -q -F -O ^has_journal %s >/dev/null 2>&1 && "
	       "DM_DISABLE_UDEV=1 dmsetup create %s --table '%s' && "
	       "DM_DISABLE_UDEV=1 dmsetup mknodes %s && "
	       "mkdir -p %s/ufs && mount /dev/mapper/%s %s/ufs",
	       self->loop, self->dm, self->table_ok, self->dm, rw->e.base,
	       self->dm, rw->e.base)) {
		sh("DM_DISABLE_UDEV=1 dmsetup remove %s 2>/dev/null; losetup -d %s",
		   self->dm, self->loop);
		rw_cleanup(rw);
		SKIP(return, "cannot set up dm-flakey over a loop device");
	}
	snprintf(rw->upper, sizeof(rw->upper), "%s/ufs/u", rw->e.base);
	snprintf(rw->work, sizeof(rw->work), "%s/ufs/w", rw->e.base);
	SETUP_ASSERT0(&rw->e, mkdir_p(rw->upper, 0755) ?: mkdir_p(rw->work, 0755));
	SETUP_ASSERT0(&rw->e, mkfile_data(LP(rw, 0, "data"), "lower data\n", 11,
					  0644));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 0, "d/f"), "f\n"));
	SETUP_ASSERT0(&rw->e, rw_mount(rw, NULL));
	/* Everything of the setup on disk before writes start failing */
	sync();
}

FIXTURE_TEARDOWN(eio)
{
	if (!self->loop[0])
		return;
	dm_load(self->dm, self->table_ok);
	umount_below(self->rw.e.base);
	sh("DM_DISABLE_UDEV=1 dmsetup remove %s 2>/dev/null; losetup -d %s",
	   self->dm, self->loop);
	rw_cleanup(&self->rw);
}

TEST_F(eio, eio_fails_copy_up_and_leaves_nothing)
{
	ASSERT_EQ(0, dm_load(self->dm, self->table_bad));
	EXPECT_EQ(-EIO, ERRNO_OF(chmod(MP(RW, "data"), 0600)));
	ASSERT_EQ(0, dm_load(self->dm, self->table_ok));
	EXPECT_EQ(0, ftype(UP(RW, "data")));
	EXPECT_EQ(0, work_leftovers(RW));
	EXPECT_STREQ("lower data\n", slurp(MP(RW, "data")));
	EXPECT_STREQ("lower data\n", slurp(LP(RW, 0, "data")));
	/* The union works again once the disk does */
	EXPECT_EQ(0, chmod(MP(RW, "data"), 0600));
	EXPECT_STREQ("lower data\n", slurp(UP(RW, "data")));
}

TEST_F(eio, eio_then_remount_is_clean)
{
	ASSERT_EQ(0, dm_load(self->dm, self->table_bad));
	EXPECT_EQ(-EIO, ERRNO_OF(open(MP(RW, "d/f"), O_WRONLY | O_CLOEXEC)));
	ASSERT_EQ(0, dm_load(self->dm, self->table_ok));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(0, work_leftovers(RW));
	EXPECT_STREQ("f\n", slurp(MP(RW, "d/f")));
	EXPECT_EQ(0, ftype(UP(RW, "d/f")));
}

/* ---- layers on different filesystems --------------------------------- */

FIXTURE(xfs) {
	struct rw_env rw;
};

FIXTURE_SETUP(xfs)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2,
					   RW_UPPER_FS | RW_LOWER_FS, NULL));
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 0, "a"), "a0\n"));
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 1, "b"), "b1\n"));
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 1, "c"), "c1\n"));
	/* Fresh tmpfs instances count inodes alike: numbers collide */
	SETUP_ASSERT0(&self->rw.e, mkfile(UP(&self->rw, "u1"), "u\n"));
	SETUP_ASSERT0(&self->rw.e, mkfile(UP(&self->rw, "u2"), "u\n"));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, "xino=on"));
}

FIXTURE_TEARDOWN(xfs)
{
	rw_cleanup(&self->rw);
}

TEST_F(xfs, st_ino_stable_over_copy_up)
{
	struct stat before, after;

	ASSERT_EQ(0, stat(M("b"), &before));
	ASSERT_EQ(0, chmod(M("b"), 0600));
	ASSERT_EQ(S_IFREG, ftype(UP(RW, "b")));
	ASSERT_EQ(0, stat(M("b"), &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	EXPECT_EQ(before.st_dev, after.st_dev);
	ASSERT_EQ(0, rw_remount(RW));
	ASSERT_EQ(0, stat(M("b"), &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	EXPECT_EQ(before.st_dev, after.st_dev);
}

TEST_F(xfs, st_ino_unique_across_filesystems)
{
	const char *names[] = { "a", "b", "c", "u1", "u2" };
	struct stat st[5];
	size_t i, j;

	for (i = 0; i < ARRAY_LEN(names); i++)
		ASSERT_EQ(0, stat(M(names[i]), &st[i]));
	for (i = 0; i < ARRAY_LEN(names); i++) {
		for (j = i + 1; j < ARRAY_LEN(names); j++) {
			bool same = st[i].st_ino == st[j].st_ino &&
				    st[i].st_dev == st[j].st_dev;

			if (same)
				TH_LOG("%s and %s", names[i], names[j]);
			EXPECT_FALSE(same);
		}
	}
}

TEST_F(xfs, new_file_st_ino_unique)
{
	struct stat a, n;

	ASSERT_EQ(0, mkfile(M("new"), "n\n"));
	ASSERT_EQ(0, stat(M("new"), &n));
	ASSERT_EQ(0, stat(M("a"), &a));
	EXPECT_FALSE(a.st_ino == n.st_ino && a.st_dev == n.st_dev);
	ASSERT_EQ(0, stat(M("b"), &a));
	EXPECT_FALSE(a.st_ino == n.st_ino && a.st_dev == n.st_dev);
}

TEST_HARNESS_MAIN
