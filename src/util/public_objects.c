/*
 * public_objects.c - the small public handle types that wrap internal
 * ones: strata_cache (a util/cache.h LRU cache of blocks) and
 * strata_logger (an info-log sink).
 */
#include <stdlib.h>

#include "strata.h"
#include "util/cache.h"
#include "util/error.h"
#include "util/logger.h"

int strata_cache_create_lru(size_t capacity, strata_cache **out) {
  if (!out) return st_err(STRATA_EMISUSE, "strata_cache_create_lru: NULL out");
  *out = NULL;
  strata_cache *c = malloc(sizeof *c);
  if (c) c->cache = st_cache_new(capacity);
  if (!c || !c->cache) {
    free(c);
    return st_err(STRATA_ENOMEM, "block cache of %zu bytes", capacity);
  }
  *out = c;
  return 0;
}

void strata_cache_destroy(strata_cache *c) {
  if (!c) return;
  st_cache_free(c->cache);
  free(c);
}

size_t strata_cache_usage(const strata_cache *c) { return c ? st_cache_total_charge(c->cache) : 0; }

int strata_logger_create(void *state, void (*log)(void *state, const char *line),
                         void (*destructor)(void *state), strata_logger **out) {
  if (!out) return st_err(STRATA_EMISUSE, "strata_logger_create: NULL out");
  *out = NULL;
  if (!log) return st_err(STRATA_EINVAL, "strata_logger_create: log callback is NULL");
  strata_logger *l = malloc(sizeof *l);
  if (!l) return st_err(STRATA_ENOMEM, "strata_logger_create");
  l->state = state;
  l->log = log;
  l->destructor = destructor;
  *out = l;
  return 0;
}

void strata_logger_destroy(strata_logger *l) {
  if (!l) return;
  if (l->destructor) l->destructor(l->state);
  free(l);
}
