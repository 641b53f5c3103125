// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl ls: list the live cowfs mounts.
 *
 * The list is built by data sources run in order, each adding mounts or
 * filling in fields of the ones already found; then it is printed once,
 * as a table or as JSON.  The sources: /proc/self/mountinfo (where each
 * union is mounted, and its layers from the mount options), then the
 * module's mount-get dump (its id, layers, volumes and counters), joined
 * on the device number.  A union that the module reports but that is not
 * mounted in this mount namespace is listed without a target.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowctl.h"
#include "json_print.h"
#include "mountinfo.h"
#include "objects.h"
#include "utils.h"

const char *const ls_usage[] = {
	"cowctl ls [-n] [-F FILE]",
	"List the live cowfs unions.",
	"",
	"Shows each cowfs mount: its id (as volume inspect and the kernel's",
	"messages give it), where it is mounted, its upper directory, the files",
	"copied up so far, its volumes (NAME:/path) and its lower layers, top",
	"first. In the table the layers are joined with ':' (a ':' or '\\'",
	"inside a path is written '\\:' or '\\\\', as --lowerdir takes them),",
	"and '::' comes before data-only layers, as in lowerdir=. JSON gives",
	"them as arrays (layers, data_layers), with the work directory, the",
	"device, the mountinfo id and the counters (lookups, copy_ups,",
	"copy_up_bytes, whiteouts) too.",
	"",
	"Options:",
	"  -n, --noheadings   do not print the table's header line",
	"  -F, --file FILE    read the mounts from FILE, in the format of",
	"                     /proc/self/mountinfo, instead of that file, and",
	"                     do not ask the module (no ids, volumes or counters)",
	"  -j, --json         print a JSON array, one object per mount",
	"  -h, --help         print this help",
	NULL,
};

/* One cowfs mount as the data sources see it. */
struct cowfs_mount {
	int mnt_id;		/* mountinfo's, -1: not in this namespace */
	unsigned int major, minor;
	char *target;		/* NULL: not in this namespace */
	char *source;
	struct strvec layers;	/* top first */
	size_t ndata;		/* the last ndata of layers are data-only */
	char *upper;		/* NULL when read-only */
	char *work;
	bool readonly;
	/* From the module: */
	bool has_nl;
	uint64_t id;
	struct strvec volumes;	/* NAME and /path, in pairs */
	uint64_t lookups, copy_ups, copy_up_bytes, whiteouts;
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
		strvec_free(&l->m[i].volumes);
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
				bool data = false;

				/* "::" starts the data-only layers */
				split_escaped(val, ':', &v);
				for (size_t i = 0; i < v.n; i++) {
					if (!v.v[i][0]) {
						data = i > 0;
						continue;
					}
					strvec_push(&m->layers, v.v[i]);
					m->ndata += data;
				}
				strvec_free(&v);
			} else if (!strcmp(key, "lowerdir+")) {
				strvec_push(&m->layers, val);
			} else if (!strcmp(key, "datadir+")) {
				strvec_push(&m->layers, val);
				m->ndata++;
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
		m->major = e->major;
		m->minor = e->minor;
		m->target = xstrdup(e->target);
		m->source = xstrdup(e->source);
		m->readonly = mnt_opts_has(e->mnt_opts, "ro");
		parse_super_opts(e->super_opts, m);
	}
	mnt_table_free(&t);
	return EXIT_OK;
}

static void fill_from_nl(struct cowfs_mount *m, const struct nl_mount *n)
{
	m->has_nl = true;
	m->id = n->id;
	m->major = n->major;
	m->minor = n->minor;
	strvec_free(&m->layers);
	for (size_t i = 0; i < n->lower.n; i++)
		strvec_push(&m->layers, n->lower.v[i]);
	m->ndata = n->ndata;
	free(m->upper);
	m->upper = n->upper ? xstrdup(n->upper) : NULL;
	free(m->work);
	m->work = n->work ? xstrdup(n->work) : NULL;
	for (size_t i = 0; i < n->nvols; i++) {
		strvec_push(&m->volumes, n->vols[i].name);
		strvec_push(&m->volumes, n->vols[i].target);
	}
	m->lookups = n->lookups;
	m->copy_ups = n->copy_ups;
	m->copy_up_bytes = n->copy_up_bytes;
	m->whiteouts = n->whiteouts;
}

/*
 * Data source: the module's mount-get dump, joined with the mounts found
 * so far on the device number.  Skipped for -F (a file is not this
 * machine's state), for another filesystem type (the host tests), and
 * when the module is not loaded (then there is no cowfs mount either).
 */
