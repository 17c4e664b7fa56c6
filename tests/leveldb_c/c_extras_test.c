/*
 * c_extras_test.c - behaviour of Strata's leveldb/c.h beyond what LevelDB
 * defines, so it is built against libstrata-leveldb only (c_test.c holds
 * the checks both libraries must pass):
 *   - NULL arguments LevelDB would crash on are reported or ignored;
 *   - leveldb_options_set_compression accepts 2 (zstd) and refuses
 *     unknown values at open;
 *   - NULL cache, comparator and env setters mean the defaults;
 *   - a filter's key_may_match result is a boolean (any non-zero is yes).
 *
 * Prints "N passed, M failed"; exits non-zero on any failure.
 */
#include <leveldb/c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Checks for an error beginning with prefix, then frees it. */
static void check_error_at(char **err, const char *prefix, int line) {
  char what[512];
  snprintf(what, sizeof what, "expected an error starting \"%s\", got \"%s\"", prefix,
           *err ? *err : "(none)");
  check_at(*err && strncmp(*err, prefix, strlen(prefix)) == 0, what, line);
  leveldb_free(*err);
  *err = NULL;
}

#define CHECK_ERROR(err, prefix) check_error_at(&(err), (prefix), __LINE__)

static void check_no_error_at(char **err, int line) {
  char what[512];
  snprintf(what, sizeof what, "unexpected error: %s", *err ? *err : "");
  check_at(*err == NULL, what, line);
  leveldb_free(*err);
  *err = NULL;
}

#define CHECK_NO_ERROR(err) check_no_error_at(&(err), __LINE__)

static char *db_path(const char *dir, const char *what) {
  size_t n = strlen(dir) + strlen(what) + 64;
  char *p = malloc(n);
  snprintf(p, n, "%s/c_extras-%d-%s", dir, (int)getpid(), what);
  return p;
}

/* A filter whose every answer is 2: "maybe" in LevelDB's uint8_t sense. */
static char *two_create(void *state, const char *const *keys, const size_t *lens, int n,
                        size_t *len) {
  (void)state;
  (void)keys;
  (void)lens;
  (void)n;
  *len = 1;
  return strdup("x");
}

static uint8_t two_match(void *state, const char *key, size_t klen, const char *f, size_t flen) {
  (void)state;
  (void)key;
  (void)klen;
  (void)f;
  (void)flen;
  return 2;
}

static const char *two_name(void *state) {
  (void)state;
  return "c_extras.two";
}

