#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Differential test: cowfs copyup=partial against copyup=full.

For each seed, build one lower layer from the seed (a few patterned files
of 1 to 4 MiB, one of them sparse, and a small one), mount cowfs twice
over it, once with copyup=full and once with copyup=partial (each with an
upper and a workdir of its own), and run the same random sequence of
operations on both: pwrite of random size and offset, reads of random
ranges, truncate, O_APPEND writes, writes through a MAP_SHARED mapping,
punched holes, opens for writing that write nothing, renames, hard links,
fsync, POSIX_FADV_WILLNEED and SEEK_DATA (which complete a partial file),
reads through descriptors opened earlier, and now and then a remount (the
partial side sometimes with copyup=full: its partial files must still
read right and keep being filled).

Every return value and errno must be the same on both sides, and both
must match an in-memory model of each file.  After every operation the
names and sizes of all files on both sides, and the whole contents of
the files it touched on the copyup=partial side, are compared with the
model; after each remount and at the end of a seed, all files of both
sides (--check-full: both sides after every operation, slower).  At the
end of a seed, on disk: the full side has no partial file; each partial
file of the partial side has a sane trusted.overlay.cowfs.partial record
and the 1-byte trusted.overlay.metacopy, holds the model's bytes in the
granules it records and from the limit on, and holes elsewhere.

