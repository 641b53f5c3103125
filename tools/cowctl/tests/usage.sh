#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests for cowctl: usage, exit codes, help, JSON validity, mountinfo
# parsing, memory errors (valgrind), and the mount path and the netlink
# commands (volume, inspect, events, config) failing cleanly without the
# module.  Needs no cowfs module; the commands that need it are tested in
# the VM by selftests/cowctl_test.sh.
#
#   tests/usage.sh [PATH-TO-COWCTL]       (default: ../cowctl beside this dir)
#
# When run as root on a kernel with overlayfs, the mount/ls/umount path is
# also run end to end against overlay (COWCTL_FSTYPE=overlay), with 500
# layers, inside a private mount namespace (unshare -m) so nothing leaks.
# COWCTL_TEST_VALGRIND=0 skips the valgrind runs.
#
# Exit status 0 when every test passed; each failure is printed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
mode=all
if [ "${1:-}" = --e2e-only ]; then	# internal: inside the mount namespace
	mode=e2e
	shift
fi
COWCTL=${1:-$here/../cowctl}
COWCTL=$(cd "$(dirname "$COWCTL")" && pwd)/$(basename "$COWCTL")
if [ ! -x "$COWCTL" ]; then
	echo "usage.sh: no cowctl at $COWCTL (run make first)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/cowctl-test.XXXXXX)
cleanup() {
	# Mounts left by a failed end-to-end test, innermost first.
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

pass=0
fail=0
skip=0
out=$tmp/out
err=$tmp/err

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
	if [ -s "$out" ]; then echo "  stdout:"; sed 's/^/    /' "$out" | head -20; fi
	if [ -s "$err" ]; then echo "  stderr:"; sed 's/^/    /' "$err" | head -20; fi
}
skipped() { skip=$((skip + 1)); echo "SKIP: $*"; }

# run ARGS...: run cowctl, stdout to $out, stderr to $err, status in $rc.
run() {
	"$COWCTL" "$@" >"$out" 2>"$err"
	rc=$?
}

# expect RC ARGS...: run cowctl and check its exit status.
expect() {
	local want=$1
	shift
	run "$@"
	if [ "$rc" -eq "$want" ]; then ok; else bad "cowctl $* exited $rc, wanted $want"; fi
}

# has FILE REGEX DESC: FILE (out or err) matches the extended REGEX.
has() {
	local f=$out
	[ "$1" = err ] && f=$err
	if grep -Eq -- "$2" "$f"; then ok; else bad "$3: $1 lacks /$2/"; fi
}

# empty FILE DESC
empty() {
	local f=$out
	[ "$1" = err ] && f=$err
	if [ ! -s "$f" ]; then ok; else bad "$2: $1 is not empty"; fi
}

# json DESC [PYTHON-EXPR]: stdout is valid JSON (and EXPR on it, as d, holds).
json() {
	local expr=${2:-True}
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 3)' "$out" "$expr" 2>"$tmp/pyerr"; then
		ok
	else
		bad "$1: stdout is not JSON with $expr ($(tail -1 "$tmp/pyerr"))"
	fi
}

# --- end to end against overlayfs, in a private mount namespace --------------

