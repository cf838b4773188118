/* query.c — see query.h. */
#include "query.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "util.h"
#include "rollup.h"

static const char *const agg_names[] = {
    [QUERY_AVG] = "avg", [QUERY_MIN] = "min",     [QUERY_MAX] = "max",
    [QUERY_SUM] = "sum", [QUERY_COUNT] = "count", [QUERY_LAST] = "last",
};

int query_agg_parse(const char *name, enum query_agg *out)
{
    for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++) {
        if (strcmp(name, agg_names[i]) == 0) {
            *out = (enum query_agg)i;
            return 0;
        }
    }
    return -1;
}

const char *query_agg_name(enum query_agg agg)
{
    return (unsigned)agg < sizeof agg_names / sizeof agg_names[0] ? agg_names[agg] : "?";
}

enum query_stmt {
    QS_RAW,
    QS_MINUTES,
    QS_HOURS,
    QS_FIRST_RAW,
    QS_FIRST_HOUR,
    QS_SERIES_LAST,
    QS_COUNT_RAW,
    QS_COUNT
};

static const char *const query_sql[QS_COUNT] = {
    [QS_RAW] = "SELECT ts, value FROM samples WHERE series = ?1 AND ts >= ?2 AND ts < ?3"
               " ORDER BY ts LIMIT ?4",
    [QS_MINUTES] = "SELECT ts, min_value, max_value, sum_value, n, last_value, last_ts"
                   " FROM rollup_1m WHERE series = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    [QS_HOURS] = "SELECT ts, min_value, max_value, sum_value, n, last_value, last_ts"
                 " FROM rollup_1h WHERE series = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    [QS_FIRST_RAW] = "SELECT ts FROM samples WHERE series = ?1 ORDER BY ts LIMIT 1",
    [QS_FIRST_HOUR] = "SELECT ts FROM rollup_1h WHERE series = ?1 ORDER BY ts LIMIT 1",
    [QS_SERIES_LAST] = "SELECT last_ts FROM series WHERE id = ?1 AND last_ts IS NOT NULL",
    [QS_COUNT_RAW] = "SELECT count(*) FROM (SELECT 1 FROM samples WHERE series = ?1"
                     " AND ts >= ?2 AND ts <= ?3 LIMIT ?4)",
};

struct query_db {
    sqlite3 *db;
    sqlite3_stmt *st[QS_COUNT];
    char error[256];
};

sqlite3 *query_sqlite(struct query_db *q)
{
    return q->db;
}

static int fail(struct query_db *q, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct query_db *q, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->error, sizeof q->error, fmt, ap);
    va_end(ap);
    if (status == QUERY_EDB)
        log_warn("query: %s", q->error);
    return status;
}

static int db_fail(struct query_db *q, const char *what)
{
    return fail(q, QUERY_EDB, "%s: %s", what, sqlite3_errmsg(q->db));
}

const char *query_error(const struct query_db *q)
{
    return q->error;
}

int query_open(struct query_db **out, const char *path)
{
    struct query_db *q = calloc(1, sizeof *q);
    if (!q) {
        log_error("query: out of memory");
        return -1;
    }
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        log_error("query: cannot open %s: %s", path, q->db ? sqlite3_errmsg(q->db) : "no memory");
        goto fail;
    }
    sqlite3_busy_timeout(q->db, 5000);
    /* Rollups need schema 2 (the store migrates before it lets anyone read). */
    int v = db_user_version(q->db);
    if (v < 2) {
        log_error("query: %s has schema version %d; need 2 or later (open the store first)", path,
                  v);
        goto fail;
    }
    sqlite3_exec(q->db, "PRAGMA cache_size = -16384", NULL, NULL, NULL);
    if (db_prepare_all(q->db, query_sql, q->st, QS_COUNT, "query") != 0)
        goto fail;
    *out = q;
    return 0;
fail:
    query_close(q);
    return -1;
}

void query_close(struct query_db *q)
{
    if (!q)
        return;
    db_finalize_all(q->st, QS_COUNT);
    sqlite3_close(q->db);
    free(q);
}

/* ---- one read transaction per call ------------------------------------- */

static int begin_read(struct query_db *q)
{
    q->error[0] = '\0';
    if (sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(q, "BEGIN");
    return QUERY_OK;
}

/* Ends the read transaction; keeps the first failure's status. */
static int end_read(struct query_db *q, int status)
{
    for (int i = 0; i < QS_COUNT; i++)
        sqlite3_reset(q->st[i]);
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && status == QUERY_OK)
        return db_fail(q, "COMMIT");
    return status;
}

