#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Storage driver benchmark: cowfs, overlay2, devicemapper, btrfs, zfs.

Runs inside the scripts/vm guest as root (scripts/bench/run.sh starts it),
drives every storage driver through tools/cowctl/cowctl and writes the
raw records to OUT (JSON).  scripts/bench/report.py turns them into the
table, the plots and docs/benchmarks.md.

Storage, all in a tmpfs of its own so every driver sits on the same medium:
  ext4 on a loop device   backing filesystem of cowfs and overlay2, and the
                          'direct' baseline (the workload on a plain
                          directory of that filesystem)
  xfs (reflink=1), loop   second backing filesystem of cowfs and overlay2
                          for the first-write comparison (issue 3)
  devicemapper, btrfs, zfs: their own loop devices, made by cowctl

Workloads (--quick makes the counts and sizes smaller, see PROFILES):
  create_mount_N      cowctl container create + mount, image of N layers
  first_write_SIZE    open + 1-byte write + close of a lower file (copy-up);
                      cowfs and overlay2 are measured together, taking
                      turns (overlay2 first in even rounds, cowfs in odd
                      ones) after an untimed warm-up round, fw_reps rounds
  fio_{seq,rand}_{cold,warm}   fio read of an image file, fio_reps runs
  files_{create,stat,unlink}   N files in a container directory
  readdir             listdir of an N-entry directory merged from 2 layers
  page_cache          page cache (+ ZFS ARC) after 10 containers read the
                      same image file
  disk_space          backing store growth after 10 containers each
                      change one byte of the same image file
  rootless_*          rootless containers (uid 1000, 'unshare -Urm'):
                      create + mount, first write, and create / stat /
                      chmod / rename / unlink of small files in a merged
                      directory, on cowfs and overlayfs mounted in the
                      user namespace (userxattr) and on fuse-overlayfs,
                      taking turns in all 6 orders (see w_rootless)
