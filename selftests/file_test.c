// SPDX-License-Identifier: GPL-2.0
/*
 * Writing files through a writable union: write, O_APPEND, fsync,
 * fdatasync, fallocate, O_DIRECT, mmap(MAP_SHARED), copy_file_range and
 * the FS_IOC_[GS]ETFLAGS ioctls reach the real upper file; a read-only
 * descriptor opened before a copy-up sees what is written after it.
 *
 * Each case runs with the upper layer on tmpfs and on ext4 (a loop
 * device; skipped when the guest cannot make one).
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>

#define BLK	4096

FIXTURE(file) {
	struct rw_env rw;
};

FIXTURE_VARIANT(file) {
	bool ext4;
};

FIXTURE_VARIANT_ADD(file, tmpfs) {
	.ext4 = false,
};

FIXTURE_VARIANT_ADD(file, ext4) {
	.ext4 = true,
};

/* An ext4 filesystem on a loop device, mounted on base/ufs. */
static int mount_ext4_upper(struct rw_env *rw)
{
	char cmd[PATH_MAX * 2];
	const char *base = rw->e.base;

	snprintf(cmd, sizeof(cmd),
		 "modprobe loop 2>/dev/null; modprobe ext4 2>/dev/null; "
		 "truncate -s 64M %s/ext4.img && "
		 "mkfs.ext4 -q -F -O ^has_journal %s/ext4.img >/dev/null 2>&1 && "
		 "mkdir -p %s/ufs && mount -o loop %s/ext4.img %s/ufs",
		 base, base, base, base, base);
	if (system(cmd))
		return -ENODEV;
	snprintf(rw->upper, sizeof(rw->upper), "%s/ufs/u", base);
	snprintf(rw->work, sizeof(rw->work), "%s/ufs/w", base);
	return mkdir_p(rw->upper, 0755) ?: mkdir_p(rw->work, 0755);
}

FIXTURE_SETUP(file)
{
	int ret;

	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 1, 0, NULL));
	if (variant->ext4) {
		ret = mount_ext4_upper(&self->rw);
		if (ret == -ENODEV) {
			rw_cleanup(&self->rw);
			SKIP(return, "cannot make an ext4 upper on a loop device");
		}
		SETUP_ASSERT0(&self->rw.e, ret);
	}
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 0, "f"), "0123456789\n"));
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 0, "g"), "gggg\n"));
	SETUP_ASSERT0(&self->rw.e, mkdir_p(LP(&self->rw, 0, "d"), 0755));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, NULL));
}

