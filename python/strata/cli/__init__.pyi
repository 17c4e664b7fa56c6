# Type stubs of strata.cli, `python -m strata` (see its docstring).
from typing import IO, BinaryIO, Optional, Sequence, Tuple

COMMANDS: Tuple[str, ...]
OK: int
FAIL: int
USAGE: int
INTERRUPTED: int

def main(argv: Optional[Sequence[str]] = ..., stdin: Optional[BinaryIO] = ...,
         stdout: Optional[BinaryIO] = ..., stderr: Optional[IO[str]] = ...) -> int: ...
