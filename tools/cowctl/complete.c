// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl complete: complete the partial files (copyup=partial) of a
 * union's upper layer, so that the upper layer can be handed to overlayfs.
 *
 * A partial upper file carries trusted.overlay.cowfs.partial (with
 * userxattr: user.overlay.cowfs.partial).  The walk reads the upper
 * directory itself, never the union (cheaper, and only the upper can hold
 * partial files): it follows no symlink and stays on the upper's
 * filesystem.  Each partial file is completed through the union, by
 * POSIX_FADV_WILLNEED over the whole file (kernel/file.c), which copies
 * every missing granule and removes the xattrs; then the xattr must be gone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "cowctl.h"
#include "json_print.h"
#include "mountinfo.h"
#include "utils.h"

#define PARTIAL_XATTR_TRUSTED	"trusted.overlay.cowfs.partial"
#define PARTIAL_XATTR_USER	"user.overlay.cowfs.partial"

const char *const complete_usage[] = {
	"cowctl complete [OPTIONS] MOUNTPOINT|PATH\n"
	"       cowctl complete [OPTIONS] --upper DIR --lower DIR[:DIR...] [--workdir DIR]",
	"Complete the partial files of a union's upper layer.",
	"",
	"With copyup=partial the first write to a big lower file copies up only",
	"the granules it touches. Such a partial upper file carries the xattr",
	"trusted.overlay.cowfs.partial (user.overlay.cowfs.partial with",
	"userxattr), and overlayfs refuses it (EIO). 'cowctl complete' finds",
	"every partial file of the upper directory of the cowfs union mounted at",
	"MOUNTPOINT and completes it through the union (posix_fadvise(2)",
	"POSIX_FADV_WILLNEED over the whole file): the missing data is copied up",
	"and the xattrs go. The upper layer can then be used by overlayfs.",
	"",
	"A PATH inside the union limits the work to that file or directory.",
	"The walk reads the upper directory, follows no symlink and does not",
	"cross into other filesystems. A file that is still partial afterwards",
	"is an error. The union must be mounted read-write.",
	"",
	"With --upper instead, for an upper layer that no union uses: cowctl",
	"mounts a union of --lower and --upper (with copyup=partial and the -o",
	"options) for itself alone, detached (never attached to a directory),",
	"completes the partial files through it and unmounts it. That needs",
	"the work directory (--workdir) unless there is nothing to complete;",
	"--dry-run mounts nothing.",
	"",
	"Options:",
	"  -n, --dry-run          list the partial files and their sizes, change",
	"                         nothing",
	"  -v, --verbose          print each file as it is completed",
	"  -u, --upper DIR        the upper layer of no mounted union",
	"  -l, --lower A[:B...]   its lower layers, top first ('\\:' is a colon)",
	"  -w, --workdir DIR      its work directory, on the upper's filesystem",
	"  -o, --option KEY[=VAL] a mount option for that union (repeatable;",
	"                         -o userxattr for a rootless container's upper)",
	"  -j, --json             print a JSON object: the union, upper, files,",
	"                         totals",
	"  -h, --help             print this help",
	"",
	"Exit status: 0 when every partial file was completed (or, with",
	"--dry-run, listed), 1 on an error, 2 on bad usage.",
	NULL,
};

struct complete_ctx {
	const char *xattr;	/* the partial xattr's name */
	int union_root;		/* O_PATH of the union's root directory */
	dev_t upper_dev;
	bool dry_run;
	bool verbose;
	bool count_only;	/* count the partial files, print nothing */
	/* Results */
	uint64_t found, completed, failed, bytes;
	int walk_errors;
};

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* The mountinfo entry of the cowfs union that holds @path, or NULL. */
static const struct mnt_entry *find_union(const struct mnt_table *mi,
					  const char *path)
{
	const struct mnt_entry *best = NULL;
	size_t bestlen = 0;

	/* The deepest mount point above @path; the last one mounted there */
	for (size_t i = 0; i < mi->n; i++) {
		const struct mnt_entry *e = &mi->e[i];
		size_t len = strlen(e->target);

		if (path_under(path, e->target) && (!best || len >= bestlen)) {
			best = e;
			bestlen = len;
		}
	}
	return best;
}

