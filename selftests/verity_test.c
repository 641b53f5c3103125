// SPDX-License-Identifier: GPL-2.0
/*
 * verity=off|on|require, as overlayfs has it (issue 15): a metacopy file
 * may record the fs-verity digest of its data in trusted.overlay.metacopy,
 * and the union checks it before the data is read.  On ext4 made with
 * -O verity, with fs-verity enabled on the data files (FS_IOC_ENABLE_VERITY):
 *  - verity=on: data matching the digest reads; a mismatch, or data
 *    without fs-verity under a digest, is EIO at open; a metacopy file
 *    without a digest reads; verity=off checks nothing;
 *  - verity=require: a metacopy file without a digest is EIO too;
 *  - a metacopy copy-up records the data's digest (version 0, length 36,
 *    algorithm 1, the SHA-256 digest FS_IOC_MEASURE_VERITY gives) when the
 *    data has fs-verity, an empty xattr when not; under verity=require a
 *    file without fs-verity is copied up whole;
 *  - the upper such a copy-up writes reads the same under the other
 *    filesystem with verity=require;
 *  - verity= turns metacopy on, conflicts with metacopy=off and userxattr.
 * Each case runs on overlayfs (the reference) and on cowfs.
 */
#include "kselftest_harness.h"
#include "metacopy_util.h"

#include <linux/fsverity.h>
#include <sys/ioctl.h>

#define OBJ_SIZE	(128 * 1024)

/* overlayfs's struct ovl_metacopy */
struct metacopy {
	uint8_t version, len, flags, algo;
	uint8_t digest[64];
} __attribute__((packed));

static int sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	ret = system(cmd);
	free(cmd);
	return ret == 0 ? 0 : -EIO;
}

static int enable_verity(const char *path)
{
	struct fsverity_enable_arg arg = {
		.version = 1,
		.hash_algorithm = FS_VERITY_HASH_ALG_SHA256,
		.block_size = 4096,
	};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_ENABLE_VERITY, &arg) ? -errno : 0;
	close(fd);
	return ret;
}

/* The xattr value overlayfs writes for @path's fs-verity digest */
static int measure(const char *path, struct metacopy *mc)
{
	struct {
		struct fsverity_digest d;
		uint8_t buf[64];
	} m = { .d.digest_size = 64 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_MEASURE_VERITY, &m.d) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	memset(mc, 0, sizeof(*mc));
	mc->len = 4 + m.d.digest_size;
	mc->algo = m.d.digest_algorithm;
	memcpy(mc->digest, m.d.digest, m.d.digest_size);
	return 0;
}

/* A metacopy file @path of the object at @redirect, recording @mc */
static int mkmeta(const char *path, const char *redirect,
		  const struct metacopy *mc)
{
	int ret = mkfile_data(path, "", 0, 0644);

	if (!ret && truncate(path, OBJ_SIZE))
		ret = -errno;
	if (!ret && lsetxattr(path, OVL_METACOPY_XATTR, mc, mc ? mc->len : 0,
			      0))
		ret = -errno;
	if (!ret && lsetxattr(path, OVL_REDIRECT_XATTR, redirect,
			      strlen(redirect), 0))
		ret = -errno;
	return ret;
}

FIXTURE(vt) {
	char base[64];
	char *dev;
	struct metacopy obj1;
};

FIXTURE_VARIANT(vt) {
	const char *fstype;
	const char *other;
};

FIXTURE_VARIANT_ADD(vt, overlay) {
	.fstype = "overlay",
	.other = "cowfs",
};

FIXTURE_VARIANT_ADD(vt, cowfs) {
	.fstype = "cowfs",
	.other = "overlay",
};

#define B(rel)	pathf("%s/fs/%s", self->base, rel)

