"""copy, copyfd and rewrite: consistent copies of a database that may be in use (the C
tool's cmd_copy.c).

    copy      a checkpoint (DB.checkpoint(): tables hard-linked on the same file
              system); with --compact a rewrite from one snapshot
    copyfd    a checkpoint streamed as a tar archive (POSIX pax format, Python's tarfile)
              to a file descriptor; copy DB - is copyfd to 1
    rewrite   every database (or the named ones) re-created by sorted bulk load
              (DB.loader()) from one snapshot: no dead entries, nothing left to compact

A destination these commands create is removed again when they fail or are interrupted,
so a DEST that exists afterwards is complete.
"""

import fcntl
import itertools
import os
import tarfile
import tempfile
import time

import strata

from .common import (ENV, HELP, INTERRUPTED, MAIN_NAME, OK, PROGRESS, PROGRESS_OFF, QUIET,
                     READ_ONLY, Failure, Interrupted, UsageError, check_operands, db_error,
                     is_main, open_db, open_subdb, os_error, parse, parse_count, remove_tree,
                     take_dbpath)
from .progress import BYTES, RECORDS, Progress, watching

# ---------------------------------------------------------------------------------------
# Rewrite by sorted bulk load
# ---------------------------------------------------------------------------------------


def _load_one(ctx, txn, sdb, loader, pg, counts):
    """Bulk-loads one database of the source, as of txn's snapshot. counts is [records,
    bytes of keys and values] so far."""
    signals = ctx.signals
    add = loader.add
    it = txn.iterator(db=sdb, fill_cache=False)
    try:
        while True:
            if signals.received:
                return INTERRUPTED
            try:
                pairs = list(itertools.islice(it, 1024))
            except strata.Error as e:
                pg.clear()
                raise db_error("reading the source failed", e) from None
            if not pairs:
                break
            for k, v in pairs:
                add(k, v)
            counts[0] += len(pairs)
            counts[1] += sum([len(k) + len(v) for k, v in pairs])
            pg.update(counts[0], counts[1])
    except strata.Error as e:
        pg.clear()
        raise db_error("bulk load failed", e) from None
    finally:
        it.close()
    try:
        loader.finish()
    except strata.Error as e:
        pg.clear()
        raise db_error("bulk load failed", e) from None
    return OK


def bulk_copy(ctx, src, dest, only, progress):
    """Creates dest (which must not exist) holding the databases `only` of src (None: the
    main database and every sub-database), from one snapshot, by sorted bulk load.
    Removes dest on failure or interruption."""
    if only is None:
        # The main database first, then the sub-databases in name order.
        try:
            only = [MAIN_NAME] + src.list_dbs()
        except strata.Error as e:
            raise db_error("listing sub-databases failed", e) from None
    sdbs = [open_subdb(src, name) for name in only]
    with watching(ctx) as signals:
        try:
            dst = strata.DB(dest, create_if_missing=True, error_if_exists=True)
        except (strata.Error, OSError, ValueError) as e:
            raise db_error("cannot create the destination", e) from None
        status = OK
        try:
            txn = src.begin()
            pg = Progress(ctx, progress, ctx.cmd, RECORDS, extra_name="bytes of keys and values")
            counts = [0, 0]
            try:
                for name, sdb in zip(only, sdbs):
                    dsdb = None if is_main(name) else open_subdb(dst, name, create=True)
                    try:
                        loader = dst.loader(db=dsdb)
                    except strata.Error as e:
                        raise db_error("cannot start the copy", e) from None
                    try:
                        status = _load_one(ctx, txn, sdb, loader, pg, counts)
                    finally:
                        loader.close()
                    if status != OK:
                        break
            finally:
                pg.end()
                txn.abort()
            dst.close()  # what the loaders added is synced at their finish
        except BaseException:
            dst.close()
            remove_tree(dest)
            raise
        if status != OK or signals.received:
            remove_tree(dest)
            raise Interrupted("interrupted; %s was removed" % dest)
    return OK


# ---------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------

