# Type stubs of strata._db (re-exported by strata: see strata/__init__.pyi).
from typing import Any, Callable, Dict, Optional, Union

from . import _strata
from . import DB as DB, PrefixedDB as PrefixedDB, SubDB as SubDB, destroy_db as destroy_db, repair_db as repair_db
from . import check_db as check_db

FEATURES: frozenset

NUM_LEVELS: int
