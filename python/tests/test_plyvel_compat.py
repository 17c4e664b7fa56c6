"""strata.plyvel as a drop-in for plyvel: its names, exception classes and
bytes messages, closed-object behaviour, module layout; and databases shared
with Debian's python3-plyvel (LevelDB 1.23) in both directions."""

import os
import subprocess
import sys

import pytest

import strata
import strata.plyvel as plyvel
from strata.plyvel import _plyvel

real_plyvel = pytest.importorskip("plyvel")


def test_module_layout():
    for name in ("__leveldb_version__", "DB", "repair_db", "destroy_db", "Error", "IOError",
                 "CorruptionError", "IteratorInvalidError", "__version__"):
        assert hasattr(plyvel, name)
    for name in ("DB", "PrefixedDB", "Snapshot", "WriteBatch", "BaseIterator", "Iterator",
                 "RawIterator", "repair_db", "destroy_db", "Error", "IOError",
                 "CorruptionError", "IteratorInvalidError", "__leveldb_version__"):
        assert hasattr(_plyvel, name), name
    assert plyvel.__leveldb_version__ == real_plyvel.__leveldb_version__ == "1.23"
    assert issubclass(plyvel.IOError, plyvel.Error) and issubclass(plyvel.IOError, IOError)
    assert issubclass(plyvel.CorruptionError, plyvel.Error)
    # the same public names as Debian's plyvel
    pub = {n for n in dir(real_plyvel._plyvel) if not n.startswith("_")}
    pub -= {"weakref_ref", "threading", "sys"}
    assert pub <= set(dir(_plyvel))


def test_errors_are_plyvels_with_bytes_messages(db_path):
    with pytest.raises(plyvel.Error) as e:
        plyvel.DB(db_path)
    assert type(e.value) is plyvel.Error and isinstance(e.value.args[0], bytes)
    db = plyvel.DB(db_path, create_if_missing=True)
    with pytest.raises(plyvel.IOError) as e:
        plyvel.DB(db_path)
    assert isinstance(e.value.args[0], bytes) and b"LOCK" in e.value.args[0]
    r = db.raw_iterator()
    with pytest.raises(plyvel.IteratorInvalidError) as e:
        r.key()
    assert e.value.args == ()
    db.close()
    with pytest.raises(RuntimeError) as e:
        db.get(b"a")
    assert type(e.value) is RuntimeError and e.value.args == ("Database is closed",)
    with pytest.raises(RuntimeError, match="Database or iterator is closed"):
        r.key()
    with pytest.raises(RuntimeError, match="Cannot operate on closed LevelDB database"):
        db.snapshot()
    with pytest.raises(TypeError):
        plyvel.DB(3)
    with pytest.raises(TypeError):
        plyvel.destroy_db(3)


def test_plyvel_behaviour(db_path):
    with plyvel.DB(db_path, create_if_missing=True) as db:
        assert repr(db).startswith("<plyvel.DB with name")
        db.put(b"a", b"1")
        with db.write_batch(transaction=True) as wb:
            wb.put(b"b", b"2")
        p = db.prefixed_db(b"b")
        assert repr(p).startswith("<plyvel.PrefixedDB")
        assert isinstance(p, _plyvel.PrefixedDB)
        assert list(db.iterator()) == [(b"a", b"1"), (b"b", b"2")]
        it = db.iterator()
        assert isinstance(it, _plyvel.Iterator) and isinstance(it, _plyvel.BaseIterator)
        assert next(it) == (b"a", b"1") and it.prev() == (b"a", b"1")
        with db.snapshot() as s:
            assert isinstance(s, _plyvel.Snapshot) and s.get(b"a") == b"1"
        assert isinstance(db.write_batch(), _plyvel.WriteBatch)
        assert isinstance(db, strata.DB)


def _run_real_plyvel(code):
    """Runs code with Debian's plyvel in another interpreter (so the two
    libraries never share a process)."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=""))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_debian_plyvel_reads_strata(db_path):
    with plyvel.DB(db_path, create_if_missing=True) as db:
        for i in range(3000):
            db.put(b"k%05d" % i, b"v%d" % i)
        db.delete(b"k00001")
        db.compact_range(start=b"k00000", stop=b"k01000")
        db.put(b"in-log", b"only in the write-ahead log")
    out = _run_real_plyvel(
        "import plyvel\n"
        "db = plyvel.DB(%r)\n"
        "items = list(db)\n"
        "print(len(items), db.get(b'k00001'), db.get(b'k02999'), db.get(b'in-log'))\n"
        "db.put(b'from-leveldb', b'x')\n"
        "db.close()\n" % db_path)
    assert out.split() == ["3000", "None", "b'v2999'", "b'only", "in", "the", "write-ahead",
                           "log'"]
    with plyvel.DB(db_path) as db:
        assert db.get(b"from-leveldb") == b"x"


def test_strata_reads_debian_plyvel(db_path):
    _run_real_plyvel(
        "import plyvel\n"
        "db = plyvel.DB(%r, create_if_missing=True, bloom_filter_bits=10)\n"
        "for i in range(5000): db.put(b'%%05d' %% i, b'x' * (i %% 300))\n"
        "db.compact_range()\n"
        "for i in range(0, 5000, 7): db.delete(b'%%05d' %% i)\n"
        "db.put(b'tail', b'unflushed')\n"
        "db.close()\n" % db_path)
    with strata.DB(db_path, bloom_filter_bits=10) as db:
        got = dict(db)
        assert len(got) == 5000 - len(range(0, 5000, 7)) + 1
        assert got[b"00001"] == b"x" and got[b"04999"] == b"x" * (4999 % 300)
        assert db.get(b"tail") == b"unflushed"
        assert db.get(b"00007") is None
        db.put(b"back", b"to leveldb")
    out = _run_real_plyvel(
        "import plyvel\n"
        "db = plyvel.DB(%r)\n"
        "print(db.get(b'back'), sum(1 for _ in db))\n" % db_path)
    assert out.split() == ["b'to", "leveldb'", str(5000 - len(range(0, 5000, 7)) + 2)]
