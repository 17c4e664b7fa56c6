/*
 * progress.c - the progress line of long strata commands (see progress.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct ticker {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
} ticker;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt_bytes(char *out, size_t n, double v) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (v >= 1024 && u < 5)
    v /= 1024, u++;
  snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void fmt_count(char *out, size_t n, cli_unit unit, double v) {
  if (unit == CLI_UNIT_BYTES)
    fmt_bytes(out, n, v);
  else
    snprintf(out, n, "%.0f", v);
}

static void fmt_duration(char *out, size_t n, double secs) {
  if (secs < 0) secs = 0;
  unsigned long s = (unsigned long)(secs + 0.5);
  snprintf(out, n, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

static void draw(cli_progress *p, double t) {
  char line[256], a[32], b[32], r[32], eta[32], el[32];
  double elapsed = t - p->start;
  size_t len = 0;
  fmt_duration(el, sizeof el, elapsed);
  if (p->ticker && p->done == 0) {
    len = (size_t)snprintf(line, sizeof line, "%s: running  [%s]", p->verb, el);
  } else {
    fmt_count(a, sizeof a, p->unit, (double)p->done);
    len = (size_t)snprintf(line, sizeof line, "%s: %s", p->verb, a);
    if (p->total) {
      fmt_count(b, sizeof b, p->unit, (double)p->total);
      double pct = 100.0 * (double)p->done / (double)p->total;
      if (pct > 100) pct = 100;
      len += (size_t)snprintf(line + len, sizeof line - len, " of %s (%.0f%%)", b, pct);
    }
    if (p->extra_name) {
      len += (size_t)snprintf(line + len, sizeof line - len, ", %llu %s",
                              (unsigned long long)p->extra, p->extra_name);
    }
    if (elapsed > 0.05) {
      double rate = (double)p->done / elapsed;
      fmt_count(r, sizeof r, p->unit, rate);
      len += (size_t)snprintf(line + len, sizeof line - len, "  %s%s/s", r,
                              p->unit == CLI_UNIT_BYTES ? "" : " records");
      if (p->total && rate > 0 && p->done < p->total) {
        fmt_duration(eta, sizeof eta, (double)(p->total - p->done) / rate);
        len += (size_t)snprintf(line + len, sizeof line - len, "  ETA %s", eta);
      }
    }
    if (len < sizeof line) snprintf(line + len, sizeof line - len, "  [%s]", el);
  }
  /* One write per redraw so the line never shows half drawn. */
  fprintf(stderr, "\r%s\033[K", line);
  fflush(stderr);
  p->drawn = 1;
  p->last_draw = t;
}

void cli_progress_begin(cli_progress *p, int mode, const char *verb, cli_unit unit,
                        uint64_t total) {
  memset(p, 0, sizeof *p);
  p->on = mode == CLI_PROGRESS_ON || (mode == CLI_PROGRESS_AUTO && isatty(STDERR_FILENO));
  p->verb = verb;
  p->unit = unit;
  p->total = total;
  p->start = p->last_draw = now();
}

void cli_progress_set(cli_progress *p, uint64_t done, uint64_t extra) {
  p->done = done;
  p->extra = extra;
  if (!p->on || (++p->calls & 255) != 0) return;
  double t = now();
  if (t - p->last_draw >= 0.1) draw(p, t);
}

int cli_progress_due(cli_progress *p) { return p->on && (++p->calls & 255) == 0; }

void cli_progress_update(cli_progress *p, uint64_t done, uint64_t extra) {
  p->done = done;
  p->extra = extra;
  if (!p->on) return;
  double t = now();
  if (t - p->last_draw >= 0.1) draw(p, t);
}

void cli_progress_clear(cli_progress *p) {
  if (!p->on || !p->drawn) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  p->drawn = 0;
}

static void *tick_main(void *arg) {
  cli_progress *p = arg;
  ticker *tk = p->ticker;
  pthread_mutex_lock(&tk->mu);
  while (!tk->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&tk->cv, &tk->mu, &ts);
    if (!tk->stop) draw(p, now());
  }
  pthread_mutex_unlock(&tk->mu);
  return NULL;
}

void cli_progress_tick_start(cli_progress *p) {
  if (!p->on || p->ticker) return;
  ticker *tk = calloc(1, sizeof *tk);
  if (!tk) return; /* no line is better than no command */
  pthread_mutex_init(&tk->mu, NULL);
  pthread_cond_init(&tk->cv, NULL);
  p->ticker = tk;
  draw(p, now());
  if (pthread_create(&tk->thread, NULL, tick_main, p) != 0) {
    pthread_mutex_destroy(&tk->mu);
    pthread_cond_destroy(&tk->cv);
    free(tk);
    p->ticker = NULL;
  }
}

void cli_progress_end(cli_progress *p) {
  if (p->ticker) {
    ticker *tk = p->ticker;
    pthread_mutex_lock(&tk->mu);
    tk->stop = 1;
    pthread_cond_signal(&tk->cv);
    pthread_mutex_unlock(&tk->mu);
    pthread_join(tk->thread, NULL);
    pthread_mutex_destroy(&tk->mu);
    pthread_cond_destroy(&tk->cv);
    free(tk);
    /* The final line shows the elapsed time as "done". */
    p->ticker = NULL;
    if (p->on) {
      char el[32], line[128];
      fmt_duration(el, sizeof el, now() - p->start);
      snprintf(line, sizeof line, "%s: done  [%s]", p->verb, el);
      fprintf(stderr, "\r%s\033[K\n", line);
      fflush(stderr);
    }
    p->on = 0;
    return;
  }
  if (!p->on) return;
  draw(p, now());
  fputc('\n', stderr);
  fflush(stderr);
  p->on = 0;
  p->drawn = 0;
}
