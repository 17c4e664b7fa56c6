"""Builds strata._strata, the C extension, with libstrata linked in statically.

The engine's sources (../src/*/*.c, the repository's src/ beside this folder)
are compiled into the extension itself, so the module needs only libc,
libsnappy and libzstd at run time. Everything else is in pyproject.toml.

Environment:
  STRATA_SANITIZE=1   build with AddressSanitizer + UBSan (for the tests;
                      run with LD_PRELOAD of the ASan runtime)
  STRATA_PY_DEBUG=1   -O0 -g, asserts on
"""
import glob
import os
import re

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rel(path):
    return os.path.relpath(path, HERE)


engine = sorted(
    p for p in glob.glob(os.path.join(ROOT, "src", "*", "*.c"))
    if os.sep + "leveldb" + os.sep not in p  # the leveldb/c.h shim is not needed
)
if not engine:
    raise SystemExit(
        "strata: the engine's sources were not found in %s/src; build the package from "
        "the repository (pip install --no-build-isolation python/)" % ROOT)
binding = sorted(glob.glob(os.path.join(HERE, "src", "*.c")))

# Parts of the engine's API declared in strata.h may not be implemented yet in
# this tree (they are built in parallel); the binding compiles the methods over
# them only when the engine defines them, and strata._strata.FEATURES says which.
FEATURE_FUNCTIONS = {
    "SP_HAVE_SUBDB": "strata_subdb_open",
    "SP_HAVE_TXN": "strata_txn_begin",
    "SP_HAVE_READONLY": "strata_catch_up",
    "SP_HAVE_CHECKPOINT": "strata_checkpoint",
    "SP_HAVE_LOADER": "strata_loader_create",
}


def engine_defines(function):
    pattern = re.compile(r"^[A-Za-z_][\w \t\*]*\b%s\s*\(" % re.escape(function), re.M)
    for path in engine:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in pattern.finditer(text):
            # a definition: the parameter list is followed by a body, not ';'
            depth, i = 0, m.end() - 1
            while i < len(text):
                if text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            rest = text[i + 1:i + 200].lstrip()
            if rest.startswith("{"):
                return True
    return False


features = [(macro, None) for macro, fn in FEATURE_FUNCTIONS.items() if engine_defines(fn)]
if os.environ.get("STRATA_PY_FEATURES") is not None:  # for testing the binding's guards
    wanted = set(os.environ["STRATA_PY_FEATURES"].split(","))
    features = [(m, None) for m, _ in features if m in wanted]

cflags = ["-std=gnu11", "-fvisibility=hidden", "-D_GNU_SOURCE", "-DSTRATA_STATIC_BUILD",
          "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
          "-Wno-cast-function-type"]
ldflags = []
if os.environ.get("STRATA_PY_DEBUG"):
    cflags += ["-O0", "-g", "-UNDEBUG"]
else:
    cflags += ["-O2", "-g"]
if os.environ.get("STRATA_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined"]
    cflags += san
    ldflags += san

setup(
    ext_modules=[
        Extension(
            "strata._strata",
            sources=[rel(p) for p in binding + engine],
            include_dirs=[rel(os.path.join(ROOT, "include")), rel(os.path.join(ROOT, "src")),
                          rel(os.path.join(HERE, "src"))],
            depends=[rel(p) for p in glob.glob(os.path.join(HERE, "src", "*.h"))
                     + glob.glob(os.path.join(ROOT, "src", "*", "*.h"))
                     + [os.path.join(ROOT, "include", "strata.h")]],
            define_macros=features,
            libraries=["snappy", "zstd", "pthread"],
            extra_compile_args=cflags,
            extra_link_args=ldflags,
        )
    ],
)
