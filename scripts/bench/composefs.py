#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""composefs: mount and cold reads of a composefs-style image.

Runs inside the scripts/vm guest as root (scripts/bench/run.sh starts it,
once in a VM with the real clock and once in a VM whose clock counts guest
instructions, scripts/vm --icount) and writes the raw records to OUT
(JSON) for scripts/bench/report.py (make bench-composefs).

The case: a composefs-style image, as 'cowctl composefs build SRC META
OBJECTS' makes it: META, a metadata layer of sparse metacopy files whose
trusted.overlay.redirect names their content's object, over OBJECTS, a
data-only layer holding each distinct content once with fs-verity, mounted
read-only without an upper layer with
  lowerdir=META::OBJECTS,metacopy=on,verity=require
so that every open of a file looks its object up in the data-only layer
and checks the object's fs-verity digest against the one in the metacopy
xattr, and every read of the object is checked against its Merkle tree.
Against it, the same tree as an ordinary lower layer, lowerdir=SRC:EMPTY
(overlayfs refuses a single lower layer without an upper one, so EMPTY, an
empty directory, is a second lower layer under it: a regular file is found
in SRC and looked up no further; a directory is merged with nothing): what
metacopy + data-only layer + verity cost over a plain layer.  Four configurations, each mounted by mount(2) ('mount -t overlay'
/ 'mount -t cowfs', MS_RDONLY, no upper):
  overlayfs plain, cowfs plain, overlayfs composefs, cowfs composefs
