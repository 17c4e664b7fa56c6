"""python -m strata: the strata command-line tool (see strata.cli and `python -m strata
--help`)."""

import signal
import sys

from .cli import main

if __name__ == "__main__":
    # As a C program: a closed pipe (`... | head`) ends the process quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
