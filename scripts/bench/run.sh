#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench / make bench-quick: run scripts/bench/bench.py in the test VM
# (QEMU, TCG) with every storage driver, then cowfs's and overlay2's first
# write once more in a VM whose clock counts instructions (scripts/vm
# --icount), then the hot paths of cowfs, overlayfs and direct in such a
# VM (scripts/bench/hotpath.py, issue 14), then the rootless containers
# once more in such a VM, then metacopy (scripts/bench/metacopy.py, issue
# 15) in a VM with each clock, then the mount and cold reads of a
# composefs-style image (scripts/bench/composefs.py) in a VM with each
# clock, then copyup=partial's first writes, random writes and reads
# (scripts/bench/partial.py, issue 16) in a VM with each clock, then make the table, the plots and docs/benchmarks.md on the host
# with scripts/bench/report.py.
#
#   scripts/bench/run.sh --full | --quick
#                        [--first-write | --hotpath | --rootless | --metacopy
#                         | --composefs | --partial]
#                        [--drivers a,b] [--mem MB] [--hotpath-base JSON]
#                        [--metacopy-args 'ARGS'] [--composefs-args 'ARGS']
#                        [--partial-args 'ARGS']
#
# --first-write: only the first-write comparison of cowfs and overlay2
# (ext4 and xfs uppers, both clocks): make bench-first-write.
# --hotpath: only the hot paths: make bench-hotpath.  --hotpath-base: an
# earlier hotpath_icount.json (say, of the module before a change) that
# the report compares cowfs with.
# --rootless: only the rootless containers (cowfs and overlayfs in a user
# namespace, fuse-overlayfs; both clocks).
# --metacopy: only metacopy (chown -R of an image, first writes, upper
# space; overlayfs and cowfs, metacopy off and on; both clocks): make
# bench-metacopy.  --metacopy-args: more arguments for metacopy.py, e.g.
# '--files 1000 --rounds 2' (see metacopy.py --help).
# --composefs: only the composefs-style image (mount, cold stat and read of
# every file; overlayfs and cowfs, the image with verity=require and the
# same tree as a plain layer; both clocks): make bench-composefs.
# --composefs-args: more arguments for composefs.py (see its --help).
# --partial: only copyup=partial (first 4 KiB write into 64 MiB and 1 GiB
# lower files, fio randwrite over the 1 GiB one, reads of it after a few
# writes, upper space; cowfs copyup=partial and =full, overlayfs, and the
# btrfs, devicemapper and zfs drivers; both clocks): make bench-partial.
# --partial-args: more arguments for partial.py, e.g. '--rounds 1
# --drivers btrfs' (see partial.py --help).  Its VMs get at least
# 6144 MB (the 1 GiB file, its copies and their page cache).
# Output:
#   full:   bench-results/latest.json, first_write_icount.json,
#           hotpath_icount.json, rootless_icount.json, metacopy.json,
#           metacopy_icount.json, composefs.json, composefs_icount.json,
#           partial.json, partial_icount.json, latest.md, *.png;
#           docs/benchmarks.md
#   quick:  bench-results/quick/...
#   --first-write: bench-results/first-write/...
#   --hotpath: bench-results/hotpath/..., and (full) its section of
#           docs/benchmarks.md
#   --rootless: bench-results/rootless/...
#   --metacopy: bench-results/metacopy/..., and (full) its section of
#           docs/benchmarks.md
#   --composefs: bench-results/composefs/..., and (full) its section of
#           docs/benchmarks.md
#   --partial: bench-results/partial/..., and (full) its section of
#           docs/benchmarks.md
# The guest console (progress) streams to stdout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
mode=full
drivers=
fw_only=0
hot_only=0
hot_base=
rl_only=0
mc_only=0
mc_args=()
cfs_only=0
cfs_args=()
pt_only=0
pt_args=()
mem=${BENCH_MEM:-4096}
while [ $# -gt 0 ]; do
	case $1 in
	--full) mode=full; shift ;;
	--quick) mode=quick; shift ;;
	--first-write) fw_only=1; shift ;;
	--hotpath) hot_only=1; shift ;;
	--hotpath-base) hot_base=$2; shift 2 ;;
	--rootless) rl_only=1; shift ;;
	--metacopy) mc_only=1; shift ;;
	--metacopy-args) read -r -a more <<<"$2"; mc_args+=("${more[@]}"); shift 2 ;;
	--composefs) cfs_only=1; shift ;;
	--composefs-args) read -r -a more <<<"$2"; cfs_args+=("${more[@]}"); shift 2 ;;
	--partial) pt_only=1; shift ;;
	--partial-args) read -r -a more <<<"$2"; pt_args+=("${more[@]}"); shift 2 ;;
	--drivers) drivers=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	-h | --help) sed -n '3,62s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