/* The value of option @key= in mountinfo's superblock options, or NULL. */
static char *super_opt(const char *opts, const char *key)
{
	size_t klen = strlen(key);
	char *val = NULL;

	for (const char *p = opts; *p;) {
		size_t n = strcspn(p, ",");

		if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			free(val);
			val = unescape_octal(p + klen + 1, n - klen - 1);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return val;
}

/* openat2() beneath @dirfd, no symlinks, no mount crossing; else openat(). */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, rel, flags);
	return fd;
}

/* Is the file open at @fd partial?  1, 0, or -errno. */
static int fd_is_partial(int fd, const char *xattr)
{
	ssize_t r = fgetxattr(fd, xattr, NULL, 0);

	if (r >= 0)
		return 1;
	if (errno == ENODATA || errno == ENOTSUP)
		return 0;
	return -errno;
}

/* One file: "completed PATH (N bytes)" in text, an object in JSON. */
static void report_file(const char *rel, uint64_t size, const char *status,
			const char *error)
{
	open_json_object(NULL);
	print_string(PRINT_ANY, "status", "%-10s", status);
	print_string(PRINT_ANY, "path", " %s", rel);
	print_u64(PRINT_ANY, "size", " (%" PRIu64 " bytes)\n", size);
	if (error)
		print_string(PRINT_JSON, "error", NULL, error);
	else
		print_null(PRINT_JSON, "error", NULL, NULL);
	close_json_object();
}

/* Complete the partial file @rel of the upper layer, through the union. */
static void complete_one(struct complete_ctx *c, const char *rel,
			 int upperfd, uint64_t size)
{
	const char *urel = *rel ? rel : ".";
	char msg[PATH_MAX + 128];
	struct stat st;
	int fd, err, r;

	c->found++;
	if (c->count_only)
		return;
	if (c->dry_run) {
		report_file(*rel ? rel : ".", size, "partial", NULL);
		return;
	}
	fd = open_beneath(c->union_root, urel,
			  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open it in the union: %s",
			 strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(msg, sizeof(msg),
			 "it is not a regular file in the union");
		close(fd);
		goto fail;
	}
	err = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
	if (err) {
		snprintf(msg, sizeof(msg), "completing it failed: %s%s",
			 strerror(err),
			 err == EROFS ? " (is the union read-only?)" : "");
		goto fail;
	}
	r = fd_is_partial(upperfd, c->xattr);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot read its xattrs: %s",
			 strerror(-r));
		goto fail;
	}
	if (r) {
		snprintf(msg, sizeof(msg), "it is still partial (%s is set)",
			 c->xattr);
		goto fail;
	}
	c->completed++;
	c->bytes += size;
	if (c->verbose || is_json_context())
		report_file(*rel ? rel : ".", size, "completed", NULL);
	return;
fail:
	c->failed++;
	error_msg("cannot complete '%s': %s", msg_path(*rel ? rel : "."), msg);
	if (is_json_context())
		report_file(*rel ? rel : ".", size, "failed", msg);
}

static void walk_error(struct complete_ctx *c, const char *rel,
		       const char *what)
{
	c->walk_errors++;
	error_msg("cannot %s '%s' in the upper directory: %s", what,
		  msg_path(*rel ? rel : "."), strerror(errno));
}

