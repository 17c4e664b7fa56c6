"""The typed object store's benchmark (bench.py --suite typed): strata.typed.LevelDB,
local and through a strata-server on loopback, against the same operations done
the openleveldb way, interleaved in one run.

Engines:
  typed         strata.typed.LevelDB(path): the codec in C, over the engine
  typed-remote  strata.typed.LevelDB(None, "redis://127.0.0.1:PORT"): a
                strata-server (--sync no, as the local puts: acknowledged writes
                are in the OS) started here on loopback
  plyvel+py     Debian's python3-plyvel (LevelDB 1.23) with openleveldb's encoding
                done in Python the way openleveldb does it: functools.singledispatch
                over bytes / int / str / numpy.ndarray with JSON (python-rapidjson)
                for the rest, int.to_bytes(16), numpy.save / numpy.load through
                BytesIO, the tag looked up on decode; str keys encoded to UTF-8
  flask         openleveldb's remote mode as it is built: a Flask server (Debian's
                python3-flask, werkzeug's threaded server) that opens the plyvel
                database for each request and closes it at the request's end,
                reached with python3-requests, one HTTP request per operation and
                one for a whole iteration (a pickled list); --flask-n operations

Workloads (keys "x%08d" written in random order; ints, ~30-character str,
small dicts of four fields, (3, 10) float64 arrays as in openleveldb's tests):
  put_int put_str put_dict    db[key] = value, one at a time
  put_dict_batch              the same in batches of 1000 (typed: db.batch();
                              plyvel+py: plyvel's write_batch)
  put_array                   --n / 10 arrays
  get_int get_str get_dict    db[key] of present keys, random order
  get_array                   db[key] of the arrays (a fresh writable array)
  get_array_buf               typed only: db.get(key, buffers=True) (a read-only
                              view of the engine's memory or of the reply)
  iter                        every (key, value) of the database, decoded; µs per
                              entry
  len                         len(db); µs per entry counted (typed-remote: the
                              server counts, DBSIZE)

Before the reads the local databases compact (untimed), as in the raw suite: the
reads measure an LSM tree's settled state, not its compactions racing the loop.

Reported: the median µs per operation over the rounds (min-max), and the ratios
the targets of issue 11 name: plyvel+py / typed (at least 3x on put and get of
ints, str and dicts, 10x on get_array and iter), flask / typed-remote (at least
20x per operation), and typed-remote / typed (what the network costs).
"""

import enum
import functools
import io
import os
import pickle
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time

BATCH = 1000

WORKLOADS = ["put_int", "put_str", "put_dict", "put_dict_batch", "put_array", "get_int",
             "get_str", "get_dict", "get_array", "get_array_buf", "iter", "len"]
