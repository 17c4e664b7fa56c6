/*
 * cmd_stat.c - strata stat: what the database holds, level by level.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define NUM_LEVELS 7
/* Up to this many bytes of tables the entries are counted exactly; beyond
 * it counting would read the whole database, so a sample is used. */
#define EXACT_COUNT_BYTES (256ull << 20)
#define SAMPLE_ENTRIES 100000ull

/* Reads a numeric property; returns 0, or -1 if it is unknown or not a
 * number (shown as "-"). */
static int num_property(strata_db *db, const char *name, strata_buf *buf, unsigned long long *v) {
  if (strata_property(db, name, buf) != STRATA_OK || buf->size == 0) return -1;
  char *end;
  *v = strtoull(buf->data, &end, 10);
  return end == buf->data ? -1 : 0;
}

static void human(char *out, size_t n, unsigned long long bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 4)
    v /= 1024, u++;
  snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* Counts entries: every one (exact = 1), or the first SAMPLE_ENTRIES and
 * scales by the bytes they occupy on disk (exact = 0 on return when that
 * estimate was used). Returns STRATA_OK or the iterator's error. */
static int count_entries(strata_db *db, unsigned long long table_bytes, int *exact,
                         unsigned long long *count) {
  strata_iter *it;
  int s = strata_iter_create(db, NULL, &it);
  if (s != STRATA_OK) return s;
  sbuf first = SBUF_INIT;
  unsigned long long n = 0;
  strata_iter_seek_to_first(it);
  if (strata_iter_valid(it)) {
    size_t klen;
    const char *k = strata_iter_key(it, &klen);
    if (sbuf_append(&first, k, klen)) {
      strata_iter_destroy(it);
      return STRATA_ENOMEM;
    }
  }
  for (; strata_iter_valid(it); strata_iter_next(it)) {
    if (!*exact && n == SAMPLE_ENTRIES) break;
    n++;
  }
  s = strata_iter_status(it);
  if (s == STRATA_OK && !*exact && strata_iter_valid(it)) {
    /* Stopped at the sample's end: estimate from the share of the table
     * bytes that [first, current) occupies. */
    size_t klen;
    const void *start = first.data;
    size_t start_len = first.len;
    const void *limit = strata_iter_key(it, &klen);
    uint64_t sample_bytes = 0;
    if (strata_approximate_sizes(db, 1, &start, &start_len, &limit, &klen, &sample_bytes) ==
            STRATA_OK &&
        sample_bytes > 0) {
      *count = (unsigned long long)((double)n * (double)table_bytes / (double)sample_bytes);
    } else {
      /* The sample is still in the memtable: no ratio to go by. */
      *exact = 1;
      for (; strata_iter_valid(it); strata_iter_next(it))
        n++;
      s = strata_iter_status(it);
      *count = n;
    }
  } else {
    *exact = 1;
    *count = n;
  }
  sbuf_free(&first);
  strata_iter_destroy(it);
  return s;
}

typedef struct list_ctx {
  strata_db *db;
  FILE *f;
  int n;
  int err;
} list_ctx;

static int print_subdb(void *arg, const char *name) {
  list_ctx *lc = arg;
  strata_subdb *sdb;
  strata_subdb_stats st = {0, 0};
  int s = strata_subdb_open(lc->db, name, 0, &sdb);
  if (s == STRATA_OK) s = strata_subdb_stat(lc->db, sdb, &st);
  if (s != STRATA_OK) {
    lc->err = s;
    return 1;
  }
  if (lc->n++ == 0) fprintf(lc->f, "\nsub-database        ~entries           ~bytes\n");
  fprintf(lc->f, "%-16s %11llu  %15llu\n", name, (unsigned long long)st.entries,
          (unsigned long long)st.bytes);
  return 0;
}

