// SPDX-License-Identifier: GPL-2.0
/*
 * Data-only lower layers (lowerdir=/meta::/data, fsconfig's datadir+), as
 * overlayfs 6.12 has them, with metacopy=on,redirect_dir=on,index=off: a
 * composefs-style image, a metadata layer of metacopy files whose absolute
 * trusted.overlay.redirect ("/ab/cdef...") names a content-addressed
 * object in the data-only layer.
 *
 * Checked here, on overlayfs (the reference) and on cowfs, each without
 * and with an upper layer:
 *  - the files read the objects' data and show the metadata layer's mode,
 *    owner, size and mtime;
 *  - the data-only layer is not part of the merged tree: its names are not
 *    listed nor found (also where the metadata layer has the same name),
 *    a relative redirect or a metacopy file without a redirect does not
 *    reach it, nor does a directory's absolute redirect;
 *  - a redirect to a missing object, to a directory or to a metacopy file
 *    in the data-only layer is EIO; with two data-only layers the first
 *    with data wins; an upper metacopy file's absolute redirect does not
 *    reach them (overlayfs: the same);
 *  - datadir+ through fsconfig, how the layers are shown in mountinfo, and
 *    the options refused: lowerdir+ after datadir+, data-only layers
 *    without metacopy=on or without a regular lower layer;
 *  - with an upper: a chmod copies the metadata up only and still reads
 *    the object, a write copies the object's data up; a remount the same.
 *
 * What overlayfs 6.12 does differently, as seen in these tests (it looks
 * the data up at the first open, cowfs at lookup;
 * docs/overlay-differences.md):
 *  - stat(2) of a file whose object is missing or a directory succeeds on
 *    overlayfs and open(2) fails with ENOENT ("lazy lowerdata lookup
 *    failed" in the log); cowfs fails the lookup (stat, open) with EIO;
 *  - a redirect to a file in the data-only layer that is a metacopy file
 *    itself: overlayfs takes it as the data (ovl_lookup_data_layer() checks
 *    only that it is a regular file) and reads its bytes; cowfs takes only
 *    a file that is not a metacopy file, so here there is none: EIO;
 *  - mountinfo: overlayfs shows layers added with fsconfig one by one
 *    (lowerdir+=/meta,datadir+=/data), cowfs one lowerdir=/meta::/data,
 *    as it shows lowerdir+ layers.
 *
 * Run with: make test T=datadir_test
 */
#include "kselftest_harness.h"
#include "metacopy_util.h"

#include <sys/mman.h>

#define OBJ_A		"ab/cdef0123456789"
#define OBJ_B		"12/3456789abcdef0"
#define SIZE_A		(256 * 1024)
#define SIZE_B		1000
#define SEED_A		0x000da7a1
#define SEED_B		0x000da7a2
#define SEED_NAME	0x000da7a3

/* ---- helpers ------------------------------------------------------------ */

#define lst_mode(p)	(lst(p).st_mode)
#define lst_uid(p)	(lst(p).st_uid)
#define lst_size(p)	(lst(p).st_size)

/*
 * A metacopy file of the metadata layer as composefs makes one: sparse,
 * @size bytes, mode 0640, owner 1000:2000, mtime 1000000, an empty
 * metacopy xattr and, if not NULL, @redirect.
 */
static int mkmeta(const char *path, off_t size, const char *redirect)
{
	struct timespec ts[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };
	int ret = mkfile_data(path, "", 0, 0640);

	if (ret)
		return ret;
	if (truncate(path, size) || chmod(path, 0640) ||
	    chown(path, 1000, 2000))
		return -errno;
	ret = set_x(path, OVL_METACOPY_XATTR, "", 0);
	if (!ret && redirect)
		ret = set_x(path, OVL_REDIRECT_XATTR, redirect,
			    strlen(redirect));
	if (!ret && utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		ret = -errno;
	return ret;
}

/* ---- the fixture: an image of l0 (metadata) over l1 (data only) ---------- */

FIXTURE(dd) {
	struct rw_env rw;
	char log[8192];
};

FIXTURE_VARIANT(dd) {
	const char *fstype;
	bool upper;
};

FIXTURE_VARIANT_ADD(dd, overlay) {
	.fstype = "overlay",
};

FIXTURE_VARIANT_ADD(dd, overlay_upper) {
	.fstype = "overlay",
	.upper = true,
};

FIXTURE_VARIANT_ADD(dd, cowfs) {
	.fstype = "cowfs",
};

FIXTURE_VARIANT_ADD(dd, cowfs_upper) {
	.fstype = "cowfs",
	.upper = true,
};

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)
#define U(rel)	UP(RW, rel)
#define META(rel) LP(RW, 0, rel)
#define DATA(rel) LP(RW, 1, rel)
#define OVERLAY	(!strcmp(variant->fstype, "overlay"))

