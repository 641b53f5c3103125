// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl ls: list the live cowfs mounts.
 *
 * The list is built by data sources run in order, each adding mounts or
 * filling in fields of the ones already found; then it is printed once,
 * as a table or as JSON.  Today the only source is /proc/self/mountinfo;
 * the netlink family will add per-mount counters as a second source.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowctl.h"
#include "json_print.h"
#include "mountinfo.h"
#include "utils.h"

const char *const ls_usage[] = {
	"cowctl ls [OPTIONS]",
	"List the mounted cowfs unions.",
	"",
	"Shows each cowfs mount with its upper and work directories and its lower",
	"layers, top first. In the table the layers are joined with ':' (a ':' or",
	"'\\' inside a path is written '\\:' or '\\\\', as --lowerdir takes them);",
	"JSON gives them as an array.",
	"",
	"Options:",
	"  -n, --noheadings   do not print the table's header line",
	"  -F, --file FILE    read the mounts from FILE, in the format of",
	"                     /proc/self/mountinfo, instead of that file",
	"  -j, --json         print a JSON array, one object per mount",
	"  -h, --help         print this help",
	NULL,
};

/* One cowfs mount as the data sources see it. */
struct cowfs_mount {
	int mnt_id;
	char *target;
	char *source;
	struct strvec layers;	/* top first */
	char *upper;		/* NULL when read-only */
	char *work;
	bool readonly;
};

struct cowfs_mounts {
	struct cowfs_mount *m;
	size_t n;
	size_t alloc;
};

struct ls_opts {
	const char *mountinfo;	/* NULL: /proc/self/mountinfo */
	bool noheadings;
};

static void cowfs_mounts_free(struct cowfs_mounts *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->m[i].target);
		free(l->m[i].source);
		strvec_free(&l->m[i].layers);
		free(l->m[i].upper);
		free(l->m[i].work);
	}
	free(l->m);
}

static struct cowfs_mount *cowfs_mounts_add(struct cowfs_mounts *l)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->m = xrealloc(l->m, l->alloc, sizeof(*l->m));
	}
	memset(&l->m[l->n], 0, sizeof(l->m[0]));
	return &l->m[l->n++];
}

/*
 * Fill @m from the superblock options of mountinfo: lowerdir=A:B (':' and
 * '\' escaped by '\' inside a layer), or one lowerdir+=A per layer, then
 * upperdir= and workdir=.  Commas, spaces and backslashes are octal escapes
 * there, so a raw ',' always separates two options.
 */
static void parse_super_opts(const char *opts, struct cowfs_mount *m)
{
	const char *p = opts;

	while (*p) {
		size_t n = strcspn(p, ",");
		char *opt = unescape_octal(p, n);
		char *eq = strchr(opt, '=');

		if (eq) {
			const char *key = opt, *val = eq + 1;

			*eq = '\0';
			if (!strcmp(key, "lowerdir")) {
				struct strvec v = STRVEC_INIT;

				split_escaped(val, ':', &v);
				for (size_t i = 0; i < v.n; i++)
					if (v.v[i][0])
						strvec_push(&m->layers, v.v[i]);
				strvec_free(&v);
			} else if (!strcmp(key, "lowerdir+")) {
				strvec_push(&m->layers, val);
			} else if (!strcmp(key, "upperdir")) {
				free(m->upper);
				m->upper = xstrdup(val);
			} else if (!strcmp(key, "workdir")) {
				free(m->work);
				m->work = xstrdup(val);
			}
		} else if (!strcmp(opt, "ro")) {
			m->readonly = true;
		}
		free(opt);
		p += n;
		if (*p == ',')
			p++;
	}
}

