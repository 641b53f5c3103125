#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module with extra checking and fail on any finding:
#
#   scripts/kbuild-check.sh w1 KDIR       W=1 build; any compiler or modpost
#                                         warning fails
#   scripts/kbuild-check.sh sparse KDIR   C=2 CHECK=sparse build; any sparse
#                                         (or compiler) warning or error in
#                                         our files fails
#
# The build runs on a fresh copy of the module sources in build/<mode>/,
# so every file is compiled (and so every warning shows) on each run, and
# the objects in kernel/ are left alone.  The full log is kept in
# build/<mode>.log; paths in it are shown relative to the repository.
set -euo pipefail

die() { echo "kbuild-check: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: $0 w1|sparse KDIR"
mode=$1
kdir=$2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$kdir/Makefile" ] ||
	die "no kernel build tree at $kdir (install linux-headers-6.12-amd64: make deps)"

case "$mode" in
w1) kargs=(W=1) ;;
sparse)
	command -v sparse >/dev/null || die "sparse not installed (make deps)"
	kargs=(C=2 CHECK=sparse)
	;;
*) die "unknown mode '$mode' (w1 or sparse)" ;;
esac

copy=$repo/build/$mode
log=$repo/build/$mode.log
rm -rf "$copy"
mkdir -p "$copy"
cd "$repo"
srcs=()
for d in Kbuild kernel include; do
	[ -e "$d" ] && srcs+=("$d")
done
find "${srcs[@]}" \( -type d -o -name '*.[chS]' -o -name Kbuild \
	-o -name Makefile \) -not -name '*.mod.c' -print |
	cpio -pdm --quiet "$copy"

set +e
${MAKE:-make} -C "$kdir" M="$copy" "${kargs[@]}" modules 2>&1 |
	sed -e "s|$copy/||g" >"$log"
rc=${PIPESTATUS[0]}
set -e

# Diagnostics: compiler/sparse "file:line:col: warning|error:", cc1 and
# modpost "WARNING:"/"ERROR:" lines; for sparse only those in our files.
if [ "$mode" = sparse ]; then
	findings=$(grep -E '^(kernel|include)/[^:]+:[0-9]+(:[0-9]+)?: (warning|error):' "$log" || true)
	# sparse stops after too many errors (e.g. in a kernel header) and
	# would then hide ours: that is a finding too.
	giveup=$(grep -E 'too many (errors|warnings)' "$log" || true)
	findings=$(printf '%s\n%s' "$findings" "$giveup" | sed '/^$/d')
else
	# (make's own notes, e.g. about the jobserver, are not findings)
	findings=$(grep -iE '(^|[: ])(warning|error):' "$log" | grep -v '^make' || true)
fi

if [ -n "$findings" ]; then
	# The same header warning shows once per object: list it once.
	findings=$(printf '%s\n' "$findings" | awk '!seen[$0]++')
	n=$(printf '%s\n' "$findings" | wc -l)
	echo "$mode: $n finding(s) (full log: build/$mode.log):"
	printf '%s\n' "$findings" | sed 's/^/  /'
	# The compiler's context lines for the first few, without kbuild's
	# progress lines.
	ctx=$(grep -E -A4 '^[^ ]+:[0-9]+(:[0-9]+)?: (warning|error):' "$log" |
		grep -vE '^  [A-Z]+ |^--$|^make' | uniq | head -n 60)
	if [ -n "$ctx" ]; then
		echo "$mode: details:"
		printf '%s\n' "$ctx" | sed 's/^/  /'
	fi
	exit 1
fi
if [ "$rc" != 0 ]; then
	echo "$mode: the build failed (exit status $rc); build/$mode.log:"
	tail -n 30 "$log" | sed 's/^/  /'
	exit 1
fi
echo "$mode: clean ($(grep -cE '^  (CC|CHECK) ' "$log") steps, no warnings)"
