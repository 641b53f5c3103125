// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: manage cowfs union filesystems.
 *
 * main(), global options, the command table and its dispatch, help.
 * Each command group lives in its own file (mount.c, ls.c, info.c, ...).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowctl.h"
#include "driver.h"
#include "json_print.h"
#include "utils.h"

bool opt_json;
bool opt_pretty;

/* Full name of the command being run, for messages: "cowctl volume create". */
static char cur_path[128] = "cowctl";
static const char *const *cur_usage;

static int cmd_help(int argc, char **argv);

static const char *const cowctl_usage[] = {
	"cowctl [OPTIONS] COMMAND [ARGS...]",
	"Manage cowfs copy-on-write union filesystems.",
	NULL,
};

static const char *const help_usage[] = {
	"cowctl help [COMMAND...]",
	"Show the help of cowctl or of one of its commands.",
	"",
	"'cowctl help COMMAND' is the same as 'cowctl COMMAND --help'.",
	NULL,
};

/*
 * Commands may be abbreviated: the first entry that the word is a prefix of
 * wins, so the order below is the order of precedence ("cowctl m" is
 * mount, "cowctl u" umount, "cowctl i" info, "cowctl c" container).
 */
static const struct cmd cowctl_cmds[] = {
	{ "mount",	cmd_mount,	mount_usage },
	{ "umount",	cmd_umount,	umount_usage },
	{ "mount-helper", cmd_mount_helper, mount_helper_usage },
	{ "ls",		cmd_ls,		ls_usage },
	{ "info",	cmd_info,	info_usage },
	{ "inspect",	cmd_inspect,	inspect_usage },
	{ "volume",	cmd_volume,	volume_usage },
	{ "events",	cmd_events,	events_usage },
	{ "help",	cmd_help,	help_usage },
	{ "image",	cmd_image,	image_usage },
	{ "container",	cmd_container,	container_usage },
	{ "driver",	cmd_driver,	driver_usage },
	{ "config",	cmd_config,	config_usage },
	{ "composefs",	cmd_composefs,	composefs_usage },
	{ "complete",	cmd_complete,	complete_usage },
	{ NULL, NULL, NULL },
};

const char *cmd_path(void)
{
	return cur_path;
}

const char *cowctl_fstype(void)
{
	const char *t = getenv("COWCTL_FSTYPE");

	return t && *t ? t : "cowfs";
}

void error_msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("cowctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("cowctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", cur_path);
	return EXIT_USAGE;
}

int cmd_no_args(int argc, char **argv)
{
	const char *name = strchr(cur_path, ' ');

	if (optind >= argc)
		return EXIT_OK;
	/* "cowctl volume ls" -> "volume ls takes no arguments" */
	return usage_error("unexpected argument '%s': %s takes no arguments",
			   msg_path(argv[optind]), name ? name + 1 : cur_path);
}

/* An alias ("list" for "ls") shares its usage with an earlier entry. */
static bool is_alias(const struct cmd *table, const struct cmd *c)
{
	for (const struct cmd *p = table; p < c; p++)
		if (p->usage == c->usage)
			return true;
	return false;
}

void cmd_print_table(const struct cmd *table)
{
	int w = 0;

	for (const struct cmd *c = table; c->name; c++)
		if ((int)strlen(c->name) > w && !is_alias(table, c))
			w = strlen(c->name);
	for (const struct cmd *c = table; c->name; c++)
		if (!is_alias(table, c))
			printf("  %-*s  %s\n", w, c->name, c->usage[1]);
}

void cmd_print_help(const char *const *usage)
{
	printf("Usage: %s\n\n%s\n", usage[0], usage[1]);
	for (const char *const *l = usage + 2; *l; l++)
		printf("%s\n", *l);
}

static const struct cmd *cmd_lookup(const struct cmd *table, const char *name)
{
	size_t len = strlen(name);

	if (!len)
		return NULL;
	for (const struct cmd *c = table; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	for (const struct cmd *c = table; c->name; c++)
		if (!strncmp(c->name, name, len))
			return c;
	return NULL;
}

int cmd_dispatch(const struct cmd *table, const char *group, int argc,
		 char **argv)
{
	const struct cmd *c = cmd_lookup(table, argv[0]);
	const char *const *saved_usage = cur_usage;
	size_t saved_len = strlen(cur_path);
	int ret;

	if (!c) {
		fflush(stdout);
		fprintf(stderr, "cowctl: unknown %s%scommand '%s'\n",
			group ? group : "", group ? " " : "", argv[0]);
		fprintf(stderr, "Try '%s --help' for a list of commands.\n",
			cur_path);
		return EXIT_USAGE;
	}
	snprintf(cur_path + saved_len, sizeof(cur_path) - saved_len, " %s",
		 c->name);
	cur_usage = c->usage;
	optind = 0;	/* glibc: start a new getopt scan */
	ret = c->fn(argc, argv);
	cur_path[saved_len] = '\0';
	cur_usage = saved_usage;
	return ret;
}

void cmd_group_help(const char *const *usage, const struct cmd *table)
{
	cmd_print_help(usage);
	printf("\nCommands:\n");
	cmd_print_table(table);
	printf("\n'%s COMMAND --help' describes a command.\n", cmd_path());
}

int cmd_group(const struct cmd *table, const char *group,
	      const char *const *usage, int argc, char **argv)
{
	if (argc < 2)
		return usage_error("missing %s command", group);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cmd_group_help(usage, table);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json")) {
		opt_json = true;
		json_init(opt_json, opt_pretty);
		argc--;
		argv++;
		if (argc < 2)
			return usage_error("missing %s command", group);
	}
	if (argv[1][0] == '-')
		return usage_error("unknown option '%s'", argv[1]);
	return cmd_dispatch(table, group, argc - 1, argv + 1);
}

