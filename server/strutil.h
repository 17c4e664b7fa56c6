/*
 * strutil.h - the string conversions and matching the Redis commands need,
 * with redis-server's exact rules (so replies and errors agree with it):
 * strict integers, long-double formatting for INCRBYFLOAT, glob-style
 * patterns for KEYS/SCAN/CONFIG GET. All functions are pure and
 * thread-safe.
 */
#ifndef SV_STRUTIL_H
#define SV_STRUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Longest integer text sv_str2ll accepts is 20 characters ("-9223372036854775808"). */
#define SV_LONG_STR_SIZE 21

/* Parses s[0, n) as a signed 64-bit integer with redis-server's string2ll
 * rules: "0", or an optional '-' then a digit 1-9 then digits; no '+', no
 * spaces, no leading zeros, at most 20 characters, no overflow. Returns 1
 * and sets *v, or returns 0. v may be NULL. */
int sv_str2ll(const char *s, size_t n, long long *v);

/* Parses s[0, n) as a long double with redis-server's string2ld rules
 * (strtold on the whole string; no leading space, no NaN, no overflow to
 * infinity or underflow to zero reported by ERANGE; at most 5119 bytes).
 * Returns 1 and sets *v, or 0. */
int sv_str2ld(const char *s, size_t n, long double *v);

/* Formats v as INCRBYFLOAT does (ld2string in "human" mode: %.17Lf with the
 * trailing zeros and a trailing '.' removed, "-0" as "0", "inf"/"-inf").
 * buf needs 5120 bytes for any value; returns the length (0 if it does not
 * fit). */
#define SV_LD_STR_MAX 5120
int sv_ld2str(char *buf, size_t cap, long double v);

/* Writes v in decimal into buf (room for SV_LONG_STR_SIZE bytes) and
 * returns the length; no NUL is written. */
int sv_ll2str(char *buf, long long v);

/* Glob-style match with redis-server's stringmatchlen rules: * ? [abc]
 * [^abc] [a-z] and \x for a literal x; nocase folds ASCII case. The
 * matcher gives up on the longer matches of an earlier '*' once the rest
 * of the pattern failed everywhere, which bounds its work. Returns 1 on a
 * match. */
int sv_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* Length of the literal prefix of a glob pattern: the bytes every matching
 * string begins with (up to the first * ? [ or \), for seeking an ordered
 * scan to the first candidate key. */
size_t sv_glob_literal_prefix(const char *pat, size_t plen);

/* ASCII case-insensitive equality of s[0, n) and the NUL-terminated lit. */
int sv_streq_ci(const char *s, size_t n, const char *lit);

/* Constant-time equality of two byte strings (the time depends only on
 * the lengths), for passwords. */
int sv_secure_equal(const char *a, size_t alen, const char *b, size_t blen);

/* 64-bit hash of s[0, n) (FNV-1a then a final mix); seed varies it. */
uint64_t sv_hash(const void *s, size_t n, uint64_t seed);

#endif /* SV_STRUTIL_H */
