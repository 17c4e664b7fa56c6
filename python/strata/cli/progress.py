"""Progress lines and Ctrl-C for the long commands of `python -m strata`.

Progress: the quantities of the C tool's line (tools/strata/progress.h: bytes or records
done, of a total when it is known, a second count such as records, the rate, the time
left) drawn by tqdm (Debian's python3-tqdm) on standard error, when it is a terminal or
with --progress, and never with -q or when stderr is no terminal: a command in a pipe or
a cron job prints nothing extra. Commands that spend their time in one engine call
(compact, check, repair, a checkpoint) show the time elapsed, redrawn by a thread of
their own while the call runs with the GIL released. Without tqdm installed there is no
line (and --progress says so once).

Signals: Signals() catches SIGINT, SIGTERM and SIGHUP while a command that writes
something runs. The first one only sets a flag, which the command checks between records
or batches; it then stops, leaves the source untouched, removes a destination it created
(or names it as incomplete) and exits with status 130. A second one ends the process at
once (the default action). A signal the parent ignores (nohup) stays ignored; system
calls are restarted after the handler, so a signal never becomes an I/O error inside the
engine.

Not thread-safe: one thread updates a progress line (the ticker's thread only redraws).
"""

import contextlib
import signal
import threading

from .common import PROGRESS_AUTO, PROGRESS_ON

BYTES, RECORDS = "bytes", "records"


def _tqdm():
    try:
        import tqdm
    except ImportError:
        return None
    # No monitor thread of tqdm's own: the commands update often enough.
    tqdm.tqdm.monitor_interval = 0
    return tqdm.tqdm


class Progress:
    """A progress line for `verb` ("dump", "restore" ...) counting unit (BYTES or
    RECORDS) of total (0: unknown), with an optional second count named extra_name.
    mode is -q/auto/--progress (common.PROGRESS_*). Cheap when off."""

    def __init__(self, ctx, mode, verb, unit, total=0, extra_name=None):
        self.ctx = ctx
        self.verb = verb
        self.unit = unit
        self.total = total
        self.extra_name = extra_name
        self.done = 0
        self.extra = 0
        self.bar = None
        self._calls = 0
        self._ticker = None
        self._stop = None
        on = mode == PROGRESS_ON
        if mode == PROGRESS_AUTO:
            try:
                on = ctx.stderr.isatty()
            except (AttributeError, ValueError, OSError):
                on = False
        if not on:
            return
        bar = _tqdm()
        if bar is None:
            if mode == PROGRESS_ON:
                ctx.err("no progress line: the tqdm package is not installed "
                        "(Debian: python3-tqdm)")
            return
        kwargs = dict(desc=verb, total=total or None, file=ctx.stderr, mininterval=0.1,
                      leave=True, dynamic_ncols=True, delay=0)
        if unit == BYTES:
            kwargs.update(unit="B", unit_scale=True, unit_divisor=1024)
        else:
            kwargs.update(unit=" records")
        self.bar = bar(**kwargs)

    @property
    def on(self):
        return self.bar is not None

    def add_total(self, n):
        """Raises the total by n (an input's size, once it is opened)."""
        self.total += n
        if self.bar is not None:
            self.bar.total = self.total or None
            self.bar.refresh()

    def _draw(self):
        bar = self.bar
        if self.extra_name:
            bar.set_postfix_str("%d %s" % (self.extra, self.extra_name), refresh=False)
        bar.update(self.done - bar.n)

    def set(self, done, extra=0):
        """Records that `done` units are finished (and `extra` of the second count); a
        redraw every 256 calls at most, so it may be called per record."""
        self.done = done
        self.extra = extra
        if self.bar is not None:
            self._calls += 1
            if self._calls & 255 == 0:
                self._draw()

    def update(self, done, extra=0):
        """As set(), redrawing now (tqdm still draws at most 10 times a second)."""
        self.done = done
        self.extra = extra
        if self.bar is not None:
            self._draw()

    def clear(self):
        """Erases the line, before an error message; the next update draws it again."""
        if self.bar is not None:
            self.bar.clear()

    def tick(self):
        """For a command that spends its time in one engine call without callbacks: the
        line shows the time elapsed, redrawn every 200 ms from a thread until end()."""
        if self.bar is None or self._ticker is not None:
            return
        self.bar.bar_format = "{desc}: running  [{elapsed}]"
        self.bar.refresh()
        self._stop = threading.Event()

        def run(bar=self.bar, stop=self._stop):
            while not stop.wait(0.2):
                bar.refresh()

        self._ticker = threading.Thread(target=run, name="strata-progress", daemon=True)
        self._ticker.start()

    def end(self):
        """Draws the final state, ends the line and stops a ticker. Idempotent."""
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
            self.bar.bar_format = "{desc}: done  [{elapsed}]"
        elif self.bar is not None:
            self._draw()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Signals:
    """A context manager: while it is active, the first SIGINT, SIGTERM or SIGHUP sets
    `received` (the signal's number) and puts the default actions back, so a second one
    ends the process. Installs nothing outside the main thread (signals go there). The
    handlers in place before are restored at exit."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.received = 0
        self.active = False
        self._old = {}

    def _on_signal(self, signum, frame):
        if not self.received:
            self.received = signum
        for sig in self._old:
            signal.signal(sig, signal.SIG_DFL)

    def __enter__(self):
        self.active = True
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.SIGNALS:
            old = signal.getsignal(sig)
            if old == signal.SIG_IGN:
                continue
            self._old[sig] = old
            signal.signal(sig, self._on_signal)
            signal.siginterrupt(sig, False)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old = {}
        self.active = False
        return False


@contextlib.contextmanager
def watching(ctx):
    """Signals() for the command of ctx (a common.Context), as ctx.signals: a command
    that is already watching (copy's tar stream around its checkpoint) keeps its watch,
    so a signal is seen by every level. ctx.signals stays set afterwards, so what was
    received can still be asked."""
    if ctx.signals is not None and ctx.signals.active:
        yield ctx.signals
        return
    with Signals() as signals:
        ctx.signals = signals
        yield signals
