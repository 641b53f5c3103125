/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowctl: the operations the union drivers (driver_cowfs.c,
 * driver_overlay2.c) share; see driver_union.c.
 */
#ifndef COWCTL_DRIVER_UNION_H
#define COWCTL_DRIVER_UNION_H

#include "driver.h"

/* 1 when /proc/filesystems lists @fstype, 0 when not, -errno. */
int union_fs_registered(const char *fstype);
int union_probe(const char *fstype, char *why, size_t len);
bool union_is_up(struct drv_ctx *ctx);
int union_up(struct drv_ctx *ctx);
int union_down(struct drv_ctx *ctx);
int union_destroy(struct drv_ctx *ctx);
void union_status(struct drv_ctx *ctx);
int union_layer_create(struct drv_ctx *ctx, const char *name,
		       const char *parent, const struct meta *pmeta,
		       const struct layer_src *src, struct meta *m);
int union_layer_remove(struct drv_ctx *ctx, const char *name,
		       const struct meta *m);
int union_ctr_create(struct drv_ctx *ctx, const char *name,
		     const char *image, const struct meta *imeta,
		     struct meta *m);
int union_ctr_mount(struct drv_ctx *ctx, const char *name,
		    const struct meta *m, const char *target);
int union_ctr_umount(struct drv_ctx *ctx, const char *name,
		     const struct meta *m, const char *target);
int union_ctr_remove(struct drv_ctx *ctx, const char *name,
		     const struct meta *m);
int64_t union_usage(struct drv_ctx *ctx, bool is_image, const char *name,
		    const struct meta *m);
int union_df(struct drv_ctx *ctx, uint64_t *used, uint64_t *total);

#define UNION_OPS						\
	.is_up = union_is_up,					\
	.up = union_up,						\
	.down = union_down,					\
	.destroy = union_destroy,				\
	.status = union_status,					\
	.layer_create = union_layer_create,			\
	.layer_remove = union_layer_remove,			\
	.ctr_create = union_ctr_create,				\
	.ctr_mount = union_ctr_mount,				\
	.ctr_umount = union_ctr_umount,				\
	.ctr_remove = union_ctr_remove,				\
	.usage = union_usage,					\
	.df = union_df

#endif /* COWCTL_DRIVER_UNION_H */
