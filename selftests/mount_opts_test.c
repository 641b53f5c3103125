// SPDX-License-Identifier: GPL-2.0
/*
 * cowfs mount option parsing: lowerdir= / lowerdir+ layer lists, the
 * 500-layer limit, stacking depth, remount and every error path. Each test
 * runs twice: with legacy mount(2) and with the new mount API (fsopen,
 * fsconfig, fsmount, move_mount), whose fs_context log is also checked.
 */
#include "kselftest_harness.h"
#include "cowfs_util.h"

#define NLAYERS 3

FIXTURE(opts) {
	struct cowfs_env env;
	char log[8192];
};

FIXTURE_VARIANT(opts) {
	bool fsapi;
};

FIXTURE_VARIANT_ADD(opts, legacy) {
	.fsapi = false,
};

FIXTURE_VARIANT_ADD(opts, fsapi) {
	.fsapi = true,
};

FIXTURE_SETUP(opts)
{
	int i;

	REQUIRE_FSTYPE();
	ASSERT_EQ(0, env_init(&self->env, NLAYERS));
	/* layer i holds "only<i>" and "same" = "<i>" */
	for (i = 0; i < NLAYERS; i++) {
		ASSERT_EQ(0, mkfile(LPATH(&self->env, i, pathf("only%d", i)), "x"));
		ASSERT_EQ(0, mkfile(LPATH(&self->env, i, "same"), pathf("%d", i)));
	}
}

FIXTURE_TEARDOWN(opts)
{
	env_cleanup(&self->env);
}

/* Mount @n layers (top first) plus extra options on @mnt the variant's way. */
static int do_mount(FIXTURE_DATA(opts) *self,
		    const FIXTURE_VARIANT(opts) *variant, const char *mnt,
		    const char *const *layers, int n,
		    const struct fsparam *extra, int nextra)
{
	return union_mount(variant->fsapi, mnt, layers, n, extra, nextra,
			   self->log, sizeof(self->log));
}

static int mount_env(FIXTURE_DATA(opts) *self,
		     const FIXTURE_VARIANT(opts) *variant)
{
	return do_mount(self, variant, self->env.mnt,
			(const char *const *)self->env.layers, NLAYERS, NULL, 0);
}

/* The fs_context log must name the problem (new mount API only). */
#define ASSERT_LOGGED(phrase) do { \
	if (variant->fsapi) { \
		ASSERT_NE(NULL, strcasestr(self->log, (phrase))) \
			TH_LOG("fs_context log: %s", self->log); \
	} \
} while (0)

/* Expected lowerdir= value for the given layers (no escaping needed). */
static char *join_layers(const char *const *layers, int n)
{
	char *opt = lowerdir_opt(layers, n);
	char *v = opt ? strdup(opt + strlen("lowerdir=")) : NULL;

	free(opt);
	return v;
}

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == c;
	return n;
}

TEST_F(opts, three_layers_merge)
{
	struct mnt_info mi;

	ASSERT_EQ(0, mount_env(self, variant));
	ASSERT_EQ(1, mountinfo_find(self->env.mnt, &mi));
	EXPECT_STREQ(test_fstype(), mi.fstype);
	mnt_info_free(&mi);
	/* the top layer's "same" wins, every layer's own file is visible */
	EXPECT_STREQ("0", slurp(UPATH(&self->env, "same")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "only0")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "only1")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "only2")));
}

TEST_F(opts, show_options_lists_layers)
{
	char *want, *got;

	ASSERT_EQ(0, mount_env(self, variant));
	want = join_layers((const char *const *)self->env.layers, NLAYERS);
	ASSERT_NE(NULL, want);

	got = proc_mounts_lowerdir(self->env.mnt);
	ASSERT_NE(NULL, got) TH_LOG("no lowerdir= in /proc/mounts");
	EXPECT_STREQ(want, got);
	free(got);

	got = mountinfo_lowerdir(self->env.mnt);
	ASSERT_NE(NULL, got) TH_LOG("no lowerdir= in mountinfo");
	EXPECT_STREQ(want, got);
	free(got);
	free(want);
}

