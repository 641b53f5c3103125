// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl inspect: the details of live cowfs unions, from the module's
 * mount-get and /proc/self/mountinfo (joined on the device number).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowctl.h"
#include "json_print.h"
#include "objects.h"
#include "utils.h"

const char *const inspect_usage[] = {
	"cowctl inspect MOUNT...",
	"Show the details of live cowfs unions.",
	"",
	"MOUNT is where a union is mounted, or its id as 'cowctl ls' shows it.",
	"Shows its id, mount point, device, upper and work directories, the",
	"mount options as the kernel shows them (metacopy=on, redirect_dir=, ...),",
	"volumes, counters (lookups, files copied up and their bytes, whiteouts",
	"made) and lower layers, top first, then the data-only layers (reached",
	"only by metacopy files' redirects). With --json, an array with one",
	"object per MOUNT.",
	"",
	"Options:",
	"  -j, --json   print a JSON array",
	"  -h, --help   print this help",
	NULL,
};

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * The union that @arg names, or NULL after a message; *@target is where
 * it is mounted here (NULL if nowhere).
 */
static const struct nl_mount *resolve(const char *arg,
				      const struct nl_mounts *nm,
				      const struct mnt_table *mi,
				      const char **target)
{
	const struct mnt_entry *e;
	const struct nl_mount *m;
	char *path;

	*target = NULL;
	if (all_digits(arg)) {
		errno = 0;
		m = nl_mounts_find_id(nm, strtoull(arg, NULL, 10));
		if (!m || errno) {
			error_msg("there is no cowfs mount with id %s",
				  msg_path(arg));
			return NULL;
		}
		e = mount_target(mi, m);
		*target = e ? e->target : NULL;
		return m;
	}
	path = realpath(arg, NULL);
	if (!path) {
		error_msg("cannot inspect '%s': %s", msg_path(arg),
			  strerror(errno));
		return NULL;
	}
	e = mnt_table_find_target(mi, path);
	if (!e) {
		error_msg("'%s' is not a mount point (give a union's mount point or its id)",
			  msg_path(path));
		free(path);
		return NULL;
	}
	if (strcmp(e->fstype, cowctl_fstype())) {
		error_msg("'%s' is not a cowfs mount (its filesystem is %s)",
			  msg_path(path), e->fstype);
		free(path);
		return NULL;
	}
	free(path);
	m = nl_mounts_find_dev(nm, e->major, e->minor);
	if (!m) {
		error_msg("the cowfs module does not report the union at '%s' (device %u:%u)",
			  msg_path(e->target), e->major, e->minor);
		return NULL;
	}
	*target = e->target;
	return m;
}

static void print_mount(const struct nl_mount *m, const char *target)
{
	size_t nreg = m->lower.n - (m->ndata < m->lower.n ? m->ndata : m->lower.n);
	char dev[32];

	snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
	open_json_object(NULL);
	print_u64(PRINT_ANY, "id", "ID:             %" PRIu64 "\n", m->id);
	print_string(PRINT_ANY, "target", "Target:         %s\n", target);
	print_string(PRINT_ANY, "dev", "Device:         %s\n", dev);
	print_string(PRINT_ANY, "upper", "Upper:          %s\n", m->upper);
	print_string(PRINT_ANY, "work", "Work:           %s\n", m->work);
	print_bool(PRINT_ANY, "readonly", "Read-only:      %s\n", !m->upper);
	print_string(PRINT_ANY, "options", "Options:        %s\n",
		     m->options ? m->options : "-");

	print_string(PRINT_FP, NULL, "%s", "Volumes:        ");
	if (!m->nvols)
		print_string(PRINT_FP, NULL, "%s\n", "-");
	open_json_array(PRINT_JSON, "volumes");
	for (size_t i = 0; i < m->nvols; i++) {
		if (i)
			print_string(PRINT_FP, NULL, "%-16s", "");
		open_json_object(NULL);
		print_string(PRINT_ANY, "name", "%s", m->vols[i].name);
		print_string(PRINT_ANY, "path", " at %s\n", m->vols[i].target);
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);

	print_u64(PRINT_ANY, "lookups", "Lookups:        %" PRIu64 "\n",
		  m->lookups);
	print_u64(PRINT_ANY, "copy_ups", "Copy-ups:       %" PRIu64 "\n",
		  m->copy_ups);
	print_u64(PRINT_ANY, "copy_up_bytes",
		  "Copied up:      %" PRIu64 " bytes\n", m->copy_up_bytes);
	print_u64(PRINT_ANY, "whiteouts", "Whiteouts:      %" PRIu64 "\n",
		  m->whiteouts);

	print_u64(PRINT_FP, NULL, "Layers:         %" PRIu64 " (top first)\n",
		  nreg);
	open_json_array(PRINT_JSON, "layers");
	for (size_t i = 0; i < nreg; i++) {
		print_u64(PRINT_FP, NULL, "  %3" PRIu64 "  ", i + 1);
		print_string(PRINT_ANY, NULL, "%s\n", m->lower.v[i]);
	}
	close_json_array(PRINT_JSON, NULL);
	/* Reached only by metacopy files' redirects */
	if (nreg < m->lower.n)
		print_u64(PRINT_FP, NULL, "Data layers:    %" PRIu64 "\n",
			  m->lower.n - nreg);
	open_json_array(PRINT_JSON, "data_layers");
	for (size_t i = nreg; i < m->lower.n; i++) {
		print_u64(PRINT_FP, NULL, "  %3" PRIu64 "  ", i + 1);
		print_string(PRINT_ANY, NULL, "%s\n", m->lower.v[i]);
	}
	close_json_array(PRINT_JSON, NULL);
	close_json_object();
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct mnt_table mi = MNT_TABLE_INIT;
	struct nl_mounts nm = { NULL, 0 };
	struct cowctl_nl nl;
	size_t shown = 0;
	int c, ret;

	while ((c = cmd_getopt(argc, argv, ":hj", opts)) != -1) {
		ret = cmd_common_opt(c, argv);
		if (ret != CMD_CONTINUE)
			return ret;
	}
	if (optind >= argc)
		return usage_error("missing MOUNT, a union's mount point or id");
	for (int i = optind; i < argc; i++) {
		if (!argv[i][0])
			return usage_error("MOUNT is empty");
		if (strlen(argv[i]) >= PATH_MAX)
			return usage_error("MOUNT '%s' is too long (%zu bytes; the limit is %d)",
					   msg_path(argv[i]), strlen(argv[i]),
					   PATH_MAX - 1);
	}

	if (cowctl_nl_open_or_fail(&nl))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	if (nl_mounts_dump(&nl, &nm))
		goto out;
	c = mnt_table_read(&mi, NULL);
	if (c < 0) {
		error_msg("cannot read %s: %s", MOUNTINFO_PATH, strerror(-c));
		goto out;
	}

	ret = EXIT_OK;
	open_json_array(PRINT_JSON, NULL);
	for (int i = optind; i < argc; i++) {
		const char *target;
		const struct nl_mount *m = resolve(argv[i], &nm, &mi, &target);

		if (!m) {
			ret = EXIT_FAIL;
			continue;
		}
		if (shown++)
			print_nl();
		print_mount(m, target);
	}
	close_json_array(PRINT_JSON, NULL);
out:
	mnt_table_free(&mi);
	nl_mounts_free(&nm);
	cowctl_nl_close(&nl);
	return ret;
}