/* stat -d NAME: the entries and bytes of one sub-database. */
static int stat_subdb(const cli_cmd *cmd, strata_db *db, const char *name, int exact) {
  strata_subdb *sdb;
  strata_subdb_stats st = {0, 0};
  int rc = cli_open_subdb(cmd, db, name, 0, &sdb);
  if (rc) return rc;
  int s = strata_subdb_stat(db, sdb, &st);
  unsigned long long n = 0;
  if (s == STRATA_OK && exact) {
    strata_iter *it;
    s = strata_iter_create_in(db, sdb, NULL, &it);
    if (s == STRATA_OK) {
      for (strata_iter_seek_to_first(it); strata_iter_valid(it); strata_iter_next(it))
        n++;
      s = strata_iter_status(it);
      strata_iter_destroy(it);
    }
  }
  if (s != STRATA_OK) {
    cli_db_err(cmd, "statistics failed", s);
    return CLI_FAIL;
  }
  char h[32];
  human(h, sizeof h, st.bytes);
  printf("sub-database: %s\n", cli_is_main(name) ? CLI_MAIN_NAME : name);
  if (exact)
    printf("entries: %llu (counted)\n", n);
  else
    printf("entries: ~%llu (estimated; --exact counts all)\n", (unsigned long long)st.entries);
  printf("bytes: ~%llu (%s)\n", (unsigned long long)st.bytes, h);
  return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int run_stat(const cli_cmd *cmd, int argc, char **argv) {
  static const struct option longopts[] = {
      {"exact", no_argument, NULL, 'E'}, CLI_LONGOPT_ENV,   CLI_LONGOPT_DB, CLI_LONGOPT_READ_ONLY,
      {"help", no_argument, NULL, 'h'},  {NULL, 0, NULL, 0}};
  int exact = 0, c;
  cli_common co;
  cli_common_init(&co);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":e:d:rh", longopts, NULL)) != -1) {
    if (cli_common_opt(&co, c, optarg)) continue;
    switch (c) {
    case 'E': exact = 1; break;
    case 'h': return cli_help(cmd);
    default: return cli_bad_option(cmd, c, argv);
    }
  }
  int rc = cli_take_dbpath(cmd, &co, argc, argv, &optind);
  if (rc || (rc = cli_operands(cmd, argc, optind, 0, 0, "DBPATH"))) return rc;
  strata_db *db;
  if ((rc = cli_open_common(cmd, &co, CLI_OPEN_SHARED, &db))) return rc;
  if (co.subdb) {
    rc = stat_subdb(cmd, db, co.subdb, exact);
    strata_close(db);
    return rc;
  }

  strata_buf buf = STRATA_BUF_INIT;
  cli_out out;
  cli_out_open(cmd, &out, NULL);
  FILE *f = out.f;
  unsigned long long total_files = 0, total_bytes = 0, v;
  char name[64], h[32];
  fprintf(f, "database: %s\n\nlevel  files            bytes\n", co.dbpath);
  for (int level = 0; level < NUM_LEVELS; level++) {
    char files[24] = "-", bytes[24] = "-";
    snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
    if (num_property(db, name, &buf, &v) == 0) {
      snprintf(files, sizeof files, "%llu", v);
      total_files += v;
    }
    snprintf(name, sizeof name, "strata.level-bytes%d", level);
    if (num_property(db, name, &buf, &v) == 0) {
      snprintf(bytes, sizeof bytes, "%llu", v);
      total_bytes += v;
    }
    fprintf(f, "%5d  %5s  %15s\n", level, files, bytes);
  }
  human(h, sizeof h, total_bytes);
  fprintf(f, "total  %5llu  %15llu  (%s)\n", total_files, total_bytes, h);
  if (num_property(db, "leveldb.approximate-memory-usage", &buf, &v) == 0) {
    human(h, sizeof h, v);
    fprintf(f, "memtable: %llu bytes (%s) not yet in tables\n", v, h);
  }

  int count_exact = exact || total_bytes <= EXACT_COUNT_BYTES;
  unsigned long long count = 0;
  int s = count_entries(db, total_bytes, &count_exact, &count);
  if (s != STRATA_OK) {
    cli_out_finish(cmd, &out);
    cli_db_err(cmd, "counting entries failed", s);
    rc = CLI_FAIL;
    goto done;
  }
  if (count_exact)
    fprintf(f, "entries: %llu (counted)\n", count);
  else
    fprintf(f, "entries: ~%llu (estimated from the first %llu keys; --exact counts all)\n", count,
            SAMPLE_ENTRIES);

  list_ctx lc = {db, f, 0, 0};
  s = strata_subdb_list(db, print_subdb, &lc);
  if (s == STRATA_OK && lc.err) s = lc.err;
  if (s != STRATA_OK && s != 1) {
    cli_out_finish(cmd, &out);
    cli_db_err(cmd, "listing sub-databases failed", s);
    rc = CLI_FAIL;
    goto done;
  }

  if (strata_property(db, "leveldb.stats", &buf) == STRATA_OK) {
    fprintf(f, "\nleveldb.stats:\n");
    fwrite(buf.data, 1, buf.size, f);
    if (buf.size && buf.data[buf.size - 1] != '\n') fputc('\n', f);
  }
  rc = cli_out_finish(cmd, &out);
done:
  strata_buf_free(&buf);
  strata_close(db);
  return rc;
}

const cli_cmd cli_cmd_stat = {
    "stat", "files and bytes per level, entry count, compaction statistics",
    "usage: strata stat [--exact] [-d NAME] [-r] DBPATH\n"
    "\n"
    "Prints, for each level 0-6, the number of table files and their bytes\n"
    "(properties leveldb.num-files-at-level<N> and strata.level-bytes<N>),\n"
    "their totals, the bytes held in the memtable, the number of entries, and\n"
    "the leveldb.stats property (per-level sizes and compaction work).\n"
    "\n"
    "Entries are counted by iterating over the whole database when its tables\n"
    "hold at most 256 MiB. Beyond that the count is estimated: the first\n"
    "100000 keys are counted and scaled by the share of the table bytes they\n"
    "occupy (strata_approximate_sizes), marked with '~'. Deleted and\n"
    "overwritten versions not yet compacted away are never counted.\n"
    "\n"
    "Sub-databases, if any, follow in a table, one line each:\n"
    "    NAME  ~entries  ~bytes\n"
    "estimated by strata_subdb_stat (overwritten and deleted entries not yet\n"
    "compacted are counted there). The entry count and level table above\n"
    "cover the main database only.\n"
    "\n"
    "With -d NAME, prints only that sub-database (:main: = main database):\n"
    "    sub-database: NAME\n"
    "    entries: ~N (estimated; --exact counts all)   or   entries: N (counted)\n"
    "    bytes: ~B (human-readable)\n"
    "\n"
    "  --exact           always count every entry.\n"
    "  -d, --db NAME     statistics of sub-database NAME only.\n"
    "  -e, --env DBPATH  the database (instead of the DBPATH operand).\n"
    "  -r, --read-only   open read-only, beside a writer in another process\n"
    "                    (done anyway when another process holds the lock).\n"
    "  -h, --help        print this help.\n",
    run_stat};
