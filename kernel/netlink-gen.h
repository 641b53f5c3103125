/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/cowfs.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_COWFS_GEN_H
#define _LINUX_COWFS_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/cowfs.h>

/* Common nested types */
extern const struct nla_policy cowfs_kv_nl_policy[COWFS_A_KV_VALUE + 1];

int cowfs_nl_volume_get_dump_start(struct netlink_callback *cb);
int cowfs_nl_mount_get_dump_start(struct netlink_callback *cb);

int cowfs_nl_volume_new_doit(struct sk_buff *skb, struct genl_info *info);
int cowfs_nl_volume_del_doit(struct sk_buff *skb, struct genl_info *info);
int cowfs_nl_volume_get_doit(struct sk_buff *skb, struct genl_info *info);
int cowfs_nl_volume_get_dumpit(struct sk_buff *skb,
			       struct netlink_callback *cb);
int cowfs_nl_volume_prune_doit(struct sk_buff *skb, struct genl_info *info);
int cowfs_nl_mount_get_doit(struct sk_buff *skb, struct genl_info *info);
int cowfs_nl_mount_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int cowfs_nl_config_get_doit(struct sk_buff *skb, struct genl_info *info);
int cowfs_nl_config_set_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	COWFS_NLGRP_EVENTS,
};

extern struct genl_family cowfs_nl_family;

#endif /* _LINUX_COWFS_GEN_H */
