#!/usr/bin/env python3
"""Benchmark of the strata package against Debian's python3-plyvel (LevelDB 1.23),
python3-lmdb (py-lmdb over LMDB) and the standard library's sqlite3, from Python.

Every engine runs the same workloads on the same data, interleaved: each round
runs every workload on every engine (the engine order rotates between rounds),
so a noisy machine hits all engines alike. Reported: the median µs per
operation over the rounds, with min-max, and each peer's median divided by
strata's (above 1: strata is faster).

Workloads (N entries of 16-byte keys and 100-byte values, written in random
order; each engine in its own fresh directory):
  put            N single puts (plyvel/strata: db.put; lmdb: one write
                 transaction per put; sqlite3: one autocommit INSERT per put)
  put_batch      N puts in batches of 1000 (write_batch; one write transaction
                 per batch; one SQL transaction per batch with executemany)
  put_sync       --sync-ops single puts, each durable before it returns
                 (sync=True; lmdb sync=True; sqlite3 synchronous=FULL)
  get_hit        N random gets of present keys (lmdb: inside one read
                 transaction per 1000 gets, py-lmdb's fast path)
  get_miss       N random gets of absent keys
  iter_fwd       a full forward iteration of (key, value) pairs
  iter_rev       a full reverse iteration
  prefix_scan    256 prefix scans covering the whole database
  put_1mib       --big values of 1 MiB
  get_1mib       random gets of the 1 MiB values, copying (bytes)
  get_1mib_buf   the same with buffers=True (strata, lmdb: memoryviews, no copy)

Before the reads, strata and plyvel compact their database (untimed): the reads then
measure the settled state of an LSM tree, not its background compactions racing the
timed loop (LMDB and SQLite have no such work).

Durability is the same for every engine in each workload: put and put_batch
never fsync (lmdb sync=False, sqlite3 synchronous=OFF with WAL), so a process
crash loses nothing acknowledged by strata, plyvel or sqlite3's WAL and a
machine crash may lose the latest writes; put_sync syncs every write.

The typed suite (--suite typed, bench_typed.py beside this file) measures
strata.typed.LevelDB, local and through a strata-server, against openleveldb's way
of doing the same: plyvel with its encoding in Python, and its Flask server.

Usage: bench.py [--suite raw,typed] [--n N] [--rounds R] [--big B] [--sync-ops S]
                [--dir DIR] [--engines strata,plyvel,lmdb,sqlite3] [--out PREFIX]
                [--typed-n N] [--flask-n N] [--server PATH]
                [--typed-engines typed,typed-remote,plyvel+py,flask]
Writes PREFIX.json, PREFIX.md (the table) and PREFIX.png (the chart; needs
gnuplot) when --out is given, and PREFIX-typed.json, PREFIX-typed.md for the
typed suite.
"""

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

KEY = 16
VAL = 100
BATCH = 1000
MIB = 1 << 20


def keyfmt(i):
    return b"%016d" % i


# ---------------------------------------------------------------------------
# Engines: each class opens a fresh database in a directory and offers the
# operations the workloads need, written the way that library's users write
# them.


class Strata:
    name = "strata"

    def __init__(self, path, sync_path=False):
        import strata
        self.db = strata.DB(path, create_if_missing=True)

    def put_each(self, items):
        put = self.db.put
        for k, v in items:
            put(k, v)

    def put_sync(self, items):
        put = self.db.put
        for k, v in items:
            put(k, v, sync=True)

    def put_batches(self, items):
        for i in range(0, len(items), BATCH):
            with self.db.write_batch() as wb:
                put = wb.put
                for k, v in items[i:i + BATCH]:
                    put(k, v)

    def get_each(self, keys):
        get = self.db.get
        for k in keys:
            get(k)

    def get_each_buffers(self, keys):
        get = self.db.get
        for k in keys:
            get(k, buffers=True)

    def iterate(self, reverse):
        n = 0
        for _k, _v in self.db.iterator(reverse=reverse):
            n += 1
        return n

    def prefix_scan(self, prefixes):
        n = 0
        it = self.db.iterator
        for p in prefixes:
            for _k, _v in it(prefix=p):
                n += 1
        return n

    def settle(self):
        # untimed, before the reads: an LSM tree's background compactions finish
        # (LMDB's and SQLite's B-trees have none)
        self.db.compact_range()

    def close(self):
        self.db.close()


