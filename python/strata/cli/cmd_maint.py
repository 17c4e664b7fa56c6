"""drop, compact, check and repair: sub-databases and maintenance (the C tool's
cmd_drop.c, cmd_compact.c, cmd_check.c and cmd_repair.c). The work is the engine's
(DB.drop_db, DB.compact_range, strata.check_db, strata.repair_db); these commands report
it."""

import strata

from .common import (ENV, FAIL, HELP, OK, PROGRESS, QUIET, Failure, Output, UsageError,
                     arg_bytes, check_operands, db_error, is_main, open_common, open_subdb,
                     parse, take_dbpath)
from .progress import BYTES, Progress


def run_drop(ctx, argv):
    """strata drop DBPATH NAME..."""
    _, operands, co = parse(ctx, argv, [ENV, HELP])
    take_dbpath(co, operands)
    check_operands(operands, 1, None, "DBPATH NAME...")
    for name in operands:
        if is_main(name):
            raise UsageError("the main database (:main:) cannot be dropped")
        if not name:
            raise UsageError("a sub-database name cannot be empty")
    db = open_common(co)
    try:
        # Every name must exist before any is dropped, so a typo drops nothing.
        for name in operands:
            open_subdb(db, name)
        done = set()
        status = OK
        for name in operands:
            if name in done:
                continue
            done.add(name)
            try:
                db.drop_db(name)
            except strata.Error as e:
                ctx.err("%s: %s" % (name, e))
                status = FAIL
        return status
    finally:
        db.close()


def run_compact(ctx, argv):
    """strata compact [-x] [--start K] [--end K] [-q | --progress] DBPATH"""
    opts, operands, co = parse(ctx, argv, [(None, "start", True), (None, "end", True),
                                           ("x", "hex", False), ENV, QUIET, PROGRESS, HELP])
    start = end = None
    hexadecimal = any(n == "hex" for n, _ in opts)
    for name, value in opts:
        if name == "start":
            start = value
        elif name == "end":
            end = value
    take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    lo = arg_bytes("--start", start, hexadecimal) if start is not None else None
    hi = arg_bytes("--end", end, hexadecimal) if end is not None else None
    db = open_common(co)
    try:
        pg = Progress(ctx, co.progress, "compact", BYTES)
        pg.tick()
        try:
            db.compact_range(start=lo, stop=hi)
        except strata.Error as e:
            raise db_error("compaction failed", e) from None
        finally:
            pg.end()
    finally:
        db.close()
    return OK


def _path(co, operands):
    path = take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    if not path:
        raise Failure("DBPATH is empty")
    return path


def run_check(ctx, argv):
    """strata check [-q | --progress] DBPATH"""
    _, operands, co = parse(ctx, argv, [ENV, QUIET, PROGRESS, HELP])
    path = _path(co, operands)
    pg = Progress(ctx, co.progress, "check", BYTES)
    pg.tick()
    try:
        problems = strata.check_db(path)
    except (strata.Error, OSError) as e:
        raise db_error("check failed", e) from None
    finally:
        pg.end()
    out = Output(ctx)
    lines = ["%s: offset %d: %s\n" % (file, offset, what) for file, offset, _, what in problems]
    n = len(problems)
    if n == 0:
        lines.append("%s: no problems found\n" % path)
    else:
        lines.append("%s: %d problem%s found ('strata repair' recovers what can be read)\n"
                     % (path, n, "" if n == 1 else "s"))
    out.write("".join(lines).encode("utf-8", "surrogateescape"))
    out.finish()
    return FAIL if n else OK


def run_repair(ctx, argv):
    """strata repair [-q | --progress] DBPATH"""
    _, operands, co = parse(ctx, argv, [ENV, QUIET, PROGRESS, HELP])
    path = _path(co, operands)
    pg = Progress(ctx, co.progress, "repair", BYTES)
    pg.tick()
    try:
        rep = strata.repair_db(path)
    except (strata.Error, OSError) as e:
        raise db_error("repair failed", e) from None
    finally:
        pg.end()
    out = Output(ctx)
    text = ("repaired %s\n"
            "tables kept:       %d\n"
            "tables lost:       %d%s\n"
            "logs converted:    %d\n"
            "entries recovered: %d\n"
            "bytes dropped:     %d\n"
            % (path, rep["tables_kept"], rep["tables_lost"],
               " (moved to lost/)" if rep["tables_lost"] else "", rep["logs_converted"],
               rep["entries_recovered"], rep["bytes_dropped"]))
    out.write(text.encode("utf-8", "surrogateescape"))
    out.finish()
    return OK