/* "a:b" as a layer: "\:" escaped with lowerdir=, literal with lowerdir+. */
TEST_F(opts, colon_in_layer_path)
{
	const char *layers[2];
	char *colon = pathf("%s/a:b", self->env.base);

	ASSERT_EQ(0, mkfile(pathf("%s/in_colon", colon), "colon"));
	layers[0] = colon;
	layers[1] = self->env.layers[1];
	ASSERT_EQ(0, do_mount(self, variant, self->env.mnt, layers, 2, NULL, 0));
	EXPECT_STREQ("colon", slurp(UPATH(&self->env, "in_colon")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "only1")));
	EXPECT_STREQ("1", slurp(UPATH(&self->env, "same")));
}

/*
 * The lowerdir= shown in /proc/mounts, "a:b" layer included, can be fed
 * back to mount(2) and gives the same union.
 */
TEST_F(opts, shown_lowerdir_mounts_again)
{
	const char *layers[2];
	char *shown, *data;

	layers[0] = pathf("%s/a:b", self->env.base);
	layers[1] = self->env.layers[1];
	ASSERT_EQ(0, mkfile(pathf("%s/in_colon", layers[0]), "colon"));
	ASSERT_EQ(0, do_mount(self, variant, self->env.mnt, layers, 2, NULL, 0));
	shown = proc_mounts_lowerdir(self->env.mnt);
	ASSERT_NE(NULL, shown);
	ASSERT_EQ(0, umount2(self->env.mnt, 0));
	ASSERT_LT(0, asprintf(&data, "lowerdir=%s", shown));
	EXPECT_EQ(0, mount_data(self->env.mnt, data)) TH_LOG("mount -o %s", data);
	EXPECT_STREQ("colon", slurp(UPATH(&self->env, "in_colon")));
	EXPECT_STREQ("1", slurp(UPATH(&self->env, "same")));
	free(data);
	free(shown);
}

/*
 * Create @n tiny layers base/1 .. base/<n>: layer i holds "f<i>" and
 * "same" = "<i>". Short names keep "lowerdir=/1:/2:..." within the one
 * page that legacy mount(2) copies when mounted from inside a chroot.
 */
static int make_many_layers(struct cowfs_env *env, int n, char ***out)
{
	char **layers = calloc(n, sizeof(*layers));
	int i, ret = 0;

	if (!layers)
		return -ENOMEM;
	for (i = 0; i < n && !ret; i++) {
		if (asprintf(&layers[i], "%s/%d", env->base, i + 1) < 0)
			return -ENOMEM;
		ret = mkfile(pathf("%s/f%d", layers[i], i + 1), "");
		if (!ret)
			ret = mkfile(pathf("%s/same", layers[i]), pathf("%d", i + 1));
	}
	*out = layers;
	return ret;
}

static void free_layers(char **layers, int n)
{
	int i;

	for (i = 0; layers && i < n; i++)
		free(layers[i]);
	free(layers);
}

/*
 * Mount @n layers from make_many_layers(). Legacy mount(2) runs in a child
 * chrooted to the base dir so the layers are "/1", "/2", ...
 */
static int mount_many(FIXTURE_DATA(opts) *self,
		      const FIXTURE_VARIANT(opts) *variant, char **layers, int n)
{
	const char **rel;
	int i, status;
	pid_t pid;

	if (variant->fsapi)
		return do_mount(self, variant, self->env.mnt,
				(const char *const *)layers, n, NULL, 0);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		rel = calloc(n, sizeof(*rel));
		if (!rel || chdir(self->env.base) || chroot("."))
			_exit(255);
		for (i = 0; i < n; i++)
			rel[i] = layers[i] + strlen(self->env.base);
		_exit(-mount_union("/m", rel, n));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 255)
		return -ECHILD;
	return -WEXITSTATUS(status);
}

TEST_F_TIMEOUT(opts, max_500_layers, 180)
{
	char **layers = NULL;
	char *shown;

	ASSERT_EQ(0, make_many_layers(&self->env, COWFS_MAX_LAYERS, &layers));
	ASSERT_EQ(0, mount_many(self, variant, layers, COWFS_MAX_LAYERS));
	EXPECT_STREQ("1", slurp(UPATH(&self->env, "same")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "f1")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "f250")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "f500")));
	shown = proc_mounts_lowerdir(self->env.mnt);
	ASSERT_NE(NULL, shown);
	EXPECT_EQ(COWFS_MAX_LAYERS - 1, count_char(shown, ':'));
	free(shown);
	free_layers(layers, COWFS_MAX_LAYERS);
}

