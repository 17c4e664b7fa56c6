/*
 * docs.h - docstrings of strata._strata's classes and methods (what
 * help(strata.DB.get) shows). Each gives the signature, argument types,
 * what is returned, every exception and thread-safety. Exception names are
 * strata's; strata.plyvel.DB raises plyvel's classes in their place
 * (strata.Error -> plyvel.Error with a bytes message, strata.ClosedError ->
 * RuntimeError, ...).
 */
#ifndef STRATA_PY_DOCS_H
#define STRATA_PY_DOCS_H

#define DOC_THREADS_DB                                                                             \
  "Thread-safety: safe to call from any number of threads at once; the GIL is released\n"          \
  "while the engine works.\n"

#define DOC_DB                                                                                     \
  "DB(name, *, create_if_missing=False, error_if_exists=False, paranoid_checks=None,\n"            \
  "   write_buffer_size=None, max_open_files=None, lru_cache_size=None, block_size=None,\n"        \
  "   block_restart_interval=None, max_file_size=None, compression='snappy',\n"                    \
  "   bloom_filter_bits=0, comparator=None, comparator_name=None, read_only=False,\n"              \
  "   zstd_level=None, reuse_logs=False)\n\n"                                                      \
  "The C core of strata.DB (use strata.DB, or strata.plyvel.DB)."

#define DOC_DB_GET                                                                                 \
  "get(key, default=None, *, verify_checksums=False, fill_cache=True, buffers=False)\n\n"          \
  "The value stored under key, or default when the key is absent.\n\n"                             \
  "key (bytes): the key. default (any): returned when key is absent.\n"                            \
  "verify_checksums (bool): check the CRC of every block read. fill_cache (bool): let the\n"       \
  "blocks read enter the block cache. buffers (bool): return a read-only memoryview of the\n"      \
  "value where the engine stores it (no copy) instead of bytes; it stays valid until the\n"        \
  "database closes (it pins the tables and memtable it was read from, as an open iterator\n"       \
  "does); then it is released and using it raises ValueError. Copy what you keep with\n"           \
  "bytes().\n\n"                                                                                   \
  "Returns: bytes (or memoryview with buffers=True), or default.\n"                                \
  "Raises: TypeError (key not bytes), strata.ClosedError (database closed),\n"                     \
  "strata.CorruptionError, strata.IOError, strata.Error (other engine errors).\n" DOC_THREADS_DB

#define DOC_DB_PUT                                                                                 \
  "put(key, value, *, sync=False) -> None\n\n"                                                     \
  "Stores value under key, replacing any earlier value.\n\n"                                       \
  "key (bytes); value (any bytes-like object: bytes, bytearray, memoryview, array...);\n"          \
  "sync (bool): return only after the write-ahead log record is on stable storage\n"               \
  "(fdatasync); without it a process crash loses nothing acknowledged, a machine crash may\n"      \
  "lose the latest writes.\n\n"                                                                    \
  "Raises: TypeError (key not bytes, value not bytes-like), strata.ClosedError,\n"                 \
  "strata.ReadOnlyError (opened read_only), strata.InvalidArgumentError (key over 4 GiB - 9\n"     \
  "bytes, value over 4 GiB - 1, or a key in the sub-databases' reserved range\n"                   \
  "b'\\xff\\xffstrata\\x00...'), strata.IOError (the log write or sync failed; every later\n"      \
  "write fails too).\n" DOC_THREADS_DB

#define DOC_DB_DELETE                                                                              \
  "delete(key, *, sync=False) -> None\n\n"                                                         \
  "Removes key; deleting an absent key is not an error. key (bytes); sync (bool) as put().\n\n"    \
  "Raises: TypeError, strata.ClosedError, strata.ReadOnlyError, strata.IOError.\n" DOC_THREADS_DB

#define DOC_DB_WRITE_BATCH                                                                         \
  "write_batch(*, transaction=False, sync=False) -> WriteBatch\n\n"                                \
  "A new, empty write batch for this database (nothing is written yet). transaction (bool):\n"     \
  "used as a context manager, the batch is written when the block ends normally and\n"             \
  "discarded when it raises (without it, written in both cases, as plyvel does). sync (bool):\n"   \
  "write() syncs the log.\n\n"                                                                     \
  "Raises: strata.ClosedError.\n" DOC_THREADS_DB

