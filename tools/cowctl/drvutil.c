// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: helpers the storage drivers share: running programs, loop
 * devices, sparse files, recursive removal and disk usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cowctl.h"
#include "driver.h"
#include "mountinfo.h"
#include "utils.h"

#ifndef BTRFS_SUPER_MAGIC
#define BTRFS_SUPER_MAGIC	0x9123683E
#endif
#ifndef XFS_SUPER_MAGIC
#define XFS_SUPER_MAGIC		0x58465342
#endif
#ifndef ZFS_SUPER_MAGIC
#define ZFS_SUPER_MAGIC		0x2fc12fc1
#endif
#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC	0x794c7630
#endif

static const char *const sbin_dirs[] = {
	"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin",
	"/bin", NULL,
};

char *find_prog(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(prog, '/'))
		return access(prog, X_OK) ? NULL : xstrdup(prog);
	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (n && n < sizeof(buf) - strlen(prog) - 2) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
			if (!access(buf, X_OK))
				return xstrdup(buf);
		}
		path += n + (path[n] == ':');
	}
	for (const char *const *d = sbin_dirs; *d; d++) {
		snprintf(buf, sizeof(buf), "%s/%s", *d, prog);
		if (!access(buf, X_OK))
			return xstrdup(buf);
	}
	return NULL;
}

int need_prog(const char *prog, const char *pkg, char *why, size_t len)
{
	char *p = find_prog(prog);

	if (p) {
		free(p);
		return 0;
	}
	snprintf(why, len, "%s not found: install %s", prog, pkg);
	return -ENOENT;
}

void drv_err(const struct drv_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "cowctl: %s driver: ", ctx->drv->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Read everything from @fd into @sb until EOF. */
static void slurp(int fd, struct strbuf *sb)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		strbuf_add(sb, buf, n);
	}
}

int run_cmd(const struct drv_ctx *ctx, const char *const *argv,
	    unsigned int flags, char **out)
{
	struct strbuf obuf = STRBUF_INIT, ebuf = STRBUF_INIT;
	int opipe[2] = { -1, -1 }, epipe[2];
	char *prog = find_prog(argv[0]);
	int status, ret;
	pid_t pid;

	if (!prog) {
		drv_err(ctx, "%s not found (is it installed and in $PATH?)",
			argv[0]);
		return -ENOENT;
	}
	if (pipe2(epipe, O_CLOEXEC) < 0 ||
	    (!(flags & RUN_STDOUT) && pipe2(opipe, O_CLOEXEC) < 0)) {
		ret = -errno;
		drv_err(ctx, "cannot run %s: pipe: %s", argv[0], strerror(errno));
		free(prog);
		return ret;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		drv_err(ctx, "cannot run %s: fork: %s", argv[0], strerror(errno));
		free(prog);
		return ret;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, 0);
		if (!(flags & RUN_STDOUT))
			dup2(opipe[1], 1);
		dup2(epipe[1], 2);
		setenv("LC_ALL", "C", 1);
		execv(prog, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	free(prog);
	close(epipe[1]);
	if (!(flags & RUN_STDOUT)) {
		struct pollfd pfd[2] = {
			{ .fd = opipe[0], .events = POLLIN },
			{ .fd = epipe[0], .events = POLLIN },
		};
		int open_fds = 2;

		close(opipe[1]);
		/* Read both pipes as they fill so neither writer blocks. */
		while (open_fds) {
			if (poll(pfd, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int i = 0; i < 2; i++) {
				char buf[4096];
				ssize_t n;

				if (pfd[i].fd < 0 || !pfd[i].revents)
					continue;
				n = read(pfd[i].fd, buf, sizeof(buf));
				if (n > 0) {
					strbuf_add(i ? &ebuf : &obuf, buf, n);
				} else if (n == 0 || errno != EINTR) {
					close(pfd[i].fd);
					pfd[i].fd = -1;
					open_fds--;
				}
			}
		}
	} else {
		slurp(epipe[0], &ebuf);
		close(epipe[0]);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret && !(flags & RUN_QUIET)) {
		struct strbuf cmd = STRBUF_INIT;
		const char *e = strbuf_str(&ebuf);
		size_t len = strlen(e);

		for (const char *const *a = argv; *a; a++) {
			if (a != argv)
				strbuf_addstr(&cmd, " ");
			strbuf_addstr(&cmd, *a);
		}
		while (len && isspace((unsigned char)e[len - 1]))
			len--;
		drv_err(ctx, "'%s' failed (exit status %d)%s%.*s",
			msg_path(strbuf_str(&cmd)), ret, len ? ": " : "",
			(int)len, e);
		strbuf_free(&cmd);
	}
	if (out)
		*out = xstrdup(strbuf_str(&obuf));
	strbuf_free(&obuf);
	strbuf_free(&ebuf);
	return ret;
}

int mkdir_p(const char *path, unsigned int mode)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

static dev_t rm_dev;
static int rm_err;

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)ftw;
	if (st->st_dev != rm_dev && type != FTW_NS) {
		/* A mount below: never delete into another filesystem. */
		rm_err = -EBUSY;
		return 0;
	}
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 &&
	    errno != ENOENT && !rm_err)
		rm_err = -errno;
	return 0;
}

int rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	rm_dev = st.st_dev;
	rm_err = 0;
	if (nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS) < 0 && !rm_err)
		rm_err = -errno;
	return rm_err;
}

struct du_state {
	int64_t bytes;
	struct { dev_t dev; ino_t ino; } *seen;
	size_t n, alloc;
};

static struct du_state du;

static int du_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_NS)
		return 0;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		for (size_t i = 0; i < du.n; i++)
			if (du.seen[i].dev == st->st_dev &&
			    du.seen[i].ino == st->st_ino)
				return 0;
		if (du.n == du.alloc) {
			du.alloc = du.alloc ? du.alloc * 2 : 64;
			du.seen = xrealloc(du.seen, du.alloc, sizeof(*du.seen));
		}
		du.seen[du.n].dev = st->st_dev;
		du.seen[du.n++].ino = st->st_ino;
	}
	du.bytes += (int64_t)st->st_blocks * 512;
	return 0;
}

int64_t du_bytes(const char *path)
{
	int64_t ret;

	memset(&du, 0, sizeof(du));
	if (nftw(path, du_one, 64, FTW_PHYS | FTW_MOUNT) < 0)
		ret = -errno;
	else
		ret = du.bytes;
	free(du.seen);
	memset(&du, 0, sizeof(du));
	return ret;
}

bool is_mounted(const char *path, const char *fstype)
{
	struct mnt_table t = MNT_TABLE_INIT;
	const struct mnt_entry *e;
	char *canon = realpath(path, NULL);
	bool ret = false;

	if (!canon)
		return false;
	if (mnt_table_read(&t, NULL) == 0) {
		e = mnt_table_find_target(&t, canon);
		ret = e && (!fstype || !strcmp(e->fstype, fstype));
	}
	mnt_table_free(&t);
	free(canon);
	return ret;
}

int need_modules(const struct drv_ctx *ctx, const char *const *mods)
{
	for (; *mods; mods++) {
		char path[128];

		snprintf(path, sizeof(path), "/sys/module/%s", *mods);
		if (access(path, F_OK) == 0)
			continue;
		/*
		 * modprobe succeeds for a module built into the kernel too,
		 * which has no /sys/module entry unless it has parameters.
		 */
		if (RUN(ctx, 0, NULL, "modprobe", *mods)) {
			drv_err(ctx, "the kernel module %s is not available: 'modprobe %s' failed",
				*mods, *mods);
			return -ENODEV;
		}
	}
	return 0;
}

int make_sparse(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int ret = 0;

	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	if (ftruncate(fd, size) < 0)
		ret = -errno;
	close(fd);
	if (ret)
		unlink(path);
	return ret;
}

bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 'T': v <<= 10; /* fall through */
	case 'G': v <<= 10; /* fall through */
	case 'M': v <<= 10; /* fall through */
	case 'K': v <<= 10; end++; break;
	case '\0': break;
	default: return false;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return false;
	*out = v;
	return true;
}

const char *fs_name(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: return "extfs";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case TMPFS_MAGIC: return "tmpfs";
	case ZFS_SUPER_MAGIC: return "zfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case V9FS_MAGIC: return "9p";
	default: return "unknown";
	}
}

/* ---- loop devices ---- */

#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE	0x4C0A
struct loop_config {
	__u32 fd;
	__u32 block_size;
	struct loop_info64 info;
	__u64 __reserved[8];
};
#endif

int loop_attach(const char *file, bool partscan, char *dev, size_t len)
{
	struct loop_config cfg;
	int ctl, ffd, lfd = -1, ret = -EBUSY;

	ffd = open(file, O_RDWR | O_CLOEXEC);
	if (ffd < 0)
		return -errno;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		ret = -errno;
		close(ffd);
		return ret;
	}
	for (int tries = 0; tries < 16 && ret == -EBUSY; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0) {
			ret = -errno;
			break;
		}
		snprintf(dev, len, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			ret = -errno;
			break;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = ffd;
		/*
		 * Autoclear: the device goes away by itself once its last
		 * user (dm table, mount, zpool) lets go of it.
		 */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR |
				    (partscan ? LO_FLAGS_PARTSCAN : 0);
		snprintf((char *)cfg.info.lo_file_name, LO_NAME_SIZE, "%s",
			 file);
		ret = ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
		if (ret) {
			close(lfd);
			lfd = -1;
		}
	}
	close(ctl);
	close(ffd);
	/*
	 * Keep the loop device open until exit, so autoclear cannot take it
	 * away before the caller's user of it (mount, dm, zpool) has it.
	 */
	(void)lfd;
	return ret;
}

int loop_find(const char *file, char *dev, size_t len)
{
	char *canon = realpath(file, NULL);
	char buf[PATH_MAX + 2];
	struct dirent *d;
	int ret = -ENOENT;
	DIR *dir;

	if (!canon)
		return -errno;
	dir = opendir("/sys/block");
	while (dir && ret && (d = readdir(dir))) {
		char path[300];
		FILE *f;

		if (strncmp(d->d_name, "loop", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
			 d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			if (!strcmp(buf, canon)) {
				snprintf(dev, len, "/dev/%s", d->d_name);
				ret = 0;
			}
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	free(canon);
	return ret;
}

int loop_get(const struct drv_ctx *ctx, const char *file, bool partscan,
	     char *dev, size_t len)
{
	int ret;

	if (loop_find(file, dev, len) == 0)
		return 0;
	ret = loop_attach(file, partscan, dev, len);
	if (ret)
		drv_err(ctx, "cannot attach %s to a loop device: %s%s", file,
			strerror(-ret), ret == -ENOENT ? " ('modprobe loop')" : "");
	return ret;
}

int loop_image(const struct drv_ctx *ctx, const char *img,
	       const char *def_size, bool fresh, bool partscan,
	       char *dev, size_t len)
{
	uint64_t size;
	int ret;

	if (!parse_size(ctx_opt(ctx, "size", def_size), &size)) {
		drv_err(ctx, "size=%s is not a size (e.g. 8G)",
			ctx_opt(ctx, "size", ""));
		return -EINVAL;
	}
	if (fresh)
		unlink(img);
	ret = make_sparse(img, size);
	if (ret) {
		drv_err(ctx, "cannot create %s: %s", img, strerror(-ret));
		return ret;
	}
	return loop_get(ctx, img, partscan, dev, len);
}

int loop_detach(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
		ret = -errno;
	close(fd);
	return ret;
}
