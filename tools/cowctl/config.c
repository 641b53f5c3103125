// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl config get|set: the cowfs module's settings (config-get,
 * config-set), today the volume store root.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/cowfs.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "cowctl.h"
#include "json_print.h"
#include "nl.h"
#include "utils.h"

static int config_get(int argc, char **argv);
static int config_set(int argc, char **argv);

const char *const config_usage[] = {
	"cowctl config COMMAND [ARGS...]",
	"Show or change the cowfs module's settings.",
	"",
	"store: the volume store root, where local volumes keep their data",
	"(STORE/NAME/_data). It must be an existing directory. It starts as",
	"/var/lib/cowfs/volumes, or the module's store= parameter.",
	NULL,
};

static const char *const get_usage[] = {
	"cowctl config get",
	"Show the module's settings.",
	"",
	"Options:",
	"  -j, --json   print a JSON object",
	"  -h, --help   print this help",
	NULL,
};

static const char *const set_usage[] = {
	"cowctl config set --store DIR",
	"Change the module's settings.",
	"",
	"--store moves the volume store to DIR, an existing directory: the",
	"volumes of the old store are forgotten (their data stays there) and",
	"those in DIR are loaded. Refused while a volume is attached to a mount.",
	"",
	"Options:",
	"  -s, --store DIR   the new volume store root (absolute)",
	"  -j, --json        print the new settings as a JSON object",
	"  -h, --help        print this help",
	NULL,
};

static const struct cmd config_cmds[] = {
	{ "get",	config_get,	get_usage },
	{ "show",	config_get,	get_usage },
	{ "set",	config_set,	set_usage },
	{ NULL, NULL, NULL },
};

int cmd_config(int argc, char **argv)
{
	return cmd_group(config_cmds, "config", config_usage, argc, argv);
}

static int config_cb(struct nl_msg *msg, void *arg)
{
	char **store = arg;
	struct nlattr *attrs, *a;
	int len, rem;

	attrs = cowctl_genl_attrs(msg, &len);
	nla_for_each_attr(a, attrs, len, rem) {
		if (nla_type(a) == COWFS_A_CONFIG_STORE && !*store)
			*store = xstrndup(nla_data(a), nla_len(a));
	}
	return NL_OK;
}

int cowctl_config_request(const char *set, char **store, unsigned int nlflags)
{
	struct cowctl_nl nl;
	struct nl_msg *msg;
	int err;

	*store = NULL;
	err = cowctl_nl_open(&nl, nlflags);
	if (err)
		return err;
	msg = cowctl_nl_msg(&nl, set ? COWFS_CMD_CONFIG_SET :
			    COWFS_CMD_CONFIG_GET, 0, COWFS_FAMILY_VERSION);
	err = -ENOMEM;
	if (msg && set && nla_put_string(msg, COWFS_A_CONFIG_STORE, set))
		nlmsg_free(msg);
	else if (msg)
		err = cowctl_nl_request(&nl, msg, config_cb, store);
	if (err && set)
		cowctl_nl_error(&nl, err, "cannot move the volume store to %s",
				msg_path(set));
	else if (err)
		cowctl_nl_error(&nl, err, "cannot read the configuration");
	cowctl_nl_close(&nl);
	return err;
}

/* Send config-get, or config-set with @store; print the reply. */
static int config_request(const char *store)
{
	char *got;

	if (cowctl_config_request(store, &got, 0))
		return EXIT_FAIL;
	open_json_object(NULL);
	print_string(PRINT_ANY, "store", "store: %s\n", got);
	close_json_object();
	free(got);
	return EXIT_OK;
}

static int config_get(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	while ((c = cmd_getopt(argc, argv, ":hj", opts)) != -1) {
		ret = cmd_common_opt(c, argv);
		if (ret != CMD_CONTINUE)
			return ret;
	}
	ret = cmd_no_args(argc, argv);
	if (ret)
		return ret;
	return config_request(NULL);
}

static int config_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL;
	int c, ret;

	while ((c = cmd_getopt(argc, argv, ":hjs:", opts)) != -1) {
		switch (c) {
		case 's':
			store = optarg;
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
	if (!store)
		return usage_error("nothing to set: give --store DIR");
	if (!check_abs_path("store", store))
		return EXIT_USAGE;
	return config_request(store);
}
