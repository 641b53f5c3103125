// SPDX-License-Identifier: GPL-2.0
/*
 * The first cowfs milestone is a read-only union: every modification
 * fails with EROFS and leaves both the union and the layers unchanged.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#include <sys/time.h>

static const struct layer_entry ro_layers[] = {
	{ 0, E_FILE, "file", "data" },
	{ 1, E_FILE, "lower_file", "lower" },
	{ 0, E_FILE, "dir/top", "t" },
	{ 1, E_FILE, "dir/low", "l" },
	{ 1, E_DIR, "emptydir", NULL },
};

FIXTURE(ro) {
	struct cowfs_env env;
	struct stat file_st;	/* "file" in the union before the test */
};

FIXTURE_SETUP(ro)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, 2));
	SETUP_ASSERT0(&self->env, build_layers(&self->env, ro_layers,
					       ARRAY_LEN(ro_layers)));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
	ASSERT_EQ(0, stat(UPATH(&self->env, "file"), &self->file_st));
}

FIXTURE_TEARDOWN(ro)
{
	env_cleanup(&self->env);
}

#define U(rel) UPATH(&self->env, rel)

/* @expr (a syscall returning -1 on failure) must fail with EROFS. */
#define EXPECT_EROFS(expr) do { \
	errno = 0; \
	EXPECT_EQ(-1, (expr)); \
	EXPECT_EQ(EROFS, errno) TH_LOG("%s: %s", #expr, strerror(errno)); \
} while (0)

/* "file" still looks exactly as before, through the union and the layer. */
static void check_file_unchanged(struct __test_metadata *_metadata,
				 FIXTURE_DATA(ro) *self)
{
	struct stat st;

	ASSERT_EQ(0, stat(U("file"), &st));
	EXPECT_EQ(self->file_st.st_mode, st.st_mode);
	EXPECT_EQ(self->file_st.st_uid, st.st_uid);
	EXPECT_EQ(self->file_st.st_size, st.st_size);
	EXPECT_EQ(self->file_st.st_mtim.tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(self->file_st.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
	EXPECT_STREQ("data", slurp(U("file")));
	EXPECT_STREQ("data", slurp(LPATH(&self->env, 0, "file")));
}

TEST_F(ro, mount_shows_ro)
{
	char *opts = proc_mounts_opts(self->env.mnt);

	ASSERT_NE(NULL, opts);
	EXPECT_EQ(0, strncmp(opts, "ro", 2)) TH_LOG("options: %s", opts);
	EXPECT_TRUE(opts[2] == ',' || opts[2] == '\0');
	free(opts);
}

TEST_F(ro, creat_erofs)
{
	EXPECT_EROFS(creat(U("new"), 0644));
	EXPECT_EROFS(open(U("new2"), O_RDONLY | O_CREAT, 0644));
	EXPECT_EQ(-ENOENT, lstat_err(U("new")));
	EXPECT_EQ(-ENOENT, lstat_err(LPATH(&self->env, 0, "new")));
}

TEST_F(ro, mkdir_erofs)
{
	EXPECT_EROFS(mkdir(U("newdir"), 0755));
	EXPECT_EROFS(mkdir(U("dir/newdir"), 0755));
	EXPECT_EQ(-ENOENT, lstat_err(U("newdir")));
}

TEST_F(ro, unlink_erofs)
{
	EXPECT_EROFS(unlink(U("file")));
	EXPECT_EROFS(unlink(U("lower_file")));
	EXPECT_EROFS(unlink(U("dir/low")));
	EXPECT_STREQ("lower", slurp(U("lower_file")));
	EXPECT_STREQ("l", slurp(U("dir/low")));
	check_file_unchanged(_metadata, self);
}

TEST_F(ro, rmdir_erofs)
{
	EXPECT_EROFS(rmdir(U("emptydir")));
	EXPECT_EQ(0, stat_err(U("emptydir")));
}

TEST_F(ro, rename_erofs)
{
	EXPECT_EROFS(rename(U("file"), U("renamed")));
	EXPECT_EROFS(rename(U("lower_file"), U("dir/moved")));
	EXPECT_EQ(-ENOENT, lstat_err(U("renamed")));
	EXPECT_EQ(-ENOENT, lstat_err(U("dir/moved")));
	EXPECT_STREQ("lower", slurp(U("lower_file")));
	check_file_unchanged(_metadata, self);
}

TEST_F(ro, open_for_write_erofs)
{
	EXPECT_EROFS(open(U("file"), O_WRONLY));
	EXPECT_EROFS(open(U("file"), O_RDWR));
	EXPECT_EROFS(open(U("lower_file"), O_WRONLY | O_APPEND));
	EXPECT_EROFS(open(U("file"), O_RDONLY | O_TRUNC));
	check_file_unchanged(_metadata, self);
}

TEST_F(ro, truncate_erofs)
{
	EXPECT_EROFS(truncate(U("file"), 0));
	EXPECT_EROFS(truncate(U("lower_file"), 100));
	EXPECT_STREQ("lower", slurp(U("lower_file")));
	check_file_unchanged(_metadata, self);
}

TEST_F(ro, setxattr_erofs)
{
	char val[8];

	EXPECT_EROFS(setxattr(U("file"), "user.cowfs", "1", 1, 0));
	EXPECT_EROFS(setxattr(U("dir"), COWFS_OPAQUE_XATTR, "y", 1, 0));
	EXPECT_EROFS(removexattr(U("file"), "user.cowfs"));
	EXPECT_EQ(-1, getxattr(U("file"), "user.cowfs", val, sizeof(val)));
	EXPECT_EQ(ENODATA, errno);
	/* "dir" is still merged: the lower entry stays visible */
	EXPECT_STREQ("l", slurp(U("dir/low")));
}

TEST_F(ro, chmod_chown_erofs)
{
	EXPECT_EROFS(chmod(U("file"), 0600));
	EXPECT_EROFS(chown(U("file"), NOBODY_ID, NOBODY_ID));
	EXPECT_EROFS(chmod(U("dir"), 0700));
	check_file_unchanged(_metadata, self);
}

TEST_F(ro, utimes_erofs)
{
	const struct timespec ts[2] = { { 12345, 0 }, { 12345, 0 } };
	struct timeval tv[2] = { { 12345, 0 }, { 12345, 0 } };

	EXPECT_EROFS(utimensat(AT_FDCWD, U("file"), ts, 0));
	EXPECT_EROFS(utimes(U("file"), tv));
	EXPECT_EROFS(utimensat(AT_FDCWD, U("file"), NULL, 0));
	check_file_unchanged(_metadata, self);
}

TEST_F(ro, link_symlink_mknod_erofs)
{
	EXPECT_EROFS(link(U("file"), U("hardlink")));
	EXPECT_EROFS(symlink("file", U("symlink")));
	EXPECT_EROFS(mknod(U("fifo"), S_IFIFO | 0644, 0));
	EXPECT_EROFS(mknod(U("whiteout"), S_IFCHR, makedev(0, 0)));
	EXPECT_EQ(-ENOENT, lstat_err(U("hardlink")));
	EXPECT_EQ(-ENOENT, lstat_err(U("symlink")));
	EXPECT_EQ(-ENOENT, lstat_err(U("fifo")));
}

TEST_F(ro, access_w_ok_erofs)
{
	EXPECT_EROFS(access(U("file"), W_OK));
	EXPECT_EQ(0, access(U("file"), R_OK));
}

TEST_HARNESS_MAIN