/* Data source: every mount of type cowfs in mountinfo. */
static int source_mountinfo(struct cowfs_mounts *l, const struct ls_opts *o)
{
	const char *path = o->mountinfo ? o->mountinfo : MOUNTINFO_PATH;
	const char *fstype = cowctl_fstype();
	struct mnt_table t = MNT_TABLE_INIT;
	int err = mnt_table_read(&t, path);

	if (err < 0) {
		error_msg("cannot read %s: %s", msg_path(path), strerror(-err));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct mnt_entry *e = &t.e[i];
		struct cowfs_mount *m;

		if (strcmp(e->fstype, fstype))
			continue;
		m = cowfs_mounts_add(l);
		m->mnt_id = e->id;
		m->target = xstrdup(e->target);
		m->source = xstrdup(e->source);
		m->readonly = mnt_opts_has(e->mnt_opts, "ro");
		parse_super_opts(e->super_opts, m);
	}
	mnt_table_free(&t);
	return EXIT_OK;
}

/* The sources, run in this order.  Next: netlink counters per mount. */
static int (*const ls_sources[])(struct cowfs_mounts *,
				 const struct ls_opts *) = {
	source_mountinfo,
};

static int width(const char *s, int w)
{
	int len = s ? (int)strlen(s) : 1;

	return len > w ? len : w;
}

static void print_mounts(const struct cowfs_mounts *l, const struct ls_opts *o)
{
	int wt = strlen("TARGET"), wu = strlen("UPPER"), ww = strlen("WORK");
	char ft[32], fu[32], fw[32];

	for (size_t i = 0; i < l->n; i++) {
		wt = width(l->m[i].target, wt);
		wu = width(l->m[i].upper, wu);
		ww = width(l->m[i].work, ww);
	}
	snprintf(ft, sizeof(ft), "%%-%ds  ", wt);
	snprintf(fu, sizeof(fu), "%%-%ds  ", wu);
	snprintf(fw, sizeof(fw), "%%-%ds  ", ww);

	if (!o->noheadings && l->n) {
		print_string(PRINT_FP, NULL, ft, "TARGET");
		print_string(PRINT_FP, NULL, fu, "UPPER");
		print_string(PRINT_FP, NULL, fw, "WORK");
		print_string(PRINT_FP, NULL, "%s\n", "LAYERS");
	}

	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < l->n; i++) {
		const struct cowfs_mount *m = &l->m[i];
		struct strbuf joined = STRBUF_INIT;

		open_json_object(NULL);
		print_string(PRINT_ANY, "target", ft, m->target);
		print_string(PRINT_ANY, "upper", fu, m->upper);
		print_string(PRINT_ANY, "work", fw, m->work);

		for (size_t j = 0; j < m->layers.n; j++) {
			if (j)
				strbuf_add(&joined, ":", 1);
			strbuf_add_escaped(&joined, m->layers.v[j], ':');
		}
		print_string(PRINT_FP, NULL, "%s", strbuf_str(&joined));
		strbuf_free(&joined);
		open_json_array(PRINT_JSON, "layers");
		for (size_t j = 0; j < m->layers.n; j++)
			print_string(PRINT_JSON, NULL, NULL, m->layers.v[j]);
		close_json_array(PRINT_JSON, NULL);

		print_string(PRINT_JSON, "source", NULL, m->source);
		print_int(PRINT_JSON, "mount_id", NULL, m->mnt_id);
		print_bool(PRINT_JSON, "readonly", NULL,
			   m->readonly || !m->upper);
		close_json_object();
		print_nl();
	}
	close_json_array(PRINT_JSON, NULL);
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "noheadings", no_argument, NULL, 'n' },
		{ "file", required_argument, NULL, 'F' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct ls_opts o = { NULL, false };
	struct cowfs_mounts l = { NULL, 0, 0 };
	int c, ret;

	while ((c = cmd_getopt(argc, argv, ":hjnF:", opts)) != -1) {
		switch (c) {
		case 'n':
			o.noheadings = true;
			break;
		case 'F':
			o.mountinfo = optarg;
			break;
		default:
			ret = cmd_common_opt(c, argv);
			if (ret != CMD_CONTINUE)
				return ret;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s': ls takes no arguments",
				   msg_path(argv[optind]));

	ret = EXIT_OK;
	for (size_t i = 0; i < sizeof(ls_sources) / sizeof(ls_sources[0]); i++) {
		ret = ls_sources[i](&l, &o);
		if (ret != EXIT_OK)
			break;
	}
	if (ret == EXIT_OK)
		print_mounts(&l, &o);
	cowfs_mounts_free(&l);
	return ret;
}
