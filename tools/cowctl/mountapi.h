/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The new mount API through syscall(2): one code path whatever the C
 * library (glibc has wrappers only from 2.36 on).  The constants come
 * from <sys/mount.h> when it has them.
 */
#ifndef COWCTL_MOUNTAPI_H
#define COWCTL_MOUNTAPI_H

#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC		0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC		0x00000001
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH	0x00000004
#endif
#ifndef FSCONFIG_SET_FLAG
#define FSCONFIG_SET_FLAG	0
#define FSCONFIG_SET_STRING	1
#define FSCONFIG_CMD_CREATE	6
#endif

static inline int sys_fsopen(const char *fsname, unsigned int flags)
{
	return syscall(SYS_fsopen, fsname, flags);
}

static inline int sys_fsconfig(int fd, unsigned int cmd, const char *key,
			       const char *value, int aux)
{
	return syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

static inline int sys_fsmount(int fd, unsigned int flags,
			      unsigned int attr_flags)
{
	return syscall(SYS_fsmount, fd, flags, attr_flags);
}

static inline int sys_move_mount(int from_dfd, const char *from_path,
				 int to_dfd, const char *to_path,
				 unsigned int flags)
{
	return syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path,
		       flags);
}

#endif /* COWCTL_MOUNTAPI_H */
