/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define LIMIT_FIRST_MS 1000
#define LIMIT_MAX_MS   (10 * 60 * 1000)

/* Written by SIGHUP's reload on the loop, read by every thread (Paho's
 * too): atomic, and relaxed is enough, as a line logged at the old level
 * just before a reload is harmless. */
static atomic_int max_level = LOG_LVL_INFO;
static const char *ident = "pantau";
static atomic_int journal = -1; /* -1: not yet checked; any thread may be first */

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&max_level, (int)level, memory_order_relaxed);
}

void log_set_ident(const char *name)
{
    ident = name;
}

int log_parse_level(const char *name, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {{"error", LOG_LVL_ERROR},
                 {"warn", LOG_LVL_WARN},
                 {"warning", LOG_LVL_WARN},
                 {"info", LOG_LVL_INFO},
                 {"debug", LOG_LVL_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR:
        return "error";
    case LOG_LVL_WARN:
        return "warn";
    case LOG_LVL_INFO:
        return "info";
    default:
        return "debug";
    }
}

static bool level_off(enum log_level level)
{
    return (int)level > atomic_load_explicit(&max_level, memory_order_relaxed);
}

static void log_vwrite(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048];
    int n;

    if (journal < 0)
        journal = getenv("JOURNAL_STREAM") != NULL;
    if (journal) {
        n = snprintf(line, sizeof line, "<%d>", (int)level);
    } else {
        int64_t now = util_now_ms();
        time_t secs = (time_t)(now / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000),
                     ident, level_name(level));
    }
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if ((size_t)n >= sizeof line - 64)
        n = (int)(sizeof line - 64);
    if (suffix)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s", suffix);
    /* Keep one record on one line: journald and grep both depend on it. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, (size_t)n);
    (void)unused;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level_off(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}

void log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
{
    int64_t now = util_now_ms();
    if (lim->interval_ms != 0 && now < lim->next_ms) {
        lim->suppressed++;
        return;
    }
    char suffix[64] = "";
    if (lim->suppressed)
        snprintf(suffix, sizeof suffix, " (%llu similar suppressed)",
                 (unsigned long long)lim->suppressed);
    lim->interval_ms = lim->interval_ms ? lim->interval_ms * 2 : LIMIT_FIRST_MS;
    if (lim->interval_ms > LIMIT_MAX_MS)
        lim->interval_ms = LIMIT_MAX_MS;
    lim->next_ms = now + lim->interval_ms;
    lim->suppressed = 0;
    if (level_off(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, suffix[0] ? suffix : NULL, fmt, ap);
    va_end(ap);
}

void log_limit_clear(struct log_limit *lim, enum log_level level, const char *fmt, ...)
{
    if (lim->interval_ms == 0)
        return;
    lim->interval_ms = 0;
    lim->suppressed = 0;
    if (level_off(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}
