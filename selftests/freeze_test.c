// SPDX-License-Identifier: GPL-2.0
/*
 * A frozen upper filesystem (issue 11): with the upper layer's filesystem
 * frozen (FIFREEZE, what fsfreeze -f does), every operation that would
 * change it must wait, change nothing on it, and complete after the thaw
 * (FITHAW); freezes and thaws racing copy-ups must never hang.
 *
 * The upper and work directories (and the volume store, for the volume
 * cases) are on an ext4 filesystem on a loop device over an image in the
 * fixture's /tmp directory; the lower layer is on /tmp (tmpfs).  Each
 * "frozen" case freezes that filesystem, starts one operation through the
 * union in a child process, checks that the operation has not returned
 * after BLOCK_MS and that nothing on the filesystem changed (names, modes,
 * owners, sizes, times, contents, xattrs), thaws, and checks that the
 * operation then succeeds within THAW_MS and that the union shows its
 * result.  The "churn" cases copy up files of up to 3 MiB in several
 * processes while another freezes and thaws the upper filesystem over and
 * over: on ext4 from a tmpfs lower layer (the data is spliced), and on xfs
 * holding the lower layer too (the data is cloned).
 *
 * Every wait is bounded: an operation or a freeze that never returns is
 * reported and the filesystem is always thawed in the teardown.  A copy-up
 * that deadlocked with a freeze cannot be undone from user space, though:
 * the test then reports it and leaves the stuck processes behind.
 *
 * Run with COWFS_TEST_FSTYPE=overlay to check the test against overlayfs
 * (the volume cases are skipped there).
 */
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/loop.h>

#include "kselftest_harness.h"
#include "cowfs_rw.h"
#include "cowfs_nl.h"

#ifndef FIFREEZE
#define FIFREEZE		_IOWR('X', 119, int)
#define FITHAW			_IOWR('X', 120, int)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE		(1 << 1)
#endif

#define BLOCK_MS	400	/* a blocked operation must still wait after this */
#define START_MS	10000	/* bound for a child to get going */
#define SNAP_MS		10000	/* bound for reading the frozen filesystem */
#define FREEZE_MS	15000	/* bound for FIFREEZE to return */
#define THAW_MS		30000	/* bound for finishing after the thaw */
#define CASE_TIMEOUT	120	/* harness timeout: above the sum of our bounds */

#define ACL_XATTR	"system.posix_acl_access"
#define MAX_KIDS	16

/* The union, its upper filesystem and the children a case started */
struct frz {
	struct rw_env rw;
	char log[PATH_MAX];	/* output of the shell commands */
	char img[PATH_MAX];
	char loop[64];
	int loopfd;		/* until the mount holds the loop device */
	char fs[128];		/* mount point of the upper filesystem */
	int fsfd;		/* its root: FIFREEZE, FITHAW */
	bool fs_mounted;
	bool wedged;		/* a FIFREEZE never returned */
	pid_t kids[MAX_KIDS];	/* children that may still be running */
	/* Volume cases: the store on the upper filesystem */
	struct cnl nl;
	bool nl_open;
	char store[256];
	char old_store[PATH_MAX];
};

#define FM(rel)		MP(&f->rw, rel)		/* in the union */
#define FU(rel)		UP(&f->rw, rel)		/* in the upper layer */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- children ------------------------------------------------------------ */

static void kid_add(struct frz *f, pid_t pid)
{
	int i;

	for (i = 0; i < MAX_KIDS; i++) {
		if (!f->kids[i]) {
			f->kids[i] = pid;
			return;
		}
	}
}

static void kid_del(struct frz *f, pid_t pid)
{
	int i;

	for (i = 0; i < MAX_KIDS; i++)
		if (f->kids[i] == pid)
			f->kids[i] = 0;
}

/*
 * waitpid() for up to @ms; true if @pid was reaped (status in *@st) or is
 * not our child (anymore).
 */
static bool wait_bounded(struct frz *f, pid_t pid, int *st, int ms)
{
	long long end = now_ms() + ms;
	int dummy;

	for (;;) {
		pid_t r = waitpid(pid, st ?: &dummy, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD)) {
			kid_del(f, pid);
			return true;
		}
		if (now_ms() >= end)
			return false;
		usleep(5000);
	}
}

/* In a child: quiet, so that a stuck one holds no pipe of the runner. */
static void child_quiet(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

/* Read exactly @len bytes from @fd within @ms: 1, 0 on timeout, -1 on EOF. */
static int read_bounded(int fd, void *buf, size_t len, int ms)
{
	long long end = now_ms() + ms;
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0)
			return 0;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		got += n;
	}
	return 1;
}

/* ---- freezing ------------------------------------------------------------ */

/*
 * FIFREEZE the upper filesystem (in a child: it must not hang the test).
 * 0, -errno, or -ETIMEDOUT if it did not return within FREEZE_MS.
 */
static int fs_freeze(struct frz *f)
{
	pid_t pid;
	int st = -1;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_quiet();
		_exit(ioctl(f->fsfd, FIFREEZE, 0) ? errno : 0);
	}
	kid_add(f, pid);
	if (!wait_bounded(f, pid, &st, FREEZE_MS)) {
		f->wedged = true;
		return -ETIMEDOUT;
	}
	return WIFEXITED(st) ? -WEXITSTATUS(st) : -EINTR;
}

static int fs_thaw(struct frz *f)
{
	return ioctl(f->fsfd, FITHAW, 0) ? -errno : 0;
}

/* ---- a picture of the upper filesystem ----------------------------------- */

static uint32_t fnv(uint32_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		h = (h ^ *c++) * 16777619u;
	return h;
}

/* One line per object under @dir: everything a change would show in. */
static void snap_dir(FILE *out, const char *dir, const char *rel)
{
	static char buf[65536];
	struct dirent **names;
	int i, n = scandir(dir, &names, snap_filter, alphasort);

	if (n < 0) {
		fprintf(out, "%s: scandir: %s\n", rel, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		char path[PATH_MAX], r[PATH_MAX], xl[4096];
		struct stat st;
		ssize_t xn, k;
		char *x;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		snprintf(r, sizeof(r), "%s%s", rel, names[i]->d_name);
		free(names[i]);
		if (lstat(path, &st)) {
			fprintf(out, "%s lstat: %s\n", r, strerror(errno));
			continue;
		}
		fprintf(out, "%s mode=%o owner=%u:%u size=%lld nlink=%lu rdev=%lx mtime=%lld.%09ld ctime=%lld.%09ld",
			r, (unsigned int)st.st_mode, st.st_uid, st.st_gid,
			(long long)st.st_size, (unsigned long)st.st_nlink,
			(unsigned long)st.st_rdev, (long long)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
			st.st_ctim.tv_nsec);
		if (S_ISREG(st.st_mode)) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			uint32_t h = 2166136261u;

			while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
				h = fnv(h, buf, k);
			if (fd >= 0)
				close(fd);
			fprintf(out, " data=%08x", h);
		} else if (S_ISLNK(st.st_mode)) {
			k = readlink(path, buf, 256);
			fprintf(out, " -> %.*s", k < 0 ? 0 : (int)k, buf);
		}
		xn = llistxattr(path, xl, sizeof(xl));
		for (x = xl; xn > 0 && x < xl + xn; x += strlen(x) + 1) {
			k = lgetxattr(path, x, buf, sizeof(buf));
			fprintf(out, " %s=%08x", x,
				k < 0 ? 0 : fnv(2166136261u, buf, k));
		}
		fputc('\n', out);
		if (S_ISDIR(st.st_mode)) {
			snprintf(r + strlen(r), sizeof(r) - strlen(r), "/");
			snap_dir(out, path, r);
		}
	}
	free(names);
}