"""

import argparse
import ctypes
import itertools
import json
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COWCTL = os.path.join(REPO, "tools", "cowctl", "cowctl")
BASE = "/tmp/bench"
DRIVERS = ["overlay2", "cowfs", "devicemapper", "btrfs", "zfs"]
GROUPS = ["first_write", "layers", "fio", "files", "readdir", "sharing",
          "upper_xfs", "rootless"]
ONLY = set(GROUPS)
# groups that neither run_direct nor run_driver measures
SOLO = {"upper_xfs", "rootless"}

PROFILES = {
    "quick": dict(layers=[1, 8], reps=1, files=1000, readdir=1000,
                  data_mib=8, fw_sizes=[4096, 1 << 20, 64 << 20], fw_reps=5,
                  nctr=10, fio_rand_io_mib=4, fio_reps=3),
    "full": dict(layers=[1, 16, 64, 128], reps=3, files=10000, readdir=10000,
                 data_mib=64, fw_sizes=[4096, 1 << 20, 64 << 20], fw_reps=9,
                 nctr=10, fio_rand_io_mib=16, fio_reps=3),
}

T0 = time.monotonic()
RECORDS = []
CLOCK = "wall"          # "icount" when the VM counts instructions (--clock)
PAIR = ("overlay2", "cowfs")   # first write: measured together, in turns


def log(msg):
    print(f"[bench {time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def sh(*args, check=True, capture=True, env=None, stdin=None):
    r = subprocess.run(args, check=False, text=True, env=env, stdin=stdin,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): "
                           f"{(r.stderr or '').strip()}")
    return r.stdout if capture else ""


def record(driver, workload, value, unit, backing=None, **params):
    rec = dict(driver=driver, workload=workload, value=value, unit=unit)
    if backing:
        rec["backing"] = backing
    if params:
        rec["params"] = params
    RECORDS.append(rec)
    log(f"  {driver:12s} {workload:22s} {value:12.3f} {unit}"
        + (f"  [{backing}]" if backing else ""))


def zfs_tune():
    """An ARC that drop_caches empties (no per-call shrinker limit) and
    that leaves memory for the rest."""
    for k, v in (("zfs_arc_shrinker_limit", "0"),
                 ("zfs_arc_max", str(1 << 30))):
        try:
            with open(f"/sys/module/zfs/parameters/{k}", "w") as f:
                f.write(v)
        except OSError as e:
            log(f"!! cannot set zfs {k}: {e}")


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def cold(d, ctrs=()):
    """Empty the caches.  drop_caches leaves ZFS' ARC at zfs_arc_min
    (1/32 of RAM), so for zfs the pool is also exported and imported
    ('cowctl driver down', then mounting @ctrs again)."""
    if d is not None and d.name == "zfs":
        d.cow("driver", "down")
        for c in ctrs:
            d.mount(c)
    drop_caches()


def meminfo():
    m = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            m[k] = int(v.split()[0]) * 1024
    return m


def arc_size():
    try:
        with open("/proc/spl/kstat/zfs/arcstats") as f:
            for line in f:
                p = line.split()
                if p and p[0] == "size":
                    return int(p[2])
    except OSError:
        pass
    return 0


def cached_bytes():
    m = meminfo()
    # tmpfs pages (the loop files) are Shmem: not page cache of the files
    return m["Cached"] - m["Shmem"] + arc_size()


def write_pattern(path, size):
    block = os.urandom(min(size, 1 << 20))
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def read_all(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass


def first_write(path):
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, b"x", 0)
    os.close(fd)
    return time.perf_counter() - t


def median(xs):
    return statistics.median(xs)


def size_name(n):
    return f"{n >> 20}m" if n >= 1 << 20 else f"{n >> 10}k"


def timed(fn, *a):
    t = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t


# ---- storage ----------------------------------------------------------------

class Backing:
    """A filesystem on a loop device on the bench tmpfs."""

    def __init__(self, name, mkfs, size="6G"):
        self.name = name
        self.img = f"{BASE}/{name}.img"
        self.mnt = f"{BASE}/{name}"
        sh("truncate", "-s", size, self.img)
        self.dev = sh("losetup", "--find", "--show", self.img).strip()
        sh(*mkfs, self.dev)
        os.makedirs(self.mnt, exist_ok=True)
        sh("mount", "-o", "discard", self.dev, self.mnt)

    def trim(self):
        os.sync()
        subprocess.run(["fstrim", self.mnt], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self):
        sh("umount", self.mnt)
        sh("losetup", "-d", self.dev)
        os.unlink(self.img)


class Driver:
    """One cowctl storage driver with its own root."""

    def __init__(self, name, root, backing):
        self.name = name
        self.root = root
        self.backing = backing
        self.env = dict(os.environ, COWCTL_DRIVER=name, COWCTL_ROOT=root)

    def cow(self, *args, stdin=None):
        return sh(COWCTL, *args, env=self.env, stdin=stdin).strip()

    def image(self, name, src, parent=None):
        args = ["image", "import"] + (["--parent", parent] if parent else [])
        self.cow(*args, name, src)

    def create(self, image, ctr):
        self.cow("container", "create", image, ctr)

    def mount(self, ctr):
        return self.cow("container", "mount", ctr)

    def rm(self, *ctrs):
        self.cow("container", "rm", "--force", *ctrs)

    def df_used(self):
        return json.loads(self.cow("--json", "driver", "df"))["used"]

    def destroy(self):
        self.cow("driver", "destroy")


def make_sources(p):
    """Layer sources on the bench tmpfs, shared by every driver."""
    src = f"{BASE}/src"
    if os.path.isdir(src):
        return src
    log("making the layer sources")
    os.makedirs(f"{src}/fw")
    for n in p["fw_sizes"]:
        write_pattern(f"{src}/fw/f{size_name(n)}", n)
    write_pattern(f"{src}/fw/data", p["data_mib"] << 20)
    half = p["readdir"] // 2
    for i, part in enumerate(("rd0", "rd1")):
        d = f"{src}/{part}/big"
        os.makedirs(d)
        for j in range(half):
            open(f"{d}/e{i}_{j:05d}", "w").close()
    for n in range(1, max(p["layers"]) + 1):
        d = f"{src}/chain/{n}"
        os.makedirs(d)
        with open(f"{d}/layer{n}", "w") as f:
            f.write(f"{n}\n")
    return src


# ---- workloads --------------------------------------------------------------

def w_layers(d, p, src):
    log(f"{d.name}: image chain of {max(p['layers'])} layers")
    t = time.perf_counter()
    parent = None
    for n in range(1, max(p["layers"]) + 1):
        d.image(f"chain{n}", f"{src}/chain/{n}", parent)
        parent = f"chain{n}"
    log(f"{d.name}:   built in {time.perf_counter() - t:.1f}s")
    d.create("chain1", "warmup")  # untimed: first-use costs out of the way
    d.mount("warmup")
    d.rm("warmup")
    for n in p["layers"]:
        times = []
        for r in range(p["reps"]):
            ctr = f"l{n}r{r}"
            t = time.perf_counter()
            d.create(f"chain{n}", ctr)
            d.mount(ctr)
            times.append(time.perf_counter() - t)
            d.rm(ctr)
        record(d.name, f"create_mount_{n}", median(times) * 1e3, "ms",
               d.backing, layers=n)


def w_first_write(d, p, tag=""):
    for n in p["fw_sizes"]:
        times = []
        for r in range(p["reps"]):
            ctr = f"fw{size_name(n)}r{r}"
            d.create("fw", ctr)
            m = d.mount(ctr)
            drop_caches()
            times.append(first_write(f"{m}/f{size_name(n)}"))
            d.rm(ctr)
        record(d.name, f"first_write_{size_name(n)}", median(times) * 1e3,
               "ms", d.backing, size=n)


def quartiles(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 \
        else [xs[0]] * 3
    return q[0], q[1], q[2]


def settle(mnt):
    """Let the filesystem at @mnt finish the work that drop_caches and the
    last container's removal left it (xfs pushes its log items and reclaims
    inodes in the background): a freeze waits for all of it.  Otherwise
    that work lands in whichever first write comes next, and on xfs, where
    a clone copy-up takes a fraction of a millisecond, it decides the
    result."""
    sh("fsfreeze", "--freeze", mnt)
    sh("fsfreeze", "--unfreeze", mnt)


def w_first_write_pair(back, p, src, drivers):
    """cowfs and overlay2 on the same backing filesystem, taking turns.

    Timed one after the other (as run_driver does for the other drivers),
    the two would meet the backing filesystem, the page allocator and the
    emulator in different states, and under TCG a 64 MiB copy-up varies
    by 3x from one run to the next whatever the driver.  Here every round
    times one first write per driver and size, on fresh containers, in
    alternating order, after a warm-up round that is not recorded; caches
    are dropped and the filesystem settled before each."""
    ds = [Driver(n, f"{back.mnt}/root-{n}", back.name) for n in drivers]
    log(f"==> first write: {' and '.join(drivers)} in turns on {back.name} "
        f"({p['fw_reps']} rounds, clock {CLOCK})")
    t0 = time.monotonic()
    for d in ds:
        d.cow("driver", "up")
        d.image("fw", f"{src}/fw")
    times = {(d.name, n): [] for d in ds for n in p["fw_sizes"]}
    for r in range(p["fw_reps"] + 1):
        order = ds if r % 2 == 0 else ds[::-1]
        for n in p["fw_sizes"]:
            for d in order:
                ctr = f"fw{size_name(n)}r{r}"
                d.create("fw", ctr)
                m = d.mount(ctr)
                drop_caches()
                settle(back.mnt)
                t = first_write(f"{m}/f{size_name(n)}")
                d.rm(ctr)
                if r:   # round 0 warms up
                    times[(d.name, n)].append(t * 1e3)
        if r:
            log(f"  round {r}/{p['fw_reps']} done")
    for (name, n), xs in times.items():
        q1, med, q3 = quartiles(xs)
        record(name, f"first_write_{size_name(n)}", med, "ms", back.name,
               size=n, q1=q1, q3=q3, samples=[round(x, 4) for x in xs],
               clock=CLOCK, in_turns_with=[x for x in drivers if x != name])
    for d in ds:
        d.destroy()
    log(f"<== first write on {back.name}: {time.monotonic() - t0:.0f}s")


def fio(path, rw, bs, io_mib):
    """One fio run of two jobs: cold (fio invalidates the file's cache
    first) and then warm (no invalidation, the first job read it)."""
    out = sh("fio", f"--filename={path}", f"--rw={rw}", f"--bs={bs}",
             "--ioengine=psync", "--readonly", "--randrepeat=1",
             f"--io_size={io_mib}M", "--output-format=json",
             "--name=cold", "--invalidate=1",
             "--name=warm", "--invalidate=0", "--stonewall")
    jobs = {j["jobname"]: j["read"]["bw_bytes"] / (1 << 20)
            for j in json.loads(out)["jobs"]}
    return jobs["cold"], jobs["warm"]


def w_fio(name, backing, path, p, rw, make_cold):
    """fio_reps runs, the caches emptied by @make_cold before each but the
    first (which the caller starts cold); the median and quartiles."""
    kind = "seq" if rw == "read" else "rand"
    bs, io = ("1M", p["data_mib"]) if rw == "read" else \
        ("4k", p["fio_rand_io_mib"])
    runs = []
    for i in range(p["fio_reps"]):
        if i:
            make_cold()
        runs.append(fio(path, rw, bs, io))
    for job, xs in (("cold", [c for c, _ in runs]),
                    ("warm", [w for _, w in runs])):
        q1, med, q3 = quartiles(xs)
        record(name, f"fio_{kind}_{job}", med, "MiB/s", backing, q1=q1,
               q3=q3, samples=[round(x, 3) for x in xs])


def files_paths(d, p):
    return [f"{d}/f{i:05d}" for i in range(p["files"])]


def w_files(name, backing, d, p, op):
    paths = files_paths(d, p)
    if op == "create":
        os.makedirs(d)
        t = time.perf_counter()
        for q in paths:
            os.close(os.open(q, os.O_CREAT | os.O_WRONLY, 0o644))
    elif op == "stat":
        t = time.perf_counter()
        for q in paths:
            os.stat(q)
    else:
        t = time.perf_counter()
        for q in paths:
            os.unlink(q)
    t = time.perf_counter() - t
    record(name, f"files_{op}", len(paths) / t, "ops/s", backing,
           files=len(paths))


def w_readdir(name, backing, path, p):
    """Cold: the caller emptied the caches."""
    t = timed(os.listdir, path)
    got = len(os.listdir(path))
    if got != p["readdir"]:
        raise RuntimeError(f"{name}: readdir saw {got} entries, "
                           f"wanted {p['readdir']}")
    record(name, "readdir_cold", t * 1e3, "ms", backing, entries=got)
    t = median([timed(os.listdir, path) for _ in range(3)])
    record(name, "readdir_warm", t * 1e3, "ms", backing, entries=got)


def w_io(name, backing, p, data, newdir, rddir, make_cold):
    """fio, files and readdir, sharing two cold-cache points:
    create files | cold | stat, readdir, fio random | unlink | cold | fio
    sequential; fio's further runs each after a cold point of their own.
    @make_cold empties the caches (and remounts)."""
    if "files" in ONLY:
        w_files(name, backing, newdir, p, "create")
    make_cold()
    if "files" in ONLY:
        w_files(name, backing, newdir, p, "stat")
    if "readdir" in ONLY:
        w_readdir(name, backing, rddir, p)
    if "fio" in ONLY:
        w_fio(name, backing, data, p, "randread", make_cold)
    if "files" in ONLY:
        w_files(name, backing, newdir, p, "unlink")
    if "fio" in ONLY:
        make_cold()
        w_fio(name, backing, data, p, "read", make_cold)


def w_sharing(name, backing, paths, used, p, make_cold):
    """Page cache of reading the same file in every container; then the
    space that changing one byte in each costs.  @paths: the file in each
    container; @used: a function giving the backing store's used bytes."""
    make_cold()
    before = cached_bytes()
    for q in paths:
        read_all(q)
    record(name, "page_cache", (cached_bytes() - before) / (1 << 20), "MiB",
           backing, containers=len(paths), file_mib=p["data_mib"])
    before = used()
    for q in paths:
        fd = os.open(q, os.O_WRONLY)
        os.pwrite(fd, b"x", 0)
        os.close(fd)
    os.sync()
    record(name, "disk_space", (used() - before) / (1 << 20), "MiB", backing,
           containers=len(paths), file_mib=p["data_mib"])


