"""Protocol conformance of strata-server against Debian's redis-server 7 (the oracle).

Each case sends the same bytes to both servers, on fresh connections, in the
same pieces, and compares what comes back -- the reply bytes exactly -- and
whether the server closed the connection. Cases: malformed multibulk and bulk
lengths, "expected '$'", unbalanced quotes, oversized inline/count/length
lines, redis-server's CR/LF leniency, a command sent a byte at a time, 2,000
pipelined commands in one write, inline commands, HTTP requests (closed
without a reply), and the error replies of the commands both servers have.

usage: /usr/bin/python3 conformance_test.py [test-name ...]
"""

import os
import random
import shutil
import threading
import time

import svtest
from svtest import check, encode, expect

WORK = svtest.scratch_dir("conformance")
SEED = svtest.seed()

E = encode


class Case:
    def __init__(self, name, pieces, pause=0.0, skip_first=0, flush=True):
        self.name = name
        self.pieces = pieces if isinstance(pieces, list) else [pieces]
        self.pause = pause
        self.skip_first = skip_first  # replies that legitimately differ (HELLO's ids)
        self.flush = flush


def exchange(port, case):
    if case.flush:
        c = svtest.Conn(port)
        expect(c.call("FLUSHALL"), "OK", "FLUSHALL before " + case.name)
        c.close()
    c = svtest.Conn(port)
    try:
        for i, p in enumerate(case.pieces):
            c.send(p)
            if case.pause and i + 1 < len(case.pieces):
                time.sleep(case.pause)
            if i < case.skip_first:
                c.reply()
    except OSError:
        pass  # the server may close while we still send
    out, closed = c.drain(quiet=0.4)
    c.close()
    return out, closed


