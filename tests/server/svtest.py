"""svtest - helpers shared by the strata-server tests (Debian's /usr/bin/python3).

Servers (strata-server, redis-server, nutcracker) are started by the tests
themselves on 127.0.0.1, each on a free port found by binding port 0, in a
temporary directory, and stopped by their own pid: never by name. Every
start waits for the port to accept connections, bounded in time; every stop
is bounded too and reports the exit status (under ASan a leak or error makes
strata-server's exit status non-zero, which the tests check).

Environment (set by ctest, see server.cmake):
  STRATA_SERVER   path of the strata-server binary under test
  STRATA_TOOL     path of the strata command-line tool
  STRATA_SEED     seed of the randomized tests (printed; pass it back to repeat)
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

STRATA_SERVER = os.environ.get("STRATA_SERVER", "")
STRATA_TOOL = os.environ.get("STRATA_TOOL", "")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"

# Under ASan everything is slower; waits scale with this.
SLOW = 3.0 if os.environ.get("STRATA_TEST_SCALE") == "asan" else 1.0


def seed():
    s = os.environ.get("STRATA_SEED")
    s = int(s) if s else random.SystemRandom().randrange(1 << 30)
    print("seed: %d (STRATA_SEED=%d repeats this run)" % (s, s), flush=True)
    return s


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def expect(got, want, what):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def free_port():
    """A port nobody listens on now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_dir(name):
    base = os.environ.get("TMPDIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    return tempfile.mkdtemp(prefix="strata-%s." % name, dir=base)


def wait_port(port, proc, timeout):
    """Waits until 127.0.0.1:port accepts; False if proc exits first or time runs out."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Server:
    """One server process. kind: 'strata', 'redis' or 'nutcracker'."""

    def __init__(self, kind, args, port, workdir, log):
        self.kind, self.args, self.port, self.workdir, self.logpath = kind, args, port, workdir, log
        self.proc = None

    def start(self, timeout=10.0):
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, start_new_session=True)
        if not wait_port(self.port, self.proc, timeout * SLOW):
            rc = self.proc.poll()
            if rc is None:
                self.kill()
            raise Failure("%s did not start on port %d (exit %s); log:\n%s"
                          % (self.kind, self.port, rc, self.log()))
        return self

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30.0):
        """SIGTERM, wait; returns the exit status (SIGKILL after timeout: -9)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        self.proc = None
        return rc

    def wait_exit(self, timeout=30.0):
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise Failure("%s did not exit in time" % self.kind)
        self.logf.close()
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL, as a crash."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.logf.close()
            self.proc = None


def strata_server(workdir, dbdir=None, port=None, extra=(), name="strata", timeout=10.0):
    """Starts strata-server on a free port with its database in dbdir."""
    for attempt in range(3):
        p = port or free_port()
        args = [STRATA_SERVER, "--port", str(p), "--bind", "127.0.0.1",
                "--dir", dbdir or os.path.join(workdir, "db")] + list(extra)
        s = Server("strata-server", args, p, workdir, os.path.join(workdir, name + ".log"))
        try:
            return s.start(timeout)
        except Failure:
            if port or attempt == 2 or "Address already in use" not in s.log():
                raise
    raise Failure("unreachable")


def redis_server(workdir, extra=(), name="redis"):
    """Starts Debian's redis-server (no persistence unless extra says) on a free port."""
    for attempt in range(3):
        p = free_port()
        d = os.path.join(workdir, name)
        os.makedirs(d, exist_ok=True)
        args = [REDIS_SERVER, "--port", str(p), "--bind", "127.0.0.1", "--dir", d,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", ""] + list(extra)
        s = Server("redis-server", args, p, d, os.path.join(workdir, name + ".log"))
        try:
            return s.start()
        except Failure:
            if attempt == 2 or "Address already in use" not in s.log():
                raise
    raise Failure("unreachable")


class Conn:
    """A raw connection: send bytes, read replies (RESP2/3), see if it closed."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
        self.buf = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.closed = True
            raise Failure("connection closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: bytes, int, None, list, dict, or ReplyError."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return ReplyError(rest.decode())
        if t == b":":
            return int(rest)
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data[4:] if t == b"=" else data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if t == b"%":
            n = int(rest)
            out = {}
            for _ in range(n):
                k = self.reply()
                out[k] = self.reply()
            return out
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        raise Failure("bad reply line %r" % line)

    def call(self, *args):
        self.send(encode(*args))
        return self.reply()

    def drain(self, quiet=0.3):
        """Everything the server sends until it closes or is quiet for `quiet` s."""
        out = self.buf
        self.buf = b""
        self.sock.settimeout(quiet * SLOW)
        while True:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not d:
                return out, True
            out += d


class ReplyError(str):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def run_cli(port, *args, stdin=None, extra=()):
    """redis-cli -p port args...; returns (exit status, stdout, stderr)."""
    p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port)] + list(extra) +
                       [str(a) for a in args], input=stdin, capture_output=True,
                       timeout=60 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def main(tests, name):
    """Runs the test functions given; prints a line per test; exits 1 on a failure."""
    only = sys.argv[1:]
    failed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        t0 = time.time()
        try:
            t()
            print("ok   %s (%.1f s)" % (t.__name__, time.time() - t0), flush=True)
        except Exception as e:  # a failure or an unexpected error: both fail the test
            failed += 1
            print("FAIL %s: %s: %s" % (t.__name__, type(e).__name__, e), flush=True)
            import traceback
            traceback.print_exc()
    print("%s: %d failed" % (name, failed))
    sys.exit(1 if failed else 0)
