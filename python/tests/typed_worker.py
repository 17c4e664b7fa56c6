"""The worker of test_typed_multiprocess.py, in a module of its own so that a
spawned child imports only this and strata (not pytest, Hypothesis and the test
module's fixtures)."""

import sys
import traceback

import strata

PROCS = 4
COUNTERS = 5


def plan(scale):
    """(own keys, increments) per process at the test scale (0.25 under ASan)."""
    return max(40, int(150 * scale)), max(8, int(25 * scale))


def counter_of(i, t):
    return "%d" % ((i + t) % COUNTERS)


def worker(db, i, barrier, scale):
    """Process i's part (see test_typed_multiprocess.py); raises on a mismatch."""
    try:
        own, incs = plan(scale)
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