FIXTURE_SETUP(dd)
{
	struct rw_env *rw = &self->rw;

	BOTH_FS_REQUIRE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 2, 0, NULL));
	/* The data-only layer: objects, and names the image must not show */
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, OBJ_A), SEED_A, SIZE_A));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, OBJ_B), SEED_B, SIZE_B));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "f"), SEED_NAME, SIZE_A));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "onlydata"), SEED_NAME, SIZE_B));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "noredir"), SEED_NAME, SIZE_B));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "d/inner"), SEED_NAME, SIZE_B));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 1, "mc/obj"), SIZE_B, NULL));
	/* The metadata layer */
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "f"), SIZE_A, "/" OBJ_A));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "g"), SIZE_A, "/" OBJ_A));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "sub/h"), SIZE_B, "/" OBJ_B));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "missing"), SIZE_B, "/ff/00"));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "todir"), SIZE_B, "/ab"));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "tometa"), SIZE_B, "/mc/obj"));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "rel"), SIZE_B, "onlydata"));
	SETUP_ASSERT0(&rw->e, mkmeta(LP(rw, 0, "noredir"), SIZE_B, NULL));
	/* A directory whose absolute redirect names one in the data layer */
	SETUP_ASSERT0(&rw->e, mkdir_p(LP(rw, 0, "d"), 0755));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 0, "d/own"), "own\n"));
	SETUP_ASSERT0(&rw->e, set_x(LP(rw, 0, "d"), OVL_REDIRECT_XATTR, "/d", 2));
}

FIXTURE_TEARDOWN(dd)
{
	rw_cleanup(&self->rw);
}

/*
 * mount(2) with lowerdir=META::DATA, metacopy=on,redirect_dir=on,
 * index=off, and the upper layer if the variant has one, plus @extra.
 */
static int dd_mount_opts(struct rw_env *rw, bool upper, const char *extra)
{
	char *opts = NULL;
	int ret;

	if (upper)
		ret = asprintf(&opts, "lowerdir=%s::%s,upperdir=%s,workdir=%s,metacopy=on,redirect_dir=on,index=off%s",
			       rw->e.layers[0], rw->e.layers[1], rw->upper,
			       rw->work, extra);
	else
		ret = asprintf(&opts, "lowerdir=%s::%s,metacopy=on,redirect_dir=on,index=off%s",
			       rw->e.layers[0], rw->e.layers[1], extra);
	if (ret < 0)
		return -ENOMEM;
	ret = mount_data(rw->e.mnt, opts);
	free(opts);
	return ret;
}

#define MOUNT()		ASSERT_EQ(0, dd_mount_opts(RW, variant->upper, ""))
#define REMOUNT()	do { \
	ASSERT_EQ(0, rw_umount(RW)); \
	drop_caches(); \
	MOUNT(); \
} while (0)

/* ---- 1. the image reads right -------------------------------------------- */

