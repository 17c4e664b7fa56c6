/*
 * log.h - the server's log: one line per event, to standard error or the
 * logfile, in redis-server's line shape ("pid:role dd Mon yyyy hh:mm:ss.mmm
 * <level char> message") so the same tools read both. Thread-safe: each
 * line is one write(2) of a whole line.
 */
#ifndef SV_LOG_H
#define SV_LOG_H

#include "config.h"

/* Directs the log to path ("" or NULL: standard error) and sets the level
 * source. Returns 0, or -1 with errno when the file cannot be opened. */
int sv_log_open(const char *path, const sv_config *cfg);
void sv_log_close(void);

/* level is SV_LOG_*; lines below cfg->loglevel are dropped. */
void sv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* SV_LOG_H */
