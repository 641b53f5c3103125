// SPDX-License-Identifier: GPL-2.0
/*
 * cowfs merged lookup over three read-only layers: precedence, whiteouts,
 * opaque directories, type changes between layers, symlinks,
 * getattr/statx, inode numbers and permission checks.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#include <sys/time.h>

#define NLAYERS 3
#define ATTR_UID 1234
#define ATTR_GID 5678
#define ATTR_MODE 0640

static const struct layer_entry lookup_layers[] = {
	{ 0, E_FILE, "same", "top" },
	{ 1, E_FILE, "same", "mid" },
	{ 2, E_FILE, "same", "bottom" },
	{ 1, E_FILE, "mid_only", "m" },
	{ 2, E_FILE, "bottom_only", "b" },
	/* whiteouts */
	{ 2, E_FILE, "gone", "x" },
	{ 0, E_WHITEOUT, "gone", NULL },
	{ 2, E_FILE, "wo_mid", "x" },
	{ 1, E_WHITEOUT, "wo_mid", NULL },
	{ 0, E_WHITEOUT, "wo_alone", NULL },
	{ 2, E_FILE, "wo_dir/child", "x" },
	{ 0, E_WHITEOUT, "wo_dir", NULL },
	{ 1, E_FILE, "chardev", "hidden by a 1:3 char device" },
	{ 2, E_FILE, "back", "old" },
	{ 1, E_WHITEOUT, "back", NULL },
	{ 0, E_FILE, "back", "new" },
	/* opaque directories */
	{ 0, E_OPAQUE, "opq", NULL },
	{ 0, E_FILE, "opq/upper_file", "u" },
	{ 1, E_FILE, "opq/lower_file", "l" },
	{ 0, E_DIR, "not_opq", NULL },
	{ 1, E_FILE, "not_opq/lower_file", "l" },
	{ 0, E_FILE, "opq_mid/top", "t" },
	{ 1, E_OPAQUE, "opq_mid", NULL },
	{ 1, E_FILE, "opq_mid/mid", "m" },
	{ 2, E_FILE, "opq_mid/low", "l" },
	/* a directory merged from all three layers */
	{ 0, E_FILE, "dir/a", "a" },
	{ 1, E_FILE, "dir/b", "b" },
	{ 2, E_FILE, "dir/c", "c" },
	{ 2, E_FILE, "dir/sub/deep", "deep" },
	/* type changes: file over dir, dir over file */
	{ 0, E_FILE, "fod", "file" },
	{ 2, E_FILE, "fod/child", "hidden" },
	{ 0, E_FILE, "dof/x", "x" },
	{ 2, E_FILE, "dof", "hidden" },
	/* symlinks */
	{ 0, E_SYMLINK, "link_rel", "bottom_only" },
	{ 1, E_SYMLINK, "dir/link_up", "../same" },
	{ 0, E_SYMLINK, "loop", "loop" },
	{ 2, E_SYMLINK, "link_hidden", "same" },
	{ 0, E_WHITEOUT, "link_hidden", NULL },
	/* hard links, attributes, permissions: see lookup_setup() */
	{ 1, E_FILE, "hl1", "hard" },
	{ 1, E_FILE, "attr", "attributes" },
	{ 0, E_FILE, "secret", "secret" },
	{ 0, E_FILE, "public", "public" },
	{ 0, E_FILE, "tool", "#!/bin/true\n" },
	{ 2, E_FILE, "privdir/f", "private" },
};

/* Objects that are all distinct in the union (st_ino must differ). */
static const char *const distinct[] = {
	".", "same", "mid_only", "bottom_only", "back", "opq", "opq/upper_file",
	"opq_mid", "opq_mid/top", "opq_mid/mid", "dir", "dir/a", "dir/b",
	"dir/c", "dir/sub", "dir/sub/deep", "dir/link_up", "fod", "dof",
	"dof/x", "link_rel", "loop", "hl1", "attr", "secret", "public", "tool",
	"privdir", "privdir/f", "chardev", "not_opq",
};

static const struct timespec attr_mtime = { 1000000000, 123456789 };

FIXTURE(lookup) {
	struct cowfs_env env;
	char outside[PATH_MAX];
};

