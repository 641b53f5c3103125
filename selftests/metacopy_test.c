// SPDX-License-Identifier: GPL-2.0
/*
 * metacopy=on (with redirect_dir=on,index=off), as overlayfs has it: a
 * change of metadata only (chmod, chown, utimensat, a user.* xattr, a
 * rename) of a lower regular file copies up its inode without its data.
 * The upper file is sparse, has the lower file's size and carries
 * trusted.overlay.metacopy; the union shows the new metadata, the lower
 * data and the lower data's st_blocks.  The first open for write, an
 * O_TRUNC open or a truncate(2) copies the data and drops the xattr.
 *
 * Checked here, on overlayfs (the reference) and on cowfs:
 *  - each metadata change leaves a metacopy upper; directories, symlinks,
 *    fifos and devices copy up as before, without the xattr;
 *  - O_WRONLY, O_RDWR, O_TRUNC and truncate(2) copy the data; read-only
 *    descriptors read the lower data, then the upper's once it is there;
 *  - fsync and fdatasync of a read-only descriptor, fsync of a directory;
 *  - rename within a directory (relative trusted.overlay.redirect) and to
 *    another one (absolute), a plain rename of a lower file, remounts;
 *  - a metacopy upper mounted with metacopy=off is refused (EPERM), be it
 *    written by the union or by hand, as is a stack whose lower layer
 *    holds metacopy files; with metacopy=on such a lower layer shows its
 *    metadata over the data below it;
 *  - a lower file with two names (index=off): a chmod of one name makes
 *    a metacopy of that name alone, the other keeps the lower inode;
 *  - hostile layers: metacopy xattrs with no data below, of a bad length,
 *    over a directory, with redirects to absent or escaping paths;
 *  - an upper written by one filesystem reads the same on the other
 *    (fixture mcio; overlay_to_overlay checks the test itself).
 *
 * The cowfs variants fail, not skip, while cowfs refuses metacopy=on.
 * Run with: make test T=metacopy_test
 */
#include "kselftest_harness.h"
#include "metacopy_util.h"

#include <sys/mman.h>

#define MB			(1024 * 1024)
#define SEED_F			0x0001f00d
#define SEED_X			0x0002f00d
#define SEED_A			0x0003f00d
#define SEED_G			0x0004f00d
#define SEED_SECRET		0x5ec2e7

/* ---- helpers ------------------------------------------------------------ */

/*
 * Mount @fstype on @mnt over @lowers (top first), with @upper and @work
 * (upper may be NULL: a read-only union), redirect_dir=on, index=off and
 * metacopy=@metacopy.
 */
static int mount_mc(const char *fstype, const char *mnt,
		    const char *const *lowers, int n, const char *upper,
		    const char *work, const char *metacopy)
{
	char *lower = lowerdir_opt(lowers, n);
	char *opts = NULL;
	int ret;

	if (!lower)
		return -ENOMEM;
	if (upper)
		ret = asprintf(&opts, "%s,upperdir=%s,workdir=%s,redirect_dir=on,index=off,metacopy=%s",
			       lower, upper, work, metacopy);
	else
		ret = asprintf(&opts, "%s,redirect_dir=on,index=off,metacopy=%s",
			       lower, metacopy);
	free(lower);
	if (ret < 0)
		return -ENOMEM;
	ret = mount("none", mnt, fstype, 0, opts) ? -errno : 0;
	free(opts);
	return ret;
}

/* ---- the fixture: one union per variant ---------------------------------- */

/*
 * The bottom lower layer l1 holds the files the tests change; l0 (the top
 * lower layer) is empty but for what the hostile tests put there.
 */
FIXTURE(mc) {
	struct rw_env rw;
};

BOTH_FS_VARIANTS(mc);

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)
#define U(rel)	UP(RW, rel)
#define L(rel)	LP(RW, 1, rel)
#define L0(rel) LP(RW, 0, rel)
#define B(rel)	pathf("%s/%s", self->rw.e.base, rel)

FIXTURE_SETUP(mc)
{
	struct rw_env *rw = &self->rw;

	BOTH_FS_REQUIRE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 2, 0, NULL));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "f"), SEED_F, MB));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "d/x"), SEED_X, MB));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 1, "a"), SEED_A, MB));
	SETUP_ASSERT0(&rw->e, link(LP(rw, 1, "a"), LP(rw, 1, "b")) ? -errno : 0);
	SETUP_ASSERT0(&rw->e, mkdir_p(LP(rw, 1, "e"), 0755));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 1, "small"), "small\n"));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 1, "empty"), ""));
	SETUP_ASSERT0(&rw->e, mksymlink(LP(rw, 1, "sl"), "f"));
	SETUP_ASSERT0(&rw->e, mkfifo(LP(rw, 1, "fifo"), 0644) ? -errno : 0);
	SETUP_ASSERT0(&rw->e, mknod(LP(rw, 1, "null"), S_IFCHR | 0644,
				    makedev(1, 3)) ? -errno : 0);
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 1, "dir/in"), "in\n"));
}

FIXTURE_TEARDOWN(mc)
{
	rw_cleanup(&self->rw);
}

/* Mount the fixture's union with metacopy=@mc (on, off). */
static int mc_mount(struct rw_env *rw, const char *fstype, const char *mc)
{
	return mount_mc(fstype, rw->e.mnt, (const char *const *)rw->e.layers,
			rw->e.nlayers, rw->upper, rw->work, mc);
}

static int mc_remount(struct rw_env *rw, const char *fstype, const char *mc)
{
	int ret = rw_umount(rw);

	if (ret)
		return ret;
	drop_caches();
	return mc_mount(rw, fstype, mc);
}

#define MOUNT_ON()	ASSERT_EQ(0, mc_mount(RW, variant->fstype, "on"))

/*
 * @rel (a 1 MiB file of fill_pattern(@seed) in l1) is a metacopy upper:
 * the upper file is sparse with the lower size and the xattr, the union
 * reads the lower data and reports its st_blocks.
 */
