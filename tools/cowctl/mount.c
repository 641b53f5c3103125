// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl mount, cowctl umount.
 *
 * Mounting goes through the new mount API, one fsconfig() call per layer,
 * so the number of layers is not limited by a page of mount options:
 *
 *	fd = fsopen("cowfs", FSOPEN_CLOEXEC);
 *	fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", "/top", 0);  (each layer)
 *	fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", "/upper", 0);
 *	fsconfig(fd, FSCONFIG_SET_STRING, "workdir", "/work", 0);
 *	fsconfig(fd, FSCONFIG_SET_STRING, "volume", "NAME:/path", 0);
 *	fsconfig(fd, FSCONFIG_SET_FLAG or _STRING, KEY, VAL, 0);    (each -o)
 *	fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
 *	mfd = fsmount(fd, FSMOUNT_CLOEXEC, 0);
 *	move_mount(mfd, "", AT_FDCWD, TARGET, MOVE_MOUNT_F_EMPTY_PATH);
 *
 * When a step fails the kernel's messages are read back from fd (one
 * "e cowfs: ..." line per read()) and shown with the errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cowctl.h"
#include "json_print.h"
#include "mountapi.h"
#include "mountinfo.h"
#include "objects.h"
#include "utils.h"

const char *const mount_usage[] = {
	"cowctl mount [OPTIONS] TARGET",
	"Mount a cowfs union on the directory TARGET.",
	"",
	"The union shows the files of its lower layers merged, the top layer",
	"first. Without --upper it is read-only; with --upper and --work, changes",
	"go to the upper directory (copied up on first write). Every path must be",
	"absolute. Any number of layers may be given: each is passed to the",
	"kernel on its own (fsconfig \"lowerdir+\").",
	"",
	"Options:",
	"  -l, --layer DIR         add a lower layer; repeat it, top layer first",
	"      --lowerdir A:B:C    add the lower layers A, B and C (top first);",
	"                          a '\\' makes the next character literal: '\\:'",
	"                          is a ':' inside a path, '\\\\' a '\\'",
	"  -u, --upper DIR         the writable upper directory (needs --work)",
	"  -w, --work DIR          the work directory, empty, on the same",
	"                          filesystem as --upper",
	"      --volume NAME:PATH  attach the volume NAME at PATH; repeatable",
	"  -o, --option KEY[=VAL]  pass one mount option to the kernel; repeat -o",
	"                          for more (-o ro mounts read-only)",
	"  -j, --json              print what was mounted as JSON",
	"  -h, --help              print this help",
	"",
	"Examples:",
	"  cowctl mount --layer /srv/app --layer /srv/base /mnt/ro",
	"  cowctl mount --lowerdir /srv/app:/srv/base -u /srv/up -w /srv/wk /mnt/rw",
	NULL,
};

const char *const mount_helper_usage[] = {
	"cowctl mount-helper [-o OPTIONS] [SOURCE] TARGET",
	"Mount a cowfs union from an overlayfs option string.",
	"",
	"What container engines run as their overlay 'mount_program' (podman's",
	"storage.conf: mount_program = \"/usr/local/bin/cowfs-mount-program\", a link",
	"to cowctl that runs this command). OPTIONS are overlayfs's: lowerdir=A:B",
	"(top first, '\\' escapes ':' and ','), upperdir=, workdir=, and options",
	"cowfs takes (userxattr, redirect_dir=, volatile, ...). Empty options are",
	"skipped; SOURCE is ignored. aufs_whiteouts is added: engines store",
	"layers with AUFS .wh. whiteouts when they mount through a helper. In a",
	"user namespace (rootless engines) the union is mounted with userxattr,",
	"as it must be there. Layers go to the kernel one by one (fsconfig",
	"lowerdir+), so a long lowerdir= is fine.",
	"",
	"Options:",
	"  -o OPTIONS   the comma-separated mount options",
	"  -h, --help   print this help",
	NULL,
};

