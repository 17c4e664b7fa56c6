"""Shared fixtures of the strata package's tests.

STRATA_TEST_SCALE=asan (set by make test-python-asan) shrinks the op counts of
the longer tests; STRATA_TEST_SCALE=long grows them."""

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# No example database on disk (it would land in the working directory), and
# Hypothesis's other files (its cache of Unicode tables, for text strategies) in a
# directory of the run's own, removed at exit.
settings.register_profile("strata", database=None)
settings.load_profile("strata")
_hypothesis_home = tempfile.mkdtemp(prefix="strata-py-hypothesis-")
set_hypothesis_home_dir(_hypothesis_home)
atexit.register(shutil.rmtree, _hypothesis_home, True)

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


# ---------------------------------------------------------------------------
# strata-server, for the remote tests (strata.connect, strata.typed's remote mode)
# ---------------------------------------------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def server_binary():
    """The strata-server to test against: $STRATA_SERVER, else the build's."""
    env = os.environ.get("STRATA_SERVER")
    if env:
        return env
    for build in ("build", "build-asan"):
        p = os.path.join(REPO, build, "strata-server")
        if os.access(p, os.X_OK):
            return p
    return None


class Server:
    """A strata-server serving `directory`, started on a free port of 127.0.0.1
    (bound there only), in a session of its own, and stopped by its own pid
    (SIGTERM: it closes the database cleanly). url: its redis:// address; log:
    the path of its output (beside the directory)."""

    def __init__(self, directory, extra=()):
        import socket
        import subprocess
        import time
        binary = server_binary()
        if binary is None:
            pytest.fail("strata-server not found: build it (make build) or set STRATA_SERVER")
        self.dir = directory
        self.proc = None
        slow = 3.0 if SCALE < 1 else 1.0
        # not the ASan runtime make test-python-asan preloads for Python: the server
        # binary is instrumented or not on its own
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        for attempt in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.log = os.path.join(os.path.dirname(directory) or ".", "server-%d.log" % self.port)
            with open(self.log, "wb") as logf:
                self.proc = subprocess.Popen(
                    [binary, "--dir", directory, "--port", str(self.port), "--bind", "127.0.0.1",
                     "--sync", "no", "--io-threads", "2", "--worker-threads", "4"] + list(extra),
                    stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, env=env)
            deadline = time.monotonic() + 20 * slow
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                        c.sendall(b"PING\r\n")
                        if c.recv(16)[:6] in (b"+PONG\r", b"-NOAUT"):
                            self.url = "redis://127.0.0.1:%d" % self.port
                            return
                except OSError:
                    time.sleep(0.02)
            self.stop()
            with open(self.log, "rb") as f:
                out = f.read()
            if b"Address already in use" not in out:
                break
        pytest.fail("strata-server did not start; its output:\n%s"
                    % out.decode("utf-8", "replace")[-3000:])

    def stop(self):
        """SIGTERM to its pid, then a bounded wait (SIGKILL after 30 s). Returns the
        exit status."""
        import signal
        import subprocess
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self.proc = None
        return rc

    def flush(self):
        """Empties every database of the server (FLUSHALL)."""
        import strata
        r = strata.connect(self.url)
        try:
            r._pool.call(b"FLUSHALL")
        finally:
            r.close()


@pytest.fixture(scope="session")
def server():
    """One strata-server for the session; a test that uses it flushes it first
    (server.flush())."""
    d = tempfile.mkdtemp(prefix="strata-py-srv-", dir=_scratch_base())
    s = Server(os.path.join(d, "db"))
    try:
        yield s
    finally:
        rc = s.stop()
        shutil.rmtree(d, ignore_errors=True)
        assert rc == 0, "strata-server exited with status %s" % rc
