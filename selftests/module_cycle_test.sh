#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Load/unload cycle: ROUNDS (default 50) times insmod the cowfs module,
# mount a two-layer union, read through it, umount and rmmod, checking
# that the filesystem type comes and goes with the module, that rmmod is
# refused while a union is mounted, and that the kernel log stays clean.
#
# The module is $COWFS_KO (default: $COWFS_MODULE, else kernel/cowfs.ko
# under the repository root). The runner starts us with the module loaded:
# we rmmod it first and leave it loaded again when we exit.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.

set -u

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
ko=${COWFS_KO:-${COWFS_MODULE:-kernel/cowfs.ko}}
case $ko in /*) ;; *) ko=$repo/$ko ;; esac
fstype=${COWFS_TEST_FSTYPE:-cowfs}
rounds=${COWFS_CYCLE_ROUNDS:-50}

say() { echo "# module_cycle: $*"; }
skip() { say "SKIP: $*"; exit $KSFT_SKIP; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ -f "$ko" ] || skip "module $ko not found (build it first)"
command -v insmod >/dev/null && command -v rmmod >/dev/null ||
	skip "insmod/rmmod not available"

modname=$(modinfo -F name "$ko" 2>/dev/null)
[ -n "$modname" ] || { modname=${ko##*/}; modname=${modname%%.ko*}; }
modname=${modname//-/_}

# Bash builtins only inside the loop: every exec costs ~0.1s under TCG.
loaded() {
	local name rest
	while read -r name rest; do
		[ "$name" = "$modname" ] && return 0
	done </proc/modules
	return 1
}
registered() {
	local a b
	while read -r a b; do
		[ "${b:-$a}" = "$fstype" ] && return 0
	done </proc/filesystems
	return 1
}
splats() {
	dmesg 2>/dev/null | grep -cE \
		'Oops|WARNING:|BUG:|refcount_t|list_(add|del) corruption|general protection|KASAN|UBSAN|Call Trace'
}

dir=$(mktemp -d /tmp/cowfs-cycle.XXXXXX) || skip "mktemp failed"
mnt=$dir/m
round=0
status=$KSFT_FAIL

cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt"
	rm -rf "$dir"
	# leave the module loaded, as the runner expects
	loaded || insmod "$ko" || { say "FAIL: could not reload $ko"; status=$KSFT_FAIL; }
	exit $status
}
trap cleanup EXIT

fail() {
	say "FAIL (round $round/$rounds): $*"
	status=$KSFT_FAIL
	exit
}

mkdir -p "$mnt" "$dir/l0" "$dir/l1"
# insmod from tmpfs, not from the (slow) shared repository mount
cp "$ko" "$dir/module.ko" || skip "cannot copy $ko"
echo top >"$dir/l0/shared"
echo lower >"$dir/l1/shared"
echo bottom >"$dir/l1/bottom"
mknod "$dir/l0/gone" c 0 0
echo hidden >"$dir/l1/gone"

splats_before=$(splats)

if loaded; then
	rmmod "$modname" || fail "cannot rmmod $modname at start (still in use?)"
fi
loaded && fail "$modname still in /proc/modules after rmmod"

for round in $(seq 1 "$rounds"); do
	insmod "$dir/module.ko" || fail "insmod $ko failed"
	loaded || fail "$modname not in /proc/modules after insmod"
	registered || fail "$fstype not in /proc/filesystems after insmod"

	mount -t "$fstype" none "$mnt" -o "lowerdir=$dir/l0:$dir/l1" ||
		fail "mount failed"
	got=; read -r got <"$mnt/shared"
	[ "$got" = top ] || fail "shared: got '$got', want 'top'"
	got=; read -r got <"$mnt/bottom"
	[ "$got" = bottom ] || fail "bottom: got '$got', want 'bottom'"
	[ -e "$mnt/gone" ] && fail "whiteout 'gone' is visible"
	entries=("$mnt"/*)
	[ "${entries[*]}" = "$mnt/bottom $mnt/shared" ] ||
		fail "listing: ${entries[*]}"

	if [ "$round" -eq 1 ]; then
		rmmod "$modname" 2>/dev/null && fail "rmmod succeeded while mounted"
		loaded || fail "module gone while a union was mounted"
	fi

	umount "$mnt" || fail "umount failed"
	rmmod "$modname" || fail "rmmod failed after umount"
	loaded && fail "$modname still in /proc/modules after rmmod"
	registered && fail "$fstype still in /proc/filesystems after rmmod"
done

splats_after=$(splats)
[ "$splats_after" -eq "$splats_before" ] ||
	fail "kernel log has $((splats_after - splats_before)) new warning lines"

say "$rounds rounds of insmod/mount/read/umount/rmmod passed"
status=$KSFT_PASS
