// SPDX-License-Identifier: GPL-2.0
/*
 * Idmapped layers (issue 13): container runtimes hand a union lower and
 * upper layers that are idmapped mounts (mount_setattr(MOUNT_ATTR_IDMAP)),
 * so that one image serves containers with different id ranges.  Through
 * the union, owners are the ones the layer's mount shows, a copy-up gives
 * the upper file the owner seen through the lower mount (stored through
 * the upper mount's own mapping), and permission checks use the mapped
 * owners.  Two mappings: A shifts ids by 10000, B by 20000.
 *
 * Every case runs on cowfs and on overlayfs (the reference), which must
 * agree: FIXTURE_VARIANT.
 */
#include <sched.h>
#include <sys/fsuid.h>
#include <linux/mount.h>

#include "kselftest_harness.h"
#include "cowfs_util.h"

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP	0x00100000
#endif

#define SHIFT_A		10000
#define SHIFT_B		20000

static int sys_open_tree(int dfd, const char *path, unsigned int flags)
{
	return syscall(__NR_open_tree, dfd, path, flags);
}

static int sys_mount_setattr(int dfd, const char *path, unsigned int flags,
			     struct mount_attr *attr)
{
	return syscall(__NR_mount_setattr, dfd, path, flags, attr,
		       sizeof(*attr));
}

static int sys_move_mount(int from_dfd, const char *from, int to_dfd,
			  const char *to, unsigned int flags)
{
	return syscall(__NR_move_mount, from_dfd, from, to_dfd, to, flags);
}

/* A user namespace with uid_map and gid_map @map */
static int userns_fd(const char *map)
{
	int p[2], fd = -1;
	pid_t pid;
	char c;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(p[1]);
		if (unshare(CLONE_NEWUSER))
			_exit(1);
		/* Wait until the parent has taken the namespace */
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	/* The child's unshare() happens soon: retry until its ns differs */
	for (int i = 0; i < 1000 && fd < 0; i++) {
		struct stat a, b;

		if (!stat("/proc/self/ns/user", &a) &&
		    !stat(pathf("/proc/%d/ns/user", pid), &b) &&
		    a.st_ino != b.st_ino)
			fd = open(pathf("/proc/%d/ns/user", pid), O_RDONLY | O_CLOEXEC);
		else
			usleep(1000);
	}
	if (fd >= 0 &&
	    (write_str(pathf("/proc/%d/uid_map", pid), map, 0) ||
	     write_str(pathf("/proc/%d/setgroups", pid), "deny", 0) ||
	     write_str(pathf("/proc/%d/gid_map", pid), map, 0))) {
		close(fd);
		fd = -1;
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	return fd;
}

/* Mount @src again at @dst, idmapped by the namespace @nsfd */
static int idmapped_mount(const char *src, const char *dst, int nsfd)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP,
		.userns_fd = nsfd,
	};
	int fd, err = 0;

	fd = sys_open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (sys_mount_setattr(fd, "", AT_EMPTY_PATH, &attr) ||
	    sys_move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH))
		err = -errno;
	close(fd);
	return err;
}

static int owner(const char *path, uid_t *uid, gid_t *gid)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	*uid = st.st_uid;
	*gid = st.st_gid;
	return 0;
}

/* Run @fn(@arg) in a child with fsuid/fsgid @id; its return value */
static int as_fsid(uid_t id, int (*fn)(const char *), const char *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		setfsgid(id);
		setfsuid(id);
		_exit(-fn(arg) & 0xff);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -EINTR;
	return -WEXITSTATUS(status);
}

