// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl volume migrate: convert a volume store written by an older
 * cowfs, which kept each volume's record in a text file, STORE/NAME/meta:
 *
 *	cowfs-volume 1
 *	name=NAME
 *	type=local|bind
 *	created=NANOSECONDS
 *	path=/DIR		(bind volumes only)
 *	label=KEY=VALUE		(any number)
 *	option=KEY=VALUE	(any number)
 *
 * The kernel reads no text any more: a record is the netlink attributes
 * of the volume-new request that made the volume and its creation time,
 * in xattr trusted.cowfs.volume of STORE/NAME (kernel/store.c), and the
 * kernel checks them as it checks a request.  This parses a meta file
 * here, in user space, writes the xattr, and removes the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <linux/cowfs.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "cowctl.h"
#include "json_print.h"
#include "nl.h"
#include "utils.h"

#define VOLUME_XATTR	"trusted.cowfs.volume"
#define OLD_META	"meta"
#define OLD_META_TMP	"meta.tmp"
#define OLD_MAGIC	"cowfs-volume 1"
/* The old kernel refused to read a bigger meta */
#define OLD_META_MAX	(256 * 1024)
#define DEFAULT_STORE	"/var/lib/cowfs/volumes"

const char *const volume_migrate_usage[] = {
	"cowctl volume migrate [--store DIR]",
	"Convert a volume store of an older cowfs.",
	"",
	"Older cowfs modules recorded each local and bind volume in a text file,",
	"STORE/NAME/meta; the module now keeps the record in an xattr of",
	"STORE/NAME (trusted.cowfs.volume) and skips such volumes, with a word in",
	"the kernel log. This converts every one and removes its meta file,",
	"then has the module load the store again if it uses that store (which",
	"waits while volumes are attached: 'cowctl config set --store DIR'",
	"after unmounting does it). Converted volumes are left alone.",
	"",
	"Options:",
	"  -s, --store DIR   the store (default: the module's, else",
	"                    " DEFAULT_STORE ")",
	"  -j, --json        print {\"Migrated\": [...], \"Failed\": [...]}",
	"  -h, --help        print this help",
	NULL,
};

/* One old meta file, parsed. */
struct old_meta {
	char *name;
	uint32_t type;
	bool have_type;
	bool have_created;
	uint64_t created;
	char *path;
};

/*
 * Read @dfd's meta file (at most OLD_META_MAX bytes) into *@text, a
 * string.  Returns 1, 0 when there is none, -1 after a message.
 */
static int read_meta(int dfd, const char *vol, char **text)
{
	struct strbuf sb = STRBUF_INIT;
	const char *why = NULL;
	char buf[4096];
	ssize_t n;
	int fd;

	fd = openat(dfd, OLD_META, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		error_msg("%s: cannot open %s: %s", vol, OLD_META,
			  strerror(errno));
		return -1;
	}
	while (!why && (n = read(fd, buf, sizeof(buf))) > 0) {
		strbuf_add(&sb, buf, n);
		if (sb.len > OLD_META_MAX)
			why = "larger than any cowfs wrote";
	}
	if (!why && n < 0)
		why = strerror(errno);
	else if (!why && memchr(strbuf_str(&sb), '\0', sb.len))
		why = "it holds a NUL byte: not a cowfs meta file";
	close(fd);
	if (why) {
		error_msg("%s: cannot read %s: %s", vol, OLD_META, why);
		strbuf_free(&sb);
		return -1;
	}
	*text = xstrdup(strbuf_str(&sb));
	strbuf_free(&sb);
	return 1;
}