static void expect_metacopy(struct __test_metadata *_metadata,
			    struct rw_env *rw, const char *rel,
			    const char *lower_rel, uint32_t seed)
{
	struct stat l = lst(LP(rw, 1, lower_rel));
	struct stat u = lst(UP(rw, rel));
	struct stat m = lst(MP(rw, rel));

	ASSERT_EQ(S_IFREG, u.st_mode & S_IFMT) {
		TH_LOG("%s: no regular upper file", rel);
	}
	EXPECT_TRUE(has_metacopy(UP(rw, rel))) {
		TH_LOG("%s: no %s on the upper", rel, OVL_METACOPY_XATTR);
	}
	EXPECT_EQ(MB, u.st_size);
	EXPECT_GT(64, u.st_blocks) {
		TH_LOG("%s: upper has %lld blocks", rel, (long long)u.st_blocks);
	}
	EXPECT_EQ(MB, m.st_size);
	EXPECT_EQ(l.st_blocks, m.st_blocks);
	EXPECT_EQ(0, data_is(MP(rw, rel), seed, MB, -1));
}

/* @rel has a full upper copy (no xattr, the data's blocks). */
static void expect_full_copy(struct __test_metadata *_metadata,
			     struct rw_env *rw, const char *rel,
			     blkcnt_t blocks)
{
	struct stat u = lst(UP(rw, rel));

	ASSERT_EQ(S_IFREG, u.st_mode & S_IFMT);
	EXPECT_FALSE(has_metacopy(UP(rw, rel))) {
		TH_LOG("%s: upper still metacopy", rel);
	}
	EXPECT_LE(blocks, u.st_blocks);
}

/* ---- 1. metadata changes copy up metadata only ---------------------------- */

TEST_F(mc, chmod_copies_metadata_only)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	expect_metacopy(_metadata, RW, "f", "f", SEED_F);
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	EXPECT_EQ(0100600, lst(U("f")).st_mode);
	/* The lower file is untouched */
	EXPECT_EQ(0100644, lst(L("f")).st_mode);
	EXPECT_FALSE(has_metacopy(L("f")));
}

TEST_F(mc, chown_copies_metadata_only)
{
	struct stat m;

	MOUNT_ON();
	ASSERT_EQ(0, chown(M("f"), 1234, 5678));
	expect_metacopy(_metadata, RW, "f", "f", SEED_F);
	m = lst(M("f"));
	EXPECT_EQ(1234, m.st_uid);
	EXPECT_EQ(5678, m.st_gid);
	EXPECT_EQ(1234, lst(U("f")).st_uid);
	EXPECT_EQ(0, lst(L("f")).st_uid);
}

TEST_F(mc, utimensat_copies_metadata_only)
{
	MOUNT_ON();
	ASSERT_EQ(0, set_mtime(M("f"), 1000));
	expect_metacopy(_metadata, RW, "f", "f", SEED_F);
	EXPECT_EQ(1000, lst(M("f")).st_mtime);
	EXPECT_EQ(1000, lst(U("f")).st_mtime);
	EXPECT_NE(1000, lst(L("f")).st_mtime);
}

TEST_F(mc, setxattr_copies_metadata_only)
{
	MOUNT_ON();
	ASSERT_EQ(0, setxattr(M("f"), "user.k", "v1", 2, 0));
	expect_metacopy(_metadata, RW, "f", "f", SEED_F);
	EXPECT_STREQ("v1", xattr_str(M("f"), "user.k"));
	EXPECT_STREQ("v1", xattr_str(U("f"), "user.k"));
	EXPECT_EQ(-ENODATA, ERRNO_OF(lgetxattr(L("f"), "user.k", NULL, 0)));
	/*
	 * The union does not show its private xattr: overlayfs finds no
	 * escaped one, cowfs refuses the name (docs/overlay-differences.md)
	 */
	EXPECT_EQ(strcmp(variant->fstype, "overlay") ? -EOPNOTSUPP : -ENODATA,
		  ERRNO_OF(lgetxattr(M("f"), OVL_METACOPY_XATTR, NULL, 0)));
}

TEST_F(mc, metacopy_xattr_is_empty)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	/* overlayfs writes an empty value when it has no verity digest */
	EXPECT_EQ(0, metacopy_len(U("f")));
}

TEST_F(mc, two_changes_one_metacopy)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, chown(M("f"), 7, 8));
	ASSERT_EQ(0, set_mtime(M("f"), 2000));
	expect_metacopy(_metadata, RW, "f", "f", SEED_F);
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	EXPECT_EQ(7, lst(M("f")).st_uid);
	EXPECT_EQ(2000, lst(M("f")).st_mtime);
}

TEST_F(mc, empty_file_chmod)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("empty"), 0600));
	EXPECT_EQ(S_IFREG, ftype(U("empty")));
	EXPECT_EQ(0100600, lst(M("empty")).st_mode);
	EXPECT_STREQ("", slurp(M("empty")));
	/* overlayfs marks it metacopy too: no data, but the same rule */
	EXPECT_TRUE(has_metacopy(U("empty")));
}

/* ---- 2. the first write copies the data ----------------------------------- */

TEST_F(mc, write_copies_data)
{
	struct stat l;

	MOUNT_ON();
	l = lst(L("f"));
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_TRUE(has_metacopy(U("f")));
	ASSERT_EQ(0, poke_byte(M("f"), 4097));
	expect_full_copy(_metadata, RW, "f", l.st_blocks);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, 4097));
	EXPECT_EQ(0, data_is(U("f"), SEED_F, MB, 4097));
	EXPECT_EQ(0, data_is(L("f"), SEED_F, MB, -1));
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	/* ... and after a remount */
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, 4097));
}

