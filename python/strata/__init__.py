"""strata: Python bindings for Strata, an embedded, persistent, ordered key-value
store that reads and writes LevelDB's on-disk format.

    import strata
    with strata.DB("/tmp/db", create_if_missing=True) as db:
        db.put(b"key", b"value")
        db.get(b"key")                       # b'value'
        for key, value in db.iterator(prefix=b"k"):
            ...

strata.DB has plyvel's API (names, arguments, defaults and behaviour) and Strata's
own on the same object. Drop-in modules for existing programs:

    import strata.plyvel as plyvel           # plyvel's API and exceptions
    import strata.lmdb as lmdb               # py-lmdb's API over a Strata database
    from strata.openleveldb import LevelDB   # openleveldb's typed object store

strata.typed.LevelDB is the typed object store (str keys, Python values in
openleveldb's format), local or through a strata-server; strata.connect(address)
gives strata.DB's methods over a strata-server.

The C core is strata._strata (the CPython C API over libstrata, linked in). See
the package's README.md for the rules of buffers=True, threads, fork() and close.
"""

from . import _strata
from ._db import DB, FEATURES, PrefixedDB, SubDB, check_db, destroy_db, repair_db
from ._errors import (ERROR_TABLE, ClosedError, ConflictError, CorruptionError, DecodeError,
                      Error, InvalidArgumentError, IOError, IteratorInvalidError, LockError,
                      NotFoundError, NotSupportedError, ReadOnlyError, RemoteError)
from .remote import RemoteDB, connect

_strata._set_default_errors(ERROR_TABLE)
del ERROR_TABLE

BaseIterator = _strata.BaseIterator
Iterator = _strata.Iterator
RawIterator = _strata.RawIterator
Snapshot = _strata.Snapshot
WriteBatch = _strata.WriteBatch
#: strata.Transaction (DB.begin()), when this build has transactions; else None.
Transaction = getattr(_strata, "Transaction", None)
#: strata.Loader (DB.loader(): sorted bulk load), when this build has it; else None.
Loader = getattr(_strata, "Loader", None)

__version__ = "0.1.0"
#: The version of the Strata engine compiled in, "major.minor".
__strata_version__ = "%d.%d" % (_strata.VERSION_MAJOR, _strata.VERSION_MINOR)
#: The LevelDB release whose on-disk format and behaviour Strata follows.
__leveldb_version__ = "1.23"

__all__ = [
    "DB", "PrefixedDB", "SubDB", "Transaction", "FEATURES", "Snapshot", "Iterator", "RawIterator", "BaseIterator", "WriteBatch",
    "destroy_db", "repair_db", "check_db", "Loader",
    "Error", "IOError", "LockError", "CorruptionError", "ConflictError", "ReadOnlyError",
    "IteratorInvalidError", "ClosedError", "NotFoundError", "InvalidArgumentError",
    "NotSupportedError", "DecodeError", "RemoteError", "connect", "RemoteDB", "LevelDB",
]


def __getattr__(name):
    # strata.LevelDB (strata.typed's) is imported when first asked for, so that
    # `import strata` does not load the typed store's JSON library
    if name == "LevelDB":
        from .typed import LevelDB
        return LevelDB
    raise AttributeError("module 'strata' has no attribute %r" % name)
