#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Differential test: cowfs against overlayfs (redirect_dir=on).

For each seed, build two lower layers from the seed, mount overlay and
cowfs over them (each with an upper and a workdir of its own), and run
the same random sequence of operations on both: create, write, append,
truncate, unlink, rmdir, mkdir, rename (plain, RENAME_NOREPLACE,
RENAME_EXCHANGE), link, symlink, chmod, setxattr, readdir, stat, read and
now and then a remount.  Every return value and errno must be the same,
then the merged trees, the merged trees after a remount, and the upper
directories on disk (names, types, modes, sizes, contents, user xattrs,
whiteouts, and what the opaque and redirect xattrs do; not origin bytes,
inode numbers or timestamps, except whether a copied-up file kept its lower
mtime).

The opaque and redirect xattrs of an upper directory are compared by their
effect: the lower directory its contents come from, or none.  overlayfs
also marks new directories in merged parents opaque where nothing is below,
and leaves a redirect behind when a rename fails with ENOTEMPTY: neither
changes any merged view (namespace_test and rename_dir_test check the
format of opaque and redirect xattrs themselves).

overlayfs lists the whiteouts of a directory that is not merged (one
layer only) in readdir; cowfs does not (documented, whiteout_test).  Names
that readdir lists but lstat() does not find are left out on both sides.

