#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the cowfs selftests inside the test VM (see usage below).  Normally
# started by 'make test', i.e. scripts/vm -- scripts/run-tests.sh.
set -uo pipefail

prog=run-tests.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tdir=${SELFTESTS_DIR:-$repo/selftests}
logdir=$repo/build/test-logs

usage() {
	cat <<EOF
usage: scripts/vm -- scripts/run-tests.sh [options] [TEST...]

Runs inside the scripts/vm guest (as root): loads kernel/cowfs.ko unless
it is loaded, runs the selftests, unloads the module, and checks the
kernel log for splats.  With TEST names (e.g. lookup_test, mount_test.sh),
runs only those.

  selftests/*_test      kselftest_harness binaries; every TAP 'ok' /
                        'not ok' line is one case ('# SKIP' = skipped)
  selftests/*_test.sh   one case each: exit 0 passes, 4 skips, else fails
  module unload         'rmmod cowfs' must succeed after the tests
  dmesg clean           no Oops/WARNING/BUG/lockdep/refcount/list
                        corruption/GPF/KASAN/KFENCE/kmemleak/UBSAN/hung
                        task/RCU stall/Call Trace in dmesg

Tests run with cwd = selftests/ and COWFS_REPO, COWFS_MODULE exported.
Logs (each test's output, the full dmesg) go to build/test-logs/.
The last line is 'N passed, N failed[, N skipped]'; the exit status is 1
if anything failed.  After a kernel oops, or a test that the timeout
cannot end (stuck in the kernel), the rest are not run: the kernel is
not fit to judge them.

options:
  -l, --list          list the tests and exit
  -k, --keep-module   do not rmmod cowfs afterwards (no 'module unload' case)
  -t, --timeout SEC   per test program timeout (default: ${TEST_TIMEOUT:-900})
  -h, --help          this text
EOF
}

list=0
keep=0
tmo=${TEST_TIMEOUT:-900}
want=()
while [ $# -gt 0 ]; do
	case "$1" in
	-l | --list) list=1; shift ;;
	-k | --keep-module) keep=1; shift ;;
	-t | --timeout)
		[ $# -ge 2 ] || { echo "$prog: $1 needs an argument" >&2; exit 2; }
		tmo=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "$prog: unknown option $1 (try --help)" >&2; exit 2 ;;
	*) want+=("$1"); shift ;;
	esac
done

# ---- discover -------------------------------------------------------------

# All tests, by name: foo_test (binary) and foo_test.sh (script).
# Sources without a built binary are reported, not silently dropped.
all=()
unbuilt=()
for f in "$tdir"/*_test "$tdir"/*_test.sh; do
	[ -f "$f" ] || continue
	case "$f" in
	*.sh) all+=("${f##*/}") ;;
	*) [ -x "$f" ] && all+=("${f##*/}") ;;
	esac
done
for f in "$tdir"/*_test.c; do
	[ -f "$f" ] || continue
	b=${f%.c}
	[ -x "$b" ] || unbuilt+=("${b##*/}")
done

