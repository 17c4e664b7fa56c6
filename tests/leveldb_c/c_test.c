/*
 * c_test.c - exercises every function of <leveldb/c.h> and checks the
 * results.
 *
 * Written only against LevelDB 1.23's C API, so the same source is built
 * twice -- once with Strata's leveldb/c.h and libstrata-leveldb, once with
 * Debian's LevelDB -- and both builds must pass the same checks. It checks
 * only behaviour both implementations share: e.g. error messages by their
 * "<Kind>: " prefix, properties by their shape, not their exact text.
 *
 * Databases live in leveldb_env_get_test_directory() under names carrying
 * the process id, so the two builds can run at the same time.
 *
 * Prints a line per failed check and a closing "N passed, M failed"; exits
 * non-zero if any check failed.
 */
#include <leveldb/c.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Check helpers                                                            */
/* ------------------------------------------------------------------------ */

static int passed, failed;

static void check_at(int ok, const char *what, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAILED line %d: %s\n", line, what);
  }
}

#define CHECK(cond) check_at((cond) != 0, #cond, __LINE__)

/* Checks that no error was reported; reports and clears one if it was, so
 * the next check starts clean. */
static void check_no_error_at(char **err, int line) {
  if (*err) {
    char what[512];
    snprintf(what, sizeof what, "unexpected error: %s", *err);
    check_at(0, what, line);
    leveldb_free(*err);
    *err = NULL;
  } else {
    check_at(1, "", line);
  }
}

#define CHECK_NO_ERROR(err) check_no_error_at(&(err), __LINE__)

/* Checks that an error beginning with prefix was reported, then frees it. */
static void check_error_at(char **err, const char *prefix, int line) {
  char what[512];
  if (!*err) {
    snprintf(what, sizeof what, "expected an error starting \"%s\", got none", prefix);
    check_at(0, what, line);
    return;
  }
  snprintf(what, sizeof what, "expected an error starting \"%s\", got \"%s\"", prefix, *err);
  check_at(strncmp(*err, prefix, strlen(prefix)) == 0, what, line);
  leveldb_free(*err);
  *err = NULL;
}

#define CHECK_ERROR(err, prefix) check_error_at(&(err), (prefix), __LINE__)

/* Checks that key reads as expected (NULL: absent) without error. */
static void check_get_at(leveldb_t *db, const leveldb_readoptions_t *ro, const char *key,
                         const char *expected, int line) {
  char *err = NULL;
  size_t len = 12345;
  char *val = leveldb_get(db, ro, key, strlen(key), &len, &err);
  char what[512];
  if (err) {
    snprintf(what, sizeof what, "get(%s): error %s", key, err);
    check_at(0, what, line);
    leveldb_free(err);
  } else if (!expected) {
    snprintf(what, sizeof what, "get(%s): expected absent, got \"%.*s\"", key, val ? (int)len : 0,
             val ? val : "");
    check_at(val == NULL && len == 0, what, line);
  } else {
    snprintf(what, sizeof what, "get(%s): expected \"%s\", got \"%.*s\"", key, expected,
             val ? (int)len : 6, val ? val : "(null)");
    check_at(val && len == strlen(expected) && memcmp(val, expected, len) == 0, what, line);
  }
  leveldb_free(val);
}

#define CHECK_GET(db, ro, key, expected) check_get_at((db), (ro), (key), (expected), __LINE__)

/* Checks that the iterator is valid at key -> val. */
static void check_iter_at(const leveldb_iterator_t *it, const char *key, const char *val,
                          int line) {
  char what[512];
  if (!leveldb_iter_valid(it)) {
    snprintf(what, sizeof what, "iterator not valid, expected %s", key);
    check_at(0, what, line);
    return;
  }
  size_t klen, vlen;
  const char *k = leveldb_iter_key(it, &klen);
  const char *v = leveldb_iter_value(it, &vlen);
  snprintf(what, sizeof what, "iterator at \"%.*s\" -> \"%.*s\", expected \"%s\" -> \"%s\"",
           (int)klen, k, (int)vlen, v, key, val);
  check_at(klen == strlen(key) && memcmp(k, key, klen) == 0 && vlen == strlen(val) &&
               memcmp(v, val, vlen) == 0,
           what, line);
}

#define CHECK_ITER(it, key, val) check_iter_at((it), (key), (val), __LINE__)