With --userns, both are mounted as a rootless container engine mounts
them: by the root of a user namespace, with 'userxattr' (the
user.overlay.* xattrs, no redirects: a merged directory cannot be renamed,
EXDEV); the caller makes the namespace (overlay_diff_test.sh: uid 1000 in
'unshare -Urm').  The test checks that it runs in one (its root is not
the initial namespace's) and that every mount shows userxattr, and fails
otherwise.

With --metacopy, both are mounted with metacopy=on: metadata changes copy
up metadata only, and on disk each upper file must be a metacopy file (and
carry the same redirect) on both sides.

The lower layers have hard links (several names of one file, in one
directory and across directories), and a third of the operations' paths
are such names, so that copy-up, unlink, link and rename over them happen
in most seeds (each seed prints how often).  The merged trees are also
compared every 50 operations.  Every picture of a tree compares st_nlink
and, as groups of names, which names share an st_ino (never the numbers).
With --index, both are mounted with index=on (mountinfo must show it): the
names of a lower file stay one file after a copy-up, and the index
directories on disk are compared too: their entries (by the lower file
each is for), types, link counts and the union link count that each
entry's nlink xattr gives, and the upper root's origin.  --index cannot go
with --userns (cowfs refuses index=on with userxattr).  With --userns,
overlayfs (which cannot decode origins there) may show a name linked to a
copied-up lower file with an st_ino of its own: see diff_pics().

Exit status: 0 all seeds agree, 1 a divergence (printed with the seed to
reproduce: --seed N) or, with --userns, no user namespace or no
userxattr, 4 cannot run (not root, no cowfs or overlay).
"""

import argparse
import ctypes
import errno
import os
import random
import stat
import struct
import sys
import tempfile

from ovl_libc import libc, AT_FDCWD, file_handle  # noqa: E402

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2

NAMES = ["a", "b", "c", "d", "e"]
OVL_PREFIX = "trusted.overlay."     # "user.overlay." with --userns
USERNS = False                      # --userns
METACOPY = False                    # --metacopy
INDEX = False                       # --index


class Divergence(Exception):
    pass


class NotUserns(Exception):
    """--userns, but the mounts are not what a user namespace makes."""


class NotIndexed(Exception):
    """--index, but a mount does not show index=on."""


def errname(e):
    return errno.errorcode.get(e, str(e))


def check(ret):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def do_mount(fstype, mnt, opts):
    check(libc.mount(b"none", mnt.encode(), fstype.encode(), 0,
                     opts.encode()))


def do_umount(mnt):
    check(libc.umount2(mnt.encode(), 0))


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")
    except OSError:
        pass


def fs_registered(name):
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == name for line in f if line.strip())


def userns_root():
    """The id that this user namespace's root has outside, or None in the
    initial namespace (whose uid_map is the identity over all ids)."""
    with open("/proc/self/uid_map") as f:
        ranges = [[int(x) for x in line.split()] for line in f]
    if ranges == [[0, 0, 4294967295]]:
        return None
    return next((outside for inside, outside, n in ranges if inside == 0),
                None)


def mount_options(path):
    """(fstype, super options) of the mount on @path, from mountinfo."""
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            a, b = line.split(" - ", 1)
            if a.split()[4] == path:
                found = b.split()[0], b.split()[2].split(",")
    return found


# ---- layers ------------------------------------------------------------


def rand_path(rng, depth=3):
    return "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, depth)))


def rand_data(rng):
    return "".join(rng.choice("xyz0123456789\n")
                   for _ in range(rng.randint(0, 40))).encode()


def opaque_above(root, rel):
    """Is @rel or one of its ancestors in layer @root opaque?"""
    while rel:
        try:
            if os.getxattr(os.path.join(root, rel),
                           OVL_PREFIX + "opaque") == b"y":
                return True
        except OSError:
            pass
        rel = os.path.dirname(rel)
    return False


def build_lower(rng, root, below=None):
    """A random tree; with @below, sometimes whiteouts and opaque dirs.
    Returns the regular files made."""
    files = []
    for _ in range(rng.randint(4, 12)):
        p = rand_path(rng)
        full = os.path.join(root, p)
        parent = os.path.dirname(full)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError:
            continue  # a file is in the way
        if os.path.lexists(full):
            continue
        kind = rng.random()
        try:
            if kind < 0.45:
                with open(full, "wb") as f:
                    f.write(rand_data(rng))
                files.append(p)
                if rng.random() < 0.2:
                    os.setxattr(full, "user.l", rand_data(rng) or b"v")
            elif kind < 0.8:
                os.mkdir(full)
                if below and rng.random() < 0.15:
                    os.setxattr(full, OVL_PREFIX + "opaque", b"y")
            elif kind < 0.9:
                os.symlink(rng.choice(NAMES), full)
            elif below and os.path.isdir(os.path.join(
                    below, os.path.dirname(p))) and \
                    not opaque_above(root, os.path.dirname(p)):
                # only where it hides something (see the docstring)
                os.mknod(full, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        except OSError:
            pass
    return files


def add_hardlinks(rng, root, files):
    """Give some of the files @files of layer @root more names: in their
    own directory and in others (made if need be).  Returns every name of
    a file with more than one, as layer-relative paths."""
    names = []
    if not files:
        # one file at least
        src = rand_path(rng, 2)
        try:
            os.makedirs(os.path.dirname(os.path.join(root, src)),
                        exist_ok=True)
            with open(os.path.join(root, src), "xb") as f:
                f.write(rand_data(rng))
            files = [src]
        except OSError:
            return names
    for src in rng.sample(files, min(len(files), rng.randint(1, 3))):
        group = [src]
        want = rng.randint(1, 3)
        for _ in range(10):
            if len(group) > want:
                break
            if rng.random() < 0.5:
                dst = os.path.join(os.path.dirname(src), rng.choice(NAMES))
            else:
                dst = rand_path(rng)
            full = os.path.join(root, dst)
            try:
                os.makedirs(os.path.dirname(full), exist_ok=True)
                os.link(os.path.join(root, src), full)
                group.append(dst)
            except OSError:
                pass  # a file in the way, or the name is taken
        if len(group) > 1:
            names += group
    return names


# ---- operations ---------------------------------------------------------


def gen_op(rng, hot=()):
    """A random operation; a third of its paths are names in @hot (the
    lower layers' hard links)."""
    def pick():
        if hot and rng.random() < 0.33:
            return rng.choice(hot)
        return rand_path(rng)
    p = pick()
    q = pick()
    if hot and rng.random() < 0.12:
        # what the index is for: change, add and remove hard-linked names
        p = rng.choice(hot)
        r = rng.random()
        if r < 0.3:
            return rng.choice([("write", p, rng.randint(0, 60),
                                rand_data(rng)),
                               ("append", p, rand_data(rng)),
                               ("truncate", p, rng.choice([0, 3, 100])),
                               ("chmod", p, 0o600),
                               ("setxattr", p, "user.k", b"h")])
        if r < 0.5:
            return ("unlink", p)
        if r < 0.75:
            # a new name: beside it, at the top, or anywhere
            return ("link", p, rng.choice([
                os.path.join(os.path.dirname(p), rng.choice(NAMES)),
                rng.choice(NAMES), q]))
        return ("rename", q, p, rng.choice([0, 0, RENAME_EXCHANGE]))
    r = rng.random()
    if r < 0.10:
        return ("create", p, rand_data(rng), rng.random() < 0.3)
    if r < 0.20:
        return ("write", p, rng.randint(0, 60), rand_data(rng))
    if r < 0.26:
        return ("append", p, rand_data(rng))
    if r < 0.31:
        return ("truncate", p, rng.choice([0, 0, 3, 17, 100]))
    if r < 0.38:
        return ("unlink", p)
    if r < 0.44:
        return ("rmdir", p)
    if r < 0.53:
        return ("mkdir", p, rng.choice([0o755, 0o700, 0o777]))
    if r < 0.65:
        return ("rename", p, q, rng.choice([0, 0, 0, RENAME_NOREPLACE,
                                            RENAME_EXCHANGE]))
    if r < 0.69:
        return ("link", p, q)
    if r < 0.73:
        return ("symlink", rng.choice(NAMES + ["../" + rng.choice(NAMES)]), p)
    if r < 0.78:
        return ("chmod", p, rng.choice([0o600, 0o644, 0o755, 0o4755]))
    if r < 0.82:
        return ("setxattr", p, "user." + rng.choice(["k", "l", "m"]),
                rand_data(rng) or b"v")
    if r < 0.88:
        return ("readdir", rng.choice(["", p]))
    if r < 0.94:
        return ("stat", p)
    if r < 0.985:
        return ("read", p)
    return ("remount",)


def stat_summary(st):
    nlink = st.st_nlink
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
            st.st_size if not stat.S_ISDIR(st.st_mode) else 0, nlink,
            st.st_uid, st.st_gid)


def run_op(side, op):
    """Run @op on one side; returns a comparable result."""
    m = side.mnt
    P = lambda rel: os.path.join(m, rel) if rel else m  # noqa: E731
    kind = op[0]
    try:
        if kind == "create":
            flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if op[3] else
                                                os.O_TRUNC)
            fd = os.open(P(op[1]), flags, 0o644)
            try:
                os.write(fd, op[2])
            finally:
                os.close(fd)
            return "ok"
        if kind == "write":
            fd = os.open(P(op[1]), os.O_WRONLY)
            try:
                return ("ok", os.pwrite(fd, op[3], op[2]))
            finally:
                os.close(fd)
        if kind == "append":
            fd = os.open(P(op[1]), os.O_WRONLY | os.O_APPEND)
            try:
                return ("ok", os.write(fd, op[2]))
            finally:
                os.close(fd)
        if kind == "truncate":
            os.truncate(P(op[1]), op[2])
            return "ok"
        if kind == "unlink":
            os.unlink(P(op[1]))
            return "ok"
        if kind == "rmdir":
            os.rmdir(P(op[1]))
            return "ok"
        if kind == "mkdir":
            os.mkdir(P(op[1]), op[2])
            return "ok"
        if kind == "rename":
            check(libc.renameat2(AT_FDCWD, P(op[1]).encode(), AT_FDCWD,
                                 P(op[2]).encode(), op[3]))
            return "ok"
        if kind == "link":
            os.link(P(op[1]), P(op[2]))
            return "ok"
        if kind == "symlink":
            os.symlink(op[1], P(op[2]))
            return "ok"
        if kind == "chmod":
            os.chmod(P(op[1]), op[2])
            return "ok"
        if kind == "setxattr":
            os.setxattr(P(op[1]), op[2], op[3], follow_symlinks=False)
            return "ok"
        if kind == "readdir":
            names = []
            with os.scandir(P(op[1])) as it:
                for de in it:
                    if not os.path.lexists(de.path):
                        continue  # a whiteout overlayfs lists (see top)
                    names.append((de.name, de.is_dir(follow_symlinks=False),
                                  de.is_symlink()))
            return ("ok", sorted(names))
        if kind == "stat":
            return ("ok", stat_summary(os.lstat(P(op[1]))))
        if kind == "read":
            with open(P(op[1]), "rb") as f:
                return ("ok", f.read(4096))
        if kind == "remount":
            side.remount()
            return "ok"
    except OSError as e:
        return ("err", errname(e.errno))
    raise ValueError(kind)


