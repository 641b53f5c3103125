#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hot paths of a union: overlayfs, cowfs and the layer used directly.

Runs inside the scripts/vm guest as root, in a VM whose clock counts guest
instructions (scripts/vm --icount; scripts/bench/run.sh starts it), and
writes the raw records to OUT (JSON) for scripts/bench/report.py (issue 14,
item 3).

Every layer is a directory of one tmpfs, so what is measured is the
union's own work.  The timed loops are in C (hotpath.c, compiled into the
guest's /tmp at start), one process per timed pass, with relative paths
from the union's root; hotpath-helper sleeps 100 ms (idle time, which
--icount skips) so that the last unmount's deferred work is done, then
prints the nanoseconds of its loop.

Layer-count workloads, for N in --layers (1, 16, 64, 128; quick 1, 16, 64):
the union of the N bottom layers of a 128-layer stack.  Every layer has a
directory d/ and eight PATH-like directories p0..p7 with a few files of
its own, so each of them is merged across all N layers (as usr/ is in real
images); the bottom layer also holds d/f0000..f1999.
  stat_cold_N     stat(2) of the 2,000 bottom-layer files d/fNNNN
  miss_cold_N     a PATH search for 250 commands that no layer has: a
                  stat(2) of each in p0, p1, .. p7 (2,000 misses)