static const struct option *cur_longopts;

int cmd_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	cur_longopts = longopts;
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

/* Is @arg ("--name" or "--name=value") the long option whose val is @val? */
static bool is_long_opt(const char *arg, int val)
{
	size_t len;

	if (strncmp(arg, "--", 2) || !cur_longopts)
		return false;
	arg += 2;
	len = strcspn(arg, "=");
	for (const struct option *o = cur_longopts; o->name; o++)
		if (o->val == val && !strncmp(o->name, arg, len))
			return true;
	return false;
}

int cmd_common_opt(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	switch (c) {
	case 'h':
		cmd_print_help(cur_usage);
		return EXIT_OK;
	case 'j':
		opt_json = true;
		json_init(opt_json, opt_pretty);
		return CMD_CONTINUE;
	case ':':
		if (!strncmp(arg, "--", 2))
			return usage_error("option '%.*s' needs an argument",
					   (int)strcspn(arg, "="), arg);
		return usage_error("option '-%c' needs an argument", optopt);
	default:
		if (optopt && is_long_opt(arg, optopt))
			return usage_error("option '%.*s' does not take an argument",
					   (int)strcspn(arg, "="), arg);
		if (optopt)
			return usage_error("unknown option '-%c'", optopt);
		return usage_error("unknown option '%.*s'",
				   (int)strcspn(arg, "="), arg);
	}
}

static void print_main_help(void)
{
	cmd_print_help(cowctl_usage);
	printf("\nCommands:\n");
	cmd_print_table(cowctl_cmds);
	printf("\n"
	       "Options:\n"
	       "  -j, --json      print the output as JSON\n"
	       "  -p, --pretty    indent the JSON output\n"
	       "  -V, --version   print cowctl's version and exit\n"
	       "  -h, --help      print this help and exit\n"
	       "\n"
	       "A command may be shortened to a prefix of its name ('cowctl m' is\n"
	       "'cowctl mount'). 'cowctl help COMMAND' or 'cowctl COMMAND --help'\n"
	       "describes a command and its options.\n"
	       "\n"
	       "Exit status: 0 on success, 1 on failure, 2 on bad usage.\n");
}

static int cmd_help(int argc, char **argv)
{
	char **args;
	int ret;

	if (argc < 2) {
		print_main_help();
		return EXIT_OK;
	}
	if (argv[1][0] == '-') {
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			cmd_print_help(help_usage);
			return EXIT_OK;
		}
		return usage_error("unknown option '%s'", argv[1]);
	}
	/* "help CMD [SUB...]" runs "CMD [SUB...] --help" from the top. */
	args = calloc(argc + 1, sizeof(*args));
	if (!args) {
		error_msg("out of memory");
		return EXIT_FAIL;
	}
	for (int i = 1; i < argc; i++)
		args[i - 1] = argv[i];
	args[argc - 1] = "--help";
	strcpy(cur_path, "cowctl");
	ret = cmd_dispatch(cowctl_cmds, NULL, argc, args);
	free(args);
	return ret;
}

static int print_version(void)
{
	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "%s ", "cowctl");
	print_string(PRINT_ANY, "version", "%s\n", COWCTL_VERSION);
	close_json_object();
	return EXIT_OK;
}

/* Report a failed write to stdout (a full disk, a closed pipe). */
static int close_stdout(int ret)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (ret == EXIT_OK)
			fprintf(stderr, "cowctl: cannot write the output: %s\n",
				strerror(errno ? errno : EIO));
		return EXIT_FAIL;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = strrchr(argv[0], '/');
	bool version = false, help = false;
	int c, ret;

	opterr = 0;
	cur_usage = cowctl_usage;
	/* Run as a container engine's mount_program: cowctl mount-helper */
	if (!strcmp(prog ? prog + 1 : argv[0], "cowfs-mount-program")) {
		json_init(false, false);
		argv[0] = "mount-helper";
		return close_stdout(cmd_dispatch(cowctl_cmds, NULL, argc, argv));
	}
	while ((c = cmd_getopt(argc, argv, "+:jpVh", opts)) != -1) {
		switch (c) {
		case 'j':
			opt_json = true;
			break;
		case 'p':
			opt_pretty = true;
			break;
		case 'V':
			version = true;
			break;
		case 'h':
			help = true;
			break;
		default:
			return cmd_common_opt(c, argv);
		}
	}
	json_init(opt_json, opt_pretty);

	if (help) {
		print_main_help();
		return close_stdout(EXIT_OK);
	}
	if (version)
		return close_stdout(print_version());

	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fprintf(stderr,
			"cowctl: no command given\n"
			"Try 'cowctl --help' for a list of commands.\n");
		return EXIT_USAGE;
	}
	ret = cmd_dispatch(cowctl_cmds, NULL, argc, argv);
	return close_stdout(ret);
}
