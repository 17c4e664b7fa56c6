"""strata.openleveldb: a drop-in for openleveldb (0.1.5), the typed object store over
plyvel, on Strata.

    from strata.openleveldb import LevelDB      # was: from openleveldb import LevelDB
    db = LevelDB("path_to_db")
    db = LevelDB("path_to_db", server_address="redis://127.0.0.1:6379")  # was http://...:5000

The LevelDB class is strata.typed.LevelDB (see its documentation): openleveldb's
constructor, item access, prefixes and views, iteration, prefixed_iter,
prefixed_len, close, and its on-disk encoding byte for byte, plus keys/values/
items/get/update, a real `in`, batches, transactions, snapshots and buffers=True
reads. The remote mode talks to a strata-server instead of openleveldb's Flask
server: start `strata-server --dir path_to_db --port 6379` and give its address.
The differences from openleveldb are listed in python/README.md.
"""

from ..typed import LevelDB, decode, encode
from .._errors import DecodeError

__all__ = ["LevelDB", "DecodeError", "encode", "decode"]

#: The openleveldb release whose API and format this module follows.
__version__ = "0.1.5"
