"""Shared fixtures of the strata package's tests.

STRATA_TEST_SCALE=asan (set by make test-python-asan) shrinks the op counts of
the longer tests; STRATA_TEST_SCALE=long grows them."""

import os
import shutil
import tempfile

import pytest
from hypothesis import settings

# No example database on disk (it would land in the working directory).
settings.register_profile("strata", database=None)
settings.load_profile("strata")

SCALE = {"asan": 0.25, "long": 10.0}.get(os.environ.get("STRATA_TEST_SCALE", ""), 1.0)


def scaled(n, minimum=1):
    """n ops at the current scale, never below minimum."""
    return max(minimum, int(n * SCALE))


def _scratch_base():
    # /dev/shm when it has room (fast fsync-free tests), else the temp dir.
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > (1 << 30) and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    except OSError:
        pass
    return None


@pytest.fixture
def tmp_dir():
    d = tempfile.mkdtemp(prefix="strata-py-", dir=_scratch_base())
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def db_path(tmp_dir):
    return os.path.join(tmp_dir, "db")


@pytest.fixture
def db(db_path):
    import strata
    d = strata.DB(db_path, create_if_missing=True)
    try:
        yield d
    finally:
        d.close()