#define DOC_DB_ITERATOR                                                                            \
  "iterator(*, reverse=False, start=None, stop=None, include_start=True, include_stop=False,\n"    \
  "         prefix=None, include_key=True, include_value=True, verify_checksums=False,\n"          \
  "         fill_cache=True, buffers=False) -> Iterator\n\n"                                       \
  "An iterator over the range [start, stop) (bounds bytes or None; include_start and\n"            \
  "include_stop choose whether each bound is in the range), or over the keys beginning with\n"     \
  "prefix (bytes; not with start or stop), in key order or, with reverse, backwards, as of\n"      \
  "the moment it is created (later writes are not seen). It yields (key, value) tuples, or\n"      \
  "keys or values alone (include_key / include_value), or None with neither. buffers (bool):\n"    \
  "values are read-only memoryviews of the engine's memory (no copy), valid until the\n"           \
  "iterator moves again or closes; then released (using one raises ValueError). A move while\n"    \
  "such a value is still exported elsewhere (a slice, a memoryview or numpy array over it)\n"      \
  "raises BufferError.\n\n"                                                                        \
  "Raises: TypeError (a bound not bytes, prefix with start/stop), strata.ClosedError.\n"           \
  "Thread-safety: the iterator is used by one thread at a time (a second thread gets\n"            \
  "RuntimeError); creating iterators is thread-safe.\n"

#define DOC_DB_RAW_ITERATOR                                                                        \
  "raw_iterator(*, verify_checksums=False, fill_cache=True, buffers=False) -> RawIterator\n\n"     \
  "A cursor over the whole database as of now, initially not valid (LevelDB's Iterator):\n"        \
  "position it with seek_to_first(), seek_to_last() or seek(). buffers as in iterator(); keys\n"   \
  "are memoryviews too (of copies).\n\n"                                                           \
  "Raises: strata.ClosedError. Thread-safety: as iterator().\n"

#define DOC_DB_SNAPSHOT                                                                            \
  "snapshot() -> Snapshot\n\n"                                                                     \
  "A consistent read-only view of the database as of now: later writes are not seen\n"             \
  "through it. Close it (or use it as a context manager) when done: an open snapshot keeps\n"      \
  "overwritten and deleted entries from being compacted away.\n\n"                                 \
  "Raises: strata.ClosedError.\n" DOC_THREADS_DB

#define DOC_DB_GET_PROPERTY                                                                        \
  "get_property(name) -> bytes | None\n\n"                                                         \
  "The value of an engine property, or None for an unknown name. name (bytes):\n"                  \
  "b'leveldb.num-files-at-level<N>', b'leveldb.stats', b'leveldb.sstables',\n"                     \
  "b'leveldb.approximate-memory-usage', b'strata.level-bytes<N>'.\n\n"                             \
  "Raises: TypeError (name not bytes), strata.ClosedError.\n" DOC_THREADS_DB

#define DOC_DB_COMPACT_RANGE                                                                       \
  "compact_range(*, start=None, stop=None) -> None\n\n"                                            \
  "Compacts the keys in [start, stop] (None: from the first / to the last key): flushes the\n"     \
  "memtable and rewrites the overlapping tables down the levels, dropping deleted and\n"           \
  "overwritten entries. Blocks until done (the GIL is released).\n\n"                              \
  "Raises: TypeError, strata.ClosedError, strata.ReadOnlyError, strata.IOError,\n"                 \
  "strata.CorruptionError.\n" DOC_THREADS_DB

#define DOC_DB_APPROXIMATE_SIZES                                                                   \
  "approximate_sizes(*ranges) -> list[int]\n\n"                                                    \
  "The approximate file-system bytes used by the keys of each (start, stop) range (both\n"         \
  "bytes; stop excluded). Memtable contents are not counted.\n\n"                                  \
  "Raises: TypeError (a range not a pair of bytes), strata.ClosedError, "                          \
  "strata.IOError.\n" DOC_THREADS_DB

#define DOC_DB_APPROXIMATE_SIZE                                                                    \
  "approximate_size(start, stop) -> int\n\n"                                                       \
  "approximate_sizes((start, stop))[0].\n\n"                                                       \
  "Raises: as approximate_sizes().\n" DOC_THREADS_DB