def run_cases(cases, strata, redis_):
    bad = []
    for case in cases:
        res = {}

        def go(name, port):
            try:
                res[name] = exchange(port, case)
            except Exception as e:  # reported as a difference below
                res[name] = ("exception: %r" % e, None)

        ts = [threading.Thread(target=go, args=("strata", strata.port)),
              threading.Thread(target=go, args=("redis", redis_.port))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if res["strata"] != res["redis"]:
            bad.append("%s:\n  strata-server: %r\n  redis-server:  %r"
                       % (case.name, _short(res["strata"]), _short(res["redis"])))
    if bad:
        raise svtest.Failure("%d of %d cases differ:\n%s" % (len(bad), len(cases), "\n".join(bad)))


def _short(r):
    out, closed = r
    if isinstance(out, bytes) and len(out) > 600:
        out = out[:300] + b"...<%d bytes>..." % len(out) + out[-200:]
    return out, closed


def protocol_cases():
    big = 200 * 1024
    return [
        Case("valid request", E("SET", "k", "v") + E("GET", "k")),
        Case("invalid multibulk length", b"*abc\r\n"),
        Case("multibulk length with '+'", b"*+1\r\n$4\r\nPING\r\n"),
        Case("multibulk length with a leading zero", b"*01\r\n$4\r\nPING\r\n"),
        Case("multibulk length past INT_MAX", b"*2147483648\r\n"),
        Case("empty multibulk then PING", b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"),
        Case("expected '$'", b"*1\r\n:4\r\nPING\r\n"),
        Case("expected '$', got a space", b"*2\r\n$3\r\nGET\r\n k\r\n"),
        Case("invalid bulk length (letters)", b"*1\r\n$x\r\n"),
        Case("invalid bulk length (negative)", b"*1\r\n$-5\r\n"),
        Case("bulk length past proto-max-bulk-len", b"*1\r\n$999999999999\r\n"),
        Case("bulk length overflowing 64 bits", b"*1\r\n$99999999999999999999\r\n"),
        Case("incomplete request: no reply, stays open", b"*2\r\n$3\r\nGET\r\n$1\r\n"),
        Case("unbalanced double quote", b'SET k "abc\r\n'),
        Case("text after a closing quote", b'SET k "abc"def\r\n'),
        Case("unbalanced single quote", b"SET k 'abc\r\n"),
        Case("inline commands", b"SET foo bar\r\nGET foo\nPING\r\n\r\n\r\nECHO 'it\\'s'\r\n"),
        Case("inline escapes", b'SET k "a\\x41\\n\\t\\"z"\r\nGET k\r\nSTRLEN k\r\n'),
        Case("inline quote mid-argument", b'SET a"b c" d\r\nGET "ab c"\r\n'),
        Case("oversized inline request", [b"a" * big]),
        Case("oversized multibulk count line", [b"*" + b"1" * big]),
        Case("oversized bulk length line", [b"*1\r\n$" + b"1" * big]),
        Case("CR/LF leniency", b"*1\rx$4\ryPINGzz*1\r\n$4\r\nPING\r\n"),
        Case("NUL inside an inline line", b"PI\x00NG\r\n"),
        Case("a command a byte at a time",
             [bytes([b]) for b in E("SET", "slow", "value") + E("GET", "slow")], pause=0.002),
        Case("a bulk split across writes",
             [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n01234", b"56789\r\n", E("GET", "k")],
             pause=0.05),
        Case("HTTP POST is closed without a reply", b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Case("Host: header is closed without a reply", b"Host: example\r\n"),
        Case("QUIT answers OK and closes", E("QUIT") + E("PING")),
        Case("requests after a protocol error are not run", b"*1\r\n$x\r\n" + E("SET", "a", "b")),
        Case("RESP3 nulls after HELLO 3", [E("HELLO", "3"), E("GET", "missing") +
                                           E("MGET", "a", "b") + E("SET", "k", "v", "NX") +
                                           E("CONFIG", "GET", "maxclients")], skip_first=1),
    ]


def error_cases():
    calls = [
        ("GET",), ("GET", "a", "b"), ("SET", "k"), ("SET", "k", "v", "NX", "XX"),
        ("SET", "k", "v", "XX", "NX"), ("SET", "k", "v", "EX"), ("SET", "k", "v", "EX", "x"),
        ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "PX", "-1"),
        ("SET", "k", "v", "EX", "9223372036854775807"), ("SET", "k", "v", "KEEPTTL", "EX", "10"),
        ("SET", "k", "v", "EX", "10", "PX", "10"), ("SET", "k", "v", "PERSIST"),
        ("SET", "k", "v", "FOO"), ("SETEX", "k", "0", "v"), ("SETEX", "k", "x", "v"),
        ("PSETEX", "k", "-5", "v"), ("GETEX", "k", "PERSIST", "EX", "1"), ("GETEX", "k", "NX"),
        ("GETEX", "missing", "EX", "abc"), ("MSET", "a"), ("MSET", "a", "1", "b"),
        ("MSETNX", "a", "1", "b"), ("MGET",), ("INCRBY", "k", "x"),
        ("INCRBY", "k", "9223372036854775808"), ("DECRBY", "n", "-9223372036854775808"),
        ("INCRBYFLOAT", "k", "abc"), ("INCRBYFLOAT", "k", "nan"), ("INCRBYFLOAT", "k", "inf"),
        ("SETRANGE", "k", "-1", "x"), ("SETRANGE", "k", "x", "y"), ("GETRANGE", "k", "a", "1"),
        ("APPEND", "k"), ("STRLEN",), ("DEL",), ("EXISTS",), ("TYPE", "a", "b"),
        ("PING", "a", "b"), ("ECHO",), ("HELLO", "4"), ("HELLO", "x"), ("HELLO", "3", "FOO"),
        ("HELLO", "3", "AUTH", "default"), ("AUTH", "pw"), ("AUTH", "a", "b", "c"),
        ("SELECT", "x"), ("SELECT", "-1"), ("SELECT", "16"), ("SELECT", "99999999999"),
        ("CLIENT",), ("CLIENT", "NOSUCH"), ("CLIENT", "SETNAME", "a b"),
        ("CLIENT", "SETNAME", "x", "y"), ("CLIENT", "GETNAME", "x"),
        ("CONFIG",), ("CONFIG", "GET"), ("CONFIG", "SET", "nosuch", "1"),
        ("CONFIG", "SET", "maxclients"), ("CONFIG", "SET", "maxclients", "x"),
        ("CONFIG", "SET", "maxclients", "0"), ("CONFIG", "NOSUCH"),
        ("NOSUCHCOMMAND",), ("NOSUCHCOMMAND", "a", "b\x00c", "d"), ("nosuch", "x" * 300),
        ("x" * 300,), ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "x"),
        ("SCAN", "0", "FOO"), ("SCAN", "abc"), ("SCAN", " 1"), ("KEYS",),
        ("FLUSHDB", "FOO"), ("FLUSHALL", "SYNC", "x"), ("TIME", "x"), ("DBSIZE", "x"),
        ("SHUTDOWN", "FOO"), ("MULTI", "x"), ("EXEC", "x"), ("DISCARD",), ("EXEC",),
        ("UNWATCH", "x"), ("WATCH",), ("COMMAND", "COUNT", "x"), ("COMMAND", "NOSUCH"),
    ]
    # Values set first so type and number checks see the same data.
    setup = E("SET", "k", "Hello") + E("SET", "n", "10") + E("SET", "f", "1.5")
    cases = []
    # One request per case would make ~100 cases; group them (each group one
    # write, the replies compared as one byte string).
    for i in range(0, len(calls), 12):
        group = calls[i:i + 12]
        cases.append(Case("error replies %d-%d" % (i, i + len(group) - 1),
                          setup + b"".join(E(*c) for c in group)))
    return cases


def expiry_and_transaction_cases():
    """Deterministic expiry replies (times far from now) and MULTI/EXEC flows."""
    far = "4000000000"  # seconds since the epoch, in 2096
    return [
        Case("EXPIRE options", E("SET", "k", "v") + b"".join(E(*c) for c in [
            ("EXPIRE", "k", "10", "NX", "XX"), ("EXPIRE", "k", "10", "GT", "LT"),
            ("EXPIRE", "k", "10", "NX", "GT"), ("EXPIRE", "k", "10", "FOO"),
            ("EXPIRE", "k", "x"), ("EXPIRE", "k", "9223372036854775807"),
            ("PEXPIRE", "k", "9223372036854775807"), ("EXPIRE", "k"), ("TTL", "k", "x"),
            ("EXPIRE", "missing", "10"), ("TTL", "missing"), ("PTTL", "missing"), ("TTL", "k"),
            ("EXPIRE", "k", "100", "XX"), ("EXPIRE", "k", "100", "NX"), ("TTL", "k"),
            ("EXPIRE", "k", "50", "GT"), ("EXPIRE", "k", "500", "GT"), ("TTL", "k"),
            ("EXPIRE", "k", "600", "LT"), ("EXPIRE", "k", "60", "LT"), ("TTL", "k"),
            ("EXPIREAT", "k", far), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"),
            ("PEXPIREAT", "k", far + "000"), ("EXPIRETIME", "k"), ("PERSIST", "k"),
            ("PERSIST", "k"), ("TTL", "k"), ("EXPIRETIME", "k"), ("EXPIRETIME", "missing"),
            ("EXPIRE", "k", "-5"), ("EXISTS", "k"), ("TTL", "k")])),
        Case("SET and GETEX with expiry", b"".join(E(*c) for c in [
            ("SET", "a", "1", "EX", "100"), ("TTL", "a"), ("SET", "a", "2", "KEEPTTL"),
            ("TTL", "a"), ("SET", "a", "3"), ("TTL", "a"), ("SET", "a", "4", "PX", "100000"),
            ("TTL", "a"), ("SET", "a", "5", "EXAT", far), ("EXPIRETIME", "a"),
            ("SET", "a", "6", "PXAT", far + "000", "GET"), ("EXPIRETIME", "a"),
            ("SET", "b", "1", "PXAT", "1"), ("GET", "b"), ("EXISTS", "b"),
            ("GETEX", "a", "EX", "200"), ("TTL", "a"), ("GETEX", "a", "PERSIST"), ("TTL", "a"),
            ("GETEX", "a", "EXAT", "1"), ("GET", "a"), ("GETEX", "missing", "EX", "10"),
            ("SETEX", "c", "100", "v"), ("TTL", "c"), ("GETSET", "c", "w"), ("TTL", "c"),
            ("PSETEX", "d", "100000", "v"), ("TTL", "d"), ("INCR", "d2"), ("EXPIRE", "d2", "100"),
            ("INCR", "d2"), ("TTL", "d2"), ("APPEND", "d2", "x"), ("TTL", "d2"),
            ("SETRANGE", "d2", "0", "9"), ("TTL", "d2"), ("GETDEL", "d2"), ("TTL", "d2")])),
        Case("MULTI/EXEC", b"".join(E(*c) for c in [
            ("MULTI",), ("SET", "t", "1"), ("INCR", "t"), ("GET", "t"), ("INCRBY", "t", "x"),
            ("EXEC",), ("GET", "t")])),
        Case("MULTI nested, WATCH inside, DISCARD", b"".join(E(*c) for c in [
            ("MULTI",), ("MULTI",), ("WATCH", "t"), ("SET", "t", "2"), ("DISCARD",),
            ("DISCARD",), ("EXEC",), ("GET", "t")])),
        Case("EXECABORT after a queueing error", b"".join(E(*c) for c in [
            ("MULTI",), ("SET", "t", "1"), ("NOSUCH",), ("SET", "t"), ("EXEC",), ("GET", "t"),
            ("MULTI",), ("GET",), ("EXEC", "x"), ("EXEC",)])),
        Case("WATCH, UNWATCH, SELECT inside MULTI", b"".join(E(*c) for c in [
            ("WATCH", "t"), ("UNWATCH",), ("WATCH", "a", "b"), ("MULTI",), ("SET", "a", "1"),
            ("SELECT", "2"), ("SET", "a", "2"), ("GET", "a"), ("EXEC",), ("GET", "a"),
            ("SELECT", "0"), ("GET", "a"), ("SELECT", "2"), ("FLUSHDB",), ("SELECT", "0"),
            ("MULTI",), ("EXEC",)])),
    ]


def pipeline_case(rnd):
    """2,000 random commands in one write; keys in a small space so they meet."""
    out = []
    for i in range(2000):
        k = "p%d" % rnd.randrange(40)
        v = "v%d" % rnd.randrange(1000)
        op = rnd.randrange(16)
        if op == 0:
            out.append(E("SET", k, v))
        elif op == 1:
            out.append(E("GET", k))
        elif op == 2:
            out.append(E("INCR", "c%d" % rnd.randrange(5)))
        elif op == 3:
            out.append(E("DEL", k, "p%d" % rnd.randrange(40)))
        elif op == 4:
            out.append(E("EXISTS", k, k))
        elif op == 5:
            out.append(E("MGET", k, "p%d" % rnd.randrange(40), "c1"))
        elif op == 6:
            out.append(E("APPEND", k, v))
        elif op == 7:
            out.append(E("STRLEN", k))
        elif op == 8:
            out.append(E("GETRANGE", k, rnd.randrange(-5, 5), rnd.randrange(-5, 10)))
        elif op == 9:
            out.append(E("SET", k, v, rnd.choice(["NX", "XX", "GET"])))
        elif op == 10:
            out.append(E("MSET", k, v, "p%d" % rnd.randrange(40), v))
        elif op == 11:
            out.append(E("INCRBYFLOAT", "f%d" % rnd.randrange(3), "%d.%d" % (rnd.randrange(100),
                                                                             rnd.randrange(100))))
        elif op == 12:
            out.append(E("SETRANGE", k, rnd.randrange(20), v))
        elif op == 13:
            out.append(E("GETDEL", k))
        elif op == 14:
            out.append(E("TYPE", k))
        else:
            out.append(E("INCRBY", "c%d" % rnd.randrange(5), rnd.randrange(-100, 100)))
    return Case("2,000 pipelined commands in one write", b"".join(out))


def servers():
    strata = svtest.strata_server(os.path.join(WORK), dbdir=os.path.join(WORK, "db"))
    redis_ = svtest.redis_server(WORK)
    return strata, redis_


def test_protocol():
    strata, redis_ = servers()
    try:
        run_cases(protocol_cases(), strata, redis_)
    finally:
        expect(strata.stop(), 0, "strata-server exit status (log:\n%s)" % strata.log())
        redis_.stop()


def test_error_replies():
    strata, redis_ = servers()
    try:
        run_cases(error_cases(), strata, redis_)
    finally:
        expect(strata.stop(), 0, "strata-server exit status (log:\n%s)" % strata.log())
        redis_.stop()


def test_pipeline():
    strata, redis_ = servers()
    try:
        rnd = random.Random(SEED)
        run_cases([pipeline_case(rnd) for _ in range(3)], strata, redis_)
    finally:
        expect(strata.stop(), 0, "strata-server exit status (log:\n%s)" % strata.log())
        redis_.stop()


def test_expiry_and_transactions():
    strata, redis_ = servers()
    try:
        run_cases(expiry_and_transaction_cases(), strata, redis_)
    finally:
        expect(strata.stop(), 0, "strata-server exit status (log:\n%s)" % strata.log())
        redis_.stop()


TESTS = [test_protocol, test_error_replies, test_pipeline, test_expiry_and_transactions]

if __name__ == "__main__":
    try:
        svtest.main(TESTS, "conformance_test")
    finally:
        if not os.environ.get("STRATA_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