/*
 * The picture of the whole upper filesystem, malloc'ed, or NULL if taking
 * it did not finish within SNAP_MS (read in a child: a bug could hold a
 * lock of the upper filesystem's while it waits for the thaw).
 */
static char *fs_snapshot(struct frz *f)
{
	size_t len = 0, cap = 65536;
	long long end = now_ms() + SNAP_MS;
	char *s = malloc(cap);
	int p[2];
	pid_t pid;

	if (!s || pipe2(p, O_CLOEXEC)) {
		free(s);
		return NULL;
	}
	pid = fork();
	if (pid == 0) {
		FILE *out = fdopen(p[1], "w");

		close(p[0]);
		child_quiet();
		if (out) {
			snap_dir(out, f->fs, "");
			fclose(out);
		}
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		free(s);
		return NULL;
	}
	kid_add(f, pid);
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0) {
			if (now_ms() < end)
				continue;
			free(s);
			s = NULL;
			break;
		}
		if (len + 4096 > cap) {
			char *t = realloc(s, cap * 2);

			if (!t)
				break;
			s = t;
			cap *= 2;
		}
		n = read(p[0], s + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	close(p[0]);
	if (s) {
		s[len] = '\0';
		wait_bounded(f, pid, NULL, SNAP_MS);
	}
	return s;
}

/* Log the first line that differs between two pictures. */
static void snap_diff(struct __test_metadata *_metadata, const char *a,
		      const char *b)
{
	while (*a && *a == *b) {
		const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');

		if (!na || !nb || na - a != nb - b || strncmp(a, b, na - a))
			break;
		a = na + 1;
		b = nb + 1;
	}
	TH_LOG("  before: %.*s", (int)strcspn(a, "\n"), *a ? a : "(nothing)");
	TH_LOG("  now:    %.*s", (int)strcspn(b, "\n"), *b ? b : "(nothing)");
}

/* ---- volumes: the store on the upper filesystem -------------------------- */

static struct cnl_msg nlmsg;

/* A volume request (@name may be NULL) or, with @store, config-set. */
static int nl_do(struct cnl *c, uint8_t cmd, const char *name,
		 const char *store)
{
	cnl_init(&nlmsg, c->family, cmd, 0);
	if (name)
		cnl_put_str(&nlmsg, COWFS_A_VOLUME_NAME, name);
	if (cmd == COWFS_CMD_VOLUME_NEW)
		cnl_put_u32(&nlmsg, COWFS_A_VOLUME_TYPE, COWFS_VOLUME_TYPE_LOCAL);
	if (store)
		cnl_put_str(&nlmsg, COWFS_A_CONFIG_STORE, store);
	return cnl_send(c, &nlmsg);
}

static const char *const frz_volumes[] = {
	"frz-warm", "frz-new", "frz-del", "frz-att",
};

/* Put the store back where it was (or on /tmp): our filesystem goes away. */
static void store_restore(struct frz *f)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(frz_volumes); i++)
		nl_do(&f->nl, COWFS_CMD_VOLUME_DEL, frz_volumes[i], NULL);
	if (!f->old_store[0] ||
	    nl_do(&f->nl, COWFS_CMD_CONFIG_SET, NULL, f->old_store))
		nl_do(&f->nl, COWFS_CMD_CONFIG_SET, NULL, "/tmp");
	cnl_close(&f->nl);
	f->nl_open = false;
}

/*
 * Point the volume store at a directory on the upper filesystem and make
 * a volume there and delete it, so that the store is open and has its
 * .trash before the freeze.
 */
static int store_setup(struct __test_metadata *_metadata, struct frz *f)
{
	struct nlmsghdr *nlh;
	struct nlattr *a;
	int ret = cnl_open(&f->nl);

	if (ret)
		return ret;
	f->nl_open = true;
	ret = nl_do(&f->nl, COWFS_CMD_CONFIG_GET, NULL, NULL);
	nlh = ret ? NULL : cnl_reply(&f->nl);
	a = nlh ? cnl_get(nlh, COWFS_A_CONFIG_STORE) : NULL;
	if (a)
		snprintf(f->old_store, sizeof(f->old_store), "%s",
			 cnl_attr_str(a));
	snprintf(f->store, sizeof(f->store), "%s/store", f->fs);
	ret = mkdir_p(f->store, 0755);
	if (!ret)
		ret = nl_do(&f->nl, COWFS_CMD_CONFIG_SET, NULL, f->store);
	if (!ret)
		ret = nl_do(&f->nl, COWFS_CMD_VOLUME_NEW, "frz-warm", NULL);
	if (!ret)
		ret = nl_do(&f->nl, COWFS_CMD_VOLUME_DEL, "frz-warm", NULL);
	if (ret)
		TH_LOG("volume store on %s: %s (%s)", f->store, strerror(-ret),
		       f->nl.ext_msg);
	return ret;
}

/* ---- the upper filesystem ------------------------------------------------ */

/*
 * The ext4 image the "frozen" cases start from: made once by the first
 * case (mkfs is slow under emulation), removed when the harness exits.
 */
static pid_t main_pid;

static const char *template_path(void)
{
	static char path[64];

	snprintf(path, sizeof(path), "/tmp/cowfs-freeze-%d.ext4", (int)main_pid);
	return path;
}

__attribute__((constructor)) static void frz_init(void)
{
	main_pid = getpid();
}

__attribute__((destructor)) static void frz_exit(void)
{
	if (getpid() == main_pid)
		unlink(template_path());
}

/* Copy the data extents of @from into a new file @to of the same size */
static int copy_sparse(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	off_t data = 0, hole, pos, opos;
	struct stat st;
	int ret = 0;

	if (in < 0 || out < 0 || fstat(in, &st) || ftruncate(out, st.st_size))
		ret = -errno;
	while (!ret && (data = lseek(in, data, SEEK_DATA)) >= 0) {
		hole = lseek(in, data, SEEK_HOLE);
		for (pos = opos = data; !ret && pos < hole;)
			if (copy_file_range(in, &pos, out, &opos, hole - pos, 0) <= 0)
				ret = -EIO;
		data = hole;
	}
	if (!ret && errno != ENXIO)
		ret = -errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ret;
}

/* The image, made by @mkfs (%s: the image) or copied from the template */
static int upperfs_image(struct __test_metadata *_metadata, struct frz *f,
			 const char *mkfs, int mb)
{
	const char *tmpl = template_path();
	const char *tmp = pathf("%s.tmp", tmpl);
	int fd, ret = 0;

	if (!mkfs && !access(tmpl, F_OK))
		return copy_sparse(tmpl, f->img);
	if (mkfs)
		tmp = f->img;
	else
		mkfs = "mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 %s";
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)mb * 1024 * 1024))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (!ret && run(f->log, mkfs, tmp)) {
		TH_LOG("%s failed: %s", mkfs, slurp(f->log));
		ret = -EIO;
	}
	if (ret || tmp == f->img)
		return ret;
	if (rename(tmp, tmpl))
		return -errno;
	return copy_sparse(tmpl, f->img);
}