TEST_F_TIMEOUT(opts, too_many_layers_einval, 180)
{
	char **layers = NULL;

	ASSERT_EQ(0, make_many_layers(&self->env, COWFS_MAX_LAYERS + 1, &layers));
	EXPECT_EQ(-EINVAL, mount_many(self, variant, layers,
				      COWFS_MAX_LAYERS + 1));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED("too many lower layers");
	free_layers(layers, COWFS_MAX_LAYERS + 1);
}

TEST_F(opts, missing_layer_enoent)
{
	char missing[PATH_MAX];
	const char *layers[] = { self->env.layers[0], missing };

	snprintf(missing, sizeof(missing), "%s/does-not-exist", self->env.base);

	EXPECT_EQ(-ENOENT, do_mount(self, variant, self->env.mnt, layers, 2,
				    NULL, 0));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED(layers[1]);
}

TEST_F(opts, file_layer_enotdir)
{
	char file[PATH_MAX];
	const char *layers[] = { self->env.layers[0], file };

	snprintf(file, sizeof(file), "%s", LPATH(&self->env, 1, "only1"));

	EXPECT_EQ(-ENOTDIR, do_mount(self, variant, self->env.mnt, layers, 2,
				     NULL, 0));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED("not a directory");
	ASSERT_LOGGED(layers[1]);
}

TEST_F(opts, empty_lowerdir_einval)
{
	const struct fsparam empty = { "lowerdir", "" };

	EXPECT_EQ(-EINVAL, do_mount(self, variant, self->env.mnt, NULL, 0,
				    &empty, 1));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED("empty lowerdir");
}

TEST_F(opts, no_lowerdir_einval)
{
	EXPECT_EQ(-EINVAL, do_mount(self, variant, self->env.mnt, NULL, 0,
				    NULL, 0));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED("missing lowerdir");
}

TEST_F(opts, unknown_option_einval)
{
	const struct fsparam bogus = { "bogus", "1" };

	EXPECT_EQ(-EINVAL, do_mount(self, variant, self->env.mnt,
				    (const char *const *)self->env.layers,
				    NLAYERS, &bogus, 1));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED("unknown parameter");
}

/* "rel/dir" exists relative to the cwd, so only its form is wrong. */
TEST_F(opts, relative_layer_einval)
{
	const char *layers[] = { "rel/dir", self->env.layers[1] };

	ASSERT_EQ(0, mkfile(pathf("%s/rel/dir/file", self->env.base), "rel"));
	ASSERT_EQ(0, chdir(self->env.base));
	EXPECT_EQ(-EINVAL, do_mount(self, variant, self->env.mnt, layers, 2,
				    NULL, 0));
	EXPECT_FALSE(is_mounted(self->env.mnt));
	ASSERT_LOGGED("not absolute");
}

/*
 * Mount a union of @upper over the bottom layer on base/<name> (overlayfs
 * wants two lower layers when there is no upper one, so use two here too).
 */
static int mount_stacked(FIXTURE_DATA(opts) *self,
			 const FIXTURE_VARIANT(opts) *variant,
			 const char *name, const char *upper)
{
	const char *mnt = pathf("%s/%s", self->env.base, name);
	const char *layers[] = { upper, self->env.layers[NLAYERS - 1] };
	int ret = mkdir_p(mnt, 0755);

	return ret ?: do_mount(self, variant, mnt, layers, 2, NULL, 0);
}

TEST_F(opts, stacking_two_deep_works)
{
	const char *s1 = pathf("%s/s1", self->env.base);
	const char *s2 = pathf("%s/s2", self->env.base);
	struct stat st1, st2;

	ASSERT_EQ(0, mount_stacked(self, variant, "s1", self->env.layers[0]));
	ASSERT_EQ(0, mount_stacked(self, variant, "s2", s1));
	EXPECT_STREQ("0", slurp(pathf("%s/same", s2)));
	ASSERT_EQ(0, stat(s1, &st1));
	ASSERT_EQ(0, stat(s2, &st2));
	EXPECT_NE(st1.st_dev, st2.st_dev);
}