def run_driver(d, p, src):
    log(f"==> {d.name} on {d.backing} (root {d.root})")
    t0 = time.monotonic()
    if d.name == "devicemapper":
        d.cow("driver", "up", "-o", "basesize=1G")  # a quicker mkfs
    else:
        d.cow("driver", "up")
    if d.name == "zfs":
        zfs_tune()
    d.image("fw", f"{src}/fw")
    if "first_write" in ONLY and d.name not in PAIR:
        w_first_write(d, p)
    if "layers" in ONLY:
        w_layers(d, p, src)

    if ONLY & {"fio", "files", "readdir"}:
        d.create("fw", "io")
        m = d.mount("io")
        d.image("rd0", f"{src}/rd0")
        d.image("rd1", f"{src}/rd1", "rd0")
        d.create("rd1", "rd")
        r = d.mount("rd")
        w_io(d.name, d.backing, p, f"{m}/data", f"{m}/newdir", f"{r}/big",
             lambda: cold(d, ["io", "rd"]))
        d.rm("io", "rd")

    if "sharing" in ONLY:
        ctrs = [f"share{i}" for i in range(p["nctr"])]
        paths = []
        for c in ctrs:
            d.create("fw", c)
            paths.append(f"{d.mount(c)}/data")
        w_sharing(d.name, d.backing, paths, d.df_used, p,
                  lambda: cold(d, ctrs))
        d.rm(*ctrs)
    d.destroy()
    log(f"<== {d.name}: {time.monotonic() - t0:.0f}s")