# ---- trees ----------------------------------------------------------------


def xattrs(path, names, hide=None):
    """User xattrs and @names of @path, but none that starts with @hide."""
    out = {}
    try:
        listed = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return {"<listxattr>": errname(e.errno)}
    for n in sorted(listed):
        if hide and n.startswith(hide):
            continue
        if n.startswith("user.") or n in names:
            try:
                out[n] = os.getxattr(path, n, follow_symlinks=False)
            except OSError as e:
                out[n] = errname(e.errno)
    return out


def walk(root, on_disk=False, lowers=()):
    """Picture of the tree under @root: {relpath: description}.

    A non-directory's description has the other names of the tree that
    share its st_ino ("same_ino"), so that which names are one file is
    compared, not the numbers (on disk, whiteouts are left out: overlayfs
    links its whiteouts to one).

    On disk, a directory's redirect and opaque xattrs are compared by what
    they do: where in the lower layers its contents come from (nothing
    when it is opaque or no lower layer has a directory there); so is a
    metacopy file's redirect: the lower file it leads to (with lower hard
    links, overlayfs and cowfs may name it by different names).
    """
    pic = {}
    inos = {}   # (st_dev, st_ino) of a non-directory: its names

    def lower_dir(eff):
        """Do the lower layers show a directory at @eff?  Looked up as
        the union does, top layer first, one name at a time: a whiteout
        or a non-directory ends the search, an opaque directory hides
        the layers below it."""
        layers = list(lowers)
        rel = ""
        for name in eff.split("/"):
            rel = os.path.join(rel, name)
            found = []
            for lw in layers:
                try:
                    st = os.lstat(os.path.join(lw, rel))
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    break   # a whiteout or a file: nothing merges below
                found.append(lw)
                if opaque_above(lw, rel):
                    break
            layers = found
            if not layers:
                return False
        return True

    def lower_file(rel):
        """The lower file that the union finds at @rel, as its names in
        its layer, or None."""
        for i, lw in enumerate(lowers):
            try:
                st = os.lstat(os.path.join(lw, rel))
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                return None
            names = []
            for d, _, files in os.walk(lw):
                for n in files:
                    if os.lstat(os.path.join(d, n)).st_ino == st.st_ino:
                        names.append(os.path.relpath(os.path.join(d, n), lw))
            return "l%d:%s" % (i, ",".join(sorted(names)))
        return None

    def visit(d, rel, parent_eff):
        for name in sorted(os.listdir(d)):
            full = os.path.join(d, name)
            r = os.path.join(rel, name) if rel else name
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue  # a whiteout overlayfs lists (see top)
            desc = {"stat": stat_summary(st)}
            eff = None
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    desc["data"] = f.read()
            elif stat.S_ISLNK(st.st_mode):
                desc["target"] = os.readlink(full)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                desc["rdev"] = st.st_rdev
                if on_disk and st.st_rdev == 0:
                    # overlayfs hard-links its whiteouts to one in workdir
                    desc["stat"] = desc["stat"][:3] + desc["stat"][4:]
            if not stat.S_ISDIR(st.st_mode) and \
                    not (on_disk and stat.S_ISCHR(st.st_mode) and
                         st.st_rdev == 0):
                inos.setdefault((st.st_dev, st.st_ino), []).append(r)
            if stat.S_ISDIR(st.st_mode):
                # a merged dir's link count is not defined (1 on both)
                desc["stat"] = desc["stat"][:3] + desc["stat"][4:]
            # the union's own xattrs on disk are compared by what they do
            # (below); through the union, neither shows them
            desc["xattrs"] = xattrs(full, (), OVL_PREFIX if on_disk else None)
            if on_disk and stat.S_ISDIR(st.st_mode):
                redirect = opaque = None
                try:
                    redirect = os.getxattr(full, OVL_PREFIX + "redirect",
                                           follow_symlinks=False).decode()
                except OSError:
                    pass
                try:
                    opaque = os.getxattr(full, OVL_PREFIX + "opaque",
                                         follow_symlinks=False)
                except OSError:
                    pass
                if redirect and redirect.startswith("/"):
                    eff = redirect.strip("/")
                elif parent_eff is not None:
                    eff = os.path.join(parent_eff, redirect or name) \
                        if parent_eff else (redirect or name)
                if opaque == b"y" or eff is None or not lower_dir(eff):
                    eff = None
                desc["lower_contents_from"] = eff
            if on_disk and stat.S_ISREG(st.st_mode):
                # a metacopy file (its data below) and where it points
                for x in ("metacopy", "redirect"):
                    try:
                        desc[x] = os.getxattr(full, OVL_PREFIX + x,
                                              follow_symlinks=False)
                    except OSError:
                        desc[x] = None
                if desc["redirect"]:
                    # by the lower file it leads to: two names of one
                    # lower file are the same redirect
                    v = desc["redirect"].decode(errors="replace")
                    if not v.startswith("/"):
                        v = os.path.join(parent_eff or os.path.dirname(r),
                                         v)
                    desc["redirect"] = lower_file(v.strip("/")) or \
                        desc["redirect"]
                # times as relations: did a copy-up keep the lower mtime?
                for lw in lowers:
                    b = os.path.join(lw, r)
                    if os.path.lexists(b):
                        lst = os.lstat(b)
                        if stat.S_ISREG(lst.st_mode):
                            desc["kept_mtime"] = \
                                lst.st_mtime_ns == st.st_mtime_ns
                        break
            pic[r] = desc
            if stat.S_ISDIR(st.st_mode):
                visit(full, r, eff)

    visit(root, "", "")
    for names in inos.values():
        for r in names:
            pic[r]["same_ino"] = sorted(n for n in names if n != r)
    return pic


