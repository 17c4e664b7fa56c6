"""strata.typed.LevelDB (openleveldb's typed object store): every test runs four
times with the same expectations -- a local store and a remote one (a
strata-server on loopback, started by the session), each read-write and
read-only.

A read-only store is paired with a writer on the same data (another LevelDB of
the path, or of the server): a test writes through `s.write(fn)`, which runs
fn on the store under test when it is writable, and otherwise checks that fn
raises io.UnsupportedOperation there and runs it on the writer instead. The
reads that follow expect the same results in all four modes."""

import gc
import io
import math
import pickle
import socket
import threading

import numpy as np
import pytest

import strata
from strata.typed import LevelDB, encode

from conftest import scaled

MODES = ["local", "local-ro", "remote", "remote-ro"]


class Store:
    """db: the store under test; w: a writable store of the same data (db itself
    when db is writable); raw: the same records through the low-level API
    (strata.DB or strata.connect)."""

    def __init__(self, mode, path, server):
        self.mode = mode
        self.remote = mode.startswith("remote")
        self.ro = mode.endswith("-ro")
        if self.remote:
            server.flush()
            # openleveldb's form: the path and the address (the path is checked
            # against the directory the server serves)
            self.db = LevelDB(server.dir, server.url, read_only=self.ro)
            self.w = LevelDB(None, server.url) if self.ro else self.db
            self.raw = strata.connect(server.url)
        else:
            # read-only first: the path has no database yet, and read_only creates
            # it as openleveldb does; the writer then gets a handle of its own and
            # the read-only store (an engine read-only handle) sees its writes
            # after catch_up()
            self.db = LevelDB(path, read_only=self.ro)
            self.w = LevelDB(path) if self.ro else self.db
            self.raw = self.w._db
        assert self.db.read_only == self.ro

    def sync(self):
        """Makes the writer's writes visible to db (a local read-only store
        catches up; the others see them at once)."""
        if self.ro and not self.remote:
            self.db.catch_up()

    def write(self, fn):
        """fn(store) on db, or (read-only) refused on db and run on the writer."""
        if self.ro:
            with pytest.raises(io.UnsupportedOperation, match="not writable"):
                fn(self.db)
            fn(self.w)
            self.sync()
        else:
            fn(self.db)

    def put_raw(self, key, value):
        self.raw.put(key, value)
        self.sync()

    def close(self):
        if self.remote:
            self.raw.close()
        for d in {id(self.db): self.db, id(self.w): self.w}.values():
            d.close()


@pytest.fixture(params=MODES)
def s(request, tmp_dir):
    server = request.getfixturevalue("server") if request.param.startswith("remote") else None
    st = Store(request.param, tmp_dir + "/db", server)
    try:
        yield st
    finally:
        st.close()


def setitems(pairs):
    def fn(d):
        for k, v in pairs:
            d[k] = v
    return fn


def same(a, b):
    """Equal values, arrays compared by dtype, shape and elements, NaN equal to NaN."""
    if isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and
                bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    return type(a) is type(b) and a == b


