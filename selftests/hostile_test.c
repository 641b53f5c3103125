// SPDX-License-Identifier: GPL-2.0
/*
 * Layers that a registry may hand us, and what a union must survive
 * (issue 11): objects of different types at one name across layers,
 * crafted trusted.overlay.origin values that claim another object, and
 * names the union must report consistently.  Each case is one that
 * crashed cowfs or showed the wrong object before its fix.  Errors are
 * fine where a layer makes no sense; a wrong object or a splat is not.
 *
 * Also: writes through the union never use the upper filesystem's
 * reserved blocks (the mounter's CAP_SYS_RESOURCE is dropped).
 *
 * COWFS_TEST_FSTYPE=overlay runs the same checks on overlayfs.
 */
#include "kselftest_harness.h"
#include "cowfs_rw.h"

#include <pthread.h>
#include <sys/statvfs.h>

FIXTURE(hostile) {
	struct rw_env rw;
};

FIXTURE_SETUP(hostile)
{
	REQUIRE_FSTYPE();
	ASSERT_EQ(0, rw_init(&self->rw, 2, RW_UPPER_FS, NULL));
}

FIXTURE_TEARDOWN(hostile)
{
	rw_cleanup(&self->rw);
}

#define RW	(&self->rw)
#define M(rel)	MP(RW, rel)

/* Entries of directory @dir but "." and "..", sorted, "," separated. */
static const char *listing(const char *dir)
{
	static char buf[4096];
	struct dirent **names;
	size_t len = 0;
	int i, n;

	n = scandir(dir, &names, snap_filter, alphasort);
	if (n < 0) {
		snprintf(buf, sizeof(buf), "<%s>", strerror(errno));
		return buf;
	}
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s",
				i ? "," : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return buf;
}

/*
 * An executable file in a lower layer, a directory of the same name in
 * the upper: the directory hides the file, nothing merges below it (it
 * used to: a lookup below went through the file, NULL ->lookup, oops).
 */
