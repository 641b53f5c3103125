#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle test of one cowctl storage driver, run by the
# selftests/driver_<name>_test.sh wrappers (in the test VM, as root):
#
#   driver_lifecycle.sh DRIVER
#
#  1. image 'base' from a directory, image 'app' on top of it from a tar
#     with OCI whiteouts (.wh.NAME, .wh..wh..opq), image 'app2' from a
#     tar stream on stdin
#  2. the whiteouts in the driver's own form (union drivers: char device
#     0/0 and trusted.overlay.opaque; snapshot drivers: deleted)
#  3. container from 'app2': mounted view, write, delete, rename,
#     umount/mount keeps the changes, a second container does not see them
#  4. refusals: removing a used image, a mounted container
#  5. rm everything, 'driver destroy', and nothing leaks: no mounts under
#     the root, no loop devices on its files, no dm devices, no zpool,
#     no ROOT/DRIVER directory.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip (the driver cannot run
# here: its tools are not installed; the reason is printed).
set -u

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

drv=${1:?usage: driver_lifecycle.sh DRIVER}
repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}
t0=$SECONDS

say() { echo "# driver_$drv: $*"; }
skip() { say "SKIP: $*"; status=$KSFT_SKIP; exit $KSFT_SKIP; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ -x "$cowctl" ] || skip "$cowctl is not built (make cowctl)"
command -v python3 >/dev/null || skip "python3 not installed"

tmp=$(mktemp -d /tmp/cowctl-$drv.XXXXXX)
root=$tmp/root
export COWCTL_ROOT=$root COWCTL_DRIVER=$drv
status=$KSFT_FAIL
nfail=0
ncheck=0

cleanup() {
	# Best effort: leave nothing behind even when a check failed.
	"$cowctl" driver destroy >/dev/null 2>&1
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done 2>/dev/null
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT

check() { # DESC CMD...: CMD must succeed
	local desc=$1
	shift
	ncheck=$((ncheck + 1))
	if ! "$@"; then
		say "FAIL: $desc"
		nfail=$((nfail + 1))
	fi
}
cow() { # run cowctl, show its output on failure
	local out rc
	out=$("$cowctl" "$@" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || say "cowctl $* -> exit $rc: $out"
	COW_OUT=$out
	return $rc
}
must() { # cowctl ARGS must succeed, or the test stops
	cow "$@" || { say "FAIL: cowctl $* failed"; exit; }
}
absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }
content() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

# What the driver could leak, as text to compare before and after.
leaks() {
	local f
	# loop devices on files under our root
	for f in /sys/block/loop*/loop/backing_file; do
		[ -r "$f" ] || continue
		case $(cat "$f") in "$tmp"/*) echo "loop ${f%/loop/backing_file}: $(cat "$f")" ;; esac
	done
	# dm devices named by cowctl
	for f in /sys/block/dm-*/dm/name; do
		[ -r "$f" ] || continue
		case $(cat "$f") in cowctl-*) echo "dm $(cat "$f")" ;; esac
	done
	# zfs pools of cowctl
	if [ -d /proc/spl/kstat/zfs ]; then
		for f in /proc/spl/kstat/zfs/cowctl-*; do
			[ -e "$f" ] && echo "zpool ${f##*/}"
		done
	fi
	# mounts under our directory
	awk -v t="$tmp" 'index($5, t) == 1 { print "mount " $5 " (" $9 ")" }' \
		/proc/self/mountinfo
}

# ---- availability ------------------------------------------------------------

avail=$("$cowctl" -j driver status -d "$drv" 2>&1)
reason=$(printf '%s' "$avail" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("" if d["available"] else d.get("reason") or "not available")' 2>&1) ||
	{ say "FAIL: cowctl driver status is not JSON: $avail"; exit; }
[ -z "$reason" ] || skip "$drv driver not available: $reason"

before=$(leaks)

# ---- sources -------------------------------------------------------------------

src=$tmp/src
mkdir -p "$src/base/etc" "$src/base/dir/sub" "$src/base/var" \
	"$src/app/etc" "$src/app/dir" "$src/app2/var"
echo a >"$src/base/etc/a"
echo b >"$src/base/etc/b"
echo x >"$src/base/dir/sub/x"
echo y >"$src/base/dir/y"
echo gone >"$src/base/gone"
echo keep >"$src/base/var/keep"
ln -s etc/b "$src/base/link"
ln "$src/base/etc/b" "$src/base/etc/b.hard"
head -c 1048576 /dev/urandom >"$src/base/big"
chmod 0750 "$src/base/var"
chmod 0710 "$src/app2/var"
# app: whiteouts for gone and etc/a, dir made opaque, etc/c added
: >"$src/app/.wh.gone"
: >"$src/app/etc/.wh.a"
: >"$src/app/dir/.wh..wh..opq"
echo new >"$src/app/dir/new"
echo c >"$src/app/etc/c"
# app2: var/keep deleted, var/added added, file 'big' replaced by a dir
: >"$src/app2/var/.wh.keep"
echo added >"$src/app2/var/added"
mkdir "$src/app2/big"
echo inside >"$src/app2/big/inside"
tar -C "$src/app" -cf "$tmp/app.tar" .
tar -C "$src/app2" -cf "$tmp/app2.tar" .

# ---- images ----------------------------------------------------------------------

say "images (base from a directory, app from a tar, app2 from stdin)"
must image import base "$src/base"
must image import --parent base app "$tmp/app.tar"
cow image import --parent app app2 - <"$tmp/app2.tar" ||
	{ say "FAIL: import from stdin"; exit; }
check "import of a missing source fails" \
	bash -c "! '$cowctl' image import bad /nonexistent 2>/dev/null"
check "import of an existing name fails" \
	bash -c "! '$cowctl' image import base '$src/base' 2>/dev/null"
must -j image ls -s
check "image ls -s --json lists 3 images with sizes" python3 -c '
import json, sys
imgs = {i["name"]: i for i in json.loads(sys.argv[1])}
assert sorted(imgs) == ["app", "app2", "base"], imgs
assert imgs["app2"]["layers"] == 3 and imgs["app2"]["parent"] == "app"
assert all(isinstance(i["size"], int) for i in imgs.values()), imgs' "$COW_OUT"

case $drv in
cowfs | overlay2)
	l=$root/$drv/layers/app
	check "whiteout 'gone' is a char device 0/0" \
		test "$(stat -c '%F %t %T' "$l/gone" 2>/dev/null)" = "character special file 0 0"
	check "whiteout etc/a is a char device" test -c "$l/etc/a"
	check "dir is opaque (trusted.overlay.opaque=y)" \
		test "$(getfattr --only-values -n trusted.overlay.opaque "$l/dir" 2>/dev/null)" = y
	check "no .wh. files left in the layer" \
		test -z "$(find "$root/$drv/layers" -name '.wh.*')"
	;;