TEST_F(dd, image_reads_objects)
{
	struct stat st;

	MOUNT();
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
	EXPECT_EQ(0, data_is(M("g"), SEED_A, SIZE_A, -1));
	EXPECT_EQ(0, data_is(M("sub/h"), SEED_B, SIZE_B, -1));
	/* The metadata layer's metadata */
	ASSERT_EQ(0, lstat(M("f"), &st));
	EXPECT_EQ(0100640, st.st_mode);
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(2000, st.st_gid);
	EXPECT_EQ(SIZE_A, st.st_size);
	EXPECT_EQ(1000000, st.st_mtime);
	/* st_blocks is the data's: the object's, not the sparse file's */
	EXPECT_LT(SIZE_A / 512 / 2, st.st_blocks);
	ASSERT_EQ(0, lstat(M("sub/h"), &st));
	EXPECT_EQ(SIZE_B, st.st_size);
	EXPECT_EQ(0100640, st.st_mode);
	/* Again from the disk */
	REMOUNT();
	EXPECT_EQ(0, data_is(M("sub/h"), SEED_B, SIZE_B, -1));
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
}

/* mmap reads the object too */
TEST_F(dd, mmap_reads_object)
{
	unsigned char *want = malloc(SIZE_B);
	void *p;
	int fd;

	ASSERT_NE(NULL, want);
	fill_pattern(want, SIZE_B, SEED_B);
	MOUNT();
	fd = open(M("sub/h"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, SIZE_B, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, want, SIZE_B));
	munmap(p, SIZE_B);
	close(fd);
	free(want);
}

/* ---- 2. the data-only layer is not in the merged tree -------------------- */

TEST_F(dd, data_layer_names_hidden)
{
	MOUNT();
	/* The root lists the metadata layer's names only */
	EXPECT_TRUE(dir_lists(M(""), "f"));
	EXPECT_TRUE(dir_lists(M(""), "sub"));
	EXPECT_FALSE(dir_lists(M(""), "ab"));
	EXPECT_FALSE(dir_lists(M(""), "12"));
	EXPECT_FALSE(dir_lists(M(""), "onlydata"));
	EXPECT_FALSE(dir_lists(M(""), "mc"));
	EXPECT_EQ(9, count_entries(M("")));
	EXPECT_EQ(-ENOENT, stat_err(M(OBJ_A)));
	EXPECT_EQ(-ENOENT, stat_err(M("ab")));
	EXPECT_EQ(-ENOENT, stat_err(M("onlydata")));
	EXPECT_EQ(-ENOENT, stat_err(M("mc/obj")));
	/* "f" in both: the metadata layer's, with the object's data */
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
	EXPECT_EQ(-ENOENT, open_err(M(OBJ_A)));
}

/* A relative redirect or none: by name, never in a data-only layer */
TEST_F(dd, relative_redirect_and_name_do_not_reach_data)
{
	MOUNT();
	EXPECT_EQ(-EIO, open_err(M("rel")));
	EXPECT_EQ(-EIO, open_err(M("noredir")));
}

/* A directory's absolute redirect does not reach a data-only layer */
TEST_F(dd, dir_redirect_does_not_reach_data)
{
	MOUNT();
	EXPECT_TRUE(dir_lists(M("d"), "own"));
	EXPECT_FALSE(dir_lists(M("d"), "inner"));
	EXPECT_EQ(1, count_entries(M("d")));
	EXPECT_EQ(-ENOENT, stat_err(M("d/inner")));
}

/* ---- 3. bad redirects into the data-only layer --------------------------- */

TEST_F(dd, bad_objects_are_eio)
{
	static const char *const names[] = { "missing", "todir" };
	size_t i;

	MOUNT();
	for (i = 0; i < ARRAY_LEN(names); i++) {
		/*
		 * overlayfs looks the data up at open and fails it with the
		 * error of the lookup (ENOENT: not a regular file there);
		 * cowfs fails the lookup, as for any metacopy file without
		 * data (EIO)
		 */
		EXPECT_EQ(OVERLAY ? 0 : -EIO, stat_err(M(names[i])))
			TH_LOG("stat %s", names[i]);
		EXPECT_EQ(OVERLAY ? -ENOENT : -EIO, open_err(M(names[i])))
			TH_LOG("open %s", names[i]);
	}
	/* The good ones next to them are not affected */
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
}

/*
 * A metacopy file in the data-only layer is no data for cowfs (EIO);
 * overlayfs 6.12 reads its bytes (here SIZE_B zeroes).
 */
