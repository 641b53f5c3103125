// SPDX-License-Identifier: GPL-2.0
/*
 * Faults: an upper layer that runs out of space or inodes, an upper layer
 * on a block device that starts failing (dm-error, dm-flakey), an upper
 * filesystem without xattrs, and lower layers changed under a live union.
 * Every failure must be a clean error, nothing acknowledged may be lost,
 * and every union must unmount.
 *
 * (copyup_test's "full" fixture covers ENOSPC during a copy-up's data
 * copy; upper_opts_test refuses a ramfs upper.)
 */
#include <time.h>
#include <sys/mman.h>
#include <sys/statvfs.h>

#include "kselftest_harness.h"
#include "cowfs_rw.h"

#define M(rel)		MP(RW, rel)
#define RW		(&self->rw)

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 131 + i * 13 + i / 509);
}

static bool file_is(const char *path, const void *want, size_t len)
{
	unsigned char *buf = malloc(len + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1, got = 0;
	bool ok;

	while (fd >= 0 && buf && (size_t)got <= len) {
		n = pread(fd, buf + got, len + 1 - got, got);
		if (n <= 0)
			break;
		got += n;
	}
	ok = n >= 0 && got == (ssize_t)len && !memcmp(buf, want, len);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/* ---- an upper layer out of space or inodes ---------------------------------- */

FIXTURE(tiny) {
	struct rw_env rw;
};

FIXTURE_SETUP(tiny)
{
	REQUIRE_FSTYPE();
}

FIXTURE_TEARDOWN(tiny)
{
	rw_cleanup(RW);
}

/* Upper and work on a tmpfs mounted with @opts. */
static int tiny_init(struct rw_env *rw, const char *opts)
{
	const char *ufs;
	int ret = rw_init(rw, 2, 0, NULL);

	if (ret)
		return ret;
	ufs = pathf("%s/ufs", rw->e.base);
	ret = mount_tmpfs(ufs, opts);
	if (ret)
		return ret;
	snprintf(rw->upper, sizeof(rw->upper), "%s/u", ufs);
	snprintf(rw->work, sizeof(rw->work), "%s/w", ufs);
	return mkdir_p(rw->upper, 0755) ?: mkdir_p(rw->work, 0755);
}

/*
 * Writing until the upper layer is full: every byte write() said it
 * wrote is there (also after a remount), the error is ENOSPC, and the
 * space comes back when the file goes.
 */
TEST_F(tiny, enospc_during_write_keeps_acknowledged_bytes)
{
	static unsigned char chunk[65536], lower[20000];
	size_t acked = 0;
	unsigned char *all;
	ssize_t n;
	int fd, err = 0, i;

	ASSERT_EQ(0, tiny_init(RW, "size=512k,mode=0755"));
	fill(lower, sizeof(lower), 7);
	ASSERT_EQ(0, mkfile_data(LP(RW, 1, "grow"), lower, sizeof(lower), 0644));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	/* A copied-up lower file grows until the upper layer is full */
	fd = open(M("grow"), O_WRONLY | O_APPEND | O_CLOEXEC);
	ASSERT_LE(0, fd);
	acked = sizeof(lower);
	all = malloc(2 << 20);
	ASSERT_NE(NULL, all);
	memcpy(all, lower, sizeof(lower));
	for (i = 0; i < 64 && !err; i++) {
		fill(chunk, sizeof(chunk), 100 + i);
		n = write(fd, chunk, sizeof(chunk));
		if (n < 0) {
			err = errno;
			break;
		}
		memcpy(all + acked, chunk, n);
		acked += n;
	}
	EXPECT_EQ(ENOSPC, err) TH_LOG("write: %s after %zu bytes", strerror(err), acked);
	/* What was written is there; fsync may report ENOSPC, not lose it */
	n = fsync(fd);
	EXPECT_TRUE(n == 0 || errno == ENOSPC) TH_LOG("fsync: %s", strerror(errno));
	EXPECT_EQ(0, close(fd));
	EXPECT_TRUE(file_is(M("grow"), all, acked)) TH_LOG("%zu bytes acknowledged", acked);
	EXPECT_TRUE(file_is(LP(RW, 1, "grow"), lower, sizeof(lower)));

	/* A new file cannot get space either, but fails cleanly */
	n = mkfile_data(M("more"), chunk, sizeof(chunk), 0644);
	EXPECT_EQ(-ENOSPC, n);

	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(file_is(M("grow"), all, acked));
	EXPECT_EQ(0, work_leftovers(RW));

	/* Space comes back */
	ASSERT_EQ(0, unlink(M("grow")));
	EXPECT_EQ(-ENOENT, lstat_err(M("grow")));
	EXPECT_EQ(0, mkfile_data(M("more"), chunk, sizeof(chunk), 0644));
	EXPECT_TRUE(file_is(M("more"), chunk, sizeof(chunk)));
	free(all);
}

/* Fill the upper layer's inodes through the union; how many were made. */
static int use_up_inodes(struct rw_env *rw)
{
	int i, fd;

	for (i = 0; i < 100000; i++) {
		fd = open(pathf("%s/filler%d", rw->e.mnt, i),
			  O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return errno == ENOSPC ? i : -errno;
		close(fd);
	}
	return -E2BIG;
}

static int free_inodes(struct rw_env *rw, int from, int n)
{
	int i;

	for (i = from; i < from + n; i++)
		if (unlink(pathf("%s/filler%d", rw->e.mnt, i)))
			return -errno;
	return 0;
}

/*
 * With no inode left in the upper layer, nothing that needs one may
 * half happen: unlink and rmdir (a whiteout), rename and a write open (a
 * copy-up), mkdir and create over a whiteout (a temporary object) all fail
 * with ENOSPC and leave the union as it was: no lower object disappears
 * or comes back.  A copy-up of a deep file that runs out halfway leaves
 * consistent ancestors.  With inodes back, all of it works.
 */
TEST_F(tiny, enospc_during_whiteout_and_copy_up)
{
	int made, ret;

	ASSERT_EQ(0, tiny_init(RW, "size=4m,nr_inodes=64,mode=0755"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "victim"), "victim\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "moved"), "moved\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "gone"), "gone\n"));
	ASSERT_EQ(0, mkdir_p(LP(RW, 1, "edir"), 0755));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "a/b/c/deep"), "deep\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "a/b/other"), "other\n"));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(0, unlink(M("gone")));	/* a whiteout, made while there was room */

	made = use_up_inodes(RW);
	ASSERT_LT(0, made) TH_LOG("filling the upper layer: %s", strerror(-made));

	if (is_overlay())	/* it links whiteouts to one it keeps */
		SKIP(return, "overlayfs makes whiteouts without new inodes");
	EXPECT_EQ(-ENOSPC, ERRNO_OF(unlink(M("victim"))));
	EXPECT_STREQ("victim\n", slurp(M("victim")));
	EXPECT_TRUE(dir_lists(RW->e.mnt, "victim"));
	EXPECT_EQ(-ENOSPC, ERRNO_OF(rmdir(M("edir"))));
	EXPECT_EQ(0, count_entries(M("edir")));
	EXPECT_EQ(-ENOSPC, rw_renameat2(M("moved"), M("moved2"), 0));
	EXPECT_STREQ("moved\n", slurp(M("moved")));
	EXPECT_EQ(-ENOENT, lstat_err(M("moved2")));
	EXPECT_EQ(-ENOSPC, ERRNO_OF(open(M("victim"), O_WRONLY | O_CLOEXEC)));
	/* Over the whiteout: the lower "gone" must not come back */
	EXPECT_EQ(-ENOSPC, ERRNO_OF(mkdir(M("gone"), 0755)));
	EXPECT_EQ(-ENOENT, lstat_err(M("gone")));
	EXPECT_EQ(-ENOSPC, mkfile(M("gone"), "new\n"));
	EXPECT_EQ(-ENOENT, lstat_err(M("gone")));
	EXPECT_FALSE(dir_lists(RW->e.mnt, "gone"));
	EXPECT_TRUE(is_whiteout(UP(RW, "gone")));

	/* Room for two of the four objects a copy-up of a/b/c/deep makes */
	ASSERT_EQ(0, free_inodes(RW, 0, 2));
	ret = ERRNO_OF(open(M("a/b/c/deep"), O_WRONLY | O_CLOEXEC));
	EXPECT_EQ(-ENOSPC, ret);
	if (ret >= 0)
		close(ret);
	EXPECT_STREQ("deep\n", slurp(M("a/b/c/deep")));
	EXPECT_STREQ("other\n", slurp(M("a/b/other")));
	EXPECT_EQ(2, count_entries(M("a/b")));
	EXPECT_EQ(1, count_entries(M("a/b/c")));
	EXPECT_EQ(0, work_leftovers(RW));

	/* Inodes back: everything goes through */
	ASSERT_EQ(0, free_inodes(RW, 2, made - 2));
	EXPECT_EQ(0, ERRNO_OF(unlink(M("victim"))));
	EXPECT_EQ(-ENOENT, lstat_err(M("victim")));
	EXPECT_EQ(0, ERRNO_OF(rmdir(M("edir"))));
	EXPECT_EQ(0, rw_renameat2(M("moved"), M("moved2"), 0));
	EXPECT_EQ(0, ERRNO_OF(mkdir(M("gone"), 0755)));
	EXPECT_EQ(0, count_entries(M("gone")));
	EXPECT_EQ(0, mkfile(M("a/b/c/deep"), "new deep\n"));

	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(-ENOENT, lstat_err(M("victim")));
	EXPECT_EQ(-ENOENT, lstat_err(M("edir")));
	EXPECT_EQ(-ENOENT, lstat_err(M("moved")));
	EXPECT_STREQ("moved\n", slurp(M("moved2")));
	EXPECT_EQ(0, count_entries(M("gone")));
	EXPECT_STREQ("new deep\n", slurp(M("a/b/c/deep")));
	EXPECT_STREQ("other\n", slurp(M("a/b/other")));
	EXPECT_EQ(0, work_leftovers(RW));
	EXPECT_STREQ("victim\n", slurp(LP(RW, 1, "victim")));
	EXPECT_STREQ("deep\n", slurp(LP(RW, 0, "a/b/c/deep")));
}

