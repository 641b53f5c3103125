// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl composefs build: a composefs-style image from a directory.
 *
 * The image is two directories, mounted as
 *
 *	mount -t cowfs -o lowerdir=META::OBJECTS,metacopy=on,verity=require
 *
 * (overlayfs takes the same options).  OBJECTS, a data-only layer, holds
 * each distinct content once, at "xx/rest-of-hex" named by its fs-verity
 * digest, with fs-verity enabled.  META holds the tree: directories,
 * symlinks, device nodes, fifos, sockets as they are, and for each
 * non-empty regular file an empty sparse file of its size, mode, owner,
 * times and xattrs, with trusted.overlay.metacopy (overlayfs's struct
 * ovl_metacopy, carrying the object's digest) and trusted.overlay.redirect
 * ("/xx/rest-of-hex", the object).  Empty regular files are plain empty
 * files.
 *
 * SRC is walked through directory file descriptors, every name opened
 * with O_NOFOLLOW, so no symlink is followed, in or out of SRC.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fsverity.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cowctl.h"
#include "json_print.h"
#include "utils.h"

#define METACOPY_XATTR	"trusted.overlay.metacopy"
#define REDIRECT_XATTR	"trusted.overlay.redirect"
#define OVL_XATTR_PREFIX "trusted.overlay."
#define DIGEST_MAX	64

static int composefs_build(int argc, char **argv);

static const char *const build_usage[] = {
	"cowctl composefs build [OPTIONS] SRC META OBJECTS",
	"Build a composefs-style image (metadata layer and object store) from SRC.",
	"",
	"Copies the content of every non-empty regular file of the directory SRC",
	"into OBJECTS once, as a file named by its fs-verity digest",
	"(OBJECTS/xx/rest-of-hex) with fs-verity enabled; an object that is",
	"already there is reused. META gets the tree: directories, symlinks,",
	"device nodes and fifos as they are, empty regular files as they are,",
	"and for every other regular file an empty sparse file of its size,",
	"mode, owner, times and xattrs whose trusted.overlay.metacopy and",
	"trusted.overlay.redirect xattrs name its object and digest. Hard links",
	"become separate files sharing one object. Symlinks are never followed.",
	"xattrs are copied but for trusted.overlay.* and system.* (ACLs are kept).",
	"",
	"META must be empty or absent (its parent must exist); OBJECTS is made",
	"when absent and must be on a filesystem with fs-verity (ext4 made with",
	"-O verity). META needs trusted.* xattrs, so cowctl must run as root.",
	"When a build fails, META is left partly built: empty it to try again.",
	"Mount the image with:",
	"  mount -t cowfs -o lowerdir=META::OBJECTS,metacopy=on,verity=require none MNT",
	"",
	"Options:",
	"  -j, --json          print what was built as JSON",
	"  -h, --help          print this help",
	"",
	"Examples:",
	"  cowctl composefs build /srv/rootfs /srv/img/meta /srv/objects",
	NULL,
};

const char *const composefs_usage[] = {
	"cowctl composefs COMMAND [ARGS...]",
	"Build composefs-style images: a metadata layer over an object store.",
	NULL,
};

static const struct cmd composefs_cmds[] = {
	{ "build",	composefs_build,	build_usage },
	{ NULL, NULL, NULL },
};

int cmd_composefs(int argc, char **argv)
{
	return cmd_group(composefs_cmds, "composefs", composefs_usage, argc,
			 argv);
}

/* overlayfs's struct ovl_metacopy */
struct metacopy {
	uint8_t version;
	uint8_t len;
	uint8_t flags;
	uint8_t algo;
	uint8_t digest[DIGEST_MAX];
} __attribute__((packed));

/* A source inode with more than one link, and the object it went to. */
struct hardlink {
	dev_t dev;
	ino_t ino;
	struct metacopy mc;
};

struct build {
	int objfd;
	const char *objects;
	struct stat meta_st, obj_st;
	struct hardlink *links;
	size_t nlinks, links_alloc;
	unsigned int tmpseq;
	/* counts for the summary */
	uint64_t files, empty, dirs, symlinks, special, hardlinks;
	uint64_t obj_new, obj_reused, bytes_new;
};

/* @dir/@name into @out (PATH_MAX bytes); false when it does not fit. */
static bool path_join(char *out, const char *dir, const char *name)
{
	return snprintf(out, PATH_MAX, "%s/%s", dir, name) < PATH_MAX;
}

/*
 * A path that lsetxattr() and friends take for @name in the directory
 * @dfd (there are no *at() xattr calls before Linux 6.13).
 */
static void fd_path(char *out, int dfd, const char *name)
{
	snprintf(out, PATH_MAX + 32, "/proc/self/fd/%d/%s", dfd,
		 name ? name : ".");
}

static int fail(const char *what, const char *path, int err)
{
	error_msg("%s '%s': %s", what, msg_path(path), strerror(err));
	return -1;
}

/* Setting a trusted.* xattr on @path failed with @err. */
static int fail_xattr(const char *name, const char *path, int err)
{
	if (err == EPERM && !strncmp(name, "trusted.", 8))
		error_msg("cannot set %s on '%s': %s: writing the image needs CAP_SYS_ADMIN (run cowctl as root)",
			  name, msg_path(path), strerror(err));
	else
		error_msg("cannot set %s on '%s': %s", name, msg_path(path),
			  strerror(err));
	return -1;
}

static bool copy_xattr_name(const char *name)
{
	if (!strncmp(name, OVL_XATTR_PREFIX, strlen(OVL_XATTR_PREFIX)))
		return false;
	if (!strncmp(name, "system.", 7))
		return !strcmp(name, "system.posix_acl_access") ||
		       !strcmp(name, "system.posix_acl_default");
	return true;
}

/*
 * Copy the xattrs of @sname (in @sdfd, or @sdfd itself when NULL) to
 * @dname (in @ddfd, or @ddfd itself).  Symlinks are not followed.
 */
static int copy_xattrs(int sdfd, const char *sname, int ddfd,
		       const char *dname, const char *spath, const char *dpath)
{
	char sp[PATH_MAX + 32], dp[PATH_MAX + 32];
	char *list = NULL, *val = NULL;
	ssize_t len, vlen;
	int ret = -1;

	fd_path(sp, sdfd, sname);
	fd_path(dp, ddfd, dname);
	len = sname ? llistxattr(sp, NULL, 0) : flistxattr(sdfd, NULL, 0);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return fail("cannot list the xattrs of", spath, errno);
	}
	if (len == 0)
		return 0;
	list = xmalloc(len + 1);
	len = sname ? llistxattr(sp, list, len) : flistxattr(sdfd, list, len);
	if (len < 0) {
		fail("cannot list the xattrs of", spath, errno);
		goto out;
	}
	for (char *n = list; n < list + len; n += strlen(n) + 1) {
		if (!copy_xattr_name(n))
			continue;
		vlen = sname ? lgetxattr(sp, n, NULL, 0) :
			       fgetxattr(sdfd, n, NULL, 0);
		if (vlen < 0 && errno == ENODATA)
			continue;
		if (vlen < 0) {
			error_msg("cannot read %s of '%s': %s", n,
				  msg_path(spath), strerror(errno));
			goto out;
		}
		free(val);
		val = xmalloc(vlen + 1);
		vlen = sname ? lgetxattr(sp, n, val, vlen) :
			       fgetxattr(sdfd, n, val, vlen);
		if (vlen < 0) {
			error_msg("cannot read %s of '%s': %s", n,
				  msg_path(spath), strerror(errno));
			goto out;
		}
		if ((dname ? lsetxattr(dp, n, val, vlen, 0) :
			     fsetxattr(ddfd, n, val, vlen, 0)) < 0) {
			fail_xattr(n, dpath, errno);
			goto out;
		}
	}
	ret = 0;
out:
	free(list);
	free(val);
	return ret;
}

