#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench / make bench-quick: run scripts/bench/bench.py in the test VM
# (QEMU, TCG) with every storage driver, then make the table, the plots
# and docs/benchmarks.md on the host with scripts/bench/report.py.
#
#   scripts/bench/run.sh --full | --quick [--drivers a,b] [--mem MB]
#
# Output:
#   full:   bench-results/latest.json, latest.md, *.png; docs/benchmarks.md
#   quick:  bench-results/quick/latest.json, latest.md, *.png
# The guest console (progress) streams to stdout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
mode=full
drivers=
mem=${BENCH_MEM:-4096}
while [ $# -gt 0 ]; do
	case $1 in
	--full) mode=full; shift ;;
	--quick) mode=quick; shift ;;
	--drivers) drivers=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	-h | --help) sed -n '3,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
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
mkdir -p "$out"

for t in fio gnuplot mkfs.btrfs mkfs.xfs dmsetup zfs; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] || {
		echo "run.sh: $t not found: run 'make deps'" >&2
		exit 1
	}
done

args=(--out "$out/latest.json")
[ "$mode" = quick ] && args+=(--quick)
[ -n "$drivers" ] && args+=(--drivers "$drivers")

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

report=(python3 scripts/bench/report.py "$out/latest.json" --outdir "$out"
	--wall "$vm_s")
[ "$mode" = full ] && report+=(--docs docs/benchmarks.md)
"${report[@]}"
echo "run.sh: $mode benchmark done in $((SECONDS - start))s: $out/latest.md"
exit "$rc"
