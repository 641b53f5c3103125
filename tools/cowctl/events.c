// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl events: follow the cowfs family's "events" multicast group and
 * print one line per event, text or JSON (one object per line).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/cowfs.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "cowctl.h"
#include "json_print.h"
#include "objects.h"
#include "utils.h"

const char *const events_usage[] = {
	"cowctl events [-c|--count N]",
	"Print the cowfs module's events as they happen.",
	"",
	"One line per event: the time (UTC), the event and what it is about.",
	"  volume-add NAME type=TYPE [mountpoint=DIR]    a volume was created",
	"  volume-del NAME type=TYPE [mountpoint=DIR]    a volume was removed",
	"  mount-add ID dev=MAJ:MIN layers=N [upper=DIR] [volumes=NAME:/path,...]",
	"            copy-ups=N                          a union was mounted",
	"  mount-del ID ... (the same fields)            a union is unmounted",
	"With --json, one JSON object per line with the keys time, event and",
	"the object's fields. Runs until interrupted (SIGINT or SIGTERM, which",
	"end it with status 0), or until N events were printed.",
	"",
	"Options:",
	"  -c, --count N   exit after N events",
	"  -j, --json      one JSON object per line",
	"  -h, --help      print this help",
	NULL,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct events_state {
	unsigned long printed;
	unsigned long limit;	/* 0: none */
	int err;
};

static void print_time(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[40], full[96];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(full, sizeof(full), "%s.%06dZ", buf,
		 (int)(ts.tv_nsec / 1000 % 1000000));
	print_string(PRINT_ANY, "time", "%s ", full);
}

static void print_volume_event(const char *event, const struct nl_volume *v)
{
	print_string(PRINT_ANY, "event", "%s ", event);
	print_string(PRINT_ANY, "name", "%s", v->name);
	print_string(PRINT_ANY, "type", " type=%s",
		     volume_type_name(v->type));
	if (v->path)
		print_string(PRINT_ANY, "mountpoint", " mountpoint=%s",
			     v->path);
	else
		print_null(PRINT_JSON, "mountpoint", NULL, NULL);
}

static void print_mount_event(const char *event, const struct nl_mount *m)
{
	char dev[32];

	snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
	print_string(PRINT_ANY, "event", "%s ", event);
	print_u64(PRINT_ANY, "id", "%" PRIu64, m->id);
	print_string(PRINT_ANY, "dev", " dev=%s", dev);
	print_u64(PRINT_FP, NULL, " layers=%" PRIu64, m->lower.n);
	open_json_array(PRINT_JSON, "layers");
	for (size_t i = 0; i < m->lower.n; i++)
		print_string(PRINT_JSON, NULL, NULL, m->lower.v[i]);
	close_json_array(PRINT_JSON, NULL);
	if (m->upper)
		print_string(PRINT_ANY, "upper", " upper=%s", m->upper);
	else
		print_null(PRINT_JSON, "upper", NULL, NULL);
	print_string(PRINT_JSON, "work", NULL, m->work);
	open_json_array(PRINT_JSON, "volumes");
	for (size_t i = 0; i < m->nvols; i++) {
		print_string(PRINT_FP, NULL, "%s", i ? "," : " volumes=");
		open_json_object(NULL);
		print_string(PRINT_ANY, "name", "%s", m->vols[i].name);
		print_string(PRINT_ANY, "path", ":%s", m->vols[i].target);
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
	print_u64(PRINT_ANY, "copy_ups", " copy-ups=%" PRIu64, m->copy_ups);
}

/* Events carry no sequence number of ours. */
static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct events_state *st = arg;
	uint8_t cmd = cowctl_genl_cmd(msg);
	struct nl_volume v;
	struct nl_mount m;
	const char *event;

	if (st->limit && st->printed >= st->limit)
		return NL_SKIP;
	switch (cmd) {
	case COWFS_CMD_VOLUME_ADD_NTF:
	case COWFS_CMD_VOLUME_DEL_NTF:
		event = cmd == COWFS_CMD_VOLUME_ADD_NTF ? "volume-add" :
			"volume-del";
		if (nl_volume_parse(msg, &v))
			return NL_SKIP;
		open_json_object(NULL);
		print_time();
		print_volume_event(event, &v);
		close_json_object();
		nl_volume_free(&v);
		break;
	case COWFS_CMD_MOUNT_ADD_NTF:
	case COWFS_CMD_MOUNT_DEL_NTF:
		event = cmd == COWFS_CMD_MOUNT_ADD_NTF ? "mount-add" :
			"mount-del";
		if (nl_mount_parse(msg, &m))
			return NL_SKIP;
		open_json_object(NULL);
		print_time();
		print_mount_event(event, &m);
		close_json_object();
		nl_mount_free(&m);
		break;
	default:
		return NL_SKIP;		/* a newer module's event */
	}
	print_nl();
	if (fflush(stdout) || ferror(stdout)) {
		st->err = errno ? errno : EIO;
		return NL_STOP;
	}
	st->printed++;
	return NL_OK;
}

int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct events_state st = { 0, 0, 0 };
	unsigned long count = 0;
	struct sigaction sa;
	struct cowctl_nl nl;
	struct nl_cb *cb;
	int c, ret, grp, err;
	char *end;

	while ((c = cmd_getopt(argc, argv, ":hjc:", opts)) != -1) {
		switch (c) {
		case 'c':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !count ||
			    optarg[0] == '-')
				return usage_error("--count '%s' is not a number of events (1 or more)",
						   msg_path(optarg));
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
	st.limit = count;
	/* One line per event, even with -p. */
	json_init(opt_json, false);

	if (cowctl_nl_open_or_fail(&nl))
		return EXIT_FAIL;
	ret = EXIT_FAIL;
	grp = genl_ctrl_resolve_grp(nl.sk, COWCTL_GENL_NAME, COWFS_MCGRP_EVENTS);
	if (grp < 0) {
		error_msg("the cowfs module has no '%s' multicast group: %s",
			  COWFS_MCGRP_EVENTS, nl_geterror(grp));
		goto close;
	}
	err = nl_socket_add_membership(nl.sk, grp);
	if (err < 0) {
		error_msg("cannot join the cowfs '%s' group: %s",
			  COWFS_MCGRP_EVENTS, nl_geterror(err));
		if (err == -NLE_PERM)
			error_msg("events: following the events needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run cowctl as root");
		goto close;
	}
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		error_msg("out of memory");
		goto close;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, event_cb, &st);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	nl_socket_set_nonblocking(nl.sk);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	while (!stop && (!count || st.printed < count) && !st.err) {
		struct pollfd pfd = { nl_socket_get_fd(nl.sk), POLLIN, 0 };

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			error_msg("poll: %s", strerror(errno));
			goto free_cb;
		}
		err = nl_recvmsgs(nl.sk, cb);
		if (err == -NLE_AGAIN)
			continue;
		if (err == -NLE_NOMEM) {	/* ENOBUFS: the queue overflowed */
			error_msg("some events were lost: cowctl did not read them fast enough");
			continue;
		}
		if (err < 0 && !stop) {
			error_msg("cannot receive events: %s", nl_geterror(err));
			goto free_cb;
		}
	}
	if (st.err) {
		error_msg("cannot write the output: %s", strerror(st.err));
		goto free_cb;
	}
	ret = EXIT_OK;
free_cb:
	nl_cb_put(cb);
close:
	cowctl_nl_close(&nl);
	return ret;
}