static int read_it(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int create_it(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

FIXTURE(idmap) {
	char base[64];
	int ns_a, ns_b, ns_c;
	bool mounted;
};

FIXTURE_VARIANT(idmap) {
	const char *fstype;
};

FIXTURE_VARIANT_ADD(idmap, cowfs) {
	.fstype = "cowfs",
};

FIXTURE_VARIANT_ADD(idmap, overlay) {
	.fstype = "overlay",
};

#define B(rel)	pathf("%s/%s", self->base, rel)

FIXTURE_SETUP(idmap)
{
	self->ns_a = self->ns_b = self->ns_c = -1;
	if (getuid() != 0)
		SKIP(return, "must run as root");
	if (!fs_registered(variant->fstype))
		system("modprobe -q overlay");
	if (!fs_registered(variant->fstype))
		SKIP(return, "no %s", variant->fstype);
	strcpy(self->base, "/tmp/idmap.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->base));
	/* A tmpfs of its own: idmapped mounts need a mount to clone */
	ASSERT_EQ(0, mount("tmpfs", self->base, "tmpfs", 0, "mode=0755"));
	self->ns_a = userns_fd("0 10000 65536\n");
	self->ns_b = userns_fd("0 20000 65536\n");
	/* B, but for root, which stays root (the mounter makes the workdir) */
	self->ns_c = userns_fd("0 0 1\n1 20001 65535\n");
	if (self->ns_a < 0 || self->ns_b < 0 || self->ns_c < 0)
		SKIP(return, "cannot make a user namespace (a chroot?)");

	/* On disk: l1/root-file (0:0), l1/user-file (1000:1000, 0600) */
	ASSERT_EQ(0, mkdir_p(B("disk/l1"), 0755) ?: mkdir_p(B("disk/l2"), 0755) ?:
		     mkdir_p(B("disk/up/u"), 0755) ?: mkdir_p(B("disk/up/w"), 0755) ?:
		     mkdir_p(B("l1"), 0755) ?: mkdir_p(B("l2"), 0755) ?:
		     mkdir_p(B("up"), 0755) ?: mkdir_p(B("m"), 0755));
	ASSERT_EQ(0, mkfile(B("disk/l1/root-file"), "root\n"));
	ASSERT_EQ(0, mkfile(B("disk/l1/user-file"), "user\n"));
	ASSERT_EQ(0, chown(B("disk/l1/user-file"), 1000, 1000));
	ASSERT_EQ(0, chmod(B("disk/l1/user-file"), 0600));
	ASSERT_EQ(0, mkfile(B("disk/l2/other"), "other\n"));
	ASSERT_EQ(0, chown(B("disk/l2/other"), 5, 5));
	/* The upper directory must be writable by whoever creates in it */
	ASSERT_EQ(0, chmod(B("disk/up/u"), 0777));
	/* l1 through mapping A, l2 through mapping B */
	ASSERT_EQ(0, idmapped_mount(B("disk/l1"), B("l1"), self->ns_a));
	ASSERT_EQ(0, idmapped_mount(B("disk/l2"), B("l2"), self->ns_b));
}

FIXTURE_TEARDOWN(idmap)
{
	if (!self->base[0])
		return;
	umount2(B("m"), MNT_DETACH);
	umount2(B("up"), MNT_DETACH);
	umount2(B("l1"), MNT_DETACH);
	umount2(B("l2"), MNT_DETACH);
	umount2(self->base, MNT_DETACH);
	rmdir(self->base);
	if (self->ns_a >= 0)
		close(self->ns_a);
	if (self->ns_b >= 0)
		close(self->ns_b);
	if (self->ns_c >= 0)
		close(self->ns_c);
}

/* The union of l1 and l2, with upper and work in @up (disk/up or up) */
static int idmap_union(const char *fstype, const char *base, const char *up)
{
	char opts[512];

	snprintf(opts, sizeof(opts), "lowerdir=%s/l1:%s/l2,upperdir=%s/u,workdir=%s/w",
		 base, base, up, up);
	if (!strcmp(fstype, "overlay"))
		strcat(opts, ",index=off,redirect_dir=on");
	return mount("none", pathf("%s/m", base), fstype, 0, opts) ? -errno : 0;
}

/* Lower owners are what each layer's mount shows, one mapping each */
TEST_F(idmap, lower_owners_through_two_mappings)
{
	uid_t uid;
	gid_t gid;

	ASSERT_EQ(0, idmap_union(variant->fstype, self->base, B("disk/up")));
	ASSERT_EQ(0, owner(B("m/root-file"), &uid, &gid));
	EXPECT_EQ(SHIFT_A, uid);
	EXPECT_EQ(SHIFT_A, gid);
	ASSERT_EQ(0, owner(B("m/user-file"), &uid, &gid));
	EXPECT_EQ(SHIFT_A + 1000, uid);
	EXPECT_EQ(SHIFT_A + 1000, gid);
	ASSERT_EQ(0, owner(B("m/other"), &uid, &gid));
	EXPECT_EQ(SHIFT_B + 5, uid);
	EXPECT_EQ(SHIFT_B + 5, gid);
}

/* A copy-up stores the owner seen through the lower mount */
TEST_F(idmap, copy_up_keeps_the_mapped_owner)
{
	uid_t uid;
	gid_t gid;
	int fd;

	ASSERT_EQ(0, idmap_union(variant->fstype, self->base, B("disk/up")));
	fd = open(B("m/other"), O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "+\n", 2));
	close(fd);
	ASSERT_EQ(0, owner(B("disk/up/u/other"), &uid, &gid));
	EXPECT_EQ(SHIFT_B + 5, uid);
	EXPECT_EQ(SHIFT_B + 5, gid);
	ASSERT_EQ(0, owner(B("m/other"), &uid, &gid));
	EXPECT_EQ(SHIFT_B + 5, uid);
	EXPECT_STREQ("other\n+\n", slurp(B("m/other")));
}

/* Permission checks use the mapped owner, not the one on disk */
TEST_F(idmap, permission_by_the_mapped_owner)
{
	ASSERT_EQ(0, idmap_union(variant->fstype, self->base, B("disk/up")));
	/* user-file: 0600, 1000 on disk, SHIFT_A + 1000 in the union */
	EXPECT_EQ(0, as_fsid(SHIFT_A + 1000, read_it, B("m/user-file")));
	EXPECT_EQ(-EACCES, as_fsid(1000, read_it, B("m/user-file")));
	EXPECT_EQ(-EACCES, as_fsid(SHIFT_B + 1000, read_it, B("m/user-file")));
}

/*
 * An idmapped upper layer, through mapping C (B, but root stays root, so
 * that the mounter can make the workdir's objects): what a caller with
 * fsuid SHIFT_B + 7 makes in the union is stored as 7 and shows as
 * SHIFT_B + 7; a caller whose id mapping C cannot store gets EOVERFLOW.
 * A lower file copied up keeps its mapped owner, stored through C.
 */
TEST_F(idmap, idmapped_upper)
{
	uid_t uid;
	gid_t gid;
	int fd;

	ASSERT_EQ(0, idmapped_mount(B("disk/up"), B("up"), self->ns_c));
	ASSERT_EQ(0, idmap_union(variant->fstype, self->base, B("up")));
	EXPECT_EQ(0, as_fsid(SHIFT_B + 7, create_it, B("m/made")));
	ASSERT_EQ(0, owner(B("disk/up/u/made"), &uid, &gid));
	EXPECT_EQ(7, uid);
	EXPECT_EQ(7, gid);
	ASSERT_EQ(0, owner(B("m/made"), &uid, &gid));
	EXPECT_EQ(SHIFT_B + 7, uid);
	EXPECT_EQ(-EOVERFLOW, as_fsid(3, create_it, B("m/unmapped")));
	EXPECT_EQ(-ENOENT, lstat_err(B("disk/up/u/unmapped")));

	/* other: SHIFT_B + 5 through the lower mount: stored as 5 */
	fd = open(B("m/other"), O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "+\n", 2));
	close(fd);
	ASSERT_EQ(0, owner(B("disk/up/u/other"), &uid, &gid));
	EXPECT_EQ(5, uid);
	EXPECT_EQ(5, gid);
	/* root-file: SHIFT_A through l1, which mapping B cannot store */
	fd = open(B("m/root-file"), O_WRONLY | O_APPEND);
	EXPECT_GT(0, fd);
	EXPECT_EQ(EOVERFLOW, errno);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-ENOENT, lstat_err(B("disk/up/u/root-file")));
}

TEST_HARNESS_MAIN