/* ---- series selection -------------------------------------------------- */

static int check_filter(struct query_db *q, const struct query_filter *f)
{
    if (f->n_labels < 0 || f->n_labels > QUERY_MAX_LABELS)
        return fail(q, QUERY_EINVAL, "at most %d label filters", QUERY_MAX_LABELS);
    for (int i = 0; i < f->n_labels; i++) {
        if (!util_is_label_key(f->labels[i].key))
            return fail(q, QUERY_EINVAL, "label name must match [a-z0-9_]{1,32}");
        if (!f->labels[i].value)
            return fail(q, QUERY_EINVAL, "label %s has no value", f->labels[i].key);
    }
    return QUERY_OK;
}

#define SERIES_SQL_MAX 1024

/* The matching series, ordered by name (listing, queries) or by id from
 * `min_id` (export cursor). Parameters are bound in the order written. */
static int prepare_series(struct query_db *q, const struct query_filter *f, bool by_id,
                          int64_t min_id, const struct query_cursor *cur, sqlite3_stmt **out)
{
    char sql[SERIES_SQL_MAX], paths[QUERY_MAX_LABELS][40];
    size_t n = (size_t)snprintf(sql, sizeof sql,
                                "SELECT id, program, unit, metric, labels, last_ts, last_value"
                                " FROM series WHERE 1");
#define APPEND(text) n += (size_t)snprintf(sql + n, sizeof sql - n, "%s", text)
    if (f->program)
        APPEND(" AND program = ?");
    if (f->unit)
        APPEND(" AND unit = ?");
    if (f->metric)
        APPEND(" AND metric = ?");
    for (int i = 0; i < f->n_labels; i++)
        APPEND(" AND json_extract(labels, ?) = ?");
    bool after = !by_id && cur && cur->started;
    if (after) /* the series begun last again when its points go on */
        APPEND(cur->in_series ? " AND (program, unit, metric, labels) >= (?, ?, ?, ?)"
                              : " AND (program, unit, metric, labels) > (?, ?, ?, ?)");
    if (by_id)
        APPEND(" AND id >= ? ORDER BY id");
    else
        APPEND(" ORDER BY program, unit, metric, labels");
#undef APPEND
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(q, "selecting series");
    int p = 1;
    if (f->program)
        sqlite3_bind_text(st, p++, f->program, -1, SQLITE_STATIC);
    if (f->unit)
        sqlite3_bind_text(st, p++, f->unit, -1, SQLITE_STATIC);
    if (f->metric)
        sqlite3_bind_text(st, p++, f->metric, -1, SQLITE_STATIC);
    for (int i = 0; i < f->n_labels; i++) {
        snprintf(paths[i], sizeof paths[i], "$.\"%s\"", f->labels[i].key);
        sqlite3_bind_text(st, p++, paths[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, p++, f->labels[i].value, -1, SQLITE_STATIC);
    }
    for (int i = 0; after && i < 4; i++)
        sqlite3_bind_text(st, p++, cur->key[i], -1, SQLITE_TRANSIENT); /* moves meanwhile */
    if (by_id)
        sqlite3_bind_int64(st, p++, min_id);
    *out = st;
    return QUERY_OK;
}

static void read_series(sqlite3_stmt *st, struct query_series *s)
{
    s->id = sqlite3_column_int64(st, 0);
    s->program = (const char *)sqlite3_column_text(st, 1);
    s->unit = (const char *)sqlite3_column_text(st, 2);
    s->metric = (const char *)sqlite3_column_text(st, 3);
    s->labels_json = (const char *)sqlite3_column_text(st, 4);
    s->has_last = sqlite3_column_type(st, 5) != SQLITE_NULL;
    s->last_ts = sqlite3_column_int64(st, 5);
    s->last_value = sqlite3_column_double(st, 6);
}

int query_series_list(struct query_db *q, const struct query_filter *f,
                      int (*fn)(void *ctx, const struct query_series *s), void *ctx)
{
    int status = check_filter(q, f);
    if (status != QUERY_OK)
        return status;
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    sqlite3_stmt *st;
    if ((status = prepare_series(q, f, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(st, &s);
        if (fn(ctx, &s) != 0) {
            status = QUERY_EABORT;
            break;
        }
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    sqlite3_finalize(st);
    return end_read(q, status);
}

/* ---- choosing a step ---------------------------------------------------- */

/* Steps snap to whole seconds, minutes or hours: minute and hour multiples
 * are what the rollups can serve. */
static int64_t round_step(int64_t s)
{
    if (s < 1000)
        return s < 1 ? 1 : s;
    if (s < ROLLUP_MINUTE_MS)
        return rollup_ceil(s, 1000);
    if (s < ROLLUP_HOUR_MS)
        return rollup_ceil(s, ROLLUP_MINUTE_MS);
    return rollup_ceil(s, ROLLUP_HOUR_MS);
}

static int64_t buckets_over(int64_t from, int64_t to, int64_t step, int64_t tz)
{
    return (rollup_floor(to + tz, step) - rollup_floor(from + tz, step)) / step + 1;
}

int64_t query_pick_step(int64_t from, int64_t to, int points, int64_t tz_offset_ms)
{
    if (points <= 0 || to < from)
        return 0;
    int64_t span = to - from + 1;
    int64_t s = round_step((span + points - 1) / points);
    /* Alignment can add a bucket: try the next few steps up. */
    for (int i = 0; i < 64 && buckets_over(from, to, s, tz_offset_ms) > points; i++)
        s = round_step(s + 1);
    if (buckets_over(from, to, s, tz_offset_ms) <= points)
        return s;
    if (points > 1) /* span / (points - 1) never gives more than `points` */
        return round_step((span + points - 2) / (points - 1));
    while (buckets_over(from, to, s, tz_offset_ms) > 1)
        s = round_step(2 * s);
    return s;
}

/* ---- bucketed series ---------------------------------------------------- */

enum piece_kind { PIECE_RAW, PIECE_MINUTES, PIECE_HOURS };

/* State of one series' bucketed read. Pieces of the range arrive in ts
 * order; adjacent pieces of one kind are merged and read with one range scan;
 * rows are folded into the current bucket, emitted when the next begins. */
struct bucketer {
    struct query_db *q;
    const struct query_sink *sink;
    int64_t series;
    struct rollup_horizons h;
    int64_t step, tz;
    enum query_agg agg;
    enum piece_kind kind; /* the piece not read yet: [piece_from, piece_to) */
    int64_t piece_from, piece_to;
    int64_t cur_start; /* the bucket being accumulated */
    struct rollup_agg cur;
    struct rollup_agg *total; /* one bucket over the whole range (query_aggregate) */
    int status;
};

static double agg_value(enum query_agg agg, const struct rollup_agg *a)
{
    switch (agg) {
    case QUERY_MIN:
        return a->min;
    case QUERY_MAX:
        return a->max;
    case QUERY_SUM:
        return a->sum;
    case QUERY_COUNT:
        return (double)a->count;
    case QUERY_LAST:
        return a->last;
    case QUERY_AVG:
    default:
        return a->sum / (double)a->count;
    }
}

static int emit(struct bucketer *b)
{
    if (b->total) {
        rollup_agg_merge(b->total, &b->cur);
        rollup_agg_init(&b->cur);
        return QUERY_OK;
    }
    /* count 0 can only be a delta without its sample: nothing to report. */
    if (rollup_agg_empty(&b->cur) || b->cur.count == 0)
        return QUERY_OK;
    if (b->sink->point && b->sink->point(b->sink->ctx, b->cur_start, agg_value(b->agg, &b->cur)))
        return QUERY_EABORT;
    rollup_agg_init(&b->cur);
    return QUERY_OK;
}

/* Moves to the bucket holding ts, emitting the previous one. */
static int enter_bucket(struct bucketer *b, int64_t ts)
{
    if (b->total)
        return QUERY_OK;
    int64_t start = rollup_floor(ts + b->tz, b->step) - b->tz;
    if (start == b->cur_start)
        return QUERY_OK;
    int status = emit(b);
    rollup_agg_init(&b->cur);
    b->cur_start = start;
    return status;
}

static int read_raw_piece(struct bucketer *b, int64_t from, int64_t to)
{
    sqlite3_stmt *st = b->q->st[QS_RAW];
    sqlite3_bind_int64(st, 1, b->series);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    sqlite3_bind_int64(st, 4, -1);
    int rc = SQLITE_DONE, status = QUERY_OK;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 0);
        status = enter_bucket(b, ts);
        rollup_agg_add(&b->cur, ts, sqlite3_column_double(st, 1));
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(b->q, "reading samples");
    sqlite3_reset(st);
    return status;
}

/* Rollup rows: each lies wholly in the bucket holding its start. */
static int read_rollup_piece(struct bucketer *b, enum query_stmt which, int64_t from, int64_t to)
{
    sqlite3_stmt *st = b->q->st[which];
    sqlite3_bind_int64(st, 1, b->series);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    int rc = SQLITE_DONE, status = QUERY_OK;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollup_agg row = {sqlite3_column_double(st, 1), sqlite3_column_double(st, 2),
                                 sqlite3_column_double(st, 3), sqlite3_column_double(st, 5),
                                 sqlite3_column_int64(st, 4),  sqlite3_column_int64(st, 6)};
        status = enter_bucket(b, sqlite3_column_int64(st, 0));
        rollup_agg_merge(&b->cur, &row);
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(b->q, "reading rollups");
    sqlite3_reset(st);
    return status;
}

static int read_piece(struct bucketer *b)
{
    int64_t from = b->piece_from, to = b->piece_to;
    b->piece_from = b->piece_to = 0;
    if (from >= to)
        return QUERY_OK;
    switch (b->kind) {
    case PIECE_MINUTES:
        return read_rollup_piece(b, QS_MINUTES, from, to);
    case PIECE_HOURS:
        return read_rollup_piece(b, QS_HOURS, from, to);
    case PIECE_RAW:
    default:
        return read_raw_piece(b, from, to);
    }
}

static void add_piece(struct bucketer *b, enum piece_kind kind, int64_t from, int64_t to)
{
    if (from >= to || b->status != QUERY_OK)
        return;
    if (b->piece_from < b->piece_to && b->kind == kind && b->piece_to == from) {
        b->piece_to = to;
        return;
    }
    b->status = read_piece(b);
    b->kind = kind;
    b->piece_from = from;
    b->piece_to = to;
}

/* Minute-aligned [from, to): whole hours from rollup_1h, the rest minutes. */
static void add_minutes_and_hours(struct bucketer *b, int64_t from, int64_t to)
{
    int64_t h1 = rollup_ceil(from, ROLLUP_HOUR_MS), h2 = rollup_floor(to, ROLLUP_HOUR_MS);
    if (h1 >= h2) {
        add_piece(b, PIECE_MINUTES, from, to);
        return;
    }
    add_piece(b, PIECE_MINUTES, from, h1);
    add_piece(b, PIECE_HOURS, h1, h2);
    add_piece(b, PIECE_MINUTES, h2, to);
}

/* Below W with raw intact: exact, with raw samples for the ragged edges. */
static void add_exact(struct bucketer *b, int64_t from, int64_t to)
{
    int64_t m1 = rollup_ceil(from, ROLLUP_MINUTE_MS), m2 = rollup_floor(to, ROLLUP_MINUTE_MS);
    if (m1 >= m2) {
        add_piece(b, PIECE_RAW, from, to);
        return;
    }
    add_piece(b, PIECE_RAW, from, m1);
    add_minutes_and_hours(b, m1, m2);
    add_piece(b, PIECE_RAW, m2, to);
}

/* One bucket's share [from, to) of the range, cut by the horizons: below MF
 * hours only, below RF minutes and hours (snapped: a row belongs to the
 * bucket holding its start), below W exact, from W on raw. */
static void add_bucket(struct bucketer *b, int64_t from, int64_t to)
{
    const struct rollup_horizons *h = &b->h;
    if (from < h->minute_floor) {
        int64_t end = to < h->minute_floor ? to : h->minute_floor;
        add_piece(b, PIECE_HOURS, rollup_ceil(from, ROLLUP_HOUR_MS),
                  rollup_ceil(end, ROLLUP_HOUR_MS));
        from = end;
    }
    if (from < to && from < h->raw_floor) {
        int64_t end = to < h->raw_floor ? to : h->raw_floor;
        add_minutes_and_hours(b, rollup_ceil(from, ROLLUP_MINUTE_MS),
                              rollup_ceil(end, ROLLUP_MINUTE_MS));
        from = end;
    }
    if (from < to && from < h->watermark) {
        int64_t end = to < h->watermark ? to : h->watermark;
        add_exact(b, from, end);
        from = end;
    }
    add_piece(b, PIECE_RAW, from, to);
}

/* The first ts the series may have data at (an hour row start or a raw ts). */
static int first_ts(struct query_db *q, int64_t series, int64_t *out)
{
    *out = INT64_MAX;
    for (int which = QS_FIRST_RAW; which <= QS_FIRST_HOUR; which++) {
        sqlite3_stmt *st = q->st[which];
        sqlite3_bind_int64(st, 1, series);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) < *out)
            *out = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(q, "finding a series' first sample");
    }
    return QUERY_OK;
}

static int bucket_series(struct bucketer *b, const struct query_series *s, int64_t from, int64_t to)
{
    if (!s->has_last)
        return QUERY_OK;
    int64_t first;
    int status = first_ts(b->q, s->id, &first);
    if (status != QUERY_OK)
        return status;
    /* Only the span holding data is walked: the buckets stay where they are. */
    if (first > from)
        from = first;
    if (s->last_ts < to)
        to = s->last_ts;
    if (from > to)
        return QUERY_OK;
    b->series = s->id;
    b->cur_start = INT64_MIN;
    rollup_agg_init(&b->cur);
    b->piece_from = b->piece_to = 0;
    b->status = QUERY_OK;
    if (b->step < ROLLUP_MINUTE_MS) {
        add_piece(b, PIECE_RAW, from, to + 1); /* no whole minute in any bucket */
    } else {
        for (int64_t start = rollup_floor(from + b->tz, b->step) - b->tz;
             start <= to && b->status == QUERY_OK; start += b->step)
            add_bucket(b, start > from ? start : from,
                       start + b->step <= to ? start + b->step : to + 1);
    }
    if (b->status == QUERY_OK)
        b->status = read_piece(b);
    if (b->status == QUERY_OK)
        b->status = emit(b);
    return b->status;
}

static int raw_series(struct query_db *q, const struct query_sink *sink, int64_t series,
                      int64_t from, int64_t to)
{
    sqlite3_stmt *st = q->st[QS_RAW];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to + 1);
    sqlite3_bind_int64(st, 4, -1);
    int rc = SQLITE_DONE, status = QUERY_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sink->point &&
            sink->point(sink->ctx, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1))) {
            status = QUERY_EABORT;
            break;
        }
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(q, "reading samples");
    sqlite3_reset(st);
    return status;
}