#define DOC_DB_CLOSE                                                                               \
  "close() -> None\n\n"                                                                            \
  "Closes the database: waits for calls other threads have in flight, invalidates its\n"           \
  "iterators, snapshots, transactions, sub-databases and buffers (using one afterwards\n"          \
  "raises strata.ClosedError, or ValueError for a released memoryview), then closes the\n"         \
  "engine and releases the lock. A buffer still exported by another object (a slice or\n"          \
  "numpy array of a buffers=True value) defers the engine's close (and the lock) until it is\n"    \
  "released. Closing twice is harmless. Never raises.\n"                                           \
  "Thread-safety: may be called from any thread; calls made after it raise.\n"

#define DOC_DB_BEGIN                                                                               \
  "begin(write=False, *, sync=False, exclusive=False, buffers=False, db=None) -> Transaction\n\n"  \
  "Begins a transaction. A read transaction (write=False) is a snapshot with a handle. A\n"        \
  "write transaction sees its own writes and its commit applies them atomically,\n"                \
  "optimistically: if a key it read or wrote changed since it began, commit() raises\n"            \
  "strata.ConflictError and applies nothing. sync (bool): the commit waits for fdatasync.\n"       \
  "exclusive (bool): one exclusive write transaction at a time -- begin() waits (GIL\n"            \
  "released) until the open one ends; do not begin a second one in the thread that holds\n"        \
  "the first. buffers (bool): its get() and iterators return memoryviews valid until it\n"         \
  "ends. db: the SubDB its calls use by default. As a context manager it commits when the\n"       \
  "block ends normally and aborts when it raises (py-lmdb's rule).\n\n"                            \
  "Raises: strata.ClosedError, strata.ReadOnlyError (write on a read_only database),\n"            \
  "TypeError, ValueError.\n" DOC_THREADS_DB

#define DOC_DB_CATCH_UP                                                                            \
  "catch_up() -> None\n\n"                                                                         \
  "Moves a read_only=True handle to the database's latest state (what the writing process\n"       \
  "has written since): re-reads CURRENT, the MANIFEST's and the logs' new records. Costs\n"        \
  "about the size of what changed. Iterators and snapshots made before keep their view.\n\n"       \
  "Raises: strata.InvalidArgumentError (not a read_only handle), strata.ClosedError,\n"            \
  "strata.CorruptionError, strata.IOError.\n" DOC_THREADS_DB

#define DOC_DB_CHECKPOINT                                                                          \
  "checkpoint(path) -> None\n\n"                                                                   \
  "Makes a consistent copy of the open database in directory path (str, bytes or\n"                \
  "os.PathLike; it must not exist) while the database keeps taking writes: every write\n"          \
  "acknowledged before the call is in the copy. Tables are hard-linked when path is on the\n"      \
  "same file system, copied otherwise; the copy opens in Strata and in LevelDB.\n\n"               \
  "Raises: strata.InvalidArgumentError (path exists), strata.ClosedError, "                        \
  "strata.IOError.\n" DOC_THREADS_DB

#define DOC_DB_DROP_DB                                                                             \
  "drop_db(name) -> None\n\n"                                                                      \
  "Drops the sub-database name (str): it disappears at once, in one synced write, whatever\n"      \
  "its size (its records are removed later by compaction). SubDB objects of it then fail\n"        \
  "with strata.InvalidArgumentError; open_db(name) makes a new, empty one.\n\n"                    \
  "Raises: TypeError, strata.NotFoundError (no such name), strata.ReadOnlyError,\n"                \
  "strata.ClosedError, strata.IOError.\n" DOC_THREADS_DB

#define DOC_DB_LIST_DBS                                                                            \
  "list_dbs() -> list[str]\n\nThe names of the sub-databases, in order.\n\n"                       \
  "Raises: strata.ClosedError, strata.IOError.\n" DOC_THREADS_DB

#define DOC_BASE_ITER                                                                              \
  "Base class of Iterator and RawIterator: close() and the context manager. An iterator is\n"      \
  "invalidated when its database closes (then every call raises strata.ClosedError).\n"            \
  "Not thread-safe: one thread at a time."

