#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the cowfs debug kernel (KASAN, lockdep, KFENCE, DEBUG_OBJECTS, ...)
# from Debian's linux-source-6.12, once per machine, and cache it outside
# the repository.  See usage() below and docs/debug-kernel.md.
set -euo pipefail

prog=debug-kernel.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
usage: scripts/$prog [--force] [--print-dir | --print-kernel | --check]

Build a small x86_64 kernel with everything the test VM needs built in
and the kernel's debug options on: allnoconfig + scripts/debug-kernel.config,
then olddefconfig (every option of the fragment is checked to have
ended up in the .config).  The result is cached in

  \${COWFS_CACHE:-/var/cache/cowfs}/debug-kernel-<source version>-<fragment hash>/
    bzImage           the kernel scripts/vm boots (scripts/vm --debug)
    build/            the object tree: make -C .../build M=\$PWD modules
    root/lib/modules/ modules.builtin etc., so modprobe works in the guest
    kernelrelease     its 'uname -r'
    build.log         the build's output

built once per machine (about 50 minutes on 2 cores, see docs/debug-kernel.md);
later calls return at once.  An interrupted build resumes where it stopped;
a changed fragment starts from a copy of the last build (a few minutes).
The pristine source is extracted once into
\${COWFS_CACHE:-/var/cache/cowfs}/linux-source-<source version>/.

options:
  --force         delete this configuration's cached build and rebuild it
                  (SEED=0 --force: from scratch, not from another build)
  --print-dir     print the cache directory (built or not) and exit
  --print-kernel  print the bzImage path if it is built, else fail (exit 1)
  --check         exit 0 if the kernel is built, 1 if not (prints nothing)
  -h, --help      this text

environment:
  COWFS_CACHE     cache root (default /var/cache/cowfs)
  KSRC_TARBALL    kernel source (default /usr/src/linux-source-6.12.tar.xz)
  JOBS            make -j (default: the number of CPUs, at most 2)
  SEED=0          a new configuration is built from scratch instead of
                  from a copy of the newest finished build (incremental)
EOF
}

say() { echo "$prog: $*"; }
die() { echo "$prog: error: $*" >&2; exit 1; }

force=0
mode=build
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1; shift ;;
	--print-dir) mode=dir; shift ;;
	--print-kernel) mode=kernel; shift ;;
	--check) mode=check; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "$prog: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

frag=$here/debug-kernel.config
tarball=${KSRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
root=${COWFS_CACHE:-/var/cache/cowfs}
[ -f "$frag" ] || die "$frag is missing"

# Source version: the Debian package's (6.12.118-1~deb12u1 -> a path-safe
# 6.12.118-1-deb12u1), or the tarball's size and date when it is not from
# the package.
ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) || ver=
if [ -z "$ver" ]; then
	[ -f "$tarball" ] || die "$tarball not found (install linux-source-6.12: scripts/deps.sh)"
	ver=6.12-$(stat -c '%s-%Y' "$tarball")
fi
ver=$(printf '%s' "$ver" | tr -c 'A-Za-z0-9._+-' '-')
# The hash covers the option lines only: comments can change freely.
options() { grep -E '^(CONFIG_[A-Za-z0-9_]+=.*|# CONFIG_[A-Za-z0-9_]+ is not set)$' "$1"; }
hash=$(options "$frag" | sha256sum | cut -c1-12)
cache=$root/debug-kernel-$ver-$hash
src=$root/linux-source-$ver
obj=$cache/build

built() { [ -f "$cache/DONE" ] && [ -f "$cache/bzImage" ] && [ -f "$obj/Module.symvers" ]; }

case "$mode" in
dir) echo "$cache"; exit 0 ;;
check) [ "$force" = 0 ] && built; exit ;;
kernel)
	built || die "the debug kernel is not built ($cache): run 'make debug-kernel'"
	echo "$cache/bzImage"
	exit 0 ;;
esac

if [ "$force" = 0 ] && built; then
	exit 0
fi

# ---- prerequisites -----------------------------------------------------------

missing=()
for c in gcc make bc bison flex perl cpio xz depmod; do
	command -v "$c" >/dev/null || missing+=("$c")
done
for h in /usr/include/libelf.h /usr/include/openssl/ssl.h; do
	[ -f "$h" ] || missing+=("$h")
