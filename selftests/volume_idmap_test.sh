#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A volume is a layer of its own (issue 12, item 4): changes below a
# volume's root are made through the volume's mount, with its idmap, not
# through the union's upper mount.  The volume here is a bind volume on an
# idmapped mount of a tmpfs directory that swaps ids 0 and 1000: it shows
# on-disk uid/gid 1000 as 0 (root) and 0 as 1000, and stores what root
# makes as 1000.  The union's upper
# layer is on a plain mount.  Before the wrappers were keyed on the layer,
# the union's upper idmap was used below the volume too, so root's new
# files went to disk as uid 0, and a chown to root through the union wrote
# 0 as well.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}

say() { echo "# volume_idmap: $*"; }
skip() { say "SKIP: $*"; exit 4; }

# shellcheck source=selftests/tap_lib.sh
. "$repo/selftests/tap_lib.sh"
require_cowctl_and_module
command -v python3 >/dev/null || skip "no python3 (for mount_setattr)"
tmp=$(mktemp -d /tmp/volume-idmap.XXXXXX)
volume_test_init
trap 'volume_test_cleanup vi-bind' EXIT

# idmap SRC DST MAP: an idmapped mount of SRC at DST (open_tree,
# mount_setattr, move_mount) whose user namespace has uid_map and gid_map
# MAP.  Where tests run in a chroot (scripts/vm used to chroot),
# unshare(CLONE_NEWUSER) fails with EPERM: the child that makes the
# namespace then leaves it for init's root first.
idmap() {
	python3 - "$@" <<'EOF'
import ctypes, os, sys

src, dst, maps = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100
CLONE_NEWUSER = 0x10000000
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
AT_EMPTY_PATH, MOUNT_ATTR_IDMAP, MOVE_MOUNT_F_EMPTY_PATH = 0x1000, 0x100000, 4


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def call(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *args)
    if r < 0:
        sys.exit(f"syscall {nr}: {os.strerror(ctypes.get_errno())}")
    return r


ready_r, ready_w = os.pipe()
done_r, done_w = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(CLONE_NEWUSER):
        os.chroot("/proc/1/root")
        if libc.unshare(CLONE_NEWUSER):
            os._exit(1)
    os.write(ready_w, b"x")
    os.read(done_r, 1)
    os._exit(0)
os.close(ready_w)
if os.read(ready_r, 1) != b"x":
    sys.exit("unshare(CLONE_NEWUSER) failed")
for m in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{m}", "w") as f:
        f.write(maps)
ns = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
os.write(done_w, b"x")
os.waitpid(pid, 0)
tree = call(428, ctypes.c_int(AT_FDCWD), src.encode(),
            ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC))
attr = MountAttr(MOUNT_ATTR_IDMAP, 0, 0, ns)
call(442, ctypes.c_int(tree), b"", ctypes.c_uint(AT_EMPTY_PATH),
     ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
call(429, ctypes.c_int(tree), b"", ctypes.c_int(AT_FDCWD), dst.encode(),
     ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
EOF
}

mkdir -p "$tmp/src" "$tmp/idm" "$tmp/store" "$tmp/l" "$tmp/u" "$tmp/w" "$tmp/m"
mount -t tmpfs tmpfs "$tmp/src" || skip "cannot mount a tmpfs"
mkdir "$tmp/src/vol"
echo old >"$tmp/src/vol/owned"
chown 1000:1000 "$tmp/src/vol"

# Ids 1000 and 0 of the mount are the host's 0 and 1000
out=$(idmap "$tmp/src" "$tmp/idm" "1000 0 1
0 1000 1" 2>&1) || skip "no idmapped mount of a tmpfs: $out"
[ "$(stat -c %u "$tmp/idm/vol")" = 0 ] ||
	skip "the idmapped mount shows uid $(stat -c %u "$tmp/idm/vol"), not 0"

"$cowctl" config set --store "$tmp/store" >/dev/null ||
	skip "cannot move the volume store to $tmp/store"
check "bind volume vi-bind on the idmapped $tmp/idm/vol" \
	"$cowctl" volume create --type bind --opt "device=$tmp/idm/vol" vi-bind
check "mount a union with the volume at /data" \
	mount -t cowfs none "$tmp/m" \
	-o "lowerdir=$tmp/l,upperdir=$tmp/u,workdir=$tmp/w,volume=vi-bind:/data"

# The volume's own idmap: root's objects are 1000 on disk, 0 seen through
check "create a file in the volume" sh -c "echo new >'$tmp/m/data/new'"
check "mkdir in the volume" mkdir "$tmp/m/data/dir"
check "create in a directory of the volume" touch "$tmp/m/data/dir/f"
for f in new dir dir/f; do
	got=$(stat -c %u:%g "$tmp/src/vol/$f" 2>&1)
	[ "$got" = 1000:1000 ]
	result $? "data/$f is 1000:1000 on disk, through the volume's idmap ($got)"
	got=$(stat -c %u:%g "$tmp/m/data/$f" 2>&1)
	[ "$got" = 0:0 ]
	result $? "data/$f is 0:0 in the union ($got)"
done

# setattr through the volume's idmap: root (0) there is 1000 on disk
check "chown a volume file to root through the union" chown 0:0 "$tmp/m/data/owned"
got=$(stat -c %u:%g "$tmp/src/vol/owned")
[ "$got" = 1000:1000 ]
result $? "the chown wrote 1000:1000 to disk ($got)"

# Names move within the volume and go, as on any layer
check "rename in the volume" mv "$tmp/m/data/new" "$tmp/m/data/dir/moved"
check "unlink in the volume" rm "$tmp/m/data/dir/moved" "$tmp/m/data/dir/f"
check "rmdir in the volume" rmdir "$tmp/m/data/dir"
check "the volume's directory is as the union left it" \
	test ! -e "$tmp/src/vol/dir" -a ! -e "$tmp/src/vol/new"

# The union's upper layer keeps its own (identity) mapping
check "create in the union's upper layer" touch "$tmp/m/top"
got=$(stat -c %u "$tmp/u/top" 2>&1)
[ "$got" = 0 ]
result $? "the upper layer's file is root's on disk ($got)"

check "umount" umount "$tmp/m"
tap_end
