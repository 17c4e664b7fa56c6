"""fork(): a handle inherited by a child raises on use there and is dropped
without touching the files; the parent keeps working; the child can open its
own handle once the parent has closed."""

import gc
import os

import pytest

import strata


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_inherited_handle_raises_in_child(db_path):
    db = strata.DB(db_path, create_if_missing=True)
    db.put(b"a", b"parent")
    it = db.iterator()
    snap = db.snapshot()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what happened through the pipe, then _exit
        code = 0
        try:
            for call in (lambda: db.get(b"a"), lambda: db.put(b"a", b"child"),
                         lambda: next(it), lambda: snap.get(b"a"), lambda: db.snapshot()):
                try:
                    call()
                    code |= 1
                except strata.Error as e:
                    if "fork" not in str(e) and "closed" not in str(e):
                        code |= 2
            db.close()  # drops the handle, touching nothing
            del it, snap, db
            gc.collect()
        except BaseException:
            code |= 4
        os.write(w, bytes([code]))
        os._exit(0)
    os.close(w)
    code = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert code == b"\x00"
    # the parent's handle is intact
    assert db.get(b"a") == b"parent"
    db.put(b"b", b"after fork")
    assert next(it) == (b"a", b"parent")
    db.close()
    with strata.DB(db_path) as again:
        assert again.get(b"b") == b"after fork"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_child_opens_its_own_handle(db_path):
    with strata.DB(db_path, create_if_missing=True) as db:
        db.put(b"k", b"v")
    pid = os.fork()
    if pid == 0:
        ok = 1
        try:
            with strata.DB(db_path) as mine:
                mine.put(b"child", b"wrote")
                ok = 0 if mine.get(b"k") == b"v" else 1
        finally:
            os._exit(ok)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    with strata.DB(db_path) as db:
        assert db.get(b"child") == b"wrote"