/* ---- an upper layer on a failing block device -------------------------------- */

#define DEV_MB		64

FIXTURE(dm) {
	struct rw_env rw;
	char log[PATH_MAX];
	char img[PATH_MAX];
	char loop[64];
	char name[64];		/* device-mapper name */
	char dev[PATH_MAX];	/* /dev/mapper/<name> */
	char fs[PATH_MAX];	/* ext4 mount point */
	unsigned long sectors;
	bool dm_made;
};

static int dm_table(struct _test_data_dm *self, const char *table)
{
	return run(self->log, "dmsetup suspend --nolockfs --noflush %s && "
		   "dmsetup load %s --table '%s' && dmsetup resume %s",
		   self->name, self->name, table, self->name);
}

static int dm_healthy(struct _test_data_dm *self)
{
	char t[256];

	snprintf(t, sizeof(t), "0 %lu linear %s 0", self->sectors, self->loop);
	return dm_table(self, t);
}

static int dm_failing(struct _test_data_dm *self)
{
	char t[256];

	snprintf(t, sizeof(t), "0 %lu error", self->sectors);
	return dm_table(self, t);
}

/* Up @up seconds, then every I/O fails for @down seconds, and again. */
static int dm_flakey(struct _test_data_dm *self, int up, int down)
{
	char t[256];

	snprintf(t, sizeof(t), "0 %lu flakey %s 0 %d %d", self->sectors,
		 self->loop, up, down);
	return dm_table(self, t);
}

