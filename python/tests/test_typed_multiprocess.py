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

import pytest

from strata.typed import LevelDB

from conftest import SCALE
from typed_worker import COUNTERS, PROCS, counter_of, plan, worker


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_share_one_database_through_the_server(server, method):
    server.flush()
    ctx = multiprocessing.get_context(method)
    db = LevelDB(server.dir, server.url)
    try:
        db["warm"] = 1  # the parent's pool holds a connection the children must not use
        barrier = ctx.Barrier(PROCS)
        procs = [ctx.Process(target=worker, args=(db, i, barrier, SCALE)) for i in range(PROCS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(300)
        assert [p.exitcode for p in procs] == [0] * PROCS
        own, incs = plan(SCALE)
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
