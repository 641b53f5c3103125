#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""partial: first writes into big lower files, random writes, and reads.

Runs inside the scripts/vm guest as root (scripts/bench/run.sh starts it,
once in a VM with the real clock and once in a VM whose clock counts guest
instructions, scripts/vm --icount) and writes the raw records to OUT
(JSON) for scripts/bench/report.py (issue 16, the benchmark item).

copyup=partial (issue 16) copies up, at the first write to a big (>= 1
MiB) regular lower file, only the 64 KiB granules the write touches; the
reads of the others come from the lower file.  Measured against a full
copy-up of the same file:
  cowfs partial   mount -t cowfs ...,copyup=partial
  cowfs full      mount -t cowfs ...,copyup=full
  overlayfs       mount -t overlay (what overlay2 mounts)
each by mount(2) over a one-layer image on ext4 (a loop device on the
guest's tmpfs), with its upper and work directory on the same ext4; and,
with --drivers, cowctl's snapshot drivers on their own storage:
  btrfs           a btrfs snapshot of the image's subvolume
  devicemapper    a dm-thin snapshot of the image's thin device (ext4)
  zfs             a zfs clone of the image's snapshot

The image (--mid, --big, in MiB): files mid and mid-sync of MID MiB and
big of BIG MiB, a random 1 MiB block repeated (non-zero, incompressible,
checked cheaply: byte i is the block's byte i % 1 MiB).

Every round, each configuration in turn, on two fresh unions (or
containers), every timed step from dropped caches (and the filesystem
settled by a freeze and thaw; for zfs an export and import of the pool):
  union A
    fw_mid        the first write into mid: open O_WRONLY (no O_TRUNC),
                  a 4 KiB pwrite in its middle, close
    fw_mid_fsync  the same into mid-sync with an fsync before the close
    read_lower_cold, read_lower_warm   a sequential read (1 MiB reads) of
                  big, a lower file never written to, cold then warm: the
                  reference
    fw_big        the first write into big, as fw_mid
    upper_fw      the upper layer's space after those three first writes:
                  the backing filesystem's used blocks (statvfs, after a
                  sync) less those before the mount
    then SCATTER - 1 more 4 KiB writes spread over big (untimed, one
                  open), and
    upper_scatter the upper layer's space after them
    read_cold, read_warm   the sequential read of big again, now a
                  partial file (cowfs partial) or a copied-up one (the
                  others), cold then warm
    (untimed: each written block and a 64 KiB granule around it, and a
    sample of the rest, read back through the union as they must be)
  union B
    fio           fio randwrite, 4 KiB psync writes at FIO_IOS random
                  offsets of big (randrepeat: the same offsets everywhere),
                  with an fsync at the end (end_fsync=1): the whole fio
                  run, from its start (which opens big for writing: the
                  copy-up) to its exit; fio runs from a copy on the
                  tmpfs (see stage_fio)
    fio_iops      fio's own figure: writes per second of its job, whose
                  clock includes the open (the copy-up) but not fio's
                  start
    upper_fio     the upper layer's space after it
For cowfs partial the upper file's record (trusted.overlay.cowfs.partial)
is read after each union's writes: the granules the upper file holds
(granules_*), a check that the option took, not a timing.  For the
drivers the space is their 'cowctl driver df' used bytes, read once btrfs
or zfs has freed what the last container's removal left (they free it in
the background).

The union configurations take turns in every round, in a rotating order;
round 0 warms up with union A's mid steps only and is not recorded.  The
drivers (--drivers) follow the unions' rounds, one driver at a time
(each holds a copy of the image), ROUNDS rounds each.  The records are
medians with the first and third quartiles of the recorded rounds.  With
--clock icount ROUNDS is 1 and there are no drivers unless asked for:
that clock repeats to 0.1%, a round of it takes several times its guest
seconds under TCG, and the drivers' first writes take milliseconds,
which the wall clock shows well enough.