# Every type and its edges; what each reads back as.
VALUES = [
    ("int", 42, 42), ("neg", -(10 ** 20), -(10 ** 20)), ("big", 2 ** 120 + 7, 2 ** 120 + 7),
    ("min", -2 ** 127, -2 ** 127), ("zero", 0, 0), ("true", True, 1), ("false", False, 0),
    ("str", "héllo wörld ✓ 𝄞", "héllo wörld ✓ 𝄞"), ("estr", "", ""),
    ("bytes", b"\x00\xff\x80raw", b"\x00\xff\x80raw"), ("ebytes", b"", b""),
    ("float", 1.5e-300, 1.5e-300), ("ffloat", -2.5e+17, -2.5e+17), ("nan", float("nan"), float("nan")),
    ("inf", float("inf"), float("inf")), ("none", None, None),
    ("dict", {"a": [1, 2.5, {"b": None}], "ü": "x"}, {"a": [1, 2.5, {"b": None}], "ü": "x"}),
    ("list", [1, "two", [3.0]], [1, "two", [3.0]]), ("tuple", (1, 2), [1, 2]),
    ("edict", {}, {}),
    ("f64", np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)),
    ("f16", np.array([1.5, -2, 65504], dtype=np.float16),
     np.array([1.5, -2, 65504], dtype=np.float16)),
    ("i64", np.array([-(2 ** 63), 2 ** 63 - 1], dtype=np.int64),
     np.array([-(2 ** 63), 2 ** 63 - 1], dtype=np.int64)),
    ("bool", np.array([[True, False]]), np.array([[True, False]])),
    ("rec", np.array([(1, 2.5), (3, -1.0)], dtype=[("a", "<i4"), ("b", ">f8")]),
     np.array([(1, 2.5), (3, -1.0)], dtype=[("a", "<i4"), ("b", ">f8")])),
    ("fort", np.asfortranarray(np.arange(12, dtype="<u2").reshape(3, 4)),
     np.arange(12, dtype="<u2").reshape(3, 4)),
    ("scalar", np.array(7.25), np.array(7.25)), ("empty", np.zeros((0, 3)), np.zeros((0, 3))),
]


# -- point operations -----------------------------------------------------------

def test_missing_key_reads_none(s):
    assert s.db["nope"] is None
    assert s.db["a", "b", "nope"] is None
    assert s.db.get("nope") is None
    assert s.db.get("nope", 17) == 17
    assert "nope" not in s.db
    assert len(s.db) == 0 and list(s.db) == []


def test_every_type_round_trips(s):
    s.write(setitems([(k, v) for k, v, _ in VALUES]))
    for k, _, want in VALUES:
        got = s.db[k]
        assert same(got, want), (k, got, want)
        assert same(s.db.get(k), want)
        assert k in s.db
    # the records hold openleveldb's bytes
    for k, v, _ in VALUES:
        assert s.raw.get(k.encode()) == encode(v), k
    # iteration decodes the same
    got = dict(s.db)
    assert sorted(got) == sorted(k for k, _, _ in VALUES)
    for k, _, want in VALUES:
        assert same(got[k], want), k


def test_arrays_come_back_writable_and_buffers_come_back_read_only(s):
    a = np.arange(1000, dtype="<f8").reshape(10, 100)
    s.write(setitems([("a", a), ("b", b"raw bytes"), ("i", 5)]))
    back = s.db["a"]
    assert back.flags.writeable and (back == a).all()
    back[0, 0] = -1  # a copy: the store is unchanged
    assert s.db["a"][0, 0] == 0
    view = s.db.get("a", buffers=True)
    assert not view.flags.writeable and (view == a).all() and view.shape == (10, 100)
    with pytest.raises(ValueError):
        view[0, 0] = 1
    mv = s.db.get("b", buffers=True)
    assert isinstance(mv, memoryview) and mv.readonly and bytes(mv) == b"raw bytes"
    assert s.db.get("i", buffers=True) == 5
    assert s.db.get("missing", "d", buffers=True) == "d"


def test_key_parts_concatenate(s):
    s.write(setitems([(("prefix1", "prefix2", "prefix2", "key"), "v1")]))
    assert s.db["prefix1prefix2prefix2key"] == "v1"
    assert s.db["prefix1", "prefix2prefix2", "key"] == "v1"
    assert s.db[["prefix1", "prefix2", "prefix2", "key"]] == "v1"
    assert s.raw.get(b"prefix1prefix2prefix2key") == b"sv1"
    s.write(setitems([("prefix1prefix2prefix2key", "v2")]))
    assert s.db["prefix1", "prefix2", "prefix2", "key"] == "v2"

    def delete(d):
        del d["prefix1", "prefix2", "prefix2", "key"]
        del d["never", "there"]  # a missing key is fine
    s.write(delete)
    assert len(s.db) == 0


