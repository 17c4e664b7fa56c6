"""strata.cli: `python -m strata`, the strata command-line tool for users of the Python
package.

It has the C tool's commands (`strata --help`; tools/strata/), with the same names,
options, output formats, messages and exit statuses, so scripts and backups work with
either; it draws progress lines with tqdm and adds `shell`, an interactive Python console
with the database open (which the C tool's `strata shell` runs). It is a thin layer over
the package: the engine does the work (checkpoints for copy, sorted bulk load for restore
and rewrite, strata_check, strata_repair, sub-databases, transactions), this package
parses options, reads and writes the text formats (strata.cli.formats) and reports.

    main(argv=None, stdin=None, stdout=None, stderr=None) -> int

runs one command line (argv without the program name; sys.argv[1:] by default) and
returns its exit status: 0 success, 1 failure, 2 bad usage, 130 interrupted. stdin and
stdout are binary streams (sys.stdin.buffer and sys.stdout.buffer by default), stderr a
text stream (sys.stderr). Thread-safety: one command at a time per process (long commands
install signal handlers in the main thread while they run).
"""

import sys

from . import manual
from .common import (FAIL, INTERRUPTED, OK, USAGE, Context, Exit, HelpShown, UsageError)

__all__ = ["main", "COMMANDS", "OK", "FAIL", "USAGE", "INTERRUPTED"]

USAGE_TEXT = """\
usage: python3 -m strata <command> [options] DBPATH [args]

Inspect and edit a Strata database (a directory in LevelDB 1.23's on-disk
format), and move its contents in and out as text. This is the strata
command-line tool for users of the Python package: the same commands,
options, output formats, messages and exit statuses as 'strata' (the C
tool), whose manuals it shows; it draws progress lines with tqdm and its
shell command is an interactive Python console with the database open.

Commands:
%s
'python3 -m strata <command> --help' (or 'python3 -m strata help
<command>') gives a command's options and formats; 'python3 -m strata help
all' prints every manual; man strata has them all too. The manuals name
the tool 'strata', as its messages do.

Options shared by the commands (py-lmdb's spellings where they exist):
  -e, --env DBPATH   the database, instead of the DBPATH operand.
  -d, --db NAME      a sub-database; :main: is the main database.
  -r, --read-only    open read-only, beside a writer in another process.
  -x, --hex          keys and values in hex.
  -q, --quiet        no progress line; --progress forces one.
Long commands (dump, load, restore, copy, copyfd, rewrite, compact,
check, repair, warm) show a progress line on standard error when it is
a terminal, and nothing otherwise.

Keys and values are byte strings. On the command line they are used as
given; a shell argument cannot hold a NUL byte, so get, put, delete and
edit take -x to read them as hex. Options may come before or after
DBPATH; put '--' before a KEY or VALUE that begins with '-'.

Only put, edit, load and restore create a database. The other commands
fail on a missing one, so a mistyped path never leaves an empty database
behind.

check reads every file of a database and reports damage without changing
anything; repair then recovers what can be read (set-aside files go to
DBPATH/lost/).

A database is held open, and locked, only while a command runs. A
command that only reads (get, scan, dump, stat, copy, rewrite) opens it
read-only when another process holds the lock; one that writes fails
then ("lock ... already held") rather than waiting.

Exit status: 0 success; 1 failure (including a key get did not find, and
damage found by check); 2 bad usage (unknown command or option, missing
or extra operands); 130 interrupted (Ctrl-C, SIGTERM, SIGHUP: a
half-written destination is removed or named as incomplete).
"""


def _commands():
    from . import cmd_copy, cmd_dump, cmd_info, cmd_kv, cmd_load, cmd_maint, cmd_shell
    return {
        "get": cmd_kv.run_get, "put": cmd_kv.run_put, "delete": cmd_kv.run_delete,
        "edit": cmd_kv.run_edit, "scan": cmd_kv.run_scan,
        "dump": cmd_dump.run_dump, "load": cmd_load.run_load,
        "restore": cmd_load.run_restore, "copy": cmd_copy.run_copy,
        "copyfd": cmd_copy.run_copyfd, "rewrite": cmd_copy.run_rewrite,
        "drop": cmd_maint.run_drop, "stat": cmd_info.run_stat, "warm": cmd_info.run_warm,
        "watch": cmd_info.run_watch, "readers": cmd_info.run_readers,
        "shell": cmd_shell.run_shell, "compact": cmd_maint.run_compact,
        "check": cmd_maint.run_check, "repair": cmd_maint.run_repair,
    }


#: The command names, in the order of --help (the C tool's order).
COMMANDS = tuple(name for name, _ in manual.COMMANDS)


def usage_text():
    """The text of `python -m strata --help`."""
    lines = "".join("  %-8s %s\n" % (name, summary) for name, summary in manual.COMMANDS)
    return USAGE_TEXT % lines


def _help(words, out, err):
    if not words:
        out.write(usage_text().encode())
        return OK
    if words[0] == "all":
        text = usage_text()
        for name in COMMANDS:
            text += "\n" + manual.HELP[name]
        out.write(text.encode())
        return OK
    if words[0] not in manual.HELP:
        err.write("strata help: unknown command '%s'\nTry 'python3 -m strata --help'.\n"
                  % words[0])
        return USAGE
    out.write(manual.HELP[words[0]].encode())
    return OK


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Runs one command line; returns the exit status (see the module's docstring)."""
    if argv is None:
        argv = sys.argv[1:]
    argv = list(argv)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    stderr = stderr if stderr is not None else sys.stderr
    try:
        if not argv:
            stderr.write(usage_text())
            return USAGE
        name = argv[0]
        if name in ("--help", "-h", "help"):
            return _help(argv[1:], stdout, stderr)
        if name == "--version":
            import strata
            stdout.write(b"strata %s (LevelDB %s on-disk format)\n"
                         % (strata.__strata_version__.encode(),
                            strata.__leveldb_version__.encode()))
            return OK
        run = _commands().get(name)
        if run is None:
            stderr.write("strata: unknown command '%s'\nTry 'python3 -m strata --help'.\n"
                         % name)
            return USAGE
        ctx = Context(name, stdin, stdout, stderr)
        try:
            status = run(ctx, argv[1:])
            return OK if status is None else status
        except HelpShown:
            return OK
        except UsageError as e:
            ctx.err("%s\nTry 'strata %s --help'." % (e.message, name))
            return USAGE
        except Exit as e:
            if e.message:
                ctx.err(e.message)
            return e.code
        except KeyboardInterrupt:
            ctx.err("interrupted")
            return INTERRUPTED
    finally:
        for stream in (stdout, stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass

