// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl volume create|ls|inspect|rm|prune: the volumes of the cowfs
 * module, through its generic netlink family (volume-new, volume-get,
 * volume-del, volume-prune).  The JSON is shaped like Docker's.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/cowfs.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "cowctl.h"
#include "json_print.h"
#include "objects.h"
#include "utils.h"

static int volume_create(int argc, char **argv);
static int volume_ls(int argc, char **argv);
static int volume_inspect(int argc, char **argv);
static int volume_rm(int argc, char **argv);
static int volume_prune(int argc, char **argv);

const char *const volume_usage[] = {
	"cowctl volume COMMAND [ARGS...]",
	"Manage cowfs volumes, data that outlives a union.",
	"",
	"A volume is a named directory that a union attaches at a path:",
	"'cowctl mount --volume NAME:/path ...' (mount option volume=NAME:/path).",
	"Writes there go straight to the volume. Local volumes live in the",
	"volume store ('cowctl config get' shows where).",
	NULL,
};

static const char *const create_usage[] = {
	"cowctl volume create [--type local|bind|tmpfs] [--opt KEY=VAL]... [--label KEY=VAL]... NAME",
	"Create a volume.",
	"",
	"NAME is 1 to 128 characters of A-Z a-z 0-9 _ . - and starts with a",
	"letter or a digit. The type says where the data is kept:",
	"  local   a new directory in the volume store, deleted with the volume",
	"          (the default)",
	"  bind    an existing directory, named by --opt device=DIR; removing",
	"          the volume leaves the directory alone",
	"  tmpfs   a private tmpfs, gone with the volume: --opt size=SIZE (bytes,",
	"          or with a k, m or g suffix) and tmpfs's own options (mode=,",
	"          uid=, gid=, nr_inodes=)",
	"Options of local and bind volumes are kept and shown only.",
	"",
	"Options:",
	"  -t, --type TYPE        local, bind or tmpfs (default: local)",
	"  -o, --opt KEY[=VAL]    a volume option; repeatable",
	"  -l, --label KEY[=VAL]  a label (metadata for you); repeatable",
	"  -j, --json             print the new volume as JSON",
	"  -h, --help             print this help",
	"",
	"Prints the name of the new volume.",
	"",
	"Examples:",
	"  cowctl volume create data",
	"  cowctl volume create --type tmpfs --opt size=64m --label app=web scratch",
	"  cowctl volume create --type bind --opt device=/srv/logs logs",
	NULL,
};

static const char *const ls_usage_v[] = {
	"cowctl volume ls [-q] [-n] [--filter KEY=VALUE]...",
	"List volumes.",
	"",
	"Filters (a volume is shown when it matches every label filter and one",
	"value of each other key given):",
	"  dangling=true|false   no mount uses the volume (false: one does)",
	"  label=KEY[=VALUE]     the volume has label KEY (with that VALUE)",
	"  name=TEXT             the name contains TEXT",
	"  type=TYPE             the volume's type is TYPE",
	"",
	"Options:",
	"  -q, --quiet              print only the names",
	"  -f, --filter KEY=VALUE   show only the volumes that match",
	"  -n, --noheadings         do not print the header line",
	"  -j, --json               print a JSON array (of names with -q)",
	"  -h, --help               print this help",
	NULL,
};

static const char *const inspect_usage_v[] = {
	"cowctl volume inspect NAME...",
	"Show the details of volumes.",
	"",
	"With --json, an array of objects like Docker's: Name, Driver, Type,",
	"Mountpoint (null for tmpfs), CreatedAt, Labels, Options, Scope, Size",
	"(tmpfs, else null) and UsedBy: the mounts that use the volume, each",
	"with its Id, its Target (where the union is mounted, null when it is",
	"not in this mount namespace) and the Destination in the union.",
	"",
	"Options:",
	"  -j, --json   print a JSON array",
	"  -h, --help   print this help",
	NULL,
};

static const char *const rm_usage_v[] = {
	"cowctl volume rm [-f] NAME...",
	"Remove volumes.",
	"",
	"A local volume's data is deleted, a tmpfs volume's is gone; a bind",
	"volume's directory is left alone. A volume that a mount uses is",
	"refused, with or without --force: unmount the union first.",
	"",
	"Options:",
	"  -f, --force   do not fail on volumes that do not exist",
	"  -j, --json    print the removed names as a JSON array",
	"  -h, --help    print this help",
	NULL,
};

