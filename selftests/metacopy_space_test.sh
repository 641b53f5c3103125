#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# metacopy=on saves upper-layer space as overlayfs's does (issue 15): on
# ext4, 'chown -R' of an image of 300 files of 4 KiB through the union
# copies up metadata only, and the upper layer grows by far less than the
# data (the metacopy files' xattrs fit in the inode but for the metacopy
# xattr itself, which goes to one xattr block that they all share).  The
# union still shows the new owner and the image's data; a write brings the
# data of that file up.  Run on overlayfs (the reference) and on cowfs.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

say() { echo "# metacopy_space: $*"; }
skip() { say "SKIP: $*"; exit 4; }

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=selftests/tap_lib.sh
. "$repo/selftests/tap_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "must run as root"
command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4"
modprobe loop 2>/dev/null
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
tmp=$(mktemp -d /tmp/metacopy-space.XXXXXX)
dev=
cleanup() {
	umount_under "$tmp"
	[ -z "$dev" ] || losetup -d "$dev"
	rm -rf "$tmp"
}
trap cleanup EXIT

truncate -s 1G "$tmp/img"
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
	"$tmp/img" || skip "mkfs.ext4 failed"
dev=$(losetup --find --show "$tmp/img") || skip "no loop device"
b=$tmp/ext4
mkdir "$b"
mount "$dev" "$b" || skip "cannot mount ext4"
nfiles=300
for d in 0 1 2; do
	mkdir -p "$b/l/d$d"
	for i in $(seq $((nfiles / 3))); do
		head -c 4096 /dev/urandom >"$b/l/d$d/f$i"
	done
done

# used KiB on the ext4 filesystem, after a sync
used() {
	sync
	df -k --output=used "$b" | tail -1
}

for fs in overlay cowfs; do
	grep -qw "$fs" /proc/filesystems || { say "no $fs"; continue; }
	u=$b/u_$fs m=$b/m_$fs
	mkdir "$u" "$b/w_$fs" "$m"
	if ! mount -t "$fs" -o "lowerdir=$b/l,upperdir=$u,workdir=$b/w_$fs,redirect_dir=on,index=off,metacopy=on" none "$m"; then
		result 1 "$fs: mounted with metacopy=on"
		continue
	fi
	before=$(used)
	chown -R 1000:1000 "$m"
	grown=$(($(used) - before))
	# The data of 300 files is 1200 KiB; metadata only is some inodes'
	# worth of directory blocks and one shared xattr block
	[ "$grown" -lt $((nfiles * 4 / 4)) ]
	result $? "$fs: chown -R of $nfiles files grew the upper by $grown KiB (< $nfiles)"
	nmeta=$(getfattr -R -m trusted.overlay.metacopy --absolute-names "$u" 2>/dev/null |
		grep -c '^trusted.overlay.metacopy')
	[ "$nmeta" -eq "$nfiles" ]
	result $? "$fs: $nmeta of $nfiles upper files are metacopy files"
	bad=$(find "$m" ! -user 1000 | wc -l)
	[ "$bad" -eq 0 ]
	result $? "$fs: every object has the new owner ($bad not)"
	check "$fs: the image's data" diff -r "$b/l" "$m"
	printf x >>"$m/d1/f7"
	check "$fs: a write brings the file's data up" \
		cmp -n 4096 "$b/l/d1/f7" "$u/d1/f7"
	! getfattr -n trusted.overlay.metacopy "$u/d1/f7" >/dev/null 2>&1
	result $? "$fs: and it is no metacopy file any more"
	umount "$m"
done
tap_end