def copy_to(ctx, db, dest, compact, progress):
    """The consistent copy of a database: a checkpoint (a read-only handle -- another
    process holds the database -- checkpoints the state it opened), or with compact a
    rewrite from one snapshot."""
    if compact:
        return bulk_copy(ctx, db, dest, None, progress)
    pg = Progress(ctx, progress, ctx.cmd, BYTES)
    pg.tick()
    try:
        db.checkpoint(dest)
    except (strata.Error, OSError) as e:
        raise db_error("checkpoint failed", e) from None
    finally:
        pg.end()
    return OK


# ---------------------------------------------------------------------------------------
# Tar streams
# ---------------------------------------------------------------------------------------

class _Stop(Exception):
    """Raised inside tarfile's copy loop when a signal arrived."""


class _Source:
    """A table file read by tarfile, counting the bytes and watching for signals."""

    def __init__(self, f, ctx, pg, done):
        self.f = f
        self.ctx = ctx
        self.pg = pg
        self.done = done

    def read(self, n=-1):
        if self.ctx.interrupted():
            raise _Stop()
        data = self.f.read(n)
        self.done += len(data)
        self.pg.update(self.done)
        return data


def _sink(ctx, fd):
    """The binary stream the tar archive goes to: standard output (ctx.stdout) for
    descriptor 1, else a duplicate of fd (closed after)."""
    if fd == 1:
        return ctx.stdout, False
    return os.fdopen(os.dup(fd), "wb", buffering=0), True


def tar_dir(ctx, folder, top, fd, progress):
    """Writes directory folder (flat: a database has no subdirectory) as entries "top/"
    and "top/FILE" of a POSIX pax archive on descriptor fd. The end-of-archive blocks are
    written only after every file, so an interrupted or failed stream fails 'tar x'
    instead of passing for a whole copy."""
    files = sorted(os.listdir(folder), key=os.fsencode)
    total = 0
    for name in files:
        try:
            total += os.stat(os.path.join(folder, name)).st_size
        except OSError:
            pass
    out, own = _sink(ctx, fd)
    pg = Progress(ctx, progress, ctx.cmd, BYTES, total)
    done = 0
    try:
        tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                           bufsize=1 << 20, copybufsize=1 << 20)
        info = tarfile.TarInfo(top + "/")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = int(time.time())
        tar.addfile(info)
        for name in files:
            path = os.path.join(folder, name)
            try:
                f = open(path, "rb", buffering=0)
                st = os.fstat(f.fileno())
            except OSError as e:
                pg.clear()
                raise Failure("%s: %s" % (path, os_error(e))) from None
            with f:
                info = tarfile.TarInfo("%s/%s" % (top, name))
                info.size = st.st_size
                info.mode = 0o644
                info.mtime = int(st.st_mtime)
                source = _Source(f, ctx, pg, done)
                try:
                    tar.addfile(info, source)
                except _Stop:
                    return INTERRUPTED
                done = source.done
        tar.close()
    except OSError as e:
        pg.clear()
        raise Failure("tar stream: %s" % os_error(e)) from None
    finally:
        pg.done = done
        pg.end()
        try:
            out.close() if own else out.flush()
        except OSError:
            pass
    return OK


def copy_to_fd(ctx, db, dbpath, fd, compact, progress):
    """Makes a copy in a temporary directory beside the database (so tables are
    hard-linked), streams it as tar to fd, removes it."""
    parent = os.path.dirname(dbpath.rstrip("/")) or "."
    top = os.path.basename(dbpath.rstrip("/")) or "db"
    if top in (".", ".."):
        top = "db"
    try:
        tmp = tempfile.mkdtemp(prefix=".strata-copy-", dir=parent)
    except OSError:
        # No room beside the database: a copy in TMPDIR then.
        try:
            tmp = tempfile.mkdtemp(prefix="strata-copy-",
                                   dir=os.environ.get("TMPDIR") or "/tmp")
        except OSError as e:
            raise Failure("cannot make a temporary directory: %s" % os_error(e)) from None
    try:
        with watching(ctx) as signals:
            try:
                copy_to(ctx, db, os.path.join(tmp, top), compact, PROGRESS_OFF)
            except Interrupted as e:
                ctx.err(e.message)
            status = OK
            if not signals.received:
                status = tar_dir(ctx, os.path.join(tmp, top), top, fd, progress)
            if signals.received or status == INTERRUPTED:
                raise Interrupted("interrupted; the tar stream is incomplete (tar reports "
                                  "its end missing)")
    finally:
        remove_tree(tmp)
    return OK