TEST_F(mc, open_wronly_copies_data)
{
	int fd;

	MOUNT_ON();
	ASSERT_EQ(0, chown(M("f"), 1, 1));
	ASSERT_TRUE(has_metacopy(U("f")));
	fd = open(M("f"), O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* The open alone copies the data, before any write */
	expect_full_copy(_metadata, RW, "f", lst(L("f")).st_blocks);
	EXPECT_EQ(0, data_is(U("f"), SEED_F, MB, -1));
	EXPECT_EQ(1, pwrite(fd, "Z", 1, MB - 1));
	close(fd);
	EXPECT_EQ(MB, lst(M("f")).st_size);
	{
		unsigned char c = 0;
		int rfd = open(M("f"), O_RDONLY | O_CLOEXEC);

		ASSERT_LE(0, rfd);
		EXPECT_EQ(1, pread(rfd, &c, 1, MB - 1));
		EXPECT_EQ('Z', c);
		close(rfd);
	}
}

TEST_F(mc, open_rdwr_copies_data)
{
	int fd;

	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0640));
	ASSERT_TRUE(has_metacopy(U("f")));
	fd = open(M("f"), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	expect_full_copy(_metadata, RW, "f", lst(L("f")).st_blocks);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(0, data_is(U("f"), SEED_F, MB, -1));
	EXPECT_EQ(0100640, lst(M("f")).st_mode);
}

TEST_F(mc, open_trunc_of_metacopy)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_TRUE(has_metacopy(U("f")));
	ASSERT_EQ(0, write_str(M("f"), "new\n", O_TRUNC));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_STREQ("new\n", slurp(M("f")));
	EXPECT_STREQ("new\n", slurp(U("f")));
	EXPECT_EQ(4, lst(M("f")).st_size);
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	EXPECT_EQ(0, data_is(L("f"), SEED_F, MB, -1));
}

TEST_F(mc, truncate_of_metacopy)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_TRUE(has_metacopy(U("f")));
	ASSERT_EQ(0, truncate(M("f"), 5000));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_EQ(5000, lst(U("f")).st_size);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, 5000, -1));
	EXPECT_EQ(0, data_is(U("f"), SEED_F, 5000, -1));
	/* Growing it again reads zeroes past the old end, not lower data */
	ASSERT_EQ(0, truncate(M("f"), 8192));
	{
		unsigned char buf[16];
		int fd = open(M("f"), O_RDONLY | O_CLOEXEC);
		static const unsigned char zero[16];

		ASSERT_LE(0, fd);
		EXPECT_EQ(16, pread(fd, buf, 16, 6000));
		EXPECT_EQ(0, memcmp(buf, zero, 16));
		close(fd);
	}
}

TEST_F(mc, truncate_of_lower_file)
{
	MOUNT_ON();
	/* A size change is a data change: a full copy up, no metacopy */
	ASSERT_EQ(0, truncate(M("f"), 10));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_EQ(10, lst(U("f")).st_size);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, 10, -1));
}

TEST_F(mc, write_open_of_lower_file)
{
	MOUNT_ON();
	ASSERT_EQ(0, poke_byte(M("f"), 0));
	expect_full_copy(_metadata, RW, "f", lst(L("f")).st_blocks);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, 0));
}

/* ---- 3. read-only descriptors ---------------------------------------------- */

TEST_F(mc, readers_around_a_metacopy)
{
	int before, after;

	MOUNT_ON();
	before = open(M("f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, before);
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_TRUE(has_metacopy(U("f")));
	after = open(M("f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, after);
	/* A read-only open of a metacopy file does not copy the data */
	EXPECT_TRUE(has_metacopy(U("f")));
	EXPECT_EQ(0, fd_data_is(before, SEED_F, MB, -1));
	EXPECT_EQ(0, fd_data_is(after, SEED_F, MB, -1));
	EXPECT_TRUE(has_metacopy(U("f")));
	{
		struct stat st;

		ASSERT_EQ(0, fstat(after, &st));
		EXPECT_EQ(0100600, st.st_mode);
	}
	/*
	 * Then a writer copies the data up and changes a byte: overlayfs
	 * reopens the real file of both earlier read-only descriptors on
	 * their next read and both see the write.
	 */
	ASSERT_EQ(0, poke_byte(M("f"), 100));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_EQ(0, fd_data_is(after, SEED_F, MB, 100));
	EXPECT_EQ(0, fd_data_is(before, SEED_F, MB, 100));
	close(before);
	close(after);
}

TEST_F(mc, mmap_read_of_metacopy)
{
	unsigned char *p, want[64];
	int fd;

	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	fd = open(M("f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, MB, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	{
		unsigned char *all = malloc(MB);

		ASSERT_NE(NULL, all);
		fill_pattern(all, MB, SEED_F);
		memcpy(want, all + MB - 64, 64);
		free(all);
	}
	EXPECT_EQ(0, memcmp(p + MB - 64, want, 64));
	munmap(p, MB);
	close(fd);
	EXPECT_TRUE(has_metacopy(U("f")));
}

/* ---- 6. fsync ------------------------------------------------------------- */

TEST_F(mc, fsync_of_readonly_metacopy)
{
	int fd;

	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	fd = open(M("f"), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ERRNO_OF(fsync(fd)));
	EXPECT_EQ(0, ERRNO_OF(fdatasync(fd)));
	close(fd);
	/* Syncing copies no data */
	EXPECT_TRUE(has_metacopy(U("f")));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	/* A directory, merged and copied up, and the root */
	ASSERT_EQ(0, chmod(M("d"), 0750));
	fd = open(M("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ERRNO_OF(fsync(fd)));
	close(fd);
	fd = open(M(""), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ERRNO_OF(fsync(fd)));
	EXPECT_EQ(0, ERRNO_OF(syncfs(fd)));
	close(fd);
}

/* ---- 4. rename ------------------------------------------------------------- */

TEST_F(mc, rename_in_dir)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("d/x"), 0600));
	ASSERT_EQ(0, rename(M("d/x"), M("d/y")));
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	EXPECT_TRUE(is_whiteout(U("d/x")));
	expect_metacopy(_metadata, RW, "d/y", "d/x", SEED_X);
	/* Same directory, one name in the lower: a relative redirect */
	EXPECT_STREQ("x", xattr_str(U("d/y"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("d/y"), SEED_X, MB, -1));
	EXPECT_EQ(0100600, lst(M("d/y")).st_mode);
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	/* Then the first write */
	ASSERT_EQ(0, poke_byte(M("d/y"), 12345));
	expect_full_copy(_metadata, RW, "d/y", lst(L("d/x")).st_blocks);
	EXPECT_EQ(0, data_is(M("d/y"), SEED_X, MB, 12345));
	EXPECT_EQ(0, data_is(L("d/x"), SEED_X, MB, -1));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("d/y"), SEED_X, MB, 12345));
}

/*
 * Over an existing file: the renamed metacopy file gets its redirect (the
 * rename holds the replaced file's inode lock, and records the redirect
 * under the renamed one's: lockdep once saw the two nested).
 */
TEST_F(mc, rename_over_existing_file)
{
	MOUNT_ON();
	ASSERT_EQ(0, write_str(M("d/t"), "target\n", O_CREAT | O_TRUNC));
	ASSERT_EQ(0, chmod(M("d/x"), 0600));
	ASSERT_EQ(0, rename(M("d/x"), M("d/t")));
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	expect_metacopy(_metadata, RW, "d/t", "d/x", SEED_X);
	EXPECT_STREQ("x", xattr_str(U("d/t"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("d/t"), SEED_X, MB, -1));
	EXPECT_EQ(0100600, lst(M("d/t")).st_mode);
}

TEST_F(mc, rename_to_other_dir)
{
	MOUNT_ON();
	ASSERT_EQ(0, chown(M("d/x"), 42, 43));
	ASSERT_EQ(0, rename(M("d/x"), M("e/y")));
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	expect_metacopy(_metadata, RW, "e/y", "d/x", SEED_X);
	/* Another directory: the absolute path of the lower name */
	EXPECT_STREQ("/d/x", xattr_str(U("e/y"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("e/y"), SEED_X, MB, -1));
	EXPECT_EQ(42, lst(M("e/y")).st_uid);
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	/* Renamed once more, to the root: still the first lower name */
	ASSERT_EQ(0, rename(M("e/y"), M("z")));
	EXPECT_STREQ("/d/x", xattr_str(U("z"), OVL_REDIRECT_XATTR));
	EXPECT_EQ(0, data_is(M("z"), SEED_X, MB, -1));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("z"), SEED_X, MB, -1));
	ASSERT_EQ(0, poke_byte(M("z"), 0));
	EXPECT_FALSE(has_metacopy(U("z")));
	EXPECT_EQ(0, data_is(M("z"), SEED_X, MB, 0));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("z"), SEED_X, MB, 0));
	EXPECT_EQ(42, lst(M("z")).st_uid);
}

TEST_F(mc, rename_of_lower_file_is_metacopy)
{
	MOUNT_ON();
	/* A rename copies up the inode: with metacopy=on, without data */
	ASSERT_EQ(0, rename(M("f"), M("e/f")));
	expect_metacopy(_metadata, RW, "e/f", "f", SEED_F);
	EXPECT_STREQ("/f", xattr_str(U("e/f"), OVL_REDIRECT_XATTR));
	EXPECT_EQ(0100644, lst(M("e/f")).st_mode);
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("e/f"), SEED_F, MB, -1));
	EXPECT_EQ(-ENOENT, stat_err(M("f")));
}

