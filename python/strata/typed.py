"""strata.typed: a typed object store over Strata -- openleveldb's model and on-disk
format, with the same API in one process and across processes.

    from strata.typed import LevelDB
    db = LevelDB("/tmp/db")                      # or LevelDB(None, "redis://127.0.0.1:6379")
    db["user", "42"] = {"name": "Ada", "langs": ["en", "fr"]}
    db["count"] = 41
    db["count"] += 1                             # ints come back as ints
    db["vec"] = numpy.arange(6.0).reshape(2, 3)  # arrays as arrays
    users = db["user", ...]                      # a view: the prefix "user" taken off
    users["42"]                                  # {'name': 'Ada', 'langs': ['en', 'fr']}
    "42" in users                                # a point lookup
    len(users), list(users)                      # [('42', {...})]
    with db.batch() as b:                        # all or nothing
        b["a"] = 1
        del b["count"]
    with db.transaction() as t:                  # optimistic; ConflictError to retry
        t["count"] = (t["count"] or 0) + 1
    with db.snapshot() as s:                     # a frozen view (local databases)
        list(s.items())

Keys are str, or tuples of str (prefixes, then the key), stored as the UTF-8 of
the parts concatenated with no separator (db["a", "b"] is the record b"ab").
Values are stored as one type tag then the payload (openleveldb 0.1.5's
encoding, byte for byte): b"b" raw bytes, b"i" a 16-byte big-endian signed int
(bool too, read back as int), b"s" UTF-8 text, b"n" numpy.save's NPY output (no
pickles), b"j" python-rapidjson's compact JSON for any other object (float, None,
list, dict, tuple -> list, bytearray -> str ...). A database made by openleveldb
opens here with the same values and the reverse; plyvel and strata.DB see the
raw records. The codec is C (strata._strata: typed_encode / typed_decode, also
exported here as encode() and decode()); JSON goes through python-rapidjson, the
library openleveldb uses (Debian: python3-rapidjson), numpy arrays through numpy
(python3-numpy), imported only when an array is met.

strata.openleveldb is the drop-in module: a program written for openleveldb runs
with `from strata.openleveldb import LevelDB` and, in the remote mode, a
strata-server address. Its differences from openleveldb are listed in
python/README.md ("Typed object store").

Thread-safety: a LevelDB (and its views) may be used by any number of threads at
once; its batches, transactions and iterators by one thread at a time. fork():
a local LevelDB inherited by a child raises strata.Error there (open it again in
the child, read_only=True while the parent writes); a remote one opens new
connections in the child by itself.
"""

import io
import os
import threading
import weakref

from . import _strata
from ._db import DB
from ._errors import ClosedError, DecodeError, Error, LockError, NotSupportedError
from . import remote as _remote
from ._resp import parse_address

try:
    import rapidjson as _rapidjson
except ImportError:  # pragma: no cover - Debian's python3-rapidjson is a dependency
    _rapidjson = None

__all__ = ["LevelDB", "RemoteLevelDB", "Batch", "Transaction", "encode", "decode",
           "DecodeError"]

_tget = _strata.typed_get
_tput = _strata.typed_put
_tkey = _strata.typed_key
_tcontains = _strata.typed_contains
_tencode = _strata.typed_encode
_tdecode = _strata.typed_decode
_titer = _strata.typed_iter
_tpage = _strata.typed_page
_count = _strata.count

#: What a key ending in ... (a view) makes the C functions return.
_VIEW = type("_ViewMarker", (), {"__repr__": lambda self: "<view>"})()


# --------------------------------------------------------------------------
# The codec's Python parts: JSON (python-rapidjson), numpy's general paths
# --------------------------------------------------------------------------

if _rapidjson is not None:
    _json_dumps = _rapidjson.dumps
    _json_loads = _rapidjson.loads
else:  # pragma: no cover
    import json as _json

    def _json_dumps(obj):
        raise NotSupportedError(
            "storing a %s needs python-rapidjson (Debian: python3-rapidjson), whose JSON "
            "openleveldb writes byte for byte" % type(obj).__name__)

    _json_loads = _json.loads