def statvfs_used(path):
    def used():
        os.sync()
        s = os.statvfs(path)
        return (s.f_blocks - s.f_bfree) * s.f_frsize
    return used


def run_direct(back, p, src):
    """The workloads on a plain directory of the backing filesystem."""
    name = "direct"
    log(f"==> direct: plain directories on {back.name}")
    t0 = time.monotonic()
    top = f"{back.mnt}/direct"
    os.makedirs(top)
    # create + mount: a new directory bind-mounted (no layers to combine)
    for n in p["layers"] if "layers" in ONLY else []:
        times = []
        for r in range(p["reps"]):
            c, m = f"{top}/c{n}_{r}", f"{top}/m{n}_{r}"
            t = time.perf_counter()
            os.mkdir(c)
            os.mkdir(m)
            sh("mount", "--bind", c, m)
            times.append(time.perf_counter() - t)
            sh("umount", m)
        record(name, f"create_mount_{n}", median(times) * 1e3, "ms",
               back.name, layers=n)
    for n in p["fw_sizes"] if "first_write" in ONLY else []:
        times = []
        for r in range(p["reps"]):
            q = f"{top}/f{size_name(n)}_{r}"
            shutil.copyfile(f"{src}/fw/f{size_name(n)}", q)
            drop_caches()
            times.append(first_write(q))
        record(name, f"first_write_{size_name(n)}", median(times) * 1e3,
               "ms", back.name, size=n)
    shutil.copyfile(f"{src}/fw/data", f"{top}/data")
    shutil.copytree(f"{src}/rd0/big", f"{top}/big")
    for e in os.listdir(f"{src}/rd1/big"):
        open(f"{top}/big/{e}", "w").close()
    w_io(name, back.name, p, f"{top}/data", f"{top}/newdir", f"{top}/big",
         drop_caches)
    if "sharing" in ONLY:
        # without copy-on-write each container is a plain copy
        used = statvfs_used(back.mnt)
        before = used()
        paths = []
        for i in range(p["nctr"]):
            q = f"{top}/copy{i}"
            shutil.copyfile(f"{src}/fw/data", q)
            paths.append(q)
        copies = used() - before
        w_sharing(name, back.name, paths, used, p, drop_caches)
        RECORDS[-1]["value"] += copies / (1 << 20)  # the copies are the cost
        RECORDS[-1]["params"]["note"] = "10 plain copies, one byte changed in each"
        log(f"  direct       disk_space with the copies: "
            f"{RECORDS[-1]['value']:.3f} MiB")
    shutil.rmtree(top)
    back.trim()
    log(f"<== direct: {time.monotonic() - t0:.0f}s")


# ---- rootless containers ----------------------------------------------------
#
# A rootless container engine (podman as an ordinary user) mounts its
# containers in a user namespace of its own: overlayfs with 'userxattr'
# since Linux 5.11, before that fuse-overlayfs.  cowfs can be mounted the
# same way (docs/containers.md).  The three are measured here as such an
# engine uses them: the work runs as uid ROOTLESS_UID in 'unshare -Urm', in
# a helper process (rootless_agent) that this one, root outside, drives
# step by step, so that it can drop the caches between the steps.

