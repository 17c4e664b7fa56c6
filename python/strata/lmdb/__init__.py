"""strata.lmdb: py-lmdb's API (lmdb 1.4) over a Strata database.

A program written for py-lmdb runs after ``import strata.lmdb as lmdb``: ``open``,
``Environment``, ``Transaction``, ``Cursor``, named databases (``open_db``),
``stat``, ``info``, ``copy``, ``begin(write, buffers, db)``, the cursor methods and
py-lmdb's exception classes. The environment is a Strata database directory (in
LevelDB's format), not an LMDB data.mdb file.

How LMDB's model maps onto Strata:

- A read transaction is a snapshot. A write transaction is a Strata transaction
  begun with exclusive=True: one write transaction at a time per environment, as
  LMDB (``begin(write=True)`` waits while another is open), so write transactions
  never conflict with each other. Its writes are applied atomically at commit.
- Named databases are Strata sub-databases. ``max_dbs`` is honoured as LMDB does
  (``open_db(name)`` with ``max_dbs=0`` raises ``DbsFullError``).
- ``sync=True`` (LMDB's default) makes every commit durable (fdatasync) before it
  returns; ``sync=False`` does not (a process crash still loses nothing
  committed). ``metasync``, ``map_async``, ``map_size``, ``readahead``,
  ``writemap``, ``meminit``, ``max_readers``, ``max_spare_txns``, ``lock`` and
  ``mode`` (but for creating the directory) are accepted and have no effect: Strata
  has no memory map to size, no reader table and always locks.
- ``readonly=True`` opens the database with Strata's read-only opens (no lock, so
  several processes read while one writes); each ``begin()`` first catches up with
  the writer, so a read transaction sees the latest commit, as in LMDB.
- ``buffers=True``: memoryviews, valid until the transaction ends or the cursor
  moves (released then: using one raises ValueError). In a read transaction they
  are zero-copy; in a write transaction they are views of copies.
- Features Strata cannot give raise ``NotImplementedError``: ``dupsort``,
  ``dupfixed``, ``integerkey``, ``integerdup``, ``reverse_key``, nested
  transactions (``parent=``), ``copyfd``.

Every difference from py-lmdb is listed in the package's README.md.
"""

import builtins
import itertools
import os

from .. import _db, _strata
from .._errors import NotSupportedError

__version__ = "1.4.0"  # the py-lmdb release whose API this module follows
__all__ = ["open", "Environment", "Transaction", "Cursor", "version", "enable_drop_gil",
           "preload", "Error", "KeyExistsError", "NotFoundError", "PageNotFoundError",
           "CorruptedError", "PanicError", "VersionMismatchError", "InvalidError",
           "MapFullError", "DbsFullError", "ReadersFullError", "TlsFullError", "TxnFullError",
           "CursorFullError", "PageFullError", "MapResizedError", "IncompatibleError",
           "BadRslotError", "BadDbiError", "BadTxnError", "BadValsizeError", "ReadonlyError",
           "InvalidParameterError", "LockError", "MemoryError", "DiskError"]


# ---- exceptions (py-lmdb's classes) -------------------------------------------

class Error(Exception):
    """Raised when an LMDB-style error occurs; the base of the classes below."""


class KeyExistsError(Error):
    """Key/data pair already exists."""


class NotFoundError(Error):
    """No matching key/data pair found (a named database that does not exist)."""


class PageNotFoundError(Error):
    """Request page not found (never raised by Strata)."""


class CorruptedError(Error):
    """Located page was of the wrong type: the database is damaged."""


class PanicError(Error):
    """Update of meta page failed (never raised by Strata)."""


class VersionMismatchError(Error):
    """Database environment version mismatch (never raised by Strata)."""


class InvalidError(Error):
    """File is not an MDB file (never raised by Strata)."""


class MapFullError(Error):
    """Environment map_size= limit reached (never raised by Strata)."""


class DbsFullError(Error):
    """Environment max_dbs= limit reached."""


class ReadersFullError(Error):
    """Environment max_readers= limit reached (never raised by Strata)."""


class TlsFullError(Error):
    """Thread-local storage keys full (never raised by Strata)."""


