#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""metacopy: chown -R of an image in a union, then first writes.

Runs inside the scripts/vm guest as root (scripts/bench/run.sh starts it,
once in a VM with the real clock and once in a VM whose clock counts guest
instructions, scripts/vm --icount) and writes the raw records to OUT
(JSON) for scripts/bench/report.py (issue 15, item 5).

The case: a container engine that maps the container's uids into a user
namespace (docker's userns-remap, podman without idmapped mounts) chowns
the image's files in the container's union to the shifted ids: every
file and directory is copied up.  Without metacopy that copies each
file's data too; with metacopy=on only its inode and xattrs, and the data
follows at the file's first write.  Measured for four configurations,
all with redirect_dir=on and index=off:
  overlayfs metacopy=off, overlayfs metacopy=on,
  cowfs metacopy=off, cowfs metacopy=on
each mounted by mount(2) ('mount -t overlay' / 'mount -t cowfs') over a
one-layer image on ext4 (a loop device on the guest's tmpfs), with an
empty upper and work directory of the same ext4.

The image (--files, --dirs, --big): FILES small files of 4 KiB spread
over DIRS directories two levels deep (a00/b00 ..), and BIG files of
1 MiB in big/, all owned by root; each file's content is its own (the
data copy-up is checked against it).

Every round, each configuration in turn:
  chown       from dropped caches (and the ext4 settled by a freeze and
              thaw), chown -R of the union's root to 100000:100000 (the
              shift of uid 0 into a user namespace): os.walk and lchown
              of every directory and file, in this process (a Python
              loop: its cost, a few microseconds an entry, is the same
              for every configuration)
  upper_used, upper_inodes   what the chown left in the ext4: its used
              blocks (statvfs, after a sync) and inodes, less those
              before the mount
  metacopy_files   how many of the upper layer's files carry a metacopy
              xattr (trusted.overlay.metacopy): all the regular files
              with metacopy=on, none with off; a check that the option
              did what it says, not a timing
  first_write_4k   from dropped caches, open O_WRONLY + a 1-byte pwrite
              + close of WRITES of the small files (evenly spread over
              the image), timed each; the record is the mean per file.
              With metacopy=on this is where the data is copied up;
              with off the file is already in the upper layer
  first_write_1m   the same for the BIG 1 MiB files
  chown_and_writes   chown plus all those first writes (ms): what the
              postponed copy-up costs in the end for that many writes
  upper_used_after   the ext4's used blocks after the writes
Then, untimed, the checks (every entry of the union has the new owner;
each written file reads back as the image's file with its first byte
'x', its upper copy has all its data and no metacopy xattr), the unmount
and the removal of the upper and work directories.

The configurations take turns in every round in the orders of a Williams
square (for four: each goes first, second, third and last once in four
rounds, and right after each of the others once), so that one's leftovers
(the ext4 freeing the last upper, caches) fall on every one alike; round 0
warms up and is not recorded.  The records are medians with the first and
third quartiles of the recorded rounds.

