#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# OpenZFS for the zfs storage driver of cowctl (tools/cowctl/driver_zfs.c):
# zfs-dkms and zfsutils-linux 2.3 from bookworm-backports contrib, and the
# spl/zfs modules built once against the 6.12 kernel that scripts/vm boots.
#
# The built modules are cached outside the checkout, in
#   /var/cache/cowfs/zfs-<kver>/{spl,zfs}.ko   (+ VERSION, load-order)
# so a fresh clone never rebuilds them; the guest sees the host's root
# read-only and loads them with scripts/zfs-load.sh (insmod, deps first).
#
# Idempotent and quiet: when the packages are installed and the cache
# matches their version it prints nothing and returns at once.  Called by
# scripts/deps.sh (make deps).  Never builds for the host's running kernel:
# DKMS is asked for KVER only (the newest /boot/vmlinuz-6.12*-amd64, or
# $KVER).
set -euo pipefail

prog=deps-zfs.sh
say() { echo "$prog: $*"; }
die() { echo "$prog: error: $*" >&2; exit 1; }

kver=${KVER:-$(find /boot -maxdepth 1 -name 'vmlinuz-6.12*-amd64' 2>/dev/null |
	sed 's|.*/vmlinuz-||' | sort -V | tail -n1)}
[ -n "$kver" ] || die "no /boot/vmlinuz-6.12*-amd64: run scripts/deps.sh first"
cache=${COWFS_ZFS_CACHE:-/var/cache/cowfs}/zfs-$kver
pkgs=(zfs-dkms zfsutils-linux)
suite=bookworm-backports
srcfile=/etc/apt/sources.list.d/cowfs-backports.list

installed_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		sed -n 's/^install ok installed //p' || true
}

# ---- fast path ----------------------------------------------------------

ver=$(installed_version zfs-dkms)
uver=$(installed_version zfsutils-linux)
if [ -n "$ver" ] && [ -n "$uver" ] && [ -f "$cache/VERSION" ] &&
	[ "$(cat "$cache/VERSION")" = "$ver" ] && [ -f "$cache/zfs.ko" ]; then
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root to install zfs-dkms/zfsutils-linux and build the zfs module"

# ---- packages -------------------------------------------------------------

if [ -z "$ver" ] || [ -z "$uver" ]; then
	if ! grep -rqsE "^[^#]*$suite.*contrib|Suites:.*$suite" \
		/etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "adding $suite (main contrib) to apt sources ($srcfile)"
		echo "deb http://deb.debian.org/debian $suite main contrib" >"$srcfile"
	fi
	export DEBIAN_FRONTEND=noninteractive
	candidate() { apt-cache policy zfs-dkms 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
	case $(candidate) in 2.3*) ;; *) apt-get update -q >/dev/null ;; esac
	case $(candidate) in 2.3*) ;; *) false ;; esac ||
		die "no zfs-dkms 2.3 candidate from $suite contrib after apt-get update"
	say "installing ${pkgs[*]} from $suite (the DKMS build at install time only"
	say "targets kernels with headers; the module is built below for $kver)"
	# The package's postinst builds for the kernels DKMS picks; with a
	# host kernel that has no headers it skips it.  Whatever it did, the
	# build below makes sure $kver has the module.
	apt-get install -y -q --no-install-recommends -t "$suite" \
		dkms "${pkgs[@]}" >/tmp/deps-zfs-apt.log 2>&1 || {
		tail -n 30 /tmp/deps-zfs-apt.log >&2
		die "apt-get install ${pkgs[*]} failed (full log: /tmp/deps-zfs-apt.log)"
	}
	ver=$(installed_version zfs-dkms)
	[ -n "$ver" ] || die "zfs-dkms did not install"
fi

# ---- module for $kver --------------------------------------------------------

[ -f "/lib/modules/$kver/build/Makefile" ] ||
	die "no kernel headers for $kver (linux-headers-6.12-amd64): run scripts/deps.sh"
dver=${ver%%-*}			# 2.3.2-2~bpo12+2 -> 2.3.2
dver=${dver#*:}
built=/var/lib/dkms/zfs/$dver/$kver/x86_64/module
if ! ls "$built"/zfs.ko* >/dev/null 2>&1; then
	[ -d "/var/lib/dkms/zfs/$dver" ] || dkms add -m zfs -v "$dver" >/dev/null
	say "building the zfs $dver module for $kver with DKMS (once; about 5 minutes)"
	log=/tmp/deps-zfs-build.log
	if ! dkms build -m zfs -v "$dver" -k "$kver" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		mk=/var/lib/dkms/zfs/$dver/build/make.log
		[ -f "$mk" ] && { echo "--- $mk (tail)" >&2; tail -n 30 "$mk" >&2; }
		die "dkms build of zfs $dver for $kver failed (log: $log)"
	fi
fi

tmp=$(mktemp -d "${cache%/*}/.zfs-$kver.XXXXXX" 2>/dev/null) || {
	mkdir -p "${cache%/*}"
	tmp=$(mktemp -d "${cache%/*}/.zfs-$kver.XXXXXX")
}
trap 'rm -rf "$tmp"' EXIT
for m in spl zfs; do
	f=$(ls "$built/$m".ko* 2>/dev/null | head -n1)
	[ -n "$f" ] || die "DKMS built no $m module in $built"
	case $f in
	*.ko) cp "$f" "$tmp/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$tmp/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$tmp/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$tmp/$m.ko" ;;
	*) die "unknown module file $f" ;;
	esac
	vm=$(modinfo -F vermagic "$tmp/$m.ko" | cut -d' ' -f1)
	[ "$vm" = "$kver" ] || die "$f is built for '$vm', not $kver"
done
# In-kernel modules spl and zfs need (loaded with modprobe first).
{
	for m in spl zfs; do
		modinfo -F depends "$tmp/$m.ko" | tr ',' '\n'
	done
} | { grep -vxE 'spl|zfs|' || true; } | sort -u >"$tmp/kernel-deps"
printf '%s\n' "$ver" >"$tmp/VERSION"
rm -rf "$cache"
mv "$tmp" "$cache"
chmod 755 "$cache"
trap - EXIT
say "zfs $ver modules for $kver cached in $cache"
