# Type stubs of strata._resp (the connections of strata.remote, over redis-py).
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = ["Address", "Connection", "Pool", "parse_address"]

class Address:
    host: str
    port: int
    db: int
    username: Optional[str]
    password: Optional[str]
    tls: bool
    options: Dict[str, str]
    url: str
    def display(self) -> str: ...

def parse_address(url: str) -> Address: ...

_Arg = Union[bytes, bytearray, memoryview, str, int]

class Connection:
    address: Address
    conn: Any  # a redis.Connection
    broken: bool
    generation: int
    def __init__(self, address: Address, _cls_kw: Optional[Tuple[type, Dict[str, Any]]] = ...) -> None: ...
    def close(self) -> None: ...
    def call(self, *args: _Arg) -> Any: ...
    def pipeline(self, commands: Sequence[Tuple[_Arg, ...]]) -> List[Any]: ...

class Pool:
    address: Address
    max_idle: int
    closed: bool
    def __init__(self, address: Address, max_idle: int = ...) -> None: ...
    def get(self) -> Connection: ...
    def put(self, conn: Connection) -> None: ...
    def call(self, *args: _Arg) -> Any: ...
    def pipeline(self, commands: Sequence[Tuple[_Arg, ...]]) -> List[Any]: ...
    def close(self) -> None: ...
