/*
 * readonly_procs_test.c - one writer process, several read-only reader
 * processes on the same database at once.
 *
 * The writer is a separate program: `TOOL churn DB SEED N PROFILE`, with
 * TOOL strata_tool (Strata writes) or ldb_tool (Debian's LevelDB 1.23
 * writes); it applies the churn stream (churn_stream.h): puts, deletes and
 * batches of self-describing values, range compactions and close+reopen
 * cycles, with small write buffers so logs roll and tables are flushed,
 * compacted and deleted all the time. The readers are this program run
 * again (--reader), each opening the database read-only while the writer
 * runs and, until the parent says stop, catching up and reading:
 *   - every value read is one the stream wrote to that key (its bytes,
 *     checksum, and the op its version names; churn_check);
 *   - the versions a reader sees for a key never go back (each state a
 *     reader installs is newer than the one before);
 *   - full scans are in key order and hold only such values;
 *   - a snapshot scanned again after more catch-ups shows what it showed,
 *     and an iterator read partly, across catch-ups, ends up showing what
 *     the snapshot taken with it shows.
 * Once the writer has exited, each reader makes a last catch-up and must
 * hold exactly the stream's final state (churn_final), as must a handle
 * opened afresh.
 *
 * Usage: readonly_procs_test [--seed S] [--ops N] [--readers R] TOOL [PROFILE]
 *        (internal) readonly_procs_test --reader DB SEED N STOPFILE INDEX
 * Seed from --seed, else STRATA_SEED, else random (printed first). Failures
 * name the seed and the reader, keep the scratch directory, and exit 1.
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "churn_stream.h"
#include "strata.h"
#include "suite_util.h"

/* ------------------------------------------------------------------------ */
/* Reader process                                                           */
/* ------------------------------------------------------------------------ */

typedef struct reader {
  uint64_t seed, nops;
  const char *db, *stop;
  int idx;
  strata_db *ro;
  uint64_t seen[CHURN_KEYS]; /* newest version + 1 seen of each key */
  unsigned char *scratch;
  su_rng rng;
  long catchups, gets, found, scans, views, iters;
} reader;

static void rfail(reader *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "readonly_procs_test: reader %d: FAIL (seed %llu): ", r->idx,
          (unsigned long long)r->seed);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  last Strata message: %s\n", strata_errmsg());
  exit(1);
}

static void rcheck(reader *r, int rc, const char *what) {
  if (rc) rfail(r, "%s: %d (%s)", what, rc, strata_strerror(rc));
}

/* The key index of a churn key, or fails. */
static uint32_t key_index(reader *r, const char *k, size_t kl) {
  char buf[16];
  unsigned idx;
  if (kl < 6 || kl > 15) rfail(r, "a key that is no churn key (%zu bytes)", kl);
  memcpy(buf, k, kl);
  buf[kl] = '\0';
  if (sscanf(buf, "churn%5u", &idx) != 1 || idx >= CHURN_KEYS)
    rfail(r, "key %s: not a churn key", buf);
  return idx;
}

/* Checks a value read for key k; with monotone, that it is not older than
 * what this reader saw before. */
static uint64_t check_value(reader *r, uint32_t k, const void *v, size_t vl, int monotone) {
  uint64_t ver = 0;
  const char *bad = churn_check(r->seed, k, v, vl, &ver, r->scratch);
  if (bad) rfail(r, "key %u: %s (%zu bytes)", k, bad, vl);
  if (monotone) {
    if (ver + 1 < r->seen[k])
      rfail(r, "key %u went back from version %llu to %llu", k,
            (unsigned long long)(r->seen[k] - 1), (unsigned long long)ver);
    r->seen[k] = ver + 1;
  }
  return ver;
}

static void do_gets(reader *r) {
  strata_buf b = STRATA_BUF_INIT;
  for (int i = 0; i < 40; i++) {
    uint32_t k = (uint32_t)su_rng_below(&r->rng, CHURN_KEYS);
    char key[16];
    size_t kl = churn_key(k, key);
    int rc = strata_get(r->ro, NULL, key, kl, &b);
    r->gets++;
    if (rc == STRATA_ENOTFOUND) continue;
    rcheck(r, rc, "get");
    check_value(r, k, b.data, b.size, 1);
    r->found++;
  }
  strata_buf_free(&b);
}

/* Where a scan has got to: a digest of the entries so far, their count,
 * and the last key index (-1 before the first). */
typedef struct scan_state {
  uint64_t h;
  size_t n;
  long prev;
} scan_state;

static const scan_state SCAN_START = {1, 0, -1};

/* Reads up to max entries (-1: to the end) from where it is: keys
 * ascending, values valid. */
static void scan_on(reader *r, strata_iter *it, int monotone, long max, scan_state *s) {
  for (; max != 0 && strata_iter_valid(it); strata_iter_next(it), max--) {
    size_t kl, vl;
    const char *k = strata_iter_key(it, &kl), *v = strata_iter_value(it, &vl);
    uint32_t idx = key_index(r, k, kl);
    if ((long)idx <= s->prev) rfail(r, "scan: key %u after key %ld", idx, s->prev);
    s->prev = idx;
    uint64_t ver = check_value(r, idx, v, vl, monotone);
    s->h = su_mix64(s->h ^ su_mix64(((uint64_t)idx << 40) ^ ver));
    s->n++;
  }
  rcheck(r, strata_iter_status(it), "scan");
}