RATIOS = [("plyvel+py", "typed"), ("flask", "typed-remote"), ("typed-remote", "typed")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc):
    """SIGTERM to the process we started (its pid), then a bounded wait."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


# ---------------------------------------------------------------------------
# openleveldb's encoding, done in Python as openleveldb 0.1.5 structures it: an
# encoder picked by functools.singledispatch on the value's type; on decode the
# tag looked up among the members of an Enum whose members carry their
# functions (functools.partial objects of int.to_bytes / int.from_bytes,
# str.encode / bytes.decode); keys through the same str codec. openleveldb's own
# layers above this (a connector object made per call, key parts normalized by
# a generator with ABC checks) are left out: the ratios against openleveldb
# itself are higher than against this peer.


def _np():
    import numpy
    return numpy


@functools.singledispatch
def ol_encode(obj):
    import rapidjson
    return b"j" + rapidjson.dumps(obj).encode("utf-8")


@ol_encode.register
def _(obj: bytes):
    return b"b" + obj


_int_to = functools.partial(int.to_bytes, length=16, byteorder="big", signed=True)
_int_from = functools.partial(int.from_bytes, byteorder="big", signed=True)
_str_to = functools.partial(str.encode, encoding="utf-8")
_str_from = functools.partial(bytes.decode, encoding="utf-8")


@ol_encode.register
def _(obj: int):
    return b"i" + _int_to(obj)


@ol_encode.register
def _(obj: str):
    return b"s" + _str_to(obj)


def _encode_array(obj):
    f = io.BytesIO()
    _np().save(f, obj)
    return b"n" + f.getvalue()


def _register_numpy():
    ol_encode.register(_np().ndarray, _encode_array)


def _dec_json(b):
    import rapidjson
    return rapidjson.loads(b.decode("utf-8"))


class _Tag(enum.Enum):
    BYTES = b"b"
    INT = b"i"
    STR = b"s"
    NUMPY = b"n"
    JSON = b"j"


_DECODERS = {
    _Tag.BYTES: lambda b: b,
    _Tag.INT: _int_from,
    _Tag.STR: _str_from,
    _Tag.NUMPY: lambda b: _np().load(io.BytesIO(b)),
    _Tag.JSON: _dec_json,
}


def ol_decode(blob):
    return _DECODERS[_Tag(blob[:1])](blob[1:])


ol_key = _str_to
ol_key_decode = _str_from


# ---------------------------------------------------------------------------
# Engines


class Typed:
    name = "typed"

    def __init__(self, path, server):
        from strata.typed import LevelDB
        self.db = LevelDB(path)

    def put(self, items):
        db = self.db
        for k, v in items:
            db[k] = v

    def put_batches(self, items):
        for i in range(0, len(items), BATCH):
            with self.db.batch() as b:
                for k, v in items[i:i + BATCH]:
                    b[k] = v

    def get(self, keys):
        db = self.db
        for k in keys:
            db[k]

    def settle(self):
        self.db._db.compact_range()

    def get_buf(self, keys):
        get = self.db.get
        for k in keys:
            get(k, buffers=True)

    def iterate(self):
        n = 0
        for _k, _v in self.db:
            n += 1
        return n

    def length(self):
        return len(self.db)

    def close(self):
        self.db.close()


class TypedRemote(Typed):
    name = "typed-remote"

    def __init__(self, path, server):
        from strata.typed import LevelDB
        self.db = LevelDB(None, server.start(path))
        self.server = server

    def settle(self):
        pass  # the server's database settles by itself

    def close(self):
        self.db.close()
        self.server.stop()


class PlyvelPy:
    name = "plyvel+py"

    def __init__(self, path, server):
        import plyvel
        _register_numpy()
        self.db = plyvel.DB(path, create_if_missing=True)

    def put(self, items):
        put = self.db.put
        for k, v in items:
            put(ol_key(k), ol_encode(v))

    def put_batches(self, items):
        for i in range(0, len(items), BATCH):
            with self.db.write_batch() as wb:
                for k, v in items[i:i + BATCH]:
                    wb.put(ol_key(k), ol_encode(v))

    def get(self, keys):
        get = self.db.get
        for k in keys:
            v = get(ol_key(k))
            ol_decode(v) if v else None

    get_buf = None

    def settle(self):
        self.db.compact_range()

    def iterate(self):
        n = 0
        for k, v in self.db.iterator():
            ol_key_decode(k), ol_decode(v)
            n += 1
        return n

    def length(self):
        return sum(1 for k in self.db.iterator(include_value=False) if ol_key_decode(k) or 1)

    def close(self):
        self.db.close()


FLASK_APP = """
import logging, pickle, sys
import plyvel
from flask import Flask, Response, g, request

path, port = sys.argv[1], int(sys.argv[2])
app = Flask("openleveldb-style")
logging.getLogger("werkzeug").setLevel(logging.ERROR)

def db():
    if "db" not in g:
        g.db = plyvel.DB(path, create_if_missing=True)  # opened for each request
    return g.db

@app.teardown_appcontext
def close(error):
    d = g.pop("db", None)
    if d is not None:
        d.close()

@app.route("/setitem", methods=["POST"])
def setitem():
    db().put(request.args["key"].encode("utf-8"), request.get_data())
    return Response(request.args["key"], content_type="text")

