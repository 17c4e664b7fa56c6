"""stat, warm, watch and readers: what a database holds, and who uses it (the C tool's
cmd_stat.c, cmd_warm.c, cmd_watch.c and cmd_readers.c)."""

import errno
import os
import time

import strata

from .common import (DB, ENV, HELP, OK, PROGRESS, QUIET, READ_ONLY, Failure, Interrupted,
                     Output, UsageError, check_operands, db_error, is_main, open_common,
                     open_db, open_subdb, os_error, parse, parse_count, take_dbpath)
from .progress import BYTES, Progress, watching

LEVELS = 7
# Up to this many bytes of tables the entries are counted exactly; beyond it counting
# would read the whole database, so a sample is used.
EXACT_COUNT_BYTES = 256 << 20
SAMPLE_ENTRIES = 100000


def human(n):
    """Bytes as "123 B", "1.5 KiB" ... (the C tool's format)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    v = float(n)
    u = 0
    while v >= 1024 and u < 4:
        v /= 1024
        u += 1
    return "%.1f %s" % (v, units[u]) if u else "%.0f %s" % (v, units[u])


def _num_property(db, name):
    """A numeric property, or None when it is unknown or not a number."""
    try:
        raw = db.get_property(name.encode())
    except strata.Error:
        return None
    if not raw:
        return None
    digits = raw.split()[0] if raw.split() else b""
    i = 0
    while i < len(digits) and 0x30 <= digits[i] <= 0x39:
        i += 1
    return int(digits[:i]) if i else None


# ---------------------------------------------------------------------------------------
# stat
# ---------------------------------------------------------------------------------------

def _count_entries(db, table_bytes, exact):
    """(count, exact): every entry of the main database counted, or the first
    SAMPLE_ENTRIES scaled by the bytes they occupy on disk."""
    it = db.iterator(include_value=False)
    try:
        first = None
        n = 0
        current = None
        for key in it:
            if first is None:
                first = key
            if not exact and n == SAMPLE_ENTRIES:
                current = key
                break
            n += 1
        if current is None:
            return n, True
        # Stopped at the sample's end: estimate from the share of the table bytes that
        # [first, current) occupies.
        sample = db.approximate_size(first, current)
        if sample > 0:
            return int(n * table_bytes / sample), False
        # The sample is still in the memtable: no ratio to go by.
        n += 1
        for _ in it:
            n += 1
        return n, True
    finally:
        it.close()


def _stat_subdb(db, name, exact, out):
    """stat -d NAME: the entries and bytes of one sub-database."""
    sdb = open_subdb(db, name)
    try:
        st = sdb.stat() if sdb is not None else db._main_stat()
        n = 0
        if exact:
            with (sdb if sdb is not None else db).iterator(include_value=False) as it:
                for _ in it:
                    n += 1
    except strata.Error as e:
        raise db_error("statistics failed", e) from None
    text = "sub-database: %s\n" % (":main:" if is_main(name) else name)
    if exact:
        text += "entries: %d (counted)\n" % n
    else:
        text += "entries: ~%d (estimated; --exact counts all)\n" % st["entries"]
    text += "bytes: ~%d (%s)\n" % (st["bytes"], human(st["bytes"]))
    out.write(text.encode("utf-8", "surrogateescape"))


def run_stat(ctx, argv):
    """strata stat [--exact] [-d NAME] [-r] DBPATH"""
    opts, operands, co = parse(ctx, argv, [(None, "exact", False), ENV, DB, READ_ONLY, HELP])
    exact = any(n == "exact" for n, _ in opts)
    take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    db = open_common(co, shared=True)
    try:
        out = Output(ctx)
        if co.subdb is not None:
            _stat_subdb(db, co.subdb, exact, out)
            out.finish()
            return OK
        lines = ["database: %s\n\nlevel  files            bytes\n" % co.dbpath]
        total_files = total_bytes = 0
        for level in range(LEVELS):
            files = _num_property(db, "leveldb.num-files-at-level%d" % level)
            nbytes = _num_property(db, "strata.level-bytes%d" % level)
            total_files += files or 0
            total_bytes += nbytes or 0
            lines.append("%5d  %5s  %15s\n" % (level, "-" if files is None else files,
                                              "-" if nbytes is None else nbytes))
        lines.append("total  %5d  %15d  (%s)\n" % (total_files, total_bytes, human(total_bytes)))
        mem = _num_property(db, "leveldb.approximate-memory-usage")
        if mem is not None:
            lines.append("memtable: %d bytes (%s) not yet in tables\n" % (mem, human(mem)))
        try:
            count, counted = _count_entries(db, total_bytes,
                                            exact or total_bytes <= EXACT_COUNT_BYTES)
        except strata.Error as e:
            out.write("".join(lines).encode("utf-8", "surrogateescape"))
            out.finish()
            raise db_error("counting entries failed", e) from None
        if counted:
            lines.append("entries: %d (counted)\n" % count)
        else:
            lines.append("entries: ~%d (estimated from the first %d keys; --exact counts all)\n"
                         % (count, SAMPLE_ENTRIES))
        try:
            for i, name in enumerate(db.list_dbs()):
                st = db.open_db(name, create=False).stat()
                if i == 0:
                    lines.append("\nsub-database        ~entries           ~bytes\n")
                lines.append("%-16s %11d  %15d\n" % (name, st["entries"], st["bytes"]))
        except strata.Error as e:
            out.write("".join(lines).encode("utf-8", "surrogateescape"))
            out.finish()
            raise db_error("listing sub-databases failed", e) from None
        stats = db.get_property(b"leveldb.stats")
        text = "".join(lines).encode("utf-8", "surrogateescape")
        if stats is not None:
            text += b"\nleveldb.stats:\n" + stats
            if stats and not stats.endswith(b"\n"):
                text += b"\n"
        out.write(text)
        out.finish()
        return OK
    finally:
        db.close()


# ---------------------------------------------------------------------------------------
# warm
# ---------------------------------------------------------------------------------------

def _table_number(name):
    """The number of a table file ("<number>.ldb" or "<number>.sst"), else None."""
    stem, dot, ext = name.partition(".")
    if ext not in ("ldb", "sst") or not stem.isdigit() or not stem.isascii():
        return None
    return int(stem)


def run_warm(ctx, argv):
    """strata warm [-q | --progress] DBPATH"""
    _, operands, co = parse(ctx, argv, [ENV, QUIET, PROGRESS, HELP])
    path = take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    # Not opened: warm reads files only, so it runs beside a writer; but it must be a
    # database.
    if not os.path.exists(os.path.join(path, "CURRENT")):
        if not os.path.lexists(path):
            raise Failure("%s: no such database" % path)
        raise Failure("%s: not a database (no CURRENT file)" % path)
    try:
        names = os.listdir(path)
    except OSError as e:
        raise Failure("%s: %s" % (path, os_error(e))) from None
    tables = []
    total = 0
    for name in names:
        number = _table_number(name)
        if number is None:
            continue
        p = os.path.join(path, name)
        try:
            size = os.stat(p).st_size
        except OSError:
            size = 0  # compacted away since the listing: skipped below
        tables.append((number, p))
        total += size
    tables.sort()
    done = 0
    files = 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with watching(ctx) as signals:
        pg = Progress(ctx, co.progress, "warm", BYTES, total)
        t0 = time.monotonic()
        try:
            for _, p in tables:
                if signals.received:
                    break
                try:
                    fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue  # compacted away meanwhile
                except OSError as e:
                    pg.clear()
                    raise Failure("%s: %s" % (p, os_error(e))) from None
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
                    while not signals.received:
                        n = os.readv(fd, [view])
                        if n <= 0:
                            break
                        done += n
                        pg.update(done)
                except OSError as e:
                    pg.clear()
                    raise Failure("%s: read error: %s" % (p, os_error(e))) from None
                finally:
                    os.close(fd)
                files += 1
        finally:
            secs = time.monotonic() - t0
            pg.done = done
            pg.end()
        if signals.received:
            raise Interrupted("interrupted")
    mib = done / 1048576.0
    out = Output(ctx)
    out.write(b"warmed %.2f MiB in %d tables in %.0f ms (%.1f MiB/s)\n"
              % (mib, files, secs * 1000, mib / secs if secs > 0 else 0.0))
    out.finish()
    return OK


# ---------------------------------------------------------------------------------------
# watch
# ---------------------------------------------------------------------------------------

class _Watch:
    """The files of the directory as of the last sample, and cumulative counters of what
    changed between samples: bytes appended to logs, tables made (and their bytes) and
    tables removed."""

    def __init__(self, db, path):
        self.db = db
        self.path = path
        self.files = {}  # (number, is_log) -> size
        self.log_written = self.table_written = self.tables_made = self.tables_gone = 0
        self.first = True

    def scan_files(self):
        now = {}
        for name in os.listdir(self.path):
            stem, _, ext = name.partition(".")
            if not stem[:1].isdigit() or ext not in ("log", "ldb", "sst"):
                continue
            try:
                size = os.stat(os.path.join(self.path, name)).st_size
            except OSError:
                continue  # deleted meanwhile
            digits = 0
            while digits < len(stem) and stem[digits].isdigit():
                digits += 1
            now[(int(stem[:digits]), ext == "log")] = size
        if not self.first:
            for (number, is_log), size in now.items():
                old = self.files.get((number, is_log))
                if is_log:
                    self.log_written += size - (old if old is not None and old <= size else 0)
                elif old is None:
                    self.tables_made += 1
                    self.table_written += size
            for (number, is_log) in self.files:
                if not is_log and (number, False) not in now:
                    self.tables_gone += 1
        self.files = now
        self.first = False

    def take(self):
        """Catches up with the writer and returns (sample, stats): the sample holds the
        time, the sequence number and the cumulative counters; stats what is shown."""
        db = self.db
        try:
            db.catch_up()
        except strata.Error as e:
            raise db_error("catch-up failed", e) from None
        t = time.monotonic()
        seq = _num_property(db, "strata.last-sequence") or 0
        mem = _num_property(db, "leveldb.approximate-memory-usage") or 0
        files = [_num_property(db, "leveldb.num-files-at-level%d" % lv) or 0
                 for lv in range(LEVELS)]
        nbytes = [_num_property(db, "strata.level-bytes%d" % lv) or 0 for lv in range(LEVELS)]
        entries = 0
        try:
            entries = db._main_stat()["entries"]
            for name in db.list_dbs():
                try:
                    entries += db.open_db(name, create=False).stat()["entries"]
                except strata.Error:
                    pass  # dropped meanwhile
        except strata.Error:
            pass
        try:
            self.scan_files()
        except OSError as e:
            raise Failure("%s: cannot list the files: %s" % (self.path, os_error(e))) from None
        sample = (t, seq, self.log_written, self.table_written, self.tables_made,
                  self.tables_gone)
        stats = dict(entries=entries, seq=seq, mem=mem, files=files, bytes=nbytes,
                     tables=sum(files))
        return sample, stats


def _per_s(a, b, dt):
    return (b - a) / dt if dt > 0 and b >= a else 0.0


def _rates(old, new):
    dt = new[0] - old[0]
    return [_per_s(old[i], new[i], dt) for i in range(1, 6)]


def _csv_header():
    return ("time,entries,sequence,writes_per_s,log_bytes_per_s,tables,tables_made_per_s,"
            "table_bytes_per_s,tables_removed_per_s,memtable_bytes"
            + "".join(",l%d_files,l%d_bytes" % (lv, lv) for lv in range(LEVELS)) + "\n")


def _csv_row(st, old, new):
    writes, log, table_bytes, made, gone = _rates(old, new)
    row = "%.3f,%d,%d,%.1f,%.0f,%d,%.3f,%.0f,%.3f,%d" % (
        time.time(), st["entries"], st["seq"], writes, log, st["tables"], made, table_bytes,
        gone, st["mem"])
    return row + "".join(",%d,%d" % (st["files"][lv], st["bytes"][lv])
                         for lv in range(LEVELS)) + "\n"


def _screen(path, st, old, new, interval, window):
    writes, log, table_bytes, made, gone = _rates(old, new)
    lines = ["\033[H\033[2J",
             "strata watch %s   every %.3g s, rates over the last %d samples   %s\n\n"
             % (path, interval, window, time.strftime("%Y-%m-%d %H:%M:%S")),
             "entries      ~%d\n" % st["entries"],
             "sequence     %d\n" % st["seq"],
             "writes/s     %.1f\n" % writes,
             "log          %.2f MiB/s\n" % (log / 1048576.0),
             "tables       %d; made %.2f/s, %.2f MiB/s (flushes, compactions); removed %.2f/s\n"
             % (st["tables"], made, table_bytes / 1048576.0, gone),
             "memtables    %.2f MiB (this handle's copy of what the writer has not flushed)\n\n"
             % (st["mem"] / 1048576.0),
             "level  files          MiB\n"]
    lines += ["%5d  %5d  %11.2f\n" % (lv, st["files"][lv], st["bytes"][lv] / 1048576.0)
              for lv in range(LEVELS)]
    lines.append("\nCtrl-C ends.\n")
    return "".join(lines)


def run_watch(ctx, argv):
    """strata watch [--interval S] [--window N] [--csv] [-n COUNT] DBPATH"""
    opts, operands, co = parse(ctx, argv, [(None, "interval", True), (None, "window", True),
                                           (None, "csv", False), ("n", "count", True), ENV,
                                           HELP])
    interval, window, count, csv = 1.0, 10, 0, False
    for name, value in opts:
        if name == "interval":
            try:
                interval = float(value)
            except ValueError:
                interval = -1.0
            if not 0.01 <= interval <= 86400:
                raise UsageError("--interval wants seconds from 0.01 to 86400, not '%s'" % value)
        elif name == "window":
            window = parse_count(value)
            if window is None or not 1 <= window <= 100000:
                raise UsageError("--window wants a count of samples (1 or more), not '%s'"
                                 % value)
        elif name == "csv":
            csv = True
        elif name == "count":
            count = parse_count(value)
            if count is None:
                raise UsageError("--count wants a number of samples, not '%s'" % value)
    path = take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    db, _ = open_db(path, read_only=True)
    try:
        if not csv:
            try:
                csv = not ctx.stdout.isatty()
            except (AttributeError, ValueError, OSError):
                csv = True
        out = Output(ctx)
        w = _Watch(db, path)
        ring = []  # the last window + 1 samples
        with watching(ctx) as signals:
            if csv:
                out.write(_csv_header().encode())
            n = 0
            while not signals.received:
                sample, st = w.take()
                ring.append(sample)
                if len(ring) > window + 1:
                    ring.pop(0)
                # Rates over the last `window` intervals (fewer at the start).
                text = (_csv_row(st, ring[0], sample) if csv else
                        _screen(path, st, ring[0], sample, interval, window))
                out.write(text.encode("utf-8", "surrogateescape"))
                if not out.flush():
                    break
                n += 1
                if count and n >= count:
                    break
                deadline = time.monotonic() + interval
                while not signals.received:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    time.sleep(min(left, 0.05))
        out.finish()
        return OK  # Ctrl-C is how watch normally ends: status 0
    finally:
        db.close()


# ---------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------

def _in_dir(path, folder):
    """The name of a file directly inside folder, or None."""
    if not path.startswith(folder + "/"):
        return None
    name = path[len(folder) + 1:]
    return name if name and "/" not in name else None


def _fd_holds_lock(pid, fd):
    try:
        with open("/proc/%s/fdinfo/%s" % (pid, fd), "rb") as f:
            return any(line.startswith(b"lock:") for line in f)
    except OSError:
        return False


def _scan_proc(pid, folder):
    """(files, writer, command) of one process that uses the database, or None: its
    descriptors (/proc/PID/fd), the locks held through them, and its mapped files
    (/proc/PID/maps: tables are read through mmap, with no descriptor kept)."""
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        return None  # gone, or not ours to see
    files = set()
    writer = False
    for fd in fds:
        try:
            target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        name = _in_dir(target, folder)
        if name is None:
            continue
        files.add(name)
        if name == "LOCK" and _fd_holds_lock(pid, fd):
            writer = True
    try:
        with open("/proc/%s/maps" % pid, "rb") as f:
            for line in f:
                slash = line.find(b"/")
                if slash >= 0:
                    name = _in_dir(os.fsdecode(line[slash:].rstrip(b"\n")), folder)
                    if name is not None:
                        files.add(name)
    except OSError:
        pass
    if not files:
        return None
    try:
        with open("/proc/%s/comm" % pid, "rb") as f:
            comm = f.read(63).split(b"\n")[0].decode("utf-8", "replace")
    except OSError:
        comm = ""
    return len(files), writer, comm or "?"


def run_readers(ctx, argv):
    """strata readers DBPATH"""
    _, operands, co = parse(ctx, argv, [ENV, HELP])
    path = take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    try:
        os.stat(path)
    except OSError as e:
        raise Failure("%s: %s" % (path, "no such database" if e.errno == errno.ENOENT
                                  else os_error(e))) from None
    folder = os.path.realpath(path)
    if not os.path.exists(os.path.join(folder, "CURRENT")):
        raise Failure("%s: not a database (no CURRENT file)" % path)
    try:
        pids = os.listdir("/proc")
    except OSError as e:
        raise Failure("/proc: %s (readers needs Linux's /proc)" % os_error(e)) from None
    me = os.getpid()
    uses = []
    for pid in pids:
        if not pid[:1].isdigit() or int(pid) == me:
            continue
        use = _scan_proc(pid, folder)
        if use is not None:
            uses.append((not use[1], int(pid), use))
    uses.sort()
    out = Output(ctx)
    if not uses:
        text = "no process has %s open\n" % path
    else:
        text = "%-8s %-7s %-16s %s\n" % ("pid", "role", "command", "files")
        for _, pid, (files, writer, comm) in uses:
            text += "%-8d %-7s %-16s %d\n" % (pid, "writer" if writer else "reader", comm, files)
    out.write(text.encode("utf-8", "surrogateescape"))
    out.finish()
    return OK