const char *const umount_usage[] = {
	"cowctl umount [-l|--lazy] TARGET",
	"Unmount the cowfs union mounted on TARGET.",
	"",
	"TARGET must be a cowfs mount; anything else is refused. Prints nothing,",
	"or with --json {\"target\": TARGET, \"lazy\": BOOL}.",
	"",
	"Options:",
	"  -l, --lazy   detach the union now, and clean it up once it is no",
	"               longer busy (umount2 MNT_DETACH)",
	"  -j, --json   print what was unmounted as JSON",
	"  -h, --help   print this help",
	NULL,
};

struct mount_req {
	struct strvec layers;	/* top first */
	const char *upper;
	const char *work;
	struct strvec volumes;	/* "NAME:/path" */
	struct strvec options;	/* "KEY" or "KEY=VAL" */
	const char *target;
};

static void mount_req_free(struct mount_req *r)
{
	strvec_free(&r->layers);
	strvec_free(&r->volumes);
	strvec_free(&r->options);
}

/* Print the kernel's messages queued on the fs_context @fd to stderr. */
static void print_fc_log(int fd)
{
	size_t size = 4096;
	char *buf = xmalloc(size);

	for (;;) {
		ssize_t n = read(fd, buf, size - 1);
		const char *what;

		if (n < 0 && errno == EMSGSIZE && size < 1024 * 1024) {
			size *= 4;
			free(buf);
			buf = xmalloc(size);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* ENODATA: no more messages */
		buf[n] = '\0';
		while (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		switch (buf[0]) {
		case 'e': what = "kernel"; break;
		case 'w': what = "kernel warning"; break;
		default: what = "kernel info"; break;
		}
		if (n >= 2 && buf[1] == ' ')
			fprintf(stderr, "cowctl: %s: %s\n", what, buf + 2);
		else
			fprintf(stderr, "cowctl: %s: %s\n", what, buf);
	}
	free(buf);
}

/* "mount failed: <what>: <strerror>", then the kernel's own messages. */
static void __attribute__((format(printf, 3, 4)))
mount_failed(int fd, int err, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	error_msg("mount failed: %s: %s", what, strerror(err));
	if (err == EPERM)
		error_msg("mounting needs CAP_SYS_ADMIN: run cowctl as root");
	if (fd >= 0)
		print_fc_log(fd);
}

static int set_string(int fd, const char *key, const char *val)
{
	return sys_fsconfig(fd, FSCONFIG_SET_STRING, key, val, 0);
}

/*
 * Make the union @r asks for, as a detached mount: its fd, or -1 after a
 * message.  *@fcfd is the filesystem context, for later kernel messages
 * (close it), or -1.
 */
static int make_mount(const struct mount_req *r, int *fcfd)
{
	const char *fstype = cowctl_fstype();
	int fd, mfd = -1;

	*fcfd = -1;

	fd = sys_fsopen(fstype, FSOPEN_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err == ENODEV)
			error_msg("the %s filesystem is not available: load the module with 'modprobe %s' or 'insmod kernel/%s.ko'",
				  fstype, fstype, fstype);
		else if (err == ENOSYS)
			error_msg("mount failed: this kernel has no fsopen() (the new mount API needs Linux 5.2 or later): %s",
				  strerror(err));
		else
			mount_failed(-1, err, "cannot open a %s filesystem context",
				     fstype);
		return -1;
	}

	for (size_t i = 0; i < r->layers.n; i++)
		if (set_string(fd, "lowerdir+", r->layers.v[i]) < 0) {
			mount_failed(fd, errno, "cannot add layer '%s'",
				     msg_path(r->layers.v[i]));
			goto out;
		}
	if (r->upper && set_string(fd, "upperdir", r->upper) < 0) {
		mount_failed(fd, errno, "cannot use upper directory '%s'",
			     msg_path(r->upper));
		goto out;
	}
	if (r->work && set_string(fd, "workdir", r->work) < 0) {
		mount_failed(fd, errno, "cannot use work directory '%s'",
			     msg_path(r->work));
		goto out;
	}
	for (size_t i = 0; i < r->volumes.n; i++)
		if (set_string(fd, "volume", r->volumes.v[i]) < 0) {
			mount_failed(fd, errno, "cannot add volume '%s'",
				     msg_path(r->volumes.v[i]));
			goto out;
		}
	for (size_t i = 0; i < r->options.n; i++) {
		char *opt = r->options.v[i];
		char *eq = strchr(opt, '=');
		int rc;

		if (eq) {
			*eq = '\0';
			rc = set_string(fd, opt, eq + 1);
			*eq = '=';
		} else {
			rc = sys_fsconfig(fd, FSCONFIG_SET_FLAG, opt, NULL, 0);
		}
		if (rc < 0) {
			mount_failed(fd, errno, "cannot set option '%s'",
				     msg_path(opt));
			goto out;
		}
	}
	if (sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		mount_failed(fd, errno, "cannot create the %s filesystem",
			     fstype);
		goto out;
	}
	mfd = sys_fsmount(fd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0) {
		mount_failed(fd, errno, "cannot create a mount of it");
		goto out;
	}
	*fcfd = fd;
	return mfd;
out:
	close(fd);
	return -1;
}

static int do_mount(const struct mount_req *r)
{
	int fd, mfd, ret = EXIT_FAIL;

	mfd = make_mount(r, &fd);
	if (mfd < 0)
		return EXIT_FAIL;
	if (sys_move_mount(mfd, "", AT_FDCWD, r->target,
			   MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		mount_failed(fd, errno, "cannot attach it at '%s'",
			     msg_path(r->target));
		goto out;
	}
	print_fc_log(fd);	/* warnings from a mount that worked */
	ret = EXIT_OK;
out:
	close(mfd);
	close(fd);
	return ret;
}

int cowctl_mount_detached(const struct strvec *layers, const char *upper,
			  const char *work, const struct strvec *options)
{
	struct mount_req r = {
		.layers = *layers,
		.upper = upper,
		.work = work,
		.options = *options,
	};
	int fd, mfd = make_mount(&r, &fd);

	if (mfd >= 0) {
		print_fc_log(fd);
		close(fd);
	}
	return mfd;
}

/*
 * The id the module gave the union now mounted on @target (what ls,
 * inspect and volume inspect show), or 0.  Only asked for -j.
 */
static uint64_t mounted_id(const char *target)
{
	const struct nl_mount *m;
	struct nl_mounts nm;
	struct cowctl_nl nl;
	struct stat st;
	uint64_t id = 0;

	if (strcmp(cowctl_fstype(), "cowfs") || stat(target, &st) ||
	    cowctl_nl_open(&nl, COWCTL_NL_QUIET))
		return 0;
	if (!nl_mounts_dump(&nl, &nm)) {
		m = nl_mounts_find_dev(&nm, major(st.st_dev), minor(st.st_dev));
		id = m ? m->id : 0;
		nl_mounts_free(&nm);
	}
	cowctl_nl_close(&nl);
	return id;
}

static void print_mount_req(const struct mount_req *r)
{
	uint64_t id;

	if (!is_json_context())
		return;
	id = mounted_id(r->target);
	open_json_object(NULL);
	if (id)
		print_u64(PRINT_JSON, "id", NULL, id);
	else
		print_null(PRINT_JSON, "id", NULL, NULL);
	print_string(PRINT_JSON, "target", NULL, r->target);
	open_json_array(PRINT_JSON, "layers");
	for (size_t i = 0; i < r->layers.n; i++)
		print_string(PRINT_JSON, NULL, NULL, r->layers.v[i]);
	close_json_array(PRINT_JSON, NULL);
	print_string(PRINT_JSON, "upper", NULL, r->upper);
	print_string(PRINT_JSON, "work", NULL, r->work);
	open_json_array(PRINT_JSON, "volumes");
	for (size_t i = 0; i < r->volumes.n; i++) {
		const char *v = r->volumes.v[i];
		const char *colon = strchr(v, ':');
		char *name = xstrndup(v, colon - v);

		open_json_object(NULL);
		print_string(PRINT_JSON, "name", NULL, name);
		print_string(PRINT_JSON, "path", NULL, colon + 1);
		close_json_object();
		free(name);
	}
	close_json_array(PRINT_JSON, NULL);
	open_json_array(PRINT_JSON, "options");
	for (size_t i = 0; i < r->options.n; i++)
		print_string(PRINT_JSON, NULL, NULL, r->options.v[i]);
	close_json_array(PRINT_JSON, NULL);
	close_json_object();
}

enum { OPT_LOWERDIR = 0x100, OPT_VOLUME };

static int parse_lowerdir(struct mount_req *r, const char *arg)
{
	struct strvec v = STRVEC_INIT;
	int ret = EXIT_OK;

	if (split_escaped(arg, ':', &v)) {
		ret = usage_error("--lowerdir '%s' has an empty layer (two ':' in a row, or one at an end)",
				  msg_path(arg));
		goto out;
	}
	for (size_t i = 0; i < v.n; i++) {
		if (!check_abs_path("layer", v.v[i])) {
			ret = EXIT_USAGE;
			goto out;
		}
		strvec_push(&r->layers, v.v[i]);
	}
out:
	strvec_free(&v);
	return ret;
}

static int parse_volume(struct mount_req *r, const char *arg)
{
	const char *colon = strchr(arg, ':');

	if (!colon || colon == arg)
		return usage_error("--volume '%s' is not NAME:/path",
				   msg_path(arg));
	if (!check_abs_path("volume", colon + 1))
		return EXIT_USAGE;
	strvec_push(&r->volumes, arg);
	return EXIT_OK;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layer", required_argument, NULL, 'l' },
		{ "lowerdir", required_argument, NULL, OPT_LOWERDIR },
		{ "upper", required_argument, NULL, 'u' },
		{ "work", required_argument, NULL, 'w' },
		{ "volume", required_argument, NULL, OPT_VOLUME },
		{ "option", required_argument, NULL, 'o' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct mount_req r = { .layers = STRVEC_INIT, .volumes = STRVEC_INIT,
			       .options = STRVEC_INIT };
	int c, ret = EXIT_USAGE;

	while ((c = cmd_getopt(argc, argv, ":hjl:u:w:o:", opts)) != -1) {
		switch (c) {
		case 'l':
			if (!check_abs_path("layer", optarg))
				goto out;
			strvec_push(&r.layers, optarg);
			break;
		case OPT_LOWERDIR:
			if (parse_lowerdir(&r, optarg))
				goto out;
			break;
		case 'u':
		case 'w':
			if (c == 'u' ? r.upper : r.work) {
				usage_error("--%s was given twice",
					    c == 'u' ? "upper" : "work");
				goto out;
			}
			if (!check_abs_path(c == 'u' ? "upper directory" :
					    "work directory", optarg))
				goto out;
			*(c == 'u' ? &r.upper : &r.work) = optarg;
			break;
		case OPT_VOLUME:
			if (parse_volume(&r, optarg))
				goto out;
			break;
		case 'o':
			if (!optarg[0] || optarg[0] == '=') {
				usage_error("-o '%s' has no option name (use -o KEY or -o KEY=VALUE)",
					    optarg);
				goto out;
			}
			strvec_push(&r.options, optarg);
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				goto out;
			ret = EXIT_USAGE;	/* -j: the next error is bad usage */
		}
	}
	if (optind >= argc) {
		usage_error("missing TARGET, the directory to mount the union on");
		goto out;
	}
	if (argc - optind > 1) {
		usage_error("unexpected argument '%s' after TARGET '%s'",
			    msg_path(argv[optind + 1]), msg_path(argv[optind]));
		goto out;
	}
	r.target = argv[optind];
	if (!r.target[0]) {
		usage_error("TARGET is empty");
		goto out;
	}
	if (strlen(r.target) >= PATH_MAX) {
		usage_error("TARGET '%s' is too long (%zu bytes; the limit is %d)",
			    msg_path(r.target), strlen(r.target), PATH_MAX - 1);
		goto out;
	}
	if (!r.layers.n) {
		usage_error("no lower layer given: add --layer DIR or --lowerdir A:B");
		goto out;
	}
	if (!r.upper != !r.work) {
		usage_error("--%s needs --%s too", r.upper ? "upper" : "work",
			    r.upper ? "work" : "upper");
		goto out;
	}

	ret = do_mount(&r);
	if (ret == EXIT_OK)
		print_mount_req(&r);
out:
	mount_req_free(&r);
	return ret;
}

/* Are we in a user namespace other than the initial one? */
static bool in_user_namespace(void)
{
	unsigned long inside, outside, count;
	bool initial = false;
	FILE *f = fopen("/proc/self/uid_map", "re");

	if (!f)
		return false;
	/* The initial namespace maps all of 0..4294967294 onto itself */
	if (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		initial = !inside && !outside && count == 4294967295UL;
	fclose(f);
	return !initial;
}

/* Split @s at the commas no backslash escapes; the escapes stay */
static void split_comma_options(const char *s, struct strvec *out)
{
	char *piece = xmalloc(strlen(s) + 1);
	size_t n = 0;

	for (size_t i = 0;; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			piece[n++] = s[i++];
			piece[n++] = s[i];
		} else if (s[i] == ',' || !s[i]) {
			piece[n] = '\0';
			strvec_push(out, piece);
			n = 0;
			if (!s[i])
				break;
		} else {
			piece[n++] = s[i];
		}
	}
	free(piece);
}

/* One option of an overlayfs option string, into @r */
static int helper_option(struct mount_req *r, const char *opt)
{
	const char *val = strchr(opt, '=');

	if (!strncmp(opt, "lowerdir=", 9)) {
		strvec_free(&r->layers);
		if (split_escaped(val + 1, ':', &r->layers) || !r->layers.n)
			return usage_error("lowerdir '%s' has an empty layer",
					   msg_path(val + 1));
	} else if (!strncmp(opt, "upperdir=", 9)) {
		r->upper = val + 1;
	} else if (!strncmp(opt, "workdir=", 8)) {
		r->work = val + 1;
	} else if (!strncmp(opt, "volume=", 7)) {
		strvec_push(&r->volumes, val + 1);
	} else {
		strvec_push(&r->options, opt);
	}
	return EXIT_OK;
}

int cmd_mount_helper(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mount_req r = { .layers = STRVEC_INIT, .volumes = STRVEC_INIT,
			       .options = STRVEC_INIT };
	struct strvec given = STRVEC_INIT;
	bool userxattr = false, aufs = false;
	int c, ret = EXIT_USAGE;

	while ((c = cmd_getopt(argc, argv, ":ho:", opts)) != -1) {
		switch (c) {
		case 'o':
			/* Commas escaped with '\\' stay in the option */
			split_comma_options(optarg, &given);
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				goto out;
			ret = EXIT_USAGE;
		}
	}
	/* [SOURCE] TARGET: mount(8)'s order, or the engine's -o OPTS TARGET */
	if (optind >= argc || argc - optind > 2) {
		usage_error("give [SOURCE] TARGET after the options");
		goto out;
	}
	r.target = argv[argc - 1];
	for (size_t i = 0; i < given.n; i++) {
		if (!given.v[i][0])
			continue;
		userxattr |= !strcmp(given.v[i], "userxattr");
		aufs |= !strcmp(given.v[i], "aufs_whiteouts");
		if (helper_option(&r, given.v[i]))
			goto out;
	}
	if (!userxattr && in_user_namespace())
		strvec_push(&r.options, "userxattr");
	/* Engines store layers with .wh. files when they use a helper */
	if (!aufs)
		strvec_push(&r.options, "aufs_whiteouts");
	if (!r.layers.n) {
		usage_error("no lowerdir= in the options");
		goto out;
	}
	ret = do_mount(&r);
out:
	mount_req_free(&r);
	strvec_free(&given);
	return ret;
}

/*
 * Canonical form of a umount TARGET.  realpath() when it works; when the
 * mount is broken (ESTALE, EIO...) an absolute TARGET is used as given, less
 * trailing slashes.  Returns a new string or NULL after a message.
 */
static char *umount_target(const char *arg)
{
	char *path = realpath(arg, NULL);
	int err = errno;
	size_t len;

	if (path)
		return path;
	if (arg[0] != '/' || err == ENOENT || err == ENOTDIR) {
		error_msg("cannot unmount '%s': %s", msg_path(arg),
			  strerror(err));
		return NULL;
	}
	path = xstrdup(arg);
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	return path;
}

int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lazy", no_argument, NULL, 'l' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct mnt_table t = MNT_TABLE_INIT;
	const struct mnt_entry *e;
	const char *fstype = cowctl_fstype();
	int c, ret, flags = UMOUNT_NOFOLLOW;
	char *path = NULL;

	while ((c = cmd_getopt(argc, argv, ":hjl", opts)) != -1) {
		switch (c) {
		case 'l':
			flags |= MNT_DETACH;
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				return ret;
		}
	}
	if (optind >= argc)
		return usage_error("missing TARGET, the cowfs mount to unmount");
	if (argc - optind > 1)
		return usage_error("unexpected argument '%s' after TARGET '%s'",
				   msg_path(argv[optind + 1]),
				   msg_path(argv[optind]));
	if (!argv[optind][0])
		return usage_error("TARGET is empty");
	if (strlen(argv[optind]) >= PATH_MAX)
		return usage_error("TARGET '%s' is too long (%zu bytes; the limit is %d)",
				   msg_path(argv[optind]), strlen(argv[optind]),
				   PATH_MAX - 1);

	path = umount_target(argv[optind]);
	if (!path)
		return EXIT_FAIL;

	ret = EXIT_FAIL;
	c = mnt_table_read(&t, NULL);
	if (c < 0) {
		error_msg("cannot read %s: %s", MOUNTINFO_PATH, strerror(-c));
		goto out;
	}
	e = mnt_table_find_target(&t, path);
	if (!e) {
		error_msg("'%s' is not a mount point, so there is no %s mount to unmount",
			  msg_path(path), fstype);
		goto out;
	}
	if (strcmp(e->fstype, fstype)) {
		error_msg("'%s' is not a %s mount (its filesystem is %s): use umount(8) for it",
			  msg_path(path), fstype, e->fstype);
		goto out;
	}
	if (umount2(path, flags) < 0) {
		int err = errno;

		error_msg("cannot unmount '%s': %s", msg_path(path),
			  strerror(err));
		if (err == EBUSY && !(flags & MNT_DETACH))
			error_msg("something still uses it (open files, a current directory, a mount below it); 'cowctl umount --lazy' detaches it now");
		else if (err == EPERM)
			error_msg("unmounting needs CAP_SYS_ADMIN: run cowctl as root");
		goto out;
	}
	/* Nothing in text mode; -j says what was unmounted. */
	open_json_object(NULL);
	print_string(PRINT_JSON, "target", NULL, path);
	print_bool(PRINT_JSON, "lazy", NULL, flags & MNT_DETACH);
	close_json_object();
	ret = EXIT_OK;
out:
	mnt_table_free(&t);
	free(path);
	return ret;
}