@pytest.mark.parametrize("bad", [b"key", 0, 354.342, None, object()])
def test_key_parts_must_be_str(s, bad):
    name = type(bad).__name__
    msg = "str prefix or key expected, got %s" % name
    for key in (bad, ("_", "_", bad), ("_", bad, "_"), (bad, "_", "_")):
        with pytest.raises(TypeError, match=msg):
            s.db[key]
        with pytest.raises(TypeError, match=msg):
            s.db.get(key)
        with pytest.raises(TypeError, match=msg):
            key in s.db
        with pytest.raises(TypeError, match=msg):
            s.w[key] = 1
        with pytest.raises(TypeError, match=msg):
            del s.w[key]
    for key in (..., ("_", "_", ...)):
        with pytest.raises(TypeError, match="str prefix or key expected, got ellipsis"):
            s.w[key] = 1
    with pytest.raises(TypeError, match="got ellipsis"):
        s.w["_", ..., "_"] = 1
    with pytest.raises(TypeError, match="empty tuple"):
        s.db[()]
    assert len(s.db) == 0


def test_values_refused_before_anything_is_written(s):
    for bad, exc in ((2 ** 127, OverflowError), (-2 ** 127 - 1, OverflowError),
                     (object(), TypeError), ({1: 2}, TypeError),
                     (np.array([{}], dtype=object), ValueError), ("\ud800", UnicodeEncodeError)):
        with pytest.raises(exc):
            s.w["k"] = bad
    assert len(s.db) == 0 and s.db["k"] is None


def test_undecodable_values_name_their_key(s):
    s.put_raw(b"user/1", b"")
    s.put_raw(b"user/2", b"x???")
    s.put_raw(b"user/3", b"j{broken")
    s.put_raw(b"user/4", b"i" + (7).to_bytes(16, "big"))
    for k, why in (("user/1", "empty"), ("user/2", "unknown type tag 'x'"), ("user/3", "JSON")):
        with pytest.raises(strata.DecodeError, match=why) as e:
            s.db[k]
        assert "user/%s" % k[-1] in str(e.value) and e.value.key == k.encode()
    # len, in and key-only iteration read no values
    assert len(s.db) == 4 and "user/1" in s.db
    assert list(s.db.keys()) == ["user/1", "user/2", "user/3", "user/4"]
    assert s.db.prefixed_len("user/") == 4
    with pytest.raises(strata.DecodeError, match="user/1"):
        list(s.db)
    assert s.db["user/4"] == 7
    # a key that is not UTF-8 (not written by openleveldb) fails key iteration, by name
    s.put_raw(b"\xff\xfe", b"i" + bytes(16))
    with pytest.raises(strata.DecodeError, match="not UTF-8"):
        list(s.db.prefixed_iter(starting_by="", include_value=False))


# -- views, iteration, prefixed_iter ---------------------------------------------

DOC = [(("a", "1"), "value1"), (("b", "1"), "value2"), (("b", "2"), "value3"),
       (("c", "1"), "value4")]


def test_openleveldb_documented_iteration(s):
    s.write(setitems(DOC))
    db = s.db
    assert list(db) == [("a1", "value1"), ("b1", "value2"), ("b2", "value3"), ("c1", "value4")]
    assert len(db) == 4
    assert list(db.prefixed_iter(include_key=False, include_value=False)) == [None] * 4
    assert list(db.prefixed_iter(include_key=True, include_value=False)) == \
        ["a1", "b1", "b2", "c1"]
    assert list(db.prefixed_iter(include_key=False, include_value=True)) == \
        ["value1", "value2", "value3", "value4"]
    assert list(db.prefixed_iter(prefixes=["b"])) == [("1", "value2"), ("2", "value3")]
    assert list(db.prefixed_iter(prefixes=["b", "1"])) == [("", "value2")]
    assert list(db.prefixed_iter(starting_by="b")) == [("b1", "value2"), ("b2", "value3")]
    assert list(db.prefixed_iter(starting_by=["b", "1"])) == [("b1", "value2")]
    assert list(db.prefixed_iter(prefixes="b", starting_by="2")) == [("2", "value3")]
    assert db.prefixed_len(prefixes=["b"]) == 2
    assert db.prefixed_len(prefixes=["b", "1"]) == 1
    assert db.prefixed_len(starting_by="c") == 1
    assert db.prefixed_len(prefixes=[]) == 4 and db.prefixed_len("") == 4
    assert db.prefixed_len("d") == 0 and list(db.prefixed_iter("d")) == []
    assert db["a1"] == db["a", "1"] == "value1"
    with pytest.raises(TypeError, match="got int"):
        db.prefixed_iter(prefixes=[1])
    with pytest.raises(TypeError, match="got bytes"):
        db.prefixed_len(starting_by=b"b")