ROOTLESS_UID = 1000
# driver -> the file system type its mount must show in mountinfo
ROOTLESS = {"overlay-userns": "overlay", "cowfs-userns": "cowfs",
            "fuse-overlayfs": "fuse.fuse-overlayfs"}
# rounds: a multiple of 6, the orders of the three drivers
ROOTLESS_PROFILES = {
    "quick": dict(rounds=6, files=300, lower_files=200,
                  fw_sizes=[4096, 1 << 20]),
    "full": dict(rounds=12, files=1000, lower_files=500,
                 fw_sizes=[4096, 1 << 20, 64 << 20]),
}
ROOTLESS_FILE_OPS = ["create", "stat", "chmod", "rename", "unlink"]
ROOTLESS_FILE_DATA = b"r" * 100     # the content of each small file


class RootlessAgent:
    """The side of w_rootless in the user namespace: uid ROOTLESS_UID
    outside, root inside.  One request a line on stdin (JSON: op and
    args), one answer a line on stdout (JSON: ok or error); the timings
    are taken here, around the work alone."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mount.argtypes = [ctypes.c_char_p] * 3 + [
            ctypes.c_ulong, ctypes.c_char_p]
        self.libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.mounted = {}   # merged dir -> pid of its fuse daemon or None

    def _check(self, ret, what):
        if ret:
            e = ctypes.get_errno()
            raise OSError(e, f"{what}: {os.strerror(e)}")

    def op_hello(self):
        with open("/proc/self/uid_map") as f:
            uid_map = [[int(x) for x in line.split()] for line in f]
        return dict(euid=os.geteuid(), uid_map=uid_map)

    def op_create(self, driver, lowers, ctr, fuse_cmd):
        """Container create + mount: its three directories and the
        union.  overlayfs and cowfs by mount(2), as podman mounts
        overlayfs; fuse-overlayfs by running @fuse_cmd, as podman runs
        it (it returns once the union is mounted, its daemon serves
        it)."""
        upper, work, merged = (f"{ctr}/{x}" for x in
                               ("upper", "work", "merged"))
        opts = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
        if driver == "fuse-overlayfs":
            # its daemon keeps stdout and stderr open: files, not pipes
            with open(os.devnull, "w") as null, \
                    tempfile.TemporaryFile("w+") as err:
                t = time.perf_counter()
                for d in (ctr, upper, work, merged):
                    os.mkdir(d)
                rc = subprocess.call(fuse_cmd + ["-o", opts, merged],
                                     stdout=null, stderr=err)
                t = time.perf_counter() - t
                if rc:
                    err.seek(0)
                    raise RuntimeError(f"fuse-overlayfs exited with {rc}: "
                                       f"{err.read().strip()}")
        else:
            t = time.perf_counter()
            for d in (ctr, upper, work, merged):
                os.mkdir(d)
            self._check(self.libc.mount(b"none", merged.encode(),
                                        ROOTLESS[driver].encode(), 0,
                                        (opts + ",userxattr").encode()),
                        f"mount -t {ROOTLESS[driver]}")
            t = time.perf_counter() - t
        self.mounted[merged] = None
        if driver == "fuse-overlayfs":
            pids = pids_with_arg(merged)
            if len(pids) != 1:
                raise RuntimeError(f"{len(pids)} fuse-overlayfs daemons "
                                   f"serve {merged}")
            self.mounted[merged] = pids[0]
        fstype, options = mount_of(merged)
        return dict(seconds=t, merged=merged, fstype=fstype, options=options)

    def op_first_write(self, path, upper, size):
        """The first write to image file @path of the union, timed; then
        a check, not timed, that it copied all @size bytes up to
        @upper."""
        t = first_write(path)
        with open(upper, "rb") as f:
            head = f.read(1)
            end = f.seek(0, os.SEEK_END)
        if head != b"x" or end != size:
            raise RuntimeError(f"first write to {path}: {upper} holds "
                               f"{end} bytes starting {head!r}, not {size} "
                               f"starting b'x'")
        return t

    def op_files(self, op, d, n):
        """One of ROOTLESS_FILE_OPS on @n small files in directory @d;
        then a check, not timed, that it did what it should."""
        paths = [f"{d}/r{i:05d}" for i in range(n)]
        t = time.perf_counter()
        if op == "create":
            for q in paths:
                fd = os.open(q, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.write(fd, ROOTLESS_FILE_DATA)
                os.close(fd)
        elif op == "stat":
            sts = [os.stat(q) for q in paths]
        elif op == "chmod":
            for q in paths:
                os.chmod(q, 0o600)
        elif op == "rename":
            for q in paths:
                os.rename(q, q + "x")
        elif op == "unlink":
            for q in paths:
                os.unlink(q + "x")
        else:
            raise ValueError(f"no file operation {op}")
        t = time.perf_counter() - t
        names = set(os.listdir(d))
        if op == "stat":
            bad = [q for q, st in zip(paths, sts)
                   if st.st_size != len(ROOTLESS_FILE_DATA)]
        elif op == "chmod":
            bad = [q for q in paths if
                   stat.S_IMODE(os.stat(q).st_mode) != 0o600]
        elif op == "rename":
            bad = [q for q in paths if os.path.basename(q) in names or
                   os.path.basename(q) + "x" not in names]
        elif op == "unlink":
            bad = [q for q in paths if os.path.basename(q) + "x" in names]
        else:
            bad = [q for q in paths if os.path.basename(q) not in names]
        if bad:
            raise RuntimeError(f"files {op} in {d}: {len(bad)} of {n} wrong, "
                               f"e.g. {bad[0]}")
        return t

    def _umount(self, merged, flags=0):
        self._check(self.libc.umount2(merged.encode(), flags),
                    f"umount {merged}")
        pid = self.mounted.pop(merged)
        # the daemon exits once its union is gone: wait, so that it
        # does not run into the next step
        for _ in range(1000):
            if pid is None or not pid_alive(pid):
                return
            time.sleep(0.01)
        raise RuntimeError(f"fuse-overlayfs {pid} still runs after umount")

    def op_remove(self, ctr):
        self._umount(f"{ctr}/merged")
        shutil.rmtree(ctr)

    def close(self):
        for merged in list(self.mounted):
            try:
                self._umount(merged, 2)     # MNT_DETACH
            except (OSError, RuntimeError) as e:
                print(f"rootless agent: {e}", file=sys.stderr)


def pids_with_arg(arg):
    """The processes that have @arg in their command line."""
    pids = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if arg.encode() in argv:
                pids.append(int(e))
    return pids


def pid_alive(pid):
    """Is @pid there and not a zombie?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def mount_of(path):
    """(fstype, super options) of the mount on @path, from mountinfo."""
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            a, b = line.split(" - ", 1)
            if a.split()[4] == path:
                found = b.split()[0], b.split()[2]
    if found is None:
        raise RuntimeError(f"nothing is mounted on {path}")
    return found


