// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: many threads at one lower file while it is copied up, a
 * copy-up racing an unlink and a rename of its parent directory, umount -l
 * with files still open, and rmmod while unions are mounted.
 *
 * (copyup_test's concurrent_writers_one_copy_up has 64 pwrite()rs; the
 * rename storm and the readdir race are phases of cowfs_stress.)
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "cowfs_rw.h"

#define NTHREADS	64
#define BLK		4096
#define RECS		32	/* records per appender */
#define RECLEN		64
#define PREFIX_LEN	1000

FIXTURE(conc) {
	struct rw_env rw;
};

FIXTURE_SETUP(conc)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
}

FIXTURE_TEARDOWN(conc)
{
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + i / 251);
}

/* Is @path exactly @len bytes equal to @want? */
static bool file_is(const char *path, const void *want, size_t len)
{
	unsigned char *buf = malloc(len + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;
	bool ok;

	if (fd >= 0 && buf)
		n = pread(fd, buf, len + 1, 0);
	ok = n == (ssize_t)len && !memcmp(buf, want, len);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

struct thr {
	const char *path;
	pthread_barrier_t *barrier;
	int idx;
	int err;
	int dirfd;
	volatile bool *stop;
	unsigned long bad;	/* readers: blocks with content never written */
	unsigned char *want;	/* readers: what a block may hold */
};

/* A thread's error, reported with its name */
static void expect_ok(struct __test_metadata *_metadata, const char *what,
		      int idx, int err)
{
	EXPECT_EQ(0, err) TH_LOG("%s %d: %s", what, idx, strerror(err));
}

static int run_threads(int n, void *(*fn)(void *), struct thr *t,
		       pthread_barrier_t *barrier)
{
	pthread_t tid[NTHREADS * 2];
	int i, ret = 0;

	if (pthread_barrier_init(barrier, NULL, n))
		return -1;
	for (i = 0; i < n; i++) {
		t[i].barrier = barrier;
		if (pthread_create(&tid[i], NULL, fn, &t[i]))
			return -1;	/* the others hang on the barrier: fail hard */
	}
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(barrier);
	return ret;
}

/* ---- O_APPEND writers racing the copy-up -------------------------------- */

static void *appender(void *arg)
{
	struct thr *t = arg;
	char rec[RECLEN + 1];
	int fd, r;

	pthread_barrier_wait(t->barrier);
	fd = open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		t->err = errno;
		return NULL;
	}
	for (r = 0; r < RECS && !t->err; r++) {
		int n = snprintf(rec, sizeof(rec), "t%02d r%02d ", t->idx, r);

		memset(rec + n, '.', RECLEN - 1 - n);
		rec[RECLEN - 1] = '\n';
		if (write(fd, rec, RECLEN) != RECLEN)
			t->err = errno ?: EIO;
	}
	if (close(fd) && !t->err)
		t->err = errno;
	return NULL;
}

/*
 * 64 threads append 32 records each to one lower file: every record is
 * there exactly once, whole, after the lower file's contents.
 */
TEST_F_TIMEOUT(conc, appenders_one_copy_up, 300)
{
	static unsigned char prefix[PREFIX_LEN];
	size_t total = PREFIX_LEN + (size_t)NTHREADS * RECS * RECLEN;
	static bool seen[NTHREADS][RECS];
	struct thr t[NTHREADS] = {};
	pthread_barrier_t barrier;
	unsigned char *buf;
	const char *path;
	size_t off;
	ssize_t n;
	int fd, i;

	fill(prefix, sizeof(prefix), 1);
	ASSERT_EQ(0, mkfile_data(LP(RW, 1, "log"), prefix, sizeof(prefix), 0644));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	path = strdup(M("log"));
	for (i = 0; i < NTHREADS; i++)
		t[i] = (struct thr){ .path = path, .idx = i };
	ASSERT_EQ(0, run_threads(NTHREADS, appender, t, &barrier));
	for (i = 0; i < NTHREADS; i++)
		expect_ok(_metadata, "appender", i, t[i].err);

	buf = malloc(total + 1);
	ASSERT_NE(NULL, buf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = pread(fd, buf, total + 1, 0);
	close(fd);
	ASSERT_EQ((ssize_t)total, n);
	EXPECT_EQ(0, memcmp(buf, prefix, PREFIX_LEN)) TH_LOG("lower contents damaged");
	for (off = PREFIX_LEN; off < total; off += RECLEN) {
		int ti, ri, len = 0;

		if (sscanf((char *)buf + off, "t%d r%d %n", &ti, &ri, &len) != 2 ||
		    ti < 0 || ti >= NTHREADS || ri < 0 || ri >= RECS ||
		    buf[off + RECLEN - 1] != '\n') {
			EXPECT_TRUE(false) TH_LOG("no whole record at offset %zu", off);
			break;
		}
		EXPECT_FALSE(seen[ti][ri]) TH_LOG("record t%02d r%02d twice", ti, ri);
		seen[ti][ri] = true;
	}
	for (i = 0; i < NTHREADS * RECS; i++)
		EXPECT_TRUE(seen[i / RECS][i % RECS])
			TH_LOG("record t%02d r%02d lost", i / RECS, i % RECS);
	/* The same bytes are in the upper layer; the lower file is unchanged */
	EXPECT_TRUE(file_is(UP(RW, "log"), buf, total));
	EXPECT_TRUE(file_is(LP(RW, 1, "log"), prefix, sizeof(prefix)));
	EXPECT_EQ(0, work_leftovers(RW));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(file_is(M("log"), buf, total));
	free(buf);
	free((void *)path);
}

/* ---- shared mappings racing the copy-up ------------------------------------ */

static void *mapper(void *arg)
{
	struct thr *t = arg;
	unsigned char *p;
	int fd;

	pthread_barrier_wait(t->barrier);
	fd = open(t->path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		t->err = errno;
		return NULL;
	}
	p = mmap(NULL, BLK, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)t->idx * BLK);
	if (p == MAP_FAILED) {
		t->err = errno;
	} else {
		memset(p, 'A' + t->idx % 26, BLK);
		p[0] = (unsigned char)t->idx;
		if (msync(p, BLK, MS_SYNC))
			t->err = errno;
		munmap(p, BLK);
	}
	close(fd);
	return NULL;
}

/* 64 threads map their page of one lower file and write it. */
TEST_F_TIMEOUT(conc, mmap_writers_one_copy_up, 300)
{
	static unsigned char lower[NTHREADS * BLK], want[NTHREADS * BLK];
	struct thr t[NTHREADS] = {};
	pthread_barrier_t barrier;
	const char *path;
	int i;

	fill(lower, sizeof(lower), 2);
	memcpy(want, lower, sizeof(want));
	for (i = 0; i < NTHREADS; i++) {
		memset(want + i * BLK, 'A' + i % 26, BLK);
		want[i * BLK] = (unsigned char)i;
	}
	ASSERT_EQ(0, mkfile_data(LP(RW, 0, "map"), lower, sizeof(lower), 0644));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	path = strdup(M("map"));
	for (i = 0; i < NTHREADS; i++)
		t[i] = (struct thr){ .path = path, .idx = i };
	ASSERT_EQ(0, run_threads(NTHREADS, mapper, t, &barrier));
	for (i = 0; i < NTHREADS; i++)
		expect_ok(_metadata, "mapper", i, t[i].err);
	EXPECT_TRUE(file_is(path, want, sizeof(want)));
	EXPECT_TRUE(file_is(UP(RW, "map"), want, sizeof(want)));
	EXPECT_TRUE(file_is(LP(RW, 0, "map"), lower, sizeof(lower)));
	EXPECT_EQ(0, work_leftovers(RW));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(file_is(M("map"), want, sizeof(want)));
	free((void *)path);
}

/* ---- readers opened before the copy-up --------------------------------------- */

#define NREADERS	32
#define NWRITERS	32

static void *rw_thread(void *arg)
{
	struct thr *t = arg;
	unsigned char buf[BLK];
	int fd, b, i;

	if (t->idx >= NWRITERS) {
		/* A reader: its file was opened before any copy-up */
		fd = t->dirfd;
		pthread_barrier_wait(t->barrier);
		while (!*t->stop) {
			for (b = 0; b < NWRITERS; b++) {
				if (pread(fd, buf, BLK, (off_t)b * BLK) != BLK) {
					t->err = errno ?: EIO;
					return NULL;
				}
				for (i = 0; i < BLK; i++)
					if (buf[i] != 'L' && buf[i] != t->want[b])
						t->bad++;
			}
		}
		return NULL;
	}
	pthread_barrier_wait(t->barrier);
	memset(buf, t->want[t->idx], BLK);
	fd = open(t->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		t->err = errno;
		return NULL;
	}
	if (pwrite(fd, buf, BLK, (off_t)t->idx * BLK) != BLK)
		t->err = errno ?: EIO;
	close(fd);
	return NULL;
}

/*
 * 32 readers opened the lower file before 32 writers copy it up and
 * write: while they run, a reader sees each block as it was or as
 * written, never anything else; once they are done, every reader's next
 * read sees every write (cowfs switches an open reader to the upper file).
 */
TEST_F_TIMEOUT(conc, readers_before_copy_up_see_writes, 300)
{
	static unsigned char lower[NWRITERS * BLK];
	unsigned char want[NWRITERS], buf[BLK];
	struct thr t[NREADERS + NWRITERS] = {};
	pthread_t tid[NREADERS + NWRITERS];
	pthread_barrier_t barrier;
	volatile bool stop = false;
	const char *path;
	int i, b, j;

	memset(lower, 'L', sizeof(lower));
	for (i = 0; i < NWRITERS; i++)
		want[i] = 'a' + i % 26;
	ASSERT_EQ(0, mkfile_data(LP(RW, 0, "shared"), lower, sizeof(lower), 0644));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	path = strdup(M("shared"));
	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, NREADERS + NWRITERS));
	for (i = 0; i < NREADERS + NWRITERS; i++) {
		t[i] = (struct thr){ .path = path, .idx = i, .barrier = &barrier,
				     .stop = &stop, .want = want, .dirfd = -1 };
		if (i >= NWRITERS) {
			t[i].dirfd = open(path, O_RDONLY | O_CLOEXEC);
			ASSERT_LE(0, t[i].dirfd);
		}
	}
	for (i = 0; i < NREADERS + NWRITERS; i++)
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, rw_thread, &t[i]));
	for (i = 0; i < NWRITERS; i++)
		pthread_join(tid[i], NULL);
	stop = true;
	for (i = NWRITERS; i < NREADERS + NWRITERS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&barrier);

	for (i = 0; i < NREADERS + NWRITERS; i++) {
		unsigned long bad = t[i].bad;

		expect_ok(_metadata, "thread", i, t[i].err);
		EXPECT_EQ(0, bad) TH_LOG("reader %d saw %lu bytes never written", i, bad);
	}
	/* After the writes, every early reader sees all of them */
	for (i = NWRITERS; i < NREADERS + NWRITERS; i++) {
		for (b = 0; b < NWRITERS; b++) {
			ASSERT_EQ(BLK, pread(t[i].dirfd, buf, BLK, (off_t)b * BLK));
			for (j = 0; j < BLK && buf[j] == want[b]; j++)
				;
			EXPECT_EQ(BLK, j) TH_LOG("reader %d, block %d: byte %d is '%c'",
						 i, b, j, buf[j < BLK ? j : 0]);
		}
		close(t[i].dirfd);
	}
	EXPECT_TRUE(file_is(LP(RW, 0, "shared"), lower, sizeof(lower)));
	free((void *)path);
}

