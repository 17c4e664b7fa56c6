/*
 * suite_util.h - small helpers shared by the system test suites: a seeded
 * PRNG, deterministic value contents, hex formatting for failure messages,
 * scale selection and scratch-directory handling.
 *
 * Header-only and free of any Strata or LevelDB call, so the LevelDB-side
 * tools can include it too without linking the other library.
 */
#ifndef STRATA_SUITE_UTIL_H
#define STRATA_SUITE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* PRNG: splitmix64. Tiny, fast, and good enough that op sequences do not    */
/* fall into short cycles; deterministic for a given seed on every platform. */
/* ------------------------------------------------------------------------ */

typedef struct su_rng {
  uint64_t s;
} su_rng;

static inline uint64_t su_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline void su_rng_seed(su_rng *r, uint64_t seed) { r->s = seed; }

static inline uint64_t su_rng_next(su_rng *r) {
  r->s += 0x9e3779b97f4a7c15ULL;
  return su_mix64(r->s);
}

/* Uniform in [0, n); n > 0. The modulo bias is irrelevant for testing. */
static inline uint64_t su_rng_below(su_rng *r, uint64_t n) { return su_rng_next(r) % n; }

/* Uniform in [lo, hi]. */
static inline uint64_t su_rng_range(su_rng *r, uint64_t lo, uint64_t hi) {
  return lo + su_rng_below(r, hi - lo + 1);
}

/* True with probability per_mille / 1000. */
static inline int su_rng_pm(su_rng *r, unsigned per_mille) {
  return su_rng_below(r, 1000) < per_mille;
}

/* A seed derived from two numbers, so (seed, index) pairs give independent
 * streams: used to make op i of a sequence computable on its own. */
static inline uint64_t su_derive(uint64_t seed, uint64_t index) {
  return su_mix64(seed ^ su_mix64(index + 0x632be59bd9b4e019ULL));
}

/* ------------------------------------------------------------------------ */
/* Values are never stored by the oracles: a value is (vseed, length) and    */
/* its bytes are regenerated on demand. vseed's low bits pick a shape so     */
/* that some values compress (runs, zeros) and some do not (noise).          */
/* ------------------------------------------------------------------------ */

static inline void su_fill_value(uint64_t vseed, size_t len, unsigned char *out) {
  su_rng r;
  su_rng_seed(&r, vseed);
  unsigned shape = (unsigned)(vseed & 3);
  size_t i = 0;
  if (shape == 0 || shape == 1) { /* incompressible noise, NUL bytes included */
    while (i + 8 <= len) {
      uint64_t x = su_rng_next(&r);
      memcpy(out + i, &x, 8);
      i += 8;
    }
    while (i < len)
      out[i++] = (unsigned char)su_rng_next(&r);
  } else if (shape == 2) { /* a short random pattern repeated: compressible */
    unsigned char pat[13];
    size_t plen = 1 + (size_t)su_rng_below(&r, sizeof pat);
    for (size_t j = 0; j < plen; j++)
      pat[j] = (unsigned char)su_rng_next(&r);
    for (; i < len; i++)
      out[i] = pat[i % plen];
  } else { /* mostly zeros with sparse noise: compressible, NUL-heavy */
    memset(out, 0, len);
    for (size_t n = len / 16; n > 0; n--)
      out[su_rng_below(&r, len)] = (unsigned char)su_rng_next(&r);
  }
}

/* ------------------------------------------------------------------------ */
/* Hashing (content digests for dumps and quick comparisons).                */
/* ------------------------------------------------------------------------ */

static inline uint64_t su_hash64(const void *data, size_t len, uint64_t seed) {
  const unsigned char *p = (const unsigned char *)data;
  uint64_t h = su_mix64(seed ^ (len * 0x9e3779b97f4a7c15ULL));
  size_t i = 0;
  while (i + 8 <= len) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = su_mix64(h ^ w) + 0x2545f4914f6cdd1dULL;
    i += 8;
  }
  uint64_t tail = 0;
  for (size_t j = 0; i < len; i++, j++)
    tail |= (uint64_t)p[i] << (8 * j);
  return su_mix64(h ^ tail ^ 0xa0761d6478bd642fULL);
}

