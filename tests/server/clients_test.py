"""strata-server with real clients: redis-py (Debian's python3-redis: commands,
pipelines, scan_iter), redis-cli (redis-tools: commands, --pipe mass insertion)
and redis-benchmark as a smoke test; the same records seen through the strata
tool; authentication, limits, idle timeout, maxclients, a slow reader.

usage: /usr/bin/python3 clients_test.py [test-name ...]   (env: see svtest.py)
"""

import os
import random
import shutil
import subprocess
import threading
import time

import redis

import svtest
from svtest import check, expect

WORK = svtest.scratch_dir("clients")
SEED = svtest.seed()


def client(port, **kw):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30 * svtest.SLOW, **kw)


def server(name, extra=()):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    return svtest.strata_server(d, extra=extra)


def stop_ok(s):
    rc = s.stop()
    expect(rc, 0, "strata-server exit status after SIGTERM (log:\n%s)" % s.log())


def test_strings():
    s = server("strings")
    try:
        r = client(s.port)
        check(r.ping(), "PING")
        expect(r.echo(b"hi"), b"hi", "ECHO")
        check(r.set("k", "v"), "SET")
        expect(r.get("k"), b"v", "GET")
        expect(r.get("missing"), None, "GET of a missing key")
        # Binary-safe values and keys: NUL, CR LF, every byte.
        blob = bytes(range(256)) * 4
        r.set(b"bin\x00\r\nkey", blob)
        expect(r.get(b"bin\x00\r\nkey"), blob, "binary key and value")
        r.set("empty", b"")
        expect(r.get("empty"), b"", "empty value")
        big = os.urandom(3 << 20)
        r.set("big", big)
        expect(r.get("big"), big, "3 MiB value")
        expect(r.strlen("big"), len(big), "STRLEN")
        # SET options.
        expect(r.set("k", "w", nx=True), None, "SET NX on an existing key")
        expect(r.set("k2", "w", xx=True), None, "SET XX on a missing key")
        check(r.set("k2", "x", nx=True), "SET NX on a missing key")
        expect(r.set("k2", "y", get=True), b"x", "SET GET returns the old value")
        expect(r.getset("k2", "z"), b"y", "GETSET")
        expect(r.getdel("k2"), b"z", "GETDEL")
        expect(r.exists("k2"), 0, "GETDEL deleted")
        expect(r.setnx("n1", "a"), True, "SETNX new")
        expect(r.setnx("n1", "b"), False, "SETNX existing")
        # Multi-key.
        check(r.mset({"a": "1", "b": "2", "c": "3"}), "MSET")
        expect(r.mget("a", "b", "nope", "c"), [b"1", b"2", None, b"3"], "MGET")
        expect(r.msetnx({"c": "9", "d": "4"}), False, "MSETNX with an existing key")
        expect(r.get("d"), None, "MSETNX set nothing")
        expect(r.msetnx({"d": "4", "e": "5"}), True, "MSETNX all new")
        expect(r.exists("a", "b", "nope", "a"), 3, "EXISTS counts repeats")
        expect(r.delete("a", "b", "nope"), 2, "DEL counts existing keys")
        expect(r.unlink("c"), 1, "UNLINK")
        expect(r.type("d"), b"string", "TYPE string")
        expect(r.type("nope"), b"none", "TYPE none")
        # Counters.
        expect(r.incr("cnt"), 1, "INCR new")
        expect(r.incrby("cnt", 41), 42, "INCRBY")
        expect(r.decr("cnt"), 41, "DECR")
        expect(r.decrby("cnt", 50), -9, "DECRBY")
        expect(r.incrbyfloat("fl", 10.5), 10.5, "INCRBYFLOAT")
        expect(r.get("fl"), b"10.5", "INCRBYFLOAT's text")
        r.set("fl2", "5.0e3")
        expect(r.incrbyfloat("fl2", 2.0e2), 5200.0, "INCRBYFLOAT of an exponent form")
        expect(r.get("fl2"), b"5200", "trailing zeros removed")
        r.set("notnum", "abc")
        try:
            r.incr("notnum")
            raise svtest.Failure("INCR of a non-number succeeded")
        except redis.ResponseError as e:
            expect(str(e), "value is not an integer or out of range", "INCR error")
        r.set("max", str(2 ** 63 - 1))
        try:
            r.incr("max")
            raise svtest.Failure("INCR overflow succeeded")
        except redis.ResponseError as e:
            expect(str(e), "increment or decrement would overflow", "overflow error")
        # Ranges.
        r.set("s", "Hello World")
        expect(r.getrange("s", 0, 4), b"Hello", "GETRANGE")
        expect(r.getrange("s", -5, -1), b"World", "GETRANGE negative")
        expect(r.getrange("s", 5, 2), b"", "GETRANGE empty")
        expect(r.append("s", "!"), 12, "APPEND")
        expect(r.setrange("s", 6, "Redis"), 12, "SETRANGE")
        expect(r.get("s"), b"Hello Redis!", "SETRANGE result")
        expect(r.setrange("pad", 3, "x"), 4, "SETRANGE pads with zeros")
        expect(r.get("pad"), b"\x00\x00\x00x", "zero padding")
        expect(r.append("newapp", "ab"), 2, "APPEND creates")
        # Errors word for word.
        for args, want in [
            (("GET",), "wrong number of arguments for 'get' command"),
            (("SET", "k"), "wrong number of arguments for 'set' command"),
            (("SET", "k", "v", "NX", "XX"), "syntax error"),
            (("SET", "k", "v", "EX", "0"), "invalid expire time in 'set' command"),
            (("SET", "k", "v", "EX", "x"), "value is not an integer or out of range"),
            (("INCRBYFLOAT", "s", "1"), "value is not a valid float"),
            (("SETRANGE", "s", "-1", "x"), "offset is out of range"),
            (("MSET", "a", "1", "b"), "wrong number of arguments for 'mset' command"),
            (("NOSUCH", "a", "b"), "unknown command 'NOSUCH', with args beginning with: 'a' 'b' "),
            (("CLIENT", "NOSUCH"), "unknown subcommand 'NOSUCH'. Try CLIENT HELP."),
        ]:
            try:
                r.execute_command(*args)
                raise svtest.Failure("%r succeeded" % (args,))
            except redis.ResponseError as e:
                expect(str(e), want, "error reply of %r" % (args,))
        r.close()
    finally:
        stop_ok(s)


