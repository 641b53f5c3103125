// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes on a writable union: user.*, security.*, trusted.*
 * and POSIX ACLs (raw system.posix_acl_* xattrs, as setfacl writes them)
 * read from the real object and written to the upper one after a
 * copy-up; the trusted.overlay.* names the union keeps its bookkeeping
 * in are neither listed nor readable nor writable through it.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

#define ACL_ACCESS	"system.posix_acl_access"
#define ACL_DEFAULT	"system.posix_acl_default"

/* user::rw- user:65534:r-- group::--- mask::r-- other::--- */
static const unsigned char acl_nobody_r[] = {
	2, 0, 0, 0,
	1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
	2, 0, 4, 0, 0xfe, 0xff, 0, 0,
	4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
	0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
	0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
};

/* user::rwx user:65534:rwx group::r-x mask::rwx other::r-x */
static const unsigned char acl_default_dir[] = {
	2, 0, 0, 0,
	1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	2, 0, 7, 0, 0xfe, 0xff, 0, 0,
	4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
	0x10, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
};

FIXTURE(xa) {
	struct rw_env rw;
};

FIXTURE_SETUP(xa)
{
	struct rw_env *rw = &self->rw;

	REQUIRE_FSTYPE();
	SETUP_ASSERT0(&rw->e, rw_init(rw, 1, 0, NULL));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 0, "f"), "f\n"));
	SETUP_ASSERT0(&rw->e, mkfile(LP(rw, 0, "secret"), "secret\n"));
	SETUP_ASSERT0(&rw->e, mkdir_p(LP(rw, 0, "d"), 0755));
	SETUP_ASSERT0(&rw->e, mkdir_p(LP(rw, 0, "pub"), 0777));
	SETUP_ASSERT0(&rw->e, ERRNO_OF(chmod(LP(rw, 0, "secret"), 0600)));
	SETUP_ASSERT0(&rw->e, ERRNO_OF(chmod(LP(rw, 0, "pub"), 0777)));
	SETUP_ASSERT0(&rw->e, ERRNO_OF(setxattr(LP(rw, 0, "f"), "user.l",
						"lower", 5, 0)));
	SETUP_ASSERT0(&rw->e, rw_mount(rw, NULL));
}