def _npy_encode(array):
    """numpy.save's output for the arrays the C encoder leaves to numpy (structured
    dtypes, strided or subclassed arrays, datetimes, huge headers). Object arrays
    raise ValueError (they would be pickles)."""
    import numpy
    f = io.BytesIO()
    numpy.save(f, array, allow_pickle=False)
    return f.getvalue()


def _npy_decode(buf, copy):
    """An ndarray from an NPY value numpy must parse (structured dtypes, unusual
    headers): a fresh writable array (copy), or a read-only view of buf."""
    import numpy
    fmt = numpy.lib.format
    f = io.BytesIO(buf)
    version = fmt.read_magic(f)
    if copy or version not in ((1, 0), (2, 0)):
        f.seek(0)
        arr = fmt.read_array(f, allow_pickle=False)
        if not copy:
            arr.flags.writeable = False
        return arr
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, fortran, dtype = read(f)
    if dtype.hasobject:
        raise ValueError("object arrays (pickled data) are not read")
    count = 1
    for d in shape:
        count *= d
    arr = numpy.frombuffer(buf, dtype=dtype, count=count, offset=f.tell())
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def _npy_check():
    """Does the C encoder's NPY header match numpy.save's (this numpy's rules)?
    Called once, when numpy is first used; False routes every array through
    numpy.save."""
    import numpy
    samples = [numpy.zeros(3), numpy.zeros((2, 3), dtype="<i4"),
               numpy.zeros((2, 3), dtype=">f4", order="F"), numpy.array(1.5),
               numpy.zeros((0, 7), dtype="|S3"), numpy.zeros((10 ** 5, 1), dtype=bool)]
    try:
        for a in samples:
            if _tencode(a) != b"n" + _npy_encode(a):
                return False
    except Exception:
        return False
    return True


_strata._typed_setup(DecodeError, _json_dumps, _json_loads, _npy_encode, _npy_decode, _VIEW,
                     _npy_check)


def encode(value):
    """encode(value) -> bytes

    openleveldb's encoding of value: b"i" + 16-byte big-endian int for an int
    (bool included), b"s" + UTF-8 for a str, b"b" + the bytes for bytes, b"n" +
    numpy.save's output for a numpy.ndarray, b"j" + python-rapidjson's JSON for
    anything else. Raises OverflowError (an int outside [-2**127, 2**127)),
    TypeError (not JSON-able), ValueError (an object array),
    UnicodeEncodeError (a str with lone surrogates)."""
    return _tencode(value)


def decode(data, key=None):
    """decode(data: bytes-like, key: bytes = None) -> object

    The value openleveldb's encoding data holds (the inverse of encode()): int,
    str, bytes, a writable numpy.ndarray, or what the JSON holds. Raises
    strata.DecodeError (naming key when given) for anything else."""
    return _tdecode(data, key)


def _parts(x, what):
    """prefixed_iter's prefixes / starting_by: None, a str, or a sequence of str,
    as bytes."""
    if x is None:
        return b""
    if isinstance(x, (tuple, list)) and not x:
        return b""
    if not isinstance(x, (str, tuple, list)):
        raise TypeError("str prefix or key expected, got %s" % type(x).__name__)
    k = _tkey(b"", x)
    if type(k) is tuple:
        raise TypeError("str prefix or key expected, got ellipsis (in %s)" % what)
    return k


def _readonly_error():
    return io.UnsupportedOperation("not writable: the LevelDB was opened with read_only=True")


# --------------------------------------------------------------------------
# Local databases: one engine handle per path and process
# --------------------------------------------------------------------------

