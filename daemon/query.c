/* query.c — see query.h. */
#include "query.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "chunk.h"
#include "db.h"
#include "head.h"
#include "log.h"
#include "util.h"

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

enum query_stmt { QS_CHUNKS, QS_COUNT };

static const char *const query_sql[QS_COUNT] = {
    /* A row's samples all lie in the hour of its start (chunkstore.h). */
    [QS_CHUNKS] = "SELECT start, n, sum_value, min_value, max_value, last_ts, last_value, data"
                  " FROM chunks WHERE series = ?1 AND start >= ?2 AND start <= ?3 ORDER BY start",
};

struct query_db {
    sqlite3 *db;
    sqlite3_stmt *st[QS_COUNT];
    struct head *head;            /* NULL: a database with no store running beside */
    unsigned ticket;              /* head_reader_enter's, while a read is open */
    struct chunk_point *hp, *dec; /* a series' head points; a row decoded */
    size_t hp_cap, dec_cap;
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

int query_open(struct query_db **out, const char *path, struct head *head)
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
    q->head = head;
    /* Chunk rows need schema 7 (the store migrates before it lets anyone read). */
    int v = db_user_version(q->db);
    if (v < 7) {
        log_error("query: %s has schema version %d; need 7 or later (open the store first)", path,
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
    free(q->hp);
    free(q->dec);
    free(q);
}

/* ---- one read transaction per call ------------------------------------- */

/* The head's reader bracket opens before the snapshot and closes after it
 * (head.h): every sample is then in one or the other, or both. */
static int begin_read(struct query_db *q)
{
    q->error[0] = '\0';
    if (q->head)
        q->ticket = head_reader_enter(q->head);
    if (sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        if (q->head)
            head_reader_exit(q->head, q->ticket);
        return db_fail(q, "BEGIN");
    }
    return QUERY_OK;
}

/* Ends the read transaction; keeps the first failure's status. */
static int end_read(struct query_db *q, int status)
{
    for (int i = 0; i < QS_COUNT; i++)
        sqlite3_reset(q->st[i]);
    if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && status == QUERY_OK)
        status = db_fail(q, "COMMIT");
    if (q->head)
        head_reader_exit(q->head, q->ticket);
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

/* A series' row, with its last put right by the head: the row holds it as
 * of the last flush. */
static void read_series(struct query_db *q, sqlite3_stmt *st, struct query_series *s)
{
    s->id = sqlite3_column_int64(st, 0);
    s->program = (const char *)sqlite3_column_text(st, 1);
    s->unit = (const char *)sqlite3_column_text(st, 2);
    s->metric = (const char *)sqlite3_column_text(st, 3);
    s->labels_json = (const char *)sqlite3_column_text(st, 4);
    s->has_last = sqlite3_column_type(st, 5) != SQLITE_NULL;
    s->last_ts = sqlite3_column_int64(st, 5);
    s->last_value = sqlite3_column_double(st, 6);
    struct chunk_point p;
    if (q->head && head_last(q->head, s->id, &p) && (!s->has_last || p.ts >= s->last_ts)) {
        s->has_last = true;
        s->last_ts = p.ts;
        s->last_value = p.value;
    }
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
        read_series(q, st, &s);
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

/* ---- one series' data: chunk rows and the head ------------------------- */

/* Where read_data hands a series' data, in ts order: samples one by one,
 * or a chunk row whole (its aggregate) when `whole` allows it. */
struct data_sink {
    void *ctx;
    bool (*whole)(void *ctx, int64_t start, int64_t last_ts); /* NULL: never */
    int (*point)(void *ctx, int64_t ts, double value);
    int (*row)(void *ctx, int64_t start, const struct rollup_agg *agg);
};

/* The chunk row's samples, decoded into q->dec. Returns the count, or -1
 * (damaged: the row is skipped and said so once). */
static long decode_row(struct query_db *q, const void *data, size_t len, int64_t start)
{
    long n = chunk_count(data, len);
    if (n > 0 && (size_t)n > q->dec_cap) {
        struct chunk_point *d = realloc(q->dec, (size_t)n * sizeof *d);
        if (!d)
            return -1;
        q->dec = d;
        q->dec_cap = (size_t)n;
    }
    if (n >= 0)
        n = chunk_decode(data, len, q->dec, q->dec_cap);
    if (n < 0)
        log_error("query: a damaged chunk row (series start %lld, %zu bytes) is skipped",
                  (long long)start, len);
    return n;
}

/* Decoded row d[0, n) merged with the head's points up to last_ts (the
 * head wins an equal ts), within [from, to]. */
static int merge_row(struct query_db *q, const struct data_sink *k, long n, size_t hn, size_t *hi,
                     int64_t last_ts, int64_t from, int64_t to)
{
    const struct chunk_point *d = q->dec, *h = q->hp;
    long i = 0;
    while (i < n || (*hi < hn && h[*hi].ts <= last_ts)) {
        struct chunk_point p;
        if (i < n && (*hi == hn || h[*hi].ts > last_ts || d[i].ts < h[*hi].ts))
            p = d[i++];
        else {
            if (i < n && d[i].ts == h[*hi].ts)
                i++;
            p = h[(*hi)++];
        }
        if (p.ts >= from && p.ts <= to && k->point(k->ctx, p.ts, p.value))
            return QUERY_EABORT;
    }
    return QUERY_OK;
}

/* The head's points before `before`, within [from, to]. */
static int head_points(struct query_db *q, const struct data_sink *k, size_t hn, size_t *hi,
                       int64_t before)
{
    for (; *hi < hn && q->hp[*hi].ts < before; (*hi)++)
        if (k->point(k->ctx, q->hp[*hi].ts, q->hp[*hi].value))
            return QUERY_EABORT;
    return QUERY_OK;
}

/* One chunk row: whole, decoded and merged, or (past retention, without
 * samples) its aggregate in the bucket of its start. */
static int data_row(struct query_db *q, sqlite3_stmt *st, const struct data_sink *k, size_t hn,
                    size_t *hi, int64_t from, int64_t to)
{
    int64_t start = sqlite3_column_int64(st, 0);
    struct rollup_agg agg = {sqlite3_column_double(st, 3), sqlite3_column_double(st, 4),
                             sqlite3_column_double(st, 2), sqlite3_column_double(st, 6),
                             sqlite3_column_int64(st, 1),  sqlite3_column_int64(st, 5)};
    int status = head_points(q, k, hn, hi, start);
    if (status != QUERY_OK)
        return status;
    if (sqlite3_column_type(st, 7) == SQLITE_NULL)
        return start >= from && start <= to && k->row(k->ctx, start, &agg) ? QUERY_EABORT
                                                                           : QUERY_OK;
    bool head_inside = *hi < hn && q->hp[*hi].ts <= agg.last_ts;
    if (!head_inside && start >= from && agg.last_ts <= to && k->whole &&
        k->whole(k->ctx, start, agg.last_ts))
        return k->row(k->ctx, start, &agg) ? QUERY_EABORT : QUERY_OK;
    long n = decode_row(q, sqlite3_column_blob(st, 7), (size_t)sqlite3_column_bytes(st, 7), start);
    if (n < 0 && q->dec_cap == 0)
        return fail(q, QUERY_EDB, "out of memory");
    return merge_row(q, k, n < 0 ? 0 : n, hn, hi, agg.last_ts, from, to);
}

/* The series' samples in [from, to] (inclusive), in ts order: its chunk
 * rows merged with its points in the head. Inside a read (begin_read). */
static int read_data(struct query_db *q, int64_t series, int64_t from, int64_t to,
                     const struct data_sink *k)
{
    if (from > to)
        return QUERY_OK;
    long hn = q->head ? head_read(q->head, series, from, to, &q->hp, &q->hp_cap) : 0;
    if (hn < 0)
        return fail(q, QUERY_EDB, "out of memory");
    size_t hi = 0;
    /* A row holds one clock hour: rows that may hold `from` start in its hour. */
    int64_t lo = from < -QUERY_TS_LIMIT ? INT64_MIN : rollup_floor(from, ROLLUP_HOUR_MS);
    sqlite3_stmt *st = q->st[QS_CHUNKS];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, to);
    int rc = SQLITE_DONE, status = QUERY_OK;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        status = data_row(q, st, k, (size_t)hn, &hi, from, to);
    sqlite3_reset(st);
    if (status == QUERY_OK && rc != SQLITE_DONE)
        return db_fail(q, "reading chunk rows");
    if (status == QUERY_OK)
        status = head_points(q, k, (size_t)hn, &hi, INT64_MAX);
    return status;
}

/* ---- bucketed series ---------------------------------------------------- */

/* State of one series' bucketed read: samples and rows arrive in ts order
 * and are folded into the current bucket, emitted when the next begins. */
struct bucketer {
    struct query_db *q;
    const struct query_sink *sink;
    int64_t step, tz;
    enum query_agg agg;
    int64_t cur_start; /* the bucket being accumulated */
    struct rollup_agg cur;
    struct rollup_agg *total; /* one bucket over the whole range (query_aggregate) */
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
    if (rollup_agg_empty(&b->cur) || b->cur.count == 0)
        return QUERY_OK;
    if (b->sink->point && b->sink->point(b->sink->ctx, b->cur_start, agg_value(b->agg, &b->cur)))
        return QUERY_EABORT;
    rollup_agg_init(&b->cur);
    return QUERY_OK;
}

static int64_t bucket_of(const struct bucketer *b, int64_t ts)
{
    return rollup_floor(ts + b->tz, b->step) - b->tz;
}

/* Moves to the bucket holding ts, emitting the previous one. */
static int enter_bucket(struct bucketer *b, int64_t ts)
{
    if (b->total)
        return QUERY_OK;
    int64_t start = bucket_of(b, ts);
    if (start == b->cur_start)
        return QUERY_OK;
    int status = emit(b);
    rollup_agg_init(&b->cur);
    b->cur_start = start;
    return status;
}

static bool bucket_whole(void *ctx, int64_t start, int64_t last_ts)
{
    struct bucketer *b = ctx;
    return b->total || bucket_of(b, start) == bucket_of(b, last_ts);
}

static int bucket_point(void *ctx, int64_t ts, double value)
{
    struct bucketer *b = ctx;
    if (enter_bucket(b, ts) != QUERY_OK)
        return 1;
    rollup_agg_add(&b->cur, ts, value);
    return 0;
}

static int bucket_row(void *ctx, int64_t start, const struct rollup_agg *agg)
{
    struct bucketer *b = ctx;
    if (enter_bucket(b, start) != QUERY_OK)
        return 1;
    rollup_agg_merge(&b->cur, agg);
    return 0;
}

/* One series' buckets (or its total) over [from, to]. */
static int bucket_range(struct bucketer *b, int64_t series, int64_t from, int64_t to)
{
    b->cur_start = INT64_MIN;
    rollup_agg_init(&b->cur);
    struct data_sink k = {b, bucket_whole, bucket_point, bucket_row};
    int status = read_data(b->q, series, from, to, &k);
    return status == QUERY_OK ? emit(b) : status;
}

static int bucket_series(struct bucketer *b, const struct query_series *s, int64_t from, int64_t to)
{
    return s->has_last ? bucket_range(b, s->id, from, to) : QUERY_OK;
}

struct raw_ctx {
    const struct query_sink *sink;
};

static int raw_point(void *ctx, int64_t ts, double value)
{
    const struct raw_ctx *r = ctx;
    return r->sink->point ? r->sink->point(r->sink->ctx, ts, value) : 0;
}

static int raw_row(void *ctx, int64_t start, const struct rollup_agg *agg)
{
    return 0; /* past retention: no samples left to give */
}

static int raw_series(struct query_db *q, const struct query_sink *sink, int64_t series,
                      int64_t from, int64_t to)
{
    struct raw_ctx r = {sink};
    struct data_sink k = {&r, NULL, raw_point, raw_row};
    return read_data(q, series, from, to, &k);
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
    sqlite3_stmt *st;
    if ((status = prepare_series(q, &req->filter, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(q, st, &s);
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
        read_series(q, st, &s);
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
    sqlite3_stmt *st;
    if ((status = prepare_series(q, &req->filter, false, 0, cur, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && !cs.full && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(q, st, &s);
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

struct count_ctx {
    int64_t n, limit;
};

static int count_point(void *ctx, int64_t ts, double value)
{
    struct count_ctx *c = ctx;
    return ++c->n > c->limit; /* past the limit: enough is known */
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
    sqlite3_stmt *st;
    if ((status = prepare_series(q, f, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    struct count_ctx c = {0, limit};
    struct data_sink k = {&c, NULL, count_point, raw_row};
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && c.n <= limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        status = read_data(q, sqlite3_column_int64(st, 0), from, to, &k);
    if (status == QUERY_EABORT && c.n > limit)
        status = QUERY_OK;
    if (status == QUERY_OK && c.n <= limit && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    sqlite3_finalize(st);
    *out = c.n;
    return end_read(q, status);
}

/* ---- one aggregate per series (KPIs) ------------------------------------ */

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
    for (size_t i = 0; i < n && status == QUERY_OK; i++) {
        b.total = &out[i];
        status = bucket_range(&b, series[i], from[i], to[i]);
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
    sqlite3_stmt *st;
    if ((status = prepare_series(q, f, false, 0, NULL, &st)) != QUERY_OK)
        return end_read(q, status);
    int rc = SQLITE_DONE;
    while (status == QUERY_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct query_series s;
        read_series(q, st, &s);
        if (!sink->keep(sink->ctx, &s))
            continue;
        struct rollup_agg agg;
        rollup_agg_init(&agg);
        b.total = &agg;
        if (s.has_last)
            status = bucket_range(&b, s.id, from, to);
        if (status == QUERY_OK && sink->add(sink->ctx, &s, &agg) != 0)
            status = QUERY_EABORT;
    }
    if (status == QUERY_OK && rc != SQLITE_DONE)
        status = db_fail(q, "reading series");
    sqlite3_finalize(st);
    return end_read(q, status);
}

/* ---- export ------------------------------------------------------------- */

struct export_ctx {
    const struct query_series *s;
    struct query_export_cursor *cur;
    int budget, n;
    int (*fn)(void *, const struct query_series *, int64_t, double);
    void *ctx;
    bool aborted;
};

static int export_point(void *ctx, int64_t ts, double value)
{
    struct export_ctx *e = ctx;
    if (e->n == e->budget)
        return 1; /* the chunk is full: the cursor stays on the last one given */
    if (e->fn(e->ctx, e->s, ts, value)) {
        e->aborted = true;
        return 1;
    }
    *e->cur = (struct query_export_cursor){.series = e->s->id, .ts = ts, .started = true};
    e->n++;
    return 0;
}

/* Delivers up to `budget` rows of one series from `after` (inclusive lower
 * bound), moving the cursor row by row. Returns rows delivered or < 0. */
static int export_series(struct query_db *q, const struct query_series *s, int64_t after,
                         int64_t to, int budget, struct query_export_cursor *cur,
                         int (*fn)(void *, const struct query_series *, int64_t, double), void *ctx)
{
    struct export_ctx e = {s, cur, budget, 0, fn, ctx, false};
    struct data_sink k = {&e, NULL, export_point, raw_row};
    int status = read_data(q, s->id, after, to, &k);
    if (status == QUERY_EABORT && !e.aborted)
        status = QUERY_OK;
    return status == QUERY_OK ? e.n : status;
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
        read_series(q, st, &s);
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