overlay_e2e() {
	local d=$tmp/e2e args=() i
	export COWCTL_FSTYPE=overlay
	mkdir -p "$d/up" "$d/wk" "$d/m" "$d/m500" "$d/l:colon"
	echo colon >"$d/l:colon/c"
	for i in $(seq 1 500); do
		mkdir "$d/layer-$i"
		echo "$i" >"$d/layer-$i/f$i"
		args+=(--layer "$d/layer-$i")
	done

	expect 0 -j mount "${args[@]}" "$d/m500"
	json "mount 500 layers" 'len(d["layers"]) == 500 and d["upper"] is None'
	if [ "$(ls "$d/m500" | wc -l)" -eq 500 ]; then ok; else bad "500-layer union shows $(ls "$d/m500" | wc -l) files"; fi

	expect 0 mount --layer "$d/layer-1" --lowerdir "$d/l\\:colon:$d/layer-2" -u "$d/up" -w "$d/wk" "$d/m"
	empty out "mount in text mode"
	if [ -f "$d/m/f1" ] && [ -f "$d/m/c" ] && [ -f "$d/m/f2" ]; then ok; else bad "union misses files"; fi
	echo new >"$d/m/new" && [ -f "$d/up/new" ] && ok || bad "write did not reach upper"

	expect 0 -j ls
	json "ls with live mounts" 'len(d) == 2 and len(d[0]["layers"]) == 500 and d[1]["layers"][1].endswith("/l:colon") and d[1]["upper"].endswith("/up") and d[1]["id"] is None and d[1]["copy_ups"] is None'
	expect 0 ls
	has out "l\\\\:colon" "ls escapes ':'"

	expect 1 mount --layer "$d/nope" --layer "$d/layer-1" "$d/m"
	has err "^cowctl: mount failed: cannot add layer '.*/nope': No such file or directory$" "mount a missing layer"
	expect 1 mount --layer "$d/layer-1" -o frob=1 "$d/m"
	has err "^cowctl: kernel: overlay: " "kernel messages are shown"
	expect 1 mount --layer "$d/layer-1" --layer "$d/layer-2" "$d/missing"
	has err "cannot attach it at '.*/missing': No such file or directory" "mount on a missing target"

	mkdir -p "$d/t"
	mount -t tmpfs cowctl-test "$d/t"
	expect 1 umount "$d/t"
	has err "is not a overlay mount \(its filesystem is tmpfs\)|is not a overlay mount" "umount refuses tmpfs"
	umount "$d/t"

	(cd "$d/m" && "$COWCTL" umount "$d/m" >"$out" 2>"$err"; echo $? >"$tmp/rc")
	rc=$(cat "$tmp/rc")
	if [ "$rc" -eq 1 ] && grep -q 'Device or resource busy' "$err" && grep -q -- '--lazy' "$err"; then ok; else bad "busy umount exited $rc"; fi
	expect 0 -j complete "$d/m"
	json "complete an overlay union" 'd["found"] == 0 and d["upper"].endswith("/up") and d["files"] == []'
	expect 0 complete -n "$d/m/"
	has out '^0 partial files in .*/up$' "complete --dry-run of an overlay union"
	expect 0 -j complete --upper "$d/up" --lower "$d/layer-1"
	json "complete --upper without partial files" 'd["found"] == 0 and d["target"] is None and d["upper"].endswith("/up")'
	expect 0 complete -n --upper "$d/up" --lower "$d/layer-1" --workdir "$d/wk"
	has out '^0 partial files in .*/up$' "complete --upper --dry-run"
	setfattr -n user.overlay.cowfs.partial -v x "$d/up/new" 2>/dev/null && {
		expect 1 complete --upper "$d/up" --lower "$d/layer-1"
		has err "with user.overlay.cowfs.partial but none with trusted.overlay.cowfs.partial: .*add -o userxattr" "complete --upper written with userxattr"
		expect 1 complete -o userxattr --upper "$d/up" --lower "$d/layer-1"
		has err 'has 1 partial file: .*give --workdir DIR' "complete --upper needs --workdir"
		setfattr -x user.overlay.cowfs.partial "$d/up/new"
	}
	expect 1 complete "$d/m500"
	has err "has no upper layer" "complete a union without upper"
	expect 0 umount "$d/m500/"
	expect 0 umount -l "$d/m"
	expect 0 -j ls
	json "ls after umount" 'd == []'
}

if [ "$mode" = e2e ]; then
	overlay_e2e
	echo "e2e: $pass $fail"
	exit 0
fi

# --- help, version -----------------------------------------------------------

cmds="mount umount ls info inspect volume events config help composefs complete"
subcmds="volume create|volume ls|volume inspect|volume rm|volume prune|config get|config set|composefs build"

expect 0 --help
has out '^Usage: cowctl \[OPTIONS\] COMMAND' "--help synopsis"
for c in $cmds; do
	has out "^  $c  " "--help lists $c"
done
has out 'Exit status' "--help exit codes"
empty err "--help"

expect 0 -h
expect 0 help
has out '^Commands:' "help lists commands"

expect 0 -V
has out '^cowctl [0-9]+\.[0-9]+\.[0-9]+$' "-V"
expect 0 --version
expect 0 -j -V
json "-j -V" 'd["version"].count(".") == 2'

for c in $cmds; do
	expect 0 "$c" --help
	has out "^Usage: cowctl $c" "$c --help"
	empty err "$c --help"
	expect 0 "$c" -h
	expect 0 help "$c"
	has out "^Usage: cowctl $c" "help $c"
