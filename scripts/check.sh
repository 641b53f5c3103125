#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 'make check': every phase CI runs, in order, continuing past a failed
# check so one run reports everything:
#
#   deps ksrc all | checkpatch check-wrappers w1 sparse dkms cowctl-check | test
#
# deps and ksrc failing stop the run; a failed build skips the VM tests.
# Ends with a summary and a single 'check: N passed, N failed' line where
# each selftest case and each static check phase counts as one case.
# Exit status: 0 only if nothing failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
make=("${MAKE:-make}" --no-print-directory)
log=build/check-test.log
mkdir -p build

start=$SECONDS
results=()
npass=0
nfail=0
nskip=0

phase() { # name, command...
	local name=$1 t0=$SECONDS rc
	shift
	"$@"
	rc=$?
	if [ "$rc" = 0 ]; then
		results+=("$(printf '%-14s ok      (%ss)' "$name" $((SECONDS - t0)))")
	else
		results+=("$(printf '%-14s FAILED  (%ss)' "$name" $((SECONDS - t0)))")
	fi
	return "$rc"
}
# A static check phase counts as one case in the final line.
counted() {
	if phase "$@"; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
}

summary() {
	echo
	echo "==> check summary ($((SECONDS - start))s)"
	printf '  %s\n' "${results[@]}"
	local line="check: $npass passed, $nfail failed"
	[ "$nskip" = 0 ] || line+=", $nskip skipped"
	echo "$line"
}

if ! phase deps "${make[@]}" deps || ! phase ksrc "${make[@]}" ksrc; then
	nfail=$((nfail + 1))
	summary
	exit 1
fi

build_ok=1
counted build "${make[@]}" all || build_ok=0
counted checkpatch "${make[@]}" checkpatch
counted wrappers "${make[@]}" check-wrappers
counted w1 "${make[@]}" w1
counted sparse "${make[@]}" sparse
counted dkms "${make[@]}" dkms-check
if grep -q '^check:' tools/cowctl/Makefile 2>/dev/null; then
	counted cowctl-check "${make[@]}" -C tools/cowctl check
fi

if [ "$build_ok" = 1 ]; then
	t0=$SECONDS
	"${make[@]}" test 2>&1 | tee "$log"
	trc=${PIPESTATUS[0]}
	counts=$(sed 's/\r$//' "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -n1)
	if [ -n "$counts" ]; then
		read -r p _ f _ s _ <<<"${counts//,/}"
		npass=$((npass + p))
		nfail=$((nfail + f))
		nskip=$((nskip + ${s:-0}))
		# The VM failed after the runner counted (e.g. panic at poweroff).
		[ "$trc" = 0 ] || [ "$f" != 0 ] || nfail=$((nfail + 1))
	else
		nfail=$((nfail + 1))
		counts="no result line: the VM did not finish the run"
	fi
	st=ok
	[ "$trc" = 0 ] || st=FAILED
	results+=("$(printf '%-14s %-7s (%ss) %s' test "$st" $((SECONDS - t0)) "$counts")")
else
	nfail=$((nfail + 1))
	results+=("$(printf '%-14s FAILED  not run: the build failed' test)")
fi

summary
[ "$nfail" = 0 ]
