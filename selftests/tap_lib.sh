# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # $tmp and $cowctl are the sourcing script's
#
# TAP helpers for the selftests/*_test.sh scripts: source this file, make
# $tmp a scratch directory, report with result and check, and end with
# 'tap_end'.  The sourcing script defines say() and skip().

n=0
nfail=0

# result OK DESC: one TAP line, a pass when OK is 0.
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		nfail=$((nfail + 1))
	fi
}

# check DESC CMD...: a pass when CMD exits 0; its output shown when not.
check() {
	local desc=$1 rc
	shift
	"$@" >"$tmp/out" 2>&1
	rc=$?
	[ "$rc" = 0 ] || sed 's/^/#   /' "$tmp/out"
	result "$rc" "$desc"
}

# umount_under DIR: lazily unmount everything mounted below DIR, deepest
# first.
umount_under() {
	awk -v t="$1" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done 2>/dev/null
}

# Skip (status 4) unless root, with cowctl built and the module loaded.
require_cowctl_and_module() {
	[ "$(id -u)" -eq 0 ] || skip "must run as root"
	[ -x "$cowctl" ] || skip "$cowctl is not built (make cowctl)"
	grep -qw cowfs /proc/filesystems || skip "the cowfs module is not loaded"
}

# Volume tests: remember the module's volume store in $old_store, to be
# put back by volume_test_cleanup VOLUME... (which unmounts what is below
# $tmp, removes the VOLUMEs and $tmp).
volume_test_init() {
	old_store=$("$cowctl" config get 2>/dev/null | sed -n 's/^store: //p')
}

volume_test_cleanup() {
	local v

	umount_under "$tmp"
	for v in "$@"; do "$cowctl" volume rm -f "$v" >/dev/null 2>&1; done
	[ -z "$old_store" ] ||
		"$cowctl" config set --store "$old_store" >/dev/null 2>&1
	rm -rf "$tmp"
}

# The plan line and the exit status (kselftest: 0 pass, 1 fail).
tap_end() {
	echo "1..$n"
	[ "$nfail" = 0 ] || exit 1
	exit 0
}