done
[ ${#missing[@]} -eq 0 ] ||
	die "missing build tools: ${missing[*]} (run scripts/deps.sh: it installs bc bison flex libelf-dev libssl-dev rsync ...)"
[ -f "$tarball" ] || [ -f "$src/.cowfs-extracted" ] ||
	die "$tarball not found (install linux-source-6.12: scripts/deps.sh)"

mkdir -p "$root" 2>/dev/null ||
	die "cannot create $root (run as root, or set COWFS_CACHE to a writable directory)"
[ -w "$root" ] || die "$root is not writable (run as root, or set COWFS_CACHE)"

exec 9>"$root/.debug-kernel.lock"
if ! flock -n 9; then
	say "another build of the debug kernel is running; waiting for it"
	flock 9
fi
# Another run may have finished while we waited for the lock.
if [ "$force" = 0 ] && built; then
	exit 0
fi
if [ "$force" = 1 ] && [ -d "$cache" ]; then
	say "--force: removing $cache"
	rm -rf "$cache"
fi

# ---- source ------------------------------------------------------------------

if [ ! -f "$src/.cowfs-extracted" ]; then
	say "extracting $tarball into $src"
	rm -rf "$src"
	tmp=$(mktemp -d "$root/.linux-source.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	tar -xJf "$tarball" -C "$tmp" ||
		die "extraction of $tarball failed (disk full? a damaged tarball: reinstall linux-source-6.12)"
	top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
	[ -f "$top/Makefile" ] || die "$tarball has no kernel tree"
	mv "$top" "$src"
	rm -rf "$tmp"
	trap - EXIT
	date -u +%FT%TZ >"$src/.cowfs-extracted"
fi

# ---- configuration -------------------------------------------------------------

kmake() { make -C "$src" O="$obj" ARCH=x86_64 "$@"; }

# A new fragment (a new hash) starts from a copy of the newest finished
# build of the same source, so that make only rebuilds what the changed
# options touch (minutes instead of an hour).  SEED=0 builds from scratch.
if [ ! -d "$obj" ] && [ "${SEED:-1}" != 0 ]; then
	# shellcheck disable=SC2012 # newest first; the names are ours
	seed=$(ls -1td "$root/debug-kernel-$ver"-*/DONE 2>/dev/null | head -n1) || true
	seed=${seed%/DONE}
	if [ -n "$seed" ] && [ "$seed" != "$cache" ] && [ -d "$seed/build" ]; then
		say "starting from a copy of $seed/build (incremental; SEED=0 to start from scratch)"
		mkdir -p "$cache"
		rm -rf "$cache/build.tmp"
		cp -a --reflink=auto "$seed/build" "$cache/build.tmp" ||
			die "copying $seed/build failed (disk full?)"
		# objtool is built with absolute paths: make its command
		# records name the new tree, or it is rebuilt and every
		# object with it.
		find "$cache/build.tmp/tools" -name '.*.cmd' -exec \
			sed -i "s|$seed/build/|$obj/|g" {} +
		mv "$cache/build.tmp" "$obj"
		seeded=1
	fi
fi
mkdir -p "$obj"
if [ ! -f "$cache/.config-ok" ]; then
	say "configuring: allnoconfig + scripts/debug-kernel.config, olddefconfig"
	kmake -s KCONFIG_ALLCONFIG="$frag" allnoconfig >"$cache/config.log" 2>&1 ||
		{ tail -n 20 "$cache/config.log" >&2; die "make allnoconfig failed (log: $cache/config.log)"; }
	kmake -s olddefconfig >>"$cache/config.log" 2>&1 ||
		{ tail -n 20 "$cache/config.log" >&2; die "make olddefconfig failed (log: $cache/config.log)"; }
fi

# Every option of the fragment must be in the final .config as written:
# an option whose dependencies are off is silently dropped by Kconfig.
bad=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF -- "$line" "$obj/.config" || {
			got=$(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo "absent")
			bad+=("$line (got: $got)")
		} ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		! grep -q "^$opt=" "$obj/.config" ||
			bad+=("$line (got: $(grep "^$opt=" "$obj/.config"))")
		;;
	esac
done < <(options "$frag")
if [ ${#bad[@]} -gt 0 ]; then
	rm -f "$cache/.config-ok"
	echo "$prog: error: these options of scripts/debug-kernel.config did not end up in $obj/.config:" >&2
	printf '  %s\n' "${bad[@]}" >&2
	echo "$prog: a dependency of each is off: look up its 'depends on' (make -C $src O=$obj menuconfig, '/' searches), add it to the fragment and rerun" >&2
	exit 1
fi
touch "$cache/.config-ok"

# ---- build -----------------------------------------------------------------------

if [ -z "${JOBS:-}" ]; then
	JOBS=$(nproc)
	[ "$JOBS" -le 2 ] || JOBS=2
fi
log=$cache/build.log
say "building the debug kernel in $obj (nice -n 19 make -j$JOBS; log: $log)"
if [ "${seeded:-0}" = 1 ]; then
	say "only what the changed options touch is rebuilt: a few minutes"
else
	say "this takes about an hour on 2 cores; it is done once per machine"
fi
t0=$(date +%s)
if ! nice -n 19 make -C "$src" O="$obj" ARCH=x86_64 -j"$JOBS" all >>"$log" 2>&1; then
	grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
	tail -n 20 "$log" >&2
	die "the kernel build failed (full log: $log); rerun to resume, or --force to start over"
fi
t1=$(date +%s)

# modules.builtin etc.: the guest bind-mounts root/lib/modules over
# /lib/modules so that 'modprobe loop' finds loop built in.
rm -rf "$cache/root"
kmake -s INSTALL_MOD_PATH="$cache/root" modules_install >>"$log" 2>&1 ||
	{ tail -n 20 "$log" >&2; die "make modules_install failed (log: $log)"; }
krel=$(kmake -s kernelrelease)
[ -f "$cache/root/lib/modules/$krel/modules.builtin" ] ||
	die "modules_install made no $cache/root/lib/modules/$krel/modules.builtin"
rm -f "$cache/root/lib/modules/$krel/build" "$cache/root/lib/modules/$krel/source"
ln -s "$obj" "$cache/root/lib/modules/$krel/build"
cp "$obj/arch/x86/boot/bzImage" "$cache/bzImage"
echo "$krel" >"$cache/kernelrelease"
cp "$frag" "$cache/debug-kernel.config"
secs=$((t1 - t0))
printf '%s\n' "$secs" >"$cache/build-seconds"
echo "$krel" >"$cache/DONE"
say "built $krel in $((secs / 60)) min $((secs % 60)) s: $cache/bzImage"