static int check_range(struct query_db *q, int64_t from, int64_t to)
{
    if (from < -QUERY_TS_LIMIT || from > QUERY_TS_LIMIT || to < -QUERY_TS_LIMIT ||
        to > QUERY_TS_LIMIT)
        return fail(q, QUERY_EINVAL, "from and to must be within +-%lld ms of the epoch",
                    (long long)QUERY_TS_LIMIT);
    if (from > to)
        return fail(q, QUERY_EINVAL, "from is after to");
    return QUERY_OK;
}

static int check_req(struct query_db *q, const struct query_req *req)
{
    int status = check_filter(q, &req->filter);
    if (status == QUERY_OK)
        status = check_range(q, req->from, req->to);
    if (status != QUERY_OK)
        return status;
    if (req->step < 0 || req->step > QUERY_TS_LIMIT)
        return fail(q, QUERY_EINVAL, "step must be a positive number of milliseconds");
    if (req->points < 0)
        return fail(q, QUERY_EINVAL, "points must be positive");
    if (req->tz_offset_ms < -ROLLUP_DAY_MS || req->tz_offset_ms > ROLLUP_DAY_MS)
        return fail(q, QUERY_EINVAL, "tz offset must be within +-24:00");
    if ((unsigned)req->agg > QUERY_LAST)
        return fail(q, QUERY_EINVAL, "unknown agg");
    return QUERY_OK;
}