class _Handle:
    """A strata.DB shared by the LevelDB objects of one path in this process
    (openleveldb keeps one connector per path too). Closed when the last LevelDB
    that opened it closes or is collected."""

    __slots__ = ("db", "opens", "pid", "key", "read_only", "lock", "__weakref__")

    def __init__(self, db, key, read_only):
        self.db = db
        self.opens = 0
        self.pid = os.getpid()
        self.key = key
        self.read_only = read_only
        self.lock = threading.Lock()

    def release(self):
        with self.lock:
            self.opens -= 1
            last = self.opens == 0
        if last:
            with _handles_lock:
                if _handles.get(self.key) is self:
                    del _handles[self.key]
            if self.pid == os.getpid():
                self.db.close()


_handles = weakref.WeakValueDictionary()
_handles_lock = threading.Lock()


def _open_handle(path, read_only, create_if_missing, options):
    key = os.path.realpath(os.fspath(path))
    with _handles_lock:
        h = _handles.get(key)
        if h is not None and (h.pid != os.getpid() or h.db.closed):
            h = None
        if h is not None and h.read_only and not read_only:
            h = None  # a writer needs a handle of its own (read-only ones take no lock)
        if h is None:
            if read_only:
                if create_if_missing and not os.path.exists(os.path.join(key, "CURRENT")):
                    # openleveldb creates a missing database whatever read_only says
                    try:
                        DB(path, create_if_missing=True, **options).close()
                    except LockError:
                        pass  # another process is creating it: it exists now
                db = DB(path, read_only=True, **options)
            else:
                db = DB(path, create_if_missing=create_if_missing, **options)
            h = _Handle(db, key, read_only)
            _handles[key] = h
        with h.lock:
            h.opens += 1
    return h


# --------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------

