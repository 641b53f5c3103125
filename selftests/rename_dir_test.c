// SPDX-License-Identifier: GPL-2.0
/*
 * Renaming lower and merged directories: no EXDEV, the lower contents go
 * with the directory, and trusted.overlay.redirect records where they
 * are in overlayfs's format (the old name within the same parent, the
 * absolute path from the layer root across parents), through remounts
 * and nested renames.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

static const struct layer_entry rd_layers[] = {
	{ 1, E_FILE, "a/f1", "f1\n" },
	{ 1, E_FILE, "a/sub/f2", "f2\n" },
	{ 0, E_FILE, "a/f3", "f3\n" },
	{ 1, E_FILE, "p/q/r/deep", "deep\n" },
	{ 1, E_DIR, "dst", NULL },
	{ 0, E_FILE, "other/o", "o\n" },
};

FIXTURE(rd) {
	struct rw_env rw;
};

FIXTURE_SETUP(rd)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, build_layers(&self->rw.e, rd_layers,
						ARRAY_LEN(rd_layers)));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, NULL));
}

FIXTURE_TEARDOWN(rd)
{
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

/* The merged contents of "a" under @dir, as the fixture made them. */
static bool has_a_contents(const char *dir)
{
	return !strcmp(slurp(pathf("%s/f1", dir)), "f1\n") &&
	       !strcmp(slurp(pathf("%s/sub/f2", dir)), "f2\n") &&
	       !strcmp(slurp(pathf("%s/f3", dir)), "f3\n") &&
	       count_entries(dir) == 3;
}

TEST_F(rd, rename_merged_dir_same_parent)
{
	ASSERT_EQ(0, rename(M("a"), M("b")));
	EXPECT_TRUE(has_a_contents(M("b")));
	EXPECT_EQ(-ENOENT, lstat_err(M("a")));
	EXPECT_STREQ("a", xattr_str(UP(RW, "b"), OVL_REDIRECT_XATTR));
	EXPECT_TRUE(is_whiteout(UP(RW, "a")));
}

TEST_F(rd, rename_dir_across_parents_absolute_redirect)
{
	ASSERT_EQ(0, rename(M("a"), M("dst/b")));
	EXPECT_TRUE(has_a_contents(M("dst/b")));
	EXPECT_STREQ("/a", xattr_str(UP(RW, "dst/b"), OVL_REDIRECT_XATTR));
}

TEST_F(rd, rename_nested_lower_dir)
{
	ASSERT_EQ(0, rename(M("p/q/r"), M("dst/r2")));
	EXPECT_STREQ("deep\n", slurp(M("dst/r2/deep")));
	EXPECT_STREQ("/p/q/r", xattr_str(UP(RW, "dst/r2"), OVL_REDIRECT_XATTR));
	EXPECT_EQ(0, count_entries(M("p/q")));
}

