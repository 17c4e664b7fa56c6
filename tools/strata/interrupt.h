/*
 * interrupt.h - Ctrl-C (SIGINT), SIGTERM and SIGHUP for long strata
 * commands.
 *
 * A command that writes something calls cli_interrupt_install() before it
 * starts. The first signal only sets a flag, which the command's loop
 * checks between records (or batches): it then stops, leaves the source
 * untouched, removes a destination it created (or names it as incomplete),
 * prints "interrupted" and exits with status 130 (128 + SIGINT, as the
 * shell reports a command killed by Ctrl-C). Write batches are atomic, so
 * a stop never leaves half of one applied. A second signal terminates the
 * process at once with the default action.
 *
 * System calls are restarted after the handler (SA_RESTART), so a signal
 * never turns into a spurious I/O error inside the engine.
 */
#ifndef STRATA_TOOLS_INTERRUPT_H
#define STRATA_TOOLS_INTERRUPT_H

enum { CLI_INTERRUPTED = 130 };

/* Installs the handlers for SIGINT, SIGTERM and SIGHUP. Idempotent. */
void cli_interrupt_install(void);

/* The number of the first signal received since install, or 0. */
int cli_interrupted(void);

#endif /* STRATA_TOOLS_INTERRUPT_H */
