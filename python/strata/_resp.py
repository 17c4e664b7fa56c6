"""A small RESP2 client for strata-server (the Redis protocol), used by
strata.connect() and the remote mode of strata.typed.LevelDB.

Why not redis-py: it is correct and complete, but its per-command work in
Python (connection-pool checkout, argument encoding, response callbacks)
costs about as much as the network round trip to a local server; this client
does only what the store needs -- one socket per thread, commands packed in
one write, pipelines -- and is about twice as fast per operation (see
python/README.md, "Remote mode").

The protocol (https://redis.io/docs/reference/protocol-spec/, RESP2):

    request = "*" count CRLF ( "$" length CRLF bytes CRLF ){count}
    reply   = "+" line CRLF                  simple string
            | "-" line CRLF                  error
            | ":" integer CRLF               integer
            | "$" length CRLF bytes CRLF     bulk string ("$-1": nil)
            | "*" count CRLF reply{count}    array ("*-1": nil)

Addresses (strata.connect(), LevelDB(server_address=...)):

    redis://[[user]:password@]host[:port][/db][?options]   plain TCP (port 6379)
    rediss://...                                           TLS
    strata://... and stratas://...                         the same as redis:// and rediss://
    host:port                                              plain TCP

db selects the server's database (SELECT, 0 by default; database n > 0 lives
in the sub-database redis/<n> of the server's directory). Options:
socket_timeout (seconds, float; none by default), connect_timeout (seconds, 10),
and for TLS ssl_ca_certs, ssl_certfile, ssl_keyfile (PEM paths) and
ssl_cert_reqs=none (no verification of the server's certificate).
"""

import os
import socket
import ssl
import threading
import urllib.parse

from ._errors import IOError, RemoteError

__all__ = ["Address", "Connection", "Pool", "parse_address"]

_SCHEMES = {"redis": False, "strata": False, "rediss": True, "stratas": True}


class Address:
    """A parsed server address. Attributes: host (str), port (int), db (int),
    username (str or None), password (str or None), tls (bool), options (dict of
    str), url (the text given)."""

    __slots__ = ("host", "port", "db", "username", "password", "tls", "options", "url")

    def __repr__(self):
        return "Address(%r)" % self.url

    def display(self):
        """host:port (and /db when not 0), without the password."""
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d%s" % (h, self.port, "/%d" % self.db if self.db else "")


def parse_address(url):
    """parse_address(url: str) -> Address

    Raises: TypeError (not a str), ValueError (an unknown scheme -- an http://
    address is openleveldb's Flask server, not a strata-server --, a bad port,
    database number or option)."""
    if not isinstance(url, str):
        raise TypeError("server_address must be a str such as 'redis://127.0.0.1:6379', got %s"
                        % type(url).__name__)
    a = Address()
    a.url = url
    text = url if "://" in url else "redis://" + url
    u = urllib.parse.urlsplit(text)
    scheme = u.scheme.lower()
    if scheme in ("http", "https"):
        raise ValueError("%r is an HTTP address (openleveldb's Flask server); strata's remote "
                         "mode talks to a strata-server: start 'strata-server --dir DB_PATH "
                         "--port 6379' and use 'redis://127.0.0.1:6379'" % url)
    if scheme not in _SCHEMES:
        raise ValueError("unknown scheme in server address %r (redis://, rediss://, strata:// or "
                         "stratas://)" % url)
    a.tls = _SCHEMES[scheme]
    a.host = u.hostname or "127.0.0.1"
    try:
        a.port = u.port or 6379
    except ValueError:
        raise ValueError("bad port in server address %r" % url) from None
    path = u.path.strip("/")
    if path:
        if not path.isdigit():
            raise ValueError("bad database number %r in server address %r (redis://host:port/N)"
                             % (path, url))
        a.db = int(path)
    else:
        a.db = 0
    a.username = urllib.parse.unquote(u.username) if u.username else None
    a.password = urllib.parse.unquote(u.password) if u.password is not None else None
    opts = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
    known = {"socket_timeout", "connect_timeout", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile",
             "ssl_cert_reqs"}
    bad = set(opts) - known
    if bad:
        raise ValueError("unknown option(s) %s in server address %r (known: %s)"
                         % (", ".join(sorted(bad)), url, ", ".join(sorted(known))))
    for name in ("socket_timeout", "connect_timeout"):
        if name in opts:
            try:
                float(opts[name])
            except ValueError:
                raise ValueError("option %s must be a number of seconds in %r" % (name, url)) \
                    from None
    a.options = opts
    return a


def _pack(args):
    """One RESP request (an array of bulk strings) for args (bytes, str or int)."""
    out = [b"*%d\r\n" % len(args)]
    for x in args:
        if not isinstance(x, bytes):
            x = str(x).encode() if not isinstance(x, (bytearray, memoryview)) else bytes(x)
        out.append(b"$%d\r\n" % len(x))
        out.append(x)
        out.append(b"\r\n")
    return b"".join(out)