/* What the table cannot express: modes, owners, times, links. */
static int lookup_extras(struct cowfs_env *env, char *outside)
{
	const struct timespec times[2] = { attr_mtime, attr_mtime };
	const char *attr = LPATH(env, 1, "attr");
	int ret;

	snprintf(outside, PATH_MAX, "%s/outside", env->base);
	ret = mkfile(outside, "outside");
	ret = ret ?: mksymlink(LPATH(env, 0, "link_abs"), outside);
	if (ret)
		return ret;
	if (link(LPATH(env, 1, "hl1"), LPATH(env, 1, "hl2")) ||
	    chown(attr, ATTR_UID, ATTR_GID) || chmod(attr, ATTR_MODE) ||
	    utimensat(AT_FDCWD, attr, times, 0) ||
	    chmod(LPATH(env, 0, "secret"), 0600) ||
	    chmod(LPATH(env, 0, "tool"), 0755) ||
	    chmod(LPATH(env, 2, "privdir"), 0700) ||
	    mknod(LPATH(env, 0, "chardev"), S_IFCHR | 0644, makedev(1, 3)) ||
	    setxattr(LPATH(env, 0, "not_opq"), COWFS_OPAQUE_XATTR, "n", 1, 0))
		return -errno;
	return 0;
}

FIXTURE_SETUP(lookup)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, NLAYERS));
	SETUP_ASSERT0(&self->env, build_layers(&self->env, lookup_layers,
					       ARRAY_LEN(lookup_layers)));
	SETUP_ASSERT0(&self->env, lookup_extras(&self->env, self->outside));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(lookup)
{
	env_cleanup(&self->env);
}

#define U(rel) UPATH(&self->env, rel)

static mode_t lmode(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_mode & S_IFMT;
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_ino;
}

TEST_F(lookup, upper_entry_hides_lower)
{
	struct stat st;

	EXPECT_STREQ("top", slurp(U("same")));
	ASSERT_EQ(0, stat(U("same"), &st));
	EXPECT_EQ((off_t)strlen("top"), st.st_size);
}

TEST_F(lookup, lower_only_entries_visible)
{
	EXPECT_STREQ("m", slurp(U("mid_only")));
	EXPECT_STREQ("b", slurp(U("bottom_only")));
}

