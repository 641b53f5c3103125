#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cowctl end to end, in the test VM with the cowfs module loaded: every
# command in text and in JSON (the JSON is parsed), bad input and exit
# codes, the kernel's error messages, 'cowctl mount' with 500 layers (and
# 501: a clear error), the events stream, and the message when the module
# is not loaded.  The host tests (tools/cowctl/tests/usage.sh) cover the
# usage errors in depth; this covers what needs the module.
#
#   config      get, set --store (the guest's default store is read-only)
#   volume      create (local, tmpfs, bind), ls (-q, filters), inspect,
#               rm (-f, in use), prune (-f, not confirmed)
#   mount/ls/inspect/umount with an attached volume, counters
#   events      text and JSON lines, --count, SIGINT and SIGTERM
#   complete    partial files (copyup=partial): --dry-run, a subtree,
#               errors, overlayfs's EIO before and its reads after,
#               --upper (a private union)
#   500 layers  and 501
#   no module   rmmod, the message, insmod again (default parameters)
#
# Each check prints 'ok N - ...' or 'not ok N - ...' with the command's
# output.  Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}
ko=${COWFS_MODULE:-$repo/kernel/cowfs.ko}
case $ko in /*) ;; *) ko=$repo/$ko ;; esac

say() { echo "# cowctl: $*"; }
skip() { say "SKIP: $*"; exit $KSFT_SKIP; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ -x "$cowctl" ] || skip "$cowctl is not built (make cowctl)"
command -v python3 >/dev/null || skip "python3 is not installed"
grep -qw cowfs /proc/filesystems || skip "the cowfs module is not loaded"
[ -f "$ko" ] || skip "no module at $ko"

tmp=$(mktemp -d /tmp/cowctl-test.XXXXXX)
out=$tmp/out
err=$tmp/err
n=0
nfail=0
evpids=()

cleanup() {
	for p in "${evpids[@]}"; do kill "$p" 2>/dev/null; done
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done 2>/dev/null
	# Leave the module loaded, with its default parameters.
	grep -qw cowfs /proc/filesystems || insmod "$ko"
	rm -rf "$tmp"
}
trap cleanup EXIT

result() { # OK(0/1) DESC
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		nfail=$((nfail + 1))
		echo "not ok $n - $2"
		[ -s "$out" ] && sed 's/^/#   out: /' "$out" | head -15
		[ -s "$err" ] && sed 's/^/#   err: /' "$err" | head -15
	fi
}

run() { "$cowctl" "$@" >"$out" 2>"$err"; rc=$?; }

# expect RC ARGS...: run cowctl; its exit status must be RC.
expect() {
	local want=$1 cmd
	shift
	cmd="cowctl $*"
	[ ${#cmd} -le 160 ] || cmd="${cmd:0:120} ... ${cmd: -30}"
	run "$@"
	[ "$rc" -eq "$want" ]
	result $? "$cmd exits $want (got $rc)"
}

# has out|err REGEX DESC
has() {
	local f=$out
	[ "$1" = err ] && f=$err
	grep -Eq -- "$2" "$f"
	result $? "$3: $1 matches /$2/"
}

# empty out|err DESC
empty() {
	local f=$out
	[ "$1" = err ] && f=$err
	[ ! -s "$f" ]
	result $? "$2: $1 is empty"
}

# json DESC EXPR: stdout parses as JSON, and EXPR (on d) holds.
json() {
	python3 - "$out" "$2" <<'EOF' >"$tmp/py" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
if not r:
    print("false:", sys.argv[2])
sys.exit(0 if r else 1)
EOF
	local r=$?
	[ $r = 0 ] || sed 's/^/#   python: /' "$tmp/py" | tail -3
	result $r "$1 (JSON)"
}

# jsonl FILE DESC EXPR: every line of FILE is a JSON object; EXPR holds on
# the list of them (L).
jsonl() {
	python3 - "$1" "$3" <<'EOF' >"$tmp/py" 2>&1
import json, sys
L = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = eval(sys.argv[2])
if not r:
    print("false:", sys.argv[2], L)
sys.exit(0 if r else 1)
EOF
	local r=$?
	[ $r = 0 ] || sed 's/^/#   python: /' "$tmp/py" | tail -3
	result $r "$2 (JSON lines)"
}

# The value of EXPR on the JSON in stdout, or "".
jget() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$out" "$1" 2>/dev/null
}

true_() { "$@"; result $? "$*"; }

store=$tmp/store
mkdir -p "$store" "$tmp"/{l1,l2,u,w,m,ro,bind,notmnt}
echo lower >"$tmp/l2/f"
echo top >"$tmp/l1/top"

# ---- basics ------------------------------------------------------------------
say "info, version, help"
expect 0 info
has out '^module loaded: +yes$' "info"
has out '^netlink family: +yes' "info"
expect 0 -j info
json "info" 'd["module_loaded"] is True and d["netlink_family"] is True and isinstance(d["netlink_family_id"], int)'
expect 0 --version
expect 0 -j -V
json "version" 'd["version"].count(".") == 2'
expect 0 help volume
has out '^Usage: cowctl volume COMMAND' "help volume"

# ---- config ------------------------------------------------------------------
say "config"
expect 0 config get
has out '^store: /' "config get"
expect 0 config set --store "$store"
has out "^store: $store\$" "config set"
expect 0 -j config get
json "config get" "d == {'store': '$store'}"
expect 1 config set --store "$tmp/nonexistent"
has err "^cowctl: cannot move the volume store to $tmp/nonexistent: No such file or directory\$" "config set missing dir"
has err '^cowctl: kernel: cannot use .* as the volume store' "config set missing dir: kernel text"
expect 2 config set --store relative/dir
has err "must be absolute" "config set relative"
expect 0 -j config set --store "$store"
json "config set" "d['store'] == '$store'"

# ---- events (in the background) ------------------------------------------------
say "events: start two listeners"
"$cowctl" events >"$tmp/ev.txt" 2>"$tmp/ev.err" &
evpids+=($!)
evtxt=$!
"$cowctl" -j events >"$tmp/ev.json" 2>"$tmp/evj.err" &
evpids+=($!)
evjson=$!
# Subscribed once a probe volume shows in both streams.
for i in $(seq 1 100); do
	"$cowctl" volume create "ct-probe-$i" >/dev/null 2>&1
	"$cowctl" volume rm "ct-probe-$i" >/dev/null 2>&1
	grep -q ct-probe "$tmp/ev.txt" && grep -q ct-probe "$tmp/ev.json" && break
	sleep 0.2
done
grep -q ct-probe "$tmp/ev.txt" && grep -q ct-probe "$tmp/ev.json"
result $? "events: both listeners see a probe volume"

# ---- volume create -----------------------------------------------------------
say "volume create"
expect 0 volume create ct-data
[ "$(cat "$out")" = ct-data ]
result $? "volume create prints the name"
true_ test -d "$store/ct-data/_data"
expect 0 -j volume create --type tmpfs --opt size=8m --opt mode=0700 \
	--label app=web --label tier ct-scratch
json "volume create tmpfs" 'd["Name"] == "ct-scratch" and d["Type"] == "tmpfs" and d["Driver"] == "cowfs" and d["Mountpoint"] is None and d["Size"] == 8 << 20 and d["Labels"] == {"app": "web", "tier": ""} and d["Options"] == {"mode": "0700"} and d["UsedBy"] == []'
expect 0 -j volume create --type bind --opt device="$tmp/bind" --label app=db ct-logs
json "volume create bind" "d['Type'] == 'bind' and d['Mountpoint'] == '$tmp/bind' and d['Labels'] == {'app': 'db'}"
expect 1 volume create ct-data
has err '^cowctl: cannot create volume ct-data: File exists$' "volume create twice"
has err '^cowctl: kernel: volume ct-data exists$' "volume create twice: kernel text"
empty out "volume create twice"
expect 1 volume create --type bind --opt device="$tmp/no-such-dir" ct-x
has err '^cowctl: kernel: path: no such directory' "bind to a missing dir"
expect 1 volume create --type tmpfs --opt nosuchopt=1 ct-x
has err '^cowctl: kernel: tmpfs .*nosuchopt' "tmpfs bad option"
expect 2 volume create 'ct/x'
has err 'is not a valid volume name' "bad name"
expect 2 volume create --type bind ct-x
expect 2 volume create
expect 1 volume inspect ct-x
has err 'no volume ct-x' "no volume made by the failed creates"

# ---- volume ls -----------------------------------------------------------------
say "volume ls"
expect 0 volume ls
has out '^NAME +TYPE +USED-BY +MOUNTPOINT$' "volume ls header"
has out "^ct-data +local +- +$store/ct-data/_data\$" "volume ls local row"
has out '^ct-scratch +tmpfs +- +-$' "volume ls tmpfs row"
has out "^ct-logs +bind +- +$tmp/bind\$" "volume ls bind row"
expect 0 volume ls -n
if grep -q '^NAME' "$out"; then result 1 "volume ls -n has no header"; else result 0 "volume ls -n has no header"; fi
expect 0 -j volume ls
json "volume ls" '[v["Name"] for v in d if v["Name"].startswith("ct-")] == ["ct-data", "ct-logs", "ct-scratch"] and all(set(v) >= {"Name", "Driver", "Type", "Mountpoint", "CreatedAt", "Labels", "Options", "UsedBy"} for v in d)'
expect 0 volume ls -q
has out '^ct-data$' "volume ls -q"
if grep -q ' ' "$out"; then result 1 "volume ls -q prints names only"; else result 0 "volume ls -q prints names only"; fi
expect 0 -j volume ls -q
json "volume ls -q" 'isinstance(d, list) and "ct-data" in d and all(isinstance(x, str) for x in d)'
expect 0 -j volume ls -q --filter label=app
json "filter label=app" 'sorted(d) == ["ct-logs", "ct-scratch"]'
expect 0 -j volume ls -q --filter label=app=web
json "filter label=app=web" 'd == ["ct-scratch"]'
expect 0 -j volume ls -q -f label=app -f label=tier
json "two label filters must both match" 'd == ["ct-scratch"]'
expect 0 -j volume ls -q --filter type=bind --filter type=tmpfs --filter name=ct-
json "filter type= twice" 'd == ["ct-logs", "ct-scratch"]'
expect 0 -j volume ls -q --filter dangling=true --filter name=ct-
json "filter dangling=true, nothing mounted" 'd == ["ct-data", "ct-logs", "ct-scratch"]'
expect 0 -j volume ls -q --filter dangling=false --filter name=ct-
json "filter dangling=false, nothing mounted" 'd == []'
expect 0 volume ls --filter label=nosuch
empty out "volume ls of nothing"
expect 2 volume ls --filter bogus=1
expect 2 volume ls --filter dangling=maybe

# ---- mount with a volume, ls, inspect -------------------------------------------
say "mount, ls, inspect"
m=$tmp/m
expect 0 mount --lowerdir "$tmp/l1:$tmp/l2" -u "$tmp/u" -w "$tmp/w" \
	--volume ct-data:/data -o metacopy=on -o index=on "$m"
empty out "mount in text mode"
echo more >>"$m/f"
echo vol >"$m/data/x"
true_ test -f "$tmp/u/f"
true_ grep -qx vol "$store/ct-data/_data/x"
expect 0 -j mount --layer "$tmp/l2" "$tmp/ro"
json "mount -j" "isinstance(d['id'], int) and d['id'] > 0 and d['target'] == '$tmp/ro' and d['layers'] == ['$tmp/l2'] and d['upper'] is None"
roid=$(jget 'd["id"]')

expect 0 -j ls
json "ls" "[m for m in d if m['target'] == '$m'][0]['volumes'] == [{'name': 'ct-data', 'path': '/data'}]"
json "ls counters" "[m for m in d if m['target'] == '$m'][0]['copy_ups'] == 1 and [m for m in d if m['target'] == '$m'][0]['copy_up_bytes'] == 6 and [m for m in d if m['target'] == '$m'][0]['layers'] == ['$tmp/l1', '$tmp/l2'] and [m for m in d if m['target'] == '$m'][0]['upper'] == '$tmp/u'"
json "ls ro" "[m for m in d if m['target'] == '$tmp/ro'][0]['id'] == $roid and [m for m in d if m['target'] == '$tmp/ro'][0]['readonly'] is True"
id=$(python3 -c 'import json, sys; print([m["id"] for m in json.load(open(sys.argv[1])) if m["target"] == sys.argv[2]][0])' "$out" "$m")
[ -n "$id" ] && [ "$id" -gt 0 ] 2>/dev/null
result $? "the union has an id ($id)"
expect 0 ls
has out '^ID +TARGET +UPPER +COPY-UPS +VOLUMES +LAYERS$' "ls header"
has out "^$id +$m +$tmp/u +1 +ct-data:/data +$tmp/l1:$tmp/l2\$" "ls row"
has out "^$roid +$tmp/ro +- +0 +- +$tmp/l2\$" "ls read-only row"

expect 0 inspect "$m"
has out "^ID: +$id\$" "inspect id"
has out "^Target: +$m\$" "inspect target"
has out '^Volumes: +ct-data at /data$' "inspect volumes"
has out '^Copy-ups: +1$' "inspect copy-ups"
has out '^Layers: +2 \(top first\)$' "inspect layers"
has out '^Options: .*,index=on,metacopy=on' "inspect options"
expect 0 -j inspect "$m" "$id" "$tmp/ro"
json "inspect by path and id" "len(d) == 3 and d[0] == d[1] and d[0]['id'] == $id and d[0]['target'] == '$m' and d[0]['volumes'] == [{'name': 'ct-data', 'path': '/data'}] and 'volume=ct-data:/data' in d[0]['options'] and d[2]['readonly'] is True"
expect 1 inspect "$tmp/notmnt"
has err 'is not a mount point' "inspect a plain directory"
expect 1 inspect /tmp
has err "'/tmp' is not a cowfs mount \(its filesystem is tmpfs\)" "inspect a tmpfs"
expect 1 -j inspect 999999 "$m"
has err 'there is no cowfs mount with id 999999' "inspect a missing id"
json "inspect: the good one is still shown" "len(d) == 1 and d[0]['id'] == $id"
expect 1 inspect "$tmp/nonexistent"
has err 'No such file or directory' "inspect a missing path"

# ---- volume inspect, in use ------------------------------------------------------
say "volume inspect, rm in use"
expect 0 volume inspect ct-data
has out '^Name: +ct-data$' "volume inspect name"
has out "^Mountpoint: +$store/ct-data/_data\$" "volume inspect mountpoint"
has out "^Used by: +mount $id on $m at /data\$" "volume inspect used by"
expect 0 -j volume inspect ct-data ct-scratch
json "volume inspect" "len(d) == 2 and d[0]['Name'] == 'ct-data' and d[0]['Type'] == 'local' and d[0]['Mountpoint'] == '$store/ct-data/_data' and d[0]['UsedBy'] == [{'Id': $id, 'Target': '$m', 'Destination': '/data'}] and d[0]['Labels'] == {} and d[0]['Scope'] == 'local'"
json "volume inspect CreatedAt" '__import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d[0]["CreatedAt"]) is not None'
expect 1 -j volume inspect ct-data nosuch
has err '^cowctl: cannot inspect volume nosuch: No such file or directory$' "volume inspect missing"
has err '^cowctl: kernel: name: no volume nosuch$' "volume inspect missing: kernel text"
json "volume inspect: the good one is still shown" 'len(d) == 1 and d[0]["Name"] == "ct-data"'
expect 0 -j volume ls -q --filter dangling=false
json "filter dangling=false" 'd == ["ct-data"]'
expect 0 -j volume ls -q --filter dangling=true --filter name=ct-
json "filter dangling=true" 'd == ["ct-logs", "ct-scratch"]'
expect 0 volume ls
has out "^ct-data +local +$id +$store/ct-data/_data\$" "volume ls used-by"

expect 1 volume rm ct-data
has err "^cowctl: cannot remove volume ct-data: Device or resource busy\$" "rm in use"
has err "^cowctl: kernel: volume ct-data is in use by mount $id\$" "rm in use: kernel text"
expect 1 volume rm -f ct-data
has err "^cowctl: kernel: volume ct-data is in use by mount $id\$" "rm -f in use is refused too"
expect 1 config set --store "$store"
has err 'kernel: volumes are attached to mounts' "config set while attached"
expect 0 volume prune -f
has out '^ct-scratch$' "prune removed the unused tmpfs volume"
if grep -q ct-data "$out"; then result 1 "prune keeps a volume in use"; else result 0 "prune keeps a volume in use"; fi
if grep -q ct-logs "$out"; then result 1 "prune keeps a bind volume"; else result 0 "prune keeps a bind volume"; fi
expect 0 volume inspect ct-data

# ---- umount ------------------------------------------------------------------------
say "umount"
expect 0 umount "$m"
empty out "umount in text mode"
expect 0 -j umount "$tmp/ro"
json "umount" "d == {'target': '$tmp/ro', 'lazy': False}"
expect 1 umount "$m"
has err 'is not a mount point' "umount twice"
expect 0 -j ls
json "ls after umount" "not [m for m in d if m['target'] and m['target'].startswith('$tmp')]"

# ---- rm, prune ------------------------------------------------------------------
say "volume rm, prune"
true_ test -f "$store/ct-data/_data/x"
expect 0 volume rm ct-data
[ "$(cat "$out")" = ct-data ]
result $? "volume rm prints the name"
true_ test ! -e "$store/ct-data"
expect 1 volume rm ct-data
has err '^cowctl: kernel: name: no volume ct-data$' "rm a missing volume"
expect 0 volume rm -f ct-data
empty out "rm -f a missing volume"
expect 0 -j volume rm -f ct-logs nosuch
json "volume rm" 'd == ["ct-logs"]'
true_ test -d "$tmp/bind"
expect 0 -j volume rm -f nosuch
json "volume rm of nothing" 'd == []'

"$cowctl" volume create --type bind --opt device="$tmp/bind" ct-keep >/dev/null
"$cowctl" volume create ct-gone >/dev/null
echo data >"$store/ct-gone/_data/d"
expect 1 volume prune </dev/null
has err 'nothing was removed' "prune not confirmed"
expect 0 volume inspect ct-gone
expect 0 volume prune -f
has out '^Deleted Volumes:$' "prune text"
has out '^ct-gone$' "prune removed ct-gone"
has out '^Total reclaimed space: [0-9.]+[kMG]?B$' "prune reclaimed"
if grep -q ct-keep "$out"; then result 1 "prune keeps bind volumes"; else result 0 "prune keeps bind volumes"; fi
"$cowctl" volume create ct-gone2 >/dev/null
expect 0 -j volume prune -f
json "prune" '"ct-gone2" in d["VolumesDeleted"] and "ct-keep" not in d["VolumesDeleted"] and isinstance(d["SpaceReclaimed"], int)'
expect 0 -j volume prune -f
json "prune of nothing" 'd["VolumesDeleted"] == [] and d["SpaceReclaimed"] == 0'
expect 0 volume rm ct-keep

# ---- events ------------------------------------------------------------------------
say "events"
# --count: exits by itself after N events.
"$cowctl" -j events --count 2 >"$tmp/ev2.json" 2>&1 &
cpid=$!
evpids+=("$cpid")
for i in $(seq 1 100); do
	"$cowctl" volume create "ct-c$i" >/dev/null 2>&1
	"$cowctl" volume rm "ct-c$i" >/dev/null 2>&1
	[ "$(wc -l <"$tmp/ev2.json")" -ge 2 ] && break
	sleep 0.2
done
for i in $(seq 1 50); do kill -0 $cpid 2>/dev/null || break; sleep 0.1; done
if kill -0 $cpid 2>/dev/null; then
	result 1 "events --count 2 exits by itself"
else
	wait $cpid
	result $? "events --count 2 exits by itself with status 0"
fi
jsonl "$tmp/ev2.json" "events --count 2" 'len(L) == 2'

kill -INT $evtxt
wait $evtxt
result $? "events exits 0 on SIGINT"
kill -TERM $evjson
wait $evjson
result $? "events -j exits 0 on SIGTERM"
evpids=()
true_ test ! -s "$tmp/ev.err"
true_ test ! -s "$tmp/evj.err"
cp "$tmp/ev.txt" "$out"
: >"$err"
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z'
has out "$ts volume-add ct-data type=local mountpoint=$store/ct-data/_data\$" "event volume-add local"
has out "$ts volume-add ct-scratch type=tmpfs\$" "event volume-add tmpfs"
has out "$ts mount-add $id dev=[0-9]+:[0-9]+ layers=2 upper=$tmp/u volumes=ct-data:/data copy-ups=0\$" "event mount-add"
has out "$ts mount-del $id dev=[0-9]+:[0-9]+ layers=2 upper=$tmp/u volumes=ct-data:/data copy-ups=1\$" "event mount-del"
has out "$ts mount-add $roid dev=[0-9:]+ layers=1 copy-ups=0\$" "event mount-add read-only"
has out "$ts volume-del ct-data type=local" "event volume-del"
has out "$ts volume-del ct-gone type=local" "event volume-del by prune"
jsonl "$tmp/ev.json" "events -j" "all(set(e) >= {'time', 'event'} for e in L) and [e['event'] for e in L if e.get('name') == 'ct-data' or e.get('id') == $id] == ['volume-add', 'mount-add', 'mount-del', 'volume-del']"
jsonl "$tmp/ev.json" "events -j mount-add" "[e for e in L if e['event'] == 'mount-add' and e['id'] == $id][0]['volumes'] == [{'name': 'ct-data', 'path': '/data'}] and [e for e in L if e['event'] == 'mount-add' and e['id'] == $id][0]['layers'] == ['$tmp/l1', '$tmp/l2']"
expect 2 events --count none
expect 2 events extra

# ---- 500 layers, and 501 ----------------------------------------------------------
say "mount with 500 layers"
L=$tmp/L
mkdir -p "$L"/{1..501} "$tmp/m500"
args=()
for i in {1..501}; do
	echo "$i" >"$L/$i/f$i"
	args+=(--layer "$L/$i")
done
expect 0 mount "${args[@]:0:1000}" "$tmp/m500"
nfiles=$(ls "$tmp/m500" | wc -l)
[ "$nfiles" -eq 500 ]
result $? "the 500-layer union shows 500 files ($nfiles)"
true_ grep -qx 500 "$tmp/m500/f500"
# The module sizes its mount-get dump messages for the biggest union, so a
# union of 500 layers is listed and inspected whole.
run -j inspect "$tmp/m500"
result $rc "cowctl -j inspect of the 500-layer union exits 0 (got $rc)"
[ "$rc" -eq 0 ] &&
	json "inspect 500 layers" "len(d[0]['layers']) == 500 and d[0]['layers'][0] == '$L/1' and d[0]['layers'][499] == '$L/500'"
run -j ls
result $rc "cowctl -j ls with a 500-layer union exits 0 (got $rc)"
[ "$rc" -eq 0 ] &&
	json "ls 500 layers" "len([m for m in d if m['target'] == '$tmp/m500'][0]['layers']) == 500 and [m for m in d if m['target'] == '$tmp/m500'][0]['id'] > 0"
expect 0 umount "$tmp/m500"
expect 1 mount "${args[@]}" "$tmp/m500"
has err "^cowctl: mount failed: cannot add layer '$L/501': Invalid argument\$" "501 layers"
has err '^cowctl: kernel: cowfs: too many lower layers, limit is 500$' "501 layers: kernel text"
empty out "501 layers"
expect 1 -j mount "${args[@]}" "$tmp/m500"
empty out "501 layers, -j"
if awk -v t="$tmp/m500" '$5 == t' /proc/self/mountinfo | grep -q .; then
	result 1 "501 layers: nothing mounted"
else
	result 0 "501 layers: nothing mounted"
fi

# ---- complete: partial files (copyup=partial) --------------------------------
say "complete"
P=$tmp/partial
mkdir -p "$P"/{l/dir,u,w,m,o,ow,ro}
head -c $((4 << 20)) /dev/urandom >"$P/l/big"
head -c $((2 << 20)) /dev/urandom >"$P/l/dir/big2"
echo small >"$P/l/small"
cp "$P/l/big" "$tmp/big.want"
cp "$P/l/dir/big2" "$tmp/big2.want"
popts="lowerdir=$P/l,upperdir=$P/u,workdir=$P/w,copyup=partial"
# poke FILE OFFSET TEXT: write TEXT at OFFSET, in place
poke() { printf '%s' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# xa FILE NAME: 0 when FILE has the xattr NAME
xa() { python3 -c 'import os, sys; os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False)' "$1" "$2" 2>/dev/null; }
mount -t cowfs none "$P/m" -o "$popts"
result $? "mount cowfs with copyup=partial"
poke "$P/m/big" 100000 AAAA && poke "$P/m/big" 3000000 BBBB
poke "$tmp/big.want" 100000 AAAA && poke "$tmp/big.want" 3000000 BBBB
poke "$P/m/dir/big2" 70000 CCCC && poke "$tmp/big2.want" 70000 CCCC
ln -s big "$P/m/link"
true_ cmp "$P/m/big" "$tmp/big.want"
true_ xa "$P/u/big" trusted.overlay.cowfs.partial
true_ xa "$P/u/big" trusted.overlay.metacopy
true_ xa "$P/u/dir/big2" trusted.overlay.cowfs.partial
ublocks=$(stat -c %b "$P/u/big")
[ "$ublocks" -lt 2048 ]
result $? "big is partial on the upper ($ublocks blocks of 512 bytes)"

expect 0 complete --dry-run "$P/m"
has out '^partial +big \(4194304 bytes\)$' "dry run lists big"
has out '^partial +dir/big2 \(2097152 bytes\)$' "dry run lists dir/big2"
has out "^2 partial files in $P/u\$" "dry run summary"
true_ xa "$P/u/big" trusted.overlay.cowfs.partial
[ "$(stat -c %b "$P/u/big")" = "$ublocks" ]
result $? "dry run copied nothing"
expect 0 -j complete -n "$P/m"
json "complete --dry-run" "d['dry_run'] is True and d['upper'] == '$P/u' and d['target'] == '$P/m' and d['xattr'] == 'trusted.overlay.cowfs.partial' and sorted((f['path'], f['size'], f['status']) for f in d['files']) == [('big', 4194304, 'partial'), ('dir/big2', 2097152, 'partial')] and d['found'] == 2 and d['completed'] == 0"
if command -v jq >/dev/null; then
	jq -e '.found == 2' "$out" >/dev/null
	result $? "complete -j parses with jq"
fi

# A PATH in the union: only that subtree
expect 0 -j complete "$P/m/dir"
json "complete a subdirectory" "d['path'] == 'dir' and [(f['path'], f['status']) for f in d['files']] == [('dir/big2', 'completed')] and d['completed'] == 1 and d['bytes'] == 2097152"
xa "$P/u/dir/big2" trusted.overlay.cowfs.partial
result $((!$?)) "dir/big2 is no longer partial"
true_ xa "$P/u/big" trusted.overlay.cowfs.partial
true_ cmp "$P/u/dir/big2" "$tmp/big2.want"

# Errors
expect 1 complete "$tmp"
has err "^cowctl: '$tmp' is not in a cowfs union \(its filesystem is tmpfs\)\$" "complete a tmpfs"
expect 1 complete "$P/m/nonexistent"
has err 'No such file or directory' "complete a missing path"
expect 2 complete
has err 'missing MOUNTPOINT' "complete without MOUNTPOINT"
mount -t cowfs none "$P/ro" -o "lowerdir=$P/l"
expect 1 complete "$P/ro"
has err "the cowfs union at '$P/ro' has no upper layer" "complete a union without upper"
umount "$P/ro"

# A union mounted read-only: cowctl does not write through it
umount "$P/m"
mount -t cowfs none "$P/m" -o "ro,$popts"
expect 1 complete "$P/m"
has err "^cowctl: the cowfs union at '$P/m' is mounted read-only: remount it read-write" "complete on a read-only union"
true_ xa "$P/u/big" trusted.overlay.cowfs.partial
expect 0 complete -n "$P/m"
has out '^partial +big \(4194304 bytes\)$' "dry run on a read-only union"
umount "$P/m"

# A file that stays partial: the xattr set behind the union's back on a
# file the union knows as an ordinary upper file
mount -t cowfs none "$P/m" -o "$popts"
echo fake >"$P/m/fake"
stat "$P/m/fake" >/dev/null
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.overlay.cowfs.partial", b"x")' "$P/u/fake"
expect 1 -j complete "$P/m"
has err "^cowctl: cannot complete 'fake': (it is still partial|cannot open it in the union: Input/output error)" "complete a file that stays partial"
json "complete that failed" "d['failed'] == 1 and d['completed'] == 1 and [(f['path'], f['status']) for f in d['files'] if f['path'] == 'fake'] == [('fake', 'failed')] and [f['error'] for f in d['files'] if f['path'] == 'fake'][0]"
umount "$P/m"
rm -f "$P/u/fake"
# (that completed big too: copy it up partially again)
rm -f "$P/u/big"
mount -t cowfs none "$P/m" -o "$popts"
poke "$P/m/big" 100000 AAAA && poke "$P/m/big" 3000000 BBBB
true_ xa "$P/u/big" trusted.overlay.cowfs.partial
true_ cmp "$P/m/big" "$tmp/big.want"
umount "$P/m"

# overlayfs refuses the partial file (EIO), reads the completed one
# readf FILE WANT: 0 when FILE reads as WANT; EIO when it fails with EIO
readf() {
	python3 - "$1" "$2" <<'PY'
import errno, sys
try:
    data = open(sys.argv[1], "rb").read()
except OSError as e:
    print("error:", e)
    sys.exit(5 if e.errno == errno.EIO else 1)
sys.exit(0 if data == open(sys.argv[2], "rb").read() else 2)
PY
}
mount -t overlay overlay "$P/o" -o "lowerdir=$P/l,upperdir=$P/u,workdir=$P/ow"
result $? "mount overlay on the same layers"
readf "$P/o/big" "$tmp/big.want" >"$tmp/py" 2>&1
r=$?
[ $r = 5 ]
result $? "overlayfs: the partial file fails with EIO (got $r: $(cat "$tmp/py"))"
readf "$P/o/dir/big2" "$tmp/big2.want" >"$tmp/py" 2>&1
result $? "overlayfs reads the completed dir/big2 ($(cat "$tmp/py"))"
umount "$P/o"

mount -t cowfs none "$P/m" -o "$popts"
expect 0 complete -v "$P/m"
has out '^completed +big \(4194304 bytes\)$' "complete -v"
has out "^completed 1 of 1 partial file \(4194304 bytes\) in $P/u\$" "complete summary"
if grep -q link "$out"; then result 1 "the symlink is not followed"; else result 0 "the symlink is not followed"; fi
xa "$P/u/big" trusted.overlay.cowfs.partial
result $((!$?)) "big: the partial xattr is gone"
xa "$P/u/big" trusted.overlay.metacopy
result $((!$?)) "big: the metacopy xattr is gone"
true_ cmp "$P/u/big" "$tmp/big.want"
true_ cmp "$P/m/big" "$tmp/big.want"
expect 0 complete "$P/m"
has out "^completed 0 of 0 partial files \(0 bytes\) in $P/u\$" "complete with nothing to do"
expect 0 -j complete "$P/m/big"
json "complete a completed file" "d['files'] == [] and d['found'] == 0"
umount "$P/m"
mount -t overlay overlay "$P/o" -o "lowerdir=$P/l,upperdir=$P/u,workdir=$P/ow"
readf "$P/o/big" "$tmp/big.want" >"$tmp/py" 2>&1
result $? "overlayfs reads the completed big ($(cat "$tmp/py"))"
readf "$P/o/dir/big2" "$tmp/big2.want" >"$tmp/py" 2>&1
result $? "overlayfs reads dir/big2 ($(cat "$tmp/py"))"
true_ grep -qx small "$P/o/small"
umount "$P/o"

# An upper layer that no union uses: --upper, --lower, --workdir
say "complete --upper"
Q=$tmp/q
mkdir -p "$Q"/{u,w,o,ow}
mount -t cowfs none "$P/m" -o "lowerdir=$P/l,upperdir=$Q/u,workdir=$Q/w,copyup=partial"
poke "$P/m/big" 100000 AAAA && poke "$P/m/big" 3000000 BBBB
umount "$P/m"
true_ xa "$Q/u/big" trusted.overlay.cowfs.partial
expect 0 complete -n --upper "$Q/u" --lower "$P/l"
has out '^partial +big \(4194304 bytes\)$' "complete --upper --dry-run"
expect 1 complete --upper "$Q/u" --lower "$P/l"
has err "^cowctl: '$Q/u' has 1 partial file: .*give --workdir DIR" "complete --upper without --workdir"
expect 1 complete -o userxattr --upper "$Q/u" --lower "$P/l" --workdir "$Q/w"
has err "with trusted.overlay.cowfs.partial but none with user.overlay.cowfs.partial: .*drop -o userxattr" "complete --upper -o userxattr of a trusted upper"
true_ xa "$Q/u/big" trusted.overlay.cowfs.partial
expect 0 -j complete --upper "$Q/u" --lower "$P/l" --workdir "$Q/w"
json "complete --upper" "d['target'] is None and d['upper'] == '$Q/u' and [(f['path'], f['status']) for f in d['files']] == [('big', 'completed')] and d['completed'] == 1 and d['bytes'] == 4194304"
xa "$Q/u/big" trusted.overlay.cowfs.partial
result $((!$?)) "complete --upper: the partial xattr is gone"
true_ cmp "$Q/u/big" "$tmp/big.want"
if grep -q "$Q" /proc/self/mountinfo; then result 1 "complete --upper left no mount"; else result 0 "complete --upper left no mount"; fi
mount -t overlay overlay "$P/o" -o "lowerdir=$P/l,upperdir=$Q/u,workdir=$Q/ow"
readf "$P/o/big" "$tmp/big.want" >"$tmp/py" 2>&1
result $? "overlayfs reads big completed by --upper ($(cat "$tmp/py"))"
umount "$P/o"
expect 0 complete --upper "$Q/u" --lower "$P/l"
has out "^completed 0 of 0 partial files \(0 bytes\) in $Q/u\$" "complete --upper with nothing to do needs no --workdir"

# ---- the module not loaded ------------------------------------------------------
say "without the module"
if grep -qw cowfs /proc/self/mountinfo; then
	say "other cowfs mounts exist: $(awk '$9 == "cowfs" { print $5 }' /proc/self/mountinfo | tr '\n' ' ')"
fi
modname=$(modinfo -F name "$ko" 2>/dev/null)
rmmod "${modname:-cowfs}"
result $? "rmmod ${modname:-cowfs}"
notloaded="^cowctl: the cowfs kernel module is not loaded \(load it with 'modprobe cowfs' or 'insmod kernel/cowfs.ko'\)$"
for a in "volume ls" "-j volume ls" "volume create ct-x" "volume inspect ct-x" \
	"volume rm -f ct-x" "volume prune -f" "inspect 1" "-j events" \
	"config get" "config set --store /tmp"; do
	# shellcheck disable=SC2086
	expect 1 $a
	has err "$notloaded" "$a without the module"
	empty out "$a without the module"
done
expect 1 mount --layer "$tmp/l1" "$tmp/m"
has err "^cowctl: the cowfs filesystem is not available: load the module with 'modprobe cowfs' or 'insmod kernel/cowfs.ko'\$" "mount without the module"
expect 0 -j ls
json "ls without the module" 'd == []'
expect 0 -j info
json "info without the module" 'd["module_loaded"] is False and d["netlink_family"] is False'

insmod "$ko"
result $? "insmod again (default parameters)"
expect 0 -j config get
json "default store again" 'd["store"] == "/var/lib/cowfs/volumes"'
expect 0 -j info
json "info with the module" 'd["module_loaded"] is True'

echo "# cowctl: $((n - nfail)) of $n checks passed"
[ "$nfail" -eq 0 ] && exit $KSFT_PASS
exit $KSFT_FAIL
