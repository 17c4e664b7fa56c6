"""strata.plyvel: a drop-in for plyvel (LevelDB's Python binding, 1.5) over Strata.

A program written for plyvel runs unchanged after

    import strata.plyvel as plyvel

with plyvel's names, arguments, defaults, exception classes (plyvel.Error,
plyvel.IOError, plyvel.CorruptionError, plyvel.IteratorInvalidError) and their
bytes messages, RuntimeError on closed objects, and plyvel's module layout
(strata.plyvel._plyvel). Strata reads and writes LevelDB's on-disk format, so
databases are shared with plyvel itself (not at the same time: each holds the
LOCK). The differences from plyvel are listed in the package's README.md.
"""

from ._plyvel import (  # noqa: F401
    __leveldb_version__,
    DB,
    repair_db,
    destroy_db,
    Error,
    IOError,
    CorruptionError,
    IteratorInvalidError,
)

#: The plyvel release whose API this module follows.
__version__ = "1.5.0"