/* Attach the image to a free loop device that goes away with its last user */
static int loop_attach(struct frz *f)
{
	struct loop_config cfg = { .info.lo_flags = LO_FLAGS_AUTOCLEAR };
	int ifd, ctl, n, tries, ret = -ENODEV;

	ifd = open(f->img, O_RDWR | O_CLOEXEC);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	cfg.fd = ifd;
	for (tries = 0; tries < 20 && ifd >= 0 && ctl >= 0; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			break;
		snprintf(f->loop, sizeof(f->loop), "/dev/loop%d", n);
		f->loopfd = open(f->loop, O_RDWR | O_CLOEXEC);
		if (f->loopfd < 0)
			break;
		if (!ioctl(f->loopfd, LOOP_CONFIGURE, &cfg)) {
			ret = 0;
			break;
		}
		ret = -errno;
		close(f->loopfd);
		f->loopfd = -1;
		if (ret != -EBUSY)
			break;
		usleep(10000);
	}
	if (ifd >= 0)
		close(ifd);
	if (ctl >= 0)
		close(ctl);
	return ret;
}

/*
 * The union's environment with upper and work on a fresh @fstype made by
 * @mkfs (%s: the image; NULL: a copy of the ext4 template) on a loop
 * device over a @mb MiB image.
 */
static int upperfs_init(struct __test_metadata *_metadata, struct frz *f,
			const char *fstype, const char *mkfs, int mb)
{
	int ret;

	f->fsfd = -1;
	f->loopfd = -1;
	ret = rw_init(&f->rw, 1, 0, NULL);
	if (ret)
		return ret;
	snprintf(f->log, sizeof(f->log), "%s/cmd.log", f->rw.e.base);
	snprintf(f->img, sizeof(f->img), "%s/upper.img", f->rw.e.base);
	snprintf(f->fs, sizeof(f->fs), "%s/fs", f->rw.e.base);
	snprintf(f->rw.upper, sizeof(f->rw.upper), "%s/u", f->fs);
	snprintf(f->rw.work, sizeof(f->rw.work), "%s/w", f->fs);
	ret = mkdir_p(f->fs, 0755) ?: upperfs_image(_metadata, f, mkfs, mb) ?:
	      loop_attach(f);
	if (ret)
		return ret;
	if (mount(f->loop, f->fs, fstype, 0, NULL))
		return -errno;
	f->fs_mounted = true;
	close(f->loopfd);	/* the mount holds it now */
	f->loopfd = -1;
	f->fsfd = open(f->fs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->fsfd < 0)
		return -errno;
	return mkdir_p(f->rw.upper, 0755) ?: mkdir_p(f->rw.work, 0755);
}

static void upperfs_cleanup(struct __test_metadata *_metadata, struct frz *f)
{
	long long end, left;
	int i, n;

	if (!f->rw.e.base[0])
		return;
	/* Never leave it frozen, whatever happened */
	if (f->fsfd >= 0)
		for (n = 0; n < 8 && !fs_thaw(f); n++)
			;
	/* Children that were waiting for the thaw finish now, or never */
	end = now_ms() + (f->wedged ? 0 : THAW_MS);
	for (i = 0; i < MAX_KIDS; i++) {
		pid_t pid = f->kids[i];

		left = end - now_ms();
		if (pid <= 0 || wait_bounded(f, pid, NULL, left > 0 ? (int)left : 0))
			continue;
		kill(pid, SIGKILL);
		if (!wait_bounded(f, pid, NULL, 1000))
			TH_LOG("process %d is stuck in the kernel (its stack: /proc/%d/stack)",
			       pid, pid);
	}
	/* Unmount what can be: lazily if something is stuck on it */
	if (is_mounted(f->rw.e.mnt))
		umount2(f->rw.e.mnt, f->wedged ? MNT_DETACH : 0);
	/* Once no union uses a volume of the store */
	if (f->nl_open)
		store_restore(f);
	if (f->fsfd >= 0)
		close(f->fsfd);
	f->fsfd = -1;
	if (f->fs_mounted && umount2(f->fs, f->wedged ? MNT_DETACH : 0))
		umount2(f->fs, MNT_DETACH);
	if (f->loopfd >= 0)
		close(f->loopfd);	/* the loop device goes with the mount */
	rw_cleanup(&f->rw);
}

#define MB	(1024 * 1024)

/* ---- one operation against a frozen upper -------------------------------- */

FIXTURE(frozen) {
	struct frz f;
};

FIXTURE_SETUP(frozen)
{
	struct frz *f = &self->f;

	REQUIRE_FSTYPE();
	/* Once: later cases copy the first one's image (exec is slow in TCG) */
	if (access(template_path(), F_OK)) {
		if (!have_cmd("mkfs.ext4"))
			SKIP(return, "needs mkfs.ext4");
		if (system("modprobe -q -a ext4 loop"))
			SKIP(return, "cannot load the ext4 and loop modules");
	}
	ASSERT_EQ(0, upperfs_init(_metadata, f, "ext4", NULL, 16)) {
		upperfs_cleanup(_metadata, f);
	}
	/* lower: f, g, d/x, e/; upper (made through the union): uf */
	ASSERT_EQ(0, mkfile(LP(&f->rw, 0, "f"), "lower\n") ?:
		     mkfile(LP(&f->rw, 0, "g"), "gee\n") ?:
		     mkfile(LP(&f->rw, 0, "d/x"), "x\n") ?:
		     mkdir_p(LP(&f->rw, 0, "e"), 0755) ?:
		     rw_mount(&f->rw, NULL) ?:
		     mkfile(FM("uf"), "upper\n")) {
		TH_LOG("setting up the layers: %s", strerror(errno));
		upperfs_cleanup(_metadata, f);
	}
}

FIXTURE_TEARDOWN(frozen)
{
	upperfs_cleanup(_metadata, &self->f);
}

struct frz_case {
	const char *what;			/* what the user did */
	int (*prep)(struct frz *f);		/* before the freeze */
	int (*op)(struct frz *f);		/* in a child: 0 or -errno */
	const char *(*check)(struct frz *f);	/* NULL, or what is wrong */
	bool volumes;				/* needs cowfs's volume store */
};