class Plyvel(Strata):
    name = "plyvel"

    def __init__(self, path):
        import plyvel
        self.db = plyvel.DB(path, create_if_missing=True)

    get_each_buffers = None  # plyvel has no zero-copy reads


class Lmdb:
    name = "lmdb"

    def __init__(self, path):
        import lmdb
        self.lmdb = lmdb
        # sync=False / metasync=False: commits are not fsynced (as put/put_batch
        # of the others); put_sync opens its own synced environment.
        self.env = lmdb.open(path, map_size=16 << 30, sync=False, metasync=False,
                             writemap=False, max_dbs=0)
        self.path = path

    def put_each(self, items):
        begin = self.env.begin
        for k, v in items:
            with begin(write=True) as txn:
                txn.put(k, v)

    def put_sync(self, items):
        self.env.close()
        self.env = self.lmdb.open(self.path, map_size=16 << 30, sync=True, metasync=True)
        begin = self.env.begin
        for k, v in items:
            with begin(write=True) as txn:
                txn.put(k, v)

    def put_batches(self, items):
        for i in range(0, len(items), BATCH):
            with self.env.begin(write=True) as txn:
                put = txn.put
                for k, v in items[i:i + BATCH]:
                    put(k, v)

    def _gets(self, keys, buffers):
        for i in range(0, len(keys), BATCH):
            with self.env.begin(buffers=buffers) as txn:
                get = txn.get
                for k in keys[i:i + BATCH]:
                    get(k)

    def get_each(self, keys):
        self._gets(keys, False)

    def get_each_buffers(self, keys):
        self._gets(keys, True)

    def iterate(self, reverse):
        n = 0
        with self.env.begin() as txn:
            cur = txn.cursor()
            if reverse:
                cur.last()
                for _k, _v in cur.iterprev():
                    n += 1
            else:
                for _k, _v in cur:
                    n += 1
        return n

    def prefix_scan(self, prefixes):
        n = 0
        with self.env.begin() as txn:
            cur = txn.cursor()
            for p in prefixes:
                if not cur.set_range(p):
                    continue
                for k, _v in cur:
                    if not k.startswith(p):
                        break
                    n += 1
        return n

    def settle(self):
        pass

    def close(self):
        self.env.close()


