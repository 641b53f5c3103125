#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Volumes in unions the kernel must survive (issue 11):
#
#   no upper    a volume attached to a read-only union (no upperdir):
#               entering and reading it works (permission() used to take
#               the idmap of the union's upper mount, which is NULL
#               there: an oops at the first 'cd')
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

[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ -x "$cowctl" ] || skip "$cowctl is not built (make cowctl)"
grep -qw cowfs /proc/filesystems || skip "the cowfs module is not loaded"

tmp=$(mktemp -d /tmp/volume-hostile.XXXXXX)
n=0
nfail=0
old_store=$("$cowctl" config get 2>/dev/null | sed -n 's/^store: //p')

cleanup() {
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done 2>/dev/null
	for v in hv-ro hv-bind; do "$cowctl" volume rm -f "$v" >/dev/null 2>&1; done
	[ -z "$old_store" ] || "$cowctl" config set --store "$old_store" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

result() { # OK(0/1) DESC
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		nfail=$((nfail + 1))
	fi
}
check() { # DESC CMD...
	local desc=$1
	shift
	"$@" >"$tmp/out" 2>&1
	local rc=$?
	[ "$rc" = 0 ] || sed 's/^/#   /' "$tmp/out"
	result "$rc" "$desc"
}

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

echo "# $n checks, $nfail failed"
[ "$nfail" = 0 ]