/* Visit @rel, open as @fd (taken), whose stat is @st. */
static void walk(struct complete_ctx *c, int fd, const char *rel,
		 const struct stat *st)
{
	DIR *d;
	struct dirent *de;

	if (S_ISREG(st->st_mode)) {
		int r = fd_is_partial(fd, c->xattr);

		if (r < 0) {
			errno = -r;
			walk_error(c, rel, "read the xattrs of");
		} else if (r) {
			complete_one(c, rel, fd, st->st_size);
		}
		close(fd);
		return;
	}
	if (!S_ISDIR(st->st_mode)) {
		close(fd);
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		walk_error(c, rel, "read");
		close(fd);
		return;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		struct stat cst;
		char *crel;
		int cfd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&crel, "%s%s%s", rel, *rel ? "/" : "",
			     de->d_name) < 0) {
			error_msg("out of memory");
			exit(EXIT_FAIL);
		}
		if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW)) {
			if (errno != ENOENT)
				walk_error(c, crel, "stat");
			free(crel);
			continue;
		}
		/* No symlinks, no devices or fifos, no other filesystems */
		if ((!S_ISREG(cst.st_mode) && !S_ISDIR(cst.st_mode)) ||
		    cst.st_dev != c->upper_dev) {
			free(crel);
			continue;
		}
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW |
			     O_NONBLOCK | O_CLOEXEC |
			     (S_ISDIR(cst.st_mode) ? O_DIRECTORY : 0));
		if (cfd < 0) {
			if (errno != ENOENT)
				walk_error(c, crel, "open");
			free(crel);
			continue;
		}
		/* It may have changed since the fstatat() */
		if (fstat(cfd, &cst) || cst.st_dev != c->upper_dev) {
			close(cfd);
			free(crel);
			continue;
		}
		walk(c, cfd, crel, &cst);
		free(crel);
	}
	if (errno)
		walk_error(c, rel, "read");
	closedir(d);
}

/*
 * Walk @rel ("" for all) of upper directory @upper and complete its partial
 * files through the union at @ctx->union_root (@target, NULL when private);
 * print the results.  Returns the exit status.
 */
static int run_complete(struct complete_ctx *ctx, const char *target,
			const char *upper, const char *rel)
{
	struct stat st, ust;
	int fd;

	fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &ust)) {
		error_msg("cannot open the upper directory '%s': %s",
			  msg_path(upper), strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_FAIL;
	}
	ctx->upper_dev = ust.st_dev;

	if (!ctx->count_only) {
		open_json_object(NULL);
		print_string(PRINT_JSON, "target", NULL, target);
		print_string(PRINT_JSON, "upper", NULL, upper);
		print_string(PRINT_JSON, "path", NULL, *rel ? rel : ".");
		print_string(PRINT_JSON, "xattr", NULL, ctx->xattr);
		print_bool(PRINT_JSON, "dry_run", NULL, ctx->dry_run);
		open_json_array(PRINT_JSON, "files");
	}

	if (*rel) {
		int sfd = open_beneath(fd, rel, O_RDONLY | O_NOFOLLOW |
				       O_NONBLOCK | O_CLOEXEC);

		close(fd);
		fd = sfd;
		if (fd < 0 && errno != ENOENT) {
			walk_error(ctx, rel, "open");
		} else if (fd >= 0) {
			if (fstat(fd, &st)) {
				walk_error(ctx, rel, "stat");
				close(fd);
			} else if (st.st_dev != ctx->upper_dev) {
				close(fd);
			} else {
				walk(ctx, fd, rel, &st);
			}
		}
		/* ENOENT: nothing of PATH is in the upper layer */
	} else {
		walk(ctx, fd, "", &ust);
	}
	if (ctx->count_only)
		return ctx->walk_errors ? EXIT_FAIL : EXIT_OK;

	close_json_array(PRINT_JSON, NULL);
	print_u64(PRINT_JSON, "found", NULL, ctx->found);
	print_u64(PRINT_JSON, "completed", NULL, ctx->completed);
	print_u64(PRINT_JSON, "failed", NULL, ctx->failed);
	print_u64(PRINT_JSON, "bytes", NULL, ctx->bytes);
	print_u64(PRINT_JSON, "errors", NULL, ctx->walk_errors);
	close_json_object();
	if (!is_json_context()) {
		if (ctx->dry_run)
			printf("%" PRIu64 " partial file%s in %s\n", ctx->found,
			       ctx->found == 1 ? "" : "s", upper);
		else
			printf("completed %" PRIu64 " of %" PRIu64
			       " partial file%s (%" PRIu64 " bytes) in %s\n",
			       ctx->completed, ctx->found,
			       ctx->found == 1 ? "" : "s", ctx->bytes, upper);
	}
	return ctx->failed || ctx->walk_errors ? EXIT_FAIL : EXIT_OK;
}

/* How many partial files (xattr @xattr) @upper holds, or -1 after a message. */
static int64_t count_partial(const char *upper, const char *xattr)
{
	struct complete_ctx c = {
		.xattr = xattr,
		.union_root = -1,
		.count_only = true,
	};

	if (run_complete(&c, NULL, upper, ""))
		return -1;
	return c.found;
}

