// SPDX-License-Identifier: GPL-2.0
/*
 * upperdir= and workdir=: what a writable union accepts and refuses at
 * mount time (workdir on the upper's mount, no nesting of upper, work
 * and lower layers, an upper filesystem with xattrs and whiteouts, no
 * upper or work directory shared with another live mount, cowfs or
 * overlay), and what it does with workdir's leftovers.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

FIXTURE(uo) {
	struct rw_env rw;
	char *log;
};

FIXTURE_SETUP(uo)
{
	REQUIRE_FSTYPE();
	self->log = calloc(1, 8192);
	ASSERT_NE(NULL, self->log);
	SETUP_ASSERT0(&self->rw.e, rw_init(&self->rw, 1, 0, NULL));
	SETUP_ASSERT0(&self->rw.e, mkfile(LP(&self->rw, 0, "f"), "f\n"));
	SETUP_ASSERT0(&self->rw.e, mkdir_p(LP(&self->rw, 0, "sub"), 0755));
	SETUP_ASSERT0(&self->rw.e, mkdir_p(pathf("%s/m2", self->rw.e.base),
					   0755));
}

FIXTURE_TEARDOWN(uo)
{
	rw_cleanup(&self->rw);
	free(self->log);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)
#define B(rel)	pathf("%s/%s", self->rw.e.base, rel)

/* Mount on @mnt with upper @u and work @w (absolute paths). */
static int mount_uw(struct rw_env *rw, const char *mnt, const char *u,
		    const char *w)
{
	return rw_mount_at(rw, mnt, u, w, NULL);
}

TEST_F(uo, mount_shows_upper_and_work)
{
	struct mnt_info mi;
	char *v;

	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	v = opt_value(mi.super_opts, "upperdir");
	EXPECT_STREQ(RW->upper, v ?: "");
	free(v);
	v = opt_value(mi.super_opts, "workdir");
	EXPECT_STREQ(RW->work, v ?: "");
	free(v);
	EXPECT_EQ(NULL, strstr(mi.mnt_opts, "ro"));
	mnt_info_free(&mi);
}

TEST_F(uo, writes_go_to_upper)
{
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(0, mkfile(M("new"), "n\n"));
	EXPECT_STREQ("n\n", slurp(UP(RW, "new")));
	EXPECT_EQ(-ENOENT, lstat_err(LP(RW, 0, "new")));
}

TEST_F(uo, new_mount_api)
{
	const struct fsparam p[] = {
		{ "lowerdir+", RW->e.layers[0] },
		{ "upperdir", RW->upper },
		{ "workdir", RW->work },
	};

	ASSERT_EQ(0, fsapi_mount(RW->e.mnt, p, ARRAY_LEN(p), self->log, 8192))
		TH_LOG("%s", self->log);
	ASSERT_EQ(0, mkfile(M("new"), "n\n"));
	EXPECT_STREQ("n\n", slurp(UP(RW, "new")));
}

TEST_F(uo, upper_without_workdir)
{
	char *lower = lowerdir_opt((const char *const *)RW->e.layers, 1);
	char *opts = NULL;

	ASSERT_NE(NULL, lower);
	ASSERT_LT(0, asprintf(&opts, "%s,upperdir=%s", lower, RW->upper));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
	free(opts);
	free(lower);
}

TEST_F(uo, upperdir_not_a_directory)
{
	if (is_overlay())
		SKIP(return, "overlayfs: EINVAL (documented)");
	ASSERT_EQ(0, mkfile(B("file"), "x"));
	EXPECT_EQ(-ENOTDIR, mount_uw(RW, RW->e.mnt, B("file"), RW->work));
}

TEST_F(uo, upperdir_missing)
{
	EXPECT_EQ(-ENOENT, mount_uw(RW, RW->e.mnt, B("nothere"), RW->work));
}

TEST_F(uo, upperdir_relative)
{
	if (is_overlay())
		SKIP(return, "overlayfs resolves relative paths (documented)");
	EXPECT_EQ(-EINVAL, mount_uw(RW, RW->e.mnt, "u", RW->work));
}

