"""What the commands of `python -m strata` share: exit statuses, errors, option parsing,
opening a database and its sub-databases, command-line bytes, and buffered output. The
same rules as the C tool's tools/strata/cli.c, so both report the same things the same
way.

Option parsing is the C tool's: getopt_long's rules (Python's getopt.gnu_getopt), so
options may come before or after the operands, long options may be abbreviated, short
ones clustered ("-xq"), and "--" ends the options.
"""

import errno
import getopt
import os
import stat as _stat

import strata

from . import manual

#: Exit statuses (the same as the C tool's; 130 = 128 + SIGINT, as a shell reports a
#: command killed by Ctrl-C).
OK, FAIL, USAGE, INTERRUPTED = 0, 1, 2, 130

#: The name of the main database in -d and NAME=FILE operands (py-lmdb's spelling).
MAIN_NAME = ":main:"

#: The progress modes: -q, (nothing: a line when stderr is a terminal), --progress.
PROGRESS_OFF, PROGRESS_AUTO, PROGRESS_ON = 0, 1, 2


class Exit(Exception):
    """Ends a command with status `code`; its message (if any) was printed already, or is
    printed by the runner (subclasses)."""

    def __init__(self, code, message=None):
        super().__init__(message)
        self.code = code
        self.message = message


class Failure(Exit):
    """A failure (status 1), printed as "strata CMD: message"."""

    def __init__(self, message):
        super().__init__(FAIL, message)


class UsageError(Exit):
    """Bad usage (status 2), printed as "strata CMD: message" and a pointer to --help."""

    def __init__(self, message):
        super().__init__(USAGE, message)


class Interrupted(Exit):
    """Stopped by Ctrl-C, SIGTERM or SIGHUP (status 130), printed as a failure."""

    def __init__(self, message):
        super().__init__(INTERRUPTED, message)


class Context:
    """One run of one command: its name (for messages), its streams -- stdin and stdout
    binary (io.BufferedIOBase), stderr text -- and the signal watch (progress.Signals)
    that long commands install."""

    def __init__(self, cmd, stdin, stdout, stderr):
        self.cmd = cmd
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.signals = None

    def err(self, message):
        """Prints "strata CMD: message" on standard error."""
        try:
            self.stdout.flush()  # keep stdout and stderr in order on a terminal
        except (OSError, ValueError):
            pass
        self.stderr.write("strata %s: %s\n" % (self.cmd, message))
        self.stderr.flush()

    def interrupted(self):
        """The first signal received since the command installed its watch, or 0."""
        return self.signals.received if self.signals else 0


def show(data):
    """bytes or str for a message: str as it is, bytes in scan's escapes."""
    if isinstance(data, str):
        return data
    from .formats import fmt_scan
    return fmt_scan(bytes(data)).decode("ascii")


def os_error(e):
    """The strerror of an OSError, as the C library words it."""
    return e.strerror or os.strerror(e.errno or errno.EIO)


# ---------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------

# (short letter or None, long name, takes an argument)
ENV = ("e", "env", True)
DB = ("d", "db", True)
READ_ONLY = ("r", "read-only", False)
QUIET = ("q", "quiet", False)
PROGRESS = (None, "progress", False)
HELP = ("h", "help", False)


class Common:
    """The options every command reads the same way (-e, -d, -r, -q, --progress)."""

    __slots__ = ("dbpath", "subdb", "read_only", "progress")

    def __init__(self):
        self.dbpath = None
        self.subdb = None
        self.read_only = False
        self.progress = PROGRESS_AUTO

    def take(self, name, value):
        """Consumes a common option: True, or False when it is the command's own."""
        if name == "env":
            self.dbpath = value
        elif name == "db":
            self.subdb = value
        elif name == "read-only":
            self.read_only = True
        elif name == "quiet":
            self.progress = PROGRESS_OFF
        elif name == "progress":
            self.progress = PROGRESS_ON
        else:
            return False
        return True


class HelpShown(Exception):
    """--help was given: the manual is printed, the status is 0."""


def parse(ctx, argv, specs):
    """Parses argv (the words after the command name) by getopt_long's rules against
    specs, a sequence of (short, long, takes_argument) tuples. Returns (options,
    operands, common): options a list of (long name, value or None) in command-line order
    with the common ones taken out into common (a Common). Prints the manual and raises
    HelpShown for -h/--help; raises UsageError naming an unknown option or a missing
    argument."""
    shorts = "".join(s + (":" if arg else "") for s, _, arg in specs if s)
    longs = [name + ("=" if arg else "") for _, name, arg in specs]
    by_short = {s: name for s, name, _ in specs if s}
    try:
        pairs, operands = getopt.gnu_getopt(argv, shorts, longs)
    except getopt.GetoptError as e:
        shown = ("--" if e.msg.startswith("option --") else "-") + (e.opt or "")
        if "requires argument" in e.msg:
            raise UsageError("option '%s' needs an argument" % shown) from None
        raise UsageError("unknown option '%s'" % shown) from None
    common = Common()
    options = []
    for flag, value in pairs:
        name = flag[2:] if flag.startswith("--") else by_short[flag[1:]]
        has_arg = next(arg for _, n, arg in specs if n == name)
        value = value if has_arg else None
        if name == "help":
            ctx.stdout.write(manual.HELP[ctx.cmd].encode())
            ctx.stdout.flush()
            raise HelpShown()
        if not common.take(name, value):
            options.append((name, value))
    return options, operands, common


