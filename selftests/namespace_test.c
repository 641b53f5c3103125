// SPDX-License-Identifier: GPL-2.0
/*
 * Namespace operations on a writable union: create, mkdir, mknod (fifo,
 * socket, devices), symlink, link, unlink, rmdir, rename (plain,
 * RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT), O_TMPFILE and
 * setattr (chmod, chown, utimes, truncate).  Each case checks the merged
 * view, the upper layer on disk and that the lower layers are untouched.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

#include <sys/socket.h>
#include <sys/un.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#define RENAME_EXCHANGE		(1 << 1)
#define RENAME_WHITEOUT		(1 << 2)
#endif

/* Layer 0 is the top lower layer, layer 1 the bottom one. */
static const struct layer_entry ns_layers[] = {
	{ 1, E_FILE, "lf", "lower file\n" },
	{ 1, E_FILE, "ld/x", "x in ld\n" },
	{ 1, E_DIR, "ld2", NULL },
	{ 1, E_FILE, "merged/a", "a\n" },
	{ 1, E_FILE, "deep/a/b/f", "deep\n" },
	{ 0, E_FILE, "top", "top file\n" },
	{ 0, E_FILE, "merged/b", "b\n" },
	{ 0, E_SYMLINK, "lsym", "lf" },
};

FIXTURE(ns) {
	struct rw_env rw;
};

FIXTURE_SETUP(ns)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, build_layers(&self->rw.e, ns_layers,
						ARRAY_LEN(ns_layers)));
	/* Upper objects made before the mount: "uf" and merged/c */
	SETUP_ASSERT0(&self->rw.e, mkfile(UP(&self->rw, "uf"), "upper file\n"));
	SETUP_ASSERT0(&self->rw.e, mkfile(UP(&self->rw, "merged/c"), "c\n"));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, NULL));
}

FIXTURE_TEARDOWN(ns)
{
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

static int create_file(const char *path, const char *data, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	int ret;

	if (fd < 0)
		return -errno;
	ret = write_all(fd, data, strlen(data));
	close(fd);
	return ret;
}

/*
 * A merged directory's listing is kept for the next reader (readdir.c):
 * each change through the union must show in the next listing, each one
 * read by a new open after a complete listing kept the old one.
 */
TEST_F(ns, kept_listing_sees_every_change)
{
	const char *d = M("merged");
	int fd;

	ASSERT_EQ(3, count_entries(d));
	ASSERT_EQ(0, create_file(M("merged/new"), "n\n", O_EXCL));
	EXPECT_TRUE(dir_lists(d, "new"));
	ASSERT_EQ(0, unlink(M("merged/a")));
	EXPECT_FALSE(dir_lists(d, "a"));
	ASSERT_EQ(0, mkdir(M("merged/sub"), 0755));
	EXPECT_TRUE(dir_lists(d, "sub"));
	ASSERT_EQ(0, rmdir(M("merged/sub")));
	EXPECT_FALSE(dir_lists(d, "sub"));
	ASSERT_EQ(0, rename(M("lf"), M("merged/moved_in")));
	EXPECT_TRUE(dir_lists(d, "moved_in"));
	ASSERT_EQ(0, rename(M("merged/b"), M("moved_out")));
	EXPECT_FALSE(dir_lists(d, "b"));
	ASSERT_EQ(0, rename(M("merged/c"), M("merged/c2")));
	EXPECT_FALSE(dir_lists(d, "c"));
	EXPECT_TRUE(dir_lists(d, "c2"));
	ASSERT_EQ(0, link(M("merged/c2"), M("merged/c3")));
	EXPECT_TRUE(dir_lists(d, "c3"));
	ASSERT_EQ(0, symlink("c2", M("merged/sym")));
	EXPECT_TRUE(dir_lists(d, "sym"));
	ASSERT_EQ(0, mkfifo(M("merged/fifo"), 0644));
	EXPECT_TRUE(dir_lists(d, "fifo"));
	fd = open(d, O_TMPFILE | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, M("merged/tmp"), AT_EMPTY_PATH));
	close(fd);
	EXPECT_TRUE(dir_lists(d, "tmp"));
	/* new c2 c3 fifo moved_in sym tmp */
	EXPECT_EQ(7, count_entries(d));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(7, count_entries(d));
}