done
IFS='|' read -r -a subs <<<"$subcmds"
for sc in "${subs[@]}"; do
	# shellcheck disable=SC2086
	expect 0 $sc --help
	has out "^Usage: cowctl $sc" "$sc --help"
	empty err "$sc --help"
	# shellcheck disable=SC2086
	expect 0 help $sc
	has out "^Usage: cowctl $sc" "help $sc"
done
for g in volume config; do
	has_sub=$("$COWCTL" "$g" --help | sed -n '/^Commands:/,/^$/p' | grep -c '^  [a-z]')
	[ "$has_sub" -ge 2 ] && ok || bad "$g --help lists no commands"
done
expect 0 volume --help
has out '^  create  ' "volume --help lists create"
if grep -q '^  list ' "$out"; then bad "volume --help lists the alias 'list'"; else ok; fi
expect 0 help volume create
has out -- '--type local\|bind\|tmpfs' "volume create help: --type"
has out -- '--opt KEY' "volume create help: --opt"
has out -- '--label KEY' "volume create help: --label"
expect 0 help volume ls
has out -- 'dangling=true\|false' "volume ls help: dangling"
has out -- 'label=KEY\[=VALUE\]' "volume ls help: label"
has out -- '-q, --quiet' "volume ls help: -q"
expect 0 help volume rm
has out -- '-f, --force' "volume rm help: -f"
expect 0 help events
has out -- '-c, --count N' "events help: --count"

expect 0 help mount
has out -- '--layer DIR' "mount help: --layer"
has out -- '--lowerdir A:B:C' "mount help: --lowerdir"
has out -- '--upper DIR' "mount help: --upper"
has out -- '--work DIR' "mount help: --work"
has out -- '--volume NAME:PATH' "mount help: --volume"
has out -- '-o, --option' "mount help: -o"
expect 0 help umount
has out -- '--lazy' "umount help: --lazy"

# prefixes, ip(8) style
expect 0 m --help
has out '^Usage: cowctl mount' "'m' is mount"
expect 0 u --help
has out '^Usage: cowctl umount' "'u' is umount"
expect 0 i --help
has out '^Usage: cowctl info' "'i' is info"
expect 0 help l
has out '^Usage: cowctl ls' "'help l' is ls"
expect 0 ins --help
has out '^Usage: cowctl inspect' "'ins' is inspect"
expect 0 v --help
has out '^Usage: cowctl volume' "'v' is volume"
expect 0 v c --help
has out '^Usage: cowctl volume create' "'v c' is volume create"
expect 0 volume list --help
has out '^Usage: cowctl volume ls' "'volume list' is volume ls"
expect 0 e --help
has out '^Usage: cowctl events' "'e' is events"
expect 0 conf --help
has out '^Usage: cowctl config' "'conf' is config"
expect 0 c --help
has out '^Usage: cowctl container' "'c' is still container"
expect 0 com b --help
has out '^Usage: cowctl composefs build' "'com b' is composefs build"
expect 0 comple --help
has out '^Usage: cowctl complete' "'comple' is complete"

# the man page and the bash completion know every command and long option
man=$here/../man/cowctl.8
comp=$here/../completion/cowctl.bash
for c in mount umount ls info inspect events help complete "${subs[@]}"; do
	grep -q "^\.SS cowctl $c" "$man" && ok || bad "man page lacks a section for $c"
	for w in $c; do
		grep -qw "$w" "$comp" && ok || bad "completion lacks $w"
	done
	# shellcheck disable=SC2086
	"$COWCTL" $c --help | grep -oE -- '--[a-z][a-z-]*' | sort -u |
		while read -r o; do
			grep -qF -- "\\-\\-${o#--}" "$man" || echo "man page lacks $c $o"
			[ "$c" = help ] || grep -qF -- " $o" "$comp" || echo "completion lacks $c $o"
		done >"$tmp/doc"
	[ -s "$tmp/doc" ] && bad "$(cat "$tmp/doc")" || ok
done
if command -v man >/dev/null; then
	man --warnings -E UTF-8 -l "$man" 2>"$tmp/manerr" >/dev/null
	[ -s "$tmp/manerr" ] && bad "man page warnings: $(head -3 "$tmp/manerr")" || ok
fi
bash -n "$comp" && ok || bad "completion has bash syntax errors"

# --- bad usage: exit 2, a sentence, a pointer to --help ------------------------

