"""dump: the main database and sub-databases as text, in the db_dump/mdb_dump format (so
mdb_load reads it), as JSON lines, or in py-lmdb's cdbmake format; byte for byte what the
C tool's dump writes (tools/strata/cmd_dump.c). The formats are in strata.cli.formats;
load and restore read them back."""

import binascii
import fcntl
import io
import itertools
import os
import stat as _stat

import strata

from .common import (DB, ENV, HELP, INTERRUPTED, OK, PROGRESS, QUIET, READ_ONLY, Failure,
                     Interrupted, Output, UsageError, db_error, is_main, open_common,
                     open_subdb, os_error, parse, take_dbpath)
from .formats import (MapEstimate, dump_header_mapsize_at, fmt_dump_header, fmt_jsonl_pair,
                      fmt_print)
from .progress import BYTES, Progress, watching

BYTEVALUE, PRINT, JSONL, CDBMAKE = "bytevalue", "print", "jsonl", "cdbmake"
_EXT = {BYTEVALUE: "dump", PRINT: "dump", JSONL: "jsonl", CDBMAKE: "cdbmake"}


def encode_name(name):
    """The file name stem of sub-database `name` under dump -a: the name itself when it
    is made of letters, digits, '_', '-' and non-leading '.', else with every other byte
    (and a leading '.') written %XX; the sub-database called "main" becomes "%6Dain" so
    it never meets the main database's file. restore -a decodes the same way."""
    raw = name.encode("utf-8", "surrogateescape")
    out = []
    for i, c in enumerate(raw):
        plain = (0x61 <= c <= 0x7A or 0x41 <= c <= 0x5A or 0x30 <= c <= 0x39 or c in b"_-"
                 or (c == 0x2E and i > 0))
        if raw == b"main" and i == 0:
            plain = False
        out.append(chr(c) if plain else "%%%02X" % c)
    return "".join(out)


class _Target:
    __slots__ = ("name", "file", "created")

    def __init__(self, name, file):
        self.name = None if is_main(name) else name
        self.file = file
        self.created = False


def _patch_start(f):
    """Where a padded mapsize can be rewritten once known: the offset the dump starts at
    in a regular file written without O_APPEND; else None."""
    try:
        fd = f.fileno()
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode) or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
            return None
        return os.lseek(fd, 0, os.SEEK_CUR)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None


def _prepass_mapsize(ctx, txn, sdb):
    """The map size mdb_load needs, by a first pass over the same snapshot (for an output
    that cannot be rewritten in place, such as a pipe)."""
    est = MapEstimate()
    it = txn.iterator(db=sdb, fill_cache=False)
    try:
        while not ctx.interrupted():
            pairs = list(itertools.islice(it, 1024))
            if not pairs:
                break
            est.add_pairs(pairs)
    finally:
        it.close()
    return est.size()


def _dump_target(ctx, txn, sdb, t, fmt, pg, counts):
    """Writes one database to its file. Returns OK, or INTERRUPTED; raises Failure."""
    if t.file is not None and t.file != "-":
        try:
            regular = _stat.S_ISREG(os.lstat(t.file).st_mode)
        except FileNotFoundError:
            regular = True
        except OSError:
            regular = False
    else:
        regular = False
    out = Output(ctx, t.file)
    # A regular file (new or truncated) is this dump's to remove when it is interrupted;
    # a FIFO or device it writes into is not.
    t.created = regular
    mdb = fmt in (BYTEVALUE, PRINT)
    printed = fmt == PRINT
    start = None
    est = MapEstimate()
    dbname = None if t.name is None else t.name.encode("utf-8", "surrogateescape")
    try:
        if mdb:
            out.flush()
            start = _patch_start(out.f)
            mapsize = 1
            if start is None:
                mapsize = _prepass_mapsize(ctx, txn, sdb)
            if not out.write(fmt_dump_header(printed, dbname, mapsize, start is not None)):
                start = None
        status = _dump_pairs(ctx, txn, sdb, fmt, out, est, pg, counts)
        if status == OK and not ctx.interrupted():
            if mdb:
                out.write(b"DATA=END\n")
            elif fmt == CDBMAKE:
                out.write(b"\n")
            if start is not None and out.flush():
                at = start + dump_header_mapsize_at(printed, dbname)
                try:
                    os.pwrite(out.f.fileno(), b"%020d" % est.size(), at)
                except OSError as e:
                    raise Failure("%s: cannot write the mapsize= line: %s"
                                  % (out.name, os_error(e))) from None
        out.finish()
        return INTERRUPTED if ctx.interrupted() else status
    except BaseException:
        out.abandon()
        raise


def _encoder(fmt, est):
    """A function turning a list of (key, value) pairs into their data lines (and adding
    them to the map size estimate of the mdb formats)."""
    hexl = binascii.hexlify
    if fmt == CDBMAKE:
        return lambda pairs: b"".join([b"+%d,%d:%s->%s\n" % (len(k), len(v), k, v)
                                       for k, v in pairs])
    if fmt == JSONL:
        return lambda pairs: b"".join([fmt_jsonl_pair(k, v) for k, v in pairs])
    # Each line starts with one space: the format's mark of a data line.
    if fmt == BYTEVALUE:
        def lines(pairs):
            est.add_pairs(pairs)
            return b"".join([b" %s\n %s\n" % (hexl(k), hexl(v)) for k, v in pairs])
    else:
        def lines(pairs):
            est.add_pairs(pairs)
            return b"".join([b" %s\n %s\n" % (fmt_print(k), fmt_print(v)) for k, v in pairs])
    return lines


