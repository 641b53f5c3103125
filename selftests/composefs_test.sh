#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 'cowctl composefs build' makes a composefs-style image (a metadata layer of
# metacopy files over a data-only layer of fs-verity objects) that cowfs and
# overlayfs both mount with lowerdir=META::OBJECTS,metacopy=on,verity=require,
# read-only and under an upper, showing the source tree: its contents, modes,
# owners, times and xattrs.  Each distinct content is one object; a swapped
# object reads EIO; a META that is not empty and OBJECTS without fs-verity
# are refused with a message.  OBJECTS is on ext4 made with -O verity.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

say() { echo "# composefs: $*"; }
skip() { say "SKIP: $*"; exit 4; }

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}
# shellcheck source=selftests/tap_lib.sh
. "$repo/selftests/tap_lib.sh"
[ "$(id -u)" -eq 0 ] || skip "must run as root"
[ -x "$cowctl" ] || skip "$cowctl is not built (make cowctl)"
command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4"
command -v getfattr >/dev/null || skip "no getfattr (attr)"
modprobe loop 2>/dev/null
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
tmp=$(mktemp -d /tmp/composefs.XXXXXX)
dev=
cleanup() {
	umount_under "$tmp"
	[ -z "$dev" ] || losetup -d "$dev"
	rm -rf "$tmp"
}
trap cleanup EXIT

truncate -s 512M "$tmp/img"
mkfs.ext4 -q -F -O verity -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
	"$tmp/img" || skip "mkfs.ext4 -O verity failed"
dev=$(losetup --find --show "$tmp/img") || skip "no loop device"
b=$tmp/ext4
mkdir "$b"
mount "$dev" "$b" || skip "cannot mount ext4"

# Does this kernel's ext4 have fs-verity (CONFIG_FS_VERITY)?
mkdir -p "$b/probe/src"
echo probe >"$b/probe/src/f"
if ! "$cowctl" composefs build "$b/probe/src" "$b/probe/meta" "$b/probe/objs" \
	>/dev/null 2>"$tmp/err"; then
	grep -q 'without fs-verity' "$tmp/err" && skip "no fs-verity in this kernel"
	sed 's/^/#   /' "$tmp/err"
	result 1 "composefs build of a one-file tree"
	tap_end
fi

# The source tree
s=$b/src
mkdir -p "$s/a/b/c" "$s/private" "$s/emptydir"
echo deep >"$s/a/b/c/deep.txt"
: >"$s/zero"
: >"$s/a/zero2"
printf x >"$s/one"
head -c 1048576 /dev/urandom >"$s/big"
head -c 5000 /dev/urandom >"$s/dup1"
cp "$s/dup1" "$s/a/dup2"
echo linked >"$s/hard1"
ln "$s/hard1" "$s/a/b/hard2"
echo xattrs >"$s/xattr"
setfattr -n user.test -v composefs "$s/xattr" || skip "no user.* xattrs on ext4"
setfattr -n user.dir -v yes "$s/a"
echo secret >"$s/private/secret"
chmod 0600 "$s/private/secret"
printf '#!/bin/sh\necho hi\n' >"$s/a/exec"
chmod 0755 "$s/a/exec"
echo owned >"$s/private/owned"
chown 1000:1000 "$s/private/owned" "$s/private"
chmod 0700 "$s/private"
ln -s b/c/deep.txt "$s/a/rel-link"
ln -s /etc/passwd "$s/out-link"	# out of SRC: must stay a symlink
mkfifo "$s/fifo"
mknod "$s/null" c 1 3
touch -h -d '2001-02-03 04:05:06.789' "$s/out-link"
touch -d '2002-03-04 05:06:07.123456789' "$s/big" "$s/zero"
touch -d '2003-01-01' "$s/a/b/c" "$s/emptydir" "$s"
distinct=$(find "$s" -type f -size +0 -exec md5sum {} + | cut -d' ' -f1 |
	sort -u | wc -l)
nempty=$(find "$s" -type f -size 0 | wc -l)

meta=$b/meta
objs=$b/objects
"$cowctl" -j composefs build "$s" "$meta" "$objs" >"$tmp/build.json" 2>"$tmp/build.err"
rc=$?
[ "$rc" = 0 ] || sed 's/^/#   /' "$tmp/build.err"
result "$rc" "composefs build exits 0"
[ "$rc" = 0 ] || tap_end
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["objects_new"] == int(sys.argv[2]), d
assert d["objects_reused"] == 1 and d["hard_links"] == 1, d
assert d["empty_files"] == int(sys.argv[3]), d
' "$tmp/build.json" "$distinct" "$nempty" 2>"$tmp/out" ||
	sed 's/^/#   /' "$tmp/out"
result "${PIPESTATUS[0]}" "--json output: $distinct new objects, the duplicate reused, one hard link"

