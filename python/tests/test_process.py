"""Several processes on one database: a second writer gets LockError naming the
lock; what a writer process acknowledged is there for the next process, even when
it is killed; and -- when the engine has read-only opens -- readers in other
processes beside a live writer, catching up with it."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import strata

from conftest import scaled


def spawn(code, *args):
    """A child Python process running code (with this package importable)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(strata.__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    # stdin is a pipe kept open: a child that reads it waits until it is closed
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


WRITER = """
import sys, strata
db = strata.DB(sys.argv[1], create_if_missing=True)
n = int(sys.argv[2])
for i in range(n):
    db.put(b"k%06d" % i, b"v%d" % i, sync=(i % 100 == 99))
    if i == n // 2:
        print("half", flush=True)
print("done", flush=True)
sys.stdin.read() if len(sys.argv) > 3 else None
db.close()
"""


def test_second_writer_gets_lock_error(db_path):
    p = spawn(WRITER, db_path, "10", "wait")
    try:
        assert p.stdout.readline().strip() == "half"
        assert p.stdout.readline().strip() == "done"
        with pytest.raises(strata.LockError) as e:
            strata.DB(db_path)
        assert "LOCK" in str(e.value)
    finally:
        p.kill()
        p.wait()
    with strata.DB(db_path) as db:  # the lock went with the process
        assert db.get(b"k000009") == b"v9"


def test_killed_writer_loses_nothing_acknowledged(db_path):
    n = scaled(20000, 3000)
    p = spawn("""
        import sys, strata
        db = strata.DB(sys.argv[1], create_if_missing=True)
        i = 0
        while True:
            with db.write_batch() as wb:
                wb.put(b"a%08d" % i, b"x")
                wb.put(b"b%08d" % i, b"x")
            if i % 500 == 0:
                print(i, flush=True)
            i += 1
        """, db_path)
    last = -1
    while last < n:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        last = int(line)
    p.send_signal(signal.SIGKILL)
    p.wait()
    with strata.DB(db_path) as db:
        a = sum(1 for _ in db.iterator(prefix=b"a", include_value=False))
        b = sum(1 for _ in db.iterator(prefix=b"b", include_value=False))
        assert a == b >= last + 1  # batches whole, every printed one present


@pytest.mark.skipif("read_only" not in strata.FEATURES,
                    reason="the engine in this tree has no read-only opens")
def test_readers_beside_a_writer(db_path):
    strata.DB(db_path, create_if_missing=True).close()
    n = scaled(20000, 4000)
    w = spawn(WRITER, db_path, str(n), "wait")
    readers = []
    try:
        assert w.stdout.readline().strip() == "half"
        code = """
            import sys, time, strata
            db = strata.DB(sys.argv[1], read_only=True)
            seen = 0
            deadline = time.time() + 120
            while time.time() < deadline:
                db.catch_up()
                keys = [k for k in db.iterator(include_value=False)]
                assert keys == sorted(keys)
                assert len(keys) >= seen  # never goes back
                seen = len(keys)
                if seen == int(sys.argv[2]):
                    break
            for i in range(0, seen, 97):
                assert db.get(b"k%06d" % i) == b"v%d" % i
            print(seen, flush=True)
            """
        readers = [spawn(code, db_path, str(n)) for _ in range(2)]
        assert w.stdout.readline().strip() == "done"
        for r in readers:
            out, err = r.communicate(timeout=300)
            assert r.returncode == 0, err
            assert int(out) == n
        with pytest.raises(strata.ReadOnlyError):
            ro = strata.DB(db_path, read_only=True)
            try:
                ro.put(b"x", b"y")
            finally:
                ro.close()
    finally:
        w.kill()
        w.wait()
        for r in readers:
            r.kill()
