"""Several processes (multiprocessing, fork and spawn) reading and writing one
database through one strata-server with strata.typed.LevelDB: no lost write, and
every process sees the others' acknowledged writes.

Each process gets the parent's LevelDB object itself: inherited by fork
(its connection pool starts afresh in the child), pickled by spawn (its address
travels). Each writes keys of its own, increments shared counters in
transactions (retrying on ConflictError), and overwrites one shared key; after
a barrier it reads every other process's keys. The final state must equal the
model."""

import multiprocessing
import sys
import traceback

import pytest

import strata
from strata.typed import LevelDB

from conftest import scaled

PROCS = 4
COUNTERS = 5


def plan():
    return scaled(150, 40), scaled(25, 8)  # own keys, increments per process


def counter_of(i, t):
    return "%d" % ((i + t) % COUNTERS)


def worker(db, i, barrier):
    try:
        own, incs = plan()
        mine = db["proc%d" % i, ...]
        for j in range(own):
            if j % 10 == 0:
                with mine.batch() as b:  # a batch now and then
                    b["%05d" % j] = {"proc": i, "j": j}
            else:
                mine["%05d" % j] = {"proc": i, "j": j}
        counters = db["counter", ...]
        for t in range(incs):
            c = counter_of(i, t)
            while True:
                try:
                    with counters.transaction() as txn:
                        txn[c] = (txn[c] or 0) + 1
                    break
                except strata.ConflictError:
                    continue
            db["last"] = i
        barrier.wait(120)
        # every other process's acknowledged writes are visible here
        for p in range(PROCS):
            view = db["proc%d" % p, ...]
            assert len(view) == own, (p, len(view))
            assert [v["j"] for v in view.values()] == list(range(own))
            assert all(v["proc"] == p for v in view.values())
            assert view["%05d" % (own - 1)] == {"proc": p, "j": own - 1}
        db.close()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        raise


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_share_one_database_through_the_server(server, method):
    server.flush()
    ctx = multiprocessing.get_context(method)
    db = LevelDB(server.dir, server.url)
    try:
        db["warm"] = 1  # the parent's pool holds a connection the children must not use
        barrier = ctx.Barrier(PROCS)
        procs = [ctx.Process(target=worker, args=(db, i, barrier)) for i in range(PROCS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(300)
        assert [p.exitcode for p in procs] == [0] * PROCS
        own, incs = plan()
        want = {"counter%d" % c: 0 for c in range(COUNTERS)}
        for i in range(PROCS):
            for t in range(incs):
                want["counter" + counter_of(i, t)] += 1
        got = dict(db.prefixed_iter(starting_by="counter"))
        assert got == {k: v for k, v in want.items() if v}
        assert db["last"] in range(PROCS)
        for i in range(PROCS):
            assert dict(db["proc%d" % i, ...]) == {"%05d" % j: {"proc": i, "j": j}
                                                  for j in range(own)}
        assert len(db) == PROCS * own + len(got) + 2
        assert db["warm"] == 1  # the parent's own connection still works
    finally:
        db.close()