TEST_F(hostile, upper_dir_over_lower_file)
{
	struct stat st;
	int fd;

	ASSERT_EQ(0, mkfile(LP(RW, 0, "x"), "#!/bin/sh\necho hi\n"));
	ASSERT_EQ(0, chmod(LP(RW, 0, "x"), 0755));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "f"), "lower f\n"));
	ASSERT_EQ(0, mkdir_p(UP(RW, "x"), 0755));
	ASSERT_EQ(0, mkfile(UP(RW, "x/mine"), "upper\n"));
	ASSERT_EQ(0, mkdir_p(UP(RW, "f/sub"), 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	ASSERT_EQ(0, stat(M("x"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(-ENOENT, stat_err(M("x/y")));
	EXPECT_EQ(-ENOENT, stat_err(M("x/y/z")));
	EXPECT_STREQ("mine", listing(M("x")));
	EXPECT_STREQ("upper\n", slurp(M("x/mine")));
	EXPECT_STREQ("sub", listing(M("f")));
	EXPECT_EQ(-ENOENT, stat_err(M("f/nothing")));

	/* And it is writable as a directory of its own */
	fd = open(M("x/new"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_STREQ("mine,new", listing(M("x")));
	EXPECT_EQ(0, rmdir(M("f/sub")));
	EXPECT_EQ(0, rmdir(M("f")));
	EXPECT_EQ(-ENOENT, stat_err(M("f")));
	EXPECT_EQ(0, rw_umount(RW));
}

/* The same between lower layers, and a directory over a symlink. */
TEST_F(hostile, lower_dir_over_lower_nondir)
{
	struct stat st;

	ASSERT_EQ(0, mkdir_p(LP(RW, 0, "d"), 0755));
	ASSERT_EQ(0, mkfile(LP(RW, 0, "d/top"), "top\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "d"), "a file below\n"));
	ASSERT_EQ(0, mkdir_p(LP(RW, 0, "s"), 0755));
	ASSERT_EQ(0, mksymlink(LP(RW, 1, "s"), "/"));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	ASSERT_EQ(0, stat(M("d"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_STREQ("top", listing(M("d")));
	EXPECT_EQ(-ENOENT, stat_err(M("d/x")));
	EXPECT_STREQ("", listing(M("s")));
	EXPECT_EQ(-ENOENT, stat_err(M("s/etc")));
	/* Copy-up of the directory takes only what the union shows */
	EXPECT_EQ(0, mkfile(M("d/more"), "more\n"));
	EXPECT_STREQ("more,top", listing(M("d")));
	EXPECT_EQ(0, rw_umount(RW));
}

/*
 * Redirects that climb ("..", ".") are not followed: the directory shows
 * its own contents.  (They used to make the lookup fail with EACCES, as
 * overlayfs's does: cowfs ignores them as it ignores other bad redirects.)
 */
TEST_F(hostile, climbing_redirects_ignored)
{
	static const char *const bad[] = {
		"/../d2", "../d2", "/a/../d2", "/./d2", "..", ".",
	};
	unsigned int i;

	if (is_overlay())
		SKIP(return, "overlayfs fails the lookup (EACCES) instead");
	ASSERT_EQ(0, mkdir_p(LP(RW, 1, "d2"), 0755));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "d2/secret"), "below\n"));
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		const char *d = pathf("r%u", i);

		ASSERT_EQ(0, mkdir_p(LP(RW, 0, d), 0755));
		ASSERT_EQ(0, mkfile(LP(RW, 0, pathf("%s/own", d)), "own\n"));
		ASSERT_EQ(0, setxattr(LP(RW, 0, d), OVL_REDIRECT_XATTR, bad[i],
				      strlen(bad[i]), 0));
	}
	ASSERT_EQ(0, rw_mount(RW, NULL));
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		EXPECT_STREQ("own", listing(M(pathf("r%u", i))))
			TH_LOG("redirect '%s'", bad[i]);
	}
	EXPECT_EQ(0, rw_umount(RW));
}

/*
 * readdir's d_ino is the st_ino that stat gives, for every name, those
 * that start with a dot included (they used to keep the upper's number).
 */
TEST_F(hostile, dot_names_d_ino_matches_st_ino)
{
	static const char *const names[] = {
		".hidden", "..x", ".a.b", "visible", "...",
	};
	struct dirent *de;
	unsigned int i, seen = 0;
	DIR *d;

	for (i = 0; i < ARRAY_LEN(names); i++)
		ASSERT_EQ(0, mkfile(LP(RW, 0, names[i]), "lower\n"));
	/* The layers span filesystems: overlayfs needs xino for this */
	ASSERT_EQ(0, rw_mount(RW, is_overlay() ? "xino=on" : NULL));
	for (i = 0; i < ARRAY_LEN(names); i++)
		ASSERT_EQ(0, mkfile(M(names[i]), "copied up\n"));

	d = opendir(M(""));
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ASSERT_EQ(0, lstat(M(de->d_name), &st));
		EXPECT_EQ(st.st_ino, de->d_ino)
			TH_LOG("'%s': d_ino %llu, st_ino %llu", de->d_name,
			       (unsigned long long)de->d_ino,
			       (unsigned long long)st.st_ino);
		seen++;
	}
	closedir(d);
	EXPECT_EQ(ARRAY_LEN(names), seen);
	EXPECT_EQ(0, rw_umount(RW));
}

/*
 * The origin a copy-up records for lower file "f", as bytes; *len its
 * length.  Made by the filesystem under test itself.
 */
static int origin_of_f(struct __test_metadata *_metadata, struct rw_env *rw,
		       char *buf, size_t size)
{
	ssize_t len;

	if (mkfile(LP(rw, 0, "f"), "lower\n") || rw_mount(rw, NULL))
		return -1;
	if (chmod(MP(rw, "f"), 0640) || rw_umount(rw))
		return -1;
	len = lgetxattr(UP(rw, "f"), OVL_ORIGIN_XATTR, buf, size);
	if (len <= 0)
		return -1;
	/* Back to a pristine upper: f is the lower file again */
	if (unlink(UP(rw, "f")))
		return -1;
	TH_LOG("origin of f: %zd bytes", len);
	return len;
}

/*
 * An upper symlink whose origin names lower regular file "f": the origin
 * is ignored.  It used to make "f" and the symlink share one inode, so
 * that "f" read as a symlink (or a symlink as a file).
 */
TEST_F(hostile, origin_of_another_type)
{
	char origin[256], target[64];
	ssize_t n;
	int len;

	len = origin_of_f(_metadata, RW, origin, sizeof(origin));
	if (len < 0)
		SKIP(return, "no origin on this upper (no file handles?)");
	ASSERT_EQ(0, symlink("somewhere", UP(RW, "a")));
	ASSERT_EQ(0, lsetxattr(UP(RW, "a"), OVL_ORIGIN_XATTR, origin, len, 0));
	ASSERT_EQ(0, mkdir(UP(RW, "dir"), 0755));
	ASSERT_EQ(0, setxattr(UP(RW, "dir"), OVL_ORIGIN_XATTR, origin, len, 0));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	/* The crafted one first: its inode must not be taken for f's */
	EXPECT_EQ(S_IFLNK, ftype(M("a")));
	EXPECT_EQ(S_IFDIR, ftype(M("dir")));
	EXPECT_EQ(S_IFREG, ftype(M("f")));
	EXPECT_STREQ("lower\n", slurp(M("f")));
	n = readlink(M("a"), target, sizeof(target) - 1);
	ASSERT_LT(0, n);
	target[n] = '\0';
	EXPECT_STREQ("somewhere", target);
	EXPECT_EQ(0, rw_umount(RW));
}

/*
 * Two upper files claim one origin: each name shows its own data or
 * fails; none shows the other's.  (Both used to share the first one's
 * inode, so the second read the first one's data.)
 */
TEST_F(hostile, two_uppers_one_origin)
{
	static const char *const names[] = { "a", "b", "c" };
	char origin[256];
	unsigned int i, ok = 0;
	int len;

	len = origin_of_f(_metadata, RW, origin, sizeof(origin));
	if (len < 0)
		SKIP(return, "no origin on this upper (no file handles?)");
	ASSERT_EQ(0, mkwhiteout(UP(RW, "f")));
	for (i = 0; i < ARRAY_LEN(names); i++) {
		ASSERT_EQ(0, mkfile(UP(RW, names[i]), pathf("%s's\n", names[i])));
		ASSERT_EQ(0, setxattr(UP(RW, names[i]), OVL_ORIGIN_XATTR,
				      origin, len, 0));
	}
	ASSERT_EQ(0, rw_mount(RW, NULL));

	for (i = 0; i < ARRAY_LEN(names); i++) {
		char buf[64];
		ssize_t n = read_file(M(names[i]), buf, sizeof(buf));

		if (n < 0) {
			TH_LOG("%s: %s", names[i], strerror(-n));
			continue;
		}
		EXPECT_STREQ(pathf("%s's\n", names[i]), buf);
		ok++;
	}
	EXPECT_LE(1, ok);
	EXPECT_EQ(-ENOENT, stat_err(M("f")));
	EXPECT_EQ(0, rw_umount(RW));
}

/*
 * An upper file g whose origin is lower file f: looked up first, g makes
 * f an alias of itself (f reads g's data, as on overlayfs).  Once g is
 * removed, f must be the lower file again, not a file with no links that
 * cannot be opened for writing (found by image_fuzz seed 17000551).
 */
TEST_F(hostile, origin_alias_after_its_upper_goes)
{
	char origin[256];
	struct stat st;
	int len;

	len = origin_of_f(_metadata, RW, origin, sizeof(origin));
	if (len < 0)
		SKIP(return, "no origin on this upper (no file handles?)");
	ASSERT_EQ(0, mkfile(UP(RW, "g"), "upper g\n"));
	ASSERT_EQ(0, setxattr(UP(RW, "g"), OVL_ORIGIN_XATTR, origin, len, 0));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	ASSERT_EQ(0, stat(M("g"), &st));
	ASSERT_EQ(0, stat(M("f"), &st));
	ASSERT_EQ(0, unlink(M("g")));
	ASSERT_EQ(0, stat(M("f"), &st));
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_STREQ("lower\n", slurp(M("f")));
	EXPECT_EQ(0, write_str(M("f"), "written\n", O_APPEND));
	EXPECT_STREQ("lower\nwritten\n", slurp(M("f")));
	EXPECT_EQ(0, rw_umount(RW));
}

/*
 * A redirect in a lower layer shows one lower file at two names: b
 * redirects to a, so a/x and b/x are the same file, and share one inode.
 * Once written through b/x, the file has an upper object, but a/x's name
 * is not in the upper layer yet.  Renaming, exchanging or removing a/x
 * must put it there first (a hard link, as overlayfs's link-up).  The
 * rename used to take a/x for copied up, and dereference its parent's
 * missing upper directory (found by image_fuzz seed 964475942); unlink
 * failed with ESTALE, as it still does on overlayfs.
 */
TEST_F(hostile, one_lower_file_at_two_names)
{
	struct stat sa, sb;

	ASSERT_EQ(0, mkfile(LP(RW, 1, "a/x"), "lower\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "a/e"), "e\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "a/u"), "u\n"));
	ASSERT_EQ(0, mkfile(LP(RW, 1, "c"), "c\n"));
	ASSERT_EQ(0, mkdir_p(LP(RW, 0, "b"), 0755));
	ASSERT_EQ(0, setxattr(LP(RW, 0, "b"), OVL_REDIRECT_XATTR, "a", 1, 0));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	ASSERT_STREQ("e,u,x", listing(M("b")));
	ASSERT_EQ(0, mkfile(M("b/x"), "new\n"));
	ASSERT_EQ(0, mkfile(M("b/e"), "new e\n"));
	ASSERT_EQ(0, mkfile(M("b/u"), "new u\n"));
	ASSERT_EQ(0, stat(M("a/x"), &sa));
	ASSERT_EQ(0, stat(M("b/x"), &sb));
	EXPECT_EQ(sa.st_ino, sb.st_ino);
	EXPECT_STREQ("new\n", slurp(M("a/x")));

	/* a has no upper directory yet: the exchange must make it */
	EXPECT_EQ(0, rw_renameat2(M("a/e"), M("c"), RENAME_EXCHANGE));
	EXPECT_EQ(0, rename(M("a/x"), M("a/y")));
	/* overlayfs without index=on fails this one (ESTALE) */
	EXPECT_EQ(is_overlay() ? -ESTALE : 0, ERRNO_OF(unlink(M("a/u"))));
	EXPECT_STREQ("new\n", slurp(M("a/y")));
	EXPECT_STREQ(is_overlay() ? "e,u,y" : "e,y", listing(M("a")));

	ASSERT_EQ(0, rw_remount(RW));
	EXPECT_STREQ(is_overlay() ? "e,u,y" : "e,y", listing(M("a")));
	EXPECT_STREQ("new\n", slurp(M("a/y")));
	EXPECT_STREQ("new\n", slurp(M("b/x")));
	EXPECT_STREQ("c\n", slurp(M("a/e")));
	EXPECT_STREQ("new e\n", slurp(M("c")));
	EXPECT_STREQ("new e\n", slurp(M("b/e")));
	EXPECT_STREQ("new u\n", slurp(M("b/u")));
	EXPECT_EQ(0, rw_umount(RW));
}

#define RCU_DEPTH	6
#define RCU_WALKERS	4
#define RCU_SECONDS	4

static volatile int rcu_stop;

static void *rcu_walker(void *arg)
{
	const char *path = arg;
	unsigned long n = 0;
	struct stat st;

	while (!rcu_stop) {
		/* Path walk checks permission on every cowfs directory */
		if (stat(path, &st) && errno != ENOENT)
			return (void *)-1L;
		n++;
	}
	return (void *)n;
}

/*
 * Inodes evicted while path walks (RCU walk: cowfs_permission() without
 * references) go through them.  The lower stack used to be freed at
 * ->destroy_inode, before the RCU grace period: a use after free that
 * only a KASAN kernel reports (make check-debug); here it must simply
 * keep working.
 */
TEST_F(hostile, rcu_walk_while_evicting)
{
	pthread_t th[RCU_WALKERS];
	char deep[PATH_MAX] = "";
	unsigned long total = 0;
	int i, d;

	for (d = 0; d < RCU_DEPTH; d++)
		strcat(deep, d ? "/d" : "d");
	ASSERT_EQ(0, mkdir_p(LP(RW, 0, deep), 0755));
	ASSERT_EQ(0, mkdir_p(LP(RW, 1, deep), 0755));
	ASSERT_EQ(0, mkfile(LP(RW, 1, pathf("%s/f", deep)), "f\n"));
	ASSERT_EQ(0, rw_mount(RW, NULL));
	strcat(deep, "/f");

	rcu_stop = 0;
	for (i = 0; i < RCU_WALKERS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, rcu_walker,
					    strdup(M(deep))));
	for (i = 0; i < RCU_SECONDS * 20; i++) {
		drop_caches();
		usleep(50 * 1000);
	}
	rcu_stop = 1;
	for (i = 0; i < RCU_WALKERS; i++) {
		void *ret;

		ASSERT_EQ(0, pthread_join(th[i], &ret));
		EXPECT_NE((void *)-1L, ret);
		total += (unsigned long)ret;
	}
	TH_LOG("%lu stats while evicting", total);
	EXPECT_STREQ("f\n", slurp(M(deep)));
	EXPECT_EQ(0, rw_umount(RW));
}

/* Run @cmd (sh -c), quietly. */
static int sh(const char *cmd)
{
	char *full = NULL;
	int ret;

	if (asprintf(&full, "%s >/dev/null 2>&1", cmd) < 0)
		return -1;
	ret = system(full);
	free(full);
	return ret;
}

/*
 * An ext4 upper with a quarter of its blocks reserved (for another uid,
 * so that only CAP_SYS_RESOURCE can take them): writes through the union
 * stop at ENOSPC before the reserve, even root's (overlayfs drops the
 * mounter's CAP_SYS_RESOURCE for the same reason: quotas and reserves
 * hold for what containers write).
 */
TEST_F(hostile, reserved_blocks_stay_reserved)
{
	const char *img = pathf("%s/ext4.img", RW->e.base);
	const char *fs = pathf("%s/ext4", RW->e.base);
	static char chunk[256 * 1024];
	struct statvfs before, after;
	unsigned long long reserved;
	int fd;

	if (sh("command -v mkfs.ext4") ||
	    sh("modprobe -q ext4 && modprobe -q loop"))
		SKIP(return, "needs mkfs.ext4 and the ext4 and loop modules");
	ASSERT_EQ(0, sh(pathf("truncate -s 64M %s && mkfs.ext4 -q -F -m 25 %s",
			      img, img)));
	ASSERT_EQ(0, mkdir_p(fs, 0755));
	/* Reserved for uid 4242: root needs CAP_SYS_RESOURCE to use it */
	ASSERT_EQ(0, sh(pathf("mount -o loop,resuid=4242,resgid=4242 %s %s",
			      img, fs)));
	snprintf(RW->upper, sizeof(RW->upper), "%s/u", fs);
	snprintf(RW->work, sizeof(RW->work), "%s/w", fs);
	ASSERT_EQ(0, mkdir_p(RW->upper, 0755));
	ASSERT_EQ(0, mkdir_p(RW->work, 0755));
	ASSERT_EQ(0, rw_mount(RW, NULL));

	ASSERT_EQ(0, statvfs(fs, &before));
	reserved = before.f_bfree - before.f_bavail;
	ASSERT_LT(0, reserved);
	fd = open(M("fill"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	memset(chunk, 'r', sizeof(chunk));
	for (;;) {
		ssize_t n = write(fd, chunk, sizeof(chunk));

		if (n < 0) {
			EXPECT_EQ(ENOSPC, errno);
			break;
		}
		if (n == 0)
			break;
	}
	fsync(fd);
	close(fd);
	ASSERT_EQ(0, statvfs(fs, &after));
	TH_LOG("reserved %llu blocks; free after the fill %llu",
	       reserved, (unsigned long long)after.f_bfree);
	/* Some metadata may come out of it; the bulk must not */
	EXPECT_LE(reserved * 3 / 4, (unsigned long long)after.f_bfree);
	EXPECT_EQ(0, rw_umount(RW));
	umount2(fs, MNT_DETACH);
}

TEST_HARNESS_MAIN
