// SPDX-License-Identifier: GPL-2.0
/*
 * One on-disk format: an upper layer written through cowfs mounts under
 * overlayfs (redirect_dir=on) with the same merged tree, and the other
 * way round.  Each scenario runs on one filesystem, takes a picture of
 * the merged tree (names, types, modes, sizes, contents, symlink targets,
 * user xattrs), and compares it with the other filesystem's view of the
 * same layers.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

static const struct layer_entry io_layers[] = {
	{ 1, E_FILE, "f", "lower f\n" },
	{ 1, E_FILE, "g", "lower g\n" },
	{ 1, E_FILE, "dir/a", "a\n" },
	{ 1, E_FILE, "dir/sub/b", "b\n" },
	{ 0, E_FILE, "dir/c", "c\n" },
	{ 1, E_FILE, "mv/x", "x\n" },
	{ 0, E_FILE, "mv/y", "y\n" },
	{ 1, E_FILE, "deep/er/z", "z\n" },
	{ 0, E_SYMLINK, "sl", "f" },
	{ 0, E_DIR, "empty", NULL },
	{ 1, E_DIR, "dst", NULL },
};

FIXTURE(io) {
	struct rw_env rw;
};

FIXTURE_VARIANT(io) {
	const char *writer;
	const char *reader;
};

FIXTURE_VARIANT_ADD(io, cowfs_to_overlay) {
	.writer = "cowfs",
	.reader = "overlay",
};

FIXTURE_VARIANT_ADD(io, overlay_to_cowfs) {
	.writer = "overlay",
	.reader = "cowfs",
};

FIXTURE_SETUP(io)
{
	if (getuid() != 0)
		SKIP(return, "must run as root");
	if (!fs_registered("cowfs") || !have_overlay())
		SKIP(return, "needs both cowfs and overlay");
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 2, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, build_layers(&self->rw.e, io_layers,
						ARRAY_LEN(io_layers)));
}

FIXTURE_TEARDOWN(io)
{
	rw_cleanup(&self->rw);
}

static int mount_as(struct rw_env *rw, const char *type)
{
	char *lower = lowerdir_opt((const char *const *)rw->e.layers,
				   rw->e.nlayers);
	char *opts = NULL;
	int ret;

	if (!lower || asprintf(&opts, "%s,upperdir=%s,workdir=%s%s", lower,
			       rw->upper, rw->work,
			       strcmp(type, "overlay") ? "" :
			       ",redirect_dir=on") < 0) {
		free(lower);
		return -ENOMEM;
	}
	ret = mount("none", rw->e.mnt, type, 0, opts) ? -errno : 0;
	free(opts);
	free(lower);
	return ret;
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

/*
 * Run @scenario on the writer, then compare the writer's picture of the
 * merged tree with the reader's, both after a fresh mount.
 */
#define CHECK_SCENARIO(scenario) do { \
	char *w, *r; \
	ASSERT_EQ(0, mount_as(RW, variant->writer)); \
	ASSERT_EQ(0, scenario(RW)); \
	ASSERT_EQ(0, rw_umount(RW)); \
	drop_caches(); \
	ASSERT_EQ(0, mount_as(RW, variant->writer)); \
	w = tree_snapshot(RW->e.mnt); \
	ASSERT_EQ(0, rw_umount(RW)); \
	drop_caches(); \
	ASSERT_EQ(0, mount_as(RW, variant->reader)); \
	r = tree_snapshot(RW->e.mnt); \
	ASSERT_NE(NULL, w); \
	ASSERT_NE(NULL, r); \
	EXPECT_STREQ(w, r); \
	free(w); \
	free(r); \
} while (0)

