// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: volumes and mounts as the cowfs netlink family reports them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/cowfs.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "cowctl.h"
#include "objects.h"

static const char *const volume_types[] = {
	[COWFS_VOLUME_TYPE_LOCAL] = "local",
	[COWFS_VOLUME_TYPE_BIND] = "bind",
	[COWFS_VOLUME_TYPE_TMPFS] = "tmpfs",
};

#define NTYPES (sizeof(volume_types) / sizeof(volume_types[0]))

const char *volume_type_name(uint32_t type)
{
	return type < NTYPES && volume_types[type] ? volume_types[type] :
		"unknown";
}

int volume_type_parse(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (volume_types[i] && !strcmp(volume_types[i], name))
			return (int)i;
	return -1;
}

/* A string attribute as a new string (it need not be NUL terminated). */
static char *attr_str(const struct nlattr *a)
{
	return xstrndup(nla_data(a), nla_len(a));
}

static void kvs_add(struct kvs *l, const struct nlattr *nest)
{
	const struct nlattr *a;
	char *key = NULL, *value = NULL;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) == COWFS_A_KV_KEY && !key)
			key = attr_str(a);
		else if (nla_type(a) == COWFS_A_KV_VALUE && !value)
			value = attr_str(a);
	}
	if (!key) {
		free(value);
		return;
	}
	l->v = xrealloc(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n].key = key;
	l->v[l->n].value = value ? value : xstrdup("");
	l->n++;
}

static void kvs_free(struct kvs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int nl_volume_parse(struct nl_msg *msg, struct nl_volume *v)
{
	struct nlattr *attrs, *a;
	int len, rem;

	memset(v, 0, sizeof(*v));
	attrs = cowctl_genl_attrs(msg, &len);
	nla_for_each_attr(a, attrs, len, rem) {
		switch (nla_type(a)) {
		case COWFS_A_VOLUME_NAME:
			free(v->name);
			v->name = attr_str(a);
			break;
		case COWFS_A_VOLUME_TYPE:
			if (nla_len(a) >= 4)
				v->type = nla_get_u32(a);
			break;
		case COWFS_A_VOLUME_PATH:
			free(v->path);
			v->path = attr_str(a);
			break;
		case COWFS_A_VOLUME_SIZE:
			v->size = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_VOLUME_LABEL:
			kvs_add(&v->labels, a);
			break;
		case COWFS_A_VOLUME_OPTION:
			kvs_add(&v->options, a);
			break;
		case COWFS_A_VOLUME_CREATED:
			v->created = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_VOLUME_MOUNT_ID:
			v->mount_ids = xrealloc(v->mount_ids,
						v->nmount_ids + 1,
						sizeof(*v->mount_ids));
			v->mount_ids[v->nmount_ids++] = cowctl_nla_get_uint(a);
			break;
		}
	}
	if (!v->name) {
		nl_volume_free(v);
		return -EINVAL;
	}
	return 0;
}

void nl_volume_free(struct nl_volume *v)
{
	free(v->name);
	free(v->path);
	kvs_free(&v->labels);
	kvs_free(&v->options);
	free(v->mount_ids);
	memset(v, 0, sizeof(*v));
}

static void mount_volume_add(struct nl_mount *m, const struct nlattr *nest)
{
	const struct nlattr *a;
	char *name = NULL, *target = NULL;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) == COWFS_A_MOUNT_VOLUME_NAME && !name)
			name = attr_str(a);
		else if (nla_type(a) == COWFS_A_MOUNT_VOLUME_TARGET && !target)
			target = attr_str(a);
	}
	if (!name || !target) {
		free(name);
		free(target);
		return;
	}
	m->vols = xrealloc(m->vols, m->nvols + 1, sizeof(*m->vols));
	m->vols[m->nvols].name = name;
	m->vols[m->nvols].target = target;
	m->nvols++;
}

int nl_mount_parse(struct nl_msg *msg, struct nl_mount *m)
{
	struct nlattr *attrs, *a;
	int len, rem;

	memset(m, 0, sizeof(*m));
	attrs = cowctl_genl_attrs(msg, &len);
	nla_for_each_attr(a, attrs, len, rem) {
		switch (nla_type(a)) {
		case COWFS_A_MOUNT_ID:
			m->id = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_MOUNT_DEV_MAJOR:
			if (nla_len(a) >= 4)
				m->major = nla_get_u32(a);
			break;
		case COWFS_A_MOUNT_DEV_MINOR:
			if (nla_len(a) >= 4)
				m->minor = nla_get_u32(a);
			break;
		case COWFS_A_MOUNT_LOWER:
			strvec_push_owned(&m->lower, attr_str(a));
			break;
		case COWFS_A_MOUNT_UPPER:
			free(m->upper);
			m->upper = attr_str(a);
			break;
		case COWFS_A_MOUNT_WORK:
			free(m->work);
			m->work = attr_str(a);
			break;
		case COWFS_A_MOUNT_OPTIONS:
			free(m->options);
			m->options = attr_str(a);
			break;
		case COWFS_A_MOUNT_VOLUME:
			mount_volume_add(m, a);
			break;
		case COWFS_A_MOUNT_LOOKUPS:
			m->lookups = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_MOUNT_COPY_UPS:
			m->copy_ups = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_MOUNT_COPY_UP_BYTES:
			m->copy_up_bytes = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_MOUNT_WHITEOUTS:
			m->whiteouts = cowctl_nla_get_uint(a);
			break;
		case COWFS_A_MOUNT_DATA_LAYERS:
			if (nla_len(a) >= 4)
				m->ndata = nla_get_u32(a);
			break;
		}
	}
	if (!m->id) {
		nl_mount_free(m);
		return -EINVAL;
	}
	return 0;
}

