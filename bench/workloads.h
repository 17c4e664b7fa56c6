/*
 * workloads.h - LevelDB's db_bench workloads over a small engine interface.
 *
 * strata-bench compares Strata with LevelDB and RocksDB by running the same
 * workloads against each engine in its own worker process (Strata's
 * leveldb/c.h shim and real LevelDB export the same symbols, so they cannot
 * share a process). Each worker binary links exactly one engine, fills in a
 * bench_engine and calls bench_worker_main(); the driver (strata_bench.c)
 * shares the flag parsing and the workload list declared here.
 */
#ifndef STRATA_BENCH_WORKLOADS_H
#define STRATA_BENCH_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_WORKLOADS 64

/* The db_bench-style parameters, shared by the driver and every worker. */
typedef struct bench_config {
  long num;                 /* entries (--num, 1000000) */
  int value_size;           /* bytes per value (--value_size, 100) */
  int threads;              /* reader threads of readrandom_mt (--threads, 4) */
  int bloom_bits;           /* bloom bits per key; < 0: no filter (--bloom_bits) */
  int compression;          /* 0 none, 1 snappy (--compression, snappy) */
  size_t cache_size;        /* block cache bytes (--cache_size, 8 MiB) */
  size_t write_buffer_size; /* memtable bytes (--write_buffer_size, 4 MiB) */
  const char *db;           /* database directory (--db); NULL: a temp dir */
  int nworkloads;           /* the --benchmarks list, in order */
  const char *workloads[BENCH_MAX_WORKLOADS];
  char *workloads_storage; /* owns the strings above */
} bench_config;

/* The comma list run when --benchmarks is not given. The order differs from
 * the lead's bullet list on purpose: the read-mostly workloads run before
 * deleterandom and fill100K, which leave a database that random reads of
 * [0, num) would mostly miss. */
#define BENCH_DEFAULT_WORKLOADS                                                                    \
  "fillseq,bulkload,fillsync,fillrandom,overwrite,readrandom,readseq,readreverse,compact,"         \
  "readrandom,"                                                                                    \
  "readmissing,seekrandom,readrandom_mt,readwhilewriting,deleterandom,fill100K"

/* Sets the defaults above (workload list included). */
void bench_config_init(bench_config *cfg);
void bench_config_free(bench_config *cfg);

/* Parses one flag of argv at *i ("--name=value" or "--name value", the latter
 * consuming argv[*i + 1]). Returns 1 if it was one of the shared flags above,
 * 0 if not (the caller may know it), -1 after printing an error for a bad
 * value. */
int bench_config_parse(bench_config *cfg, int argc, char **argv, int *i);

/* Replaces the workload list with a comma list, checking every name.
 * Returns 0, or -1 after printing which name is unknown. */
int bench_config_set_workloads(bench_config *cfg, const char *list);

/* Appends the flags that reproduce cfg (except --db) to argv, each as one
 * "--name=value" string in buf (room for cap bytes). Returns the new argc or
 * -1 if buf is too small. */
int bench_config_to_args(const bench_config *cfg, char **argv, int argc, char *buf, size_t cap);

/* Display label of workload i of the list: its name, with ".<n>" appended
 * for the n-th (n >= 2) run of a name appearing more than once (the second
 * readrandom, after compaction, is "readrandom.2"). */
void bench_workload_label(const bench_config *cfg, int i, char *out, size_t cap);

/* One usage line per shared flag and per workload, for --help. */
void bench_print_flag_help(void);

/* The engine interface. Every function that can fail prints why (prefixed
 * with the engine name) to stderr and returns -1 (or NULL); the worker then
 * exits non-zero, which the driver reports. A db handle is used by several
 * threads at once (readrandom_mt, readwhilewriting); readers, batches and
 * iterators belong to one thread. */
typedef struct bench_engine {
  const char *name;
  /* Prefix of the engine's property names ("leveldb." or "rocksdb."). */
  const char *property_prefix;
  /* Opens the database at path, creating it, with cfg's options. */
  void *(*open)(const bench_config *cfg, const char *path);
  void (*close)(void *db);
  /* Deletes the database at path (absent: fine). */
  int (*destroy)(const bench_config *cfg, const char *path);
  /* Per-thread read state (e.g. a reusable value buffer); NULL on error.
   * An engine that needs none returns db itself. */
  void *(*reader_create)(void *db);
  void (*reader_destroy)(void *reader);
  /* Looks key up: 1 found (value bytes in *vlen), 0 absent, -1 error. */
  int (*get)(void *db, void *reader, const char *key, size_t klen, size_t *vlen);
  int (*put)(void *db, const char *key, size_t klen, const char *val, size_t vlen, int sync);
  void *(*batch_create)(void);
  void (*batch_destroy)(void *batch);
  void (*batch_clear)(void *batch);
  int (*batch_put)(void *batch, const char *key, size_t klen, const char *val, size_t vlen);
  int (*batch_delete)(void *batch, const char *key, size_t klen);
  int (*write)(void *db, void *batch, int sync);
  void *(*iter_create)(void *db);
  void (*iter_destroy)(void *it);
  void (*iter_seek_to_first)(void *it);
  void (*iter_seek_to_last)(void *it);
  void (*iter_seek)(void *it, const char *key, size_t klen);
  void (*iter_next)(void *it);
  void (*iter_prev)(void *it);
  int (*iter_valid)(void *it);
  const char *(*iter_key)(void *it, size_t *klen);
  const char *(*iter_value)(void *it, size_t *vlen);
  /* 0, or -1 after printing the error that stopped the iterator. */
  int (*iter_status)(void *it);
  /* Compacts the whole key range, blocking until done. */
  int (*compact)(void *db);
  /* A property's value, malloc'd (free()), or NULL if unknown. */
  char *(*property)(void *db, const char *name);
  /* Optional, for the transaction workloads (filltxn, snapshot, readtxn,
   * readrandom_txn, readrandom_txn_mt); NULL when the engine has no
   * transactions, and those workloads then stop its worker with an error.
   * txn_put: one put in a write transaction of its own, committed.
   * snapshot_cycle / read_txn_cycle: take and release a snapshot / begin and
   * end a read transaction. txn_reader_create: per-thread read state whose
   * gets (txn_get, answers as get) go through one read transaction. */
  int (*txn_put)(void *db, const char *key, size_t klen, const char *val, size_t vlen);
  int (*snapshot_cycle)(void *db);
  int (*read_txn_cycle)(void *db);
  void *(*txn_reader_create)(void *db);
  void (*txn_reader_destroy)(void *reader);
  int (*txn_get)(void *db, void *reader, const char *key, size_t klen, size_t *vlen);
  /* Sorted bulk load, optional (NULL: the engine has none, and the
   * bulkload workload reports "not supported"). loader_create starts a
   * load into db; loader_add takes keys in increasing order; loader_finish
   * adds what was loaded to the database and frees the loader (on error
   * too). */
  void *(*loader_create)(void *db);
  int (*loader_add)(void *loader, const char *key, size_t klen, const char *val, size_t vlen);
  int (*loader_finish)(void *loader);
} bench_engine;

/* The worker's main: parses the shared flags, runs the workload list in
 * order on a fresh database under --db, prints one JSON line per workload
 * and a final {"engine":...,"peak_rss_kb":...} line on stdout, deletes the
 * database and returns the exit status. */
int bench_worker_main(int argc, char **argv, const bench_engine *eng);

#endif /* STRATA_BENCH_WORKLOADS_H */
