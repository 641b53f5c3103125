#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle of the cowctl zfs storage driver: image from a directory and
# from tars with OCI whiteouts, container, writes, removal, and no leaked
# mounts, loop or dm devices or pools (see driver_lifecycle.sh).
# zfs is an out-of-tree module, built (scripts/deps-zfs.sh) for Debian's
# kernel only: the debug kernel (docs/debug-kernel.md) cannot load it.
case $(uname -r) in
*-cowfs-debug)
	if [ ! -d /sys/module/zfs ]; then
		echo "# driver_zfs: SKIP: zfs is an out-of-tree module built for Debian's kernel; it cannot be loaded into the debug kernel $(uname -r)"
		exit 4
	fi
	;;
esac
exec bash "$(dirname "${BASH_SOURCE[0]}")/driver_lifecycle.sh" zfs