def test_same_record():
    """SET k v over the network is the record k -> v of the C API and the strata tool."""
    d = os.path.join(WORK, "record")
    os.makedirs(d)
    db = os.path.join(d, "db")
    subprocess.run([svtest.STRATA_TOOL, "put", db, "embedded-key", "embedded-value"], check=True)
    s = svtest.strata_server(d, dbdir=db)
    try:
        r = client(s.port)
        expect(r.get("embedded-key"), b"embedded-value", "a key put by the strata tool")
        r.set("net-key", "net-value")
        r.set(b"bin\x01", b"\x00\xff")
        r.close()
    finally:
        stop_ok(s)
    out = subprocess.run([svtest.STRATA_TOOL, "get", db, "net-key"], capture_output=True,
                         check=True).stdout
    expect(out.strip(), b"net-value", "strata get of a key SET over the network")
    keys = subprocess.run([svtest.STRATA_TOOL, "scan", "--keys-only", db], capture_output=True,
                          check=True).stdout.split()
    expect(keys, [b"bin\\x01", b"embedded-key", b"net-key"],
           "the database holds exactly the keys, no server metadata")


def test_pipeline_and_order():
    s = server("pipeline")
    try:
        r = client(s.port)
        rnd = random.Random(SEED)
        p = r.pipeline(transaction=False)
        model = {}
        expected = []
        for i in range(3000):
            k = "p%d" % rnd.randrange(200)
            op = rnd.randrange(4)
            if op == 0:
                v = "v%d" % i
                p.set(k, v)
                model[k] = v.encode()
                expected.append(True)
            elif op == 1:
                p.get(k)
                expected.append(model.get(k))
            elif op == 2:
                p.incr("ctr")
                model["ctr"] = str(int(model.get("ctr", b"0")) + 1).encode()
                expected.append(int(model["ctr"]))
            else:
                p.delete(k)
                expected.append(1 if model.pop(k, None) is not None else 0)
        got = p.execute()
        expect(got, expected, "3000 pipelined commands, replies in order")
        for k, v in model.items():
            expect(r.get(k), v, "final value of %s" % k)
        r.close()
    finally:
        stop_ok(s)