class TxnFullError(Error):
    """Transaction has too many dirty pages (never raised by Strata)."""


class CursorFullError(Error):
    """Internal error - cursor stack limit reached (never raised by Strata)."""


class PageFullError(Error):
    """Internal error - page has no more space (never raised by Strata)."""


class MapResizedError(Error):
    """Database contents grew beyond environment map_size= (never raised by Strata)."""


class IncompatibleError(Error):
    """Operation and DB incompatible."""


class BadRslotError(Error):
    """Invalid reuse of reader locktable slot (never raised by Strata)."""


class BadDbiError(Error):
    """The specified DBI was changed unexpectedly (a dropped named database)."""


class BadTxnError(Error):
    """Transaction cannot recover - it must be aborted (a write transaction that
    conflicted with a write made outside the strata.lmdb API)."""


class BadValsizeError(Error):
    """Too big key/data, key is empty, or wrong DUPFIXED size."""


class ReadonlyError(Error):
    """An attempt was made to modify a read-only database."""


class InvalidParameterError(Error):
    """An invalid parameter was specified."""


class LockError(Error):
    """The environment was locked by another process (a second writing process:
    Strata has one writer per database; readers use readonly=True)."""


class MemoryError(Error, builtins.MemoryError):  # noqa: A001
    """Out of memory (also builtins.MemoryError)."""


class DiskError(Error):
    """A disk error occurred."""


# strata_py.h's SP_E_* order: Error, IO, Corruption, Lock, Conflict, ReadOnly,
# IteratorInvalid, Closed, NotFound, Invalid, NotSupported.
_ERRORS = (Error, DiskError, CorruptedError, LockError, BadTxnError, ReadonlyError, Error,
           Error, NotFoundError, InvalidParameterError, IncompatibleError)

_CLOSED = "Attempt to operate on closed/deleted/dropped object."


class _StrataDB(_db.DB):
    """The strata.DB under an Environment: raises py-lmdb's classes."""

    _strata_errors = _ERRORS
    _strata_bytes_messages = False


def _feature(name, what):
    if name not in _strata.FEATURES:
        raise NotSupportedError("%s needs this build of Strata to have %s (strata.FEATURES)"
                                % (what, name))


def _key(key, what="key"):
    """py-lmdb takes any buffer for a key; Strata's core takes bytes."""
    if type(key) is not bytes:
        if isinstance(key, str):
            raise TypeError("Won't implicitly convert Unicode to bytes; use .encode()")
        key = bytes(key)
    if not key:
        raise BadValsizeError("mdb_get: MDB_BAD_VALSIZE: Unsupported size of key/DB name/data, "
                              "or wrong DUPFIXED size")
    return key


def version(subpatch=False):
    """Returns the version of the engine under this module as a (major, minor, patch)
    tuple -- Strata's, not LMDB's -- and with subpatch=True a 4-tuple."""
    v = (_strata.VERSION_MAJOR, _strata.VERSION_MINOR, 0)
    return v + (0,) if subpatch else v


def enable_drop_gil():
    """Does nothing (py-lmdb's is deprecated too): the GIL is always released around
    engine calls that can block."""


def preload(mv):
    """Does nothing: Strata has no memory map to fault in."""


# ---- databases and environments ------------------------------------------------

class _Database:
    """A database handle from Environment.open_db() (py-lmdb's _Database): the main
    database or a named one (a Strata sub-database)."""

    __slots__ = ("_env", "_name", "_sdb")

    def __init__(self, env, name, sdb):
        self._env = env
        self._name = name
        self._sdb = sdb  # a strata.SubDB, or None for the main database

    def flags(self, *args):
        """The database's flags (all False: Strata has no dupsort, integerkey...)."""
        return {"reverse_key": False, "dupsort": False, "integerkey": False,
                "integerdup": False, "dupfixed": False}

    def _arg(self):
        return self._env._db if self._sdb is None else self._sdb