TEST_F(uo, workdir_on_other_filesystem)
{
	ASSERT_EQ(0, mount_tmpfs(B("wfs"), NULL));
	EXPECT_EQ(-EINVAL, mount_uw(RW, RW->e.mnt, RW->upper, B("wfs")));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

TEST_F(uo, workdir_inside_upperdir)
{
	ASSERT_EQ(0, mkdir_p(UP(RW, "w"), 0755));
	EXPECT_EQ(-EINVAL, mount_uw(RW, RW->e.mnt, RW->upper, UP(RW, "w")));
}

TEST_F(uo, upperdir_inside_workdir)
{
	const char *u = pathf("%s/u", RW->work);

	ASSERT_EQ(0, mkdir_p(u, 0755));
	EXPECT_EQ(-EINVAL, mount_uw(RW, RW->e.mnt, u, RW->work));
}

TEST_F(uo, upperdir_inside_lower)
{
	const char *u = LP(RW, 0, "sub/u");

	if (is_overlay())
		SKIP(return, "overlayfs accepts it (documented)");
	ASSERT_EQ(0, mkdir_p(u, 0755));
	EXPECT_GT(0, mount_uw(RW, RW->e.mnt, u, RW->work));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

TEST_F(uo, lower_inside_upperdir)
{
	char *opts = NULL;

	ASSERT_EQ(0, mkfile(UP(RW, "l/f"), "f\n"));
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s%s",
			      UP(RW, "l"), RW->upper, RW->work,
			      is_overlay() ? ",redirect_dir=on" : ""));
	EXPECT_GT(0, mount_data(RW->e.mnt, opts));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
	free(opts);
}

