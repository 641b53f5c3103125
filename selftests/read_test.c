// SPDX-License-Identifier: GPL-2.0
/*
 * cowfs data path over read-only layers: read, pread, mmap, splice,
 * sendfile, llseek (SET/CUR/END/DATA/HOLE), fadvise/readahead, fstat on
 * open files and statfs.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>

#define NLAYERS 3
#define BIG_SIZE (1024 * 1024 + 123)	/* not a page multiple */
#define SPARSE_CHUNK 4096
#define SPARSE_GAP (1024 * 1024)

static const char small_text[] = "hello, cowfs\n";

static const struct layer_entry io_layers[] = {
	{ 0, E_FILE, "small", small_text },
	{ 1, E_FILE, "small", "lower layer, must stay hidden" },
	{ 2, E_FILE, "empty", "" },
	{ 2, E_FILE, "dir/nested", "nested" },
};

FIXTURE(io) {
	struct cowfs_env env;
	unsigned char *big;	/* expected contents of "big" */
};

/* "sparse": 4 KiB of 'A', a 1 MiB hole, 4 KiB of 'B'. */
static int mksparse(const char *path)
{
	char chunk[SPARSE_CHUNK];
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	memset(chunk, 'A', sizeof(chunk));
	if (pwrite(fd, chunk, sizeof(chunk), 0) != sizeof(chunk))
		ret = -EIO;
	memset(chunk, 'B', sizeof(chunk));
	if (pwrite(fd, chunk, sizeof(chunk), SPARSE_CHUNK + SPARSE_GAP) !=
	    sizeof(chunk))
		ret = -EIO;
	close(fd);
	return ret;
}

static int io_extras(struct cowfs_env *env, unsigned char *big)
{
	fill_pattern(big, BIG_SIZE, 0xc0ffee);
	return mkfile_data(LPATH(env, 1, "big"), big, BIG_SIZE, 0644) ?:
	       mksparse(LPATH(env, 2, "sparse"));
}

FIXTURE_SETUP(io)
{
	REQUIRE_FSTYPE();
	self->big = malloc(BIG_SIZE);
	ASSERT_NE(NULL, self->big);
	SETUP_ASSERT0(&self->env, env_init(&self->env, NLAYERS));
	SETUP_ASSERT0(&self->env, build_layers(&self->env, io_layers,
					       ARRAY_LEN(io_layers)));
	SETUP_ASSERT0(&self->env, io_extras(&self->env, self->big));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(io)
{
	env_cleanup(&self->env);
	free(self->big);
}

#define U(rel) UPATH(&self->env, rel)

static int open_ro(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

TEST_F(io, read_small_file)
{
	char buf[128];
	ssize_t n;
	int fd = open_ro(U("small"));

	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf));
	ASSERT_EQ((ssize_t)strlen(small_text), n);
	EXPECT_EQ(0, memcmp(buf, small_text, n));
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	close(fd);
}

TEST_F(io, read_empty_file)
{
	char buf[16];
	int fd = open_ro(U("empty"));

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	close(fd);
}

TEST_F(io, read_big_file_in_chunks)
{
	unsigned char *buf = malloc(BIG_SIZE + 1);
	size_t total = 0;
	ssize_t n;
	int fd = open_ro(U("big"));

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, fd);
	while ((n = read(fd, buf + total, 65536 + 1 - (total & 1))) > 0)
		total += n;
	ASSERT_EQ(0, n);
	ASSERT_EQ(BIG_SIZE, total);
	EXPECT_EQ(0, memcmp(buf, self->big, BIG_SIZE));
	close(fd);
	free(buf);
}

TEST_F(io, pread_at_offsets)
{
	const off_t offs[] = { 0, 1, 4095, 4096, 65537, BIG_SIZE - 100 };
	unsigned char buf[100];
	size_t i;
	int fd = open_ro(U("big"));

	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_LEN(offs); i++) {
		ASSERT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), offs[i]));
		EXPECT_EQ(0, memcmp(buf, self->big + offs[i], sizeof(buf)))
			TH_LOG("offset %ld", (long)offs[i]);
	}
	EXPECT_EQ(10, pread(fd, buf, sizeof(buf), BIG_SIZE - 10));
	EXPECT_EQ(0, pread(fd, buf, sizeof(buf), BIG_SIZE + 10));
	/* pread does not move the file position */
	EXPECT_EQ(0, lseek(fd, 0, SEEK_CUR));
	close(fd);
}