/* ---- unlink racing the copy-up ------------------------------------------------- */

#define NFILES		8
#define NRACERS		8
#define BIGLEN		(1 << 20)

static void *racer(void *arg)
{
	struct thr *t = arg;
	unsigned char buf[BLK];
	int fd;

	pthread_barrier_wait(t->barrier);
	if (t->idx == 0) {
		if (unlink(t->path))
			t->err = errno;
		return NULL;
	}
	memset(buf, 'w', sizeof(buf));
	fd = open(t->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		/* Lost the race to the unlink: not there, or found stale */
		if (errno != ENOENT && errno != ESTALE)
			t->err = errno;
		return NULL;
	}
	if (pwrite(fd, buf, BLK, (off_t)t->idx * BLK) != BLK)
		t->err = errno ?: EIO;
	if (close(fd) && !t->err)
		t->err = errno;
	return NULL;
}

/*
 * An unlink racing writers that copy the file up: the unlink succeeds,
 * the writers succeed or find no file (ENOENT, or ESTALE for a name that
 * went away under them; open(2) without O_CREAT never fails with EEXIST),
 * and the lower file never comes back: not after the race, not after a
 * remount.
 */
TEST_F_TIMEOUT(conc, unlink_during_copy_up, 300)
{
	struct thr t[NRACERS] = {};
	pthread_barrier_t barrier;
	unsigned char *big = malloc(BIGLEN);
	char name[16];
	int f, i;

	ASSERT_NE(NULL, big);
	fill(big, BIGLEN, 3);
	for (f = 0; f < NFILES; f++) {
		snprintf(name, sizeof(name), "d/f%d", f);
		ASSERT_EQ(0, mkfile_data(LP(RW, f % 2, name), big, BIGLEN, 0644));
	}
	ASSERT_EQ(0, rw_mount(RW, NULL));
	for (f = 0; f < NFILES; f++) {
		const char *path;

		snprintf(name, sizeof(name), "d/f%d", f);
		path = strdup(M(name));
		for (i = 0; i < NRACERS; i++)
			t[i] = (struct thr){ .path = path, .idx = i };
		ASSERT_EQ(0, run_threads(NRACERS, racer, t, &barrier));
		for (i = 0; i < NRACERS; i++)
			expect_ok(_metadata, name, i, t[i].err);
		EXPECT_EQ(-ENOENT, lstat_err(path));
		EXPECT_FALSE(dir_lists(M("d"), name + 2));
		free((void *)path);
	}
	EXPECT_EQ(0, count_entries(M("d")));
	EXPECT_EQ(0, work_leftovers(RW));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(0, count_entries(M("d")));
	for (f = 0; f < NFILES; f++) {
		snprintf(name, sizeof(name), "d/f%d", f);
		EXPECT_EQ(-ENOENT, lstat_err(M(name)));
		EXPECT_TRUE(file_is(LP(RW, f % 2, name), big, BIGLEN));
	}
	free(big);
}

