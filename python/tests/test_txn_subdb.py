"""Sub-databases (open_db, drop_db, list_dbs, db= in batches and transactions)
and transactions (begin, get/put/delete/iterators, commit, abort, conflicts,
exclusive, buffers, invalidation)."""

import threading

import pytest

import strata

needs_subdb = pytest.mark.skipif("subdb" not in strata.FEATURES,
                                 reason="the engine in this tree has no sub-databases")
needs_txn = pytest.mark.skipif("txn" not in strata.FEATURES,
                               reason="the engine in this tree has no transactions")


@needs_subdb
def test_subdb_key_spaces(db):
    a = db.open_db("a")
    b = db.open_db("b")
    for s, tag in ((a, b"A"), (b, b"B"), (db, b"M")):
        s.put(b"", tag + b"-empty")
        s.put(b"k", tag)
    assert a.get(b"k") == b"A" and b.get(b"k") == b"B" and db.get(b"k") == b"M"
    assert list(a) == [(b"", b"A-empty"), (b"k", b"A")]
    assert list(db.iterator(include_value=False)) == [b"", b"k"]  # reserved range hidden
    assert db.list_dbs() == ["a", "b"]
    assert a.name == "a" and a.db is db and not a.closed
    assert isinstance(a, strata.SubDB) and "SubDB" in repr(a)
    a.delete(b"k")
    assert a.get(b"k") is None and b.get(b"k") == b"B"
    # the same name again: the same key space
    assert db.open_db("a").get(b"") == b"A-empty"


@needs_subdb
def test_subdb_api(db):
    s = db.open_db("s")
    for i in range(50):
        s.put(b"%02d" % i, b"v%d" % i)
    assert list(s.iterator(start=b"10", stop=b"13", include_value=False)) == [b"10", b"11", b"12"]
    assert list(s.iterator(prefix=b"4", reverse=True, include_value=False))[:2] == [b"49", b"48"]
    r = s.raw_iterator()
    r.seek_to_last()
    assert r.key() == b"49"
    with s.snapshot() as snap:
        s.put(b"00", b"changed")
        assert snap.get(b"00") == b"v0"
        assert len(list(snap.iterator())) == 50
    with s.write_batch() as wb:
        wb.put(b"zz", b"1")
        wb.delete(b"01")
    assert s.get(b"zz") == b"1" and s.get(b"01") is None
    p = s.prefixed_db(b"2")
    assert p.get(b"5") == b"v25"
    assert len(list(p)) == 10
    v = s.get(b"02", buffers=True)
    assert v == b"v2"
    st = s.stat()
    assert st["entries"] >= 50 and st["bytes"] > 0
    assert "entries" in db.stat()
    with pytest.raises(TypeError):
        b"1" in s  # noqa: B015


@needs_subdb
def test_subdb_errors(db, db_path):
    with pytest.raises(strata.NotFoundError):
        db.open_db("absent", create=False)
    with pytest.raises(ValueError):
        db.open_db("")
    with pytest.raises(ValueError):
        db.open_db("x" * 256)
    with pytest.raises(TypeError):
        db.open_db(b"bytes")
    with pytest.raises(strata.NotFoundError):
        db.drop_db("absent")
    s = db.open_db("s")
    s.put(b"k", b"v")
    db.drop_db("s")
    assert db.list_dbs() == []
    with pytest.raises(strata.InvalidArgumentError, match="dropped"):
        s.get(b"k")
    assert db.open_db("s").get(b"k") is None  # a new, empty one
    other = strata.DB(db_path + "2", create_if_missing=True)
    with pytest.raises(ValueError):
        db.write_batch().put(b"k", b"v", db=other.open_db("o"))
    with pytest.raises(TypeError):
        db.write_batch().put(b"k", b"v", db="s")
    other.close()
    db.close()
    with pytest.raises(strata.ClosedError):
        s.get(b"k")
    assert s.closed


@needs_subdb
def test_subdb_needs_bytewise_order(db_path):
    with strata.DB(db_path, create_if_missing=True, comparator=lambda a, b: (a > b) - (a < b),
                   comparator_name=b"test.Same") as db:
        with pytest.raises(strata.NotSupportedError):
            db.open_db("x")