class Environment:
    """Environment(path, map_size=10485760, subdir=True, readonly=False, metasync=True,
    sync=True, map_async=False, mode=0o755, create=True, readahead=True,
    writemap=False, meminit=True, max_readers=126, max_dbs=0, max_spare_txns=1,
    lock=True)

    A Strata database in directory `path`, with py-lmdb's Environment API (see the
    module's docstring for what each argument means here). Also `lmdb.open`.

    Raises: Error (create=False and no database), LockError (another process writes
    it), ReadonlyError, DiskError, CorruptedError, NotImplementedError (subdir=False
    is accepted: `path` is the directory either way).
    Thread-safety: as py-lmdb: methods may be called from any thread; transactions and
    cursors are used by one thread at a time; close() must not race other calls.
    """

    def __init__(self, path, map_size=10485760, subdir=True, readonly=False, metasync=True,
                 sync=True, map_async=False, mode=0o755, create=True, readahead=True,
                 writemap=False, meminit=True, max_readers=126, max_dbs=0, max_spare_txns=1,
                 lock=True):
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        self._path = os.fspath(path)
        self._map_size = map_size
        self._max_readers = max_readers
        self._max_dbs = max_dbs
        self._readonly = bool(readonly)
        self._sync = bool(sync)
        self._flags = {"subdir": subdir, "readonly": readonly, "metasync": metasync,
                       "sync": sync, "map_async": map_async, "readahead": readahead,
                       "writemap": writemap, "meminit": meminit, "lock": lock}
        self._dbs = {}
        self._txn_ids = itertools.count(1)
        if readonly:
            _feature("read_only", "Environment(readonly=True)")
        if create and not readonly:
            try:
                os.makedirs(self._path, mode)
            except FileExistsError:
                pass
        try:
            self._db = _StrataDB(self._path, create_if_missing=bool(create) and not readonly,
                                 read_only=self._readonly)
        except InvalidParameterError as e:
            raise Error("%s: No such file or directory (%s)" % (self._path, e)) from None
        self._main = _Database(self, None, None)

    # -- life cycle
    def close(self):
        """Closes the environment; its transactions and cursors become unusable (their
        calls raise Error). Closing twice is harmless."""
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self):
        if self._db.closed:
            raise Error(_CLOSED)

    # -- information
    def path(self):
        """The directory of the database (str)."""
        return self._path

    def flags(self):
        """The options given at open, as a dict."""
        return dict(self._flags)

    def max_key_size(self):
        """The largest key (Strata: 4 GiB - 9 bytes; LMDB: 511)."""
        return 0xFFFFFFFF - 9

    def max_readers(self):
        """max_readers as given (Strata has no reader table)."""
        return self._max_readers

    def readers(self):
        """The reader lock table, as text (Strata has none)."""
        return "(no active readers)"

    def reader_check(self):
        """Clears stale readers (none in Strata): returns 0."""
        return 0

    def set_mapsize(self, map_size):
        """Records map_size (Strata has no map to size)."""
        self._map_size = map_size

    def info(self):
        """py-lmdb's info() dict; Strata has no map, pages or readers: zeros."""
        self._check()
        return {"map_addr": 0, "map_size": self._map_size, "last_pgno": 0,
                "last_txnid": 0, "max_readers": self._max_readers, "num_readers": 0}

    def stat(self):
        """py-lmdb's stat() of the main database: 'entries' (exact: counted), 'psize'
        (4096), 'depth' (levels holding tables), 'branch_pages', 'leaf_pages' and
        'overflow_pages' (0: Strata stores sorted tables, not pages)."""
        self._check()
        with self.begin() as txn:
            return txn.stat(self._main)

    def sync(self, force=False):
        """Does nothing: with sync=True every commit is durable when it returns, and
        with sync=False Strata has nothing buffered in the process to flush."""
        self._check()

    def copy(self, path, compact=False, txn=None):
        """A consistent copy of the database in directory path (which must not exist),
        made while it keeps taking writes (Strata's checkpoint). compact and txn are
        accepted and ignored (the copy is of the latest state).

        Raises: Error (path exists), DiskError."""
        self._check()
        _feature("checkpoint", "Environment.copy()")
        self._db.checkpoint(path)

    def copyfd(self, fd, compact=False, txn=None):
        """Not available: a Strata database is a directory of files, not one stream."""
        raise NotImplementedError("copyfd(): a Strata database is a directory; use copy(path)")

    # -- databases and transactions
    def open_db(self, key=None, txn=None, reverse_key=False, dupsort=False, create=True,
                integerkey=False, integerdup=False, dupfixed=False):
        """The named database key (bytes; None: the main database), created when missing
        with create=True (py-lmdb's rule: needs max_dbs > 0). txn is accepted and
        ignored (the creation is its own durable write).

        Raises: NotImplementedError (reverse_key, dupsort, integerkey, integerdup,
        dupfixed), DbsFullError (max_dbs reached), NotFoundError (create=False and
        absent), ReadonlyError (create on a readonly environment), Error (closed)."""
        self._check()
        for flag, name in ((reverse_key, "reverse_key"), (dupsort, "dupsort"),
                           (integerkey, "integerkey"), (integerdup, "integerdup"),
                           (dupfixed, "dupfixed")):
            if flag:
                raise NotImplementedError("%s=True: Strata databases are ordered bytewise "
                                          "with one value per key" % name)
        if key is None:
            return self._main
        if isinstance(key, str):
            raise TypeError("Won't implicitly convert Unicode to bytes; use .encode()")
        name = bytes(key).decode("utf-8", "surrogateescape")
        if name in self._dbs:
            return self._dbs[name]
        if len(self._dbs) >= self._max_dbs:
            raise DbsFullError("mdb_dbi_open: MDB_DBS_FULL: Environment maxdbs limit reached")
        _feature("subdb", "named databases")
        sdb = self._db.open_db(name, create=bool(create) and not self._readonly)
        d = _Database(self, name, sdb)
        self._dbs[name] = d
        return d

    def begin(self, db=None, parent=None, write=False, buffers=False):
        """Transaction(self, db, parent, write, buffers)."""
        return Transaction(self, db, parent, write, buffers)