/*
 * Owner, mode, xattrs, then times of @dname in @ddfd (or @ddfd itself),
 * from @st: chown first, as it clears set-id bits and capabilities.
 */
static int set_attrs(int sdfd, const char *sname, int ddfd, const char *dname,
		     const struct stat *st, const char *spath,
		     const char *dpath)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	const char *n = dname ? dname : "";
	int flags = AT_SYMLINK_NOFOLLOW | (dname ? 0 : AT_EMPTY_PATH);

	if (fchownat(ddfd, n, st->st_uid, st->st_gid, flags) < 0)
		return fail("cannot set the owner of", dpath, errno);
	if (!S_ISLNK(st->st_mode)) {
		int r = dname ? fchmodat(ddfd, dname, st->st_mode & 07777, 0) :
				fchmod(ddfd, st->st_mode & 07777);
		if (r < 0)
			return fail("cannot set the mode of", dpath, errno);
	}
	if (copy_xattrs(sdfd, sname, ddfd, dname, spath, dpath) < 0)
		return -1;
	if (dname ? utimensat(ddfd, dname, ts, AT_SYMLINK_NOFOLLOW) :
		    futimens(ddfd, ts))
		return fail("cannot set the times of", dpath, errno);
	return 0;
}

static int copy_data(int sfd, int dfd, off_t size, const char *spath,
		     const char *tpath)
{
	static char buf[1 << 16];
	off_t done = 0;
	ssize_t n;

	while (done < size) {
		n = copy_file_range(sfd, NULL, dfd, NULL, size - done, 0);
		if (n < 0 && (errno == EXDEV || errno == EINVAL ||
			      errno == EOPNOTSUPP || errno == ENOSYS))
			break;
		if (n < 0)
			return fail("cannot copy the content of", spath, errno);
		if (n == 0)
			break;
		done += n;
	}
	while (done < size) {
		n = read(sfd, buf, sizeof(buf));
		if (n < 0)
			return fail("cannot read", spath, errno);
		if (n == 0)
			break;
		for (ssize_t w = 0, r; w < n; w += r) {
			r = write(dfd, buf + w, n - w);
			if (r < 0)
				return fail("cannot write", tpath, errno);
		}
		done += n;
	}
	if (done != size || read(sfd, buf, 1) != 0) {
		error_msg("'%s' changed while it was copied: build again",
			  msg_path(spath));
		return -1;
	}
	return 0;
}