/* Add label or option "KEY=VALUE" @kv to @msg as nest @type. */
static int put_kv(struct nl_msg *msg, int type, char *kv)
{
	char *value = strchr(kv, '=');
	struct nlattr *nest;

	if (!value || value == kv)
		return -EINVAL;
	*value++ = '\0';
	nest = nla_nest_start(msg, type);
	if (!nest || nla_put_string(msg, COWFS_A_KV_KEY, kv) ||
	    nla_put_string(msg, COWFS_A_KV_VALUE, value))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

/*
 * Parse meta text @text of volume @vol (cutting it up) into record @msg.
 * Returns 0, or -errno with *@why saying what is wrong.
 */
static int parse_meta(char *text, const char *vol, struct nl_msg *msg,
		      const char **why)
{
	struct old_meta m = { 0 };
	char *line, *next = text, *val, *end;
	int err = 0;

	line = strsep(&next, "\n");
	*why = "not a cowfs meta file (no '" OLD_MAGIC "' first line)";
	if (!line || strcmp(line, OLD_MAGIC))
		return -EINVAL;
	while (!err && (line = strsep(&next, "\n"))) {
		if (!*line)
			continue;
		*why = "a line without '='";
		val = strchr(line, '=');
		if (!val)
			return -EINVAL;
		*val++ = '\0';
		if (!strcmp(line, "name")) {
			m.name = val;
		} else if (!strcmp(line, "type")) {
			*why = "a type other than local or bind";
			if (!strcmp(val, "local"))
				m.type = COWFS_VOLUME_TYPE_LOCAL;
			else if (!strcmp(val, "bind"))
				m.type = COWFS_VOLUME_TYPE_BIND;
			else
				return -EINVAL;
			m.have_type = true;
		} else if (!strcmp(line, "created")) {
			*why = "a created= that is not a number";
			errno = 0;
			m.created = strtoull(val, &end, 10);
			if (errno || end == val || *end)
				return -EINVAL;
			m.have_created = true;
		} else if (!strcmp(line, "path")) {
			m.path = val;
		} else if (!strcmp(line, "label") || !strcmp(line, "option")) {
			*why = "a label or an option without a key";
			err = put_kv(msg, line[0] == 'o' ? COWFS_A_VOLUME_OPTION :
							   COWFS_A_VOLUME_LABEL,
				     val);
		} else {
			*why = "an unknown key";
			return -EINVAL;
		}
	}
	if (err)
		return err;
	*why = "the name in it is not its directory's";
	if (!m.name || strcmp(m.name, vol))
		return -EINVAL;
	*why = "no type= or created=";
	if (!m.have_type || !m.have_created)
		return -EINVAL;
	*why = "a bind volume without an absolute path=, or a local one with one";
	if (m.type == COWFS_VOLUME_TYPE_BIND ? !m.path || m.path[0] != '/' :
	    !!m.path)
		return -EINVAL;

	*why = "too big for a record";
	if (nla_put_string(msg, COWFS_A_VOLUME_NAME, m.name) ||
	    nla_put_u32(msg, COWFS_A_VOLUME_TYPE, m.type) ||
	    (m.path && nla_put_string(msg, COWFS_A_VOLUME_PATH, m.path)) ||
	    nla_put_u64(msg, COWFS_A_VOLUME_CREATED, m.created))
		return -EMSGSIZE;
	return 0;
}

/*
 * Migrate STORE/@vol (open at @dfd).  Returns 1 when done, 0 when there
 * is nothing to do, -1 after a message.
 */
static int migrate_one(int dfd, const char *vol)
{
	const char *why = "";
	struct nl_msg *msg;
	size_t len;
	char *text;
	int ret = -1;

	if (fgetxattr(dfd, VOLUME_XATTR, NULL, 0) >= 0)
		return 0;	/* recorded the new way already */
	if (errno != ENODATA) {
		error_msg("%s: cannot read its xattrs: %s%s", vol,
			  strerror(errno),
			  errno == ENOTSUP ? " (the store's filesystem must have trusted.* xattrs)" : "");
		return -1;
	}
	ret = read_meta(dfd, vol, &text);
	if (ret <= 0)
		return ret;
	ret = -1;

	/* Every byte of text and 12 bytes of headers a line, at most */
	len = strlen(text);
	msg = nlmsg_alloc_size(NLMSG_HDRLEN + 13 * len + 4096);
	if (!msg) {
		error_msg("%s: out of memory", vol);
		goto out;
	}
	if (parse_meta(text, vol, msg, &why)) {
		error_msg("%s: %s/%s: %s; left as it is", vol, vol, OLD_META,
			  why);
		goto out;
	}
	if (fsetxattr(dfd, VOLUME_XATTR, nlmsg_data(nlmsg_hdr(msg)),
		      nlmsg_datalen(nlmsg_hdr(msg)), XATTR_CREATE)) {
		error_msg("%s: cannot set its record (xattr %s): %s%s", vol,
			  VOLUME_XATTR, strerror(errno),
			  errno == ENOSPC || errno == E2BIG ?
			  " (too big for an xattr of the store's filesystem: shorten its labels or options)" : "");
		goto out;
	}
	/* The record first, durably; then the old file can go */
	if (fsync(dfd) ||
	    (unlinkat(dfd, OLD_META, 0) && errno != ENOENT) ||
	    (unlinkat(dfd, OLD_META_TMP, 0) && errno != ENOENT) ||
	    fsync(dfd)) {
		error_msg("%s: recorded, but cannot remove %s: %s", vol,
			  OLD_META, strerror(errno));
		goto out;
	}
	ret = 1;
out:
	nlmsg_free(msg);
	free(text);
	return ret;
}

static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int volume_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct strvec done = STRVEC_INIT, failed = STRVEC_INIT;
	char *store = NULL, *modstore = NULL;
	struct dirent *de;
	int c, ret, sfd;
	size_t i;
	DIR *dir;

	while ((c = cmd_getopt(argc, argv, ":hjs:", opts)) != -1) {
		switch (c) {
		case 's':
			free(store);
			store = xstrdup(optarg);
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE) {
				free(store);
				return ret;
			}
		}
	}
	ret = cmd_no_args(argc, argv);
	if (ret) {
		free(store);
		return ret;
	}
	/* The module's store; none when the module is not loaded */
	if (cowctl_config_request(NULL, &modstore, COWCTL_NL_QUIET))
		modstore = NULL;
	if (!store)
		store = xstrdup(modstore ?: DEFAULT_STORE);

	sfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = sfd < 0 ? NULL : fdopendir(sfd);
	if (!dir) {
		error_msg("cannot open the volume store %s: %s",
			  msg_path(store), strerror(errno));
		if (sfd >= 0)
			close(sfd);
		ret = EXIT_FAIL;
		goto out;
	}
	while ((de = readdir(dir))) {
		int dfd, r;

		if (de->d_name[0] == '.')	/* ., .., .trash */
			continue;
		dfd = openat(sfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;	/* not a directory: not a volume */
		r = migrate_one(dfd, de->d_name);
		close(dfd);
		if (r > 0)
			strvec_push(&done, de->d_name);
		else if (r < 0)
			strvec_push(&failed, de->d_name);
	}
	closedir(dir);

	/* The module skipped them at its last load: load them now */
	if (done.n && modstore && same_dir(modstore, store)) {
		char *reply = NULL;

		cowctl_config_request(modstore, &reply, 0);
		free(reply);
	}

	ret = failed.n ? EXIT_FAIL : EXIT_OK;
	if (opt_json) {
		open_json_object(NULL);
		open_json_array(PRINT_JSON, "Migrated");
		for (i = 0; i < done.n; i++)
			print_string(PRINT_JSON, NULL, NULL, done.v[i]);
		close_json_array(PRINT_JSON, NULL);
		open_json_array(PRINT_JSON, "Failed");
		for (i = 0; i < failed.n; i++)
			print_string(PRINT_JSON, NULL, NULL, failed.v[i]);
		close_json_array(PRINT_JSON, NULL);
		close_json_object();
	} else {
		for (i = 0; i < done.n; i++)
			printf("migrated %s\n", done.v[i]);
		if (!done.n && !failed.n)
			printf("%s: nothing to migrate\n", msg_path(store));
	}
out:
	strvec_free(&done);
	strvec_free(&failed);
	free(modstore);
	free(store);
	return ret;
}