esac

# ---- containers ----------------------------------------------------------------

say "container c1 from app2: the merged view"
must container create app2 c1
must container mount c1
m=$COW_OUT
check "mount point printed" test -d "$m"
check "mounted" mountpoint -q "$m"
check "gone is whited out" absent "$m/gone"
check "etc/a is whited out" absent "$m/etc/a"
check "etc/b from base" content "$m/etc/b" b
check "etc/b.hard from base" content "$m/etc/b.hard" b
check "link from base" test "$(readlink "$m/link")" = etc/b
check "etc/c from app" content "$m/etc/c" c
check "opaque dir hides dir/y" absent "$m/dir/y"
check "opaque dir hides dir/sub" absent "$m/dir/sub"
check "dir/new from app" content "$m/dir/new" new
check "var/keep whited out by app2" absent "$m/var/keep"
check "var/added from app2" content "$m/var/added" added
check "var has the mode of the top layer's var (0710)" \
	test "$(stat -c %a "$m/var")" = 710
check "big: a file replaced by a directory" content "$m/big/inside" inside

say "writes"
check "overwrite etc/b" bash -c "echo changed >'$m/etc/b'"
check "append to dir/new" bash -c "echo more >>'$m/dir/new'"
check "create etc/d" bash -c "echo d >'$m/etc/d'"
check "delete etc/c" rm "$m/etc/c"
check "rename dir/new" mv "$m/dir/new" "$m/dir/renamed"
check "write 1 MiB" dd if=/dev/zero of="$m/zero" bs=64k count=16 status=none
sync
must container umount c1
check "unmounted" bash -c "! mountpoint -q '$m'"
must container mount c1
m=$COW_OUT
check "etc/b changed after remount" content "$m/etc/b" changed
check "etc/d after remount" content "$m/etc/d" d
check "etc/c deleted after remount" absent "$m/etc/c"
check "dir/renamed after remount" content "$m/dir/renamed" "$(printf 'new\nmore')"
check "zero file size" test "$(stat -c %s "$m/zero")" = 1048576

say "container c2 from app2 does not see c1's changes"
must container create app2 c2
mkdir -p "$tmp/c2mnt"
must container mount c2 "$tmp/c2mnt"
check "c2: etc/b untouched" content "$tmp/c2mnt/etc/b" b
check "c2: etc/c still there" content "$tmp/c2mnt/etc/c" c
check "c2: no etc/d" absent "$tmp/c2mnt/etc/d"

must -j container ls -s
check "container ls -s --json" python3 -c '
import json, sys
c = {i["name"]: i for i in json.loads(sys.argv[1])}
assert sorted(c) == ["c1", "c2"], c
assert c["c1"]["image"] == "app2" and c["c1"]["mountpoint"]
assert c["c1"]["size"] >= 1048576, c["c1"]' "$COW_OUT"
must -j driver df
check "driver df --json" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["used"] > 0 and d["total"] >= d["used"] and d["containers"] == 2, d' "$COW_OUT"
must driver status
say "status: $(echo "$COW_OUT" | tr '\n' '|')"

say "refusals"
check "rm of a used image is refused" bash -c "! '$cowctl' image rm app 2>/dev/null"
check "rm of a mounted container is refused" \
	bash -c "! '$cowctl' container rm c1 2>/dev/null"
check "a second mount is refused" bash -c "! '$cowctl' container mount c1 2>/dev/null"

say "down and up again"
must driver down
check "c1 unmounted by down" bash -c "! mountpoint -q '$m'"
must container mount c1
m=$COW_OUT
check "etc/d after down/up" content "$m/etc/d" d

say "remove everything"
must container rm -f c1 c2
must image rm app2
must image rm app base
must -j image ls
check "no images left" test "$COW_OUT" = "[]"
must driver destroy
check "ROOT/$drv removed" absent "$root/$drv"

# (no process substitution: the guest has no /dev/fd)
printf '%s\n' "$before" | sort >"$tmp/leaks.before"
leaks | sort >"$tmp/leaks.after"
leaked=$(comm -13 "$tmp/leaks.before" "$tmp/leaks.after" | sed '/^$/d')
check "nothing leaked${leaked:+: $leaked}" test -z "$leaked"

if [ "$nfail" -eq 0 ]; then
	say "all $ncheck checks passed ($((SECONDS - t0))s)"
	status=$KSFT_PASS
else
	say "$nfail of $ncheck checks failed"
fi
