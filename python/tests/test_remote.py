"""strata.connect(): strata.DB's methods over a strata-server (RESP), checked
against a local strata.DB holding the same records -- iteration bounds, prefixes
and direction (paged through PKSCANRANGE / PKRSCANRANGE), batches (MULTI/EXEC),
transactions (WATCH), read_only, errors, fork and pickling."""

import os
import pickle
import socket

import pytest
from hypothesis import given, settings, strategies as st

import strata
from strata import remote

from conftest import Server, scaled


@pytest.fixture
def r(server):
    server.flush()
    db = strata.connect(server.url)
    try:
        yield db
    finally:
        db.close()


def test_point_operations(r):
    assert r.get(b"k") is None and r.get(b"k", b"d") == b"d" and not r.exists(b"k")
    r.put(b"k", b"v")
    r.put(b"", b"empty key")
    r.put(b"\x00\xff", bytearray(b"\x00binary\r\n"))
    r.put(b"m", memoryview(b"mv"))
    assert r.get(b"k") == b"v" and r.exists(b"k")
    assert r.get(b"") == b"empty key"
    assert r.get(b"\x00\xff") == b"\x00binary\r\n"
    assert r.get_many([b"k", b"nope", b"m"]) == [b"v", None, b"mv"]
    assert r.get_many([]) == []
    r.delete(b"k")
    r.delete(b"never")
    assert r.get(b"k") is None
    big = os.urandom(3 << 20)
    r.put(b"big", big)
    assert r.get(b"big") == big
    r.ping()
    with pytest.raises(TypeError, match="key must be bytes"):
        r.get("str")
    with pytest.raises(TypeError, match="value must be a bytes-like"):
        r.put(b"k", 5)


def test_records_are_the_server_databases_own(tmp_dir):
    # what strata.DB sees in the directory once the server stopped is what the
    # client wrote
    path = os.path.join(tmp_dir, "db")
    other = Server(path)
    try:
        c = strata.connect(other.url)
        c.put(b"x", b"y")
        with c.write_batch() as wb:
            wb.put(b"p", b"q")
            wb.delete(b"x")
        c.close()
    finally:
        assert other.stop() == 0
    with strata.DB(path) as db:
        assert list(db) == [(b"p", b"q")]


# keys of few distinct bytes (so that bounds and prefixes meet keys), 0x00 and 0xff included
KEYS = st.lists(st.sampled_from(b"\x00ab\xff"), max_size=4).map(bytes)
BOUND = st.none() | KEYS


QUERY = st.tuples(BOUND, BOUND, st.booleans(), st.booleans(), st.booleans(),
                  st.sampled_from(["range", "prefix"]),
                  st.sampled_from([(1, 1), (1, 0), (0, 1), (0, 0)]))


@settings(max_examples=scaled(40, 15), deadline=None)
@given(st.sets(KEYS, max_size=40), st.lists(QUERY, min_size=1, max_size=12),
       st.sampled_from([(1, 1), (1, 3), (2, 8), (16, 1024)]))
def test_iterator_matches_a_local_db(server, tmp_path_factory, keys, queries, pages):
    # small pages put page ends on every key: bounds, the empty key, the last page
    saved = remote.PAGE_FIRST, remote.PAGE_MAX
    remote.PAGE_FIRST, remote.PAGE_MAX = pages
    try:
        check_iterators(server, tmp_path_factory, keys, queries)
    finally:
        remote.PAGE_FIRST, remote.PAGE_MAX = saved


def check_iterators(server, tmp_path_factory, keys, queries):
    server.flush()
    path = str(tmp_path_factory.mktemp("model") / "db")
    with strata.DB(path, create_if_missing=True) as local, strata.connect(server.url) as rdb:
        with rdb.write_batch() as wb:
            for k in keys:
                local.put(k, b"v" + k)
                wb.put(k, b"v" + k)
        for start, stop, incl_start, incl_stop, reverse, how, (ik, iv) in queries:
            if how == "prefix":
                args = dict(prefix=start if start is not None else b"")
            else:
                args = dict(start=start, stop=stop, include_start=incl_start,
                            include_stop=incl_stop)
            args.update(reverse=reverse, include_key=bool(ik), include_value=bool(iv))
            assert list(rdb.iterator(**args)) == list(local.iterator(**args)), args


