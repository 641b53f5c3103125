#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of cowctl's storage driver commands (image, container,
# driver): help, usage errors and their exit codes, JSON output, and, as
# root on a kernel with overlayfs, the overlay2 driver end to end in a
# private mount namespace.  The other drivers run in the VM
# (selftests/driver_*_test.sh).
#
#   tests/drivers.sh [PATH-TO-COWCTL]
set -u

here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --e2e ]; then	# internal: inside the mount namespace
	e2e=1
	shift
fi
COWCTL=${1:-$here/../cowctl}
COWCTL=$(cd "$(dirname "$COWCTL")" && pwd)/$(basename "$COWCTL")
tmp=$(mktemp -d /tmp/cowctl-drv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export COWCTL_ROOT=$tmp/root
unset COWCTL_DRIVER

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; sed 's/^/    /' "$tmp/err" | head -5; }
run() { "$COWCTL" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
expect() { local want=$1; shift; run "$@"; [ "$rc" -eq "$want" ] && ok || bad "cowctl $* exited $rc, wanted $want"; }
has() { local f=$tmp/$1; grep -Eq -- "$2" "$f" && ok || bad "$3: $1 lacks /$2/"; }
json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" 2>/dev/null && ok || bad "$* is not JSON"; }

if [ -z "${e2e:-}" ]; then
	for c in "image" "image import" "image ls" "image rm" "container" \
		"container create" "container mount" "container umount" \
		"container rm" "container ls" "driver" "driver ls" \
		"driver status" "driver up" "driver down" "driver destroy" \
		"driver df"; do
		# shellcheck disable=SC2086
		expect 0 $c --help
		has out '^Usage: cowctl' "cowctl $c --help"
	done
	expect 2 image
	expect 2 image import
	has err "needs NAME and SOURCE" "import without arguments"
	expect 2 image import 'bad/name' /tmp
	has err "not valid" "bad image name"
	expect 2 container create onlyone
	expect 2 container mount
	expect 2 driver up -o novalue
	expect 2 image ls --bogus
	expect 1 image import -d nosuch x /tmp
	has err "unknown storage driver 'nosuch'" "unknown driver"
	expect 1 image import -d aufs x /tmp
	has err "aufs is not in mainline Linux" "aufs"
	expect 1 image import x /nonexistent
	has err "cannot import '/nonexistent'" "missing source"
	expect 0 -j driver ls
	json "driver ls"
	has out '"name":"aufs","available":false' "driver ls lists aufs"
	for d in cowfs overlay2 devicemapper btrfs zfs; do
		expect 0 -j driver status -d $d
		json "driver status -d $d"
	done
	expect 0 -j info
	json "info"
	has out '"storage_driver":\{"name":"cowfs"' "info shows the storage driver"
	expect 0 info
	has out '^Storage Driver: cowfs' "info text"
	has out 'aufs +not available: aufs is not in mainline Linux' "info aufs line"
	expect 0 -j image ls
	has out '^\[\]$' "no images in an empty root"
	[ ! -e "$COWCTL_ROOT" ] && ok || bad "ls/status created $COWCTL_ROOT"

	if [ "$(id -u)" = 0 ] && grep -qw overlay /proc/filesystems &&
		command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
		unshare -m "$0" --e2e "$COWCTL"
		e=$?
		[ $e -eq 0 ] && ok || { fail=$((fail + 1)); echo "FAIL: overlay2 end to end"; }
	else
		echo "SKIP: overlay2 end to end (needs root, overlayfs and unshare)"
	fi
	echo "cowctl-drivers: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
fi

# ---- overlay2 end to end (in a private mount namespace) ----------------------
export COWCTL_DRIVER=overlay2
mkdir -p "$tmp/src/etc" "$tmp/l2/etc"
echo a >"$tmp/src/etc/a"
echo b >"$tmp/src/etc/b"
: >"$tmp/l2/etc/.wh.a"
echo c >"$tmp/l2/etc/c"
tar -C "$tmp/l2" -cf "$tmp/l2.tar" .
expect 0 image import base "$tmp/src"
expect 0 image import --parent base app "$tmp/l2.tar"
expect 0 container create app c1
expect 0 container mount c1
m=$(cat "$tmp/out")
[ -e "$m/etc/b" ] && [ ! -e "$m/etc/a" ] && [ -e "$m/etc/c" ] && ok ||
	bad "overlay2: merged view of $m"
expect 1 image rm base
expect 1 container rm c1
expect 0 container rm --force c1
expect 0 image rm app base
expect 0 driver destroy
[ ! -e "$COWCTL_ROOT/overlay2" ] && ok || bad "destroy left $COWCTL_ROOT/overlay2"
[ "$fail" -eq 0 ]