/* ------------------------------------------------------------------------ */
/* Formatting of byte strings for failure messages: hex, cut after 48 bytes */
/* (with the length shown so a cut string is never mistaken for a whole).    */
/* ------------------------------------------------------------------------ */

typedef struct su_hexbuf {
  char s[160];
} su_hexbuf;

static inline const char *su_hex(su_hexbuf *hb, const void *data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)data;
  size_t shown = len > 48 ? 48 : len, o = 0;
  o += (size_t)snprintf(hb->s, sizeof hb->s, "[%zu]", len);
  for (size_t i = 0; i < shown; i++) {
    hb->s[o++] = digits[p[i] >> 4];
    hb->s[o++] = digits[p[i] & 15];
  }
  if (shown < len) {
    memcpy(hb->s + o, "...", 3);
    o += 3;
  }
  hb->s[o] = '\0';
  return hb->s;
}

/* ------------------------------------------------------------------------ */
/* Environment                                                               */
/* ------------------------------------------------------------------------ */

/* STRATA_TEST_SCALE=asan asks for smaller op counts (sanitizer builds run
 * several times slower); the suites never go below their required minimums. */
static inline int su_scale_is_asan(void) {
  const char *s = getenv("STRATA_TEST_SCALE");
  return s != NULL && strcmp(s, "asan") == 0;
}

/* The seed of a run: argv value if given, else STRATA_SEED, else random. */
static inline uint64_t su_pick_seed(const char *arg) {
  const char *s = arg != NULL ? arg : getenv("STRATA_SEED");
  if (s != NULL && *s != '\0') return strtoull(s, NULL, 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return su_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid()) %
         1000000000ULL;
}

static inline double su_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------ */
/* Scratch directories                                                       */
/* ------------------------------------------------------------------------ */

/* Where scratch databases go: $TMPDIR when set; otherwise /dev/shm when it
 * is a writable file system with more than 2 GB free, else /tmp. The engine
 * fsyncs every table it writes, and on an ordinary disk those flushes, not
 * the engine's work, would dominate the suites' run time; what the suites
 * test (contents, recovery after a process crash, damaged files) behaves the
 * same on tmpfs, where the page cache is the storage. */
static inline const char *su_scratch_base(void) {
  const char *base = getenv("TMPDIR");
  if (base != NULL && *base != '\0') return base;
  struct statvfs vfs;
  if (access("/dev/shm", W_OK) == 0 && statvfs("/dev/shm", &vfs) == 0 &&
      (unsigned long long)vfs.f_bavail * vfs.f_frsize > 2000000000ULL)
    return "/dev/shm";
  return "/tmp";
}

/* Creates a fresh directory <scratch base>/<tag>-XXXXXX; returns a malloc'd
 * path or exits (a test cannot run without one). */
static inline char *su_make_temp_dir(const char *tag) {
  const char *base = su_scratch_base();
  size_t n = strlen(base) + strlen(tag) + 16;
  char *path = (char *)malloc(n);
  if (path == NULL) abort();
  snprintf(path, n, "%s/%s-XXXXXX", base, tag);
  if (mkdtemp(path) == NULL) {
    fprintf(stderr, "mkdtemp(%s): %s\n", path, strerror(errno));
    exit(2);
  }
  return path;
}

static inline int su_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* rm -rf path (missing is fine). */
static inline void su_remove_tree(const char *path) {
  nftw(path, su_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a whole file into a malloc'd buffer; returns NULL on error. */
static inline unsigned char *su_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = (unsigned char *)malloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = (unsigned char *)realloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  fclose(f);
  *len = n;
  return buf;
}

static inline int su_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return -1;
  int ok = fwrite(data, 1, len, f) == len;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Copies every regular file of directory src into the (existing) directory
 * dst. Database directories are flat, so no recursion is needed. */
static inline int su_copy_dir(const char *src, const char *dst) {
  DIR *d = opendir(src);
  if (d == NULL) return -1;
  struct dirent *de;
  int rc = 0;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/%s", src, de->d_name);
    snprintf(to, sizeof to, "%s/%s", dst, de->d_name);
    struct stat st;
    if (stat(from, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    size_t len;
    unsigned char *data = su_read_file(from, &len);
    if (data == NULL || su_write_file(to, data, len) != 0) rc = -1;
    free(data);
  }
  closedir(d);
  return rc;
}

#endif
