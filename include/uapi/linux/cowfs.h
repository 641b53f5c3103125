/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/cowfs.yaml */
/* YNL-GEN uapi header */

#ifndef _UAPI_LINUX_COWFS_H
#define _UAPI_LINUX_COWFS_H

#define COWFS_FAMILY_NAME	"cowfs"
#define COWFS_FAMILY_VERSION	1

#define COWFS_VOLUME_NAME_MAX	128
#define COWFS_KV_KEY_MAX	256
#define COWFS_KV_VALUE_MAX	4096
#define COWFS_KV_MAX		64
#define COWFS_KV_BYTES_MAX	16384
#define COWFS_PATH_MAX		4095

/**
 * enum cowfs_volume_type - Where a volume keeps its data.
 * @COWFS_VOLUME_TYPE_LOCAL: A directory that cowfs creates and owns under the
 *   volume store root (STORE/NAME/_data); removing the volume deletes it.
 * @COWFS_VOLUME_TYPE_BIND: An existing directory registered under a name;
 *   removing the volume never deletes its data.
 * @COWFS_VOLUME_TYPE_TMPFS: A private, memory-backed tmpfs with an optional
 *   size limit; its contents are gone when the volume is removed or the module
 *   is unloaded.
 */
enum cowfs_volume_type {
	COWFS_VOLUME_TYPE_LOCAL,
	COWFS_VOLUME_TYPE_BIND,
	COWFS_VOLUME_TYPE_TMPFS,
};

enum {
	COWFS_A_KV_KEY = 1,
	COWFS_A_KV_VALUE,

	__COWFS_A_KV_MAX,
	COWFS_A_KV_MAX = (__COWFS_A_KV_MAX - 1)
};

enum {
	COWFS_A_VOLUME_NAME = 1,
	COWFS_A_VOLUME_TYPE,
	COWFS_A_VOLUME_PATH,
	COWFS_A_VOLUME_SIZE,
	COWFS_A_VOLUME_LABEL,
	COWFS_A_VOLUME_OPTION,
	COWFS_A_VOLUME_CREATED,
	COWFS_A_VOLUME_MOUNT_ID,
	COWFS_A_VOLUME_PRUNED,
	COWFS_A_VOLUME_RECLAIMED,

	__COWFS_A_VOLUME_MAX,
	COWFS_A_VOLUME_MAX = (__COWFS_A_VOLUME_MAX - 1)
};

enum {
	COWFS_A_MOUNT_VOLUME_NAME = 1,
	COWFS_A_MOUNT_VOLUME_TARGET,

	__COWFS_A_MOUNT_VOLUME_MAX,
	COWFS_A_MOUNT_VOLUME_MAX = (__COWFS_A_MOUNT_VOLUME_MAX - 1)
};

enum {
	COWFS_A_MOUNT_ID = 1,
	COWFS_A_MOUNT_DEV_MAJOR,
	COWFS_A_MOUNT_DEV_MINOR,
	COWFS_A_MOUNT_LOWER,
	COWFS_A_MOUNT_UPPER,
	COWFS_A_MOUNT_WORK,
	COWFS_A_MOUNT_OPTIONS,
	COWFS_A_MOUNT_VOLUME,
	COWFS_A_MOUNT_LOOKUPS,
	COWFS_A_MOUNT_COPY_UPS,
	COWFS_A_MOUNT_COPY_UP_BYTES,
	COWFS_A_MOUNT_WHITEOUTS,

	__COWFS_A_MOUNT_MAX,
	COWFS_A_MOUNT_MAX = (__COWFS_A_MOUNT_MAX - 1)
};

enum {
	COWFS_A_CONFIG_STORE = 1,

	__COWFS_A_CONFIG_MAX,
	COWFS_A_CONFIG_MAX = (__COWFS_A_CONFIG_MAX - 1)
};

enum {
	COWFS_CMD_VOLUME_NEW = 1,
	COWFS_CMD_VOLUME_DEL,
	COWFS_CMD_VOLUME_GET,
	COWFS_CMD_VOLUME_PRUNE,
	COWFS_CMD_MOUNT_GET,
	COWFS_CMD_CONFIG_GET,
	COWFS_CMD_CONFIG_SET,
	COWFS_CMD_VOLUME_ADD_NTF,
	COWFS_CMD_VOLUME_DEL_NTF,
	COWFS_CMD_MOUNT_ADD_NTF,
	COWFS_CMD_MOUNT_DEL_NTF,

	__COWFS_CMD_MAX,
	COWFS_CMD_MAX = (__COWFS_CMD_MAX - 1)
};

#define COWFS_MCGRP_EVENTS	"events"

#endif /* _UAPI_LINUX_COWFS_H */