/*
 * A reader in the middle of a listing keeps it while the directory
 * changes (its positions stay exact); from the start again, it sees the
 * change, and so does a reader that opens it afterwards.
 */
TEST_F(ns, reader_keeps_its_listing_over_a_change)
{
	struct dirent *de;
	int i, n = 0;
	long pos;
	DIR *a;

	a = opendir(M("merged"));
	ASSERT_NE(NULL, a);
	/* . .. a b c: two of them, whichever come first */
	for (i = 0; i < 2; i++)
		ASSERT_NE(NULL, readdir(a));
	pos = telldir(a);
	ASSERT_EQ(0, create_file(M("merged/new"), "n\n", O_EXCL));
	ASSERT_EQ(0, unlink(M("merged/a")));
	EXPECT_TRUE(dir_lists(M("merged"), "new"));
	EXPECT_FALSE(dir_lists(M("merged"), "a"));
	/* The rest of a's listing: the old one, from where it was */
	seekdir(a, pos);
	while ((de = readdir(a))) {
		EXPECT_STRNE("new", de->d_name);
		n++;
	}
	EXPECT_EQ(3, n);
	rewinddir(a);
	n = 0;
	while ((de = readdir(a))) {
		EXPECT_STRNE("a", de->d_name);
		n += !strcmp(de->d_name, "new");
	}
	EXPECT_EQ(1, n);
	closedir(a);
}

TEST_F(ns, create_new_file)
{
	ASSERT_EQ(0, create_file(M("new"), "new\n", O_EXCL));
	EXPECT_STREQ("new\n", slurp(M("new")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "new")));
	EXPECT_STREQ("new\n", slurp(UP(RW, "new")));
	EXPECT_EQ(-ENOENT, lstat_err(LPATH(&self->rw.e, 0, "new")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(ns, create_excl_over_lower_file)
{
	EXPECT_EQ(-EEXIST, create_file(M("lf"), "x", O_EXCL));
	EXPECT_STREQ("lower file\n", slurp(M("lf")));
	EXPECT_EQ(0, ftype(UP(RW, "lf")));
}

TEST_F(ns, create_in_lower_dir_copies_dir_up)
{
	ASSERT_EQ(0, create_file(M("ld/new"), "n\n", O_EXCL));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "ld")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "ld/new")));
	/* The lower contents still show through */
	EXPECT_STREQ("x in ld\n", slurp(M("ld/x")));
	EXPECT_EQ(2, count_entries(M("ld")));
	EXPECT_EQ(-ENOENT, lstat_err(LP(RW, 1, "ld/new")));
}

TEST_F(ns, create_over_whiteout)
{
	ASSERT_EQ(0, unlink(M("lf")));
	ASSERT_TRUE(is_whiteout(UP(RW, "lf")));
	ASSERT_EQ(0, create_file(M("lf"), "again\n", O_EXCL));
	EXPECT_STREQ("again\n", slurp(M("lf")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "lf")));
	EXPECT_STREQ("lower file\n", slurp(LP(RW, 1, "lf")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(ns, mkdir_new)
{
	ASSERT_EQ(0, mkdir(M("nd"), 0750));
	EXPECT_EQ(S_IFDIR, ftype(M("nd")));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "nd")));
	EXPECT_EQ(0, count_entries(M("nd")));
}

/*
 * overlayfs marks a directory made in a merged parent opaque even when no
 * lower layer has its name (lower layers may gain it later); in a parent
 * of the upper layer alone there is nothing to hide.
 */