/* Mount the ext4 on the device and make upper and work on it */
static int dm_mount_fs(struct _test_data_dm *self)
{
	if (mount(self->dev, self->fs, "ext4", 0, "errors=remount-ro"))
		return -errno;
	return mkdir_p(self->rw.upper, 0755) ?: mkdir_p(self->rw.work, 0755);
}

FIXTURE_SETUP(dm)
{
	FILE *f;

	REQUIRE_FSTYPE();
	if (!have_cmd("dmsetup") || !have_cmd("losetup") || !have_cmd("mkfs.ext4") ||
	    !have_cmd("e2fsck"))
		SKIP(return, "needs dmsetup, losetup, mkfs.ext4 and e2fsck");
	if (system("modprobe -q dm-mod && modprobe -q dm-flakey && modprobe -q ext4 "
		   "&& modprobe -q loop"))
		SKIP(return, "cannot load dm-mod, dm-flakey, ext4 or loop");
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 1, 0, NULL));
	snprintf(self->log, sizeof(self->log), "%s/cmd.log", self->rw.e.base);
	snprintf(self->img, sizeof(self->img), "%s/upper.img", self->rw.e.base);
	snprintf(self->name, sizeof(self->name), "cowfs-faults-%d", getpid());
	snprintf(self->dev, sizeof(self->dev), "/dev/mapper/%s", self->name);
	snprintf(self->fs, sizeof(self->fs), "%s/fs", self->rw.e.base);
	if (snprintf(self->rw.upper, sizeof(self->rw.upper), "%s/u", self->fs) >= PATH_MAX ||
	    snprintf(self->rw.work, sizeof(self->rw.work), "%s/w", self->fs) >= PATH_MAX)
		SKIP(return, "paths too long");
	self->sectors = DEV_MB * 2048UL;
	SETUP_ASSERT0(&self->rw.e, mkdir_p(self->fs, 0755));
	SETUP_ASSERT0(&self->rw.e, run(self->log, "truncate -s %dM %s", DEV_MB, self->img));
	f = popen(pathf("losetup -f --show %s", self->img), "r");
	ASSERT_NE(NULL, f);
	if (!fgets(self->loop, sizeof(self->loop), f))
		self->loop[0] = '\0';
	pclose(f);
	self->loop[strcspn(self->loop, "\n")] = '\0';
	if (strncmp(self->loop, "/dev/loop", 9)) {
		rw_cleanup(&self->rw);
		ASSERT_TRUE(false) TH_LOG("losetup failed");
	}
	/* No udev in the test VM: mknodes makes /dev/mapper/<name> */
	SETUP_ASSERT0(&self->rw.e, run(self->log, "dmsetup create %s --table '0 %lu linear %s 0' "
				       "&& dmsetup mknodes %s",
				       self->name, self->sectors, self->loop, self->name));
	self->dm_made = true;
	SETUP_ASSERT0(&self->rw.e, run(self->log, "mkfs.ext4 -q -F %s", self->dev));
	SETUP_ASSERT0(&self->rw.e, dm_mount_fs(self));
}

