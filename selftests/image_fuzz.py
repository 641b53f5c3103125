#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Crafted-image fuzzer: hostile layers must not hurt the kernel.

Image layers come from registries, so every object type and every
trusted.overlay.* xattr in a layer is untrusted input.  For each seed this
builds, on a tmpfs of its own, 1-4 lower layers and (usually) an upper
layer and a workdir, with conflicting types at the same names across the
layers (files, executables, sparse files, directories, symlinks that
dangle, loop, climb or are absolute, whiteouts, other character and block
devices, fifos, sockets, hard links), whiteouts where they make no sense,
and random or hostile trusted.overlay.* xattrs (opaque, redirect, origin
(random, truncated, real file handles of other objects), metacopy with
verity digests, impure, nlink, upper, uuid, whiteout, protattr, ...) on
lower and upper objects and on the layer roots.  Sometimes: each lower
layer on a tmpfs or ramfs of its own, the bottom layer a union itself,
junk in the workdir, layers that overlap, and (cowfs, with cowctl built)
a bind volume attached inside the union whose directory is as hostile as
a layer (whiteouts, redirects, origins in it must mean nothing there), and
(cowfs) AUFS-style .wh. whiteouts in the layers, mounted with
aufs_whiteouts.
In 30% of the seeds with an upper layer the union is mounted with
index=on (half of them with metacopy=on): the lower layers get more hard
links, a first clean mount makes real index entries (copy-up, link,
unlink through the hard-linked names), and then workdir/index is spoilt:
entries of the wrong type (directory, fifo, symlink, whiteout, ...),
garbage trusted.overlay.nlink ("U+2147483647", "X", "", 12 digits, ...),
origins removed, replaced or cut, entries replaced by other files, given
an upper name the union did not make or stripped of theirs, entries named
by real lower handles or by crafted origins, and in half of those seeds
also what a mount refuses: names that are not hex or of odd length, the
directory's trusted.overlay.upper removed, garbage or another directory's,
a garbage origin on the upper root; '#' temporaries in any.  The
hard-linked names are then stat'ed, read, written, unlinked, linked and
renamed over.  A mount with index=on that fails must have said why in the
kernel log.
Then it mounts the union
(cowfs, or overlay with redirect_dir=on and, unless index=on, index=off:
--fstype overlay; a third of the seeds with metacopy=on, some of them with
verity=on|require),
walks it (lstat, stat, readdir, readlink, open+read, listxattr/getxattr,
access, lookups of names below every object), changes it at random
(write, truncate, chmod, chown, rename with and without NOREPLACE,
EXCHANGE, WHITEOUT, unlink, rm -r, mkdir, rmdir, link, symlink, mkfifo,
setxattr, removexattr, O_TMPFILE and linkat, mmap, readdir while the
directory changes), sometimes with a second process walking it at the
same time or as uid 1000, sometimes remounts it and walks it again, and
unmounts it (sometimes lazily, with a file open).  Errors from the system
calls are fine.