/* True if s is a non-empty string of decimal digits. */
static int is_number(const char *s) {
  if (!s || !*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

static void put(leveldb_t *db, const leveldb_writeoptions_t *wo, const char *k, const char *v) {
  char *err = NULL;
  leveldb_put(db, wo, k, strlen(k), v, strlen(v), &err);
  CHECK_NO_ERROR(err);
}

/* malloc'd "<base><suffix>". */
static char *path_join(const char *base, const char *suffix) {
  size_t n = strlen(base) + strlen(suffix) + 1;
  char *p = malloc(n);
  snprintf(p, n, "%s%s", base, suffix);
  return p;
}

/* ------------------------------------------------------------------------ */
/* Callbacks: write batch walker, comparator, filter policy                 */
/* ------------------------------------------------------------------------ */

/* Records the operations leveldb_writebatch_iterate reports as text. */
typedef struct walk_log {
  char text[256];
} walk_log;

static void walk_put(void *state, const char *k, size_t klen, const char *v, size_t vlen) {
  walk_log *w = state;
  size_t used = strlen(w->text);
  snprintf(w->text + used, sizeof w->text - used, "put(%.*s,%.*s)", (int)klen, k, (int)vlen, v);
}

static void walk_delete(void *state, const char *k, size_t klen) {
  walk_log *w = state;
  size_t used = strlen(w->text);
  snprintf(w->text + used, sizeof w->text - used, "del(%.*s)", (int)klen, k);
}

static int comparator_destroyed;

static void reverse_destroy(void *state) {
  (void)state;
  comparator_destroyed++;
}

/* Reverse bytewise order. */
static int reverse_compare(void *state, const char *a, size_t alen, const char *b, size_t blen) {
  (void)state;
  size_t n = alen < blen ? alen : blen;
  int r = memcmp(a, b, n);
  if (r == 0) r = alen < blen ? -1 : alen > blen ? 1 : 0;
  return -r;
}

static const char *reverse_name(void *state) {
  (void)state;
  return "c_test.reverse";
}

static const char *other_name(void *state) {
  (void)state;
  return "c_test.other";
}

/* The custom filter: every filter is the 4 bytes "fake", and the answer to
 * "may this key match?" is whatever filter_answer says, so a "no" proves the
 * filter is consulted. */
static int filter_answer = 1;
static int filter_created, filter_matched, filter_destroyed, filter_bad_keys;

static void filter_destroy(void *state) {
  (void)state;
  filter_destroyed++;
}

static char *filter_create(void *state, const char *const *keys, const size_t *key_lens, int n,
                           size_t *filter_len) {
  (void)state;
  (void)keys;
  filter_created++;
  /* The database below holds only the user keys "foo" and "bar": anything
   * else (e.g. an internal key with its 8-byte tag) is a bug. */
  for (int i = 0; i < n; i++)
    if (key_lens[i] != 3) filter_bad_keys++;
  char *f = malloc(4);
  memcpy(f, "fake", 4);
  *filter_len = 4;
  return f;
}

static uint8_t filter_may_match(void *state, const char *key, size_t len, const char *filter,
                                size_t filter_len) {
  (void)state;
  (void)key;
  (void)len;
  filter_matched++;
  if (filter_len != 4 || memcmp(filter, "fake", 4) != 0) filter_bad_keys++;
  return (uint8_t)filter_answer;
}

static const char *filter_name(void *state) {
  (void)state;
  return "c_test.filter";
}

/* ------------------------------------------------------------------------ */
/* Phases                                                                   */
/* ------------------------------------------------------------------------ */

static void test_versions(void) {
  CHECK(leveldb_major_version() == 1);
  CHECK(leveldb_minor_version() == 23);
}

/* leveldb_env_get_test_directory: $TEST_TMPDIR if set and not empty, else
 * /tmp/leveldbtest-<euid>; the directory exists afterwards. dir is what the
 * call returned with the environment the test was started with. */
static void test_env_directory(leveldb_env_t *env, const char *dir) {
  CHECK(dir != NULL);
  if (!dir) return;
  const char *tmp = getenv("TEST_TMPDIR");
  char fallback[64];
  snprintf(fallback, sizeof fallback, "/tmp/leveldbtest-%d", (int)geteuid());
  CHECK(strcmp(dir, tmp && *tmp ? tmp : fallback) == 0);
  struct stat st;
  CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

  char *saved = tmp ? strdup(tmp) : NULL;
  /* Empty counts as unset. */
  setenv("TEST_TMPDIR", "", 1);
  char *got = leveldb_env_get_test_directory(env);
  CHECK(got && strcmp(got, fallback) == 0);
  CHECK(stat(fallback, &st) == 0 && S_ISDIR(st.st_mode));
  leveldb_free(got);

  /* Pointing elsewhere: that directory is used, and made. */
  char pid[32];
  snprintf(pid, sizeof pid, "/c_test-tmpdir-%d", (int)getpid());
  char *unique = path_join(dir, pid);
  setenv("TEST_TMPDIR", unique, 1);
  got = leveldb_env_get_test_directory(env);
  CHECK(got && strcmp(got, unique) == 0);
  CHECK(stat(unique, &st) == 0 && S_ISDIR(st.st_mode));
  rmdir(unique);
  leveldb_free(got);

  if (saved)
    setenv("TEST_TMPDIR", saved, 1);
  else
    unsetenv("TEST_TMPDIR");
  free(saved);
  free(unique);
}

/* Open/close, the error convention, put/get/delete. */
static void test_basics(leveldb_options_t *options, const char *dbname, leveldb_readoptions_t *ro,
                        leveldb_writeoptions_t *wo) {
  char *err = NULL;

  /* Missing database without create_if_missing. */
  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  leveldb_options_set_create_if_missing(options, 0);
  leveldb_t *db = leveldb_open(options, dbname, &err);
  CHECK(db == NULL);
  CHECK_ERROR(err, "Invalid argument: ");

  leveldb_options_set_create_if_missing(options, 1);
  db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  CHECK(db != NULL);
  if (!db) return;

  /* A second handle on an open database: the lock is held. */
  leveldb_t *second = leveldb_open(options, dbname, &err);
  CHECK(second == NULL);
  CHECK_ERROR(err, "IO error: ");

  /* The errptr convention: a failure replaces an earlier message (the old
   * one is freed -- the sanitizer build would see a leak otherwise), and a
   * success leaves the pointer alone. */
  second = leveldb_open(options, dbname, &err);
  CHECK(err != NULL);
  second = leveldb_open(options, dbname, &err);
  CHECK(second == NULL);
  char *kept = err;
  leveldb_put(db, wo, "k", 1, "v", 1, &err);
  CHECK(err == kept);
  CHECK_ERROR(err, "IO error: ");

  CHECK_GET(db, ro, "foo", NULL);
  put(db, wo, "foo", "hello");
  CHECK_GET(db, ro, "foo", "hello");
  put(db, wo, "foo", "world");
  CHECK_GET(db, ro, "foo", "world");

  /* An empty value is present: non-NULL, length 0. */
  put(db, wo, "empty", "");
  size_t len = 99;
  char *val = leveldb_get(db, ro, "empty", 5, &len, &err);
  CHECK_NO_ERROR(err);
  CHECK(val != NULL && len == 0);
  leveldb_free(val);

  /* Keys and values are bytes, not C strings. */
  leveldb_put(db, wo, "b\0in", 4, "v\0al", 4, &err);
  CHECK_NO_ERROR(err);
  val = leveldb_get(db, ro, "b\0in", 4, &len, &err);
  CHECK_NO_ERROR(err);
  CHECK(val && len == 4 && memcmp(val, "v\0al", 4) == 0);
  leveldb_free(val);
  CHECK_GET(db, ro, "b", NULL);

  leveldb_delete(db, wo, "foo", 3, &err);
  CHECK_NO_ERROR(err);
  CHECK_GET(db, ro, "foo", NULL);
  leveldb_delete(db, wo, "never-there", 11, &err); /* not an error */
  CHECK_NO_ERROR(err);

  /* Synchronous writes. */
  leveldb_writeoptions_t *sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(sync, 1);
  put(db, sync, "synced", "yes");
  leveldb_writeoptions_destroy(sync);

  /* Closing and reopening keeps everything (the log is replayed). */
  leveldb_close(db);
  db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  if (!db) return;
  CHECK_GET(db, ro, "synced", "yes");
  CHECK_GET(db, ro, "empty", "");
  CHECK_GET(db, ro, "foo", NULL);
  leveldb_close(db);

  /* error_if_exists on an existing database. */
  leveldb_options_set_error_if_exists(options, 1);
  db = leveldb_open(options, dbname, &err);
  CHECK(db == NULL);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_options_set_error_if_exists(options, 0);
}

static void test_batches(leveldb_t *db, leveldb_readoptions_t *ro, leveldb_writeoptions_t *wo) {
  char *err = NULL;
  put(db, wo, "bar", "old");

  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  CHECK(wb != NULL);
  leveldb_writebatch_put(wb, "foo", 3, "a", 1);
  leveldb_writebatch_clear(wb);
  walk_log w = {""};
  leveldb_writebatch_iterate(wb, &w, walk_put, walk_delete);
  CHECK(strcmp(w.text, "") == 0);

  leveldb_writebatch_put(wb, "bar", 3, "b", 1);
  leveldb_writebatch_put(wb, "box", 3, "c", 1);
  leveldb_writebatch_delete(wb, "bar", 3);
  leveldb_write(db, wo, wb, &err);
  CHECK_NO_ERROR(err);
  CHECK_GET(db, ro, "bar", NULL);
  CHECK_GET(db, ro, "box", "c");
  leveldb_writebatch_iterate(wb, &w, walk_put, walk_delete);
  CHECK(strcmp(w.text, "put(bar,b)put(box,c)del(bar)") == 0);

  /* Appending queues the source's operations after the destination's. */
  leveldb_writebatch_t *src = leveldb_writebatch_create();
  leveldb_writebatch_put(src, "apple", 5, "red", 3);
  leveldb_writebatch_delete(src, "box", 3);
  leveldb_writebatch_clear(wb);
  leveldb_writebatch_put(wb, "pear", 4, "green", 5);
  leveldb_writebatch_append(wb, src);
  w.text[0] = '\0';
  leveldb_writebatch_iterate(wb, &w, walk_put, walk_delete);
  CHECK(strcmp(w.text, "put(pear,green)put(apple,red)del(box)") == 0);
  w.text[0] = '\0';
  leveldb_writebatch_iterate(src, &w, walk_put, walk_delete); /* source unchanged */
  CHECK(strcmp(w.text, "put(apple,red)del(box)") == 0);
  leveldb_write(db, wo, wb, &err);
  CHECK_NO_ERROR(err);
  CHECK_GET(db, ro, "pear", "green");
  CHECK_GET(db, ro, "apple", "red");
  CHECK_GET(db, ro, "box", NULL);

  leveldb_writebatch_destroy(src);
  leveldb_writebatch_destroy(wb);
}

/* Forward, backward and seeks over keys a..e. */
static void test_iterators(leveldb_t *db, leveldb_readoptions_t *ro, leveldb_writeoptions_t *wo) {
  static const char *const keys[] = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 5; i++)
    put(db, wo, keys[i], keys[i]);

  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  CHECK(it != NULL);
  CHECK(!leveldb_iter_valid(it));
  leveldb_iter_seek_to_first(it);
  /* Strictly increasing bytewise order (keys may hold NUL bytes). */
  int n = 0, ordered = 1;
  char prev[64];
  size_t prev_len = 0;
  for (; leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t klen;
    const char *k = leveldb_iter_key(it, &klen);
    if (klen > sizeof prev) klen = sizeof prev;
    size_t common = klen < prev_len ? klen : prev_len;
    int r = memcmp(prev, k, common);
    if (n > 0 && (r > 0 || (r == 0 && prev_len >= klen))) ordered = 0;
    memcpy(prev, k, klen);
    prev_len = klen;
    n++;
  }
  CHECK(ordered);
  CHECK(n >= 5);

  leveldb_iter_seek_to_first(it);
  CHECK_ITER(it, "a", "a");
  leveldb_iter_next(it);
  CHECK_ITER(it, "apple", "red");
  leveldb_iter_prev(it);
  CHECK_ITER(it, "a", "a");
  leveldb_iter_prev(it);
  CHECK(!leveldb_iter_valid(it));

  leveldb_iter_seek_to_last(it);
  CHECK_ITER(it, "synced", "yes");
  leveldb_iter_next(it);
  CHECK(!leveldb_iter_valid(it));

  leveldb_iter_seek(it, "cc", 2); /* first key >= "cc" */
  CHECK_ITER(it, "d", "d");
  leveldb_iter_prev(it);
  CHECK_ITER(it, "c", "c");
  leveldb_iter_seek(it, "e", 1);
  CHECK_ITER(it, "e", "e");
  leveldb_iter_seek(it, "zzz", 3);
  CHECK(!leveldb_iter_valid(it));

  char *err = NULL;
  leveldb_iter_get_error(it, &err);
  CHECK_NO_ERROR(err);
  leveldb_iter_destroy(it);
}

static void test_snapshots(leveldb_t *db, leveldb_readoptions_t *ro, leveldb_writeoptions_t *wo) {
  put(db, wo, "snap", "before");
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(db);
  CHECK(snap != NULL);
  put(db, wo, "snap", "after");
  put(db, wo, "snap-new", "x");
  char *err = NULL;
  leveldb_delete(db, wo, "a", 1, &err);
  CHECK_NO_ERROR(err);

  leveldb_readoptions_set_snapshot(ro, snap);
  CHECK_GET(db, ro, "snap", "before");
  CHECK_GET(db, ro, "snap-new", NULL);
  CHECK_GET(db, ro, "a", "a");
  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  leveldb_iter_seek(it, "snap", 4);
  CHECK_ITER(it, "snap", "before");
  leveldb_iter_next(it);
  CHECK_ITER(it, "synced", "yes");
  leveldb_iter_destroy(it);

  leveldb_readoptions_set_snapshot(ro, NULL);
  CHECK_GET(db, ro, "snap", "after");
  CHECK_GET(db, ro, "snap-new", "x");
  CHECK_GET(db, ro, "a", NULL);
  leveldb_release_snapshot(db, snap);
}

static void test_read_options(leveldb_t *db) {
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(ro, 1);
  leveldb_readoptions_set_fill_cache(ro, 0);
  CHECK_GET(db, ro, "snap", "after");
  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  leveldb_iter_seek_to_first(it);
  CHECK(leveldb_iter_valid(it));
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
}

/* Checks that property name has a decimal number as value. */
static void check_number_property(leveldb_t *db, const char *name, int line) {
  char *v = leveldb_property_value(db, name);
  char what[256];
  snprintf(what, sizeof what, "property %s = \"%s\" is a number", name, v ? v : "(null)");
  check_at(is_number(v), what, line);
  leveldb_free(v);
}

/* Writes 20000 keys, compacts, and checks properties and approximate
 * sizes on the result. */
static void test_sizes_and_properties(leveldb_t *db, leveldb_readoptions_t *ro,
                                      leveldb_writeoptions_t *wo) {
  char *err = NULL;
  for (int i = 0; i < 20000; i++) {
    char k[32], v[32];
    snprintf(k, sizeof k, "k%020d", i);
    snprintf(v, sizeof v, "v%020d", i);
    leveldb_put(db, wo, k, strlen(k), v, strlen(v), &err);
    CHECK_NO_ERROR(err);
  }
  check_number_property(db, "leveldb.num-files-at-level0", __LINE__);
  check_number_property(db, "leveldb.approximate-memory-usage", __LINE__);

  leveldb_compact_range(db, NULL, 0, NULL, 0); /* everything */
  char *v = leveldb_property_value(db, "leveldb.num-files-at-level0");
  CHECK(v && strcmp(v, "0") == 0); /* a full compaction empties level 0 */
  leveldb_free(v);

  v = leveldb_property_value(db, "leveldb.stats");
  CHECK(v != NULL && strlen(v) > 0);
  leveldb_free(v);
  v = leveldb_property_value(db, "leveldb.sstables");
  CHECK(v != NULL);
  leveldb_free(v);
  CHECK(leveldb_property_value(db, "leveldb.no-such-property") == NULL);
  CHECK(leveldb_property_value(db, "nosuch") == NULL);

  const char *start[3] = {"a", "k00000000000000010000", "z1"};
  size_t start_len[3] = {1, 21, 2};
  const char *limit[3] = {"k00000000000000010000", "z", "z2"};
  size_t limit_len[3] = {21, 1, 2};
  uint64_t sizes[3] = {0, 0, 99};
  leveldb_approximate_sizes(db, 3, start, start_len, limit, limit_len, sizes);
  CHECK(sizes[0] > 0);
  CHECK(sizes[1] > 0);
  CHECK(sizes[2] == 0); /* nothing lies past the last key */
  /* 20000 entries of 42 bytes are at least a few KiB even compressed, and
   * far less than 10 MiB. */
  CHECK(sizes[0] + sizes[1] > 4096 && sizes[0] + sizes[1] < (10u << 20));

  /* A bounded compaction leaves the data readable. */
  leveldb_compact_range(db, "k00000000000000000100", 21, "k00000000000000000200", 21);
  leveldb_compact_range(db, NULL, 0, "k00000000000000000050", 21);
  leveldb_compact_range(db, "k00000000000000019000", 21, NULL, 0);
  CHECK_GET(db, ro, "k00000000000000000150", "v00000000000000000150");
  CHECK_GET(db, ro, "k00000000000000019999", "v00000000000000019999");
  CHECK_GET(db, ro, "snap", "after");
}

/* A database ordered by a custom (reverse) comparator, and the name check
 * at open. */
static void test_comparator(const char *dbname, leveldb_cache_t *cache, leveldb_env_t *env) {
  char *err = NULL;
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_comparator_t *rev =
      leveldb_comparator_create(NULL, reverse_destroy, reverse_compare, reverse_name);
  leveldb_comparator_t *other =
      leveldb_comparator_create(NULL, reverse_destroy, reverse_compare, other_name);
  CHECK(rev != NULL && other != NULL);

  leveldb_options_t *options = leveldb_options_create();
  leveldb_options_set_create_if_missing(options, 1);
  leveldb_options_set_comparator(options, rev);
  leveldb_options_set_cache(options, cache);
  leveldb_options_set_env(options, env);
  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  leveldb_t *db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  if (!db) return;
  put(db, wo, "a", "1");
  put(db, wo, "b", "2");
  put(db, wo, "c", "3");
  /* Enough keys for tables to be written and compacted in this order. */
  for (int i = 0; i < 2000; i++) {
    char k[32];
    snprintf(k, sizeof k, "m%05d", i);
    put(db, wo, k, "x");
  }
  leveldb_compact_range(db, NULL, 0, NULL, 0);

  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  leveldb_iter_seek_to_first(it);
  CHECK_ITER(it, "m01999", "x");
  leveldb_iter_seek_to_last(it);
  CHECK_ITER(it, "a", "1");
  leveldb_iter_prev(it);
  CHECK_ITER(it, "b", "2");
  leveldb_iter_seek(it, "b", 1);
  CHECK_ITER(it, "b", "2");
  leveldb_iter_next(it);
  CHECK_ITER(it, "a", "1");
  leveldb_iter_seek(it, "bb", 2); /* in reverse order "b" follows "bb" */
  CHECK_ITER(it, "b", "2");
  leveldb_iter_destroy(it);
  CHECK_GET(db, ro, "m01000", "x");
  CHECK_GET(db, ro, "c", "3");
  leveldb_close(db);

  /* The comparator name is recorded: other names are refused, the
   * default bytewise comparator's too (options without a comparator). */
  leveldb_options_t *plain = leveldb_options_create();
  leveldb_options_set_env(plain, env);
  db = leveldb_open(plain, dbname, &err);
  CHECK(db == NULL);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_options_destroy(plain);
  leveldb_options_set_comparator(options, other);
  db = leveldb_open(options, dbname, &err);
  CHECK(db == NULL);
  CHECK_ERROR(err, "Invalid argument: ");

  leveldb_options_set_comparator(options, rev);
  db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  CHECK_GET(db, ro, "b", "2");
  leveldb_close(db);

  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  leveldb_options_destroy(options);
  comparator_destroyed = 0;
  leveldb_comparator_destroy(rev);
  leveldb_comparator_destroy(other);
  CHECK(comparator_destroyed == 2);
  leveldb_readoptions_destroy(ro);
  leveldb_writeoptions_destroy(wo);
}

/* A custom filter policy (proved to be consulted), then LevelDB's bloom
 * filter, then the same tables read with no or another policy. */
static void test_filters(const char *dbname, leveldb_env_t *env) {
  char *err = NULL;
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_options_t *options = leveldb_options_create();
  leveldb_options_set_create_if_missing(options, 1);
  leveldb_options_set_env(options, env);

  leveldb_filterpolicy_t *custom = leveldb_filterpolicy_create(NULL, filter_destroy, filter_create,
                                                               filter_may_match, filter_name);
  CHECK(custom != NULL);
  leveldb_options_set_filter_policy(options, custom);
  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  leveldb_t *db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  if (!db) return;
  put(db, wo, "foo", "foovalue");
  put(db, wo, "bar", "barvalue");
  leveldb_compact_range(db, NULL, 0, NULL, 0); /* into a table with a filter */
  CHECK(filter_created > 0);
  CHECK(filter_bad_keys == 0);

  filter_answer = 1;
  CHECK_GET(db, ro, "foo", "foovalue");
  CHECK_GET(db, ro, "bar", "barvalue");
  CHECK(filter_matched > 0);
  filter_answer = 0; /* "certainly absent": the reads must believe it */
  CHECK_GET(db, ro, "foo", NULL);
  CHECK_GET(db, ro, "bar", NULL);
  filter_answer = 1;
  CHECK_GET(db, ro, "foo", "foovalue");
  CHECK(filter_bad_keys == 0);
  leveldb_close(db);

  /* The filter blocks carry the policy's name; without that policy they
   * are ignored and reads stay correct. */
  leveldb_options_set_filter_policy(options, NULL);
  db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  filter_answer = 0;
  CHECK_GET(db, ro, "foo", "foovalue");
  filter_answer = 1;
  leveldb_close(db);
  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);

  filter_destroyed = 0;
  leveldb_filterpolicy_destroy(custom);
  CHECK(filter_destroyed == 1);

  /* Bloom filter: every present key found, absent ones not. */
  leveldb_filterpolicy_t *bloom = leveldb_filterpolicy_create_bloom(10);
  CHECK(bloom != NULL);
  leveldb_options_set_filter_policy(options, bloom);
  db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  if (!db) return;
  for (int i = 0; i < 1000; i += 2) {
    char k[16];
    snprintf(k, sizeof k, "key%06d", i);
    put(db, wo, k, k);
  }
  leveldb_compact_range(db, NULL, 0, NULL, 0);
  int wrong = 0;
  for (int i = 0; i < 1000; i++) {
    char k[16];
    snprintf(k, sizeof k, "key%06d", i);
    size_t len;
    char *v = leveldb_get(db, ro, k, strlen(k), &len, &err);
    CHECK_NO_ERROR(err);
    if (i % 2 == 0 ? !v || len != strlen(k) || memcmp(v, k, len) != 0 : v != NULL) wrong++;
    leveldb_free(v);
  }
  CHECK(wrong == 0);
  leveldb_close(db);

  /* Bloom-filtered tables read without a policy. */
  leveldb_options_set_filter_policy(options, NULL);
  db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  CHECK_GET(db, ro, "key000500", "key000500");
  CHECK_GET(db, ro, "key000501", NULL);
  leveldb_close(db);

  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  leveldb_filterpolicy_destroy(bloom);
  leveldb_options_destroy(options);
  leveldb_readoptions_destroy(ro);
  leveldb_writeoptions_destroy(wo);
}