@needs_subdb
def test_batch_spans_subdbs_atomically(db):
    a, b = db.open_db("a"), db.open_db("b")
    wb = db.write_batch()
    wb.put(b"k", b"1", db=a)
    wb.put(b"k", b"2", db=b)
    wb.put(b"k", b"3", db=db)
    wb.delete(b"gone", db=a)
    assert a.get(b"k") is None
    wb.write()
    assert (a.get(b"k"), b.get(b"k"), db.get(b"k")) == (b"1", b"2", b"3")
    # a subdb's batch writes there by default
    with a.write_batch() as wb2:
        wb2.put(b"own", b"x")
        wb2.put(b"main", b"y", db=db)
    assert a.get(b"own") == b"x" and db.get(b"main") == b"y"


@needs_subdb
def test_subdb_persists(db_path):
    with strata.DB(db_path, create_if_missing=True) as db:
        db.open_db("keep").put(b"k", b"v")
    with strata.DB(db_path) as db:
        assert db.list_dbs() == ["keep"]
        assert db.open_db("keep", create=False).get(b"k") == b"v"


# ---- transactions ----------------------------------------------------------------

@needs_txn
def test_write_transaction_commit(db):
    db.put(b"a", b"old")
    with db.begin(write=True) as t:
        assert t.write and t.active
        t.put(b"a", b"new")
        t.put(b"b", bytearray(b"2"))
        t.delete(b"c")
        assert t.get(b"a") == b"new"  # sees its own writes
        assert db.get(b"a") == b"old"  # others do not, yet
        assert list(t.iterator(include_value=False)) == [b"a", b"b"]
    assert not t.active
    assert db.get(b"a") == b"new" and db.get(b"b") == b"2"
    with pytest.raises(strata.ClosedError):
        t.get(b"a")
    with pytest.raises(strata.ClosedError):
        t.commit()
    t.abort()  # harmless


@needs_txn
def test_write_transaction_abort_on_exception(db):
    with pytest.raises(KeyError):
        with db.begin(write=True) as t:
            t.put(b"a", b"1")
            raise KeyError("x")
    assert db.get(b"a") is None
    t2 = db.begin(write=True)
    t2.put(b"a", b"1")
    t2.abort()
    assert db.get(b"a") is None


@needs_txn
def test_read_transaction_is_a_snapshot(db):
    db.put(b"a", b"1")
    with db.begin() as t:
        db.put(b"a", b"2")
        db.put(b"b", b"x")
        assert t.get(b"a") == b"1" and t.get(b"b") is None
        assert t.get(b"b", b"dflt") == b"dflt"
        assert list(t.iterator()) == [(b"a", b"1")]
        with pytest.raises(strata.ReadOnlyError):
            t.put(b"c", b"3")
        with pytest.raises(strata.ReadOnlyError):
            t.delete(b"a")


@needs_txn
def test_conflict_applies_nothing(db):
    db.put(b"n", b"0")
    t1 = db.begin(write=True)
    t2 = db.begin(write=True)
    t1.put(b"n", bytes([t1.get(b"n")[0] + 1]))
    t2.put(b"n", bytes([t2.get(b"n")[0] + 2]))
    t2.put(b"other", b"x")
    t1.commit()
    with pytest.raises(strata.ConflictError) as e:
        t2.commit()
    assert "n" in str(e.value)
    assert db.get(b"other") is None and db.get(b"n") == bytes([b"0"[0] + 1])
    assert not t2.active
    # a plain write conflicts with a transaction that read the key
    t3 = db.begin(write=True)
    t3.get(b"n")
    t3.put(b"m", b"1")
    db.put(b"n", b"plain")
    with pytest.raises(strata.ConflictError):
        t3.commit()


@needs_txn
def test_exclusive_transactions_serialize(db):
    db.put(b"counter", b"0")
    n, threads = 50, 4

    def work():
        for _ in range(n):
            with db.begin(write=True, exclusive=True) as t:
                v = int(t.get(b"counter"))
                t.put(b"counter", b"%d" % (v + 1))

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert int(db.get(b"counter")) == n * threads


