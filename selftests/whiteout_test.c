// SPDX-License-Identifier: GPL-2.0
/*
 * Whiteouts and opaque directories in overlayfs's on-disk format: what
 * the upper layer holds after removing, renaming and re-creating names
 * that lower layers have, and that it reads back the same after remount.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

static const struct layer_entry wh_layers[] = {
	{ 1, E_FILE, "f", "lower f\n" },
	{ 1, E_FILE, "g", "lower g\n" },
	{ 1, E_FILE, "dir/a", "a\n" },
	{ 1, E_FILE, "dir/sub/b", "b\n" },
	{ 0, E_FILE, "dir/c", "c\n" },
	{ 0, E_SYMLINK, "sl", "f" },
	{ 0, E_DIR, "empty", NULL },
};

FIXTURE(wh) {
	struct rw_env rw;
};

FIXTURE_SETUP(wh)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, build_layers(&self->rw.e, wh_layers,
						ARRAY_LEN(wh_layers)));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, NULL));
}

FIXTURE_TEARDOWN(wh)
{
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

TEST_F(wh, unlink_leaves_chardev_0_0)
{
	struct stat st;

	ASSERT_EQ(0, unlink(M("f")));
	ASSERT_EQ(0, lstat(UP(RW, "f"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0, major(st.st_rdev));
	EXPECT_EQ(0, minor(st.st_rdev));
}

TEST_F(wh, whiteout_not_listed_and_survives_remount)
{
	ASSERT_EQ(0, unlink(M("f")));
	EXPECT_FALSE(dir_lists(M(""), "f"));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(-ENOENT, lstat_err(M("f")));
	EXPECT_FALSE(dir_lists(M(""), "f"));
	EXPECT_TRUE(dir_lists(M(""), "g"));
}

TEST_F(wh, rmdir_leaves_whiteout)
{
	ASSERT_EQ(0, rmdir(M("empty")));
	EXPECT_TRUE(is_whiteout(UP(RW, "empty")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(-ENOENT, lstat_err(M("empty")));
}

TEST_F(wh, rename_away_leaves_whiteout)
{
	ASSERT_EQ(0, rename(M("g"), M("dir/g")));
	EXPECT_TRUE(is_whiteout(UP(RW, "g")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "dir/g")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(-ENOENT, lstat_err(M("g")));
	EXPECT_STREQ("lower g\n", slurp(M("dir/g")));
}

TEST_F(wh, rename_over_whiteout_replaces_it)
{
	ASSERT_EQ(0, unlink(M("f")));
	ASSERT_EQ(0, rename(M("g"), M("f")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "f")));
	EXPECT_STREQ("lower g\n", slurp(M("f")));
	EXPECT_TRUE(is_whiteout(UP(RW, "g")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(wh, symlink_over_whiteout)
{
	ASSERT_EQ(0, unlink(M("f")));
	ASSERT_EQ(0, symlink("g", M("f")));
	EXPECT_EQ(S_IFLNK, ftype(UP(RW, "f")));
	EXPECT_STREQ("lower g\n", slurp(M("f")));
}

TEST_F(wh, mkdir_over_whiteout_is_opaque)
{
	ASSERT_EQ(0, unlink(M("f")));
	ASSERT_EQ(0, mkdir(M("f"), 0755));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "f")));
	EXPECT_STREQ("y", xattr_str(UP(RW, "f"), COWFS_OPAQUE_XATTR));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(wh, dir_recreated_hides_lower_contents)
{
	ASSERT_EQ(0, unlink(M("dir/a")));
	ASSERT_EQ(0, unlink(M("dir/c")));
	ASSERT_EQ(0, unlink(M("dir/sub/b")));
	ASSERT_EQ(0, rmdir(M("dir/sub")));
	ASSERT_EQ(0, rmdir(M("dir")));
	ASSERT_EQ(0, mkdir(M("dir"), 0755));
	EXPECT_EQ(0, count_entries(M("dir")));
	EXPECT_STREQ("y", xattr_str(UP(RW, "dir"), COWFS_OPAQUE_XATTR));
	/* The whiteouts went with the removed directory */
	EXPECT_EQ(0, count_entries(UP(RW, "dir")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(0, count_entries(M("dir")));
	EXPECT_EQ(-ENOENT, lstat_err(M("dir/a")));
}

TEST_F(wh, rmdir_merged_dir_holding_whiteouts)
{
	ASSERT_EQ(0, unlink(M("dir/sub/b")));
	ASSERT_TRUE(is_whiteout(UP(RW, "dir/sub/b")));
	ASSERT_EQ(0, rmdir(M("dir/sub")));
	EXPECT_TRUE(is_whiteout(UP(RW, "dir/sub")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(wh, whiteout_of_upper_only_name_not_made)
{
	ASSERT_EQ(0, mkfile(M("dir/new"), "n\n"));
	ASSERT_EQ(0, unlink(M("dir/new")));
	EXPECT_EQ(0, ftype(UP(RW, "dir/new")));
}

TEST_F(wh, unlink_hides_every_lower_layer)
{
	/* "dir" is in both lower layers: rmdir after emptying it */
	ASSERT_EQ(0, unlink(M("dir/a")));
	ASSERT_EQ(0, unlink(M("dir/c")));
	ASSERT_EQ(0, unlink(M("dir/sub/b")));
	ASSERT_EQ(0, rmdir(M("dir/sub")));
	ASSERT_EQ(0, rmdir(M("dir")));
	EXPECT_TRUE(is_whiteout(UP(RW, "dir")));
	EXPECT_EQ(-ENOENT, lstat_err(M("dir")));
	EXPECT_EQ(S_IFDIR, ftype(LP(RW, 0, "dir")));
	EXPECT_EQ(S_IFDIR, ftype(LP(RW, 1, "dir")));
}

TEST_F(wh, create_over_whiteout_after_remount)
{
	ASSERT_EQ(0, unlink(M("f")));
	ASSERT_EQ(0, rw_remount(RW));
	ASSERT_EQ(0, mkfile(M("f"), "new f\n"));
	EXPECT_STREQ("new f\n", slurp(M("f")));
	EXPECT_EQ(S_IFREG, ftype(UP(RW, "f")));
	EXPECT_EQ(0, work_leftovers(RW));
}

TEST_F(wh, opaque_dir_rename_over_lower_dir)
{
	/* An upper-only dir moved over a removed lower dir must hide it */
	ASSERT_EQ(0, mkdir(M("nd"), 0755));
	ASSERT_EQ(0, mkfile(M("nd/x"), "x\n"));
	ASSERT_EQ(0, unlink(M("dir/a")));
	ASSERT_EQ(0, unlink(M("dir/c")));
	ASSERT_EQ(0, unlink(M("dir/sub/b")));
	ASSERT_EQ(0, rmdir(M("dir/sub")));
	ASSERT_EQ(0, rename(M("nd"), M("dir")));
	EXPECT_EQ(1, count_entries(M("dir")));
	EXPECT_STREQ("y", xattr_str(UP(RW, "dir"), COWFS_OPAQUE_XATTR));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(1, count_entries(M("dir")));
	EXPECT_STREQ("x\n", slurp(M("dir/x")));
}

/*
 * A whiteout in the only layer of a directory hides nothing, and cowfs
 * never lists whiteouts; overlayfs lists it (as a character device that
 * stat() then does not find).  See docs/overlay-differences.md.
 */
TEST_F(wh, lower_whiteout_in_single_layer_dir_not_listed)
{
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mkwhiteout(LP(RW, 0, "empty/gone")));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_EQ(-ENOENT, lstat_err(M("empty/gone")));
	EXPECT_EQ(is_overlay(), dir_lists(M("empty"), "gone"));
	EXPECT_EQ(0, rmdir(M("empty")));
}

TEST_HARNESS_MAIN