/* ---- renaming the parent while its files are copied up ------------------------- */

#define NCHILD		32
#define CHILDLEN	(256 << 10)

static void *child_writer(void *arg)
{
	struct thr *t = arg;
	char name[16];
	unsigned char buf[BLK];
	int fd;

	snprintf(name, sizeof(name), "f%02d", t->idx);
	memset(buf, 'a' + t->idx % 26, sizeof(buf));
	pthread_barrier_wait(t->barrier);
	/* Relative to a directory fd: the directory moves under us */
	fd = openat(t->dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		t->err = errno;
		return NULL;
	}
	if (pwrite(fd, buf, BLK, 0) != BLK)
		t->err = errno ?: EIO;
	if (close(fd) && !t->err)
		t->err = errno;
	return NULL;
}

/* dir -> r0 -> r1 -> other/r2 -> r3 -> r4 -> other/r5 ... -> r19 */
static void *dir_renamer(void *arg)
{
	struct thr *t = arg;
	char from[PATH_MAX], to[PATH_MAX];
	int i;

	snprintf(from, sizeof(from), "%s/dir", t->path);
	pthread_barrier_wait(t->barrier);
	for (i = 0; i < 20 && !t->err; i++) {
		/* every third time into another merged directory */
		snprintf(to, sizeof(to), "%s/%sr%d", t->path,
			 i % 3 == 2 ? "other/" : "", i);
		if (rename(from, to))
			t->err = errno;
		memcpy(from, to, sizeof(from));
	}
	return NULL;
}

