"""strata.DB and strata.PrefixedDB: plyvel's API over the C core, plus Strata's own."""

import os

from . import _strata
from ._errors import ERROR_TABLE, NotSupportedError

NUM_LEVELS = 7  # LevelDB's config::kNumLevels, the levels Strata's files live in

#: The optional engine parts this build has (see setup.py): "subdb", "txn",
#: "read_only", "checkpoint", "loader".
FEATURES = _strata.FEATURES


def _missing(feature, what):
    def method(self, *args, **kwargs):
        raise NotSupportedError("%s needs the engine's %s, which this build of Strata does not "
                                "have yet" % (what, feature))
    method.__name__ = what.split("(")[0].split(".")[-1]
    method.__doc__ = ("%s\n\nNot available in this build: the engine lacks %s.\n\n"
                      "Raises: strata.NotSupportedError." % (what, feature))
    return method


class DB(_strata.DB):
    """DB(name, *, create_if_missing=False, error_if_exists=False, paranoid_checks=None,
       write_buffer_size=None, max_open_files=None, lru_cache_size=None, block_size=None,
       block_restart_interval=None, max_file_size=None, compression='snappy',
       bloom_filter_bits=0, comparator=None, comparator_name=None, read_only=False,
       zstd_level=None, reuse_logs=False)

    An open Strata database: the directory `name` (str, bytes or os.PathLike), in
    LevelDB 1.23's on-disk format, so LevelDB (and plyvel) open it too.

    plyvel's arguments, with plyvel's defaults (None: the engine's default, which is
    LevelDB's): create_if_missing (bool), error_if_exists (bool), paranoid_checks
    (bool: any corruption seen is an error), write_buffer_size (int bytes of memtable,
    4 MiB), max_open_files (int, 1000), lru_cache_size (int bytes of block cache; a
    private 8 MiB cache by default), block_size (int bytes, 4 KiB),
    block_restart_interval (int, 16), max_file_size (int bytes, 2 MiB), compression
    ('snappy', None, or Strata's 'zstd'), bloom_filter_bits (int bits per key of
    LevelDB's bloom filter; 0: none), comparator (a callable (a: bytes, b: bytes) ->
    int, with comparator_name (bytes), stored in the database and checked at every
    open). A Python comparator is slow -- every comparison the engine makes, in
    reads, writes and background compactions, calls it with the GIL -- and if it
    raises, the process aborts (as plyvel's does): the database's order cannot be
    trusted after that.

    Strata's own: read_only (bool: take no lock and never write, so the database can
    be read while another process writes it; see catch_up()), zstd_level (int, for
    compression='zstd'), reuse_logs (bool: append to the last log at open).

    Raises: TypeError or ValueError (a bad argument), strata.InvalidArgumentError (no
    database and not create_if_missing; one exists and error_if_exists; the
    comparator's name differs from the database's; the path is a file),
    strata.LockError (held by another handle or process), strata.CorruptionError,
    strata.IOError.

    Thread-safety: a DB may be used by any number of threads at once (the GIL is
    released while the engine works, so reads scale across threads). Its iterators,
    write batches and transactions are each used by one thread at a time.

    Lifetime: close() (or the end of a `with` block, or garbage collection)
    invalidates every iterator, snapshot, transaction, sub-database and buffer made
    from it: using one afterwards raises strata.ClosedError, never crashes.

    fork(): a handle inherited by a child process raises strata.Error on every call in
    the child and is dropped there without touching the files (the parent keeps using
    it safely); the child opens its own handle (read_only=True while the parent holds
    the lock).
    """

    _strata_errors = ERROR_TABLE
    _strata_bytes_messages = False
    _repr_module = "strata"

    def __repr__(self):
        return "<%s.DB with name %r%s at %#x>" % (
            self._repr_module, self.name, " (closed)" if self.closed else "", id(self))

    def prefixed_db(self, prefix):
        """prefixed_db(prefix) -> PrefixedDB

        A view of the keys beginning with prefix (bytes), with the prefix taken off:
        get/put/delete/iterator/write_batch/snapshot/prefixed_db work on it as on the
        database. Nestable: db.prefixed_db(b'a').prefixed_db(b'b') is
        db.prefixed_db(b'ab').

        Raises: TypeError (prefix not bytes). Thread-safety: as DB."""
        if not isinstance(prefix, bytes):
            raise TypeError("Argument 'prefix' has incorrect type (expected bytes, got %s)"
                            % type(prefix).__name__)
        return self._prefixed_class(db=self, prefix=prefix)

    def open_db(self, name, create=True):
        """open_db(name, create=True) -> SubDB

        The named sub-database (LMDB's named databases, RocksDB's column families): an
        ordered key space of its own in this database, with DB's per-key methods (get,
        put, delete, iterator, raw_iterator, write_batch, snapshot, prefixed_db, stat), and
        usable as db= in a write batch or a transaction so one commit spans several
        sub-databases. name: str of 1 to 255 UTF-8 bytes. create: make it (one synced
        write) when it does not exist. Opening a name twice gives objects over the same
        sub-database. Sub-databases need the default (bytewise) order.

        Raises: TypeError, ValueError (name), strata.NotFoundError (absent and not create),
        strata.ReadOnlyError (create on a read_only handle), strata.NotSupportedError (a
        custom comparator; or this build lacks sub-databases), strata.ClosedError,
        strata.IOError. Thread-safety: as DB."""
        if "subdb" not in FEATURES:
            raise NotSupportedError("open_db() needs the engine's sub-databases "
                                    "(strata_subdb_*), which this build of Strata does not "
                                    "have yet")
        if not isinstance(name, str):
            raise TypeError("Argument 'name' has incorrect type (expected str, got %s)"
                            % type(name).__name__)
        return self._open_db(name, bool(create), SubDB)

    if not hasattr(_strata.DB, "begin"):
        begin = _missing("transactions (strata_txn_*)",
                         "DB.begin(write=False, *, sync=False, exclusive=False, buffers=False, "
                         "db=None)")
    if not hasattr(_strata.DB, "drop_db"):
        drop_db = _missing("sub-databases (strata_subdb_*)", "DB.drop_db(name)")
        list_dbs = _missing("sub-databases (strata_subdb_*)", "DB.list_dbs()")
    if not hasattr(_strata.DB, "catch_up"):
        catch_up = _missing("read-only opens (strata_catch_up)", "DB.catch_up()")
    if not hasattr(_strata.DB, "checkpoint"):
        checkpoint = _missing("checkpoints (strata_checkpoint)", "DB.checkpoint(path)")
    if not hasattr(_strata.DB, "loader"):
        loader = _missing("sorted bulk load (strata_loader_*)", "DB.loader(db=None)")

    def stat(self):
        """stat() -> dict

        Files and bytes per level, as a dict: {'levels': [{'level': n, 'files': int,
        'bytes': int}, ... for the 7 levels], 'files': total files, 'bytes': total table
        bytes, 'memtable_bytes': bytes held by memtables}, and, when this build has
        sub-databases, 'entries' and 'main_bytes': the approximate entries and bytes of the
        main database (without the sub-databases; overwritten and deleted entries not yet
        compacted are counted).

        Raises: strata.ClosedError. Thread-safety: as DB."""
        levels = []
        for n in range(NUM_LEVELS):
            files = self.get_property(b"leveldb.num-files-at-level%d" % n)
            size = self.get_property(b"strata.level-bytes%d" % n)
            levels.append({"level": n, "files": int(files or 0), "bytes": int(size or 0)})
        mem = self.get_property(b"leveldb.approximate-memory-usage")
        out = {
            "levels": levels,
            "files": sum(lv["files"] for lv in levels),
            "bytes": sum(lv["bytes"] for lv in levels),
            "memtable_bytes": int(mem or 0),
        }
        if "subdb" in FEATURES:
            main = self._main_stat()
            out["entries"] = main["entries"]
            out["main_bytes"] = main["bytes"]
        return out