TEST_F(mc, rename_over_metacopy)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, chmod(M("d/x"), 0640));
	/* d/x's metacopy replaces f's: f now reads d/x's data */
	ASSERT_EQ(0, rename(M("d/x"), M("f")));
	EXPECT_EQ(0, data_is(M("f"), SEED_X, MB, -1));
	EXPECT_EQ(0100640, lst(M("f")).st_mode);
	EXPECT_STREQ("/d/x", xattr_str(U("f"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("f"), SEED_X, MB, -1));
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	EXPECT_EQ(0, data_is(L("f"), SEED_F, MB, -1));
}

/* ---- 5. remount ------------------------------------------------------------ */

TEST_F(mc, remount_keeps_metacopy)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0604));
	ASSERT_EQ(0, chown(M("f"), 11, 12));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	expect_metacopy(_metadata, RW, "f", "f", SEED_F);
	EXPECT_EQ(0100604, lst(M("f")).st_mode);
	EXPECT_EQ(11, lst(M("f")).st_uid);
	EXPECT_EQ(12, lst(M("f")).st_gid);
	/* The first write after the remount copies the data */
	ASSERT_EQ(0, poke_byte(M("f"), MB - 1));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, MB - 1));
}

TEST_F(mc, metacopy_off_refuses_metacopy_upper)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, chmod(M("d/x"), 0600));
	ASSERT_EQ(0, rename(M("d/x"), M("e/y")));
	ASSERT_EQ(0, poke_byte(M("small"), 0));	/* full copy */
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "off"));
	/* overlayfs: "refusing to follow metacopy origin" */
	EXPECT_EQ(-EPERM, stat_err(M("f")));
	EXPECT_EQ(-EPERM, open_err(M("f")));
	EXPECT_EQ(-EPERM, stat_err(M("e/y")));
	/* Never the upper's hole as data */
	EXPECT_EQ(-EPERM, data_is(M("f"), SEED_F, MB, -1));
	/* Everything else is there */
	EXPECT_STREQ("\x8c" "mall\n", slurp(M("small")));
	EXPECT_EQ(0, data_is(M("a"), SEED_A, MB, -1));
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	/* And metacopy=on again shows them */
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(0, data_is(M("e/y"), SEED_X, MB, -1));
}

/*
 * The same refusal for a metacopy upper made by hand (what overlayfs
 * writes: a sparse file of the lower size with an empty xattr), and for
 * a metacopy file in a lower layer: no metacopy=on mount needed.
 */
