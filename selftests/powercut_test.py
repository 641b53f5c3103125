#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Power-cut test of the union's namespace, copy-up and copyup=partial
operations.

The upper and work directories live on ext4 (and on xfs) on a
dm-log-writes device, so that every write that reaches the disk is
recorded, in the order it became stable.  The lower layer is on tmpfs
(it is only read).  The test

 1. makes the filesystem, mounts the union on it and prepares what the
    operations need (whiteouts in merged directories, a redirect, a
    copied-up file), then unmounts: the image at that moment is the start
    of the replay;
 2. mounts it again over dm-log-writes and runs each operation through the
    union between two marks in the log ("pc:NAME:begin", after a sync
    "pc:NAME:done"; fsync'ed data gets a mark after its fsync returned);
 3. replays the log with logreplay.py onto a copy of the start image, up
    to every FLUSH and every FUA entry: those are the states a power cut
    can leave on the disk (a real cut may also keep any subset of the
    writes not yet flushed; the filesystem's journal must cope with those,
    and they are not enumerated here).  Points whose image equals the
    previous point's (only flushes in between) are checked once.  For
    each point a copy of the replayed
    image is mounted (the filesystem recovers its journal), the union is
    mounted over it, and every operation is checked: before its begin mark
    the union must show the old state, after its done mark the new one,
    and in between the old or the new one, never anything else (a short
    or mixed file, a lower file that was deleted and is back, a lower file
    that vanished, a renamed directory in both places or in none, data
    lost although its fsync had returned).

cowfs only: the "partial_*" operations write to big lower files through a
second union, mounted copyup=partial on layers of its own (upper and work
directories on the same filesystem).  The first write creates a sparse
upper file with a record of the 64 KiB granules it holds
(trusted.overlay.cowfs.partial) and a 1-byte trusted.overlay.metacopy;
each write copies the granules it touches, makes them durable, records
them, then writes; the last missing granule, or a truncate, completes the
file (both xattrs go).  At every point the union must read each granule
as the old or the new file has it (never zeros, never old and new bytes in
one granule), the rest as before, and, once the write's fsync, fdatasync
or RWF_DSYNC returned, the new bytes; it must never refuse the file.  The
upper file on the replayed filesystem is checked too: each granule its
record claims holds old or new bytes, those it does not claim read as the
lower file's.  Then overlayfs is mounted over the same layers: it must
refuse a partial file (EIO) or show the bytes cowfs shows, never the
upper file's holes as zeros.  With COWFS_TEST_FSTYPE=overlay these
operations are skipped.

The upper filesystem is mounted with MS_DIRSYNC (variants "ext4:dirsync",
"xfs:dirsync"): every directory operation then commits its own
transaction, so each step of a multi-step operation of the union becomes
a crash point of its own.  Without it a journal commit falls between two
steps only when the commit timer happens to fire there, which a real
power cut may well find, but a test would rarely see.

Environment:
  COWFS_TEST_FSTYPE     cowfs (default) or overlay (redirect_dir=on)
  POWERCUT_VARIANTS     upper filesystems, e.g. "ext4:dirsync xfs:dirsync"
                        (the default) or "ext4" (without dirsync)
  POWERCUT_MAX_POINTS   crash points checked per variant (default 300,
                        more than the ~275 distinct points the operations
                        make on ext4, so all are checked); with more than
                        that, a sample is checked (the first and last
                        point, the first and last of each operation's
                        window, the rest evenly), then every gap between
                        two checked points where an operation's state
                        differs is bisected, until the points on both
                        sides of every change are checked (up to
                        POWERCUT_MAX_POINTS more)
  POWERCUT_ONLY         space-separated operation names to run (default all)
  POWERCUT_VERBOSE=1    print the state of every operation at every point
Exit status: 0 pass, 1 a violated point or an error, 4 skip.
"""

import ctypes
import errno
import fcntl
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True     # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logreplay  # noqa: E402

KSFT_PASS, KSFT_FAIL, KSFT_SKIP = 0, 1, 4
MS_RDONLY = 1
MS_DIRSYNC = 128
MNT_DETACH = 2
BLKFLSBUF = 0x1261

FSTYPE = os.environ.get("COWFS_TEST_FSTYPE", "cowfs")
VERBOSE = os.environ.get("POWERCUT_VERBOSE") == "1"
TAG = os.environ.get("POWERCUT_TAG", "pc%d" % os.getpid())

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def say(msg):
    print("# powercut: " + msg, flush=True)


class Skip(Exception):
    pass


def mount(src, tgt, fstype, flags=0, data=""):
    if libc.mount(src.encode(), tgt.encode(), fstype.encode(), flags,
                  data.encode()) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "mount -t %s %s %s -o '%s': %s"
                      % (fstype, src, tgt, data, os.strerror(e)))


def umount(tgt, flags=0):
    if libc.umount2(tgt.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "umount %s: %s" % (tgt, os.strerror(e)))


def run(*cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("%s: exit status %d: %s"
                           % (" ".join(cmd), p.returncode, p.stdout.strip()))
    return p.stdout.strip()


def blob(seed, n):
    return random.Random(seed).randbytes(n)


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


DIR = "<dir>"


def tree(path):
    """None if @path is absent, else {relpath: bytes or DIR or 'other ...'}
    for everything under it ('' is @path itself)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    import stat as S
    if not S.S_ISDIR(st.st_mode):
        if S.S_ISREG(st.st_mode):
            return {"": read_file(path)}
        return {"": "other mode %o" % st.st_mode}
    out = {"": DIR}

    def walk(d, rel):
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            r = rel + name
            st = os.lstat(p)
            if S.S_ISDIR(st.st_mode):
                out[r] = DIR
                walk(p, r + "/")
            elif S.S_ISREG(st.st_mode):
                out[r] = read_file(p)
            else:
                out[r] = "other mode %o" % st.st_mode
    walk(path, "")
    return out


def show(t, known=()):
    """A short description of a tree(); @known: (label, bytes) pairs that
    name contents."""
    if t is None:
        return "absent"

    def one(v):
        if v == DIR:
            return "dir"
        if isinstance(v, str):
            return v
        for label, data in known:
            if v == data:
                return label
        return "%d bytes" % len(v)
    if set(t) == {""}:
        return one(t[""])
    return "{" + ", ".join("%s: %s" % (k + ("/" if t[k] == DIR else ""),
                                        one(t[k]))
                           for k in sorted(t) if k) + "}"


def describe_data(got, versions):
    """What a file's bytes are, given {label: bytes}."""
    if got is None:
        return "absent"
    for label, data in versions.items():
        if got == data:
            return label
    parts = ["%d bytes" % len(got)]
    for label, data in versions.items():
        n = min(len(got), len(data))
        i = next((i for i in range(n) if got[i] != data[i]), n)
        parts.append("equal to %s for %d bytes (of %d)"
                     % (label, i, len(data)))
    return "; ".join(parts)


# ---- the operations ---------------------------------------------------------

class Op:
    """One operation: lower contents, preparation through the union (before
    the log starts), the operation itself, and the check of one point.
    check() gets the union's root, the phase ('old' before the begin mark,
    'new' after the done mark, 'mid' in between) and the set of marks the
    point is past; it returns (what was seen, [problems]).  An operation
    runs on the union @union names: "main", or "partial" (copyup=partial,
    layers of its own); one with check_overlay() is checked again on
    overlayfs mounted over the same layers, after check()."""

    name = "?"
    union = "main"
    check_overlay = None

    def lower(self, lo):
        pass

    def prepare(self, m):
        pass

    def run(self, m, mark):
        pass

    def check(self, m, phase, passed):
        return "", []


class CopyUp(Op):
    """A 1-byte write into a 300 KiB lower file: a copy-up, then the
    write; with fsync, the new byte must be there after the fsync."""

    def __init__(self, name, fsync):
        self.name = name
        self.fsync = fsync
        self.rel = name + "/file.bin"
        self.old = blob(zlib.crc32(name.encode()), 300 * 1024 + 123)
        b = bytearray(self.old)
        b[150001] ^= 0xff
        self.new = bytes(b)

    def lower(self, lo):
        os.makedirs(os.path.join(lo, self.name))
        write_file(os.path.join(lo, self.rel), self.old)

    def run(self, m, mark):
        fd = os.open(os.path.join(m, self.rel), os.O_WRONLY)
        try:
            os.pwrite(fd, self.new[150001:150002], 150001)
            if self.fsync:
                os.fsync(fd)
                mark("fsynced")
        finally:
            os.close(fd)

    def check(self, m, phase, passed):
        got = read_file(os.path.join(m, self.rel))
        seen = describe_data(got, {"old": self.old, "new": self.new})
        want = {"old": ["old"], "mid": ["old", "new"], "new": ["new"]}[phase]
        if self.fsync and "fsynced" in passed:
            want = ["new"]
        if seen not in want:
            why = "file shows %s, expected %s" % (seen, " or ".join(want))
            if got is None:
                why += " (the lower file vanished)"
            elif seen == "old" and "fsynced" in passed:
                why += " (the fsync'ed write is lost)"
            elif seen not in ("old", "new"):
                why += " (short or mixed file)"
            return seen, [why]
        return seen, []


TREE = {"": DIR, "a": blob(11, 20000), "b": b"bee", "sub": DIR,
        "sub/c": blob(12, 5000), "sub/deeper": DIR,
        "sub/deeper/d": blob(13, 70000)}


def make_tree(root, t):
    for rel in sorted(t):
        p = os.path.join(root, rel)
        if t[rel] == DIR:
            os.makedirs(p, exist_ok=True)
        else:
            write_file(p, t[rel])


class RenameDir(Op):
    """Rename of a merged lower directory (a redirect): its whole tree is
    at the old name or at the new one, never in both or in neither."""

    def __init__(self, name, src, dst):
        self.name = name
        self.src = name + "/" + src
        self.dst = name + "/" + dst

    def lower(self, lo):
        make_tree(os.path.join(lo, self.src), TREE)
        os.makedirs(os.path.dirname(os.path.join(lo, self.dst)),
                    exist_ok=True)

    def run(self, m, mark):
        os.rename(os.path.join(m, self.src), os.path.join(m, self.dst))

    def check(self, m, phase, passed):
        ts = tree(os.path.join(m, self.src))
        td = tree(os.path.join(m, self.dst))
        state = ("old" if ts == TREE and td is None else
                 "new" if ts is None and td == TREE else None)
        seen = "%s: %s, %s: %s" % (self.src, show(ts), self.dst, show(td))
        ok = state == phase or (phase == "mid" and state is not None)
        if ok:
            return state, []
        return seen, ["%s (expected %s)" % (
            seen, {"old": "the tree at the old name only",
                   "new": "the tree at the new name only",
                   "mid": "the whole tree at exactly one of the names"}[phase])]


class UnlinkLower(Op):
    """Unlink of a lower file (a whiteout), or of a copied-up file whose
    name a lower file has too (a whiteout exchanged for the upper file):
    the file is there as it was, or gone; a copied-up file never shows
    its lower contents again."""

    def __init__(self, name, copied_up):
        self.name = name
        self.copied_up = copied_up
        self.rel = name + "/f"
        self.lowdata = blob(zlib.crc32(name.encode()), 12345)
        self.updata = blob(77, 4567)

    def lower(self, lo):
        os.makedirs(os.path.join(lo, self.name))
        write_file(os.path.join(lo, self.rel), self.lowdata)
        write_file(os.path.join(lo, self.name, "other"), b"stays")

    def prepare(self, m):
        if self.copied_up:
            write_file(os.path.join(m, self.rel), self.updata)

    def run(self, m, mark):
        os.unlink(os.path.join(m, self.rel))

    def check(self, m, phase, passed):
        cur = self.updata if self.copied_up else self.lowdata
        got = read_file(os.path.join(m, self.rel))
        listed = "f" in os.listdir(os.path.join(m, self.name))
        versions = {"old": cur}
        if self.copied_up:
            versions["lower contents"] = self.lowdata
        seen = describe_data(got, versions)
        if got is None:
            seen = "gone"
        probs = []
        want = {"old": ["old"], "mid": ["old", "gone"], "new": ["gone"]}[phase]
        if seen not in want:
            why = "f is %s, expected %s" % (seen, " or ".join(want))
            if seen == "lower contents":
                why += " (the deleted lower file is back)"
            probs.append(why)
        if listed != (got is not None):
            probs.append("readdir %s f but lookup says %s"
                         % ("lists" if listed else "does not list", seen))
        if read_file(os.path.join(m, self.name, "other")) != b"stays":
            probs.append("the neighbour 'other' is wrong")
        return seen, probs


class RmdirMerged(Op):
    """rmdir of a merged directory whose lower files the union had deleted
    (only whiteouts in its upper directory); with renamed, the directory
    had first been renamed (it has a redirect and no lower directory at
    its name).  The directory is there and empty, or gone; the deleted
    lower files never come back."""

    FILES = ("f1", "f2", "f3", "f4")

    def __init__(self, name, renamed):
        self.name = name
        self.renamed = renamed
        self.dir = name + ("/e" if renamed else "/d")

    def lower(self, lo):
        make_tree(os.path.join(lo, self.name, "d"),
                  {"": DIR, **{f: blob(i, 3000) for i, f in
                               enumerate(self.FILES)}})

    def prepare(self, m):
        if self.renamed:
            os.rename(os.path.join(m, self.name, "d"),
                      os.path.join(m, self.dir))
        for f in self.FILES:
            os.unlink(os.path.join(m, self.dir, f))

    def run(self, m, mark):
        os.rmdir(os.path.join(m, self.dir))

    def check(self, m, phase, passed):
        t = tree(os.path.join(m, self.dir))
        seen = "%s: %s" % (self.dir, show(t))
        if self.renamed:
            old = tree(os.path.join(m, self.name, "d"))
            if old is not None:
                seen += ", %s/d: %s" % (self.name, show(old))
        state = ("old" if t == {"": DIR} else "new" if t is None else None)
        if self.renamed and old is not None:
            state = None
        if state == phase or (phase == "mid" and state is not None):
            return state, []
        why = "%s, expected %s" % (seen, {
            "old": "the empty directory", "new": "no directory",
            "mid": "the empty directory or none"}[phase])
        if t and any(f in t for f in self.FILES):
            why += " (deleted lower files are back)"
        return seen, [why]


class RmR(Op):
    """rm -r of a merged directory with lower files and a lower
    subdirectory: the union shows the directory as after some prefix of
    the removals, in order; a removed file never comes back."""

    def __init__(self, name):
        self.name = name
        self.dir = name + "/d"
        self.full = {"": DIR, "x1": blob(21, 2000), "x2": blob(22, 9000),
                     "x3": b"three", "s": DIR, "s/y1": blob(23, 100),
                     "s/y2": blob(24, 40000)}
        self.steps = ["x1", "x2", "x3", "s/y1", "s/y2", "s", ""]
        self.states = [dict(self.full)]
        cur = dict(self.full)
        for s in self.steps:
            cur = {k: v for k, v in cur.items() if k != s}
            self.states.append(dict(cur) if s else None)

    def lower(self, lo):
        make_tree(os.path.join(lo, self.dir), self.full)

    def run(self, m, mark):
        for s in self.steps:
            p = os.path.join(m, self.dir, s) if s else os.path.join(m, self.dir)
            if self.full[s] == DIR:
                os.rmdir(p)
            else:
                os.unlink(p)

    def check(self, m, phase, passed):
        t = tree(os.path.join(m, self.dir))
        known = [(k, v) for k, v in self.full.items() if v != DIR]
        seen = show(t, known)
        j = next((i for i, s in enumerate(self.states) if s == t), None)
        last = len(self.states) - 1
        ok = (j == 0 if phase == "old" else j == last if phase == "new"
              else j is not None)
        if ok:
            return "after %d of %d removals" % (j, last), []
        return seen, ["%s shows %s, expected %s" % (
            self.dir, seen, {"old": "the whole tree", "new": "no directory",
                             "mid": "the tree after some first k removals "
                                    "(in order: %s)" % " ".join(
                                        s or "d" for s in self.steps)}[phase])]


class RenameOverMerged(Op):
    """rename of an upper directory over a merged directory whose lower
    files the union had deleted: either the source is still there and the
    target empty, or the target holds the source's files; the target's
    deleted lower files never come back."""

    def __init__(self, name):
        self.name = name
        self.sdata = blob(31, 6000)

    def lower(self, lo):
        make_tree(os.path.join(lo, self.name, "t"),
                  {"": DIR, "t1": blob(32, 1000), "t2": blob(33, 2000)})

    def prepare(self, m):
        for f in ("t1", "t2"):
            os.unlink(os.path.join(m, self.name, "t", f))
        os.mkdir(os.path.join(m, self.name, "s"))
        write_file(os.path.join(m, self.name, "s", "s1"), self.sdata)

    def run(self, m, mark):
        os.rename(os.path.join(m, self.name, "s"),
                  os.path.join(m, self.name, "t"))

    def check(self, m, phase, passed):
        ts = tree(os.path.join(m, self.name, "s"))
        tt = tree(os.path.join(m, self.name, "t"))
        full = {"": DIR, "s1": self.sdata}
        state = ("old" if ts == full and tt == {"": DIR} else
                 "new" if ts is None and tt == full else None)
        seen = "s: %s, t: %s" % (show(ts), show(tt))
        if state == phase or (phase == "mid" and state is not None):
            return state, []
        why = "%s, expected %s" % (seen, {
            "old": "s with s1 and t empty", "new": "t with s1 and no s",
            "mid": "s with s1 and t empty, or t with s1 and no s"}[phase])
        if tt and ("t1" in tt or "t2" in tt):
            why += " (deleted lower files are back)"
        return seen, [why]


class FsyncData(Op):
    """Data whose fsync returned: a new file written and fsync'ed, and an
    append to a lower file (copy-up) fdatasync'ed; after each mark the
    data must be there at every point."""

    def __init__(self, name):
        self.name = name
        self.low = blob(41, 100000)
        self.app = blob(42, 32768)
        self.newdata = blob(43, 65536)

    def lower(self, lo):
        os.makedirs(os.path.join(lo, self.name))
        write_file(os.path.join(lo, self.name, "log.bin"), self.low)

    def run(self, m, mark):
        fd = os.open(os.path.join(m, self.name, "new.bin"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, self.newdata)
        os.fsync(fd)
        os.close(fd)
        mark("new")
        fd = os.open(os.path.join(m, self.name, "log.bin"),
                     os.O_WRONLY | os.O_APPEND)
        os.write(fd, self.app)
        os.fdatasync(fd)
        os.close(fd)
        mark("append")

    def check(self, m, phase, passed):
        probs = []
        new = read_file(os.path.join(m, self.name, "new.bin"))
        log = read_file(os.path.join(m, self.name, "log.bin"))
        sn = describe_data(new, {"written": self.newdata})
        sl = describe_data(log, {"old": self.low,
                                 "appended": self.low + self.app})
        if "new" in passed or phase == "new":
            if new != self.newdata:
                probs.append("new.bin is %s after its fsync returned" % sn)
        elif phase == "old" and new is not None:
            probs.append("new.bin exists (%s) before it was created" % sn)
        if "append" in passed or phase == "new":
            if log != self.low + self.app:
                probs.append("log.bin is %s after its fdatasync returned"
                             % sl)
        elif log is None or log[:len(self.low)] != self.low or \
                len(log) > len(self.low) + len(self.app):
            probs.append("log.bin is %s: the lower contents are not whole "
                         "(short copy-up)" % sl)
        elif phase == "old" and log != self.low:
            probs.append("log.bin is %s before the append" % sl)
        return "new.bin %s, log.bin %s" % (sn, sl), probs


# ---- copyup=partial (cowfs only) --------------------------------------------

GRANULE = 64 << 10              # kernel/partial.c: COWFS_PARTIAL_SHIFT
BLOCK = 4096
XATTR_PARTIAL = "trusted.overlay.cowfs.partial"
XATTR_METACOPY = "trusted.overlay.metacopy"
RECORD = struct.Struct("<BBHIQ")  # version, shift, pad, ngranules, limit


def partial_record(path):
    """The record of upper file @path: None if it has none, else (shift,
    ngranules, limit, set of the granules it claims); ValueError if it
    makes no sense (cowfs would refuse the file)."""
    try:
        x = os.getxattr(path, XATTR_PARTIAL)
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise
    if len(x) < RECORD.size:
        raise ValueError("record of %d bytes" % len(x))
    ver, shift, _, ngran, limit = RECORD.unpack_from(x)
    bits = x[RECORD.size:]
    if ver != 0 or shift < 16 or shift > 40 or \
            ngran != -(-limit // (1 << shift)) or len(bits) != -(-ngran // 8):
        raise ValueError("record version %d shift %d ngranules %d limit %d "
                         "bitmap %d bytes" % (ver, shift, ngran, limit,
                                              len(bits)))
    have = {g for g in range(ngran) if bits[g // 8] & (1 << (g % 8))}
    return shift, ngran, limit, have


def blocks_of(got, old, new, lo, hi):
    """Bytes @lo to @hi of @got, 4 KiB block by block: 'o' equal to the
    old file, 'n' to the new one, 'z' zeros that are neither, 'x' other."""
    out = []
    for b in range(lo, hi, BLOCK):
        e = min(b + BLOCK, hi)
        c = got[b:e]
        if c == old[b:e]:
            out.append("o")
        elif c == new[b:e]:
            out.append("n")
        elif not c.strip(b"\0"):
            out.append("z")
        else:
            out.append("x")
    return "".join(out)


def ranges(nums):
    """'1-3,7' for [1, 2, 3, 7]."""
    out, nums = [], sorted(nums)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append("%d" % nums[i] if i == j else "%d-%d" % (nums[i], nums[j]))
        i = j + 1
    return ",".join(out)


class PartialOp(Op):
    """Writes to a big lower file on a copyup=partial union (cowfs only):
    the first open for writing makes a sparse upper file with a record of
    the 64 KiB granules it holds; each write copies the granules it
    touches, makes them durable, records them, then writes.  At every
    point the union must read each granule as the old or the new file has
    it (never zeros, never old and new bytes mixed in one granule), the
    rest of the file as the lower file, and, after the sync's mark, the
    new file; the upper file must never be refused (EIO).  The upper file
    is checked too: every granule its record claims holds old or new
    bytes, and overlayfs over the same layers either refuses the file
    (EIO) or shows what cowfs shows.

    @prep: (offset, length) writes through the union before the log
    starts (they make the file partial, with those granules recorded);
    @steps: ("write", offset, length), ("append", length) or
    ("truncate", size); @sync: None, "fsync" or "fdatasync" after the
    steps, or "RWF_DSYNC" (pwritev2() flag of each write), then the mark
    "synced"; @completes: the file is whole after the operation (both
    xattrs gone)."""

    union = "partial"

    def __init__(self, name, size, prep=(), steps=(), sync=None,
                 completes=False):
        self.name = name
        self.rel = name + "/big.bin"
        self.steps = steps
        self.sync = sync
        self.completes = completes
        seed = zlib.crc32(name.encode())
        self.low = blob(seed, size)
        b = bytearray(self.low)
        for i, (off, n) in enumerate(prep):
            b[off:off + n] = blob(seed + 1000 + i, n)
        self.prep = [(off, bytes(b[off:off + n])) for off, n in prep]
        self.old = bytes(b)
        self.writes = []
        self.append = any(s[0] == "append" for s in steps)
        for i, s in enumerate(steps):
            if s[0] == "truncate":
                del b[s[1]:]
                self.writes.append(("truncate", s[1], None))
                continue
            off, n = (len(b), s[1]) if s[0] == "append" else (s[1], s[2])
            data = blob(seed + 2000 + i, n)
            b[off:off + n] = data
            self.writes.append(("write", off, data))
        self.new = bytes(b)
        self.upper = None           # the upper layer's path (run_variant)
        self.got = None             # what the union showed at this point
        self.has_upper = True       # and whether there was an upper file

    def lower(self, lo):
        os.makedirs(os.path.join(lo, self.name))
        write_file(os.path.join(lo, self.rel), self.low)

    def prepare(self, m):
        if not self.prep:
            return
        fd = os.open(os.path.join(m, self.rel), os.O_WRONLY)
        try:
            for off, data in self.prep:
                os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    def run(self, m, mark):
        p = os.path.join(m, self.rel)
        fd = os.open(p, os.O_WRONLY | (os.O_APPEND if self.append else 0))
        try:
            for kind, off, data in self.writes:
                if kind == "truncate":
                    os.truncate(p, off)
                elif self.append:
                    os.write(fd, data)
                elif self.sync == "RWF_DSYNC":
                    os.pwritev(fd, [data], off, os.RWF_DSYNC)
                else:
                    os.pwrite(fd, data, off)
            if self.sync == "fsync":
                os.fsync(fd)
            elif self.sync == "fdatasync":
                os.fdatasync(fd)
            if self.sync:
                mark("synced")
        finally:
            os.close(fd)

    def _data(self, got):
        """What @got is, and its problems as the file at any point of the
        operation: each granule old or new, as a whole."""
        old, new = self.old, self.new
        if got == old:
            return "old", []
        if got == new:
            return "new", []
        lens = {len(old), len(new)}
        probs = []
        if self.append:
            ok = len(old) <= len(got) <= len(new)
        else:
            ok = len(got) in lens
        if not ok:
            probs.append("%d bytes, expected %s" % (
                len(got), " or ".join(map(str, sorted(lens)))))
        newg = []
        for g in range(0, -(-len(got) // GRANULE)):
            lo, hi = g * GRANULE, min((g + 1) * GRANULE, len(got))
            c = got[lo:hi]
            if c == old[lo:hi]:
                continue
            if c == new[lo:hi]:
                newg.append(g)
                continue
            bl = blocks_of(got, old, new, lo, hi)
            what = ("zeros" if "z" in bl else
                    "other bytes" if "x" in bl else "old and new bytes mixed")
            probs.append("granule %d (bytes %d-%d) holds %s (4 KiB blocks: "
                         "%s; o old, n new, z zeros, x other)"
                         % (g, lo, hi - 1, what, bl))
        return ("new in granules %s, old elsewhere" % ranges(newg)
                if not probs else "%d bytes, %d bad granules"
                % (len(got), len(probs))), probs

    def check(self, m, phase, passed):
        probs = []
        self.got = None
        self.has_upper = True
        try:
            got = self.got = read_file(os.path.join(m, self.rel))
        except OSError as e:
            got = None
            probs.append("the union refuses the file: %s" % e)
            seen = "refused (%s)" % errno.errorcode.get(e.errno, e.errno)
        if got is None and not probs:
            probs.append("the file is gone")
            seen = "absent"
        if got is not None:
            seen, ps = self._data(got)
            want = ("old" if phase == "old" else "new"
                    if phase == "new" or "synced" in passed else None)
            if want and seen != want:
                probs.append("the file is %s, expected %s%s" % (
                    seen, want, " (the %s'ed write is lost)" % self.sync
                    if "synced" in passed and phase == "mid" else ""))
            probs += ps
        rs, ps = self._check_upper(phase, got)
        return "%s [%s]" % (seen, rs), probs + ps

    def _check_upper(self, phase, got):
        """The upper file on the replayed filesystem: its record, and the
        bytes of the granules the record claims."""
        up = os.path.join(self.upper, self.rel)
        try:
            fd = os.open(up, os.O_RDONLY)
        except FileNotFoundError:
            self.has_upper = False
            return "no upper", ([] if phase != "new" and not self.prep
                                else ["there is no upper file"])
        except OSError as e:
            return "upper unreadable", ["the upper file: %s" % e]
        try:
            return self._check_record(fd, up, phase, got)
        finally:
            os.close(fd)

    def _check_record(self, fd, up, phase, got):
        probs = []
        try:
            rec = partial_record(up)
        except ValueError as e:
            return "bad record", ["the upper file's record: %s" % e]
        try:
            mc = os.getxattr(up, XATTR_METACOPY)
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise
            mc = None
        if rec is None:
            if mc is not None:
                probs.append("a metacopy xattr (%d bytes) without a record"
                             % len(mc))
            if phase == "new" and not self.completes:
                probs.append("the upper file is not partial after the "
                             "operation (does the test exercise "
                             "copyup=partial?)")
            return "whole%s" % (" +metacopy" if mc is not None else ""), probs
        shift, ngran, limit, have = rec
        if phase == "new" and self.completes:
            probs.append("the file is still partial (%d of %d granules) "
                         "after the operation that completes it"
                         % (len(have), ngran))
        size = 1 << shift
        bad = 0
        for g in sorted(have):
            lo, hi = g * size, min((g + 1) * size, limit)
            c = os.pread(fd, hi - lo, lo)
            old, new = self.old[lo:hi], self.new[lo:hi]
            if c != old and c != new:
                bad += 1
                if bad <= 3:
                    probs.append(
                        "the record claims granule %d, but the upper file "
                        "holds %s there (4 KiB blocks: %s)" % (
                            g, "only %d bytes" % len(c) if len(c) < hi - lo
                            else "neither old nor new bytes",
                            blocks_of(c, old, new, 0, len(c))))
        if got is not None:
            # the granules the record does not claim are read from below
            n = min(limit, len(got))
            exp = bytearray(got[:n])
            for g in have:
                lo, hi = g * size, min((g + 1) * size, n)
                if lo < hi:
                    exp[lo:hi] = self.low[lo:hi]
            if exp != self.low[:n]:
                g = next(g for g in range(ngran) if g not in have and
                         got[g * size:min((g + 1) * size, n)] !=
                         self.low[g * size:min((g + 1) * size, n)])
                probs.append("granule %d is not recorded but the union "
                             "does not read the lower file's bytes there"
                             % g)
        return "partial %d/%d%s" % (len(have), ngran,
                                    "" if mc is not None else
                                    " no metacopy"), probs

    def check_overlay(self, m):
        """overlayfs over the same layers: EIO, or what cowfs showed."""
        if not self.has_upper:
            return "ovl n/a", []
        try:
            og = read_file(os.path.join(m, self.rel))
        except OSError as e:
            if e.errno == errno.EIO:
                return "ovl EIO", []
            return "ovl error", ["overlayfs: %s (expected EIO or the "
                                 "bytes cowfs shows)" % e]
        if self.got is None:
            return "ovl not compared", []
        if og == self.got:
            return "ovl same", []
        vs = {"cowfs's": self.got, "old": self.old, "new": self.new}
        why = describe_data(og, vs)
        if og is not None and len(og) == len(self.got):
            bl = blocks_of(og, self.got, self.got, 0, len(og))
            z = [i for i, c in enumerate(bl) if c == "z"]
            if z:
                why += "; zeros in 4 KiB blocks %s" % ranges(z)
        return "ovl differs", ["overlayfs shows the file (%s), not "
                               "refusing it nor showing cowfs's bytes" % why]


def all_ops():
    return [
        CopyUp("copyup_fsync", True),
        CopyUp("copyup_nofsync", False),
        RenameDir("rename_samedir", "d", "e"),
        RenameDir("rename_movedir", "from/d", "to/d"),
        UnlinkLower("unlink_lower", False),
        UnlinkLower("unlink_copied_up", True),
        RmdirMerged("rmdir_merged", False),
        RmdirMerged("rmdir_renamed", True),
        RmR("rm_r_merged"),
        RenameOverMerged("rename_over_merged"),
        FsyncData("fsync_data"),
        # copyup=partial (cowfs only): a first write, synced and not
        PartialOp("partial_first_fsync", (3 << 20) + 4321,
                  steps=[("write", (1 << 20) - 40960, 98304)], sync="fsync"),
        PartialOp("partial_first_nofsync", (2 << 20) + 777,
                  steps=[("write", 300000, 3000)]),
        # a write over a recorded granule and a missing one
        PartialOp("partial_span_fdatasync", 4 << 20,
                  prep=[(70000, 1000), ((2 << 20) + 5, 1000)],
                  steps=[("write", 2 * GRANULE - 10000, 20000)],
                  sync="fdatasync"),
        # the same with RWF_DSYNC (the upper filesystem syncs the write)
        PartialOp("partial_dsync", (2 << 20) + 4096,
                  prep=[(10 * GRANULE, 100)],
                  steps=[("write", 20 * GRANULE + 5000, 6000)],
                  sync="RWF_DSYNC"),
        # the last two missing granules (the last one short): completion
        PartialOp("partial_complete", (1 << 20) + 100,
                  prep=[(g * GRANULE + 17, 1) for g in range(15)],
                  steps=[("write", 15 * GRANULE + 1000,
                          (1 << 20) + 90 - 15 * GRANULE - 1000)],
                  sync="fsync", completes=True),
        # the same with fdatasync: the record's removal must be durable
        PartialOp("partial_complete_fdatasync", (1 << 20) + 100,
                  prep=[(g * GRANULE + 17, 1) for g in range(15)],
                  steps=[("write", 15 * GRANULE + 1000,
                          (1 << 20) + 90 - 15 * GRANULE - 1000)],
                  sync="fdatasync", completes=True),
        # truncate: completion, then the size
        PartialOp("partial_truncate", (2 << 20) + 5000,
                  prep=[(3 * GRANULE + 100, 5000), (20 * GRANULE, 4096)],
                  steps=[("truncate", (3 << 19) + 333)], completes=True),
        # an append from inside the lower file's last granule
        PartialOp("partial_append", (1 << 20) + 3000,
                  steps=[("append", 50000)], sync="fdatasync"),
    ]


# ---- one variant: record, then replay every point ---------------------------

class Env:
    """Loop devices, dm devices and mounts of one variant; cleanup()
    undoes whatever exists, in reverse order."""

    def __init__(self, base):
        self.base = base
        self.mounts = []
        self.loops = []
        self.dms = []

    def mount(self, src, tgt, fstype, flags=0, data=""):
        mount(src, tgt, fstype, flags, data)
        self.mounts.append(tgt)

    def umount(self, tgt):
        umount(tgt)
        self.mounts.remove(tgt)

    def loop(self, path):
        dev = run("losetup", "-f", "--show", path)
        self.loops.append(dev)
        return dev

    def dm_create(self, name, table):
        run("dmsetup", "create", name, "--table", table)
        self.dms.append(name)
        run("dmsetup", "mknodes", name)
        return "/dev/mapper/" + name

    def dm_remove(self, name):
        for i in range(50):
            try:
                run("dmsetup", "remove", name)
                break
            except RuntimeError:
                if i == 49:
                    raise
                time.sleep(0.1)
        self.dms.remove(name)

    def cleanup(self):
        for m in reversed(list(self.mounts)):
            try:
                umount(m)
            except OSError as e:
                # EINVAL: not mounted (stopped between umount and the
                # bookkeeping)
                if e.errno != errno.EINVAL:
                    try:
                        umount(m, MNT_DETACH)
                    except OSError as e2:
                        say("cleanup: %s" % e2)
            self.mounts.remove(m)
        for d in list(self.dms):
            try:
                self.dm_remove(d)
            except RuntimeError as e:
                say("cleanup: %s" % e)
        for lo in reversed(self.loops):
            subprocess.run(["losetup", "-d", lo], stderr=subprocess.DEVNULL)
        self.loops = []


class Union:
    """One union of the operations: its mount point, its layers (the
    upper and work directories are on the filesystem under test) and its
    mount options."""

    def __init__(self, mnt, lower, upper, work, opts):
        self.mnt, self.lower, self.upper, self.work = mnt, lower, upper, work
        self.opts = opts


def union_opts(lower, upper, work):
    o = "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work)
    if FSTYPE == "overlay":
        o += ",redirect_dir=on"
    return o


def mkfs(fs, img):
    if fs == "ext4":
        run("mkfs.ext4", "-q", "-F", "-b", "4096",
            "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", img)
    elif fs == "xfs":
        env = dict(os.environ, TEST_DIR="1", TEST_DEV="1", QA_CHECK_FS="1")
        run("mkfs.xfs", "-q", "-f", "-K", img, env=env)
    else:
        raise Skip("unknown upper filesystem %s" % fs)


def sparse_copy(src, dst):
    """Make @dst (already sized, maybe under a loop device) equal to @src,
    copying only @src's data extents."""
    size = os.stat(src).st_size
    with open(src, "rb") as fi, open(dst, "r+b") as fo:
        os.ftruncate(fo.fileno(), 0)
        os.ftruncate(fo.fileno(), size)
        ifd, ofd = fi.fileno(), fo.fileno()
        pos = 0
        while pos < size:
            try:
                d = os.lseek(ifd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            h = os.lseek(ifd, d, os.SEEK_HOLE)
            off = d
            while off < h:
                n = min(h - off, 4 << 20)
                os.pwrite(ofd, os.pread(ifd, n, off), off)
                off += n
            pos = h


def flush_bdev(dev):
    fd = os.open(dev, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, BLKFLSBUF, 0)
    finally:
        os.close(fd)


def even(items, k):
    """k items of @items, evenly spread, the first and the last included."""
    if k >= len(items):
        return list(items)
    if k <= 1:
        return [items[0]]
    return sorted({items[round(i * (len(items) - 1) / (k - 1))]
                   for i in range(k)})


def choose_points(points, last, windows, budget):
    """The crash points to check: all of them if they fit in @budget, else
    the first and the last, the first and last point of every operation's
    window, and the rest sampled evenly (windows first)."""
    allp = sorted(set(points) | {last})
    if len(allp) <= budget:
        return allp, False
    chosen = {allp[0], allp[-1]}
    inw = [[p for p in allp if b < p < d] for b, d in windows]
    for w in inw:
        chosen.update(w[:1] + w[-1:])
    inwin = sorted({p for w in inw for p in w})
    outwin = [p for p in allp if p not in set(inwin)]
    left = budget - len(chosen)
    if left > 0:
        k_in = min(len(inwin), max(left * 3 // 4, left - len(outwin)))
        chosen.update(even(inwin, k_in))
        left = budget - len(chosen)
        if left > 0:
            chosen.update(even(outwin, left))
    return sorted(chosen), True


def run_variant(variant, ops, max_points):
    fs, _, opt = variant.partition(":")
    flags = MS_DIRSYNC if opt == "dirsync" else 0
    if opt not in ("", "dirsync"):
        raise Skip("unknown variant option %r" % opt)
    if not shutil.which("mkfs." + fs):
        raise Skip("mkfs.%s not installed" % fs)
    subprocess.run(["modprobe", fs], stderr=subprocess.DEVNULL)

    t0 = time.time()
    base = tempfile.mkdtemp(prefix="powercut.%s." % fs,
                            dir=os.environ.get("POWERCUT_TMP", "/tmp"))
    env = Env(base)
    try:
        return _run_variant(env, base, fs, flags, variant, ops, max_points,
                            t0)
    finally:
        env.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def _run_variant(env, base, fs, flags, variant, ops, max_points, t0):
    fsmnt = os.path.join(base, "fs")
    os.mkdir(fsmnt)
    # The unions the operations use: the main one, and a copyup=partial
    # one on layers of its own (upper and work on the same filesystem)
    unions = {}
    for key, sfx, extra in (("main", "", ""),
                            ("partial", ".partial", ",copyup=partial")):
        if not any(op.union == key for op in ops):
            continue
        lower, umnt = (os.path.join(base, "lower" + sfx),
                       os.path.join(base, "union" + sfx))
        upper, work = (os.path.join(fsmnt, "upper" + sfx),
                       os.path.join(fsmnt, "work" + sfx))
        os.mkdir(lower)
        os.mkdir(umnt)
        unions[key] = Union(umnt, lower, upper, work,
                            union_opts(lower, upper, work) + extra)
    for op in ops:
        u = unions[op.union]
        op.upper = u.upper
        op.lower(u.lower)

    data_img = os.path.join(base, "data.img")
    log_img = os.path.join(base, "log.img")
    start_img = os.path.join(base, "start.img")
    scratch_img = os.path.join(base, "replay.img")
    point_img = os.path.join(base, "point.img")
    size = (128 if fs == "xfs" else 64) << 20
    for p, s in ((data_img, size), (log_img, 512 << 20),
                 (start_img, size), (scratch_img, size), (point_img, size)):
        with open(p, "wb") as f:
            f.truncate(s)

    # 1. the start state: the filesystem with what the operations need
    mkfs(fs, data_img)
    ddev = env.loop(data_img)
    env.mount(ddev, fsmnt, fs, flags)
    for u in unions.values():
        os.mkdir(u.upper)
        os.mkdir(u.work)
        env.mount("none", u.mnt, FSTYPE, 0, u.opts)
    for op in ops:
        op.prepare(unions[op.union].mnt)
    for u in unions.values():
        env.umount(u.mnt)
    env.umount(fsmnt)
    sparse_copy(data_img, start_img)

    # 2. the operations, recorded by dm-log-writes
    ldev = env.loop(log_img)
    dm = "%s-%s" % (TAG, fs)
    lw = env.dm_create(dm, "0 %d log-writes %s %s" % (size // 512, ddev, ldev))
    env.mount(lw, fsmnt, fs, flags)
    for u in unions.values():
        env.mount("none", u.mnt, FSTYPE, 0, u.opts)

    def marker(opname):
        def mark(what):
            run("dmsetup", "message", dm, "0", "mark",
                "pc:%s:%s" % (opname, what))
        return mark

    for op in ops:
        mark = marker(op.name)
        mark("begin")
        op.run(unions[op.union].mnt, mark)
        os.sync()
        mark("done")
    for u in unions.values():
        env.umount(u.mnt)
    env.umount(fsmnt)
    env.dm_remove(dm)
    trecord = time.time() - t0

    # 3. replay and check every crash point
    log = logreplay.Log(log_img)
    try:
        return _replay(env, log, fs, variant, ops, max_points, start_img,
                       scratch_img, point_img, fsmnt, unions, t0, trecord)
    finally:
        log.close()


def distinct_points(log):
    """The crash points, without those whose image equals the previous
    point's (only flushes or marks in between): (kept, all)."""
    allp = log.replay_points()
    last = len(log.entries) - 1
    if last not in allp:
        allp.append(last)       # the final state, after the last write
    kept, prev = [], -1
    for k in allp:
        if not kept or any(e.nr_sectors and not e.flags & logreplay.MARK
                           for e in log.entries[prev + 1:k + 1]):
            kept.append(k)
        prev = k
    return kept, allp


def _replay(env, log, fs, variant, ops, max_points, start_img, scratch_img,
            point_img, fsmnt, unions, t0, trecord):
    ents = log.entries
    marks = {e.mark: e.index for e in ents if e.flags & logreplay.MARK}
    windows = []
    for op in ops:
        b, d = marks.get("pc:%s:begin" % op.name), marks.get("pc:%s:done" % op.name)
        if b is None or d is None:
            raise RuntimeError("marks of %s missing from the log (the log "
                               "device full?)" % op.name)
        windows.append((b, d))
    points, allp = distinct_points(log)
    chosen, sampled = choose_points(points, points[-1], windows, max_points)
    nflush = sum(1 for e in ents if e.flags & logreplay.FLUSH)
    nfua = sum(1 for e in ents if e.flags & logreplay.FUA)
    say("%s: log of %d entries (%d FLUSH, %d FUA, %d marks): %d crash "
        "points (after each FLUSH or FUA entry), %d of them distinct "
        "images; recording took %.1f s" % (
            variant, len(ents), nflush, nfua, len(marks), len(allp),
            len(points), trecord))
    for op, (b, d) in zip(ops, windows):
        say("  %-20s entries %d..%d: %d distinct crash points inside"
            % (op.name, b, d, sum(1 for p in points if b < p < d)))
    if sampled:
        say("%s: sampling %d of the %d points (POWERCUT_MAX_POINTS=%d): "
            "first, last, first and last of each operation, the rest "
            "evenly; then the points on both sides of every change of an "
            "operation's state" % (variant, len(chosen),
                                            len(points), max_points))

    pdev = env.loop(point_img)
    res = {}                    # point -> {opname: (seen, [problems])}
    state = {"rep": None}

    def replay_to(k):
        rep = state["rep"]
        if rep is None or k < rep.next - 1:
            if rep:
                rep.close()
            sparse_copy(start_img, scratch_img)
            rep = state["rep"] = logreplay.Replayer(log, scratch_img)
        rep.replay_to(k)
        os.fsync(rep.fd)

    bad = []

    def check(k):
        replay_to(k)
        sparse_copy(scratch_img, point_img)
        flush_bdev(pdev)
        e = ents[k]
        where = "point %d/%d (log entry %d %s)" % (
            points.index(k) + 1, len(points), k,
            e.describe(log.sectorsize).split(" ", 1)[1]
            if not e.flags & logreplay.MARK else "mark")
        r = res[k] = check_point(env, pdev, fs, fsmnt, unions, ops,
                                 windows, marks, k)
        if VERBOSE:
            say("%s: %s" % (where, "; ".join(
                "%s=%s" % (n, v[0]) for n, v in r.items())))
        if any(v[1] for v in r.values()):
            bad.append(k)
        for opname, (seen, probs) in r.items():
            for p in probs[:4]:
                say("VIOLATION %s %s: %s: %s" % (variant, where, opname, p))
            if len(probs) > 4:
                say("VIOLATION %s %s: %s: and %d more" % (
                    variant, where, opname, len(probs) - 4))

    try:
        for k in chosen:
            check(k)
        if sampled:
            # Where an operation's state differs between two neighbouring
            # checked points (or one of them is bad), check the point
            # halfway, until the two points on either side of every
            # change are both checked.
            extra = 0
            for _ in range(64):
                done = sorted(res)
                more = set()
                for p, q in zip(done, done[1:]):
                    differ = any(
                        res[p].get(n) and res[q].get(n) and
                        (res[p][n][0] != res[q][n][0] or res[p][n][1] or
                         res[q][n][1]) for n in res[p])
                    between = [x for x in points if p < x < q]
                    if differ and between:
                        more.add(between[len(between) // 2])
                if not more or extra >= max_points:
                    break
                for k in sorted(more)[:max_points - extra]:
                    check(k)
                    extra += 1
            say("%s: %d more points around the changes of state"
                % (variant, extra))
    finally:
        if state["rep"]:
            state["rep"].close()
    el = time.time() - t0
    say("%s: %d points replayed and checked, %d violated (%.1f s)"
        % (variant, len(res), len(bad), el))
    for op in ops:
        seen = {}
        for k in sorted(res):
            v = res[k].get(op.name)
            if v:
                seen[v[0]] = seen.get(v[0], 0) + 1
        say("  %-20s seen: %s" % (op.name, ", ".join(
            "%s x%d" % (k if len(k) < 70 else k[:67] + "...", v)
            for k, v in seen.items())))
        ks = [k for k in sorted(res) if res[k].get(op.name, ("", []))[1]]
        if ks:
            say("%s: %s violated at %d point(s): log entries %s"
                % (variant, op.name, len(ks), ", ".join(map(str, ks[:30]))))
    other = [k for k in bad if "-" in res[k]]
    if other:
        say("%s: the upper filesystem or the union did not mount at log "
            "entries %s" % (variant, ", ".join(map(str, other))))
    return len(bad)


def check_point(env, pdev, fs, fsmnt, unions, ops, windows, marks, k):
    """Mount the replayed image and the unions; {opname: (seen, problems)}
    for every operation ('-' when nothing could be mounted).  Then, for
    the operations that have check_overlay(), overlayfs over their
    union's layers."""
    res = {}
    phases = {}
    for op, (b, d) in zip(ops, windows):
        phases[op.name] = "old" if k < b else "new" if k > d else "mid"
    try:
        env.mount(pdev, fsmnt, fs)
    except OSError as e:
        return {"-": ("no fs", ["the upper filesystem does not mount: %s"
                                % e.strerror])}
    try:
        mounted = []
        try:
            for key, u in unions.items():
                try:
                    env.mount("none", u.mnt, FSTYPE, 0, u.opts)
                except OSError as e:
                    return {"-": ("no union", ["the %s union does not "
                                               "mount: %s"
                                               % (key, e.strerror)])}
                mounted.append(u.mnt)
            for op in ops:
                phase = phases[op.name]
                pre = "pc:%s:" % op.name
                passed = {name[len(pre):] for name, i in marks.items()
                          if name.startswith(pre) and i < k}
                try:
                    seen, ps = op.check(unions[op.union].mnt, phase, passed)
                except OSError as e:
                    seen, ps = "error", ["%s while looking" % e]
                res[op.name] = (seen, ["[%s] %s" % (phase, p) for p in ps])
        finally:
            for m in mounted:
                env.umount(m)
        check_overlays(env, unions, ops, phases, res)
    finally:
        env.umount(fsmnt)
    return res


def check_overlays(env, unions, ops, phases, res):
    """overlayfs (the kernel's) over the layers of each union with an
    operation that has check_overlay(): it must refuse what it cannot
    show, or show what cowfs showed."""
    for key, u in unions.items():
        theirs = [op for op in ops if op.union == key and op.check_overlay]
        if not theirs:
            continue
        try:
            env.mount("overlay", u.mnt, "overlay", 0,
                      "lowerdir=%s,upperdir=%s,workdir=%s"
                      % (u.lower, u.upper, u.work))
        except OSError as e:
            for op in theirs:
                seen, ps = res[op.name]
                res[op.name] = (seen + " ovl no mount", ps + [
                    "[%s] overlayfs does not mount over the %s union's "
                    "layers: %s" % (phases[op.name], key, e.strerror)])
            continue
        try:
            for op in theirs:
                seen, ps = res[op.name]
                try:
                    oseen, ops_ = op.check_overlay(u.mnt)
                except OSError as e:
                    oseen, ops_ = "ovl error", ["overlayfs: %s while "
                                                "looking" % e]
                res[op.name] = (seen + " " + oseen, ps + [
                    "[%s] %s" % (phases[op.name], p) for p in ops_])
        finally:
            env.umount(u.mnt)


def main():
    if os.getuid() != 0:
        say("SKIP: must run as root")
        return KSFT_SKIP
    for tool in ("dmsetup", "losetup"):
        if not shutil.which(tool):
            say("SKIP: %s not installed" % tool)
            return KSFT_SKIP
    subprocess.run(["modprobe", "loop"], stderr=subprocess.DEVNULL)
    if subprocess.run(["modprobe", "dm-log-writes"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0 and \
            not os.path.exists("/sys/module/dm_log_writes"):
        say("SKIP: dm-log-writes is not available (modprobe dm-log-writes "
            "failed)")
        return KSFT_SKIP
    # overlayfs: the reference, or the check of cowfs's partial files
    subprocess.run(["modprobe", "overlay"], stderr=subprocess.DEVNULL)
    with open("/proc/filesystems") as f:
        fstypes = f.read().split()
    if FSTYPE not in fstypes:
        say("SKIP: filesystem type %s is not available" % FSTYPE)
        return KSFT_SKIP

    variants = os.environ.get("POWERCUT_VARIANTS",
                              "ext4:dirsync xfs:dirsync").split()
    max_points = int(os.environ.get("POWERCUT_MAX_POINTS", "300"))
    ops = all_ops()
    only = os.environ.get("POWERCUT_ONLY", "").split()
    if only:
        ops = [op for op in ops if op.name in only]
        if not ops:
            say("FAIL: POWERCUT_ONLY names no operation; they are: %s"
                % " ".join(op.name for op in all_ops()))
            return KSFT_FAIL
    # copyup=partial is cowfs's own; its files are checked on overlayfs
    # too when the kernel has it
    partial = [op.name for op in ops if op.union == "partial"]
    if partial and FSTYPE != "cowfs":
        say("%s: skipped (copyup=partial is cowfs's)" % " ".join(partial))
        ops = [op for op in ops if op.union != "partial"]
        if not ops:
            say("SKIP: no operation left")
            return KSFT_SKIP
    elif partial and "overlay" not in fstypes:
        say("overlayfs is not available: the partial files are not "
            "checked on it")
        for op in ops:
            if op.union == "partial":
                op.check_overlay = None
    say("union %s; upper filesystems: %s; operations: %s"
        % (FSTYPE, " ".join(variants), " ".join(op.name for op in ops)))
    t0 = time.time()
    status = KSFT_PASS
    ran = 0
    for v in variants:
        try:
            bad = run_variant(v, ops, max_points)
            ran += 1
            if bad:
                status = KSFT_FAIL
        except Skip as e:
            say("%s: skipped: %s" % (v, e))
        except (OSError, RuntimeError, logreplay.LogError) as e:
            say("FAIL %s: %s" % (v, e))
            status = KSFT_FAIL
            ran += 1
    if ran == 0:
        say("SKIP: no variant could run")
        return KSFT_SKIP
    say("%s (%.1f s)" % ("PASS" if status == KSFT_PASS else "FAIL",
                         time.time() - t0))
    return status


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(KSFT_FAIL))
    sys.exit(main())
