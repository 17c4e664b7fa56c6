/*
 * strutil.c - strict number parsing and formatting, glob matching, hashing.
 * The number and pattern rules are redis-server 7.0's (util.c: string2ll,
 * string2ld, ld2string, stringmatchlen), reimplemented here, so the server
 * accepts and rejects exactly what redis-server does.
 */
#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sv_str2ll(const char *s, size_t n, long long *v) {
  if (n == 0 || n >= SV_LONG_STR_SIZE) return 0;
  if (n == 1 && s[0] == '0') {
    if (v) *v = 0;
    return 1;
  }
  size_t i = 0;
  int neg = 0;
  if (s[0] == '-') {
    neg = 1;
    i = 1;
    if (n == 1) return 0;
  }
  if (s[i] < '1' || s[i] > '9') return 0;
  unsigned long long u = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    unsigned d = (unsigned)(s[i] - '0');
    if (u > (~0ULL - d) / 10) return 0;
    u = u * 10 + d;
  }
  if (neg) {
    if (u > (unsigned long long)INT64_MAX + 1) return 0;
    if (v) *v = (long long)(0 - u);
  } else {
    if (u > (unsigned long long)INT64_MAX) return 0;
    if (v) *v = (long long)u;
  }
  return 1;
}

int sv_str2ld(const char *s, size_t n, long double *v) {
  char buf[SV_LD_STR_MAX];
  if (n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  errno = 0;
  char *end;
  long double x = strtold(buf, &end);
  if (isspace((unsigned char)buf[0]) || *end != '\0' || (size_t)(end - buf) != n) return 0;
  if (errno == ERANGE && (x == HUGE_VALL || x == -HUGE_VALL || fpclassify(x) == FP_ZERO)) return 0;
  if (errno == EINVAL || isnan(x)) return 0;
  if (v) *v = x;
  return 1;
}

int sv_ld2str(char *buf, size_t cap, long double v) {
  if (isinf(v)) {
    const char *s = v > 0 ? "inf" : "-inf";
    size_t l = strlen(s);
    if (cap < l + 1) return 0;
    memcpy(buf, s, l + 1);
    return (int)l;
  }
  int l = snprintf(buf, cap, "%.17Lf", v);
  if (l < 0 || (size_t)l + 1 > cap) return 0;
  if (strchr(buf, '.')) {
    while (buf[l - 1] == '0')
      l--;
    if (buf[l - 1] == '.') l--;
  }
  if (l == 2 && buf[0] == '-' && buf[1] == '0') {
    buf[0] = '0';
    l = 1;
  }
  buf[l] = '\0';
  return l;
}

int sv_ll2str(char *buf, long long v) {
  char tmp[SV_LONG_STR_SIZE];
  unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
  int n = 0;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  int len = 0;
  if (v < 0) buf[len++] = '-';
  while (n)
    buf[len++] = tmp[--n];
  return len;
}

static int fold(int c, int nocase) { return nocase ? tolower(c) : c; }

/* One step of the matcher; *give_up is set once the part after a '*'
 * failed at every position, so earlier stars stop trying longer matches. */
static int glob(const char *p, size_t pn, const char *s, size_t sn, int nocase, int *give_up) {
  while (pn && sn) {
    switch (p[0]) {
    case '*':
      while (pn > 1 && p[1] == '*') {
        p++;
        pn--;
      }
      if (pn == 1) return 1;
      for (; sn; s++, sn--) {
        if (glob(p + 1, pn - 1, s, sn, nocase, give_up)) return 1;
        if (*give_up) return 0;
      }
      *give_up = 1;
      return 0;
    case '?':
      s++;
      sn--;
      break;
    case '[': {
      p++;
      pn--;
      int neg = pn && p[0] == '^';
      if (neg) {
        p++;
        pn--;
      }
      int hit = 0;
      for (;;) {
        if (pn >= 2 && p[0] == '\\') {
          p++;
          pn--;
          if (p[0] == s[0]) hit = 1;
        } else if (pn && p[0] == ']') {
          break;
        } else if (pn == 0) {
          /* An unclosed set ends with the pattern; step back so the
           * common advance below lands on its end. */
          p--;
          pn++;
          break;
        } else if (pn >= 3 && p[1] == '-') {
          int lo = (unsigned char)p[0], hi = (unsigned char)p[2], c = (unsigned char)s[0];
          if (lo > hi) {
            int t = lo;
            lo = hi;
            hi = t;
          }
          if (nocase) {
            lo = tolower(lo);
            hi = tolower(hi);
            c = tolower(c);
          }
          p += 2;
          pn -= 2;
          if (c >= lo && c <= hi) hit = 1;
        } else if (fold((unsigned char)p[0], nocase) == fold((unsigned char)s[0], nocase)) {
          hit = 1;
        }
        p++;
        pn--;
      }
      if (neg) hit = !hit;
      if (!hit) return 0;
      s++;
      sn--;
      break;
    }
    case '\\':
      if (pn >= 2) {
        p++;
        pn--;
      }
      /* compare the escaped byte literally */
      __attribute__((fallthrough));
    default:
      if (fold((unsigned char)p[0], nocase) != fold((unsigned char)s[0], nocase)) return 0;
      s++;
      sn--;
      break;
    }
    p++;
    pn--;
    if (sn == 0) {
      while (pn && p[0] == '*') {
        p++;
        pn--;
      }
      break;
    }
  }
  return pn == 0 && sn == 0;
}

int sv_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase) {
  int give_up = 0;
  return glob(pat, plen, s, slen, nocase, &give_up);
}

size_t sv_glob_literal_prefix(const char *pat, size_t plen) {
  size_t i = 0;
  while (i < plen && pat[i] != '*' && pat[i] != '?' && pat[i] != '[' && pat[i] != '\\')
    i++;
  return i;
}

int sv_streq_ci(const char *s, size_t n, const char *lit) {
  size_t i = 0;
  for (; i < n; i++) {
    if (!lit[i] || tolower((unsigned char)s[i]) != tolower((unsigned char)lit[i])) return 0;
  }
  return lit[i] == '\0';
}

int sv_secure_equal(const char *a, size_t alen, const char *b, size_t blen) {
  /* Every byte of the longer string is visited whatever the contents, so
   * the time says nothing about where the strings differ. */
  size_t n = alen > blen ? alen : blen;
  volatile unsigned char diff = (unsigned char)(alen != blen);
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < alen ? (unsigned char)a[i] : 0;
    unsigned char y = i < blen ? (unsigned char)b[i] : 0;
    diff |= (unsigned char)(x ^ y);
  }
  return diff == 0;
}

uint64_t sv_hash(const void *data, size_t n, uint64_t seed) {
  const unsigned char *s = data;
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 32;
    s += 8;
    n -= 8;
  }
  while (n--)
    h = (h ^ *s++) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
