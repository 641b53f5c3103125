#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything cowfs needs to build, test and demo on Debian 12.
# Idempotent: when every package is present it returns in well under a
# second without touching apt.
set -euo pipefail

KVER_PKG=6.12-amd64

pkgs=(
	build-essential gcc make bc bison flex libelf-dev libssl-dev pkg-config
	xz-utils zstd cpio kmod busybox-static qemu-system-x86
	"linux-image-$KVER_PKG" "linux-headers-$KVER_PKG" linux-source-6.12
	libnl-3-dev libnl-genl-3-dev sparse python3 python3-yaml python3-jsonschema
	attr acl e2fsprogs xfsprogs util-linux
	btrfs-progs dmsetup fio gnuplot-nox dkms
	# real containers on cowfs (selftests/podman_test.sh): rootful and
	# rootless (uidmap), with fuse-overlayfs for comparison
	podman crun conmon uidmap fuse-overlayfs
	# 'make debug-kernel' (docs/debug-kernel.md) also needs these; the
	# debug kernel itself is opt-in, built by 'make check-debug' only
	rsync
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done

# ZFS (zfs-dkms, zfsutils-linux from bookworm-backports, module cache).
zfs=$(dirname "${BASH_SOURCE[0]}")/deps-zfs.sh

if [ ${#missing[@]} -eq 0 ]; then
	exec "$zfs"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: run as root (or with sudo) to install them" >&2
	exit 1
fi

# Debian 12 ships linux-6.12 through bookworm-security; make sure that
# suite is configured (it is on a stock install, but not on every image).
if ! apt-cache policy "linux-image-$KVER_PKG" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	if ! grep -rqs 'bookworm-security' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "deb http://deb.debian.org/debian-security bookworm-security main" \
			> /etc/apt/sources.list.d/cowfs-security.list
	fi
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
exec "$zfs"
