"""strata-server's sub-database and transaction features through redis-py:
SELECT isolation (numbered databases are sub-databases), expiry (short TTLs:
keys vanish for every reader at once and are removed in the background),
MULTI/EXEC atomicity seen by a concurrent reader, WATCH conflicts (redis-py's
transaction helper and raw WATCH/MULTI/EXEC), FLUSHDB per database, the
everysec and no sync modes.

usage: /usr/bin/python3 features_test.py [test-name ...]
"""

import os
import random
import shutil
import threading
import time

import redis

import svtest
from svtest import check, expect

WORK = svtest.scratch_dir("features")
SEED = svtest.seed()


def server(name, extra=()):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    return svtest.strata_server(d, extra=["--expire-sweep-ms", "50"] + list(extra))


def client(port, db=0, **kw):
    return redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=30 * svtest.SLOW, **kw)


def stop_ok(s):
    expect(s.stop(), 0, "strata-server exit status (log:\n%s)" % s.log())


def test_select_isolation():
    s = server("select")
    try:
        r0, r1, r7 = client(s.port, 0), client(s.port, 1), client(s.port, 7)
        r0.set("k", "zero")
        r1.set("k", "one")
        r7.mset({"k": "seven", "only7": "x"})
        expect((r0.get("k"), r1.get("k"), r7.get("k")), (b"zero", b"one", b"seven"),
               "one key name, three databases")
        expect(r0.get("only7"), None, "db 0 does not see db 7's keys")
        expect(sorted(r7.keys("*")), [b"k", b"only7"], "KEYS in db 7")
        expect(r1.dbsize(), 1, "DBSIZE of db 1")
        expect(r7.flushdb(), True, "FLUSHDB of db 7")
        expect(r7.keys("*"), [], "db 7 empty")
        expect((r0.get("k"), r1.get("k")), (b"zero", b"one"), "other databases untouched")
        r7.set("again", "y")
        expect(r7.get("again"), b"y", "db 7 usable after FLUSHDB")
        c = svtest.Conn(s.port)
        expect(c.call("SELECT", "16"), "ERR DB index is out of range", "SELECT 16 of 16")
        expect(c.call("SELECT", "15"), "OK", "SELECT 15")
        c.close()
        expect(r0.flushall(), True, "FLUSHALL")
        expect((r0.dbsize(), r1.dbsize(), r7.dbsize()), (0, 0, 0), "every database empty")
        for r in (r0, r1, r7):
            r.close()
    finally:
        stop_ok(s)
    # The numbered databases survive a restart, apart from the main one.
    s = svtest.strata_server(os.path.join(WORK, "select"))
    try:
        r3 = client(s.port, 3)
        r3.set("persisted", "3")
        r3.close()
    finally:
        stop_ok(s)
    s = svtest.strata_server(os.path.join(WORK, "select"))
    try:
        expect(client(s.port, 3).get("persisted"), b"3", "db 3 after a restart")
        expect(client(s.port, 0).get("persisted"), None, "not in db 0")
    finally:
        stop_ok(s)