static int source_netlink(struct cowfs_mounts *l, const struct ls_opts *o)
{
	struct nl_mounts nm;
	struct cowctl_nl nl;
	size_t nfound = l->n;
	int err;

	if (o->mountinfo || strcmp(cowctl_fstype(), "cowfs"))
		return EXIT_OK;
	err = cowctl_nl_open(&nl, COWCTL_NL_QUIET);
	if (err == -ENOENT)
		return EXIT_OK;
	if (err)
		return EXIT_FAIL;
	err = nl_mounts_dump(&nl, &nm);
	if (!err && !nm.n && nl.extack[0])
		error_msg("ls: listing other users' unions, and the ids, volumes and counters of any, needs CAP_SYS_ADMIN");
	cowctl_nl_close(&nl);
	if (err) {
		error_msg("showing the mounts without their ids, volumes and counters");
		return EXIT_FAIL;
	}

	for (size_t i = 0; i < nm.n; i++) {
		const struct nl_mount *n = &nm.m[i];
		bool seen = false;

		for (size_t j = 0; j < nfound; j++) {
			struct cowfs_mount *m = &l->m[j];

			if (m->major == n->major && m->minor == n->minor) {
				fill_from_nl(m, n);
				seen = true;
			}
		}
		if (!seen) {
			struct cowfs_mount *m = cowfs_mounts_add(l);

			m->mnt_id = -1;
			fill_from_nl(m, n);
			m->readonly = !m->upper;
		}
	}
	nl_mounts_free(&nm);
	return EXIT_OK;
}

/* The sources, run in this order. */
static int (*const ls_sources[])(struct cowfs_mounts *,
				 const struct ls_opts *) = {
	source_mountinfo,
	source_netlink,
};

/* Bytes that print_string() prints for @s: control characters as \ooo. */
static int width(const char *s, int w)
{
	int len = s ? 0 : 1;

	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
		len += *p < 0x20 || *p == 0x7f ? 4 : 1;
	return len > w ? len : w;
}

static char *volumes_text(const struct cowfs_mount *m)
{
	struct strbuf sb = STRBUF_INIT;

	if (!m->volumes.n)
		return NULL;
	for (size_t i = 0; i + 1 < m->volumes.n; i += 2) {
		if (i)
			strbuf_add(&sb, ",", 1);
		strbuf_addstr(&sb, m->volumes.v[i]);
		strbuf_add(&sb, ":", 1);
		strbuf_addstr(&sb, m->volumes.v[i + 1]);
	}
	return sb.s;
}

/* printf formats "%-Ns  " for a column of width @w, string and u64. */
static void col_fmt(char *s, char *u, size_t size, int w)
{
	snprintf(s, size, "%%-%ds  ", w);
	snprintf(u, size, "%%-%d" PRIu64 "  ", w);
}

static int width_u64(bool known, uint64_t v, int w)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	return width(known ? num : NULL, w);
}