Exit status: 0 all seeds agree, 1 a divergence (printed with the seed and
the operation: reproduce with --seed N -v), 4 cannot run (not root, no
cowfs).
"""

import argparse
import ctypes
import errno
import mmap
import os
import random
import shutil
import stat
import struct
import sys
import tempfile

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                           ctypes.c_long]
libc.memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]

FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
KB = 1024
MB = 1024 * 1024
GRAN = 64 * KB
PARTIAL_XATTR = "trusted.overlay.cowfs.partial"
METACOPY_XATTR = "trusted.overlay.metacopy"
NAMES = ["a", "b", "c", "d", "s", "n1", "n2"]
MAX_HELD = 3


class Divergence(Exception):
    pass


def errname(e):
    return errno.errorcode.get(e, str(e))


def check(ret):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def fs_registered(name):
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == name for line in f if line.strip())


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")
    except OSError:
        pass


# ---- the lower layer -----------------------------------------------------


def build_lower(rng, root, hardlinks):
    """Files of the seed in @root; returns {name: bytes}."""
    files = {}
    files["a"] = rng.randbytes(rng.choice([1, 2]) * MB +
                               rng.randrange(0, 3 * GRAN))
    files["b"] = rng.randbytes(MB + rng.choice([0, 1, 4095, 70000]))
    # sparse: patterned extents in holes
    c = bytearray(2 * MB + rng.randrange(0, 5 * GRAN))
    extents = []
    for _ in range(rng.randint(1, 4)):
        off = rng.randrange(0, len(c))
        n = min(rng.randrange(1, 400 * KB), len(c) - off)
        c[off:off + n] = rng.randbytes(n)
        extents.append((off, n))
    files["c"] = bytes(c)
    files["s"] = rng.randbytes(rng.randrange(1, MB))
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            if name == "c":
                f.truncate(len(data))
                for off, n in extents:
                    f.seek(off)
                    f.write(data[off:off + n])
            else:
                f.write(data)
    if hardlinks:
        # A lower file with two names (index=off: copied up per name)
        os.link(os.path.join(root, "a"), os.path.join(root, "d"))
        files["d"] = files["a"]
    return files


# ---- the model ------------------------------------------------------------


class Model:
    """Files by name; a name refers to an object, which held descriptors
    keep after a rename or an unlink."""

    def __init__(self, files, hardlinks):
        self.objs = {}
        self.names = {}
        for i, (name, data) in enumerate(sorted(files.items())):
            if hardlinks and name == "d":
                continue    # copied up per name: an object of its own
            self.objs[i] = bytearray(data)
            self.names[name] = i
        if hardlinks:
            self.objs[99] = bytearray(files["d"])
            self.names["d"] = 99
        self.next = 100

    def data(self, name):
        return self.objs[self.names[name]]

    def write(self, obj, off, data):
        b = self.objs[obj]
        if off > len(b):
            b.extend(bytes(off - len(b)))
        b[off:off + len(data)] = data

    def truncate(self, obj, size):
        b = self.objs[obj]
        if size < len(b):
            del b[size:]
        else:
            b.extend(bytes(size - len(b)))


# ---- one side --------------------------------------------------------------


class Side:
    def __init__(self, name, copyup, base, lower):
        self.name = name
        self.copyup = copyup
        self.mnt = os.path.join(base, "m_" + name)
        self.upper = os.path.join(base, "u_" + name)
        self.work = os.path.join(base, "w_" + name)
        self.lower = lower
        for d in (self.mnt, self.upper, self.work):
            os.mkdir(d)
        self.mounted = False
        self.held = {}      # slot: (fd, object id)

    def opts(self, copyup):
        return "lowerdir=%s,upperdir=%s,workdir=%s,copyup=%s" % (
            self.lower, self.upper, self.work, copyup)

    def mount(self, copyup=None):
        check(libc.mount(b"none", self.mnt.encode(), b"cowfs", 0,
                         self.opts(copyup or self.copyup).encode()))
        self.mounted = True

    def close_held(self):
        for fd, _ in self.held.values():
            os.close(fd)
        self.held = {}

    def umount(self):
        self.close_held()
        if self.mounted:
            check(libc.umount2(self.mnt.encode(), 0))
            self.mounted = False

    def remount(self, copyup=None):
        self.umount()
        drop_caches()
        self.mount(copyup)

    def path(self, name):
        return os.path.join(self.mnt, name)


def gen_data(rng, n):
    return rng.randbytes(n)


def gen_op(rng, model):
    """An operation: a tuple, the same for both sides."""
    names = sorted(model.names)
    name = rng.choice(names) if names else "a"
    size = len(model.data(name)) if name in model.names else 0
    r = rng.random()
    if r < 0.34:
        off = rng.randrange(0, max(size, 1) + 256 * KB)
        if rng.random() < 0.3:
            off = off // GRAN * GRAN - rng.randrange(0, 64)
            off = max(off, 0)
        n = rng.choice([1, 7, 100, 4096, 5000, GRAN, GRAN + 3,
                        rng.randrange(1, 300 * KB)])
        return ("pwrite", name, off, gen_data(rng, n))
    if r < 0.52:
        off = rng.randrange(0, max(size, 1) + GRAN)
        return ("read", name, off, rng.randrange(1, 512 * KB))
    # truncate, punch and fadvise complete a partial file, mmap and
    # seek_data fill granules or read both files: rarer, so that files
    # stay partial for a while
    if r < 0.535:
        return ("truncate", name, rng.choice(
            [0, rng.randrange(0, max(size, 1)), size + rng.randrange(1, MB),
             rng.randrange(MB, 2 * MB)]))
    if r < 0.55:
        off = rng.randrange(0, max(size, 1))
        return ("mmap_write", name, off,
                gen_data(rng, rng.randrange(1, 3 * GRAN)))
    if r < 0.565:
        return ("punch", name, rng.randrange(0, max(size, 1) + GRAN),
                rng.randrange(1, 300 * KB))
    if r < 0.57:
        return ("fadvise", name)
    if r < 0.575:
        return ("seek_data", name, rng.randrange(0, max(size, 1)))
    if r < 0.59:
        return ("mmap_read", name, rng.randrange(0, max(size, 1)),
                rng.randrange(1, 3 * GRAN), rng.random() < 0.5)
    if r < 0.65:
        return ("append", name, gen_data(rng, rng.randrange(1, 100 * KB)))
    if r < 0.71:
        return ("open_rw", name)
    if r < 0.75:
        return ("rename", name, rng.choice(NAMES))
    if r < 0.77:
        return ("link", name, rng.choice(NAMES))
    if r < 0.81:
        return ("fsync", name)
    if r < 0.86:
        return ("hold", name, rng.randrange(MAX_HELD))
    if r < 0.95:
        return ("read_held", rng.randrange(MAX_HELD),
                rng.randrange(0, max(size, 1) + GRAN),
                rng.randrange(1, 512 * KB))
    return ("remount", rng.choice(["same", "same", "same", "full"]))


def run_op(side, op):
    """Run @op on @side; a comparable result."""
    kind = op[0]
    try:
        if kind == "pwrite":
            fd = os.open(side.path(op[1]), os.O_WRONLY)
            try:
                return ("ok", os.pwrite(fd, op[3], op[2]))
            finally:
                os.close(fd)
        if kind == "read":
            fd = os.open(side.path(op[1]), os.O_RDONLY)
            try:
                return ("ok", os.pread(fd, op[3], op[2]))
            finally:
                os.close(fd)
        if kind == "truncate":
            os.truncate(side.path(op[1]), op[2])
            return "ok"
        if kind == "append":
            fd = os.open(side.path(op[1]), os.O_WRONLY | os.O_APPEND)
            try:
                return ("ok", os.write(fd, op[2]))
            finally:
                os.close(fd)
        if kind == "mmap_write":
            fd = os.open(side.path(op[1]), os.O_RDWR)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    return ("ok", "empty")
                off = min(op[2], size - 1)
                data = op[3][:size - off]
                with mmap.mmap(fd, size, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE) as m:
                    m[off:off + len(data)] = data
                    m.flush()
                return ("ok", off, len(data))
            finally:
                os.close(fd)
        if kind == "punch":
            fd = os.open(side.path(op[1]), os.O_RDWR)
            try:
                check(libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE |
                                     FALLOC_FL_KEEP_SIZE, op[2], op[3]))
                return "ok"
            finally:
                os.close(fd)
        if kind == "open_rw":
            os.close(os.open(side.path(op[1]), os.O_RDWR))
            return "ok"
        if kind == "rename":
            os.rename(side.path(op[1]), side.path(op[2]))
            return "ok"
        if kind == "link":
            os.link(side.path(op[1]), side.path(op[2]))
            return "ok"
        if kind == "fsync":
            fd = os.open(side.path(op[1]), os.O_RDONLY)
            try:
                os.fsync(fd)
                return "ok"
            finally:
                os.close(fd)
        if kind == "fadvise":
            fd = os.open(side.path(op[1]), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                return "ok"
            finally:
                os.close(fd)
        if kind == "seek_data":
            fd = os.open(side.path(op[1]), os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                try:
                    pos = os.lseek(fd, op[2], os.SEEK_DATA)
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
                    pos = size
                hole = os.lseek(fd, op[2], os.SEEK_HOLE)
                # where data and holes are is the upper filesystem's
                # business: only that what SEEK_DATA skips and the first
                # byte of the hole SEEK_HOLE finds read as zeros
                zeros = (not any(os.pread(fd, pos - op[2], op[2])) and
                         op[2] <= hole <= size and
                         not any(os.pread(fd, 1, hole)))
                return ("ok", "data", zeros, os.pread(fd, 1, op[2]))
            finally:
                os.close(fd)
        if kind == "mmap_read":
            fd = os.open(side.path(op[1]), os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    return ("ok", "empty")
                off = min(op[2], size - 1)
                flags = mmap.MAP_SHARED if op[4] else mmap.MAP_PRIVATE
                with mmap.mmap(fd, size, flags, mmap.PROT_READ) as m:
                    return ("ok", off, bytes(m[off:off + op[3]]))
            finally:
                os.close(fd)
        if kind == "hold":
            fd = os.open(side.path(op[1]), os.O_RDONLY)
            old = side.held.pop(op[2], None)
            if old:
                os.close(old[0])
            side.held[op[2]] = (fd, None)
            return "ok"
        if kind == "read_held":
            if op[1] not in side.held:
                return ("ok", "none held")
            return ("ok", os.pread(side.held[op[1]][0], op[3], op[2]))
        if kind == "remount":
            side.remount("full" if op[1] == "full" else None)
            return "ok"
    except OSError as e:
        return ("err", errname(e.errno))
    raise ValueError(kind)


def apply_model(model, held, op, result):
    """What @op (with @result on both sides) did to the model; returns the
    names whose contents changed, and the expected result."""
    kind = op[0]
    ok = result == "ok" or (isinstance(result, tuple) and result[0] == "ok")
    if not ok:
        return [], None
    if kind == "pwrite":
        model.write(model.names[op[1]], op[2], op[3])
        return [op[1]], ("ok", len(op[3]))
    if kind == "read":
        d = model.data(op[1])
        return [], ("ok", bytes(d[op[2]:op[2] + op[3]]))
    if kind == "truncate":
        model.truncate(model.names[op[1]], op[2])
        return [op[1]], "ok"
    if kind == "append":
        obj = model.names[op[1]]
        model.write(obj, len(model.objs[obj]), op[2])
        return [op[1]], ("ok", len(op[2]))
    if kind == "mmap_write":
        if result == ("ok", "empty"):
            return [], result
        _, off, n = result
        model.write(model.names[op[1]], off, op[3][:n])
        return [op[1]], result
    if kind == "punch":
        obj = model.names[op[1]]
        b = model.objs[obj]
        end = min(op[2] + op[3], len(b))
        if op[2] < end:
            b[op[2]:end] = bytes(end - op[2])
        return [op[1]], "ok"
    if kind == "rename":
        if op[1] != op[2] and model.names.get(op[2]) != model.names[op[1]]:
            model.names[op[2]] = model.names.pop(op[1])
        return [op[2]], "ok"
    if kind == "link":
        model.names[op[2]] = model.names[op[1]]
        return [op[2]], "ok"
    if kind == "seek_data":
        d = model.data(op[1])
        return [op[1]], ("ok", "data", True, bytes(d[op[2]:op[2] + 1]))
    if kind == "mmap_read":
        d = model.data(op[1])
        if not d:
            return [], ("ok", "empty")
        off = min(op[2], len(d) - 1)
        return [op[1]], ("ok", off, bytes(d[off:off + op[3]]))
    if kind == "hold":
        held[op[2]] = model.names[op[1]]
        return [], "ok"
    if kind == "fsync":
        return [], "ok"
    if kind == "read_held":
        if op[1] not in held:
            return [], ("ok", "none held")
        d = model.objs[held[op[1]]]
        return [], ("ok", bytes(d[op[2]:op[2] + op[3]]))
    if kind == "remount":
        held.clear()
        return list(model.names), "ok"
    return [op[1]] if len(op) > 1 and isinstance(op[1], str) else [], result


def read_all(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return "<%s>" % errname(e.errno)


_buf = bytearray(8 * MB)


def same_as(path, want):
    """Does @path hold exactly @want?  Read into one buffer, reused: fresh
    memory for every read costs more than the read under TCG."""
    global _buf
    if len(_buf) < len(want) + 1:
        _buf = bytearray(len(want) + MB)
    mv = memoryview(_buf)
    fd = os.open(path, os.O_RDONLY)
    try:
        n = 0
        while True:
            k = os.preadv(fd, [mv[n:]], n)
            if k == 0 or n + k >= len(_buf):
                n += k
                break
            n += k
        if n != len(want):
            return False
        if not n:
            return True
        a = (ctypes.c_char * n).from_buffer(_buf)
        b = (ctypes.c_char * n).from_buffer(want)
        return libc.memcmp(a, b, n) == 0
    finally:
        os.close(fd)


def first_diff(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return "%s vs %s" % (a if isinstance(a, str) else "%d bytes" % len(a),
                             b if isinstance(b, str) else "%d bytes" % len(b))
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            j = next(k for k in range(i, min(i + 4096, n)) if a[k] != b[k])
            return "byte %d (granule %d) differs, sizes %d and %d" % (
                j, j // GRAN, len(a), len(b))
    return "sizes %d and %d" % (len(a), len(b))


def compare_file(sides, model, name, where):
    want = model.data(name)
    for s in sides:
        try:
            if same_as(s.path(name), want):
                continue
        except OSError:
            pass
        got = read_all(s.path(name))
        if isinstance(got, str) or got != want:
            raise Divergence("%s: %s on copyup=%s: %s (model first)" % (
                where, name, s.name, first_diff(want, got)))


def compare_names(sides, model, where):
    for s in sides:
        names = sorted(n for n in os.listdir(s.mnt))
        if names != sorted(model.names):
            raise Divergence("%s: copyup=%s lists %s, model %s" % (
                where, s.name, names, sorted(model.names)))
        for n in names:
            size = os.lstat(s.path(n)).st_size
            if size != len(model.data(n)):
                raise Divergence("%s: %s on copyup=%s has %d bytes, "
                                 "model %d" % (where, n, s.name, size,
                                               len(model.data(n))))


# ---- on disk ---------------------------------------------------------------


def is_partial(side, name):
    """Is @name of @side's union a partial file now?"""
    try:
        os.getxattr(os.path.join(side.upper, name), PARTIAL_XATTR,
                    follow_symlinks=False)
        return True
    except OSError:
        return False


