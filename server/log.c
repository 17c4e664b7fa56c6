/*
 * log.c - see log.h.
 */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static const sv_config *log_cfg;

int sv_log_open(const char *path, const sv_config *cfg) {
  log_cfg = cfg;
  if (!path || !*path) return 0;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  log_fd = fd;
  return 0;
}

void sv_log_close(void) {
  if (log_fd > 2) close(log_fd);
  log_fd = 2;
}

void sv_log(int level, const char *fmt, ...) {
  long long min =
      log_cfg ? atomic_load_explicit(&log_cfg->loglevel, memory_order_relaxed) : SV_LOG_NOTICE;
  if (level < min) return;
  char line[1024];
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%d:M ", (int)getpid());
  n += (int)strftime(line + n, sizeof line - (size_t)n, "%d %b %Y %H:%M:%S", &tm);
  n += snprintf(line + n, sizeof line - (size_t)n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                ".-*#"[level & 3]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  n += m;
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t w = write(log_fd, line, (size_t)n);
  (void)w;
}
