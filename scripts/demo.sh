#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A narrated tour of a three-layer cowfs union.  Runs as root inside the
# test VM ('make demo', or scripts/vm -- scripts/demo.sh).  It checks every
# claim it makes and exits non-zero if one does not hold.
#
# FSTYPE=overlay runs the same tour on the kernel's overlayfs, which
# reads the same layers the same way (a check of the demo itself):
#   scripts/vm --no-module -- env FSTYPE=overlay scripts/demo.sh
set -uo pipefail

fstype=${FSTYPE:-cowfs}
base=/tmp/cowfs-demo
L1=$base/L1
L2=$base/L2
L3=$base/L3
M=$base/merged

nok=0
nbad=0
bold=
norm=
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null)
	norm=$(tput sgr0 2>/dev/null)
fi

section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$norm"; }
say() { printf '%s\n' "$*"; }
# Show a command, then run it, indenting its output.
show() {
	printf '  $ %s\n' "$*"
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
# The same for a shell command line given as one string.
show_sh() {
	printf '  $ %s\n' "$1"
	bash -c "$1" 2>&1 | sed -e 's/^bash: line [0-9]*: //' -e 's/^/    /'
	return "${PIPESTATUS[0]}"
}
ok() { nok=$((nok + 1)); printf '  [ok]   %s\n' "$*"; }
bad() { nbad=$((nbad + 1)); printf '  [FAIL] %s\n' "$*"; }
expect() { # description, command...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
content_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

# One line per entry: type, name and what matters for the union.
tree() {
	local root=$1 p rel kind extra
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort) | while read -r p; do
		p=${p#./}
		rel=$root/$p
		extra=
		if [ -L "$rel" ]; then
			kind="symlink"
			extra="-> $(readlink "$rel")"
		elif [ -d "$rel" ]; then
			kind="dir"
			p="$p/"
			if [ "$(getfattr --only-values -n trusted.overlay.opaque "$rel" 2>/dev/null)" = y ]; then
				extra="(opaque: trusted.overlay.opaque=y)"
			fi
		elif [ -c "$rel" ]; then
			kind="chardev"
			extra="(whiteout: char device $(stat -c '%Hr/%Lr' "$rel"))"
		elif [ -f "$rel" ]; then
			kind="file"
			extra="\"$(head -c 60 "$rel")\""
		else
			kind="other"
		fi
		printf '    %-8s %-16s %s\n' "$kind" "$p" "$extra" | sed 's/ *$//'
	done
}

# ---------------------------------------------------------------------------

section "cowfs demo: a read-only union of three layers ($fstype)"
say "A union stacks directories (layers).  Looking up a name searches the"
say "layers from the top (L1) down and the first layer that has it wins;"
say "directories present in several layers are merged."

if ! grep -qw "$fstype" /proc/filesystems; then
	if [ "$fstype" = cowfs ]; then
		insmod "${COWFS_MODULE:-kernel/cowfs.ko}" 2>/dev/null
	else
		modprobe "$fstype" 2>/dev/null
	fi
fi
if ! grep -qw "$fstype" /proc/filesystems; then
	say "demo: filesystem type '$fstype' is not registered (module not loaded?)"
	exit 1
fi

section "1. Build the layers in $base"
umount "$M" 2>/dev/null
rm -rf "$base"
mkdir -p "$L1/dir" "$L2/dir" "$L3/dir" "$M"

echo "only in L1" >"$L1/l1-only.txt"
echo "only in L2" >"$L2/l2-only.txt"
echo "only in L3" >"$L3/l3-only.txt"
echo "L1's version: the top layer wins" >"$L1/shared.txt"
echo "L3's version: hidden by L1" >"$L3/shared.txt"
echo "L2 has this file, L1 deletes it with a whiteout" >"$L2/gone.txt"
mknod "$L1/gone.txt" c 0 0
echo "L1's dir content" >"$L1/dir/from-l1.txt"
echo "L2's dir content" >"$L2/dir/from-l2.txt"
echo "L3's dir content" >"$L3/dir/from-l3.txt"
setfattr -n trusted.overlay.opaque -v y "$L1/dir"

for l in L1 L2 L3; do
	case $l in
	L1) say "  L1 (top):" ;;
	L2) say "  L2 (middle):" ;;
	L3) say "  L3 (bottom):" ;;
	esac
	tree "$base/$l"
done

section "2. Mount the union"
if [ "$fstype" = cowfs ]; then
	src=none
else
	src=$fstype
fi
if ! show mount -t "$fstype" "$src" "$M" -o "lowerdir=$L1:$L2:$L3"; then
	bad "mount -t $fstype succeeds"
	say "  last kernel messages:"
	dmesg | tail -n 10 | sed 's/^/    /'
	printf '\ndemo: %d expectation(s) met, %d failed\n' "$nok" "$nbad"
	exit 1
fi
ok "mount -t $fstype succeeds"