static const char *const prune_usage_v[] = {
	"cowctl volume prune [-f]",
	"Remove every local and tmpfs volume that no mount uses.",
	"",
	"Bind volumes are kept. Asks first, unless --force is given.",
	"",
	"Options:",
	"  -f, --force   do not ask for confirmation",
	"  -j, --json    print {\"VolumesDeleted\": [...], \"SpaceReclaimed\": N}",
	"  -h, --help    print this help",
	NULL,
};

static const struct cmd volume_cmds[] = {
	{ "create",	volume_create,	create_usage },
	{ "ls",		volume_ls,	ls_usage_v },
	{ "list",	volume_ls,	ls_usage_v },
	{ "inspect",	volume_inspect,	inspect_usage_v },
	{ "rm",		volume_rm,	rm_usage_v },
	{ "remove",	volume_rm,	rm_usage_v },
	{ "prune",	volume_prune,	prune_usage_v },
	{ "migrate",	volume_migrate,	volume_migrate_usage },
	{ NULL, NULL, NULL },
};

int cmd_volume(int argc, char **argv)
{
	return cmd_group(volume_cmds, "volume", volume_usage, argc, argv);
}

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, as the kernel (and Docker) want. */
static bool volume_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > COWFS_VOLUME_NAME_MAX ||
	    !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

static int check_volume_name(const char *name)
{
	if (volume_name_ok(name))
		return EXIT_OK;
	return usage_error("'%s' is not a valid volume name: use 1 to %d characters of A-Z a-z 0-9 _ . -, starting with a letter or a digit",
			   msg_path(name), COWFS_VOLUME_NAME_MAX);
}

/* NAME... after the options: at least one, each a valid volume name. */
static int check_volume_names(int argc, char **argv, const char *what)
{
	if (optind >= argc)
		return usage_error("missing NAME, the volume to %s", what);
	for (int i = optind; i < argc; i++)
		if (check_volume_name(argv[i]))
			return EXIT_USAGE;
	return EXIT_OK;
}

/* ---- printing --------------------------------------------------------- */

/* The mounts and mountinfo, read once, for the UsedBy of volumes. */
struct used_ctx {
	struct cowctl_nl *nl;
	bool loaded;
	struct nl_mounts mounts;
	struct mnt_table mi;
};

static void used_ctx_load(struct used_ctx *u)
{
	if (u->loaded)
		return;
	u->loaded = true;
	if (nl_mounts_dump(u->nl, &u->mounts))
		u->mounts.n = 0;
	if (mnt_table_read(&u->mi, NULL) < 0)
		u->mi.n = 0;
}

static void used_ctx_free(struct used_ctx *u)
{
	nl_mounts_free(&u->mounts);
	mnt_table_free(&u->mi);
}

static void print_kvs(const char *key, const char *label,
		      const struct kvs *l)
{
	open_json_object(key);
	print_string(PRINT_FP, NULL, "%s", label);
	if (!l->n)
		print_string(PRINT_FP, NULL, "%s\n", "-");
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			print_string(PRINT_FP, NULL, "%-13s", "");
		print_string(PRINT_FP, NULL, "%s=", l->v[i].key);
		print_string(PRINT_ANY, l->v[i].key, "%s\n", l->v[i].value);
	}
	close_json_object();
}

static void print_used_by(const struct nl_volume *v, struct used_ctx *u)
{
	open_json_array(PRINT_JSON, "UsedBy");
	print_string(PRINT_FP, NULL, "%s", "Used by:     ");
	if (!v->nmount_ids)
		print_string(PRINT_FP, NULL, "%s\n", "-");
	else
		used_ctx_load(u);
	for (size_t i = 0; i < v->nmount_ids; i++) {
		const struct nl_mount *m = nl_mounts_find_id(&u->mounts,
							     v->mount_ids[i]);
		const struct mnt_entry *e = m ? mount_target(&u->mi, m) : NULL;
		const char *dest = NULL;

		for (size_t j = 0; m && j < m->nvols; j++)
			if (!strcmp(m->vols[j].name, v->name))
				dest = m->vols[j].target;
		if (i)
			print_string(PRINT_FP, NULL, "%-13s", "");
		open_json_object(NULL);
		print_u64(PRINT_ANY, "Id", "mount %" PRIu64, v->mount_ids[i]);
		print_string(PRINT_ANY, "Target", " on %s",
			     e ? e->target : NULL);
		print_string(PRINT_ANY, "Destination", " at %s\n", dest);
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
}

/* One volume, as volume inspect shows it. */
static void print_volume(const struct nl_volume *v, struct used_ctx *u)
{
	char buf[64];

	open_json_object(NULL);
	print_string(PRINT_ANY, "Name", "Name:        %s\n", v->name);
	print_string(PRINT_JSON, "Driver", NULL, "cowfs");
	print_string(PRINT_ANY, "Type", "Type:        %s\n",
		     volume_type_name(v->type));
	print_string(PRINT_ANY, "Mountpoint", "Mountpoint:  %s\n", v->path);
	print_string(PRINT_ANY, "CreatedAt", "Created:     %s\n",
		     format_time_ns(v->created, buf, sizeof(buf)));
	if (v->size) {
		print_string(PRINT_FP, NULL, "Size:        %s",
			     format_size_iec(v->size, buf, sizeof(buf)));
		print_u64(PRINT_ANY, "Size", " (%" PRIu64 " bytes)\n",
			  v->size);
	} else {
		print_null(PRINT_JSON, "Size", NULL, NULL);
	}
	print_kvs("Labels", "Labels:      ", &v->labels);
	print_kvs("Options", "Options:     ", &v->options);
	print_string(PRINT_JSON, "Scope", NULL, "local");
	print_used_by(v, u);
	close_json_object();
}

/* ---- create ------------------------------------------------------------- */

/* "64m" → 67108864; k, m, g, t are powers of 1024, as tmpfs takes them. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	case 't': shift = 40; end++; break;
	}
	if (*end && strcasecmp(end, "b") && strcasecmp(end, "ib"))
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* Split "KEY=VAL" (or "KEY": empty value) into @kv; false if no key. */
static bool split_kv(const char *arg, struct kv *kv)
{
	const char *eq = strchr(arg, '=');

	if (arg[0] == '\0' || arg[0] == '=')
		return false;
	kv->key = eq ? xstrndup(arg, eq - arg) : xstrdup(arg);
	kv->value = xstrdup(eq ? eq + 1 : "");
	return true;
}

static int kvs_push(struct kvs *l, const char *what, const char *arg)
{
	struct kv kv;

	if (!split_kv(arg, &kv))
		return usage_error("--%s '%s' has no key (use KEY=VALUE)", what,
				   msg_path(arg));
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, kv.key)) {
			usage_error("--%s %s was given twice", what,
				    msg_path(kv.key));
			free(kv.key);
			free(kv.value);
			return EXIT_USAGE;
		}
	l->v = xrealloc(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = kv;
	return EXIT_OK;
}

static void kvs_clear(struct kvs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
}

static int put_kvs(struct nl_msg *msg, int type, const struct kvs *l,
		   const char *skip)
{
	for (size_t i = 0; i < l->n; i++) {
		struct nlattr *nest;

		if (skip && !strcmp(l->v[i].key, skip))
			continue;
		nest = nla_nest_start(msg, type);
		if (!nest || nla_put_string(msg, COWFS_A_KV_KEY, l->v[i].key) ||
		    nla_put_string(msg, COWFS_A_KV_VALUE, l->v[i].value))
			return -1;
		nla_nest_end(msg, nest);
	}
	return 0;
}

static const char *kvs_get(const struct kvs *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].value;
	return NULL;
}

static int create_reply_cb(struct nl_msg *msg, void *arg)
{
	struct nl_volume *v = arg;

	if (!v->name && !nl_volume_parse(msg, v))
		return NL_OK;
	return NL_SKIP;
}