def _dump_pairs(ctx, txn, sdb, fmt, out, est, pg, counts):
    """The data lines of one database, in key order, 1024 pairs at a time (a signal is
    seen between two such steps). counts is [bytes, records], the totals so far across
    targets."""
    encode = _encoder(fmt, est)
    signals = ctx.signals
    it = txn.iterator(db=sdb, fill_cache=False)
    try:
        while not signals.received:
            pairs = list(itertools.islice(it, 1024))
            if not pairs:
                break
            data = encode(pairs)
            counts[0] += len(data)
            counts[1] += len(pairs)
            pg.update(counts[0], counts[1])
            if not out.write(data):
                break
    except strata.Error as e:
        # No end line is written, so a load of this output fails instead of silently
        # taking a partial dump for a whole one.
        pg.clear()
        raise db_error("dump stopped", e) from None
    finally:
        it.close()
    return OK


def _set_format(fmt, new):
    if fmt is not None and fmt != new:
        raise UsageError("-p, --jsonl, --cdbmake and --format exclude each other")
    return new


def run_dump(ctx, argv):
    """strata dump [FORMAT] [-d NAME] [-f FILE] DBPATH | DBPATH NAME=FILE... | -a [-f DIR]
    DBPATH"""
    opts, operands, co = parse(ctx, argv, [
        ("p", "print", False), ("f", "file", True), (None, "jsonl", False),
        (None, "cdbmake", False), (None, "format", True), ("a", "all", False), ENV, DB,
        READ_ONLY, QUIET, PROGRESS, HELP])
    fmt = None
    file = None
    all_ = False
    for name, value in opts:
        if name == "print":
            fmt = _set_format(fmt, PRINT)
        elif name == "jsonl":
            fmt = _set_format(fmt, JSONL)
        elif name == "cdbmake":
            fmt = _set_format(fmt, CDBMAKE)
        elif name == "format":
            if value not in _EXT:
                raise UsageError("unknown --format '%s' (expected bytevalue, print, jsonl or "
                                 "cdbmake)" % value)
            fmt = _set_format(fmt, value)
        elif name == "file":
            file = value
        elif name == "all":
            all_ = True
    take_dbpath(co, operands)
    if all_ and (operands or co.subdb is not None):
        raise UsageError("-a dumps every database: no -d and no NAME=FILE with it")
    if operands and (co.subdb is not None or file is not None):
        raise UsageError("NAME=FILE operands name their own files: no -d or -f with them")
    # py-lmdb's dump writes cdbmake; so do its spellings here.
    if fmt is None:
        fmt = CDBMAKE if (all_ or operands) else BYTEVALUE
    targets = []
    for arg in operands:
        name, eq, path = arg.partition("=")
        if not eq or not name or not path:
            raise UsageError("'%s' is not NAME=FILE" % arg)
        t = _Target(name, path)
        for other in targets:
            if other.name == t.name:
                raise UsageError("database '%s' named twice" % arg)
            if other.file == t.file:
                raise UsageError("file '%s' named twice" % path)
        targets.append(t)

    db = open_common(co, shared=True)
    try:
        if all_:
            folder = file if file is not None else "."
            if not os.path.isdir(folder):
                raise UsageError("-a writes into a directory: '%s' is none (-f DIR)" % folder)
            try:
                names = db.list_dbs()
            except strata.Error as e:
                raise db_error("listing sub-databases failed", e) from None
            ext = _EXT[fmt]
            targets.append(_Target(None, os.path.join(folder, "main." + ext)))
            for name in names:
                targets.append(_Target(name, os.path.join(folder, encode_name(name) + "." + ext)))
        elif not targets:
            targets.append(_Target(co.subdb, file))
        # Every sub-database must exist before any file is created, so a typo leaves
        # nothing behind.
        sdbs = [open_subdb(db, t.name) for t in targets]
        return _dump_all(ctx, db, targets, sdbs, fmt, co.progress)
    finally:
        db.close()


def _dump_all(ctx, db, targets, sdbs, fmt, progress):
    status = OK
    # One snapshot for all of them (a read transaction): the dumps agree with each other.
    with watching(ctx) as signals:
        try:
            txn = db.begin()
        except strata.Error as e:
            raise db_error("cannot create iterator", e) from None
        pg = Progress(ctx, progress, "dump", BYTES, extra_name="records")
        counts = [0, 0]
        try:
            for t, sdb in zip(targets, sdbs):
                status = _dump_target(ctx, txn, sdb, t, fmt, pg, counts)
                if status != OK:
                    break
        finally:
            pg.end()
            txn.abort()
            if signals.received or status == INTERRUPTED:
                # Files of an interrupted dump are all removed: none is a dump.
                for t in targets:
                    if t.created:
                        try:
                            os.unlink(t.file)
                        except OSError:
                            pass
        if signals.received or status == INTERRUPTED:
            raise Interrupted("interrupted; the files it was writing were removed")
    return status