open = Environment  # noqa: A001 - py-lmdb's name


class Transaction:
    """Transaction(env, db=None, parent=None, write=False, buffers=False)

    A read transaction (a snapshot) or a write transaction (one at a time per
    environment; begin waits for the open one). As a context manager it commits when
    the block ends normally and aborts when it raises. Garbage collection aborts it.
    db: the database its calls use by default. buffers: get() and cursors return
    memoryviews valid until the transaction ends or the cursor moves.

    Raises: NotImplementedError (parent=: nested transactions), ReadonlyError (write on
    a readonly environment), Error (closed environment).
    Thread-safety: one thread at a time.
    """

    def __init__(self, env, db=None, parent=None, write=False, buffers=False):
        if parent is not None:
            raise NotImplementedError("nested transactions (parent=) are not supported")
        env._check()
        _feature("txn", "Transaction")
        if write and env._readonly:
            raise ReadonlyError("mdb_txn_begin: Permission denied (the environment is "
                                "read-only)")
        self.env = env
        self._db = db if db is not None else env._main
        self._write = bool(write)
        self._buffers = bool(buffers)
        if env._readonly:
            # LMDB's readers see the latest commit at each begin: catch up with the
            # writing process first (costs about what changed since the last one)
            env._db.catch_up()
        self._t = env._db.begin(write=self._write, exclusive=self._write,
                                sync=env._sync, buffers=self._buffers)
        self._id = next(env._txn_ids)
        self._drops = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _arg(self, db):
        if db is None:
            db = self._db
        if db._env is not self.env:
            raise InvalidParameterError("the database belongs to another environment")
        return db._arg()

    def _check(self):
        if not self._t.active:
            raise Error(_CLOSED)

    def id(self):
        """A number identifying the transaction (increasing per environment)."""
        return self._id

    def commit(self):
        """Commits the transaction's writes atomically (durably with sync=True) and ends
        it. Raises: Error (already ended), DiskError."""
        self._check()
        self._t.commit()
        for name in self._drops:
            self.env._db.drop_db(name)
            self.env._dbs.pop(name, None)

    def abort(self):
        """Ends the transaction, discarding its writes. Harmless when ended."""
        self._t.abort()

    def get(self, key, default=None, db=None):
        """The value of key, or default. A memoryview with buffers=True."""
        self._check()
        return self._t.get(_key(key), default, db=self._arg(db))

    def put(self, key, value, dupdata=True, overwrite=True, append=False, db=None):
        """Stores value under key. With overwrite=False an existing key is left alone and
        False is returned. append is accepted (a hint in LMDB) and not checked.
        Returns True when written.
        Raises: ReadonlyError (a read transaction), BadValsizeError (empty key)."""
        self._check()
        key = _key(key)
        d = self._arg(db)
        if not overwrite and self._t.get(key, db=d) is not None:
            return False
        self._t.put(key, value, db=d)
        return True

    def replace(self, key, value, db=None):
        """Stores value under key and returns the previous value, or None."""
        self._check()
        key = _key(key)
        d = self._arg(db)
        old = self._t.get(key, db=d)
        self._t.put(key, value, db=d)
        return bytes(old) if isinstance(old, memoryview) else old

    def pop(self, key, db=None):
        """Deletes key and returns its value, or None when absent."""
        self._check()
        key = _key(key)
        d = self._arg(db)
        old = self._t.get(key, db=d)
        if old is None:
            return None
        self._t.delete(key, db=d)
        return bytes(old) if isinstance(old, memoryview) else old

    def delete(self, key, value=b"", db=None):
        """Deletes key; returns True when it existed. value must be b'' (no dupsort)."""
        self._check()
        if value:
            raise NotImplementedError("delete(key, value): Strata has no duplicate values")
        key = _key(key)
        d = self._arg(db)
        if self._t.get(key, db=d) is None:
            return False
        self._t.delete(key, db=d)
        return True

    def cursor(self, db=None):
        """A Cursor over db (default: the transaction's database)."""
        self._check()
        return Cursor(db if db is not None else self._db, self)

    def stat(self, db):
        """py-lmdb's stat() dict of db as this transaction sees it: 'entries' is exact
        (counted by a scan), the page counts are 0 (Strata stores sorted tables)."""
        self._check()
        n = sum(1 for _ in self._t.iterator(db=self._arg(db), include_value=False))
        depth = sum(1 for lv in self.env._db.stat()["levels"] if lv["files"])
        return {"psize": 4096, "depth": depth, "branch_pages": 0, "leaf_pages": 0,
                "overflow_pages": 0, "entries": n}

    def drop(self, db, delete=True):
        """Empties db in this transaction; with delete=True a named database is also
        dropped when the transaction commits (the main database is only emptied)."""
        self._check()
        if not self._write:
            raise ReadonlyError("mdb_drop: Permission denied (a read transaction)")
        d = self._arg(db)
        keys = list(self._t.iterator(db=d, include_value=False))
        for k in keys:
            self._t.delete(bytes(k), db=d)
        if delete and db._name is not None:
            self._drops.append(db._name)