static int measure(int fd, struct metacopy *mc)
{
	struct {
		struct fsverity_digest d;
		uint8_t buf[DIGEST_MAX];
	} m = { .d.digest_size = DIGEST_MAX };

	if (ioctl(fd, FS_IOC_MEASURE_VERITY, &m.d) < 0)
		return -errno;
	if (m.d.digest_size > DIGEST_MAX)
		return -EOVERFLOW;
	memset(mc, 0, sizeof(*mc));
	mc->len = 4 + m.d.digest_size;
	mc->algo = m.d.digest_algorithm;
	memcpy(mc->digest, m.d.digest, m.d.digest_size);
	return 0;
}

/* "xx/rest-of-hex" of @mc's digest */
static void object_name(const struct metacopy *mc, char *out)
{
	size_t n = mc->len - 4, o = 0;

	for (size_t i = 0; i < n; i++) {
		o += sprintf(out + o, "%02x", mc->digest[i]);
		if (i == 0)
			out[o++] = '/';
	}
	out[o] = '\0';
}

/*
 * Copy the regular file @sfd (@size bytes) into the object store and
 * give its digest in @mc.
 */
static int store_object(struct build *b, int sfd, off_t size,
			const char *spath, struct metacopy *mc)
{
	struct fsverity_enable_arg arg = {
		.version = 1,
		.hash_algorithm = FS_VERITY_HASH_ALG_SHA256,
		.block_size = 4096,
	};
	char tmp[64], name[2 * DIGEST_MAX + 2], dir[3], tpath[PATH_MAX],
	     opath[PATH_MAX];
	struct stat st;
	int fd, err;

	snprintf(tmp, sizeof(tmp), ".tmp.%ld.%u", (long)getpid(), b->tmpseq++);
	path_join(tpath, b->objects, tmp);
	fd = openat(b->objfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644);
	if (fd < 0)
		return fail("cannot create the object", tpath, errno);
	if (copy_data(sfd, fd, size, spath, tpath) < 0)
		goto fail_close;
	if (close(fd) < 0) {
		fd = -1;
		fail("cannot write", tpath, errno);
		goto fail;
	}
	/* fs-verity wants no writable file descriptor open */
	fd = openat(b->objfd, tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fail("cannot open the object", tpath, errno);
		goto fail;
	}
	if (ioctl(fd, FS_IOC_ENABLE_VERITY, &arg) < 0) {
		err = errno;
		if (err == EOPNOTSUPP || err == ENOTTY)
			error_msg("OBJECTS '%s' is on a filesystem without fs-verity: use ext4 made with -O verity (tune2fs -O verity) on a kernel with CONFIG_FS_VERITY",
				  msg_path(b->objects));
		else
			fail("cannot enable fs-verity on", tpath, err);
		goto fail_close;
	}
	err = measure(fd, mc);
	if (err) {
		fail("cannot measure the fs-verity digest of", tpath, -err);
		goto fail_close;
	}
	close(fd);
	fd = -1;

	object_name(mc, name);
	memcpy(dir, name, 2);
	dir[2] = '\0';
	path_join(opath, b->objects, name);
	if (mkdirat(b->objfd, dir, 0755) < 0 && errno != EEXIST) {
		path_join(tpath, b->objects, dir);
		fail("cannot create the object directory", tpath, errno);
		goto fail;
	}
	if (fstatat(b->objfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		struct metacopy old;
		int ofd = -1;

		/* reuse it, when it is the same content with fs-verity */
		if (S_ISREG(st.st_mode))
			ofd = openat(b->objfd, name,
				     O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		err = ofd < 0 ? -EINVAL : measure(ofd, &old);
		if (ofd >= 0)
			close(ofd);
		if (err || old.len != mc->len || old.algo != mc->algo ||
		    memcmp(old.digest, mc->digest, mc->len - 4)) {
			error_msg("object '%s' is already there but is not that content with fs-verity: remove it",
				  msg_path(opath));
			goto fail;
		}
		unlinkat(b->objfd, tmp, 0);
		b->obj_reused++;
		return 0;
	} else if (errno != ENOENT) {
		fail("cannot look at the object", opath, errno);
		goto fail;
	}
	if (renameat(b->objfd, tmp, b->objfd, name) < 0) {
		fail("cannot name the object", opath, errno);
		goto fail;
	}
	b->obj_new++;
	b->bytes_new += size;
	return 0;

fail_close:
	if (fd >= 0)
		close(fd);
fail:
	unlinkat(b->objfd, tmp, 0);
	return -1;
}

static struct hardlink *find_link(struct build *b, const struct stat *st)
{
	for (size_t i = 0; i < b->nlinks; i++)
		if (b->links[i].dev == st->st_dev && b->links[i].ino == st->st_ino)
			return &b->links[i];
	return NULL;
}

static int build_file(struct build *b, int sdfd, int mdfd, const char *name,
		      const char *spath, const char *mpath)
{
	struct metacopy mc;
	struct hardlink *hl = NULL;
	char redirect[2 * DIGEST_MAX + 3];
	struct stat st;
	int sfd, fd = -1, ret = -1;

	sfd = openat(sdfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (sfd < 0)
		return fail("cannot open", spath, errno);
	if (fstat(sfd, &st) < 0) {
		fail("cannot stat", spath, errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error_msg("'%s' changed while it was copied: build again",
			  msg_path(spath));
		goto out;
	}
	if (st.st_size > 0) {
		if (st.st_nlink > 1)
			hl = find_link(b, &st);
		if (hl) {
			mc = hl->mc;
			b->hardlinks++;
		} else {
			if (store_object(b, sfd, st.st_size, spath, &mc) < 0)
				goto out;
			if (st.st_nlink > 1) {
				if (b->nlinks == b->links_alloc) {
					b->links_alloc = b->links_alloc * 2 + 16;
					b->links = xrealloc(b->links,
							    b->links_alloc,
							    sizeof(*b->links));
				}
				b->links[b->nlinks++] = (struct hardlink){
					st.st_dev, st.st_ino, mc };
			}
		}
	}
	fd = openat(mdfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		fail("cannot create", mpath, errno);
		goto out;
	}
	if (st.st_size > 0) {
		if (ftruncate(fd, st.st_size) < 0) {
			fail("cannot set the size of", mpath, errno);
			goto out;
		}
		redirect[0] = '/';
		object_name(&mc, redirect + 1);
		if (fsetxattr(fd, METACOPY_XATTR, &mc, mc.len, 0) < 0) {
			fail_xattr(METACOPY_XATTR, mpath, errno);
			goto out;
		}
		if (fsetxattr(fd, REDIRECT_XATTR, redirect, strlen(redirect),
			      0) < 0) {
			fail_xattr(REDIRECT_XATTR, mpath, errno);
			goto out;
		}
		b->files++;
	} else {
		b->empty++;
	}
	close(fd);
	fd = -1;
	ret = set_attrs(sdfd, name, mdfd, name, &st, spath, mpath);
out:
	if (fd >= 0)
		close(fd);
	close(sfd);
	return ret;
}

static int build_dir(struct build *b, int sdfd, int mdfd, const char *spath,
		     const char *mpath);

static int build_entry(struct build *b, int sdfd, int mdfd, const char *name,
		       const char *spath, const char *mpath)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t len;
	int s, m, ret;

	if (fstatat(sdfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail("cannot stat", spath, errno);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return build_file(b, sdfd, mdfd, name, spath, mpath);
	case S_IFDIR:
		if ((st.st_dev == b->meta_st.st_dev &&
		     st.st_ino == b->meta_st.st_ino) ||
		    (st.st_dev == b->obj_st.st_dev &&
		     st.st_ino == b->obj_st.st_ino)) {
			error_msg("'%s' is META or OBJECTS: put them outside SRC",
				  msg_path(spath));
			return -1;
		}
		s = openat(sdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			   O_CLOEXEC);
		if (s < 0)
			return fail("cannot open the directory", spath, errno);
		if (mkdirat(mdfd, name, 0700) < 0) {
			close(s);
			return fail("cannot create the directory", mpath, errno);
		}
		m = openat(mdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			   O_CLOEXEC);
		if (m < 0) {
			close(s);
			return fail("cannot open the directory", mpath, errno);
		}
		ret = build_dir(b, s, m, spath, mpath);
		if (!ret) {
			/* the source's attributes, after its entries */
			if (fstat(s, &st) < 0)
				ret = fail("cannot stat", spath, errno);
			else
				ret = set_attrs(s, NULL, m, NULL, &st, spath,
						mpath);
		}
		close(s);
		close(m);
		b->dirs++;
		return ret;
	case S_IFLNK:
		len = readlinkat(sdfd, name, target, sizeof(target) - 1);
		if (len < 0)
			return fail("cannot read the symlink", spath, errno);
		target[len] = '\0';
		if (symlinkat(target, mdfd, name) < 0)
			return fail("cannot create the symlink", mpath, errno);
		b->symlinks++;
		break;
	default:	/* devices, fifos, sockets */
		if (mknodat(mdfd, name, (st.st_mode & S_IFMT) | 0600,
			    st.st_rdev) < 0)
			return fail("cannot create", mpath, errno);
		b->special++;
		break;
	}
	return set_attrs(sdfd, name, mdfd, name, &st, spath, mpath);
}

static int build_dir(struct build *b, int sdfd, int mdfd, const char *spath,
		     const char *mpath)
{
	char sp[PATH_MAX], mp[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = dup(sdfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return fail("cannot read the directory", spath, errno);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				ret = fail("cannot read the directory", spath,
					   errno);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!path_join(sp, spath, de->d_name) ||
		    !path_join(mp, mpath, de->d_name)) {
			error_msg("'%s/%s' is too long a path", msg_path(spath),
				  de->d_name);
			ret = -1;
			break;
		}
		ret = build_entry(b, sdfd, mdfd, de->d_name, sp, mp);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

/* Open META, making it when absent; it must be an empty directory. */
static int open_meta(const char *meta)
{
	struct dirent *de;
	DIR *d;
	int fd, dfd;

	if (mkdir(meta, 0755) < 0 && errno != EEXIST) {
		fail("cannot create META", meta, errno);
		return -1;
	}
	fd = open(meta, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			error_msg("META '%s' is not a directory: give an empty or absent directory",
				  msg_path(meta));
		else
			fail("cannot open META", meta, errno);
		return -1;
	}
	dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		fail("cannot read META", meta, errno);
		close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			break;
	if (de) {
		error_msg("META '%s' is not empty (it has '%s'): give an empty or absent directory",
			  msg_path(meta), de->d_name);
		closedir(d);
		close(fd);
		return -1;
	}
	closedir(d);
	return fd;
}

static int composefs_build(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct build b = { .objfd = -1 };
	const char *src, *meta, *objects;
	struct stat st;
	int c, sfd = -1, mfd = -1, ret = EXIT_FAIL;

	while ((c = cmd_getopt(argc, argv, ":hj", opts)) != -1) {
		int r = cmd_common_opt(c, argv);

		if (r != CMD_CONTINUE)
			return r;
	}
	if (argc - optind != 3)
		return usage_error(argc - optind < 3 ?
				   "composefs build needs SRC, META and OBJECTS" :
				   "too many arguments: composefs build takes SRC, META and OBJECTS");
	src = argv[optind];
	meta = argv[optind + 1];
	objects = argv[optind + 2];
	if (!*src || !*meta || !*objects)
		return usage_error("SRC, META and OBJECTS must not be empty");

	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		fail("cannot open SRC", src, errno);
		goto out;
	}
	mfd = open_meta(meta);
	if (mfd < 0)
		goto out;
	if (mkdir(objects, 0755) < 0 && errno != EEXIST) {
		fail("cannot create OBJECTS", objects, errno);
		goto out;
	}
	b.objfd = open(objects, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.objfd < 0 || fstat(b.objfd, &b.obj_st) < 0) {
		fail("cannot open OBJECTS", objects, errno);
		goto out;
	}
	b.objects = objects;
	if (fstat(mfd, &b.meta_st) < 0) {
		fail("cannot stat META", meta, errno);
		goto out;
	}
	if (fstat(sfd, &st) < 0) {
		fail("cannot stat SRC", src, errno);
		goto out;
	}
	if ((st.st_dev == b.meta_st.st_dev && st.st_ino == b.meta_st.st_ino) ||
	    (st.st_dev == b.obj_st.st_dev && st.st_ino == b.obj_st.st_ino)) {
		error_msg("SRC '%s' is META or OBJECTS: give three different directories",
			  msg_path(src));
		goto out;
	}
	if (build_dir(&b, sfd, mfd, src, meta) < 0)
		goto out;
	if (fstat(sfd, &st) < 0) {
		fail("cannot stat SRC", src, errno);
		goto out;
	}
	if (set_attrs(sfd, NULL, mfd, NULL, &st, src, meta) < 0)
		goto out;
	if (syncfs(b.objfd) < 0 || syncfs(mfd) < 0) {
		error_msg("cannot sync the image to disk: %s", strerror(errno));
		goto out;
	}

	open_json_object(NULL);
	print_string(PRINT_ANY, "source", "built '%s'", src);
	print_string(PRINT_ANY, "meta", " into '%s'", meta);
	print_string(PRINT_ANY, "objects", " over '%s'\n", objects);
	print_u64(PRINT_ANY, "files", "files:          %" PRIu64 "\n",
		  b.files);
	print_u64(PRINT_ANY, "empty_files", "empty files:    %" PRIu64 "\n",
		  b.empty);
	print_u64(PRINT_ANY, "hard_links",
		  "hard links:     %" PRIu64 " (sharing an object)\n",
		  b.hardlinks);
	print_u64(PRINT_ANY, "directories", "directories:    %" PRIu64 "\n",
		  b.dirs + 1);
	print_u64(PRINT_ANY, "symlinks", "symlinks:       %" PRIu64 "\n",
		  b.symlinks);
	print_u64(PRINT_ANY, "special_files", "special files:  %" PRIu64 "\n",
		  b.special);
	print_u64(PRINT_ANY, "objects_new", "objects:        %" PRIu64 " new",
		  b.obj_new);
	print_u64(PRINT_ANY, "objects_reused", ", %" PRIu64 " reused",
		  b.obj_reused);
	print_u64(PRINT_ANY, "bytes_new", ", %" PRIu64 " bytes stored\n",
		  b.bytes_new);
	close_json_object();
	ret = EXIT_OK;
out:
	if (sfd >= 0)
		close(sfd);
	if (mfd >= 0)
		close(mfd);
	if (b.objfd >= 0)
		close(b.objfd);
	free(b.links);
	return ret;
}
