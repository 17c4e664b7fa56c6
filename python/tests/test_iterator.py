"""Iterators: plyvel's range semantics (start/stop/include_*/prefix/reverse,
next/prev/seek/seek_to_start/seek_to_stop) checked against a sorted-list model
with Hypothesis, raw iterators, and invalidation."""

import bisect

import pytest
from hypothesis import given, settings, strategies as st

import strata

from conftest import scaled

KEYS = [b"", b"a", b"ab", b"b", b"ba", b"c", b"d\xff", b"e", b"\xff", b"\xff\xff"]


def model_range(keys, start, stop, include_start, include_stop, prefix):
    """The keys an iterator's range holds, in order (the documented rules)."""
    if prefix is not None:
        return [k for k in keys if k.startswith(prefix)]
    out = []
    for k in keys:
        if start is not None and (k < start or (k == start and not include_start)):
            continue
        if stop is not None and (k > stop or (k == stop and not include_stop)):
            continue
        out.append(k)
    return out


class Model:
    """A plyvel iterator over `rng` as a position between entries."""

    def __init__(self, rng, reverse):
        self.rng, self.reverse = rng, reverse
        self.pos = len(rng) if reverse else 0  # index of the gap

    def _next(self):
        if self.pos >= len(self.rng):
            return None
        self.pos += 1
        return self.rng[self.pos - 1]

    def _prev(self):
        if self.pos <= 0:
            return None
        self.pos -= 1
        return self.rng[self.pos]

    def next(self):
        return self._prev() if self.reverse else self._next()

    def prev(self):
        return self._next() if self.reverse else self._prev()

    def seek(self, target):
        self.pos = bisect.bisect_left(self.rng, target)

    def seek_to_start(self):
        self.pos = 0

    def seek_to_stop(self):
        self.pos = len(self.rng)


@pytest.fixture(scope="module")
def kdb(tmp_path_factory):
    d = strata.DB(str(tmp_path_factory.mktemp("it") / "db"), create_if_missing=True)
    for k in KEYS:
        d.put(k, b"v" + k)
    d.delete(b"gone")
    yield d
    d.close()


bound = st.one_of(st.none(), st.sampled_from(KEYS + [b"aa", b"bb", b"z", b"\xff\x00"]))
ops = st.lists(st.sampled_from(["next", "prev", "seek", "seek_to_start", "seek_to_stop"]),
               max_size=12)


@settings(max_examples=scaled(400, 50), deadline=None)
@given(start=bound, stop=bound, include_start=st.booleans(), include_stop=st.booleans(),
       use_prefix=st.booleans(), prefix=st.sampled_from([b"", b"a", b"b", b"\xff", b"x"]),
       reverse=st.booleans(), ops=ops, targets=st.lists(st.sampled_from(KEYS + [b"aa", b"z"]),
                                                       min_size=12, max_size=12),
       buffers=st.booleans())
def test_iterator_matches_model(kdb, start, stop, include_start, include_stop, use_prefix,
                                prefix, reverse, ops, targets, buffers):
    if use_prefix:
        kw = dict(prefix=prefix)
        rng = model_range(KEYS, None, None, True, False, prefix)
    else:
        kw = dict(start=start, stop=stop, include_start=include_start,
                  include_stop=include_stop)
        rng = model_range(KEYS, start, stop, include_start, include_stop, None)
    it = kdb.iterator(reverse=reverse, buffers=buffers, **kw)
    m = Model(rng, reverse)
    for op, target in zip(ops, targets):
        if op in ("next", "prev"):
            expect = getattr(m, op)()
            try:
                got = next(it) if op == "next" else it.prev()
            except StopIteration:
                got = None
            if got is not None:
                k, v = got
                assert bytes(v) == b"v" + k
                got = k
            assert got == expect, (op, kw, reverse)
        elif op == "seek":
            it.seek(target)
            # seek clamps into the range
            m.seek(target)
        else:
            getattr(it, op)()
            getattr(m, op)()
    # what is left, in the iterator's direction
    rest = [k for k, _ in it]
    expect = []
    while (e := m.next()) is not None:
        expect.append(e)
    assert rest == expect
    it.close()


def test_full_forward_and_reverse(kdb):
    assert [k for k, _ in kdb.iterator()] == KEYS
    assert [k for k, _ in kdb.iterator(reverse=True)] == KEYS[::-1]


def test_include_key_value(kdb):
    assert list(kdb.iterator(include_value=False, prefix=b"a")) == [b"a", b"ab"]
    assert list(kdb.iterator(include_key=False, prefix=b"a")) == [b"va", b"vab"]
    assert list(kdb.iterator(include_key=False, include_value=False, prefix=b"a")) == [None, None]


def test_reverse_start_equal_first(kdb):
    # plyvel 1.5 returns nothing here; the documented behaviour includes start
    assert list(kdb.iterator(reverse=True, start=b"\xff\xff", include_value=False)) == [b"\xff\xff"]
    assert list(kdb.iterator(reverse=True, start=b"a", stop=b"ab",
                             include_value=False)) == [b"a"]


def test_prefix_with_start_is_an_error(kdb):
    with pytest.raises(TypeError):
        kdb.iterator(prefix=b"a", start=b"a")
    with pytest.raises(TypeError):
        kdb.iterator(start="a")
    with pytest.raises(TypeError):
        kdb.iterator(nonsense=True)
    with pytest.raises(TypeError):
        kdb.iterator(True)


