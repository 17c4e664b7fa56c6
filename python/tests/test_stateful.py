"""A Hypothesis state machine against a dict model: puts, deletes, batches
(including transaction=True batches that raise), snapshots, iterators in both
directions with every bound option, raw iterators, reopen, and -- when the
engine has them -- transactions (commit, abort, conflict) and sub-databases."""

import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import strata

from conftest import scaled

keys = st.binary(min_size=0, max_size=3).map(lambda b: b.replace(b"\xff\xff", b"\xfe"))
values = st.binary(max_size=40)
bounds = st.one_of(st.none(), keys)


def in_range(k, start, stop, inc_start, inc_stop):
    if start is not None and (k < start or (k == start and not inc_start)):
        return False
    if stop is not None and (k > stop or (k == stop and not inc_stop)):
        return False
    return True


class DBMachine(RuleBasedStateMachine):
    @initialize()
    def open(self):
        self.dir = tempfile.mkdtemp(prefix="strata-sm-")
        self.path = self.dir + "/db"
        self.db = strata.DB(self.path, create_if_missing=True, write_buffer_size=64 << 10)
        self.model = {}
        self.subs = {}  # sub-database name -> model
        self.snaps = []  # (snapshot, frozen model)

    def teardown(self):
        for s, _ in getattr(self, "snaps", []):
            s.close()
        if hasattr(self, "db"):
            self.db.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    @rule(k=keys, v=values)
    def put(self, k, v):
        self.db.put(k, v)
        self.model[k] = v

    @rule(k=keys)
    def delete(self, k):
        self.db.delete(k)
        self.model.pop(k, None)

    @rule(ops=st.lists(st.tuples(keys, st.one_of(st.none(), values)), max_size=8),
          transaction=st.booleans(), fail=st.booleans())
    def batch(self, ops, transaction, fail):
        try:
            with self.db.write_batch(transaction=transaction) as wb:
                for k, v in ops:
                    if v is None:
                        wb.delete(k)
                    else:
                        wb.put(k, v)
                if fail:
                    raise KeyError("abandon")
        except KeyError:
            pass
        if not (transaction and fail):
            for k, v in ops:
                if v is None:
                    self.model.pop(k, None)
                else:
                    self.model[k] = v

    @rule(k=keys)
    def get(self, k):
        assert self.db.get(k) == self.model.get(k)
        v = self.db.get(k, buffers=True)
        assert (None if v is None else bytes(v)) == self.model.get(k)

    @rule()
    def take_snapshot(self):
        if len(self.snaps) < 3:
            self.snaps.append((self.db.snapshot(), dict(self.model)))

    @precondition(lambda self: self.snaps)
    @rule(k=keys, data=st.data())
    def read_snapshot(self, k, data):
        s, frozen = self.snaps[data.draw(st.integers(0, len(self.snaps) - 1))]
        assert s.get(k) == frozen.get(k)
        assert list(s.iterator()) == sorted(frozen.items())

    @precondition(lambda self: self.snaps)
    @rule()
    def drop_snapshot(self):
        s, _ = self.snaps.pop(0)
        s.close()

    @rule(start=bounds, stop=bounds, inc_start=st.booleans(), inc_stop=st.booleans(),
          reverse=st.booleans(), buffers=st.booleans())
    def scan(self, start, stop, inc_start, inc_stop, reverse, buffers):
        got = [(k, bytes(v)) for k, v in self.db.iterator(
            start=start, stop=stop, include_start=inc_start, include_stop=inc_stop,
            reverse=reverse, buffers=buffers)]
        want = sorted((k, v) for k, v in self.model.items()
                      if in_range(k, start, stop, inc_start, inc_stop))
        assert got == (want[::-1] if reverse else want)

    @rule(prefix=keys, reverse=st.booleans())
    def scan_prefix(self, prefix, reverse):
        got = list(self.db.iterator(prefix=prefix, reverse=reverse, include_value=False))
        want = sorted(k for k in self.model if k.startswith(prefix))
        assert got == (want[::-1] if reverse else want)

    @rule(seek_to=keys)
    def raw_seek(self, seek_to):
        r = self.db.raw_iterator()
        r.seek(seek_to)
        after = sorted(k for k in self.model if k >= seek_to)
        if after:
            assert r.valid() and r.key() == after[0]
            r.prev()
            before = sorted(k for k in self.model if k < seek_to)
            assert (r.key() if r.valid() else None) == (before[-1] if before else None)
        else:
            assert not r.valid()

    # ---- sub-databases (when the engine has them) ----

    @precondition(lambda self: "subdb" in strata.FEATURES)
    @rule(name=st.sampled_from(["s1", "s2"]), k=keys, v=st.one_of(st.none(), values))
    def subdb_write(self, name, k, v):
        s = self.db.open_db(name)
        m = self.subs.setdefault(name, {})
        if v is None:
            s.delete(k)
            m.pop(k, None)
        else:
            s.put(k, v)
            m[k] = v

    @precondition(lambda self: "subdb" in strata.FEATURES)
    @rule(name=st.sampled_from(["s1", "s2"]), reverse=st.booleans())
    def subdb_scan(self, name, reverse):
        if name not in self.subs:
            return
        got = list(self.db.open_db(name).iterator(reverse=reverse))
        want = sorted(self.subs[name].items())
        assert got == (want[::-1] if reverse else want)

    @precondition(lambda self: "subdb" in strata.FEATURES)
    @rule(name=st.sampled_from(["s1", "s2"]))
    def subdb_drop(self, name):
        if name in self.subs:
            self.db.drop_db(name)
            del self.subs[name]

    # ---- transactions (when the engine has them) ----

    @precondition(lambda self: "txn" in strata.FEATURES)
    @rule(ops=st.lists(st.tuples(keys, st.one_of(st.none(), values)), min_size=1, max_size=6),
          outcome=st.sampled_from(["commit", "abort", "conflict"]))
    def transaction(self, ops, outcome):
        t = self.db.begin(write=True)
        view = dict(self.model)
        for k, v in ops:
            assert t.get(k) == view.get(k)  # reads see the transaction's writes
            if v is None:
                t.delete(k)
                view.pop(k, None)
            else:
                t.put(k, v)
                view[k] = v
        assert list(t.iterator()) == sorted(view.items())
        if outcome == "abort":
            t.abort()
            return
        if outcome == "conflict":
            k0 = ops[0][0]
            self.db.put(k0, b"interloper")  # a write after the transaction read k0
            self.model[k0] = b"interloper"
            try:
                t.commit()
            except strata.ConflictError:
                return
            raise AssertionError("commit after a conflicting write succeeded")
        t.commit()
        self.model = view

    @rule()
    def reopen(self):
        for s, _ in self.snaps:
            s.close()
        self.snaps = []
        self.db.close()
        self.db = strata.DB(self.path, write_buffer_size=64 << 10)

    @rule()
    def compact(self):
        self.db.compact_range()

    @invariant()
    def count_matches(self):
        if hasattr(self, "db"):
            assert sum(1 for _ in self.db.iterator(include_value=False)) == len(self.model)


DBMachine.TestCase.settings = settings(max_examples=scaled(50, 15),
                                       stateful_step_count=scaled(40, 20), deadline=None)
TestDB = DBMachine.TestCase