/* Every remaining option setter, with both compression settings. */
static void test_option_setters(const char *dbname, leveldb_env_t *env) {
  char *err = NULL;
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  static const int compressions[] = {leveldb_no_compression, leveldb_snappy_compression};
  for (int c = 0; c < 2; c++) {
    leveldb_options_t *options = leveldb_options_create();
    leveldb_options_set_create_if_missing(options, 1);
    leveldb_options_set_error_if_exists(options, 1);
    leveldb_options_set_paranoid_checks(options, 1);
    leveldb_options_set_env(options, env);
    leveldb_options_set_info_log(options, NULL);
    leveldb_options_set_write_buffer_size(options, 100000);
    leveldb_options_set_max_open_files(options, 100);
    leveldb_options_set_block_size(options, 1024);
    leveldb_options_set_block_restart_interval(options, 8);
    leveldb_options_set_max_file_size(options, 1 << 20);
    leveldb_options_set_compression(options, compressions[c]);
    /* (NULL is not passed to the cache, comparator or env setters:
     * LevelDB's dereference their argument.) */
    leveldb_options_set_filter_policy(options, NULL);

    leveldb_destroy_db(options, dbname, &err);
    CHECK_NO_ERROR(err);
    leveldb_t *db = leveldb_open(options, dbname, &err);
    CHECK_NO_ERROR(err);
    if (!db) continue;
    /* Enough data to fill several write buffers, so tables are written
     * with these settings. */
    char value[200];
    memset(value, 'x', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int i = 0; i < 3000; i++) {
      char k[16];
      snprintf(k, sizeof k, "opt%05d", i);
      put(db, wo, k, value);
    }
    leveldb_compact_range(db, NULL, 0, NULL, 0);
    leveldb_close(db);

    leveldb_options_set_error_if_exists(options, 0);
    db = leveldb_open(options, dbname, &err);
    CHECK_NO_ERROR(err);
    if (db) {
      CHECK_GET(db, ro, "opt02999", value);
      CHECK_GET(db, ro, "opt03000", NULL);
      leveldb_close(db);
    }
    leveldb_destroy_db(options, dbname, &err);
    CHECK_NO_ERROR(err);
    leveldb_options_destroy(options);
  }
  leveldb_readoptions_destroy(ro);
  leveldb_writeoptions_destroy(wo);
}

