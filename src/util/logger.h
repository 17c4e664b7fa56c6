/*
 * logger.h - the public handle types strata_cache and strata_logger
 * (strata.h), shared by the code that creates them and the database.
 */
#ifndef ST_LOGGER_H
#define ST_LOGGER_H

#include "strata.h"
#include "util/cache.h"

struct strata_cache {
  st_cache *cache;
};

struct strata_logger {
  void *state;
  void (*log)(void *state, const char *line);
  void (*destructor)(void *state);
};

#endif