done

if [ "$mode" = full ]; then
	out=bench-results
	tmo=${BENCH_TIMEOUT:-3600}
else
	out=bench-results/quick
	tmo=${BENCH_TIMEOUT:-1200}
fi
if [ "$fw_only" = 1 ]; then
	out=bench-results/first-write
	[ -n "$drivers" ] && { echo "run.sh: --first-write measures cowfs and overlay2; no --drivers" >&2; exit 2; }
	drivers=overlay2,cowfs
fi
if [ "$hot_only" = 1 ]; then
	out=bench-results/hotpath
	{ [ "$fw_only" = 1 ] || [ -n "$drivers" ]; } &&
		{ echo "run.sh: --hotpath measures cowfs, overlayfs and direct alone" >&2; exit 2; }
fi
if [ "$rl_only" = 1 ]; then
	{ [ "$fw_only" = 1 ] || [ "$hot_only" = 1 ]; } &&
		{ echo "run.sh: one of --first-write, --hotpath, --rootless" >&2; exit 2; }
	out=bench-results/rootless
	[ -n "$drivers" ] && { echo "run.sh: --rootless measures its own three drivers; no --drivers" >&2; exit 2; }
fi
if [ "$mc_only" = 1 ]; then
	{ [ "$fw_only" = 1 ] || [ "$hot_only" = 1 ] || [ "$rl_only" = 1 ]; } &&
		{ echo "run.sh: one of --first-write, --hotpath, --rootless, --metacopy" >&2; exit 2; }
	out=bench-results/metacopy
	[ -n "$drivers" ] && { echo "run.sh: --metacopy measures overlayfs and cowfs alone; no --drivers" >&2; exit 2; }
fi
if [ "$cfs_only" = 1 ]; then
	{ [ "$fw_only" = 1 ] || [ "$hot_only" = 1 ] || [ "$rl_only" = 1 ] || [ "$mc_only" = 1 ]; } &&
		{ echo "run.sh: one of --first-write, --hotpath, --rootless, --metacopy, --composefs" >&2; exit 2; }
	out=bench-results/composefs
	[ -n "$drivers" ] && { echo "run.sh: --composefs measures overlayfs and cowfs alone; no --drivers" >&2; exit 2; }
fi
if [ "$pt_only" = 1 ]; then
	{ [ "$fw_only" = 1 ] || [ "$hot_only" = 1 ] || [ "$rl_only" = 1 ] || [ "$mc_only" = 1 ] ||
		[ "$cfs_only" = 1 ]; } &&
		{ echo "run.sh: one of --first-write, --hotpath, --rootless, --metacopy, --composefs, --partial" >&2; exit 2; }
	out=bench-results/partial
	[ -n "$drivers" ] && { echo "run.sh: --partial takes its drivers in --partial-args '--drivers ...'" >&2; exit 2; }
fi
mkdir -p "$out"