class Connection:
    """One connection to a strata-server. Not thread-safe: a Pool gives each
    thread its own. Raises strata.IOError (an OSError) when the server cannot be
    reached or the connection breaks, strata.RemoteError for an error reply to AUTH
    or SELECT."""

    def __init__(self, address):
        self.address = address
        self.pid = os.getpid()
        opts = address.options
        try:
            sock = socket.create_connection((address.host, address.port),
                                            timeout=float(opts.get("connect_timeout", 10)))
        except OSError as e:
            raise IOError(e.errno, "cannot connect to strata-server at %s: %s"
                          % (address.display(), e.strerror or e)) from e
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            st = opts.get("socket_timeout")
            sock.settimeout(float(st) if st else None)
            if address.tls:
                ctx = ssl.create_default_context(cafile=opts.get("ssl_ca_certs"))
                if opts.get("ssl_certfile"):
                    ctx.load_cert_chain(opts["ssl_certfile"], opts.get("ssl_keyfile"))
                if opts.get("ssl_cert_reqs", "").lower() == "none":
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                sock = ctx.wrap_socket(sock, server_hostname=address.host)
        except OSError as e:
            sock.close()
            raise IOError(e.errno, "cannot connect to strata-server at %s: %s"
                          % (address.display(), e)) from e
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=1 << 16)
        self.broken = False
        try:
            if address.password is not None:
                args = [b"AUTH"] + ([address.username] if address.username else []) + \
                    [address.password]
                self.call(*args)
            if address.db:
                self.call(b"SELECT", address.db)
        except BaseException:
            self.close()
            raise

    def close(self):
        """Closes the socket (in a forked child too: closing a descriptor does not
        end the parent's connection)."""
        self.broken = True
        try:
            self.rfile.close()
        finally:
            self.sock.close()

    def _io_error(self, e):
        self.close()
        if isinstance(e, IOError):
            return e
        return IOError(getattr(e, "errno", None) or 0,
                       "connection to strata-server at %s failed: %s"
                       % (self.address.display(), e))

    def send(self, data):
        """Sends packed requests (bytes)."""
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise self._io_error(e) from e

    def read(self):
        """Reads one reply: bytes (bulk or simple string), int, None, a list, or a
        RemoteError instance for an error reply (returned, not raised, so a
        pipeline reads on)."""
        try:
            return self._read()
        except (OSError, ValueError) as e:
            raise self._io_error(e) from e

    def _read(self):
        f = self.rfile
        line = f.readline()
        if not line.endswith(b"\r\n"):
            raise IOError(0, "strata-server at %s closed the connection"
                          % self.address.display())
        t = line[:1]
        if t == b"$":
            n = int(line[1:-2])
            if n < 0:
                return None
            data = f.read(n + 2)
            if len(data) != n + 2:
                raise IOError(0, "strata-server at %s closed the connection mid-reply"
                              % self.address.display())
            return data[:-2]
        if t == b"*":
            n = int(line[1:-2])
            if n < 0:
                return None
            read = self._read
            return [read() for _ in range(n)]
        if t == b":":
            return int(line[1:-2])
        if t == b"+":
            return line[1:-2]
        if t == b"-":
            return RemoteError(line[1:-2].decode("utf-8", "replace"))
        raise IOError(0, "strata-server at %s sent a reply this client does not understand: %r"
                      % (self.address.display(), line[:40]))

    def call(self, *args):
        """Sends one command and returns its reply; raises RemoteError for an error
        reply."""
        self.send(_pack(args))
        r = self.read()
        if isinstance(r, RemoteError):
            raise r
        return r

    def pipeline(self, commands):
        """Sends the commands (a list of argument tuples) in one write and returns
        their replies in order (RemoteError instances for error replies)."""
        self.send(b"".join([_pack(c) for c in commands]))
        read = self.read
        return [read() for _ in commands]


class Pool:
    """The connections of one address: each thread takes an idle one (or opens
    one) for an operation and gives it back. A connection that broke is dropped.
    After fork() the child starts a pool of its own (the parent's sockets are not
    used there). Thread-safe."""

    def __init__(self, address, max_idle=16):
        self.address = address
        self.max_idle = max_idle
        self._idle = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.closed = False

    def get(self):
        """An idle connection, or a new one. Raises strata.IOError, RemoteError."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Connection(self.address)

    def put(self, conn):
        """Gives back a connection taken with get() (a broken one is dropped)."""
        if conn.broken or conn.pid != os.getpid():
            return
        with self._lock:
            if not self.closed and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def _after_fork(self):
        with self._lock:
            if self._pid != os.getpid():
                for c in self._idle:
                    c.broken = True  # the parent's: left alone
                self._idle = []
                self._pid = os.getpid()

    def call(self, *args):
        """One command on a pooled connection; its reply. Raises RemoteError for an
        error reply, strata.IOError when the connection fails."""
        c = self.get()
        try:
            r = c.call(*args)
        except RemoteError:
            self.put(c)  # a whole error reply was read: the connection is fine
            raise
        except BaseException:
            c.close()  # interrupted mid-reply: the connection's state is unknown
            raise
        self.put(c)
        return r

    def pipeline(self, commands):
        """Commands in one round trip on a pooled connection; their replies."""
        c = self.get()
        try:
            r = c.pipeline(commands)
        except BaseException:
            c.close()
            raise
        self.put(c)
        return r

    def close(self):
        """Closes the idle connections; those in use close when given back."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        if self._pid == os.getpid():
            for c in idle:
                c.close()