@app.route("/getitem", methods=["GET"])
def getitem():
    return Response(db().get(request.args["key"].encode("utf-8"), b""),
                    content_type="application/octet-stream")

@app.route("/iterator", methods=["GET"])
def iterator():
    return Response(pickle.dumps(list(db().iterator())), content_type="application/octet-stream")

app.run(host="127.0.0.1", port=port, threaded=True)
"""


class Flask(PlyvelPy):
    name = "flask"

    def __init__(self, path, server):
        import requests
        _register_numpy()
        self.requests = requests
        self.port = free_port()
        self.log = open(path + ".flask.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(FLASK_APP), path,
                                      str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, self.proc):
            stop(self.proc)
            raise RuntimeError("the Flask server did not start (see %s)" % self.log.name)
        self.url = "http://127.0.0.1:%d" % self.port

    def put(self, items):
        post = self.requests.post
        for k, v in items:
            post(self.url + "/setitem", data=ol_encode(v), params={"key": k},
                 headers={"Content-Type": "application/octet-stream"}).raise_for_status()

    put_batches = None

    def settle(self):
        pass

    def get(self, keys):
        get = self.requests.get
        for k in keys:
            r = get(self.url + "/getitem", params={"key": k})
            r.raise_for_status()
            ol_decode(r.content) if r.content else None

    def iterate(self):
        r = self.requests.get(self.url + "/iterator")
        r.raise_for_status()
        n = 0
        for k, v in pickle.loads(r.content):
            ol_key_decode(k), ol_decode(v)
            n += 1
        return n

    length = None

    def close(self):
        stop(self.proc)
        self.log.close()


class Server:
    """strata-server for typed-remote, started per round on a fresh directory and
    stopped by its pid."""

    def __init__(self, binary):
        self.binary = binary
        self.proc = None

    def start(self, path):
        for _ in range(3):
            port = free_port()
            self.log = open(path + ".server.log", "wb")
            self.proc = subprocess.Popen(
                [self.binary, "--dir", path, "--port", str(port), "--bind", "127.0.0.1",
                 "--sync", "no"], stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True)
            if wait_port(port, self.proc):
                return "redis://127.0.0.1:%d" % port
            self.stop()
        raise RuntimeError("strata-server did not start (see %s)" % self.log.name)

    def stop(self):
        if self.proc is not None:
            stop(self.proc)
            self.log.close()
            self.proc = None


ENGINES = {c.name: c for c in (Typed, TypedRemote, PlyvelPy, Flask)}


# ---------------------------------------------------------------------------
# Data and rounds


def make_data(n, seed=11):
    import numpy as np
    rnd = random.Random(seed)

    def keyed(prefix, count):
        order = list(range(count))
        rnd.shuffle(order)
        return ["%s%08d" % (prefix, i) for i in order]

    ints = [(k, rnd.randrange(-2 ** 40, 2 ** 40)) for k in keyed("i", n)]
    strs = [(k, "value %d of the benchmark, ü" % rnd.randrange(10 ** 6)) for k in keyed("s", n)]
    dicts = [(k, {"id": i, "name": "user%d" % i, "score": i * 0.5, "tags": ["a", "b"]})
             for i, k in enumerate(keyed("d", n))]
    batch_dicts = [("b" + k[1:], v) for k, v in dicts]
    arrays = [(k, np.random.default_rng(i).random((3, 10))) for i, k in
              enumerate(keyed("n", max(1, n // 10)))]

    def reads(items):
        return [items[rnd.randrange(len(items))][0] for _ in range(len(items))]

    return {"put_int": ints, "put_str": strs, "put_dict": dicts, "put_dict_batch": batch_dicts,
            "put_array": arrays, "get_int": reads(ints), "get_str": reads(strs),
            "get_dict": reads(dicts), "get_array": reads(arrays)}


def cut(data, n):
    """The first n of every list (the Flask engine's smaller share)."""
    return {k: v[:n] for k, v in data.items()}


def timed(fn, *args):
    t = time.perf_counter()
    r = fn(*args)
    return time.perf_counter() - t, r


def run_round(cls, base, data, server):
    path = os.path.join(base, cls.name)
    shutil.rmtree(path, ignore_errors=True)
    e = cls(path, server)
    res = {}
    try:
        total = 0
        for w in ("put_int", "put_str", "put_dict", "put_array"):
            dt, _ = timed(e.put, data[w])
            res[w] = dt / len(data[w]) * 1e6
            total += len(data[w])
        if e.put_batches is not None:
            dt, _ = timed(e.put_batches, data["put_dict_batch"])
            res["put_dict_batch"] = dt / len(data["put_dict_batch"]) * 1e6
            total += len(data["put_dict_batch"])
        e.settle()
        for w in ("get_int", "get_str", "get_dict", "get_array"):
            dt, _ = timed(e.get, data[w])
            res[w] = dt / len(data[w]) * 1e6
        if e.get_buf is not None:
            dt, _ = timed(e.get_buf, data["get_array"])
            res["get_array_buf"] = dt / len(data["get_array"]) * 1e6
        dt, n = timed(e.iterate)
        assert n == total, (cls.name, n, total)
        res["iter"] = dt / n * 1e6
        if e.length is not None:
            dt, n = timed(e.length)
            assert n == total, (cls.name, n, total)
            res["len"] = dt / n * 1e6
    finally:
        e.close()
        shutil.rmtree(path, ignore_errors=True)
    return res


def fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def table(summary, engines):
    ratios = [(a, b) for a, b in RATIOS if a in engines and b in engines]
    head = "| workload | " + " | ".join("%s µs/op (min-max)" % e for e in engines)
    head += "".join(" | %s / %s" % r for r in ratios) + " |"
    lines = [head, "|---" * (1 + len(engines) + len(ratios)) + "|"]
    for w in WORKLOADS:
        row = summary.get(w, {})
        cells = ["%s (%s-%s)" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))
                 if (s := row.get(e)) else "-" for e in engines]
        rs = []
        for a, b in ratios:
            if row.get(a) and row.get(b):
                rs.append("%.1fx" % (row[a]["median"] / row[b]["median"]))
            else:
                rs.append("-")
        lines.append("| %s | %s | %s |" % (w, " | ".join(cells), " | ".join(rs)))
    return "\n".join(lines)