TEST_F(mc, metacopy_off_refuses_hand_made_metacopy)
{
	ASSERT_EQ(0, mkfile(U("f"), ""));
	ASSERT_EQ(0, truncate(U("f"), MB));
	ASSERT_EQ(0, chmod(U("f"), 0600));
	ASSERT_EQ(0, set_x(U("f"), OVL_METACOPY_XATTR, "", 0));
	ASSERT_EQ(0, mkfile(L0("d/x"), ""));
	ASSERT_EQ(0, set_x(L0("d/x"), OVL_METACOPY_XATTR, "", 0));
	ASSERT_EQ(0, mc_mount(RW, variant->fstype, "off"));
	EXPECT_EQ(-EPERM, stat_err(M("f")));
	EXPECT_EQ(-EPERM, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(-EPERM, stat_err(M("d/x")));
	EXPECT_EQ(-EPERM, data_is(M("d/x"), SEED_X, MB, -1));
	EXPECT_EQ(0, data_is(M("a"), SEED_A, MB, -1));
	ASSERT_EQ(0, rw_umount(RW));
	/* With metacopy=on: the upper's metadata, the lower data */
	drop_caches();
	MOUNT_ON();
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(0, data_is(M("d/x"), SEED_X, MB, -1));
}

/* ---- 8. hard links in the lower layer ---------------------------------------- */

TEST_F(mc, chmod_of_lower_hardlink)
{
	struct stat a, b;

	MOUNT_ON();
	ASSERT_EQ(2, lst(M("a")).st_nlink);
	ASSERT_EQ(0, chmod(M("a"), 0700));
	/* index=off: this name alone is copied up, metadata only */
	expect_metacopy(_metadata, RW, "a", "a", SEED_A);
	EXPECT_EQ(-ENOENT, lstat_err(U("b")));
	a = lst(M("a"));
	b = lst(M("b"));
	EXPECT_EQ(0100700, a.st_mode);
	EXPECT_EQ(0100644, b.st_mode);
	EXPECT_EQ(1, a.st_nlink);
	EXPECT_EQ(2, b.st_nlink);
	EXPECT_NE(a.st_ino, b.st_ino);
	EXPECT_EQ(0, data_is(M("b"), SEED_A, MB, -1));
	/* A write through b copies b alone; a still reads the lower data */
	ASSERT_EQ(0, poke_byte(M("b"), 7));
	EXPECT_EQ(0, data_is(M("b"), SEED_A, MB, 7));
	EXPECT_EQ(0, data_is(M("a"), SEED_A, MB, -1));
	EXPECT_TRUE(has_metacopy(U("a")));
	/* Rename of a lower hard link: an absolute redirect, same dir too */
	ASSERT_EQ(0, rename(M("a"), M("a2")));
	EXPECT_STREQ("/a", xattr_str(U("a2"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(0, data_is(M("a2"), SEED_A, MB, -1));
	EXPECT_EQ(0, data_is(M("b"), SEED_A, MB, 7));
	EXPECT_EQ(0100700, lst(M("a2")).st_mode);
}

/* ---- 10. not regular files ----------------------------------------------------- */

TEST_F(mc, chmod_of_dir_symlink_special)
{
	MOUNT_ON();
	ASSERT_EQ(0, chmod(M("dir"), 0700));
	ASSERT_EQ(0, lchown(M("sl"), 3, 4));
	ASSERT_EQ(0, chmod(M("fifo"), 0600));
	ASSERT_EQ(0, chmod(M("null"), 0600));
	EXPECT_EQ(S_IFDIR, ftype(U("dir")));
	EXPECT_EQ(S_IFLNK, ftype(U("sl")));
	EXPECT_EQ(S_IFIFO, ftype(U("fifo")));
	EXPECT_EQ(S_IFCHR, ftype(U("null")));
	EXPECT_FALSE(has_metacopy(U("dir")));
	EXPECT_FALSE(has_metacopy(U("sl")));
	EXPECT_FALSE(has_metacopy(U("fifo")));
	EXPECT_FALSE(has_metacopy(U("null")));
	EXPECT_EQ(040700, lst(M("dir")).st_mode);
	EXPECT_EQ(3, lst(M("sl")).st_uid);
	EXPECT_EQ(010600, lst(M("fifo")).st_mode);
	EXPECT_EQ(020600, lst(M("null")).st_mode);
	EXPECT_EQ(makedev(1, 3), lst(M("null")).st_rdev);
	EXPECT_STREQ("in\n", slurp(M("dir/in")));
	{
		char t[16] = "";

		EXPECT_EQ(1, readlink(M("sl"), t, sizeof(t) - 1));
		EXPECT_STREQ("f", t);
	}
	/* Through the symlink: the target f is what gets a metacopy */
	EXPECT_EQ(0, chmod(M("sl"), 0640));
	EXPECT_TRUE(has_metacopy(U("f")));
	ASSERT_EQ(0, mc_remount(RW, variant->fstype, "on"));
	EXPECT_EQ(040700, lst(M("dir")).st_mode);
	EXPECT_EQ(0100640, lst(M("f")).st_mode);
	EXPECT_EQ(0, data_is(M("sl"), SEED_F, MB, -1));
}

/* ---- 7. a lower layer holding metacopy files --------------------------------- */

/* Five mounts: room for a debug kernel */
TEST_F_TIMEOUT(mc, metacopy_lower_layer, 120)
{
	char data[PATH_MAX], meta[PATH_MAX];
	const char *const one[] = { data };
	const char *const two[] = { meta, data };

	/* Own copies: pathf()'s buffers are reused */
	snprintf(data, sizeof(data), "%s", B("s0"));
	snprintf(meta, sizeof(meta), "%s", B("s1"));

	ASSERT_EQ(0, mkpat(B("s0/f"), SEED_F, MB));
	ASSERT_EQ(0, mkpat(B("s0/g"), SEED_G, MB));
	ASSERT_EQ(0, mkfile(B("s0/plain"), "plain\n"));
	ASSERT_EQ(0, mkdir_p(meta, 0755));
	ASSERT_EQ(0, mkdir_p(B("w1"), 0755));
	/* s1 is the upper of a metacopy union over s0 */
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, one, 1, meta,
			      B("w1"), "on"));
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, chown(M("g"), 21, 22));
	ASSERT_EQ(0, rename(M("g"), M("g2")));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_TRUE(has_metacopy(B("s1/f")));
	ASSERT_TRUE(has_metacopy(B("s1/g2")));
	ASSERT_STREQ("g", xattr_str(B("s1/g2"), OVL_REDIRECT_XATTR));

	/* s1:s0 as lower layers: s1's metadata, s0's data */
	ASSERT_EQ(0, mkdir_p(B("s2"), 0755));
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	drop_caches();
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, two, 2, B("s2"),
			      B("w2"), "on"));
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(lst(B("s0/f")).st_blocks, lst(M("f")).st_blocks);
	EXPECT_EQ(21, lst(M("g2")).st_uid);
	EXPECT_EQ(0, data_is(M("g2"), SEED_G, MB, -1));
	EXPECT_EQ(-ENOENT, stat_err(M("g")));
	EXPECT_STREQ("plain\n", slurp(M("plain")));
	/* A metadata change: a metacopy in s2, data still from s0 */
	ASSERT_EQ(0, chmod(M("f"), 0640));
	EXPECT_TRUE(has_metacopy(B("s2/f")));
	EXPECT_GT(64, lst(B("s2/f")).st_blocks);
	EXPECT_EQ(0100640, lst(M("f")).st_mode);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	ASSERT_EQ(0, chmod(M("g2"), 0600));
	EXPECT_TRUE(has_metacopy(B("s2/g2")));
	EXPECT_EQ(21, lst(M("g2")).st_uid);
	/* The first write copies s0's data into s2 */
	ASSERT_EQ(0, poke_byte(M("g2"), 99));
	EXPECT_FALSE(has_metacopy(B("s2/g2")));
	EXPECT_EQ(0, data_is(B("s2/g2"), SEED_G, MB, 99));
	EXPECT_EQ(0, data_is(M("g2"), SEED_G, MB, 99));
	ASSERT_EQ(0, rw_umount(RW));
	drop_caches();
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, two, 2, B("s2"),
			      B("w2"), "on"));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(0, data_is(M("g2"), SEED_G, MB, 99));
	EXPECT_EQ(0100640, lst(M("f")).st_mode);
	ASSERT_EQ(0, rw_umount(RW));

	/* The same lower stack, read-only, metacopy=on */
	drop_caches();
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, two, 2, NULL, NULL,
			      "on"));
	EXPECT_EQ(0100600, lst(M("f")).st_mode);
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
	EXPECT_EQ(0, data_is(M("g2"), SEED_G, MB, -1));
	ASSERT_EQ(0, rw_umount(RW));
}