sel=()
if [ ${#want[@]} -eq 0 ]; then
	sel=("${all[@]}" "${unbuilt[@]}")
else
	for w in "${want[@]}"; do
		w=${w##*/}
		found=
		for t in "${all[@]}" "${unbuilt[@]}"; do
			if [ "$t" = "$w" ] || [ "$t" = "${w}_test" ] ||
				[ "$t" = "$w.sh" ] || [ "$t" = "${w}_test.sh" ]; then
				found=$t
				break
			fi
		done
		if [ -z "$found" ]; then
			echo "$prog: no test named '$w'; the tests are: ${all[*]} ${unbuilt[*]}" >&2
			exit 2
		fi
		sel+=("$found")
	done
fi

if [ "$list" = 1 ]; then
	printf '%s\n' "${all[@]}"
	for u in "${unbuilt[@]}"; do echo "$u (not built)"; done
	exit 0
fi

if [ "${COWFS_VM:-}" != 1 ] || [ "$(id -u)" != 0 ]; then
	echo "$prog: this runs as root inside the test VM: use 'make test' or" >&2
	echo "$prog:   scripts/vm -- scripts/run-tests.sh $*" >&2
	exit 2
fi

# ---- bookkeeping -----------------------------------------------------------

npass=0
nfail=0
nskip=0
failed=()
pass() { npass=$((npass + 1)); }
skip() { nskip=$((nskip + 1)); }
fail() { nfail=$((nfail + 1)); failed+=("$1"); }

mkdir -p "$logdir"
rm -f "$logdir"/*.log "$logdir"/dmesg.txt

# Kernel log lines that mean the kernel is unhappy.  The debug kernel
# (docs/debug-kernel.md) adds its own: hung tasks, RCU stalls, lockdep
# giving up ('turning off the locking correctness validator'), KFENCE and
# kmemleak reports.  Its harmless boot lines ('kfence: initialized',
# 'kasan: KernelAddressSanitizer initialized', lockdep's table sizes,
# 'RCU lockdep checking is enabled.') do not match: 'lockdep' counts
# anywhere but after 'RCU '.
splat_re='Oops|WARNING:|BUG:|kernel BUG at|Kernel panic|(^|[^U] |[^ ])lockdep|possible recursive locking|circular locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|turning off the locking correctness validator|INFO: task .* blocked for more than|INFO: rcu_[a-z]+ (self-)?detected stall|refcount_t:|list_add corruption|list_del corruption|general protection fault|KASAN|KFENCE|kmemleak: [0-9]+ new suspected|unreferenced object 0x|ODEBUG disabled|UBSAN|Call Trace'

dmesg_lines() { dmesg | wc -l; }

# Print kernel splats logged since line $1 of dmesg, naming the test.
new_splats() {
	local from=$1 what=$2 hits
	hits=$(dmesg | tail -n +"$((from + 1))" | grep -E "$splat_re")
	if [ -n "$hits" ]; then
		echo "!! kernel log during $what has splats:"
		printf '%s\n' "$hits" | sed 's/^/!!   /'
	fi
}

# ---- module ----------------------------------------------------------------

ko=${COWFS_MODULE:-$repo/kernel/cowfs.ko}
export COWFS_REPO=$repo COWFS_MODULE=$ko
modname=${ko##*/}
modname=${modname%.ko}
modname=${modname//-/_}
mod_ok=1
if [ ! -d "/sys/module/$modname" ]; then
	echo "==> insmod ${ko#"$repo"/}"
	if ! insmod "$ko"; then
		mod_ok=0
		fail "module load"
		dmesg | tail -n 20
	fi
fi

# ---- tests -----------------------------------------------------------------

# Count the TAP results in log $1 of binary $2 which exited with $3.
tally_tap() {
	local log=$1 name=$2 rc=$3 line n=0 plan="" bp=0 bf=0 bs=0 tname
	while IFS= read -r line; do
		case "$line" in
		"1.."*)
			plan=${line#1..}
			plan=${plan%% *}
			;;
		"ok "[0-9]* | "not ok "[0-9]*)
			n=$((n + 1))
			tname=${line#not }
			tname=${tname#ok }
			tname=${tname#* }
			if [[ $line == not* ]]; then
				bf=$((bf + 1)); fail "$name: ${tname:-#$n}"
			elif [[ ${line^^} == *"# SKIP"* ]]; then
				bs=$((bs + 1)); skip
			else
				bp=$((bp + 1)); pass
			fi
			;;
		esac
	done <"$log"

	if [ "$rc" = 124 ]; then
		bf=$((bf + 1)); fail "$name: timed out after ${tmo}s"
	elif [ "$plan" = 0 ] && [ "$n" = 0 ] && { [ "$rc" = 0 ] || [ "$rc" = 4 ]; }; then
		bs=$((bs + 1)); skip # '1..0 # SKIP reason': all skipped
	elif [ -n "$plan" ] && [ "$n" -lt "$plan" ]; then
		bf=$((bf + 1)); fail "$name: only $n of $plan planned tests reported (exit status $rc)"
	elif [ "$n" = 0 ]; then
		bf=$((bf + 1)); fail "$name: no TAP results (exit status $rc)"
	elif [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$bf" = 0 ]; then
		bf=$((bf + 1)); fail "$name: exit status $rc"
	fi
	echo "--> $name: $bp passed, $bf failed, $bs skipped"
}

# Why the kernel can no longer be trusted to run tests, or empty.
broken=""

# An oops killed a task, maybe with locks held: later tests would hang
# on them or pass by luck.  (TAINT_DIE is bit 7 of the taint mask.)
check_oops() {
	local taint
	taint=$(cat /proc/sys/kernel/tainted 2>/dev/null) || return
	if [ $((taint & 128)) != 0 ] && [ -z "$broken" ]; then
		broken="the kernel oopsed during $1"
	fi
}

# Run "$@" in selftests/ with the per-test timeout, its output to the
# console and to log $log; its exit status in $rc.  timeout(1) cannot end
# a test stuck in the kernel (a task in D state, say on a lock that an
# oops left held): a minute after its deadline, give up waiting, show the
# blocked tasks' kernel stacks, and set $broken.
run_bounded() {
	local wd stuck=0 p

	rm -f "$log.rc"
	trap 'stuck=1' USR1
	(sleep $((tmo + 60)) && kill -USR1 $$) 2>/dev/null &
	wd=$!
	{
		(cd "$tdir" && exec timeout -k 10 "$tmo" "$@") </dev/null
		echo $? >"$log.rc"
	} 2>&1 | tee "$log" &
	wait $!
	trap - USR1
	# Not 'wait $wd': after a trap, bash's wait may wait for the test too
	pkill -P "$wd" sleep 2>/dev/null
	rc=$(cat "$log.rc" 2>/dev/null) || rc=124
	[ "$stuck" = 0 ] && return
	echo "!! $t did not end $((tmo + 60)) s after it started: stuck in the kernel"
	for p in /proc/[0-9]*; do
		grep -qs '^State:.*D ' "$p/status" || continue
		echo "!!   blocked: ${p#/proc/} $(cat "$p/comm" 2>/dev/null)"
		sed 's/^/!!     /' "$p/stack" 2>/dev/null
	done
	[ -n "$broken" ] || broken="$t is stuck in the kernel"
}

run_one() {
	local t=$1 log=$logdir/$1.log rc before
	echo
	echo "==> selftests/$t"
	before=$(dmesg_lines)
	if [[ $t == *.sh ]]; then
		if [ -x "$tdir/$t" ]; then
			run_bounded "./$t"
		else
			run_bounded bash "./$t"
		fi
		case "$rc" in
		0) pass; echo "--> $t: passed" ;;
		4) skip; echo "--> $t: skipped" ;;
		124) fail "$t: timed out after ${tmo}s"; echo "--> $t: FAILED (timed out)" ;;
		*) fail "$t (exit status $rc)"; echo "--> $t: FAILED (exit status $rc)" ;;
		esac
	else
		run_bounded "./$t"
		tally_tap "$log" "$t" "$rc"
	fi
	new_splats "$before" "$t"
	check_oops "$t"
}

if [ "$mod_ok" = 1 ]; then
	left=${#sel[@]}
	for t in "${sel[@]}"; do
		if [ -n "$broken" ]; then
			echo
			echo "!! $broken: not running the $left test program(s) left"
			fail "$left test program(s) not run: $broken"
			break
		fi
		left=$((left - 1))
		if [ -x "$tdir/$t" ] || [[ $t == *.sh ]]; then
			run_one "$t"
		else
			echo
			echo "==> selftests/$t: NOT BUILT (selftests/$t.c has no binary: run 'make selftests')"
			fail "$t: not built"
		fi
	done
else
	echo "$prog: the module did not load; not running the tests"
fi

# ---- unload, kernel log ----------------------------------------------------

echo
if [ -n "$broken" ] && [ "$keep" = 0 ]; then
	echo "!! $broken: not unloading $modname (its users may never let go)"
elif [ "$keep" = 0 ] && [ -d "/sys/module/$modname" ]; then
	echo "==> rmmod $modname"
	before=$(dmesg_lines)
	if rmmod "$modname"; then
		pass
		echo "--> module unload: passed"
	else
		fail "module unload"
		echo "!! rmmod $modname failed; cowfs mounts left:"
		grep -w cowfs /proc/mounts | sed 's/^/!!   /'
		echo "!! refcount: $(cat "/sys/module/$modname/refcnt" 2>/dev/null)"
	fi
	new_splats "$before" "rmmod $modname"
fi

echo "==> kernel log (dmesg, since boot)"
dmesg >"$logdir/dmesg.txt"
hits=$(grep -nE "$splat_re" "$logdir/dmesg.txt")
if [ -z "$hits" ]; then
	pass
	echo "--> dmesg clean"
else
	fail "dmesg clean"
	echo "!! dmesg has $(printf '%s\n' "$hits" | wc -l) suspicious line(s):"
	printf '%s\n' "$hits" | sed 's/^/!!   /'
	# The first splat in full, for context.
	first=$(printf '%s\n' "$hits" | head -n1 | cut -d: -f1)
	echo "!! first splat with context (full log: build/test-logs/dmesg.txt):"
	sed -n "$((first > 5 ? first - 5 : 1)),$((first + 40))p" "$logdir/dmesg.txt" | sed 's/^/!!   /'
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed cases:"
	printf '  %s\n' "${failed[@]}"
fi
summary="$npass passed, $nfail failed"
[ "$nskip" = 0 ] || summary+=", $nskip skipped"
echo "$summary"
[ "$nfail" = 0 ]