@needs_txn
def test_optimistic_retry_loop(db):
    db.put(b"c", b"0")

    def work():
        for _ in range(30):
            while True:
                t = db.begin(write=True)
                t.put(b"c", b"%d" % (int(t.get(b"c")) + 1))
                try:
                    t.commit()
                    break
                except strata.ConflictError:
                    continue

    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert int(db.get(b"c")) == 90


@needs_txn
@needs_subdb
def test_transaction_spans_subdbs(db):
    a, b = db.open_db("a"), db.open_db("b")
    with db.begin(write=True) as t:
        t.put(b"k", b"A", db=a)
        t.put(b"k", b"B", db=b)
        t.put(b"k", b"M")
        assert t.get(b"k", db=a) == b"A"
        assert list(t.iterator(db=b)) == [(b"k", b"B")]
        r = t.raw_iterator(db=a)
        r.seek_to_first()
        assert r.item() == (b"k", b"A")
    assert (a.get(b"k"), b.get(b"k"), db.get(b"k")) == (b"A", b"B", b"M")
    with db.begin(write=True, db=a) as t:  # a default sub-database
        t.put(b"x", b"1")
        assert t.get(b"x") == b"1" and t.get(b"k", db=db) == b"M"
    assert a.get(b"x") == b"1" and db.get(b"x") is None


@needs_txn
def test_transaction_buffers(db):
    big = b"x" * 100000
    db.put(b"big", big)
    db.compact_range()
    with db.begin(buffers=True) as t:
        v = t.get(b"big")
        assert isinstance(v, memoryview) and v == big
        it = t.iterator(buffers=True)
        k, w = next(it)
        assert w == big
    for x in (v, w):
        with pytest.raises(ValueError):
            x.tobytes()
    with db.begin(write=True, buffers=True) as t:
        t.put(b"mine", b"own write")
        v = t.get(b"mine")
        assert isinstance(v, memoryview) and v == b"own write"
        r = t.raw_iterator(buffers=True)
        r.seek(b"mine")
        assert r.value() == b"own write"
    with pytest.raises(ValueError):
        v.tobytes()


@needs_txn
def test_transaction_iterators_invalidated(db):
    for i in range(10):
        db.put(b"%d" % i, b"v")
    t = db.begin(write=True)
    it = t.iterator()
    next(it)
    t.commit()
    with pytest.raises(strata.ClosedError):
        next(it)
    t2 = db.begin()
    it2 = t2.iterator()
    db.close()
    assert not t2.active
    with pytest.raises(strata.ClosedError):
        next(it2)
    with pytest.raises(strata.ClosedError):
        t2.get(b"1")


@needs_txn
def test_transaction_gc_aborts(db):
    t = db.begin(write=True)
    t.put(b"a", b"1")
    del t
    assert db.get(b"a") is None
    with db.begin(write=True, exclusive=True) as t:  # no exclusive one left open
        t.put(b"a", b"2")
    assert db.get(b"a") == b"2"


@needs_txn
def test_write_transaction_sees_writes_between_steps(db):
    for k in (b"a", b"c", b"e"):
        db.put(k, b"0")
    with db.begin(write=True) as t:
        it = t.iterator(include_value=False)
        assert next(it) == b"a"
        t.put(b"d", b"new")
        assert list(it) == [b"c", b"d", b"e"]


@needs_txn
def test_close_releases_a_begin_waiting_on_an_idle_exclusive_txn(db):
    import time
    held = db.begin(write=True, exclusive=True)  # idle, never ended by its owner
    outcome = []

    def waiter():
        try:
            db.begin(write=True, exclusive=True)
            outcome.append("began")
        except strata.ClosedError:
            outcome.append("closed")

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)  # the waiter is blocked in the engine, GIL released
    db.close()  # must not wait forever for it
    t.join(timeout=60)
    assert not t.is_alive() and outcome == ["closed"]
    assert not held.active
    with pytest.raises(strata.ClosedError):
        held.get(b"k")
