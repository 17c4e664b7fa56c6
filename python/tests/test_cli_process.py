"""python -m strata as a process: the entry point, progress lines on a terminal and not on
a pipe, Ctrl-C (SIGINT) in the middle of dump, load, copy's tar stream and rewrite, the
shell (also as the C tool's `strata shell` runs it), readers, and a hot copy beside a
writer process."""

import io
import os
import re
import select
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

import strata

from cli_util import C_TOOL, c, contents, make_sample, need_c, package_root, py, py_process

DEADLINE = 60  # seconds any wait of these tests may take before it fails


def wait_until(cond, what):
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def read_until(fd, marker, what):
    """Reads fd (a pipe or pty master) until marker has been seen; returns what was read."""
    got = b""
    end = time.monotonic() + DEADLINE
    while marker not in got:
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for %s; read %r" % (what, got))
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("end of output before %s; read %r" % (what, got))
            got += chunk
    return got


def read_all(fd):
    """Everything until end of file (for a pty master: until the child is gone)."""
    parts = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the pty's other side is closed
            break
        if not chunk:
            break
        parts.append(chunk)
    return b"".join(parts)


def finish(p):
    try:
        return p.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        p.kill()
        raise


# ---------------------------------------------------------------------------------------
# Progress: on a terminal, not on a pipe
# ---------------------------------------------------------------------------------------