class Sqlite:
    name = "sqlite3"

    def __init__(self, path):
        os.makedirs(path, exist_ok=True)
        self.file = os.path.join(path, "db.sqlite")
        self.con = sqlite3.connect(self.file, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=OFF")
        self.con.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")

    def put_each(self, items):
        ex = self.con.execute
        for k, v in items:
            ex("INSERT OR REPLACE INTO kv VALUES (?, ?)", (k, v))

    def put_sync(self, items):
        self.con.execute("PRAGMA synchronous=FULL")
        self.put_each(items)
        self.con.execute("PRAGMA synchronous=OFF")

    def put_batches(self, items):
        for i in range(0, len(items), BATCH):
            self.con.execute("BEGIN")
            self.con.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", items[i:i + BATCH])
            self.con.execute("COMMIT")

    def get_each(self, keys):
        ex = self.con.execute
        for k in keys:
            ex("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()

    get_each_buffers = None

    def iterate(self, reverse):
        n = 0
        q = "SELECT k, v FROM kv ORDER BY k" + (" DESC" if reverse else "")
        for _k, _v in self.con.execute(q):
            n += 1
        return n

    def prefix_scan(self, prefixes):
        n = 0
        ex = self.con.execute
        for p in prefixes:
            hi = p[:-1] + bytes([p[-1] + 1])
            for _k, _v in ex("SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k", (p, hi)):
                n += 1
        return n

    def settle(self):
        pass

    def close(self):
        self.con.close()


ENGINES = {"strata": Strata, "plyvel": Plyvel, "lmdb": Lmdb, "sqlite3": Sqlite}

WORKLOADS = ["put", "put_batch", "put_sync", "get_hit", "get_miss", "iter_fwd", "iter_rev",
             "prefix_scan", "put_1mib", "get_1mib", "get_1mib_buf"]


def timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def run_round(cls, base, data):
    """Runs every workload once on a fresh database of engine cls; returns
    {workload: µs per op}."""
    res = {}
    path = os.path.join(base, cls.name)
    shutil.rmtree(path, ignore_errors=True)
    e = cls(path)
    try:
        n = len(data["items"])
        res["put"] = timed(e.put_each, data["items"]) / n * 1e6
        e.close()
        shutil.rmtree(path, ignore_errors=True)
        e = cls(path)
        res["put_batch"] = timed(e.put_batches, data["items"]) / n * 1e6
        e.settle()
        res["get_hit"] = timed(e.get_each, data["hits"]) / len(data["hits"]) * 1e6
        res["get_miss"] = timed(e.get_each, data["misses"]) / len(data["misses"]) * 1e6
        t = time.perf_counter()
        assert e.iterate(False) == n
        res["iter_fwd"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        assert e.iterate(True) == n
        res["iter_rev"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        assert e.prefix_scan(data["prefixes"]) == n
        res["prefix_scan"] = (time.perf_counter() - t) / n * 1e6
        big = data["big"]
        res["put_1mib"] = timed(e.put_each, big) / len(big) * 1e6
        res["get_1mib"] = timed(e.get_each, data["big_reads"]) / len(data["big_reads"]) * 1e6
        if e.get_each_buffers is not None:
            res["get_1mib_buf"] = (timed(e.get_each_buffers, data["big_reads"])
                                   / len(data["big_reads"]) * 1e6)
        # last: lmdb's put_sync reopens its environment synced
        res["put_sync"] = timed(e.put_sync, data["sync_items"]) / len(data["sync_items"]) * 1e6
    finally:
        e.close()
        shutil.rmtree(path, ignore_errors=True)
    return res


def make_data(n, big, sync_ops, seed=301):
    rnd = random.Random(seed)
    order = list(range(n))
    rnd.shuffle(order)
    val = bytes(rnd.getrandbits(8) for _ in range(VAL))
    items = [(keyfmt(2 * i), val) for i in order]  # even numbers present
    hits = [keyfmt(2 * rnd.randrange(n)) for _ in range(n)]
    misses = [keyfmt(2 * rnd.randrange(n) + 1) for _ in range(n)]
    prefixes = _prefixes(n)
    bigval = os.urandom(MIB)
    bigs = [(b"big%05d" % i, bigval) for i in range(big)]
    big_reads = [bigs[rnd.randrange(big)][0] for _ in range(big * 4)]
    sync_items = [(b"sync%08d" % i, val) for i in range(sync_ops)]
    return {"items": items, "hits": hits, "misses": misses, "prefixes": prefixes,
            "big": bigs, "big_reads": big_reads, "sync_items": sync_items}


def _prefixes(n):
    """Disjoint prefixes covering every key of the database exactly once."""
    keys_max = keyfmt(2 * (n - 1))
    # keys are zero-padded decimals: group by all digits but the last d
    d = 1
    while (2 * n) // (10 ** d) > 256:
        d += 1
    out = []
    for hi in range(0, int(keys_max[:KEY - d]) + 1):
        out.append(b"%0*d" % (KEY - d, hi))
    return out


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def table(summary, engines):
    head = "| workload | " + " | ".join("%s µs/op (min-max)" % e for e in engines)
    head += " | " + " | ".join("%s / strata" % e for e in engines if e != "strata") + " |"
    lines = [head, "|---" * (len(engines) * 2) + "|"]
    for w in WORKLOADS:
        row = summary.get(w, {})
        cells = []
        for e in engines:
            s = row.get(e)
            cells.append("%s (%s-%s)" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))
                         if s else "-")
        ratios = []
        base = row.get("strata")
        for e in engines:
            if e == "strata":
                continue
            s = row.get(e)
            ratios.append("%.2fx" % (s["median"] / base["median"]) if s and base else "-")
        lines.append("| %s | %s | %s |" % (w, " | ".join(cells), " | ".join(ratios)))
    # strata's buffers against its own copying reads
    if "get_1mib" in summary and "get_1mib_buf" in summary and "strata" in summary["get_1mib"]:
        lines.append("")
        lines.append("strata get_1mib / get_1mib_buf (copying / buffers=True): %.1fx" % (
            summary["get_1mib"]["strata"]["median"] / summary["get_1mib_buf"]["strata"]["median"]))
    return "\n".join(lines)


def plot(summary, engines, png, title):
    peers = [e for e in engines if e != "strata"]
    rows = []
    for w in WORKLOADS:
        base = summary.get(w, {}).get("strata")
        if not base:
            continue
        vals = []
        for e in peers:
            s = summary[w].get(e)
            vals.append("%.4f" % (s["median"] / base["median"]) if s else "NaN")
        rows.append("%s %s" % (w, " ".join(vals)))
    n = len(rows)
    script = (
        "set terminal pngcairo size %d,640 noenhanced\n"
        "set output '%s'\n"
        "set title '%s'\n"
        "set logscale y 2\nset ylabel 'peer µs/op / strata µs/op (log scale)'\nset grid ytics\n"
        "set xtics rotate by -40 nomirror\nset xrange [-0.6:%d.6]\n"
        "set key outside top center horizontal autotitle columnheader\n"
        "set style fill solid 0.8 border -1\n"
        "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2\n"
        "bw = 0.8 / %d\nx(i) = $0 + (i - 2 - (%d - 1) / 2.0) * bw\n"
        "$d << EOD\nworkload %s\n%s\nEOD\n"
        "plot for [i=2:%d] $d using (x(i)):(column(i)):(x(i) - bw / 2):(x(i) + bw / 2):(1):"
        "(column(i)) with boxxyerror, \\\n"
        "  $d using 0:(1):xtic(1) with points pt -1 notitle\n"
        % (400 + 70 * n, png.replace("'", "''"), title.replace("'", "''"), n - 1, len(peers),
           len(peers), " ".join(peers), "\n".join(rows), len(peers) + 1))
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("bench: no chart (gnuplot: %s)" % e, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big", type=int, default=64)
    ap.add_argument("--sync-ops", type=int, default=200)
    ap.add_argument("--dir", default=None, help="scratch directory (default: $TMPDIR or /tmp)")
    ap.add_argument("--engines", default="strata,plyvel,lmdb,sqlite3")
    ap.add_argument("--out", default=None)
    ap.add_argument("--suite", default="raw,typed", help="raw (bytes), typed (strata.typed)")
    ap.add_argument("--typed-n", type=int, default=20000, help="typed suite: values per type")
    ap.add_argument("--flask-n", type=int, default=300,
                    help="typed suite: operations per workload of the Flask peer")
    ap.add_argument("--typed-engines", default="typed,typed-remote,plyvel+py,flask")
    ap.add_argument("--server", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build",
        "strata-server"), help="typed suite: the strata-server binary")
    args = ap.parse_args()
    suites = args.suite.split(",")
    for s in suites:
        if s not in ("raw", "typed"):
            ap.error("unknown suite %r" % s)
    engines = args.engines.split(",")
    for e in engines:
        if e not in ENGINES:
            ap.error("unknown engine %r" % e)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if "raw" in suites:
        run_raw(args, engines)
    if "typed" in suites:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_typed
        args.base = tempfile.mkdtemp(prefix="strata-pybench-typed-", dir=args.dir)
        try:
            text = bench_typed.run(args, args.out + "-typed" if args.out else None)
        finally:
            shutil.rmtree(args.base, ignore_errors=True)
        print()
        print(text)


def run_raw(args, engines):
    base = tempfile.mkdtemp(prefix="strata-pybench-", dir=args.dir)
    print("bench: n=%d rounds=%d big=%d sync_ops=%d dir=%s" % (args.n, args.rounds, args.big,
                                                              args.sync_ops, base), flush=True)
    data = make_data(args.n, args.big, args.sync_ops)
    runs = {w: {e: [] for e in engines} for w in WORKLOADS}
    try:
        for r in range(args.rounds):
            order = engines[r % len(engines):] + engines[:r % len(engines)]
            for e in order:
                res = run_round(ENGINES[e], base, data)
                for w, v in res.items():
                    runs[w][e].append(v)
                print("round %d %-8s %s" % (r + 1, e, " ".join("%s=%s" % (w, fmt(v))
                                                               for w, v in res.items())),
                      flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    summary = {w: {e: stats(v) for e, v in row.items() if v} for w, row in runs.items()}
    text = table(summary, engines)
    print()
    print(text)
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump({"args": vars(args), "runs": runs, "summary": summary}, f, indent=1)
        with open(args.out + ".md", "w") as f:
            f.write(text + "\n")
        plot(summary, engines, args.out + ".png",
             "peer µs/op / strata µs/op (above 1: strata is faster); n=%d, %d rounds"
             % (args.n, args.rounds))


if __name__ == "__main__":
    main()