def test_iterator_snapshot_semantics(db):
    db.put(b"a", b"1")
    it = db.iterator()
    db.put(b"b", b"2")
    assert list(it) == [(b"a", b"1")]


def test_context_manager_and_close(db):
    db.put(b"a", b"1")
    with db.iterator() as it:
        assert next(it) == (b"a", b"1")
    for call in (lambda: next(it), it.prev, it.seek_to_start, it.seek_to_stop,
                 lambda: it.seek(b"a")):
        with pytest.raises(strata.ClosedError):
            call()
    it.close()


def test_close_db_invalidates_iterators(db):
    for i in range(100):
        db.put(b"%03d" % i, b"x")
    its = [db.iterator(), db.raw_iterator(), db.iterator(reverse=True)]
    next(its[0])
    its[1].seek_to_first()
    db.close()
    with pytest.raises(strata.ClosedError):
        next(its[0])
    with pytest.raises(strata.ClosedError):
        its[1].key()
    with pytest.raises(strata.ClosedError):
        its[2].prev()


def test_raw_iterator(db):
    for k in (b"a", b"b", b"c"):
        db.put(k, k.upper())
    r = db.raw_iterator()
    assert not r.valid()
    with pytest.raises(strata.IteratorInvalidError):
        r.key()
    with pytest.raises(strata.IteratorInvalidError):
        r.next()
    with pytest.raises(strata.IteratorInvalidError):
        r.prev()
    with pytest.raises(strata.IteratorInvalidError):
        r.item()
    r.seek_to_first()
    assert r.item() == (b"a", b"A")
    r.next()
    assert r.key() == b"b" and r.value() == b"B"
    r.prev()
    assert r.key() == b"a"
    r.prev()
    assert not r.valid()
    r.seek_to_last()
    assert r.key() == b"c"
    r.next()
    assert not r.valid()
    r.seek(b"bb")
    assert r.key() == b"c"
    r.seek(b"zz")
    assert not r.valid()
    with pytest.raises(TypeError):
        r.seek("a")
    with r:
        pass
    with pytest.raises(strata.ClosedError):
        r.valid()


def test_deleted_and_overwritten_hidden(db):
    for i in range(1000):
        db.put(b"%04d" % i, b"old")
    for i in range(0, 1000, 2):
        db.delete(b"%04d" % i)
    for i in range(1, 1000, 4):
        db.put(b"%04d" % i, b"new")
    got = dict(db.iterator())
    assert len(got) == 500
    assert got[b"0001"] == b"new" and got[b"0003"] == b"old"


def test_iterator_thread_busy_guard(db):
    # an iterator used from two threads at once: the second gets RuntimeError or
    # waits its turn; never a crash. (Sequential use from several threads is fine.)
    import threading
    for i in range(2000):
        db.put(b"%05d" % i, b"x" * 10)
    it = db.iterator()
    errors = []

    def run():
        try:
            for _ in it:
                pass
        except RuntimeError as e:
            errors.append(e)
    ts = [threading.Thread(target=run) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for e in errors:
        assert "another thread" in str(e)


@pytest.fixture(scope="module")
def bigdb(tmp_path_factory):
    """3000 keys, some values large enough to overflow a read-ahead batch."""
    d = strata.DB(str(tmp_path_factory.mktemp("big") / "db"), create_if_missing=True,
                  write_buffer_size=256 << 10)
    keys = []
    for i in range(3000):
        k = b"%05d" % (i * 3)
        size = 70000 if i % 997 == 5 else (i % 50)
        d.put(k, k * (size // 5 + 1))
        keys.append(k)
    d.compact_range(stop=b"04000")  # part in tables, part in the memtable
    yield d, keys
    d.close()


@settings(max_examples=scaled(150, 30), deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["next"] * 6 + ["prev"] * 3 + ["seek", "start",
                                                                               "stop"]),
                              st.integers(0, 9100)), max_size=400),
       reverse=st.booleans(), include_value=st.booleans(),
       lo=st.one_of(st.none(), st.integers(0, 9100)), hi=st.one_of(st.none(), st.integers(0, 9100)))
def test_long_walks_match_model(bigdb, ops, reverse, include_value, lo, hi):
    # Long runs one way (the read-ahead fills) broken by turns and seeks (its resyncs).
    db, keys = bigdb
    start = None if lo is None else b"%05d" % lo
    stop = None if hi is None else b"%05d" % hi
    rng = model_range(keys, start, stop, True, False, None)
    it = db.iterator(reverse=reverse, start=start, stop=stop, include_value=include_value)
    m = Model(rng, reverse)
    for op, n in ops:
        if op == "seek":
            it.seek(b"%05d" % n)
            m.seek(b"%05d" % n)
            continue
        if op in ("start", "stop"):
            getattr(it, "seek_to_" + op)()
            getattr(m, "seek_to_" + op)()
            continue
        expect = getattr(m, op)()
        try:
            got = next(it) if op == "next" else it.prev()
        except StopIteration:
            got = None
        if include_value and got is not None:
            k, v = got
            assert v[:5] == k
            got = k
        assert got == expect