def test_views_nest_and_share_the_database(s):
    s.write(setitems(DOC + [(("b", "x", "y"), 9)]))
    b = s.db["b", ...]
    assert b.prefix == "b" and b.read_only == s.ro
    assert b["1"] == "value2" and b["x", "y"] == 9 and b["nope"] is None
    assert list(b) == [("1", "value2"), ("2", "value3"), ("xy", 9)]
    assert len(b) == 3 and "2" in b and "b2" not in b
    assert list(b.keys()) == ["1", "2", "xy"]
    assert list(b.values(reverse=True)) == [9, "value3", "value2"]
    assert list(b.items(reverse=True))[0] == ("xy", 9)
    bx = b["x", ...]
    assert bx.prefix == "bx" and list(bx) == [("y", 9)] and len(bx) == 1
    assert list(s.db["b", "x", ...]) == list(bx)
    assert list(b.prefixed_iter(prefixes="x")) == [("y", 9)]
    assert list(b.prefixed_iter(starting_by="x")) == [("xy", 9)]
    assert list(s.db["zzz", ...]) == [] and len(s.db["zzz", ...]) == 0
    assert len(s.db[...]) == 5  # a view of everything

    def through_view(d):
        v = d["b", ...]
        v["3"] = "value5"
        del v["1"]
        v["x", ...]["z"] = 10
    s.write(through_view)
    assert list(s.db.keys()) == ["a1", "b2", "b3", "bxy", "bxz", "c1"]
    assert b["3"] == "value5" and bx["z"] == 10


def test_a_view_outlives_the_name_of_its_store(s):
    # openleveldb's README rebinds the name: db = db["prefix", ...]
    s.write(setitems([(("prefix", "key"), np.array([1, 2, 3], dtype=np.int8))]))
    if s.ro:
        view = LevelDB(s.db.db_path, s.db.server_address, read_only=True)["prefix", ...]
    else:
        view = LevelDB(s.db.db_path, s.db.server_address)["prefix", ...]
    gc.collect()
    assert view["key"].tolist() == [1, 2, 3] and view["key"].dtype == np.int8
    view.close()  # a view's close does nothing
    assert len(view) == 1


def test_order_is_the_utf8_byte_order(s):
    keys = ["", "a", "a\x00", "ab", "b", "z", "é", "ö", "中", "😀", "\x7f", " "]
    s.write(setitems([(k, i) for i, k in enumerate(keys)]))
    want = sorted(keys, key=lambda k: k.encode())
    assert list(s.db.keys()) == want
    assert list(s.db.keys(reverse=True)) == want[::-1]
    assert [k for k, _ in s.db] == want
    assert s.db[""] == 0 and "" in s.db
    assert list(s.db["a", ...].keys()) == ["", "\x00", "b"]
    assert list(s.db.prefixed_iter(prefixes="a", reverse=True, include_value=False)) == \
        ["b", "\x00", ""]
    assert len(s.db) == len(keys)


