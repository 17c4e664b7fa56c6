"""strata.remote: a Strata database served by strata-server, through the methods of
strata.DB that make sense over a network.

    import strata
    db = strata.connect("redis://127.0.0.1:6379")
    db.put(b"user/1", b"alice")
    db.get(b"user/1")                            # b'alice'
    with db.write_batch() as wb:                 # one MULTI/EXEC: all or nothing
        wb.put(b"user/2", b"bob")
        wb.delete(b"user/1")
    for key, value in db.iterator(prefix=b"user/", reverse=True):
        ...
    with db.transaction() as txn:                # optimistic: WATCH, MULTI/EXEC
        n = int(txn.get(b"count") or b"0")
        txn.put(b"count", b"%d" % (n + 1))       # ConflictError if count changed meanwhile

The records are the server database's own: SET k v over the network is the record
k -> v that strata.DB("dir").put(k, v) writes. Keys and values are bytes.

Differences from strata.DB: an iteration reads the server in pages (PKSCANRANGE,
16 entries doubling to 1024, fewer when values are large), so it is not one
snapshot: a key present for the whole iteration is returned exactly once, but
writes made meanwhile may or may not be seen. snapshot() raises
strata.NotSupportedError (strata-server holds no snapshot for a client).
Durability is the server's (its `sync` setting); sync= arguments are accepted and
have no effect. A transaction watches each key when it first reads it (WATCH), so
it conflicts with writes made after that read, not with writes made between its
start and the read as a local transaction does; either way, a commit that
succeeds saw no key it read change.

Errors: strata.IOError (an OSError) when the server cannot be reached or the
connection breaks, strata.RemoteError for an error reply, strata.ConflictError for
a transaction's failed commit, strata.ReadOnlyError for a write through a
read_only connection, strata.ClosedError after close(), TypeError for a key or
value that is not bytes, strata.InvalidArgumentError for a write of a key in the
range Strata reserves (b"\xff\xffstrata\x00...", database 0), refused before
anything is sent (inside MULTI/EXEC the server would refuse that command alone
and apply the others, as redis-server does).

Thread-safety: a RemoteDB may be used by any number of threads at once (each
operation takes a connection of its own from a pool); its iterators, batches and
transactions by one thread at a time. After fork() a child opens connections of
its own (multiprocessing with fork or spawn works; pickling a RemoteDB passes its
address).
"""

from . import _strata
from ._errors import (ClosedError, ConflictError, InvalidArgumentError, NotSupportedError,
                      ReadOnlyError, RemoteError)
from ._resp import Address, Pool, parse_address

__all__ = ["connect", "RemoteDB", "RemoteIterator", "RemoteWriteBatch", "RemoteTransaction"]

#: Entries per page of an iteration: the first page, and the most.
PAGE_FIRST = 16
PAGE_MAX = 1024
#: A page whose values add up to more than this halves the next page's size.
PAGE_BYTES = 4 << 20


def connect(address, *, read_only=False):
    """connect(address, *, read_only=False) -> RemoteDB

    The database a strata-server serves. address: "redis://host:port[/db]",
    "rediss://..." (TLS), "strata://...", "host:port" (see strata._resp for every
    form and option). read_only: writes raise strata.ReadOnlyError in this client.
    Connects at once (to check the address). Raises: ValueError (a bad address),
    strata.IOError (no server there), strata.RemoteError (AUTH or SELECT refused)."""
    return RemoteDB(address, read_only=read_only)


def _bytes_arg(x, name):
    if not isinstance(x, bytes):
        raise TypeError("%s must be bytes, got %s" % (name, type(x).__name__))
    return x


#: Keys of database 0 beginning with this are Strata's (its sub-databases' catalog);
#: the server refuses to write them, and inside MULTI/EXEC a refused command does
#: not stop the others (Redis's rule), so batches check their keys here first.
RESERVED_PREFIX = b"\xff\xffstrata\x00"


def _write_key(db, key):
    if not isinstance(key, bytes):
        raise TypeError("key must be bytes, got %s" % type(key).__name__)
    if key.startswith(RESERVED_PREFIX) and db.address.db == 0:
        raise InvalidArgumentError("key lies in the range reserved for sub-databases (it begins "
                                   "with \\xff\\xffstrata\\x00): %r" % key)
    return key


def _value_arg(x):
    if isinstance(x, bytes):
        return x
    try:
        return bytes(memoryview(x))
    except TypeError:
        raise TypeError("value must be a bytes-like object, got %s" % type(x).__name__) from None


