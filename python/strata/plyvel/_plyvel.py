"""strata.plyvel._plyvel: the names of plyvel._plyvel, over Strata.

plyvel's own exception classes (Error, IOError, CorruptionError,
IteratorInvalidError) are raised, with bytes messages as plyvel's are; closed
objects raise RuntimeError with plyvel's messages. DB, PrefixedDB and the
module functions take plyvel's arguments. Iterator, RawIterator, Snapshot and
WriteBatch are strata's own types (plyvel's behaviour, see strata.DB).
"""

import builtins
import sys
import threading  # noqa: F401 - plyvel._plyvel has it
from weakref import ref as weakref_ref  # noqa: F401 - plyvel._plyvel has it

from .. import _db, _strata

__leveldb_version__ = "1.23"


class Error(Exception):
    """Generic LevelDB error (the base of plyvel's other errors)."""


class IOError(Error, builtins.IOError):  # noqa: A001
    """LevelDB IO error; also Python's built-in IOError (OSError)."""


class CorruptionError(Error):
    """LevelDB corruption error."""


class IteratorInvalidError(Error):
    """Used by RawIterator to signal an invalid iterator state."""


# strata_py.h's SP_E_* order: Error, IO, Corruption, Lock (plyvel: IOError,
# as LevelDB reports a held lock), Conflict, ReadOnly, IteratorInvalid,
# Closed (plyvel: RuntimeError), NotFound, Invalid, NotSupported.
_ERRORS = (Error, IOError, CorruptionError, IOError, Error, Error, IteratorInvalidError,
           RuntimeError, Error, Error, Error)

BaseIterator = _strata.BaseIterator
Iterator = _strata.Iterator
RawIterator = _strata.RawIterator
Snapshot = _strata.Snapshot
WriteBatch = _strata.WriteBatch


def _fsname(name):
    if isinstance(name, (bytes, str)):
        return name
    raise TypeError("'name' arg must be a byte string or a unicode string")


class PrefixedDB(_db.PrefixedDB):
    """A DB-like object that transparently prefixes all database keys (plyvel's).
    Do not instantiate directly; use DB.prefixed_db()."""

    __slots__ = ()
    _repr_module = "plyvel"


class DB(_db.DB):
    """DB(name, *, create_if_missing=False, error_if_exists=False, paranoid_checks=None,
       write_buffer_size=None, max_open_files=None, lru_cache_size=None, block_size=None,
       block_restart_interval=None, max_file_size=None, compression='snappy',
       bloom_filter_bits=0, comparator=None, comparator_name=None)

    plyvel's DB over Strata (a LevelDB-format database): see strata.DB for the
    arguments. Errors are plyvel's classes with bytes messages; operations on a
    closed database raise RuntimeError."""

    _strata_errors = _ERRORS
    _strata_bytes_messages = True
    _repr_module = "plyvel"
    _prefixed_class = PrefixedDB

    def __init__(self, name, **kwargs):
        super().__init__(_fsname(name), **kwargs)


def destroy_db(name):
    """Destroy the specified database (plyvel.destroy_db)."""
    _strata.destroy(_fsname(name), _ERRORS, True)


def repair_db(name, *, paranoid_checks=None, write_buffer_size=None, max_open_files=None,
              lru_cache_size=None, block_size=None, block_restart_interval=None,
              max_file_size=None, compression="snappy", bloom_filter_bits=0, comparator=None,
              comparator_name=None):
    """Repair the specified database (plyvel.repair_db). The options are accepted
    and, but for comparator, ignored: Strata's repair uses its defaults."""
    if comparator is not None:
        raise NotImplementedError("repair_db with a Python comparator is not supported")
    _strata.repair(_fsname(name), _ERRORS, True)


__all__ = ["__leveldb_version__", "DB", "PrefixedDB", "Snapshot", "WriteBatch", "BaseIterator",
           "Iterator", "RawIterator", "repair_db", "destroy_db", "Error", "IOError",
           "CorruptionError", "IteratorInvalidError", "sys"]