TEST_F(lookup, whiteout_hides_lower_entry)
{
	EXPECT_EQ(-ENOENT, lstat_err(U("gone")));
	EXPECT_EQ(-ENOENT, lstat_err(U("wo_mid")));
	EXPECT_EQ(-ENOENT, lstat_err(U("link_hidden")));
	EXPECT_EQ(-1, open(U("gone"), O_RDONLY));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(lookup, whiteout_hides_lower_dir)
{
	EXPECT_EQ(-ENOENT, lstat_err(U("wo_dir")));
	EXPECT_EQ(-ENOENT, lstat_err(U("wo_dir/child")));
}

/* Only a 0/0 character device is a whiteout; 1:3 is a real device. */
TEST_F(lookup, other_chardev_is_not_whiteout)
{
	struct stat st;

	ASSERT_EQ(0, lstat(U("chardev"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
}

TEST_F(lookup, whiteout_itself_invisible)
{
	EXPECT_EQ(-ENOENT, lstat_err(U("wo_alone")));
}

TEST_F(lookup, entry_above_whiteout_visible)
{
	EXPECT_STREQ("new", slurp(U("back")));
}

TEST_F(lookup, opaque_dir_hides_lower_entries)
{
	EXPECT_EQ(S_IFDIR, lmode(U("opq")));
	EXPECT_STREQ("u", slurp(U("opq/upper_file")));
	EXPECT_EQ(-ENOENT, lstat_err(U("opq/lower_file")));
}

/* Only "y" makes a directory opaque. */
TEST_F(lookup, opaque_xattr_not_y_still_merges)
{
	EXPECT_STREQ("l", slurp(U("not_opq/lower_file")));
}

TEST_F(lookup, opaque_mid_layer_stops_merge_there)
{
	EXPECT_STREQ("t", slurp(U("opq_mid/top")));
	EXPECT_STREQ("m", slurp(U("opq_mid/mid")));
	EXPECT_EQ(-ENOENT, lstat_err(U("opq_mid/low")));
}

TEST_F(lookup, merged_dir_sees_all_layers)
{
	EXPECT_STREQ("a", slurp(U("dir/a")));
	EXPECT_STREQ("b", slurp(U("dir/b")));
	EXPECT_STREQ("c", slurp(U("dir/c")));
	EXPECT_STREQ("deep", slurp(U("dir/sub/deep")));
}

TEST_F(lookup, file_hides_lower_dir)
{
	EXPECT_EQ(S_IFREG, lmode(U("fod")));
	EXPECT_STREQ("file", slurp(U("fod")));
	EXPECT_EQ(-ENOTDIR, lstat_err(U("fod/child")));
}

TEST_F(lookup, dir_hides_lower_file)
{
	EXPECT_EQ(S_IFDIR, lmode(U("dof")));
	EXPECT_STREQ("x", slurp(U("dof/x")));
}

TEST_F(lookup, readlink_returns_target)
{
	char buf[PATH_MAX];
	struct stat st;
	ssize_t n;

	n = readlink(U("link_rel"), buf, sizeof(buf) - 1);
	ASSERT_EQ((ssize_t)strlen("bottom_only"), n);
	buf[n] = '\0';
	EXPECT_STREQ("bottom_only", buf);
	ASSERT_EQ(0, lstat(U("link_rel"), &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	EXPECT_EQ(n, st.st_size);

	n = readlink(U("dir/link_up"), buf, sizeof(buf) - 1);
	ASSERT_EQ((ssize_t)strlen("../same"), n);
	buf[n] = '\0';
	EXPECT_STREQ("../same", buf);
}

TEST_F(lookup, symlink_resolves_through_union)
{
	struct stat via_link, direct;

	/* link in the top layer, target only in the bottom one */
	EXPECT_STREQ("b", slurp(U("link_rel")));
	ASSERT_EQ(0, stat(U("link_rel"), &via_link));
	ASSERT_EQ(0, stat(U("bottom_only"), &direct));
	EXPECT_EQ(direct.st_ino, via_link.st_ino);
	EXPECT_EQ(direct.st_dev, via_link.st_dev);
	/* "../same" from a middle layer dir sees the top layer's "same" */
	EXPECT_STREQ("top", slurp(U("dir/link_up")));
}

TEST_F(lookup, symlink_absolute_target)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(U("link_abs"), buf, sizeof(buf) - 1);

	ASSERT_EQ((ssize_t)strlen(self->outside), n);
	buf[n] = '\0';
	EXPECT_STREQ(self->outside, buf);
	EXPECT_STREQ("outside", slurp(U("link_abs")));
}

TEST_F(lookup, symlink_loop_eloop)
{
	EXPECT_EQ(-ELOOP, stat_err(U("loop")));
	EXPECT_EQ(0, lstat_err(U("loop")));
}

TEST_F(lookup, statx_agrees_with_stat)
{
	struct statx stx;
	struct stat st;

	ASSERT_EQ(0, stat(U("attr"), &st));
	ASSERT_EQ(0, statx(AT_FDCWD, U("attr"), 0, STATX_BASIC_STATS, &stx));
	EXPECT_EQ(STATX_BASIC_STATS & ~STATX_BLOCKS,
		  stx.stx_mask & STATX_BASIC_STATS & ~STATX_BLOCKS);
	EXPECT_EQ(st.st_ino, stx.stx_ino);
	EXPECT_EQ(major(st.st_dev), stx.stx_dev_major);
	EXPECT_EQ(minor(st.st_dev), stx.stx_dev_minor);
	EXPECT_EQ(st.st_mode, stx.stx_mode);
	EXPECT_EQ(st.st_nlink, stx.stx_nlink);
	EXPECT_EQ(st.st_uid, stx.stx_uid);
	EXPECT_EQ(st.st_gid, stx.stx_gid);
	EXPECT_EQ((__u64)st.st_size, stx.stx_size);
	EXPECT_EQ(st.st_mtim.tv_sec, stx.stx_mtime.tv_sec);
	EXPECT_EQ((__u32)st.st_mtim.tv_nsec, stx.stx_mtime.tv_nsec);
}

TEST_F(lookup, attrs_match_real_file)
{
	struct stat real, st;

	ASSERT_EQ(0, stat(LPATH(&self->env, 1, "attr"), &real));
	ASSERT_EQ(0, stat(U("attr"), &st));
	/* the layer really has what we set, so the comparison means something */
	ASSERT_EQ(ATTR_UID, real.st_uid);
	ASSERT_EQ(attr_mtime.tv_nsec, real.st_mtim.tv_nsec);

	EXPECT_EQ(real.st_mode, st.st_mode);
	EXPECT_EQ(real.st_uid, st.st_uid);
	EXPECT_EQ(real.st_gid, st.st_gid);
	EXPECT_EQ(real.st_size, st.st_size);
	EXPECT_EQ(real.st_mtim.tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(real.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
	EXPECT_EQ(real.st_nlink, st.st_nlink);
}

TEST_F(lookup, st_dev_is_union_dev)
{
	struct stat root, st;
	size_t i;

	ASSERT_EQ(0, stat(self->env.mnt, &root));
	for (i = 0; i < ARRAY_LEN(distinct); i++) {
		ASSERT_EQ(0, lstat(U(distinct[i]), &st));
		EXPECT_EQ(root.st_dev, st.st_dev) TH_LOG("%s", distinct[i]);
	}
}

TEST_F(lookup, merged_dirs_have_nlink_1)
{
	struct stat st;

	ASSERT_EQ(0, stat(U("dir"), &st));
	EXPECT_EQ(1, st.st_nlink);
	ASSERT_EQ(0, stat(self->env.mnt, &st));
	EXPECT_EQ(1, st.st_nlink);
}

TEST_F(lookup, hardlinks_share_ino)
{
	struct stat a, b;

	ASSERT_EQ(0, stat(U("hl1"), &a));
	ASSERT_EQ(0, stat(U("hl2"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(2, a.st_nlink);
}

TEST_F(lookup, ino_unique_for_distinct_objects)
{
	ino_t inos[ARRAY_LEN(distinct)];
	size_t i, j;

	for (i = 0; i < ARRAY_LEN(distinct); i++) {
		inos[i] = ino_of(U(distinct[i]));
		ASSERT_NE(0, inos[i]);
	}
	for (i = 0; i < ARRAY_LEN(distinct); i++) {
		for (j = i + 1; j < ARRAY_LEN(distinct); j++) {
			EXPECT_NE(inos[i], inos[j])
				TH_LOG("%s vs %s", distinct[i], distinct[j]);
		}
	}
}

static void snapshot_inos(struct cowfs_env *env, ino_t *inos)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(distinct); i++)
		inos[i] = ino_of(UPATH(env, distinct[i]));
}

TEST_F(lookup, ino_stable_across_lookups)
{
	ino_t before[ARRAY_LEN(distinct)], after[ARRAY_LEN(distinct)];
	size_t i;

	snapshot_inos(&self->env, before);
	drop_caches();
	snapshot_inos(&self->env, after);
	for (i = 0; i < ARRAY_LEN(distinct); i++) {
		EXPECT_EQ(before[i], after[i]) TH_LOG("%s", distinct[i]);
	}
}

TEST_F(lookup, ino_stable_across_remount)
{
	ino_t before[ARRAY_LEN(distinct)], after[ARRAY_LEN(distinct)];
	size_t i;

	snapshot_inos(&self->env, before);
	ASSERT_EQ(0, env_umount(&self->env));
	ASSERT_EQ(0, env_mount(&self->env));
	snapshot_inos(&self->env, after);
	for (i = 0; i < ARRAY_LEN(distinct); i++) {
		EXPECT_EQ(before[i], after[i]) TH_LOG("%s", distinct[i]);
	}
}

/* As nobody: 0 if @path opens and reads back @expect, else an errno. */
struct read_check {
	const char *path;
	const char *expect;
};

static int nobody_read(const void *arg)
{
	const struct read_check *rc = arg;
	ssize_t n;
	char buf[256];

	n = read_file(rc->path, buf, sizeof(buf));
	if (n < 0)
		return (int)-n;
	return strcmp(buf, rc->expect) ? EBADMSG : 0;
}

TEST_F(lookup, nobody_cannot_read_0600_file)
{
	struct read_check rc = { U("secret"), "secret" };

	EXPECT_EQ(EACCES, run_as_nobody(nobody_read, &rc));
	/* root still can */
	EXPECT_STREQ("secret", slurp(U("secret")));
}

TEST_F(lookup, nobody_can_read_0644_file)
{
	struct read_check rc = { U("public"), "public" };

	EXPECT_EQ(0, run_as_nobody(nobody_read, &rc));
}

TEST_F(lookup, nobody_cannot_search_0700_dir)
{
	struct read_check rc = { U("privdir/f"), "private" };

	EXPECT_EQ(EACCES, run_as_nobody(nobody_read, &rc));
	EXPECT_STREQ("private", slurp(U("privdir/f")));
}

static int nobody_access_x(const void *arg)
{
	return access(arg, X_OK) ? errno : 0;
}

TEST_F(lookup, exec_permission_follows_mode)
{
	EXPECT_EQ(0, run_as_nobody(nobody_access_x, U("tool")));
	EXPECT_EQ(EACCES, run_as_nobody(nobody_access_x, U("public")));
}

/*
 * Two layers, each the root of its own fresh tmpfs: tmpfs numbers inodes
 * per superblock, so files created in the same order collide on st_ino.
 */
FIXTURE(xdev) {
	struct cowfs_env env;
};

static int xdev_layers(struct cowfs_env *env)
{
	int i, ret = 0;

	for (i = 0; i < 2 && !ret; i++) {
		if (mount("tmpfs", env->layers[i], "tmpfs", 0, "size=1m,mode=0755"))
			return -errno;
		ret = mkfile(LPATH(env, i, pathf("file%d", i)), pathf("%d", i));
		ret = ret ?: mkdir_p(LPATH(env, i, pathf("dir%d", i)), 0755);
		ret = ret ?: mkfile(LPATH(env, i, "shared/x"), pathf("%d", i));
	}
	return ret;
}

FIXTURE_SETUP(xdev)
{
	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&self->env, env_init(&self->env, 2));
	SETUP_ASSERT0(&self->env, xdev_layers(&self->env));
	SETUP_ASSERT0(&self->env, env_mount(&self->env));
}

FIXTURE_TEARDOWN(xdev)
{
	env_cleanup(&self->env);
}

TEST_F(xdev, ino_unique_despite_layer_collisions)
{
	ino_t real0 = ino_of(LPATH(&self->env, 0, "file0"));
	ino_t real1 = ino_of(LPATH(&self->env, 1, "file1"));
	ino_t u0 = ino_of(U("file0")), u1 = ino_of(U("file1"));

	/* precondition: the layers really do reuse inode numbers */
	ASSERT_EQ(real0, real1);
	ASSERT_NE(0, u0);
	ASSERT_NE(0, u1);
	EXPECT_NE(u0, u1);
	EXPECT_NE(ino_of(U("dir0")), ino_of(U("dir1")));
	EXPECT_NE(u0, ino_of(U("dir1")));
	EXPECT_NE(u1, ino_of(U("dir0")));
}

TEST_F(xdev, st_dev_is_union_dev)
{
	const char *const objs[] = { "file0", "file1", "dir0", "dir1", "shared",
				     "shared/x" };
	struct stat root, st;
	size_t i;

	ASSERT_EQ(0, stat(self->env.mnt, &root));
	for (i = 0; i < ARRAY_LEN(objs); i++) {
		ASSERT_EQ(0, lstat(U(objs[i]), &st));
		EXPECT_EQ(root.st_dev, st.st_dev) TH_LOG("%s", objs[i]);
	}
}

TEST_F(xdev, ino_stable_across_remount)
{
	ino_t f0 = ino_of(U("file0")), f1 = ino_of(U("file1"));

	ASSERT_EQ(0, env_umount(&self->env));
	ASSERT_EQ(0, env_mount(&self->env));
	EXPECT_EQ(f0, ino_of(U("file0")));
	EXPECT_EQ(f1, ino_of(U("file1")));
}

TEST_HARNESS_MAIN