/* One series' points from `from` on; its begin only when `begin`. */
static int run_series_from(struct query_db *q, const struct query_req *req,
                           const struct query_sink *sink, struct bucketer *b,
                           const struct query_series *s, bool begin, int64_t from)
{
    if (begin && sink->series_begin && sink->series_begin(sink->ctx, s))
        return QUERY_EABORT;
    int status =
        b->step ? bucket_series(b, s, from, req->to) : raw_series(q, sink, s->id, from, req->to);
    if (status == QUERY_OK && sink->series_end && sink->series_end(sink->ctx, s))
        status = QUERY_EABORT;
    return status;
}

/* Checks req and works out its step. */
static int start_run(struct query_db *q, const struct query_req *req, int64_t *step,
                     int64_t *step_used)
{
    q->error[0] = '\0';
    int status = check_req(q, req);
    if (status != QUERY_OK)
        return status;
    *step =
        req->step ? req->step : query_pick_step(req->from, req->to, req->points, req->tz_offset_ms);
    if (step_used)
        *step_used = *step;
    return QUERY_OK;
}

int query_run(struct query_db *q, const struct query_req *req, const struct query_sink *sink,
              int64_t *step_used)
{
    int64_t step;
    int status = start_run(q, req, &step, step_used);
    if (status != QUERY_OK)
        return status;
    struct bucketer b = {
        .q = q, .sink = sink, .step = step, .tz = req->tz_offset_ms, .agg = req->agg};
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    if (rollup_read_horizons(q->db, &b.h) != 0)
        return end_read(q, db_fail(q, "reading horizons"));
    sqlite3_stmt *st;
    if ((status = prepare_series(q, &req->filter, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(st, &s);
        status = run_series_from(q, req, sink, &b, &s, true, req->from);
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    sqlite3_finalize(st);
    return end_read(q, status);
}

/* ---- answers in chunks -------------------------------------------------- */

void query_cursor_free(struct query_cursor *c)
{
    for (int i = 0; i < 4; i++) {
        free(c->key[i]);
        c->key[i] = NULL;
    }
}

static int cursor_set(struct query_cursor *c, const struct query_series *s)
{
    const char *v[4] = {s->program, s->unit, s->metric, s->labels_json};
    for (int i = 0; i < 4; i++) {
        char *copy = strdup(v[i]);
        if (!copy)
            return -1;
        free(c->key[i]);
        c->key[i] = copy;
    }
    c->started = true;
    return 0;
}

static bool cursor_at(const struct query_cursor *c, const struct query_series *s)
{
    const char *v[4] = {s->program, s->unit, s->metric, s->labels_json};
    for (int i = 0; i < 4; i++)
        if (!c->key[i] || strcmp(c->key[i], v[i]) != 0)
            return false;
    return true;
}

int query_series_chunk(struct query_db *q, const struct query_filter *f, struct query_cursor *cur,
                       int (*fn)(void *ctx, const struct query_series *s), void *ctx)
{
    q->error[0] = '\0';
    int status = check_filter(q, f);
    if (status != QUERY_OK || cur->done)
        return status;
    cur->in_series = false;
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    sqlite3_stmt *st;
    if ((status = prepare_series(q, f, false, 0, cur, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    bool full = false;
    while (!full && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(st, &s);
        int r = fn(ctx, &s);
        if (r != 0 && r != QUERY_SINK_FULL) {
            status = QUERY_EABORT;
            break;
        }
        full = r == QUERY_SINK_FULL;
        if (full && cursor_set(cur, &s) != 0)
            status = fail(q, QUERY_EDB, "out of memory");
    }
    if (status == QUERY_OK && !full && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    if (status == QUERY_OK && !full)
        cur->done = true;
    sqlite3_finalize(st);
    return end_read(q, status);
}

/* Between a chunked query and its caller's sink: moves the cursor past
 * each item taken and turns QUERY_SINK_FULL into a stop. */
struct chunk_sink {
    const struct query_sink *user;
    struct query_cursor *cur;
    int64_t step;
    bool full, oom;
};

static int chunk_taken(struct chunk_sink *c, int r)
{
    if (r == QUERY_SINK_FULL)
        c->full = true;
    return r == 0 ? 0 : 1;
}

static int chunk_begin(void *ctx, const struct query_series *s)
{
    struct chunk_sink *c = ctx;
    int r = c->user->series_begin ? c->user->series_begin(c->user->ctx, s) : 0;
    if (r != 0 && r != QUERY_SINK_FULL)
        return r;
    if (cursor_set(c->cur, s) != 0) {
        c->oom = true;
        return 1;
    }
    c->cur->in_series = true;
    c->cur->resume_from = INT64_MIN;
    return chunk_taken(c, r);
}

static int chunk_point(void *ctx, int64_t ts, double value)
{
    struct chunk_sink *c = ctx;
    int r = c->user->point ? c->user->point(c->user->ctx, ts, value) : 0;
    if (r != 0 && r != QUERY_SINK_FULL)
        return r;
    /* A bucket's ts is its start: the next one starts a step later, so a
     * chunk that goes on from there reads whole buckets as one read would. */
    c->cur->resume_from = c->step ? ts + c->step : ts + 1;
    return chunk_taken(c, r);
}

static int chunk_end(void *ctx, const struct query_series *s)
{
    struct chunk_sink *c = ctx;
    int r = c->user->series_end ? c->user->series_end(c->user->ctx, s) : 0;
    if (r != 0 && r != QUERY_SINK_FULL)
        return r;
    c->cur->in_series = false;
    return chunk_taken(c, r);
}

int query_run_chunk(struct query_db *q, const struct query_req *req, struct query_cursor *cur,
                    const struct query_sink *sink, int64_t *step_used)
{
    int64_t step;
    int status = start_run(q, req, &step, step_used);
    if (status != QUERY_OK || cur->done)
        return status;
    struct chunk_sink cs = {.user = sink, .cur = cur, .step = step};
    struct query_sink wrapped = {&cs, chunk_begin, chunk_point, chunk_end};
    struct bucketer b = {
        .q = q, .sink = &wrapped, .step = step, .tz = req->tz_offset_ms, .agg = req->agg};
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    if (rollup_read_horizons(q->db, &b.h) != 0)
        return end_read(q, db_fail(q, "reading horizons"));
    sqlite3_stmt *st;
    if ((status = prepare_series(q, &req->filter, false, 0, cur, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && !cs.full && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(st, &s);
        bool goes_on = cur->in_series && cursor_at(cur, &s);
        int64_t from = goes_on && cur->resume_from != INT64_MIN ? cur->resume_from : req->from;
        status = run_series_from(q, req, &wrapped, &b, &s, !goes_on, from);
        if (status == QUERY_EABORT && cs.oom)
            status = fail(q, QUERY_EDB, "out of memory");
        else if (status == QUERY_EABORT && cs.full)
            status = QUERY_OK;
    }
    if (status == QUERY_OK && !cs.full && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    if (status == QUERY_OK && !cs.full)
        cur->done = true;
    sqlite3_finalize(st);
    return end_read(q, status);
}

int query_count_raw(struct query_db *q, const struct query_filter *f, int64_t from, int64_t to,
                    int64_t limit, int64_t *out)
{
    q->error[0] = '\0';
    *out = 0;
    int status = check_filter(q, f);
    if (status != QUERY_OK)
        return status;
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    sqlite3_stmt *st, *count = q->st[QS_COUNT_RAW];
    if ((status = prepare_series(q, f, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && *out <= limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_bind_int64(count, 1, sqlite3_column_int64(st, 0));
        sqlite3_bind_int64(count, 2, from);
        sqlite3_bind_int64(count, 3, to);
        sqlite3_bind_int64(count, 4, limit + 1 - *out);
        if (sqlite3_step(count) == SQLITE_ROW)
            *out += sqlite3_column_int64(count, 0);
        else
            status = db_fail(q, "counting samples");
        sqlite3_reset(count);
    }
    if (status == QUERY_OK && *out <= limit && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    sqlite3_finalize(st);
    return end_read(q, status);
}

/* ---- one aggregate per series (KPIs) ------------------------------------ */

/* The series' latest ts, or false when it has no sample. */
static int series_last_ts(struct query_db *q, int64_t series, bool *has, int64_t *out)
{
    sqlite3_stmt *st = q->st[QS_SERIES_LAST];
    sqlite3_bind_int64(st, 1, series);
    int rc = sqlite3_step(st);
    *has = rc == SQLITE_ROW;
    *out = *has ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? QUERY_OK : db_fail(q, "reading a series");
}

/* One series' samples in [from, to] as one aggregate, cut by the horizons
 * exactly as a query's buckets are (whole hours and minutes from rollups). */
static int aggregate_series(struct bucketer *b, int64_t series, int64_t from, int64_t to)
{
    /* An unbounded end (a `total` period) is clipped to the series' data;
     * a bounded range is read as it is (a short one costs a few seeks). */
    if (from == INT64_MIN || to == INT64_MAX) {
        bool has_last;
        int64_t last, first;
        int status = series_last_ts(b->q, series, &has_last, &last);
        if (status == QUERY_OK && has_last)
            status = first_ts(b->q, series, &first);
        if (status != QUERY_OK || !has_last)
            return status;
        if (first > from)
            from = first;
        if (last < to)
            to = last;
    }
    if (from > to)
        return QUERY_OK;
    b->series = series;
    rollup_agg_init(&b->cur);
    b->piece_from = b->piece_to = 0;
    b->status = QUERY_OK;
    add_bucket(b, from, to + 1);
    if (b->status == QUERY_OK)
        b->status = read_piece(b);
    if (b->status == QUERY_OK)
        b->status = emit(b);
    return b->status;
}

int query_aggregate(struct query_db *q, const int64_t *series, const int64_t *from,
                    const int64_t *to, size_t n, struct rollup_agg *out)
{
    q->error[0] = '\0';
    for (size_t i = 0; i < n; i++)
        rollup_agg_init(&out[i]);
    struct bucketer b = {.q = q};
    int status = begin_read(q);
    if (status != QUERY_OK)
        return status;
    if (rollup_read_horizons(q->db, &b.h) != 0)
        return end_read(q, db_fail(q, "reading horizons"));
    for (size_t i = 0; i < n && status == QUERY_OK; i++) {
        b.total = &out[i];
        if (from[i] <= to[i])
            status = aggregate_series(&b, series[i], from[i], to[i]);
    }
    return end_read(q, status);
}

int query_series_aggregate(struct query_db *q, const struct query_filter *f, int64_t from,
                           int64_t to, const struct query_aggregate_sink *sink)
{
    q->error[0] = '\0';
    int status = check_filter(q, f);
    if (status != QUERY_OK)
        return status;
    struct bucketer b = {.q = q};
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    if (rollup_read_horizons(q->db, &b.h) != 0)
        return end_read(q, db_fail(q, "reading horizons"));
    sqlite3_stmt *st;
    if ((status = prepare_series(q, f, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(st, &s);
        if (!sink->keep(sink->ctx, &s))
            continue;
        struct rollup_agg agg;
        rollup_agg_init(&agg);
        b.total = &agg;
        if (from <= to)
            status = aggregate_series(&b, s.id, from, to);
        if (status == QUERY_OK && sink->add(sink->ctx, &s, &agg) != 0)
            status = QUERY_EABORT;
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    sqlite3_finalize(st);
    return end_read(q, status);
}

/* ---- export ------------------------------------------------------------- */

/* Delivers up to `budget` rows of one series after `after` (inclusive lower
 * bound), moving the cursor row by row. Returns rows delivered or < 0. */
static int export_series(struct query_db *q, const struct query_series *s, int64_t after,
                         int64_t to, int budget, struct query_export_cursor *cur,
                         int (*fn)(void *, const struct query_series *, int64_t, double), void *ctx)
{
    sqlite3_stmt *st = q->st[QS_RAW];
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, to + 1);
    sqlite3_bind_int64(st, 4, budget);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 0);
        if (fn(ctx, s, ts, sqlite3_column_double(st, 1))) {
            sqlite3_reset(st);
            return QUERY_EABORT;
        }
        *cur = (struct query_export_cursor){.series = s->id, .ts = ts, .started = true};
        n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : db_fail(q, "reading samples");
}

int query_export_chunk(struct query_db *q, const struct query_filter *f, int64_t from, int64_t to,
                       struct query_export_cursor *cur, int max_rows,
                       int (*fn)(void *ctx, const struct query_series *s, int64_t ts, double value),
                       void *ctx)
{
    q->error[0] = '\0';
    int status = check_filter(q, f);
    if (status == QUERY_OK)
        status = check_range(q, from, to);
    if (status != QUERY_OK)
        return status;
    if (max_rows <= 0)
        return fail(q, QUERY_EINVAL, "max_rows must be positive");
    if (cur->done)
        return 0;
    if ((status = begin_read(q)) != QUERY_OK)
        return status;
    sqlite3_stmt *st;
    if ((status = prepare_series(q, f, true, cur->started ? cur->series : INT64_MIN, NULL, &st)) !=
        QUERY_OK)
        return end_read(q, status);
    int delivered = 0, rc = SQLITE_DONE;
    while (delivered < max_rows && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(st, &s);
        int64_t after = cur->started && s.id == cur->series ? cur->ts + 1 : from;
        if (after > to)
            continue;
        int n = export_series(q, &s, after, to, max_rows - delivered, cur, fn, ctx);
        if (n < 0) {
            status = n;
            break;
        }
        delivered += n;
    }
    if (status == QUERY_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        status = db_fail(q, "reading series");
    if (status == QUERY_OK && delivered < max_rows)
        cur->done = true;
    sqlite3_finalize(st);
    status = end_read(q, status);
    return status == QUERY_OK ? delivered : status;
}
