#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unions mounted inside a user namespace (issue 13), as rootless podman
# mounts overlayfs: 'userxattr', the user.overlay.* on-disk format.
#
# Everything runs twice, on cowfs and on overlayfs (the reference), in
# 'unshare -Urm' as root and as uid 1000: the layers are on a tmpfs
# mounted in the namespace, the union is mounted there with userxattr and
# the test reads, copies up, deletes (a whiteout), replaces a directory
# (an opaque one), renames, and checks the marks in the upper layer:
# user.overlay.*, never trusted.overlay.*.  Then:
#   interop     an upper layer cowfs wrote reads the same on overlayfs
#               (both userxattr), and the other way round
#   nofollow    a user.overlay.redirect in a layer is not followed (anyone
#               who owns a directory can set one), nor a trusted one with
#               redirect_dir=nofollow
#   refusals    cowfs without userxattr, with redirect_dir=on, or with a
#               volume, in a user namespace: refused with a message
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

say() { echo "# userns: $*"; }
skip() { say "SKIP: $*"; exit 4; }

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

# ---- inside the namespace: one union of FSTYPE in DIR ----------------------
#
# userns_test.sh --inside FSTYPE DIR: prints 'ok'/'not ok' lines without
# numbers; the outer run numbers them.
if [ "${1:-}" = --inside ]; then
	fs=$2 d=$3
	t() { if "${@:2}" >/dev/null 2>&1; then echo "ok $fs: $1"; else echo "not ok $fs: $1"; fi; }
	mount -t tmpfs tmpfs "$d" || { echo "not ok $fs: tmpfs in the namespace"; exit 0; }
	mkdir -p "$d/l/dir/sub" "$d/l/gone" "$d/l/old" "$d/u" "$d/w" "$d/m"
	echo lower >"$d/l/file"
	ln -s file "$d/l/link"
	ln -s file "$d/l/link2"
	mkfifo "$d/l/fifo"
	echo x >"$d/l/dir/sub/x"
	echo y >"$d/l/gone/y"
	echo o >"$d/l/old/o"
	opts="lowerdir=$d/l,upperdir=$d/u,workdir=$d/w,userxattr"
	if ! out=$(mount -t "$fs" none "$d/m" -o "$opts" 2>&1); then
		echo "not ok $fs: mount with userxattr ($out)"
		exit 0
	fi
	echo "ok $fs: mount with userxattr"
	t "the lower file reads" grep -qx lower "$d/m/file"
	t "write copies it up" sh -c "echo upper >>'$d/m/file' && grep -qx upper '$d/u/file'"
	t "the union shows the write" sh -c "[ \"\$(cat '$d/m/file')\" = \"\$(printf 'lower\nupper')\" ]"
	t "the lower file is untouched" grep -qx lower "$d/l/file"
	t "unlink of a lower file" rm "$d/m/dir/sub/x"
	t "it is gone from the union" test ! -e "$d/m/dir/sub/x"
	t "a whiteout (0/0 char device) in the upper" sh -c "[ \"\$(stat -c %t:%T '$d/u/dir/sub/x')\" = 0:0 ] && [ -c '$d/u/dir/sub/x' ]"
	t "rm -r of a lower directory, mkdir in its place" sh -c "rm -r '$d/m/gone' && mkdir '$d/m/gone'"
	t "the new directory is empty" sh -c "[ -z \"\$(ls -A '$d/m/gone')\" ]"
	t "it is opaque: user.overlay.opaque=y" sh -c "getfattr --absolute-names --only-values -n user.overlay.opaque '$d/u/gone' | grep -qx y"
	t "no trusted.overlay.* in the upper" sh -c "! getfattr --absolute-names -R -d -m '^trusted\\.' '$d/u' 2>/dev/null | grep -q trusted"
	t "rename of a lower file" mv "$d/m/file" "$d/m/file2"
	t "the new name reads" grep -qx upper "$d/m/file2"
	t "the old name is gone" test ! -e "$d/m/file"
	out=$(mv "$d/m/old" "$d/m/new" 2>&1)
	t "rename of a lower directory: EXDEV, so mv copies it (no redirect)" sh -c "[ -f '$d/m/new/o' ] && [ ! -e '$d/m/old' ]"
	# user.* xattrs cannot go on symlinks and fifos: copied up without an origin
	t "touch -h of a lower symlink copies it up" sh -c "touch -h -d @1000000000 '$d/m/link' && [ -L '$d/u/link' ] && [ \"\$(stat -c %Y '$d/m/link')\" = 1000000000 ]"
	t "rename of a lower symlink" sh -c "mv '$d/m/link2' '$d/m/link3' && [ \"\$(readlink '$d/m/link3')\" = file ] && [ ! -L '$d/m/link2' ]"
	t "link of a lower fifo" sh -c "ln '$d/m/fifo' '$d/m/fifo2' && [ -p '$d/m/fifo2' ] && [ -p '$d/u/fifo' ]"
	t "user.overlay.* names are hidden in the union" sh -c "! getfattr --absolute-names -d -m - '$d/m/gone' 2>/dev/null | grep -q overlay"
	t "umount" umount "$d/m"
	exit 0
fi

# ---- outside ---------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || skip "must run as root"
command -v unshare >/dev/null || skip "no unshare(1)"
command -v getfattr >/dev/null || skip "no getfattr(1)"
unshare -Ur true 2>/dev/null || skip "unshare -Ur fails: no user namespaces (a chroot?)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw cowfs /proc/filesystems || skip "the cowfs module is not loaded"

