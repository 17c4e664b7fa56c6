#!/usr/bin/env python3
"""The strata package on real data that ships with Debian (run by `make demo`).

Loads the word list /usr/share/dict/words into a fresh database through the
Python API (write batches), then: looks words up, scans a prefix forwards and
backwards, keeps a per-letter count in a sub-database with a transaction, reads a
value with buffers=True, reopens the database through strata.plyvel, through
strata.lmdb, and with Debian's own python3-plyvel (LevelDB 1.23) in another
process. Checks every answer against what it computes itself; prints a summary
and exits 1 if a check fails.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import strata

WORDS = "/usr/share/dict/words"
failures = 0


def check(what, got, want):
    global failures
    if got == want:
        print("  ok   %s: %s" % (what, got if len(repr(got)) < 60 else repr(got)[:57] + "..."))
    else:
        failures += 1
        print("  FAIL %s: got %r, want %r" % (what, got, want))


def main():
    if not os.path.exists(WORDS):
        print("demo.py: %s is missing (apt-get install wamerican)" % WORDS)
        return 2
    with open(WORDS, "rb") as f:
        words = [w.rstrip(b"\n") for w in f if w.strip()]
    work = tempfile.mkdtemp(prefix="strata-pydemo-")
    path = os.path.join(work, "db")
    try:
        print("strata %s (Python package; engine %s, features %s)"
              % (strata.__version__, strata.__strata_version__, sorted(strata.FEATURES)))
        t = time.perf_counter()
        with strata.DB(path, create_if_missing=True, bloom_filter_bits=10) as db:
            for i in range(0, len(words), 5000):
                with db.write_batch() as wb:
                    for n, w in enumerate(words[i:i + 5000], i + 1):
                        wb.put(b"word/" + w, b"%d" % n)
            load = time.perf_counter() - t
            print("loaded %d words in %.2f s (%.0f words/s)" % (len(words), load,
                                                               len(words) / load))
            t = time.perf_counter()
            sample = words[::37]
            ok = sum(db.get(b"word/" + w) is not None for w in sample)
            got = time.perf_counter() - t
            check("gets of %d words (%.1f us each)" % (len(sample), got / len(sample) * 1e6),
                  ok, len(sample))
            check("a word that is not there", db.get(b"word/zzzzqqq"), None)
            want = sorted(w for w in set(words) if w.startswith(b"hyd"))
            got = [k[5:] for k in db.iterator(prefix=b"word/hyd", include_value=False)]
            check("prefix scan word/hyd", got, want)
            got = [k[5:] for k in db.iterator(prefix=b"word/hyd", reverse=True,
                                               include_value=False)]
            check("reverse prefix scan", got, want[::-1])
            words_db = db.prefixed_db(b"word/")
            check("prefixed_db count", sum(1 for _ in words_db), len(set(words)))
            v = db.get(b"word/" + words[0], buffers=True)
            check("buffers=True read (memoryview)", (type(v).__name__, bytes(v)),
                  ("memoryview", b"1"))
            if {"txn", "subdb"} <= strata.FEATURES:
                letters = db.open_db("letters")
                with db.begin(write=True) as txn:
                    counts = {}
                    for w in set(words):
                        counts[w[:1]] = counts.get(w[:1], 0) + 1
                    for c, n in counts.items():
                        txn.put(c, b"%d" % n, db=letters)
                check("sub-database written in one transaction",
                      int(letters.get(b"a") or 0), counts.get(b"a", 0))
            st = db.stat()
            print("  stat: %d tables, %d bytes in tables" % (st["files"], st["bytes"]))
        # the same files through the drop-in modules and Debian's LevelDB binding
        import strata.plyvel as plyvel
        with plyvel.DB(path) as db:
            check("strata.plyvel reads it", db.get(b"word/" + words[-1]), b"%d" % len(words))
        if {"txn", "subdb"} <= strata.FEATURES:
            import strata.lmdb as lmdb
            with lmdb.open(path, max_dbs=1) as env, env.begin() as txn:
                cur = txn.cursor()
                cur.set_range(b"word/hyd")
                check("strata.lmdb cursor", cur.key()[5:], want[0])
        code = ("import plyvel, sys\n"
                "db = plyvel.DB(sys.argv[1])\n"
                "print(sum(1 for _ in db.iterator(prefix=b'word/', include_value=False)))\n")
        try:
            r = subprocess.run([sys.executable, "-c", code, path], capture_output=True,
                               text=True, timeout=120, env=dict(os.environ, PYTHONPATH=""))
            if r.returncode == 0:
                check("Debian's python3-plyvel (LevelDB 1.23) reads it", int(r.stdout),
                      len(set(words)))
            else:
                print("  skip Debian's plyvel: %s" % r.stderr.strip().splitlines()[-1:])
        except OSError as e:
            print("  skip Debian's plyvel: %s" % e)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("python demo: %s" % ("all checks passed" if not failures else
                               "%d check(s) FAILED" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