class LevelDB:
    """LevelDB(db_path, server_address=None, dbconnector=None, read_only=False, *,
    create_if_missing=True, sync=False, **options)

    A typed object store: openleveldb's API and on-disk format over Strata.

    db_path (str or os.PathLike): the database directory, created when missing,
    read_only or not, as openleveldb does (create_if_missing=False:
    strata.InvalidArgumentError instead). Opening one path twice in a process
    shares one engine handle (as openleveldb does); a read_only store opened
    while this process already writes the path shares the writer's handle.
    server_address (str): a strata-server serving the database instead --
    "redis://host:port[/db]", "rediss://..." (TLS), "strata://...", "host:port" (see
    strata.connect()); db_path may then be None, and when given it must be the
    directory the server serves (checked when the server is on this machine).
    read_only (bool): writes raise io.UnsupportedOperation; a local read_only
    store otherwise opens the engine read-only (no lock: it works beside a
    process that writes the database, and sees that process's later writes
    after catch_up()). sync (bool): each local write waits for its log record to be on
    disk (remote: the server's `sync` setting decides). options: strata.DB's
    (compression, lru_cache_size, bloom_filter_bits ...), local only. dbconnector:
    openleveldb's internal argument, must be None.

    Keys: a str, or a tuple (or list) of str parts -- prefixes, then the key;
    db["a", "b"] is the key "ab". A key ending in ... (db["a", ...]) is a view of
    the keys beginning with "a", with that prefix taken off; views nest and share
    the database. Values: see the module's documentation.

    Raises (construction): TypeError (dbconnector given, bad argument types),
    ValueError (a bad server address, or a db_path other than the server's),
    strata.LockError (another process holds the database for writing),
    strata.InvalidArgumentError (no database and create_if_missing=False),
    strata.IOError (no server there), strata.RemoteError (the server refused
    AUTH or SELECT), strata.CorruptionError.

    Thread-safety: any number of threads at once. See the module's documentation
    for fork().
    """

    __slots__ = ("db_path", "server_address", "read_only", "_db", "_prefix", "_snap", "_sync",
                 "_h", "_root", "_fin", "_owner", "_views", "__weakref__")

    def __new__(cls, db_path=None, server_address=None, dbconnector=None, read_only=False,
                **kwargs):
        if server_address is not None and cls is LevelDB:
            cls = RemoteLevelDB
        return object.__new__(cls)

    def __init__(self, db_path, server_address=None, dbconnector=None, read_only=False, *,
                 create_if_missing=True, sync=False, **options):
        if dbconnector is not None:
            raise TypeError("dbconnector is openleveldb's internal argument; strata.typed.LevelDB "
                            "takes db_path (local) or server_address (remote)")
        if db_path is None:
            raise TypeError("a local LevelDB needs db_path (or give server_address)")
        self.db_path = db_path
        self.server_address = None
        self.read_only = bool(read_only)
        self._prefix = b""
        self._snap = None
        self._sync = bool(sync)
        self._root = True
        self._owner = None
        self._views = None
        self._h = h = _open_handle(db_path, self.read_only, bool(create_if_missing), options)
        self._db = h.db
        self._fin = weakref.finalize(self, _Handle.release, h)

    # -- views --------------------------------------------------------------

    def _derive(self, prefix):
        """A view of this store (or snapshot) with the given prefix (bytes)."""
        v = object.__new__(type(self))
        v.db_path = self.db_path
        v.server_address = self.server_address
        v.read_only = self.read_only
        v._db = self._db
        v._prefix = prefix
        v._snap = self._snap
        v._sync = self._sync
        v._h = self._h
        v._root = False
        v._fin = None
        v._views = None
        self._derive_extra(v)
        # A view keeps the store it came from alive (`db = LevelDB(path)["p", ...]`
        # drops the root at once, and the view must go on working), and closes
        # with it: the root (or snapshot) remembers its views, weakly.
        o = self if self._owner is None else self._owner
        v._owner = o
        if o._views is None:
            o._views = weakref.WeakSet()
        o._views.add(v)
        return v

    def _derive_extra(self, v):
        pass

    def _close_views(self):
        views, self._views = self._views, None
        for v in views or ():
            v._db = None

    def _view(self, key):
        k = _tkey(self._prefix, key)
        return self._derive(k[0])

    @property
    def prefix(self):
        """The view's prefix (str; "" for the whole database)."""
        return self._prefix.decode("utf-8", "surrogateescape")

    # -- point operations ---------------------------------------------------

    def __getitem__(self, key):
        """db[key] -> the value, None when the key is missing (openleveldb's rule);
        db[prefix, ..., ...] -> a view. Raises TypeError (a key part that is not
        str), strata.DecodeError (a stored value openleveldb's encoding cannot
        decode), strata.ClosedError."""
        r = _tget(self._db, self._snap, self._prefix, key, None, False)
        if r is _VIEW:
            return self._view(key)
        return r

    def get(self, key, default=None, *, buffers=False):
        """get(key, default=None, *, buffers=False) -> the value, or default when the
        key is missing.

        buffers=True: a numpy array comes back as a read-only view of the engine's
        memory (local) or of the received reply (remote), without a copy, and
        bytes as a read-only memoryview; other types as usual. A local view stays
        valid while it exists (it pins the engine memory it shows, even past the
        database's close). Raises as db[key]."""
        r = _tget(self._db, self._snap, self._prefix, key, default, buffers)
        if r is _VIEW:
            raise TypeError("get() needs a key, not a view (a key ending in ...)")
        return r

    def __setitem__(self, key, value):
        """db[key] = value. Raises io.UnsupportedOperation (read_only), TypeError (a
        key part not str, a key ending in ..., a value that is not JSON-able),
        OverflowError (an int outside [-2**127, 2**127)), ValueError (an object
        array), strata.ClosedError, strata.IOError."""
        if self.read_only:
            raise _readonly_error()
        _tput(self._db, self._prefix, key, value, self._sync)

    def __delitem__(self, key):
        """del db[key]: removes the key (a missing key is fine, as openleveldb).
        Raises io.UnsupportedOperation (read_only), TypeError, strata.ClosedError."""
        if self.read_only:
            raise _readonly_error()
        k = self._key(key)
        if self._db is None:
            raise ClosedError("the typed store is closed")
        self._db.delete(k, sync=self._sync)

    def __contains__(self, key):
        """key in db: a point lookup (no scan, no decoding). Raises TypeError,
        strata.ClosedError."""
        return _tcontains(self._db, self._snap, self._prefix, key)

    def _key(self, key):
        k = _tkey(self._prefix, key)
        if type(k) is tuple:
            raise TypeError("str prefix or key expected, got ellipsis (a view is not a key)")
        return k

    def update(self, other=(), **kwargs):
        """update(other=(), **kwargs) -> None: writes the pairs of a mapping (or an
        iterable of (key, value)) and kwargs in one batch (all or nothing). Raises
        as db[key] = value."""
        with self.batch() as b:
            b.update(other, **kwargs)

    # -- iteration ----------------------------------------------------------

    def _scan(self, prefix, strip, include_key, include_value, reverse):
        src = self._snap if self._snap is not None else self._db
        if src is None:
            raise ClosedError("the typed store is closed")
        it = src.iterator(prefix=prefix, include_key=include_key, include_value=include_value,
                          reverse=reverse)
        return _titer(it, strip)

    def _count(self, prefix):
        return _count(self._scan(prefix, 0, False, False, False))

    def __iter__(self):
        """Iterates (key, value) in key order, keys relative to the view."""
        return self._scan(self._prefix, len(self._prefix), True, True, False)

    def __len__(self):
        """The number of keys in the view (counted by a key-only scan, values not
        read or decoded)."""
        return self._count(self._prefix)

    def prefixed_iter(self, prefixes=None, starting_by=None, include_key=True,
                      include_value=True, *, reverse=False):
        """prefixed_iter(prefixes=None, starting_by=None, include_key=True,
        include_value=True, *, reverse=False) -> iterator

        The entries whose keys begin with the prefixes (a str or a sequence of
        str, taken off the keys returned) followed by starting_by (the same, kept
        in the keys), in key order (reverse=True: descending). Yields (key, value),
        key, value, or None, as include_key and include_value say (openleveldb's
        shapes). Raises TypeError (a part that is not str), strata.DecodeError
        (while iterating)."""
        p = self._prefix + _parts(prefixes, "prefixes")
        return self._scan(p + _parts(starting_by, "starting_by"), len(p), include_key,
                          include_value, reverse)

    def prefixed_len(self, prefixes=None, starting_by=None):
        """prefixed_len(prefixes=None, starting_by=None) -> int: how many keys
        prefixed_iter() with these arguments would yield (values not read)."""
        return self._count(self._prefix + _parts(prefixes, "prefixes") +
                           _parts(starting_by, "starting_by"))

    def keys(self, *, reverse=False):
        """keys(*, reverse=False) -> iterator of the keys (str), in key order."""
        return self._scan(self._prefix, len(self._prefix), True, False, reverse)

    def values(self, *, reverse=False):
        """values(*, reverse=False) -> iterator of the values, in key order."""
        return self._scan(self._prefix, len(self._prefix), False, True, reverse)

    def items(self, *, reverse=False):
        """items(*, reverse=False) -> iterator of (key, value), in key order."""
        return self._scan(self._prefix, len(self._prefix), True, True, reverse)

    # -- batches, transactions, snapshots ----------------------------------

    def batch(self):
        """batch() -> Batch: writes (b[key] = value, del b[key], b.update(...), views
        b[prefix, ...]) applied together, atomically, when the `with` block ends
        (or by write()); nothing when the block raises. Reads do not see them
        until then. Raises io.UnsupportedOperation (read_only)."""
        if self.read_only:
            raise _readonly_error()
        if self._db is None:
            raise ClosedError("the typed store is closed")
        return Batch(_LocalBatchCore(self._db.write_batch(sync=self._sync)), self._prefix)

    def transaction(self):
        """transaction() -> Transaction: reads and writes (t[key], t.get(), key in t,
        t[key] = value, del t[key], views t[prefix, ...]) that commit together
        when the `with` block ends (abort when it raises). Optimistic: when a key
        it read or wrote changed meanwhile, the commit raises strata.ConflictError
        and writes nothing -- retry the block. Reads see its own writes. Raises
        io.UnsupportedOperation (read_only)."""
        if self.read_only:
            raise _readonly_error()
        if self._db is None:
            raise ClosedError("the typed store is closed")
        return Transaction(_LocalTxnCore(self._db.begin(write=True, sync=self._sync)),
                           self._prefix)

    def snapshot(self):
        """snapshot() -> LevelDB: a read-only view of the database as of now (every
        read: [], get, in, len, iteration, views); close() (or the end of a `with`
        block) releases it. Raises strata.NotSupportedError in the remote mode
        (strata-server holds no snapshot for a client)."""
        if self._db is None:
            raise ClosedError("the typed store is closed")
        s = self._derive(self._prefix)
        s._snap = self._db.snapshot()
        s.read_only = True
        s._root = True  # its close() releases the snapshot (its views' do nothing)
        s._owner = None  # its own views register with it
        return s

    # -- life ---------------------------------------------------------------

    def catch_up(self):
        """Moves a local read_only store to the latest state written by the
        process that writes the database (see strata.DB.catch_up()); nothing
        otherwise. Raises strata.ClosedError."""
        if self._db is None:
            raise ClosedError("the typed store is closed")
        if self._db.read_only:
            self._db.catch_up()

    @property
    def closed(self):
        """True once this store (or its snapshot) is closed."""
        if self._snap is not None:
            return self._snap.closed
        return self._db is None or self._db.closed

    def close(self):
        """Closes the store: a snapshot releases its snapshot; the last open LevelDB
        of a path closes the engine (its views then raise strata.ClosedError). A
        view's close() does nothing (a view keeps its store open while it is
        referenced, and closes with it). Harmless twice."""
        if not self._root:
            return
        if self._snap is not None:
            self._snap.close()
            self._close_views()
            return
        if self._db is not None:
            self._db = None
            self._close_views()
            self._fin()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __reduce__(self):
        raise TypeError("a local LevelDB cannot be pickled (its engine handle belongs to this "
                        "process); open it again in the other process, or use a strata-server "
                        "(server_address=) and pass that")

    def __repr__(self):
        return "%s(db_path=%r, server_address=%r, prefix=%r%s%s)" % (
            "LevelDB", os.fspath(self.db_path) if self.db_path is not None else None,
            self.server_address, self.prefix, ", read_only=True" if self.read_only else "",
            ", snapshot" if self._snap is not None else "")