static scan_state scan_db(reader *r, const strata_snapshot *snap, int monotone) {
  strata_read_options o;
  strata_read_options_init(&o);
  o.snapshot = snap;
  strata_iter *it = NULL;
  rcheck(r, strata_iter_create(r->ro, &o, &it), "iterator");
  scan_state s = SCAN_START;
  strata_iter_seek_to_first(it);
  scan_on(r, it, monotone, -1, &s);
  strata_iter_destroy(it);
  return s;
}

static void catch_up(reader *r) {
  rcheck(r, strata_catch_up(r->ro), "catch-up");
  r->catchups++;
}

/* An iterator read a third of the way, then more catch-ups, then to the
 * end: it shows the state it was made in, as the snapshot taken with it. */
static void iter_across(reader *r) {
  const strata_snapshot *snap = strata_snapshot_get(r->ro);
  if (!snap) rfail(r, "snapshot");
  strata_iter *it = NULL;
  rcheck(r, strata_iter_create(r->ro, NULL, &it), "iterator");
  scan_state s = SCAN_START;
  strata_iter_seek_to_first(it);
  scan_on(r, it, 0, CHURN_KEYS / 6, &s);
  catch_up(r);
  catch_up(r);
  scan_on(r, it, 0, -1, &s);
  scan_state ref = scan_db(r, snap, 0);
  if (s.h != ref.h || s.n != ref.n)
    rfail(r,
          "an iterator read across catch-ups shows %zu entries, the snapshot taken with it "
          "%zu (or other ones)",
          s.n, ref.n);
  strata_iter_destroy(it);
  strata_snapshot_release(r->ro, snap);
  r->iters++;
}