void nl_mount_free(struct nl_mount *m)
{
	strvec_free(&m->lower);
	free(m->upper);
	free(m->work);
	free(m->options);
	for (size_t i = 0; i < m->nvols; i++) {
		free(m->vols[i].name);
		free(m->vols[i].target);
	}
	free(m->vols);
	memset(m, 0, sizeof(*m));
}

static int volume_dump_cb(struct nl_msg *msg, void *arg)
{
	struct nl_volumes *l = arg;
	struct nl_volume v;

	if (nl_volume_parse(msg, &v))
		return NL_SKIP;
	l->v = xrealloc(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = v;
	return NL_OK;
}

static int mount_dump_cb(struct nl_msg *msg, void *arg)
{
	struct nl_mounts *l = arg;
	struct nl_mount m;

	if (nl_mount_parse(msg, &m))
		return NL_SKIP;
	l->m = xrealloc(l->m, l->n + 1, sizeof(*l->m));
	l->m[l->n++] = m;
	return NL_OK;
}

static int volume_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nl_volume *)a)->name,
		      ((const struct nl_volume *)b)->name);
}

static int mount_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct nl_mount *)a)->id;
	uint64_t y = ((const struct nl_mount *)b)->id;

	return x < y ? -1 : x > y;
}

int nl_volumes_dump(struct cowctl_nl *nl, struct nl_volumes *out)
{
	struct nl_msg *msg;
	int err;

	out->v = NULL;
	out->n = 0;
	msg = cowctl_nl_msg(nl, COWFS_CMD_VOLUME_GET, NLM_F_DUMP,
			    COWFS_FAMILY_VERSION);
	if (!msg)
		return -ENOMEM;
	err = cowctl_nl_request(nl, msg, volume_dump_cb, out);
	if (err) {
		cowctl_nl_error(nl, err, "cannot list the volumes");
		nl_volumes_free(out);
		return err;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), volume_cmp);
	return 0;
}

int nl_mounts_dump(struct cowctl_nl *nl, struct nl_mounts *out)
{
	struct nl_msg *msg;
	int err;

	out->m = NULL;
	out->n = 0;
	msg = cowctl_nl_msg(nl, COWFS_CMD_MOUNT_GET, NLM_F_DUMP,
			    COWFS_FAMILY_VERSION);
	if (!msg)
		return -ENOMEM;
	err = cowctl_nl_request(nl, msg, mount_dump_cb, out);
	if (err) {
		cowctl_nl_error(nl, err, "cannot list the cowfs mounts");
		nl_mounts_free(out);
		return err;
	}
	if (out->n)
		qsort(out->m, out->n, sizeof(*out->m), mount_cmp);
	return 0;
}

void nl_volumes_free(struct nl_volumes *l)
{
	for (size_t i = 0; i < l->n; i++)
		nl_volume_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void nl_mounts_free(struct nl_mounts *l)
{
	for (size_t i = 0; i < l->n; i++)
		nl_mount_free(&l->m[i]);
	free(l->m);
	l->m = NULL;
	l->n = 0;
}

static int volume_get_cb(struct nl_msg *msg, void *arg)
{
	struct nl_volume *v = arg;

	if (!v->name && !nl_volume_parse(msg, v))
		return NL_OK;
	return NL_SKIP;
}

int nl_volume_get(struct cowctl_nl *nl, const char *name,
		  struct nl_volume *v)
{
	struct nl_msg *msg;
	int err;

	memset(v, 0, sizeof(*v));
	msg = cowctl_nl_msg(nl, COWFS_CMD_VOLUME_GET, 0,
			    COWFS_FAMILY_VERSION);
	if (!msg)
		return -ENOMEM;
	if (nla_put_string(msg, COWFS_A_VOLUME_NAME, name) < 0) {
		nlmsg_free(msg);
		return -ENOBUFS;
	}
	err = cowctl_nl_request(nl, msg, volume_get_cb, v);
	if (!err && !v->name)
		err = -EPROTO;
	if (err)
		nl_volume_free(v);
	return err;
}

const struct nl_mount *nl_mounts_find_id(const struct nl_mounts *l,
					 uint64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->m[i].id == id)
			return &l->m[i];
	return NULL;
}

const struct nl_mount *nl_mounts_find_dev(const struct nl_mounts *l,
					  unsigned int major,
					  unsigned int minor)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->m[i].major == major && l->m[i].minor == minor)
			return &l->m[i];
	return NULL;
}

const struct mnt_entry *mount_target(const struct mnt_table *t,
				     const struct nl_mount *m)
{
	const char *fstype = cowctl_fstype();

	for (size_t i = t->n; i > 0; i--) {
		const struct mnt_entry *e = &t->e[i - 1];

		if (e->major == m->major && e->minor == m->minor &&
		    !strcmp(e->fstype, fstype))
			return e;
	}
	return NULL;
}

const char *format_time_ns(uint64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%" PRIu64, ns);
	return buf;
}

const char *format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB",
					     "PB", "EB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(buf, size, "%.4g%s", v, units[u]);
	return buf;
}

const char *format_size_iec(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.4g%s", v, units[u]);
	return buf;
}