/*
 * 32 threads copy up files of a merged lower directory (opened through a
 * directory fd) while another thread renames the directory 20 times,
 * in and out of another merged directory: every write lands in the file
 * now at the directory's final name, and stays there after a remount.
 */
TEST_F_TIMEOUT(conc, rename_parent_during_copy_up, 300)
{
	struct thr t[NCHILD + 1] = {};
	pthread_barrier_t barrier;
	unsigned char *data = malloc(CHILDLEN), *want = malloc(CHILDLEN);
	char name[32];
	const char *root;
	int dirfd, i, pass;

	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, want);
	fill(data, CHILDLEN, 4);
	for (i = 0; i < NCHILD; i++) {
		snprintf(name, sizeof(name), "dir/f%02d", i);
		ASSERT_EQ(0, mkfile_data(LP(RW, i % 2, name), data, CHILDLEN, 0644));
	}
	ASSERT_EQ(0, mkdir_p(LP(RW, 0, "other"), 0755));
	ASSERT_EQ(0, mkdir_p(LP(RW, 1, "other"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	root = strdup(RW->e.mnt);
	dirfd = open(M("dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dirfd);
	for (i = 0; i < NCHILD; i++)
		t[i] = (struct thr){ .idx = i, .dirfd = dirfd };
	t[NCHILD] = (struct thr){ .idx = NCHILD, .path = root };
	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, NCHILD + 1));
	{
		pthread_t tid[NCHILD + 1];

		for (i = 0; i <= NCHILD; i++) {
			t[i].barrier = &barrier;
			ASSERT_EQ(0, pthread_create(&tid[i], NULL,
						    i < NCHILD ? child_writer : dir_renamer,
						    &t[i]));
		}
		for (i = 0; i <= NCHILD; i++)
			pthread_join(tid[i], NULL);
	}
	pthread_barrier_destroy(&barrier);
	close(dirfd);
	for (i = 0; i <= NCHILD; i++)
		expect_ok(_metadata, "thread", i, t[i].err);

	/* r19 is the last name: 19 % 3 == 1, in the root */
	for (pass = 0; pass < 2; pass++) {
		EXPECT_EQ(-ENOENT, lstat_err(M("dir")));
		EXPECT_EQ(NCHILD, count_entries(M("r19")));
		EXPECT_EQ(0, count_entries(M("other")));
		for (i = 0; i < NCHILD; i++) {
			snprintf(name, sizeof(name), "r19/f%02d", i);
			memcpy(want, data, CHILDLEN);
			memset(want, 'a' + i % 26, BLK);
			EXPECT_TRUE(file_is(M(name), want, CHILDLEN)) TH_LOG("%s (pass %d)",
									     name, pass);
		}
		EXPECT_EQ(0, work_leftovers(RW));
		if (!pass)
			ASSERT_EQ(0, rw_remount(RW));
	}
	free((void *)root);
	free(data);
	free(want);
}

/* ---- umount -l with open files, rmmod --------------------------------------------- */

static bool is_cowfs(void)
{
	return !strcmp(test_fstype(), "cowfs");
}

/* /sys/module/cowfs/refcnt, -1 if unreadable */
static int module_refs(void)
{
	char buf[32];

	if (read_file("/sys/module/cowfs/refcnt", buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

/* delete_module(2) as rmmod(8) does it; -errno or 0 */
static int try_rmmod(void)
{
	return syscall(SYS_delete_module, "cowfs", O_NONBLOCK) ? -errno : 0;
}

#define RMMOD_REFUSED(ret)	((ret) == -EWOULDBLOCK || (ret) == -EBUSY)

/*
 * umount -l of a union with open files, an open directory, a mapping and
 * a process with its cwd inside: the mount point is free at once, all
 * of them go on working, the layers stay busy (a new union on the same
 * upperdir is refused with EBUSY) and so does the module; when the last
 * user is gone the union is released, and what was written through the
 * detached union is in the upper layer.
 */
TEST_F_TIMEOUT(conc, lazy_umount_with_open_files, 300)
{
	int fdr, fdw, fdd, fdn, refs0 = -1, pipefd[2], status, ret;
	char *map, buf[64], got;
	struct dirent *de;
	bool seen = false;
	pid_t child;
	DIR *dir;

	ASSERT_EQ(0, mkfile(LP(RW, 1, "ro"), "lower ro\n"));
	ASSERT_EQ(0, mkfile_data(LP(RW, 0, "rw"), "0123456789", 10, 0644));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "sub/deep"), "deep\n"));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	if (is_cowfs())
		refs0 = module_refs();

	fdr = open(M("ro"), O_RDONLY | O_CLOEXEC);
	fdw = open(M("rw"), O_RDWR | O_CLOEXEC);
	fdd = open(M("sub"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fdr);
	ASSERT_LE(0, fdw);
	ASSERT_LE(0, fdd);
	map = mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, fdw, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		/* cwd in the union; wait for the go, then use it */
		if (chdir(M("sub")) || read(pipefd[0], &got, 1) != 1)
			_exit(1);
		if (mkfile("from_child", "child\n"))
			_exit(2);
		if (strcmp(slurp("deep"), "deep\n"))
			_exit(3);
		_exit(0);
	}
	close(pipefd[0]);
	usleep(200000);	/* the child is in the union by now, or fails */

	ASSERT_EQ(0, umount2(RW->e.mnt, MNT_DETACH));
	EXPECT_FALSE(is_mounted(RW->e.mnt));

	/* Everything open still works */
	ASSERT_EQ(9, pread(fdr, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "lower ro\n", 9));
	EXPECT_EQ(4, pwrite(fdw, "ABCD", 4, 0));
	memcpy(map + 6, "xyz", 3);
	EXPECT_EQ(0, msync(map, 10, MS_SYNC));
	EXPECT_EQ(0, fsync(fdw));
	fdn = openat(fdd, "made_after_umount", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_LE(0, fdn) TH_LOG("openat in the detached union: %s", strerror(errno));
	EXPECT_EQ(3, write(fdn, "new", 3));
	close(fdn);
	dir = fdopendir(dup(fdd));
	ASSERT_NE(NULL, dir);
	while ((de = readdir(dir)))
		seen |= !strcmp(de->d_name, "deep");
	closedir(dir);
	EXPECT_TRUE(seen);
	EXPECT_EQ(1, write(pipefd[1], "g", 1));
	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child in the detached union: status 0x%x", status);

	/* The detached union still holds its layers and the module */
	ret = rw_mount(RW, NULL);
	if (is_overlay() && !ret) {	/* overlayfs without index only warns */
		ASSERT_EQ(0, umount2(RW->e.mnt, 0));
	} else {
		EXPECT_EQ(-EBUSY, ret) TH_LOG("a second union on a busy upperdir: %s",
					       strerror(-ret));
	}
	if (is_cowfs()) {
		EXPECT_LT(0, module_refs());
		ret = try_rmmod();
		EXPECT_TRUE(RMMOD_REFUSED(ret)) TH_LOG("rmmod with a detached union: %s",
							strerror(-ret));
		ASSERT_EQ(0, access("/sys/module/cowfs", F_OK)) TH_LOG("module unloaded!");
	}

	/* Last users gone: the union is released */
	munmap(map, 10);
	close(fdr);
	close(fdw);
	close(fdd);
	if (is_cowfs())
		EXPECT_EQ(refs0 - 1, module_refs());
	ASSERT_EQ(0, rw_mount(RW, NULL)) TH_LOG("the layers are still busy");
	EXPECT_STREQ("ABCD45xyz9", slurp(M("rw")));
	EXPECT_STREQ("new", slurp(M("sub/made_after_umount")));
	EXPECT_STREQ("child\n", slurp(M("sub/from_child")));
	EXPECT_STREQ("deep\n", slurp(M("sub/deep")));
	EXPECT_STREQ("0123456789", slurp(LP(RW, 0, "rw")));
	EXPECT_EQ(0, work_leftovers(RW));
}

static void *busy_io(void *arg)
{
	struct thr *t = arg;
	unsigned char buf[BLK];
	unsigned long n = 0;

	memset(buf, 'b', sizeof(buf));
	while (!*t->stop) {
		int fd = open(t->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0) {
			t->err = errno;
			break;
		}
		if (pwrite(fd, buf, BLK, (off_t)(n++ % 64) * BLK) != BLK)
			t->err = errno ?: EIO;
		close(fd);
	}
	return NULL;
}

/*
 * rmmod is refused (EWOULDBLOCK: in use) while unions are mounted, also
 * during I/O and with several unions, and the unions keep working.
 */
TEST_F_TIMEOUT(conc, rmmod_refused_while_mounted, 120)
{
	const char *m2 = pathf("%s/m2", RW->e.base);
	struct thr t = {};
	volatile bool stop = false;
	pthread_t tid;
	int i, ret, refs;

	if (!is_cowfs())
		SKIP(return, "module test: cowfs only");
	ASSERT_EQ(0, mkfile(LP(RW, 0, "f"), "f\n"));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(0, mkdir_p(m2, 0755));
	ASSERT_EQ(0, mount_union(m2, (const char *const *)RW->e.layers, 2));
	refs = module_refs();
	EXPECT_LE(2, refs);

	t = (struct thr){ .path = strdup(M("busy")), .stop = &stop };
	ASSERT_EQ(0, pthread_create(&tid, NULL, busy_io, &t));
	for (i = 0; i < 5; i++) {
		ret = try_rmmod();
		EXPECT_TRUE(RMMOD_REFUSED(ret)) TH_LOG("rmmod while mounted: %s",
							strerror(-ret));
		ASSERT_EQ(0, access("/sys/module/cowfs", F_OK)) TH_LOG("module unloaded!");
		usleep(100000);
	}
	stop = true;
	pthread_join(tid, NULL);
	EXPECT_EQ(0, t.err) TH_LOG("I/O during rmmod: %s", strerror(t.err));
	EXPECT_EQ(refs, module_refs());
	EXPECT_STREQ("f\n", slurp(pathf("%s/f", m2)));
	EXPECT_STREQ("f\n", slurp(M("f")));
	EXPECT_EQ(0, umount2(m2, 0));
	EXPECT_EQ(0, rw_umount(RW));
	free((void *)t.path);
}

TEST_HARNESS_MAIN