def test_progress_line_on_a_terminal_not_on_a_pipe(tmp_dir):
    db = os.path.join(tmp_dir, "db")
    make_sample(db, {b"k%05d" % i: b"v%05d" % i for i in range(3000)}, {})
    out = os.path.join(tmp_dir, "out")
    master, slave = os.openpty()
    try:
        p = py_process("dump", "-f", out, db, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=slave)
        os.close(slave)
        tty = read_all(master)
        assert finish(p) == 0 and p.stdout.read() == b""
    finally:
        os.close(master)
    assert b"dump: " in tty and b"3000 records" in tty and b"\r" in tty
    # On a pipe: nothing; -q: nothing on a terminal either; --progress: a line anyway.
    p = py_process("dump", "-f", out, db, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    assert p.communicate(timeout=DEADLINE) == (b"", b"") and p.returncode == 0
    master, slave = os.openpty()
    try:
        tty_stderr = io.TextIOWrapper(os.fdopen(slave, "wb", buffering=0), write_through=True)
        from strata.cli import main
        assert main(["compact", "-q", db], stdout=io.BytesIO(), stderr=tty_stderr) == 0
        assert main(["compact", db], stdout=io.BytesIO(), stderr=tty_stderr) == 0
        tty_stderr.close()
        tty = read_all(master)
    finally:
        os.close(master)
    assert tty.count(b"compact: ") >= 2 and b"compact: done" in tty  # the ticker, then done
    r = py("load", "--progress", "-f", out, os.path.join(tmp_dir, "db2"))
    assert r.rc == 0 and "load: 100%" in r.err and "3000 records" in r.err


# ---------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------

def test_interrupted_dump_removes_the_files_it_wrote(tmp_dir):
    db = os.path.join(tmp_dir, "db")
    make_sample(db, {b"k": b"v"}, {"s": {b"k": b"v"}})
    main_file = os.path.join(tmp_dir, "main.cdb")
    fifo = os.path.join(tmp_dir, "fifo")
    os.mkfifo(fifo)
    want = py("dump", "--cdbmake", db).out
    # The second file is a FIFO: dump blocks opening it once the first is written, and
    # the signal comes while it waits.
    p = py_process("dump", "--cdbmake", db, ":main:=" + main_file, "s=" + fifo,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def written():
        try:
            with open(main_file, "rb") as f:
                return f.read() == want
        except FileNotFoundError:
            return False
    wait_until(written, "the first file of the dump")
    p.send_signal(signal.SIGINT)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.set_blocking(fd, True)
        read_all(fd)
    finally:
        os.close(fd)
    out, err = p.communicate(timeout=DEADLINE)
    assert p.returncode == 130
    assert err == b"strata dump: interrupted; the files it was writing were removed\n"
    assert not os.path.exists(main_file)  # the finished file goes too: none is a dump
    assert os.path.exists(fifo)  # a FIFO it wrote into is not its to remove


def test_interrupted_load_removes_a_new_database_and_keeps_whole_batches(tmp_dir):
    new = os.path.join(tmp_dir, "new")
    p = py_process("load", "-T", "--batch", "2", "--no-bulk-load", new, stdin=subprocess.PIPE,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"a\n1\nb\n2\nc\n")
    p.stdin.flush()
    wait_until(lambda: os.path.exists(os.path.join(new, "CURRENT")), "the first batch")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(b"3\n", timeout=DEADLINE)
    assert p.returncode == 130
    assert err.decode() == ("strata load: interrupted; the database it was creating (%s) was "
                            "removed\n" % new)
    assert not os.path.exists(new)

    old = os.path.join(tmp_dir, "old")
    make_sample(old, {b"z": b"0"}, {})
    p = py_process("load", "-T", "--batch", "2", "--progress", old, stdin=subprocess.PIPE,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"a\n1\nb\n2\nc\n3\n")
    p.stdin.flush()
    read_until(p.stderr.fileno(), b"load", "the progress line")  # the handlers are in place
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(b"d\n4\ne\n5\n", timeout=DEADLINE)
    assert p.returncode == 130
    # What was read before the signal was seen stays, in whole batches of 2 only.
    m = re.search(r"strata load: interrupted; (.*) is incomplete: (\d+) pairs in (\d+) whole "
                  r"batches were written\n$", err.decode())
    assert m and m.group(1) == old, err
    n, batches = int(m.group(2)), int(m.group(3))
    assert n == 2 * batches
    want = {b"z": b"0"}
    want.update(list(zip([b"a", b"b", b"c", b"d", b"e"], [b"1", b"2", b"3", b"4", b"5"]))[:n])
    assert contents(old) == {":main:": want}


def _big(path, megabytes):
    """A database of incompressible values, about `megabytes` MiB of tables."""
    with strata.DB(path, create_if_missing=True) as db:
        with db.loader() as loader:
            for i in range(megabytes * 64):
                loader.add(b"k%06d" % i, os.urandom(16384))


def test_interrupted_tar_stream_lacks_its_end(tmp_dir):
    db = os.path.join(tmp_dir, "db")
    _big(db, 3)
    p = py_process("copy", db, "-", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The first header has arrived: the stream is being written (and the child waits
    # on the full pipe, with two of its 3 MiB still to read).
    head = read_until(p.stdout.fileno(), b"ustar", "the tar stream")
    p.send_signal(signal.SIGINT)
    rest, err = p.communicate(timeout=DEADLINE)
    assert p.returncode == 130
    assert err == (b"strata copy: interrupted; the tar stream is incomplete (tar reports its "
                   b"end missing)\n")
    data = head + rest
    assert 512 <= len(data) < 3 << 20
    t = subprocess.run(["tar", "t"], input=data, capture_output=True)
    assert t.returncode != 0
    assert not [n for n in os.listdir(tmp_dir) if n.startswith(".strata-copy")]


def test_interrupted_rewrite_removes_the_destination(tmp_dir):
    src = os.path.join(tmp_dir, "src")
    dest = os.path.join(tmp_dir, "dest")
    make_sample(src, {b"k%d" % i: b"v" for i in range(100)}, {})
    # stderr is a full pipe: the progress line's first write blocks, after the
    # destination is created; the signal comes while it waits.
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    try:
        p = py_process("rewrite", "--progress", src, dest, stdout=subprocess.PIPE, stderr=w)
        os.close(w)
        wait_until(lambda: os.path.exists(os.path.join(dest, "CURRENT")), "the destination")
        p.send_signal(signal.SIGINT)
        err = read_all(r)
    finally:
        os.close(r)
    assert finish(p) == 130
    assert err.endswith(b"strata rewrite: interrupted; %s was removed\n" % dest.encode())
    assert not os.path.exists(dest)
    assert len(contents(src)[":main:"]) == 100


# ---------------------------------------------------------------------------------------
# shell
# ---------------------------------------------------------------------------------------

SCRIPT = b"""\
print(db.get(b"k"), sorted(subdb.iterator()))
for i in range(2):
    db.put(b"n%d" % i, b"x")

print(db.read_only, len(list(db)))
exit(3)
"""


@need_c
def test_shell_runs_a_console_with_the_database_open(tmp_dir):
    db = os.path.join(tmp_dir, "db")
    make_sample(db, {b"k": b"v"}, {"s": {b"a": b"1"}})
    p = py_process("shell", "-d", "s", db, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    out, err = p.communicate(SCRIPT, timeout=DEADLINE)
    assert (p.returncode, out, err) == (3, b"b'v' [(b'a', b'1')]\nFalse 3\n", b"")
    # The C tool's shell runs this one.
    env = dict(os.environ, STRATA_PYTHON=sys.executable, PYTHONPATH=package_root())
    r = subprocess.run([C_TOOL, "shell", "-d", "s", db], input=SCRIPT, capture_output=True,
                       env=env, timeout=DEADLINE)
    assert (r.returncode, r.stdout, r.stderr) == (3, b"b'v' [(b'a', b'1')]\nFalse 3\n", b"")


# ---------------------------------------------------------------------------------------
# Other processes: readers, a hot copy beside a writer
# ---------------------------------------------------------------------------------------

WRITER = """
import select, sys, strata
db = strata.DB(sys.argv[1], create_if_missing=True)
sub = db.open_db("s")
i = 0
while True:
    with db.write_batch() as wb:  # a batch spans both databases
        for _ in range(100):
            wb.put(b"k%07d" % i, b"v%d" % i)
            wb.put(b"k%07d" % i, b"v%d" % i, db=sub)
            i += 1
    print(i, flush=True)
    if i == 2000:
        sys.stdin.readline()  # holds the database open while the test looks at it
    elif select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.readline():
        break  # standard input closed: the end
db.close()
"""


def spawn_writer(path):
    code = textwrap.dedent(WRITER)
    env = dict(os.environ, PYTHONPATH=package_root())
    return subprocess.Popen([sys.executable, "-c", code, path], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def acknowledged(p, at_least):
    """Reads the writer's counts until one is at least at_least; returns it."""
    while True:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        if int(line) >= at_least:
            return int(line)


@need_c
def test_readers_and_a_hot_copy_beside_a_writer_process(tmp_dir):
    db = os.path.join(tmp_dir, "db")
    p = spawn_writer(db)
    try:
        acknowledged(p, 2000)  # it waits there, holding the database
        r = py("readers", db)
        assert r == c("readers", db)
        lines = r.out.decode().splitlines()
        assert lines[0].split() == ["pid", "role", "command", "files"]
        assert lines[1].split()[:2] == [str(p.pid), "writer"]
        # copy and rewrite while it writes: every write acknowledged before they began
        p.stdin.write(b"go on\n")
        p.stdin.flush()
        n = acknowledged(p, 2500)
        assert py("copy", db, os.path.join(tmp_dir, "copy")).rc == 0
        m = acknowledged(p, n + 1)
        assert py("rewrite", "-q", db, os.path.join(tmp_dir, "rewrite")).rc == 0
        p.stdin.close()
        assert finish(p) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for name, least in (("copy", n), ("rewrite", m)):
        got = contents(os.path.join(tmp_dir, name))
        for i in range(least):
            assert got[":main:"][b"k%07d" % i] == b"v%d" % i, (name, i)
            assert got["s"][b"k%07d" % i] == b"v%d" % i, (name, i)
        assert len(got[":main:"]) == len(got["s"])  # never part of a batch
    # The copy opens in LevelDB 1.23 too (Debian's python3-plyvel).
    plyvel = pytest.importorskip("plyvel")
    ldb = plyvel.DB(os.path.join(tmp_dir, "copy"))
    try:
        assert ldb.get(b"k0000000") == b"v0"
    finally:
        ldb.close()
