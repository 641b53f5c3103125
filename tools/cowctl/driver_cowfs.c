// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: the cowfs storage driver.
 *
 * Layers are directories, a container an upper and a work directory, and
 * the container is mounted as a cowfs union (see driver_union.c).  cowfs
 * reads overlayfs' on-disk format, so a layer is laid out exactly as for
 * overlay2.  It also stands in for aufs, which is not in mainline Linux.
 */
#include <stdio.h>

#include "driver.h"
#include "driver_union.h"

static int cowfs_probe(char *why, size_t len)
{
	return union_probe("cowfs", why, len);
}

static const char *const cowfs_opts[] = {
	"(none: layers live under ROOT/cowfs, on the filesystem of ROOT)",
	NULL,
};

const struct storage_driver drv_cowfs = {
	.name = "cowfs",
	.summary = "cowfs union of layer directories (stands in for aufs)",
	.opts_help = cowfs_opts,
	.probe = cowfs_probe,
	UNION_OPS,
};