static void test_null_arguments(const char *dir) {
  char *err = NULL;
  leveldb_options_t *options = leveldb_options_create();

  CHECK(leveldb_open(options, NULL, &err) == NULL);
  CHECK_ERROR(err, "Invalid argument: ");
  CHECK(leveldb_open(options, NULL, NULL) == NULL); /* nowhere to report: still no crash */

  /* NULL options are the defaults: no create_if_missing. */
  char *missing = db_path(dir, "missing");
  CHECK(leveldb_open(NULL, missing, &err) == NULL);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_destroy_db(NULL, missing, &err);
  CHECK_NO_ERROR(err);
  leveldb_destroy_db(NULL, NULL, &err);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_repair_db(NULL, NULL, &err);
  CHECK(err != NULL);
  leveldb_free(err);
  err = NULL;
  free(missing);

  /* A NULL database handle is misuse, reported as a bad argument. */
  size_t len = 7;
  CHECK(leveldb_get(NULL, NULL, "k", 1, &len, &err) == NULL && len == 0);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_put(NULL, NULL, "k", 1, "v", 1, &err);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_delete(NULL, NULL, "k", 1, &err);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_write(NULL, NULL, NULL, &err);
  CHECK_ERROR(err, "Invalid argument: ");
  CHECK(leveldb_property_value(NULL, "leveldb.stats") == NULL);
  CHECK(leveldb_create_snapshot(NULL) == NULL);
  uint64_t size = 5;
  const char *k = "a";
  size_t klen = 1;
  leveldb_approximate_sizes(NULL, 1, &k, &klen, &k, &klen, &size);
  CHECK(size == 0);
  leveldb_compact_range(NULL, NULL, 0, NULL, 0);

  /* An iterator that could not be made reports why. */
  leveldb_iterator_t *it = leveldb_create_iterator(NULL, NULL);
  CHECK(it != NULL);
  leveldb_iter_seek_to_first(it);
  CHECK(!leveldb_iter_valid(it));
  CHECK(leveldb_iter_key(it, &len) == NULL && len == 0);
  CHECK(leveldb_iter_value(it, &len) == NULL && len == 0);
  leveldb_iter_next(it);
  leveldb_iter_get_error(it, &err);
  CHECK_ERROR(err, "Invalid argument: ");
  leveldb_iter_destroy(it);

  /* Callbacks that are missing make creation fail instead of a later crash. */
  CHECK(leveldb_comparator_create(NULL, NULL, NULL, two_name) == NULL);
  CHECK(leveldb_filterpolicy_create(NULL, NULL, two_create, NULL, two_name) == NULL);

  /* Destroy functions ignore NULL. */
  leveldb_close(NULL);
  leveldb_iter_destroy(NULL);
  leveldb_writebatch_destroy(NULL);
  leveldb_options_destroy(NULL);
  leveldb_readoptions_destroy(NULL);
  leveldb_writeoptions_destroy(NULL);
  leveldb_comparator_destroy(NULL);
  leveldb_filterpolicy_destroy(NULL);
  leveldb_cache_destroy(NULL);
  leveldb_env_destroy(NULL);
  leveldb_release_snapshot(NULL, NULL);
  leveldb_free(NULL);
  leveldb_options_destroy(options);
}

static void test_compression_and_defaults(const char *dir) {
  char *err = NULL;
  char *name = db_path(dir, "zstd");
  leveldb_options_t *options = leveldb_options_create();
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_options_set_create_if_missing(options, 1);
  leveldb_options_set_cache(options, NULL);
  leveldb_options_set_comparator(options, NULL);
  leveldb_options_set_env(options, NULL);

  leveldb_options_set_compression(options, 7);
  CHECK(leveldb_open(options, name, &err) == NULL);
  CHECK_ERROR(err, "Invalid argument: ");

  leveldb_options_set_compression(options, 2);
  leveldb_filterpolicy_t *two =
      leveldb_filterpolicy_create(NULL, NULL, two_create, two_match, two_name);
  leveldb_options_set_filter_policy(options, two);
  leveldb_destroy_db(options, name, &err);
  CHECK_NO_ERROR(err);
  leveldb_t *db = leveldb_open(options, name, &err);
  CHECK_NO_ERROR(err);
  if (db) {
    char value[100];
    memset(value, 'z', sizeof value);
    for (int i = 0; i < 1000; i++) {
      char key[16];
      snprintf(key, sizeof key, "key%04d", i);
      leveldb_put(db, wo, key, strlen(key), value, sizeof value, &err);
      CHECK_NO_ERROR(err);
    }
    leveldb_compact_range(db, NULL, 0, NULL, 0);
    size_t len = 0;
    char *v = leveldb_get(db, ro, "key0500", 7, &len, &err);
    CHECK_NO_ERROR(err);
    CHECK(v && len == sizeof value && memcmp(v, value, len) == 0);
    leveldb_free(v);
    leveldb_close(db);
  }
  leveldb_destroy_db(options, name, &err);
  CHECK_NO_ERROR(err);
  leveldb_filterpolicy_destroy(two);
  leveldb_options_destroy(options);
  leveldb_readoptions_destroy(ro);
  leveldb_writeoptions_destroy(wo);
  free(name);
}

int main(void) {
  char *dir = leveldb_env_get_test_directory(NULL); /* NULL env: the default */
  CHECK(dir != NULL);
  if (dir) {
    test_null_arguments(dir);
    test_compression_and_defaults(dir);
  }
  leveldb_free(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