static int volume_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "driver", required_argument, NULL, 'd' },
		{ "opt", required_argument, NULL, 'o' },
		{ "label", required_argument, NULL, 'l' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct kvs options = { NULL, 0 }, labels = { NULL, 0 };
	struct nl_volume v = { 0 };
	const char *device, *size_s, *name;
	int c, ret = EXIT_USAGE, type = COWFS_VOLUME_TYPE_LOCAL, err;
	struct used_ctx u = { 0 };
	struct cowctl_nl nl;
	struct nl_msg *msg;
	uint64_t size = 0;

	while ((c = cmd_getopt(argc, argv, ":hjt:d:o:l:", opts)) != -1) {
		switch (c) {
		case 't':
		case 'd':
			type = volume_type_parse(optarg);
			if (type < 0) {
				usage_error("unknown volume type '%s': use local, bind or tmpfs",
					    msg_path(optarg));
				goto out;
			}
			break;
		case 'o':
			if (kvs_push(&options, "opt", optarg))
				goto out;
			break;
		case 'l':
			if (kvs_push(&labels, "label", optarg))
				goto out;
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				goto out;
			ret = EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_error("missing NAME, the name of the new volume");
		goto out;
	}
	if (argc - optind > 1) {
		usage_error("unexpected argument '%s' after NAME '%s'",
			    msg_path(argv[optind + 1]), msg_path(argv[optind]));
		goto out;
	}
	name = argv[optind];
	if (check_volume_name(name))
		goto out;

	device = kvs_get(&options, "device");
	size_s = kvs_get(&options, "size");
	if (type == COWFS_VOLUME_TYPE_BIND) {
		if (!device) {
			usage_error("a bind volume needs its directory: --opt device=DIR");
			goto out;
		}
		if (!check_abs_path("device", device))
			goto out;
	} else if (device) {
		usage_error("--opt device= is for bind volumes (--type bind)");
		goto out;
	}
	if (type == COWFS_VOLUME_TYPE_TMPFS && size_s) {
		if (!parse_size(size_s, &size)) {
			usage_error("--opt size='%s' is not a size (bytes, or a number with k, m or g)",
				    msg_path(size_s));
			goto out;
		}
		if (size < 4096) {
			usage_error("--opt size=%s is too small: a tmpfs volume needs at least 4096 bytes",
				    msg_path(size_s));
			goto out;
		}
	}

	ret = EXIT_FAIL;
	if (cowctl_nl_open_or_fail(&nl))
		goto out;
	msg = cowctl_nl_msg(&nl, COWFS_CMD_VOLUME_NEW, 0, COWFS_FAMILY_VERSION);
	if (!msg)
		goto close;
	if (nla_put_string(msg, COWFS_A_VOLUME_NAME, name) ||
	    nla_put_u32(msg, COWFS_A_VOLUME_TYPE, type) ||
	    (device && nla_put_string(msg, COWFS_A_VOLUME_PATH, device)) ||
	    (size && nla_put_u64(msg, COWFS_A_VOLUME_SIZE, size)) ||
	    put_kvs(msg, COWFS_A_VOLUME_LABEL, &labels, NULL) ||
	    put_kvs(msg, COWFS_A_VOLUME_OPTION, &options,
		    type == COWFS_VOLUME_TYPE_BIND ? "device" :
		    type == COWFS_VOLUME_TYPE_TMPFS ? "size" : NULL)) {
		error_msg("the volume does not fit in a netlink message");
		nlmsg_free(msg);
		goto close;
	}
	err = cowctl_nl_request(&nl, msg, create_reply_cb, &v);
	if (err) {
		cowctl_nl_error(&nl, err, "cannot create volume %s", name);
		goto close;
	}
	if (is_json_context()) {
		u.nl = &nl;
		if (v.name)
			print_volume(&v, &u);
		else	/* an old module without a reply: just the name */
			print_string(PRINT_JSON, NULL, NULL, name);
		used_ctx_free(&u);
	} else {
		printf("%s\n", name);
	}
	ret = EXIT_OK;
close:
	nl_volume_free(&v);
	cowctl_nl_close(&nl);
out:
	kvs_clear(&options);
	kvs_clear(&labels);
	return ret;
}

/* ---- ls ------------------------------------------------------------------ */

struct volume_filter {
	int dangling;			/* -1: any, 0: used, 1: unused */
	struct strvec labels;		/* KEY or KEY=VALUE, all must match */
	struct strvec names;		/* any must match */
	struct strvec types;		/* any must match */
};

static int parse_bool(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "0"))
		return 0;
	return -1;
}