usage() {
	local desc=$1
	shift
	expect 2 "$@"
	has err '^cowctl: ' "$desc: message"
	has err "^Try 'cowctl( [a-z]+){0,2} --help' for " "$desc: points at --help"
	empty out "$desc"
}

usage "no command"
has err 'no command given' "no command"
usage "unknown command" frobnicate
has err "unknown command 'frobnicate'" "unknown command"
has err "Try 'cowctl --help'" "unknown command points at --help"
usage "empty command" ""
usage "unknown global option" --frob
has err "unknown option '--frob'" "unknown global option"
usage "unknown short global option" -Z ls
has err "unknown option '-Z'" "unknown short global option"
usage "help of an unknown command" help frobnicate
usage "unknown help option" help --frob

usage "mount without TARGET" mount --layer /a
has err 'missing TARGET' "mount without TARGET"
has err "Try 'cowctl mount --help'" "mount usage points at mount --help"
usage "mount without layers" mount /mnt
has err 'no lower layer' "mount without layers"
usage "mount two targets" mount --layer /a /mnt /other
has err "unexpected argument '/other'" "mount two targets"
usage "--layer without argument" mount --layer
has err "option '--layer' needs an argument" "--layer without argument"
usage "-l without argument" mount -l
has err "option '-l' needs an argument" "-l without argument"
usage "mount unknown option" mount --frob /mnt
has err "unknown option '--frob'" "mount unknown option"
usage "mount unknown option with value" mount --frob=1 /mnt
has err "unknown option '--frob'" "mount unknown option with value"
usage "relative layer" mount --layer rel/dir /mnt
has err "layer path 'rel/dir' must be absolute" "relative layer"
usage "relative layer in --lowerdir" mount --lowerdir /a:rel /mnt
has err "layer path 'rel' must be absolute" "relative --lowerdir layer"
usage "empty layer in --lowerdir" mount --lowerdir /a::/b /mnt
has err 'empty layer' "empty --lowerdir layer"
usage "trailing colon in --lowerdir" mount --lowerdir /a: /mnt
usage "empty --layer" mount --layer "" /mnt
has err 'layer path is empty' "empty --layer"
usage "relative upper" mount --layer /a -u up -w /w /mnt
has err "upper directory path 'up' must be absolute" "relative upper"
usage "upper without work" mount --layer /a --upper /u /mnt
has err -- '--upper needs --work' "upper without work"
usage "work without upper" mount --layer /a --work /w /mnt
has err -- '--work needs --upper' "work without upper"
usage "upper twice" mount --layer /a -u /u -u /v -w /w /mnt
has err -- '--upper was given twice' "upper twice"
usage "bad volume" mount --layer /a --volume novolume /mnt
has err 'is not NAME:/path' "bad volume"
usage "volume without name" mount --layer /a --volume :/x /mnt
usage "relative volume" mount --layer /a --volume v:rel /mnt
has err "volume path 'rel' must be absolute" "relative volume"
usage "bad layer after -j" mount -j -l rel /mnt
usage "bad --lowerdir after --json" mount --json --lowerdir rel /mnt
usage "bad volume after -j" mount -j --volume x /mnt
usage "-o without key" mount --layer /a -o =x /mnt
usage "empty -o" mount --layer /a -o "" /mnt

long=/$(head -c 5000 /dev/zero | tr '\0' a)
usage "too long layer" mount --layer "$long" /mnt
has err 'is too long \(5001 bytes; the limit is 4095\)' "too long layer"
usage "too long layer in --lowerdir" mount --lowerdir "/a:$long" /mnt
usage "too long target" mount --layer /a "$long"
has err 'TARGET .* is too long' "too long target"
usage "too long volume" mount --layer /a --volume "v:$long" /mnt

usage "umount without TARGET" umount
has err 'missing TARGET' "umount without TARGET"
usage "umount two targets" umount /a /b
usage "umount unknown option" umount -x /a
has err "unknown option '-x'" "umount unknown option"
usage "--lazy with a value" umount --lazy=yes /a
has err "option '--lazy' does not take an argument" "--lazy with a value"
usage "umount too long" umount "$long"

usage "ls with an argument" ls extra
usage "ls unknown option" ls --frob
usage "ls -F without file" ls -F
usage "info with an argument" info extra
usage "info unknown option" info -x

usage "inspect without MOUNT" inspect
has err 'missing MOUNT' "inspect without MOUNT"
usage "inspect empty MOUNT" inspect ""
usage "inspect unknown option" inspect --frob /mnt
usage "inspect too long" inspect "$long"

