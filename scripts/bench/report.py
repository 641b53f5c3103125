#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a bench.py JSON file into tables, PNG plots and docs/benchmarks.md.

  report.py RESULTS.json --outdir DIR [--docs docs/benchmarks.md] [--wall S]
            [--icount FIRST_WRITE_ICOUNT.json]
            [--rootless-icount ROOTLESS_ICOUNT.json]
            [--hotpath HOTPATH.json [--hotpath-base OLD.json]]
            [--metacopy METACOPY.json] [--metacopy-icount METACOPY_ICOUNT.json]
  report.py --hotpath HOTPATH.json --outdir DIR [--docs ...]
  report.py --metacopy METACOPY.json [--metacopy-icount ...] --outdir DIR
            [--docs ...]
  report.py --composefs COMPOSEFS.json [--composefs-icount ...] --outdir DIR
            [--docs ...]
  report.py --partial PARTIAL.json [--partial-icount ...] --outdir DIR
            [--docs ...]

Adds to every record its ratio to overlay2 and to 'direct' (the backing
filesystem used directly) for the same workload and backing, writes them
back into the JSON, writes DIR/latest.md (markdown tables) and the plots
DIR/*.png (gnuplot, pngcairo), and, with --docs, the page that shows them.
The rootless containers (bench.py's rootless group) get a section of their
own, with their ratio to overlayfs mounted in a user namespace.  The hot
paths (hotpath.py) and metacopy (metacopy.py: chown -R, first writes and
upper space with metacopy off and on) and the composefs-style image
(composefs.py: mount, cold stat and read with verity=require, against a
plain layer) and copyup=partial (partial.py: first writes into big lower
files, random writes, reads, upper space, against full copy-up and the
snapshot drivers) each get a section between markers, which make
bench-hotpath, make bench-metacopy, make bench-composefs and make
bench-partial replace alone (the second to fifth forms), each from its
own results.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

ORDER = ["overlay2", "cowfs", "devicemapper", "btrfs", "zfs", "direct"]
# workload -> (title, better): "lower" or "higher" is better
TITLES = {
    "create_mount": ("container create + mount", "lower"),
    "first_write": ("first write (copy-up) latency", "lower"),
    "fio_seq_cold": ("fio sequential read, cold cache", "higher"),
    "fio_seq_warm": ("fio sequential read, warm cache", "higher"),
    "fio_rand_cold": ("fio 4k random read, cold cache", "higher"),
    "fio_rand_warm": ("fio 4k random read, warm cache", "higher"),
    "files_create": ("file create", "higher"),
    "files_stat": ("file stat (cold)", "higher"),
    "files_unlink": ("file unlink", "higher"),
    "readdir_cold": ("readdir of a merged directory, cold", "lower"),
    "readdir_warm": ("readdir of a merged directory, warm", "lower"),
    "page_cache": ("page cache, 10 containers read one file", "lower"),
    "disk_space": ("disk space, 10 containers change 1 byte", "lower"),
}


def title(w):
    for k, (t, _) in TITLES.items():
        if w == k or w.startswith(k + "_"):
            suffix = w[len(k) + 1:]
            if k == "create_mount":
                return f"{t}, {suffix} layer{'' if suffix == '1' else 's'}"
            if k == "first_write":
                return f"{t}, {suffix[:-1]} {'KiB' if suffix[-1] == 'k' else 'MiB'}"
            return f"{t}, {suffix}" if suffix else t
    return w


def short(w):
    """A bar's label in a plot whose title says the rest."""
    if w.startswith("first_write_"):
        n = w.split("_")[-1]
        return f"{n[:-1]} {'KiB' if n[-1] == 'k' else 'MiB'}"
    if w.startswith(("fio_", "readdir_", "files_")):
        return w.split("_", 1)[1].replace("_", " ")
    return w.replace("_", " ")


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def workload_order(recs):
    seen = []
    for r in recs:
        if r["workload"] not in seen:
            seen.append(r["workload"])

    def key(w):
        for i, k in enumerate(TITLES):
            if w == k or w.startswith(k + "_"):
                num = "".join(c for c in w[len(k):] if c.isdigit())
                unit = 1 << 20 if w.endswith("m") else 1024 if w.endswith("k") else 1
                return (i, int(num or 0) * unit)
        return (99, 0)
    return sorted(seen, key=key)


def add_ratios(recs):
    idx = {(r["driver"], r["workload"], r.get("backing")): r for r in recs}
    main = {}
    for r in recs:
        # the main comparison: unions on ext4, the others on their own store
        if r.get("backing") != "xfs":
            main[(r["driver"], r["workload"])] = r
    for r in recs:
        w, b = r["workload"], r.get("backing")
        ov = idx.get(("overlay2", w, b)) if b == "xfs" else main.get(("overlay2", w))
        di = main.get(("direct", w))
        r["ratio_overlay2"] = ratio(r["value"], ov["value"] if ov else None)
        r["ratio_direct"] = ratio(r["value"], di["value"] if di else None)
    return main


def table(main, workloads, drivers, key, unitcol=True):
    head = "| workload |" + ("unit |" if unitcol else "") + "".join(
        f" {d} |" for d in drivers)
    lines = [head, "|" + "---|" * (len(drivers) + 1 + unitcol)]
    for w in workloads:
        row = [main.get((d, w)) for d in drivers]
        unit = next((r["unit"] for r in row if r), "")
        cells = []
        for r in row:
            v = r.get(key) if r else None
            cells.append(fmt(v) if key == "value" else
                         (fmt(v) + "×" if v is not None else "–"))
        lines.append(f"| {title(w)} |" + (f" {unit} |" if unitcol else "")
                     + "".join(f" {c} |" for c in cells))
    return "\n".join(lines)


def fw_cell(r):
    """median [first quartile-third quartile] of a first-write record"""
    if r is None:
        return "–"
    q = r.get("params", {})
    if "q1" in q:
        return f"{fmt(r['value'])} [{fmt(q['q1'])}–{fmt(q['q3'])}]"
    return fmt(r["value"])


def upper_table(recs, icount_recs=()):
    """Issue 3: cowfs and overlay2 first write, ext4 and xfs uppers, with
    the wall clock (bench VM) and the instruction clock (--icount VM)."""
    idx = {}
    for clock, rs in (("wall", recs), ("icount", icount_recs)):
        for r in rs:
            idx[(clock, r["driver"], r["workload"], r.get("backing"))] = r
    rows = ["| file size | upper | clock | cowfs (ms) | overlay (ms) | "
            "cowfs/overlay |",
            "|---|---|---|---|---|---|"]
    found = False
    ws = workload_order(list(recs) + list(icount_recs))
    for w in [w for w in ws if w.startswith("first_write_")]:
        for b in ("ext4", "xfs"):
            for clock in ("icount", "wall"):
                c = idx.get((clock, "cowfs", w, b))
                o = idx.get((clock, "overlay2", w, b))
                if c is None and o is None:
                    continue
                found = True
                label = b + (" (reflink=1)" if b == "xfs" else "")
                size = w.split("_")[-1]
                size = size[:-1] + (" KiB" if size.endswith("k") else " MiB")
                r = ratio(c and c["value"], o and o["value"])
                rows.append(f"| {size} | {label} | {clock} | {fw_cell(c)} | "
                            f"{fw_cell(o)} | "
                            f"{fmt(r) + '×' if r is not None else '–'} |")
    return "\n".join(rows) if found else ""


FW_NOTE = """Medians [first–third quartile] of rounds in which cowfs and
overlay2 take turns on the same filesystem (a fresh container each time,
caches dropped{settle}, one warm-up round not counted).  **icount**: a second VM
whose clock counts guest instructions (`scripts/vm --icount`, 1 ns each,
idle time skipped): the work each driver does, repeatable to about 0.1%.
**wall**: the bench VM's real clock, which under TCG swings by up to 3x
between identical runs (the emulator, not the drivers: the page
allocations per copy-up are the same each time); read it for its
spread."""


# ---- rootless containers -------------------------------------------------------

# bench.py's rootless drivers, the reference (overlayfs) first
RL_DRIVERS = [("overlay-userns", "overlayfs"), ("cowfs-userns", "cowfs"),
              ("fuse-overlayfs", "fuse-overlayfs")]
RL_REF = RL_DRIVERS[0][0]
RL_TITLES = {
    "create_mount": "container create + mount",
    "first_write": "first write (copy-up)",
    "files_create": "file create",
    "files_stat": "file stat (cold)",
    "files_chmod": "file chmod",
    "files_rename": "file rename",
    "files_unlink": "file unlink",
}
RL_UNITS = {"ms": "ms", "us/file": "µs per file"}


def is_rootless(r):
    return r["workload"].startswith("rootless_")


def rl_title(w):
    w = w[len("rootless_"):]
    if w.startswith("first_write_"):
        n = w.split("_")[-1]
        return (f"{RL_TITLES['first_write']}, {n[:-1]} "
                f"{'KiB' if n[-1] == 'k' else 'MiB'}")
    return RL_TITLES.get(w, w)


def add_rootless_ratios(recs):
    """Every rootless record's ratio to overlayfs in a user namespace, the
    same workload and backing (@recs: one run, so one clock)."""
    idx = {(r["workload"], r.get("backing")): r for r in recs
           if is_rootless(r) and r["driver"] == RL_REF}
    for r in recs:
        if is_rootless(r):
            ref = idx.get((r["workload"], r.get("backing")))
            r["ratio_overlay_userns"] = ratio(r["value"],
                                              ref["value"] if ref else None)


def rootless_table(recs, icount_recs=()):
    """The rootless containers' table: each workload with the instruction
    clock (--icount VM) and the wall clock (bench VM)."""
    idx = {}
    for clock, rs in (("wall", recs), ("icount", icount_recs)):
        for r in rs:
            if is_rootless(r):
                idx[(clock, r["driver"], r["workload"])] = r
    ws = list(dict.fromkeys(w for _, _, w in idx))
    if not ws:
        return ""
    names = [n for _, n in RL_DRIVERS]
    rows = ["| workload | unit | clock | " + " | ".join(names) + " | "
            + " | ".join(f"{n}/{names[0]}" for n in names[1:]) + " |",
            "|---|---|---|" + "---|" * (2 * len(names) - 1)]
    for w in ws:
        for clock in ("icount", "wall"):
            row = [idx.get((clock, d, w)) for d, _ in RL_DRIVERS]
            if not any(row):
                continue
            ref = row[0]["value"] if row[0] else None
            unit = next(r["unit"] for r in row if r)
            cells = [fw_cell(r) for r in row]
            for r in row[1:]:
                q = ratio(r and r["value"], ref)
                cells.append(fmt(q) + "×" if q is not None else "–")
            rows.append(f"| {rl_title(w)} | {RL_UNITS.get(unit, unit)} | "
                        f"{clock} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def rootless_rounds(recs):
    return max((len(r.get("params", {}).get("samples", []))
                for r in recs if is_rootless(r)), default=0)


RL_NOTE = """A rootless container engine, uid 1000 in its own user namespace
(`unshare -Urm`), its layers and containers on the ext4 of the bench,
mounting each container in one of three ways: **overlayfs** and **cowfs**
mounted there with `userxattr` (by mount(2), as podman mounts overlayfs),
and **fuse-overlayfs**{fuse_version} started in the same kind of
namespace, as podman starts its `mount_program` (it returns once its
daemon serves the union; it runs from a copy on tmpfs so that, like the
kernel drivers' code, it stays in memory when the caches are dropped).  Every round
gives each driver a fresh container.  The drivers take turns at create +
mount (the container's directories and the mount) and at each first
write to an image file (open, a 1-byte write, close: the copy-up; caches
dropped and the filesystem settled just before).  Then each in turn
creates (100 bytes each), stats, chmods, renames and unlinks {files}
small files in a directory merged from two image layers, timed per file,
with the caches dropped before create and before stat.  The order of the
drivers is a different one of the 6 in each round, so that each goes
first, second and last, and after each of the others, equally often (one
warm-up round not counted).  Medians [first–third quartile] of {rounds}
rounds; the ratios are of the medians to overlayfs's: above 1 is slower.
**icount**: {icount}: the work each driver does.  **wall**: the real clock
of {wall}, which under TCG swings by ±50% and more between identical
runs; read it for its spread.  fuse-overlayfs's times include its
daemon's work: every operation the kernel cannot answer from its caches
is a round trip to the daemon."""


def rootless_section(recs, icount, wall_ctx):
    """The markdown section of the rootless containers, or []."""
    icount_recs = icount["records"] if icount else []
    rt = rootless_table(recs, icount_recs)
    if not rt:
        return []
    files = next((r["params"]["files"] for r in list(recs) + icount_recs
                  if is_rootless(r) and "files" in r.get("params", {})), "N")
    rounds = sorted({n for n in (rootless_rounds(recs),
                                 rootless_rounds(icount_recs)) if n})
    ic = (f"a second VM whose clock counts guest instructions "
          f"(`scripts/vm --icount`, 1 ns each, idle time skipped; "
          f"{icount['meta']['date']})" if icount_recs else
          "no instruction-clock run was given")
    version = next((r["params"]["version"] for r in list(recs) + icount_recs
                    if is_rootless(r) and r["driver"] == "fuse-overlayfs"
                    and "version" in r.get("params", {})), None)
    note = textwrap.fill(RL_NOTE.format(
        files=files, rounds=" and ".join(str(n) for n in rounds), icount=ic,
        wall=wall_ctx, fuse_version=f" {version}" if version else ""),
        width=74, break_long_words=False, break_on_hyphens=False)
    return ["### Rootless containers: overlayfs, cowfs and fuse-overlayfs "
            "in a user namespace", "", note, "", rt, ""]


# ---- plots ---------------------------------------------------------------------

def gnuplot(script, outdir):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True,
                       cwd=outdir, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", "") or str(e)
        print(f"report.py: gnuplot failed: {err.strip()}", file=sys.stderr)
        return False


def bar_plot(outdir, name, main, workloads, drivers, ylabel, ttl, log=False):
    """Clustered bars: one cluster per workload, one bar per driver."""
    with tempfile.NamedTemporaryFile("w", suffix=".dat", dir=outdir,
                                     delete=False) as f:
        f.write("workload " + " ".join(drivers) + "\n")
        for w in workloads:
            vals = []
            for d in drivers:
                r = main.get((d, w))
                vals.append(f"{r['value']:.6g}" if r and r["value"] > 0 else "NaN")
            f.write(f'"{short(w)}" ' + " ".join(vals) + "\n")
        dat = f.name
    n = len(drivers)
    script = f"""
set terminal pngcairo size 900,480 font 'sans,10'
set output '{name}.png'
set title '{ttl}'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set ylabel '{ylabel}'
set xtics scale 0
set grid ytics
{"set logscale y" if log else "set yrange [0:*]"}
plot for [i=2:{n + 1}] '{os.path.basename(dat)}' using i:xtic(1) title columnhead
"""
    ok = gnuplot(script, outdir)
    os.unlink(dat)
    return f"{name}.png" if ok else None


def line_plot(outdir, name, main, drivers):
    ws = [w for w in workload_order([{"workload": k[1]} for k in main])
          if w.startswith("create_mount_")]
    if not ws:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".dat", dir=outdir,
                                     delete=False) as f:
        f.write("layers " + " ".join(drivers) + "\n")
        for w in ws:
            vals = []
            for d in drivers:
                r = main.get((d, w))
                vals.append(f"{r['value']:.6g}" if r else "NaN")
            f.write(w.split("_")[-1] + " " + " ".join(vals) + "\n")
        dat = f.name
    script = f"""
set terminal pngcairo size 900,520 font 'sans,10'
set output '{name}.png'
set title 'container create + mount time vs number of image layers'
set xlabel 'layers'
set ylabel 'ms'
set logscale x 2
set grid
set key outside right top
plot for [i=2:{len(drivers) + 1}] '{os.path.basename(dat)}' using 1:i with linespoints lw 2 title columnhead
"""
    ok = gnuplot(script, outdir)
    os.unlink(dat)
    return f"{name}.png" if ok else None


# ---- fio: medians and quartiles ----------------------------------------------------

def fio_table(main, workloads, drivers):
    """The fio rows as median [first-third quartile] of bench.py's fio_reps
    runs; empty when the records have no quartiles (an older run)."""
    ws = [w for w in workloads if w.startswith("fio_")]
    if not any("q1" in (main.get((d, w)) or {}).get("params", {})
               for w in ws for d in drivers):
        return ""
    lines = ["| workload | unit |" + "".join(f" {d} |" for d in drivers),
             "|" + "---|" * (len(drivers) + 2)]
    for w in ws:
        row = [main.get((d, w)) for d in drivers]
        unit = next((r["unit"] for r in row if r), "")
        lines.append(f"| {title(w)} | {unit} |"
                     + "".join(f" {fw_cell(r)} |" for r in row))
    return "\n".join(lines)


# ---- hot paths (scripts/bench/hotpath.py, issue 14) --------------------------------

HOT_DRIVERS = ["direct", "overlayfs", "cowfs"]
HOT_LAYERED = {
    "stat_cold": "cold stat of 2,000 bottom-layer files",
    "miss_cold": "PATH search, 2,000 misses in 8 merged dirs, cold",
}
HOT_FIXED = {
    "readdir_merged": "list a 10,000-entry directory merged over 4 layers, 5 times",
    "pread_cached": "20,000 cached 4 KiB preads at random offsets",
    "open_close": "5,000 open + close of lower files",
    "create_stat_unlink": "3,000 create + stat + unlink in a merged directory",
}
# issue 14's done-when figures: (workload, what, limit)
HOT_TARGETS = [
    ("stat_cold", "layers", 2.0), ("stat_cold", "overlayfs", 0.5),
    ("miss_cold", "layers", 2.0), ("miss_cold", "overlayfs", 0.5),
    ("readdir_merged", "overlayfs", 0.7),
]

HOT_NOTE = """scripts/bench/hotpath.py in a VM whose clock counts guest instructions
(`scripts/vm --icount`, 1 ns each), so a figure is the work done and repeats
from run to run.  overlayfs (`mount -t overlay`), cowfs (`mount -t cowfs`)
and **direct** take turns in each of {rounds} rounds, the first of them
rotating (one warm-up round not counted); medians [first–third quartile],
in ms.  All layers are directories of one tmpfs and the upper layer is
empty.  The timed loops are a small C program (`hotpath.c`): a Python loop
costs more than the tmpfs lookups it times.  It sleeps 100 ms before its
clock starts, so that the work the last unmount left (RCU callbacks,
kworkers: the clock counts every vCPU) is not counted.

* Layer-count rows: the union of the N bottom layers of a stack in which
  every layer has the same directories (`d/` and eight PATH directories)
  with a few files of its own, so those directories are merged across all
  N layers; the 2,000 stat'ed files are in the bottom layer, and the PATH
  search (250 commands, each tried in the 8 directories) finds nothing in
  any layer.  **Cold**: the union is mounted afresh before each timed pass.
  `drop_caches` would not do it: it frees only unused dentries, and tmpfs
  layers cannot be made cold (their dentries are their storage, pinned);
  the layers' positive dentries stay cached for every driver alike, and
  tmpfs keeps no negative ones.  direct: the bottom layer itself.
* The other rows: a union of 4 layers, mounted afresh for each driver and
  round; direct: a plain directory holding the tree that union shows.
  The preads and the opens follow an untimed pass that caches the file's
  pages and the names.
* Issue 14's done-when figures are ratios to report, not pass/fail
  checks."""


def hot_index(recs):
    return {(r["driver"], r["workload"]): r for r in recs}


def hot_ratio_cell(a, b):
    r = ratio(a and a["value"], b and b["value"])
    return fmt(r) + "×" if r is not None else "–"


def hot_layer_counts(idx, w):
    return sorted({r["params"]["layers"] for (d, k), r in idx.items()
                   if k.startswith(w + "_")})


def hot_tables(idx, base):
    """The layer-count table and the 4-layer table, markdown."""
    bcol = " cowfs vs base |" if base else ""
    out = ["| workload | layers |" + "".join(f" {d} |" for d in HOT_DRIVERS)
           + " cowfs/overlayfs | cowfs vs 1 layer | overlayfs vs 1 layer |"
           + bcol,
           "|" + "---|" * (len(HOT_DRIVERS) + 5 + bool(base))]
    for w, what in HOT_LAYERED.items():
        for n in hot_layer_counts(idx, w):
            k, k1 = f"{w}_{n}", f"{w}_1"
            out.append(
                f"| {what} | {n} |"
                + "".join(f" {fw_cell(idx.get((d, k)))} |" for d in HOT_DRIVERS)
                + f" {hot_ratio_cell(idx.get(('cowfs', k)), idx.get(('overlayfs', k)))} |"
                + f" {hot_ratio_cell(idx.get(('cowfs', k)), idx.get(('cowfs', k1)))} |"
                + f" {hot_ratio_cell(idx.get(('overlayfs', k)), idx.get(('overlayfs', k1)))} |"
                + (f" {hot_ratio_cell(idx.get(('cowfs', k)), base.get(('cowfs', k)))} |"
                   if base else ""))
    out += ["", "| workload |" + "".join(f" {d} |" for d in HOT_DRIVERS)
            + " cowfs/overlayfs | cowfs/direct |" + bcol,
            "|" + "---|" * (len(HOT_DRIVERS) + 3 + bool(base))]
    for w, what in HOT_FIXED.items():
        if not any(idx.get((d, w)) for d in HOT_DRIVERS):
            continue
        c = idx.get(("cowfs", w))
        out.append(f"| {what} |"
                   + "".join(f" {fw_cell(idx.get((d, w)))} |" for d in HOT_DRIVERS)
                   + f" {hot_ratio_cell(c, idx.get(('overlayfs', w)))} |"
                   + f" {hot_ratio_cell(c, idx.get(('direct', w)))} |"
                   + (f" {hot_ratio_cell(c, base.get(('cowfs', w)))} |"
                      if base else ""))
    return "\n".join(out)


def hot_targets(idx, base):
    """Issue 14's done-when figures, measured: a table of ratios."""
    rows = ["| figure | cowfs | issue 14 |", "|---|---|---|"]
    for w, what, limit in HOT_TARGETS:
        name = HOT_LAYERED.get(w) or HOT_FIXED[w]
        if what == "layers":
            ns = [n for n in hot_layer_counts(idx, w) if n >= 64][:1]
            if not ns:
                continue
            k = f"{w}_{ns[0]}"
            cell = hot_ratio_cell(idx.get(("cowfs", k)), idx.get(("cowfs", f"{w}_1")))
            rows.append(f"| {name}: {ns[0]} layers / 1 layer | {cell} | ≤ {limit:g}× |")
        else:
            if w in HOT_LAYERED:
                ns = [n for n in hot_layer_counts(idx, w) if n >= 64][:1]
                if not ns:
                    continue
                k, label = f"{w}_{ns[0]}", f"{name}, {ns[0]} layers"
            else:
                k, label = w, name
            cell = hot_ratio_cell(idx.get(("cowfs", k)), idx.get(("overlayfs", k)))
            rows.append(f"| {label}: cowfs / overlayfs | {cell} | ≤ {limit:g}× |")
    if base:
        worst = max(((ratio(r["value"], base[k]["value"]), k[1])
                     for k, r in idx.items()
                     if k[0] == "cowfs" and k in base and base[k]["value"]),
                    default=None)
        if worst:
            rows.append(f"| cowfs / base run, the largest ({worst[1]}) "
                        f"| {fmt(worst[0])}× | ≤ 1× (nothing slower) |")
    return "\n".join(rows)


def hot_layer_plot(outdir, name, idx):
    """Cost vs layer count, one panel per layered workload, with quartiles."""
    panels = [w for w in HOT_LAYERED if hot_layer_counts(idx, w)]
    if not panels:
        return None
    dats = []
    for w in panels:
        with tempfile.NamedTemporaryFile("w", suffix=".dat", dir=outdir,
                                         delete=False) as f:
            for n in hot_layer_counts(idx, w):
                vals = []
                for d in HOT_DRIVERS:
                    r = idx.get((d, f"{w}_{n}"))
                    q = r["params"] if r else {}
                    vals += [f"{r['value']:.6g}", f"{q.get('q1', r['value']):.6g}",
                             f"{q.get('q3', r['value']):.6g}"] if r else ["NaN"] * 3
                f.write(f"{n} " + " ".join(vals) + "\n")
            dats.append(f.name)
    plots = []
    for w, dat in zip(panels, dats):
        lines = ", ".join(
            f"'{os.path.basename(dat)}' using 1:{2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i} "
            f"with yerrorlines lw 2 title '{d}'"
            for i, d in enumerate(HOT_DRIVERS))
        plots.append(f"set title '{HOT_LAYERED[w]}'\nplot {lines}")
    script = f"""
set terminal pngcairo size 900,{380 * len(panels)} font 'sans,10'
set output '{name}.png'
set multiplot layout {len(panels)},1
set xlabel 'layers'
set ylabel 'ms (instruction clock)'
set logscale x 2
set yrange [0:*]
set grid
set key left top
{chr(10).join(plots)}
unset multiplot
"""
    ok = gnuplot(script, outdir)
    for dat in dats:
        os.unlink(dat)
    return f"{name}.png" if ok else None


def hotpath_section(path, outdir, base_path=None):
    """The "Hot paths" section of latest.md and docs/benchmarks.md from a
    hotpath.py JSON file: (markdown, [plot files])."""
    with open(path) as f:
        data = json.load(f)
    meta, idx = data["meta"], hot_index(data["records"])
    base, base_ctx = {}, ""
    if base_path:
        with open(base_path) as f:
            bdata = json.load(f)
        base, bm = hot_index(bdata["records"]), bdata["meta"]
        base_ctx = (f"  \"cowfs vs base\": against `{base_path}`, cowfs.ko of "
                    f"{bm.get('git', '?')} (sha256 "
                    f"{bm.get('cowfs_ko_sha256', '?')[:12]}), {bm['date']}.")
    plots = [hot_layer_plot(outdir, "hotpath_layers", idx)]
    labels = {"readdir_merged": "merged readdir", "pread_cached": "pread",
              "open_close": "open, close",
              "create_stat_unlink": "create, stat, unlink"}
    fixed = {(d, labels[w]): r for (d, w), r in idx.items() if w in HOT_FIXED}
    ws = [labels[w] for w in HOT_FIXED if any((d, labels[w]) in fixed
                                              for d in HOT_DRIVERS)]
    if ws:
        plots.append(bar_plot(outdir, "hotpath_fixed", fixed, ws, HOT_DRIVERS,
                              "ms (instruction clock)",
                              "hot paths over 4 layers"))
    ctx = (f"{meta['profile']} run, {meta['date']}, kernel {meta['kernel']}, "
           f"clock {meta['clock']}, cowfs.ko of {meta.get('git', '?')} "
           f"(sha256 {meta.get('cowfs_ko_sha256', '?')[:12]})"
           f"; {meta['seconds']} s in the guest")
    parts = ["### Hot paths: cowfs, overlayfs and the layer used directly", "",
             HOT_NOTE.format(rounds=meta["params"]["rounds"]), "",
             f"Hot paths: {ctx}." + base_ctx,
             "", hot_tables(idx, base), "",
             "Issue 14's figures for cowfs, measured:", "",
             hot_targets(idx, base), ""]
    return "\n".join(parts), [p for p in plots if p]


HOT_BEGIN = "<!-- hot paths: make bench-hotpath replaces this section -->"
HOT_END = "<!-- end of hot paths -->"


def hot_docs_block(md, plots, outdir, docs):
    """The hot path section as docs/benchmarks.md holds it: between
    markers, with its plots, so that make bench-hotpath can replace it."""
    rel = os.path.relpath(outdir, os.path.dirname(docs))
    imgs = "\n\n".join(f"![{p[:-4]}]({rel}/{p})" for p in plots)
    return f"{HOT_BEGIN}\n{md}\n{imgs}\n{HOT_END}\n"


def splice_docs(docs, begin, end, block, what):
    """Put @block in place of the page's section between the markers
    @begin and @end, or before its plots if it has none yet."""
    with open(docs) as f:
        page = f.read()
    if begin in page and end in page:
        head, rest = page.split(begin, 1)
        page = head + block + rest.split(end, 1)[1].lstrip("\n")
    elif "\n## Plots\n" in page:
        head, tail = page.split("\n## Plots\n", 1)
        page = head + "\n" + block + "\n## Plots\n" + tail
    else:
        page += "\n" + block
    with open(docs + ".tmp", "w") as f:
        f.write(page)
    os.replace(docs + ".tmp", docs)
    print(f"report.py: wrote {what} into {docs}")


def splice_hot_docs(docs, block):
    """Put @block in place of the page's hot path section, or before its
    plots if it has none yet."""
    splice_docs(docs, HOT_BEGIN, HOT_END, block, "the hot paths")


def hotpath_only(a):
    """report.py --hotpath FILE without bench.py's results (make
    bench-hotpath): DIR/latest.md is the hot path section alone, and with
    --docs it replaces that section of the page."""
    os.makedirs(a.outdir, exist_ok=True)
    md, plots = hotpath_section(a.hotpath, a.outdir, a.hotpath_base)
    with open(os.path.join(a.outdir, "latest.md"), "w") as f:
        f.write(md + "\n" +
                "\n\n".join(f"![{p[:-4]}]({p})" for p in plots) + "\n")
    print(md)
    if a.docs:
        splice_hot_docs(a.docs, hot_docs_block(md, plots, a.outdir, a.docs))


# ---- metacopy (scripts/bench/metacopy.py, issue 15) -----------------------------

MC_CONFIGS = [("overlayfs", "off"), ("overlayfs", "on"), ("cowfs", "off"),
              ("cowfs", "on")]
MC_BEGIN = "<!-- metacopy: make bench-metacopy replaces this section -->"
MC_END = "<!-- end of metacopy -->"
# workload -> title; {files} etc. from the records' params
MC_TIMES = {
    "chown": "chown -R of the image ({files:,} files, {dirs:,} directories)",
    "first_write_4k": "then the first write to a 4 KiB file (mean of {writes:,})",
    "first_write_1m": "then the first write to a 1 MiB file (mean of {big})",
    "chown_and_writes": "chown -R and those {nw:,} first writes",
}
MC_SPACE = {
    "upper_used": "upper layer's space after the chown",
    "upper_inodes": "upper layer's inodes after the chown",
    "metacopy_files": "upper files with a metacopy xattr after the chown",
    "upper_used_after": "upper layer's space after the first writes",
}
MC_UNITS = {"ms/file": "ms per file"}

MC_NOTE = """The user-namespace remapping case (issue 15): a container engine that
maps the container's uids into a user namespace (docker's userns-remap,
podman without idmapped mounts) chowns the image's files in the union to
the shifted ids, and every file is copied up: with its data, or with
`metacopy=on` only its inode and xattrs, the data following at the first
write.  `scripts/bench/metacopy.py` mounts a one-layer image of
{files:,} files of 4 KiB in {dirs:,} directories and {big} files of
1 MiB, on the ext4 of a loop device on tmpfs, with an empty upper layer
on the same ext4, four ways: overlayfs (`mount -t overlay`) and cowfs
(`mount -t cowfs`), each with `metacopy=off` and `metacopy=on`, all with
`redirect_dir=on,index=off`.  In each: from dropped caches (and the ext4
settled by a freeze and thaw), `chown -R` of the union to 100000:100000
(os.walk and lchown in the benchmark's Python process: a few microseconds
an entry, the same for all four); the ext4's used blocks and inodes
(statvfs, after a sync) less those before the mount, and a count of the
upper files with a metacopy xattr (all the regular files with
`metacopy=on`, none with off: a check that the option took); then, from
dropped caches again, the first write (open O_WRONLY, a 1-byte write,
close) to {writes:,} of the small files, spread over the image, and to
the 1 MiB ones, each timed (the data copy-up that metacopy postponed);
untimed checks that every entry has the new owner and that each written
file reads back as the image's with its first byte changed, all of it in
the upper layer.  A fresh union each time; the four take turns in every
round in the orders of a Williams square (each first, second, third and
last once in 4 rounds, and right after each of the others once; one
warm-up round not counted).  Medians [first–third quartile] of {rounds}
rounds; the ratios are of the medians, above 1 is slower or bigger.
{clocks}"""


def mc_load(path):
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def mc_index(data):
    return {(r["driver"], r["params"]["metacopy"], r["workload"]): r
            for r in data["records"]} if data else {}


def mc_cell(r, status):
    if r is not None:
        q = r["params"]
        return fmt(r["value"]) if q.get("q1") == q.get("q3") else fw_cell(r)
    return status if status in ("refused", "failed") else "–"


def mc_row(title, unit, clock, idx, statuses):
    row = [idx.get(c) for c in MC_CONFIGS]
    cells = [mc_cell(r, statuses.get(c)) for r, c in zip(row, MC_CONFIGS)]
    v = {c: (r["value"] if r else None) for r, c in zip(row, MC_CONFIGS)}
    for a, b in ((("cowfs", "off"), ("overlayfs", "off")),
                 (("cowfs", "on"), ("overlayfs", "on")),
                 (("overlayfs", "on"), ("overlayfs", "off")),
                 (("cowfs", "on"), ("cowfs", "off"))):
        q = ratio(v[a], v[b])
        cells.append(fmt(q) + "×" if q is not None else "–")
    return (f"| {title} | {MC_UNITS.get(unit, unit)} | {clock} | "
            + " | ".join(cells) + " |")


def mc_statuses(data):
    out = {}
    for k, st in (data or {}).get("meta", {}).get("configs", {}).items():
        fs, mc = k.split(" metacopy=")
        out[(fs, mc)] = st
    return out


def runs_text(runs):
    """For a section's note: the rounds of its (clock, data) @runs, and a
    sentence on each clock with what its run measured."""
    def ctx(clock):
        d = dict(runs).get(clock)
        if not d:
            return None
        m = d["meta"]
        return (f"{m['profile']} run, {m['date']}, kernel {m['kernel']}, "
                f"cowfs.ko of {m.get('git', '?')} (sha256 "
                f"{m.get('cowfs_ko_sha256', '?')[:12]}), {m['seconds']} s "
                f"in the guest")
    ic = ("**icount**: a VM whose clock counts guest instructions "
          f"(`scripts/vm --icount`, 1 ns each, idle time skipped; "
          f"{ctx('icount')}): the work done." if ctx("icount") else
          "No instruction-clock run was given.")
    wl = (f"**wall**: the real clock of a VM like the bench's "
          f"({ctx('wall')}), which under TCG swings by ±50% and more "
          f"between identical runs; read it for its spread."
          if ctx("wall") else "No wall-clock run was given.")
    rounds = " and ".join(sorted({str(d["meta"]["params"]["rounds"])
                                  for _, d in runs}))
    return rounds, ic + "  " + wl


def two_clock_runs(wall_path, icount_path):
    """[(clock, data)] of the instruction-clock run, then the wall-clock
    run, from their JSON files: those that could be read."""
    runs = [(clock, mc_load(path)) for clock, path in
            (("icount", icount_path), ("wall", wall_path))]
    return [(clock, d) for clock, d in runs if d]


def metacopy_section(wall_path, icount_path):
    """The metacopy section (markdown) from metacopy.py's JSON files of
    the wall-clock run and of the instruction-clock run (either may be
    missing); "" if there is neither."""
    runs = two_clock_runs(wall_path, icount_path)
    if not runs:
        return ""
    idx = {clock: mc_index(d) for clock, d in runs}
    sts = {clock: mc_statuses(d) for clock, d in runs}
    meta0 = runs[0][1]["meta"]
    p = meta0["params"]
    any_rec = next((r for _, d in runs for r in d["records"]), None)
    nums = dict(files=p["files"], big=p["big"],
                writes=any_rec["params"]["writes"] if any_rec else p["writes"],
                dirs=any_rec["params"]["dirs"] if any_rec else p["dirs"])
    nums["nw"] = nums["writes"] + nums["big"]

    rounds, clocks = runs_text(runs)
    note = textwrap.fill(MC_NOTE.format(rounds=rounds, clocks=clocks,
                                        **nums),
                         width=74, break_long_words=False,
                         break_on_hyphens=False)
    out = ["### metacopy: chown -R of an image, then first writes", "", note,
           ""]
    said = set()
    for clock, _ in runs:
        for c in MC_CONFIGS:
            st = sts[clock].get(c)
            if st and st["status"] != "ok":
                line = f"{c[0]} metacopy={c[1]}: {st['message']}"
                if line in said:
                    continue
                said.add(line)
                both = all(sts[k].get(c, {}).get("message") == st["message"]
                           for k, _ in runs)
                label = "" if st["status"] == "refused" else " " + st["status"]
                out.append(f"* **{c[0]} metacopy={c[1]}{label}**: "
                           f"{st['message']}"
                           + ("" if both or len(runs) == 1
                              else f" ({clock} run)"))
    if said:
        out.append("")
    head = ("| measure | unit | clock | overlayfs off | overlayfs on | "
            "cowfs off | cowfs on | cowfs/overlayfs, off | "
            "cowfs/overlayfs, on | on/off, overlayfs | on/off, cowfs |")
    out += [head, "|---|---|---|" + "---|" * 8]
    for w, t in MC_TIMES.items():
        for clock, _ in runs:
            ix = {c: idx[clock].get(c + (w,)) for c in MC_CONFIGS}
            if not any(ix.values()) and not any(
                    st["status"] != "ok" for st in sts[clock].values()):
                continue
            unit = next((r["unit"] for r in ix.values() if r), "ms")
            out.append(mc_row(t.format(**nums), unit, clock, ix,
                              {c: st["status"] for c, st in
                               sts[clock].items()}))
    for w, t in MC_SPACE.items():
        # space is the same whatever the clock: the first run that has it
        clock = next((k for k, _ in runs
                      if any(idx[k].get(c + (w,)) for c in MC_CONFIGS)),
                     runs[0][0])
        ix = {c: idx[clock].get(c + (w,)) for c in MC_CONFIGS}
        unit = next((r["unit"] for r in ix.values() if r), "")
        out.append(mc_row(t, unit, f"({clock} run)", ix,
                          {c: st["status"] for c, st in sts[clock].items()}))
    out.append("")
    return "\n".join(out)


def docs_block(begin, end, md):
    """Section @md between its markers, as docs/benchmarks.md holds it"""
    return f"{begin}\n{md}{end}\n\n"


def section_only(a, md, begin, end, what):
    """A section of its own (report.py --metacopy FILE or --composefs
    FILE, without bench.py's results: make bench-metacopy,
    bench-composefs): DIR/latest.md is section @md alone, and with --docs
    it replaces the page's part between @begin and @end."""
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "latest.md"), "w") as f:
        f.write(md)
    print(md)
    if a.docs:
        splice_docs(a.docs, begin, end, docs_block(begin, end, md),
                    f"the {what} section")


# ---- composefs-style image (scripts/bench/composefs.py) -------------------------

CFS_CONFIGS = [("overlayfs", "plain"), ("cowfs", "plain"),
               ("overlayfs", "composefs"), ("cowfs", "composefs")]
CFS_BEGIN = "<!-- composefs: make bench-composefs replaces this section -->"
CFS_END = "<!-- end of composefs -->"
CFS_TIMES = {
    "mount": "mount(2) of the union, cold",
    "stat": "cold lstat of every entry ({entries:,}), with the walk",
    "read": "cold read of every file ({files:,}, {mib} MiB), with the walk",
    "read_mib_s": "that read's throughput",
    "umount": "umount(2) of the union",
}
CFS_NOTE = """A composefs-style image as `cowctl composefs build SRC META OBJECTS`
makes it: a metadata layer of sparse metacopy files whose redirect names
their content's object, over a data-only layer holding each distinct
content once with fs-verity, mounted read-only without an upper layer
with `lowerdir=META::OBJECTS,metacopy=on,verity=require`: every open of a
file looks its object up and checks its fs-verity digest, every read of
the object is checked against its Merkle tree.  Against it, the same tree
as a plain lower layer, `lowerdir=SRC:EMPTY` (overlayfs refuses a single
lower layer without an upper one; EMPTY is an empty directory).
`scripts/bench/composefs.py` makes a tree of {files:,} files of 1 KiB to
256 KiB ({mib} MiB, {distinct:,} distinct contents: every tenth file a
duplicate) in {dirs:,} directories, on an ext4 made with `-O verity` on a
loop device on tmpfs, builds the image on the same ext4 (once per VM;
the build row, one sample, informative: it writes and hashes every
distinct content), and mounts it four ways: overlayfs (`mount -t
overlay`) and cowfs (`mount -t cowfs`), each the plain layer and the
composefs image, all by mount(2) with MS_RDONLY.  In each, every step
from dropped caches (and the ext4 settled by a freeze and thaw): the
mount; a walk of the union (os.walk) with an lstat of every entry; a
walk reading every file to its end (256 KiB reads); the umount; untimed
checks that the walks saw every entry, file and byte, and in the warm-up
round that a sample of files reads back as the source.  A fresh mount
each time; the four take turns in every round in the orders of a
Williams square (one warm-up round not counted).  Medians [first–third
quartile] of {rounds} rounds; the ratios are of the medians, above 1 is
slower (for MiB/s: faster).
{clocks}"""


def cfs_index(data):
    return {(r["driver"], r["params"]["layout"], r["workload"]): r
            for r in data["records"]} if data else {}


def cfs_statuses(data):
    out = {}
    for k, st in (data or {}).get("meta", {}).get("configs", {}).items():
        fs, lay = k.split(" ", 1)
        out[(fs, lay)] = st
    return out


def cfs_row(title, unit, clock, ix, statuses):
    row = [ix.get(c) for c in CFS_CONFIGS]
    cells = [mc_cell(r, statuses.get(c)) for r, c in zip(row, CFS_CONFIGS)]
    v = {c: (r["value"] if r else None) for r, c in zip(row, CFS_CONFIGS)}
    for a, b in ((("cowfs", "plain"), ("overlayfs", "plain")),
                 (("cowfs", "composefs"), ("overlayfs", "composefs")),
                 (("overlayfs", "composefs"), ("overlayfs", "plain")),
                 (("cowfs", "composefs"), ("cowfs", "plain"))):
        q = ratio(v[a], v[b])
        cells.append(fmt(q) + "×" if q is not None else "–")
    return f"| {title} | {unit} | {clock} | " + " | ".join(cells) + " |"


def composefs_section(wall_path, icount_path):
    """The composefs section (markdown) from composefs.py's JSON files of
    the wall-clock run and of the instruction-clock run (either may be
    missing); "" if there is neither."""
    runs = two_clock_runs(wall_path, icount_path)
    if not runs:
        return ""
    idx = {clock: cfs_index(d) for clock, d in runs}
    sts = {clock: cfs_statuses(d) for clock, d in runs}
    any_rec = next((r for _, d in runs for r in d["records"]), None)
    q = any_rec["params"] if any_rec else {}
    nums = dict(files=q.get("files", 0), dirs=q.get("dirs", 0),
                mib=q.get("mib", 0), distinct=q.get("distinct", 0))
    nums["entries"] = nums["files"] + nums["dirs"] + 1

    rounds, clocks = runs_text(runs)
    note = textwrap.fill(CFS_NOTE.format(rounds=rounds, clocks=clocks,
                                         **nums),
                         width=74, break_long_words=False,
                         break_on_hyphens=False)
    out = ["### composefs-style image: mount, cold stat and read", "", note,
           ""]
    said = set()
    for clock, _ in runs:
        for c in CFS_CONFIGS:
            st = sts[clock].get(c)
            if st and st["status"] != "ok":
                line = f"{c[0]} {c[1]}: {st['message']}"
                if line in said:
                    continue
                said.add(line)
                label = "" if st["status"] == "refused" else " " + st["status"]
                out.append(f"* **{c[0]} {c[1]}{label}** ({clock} run): "
                           f"{st['message']}")
    if said:
        out.append("")
    head = ("| measure | unit | clock | overlayfs plain | cowfs plain | "
            "overlayfs composefs | cowfs composefs | cowfs/overlayfs, plain "
            "| cowfs/overlayfs, composefs | composefs/plain, overlayfs | "
            "composefs/plain, cowfs |")
    out += [head, "|---|---|---|" + "---|" * 8]
    for w, t in CFS_TIMES.items():
        for clock, _ in runs:
            ix = {c: idx[clock].get(c + (w,)) for c in CFS_CONFIGS}
            if not any(ix.values()):
                continue
            unit = next((r["unit"] for r in ix.values() if r), "ms")
            out.append(cfs_row(t.format(**nums), unit, clock, ix,
                               {c: st["status"] for c, st in
                                sts[clock].items()}))
    out.append("")
    builds = [(clock, idx[clock].get(("cowctl", "composefs", "build")))
              for clock, _ in runs]
    builds = [(clock, r) for clock, r in builds if r]
    if builds:
        sm = builds[0][1]["params"].get("summary", {})
        out.append(
            "The build (`cowctl composefs build`, once per VM, from dropped "
            "caches; "
            f"{sm.get('objects_new', '?'):,} objects written, "
            f"{sm.get('objects_reused', '?'):,} reused, "
            f"{sm.get('bytes_new', 0) / (1 << 20):.1f} MiB): "
            + ", ".join(f"{fmt(r['value'] / 1e3)} s ({clock})"
                        for clock, r in builds) + ".")
        out.append("")
    return "\n".join(out)


# ---- copyup=partial (scripts/bench/partial.py, issue 16) ----------------------

PT_CONFIGS = ["cowfs partial", "cowfs full", "overlayfs", "btrfs",
              "devicemapper", "zfs"]
PT_BASE = "overlayfs"
PT_BEGIN = "<!-- partial: make bench-partial replaces this section -->"
PT_END = "<!-- end of partial -->"
# workload -> title; {mid} etc. from the records' params
PT_TIMES = {
    "fw_mid": "first write of 4 KiB into a {mid} MiB lower file",
    "fw_mid_fsync": "the same with an fsync before the close",
    "fw_big": "first write of 4 KiB into a {big} lower file",
    "fio": "fio randwrite, {fio_ios:,} × 4 KiB over the {big} file, "
           "whole run (open and copy-up, writes, end fsync)",
    "fio_iops": "that fio job's own rate (its clock includes the open, "
                "the copy-up; higher is better)",
    "read_lower_cold": "sequential read of the {big} file, never written "
                       "(lower), cold",
    "read_lower_warm": "the same, warm",
    "read_cold": "sequential read of the {big} file after {scatter} "
                 "scattered 4 KiB writes, cold",
    "read_warm": "the same, warm",
}
PT_SPACE = {
    "upper_fw": "upper layer's space after the three first writes",
    "upper_scatter": "then after {scatter} writes into the {big} file",
    "upper_fio": "upper layer's space after fio's {fio_ios:,} writes",
    "granules_fw": "64 KiB granules of the {big} file in the upper "
                   "(partial record) after its first write",
    "granules_scatter": "the same after the {scatter} writes",
    "granules_fio": "the same after fio",
}
PT_NOTE = """Partial copy-up (issue 16): with `copyup=partial` the first write to a
big (≥ 1 MiB) regular lower file copies up only the 64 KiB granules it
touches, made durable before the upper file's record
(`trusted.overlay.cowfs.partial`, a bitmap) says it holds them, and the
reads of the other granules come from the lower file.
`scripts/bench/partial.py` puts a one-layer image on the ext4 of a loop
device on tmpfs: two files of {mid} MiB and one of {big}, a random 1 MiB
block repeated (no zeros), and mounts it, with an empty upper layer on the
same ext4, three ways by mount(2): cowfs with `copyup=partial`, cowfs with
`copyup=full` (the default: the whole file is copied at the first open
for writing) and overlayfs (`mount -t overlay`, as overlay2 mounts it).
With them, cowctl's snapshot drivers, each on its own loop device on the
same tmpfs: **btrfs** (a snapshot of the image's subvolume),
**devicemapper** (a dm-thin snapshot with its ext4) and **zfs** (a clone
of the image's snapshot), after the three unions' rounds, one driver at a
time.  Every round each gets two fresh unions (containers).  In the first,
every timed step from dropped caches and the filesystem settled by a
freeze and thaw (zfs: the pool exported and imported instead): the first
write into a {mid} MiB file (open O_WRONLY without O_TRUNC, a 4 KiB
pwrite in its middle, close), the same into the other one with an fsync
before the close, a sequential read (1 MiB reads) of the {big} file
through the union, cold then warm (a lower file: the reference), the
first write into it as above, {scatter_more} more 4 KiB writes spread over
it (untimed), and the sequential read again, cold then warm: with
`copyup=partial` a file of {scatter} upper granules and lower ones, with
the others a copied-up file; then untimed checks that the written blocks,
the granules around them and a sample of the rest read back as they must.
In the second, fio (`randwrite`, 4 KiB `psync` writes at {fio_ios:,}
random offsets of the {big} file, `randrepeat=1`, `fallocate=none`,
`end_fsync=1`), timed from its start, which opens the file for writing
(the copy-up), to its exit.  The space rows are the ext4's used blocks
(statvfs, after a sync) less those before the union's mount (for the
drivers, `cowctl driver df`'s used bytes); the granule rows count the
bits of the partial record, a check that the option took.  The unions
take turns in every round in a rotating order (one warm-up round of the
{mid} MiB first writes not counted).  Medians [first–third quartile] of
{rounds} rounds; the ratios are of the medians, above 1 is slower or
bigger (IOPS: faster).  Not pass/fail: issue 16's figures are below the
table, as measured.
{clocks}"""


def pt_index(data):
    return {(r["driver"], r["workload"]): r
            for r in data["records"]} if data else {}


def pt_row(title, unit, clock, ix, statuses, configs):
    cells = [mc_cell(ix.get(c), statuses.get(c)) for c in configs]
    v = {c: (ix[c]["value"] if ix.get(c) else None) for c in configs}
    for c in configs:
        if c == PT_BASE:
            continue
        q = ratio(v[c], v[PT_BASE])
        cells.append(fmt(q) + "×" if q is not None else "–")
    q = ratio(v.get("cowfs partial"), v.get("cowfs full"))
    cells.append(fmt(q) + "×" if q is not None else "–")
    return f"| {title} | {unit} | {clock} | " + " | ".join(cells) + " |"


def partial_section(wall_path, icount_path):
    """The copyup=partial section (markdown) from partial.py's JSON files
    of the wall-clock run and of the instruction-clock run (either may be
    missing); "" if there is neither."""
    runs = two_clock_runs(wall_path, icount_path)
    if not runs:
        return ""
    idx = {clock: pt_index(d) for clock, d in runs}
    sts = {clock: d["meta"].get("configs", {}) for clock, d in runs}
    p = runs[0][1]["meta"]["params"]
    big = p["big"]
    nums = dict(mid=p["mid"], scatter=p["scatter"],
                scatter_more=p["scatter"] - 1, fio_ios=p["fio_ios"],
                big=f"{big >> 10} GiB" if big % 1024 == 0 else f"{big} MiB")
    configs = [c for c in PT_CONFIGS
               if any(c in st for st in sts.values())]
    rounds, clocks = runs_text(runs)
    note = textwrap.fill(PT_NOTE.format(rounds=rounds, clocks=clocks,
                                        **nums),
                         width=74, break_long_words=False,
                         break_on_hyphens=False)
    out = ["### copyup=partial: first writes into big lower files, random "
           "writes, reads", "", note, ""]
    said = set()
    for clock, _ in runs:
        for c in configs:
            st = sts[clock].get(c)
            if st and st["status"] != "ok":
                line = f"{c}: {st['message']}"
                if line in said:
                    continue
                said.add(line)
                label = "" if st["status"] == "refused" else " " + st["status"]
                out.append(f"* **{c}{label}** ({clock} run): {st['message']}")
    for clock, _ in runs:
        gone = [c for c in configs if c not in sts[clock]]
        if gone and len(runs) > 1:
            said.add(clock)
            out.append(f"* The {clock} run left out {', '.join(gone)} "
                       "(partial.py --unions, --drivers).")
    if said:
        out.append("")
    others = [c for c in configs if c != PT_BASE]
    head = ("| measure | unit | clock | " + " | ".join(configs) + " | "
            + " | ".join(f"{c}/{PT_BASE}" for c in others)
            + " | partial/full |")
    out += [head, "|---|---|---|" + "---|" * (len(configs) + len(others) + 1)]
    for w, t in PT_TIMES.items():
        for clock, _ in runs:
            ix = {c: idx[clock].get((c, w)) for c in configs}
            if not any(ix.values()):
                continue
            unit = next((r["unit"] for r in ix.values() if r), "ms")
            out.append(pt_row(t.format(**nums), unit, clock, ix,
                              {c: st["status"] for c, st in
                               sts[clock].items()}, configs))
    for w, t in PT_SPACE.items():
        # the same whatever the clock: each configuration's from the first
        # run that has it (the icount run may leave the drivers out)
        ix, frm = {}, {}
        for c in configs:
            k = next((k for k, _ in runs if idx[k].get((c, w))), None)
            if k:
                ix[c], frm[c] = idx[k][(c, w)], k
        if not ix:
            continue
        clocks_used = [k for k, _ in runs if k in frm.values()]
        label = f"({clocks_used[0]} run"
        for k in clocks_used[1:]:
            label += "; " + ", ".join(c for c in configs
                                      if frm.get(c) == k) + f": {k} run"
        unit = next((r["unit"] for r in ix.values() if r), "")
        out.append(pt_row(t.format(**nums), unit, label + ")", ix,
                          {c: st["status"] for c, st in
                           sts[clocks_used[0]].items()}, configs))
    out.append("")

    # issue 16's "done when", as measured
    def val(clock, c, w):
        r = idx.get(clock, {}).get((c, w))
        return r["value"] if r else None

    figs = [
        ("first write of 4 KiB into a {mid} MiB lower file: cowfs partial "
         "/ overlayfs", "fw_mid", "overlayfs", "≤ 0.1×"),
        ("first write of 4 KiB into a {big} lower file: cowfs partial / "
         "overlayfs", "fw_big", "overlayfs", "≤ 0.01×"),
        ("sequential read of the {big} file after the writes, cold: "
         "partial / full", "read_cold", "cowfs full", "≤ 1.1×"),
        ("the same, warm: partial / full", "read_warm", "cowfs full",
         "≤ 1.1×"),
    ]
    rows = []
    for t, w, base, target in figs:
        cells = []
        for clock in ("icount", "wall"):
            q = ratio(val(clock, "cowfs partial", w), val(clock, base, w))
            cells.append(fmt(q) + "×" if q is not None else "–")
        rows.append(f"| {t.format(**nums)} | " + " | ".join(cells)
                    + f" | {target} |")
    out += ["Issue 16's figures, measured (the instruction clock's decide; "
            "the wall clock's for their spread):", "",
            "| figure | icount | wall | issue 16 |", "|---|---|---|---|"]
    out += rows + [""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?",
                    help="bench.py JSON (none: --hotpath alone)")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--docs", help="write this markdown page too")
    ap.add_argument("--wall", type=int, help="wall time of the VM run (s)")
    ap.add_argument("--icount", help="bench.py JSON of the first-write run "
                    "with the instruction clock (scripts/vm --icount)")
    ap.add_argument("--hotpath", help="hotpath.py JSON: the hot paths "
                    "section (issue 14)")
    ap.add_argument("--hotpath-base", help="an earlier hotpath.py JSON to "
                    "compare cowfs with (e.g. of the module before a change)")
    ap.add_argument("--rootless-icount", help="bench.py JSON of the "
                    "rootless group with the instruction clock")
    ap.add_argument("--metacopy", help="metacopy.py JSON, wall clock: the "
                    "metacopy section (issue 15)")
    ap.add_argument("--metacopy-icount", help="metacopy.py JSON, "
                    "instruction clock")
    ap.add_argument("--composefs", help="composefs.py JSON, wall clock: the "
                    "composefs-style image section")
    ap.add_argument("--composefs-icount", help="composefs.py JSON, "
                    "instruction clock")
    ap.add_argument("--partial", help="partial.py JSON, wall clock: the "
                    "copyup=partial section (issue 16)")
    ap.add_argument("--partial-icount", help="partial.py JSON, "
                    "instruction clock")
    a = ap.parse_args()
    if not a.results:
        mc = a.metacopy or a.metacopy_icount
        cfs = a.composefs or a.composefs_icount
        pt = a.partial or a.partial_icount
        if sum(map(bool, (a.hotpath, mc, cfs, pt))) != 1:
            ap.error("without bench.py's results: one of --hotpath, "
                     "--metacopy, --composefs, --partial")
        if a.hotpath:
            hotpath_only(a)
        elif mc:
            section_only(a, metacopy_section(a.metacopy, a.metacopy_icount),
                         MC_BEGIN, MC_END, "metacopy")
        elif pt:
            section_only(a, partial_section(a.partial, a.partial_icount),
                         PT_BEGIN, PT_END, "copyup=partial")
        else:
            section_only(a, composefs_section(a.composefs,
                                              a.composefs_icount),
                         CFS_BEGIN, CFS_END, "composefs")
        return

    with open(a.results) as f:
        data = json.load(f)
    meta, recs = data["meta"], data["records"]
    icount_recs = []
    if a.icount:
        with open(a.icount) as f:
            icount_recs = json.load(f)["records"]
    if a.wall:
        meta["wall_seconds"] = a.wall
    main_idx = add_ratios(recs)
    add_rootless_ratios(recs)
    rl_icount = None
    if a.rootless_icount:
        with open(a.rootless_icount) as f:
            rl_icount = json.load(f)
    with open(a.results + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(a.results + ".tmp", a.results)

    drivers = [d for d in ORDER if any(r["driver"] == d for r in recs)]
    cmp_drivers = [d for d in drivers if d != "direct"]
    workloads = workload_order([r for r in recs if r.get("backing") != "xfs"
                                and not is_rootless(r)])
    outdir = a.outdir
    os.makedirs(outdir, exist_ok=True)

    plots = []
    plots.append(line_plot(outdir, "create_mount", main_idx, drivers))
    groups = [
        ("first_write", "ms (log)", "first write to a lower file (copy-up)",
         [w for w in workloads if w.startswith("first_write_")], True),
        ("fio", "MiB/s", f"fio read of a {meta['params']['data_mib']} MiB image file",
         [w for w in workloads if w.startswith("fio_")], False),
        ("metadata", "ops/s", "create / stat / unlink of files in a container",
         [w for w in workloads if w.startswith("files_")], False),
        ("readdir", "ms", "readdir of a directory merged from 2 layers",
         [w for w in workloads if w.startswith("readdir_")], False),
        ("sharing", "MiB", "10 containers: page cache of reading one file, "
         "disk space of changing one byte in it",
         [w for w in workloads if w in ("page_cache", "disk_space")], False),
    ]
    for name, ylabel, ttl, ws, log in groups:
        if ws:
            plots.append(bar_plot(outdir, name, main_idx, ws, drivers, ylabel,
                                  ttl, log))
    plots = [p for p in plots if p]

    ctx = (f"{meta['profile']} run, {meta['date']}, kernel {meta['kernel']}, "
           f"QEMU {meta['qemu_mode']}, {meta['vcpus']} vCPUs, "
           f"{meta['mem_mib']} MiB; bench {meta['seconds']} s in the guest"
           + (f", {meta['wall_seconds']} s with boot" if meta.get('wall_seconds') else ""))
    parts = [f"Storage drivers: {ctx}.", ""]
    if meta.get("failed"):
        parts += [f"**Failed:** {', '.join(meta['failed'])}", ""]
    if workloads:
        parts += ["### Values", "",
                  table(main_idx, workloads, drivers, "value"), "",
                  "### Ratio to overlay2", "",
                  table(main_idx, workloads, cmp_drivers + ["direct"],
                        "ratio_overlay2", unitcol=False), "",
                  "### Ratio to the backing filesystem used directly", "",
                  table(main_idx, workloads, cmp_drivers, "ratio_direct",
                        unitcol=False), ""]
    ut = upper_table(recs, icount_recs)
    if ut:
        parts += ["### First write: cowfs vs overlay, ext4 and xfs upper", "",
                  FW_NOTE.format(settle=", the filesystem settled by a "
                                 "freeze and thaw" if meta.get("fw_settle")
                                 else ""), "", ut, ""]
    ft = fio_table(main_idx, workloads, cmp_drivers + ["direct"])
    if ft:
        parts += ["### fio: medians and quartiles", "",
                  f"Medians [first–third quartile] of "
                  f"{meta['params'].get('fio_reps', 1)} fio runs per driver, "
                  "each cold job after the caches were emptied.", "", ft, ""]
    hot_block = ""
    if a.hotpath:
        hot_md, hot_plots = hotpath_section(a.hotpath, outdir, a.hotpath_base)
        parts += [hot_md]
        if a.docs:
            hot_block = hot_docs_block(hot_md, hot_plots, outdir, a.docs)
        else:
            plots += hot_plots
    parts += rootless_section(recs, rl_icount, f"the bench VM ({meta['date']})")
    mc_md = metacopy_section(a.metacopy, a.metacopy_icount)
    if mc_md:
        parts += [mc_md]
    cfs_md = composefs_section(a.composefs, a.composefs_icount)
    if cfs_md:
        parts += [cfs_md]
    pt_md = partial_section(a.partial, a.partial_icount)
    if pt_md:
        parts += [pt_md]
    md = "\n".join(parts)
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write(md)
    print(md)

    if a.docs:
        rel = os.path.relpath(outdir, os.path.dirname(a.docs))
        imgs = "\n\n".join(f"![{p[:-4]}]({rel}/{p})" for p in plots)
        md_docs = md.replace(hot_md, hot_block) if hot_block else md
        if mc_md:
            md_docs = md_docs.replace(mc_md, docs_block(MC_BEGIN, MC_END, mc_md))
        if cfs_md:
            md_docs = md_docs.replace(cfs_md, docs_block(CFS_BEGIN, CFS_END, cfs_md))
        if pt_md:
            md_docs = md_docs.replace(pt_md, docs_block(PT_BEGIN, PT_END, pt_md))
        page = f"""# Storage driver benchmarks

`make bench` (full) and `make bench-quick` run `scripts/bench/bench.py` in
the test VM (`scripts/vm`, Debian's 6.12 kernel under QEMU) against the five
storage drivers of `cowctl` — cowfs, overlay2, devicemapper, btrfs, zfs —
and against **direct**: the same workload on a plain directory of the
backing filesystem.  `scripts/bench/report.py` makes this page, the table in
`bench-results/latest.md` and the plots from `bench-results/latest.json`
(records of driver, workload, value, unit, and the two ratios).

aufs is not in mainline Linux, so it is not measured: cowfs stands in for it.

How to read it:

* QEMU runs without KVM here (TCG): absolute times are many times those of
  real hardware.  Compare the **ratios**, which were all measured in the
  same VM run.
* Every driver stores its data on a loop device on the same tmpfs:
  cowfs and overlay2 (and direct) on ext4, devicemapper as an ext4 on
  dm-thin, btrfs and zfs on their own filesystems.  The xfs rows compare
  cowfs and overlay with an xfs (reflink=1) upper.
* Times are medians of {meta['params']['reps']} run(s).  Cold cache means
  `drop_caches` just before (fio's cold job also invalidates the file's
  cache itself); for zfs also an export and import of the pool, since
  `drop_caches` leaves the ARC at zfs_arc_min.  The first-write runs drop
  caches but keep the pool imported.
* First write of cowfs and overlay2: medians of
  {meta['params'].get('fw_reps', meta['params']['reps'])} rounds in which
  the two take turns on the same filesystem; the section at the end adds
  the same comparison timed by a clock that counts guest instructions.
  `make bench-first-write` repeats just that comparison
  (`bench-results/first-write/latest.md`).
* page cache: growth of page cache (less tmpfs) plus the ZFS ARC while 10
  containers read the same {meta['params']['data_mib']} MiB image file;
  disk space: growth of the backing store when each of 10 containers
  changes one byte of it.  For direct the 10 containers are 10 plain
  copies of the file (what a system without copy-on-write stores).
* direct's "create + mount" is a mkdir and a bind mount.
* Rootless containers: overlayfs and cowfs mounted with `userxattr` in a
  user namespace, and fuse-overlayfs, as uid 1000 in `unshare -Urm`,
  taking turns; the section at the end, with both clocks.
  `scripts/bench/run.sh --full --rootless` repeats just that comparison
  (`bench-results/rootless/latest.md`).
* metacopy: `chown -R` of a 10,000-file image in a union (the uid shift of
  a user-namespace remapping engine), then first writes to some of its
  files, and the upper layer's space, on overlayfs and cowfs with
  `metacopy=off` and `=on`, taking turns; the section at the end, with
  both clocks.  `make bench-metacopy` repeats just that comparison
  (`bench-results/metacopy/latest.md`) and rewrites its section here.
* composefs-style image: `cowctl composefs build` of a 5,000-file tree,
  mounted with `lowerdir=META::OBJECTS,metacopy=on,verity=require` and,
  as the baseline, the same tree as a plain lower layer, on overlayfs and
  cowfs, taking turns: the mount, a cold `lstat` of every entry and a
  cold read of every file (each open checks its object's fs-verity
  digest); the section at the end, with both clocks.  `make
  bench-composefs` repeats just that comparison
  (`bench-results/composefs/latest.md`) and rewrites its section here.
* copyup=partial (issue 16): the first 4 KiB write into 64 MiB and 1 GiB
  lower files, fio randwrite over the 1 GiB one, its sequential read
  after a few writes and the upper layer's space, on cowfs with
  `copyup=partial` and `=full` and overlayfs, taking turns, and on the
  btrfs, devicemapper and zfs drivers; the section at the end, with both
  clocks.  `make bench-partial` repeats just that comparison
  (`bench-results/partial/latest.md`) and rewrites its section here.

## Latest run

{md_docs}
## Plots

{imgs}
"""
        with open(a.docs, "w") as f:
            f.write(page)
        print(f"report.py: wrote {a.docs}")


if __name__ == "__main__":
    main()
