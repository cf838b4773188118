/* log.h — levelled logging to stderr, friendly to journald.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with the syslog
 * priority "<N>" that journald turns into PRIORITY=, and no timestamp (the
 * journal has one). On a terminal or file: "2026-11-23T00:11:36.123Z error: ...".
 * Safe to call from any thread: one line is one write(2).
 *
 * A log_limit rate-limits one recurring error (as collectd's c_complain does):
 * the first occurrence is logged, then the interval doubles up to a cap and
 * the suppressed count is reported with the next line that gets through. */
#ifndef PANTAU_LOG_H
#define PANTAU_LOG_H

#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns 0 or -1. */
int log_parse_level(const char *name, enum log_level *out);
void log_set_ident(const char *ident); /* program name shown on terminals */

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

struct log_limit {
    int64_t next_ms;     /* when the next line may be logged */
    int64_t interval_ms; /* current back-off; 0 = not complaining */
    uint64_t suppressed; /* occurrences not logged since the last line */
};
#define LOG_LIMIT_INIT                                                                             \
    {                                                                                              \
        0, 0, 0                                                                                    \
    }

/* Logs at most once per back-off interval (1 s doubling to 10 min). Not
 * thread-safe per limit: give each thread its own struct log_limit. */
void log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The condition is over: log `fmt` (if we had complained) and reset. */
void log_limit_clear(struct log_limit *lim, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