def take_dbpath(common, operands):
    """Unless -e gave the database, takes it from the first operand."""
    if common.dbpath is None:
        if not operands:
            raise UsageError("missing operand: expected DBPATH (or -e DBPATH)")
        common.dbpath = operands.pop(0)
    return common.dbpath


def check_operands(operands, low, high, names):
    """Checks the number of operands left after the database."""
    if len(operands) < low:
        raise UsageError("missing operand: expected %s" % names)
    if high is not None and len(operands) > high:
        raise UsageError("too many operands: expected %s" % names)


def parse_count(text):
    """A non-negative decimal count (for --limit, --batch ...), or None."""
    if not text or not "0" <= text[0] <= "9" or not text.isdigit() or not text.isascii():
        return None
    return int(text)


def arg_bytes(what, arg, hexadecimal):
    """A command-line key or value as bytes: as given (the bytes of the command line), or
    hex-decoded with -x. Raises UsageError on bad hex."""
    raw = os.fsencode(arg)
    if not hexadecimal:
        return raw
    from .formats import parse_hex
    data, problem = parse_hex(raw)
    if problem:
        raise UsageError("%s '%s' is not valid hex (-x): %s" % (what, arg, problem))
    return data


def is_main(name):
    """Whether a -d or NAME= name means the main database."""
    return name is None or name == MAIN_NAME


# ---------------------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------------------

def _check_path(path, create):
    """The C tool's checks before an open, for a message that names the real problem."""
    if not path:
        raise Failure("DBPATH is empty")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not create:
            raise Failure("%s: no such database (only put, load, restore and edit create "
                          "one)" % path) from None
        return
    except OSError as e:
        raise Failure("%s: %s" % (path, os_error(e))) from None
    if not _stat.S_ISDIR(st.st_mode):
        raise Failure("%s: not a database (a Strata database is a directory, this is a file)"
                      % path)
    if not create and not os.path.lexists(os.path.join(path, "CURRENT")):
        raise Failure("%s: not a database (directory has no CURRENT file)" % path)


def open_db(path, create=False, read_only=False, shared=False):
    """Opens the database at path and returns (strata.DB, whether it is read-only).
    Without create, a missing path or a directory holding no database is an error rather
    than a new database. read_only opens it without the LOCK, beside a writer; shared
    opens it read-write, or read-only when another process holds the LOCK (for commands
    that only read). Raises Failure saying why it cannot."""
    _check_path(path, create and not read_only)
    try:
        try:
            return strata.DB(path, create_if_missing=create and not read_only,
                             read_only=read_only), read_only
        except strata.LockError:
            if not shared or read_only:
                raise
            return strata.DB(path, read_only=True), True
    except (strata.Error, OSError, ValueError) as e:
        raise Failure("cannot open %s: %s" % (path, e)) from None


def open_common(common, create=False, shared=False):
    """open_db of the -e/DBPATH database, read-only with -r. Returns the DB."""
    return open_db(common.dbpath, create=create and not common.read_only,
                   read_only=common.read_only, shared=shared)[0]


def open_subdb(db, name, create=False):
    """The sub-database `name` of db (None for the main database, also for None and
    ":main:"), created when create is set. Raises Failure for a missing one."""
    if is_main(name):
        return None
    try:
        return db.open_db(name, create=create)
    except strata.NotFoundError:
        raise Failure("no sub-database '%s' ('strata stat' lists them)" % name) from None
    except (strata.Error, ValueError, TypeError) as e:
        raise Failure("cannot open sub-database '%s': %s" % (name, e)) from None


def subdb_exists(db, name):
    """Whether sub-database `name` exists (the main database always does)."""
    if is_main(name):
        return True
    try:
        db.open_db(name, create=False)
        return True
    except (strata.Error, ValueError, TypeError):
        return False


def db_error(what, e):
    """A Failure for an engine error: "what: message"."""
    return Failure("%s: %s" % (what, e))


def remove_tree(path):
    """Removes a directory tree this command created (a half-written destination)."""
    import shutil
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        try:
            os.unlink(path)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------

class Output:
    """Where a command writes: standard output (path None or "-") or a file it creates
    or truncates. write() takes bytes; a write error (a full disk, a closed pipe) stops
    the writing, sets failed, and is reported by finish()."""

    def __init__(self, ctx, path=None):
        self.ctx = ctx
        self.failed = None
        if path is None or path == "-":
            self.f = ctx.stdout
            self.name = "standard output"
            self.own = False
        else:
            try:
                self.f = open(path, "wb", buffering=1 << 16)
            except OSError as e:
                raise Failure("%s: cannot create: %s" % (path, os_error(e))) from None
            self.name = path
            self.own = True

    def write(self, data):
        """Writes data unless an earlier write failed. Returns False once one has."""
        if self.failed is None:
            try:
                self.f.write(data)
            except OSError as e:
                self.failed = e
        return self.failed is None

    def flush(self):
        if self.failed is None:
            try:
                self.f.flush()
            except OSError as e:
                self.failed = e
        return self.failed is None

    def finish(self):
        """Flushes (and closes a file it opened); raises Failure after a write error."""
        self.flush()
        if self.own:
            try:
                self.f.close()
            except OSError as e:
                self.failed = self.failed or e
        if self.failed is not None:
            raise Failure("%s: write error: %s" % (self.name, os_error(self.failed)))

    def abandon(self):
        """Closes a file it opened, ignoring errors (the command failed anyway)."""
        if self.own:
            try:
                self.f.close()
            except OSError:
                pass