TEST_F(opts, stacking_three_deep_einval)
{
	const char *s2 = pathf("%s/s2", self->env.base);
	const char *s3 = pathf("%s/s3", self->env.base);

	ASSERT_EQ(0, mount_stacked(self, variant, "s1", self->env.layers[0]));
	ASSERT_EQ(0, mount_stacked(self, variant, "s2",
				   pathf("%s/s1", self->env.base)));
	EXPECT_EQ(-EINVAL, mount_stacked(self, variant, "s3", s2));
	EXPECT_FALSE(is_mounted(s3));
	ASSERT_LOGGED("stacking depth");
}

/* overlayfs, loading its module if need be (the guest has modprobe). */
static bool have_overlay(void)
{
	if (!fs_registered("overlay") &&
	    system("modprobe -q overlay 2>/dev/null") != 0)
		return false;
	return fs_registered("overlay");
}

/* cowfs over overlay over cowfs is three deep as well. */
TEST_F(opts, stacking_over_overlay_einval)
{
	const char *s1 = pathf("%s/s1", self->env.base);
	const char *ovl = pathf("%s/ovl", self->env.base);
	const char *s3 = pathf("%s/s3", self->env.base);

	if (!strcmp(test_fstype(), "overlay") || !have_overlay())
		SKIP(return, "overlay not available (or already under test)");
	ASSERT_EQ(0, mount_stacked(self, variant, "s1", self->env.layers[0]));
	ASSERT_EQ(0, mkdir_p(ovl, 0755));
	ASSERT_EQ(0, mount("overlay", ovl, "overlay", 0,
			   pathf("lowerdir=%s:%s", s1, self->env.layers[1])));
	EXPECT_STREQ("0", slurp(pathf("%s/same", ovl)));
	EXPECT_EQ(-EINVAL, mount_stacked(self, variant, "s3", ovl));
	EXPECT_FALSE(is_mounted(s3));
	ASSERT_LOGGED("stacking depth");
}

/*
 * Ask the mounted union to switch to layer 2 only. MS_RDONLY keeps legacy
 * remount from failing with EROFS just for asking for a read-write mount.
 */
static int reconfigure_layers(FIXTURE_DATA(opts) *self,
			      const FIXTURE_VARIANT(opts) *variant)
{
	int fd, ret = 0;

	if (!variant->fsapi)
		return mount(NULL, self->env.mnt, NULL, MS_REMOUNT | MS_RDONLY,
			     pathf("lowerdir=%s", self->env.layers[2])) ?
			-errno : 0;
	fd = fspick(AT_FDCWD, self->env.mnt, FSPICK_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", self->env.layers[2], 0) ||
	    fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
		ret = -errno;
	fsctx_read_log(fd, self->log, sizeof(self->log));
	close(fd);
	return ret;
}

TEST_F(opts, remount_cannot_change_layers)
{
	char *want, *got;
	int ret;

	ASSERT_EQ(0, mount_env(self, variant));
	self->log[0] = '\0';
	ret = reconfigure_layers(self, variant);
	EXPECT_NE(0, ret) TH_LOG("changing layers on remount was accepted");
	/* still the original three layers */
	EXPECT_STREQ("0", slurp(UPATH(&self->env, "same")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "only0")));
	want = join_layers((const char *const *)self->env.layers, NLAYERS);
	got = mountinfo_lowerdir(self->env.mnt);
	ASSERT_NE(NULL, got);
	EXPECT_STREQ(want, got);
	free(want);
	free(got);
}

/* A remount ("remount,ro") that does not touch the layers is not refused. */
TEST_F(opts, remount_without_layer_change)
{
	int fd;

	ASSERT_EQ(0, mount_env(self, variant));
	if (variant->fsapi) {
		fd = fspick(AT_FDCWD, self->env.mnt, FSPICK_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, fsconfig(fd, FSCONFIG_SET_FLAG, "ro", NULL, 0));
		EXPECT_EQ(0, fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
			TH_LOG("reconfigure,ro: %s", strerror(errno));
		close(fd);
	} else {
		EXPECT_EQ(0, mount(NULL, self->env.mnt, NULL,
				   MS_REMOUNT | MS_RDONLY, NULL))
			TH_LOG("remount,ro: %s", strerror(errno));
	}
	EXPECT_STREQ("0", slurp(UPATH(&self->env, "same")));
	EXPECT_EQ(0, stat_err(UPATH(&self->env, "only2")));
}

TEST_HARNESS_MAIN