nobj=$(find "$objs" -type f | wc -l)
[ "$nobj" -eq "$distinct" ]
result $? "$nobj objects for $distinct distinct non-empty contents"
bad=$(find "$objs" -type f | grep -cvE '/[0-9a-f]{2}/[0-9a-f]{62}$')
[ "$bad" -eq 0 ]
result $? "objects are named xx/<62 hex> ($bad not)"

mc=$(getfattr --absolute-names -e hex -n trusted.overlay.metacopy "$meta/big" 2>/dev/null |
	sed -n 's/^trusted.overlay.metacopy=//p')
[[ $mc == 0x00240001* ]] && [ ${#mc} -eq $((2 + 2 * 36)) ]
result $? "metacopy xattr: version 0, length 36, sha256 digest ($mc)"
redir=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/big" 2>/dev/null)
[ -f "$objs$redir" ] && [ "$redir" = "/${mc:10:2}/${mc:12}" ]
result $? "redirect $redir names the object of the digest"
r1=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/dup1" 2>/dev/null)
r2=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/a/dup2" 2>/dev/null)
h1=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/hard1" 2>/dev/null)
h2=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/a/b/hard2" 2>/dev/null)
[ -n "$r1" ] && [ "$r1" = "$r2" ] && [ -n "$h1" ] && [ "$h1" = "$h2" ]
result $? "equal contents and hard links share one object"
read -r size blocks links <<<"$(stat -c '%s %b %h' "$meta/big")"
# no data blocks: at most one xattr block (the redirect does not fit in
# an ext4 inode of 256 bytes with the metacopy xattr)
[ "$size" = 1048576 ] && [ "$blocks" -le 8 ] && [ "$links" = 1 ]
result $? "metadata files are sparse, of the source's size, not linked ($size bytes, $blocks blocks, $links links)"
! getfattr -n trusted.overlay.metacopy "$meta/zero" >/dev/null 2>&1 &&
	[ ! -s "$meta/zero" ]
result $? "an empty file is a plain empty file"
[ -L "$meta/out-link" ] && [ "$(readlink "$meta/out-link")" = /etc/passwd ]
result $? "a symlink out of SRC stays a symlink"

# every object has fs-verity: ext4 shows it in the inode flags (lsattr V)
verity=$(find "$objs" -type f -exec lsattr {} + 2>/dev/null |
	awk '$1 ~ /V/' | wc -l)
[ "$verity" -eq "$nobj" ]
result $? "every object has fs-verity ($verity of $nobj)"

# attributes of every name: type, mode, owner, mtime; sizes of files
attrs() {
	(cd "$1" && find . -printf '%p %y %m %U:%G %T@\n' &&
		find . -type f -printf '%p %s\n') | sort
}

# check_tree FS MNT [upper]: the union at MNT shows the source tree
check_tree() {
	local fs=$1 m=$2
	check "$fs: diff -r SRC MNT is clean" \
		diff -r --no-dereference -x fifo -x null "$s" "$m"
	attrs "$s" >"$tmp/attrs.src"
	attrs "$m" >"$tmp/attrs.mnt"
	if [ "$3" = upper ]; then
		# a union's root is its upper directory, with its attributes
		sed -i '/^\. /d' "$tmp/attrs.src" "$tmp/attrs.mnt"
	fi
	check "$fs: types, modes, owners, mtimes, sizes equal" \
		diff "$tmp/attrs.src" "$tmp/attrs.mnt"
	[ "$(getfattr --only-values -n user.test "$m/xattr" 2>/dev/null)" = composefs ] &&
		[ "$(getfattr --only-values -n user.dir "$m/a" 2>/dev/null)" = yes ]
	result $? "$fs: user.* xattrs of a file and a directory"
	[ -p "$m/fifo" ] && [ "$(stat -c %t:%T "$m/null")" = 1:3 ]
	result $? "$fs: a fifo and a device node"
	! getfattr -d -m 'trusted\.overlay\.' "$m/big" 2>/dev/null | grep -q trusted
	result $? "$fs: the image's trusted.overlay.* xattrs are not shown"
}

objopts="lowerdir=$meta::$objs,metacopy=on,verity=require"
for fs in overlay cowfs; do
	grep -qw "$fs" /proc/filesystems || { say "no $fs"; continue; }
	m=$b/m_$fs
	mkdir "$m"
	if ! mount -t "$fs" -o "$objopts" none "$m"; then
		result 1 "$fs: mounted the image read-only"
		continue
	fi
	result 0 "$fs: mounted the image read-only"
	check_tree "$fs" "$m" ro
	umount "$m"

	u=$b/u_$fs w=$b/w_$fs
	mkdir "$u" "$w"
	if ! mount -t "$fs" -o "$objopts,upperdir=$u,workdir=$w" none "$m"; then
		result 1 "$fs: mounted the image under an upper"
		continue
	fi
	result 0 "$fs: mounted the image under an upper"
	check_tree "$fs (upper)" "$m" upper
	if [ "$fs" = cowfs ]; then
		# cowctl tells the data-only layer from the metadata layer
		"$cowctl" -j inspect "$m" >"$tmp/insp.json" &&
			python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))[0]
