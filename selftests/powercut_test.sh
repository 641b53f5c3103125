#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Power cuts during copy-up, renames with redirects, whiteouts, rmdir and
# rm -r of merged directories, and fsync'ed writes: the upper layer is on
# ext4 and on xfs (mounted dirsync) on a dm-log-writes device; the log is
# replayed up to every FLUSH/FUA entry and the union mounted over each
# such state must show every operation done or not done, never half (see
# powercut_test.py, and logreplay.py for the log format).  cowfs only:
# writes, appends and a truncate on a copyup=partial union, each granule
# of a partial file old or new, never zeros, and overlayfs over the same
# layers refusing a partial file (EIO) rather than showing its holes.
#
#   COWFS_TEST_FSTYPE    cowfs (default) or overlay, the reference
#   POWERCUT_VARIANTS    default "ext4:dirsync xfs:dirsync"
#   POWERCUT_MAX_POINTS  crash points checked per variant (default 300: all)
#   POWERCUT_ONLY        operations to run (default all)
#   POWERCUT_VERBOSE=1   the state of every operation at every point
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip (not root, no python3,
# no dm-log-writes).
set -u
cd "$(dirname "$0")" || exit 1

[ "$(id -u)" -eq 0 ] || { echo "# powercut: SKIP: must run as root"; exit 4; }
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) ||
	{ echo "# powercut: SKIP: no python3"; exit 4; }

# powercut_test.py cleans up after itself; this trap is for when it is
# killed (timeout -k): everything it made is named by $tag or under $tmp.
tag=pc$$
tmp=$(mktemp -d /tmp/powercut.XXXXXX) || exit 1
cleanup() {
	local m d l
	awk -v t="$tmp/" 'index($2, t) == 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	for d in $(dmsetup ls 2>/dev/null | awk -v t="$tag-" 'index($1, t) == 1 { print $1 }'); do
		dmsetup remove "$d" 2>/dev/null || dmsetup remove --force "$d"
	done
	losetup -nO NAME,BACK-FILE 2>/dev/null |
		while read -r l d; do
			case $d in "$tmp"/*) losetup -d "$l" ;; esac
		done
	rm -rf "$tmp"
}
trap cleanup EXIT

# In the background, so that a signal to this script is handled at once:
# the test is stopped (it cleans up as it exits), then the trap runs.
POWERCUT_TAG=$tag POWERCUT_TMP=$tmp "$py" ./powercut_test.py "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 1' INT TERM
wait "$child"