# hotpath.py in a VM whose clock counts instructions, into
# $out/hotpath_icount.json; fails if it wrote none.
hotpath_vm() {
	local hstamp hrc=0 hargs=(--out "$out/hotpath_icount.json" --clock icount)
	[ "$mode" = quick ] && hargs+=(--quick)
	hstamp=$(mktemp)
	echo "run.sh: hot paths of cowfs, overlayfs and direct, guest clock counting instructions"
	scripts/vm --icount --mem "$mem" --timeout "$tmo" -- \
		python3 scripts/bench/hotpath.py "${hargs[@]}" || hrc=$?
	if [ ! "$out/hotpath_icount.json" -nt "$hstamp" ]; then
		echo "run.sh: the icount VM wrote no $out/hotpath_icount.json" >&2
		hrc=1
	fi
	rm -f "$hstamp"
	return "$hrc"
}
# scripts/bench/NAME.py in a VM with the real clock and in one whose clock
# counts instructions, into $out/NAME.json and $out/NAME_icount.json, with
# ARGS; appends report.py's arguments for those it wrote (--NAME F,
# --NAME-icount F) to the array named DEST.  Fails if either VM failed (a
# configuration whose mount is refused is no failure) or wrote nothing.
# Usage: two_clocks_vm NAME WHAT DEST [ARGS...]
two_clocks_vm() {
	local name=$1 what=$2 stamp rc=0 clock f opt vmargs args=() vmem=$mem
	local -n dest=$3
	shift 3
	[ "$mode" = quick ] && args+=(--quick)
	args+=("$@")
	# partial.py: a 1 GiB file, a full copy of it and their page cache
	[ "$name" = partial ] && [ "$vmem" -lt 6144 ] && vmem=6144
	stamp=$(mktemp)
	for clock in wall icount; do
		if [ "$clock" = icount ]; then
			f=$out/${name}_icount.json opt=--$name-icount vmargs=(--icount)
		else
			f=$out/$name.json opt=--$name vmargs=()
		fi
		echo "run.sh: $what, guest clock $clock"
		scripts/vm "${vmargs[@]}" --mem "$vmem" --timeout "$tmo" -- \
			python3 "scripts/bench/$name.py" \
			--out "$f" --clock "$clock" "${args[@]}" || rc=$?
		if [ "$f" -nt "$stamp" ]; then
			dest+=("$opt" "$f")
		else
			echo "run.sh: the $clock VM wrote no $f" >&2
			rc=1
		fi
	done
	rm -f "$stamp"
	return "$rc"
}

# metacopy.py and composefs.py on both clocks; mc=() and cfs=() collect
# report.py's arguments for what they wrote
mc=()
metacopy_vm() {
	two_clocks_vm metacopy "metacopy of overlayfs and cowfs" mc \
		"${mc_args[@]}"
}

cfs=()
composefs_vm() {
	two_clocks_vm composefs \
		"composefs-style image on overlayfs and cowfs" cfs \
		"${cfs_args[@]}"
}

pt=()
partial_vm() {
	two_clocks_vm partial \
		"copyup=partial: first writes, random writes, reads" pt \
		"${pt_args[@]}"
}