sys.exit(not (d["layers"] == [sys.argv[2]] and d["data_layers"] == [sys.argv[3]]))' \
				"$tmp/insp.json" "$meta" "$objs"
		result $? "cowctl inspect -j: layers [META], data_layers [OBJECTS]"
		"$cowctl" inspect "$m" | grep -q '^Data layers: *1$'
		result $? "cowctl inspect: one data layer"
		"$cowctl" ls | grep -qF " $meta::$objs"
		result $? "cowctl ls: the layers as lowerdir= has them, META::OBJECTS"
		"$cowctl" -j ls >"$tmp/ls.json" &&
			python3 -c 'import json, sys
d = [m for m in json.load(open(sys.argv[1])) if m["target"] == sys.argv[2]][0]
sys.exit(not (d["layers"] == [sys.argv[3]] and d["data_layers"] == [sys.argv[4]]))' \
				"$tmp/ls.json" "$m" "$meta" "$objs"
		result $? "cowctl ls -j: layers [META], data_layers [OBJECTS]"
	fi
	chmod 0640 "$m/big"
	cmp -s "$s/big" "$m/big" && [ "$(stat -c %a "$m/big")" = 640 ]
	result $? "$fs: a chmod'ed file keeps its data"
	echo more >>"$m/a/b/c/deep.txt"
	[ "$(cat "$m/a/b/c/deep.txt")" = "$(printf 'deep\nmore')" ] &&
		! getfattr -n trusted.overlay.metacopy "$u/a/b/c/deep.txt" >/dev/null 2>&1
	result $? "$fs: a write copies the data up"
	umount "$m"
done

# A second image of the same tree over the same objects adds none
"$cowctl" -j composefs build "$s" "$b/meta2" "$objs" >"$tmp/build2.json" 2>"$tmp/out"
rc=$?
[ "$rc" = 0 ] || sed 's/^/#   /' "$tmp/out"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["objects_new"] == 0 else 1)' "$tmp/build2.json" 2>/dev/null &&
	[ "$(find "$objs" -type f | wc -l)" -eq "$distinct" ] && [ "$rc" = 0 ]
result $? "a second build over the same OBJECTS reuses every object"

# Refusals
echo x >"$b/nonempty-file"
mkdir "$b/nonempty" && touch "$b/nonempty/f"
"$cowctl" composefs build "$s" "$b/nonempty" "$objs" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "^cowctl: META '.*/nonempty' is not empty (it has 'f')" "$tmp/err"
result $? "a META that is not empty is refused ($(head -1 "$tmp/err"))"
[ "$(ls "$b/nonempty")" = f ]
result $? "and left as it was"
mkdir "$tmp/tfs" && mount -t tmpfs composefs-test "$tmp/tfs"
"$cowctl" composefs build "$s" "$b/meta3" "$tmp/tfs/objs" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "is on a filesystem without fs-verity: use ext4 made with -O verity" "$tmp/err" &&
	[ -z "$(ls -A "$tmp/tfs/objs")" ]
result $? "OBJECTS without fs-verity is refused ($(head -1 "$tmp/err"))"

# A swapped object: same name, other bytes, no fs-verity
victim=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/a/b/c/deep.txt")
printf 'evil\n' >"$objs/evil"
mv "$objs/evil" "$objs$victim"
other=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/one")
cp "$objs$other" "$objs/evil2"	# a copy has no fs-verity either
mv "$objs/evil2" "$objs$other"
# another object, fs-verity and all, under the name of exec's
third=$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/a/exec")
ln "$objs$(getfattr --absolute-names --only-values -n trusted.overlay.redirect "$meta/hard1")" "$objs/evil3"
mv "$objs/evil3" "$objs$third"
sync
echo 3 >/proc/sys/vm/drop_caches
for fs in overlay cowfs; do
	grep -qw "$fs" /proc/filesystems || continue
	m=$b/m_$fs
	mount -t "$fs" -o "$objopts" none "$m" || { result 1 "$fs: remount"; continue; }
	err=$(cat "$m/a/b/c/deep.txt" 2>&1 >/dev/null)
	[[ $err == *"Input/output error"* ]]
	result $? "$fs: a swapped object reads EIO ($err)"
	err=$(cat "$m/one" 2>&1 >/dev/null)
	[[ $err == *"Input/output error"* ]]
	result $? "$fs: a copied object without fs-verity reads EIO ($err)"
	err=$(cat "$m/a/exec" 2>&1 >/dev/null)
	[[ $err == *"Input/output error"* ]]
	result $? "$fs: another fs-verity object under its name reads EIO ($err)"
	cmp -s "$s/big" "$m/big" && cmp -s "$s/hard1" "$m/a/b/hard2"
	result $? "$fs: the other files still read"
	umount "$m"
done
tap_end