def lower_files(lowers):
    """{file handle: (its names in its layer, its st_nlink)} of every
    regular file of the lower layers."""
    out = {}
    for i, lw in enumerate(lowers):
        byino = {}
        for d, _, files in os.walk(lw):
            for n in files:
                full = os.path.join(d, n)
                st = os.lstat(full)
                if stat.S_ISREG(st.st_mode):
                    byino.setdefault(st.st_ino, [st.st_nlink]).append(
                        os.path.relpath(full, lw))
        for nlink, *names in byino.values():
            h = file_handle(os.path.join(lw, names[0]))
            if h is not None:
                out[h] = ("l%d:%s" % (i, ",".join(sorted(names))), nlink)
    return out


def index_pic(work, upper, lowers):
    """Picture of the index of @work: each entry (by the lower file it is
    for: its names in its layer) with its type, link count and the union's
    link count that its nlink xattr gives; then whether the upper root and
    the index directory have their origin and upper xattrs."""
    index = os.path.join(work, "index")
    if not os.path.isdir(index):
        return {"<index>": "missing"}
    pic = {}
    known = lower_files(lowers)
    for name in sorted(os.listdir(index)):
        full = os.path.join(index, name)
        st = os.lstat(full)
        if name.startswith("#") and stat.S_ISCHR(st.st_mode) and \
                st.st_rdev == 0:
            continue  # overlayfs's shared whiteout (see walk())
        desc = {"name": name, "type": stat.S_IFMT(st.st_mode),
                "nlink": st.st_nlink}
        key = "entry " + name
        lower_nlink = None
        try:
            fb = bytes.fromhex(name)
        except ValueError:
            fb = b""
        # struct ovl_fb: version, magic, len, flags, type, uuid[16], fid
        if len(fb) > 21 and (fb[4], fb[21:]) in known:
            key, lower_nlink = known[(fb[4], fb[21:])]
            key = "entry for " + key
        try:
            v = os.getxattr(full, OVL_PREFIX + "nlink",
                            follow_symlinks=False).decode()
            base = {"U": st.st_nlink, "L": lower_nlink}[v[0]]
            desc["union_nlink"] = base + int(v[1:])
        except (OSError, KeyError, IndexError, ValueError, TypeError) as e:
            desc["union_nlink"] = "unusable: %r" % e
        pic[key] = desc
    for what, path, x in (("upper root", upper, "origin"),
                          ("index dir", index, "upper")):
        try:
            v = os.getxattr(path, OVL_PREFIX + x)
            # the upper root's origin names the same lower root on both
            pic["<%s %s>" % (what, x)] = v if x == "origin" else len(v)
        except OSError as e:
            pic["<%s %s>" % (what, x)] = errname(e.errno)
    return pic


