"""strata._resp: the connections of strata.remote to a strata-server, which speaks
the Redis protocol (RESP2, https://redis.io/docs/reference/protocol-spec/).

The protocol work -- packing requests, parsing replies (in C by python3-hiredis
when it is installed), AUTH and SELECT on connect, TLS, timeouts -- is redis-py's
(Debian python3-redis): its Connection objects, used directly. Measured against
a RESP client written for this package (python/README.md, "Why redis-py"),
redis-py costs the same per command and a tenth of the CPU to parse a scan page
(hiredis parses in C), so this module keeps only what the store needs on top: one connection per thread
(no pool lock, no per-command health poll as redis.ConnectionPool does), pipelines
of raw commands whose error replies are returned rather than raised, and
strata's exceptions.

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
import threading
import urllib.parse
import weakref

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
    if opts.get("ssl_cert_reqs", "required").lower() not in ("none", "optional", "required"):
        raise ValueError("option ssl_cert_reqs must be none, optional or required in %r" % url)
    a.options = opts
    return a


# fork(): connections made before it belong to the parent. A child sees the
# generation move and opens its own (the parent's sockets are left alone:
# redis-py shuts a socket down only in the process that opened it).
_generation = [0]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _generation.__setitem__(0, _generation[0] + 1))


_parser = []


def _parser_class():
    """redis-py's reply parser (hiredis's when installed), with the server's error
    replies kept whole: redis-py cuts the code off some ("NOAUTH", "ERR") and
    turns a few into connection errors; here every one is a reply, message as
    sent."""
    if not _parser:
        from redis.connection import DefaultParser
        from redis.exceptions import ResponseError

        class Parser(DefaultParser):
            def parse_error(self, response):
                return ResponseError(response)

        _parser.append(Parser)
    return _parser[0]


def _redis_kwargs(address):
    import redis
    o = address.options
    kw = {"host": address.host, "port": address.port, "db": address.db,
          "username": address.username, "password": address.password,
          "socket_connect_timeout": float(o.get("connect_timeout", 10)),
          "socket_timeout": float(o["socket_timeout"]) if o.get("socket_timeout") else None,
          "parser_class": _parser_class()}
    cls = redis.Connection
    if address.tls:
        cls = redis.SSLConnection
        reqs = o.get("ssl_cert_reqs", "required").lower()
        kw.update(ssl_ca_certs=o.get("ssl_ca_certs"), ssl_certfile=o.get("ssl_certfile"),
                  ssl_keyfile=o.get("ssl_keyfile"), ssl_cert_reqs=reqs,
                  ssl_check_hostname=reqs == "required")
    return cls, kw


def _is_reply(e):
    """Is this redis-py exception an error reply of the server (the connection
    is fine), rather than a failed connection?"""
    from redis.exceptions import ResponseError
    return isinstance(e, ResponseError)


class Connection:
    """One connection to a strata-server (a redis-py Connection, connected at
    once). Not thread-safe: a Pool gives each thread its own. broken: True once
    the connection failed or was closed; a broken connection is never used again
    (a transaction's WATCHes died with it). Raises strata.IOError (an OSError)
    when the server cannot be reached or the connection breaks, strata.RemoteError
    for an error reply (AUTH or SELECT refused on connect too)."""

    __slots__ = ("address", "conn", "broken", "generation", "__weakref__")

    def __init__(self, address, _cls_kw=None):
        self.address = address
        self.broken = False
        self.generation = _generation[0]
        cls, kw = _cls_kw or _redis_kwargs(address)
        self.conn = cls(**kw)
        try:
            self.conn.connect()
        except Exception as e:
            self.broken = True
            raise self._error(e, "cannot connect to strata-server at %s") from e

    def _error(self, e, what="connection to strata-server at %s failed"):
        if _is_reply(e):
            return RemoteError(str(e))
        self.close()
        if isinstance(e, OSError):
            errno = e.errno or 0
        else:
            cause = e.__cause__ or e.__context__
            errno = getattr(cause, "errno", None) or 0
        return IOError(errno, "%s: %s" % (what % self.address.display(), e))

    def close(self):
        """Closes the socket (in a forked child too: only the process that opened
        it shuts it down, so the parent's connection goes on)."""
        self.broken = True
        try:
            self.conn.disconnect()
        except Exception:  # already gone
            pass

    def call(self, *args):
        """Sends one command (arguments bytes, str or int) and returns its reply:
        bytes, int, None, a list. Raises RemoteError for an error reply."""
        if self.broken:
            raise IOError(0, "the connection to strata-server at %s is closed"
                          % self.address.display())
        c = self.conn
        try:
            c.send_command(*args)
            return c.read_response()
        except Exception as e:
            raise self._error(e) from None

    def pipeline(self, commands):
        """Sends the commands (a list of argument tuples) in one write and returns
        their replies in order (RemoteError instances for error replies, and
        inside an EXEC reply)."""
        if self.broken:
            raise IOError(0, "the connection to strata-server at %s is closed"
                          % self.address.display())
        c = self.conn
        try:
            c.send_packed_command(c.pack_commands(commands))
        except Exception as e:
            raise self._error(e) from None
        out = []
        for _ in commands:
            try:
                r = c.read_response()
            except Exception as e:
                err = self._error(e)
                if not isinstance(err, RemoteError):
                    raise err from None
                r = err
            if type(r) is list:
                r = [RemoteError(str(x)) if isinstance(x, Exception) else x for x in r]
            out.append(r)
        return out


class Pool:
    """The connections of one address: one per thread for single commands and
    pipelines, and connections lent to transactions (get() / put()). After fork()
    the child opens its own. Thread-safe."""

    def __init__(self, address, max_idle=16):
        self.address = address
        self.max_idle = max_idle
        self._cls_kw = _redis_kwargs(address)
        self._local = threading.local()
        self._all = weakref.WeakSet()  # every connection opened here, for close()
        self._idle = []                # connections given back by transactions
        self._lock = threading.Lock()
        self.closed = False

    def _new(self):
        c = Connection(self.address, self._cls_kw)
        with self._lock:
            self._all.add(c)
        return c

    def _thread_conn(self):
        c = getattr(self._local, "c", None)
        if c is None or c.broken or c.generation != _generation[0]:
            if self.closed:
                raise IOError(0, "the connections to strata-server at %s are closed"
                              % self.address.display())
            c = self._local.c = self._new()
        return c

    def call(self, *args):
        """One command on this thread's connection; its reply. Raises RemoteError
        for an error reply, strata.IOError when the connection fails (the next
        call opens a new one)."""
        return self._thread_conn().call(*args)

    def pipeline(self, commands):
        """Commands in one round trip on this thread's connection; their replies
        (see Connection.pipeline)."""
        return self._thread_conn().pipeline(commands)

    def get(self):
        """A connection of its own for a caller that holds state on it (WATCH):
        an idle one, or a new one. Give it back with put(). Raises
        strata.IOError, RemoteError."""
        with self._lock:
            while self._idle:
                c = self._idle.pop()
                if not c.broken and c.generation == _generation[0]:
                    return c
        return self._new()

    def put(self, conn):
        """Gives back a connection taken with get() (a broken one is dropped)."""
        if conn.broken or conn.generation != _generation[0]:
            return
        with self._lock:
            if not self.closed and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self):
        """Closes every connection of this pool (those of other threads too: their
        next call raises strata.IOError). Harmless twice."""
        with self._lock:
            self.closed = True
            conns = list(self._all)
            self._idle = []
        for c in conns:
            if c.generation == _generation[0]:
                c.close()