def test_iteration_pages_through_many_keys(r, monkeypatch):
    n = scaled(5000, 1500)
    with r.write_batch() as wb:
        for i in range(n):
            wb.put(b"k%06d" % i, b"%d" % i)
    keys = [b"k%06d" % i for i in range(n)]
    assert list(r.iterator(include_value=False)) == keys
    assert [k for k, _ in r.iterator(reverse=True)] == keys[::-1]
    assert list(r.iterator(start=b"k000100", stop=b"k000110", include_stop=True,
                           include_key=False)) == [b"%d" % i for i in range(100, 111)]
    assert list(r) == [(k, k[1:].lstrip(b"0") or b"0") for k in keys]
    # pages shrink when values are large (few bytes per page here)
    monkeypatch.setattr(remote, "PAGE_BYTES", 64)
    assert sum(1 for _ in r.iterator(prefix=b"k00")) == min(n, 10000)
    it = r.iterator()
    next(it)
    it.close()
    with pytest.raises(StopIteration):
        next(it)


def test_write_batch_is_one_multi_exec(r):
    r.put(b"old", b"1")
    wb = r.write_batch()
    wb.put(b"a", b"1")
    wb.delete(b"old")
    assert len(wb) == 2 and r.get(b"a") is None
    wb.write()
    assert len(wb) == 0 and r.get(b"a") == b"1" and r.get(b"old") is None
    with pytest.raises(RuntimeError):
        with r.write_batch(transaction=True) as wb:
            wb.put(b"t", b"1")
            raise RuntimeError
    assert r.get(b"t") is None
    with pytest.raises(RuntimeError):
        with r.write_batch() as wb:  # plyvel's rule: written anyway without transaction=True
            wb.put(b"nt", b"1")
            raise RuntimeError
    assert r.get(b"nt") == b"1"
    # a key Strata reserves is refused before anything is sent (inside EXEC the
    # server would refuse that command alone and apply the rest)
    wb = r.write_batch(transaction=True)
    wb.put(b"z", b"1")
    with pytest.raises(strata.InvalidArgumentError, match="reserved"):
        wb.put(b"\xff\xffstrata\x00x", b"1")
    with pytest.raises(strata.InvalidArgumentError, match="reserved"):
        wb.delete(b"\xff\xffstrata\x00")
    assert len(wb) == 1
    with pytest.raises(strata.InvalidArgumentError, match="reserved"):
        r.put(b"\xff\xffstrata\x00", b"1")


def test_transactions_conflict_on_what_they_read(r, server):
    r.put(b"n", b"1")
    with r.transaction() as t:
        n = int(t.get(b"n"))
        t.put(b"n", b"%d" % (n + 1))
        assert t.get(b"n") == b"2" and t.exists(b"n")
        t.delete(b"gone")
        assert not t.exists(b"gone") and t.get(b"gone", b"d") == b"d"
    assert r.get(b"n") == b"2"
    other = strata.connect(server.url)
    try:
        t = r.begin()
        t.get(b"n")
        other.put(b"n", b"99")
        t.put(b"n", b"3")
        t.put(b"m", b"3")
        with pytest.raises(strata.ConflictError, match="retry"):
            t.commit()
        assert r.get(b"n") == b"99" and r.get(b"m") is None
        with pytest.raises(strata.ClosedError):
            t.put(b"x", b"1")
        t.abort()  # harmless after the end
        # a transaction that read nothing does not conflict
        with r.transaction() as t:
            other.put(b"n", b"100")
            t.put(b"w", b"1")
        assert r.get(b"w") == b"1"
        ro = r.begin(write=False)
        assert ro.get(b"w") == b"1"
        with pytest.raises(strata.ReadOnlyError):
            ro.put(b"w", b"2")
        ro.abort()
    finally:
        other.close()


def test_read_only_and_closed(server, r):
    r.put(b"k", b"v")
    ro = strata.connect(server.url, read_only=True)
    assert ro.get(b"k") == b"v" and list(ro) == [(b"k", b"v")]
    for fn in (lambda: ro.put(b"k", b"x"), lambda: ro.delete(b"k"), ro.write_batch,
               ro.transaction):
        with pytest.raises(strata.ReadOnlyError):
            fn()
    ro.close()
    ro.close()
    assert ro.closed and "closed" in repr(ro)
    for fn in (lambda: ro.get(b"k"), ro.iterator, ro.ping):
        with pytest.raises(strata.ClosedError):
            fn()
    with pytest.raises(strata.NotSupportedError, match="snapshot"):
        r.snapshot()