def _check(reply):
    if isinstance(reply, RemoteError):
        raise reply
    return reply


class RemoteDB:
    """RemoteDB(address, *, read_only=False): see strata.connect() and the module's
    documentation. Attributes: address (strata._resp.Address), name (the address
    as given), read_only, closed."""

    def __init__(self, address, *, read_only=False):
        self.address = address if isinstance(address, Address) else parse_address(address)
        self.name = self.address.url
        self.read_only = bool(read_only)
        self._pool = Pool(self.address)
        self._pool.call(b"PING")
        self.closed = False

    def __repr__(self):
        return "<strata.RemoteDB %s%s>" % (self.address.display(),
                                           " (closed)" if self.closed else "")

    def __reduce__(self):
        return (RemoteDB, (self.address.url,), {"read_only": self.read_only})

    def __setstate__(self, state):
        self.read_only = state["read_only"]

    def _live(self):
        if self.closed:
            raise ClosedError("the RemoteDB is closed")
        return self._pool

    def _writable(self):
        if self.read_only:
            raise ReadOnlyError("the RemoteDB was opened with read_only=True")
        return self._live()

    def ping(self):
        """ping() -> None: a round trip to the server. Raises strata.IOError."""
        self._live().call(b"PING")

    def get(self, key, default=None, *, verify_checksums=None, fill_cache=None):
        """get(key: bytes, default=None, *, verify_checksums=None, fill_cache=None)
        -> bytes | default (GET; verify_checksums and fill_cache are accepted for
        strata.DB's signature and left to the server). Raises TypeError,
        strata.IOError, strata.RemoteError, strata.ClosedError."""
        r = self._live().call(b"GET", _bytes_arg(key, "key"))
        return default if r is None else r

    def get_many(self, keys):
        """get_many(keys: iterable of bytes) -> list of bytes or None, in one round
        trip (MGET)."""
        keys = [_bytes_arg(k, "key") for k in keys]
        if not keys:
            return []
        return self._live().call(b"MGET", *keys)

    def exists(self, key):
        """exists(key: bytes) -> bool: a point lookup (EXISTS)."""
        return self._live().call(b"EXISTS", _bytes_arg(key, "key")) == 1

    def put(self, key, value, *, sync=False):
        """put(key: bytes, value: bytes-like, *, sync=False) -> None (SET). Raises
        strata.ReadOnlyError on a read_only connection."""
        self._writable().call(b"SET", _write_key(self, key), _value_arg(value))

    def delete(self, key, *, sync=False):
        """delete(key: bytes, *, sync=False) -> None (DEL; absent keys are fine)."""
        self._writable().call(b"DEL", _write_key(self, key))

    def write_batch(self, transaction=False, sync=False):
        """write_batch(transaction=False, sync=False) -> RemoteWriteBatch: puts and
        deletes sent together as one MULTI/EXEC (all or nothing, in one round trip)
        by write() or at the end of a `with` block (not when the block raised and
        transaction=True, as plyvel)."""
        self._writable()
        return RemoteWriteBatch(self, transaction)

    def transaction(self):
        """transaction() -> RemoteTransaction: an optimistic transaction (WATCH,
        MULTI/EXEC); commits at the end of a `with` block, aborts when it raised.
        Raises strata.ReadOnlyError on a read_only connection."""
        self._writable()
        return RemoteTransaction(self)

    def begin(self, write=True, *, sync=False):
        """begin(write=True, *, sync=False) -> RemoteTransaction: strata.DB.begin()'s
        name for transaction(); write=False gives one whose put() and delete()
        raise strata.ReadOnlyError (its reads still watch their keys). Raises
        strata.ReadOnlyError (write=True on a read_only connection),
        strata.ClosedError."""
        if write:
            self._writable()
        else:
            self._live()
        return RemoteTransaction(self, write=bool(write))

    def __iter__(self):
        """iter(db): iterator() with its defaults, every (key, value) in key order."""
        return self.iterator()

    def snapshot(self):
        """Not available remotely: strata-server holds no snapshot for a client.
        Raises strata.NotSupportedError."""
        raise NotSupportedError("snapshots are not available through strata-server (it holds "
                                "no snapshot for a client); open the database locally, or "
                                "read in a transaction")

    def iterator(self, reverse=False, start=None, stop=None, include_start=True,
                 include_stop=False, prefix=None, include_key=True, include_value=True,
                 verify_checksums=None, fill_cache=None):
        """iterator(reverse=False, start=None, stop=None, include_start=True,
        include_stop=False, prefix=None, include_key=True, include_value=True,
        verify_checksums=None, fill_cache=None) -> RemoteIterator

        The entries in key order (reverse: descending) within [start, stop) (bounds
        bytes, included or not as said) or with the given prefix (bytes; not with
        start/stop), read in pages. Yields (key, value), key, value or None as
        include_key / include_value say (plyvel's shapes). Raises TypeError."""
        for name, v in (("start", start), ("stop", stop), ("prefix", prefix)):
            if v is not None:
                _bytes_arg(v, name)
        if prefix is not None:
            if start is not None or stop is not None:
                raise TypeError("'prefix' cannot be used together with 'start' or 'stop'")
            start, include_start = prefix, True
            stop, include_stop = _strata.increment(prefix), False
        pages = scan_pages(self._live(), start, include_start, stop, include_stop, reverse,
                           include_value)
        return RemoteIterator(pages, include_key, include_value)

    def close(self):
        """Closes the connections. Harmless twice."""
        if not self.closed:
            self.closed = True
            self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def scan_pages(pool, lower, lower_incl, upper, upper_incl, reverse, with_values):
    """Yields the flat item lists (keys, or key, value, key, value ...) of the keys
    k with lower <= k <= upper (bounds bytes or None; an excluded bound is taken
    out here), ascending or descending, one PKSCANRANGE / PKRSCANRANGE page at a
    time (strata-server's ordered scans: inclusive bounds, "" unbounded)."""
    step = 2 if with_values else 1
    kind = b"string_with_value" if with_values else b"string"
    if upper == b"":
        # strata-server reads "" as no bound: the only key <= b"" is b"" itself
        if upper_incl and (lower is None or (lower == b"" and lower_incl)):
            v = pool.call(b"GET", b"")
            if v is not None:
                yield [b"", v] if with_values else [b""]
        return
    lo = lower or b""
    hi = upper or b""
    cmd = b"PKRSCANRANGE" if reverse else b"PKSCANRANGE"
    cursor, end = (hi, lo) if reverse else (lo, hi)
    limit = PAGE_FIRST
    while True:
        nxt, items = _check(pool.call(cmd, kind, cursor, end, b"LIMIT", limit))
        n = len(items) // step
        # bounds the server includes and the caller does not
        if items and not lower_incl and lower is not None:
            i = (len(items) - step) if reverse else 0
            if items[i] == lower:
                del items[i:i + step]
        if items and not upper_incl and upper is not None:
            i = 0 if reverse else (len(items) - step)
            if items[i] == upper:
                del items[i:i + step]
        if items:
            yield items
        if not nxt:
            if reverse and n == limit and lo == b"" and (lower is None or lower_incl):
                # "" also names the empty key, which the server cannot page to
                v = pool.call(b"GET", b"")
                if v is not None and (not items or items[-step] != b""):
                    yield [b"", v] if with_values else [b""]
            return
        cursor = nxt
        if with_values and sum(len(items[i]) for i in range(1, len(items), 2)) > PAGE_BYTES:
            limit = max(1, limit // 2)
        elif limit < PAGE_MAX:
            limit *= 2


class RemoteIterator:
    """An iteration over a RemoteDB (see RemoteDB.iterator()). One thread at a
    time. close() (or the end of a `with` block) stops it."""

    def __init__(self, pages, include_key, include_value):
        self._pages = pages
        self._ik = include_key
        self._iv = include_value
        self._buf = []
        self._pos = 0
        self._step = 2 if include_value else 1

    def __iter__(self):
        return self

    def __next__(self):
        if self._pos >= len(self._buf):
            if self._pages is None:
                raise StopIteration
            try:
                self._buf = next(self._pages)
            except StopIteration:
                self._pages = None
                raise
            self._pos = 0
        b, p = self._buf, self._pos
        self._pos = p + self._step
        if self._ik and self._iv:
            return (b[p], b[p + 1])
        if self._ik:
            return b[p]
        if self._iv:
            return b[p + 1]
        return None

    def close(self):
        """Stops the iteration: next() then raises StopIteration. Harmless twice."""
        if self._pages is not None:
            self._pages.close()
            self._pages = None
        self._buf = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class RemoteWriteBatch:
    """Puts and deletes for one MULTI/EXEC (see RemoteDB.write_batch()). One thread
    at a time."""

    def __init__(self, db, transaction=False):
        self._db = db
        self._tr = transaction
        self._ops = []

    def put(self, key, value):
        """put(key: bytes, value: bytes-like) -> None"""
        self._ops.append((b"SET", _write_key(self._db, key), _value_arg(value)))

    def delete(self, key):
        """delete(key: bytes) -> None"""
        self._ops.append((b"DEL", _write_key(self._db, key)))

    def clear(self):
        """Forgets the operations added."""
        self._ops = []

    def __len__(self):
        return len(self._ops)

    def write(self):
        """Applies the operations atomically (MULTI/EXEC, one round trip) and clears
        the batch. Raises strata.RemoteError (nothing applied), strata.IOError (the
        connection broke: applied wholly or not at all)."""
        ops, self._ops = self._ops, []
        if ops:
            _exec(self._db._writable(), ops)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None or not self._tr:
            self.write()
        return False


def _exec(pool_or_conn, ops, watched=False):
    """Runs ops in MULTI/EXEC on a pool (or a connection that watched keys).
    Returns EXEC's replies; raises ConflictError when EXEC answered nil."""
    replies = pool_or_conn.pipeline([(b"MULTI",)] + ops + [(b"EXEC",)])
    res = replies[-1]
    if res is None:
        raise ConflictError("a key the transaction read changed before its commit "
                            "(strata-server's WATCH): nothing was written; retry it")
    for r in replies:
        if isinstance(r, RemoteError):
            raise r
    for r in res:
        if isinstance(r, RemoteError):
            raise r
    return res


class RemoteTransaction:
    """An optimistic transaction over a RemoteDB (see RemoteDB.transaction()): reads
    WATCH their keys, writes wait in the client until commit(), which sends them
    in one MULTI/EXEC; when a watched key changed, commit() raises
    strata.ConflictError and nothing is written. Reads see the transaction's own
    writes. One thread at a time; it holds one connection until it ends."""

    def __init__(self, db, write=True):
        self._db = db
        self._write = write
        self._conn = db._pool.get()
        self._writes = {}
        self._done = False

    def _writing(self):
        if not self._write:
            raise ReadOnlyError("a read transaction (begin(write=False)) cannot write")
        return self._live()

    def _live(self):
        if self._done:
            raise ClosedError("the transaction has ended")
        return self._conn

    def get(self, key, default=None):
        """get(key: bytes, default=None) -> bytes | default (watching key)."""
        _bytes_arg(key, "key")
        if key in self._writes:
            v = self._writes[key]
            return default if v is None else v
        c = self._live()
        w, v = c.pipeline([(b"WATCH", key), (b"GET", key)])
        _check(w)
        _check(v)
        return default if v is None else v

    def exists(self, key):
        """exists(key: bytes) -> bool (watching key)."""
        _bytes_arg(key, "key")
        if key in self._writes:
            return self._writes[key] is not None
        w, n = self._live().pipeline([(b"WATCH", key), (b"EXISTS", key)])
        _check(w)
        return _check(n) == 1

    def put(self, key, value):
        """put(key: bytes, value: bytes-like) -> None (at commit). Raises
        strata.ReadOnlyError (a read transaction), strata.ClosedError (ended)."""
        self._writing()
        self._writes[_write_key(self._db, key)] = _value_arg(value)

    def delete(self, key):
        """delete(key: bytes) -> None (at commit). Raises as put()."""
        self._writing()
        self._writes[_write_key(self._db, key)] = None

    def commit(self):
        """Applies the writes atomically unless a key read changed. Raises
        strata.ConflictError (nothing written), strata.RemoteError, strata.IOError."""
        c = self._live()
        self._done = True
        ops = [(b"SET", k, v) if v is not None else (b"DEL", k) for k, v in self._writes.items()]
        self._writes = {}
        try:
            _exec(c, ops, watched=True)
        except BaseException:
            self._release(c, unwatch=True)
            raise
        self._release(c, unwatch=False)

    def abort(self):
        """Forgets the writes. Harmless after the end."""
        if not self._done:
            self._done = True
            self._writes = {}
            self._release(self._conn, unwatch=True)

    def _release(self, c, unwatch):
        if unwatch and not c.broken:
            try:
                c.call(b"UNWATCH")
            except Exception:
                c.close()
        self._db._pool.put(c)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.commit()
        else:
            self.abort()
        return False

    def __del__(self):
        if not getattr(self, "_done", True):
            try:
                self.abort()
            except Exception:
                pass