/* Repair keeps a healthy database's data; destroy removes it. */
static void test_repair_and_destroy(leveldb_options_t *options, const char *dbname,
                                    leveldb_readoptions_t *ro) {
  char *err = NULL;
  leveldb_repair_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  leveldb_options_set_create_if_missing(options, 0);
  leveldb_t *db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  if (!db) return;
  CHECK_GET(db, ro, "snap", "after");
  CHECK_GET(db, ro, "k00000000000000012345", "v00000000000000012345");
  CHECK_GET(db, ro, "pear", "green");
  CHECK_GET(db, ro, "box", NULL);

  /* Destroying an open database fails on its lock. */
  leveldb_destroy_db(options, dbname, &err);
  CHECK_ERROR(err, "IO error: ");
  leveldb_close(db);

  leveldb_destroy_db(options, dbname, &err);
  CHECK_NO_ERROR(err);
  db = leveldb_open(options, dbname, &err);
  CHECK(db == NULL);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_destroy_db(options, dbname, &err); /* already gone: not an error */
  CHECK_NO_ERROR(err);
  /* Repair may have moved files it did not need to <db>/lost/, which
   * destroy leaves alone (LevelDB's does): clean up by hand. */
  char *lost = path_join(dbname, "/lost");
  DIR *d = opendir(lost);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char *sub = path_join(lost, "/");
      char *file = path_join(sub, e->d_name);
      unlink(file);
      free(file);
      free(sub);
    }
    closedir(d);
  }
  rmdir(lost);
  rmdir(dbname);
  free(lost);
}

