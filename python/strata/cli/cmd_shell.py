"""shell: an interactive Python console with the database open as `db` (py-lmdb's shell;
the C tool's `strata shell` runs this one). The console is the standard library's
code.InteractiveConsole, with readline's line editing and history when standard input is
a terminal."""

import code
import importlib
import sys

import strata

from .common import DB, ENV, HELP, READ_ONLY, check_operands, is_main, open_db, open_subdb, \
    parse, take_dbpath


class _Console(code.InteractiveConsole):
    """Prompts only on a terminal, so a script piped in prints nothing but its own
    output."""

    def raw_input(self, prompt=""):
        return input(prompt if sys.stdin.isatty() else "")


def run_shell(ctx, argv):
    """strata shell [-d NAME] [-r] DBPATH"""
    _, operands, co = parse(ctx, argv, [ENV, DB, READ_ONLY, HELP])
    path = take_dbpath(co, operands)
    check_operands(operands, 0, 0, "DBPATH")
    db, read_only = open_db(path, read_only=co.read_only, shared=True)
    try:
        names = {"__name__": "__console__", "__doc__": None, "strata": strata, "db": db}
        lines = ["strata %s, Python %s" % (strata.__strata_version__, sys.version.split()[0]),
                 "db      = %r%s" % (db, " (read-only)" if read_only else "")]
        if not is_main(co.subdb):
            names["subdb"] = open_subdb(db, co.subdb)
            lines.append("subdb   = %r" % names["subdb"])
        lines.append("strata  = the strata module; help(db) for its methods. "
                     "Ctrl-D (or exit()) leaves.")
        if sys.stdin.isatty():
            try:
                importlib.import_module("readline")  # line editing and history for input()
            except ImportError:
                pass
        try:
            _Console(names).interact(banner="\n".join(lines) if sys.stdin.isatty() else "",
                                     exitmsg="")
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                return e.code or 0
            sys.stderr.write("%s\n" % e.code)
            return 1
        return 0
    finally:
        db.close()
