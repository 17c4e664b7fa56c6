"""buffers=True: values as memoryviews of the engine's memory, released (so
using one raises) when what returned it moves on or ends; never a read of
freed memory, even when a view is still exported elsewhere."""

import gc

import pytest

import strata


@pytest.fixture
def bdb(db):
    for i in range(200):
        db.put(b"%03d" % i, (b"%03d" % i) * 1000)
    db.compact_range()
    db.put(b"mem", b"in the memtable")
    return db


def test_get_buffers(bdb):
    v = bdb.get(b"007", buffers=True)
    assert isinstance(v, memoryview) and v.readonly
    assert v == b"007" * 1000
    assert bdb.get(b"mem", buffers=True) == b"in the memtable"
    assert bdb.get(b"nope", buffers=True) is None
    assert bdb.get(b"nope", b"d", buffers=True) == b"d"
    assert bdb.get(b"00", buffers=True) is None  # a seek landing on another key
    # valid while the database is open, even after later writes
    bdb.put(b"007", b"changed")
    bdb.compact_range()
    assert v == b"007" * 1000


def test_get_buffers_released_at_close(bdb):
    v = bdb.get(b"001", buffers=True)
    pin = v.obj
    s = v[10:20]
    bdb.close()
    with pytest.raises(ValueError):
        bytes(v)
    # the slice still exports the pin: its memory is kept (the engine close is
    # deferred), so it reads the right bytes, never freed memory
    assert bytes(s) == (b"001" * 1000)[10:20]
    with pytest.raises(BufferError):
        memoryview(pin)  # no new views of an ended value
    del s, pin
    gc.collect()


def test_deferred_close_releases_lock(bdb, db_path):
    v = bdb.get(b"001", buffers=True)
    s = v[:5]
    bdb.close()
    with pytest.raises(strata.LockError):
        strata.DB(db_path)  # still held: a buffer of it is alive
    del s, v
    with strata.DB(db_path) as again:
        assert again.get(b"001")[:3] == b"001"


def test_snapshot_buffers_released_at_snapshot_close(bdb):
    snap = bdb.snapshot()
    v = snap.get(b"005", buffers=True)
    bdb.put(b"005", b"new")
    assert v == b"005" * 1000
    snap.close()
    with pytest.raises(ValueError):
        v.tobytes()


def test_iterator_buffers_valid_until_move(bdb):
    it = bdb.iterator(buffers=True)
    k0, v0 = next(it)
    assert k0 == b"000" and isinstance(k0, bytes) and v0 == b"000" * 1000
    k1, v1 = next(it)
    with pytest.raises(ValueError):
        v0.tobytes()
    assert v1 == b"001" * 1000
    # prev() returns the entry the engine is on: no move, the view stays
    k, v = it.prev()
    assert k == b"001" and v1 == b"001" * 1000 and v == v1
    it.close()
    with pytest.raises(ValueError):
        v1.tobytes()


def test_iterator_refuses_to_move_while_exported(bdb):
    it = bdb.iterator(buffers=True)
    _, v = next(it)
    s = v[:3]
    with pytest.raises(BufferError):
        next(it)
    assert bytes(s) == b"000"
    del s
    assert next(it)[0] == b"001"  # the failed step did not move


def test_numpy_over_buffer(bdb):
    np = pytest.importorskip("numpy")
    it = bdb.iterator(buffers=True, start=b"010")
    _, v = next(it)
    a = np.frombuffer(v, dtype=np.uint8)
    assert bytes(a[:3]) == b"010"
    with pytest.raises(BufferError):
        next(it)
    del a
    assert next(it)[0] == b"011"


def test_iterator_close_with_exported_value(bdb):
    it = bdb.iterator(buffers=True)
    _, v = next(it)
    s = v[3:6]
    it.close()  # never fails: the pin keeps the engine iterator
    with pytest.raises(ValueError):
        v.tobytes()
    assert bytes(s) == b"000"
    bdb.close()  # deferred until s goes
    del s
    gc.collect()


def test_raw_iterator_buffers(bdb):
    r = bdb.raw_iterator(buffers=True)
    r.seek(b"100")
    k, v = r.item()
    k2 = r.key()
    v2 = r.value()
    assert isinstance(k, memoryview) and k == b"100" and k2 == b"100"
    assert v == v2 == b"100" * 1000
    r.next()
    for x in (k, v, k2, v2):
        with pytest.raises(ValueError):
            bytes(x)
    assert r.key() == b"101"


def test_buffers_in_reverse(bdb):
    vals = [(k, bytes(v)) for k, v in bdb.iterator(reverse=True, buffers=True, stop=b"003")]
    assert vals == [(b"%03d" % i, (b"%03d" % i) * 1000) for i in (2, 1, 0)]


def test_pin_not_exportable_after_release(bdb):
    v = bdb.get(b"001", buffers=True)
    pin = v.obj
    bdb.close()
    with pytest.raises(BufferError):
        memoryview(pin)


def test_many_buffer_gets_do_not_accumulate(bdb):
    # each dropped view frees its engine iterator at once
    for _ in range(2000):
        v = bdb.get(b"050", buffers=True)
        assert v[:3] == b"050"
    del v
