# Type stubs of strata.openleveldb (the drop-in module for openleveldb 0.1.5).
from ..typed import LevelDB as LevelDB, decode as decode, encode as encode
from .. import DecodeError as DecodeError

__all__ = ["LevelDB", "DecodeError", "encode", "decode"]
__version__: str
