#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Read and replay a dm-log-writes log (Python 3, standard library only).

dm-log-writes (drivers/md/dm-log-writes.c, Documentation/admin-guide/
device-mapper/log-writes.rst) passes every bio to its data device and
records each write, once it has been flushed, on its log device:

  sector 0          struct log_write_super { le64 magic 0x6a736677736872,
                    le64 version 1, le64 nr_entries, le32 sectorsize }
  then nr_entries   [one sector: struct log_write_entry { le64 sector,
                    le64 nr_sectors, le64 flags, le64 data_len } (+ the
                    text of a mark)][nr_sectors sectors of data]

Sizes and sector numbers are in units of sectorsize (the data device's
logical block size); a DISCARD or a MARK entry has no data after it.  The
writes are in the order they reached stable storage: the writes completed
before a flush come before its FLUSH entry, a FUA write comes when it
completed.  A power cut can therefore expose the device as it is after
replaying the log up to any FLUSH or FUA entry (plus, in reality, any
subset of the later writes, which this tool does not enumerate): those
are the "crash points" of replay_points().

Command line (for a look at a log by hand):
  logreplay.py list LOGDEV                 every entry, one a line
  logreplay.py replay LOGDEV DEV [--to N]  write entries 0..N (default:
                                           all) onto DEV, a copy of the
                                           data device's initial state
  logreplay.py replay LOGDEV DEV --mark NAME   up to and with the mark
"""

import argparse
import os
import struct
import sys

MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
FLAG_NAMES = ((FLUSH, "FLUSH"), (FUA, "FUA"), (DISCARD, "DISCARD"),
              (MARK, "MARK"), (METADATA, "META"))
SUPER = struct.Struct("<QQQI")
ENTRY = struct.Struct("<QQQQ")


class LogError(Exception):
    pass


class Entry:
    __slots__ = ("index", "sector", "nr_sectors", "flags", "data_len",
                 "data_off", "mark")

    def __init__(self, index, sector, nr_sectors, flags, data_len,
                 data_off, mark):
        self.index = index
        self.sector = sector
        self.nr_sectors = nr_sectors
        self.flags = flags
        self.data_len = data_len
        self.data_off = data_off      # byte offset of the data in the log
        self.mark = mark

    def is_point(self):
        """A point a power cut can expose: after a FLUSH or a FUA write."""
        return bool(self.flags & (FLUSH | FUA))

    def describe(self, sectorsize):
        fl = "|".join(n for b, n in FLAG_NAMES if self.flags & b) or "-"
        if self.flags & MARK:
            return "%d MARK %r" % (self.index, self.mark)
        return "%d %s byte %d len %d" % (
            self.index, fl, self.sector * sectorsize,
            self.nr_sectors * sectorsize)


class Log:
    """The entries of a dm-log-writes log device (or an image of one)."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        head = os.pread(self.fd, 4096, 0)
        if len(head) < SUPER.size:
            raise LogError("%s: too short for a log super block" % path)
        magic, version, nr, ssz = SUPER.unpack_from(head)
        if magic != MAGIC:
            raise LogError("%s: bad magic %#x (not a dm-log-writes log, "
                           "or logging never started)" % (path, magic))
        if version != 1:
            raise LogError("%s: log version %d, this reads 1" % (path, version))
        if ssz < 512 or ssz & (ssz - 1):
            raise LogError("%s: bad sector size %d" % (path, ssz))
        self.sectorsize = ssz
        self.nr_entries = nr
        self.entries = []
        size = os.fstat(self.fd).st_size or _blkdev_size(self.fd)
        off = ssz                       # the first entry follows the super
        for i in range(nr):
            hdr = os.pread(self.fd, ssz, off)
            if len(hdr) < ENTRY.size:
                raise LogError("%s: entry %d at byte %d beyond the end"
                               % (path, i, off))
            sector, nsec, flags, dlen = ENTRY.unpack_from(hdr)
            mark = None
            if flags & MARK:
                mark = hdr[ENTRY.size:ENTRY.size + dlen].decode(
                    "utf-8", "replace").rstrip("\0")
            data_off = off + ssz
            if not flags & (DISCARD | MARK):
                off = data_off + nsec * ssz
            else:
                off = data_off
            if off > size:
                raise LogError("%s: entry %d runs past the end of the log"
                               % (path, i))
            self.entries.append(Entry(i, sector, nsec, flags, dlen,
                                      data_off, mark))

    def close(self):
        os.close(self.fd)

    def mark_index(self, name):
        for e in self.entries:
            if e.flags & MARK and e.mark == name:
                return e.index
        return None

    def replay_points(self):
        """Indices of the entries after which a power cut can leave the
        device: every FLUSH and every FUA entry."""
        return [e.index for e in self.entries if e.is_point()]


def _blkdev_size(fd):
    return os.lseek(fd, 0, os.SEEK_END)


class Replayer:
    """Applies a log's entries in order onto a device or image file."""

    CHUNK = 1 << 20

    def __init__(self, log, target):
        self.log = log
        self.fd = os.open(target, os.O_RDWR | os.O_CLOEXEC)
        self.next = 0                   # index of the next entry to apply

    def close(self):
        os.fsync(self.fd)
        os.close(self.fd)

    def apply(self, e):
        ssz = self.log.sectorsize
        if e.flags & MARK:
            return
        pos = e.sector * ssz
        left = e.nr_sectors * ssz
        if e.flags & DISCARD:
            # A discarded range reads back as zeroes on the loop and
            # tmpfs devices used here.
            zero = bytes(min(left, self.CHUNK))
            while left > 0:
                n = min(left, len(zero))
                os.pwrite(self.fd, zero[:n], pos)
                pos += n
                left -= n
            return
        src = e.data_off
        while left > 0:
            n = min(left, self.CHUNK)
            buf = os.pread(self.log.fd, n, src)
            if len(buf) != n:
                raise LogError("short read of entry %d's data" % e.index)
            os.pwrite(self.fd, buf, pos)
            pos += n
            src += n
            left -= n

    def replay_to(self, last):
        """Apply every entry up to and including index @last."""
        if last < self.next - 1:
            raise LogError("cannot replay backwards (at %d, asked %d)"
                           % (self.next - 1, last))
        while self.next <= last:
            self.apply(self.log.entries[self.next])
            self.next += 1


def main(argv):
    ap = argparse.ArgumentParser(description="dm-log-writes log reader")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="list the entries")
    p.add_argument("log")
    p = sub.add_parser("replay", help="replay entries onto a device")
    p.add_argument("log")
    p.add_argument("dev")
    p.add_argument("--to", type=int, help="last entry to apply")
    p.add_argument("--mark", help="apply up to this mark")
    a = ap.parse_args(argv)
    try:
        log = Log(a.log)
        if a.cmd == "list":
            print("# %d entries, sector size %d, %d FLUSH/FUA points"
                  % (len(log.entries), log.sectorsize,
                     len(log.replay_points())))
            for e in log.entries:
                print(e.describe(log.sectorsize))
            return 0
        last = len(log.entries) - 1
        if a.to is not None:
            last = a.to
        if a.mark is not None:
            last = log.mark_index(a.mark)
            if last is None:
                raise LogError("no mark %r in the log" % a.mark)
        r = Replayer(log, a.dev)
        r.replay_to(min(last, len(log.entries) - 1))
        r.close()
        print("replayed entries 0..%d of %d" % (last, len(log.entries)))
        return 0
    except (LogError, OSError) as ex:
        print("logreplay: %s" % ex, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