int main(void) {
  test_versions();

  leveldb_env_t *env = leveldb_create_default_env();
  CHECK(env != NULL);
  char *dir = leveldb_env_get_test_directory(env);
  test_env_directory(env, dir);
  if (!dir) {
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
  char suffix[64];
  snprintf(suffix, sizeof suffix, "/c_test-%d", (int)getpid());
  char *dbname = path_join(dir, suffix);
  char *cmpname = path_join(dbname, "-comparator");
  char *filtername = path_join(dbname, "-filter");
  char *optname = path_join(dbname, "-options");

  leveldb_cache_t *cache = leveldb_cache_create_lru(100000);
  CHECK(cache != NULL);
  leveldb_options_t *options = leveldb_options_create();
  CHECK(options != NULL);
  leveldb_options_set_cache(options, cache);
  leveldb_options_set_env(options, env);
  leveldb_options_set_info_log(options, NULL);
  leveldb_options_set_write_buffer_size(options, 100000);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  CHECK(ro != NULL && wo != NULL);

  test_basics(options, dbname, ro, wo);

  char *err = NULL;
  leveldb_options_set_create_if_missing(options, 1);
  leveldb_t *db = leveldb_open(options, dbname, &err);
  CHECK_NO_ERROR(err);
  if (db) {
    test_batches(db, ro, wo);
    test_iterators(db, ro, wo);
    test_snapshots(db, ro, wo);
    test_read_options(db);
    test_sizes_and_properties(db, ro, wo);
    leveldb_close(db);
    test_repair_and_destroy(options, dbname, ro);
  }

  test_comparator(cmpname, cache, env);
  test_filters(filtername, env);
  test_option_setters(optname, env);

  leveldb_readoptions_destroy(ro);
  leveldb_writeoptions_destroy(wo);
  leveldb_options_destroy(options);
  leveldb_cache_destroy(cache);
  leveldb_env_destroy(env);
  free(dbname);
  free(cmpname);
  free(filtername);
  free(optname);
  leveldb_free(dir);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
