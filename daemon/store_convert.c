/* store_convert.c — see store_convert.h. */
#include "store_convert.h"

#include <stdlib.h>

#include "log.h"
#include "util.h"

#define SERIES_PER_BATCH  64
#define PROGRESS_EVERY_NS (5 * 1000000000ull)

struct conv {
    sqlite3 *db;
    struct chunkstore *c;
    sqlite3_stmt *raw, *minutes, *hours, *agg_row, *next_ids, *set_next;
    struct chunk_point *pts;
    size_t cap;
    int64_t samples;
};

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK)
        return 0;
    log_error("store: converting: %s: %s", sql, sqlite3_errmsg(db));
    return -1;
}

static int get_meta(sqlite3 *db, const char *key, int64_t *out)
{
    sqlite3_stmt *st;
    if (prepare(db, "SELECT value FROM store_meta WHERE key = ?1", &st) != 0)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int64_t count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (prepare(db, sql, &st) != 0)
        return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

/* A row without data: a minute's or an hour's aggregate from a rollup. */
static int put_aggregate(struct conv *v, int64_t series, sqlite3_stmt *from)
{
    sqlite3_stmt *st = v->agg_row;
    sqlite3_bind_int64(st, 1, series);
    for (int i = 0; i < 7; i++)
        sqlite3_bind_value(st, i + 2, sqlite3_column_value(from, i));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Rows of `st` (a rollup read bound to series and `below`) as aggregate
 * rows; *first gets the earliest bucket written (unchanged if none). */
static int put_rollups(struct conv *v, int64_t series, sqlite3_stmt *st, int64_t below,
                       int64_t *first)
{
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, below);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 0);
        if (ts < *first)
            *first = ts;
        if (put_aggregate(v, series, st) != 0) {
            rc = SQLITE_ERROR;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int flush_hour(struct conv *v, int64_t series, size_t n)
{
    if (n && chunkstore_put_hour(v->c, series, v->pts, n) != 0)
        return -1;
    v->samples += (int64_t)n;
    return 0;
}

/* The series' raw samples as chunk rows; *first_raw gets the first ts. */
static int convert_raw(struct conv *v, int64_t series, int64_t *first_raw)
{
    sqlite3_stmt *st = v->raw;
    sqlite3_bind_int64(st, 1, series);
    size_t n = 0;
    int64_t hour = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct chunk_point p = {sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1)};
        int64_t h = rollup_floor(p.ts, ROLLUP_HOUR_MS);
        if (*first_raw == INT64_MAX)
            *first_raw = p.ts;
        if (n == 0 || h != hour || n == CHUNKSTORE_MAX_POINTS) {
            if (flush_hour(v, series, n) != 0)
                break;
            n = 0;
            hour = h;
        }
        if (n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 1024;
            struct chunk_point *q = realloc(v->pts, cap * sizeof *q);
            if (!q)
                break;
            v->pts = q;
            v->cap = cap;
        }
        v->pts[n++] = p;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return flush_hour(v, series, n);
}

static int convert_series(struct conv *v, int64_t series)
{
    int64_t first_raw = INT64_MAX, first_minute;
    if (convert_raw(v, series, &first_raw) != 0)
        return -1;
    /* Minutes wholly before the first raw sample, then hours wholly before
     * the first minute: retention took their samples, not their sums. */
    first_minute = first_raw;
    if (put_rollups(v, series, v->minutes, first_raw, &first_minute) != 0)
        return -1;
    int64_t first_hour = first_minute;
    return put_rollups(v, series, v->hours, first_minute, &first_hour);
}

static int batch(struct conv *v, int64_t *next, int64_t *done)
{
    sqlite3_stmt *st = v->next_ids;
    int64_t ids[SERIES_PER_BATCH];
    int n = 0, rc;
    sqlite3_bind_int64(st, 1, *next);
    while (n < SERIES_PER_BATCH && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (n == 0)
        return 0;
    if (sqlite3_exec(v->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < n; i++)
        if (convert_series(v, ids[i]) != 0)
            goto fail;
    sqlite3_bind_int64(v->set_next, 1, ids[n - 1] + 1);
    rc = sqlite3_step(v->set_next);
    sqlite3_reset(v->set_next);
    if (rc != SQLITE_DONE || sqlite3_exec(v->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    *next = ids[n - 1] + 1;
    *done += n;
    return n;
fail:
    log_error("store: converting series %lld: %s", (long long)ids[0], sqlite3_errmsg(v->db));
    sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int finish(struct conv *v, const char *path)
{
    int64_t before = count_of(v->db, "SELECT count(*) FROM samples");
    int64_t after =
        count_of(v->db, "SELECT coalesce(sum(n), 0) FROM chunks WHERE data IS NOT NULL");
    if (before < 0 || after < 0 || before != after) {
        log_error("store: converting %s: %lld samples in `samples` but %lld in chunk rows; the "
                  "old tables are kept: report this",
                  path, (long long)before, (long long)after);
        return -1;
    }
    if (sqlite3_exec(v->db,
                     "BEGIN; DROP TABLE samples; DROP TABLE rollup_1m; DROP TABLE rollup_1h;"
                     " DELETE FROM store_meta WHERE key IN ('convert_next', 'watermark',"
                     " 'minute_floor'); COMMIT;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        log_error("store: converting %s: dropping the old tables: %s", path, sqlite3_errmsg(v->db));
        sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    log_info("store: %s converted to chunk rows: %lld samples, counted in both", path,
             (long long)after);
    return 0;
}

static int run(struct conv *v, const char *path, int64_t next)
{
    int64_t total = count_of(v->db, "SELECT count(*) FROM series");
    int64_t done = count_of(v->db, "SELECT count(*) FROM series WHERE id < (SELECT value FROM"
                                   " store_meta WHERE key = 'convert_next')");
    if (total > 0)
        log_info("store: converting %s to chunk rows: %lld of %lld series done before", path,
                 (long long)done, (long long)total);
    uint64_t said = util_mono_ns();
    int n;
    while ((n = batch(v, &next, &done)) > 0)
        if (util_mono_ns() - said >= PROGRESS_EVERY_NS) {
            said = util_mono_ns();
            log_info("store: converting %s: %lld of %lld series, %lld samples so far", path,
                     (long long)done, (long long)total, (long long)v->samples);
        }
    return n < 0 ? -1 : finish(v, path);
}

int store_convert(sqlite3 *db, struct chunkstore *c, const char *path)
{
    int64_t next;
    int has = get_meta(db, "convert_next", &next);
    if (has <= 0)
        return has; /* 0: nothing to convert */
    struct conv v = {.db = db, .c = c};
    int rc = -1;
    if (prepare(db, "SELECT ts, value FROM samples WHERE series = ?1 ORDER BY ts", &v.raw) ||
        prepare(db,
                "SELECT ts, n, sum_value, min_value, max_value, last_ts, last_value FROM"
                " rollup_1m WHERE series = ?1 AND ts + 60000 <= ?2 ORDER BY ts",
                &v.minutes) ||
        prepare(db,
                "SELECT ts, n, sum_value, min_value, max_value, last_ts, last_value FROM"
                " rollup_1h WHERE series = ?1 AND ts + 3600000 <= ?2 ORDER BY ts",
                &v.hours) ||
        prepare(db,
                "INSERT OR IGNORE INTO chunks (series, start, n, sum_value, min_value, max_value,"
                " last_ts, last_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &v.agg_row) ||
        prepare(db, "SELECT id FROM series WHERE id >= ?1 ORDER BY id", &v.next_ids) ||
        prepare(db, "UPDATE store_meta SET value = ?1 WHERE key = 'convert_next'", &v.set_next))
        goto out;
    rc = run(&v, path, next);
out:
    sqlite3_finalize(v.raw);
    sqlite3_finalize(v.minutes);
    sqlite3_finalize(v.hours);
    sqlite3_finalize(v.agg_row);
    sqlite3_finalize(v.next_ids);
    sqlite3_finalize(v.set_next);
    free(v.pts);
    return rc;
}
