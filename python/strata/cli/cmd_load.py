"""load and restore: pairs from text dumps into the main database and sub-databases (the
C tool's cmd_load.c; the formats are in strata.cli.formats).

load reads one input into one database; restore is py-lmdb's command of the same name:
several NAME=FILE inputs, cdbmake by default. Both parse a whole write batch before
writing it, so a malformed line never leaves half a batch applied, and both open (and
create) the database only once the first batch is complete. Sorted input into an empty
target goes through the engine's sorted bulk load (DB.loader()) instead of batches.
"""

import io
import os
import stat as _stat

import strata

from .common import (DB, ENV, HELP, OK, PROGRESS, PROGRESS_OFF, QUIET,
                     Failure, Interrupted, UsageError, check_operands, db_error, is_main,
                     open_db, open_subdb, os_error, parse, parse_count, remove_tree,
                     subdb_exists, take_dbpath)
from .formats import CDBMAKE, DETECT, JSONL, PLAIN, DumpError, DumpReader
from .progress import BYTES, Progress, watching

_U32 = 0xFFFFFFFF


class _Run:
    """What a load shares across its inputs."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.dbpath = None
        self.existed = False  # the database was there before this run
        self.db = None
        self.sync = False
        self.mode = DETECT
        self.batch_size = 1000  # 0: the whole input as one batch
        self.progress = None
        self.applied = 0  # pairs written by completed batches and finished bulk loads
        self.batches = 0
        self.pairs = 0  # pairs parsed
        self.bulk = 0  # pairs written by sorted bulk load
        self.bulk_load = True  # may use it (not --no-bulk-load)
        self.created = []  # sub-databases this run created (dropped on Ctrl-C)
        self.verbose = False

    def open(self):
        if self.db is None:
            self.db = open_db(self.dbpath, create=True)[0]
        return self.db

    def target(self, name):
        """The target sub-database (None: main), created when missing and remembered."""
        if is_main(name):
            return None
        if subdb_exists(self.db, name):
            return open_subdb(self.db, name)
        sdb = open_subdb(self.db, name, create=True)
        self.created.append(name)
        return sdb


class _Sink:
    """Where an input's pairs go: the sorted bulk load while the target was empty and
    the keys keep increasing, write batches otherwise. The first key not greater than
    the one before finishes the bulk load (what came before becomes visible at once) and
    sends the rest through batches, whose entries are newer than any bulk-loaded one, so
    a key given twice keeps its last value either way."""

    def __init__(self, run):
        self.run = run
        self.sdb = None
        self.batch = None
        self.loader = None
        self.prev = None
        self.loaded = 0

    def start(self, sdb, bulk):
        run = self.run
        self.sdb = sdb
        self.batch = run.db.write_batch(sync=run.sync)
        if bulk and "loader" in strata.FEATURES and _empty(run.db, sdb):
            try:
                self.loader = run.db.loader(db=sdb)
            except strata.Error as e:
                raise db_error("cannot start a bulk load", e) from None

    def _finish_loader(self):
        run = self.run
        loader, self.loader = self.loader, None
        try:
            loader.finish()
        except strata.Error as e:
            raise db_error("bulk load failed", e) from None
        finally:
            loader.close()
        run.applied += self.loaded
        run.bulk += self.loaded
        if self.loaded:
            run.batches += 1

    def _write_batch(self):
        run = self.run
        n = len(self.batch)
        if n == 0:
            return
        try:
            self.batch.write()
        except strata.Error as e:
            raise db_error("write failed", e) from None
        run.applied += n
        run.batches += 1
        self.batch.clear()

    def put(self, key, value):
        if self.loader is not None:
            if self.prev is None or key > self.prev:
                try:
                    self.loader.add(key, value)
                except strata.Error as e:
                    raise db_error("bulk load failed", e) from None
                self.prev = key
                self.loaded += 1
                return
            self._finish_loader()
        try:
            self.batch.put(key, value, db=self.sdb)
        except strata.Error as e:
            raise db_error("cannot queue a pair", e) from None
        size = self.run.batch_size
        if size and len(self.batch) >= size:
            self._write_batch()

    def end(self):
        """The clean end of an input: the bulk load finishes, the last batch is written."""
        if self.loader is not None:
            self._finish_loader()
        self._write_batch()

    def close(self):
        """An unfinished bulk load adds nothing: its tables are deleted."""
        if self.loader is not None:
            self.loader.close()
            self.loader = None


def _empty(db, sdb):
    target = sdb if sdb is not None else db
    try:
        with target.iterator(include_value=False) as it:
            return next(it, None) is None
    except strata.Error:
        return False


def _sorted(pending):
    return all(a[0] < b[0] for a, b in zip(pending, pending[1:]))


def _start_target(run, name, reader, sink, pending):
    """Opens the database and the input's target (-d or NAME= wins over the dump's own
    database= line, known once the header is read), chooses bulk load for an empty
    target, then moves the pending pairs into the sink."""
    if name is None and reader.database is not None:
        name = reader.database.decode("utf-8", "surrogateescape")
    run.open()
    sdb = run.target(name)
    # --atomic holds the whole input here: bulk load only if all of it is sorted, so
    # that one step (the loader's finish) applies all of it.
    sink.start(sdb, run.bulk_load and (run.batch_size or _sorted(pending)))
    for key, value in pending:
        sink.put(key, value)
    pending.clear()


def _load_input(run, name, path, pg):
    """Loads one input. The database is opened (and created) at the first complete
    batch, the target sub-database then too."""
    ctx = run.ctx
    if path is None or path == "-":
        f, fname = ctx.stdin, "<stdin>"
        if not hasattr(f, "peek"):
            f = io.BufferedReader(f)
    else:
        try:
            f = open(path, "rb", buffering=1 << 20)
        except OSError as e:
            raise Failure("%s: %s" % (path, os_error(e))) from None
        fname = path
    try:
        if pg.on:
            try:
                st = os.fstat(f.fileno())
                if _stat.S_ISREG(st.st_mode):
                    pg.add_total(st.st_size)
            except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
                pass
        base = pg.done
        sink = _Sink(run)
        reader = DumpReader(f, run.mode)
        # Until the first batch is complete the database is not opened (so bad input
        # from the start creates nothing): its pairs wait in `pending`.
        pending = []
        have_target = False
        before, batches_before = run.applied, run.batches
        signals = ctx.signals
        try:
            put = sink.put
            while True:
                if signals.received:
                    return  # the pending pairs and an unfinished bulk load are dropped
                pairs = reader.read_pairs()
                if not pairs:
                    break
                run.pairs += len(pairs)
                if len(pairs) > 1:
                    pg.update(base + reader.offset, run.pairs)
                else:
                    pg.set(base + reader.offset, run.pairs)
                if have_target:
                    for key, value in pairs:
                        put(key, value)
                    continue
                for i, pair in enumerate(pairs):
                    pending.append(pair)
                    if run.batch_size and len(pending) >= run.batch_size:
                        _start_target(run, name, reader, sink, pending)
                        have_target = True
                        for key, value in pairs[i + 1:]:
                            put(key, value)
                        break
            # The end; an empty input still creates the database (and sub-database).
            if not have_target:
                _start_target(run, name, reader, sink, pending)
            sink.end()
        except (DumpError, OSError) as e:
            pg.clear()
            if isinstance(e, OSError):
                ctx.err("%s: read error: %s" % (fname, os_error(e)))
            elif e.is_record:
                ctx.err("%s: %s" % (fname, e))
            else:
                ctx.err("%s:%d: %s" % (fname, e.line, e))
            raise Failure("nothing from the batch holding that %s was written; %d pairs "
                          "from %d earlier batches were"
                          % ("record" if isinstance(e, DumpError) and e.is_record else "line",
                             run.applied - before, run.batches - batches_before)) from None
        except Failure:
            pg.clear()
            raise
        finally:
            sink.close()
            pg.done = base + reader.offset
    finally:
        if f is not ctx.stdin:
            f.close()


def _interrupted(run):
    """After Ctrl-C: a database this run created is removed; otherwise the sub-databases
    it created are dropped and what stays is named."""
    if not run.existed:
        if run.db is not None:
            run.db.close()
            run.db = None
        if os.path.lexists(run.dbpath):
            try:
                strata.destroy_db(run.dbpath)
            except (strata.Error, OSError):
                pass
            remove_tree(run.dbpath)
        return Interrupted("interrupted; the database it was creating (%s) was removed"
                           % run.dbpath)
    if run.db is not None:
        for name in run.created:
            try:
                run.db.drop_db(name)
            except strata.Error:
                pass
    return Interrupted("interrupted; %s is incomplete: %d pairs in %d whole batches were "
                       "written%s" % (run.dbpath, run.applied, run.batches,
                                      " (sub-databases it created were dropped)"
                                      if run.created else ""))


def _run_inputs(run, inputs):
    """Loads the (name, path) inputs in order, then reports."""
    ctx = run.ctx
    try:
        with watching(ctx) as signals:
            pg = Progress(ctx, run.progress, ctx.cmd, BYTES, extra_name="records")
            try:
                for name, path in inputs:
                    if signals.received:
                        break
                    _load_input(run, name, path, pg)
            finally:
                pg.end()
            if signals.received:
                raise _interrupted(run)
        if run.verbose:
            ctx.err("loaded %d pairs in %d batches (%d pairs by sorted bulk load)"
                    % (run.pairs, run.batches, run.bulk))
    finally:
        if run.db is not None:
            run.db.close()
    return OK


def _parse(ctx, argv, restore):
    specs = [("f", "file", True), ("T", "plain", False), (None, "jsonl", False),
             (None, "cdbmake", False), (None, "batch", True), (None, "atomic", False),
             (None, "sync", False), (None, "no-bulk-load", False), ("v", "verbose", False),
             ENV, DB, QUIET, PROGRESS, HELP]
    if restore:
        specs.append(("a", "all", False))
    opts, operands, co = parse(ctx, argv, specs)
    run = _Run(ctx)
    file = None
    all_ = atomic = False
    modes = {"plain": PLAIN, "jsonl": JSONL, "cdbmake": CDBMAKE}
    for name, value in opts:
        if name == "file":
            file = value
        elif name in modes:
            if run.mode != DETECT and run.mode != modes[name]:
                raise UsageError("-T, --jsonl and --cdbmake exclude each other")
            run.mode = modes[name]
        elif name == "batch":
            n = parse_count(value)
            if n is None or n == 0 or n > _U32:
                raise UsageError("--batch wants a count of pairs (1 or more), not '%s'" % value)
            run.batch_size = n
        elif name == "atomic":
            atomic = True
        elif name == "sync":
            run.sync = True
        elif name == "no-bulk-load":
            run.bulk_load = False
        elif name == "verbose":
            run.verbose = True
        elif name == "all":
            all_ = True
    if atomic:
        run.batch_size = 0
    run.dbpath = take_dbpath(co, operands)
    run.progress = co.progress
    if os.path.exists(run.dbpath) and not os.path.isdir(run.dbpath):
        raise Failure("%s: not a database (a Strata database is a directory, this is a file)"
                      % run.dbpath)
    run.existed = os.path.lexists(run.dbpath)
    return run, co, file, all_, operands


def run_load(ctx, argv):
    """strata load [-f FILE] [-T | --jsonl | --cdbmake] [--batch N | --atomic] [--sync]
    [-d NAME] [-v] [-q | --progress] DBPATH"""
    run, co, file, _, operands = _parse(ctx, argv, False)
    check_operands(operands, 0, 0, "DBPATH")
    return _run_inputs(run, [(co.subdb, file)])


def decode_stem(stem):
    """The sub-database name dump -a's file name stem stands for ("main": the main
    database), or None for a stem dump -a does not write."""
    raw = os.fsencode(stem)
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x25:  # '%'
            out.append(c)
            i += 1
            continue
        digits = raw[i + 1:i + 3]
        if len(digits) != 2 or any(d not in b"0123456789ABCDEF" for d in digits):
            return None
        v = int(digits, 16)
        if v == 0:
            return None
        out.append(v)
        i += 3
    return out.decode("utf-8", "surrogateescape")


def _inputs_of_dir(folder):
    """restore -a: every *.cdbmake, *.dump and *.jsonl file of folder, by name."""
    try:
        entries = os.listdir(folder)
    except OSError as e:
        raise Failure("%s: %s" % (folder, os_error(e))) from None
    files = sorted((n for n in entries
                    if n.rfind(".") > 0 and n[n.rfind("."):] in (".cdbmake", ".dump", ".jsonl")),
                   key=os.fsencode)
    inputs = []
    for n in files:
        stem = n[:n.rfind(".")]
        name = decode_stem(stem)
        path = "%s/%s" % (folder, n)
        if name is None:
            raise UsageError("%s: not a file name dump -a writes" % path)
        # The stem "main" is the main database; "%6Dain" (decoded to "main") is the
        # sub-database of that name.
        name = None if stem == "main" else name
        for other, _ in inputs:
            if (is_main(other) and is_main(name)) or (name is not None and other == name):
                raise UsageError("%s: a second file for database '%s'" % (path, name or "main"))
        inputs.append((name, path))
    if not inputs:
        raise Failure("%s: no .cdbmake, .dump or .jsonl file to restore" % folder)
    return inputs


def run_restore(ctx, argv):
    """strata restore [options] DBPATH [NAME=FILE...] | -a [-f DIR] DBPATH |
    [-d NAME] -f FILE DBPATH"""
    run, co, file, all_, operands = _parse(ctx, argv, True)
    if all_ and (operands or co.subdb is not None):
        raise UsageError("-a reads every file of a directory: no -d and no NAME=FILE")
    if operands and (co.subdb is not None or file is not None):
        raise UsageError("NAME=FILE operands name their own files: no -d or -f with them")
    if all_:
        inputs = _inputs_of_dir(file if file is not None else ".")
    elif operands:
        inputs = []
        for arg in operands:
            name, eq, path = arg.partition("=")
            if not eq or not name or not path:
                raise UsageError("'%s' is not NAME=FILE" % arg)
            name = None if is_main(name) else name
            for other, _ in inputs:
                if other == name:
                    raise UsageError("database '%s' named twice" % arg.partition("=")[0])
            inputs.append((name, path))
    else:
        # py-lmdb's default: the main database from main.cdbmake. -f or -d name one
        # input instead.
        inputs = [(co.subdb, file if file is not None else
                   ("-" if co.subdb is not None else "main.cdbmake"))]
    status = _run_inputs(run, inputs)
    # py-lmdb prints what it loaded; so does restore, on stderr so a pipeline's output
    # stays clean. Quiet with -q.
    if status == OK and not run.verbose and co.progress != PROGRESS_OFF:
        ctx.err("restored %d pairs from %d input%s" % (run.pairs, len(inputs),
                                                        "" if len(inputs) == 1 else "s"))
    return status