usage "complete without MOUNTPOINT" complete
has err 'missing MOUNTPOINT' "complete without MOUNTPOINT"
usage "complete two paths" complete /a /b
has err "unexpected argument '/b'" "complete two paths"
usage "complete empty MOUNTPOINT" complete ""
usage "complete unknown option" complete --frob /mnt
usage "--dry-run with a value" complete --dry-run=yes /mnt
usage "complete too long" complete "$long"
usage "complete --upper without --lower" complete --upper /u
has err -- '--upper needs --lower' "complete --upper without --lower"
usage "complete --lower without --upper" complete --lower /l
has err -- '--lower needs --upper' "complete --lower without --upper"
usage "complete --upper and a MOUNTPOINT" complete --upper /u --lower /l /mnt
usage "complete relative --upper" complete --upper up --lower /l
has err "upper directory path 'up' must be absolute" "complete relative --upper"
usage "complete --upper, -o without key" complete --upper /u --lower /l -o =x
expect 1 complete "$tmp"
has err "^cowctl: '$tmp' is not in a cowfs union \\(its filesystem is [a-z0-9]+\\)\$" "complete a directory that is not in a union"
empty out "complete a directory that is not in a union"
expect 1 -j complete "$tmp/does-not-exist"
has err "cannot complete '$tmp/does-not-exist': No such file or directory" "complete a missing path"

usage "volume without command" volume
has err 'missing volume command' "volume without command"
has err "Try 'cowctl volume --help'" "volume points at volume --help"
usage "unknown volume command" volume frob
has err "unknown volume command 'frob'" "unknown volume command"
usage "volume unknown option" volume --frob
usage "volume -j without command" volume -j
usage "volume create without NAME" volume create
has err 'missing NAME' "volume create without NAME"
has err "Try 'cowctl volume create --help'" "volume create points at its help"
usage "volume create two names" volume create a b
usage "volume create bad name" volume create 'a/b'
has err "'a/b' is not a valid volume name" "bad volume name"
usage "volume create name starting with a dot" volume create .hidden
usage "volume create name too long" volume create "$(head -c 129 /dev/zero | tr '\0' a)"
usage "volume create unknown type" volume create --type nfs v
has err "unknown volume type 'nfs'" "unknown volume type"
usage "bind without device" volume create --type bind v
has err 'needs its directory: --opt device=DIR' "bind without device"
usage "device for local" volume create --opt device=/srv v
has err 'is for bind volumes' "device for local"
usage "relative device" volume create --type bind --opt device=rel v
has err "device path 'rel' must be absolute" "relative device"
usage "tmpfs bad size" volume create --type tmpfs --opt size=lots v
has err "is not a size" "tmpfs bad size"
usage "tmpfs tiny size" volume create --type tmpfs --opt size=100 v
has err "too small" "tmpfs tiny size"
usage "label without key" volume create --label =x v
usage "empty --opt" volume create --opt "" v
usage "label twice" volume create --label a=1 --label a=2 v
has err -- "--label a was given twice" "label twice"
usage "volume ls with an argument" volume ls extra
usage "volume ls unknown filter" volume ls --filter color=red
has err "unknown filter 'color'" "unknown filter"
usage "volume ls filter without =" volume ls --filter dangling
usage "volume ls bad dangling" volume ls --filter dangling=maybe
usage "volume ls conflicting dangling" volume ls -f dangling=true -f dangling=false
usage "volume ls empty label filter" volume ls --filter label=
usage "volume ls bad type filter" volume ls --filter type=nfs
usage "volume inspect without NAME" volume inspect
usage "volume inspect bad name" volume inspect ok 'no/pe'
usage "volume rm without NAME" volume rm
usage "volume rm bad name" volume rm -f ''
usage "volume rm unknown option" volume rm --all x
usage "volume prune with an argument" volume prune x
usage "volume prune unknown option" volume prune --all

usage "events with an argument" events extra
usage "events zero count" events -c 0
usage "events bad count" events --count many
usage "events negative count" events --count -1
usage "events count without value" events --count