if [ "$pt_only" = 1 ]; then
	rc=0
	partial_vm || rc=1
	[ ${#pt[@]} -gt 0 ] || exit 1
	report=(python3 scripts/bench/report.py "${pt[@]}" --outdir "$out")
	[ "$mode" = full ] && report+=(--docs docs/benchmarks.md)
	"${report[@]}"
	echo "run.sh: partial done: $out/latest.md"
	exit "$rc"
fi

if [ "$cfs_only" = 1 ]; then
	rc=0
	composefs_vm || rc=1
	[ ${#cfs[@]} -gt 0 ] || exit 1
	report=(python3 scripts/bench/report.py "${cfs[@]}" --outdir "$out")
	[ "$mode" = full ] && report+=(--docs docs/benchmarks.md)
	"${report[@]}"
	echo "run.sh: composefs done: $out/latest.md"
	exit "$rc"
fi

if [ "$mc_only" = 1 ]; then
	rc=0
	metacopy_vm || rc=1
	[ ${#mc[@]} -gt 0 ] || exit 1
	report=(python3 scripts/bench/report.py "${mc[@]}" --outdir "$out")
	[ "$mode" = full ] && report+=(--docs docs/benchmarks.md)
	"${report[@]}"
	echo "run.sh: metacopy done: $out/latest.md"
	exit "$rc"
fi

hot=()
if [ -n "$hot_base" ]; then
	# a copy: the base may be the very file this run replaces
	[ "$hot_base" -ef "$out/hotpath_base.json" ] ||
		cp "$hot_base" "$out/hotpath_base.json"
	hot+=(--hotpath-base "$out/hotpath_base.json")
fi

if [ "$hot_only" = 1 ]; then
	hotpath_vm || exit 1
	[ "$mode" = full ] && hot+=(--docs docs/benchmarks.md)
	python3 scripts/bench/report.py --hotpath "$out/hotpath_icount.json" \
		--outdir "$out" "${hot[@]}"
	echo "run.sh: hot paths done: $out/latest.md"
	exit 0
fi

for t in fio gnuplot mkfs.btrfs mkfs.xfs dmsetup zfs fuse-overlayfs; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] || {
		echo "run.sh: $t not found: run 'make deps'" >&2
		exit 1
	}
done

args=(--out "$out/latest.json")
[ "$mode" = quick ] && args+=(--quick)
[ -n "$drivers" ] && args+=(--drivers "$drivers")
[ "$fw_only" = 1 ] && args+=(--only first_write,upper_xfs)
[ "$rl_only" = 1 ] && args+=(--only rootless)
fw_args=(--out "$out/first_write_icount.json" --clock icount
	--drivers overlay2,cowfs --only first_write,upper_xfs)
[ "$mode" = quick ] && fw_args+=(--quick)
rl_args=(--out "$out/rootless_icount.json" --clock icount --only rootless)
[ "$mode" = quick ] && rl_args+=(--quick)

start=$SECONDS
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
echo "run.sh: $mode benchmark in the VM (${mem} MB, timeout ${tmo}s)"
rc=0
scripts/vm --mem "$mem" --timeout "$tmo" -- python3 scripts/bench/bench.py "${args[@]}" || rc=$?
vm_s=$((SECONDS - start))
echo "run.sh: the VM part took ${vm_s}s (exit status $rc)"
[ "$out/latest.json" -nt "$stamp" ] ||
	{ echo "run.sh: the VM wrote no new $out/latest.json" >&2; exit 1; }

icount=()
dl=",${drivers:-overlay2,cowfs},"
if [ "$rl_only" = 0 ] && [[ $dl == *,cowfs,* && $dl == *,overlay2,* ]]; then
	echo "run.sh: first write of cowfs and overlay2 again, guest clock counting instructions"
	scripts/vm --icount --mem "$mem" --timeout "$tmo" -- \
		python3 scripts/bench/bench.py "${fw_args[@]}" || rc=$?
	if [ "$out/first_write_icount.json" -nt "$stamp" ]; then
		icount=(--icount "$out/first_write_icount.json")
	else
		echo "run.sh: the icount VM wrote no $out/first_write_icount.json" >&2
		rc=1
	fi
fi

if [ "$fw_only" = 0 ] && [ "$rl_only" = 0 ] && [[ $dl == *,cowfs,* ]]; then
	if hotpath_vm; then
		hot+=(--hotpath "$out/hotpath_icount.json")
	else
		rc=1
	fi
fi

rl_icount=()
if [ "$fw_only" = 0 ]; then
	echo "run.sh: the rootless containers again, guest clock counting instructions"
	scripts/vm --icount --mem "$mem" --timeout "$tmo" -- \
		python3 scripts/bench/bench.py "${rl_args[@]}" || rc=$?
	if [ "$out/rootless_icount.json" -nt "$stamp" ]; then
		rl_icount=(--rootless-icount "$out/rootless_icount.json")
	else
		echo "run.sh: the icount VM wrote no $out/rootless_icount.json" >&2
		rc=1
	fi
fi

if [ "$fw_only" = 0 ] && [ "$rl_only" = 0 ] &&
	[[ $dl == *,cowfs,* && $dl == *,overlay2,* ]]; then
	metacopy_vm || rc=1
	composefs_vm || rc=1
	partial_vm || rc=1
fi

report=(python3 scripts/bench/report.py "$out/latest.json" --outdir "$out"
	--wall "$vm_s" "${icount[@]}" "${hot[@]}" "${rl_icount[@]}" "${mc[@]}"
	"${cfs[@]}" "${pt[@]}")
[ "$mode" = full ] && [ "$fw_only" = 0 ] && [ "$rl_only" = 0 ] &&
	report+=(--docs docs/benchmarks.md)
"${report[@]}"
echo "run.sh: $mode benchmark done in $((SECONDS - start))s: $out/latest.md"
exit "$rc"