TEST_F(dd, metacopy_object_is_eio)
{
	MOUNT();
	if (OVERLAY) {
		unsigned char buf[SIZE_B], zero[SIZE_B] = { 0 };
		int fd = open(M("tometa"), O_RDONLY | O_CLOEXEC);

		ASSERT_LE(0, fd);
		EXPECT_EQ(SIZE_B, read(fd, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, zero, SIZE_B));
		close(fd);
		return;
	}
	EXPECT_EQ(-EIO, stat_err(M("tometa")));
	EXPECT_EQ(-EIO, open_err(M("tometa")));
}

/*
 * Two data-only layers: each absolute redirect takes the first one that
 * has a regular file there that is data
 */
TEST_F(dd, second_data_layer)
{
	char *d2 = pathf("%s/d2", RW->e.base), *opts;
	int ret;

	ASSERT_EQ(0, mkpat(pathf("%s/ob/j", d2), SEED_B, SIZE_B));
	/* In both: the first data-only layer's (a metacopy file there: not) */
	ASSERT_EQ(0, mkpat(pathf("%s/" OBJ_A, d2), SEED_NAME, SIZE_A));
	ASSERT_EQ(0, mkpat(pathf("%s/mc/obj", d2), SEED_B, SIZE_B));
	ASSERT_EQ(0, mkmeta(META("two"), SIZE_B, "/ob/j"));
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s::%s::%s,metacopy=on,redirect_dir=on,index=off",
			      RW->e.layers[0], RW->e.layers[1], d2));
	ret = mount_data(RW->e.mnt, opts);
	free(opts);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, data_is(M("two"), SEED_B, SIZE_B, -1));
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
	/* overlayfs takes the first layer's metacopy file (zeroes) */
	EXPECT_EQ(OVERLAY ? 1 : 0, data_is(M("tometa"), SEED_B, SIZE_B, -1));
	EXPECT_EQ(-ENOENT, stat_err(M("ob")));
}

/*
 * Only a lower metacopy file's redirect reaches a data-only layer: an
 * upper one's absolute redirect to an object is EIO (overlayfs: the same,
 * "metacopy with no lower data found")
 */
TEST_F(dd, upper_redirect_does_not_reach_data)
{
	if (!variant->upper)
		return;
	ASSERT_EQ(0, mkmeta(U("up"), SIZE_A, "/" OBJ_A));
	MOUNT();
	EXPECT_EQ(-EIO, stat_err(M("up")));
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
}

/* ---- 4. options ------------------------------------------------------------ */

/* datadir+ through fsconfig, as shown in mountinfo and mounted again */
TEST_F(dd, datadir_add_fsconfig)
{
	struct fsparam p[] = {
		{ "datadir+", RW->e.layers[1] },
		{ "metacopy", "on" },
		{ "redirect_dir", "on" },
		{ "index", "off" },
		{ "upperdir", RW->upper },
		{ "workdir", RW->work },
	};
	struct mnt_info mi = { 0 };
	char *want, *opts;

	ASSERT_EQ(0, union_mount(true, RW->e.mnt,
				 (const char *const *)RW->e.layers, 1, p,
				 variant->upper ? 6 : 4, self->log,
				 sizeof(self->log))) TH_LOG("%s", self->log);
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
	EXPECT_EQ(-ENOENT, stat_err(M(OBJ_A)));
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	if (OVERLAY) {
		ASSERT_LT(0, asprintf(&want, "lowerdir+=%s,datadir+=%s",
				      RW->e.layers[0], RW->e.layers[1]));
	} else {
		ASSERT_LT(0, asprintf(&want, "lowerdir=%s::%s",
				      RW->e.layers[0], RW->e.layers[1]));
	}
	EXPECT_NE(NULL, strstr(mi.super_opts, want))
		TH_LOG("%s not in %s", want, mi.super_opts);
	EXPECT_NE(NULL, strstr(mi.super_opts, "metacopy=on"));
	/* The options shown mount the same union again (cowfs: mount(2)) */
	opts = strdup(mi.super_opts);
	ASSERT_NE(NULL, opts);
	mnt_info_free(&mi);
	free(want);
	ASSERT_EQ(0, rw_umount(RW));
	if (!OVERLAY) {
		char *s = strstr(opts, "lowerdir=");

		ASSERT_NE(NULL, s);
		EXPECT_EQ(0, mount_data(RW->e.mnt, s));
		EXPECT_EQ(0, data_is(M("sub/h"), SEED_B, SIZE_B, -1));
		EXPECT_EQ(-ENOENT, stat_err(M("onlydata")));
		EXPECT_EQ(0, rw_umount(RW));
	}
	free(opts);

	/* lowerdir=META::DATA is shown as given */
	MOUNT();
	ASSERT_EQ(1, mountinfo_find(RW->e.mnt, &mi));
	ASSERT_LT(0, asprintf(&want, "lowerdir=%s::%s", RW->e.layers[0],
			      RW->e.layers[1]));
	EXPECT_NE(NULL, strstr(mi.super_opts, want))
		TH_LOG("%s not in %s", want, mi.super_opts);
	mnt_info_free(&mi);
	free(want);
}