usage "config without command" config
usage "config get with an argument" config get extra
usage "composefs without command" composefs
has err 'missing composefs command' "composefs without command"
usage "composefs build without OBJECTS" composefs build /a /b
has err 'composefs build needs SRC, META and OBJECTS' "composefs build without OBJECTS"
usage "composefs build with four paths" composefs build /a /b /c /d
has err 'too many arguments' "composefs build with four paths"
usage "composefs build unknown option" composefs build --frob /a /b /c
has err "unknown option '--frob'" "composefs build unknown option"
expect 1 composefs build "$tmp/nosrc" "$tmp/cfs-meta" "$tmp/cfs-obj"
has err "^cowctl: cannot open SRC '.*/nosrc': No such file or directory$" "composefs build of a missing SRC"
mkdir -p "$tmp/cfs-src" "$tmp/cfs-full"
echo x >"$tmp/cfs-src/f"
touch "$tmp/cfs-full/old"
expect 1 composefs build "$tmp/cfs-src" "$tmp/cfs-full" "$tmp/cfs-obj"
has err "^cowctl: META '.*/cfs-full' is not empty \(it has 'old'\): give an empty or absent directory$" "composefs build into a full META"
[ ! -e "$tmp/cfs-obj" ] && ok || bad "composefs build into a full META made OBJECTS"
if [ "$(stat -f -c %T "$tmp")" = tmpfs ]; then
	expect 1 composefs build "$tmp/cfs-src" "$tmp/cfs-meta" "$tmp/cfs-obj"
	has err "^cowctl: OBJECTS '.*/cfs-obj' is on a filesystem without fs-verity: use ext4 made with -O verity" "composefs build without fs-verity"
fi
usage "config set without --store" config set
has err 'give --store DIR' "config set without --store"
usage "config set relative store" config set --store rel
usage "unknown config command" config frob

# --- failures: exit 1 ---------------------------------------------------------