/*
 * --upper DIR --lower A:B [--workdir DIR]: the upper layer of no mounted
 * union.  Its partial files are listed or completed through a union of the
 * same layers that is mounted for it alone, detached (fsmount(2) and never
 * attached anywhere): it is gone once its fd is closed.
 */
static int complete_unmounted(struct complete_ctx *ctx, const char *upper,
			      const char *lower, const char *work,
			      struct strvec *options)
{
	struct strvec layers = STRVEC_INIT;
	bool userxattr = false;
	const char *other;
	int64_t n, nother;
	int ret = EXIT_FAIL, mfd;

	for (size_t i = 0; i < options->n; i++)
		userxattr |= !strcmp(options->v[i], "userxattr");
	ctx->xattr = userxattr ? PARTIAL_XATTR_USER : PARTIAL_XATTR_TRUSTED;
	other = userxattr ? PARTIAL_XATTR_TRUSTED : PARTIAL_XATTR_USER;

	n = count_partial(upper, ctx->xattr);
	if (n < 0)
		return EXIT_FAIL;
	if (!n) {
		/* Written by a union of the other xattr format? */
		nother = count_partial(upper, other);
		if (nother > 0) {
			error_msg("'%s' has %" PRId64 " file%s with %s but none with %s: %s",
				  msg_path(upper), nother, nother == 1 ? "" : "s",
				  other, ctx->xattr,
				  userxattr ? "it was written by a union without userxattr: drop -o userxattr" :
					      "it was written by a union with userxattr: add -o userxattr");
			return EXIT_FAIL;
		}
	}
	/* Listing, or nothing to complete: no union is needed */
	if (ctx->dry_run || !n)
		return run_complete(ctx, NULL, upper, "");
	if (!work) {
		error_msg("'%s' has %" PRId64 " partial file%s: completing %s mounts a union of the layers, which needs the work directory: give --workdir DIR (the upper's work directory, or an empty directory on the upper's filesystem)",
			  msg_path(upper), n, n == 1 ? "" : "s",
			  n == 1 ? "it" : "them");
		return EXIT_FAIL;
	}
	if (split_escaped(lower, ':', &layers)) {
		usage_error("--lower has an empty layer (data-only layers, '::', are not taken here)");
		strvec_free(&layers);
		return EXIT_USAGE;
	}
	strvec_push(options, "copyup=partial");
	mfd = cowctl_mount_detached(&layers, upper, work, options);
	strvec_free(&layers);
	if (mfd < 0) {
		error_msg("cannot mount a union of the layers to complete the partial files of '%s'",
			  msg_path(upper));
		return EXIT_FAIL;
	}
	ctx->union_root = mfd;
	ret = run_complete(ctx, NULL, upper, "");
	close(mfd);
	ctx->union_root = -1;
	return ret;
}

