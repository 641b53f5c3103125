#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Volumes in unions the kernel must survive (issue 11):
#
#   no upper    a volume attached to a read-only union (no upperdir):
#               entering and reading it works (permission() used to take
#               the idmap of the union's upper mount, which is NULL
#               there: an oops at the first 'cd')
#   pinned      a bind volume's directory is the one it was made on: a
#               path component swapped for a symlink, or the directory
#               for another, and the mount is refused (it used to graft
#               whatever the path reached, symlinks followed); the pin is
#               kept in the store, so it holds across a reload
#   own data    a trusted.overlay.redirect in a volume's directory merges
#               no layer into it (it used to)
#   apart       a volume's directory that is, holds or is inside the
#               union's upperdir or workdir is refused at mount (ELOOP,
#               as overlayfs's overlapping layers), and a bind volume on
#               or around the volume store at volume-new
#   0/0 devices a character device 0/0 put below a volume's root from
#               outside is hidden like a whiteout but hides nothing:
#               creating at its name and removing a directory holding
#               one work in place, in the volume (they used to go through
#               the union's workdir: EXDEV for a volume on another
#               filesystem, and on the same one the object was built in
#               workdir, on the union's upper layer, a new directory
#               marked opaque, and moved into the volume)
#   depth       a bind volume whose directory is on a stacked filesystem
#               (a cowfs over an overlayfs) raises the union's stacking
#               depth like any layer: past FILESYSTEM_MAX_STACK_DEPTH the
#               mount is refused with a message, never made
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}

say() { echo "# volume_hostile: $*"; }
skip() { say "SKIP: $*"; exit 4; }

# shellcheck source=selftests/tap_lib.sh
. "$repo/selftests/tap_lib.sh"
require_cowctl_and_module
tmp=$(mktemp -d /tmp/volume-hostile.XXXXXX)
volume_test_init
trap 'volume_test_cleanup hv-ro hv-bind hv-pin hv-ov hv-wh' EXIT

mkdir -p "$tmp/store" "$tmp/l/v" "$tmp/m"
echo lower >"$tmp/l/file"
echo hidden >"$tmp/l/v/hidden"
"$cowctl" config set --store "$tmp/store" >/dev/null ||
	skip "cannot move the volume store to $tmp/store"

# ---- a volume in a union without an upper layer ---------------------------

"$cowctl" volume create hv-ro >/dev/null || { result 1 "volume create hv-ro"; exit 1; }
check "mount a read-only union with a volume" \
	mount -t cowfs none "$tmp/m" -o "lowerdir=$tmp/l,volume=hv-ro:/v"
check "cd into the volume and list it" sh -c "cd '$tmp/m/v' && ls -la ."
check "the volume hides the layer's directory" \
	test ! -e "$tmp/m/v/hidden"
check "access(2) on the volume's root" test -r "$tmp/m/v" -a -x "$tmp/m/v"
check "the layers still read" grep -qx lower "$tmp/m/file"
out=$(touch "$tmp/m/v/new" 2>&1)
[ -n "$out" ] && [ ! -e "$tmp/m/v/new" ]
result $? "a read-only union refuses writes to its volume too ($out)"
check "umount" umount "$tmp/m"

# ---- a bind volume's directory is pinned ----------------------------------