def test_scan_iter_keys_order():
    s = server("scan")
    try:
        r = client(s.port)
        names = ["user:%05d" % i for i in range(2500)] + ["item:%d" % i for i in range(300)]
        p = r.pipeline(transaction=False)
        for n in names:
            p.set(n, n[::-1])
        p.execute()
        got = list(r.scan_iter(count=97))
        expect(len(got), len(names), "scan_iter returns every key")
        expect(sorted(got), sorted(n.encode() for n in names), "scan_iter key set")
        expect(got, sorted(got), "SCAN walks keys in order")
        users = list(r.scan_iter(match="user:01*", count=33))
        expect(users, [("user:01%03d" % i).encode() for i in range(1000)], "MATCH with a prefix")
        expect(len(list(r.scan_iter(match="*:1?", count=5))), 10, "MATCH with ? (item:10 .. item:19)")
        expect(r.keys("item:2*"), sorted(("item:%d" % i).encode() for i in range(300)
                                          if str(i).startswith("2")), "KEYS, in key order")
        expect(list(r.scan_iter(_type="hash")), [], "SCAN TYPE hash: no such keys")
        expect(len(list(r.scan_iter(_type="string", count=1000))), len(names), "TYPE string")
        expect(r.dbsize(), len(names), "DBSIZE")
        try:
            r.scan(cursor=123456789)
            raise svtest.Failure("an unknown cursor was accepted")
        except redis.ResponseError as e:
            expect(str(e), "invalid cursor", "unknown cursor")
        r.close()
    finally:
        stop_ok(s)


def test_pkscanrange():
    s = server("pkscan")
    try:
        r = client(s.port)
        for i in range(50):
            r.set("k%02d" % i, "v%02d" % i)
        nk, items = r.execute_command("PKSCANRANGE", "string_with_value", "k10", "k14")
        expect(items, [b"k10", b"v10", b"k11", b"v11", b"k12", b"v12", b"k13", b"v13",
                       b"k14", b"v14"], "inclusive range with values")
        expect(nk, b"", "exhausted range: next_key empty")
        nk, items = r.execute_command("PKSCANRANGE", "string", "", "", "LIMIT", "3")
        expect(items, [b"k00", b"k01", b"k02"], "unbounded, LIMIT 3")
        expect(nk, b"k03", "next_key continues the range")
        nk, items = r.execute_command("PKSCANRANGE", "string", "k03", "", "MATCH", "k*5",
                                      "LIMIT", "2")
        expect(items, [b"k05", b"k15"], "MATCH filters")
        nk, items = r.execute_command("PKRSCANRANGE", "string", "k05", "k02")
        expect(items, [b"k05", b"k04", b"k03", b"k02"], "reverse range")
        nk, items = r.execute_command("PKRSCANRANGE", "string_with_value", "", "", "LIMIT", "2")
        expect(items, [b"k49", b"v49", b"k48", b"v48"], "reverse from the end")
        expect(nk, b"k47", "reverse next_key")
        expect(r.execute_command("PKSCANRANGE", "hash", "", ""), [b"", []], "no hashes")
        r.close()
    finally:
        stop_ok(s)