SRC, EMPTY, META and OBJECTS are on one ext4 made with -O verity (a loop device
on the guest's tmpfs).

The image (--files, --dirs): FILES files in DIRS directories two levels
deep (d00/e00 ..); the sizes run from 1 KiB to 256 KiB, 1 KiB *
2^(8 u^3) for u uniform in [0, 1) (a seeded generator: most files small,
a few large, about 18 KiB on average, like a system image's); every tenth
file has the content of an earlier file of the same size (a duplicate: one
object for both).  Built once per VM: the image's files written, then
'cowctl composefs build' of it, timed once (the build record, informative:
it writes and hashes every distinct content).

Every round, each configuration in turn, every step from dropped caches
(and the ext4 settled by a freeze and thaw):
  mount       mount(2) of the union (ms)
  stat        walk of the union (os.walk: readdir of every directory) and
              lstat of every entry (ms)
  read        walk of the union and open, read to the end and close of
              every file, 256 KiB reads into one buffer (ms); with
              verity=require each open checks the object's digest
  read_mib_s  the bytes read over that time (MiB/s)
  umount      umount(2) of the union (ms)
Then, untimed, the checks: the stat walk saw every entry of the image and
the read walk every file and byte; in the warm-up round, a sample of the
files reads back as the image's source file; and the mount's options.

The configurations take turns in every round in the orders of a Williams
square (metacopy.py's orders: each first, second, third and last once in
four rounds, and right after each of the others once; the full profile's
2 rounds take its first two orders, so each is once in the first and once
in the second half of a round); round 0 warms up and is not recorded.  The records are medians with the first and third
quartiles of the recorded rounds.  A configuration whose mount is refused
is recorded as refused, with the kernel's message, and a failed check
marks it failed (exit status 1); the others carry on.
"""

import argparse
import ctypes
import json
import os
import platform
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench            # noqa: E402  Backing, drop_caches, settle, quartiles
import hotpath          # noqa: E402  module_info
import metacopy         # noqa: E402  orders, KernelLog, LIBC, Refused

BASE = "/tmp/cfs"
COWCTL = bench.COWCTL
CONFIGS = [("overlayfs", "plain"), ("cowfs", "plain"),
           ("overlayfs", "composefs"), ("cowfs", "composefs")]
FSTYPE = {"overlayfs": "overlay", "cowfs": "cowfs"}
MS_RDONLY = 1
BUF = 256 << 10

PROFILES = {
    "quick": dict(files=1000, dirs=40, rounds=2),
    "full": dict(files=5000, dirs=200, rounds=2),
}

T0 = time.monotonic()


def log(msg):
    print(f"[composefs {time.monotonic() - T0:7.1f}s] {msg}",
          file=sys.stderr, flush=True)


def name(cfg):
    return f"{cfg[0]} {cfg[1]}"


# ---- the image ----------------------------------------------------------------

def make_tree(src, p):
    """The source tree; returns (files, directories, bytes, distinct
    contents)."""
    rng = random.Random(15)
    top = max(1, round(p["dirs"] ** 0.5))
    dirs = [f"d{d % top:02d}/e{d // top:02d}" for d in range(p["dirs"])]
    by_size = {}
    total = distinct = 0
    for k in range(p["files"]):
        q = f"{src}/{dirs[k % len(dirs)]}/f{k:05d}"
        os.makedirs(os.path.dirname(q), exist_ok=True)
        size = int(1024 * 2 ** (8 * rng.random() ** 3))
        if k % 10 == 9 and by_size:
            # a duplicate: the content of an earlier file, its size too
            size = rng.choice(sorted(by_size))
            data = by_size[size]
        else:
            data = rng.randbytes(size)
            by_size[size] = data
            distinct += 1
        with open(q, "wb") as f:
            f.write(data)
        total += size
    ndirs = sum(len(ds) for _, ds, _ in os.walk(src))
    return p["files"], ndirs, total, distinct


def build(src, meta, objs):
    """cowctl composefs build, timed: (seconds, its --json summary)."""
    t = time.perf_counter()
    out = bench.sh(COWCTL, "-j", "composefs", "build", src, meta, objs)
    return time.perf_counter() - t, json.loads(out)


# ---- measuring ----------------------------------------------------------------

def stat_walk(root):
    n = 1
    os.lstat(root)
    for d, dirs, files in os.walk(root):
        for e in dirs + files:
            os.lstat(os.path.join(d, e))
            n += 1
    return n


def read_walk(root, buf):
    files = total = 0
    mv = memoryview(buf)
    for d, _, fs in os.walk(root):
        for e in fs:
            with open(os.path.join(d, e), "rb", buffering=0) as f:
                while True:
                    got = f.readinto(mv)
                    if not got:
                        break
                    total += got
            files += 1
    return files, total


def check_sample(src, mnt, n=50):
    rels = []
    for d, _, fs in os.walk(src):
        rels += [os.path.relpath(os.path.join(d, e), src) for e in fs]
    rels.sort()
    for q in rels[::max(1, len(rels) // n)]:
        with open(f"{src}/{q}", "rb") as a, open(f"{mnt}/{q}", "rb") as b:
            if a.read() != b.read():
                raise RuntimeError(f"{q} reads back other than the image's "
                                   "source file")


def mount(cfg, img, mnt):
    fs, layout = cfg
    opts = (f"lowerdir={img['src']}:{img['empty']}" if layout == "plain" else
            f"lowerdir={img['meta']}::{img['objs']},metacopy=on,"
            "verity=require")
    klog = metacopy.KernelLog()
    t = time.perf_counter()
    rc = metacopy.LIBC.mount(b"composefs", mnt.encode(), FSTYPE[fs].encode(),
                             MS_RDONLY, opts.encode())
    dt = time.perf_counter() - t
    if rc:
        e = ctypes.get_errno()
        msgs = [m for m in klog.lines() if m.startswith(FSTYPE[fs] + ":")]
        raise metacopy.Refused(f"mount refused: {os.strerror(e)}"
                               + (f" ({'; '.join(msgs)})" if msgs else ""))
    klog.lines()
    return dt


def umount(mnt):
    t = time.perf_counter()
    if metacopy.LIBC.umount2(mnt.encode(), 0):
        e = ctypes.get_errno()
        raise OSError(e, f"umount {mnt}: {os.strerror(e)}")
    return time.perf_counter() - t


def one(cfg, back, img, r, buf):
    """One configuration's turn in round @r: a dict of its figures."""
    mnt = f"{BASE}/mnt"
    os.makedirs(mnt, exist_ok=True)
    drop_and_settle(back)
    t_mount = mount(cfg, img, mnt)
    mounted = True
    try:
        fstype, options = bench.mount_of(mnt)
        if fstype != FSTYPE[cfg[0]]:
            raise RuntimeError(f"{mnt} is {fstype}, not {FSTYPE[cfg[0]]}")
        if cfg[1] == "composefs" and "verity=require" not in options:
            raise RuntimeError(f"mounted without verity=require: {options}")
        drop_and_settle(back)
        t = time.perf_counter()
        n = stat_walk(mnt)
        t_stat = time.perf_counter() - t
        drop_and_settle(back)
        t = time.perf_counter()
        files, nbytes = read_walk(mnt, buf)
        t_read = time.perf_counter() - t
        if n != img["entries"] or files != img["files"] \
                or nbytes != img["bytes"]:
            raise RuntimeError(f"the walks saw {n} entries, {files} files, "
                               f"{nbytes} bytes; the image has "
                               f"{img['entries']}, {img['files']}, "
                               f"{img['bytes']}")
        if r == 0:
            check_sample(img["src"], mnt)
        t_umount = umount(mnt)
        mounted = False
    finally:
        if mounted:
            metacopy.LIBC.umount2(mnt.encode(), 0)
    return dict(mount=t_mount * 1e3, stat=t_stat * 1e3, read=t_read * 1e3,
                read_mib_s=nbytes / (1 << 20) / t_read,
                umount=t_umount * 1e3, options=options)


def drop_and_settle(back):
    bench.drop_caches()
    bench.settle(back.mnt)


UNITS = dict(mount="ms", stat="ms", read="ms", read_mib_s="MiB/s",
             umount="ms", build="ms")


def run(p, cfgs, back, clock):
    img = dict(src=f"{back.mnt}/src", meta=f"{back.mnt}/meta",
               objs=f"{back.mnt}/objects", empty=f"{back.mnt}/empty")
    os.makedirs(img["empty"])
    log(f"making the image: {p['files']} files in {p['dirs']} directories")
    files, ndirs, nbytes, distinct = make_tree(img["src"], p)
    os.sync()
    drop_and_settle(back)
    t_build, summary = build(img["src"], img["meta"], img["objs"])
    log(f"  {files} files, {ndirs} directories, {nbytes / (1 << 20):.1f} MiB, "
        f"{distinct} distinct; cowctl composefs build {t_build:.1f} s: "
        f"{json.dumps(summary)}")
    img.update(files=files, bytes=nbytes, entries=files + ndirs + 1)
    common = dict(files=files, dirs=ndirs, mib=round(nbytes / (1 << 20), 1),
                  distinct=distinct, clock=clock)
    recs = [dict(driver="cowctl", workload="build", value=t_build * 1e3,
                 unit="ms", backing="ext4",
                 params=dict(layout="composefs", q1=t_build * 1e3,
                             q3=t_build * 1e3, samples=[round(t_build * 1e3)],
                             summary=summary, **common))]
    buf = bytearray(BUF)
    status = {name(c): dict(status="ok") for c in cfgs}
    samples = {}
    rows = metacopy.orders(len(cfgs))
    for r in range(p["rounds"] + 1):
        order = [cfgs[i] for i in rows[(r - 1) % len(rows)]]
        what = "warm-up round" if r == 0 else f"round {r}/{p['rounds']}"
        log(f"{what}: {', '.join(name(c) for c in order)}")
        for c in order:
            st = status[name(c)]
            if st["status"] != "ok":
                continue
            try:
                got = one(c, back, img, r, buf)
            except metacopy.Refused as e:
                st.update(status="refused", message=str(e))
                log(f"  {name(c)}: {e}; carrying on without it")
                continue
            except Exception as e:      # the others carry on
                st.update(status="failed",
                          message=f"{type(e).__name__}: {e}")
                log(f"!! {name(c)} failed: {st['message']}")
                continue
            st["options"] = got.pop("options")
            log(f"  {name(c)}: mount {got['mount']:.2f} ms, stat "
                f"{got['stat']:.0f} ms, read {got['read']:.0f} ms "
                f"({got['read_mib_s']:.1f} MiB/s), umount "
                f"{got['umount']:.2f} ms")
            if r:
                for w, v in got.items():
                    samples.setdefault((c, w), []).append(v)
    for (c, w), xs in samples.items():
        q1, med, q3 = bench.quartiles(xs)
        recs.append(dict(driver=c[0], workload=w, value=med, unit=UNITS[w],
                         backing="ext4",
                         params=dict(layout=c[1], q1=q1, q3=q3,
                                     samples=[round(x, 4) for x in xs],
                                     **common)))
    return recs, status


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="the quick profile (make bench-quick): "
                         + json.dumps(PROFILES["quick"]))
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--clock", choices=["wall", "icount"], default="wall",
                    help="what the guest clock counts: wall (default) or "
                         "icount (scripts/vm --icount); a label")
    what = dict(files="files in the image", dirs="directories they are "
                "spread over", rounds="recorded rounds, after one warm-up "
                "round")
    for k in ("files", "dirs", "rounds"):
        ap.add_argument(f"--{k}", type=int,
                        help=f"{what[k]}: default {PROFILES['full'][k]} "
                             f"(quick {PROFILES['quick'][k]})")
    ap.add_argument("--configs", default=",".join(
        f"{fs}:{lay}" for fs, lay in CONFIGS),
        help="comma-separated fs:layout pairs, layout plain or composefs "
             "(default: all four)")
    a = ap.parse_args()
    prof = "quick" if a.quick else "full"
    p = dict(PROFILES[prof])
    for k in p:
        if getattr(a, k) is not None:
            p[k] = getattr(a, k)
    if min(p.values()) < 1:
        ap.error("--files, --dirs and --rounds must be positive")
    cfgs = []
    for x in a.configs.split(","):
        c = tuple(x.split(":"))
        if c not in CONFIGS:
            ap.error(f"--configs: {x} is not one of "
                     + ", ".join(f"{fs}:{lay}" for fs, lay in CONFIGS))
        cfgs.append(c)
    if os.environ.get("COWFS_VM") != "1" or os.geteuid():
        sys.exit("composefs.py runs as root in the test VM: use "
                 "make bench-composefs")

    log(f"profile {prof}, clock {a.clock}: {json.dumps(p)}")
    for mod in ("loop", "ext4", "overlay"):
        subprocess.run(["modprobe", mod], check=False)
    os.makedirs(BASE, exist_ok=True)
    bench.sh("mount", "-t", "tmpfs", "-o", "size=75%", "composefs", BASE)
    bench.BASE = BASE   # where Backing puts its loop file and mount
    back = None
    try:
        back = bench.Backing("ext4", [
            "mkfs.ext4", "-q", "-F", "-O", "verity", "-E",
            "nodiscard,lazy_itable_init=0,lazy_journal_init=0"], size="2G")
        recs, status = run(p, cfgs, back, a.clock)
    finally:
        if back:
            subprocess.run(["umount", f"{BASE}/mnt"], check=False,
                           stderr=subprocess.DEVNULL)
            back.close()
        subprocess.run(["umount", BASE], check=False)

    meta = dict(profile=prof, kernel=platform.release(), clock=a.clock,
                qemu_mode=bench.qemu_mode(),
                date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                vcpus=os.cpu_count(), seconds=round(time.monotonic() - T0),
                params=p, configs=status,
                orders=[[name(cfgs[i]) for i in o]
                        for o in metacopy.orders(len(cfgs))],
                **hotpath.module_info())
    return metacopy.write_results(a.out, meta, recs, status, log)


if __name__ == "__main__":
    sys.exit(main())