def rootless_agent():
    """bench.py --rootless-agent: the RootlessAgent's request loop."""
    agent = RootlessAgent()
    try:
        for line in sys.stdin:
            req = json.loads(line)
            try:
                ans = dict(ok=getattr(agent, "op_" + req["op"])(*req["args"]))
            except Exception as e:  # the parent reports it and stops
                ans = dict(error=f"{req['op']}: {type(e).__name__}: {e}")
            sys.stdout.write(json.dumps(ans) + "\n")
            sys.stdout.flush()
    finally:
        agent.close()
    return 0


class Rootless:
    """The parent's end of a RootlessAgent: bench.py --rootless-agent as
    uid ROOTLESS_UID in 'unshare -Urm'.  The test VM has no udev, so
    /dev/fuse is root's only: a node open to all is bind-mounted over it
    in a mount namespace of the agent's own (as podman_test.sh does)."""

    def __init__(self, fuse_node):
        cmd = ["unshare", "--mount", "--propagation", "private",
               "sh", "-c", 'mount --bind "$0" /dev/fuse && exec "$@"',
               fuse_node,
               "setpriv", f"--reuid={ROOTLESS_UID}",
               f"--regid={ROOTLESS_UID}", "--clear-groups",
               "unshare", "-Urm",
               sys.executable, os.path.abspath(__file__), "--rootless-agent"]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def call(self, op, *args):
        self.p.stdin.write(json.dumps(dict(op=op, args=args)) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"the rootless agent exited "
                               f"({self.p.wait()}) during {op}")
        ans = json.loads(line)
        if "error" in ans:
            raise RuntimeError(f"rootless agent: {ans['error']}")
        return ans["ok"]

    def close(self):
        if self.p.stdin:
            self.p.stdin.close()
        try:
            self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def rootless_fuse_overlayfs(d):
    """fuse-overlayfs, its libraries and the dynamic loader copied to
    directory @d of the bench tmpfs; returns the command that runs it
    from there.  The guest's programs are on the host's root over 9p:
    each drop_caches would make the next fuse-overlayfs read itself from
    the host again (which the instruction clock counts as all the idle
    time it waits), where the kernel drivers' code stays in memory."""
    prog = shutil.which("fuse-overlayfs")
    os.makedirs(d)
    loader = None
    for line in sh("ldd", prog).splitlines():
        w = line.split()
        lib = w[2] if len(w) > 2 and w[1] == "=>" else w[0]
        if lib.startswith("/"):     # not linux-vdso.so.1
            shutil.copy(lib, d)
            if lib == w[0]:
                loader = f"{d}/{os.path.basename(lib)}"
    if loader is None:
        raise RuntimeError(f"ldd {prog} names no dynamic loader")
    shutil.copy(prog, d)
    return [loader, "--library-path", d, f"{d}/fuse-overlayfs"]


def rootless_image(top, rp, src):
    """Two image layers, owned by ROOTLESS_UID as a rootless engine's
    are: the first-write files in the lower one, and a directory 'dir'
    with rp['lower_files'] files in each (merged in every container)."""
    lowers = [f"{top}/image/app", f"{top}/image/base"]   # top layer first
    os.makedirs(f"{lowers[1]}/fw")
    for n in rp["fw_sizes"]:
        shutil.copyfile(f"{src}/fw/f{size_name(n)}",
                        f"{lowers[1]}/fw/f{size_name(n)}")
    for lw, c in zip(lowers, "ab"):
        os.makedirs(f"{lw}/dir", exist_ok=True)
        for i in range(rp["lower_files"]):
            with open(f"{lw}/dir/{c}{i:05d}", "w") as f:
                f.write(f"{c}{i}\n")
    for root, dirs, files in os.walk(top):
        for e in [root] + [os.path.join(root, x) for x in dirs + files]:
            os.lchown(e, ROOTLESS_UID, ROOTLESS_UID)
    return lowers