def test_redis_cli():
    s = server("cli")
    try:
        rc, out, err = svtest.run_cli(s.port, "SET", "greeting", "hello world")
        expect((rc, out), (0, "OK\n"), "redis-cli SET")
        rc, out, err = svtest.run_cli(s.port, "GET", "greeting")
        expect(out, "hello world\n", "redis-cli GET")
        rc, out, err = svtest.run_cli(s.port, "GET", "nope")
        expect(out, "\n", "redis-cli GET of a missing key (nil)")
        rc, out, err = svtest.run_cli(s.port, "INCR", "greeting")
        expect(out.strip(), "ERR value is not an integer or out of range", "redis-cli error")
        # Mass insertion with --pipe (it ends with an ECHO of random bytes).
        lines = "".join("SET pipe:%05d %d\r\n" % (i, i) for i in range(5000))
        rc, out, err = svtest.run_cli(s.port, "--pipe", stdin=lines.encode())
        expect(rc, 0, "redis-cli --pipe exit status (%s %s)" % (out, err))
        check("errors: 0, replies: 5000" in out, "redis-cli --pipe summary: %r" % out)
        rc, out, err = svtest.run_cli(s.port, "DBSIZE")
        expect(out, "5001\n", "keys after --pipe")
        rc, out, err = svtest.run_cli(s.port, "--scan", "--pattern", "pipe:0000*")
        expect(out.split(), ["pipe:%05d" % i for i in range(10)], "redis-cli --scan")
        rc, out, err = svtest.run_cli(s.port, "INFO", "keyspace")
        check(out.startswith("# Keyspace"), "INFO keyspace: %r" % out)
        rc, out, err = svtest.run_cli(s.port, "COMMAND", "COUNT")
        check(int(out) > 50, "COMMAND COUNT: %r" % out)
        rc, out, err = svtest.run_cli(s.port, "COMMAND", "INFO", "get", "mset")
        check("readonly" in out and "mset" in out, "COMMAND INFO: %r" % out)
        rc, out, err = svtest.run_cli(s.port, "COMMAND", "DOCS", "set")
        check("summary" in out and "arguments" in out, "COMMAND DOCS: %r" % out)
    finally:
        stop_ok(s)


