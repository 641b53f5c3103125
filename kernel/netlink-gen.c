// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/cowfs.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/cowfs.h>

/* Common nested types */
const struct nla_policy cowfs_kv_nl_policy[COWFS_A_KV_VALUE + 1] = {
	[COWFS_A_KV_KEY] = { .type = NLA_NUL_STRING, .len = COWFS_KV_KEY_MAX, },
	[COWFS_A_KV_VALUE] = { .type = NLA_NUL_STRING, .len = COWFS_KV_VALUE_MAX, },
};

/* COWFS_CMD_VOLUME_NEW - do */
static const struct nla_policy cowfs_volume_new_nl_policy[COWFS_A_VOLUME_OPTION + 1] = {
	[COWFS_A_VOLUME_NAME] = { .type = NLA_NUL_STRING, .len = COWFS_VOLUME_NAME_MAX, },
	[COWFS_A_VOLUME_TYPE] = NLA_POLICY_MAX(NLA_U32, 2),
	[COWFS_A_VOLUME_PATH] = { .type = NLA_NUL_STRING, .len = COWFS_PATH_MAX, },
	[COWFS_A_VOLUME_SIZE] = NLA_POLICY_MIN(NLA_UINT, 4096),
	[COWFS_A_VOLUME_LABEL] = NLA_POLICY_NESTED(cowfs_kv_nl_policy),
	[COWFS_A_VOLUME_OPTION] = NLA_POLICY_NESTED(cowfs_kv_nl_policy),
};

/* COWFS_CMD_VOLUME_DEL - do */
static const struct nla_policy cowfs_volume_del_nl_policy[COWFS_A_VOLUME_NAME + 1] = {
	[COWFS_A_VOLUME_NAME] = { .type = NLA_NUL_STRING, .len = COWFS_VOLUME_NAME_MAX, },
};

/* COWFS_CMD_VOLUME_GET - do */
static const struct nla_policy cowfs_volume_get_nl_policy[COWFS_A_VOLUME_NAME + 1] = {
	[COWFS_A_VOLUME_NAME] = { .type = NLA_NUL_STRING, .len = COWFS_VOLUME_NAME_MAX, },
};

/* COWFS_CMD_MOUNT_GET - do */
static const struct nla_policy cowfs_mount_get_nl_policy[COWFS_A_MOUNT_ID + 1] = {
	[COWFS_A_MOUNT_ID] = NLA_POLICY_MIN(NLA_UINT, 1),
};

/* COWFS_CMD_CONFIG_SET - do */
static const struct nla_policy cowfs_config_set_nl_policy[COWFS_A_CONFIG_STORE + 1] = {
	[COWFS_A_CONFIG_STORE] = { .type = NLA_NUL_STRING, .len = COWFS_PATH_MAX, },
};

/* Ops table for cowfs */
static const struct genl_split_ops cowfs_nl_ops[] = {
	{
		.cmd		= COWFS_CMD_VOLUME_NEW,
		.doit		= cowfs_nl_volume_new_doit,
		.policy		= cowfs_volume_new_nl_policy,
		.maxattr	= COWFS_A_VOLUME_OPTION,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= COWFS_CMD_VOLUME_DEL,
		.doit		= cowfs_nl_volume_del_doit,
		.policy		= cowfs_volume_del_nl_policy,
		.maxattr	= COWFS_A_VOLUME_NAME,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= COWFS_CMD_VOLUME_GET,
		.doit		= cowfs_nl_volume_get_doit,
		.policy		= cowfs_volume_get_nl_policy,
		.maxattr	= COWFS_A_VOLUME_NAME,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= COWFS_CMD_VOLUME_GET,
		.start	= cowfs_nl_volume_get_dump_start,
		.dumpit	= cowfs_nl_volume_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= COWFS_CMD_VOLUME_PRUNE,
		.doit	= cowfs_nl_volume_prune_doit,
		.flags	= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= COWFS_CMD_MOUNT_GET,
		.doit		= cowfs_nl_mount_get_doit,
		.policy		= cowfs_mount_get_nl_policy,
		.maxattr	= COWFS_A_MOUNT_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= COWFS_CMD_MOUNT_GET,
		.start	= cowfs_nl_mount_get_dump_start,
		.dumpit	= cowfs_nl_mount_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= COWFS_CMD_CONFIG_GET,
		.doit	= cowfs_nl_config_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= COWFS_CMD_CONFIG_SET,
		.doit		= cowfs_nl_config_set_doit,
		.policy		= cowfs_config_set_nl_policy,
		.maxattr	= COWFS_A_CONFIG_STORE,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group cowfs_nl_mcgrps[] = {
	[COWFS_NLGRP_EVENTS] = { "events", },
};

struct genl_family cowfs_nl_family __ro_after_init = {
	.name		= COWFS_FAMILY_NAME,
	.version	= COWFS_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= cowfs_nl_ops,
	.n_split_ops	= ARRAY_SIZE(cowfs_nl_ops),
	.mcgrps		= cowfs_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(cowfs_nl_mcgrps),
};