TEST_F(io, mmap_shared_read)
{
	int fd = open_ro(U("big"));
	void *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, BIG_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, self->big, BIG_SIZE));
	munmap(p, BIG_SIZE);
	close(fd);
}

TEST_F(io, mmap_private_write_stays_private)
{
	char buf[128];
	int fd = open_ro(U("small"));
	char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, small_text, strlen(small_text)));
	memcpy(p, "HELLO", 5);
	EXPECT_EQ(0, memcmp(p, "HELLO, cowfs", 12));
	munmap(p, 4096);
	close(fd);
	EXPECT_EQ((ssize_t)strlen(small_text), read_file(U("small"), buf, sizeof(buf)));
	EXPECT_STREQ(small_text, buf);
	EXPECT_STREQ(small_text, slurp(LPATH(&self->env, 0, "small")));
}

TEST_F(io, splice_to_pipe)
{
	unsigned char buf[8192];
	loff_t off = 4000;
	int pipefd[2];
	ssize_t n;
	int fd = open_ro(U("big"));

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(pipefd));
	n = splice(fd, &off, pipefd[1], NULL, sizeof(buf), 0);
	ASSERT_LT(0, n);
	EXPECT_EQ(4000 + n, off);
	ASSERT_EQ(n, read(pipefd[0], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, self->big + 4000, n));
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
}

TEST_F(io, sendfile_to_file)
{
	unsigned char *buf = malloc(BIG_SIZE);
	off_t off = 0;
	size_t total = 0;
	ssize_t n;
	int in = open_ro(U("big"));
	int out = memfd_create("cowfs-sendfile", MFD_CLOEXEC);

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	while (total < BIG_SIZE &&
	       (n = sendfile(out, in, &off, BIG_SIZE - total)) > 0)
		total += n;
	ASSERT_EQ(BIG_SIZE, total);
	EXPECT_EQ(BIG_SIZE, off);
	ASSERT_EQ(BIG_SIZE, pread(out, buf, BIG_SIZE, 0));
	EXPECT_EQ(0, memcmp(buf, self->big, BIG_SIZE));
	free(buf);
	close(in);
	close(out);
}