TEST_F(uo, workdir_inside_lower)
{
	const char *w = LP(RW, 0, "sub/w");

	if (is_overlay())
		SKIP(return, "overlayfs accepts it (documented)");
	/* Same filesystem as the upper (all of it is the test's tmpfs) */
	ASSERT_EQ(0, mkdir_p(w, 0755));
	EXPECT_GT(0, mount_uw(RW, RW->e.mnt, RW->upper, w));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

/*
 * An upper filesystem without xattrs (ramfs) cannot hold whiteouts'
 * companions (opaque, redirect): cowfs refuses it; overlayfs mounts it
 * with features turned off.  See docs/overlay-differences.md.
 */
TEST_F(uo, upper_without_xattrs_refused)
{
	const struct fsparam p[] = {
		{ "lowerdir+", RW->e.layers[0] },
		{ "upperdir", B("rfs/u") },
		{ "workdir", B("rfs/w") },
	};

	if (is_overlay())
		SKIP(return, "overlayfs accepts it (documented)");
	ASSERT_EQ(0, mkdir_p(B("rfs"), 0755));
	ASSERT_EQ(0, mount("ramfs", B("rfs"), "ramfs", 0, NULL));
	ASSERT_EQ(0, mkdir_p(B("rfs/u"), 0755));
	ASSERT_EQ(0, mkdir_p(B("rfs/w"), 0755));
	EXPECT_EQ(-EINVAL, fsapi_mount(RW->e.mnt, p, ARRAY_LEN(p), self->log,
				       8192));
	EXPECT_NE(NULL, strstr(self->log, "xattr")) TH_LOG("%s", self->log);
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

TEST_F(uo, upper_on_readonly_mount)
{
	if (is_overlay())
		SKIP(return, "overlayfs: EINVAL (documented)");
	ASSERT_EQ(0, mount_tmpfs(B("rofs"), NULL));
	ASSERT_EQ(0, mkdir_p(B("rofs/u"), 0755));
	ASSERT_EQ(0, mkdir_p(B("rofs/w"), 0755));
	ASSERT_EQ(0, mount(NULL, B("rofs"), NULL,
			   MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	EXPECT_EQ(-EROFS, mount_uw(RW, RW->e.mnt, B("rofs/u"), B("rofs/w")));
}

TEST_F(uo, same_upperdir_busy)
{
	if (is_overlay())
		SKIP(return, "overlayfs with index=off only warns (documented)");
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_EQ(-EBUSY, mount_uw(RW, B("m2"), RW->upper, B("w2")));
	EXPECT_FALSE(is_mounted(B("m2")));
}

TEST_F(uo, same_workdir_busy)
{
	if (is_overlay())
		SKIP(return, "overlayfs with index=off only warns (documented)");
	ASSERT_EQ(0, mkdir_p(B("u2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_EQ(-EBUSY, mount_uw(RW, B("m2"), B("u2"), RW->work));
	EXPECT_FALSE(is_mounted(B("m2")));
}

TEST_F(uo, upperdir_used_as_workdir_busy)
{
	if (is_overlay())
		SKIP(return, "overlayfs with index=off only warns (documented)");
	ASSERT_EQ(0, mkdir_p(B("u2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_EQ(-EBUSY, mount_uw(RW, B("m2"), B("u2"), RW->upper));
}

/* The same directories under a live overlay mount are just as busy. */
static int mount_overlay_uw(struct rw_env *rw, const char *mnt, const char *u,
			    const char *w)
{
	char *lower = lowerdir_opt((const char *const *)rw->e.layers,
				   rw->e.nlayers);
	char *opts = NULL;
	int ret;

	if (!lower || asprintf(&opts, "%s,upperdir=%s,workdir=%s", lower, u,
			       w) < 0) {
		free(lower);
		return -ENOMEM;
	}
	ret = mount("none", mnt, "overlay", 0, opts) ? -errno : 0;
	free(opts);
	free(lower);
	return ret;
}

TEST_F(uo, upperdir_of_live_overlay_busy)
{
	if (!have_overlay())
		SKIP(return, "overlay not available");
	if (is_overlay())
		SKIP(return, "overlayfs with index=off only warns (documented)");
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	ASSERT_EQ(0, mount_overlay_uw(RW, B("m2"), RW->upper, B("w2")));
	EXPECT_EQ(-EBUSY, rw_mount(RW, NULL));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

TEST_F(uo, workdir_of_live_overlay_busy)
{
	if (!have_overlay())
		SKIP(return, "overlay not available");
	if (is_overlay())
		SKIP(return, "overlayfs with index=off only warns (documented)");
	ASSERT_EQ(0, mkdir_p(B("u2"), 0755));
	ASSERT_EQ(0, mount_overlay_uw(RW, B("m2"), B("u2"), RW->work));
	EXPECT_EQ(-EBUSY, rw_mount(RW, NULL));
}

TEST_F(uo, overlay_refused_on_live_upperdir_with_index)
{
	char *lower = lowerdir_opt((const char *const *)RW->e.layers, 1);
	char *opts = NULL;

	if (!have_overlay())
		SKIP(return, "overlay not available");
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_NE(NULL, lower);
	ASSERT_LT(0, asprintf(&opts, "%s,upperdir=%s,workdir=%s,index=on",
			      lower, RW->upper, B("w2")));
	/* overlay itself refuses an in-use upperdir when it has an index */
	EXPECT_EQ(-EBUSY, ERRNO_OF(mount("none", B("m2"), "overlay", 0, opts)));
	free(opts);
	free(lower);
}

TEST_F(uo, upper_free_again_after_umount)
{
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_EQ(0, mount_uw(RW, B("m2"), RW->upper, B("w2")));
}

TEST_F(uo, upper_free_again_after_failed_mount)
{
	if (is_overlay())
		SKIP(return, "overlayfs with index=off only warns (documented)");
	ASSERT_EQ(0, mkdir_p(B("u2"), 0755));
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	/* u2 is taken first, then the mount fails on the busy workdir */
	ASSERT_EQ(-EBUSY, mount_uw(RW, B("m2"), B("u2"), RW->work));
	EXPECT_EQ(0, mount_uw(RW, B("m2"), B("u2"), B("w2")));
}

TEST_F(uo, workdir_leftovers_removed_at_mount)
{
	ASSERT_EQ(0, mkfile(pathf("%s/work/#17", RW->work), "partial copy"));
	ASSERT_EQ(0, mkwhiteout(pathf("%s/work/#18/wh", RW->work)));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_EQ(0, work_leftovers(RW));
	EXPECT_FALSE(dir_lists(M(""), "#17"));
}

/* Does the union at @mnt show @opt among its options in mountinfo? */
static bool shows_option(const char *mnt, const char *opt)
{
	struct mnt_info mi;
	bool shown;

	if (mountinfo_find(mnt, &mi) != 1)
		return false;
	shown = strstr(mi.super_opts, opt);
	if (!shown)
		fprintf(stderr, "# %s not in %s\n", opt, mi.super_opts);
	mnt_info_free(&mi);
	return shown;
}

/* index=on is shown, makes workdir/index, and mounts again over it */
TEST_F(uo, index_on_accepted)
{
	struct stat st;

	ASSERT_EQ(0, rw_mount(RW, "index=on"));
	EXPECT_TRUE(shows_option(RW->e.mnt, "index=on"));
	ASSERT_EQ(0, stat(pathf("%s/index", RW->work), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_EQ(0, rw_mount(RW, "index=on"));
}

/* The index trusts origins; user.* ones anyone may write */
TEST_F(uo, index_on_userxattr_refused)
{
	if (is_overlay())
		SKIP(return, "overlayfs takes it (documented)");
	EXPECT_EQ(-EINVAL, rw_mount(RW, "index=on,userxattr"));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

/* metacopy=on is shown; it needs redirects, made and followed */
TEST_F(uo, metacopy_on_accepted)
{
	ASSERT_EQ(0, rw_mount(RW, "metacopy=on"));
	EXPECT_TRUE(shows_option(RW->e.mnt, "metacopy=on"));
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_EQ(0, rw_mount(RW, "metacopy=on,redirect_dir=on"));
}

TEST_F(uo, metacopy_conflicts_refused)
{
	EXPECT_EQ(-EINVAL, rw_mount(RW, "metacopy=on,redirect_dir=follow"));
	EXPECT_EQ(-EINVAL, rw_mount(RW, "metacopy=on,redirect_dir=off"));
	EXPECT_EQ(-EINVAL, rw_mount(RW, "metacopy=on,redirect_dir=nofollow"));
	EXPECT_EQ(-EINVAL, rw_mount(RW, "metacopy=on,userxattr"));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

/* overlay2 mount lines say index=off and metacopy=off: accepted */
TEST_F(uo, index_off_accepted)
{
	EXPECT_EQ(0, rw_mount(RW, "index=off"));
}

TEST_F(uo, metacopy_off_accepted)
{
	EXPECT_EQ(0, rw_mount(RW, "metacopy=off"));
}

/*
 * overlayfs 6.12's other options: accepted with overlayfs's meaning, and
 * shown as overlayfs shows them (not when they say the default).
 */
TEST_F(uo, overlay_options_accepted)
{
	static const struct {
		const char *opt, *shown;
	} cases[] = {
		{ "default_permissions", "default_permissions" },
		{ "uuid=null", "uuid=null" },
		{ "uuid=auto", NULL },
		{ "fsync=strict", "fsync=strict" },
		{ "fsync=auto", NULL },
		{ "nfs_export=off", NULL },
		{ "verity=off", NULL },
	};
	struct mnt_info mi;
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		char *key = strndup(cases[i].opt, strcspn(cases[i].opt, "="));

		ASSERT_EQ(0, rw_mount(RW, cases[i].opt)) TH_LOG("%s", cases[i].opt);
		ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
		if (cases[i].shown) {
			EXPECT_NE(NULL, strstr(mi.super_opts, cases[i].shown))
				TH_LOG("%s not in %s", cases[i].shown, mi.super_opts);
		} else {
			EXPECT_EQ(NULL, strstr(mi.super_opts, key))
				TH_LOG("%s shown in %s", key, mi.super_opts);
		}
		mnt_info_free(&mi);
		free(key);
		EXPECT_EQ(0, mkfile(M("f"), "written\n"));
		ASSERT_EQ(0, rw_umount(RW));
	}
}

/* What cowfs does not have is refused, with a reason in the log */
TEST_F(uo, overlay_options_refused)
{
	static const struct {
		const char *key, *value, *why;
	} cases[] = {
		{ "uuid", "on", "uuid=on is not supported" },
		{ "uuid", "off", "uuid=off is not supported" },
		{ "nfs_export", "on", "nfs_export=on is not supported" },
	};
	struct fsparam p[3] = {
		{ "upperdir", RW->upper },
		{ "workdir", RW->work },
	};
	size_t i;

	if (is_overlay())
		SKIP(return, "overlayfs has them (documented)");
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		p[2] = (struct fsparam){ cases[i].key, cases[i].value };
		EXPECT_EQ(-EINVAL, union_mount(true, RW->e.mnt,
					       (const char *const *)RW->e.layers,
					       RW->e.nlayers, p, 3, self->log,
					       8192));
		EXPECT_NE(NULL, strstr(self->log, cases[i].why))
			TH_LOG("%s=%s: %s", cases[i].key, cases[i].value, self->log);
	}
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt,
				      pathf("lowerdir=%s::%s,upperdir=%s,workdir=%s",
					    RW->e.layers[0], B("m2"), RW->upper,
					    RW->work)));
	EXPECT_FALSE(is_mounted(RW->e.mnt));
}

#define TRACING	"/sys/kernel/tracing"

/*
 * vfs_fsync() and vfs_fsync_range() calls (a call may count twice) by
 * this task while it runs @fn(@arg); <0: no kprobe events here.
 */
static int count_fsyncs(void (*fn)(const char *arg), const char *arg)
{
	char line[512], tag[32];
	int n = 0;
	FILE *f;

	if (access(TRACING "/kprobe_events", F_OK))
		mount("nodev", TRACING, "tracefs", 0, NULL);
	if (write_str(TRACING "/kprobe_events",
		      "p:cowfs_uo/fsync vfs_fsync\n"
		      "p:cowfs_uo/fsync_range vfs_fsync_range\n", O_APPEND))
		return -1;
	write_str(TRACING "/trace", "", O_TRUNC);
	if (write_str(TRACING "/events/cowfs_uo/enable", "1", 0))
		n = -1;
	if (n == 0)
		fn(arg);
	write_str(TRACING "/events/cowfs_uo/enable", "0", 0);
	snprintf(tag, sizeof(tag), "-%d ", getpid());
	f = fopen(TRACING "/trace", "re");
	while (n >= 0 && f && fgets(line, sizeof(line), f))
		n += line[0] != '#' && strstr(line, tag) && strstr(line, "fsync");
	if (f)
		fclose(f);
	write_str(TRACING "/kprobe_events",
		  "-:cowfs_uo/fsync\n-:cowfs_uo/fsync_range\n", O_APPEND);
	return n;
}

static void create_in(const char *path)
{
	mkfile(path, "new\n");
}

/*
 * fsync=strict syncs a directory it copies up before it shows it; the
 * default does not (a directory's copy-up writes no data), on overlayfs
 * as here.
 */
TEST_F(uo, fsync_strict_syncs_directory_copy_up)
{
	int n;

	ASSERT_EQ(0, rw_mount(RW, NULL));
	n = count_fsyncs(create_in, M("sub/a"));
	if (n < 0)
		SKIP(return, "no kprobe events");
	EXPECT_EQ(0, n);
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "sub")));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, mkdir_p(LP(RW, 0, "sub2"), 0755));
	ASSERT_EQ(0, rw_mount(RW, "fsync=strict"));
	EXPECT_LE(1, count_fsyncs(create_in, M("sub2/a")));
	EXPECT_EQ(S_IFDIR, ftype(UP(RW, "sub2")));
}

TEST_F(uo, remount_read_only_and_back)
{
	ASSERT_EQ(0, rw_mount(RW, NULL));
	ASSERT_EQ(0, mount(NULL, RW->e.mnt, NULL, MS_REMOUNT | MS_RDONLY,
			   NULL));
	EXPECT_EQ(-EROFS, mkfile(M("new"), "n"));
	EXPECT_EQ(-EROFS, ERRNO_OF(chmod(M("f"), 0600)));
	EXPECT_EQ(0, ftype(UP(RW, "f")));
	ASSERT_EQ(0, mount(NULL, RW->e.mnt, NULL, MS_REMOUNT, NULL));
	EXPECT_EQ(0, mkfile(M("new"), "n"));
}

TEST_F(uo, layers_on_different_filesystems)
{
	ASSERT_EQ(0, mount_tmpfs(B("ufs"), NULL));
	ASSERT_EQ(0, mkdir_p(B("ufs/u"), 0755));
	ASSERT_EQ(0, mkdir_p(B("ufs/w"), 0755));
	ASSERT_EQ(0, mount_uw(RW, RW->e.mnt, B("ufs/u"), B("ufs/w")));
	ASSERT_EQ(0, chmod(M("f"), 0600));
	EXPECT_STREQ("f\n", slurp(B("ufs/u/f")));
}

TEST_HARNESS_MAIN