FIXTURE_TEARDOWN(dm)
{
	if (!self->rw.e.base[0])
		return;
	umount_below(self->rw.e.base);
	if (self->dm_made) {
		int i;

		for (i = 0; i < 20 && run(self->log, "dmsetup remove %s", self->name); i++)
			usleep(250000);
	}
	if (self->loop[0])
		run(self->log, "losetup -d %s", self->loop);
	rw_cleanup(&self->rw);
}

/* Clean errors of a union over a failing upper layer */
#define EIO_OR_EROFS(err)	((err) == -EIO || (err) == -EROFS)
#define EXPECT_CLEAN(expr) do { \
	int __e = (expr); \
	EXPECT_TRUE(__e == 0 || EIO_OR_EROFS(__e)) TH_LOG("%s: %s", #expr, strerror(-__e)); \
} while (0)

/* Write @len bytes to @path (new or lower) and fsync: 0 or -errno. */
static int write_sync(const char *path, const void *data, size_t len, int flags)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644), ret = 0;

	if (fd < 0)
		return -errno;
	if (write_all(fd, data, len))
		ret = -errno;
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* After the failure: unmount, repair, and look at what was kept. */
static int dm_recover(struct _test_data_dm *self)
{
	int st;

	if (is_mounted(self->rw.e.mnt) && umount2(self->rw.e.mnt, 0))
		return -errno;
	if (umount2(self->fs, 0))
		return -errno;
	if (dm_healthy(self))
		return -EIO;
	st = run(self->log, "e2fsck -fy %s", self->dev);
	if (st > 2)	/* 0 clean, 1 fixed, 2 fixed and reboot: all fine here */
		return -EUCLEAN;
	return dm_mount_fs(self);
}

/*
 * The upper layer's device starts failing every I/O (dm-error): what the
 * union does then fails with EIO or EROFS, or works from the cache, and
 * an fsync of new data must not report success.  The union unmounts, and
 * after the device is back and the filesystem checked, everything that
 * was fsync'ed before the failure is intact.
 */
