"""openleveldb's databases, both ways: records written by Debian's python3-plyvel
(LevelDB 1.23) with openleveldb's encoding -- made here from the format's
definition, the way openleveldb's serializer does -- read back through
strata.typed with the right types and values, locally and through a
strata-server serving the directory; and what strata.typed writes (locally and
remotely) is, read by plyvel, the bytes openleveldb would have written and
decodes to the values stored."""

import io
import os

import numpy as np
import pytest
import rapidjson

from strata.typed import LevelDB

from conftest import Server

plyvel = pytest.importorskip("plyvel")


def ref_encode(obj):
    """openleveldb's encoding: functools.singledispatch over bytes, int, str,
    numpy.ndarray, and JSON (python-rapidjson) for the rest."""
    if isinstance(obj, bytes):
        return b"b" + obj
    if isinstance(obj, int):
        return b"i" + int.to_bytes(obj, 16, "big", signed=True)
    if isinstance(obj, str):
        return b"s" + obj.encode("utf-8")
    if isinstance(obj, np.ndarray):
        f = io.BytesIO()
        np.save(f, obj)
        return b"n" + f.getvalue()
    return b"j" + rapidjson.dumps(obj).encode("utf-8")


def ref_decode(blob):
    tag, payload = blob[:1], blob[1:]
    if tag == b"b":
        return payload
    if tag == b"i":
        return int.from_bytes(payload, "big", signed=True)
    if tag == b"s":
        return payload.decode("utf-8")
    if tag == b"n":
        return np.load(io.BytesIO(payload))
    if tag == b"j":
        return rapidjson.loads(payload.decode("utf-8"))
    raise AssertionError("tag %r" % tag)


RECORDS = {
    ("users", "0001"): {"name": "Ada", "langs": ["en", "fr"], "score": 9.75, "ok": True},
    ("users", "0002"): {"name": "Gödel", "n": None, "big": 2 ** 64 + 1},
    ("count",): 42,
    ("neg",): -(2 ** 120),
    ("bool",): True,
    ("text",): "naïve café ✓",
    ("empty",): "",
    ("raw",): b"\x00\x01\xfe\xff",
    ("float",): 6.02214076e23,
    ("vec", "a"): np.arange(10, dtype=np.int64),
    ("vec", "b"): np.linspace(0, 1, 12, dtype=np.float64).reshape(3, 4),
    ("vec", "c"): np.array([1.5, 2.5], dtype=np.float16),
    ("vec", "d"): np.array([(1, b"ab")], dtype=[("i", "<i2"), ("s", "S2")]),
    ("vec", "f"): np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
}


def key_bytes(parts):
    return "".join(parts).encode("utf-8")


def expect(value):
    return int(value) if isinstance(value, bool) else value


def check_typed(db):
    assert len(db) == len(RECORDS)
    for parts, value in RECORDS.items():
        got = db[parts]
        want = expect(value)
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape
            assert np.array_equal(got, value)
        else:
            assert type(got) is type(want) and got == want, parts
    users = db["users", ...]
    assert [k for k, _ in users] == ["0001", "0002"]
    assert db.prefixed_len("vec") == 5


def write_with_plyvel(path):
    p = plyvel.DB(path, create_if_missing=True)
    try:
        with p.write_batch() as wb:
            for parts, value in RECORDS.items():
                wb.put(key_bytes(parts), ref_encode(value))
    finally:
        p.close()


def check_with_plyvel(path):
    p = plyvel.DB(path)
    try:
        got = dict(p)
    finally:
        p.close()
    assert set(got) == {key_bytes(parts) for parts in RECORDS}
    for parts, value in RECORDS.items():
        blob = got[key_bytes(parts)]
        assert blob == ref_encode(value), parts  # openleveldb's bytes
        back = ref_decode(blob)
        if isinstance(value, np.ndarray):
            assert back.dtype == value.dtype and np.array_equal(back, value)
        else:
            assert back == expect(value)


def write_typed(db):
    with db.batch() as b:
        for parts, value in list(RECORDS.items())[::2]:
            b[parts] = value
    for parts, value in list(RECORDS.items())[1::2]:
        db[parts] = value


def test_plyvel_written_database_reads_back_locally(tmp_dir):
    path = os.path.join(tmp_dir, "db")
    write_with_plyvel(path)
    with LevelDB(path, read_only=True) as db:
        check_typed(db)
    with LevelDB(path) as db:
        check_typed(db)


def test_plyvel_written_database_reads_back_through_a_server(tmp_dir):
    path = os.path.join(tmp_dir, "db")
    write_with_plyvel(path)
    srv = Server(path)
    try:
        with LevelDB(path, srv.url) as db:
            check_typed(db)
    finally:
        assert srv.stop() == 0


def test_local_writes_read_by_plyvel(tmp_dir):
    path = os.path.join(tmp_dir, "db")
    with LevelDB(path) as db:
        write_typed(db)
    check_with_plyvel(path)


def test_remote_writes_read_by_plyvel(tmp_dir):
    path = os.path.join(tmp_dir, "db")
    srv = Server(path)
    try:
        with LevelDB(path, srv.url) as db:
            write_typed(db)
    finally:
        assert srv.stop() == 0  # the server closed the database: plyvel may open it
    check_with_plyvel(path)