TEST_F(dd, layer_order_refused)
{
	struct fsparam p[] = {
		{ "datadir+", RW->e.layers[1] },
		{ "lowerdir+", RW->e.layers[0] },
		{ "metacopy", "on" },
	};
	struct fsparam q[] = {
		{ "lowerdir", RW->e.layers[0] },
		{ "datadir+", RW->e.layers[1] },
		{ "metacopy", "on" },
	};
	char *opts;

	/* lowerdir+ after datadir+ */
	EXPECT_EQ(-EINVAL, union_mount(true, RW->e.mnt,
				       (const char *const *)RW->e.layers, 1,
				       p, 3, self->log, sizeof(self->log)));
	if (!OVERLAY)
		EXPECT_NE(NULL, strstr(self->log, "cannot follow data-only"))
			TH_LOG("%s", self->log);
	/* datadir+ after lowerdir= */
	EXPECT_EQ(-EINVAL, union_mount(true, RW->e.mnt, NULL, 0, q, 3,
				       self->log, sizeof(self->log)));
	/* A regular layer after a data-only one, ':::', a trailing '::' */
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s::%s:%s,metacopy=on",
			      RW->e.layers[0], RW->e.layers[1],
			      RW->e.layers[0]));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	free(opts);
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s:::%s,metacopy=on",
			      RW->e.layers[0], RW->e.layers[1]));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	free(opts);
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s::,metacopy=on",
			      RW->e.layers[0]));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	free(opts);
	EXPECT_EQ(0, mountinfo_find(RW->e.mnt, NULL));
}

TEST_F(dd, needs_metacopy_and_a_lower_layer)
{
	struct fsparam p[] = {
		{ "datadir+", RW->e.layers[1] },
		{ "redirect_dir", "on" },
	};
	struct fsparam q[] = {
		{ "datadir+", RW->e.layers[1] },
		{ "metacopy", "on" },
	};
	char *opts;

	/* Without metacopy=on (overlayfs: in the kernel log only) */
	EXPECT_EQ(-EINVAL, union_mount(true, RW->e.mnt,
				       (const char *const *)RW->e.layers, 1,
				       p, 2, self->log, sizeof(self->log)));
	if (!OVERLAY)
		EXPECT_NE(NULL, strstr(self->log, "need metacopy=on"))
			TH_LOG("%s", self->log);
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s::%s", RW->e.layers[0],
			      RW->e.layers[1]));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	free(opts);
	ASSERT_LT(0, asprintf(&opts, "lowerdir=%s::%s,metacopy=off",
			      RW->e.layers[0], RW->e.layers[1]));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	free(opts);
	/* Data-only layers alone */
	EXPECT_EQ(-EINVAL, union_mount(true, RW->e.mnt, NULL, 0, q, 2,
				       self->log, sizeof(self->log)));
	if (!OVERLAY)
		EXPECT_NE(NULL, strstr(self->log, "need a regular lower layer"))
			TH_LOG("%s", self->log);
	/* lowerdir= cannot start with the separator */
	ASSERT_LT(0, asprintf(&opts, "lowerdir=::%s,metacopy=on",
			      RW->e.layers[1]));
	EXPECT_EQ(-EINVAL, mount_data(RW->e.mnt, opts));
	free(opts);
	EXPECT_EQ(0, mountinfo_find(RW->e.mnt, NULL));
}