# ---------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------

def _copy_like(ctx, argv, is_copyfd):
    opts, operands, co = parse(ctx, argv, [(None, "compact", False), (None, "out-fd", True),
                                           ENV, READ_ONLY, QUIET, PROGRESS, HELP])
    compact = False
    fd = None
    for name, value in opts:
        if name == "compact":
            compact = True
        elif name == "out-fd":
            if not is_copyfd:
                raise UsageError("--out-fd belongs to copyfd (copy DB - writes to 1)")
            fd = parse_count(value)
            if fd is None or fd > 1 << 20:
                raise UsageError("--out-fd wants a file descriptor number, not '%s'" % value)
    take_dbpath(co, operands)
    dest = None
    if is_copyfd:
        check_operands(operands, 0, 0, "DBPATH (the archive goes to --out-fd)")
        if fd is None:
            fd = 1
    else:
        check_operands(operands, 1, 1, "DBPATH DEST")
        dest = operands[0]
        if dest == "-":
            fd = 1
    if fd is not None:
        if fd == 1:
            try:
                tty = ctx.stdout.isatty()
            except (AttributeError, ValueError, OSError):
                tty = False
        else:
            try:
                fcntl.fcntl(fd, fcntl.F_GETFL)
            except OSError as e:
                raise UsageError("--out-fd %d: %s" % (fd, os_error(e))) from None
            tty = os.isatty(fd)
        if tty:
            raise Failure("not writing a tar archive to a terminal (redirect it to a file or a "
                          "pipe)")
    elif os.path.lexists(dest):
        raise Failure("%s exists (the copy goes to a new directory)" % dest)
    db, _ = open_db(co.dbpath, read_only=co.read_only, shared=True)
    try:
        if fd is not None:
            return copy_to_fd(ctx, db, co.dbpath, fd, compact, co.progress)
        with watching(ctx) as signals:
            copy_to(ctx, db, dest, compact, co.progress)
            if signals.received:
                # Interrupted during the checkpoint, which ran to its end.
                remove_tree(dest)
                raise Interrupted("interrupted; %s was removed" % dest)
        return OK
    finally:
        db.close()


def run_copy(ctx, argv):
    """strata copy [--compact] [-r] [-q | --progress] DBPATH DEST (or - for a tar
    stream)"""
    return _copy_like(ctx, argv, False)


def run_copyfd(ctx, argv):
    """strata copyfd [--out-fd N] [--compact] [-r] [-q | --progress] DBPATH"""
    return _copy_like(ctx, argv, True)


def run_rewrite(ctx, argv):
    """strata rewrite [-r] [-q | --progress] DBPATH DEST [NAME...] (or -E DEST)"""
    opts, operands, co = parse(ctx, argv, [("E", "target-env", True), ENV, READ_ONLY, QUIET,
                                           PROGRESS, HELP])
    dest = None
    for name, value in opts:
        if name == "target-env":
            dest = value
    take_dbpath(co, operands)
    if dest is None:
        check_operands(operands, 1, None, "DBPATH DEST [NAME...]")
        dest = operands.pop(0)
    if not dest:
        raise UsageError("DEST is empty")
    if os.path.lexists(dest):
        raise Failure("%s exists (rewrite creates a new database)" % dest)
    only = []
    for arg in operands:
        name = MAIN_NAME if is_main(arg) else arg
        if name in only:
            raise UsageError("database '%s' named twice" % arg)
        only.append(name)
    db, _ = open_db(co.dbpath, read_only=co.read_only, shared=True)
    try:
        return bulk_copy(ctx, db, dest, only or None, co.progress)
    finally:
        db.close()
