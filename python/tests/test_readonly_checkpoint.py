"""read_only=True handles beside a writer (catch_up), checkpoints, and
strata.lmdb's readonly environments, when the engine has them."""

import os

import pytest

import strata

needs_ro = pytest.mark.skipif("read_only" not in strata.FEATURES,
                              reason="the engine in this tree has no read-only opens")
needs_cp = pytest.mark.skipif("checkpoint" not in strata.FEATURES,
                              reason="the engine in this tree has no checkpoints")


@needs_ro
def test_read_only_beside_writer(db, db_path):
    db.put(b"a", b"1")
    ro = strata.DB(db_path, read_only=True)  # no lock: beside the writer
    assert ro.read_only and ro.get(b"a") == b"1"
    db.put(b"a", b"2")
    db.put(b"b", b"new")
    assert ro.get(b"a") == b"1" and ro.get(b"b") is None  # as of its open
    it = ro.iterator()
    ro.catch_up()
    assert ro.get(b"a") == b"2" and ro.get(b"b") == b"new"
    assert list(it) == [(b"a", b"1")]  # iterators keep their view
    for write in (lambda: ro.put(b"x", b"y"), lambda: ro.delete(b"a"),
                  lambda: ro.write_batch().write(), lambda: ro.compact_range()):
        with pytest.raises(strata.ReadOnlyError):
            write()
    with pytest.raises(strata.InvalidArgumentError):
        db.catch_up()  # not a read-only handle
    ro.close()


@needs_ro
def test_read_only_missing_database(db_path):
    with pytest.raises(strata.Error):
        strata.DB(db_path, read_only=True)


@needs_ro
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_child_reads_while_parent_writes(db, db_path):
    db.put(b"k", b"parent")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ok = b"0"
        try:
            with strata.DB(db_path, read_only=True) as mine:  # the parent holds the lock
                ok = b"1" if mine.get(b"k") == b"parent" else b"0"
        finally:
            os.write(w, ok)
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.close(r)
    os.waitpid(pid, 0)
    assert db.get(b"k") == b"parent"


@needs_cp
def test_checkpoint(db, tmp_dir):
    for i in range(2000):
        db.put(b"%05d" % i, b"v" * 50)
    db.compact_range()
    db.put(b"late", b"in the memtable")
    if "subdb" in strata.FEATURES:
        db.open_db("s").put(b"sk", b"sv")
    dest = os.path.join(tmp_dir, "copy")
    db.checkpoint(dest)
    db.put(b"after", b"not in the copy")
    with pytest.raises(strata.InvalidArgumentError):
        db.checkpoint(dest)  # exists
    with strata.DB(dest) as c:
        assert c.get(b"late") == b"in the memtable" and c.get(b"after") is None
        assert sum(1 for _ in c.iterator(include_value=False)) == 2001
        if "subdb" in strata.FEATURES:
            assert c.open_db("s", create=False).get(b"sk") == b"sv"


@needs_ro
@pytest.mark.skipif(not {"txn", "subdb"} <= strata.FEATURES, reason="strata.lmdb needs them")
def test_lmdb_readonly_environment(tmp_dir):
    import strata.lmdb as lmdb
    path = os.path.join(tmp_dir, "env")
    writer = lmdb.open(path, max_dbs=1)
    with writer.begin(write=True) as t:
        t.put(b"k", b"1")
    reader = lmdb.open(path, readonly=True, max_dbs=1)
    with reader.begin() as t:
        assert t.get(b"k") == b"1"
    with writer.begin(write=True) as t:
        t.put(b"k", b"2")
    with reader.begin() as t:  # a new read transaction sees the latest commit
        assert t.get(b"k") == b"2"
    with pytest.raises(lmdb.ReadonlyError):
        reader.begin(write=True)
    reader.close()
    writer.close()