static int filter_add(struct volume_filter *f, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t klen = eq ? (size_t)(eq - arg) : 0;
	const char *val = eq ? eq + 1 : NULL;

	if (!eq)
		return usage_error("--filter '%s' is not KEY=VALUE", msg_path(arg));
	if (klen == 8 && !strncmp(arg, "dangling", 8)) {
		int b = parse_bool(val);

		if (b < 0)
			return usage_error("--filter dangling='%s': use true or false",
					   msg_path(val));
		if (f->dangling >= 0 && f->dangling != b)
			return usage_error("--filter dangling=true and dangling=false exclude each other");
		f->dangling = b;
	} else if (klen == 5 && !strncmp(arg, "label", 5)) {
		if (!*val || *val == '=')
			return usage_error("--filter label= needs a KEY or KEY=VALUE");
		strvec_push(&f->labels, val);
	} else if (klen == 4 && !strncmp(arg, "name", 4)) {
		strvec_push(&f->names, val);
	} else if (klen == 4 && !strncmp(arg, "type", 4)) {
		if (volume_type_parse(val) < 0)
			return usage_error("--filter type='%s': use local, bind or tmpfs",
					   msg_path(val));
		strvec_push(&f->types, val);
	} else {
		return usage_error("unknown filter '%.*s': use dangling, label, name or type",
				   (int)klen, arg);
	}
	return EXIT_OK;
}

static bool filter_match(const struct volume_filter *f,
			 const struct nl_volume *v)
{
	bool any;

	if (f->dangling >= 0 && f->dangling != !v->nmount_ids)
		return false;
	for (size_t i = 0; i < f->labels.n; i++) {
		const char *want = f->labels.v[i];
		const char *eq = strchr(want, '=');
		size_t klen = eq ? (size_t)(eq - want) : strlen(want);
		bool found = false;

		for (size_t j = 0; j < v->labels.n && !found; j++) {
			const struct kv *kv = &v->labels.v[j];

			found = strlen(kv->key) == klen &&
				!strncmp(kv->key, want, klen) &&
				(!eq || !strcmp(kv->value, eq + 1));
		}
		if (!found)
			return false;
	}
	any = !f->names.n;
	for (size_t i = 0; i < f->names.n && !any; i++)
		any = strstr(v->name, f->names.v[i]) != NULL;
	if (!any)
		return false;
	any = !f->types.n;
	for (size_t i = 0; i < f->types.n && !any; i++)
		any = !strcmp(volume_type_name(v->type), f->types.v[i]);
	return any;
}

static int width(const char *s, int w)
{
	int len = s ? (int)strlen(s) : 1;

	return len > w ? len : w;
}

static char *used_by_ids(const struct nl_volume *v)
{
	struct strbuf sb = STRBUF_INIT;
	char id[32];

	if (!v->nmount_ids)
		return xstrdup("-");
	for (size_t i = 0; i < v->nmount_ids; i++) {
		snprintf(id, sizeof(id), "%s%" PRIu64, i ? "," : "",
			 v->mount_ids[i]);
		strbuf_addstr(&sb, id);
	}
	return sb.s;
}

static void print_volume_table(struct nl_volume **sel, size_t n,
			       bool noheadings)
{
	int wn = strlen("NAME"), wt = strlen("TYPE"), wu = strlen("USED-BY");
	char **used = xcalloc(n, sizeof(*used));

	for (size_t i = 0; i < n; i++) {
		used[i] = used_by_ids(sel[i]);
		wn = width(sel[i]->name, wn);
		wt = width(volume_type_name(sel[i]->type), wt);
		wu = width(used[i], wu);
	}
	if (!noheadings)
		printf("%-*s  %-*s  %-*s  %s\n", wn, "NAME", wt, "TYPE", wu,
		       "USED-BY", "MOUNTPOINT");
	for (size_t i = 0; i < n; i++) {
		char fmt[32];

		snprintf(fmt, sizeof(fmt), "%%-%ds  ", wn);
		print_string(PRINT_FP, NULL, fmt, sel[i]->name);
		snprintf(fmt, sizeof(fmt), "%%-%ds  ", wt);
		print_string(PRINT_FP, NULL, fmt,
			     volume_type_name(sel[i]->type));
		snprintf(fmt, sizeof(fmt), "%%-%ds  ", wu);
		print_string(PRINT_FP, NULL, fmt, used[i]);
		print_string(PRINT_FP, NULL, "%s\n", sel[i]->path);
		free(used[i]);
	}
	free(used);
}

