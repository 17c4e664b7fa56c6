"""get, put, delete, edit and scan: the commands on single keys and key ranges (the C
tool's cmd_kv.c, cmd_edit.c and cmd_scan.c; their manuals are in strata.cli.manual)."""

import itertools

import strata

from .common import (DB, ENV, FAIL, HELP, OK, READ_ONLY, Failure, Output, UsageError,
                     arg_bytes, check_operands, db_error, open_common, open_subdb, os_error,
                     parse, parse_count, show, subdb_exists, take_dbpath)
from .formats import fmt_hex, fmt_scan, parse_hex, parse_scan

# ---------------------------------------------------------------------------------------
# get
# ---------------------------------------------------------------------------------------


def _pair_line(key, value, hexadecimal):
    enc = fmt_hex if hexadecimal else fmt_scan
    return enc(key) + b"\t" + enc(value) + b"\n"


def _get_lines(ctx, target, keys, hexadecimal, out):
    """Looks up each key (bytes) of the iterable keys and writes "key<TAB>value" lines;
    a missing key is reported. Returns FAIL when one was missing."""
    status = OK
    for key in keys:
        try:
            value = target.get(key)
        except strata.Error as e:
            raise db_error("get", e) from None
        if value is None:
            out.flush()
            ctx.err("not found: %s" % show(key))
            status = FAIL
            continue
        if not out.write(_pair_line(key, value, hexadecimal)):
            break
    return status


def _keys_from(ctx, path, hexadecimal):
    """The keys listed in path ('-': standard input), one per line in scan's form (hex
    with -x). Yields bytes; raises Failure naming a bad line."""
    if path == "-":
        f, name = ctx.stdin, "standard input"
    else:
        try:
            f = open(path, "rb")
        except OSError as e:
            raise Failure("%s: %s" % (path, os_error(e))) from None
        name = path
    decode = parse_hex if hexadecimal else parse_scan
    try:
        for lineno, line in enumerate(f, 1):
            if line.endswith(b"\n"):
                line = line[:-1]
            key, problem = decode(line)
            if problem:
                raise Failure("%s:%d: %s" % (name, lineno, problem))
            yield key
    except OSError as e:
        raise Failure("%s: read error: %s" % (name, os_error(e))) from None
    finally:
        if f is not ctx.stdin:
            f.close()


def run_get(ctx, argv):
    """strata get [-x] [-d NAME] [-r] DBPATH KEY... | -f FILE DBPATH"""
    opts, operands, co = parse(ctx, argv, [("x", "hex", False), ("f", "keys-from", True),
                                           ENV, DB, READ_ONLY, HELP])
    hexadecimal = any(n == "hex" for n, _ in opts)
    keys_from = None
    for name, value in opts:
        if name == "keys-from":
            keys_from = value
    take_dbpath(co, operands)
    if keys_from is not None:
        check_operands(operands, 0, 0, "DBPATH (keys come from -f)")
    else:
        check_operands(operands, 1, None, "DBPATH KEY...")
    single = arg_bytes("KEY", operands[0], hexadecimal) if len(operands) == 1 else None
    db = open_common(co, shared=True)
    try:
        target = open_subdb(db, co.subdb) or db
        out = Output(ctx)
        if keys_from is not None or len(operands) > 1:
            keys = (_keys_from(ctx, keys_from, hexadecimal) if keys_from is not None else
                    (arg_bytes("KEY", k, hexadecimal) for k in operands))
            try:
                status = _get_lines(ctx, target, keys, hexadecimal, out)
            finally:
                out.flush()
            out.finish()
            return status
        try:
            value = target.get(single)
        except strata.Error as e:
            raise db_error("get", e) from None
        if value is None:
            raise Failure("not found: %s" % show(single))
        out.write((fmt_hex(value) if hexadecimal else value) + b"\n")
        out.finish()
        return OK
    finally:
        db.close()


# ---------------------------------------------------------------------------------------
# put and delete
# ---------------------------------------------------------------------------------------

def _write(ctx, argv, is_put):
    opts, operands, co = parse(ctx, argv, [("x", "hex", False), (None, "sync", False),
                                           ENV, DB, HELP])
    names = {n for n, _ in opts}
    hexadecimal, sync = "hex" in names, "sync" in names
    take_dbpath(co, operands)
    n = 2 if is_put else 1
    check_operands(operands, n, n, "DBPATH KEY VALUE" if is_put else "DBPATH KEY")
    key = arg_bytes("KEY", operands[0], hexadecimal)
    value = arg_bytes("VALUE", operands[1], hexadecimal) if is_put else None
    # put creates the database, and a sub-database named with -d.
    db = open_common(co, create=is_put)
    try:
        target = open_subdb(db, co.subdb, create=is_put) or db
        try:
            if is_put:
                target.put(key, value, sync=sync)
            else:
                target.delete(key, sync=sync)
        except strata.Error as e:
            raise db_error("put" if is_put else "delete", e) from None
    finally:
        db.close()
    return OK


def run_put(ctx, argv):
    """strata put [-x] [--sync] [-d NAME] DBPATH KEY VALUE"""
    return _write(ctx, argv, True)


def run_delete(ctx, argv):
    """strata delete [-x] [--sync] [-d NAME] DBPATH KEY"""
    return _write(ctx, argv, False)


# ---------------------------------------------------------------------------------------
# edit
# ---------------------------------------------------------------------------------------

_EDITS = ("set", "set-file", "add", "add-file", "delete")