static void run_case(struct __test_metadata *_metadata, struct frz *f,
		     const struct frz_case *c)
{
	char *before, *during;
	const char *bad;
	int p[2], res = 0, got, ret;
	pid_t pid;
	char s;

	if (c->volumes) {
		if (is_overlay())
			SKIP(return, "volumes are cowfs's");
		ret = store_setup(_metadata, f);
		if (ret == -ENOENT && !f->nl.family)
			SKIP(return, "no cowfs netlink family");
		ASSERT_EQ(0, ret);
	}
	if (c->prep)
		ASSERT_EQ(0, c->prep(f)) TH_LOG("preparing %s: %s", c->what,
						strerror(errno));

	ret = fs_freeze(f);
	ASSERT_EQ(0, ret) TH_LOG("FIFREEZE of the upper filesystem: %s",
				 ret == -ETIMEDOUT ? "did not return within 15 s"
						   : strerror(-ret));
	before = fs_snapshot(f);
	ASSERT_NE(NULL, before) TH_LOG("reading the frozen filesystem did not finish");

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		child_quiet();
		s = 'S';
		if (write(p[1], &s, 1) == 1)
			res = c->op(f);
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ASSERT_LE(0, pid);
	kid_add(f, pid);
	ASSERT_EQ(1, read_bounded(p[0], &s, 1, START_MS)) TH_LOG("the child did not start");

	got = read_bounded(p[0], &res, sizeof(res), BLOCK_MS);
	EXPECT_EQ(0, got)
		TH_LOG("%s returned (%s) while the upper filesystem was frozen: it must wait for the thaw",
		       c->what, got < 0 ? "child died" :
				 res ? strerror(-res) : "success");
	during = fs_snapshot(f);
	EXPECT_NE(NULL, during)
		TH_LOG("reading the frozen upper filesystem did not finish within %d s while %s waited",
		       SNAP_MS / 1000, c->what);
	if (during && strcmp(before, during)) {
		EXPECT_TRUE(false) TH_LOG("the frozen upper filesystem changed under %s:",
					  c->what);
		snap_diff(_metadata, before, during);
	}
	free(before);
	free(during);

	ret = fs_thaw(f);
	EXPECT_EQ(0, ret) TH_LOG("FITHAW: %s", strerror(-ret));
	if (got == 0) {
		got = read_bounded(p[0], &res, sizeof(res), THAW_MS);
		EXPECT_EQ(1, got) TH_LOG("%s %s after the thaw",
					 c->what, got ? "died" :
					 "still had not returned 30 s; it hangs");
	}
	close(p[0]);
	if (got != 1)
		return;
	wait_bounded(f, pid, NULL, START_MS);
	EXPECT_EQ(0, res) TH_LOG("%s failed after the thaw: %s", c->what,
				 strerror(-res));
	if (res)
		return;
	bad = c->check(f);
	EXPECT_TRUE(!bad) TH_LOG("after %s and the thaw: %s", c->what, bad);
}

