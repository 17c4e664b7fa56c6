"""Scale-out: three strata-servers behind twemproxy (Debian's nutcracker).

Writes and reads go through the proxy (SET, GET, MSET, MGET, DEL, INCR, which
twemproxy shards by consistent hashing); every key must live on exactly one
backend; one backend is SIGKILLed and restarted on its port and database, and
its keys come back through the proxy. What twemproxy does not pass (SCAN, KEYS,
MULTI, the range commands) is checked to be refused, and the ordered scan over
all shards that doc/server.md describes (PKSCANRANGE on each backend, merged)
is checked against the keys written.

usage: /usr/bin/python3 nutcracker_test.py
"""

import heapq
import os
import shutil
import subprocess
import time

import redis

import svtest
from svtest import check, expect

WORK = svtest.scratch_dir("nutcracker")


def start_backend(i, port=None):
    d = os.path.join(WORK, "s%d" % i)
    os.makedirs(d, exist_ok=True)
    return svtest.strata_server(d, dbdir=os.path.join(d, "db"), port=port, name="strata")


def start_proxy(backends):
    port, stats = svtest.free_port(), svtest.free_port()
    conf = os.path.join(WORK, "nutcracker.yml")
    with open(conf, "w") as f:
        f.write("strata:\n"
                "  listen: 127.0.0.1:%d\n"
                "  hash: fnv1a_64\n"
                "  distribution: ketama\n"
                "  redis: true\n"
                "  auto_eject_hosts: false\n"
                "  timeout: %d\n"
                "  server_retry_timeout: 200\n"
                "  servers:\n" % (port, int(5000 * svtest.SLOW)))
        for i, b in enumerate(backends):
            f.write("   - 127.0.0.1:%d:1 shard%d\n" % (b.port, i))
    p = subprocess.run([svtest.NUTCRACKER, "-t", "-c", conf], capture_output=True)
    expect(p.returncode, 0, "nutcracker -t accepts the configuration (%s)" % p.stderr)
    args = [svtest.NUTCRACKER, "-c", conf, "-s", str(stats), "-a", "127.0.0.1",
            "-o", os.path.join(WORK, "nutcracker.log"), "-v", "5"]
    s = svtest.Server("nutcracker", args, port, WORK, os.path.join(WORK, "nutcracker.out"))
    return s.start()


def proxied(port):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10 * svtest.SLOW)


def ordered_scan_all_shards(backends, start="", end="", limit=100):
    """Every key of every shard in key order: PKSCANRANGE on each backend, merged."""
    def shard_keys(port):
        r = redis.Redis(host="127.0.0.1", port=port)
        nxt = start
        while True:
            nk, keys = r.execute_command("PKSCANRANGE", "string", nxt, end, "LIMIT", limit)
            yield from keys
            if not nk:
                break
            nxt = nk
        r.close()
    return list(heapq.merge(*[shard_keys(b.port) for b in backends]))


def test_sharding_and_restart():
    backends = [start_backend(i) for i in range(3)]
    proxy = None
    try:
        proxy = start_proxy(backends)
        r = proxied(proxy.port)
        keys = ["user:%04d" % i for i in range(1500)]
        for k in keys[:500]:
            check(r.set(k, k.upper()), "SET through the proxy")
        for i in range(500, 1500, 50):
            check(r.mset({k: k.upper() for k in keys[i:i + 50]}), "MSET through the proxy")
        expect(r.mget(keys[::7]), [k.upper().encode() for k in keys[::7]], "MGET across shards")
        expect(r.incr("counter"), 1, "INCR")
        expect(r.delete(*keys[:10]), 10, "DEL across shards")
        for k in keys[:10]:
            expect(r.get(k), None, "deleted")
        live = keys[10:] + ["counter"]
        # Every key on exactly one backend, and every backend used.
        owner = {}
        for i, b in enumerate(backends):
            c = redis.Redis(host="127.0.0.1", port=b.port)
            got = c.execute_command("KEYS", "*")
            for k in got:
                check(k.decode() not in owner, "%s on two backends" % k)
                owner[k.decode()] = i
            check(len(got) > 100, "backend %d holds a share (%d keys)" % (i, len(got)))
            c.close()
        expect(sorted(owner), sorted(live), "the backends hold exactly the keys written")
        # The ordered scan over all shards.
        expect([k.decode() for k in ordered_scan_all_shards(backends, limit=97)], sorted(live),
               "PKSCANRANGE on each shard, merged, is the whole key space in order")
        expect([k.decode() for k in ordered_scan_all_shards(backends, "user:0100", "user:0199")],
               ["user:%04d" % i for i in range(100, 200)], "a range over all shards")
        # What twemproxy does not pass: the proxy refuses (closes the connection).
        for cmd in (("SCAN", "0"), ("KEYS", "*"), ("MULTI",),
                    ("PKSCANRANGE", "string", "", "")):
            c = svtest.Conn(proxy.port)
            c.send(svtest.encode(*cmd))
            out, closed = c.drain(quiet=1)
            check(closed or out.startswith(b"-"), "%s through nutcracker: %r" % (cmd[0], out))
        # Kill one backend and bring it back on the same port and database.
        victim = 1
        vkeys = sorted(k for k, i in owner.items() if i == victim)
        port = backends[victim].port
        backends[victim].kill()
        backends[victim] = start_backend(victim, port=port)
        r = proxied(proxy.port)
        deadline = time.time() + 20 * svtest.SLOW
        while True:
            try:
                got = r.mget(vkeys)
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                check(time.time() < deadline, "the proxy reconnects to the restarted backend")
                time.sleep(0.2)
                r = proxied(proxy.port)
        expect(got, [(k.upper() if k != "counter" else "1").encode() for k in vkeys],
               "the restarted backend's %d keys come back through the proxy" % len(vkeys))
        r.close()
    finally:
        if proxy:
            proxy.stop()
        for b in backends:
            expect(b.stop(), 0, "backend exit status (log:\n%s)" % b.log())


if __name__ == "__main__":
    try:
        svtest.main([test_sharding_and_restart], "nutcracker_test")
    finally:
        if not os.environ.get("STRATA_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