TEST_F(ns, mkdir_in_merged_dir_is_opaque)
{
	ASSERT_EQ(0, mkdir(M("merged/nd"), 0755));
	EXPECT_STREQ("y", xattr_str(UP(RW, "merged/nd"), COWFS_OPAQUE_XATTR));
}

TEST_F(ns, mkdir_in_upper_dir_not_opaque)
{
	ASSERT_EQ(0, mkdir(M("nd"), 0755));
	ASSERT_EQ(0, mkdir(M("nd/sub"), 0755));
	EXPECT_STREQ("<No data available>",
		     xattr_str(UP(RW, "nd/sub"), COWFS_OPAQUE_XATTR));
}

TEST_F(ns, mkdir_mode_and_owner)
{
	struct stat st;

	ASSERT_EQ(0, mkdir(M("nd"), 0750));
	ASSERT_EQ(0, stat(UP(RW, "nd"), &st));
	EXPECT_EQ(0750, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

TEST_F(ns, mkdir_over_lower_dir_eexist)
{
	EXPECT_EQ(-EEXIST, ERRNO_OF(mkdir(M("ld"), 0755)));
	EXPECT_EQ(0, ftype(UP(RW, "ld")));
}

TEST_F(ns, mknod_fifo)
{
	ASSERT_EQ(0, mkfifo(M("fifo"), 0640));
	EXPECT_EQ(S_IFIFO, ftype(M("fifo")));
	EXPECT_EQ(S_IFIFO, ftype(UP(RW, "fifo")));
}

TEST_F(ns, mknod_socket)
{
	ASSERT_EQ(0, mknod(M("sock"), S_IFSOCK | 0600, 0));
	EXPECT_EQ(S_IFSOCK, ftype(M("sock")));
	EXPECT_EQ(S_IFSOCK, ftype(UP(RW, "sock")));
}

TEST_F(ns, bind_unix_socket)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_LE(0, s);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", M("ld/s"));
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sun, sizeof(sun)));
	close(s);
	EXPECT_EQ(S_IFSOCK, ftype(M("ld/s")));
	EXPECT_EQ(S_IFSOCK, ftype(UP(RW, "ld/s")));
}

