// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl info: is the cowfs module there, and which cowctl is this.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "nl.h"
#include "utils.h"

const char *const info_usage[] = {
	"cowctl info [OPTIONS]",
	"Show whether the cowfs module is loaded, and cowctl's version.",
	"",
	"The module counts as loaded when the kernel lists the cowfs filesystem",
	"in /proc/filesystems, has /sys/module/cowfs, or has the cowfs generic",
	"netlink family; each is shown. Exits 0 either way.",
	"",
	"Options:",
	"  -j, --json   print a JSON object",
	"  -h, --help   print this help",
	NULL,
};

/* Does /proc/filesystems list @fstype?  -errno when it cannot be read. */
static int fs_registered(const char *fstype)
{
	FILE *fp = fopen("/proc/filesystems", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!fp)
		return -errno;
	while (!found && getline(&line, &cap, fp) >= 0) {
		/* "nodev\tcowfs\n" or "\text4\n" */
		char *name = strrchr(line, '\t');

		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		found = !strcmp(name, fstype);
	}
	free(line);
	fclose(fp);
	return found;
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *fstype = cowctl_fstype();
	struct cowctl_nl nl;
	struct utsname uts;
	char sysmod[64];
	struct stat st;
	int c, ret, fs, nlerr;
	bool in_sys;

	while ((c = cmd_getopt(argc, argv, ":hj", opts)) != -1) {
		ret = cmd_common_opt(c, argv);
		if (ret != CMD_CONTINUE)
			return ret;
	}
	ret = cmd_no_args(argc, argv);
	if (ret)
		return ret;

	fs = fs_registered(fstype);
	if (fs < 0)
		error_msg("cannot read /proc/filesystems: %s", strerror(-fs));
	snprintf(sysmod, sizeof(sysmod), "/sys/module/%s", fstype);
	in_sys = stat(sysmod, &st) == 0;
	nlerr = cowctl_nl_open(&nl, COWCTL_NL_QUIET);
	if (uname(&uts) < 0)
		strcpy(uts.release, "unknown");

	open_json_object(NULL);
	print_string(PRINT_ANY, "version", "cowctl version:     %s\n",
		     COWCTL_VERSION);
	print_string(PRINT_ANY, "kernel", "kernel:             %s\n",
		     uts.release);
	print_bool(PRINT_ANY, "module_loaded", "module loaded:      %s\n",
		   fs > 0 || in_sys || !nlerr);
	print_bool(PRINT_ANY, "filesystem_registered",
		   "filesystem:         %s", fs > 0);
	print_string(PRINT_FP, NULL, " (%s in /proc/filesystems)\n",
		     fs > 0 ? "listed" : fs == 0 ? "not listed" : "unreadable");
	print_bool(PRINT_ANY, "sysfs_module", "sysfs:              %s",
		   in_sys);
	print_string(PRINT_FP, NULL, " (%s)\n", sysmod);
	print_bool(PRINT_ANY, "netlink_family", "netlink family:     %s",
		   !nlerr);
	if (!nlerr) {
		print_int(PRINT_ANY, "netlink_family_id", " (id %d)\n",
			  nl.family);
	} else {
		print_null(PRINT_JSON, "netlink_family_id", NULL, NULL);
		print_string(PRINT_FP, NULL, " (%s)\n",
			     nlerr == -ENOENT ? "not registered" :
			     strerror(-nlerr));
	}
	print_storage_info();
	close_json_object();

	cowctl_nl_close(&nl);
	return EXIT_OK;
}