TEST_F(mc, metacopy_lower_layer_metacopy_off)
{
	char data[PATH_MAX], meta[PATH_MAX];
	const char *const one[] = { data };
	const char *const two[] = { meta, data };

	/* Own copies: pathf()'s buffers are reused */
	snprintf(data, sizeof(data), "%s", B("s0"));
	snprintf(meta, sizeof(meta), "%s", B("s1"));

	ASSERT_EQ(0, mkpat(B("s0/f"), SEED_F, MB));
	ASSERT_EQ(0, mkfile(B("s0/plain"), "plain\n"));
	ASSERT_EQ(0, mkdir_p(meta, 0755));
	ASSERT_EQ(0, mkdir_p(B("w1"), 0755));
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, one, 1, meta,
			      B("w1"), "on"));
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_TRUE(has_metacopy(B("s1/f")));

	ASSERT_EQ(0, mkdir_p(B("s2"), 0755));
	ASSERT_EQ(0, mkdir_p(B("w2"), 0755));
	drop_caches();
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, two, 2, B("s2"),
			      B("w2"), "off"));
	EXPECT_EQ(-EPERM, stat_err(M("f")));
	EXPECT_EQ(-EPERM, open_err(M("f")));
	EXPECT_STREQ("plain\n", slurp(M("plain")));
	ASSERT_EQ(0, rw_umount(RW));
	/* Read-only too */
	drop_caches();
	ASSERT_EQ(0, mount_mc(variant->fstype, RW->e.mnt, two, 2, NULL, NULL,
			      "off"));
	EXPECT_EQ(-EPERM, stat_err(M("f")));
	EXPECT_STREQ("plain\n", slurp(M("plain")));
	ASSERT_EQ(0, rw_umount(RW));
}

/* ---- 11. hostile layers ---------------------------------------------------- */

/*
 * Hostile layers: files of l0 (the top lower layer) or of the upper with
 * crafted xattrs over l1; "secret" lives in the base directory, outside
 * every layer.
 */
TEST_F(mc, hostile_metacopy_without_data)
{
	/* In the bottom layer: nothing below to take the data from */
	ASSERT_EQ(0, mkfile(L("lone"), "own data\n"));
	ASSERT_EQ(0, set_x(L("lone"), OVL_METACOPY_XATTR, "", 0));
	/* In the top lower layer, with no file below */
	ASSERT_EQ(0, mkfile(L0("top"), "top data\n"));
	ASSERT_EQ(0, set_x(L0("top"), OVL_METACOPY_XATTR, "", 0));
	/* In the upper layer */
	ASSERT_EQ(0, mkfile(U("up"), "up data\n"));
	ASSERT_EQ(0, set_x(U("up"), OVL_METACOPY_XATTR, "", 0));
	MOUNT_ON();
	/* overlayfs: "metacopy with no lower data found - abort lookup" */
	EXPECT_EQ(-EIO, stat_err(M("lone")));
	EXPECT_EQ(-EIO, stat_err(M("top")));
	EXPECT_EQ(-EIO, stat_err(M("up")));
	EXPECT_EQ(-EIO, open_err(M("up")));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
}

TEST_F(mc, hostile_metacopy_bad_length)
{
	/* Shorter than overlayfs's 4 byte header */
	ASSERT_EQ(0, mkfile(L0("f"), "garbage\n"));
	ASSERT_EQ(0, set_x(L0("f"), OVL_METACOPY_XATTR, "xy", 2));
	ASSERT_EQ(0, mkfile(U("d/x"), "garbage\n"));
	ASSERT_EQ(0, set_x(U("d/x"), OVL_METACOPY_XATTR, "z", 1));
	MOUNT_ON();
	EXPECT_EQ(-EIO, stat_err(M("f")));
	EXPECT_EQ(-EIO, open_err(M("f")));
	EXPECT_EQ(-EIO, stat_err(M("d/x")));
	EXPECT_EQ(0, data_is(M("a"), SEED_A, MB, -1));
}