def test_many_keys_and_big_values_page_through(s):
    n = scaled(3000, 1200)
    s.write(setitems([(("k", "%06d" % i), {"i": i}) for i in range(n)] +
                     [(("big", "%d" % i), np.full(40000, i, dtype="<f8")) for i in range(12)]))
    got = list(s.db["k", ...])
    assert len(got) == n and got[0] == ("000000", {"i": 0}) and got[-1] == ("%06d" % (n - 1),
                                                                            {"i": n - 1})
    assert [v["i"] for v in s.db["k", ...].values(reverse=True)] == list(range(n))[::-1]
    assert s.db.prefixed_len("k") == n and len(s.db) == n + 12
    assert sum(1 for _ in s.db.prefixed_iter(include_key=False, include_value=False)) == n + 12
    big = list(s.db.prefixed_iter("big"))
    assert [k for k, _ in big] == sorted("%d" % i for i in range(12))
    assert all((a == int(k)).all() and a.shape == (40000,) for k, a in big)


# -- batches and transactions -----------------------------------------------------

def test_batch_is_all_or_nothing(s):
    s.write(setitems([("keep", 1), ("gone", 2)]))

    class Boom(Exception):
        pass

    def failing(d):
        with pytest.raises(Boom):
            with d.batch() as b:
                b["new"] = 1
                del b["keep"]
                raise Boom
    s.write(failing)
    assert s.db["keep"] == 1 and s.db["new"] is None

    def bad_value(d):
        with pytest.raises(TypeError):
            with d.batch() as b:
                b["new"] = 1
                b["bad"] = object()  # refused here: the block raises, nothing is written
    s.write(bad_value)
    assert s.db["new"] is None

    def good(d):
        with d.batch() as b:
            b["a", "1"] = "x"
            users = b["u", ...]
            users["1"] = {"n": 1}
            del b["gone"]
            b.update({"m1": 1}, m2=2.5)
            assert len(b) == 5
            assert d["a1"] is None  # not before the end of the block
        d.update([("m3", [3])])
    s.write(good)
    assert dict(s.db) == {"a1": "x", "keep": 1, "m1": 1, "m2": 2.5, "m3": [3], "u1": {"n": 1}}
    with pytest.raises(TypeError, match="write-only"):
        s.w.batch()["a1"]

    def explicit(d):
        b = d.batch()
        b["e"] = 1
        b.clear()
        b["f"] = 2
        b.write()
        assert len(b) == 0
    s.write(explicit)
    assert s.db["e"] is None and s.db["f"] == 2


def test_transaction_reads_its_writes_and_commits_together(s):
    s.write(setitems([("count", 41), ("p", "x")]))

    def txn(d):
        with d.transaction() as t:
            t["count"] = t["count"] + 1
            assert t["count"] == 42 and t.get("missing", "d") == "d"
            assert "count" in t and "missing" not in t
            del t["p"]
            assert "p" not in t and t["p"] is None
            t["q", ...]["1"] = [1]
    s.write(txn)
    assert s.db["count"] == 42 and s.db["p"] is None and s.db["q1"] == [1]

    def aborted(d):
        with pytest.raises(KeyError):
            with d.transaction() as t:
                t["count"] = 0
                raise KeyError
    s.write(aborted)
    assert s.db["count"] == 42


def test_transaction_conflict_writes_nothing(s):
    s.write(setitems([("n", 1)]))
    other = LevelDB(s.w.db_path, s.w.server_address) if s.remote else s.w

    def conflicting(d):
        t = d.transaction()
        assert t["n"] == 1
        other["n"] = 5  # after the read: the commit must fail
        t["n"] = 2
        t["m"] = 3
        with pytest.raises(strata.ConflictError):
            t.commit()
    try:
        s.write(conflicting)
    finally:
        if other is not s.w:
            other.close()
    s.sync()
    assert s.db["n"] == 5 and s.db["m"] is None


def test_read_only_refuses_every_write(s):
    s.write(setitems([("k", 1)]))
    if not s.ro:
        return
    db = s.db
    for fn in (lambda: db.__setitem__("k", 2), lambda: db.__delitem__("k"), db.batch,
               db.transaction, lambda: db.update({"k": 2}),
               lambda: db["x", ...].__setitem__("y", 1)):
        with pytest.raises(io.UnsupportedOperation, match="not writable"):
            fn()
    assert db["k"] == 1 and len(db) == 1