expect 1 umount "$tmp/does-not-exist"
has err "cannot unmount '.*': No such file or directory" "umount a missing path"
expect 1 umount "$tmp"
has err 'is not a mount point' "umount a plain directory"
root_fs=$(awk '$5 == "/" { for (i = 7; i < NF; i++) if ($i == "-") t = $(i + 1) }
	END { print t }' /proc/self/mountinfo)
if [ -n "$root_fs" ] && [ "$root_fs" != cowfs ]; then
	expect 1 umount /
	has err "'/' is not a cowfs mount \(its filesystem is $root_fs\)" "umount /"
fi
expect 1 ls -F "$tmp/does-not-exist"
has err "cannot read .*: No such file or directory" "ls -F missing file"

# The netlink commands without the module: one sentence that says how to
# load it, exit 1, nothing on stdout (not even with -j).
if grep -qw cowfs /proc/filesystems; then
	skipped "the cowfs module is loaded here: not testing the netlink commands without it"
else
	notloaded="^cowctl: the cowfs kernel module is not loaded \(load it with 'modprobe cowfs' or 'insmod kernel/cowfs.ko'\)$"
	for args in "volume ls" "-j volume ls" "volume create v" \
		"volume inspect v" "volume rm v" "volume rm -f v" \
		"volume prune -f" "inspect /" "-j inspect 1" "events" \
		"-j events -c 1" "config get" "config set --store /tmp"; do
		# shellcheck disable=SC2086
		expect 1 $args
		has err "$notloaded" "$args without the module"
		empty out "$args without the module"
	done
fi

# The mount path without the module: fsopen() fails with ENODEV (or EPERM
# when not privileged); either way a sentence and exit 1.
if grep -qw cowfs /proc/filesystems; then
	skipped "the cowfs module is loaded here: not testing mount without it"
else
	mkdir -p "$tmp/l1" "$tmp/mnt"
	expect 1 mount --layer "$tmp/l1" "$tmp/mnt"
	if [ "$(id -u)" -eq 0 ]; then
		has err "^cowctl: the cowfs filesystem is not available: load the module with 'modprobe cowfs' or 'insmod kernel/cowfs.ko'$" "mount without the module"
	else
		has err "^cowctl: (the cowfs filesystem is not available|mount failed: .*Operation not permitted)" "mount without the module"
	fi
	empty out "mount without the module"
	expect 1 -j mount --layer "$tmp/l1" "$tmp/mnt"
	empty out "-j mount without the module"
fi

# A failed write to stdout is a failure, not a silent success.
if [ -w /dev/full ]; then
	"$COWCTL" --help >/dev/full 2>"$err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q 'cannot write the output' "$err"; then ok; else bad "--help >/dev/full exited $rc"; fi
fi

# --- JSON ----------------------------------------------------------------------

expect 0 -j ls -F /dev/null
json "-j ls of nothing" 'd == []'
expect 0 ls -F /dev/null
empty out "ls of nothing"
expect 0 -j info
json "-j info" 'd["version"] and isinstance(d["module_loaded"], bool) and isinstance(d["filesystem_registered"], bool) and isinstance(d["sysfs_module"], bool) and isinstance(d["netlink_family"], bool) and "netlink_family_id" in d'
expect 0 info -j
json "info -j"
expect 0 -j -p info
json "-j -p info"
expect 0 info
has out '^cowctl version: +[0-9]' "info text"
has out '^module loaded: +(yes|no)$' "info text module"
expect 0 -j ls
json "-j ls of this host" 'isinstance(d, list)'
expect 0 ls --json
json "ls --json" 'isinstance(d, list)'

# mountinfo parsing, from a file in mountinfo's format:
#  - layers in lowerdir= with ':' escaped as '\:' (and '\' as \134 by
#    seq_show_option), octal escapes for space, comma, tab, newline;
#  - layers given one per lowerdir+= (overlayfs style);
#  - a read-only mount without upper; a line with an empty source field;
#  - a byte that is not UTF-8; no super options; other filesystems and
#    junk lines (skipped).
mi=$tmp/mountinfo
{
	echo '22 27 0:21 / /proc rw,relatime - proc proc rw'
	echo 'not a mountinfo line'
	echo '100 27 0:50 / /mnt/u\040nion rw,relatime shared:5 - cowfs cowfs rw,lowerdir=/l/top:/l/with\134:colon:/l/sp\040ace:/l/back\134\134slash:/l/\134x,upperdir=/up\054comma,workdir=/wk'
	echo '101 27 0:51 / /mnt/ro ro,relatime - cowfs none ro,lowerdir+=/a,lowerdir+=/b:c,lowerdir+=/tab\011here'
	echo '102 27 0:52 / /mnt/new\012line rw - cowfs  rw,lowerdir=/bad\377byte'
	echo '103 27 0:53 / /mnt/other rw - overlay overlay rw,lowerdir=/x:/y'
	echo '104 27 0:54 / /mnt/short rw - cowfs none'
	echo '105 27 0:55 / /mnt/truncated rw - cowfs'
} >"$mi"

expect 0 -j ls -F "$mi"
json "ls -F mountinfo" 'len(d) == 4'
json "ls: first mount" 'd[0]["target"] == "/mnt/u nion" and d[0]["layers"] == ["/l/top", "/l/with:colon", "/l/sp ace", "/l/back\\slash", "/l/x"] and d[0]["upper"] == "/up,comma" and d[0]["work"] == "/wk" and d[0]["readonly"] is False and d[0]["mnt_id"] == 100 and d[0]["dev"] == "0:50" and d[0]["source"] == "cowfs"'
json "ls -F: no module fields" 'all(m["id"] is None and m["copy_ups"] is None and m["volumes"] == [] for m in d)'
json "ls: lowerdir+= mount" 'd[1]["layers"] == ["/a", "/b:c", "/tab\there"] and d[1]["upper"] is None and d[1]["work"] is None and d[1]["readonly"] is True'
json "ls: newline and bad UTF-8" 'd[2]["target"] == "/mnt/new\nline" and d[2]["layers"] == ["/bad\ufffdbyte"] and d[2]["source"] == ""'
json "ls: no super options" 'd[3]["target"] == "/mnt/short" and d[3]["layers"] == []'
expect 0 ls -F "$mi"
has out '^ID +TARGET +UPPER +COPY-UPS +VOLUMES +LAYERS$' "ls header"
has out '^- +/mnt/u nion +/up,comma +- +- +/l/top:/l/with\\:colon:/l/sp ace:/l/back\\\\slash:/l/x$' "ls row with escapes"
has out '^- +/mnt/ro +- +- +- +/a:/b\\:c:/tab\\011here$' "ls read-only row"
has out '^- +/mnt/new\\012line +- +- +- +/bad' "ls row with a newline in the target"
# the columns line up, even with the escaped newline
awk 'NR == 1 { c = index($0, "UPPER") } NR > 1 && substr($0, c - 2, 2) != "  " { bad = 1 } END { exit bad }' "$out" && ok || bad "ls columns are not aligned"
if [ "$(wc -l <"$out")" -eq 5 ]; then ok; else bad "ls table has $(wc -l <"$out") lines, wanted 5"; fi
expect 0 ls -n -F "$mi"
if grep -q TARGET "$out"; then bad "ls -n printed a header"; else ok; fi
expect 0 -j -p ls -F "$mi"
json "-j -p ls" 'len(d) == 4'
COWCTL_FSTYPE=overlay "$COWCTL" -j ls -F "$mi" >"$out" 2>"$err"
json "COWCTL_FSTYPE=overlay ls" 'len(d) == 1 and d[0]["layers"] == ["/x", "/y"]'

# --- valgrind: no leaks or memory errors on the paths without the kernel -------

if [ "${COWCTL_TEST_VALGRIND:-1}" = 0 ]; then
	skipped "valgrind (COWCTL_TEST_VALGRIND=0)"
elif ! command -v valgrind >/dev/null; then
	skipped "valgrind is not installed"
else
	vg() {
		local want=$1
		shift
		valgrind -q --leak-check=full --show-leak-kinds=all \
			--errors-for-leak-kinds=all --error-exitcode=99 \
			"$COWCTL" "$@" >"$out" 2>"$err"
		rc=$?
		if [ "$rc" -eq "$want" ]; then ok; else bad "valgrind cowctl $* exited $rc, wanted $want"; fi
	}
	vg 0 --help
	vg 0 -j -V
	vg 0 help mount
	vg 0 mount --help
	vg 2 frobnicate
	vg 2 mount --frob /mnt
	vg 2 mount --lowerdir /a:rel /mnt
	vg 2 mount --lowerdir /a::/b /mnt
	vg 2 mount --layer /a --layer /b -u /u /mnt
	vg 2 mount --layer /a --volume v:rel -o x=1 /mnt
	vg 2 mount --layer "$long" /mnt
	vg 2 umount
	vg 1 umount "$tmp"
	vg 1 umount "$tmp/does-not-exist"
	vg 0 ls
	vg 0 -j ls
	vg 0 ls -F "$mi"
	vg 0 -j -p ls -F "$mi"
	vg 1 ls -F "$tmp/does-not-exist"
	vg 0 info
	vg 0 -j info
	vg 0 volume --help
	vg 2 volume
	vg 2 volume frob
	vg 2 volume create --label a=1 --label a=2 v
	vg 2 volume create --type bind --opt x=y v
	vg 2 volume create --type tmpfs --opt size=1 --opt mode=0700 v
	vg 2 volume ls -f label=a -f name=x -f type=nfs
	vg 2 volume rm 'a/b'
	vg 2 events -c x
	vg 2 config set
	vg 2 inspect
	vg 2 complete
	vg 2 complete --frob /mnt
	vg 1 complete "$tmp"
	vg 1 -j complete "$tmp/does-not-exist"
	vg 2 complete --upper /u -o x
	vg 1 complete --upper "$tmp/does-not-exist" --lower /l
	if ! grep -qw cowfs /proc/filesystems; then
		vg 1 volume create --type tmpfs --opt size=1m --label a=b v
		vg 1 -j volume ls -f label=a=b -f dangling=true
		vg 1 volume inspect a b
		vg 1 inspect /
		vg 1 events
		vg 1 config get
	fi
fi

if [ "$(id -u)" -ne 0 ]; then
	skipped "overlay end-to-end: not root"
elif ! grep -qw overlay /proc/filesystems && ! modprobe -q overlay 2>/dev/null; then
	skipped "overlay end-to-end: no overlayfs"
elif [ -n "${COWCTL_IN_NS:-}" ] || ! command -v unshare >/dev/null; then
	skipped "overlay end-to-end: no unshare"
else
	# Run this same script's overlay part in a private mount namespace.
	COWCTL_IN_NS=1 unshare -m --propagation private \
		bash "$0" --e2e-only "$COWCTL" >"$tmp/e2e.log" 2>&1
	e2e_rc=$?
	grep -v '^e2e: ' "$tmp/e2e.log"
	if grep -q '^e2e: ' "$tmp/e2e.log"; then
		read -r _ p f < <(grep '^e2e: ' "$tmp/e2e.log")
		pass=$((pass + p))
		fail=$((fail + f))
	else
		bad "overlay end-to-end did not run (unshare exited $e2e_rc)"
	fi
fi

echo "cowctl: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