def diff_pics(a, b, merged=False):
    """First difference between two pictures, or None.

    @merged: @a is overlayfs's merged tree, @b cowfs's.  In a user
    namespace overlayfs decodes no origin (that needs CAP_DAC_READ_SEARCH
    in the initial namespace), so a name linked to a copied-up lower file
    is looked up as a file of its own: its st_ino differs from the other
    names' until a remount.  cowfs shows one file; there, each name's
    group on overlayfs must be within its group on cowfs.
    """
    for k in sorted(set(a) | set(b)):
        if k not in a:
            return "%s: only on cowfs: %s" % (k, b[k])
        if k not in b:
            return "%s: only on overlay: %s" % (k, a[k])
        x, y = a[k], b[k]
        if merged and USERNS and "same_ino" in x and "same_ino" in y and \
                set(x["same_ino"]) <= set(y["same_ino"]):
            x = dict(x, same_ino=y["same_ino"])
        if x != y:
            return "%s:\n    overlay %s\n    cowfs   %s" % (k, a[k], b[k])
    return None


# ---- one seed ------------------------------------------------------------


class Side:
    def __init__(self, fstype, base, lowers):
        self.fstype = fstype
        self.mnt = os.path.join(base, "m_" + fstype)
        self.upper = os.path.join(base, "u_" + fstype)
        self.work = os.path.join(base, "w_" + fstype)
        for d in (self.mnt, self.upper, self.work):
            os.mkdir(d)
        self.opts = "lowerdir=%s,upperdir=%s,workdir=%s" % (
            ":".join(lowers), self.upper, self.work)
        if USERNS:
            self.opts += ",userxattr"
        elif fstype == "overlay":
            self.opts += ",redirect_dir=on"
        if METACOPY:
            self.opts += ",metacopy=on"
        if INDEX:
            self.opts += ",index=on"
        self.mounted = False

    def mount(self):
        do_mount(self.fstype, self.mnt, self.opts)
        self.mounted = True
        if INDEX:
            got = mount_options(self.mnt)
            if got is None or "index=on" not in got[1]:
                raise NotIndexed("%s on %s: mountinfo shows %s, not index=on "
                                 "(a layer without file handles or uuid?)"
                                 % (self.fstype, self.mnt, got))
        if USERNS:
            got = mount_options(self.mnt)
            if got is None or got[0] != self.fstype or \
                    "userxattr" not in got[1]:
                raise NotUserns("%s on %s: mountinfo shows %s, not %s with "
                                "userxattr" % (self.fstype, self.mnt, got,
                                               self.fstype))

    def umount(self):
        if self.mounted:
            do_umount(self.mnt)
            self.mounted = False

    def remount(self):
        self.umount()
        drop_caches()
        self.mount()