TEST_F_TIMEOUT(dm, upper_device_fails, 300)
{
	static unsigned char a[300000], b[200000], x[100000];
	struct rw_env *rw = &self->rw;
	int ret, fd;

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(x, sizeof(x), 3);
	ASSERT_EQ(0, mkfile_data(LP(rw, 0, "b"), "lower b\n", 8, 0644));
	ASSERT_EQ(0, mkfile_data(LP(rw, 0, "c"), "lower c\n", 8, 0644));
	ASSERT_EQ(0, mkfile_data(LP(rw, 0, "d"), "lower d\n", 8, 0644));
	ASSERT_EQ(0, mkfile_data(LP(rw, 0, "dir/e"), "lower e\n", 8, 0644));
	ASSERT_EQ(0, rw_mount(rw, NULL));
	ASSERT_EQ(0, write_sync(MP(rw, "a"), a, sizeof(a), O_CREAT | O_EXCL));
	ASSERT_EQ(0, write_sync(MP(rw, "b"), b, sizeof(b), O_TRUNC));

	ASSERT_EQ(0, dm_failing(self)) TH_LOG("see %s", self->log);
	ret = write_sync(MP(rw, "new"), x, sizeof(x), O_CREAT | O_EXCL);
	EXPECT_TRUE(EIO_OR_EROFS(ret)) TH_LOG("write+fsync of a new file: %s",
					      strerror(-ret));
	ret = write_sync(MP(rw, "c"), x, sizeof(x), O_APPEND);
	EXPECT_TRUE(EIO_OR_EROFS(ret)) TH_LOG("copy-up+fsync: %s", strerror(-ret));
	EXPECT_CLEAN(ERRNO_OF(unlink(MP(rw, "d"))));
	EXPECT_CLEAN(ERRNO_OF(mkdir(MP(rw, "newdir"), 0755)));
	EXPECT_CLEAN(rw_renameat2(MP(rw, "dir"), MP(rw, "dir2"), 0));
	EXPECT_CLEAN(ERRNO_OF(setxattr(MP(rw, "a"), "user.x", "1", 1, 0)));
	fd = open(MP(rw, "a"), O_RDONLY | O_CLOEXEC);
	EXPECT_CLEAN(fd < 0 ? -errno : 0);
	if (fd >= 0) {
		EXPECT_CLEAN(ERRNO_OF(syncfs(fd)));
		close(fd);
	}
	EXPECT_CLEAN(ERRNO_OF(count_entries(rw->e.mnt)));
	EXPECT_EQ(0, umount2(rw->e.mnt, 0)) TH_LOG("umount of the union: %s",
						   strerror(errno));

	ASSERT_EQ(0, dm_recover(self)) TH_LOG("see %s", self->log);
	ASSERT_EQ(0, rw_mount(rw, NULL));
	EXPECT_TRUE(file_is(MP(rw, "a"), a, sizeof(a)));
	EXPECT_TRUE(file_is(MP(rw, "b"), b, sizeof(b)));
	EXPECT_STREQ("lower e\n", slurp(MP(rw, lstat_err(MP(rw, "dir")) ? "dir2/e" : "dir/e")));
	EXPECT_EQ(0, work_leftovers(rw));
	EXPECT_STREQ("lower b\n", slurp(LP(rw, 0, "b")));
	EXPECT_STREQ("lower c\n", slurp(LP(rw, 0, "c")));
}

/*
 * A flaky device (1 s up, 1 s every I/O failing) under a workload of
 * new files, copy-ups and fsyncs for 8 s: every failure is EIO or EROFS,
 * and after recovery every file whose write, fsync and close succeeded
 * has exactly what was written.
 */
TEST_F_TIMEOUT(dm, upper_device_flaky, 300)
{
	enum { NF = 400 };
	static bool acked[NF];
	static unsigned char data[NF][3000];
	struct rw_env *rw = &self->rw;
	int i, ret, nacked = 0, nfailed = 0;
	char name[32];
	time_t end;

	for (i = 0; i < NF; i++) {
		fill(data[i], sizeof(data[i]), 10 + i);
		if (i % 2) {
			snprintf(name, sizeof(name), "l%d", i);
			ASSERT_EQ(0, mkfile_data(LP(rw, 0, name), "lower\n", 6, 0644));
		}
	}
	ASSERT_EQ(0, rw_mount(rw, NULL));
	ASSERT_EQ(0, dm_flakey(self, 1, 1)) TH_LOG("see %s", self->log);
	end = time(NULL) + 8;
	for (i = 0; i < NF && time(NULL) < end; i++) {
		/* even: a new file; odd: a lower file copied up and replaced */
		snprintf(name, sizeof(name), "%c%d", i % 2 ? 'l' : 'n', i);
		ret = write_sync(MP(rw, name), data[i], sizeof(data[i]),
				 i % 2 ? O_TRUNC : O_CREAT | O_EXCL);
		EXPECT_TRUE(ret == 0 || EIO_OR_EROFS(ret)) TH_LOG("%s: %s", name,
								   strerror(-ret));
		acked[i] = !ret;
		nacked += !ret;
		nfailed += !!ret;
		usleep(10000);
	}
	TH_LOG("%d files acknowledged, %d failed", nacked, nfailed);
	EXPECT_LT(0, nfailed) TH_LOG("the device never failed?");
	ASSERT_EQ(0, dm_recover(self)) TH_LOG("see %s", self->log);
	ASSERT_EQ(0, rw_mount(rw, NULL));
	for (i = 0; i < NF; i++) {
		if (!acked[i])
			continue;
		snprintf(name, sizeof(name), "%c%d", i % 2 ? 'l' : 'n', i);
		EXPECT_TRUE(file_is(MP(rw, name), data[i], sizeof(data[i])))
			TH_LOG("%s was acknowledged", name);
	}
	EXPECT_EQ(0, work_leftovers(rw));
}