FIXTURE_TEARDOWN(xa)
{
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

/* Is @name in the listxattr() of @path? */
static bool lists_xattr(const char *path, const char *name)
{
	char buf[4096];
	ssize_t n = llistxattr(path, buf, sizeof(buf));
	char *p;

	for (p = buf; n > 0 && p < buf + n; p += strlen(p) + 1)
		if (!strcmp(p, name))
			return true;
	return false;
}

/* Does the listxattr() of @path have a name starting with @prefix? */
static bool lists_prefix(const char *path, const char *prefix)
{
	char buf[4096];
	ssize_t n = llistxattr(path, buf, sizeof(buf));
	char *p;

	for (p = buf; n > 0 && p < buf + n; p += strlen(p) + 1)
		if (!strncmp(p, prefix, strlen(prefix)))
			return true;
	return false;
}

TEST_F(xa, read_lower_user_xattr_without_copy_up)
{
	EXPECT_STREQ("lower", xattr_str(M("f"), "user.l"));
	EXPECT_TRUE(lists_xattr(M("f"), "user.l"));
	EXPECT_EQ(5, getxattr(M("f"), "user.l", NULL, 0));
	EXPECT_EQ(0, ftype(UP(RW, "f")));
}

TEST_F(xa, set_user_xattr_copies_up)
{
	ASSERT_EQ(0, setxattr(M("f"), "user.new", "v", 1, 0));
	EXPECT_STREQ("v", xattr_str(M("f"), "user.new"));
	EXPECT_STREQ("v", xattr_str(UP(RW, "f"), "user.new"));
	EXPECT_STREQ("lower", xattr_str(UP(RW, "f"), "user.l"));
	EXPECT_STREQ("<No data available>", xattr_str(LP(RW, 0, "f"), "user.new"));
}

TEST_F(xa, xattr_create_flag_on_lower_name)
{
	EXPECT_EQ(-EEXIST, ERRNO_OF(setxattr(M("f"), "user.l", "x", 1,
					     XATTR_CREATE)));
	EXPECT_EQ(-ENODATA, ERRNO_OF(setxattr(M("f"), "user.none", "x", 1,
					      XATTR_REPLACE)));
	EXPECT_STREQ("lower", xattr_str(M("f"), "user.l"));
}

TEST_F(xa, remove_lower_user_xattr)
{
	ASSERT_EQ(0, removexattr(M("f"), "user.l"));
	EXPECT_STREQ("<No data available>", xattr_str(M("f"), "user.l"));
	EXPECT_FALSE(lists_xattr(M("f"), "user.l"));
	EXPECT_STREQ("lower", xattr_str(LP(RW, 0, "f"), "user.l"));
}

TEST_F(xa, user_xattr_on_lower_dir)
{
	ASSERT_EQ(0, setxattr(M("d"), "user.dir", "dv", 2, 0));
	EXPECT_STREQ("dv", xattr_str(M("d"), "user.dir"));
	EXPECT_STREQ("dv", xattr_str(UP(RW, "d"), "user.dir"));
}

TEST_F(xa, security_xattr)
{
	ASSERT_EQ(0, setxattr(M("f"), "security.cowfs_test", "sec", 3, 0));
	EXPECT_STREQ("sec", xattr_str(M("f"), "security.cowfs_test"));
	EXPECT_STREQ("sec", xattr_str(UP(RW, "f"), "security.cowfs_test"));
	EXPECT_TRUE(lists_xattr(M("f"), "security.cowfs_test"));
}

TEST_F(xa, other_trusted_xattr_allowed)
{
	ASSERT_EQ(0, setxattr(M("f"), "trusted.cowfs_test", "t", 1, 0));
	EXPECT_STREQ("t", xattr_str(M("f"), "trusted.cowfs_test"));
	EXPECT_STREQ("t", xattr_str(UP(RW, "f"), "trusted.cowfs_test"));
	EXPECT_TRUE(lists_xattr(M("f"), "trusted.cowfs_test"));
}

static int list_has_trusted(const void *arg)
{
	return lists_prefix(arg, "trusted.") ? 1 : 0;
}

TEST_F(xa, trusted_not_listed_to_unprivileged)
{
	ASSERT_EQ(0, setxattr(M("f"), "trusted.cowfs_test", "t", 1, 0));
	ASSERT_EQ(0, setxattr(M("f"), "user.seen", "u", 1, 0));
	EXPECT_EQ(0, run_as_nobody(list_has_trusted, M("f")));
}

TEST_F(xa, overlay_xattrs_not_listed)
{
	ASSERT_EQ(0, chmod(M("f"), 0640));
	ASSERT_EQ(0, rename(M("d"), M("d2")));
	ASSERT_EQ(0, unlink(M("f")));
	ASSERT_EQ(0, mkdir(M("f"), 0755));
	/* The upper has origin, redirect and opaque xattrs now */
	ASSERT_LT(0, lgetxattr(UP(RW, "d2"), OVL_REDIRECT_XATTR, NULL, 0));
	ASSERT_LT(0, lgetxattr(UP(RW, "f"), COWFS_OPAQUE_XATTR, NULL, 0));
	EXPECT_FALSE(lists_prefix(M("d2"), "trusted.overlay."));
	EXPECT_FALSE(lists_prefix(M("f"), "trusted.overlay."));
	EXPECT_FALSE(lists_prefix(M(""), "trusted.overlay."));
}

TEST_F(xa, origin_not_listed)
{
	ASSERT_EQ(0, chmod(M("f"), 0640));
	ASSERT_LT(0, lgetxattr(UP(RW, "f"), OVL_ORIGIN_XATTR, NULL, 0));
	EXPECT_FALSE(lists_prefix(M("f"), "trusted.overlay."));
	EXPECT_TRUE(lists_xattr(M("f"), "user.l"));
}

/*
 * cowfs refuses the trusted.overlay.* names to users; overlayfs (6.7+)
 * stores them escaped as trusted.overlay.overlay.* instead, for nesting.
 * See docs/overlay-differences.md.
 */
TEST_F(xa, overlay_xattr_get_refused)
{
	ASSERT_EQ(0, rename(M("d"), M("d2")));
	ASSERT_LT(0, lgetxattr(UP(RW, "d2"), OVL_REDIRECT_XATTR, NULL, 0));
	EXPECT_EQ(is_overlay() ? -ENODATA : -EOPNOTSUPP,
		  ERRNO_OF(getxattr(M("d2"), OVL_REDIRECT_XATTR, NULL, 0)));
}

TEST_F(xa, overlay_xattr_set_refused)
{
	int ret = ERRNO_OF(setxattr(M("d"), COWFS_OPAQUE_XATTR, "y", 1, 0));

	if (is_overlay()) {
		EXPECT_EQ(0, ret);
		/* escaped: the directory did not become opaque */
		EXPECT_STREQ("<No data available>",
			     xattr_str(UP(RW, "d"), COWFS_OPAQUE_XATTR));
		return;
	}
	EXPECT_EQ(-EOPNOTSUPP, ret);
	/* Refused before anything was copied up */
	EXPECT_EQ(0, ftype(UP(RW, "d")));
}

TEST_F(xa, overlay_xattr_remove_refused)
{
	ASSERT_EQ(0, rename(M("d"), M("d2")));
	EXPECT_EQ(is_overlay() ? -ENODATA : -EOPNOTSUPP,
		  ERRNO_OF(removexattr(M("d2"), OVL_REDIRECT_XATTR)));
	EXPECT_STREQ("d", xattr_str(UP(RW, "d2"), OVL_REDIRECT_XATTR));
}

static int open_as_nobody(const void *arg)
{
	int fd = open(arg, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

TEST_F(xa, acl_set_and_enforced)
{
	unsigned char buf[256];

	ASSERT_EQ(EACCES, run_as_nobody(open_as_nobody, M("secret")));
	ASSERT_EQ(0, setxattr(M("secret"), ACL_ACCESS, acl_nobody_r,
			      sizeof(acl_nobody_r), 0));
	ASSERT_EQ(sizeof(acl_nobody_r),
		  getxattr(UP(RW, "secret"), ACL_ACCESS, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, acl_nobody_r, sizeof(acl_nobody_r)));
	EXPECT_EQ(0, run_as_nobody(open_as_nobody, M("secret")));
	/* The lower file has no ACL */
	EXPECT_EQ(-ENODATA, ERRNO_OF(getxattr(LP(RW, 0, "secret"), ACL_ACCESS,
					      buf, sizeof(buf))));
}

TEST_F(xa, acl_read_back_through_union)
{
	unsigned char buf[256];

	ASSERT_EQ(0, setxattr(M("secret"), ACL_ACCESS, acl_nobody_r,
			      sizeof(acl_nobody_r), 0));
	ASSERT_EQ(sizeof(acl_nobody_r),
		  getxattr(M("secret"), ACL_ACCESS, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, acl_nobody_r, sizeof(acl_nobody_r)));
	EXPECT_TRUE(lists_xattr(M("secret"), ACL_ACCESS));
}

TEST_F(xa, acl_removed)
{
	ASSERT_EQ(0, setxattr(M("secret"), ACL_ACCESS, acl_nobody_r,
			      sizeof(acl_nobody_r), 0));
	ASSERT_EQ(0, removexattr(M("secret"), ACL_ACCESS));
	EXPECT_EQ(EACCES, run_as_nobody(open_as_nobody, M("secret")));
	EXPECT_EQ(-ENODATA, ERRNO_OF(getxattr(UP(RW, "secret"), ACL_ACCESS,
					      NULL, 0)));
}

TEST_F(xa, acl_on_lower_file_enforced)
{
	/* An ACL that only a lower layer holds still counts */
	ASSERT_EQ(0, rw_umount(RW));
	ASSERT_EQ(0, setxattr(LP(RW, 0, "secret"), ACL_ACCESS, acl_nobody_r,
			      sizeof(acl_nobody_r), 0));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	EXPECT_EQ(0, run_as_nobody(open_as_nobody, M("secret")));
	EXPECT_EQ(0, ftype(UP(RW, "secret")));
}

TEST_F(xa, default_acl_inherited_by_new_file)
{
	unsigned char buf[256];
	ssize_t n;

	ASSERT_EQ(0, setxattr(M("d"), ACL_DEFAULT, acl_default_dir,
			      sizeof(acl_default_dir), 0));
	ASSERT_EQ(0, mkfile(M("d/new"), "n\n"));
	n = getxattr(UP(RW, "d/new"), ACL_ACCESS, buf, sizeof(buf));
	ASSERT_LT(0, n) TH_LOG("no inherited ACL: %s", strerror(errno));
	/* The second entry is the named user of the default ACL */
	ASSERT_LE(20, n);
	EXPECT_EQ(2, buf[12]);
	EXPECT_EQ(0, memcmp(buf + 16, acl_default_dir + 16, 4));
}

TEST_HARNESS_MAIN
