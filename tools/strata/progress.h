/*
 * progress.h - the progress line of long strata commands, on standard error.
 *
 * Shown when standard error is a terminal (or when forced with --progress)
 * and never otherwise, so a command in a pipe or a cron job prints nothing
 * extra. One line, redrawn in place ('\r' plus the ANSI "erase to end of
 * line" sequence ESC [ K) at most 10 times a second:
 *
 *   <verb>: <done> [of <total>] [<pct>%] <rate>/s [ETA <h:mm:ss>] [<extra>]
 *
 * where done, total and rate are byte counts (KiB, MiB, ... with one
 * decimal) or record counts (plain integers), and ETA is given only when the
 * total is known. cli_progress_end() draws the final state once more and
 * ends the line with '\n'. The unit choice and the line are the tool's own
 * (no C library for this is packaged in Debian); `python -m strata` shows
 * the same quantities through tqdm.
 *
 * Not thread-safe: one thread updates a progress line, except that a
 * ticker (cli_progress_tick_start) redraws it from its own thread for
 * commands that spend their time inside one engine call; while the ticker
 * runs the owner must not update the line.
 */
#ifndef STRATA_TOOLS_PROGRESS_H
#define STRATA_TOOLS_PROGRESS_H

#include <stdint.h>

/* --quiet / (nothing) / --progress */
enum { CLI_PROGRESS_OFF = 0, CLI_PROGRESS_AUTO = 1, CLI_PROGRESS_ON = 2 };

typedef enum cli_unit { CLI_UNIT_BYTES, CLI_UNIT_RECORDS } cli_unit;

typedef struct cli_progress {
  int on;                 /* drawing at all */
  const char *verb;       /* "dump", "restore", ... (borrowed, static) */
  cli_unit unit;          /* what done and total count */
  uint64_t total;         /* 0: unknown */
  uint64_t done;          /* set by the caller through cli_progress_set */
  uint64_t extra;         /* a second count shown after the rate, e.g. records */
  const char *extra_name; /* "records", "bytes"... NULL: no extra count */
  double start;           /* monotonic seconds at begin */
  double last_draw;       /* monotonic seconds of the last draw */
  unsigned calls;         /* updates since the clock was last read */
  int drawn;              /* something is on the line (to erase at the end) */
  void *ticker;           /* internal: the ticker thread, if any */
} cli_progress;

/* Starts a progress line for `verb` counting in `unit`, with total 0 when
 * unknown. mode is CLI_PROGRESS_*; AUTO means "if stderr is a terminal". */
void cli_progress_begin(cli_progress *p, int mode, const char *verb, cli_unit unit, uint64_t total);

/* Records that `done` units are finished (and `extra` of the extra count)
 * and redraws if 100 ms passed. Cheap enough to call per record: the clock
 * is read once every 256 calls. */
void cli_progress_set(cli_progress *p, uint64_t done, uint64_t extra);

/* 1 once every 256 calls while the line is on: for callers whose `done`
 * costs something to compute (a file offset), before cli_progress_update. */
int cli_progress_due(cli_progress *p);

/* Records done/extra and redraws if 100 ms passed since the last draw. */
void cli_progress_update(cli_progress *p, uint64_t done, uint64_t extra);

/* Redraws the final state, ends the line, and stops a ticker. */
void cli_progress_end(cli_progress *p);

/* Erases the line, e.g. before printing an error message, so the message
 * starts at the left margin; the next update draws it again. */
void cli_progress_clear(cli_progress *p);

/* For a command that spends its time in one engine call without callbacks
 * (compact, check, repair, a checkpoint): redraws the line, showing the
 * time elapsed, every 200 ms from a thread of its own until
 * cli_progress_end. No-op when the line is off. */
void cli_progress_tick_start(cli_progress *p);

#endif /* STRATA_TOOLS_PROGRESS_H */
