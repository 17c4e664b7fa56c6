/*
 * gen_seeds.c - writes the fuzzers' seed corpora: real files made by
 * Strata (logs, tables, MANIFESTs, write batches) in the input layout of
 * each fuzzer (fuzz_util.h: a mode byte first for the file fuzzers).
 *
 * Usage: fuzz_gen_seeds DIR   (writes DIR/log, DIR/table, DIR/manifest,
 * DIR/batch; the directories must exist). The committed corpora in
 * fuzz/corpus were made with `fuzz_gen_seeds fuzz/corpus`; run it again
 * after a format change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/write_batch.h"
#include "strata.h"

static const char *outdir;
static int written;

static void save(const char *kind, const char *name, int mode, const char *data, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s", outdir, kind, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(1);
  }
  if (mode >= 0) fputc(mode, f);
  if (n && fwrite(data, 1, n, f) != n) {
    perror(path);
    exit(1);
  }
  fclose(f);
  written++;
}

static char *slurp(strata_env *env, const char *path, size_t *n) {
  strata_seqfile *f;
  *n = 0;
  char *buf = NULL;
  if (env->new_seqfile(env, path, &f)) return NULL;
  char scratch[8192];
  strata_slice got;
  while (f->read(f, sizeof scratch, scratch, &got) == 0 && got.size) {
    buf = realloc(buf, *n + got.size);
    memcpy(buf + *n, got.data, got.size);
    *n += got.size;
  }
  f->close(f);
  return buf;
}

typedef struct shape {
  const char *name;
  int compression, filter, block_size, values, big;
} shape;

static void no_log(void *s, const char *l) {
  (void)s;
  (void)l;
}

/* Saves the tables (and with what "all", the MANIFEST) of /db in env. */
static void save_files(strata_env *env, const shape *sh, const char *what) {
  char **names;
  size_t n;
  if (env->children(env, "/db", &names, &n)) return;
  for (size_t i = 0; i < n; i++) {
    char path[64], name[96];
    snprintf(path, sizeof path, "/db/%s", names[i]);
    size_t len;
    char *d = slurp(env, path, &len);
    if (strstr(names[i], ".ldb")) {
      snprintf(name, sizeof name, "%s-%s", sh->name, names[i]);
      save("table", name, sh->filter ? 4 : 0, d, len);
      snprintf(name, sizeof name, "%s-%s-fixcrc", sh->name, names[i]);
      save("table", name, sh->filter ? 5 : 1, d, len);
    } else if (strstr(names[i], "MANIFEST-") && strcmp(what, "all") == 0) {
      snprintf(name, sizeof name, "%s", sh->name);
      save("manifest", name, 0, d, len);
      snprintf(name, sizeof name, "%s-fixcrc", sh->name);
      save("manifest", name, 1, d, len);
    }
    free(d);
    free(names[i]);
  }
  free(names);
}

/* Builds a database of one shape in memory and saves its files. */
static void from_db(const shape *sh) {
  strata_env *env = strata_env_memory();
  strata_logger *quiet;
  strata_filter_policy *bloom = NULL;
  strata_logger_create(NULL, no_log, NULL, &quiet);
  if (sh->filter) strata_filter_policy_create_bloom(10, &bloom);
  strata_options o;
  strata_options_init(&o);
  o.env = env;
  o.create_if_missing = 1;
  o.info_log = quiet;
  o.compression = sh->compression;
  o.filter_policy = bloom;
  o.block_size = (size_t)sh->block_size;
  strata_db *db;
  if (strata_open("/db", &o, &db)) {
    fprintf(stderr, "open: %s\n", strata_errmsg());
    exit(1);
  }
  char k[32], v[70000];
  for (int i = 0; i < sh->values; i++) {
    snprintf(k, sizeof k, "key%04d", i * 7 % sh->values);
    size_t vl = (size_t)(i % 3 == 0 ? 0 : 5 + i % 40);
    if (sh->big && i == sh->values / 2 + 1) vl = 40000; /* a record over two log blocks */
    memset(v, 'a' + i % 26, vl);
    strata_put(db, NULL, k, strlen(k), v, vl);
    if (i % 5 == 0) strata_delete(db, NULL, k, strlen(k));
  }
  /* The log as it stands: its records are the puts above. */
  char **names;
  size_t n;
  env->children(env, "/db", &names, &n);
  for (size_t i = 0; i < n; i++) {
    if (strstr(names[i], ".log")) {
      char path[64], name[96];
      snprintf(path, sizeof path, "/db/%s", names[i]);
      size_t len;
      char *d = slurp(env, path, &len);
      snprintf(name, sizeof name, "%s", sh->name);
      if (len) save("log", name, 0, d, len);
      snprintf(name, sizeof name, "%s-fixcrc", sh->name);
      if (len) save("log", name, 1, d, len);
      free(d);
    }
    free(names[i]);
  }
  free(names);
  strata_compact_range(db, NULL, 0, NULL, 0);
  save_files(env, sh, "tables");
  strata_batch *b;
  strata_batch_create(&b);
  strata_batch_put(b, "key0001", 7, "after", 5);
  strata_batch_delete(b, "key0002", 7);
  strata_write(db, NULL, b);
  strata_batch_destroy(b);
  strata_compact_range(db, "key0000", 7, "key0003", 7);
  strata_close(db);
  save_files(env, sh, "all");
  strata_env_memory_destroy(env);
  strata_filter_policy_destroy(bloom);
  strata_logger_destroy(quiet);
}

static void batch_seed(const char *name, void (*fill)(strata_batch *b), uint64_t seq) {
  strata_batch *b;
  strata_batch_create(&b);
  fill(b);
  st_batch_set_sequence(b, seq);
  st_slice c = st_batch_contents(b);
  save("batch", name, -1, c.data, c.size);
  strata_batch_destroy(b);
}

static void fill_empty(strata_batch *b) { (void)b; }
static void fill_put(strata_batch *b) { strata_batch_put(b, "key", 3, "value", 5); }
static void fill_del(strata_batch *b) { strata_batch_delete(b, "key", 3); }
static void fill_mixed(strata_batch *b) {
  strata_batch_put(b, "a", 1, "1", 1);
  strata_batch_delete(b, "b", 1);
  strata_batch_put(b, "", 0, "", 0);
  strata_batch_put(b, "a", 1, "2", 1);
  strata_batch_delete(b, "a", 1);
}
static void fill_many(strata_batch *b) {
  char k[16];
  for (int i = 0; i < 200; i++) {
    snprintf(k, sizeof k, "k%03d", i);
    strata_batch_put(b, k, strlen(k), k, (size_t)(i % 7));
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  outdir = argv[1];
  static const shape shapes[] = {
      {"snappy", STRATA_COMPRESSION_SNAPPY, 0, 4096, 300, 0},
      {"plain-tiny-blocks", STRATA_COMPRESSION_NONE, 0, 128, 200, 0},
      {"zstd-bloom", STRATA_COMPRESSION_ZSTD, 1, 1024, 300, 0},
      {"big-value", STRATA_COMPRESSION_SNAPPY, 1, 4096, 40, 1},
      {"few", STRATA_COMPRESSION_NONE, 0, 4096, 3, 0},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    from_db(&shapes[i]);
  batch_seed("empty", fill_empty, 1);
  batch_seed("put", fill_put, 7);
  batch_seed("delete", fill_del, 1);
  batch_seed("mixed", fill_mixed, 100);
  batch_seed("many", fill_many, (1ull << 56) - 300);
  printf("%d seeds written to %s\n", written, outdir);
  return 0;
}
