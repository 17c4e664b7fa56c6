"""Helpers of the tests of `python -m strata` (test_cli*.py): running the Python tool
in this process and the C tool (STRATA_CLI, set by make test-python; build/strata by
default) as a process, comparing the two, and a sample database of binary keys and values
in several sub-databases."""

import collections
import io
import os
import subprocess
import sys

import pytest

import strata
import strata.cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
C_TOOL = os.environ.get("STRATA_CLI") or os.path.join(REPO, "build", "strata")
# Under make the C tool must be there; run by hand without a build, its comparisons skip.
need_c = pytest.mark.skipif("STRATA_CLI" not in os.environ and not os.access(C_TOOL, os.X_OK),
                            reason="the C tool is not built (make build; STRATA_CLI=PATH)")

Result = collections.namedtuple("Result", "rc out err")


def py(*args, stdin=b""):
    """Runs `python -m strata ARGS` in this process: Result(exit status, stdout bytes,
    stderr str)."""
    out, err = io.BytesIO(), io.StringIO()
    rc = strata.cli.main([os.fspath(a) for a in args],
                         stdin=io.BufferedReader(io.BytesIO(stdin)), stdout=out, stderr=err)
    return Result(rc, out.getvalue(), err.getvalue())


def c(*args, stdin=b"", env=None, pass_fds=()):
    """Runs the C tool: Result(exit status, stdout bytes, stderr str)."""
    p = subprocess.run([C_TOOL] + [os.fspath(a) for a in args], input=stdin,
                       capture_output=True, cwd=os.getcwd(), env=env, pass_fds=pass_fds)
    return Result(p.returncode, p.stdout, p.stderr.decode("utf-8", "backslashreplace"))


def both(*args, stdin=b""):
    """Runs both tools with the same arguments (the C tool first) and asserts that they
    agree: exit status, stdout byte for byte, and stderr. Returns the Result."""
    want = c(*args, stdin=stdin)
    got = py(*args, stdin=stdin)
    assert got == want, "strata %s" % " ".join(map(os.fspath, args))
    return got


def package_root():
    """The directory that holds the strata package in use (for a child's PYTHONPATH)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(strata.__file__)))


def py_process(*args, **kwargs):
    """`python -m strata ARGS` as a child process (subprocess.Popen keywords)."""
    env = dict(os.environ, PYTHONPATH=package_root())
    env.update(kwargs.pop("env", {}))
    return subprocess.Popen([sys.executable, "-m", "strata"] + [os.fspath(a) for a in args],
                            env=env, **kwargs)


# Keys and values that every text format must carry: NUL, newlines, CR, TAB, "->",
# a backslash, 0xff, non-ASCII UTF-8, invalid UTF-8, an empty value, a long value.
MAIN = {
    b"\x00": b"",
    b"\x00\x01nul": b"nul\x00inside",
    b"a\nb": b"line\nbreak\r\n",
    b"back\\slash": b"tab\there \\x41",
    b"k->v": b"->",
    b"plain": b"value",
    "κλειδί".encode(): "τιμή ☃".encode(),
    b"\xff\xfe": bytes(range(256)),
    b"big": bytes(range(251)) * 40,
    b"quote\"": b"{\"key\":1}",
}
SUBS = {
    "sub": {b"s1": b"x", b"\n": b"\n\n", b"\xc3": b"\xc3\x28"},
    "a b/%": {b"\x00": b"\xff"},
    "main": {b"m": b"not the main database"},
    "empty": {},
    ".dot": {b"d": b"1"},
}


def make_sample(path, main=MAIN, subs=SUBS):
    """Creates the sample database at path (written in batches, so it has a log)."""
    with strata.DB(path, create_if_missing=True) as db:
        with db.write_batch() as wb:
            for k, v in main.items():
                wb.put(k, v)
        for name, pairs in subs.items():
            sdb = db.open_db(name)
            for k, v in pairs.items():
                sdb.put(k, v)


def contents(path):
    """{name: {key: value}} of every database of path (:main: for the main database)."""
    with strata.DB(path) as db:
        out = {":main:": dict(db.iterator())}
        for name in db.list_dbs():
            out[name] = dict(db.open_db(name, create=False).iterator())
    return out