static int volume_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "filter", required_argument, NULL, 'f' },
		{ "noheadings", no_argument, NULL, 'n' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct volume_filter f = { -1, STRVEC_INIT, STRVEC_INIT, STRVEC_INIT };
	bool quiet = false, noheadings = false;
	struct nl_volumes l = { NULL, 0 };
	struct nl_volume **sel = NULL;
	struct used_ctx u = { 0 };
	int c, ret = EXIT_USAGE;
	struct cowctl_nl nl;
	size_t n = 0;

	while ((c = cmd_getopt(argc, argv, ":hjqf:n", opts)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'n':
			noheadings = true;
			break;
		case 'f':
			if (filter_add(&f, optarg))
				goto out;
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				goto out;
			ret = EXIT_USAGE;
		}
	}
	if (cmd_no_args(argc, argv))
		goto out;

	ret = EXIT_FAIL;
	if (cowctl_nl_open_or_fail(&nl))
		goto out;
	if (nl_volumes_dump(&nl, &l))
		goto close;
	if (!l.n && nl.extack[0])
		error_msg("volume ls: listing the volumes needs CAP_SYS_ADMIN");
	sel = xcalloc(l.n, sizeof(*sel));
	for (size_t i = 0; i < l.n; i++)
		if (filter_match(&f, &l.v[i]))
			sel[n++] = &l.v[i];

	open_json_array(PRINT_JSON, NULL);
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			print_string(PRINT_ANY, NULL, "%s\n", sel[i]->name);
	} else if (is_json_context()) {
		u.nl = &nl;
		for (size_t i = 0; i < n; i++)
			print_volume(sel[i], &u);
		used_ctx_free(&u);
	} else if (n) {
		print_volume_table(sel, n, noheadings);
	}
	close_json_array(PRINT_JSON, NULL);
	ret = EXIT_OK;
close:
	free(sel);
	nl_volumes_free(&l);
	cowctl_nl_close(&nl);
out:
	strvec_free(&f.labels);
	strvec_free(&f.names);
	strvec_free(&f.types);
	return ret;
}

/* ---- inspect ----------------------------------------------------------- */

static int volume_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct used_ctx u = { 0 };
	struct cowctl_nl nl;
	int c, ret;
	size_t shown = 0;

	while ((c = cmd_getopt(argc, argv, ":hj", opts)) != -1) {
		ret = cmd_common_opt(c, argv);
		if (ret != CMD_CONTINUE)
			return ret;
	}
	ret = check_volume_names(argc, argv, "inspect");
	if (ret)
		return ret;
	if (cowctl_nl_open_or_fail(&nl))
		return EXIT_FAIL;

	ret = EXIT_OK;
	u.nl = &nl;
	open_json_array(PRINT_JSON, NULL);
	for (int i = optind; i < argc; i++) {
		struct nl_volume v;
		int err = nl_volume_get(&nl, argv[i], &v);

		if (err) {
			cowctl_nl_error(&nl, err, "cannot inspect volume %s",
					argv[i]);
			ret = EXIT_FAIL;
			continue;
		}
		if (shown++)
			print_nl();
		print_volume(&v, &u);
		nl_volume_free(&v);
	}
	close_json_array(PRINT_JSON, NULL);
	used_ctx_free(&u);
	cowctl_nl_close(&nl);
	return ret;
}

/* ---- rm ------------------------------------------------------------------ */