def w_rootless(back, rp, src):
    """Rootless containers on the three drivers of ROOTLESS, in turns.

    Every round makes one container per driver (timed: its directories
    and the mount) and times in each the first write to each image file
    of rp['fw_sizes'] (caches dropped and the filesystem settled before
    each, as in w_first_write_pair), the drivers taking turns at every
    step.  Then each driver in turn, from dropped caches, times create,
    stat (after another drop_caches), chmod, rename and unlink of
    rp['files'] small files in the merged directory 'dir', per file.
    Then the containers are removed.  The order of the drivers is one of
    the 6 in each round, so that each goes first, second and last, and
    after each of the others, equally often; round 0 warms up and is not
    recorded.  All of it on @back, in a directory of ROOTLESS_UID."""
    for tool in ("fuse-overlayfs", "unshare", "setpriv", "ldd"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} not found: run make deps")
    subprocess.run(["modprobe", "fuse"], check=False)
    # "fuse-overlayfs: version 1.10" among what --version prints
    version = next((ln.split()[-1] for ln in sh("fuse-overlayfs", "--version",
                                                check=False).splitlines()
                    if ln.startswith("fuse-overlayfs:")), None)
    ds = list(ROOTLESS)
    orders = list(itertools.permutations(ds))
    log(f"==> rootless containers: {', '.join(ds)} in turns on {back.name}, "
        f"as uid {ROOTLESS_UID} in 'unshare -Urm' ({rp['rounds']} rounds, "
        f"clock {CLOCK})")
    t0 = time.monotonic()
    top = f"{back.mnt}/rootless"
    os.makedirs(top)
    lowers = rootless_image(top, rp, src)
    fuse_cmd = rootless_fuse_overlayfs(f"{BASE}/fuse-overlayfs")
    fuse_node = f"{BASE}/fuse"
    if not os.path.exists(fuse_node):
        os.mknod(fuse_node, stat.S_IFCHR | 0o666, os.makedev(10, 229))
        os.chmod(fuse_node, 0o666)
    agent = Rootless(fuse_node)
    try:
        hello = agent.call("hello")
        if hello["euid"] != 0 or hello["uid_map"] != [[0, ROOTLESS_UID, 1]]:
            raise RuntimeError(f"the agent is not root of a user namespace "
                               f"of uid {ROOTLESS_UID}: {hello}")
        samples = {}

        def keep(r, d, w, v):
            if r:   # round 0 warms up
                samples.setdefault((d, w), []).append(v)

        for r in range(rp["rounds"] + 1):
            order = orders[r % len(orders)]
            merged = {}
            for d in order:
                c = agent.call("create", d, lowers, f"{top}/{d}-{r}",
                               fuse_cmd)
                opts = c["options"].split(",")
                if c["fstype"] != ROOTLESS[d] or \
                        d != "fuse-overlayfs" and "userxattr" not in opts:
                    raise RuntimeError(f"{d}: {c['merged']} is "
                                       f"{c['fstype']} ({c['options']})")
                merged[d] = c["merged"]
                keep(r, d, "rootless_create_mount", c["seconds"] * 1e3)
            for n in rp["fw_sizes"]:
                for d in order:
                    drop_caches()
                    settle(back.mnt)
                    f = f"fw/f{size_name(n)}"
                    t = agent.call("first_write", f"{merged[d]}/{f}",
                                   f"{top}/{d}-{r}/upper/{f}", n)
                    keep(r, d, f"rootless_first_write_{size_name(n)}",
                         t * 1e3)
            for d in order:
                for op in ROOTLESS_FILE_OPS:
                    if op in ("create", "stat"):
                        drop_caches()
                    t = agent.call("files", op, f"{merged[d]}/dir",
                                   rp["files"])
                    keep(r, d, f"rootless_files_{op}",
                         t / rp["files"] * 1e6)
            for d in order:
                agent.call("remove", f"{top}/{d}-{r}")
            log(f"  round {r}/{rp['rounds']} done ({', '.join(order)})"
                + (": warm-up, not recorded" if r == 0 else ""))
    finally:
        agent.close()
    for w in dict.fromkeys(w for _, w in samples):
        params = dict(clock=CLOCK, uid=ROOTLESS_UID)
        unit = "ms"
        if w.startswith("rootless_first_write_"):
            params["size"] = next(n for n in rp["fw_sizes"]
                                  if w.endswith("_" + size_name(n)))
        if w.startswith("rootless_files_"):
            params.update(files=rp["files"], lower_files=rp["lower_files"])
            unit = "us/file"
        for d in ds:
            xs = samples[(d, w)]
            q1, med, q3 = quartiles(xs)
            more = dict(version=version) if d == "fuse-overlayfs" else {}
            record(d, w, med, unit, back.name, q1=q1, q3=q3,
                   samples=[round(x, 4) for x in xs],
                   in_turns_with=[x for x in ds if x != d], **params,
                   **more)
    shutil.rmtree(top)
    back.trim()
    log(f"<== rootless containers: {time.monotonic() - t0:.0f}s")