#define DOC_ITER_CLOSE                                                                             \
  "close() -> None\n\n"                                                                            \
  "Releases the iterator's engine resources; later calls raise strata.ClosedError. Values\n"       \
  "returned with buffers=True are released. Closing twice is harmless."

#define DOC_ITER                                                                                   \
  "A range iterator (plyvel's Iterator): iterate it with for/next(); see DB.iterator().\n"         \
  "It is a position between two entries: next() returns the entry after it and moves past\n"       \
  "it, prev() returns the entry before it and moves back (so prev() after next() returns the\n"    \
  "same entry). Not thread-safe (one thread at a time). Invalidated when its database\n"           \
  "closes."

#define DOC_ITER_PREV                                                                              \
  "prev() -> entry\n\n"                                                                            \
  "Moves one entry back and returns it (the same entry the latest next() returned, if any);\n"     \
  "for a reverse iterator, moves forward.\n\n"                                                     \
  "Raises: StopIteration (nothing before), strata.ClosedError, BufferError (buffers=True and\n"    \
  "the current value is still exported), strata.IOError, strata.CorruptionError."

#define DOC_ITER_SEEK                                                                              \
  "seek(target) -> None\n\n"                                                                       \
  "Moves to just before the first entry >= target (bytes), taken into the range [start,\n"         \
  "stop]: next() then returns that entry (a reverse iterator's next() returns the entry\n"         \
  "before it).\n\n"                                                                                \
  "Raises: TypeError, strata.ClosedError, BufferError, strata.IOError, strata.CorruptionError."

#define DOC_ITER_SEEK_TO_START                                                                     \
  "seek_to_start() -> None\n\n"                                                                    \
  "Moves before the first entry of the range (the state of a new forward iterator).\n\n"           \
  "Raises: strata.ClosedError, BufferError."

#define DOC_ITER_SEEK_TO_STOP                                                                      \
  "seek_to_stop() -> None\n\n"                                                                     \
  "Moves after the last entry of the range: next() raises StopIteration, prev() returns the\n"     \
  "last entry.\n\n"                                                                                \
  "Raises: strata.ClosedError, BufferError."

#define DOC_RAW_ITER                                                                               \
  "A cursor (LevelDB's Iterator, plyvel's RawIterator); see DB.raw_iterator(). Not\n"              \
  "thread-safe (one thread at a time). Invalidated when its database closes."

#define DOC_RAW_VALID                                                                              \
  "valid() -> bool\n\nTrue when positioned on an entry.\n\nRaises: strata.ClosedError."

#define DOC_RAW_SEEK_TO_FIRST                                                                      \
  "seek_to_first() -> None\n\nPositions on the first entry (not valid when empty).\n\n"            \
  "Raises: strata.ClosedError, BufferError, strata.IOError, strata.CorruptionError."

#define DOC_RAW_SEEK_TO_LAST                                                                       \
  "seek_to_last() -> None\n\nPositions on the last entry (not valid when empty).\n\n"              \
  "Raises: strata.ClosedError, BufferError, strata.IOError, strata.CorruptionError."

#define DOC_RAW_SEEK                                                                               \
  "seek(target) -> None\n\nPositions on the first entry >= target (bytes); not valid past the\n"   \
  "end.\n\nRaises: TypeError, strata.ClosedError, BufferError, strata.IOError,\n"                  \
  "strata.CorruptionError."

#define DOC_RAW_NEXT                                                                               \
  "next() -> None\n\nMoves to the next entry (not valid past the last).\n\n"                       \
  "Raises: strata.IteratorInvalidError (not valid), strata.ClosedError, BufferError,\n"            \
  "strata.IOError, strata.CorruptionError."

#define DOC_RAW_PREV                                                                               \
  "prev() -> None\n\nMoves to the previous entry (not valid before the first).\n\n"                \
  "Raises: strata.IteratorInvalidError (not valid), strata.ClosedError, BufferError,\n"            \
  "strata.IOError, strata.CorruptionError."

#define DOC_RAW_KEY                                                                                \
  "key() -> bytes\n\nThe current key (a memoryview with buffers=True).\n\n"                        \
  "Raises: strata.IteratorInvalidError (not valid), strata.ClosedError."