# --------------------------------------------------------------------------
# Batches and transactions: the typed surface over a core per backend
# --------------------------------------------------------------------------

class _LocalBatchCore:
    __slots__ = ("wb", "n")

    def __init__(self, wb):
        self.wb = wb
        self.n = 0

    def put(self, k, v):
        self.wb.put(k, v)
        self.n += 1

    def delete(self, k):
        self.wb.delete(k)
        self.n += 1

    def write(self):
        self.wb.write()
        self.wb.clear()
        self.n = 0

    def clear(self):
        self.wb.clear()
        self.n = 0


class _RemoteBatchCore:
    __slots__ = ("rb", "n")

    def __init__(self, rb):
        self.rb = rb
        self.n = 0

    def put(self, k, v):
        self.rb.put(k, v)
        self.n += 1

    def delete(self, k):
        self.rb.delete(k)
        self.n += 1

    def write(self):
        self.rb.write()
        self.n = 0

    def clear(self):
        self.rb.clear()
        self.n = 0


class Batch:
    """Typed writes applied together (see LevelDB.batch()). One thread at a time."""

    __slots__ = ("_core", "_prefix")

    def __init__(self, core, prefix):
        self._core = core
        self._prefix = prefix

    def _key(self, key):
        k = _tkey(self._prefix, key)
        if type(k) is tuple:
            raise TypeError("str prefix or key expected, got ellipsis (a view is not a key)")
        return k

    def __setitem__(self, key, value):
        """b[key] = value (encoded now: a bad value raises here, not at write())."""
        self._core.put(self._key(key), _tencode(value))

    def __delitem__(self, key):
        """del b[key]"""
        self._core.delete(self._key(key))

    def __getitem__(self, key):
        """b[prefix, ...] -> a view of the batch with that prefix (other keys:
        TypeError -- a batch is written, not read)."""
        k = _tkey(self._prefix, key)
        if type(k) is not tuple:
            raise TypeError("a batch is write-only: read through the database (or use a "
                            "transaction to read and write together)")
        return Batch(self._core, k[0])

    def update(self, other=(), **kwargs):
        """update(other=(), **kwargs): b[key] = value for each pair of a mapping or an
        iterable of pairs, then of kwargs."""
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v
        for k, v in kwargs.items():
            self[k] = v

    def __len__(self):
        """The number of writes waiting."""
        return self._core.n

    def write(self):
        """Applies the writes atomically and empties the batch. Raises
        strata.ClosedError, strata.IOError, strata.RemoteError."""
        self._core.write()

    def clear(self):
        """Forgets the writes waiting."""
        self._core.clear()

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self._core.write()
        else:
            self._core.clear()
        return False


