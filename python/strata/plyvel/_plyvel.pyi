# Type stubs of strata.plyvel._plyvel (plyvel._plyvel's names).
import builtins
import sys as sys
from typing import Any, Callable, Optional, Union

from .. import _db, _strata

__leveldb_version__: str

BaseIterator = _strata.BaseIterator
Iterator = _strata.Iterator
RawIterator = _strata.RawIterator
Snapshot = _strata.Snapshot
WriteBatch = _strata.WriteBatch

class Error(Exception): ...
class IOError(Error, builtins.OSError): ...
class CorruptionError(Error): ...
class IteratorInvalidError(Error): ...

class PrefixedDB(_db.PrefixedDB): ...

class DB(_db.DB):
    def __init__(self, name: Union[str, bytes], *, create_if_missing: bool = ...,
                 error_if_exists: bool = ..., paranoid_checks: Optional[bool] = ...,
                 write_buffer_size: Optional[int] = ..., max_open_files: Optional[int] = ...,
                 lru_cache_size: Optional[int] = ..., block_size: Optional[int] = ...,
                 block_restart_interval: Optional[int] = ...,
                 max_file_size: Optional[int] = ..., compression: Optional[str] = ...,
                 bloom_filter_bits: int = ...,
                 comparator: Optional[Callable[[bytes, bytes], int]] = ...,
                 comparator_name: Optional[bytes] = ..., **strata_options: Any) -> None: ...

def destroy_db(name: Union[str, bytes]) -> None: ...
def repair_db(name: Union[str, bytes], *, paranoid_checks: Any = ...,
              write_buffer_size: Any = ..., max_open_files: Any = ..., lru_cache_size: Any = ...,
              block_size: Any = ..., block_restart_interval: Any = ...,
              max_file_size: Any = ..., compression: Any = ..., bloom_filter_bits: int = ...,
              comparator: Any = ..., comparator_name: Any = ...) -> None: ...