TEST_F(ns, mknod_char_and_block_devices)
{
	struct stat st;

	ASSERT_EQ(0, mknod(M("null"), S_IFCHR | 0666, makedev(1, 3)));
	ASSERT_EQ(0, mknod(M("blk"), S_IFBLK | 0600, makedev(7, 200)));
	ASSERT_EQ(0, stat(M("null"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
	ASSERT_EQ(0, stat(UP(RW, "blk"), &st));
	EXPECT_TRUE(S_ISBLK(st.st_mode));
	EXPECT_EQ(makedev(7, 200), st.st_rdev);
	/* The device works through the union */
	EXPECT_EQ(0, create_file(M("null"), "gone", 0));
}

TEST_F(ns, mknod_whiteout_refused)
{
	EXPECT_EQ(-EPERM, ERRNO_OF(mknod(M("wh"), S_IFCHR | 0600, 0)));
	EXPECT_EQ(0, ftype(UP(RW, "wh")));
	EXPECT_EQ(-ENOENT, lstat_err(M("wh")));
}

TEST_F(ns, symlink_new)
{
	char buf[64] = "";

	ASSERT_EQ(0, symlink("top", M("sl")));
	EXPECT_EQ(3, readlink(M("sl"), buf, sizeof(buf)));
	EXPECT_STREQ("top", buf);
	EXPECT_STREQ("top file\n", slurp(M("sl")));
	EXPECT_EQ(S_IFLNK, ftype(UP(RW, "sl")));
}

TEST_F(ns, link_upper_file)
{
	struct stat a, b;

	ASSERT_EQ(0, link(M("uf"), M("uf2")));
	ASSERT_EQ(0, stat(M("uf"), &a));
	ASSERT_EQ(0, stat(M("uf2"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(2, b.st_nlink);
	ASSERT_EQ(0, stat(UP(RW, "uf"), &a));
	ASSERT_EQ(0, stat(UP(RW, "uf2"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(ns, link_lower_file)
{
	struct stat a, b;

	ASSERT_EQ(0, link(M("lf"), M("ld/lf2")));
	ASSERT_EQ(0, stat(M("lf"), &a));
	ASSERT_EQ(0, stat(M("ld/lf2"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(2, a.st_nlink);
	/* Both names are one upper file */
	ASSERT_EQ(0, stat(UP(RW, "lf"), &a));
	ASSERT_EQ(0, stat(UP(RW, "ld/lf2"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	ASSERT_EQ(0, create_file(M("ld/lf2"), "via link\n", O_TRUNC));
	EXPECT_STREQ("via link\n", slurp(M("lf")));
	EXPECT_STREQ("lower file\n", slurp(LP(RW, 1, "lf")));
}

TEST_F(ns, unlink_upper_only_file)
{
	ASSERT_EQ(0, unlink(M("uf")));
	EXPECT_EQ(-ENOENT, lstat_err(M("uf")));
	/* Nothing below: no whiteout needed */
	EXPECT_EQ(0, ftype(UP(RW, "uf")));
}

TEST_F(ns, unlink_lower_file)
{
	ASSERT_EQ(0, unlink(M("lf")));
	EXPECT_EQ(-ENOENT, lstat_err(M("lf")));
	EXPECT_FALSE(dir_lists(M(""), "lf"));
	EXPECT_TRUE(is_whiteout(UP(RW, "lf")));
	EXPECT_STREQ("lower file\n", slurp(LP(RW, 1, "lf")));
}

TEST_F(ns, unlink_lower_symlink)
{
	ASSERT_EQ(0, unlink(M("lsym")));
	EXPECT_EQ(-ENOENT, lstat_err(M("lsym")));
	EXPECT_TRUE(is_whiteout(UP(RW, "lsym")));
	/* The target is untouched */
	EXPECT_STREQ("lower file\n", slurp(M("lf")));
}

TEST_F(ns, unlink_copied_up_file)
{
	ASSERT_EQ(0, chmod(M("top"), 0600));
	ASSERT_EQ(S_IFREG, ftype(UP(RW, "top")));
	ASSERT_EQ(0, unlink(M("top")));
	EXPECT_EQ(-ENOENT, lstat_err(M("top")));
	EXPECT_TRUE(is_whiteout(UP(RW, "top")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(ns, rmdir_lower_empty_dir)
{
	ASSERT_EQ(0, rmdir(M("ld2")));
	EXPECT_EQ(-ENOENT, lstat_err(M("ld2")));
	EXPECT_TRUE(is_whiteout(UP(RW, "ld2")));
	EXPECT_EQ(S_IFDIR, ftype(LP(RW, 1, "ld2")));
}

TEST_F(ns, rmdir_not_empty)
{
	EXPECT_EQ(-ENOTEMPTY, ERRNO_OF(rmdir(M("ld"))));
	EXPECT_EQ(-ENOTEMPTY, ERRNO_OF(rmdir(M("merged"))));
	EXPECT_STREQ("x in ld\n", slurp(M("ld/x")));
}

/* As on overlayfs: a failed rmdir leaves the upper layer as it was */
TEST_F(ns, rmdir_not_empty_copies_nothing_up)
{
	struct stat before, after;

	ASSERT_EQ(0, lstat(M("deep"), &before));
	EXPECT_EQ(-ENOTEMPTY, ERRNO_OF(rmdir(M("deep/a"))));
	EXPECT_EQ(-ENOENT, lstat_err(UP(RW, "deep")));
	ASSERT_EQ(0, lstat(M("deep"), &after));
	EXPECT_EQ(before.st_nlink, after.st_nlink);
}

TEST_F(ns, rmdir_merged_dir_of_whiteouts)
{
	ASSERT_EQ(0, unlink(M("merged/a")));
	ASSERT_EQ(0, unlink(M("merged/b")));
	ASSERT_EQ(0, unlink(M("merged/c")));
	ASSERT_EQ(0, count_entries(M("merged")));
	ASSERT_EQ(0, rmdir(M("merged")));
	EXPECT_EQ(-ENOENT, lstat_err(M("merged")));
	EXPECT_TRUE(is_whiteout(UP(RW, "merged")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(ns, rmdir_upper_only_dir)
{
	ASSERT_EQ(0, mkdir(M("nd"), 0755));
	ASSERT_EQ(0, rmdir(M("nd")));
	EXPECT_EQ(0, ftype(UP(RW, "nd")));
}

TEST_F(ns, rename_lower_file)
{
	ASSERT_EQ(0, rename(M("lf"), M("lf_new")));
	EXPECT_STREQ("lower file\n", slurp(M("lf_new")));
	EXPECT_EQ(-ENOENT, lstat_err(M("lf")));
	EXPECT_TRUE(is_whiteout(UP(RW, "lf")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "lf_new")));
}

TEST_F(ns, rename_upper_file_leaves_no_whiteout)
{
	ASSERT_EQ(0, rename(M("uf"), M("ld/uf")));
	EXPECT_STREQ("upper file\n", slurp(M("ld/uf")));
	EXPECT_EQ(0, ftype(UP(RW, "uf")));
}

TEST_F(ns, rename_over_lower_file)
{
	ASSERT_EQ(0, rename(M("top"), M("lf")));
	EXPECT_STREQ("top file\n", slurp(M("lf")));
	EXPECT_EQ(-ENOENT, lstat_err(M("top")));
	EXPECT_TRUE(is_whiteout(UP(RW, "top")));
	EXPECT_STREQ("lower file\n", slurp(LP(RW, 1, "lf")));
}

TEST_F(ns, rename_noreplace_existing)
{
	EXPECT_EQ(-EEXIST, rw_renameat2(M("top"), M("lf"), RENAME_NOREPLACE));
	EXPECT_STREQ("top file\n", slurp(M("top")));
	EXPECT_STREQ("lower file\n", slurp(M("lf")));
}

TEST_F(ns, rename_noreplace_new_name)
{
	ASSERT_EQ(0, rw_renameat2(M("top"), M("ld/top"), RENAME_NOREPLACE));
	EXPECT_STREQ("top file\n", slurp(M("ld/top")));
	EXPECT_EQ(-ENOENT, lstat_err(M("top")));
}

TEST_F(ns, rename_noreplace_over_whiteout)
{
	ASSERT_EQ(0, unlink(M("lf")));
	/* A whiteout is no entry: the name is free */
	ASSERT_EQ(0, rw_renameat2(M("top"), M("lf"), RENAME_NOREPLACE));
	EXPECT_STREQ("top file\n", slurp(M("lf")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "lf")));
	EXPECT_TRUE(is_whiteout(UP(RW, "top")));
}

TEST_F(ns, rename_exchange_files)
{
	ASSERT_EQ(0, rw_renameat2(M("lf"), M("uf"), RENAME_EXCHANGE));
	EXPECT_STREQ("upper file\n", slurp(M("lf")));
	EXPECT_STREQ("lower file\n", slurp(M("uf")));
	EXPECT_STREQ("upper file\n", slurp(UP(RW, "lf")));
	EXPECT_STREQ("lower file\n", slurp(LP(RW, 1, "lf")));
}

TEST_F(ns, rename_exchange_file_and_dir)
{
	ASSERT_EQ(0, rw_renameat2(M("top"), M("ld"), RENAME_EXCHANGE));
	EXPECT_EQ(S_IFREG, ftype(M("ld")));
	EXPECT_STREQ("top file\n", slurp(M("ld")));
	EXPECT_EQ(S_IFDIR, ftype(M("top")));
	EXPECT_STREQ("x in ld\n", slurp(M("top/x")));
}

TEST_F(ns, rename_exchange_missing_target)
{
	EXPECT_EQ(-ENOENT, rw_renameat2(M("lf"), M("nothere"),
					RENAME_EXCHANGE));
	EXPECT_STREQ("lower file\n", slurp(M("lf")));
}

TEST_F(ns, rename_exchange_with_noreplace_invalid)
{
	EXPECT_EQ(-EINVAL, rw_renameat2(M("lf"), M("uf"),
					RENAME_EXCHANGE | RENAME_NOREPLACE));
}

/*
 * RENAME_WHITEOUT from a user: cowfs supports it (the source name is left
 * as a whiteout, hiding what the lower layers have); overlayfs refuses it
 * with EINVAL.  See docs/overlay-differences.md.
 */
TEST_F(ns, rename_whiteout_flag)
{
	int ret = rw_renameat2(M("uf"), M("uf_new"), RENAME_WHITEOUT);

	if (is_overlay()) {
		EXPECT_EQ(-EINVAL, ret);
		return;
	}
	ASSERT_EQ(0, ret);
	EXPECT_STREQ("upper file\n", slurp(M("uf_new")));
	EXPECT_EQ(-ENOENT, lstat_err(M("uf")));
	EXPECT_FALSE(dir_lists(M(""), "uf"));
	EXPECT_TRUE(is_whiteout(UP(RW, "uf")));
}

TEST_F(ns, rename_whiteout_flag_lower_file)
{
	int ret = rw_renameat2(M("lf"), M("lf2"), RENAME_WHITEOUT);

	if (is_overlay()) {
		EXPECT_EQ(-EINVAL, ret);
		return;
	}
	ASSERT_EQ(0, ret);
	EXPECT_STREQ("lower file\n", slurp(M("lf2")));
	EXPECT_EQ(-ENOENT, lstat_err(M("lf")));
	EXPECT_TRUE(is_whiteout(UP(RW, "lf")));
}

TEST_F(ns, tmpfile_linkat)
{
	char proc[64];
	int fd = open(M("ld"), O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);

	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	ASSERT_EQ(0, write_all(fd, "tmp\n", 4));
	EXPECT_FALSE(dir_lists(M("ld"), "t"));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ASSERT_EQ(0, linkat(AT_FDCWD, proc, AT_FDCWD, M("ld/t"),
			    AT_SYMLINK_FOLLOW));
	close(fd);
	EXPECT_STREQ("tmp\n", slurp(M("ld/t")));
	EXPECT_STREQ("tmp\n", slurp(UP(RW, "ld/t")));
	EXPECT_TRUE(dir_lists(M("ld"), "t"));
}

TEST_F(ns, tmpfile_unlinked_leaves_nothing)
{
	int before = count_entries(M("ld"));
	int fd = open(M("ld"), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write_all(fd, "gone\n", 5));
	close(fd);
	EXPECT_EQ(before, count_entries(M("ld")));
	EXPECT_EQ(before, count_entries(UP(RW, "ld")) +
			  count_entries(LP(RW, 1, "ld")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(ns, chmod_lower_file)
{
	struct stat st;

	ASSERT_EQ(0, chmod(M("lf"), 0600));
	ASSERT_EQ(0, stat(M("lf"), &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, stat(UP(RW, "lf"), &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, stat(LP(RW, 1, "lf"), &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	EXPECT_STREQ("lower file\n", slurp(M("lf")));
}

TEST_F(ns, chown_lower_file)
{
	struct stat st;

	ASSERT_EQ(0, chown(M("lf"), 1234, 5678));
	ASSERT_EQ(0, stat(M("lf"), &st));
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(5678, st.st_gid);
	ASSERT_EQ(0, stat(UP(RW, "lf"), &st));
	EXPECT_EQ(1234, st.st_uid);
	ASSERT_EQ(0, stat(LP(RW, 1, "lf"), &st));
	EXPECT_EQ(0, st.st_uid);
}

TEST_F(ns, lchown_lower_symlink)
{
	struct stat st;

	ASSERT_EQ(0, lchown(M("lsym"), 1234, 5678));
	ASSERT_EQ(0, lstat(M("lsym"), &st));
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(S_IFLNK, ftype(UP(RW, "lsym")));
	/* The target was not copied up */
	EXPECT_EQ(0, ftype(UP(RW, "lf")));
}

TEST_F(ns, utimes_lower_file)
{
	struct timespec ts[2] = {
		{ .tv_sec = 1000000000, .tv_nsec = 123 },
		{ .tv_sec = 1200000000, .tv_nsec = 456 },
	};
	struct stat st;

	ASSERT_EQ(0, utimensat(AT_FDCWD, M("lf"), ts, 0));
	ASSERT_EQ(0, stat(M("lf"), &st));
	EXPECT_EQ(1000000000, st.st_atim.tv_sec);
	EXPECT_EQ(1200000000, st.st_mtim.tv_sec);
	EXPECT_EQ(456, st.st_mtim.tv_nsec);
	ASSERT_EQ(0, stat(UP(RW, "lf"), &st));
	EXPECT_EQ(1200000000, st.st_mtim.tv_sec);
	ASSERT_EQ(0, stat(LP(RW, 1, "lf"), &st));
	EXPECT_NE(1200000000, st.st_mtim.tv_sec);
}

TEST_F(ns, truncate_shrink_lower_file)
{
	ASSERT_EQ(0, truncate(M("lf"), 5));
	EXPECT_STREQ("lower", slurp(M("lf")));
	EXPECT_STREQ("lower", slurp(UP(RW, "lf")));
	EXPECT_STREQ("lower file\n", slurp(LP(RW, 1, "lf")));
}

TEST_F(ns, truncate_grow_lower_file)
{
	char buf[64];
	struct stat st;

	ASSERT_EQ(0, truncate(M("lf"), 20));
	ASSERT_EQ(0, stat(M("lf"), &st));
	EXPECT_EQ(20, st.st_size);
	ASSERT_EQ(20, read_file(M("lf"), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "lower file\n\0\0\0\0\0\0\0\0\0", 20));
}

TEST_F(ns, setattr_deep_file_copies_ancestors)
{
	struct stat st;

	ASSERT_EQ(0, chmod(M("deep/a/b/f"), 0640));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "deep")));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "deep/a")));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "deep/a/b")));
	ASSERT_EQ(0, stat(UP(RW, "deep/a/b/f"), &st));
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_STREQ("deep\n", slurp(UP(RW, "deep/a/b/f")));
}

static int create_as_nobody(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgroups(0, NULL) ||
		    setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
		    setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID))
			_exit(255);
		_exit(-create_file(path, "m", O_EXCL));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

TEST_F(ns, created_by_caller_owns_it)
{
	struct stat st;

	ASSERT_EQ(0, mkdir(M("pub"), 0777));
	ASSERT_EQ(0, chmod(M("pub"), 0777));
	ASSERT_EQ(0, create_as_nobody(M("pub/mine")));
	ASSERT_EQ(0, stat(M("pub/mine"), &st));
	EXPECT_EQ(NOBODY_ID, st.st_uid);
	EXPECT_EQ(NOBODY_ID, st.st_gid);
	ASSERT_EQ(0, stat(UP(RW, "pub/mine"), &st));
	EXPECT_EQ(NOBODY_ID, st.st_uid);
}

TEST_F(ns, nobody_cannot_create_in_root_owned_dir)
{
	EXPECT_EQ(-EACCES, create_as_nobody(M("ld/nope")));
	EXPECT_EQ(0, ftype(UP(RW, "ld/nope")));
}

TEST_HARNESS_MAIN
