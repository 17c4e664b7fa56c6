# Type stubs of strata.plyvel (plyvel's public names).
from ._plyvel import (CorruptionError as CorruptionError, DB as DB, Error as Error,
                      IOError as IOError, IteratorInvalidError as IteratorInvalidError,
                      __leveldb_version__ as __leveldb_version__, destroy_db as destroy_db,
                      repair_db as repair_db)

__version__: str