Each seed runs in a child process.  A seed FAILS on:
  - a kernel splat in the kernel log (Oops, BUG:, WARNING:, general
    protection fault, KASAN, UBSAN, refcount_t, list corruption, hung task,
    lockdep, soft lockup, RCU stall, Call Trace);
  - a hang: the seed did not finish within --timeout seconds (the stuck
    tasks' kernel stacks are printed);
  - a mount left behind under the seed's directory (/proc/self/mountinfo);
  - the module's refcount not back where it was before the seed;
  - the union's umount failing;
  - a visible object with st_nlink 0 or over 1000;
  - (index=on) a failed mount with no line of the filesystem in the
    kernel log.

Each seed is printed before it runs, so a guest that dies names it.  A
failure prints the seed's last operations and the kernel log excerpt, and
the command that replays it (--dry-run prints a seed's layers as shell
commands, without mounting anything).  With --keep-going the run goes on
after a failure, unless a hung process cannot be killed (the kernel is
wedged then); without it the run stops at the first failure.  At the end:
a summary, and (--rmmod) an rmmod of the module, which must succeed.  The
same seed builds the same layers; the operations depend on what the
union shows, so a seed replays exactly on the same module.

Exit status: 0 every seed clean, 1 a failure, 2 usage, 4 cannot run (not
root, filesystem type not available).
"""

import argparse
import ctypes
import errno
import mmap
import os
import random
import re
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback

from ovl_libc import libc, AT_FDCWD, file_handle  # noqa: E402
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]

AT_SYMLINK_FOLLOW = 0x400
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4
MNT_DETACH = 2
FS_IOC_GETFSUUID = 0x80111500  # _IOR(0x15, 0, struct fsuuid2)
O_TMPFILE = getattr(os, "O_TMPFILE", 0o20200000)

OVL = "trusted.overlay."
NAMES = ["a", "b", "x", "y", "z"]
PROG = "imgfuzz"

# What run-tests.sh calls a splat, and more.
SPLAT_RE = re.compile(
    r"Oops|WARNING:|BUG:|lockdep|possible recursive locking|"
    r"circular locking|refcount_t:|list_add corruption|list_del corruption|"
    r"general protection fault|KASAN|UBSAN|Call Trace|"
    r"blocked for more than|hung_task|Kernel panic|soft lockup|"
    r"rcu_\w+ detected stall|rcu: INFO|kernel BUG|Unable to handle|"
    r"stack-protector|stack guard page|double fault|invalid opcode")


def die(msg, code=2):
    print("%s: error: %s" % (PROG, msg), file=sys.stderr)
    sys.exit(code)


def errname(e):
    return errno.errorcode.get(e, str(e))


def check(ret):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def do_mount(src, mnt, fstype, opts, flags=0):
    check(libc.mount(src.encode(), mnt.encode(), fstype.encode(), flags,
                     opts.encode() if opts is not None else None))


def do_umount(mnt, flags=0):
    check(libc.umount2(mnt.encode(), flags))


def renameat2(a, b, flags):
    check(libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags))


def fs_registered(name):
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == name for line in f if line.strip())


def module_refcnt(name):
    try:
        with open("/sys/module/%s/refcnt" % name) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def mounts_under(base):
    """Mount points strictly below @base, deepest first."""
    res = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp.startswith(base + "/"):
                res.append(mp)
    return sorted(res, key=len, reverse=True)


def fs_uuid(path):
    """The filesystem's uuid (FS_IOC_GETFSUUID), or 16 zero bytes."""
    buf = ctypes.create_string_buffer(17)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return bytes(16)
    try:
        if libc.ioctl(fd, FS_IOC_GETFSUUID, buf) == 0 and buf.raw[0] == 16:
            return buf.raw[1:17]
    finally:
        os.close(fd)
    return bytes(16)


# ---- hostile values -----------------------------------------------------


COWCTL = os.environ.get("COWCTL") or os.path.join(
    os.environ.get("COWFS_REPO") or
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "tools", "cowctl", "cowctl")


def cowctl(*args):
    """Run cowctl; its exit status (output to /dev/null)."""
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            os.execv(COWCTL, [COWCTL] + list(args))
        finally:
            os._exit(127)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def cowctl_store():
    """The module's volume store, from 'cowctl config get'."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        try:
            os.execv(COWCTL, [COWCTL, "config", "get"])
        finally:
            os._exit(127)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    m = re.search(r"^store: (.*)$", out, re.M)
    return m.group(1) if m else None


def rand_path(rng, depth=3):
    n = rng.choices([1, 2, 3], [45, 35, 20])[0]
    return "/".join(rng.choice(NAMES) for _ in range(min(n, depth)))


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


class Gen:
    """Per-seed generator state: what exists in which layer."""

    def __init__(self, rng, base):
        self.rng = rng
        self.base = base
        self.uuid = bytes(16)
        self.objects = []   # absolute paths of everything made, any layer
        self.files = []     # layer-relative paths of non-directories
        self.dirs = []      # layer-relative paths of directories
        self.script = []    # the build as shell commands (--script)
        self.mounts = []    # filesystems mounted for layers, in order

    def sh(self, cmd):
        self.script.append(cmd.replace(self.base, "$B"))

    def fb(self, version=0, magic=0xFB, flags=0, htype=1, uuid=None,
           fid=b"", length=None):
        """overlayfs's struct ovl_fb: the trusted.overlay.origin format."""
        if uuid is None:
            uuid = self.uuid
        hdr_len = 21 + len(fid) if length is None else length
        return struct.pack("BBBBB", version, magic, hdr_len & 0xFF, flags,
                           htype) + uuid + fid

    def origin(self):
        rng = self.rng
        k = rng.randrange(12)
        if k == 0:
            return rand_bytes(rng, rng.choice([0, 1, 4, 20, 21, 22, 40,
                                               128, 149, 150, 300, 4000]))
        if k == 1:  # the header alone
            return self.fb()
        if k == 2:  # a valid header, a garbage fid
            return self.fb(htype=rng.choice([0, 1, 2, 0x81, 0xFE, 0xFF]),
                           fid=rand_bytes(rng, 4 * rng.randint(0, 32)))
        if k == 3:  # len field lying
            fid = rand_bytes(rng, 4 * rng.randint(1, 8))
            return self.fb(fid=fid, length=rng.choice([0, 1, 21, 22, 255,
                                                       21 + len(fid) + 4]))
        if k == 4:  # other versions, magics, flags
            return self.fb(version=rng.choice([1, 0xFF]),
                           magic=rng.choice([0xFB, 0xFA, 0]),
                           flags=rng.choice([1, 2, 3, 4, 7, 0xFF]),
                           fid=rand_bytes(rng, 8))
        if k == 5:  # a fid not 4-byte aligned
            return self.fb(fid=rand_bytes(rng, rng.choice([1, 2, 3, 5, 7])))
        if k == 6:  # huge: a valid-looking handle followed by junk
            return self.fb(fid=rand_bytes(rng, 12)) + \
                rand_bytes(rng, rng.choice([100, 1000, 4000]))
        # 7..11: a real file handle of some object in some layer (maybe
        # of a directory, a whiteout, another layer's object), maybe with
        # a byte flipped or the wrong uuid
        if not self.objects:
            return self.fb(fid=rand_bytes(rng, 12))
        obj = rng.choice(self.objects)
        h = file_handle(obj)
        if h is None:
            return self.fb(fid=rand_bytes(rng, 12))
        htype, fid = h
        uuid = fs_uuid(os.path.dirname(obj))
        if k == 7:
            uuid = rand_bytes(rng, 16)
        v = bytearray(self.fb(htype=htype, fid=fid, uuid=uuid))
        if k == 8 and len(v) > 21:
            v[rng.randrange(21, len(v))] ^= 1 << rng.randrange(8)
        if k == 9:
            v = v[:rng.randrange(1, len(v))]
        return bytes(v)

    def redirect(self):
        rng = self.rng
        k = rng.randrange(22)
        if k < 4:
            return rng.choice(NAMES).encode()
        if k < 7:
            return ("/" + rand_path(rng)).encode()
        if k == 7 and self.files:   # at a non-directory
            return ("/" + rng.choice(self.files)).encode()
        if k == 8 and self.dirs:
            return ("/" + rng.choice(self.dirs)).encode()
        if k == 9:
            return rng.choice([b"nope", b"/no/such/dir", b"/a/nope"])
        if k == 10:
            return rng.choice([b".", b"..", b"../a", b"./a", b"a/..",
                               b"/..", b"/../a", b"/a/../b", b"/./a",
                               b"/a/."])
        if k == 11:
            return rng.choice([b"//a", b"/a//b", b"/", b"", b"a/", b"/a/",
                               b"///", b"//", b"a//"])
        if k == 12:
            return (b"/" + b"a/" * 2047)[:rng.choice([4095, 4096, 4097])]
        if k == 13:
            return rng.choice([b"a" * 255, b"a" * 256, b"a" * 4096,
                               b"/" + b"a" * 300])
        if k == 14:
            return rng.choice([b"a\0b", b"/a\0/b", b"\0", b"a\0", b"\0a"])
        if k == 15:
            return rand_bytes(rng, rng.randint(1, 40))
        if k == 16:
            return rng.choice([b"/a/b/x/y/z/a/b", b"/x/x/x", b"x/y"])
        if k == 17:
            return rng.choice([b"\xff", "\u00e9".encode(), b"a\nb",
                               b" ", b"-"])
        return rng.choice(NAMES).encode()

    def xattr(self, is_dir):
        """A (name, value) of the trusted.overlay.* kind."""
        rng = self.rng
        kind = rng.choices(
            ["opaque", "redirect", "origin", "metacopy", "impure", "nlink",
             "upper", "uuid", "whiteout", "whiteouts", "protattr",
             "escaped", "random", "user"],
            [22 if is_dir else 8, 22 if is_dir else 8, 18, 8, 6, 6, 4, 3,
             5, 5, 2, 2, 3, 3])[0]
        if kind == "opaque":
            return OVL + "opaque", rng.choice(
                [b"y", b"y", b"n", b"x", b"", b"Y", b"y\0", b"\0", b"yes",
                 b"y" * rng.choice([2, 255, 4000])])
        if kind == "redirect":
            return OVL + "redirect", self.redirect()
        if kind == "origin":
            return OVL + "origin", self.origin()
        if kind == "metacopy":
            k = rng.randrange(4)
            if k == 0:
                return OVL + "metacopy", b""
            if k == 1:
                return OVL + "metacopy", rand_bytes(rng, rng.randint(1, 80))
            # struct ovl_metacopy: version, len, flags, digest_algo, digest
            dig = rand_bytes(rng, rng.choice([0, 1, 32, 64, 65]))
            return OVL + "metacopy", struct.pack(
                "BBBB", rng.choice([0, 0, 1, 0xFF]),
                rng.choice([4 + len(dig), 4, 0, 255, 36, 68]),
                rng.choice([0, 1, 0xFF]),
                rng.choice([0, 1, 2, 4, 0xFF])) + dig
        if kind == "impure":
            return OVL + "impure", rng.choice([b"y", b"n", b"", b"yy",
                                               rand_bytes(rng, 8)])
        if kind == "nlink":
            return OVL + "nlink", rng.choice(
                [b"U+1", b"L-1", b"U-99999999999", b"L+4294967296",
                 b"garbage", b"", b"L+0", b"U", b"+", b"U+-1", b"L-"])
        if kind == "upper":
            return OVL + "upper", self.origin()
        if kind == "uuid":
            return OVL + "uuid", rng.choice(
                [rand_bytes(rng, 16), b"null", b"", rand_bytes(rng, 17),
                 bytes(16)])
        if kind == "whiteout":
            return OVL + "whiteout", rng.choice([b"", b"y", b"x"])
        if kind == "whiteouts":
            return OVL + "whiteouts", rng.choice([b"", b"y", b"x"])
        if kind == "protattr":
            return OVL + "protattr", rng.choice([b"ia", b"i", b"a", b"x",
                                                 b"", rand_bytes(rng, 5)])
        if kind == "escaped":
            return OVL + "overlay." + rng.choice(
                ["opaque", "redirect", "origin", "whiteout"]), b"y"
        if kind == "random":
            name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz._")
                           for _ in range(rng.randint(1, 24)))
            return OVL + name, rand_bytes(rng, rng.randint(0, 64))
        return "user." + rng.choice(["a", "overlay.opaque", "k"]), \
            rand_bytes(rng, rng.randint(0, 20))

    # ---- building a layer ----

    def set_xattrs(self, path, is_dir, n=None):
        rng = self.rng
        for _ in range(n if n is not None else rng.randint(1, 3)):
            name, val = self.xattr(is_dir)
            try:
                os.setxattr(path, name, val, follow_symlinks=False)
                v = "0x" + val.hex() if val else '""'
                if len(val) > 64:   # abbreviated: the seed replays it
                    v = "0x%s...[%d bytes]" % (val[:24].hex(), len(val))
                self.sh("setfattr -h -n %s -v %s %s" % (name, v, path))
            except OSError:
                pass

    def make(self, root, rel, kind, layer_files):
        """Make @rel in layer @root as @kind; True when made."""
        rng = self.rng
        full = os.path.join(root, rel)
        if kind == "file" or kind == "exe":
            size = rng.choice([0, 1, 7, 100, 4096, 5000, 70000])
            data = bytes(rng.choice(b"abcxyz\n") for _ in range(min(size,
                                                                    200)))
            data = (data * (size // max(len(data), 1) + 1))[:size]
            with open(full, "wb") as f:
                f.write(data)
                if rng.random() < 0.1:  # sparse, over the copy-up chunk
                    f.truncate(rng.choice([1 << 20, (1 << 21) + 3]))
            os.chmod(full, 0o755 if kind == "exe" else
                     rng.choice([0o644, 0o600, 0o444, 0o000, 0o4755]))
            self.sh("head -c %d /dev/zero > %s" % (size, full))
        elif kind == "dir":
            os.mkdir(full, rng.choice([0o755, 0o755, 0o700, 0o555, 0o000]))
            self.sh("mkdir %s" % full)
            self.dirs.append(rel)
        elif kind == "symlink":
            tgt = rng.choice(
                [rng.choice(NAMES), "../" + rng.choice(NAMES),
                 "/" + rand_path(rng), "/etc/hostname", "/", ".", "..",
                 "../../../../../..", os.path.basename(rel),
                 rng.choice(NAMES) + "/" + rng.choice(NAMES),
                 "a/" * 2000 + "a", "//", "/tmp", rand_path(rng)])
            os.symlink(tgt, full)
            self.sh("ln -s '%s' %s" % (tgt[:60], full))
        elif kind == "whiteout":
            os.mknod(full, stat.S_IFCHR | 0o600, os.makedev(0, 0))
            self.sh("mknod %s c 0 0" % full)
        elif kind == "chr":
            ma, mi = rng.choice([(1, 3), (1, 5), (1, 7), (1, 8), (1, 9),
                                 (0, 1), (240, 0), (0, 0)])
            mode = rng.choice([0o666, 0o600, 0o000]) | stat.S_IFCHR
            os.mknod(full, mode, os.makedev(ma, mi))
            self.sh("mknod %s c %d %d" % (full, ma, mi))
        elif kind == "blk":
            ma, mi = rng.choice([(0, 0), (240, 1), (254, 254), (0, 5)])
            os.mknod(full, stat.S_IFBLK | 0o600, os.makedev(ma, mi))
            self.sh("mknod %s b %d %d" % (full, ma, mi))
        elif kind == "fifo":
            os.mkfifo(full, 0o644)
            self.sh("mkfifo %s" % full)
        elif kind == "socket":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.bind(full)
            finally:
                s.close()
            self.sh("python3 -c 'import socket; socket.socket(socket.AF_UNIX)"
                    ".bind(\"%s\")'" % full)
        elif kind == "hardlink":
            if not layer_files:
                return False
            src = os.path.join(root, rng.choice(layer_files))
            if not os.path.lexists(src):
                return False
            os.link(src, full, follow_symlinks=False)
            self.sh("ln %s %s" % (src, full))
        else:
            raise ValueError(kind)
        if kind != "dir":
            self.files.append(rel)
            layer_files.append(rel)
        self.objects.append(full)
        return True

    def build_layer(self, root, is_upper, fs=None):
        """A random layer at @root, on a new @fs (tmpfs, ramfs) if given."""
        rng = self.rng
        os.mkdir(root)
        self.sh("mkdir %s" % root)
        if fs:
            do_mount(fs, root, fs, "size=64m" if fs == "tmpfs" else None)
            self.mounts.append(root)
            self.sh("mount -t %s %s %s" % (fs, fs, root))
        layer_files = []
        layer_dirs = []
        for _ in range(rng.randint(3, 14)):
            rel = rand_path(rng)
            parts = rel.split("/")
            ok = True
            for i in range(1, len(parts)):
                anc = os.path.join(root, *parts[:i])
                if not os.path.lexists(anc):
                    self.make(root, "/".join(parts[:i]), "dir", layer_files)
                    layer_dirs.append("/".join(parts[:i]))
                    if rng.random() < 0.15:
                        self.set_xattrs(anc, True)
                elif not stat.S_ISDIR(os.lstat(anc).st_mode):
                    ok = False
                    break
            full = os.path.join(root, rel)
            if not ok:
                continue
            if os.path.lexists(full):
                if rng.random() < 0.4:
                    self.set_xattrs(full,
                                    stat.S_ISDIR(os.lstat(full).st_mode))
                continue
            kind = rng.choices(
                ["file", "exe", "dir", "symlink", "whiteout", "chr", "blk",
                 "fifo", "socket", "hardlink"],
                [20, 4, 22, 10, 14, 4, 2, 4, 2, 9])[0]
            try:
                made = self.make(root, rel, kind, layer_files)
            except OSError:
                made = False
            if made and kind == "dir":
                layer_dirs.append(rel)
                if is_upper and rng.random() < 0.25:
                    # an upper directory whose entries' d_ino come from
                    # their (crafted) origins
                    os.setxattr(full, OVL + "impure", b"y")
                    self.sh("setfattr -n %simpure -v y %s" % (OVL, full))
            if made and rng.random() < 0.35:
                self.set_xattrs(full, kind == "dir")
        # redirect loops between two directories of this layer
        if len(layer_dirs) >= 2 and rng.random() < 0.3:
            d1, d2 = rng.sample(layer_dirs, 2)
            absolute = rng.random() < 0.5
            for a, b in ((d1, d2), (d2, d1)):
                v = ("/" + b) if absolute else os.path.basename(b)
                try:
                    os.setxattr(os.path.join(root, a), OVL + "redirect",
                                v.encode())
                    self.sh("setfattr -n %sredirect -v '%s' %s" %
                            (OVL, v, os.path.join(root, a)))
                except OSError:
                    pass
        # the layer root itself
        if rng.random() < 0.15:
            self.set_xattrs(root, True, 1)
        return layer_files

    def build_workdir(self, work):
        """A workdir, sometimes with leftovers in it."""
        rng = self.rng
        os.mkdir(work)
        self.sh("mkdir %s" % work)
        if rng.random() > 0.12:
            return
        w = os.path.join(work, "work")
        k = rng.randrange(5)
        try:
            if k == 0:
                with open(w, "wb") as f:
                    f.write(b"junk")
                self.sh("echo junk > %s" % w)
            elif k == 1:
                os.symlink("/tmp", w)
                self.sh("ln -s /tmp %s" % w)
            elif k == 2:
                os.mknod(w, stat.S_IFCHR | 0o600, os.makedev(0, 0))
                self.sh("mknod %s c 0 0" % w)
            else:
                os.mkdir(w)
                self.sh("mkdir %s" % w)
                dummy = []
                for i in range(rng.randint(1, 5)):
                    kind = rng.choice(["file", "dir", "whiteout", "symlink",
                                       "fifo"])
                    self.make(w, "#%x" % i, kind, dummy)
                    if kind == "dir" and rng.random() < 0.5:
                        self.make(w, "#%x/wh" % i, "whiteout", dummy)
                if rng.random() < 0.3:
                    self.set_xattrs(w, True, 1)
            if rng.random() < 0.3:
                os.mkdir(os.path.join(work, "index"))
                self.make(work, "index/junk", "file", [])
            if rng.random() < 0.1:
                os.makedirs(os.path.join(work, "incompat", "volatile"))
        except OSError:
            pass


# ---- the union ------------------------------------------------------------


class Union:
    def __init__(self, fstype, mnt, lowers, upper, work, extra, metacopy,
                 index=False):
        self.fstype = fstype
        self.mnt = mnt
        opts = "lowerdir=" + ":".join(lowers)
        if upper:
            opts += ",upperdir=%s,workdir=%s" % (upper, work)
        if fstype == "overlay":
            opts += ",redirect_dir=on"
            if upper:
                opts += ",index=on" if index else ",index=off"
        else:
            if extra:
                opts += "," + extra
            if index:
                opts += ",index=on"
        if metacopy:
            opts += ",metacopy=on"
        if isinstance(metacopy, str):
            opts += "," + metacopy
        self.metacopy = metacopy
        self.opts = opts
        self.mounted = False

    def mount(self):
        do_mount("none", self.mnt, self.fstype, self.opts)
        self.mounted = True

    def umount(self):
        if self.mounted:
            do_umount(self.mnt)
            self.mounted = False


class UmountError(Exception):
    pass


class ChildError(Exception):
    pass


class Child:
    """The work of one seed; runs in a child process."""

    def __init__(self, seed, base, fstype, logfd, verbose, nops):
        self.seed = seed
        self.rng = random.Random(seed)
        self.base = base
        self.fstype = fstype
        self.logfd = logfd
        self.verbose = verbose
        self.nops = nops
        self.n = 0
        self.errs = 0
        self.paths = set()
        self.script = False
        self.dry_run = False
        self.gen = None
        self.volumes = False
        self.volume = None

    def log(self, s):
        s = s.replace(self.base, "$B")
        if len(s) > 200:
            s = s[:197] + "..."
        line = ("%d %s\n" % (self.n, s)).encode("utf-8", "replace")
        if self.logfd is None:
            return
        try:
            os.write(self.logfd, line)
        except OSError:
            pass
        if self.verbose:
            print("  " + line.decode("utf-8", "replace"), end="",
                  flush=True)

    def call(self, desc, fn, *args, **kw):
        """Run one system call; an OSError is a fine result."""
        self.n += 1
        self.log(desc)
        try:
            return fn(*args, **kw)
        except OSError as e:
            self.errs += 1
            if self.verbose:
                print("    -> %s" % errname(e.errno), flush=True)
            return None

    def p(self, rel):
        return os.path.join(self.union.mnt, rel) if rel else self.union.mnt

    # ---- reading ----

    def read_path(self, path, nofollow=True):
        flags = os.O_RDONLY | os.O_NONBLOCK | (os.O_NOFOLLOW if nofollow
                                                else 0)
        fd = os.open(path, flags)
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                os.read(fd, 65536)
                if st.st_size > 4096:
                    os.pread(fd, 100, st.st_size - 50)
                    try:
                        os.lseek(fd, 0, os.SEEK_DATA)
                        os.lseek(fd, 0, os.SEEK_HOLE)
                    except OSError:
                        pass
            elif stat.S_ISDIR(st.st_mode):
                os.listdir(fd)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
                try:
                    os.read(fd, 16)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def xattrs(self, path):
        names = os.listxattr(path, follow_symlinks=False)
        for n in names:
            try:
                os.getxattr(path, n, follow_symlinks=False)
            except OSError:
                pass
        for n in (OVL + "opaque", OVL + "redirect", OVL + "origin"):
            try:
                os.getxattr(path, n, follow_symlinks=False)
            except OSError:
                pass

    def look(self, rel):
        """Everything one can ask about one name."""
        path = self.p(rel)
        st = self.call("lstat %s" % rel, os.lstat, path)
        if st is None:
            return None
        self.check_nlink(rel, st)
        self.call("stat %s" % rel, os.stat, path)
        if stat.S_ISLNK(st.st_mode):
            self.call("readlink %s" % rel, os.readlink, path)
            self.call("open-follow %s" % rel, self.read_path, path, False)
        else:
            self.call("open+read %s" % rel, self.read_path, path)
        self.call("xattrs %s" % rel, self.xattrs, path)
        for mode in (os.R_OK, os.W_OK, os.X_OK):
            self.call("access %s %d" % (rel, mode), os.access, path, mode)
        if not stat.S_ISDIR(st.st_mode):
            # the name below a non-directory (bug: lower file, upper dir)
            self.call("lstat %s/%s" % (rel, "y"), os.lstat,
                      os.path.join(path, self.rng.choice(NAMES)))
        return st

    def bad(self, msg):
        """A wrong result: the seed fails (run_seed() collects the '!'
        lines)."""
        self.log("BAD: " + msg)
        if self.logfd is not None:
            try:
                os.write(self.logfd, ("!%s\n" % msg.replace(
                    self.base, "$B")).encode("utf-8", "replace"))
            except OSError:
                pass

    def check_nlink(self, rel, st):
        """A visible object has 1 to a few links: never 0, never more than
        the names a seed can make (1000)."""
        if st.st_nlink == 0 or st.st_nlink > 1000:
            self.bad("st_nlink %d on visible '%s' (mode %o)" %
                     (st.st_nlink, rel, st.st_mode))

    def walk(self, rel="", depth=0, budget=None):
        """Recursive walk with bounds; no reliance on readdir order."""
        if budget is None:
            budget = [300]
        path = self.p(rel)
        names = self.call("readdir %s" % (rel or "/"), os.listdir, path)
        # also the names readdir did not list (or could not)
        names = sorted(set(names or []) | set(NAMES))
        for name in names:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            crel = os.path.join(rel, name) if rel else name
            st = self.look(crel)
            if st is None:
                continue
            self.paths.add(crel)
            if stat.S_ISDIR(st.st_mode) and depth < 5:
                self.walk(crel, depth + 1, budget)

    # ---- changing ----

    def some_path(self):
        rng = self.rng
        if self.paths and rng.random() < 0.6:
            rel = rng.choice(sorted(self.paths))
        else:
            rel = rand_path(rng)
        if rng.random() < 0.1:
            rel = rel + "/" + rng.choice(NAMES)
        return rel

    def op_write(self, path, off, data, flags):
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | flags, 0o644)
        try:
            os.pwrite(fd, data, off) if not flags & os.O_APPEND else \
                os.write(fd, data)
            if self.rng.random() < 0.2:
                os.fsync(fd)
        finally:
            os.close(fd)

    def op_mmap(self, path):
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            if os.fstat(fd).st_size == 0:
                os.ftruncate(fd, 4096)
            try:
                m = mmap.mmap(fd, 4096)
            except ValueError as e:  # shorter than a page: mmap(2) fine
                raise OSError(errno.EINVAL, str(e))
            try:
                m[0:4] = b"mmap"
                m.flush()
            finally:
                m.close()
        finally:
            os.close(fd)

    def op_tmpfile(self, path, linkto):
        fd = os.open(path, O_TMPFILE | os.O_RDWR, 0o600)
        try:
            os.write(fd, b"tmp")
            if linkto:
                os.link("/proc/self/fd/%d" % fd, linkto)
        finally:
            os.close(fd)

    def op_readdir_mutating(self, path, victim, new):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with os.scandir(fd) as it:
                for _ in it:
                    break
                for fn, args in ((os.unlink, (victim,)),
                                 (os.mkdir, (new,))):
                    try:
                        fn(*args)
                    except OSError:
                        pass
                list(it)
            os.lseek(fd, 0, os.SEEK_SET)
            os.listdir(fd)
        finally:
            os.close(fd)

    def op_rmtree(self, path, depth=0):
        """rm -r, bounded."""
        if depth > 6:
            return
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            for n in os.listdir(path)[:50]:
                try:
                    self.op_rmtree(os.path.join(path, n), depth + 1)
                except OSError:
                    pass
            os.rmdir(path)
        else:
            os.unlink(path)

    def remount(self):
        self.union.umount()
        if self.rng.random() < 0.5:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("2")
        self.union.mount()

    def inside(self, path, follow):
        """Does @path (its last symlink followed if @follow) stay inside
        the union?"""
        r = os.path.realpath(path if follow else os.path.dirname(path))
        return r == self.union.mnt or r.startswith(self.union.mnt + "/")

    def random_op(self, user=False):
        rng = self.rng
        a = self.some_path()
        b = self.some_path()
        pa, pb = self.p(a), self.p(b)
        r = rng.randrange(100)
        # A crafted symlink ("/", "..", "/tmp") must not take a change, or
        # a walk that finds names to change, out of the union: every path
        # is resolved first (lookups are fuzz too) and must stay inside.
        follow = r < 26 or 78 <= r < 90 or r >= 94
        self.n += 1
        for q, pq, f in ((a, pa, follow), (b, pb, False)):
            if not self.inside(pq, f):
                self.log("(skipped: %s leads out of the union)" % q)
                return
        if r < 10:
            self.look(a)
        elif r < 18:
            flags = rng.choice([0, 0, os.O_APPEND, os.O_TRUNC, os.O_CREAT,
                                os.O_CREAT | os.O_EXCL])
            self.call("write %s flags=%#o" % (a, flags), self.op_write, pa,
                      rng.choice([0, 3, 5000, 1 << 20]), b"w" *
                      rng.choice([1, 10, 5000]), flags)
        elif r < 22:
            sz = rng.choice([0, 0, 1, 4096, 3 << 20])
            self.call("truncate %s %d" % (a, sz), os.truncate, pa, sz)
        elif r < 26:
            m = rng.choice([0o644, 0o755, 0o000, 0o4755, 0o1777])
            self.call("chmod %s %o" % (a, m), os.chmod, pa, m)
        elif r < 28:
            self.call("chown %s" % a, os.chown, pa, rng.choice([0, 1000]),
                      rng.choice([0, 1000]), follow_symlinks=False)
        elif r < 30:
            self.call("utime %s" % a, os.utime, pa, None,
                      follow_symlinks=False)
        elif r < 42:
            fl = rng.choice([0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE,
                             RENAME_EXCHANGE, RENAME_WHITEOUT])
            self.call("rename %s %s flags=%d" % (a, b, fl), renameat2, pa,
                      pb, fl)
        elif r < 48:
            self.call("unlink %s" % a, os.unlink, pa)
        elif r < 53:
            self.call("rmdir %s" % a, os.rmdir, pa)
        elif r < 55:
            self.call("rm -r %s" % a, self.op_rmtree, pa)
        elif r < 61:
            self.call("mkdir %s" % a, os.mkdir, pa, 0o755)
        elif r < 63:
            self.call("mkfifo %s" % a, os.mkfifo, pa)
        elif r < 66:
            t = rng.choice(NAMES + ["/", "..", "/etc/hostname"])
            self.call("symlink %s %s" % (t, a), os.symlink, t, pa)
        elif r < 70:
            self.call("link %s %s" % (a, b), os.link, pa, pb,
                      follow_symlinks=False)
        elif r < 76:
            n, v = rng.choice([("user.k", b"v"), ("user.big", b"v" * 3000),
                               ("trusted.k", b"t")] +
                              [self.gen.xattr(True) for _ in range(2)])
            self.call("setxattr %s %s" % (a, n), os.setxattr, pa, n, v,
                      follow_symlinks=False)
        elif r < 78:
            n = rng.choice(["user.k", "user.a", OVL + "opaque",
                            OVL + "redirect"])
            self.call("removexattr %s %s" % (a, n), os.removexattr, pa, n,
                      follow_symlinks=False)
        elif r < 80:
            self.call("O_TMPFILE in %s, link to %s" % (a, b),
                      self.op_tmpfile, pa, pb if rng.random() < 0.5 else None)
        elif r < 83:
            self.call("mmap write %s" % a, self.op_mmap, pa)
        elif r < 85:
            d = a if a else ""
            self.call("readdir %s while unlinking/mkdir" % d,
                      self.op_readdir_mutating, self.p(d),
                      os.path.join(self.p(d), rng.choice(NAMES)),
                      os.path.join(self.p(d), rng.choice(NAMES)))
        elif r < 90:
            self.call("walk %s" % a, self.walk, a, 3, [40])
        elif r < 92:
            self.call("create %s" % a, lambda x: os.close(
                os.open(x, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)), pa)
        elif r < 94:
            self.call("syncfs", lambda: os.sync())
        elif r < 97:
            self.call("read %s" % a, self.read_path, pa, False)
        elif not user:
            self.call("remount", self.remount)

    # ---- index=on: a crafted workdir/index ----

    @staticmethod
    def regular_files(root):
        """(path, lstat) of the regular files under @root, errors
        skipped."""
        for d, _, files in os.walk(root):
            for n in files:
                full = os.path.join(d, n)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield full, st

    def lower_hardlinks(self, lowers):
        """The regular files of the lower layers with more than one name:
        {(layer, st_dev, st_ino): [their layer-relative names]}."""
        groups = {}
        for lw in lowers:
            for full, st in self.regular_files(lw):
                if st.st_nlink > 1:
                    groups.setdefault((lw, st.st_dev, st.st_ino),
                                      []).append(os.path.relpath(full, lw))
        return groups

    def add_hardlinks(self, irng, lowers):
        """More names for some regular files of the lower layers: beside
        them and elsewhere in their layer."""
        g = self.gen
        for lw in lowers:
            regs = [full for full, _ in self.regular_files(lw)]
            for src in irng.sample(regs, min(len(regs), irng.randint(1, 2))):
                want = irng.randint(1, 3)
                for _ in range(8):
                    if want == 0:
                        break
                    if irng.random() < 0.5:
                        dst = os.path.join(os.path.dirname(src),
                                           irng.choice(NAMES))
                    else:
                        dst = os.path.join(lw, rand_path(irng, 2))
                    try:
                        os.link(src, dst)
                        g.sh("ln %s %s" % (src, dst))
                        want -= 1
                    except OSError:
                        pass

    NLINKS = [b"U+1", b"U+0", b"U-1", b"L-1", b"L+0", b"L-5", b"L+1",
              b"U+2147483647", b"U-2147483648", b"L+4294967296", b"X",
              b"", b"U", b"L-", b"+1", b"999999999999", b"U+999999999999",
              b"U+1\0", b"U+ 1", b"u+1", b"L-2147483647"]

    def entry_file(self, irng, full, upper):
        """A regular file at index entry @full: new, or another name of
        some upper file."""
        g = self.gen
        others = []
        if upper and os.path.isdir(upper) and irng.random() < 0.4:
            others = [full for full, _ in self.regular_files(upper)]
        if others:
            src = irng.choice(sorted(others))
            os.link(src, full)
            g.sh("ln %s %s" % (src, full))
        else:
            with open(full, "wb") as f:
                f.write(b"entry" * irng.randint(0, 3))
            g.sh("echo entry > %s" % full)

    def setx(self, path, name, val):
        try:
            os.setxattr(path, name, val, follow_symlinks=False)
            self.gen.sh("setfattr -h -n %s -v 0x%s %s" % (name, val.hex(),
                                                         path))
        except OSError:
            pass

    def mutate_entry(self, irng, idx, name, upper, harsh):
        """Spoil index entry @name of @idx in one way; unless @harsh, in
        one a mount takes (its origin stays)."""
        g = self.gen
        full = os.path.join(idx, name)
        k = irng.choice(["type", "nlink", "nlink", "replace", "extra-name",
                         "orphan"] + (["origin-rm", "origin-new",
                                       "origin-cut"] if harsh else []))
        self.log("index: entry %s: %s" % (name[:24], k))
        if k == "type":
            kind = irng.choice(["dir", "fifo", "symlink", "whiteout", "chr",
                                "socket", "hardlink"])
            try:
                origin = os.getxattr(full, OVL + "origin",
                                     follow_symlinks=False)
            except OSError:
                origin = None
            if os.path.isdir(full) and not os.path.islink(full):
                self.op_rmtree(full)
            else:
                os.unlink(full)
            g.sh("rm -r %s" % full)
            if not self.gen.make(idx, name, kind, [] if kind != "hardlink"
                                 else [n for n in os.listdir(idx)
                                       if os.path.isfile(
                                           os.path.join(idx, n))]):
                os.mkdir(full)
            # with the xattrs an entry has (its origin: the mount takes
            # it, the lookup through it sees the type)
            if origin and (not harsh or irng.random() < 0.5):
                self.setx(full, OVL + "origin", origin)
            if irng.random() < 0.5:
                self.setx(full, OVL + "nlink", irng.choice(self.NLINKS))
        elif k == "nlink":
            self.setx(full, OVL + "nlink", irng.choice(self.NLINKS))
        elif k == "origin-rm":
            try:
                os.removexattr(full, OVL + "origin", follow_symlinks=False)
                g.sh("setfattr -h -x %sorigin %s" % (OVL, full))
            except OSError:
                pass
        elif k == "origin-new":
            self.setx(full, OVL + "origin", g.origin())
        elif k == "origin-cut":
            try:
                v = os.getxattr(full, OVL + "origin", follow_symlinks=False)
            except OSError:
                v = b""
            self.setx(full, OVL + "origin", v[:irng.randrange(len(v) + 1)])
        elif k == "replace":
            os.unlink(full) if not os.path.isdir(full) else \
                self.op_rmtree(full)
            g.sh("rm -r %s" % full)
            self.entry_file(irng, full, upper)
            if irng.random() < 0.7:
                self.setx(full, OVL + "nlink", irng.choice(self.NLINKS))
        elif k == "extra-name" and upper and os.path.isdir(upper):
            # a name in the upper layer the union did not make
            dst = os.path.join(upper, irng.choice(NAMES) + "L")
            os.link(full, dst)
            g.sh("ln %s %s" % (full, dst))
        elif k == "orphan" and upper and os.path.isdir(upper):
            # its upper names gone behind the union's back
            ino = os.lstat(full).st_ino
            for f, st in list(self.regular_files(upper)):
                if st.st_ino == ino:
                    os.unlink(f)
                    g.sh("rm %s" % f)

    def plant_index(self, irng, groups, lowers, upper, work):
        """Before the mount: make workdir/index as a union would (a clean
        mount with index=on, changes through hard-linked names), then
        spoil it: entries of the wrong type, bad nlink and origin xattrs,
        replaced entries, entries named by crafted origins and by real
        handles, names that are not hex, temporaries, a wrong or missing
        upper xattr on the directory, a bad origin on the upper root."""
        g = self.gen
        idx = os.path.join(work, "index")
        names = sorted(set(r for v in groups.values() for r in v))
        final = self.union
        # Half the seeds only spoil what a mount takes (so that the union
        # runs on the index), the others anything (the mount may fail)
        harsh = irng.random() < 0.5
        self.log("index: %s" % ("anything spoilt" if harsh else
                                "spoilt so that it mounts"))
        if names and irng.random() < 0.75:
            self.union = Union(self.fstype, final.mnt, lowers, upper, work,
                               "", final.metacopy, True)
            self.n += 1
            self.log("index prep: mount %s" % self.union.opts)
            kmsg = Kmsg()
            try:
                self.union.mount()
            except OSError as e:
                self.log("index prep: mount failed: %s" % errname(e.errno))
                self.check_mount_message(kmsg, e)
            if self.union.mounted:
                try:
                    for rel in irng.sample(names, min(len(names),
                                                      irng.randint(1, 4))):
                        self.index_op(irng, rel, names)
                finally:
                    self.n += 1
                    self.log("index prep: umount")
                    try:
                        self.union.umount()
                    except OSError as e:
                        raise UmountError("umount %s: %s" %
                                          (self.union.mnt, e))
            kmsg.close()
            self.union = final
        if irng.random() < 0.04:
            # no directory at all where the index goes
            self.log("index: %s is not a directory" % idx)
            if os.path.isdir(idx):
                self.op_rmtree(idx)
            try:
                g.make(work, "index", irng.choice(["file", "symlink",
                                                   "fifo", "whiteout"]), [])
            except OSError:
                pass
            return
        try:
            os.mkdir(idx)
            g.sh("mkdir %s" % idx)
        except OSError:
            pass
        if not os.path.isdir(idx) or os.path.islink(idx):
            return
        # entries of our own: named by real lower handles, or by the
        # crafted origins the layers have
        for _ in range(irng.choice([0, 0, 1, 2, 4])):
            if groups and (not harsh or irng.random() < 0.6):
                key = irng.choice(sorted(groups))
                h = file_handle(os.path.join(key[0], groups[key][0]))
                if h is None:
                    continue
                fb = g.fb(htype=h[0], fid=h[1], uuid=fs_uuid(key[0]))
            else:
                fb = g.origin()
            full = os.path.join(idx, fb.hex()[:irng.choice([254, 255])])
            self.log("index: crafted entry %s" % fb.hex()[:24])
            try:
                self.entry_file(irng, full, upper)
            except OSError:
                continue
            if not harsh or irng.random() < 0.8:
                self.setx(full, OVL + "origin", fb if not harsh or
                          irng.random() < 0.8 else g.origin())
            if irng.random() < 0.8:
                self.setx(full, OVL + "nlink", irng.choice(self.NLINKS))
        # spoil some entries
        for name in sorted(os.listdir(idx)):
            if irng.random() < 0.5:
                try:
                    self.mutate_entry(irng, idx, name, upper, harsh)
                except OSError:
                    pass
        # names no union makes, and temporaries
        if harsh and irng.random() < 0.3:
            for name in irng.sample(["zz", "0", "abc", "00fb2", "g" * 32,
                                     "0" * 255, "00fb21000" + "x" * 57,
                                     "AB" * 20, "00 fb", "-1"],
                                    irng.randint(1, 3)):
                self.log("index: junk name %s" % name[:24])
                try:
                    g.make(idx, name, irng.choice(["file", "dir",
                                                   "whiteout"]), [])
                except OSError:
                    pass
        if irng.random() < 0.25:
            for i in range(irng.randint(1, 3)):
                name = "#%x" % irng.randrange(1 << 16)
                self.log("index: temporary %s" % name)
                try:
                    kind = irng.choice(["file", "dir", "whiteout",
                                        "symlink"])
                    g.make(idx, name, kind, [])
                    if kind == "dir" and irng.random() < 0.6:
                        g.make(idx, name + "/" + irng.choice(NAMES),
                               irng.choice(["file", "dir", "whiteout"]), [])
                except OSError:
                    pass
        # the directory's upper, the upper root's origin
        if not harsh:
            return
        r = irng.random()
        if r < 0.2:
            self.log("index: no upper xattr")
            try:
                os.removexattr(idx, OVL + "upper")
                g.sh("setfattr -x %supper %s" % (OVL, idx))
            except OSError:
                pass
        elif r < 0.4:
            self.log("index: garbage upper xattr")
            self.setx(idx, OVL + "upper", g.origin())
        elif r < 0.55:
            # another directory's handle
            other = irng.choice([d for d in lowers + [upper, work]
                                 if os.path.isdir(d)] or [idx])
            h = file_handle(other)
            if h:
                self.log("index: upper xattr of %s" % other)
                self.setx(idx, OVL + "upper",
                          g.fb(htype=h[0], fid=h[1], uuid=fs_uuid(other)))
        if upper and os.path.isdir(upper) and irng.random() < 0.25:
            self.log("index: garbage origin on the upper root")
            if irng.random() < 0.3:
                try:
                    os.removexattr(upper, OVL + "origin")
                except OSError:
                    pass
            else:
                self.setx(upper, OVL + "origin", g.origin())

    def index_op(self, irng, rel, names):
        """One change or look through hard-linked name @rel."""
        path = self.p(rel)
        if not self.inside(path, True):
            self.log("(skipped: %s leads out of the union)" % rel)
            return
        k = irng.randrange(10)
        if k == 0:
            self.look(rel)
        elif k == 1:
            self.call("read %s" % rel, self.read_path, path)
        elif k == 2:
            self.call("append %s" % rel, self.op_write, path, 0, b"idx",
                      os.O_APPEND)
        elif k == 3:
            self.call("unlink %s" % rel, os.unlink, path)
        elif k == 4:
            new = os.path.join(os.path.dirname(rel), irng.choice(NAMES))
            if self.inside(self.p(new), False):
                self.call("link %s %s" % (rel, new), os.link, path,
                          self.p(new))
        elif k == 5:
            other = irng.choice(names)
            if self.inside(self.p(other), False):
                self.call("rename %s %s" % (other, rel), renameat2,
                          self.p(other), path, irng.choice(
                              [0, RENAME_EXCHANGE]))
        elif k == 6:
            self.call("chmod %s" % rel, os.chmod, path, 0o640)
        elif k == 7:
            self.call("setxattr %s" % rel, os.setxattr, path, "user.i",
                      b"v", follow_symlinks=False)
        elif k == 8:
            self.call("truncate %s" % rel, os.truncate, path, 0)
        else:
            self.call("utime %s" % rel, os.utime, path, None)

    def index_ops(self, irng, names):
        """Stat, read, write, unlink and link the hard-linked names."""
        for _ in range(irng.randint(4, 12)):
            self.index_op(irng, irng.choice(names), names)
        for rel in names:
            st = self.call("lstat %s" % rel, os.lstat, self.p(rel))
            if st is not None:
                self.check_nlink(rel, st)

    def check_mount_message(self, kmsg, err):
        """A mount that fails says why in the kernel log."""
        time.sleep(0.01)
        msgs = kmsg.read()
        who = "cowfs" if self.fstype == "cowfs" else "overlay"
        if not any(who in m for m in msgs):
            self.bad("mount failed (%s) with no %s line in the kernel log"
                     % (errname(err.errno), who))

    def umount_layers(self):
        for m in reversed(self.gen.mounts):
            try:
                do_umount(m)
            except OSError as e:
                raise UmountError("umount %s: %s" % (m, e))
        self.gen.mounts = []

    def start_reader(self):
        """A process walking and reading the union until stop_reader()."""
        self.n += 1
        self.log("(a concurrent reader starts: walks and reads)")
        pid = os.fork()
        if pid != 0:
            return pid
        try:
            self.logfd = None
            self.verbose = False
            self.rng = random.Random(self.seed + 1)
            end = time.monotonic() + 120
            while time.monotonic() < end:
                self.walk("", 0, [60])
        except BaseException:
            pass
        os._exit(0)

    def stop_reader(self, pid):
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self.n += 1
        self.log("(the concurrent reader stopped)")

    def as_user(self, subseed):
        """Some operations and a walk as uid/gid 1000, in a process."""
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.setgroups([])
                os.setresgid(1000, 1000, 1000)
                os.setresuid(1000, 1000, 1000)
                self.rng = random.Random(subseed)
                self.walk("", 0, [80])
                for _ in range(self.nops // 3):
                    self.random_op(user=True)
            except BaseException:
                traceback.print_exc()
                code = 3
            sys.stdout.flush()
            os._exit(code)
        _, st = os.waitpid(pid, 0)
        if st != 0:
            raise ChildError("the uid 1000 process failed (status %#x)" % st)

    def lazy_umount(self):
        fd = None
        for rel in sorted(self.paths)[:20] + [""]:
            try:
                fd = os.open(self.p(rel), os.O_RDONLY | os.O_NONBLOCK |
                             os.O_NOFOLLOW)
                break
            except OSError:
                pass
        do_umount(self.union.mnt, MNT_DETACH)
        self.union.mounted = False
        if fd is not None:
            try:
                os.fstat(fd)
                os.read(fd, 100)
            except OSError:
                pass
            os.close(fd)

    def run(self):
        rng = self.rng
        base = self.base
        g = self.gen = Gen(rng, base)
        g.uuid = fs_uuid(base)
        nlower = rng.randint(1, 4)
        has_upper = rng.random() < 0.75
        lowers = [os.path.join(base, "l%d" % i) for i in range(nlower)]
        upper = os.path.join(base, "u")
        work = os.path.join(base, "w")
        # bottom layer first, so upper layers can point at lower objects;
        # sometimes each lower layer on a filesystem of its own (another
        # st_dev and uuid; ramfs: no xattrs, no file handles)
        own_fs = rng.random() < 0.25
        for lw in reversed(lowers):
            g.build_layer(lw, False, rng.choice(["tmpfs", "tmpfs", "ramfs"])
                          if own_fs else None)
        # sometimes the bottom layer is a union itself (nested unions)
        nested = None
        if rng.random() < 0.08:
            sub = [os.path.join(base, "n0"), os.path.join(base, "n1")]
            for lw in reversed(sub):
                g.build_layer(lw, False)
            nested = os.path.join(base, "nested")
            os.mkdir(nested)
            nested_opts = "lowerdir=%s:%s" % tuple(sub)
            g.sh("mount -t %s none %s -o %s" % (self.fstype, nested,
                                                 nested_opts))
            if not self.dry_run:
                try:
                    do_mount("none", nested, self.fstype, nested_opts)
                    g.mounts.append(nested)
                except OSError:
                    nested = sub[0]
            lowers[-1] = nested
        if has_upper:
            g.build_layer(upper, True)
            g.build_workdir(work)
        lay = rng.random()
        if nlower > 1 and lay < 0.03:
            lowers[1] = lowers[0]                # the same layer twice
        elif has_upper and lay < 0.05:
            lowers[0] = upper                    # the upper is a lower
        elif has_upper and lay < 0.07:
            work = os.path.join(upper, "a")      # workdir inside upper
        elif has_upper and lay < 0.09:
            upper = os.path.join(lowers[-1], "a")  # upper inside a lower
        elif lay < 0.11:
            lowers[-1] = os.path.join(lowers[-1], "a", "b")  # maybe none
        mnt = os.path.join(base, "m")
        os.mkdir(mnt)
        extra = rng.choice(["", "", "redirect_dir=on", "redirect_dir=off",
                            "redirect_dir=follow", "xino=on"])
        # AUFS-style whiteouts (.wh.NAME, .wh..wh..opq) in the layers, read
        # with aufs_whiteouts; from an rng of their own, as the volume's
        arng = random.Random(self.seed * 7919 + 2)
        if self.fstype == "cowfs" and arng.random() < 0.2:
            for layer in lowers + ([upper] if has_upper else []):
                if not os.path.isdir(layer):
                    continue
                for _ in range(arng.randint(1, 6)):
                    d = os.path.join(layer, *arng.choice([[], [arng.choice(NAMES)]]))
                    name = arng.choice([".wh." + arng.choice(NAMES),
                                        ".wh..wh..opq", ".wh.", ".wh..wh."])
                    try:
                        if arng.random() < 0.2:
                            os.mkdir(os.path.join(d, name))
                        else:
                            open(os.path.join(d, name), "w").close()
                        g.sh("touch %s" % os.path.join(d, name))
                    except OSError:
                        pass
            extra += ("," if extra else "") + "aufs_whiteouts"
        # A bind volume in the union, its directory as hostile as a layer:
        # from an rng of its own, so the layers stay what they were
        vrng = random.Random(self.seed * 7919 + 1)
        if self.volumes and vrng.random() < 0.3:
            vg = Gen(vrng, base)
            vg.uuid = g.uuid
            vdir = os.path.join(base, "vol")
            vg.build_layer(vdir, True)
            g.script += vg.script
            name = "imgfuzz%d" % self.seed
            target = "/" + rand_path(vrng, 2)
            g.sh("cowctl volume create --type bind --opt device=%s %s" %
                 (vdir, name))
            if not self.dry_run:
                self.log("volume create %s on $B/vol at %s" % (name, target))
                if cowctl("volume", "create", "--type", "bind", "--opt",
                          "device=" + vdir, name) == 0:
                    self.volume = name
            if self.volume or self.dry_run:
                extra += ("," if extra else "") + "volume=%s:%s" % (name,
                                                                   target)
        # metacopy=on in a third of the seeds (it needs redirect_dir=on):
        # the layers' metacopy files are followed, metadata changes copy
        # up metadata only; from an rng of its own
        mrng = random.Random(self.seed * 7919 + 3)
        metacopy = mrng.random() < 0.33 and \
            "redirect_dir=off" not in extra and \
            "redirect_dir=follow" not in extra
        # and a third of those check the layers' fs-verity digests (tmpfs
        # has no fs-verity: every digest fails, or is required and absent)
        if metacopy and mrng.random() < 0.33:
            metacopy = mrng.choice(["verity=on", "verity=require"])
        # index=on in 30% of the seeds with an upper layer, half of them
        # with metacopy=on: the lower layers get more hard links, and
        # workdir/index is made by a first mount and then spoiled (see
        # plant_index()); from an rng of its own
        irng = random.Random(self.seed * 7919 + 4)
        index = has_upper and irng.random() < 0.3
        if index:
            metacopy = irng.random() < 0.5 and \
                "redirect_dir=off" not in extra and \
                "redirect_dir=follow" not in extra
        self.union = Union(self.fstype, mnt, lowers,
                           upper if has_upper else None, work, extra,
                           metacopy, index)
        g.sh("mount -t %s none %s -o %s" % (self.fstype, mnt,
                                             self.union.opts))
        if self.script:
            print("# seed %d, B=<the seed's directory>" % self.seed)
            print("\n".join(g.script), flush=True)
        if self.dry_run:
            if index:
                print("# index=on: workdir/index is planted at run time "
                      "(a first mount)")
            self.umount_layers()
            return "dry run", 0
        hard = []
        kmsg = None
        if index:
            self.add_hardlinks(irng, lowers)
            groups = self.lower_hardlinks(lowers)
            hard = sorted(set(r for v in groups.values() for r in v))
            self.n += 1
            self.log("index: hard-linked lower names: %s" % " ".join(hard))
            self.plant_index(irng, groups, lowers, upper, work)
            kmsg = Kmsg()
        self.n += 1
        self.log("mount %s" % self.union.opts)
        try:
            self.union.mount()
        except OSError as e:
            self.log("mount failed: %s" % errname(e.errno))
            if kmsg:
                self.check_mount_message(kmsg, e)
                kmsg.close()
            self.umount_layers()
            self.remove_volume()
            return "mount %s%s" % (errname(e.errno),
                                   ", index" if index else ""), 0
        if kmsg:
            kmsg.close()
        reader = None
        try:
            self.walk()
            if hard:
                self.index_ops(irng, hard)
            if rng.random() < 0.3:
                reader = self.start_reader()
            if rng.random() < 0.2:
                self.call("(as uid 1000)", self.as_user,
                          rng.randrange(1 << 30))
            for _ in range(self.nops):
                self.random_op()
            self.stop_reader(reader)
            reader = None
            self.walk()
            if rng.random() < 0.5:
                self.call("remount", self.remount)
                self.walk()
            if rng.random() < 0.1:
                self.call("umount -l with an open file", self.lazy_umount)
        finally:
            self.stop_reader(reader)
            self.n += 1
            self.log("umount")
            try:
                self.union.umount()
            except OSError as e:
                raise UmountError("umount %s: %s" % (mnt, e))
            self.umount_layers()
            self.remove_volume()
        return "%dL%s%s%s" % (nlower, "+U" if has_upper else "",
                              "+V" if self.volume else "",
                              "+I" if index else ""), self.n

    def remove_volume(self):
        """Once the union is gone, its volume can go (a bind volume's
        directory stays)."""
        if self.volume and cowctl("volume", "rm", self.volume) != 0:
            raise UmountError("cowctl volume rm %s failed after umount" %
                              self.volume)


# ---- the supervisor --------------------------------------------------------


class Kmsg:
    """New kernel log records, read from /dev/kmsg without blocking."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def close(self):
        os.close(self.fd)

    def read(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten: carry on
                    continue
                raise
            if not rec:
                break
            rec = rec.decode("utf-8", "replace")
            hdr, _, msg = rec.partition(";")
            msg = msg.split("\n")[0]
            out.append(msg)
        return out


class Result:
    def __init__(self, seed):
        self.seed = seed
        self.fail = []       # reasons
        self.splat = []      # kernel log lines of this seed
        self.hang = False
        self.stuck = False
        self.info = ""


def reaped(pid, status, res):
    if os.WIFSIGNALED(status):
        res.info += " killed by signal %d" % os.WTERMSIG(status)
        if not res.hang and (os.WTERMSIG(status) != signal.SIGKILL or
                             not res.splat):
            res.fail.append("the seed's process was killed by signal %d"
                            % os.WTERMSIG(status))
    elif os.WEXITSTATUS(status) == 3:
        res.fail.append("the seed's process failed (a fuzzer error? see "
                        "above)")
    elif os.WEXITSTATUS(status) == 5:
        res.fail.append("umount of the union failed")


def group_stacks(pgrp):
    """The kernel stacks of the other processes of a seed (its reader)."""
    out = ""
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == pgrp:
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgrp:
                continue
            with open("/proc/%s/stack" % d) as f:
                out += "pid %s (state %s):\n%s" % (d, fields[0], f.read())
        except (OSError, ValueError, IndexError):
            pass
    return out


def run_seed(seed, args, kmsg, base_dir):
    res = Result(seed)
    print("%s: seed %d ..." % (PROG, seed), flush=True)
    t0 = time.monotonic()
    base = os.path.join(base_dir, "s%d" % seed)
    os.makedirs(base, exist_ok=True)
    do_mount("tmpfs", base, "tmpfs", "size=256m,mode=0755")
    ref_before = module_refcnt(args.fstype)
    kmsg.read()
    r, w = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            c = Child(seed, base, args.fstype, w, args.verbose, args.ops)
            c.script = args.script or args.dry_run
            c.dry_run = args.dry_run
            c.volumes = args.volumes
            os.setpgid(0, 0)
            what, n = c.run()
            os.write(w, ("=%s, %d calls, %d failed\n" %
                         (what, n, c.errs)).encode())
        except UmountError as e:
            print("%s: seed %d: %s" % (PROG, seed, e))
            code = 5
        except BaseException:
            traceback.print_exc()
            code = 3
        sys.stdout.flush()
        os._exit(code)
    os.close(w)
    last = []
    buf = b""
    deadline = t0 + args.timeout
    status = None
    pipe_open = True
    os.set_blocking(r, False)

    def drain():
        nonlocal buf, pipe_open
        while pipe_open:
            try:
                chunk = os.read(r, 65536)
            except BlockingIOError:
                break
            if not chunk:
                pipe_open = False
            buf += chunk
        *lines, buf = buf.split(b"\n")
        for ln in lines:
            ln = ln.decode("utf-8", "replace")
            if ln.startswith("!"):
                if ln[1:] not in res.fail:
                    res.fail.append(ln[1:])    # Child.bad()
            else:
                last.append(ln)
        del last[:-args.context]

    while status is None:
        fds = [kmsg.fd] + ([r] if pipe_open else [])
        select.select(fds, [], [], 0.2)
        drain()
        for msg in kmsg.read():
            if SPLAT_RE.search(msg) or res.splat:
                if not res.splat:
                    drain()   # what the child logged before the splat
                    res.splat_at = last[-1] if last else "(start)"
                res.splat.append(msg)
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            status = st
            break
        if time.monotonic() > deadline:
            res.hang = True
            res.fail.append("HANG: not done after %d s" % args.timeout)
            try:
                with open("/proc/%d/stack" % pid) as f:
                    res.stack = f.read()
                with open("/proc/%d/wchan" % pid) as f:
                    res.stack = "wchan %s\n%s" % (f.read(), res.stack)
            except OSError as e:
                res.stack = "(no stack: %s)" % e
            os.kill(pid, signal.SIGKILL)
            res.stack += group_stacks(pid)
            res.stuck = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            for _ in range(50):
                wpid, st = os.waitpid(pid, os.WNOHANG)
                if wpid:
                    status = st
                    res.stuck = False
                    break
                time.sleep(0.1)
            if res.stuck:
                res.fail.append("the hung process cannot be killed")
            break
    # the rest of the child's log, and the kernel's
    drain()
    os.close(r)
    for ln in buf.split(b"\n"):
        ln = ln.decode("utf-8", "replace")
        if ln.startswith("!"):
            if ln[1:] not in res.fail:
                res.fail.append(ln[1:])
        elif ln:
            last.append(ln)
    time.sleep(0.05)
    for msg in kmsg.read():
        if SPLAT_RE.search(msg) or res.splat:
            if not res.splat:
                res.splat_at = last[-1] if last else "(start)"
            res.splat.append(msg)
    if res.splat:
        first = next(m for m in res.splat if SPLAT_RE.search(m))
        res.fail.insert(0, "kernel splat: %s" % first.strip())
    if status is not None:
        reaped(pid, status, res)
    summary = [ln for ln in last if ln.startswith("=")]
    res.info = (summary[-1][1:] if summary else "") + res.info
    # mounts left behind (the seed's tmpfs aside), module refcount
    if not res.stuck:
        left = mounts_under(base)
        if left and not res.splat:
            res.fail.append("mount left behind: %s" % " ".join(left))
        for mp in left:
            try:
                do_umount(mp, MNT_DETACH)
            except OSError as e:
                print("%s: cannot detach %s: %s" % (PROG, mp, e))
        ref_after = module_refcnt(args.fstype)
        if ref_before is not None and ref_after != ref_before and \
                not res.splat:
            res.fail.append("module refcount %s before the seed, %s after"
                            % (ref_before, ref_after))
        try:
            do_umount(base, 0)
        except OSError:
            do_umount(base, MNT_DETACH)
        try:
            os.rmdir(base)
        except OSError:
            pass
    res.secs = time.monotonic() - t0
    if res.fail:
        report(res, last, args)
    else:
        print("%s: seed %d ok (%.1f s, %s)" % (PROG, seed, res.secs,
                                               res.info), flush=True)
    return res


def report(res, last, args):
    P = "%s: seed %d" % (PROG, res.seed)
    print("%s FAILED (%.1f s, %s)" % (P, res.secs, res.info.strip()))
    for f in res.fail:
        print("%s:   %s" % (P, f))
    print("%s: last operations (numbered; $B = the seed's directory):" % P)
    for ln in last[-args.context:]:
        if not ln.startswith("="):
            print("%s:   %s" % (P, ln))
    if res.splat:
        print("%s: kernel log (the splat came during: %s):" %
              (P, getattr(res, "splat_at", "?")))
        for m in res.splat[:args.klines]:
            print("%s:   | %s" % (P, m))
    if res.hang:
        print("%s: the stuck process's kernel stack:" % P)
        for ln in getattr(res, "stack", "").splitlines():
            print("%s:   | %s" % (P, ln))
    print("%s: replay: scripts/vm -- selftests/image_fuzz.py %s--seed %d -v"
          " (the layers as shell commands: add --dry-run)" %
          (P, "--fstype overlay " if args.fstype == "overlay" else "",
           res.seed))
    print("%s: FAIL seed %d: %s" % (PROG, res.seed, res.fail[0]),
          flush=True)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[2:]))
    ap.add_argument("--fstype", default=os.environ.get("COWFS_TEST_FSTYPE",
                                                       "cowfs"),
                    help="cowfs (default, or $COWFS_TEST_FSTYPE) or overlay")
    ap.add_argument("--seed", type=int, help="run this seed only")
    ap.add_argument("--start", type=int, default=1, help="first seed (1)")
    ap.add_argument("--seeds", type=int, default=50,
                    help="how many seeds from --start (50)")
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="then N more seeds from a start taken from the "
                    "clock (printed)")
    ap.add_argument("--ops", type=int, default=60,
                    help="random changes per seed (60)")
    ap.add_argument("--timeout", type=int, default=60,
                    help="seconds a seed may take before it is a hang (60)")
    ap.add_argument("--keep-going", action="store_true",
                    help="go on after a failure (not after a hang)")
    ap.add_argument("--rmmod", action="store_true",
                    help="at the end, 'rmmod cowfs' must work (then "
                    "insmod $COWFS_MODULE again)")
    ap.add_argument("--script", action="store_true",
                    help="print each seed's layers as shell commands")
    ap.add_argument("--dry-run", action="store_true",
                    help="only build each seed's layers and print them as "
                    "shell commands (--script); no mount")
    ap.add_argument("--context", type=int, default=12,
                    help="operations shown before a failure (12)")
    ap.add_argument("--klines", type=int, default=60,
                    help="kernel log lines shown per failure (60)")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"),
                    help="where the seeds' tmpfs mounts go ($TMPDIR, /tmp)")
    ap.add_argument("--no-volumes", dest="volumes", action="store_false",
                    help="never attach a volume (cowfs; needs cowctl: "
                    "$COWCTL or tools/cowctl/cowctl)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every operation")
    args = ap.parse_args()

    if args.fstype not in ("cowfs", "overlay"):
        die("--fstype must be cowfs or overlay, not %r" % args.fstype)
    if args.seeds < 0 or args.random < 0 or args.timeout <= 0:
        die("--seeds and --random must be >= 0, --timeout > 0")
    if os.getuid() != 0:
        print("SKIP: %s must run as root (in the test VM: scripts/vm -- %s)"
              % (PROG, sys.argv[0]))
        return 4
    if not args.dry_run and not fs_registered(args.fstype):
        os.system("modprobe %s >/dev/null 2>&1" % args.fstype)
    if not args.dry_run and not fs_registered(args.fstype):
        print("SKIP: filesystem %s not available" % args.fstype)
        return 4

    if args.seed is not None:
        seeds = [args.seed]
        print("%s: %s, seed %d" % (PROG, args.fstype, args.seed))
    else:
        seeds = list(range(args.start, args.start + args.seeds))
        print("%s: %s, seeds %d..%d" % (PROG, args.fstype, args.start,
                                         args.start + args.seeds - 1))
        if args.random:
            rs = int(time.time()) % 100000000 * 10 + 1000000
            seeds += list(range(rs, rs + args.random))
            print("%s: and %d seeds from the clock: %d..%d" %
                  (PROG, args.random, rs, rs + args.random - 1))
    sys.stdout.flush()

    base_dir = os.path.join(args.dir, "imgfuzz.%d" % os.getpid())
    os.makedirs(base_dir, exist_ok=True)
    # Volumes: in a store of the run's own (the module's may be read-only)
    old_store = None
    if args.fstype != "cowfs" or not os.access(COWCTL, os.X_OK):
        args.volumes = False
    if args.volumes and not args.dry_run:
        old_store = cowctl_store()
        store = os.path.join(base_dir, "store")
        os.makedirs(store, exist_ok=True)
        if cowctl("config", "set", "--store", store) != 0:
            print("%s: cannot move the volume store to %s: no volumes" %
                  (PROG, store))
            args.volumes = False
    if args.fstype == "cowfs" and not args.volumes:
        print("%s: no volumes this run" % PROG)
    kmsg = Kmsg()
    ref0 = module_refcnt(args.fstype)
    t0 = time.monotonic()
    results = []
    stopped = None
    for seed in seeds:
        res = run_seed(seed, args, kmsg, base_dir)
        results.append(res)
        if res.hang and res.stuck:
            stopped = "seed %d hung and cannot be killed: the kernel is " \
                "wedged" % seed
            break
        if res.fail and not args.keep_going:
            stopped = "stopped at the first failure (--keep-going to go on)"
            break
    failed = [r for r in results if r.fail]
    end_fail = []
    if stopped is None or not failed:
        ref1 = module_refcnt(args.fstype)
        if ref0 is not None and ref1 != ref0 and not failed:
            end_fail.append("module refcount %s at the start, %s at the end"
                            % (ref0, ref1))
        if args.rmmod and args.fstype == "cowfs" and not failed:
            if os.system("rmmod cowfs") != 0:
                end_fail.append("rmmod cowfs failed")
            else:
                ko = os.environ.get("COWFS_MODULE")
                if ko:
                    os.system("insmod %s" % ko)
    if old_store:
        cowctl("config", "set", "--store", old_store)
    if args.volumes and not args.dry_run:
        try:
            os.rmdir(os.path.join(base_dir, "store", ".trash"))
        except OSError:
            pass
        try:
            os.rmdir(os.path.join(base_dir, "store"))
        except OSError:
            pass
    try:
        os.rmdir(base_dir)
    except OSError:
        pass
    secs = time.monotonic() - t0
    print("%s: summary: %s, %d of %d seeds run in %.0f s, %d ok, %d failed"
          % (PROG, args.fstype, len(results), len(seeds), secs,
             len(results) - len(failed), len(failed)))
    for r in failed:
        print("%s:   seed %d: %s" % (PROG, r.seed, "; ".join(r.fail)))
    for f in end_fail:
        print("%s:   %s" % (PROG, f))
    if stopped:
        print("%s: %s" % (PROG, stopped))
    if len(results) == len(seeds):
        print("%s: done" % PROG)
    sys.stdout.flush()
    return 1 if failed or end_fail else 0


if __name__ == "__main__":
    sys.exit(main())