# -- snapshots, close, threads, pickling -----------------------------------------

def test_snapshot(s):
    s.write(setitems([("a", 1), ("b", 2)]))
    if s.remote:
        with pytest.raises(strata.NotSupportedError, match="snapshot"):
            s.db.snapshot()
        return
    with s.db.snapshot() as snap:
        s.w["a"] = 10
        del s.w["b"]
        s.w["c"] = 3
        s.sync()
        assert snap["a"] == 1 and snap["b"] == 2 and "c" not in snap
        assert list(snap) == [("a", 1), ("b", 2)] and len(snap) == 2
        assert snap.read_only
        with pytest.raises(io.UnsupportedOperation):
            snap["a"] = 5
        v = snap["a", ...]
        v.close()  # a view's close leaves the snapshot open
        assert not snap.closed and v[""] == 1
    assert snap.closed
    assert dict(s.db) == {"a": 10, "c": 3}


def test_close_and_context_manager(s):
    s.write(setitems([("k", 1)]))
    path, addr = s.db.db_path, s.db.server_address
    with LevelDB(path, addr, read_only=s.ro) as d:
        v = d["k", ...]
        assert d["k"] == 1 and not d.closed
    # a closed store and its views refuse every call; the other stores of the
    # path (or the server) go on
    assert d.closed and v.closed
    for fn in (lambda: d["k"], lambda: v[""], lambda: v.get(""), lambda: len(v),
               lambda: list(v), lambda: "" in v):
        with pytest.raises(strata.ClosedError):
            fn()
    assert s.db["k"] == 1
    d.close()  # harmless twice
    s.close()
    for fn in (lambda: s.db["k"], lambda: len(s.db), lambda: list(s.db), lambda: "k" in s.db):
        with pytest.raises(strata.ClosedError):
            fn()
    assert s.db.closed


def test_threads_share_a_store(s):
    n = scaled(300, 100)
    errors = []

    def work(t):
        try:
            for i in range(n):
                s.w["t%d" % t, "%04d" % i] = [t, i]
                if i % 50 == 0:
                    s.sync()
                    s.db.get("t%d%04d" % (t, i // 2))
                    len(s.db["t%d" % t, ...])
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s.sync()
    assert len(s.db) == 4 * n
    for t in range(4):
        assert [v for _, v in s.db["t%d" % t, ...]] == [[t, i] for i in range(n)]


def test_pickling(s):
    s.write(setitems([(("p", "k"), 1)]))
    if not s.remote:
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(s.db)
        return
    for d in (s.db, s.db["p", ...]):
        back = pickle.loads(pickle.dumps(d))
        try:
            assert back.prefix == d.prefix and back.read_only == d.read_only
            assert list(back) == list(d)
        finally:
            back.close()
    assert s.db["pk"] == 1  # the copies' close left this one open


def test_construction_errors(server, tmp_dir):
    with pytest.raises(ValueError, match="serves"):
        LevelDB(tmp_dir + "/elsewhere", server.url)  # not the directory the server serves
    with pytest.raises(ValueError, match="HTTP address"):
        LevelDB(tmp_dir, "http://127.0.0.1:5000")  # openleveldb's Flask server
    with pytest.raises(TypeError, match="dbconnector"):
        LevelDB(tmp_dir, dbconnector=object())
    with pytest.raises(TypeError, match="needs db_path"):
        LevelDB(None)
    with pytest.raises(TypeError, match="local databases only"):
        LevelDB(None, server.url, lru_cache_size=1 << 20)
    with pytest.raises(strata.InvalidArgumentError):
        LevelDB(tmp_dir + "/missing", create_if_missing=False)
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        dead = so.getsockname()[1]
    with pytest.raises(strata.IOError):
        LevelDB(None, "redis://127.0.0.1:%d" % dead)
    d = LevelDB(None, server.url + "/5")  # another of the server's databases
    try:
        d["k"] = 1
        with LevelDB(None, server.url) as d0:
            assert d0["k"] is None and d["k"] == 1
    finally:
        d.close()