A configuration whose mount is refused is recorded as refused; a failed
check marks it failed (exit status 1); the others carry on.
"""

import argparse
import ctypes
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench            # noqa: E402  Backing, Driver, drop_caches, settle
import hotpath          # noqa: E402  module_info
import metacopy         # noqa: E402  KernelLog, Refused, usage

BASE = "/tmp/partial"
UNIONS = ["cowfs partial", "cowfs full", "overlayfs"]
DRIVERS = ["btrfs", "devicemapper", "zfs"]
FSTYPE = {"cowfs partial": "cowfs", "cowfs full": "cowfs",
          "overlayfs": "overlay"}
OPTS = {"cowfs partial": ",copyup=partial", "cowfs full": ",copyup=full",
        "overlayfs": ""}
XATTR_PARTIAL = "trusted.overlay.cowfs.partial"
BLOCK = 1 << 20         # the image's repeated random block
WSIZE = 4096            # every write

PROFILES = {
    "quick": dict(mid=16, big=128, scatter=8, fio_ios=512, rounds=1),
    "full": dict(mid=64, big=1024, scatter=8, fio_ios=2048, rounds=2),
}

T0 = time.monotonic()
LIBC = metacopy.LIBC


def log(msg):
    print(f"[partial {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr,
          flush=True)


# ---- the image and the checks -------------------------------------------------

def make_image(lower, p, block):
    os.makedirs(lower)
    for name, mib in (("mid", p["mid"]), ("mid-sync", p["mid"]),
                      ("big", p["big"])):
        with open(f"{lower}/{name}", "wb") as f:
            for _ in range(mib):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())


def wdata(k):
    """What the k-th write of a union writes: 4 KiB, its own."""
    return (f"write {k:04d} ".encode() * (WSIZE // 11 + 1))[:WSIZE]


def mid_offset(size):
    return size // 2 // WSIZE * WSIZE


def scatter_offsets(size, n):
    """@n offsets spread over a file of @size bytes, the first its
    middle (the first write's), each 4 KiB aligned, in different
    granules."""
    offs = [mid_offset(size)]
    for k in range(1, n):
        o = (size * k // n + size // (2 * n) + 12345) // WSIZE * WSIZE
        if o != offs[0]:
            offs.append(o)
    return offs


def expect(block, pos, n, writes):
    """The @n bytes at @pos of a file of the image after @writes
    ({offset: data})."""
    out = bytearray()
    while len(out) < n:
        o = (pos + len(out)) % BLOCK
        out += block[o:o + n - len(out)]
    for wo, d in writes.items():
        lo, hi = max(pos, wo), min(pos + n, wo + len(d))
        if lo < hi:
            out[lo - pos:hi - pos] = d[lo - wo:hi - wo]
    return bytes(out)


def check_file(path, size, block, writes, samples=16):
    """Untimed: the written blocks with the 64 KiB granule around each,
    and @samples other 64 KiB pieces, read back as they must be; the
    size."""
    st = os.stat(path)
    if st.st_size != size:
        raise RuntimeError(f"{path} is {st.st_size} bytes, not {size}")
    g = 1 << 16
    spots = {wo // g * g for wo in writes}
    spots |= {size * k // samples // g * g for k in range(samples)}
    with open(path, "rb", buffering=0) as f:
        for s in sorted(spots):
            n = min(2 * g, size - s)
            got = os.pread(f.fileno(), n, s)
            if got != expect(block, s, n, writes):
                raise RuntimeError(f"{path}: bytes {s} to {s + n} are not "
                                   f"the image's with the writes")


def partial_granules(upper_file):
    """(granules held, granules) of a partial upper file's record; None
    if it has none (not partial, or completed)."""
    try:
        x = os.getxattr(upper_file, XATTR_PARTIAL)
    except OSError:
        return None
    _, _, _, ngr, _ = struct.unpack_from("<BBHIQ", x)
    held = sum(bin(b).count("1") for b in x[16:])
    return held, ngr


# ---- the steps ------------------------------------------------------------------

def first_write(path, off, data, fsync=False):
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, data, off)
    if fsync:
        os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t


def read_seq(path):
    """(seconds, bytes) of a sequential read to the end, 1 MiB reads."""
    n = 0
    t = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        n += len(b)
    os.close(fd)
    return time.perf_counter() - t, n


FIO = ["fio"]


def stage_fio(dst):
    """Copy fio, its libraries and the dynamic loader into @dst, on the
    guest's tmpfs, and run it from there (FIO): else every fio after a
    drop_caches loads its 60-odd libraries (100 MiB and more) from the
    host over 9p, in the timed run, and under the instruction clock each
    wait for the host warps the clock by whatever the host's load makes
    it."""
    os.makedirs(dst)
    fio = shutil.which("fio")
    loader = None
    for line in bench.sh("ldd", fio).splitlines():
        w = line.split()
        src = w[2] if len(w) > 2 and w[1] == "=>" else w[0]
        if not src.startswith("/"):
            continue        # linux-vdso
        shutil.copy(src, f"{dst}/{os.path.basename(src)}")
        if "=>" not in w:
            loader = f"{dst}/{os.path.basename(src)}"
    shutil.copy(fio, f"{dst}/fio")
    if loader is None:
        raise RuntimeError(f"ldd {fio}: no dynamic loader")
    FIO[:] = [loader, "--library-path", dst, f"{dst}/fio"]
    bench.sh(*FIO, "--version")


def run_fio(path, size, ios):
    """fio randwrite over @path: (seconds of the whole run, fio's IOPS)."""
    t = time.perf_counter()
    out = bench.sh(*FIO, "--name=randwrite", f"--filename={path}",
                   "--rw=randwrite", "--bs=4k", "--ioengine=psync",
                   f"--size={size}", f"--io_size={ios * WSIZE}",
                   "--randrepeat=1", "--fallocate=none", "--invalidate=0",
                   "--end_fsync=1", "--output-format=json")
    t = time.perf_counter() - t
    job = json.loads(out)["jobs"][0]["write"]
    if job["total_ios"] != ios:
        raise RuntimeError(f"fio wrote {job['total_ios']} times, not {ios}")
    return t, job["iops"]


def settle_frees(d):
    """Wait until btrfs or zfs under driver @d has freed what the last
    container's removal left: both do it in the background (a deleted
    subvolume's cleaner, a destroyed clone's async free), and 'driver df'
    would count it against the next container, or below zero."""
    if d.name == "btrfs":
        with open("/proc/self/mountinfo") as f:
            mps = [ln.split()[4] for ln in f
                   if ln.split(" - ", 1)[1].split()[0] == "btrfs"
                   and ln.split()[4].startswith(d.root + "/")]
        for mp in mps:
            subprocess.run(["btrfs", "subvolume", "sync", mp], check=False,
                           stdout=subprocess.DEVNULL)
    elif d.name == "zfs":
        for pool in bench.sh("zpool", "list", "-H", "-o",
                             "name").split():
            subprocess.run(["zpool", "wait", "-t", "free", pool],
                           check=False)
        bench.sh("zpool", "sync")


class Target:
    """Where a configuration's steps run: a union on the ext4 (mounted by
    mount(2)) or a cowctl driver's container."""

    def __init__(self, cfg, ctx, tag):
        self.cfg, self.ctx, self.tag = cfg, ctx, tag
        self.mounted = self.created = False

    def setup(self):
        c = self.ctx
        if self.cfg in UNIONS:
            top = f"{c['top']}/{self.tag}"
            self.dir = top
            self.upper, self.mnt = f"{top}/upper", f"{top}/merged"
            for d in (self.upper, f"{top}/work", self.mnt):
                os.makedirs(d)
            self.used0 = self.used()
            opts = (f"lowerdir={c['lower']},upperdir={self.upper},"
                    f"workdir={top}/work" + OPTS[self.cfg])
            fs = FSTYPE[self.cfg]
            klog = metacopy.KernelLog()
            if LIBC.mount(b"partial", self.mnt.encode(), fs.encode(), 0,
                          opts.encode()):
                e = ctypes.get_errno()
                msgs = [m for m in klog.lines() if m.startswith(fs + ":")]
                raise metacopy.Refused(
                    f"mount refused: {os.strerror(e)}"
                    + (f" ({'; '.join(msgs)})" if msgs else ""))
            klog.lines()
            self.mounted = True
            got, self.options = bench.mount_of(self.mnt)
            if got != fs:
                raise RuntimeError(f"{self.mnt} is {got}, not {fs}")
        else:
            d = c["driver"]
            self.used0 = self.used()
            d.create("img", self.tag)
            self.created = True
            self.mnt = d.mount(self.tag)
            self.mounted = True
            self.options = ""

    def used(self):
        if self.cfg in UNIONS:
            return metacopy.usage(self.ctx["back"].mnt)[0]
        os.sync()
        settle_frees(self.ctx["driver"])
        return self.ctx["driver"].df_used()

    def space(self):
        """MiB the writes took on the upper layer (or the driver's store)"""
        return (self.used() - self.used0) / (1 << 20)

    def cold(self):
        if self.cfg == "zfs":
            bench.cold(self.ctx["driver"], [self.tag])
        else:
            bench.drop_caches()
        try:
            bench.settle(self.mnt if self.cfg not in UNIONS
                         else self.ctx["back"].mnt)
        except RuntimeError:
            pass    # zfs cannot freeze: the export and import did it

    def granules(self, name):
        if self.cfg != "cowfs partial":
            return None
        return partial_granules(f"{self.upper}/{name}")

    def remove(self):
        c = self.ctx
        if self.cfg in UNIONS:
            if self.mounted and LIBC.umount2(self.mnt.encode(), 0):
                e = ctypes.get_errno()
                raise OSError(e, f"umount {self.mnt}: {os.strerror(e)}")
            self.mounted = False
            shutil.rmtree(self.dir, ignore_errors=True)
            c["back"].trim()
        elif self.created:
            c["driver"].rm(self.tag)


def union_a(t, p, block, r, mid_only=False):
    """Union A's steps: a dict of figures."""
    out = {}
    mid, big = p["mid"] << 20, p["big"] << 20
    t.cold()
    out["fw_mid"] = first_write(f"{t.mnt}/mid", mid_offset(mid), wdata(0))
    t.cold()
    out["fw_mid_fsync"] = first_write(f"{t.mnt}/mid-sync", mid_offset(mid),
                                      wdata(1), fsync=True)
    check_file(f"{t.mnt}/mid", mid, block, {mid_offset(mid): wdata(0)})
    check_file(f"{t.mnt}/mid-sync", mid, block, {mid_offset(mid): wdata(1)})
    if mid_only:
        return out
    for kind in ("cold", "warm"):
        if kind == "cold":
            t.cold()
        s, n = read_seq(f"{t.mnt}/big")
        if n != big:
            raise RuntimeError(f"read {n} bytes of big, not {big}")
        out[f"read_lower_{kind}"] = s
    t.cold()
    offs = scatter_offsets(big, p["scatter"])
    writes = {offs[0]: wdata(2)}
    out["fw_big"] = first_write(f"{t.mnt}/big", offs[0], writes[offs[0]])
    out["upper_fw"] = t.space()
    g = t.granules("mid"), t.granules("mid-sync"), t.granules("big")
    if t.cfg == "cowfs partial":
        if None in g:
            raise RuntimeError("after the first writes an upper file has no "
                               f"{XATTR_PARTIAL}: mid, mid-sync, big: {g}")
        out["granules_fw"] = g[2][0]
    fd = os.open(f"{t.mnt}/big", os.O_WRONLY)
    for k, o in enumerate(offs[1:], 3):
        writes[o] = wdata(k)
        os.pwrite(fd, writes[o], o)
    os.close(fd)
    out["upper_scatter"] = t.space()
    if t.cfg == "cowfs partial":
        g = t.granules("big")
        if g is None:
            raise RuntimeError(f"after {len(offs)} writes big has no "
                               f"{XATTR_PARTIAL}: completed?")
        out["granules_scatter"] = g[0]
    for kind in ("cold", "warm"):
        if kind == "cold":
            t.cold()
        s, n = read_seq(f"{t.mnt}/big")
        if n != big:
            raise RuntimeError(f"read {n} bytes of big, not {big}")
        out[f"read_{kind}"] = s
    check_file(f"{t.mnt}/big", big, block, writes)
    return out


def union_b(t, p):
    out = {}
    big = p["big"] << 20
    t.cold()
    out["fio"], out["fio_iops"] = run_fio(f"{t.mnt}/big", big, p["fio_ios"])
    out["upper_fio"] = t.space()
    if t.cfg == "cowfs partial":
        g = t.granules("big")
        if g is None:
            raise RuntimeError(f"after fio big has no {XATTR_PARTIAL}: "
                               "completed?")
        out["granules_fio"] = g[0]
    if os.stat(f"{t.mnt}/big").st_size != big:
        raise RuntimeError("fio changed big's size")
    return out


SECONDS = {"fw_mid", "fw_mid_fsync", "fw_big", "read_lower_cold",
           "read_lower_warm", "read_cold", "read_warm", "fio"}
UNITS = dict(fio_iops="IOPS", upper_fw="MiB", upper_scatter="MiB",
             upper_fio="MiB", granules_fw="granules",
             granules_scatter="granules", granules_fio="granules")


def one(cfg, ctx, p, block, r, warmup=False):
    """One configuration's turn in round @r: a dict of its figures."""
    out = {}
    for part in ("a", "b"):
        if warmup and part == "b":
            break
        t = Target(cfg, ctx, f"{cfg.replace(' ', '-')}-{part}{r}")
        try:
            t.setup()
            if part == "a":
                out.update(union_a(t, p, block, r, mid_only=warmup))
            else:
                out.update(union_b(t, p))
            out["options"] = t.options
        finally:
            t.remove()
    for k in SECONDS & set(out):
        out[k] *= 1e3
    return out


def log_fig(cfg, got):
    def g(k, f="{:.1f}"):
        return f.format(got[k]) if k in got else "–"
    log(f"  {cfg}: first write {g('fw_mid', '{:.2f}')} ms (mid), "
        f"{g('fw_mid_fsync', '{:.2f}')} ms (mid, fsync), "
        f"{g('fw_big', '{:.2f}')} ms (big); read big lower "
        f"{g('read_lower_cold')}/{g('read_lower_warm')} ms, after writes "
        f"{g('read_cold')}/{g('read_warm')} ms (cold/warm); fio "
        f"{g('fio')} ms ({g('fio_iops', '{:.0f}')} IOPS); upper "
        f"{g('upper_fw')}/{g('upper_scatter')}/{g('upper_fio')} MiB"
        + (f"; granules {g('granules_fw', '{}')}/"
           f"{g('granules_scatter', '{}')}/{g('granules_fio', '{}')}"
           if "granules_fw" in got else ""))


def rounds_of(cfgs, ctx, p, block, status, samples, rounds, rotate=True):
    n = len(cfgs)
    for r in range(rounds + 1):
        order = cfgs[r % n:] + cfgs[:r % n] if rotate else cfgs
        what = "warm-up round (mid only)" if r == 0 else \
            f"round {r}/{rounds}"
        log(f"{what}: {', '.join(order)}")
        for c in order:
            st = status[c]
            if st["status"] != "ok":
                continue
            try:
                got = one(c, ctx, p, block, r, warmup=r == 0)
            except metacopy.Refused as e:
                st.update(status="refused", message=str(e))
                log(f"  {c}: {e}; carrying on without it")
                continue
            except Exception as e:      # the others carry on
                st.update(status="failed",
                          message=f"{type(e).__name__}: {e}")
                log(f"!! {c} failed: {st['message']}")
                continue
            st["options"] = got.pop("options")
            log_fig(c, got)
            if r:
                for w, v in got.items():
                    samples.setdefault((c, w), []).append(v)


def run(p, unions, drivers, back, clock):
    lower, top = f"{back.mnt}/image", f"{back.mnt}/ctr"
    os.makedirs(top)
    block = os.urandom(BLOCK)
    block = bytes(b or 1 for b in block)    # non-zero
    log(f"making the image: mid, mid-sync of {p['mid']} MiB, big of "
        f"{p['big']} MiB")
    make_image(lower, p, block)
    status = {c: dict(status="ok") for c in unions + drivers}
    samples = {}
    ctx = dict(back=back, lower=lower, top=top)
    if unions:
        rounds_of(unions, ctx, p, block, status, samples, p["rounds"])
    for name in drivers:
        d = bench.Driver(name, f"{BASE}/root-{name}", name)
        log(f"==> {name}: importing the image")
        t0 = time.monotonic()
        try:
            d.cow("driver", "up")
            if name == "zfs":
                bench.zfs_tune()
            d.image("img", lower)
            dctx = dict(ctx, driver=d)
            rounds_of([name], dctx, p, block, status, samples, p["rounds"],
                      rotate=False)
        except Exception as e:
            status[name].update(status="failed",
                                message=f"{type(e).__name__}: {e}")
            log(f"!! {name} failed: {status[name]['message']}")
        finally:
            subprocess.run([bench.COWCTL, "driver", "destroy"], env=d.env,
                           check=False)
            back.trim()
        log(f"<== {name}: {time.monotonic() - t0:.0f}s")
    recs = []
    for (c, w), xs in samples.items():
        q1, med, q3 = bench.quartiles(xs)
        recs.append(dict(driver=c, workload=w, value=med,
                         unit=UNITS.get(w, "ms"), backing="ext4"
                         if c in UNIONS else c,
                         params=dict(q1=q1, q3=q3,
                                     samples=[round(x, 4) for x in xs],
                                     clock=clock, mid_mib=p["mid"],
                                     big_mib=p["big"], scatter=p["scatter"],
                                     fio_ios=p["fio_ios"])))
    return recs, status


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="the quick profile: " + json.dumps(PROFILES["quick"]))
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--clock", choices=["wall", "icount"], default="wall",
                    help="what the guest clock counts: wall (default) or "
                         "icount (scripts/vm --icount); a label")
    what = dict(mid="MiB of the mid files", big="MiB of the big file",
                scatter="writes into big in union A, the first one's too",
                fio_ios="fio's 4 KiB random writes",
                rounds="recorded rounds, after one warm-up round (with "
                "--clock icount, 1 unless given)")
    for k in ("mid", "big", "scatter", "fio_ios", "rounds"):
        ap.add_argument(f"--{k.replace('_', '-')}", dest=k, type=int,
                        help=f"{what[k]}: default {PROFILES['full'][k]} "
                             f"(quick {PROFILES['quick'][k]})")
    ap.add_argument("--unions", default=",".join(UNIONS),
                    help="comma-separated, of: " + ", ".join(UNIONS)
                    + " (default: all)")
    ap.add_argument("--drivers",
                    help="cowctl drivers to measure too, comma-separated, of: "
                    + ", ".join(DRIVERS) + " (default: all, none with "
                    "--clock icount; '' for none)")
    ap.add_argument("--mem-tmpfs", default="80%",
                    help="size of the guest tmpfs that holds the storage")
    a = ap.parse_args()
    prof = "quick" if a.quick else "full"
    p = dict(PROFILES[prof])
    if a.clock == "icount":
        p["rounds"] = 1     # the instruction clock repeats to 0.1%
    for k in p:
        if getattr(a, k) is not None:
            p[k] = getattr(a, k)
    if min(p.values()) < 1 or p["mid"] < 2 or p["scatter"] < 1:
        ap.error("every figure must be positive, --mid at least 2")
    unions = [x for x in a.unions.split(",") if x]
    if a.drivers is None:
        # their first writes take milliseconds, the wall clock shows it;
        # the instruction clock's VM would take twice as long with them
        a.drivers = "" if a.clock == "icount" else ",".join(DRIVERS)
    drivers = [x for x in a.drivers.split(",") if x]
    for x in unions:
        if x not in UNIONS:
            ap.error(f"--unions: {x} is not one of {', '.join(UNIONS)}")
    for x in drivers:
        if x not in DRIVERS:
            ap.error(f"--drivers: {x} is not one of {', '.join(DRIVERS)}")
    if os.environ.get("COWFS_VM") != "1" or os.geteuid():
        sys.exit("partial.py runs as root in the test VM: use "
                 "make bench-partial")

    log(f"profile {prof}, clock {a.clock}: {json.dumps(p)}; unions "
        f"{', '.join(unions)}; drivers {', '.join(drivers) or 'none'}")
    for mod in ("loop", "ext4", "overlay", "btrfs", "dm_thin_pool"):
        subprocess.run(["modprobe", mod], check=False)
    os.makedirs(BASE, exist_ok=True)
    bench.sh("mount", "-t", "tmpfs", "-o", f"size={a.mem_tmpfs}", "partial",
             BASE)
    bench.BASE = BASE   # where Backing puts its loop file and mount
    back = None
    try:
        stage_fio(f"{BASE}/fio")
        back = bench.Backing("ext4", [
            "mkfs.ext4", "-q", "-F", "-E",
            "nodiscard,lazy_itable_init=0,lazy_journal_init=0"],
            size=f"{2 * (2 * p['mid'] + p['big']) + 512}M")
        recs, status = run(p, unions, drivers, back, a.clock)
    finally:
        if back:
            back.close()
        subprocess.run(["umount", BASE], check=False)

    meta = dict(profile=prof, kernel=platform.release(), clock=a.clock,
                qemu_mode=bench.qemu_mode(),
                date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                vcpus=os.cpu_count(),
                mem_mib=bench.meminfo()["MemTotal"] >> 20,
                seconds=round(time.monotonic() - T0),
                params=p, configs=status, **hotpath.module_info())
    return metacopy.write_results(a.out, meta, recs, status, log)


if __name__ == "__main__":
    sys.exit(main())
