"""Threads sharing one DB: readers, writers and batch writers at once (atomic
batches seen whole), close from another thread while others iterate, and the
GIL released during engine calls (a read in one thread overlaps Python work in
another)."""

import threading
import time

import pytest

import strata

from conftest import scaled


def test_readers_and_writers(db):
    n = scaled(2000, 200)
    for i in range(n):
        db.put(b"k%05d" % i, b"0")
    stop = threading.Event()
    errors = []

    def writer(tid):
        try:
            for r in range(scaled(300, 50)):
                with db.write_batch() as wb:  # a pair written atomically
                    wb.put(b"pair-a%d" % tid, b"%d" % r)
                    wb.put(b"pair-b%d" % tid, b"%d" % r)
                db.put(b"k%05d" % ((r * 7919 + tid) % n), b"%d" % r)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader():
        try:
            while not stop.is_set():
                with db.snapshot() as s:
                    for tid in range(2):
                        assert s.get(b"pair-a%d" % tid) == s.get(b"pair-b%d" % tid)
                seen = sum(1 for _ in db.iterator(prefix=b"k", include_value=False))
                assert seen == n
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ws = [threading.Thread(target=writer, args=(t,)) for t in range(2)]
    rs = [threading.Thread(target=reader) for _ in range(2)]
    for t in ws + rs:
        t.start()
    for t in ws:
        t.join()
    stop.set()
    for t in rs:
        t.join()
    assert not errors, errors


def test_close_while_other_threads_iterate(db_path):
    db = strata.DB(db_path, create_if_missing=True)
    for i in range(scaled(20000, 2000)):
        db.put(b"%06d" % i, b"x" * 50)
    started = threading.Barrier(4)
    outcomes = []

    def scan():
        started.wait()
        try:
            while True:
                for _ in db.iterator():
                    pass
        except strata.ClosedError:
            outcomes.append("closed")
        except Exception as e:  # pragma: no cover
            outcomes.append(e)

    def get():
        started.wait()
        try:
            while True:
                db.get(b"000123")
        except strata.ClosedError:
            outcomes.append("closed")

    ts = [threading.Thread(target=scan) for _ in range(2)] + [threading.Thread(target=get)]
    for t in ts:
        t.start()
    started.wait()
    time.sleep(0.05)
    db.close()
    for t in ts:
        t.join(timeout=60)
        assert not t.is_alive()
    assert outcomes == ["closed"] * 3


def test_gil_released_during_engine_calls(db):
    # While one thread compacts (a long engine call), another thread runs Python.
    for i in range(scaled(30000, 5000)):
        db.put(b"%06d" % i, b"y" * 100)
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0)

    t = threading.Thread(target=ticker)
    t.start()
    before = len(ticks)
    db.compact_range()
    done.set()
    t.join()
    assert len(ticks) > before  # the ticker ran while compact_range held no GIL