# A union with volume hv-pin must not mount (DESC says why).
refused() {
	local out rc
	out=$(mount -t cowfs none "$tmp/m" -o "lowerdir=$tmp/l,volume=hv-pin:/v" 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		say "mounted: $(ls "$tmp/m/v" | tr '\n' ' ')"
		umount "$tmp/m"
	fi
	[ "$rc" != 0 ]
	result $? "$1: mount refused ($out)"
}

mkdir -p "$tmp/bind/src" "$tmp/secret" "$tmp/b"
echo mine >"$tmp/bind/src/mine"
echo host >"$tmp/secret/host-only"
check "bind volume hv-pin on $tmp/bind/src" \
	"$cowctl" volume create --type bind --opt "device=$tmp/bind/src" hv-pin
check "mount with the bind volume" \
	mount -t cowfs none "$tmp/m" -o "lowerdir=$tmp/l,volume=hv-pin:/v"
check "the volume shows its directory" grep -qx mine "$tmp/m/v/mine"
umount "$tmp/m"
# A component of its path swapped for a symlink to another directory
mv "$tmp/bind" "$tmp/bind.old"
ln -s "$tmp/secret/.." "$tmp/bind"
mkdir -p "$tmp/secret/src" && echo host >"$tmp/secret/src/host-only"
refused "a symlink swapped into the path"
# The directory itself swapped for another one at the same path
rm "$tmp/bind" && mkdir -p "$tmp/bind/src" && echo other >"$tmp/bind/src/other"
refused "another directory at the same path"
dmesg | tail -n 20 | grep -q "volume 'hv-pin': its directory is not the one it was created on"
result $? "the refusal says the directory was replaced"
# Put back, it works again
rm -rf "$tmp/bind" && mv "$tmp/bind.old" "$tmp/bind"
check "the original directory back: mount works" \
	mount -t cowfs none "$tmp/m" -o "lowerdir=$tmp/l,volume=hv-pin:/v"
check "and shows it" grep -qx mine "$tmp/m/v/mine"
check "umount" umount "$tmp/m"
# The pin is in the volume's record in the store: it holds when the store
# is loaded again (a reboot, a module reload) after the directory was
# swapped while nobody looked (the first attach used to take a new pin)
mv "$tmp/bind" "$tmp/bind.old" && mkdir -p "$tmp/bind/src" &&
	echo other >"$tmp/bind/src/other"
check "load the store again" "$cowctl" config set --store "$tmp/store"
refused "another directory at the same path, after a reload of the store"
rm -rf "$tmp/bind" && mv "$tmp/bind.old" "$tmp/bind"
check "load the store again" "$cowctl" config set --store "$tmp/store"
check "the original directory, after a reload: mount works" \
	mount -t cowfs none "$tmp/m" -o "lowerdir=$tmp/l,volume=hv-pin:/v"
check "and shows it" grep -qx mine "$tmp/m/v/mine"
check "umount" umount "$tmp/m"

# Volume data is the volume's own: a redirect (or origin) found in it never
# reaches into the union's layers (it used to merge the layer's directory)
mkdir -p "$tmp/l/lowsecret" "$tmp/bind/src/d" "$tmp/u" "$tmp/w"
echo secret >"$tmp/l/lowsecret/layer-file"
setfattr -n trusted.overlay.redirect -v /lowsecret "$tmp/bind/src/d"
check "mount with an upper and the bind volume" \
	mount -t cowfs none "$tmp/m" \
	-o "lowerdir=$tmp/l,upperdir=$tmp/u,workdir=$tmp/w,volume=hv-pin:/v"
out=$(ls -A "$tmp/m/v/d" 2>&1)
[ -z "$out" ]
result $? "a redirect in a volume merges no layer (lists: '$out')"
check "umount" umount "$tmp/m"
check "volume rm hv-pin" "$cowctl" volume rm hv-pin

# ---- a volume apart from the upper, work and store directories -------------

# The union's upperdir, a directory in it, its parent; the workdir: a
# container would write into them behind the union's back
mkdir -p "$tmp/ov/u/sub" "$tmp/ov/w" "$tmp/ov/ok"
for d in "$tmp/ov/u" "$tmp/ov/u/sub" "$tmp/ov" "$tmp/ov/w"; do
	"$cowctl" volume create --type bind --opt "device=$d" hv-ov >/dev/null ||
		{ result 1 "bind volume on $d"; continue; }
	out=$(mount -t cowfs none "$tmp/m" -o \
		"lowerdir=$tmp/l,upperdir=$tmp/ov/u,workdir=$tmp/ov/w,volume=hv-ov:/v" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && umount "$tmp/m"
	[ "$rc" = 32 ] && dmesg | tail -n 5 |
		grep -q "volume 'hv-ov': its directory overlaps the upperdir or workdir"
	result $? "a volume on ${d#"$tmp"/} is refused, with a reason ($out)"
	"$cowctl" volume rm hv-ov >/dev/null
done
"$cowctl" volume create --type bind --opt "device=$tmp/ov/ok" hv-ov >/dev/null
check "a volume beside them mounts" mount -t cowfs none "$tmp/m" -o \
	"lowerdir=$tmp/l,upperdir=$tmp/ov/u,workdir=$tmp/ov/w,volume=hv-ov:/v"
umount "$tmp/m" 2>/dev/null
"$cowctl" volume rm hv-ov >/dev/null

# The store, a directory in it, its parent: every volume's data
mkdir -p "$tmp/store/inside"
for d in "$tmp/store" "$tmp/store/inside" "$tmp"; do
	out=$("$cowctl" volume create --type bind --opt "device=$d" hv-ov 2>&1)
	rc=$?
	[ "$rc" = 1 ] && [[ $out == *"overlaps the volume store"* ]]
	result $? "a bind volume on ${d#"$tmp"/} is refused ($out)"
	[ "$rc" = 0 ] && "$cowctl" volume rm hv-ov >/dev/null
done

# ---- stacking depth through a volume --------------------------------------

if modprobe -q overlay 2>/dev/null && grep -qw overlay /proc/filesystems; then
	mkdir -p "$tmp/o"/{l,u,w,m} "$tmp/c"/{u,w,m} "$tmp/o/l/data/dir"
	echo deep >"$tmp/o/l/data/dir/f"
	# depth 1: overlayfs; depth 2: a cowfs on it
	mount -t overlay none "$tmp/o/m" \
		-o "lowerdir=$tmp/o/l,upperdir=$tmp/o/u,workdir=$tmp/o/w"
	check "cowfs over overlayfs (depth 2) mounts" \
		mount -t cowfs none "$tmp/c/m" -o "lowerdir=$tmp/o/m/data"
	check "bind volume on the depth-2 cowfs" \
		"$cowctl" volume create --type bind --opt "device=$tmp/c/m/dir" hv-bind
	# A union with that volume would be at depth 3
	out=$(mount -t cowfs none "$tmp/m" -o "lowerdir=$tmp/l,volume=hv-bind:/v" 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		umount "$tmp/m"
		result 1 "a union over a volume on a depth-2 filesystem is refused"
	else
		result 0 "a union over a volume on a depth-2 filesystem is refused"
	fi
	msg=$(dmesg | grep -c "is on a stacked filesystem: maximum fs stacking depth")
	[ "$msg" -ge 1 ]
	result $? "the refusal names the volume and the stacking depth"
	check "the volume is not left attached" "$cowctl" volume rm hv-bind
	umount "$tmp/c/m"
	umount "$tmp/o/m"
else
	say "no overlayfs: stacking depth not tested"
fi

# ---- 0/0 devices below a volume's root -----------------------------------

# On the union's upper filesystem (/tmp), and on a tmpfs of its own
for where in same other; do
	d=$tmp/wh-$where
	mkdir -p "$d" "$tmp/whu-$where" "$tmp/whw-$where"
	[ "$where" = same ] || mount -t tmpfs tmpfs "$d"
	mkdir -p "$d/vol/dir"
	mknod "$d/vol/f" c 0 0 && mknod "$d/vol/sub" c 0 0 &&
		mknod "$d/vol/dir/w" c 0 0 || skip "mknod of a 0/0 device failed"
	check "$where fs: bind volume hv-wh with 0/0 devices" \
		"$cowctl" volume create --type bind --opt "device=$d/vol" hv-wh
	check "$where fs: mount a union with it" mount -t cowfs none "$tmp/m" \
		-o "lowerdir=$tmp/l,upperdir=$tmp/whu-$where,workdir=$tmp/whw-$where,volume=hv-wh:/v"
	check "$where fs: the 0/0 devices are not listed" \
		sh -c "! ls -a '$tmp/m/v' '$tmp/m/v/dir' | grep -qxE 'f|sub|w'"
	check "$where fs: create a file at a 0/0 device's name" \
		sh -c "echo new >'$tmp/m/v/f'"
	check "$where fs: mkdir at another's" mkdir "$tmp/m/v/sub"
	check "$where fs: rmdir a directory that holds one" rmdir "$tmp/m/v/dir"
	check "$where fs: the file is in the volume" grep -qx new "$d/vol/f"
	out=$(getfattr -h -d -m - "$d/vol/sub" 2>&1)
	[ -d "$d/vol/sub" ] && ! echo "$out" | grep -q overlay
	result $? "$where fs: the directory is in the volume, without our xattrs ($out)"
	check "$where fs: the removed directory is gone from the volume" \
		test ! -e "$d/vol/dir"
	check "$where fs: nothing left in the union's workdir" \
		sh -c "[ -z \"\$(ls -A '$tmp/whw-$where/work')\" ]"
	umount "$tmp/m" 2>/dev/null
	"$cowctl" volume rm hv-wh >/dev/null 2>&1
done

echo "# $n checks, $nfail failed"
[ "$nfail" = 0 ]
