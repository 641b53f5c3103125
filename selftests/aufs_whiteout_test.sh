#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# AUFS-style whiteouts in layers (mount option aufs_whiteouts): what
# containers/storage writes when podman mounts through a mount_program, as
# fuse-overlayfs reads it.  A layer's file .wh.NAME hides NAME in the
# layers below and in its own directory, a directory holding .wh..wh..opq
# is opaque, and no .wh.* name is ever shown.  Without the option they are
# ordinary files (overlayfs's behaviour).
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

say() { echo "# aufs_whiteout: $*"; }
skip() { say "SKIP: $*"; exit 4; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
grep -qw cowfs /proc/filesystems || skip "the cowfs module is not loaded"
# shellcheck source=selftests/tap_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"
tmp=$(mktemp -d /tmp/aufs-wh.XXXXXX)
trap 'umount_under "$tmp"; rm -rf "$tmp"' EXIT

# l1 (bottom): a, b/x, c, d/y, e/z.  l0 (top): .wh.a, b/.wh..wh..opq and
# b/new, c and .wh.c (both in one layer), d/.wh.y, .wh.gone (nothing to
# hide), e/ plain.
mk() {
	rm -rf "$tmp/l0" "$tmp/l1" "$tmp/u" "$tmp/w"
	mkdir -p "$tmp/l1/b" "$tmp/l1/d" "$tmp/l1/e" "$tmp/l0/b" "$tmp/l0/d" \
		"$tmp/l0/e" "$tmp/u" "$tmp/w" "$tmp/m"
	echo a >"$tmp/l1/a"; echo x >"$tmp/l1/b/x"; echo c >"$tmp/l1/c"
	echo y >"$tmp/l1/d/y"; echo z >"$tmp/l1/e/z"
	: >"$tmp/l0/.wh.a"; : >"$tmp/l0/b/.wh..wh..opq"; echo new >"$tmp/l0/b/new"
	echo c0 >"$tmp/l0/c"; : >"$tmp/l0/.wh.c"; : >"$tmp/l0/d/.wh.y"
	: >"$tmp/l0/.wh.gone"
}
opts="lowerdir=$tmp/l0:$tmp/l1,upperdir=$tmp/u,workdir=$tmp/w"
ls1() { find "$1" -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort | tr '\n' ' '; }

mk
check "mount with aufs_whiteouts" mount -t cowfs none "$tmp/m" -o "$opts,aufs_whiteouts"
out=$(ls1 "$tmp/m")
[ "$out" = "b d e " ]
result $? "the root lists b d e: a, c whited out, no .wh.* ('$out')"
test ! -e "$tmp/m/a"; result $? ".wh.a hides a below"
test ! -e "$tmp/m/c"; result $? ".wh.c hides c of its own layer"
test ! -e "$tmp/m/.wh.a"; result $? ".wh.a itself is not there"
out=$(ls1 "$tmp/m/b"); [ "$out" = "new " ]
result $? "b with .wh..wh..opq is opaque: only new ('$out')"
test ! -e "$tmp/m/b/x"; result $? "lookup of b/x finds nothing below the opaque b"
out=$(ls1 "$tmp/m/d"); [ -z "$out" ]
result $? "d lists nothing: y whited out ('$out')"
out=$(ls1 "$tmp/m/e"); [ "$out" = "z " ]
result $? "e merges as usual ('$out')"
grep -q aufs_whiteouts /proc/self/mountinfo
result $? "aufs_whiteouts shows in mountinfo"
check "rmdir d (empty as shown)" rmdir "$tmp/m/d"
check "rm -r b" rm -r "$tmp/m/b"
test ! -e "$tmp/m/b" && test ! -e "$tmp/m/d"; result $? "b and d are gone"
check "a new a where .wh.a was" sh -c "echo again >'$tmp/m/a' && grep -qx again '$tmp/m/a'"
check "umount" umount "$tmp/m"
check "remount: the same view" mount -t cowfs none "$tmp/m" -o "$opts,aufs_whiteouts"
out=$(ls1 "$tmp/m"); [ "$out" = "a e " ]
result $? "after the changes: a e ('$out')"
umount "$tmp/m"

mk
check "mount without aufs_whiteouts" mount -t cowfs none "$tmp/m" -o "$opts"
out=$(ls1 "$tmp/m")
[ "$out" = ".wh.a .wh.c .wh.gone a b c d e " ]
result $? "without it .wh. files are files ('$out')"
umount "$tmp/m"

tap_end