def run(args, out):
    """Runs the suite (args: n, rounds, flask_n, engines, server, dir); writes
    out.md and out.json when out is given; returns the table."""
    import json
    engines = [e for e in args.typed_engines.split(",") if e]
    for e in engines:
        if e not in ENGINES:
            raise SystemExit("bench: unknown typed engine %r (known: %s)"
                             % (e, ", ".join(ENGINES)))
    server = Server(args.server)
    if "typed-remote" in engines and not os.access(args.server, os.X_OK):
        raise SystemExit("bench: no strata-server at %s (make build, or --server PATH)"
                         % args.server)
    data = make_data(args.typed_n)
    flask_data = cut(data, args.flask_n)
    base = os.path.join(args.base, "typed")
    os.makedirs(base, exist_ok=True)
    print("bench typed: n=%d (arrays %d) flask_n=%d rounds=%d server=%s" % (
        args.typed_n, len(data["put_array"]), args.flask_n, args.rounds, args.server), flush=True)
    runs = {w: {e: [] for e in engines} for w in WORKLOADS}
    for r in range(args.rounds):
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        for e in order:
            res = run_round(ENGINES[e], base, flask_data if e == "flask" else data, server)
            for w, v in res.items():
                runs[w][e].append(v)
            print("round %d %-12s %s" % (r + 1, e, " ".join("%s=%s" % (w, fmt(v))
                                                             for w, v in res.items())),
                  flush=True)
    summary = {w: {e: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                   for e, v in row.items() if v} for w, row in runs.items()}
    text = table(summary, engines)
    if out:
        with open(out + ".json", "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "runs": runs,
                       "summary": summary}, f, indent=1)
        with open(out + ".md", "w") as f:
            f.write(text + "\n")
    return text