def qemu_mode():
    with open("/proc/cpuinfo") as f:
        info = f.read()
    if "QEMU TCG" in info or os.environ.get("COWFS_VM") == "1" and \
            not os.path.exists("/dev/kvm") and "hypervisor" in info and \
            "kvm" not in open("/sys/devices/system/clocksource/clocksource0/"
                              "current_clocksource").read():
        return "TCG"
    return "KVM" if "hypervisor" in info else "native"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="smaller counts and sizes (make bench-quick)")
    ap.add_argument("--drivers", default=",".join(DRIVERS),
                    help="comma-separated drivers (default: all five)")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help="comma-separated workload groups: " + ", ".join(GROUPS))
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--clock", choices=["wall", "icount"], default="wall",
                    help="what the guest clock counts: wall (default) or "
                         "icount (scripts/vm --icount: guest instructions); "
                         "a label for the results")
    ap.add_argument("--mem-tmpfs", default="75%",
                    help="size of the bench tmpfs (default 75%% of RAM)")
    a = ap.parse_args()
    global CLOCK
    CLOCK = a.clock
    prof = "quick" if a.quick else "full"
    p = PROFILES[prof]
    drivers = [x for x in a.drivers.split(",") if x]
    for x in drivers:
        if x not in DRIVERS:
            ap.error(f"unknown driver {x}")
    ONLY.clear()
    ONLY.update(x for x in a.only.split(",") if x)
    if ONLY - set(GROUPS):
        ap.error(f"unknown workload groups {','.join(ONLY - set(GROUPS))}")
    if os.environ.get("COWFS_VM") != "1" or os.geteuid():
        sys.exit("bench.py runs as root in the test VM: use make bench")
    for tool in ("fio", "mkfs.xfs", "mkfs.ext4", "losetup"):
        if tool == "fio" and "fio" not in ONLY:
            continue
        if not shutil.which(tool):
            sys.exit(f"bench.py: {tool} not found: run make deps")

    log(f"profile {prof}: {json.dumps(p)}")
    for mod in ("loop", "ext4", "xfs", "overlay", "btrfs", "dm_thin_pool"):
        subprocess.run(["modprobe", mod], check=False)
    os.makedirs(BASE, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", f"size={a.mem_tmpfs}", "bench", BASE)
    src = make_sources(p)
    ext4 = Backing("ext4", ["mkfs.ext4", "-q", "-F", "-E",
                            "nodiscard,lazy_itable_init=0,lazy_journal_init=0"],
                   size="4G")
    xfs = None
    failed = []
    pair = [x for x in PAIR if x in drivers]
    try:
        if not ONLY - SOLO <= {"first_write"}:
            run_direct(ext4, p, src)
        # issue 3: cowfs and overlay2 in turns, on ext4 and on xfs
        if "first_write" in ONLY and len(pair) == 2:
            try:
                w_first_write_pair(ext4, p, src, pair)
            except Exception as e:
                log(f"!! first write of {'/'.join(pair)} failed: {e}")
                failed.append("first_write")
            ext4.trim()
        for name in drivers:
            if not ONLY - SOLO or \
                    ONLY - SOLO <= {"first_write"} and name in pair:
                continue    # nothing left to measure for it
            if name in PAIR:
                d = Driver(name, f"{ext4.mnt}/root", "ext4")
            else:
                d = Driver(name, f"{BASE}/root", name)
            try:
                run_driver(d, p, src)
            except Exception as e:  # keep going: report the others
                log(f"!! {name} failed: {e}")
                failed.append(name)
                subprocess.run([COWCTL, "driver", "destroy"], env=d.env,
                               check=False)
            ext4.trim()
        if "upper_xfs" in ONLY and len(pair) == 2:
            xfs = Backing("xfs", ["mkfs.xfs", "-q", "-f", "-m", "reflink=1"],
                          size="2G")
            try:
                w_first_write_pair(xfs, p, src, pair)
            except Exception as e:
                log(f"!! first write on xfs failed: {e}")
                failed.append("first_write@xfs")
        if "rootless" in ONLY:
            try:
                w_rootless(ext4, ROOTLESS_PROFILES[prof], src)
            except Exception as e:
                log(f"!! rootless containers failed: {e}")
                failed.append("rootless")
    finally:
        for b in (xfs, ext4):
            if b:
                try:
                    b.close()
                except Exception as e:
                    log(f"!! cleanup of {b.name}: {e}")

    meta = dict(profile=prof, kernel=platform.release(), qemu_mode=qemu_mode(),
                date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                vcpus=os.cpu_count(), mem_mib=meminfo()["MemTotal"] >> 20,
                seconds=round(time.monotonic() - T0), drivers=drivers,
                failed=failed, params=p, workloads=sorted(ONLY), clock=CLOCK,
                fw_settle=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dict(meta=meta, records=RECORDS), f, indent=1)
    os.replace(tmp, a.out)
    log(f"wrote {len(RECORDS)} records to {a.out}"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--rootless-agent"]:
        sys.exit(rootless_agent())
    sys.exit(main())