/* ---- 5. with an upper layer ----------------------------------------------- */

TEST_F(dd, chmod_copies_metadata_only)
{
	struct stat st;

	MOUNT();
	if (!variant->upper) {
		EXPECT_EQ(-EROFS, chmod(M("f"), 0600) ? -errno : 0);
		return;
	}
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, lstat(U("f"), &st));
	EXPECT_TRUE(has_metacopy(U("f")));
	EXPECT_EQ(SIZE_A, st.st_size);
	EXPECT_GT(8, st.st_blocks);
	EXPECT_EQ(0100600, lst_mode(M("f")));
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
	/* No redirect needed: the metadata layer's file has it */
	EXPECT_EQ(-ENODATA, ERRNO_OF(lgetxattr(U("f"), OVL_REDIRECT_XATTR,
					       NULL, 0)));
	REMOUNT();
	EXPECT_EQ(0100600, lst_mode(M("f")));
	EXPECT_EQ(1000, lst_uid(M("f")));
	EXPECT_EQ(0, data_is(M("f"), SEED_A, SIZE_A, -1));
	EXPECT_EQ(0, data_is(M("g"), SEED_A, SIZE_A, -1));
}

TEST_F(dd, write_copies_object_up)
{
	unsigned char c;
	int fd;

	MOUNT();
	if (!variant->upper) {
		EXPECT_EQ(-EROFS, open_err_flags(M("sub/h"), O_WRONLY));
		return;
	}
	/* A metacopy upper first, then the data */
	ASSERT_EQ(0, chown(M("sub/h"), 3000, 3000));
	ASSERT_TRUE(has_metacopy(U("sub/h")));
	fd = open(M("sub/h"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pread(fd, &c, 1, 0));
	c = ~c;
	ASSERT_EQ(1, pwrite(fd, &c, 1, 0));
	close(fd);
	EXPECT_FALSE(has_metacopy(U("sub/h")));
	EXPECT_EQ(SIZE_B, lst_size(U("sub/h")));
	/* The object is untouched; the union has the change */
	EXPECT_EQ(0, data_is(DATA(OBJ_B), SEED_B, SIZE_B, -1));
	EXPECT_EQ(1, data_is(M("sub/h"), SEED_B, SIZE_B, -1));
	/* A file never copied up still reads the object */
	ASSERT_EQ(0, write_str(M("f"), "x", O_APPEND));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_EQ(SIZE_A + 1, lst_size(M("f")));
	EXPECT_EQ(0, data_is(M("g"), SEED_A, SIZE_A, -1));
	REMOUNT();
	EXPECT_EQ(1, data_is(M("sub/h"), SEED_B, SIZE_B, -1));
	EXPECT_EQ(3000, lst_uid(M("sub/h")));
	EXPECT_EQ(SIZE_A + 1, lst_size(M("f")));
	EXPECT_EQ(0, data_is(M("g"), SEED_A, SIZE_A, -1));
	EXPECT_EQ(0, data_is(DATA(OBJ_A), SEED_A, SIZE_A, -1));
}

/* A renamed metacopy file keeps its object, also after a remount */
TEST_F(dd, rename_keeps_object)
{
	MOUNT();
	if (!variant->upper)
		return;
	ASSERT_EQ(0, rename(M("sub/h"), M("moved")));
	EXPECT_EQ(0, data_is(M("moved"), SEED_B, SIZE_B, -1));
	EXPECT_EQ(-ENOENT, stat_err(M("sub/h")));
	REMOUNT();
	EXPECT_EQ(0, data_is(M("moved"), SEED_B, SIZE_B, -1));
	EXPECT_EQ(0100640, lst_mode(M("moved")));
}

TEST_HARNESS_MAIN