# shellcheck source=selftests/tap_lib.sh
. "$(dirname "$self")/tap_lib.sh"
tmp=$(mktemp -d /tmp/userns.XXXXXX)
chmod 755 "$tmp"
trap 'umount_under "$tmp"; rm -rf "$tmp"' EXIT

# Run the inside part as root in a new user namespace and as uid 1000
inside() {
	local who=$1 fs=$2 dir=$3

	mkdir -p "$dir" && chmod 777 "$dir"
	if [ "$who" = root ]; then
		unshare -Urm "$self" --inside "$fs" "$dir"
	else
		setpriv --reuid=1000 --regid=1000 --clear-groups \
			unshare -Urm "$self" --inside "$fs" "$dir"
	fi 2>&1
}

tally() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok "*) result 0 "${line#ok } (as $1)" ;;
		"not ok "*) result 1 "${line#not ok } (as $1)" ;;
		*) echo "#   $line" ;;
		esac
	done
}

for who in root 1000; do
	for fs in overlay cowfs; do
		inside "$who" "$fs" "$tmp/$who-$fs" >"$tmp/out.$who.$fs"
		tally "$who" <"$tmp/out.$who.$fs"
	done
done

# ---- interop, nofollow, refusals: as root in one namespace ------------------

cat >"$tmp/more.sh" <<'EOF'
set -u
d=$1
t() { if "${@:2}" >/dev/null 2>&1; then echo "ok $1"; else echo "not ok $1"; fi; }
mount -t tmpfs tmpfs "$d"
mk() {
	rm -rf "$d/l" "$d/u" "$d/w"
	mkdir -p "$d/l/a" "$d/l/b" "$d/l/k" "$d/u" "$d/w" "$d/m"
	echo a >"$d/l/a/in-a"; echo b >"$d/l/b/in-b"; echo k >"$d/l/k/kept"
}
opts="lowerdir=$d/l,upperdir=$d/u,workdir=$d/w,userxattr"
# An upper written by one, read by the other
for pair in "cowfs overlay" "overlay cowfs"; do
	set -- $pair
	mk
	mount -t "$1" none "$d/m" -o "$opts" &&
		rm "$d/m/a/in-a" && rm -r "$d/m/b" && mkdir "$d/m/b" &&
		echo new >"$d/m/b/new" && umount "$d/m"
	t "interop: $1 wrote, $2 mounts it" mount -t "$2" none "$d/m" -o "$opts"
	t "interop: $1's whiteout hides a/in-a on $2" test ! -e "$d/m/a/in-a"
	t "interop: $1's opaque b hides b/in-b on $2" sh -c "[ ! -e '$d/m/b/in-b' ] && [ -f '$d/m/b/new' ]"
	t "interop: the rest is there on $2" test -f "$d/m/k/kept"
	umount "$d/m"
done
# A redirect in the upper layer is not followed with userxattr
for fs in overlay cowfs; do
	mk
	mkdir "$d/u/r"
	setfattr -n user.overlay.redirect -v /a "$d/u/r"
	t "nofollow ($fs): mount" mount -t "$fs" none "$d/m" -o "$opts"
	t "nofollow ($fs): a user.overlay.redirect to /a merges nothing" sh -c "[ ! -e '$d/m/r/in-a' ]"
	umount "$d/m"
done
# cowfs: what a user namespace cannot have, with a reason
mk
out=$(mount -t cowfs none "$d/m" -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" 2>&1)
t "refused: cowfs without userxattr ($out)" sh -c "! mountpoint -q '$d/m'"
out=$(mount -t cowfs none "$d/m" -o "$opts,redirect_dir=on" 2>&1)
t "refused: userxattr,redirect_dir=on ($out)" sh -c "! mountpoint -q '$d/m'"
out=$(mount -t cowfs none "$d/m" -o "$opts,volume=v:/a" 2>&1)
t "refused: a volume ($out)" sh -c "! mountpoint -q '$d/m'"
EOF
mkdir -p "$tmp/more" && chmod 777 "$tmp/more"
unshare -Urm bash "$tmp/more.sh" "$tmp/more" >"$tmp/out.more" 2>&1
tally root <"$tmp/out.more"

# redirect_dir=nofollow in the initial namespace (trusted.overlay.*): the
# same on both (cowfs used to follow redirects whatever redirect_dir said)
for fs in overlay cowfs; do
	d=$tmp/nf-$fs
	mkdir -p "$d/l/a" "$d/u/r" "$d/w" "$d/m" && echo a >"$d/l/a/in-a"
	setfattr -n trusted.overlay.redirect -v /a "$d/u/r"
	check "redirect_dir=nofollow ($fs): mount" mount -t "$fs" none "$d/m" \
		-o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w,redirect_dir=nofollow"
	test ! -e "$d/m/r/in-a"
	result $? "redirect_dir=nofollow ($fs): a redirect to /a merges nothing"
	grep -q "redirect_dir=nofollow" /proc/self/mountinfo
	result $? "redirect_dir=nofollow ($fs): shown in mountinfo"
	umount "$d/m"
done

# The messages the refusals gave, in the mount's log (the kernel log)
dmesg | tail -n 20 | grep -q "a user namespace needs userxattr"
result $? "cowfs says why it refuses a mount without userxattr in a user namespace"
dmesg | tail -n 20 | grep -q "no volumes in a user namespace"
result $? "cowfs says why it refuses a volume in a user namespace"

tap_end