section "3. The merged tree ($M)"
tree "$M"
expect "every layer's own file is visible" \
	test -f "$M/l1-only.txt" -a -f "$M/l2-only.txt" -a -f "$M/l3-only.txt"

section "4. A file from each layer"
for n in 1 2 3; do
	show cat "$M/l$n-only.txt"
	expect "l$n-only.txt comes from L$n" content_is "$M/l$n-only.txt" "only in L$n"
done

section "5. The top layer wins: shared.txt is in L1 and L3"
show cat "$M/shared.txt"
expect "shared.txt has L1's content, not L3's" \
	content_is "$M/shared.txt" "L1's version: the top layer wins"

section "6. A whiteout in L1 hides L2's gone.txt"
say "  L1/gone.txt is a 0/0 character device: it marks gone.txt as deleted."
show ls -l "$M/gone.txt"
expect "ls gone.txt fails" test ! -e "$M/gone.txt"
expect "the error is 'No such file or directory'" \
	bash -c "ls '$M/gone.txt' 2>&1 | grep -q 'No such file or directory'"
expect "gone.txt is not listed in the merged directory" \
	bash -c "! ls -a '$M' | grep -qx gone.txt"

section "7. L1's opaque dir/ hides dir/ of L2 and L3"
show ls -a "$M/dir"
expect "dir/ holds L1's from-l1.txt" content_is "$M/dir/from-l1.txt" "L1's dir content"
expect "dir/from-l2.txt and dir/from-l3.txt are hidden" \
	test ! -e "$M/dir/from-l2.txt" -a ! -e "$M/dir/from-l3.txt"
expect "dir/ lists exactly one entry" \
	bash -c "[ \"\$(ls -A '$M/dir')\" = from-l1.txt ]"

section "8. Without an upper layer the union is read-only: writes fail with EROFS"
show_sh "echo hello > $M/new.txt"
expect "creating a file fails with 'Read-only file system'" \
	bash -c "(echo hello > '$M/new.txt') 2>&1 | grep -q 'Read-only file system'"
show_sh "echo changed >> $M/shared.txt"
expect "appending to a lower file fails with 'Read-only file system'" \
	bash -c "(echo changed >> '$M/shared.txt') 2>&1 | grep -q 'Read-only file system'"
expect "the layers are unchanged" \
	bash -c "[ ! -e '$L1/new.txt' ] && grep -qx \"L1's version: the top layer wins\" '$L1/shared.txt'"

section "9. The mount, as /proc/mounts shows it"
line=$(awk -v m="$M" '$2 == m' /proc/mounts)
say "    $line"
expect "/proc/mounts lists $M as $fstype" \
	bash -c "awk -v m='$M' '\$2 == m { print \$3 }' /proc/mounts | grep -qx '$fstype'"
expect "its options name the three layers" \
	bash -c "awk -v m='$M' '\$2 == m' /proc/mounts | grep -q 'lowerdir=$L1:$L2:$L3'"

section "10. Unmount"
show umount "$M"
expect "umount succeeds" bash -c "! awk -v m='$M' '\$2 == m' /proc/mounts | grep -q ."

# ---------------------------------------------------------------------------
# A container: the same image with a writable layer on top.
U=$base/container/upper
W=$base/container/work
C=$base/container/rootfs

section "11. A container: the image plus a writable upper layer"
say "  The three layers are the image.  A container gets an empty upper"
say "  directory (its writable layer) and a work directory on the same"
say "  filesystem.  The image layers are never written."
mkdir -p "$U" "$W" "$C"
if ! show mount -t "$fstype" "$src" "$C" -o "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W"; then
	bad "mount with upperdir succeeds"
	printf '\ndemo: %d expectation(s) met, %d failed\n' "$nok" "$nbad"
	exit 1
fi
ok "mount with upperdir and workdir succeeds"

section "12. Copy-up: the first write to an image file copies it into the upper layer"
ino_before=$(stat -c %i "$C/l3-only.txt")
show_sh "echo 'written by the container' >> $C/l3-only.txt"
show cat "$C/l3-only.txt"
say "  upper layer:"
tree "$U"
expect "the container sees its write" \
	bash -c "tail -n 1 '$C/l3-only.txt' | grep -qx 'written by the container'"
expect "the upper layer holds the copied-up file" \
	bash -c "grep -qx 'written by the container' '$U/l3-only.txt'"
expect "the image layer L3 is unchanged" content_is "$L3/l3-only.txt" "only in L3"
expect "the file keeps its inode number through the copy-up" \
	test "$ino_before" = "$(stat -c %i "$C/l3-only.txt")"

section "13. Deleting an image file leaves a whiteout in the upper layer"
show rm "$C/l2-only.txt"
say "  upper layer:"
tree "$U"
expect "l2-only.txt is gone from the container" test ! -e "$C/l2-only.txt"
expect "the upper layer has a 0/0 character device for it" \
	bash -c "[ -c '$U/l2-only.txt' ] && [ \"\$(stat -c '%Hr:%Lr' '$U/l2-only.txt')\" = 0:0 ]"
