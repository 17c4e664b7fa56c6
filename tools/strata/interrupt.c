/*
 * interrupt.c - the stop flag of long strata commands (see interrupt.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t got_signal;
static int installed;

static void on_signal(int sig) {
  if (!got_signal) got_signal = sig;
  /* The next one of any of them ends the process at once. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
}

void cli_interrupt_install(void) {
  if (installed) return;
  installed = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction old;
    /* A signal ignored by the parent (nohup, a shell's background job)
     * stays ignored. */
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sigs[i], &sa, NULL);
  }
}

int cli_interrupted(void) { return got_signal; }
