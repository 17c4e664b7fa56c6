/*
 * cli_writer.c - a writer process for the strata tool's tests of copies
 * made while a database is in use (cli_test.sh, group hotcopy).
 *
 * usage: cli_writer DBPATH [N]
 *
 * Opens (creating) DBPATH, then writes keys "w00000000", "w00000001", ...
 * with value "value-<same number>", one strata_put each, and after each
 * put returns prints "acked <number>\n" on standard output (flushed), so
 * the test knows which writes were acknowledged before a copy began. Every
 * 100 writes it also writes the same key into sub-database "sub". After N
 * writes (default: never) it keeps the database open, and its LOCK held,
 * until SIGTERM; at SIGTERM it stops and closes the database. Exit status
 * 0, or 1 on an error (printed).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata.h"

static volatile sig_atomic_t stop;

static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cli_writer DBPATH [N]\n");
    return 2;
  }
  long long n = argc > 2 ? atoll(argv[2]) : -1;
  signal(SIGTERM, on_term);
  strata_options opt;
  strata_options_init(&opt);
  opt.create_if_missing = 1;
  opt.write_buffer_size = 64 * 1024; /* flushes and compactions while copying */
  strata_db *db;
  int rc = strata_open(argv[1], &opt, &db);
  strata_subdb *sub = NULL;
  if (rc == STRATA_OK) rc = strata_subdb_open(db, "sub", 1, &sub);
  if (rc != STRATA_OK) {
    fprintf(stderr, "cli_writer: open: %s\n", strata_errmsg());
    return 1;
  }
  char key[32], val[64];
  for (long long i = 0; !stop && (n < 0 || i < n); i++) {
    int kl = snprintf(key, sizeof key, "w%08lld", i);
    int vl = snprintf(val, sizeof val, "value-%08lld-%s", i, "padding-padding-padding");
    rc = strata_put(db, NULL, key, (size_t)kl, val, (size_t)vl);
    if (rc == STRATA_OK && i % 100 == 0)
      rc = strata_put_in(db, sub, NULL, key, (size_t)kl, val, (size_t)vl);
    if (rc != STRATA_OK) {
      fprintf(stderr, "cli_writer: put: %s\n", strata_errmsg());
      strata_close(db);
      return 1;
    }
    printf("acked %lld\n", i);
    fflush(stdout);
  }
  printf("holding\n");
  fflush(stdout);
  while (!stop)
    pause(); /* SIGTERM's handler ends the wait */
  strata_close(db);
  return 0;
}