expect "L2 still has it" test -f "$L2/l2-only.txt"

section "14. A directory made where one was deleted is opaque"
show_sh "rm -r $C/dir && mkdir $C/dir && ls -A $C/dir"
say "  upper layer:"
tree "$U"
expect "the new dir/ is empty: nothing of the image shows through" \
	bash -c "[ -z \"\$(ls -A '$C/dir')\" ]"
expect "it is marked opaque in the upper layer" \
	bash -c "[ \"\$(getfattr --only-values -n trusted.overlay.opaque '$U/dir' 2>/dev/null)\" = y ]"

section "15. Renaming an image directory: a redirect, no copy of its tree"
mkdir -p "$base/L2/images/app"
echo "app binary" >"$base/L2/images/app/bin"
show_sh "umount $C && mount -t $fstype $src $C -o lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W,redirect_dir=on"
show mv "$C/images" "$C/renamed"
show cat "$C/renamed/app/bin"
expect "the renamed directory shows the image's contents" \
	content_is "$C/renamed/app/bin" "app binary"
expect "the upper layer records where they are: trusted.overlay.redirect" \
	bash -c "[ \"\$(getfattr --only-values -n trusted.overlay.redirect '$U/renamed' 2>/dev/null)\" = images ]"
expect "nothing of the tree was copied" test ! -e "$U/renamed/app"

section "16. The layers are overlayfs's format: the other filesystem reads them"
other=overlay
[ "$fstype" = overlay ] && other=cowfs
show umount "$C"
if grep -qw "$other" /proc/filesystems || modprobe "$other" 2>/dev/null; then
	osrc=none
	[ "$other" = overlay ] && osrc=overlay
	show mount -t "$other" "$osrc" "$C" -o "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W,redirect_dir=on"
	show ls "$C" "$C/renamed/app"
	expect "$other shows the container's write" \
		bash -c "tail -n 1 '$C/l3-only.txt' | grep -qx 'written by the container'"
	expect "$other honours the whiteout, the opaque dir and the redirect" \
		bash -c "[ ! -e '$C/l2-only.txt' ] && [ -z \"\$(ls -A '$C/dir')\" ] && [ -f '$C/renamed/app/bin' ]"
	show umount "$C"
else
	say "  ($other is not available here)"
fi

if [ "$fstype" = cowfs ]; then
	COWCTL=${COWCTL:-tools/cowctl/cowctl}
	V=$base/volumes
	C2=$base/container2

	section "17. A volume outlives its container"
	say "  The container's upper layer dies with it.  Data that must outlive it"
	say "  goes to a volume: cowctl manages volumes in the kernel (generic"
	say "  netlink), and volume=NAME:/path attaches one inside a union."
	mkdir -p "$V" "$C2"
	show "$COWCTL" config set --store "$V"
	show "$COWCTL" volume create --label app=demo data
	expect "cowctl volume create succeeds" "$COWCTL" volume inspect data
	rm -rf "$U" "$W"
	mkdir -p "$U" "$W"
	show mount -t cowfs none "$C" -o "lowerdir=$L1:$L2:$L3,upperdir=$U,workdir=$W,volume=data:/data"
	show_sh "echo 'kept in the volume' > $C/data/db.txt; echo 'scratch' > $C/scratch.txt"
	show "$COWCTL" ls
	show_sh "$COWCTL volume rm data"
	expect "a volume in use cannot be removed" \
		bash -c "! '$COWCTL' volume rm data 2>/dev/null"
	expect "the volume's file is not in the container's upper layer" \
		test ! -e "$U/data/db.txt"

	say ""
	say "  Remove the container: unmount it and delete its upper and work directories."
	show umount "$C"
	show rm -rf "$U" "$W"
	say "  A new container from the same image, with the same volume:"
	mkdir -p "$base/container2/upper" "$base/container2/work" "$C2/rootfs"
	show mount -t cowfs none "$C2/rootfs" -o "lowerdir=$L1:$L2:$L3,upperdir=$C2/upper,workdir=$C2/work,volume=data:/data"
	show cat "$C2/rootfs/data/db.txt"
	expect "the volume's data is there" content_is "$C2/rootfs/data/db.txt" "kept in the volume"
	expect "the old container's scratch file is gone" test ! -e "$C2/rootfs/scratch.txt"
	expect "the image is as it was" content_is "$C2/rootfs/l2-only.txt" "only in L2"
	show umount "$C2/rootfs"
	show "$COWCTL" volume inspect data
	show "$COWCTL" volume rm data
	expect "with no union using it, the volume can be removed" \
		bash -c "! '$COWCTL' volume inspect data 2>/dev/null"
fi

printf '\n%sdemo: %d expectation(s) met, %d failed%s\n' "$bold" "$nok" "$nbad" "$norm"
[ "$nbad" = 0 ]