class _LocalTxnCore:
    __slots__ = ("txn",)

    def __init__(self, txn):
        self.txn = txn

    def get(self, k):
        return self.txn.get(k)

    def exists(self, k):
        return self.txn.get(k) is not None

    def put(self, k, v):
        self.txn.put(k, v)

    def delete(self, k):
        self.txn.delete(k)

    def commit(self):
        self.txn.commit()

    def abort(self):
        self.txn.abort()


class _RemoteTxnCore:
    __slots__ = ("txn",)

    def __init__(self, txn):
        self.txn = txn

    def get(self, k):
        return self.txn.get(k)

    def exists(self, k):
        return self.txn.exists(k)

    def put(self, k, v):
        self.txn.put(k, v)

    def delete(self, k):
        self.txn.delete(k)

    def commit(self):
        self.txn.commit()

    def abort(self):
        self.txn.abort()


class Transaction:
    """Typed reads and writes committed together (see LevelDB.transaction()). One
    thread at a time."""

    __slots__ = ("_core", "_prefix")

    def __init__(self, core, prefix):
        self._core = core
        self._prefix = prefix

    def _key(self, key):
        k = _tkey(self._prefix, key)
        if type(k) is tuple:
            raise TypeError("str prefix or key expected, got ellipsis (a view is not a key)")
        return k

    def __getitem__(self, key):
        """t[key] -> the value (None when missing); t[prefix, ...] -> a view."""
        k = _tkey(self._prefix, key)
        if type(k) is tuple:
            return Transaction(self._core, k[0])
        v = self._core.get(k)
        return None if v is None else _tdecode(v, k)

    def get(self, key, default=None):
        """get(key, default=None) -> the value, or default when missing."""
        k = self._key(key)
        v = self._core.get(k)
        return default if v is None else _tdecode(v, k)

    def __contains__(self, key):
        """key in t"""
        return self._core.exists(self._key(key))

    def __setitem__(self, key, value):
        """t[key] = value (applied at commit)."""
        self._core.put(self._key(key), _tencode(value))

    def __delitem__(self, key):
        """del t[key] (applied at commit)."""
        self._core.delete(self._key(key))

    def commit(self):
        """Applies the writes atomically. Raises strata.ConflictError (a key read or
        written changed meanwhile: nothing written), strata.ClosedError."""
        self._core.commit()

    def abort(self):
        """Ends the transaction without writing anything (what the end of a `with`
        block that raised does)."""
        self._core.abort()

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self._core.commit()
        else:
            self._core.abort()
        return False