def check_upper(side, model, partial_ok):
    """The upper layer of @side (unmounted): no partial file unless
    @partial_ok; each partial file sane and consistent with the model."""
    npartial = 0
    for name in sorted(os.listdir(side.upper)):
        path = os.path.join(side.upper, name)
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            continue
        try:
            x = os.getxattr(path, PARTIAL_XATTR, follow_symlinks=False)
        except OSError:
            x = None
        try:
            mc = os.getxattr(path, METACOPY_XATTR, follow_symlinks=False)
        except OSError:
            mc = None
        with open(path, "rb") as f:
            data = f.read()
        want = bytes(model.data(name)) if name in model.names else None
        if x is None:
            if mc is not None:
                raise Divergence("upper %s of copyup=%s: metacopy xattr "
                                 "without partial" % (name, side.name))
            if want is not None and data != want:
                raise Divergence("upper %s of copyup=%s: complete file "
                                 "differs: %s" % (name, side.name,
                                                  first_diff(want, data)))
            continue
        npartial += 1
        if not partial_ok:
            raise Divergence("upper %s of copyup=%s is partial" % (
                name, side.name))
        if mc != b"\0":
            raise Divergence("upper %s: metacopy xattr %r" % (name, mc))
        if len(x) < 16:
            raise Divergence("upper %s: partial xattr of %d bytes" % (
                name, len(x)))
        version, shift, pad, n, limit = struct.unpack("<BBHIQ", x[:16])
        bm = x[16:]
        if version != 0 or shift < 16 or pad != 0 or \
                n != -(-limit // (1 << shift)) or len(bm) < -(-n // 8):
            raise Divergence("upper %s: bad partial record v%d shift %d "
                             "n %d limit %d bitmap %d bytes" % (
                                 name, version, shift, n, limit, len(bm)))
        if want is None:
            continue
        if len(data) != len(want):
            raise Divergence("upper %s: %d bytes, model %d" % (
                name, len(data), len(want)))
        g_size = 1 << shift
        for g in range(0, -(-len(data) // g_size)):
            lo, hi = g * g_size, min((g + 1) * g_size, len(data))
            held = g < n and bm[g // 8] & (1 << (g % 8))
            if lo >= limit or held:
                if data[lo:hi] != want[lo:hi]:
                    raise Divergence("upper %s: held granule %d differs" % (
                        name, g))
                continue
            # missing below the limit: a hole; past it: the file's
            cut = min(hi, limit)
            if any(data[lo:cut]):
                raise Divergence("upper %s: missing granule %d has data" %
                                 (name, g))
            if data[cut:hi] != want[cut:hi]:
                raise Divergence("upper %s: bytes past the limit in "
                                 "granule %d differ" % (name, g))
    return npartial


# ---- one seed ----------------------------------------------------------------


def fmt_op(op):
    def f(x):
        if isinstance(x, (bytes, bytearray)):
            return "<%d bytes>" % len(x)
        return repr(x)
    return "%s(%s)" % (op[0], ", ".join(f(x) for x in op[1:]))


def fmt_res(r):
    if isinstance(r, tuple):
        return "(%s)" % ", ".join("<%d bytes>" % len(x)
                                  if isinstance(x, bytes) else repr(x)
                                  for x in r)
    return repr(r)


def run_seed(seed, nops, tmp, verbose, hardlinks, both, stats):
    rng = random.Random(seed)
    base = tempfile.mkdtemp(prefix="partialdiff-%d-" % seed, dir=tmp)
    lower = os.path.join(base, "l")
    os.mkdir(lower)
    model = Model(build_lower(rng, lower, hardlinks), hardlinks)
    held = {}
    full = Side("full", "full", base, lower)
    part = Side("partial", "partial", base, lower)
    sides = (full, part)
    try:
        for s in sides:
            s.mount()
        for step in range(nops):
            op = gen_op(rng, model)
            if len(op) > 1 and isinstance(op[1], str) and \
                    is_partial(part, op[1]):
                stats["ops on partial files"] = \
                    stats.get("ops on partial files", 0) + 1
            res = [run_op(s, op) for s in sides]
            if verbose:
                print("  %d %s -> %s" % (step, fmt_op(op), fmt_res(res[0])))
            where = "step %d: %s" % (step, fmt_op(op))
            if res[0] != res[1]:
                raise Divergence("%s\n    copyup=full    %s\n    "
                                 "copyup=partial %s" % (
                                     where, fmt_res(res[0]),
                                     fmt_res(res[1])))
            touched, want = apply_model(model, held, op, res[0])
            if want is not None and want != res[0]:
                raise Divergence("%s\n    both   %s\n    model  %s" % (
                    where, fmt_res(res[0]), fmt_res(want)))
            compare_names(sides, model, where)
            # copyup=full, the reference, at each remount and at the end
            check = sides if both or op[0] == "remount" else (part,)
            for name in sorted(set(touched)):
                if name in model.names:
                    compare_file(check, model, name, where)
            stats[op[0]] = stats.get(op[0], 0) + 1
        where = "after %d operations, remounted" % nops
        for s in sides:
            s.remount()
        compare_names(sides, model, where)
        for name in sorted(model.names):
            compare_file(sides, model, name, where)
        for s in sides:
            s.umount()
        check_upper(full, model, False)
        stats["partial files left"] = stats.get("partial files left", 0) + \
            check_upper(part, model, True)
    finally:
        for s in sides:
            try:
                s.umount()
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--seed", type=int, help="run this seed only")
    ap.add_argument("--ops", type=int, default=100)
    ap.add_argument("--keep-going", action="store_true",
                    help="run every seed, report each divergence")
    ap.add_argument("--lower-hardlinks", action="store_true",
                    help="give a lower file a second name (\"d\")")
    ap.add_argument("--check-full", action="store_true",
                    help="read all of a changed file on the copyup=full "
                    "side too after every operation, not only at remounts "
                    "and at the end (slower)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every operation and its result")
    args = ap.parse_args()

    if os.getuid() != 0:
        print("SKIP: must run as root")
        return 4
    if not fs_registered("cowfs"):
        print("SKIP: cowfs is not loaded")
        return 4

    seeds = [args.seed] if args.seed is not None else \
        range(args.first_seed, args.first_seed + args.seeds)
    failed = []
    stats = {}
    tmp = os.environ.get("TMPDIR", "/tmp")
    for seed in seeds:
        try:
            run_seed(seed, args.ops, tmp, args.verbose, args.lower_hardlinks,
                     args.check_full, stats)
            print("ok seed %d (%d ops)" % (seed, args.ops))
        except Divergence as e:
            print("DIVERGENCE seed %d, %s" % (seed, e))
            print("  reproduce: %s%s --seed %d --ops %d -v" % (
                sys.argv[0], " --lower-hardlinks" if args.lower_hardlinks
                else "", seed, args.ops))
            failed.append(seed)
            if not args.keep_going:
                break
        except OSError as e:
            # a mount or a setup step failed: that is cowfs's failure too
            print("FAIL seed %d: %s" % (seed, e))
            failed.append(seed)
            if not args.keep_going:
                break
        sys.stdout.flush()
    print("# operations: %s" % ", ".join(
        "%s %d" % kv for kv in sorted(stats.items())))
    ran = len(seeds) if args.keep_going or not failed else \
        list(seeds).index(failed[0]) + 1
    print("%d passed, %d failed" % (ran - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