static void print_mounts(const struct cowfs_mounts *l, const struct ls_opts *o)
{
	int wi = strlen("ID"), wt = strlen("TARGET"), wu = strlen("UPPER");
	int wc = strlen("COPY-UPS"), wv = strlen("VOLUMES");
	char fi[32], fiu[32], ft[32], fu[32], fc[32], fcu[32], fv[32], tmp[32];
	char **vols = xcalloc(l->n ? l->n : 1, sizeof(*vols));

	for (size_t i = 0; i < l->n; i++) {
		const struct cowfs_mount *m = &l->m[i];

		vols[i] = volumes_text(m);
		wi = width_u64(m->has_nl, m->id, wi);
		wc = width_u64(m->has_nl, m->copy_ups, wc);
		wt = width(m->target, wt);
		wu = width(m->upper, wu);
		wv = width(vols[i], wv);
	}
	col_fmt(fi, fiu, sizeof(fi), wi);
	col_fmt(ft, tmp, sizeof(ft), wt);
	col_fmt(fu, tmp, sizeof(fu), wu);
	col_fmt(fc, fcu, sizeof(fc), wc);
	col_fmt(fv, tmp, sizeof(fv), wv);

	if (!o->noheadings && l->n) {
		print_string(PRINT_FP, NULL, fi, "ID");
		print_string(PRINT_FP, NULL, ft, "TARGET");
		print_string(PRINT_FP, NULL, fu, "UPPER");
		print_string(PRINT_FP, NULL, fc, "COPY-UPS");
		print_string(PRINT_FP, NULL, fv, "VOLUMES");
		print_string(PRINT_FP, NULL, "%s\n", "LAYERS");
	}

	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < l->n; i++) {
		const struct cowfs_mount *m = &l->m[i];
		size_t nreg = m->layers.n -
			      (m->ndata < m->layers.n ? m->ndata : m->layers.n);
		struct strbuf joined = STRBUF_INIT;
		char dev[32];

		open_json_object(NULL);
		/* Unknown numbers: null in JSON, "-" in the table. */
		if (m->has_nl) {
			print_u64(PRINT_ANY, "id", fiu, m->id);
		} else {
			print_null(PRINT_JSON, "id", NULL, NULL);
			print_string(PRINT_FP, NULL, fi, NULL);
		}
		print_string(PRINT_ANY, "target", ft, m->target);
		print_string(PRINT_ANY, "upper", fu, m->upper);
		if (m->has_nl) {
			print_u64(PRINT_ANY, "copy_ups", fcu, m->copy_ups);
		} else {
			print_null(PRINT_JSON, "copy_ups", NULL, NULL);
			print_string(PRINT_FP, NULL, fc, NULL);
		}
		print_string(PRINT_FP, NULL, fv, vols[i]);

		/* As lowerdir= has them: "::" before the data-only layers */
		for (size_t j = 0; j < m->layers.n; j++) {
			if (j)
				strbuf_add(&joined, "::", j == nreg ? 2 : 1);
			strbuf_add_escaped(&joined, m->layers.v[j], ':');
		}
		print_string(PRINT_FP, NULL, "%s", strbuf_str(&joined));
		strbuf_free(&joined);
		open_json_array(PRINT_JSON, "layers");
		for (size_t j = 0; j < nreg; j++)
			print_string(PRINT_JSON, NULL, NULL, m->layers.v[j]);
		close_json_array(PRINT_JSON, NULL);
		open_json_array(PRINT_JSON, "data_layers");
		for (size_t j = nreg; j < m->layers.n; j++)
			print_string(PRINT_JSON, NULL, NULL, m->layers.v[j]);
		close_json_array(PRINT_JSON, NULL);

		print_string(PRINT_JSON, "work", NULL, m->work);
		open_json_array(PRINT_JSON, "volumes");
		for (size_t j = 0; j + 1 < m->volumes.n; j += 2) {
			open_json_object(NULL);
			print_string(PRINT_JSON, "name", NULL, m->volumes.v[j]);
			print_string(PRINT_JSON, "path", NULL,
				     m->volumes.v[j + 1]);
			close_json_object();
		}
		close_json_array(PRINT_JSON, NULL);
		snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
		print_string(PRINT_JSON, "dev", NULL, dev);
		print_string(PRINT_JSON, "source", NULL, m->source);
		if (m->mnt_id >= 0)
			print_int(PRINT_JSON, "mnt_id", NULL, m->mnt_id);
		else
			print_null(PRINT_JSON, "mnt_id", NULL, NULL);
		print_bool(PRINT_JSON, "readonly", NULL,
			   m->readonly || !m->upper);
		if (m->has_nl) {
			print_u64(PRINT_JSON, "lookups", NULL, m->lookups);
			print_u64(PRINT_JSON, "copy_up_bytes", NULL,
				  m->copy_up_bytes);
			print_u64(PRINT_JSON, "whiteouts", NULL, m->whiteouts);
		} else {
			print_null(PRINT_JSON, "lookups", NULL, NULL);
			print_null(PRINT_JSON, "copy_up_bytes", NULL, NULL);
			print_null(PRINT_JSON, "whiteouts", NULL, NULL);
		}
		close_json_object();
		print_nl();
		free(vols[i]);
	}
	close_json_array(PRINT_JSON, NULL);
	free(vols);
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
	ret = cmd_no_args(argc, argv);
	if (ret)
		return ret;

	/*
	 * Without mountinfo there is nothing to show; without the module's
	 * answer the mounts are shown from mountinfo alone (after its error
	 * message), and the exit status says it is incomplete.
	 */
	ret = EXIT_OK;
	for (size_t i = 0; i < sizeof(ls_sources) / sizeof(ls_sources[0]); i++) {
		if (ls_sources[i](&l, &o) == EXIT_OK)
			continue;
		ret = EXIT_FAIL;
		if (i == 0)
			break;
	}
	if (ret == EXIT_OK || l.n)
		print_mounts(&l, &o);
	cowfs_mounts_free(&l);
	return ret;
}