#define FROZEN_CASE(name, _what, _prep, _op, _check, ...)		\
	static const struct frz_case name##_case = {			\
		.what = _what, .prep = _prep, .op = _op,		\
		.check = _check, __VA_ARGS__				\
	};								\
	TEST_F_TIMEOUT(frozen, name, CASE_TIMEOUT)			\
	{								\
		run_case(_metadata, &self->f, &name##_case);		\
	}

/* ---- checks --------------------------------------------------------------- */

static char why[1024];

#define WRONG(...)	(snprintf(why, sizeof(why), __VA_ARGS__), why)

/* @rel has contents @data in the union and in the upper layer */
static const char *has_data(struct frz *f, const char *rel, const char *data)
{
	if (strcmp(slurp(FM(rel)), data))
		return WRONG("%s reads \"%s\" in the union, not \"%s\"", rel,
			     slurp(FM(rel)), data);
	if (strcmp(slurp(FU(rel)), data))
		return WRONG("%s is \"%s\" in the upper layer, not \"%s\"", rel,
			     slurp(FU(rel)), data);
	return NULL;
}

/* @rel is gone from the union; a whiteout in the upper layer or absent */
static const char *is_gone(struct frz *f, const char *rel, bool whiteout)
{
	if (lstat_err(FM(rel)) != -ENOENT)
		return WRONG("%s is still in the union", rel);
	if (whiteout && !is_whiteout(FU(rel)))
		return WRONG("%s has no whiteout in the upper layer", rel);
	if (!whiteout && lstat_err(FU(rel)) != -ENOENT)
		return WRONG("%s is still in the upper layer", rel);
	return NULL;
}

/* @rel is of type @type (S_IFMT) in the union and in the upper layer */
static const char *has_type(struct frz *f, const char *rel, mode_t type)
{
	if (ftype(FM(rel)) != type || ftype(FU(rel)) != type)
		return WRONG("%s has type %o in the union and %o in the upper layer, not %o",
			     rel, ftype(FM(rel)), ftype(FU(rel)), type);
	return NULL;
}

static const char *has_mode(struct frz *f, const char *rel, mode_t mode)
{
	struct stat m = {}, u = {};

	if (stat(FM(rel), &m) || stat(FU(rel), &u) ||
	    (m.st_mode & 07777) != mode || (u.st_mode & 07777) != mode)
		return WRONG("%s has mode %o in the union and %o in the upper layer, not %o",
			     rel, m.st_mode & 07777, u.st_mode & 07777, mode);
	return NULL;
}

static const char *has_xattr(struct frz *f, const char *rel, const char *name,
			     const char *value)
{
	if (strcmp(xattr_str(FM(rel), name), value) ||
	    strcmp(xattr_str(FU(rel), name), value))
		return WRONG(
			"%s's %s is \"%s\" in the union and \"%s\" in the upper layer, not \"%s\"",
			     rel, name, xattr_str(FM(rel), name),
			     xattr_str(FU(rel), name), value);
	return NULL;
}

static const char *has_acl(struct frz *f, const char *rel)
{
	char buf[256];
	ssize_t m = lgetxattr(FM(rel), ACL_XATTR, buf, sizeof(buf));
	ssize_t u = lgetxattr(FU(rel), ACL_XATTR, buf, sizeof(buf));

	if (m != sizeof(acl_blob) || u != sizeof(acl_blob))
		return WRONG(
			"%s's ACL has %zd bytes in the union and %zd in the upper layer, not %zu",
			     rel, m, u, sizeof(acl_blob));
	return NULL;
}

/* ---- the operations -------------------------------------------------------- */

static int append(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write_all(fd, s, strlen(s));
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* Copy-up: by a write, by an open for writing */

static int op_write_lower(struct frz *f)
{
	return append(FM("f"), "more\n");
}

static const char *ck_write_lower(struct frz *f)
{
	return has_data(f, "f", "lower\nmore\n");
}

FROZEN_CASE(copy_up_by_write, "a write to a lower file (copy-up)",
	    NULL, op_write_lower, ck_write_lower)

static int op_open_wronly(struct frz *f)
{
	int fd = open(FM("f"), O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return close(fd) ? -errno : 0;
}

static const char *ck_open_wronly(struct frz *f)
{
	return has_data(f, "f", "lower\n");
}

FROZEN_CASE(copy_up_by_open, "open(O_WRONLY) of a lower file (copy-up)",
	    NULL, op_open_wronly, ck_open_wronly)

/* A write to a file already in the upper layer (the backing file's own) */

static int op_write_upper(struct frz *f)
{
	return append(FM("uf"), "more\n");
}

static const char *ck_write_upper(struct frz *f)
{
	return has_data(f, "uf", "upper\nmore\n");
}

FROZEN_CASE(write_upper, "a write to an upper file",
	    NULL, op_write_upper, ck_write_upper)

/* setattr: chmod, chown, utimes, truncate */

static int op_chmod_lower(struct frz *f)
{
	return ERRNO_OF(chmod(FM("f"), 0600));
}

static const char *ck_chmod_lower(struct frz *f)
{
	return has_mode(f, "f", 0600) ?: has_data(f, "f", "lower\n");
}

FROZEN_CASE(chmod_lower, "chmod of a lower file", NULL, op_chmod_lower,
	    ck_chmod_lower)

static int op_chmod_upper(struct frz *f)
{
	return ERRNO_OF(chmod(FM("uf"), 0600));
}

static const char *ck_chmod_upper(struct frz *f)
{
	return has_mode(f, "uf", 0600);
}

FROZEN_CASE(chmod_upper, "chmod of an upper file", NULL, op_chmod_upper,
	    ck_chmod_upper)

static int op_chown_upper(struct frz *f)
{
	return ERRNO_OF(chown(FM("uf"), 1234, 4321));
}

static const char *ck_chown_upper(struct frz *f)
{
	struct stat m = {}, u = {};

	if (stat(FM("uf"), &m) || stat(FU("uf"), &u) || m.st_uid != 1234 ||
	    m.st_gid != 4321 || u.st_uid != 1234 || u.st_gid != 4321)
		return WRONG(
			"uf is owned by %u:%u in the union and %u:%u in the upper layer, not 1234:4321",
			     m.st_uid, m.st_gid, u.st_uid, u.st_gid);
	return NULL;
}

FROZEN_CASE(chown_upper, "chown of an upper file", NULL, op_chown_upper,
	    ck_chown_upper)

static const struct timespec frz_times[2] = {
	{ .tv_sec = 1000000000, .tv_nsec = 1 },	/* atime */
	{ .tv_sec = 1000000000, .tv_nsec = 2 },	/* mtime */
};

static int op_utimes_upper(struct frz *f)
{
	return ERRNO_OF(utimensat(AT_FDCWD, FM("uf"), frz_times, 0));
}

static const char *ck_utimes_upper(struct frz *f)
{
	struct stat m = {}, u = {};

	if (stat(FM("uf"), &m) || stat(FU("uf"), &u) ||
	    m.st_mtim.tv_sec != frz_times[1].tv_sec ||
	    m.st_mtim.tv_nsec != frz_times[1].tv_nsec ||
	    u.st_mtim.tv_sec != frz_times[1].tv_sec ||
	    u.st_mtim.tv_nsec != frz_times[1].tv_nsec)
		return WRONG(
			"uf's mtime is %lld.%09ld in the union and %lld.%09ld in the upper layer",
			     (long long)m.st_mtim.tv_sec, m.st_mtim.tv_nsec,
			     (long long)u.st_mtim.tv_sec, u.st_mtim.tv_nsec);
	return NULL;
}

FROZEN_CASE(utimes_upper, "utimensat() of an upper file", NULL,
	    op_utimes_upper, ck_utimes_upper)

static int op_truncate_lower(struct frz *f)
{
	return ERRNO_OF(truncate(FM("f"), 2));
}

static const char *ck_truncate_lower(struct frz *f)
{
	return has_data(f, "f", "lo");
}

FROZEN_CASE(truncate_lower, "truncate of a lower file", NULL,
	    op_truncate_lower, ck_truncate_lower)

static int op_truncate_lower_empty(struct frz *f)
{
	return ERRNO_OF(truncate(FM("f"), 0));
}

static const char *ck_truncate_lower_empty(struct frz *f)
{
	return has_data(f, "f", "");
}

FROZEN_CASE(truncate_lower_to_zero, "truncate to 0 of a lower file", NULL,
	    op_truncate_lower_empty, ck_truncate_lower_empty)

static int op_truncate_upper(struct frz *f)
{
	return ERRNO_OF(truncate(FM("uf"), 2));
}

static const char *ck_truncate_upper(struct frz *f)
{
	return has_data(f, "uf", "up");
}

FROZEN_CASE(truncate_upper, "truncate of an upper file", NULL,
	    op_truncate_upper, ck_truncate_upper)

static int op_open_trunc_upper(struct frz *f)
{
	int fd = open(FM("uf"), O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return close(fd) ? -errno : 0;
}

static const char *ck_open_trunc_upper(struct frz *f)
{
	return has_data(f, "uf", "");
}

FROZEN_CASE(open_trunc_upper, "open(O_TRUNC) of an upper file", NULL,
	    op_open_trunc_upper, ck_open_trunc_upper)

/* xattrs and ACLs */

static int op_setxattr_lower(struct frz *f)
{
	return ERRNO_OF(setxattr(FM("f"), "user.frz", "v", 1, 0));
}

static const char *ck_setxattr_lower(struct frz *f)
{
	return has_xattr(f, "f", "user.frz", "v");
}

FROZEN_CASE(setxattr_lower, "setxattr user.* of a lower file", NULL,
	    op_setxattr_lower, ck_setxattr_lower)

static int op_setxattr_upper(struct frz *f)
{
	return ERRNO_OF(setxattr(FM("uf"), "user.frz", "v", 1, 0));
}

static const char *ck_setxattr_upper(struct frz *f)
{
	return has_xattr(f, "uf", "user.frz", "v");
}

FROZEN_CASE(setxattr_upper, "setxattr user.* of an upper file", NULL,
	    op_setxattr_upper, ck_setxattr_upper)

static int prep_xattr_upper(struct frz *f)
{
	return setxattr(FM("uf"), "user.frz", "v", 1, 0);
}

static int op_removexattr_upper(struct frz *f)
{
	return ERRNO_OF(removexattr(FM("uf"), "user.frz"));
}

static const char *ck_removexattr_upper(struct frz *f)
{
	return has_xattr(f, "uf", "user.frz", "<No data available>");
}

FROZEN_CASE(removexattr_upper, "removexattr user.* of an upper file",
	    prep_xattr_upper, op_removexattr_upper, ck_removexattr_upper)

static int op_set_acl_lower(struct frz *f)
{
	return ERRNO_OF(setxattr(FM("f"), ACL_XATTR, acl_blob, sizeof(acl_blob), 0));
}

static const char *ck_set_acl_lower(struct frz *f)
{
	return has_acl(f, "f");
}

FROZEN_CASE(set_acl_lower, "setting a POSIX ACL on a lower file", NULL,
	    op_set_acl_lower, ck_set_acl_lower)

static int op_set_acl_upper(struct frz *f)
{
	return ERRNO_OF(setxattr(FM("uf"), ACL_XATTR, acl_blob, sizeof(acl_blob), 0));
}

static const char *ck_set_acl_upper(struct frz *f)
{
	return has_acl(f, "uf");
}

FROZEN_CASE(set_acl_upper, "setting a POSIX ACL on an upper file", NULL,
	    op_set_acl_upper, ck_set_acl_upper)

/* New names */

static int op_create(struct frz *f)
{
	int fd = open(FM("new"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int ret;

	if (fd < 0)
		return -errno;
	ret = write_all(fd, "new\n", 4);
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

static const char *ck_create(struct frz *f)
{
	return has_data(f, "new", "new\n");
}

FROZEN_CASE(create, "creating a file", NULL, op_create, ck_create)

static int op_mkdir(struct frz *f)
{
	return ERRNO_OF(mkdir(FM("nd"), 0755));
}

static const char *ck_mkdir(struct frz *f)
{
	return has_type(f, "nd", S_IFDIR);
}

FROZEN_CASE(mkdir, "mkdir", NULL, op_mkdir, ck_mkdir)

static int op_mknod_fifo(struct frz *f)
{
	return ERRNO_OF(mknod(FM("fifo"), S_IFIFO | 0644, 0));
}

static const char *ck_mknod_fifo(struct frz *f)
{
	return has_type(f, "fifo", S_IFIFO);
}

FROZEN_CASE(mknod_fifo, "mknod of a fifo", NULL, op_mknod_fifo, ck_mknod_fifo)

static int op_symlink(struct frz *f)
{
	return ERRNO_OF(symlink("f", FM("sl")));
}

static const char *ck_symlink(struct frz *f)
{
	char t[64] = "";
	ssize_t n = readlink(FU("sl"), t, sizeof(t) - 1);

	if (n != 1 || t[0] != 'f')
		return WRONG("the upper layer's sl points to \"%s\", not \"f\"", t);
	if (strcmp(slurp(FM("sl")), "lower\n"))
		return WRONG("sl reads \"%s\" in the union, not f's \"lower\"",
			     slurp(FM("sl")));
	return NULL;
}

FROZEN_CASE(symlink, "symlink", NULL, op_symlink, ck_symlink)

static int op_link_upper(struct frz *f)
{
	return ERRNO_OF(link(FM("uf"), FM("uf.link")));
}

static const char *ck_link_upper(struct frz *f)
{
	struct stat st = {};

	if (stat(FU("uf"), &st) || st.st_nlink != 2)
		return WRONG("the upper layer's uf has %lu links, not 2",
			     (unsigned long)st.st_nlink);
	return has_data(f, "uf.link", "upper\n");
}

FROZEN_CASE(link_upper, "link of an upper file", NULL, op_link_upper,
	    ck_link_upper)

static int op_link_lower(struct frz *f)
{
	return ERRNO_OF(link(FM("f"), FM("f.link")));
}

static const char *ck_link_lower(struct frz *f)
{
	return has_data(f, "f.link", "lower\n") ?: has_data(f, "f", "lower\n");
}

FROZEN_CASE(link_lower, "link of a lower file (copy-up)", NULL, op_link_lower,
	    ck_link_lower)

static int op_tmpfile(struct frz *f)
{
	char proc[64];
	int fd = open(FM("e"), O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
	int ret;

	if (fd < 0)
		return -errno;
	ret = write_all(fd, "tmp\n", 4);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (!ret && linkat(AT_FDCWD, proc, AT_FDCWD, FM("e/t"), AT_SYMLINK_FOLLOW))
		ret = -errno;
	close(fd);
	return ret;
}

static const char *ck_tmpfile(struct frz *f)
{
	return has_data(f, "e/t", "tmp\n");
}

FROZEN_CASE(tmpfile, "open(O_TMPFILE) and linkat() in a lower directory",
	    NULL, op_tmpfile, ck_tmpfile)

/* Renames */

static int op_rename_upper(struct frz *f)
{
	return ERRNO_OF(rename(FM("uf"), FM("uf.new")));
}

static const char *ck_rename_upper(struct frz *f)
{
	return has_data(f, "uf.new", "upper\n") ?: is_gone(f, "uf", false);
}

FROZEN_CASE(rename_upper, "rename of an upper file", NULL, op_rename_upper,
	    ck_rename_upper)

static int op_rename_over_lower(struct frz *f)
{
	return ERRNO_OF(rename(FM("uf"), FM("g")));
}

static const char *ck_rename_over_lower(struct frz *f)
{
	return has_data(f, "g", "upper\n") ?: is_gone(f, "uf", false);
}

FROZEN_CASE(rename_over_lower, "rename of an upper file over a lower one",
	    NULL, op_rename_over_lower, ck_rename_over_lower)

static int op_rename_lower(struct frz *f)
{
	return ERRNO_OF(rename(FM("f"), FM("f.new")));
}

static const char *ck_rename_lower(struct frz *f)
{
	return has_data(f, "f.new", "lower\n") ?: is_gone(f, "f", true);
}

FROZEN_CASE(rename_lower, "rename of a lower file (copy-up, whiteout)", NULL,
	    op_rename_lower, ck_rename_lower)

static int op_rename_exchange(struct frz *f)
{
	return rw_renameat2(FM("uf"), FM("f"), RENAME_EXCHANGE);
}

static const char *ck_rename_exchange(struct frz *f)
{
	return has_data(f, "uf", "lower\n") ?: has_data(f, "f", "upper\n");
}

FROZEN_CASE(rename_exchange, "RENAME_EXCHANGE of an upper and a lower file",
	    NULL, op_rename_exchange, ck_rename_exchange)

static int op_rename_dir(struct frz *f)
{
	return ERRNO_OF(rename(FM("d"), FM("d.new")));
}

static const char *ck_rename_dir(struct frz *f)
{
	if (strcmp(xattr_str(FU("d.new"), OVL_REDIRECT_XATTR), "d"))
		return WRONG("the upper layer's d.new has redirect \"%s\", not \"d\"",
			     xattr_str(FU("d.new"), OVL_REDIRECT_XATTR));
	if (strcmp(slurp(FM("d.new/x")), "x\n"))
		return WRONG("d.new/x reads \"%s\" in the union", slurp(FM("d.new/x")));
	return is_gone(f, "d", true);
}

FROZEN_CASE(rename_dir_redirect, "rename of a lower directory (redirect)",
	    NULL, op_rename_dir, ck_rename_dir)

/* Removal */

static int op_unlink_lower(struct frz *f)
{
	return ERRNO_OF(unlink(FM("f")));
}

static const char *ck_unlink_lower(struct frz *f)
{
	return is_gone(f, "f", true);
}

FROZEN_CASE(unlink_lower, "unlink of a lower file (whiteout)", NULL,
	    op_unlink_lower, ck_unlink_lower)

static int op_unlink_upper(struct frz *f)
{
	return ERRNO_OF(unlink(FM("uf")));
}

static const char *ck_unlink_upper(struct frz *f)
{
	return is_gone(f, "uf", false);
}

FROZEN_CASE(unlink_upper, "unlink of an upper file", NULL, op_unlink_upper,
	    ck_unlink_upper)

/*
 * index=on: copy-up of a lower file with two names (f, and f2 made in the
 * lower layer before a remount) goes to the index, then links the name;
 * removing a name not copied up copies it up first.  metacopy=on: the
 * data of a metacopy file follows on the first write.
 */
static int prep_index(struct frz *f)
{
	return rw_umount(&f->rw) ?:
	       ERRNO_OF(link(LP(&f->rw, 0, "f"), LP(&f->rw, 0, "f2"))) ?:
	       rw_mount(&f->rw, "index=on");
}

/* f and f2 are one file with two names and @data */
static const char *one_file_two_names(struct frz *f, const char *data)
{
	struct stat a = {}, b = {};

	if (strcmp(slurp(FM("f2")), data))
		return WRONG("f2 reads \"%s\", not \"%s\" as f", slurp(FM("f2")),
			     data);
	if (stat(FM("f"), &a) || stat(FM("f2"), &b) || a.st_ino != b.st_ino ||
	    a.st_nlink != 2 || b.st_nlink != 2)
		return WRONG("f and f2 have st_ino %llu and %llu, st_nlink %lu and %lu: not one file with two names",
			     (unsigned long long)a.st_ino,
			     (unsigned long long)b.st_ino,
			     (unsigned long)a.st_nlink,
			     (unsigned long)b.st_nlink);
	return NULL;
}

static const char *ck_index_write(struct frz *f)
{
	return has_data(f, "f", "lower\nmore\n") ?:
	       one_file_two_names(f, "lower\nmore\n");
}

FROZEN_CASE(index_copy_up_by_write,
	    "a write to a lower file with two names (index=on copy-up)",
	    prep_index, op_write_lower, ck_index_write)

static int op_unlink_f2(struct frz *f)
{
	return ERRNO_OF(unlink(FM("f2")));
}

static const char *ck_index_unlink(struct frz *f)
{
	struct stat st = {};

	if (stat(FM("f"), &st) || st.st_nlink != 1)
		return WRONG("f has st_nlink %lu once f2 is gone, not 1",
			     (unsigned long)st.st_nlink);
	return is_gone(f, "f2", true);
}

FROZEN_CASE(index_unlink_lower,
	    "unlink of one name of a lower file with two (index=on)",
	    prep_index, op_unlink_f2, ck_index_unlink)

static int prep_metacopy(struct frz *f)
{
	return rw_umount(&f->rw) ?:
	       rw_mount(&f->rw, "redirect_dir=on,metacopy=on") ?:
	       ERRNO_OF(chmod(FM("f"), 0600));
}

static const char *ck_metacopy_write(struct frz *f)
{
	return has_data(f, "f", "lower\nmore\n") ?: has_mode(f, "f", 0600);
}

FROZEN_CASE(metacopy_data_copy_up, "a write to a metacopy file (data copy-up)",
	    prep_metacopy, op_write_lower, ck_metacopy_write)

/* e/ becomes a merged directory: in the upper layer and the lower one */
static int prep_merged_dir(struct frz *f)
{
	if (mkfile(FM("e/t"), "t\n") || unlink(FM("e/t")))
		return -1;
	errno = ENOTDIR;
	return ftype(FU("e")) == S_IFDIR ? 0 : -1;
}

static int op_rmdir_merged(struct frz *f)
{
	return ERRNO_OF(rmdir(FM("e")));
}

static const char *ck_rmdir_merged(struct frz *f)
{
	return is_gone(f, "e", true);
}

FROZEN_CASE(rmdir_merged, "rmdir of a merged directory (whiteout)",
	    prep_merged_dir, op_rmdir_merged, ck_rmdir_merged)

/* Volumes in a store on the frozen filesystem */

static int op_volume_new(struct frz *f)
{
	struct cnl c;
	int ret = cnl_open(&c);

	(void)f;

	if (!ret)
		ret = nl_do(&c, COWFS_CMD_VOLUME_NEW, "frz-new", NULL);
	cnl_close(&c);
	return ret;
}

static const char *ck_volume_new(struct frz *f)
{
	if (getxattr(pathf("%s/frz-new", f->store), "trusted.cowfs.volume",
		     NULL, 0) <= 0 ||
	    ftype(pathf("%s/frz-new/_data", f->store)) != S_IFDIR)
		return WRONG("%s/frz-new has no record or no _data", f->store);
	return NULL;
}

FROZEN_CASE(volume_new, "volume-new of a local volume (netlink)", NULL,
	    op_volume_new, ck_volume_new, .volumes = true)

static int prep_volume_del(struct frz *f)
{
	int ret = nl_do(&f->nl, COWFS_CMD_VOLUME_NEW, "frz-del", NULL);

	errno = -ret;
	return ret;
}

static int op_volume_del(struct frz *f)
{
	struct cnl c;
	int ret = cnl_open(&c);

	(void)f;

	if (!ret)
		ret = nl_do(&c, COWFS_CMD_VOLUME_DEL, "frz-del", NULL);
	cnl_close(&c);
	return ret;
}

static const char *ck_volume_del(struct frz *f)
{
	if (lstat_err(pathf("%s/frz-del", f->store)) != -ENOENT)
		return WRONG("%s/frz-del is still there", f->store);
	return NULL;
}

FROZEN_CASE(volume_del, "volume-del of a local volume (netlink)",
	    prep_volume_del, op_volume_del, ck_volume_del, .volumes = true)

/*
 * A local volume attached in the union, its data in the store on the
 * frozen filesystem: a write inside it waits for the thaw like one to
 * the upper layer, and lands in the volume.
 */
static int prep_write_volume(struct frz *f)
{
	int ret = nl_do(&f->nl, COWFS_CMD_VOLUME_NEW, "frz-att", NULL);

	if (ret) {
		errno = -ret;
		return ret;
	}
	if (rw_umount(&f->rw) || rw_mount(&f->rw, "volume=frz-att:/vol"))
		return -1;
	return mkfile(FM("vol/data"), "volume\n");
}

static int op_write_volume(struct frz *f)
{
	return append(FM("vol/data"), "more\n");
}

static const char *ck_write_volume(struct frz *f)
{
	if (strcmp(slurp(FM("vol/data")), "volume\nmore\n"))
		return WRONG("vol/data in the union: %s", slurp(FM("vol/data")));
	if (strcmp(slurp(pathf("%s/frz-att/_data/data", f->store)),
		   "volume\nmore\n"))
		return WRONG("the volume's data in the store: %s",
			     slurp(pathf("%s/frz-att/_data/data", f->store)));
	return NULL;
}

FROZEN_CASE(write_in_attached_volume,
	    "a write in a volume attached to the union (its data on the frozen filesystem)",
	    prep_write_volume, op_write_volume, ck_write_volume,
	    .volumes = true)

/* ---- freeze/thaw churn against copy-ups ------------------------------------ */

#define CHURN_WORKERS	4
#define CHURN_FILES	40	/* per worker, at most */
#define CHURN_MS	4000	/* how long the freezer keeps at it */
#define CHURN_BIG	(3 * MB)

FIXTURE(churn) {
	struct frz f;
};

FIXTURE_VARIANT(churn) {
	const char *fstype;
	const char *modules;
	const char *mkfs;	/* %s: the image */
	int mb;
	bool lower_on_fs;	/* the lower layer on the same filesystem */
	int files;		/* per worker */
	size_t big;		/* the biggest files' size */
};

FIXTURE_VARIANT_ADD(churn, ext4) {
	.fstype = "ext4",
	.modules = "ext4 loop",
	.mkfs = "mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 %s",
	.mb = 96,
	.files = 6,
	.big = 3 * MB,
};

/* The lower layer on the xfs too: copy-up clones (vfs_clone_file_range()) */
FIXTURE_VARIANT_ADD(churn, xfs) {
	.fstype = "xfs",
	.modules = "xfs loop",
	.mkfs = "mkfs.xfs -q -f %s",
	.mb = 320,
	.lower_on_fs = true,
	/* Clones are quick: more of them, for freezes to catch one */
	.files = CHURN_FILES,
	.big = 256 * 1024,
};

/* Files per worker and sizes of the variant (set up before the forks) */
static int churn_files;
static size_t churn_big;

static size_t churn_size(int i)
{
	size_t mid = MB + 5 < churn_big ? MB + 5 : churn_big - 5;

	return i % 3 == 0 ? churn_big : i % 3 == 1 ? mid : 65536;
}

static const char *churn_name(int w, int i)
{
	return pathf("c%d-%d", w, i);
}

/* Contents of a churn file: a header naming it, then a pattern */
static unsigned char *churn_pattern;

static void churn_data(unsigned char *buf, int w, int i)
{
	memcpy(buf, churn_pattern, churn_size(i));
	snprintf((char *)buf, 16, "%-15s", churn_name(w, i));
}

FIXTURE_SETUP(churn)
{
	struct frz *f = &self->f;
	unsigned char *buf;
	int w, i;

	REQUIRE_FSTYPE();
	if (!have_cmd(pathf("mkfs.%s", variant->fstype)))
		SKIP(return, "needs mkfs.%s", variant->fstype);
	if (system(pathf("modprobe -q -a %s", variant->modules)))
		SKIP(return, "cannot load the modules %s", variant->modules);
	ASSERT_EQ(0, upperfs_init(_metadata, f, variant->fstype, variant->mkfs,
				  variant->mb)) {
		upperfs_cleanup(_metadata, f);
	}
	if (variant->lower_on_fs) {
		free(f->rw.e.layers[0]);
		f->rw.e.layers[0] = strdup(pathf("%s/l", f->fs));
		ASSERT_EQ(0, f->rw.e.layers[0] ? mkdir_p(f->rw.e.layers[0], 0755) :
			     -ENOMEM) {
			upperfs_cleanup(_metadata, f);
		}
	}
	churn_files = variant->files;
	churn_big = variant->big;
	churn_pattern = malloc(CHURN_BIG);
	buf = malloc(CHURN_BIG);
	ASSERT_TRUE(churn_pattern && buf);
	fill_pattern(churn_pattern, CHURN_BIG, 0xf0f0);
	for (w = 0; w < CHURN_WORKERS; w++) {
		for (i = 0; i < churn_files; i++) {
			churn_data(buf, w, i);
			ASSERT_EQ(0, mkfile_data(LP(&f->rw, 0, churn_name(w, i)),
						 buf, churn_size(i), 0644)) {
				upperfs_cleanup(_metadata, f);
			}
		}
	}
	free(buf);
	ASSERT_EQ(0, rw_mount(&f->rw, NULL)) {
		TH_LOG("mount: %s", strerror(errno));
		upperfs_cleanup(_metadata, f);
	}
}

FIXTURE_TEARDOWN(churn)
{
	upperfs_cleanup(_metadata, &self->f);
	free(churn_pattern);
	churn_pattern = NULL;
}

struct churn_res {
	int done;		/* files copied up and checked */
	char msg[200];		/* the first problem, "" if none */
};

/* Worker @w: copy up each of its files by appending a byte, and check it */
static void churn_worker(struct frz *f, int w, int fd)
{
	struct churn_res r = {};
	unsigned char *want = malloc(CHURN_BIG + 1), *got = malloc(CHURN_BIG + 2);
	int i;

	for (i = 0; i < churn_files && want && got && !r.msg[0]; i++) {
		const char *name = churn_name(w, i);
		size_t len = churn_size(i);
		ssize_t n;
		int ret;

		churn_data(want, w, i);
		want[len] = 'W';
		ret = append(FM(name), "W");
		if (ret) {
			snprintf(r.msg, sizeof(r.msg), "appending to %s: %s",
				 name, strerror(-ret));
			break;
		}
		n = read_file(FM(name), (char *)got, CHURN_BIG + 2);
		if (n != (ssize_t)len + 1 || memcmp(want, got, len + 1))
			snprintf(r.msg, sizeof(r.msg),
				 "%s has %zd bytes%s in the union, not its %zu bytes and the appended one",
				 name, n, n == (ssize_t)len + 1 ? " that differ" : "",
				 len);
		else
			r.done++;
	}
	if (!want || !got)
		snprintf(r.msg, sizeof(r.msg), "out of memory");
	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

/*
 * The freezer: FIFREEZE, a few ms, FITHAW, a few ms, for CHURN_MS.  It
 * reports 'f' after each freeze, 't' after each thaw, then 'E' at the end
 * or 'X' and the errno of a failed ioctl.
 */
static void churn_freezer(struct frz *f, int fd)
{
	long long end = now_ms() + CHURN_MS;
	unsigned int seed = getpid();
	char ev;
	int err = 0;

	while (now_ms() < end) {
		if (ioctl(f->fsfd, FIFREEZE, 0)) {
			err = errno;
			break;
		}
		ev = 'f';
		if (write(fd, &ev, 1) != 1)
			break;
		usleep(5000 + rand_r(&seed) % 40000);
		if (ioctl(f->fsfd, FITHAW, 0)) {
			err = errno;
			break;
		}
		ev = 't';
		if (write(fd, &ev, 1) != 1)
			break;
		usleep(5000 + rand_r(&seed) % 40000);
	}
	ev = err ? 'X' : 'E';
	if (write(fd, &ev, 1) != 1 || write(fd, &err, sizeof(err)) != sizeof(err))
		_exit(1);
	_exit(0);
}

TEST_F_TIMEOUT(churn, copy_ups_survive_freeze_thaw, CASE_TIMEOUT)
{
	struct frz *f = &self->f;
	int wfd[CHURN_WORKERS], ffd, p[2], w, i, err, cycles = 0, copied = 0;
	long long t0 = now_ms(), tend;
	bool frozen = false;
	pid_t pid;
	char ev;

	/* The freezer first, then the workers: they start while it churns */
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		child_quiet();
		churn_freezer(f, p[1]);
	}
	close(p[1]);
	kid_add(f, pid);
	ffd = p[0];
	for (w = 0; w < CHURN_WORKERS; w++) {
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(p[0]);
			child_quiet();
			churn_worker(f, w, p[1]);
		}
		close(p[1]);
		kid_add(f, pid);
		wfd[w] = p[0];
	}

	/* Every FIFREEZE and FITHAW must come back */
	for (;;) {
		int r = read_bounded(ffd, &ev, 1, FREEZE_MS);

		if (r < 0) {
			EXPECT_EQ(1, r) TH_LOG("the freezer died");
			break;
		}
		if (r == 0) {
			f->wedged = true;
			EXPECT_EQ(1, r)
				TH_LOG("%s %d has not returned for 15 s with copy-ups running: fsfreeze and the copy-ups are deadlocked",
				       frozen ? "FITHAW (fsfreeze -u)" :
				       "FIFREEZE (fsfreeze -f)", cycles + 1);
			break;
		}
		if (ev == 'f') {
			frozen = true;
			continue;
		}
		if (ev == 't') {
			frozen = false;
			cycles++;
			continue;
		}
		err = 0;
		read_bounded(ffd, &err, sizeof(err), START_MS);
		EXPECT_EQ('E', ev) TH_LOG("the freezer's %s failed: %s",
					  frozen ? "FITHAW" : "FIFREEZE",
					  strerror(err));
		break;
	}
	close(ffd);
	fs_thaw(f);	/* in case the freezer stopped with it frozen */

	/* Then every copy-up must finish, and have copied the right bytes */
	tend = now_ms() + (f->wedged ? 2000 : THAW_MS);
	for (w = 0; w < CHURN_WORKERS; w++) {
		struct churn_res r = {};
		long long left = tend - now_ms();
		int got = read_bounded(wfd[w], &r, sizeof(r), left > 0 ? (int)left : 1);

		close(wfd[w]);
		EXPECT_EQ(1, got) TH_LOG("worker %d's copy-ups %s", w,
					 got ? "died" : f->wedged ?
					 "are stuck behind the stuck freeze" :
					 "still had not finished 30 s after the last thaw: they hang");
		if (got != 1)
			continue;
		EXPECT_STREQ("", r.msg) TH_LOG("worker %d", w);
		copied += r.done;
	}
	EXPECT_EQ(CHURN_WORKERS * churn_files, copied);
	TH_LOG("%d freeze/thaw cycles, %d of %d files copied up and checked, %.1f s",
	       cycles, copied, CHURN_WORKERS * churn_files,
	       (now_ms() - t0) / 1000.0);
	if (f->wedged || copied != CHURN_WORKERS * churn_files)
		return;

	/* In the upper layer, complete, and nothing left in the workdir */
	for (w = 0; w < CHURN_WORKERS; w++) {
		for (i = 0; i < churn_files; i++) {
			struct stat st = {};
			const char *name = churn_name(w, i);

			EXPECT_EQ(0, lstat(FU(name), &st));
			EXPECT_EQ(churn_size(i) + 1, (size_t)st.st_size)
				TH_LOG("upper %s", name);
		}
	}
	EXPECT_EQ(0, work_leftovers(&f->rw));
}

TEST_HARNESS_MAIN