def test_resp3_and_config():
    s = server("resp3")
    try:
        c = svtest.Conn(s.port)
        hello = c.call("HELLO", "3")
        check(isinstance(hello, dict), "HELLO 3 answers a map: %r" % (hello,))
        expect(hello[b"proto"], 3, "proto 3")
        c.send(b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n")
        line = c._line()
        expect(line, b"_", "RESP3 null")
        cfg = c.call("CONFIG", "GET", "maxclients")
        expect(cfg, {b"maxclients": b"10000"}, "CONFIG GET in RESP3 is a map")
        expect(c.call("CONFIG", "SET", "maxclients", "500"), "OK", "CONFIG SET")
        expect(c.call("CONFIG", "GET", "maxclients"), {b"maxclients": b"500"}, "changed")
        e = c.call("CONFIG", "SET", "port", "1")
        expect(e, "ERR CONFIG SET failed (possibly related to argument 'port') - can't set "
               "immutable config", "immutable option")
        e = c.call("CONFIG", "SET", "nosuch", "1")
        expect(e, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'", "unknown")
        e = c.call("CONFIG", "SET", "maxclients", "0")
        expect(e, "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
               "must be between 1 and 4294967295 inclusive", "out of range")
        e = c.call("CONFIG", "SET", "timeout", "5", "maxclients", "x")
        check(e.startswith("ERR CONFIG SET failed"), "bad second pair")
        expect(c.call("CONFIG", "GET", "timeout"), {b"timeout": b"0"}, "nothing applied")
        expect(c.call("CONFIG", "GET", "appendfsync"), {b"appendfsync": b"always"},
               "appendfsync is the redis.conf name of sync")
        expect(c.call("HELLO", "4"), "NOPROTO unsupported protocol version", "HELLO 4")
        expect(c.call("CLIENT", "SETNAME", "has space"),
               "ERR Client names cannot contain spaces, newlines or special characters.",
               "bad name")
        expect(c.call("CLIENT", "SETNAME", "tester"), "OK", "SETNAME")
        expect(c.call("CLIENT", "GETNAME"), b"tester", "GETNAME")
        listing = c.call("CLIENT", "LIST")
        check(b"name=tester" in listing and b"resp=3" in listing, "CLIENT LIST: %r" % listing)
        t = c.call("TIME")
        check(abs(int(t[0]) - time.time()) < 60, "TIME")
        c.close()
    finally:
        stop_ok(s)


def test_auth_and_unauthenticated_limits():
    s = server("auth", extra=["--requirepass", "s3cret"])
    try:
        c = svtest.Conn(s.port)
        expect(c.call("GET", "k"), "NOAUTH Authentication required.", "NOAUTH before AUTH")
        expect(c.call("AUTH", "wrong"),
               "WRONGPASS invalid username-password pair or user is disabled.", "wrong password")
        expect(c.call("AUTH", "s3cret"), "OK", "AUTH")
        expect(c.call("SET", "k", "v"), "OK", "after AUTH")
        c.close()
        # redis-py with a password, and HELLO 3 AUTH.
        r = client(s.port, password="s3cret")
        expect(r.get("k"), b"v", "redis-py with password")
        r.close()
        c = svtest.Conn(s.port)
        h = c.call("HELLO", "3", "AUTH", "default", "s3cret")
        check(isinstance(h, dict), "HELLO 3 AUTH")
        c.close()
        # Before AUTH: at most 10 arguments and 16 KiB per argument, else the
        # connection is refused and closed (redis-server's limits).
        c = svtest.Conn(s.port)
        c.send(svtest.encode(*(["DEL"] + ["k%d" % i for i in range(11)])))
        out, closed = c.drain()
        expect((out, closed), (b"-ERR Protocol error: unauthenticated multibulk length\r\n", True),
               "11 arguments before AUTH")
        c = svtest.Conn(s.port)
        c.send(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n")
        out, closed = c.drain()
        expect((out, closed), (b"-ERR Protocol error: unauthenticated bulk length\r\n", True),
               "a 16385-byte argument before AUTH")
        c = svtest.Conn(s.port)
        c.send(svtest.encode("AUTH", "x" * 16384))
        expect(c.reply(), "WRONGPASS invalid username-password pair or user is disabled.",
               "a 16384-byte argument is allowed")
        c.close()
    finally:
        stop_ok(s)


def test_limits():
    s = server("limits", extra=["--proto-max-bulk-len", "1mb", "--client-query-buffer-limit",
                                "2mb", "--maxclients", "4"])
    try:
        c = svtest.Conn(s.port)
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % ((1 << 20) + 1))
        out, closed = c.drain()
        expect((out, closed), (b"-ERR Protocol error: invalid bulk length\r\n", True),
               "a bulk longer than proto-max-bulk-len")
        c = svtest.Conn(s.port)
        c.send(svtest.encode("SET", "k", "x" * (1 << 20)))
        expect(c.reply(), "OK", "a bulk of exactly proto-max-bulk-len")
        expect(c.call("APPEND", "k", "y"),
               "ERR string exceeds maximum allowed size (proto-max-bulk-len)", "APPEND past it")
        c.close()
        # A query buffer past its limit: closed without a reply.
        c = svtest.Conn(s.port)
        c.send(b"*2\r\n$3\r\nGET\r\n$1000000\r\n" + b"x" * 999000)
        c.send(b"*2\r\n$3\r\nGET\r\n")  # still incomplete
        big = b"*1\r\n$%d\r\n" % 900000 + b"y" * 900000
        try:
            for _ in range(3):
                c.send(big)
        except OSError:
            pass
        out, closed = c.drain(quiet=2)
        check(closed, "connection over client-query-buffer-limit closed")
        # maxclients 4: a fifth connection is refused with redis-server's reply.
        conns = [svtest.Conn(s.port) for _ in range(4)]
        for k in conns:
            expect(k.call("PING"), "PONG", "within maxclients")
        extra = svtest.Conn(s.port)
        out, closed = extra.drain(quiet=2)
        expect((out, closed), (b"-ERR max number of clients reached\r\n", True), "maxclients")
        for k in conns:
            k.close()
        time.sleep(0.3 * svtest.SLOW)
        c = svtest.Conn(s.port)
        expect(c.call("PING"), "PONG", "room again after closing")
        c.close()
    finally:
        stop_ok(s)


def test_idle_timeout():
    s = server("idle", extra=["--timeout", "2"])
    try:
        idle = svtest.Conn(s.port)
        expect(idle.call("PING"), "PONG", "idle client's first command")
        busy = svtest.Conn(s.port)
        end = time.time() + 15 * svtest.SLOW
        closed = False
        while time.time() < end and not closed:
            expect(busy.call("PING"), "PONG", "the active client stays connected")
            idle.sock.settimeout(0.2)
            try:
                closed = idle.sock.recv(1) == b""
            except OSError as e:
                closed = not isinstance(e, TimeoutError) and "timed out" not in str(e)
        check(closed, "the idle connection was closed by the timeout")
        expect(busy.call("PING"), "PONG", "the active one is still open")
        busy.close()
    finally:
        stop_ok(s)


def test_slow_reader():
    """A client that never reads its replies fills only its own buffer."""
    s = server("slow")
    try:
        r = client(s.port)
        r.set("big", b"z" * 200000)
        hog = svtest.Conn(s.port)
        req = svtest.encode("GET", "big") * 200  # 40 MB of replies, never read
        try:
            hog.sock.settimeout(5)
            hog.send(req)
        except OSError:
            pass
        for i in range(2000):
            r.set("f%d" % i, i)
            expect(r.get("f%d" % i), str(i).encode(), "other clients are served")
        hog.close()
        r.close()
    finally:
        stop_ok(s)


def test_reserved_keys_and_shutdown():
    s = server("shutdown")
    try:
        c = svtest.Conn(s.port)
        e = c.call("SET", b"\xff\xffstrata\x00x", "v")
        check(isinstance(e, svtest.ReplyError) and "reserved by Strata" in e,
              "a key in Strata's reserved range is refused: %r" % e)
        expect(c.call("GET", b"\xff\xffstrata\x00x"), None, "and reads as missing")
        expect(c.call("SET", "after", "1"), "OK", "SET")
        c.send(svtest.encode("SHUTDOWN"))
        out, closed = c.drain(quiet=10)
        expect((out, closed), (b"", True), "SHUTDOWN: no reply, connection closed")
        expect(s.wait_exit(), 0, "exit status after SHUTDOWN (log:\n%s)" % s.log())
        db = os.path.join(WORK, "shutdown", "db")
        out = subprocess.run([svtest.STRATA_TOOL, "get", db, "after"], capture_output=True)
        expect((out.returncode, out.stdout.strip()), (0, b"1"), "the database opens at once")
    finally:
        if s.alive():
            s.kill()


def test_redis_benchmark_smoke():
    s = server("bench")
    try:
        p = subprocess.run([svtest.REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(s.port), "-q",
                            "-t", "set,get,incr,mset", "-n", "2000", "-c", "8", "-P", "4"],
                           capture_output=True, timeout=120 * svtest.SLOW)
        out = p.stdout.decode("utf-8", "replace")
        expect(p.returncode, 0, "redis-benchmark exit status (%s)" % p.stderr)
        for t in ("SET:", "GET:", "INCR:", "MSET (10 keys):"):
            check(t in out, "redis-benchmark ran %s: %r" % (t, out))
        r = client(s.port)
        check(r.dbsize() > 0, "redis-benchmark wrote keys")
        r.close()
    finally:
        stop_ok(s)


TESTS = [test_strings, test_same_record, test_pipeline_and_order, test_scan_iter_keys_order,
         test_pkscanrange, test_redis_cli, test_resp3_and_config,
         test_auth_and_unauthenticated_limits, test_limits, test_idle_timeout, test_slow_reader,
         test_reserved_keys_and_shutdown, test_redis_benchmark_smoke]

if __name__ == "__main__":
    try:
        svtest.main(TESTS, "clients_test")
    finally:
        if not os.environ.get("STRATA_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
