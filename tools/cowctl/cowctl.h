/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: command table, dispatch and error helpers shared by every
 * command group.
 */
#ifndef COWCTL_H
#define COWCTL_H

#include <stdbool.h>

#ifndef COWCTL_VERSION
#error "COWCTL_VERSION is set in tools/cowctl/Makefile; build with make"
#endif

/* Exit status of every command. */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

/* Returned by cmd_common_opt() when the option loop should go on. */
#define CMD_CONTINUE	(-1)

/*
 * One command.  usage[0] is the synopsis ("cowctl mount [OPTIONS] TARGET"),
 * usage[1] a one-line summary, and usage[2...] (NULL terminated) the
 * description and options shown by --help.  A command group (cowctl
 * volume ...) is a command whose fn calls cmd_dispatch() on its own table.
 */
struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *const *usage;
};

/* Global options (cowctl.c). */
extern bool opt_json;
extern bool opt_pretty;

/*
 * Find the command named by argv[0] in @table (exact name, else the first
 * entry that argv[0] is a prefix of, as ip(8) does) and run it with getopt
 * reset.  @group is the group's name for messages ("volume"), or NULL at the
 * top level.  Returns the command's exit status.
 */
int cmd_dispatch(const struct cmd *table, const char *group, int argc,
		 char **argv);

/* Print a command table as "  name   summary" lines. */
void cmd_print_table(const struct cmd *table);

/* Print the full help of a usage array to stdout. */
void cmd_print_help(const char *const *usage);

/* Help of a command group: its usage, then its table of commands. */
void cmd_group_help(const char *const *usage, const struct cmd *table);

/*
 * Run a command group ("cowctl volume ..."): argv[1] is the subcommand
 * (or -h/--help, or -j/--json before it).  A missing subcommand is a
 * usage error.
 */
int cmd_group(const struct cmd *table, const char *group,
	      const char *const *usage, int argc, char **argv);

/* getopt_long() that remembers @longopts for cmd_common_opt()'s messages. */
struct option;
int cmd_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/*
 * Handle the options every command takes: -h/--help (prints the current
 * command's help and returns EXIT_OK), -j/--json (returns CMD_CONTINUE), and
 * getopt's '?' and ':' (prints what is wrong and returns EXIT_USAGE).
 * Command option strings start with ':' and include "hj".
 */
int cmd_common_opt(int c, char **argv);

/* "--help" and "--json" entries for a command's struct option array. */
#define CMD_COMMON_LONGOPTS					\
	{ "help", no_argument, NULL, 'h' },			\
	{ "json", no_argument, NULL, 'j' }

/*
 * Print "cowctl: <message>" and "Try 'cowctl <cmd> --help' ..." to stderr
 * and return EXIT_USAGE.
 */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * After the options of a command that takes no arguments: EXIT_OK, or
 * the usage error "unexpected argument 'X': <command> takes no arguments".
 */
int cmd_no_args(int argc, char **argv);

/* Print "cowctl: <message>" to stderr. */
void error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current command's full name for messages, e.g. "cowctl mount". */
const char *cmd_path(void);

/*
 * The filesystem type cowctl mounts and looks for: "cowfs", or
 * $COWCTL_FSTYPE so the host tests can exercise the mount path with a
 * filesystem the host has (overlay).
 */
const char *cowctl_fstype(void);

/* Command entry points. */
int cmd_mount(int argc, char **argv);
int cmd_mount_helper(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_volume(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_composefs(int argc, char **argv);
int cmd_complete(int argc, char **argv);
int volume_migrate(int argc, char **argv);	/* volume_migrate.c */

/*
 * config.c: config-get (@set NULL) or config-set @set; *@store is the
 * store the reply names (free it).  Returns 0, or -errno: -ENOENT when
 * the module is not loaded (said unless @nlflags has COWCTL_NL_QUIET),
 * else after a message.
 */
int cowctl_config_request(const char *set, char **store, unsigned int nlflags);

/*
 * mount.c: make a cowfs union of @layers (top first), @upper and @work
 * (either may be NULL) and @options ("KEY" or "KEY=VAL") as a detached
 * mount (fsmount(2)), gone once its fd is closed.  Returns the fd, or -1
 * after a message (with the kernel's own).
 */
struct strvec;
int cowctl_mount_detached(const struct strvec *layers, const char *upper,
			  const char *work, const struct strvec *options);

extern const char *const volume_migrate_usage[];
extern const char *const mount_usage[];
extern const char *const mount_helper_usage[];
extern const char *const umount_usage[];
extern const char *const ls_usage[];
extern const char *const info_usage[];
extern const char *const inspect_usage[];
extern const char *const volume_usage[];
extern const char *const events_usage[];
extern const char *const config_usage[];
extern const char *const composefs_usage[];
extern const char *const complete_usage[];

#endif /* COWCTL_H */