class Cursor:
    """Cursor(db, txn): a position in a database, through a transaction (py-lmdb's
    Cursor). Unpositioned at first: key() and value() are b''. Iterating it
    (iternext()/iterprev()) yields from the current position. With a buffers=True
    transaction keys and values are memoryviews valid until the cursor moves.
    Writes (put, delete, replace, pop, putmulti) go through the transaction; the
    cursor sees them. Not thread-safe.

    As LMDB's, a cursor keeps a place when a move fails: after next() runs off the
    end it stays on the last entry (unpositioned: key() is b''), so prev() returns
    the one before it; after a failed set_key() it sits where the key would be."""

    # _where: where the underlying position is (LMDB's cursor), apart from whether
    # the cursor counts as positioned (_valid):
    #   "fresh"  never positioned: next() is first(), prev() is last()
    #   "it"     on the raw iterator's entry
    #   "last"   on the last entry, after next() ran off the end
    #   "first"  on the first entry, after prev() ran off the start
    #   "end"    past the last entry (a set_range()/set_key() past the end)

    def __init__(self, db, txn):
        txn._check()
        self.db = db
        self.txn = txn
        self._d = txn._arg(db)
        self._it = txn._t.raw_iterator(db=self._d, buffers=txn._buffers)
        self._valid = False
        self._where = "fresh"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the cursor (its buffers are released)."""
        self._it.close()
        self._valid = False

    def _chk(self):
        if not self.txn._t.active:
            raise Error(_CLOSED)

    def _landed(self, after_fail):
        """After a move of the raw iterator: positioned, or where it failed."""
        if self._it.valid():
            self._where = "it"
            self._valid = True
            return True
        self._where = after_fail
        self._valid = False
        return False

    # -- positioning
    def first(self):
        """Moves to the first key; False when the database is empty."""
        self._chk()
        self._it.seek_to_first()
        return self._landed("fresh")

    def last(self):
        """Moves to the last key; False when the database is empty."""
        self._chk()
        self._it.seek_to_last()
        return self._landed("fresh")

    def next(self):
        """Moves to the next key (the first when never positioned); False past the
        end."""
        self._chk()
        w = self._where
        if w == "fresh":
            return self.first()
        if w == "end":
            self._valid = False
            return False
        it = self._it
        if w != "it":
            it.seek_to_last() if w == "last" else it.seek_to_first()
            if not it.valid():
                return self.first()
        it.next()
        return self._landed("last")

    def prev(self):
        """Moves to the previous key (the last when never positioned); False before
        the start."""
        self._chk()
        w = self._where
        if w == "fresh":
            return self.last()
        it = self._it
        if w == "end":
            it.seek_to_last()
            return self._landed("fresh")
        if w != "it":
            it.seek_to_last() if w == "last" else it.seek_to_first()
            if not it.valid():
                return self.last()
        it.prev()
        return self._landed("first")

    def next_nodup(self):
        """next() (no duplicates in Strata)."""
        return self.next()

    def prev_nodup(self):
        """prev() (no duplicates in Strata)."""
        return self.prev()

    def next_dup(self):
        """next(), as LMDB does on a database without dupsort."""
        return self.next()

    def prev_dup(self):
        """prev(), as LMDB does on a database without dupsort."""
        return self.prev()

    def first_dup(self):
        """Raises as py-lmdb does without dupsort: InvalidParameterError when never
        positioned, else IncompatibleError (and the cursor is unpositioned)."""
        self._chk()
        if self._where == "fresh":
            raise InvalidParameterError("mdb_cursor_get: Invalid argument")
        self._valid = False
        raise IncompatibleError("mdb_cursor_get: MDB_INCOMPATIBLE: Operation and DB "
                                "incompatible, or DB flags changed")

    def last_dup(self):
        """As first_dup() (no duplicate values in Strata)."""
        return self.first_dup()

    def set_key(self, key):
        """Moves to key exactly; False (unpositioned, placed where key would be) when
        absent."""
        self._chk()
        key = _key(key)
        it = self._it
        it.seek(key)
        if not it.valid():
            self._past_end()
            return False
        self._where = "it"
        self._valid = it.key() == key
        return self._valid

    def set_key_dup(self, key, value):
        """Moves to key when its value equals value."""
        return self.set_key(key) and self._it.value() == value

    def set_range(self, key):
        """Moves to the first key >= key; False past the end."""
        self._chk()
        self._it.seek(_key(key))
        if self._it.valid():
            return self._landed("end")
        self._past_end()
        return False

    def _past_end(self):
        """A seek past the last key: LMDB's cursor is then past the end -- or, in an
        empty database, never positioned."""
        self._valid = False
        self._it.seek_to_last()
        self._where = "end" if self._it.valid() else "fresh"

    def set_range_dup(self, key, value):
        """set_key_dup() (one value per key)."""
        return self.set_key_dup(key, value)

    # -- reading
    def key(self):
        """The current key, or b'' when unpositioned."""
        self._chk()
        return self._it.key() if self._valid else b""

    def value(self):
        """The current value, or b'' when unpositioned."""
        self._chk()
        return self._it.value() if self._valid else b""

    def item(self):
        """(key(), value()): (b'', b'') when unpositioned."""
        self._chk()
        return self._it.item() if self._valid else (b"", b"")

    def count(self):
        """Raises IncompatibleError, as py-lmdb does on a database without dupsort."""
        self._chk()
        raise IncompatibleError("mdb_cursor_count: MDB_INCOMPATIBLE: Operation and DB "
                                "incompatible, or DB flags changed")

    def get(self, key, default=None):
        """set_key(key) and the value, or default."""
        return self.value() if self.set_key(key) else default

    def getmulti(self, keys, dupdata=False, dupfixed_bytes=None, keyfixed=False):
        """[(key, value)] for each of keys that exists, in the order given."""
        if dupfixed_bytes is not None or keyfixed:
            raise NotImplementedError("dupfixed_bytes/keyfixed: Strata has no fixed-size "
                                      "duplicate values")
        out = []
        for k in keys:
            if self.set_key(k):
                v = self._it.value()
                out.append((bytes(k), bytes(v) if isinstance(v, memoryview) else v))
        return out

    def _yield(self, keys, values):
        if keys and values:
            return self._it.item()
        if keys:
            return self._it.key()
        return self._it.value()

    def iternext(self, keys=True, values=True):
        """Yields the current entry (key, value, or (key, value)) then moves forward,
        until the end; starts at the first entry when unpositioned."""
        self._chk()
        if not self._valid:
            self.first()
        it = self._it
        while self._valid:
            yield self._yield(keys, values)
            it.next()
            self._landed("last")

    def iterprev(self, keys=True, values=True):
        """As iternext(), backwards; starts at the last entry when unpositioned."""
        self._chk()
        if not self._valid:
            self.last()
        it = self._it
        while self._valid:
            yield self._yield(keys, values)
            it.prev()
            self._landed("first")

    def iternext_nodup(self, keys=True, values=False):
        """iternext() (one value per key)."""
        return self.iternext(keys, values)

    def iterprev_nodup(self, keys=True, values=False):
        """iterprev() (one value per key)."""
        return self.iterprev(keys, values)

    def iternext_dup(self, keys=False, values=True):
        """The current entry only (one value per key)."""
        self._chk()
        if self._valid:
            yield self._yield(keys, values)

    def iterprev_dup(self, keys=False, values=True):
        """The current entry only (one value per key)."""
        return self.iternext_dup(keys, values)

    def __iter__(self):
        return self.iternext()

    # -- writing
    def put(self, key, val, dupdata=True, overwrite=True, append=False):
        """Stores val under key through the transaction and moves to it. With
        overwrite=False an existing key is left alone and False is returned."""
        self._chk()
        key = _key(key)
        if not overwrite and self.txn._t.get(key, db=self._d) is not None:
            self.set_key(key)
            return False
        self.txn._t.put(key, val, db=self._d)
        self.set_key(key)
        return True

    def putmulti(self, items, dupdata=True, overwrite=True, append=False):
        """put() for each (key, value) of items; returns (consumed, added)."""
        consumed = added = 0
        for k, v in items:
            consumed += 1
            if self.put(k, v, dupdata, overwrite, append):
                added += 1
        return consumed, added

    def delete(self, dupdata=False):
        """Deletes the current key and moves to the next one; False when
        unpositioned."""
        self._chk()
        if not self._valid:
            return False
        key = bytes(self._it.key())
        self.txn._t.delete(key, db=self._d)
        self._it.seek(key)  # the entry after it, as LMDB's cursor
        self._landed("end")
        return True

    def replace(self, key, val):
        """Stores val under key; returns the previous value or None."""
        self._chk()
        key = _key(key)
        old = self.txn._t.get(key, db=self._d)
        self.put(key, val)
        return bytes(old) if isinstance(old, memoryview) else old

    def pop(self, key):
        """Deletes key; returns its value or None."""
        self._chk()
        key = _key(key)
        old = self.txn._t.get(key, db=self._d)
        if old is None:
            self.set_key(key)  # unpositioned where the key would be, as LMDB's
            return None
        old = bytes(old) if isinstance(old, memoryview) else old
        self.txn._t.delete(key, db=self._d)
        self._it.seek(key)
        self._landed("end")
        return old
