#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 'make fuzz-images': run the crafted-image fuzzer (selftests/image_fuzz.py)
# over COUNT seeds from START in the test VM, through scripts/run-tests.sh
# (so the kernel log and rmmod are checked too).  A seed that fails is
# reported and the run goes on (--keep-going); a seed that hangs the guest
# or kills it (panic, VM timeout) is reported by the last seed the guest
# printed, and a fresh VM continues after it.  At the end: every failing
# seed and why.  Logs: build/fuzz-images/.
#
# usage: scripts/fuzz-images.sh [START [COUNT [FSTYPE]]]
#   (START 1, COUNT 1000, FSTYPE cowfs or overlay; VM_ARGS for scripts/vm)
# Exit status: 0 every seed clean, 1 a seed failed, 2 usage.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
start=${1:-1}
count=${2:-1000}
fstype=${3:-cowfs}
for v in start count; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "fuzz-images: $v must be a number, not '${!v}'" >&2; exit 2; }
done
case "$fstype" in cowfs | overlay) ;; *) echo "fuzz-images: FSTYPE is cowfs or overlay, not '$fstype'" >&2; exit 2 ;; esac
[ "$count" -gt 0 ] || { echo "fuzz-images: COUNT must be > 0" >&2; exit 2; }

end=$((start + count))	# exclusive
logdir=$repo/build/fuzz-images
mkdir -p "$logdir"
fails=()
boots=0
max_boots=$((count < 40 ? count + 1 : 40))
next=$start
t0=$(date +%s)
echo "fuzz-images: $fstype, seeds $start..$((end - 1)), logs in ${logdir#"$repo"/}/"
while [ "$next" -lt "$end" ]; do
	if [ "$boots" -ge "$max_boots" ]; then
		echo "fuzz-images: $boots guests started; giving up at seed $next"
		fails+=("seeds $next..$((end - 1)): not run (too many guest restarts)")
		break
	fi
	boots=$((boots + 1))
	n=$((end - next))
	log=$logdir/run-$next.log
	echo "fuzz-images: guest $boots: seeds $next..$((end - 1)) (log ${log#"$repo"/})"
	# 3 s a seed is plenty under TCG (most take one); a hung seed stops
	# the fuzzer itself after its --timeout.
	# shellcheck disable=SC2086 # VM_ARGS is a list of options
	"$repo/scripts/vm" ${VM_ARGS:-} --timeout $((600 + 4 * n)) -- \
		env IMGFUZZ_START="$next" IMGFUZZ_COUNT="$n" \
		IMGFUZZ_ARGS="--keep-going" COWFS_TEST_FSTYPE="$fstype" \
		scripts/run-tests.sh -t $((300 + 4 * n)) image_fuzz_test.sh \
		2>&1 | tee "$log" | grep --line-buffered -E \
		'imgfuzz: (seed [0-9]+ (FAILED|ok)|FAIL|summary|  seed)|^(fuzz-images|scripts/vm):|Oops|BUG:|panic'
	vmrc=${PIPESTATUS[0]}
	while IFS= read -r line; do
		fails+=("${line#imgfuzz: FAIL }")
	done < <(grep -a '^imgfuzz: FAIL seed ' "$log")
	if grep -aq '^imgfuzz: done$' "$log"; then
		break
	fi
	# The guest stopped early: the last seed it started is the culprit
	# (unless the fuzzer already named it).
	last=$(grep -aoE '^imgfuzz: seed [0-9]+ \.\.\.' "$log" | tail -n1 | grep -oE '[0-9]+')
	if [ -z "$last" ]; then
		echo "fuzz-images: the guest ran no seed (status $vmrc); see ${log#"$repo"/}"
		fails+=("seeds $next..$((end - 1)): not run (guest status $vmrc)")
		break
	fi
	if ! grep -aq "^imgfuzz: FAIL seed $last:" "$log"; then
		fails+=("seed $last: the guest died or hung in it (scripts/vm status $vmrc)")
	fi
	echo "fuzz-images: the guest stopped in seed $last; continuing after it"
	next=$((last + 1))
done

echo
echo "fuzz-images: $fstype, seeds $start..$((end - 1)), $boots guest(s), $(($(date +%s) - t0)) s"
if [ ${#fails[@]} -eq 0 ]; then
	echo "fuzz-images: every seed clean"
	exit 0
fi
echo "fuzz-images: ${#fails[@]} failing:"
printf '  %s\n' "${fails[@]}"
echo "fuzz-images: replay one in the guest: scripts/vm -- selftests/image_fuzz.py --fstype $fstype --seed N -v"
exit 1