TEST_F(rd, rename_survives_remount)
{
	ASSERT_EQ(0, rename(M("a"), M("dst/b")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(has_a_contents(M("dst/b")));
	EXPECT_EQ(-ENOENT, lstat_err(M("a")));
	EXPECT_FALSE(dir_lists(M(""), "a"));
}

TEST_F(rd, rename_twice_keeps_origin)
{
	ASSERT_EQ(0, rename(M("a"), M("b")));
	ASSERT_EQ(0, rename(M("b"), M("dst/c")));
	EXPECT_TRUE(has_a_contents(M("dst/c")));
	EXPECT_STREQ("/a", xattr_str(UP(RW, "dst/c"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(has_a_contents(M("dst/c")));
}

TEST_F(rd, rename_twice_across_remount)
{
	ASSERT_EQ(0, rename(M("a"), M("b")));
	ASSERT_EQ(0, rw_remount(RW));
	ASSERT_EQ(0, rename(M("b"), M("c")));
	EXPECT_TRUE(has_a_contents(M("c")));
	EXPECT_STREQ("a", xattr_str(UP(RW, "c"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(has_a_contents(M("c")));
}

TEST_F(rd, rename_parent_then_child)
{
	ASSERT_EQ(0, rename(M("p"), M("P")));
	ASSERT_EQ(0, rename(M("P/q"), M("dst/Q")));
	EXPECT_STREQ("deep\n", slurp(M("dst/Q/r/deep")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_STREQ("deep\n", slurp(M("dst/Q/r/deep")));
	EXPECT_EQ(0, count_entries(M("P")));
}

TEST_F(rd, rename_child_then_parent)
{
	ASSERT_EQ(0, rename(M("a/sub"), M("a/sub2")));
	ASSERT_EQ(0, rename(M("a"), M("dst/a2")));
	EXPECT_STREQ("f2\n", slurp(M("dst/a2/sub2/f2")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_STREQ("f2\n", slurp(M("dst/a2/sub2/f2")));
	EXPECT_STREQ("f1\n", slurp(M("dst/a2/f1")));
	EXPECT_EQ(-ENOENT, lstat_err(M("dst/a2/sub")));
}

TEST_F(rd, rename_back_to_old_name)
{
	ASSERT_EQ(0, rename(M("a"), M("b")));
	ASSERT_EQ(0, rename(M("b"), M("a")));
	EXPECT_TRUE(has_a_contents(M("a")));
	EXPECT_EQ(-ENOENT, lstat_err(M("b")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(has_a_contents(M("a")));
	EXPECT_EQ(-ENOENT, lstat_err(M("b")));
}

TEST_F(rd, new_dir_at_old_name_is_opaque)
{
	ASSERT_EQ(0, rename(M("a"), M("b")));
	ASSERT_EQ(0, mkdir(M("a"), 0755));
	EXPECT_EQ(0, count_entries(M("a")));
	EXPECT_STREQ("y", xattr_str(UP(RW, "a"), COWFS_OPAQUE_XATTR));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_EQ(0, count_entries(M("a")));
	EXPECT_TRUE(has_a_contents(M("b")));
}

TEST_F(rd, write_in_renamed_dir)
{
	ASSERT_EQ(0, rename(M("a"), M("dst/b")));
	ASSERT_EQ(0, mkfile(M("dst/b/f1"), "changed\n"));
	ASSERT_EQ(0, unlink(M("dst/b/f3")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_STREQ("changed\n", slurp(M("dst/b/f1")));
	EXPECT_EQ(-ENOENT, lstat_err(M("dst/b/f3")));
	EXPECT_STREQ("f2\n", slurp(M("dst/b/sub/f2")));
}

TEST_F(rd, rename_over_empty_lower_dir)
{
	ASSERT_EQ(0, rename(M("a"), M("dst")));
	EXPECT_TRUE(has_a_contents(M("dst")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(has_a_contents(M("dst")));
	EXPECT_EQ(-ENOENT, lstat_err(M("a")));
}

TEST_F(rd, exchange_merged_dirs)
{
	ASSERT_EQ(0, rw_renameat2(M("a"), M("other"), 1 << 1));
	EXPECT_TRUE(has_a_contents(M("other")));
	EXPECT_STREQ("o\n", slurp(M("a/o")));
	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_TRUE(has_a_contents(M("other")));
	EXPECT_STREQ("o\n", slurp(M("a/o")));
}

TEST_F(rd, upper_dir_mounts_under_overlay)
{
	const char *omnt = pathf("%s/om", self->rw.e.base);

	if (!have_overlay())
		SKIP(return, "overlay not available");
	ASSERT_EQ(0, rename(M("a"), M("dst/b")));
	ASSERT_EQ(0, rename(M("p/q"), M("q2")));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mkdir_p(omnt, 0755));
	{
		char *lower = lowerdir_opt((const char *const *)self->rw.e.layers,
					   self->rw.e.nlayers);
		char *opts = NULL;

		ASSERT_NE(NULL, lower);
		ASSERT_LT(0, asprintf(&opts, "%s,upperdir=%s,workdir=%s,redirect_dir=on",
				      lower, self->rw.upper, self->rw.work));
		ASSERT_EQ(0, mount("none", omnt, "overlay", 0, opts));
		free(opts);
		free(lower);
	}
	EXPECT_TRUE(has_a_contents(pathf("%s/dst/b", omnt)));
	EXPECT_STREQ("deep\n", slurp(pathf("%s/q2/r/deep", omnt)));
	EXPECT_EQ(-ENOENT, lstat_err(pathf("%s/a", omnt)));
	EXPECT_EQ(0, count_entries(pathf("%s/p", omnt)));
	umount2(omnt, 0);
}

FIXTURE(rdoff) {
	struct rw_env rw;
};

FIXTURE_SETUP(rdoff)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, build_layers(&self->rw.e, rd_layers,
						ARRAY_LEN(rd_layers)));
	SETUP_ASSERT0(&self->rw.e, rw_mount(&self->rw, is_overlay() ? NULL :
					    "redirect_dir=off"));
}

FIXTURE_TEARDOWN(rdoff)
{
	rw_cleanup(&self->rw);
}

TEST_F(rdoff, redirect_dir_off_refuses_lower_dir)
{
	if (is_overlay())
		SKIP(return, "the helpers mount overlay with redirect_dir=on");
	EXPECT_EQ(-EXDEV, ERRNO_OF(rename(MP(&self->rw, "a"),
					  MP(&self->rw, "b"))));
	/* A directory of the upper layer alone still moves */
	ASSERT_EQ(0, mkdir(MP(&self->rw, "n"), 0755));
	EXPECT_EQ(0, rename(MP(&self->rw, "n"), MP(&self->rw, "n2")));
}

TEST_HARNESS_MAIN