TEST_F(mc, hostile_metacopy_over_directory)
{
	/* l1 has a directory "dir": nothing there to read data from */
	ASSERT_EQ(0, mkfile(L0("dir"), "not a dir\n"));
	ASSERT_EQ(0, set_x(L0("dir"), OVL_METACOPY_XATTR, "", 0));
	MOUNT_ON();
	EXPECT_EQ(-EIO, stat_err(M("dir")));
	EXPECT_EQ(-EIO, open_err(M("dir")));
}

TEST_F(mc, hostile_redirect_absent)
{
	ASSERT_EQ(0, mkfile(L0("r"), "own\n"));
	ASSERT_EQ(0, set_x(L0("r"), OVL_METACOPY_XATTR, "", 0));
	ASSERT_EQ(0, set_x(L0("r"), OVL_REDIRECT_XATTR, "/nothere", 8));
	ASSERT_EQ(0, mkfile(U("ur"), "own\n"));
	ASSERT_EQ(0, set_x(U("ur"), OVL_METACOPY_XATTR, "", 0));
	ASSERT_EQ(0, set_x(U("ur"), OVL_REDIRECT_XATTR, "/d/nothere", 10));
	MOUNT_ON();
	EXPECT_EQ(-EIO, stat_err(M("r")));
	EXPECT_EQ(-EIO, stat_err(M("ur")));
}

/*
 * Redirects that climb, or are relative with a '/': overlayfs fails the
 * lookup; cowfs ignores them, as it does a directory's (documented in
 * docs/overlay-differences.md), and finds the data by name.  Neither ever
 * reads the file the redirect aims at.
 */
TEST_F(mc, hostile_redirect_escapes)
{
	/* What overlayfs's lookup of each redirect returns */
	static const struct {
		const char *redirect;
		int err;
	} bad[] = {
		{ "/../secret", -EACCES },	/* ".." is not looked up */
		{ "/../../secret", -EACCES },
		{ "/d/../../secret", -EACCES },
		{ "/./f", -EACCES },		/* nor "." */
		{ "../secret", -EINVAL },	/* relative with a '/' */
		{ "d/x", -EINVAL },
		{ "/d//x", -EINVAL },		/* empty component */
	};
	unsigned int i;

	ASSERT_EQ(0, mkpat(B("secret"), SEED_SECRET, MB));
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		const char *name = pathf("e%u", i);
		const char *r = bad[i].redirect;

		ASSERT_EQ(0, mkfile(U(name), "own\n"));
		ASSERT_EQ(0, set_x(U(name), OVL_METACOPY_XATTR, "", 0));
		ASSERT_EQ(0, set_x(U(name), OVL_REDIRECT_XATTR, r, strlen(r)));
		ASSERT_EQ(0, mkfile(L0(name), "own\n"));
	}
	MOUNT_ON();
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		const char *name = M(pathf("e%u", i));
		const char *r = bad[i].redirect;

		EXPECT_NE(0, data_is(name, SEED_SECRET, MB, -1)) {
			TH_LOG("redirect %s: read the file it aims at", r);
		}
		if (strcmp(variant->fstype, "overlay")) {
			EXPECT_STREQ("own\n", slurp(name)) {
				TH_LOG("redirect %s", r);
			}
			continue;
		}
		EXPECT_EQ(bad[i].err, stat_err(name)) {
			TH_LOG("redirect %s: %s", r, strerror(-stat_err(name)));
		}
		EXPECT_EQ(bad[i].err, data_is(name, SEED_SECRET, MB, -1)) {
			TH_LOG("redirect %s: read", r);
		}
	}
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, -1));
}

TEST_F(mc, hostile_lower_redirect_to_sibling)
{
	/*
	 * A lower metacopy file redirected to another lower file: the
	 * format says to read that file's data (it is what a rename
	 * writes); only names inside the layers are reachable.  overlayfs
	 * takes st_size from the metacopy inode (4 here), yet reads all
	 * of the data file.
	 */
	ASSERT_EQ(0, mkfile(L0("sib"), "own\n"));
	ASSERT_EQ(0, set_x(L0("sib"), OVL_METACOPY_XATTR, "", 0));
	ASSERT_EQ(0, set_x(L0("sib"), OVL_REDIRECT_XATTR, "/d/x", 4));
	MOUNT_ON();
	EXPECT_EQ(0, data_is(M("sib"), SEED_X, MB, -1));
	EXPECT_EQ(4, lst(M("sib")).st_size);
	EXPECT_EQ(0, data_is(M("d/x"), SEED_X, MB, -1));
}

TEST_F(mc, hostile_redirect_on_non_metacopy)
{
	/* A redirect without metacopy on a regular file is not followed */
	ASSERT_EQ(0, mkfile(U("nr"), "own data\n"));
	ASSERT_EQ(0, set_x(U("nr"), OVL_REDIRECT_XATTR, "/f", 2));
	ASSERT_EQ(0, mkfile(L0("nl"), "lower own\n"));
	ASSERT_EQ(0, set_x(L0("nl"), OVL_REDIRECT_XATTR, "/f", 2));
	MOUNT_ON();
	EXPECT_STREQ("own data\n", slurp(M("nr")));
	EXPECT_STREQ("lower own\n", slurp(M("nl")));
}

/* ---- 9. one on-disk format: cowfs and overlayfs read each other's upper --- */

INTEROP_FIXTURE(mcio)

FIXTURE_SETUP(mcio)
{
	struct rw_env *rw = &self->rw;

	INTEROP_REQUIRE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 1, 0, NULL));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 0, "f"), SEED_F, MB));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 0, "g"), SEED_G, MB));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 0, "h"), SEED_SECRET, MB));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 0, "d/x"), SEED_X, MB));
	SETUP_ASSERT0(&rw->e, mkpat(LP(rw, 0, "a"), SEED_A, MB));
	SETUP_ASSERT0(&rw->e, link(LP(rw, 0, "a"), LP(rw, 0, "b")) ? -errno : 0);
	SETUP_ASSERT0(&rw->e, mkdir_p(LP(rw, 0, "e"), 0755));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 0, "t"), "t\n"));
}