#define DOC_RAW_VALUE                                                                              \
  "value() -> bytes\n\nThe current value (a memoryview of the engine's memory with\n"              \
  "buffers=True, valid until the cursor moves).\n\n"                                               \
  "Raises: strata.IteratorInvalidError (not valid), strata.ClosedError."

#define DOC_RAW_ITEM                                                                               \
  "item() -> tuple[bytes, bytes]\n\n(key(), value()).\n\n"                                         \
  "Raises: strata.IteratorInvalidError (not valid), strata.ClosedError."

#define DOC_SNAP                                                                                   \
  "A consistent view of a database as of one moment (plyvel's Snapshot); see DB.snapshot().\n"     \
  "Thread-safe (gets and iterator creation from any thread). Invalidated when its database\n"      \
  "closes."

#define DOC_SNAP_GET                                                                               \
  "get(key, default=None, *, verify_checksums=False, fill_cache=True, buffers=False)\n\n"          \
  "As DB.get(), as of the snapshot. With buffers=True the memoryview is valid until the\n"         \
  "snapshot closes.\n\n"                                                                           \
  "Raises: TypeError, strata.ClosedError (snapshot or database closed), strata.IOError,\n"         \
  "strata.CorruptionError."

#define DOC_SNAP_ITERATOR                                                                          \
  "iterator(**kwargs) -> Iterator\n\nAs DB.iterator() (same arguments), as of the snapshot.\n"     \
  "The iterator keeps working after the snapshot closes.\n\n"                                      \
  "Raises: TypeError, strata.ClosedError."

#define DOC_SNAP_RAW_ITERATOR                                                                      \
  "raw_iterator(**kwargs) -> RawIterator\n\nAs DB.raw_iterator(), as of the snapshot.\n\n"         \
  "Raises: strata.ClosedError."

#define DOC_SNAP_CLOSE                                                                             \
  "close() -> None\n\nReleases the snapshot; buffers its gets returned are released. Later\n"      \
  "gets raise strata.ClosedError. Closing twice is harmless."

#define DOC_WB                                                                                     \
  "A batch of puts and deletes applied atomically by write() (plyvel's WriteBatch); see\n"         \
  "DB.write_batch(). As a context manager it writes itself when the block ends (with\n"            \
  "transaction=True, only when it ends without an exception), then clears itself.\n"               \
  "len(batch) is the number of operations queued. Not thread-safe."

#define DOC_WB_PUT                                                                                 \
  "put(key, value, *, db=None) -> None\n\nQueues a put (copied). key (bytes); value\n"             \
  "(bytes-like); db: a sub-database (SubDB) of the same database, or the DB itself, to write\n"    \
  "to (default: where the batch was made), so one batch spans several sub-databases.\n\n"          \
  "Raises: TypeError, strata.ClosedError, strata.InvalidArgumentError (size limits, reserved\n"    \
  "range)."

#define DOC_WB_DELETE                                                                              \
  "delete(key, *, db=None) -> None\n\nQueues a delete of key (bytes); db as in put().\n\n"         \
  "Raises: TypeError, strata.ClosedError, strata.InvalidArgumentError."

#define DOC_WB_CLEAR "clear() -> None\n\nEmpties the batch.\n\nRaises: strata.ClosedError."

#define DOC_WB_WRITE                                                                               \
  "write() -> None\n\nApplies every queued operation atomically (the batch is kept; clear()\n"     \
  "it to reuse it).\n\nRaises: strata.ClosedError, strata.ReadOnlyError, strata.IOError."

#define DOC_WB_APPEND                                                                              \
  "append(source) -> None\n\nQueues a copy of every operation of source (a WriteBatch).\n\n"       \
  "Raises: TypeError, strata.ClosedError."

#define DOC_WB_APPROXIMATE_SIZE                                                                    \
  "approximate_size() -> int\n\nBytes of the batch's encoding (what it adds to the log).\n\n"      \
  "Raises: strata.ClosedError."

#define DOC_WB_EXIT                                                                                \
  "Writes the batch unless (transaction=True and the block raised), then clears it.\n"             \
  "Raises: as write()."

#endif /* STRATA_PY_DOCS_H */