# --------------------------------------------------------------------------
# The remote store: the same class over strata-server
# --------------------------------------------------------------------------

def _loopback(host):
    return host in ("localhost", "::1") or host.startswith("127.")


class RemoteLevelDB(LevelDB):
    """LevelDB(db_path, server_address, ...) makes one of these: the same API over a
    strata-server (see LevelDB). snapshot() raises strata.NotSupportedError."""

    __slots__ = ("_rdb",)

    def _derive_extra(self, v):
        v._rdb = self._rdb

    def __init__(self, db_path, server_address=None, dbconnector=None, read_only=False, *,
                 create_if_missing=True, sync=False, **options):
        if dbconnector is not None:
            raise TypeError("dbconnector is openleveldb's internal argument; strata.typed.LevelDB "
                            "takes db_path (local) or server_address (remote)")
        if options:
            raise TypeError("%s: strata.DB options apply to local databases only (the server "
                            "has its own configuration)" % ", ".join(sorted(options)))
        addr = parse_address(server_address)
        self.db_path = db_path
        self.server_address = server_address
        self.read_only = bool(read_only)
        self._prefix = b""
        self._snap = None
        self._sync = bool(sync)
        self._root = True
        self._db = None
        self._h = None
        self._fin = None
        self._owner = None
        self._views = None
        self._rdb = _remote.RemoteDB(addr, read_only=self.read_only)
        if db_path is not None and _loopback(addr.host):
            try:
                served = self._rdb._pool.call(b"CONFIG", b"GET", b"dir")
            except Error:
                served = None
            if served and len(served) == 2:
                d = os.fsdecode(served[1])
                if os.path.isabs(d) and os.path.realpath(d) != os.path.realpath(db_path):
                    self._rdb.close()
                    raise ValueError("the strata-server at %s serves %s, not %s"
                                     % (addr.display(), d, os.fspath(db_path)))

    def _pool(self):
        r = self._rdb
        if r.closed:
            raise ClosedError("the typed store is closed")
        return r._pool

    def __getitem__(self, key):
        k = _tkey(self._prefix, key)
        if type(k) is tuple:
            return self._derive(k[0])
        v = self._pool().call(b"GET", k)
        return None if v is None else _tdecode(v, k)

    def get(self, key, default=None, *, buffers=False):
        k = self._key(key)
        v = self._pool().call(b"GET", k)
        return default if v is None else _tdecode(v, k, buffers)

    def __setitem__(self, key, value):
        if self.read_only:
            raise _readonly_error()
        k = self._key(key)
        self._pool().call(b"SET", k, _tencode(value))

    def __delitem__(self, key):
        if self.read_only:
            raise _readonly_error()
        self._pool().call(b"DEL", self._key(key))

    def __contains__(self, key):
        return self._pool().call(b"EXISTS", self._key(key)) == 1

    def _scan(self, prefix, strip, include_key, include_value, reverse):
        pages = _remote.scan_pages(self._pool(), prefix, True, _strata.increment(prefix),
                                   False, reverse, include_value)
        return _remote_items(pages, strip, include_key, include_value)

    def _count(self, prefix):
        if not prefix:
            # the whole database: the server counts (DBSIZE walks its keys), no
            # key crosses the network
            return self._pool().call(b"DBSIZE")
        n = 0
        for items in _remote.scan_pages(self._pool(), prefix, True, _strata.increment(prefix),
                                        False, False, False):
            n += len(items)
        return n

    def batch(self):
        if self.read_only:
            raise _readonly_error()
        self._pool()
        return Batch(_RemoteBatchCore(self._rdb.write_batch()), self._prefix)

    def transaction(self):
        if self.read_only:
            raise _readonly_error()
        self._pool()
        return Transaction(_RemoteTxnCore(self._rdb.transaction()), self._prefix)

    def snapshot(self):
        self._pool()
        return self._rdb.snapshot()  # raises NotSupportedError

    def catch_up(self):
        self._pool()

    @property
    def closed(self):
        return self._rdb.closed

    def close(self):
        if self._root:
            self._rdb.close()

    def __reduce__(self):
        return (_restore_remote, (self.db_path, self.server_address, self.read_only,
                                  self._prefix, self._sync))


def _remote_items(pages, strip, include_key, include_value):
    for items in pages:
        yield from _tpage(items, strip, include_key, include_value, include_value)


def _restore_remote(db_path, server_address, read_only, prefix, sync):
    db = RemoteLevelDB(db_path, server_address, read_only=read_only, sync=sync)
    if prefix:
        db = db._derive(prefix)
        db._root = True  # it owns its connections
    return db
