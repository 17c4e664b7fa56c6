"""strata's exception classes.

Every error the engine reports is a strata.Error; the subclass says which:

    Error
     +-- IOError (also builtins.OSError)      an operating-system I/O call failed
     |    +-- LockError                       the database is held by another
     |                                         handle or process (its LOCK file)
     +-- CorruptionError                      a bad checksum, format or truncated file
     +-- ConflictError                        a transaction's commit found a key it read
     |                                         or wrote changed since it began
     +-- ReadOnlyError                        a write on a database opened read_only
     +-- IteratorInvalidError                 a RawIterator used while not valid
     +-- ClosedError (also RuntimeError)      a call on a closed database, iterator,
     |                                         snapshot, transaction or sub-database
     +-- NotFoundError (also KeyError)        something named that does not exist
     |                                         (a sub-database); never a missing key,
     |                                         which get() answers with its default
     +-- InvalidArgumentError (also ValueError) the engine refused an argument (a
     |                                         missing database without
     |                                         create_if_missing, an existing one with
     |                                         error_if_exists, size limits ...)
     +-- NotSupportedError                    a feature this database cannot give
     +-- DecodeError (also ValueError)        strata.typed: a stored value (or key) that
     |                                         openleveldb's encoding cannot decode
     +-- RemoteError                          an error reply of a strata-server (RESP)

Messages are str and name the path, file, offset or key involved (the engine's
strata_errmsg()). ClosedError is a RuntimeError, IOError an OSError and
InvalidArgumentError a ValueError, so code written for plyvel (which raises
RuntimeError on closed objects) keeps working.
"""

import builtins

__all__ = [
    "Error", "IOError", "LockError", "CorruptionError", "ConflictError", "ReadOnlyError",
    "IteratorInvalidError", "ClosedError", "NotFoundError", "InvalidArgumentError",
    "NotSupportedError", "DecodeError", "RemoteError",
]


class Error(Exception):
    """Base class of every error strata raises for the engine."""


class IOError(Error, builtins.OSError):  # noqa: A001 - plyvel's name
    """An operating-system I/O call failed (a read, write, fsync, rename...)."""


class LockError(IOError):
    """The database is held by another handle or process (its LOCK file).

    Open it with read_only=True to read it beside the writer."""


class CorruptionError(Error):
    """A file is damaged: bad checksum, bad format or truncated."""


class ConflictError(Error):
    """A transaction's commit found a key it read or wrote changed since it
    began; nothing of the transaction was applied."""


class ReadOnlyError(Error):
    """A write (or compaction, sub-database creation or drop) on a database
    opened with read_only=True."""


class IteratorInvalidError(Error):
    """A RawIterator's key(), value(), item(), next() or prev() was called
    while it is not positioned on an entry."""


class ClosedError(Error, builtins.RuntimeError):
    """A call on a closed database, or on an iterator, snapshot, transaction
    or sub-database that was closed or whose database was closed."""


class NotFoundError(Error, builtins.KeyError):
    """Something named does not exist (e.g. a sub-database opened with
    create=False). A missing key is not an error: get() returns its default."""

    def __str__(self):  # KeyError would repr() the message
        return Exception.__str__(self)


class InvalidArgumentError(Error, builtins.ValueError):
    """The engine refused an argument: no database at the path (without
    create_if_missing), one exists (with error_if_exists), a comparator name
    that does not match the database's, a key or value over the size limits,
    a key in the reserved range of sub-databases..."""


class NotSupportedError(Error):
    """The database cannot do this (e.g. sub-databases with a custom
    comparator)."""


class DecodeError(Error, builtins.ValueError):
    """strata.typed: a stored value that openleveldb's encoding cannot decode (no
    or an unknown type tag, text that is not UTF-8, bad JSON, a bad NPY array), or
    a key that is not UTF-8. The message names the key; .key is its bytes."""

    key = None


class RemoteError(Error):
    """An error reply of a strata-server (the message is the server's, e.g.
    "NOAUTH Authentication required.")."""


# The order of strata_py.h's SP_E_* slots.
ERROR_TABLE: "tuple[type, ...]" = (Error, IOError, CorruptionError, LockError, ConflictError, ReadOnlyError,
               IteratorInvalidError, ClosedError, NotFoundError, InvalidArgumentError,
               NotSupportedError)