FIXTURE_SETUP(vt)
{
	struct metacopy wrong;

	if (getuid() != 0)
		SKIP(return, "must run as root");
	if (!fs_registered(variant->fstype) &&
	    (strcmp(variant->fstype, "overlay") || !have_overlay()))
		SKIP(return, "no %s", variant->fstype);
	strcpy(self->base, "/tmp/verity.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	system("modprobe loop 2>/dev/null");
	ASSERT_EQ(0, sh("truncate -s 128M %s/img && mkfs.ext4 -q -F -O verity -b 4096 %s/img",
			self->base, self->base));
	ASSERT_EQ(0, sh("losetup --find --show %s/img >%s/dev", self->base,
			self->base));
	self->dev = strdup(slurp(pathf("%s/dev", self->base)));
	self->dev[strcspn(self->dev, "\n")] = '\0';
	ASSERT_EQ(0, sh("mkdir %s/fs && mount %s %s/fs", self->base, self->dev,
			self->base));
	ASSERT_EQ(0, sh("cd %s/fs && mkdir meta data upper work m data/ab",
			self->base));

	/* The object store, fs-verity on but for "nov" */
	ASSERT_EQ(0, mkpat(B("data/ab/obj1"), 1, OBJ_SIZE));
	ASSERT_EQ(0, mkpat(B("data/ab/obj2"), 2, OBJ_SIZE));
	ASSERT_EQ(0, mkpat(B("data/nov"), 3, OBJ_SIZE));
	ASSERT_EQ(0, enable_verity(B("data/ab/obj1")));
	ASSERT_EQ(0, enable_verity(B("data/ab/obj2")));
	ASSERT_EQ(0, measure(B("data/ab/obj1"), &self->obj1));
	ASSERT_EQ(36, self->obj1.len);
	ASSERT_EQ(FS_VERITY_HASH_ALG_SHA256, self->obj1.algo);

	/* The metadata layer */
	wrong = self->obj1;
	wrong.digest[0] ^= 1;
	ASSERT_EQ(0, mkmeta(B("meta/good"), "/ab/obj1", &self->obj1));
	ASSERT_EQ(0, mkmeta(B("meta/bad"), "/ab/obj2", &self->obj1));
	ASSERT_EQ(0, mkmeta(B("meta/wrong"), "/ab/obj1", &wrong));
	ASSERT_EQ(0, mkmeta(B("meta/nodigest"), "/ab/obj1", NULL));
	ASSERT_EQ(0, mkmeta(B("meta/noverity"), "/nov", &self->obj1));
}

FIXTURE_TEARDOWN(vt)
{
	sh("umount %s/fs/m 2>/dev/null; umount %s/fs 2>/dev/null", self->base,
	   self->base);
	if (self->dev)
		sh("losetup -d %s", self->dev);
	sh("rm -rf %s", self->base);
	free(self->dev);
}

/* Mount @type on fs/m over meta:data, with an upper if @upper */
static int vmount(FIXTURE_DATA(vt) *self, const char *type, bool upper,
		  const char *opts)
{
	char *o = pathf("lowerdir=%s:%s%s%s%s%s,redirect_dir=on,index=off%s%s",
			B("meta"), B("data"),
			upper ? ",upperdir=" : "", upper ? B("upper") : "",
			upper ? ",workdir=" : "", upper ? B("work") : "",
			*opts ? "," : "", opts);

	return mount("none", B("m"), type, 0, o) ? -errno : 0;
}

#define M(rel)	B(pathf("m/%s", rel))

TEST_F(vt, verity_on_checks_digests)
{
	ASSERT_EQ(0, vmount(self, variant->fstype, false, "verity=on"));
	EXPECT_EQ(0, data_is(M("good"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(-EIO, data_is(M("bad"), 2, OBJ_SIZE, -1));
	EXPECT_EQ(-EIO, data_is(M("wrong"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(-EIO, data_is(M("noverity"), 3, OBJ_SIZE, -1));
	EXPECT_EQ(0, data_is(M("nodigest"), 1, OBJ_SIZE, -1));
	/* The metadata is there all the same */
	EXPECT_EQ(0, access(M("bad"), F_OK));
}

TEST_F(vt, verity_require_wants_a_digest)
{
	ASSERT_EQ(0, vmount(self, variant->fstype, false, "verity=require"));
	EXPECT_EQ(0, data_is(M("good"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(-EIO, data_is(M("nodigest"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(-EIO, data_is(M("bad"), 2, OBJ_SIZE, -1));
}

TEST_F(vt, verity_off_checks_nothing)
{
	ASSERT_EQ(0, vmount(self, variant->fstype, false, "metacopy=on"));
	EXPECT_EQ(0, data_is(M("bad"), 2, OBJ_SIZE, -1));
	EXPECT_EQ(0, data_is(M("wrong"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(0, data_is(M("noverity"), 3, OBJ_SIZE, -1));
}

TEST_F(vt, copy_up_records_the_digest)
{
	struct metacopy got;
	struct stat st;
	ssize_t n;

	ASSERT_EQ(0, vmount(self, variant->fstype, true, "verity=on"));
	ASSERT_EQ(0, chmod(M("ab/obj1"), 0600));
	ASSERT_EQ(0, chmod(M("nov"), 0600));
	ASSERT_EQ(0, chmod(M("good"), 0600));
	n = lgetxattr(B("upper/ab/obj1"), OVL_METACOPY_XATTR, &got,
		      sizeof(got));
	ASSERT_EQ(36, n);
	EXPECT_EQ(0, memcmp(&got, &self->obj1, 36));
	/* No fs-verity on the data: an empty xattr, as without verity= */
	EXPECT_EQ(0, lgetxattr(B("upper/nov"), OVL_METACOPY_XATTR, NULL, 0));
	/* Of a metacopy file: the digest of its data, checked first */
	n = lgetxattr(B("upper/good"), OVL_METACOPY_XATTR, &got, sizeof(got));
	ASSERT_EQ(36, n);
	EXPECT_EQ(0, memcmp(&got, &self->obj1, 36));
	EXPECT_EQ(-EIO, ERRNO_OF(chmod(M("bad"), 0600)));
	EXPECT_EQ(0, data_is(M("ab/obj1"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(0, data_is(M("good"), 1, OBJ_SIZE, -1));

	/* The other filesystem reads that upper with verity=require */
	ASSERT_EQ(0, umount(B("m")));
	ASSERT_EQ(0, vmount(self, variant->other, true, "verity=require"));
	ASSERT_EQ(0, lstat(M("ab/obj1"), &st));
	EXPECT_EQ(0100600, st.st_mode);
	EXPECT_EQ(0, data_is(M("ab/obj1"), 1, OBJ_SIZE, -1));
	EXPECT_EQ(0, data_is(M("good"), 1, OBJ_SIZE, -1));
	/* And a write copies the checked data up */
	ASSERT_EQ(0, write_str(M("good"), "", O_APPEND));
	EXPECT_EQ(-ENODATA, ERRNO_OF(lgetxattr(B("upper/good"),
					       OVL_METACOPY_XATTR, NULL, 0)));
	EXPECT_EQ(0, data_is(B("upper/good"), 1, OBJ_SIZE, -1));
}

TEST_F(vt, require_copies_up_whole_without_verity)
{
	ASSERT_EQ(0, vmount(self, variant->fstype, true, "verity=require"));
	ASSERT_EQ(0, chmod(M("nov"), 0600));
	ASSERT_EQ(0, chmod(M("ab/obj2"), 0600));
	EXPECT_EQ(-ENODATA, ERRNO_OF(lgetxattr(B("upper/nov"),
					       OVL_METACOPY_XATTR, NULL, 0)));
	EXPECT_EQ(0, data_is(B("upper/nov"), 3, OBJ_SIZE, -1));
	EXPECT_EQ(36, lgetxattr(B("upper/ab/obj2"), OVL_METACOPY_XATTR, NULL,
				0));
	EXPECT_EQ(0, data_is(M("ab/obj2"), 2, OBJ_SIZE, -1));
}

TEST_F(vt, options)
{
	struct mnt_info mi;

	ASSERT_EQ(0, vmount(self, variant->fstype, true, "verity=on"));
	ASSERT_EQ(1, mountinfo_find(B("m"), &mi));
	EXPECT_NE(NULL, strstr(mi.super_opts, "metacopy=on"))
		TH_LOG("%s", mi.super_opts);
	EXPECT_NE(NULL, strstr(mi.super_opts, "verity=on"))
		TH_LOG("%s", mi.super_opts);
	mnt_info_free(&mi);
	ASSERT_EQ(0, umount(B("m")));
	EXPECT_EQ(-EINVAL, vmount(self, variant->fstype, true,
				  "metacopy=off,verity=on"));
	EXPECT_EQ(-EINVAL, vmount(self, variant->fstype, true,
				  "userxattr,verity=require"));
}

TEST_HARNESS_MAIN