"Cold": the union is mounted afresh for every timed pass, so none of its
dentries or inodes is cached.  Not drop_caches: it frees only the dentries
nobody holds, and the layers cannot be made cold anyway (tmpfs dentries are
the tmpfs's storage and stay pinned).  A new mount is cold by construction,
and every driver meets the layers in the same state: their positive
dentries cached, and no negative ones (tmpfs keeps none), so a miss in a
layer is a real lookup every time.

Workloads on a union of 4 layers (a fresh mount per round and driver):
  readdir_merged  list rd/, 10,000 entries, 2,500 from each layer, 5 times
                  (the first right after the mount)
  pread_cached    20,000 4 KiB preads at random offsets of a 16 MiB bottom-
                  layer file, its pages cached by an untimed read
  open_close      5,000 open + close of 500 bottom-layer files, after one
                  untimed pass over them
  create_stat_unlink   3,000 create + stat + unlink in m/, a directory
                  merged from all 4 layers

direct: the layer-count workloads on the bottom layer itself, the others on
a plain directory holding what the 4-layer union shows.  overlayfs is
mounted with 'mount -t overlay', cowfs with 'mount -t cowfs', both with
lowerdir=top:..:bottom,upperdir=,workdir= and nothing else: an empty upper
directory, as a container's.

The three take turns in every round, the first of them rotating from round
to round; round 0 warms up and is not recorded.  The records are medians
with the first and third quartiles of the recorded rounds.
"""

import argparse
import ctypes
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(REPO, "scripts", "bench", "hotpath.c")
HELPER = "/tmp/hotpath-helper"
BASE = "/tmp/hot"
DRIVERS = ["overlayfs", "cowfs", "direct"]
FSTYPE = {"overlayfs": "overlay", "cowfs": "cowfs"}
FIXED = ("readdir_merged", "pread_cached", "open_close", "create_stat_unlink")

COMMON = dict(stat_files=2000, path_dirs=8, misses=2000, own_files=4,
              fixed_layers=4, readdir=10000, readdir_reps=5, preads=20000,
              data_mib=16, opens=5000, open_files=500, cycles=3000)
PROFILES = {
    "quick": dict(COMMON, layers=[1, 16, 64], rounds=3),
    "full": dict(COMMON, layers=[1, 16, 64, 128], rounds=5),
}

T0 = time.monotonic()
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(f"[hotpath {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr,
          flush=True)


def quartiles(xs):
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(sorted(xs), n=4, method="inclusive")
    return q[0], q[1], q[2]


def touch(path):
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def build_helper():
    log(f"compiling {os.path.relpath(SRC, REPO)} into {HELPER}")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
                    HELPER, SRC], check=True)


def helper(args, cwd, paths=None, want=None):
    """Run one timed pass; return its seconds.  @want: the operations that
    must come out as expected, else the pass (and the run) fails."""
    r = subprocess.run([HELPER] + [str(a) for a in args], cwd=cwd, text=True,
                       input="\n".join(paths) + "\n" if paths else "",
                       capture_output=True)
    if r.returncode:
        raise RuntimeError(f"hotpath-helper {args[0]} in {cwd} failed "
                           f"({r.returncode}): {r.stderr.strip()}")
    ns, ok, bad = (int(x) for x in r.stdout.split())
    if bad or (want is not None and ok != want):
        raise RuntimeError(f"hotpath-helper {args[0]} in {cwd}: {ok} as "
                           f"expected, {bad} not (wanted {want})")
    return ns / 1e9


# ---- layers -------------------------------------------------------------------

def layer(i):
    return f"{BASE}/L/{i}"


def make_layers(p, nmax):
    """The layer stack of the layer-count workloads: layer 0 is the bottom."""
    for i in range(nmax):
        for d in ["d"] + [f"p{k}" for k in range(p["path_dirs"])]:
            os.makedirs(f"{layer(i)}/{d}")
            for k in range(p["own_files"]):
                touch(f"{layer(i)}/{d}/own{i}_{k}")
    for j in range(p["stat_files"]):
        touch(f"{layer(0)}/d/f{j:04d}")


def fixed(i):
    return f"{BASE}/F/{i}"


def make_fixed(p):
    """The 4-layer union of the other workloads, and 'flat': the tree it
    shows, as a plain directory (direct's)."""
    n = p["fixed_layers"]
    flat = fixed("flat")
    for d in ("rd", "m", "o"):
        os.makedirs(f"{flat}/{d}")
    per = p["readdir"] // n
    for i in range(n):
        for d in ("rd", "m"):
            os.makedirs(f"{fixed(i)}/{d}")
        for j in range(per):
            for top in (fixed(i), flat):
                touch(f"{top}/rd/r{i}_{j:05d}")
        for k in range(p["own_files"]):
            for top in (fixed(i), flat):
                touch(f"{top}/m/own{i}_{k}")
    os.makedirs(f"{fixed(0)}/o")
    for j in range(p["open_files"]):
        for top in (fixed(0), flat):
            touch(f"{top}/o/o{j:03d}")
    block = os.urandom(1 << 20)
    for top in (fixed(0), flat):
        with open(f"{top}/data", "wb") as f:
            for _ in range(p["data_mib"]):
                f.write(block)


# ---- mounts -------------------------------------------------------------------

class Union:
    """@driver's view of @lowers (top first): a fresh mount of it with an
    empty upper layer, or for direct the directory @direct itself."""
    serial = 0

    def __init__(self, driver, lowers, direct):
        self.driver, self.lowers, self.direct = driver, lowers, direct
        self.mnt = None

    def __enter__(self):
        if self.driver == "direct":
            return self.direct
        Union.serial += 1
        tag = f"{self.driver}{Union.serial}"
        self.upper, self.work = f"{BASE}/u/{tag}", f"{BASE}/w/{tag}"
        self.mnt = f"{BASE}/m/{self.driver}"
        for d in (self.upper, self.work, self.mnt):
            os.makedirs(d, exist_ok=True)
        opts = (f"lowerdir={':'.join(self.lowers)},upperdir={self.upper},"
                f"workdir={self.work}")
        if len(opts) >= PAGE:
            raise RuntimeError(f"{len(opts)}-byte mount options: shorten "
                               f"{BASE} (mount(2) takes one page)")
        if LIBC.mount(b"hotpath", self.mnt.encode(),
                      FSTYPE[self.driver].encode(), 0, opts.encode()):
            e = ctypes.get_errno()
            raise OSError(e, f"mount -t {FSTYPE[self.driver]} with "
                          f"{len(self.lowers)} layers: {os.strerror(e)}")
        return self.mnt

    def __exit__(self, *exc):
        if self.mnt is None:
            return
        if LIBC.umount2(self.mnt.encode(), 0):
            e = ctypes.get_errno()
            raise OSError(e, f"umount {self.mnt}: {os.strerror(e)}")
        shutil.rmtree(self.upper)
        shutil.rmtree(self.work)


# ---- the rounds ---------------------------------------------------------------

def stat_paths(p):
    return [f"d/f{j:04d}" for j in range(p["stat_files"])]


def miss_paths(p):
    """A shell's PATH search: each command in every directory, in order."""
    return [f"p{k}/nocmd{c:03d}"
            for c in range(p["misses"] // p["path_dirs"])
            for k in range(p["path_dirs"])]


def open_paths(p):
    per = p["opens"] // p["open_files"]
    return [f"o/o{j:03d}" for _ in range(per) for j in range(p["open_files"])]


def cycle_paths(p):
    return [f"m/new{j:05d}" for j in range(p["cycles"])]


def layer_round(p, order, n, times):
    lowers = [layer(i) for i in reversed(range(n))]
    for workload, op, paths in (("stat_cold", "stat", stat_paths(p)),
                                ("miss_cold", "enoent", miss_paths(p))):
        for d in order:
            with Union(d, lowers, layer(0)) as root:
                t = helper([op], root, paths, want=len(paths))
            times.setdefault((d, f"{workload}_{n}", n, len(paths)),
                             []).append(t)


def fixed_round(p, order, times):
    n = p["fixed_layers"]
    lowers = [fixed(i) for i in reversed(range(n))]
    for d in order:
        with Union(d, lowers, fixed("flat")) as root:
            reps = p["readdir_reps"]
            runs = [("readdir_merged", reps,
                     lambda: helper(["readdir", "rd", reps], root,
                                    want=reps * p["readdir"])),
                    ("pread_cached", p["preads"],
                     lambda: helper(["pread", "data", p["preads"]], root,
                                    want=p["preads"])),
                    ("open_close", p["opens"],
                     lambda: helper(["open"], root, open_paths(p),
                                    want=p["opens"])),
                    ("create_stat_unlink", p["cycles"],
                     lambda: helper(["cycle"], root, cycle_paths(p),
                                    want=p["cycles"]))]
            for workload, ops, fn in runs:
                times.setdefault((d, workload, n, ops), []).append(fn())


def run(p, drivers, clock):
    times = {}
    for r in range(p["rounds"] + 1):
        k = r % len(drivers)
        order = drivers[k:] + drivers[:k]
        what = "warm-up round" if r == 0 else f"round {r}/{p['rounds']}"
        log(f"{what}: order {', '.join(order)}")
        rt = {}
        for n in p["layers"]:
            layer_round(p, order, n, rt)
            log(f"  {n} layer{'s' if n > 1 else ''}: " + ", ".join(
                f"{d} {rt[(d, f'stat_cold_{n}', n, p['stat_files'])][0]:.4f}"
                f"/{rt[(d, f'miss_cold_{n}', n, p['misses'])][0]:.4f}"
                for d in drivers) + " s (stat/miss)")
        fixed_round(p, order, rt)
        for (d, w, n, _), ts in rt.items():
            if n == p["fixed_layers"] and w in FIXED:
                log(f"  {w} over {n} layers: {d} {ts[0]:.4f} s")
        if r:
            for key, ts in rt.items():
                times.setdefault(key, []).extend(ts)
    recs = []
    for (d, workload, n, ops), ts in times.items():
        ms = [t * 1e3 for t in ts]
        q1, med, q3 = quartiles(ms)
        recs.append(dict(driver=d, workload=workload, value=med, unit="ms",
                         params=dict(layers=n, ops=ops, q1=q1, q3=q3,
                                     samples=[round(x, 4) for x in ms],
                                     clock=clock)))
    return recs


def module_info():
    """What was measured: the cowfs.ko that scripts/vm loaded, the tree it
    was built from (git describe), overlayfs's defaults."""
    info = {}
    ko = os.environ.get("COWFS_MODULE")
    if ko and os.path.isfile(ko):
        with open(ko, "rb") as f:
            info["cowfs_ko_sha256"] = hashlib.sha256(f.read()).hexdigest()
    pdir = "/sys/module/overlay/parameters"
    if os.path.isdir(pdir):
        params = {}
        for k in sorted(os.listdir(pdir)):
            try:
                with open(f"{pdir}/{k}") as f:
                    params[k] = f.read().strip()
            except OSError:
                pass
        info["overlay_params"] = params
    r = subprocess.run(["git", "-c", "safe.directory=*", "-C", REPO,
                        "describe", "--always", "--dirty"],
                       capture_output=True, text=True, check=False)
    if r.returncode == 0:
        info["git"] = r.stdout.strip()
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="layers 1, 16, 64 and 3 rounds (make bench-quick)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--clock", choices=["wall", "icount"], default="icount",
                    help="what the guest clock counts: icount (default, "
                         "scripts/vm --icount) or wall; a label")
    ap.add_argument("--layers", help="comma-separated layer counts "
                    "(default: the profile's)")
    ap.add_argument("--rounds", type=int, help="recorded rounds "
                    "(default: 5, quick 3)")
    ap.add_argument("--drivers", default=",".join(DRIVERS),
                    help="comma-separated, of " + ", ".join(DRIVERS))
    a = ap.parse_args()
    prof = "quick" if a.quick else "full"
    p = dict(PROFILES[prof])
    if a.layers:
        p["layers"] = sorted({int(x) for x in a.layers.split(",") if x})
    if a.rounds:
        p["rounds"] = a.rounds
    drivers = [x for x in a.drivers.split(",") if x]
    if not drivers or set(drivers) - set(DRIVERS):
        ap.error(f"--drivers: a list of {', '.join(DRIVERS)}")
    if min(p["layers"]) < 1 or p["rounds"] < 1:
        ap.error("layer counts and rounds must be positive")
    if os.environ.get("COWFS_VM") != "1" or os.geteuid():
        sys.exit("hotpath.py runs as root in the test VM: use make bench-hotpath")

    log(f"profile {prof}, clock {a.clock}: {json.dumps(p)}")
    subprocess.run(["modprobe", "overlay"], check=False)
    build_helper()
    os.makedirs(BASE, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50%", "hotpath", BASE],
                   check=True)
    try:
        log(f"making {max(p['layers'])} layers and the 4-layer tree")
        make_layers(p, max(p["layers"]))
        make_fixed(p)
        recs = run(p, drivers, a.clock)
    finally:
        subprocess.run(["umount", "-R", BASE], check=False)

    meta = dict(profile=prof, kernel=platform.release(), clock=a.clock,
                date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                vcpus=os.cpu_count(), seconds=round(time.monotonic() - T0),
                drivers=drivers, params=p, cold="a fresh mount of the union",
                **module_info())
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dict(meta=meta, records=recs), f, indent=1)
    os.replace(tmp, a.out)
    log(f"wrote {len(recs)} records to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