static int volume_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cowctl_nl nl;
	bool force = false;
	int c, ret;

	while ((c = cmd_getopt(argc, argv, ":hjf", opts)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				return ret;
		}
	}
	ret = check_volume_names(argc, argv, "remove");
	if (ret)
		return ret;
	if (cowctl_nl_open_or_fail(&nl))
		return EXIT_FAIL;

	ret = EXIT_OK;
	open_json_array(PRINT_JSON, NULL);
	for (int i = optind; i < argc; i++) {
		struct nl_msg *msg;
		int err;

		msg = cowctl_nl_msg(&nl, COWFS_CMD_VOLUME_DEL, 0,
				    COWFS_FAMILY_VERSION);
		if (!msg) {
			ret = EXIT_FAIL;
			break;
		}
		if (nla_put_string(msg, COWFS_A_VOLUME_NAME, argv[i])) {
			nlmsg_free(msg);
			ret = EXIT_FAIL;
			break;
		}
		err = cowctl_nl_request(&nl, msg, NULL, NULL);
		if (err == -ENOENT && force)
			continue;
		if (err) {
			cowctl_nl_error(&nl, err, "cannot remove volume %s",
					argv[i]);
			ret = EXIT_FAIL;
			continue;
		}
		if (nl.extack[0])
			error_msg("warning: volume %s: %s", argv[i], nl.extack);
		print_string(PRINT_ANY, NULL, "%s\n", argv[i]);
	}
	close_json_array(PRINT_JSON, NULL);
	cowctl_nl_close(&nl);
	return ret;
}

/* ---- prune --------------------------------------------------------------- */

struct prune_result {
	struct strvec pruned;
	uint64_t reclaimed;
};

static int prune_cb(struct nl_msg *msg, void *arg)
{
	struct prune_result *r = arg;
	struct nlattr *attrs, *a;
	int len, rem;

	attrs = cowctl_genl_attrs(msg, &len);
	nla_for_each_attr(a, attrs, len, rem) {
		if (nla_type(a) == COWFS_A_VOLUME_PRUNED)
			strvec_push_owned(&r->pruned,
					  xstrndup(nla_data(a), nla_len(a)));
		else if (nla_type(a) == COWFS_A_VOLUME_RECLAIMED)
			r->reclaimed = cowctl_nla_get_uint(a);
	}
	return NL_OK;
}

static bool confirm(const char *question)
{
	char line[64];

	fflush(stdout);
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin)) {
		fputc('\n', stderr);
		return false;
	}
	line[strcspn(line, "\n")] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

static int volume_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct prune_result r = { STRVEC_INIT, 0 };
	struct cowctl_nl nl;
	struct nl_msg *msg;
	bool force = false;
	char buf[32];
	int c, ret, err;

	while ((c = cmd_getopt(argc, argv, ":hjf", opts)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				return ret;
		}
	}
	ret = cmd_no_args(argc, argv);
	if (ret)
		return ret;
	if (cowctl_nl_open_or_fail(&nl))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	if (!force &&
	    !confirm("WARNING! This removes every local and tmpfs volume that no mount uses.\nAre you sure you want to continue?")) {
		error_msg("nothing was removed (--force skips the question)");
		goto out;
	}
	msg = cowctl_nl_msg(&nl, COWFS_CMD_VOLUME_PRUNE, 0,
			    COWFS_FAMILY_VERSION);
	if (!msg)
		goto out;
	err = cowctl_nl_request(&nl, msg, prune_cb, &r);
	if (err) {
		cowctl_nl_error(&nl, err, "cannot prune the volumes");
		goto out;
	}
	open_json_object(NULL);
	if (r.pruned.n)
		print_string(PRINT_FP, NULL, "%s\n", "Deleted Volumes:");
	open_json_array(PRINT_JSON, "VolumesDeleted");
	for (size_t i = 0; i < r.pruned.n; i++)
		print_string(PRINT_ANY, NULL, "%s\n", r.pruned.v[i]);
	close_json_array(PRINT_JSON, NULL);
	if (r.pruned.n)
		print_nl();
	print_string(PRINT_FP, NULL, "Total reclaimed space: %s\n",
		     format_size(r.reclaimed, buf, sizeof(buf)));
	print_u64(PRINT_JSON, "SpaceReclaimed", NULL, r.reclaimed);
	close_json_object();
	ret = EXIT_OK;
out:
	strvec_free(&r.pruned);
	cowctl_nl_close(&nl);
	return ret;
}