FIXTURE_TEARDOWN(file)
{
	/* An append-only flag left behind would stop the cleanup */
	int fd = open(UP(&self->rw, "f"), O_RDONLY | O_CLOEXEC);
	int flags = 0;

	if (fd >= 0) {
		if (!ioctl(fd, FS_IOC_GETFLAGS, &flags)) {
			flags &= ~FS_APPEND_FL;
			if (ioctl(fd, FS_IOC_SETFLAGS, &flags))
				flags = 0;
		}
		close(fd);
	}
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

TEST_F(file, write_reaches_upper)
{
	int fd = open(M("f"), O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(3, pwrite(fd, "abc", 3, 2));
	EXPECT_STREQ("01abc56789\n", slurp(UP(RW, "f")));
	close(fd);
	EXPECT_STREQ("01abc56789\n", slurp(M("f")));
	EXPECT_STREQ("0123456789\n", slurp(LP(RW, 0, "f")));
}

TEST_F(file, append_reaches_upper)
{
	int fd = open(M("f"), O_WRONLY | O_APPEND | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_all(fd, "end\n", 4));
	close(fd);
	EXPECT_STREQ("0123456789\nend\n", slurp(UP(RW, "f")));
}

TEST_F(file, fsync_and_fdatasync)
{
	int fd = open(M("f"), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_all(fd, "X", 1));
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(0, fdatasync(fd));
	EXPECT_EQ(0, syncfs(fd));
	close(fd);
	EXPECT_STREQ("X123456789\n", slurp(UP(RW, "f")));
}

TEST_F(file, fsync_of_lower_file_succeeds)
{
	int fd = open(M("g"), O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(0, fdatasync(fd));
	close(fd);
	EXPECT_EQ(0, ftype(UP(RW, "g")));
}

TEST_F(file, fallocate_extends_upper)
{
	struct stat st;
	int fd = open(M("f"), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, 0, 0, 1024 * 1024));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(1024 * 1024, st.st_size);
	close(fd);
	ASSERT_EQ(0, stat(UP(RW, "f"), &st));
	EXPECT_EQ(1024 * 1024, st.st_size);
	EXPECT_LE(1024 * 1024, st.st_blocks * 512);
}

TEST_F(file, fallocate_keep_size_and_punch_hole)
{
	struct stat st;
	int fd = open(M("f"), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 256 * BLK));
	ASSERT_EQ(0, stat(UP(RW, "f"), &st));
	EXPECT_EQ(11, st.st_size);
	EXPECT_LE(256 * BLK, st.st_blocks * 512);
	ASSERT_EQ(0, ftruncate(fd, 4 * BLK));
	ASSERT_EQ(0, pwrite(fd, "z", 1, 4 * BLK - 1) == 1 ? 0 : -1);
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       BLK, BLK));
	close(fd);
	fd = open(UP(RW, "f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(BLK, lseek(fd, 0, SEEK_HOLE));
	close(fd);
}

TEST_F(file, o_direct_write_and_read)
{
	struct stat st;
	void *buf;
	int fd = open(M("f"), O_RDWR | O_DIRECT | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("O_DIRECT open: %s", strerror(errno));
	ASSERT_EQ(0, posix_memalign(&buf, BLK, BLK));
	memset(buf, 'D', BLK);
	ASSERT_EQ(BLK, pwrite(fd, buf, BLK, BLK));
	memset(buf, 0, BLK);
	ASSERT_EQ(BLK, pread(fd, buf, BLK, BLK));
	EXPECT_EQ('D', ((char *)buf)[BLK - 1]);
	close(fd);
	ASSERT_EQ(0, stat(UP(RW, "f"), &st));
	EXPECT_EQ(2 * BLK, st.st_size);
	fd = open(UP(RW, "f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(BLK, pread(fd, buf, BLK, BLK));
	EXPECT_EQ('D', ((char *)buf)[0]);
	close(fd);
	free(buf);
}

TEST_F(file, fcntl_sets_o_direct)
{
	int fd = open(M("f"), O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_DIRECT));
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_DIRECT);
	close(fd);
}

TEST_F(file, mmap_shared_write_reaches_upper)
{
	int fd = open(M("f"), O_RDWR | O_CLOEXEC);
	char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, BLK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ('0', p[0]);
	memcpy(p, "MM", 2);
	EXPECT_EQ(0, msync(p, BLK, MS_SYNC));
	munmap(p, BLK);
	close(fd);
	EXPECT_STREQ("MM23456789\n", slurp(UP(RW, "f")));
	EXPECT_STREQ("MM23456789\n", slurp(M("f")));
	EXPECT_STREQ("0123456789\n", slurp(LP(RW, 0, "f")));
}

TEST_F(file, mmap_shared_sees_write)
{
	int fd = open(M("f"), O_RDWR | O_CLOEXEC);
	char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, BLK, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(2, pwrite(fd, "WW", 2, 0));
	EXPECT_EQ('W', p[0]);
	munmap(p, BLK);
	close(fd);
}

TEST_F(file, copy_file_range_between_union_files)
{
	loff_t in_off = 0, out_off = 0;
	int in = open(M("f"), O_RDONLY | O_CLOEXEC);
	int out = open(M("d/copy"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	if (is_overlay() && variant->ext4 &&
	    copy_file_range(in, &in_off, out, &out_off, 11, 0) < 0 &&
	    errno == EXDEV)
		SKIP(return, "overlayfs: EXDEV between layers on different filesystems");
	EXPECT_EQ(11, copy_file_range(in, &in_off, out, &out_off, 11, 0));
	close(in);
	close(out);
	EXPECT_STREQ("0123456789\n", slurp(UP(RW, "d/copy")));
}

TEST_F(file, sendfile_into_lower_file)
{
	off_t off = 0;
	int in = open(M("g"), O_RDONLY | O_CLOEXEC);
	int out = open(M("f"), O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	EXPECT_EQ(5, sendfile(out, in, &off, 5));
	close(in);
	close(out);
	EXPECT_STREQ("gggg\n56789\n", slurp(UP(RW, "f")));
}

TEST_F(file, getflags_ioctl)
{
	int flags = -1;
	int fd = open(M("f"), O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags))
		TH_LOG("FS_IOC_GETFLAGS: %s", strerror(errno));
	EXPECT_EQ(0, flags & FS_APPEND_FL);
	close(fd);
}

TEST_F(file, setflags_ioctl_reaches_upper)
{
	int flags = 0, got = 0;
	int fd = open(M("f"), O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags));
	flags |= FS_APPEND_FL;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags))
		TH_LOG("FS_IOC_SETFLAGS: %s", strerror(errno));
	close(fd);
	fd = open(UP(RW, "f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &got));
	EXPECT_TRUE(got & FS_APPEND_FL);
	close(fd);
	/* ... and the union enforces it */
	EXPECT_EQ(-EPERM, ERRNO_OF(open(M("f"), O_WRONLY | O_CLOEXEC)));
	fd = open(M("f"), O_WRONLY | O_APPEND | O_CLOEXEC);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
}

TEST_F(file, getflags_ioctl_on_directory)
{
	int flags = -1;
	int fd = open(M("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags))
		TH_LOG("FS_IOC_GETFLAGS: %s", strerror(errno));
	close(fd);
}

TEST_F(file, setflags_ioctl_on_directory)
{
	int flags = 0, got = 0;
	int fd = open(M("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &flags))
		TH_LOG("FS_IOC_GETFLAGS: %s", strerror(errno));
	flags |= FS_NOATIME_FL;
	ASSERT_EQ(0, ioctl(fd, FS_IOC_SETFLAGS, &flags))
		TH_LOG("FS_IOC_SETFLAGS: %s", strerror(errno));
	close(fd);
	fd = open(UP(RW, "d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, FS_IOC_GETFLAGS, &got));
	EXPECT_TRUE(got & FS_NOATIME_FL);
	close(fd);
}

/*
 * A read-only descriptor opened before a copy-up reads what was written
 * after it.  overlayfs documents that it does not, but 6.12 reopens the
 * upper file too: see docs/overlay-differences.md.
 */
TEST_F(file, ro_fd_before_copy_up_sees_writes)
{
	char buf[32] = "";
	int ro = open(M("f"), O_RDONLY | O_CLOEXEC);
	int wr;

	ASSERT_LE(0, ro);
	ASSERT_EQ(1, read(ro, buf, 1));
	wr = open(M("f"), O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, wr);
	ASSERT_EQ(3, pwrite(wr, "NEW", 3, 0));
	close(wr);
	ASSERT_EQ(11, pread(ro, buf, sizeof(buf) - 1, 0));
	EXPECT_EQ(0, memcmp(buf, "NEW3456789\n", 11));
	close(ro);
}

TEST_F(file, ro_fd_before_copy_up_sees_new_size)
{
	char buf[64];
	struct stat st;
	int ro = open(M("f"), O_RDONLY | O_CLOEXEC);
	int wr;

	ASSERT_LE(0, ro);
	wr = open(M("f"), O_WRONLY | O_APPEND | O_CLOEXEC);
	ASSERT_LE(0, wr);
	ASSERT_EQ(0, write_all(wr, "more\n", 5));
	close(wr);
	ASSERT_EQ(0, fstat(ro, &st));
	EXPECT_EQ(16, st.st_size);
	EXPECT_EQ(16, read(ro, buf, sizeof(buf)));
	EXPECT_EQ(16, lseek(ro, 0, SEEK_END));
	close(ro);
}

TEST_F(file, ro_fd_keeps_position_over_copy_up)
{
	char buf[8] = "";
	int ro = open(M("f"), O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, ro);
	ASSERT_EQ(4, read(ro, buf, 4));
	ASSERT_EQ(0, truncate(M("f"), 8));
	EXPECT_EQ(4, read(ro, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "4567", 4));
	close(ro);
}

TEST_HARNESS_MAIN
