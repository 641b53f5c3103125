#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cowctl fed bad arguments with the module loaded (tools/cowctl/tests runs
# on the host, without it): layer paths with ':', ',', '\', quotes,
# newlines and bytes that are not UTF-8 must mount, list as valid JSON and
# unmount; 10,000 layers, 100 kB arguments and hostile volume names must
# fail with a message; and a few hundred random command lines must end
# with status 0, 1 or 2 (never a signal), leaving nothing mounted and the
# module's settings and volumes as they were.
#
#   COWFS_FUZZ_SEED   seed of the random command lines (printed)
#   COWFS_FUZZ_ITERS  how many (default 200; every exec is slow under TCG)
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=${COWFS_REPO:-$(cd "$here/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}
fstype=${COWFS_TEST_FSTYPE:-cowfs}
seed=${COWFS_FUZZ_SEED:-$(date +%s)}
iters=${COWFS_FUZZ_ITERS:-200}

say() { echo "# cowctl_hostile: $*"; }
skip() { say "SKIP: $*"; exit 4; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ "$fstype" = cowfs ] || skip "cowctl mounts cowfs only"
[ -x "$cowctl" ] || skip "no $cowctl (make cowctl)"
grep -qw cowfs /proc/filesystems || skip "cowfs not registered"
command -v python3 >/dev/null || skip "needs python3 (JSON checks)"

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	say "FAIL: $*"
	[ -s "$tmp/err" ] && sed 's/^/#     stderr: /' "$tmp/err" | head -5
}

tmp=$(mktemp -d /tmp/cowctl-hostile.XXXXXX)
chmod 755 "$tmp"
store0=$("$cowctl" config get 2>/dev/null | awk '$1 == "store:" { print $2 }')
# A store of our own, so that volumes can be made (and are ours)
mkdir -p "$tmp/store"
"$cowctl" config set --store "$tmp/store" >/dev/null || { echo "# cannot set the store"; exit 1; }
volumes() {
	"$cowctl" -j volume ls 2>/dev/null | python3 -c 'import json,sys
t = sys.stdin.read().strip() or "[]"
print("\n".join(sorted(v.get("name", "") for v in json.loads(t))))'
}
vols0=$(volumes)

cleanup() {
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done 2>/dev/null
	# the store it had, if it is there
	[ -n "$store0" ] && [ -d "$store0" ] && "$cowctl" config set --store "$store0" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# run ARGS...: cowctl with a timeout; status in $rc, output in out/err
run() {
	timeout -k 2 20 "$cowctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# Is anything mounted below $tmp?
mounted_below() {
	awk -v t="$tmp/" 'index($5, t) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# JSON outputs to check at the end, in one python run: file, path it
# must show ('' for none), what it was
: >"$tmp/json.list"
json_later() {
	cp "$tmp/out" "$tmp/json.$jn"
	printf '%s\0%s\0%s\0' "$tmp/json.$jn" "$1" "$2" >>"$tmp/json.list"
	jn=$((jn + 1))
}
jn=0

mkdir -p "$tmp/l1" "$tmp/m" "$tmp/u" "$tmp/w"
echo bottom >"$tmp/l1/bottom"

# --- layer paths of every awkward kind ------------------------------------

names=('co:lon' 'com,ma' 'back\slash' 'trail\' 'quo"te' "apo'strophe" 'sp ace'
	$'new\nline' $'tab\there' $'bell\a' 'ünï' $'\xff\xfebytes' '-dash' '=eq')
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	d="$tmp/$n"
	mkdir -p -- "$d" && echo "in$i" >"$d/in"
	run mount --layer "$d" --layer "$tmp/l1" "$tmp/m"
	if [ "$rc" != 0 ]; then
		bad "mount with layer $(printf '%q' "$n"): exit $rc"
		continue
	fi
	[ "$(cat "$tmp/m/in" 2>/dev/null)" = "in$i" ] && ok || bad "layer $(printf '%q' "$n") not shown"
	# JSON with such a path: valid, and (where it is text) the same path
	run -j inspect "$tmp/m"
	[ "$rc" = 0 ] && ok || bad "inspect -j with layer $(printf '%q' "$n"): exit $rc"
	if [[ $n != *$'\xff'* ]]; then
		json_later "$d" "inspect -j, layer $(printf '%q' "$n")"
	else
		json_later "" "inspect -j, layer $(printf '%q' "$n")"
	fi
	run -j ls
	[ "$rc" = 0 ] && ok || bad "ls -j with layer $(printf '%q' "$n"): exit $rc"
	json_later "" "ls -j, layer $(printf '%q' "$n")"
	run umount "$tmp/m"
	[ "$rc" = 0 ] && ok || bad "umount after layer $(printf '%q' "$n"): exit $rc"
	# --lowerdir with the escapes cowctl documents
	esc=${d//\\/\\\\}
	esc=${esc//:/\\:}
	run mount --lowerdir "$esc:$tmp/l1" "$tmp/m"
	if [ "$rc" = 0 ]; then
		[ "$(cat "$tmp/m/in" 2>/dev/null)" = "in$i" ] && ok || bad "--lowerdir $(printf '%q' "$esc") shows the wrong layer"
		run umount "$tmp/m"
	else
		bad "--lowerdir $(printf '%q' "$esc"): exit $rc"
	fi
done
mounted_below && bad "mounts left after the path tests" || ok

# Every JSON output is valid UTF-8 JSON; one string in it is the layer
python3 - "$tmp/json.list" <<'PY' >"$tmp/pyout" 2>&1
import json, sys
f = open(sys.argv[1], 'rb').read().split(b'\0')
bad = 0
def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
for i in range(0, len(f) - 2, 3):
    path, want, what = f[i].decode(), f[i + 1], f[i + 2].decode('utf-8', 'replace')
    try:
        d = json.loads(open(path, 'rb').read().decode('utf-8', 'strict'))
    except Exception as e:
        print('%s: not valid JSON: %s' % (what, e))
        bad += 1
        continue
    if want and want.decode('utf-8', 'surrogateescape') not in set(strings(d)):
        print('%s: the layer path is not in it' % what)
        bad += 1
sys.exit(bad)
PY
if [ $? = 0 ]; then ok; else
	while read -r l; do bad "$l"; done <"$tmp/pyout"
fi

# --- too much ----------------------------------------------------------------

args=()
for ((i = 0; i < 10000; i++)); do args+=(--layer "$tmp/l1"); done
run mount "${args[@]}" "$tmp/m"
if [ "$rc" = 1 ] && [ -s "$tmp/err" ]; then ok; else bad "10,000 layers: exit $rc"; fi
grep -qi 'too many\|limit\|500' "$tmp/err" && ok || bad "10,000 layers: no word of the limit"
mounted_below && bad "10,000 layers left a mount" || ok

big=$(head -c 100000 /dev/zero | tr '\0' 'x')
for cmd in "mount --layer /$big $tmp/m" "mount --layer $tmp/l1 /$big" "umount /$big" \
	"inspect /$big" "volume create $big" "volume rm $big" "volume inspect $big" \
	"config set --store /$big" "mount --volume $big:/data --layer $tmp/l1 $tmp/m" \
	"mount -o $big --layer $tmp/l1 $tmp/m"; do
	# shellcheck disable=SC2086
	run $cmd
	if [ "$rc" = 1 ] || [ "$rc" = 2 ]; then ok; else bad "${cmd:0:40}... (100 kB): exit $rc"; fi
	[ -s "$tmp/err" ] && ok || bad "${cmd:0:40}... (100 kB): no message"
done

for v in '' '-x' '.x' '../x' 'a/b' $'a\nb' "$(printf 'a%.0s' {1..129})" $'\xff' 'a:b'; do
	run volume create -- "$v"
	if [ "$rc" = 1 ] || [ "$rc" = 2 ]; then ok; else bad "volume create $(printf '%q' "$v"): exit $rc"; fi
done
for a in "-c -1" "-c abc" "-c 99999999999999999999999" "-c" "--count=" "extra"; do
	# shellcheck disable=SC2086
	run events $a
	[ "$rc" = 2 ] && ok || bad "events $a: exit $rc"
done
# Bad usage is exit 2 also after a command's own --json
for a in "mount -j -l rel $tmp/m" "mount --json --lowerdir rel $tmp/m" \
	"mount -j -l $tmp/l1 -u rel -w $tmp/w $tmp/m" "mount -j -l $tmp/l1 -o = $tmp/m" \
	"mount -j --volume x $tmp/m" "umount -j" "volume ls -j extra" "inspect -j" \
	"volume create -j -- -x" "config set -j --store rel"; do
	# shellcheck disable=SC2086
	run $a
	[ "$rc" = 2 ] && ok || bad "cowctl $a: exit $rc, want 2 (bad usage)"
done
run inspect 999999999
[ "$rc" = 1 ] && ok || bad "inspect of no such id: exit $rc"
run umount "$tmp/l1"
[ "$rc" = 1 ] && ok || bad "umount of a directory that is no union: exit $rc"

# --- random command lines ---------------------------------------------------

RANDOM=$seed
say "random command lines: seed $seed (COWFS_FUZZ_SEED), $iters of them (COWFS_FUZZ_ITERS)"
cmds=(mount umount ls info inspect volume "volume create" "volume ls" "volume rm"
	"volume inspect" "volume prune" config "config get" "config set" events help
	m u v "volume c")
pool=(--json -j --pretty -p --layer -l --lowerdir --upper -u --work -w --volume -o
	--help -h -- - "" -c 1 0 -1 "$tmp/l1" "$tmp/m" "$tmp/u" "$tmp/w" /nonexistent
	/ . relative "a:b" "x=y" "ro" "$tmp/l1:$tmp/l1" "hz0:/data" "--store"
	"/proc/self" "$tmp/co:lon")
signals=0
for ((it = 0; it < iters; it++)); do
	read -ra argv <<<"${cmds[RANDOM % ${#cmds[@]}]}"
	n=$((RANDOM % 7))
	for ((k = 0; k < n; k++)); do
		if ((RANDOM % 5 == 0)); then
			# random bytes (no NUL), made without an exec
			r=
			for ((b = RANDOM % 60; b >= 0; b--)); do
				printf -v x '\\x%02x' $((1 + RANDOM % 255))
				r+=$x
			done
			printf -v r '%b' "$r"
			argv+=("$r")
		else
			argv+=("${pool[RANDOM % ${#pool[@]}]}")
		fi
	done
	timeout -k 2 5 "$cowctl" "${argv[@]}" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 124 ] && [[ ${argv[0]} == e* ]]; then
		: # events waits for events: the timeout ends it
	elif [ "$rc" -gt 2 ]; then
		signals=$((signals + 1))
		bad "cowctl $(printf '%q ' "${argv[@]}" | head -c 300): exit $rc"
	fi
	if mounted_below; then
		awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
			sort -r | while read -r m; do umount "$m" || bad "cannot umount $m"; done
	fi
	# config set may have moved the store: put it back
	[[ ${argv[0]} == c* ]] && "$cowctl" config set --store "$tmp/store" >/dev/null 2>&1
done
[ "$signals" = 0 ] && ok

# --- left as found ---------------------------------------------------------------

mounted_below && bad "mounts left at the end" || ok
now=$("$cowctl" config get 2>/dev/null | awk '$1 == "store:" { print $2 }')
[ "$now" = "$tmp/store" ] && ok || bad "store is '$now' after the fuzz"
# volumes the fuzz made (valid random names) go; the rest must be as it was
printf '%s\n' "$vols0" >"$tmp/vols0"
volumes >"$tmp/vols"
comm -13 "$tmp/vols0" "$tmp/vols" | while read -r v; do
	[ -n "$v" ] && "$cowctl" volume rm -- "$v" >/dev/null 2>&1
done
[ "$(volumes)" = "$vols0" ] && ok || bad "volumes: '$(volumes | tr '\n' ' ')', were '$vols0'"


say "$pass passed, $fail failed"
[ "$fail" = 0 ]