def test_expiry():
    s = server("expiry")
    try:
        r = client(s.port)
        r.set("short", "v", px=300)
        r.set("long", "v", ex=100)
        r.set("plain", "v")
        r.setex("sx", 100, "v")
        r.psetex("psx", 200, "v")
        r.set("mid", "v", px=20000)
        check(0 < r.pttl("mid") <= 20000, "PTTL of a 20 s key")
        expect(r.ttl("long"), 100, "TTL of a 100 s key")
        expect(r.ttl("plain"), -1, "TTL of a key without expiry")
        expect(r.ttl("nope"), -2, "TTL of a missing key")
        check(98 <= r.ttl("sx") <= 100, "SETEX")
        expect(r.execute_command("EXPIRETIME", "plain"), -1, "EXPIRETIME without expiry")
        check(r.execute_command("PEXPIRETIME", "long") > time.time() * 1000, "PEXPIRETIME")
        # Every reader sees the key vanish at its time.
        time.sleep(0.45)
        expect(r.get("short"), None, "GET after the TTL")
        expect(r.exists("short", "psx"), 0, "EXISTS after the TTL")
        expect(r.mget("short", "plain"), [None, b"v"], "MGET after the TTL")
        expect("short" in [k.decode() for k in r.keys("*")], False, "KEYS after the TTL")
        expect(r.ttl("short"), -2, "TTL after the TTL")
        # EXPIRE family with options.
        expect(r.expire("plain", 100, xx=True), False, "EXPIRE XX without expiry")
        expect(r.expire("plain", 100, nx=True), True, "EXPIRE NX")
        expect(r.expire("plain", 50, gt=True), False, "EXPIRE GT with a smaller time")
        expect(r.expire("plain", 500, gt=True), True, "EXPIRE GT with a bigger time")
        expect(r.expire("plain", 50, lt=True), True, "EXPIRE LT")
        check(45 <= r.ttl("plain") <= 50, "TTL after LT")
        expect(r.persist("plain"), True, "PERSIST")
        expect(r.persist("plain"), False, "PERSIST again")
        expect(r.ttl("plain"), -1, "no expiry after PERSIST")
        expect(r.expire("plain", -1), True, "EXPIRE with a past time deletes")
        expect(r.exists("plain"), 0, "deleted by a past EXPIRE")
        r.set("at", "v")
        expect(r.pexpireat("at", int(time.time() * 1000) + 100000), True, "PEXPIREAT")
        expect(r.expireat("at", int(time.time()) - 10), True, "EXPIREAT in the past")
        expect(r.get("at"), None, "deleted")
        # SET semantics on expiry: a plain SET removes it, KEEPTTL keeps it.
        r.set("k", "1", ex=100)
        r.set("k", "2", keepttl=True)
        check(r.ttl("k") > 90, "KEEPTTL keeps the expiry")
        r.set("k", "3")
        expect(r.ttl("k"), -1, "SET without KEEPTTL removes it")
        r.set("k", "4", ex=100)
        expect(r.incr("n"), 1, "INCR")
        r.expire("n", 100)
        expect(r.incr("n"), 2, "INCR keeps the expiry")
        check(r.ttl("n") > 90, "TTL after INCR")
        r.append("n", "0")
        check(r.ttl("n") > 90, "TTL after APPEND")
        expect(r.getex("k", persist=True), b"4", "GETEX PERSIST")
        expect(r.ttl("k"), -1, "persisted by GETEX")
        expect(r.getex("k", px=5000), b"4", "GETEX PX")
        check(0 < r.pttl("k") <= 5000, "expiry set by GETEX")
        expect(r.getset("k", "5"), b"4", "GETSET")
        expect(r.ttl("k"), -1, "GETSET removes the expiry")
        r.set("gone", "v", pxat=int(time.time() * 1000) - 1)
        expect(r.get("gone"), None, "SET PXAT in the past: gone at once")
        # SET KEEPTTL on an expired key gives no expiry (the old key is gone).
        r.set("old", "v", px=100)
        time.sleep(0.2)
        r.set("old", "w", keepttl=True)
        expect((r.get("old"), r.ttl("old")), (b"w", -1), "KEEPTTL over an expired key")
        # Background removal: expired records leave the database.
        r.mset({"bulk%d" % i: "v" for i in range(200)})
        p = r.pipeline(transaction=False)
        for i in range(200):
            p.pexpire("bulk%d" % i, 100)
        p.execute()
        deadline = time.time() + 10 * svtest.SLOW
        while time.time() < deadline:
            info = r.info("stats")
            if info["expired_keys"] >= 202:
                break
            time.sleep(0.1)
        check(r.info("stats")["expired_keys"] >= 202,
              "the sweeper removed the expired keys: %r" % r.info("stats")["expired_keys"])
        ks = r.info("keyspace")
        r.close()
    finally:
        stop_ok(s)
    # Expiry times survive a restart (they are records, not memory).
    s = svtest.strata_server(os.path.join(WORK, "expiry"))
    try:
        r = client(s.port)
        check(r.ttl("long") > 90, "expiry after a restart")
        r.close()
    finally:
        stop_ok(s)


def test_multi_exec_atomic():
    """A concurrent reader (MGET) sees a MULTI/EXEC's writes all or none."""
    s = server("multi")
    try:
        r = client(s.port)
        keys = ["acct:%d" % i for i in range(10)]
        r.mset({k: 100 for k in keys})
        stop = threading.Event()
        seen = {"bad": None, "reads": 0}

        def reader():
            rr = client(s.port)
            while not stop.is_set():
                vals = [int(v) for v in rr.mget(keys)]
                seen["reads"] += 1
                if sum(vals) != 1000:
                    seen["bad"] = vals
                    return
            rr.close()

        t = threading.Thread(target=reader)
        t.start()
        rnd = random.Random(SEED)
        for i in range(300):
            a, b = rnd.sample(keys, 2)
            amt = rnd.randrange(1, 10)
            p = r.pipeline(transaction=True)
            p.decrby(a, amt)
            p.incrby(b, amt)
            res = p.execute()
            check(len(res) == 2, "EXEC answered both commands")
        stop.set()
        t.join()
        check(seen["bad"] is None, "a reader saw a half-applied transaction: %r" % seen["bad"])
        check(seen["reads"] > 0, "the reader ran")
        expect(sum(int(v) for v in r.mget(keys)), 1000, "money conserved")
        # Raw protocol: queueing, errors inside EXEC, EXECABORT, DISCARD.
        c = svtest.Conn(s.port)
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("SET", "x", "1"), "QUEUED", "queued")
        expect(c.call("INCR", "acct:0"), "QUEUED", "queued")
        expect(c.call("INCRBY", "x", "notanumber"), "QUEUED", "queued (fails at EXEC)")
        res = c.call("EXEC")
        expect(res[0], "OK", "EXEC's first reply")
        check(isinstance(res[1], int), "EXEC's second reply")
        expect(res[2], "ERR value is not an integer or out of range", "error inside EXEC")
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("SET", "y"), "ERR wrong number of arguments for 'set' command",
               "error while queueing")
        expect(c.call("EXEC"), "EXECABORT Transaction discarded because of previous errors.",
               "EXECABORT")
        expect(c.call("GET", "y"), None, "nothing ran")
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("FLUSHALL"), "ERR Command not allowed inside a transaction",
               "FLUSHALL refused inside MULTI")
        expect(c.call("DISCARD"), "OK", "DISCARD")
        expect(c.call("EXEC"), "ERR EXEC without MULTI", "EXEC after DISCARD")
        c.close()
        r.close()
    finally:
        stop_ok(s)