static int io_mount(struct rw_env *rw, const char *fstype)
{
	drop_caches();
	return mount_mc(fstype, rw->e.mnt, (const char *const *)rw->e.layers,
			rw->e.nlayers, rw->upper, rw->work, "on");
}

/* What a name looks like: stat fields, xattrs of the user, all data. */
struct io_view {
	const char *rel;
	uint32_t seed;
	long poke;
};

static const struct io_view io_names[] = {
	{ "f", SEED_F, -1 }, { "g2", SEED_G, -1 }, { "e/y", SEED_X, -1 },
	{ "a", SEED_A, -1 }, { "b", SEED_A, -1 }, { "h", SEED_SECRET, 5 },
	{ "t", 0, -1 },
};

static void io_expect(struct __test_metadata *_metadata, struct rw_env *rw,
		      struct stat *st, bool record)
{
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(io_names); i++) {
		const struct io_view *v = &io_names[i];
		struct stat m = lst(MP(rw, v->rel));

		if (v->seed) {
			EXPECT_EQ(0, data_is(MP(rw, v->rel), v->seed, MB,
					     v->poke)) {
				TH_LOG("%s: data", v->rel);
			}
		} else {
			EXPECT_STREQ("t\n", slurp(MP(rw, v->rel)));
		}
		if (record) {
			st[i] = m;
			continue;
		}
		EXPECT_EQ(st[i].st_mode, m.st_mode) {
			TH_LOG("%s: mode", v->rel);
		}
		EXPECT_EQ(st[i].st_uid, m.st_uid);
		EXPECT_EQ(st[i].st_gid, m.st_gid);
		EXPECT_EQ(st[i].st_size, m.st_size);
		EXPECT_EQ(st[i].st_mtime, m.st_mtime) {
			TH_LOG("%s: mtime", v->rel);
		}
		EXPECT_EQ(st[i].st_blocks, m.st_blocks) {
			TH_LOG("%s: blocks", v->rel);
		}
		EXPECT_EQ(st[i].st_nlink, m.st_nlink) {
			TH_LOG("%s: nlink", v->rel);
		}
	}
	EXPECT_STREQ("v", xattr_str(MP(rw, "t"), "user.k"));
	EXPECT_EQ(-ENOENT, stat_err(MP(rw, "g")));
	EXPECT_EQ(-ENOENT, stat_err(MP(rw, "d/x")));
}

TEST_F_TIMEOUT(mcio, metacopy_upper, 120)
{
	struct stat st[ARRAY_LEN(io_names)];
	char *w, *r;

	ASSERT_EQ(0, io_mount(RW, variant->writer));
	ASSERT_EQ(0, chmod(M("f"), 0600));
	ASSERT_EQ(0, chown(M("g"), 5, 6));
	ASSERT_EQ(0, rename(M("g"), M("g2")));
	ASSERT_EQ(0, set_mtime(M("d/x"), 1000));
	ASSERT_EQ(0, rename(M("d/x"), M("e/y")));
	ASSERT_EQ(0, chmod(M("a"), 0700));
	ASSERT_EQ(0, chmod(M("h"), 0640));
	ASSERT_EQ(0, poke_byte(M("h"), 5));
	ASSERT_EQ(0, setxattr(M("t"), "user.k", "v", 1, 0));
	ASSERT_EQ(0, rw_umount(RW));

	/* The writer's upper: the overlayfs format */
	EXPECT_TRUE(has_metacopy(U("f")));
	EXPECT_TRUE(has_metacopy(U("g2")));
	EXPECT_TRUE(has_metacopy(U("e/y")));
	EXPECT_TRUE(has_metacopy(U("a")));
	EXPECT_TRUE(has_metacopy(U("t")));
	EXPECT_FALSE(has_metacopy(U("h")));
	EXPECT_GT(64, lst(U("f")).st_blocks);
	EXPECT_EQ(MB, lst(U("f")).st_size);
	EXPECT_STREQ("g", xattr_str(U("g2"), OVL_REDIRECT_XATTR));
	EXPECT_STREQ("/d/x", xattr_str(U("e/y"), OVL_REDIRECT_XATTR));
	EXPECT_TRUE(is_whiteout(U("g")));
	EXPECT_TRUE(is_whiteout(U("d/x")));

	ASSERT_EQ(0, io_mount(RW, variant->writer));
	io_expect(_metadata, RW, st, true);
	w = tree_snapshot(RW->e.mnt);
	ASSERT_EQ(0, rw_umount(RW));

	ASSERT_EQ(0, io_mount(RW, variant->reader));
	io_expect(_metadata, RW, st, false);
	r = tree_snapshot(RW->e.mnt);
	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, r);
	EXPECT_STREQ(w, r);
	free(w);
	free(r);

	/* The reader changes them, then the writer reads that back */
	ASSERT_EQ(0, poke_byte(M("f"), 0));
	ASSERT_EQ(0, chmod(M("e/y"), 0606));
	ASSERT_EQ(0, rename(M("g2"), M("e/g3")));
	ASSERT_EQ(0, rw_umount(RW));
	EXPECT_FALSE(has_metacopy(U("f")));
	EXPECT_TRUE(has_metacopy(U("e/y")));
	EXPECT_TRUE(has_metacopy(U("e/g3")));
	EXPECT_STREQ("/g", xattr_str(U("e/g3"), OVL_REDIRECT_XATTR));
	ASSERT_EQ(0, io_mount(RW, variant->writer));
	EXPECT_EQ(0, data_is(M("f"), SEED_F, MB, 0));
	EXPECT_EQ(0, data_is(M("e/y"), SEED_X, MB, -1));
	EXPECT_EQ(0100606, lst(M("e/y")).st_mode);
	EXPECT_EQ(0, data_is(M("e/g3"), SEED_G, MB, -1));
	EXPECT_EQ(5, lst(M("e/g3")).st_uid);
	ASSERT_EQ(0, rw_umount(RW));
}

TEST_HARNESS_MAIN