class PrefixedDB:
    """A view of the keys of a DB that begin with `prefix`, the prefix taken off
    (plyvel's PrefixedDB). Made by DB.prefixed_db(); do not instantiate directly.

    Attributes: db (the DB), prefix (bytes). Methods: get, put, delete, write_batch,
    iterator, snapshot, prefixed_db, with DB's arguments, exceptions and
    thread-safety. Iteration covers exactly the keys with the prefix.
    """

    __slots__ = ("db", "prefix")
    _repr_module = "strata"

    def __init__(self, *, db, prefix):
        if not isinstance(prefix, bytes):
            raise TypeError("Argument 'prefix' has incorrect type (expected bytes, got %s)"
                            % type(prefix).__name__)
        self.db = db
        self.prefix = prefix

    def __repr__(self):
        return "<%s.PrefixedDB with prefix %r at %#x>" % (self._repr_module, self.prefix,
                                                          id(self))

    def _key(self, key):
        if not isinstance(key, bytes):
            raise TypeError("Argument 'key' has incorrect type (expected bytes, got %s)"
                            % type(key).__name__)
        return self.prefix + key

    def get(self, key, default=None, *, verify_checksums=False, fill_cache=True,
            buffers=False):
        """As DB.get(), for prefix + key."""
        return self.db.get(self._key(key), default, verify_checksums=verify_checksums,
                           fill_cache=fill_cache, buffers=buffers)

    def put(self, key, value, *, sync=False):
        """As DB.put(), for prefix + key."""
        return self.db.put(self._key(key), value, sync=sync)

    def delete(self, key, *, sync=False):
        """As DB.delete(), for prefix + key."""
        return self.db.delete(self._key(key), sync=sync)

    def write_batch(self, *, transaction=False, sync=False):
        """As DB.write_batch(); its keys get the prefix."""
        return self.db._prefixed_write_batch(self.prefix, transaction=transaction, sync=sync)

    def iterator(self, **kwargs):
        """As DB.iterator() (same arguments), over the keys with the prefix; keys are
        returned without it."""
        return self.db._prefixed_iterator(self.prefix, **kwargs)

    def snapshot(self):
        """As DB.snapshot(); its get() and iterator() add the prefix."""
        return self.db._prefixed_snapshot(self.prefix)

    def prefixed_db(self, prefix):
        """A PrefixedDB for self.prefix + prefix."""
        if not isinstance(prefix, bytes):
            raise TypeError("Argument 'prefix' has incorrect type (expected bytes, got %s)"
                            % type(prefix).__name__)
        return type(self)(db=self.db, prefix=self.prefix + prefix)

    def __iter__(self):
        return self.iterator()

    def __contains__(self, key):
        raise TypeError("__contains__ is not supported ('in' and 'not in' operators)")