int cmd_complete(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_LONGOPTS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "upper", required_argument, NULL, 'u' },
		{ "lower", required_argument, NULL, 'l' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "option", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct complete_ctx ctx = { .union_root = -1 };
	struct mnt_table mi = MNT_TABLE_INIT;
	struct strvec options = STRVEC_INIT;
	const char *uopt = NULL, *lopt = NULL, *wopt = NULL;
	const struct mnt_entry *e;
	char *path = NULL, *upper = NULL;
	const char *sub;
	struct statx stx;
	int c, ret = EXIT_FAIL;

	while ((c = cmd_getopt(argc, argv, ":hjnvu:l:w:o:", opts)) != -1) {
		switch (c) {
		case 'n':
			ctx.dry_run = true;
			break;
		case 'v':
			ctx.verbose = true;
			break;
		case 'u':
			uopt = optarg;
			break;
		case 'l':
			lopt = optarg;
			break;
		case 'w':
			wopt = optarg;
			break;
		case 'o':
			if (!optarg[0] || optarg[0] == '=') {
				strvec_free(&options);
				return usage_error("option '-o %s' has no key",
						   msg_path(optarg));
			}
			strvec_push(&options, optarg);
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE) {
				strvec_free(&options);
				return ret;
			}
		}
	}
	if (uopt || lopt || wopt || options.n) {
		if (!uopt)
			ret = usage_error("%s needs --upper DIR",
					  lopt ? "--lower" : wopt ? "--workdir" : "-o");
		else if (!lopt)
			ret = usage_error("--upper needs --lower DIR[:DIR...], the layers the upper was used with");
		else if (optind < argc)
			ret = usage_error("unexpected argument '%s': with --upper, give no MOUNTPOINT",
					  msg_path(argv[optind]));
		else if (!check_abs_path("upper directory", uopt) ||
			 !check_abs_path("lower layers", lopt) ||
			 (wopt && !check_abs_path("work directory", wopt)))
			ret = EXIT_USAGE;
		else
			ret = complete_unmounted(&ctx, uopt, lopt, wopt, &options);
		strvec_free(&options);
		return ret;
	}
	if (optind >= argc)
		return usage_error("missing MOUNTPOINT, a cowfs union's mount point or a path in it (or --upper DIR --lower DIR)");
	if (optind + 1 < argc)
		return usage_error("unexpected argument '%s': give one MOUNTPOINT or PATH",
				   msg_path(argv[optind + 1]));
	if (!argv[optind][0])
		return usage_error("MOUNTPOINT is empty");
	if (strlen(argv[optind]) >= PATH_MAX)
		return usage_error("MOUNTPOINT '%s' is too long (%zu bytes; the limit is %d)",
				   msg_path(argv[optind]), strlen(argv[optind]),
				   PATH_MAX - 1);

	path = realpath(argv[optind], NULL);
	if (!path) {
		error_msg("cannot complete '%s': %s", msg_path(argv[optind]),
			  strerror(errno));
		return EXIT_FAIL;
	}
	c = mnt_table_read(&mi, NULL);
	if (c < 0) {
		error_msg("cannot read %s: %s", MOUNTINFO_PATH, strerror(-c));
		goto out;
	}
	e = find_union(&mi, path);
	if (!e || strcmp(e->fstype, cowctl_fstype())) {
		error_msg("'%s' is not in a cowfs union (its filesystem is %s)",
			  msg_path(path), e ? e->fstype : "unknown");
		goto out;
	}
	/* The union's own mount: a bind mount of a subdirectory is not */
	if (e->root[1]) {
		error_msg("the mount at '%s' shows '%s' of a cowfs union: give the union's own mount point",
			  msg_path(e->target), msg_path(e->root));
		goto out;
	}
	/* PATH is in that mount, not in one over a subdirectory of it */
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx)) {
		error_msg("cannot complete '%s': %s", msg_path(path),
			  strerror(errno));
		goto out;
	}
	if ((stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id != (uint64_t)e->id) {
		error_msg("'%s' is not in the cowfs union at '%s' (it is on another mount)",
			  msg_path(path), msg_path(e->target));
		goto out;
	}
	upper = super_opt(e->super_opts, "upperdir");
	if (!upper) {
		error_msg("the cowfs union at '%s' has no upper layer: nothing can be partial",
			  msg_path(e->target));
		goto out;
	}
	/*
	 * The kernel completes a file on POSIX_FADV_WILLNEED even where the
	 * union is read-only: do not write through a read-only union.
	 */
	if (!ctx.dry_run && (mnt_opts_has(e->mnt_opts, "ro") ||
			     mnt_opts_has(e->super_opts, "ro"))) {
		error_msg("the cowfs union at '%s' is mounted read-only: remount it read-write to complete its partial files",
			  msg_path(e->target));
		goto out;
	}
	ctx.xattr = mnt_opts_has(e->super_opts, "userxattr") ?
		    PARTIAL_XATTR_USER : PARTIAL_XATTR_TRUSTED;

	ctx.union_root = open(e->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx.union_root < 0) {
		error_msg("cannot open the union at '%s': %s",
			  msg_path(e->target), strerror(errno));
		goto out;
	}
	/* PATH's place in the union, the same in the upper directory */
	sub = path + (strcmp(e->target, "/") ? strlen(e->target) : 0);
	while (*sub == '/')
		sub++;
	ret = run_complete(&ctx, e->target, upper, sub);
out:
	if (ctx.union_root >= 0)
		close(ctx.union_root);
	mnt_table_free(&mi);
	free(path);
	free(upper);
	return ret;
}