def test_watch():
    s = server("watch")
    try:
        r = client(s.port)
        other = client(s.port)
        r.set("w", 1)
        # redis-py's optimistic helper: retries on a conflict.
        calls = {"n": 0}

        def incr_twice(pipe):
            calls["n"] += 1
            v = int(pipe.get("w"))
            if calls["n"] == 1:
                other.set("w", 10)  # a concurrent change: the first try must fail
            pipe.multi()
            pipe.set("w", v * 2)

        r.transaction(incr_twice, "w")
        expect(calls["n"], 2, "the transaction ran again after a conflict")
        expect(r.get("w"), b"20", "the retry saw the other client's write")
        # Raw: a watched key changed -> EXEC answers nil and runs nothing.
        c = svtest.Conn(s.port)
        expect(c.call("WATCH", "w", "unrelated"), "OK", "WATCH")
        other.set("w", 5)
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("SET", "w", "from-exec"), "QUEUED", "queued")
        expect(c.call("EXEC"), None, "EXEC after a watched key changed")
        expect(other.get("w"), b"5", "nothing applied")
        # Unchanged watched keys -> EXEC runs; a key changed only before WATCH is fine.
        other.set("w2", 1)
        expect(c.call("WATCH", "w2"), "OK", "WATCH")
        other.set("unwatched", 1)
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("INCR", "w2"), "QUEUED", "queued")
        expect(c.call("EXEC"), [2], "EXEC with unchanged watched keys")
        # EXPIRE of a watched key is a change.
        other.set("w3", 1)
        expect(c.call("WATCH", "w3"), "OK", "WATCH")
        other.expire("w3", 100)
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("GET", "w3"), "QUEUED", "queued")
        expect(c.call("EXEC"), None, "an EXPIRE of a watched key aborts EXEC")
        # UNWATCH forgets.
        expect(c.call("WATCH", "w3"), "OK", "WATCH")
        other.set("w3", 2)
        expect(c.call("UNWATCH"), "OK", "UNWATCH")
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("GET", "w3"), "QUEUED", "queued")
        expect(c.call("EXEC"), [b"2"], "EXEC after UNWATCH")
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("WATCH", "x"), "ERR WATCH inside MULTI is not allowed", "WATCH in MULTI")
        expect(c.call("DISCARD"), "OK", "DISCARD")
        # Watching in a numbered database.
        expect(c.call("SELECT", "4"), "OK", "SELECT 4")
        expect(c.call("WATCH", "k"), "OK", "WATCH in db 4")
        client(s.port, 4).set("k", "x")
        expect(c.call("MULTI"), "OK", "MULTI")
        expect(c.call("SET", "k", "y"), "QUEUED", "queued")
        expect(c.call("EXEC"), None, "a change in db 4 aborts")
        c.close()
        r.close()
        other.close()
    finally:
        stop_ok(s)


def test_sync_modes():
    for mode in ("everysec", "no"):
        s = server("sync-" + mode, extra=["--sync", mode])
        try:
            r = client(s.port)
            for i in range(500):
                r.set("k%d" % i, i)
            expect(r.config_get("sync"), {"sync": mode}, "sync mode")
            if mode == "everysec":
                deadline = time.time() + 10 * svtest.SLOW
                while time.time() < deadline and r.info("persistence")["strata_unsynced_writes"]:
                    time.sleep(0.2)
                expect(r.info("persistence")["strata_unsynced_writes"], 0,
                       "everysec synced the log within a few seconds")
            r.close()
        finally:
            s.kill()  # a crash: nothing acknowledged may be lost either way
        s = svtest.strata_server(os.path.join(WORK, "sync-" + mode))
        try:
            r = client(s.port)
            expect(r.mget(["k%d" % i for i in range(500)]), [str(i).encode() for i in range(500)],
                   "sync %s: every acknowledged write after SIGKILL" % mode)
            r.close()
        finally:
            stop_ok(s)


TESTS = [test_select_isolation, test_expiry, test_multi_exec_atomic, test_watch, test_sync_modes]

if __name__ == "__main__":
    try:
        svtest.main(TESTS, "features_test")
    finally:
        if not os.environ.get("STRATA_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