/* The device fails between mounting the upper filesystem and the union. */
TEST_F_TIMEOUT(dm, mount_on_failing_upper, 120)
{
	struct rw_env *rw = &self->rw;
	int ret;

	ASSERT_EQ(0, mkfile(LP(rw, 0, "f"), "f\n"));
	ASSERT_EQ(0, dm_failing(self));
	ret = rw_mount(rw, NULL);
	TH_LOG("mount on a failing upper device: %s", ret ? strerror(-ret) : "ok");
	EXPECT_TRUE(ret == 0 || EIO_OR_EROFS(ret) || ret == -EINVAL)
		TH_LOG("mount: %s", strerror(-ret));
	if (!ret) {
		EXPECT_STREQ("f\n", slurp(MP(rw, "f")));
		EXPECT_CLEAN(mkfile(MP(rw, "g"), "g\n"));
		EXPECT_EQ(0, umount2(rw->e.mnt, 0));
	}
	EXPECT_FALSE(is_mounted(rw->e.mnt));
	ASSERT_EQ(0, dm_recover(self));
}

/* ---- an upper filesystem without xattrs ---------------------------------------- */

FIXTURE(noxattr) {
	struct cowfs_env env;
	char loop[64];
	char log[PATH_MAX];
};

FIXTURE_VARIANT(noxattr) {
	const char *fs;
	const char *modules;
	const char *mkfs;	/* %s: the device */
	const char *why;	/* in the refusal, besides "xattr" */
};

/* minix has no xattrs at all */
FIXTURE_VARIANT_ADD(noxattr, minix) {
	.fs = "minix",
	.modules = "minix",
	.mkfs = "mkfs.minix %s",
	.why = "xattr",
};

/* vfat has no xattrs and case-insensitive names: refused for either */
FIXTURE_VARIANT_ADD(noxattr, vfat) {
	.fs = "vfat",
	.modules = "vfat nls_cp437 nls_ascii",	/* default codepage, iocharset */
	.mkfs = "command -v mkfs.vfat >/dev/null && mkfs.vfat %1$s || busybox mkdosfs %1$s",
	.why = "not supported",
};

FIXTURE_SETUP(noxattr)
{
	char cmd[256];
	FILE *f;

	REQUIRE_FSTYPE();
	snprintf(cmd, sizeof(cmd), "modprobe -q -a loop %s", variant->modules);
	if (!have_cmd("losetup") || system(cmd))
		SKIP(return, "needs losetup and modules loop %s", variant->modules);
	SETUP_ASSERT0(&self->env, env_init(&self->env, 1));
	snprintf(self->log, sizeof(self->log), "%s/cmd.log", self->env.base);
	SETUP_ASSERT0(&self->env, run(self->log, "truncate -s 64M %s/fs.img",
				      self->env.base));
	f = popen(pathf("losetup -f --show %s/fs.img", self->env.base), "r");
	ASSERT_NE(NULL, f);
	if (!fgets(self->loop, sizeof(self->loop), f))
		self->loop[0] = '\0';
	pclose(f);
	self->loop[strcspn(self->loop, "\n")] = '\0';
	if (strncmp(self->loop, "/dev/loop", 9)) {
		env_cleanup(&self->env);
		ASSERT_TRUE(false) TH_LOG("losetup failed");
	}
}

FIXTURE_TEARDOWN(noxattr)
{
	if (!self->env.base[0])
		return;
	umount_below(self->env.base);
	if (self->loop[0])
		run(self->log, "losetup -d %s", self->loop);
	env_cleanup(&self->env);
}

/*
 * Without xattrs there are no whiteouts, opaque directories or redirects:
 * a union with its upper layer there is refused (EINVAL, saying why) by
 * fsconfig(2) and mount(2) alike, and nothing is mounted.
 */
TEST_F(noxattr, upper_refused)
{
	const char *fsdir = pathf("%s/fs", self->env.base);
	char log[4096], u[PATH_MAX], w[PATH_MAX];
	struct fsparam p[3];
	int ret;

	ASSERT_EQ(0, run(self->log, variant->mkfs, self->loop)) TH_LOG("see %s", self->log);
	ASSERT_EQ(0, mkdir_p(fsdir, 0755));
	ASSERT_EQ(0, mount(self->loop, fsdir, variant->fs, 0, NULL))
		TH_LOG("mount %s: %s", variant->fs, strerror(errno));
	snprintf(u, sizeof(u), "%s/u", fsdir);
	snprintf(w, sizeof(w), "%s/w", fsdir);
	ASSERT_EQ(0, mkdir_p(u, 0755));
	ASSERT_EQ(0, mkdir_p(w, 0755));
	ASSERT_EQ(-EOPNOTSUPP, ERRNO_OF(setxattr(u, "trusted.x", "1", 1, 0)))
		TH_LOG("%s has xattrs?", variant->fs);

	p[0] = (struct fsparam){ "lowerdir+", self->env.layers[0] };
	p[1] = (struct fsparam){ "upperdir", u };
	p[2] = (struct fsparam){ "workdir", w };
	ret = fsapi_mount(self->env.mnt, p, 3, log, sizeof(log));
	EXPECT_EQ(-EINVAL, ret) TH_LOG("union on %s: %s", variant->fs, strerror(-ret));
	EXPECT_TRUE(strstr(log, "xattr") || strstr(log, variant->why)) TH_LOG("log: %s", log);
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ret = mount_data(self->env.mnt, pathf("lowerdir=%s,upperdir=%s,workdir=%s",
					      self->env.layers[0], u, w));
	EXPECT_EQ(-EINVAL, ret) TH_LOG("mount(2): %s", strerror(-ret));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	/* Nothing of the union is left on it but what it needed to check */
	EXPECT_EQ(0, count_entries(u));
}