A configuration whose mount is refused (cowfs without metacopy support
says EINVAL to metacopy=on) is recorded as refused, with the error and
the kernel's message, and the others carry on; a failed check marks the
configuration failed (exit status 1) and the others carry on too.
"""

import argparse
import ctypes
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench            # noqa: E402  Backing, drop_caches, settle, quartiles
import hotpath          # noqa: E402  module_info

BASE = "/tmp/mc"
UID = GID = 100000      # uid 0 shifted into a user namespace
XATTR_METACOPY = "trusted.overlay.metacopy"
CONFIGS = [("overlayfs", "off"), ("overlayfs", "on"),
           ("cowfs", "off"), ("cowfs", "on")]
FSTYPE = {"overlayfs": "overlay", "cowfs": "cowfs"}
SMALL = 4096
BIG = 1 << 20

PROFILES = {
    "quick": dict(files=2000, dirs=60, big=4, writes=200, rounds=4),
    "full": dict(files=10000, dirs=300, big=8, writes=500, rounds=4),
}

T0 = time.monotonic()
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def log(msg):
    print(f"[metacopy {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr,
          flush=True)


def name(cfg):
    return f"{cfg[0]} metacopy={cfg[1]}"


def orders(n):
    """The rounds' orders of @n configurations: a Williams square (each
    in every position once, and right after each other one once) for an
    even @n, else the rotations."""
    if n % 2:
        return [list(range(k, n)) + list(range(k)) for k in range(n)]
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    return [[(x + k) % n for x in first] for k in range(n)]


# ---- the image ----------------------------------------------------------------

def small_paths(p):
    """The small files, relative to the image's root: file k in directory
    k % dirs, so that consecutive files are in different directories."""
    top = max(1, round(p["dirs"] ** 0.5))
    dirs = [f"a{d % top:02d}/b{d // top:02d}" for d in range(p["dirs"])]
    return [f"{dirs[k % len(dirs)]}/f{k:05d}" for k in range(p["files"])]


def big_paths(p):
    return [f"big/g{k:02d}" for k in range(p["big"])]


def small_data(block, k):
    return f"{k:08d}".encode() + block[8:]


def make_image(lower, p):
    block = os.urandom(SMALL)
    for k, q in enumerate(small_paths(p)):
        os.makedirs(os.path.dirname(f"{lower}/{q}"), exist_ok=True)
        with open(f"{lower}/{q}", "wb") as f:
            f.write(small_data(block, k))
    os.makedirs(f"{lower}/big")
    for q in big_paths(p):
        with open(f"{lower}/{q}", "wb") as f:
            f.write(os.urandom(BIG))
    dirs = sum(len(ds) for _, ds, _ in os.walk(lower))
    return dirs


def write_targets(p):
    """WRITES small files evenly spread over the image, and the big ones."""
    smalls = small_paths(p)
    n = min(p["writes"], len(smalls))
    return [smalls[i * len(smalls) // n] for i in range(n)], big_paths(p)


# ---- measuring ----------------------------------------------------------------

def chown_tree(root, uid, gid):
    """chown -R: the root, then every entry below it, top down."""
    os.lchown(root, uid, gid)
    for d, dirs, files in os.walk(root):
        for e in dirs + files:
            os.lchown(os.path.join(d, e), uid, gid)


def usage(mnt):
    """(used bytes, used inodes) of the filesystem at @mnt, after a sync;
    synced until two readings agree (ext4 frees the blocks of deleted
    files at its journal's commit)."""
    last = None
    for _ in range(5):
        os.sync()
        s = os.statvfs(mnt)
        now = ((s.f_blocks - s.f_bfree) * s.f_frsize, s.f_files - s.f_ffree)
        if now == last:
            break
        last = now
    return now


class KernelLog:
    """The kernel's messages from now on (/dev/kmsg, from its end)."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def lines(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                break
            except OSError:     # EPIPE: overwritten records; go on
                continue
            out.append(rec.split(";", 1)[-1].split("\n", 1)[0])
        os.close(self.fd)
        return out


class Refused(Exception):
    pass


class Union:
    """One configuration's union over @lower, with a fresh upper layer."""

    def __init__(self, cfg, lower, top, tag):
        self.cfg, self.lower = cfg, lower
        self.upper, self.work = f"{top}/{tag}/upper", f"{top}/{tag}/work"
        self.mnt = f"{top}/{tag}/merged"
        self.dir = f"{top}/{tag}"
        self.mounted = False

    def mount(self):
        for d in (self.upper, self.work, self.mnt):
            os.makedirs(d)
        fs, mc = self.cfg
        opts = (f"lowerdir={self.lower},upperdir={self.upper},"
                f"workdir={self.work},redirect_dir=on,index=off,metacopy={mc}")
        klog = KernelLog()
        if LIBC.mount(b"metacopy", self.mnt.encode(), FSTYPE[fs].encode(), 0,
                      opts.encode()):
            e = ctypes.get_errno()
            msgs = [m for m in klog.lines() if m.startswith(FSTYPE[fs] + ":")]
            raise Refused(f"mount refused: {os.strerror(e)}"
                          + (f" ({'; '.join(msgs)})" if msgs else ""))
        klog.lines()
        self.mounted = True
        return bench.mount_of(self.mnt)

    def remove(self):
        if self.mounted:
            if LIBC.umount2(self.mnt.encode(), 0):
                e = ctypes.get_errno()
                raise OSError(e, f"umount {self.mnt}: {os.strerror(e)}")
            self.mounted = False
        shutil.rmtree(self.dir)


def count_metacopy(upper):
    n = 0
    for d, _, files in os.walk(upper):
        for f in files:
            try:
                os.getxattr(os.path.join(d, f), XATTR_METACOPY,
                            follow_symlinks=False)
                n += 1
            except OSError:
                pass
    return n


def check_owner(root):
    bad = [os.path.join(d, e) for d, ds, fs in os.walk(root)
           for e in ds + fs
           if os.lstat(os.path.join(d, e)).st_uid != UID]
    if os.lstat(root).st_uid != UID:
        bad.append(root)
    if bad:
        raise RuntimeError(f"after the chown, {len(bad)} entries are not "
                           f"owned by {UID}, e.g. {bad[0]}")


def check_written(u, rels):
    """Each written file reads back through the union as the image's file
    with 'x' first, and its upper copy holds all of it, no metacopy."""
    for q in rels:
        with open(f"{u.lower}/{q}", "rb") as f:
            want = b"x" + f.read()[1:]
        with open(f"{u.mnt}/{q}", "rb") as f:
            got = f.read()
        with open(f"{u.upper}/{q}", "rb") as f:
            up = f.read()
        if got != want or up != want:
            raise RuntimeError(f"{q} after its first write: the union shows "
                               f"{len(got)} bytes, the upper copy holds "
                               f"{len(up)}, {'equal' if got == up else 'unequal'}"
                               f"; the image's file with 'x' first is "
                               f"{len(want)} bytes, and "
                               f"{'matches' if got == want else 'differs'}")
        try:
            os.getxattr(f"{u.upper}/{q}", XATTR_METACOPY)
            raise RuntimeError(f"{q}: its upper copy still has "
                               f"{XATTR_METACOPY} after a write")
        except OSError:
            pass


def one(cfg, back, lower, top, r, p, smalls, bigs):
    """One configuration's turn in round @r: a dict of its figures."""
    u = Union(cfg, lower, top, f"{cfg[0]}-{cfg[1]}-{r}")
    try:
        fstype, options = u.mount()
        if fstype != FSTYPE[cfg[0]]:
            raise RuntimeError(f"{u.mnt} is {fstype}, not {FSTYPE[cfg[0]]}")
        drop_and_settle(back)
        used0, inodes0 = usage(back.mnt)
        t = time.perf_counter()
        chown_tree(u.mnt, UID, GID)
        t_chown = time.perf_counter() - t
        used1, inodes1 = usage(back.mnt)
        mcs = count_metacopy(u.upper)
        check_owner(u.mnt)
        drop_and_settle(back)
        ws = {}
        for kind, rels in (("4k", smalls), ("1m", bigs)):
            ws[kind] = [bench.first_write(f"{u.mnt}/{q}") for q in rels]
        used2, _ = usage(back.mnt)
        check_written(u, smalls + bigs)
    finally:
        try:
            u.remove()
        except FileNotFoundError:
            pass
        back.trim()
    out = dict(chown=t_chown * 1e3,
               upper_used=(used1 - used0) / (1 << 20),
               upper_inodes=inodes1 - inodes0,
               metacopy_files=mcs,
               chown_and_writes=(t_chown + sum(ws["4k"]) + sum(ws["1m"])) * 1e3,
               upper_used_after=(used2 - used0) / (1 << 20),
               options=options)
    for kind, ts in ws.items():
        if ts:
            out[f"first_write_{kind}"] = sum(ts) / len(ts) * 1e3
    return out


def drop_and_settle(back):
    bench.drop_caches()
    bench.settle(back.mnt)


UNITS = dict(chown="ms", first_write_4k="ms/file", first_write_1m="ms/file",
             chown_and_writes="ms", upper_used="MiB", upper_inodes="inodes",
             metacopy_files="files", upper_used_after="MiB")


def run(p, cfgs, back, clock):
    lower, top = f"{back.mnt}/image", f"{back.mnt}/ctr"
    os.makedirs(top)
    log(f"making the image: {p['files']} files of 4 KiB in {p['dirs']} "
        f"directories, {p['big']} of 1 MiB")
    ndirs = make_image(lower, p)
    smalls, bigs = write_targets(p)
    status = {name(c): dict(status="ok") for c in cfgs}
    samples = {}
    rows = orders(len(cfgs))
    for r in range(p["rounds"] + 1):
        # round 0 (the warm-up) takes the last order, round 1 the first
        order = [cfgs[i] for i in rows[(r - 1) % len(rows)]]
        what = "warm-up round" if r == 0 else f"round {r}/{p['rounds']}"
        log(f"{what}: {', '.join(name(c) for c in order)}")
        for c in order:
            st = status[name(c)]
            if st["status"] != "ok":
                continue
            try:
                got = one(c, back, lower, top, r, p, smalls, bigs)
            except Refused as e:
                st.update(status="refused", message=str(e))
                log(f"  {name(c)}: {e}; carrying on without it")
                continue
            except Exception as e:      # the others carry on
                st.update(status="failed",
                          message=f"{type(e).__name__}: {e}")
                log(f"!! {name(c)} failed: {st['message']}")
                continue
            st["options"] = got.pop("options")
            log(f"  {name(c)}: chown {got['chown']:.0f} ms, upper "
                f"{got['upper_used']:.1f} MiB / {got['upper_inodes']} inodes, "
                f"{got['metacopy_files']} metacopy; first write "
                f"{got.get('first_write_4k', 0):.3f} ms (4 KiB), "
                f"{got.get('first_write_1m', 0):.2f} ms (1 MiB); upper after "
                f"{got['upper_used_after']:.1f} MiB")
            if r:
                for w, v in got.items():
                    samples.setdefault((c, w), []).append(v)
    recs = []
    for (c, w), xs in samples.items():
        q1, med, q3 = bench.quartiles(xs)
        recs.append(dict(driver=c[0], workload=w, value=med, unit=UNITS[w],
                         backing="ext4",
                         params=dict(metacopy=c[1], q1=q1, q3=q3,
                                     samples=[round(x, 4) for x in xs],
                                     clock=clock, files=p["files"],
                                     dirs=ndirs, big=p["big"],
                                     writes=len(smalls))))
    return recs, status


def write_results(out, meta, recs, status, log):
    """Write @meta and @recs to @out (whole or not at all), say through
    @log which configurations were refused or failed; the exit status:
    1 if one failed."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dict(meta=meta, records=recs), f, indent=1)
    os.replace(tmp, out)
    bad = {k: v for k, v in status.items() if v["status"] != "ok"}
    for k, v in bad.items():
        log(f"{k}: " + ("" if v["status"] == "refused" else "FAILED: ")
            + v["message"])
    log(f"wrote {len(recs)} records to {out}")
    return 1 if any(v["status"] == "failed" for v in bad.values()) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="the quick profile (make bench-quick): "
                         + json.dumps(PROFILES["quick"]))
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--clock", choices=["wall", "icount"], default="wall",
                    help="what the guest clock counts: wall (default) or "
                         "icount (scripts/vm --icount); a label")
    what = dict(files="small files in the image", dirs="directories "
                "they are spread over", big="1 MiB files in the image",
                writes="small files written after the chown",
                rounds="recorded rounds, after one warm-up round")
    for k in ("files", "dirs", "big", "writes", "rounds"):
        ap.add_argument(f"--{k}", type=int,
                        help=f"{what[k]}: default {PROFILES['full'][k]} "
                             f"(quick {PROFILES['quick'][k]})")
    ap.add_argument("--configs", default=",".join(
        f"{fs}:{mc}" for fs, mc in CONFIGS),
        help="comma-separated fs:metacopy pairs (default: all four)")
    a = ap.parse_args()
    prof = "quick" if a.quick else "full"
    p = dict(PROFILES[prof])
    for k in p:
        if getattr(a, k) is not None:
            p[k] = getattr(a, k)
    if p["files"] < 1 or p["dirs"] < 1 or p["big"] < 0 or p["writes"] < 1 \
            or p["rounds"] < 1:
        ap.error("--files, --dirs, --writes and --rounds must be positive")
    cfgs = []
    for x in a.configs.split(","):
        c = tuple(x.split(":"))
        if c not in CONFIGS:
            ap.error(f"--configs: {x} is not one of "
                     + ", ".join(f"{fs}:{mc}" for fs, mc in CONFIGS))
        cfgs.append(c)
    if os.environ.get("COWFS_VM") != "1" or os.geteuid():
        sys.exit("metacopy.py runs as root in the test VM: use "
                 "make bench-metacopy")

    log(f"profile {prof}, clock {a.clock}: {json.dumps(p)}")
    for mod in ("loop", "ext4", "overlay"):
        subprocess.run(["modprobe", mod], check=False)
    os.makedirs(BASE, exist_ok=True)
    bench.sh("mount", "-t", "tmpfs", "-o", "size=75%", "metacopy", BASE)
    bench.BASE = BASE   # where Backing puts its loop file and mount
    back = None
    try:
        back = bench.Backing("ext4", [
            "mkfs.ext4", "-q", "-F", "-E",
            "nodiscard,lazy_itable_init=0,lazy_journal_init=0"], size="2G")
        recs, status = run(p, cfgs, back, a.clock)
    finally:
        if back:
            back.close()
        subprocess.run(["umount", BASE], check=False)

    meta = dict(profile=prof, kernel=platform.release(), clock=a.clock,
                qemu_mode=bench.qemu_mode(),
                date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                vcpus=os.cpu_count(), seconds=round(time.monotonic() - T0),
                params=p, uid=UID, configs=status,
                orders=[[name(cfgs[i]) for i in o]
                        for o in orders(len(cfgs))],
                **hotpath.module_info())
    return write_results(a.out, meta, recs, status, log)


if __name__ == "__main__":
    sys.exit(main())
