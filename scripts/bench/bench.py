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
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COWCTL = os.path.join(REPO, "tools", "cowctl", "cowctl")
BASE = "/tmp/bench"
DRIVERS = ["overlay2", "cowfs", "devicemapper", "btrfs", "zfs"]
GROUPS = ["first_write", "layers", "fio", "files", "readdir", "sharing",
          "upper_xfs"]
ONLY = set(GROUPS)

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
        if not ONLY <= {"first_write", "upper_xfs"}:
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
            if ONLY <= {"first_write", "upper_xfs"} and name in pair:
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
    sys.exit(main())