def _slurp(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Failure("%s: %s" % (path, os_error(e))) from None


def _edit_op(kind, arg, hexadecimal):
    """One EDIT's (kind, key, value); value None for --delete."""
    if kind == "delete":
        return kind, arg_bytes("--delete KEY", arg, hexadecimal), None
    key, eq, rest = arg.partition("=")
    from_file = kind.endswith("-file")
    if not eq:
        raise UsageError("--%s wants KEY=%s, not '%s'" % (kind, "PATH" if from_file else "VALUE",
                                                          arg))
    key = arg_bytes("KEY", key, hexadecimal)
    return kind, key, _slurp(rest) if from_file else arg_bytes("VALUE", rest, hexadecimal)


def run_edit(ctx, argv):
    """strata edit [-x] [-d NAME] [--sync] DBPATH EDIT..., one write transaction."""
    specs = [(None, k, True) for k in _EDITS]
    opts, operands, co = parse(ctx, argv, specs + [("x", "hex", False), (None, "sync", False),
                                                   ENV, DB, HELP])
    names = {n for n, _ in opts}
    hexadecimal, sync = "hex" in names, "sync" in names
    take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH (edits come as options)")
    edits = [(n, v) for n, v in opts if n in _EDITS]
    if not edits:
        raise UsageError("nothing to do: give --set, --set-file, --add, --add-file or --delete")
    # Arguments are decoded once -x is known wherever it stands.
    ops = [_edit_op(kind, arg, hexadecimal) for kind, arg in edits]
    db = open_common(co, create=True)
    created = False
    ok = False
    try:
        # A sub-database this edit creates is dropped again if the edit fails, so a
        # failed edit leaves nothing behind.
        created = not subdb_exists(db, co.subdb)
        try:
            sdb = open_subdb(db, co.subdb, create=True)
        except Failure:
            created = False
            raise
        try:
            txn = db.begin(write=True, sync=sync, exclusive=True)
        except strata.Error as e:
            raise db_error("cannot begin a transaction", e) from None
        try:
            for kind, key, value in ops:
                try:
                    if kind in ("add", "add-file"):
                        # The transaction sees its own earlier writes: adding a key an
                        # earlier --set wrote fails too.
                        if txn.get(key, db=sdb) is not None:
                            raise Failure("--%s: key '%s' exists; nothing was written"
                                          % (kind, show(key)))
                    if kind == "delete":
                        txn.delete(key, db=sdb)
                    else:
                        txn.put(key, value, db=sdb)
                except strata.Error as e:
                    raise db_error("--" + kind, e) from None
            try:
                txn.commit()
            except strata.Error as e:
                raise db_error("commit failed, nothing was written", e) from None
            ok = True
        finally:
            txn.abort()  # harmless after commit
    finally:
        if created and not ok:
            try:
                db.drop_db(co.subdb)
            except strata.Error:
                pass
        db.close()
    return OK


# ---------------------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------------------

def _prefix_successor(prefix):
    """The smallest key greater than every key starting with prefix, or None."""
    p = prefix.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + bytes((p[-1] + 1,))


def run_scan(ctx, argv):
    """strata scan [options] DBPATH: key<TAB>value lines of a range."""
    opts, operands, co = parse(ctx, argv, [
        (None, "start", True), (None, "end", True), (None, "prefix", True),
        ("R", "reverse", False), ENV, DB, READ_ONLY, ("n", "limit", True),
        ("k", "keys-only", False), ("x", "hex", False), HELP])
    start = end = prefix = limit = None
    reverse = keys_only = hexadecimal = False
    for name, value in opts:
        if name == "start":
            start = value
        elif name == "end":
            end = value
        elif name == "prefix":
            prefix = value
        elif name == "reverse":
            reverse = True
        elif name == "keys-only":
            keys_only = True
        elif name == "hex":
            hexadecimal = True
        elif name == "limit":
            limit = parse_count(value)
            if limit is None:
                raise UsageError("--limit wants a count (0 or more), not '%s'" % value)
    take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    # The range [lo, hi): --start and --prefix both raise lo, --end and the end of the
    # prefix both lower hi.
    lo = arg_bytes("--start", start, hexadecimal) if start is not None else None
    hi = arg_bytes("--end", end, hexadecimal) if end is not None else None
    if prefix is not None:
        p = arg_bytes("--prefix", prefix, hexadecimal)
        if lo is None or p > lo:
            lo = p
        succ = _prefix_successor(p)
        if succ is not None and (hi is None or succ < hi):
            hi = succ
    db = open_common(co, shared=True)
    try:
        target = open_subdb(db, co.subdb) or db
        out = Output(ctx)
        if limit == 0 or (lo is not None and hi is not None and lo >= hi):
            out.finish()
            return OK
        enc = fmt_hex if hexadecimal else fmt_scan
        left = limit
        try:
            with target.iterator(reverse=reverse, start=lo, stop=hi,
                                 include_value=not keys_only) as it:
                while left is None or left > 0:
                    items = list(itertools.islice(it, 1024 if left is None else min(left, 1024)))
                    if not items:
                        break
                    if left is not None:
                        left -= len(items)
                    if keys_only:
                        data = b"".join([enc(k) + b"\n" for k in items])
                    else:
                        data = b"".join([enc(k) + b"\t" + enc(v) + b"\n" for k, v in items])
                    if not out.write(data):
                        break
        except strata.Error as e:
            out.flush()
            raise db_error("scan stopped", e) from None
        out.finish()
    finally:
        db.close()
    return OK