TEST_F(io, llseek_set_cur_end)
{
	unsigned char buf[16];
	int fd = open_ro(U("big"));

	ASSERT_LE(0, fd);
	EXPECT_EQ(100, lseek(fd, 100, SEEK_SET));
	ASSERT_EQ(10, read(fd, buf, 10));
	EXPECT_EQ(0, memcmp(buf, self->big + 100, 10));
	EXPECT_EQ(110, lseek(fd, 0, SEEK_CUR));
	EXPECT_EQ(90, lseek(fd, -20, SEEK_CUR));
	EXPECT_EQ(BIG_SIZE, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(BIG_SIZE - 5, lseek(fd, -5, SEEK_END));
	ASSERT_EQ(5, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, self->big + BIG_SIZE - 5, 5));
	/* beyond EOF is allowed and reads nothing */
	EXPECT_EQ(BIG_SIZE + 100, lseek(fd, BIG_SIZE + 100, SEEK_SET));
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, lseek(fd, -1, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

/* SEEK_DATA/SEEK_HOLE through the union give what the real file gives. */
TEST_F(io, seek_data_hole_match_real_file)
{
	const off_t offs[] = { 0, 100, SPARSE_CHUNK, SPARSE_CHUNK + 1,
			       SPARSE_GAP, SPARSE_CHUNK + SPARSE_GAP + 1 };
	int ufd = open_ro(U("sparse"));
	int rfd = open_ro(LPATH(&self->env, 2, "sparse"));
	size_t i;

	ASSERT_LE(0, ufd);
	ASSERT_LE(0, rfd);
	/* the layer file really is sparse: a hole right after the first chunk */
	ASSERT_EQ(SPARSE_CHUNK, lseek(rfd, 0, SEEK_HOLE));
	for (i = 0; i < ARRAY_LEN(offs); i++) {
		EXPECT_EQ(lseek(rfd, offs[i], SEEK_HOLE),
			  lseek(ufd, offs[i], SEEK_HOLE))
			TH_LOG("SEEK_HOLE from %ld", (long)offs[i]);
		EXPECT_EQ(lseek(rfd, offs[i], SEEK_DATA),
			  lseek(ufd, offs[i], SEEK_DATA))
			TH_LOG("SEEK_DATA from %ld", (long)offs[i]);
	}
	EXPECT_EQ(-1, lseek(ufd, 2 * SPARSE_CHUNK + SPARSE_GAP, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	close(ufd);
	close(rfd);
}

TEST_F(io, seek_hole_in_dense_file_is_eof)
{
	int fd = open_ro(U("small"));

	ASSERT_LE(0, fd);
	EXPECT_EQ((off_t)strlen(small_text), lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(0, lseek(fd, 0, SEEK_DATA));
	close(fd);
}

TEST_F(io, fadvise_and_readahead)
{
	unsigned char buf[256];
	int fd = open_ro(U("big"));

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
	EXPECT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED));
	EXPECT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	EXPECT_EQ(0, posix_fadvise(fd, 0, 0, POSIX_FADV_NOREUSE));
	EXPECT_EQ(EINVAL, posix_fadvise(fd, 0, 0, 12345));
	EXPECT_EQ(0, readahead(fd, 0, 65536));
	/* data still reads back correctly after dropping the cache */
	ASSERT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 70000));
	EXPECT_EQ(0, memcmp(buf, self->big + 70000, sizeof(buf)));
	close(fd);
}

TEST_F(io, fstat_of_open_file_matches_stat)
{
	struct stat st, fst;
	int fd = open_ro(U("dir/nested"));

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, stat(U("dir/nested"), &st));
	ASSERT_EQ(0, fstat(fd, &fst));
	EXPECT_EQ(st.st_dev, fst.st_dev);
	EXPECT_EQ(st.st_ino, fst.st_ino);
	EXPECT_EQ(st.st_size, fst.st_size);
	close(fd);
}

TEST_F(io, fd_path_is_union_path)
{
	char link[PATH_MAX], want[PATH_MAX + 16];
	ssize_t n;
	int fd = open_ro(U("dir/nested"));

	ASSERT_LE(0, fd);
	snprintf(want, sizeof(want), "%s/dir/nested", self->env.mnt);
	n = readlink(pathf("/proc/self/fd/%d", fd), link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = '\0';
	EXPECT_STREQ(want, link);
	close(fd);
}

TEST_F(io, statfs_reports_layer_fs_read_only)
{
	struct statfs sfs, real;
	struct statvfs svfs;

	ASSERT_EQ(0, statfs(self->env.mnt, &sfs));
	ASSERT_EQ(0, statfs(self->env.layers[0], &real));
	EXPECT_EQ(real.f_bsize, sfs.f_bsize);
	EXPECT_EQ(real.f_blocks, sfs.f_blocks);
	EXPECT_EQ(real.f_files, sfs.f_files);
	ASSERT_EQ(0, statvfs(self->env.mnt, &svfs));
	EXPECT_TRUE(svfs.f_flag & ST_RDONLY);
}

TEST_F(io, fstatfs_on_file_matches_mount)
{
	struct statfs mnt, file;
	int fd = open_ro(U("big"));

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, statfs(self->env.mnt, &mnt));
	ASSERT_EQ(0, fstatfs(fd, &file));
	EXPECT_EQ(mnt.f_type, file.f_type);
	EXPECT_EQ(mnt.f_bsize, file.f_bsize);
	EXPECT_EQ(mnt.f_blocks, file.f_blocks);
	close(fd);
}

TEST_HARNESS_MAIN
