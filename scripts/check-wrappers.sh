#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every change the module makes to a real layer (a union's upper or work
# directory, a volume, the volume store) goes through a cowfs_do_*()
# wrapper in kernel/cowfs.h, keyed on the layer it changes: one place
# picks the mount's idmap and traces the call (docs/design.md, "Calls
# into the layers").  This check fails, listing file:line, when any other
# kernel/*.c or kernel/*.h calls one of the VFS helpers that change a
# filesystem.  Comments and string literals are ignored, and so is the
# generated kernel/*.mod.c.
#
# Not listed on purpose: vfs_fallocate(), vfs_iter_write(),
# do_splice_direct(), vfs_fsync*() and backing_file_*(): I/O through a
# file already opened on the layer's mount (which holds write access for
# as long as it is open), taking freeze protection themselves.  Lookups
# and reads (lookup_one*(), vfs_getxattr(), vfs_get_acl()) are wrapped
# too but change nothing, so they are not checked.
#
# usage: scripts/check-wrappers.sh [FILE...]   (default: kernel/*.[ch])
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

helpers=(
	vfs_create vfs_mkdir vfs_mknod vfs_symlink vfs_link vfs_unlink
	vfs_rmdir vfs_rename vfs_whiteout vfs_mkobj
	vfs_setxattr vfs_removexattr __vfs_setxattr __vfs_removexattr
	__vfs_setxattr_locked __vfs_removexattr_locked
	vfs_set_acl vfs_remove_acl
	notify_change vfs_utimes vfs_truncate do_truncate
	vfs_clone_file_range do_clone_file_range vfs_copy_file_range
	vfs_dedupe_file_range
	kernel_tmpfile_open vfs_tmpfile vfs_fileattr_set
)

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=()
	for f in kernel/*.c kernel/*.h; do
		case $f in
		kernel/cowfs.h | kernel/*.mod.c) ;;
		*) files+=("$f") ;;
		esac
	done
fi

re=$(IFS='|'; echo "${helpers[*]}")
# Blank out comments and string and character literals (keeping the
# newlines, so line numbers hold), then look for calls.
hits=$(perl -0777 -ne '
	my $src = $_;
	$src =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}{
		my $m = $1;
		(my $nl = $m) =~ s/[^\n]//g;
		($m =~ /^["\x27]/ ? "\"\"" : " ") . $nl
	}gse;
	my @orig = split /\n/, $_, -1;
	my $n = 0;
	for my $line (split /\n/, $src, -1) {
		$n++;
		while ($line =~ /(?<![A-Za-z0-9_])('"$re"')\s*\(/g) {
			my $fn = $1;
			(my $o = $orig[$n - 1]) =~ s/^\s+//;
			print "$ARGV:$n: $fn() outside the wrappers: $o\n";
		}
	}
' "${files[@]}")

if [ -n "$hits" ]; then
	echo "$hits"
	echo "check-wrappers: FAIL: call the cowfs_do_*() wrapper of kernel/cowfs.h for the layer the object is on (add one there if none fits)" >&2
	exit 1
fi
echo "check-wrappers: ok: ${#files[@]} files call no VFS modification helper directly"
