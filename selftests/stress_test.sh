#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress run: selftests/cowfs_stress with STRESS_PROCS (default 8)
# processes for STRESS_DURATION (default 120) seconds of random
# operations, then its contention phases and verifications (see the top
# of cowfs_stress.c).  Afterwards the kernel log must have no new splat,
# nothing may be left mounted, and the module must unload: it is
# rmmod'ed and loaded again for the tests that follow.
#
#   STRESS_DURATION  seconds of random operations (default 120)
#   STRESS_PROCS     worker processes (default 8)
#   STRESS_LAYERS    lower layers (default 3)
#   STRESS_SEED      random seed (default: from the clock, printed)
#
# 'make check' runs the default; 'make stress DURATION=3600' a long run.
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.

set -u

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=${COWFS_REPO:-$(cd "$here/.." && pwd)}
ko=${COWFS_MODULE:-$repo/kernel/cowfs.ko}
fstype=${COWFS_TEST_FSTYPE:-cowfs}
dur=${STRESS_DURATION:-120}
procs=${STRESS_PROCS:-8}
layers=${STRESS_LAYERS:-3}
seed=${STRESS_SEED:-}

say() { echo "# stress: $*"; }
skip() { say "SKIP: $*"; exit $KSFT_SKIP; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ -x "$here/cowfs_stress" ] || { say "FAIL: $here/cowfs_stress not built (make selftests)"; exit $KSFT_FAIL; }

splat_re='Oops|WARNING:|BUG:|lockdep|possible recursive locking|circular locking|refcount_t:|list_(add|del) corruption|general protection fault|KASAN|UBSAN|Call Trace|hung_task|blocked for more than'
before=$(dmesg | wc -l)
status=$KSFT_PASS

args=(-p "$procs" -t "$dur" -l "$layers")
[ -n "$seed" ] && args+=(-s "$seed")
say "cowfs_stress ${args[*]}"
"$here/cowfs_stress" "${args[@]}"
rc=$?
case $rc in
0) ;;
4) skip "cowfs_stress skipped" ;;
*) say "FAIL: cowfs_stress exit status $rc"; status=$KSFT_FAIL ;;
esac

hits=$(dmesg | tail -n +"$((before + 1))" | grep -E "$splat_re")
if [ -n "$hits" ]; then
	say "FAIL: kernel log splats during the run:"
	printf '%s\n' "$hits" | sed 's/^/#   /'
	status=$KSFT_FAIL
fi

left=$(awk -v t="$fstype" '$3 == t { print $2 }' /proc/mounts)
if [ -n "$left" ]; then
	say "FAIL: $fstype mounts left: $left"
	status=$KSFT_FAIL
fi

# The module must be free again: unload it, then load it back for the
# tests that follow (the runner started us with it loaded).
modname=cowfs
if [ "$fstype" = cowfs ] && [ -d /sys/module/$modname ]; then
	refs=$(cat /sys/module/$modname/refcnt)
	if [ "$refs" != 0 ]; then
		say "FAIL: module refcount $refs after the run"
		status=$KSFT_FAIL
	elif ! rmmod $modname; then
		say "FAIL: rmmod $modname"
		status=$KSFT_FAIL
	elif ! insmod "$ko"; then
		say "FAIL: insmod $ko after rmmod"
		status=$KSFT_FAIL
	else
		say "rmmod and insmod $modname: ok"
	fi
fi

[ $status = $KSFT_PASS ] && say "PASS"
exit $status