static int scenario_files(struct rw_env *rw)
{
	int fd;

	if (mkfile(MP(rw, "new"), "new\n") || mkfile(MP(rw, "dir/new"), "dn\n"))
		return -1;
	fd = open(MP(rw, "f"), O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write_all(fd, "appended\n", 9))
		return -1;
	close(fd);
	if (chmod(MP(rw, "g"), 0600) || symlink("g", MP(rw, "sl2")) ||
	    link(MP(rw, "dir/a"), MP(rw, "a_link")) ||
	    setxattr(MP(rw, "dir/c"), "user.k", "v", 1, 0) ||
	    mkfifo(MP(rw, "fifo"), 0600) || lchown(MP(rw, "sl"), 5, 5) ||
	    truncate(MP(rw, "deep/er/z"), 1))
		return -1;
	return 0;
}

static int scenario_whiteouts(struct rw_env *rw)
{
	if (unlink(MP(rw, "f")) || unlink(MP(rw, "sl")) ||
	    rmdir(MP(rw, "empty")) || unlink(MP(rw, "dir/sub/b")) ||
	    rmdir(MP(rw, "dir/sub")) || unlink(MP(rw, "dir/c")) ||
	    rename(MP(rw, "g"), MP(rw, "dst/g")))
		return -1;
	return 0;
}

static int scenario_opaque(struct rw_env *rw)
{
	if (unlink(MP(rw, "dir/a")) || unlink(MP(rw, "dir/c")) ||
	    unlink(MP(rw, "dir/sub/b")) || rmdir(MP(rw, "dir/sub")) ||
	    rmdir(MP(rw, "dir")) || mkdir(MP(rw, "dir"), 0750) ||
	    mkfile(MP(rw, "dir/only"), "only\n") ||
	    unlink(MP(rw, "f")) || mkdir(MP(rw, "f"), 0755))
		return -1;
	return 0;
}

static int scenario_rename(struct rw_env *rw)
{
	if (rename(MP(rw, "mv"), MP(rw, "mv2")) ||
	    rename(MP(rw, "deep/er"), MP(rw, "dst/er")) ||
	    rename(MP(rw, "dir"), MP(rw, "dst/dir")) ||
	    rename(MP(rw, "dst/dir/sub"), MP(rw, "sub")) ||
	    mkdir(MP(rw, "mv"), 0755) || mkfile(MP(rw, "mv/new"), "n\n") ||
	    rename(MP(rw, "mv2"), MP(rw, "mv3")))
		return -1;
	return 0;
}

TEST_F(io, files)
{
	CHECK_SCENARIO(scenario_files);
}

TEST_F(io, whiteouts)
{
	CHECK_SCENARIO(scenario_whiteouts);
}

TEST_F(io, opaque_dirs)
{
	CHECK_SCENARIO(scenario_opaque);
}

TEST_F(io, renamed_dirs)
{
	CHECK_SCENARIO(scenario_rename);
}

TEST_F(io, every_scenario_then_remount_twice)
{
	char *first, *again;

	ASSERT_EQ(0, mount_as(RW, variant->writer));
	ASSERT_EQ(0, scenario_files(RW));
	ASSERT_EQ(0, scenario_rename(RW));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mount_as(RW, variant->reader));
	first = tree_snapshot(RW->e.mnt);
	/* The reader writes too, then the writer reads it back */
	ASSERT_EQ(0, mkfile(M("mv3/by_reader"), "r\n"));
	ASSERT_EQ(0, unlink(M("mv3/x")));
	ASSERT_EQ(0, rename(M("dst/er"), M("er_back")));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mount_as(RW, variant->reader));
	again = tree_snapshot(RW->e.mnt);
	ASSERT_EQ(0, rw_umount(RW));
	drop_caches();
	ASSERT_EQ(0, mount_as(RW, variant->writer));
	{
		char *w = tree_snapshot(RW->e.mnt);

		ASSERT_NE(NULL, w);
		EXPECT_STREQ(again, w);
		free(w);
	}
	EXPECT_NE(NULL, strstr(first, "mv3/x "));
	EXPECT_STREQ("z", slurp(M("er_back/z")));
	free(first);
	free(again);
}

TEST_HARNESS_MAIN