def test_addresses(server):
    port = server.port
    for addr in ("redis://127.0.0.1:%d" % port, "strata://127.0.0.1:%d/0" % port,
                 "127.0.0.1:%d" % port, "redis://localhost:%d?socket_timeout=5" % port):
        with strata.connect(addr) as c:
            c.ping()
    server.flush()
    with strata.connect("redis://127.0.0.1:%d/3" % port) as d3, strata.connect(server.url) as d0:
        d3.put(b"k", b"in 3")
        assert d0.get(b"k") is None and d3.get(b"k") == b"in 3"
        assert list(d3) == [(b"k", b"in 3")] and list(d0) == []
    for bad, match in (("http://127.0.0.1:5000", "HTTP address"), ("ftp://x:1", "unknown scheme"),
                       ("redis://h:99999", "port"), ("redis://h:1/x", "database number"),
                       ("redis://h:1?nope=1", "unknown option"), (5, None)):
        with pytest.raises((ValueError, TypeError), match=match):
            strata.connect(bad)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(strata.IOError, match="cannot connect") as e:
        strata.connect("redis://127.0.0.1:%d" % dead)
    assert isinstance(e.value, OSError)


def test_auth(tmp_dir):
    srv = Server(os.path.join(tmp_dir, "db"), extra=["--requirepass", "s3cret"])
    try:
        with pytest.raises(strata.RemoteError, match="NOAUTH"):
            strata.connect(srv.url)
        with pytest.raises(strata.RemoteError):
            strata.connect("redis://:wrong@127.0.0.1:%d" % srv.port)
        with strata.connect("redis://:s3cret@127.0.0.1:%d" % srv.port) as c:
            c.put(b"k", b"v")
            assert c.get(b"k") == b"v"
        with strata.connect("redis://default:s3cret@127.0.0.1:%d/2" % srv.port) as c:
            assert c.get(b"k") is None
    finally:
        assert srv.stop() == 0


def test_server_gone_is_an_io_error(tmp_dir):
    srv = Server(os.path.join(tmp_dir, "db"))
    c = strata.connect(srv.url)
    c.put(b"k", b"v")
    assert srv.stop() == 0
    with pytest.raises(strata.IOError):
        c.get(b"k")
    c.close()


def test_pickle_and_fork(r, server):
    r.put(b"k", b"v")
    back = pickle.loads(pickle.dumps(strata.connect(server.url, read_only=True)))
    assert back.read_only and back.get(b"k") == b"v"
    back.close()
    r.get(b"k")  # the pool holds a connection now; the child must not share it
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            r.put(b"child", b"1")
            code = 0 if r.get(b"k") == b"v" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert r.get(b"child") == b"1" and r.get(b"k") == b"v"


def test_tls(tmp_dir):
    import subprocess
    crt, key = os.path.join(tmp_dir, "server.crt"), os.path.join(tmp_dir, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        tls_port = s.getsockname()[1]
    srv = Server(os.path.join(tmp_dir, "db"),
                 extra=["--tls-port", str(tls_port), "--tls-cert-file", crt, "--tls-key-file", key,
                        "--tls-auth-clients", "no"])
    try:
        url = "rediss://127.0.0.1:%d?ssl_ca_certs=%s" % (tls_port, crt)
        with strata.connect(url) as c:
            c.put(b"k", b"over TLS")
            with c.write_batch() as wb:
                wb.put(b"big", b"x" * (1 << 20))
            assert [k for k in c.iterator(include_value=False)] == [b"big", b"k"]
        with strata.connect("stratas://127.0.0.1:%d?ssl_cert_reqs=none" % tls_port) as c:
            assert c.get(b"k") == b"over TLS"
        with strata.connect(srv.url) as plain:  # the plain port serves the same database
            assert plain.get(b"k") == b"over TLS"
        with pytest.raises(strata.IOError):  # an unknown CA: the handshake fails
            strata.connect("rediss://127.0.0.1:%d" % tls_port)
    finally:
        assert srv.stop() == 0
