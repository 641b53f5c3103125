#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real containers on cowfs (issue 13): Debian's podman with cowfs as its
# overlay driver's mount_program (cowctl's cowfs-mount-program), rootful
# and rootless (newuidmap; the union is then mounted inside podman's user
# namespace, with userxattr).  Each run imports a busybox image, runs a
# container that appends to, deletes and renames image files, commits it,
# and runs the committed image, which must show the changes; no network.
# The same runs with podman's native overlayfs as the reference, and
# rootless with fuse-overlayfs (the mount_program rootless podman used
# before unprivileged overlayfs), when it is installed.  A run
# on cowfs must really have mounted cowfs (findmnt while the container is
# up).  With a mount_program podman stores layers with AUFS .wh.
# whiteouts, which the helper has cowfs read (aufs_whiteouts).
#
# Rootless needs a user with subordinate ids: the test makes 'cowtest'
# (uid 4321) by bind-mounting copies of /etc/passwd, group, subuid and
# subgid with it added (the guest's root is read-only), in a mount
# namespace of its own.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip.
set -u

repo=${COWFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cowctl=${COWCTL:-$repo/tools/cowctl/cowctl}
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

say() { echo "# podman: $*"; }
skip() { say "SKIP: $*"; exit 4; }

[ "$(id -u)" -eq 0 ] || skip "must run as root"
command -v podman >/dev/null || skip "no podman (scripts/deps.sh installs it)"
[ -x /bin/busybox ] || skip "no /bin/busybox (busybox-static)"
[ -x "$cowctl" ] || skip "$cowctl is not built (make cowctl)"
grep -qw cowfs /proc/filesystems || skip "the cowfs module is not loaded"

# The rest in a mount namespace of its own: the /etc binds stay there
if [ "${1:-}" != --inside ]; then
	exec unshare -m --propagation private "$self" --inside
fi

# shellcheck source=selftests/tap_lib.sh
. "$repo/selftests/tap_lib.sh"
tmp=$(mktemp -d /tmp/podman.XXXXXX)
chmod 755 "$tmp"
trap 'umount_under "$tmp"; rm -rf "$tmp" 2>/dev/null' EXIT

grep -q cgroup2 /proc/mounts || mount -t cgroup2 none /sys/fs/cgroup ||
	skip "no cgroup2 filesystem"

# The mount program: cowctl under the name that makes it one
ln -s "$cowctl" "$tmp/cowfs-mount-program"

# A user for rootless runs, with subordinate ids
uid=4321
for f in passwd group subuid subgid; do
	cp "/etc/$f" "$tmp/$f" 2>/dev/null || : >"$tmp/$f"
done
echo "cowtest:x:$uid:$uid::$tmp/home:/bin/sh" >>"$tmp/passwd"
echo "cowtest:x:$uid:" >>"$tmp/group"
echo "cowtest:200000:65536" >>"$tmp/subuid"
echo "cowtest:200000:65536" >>"$tmp/subgid"
for f in passwd group subuid subgid; do
	mount --bind "$tmp/$f" "/etc/$f" || skip "cannot bind-mount /etc/$f"
done
mkdir -p "$tmp/home" && chown "$uid:$uid" "$tmp/home"

# The image: busybox and three files
img=$tmp/rootfs
mkdir -p "$img/bin" "$img/data" "$img/etc" "$img/tmp"
cp /bin/busybox "$img/bin/"
for c in sh ls cat echo rm mv sleep; do ln -s busybox "$img/bin/$c"; done
echo image >"$img/data/f"
echo keep >"$img/data/k"
echo gone >"$img/data/g"
tar -C "$img" -cf "$tmp/rootfs.tar" .
chmod 644 "$tmp/rootfs.tar"

# run WHO DRIVER: the podman cycle as WHO (root, rootless) on DRIVER
# (cowfs, overlay); TAP lines via result.
cycle() {
	local who=$1 drv=$2 d=$tmp/$1-${2%%.*} out want
	local -a pm=(podman --root "$d/root" --runroot "$d/run"
		     --storage-driver overlay --cgroup-manager cgroupfs
		     --events-backend file)
	local -a as=()

	mkdir -p "$d/xdg" "$d/root" "$d/run"
	if [ "$drv" = cowfs ]; then
		pm+=(--storage-opt "overlay.mount_program=$tmp/cowfs-mount-program")
	elif [ "$drv" = fuse.fuse-overlayfs ]; then
		pm+=(--storage-opt "overlay.mount_program=$(command -v fuse-overlayfs)")
	fi
	if [ "$who" = rootless ]; then
		chown -R "$uid:$uid" "$d"
		as=(setpriv --reuid="$uid" --regid="$uid" --init-groups
		    env HOME="$tmp/home" USER=cowtest XDG_RUNTIME_DIR="$d/xdg")
	else
		as=(env XDG_RUNTIME_DIR="$d/xdg")
	fi
	p() { "${as[@]}" "${pm[@]}" "$@"; }

	check "$who $drv: podman import" p import "$tmp/rootfs.tar" localhost/bb
	out=$(p run --name c1 --network none localhost/bb /bin/sh -c \
		'echo more >>/data/f && rm /data/g && mv /data/k /data/k2 &&
		 cat /data/f && ls /data' 2>&1)
	want=$(printf 'image\nmore\nf\nk2')
	[ "$out" = "$want" ]
	result $? "$who $drv: a container appends, deletes, renames ($(echo "$out" | tr '\n' ' '))"
	check "$who $drv: podman commit" p commit -q c1 localhost/bb2
	out=$(p run --rm --network none localhost/bb2 /bin/sh -c \
		'cat /data/f && ls /data' 2>&1)
	# With a mount_program, containers/storage stores the committed
	# layer with AUFS whiteouts (.wh.NAME files): aufs_whiteouts
	[ "$out" = "$want" ]
	result $? "$who $drv: the committed image has the changes ($(echo "$out" | tr '\n' ' '))"
	out=$(p run --rm --network none localhost/bb /bin/sh -c 'ls /data' 2>&1)
	[ "$out" = "$(printf 'f\ng\nk')" ]
	result $? "$who $drv: the original image is unchanged ($(echo "$out" | tr '\n' ' '))"
	# While a container runs, its root is a union of DRIVER
	p run -d --name c2 --network none localhost/bb2 /bin/sleep 60 >/dev/null 2>&1
	out=$(p inspect -f '{{.GraphDriver.Data.MergedDir}}' c2 2>/dev/null)
	if [ "$who" = rootless ]; then
		# The union is in podman's own namespaces: look from there
		out=$(p unshare findmnt -n -o FSTYPE "$out" 2>&1)
	else
		out=$(findmnt -n -o FSTYPE "$out" 2>&1)
	fi
	[ "$out" = "$drv" ]
	result $? "$who $drv: the container's root is $drv (findmnt: $out)"
	p rm -f -t 0 c1 c2 >/dev/null 2>&1
	p rmi -f localhost/bb2 localhost/bb >/dev/null 2>&1
	p system reset -f >/dev/null 2>&1
	umount_under "$d"
}

for who in root rootless; do
	for drv in overlay cowfs; do
		cycle "$who" "$drv"
	done
done
# What rootless podman used before kernels had unprivileged overlayfs
[ -c /dev/fuse ] || modprobe fuse 2>/dev/null
if command -v fuse-overlayfs >/dev/null && [ -c /dev/fuse ]; then
	# Without udev (the test VM) /dev/fuse is root's only: a node of
	# our own, open to all, over it in this mount namespace
	if ! setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		test -w /dev/fuse; then
		mknod -m 666 "$tmp/fuse" c 10 229 &&
			mount --bind "$tmp/fuse" /dev/fuse
	fi
	cycle rootless fuse.fuse-overlayfs
else
	say "no fuse-overlayfs or /dev/fuse: its rootless run skipped"
fi

tap_end
