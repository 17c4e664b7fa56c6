"""Durability of acknowledged writes: strata-server (sync always) is SIGKILLed at a
random moment while 4 clients write, restarted on the same database, and every
write it acknowledged must be there; the one each client had in flight must be
there whole or not at all (an MSET of 3 keys is never torn); nothing never sent
may appear. 50 kill cycles (STRATA_DURABILITY_CYCLES for more).

usage: /usr/bin/python3 durability_test.py
"""

import os
import random
import shutil
import threading
import time

import svtest
from svtest import check, encode, expect

WORK = svtest.scratch_dir("durability")
SEED = svtest.seed()
CYCLES = int(os.environ.get("STRATA_DURABILITY_CYCLES", "50"))
WRITERS = 4


class Writer(threading.Thread):
    """Client t: op n is MSET w<t>:<n>:{a,b,c} (n even) or INCR c<t> (n odd)."""

    def __init__(self, port, t, start_n):
        super().__init__(daemon=True)
        self.port, self.t, self.n = port, t, start_n
        self.acked = start_n - 1  # last acknowledged op
        self.inflight = None      # op sent, not acknowledged
        self.incr_acked = 0
        self.error = None

    def op(self, n):
        if n % 2 == 0:
            v = "v%d.%d" % (self.t, n)
            return encode("MSET", "w%d:%d:a" % (self.t, n), v, "w%d:%d:b" % (self.t, n), v,
                          "w%d:%d:c" % (self.t, n), v)
        return encode("INCR", "c%d" % self.t)

    def run(self):
        try:
            c = svtest.Conn(self.port)
        except OSError:
            return
        try:
            while True:
                self.inflight = self.n
                c.send(self.op(self.n))
                r = c.reply()
                if isinstance(r, svtest.ReplyError):
                    self.error = "op %d answered %s" % (self.n, r)
                    return
                if self.n % 2:
                    self.incr_acked += 1
                    if r != self.incr_acked_total():
                        self.error = "INCR c%d answered %r, want %d" % (
                            self.t, r, self.incr_acked_total())
                        return
                self.acked = self.n
                self.inflight = None
                self.n += 1
        except (OSError, svtest.Failure):
            return  # the server was killed

    def incr_acked_total(self):
        return self.base_incr + self.incr_acked


def verify(port, writers, counters):
    c = svtest.Conn(port)
    for w in writers:
        t = w.t
        # Every acknowledged MSET, whole.
        ops = [n for n in range(w.first, w.acked + 1) if n % 2 == 0]
        for i in range(0, len(ops), 300):
            keys = []
            for n in ops[i:i + 300]:
                keys += ["w%d:%d:%s" % (t, n, s) for s in "abc"]
            got = c.call("MGET", *keys)
            for k, v in zip(keys, got):
                n = int(k.split(":")[1])
                if v != ("v%d.%d" % (t, n)).encode():
                    raise svtest.Failure("acknowledged write lost: %s = %r (writer %d acked op "
                                         "%d)" % (k, v, t, w.acked))
        # The op in flight: whole or absent; the next one: absent.
        nxt = w.acked + 1
        for n in (nxt, nxt + 1, nxt + 2):
            if n % 2:
                continue
            got = c.call("MGET", *["w%d:%d:%s" % (t, n, s) for s in "abc"])
            present = sum(1 for v in got if v is not None)
            if n == w.inflight:
                check(present in (0, 3), "op %d of writer %d torn: %r" % (n, t, got))
                w.inflight_applied = present == 3
            else:
                expect(present, 0, "writer %d op %d was never sent" % (t, n))
        # The counter: every acknowledged INCR, plus maybe the one in flight.
        v = c.call("GET", "c%d" % t)
        v = int(v) if v is not None else 0
        lo = w.incr_acked_total()
        hi = lo + (1 if (w.inflight is not None and w.inflight % 2) else 0)
        check(lo <= v <= hi, "counter c%d = %d, want %d..%d" % (t, v, lo, hi))
        counters[t] = v
        if w.inflight is not None and w.inflight % 2 == 0:
            applied = getattr(w, "inflight_applied", False)
        else:
            applied = v == hi and hi > lo
        w.next_start = w.inflight + 1 if (w.inflight is not None and applied) else w.acked + 1
    c.close()


def test_sigkill_cycles():
    rnd = random.Random(SEED)
    db = os.path.join(WORK, "db")
    counters = {t: 0 for t in range(WRITERS)}
    next_n = {t: 0 for t in range(WRITERS)}
    total = 0
    s = None
    for cycle in range(CYCLES):
        s = svtest.strata_server(WORK, dbdir=db, extra=["--sync", "always"],
                                 name="strata-%d" % cycle)
        writers = []
        for t in range(WRITERS):
            w = Writer(s.port, t, next_n[t])
            w.first = next_n[t]
            w.base_incr = counters[t]
            writers.append(w)
        for w in writers:
            w.start()
        time.sleep(rnd.uniform(0.05, 0.4) * svtest.SLOW)
        s.kill()
        for w in writers:
            w.join(10)
            check(not w.is_alive(), "writer %d did not stop after the kill" % w.t)
            check(w.error is None, "writer %d: %s" % (w.t, w.error))
        s = svtest.strata_server(WORK, dbdir=db, name="strata-%d-check" % cycle)
        verify(s.port, writers, counters)
        for w in writers:
            total += w.acked - w.first + 1
            next_n[w.t] = w.next_start
        if cycle < CYCLES - 1:
            s.kill()  # the check server dies too: recovery of an idle log
    print("  %d cycles, %d acknowledged writes checked" % (CYCLES, total), flush=True)
    check(total > CYCLES, "the writers wrote (%d acknowledged ops)" % total)
    expect(s.stop(), 0, "final clean stop (log:\n%s)" % s.log())


if __name__ == "__main__":
    try:
        svtest.main([test_sigkill_cycles], "durability_test")
    finally:
        if not os.environ.get("STRATA_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)