static int reader_main(int argc, char **argv) {
  if (argc != 7) return 2;
  static reader rr;
  reader *r = &rr;
  r->db = argv[2];
  r->seed = strtoull(argv[3], NULL, 0);
  r->nops = strtoull(argv[4], NULL, 0);
  r->stop = argv[5];
  r->idx = atoi(argv[6]);
  r->scratch = malloc(CHURN_VALUE_MAX);
  su_rng_seed(&r->rng, su_derive(r->seed, 1000 + (uint64_t)r->idx));
  strata_options o;
  strata_options_init(&o);
  o.read_only = 1;
  if (r->idx % 2) o.paranoid_checks = 1;
  rcheck(r, strata_open(r->db, &o, &r->ro), "read-only open");

  const strata_snapshot *view = NULL;
  scan_state view_scan = SCAN_START;
  int view_age = 0;
  for (long round = 0; access(r->stop, F_OK) != 0; round++) {
    catch_up(r);
    do_gets(r);
    if (round % 4 == 0) {
      scan_db(r, NULL, 1);
      r->scans++;
    }
    if (!view && round % 5 == 1) {
      view = strata_snapshot_get(r->ro);
      if (!view) rfail(r, "snapshot");
      view_scan = scan_db(r, view, 0);
      view_age = 0;
    } else if (view && ++view_age == 4) {
      scan_state now = scan_db(r, view, 0);
      if (now.h != view_scan.h || now.n != view_scan.n)
        rfail(r, "a snapshot showed %zu entries, now %zu (or other ones)", view_scan.n, now.n);
      strata_snapshot_release(r->ro, view);
      view = NULL;
      r->views++;
    }
    if (round % 7 == 3) iter_across(r);
    /* A pause of 0-2 ms: catch-ups land at varied points of the writer's
     * work, and three busy readers do not starve it of CPU. */
    usleep((useconds_t)su_rng_below(&r->rng, 2000));
  }
  if (view) strata_snapshot_release(r->ro, view);

  /* The writer is done: one more catch-up reaches its final state. */
  catch_up(r);
  uint64_t *state = calloc(CHURN_KEYS, sizeof *state);
  churn_final(r->seed, r->nops, state);
  for (int pass = 0; pass < 2; pass++) {
    strata_iter *it = NULL;
    rcheck(r, strata_iter_create(r->ro, NULL, &it), "iterator");
    strata_iter_seek_to_first(it);
    for (uint32_t k = 0; k < CHURN_KEYS; k++) {
      if (!state[k]) continue;
      char key[16];
      size_t kl = churn_key(k, key), gkl, gvl;
      if (!strata_iter_valid(it)) rfail(r, "final state (pass %d): ends before key %u", pass, k);
      const char *gk = strata_iter_key(it, &gkl), *gv = strata_iter_value(it, &gvl);
      if (gkl != kl || memcmp(gk, key, kl))
        rfail(r, "final state (pass %d): key %u missing, or another key before it", pass, k);
      uint64_t ver = check_value(r, k, gv, gvl, 0);
      if (ver + 1 != state[k])
        rfail(r, "final state (pass %d): key %u at version %llu, expected %llu", pass, k,
              (unsigned long long)ver, (unsigned long long)(state[k] - 1));
      strata_iter_next(it);
    }
    if (strata_iter_valid(it)) rfail(r, "final state (pass %d): keys after the last", pass);
    rcheck(r, strata_iter_status(it), "final scan");
    strata_iter_destroy(it);
    /* Pass 1: a handle opened now reads the same. */
    strata_close(r->ro);
    r->ro = NULL;
    if (pass == 0) rcheck(r, strata_open(r->db, &o, &r->ro), "read-only reopen");
  }
  printf("readonly_procs_test: reader %d: %ld catch-ups, %ld gets (%ld found), %ld scans, %ld "
         "snapshots and %ld iterators kept across catch-ups; final state matches\n",
         r->idx, r->catchups, r->gets, r->found, r->scans, r->views, r->iters);
  free(state);
  free(r->scratch);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Parent                                                                   */
/* ------------------------------------------------------------------------ */

static pid_t spawn(char *const argv[]) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(2);
  }
  if (pid == 0) {
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

static int exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--reader") == 0) return reader_main(argc, argv);
  const char *seed_arg = NULL, *tool = NULL, *profile = "small";
  uint64_t nops = su_scale_is_asan() ? 4000 : 20000;
  int nreaders = 3;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed_arg = argv[++i];
    else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
      nops = strtoull(argv[++i], NULL, 0);
    else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
      nreaders = atoi(argv[++i]);
    else if (!tool)
      tool = argv[i];
    else
      profile = argv[i];
  }
  if (getenv("RO_PROCS_OPS")) nops = strtoull(getenv("RO_PROCS_OPS"), NULL, 0);
  if (!tool || nreaders < 1 || nreaders > 16) {
    fprintf(stderr, "usage: readonly_procs_test [--seed S] [--ops N] [--readers R] TOOL "
                    "[PROFILE]\n");
    return 2;
  }
  uint64_t seed = su_pick_seed(seed_arg);
  char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) {
    perror("readlink /proc/self/exe");
    return 2;
  }
  self[sl] = '\0';
  char *dir = su_make_temp_dir("strata-roprocs");
  char db[4200], stop[4200], seeds[32], ops[32];
  snprintf(db, sizeof db, "%s/db", dir);
  snprintf(stop, sizeof stop, "%s/stop", dir);
  snprintf(seeds, sizeof seeds, "%llu", (unsigned long long)seed);
  snprintf(ops, sizeof ops, "%llu", (unsigned long long)nops);
  printf("readonly_procs_test: seed %s, %s ops, %d readers, writer %s (%s profile), dir %s\n"
         "  reproduce: readonly_procs_test --seed %s --ops %s --readers %d %s %s\n",
         seeds, ops, nreaders, tool, profile, dir, seeds, ops, nreaders, tool, profile);
  double t0 = su_now();

  char *wargv[] = {(char *)tool, "churn", db, seeds, ops, (char *)profile, NULL};
  pid_t writer = spawn(wargv);
  /* Readers start once the database exists (CURRENT is there). */
  char current[4300];
  snprintf(current, sizeof current, "%s/CURRENT", db);
  int status = 0, writer_done = 0;
  while (access(current, F_OK) != 0) {
    if (waitpid(writer, &status, WNOHANG) == writer) {
      writer_done = 1;
      break;
    }
    if (su_now() - t0 > 60) {
      fprintf(stderr, "readonly_procs_test: FAIL: no CURRENT after 60 s\n");
      kill(writer, SIGKILL);
      return 1;
    }
    usleep(1000);
  }
  if (writer_done && !exited_ok(status)) {
    fprintf(stderr,
            "readonly_procs_test: FAIL (seed %s): the writer failed before creating the "
            "database (status %d)\n",
            seeds, status);
    return 1;
  }
  pid_t readers[16];
  for (int i = 0; i < nreaders; i++) {
    char idx[16];
    snprintf(idx, sizeof idx, "%d", i);
    char *rargv[] = {self, "--reader", db, seeds, ops, stop, idx, NULL};
    readers[i] = spawn(rargv);
  }
  if (!writer_done) waitpid(writer, &status, 0);
  double writer_time = su_now() - t0;
  int failed = 0;
  if (!exited_ok(status)) {
    fprintf(stderr, "readonly_procs_test: FAIL (seed %s): the writer exited with status %d\n",
            seeds, status);
    failed = 1;
  }
  if (su_write_file(stop, "", 0) != 0) {
    perror("stop file");
    failed = 1;
  }
  for (int i = 0; i < nreaders; i++) {
    int st = 0;
    waitpid(readers[i], &st, 0);
    if (!exited_ok(st)) {
      fprintf(stderr, "readonly_procs_test: FAIL (seed %s): reader %d exited with status %d\n",
              seeds, i, st);
      failed = 1;
    }
  }
  if (failed) {
    fprintf(stderr, "readonly_procs_test: database kept in %s\n", db);
    return 1;
  }
  printf("readonly_procs_test: passed in %.1f s (writer %.1f s)\n", su_now() - t0, writer_time);
  su_remove_tree(dir);
  free(dir);
  return 0;
}