/* ---- lower layers changed under a live union -------------------------------------- */

FIXTURE(lowerchg) {
	struct rw_env rw;
};

FIXTURE_SETUP(lowerchg)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
}

FIXTURE_TEARDOWN(lowerchg)
{
	rw_cleanup(RW);
}

/* Errors that a changed lower layer may cause: no others */
static bool lower_change_err(int err)
{
	return err == 0 || err == -ENOENT || err == -ESTALE || err == -EIO ||
	       err == -ENOTDIR || err == -EISDIR || err == -ENOTEMPTY ||
	       err == -EEXIST || err == -EXDEV;
}

#define EXPECT_LOWER_CHG(expr) do { \
	int __e = (expr); \
	EXPECT_TRUE(lower_change_err(__e)) TH_LOG("%s: %s", #expr, strerror(-__e)); \
	TH_LOG("  %-48s %s", #expr, __e ? strerror(-__e) : "ok"); \
} while (0)

/* Read @path; 0 if it holds @a or @b exactly, -errno, or 1 if neither. */
static int read_is_one_of(const char *path, const char *a, const char *b)
{
	char buf[256];
	ssize_t n = read_file(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	return !strcmp(buf, a) || (b && !strcmp(buf, b)) ? 0 : 1;
}

/* No name twice, no whiteout shown; -errno if unreadable. */
static int listing_sane(const char *dir)
{
	DIR *d = opendir(dir);
	char names[256][64];
	struct dirent *de;
	int n = 0, i;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type == DT_CHR || n == 256)
			return closedir(d), 1;
		for (i = 0; i < n; i++)
			if (!strcmp(names[i], de->d_name))
				return closedir(d), 1;
		if (strlen(de->d_name) >= sizeof(names[0]))
			return closedir(d), 1;
		memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	return 0;
}

/*
 * overlayfs calls changing a lower layer under a live mount undefined;
 * cowfs promises no crash and no hang: every call on the union returns
 * a result or one of the errors above, a read returns the old or the new
 * contents, never others, listings stay sane, the union unmounts, and
 * mounted again it shows the lower layers as they are now, with what was
 * written through the union on top.  The results are logged (docs/
 * reliability.md lists them).
 */
TEST_F(lowerchg, lower_changed_under_live_union)
{
	char *map;
	int fd, fdmap, ret, xret;

	ASSERT_EQ(0, mkfile(LP(RW, 0, "grow"), "old\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "shrink"), "old shrink\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "unlinked"), "unlinked\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "dir2file/x"), "x\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "renamed/y"), "y\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "renamed/z"), "z\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "added/old"), "o\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "hidden"), "hidden\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "tosymlink"), "file\n"));
	ASSERT_EQ(0, mkfile_data(LP(RW, 0, "mapped"), "mapped!\n", 8, 0644));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	/* Everything looked at, cached, some of it open */
	EXPECT_STREQ("old\n", slurp(M("grow")));
	EXPECT_STREQ("old shrink\n", slurp(M("shrink")));
	EXPECT_STREQ("unlinked\n", slurp(M("unlinked")));
	EXPECT_STREQ("x\n", slurp(M("dir2file/x")));
	EXPECT_STREQ("y\n", slurp(M("renamed/y")));
	EXPECT_EQ(1, count_entries(M("added")));
	EXPECT_STREQ("hidden\n", slurp(M("hidden")));
	EXPECT_STREQ("file\n", slurp(M("tosymlink")));
	fd = open(M("grow"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	fdmap = open(M("mapped"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fdmap);
	map = mmap(NULL, 8, PROT_READ, MAP_SHARED, fdmap, 0);
	ASSERT_NE(MAP_FAILED, map);

	/* Behind the union's back */
	ASSERT_EQ(0, mkfile(LP(RW, 0, "grow"), "old\nand new\n"));
	ASSERT_EQ(0, truncate(LP(RW, 0, "shrink"), 0));
	ASSERT_EQ(0, unlink(LP(RW, 1, "unlinked")));
	ASSERT_EQ(0, unlink(LP(RW, 1, "dir2file/x")));
	ASSERT_EQ(0, rmdir(LP(RW, 1, "dir2file")));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "dir2file"), "now a file\n"));
	ASSERT_EQ(0, rename(LP(RW, 0, "renamed"), LP(RW, 0, "renamed2")));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "added/new"), "n\n"));
	ASSERT_EQ(0, mkwhiteout(LP(RW, 0, "hidden")));
	ASSERT_EQ(0, unlink(LP(RW, 0, "tosymlink")));
	ASSERT_EQ(0, symlink("grow", LP(RW, 0, "tosymlink")));
	ASSERT_EQ(0, mkfile_data(LP(RW, 0, "mapped"), "MAPPED!\n", 8, 0644));

	/* Reading: old or new, or a clean error */
	EXPECT_LOWER_CHG(read_is_one_of(M("grow"), "old\n", "old\nand new\n"));
	{
		char buf[64] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		EXPECT_TRUE(n == 4 || n == 12) TH_LOG("open fd read %zd bytes", n);
		EXPECT_EQ(0, memcmp(buf, "old\n", 4));
	}
	EXPECT_LOWER_CHG(read_is_one_of(M("shrink"), "old shrink\n", ""));
	EXPECT_LOWER_CHG(read_is_one_of(M("unlinked"), "unlinked\n", NULL));
	EXPECT_LOWER_CHG(read_is_one_of(M("dir2file/x"), "x\n", NULL));
	EXPECT_LOWER_CHG(lstat_err(M("dir2file")));
	EXPECT_LOWER_CHG(read_is_one_of(M("renamed/y"), "y\n", NULL));
	EXPECT_LOWER_CHG(read_is_one_of(M("renamed/z"), "z\n", NULL));
	EXPECT_LOWER_CHG(read_is_one_of(M("hidden"), "hidden\n", NULL));
	EXPECT_LOWER_CHG(read_is_one_of(M("tosymlink"), "file\n", "old\nand new\n"));
	EXPECT_TRUE(!memcmp(map, "mapped!\n", 8) || !memcmp(map, "MAPPED!\n", 8));
	EXPECT_EQ(0, listing_sane(RW->e.mnt));
	EXPECT_LOWER_CHG(listing_sane(M("added")));
	EXPECT_LOWER_CHG(listing_sane(M("renamed")));
	EXPECT_LOWER_CHG(listing_sane(M("dir2file")));

	/* Writing: copy-ups of changed objects, into changed directories */
	ret = mkfile(M("grow"), "written\n");
	EXPECT_LOWER_CHG(ret);
	EXPECT_LOWER_CHG(ERRNO_OF(truncate(M("shrink"), 3)));
	EXPECT_LOWER_CHG(mkfile(M("unlinked"), "rewritten\n"));
	EXPECT_LOWER_CHG(mkfile(M("renamed/w"), "w\n"));
	EXPECT_LOWER_CHG(mkfile(M("added/mine"), "mine\n"));
	EXPECT_LOWER_CHG(ERRNO_OF(unlink(M("dir2file/x"))));
	EXPECT_LOWER_CHG(rw_renameat2(M("hidden"), M("hidden2"), 0));
	xret = ERRNO_OF(setxattr(M("tosymlink"), "user.x", "1", 1, 0));
	EXPECT_LOWER_CHG(xret);
	munmap(map, 8);
	close(fdmap);
	close(fd);

	/* Unmounts; mounted again: the lower layers as they are now */
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_STREQ(ret ? "old\nand new\n" : "written\n", slurp(M("grow")));
	EXPECT_EQ(0, listing_sane(RW->e.mnt));
	EXPECT_EQ(0, listing_sane(M("added")));
	EXPECT_TRUE(dir_lists(M("added"), "new"));
	EXPECT_STREQ("n\n", slurp(M("added/new")));
	EXPECT_EQ(0, lstat_err(M("renamed2/y")));
	EXPECT_STREQ("z\n", slurp(M("renamed/z")));
	/* A copy-up (for the xattr) made before the remount is what counts */
	EXPECT_EQ(xret ? S_IFLNK : S_IFREG, ftype(M("tosymlink")));
	EXPECT_STREQ("MAPPED!\n", slurp(M("mapped")));
	EXPECT_EQ(0, work_leftovers(RW));
	ASSERT_EQ(0, rw_umount(RW));
}

TEST_HARNESS_MAIN
