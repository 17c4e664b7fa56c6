"""The type stubs match the runtime (mypy's stubtest), and every public class,
method and function documents itself."""

import inspect
import os
import subprocess
import sys
import tempfile

import pytest

import strata
import strata.cli
import strata.openleveldb
import strata.plyvel
import strata.remote
import strata.typed

try:
    import strata.lmdb
except ImportError:  # pragma: no cover
    pass

# stubtest runs per group: it trips over a package checked beside its children
MODULES = [["strata"], ["strata.plyvel"], ["strata.lmdb"], ["strata.cli"],
           ["strata.typed", "strata.remote", "strata._resp", "strata.openleveldb"]]


@pytest.mark.skipif(os.environ.get("STRATA_TEST_SCALE") == "asan",
                    reason="stubtest is pure Python; the plain run checks it")
def test_stubtest():
    pytest.importorskip("mypy")
    # the package under test, not a copy in the current directory
    root = os.path.dirname(os.path.dirname(os.path.abspath(strata.__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    # The stubs describe the whole API; what this build's engine lacks (strata.FEATURES)
    # is missing at run time, and allowed to be.
    allow = []
    if "subdb" not in strata.FEATURES:
        allow += ["strata._strata.SubDB", "strata.SubDB", "strata._strata.DB.drop_db",
                  "strata._strata.DB.list_dbs", "strata._strata.DB._open_db",
                  "strata._strata.DB._main_stat"]
    if "txn" not in strata.FEATURES:
        allow += ["strata._strata.Transaction", "strata.Transaction", "strata._strata.DB.begin"]
    if "read_only" not in strata.FEATURES:
        allow += ["strata._strata.DB.catch_up"]
    if "checkpoint" not in strata.FEATURES:
        allow += ["strata._strata.DB.checkpoint"]
    # strata.DB's stand-ins for the missing methods raise NotSupportedError
    for name in ("begin", "catch_up", "checkpoint", "drop_db", "list_dbs"):
        if not hasattr(strata._strata.DB, name):
            allow += ["strata.DB.%s" % name, "strata._db.DB.%s" % name]
    if "subdb" not in strata.FEATURES:
        allow += ["strata._db.SubDB"]
    allowlist = os.path.join(tempfile.mkdtemp(), "allow.txt")
    with open(allowlist, "w") as f:
        f.write("\n".join(allow) + "\n")
    for mods in MODULES:
        r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--allowlist", allowlist,
                            "--ignore-unused-allowlist"] + mods,
                           capture_output=True, text=True, timeout=600, cwd="/", env=env)
        assert r.returncode == 0, r.stdout + r.stderr


def public_callables():
    seen = set()
    for mod in (strata, strata.plyvel, strata.plyvel._plyvel, strata.lmdb, strata.cli,
                strata.typed, strata.remote, strata._resp, strata.openleveldb):
        for name in getattr(mod, "__all__", dir(mod)):
            if name.startswith("_"):
                continue
            obj = getattr(mod, name)
            if id(obj) in seen or not callable(obj):
                continue
            seen.add(id(obj))
            yield "%s.%s" % (mod.__name__, name), obj
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for mname, m in vars(obj).items():
                    if mname.startswith("_") or not callable(m):
                        continue
                    yield "%s.%s.%s" % (mod.__name__, name, mname), m


@pytest.mark.parametrize("name,obj", list(public_callables()))
def test_documented(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc) > 20, name


def test_methods_name_their_errors():
    # every engine-calling method of the native API says what it raises
    for cls in (strata.DB, strata.Snapshot, strata.Iterator, strata.RawIterator,
                strata.WriteBatch):
        for mname in dir(cls):
            if mname.startswith("_"):
                continue
            m = getattr(cls, mname)
            if callable(m) and mname not in ("close", "release"):
                assert "Raises" in (m.__doc__ or ""), "%s.%s" % (cls.__name__, mname)
