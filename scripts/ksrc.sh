#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Extract the few files cowfs needs from Debian's kernel source tarball
# (/usr/src/linux-source-6.12.tar.xz, package linux-source-6.12) into
# .ksrc/ at the repository root: the kselftest harness, checkpatch and
# its data files, .clang-format, and the YNL netlink tooling with its
# specs.  .ksrc/ is never committed.
#
# Idempotent: a stamp records which tarball and file list produced .ksrc/;
# when both are unchanged this returns at once.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tarball=${KSRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
dest=$repo/.ksrc
stamp=$dest/.stamp

# Paths inside the kernel tree (directories are extracted whole).
paths=(
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
	.clang-format
	tools/net/ynl
	Documentation/netlink
)

die() { echo "ksrc.sh: $*" >&2; exit 1; }

[ -f "$tarball" ] ||
	die "$tarball not found (install linux-source-6.12: make deps)"

want=$({
	stat -c '%n %s %Y' "$tarball"
	printf '%s\n' "${paths[@]}"
} | sha256sum | cut -d' ' -f1)

[ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && exit 0

exec 9>"$repo/.ksrc.lock"
flock 9
# Another run may have finished while we waited for the lock.
[ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && exit 0

top=$(basename "$tarball" .tar.xz)
echo "ksrc.sh: extracting ${#paths[@]} paths from $tarball into .ksrc/"
tmp=$(mktemp -d "$repo/.ksrc.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
tar -xJf "$tarball" -C "$tmp" --strip-components=1 \
	"${paths[@]/#/$top/}" ||
	die "extraction failed (is $tarball complete? a path missing from it?)"
for p in "${paths[@]}"; do
	[ -e "$tmp/$p" ] || die "$p missing after extraction"
done
echo "$want" >"$tmp/.stamp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