def fmt_op(op):
    return "%s(%s)" % (op[0], ", ".join(repr(x) for x in op[1:]))


HOT_KINDS = ("copy-up", "unlink", "link", "rename-over")


def hot_kind(op):
    """What @op does to a hard-linked name in its first (or, rename, its
    second) path, if it succeeds: one of HOT_KINDS, or None."""
    if op[0] in ("write", "append", "truncate", "chmod", "setxattr"):
        return "copy-up"
    if op[0] in ("unlink", "link"):
        return op[0]
    if op[0] == "rename":
        return "rename-over"
    return None


def hot_target(op):
    return op[2] if op[0] == "rename" else op[1]


def is_hardlink(path):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1


def compare_merged(ovl, cow, where):
    d = diff_pics(walk(ovl.mnt), walk(cow.mnt), True)
    if d is not None:
        raise Divergence("%s, the merged tree differs at %s" % (where, d))


def run_seed(seed, nops, tmp, verbose):
    """Returns how many operations of each of HOT_KINDS succeeded on a
    name that was a hard link (st_nlink > 1) just before."""
    rng = random.Random(seed)
    base = tempfile.mkdtemp(prefix="ovldiff-%d-" % seed, dir=tmp)
    lowers = [os.path.join(base, "l0"), os.path.join(base, "l1")]
    for lw in lowers:
        os.mkdir(lw)
    hot = add_hardlinks(rng, lowers[1], build_lower(rng, lowers[1]))
    hot += add_hardlinks(rng, lowers[0],
                         build_lower(rng, lowers[0], below=lowers[1]))
    hot = sorted(set(hot))
    if verbose:
        print("  lower hard links: %s" % " ".join(hot))
    hits = dict.fromkeys(HOT_KINDS, 0)
    ovl = Side("overlay", base, lowers)
    cow = Side("cowfs", base, lowers)
    try:
        ovl.mount()
        cow.mount()
        for step in range(nops):
            op = gen_op(rng, hot)
            kind = hot_kind(op)
            linked = kind and is_hardlink(os.path.join(ovl.mnt,
                                                       hot_target(op)))
            if kind and is_hardlink(os.path.join(cow.mnt,
                                                 hot_target(op))) != linked:
                raise Divergence("step %d: before %s, %s is a hard link on "
                                 "one side only (overlay: %s)"
                                 % (step, fmt_op(op), hot_target(op),
                                    linked))
            ro = run_op(ovl, op)
            rc = run_op(cow, op)
            if verbose:
                print("  %d %s -> %s" % (step, fmt_op(op), ro))
            if ro != rc:
                raise Divergence("step %d: %s\n    overlay %s\n    cowfs   %s"
                                 % (step, fmt_op(op), ro, rc))
            if linked and (ro == "ok" or ro[0] == "ok"):
                hits[kind] += 1
            if step % 50 == 49 and step + 1 < nops:
                compare_merged(ovl, cow, "after %d operations" % (step + 1))
        where = "merged tree"
        d = diff_pics(walk(ovl.mnt), walk(cow.mnt), True)
        if d is None:
            before = walk(cow.mnt)
            ovl.remount()
            cow.remount()
            where = "merged tree after remount"
            after = walk(cow.mnt)
            d = diff_pics(walk(ovl.mnt), after, True)
            if d is None:
                where = "cowfs merged tree before and after remount"
                d = diff_pics(before, after)
        if d is None:
            ovl.umount()
            cow.umount()
            where = "upper directory on disk"
            d = diff_pics(walk(ovl.upper, True, lowers),
                          walk(cow.upper, True, lowers))
        if d is None and INDEX:
            where = "index directory on disk"
            d = diff_pics(index_pic(ovl.work, ovl.upper, lowers),
                          index_pic(cow.work, cow.upper, lowers))
        if d is not None:
            raise Divergence("after %d operations, %s differs at %s"
                             % (nops, where, d))
    finally:
        for s in (ovl, cow):
            try:
                s.umount()
            except OSError:
                pass
        os.system("rm -rf '%s'" % base)
    return hits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=60)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--seed", type=int, help="run this seed only")
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--keep-going", action="store_true",
                    help="run every seed, report each divergence")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every operation and overlay's result")
    ap.add_argument("--metacopy", action="store_true",
                    help="both with metacopy=on")
    ap.add_argument("--index", action="store_true",
                    help="both with index=on (not with --userns)")
    ap.add_argument("--userns", action="store_true",
                    help="in a user namespace: both with userxattr (the "
                    "caller makes the namespace, e.g. 'unshare -Urm')")
    args = ap.parse_args()
    if args.index and args.userns:
        ap.error("--index cannot go with --userns (cowfs refuses "
                 "index=on with userxattr)")

    if os.getuid() != 0:
        print("SKIP: must run as root")
        return 4
    if args.metacopy:
        global METACOPY
        METACOPY = True
    if args.index:
        global INDEX
        INDEX = True
    if args.userns:
        global OVL_PREFIX, USERNS
        OVL_PREFIX, USERNS = "user.overlay.", True
        outside = userns_root()
        if outside is None:
            print("FAIL: --userns, but this is the initial user namespace")
            return 1
        print("# in a user namespace whose root is uid %d outside; "
              "both mounted with userxattr" % outside)
    for fs in ("overlay", "cowfs"):
        if not fs_registered(fs):
            os.system("modprobe %s >/dev/null 2>&1" % fs)
        if not fs_registered(fs):
            print("SKIP: filesystem %s not available" % fs)
            return 4

    seeds = [args.seed] if args.seed is not None else \
        range(args.first_seed, args.first_seed + args.seeds)
    failed = []
    tmp = os.environ.get("TMPDIR", "/tmp")
    seeds_hit = dict.fromkeys(HOT_KINDS, 0)
    for seed in seeds:
        try:
            hits = run_seed(seed, args.ops, tmp, args.verbose)
            print("ok seed %d (%d ops; on hard links: %s)"
                  % (seed, args.ops, ", ".join("%s %d" % (k, hits[k])
                                               for k in HOT_KINDS)))
            for k in HOT_KINDS:
                seeds_hit[k] += hits[k] > 0
        except Divergence as e:
            print("DIVERGENCE seed %d, %s" % (seed, e))
            print("  reproduce: %s%s%s%s --seed %d --ops %d -v"
                  % (sys.argv[0], " --userns" if USERNS else "",
                     " --metacopy" if METACOPY else "",
                     " --index" if INDEX else "", seed, args.ops))
            failed.append(seed)
            if not args.keep_going:
                break
        except (NotUserns, NotIndexed) as e:
            print("FAIL seed %d: %s" % (seed, e))
            failed.append(seed)
            break
    ran = len(seeds) if args.keep_going or not failed else \
        list(seeds).index(failed[0]) + 1
    passed = ran - len(failed)
    if passed:
        print("# seeds with a successful operation on a hard-linked name: "
              "%s (of %d)" % (", ".join("%s %d" % (k, seeds_hit[k])
                                        for k in HOT_KINDS), passed))
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