DB._prefixed_class = PrefixedDB

if "subdb" in FEATURES:
    class SubDB(_strata.SubDB):
        """A named sub-database of a DB (see DB.open_db()): get, put, delete, iterator,
        raw_iterator, write_batch, snapshot, prefixed_db and stat, with DB's arguments,
        exceptions and thread-safety, over its own key space. Invalidated when its
        database closes (then every call raises strata.ClosedError)."""

        __slots__ = ()

        def __repr__(self):
            return "<strata.SubDB %r%s at %#x>" % (self.name, " (closed)" if self.closed else "",
                                                   id(self))

        def prefixed_db(self, prefix):
            """prefixed_db(prefix) -> PrefixedDB: as DB.prefixed_db(), in this sub-database."""
            return PrefixedDB(db=self, prefix=prefix)
else:
    SubDB = None


def _fsname(name):
    if isinstance(name, (bytes, str)):
        return name
    if isinstance(name, os.PathLike):
        return os.fspath(name)
    raise TypeError("'name' arg must be a byte string, a unicode string or a path-like object")


def destroy_db(name):
    """destroy_db(name) -> None

    Deletes every file of the database in directory name (str, bytes or os.PathLike),
    then the directory when it is empty. The database must not be open. A missing
    directory is not an error.

    Raises: TypeError, strata.LockError (open somewhere), strata.IOError.
    Thread-safety: any thread (the GIL is released)."""
    _strata.destroy(_fsname(name), ERROR_TABLE, False)


def check_db(name):
    """check_db(name) -> list of (file, offset, code, message)

    Reads every file of the database in directory name (str, bytes or os.PathLike)
    and reports what is damaged, changing nothing (strata_check): CURRENT and its
    MANIFEST (record checksums, version edits, tables named but missing or of the
    wrong size), every table (every block's checksum and format, key order) and every
    write-ahead log (record checksums, batch format). Each problem is a tuple: the
    file's full path (str), the byte offset of the damaged block or record (int; 0 for
    the file as a whole), the engine's error code (int) and a description (str). An
    empty list: nothing is wrong. The database must not be open (its lock is taken).

    Raises: TypeError, strata.LockError (open somewhere), strata.InvalidArgumentError
    (no database at name), strata.IOError.
    Thread-safety: any thread (the GIL is released)."""
    return _strata.check(_fsname(name), ERROR_TABLE, False)


def repair_db(name, **options):
    """repair_db(name, **options) -> dict

    Recovers as much as possible of a damaged database (LevelDB's RepairDB): every
    log becomes a table (damaged records dropped), every table is scanned (one that
    cannot be opened is moved to <name>/lost/), and a new MANIFEST names them all.
    Entries deleted or overwritten may reappear when the record that hid them was
    lost. The database must not be open. plyvel's keyword options are accepted and
    ignored (the repair uses the engine's defaults). Returns the engine's report:
    {'tables_kept', 'tables_lost', 'logs_converted', 'entries_recovered',
    'bytes_dropped'}.

    Raises: TypeError, strata.LockError (open somewhere),
    strata.InvalidArgumentError (no database at name), strata.IOError.
    Thread-safety: any thread (the GIL is released)."""
    if options.get("comparator") is not None:
        raise NotImplementedError("repair_db with a Python comparator is not supported")
    return _strata.repair(_fsname(name), ERROR_TABLE, False)
