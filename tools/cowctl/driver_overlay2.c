// SPDX-License-Identifier: GPL-2.0
/*
 * cowctl: the overlay2 storage driver.
 *
 * Docker's overlay2 layout on the kernel's overlay filesystem: layer
 * directories, an upper and a work directory per container (see
 * driver_union.c).  It is the reference the benchmark compares to.
 */
#include <stdio.h>

#include "driver.h"
#include "driver_union.h"

static int overlay2_probe(char *why, size_t len)
{
	return union_probe("overlay", why, len);
}

static const char *const overlay2_opts[] = {
	"(none: layers live under ROOT/overlay2, on the filesystem of ROOT)",
	NULL,
};

const struct storage_driver drv_overlay2 = {
	.name = "overlay2",
	.summary = "overlay filesystem over layer directories, as Docker's overlay2",
	.opts_help = overlay2_opts,
	.probe = overlay2_probe,
	UNION_OPS,
};
