/* rollup.c — see rollup.h. */
#include "rollup.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "loopwatch.h"
#include "util.h"

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* ---- schema and horizons ---------------------------------------------- */

static const char *const meta_keys[] = {"watermark", "raw_floor", "minute_floor"};

int rollup_read_horizons(sqlite3 *db, struct rollup_horizons *out)
{
    sqlite3_stmt *st;
    int64_t v[3] = {0, 0, 0};
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM store_meta", -1, &st, NULL) != SQLITE_OK) {
        log_error("rollup: reading horizons: %s", sqlite3_errmsg(db));
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; i < 3; i++)
            if (key && strcmp(key, meta_keys[i]) == 0)
                v[i] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("rollup: reading horizons: %s", sqlite3_errmsg(db));
        return -1;
    }
    *out = (struct rollup_horizons){.watermark = v[0], .raw_floor = v[1], .minute_floor = v[2]};
    return 0;
}

/* ---- buckets in memory: (series, minute) -> aggregate ------------------ */

struct bucket {
    int64_t series, minute;
    struct rollup_agg agg;
    bool recompute; /* a sample in it was replaced (at or above RF): rebuild from raw */
};

/* Open addressing over an array of buckets; slots hold index + 1 (0 = empty).
 * Buckets are never removed one by one: the set is compacted as a whole. */
struct bucket_set {
    struct bucket *items;
    size_t n, cap;
    uint32_t *slots;
    size_t n_slots; /* a power of two, or 0 */
};

static uint64_t bucket_hash(int64_t series, int64_t minute)
{
    uint64_t x = (uint64_t)series * 0x9e3779b97f4a7c15u ^ (uint64_t)(minute / ROLLUP_MINUTE_MS);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return x;
}

static void set_index(struct bucket_set *s, size_t i)
{
    size_t mask = s->n_slots - 1;
    size_t at = bucket_hash(s->items[i].series, s->items[i].minute) & mask;
    while (s->slots[at])
        at = (at + 1) & mask;
    s->slots[at] = (uint32_t)(i + 1);
}

static int set_reindex(struct bucket_set *s, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return -1;
    free(s->slots);
    s->slots = slots;
    s->n_slots = n_slots;
    for (size_t i = 0; i < s->n; i++)
        set_index(s, i);
    return 0;
}

static struct bucket *set_find(const struct bucket_set *s, int64_t series, int64_t minute)
{
    if (!s->n_slots)
        return NULL;
    size_t mask = s->n_slots - 1;
    for (size_t at = bucket_hash(series, minute) & mask; s->slots[at]; at = (at + 1) & mask) {
        struct bucket *b = &s->items[s->slots[at] - 1];
        if (b->series == series && b->minute == minute)
            return b;
    }
    return NULL;
}

/* The bucket, created empty if new; NULL when out of memory. */
static struct bucket *set_get(struct bucket_set *s, int64_t series, int64_t minute)
{
    struct bucket *b = set_find(s, series, minute);
    if (b)
        return b;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        if (cap >= UINT32_MAX)
            return NULL; /* slots hold 32-bit indices */
        struct bucket *items = realloc(s->items, cap * sizeof *items);
        if (!items)
            return NULL;
        s->items = items;
        s->cap = cap;
    }
    /* Load factor <= 1/2 keeps probes short. */
    if (2 * (s->n + 1) > s->n_slots && set_reindex(s, s->n_slots ? 2 * s->n_slots : 128) != 0)
        return NULL;
    b = &s->items[s->n];
    *b = (struct bucket){.series = series, .minute = minute};
    rollup_agg_init(&b->agg);
    set_index(s, s->n++);
    return b;
}

/* Large sets (after a burst) are released rather than kept and cleared. */
static void set_clear(struct bucket_set *s)
{
    if (s->n_slots > 65536) {
        free(s->items);
        free(s->slots);
        *s = (struct bucket_set){0};
        return;
    }
    if (s->n)
        memset(s->slots, 0, s->n_slots * sizeof *s->slots);
    s->n = 0;
}

static void set_free(struct bucket_set *s)
{
    free(s->items);
    free(s->slots);
    *s = (struct bucket_set){0};
}

/* Drops the buckets below `minute` (they were written). */
static int set_drop_below(struct bucket_set *s, int64_t minute)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].minute >= minute)
            s->items[kept++] = s->items[i];
    if (kept == s->n)
        return 0;
    s->n = kept;
    return s->n_slots ? set_reindex(s, s->n_slots) : 0;
}

/* ---- the rollup writer ------------------------------------------------- */

enum rollup_stmt {
    RS_MERGE_MINUTE,
    RS_MERGE_HOUR,
    RS_PUT_MINUTE,
    RS_PUT_HOUR,
    RS_RAW_RANGE,
    RS_MINUTE_RANGE,
    RS_SET_META,
    RS_SERIES_IDS,
    RS_MAX_TS,
    RS_RAW_PRUNE_BOUND,
    RS_RAW_PRUNE,
    RS_MINUTE_PRUNE_BOUND,
    RS_MINUTE_PRUNE,
    RS_COUNT
};

/* Merging a delta into a row: SET expressions all see the old row. */
#define MERGE_SQL(table)                                                                           \
    "INSERT INTO " table " (series, ts, min_value, max_value, sum_value, n, last_value, last_ts)"  \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (series, ts) DO UPDATE SET"              \
    " min_value = min(min_value, excluded.min_value),"                                             \
    " max_value = max(max_value, excluded.max_value),"                                             \
    " sum_value = sum_value + excluded.sum_value, n = n + excluded.n,"                             \
    " last_value = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_value"                 \
    " ELSE last_value END, last_ts = max(last_ts, excluded.last_ts)"
#define PUT_SQL(table)                                                                             \
    "INSERT OR REPLACE INTO " table                                                                \
    " (series, ts, min_value, max_value, sum_value, n, last_value, last_ts)"                       \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"

static const char *const rollup_sql[RS_COUNT] = {
    [RS_MERGE_MINUTE] = MERGE_SQL("rollup_1m"),
    [RS_MERGE_HOUR] = MERGE_SQL("rollup_1h"),
    [RS_PUT_MINUTE] = PUT_SQL("rollup_1m"),
    [RS_PUT_HOUR] = PUT_SQL("rollup_1h"),
    [RS_RAW_RANGE] = "SELECT ts, value FROM samples WHERE series = ?1 AND ts >= ?2 AND ts < ?3"
                     " ORDER BY ts",
    [RS_MINUTE_RANGE] = "SELECT min_value, max_value, sum_value, n, last_value, last_ts"
                        " FROM rollup_1m WHERE series = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    [RS_SET_META] = "INSERT INTO store_meta (key, value) VALUES (?1, ?2)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [RS_SERIES_IDS] = "SELECT id FROM series WHERE id > ?1 ORDER BY id LIMIT ?2",
    [RS_MAX_TS] = "SELECT max(last_ts) FROM series",
    [RS_RAW_PRUNE_BOUND] = "SELECT ts FROM samples WHERE series = ?1 AND ts < ?2 ORDER BY ts"
                           " LIMIT 1 OFFSET ?3",
    [RS_RAW_PRUNE] = "DELETE FROM samples WHERE series = ?1 AND ts < ?2",
    [RS_MINUTE_PRUNE_BOUND] = "SELECT ts FROM rollup_1m WHERE series = ?1 AND ts < ?2 ORDER BY ts"
                              " LIMIT 1 OFFSET ?3",
    [RS_MINUTE_PRUNE] = "DELETE FROM rollup_1m WHERE series = ?1 AND ts < ?2",
};

/* Series visited per prune call: bounds the work when little is to delete. */
#define PRUNE_SERIES_PER_CALL 1024

struct rollup {
    sqlite3 *db;
    sqlite3_stmt *st[RS_COUNT];
    struct rollup_horizons h;  /* as committed */
    int64_t next_watermark;    /* written by rollup_flush, in force once committed */
    int64_t max_ts;            /* newest ts appended; INT64_MIN: none */
    struct bucket_set late;    /* buckets below W touched by the open group */
    struct bucket_set pending; /* buckets at or above W: written when W passes them */
    struct bucket *flush;      /* scratch: the buckets being written, sorted */
    size_t flush_n, flush_cap;
    int64_t prune_cursor; /* series id the next prune starts after */
    bool broken;          /* memory ran out during the open group */
    struct log_limit errors;
};

static int db_fail(struct rollup *r, sqlite3_stmt *st)
{
    log_limited(&r->errors, LOG_LVL_ERROR, "rollup: %s: %s", sqlite3_sql(st),
                sqlite3_errmsg(r->db));
    sqlite3_reset(st);
    return -1;
}

/* Runs a statement that returns no rows, then resets it. */
static int step_done(struct rollup *r, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return db_fail(r, st);
    sqlite3_reset(st);
    return 0;
}

static int exec_simple(struct rollup *r, const char *sql)
{
    if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        log_limited(&r->errors, LOG_LVL_ERROR, "rollup: %s: %s", sql, sqlite3_errmsg(r->db));
        return -1;
    }
    return 0;
}

int rollup_open(struct rollup **out, sqlite3 *db)
{
    struct rollup *r = calloc(1, sizeof *r);
    if (!r) {
        log_error("rollup: out of memory");
        return -1;
    }
    r->db = db;
    if (db_prepare_all(db, rollup_sql, r->st, RS_COUNT, "rollup") != 0 || rollup_reload(r) != 0) {
        rollup_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

void rollup_close(struct rollup *r)
{
    if (!r)
        return;
    db_finalize_all(r->st, RS_COUNT);
    set_free(&r->late);
    set_free(&r->pending);
    free(r->flush);
    free(r);
}

static int out_of_memory(struct rollup *r)
{
    if (!r->broken)
        log_limited(&r->errors, LOG_LVL_ERROR, "rollup: out of memory; the group will roll back");
    r->broken = true;
    return -1;
}

/* The bucket of (series, ts): pending at or above W, late below it. */
static struct bucket *bucket_for(struct rollup *r, int64_t series, int64_t ts)
{
    int64_t minute = rollup_floor(ts, ROLLUP_MINUTE_MS);
    struct bucket_set *set = minute >= r->h.watermark ? &r->pending : &r->late;
    return set_get(set, series, minute);
}

int rollup_add(struct rollup *r, int64_t series, int64_t ts, double value)
{
    struct bucket *b = bucket_for(r, series, ts);
    if (!b)
        return out_of_memory(r);
    rollup_agg_add(&b->agg, ts, value);
    if (ts > r->max_ts)
        r->max_ts = ts;
    return 0;
}

int rollup_replace(struct rollup *r, int64_t series, int64_t ts, double old_value, double value)
{
    if (old_value == value)
        return 0; /* a redelivery: no aggregate changes */
    struct bucket *b = bucket_for(r, series, ts);
    if (!b)
        return out_of_memory(r);
    if (b->minute >= r->h.raw_floor) {
        b->recompute = true;
        return 0;
    }
    /* Below RF the raw neighbours may be gone: apply the change as a delta. */
    struct rollup_agg delta = {value, value, value - old_value, value, 0, ts};
    rollup_agg_merge(&b->agg, &delta);
    return 0;
}

/* ---- flushing buckets into the tables ---------------------------------- */

static void bind_row(sqlite3_stmt *st, int64_t series, int64_t ts, const struct rollup_agg *a)
{
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_double(st, 3, a->min);
    sqlite3_bind_double(st, 4, a->max);
    sqlite3_bind_double(st, 5, a->sum);
    sqlite3_bind_int64(st, 6, a->count);
    sqlite3_bind_double(st, 7, a->last);
    sqlite3_bind_int64(st, 8, a->last_ts);
}

/* The exact aggregate of a minute, from its raw samples. */
static int minute_from_raw(struct rollup *r, int64_t series, int64_t minute, struct rollup_agg *a)
{
    sqlite3_stmt *st = r->st[RS_RAW_RANGE];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, minute);
    sqlite3_bind_int64(st, 3, minute + ROLLUP_MINUTE_MS);
    rollup_agg_init(a);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        rollup_agg_add(a, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1));
    if (rc != SQLITE_DONE)
        return db_fail(r, st);
    sqlite3_reset(st);
    return 0;
}

/* The aggregate of an hour, from its minute rows (all present: h >= MF). */
static int hour_from_minutes(struct rollup *r, int64_t series, int64_t hour, struct rollup_agg *a)
{
    sqlite3_stmt *st = r->st[RS_MINUTE_RANGE];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, hour);
    sqlite3_bind_int64(st, 3, hour + ROLLUP_HOUR_MS);
    rollup_agg_init(a);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollup_agg m = {sqlite3_column_double(st, 0), sqlite3_column_double(st, 1),
                               sqlite3_column_double(st, 2), sqlite3_column_double(st, 4),
                               sqlite3_column_int64(st, 3),  sqlite3_column_int64(st, 5)};
        rollup_agg_merge(a, &m);
    }
    if (rc != SQLITE_DONE)
        return db_fail(r, st);
    sqlite3_reset(st);
    return 0;
}

static int write_row(struct rollup *r, enum rollup_stmt which, int64_t series, int64_t ts,
                     const struct rollup_agg *a)
{
    if (rollup_agg_empty(a))
        return 0;
    bind_row(r->st[which], series, ts, a);
    return step_done(r, r->st[which]);
}

static int write_minutes(struct rollup *r)
{
    for (size_t i = 0; i < r->flush_n; i++) {
        struct bucket *b = &r->flush[i];
        int rc;
        if (b->recompute) {
            rc = minute_from_raw(r, b->series, b->minute, &b->agg);
            if (rc == 0)
                rc = write_row(r, RS_PUT_MINUTE, b->series, b->minute, &b->agg);
        } else {
            rc = write_row(r, RS_MERGE_MINUTE, b->series, b->minute, &b->agg);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* One hour's worth of flushed minutes: merged into the hour row, or the hour
 * recomputed from its minute rows when one of them was rebuilt. */
static int write_hour(struct rollup *r, const struct bucket *first, size_t n)
{
    int64_t hour = rollup_floor(first->minute, ROLLUP_HOUR_MS);
    bool recompute = false;
    struct rollup_agg sum;
    rollup_agg_init(&sum);
    for (size_t i = 0; i < n; i++) {
        recompute |= first[i].recompute;
        rollup_agg_merge(&sum, &first[i].agg);
    }
    if (!recompute)
        return write_row(r, RS_MERGE_HOUR, first->series, hour, &sum);
    if (hour_from_minutes(r, first->series, hour, &sum) != 0)
        return -1;
    return write_row(r, RS_PUT_HOUR, first->series, hour, &sum);
}

static int write_hours(struct rollup *r)
{
    size_t start = 0;
    for (size_t i = 1; i <= r->flush_n; i++) {
        const struct bucket *a = &r->flush[start];
        if (i < r->flush_n && r->flush[i].series == a->series &&
            rollup_floor(r->flush[i].minute, ROLLUP_HOUR_MS) ==
                rollup_floor(a->minute, ROLLUP_HOUR_MS))
            continue;
        if (write_hour(r, a, i - start) != 0)
            return -1;
        start = i;
    }
    return 0;
}

static int set_meta(struct rollup *r, const char *key, int64_t value)
{
    sqlite3_stmt *st = r->st[RS_SET_META];
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    return step_done(r, st);
}

static int by_series_minute(const void *pa, const void *pb)
{
    const struct bucket *a = pa, *b = pb;
    if (a->series != b->series)
        return a->series < b->series ? -1 : 1;
    return a->minute < b->minute ? -1 : a->minute > b->minute;
}

static int collect(struct rollup *r, const struct bucket_set *s, int64_t below)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].minute >= below)
            continue;
        if (r->flush_n == r->flush_cap) {
            size_t cap = r->flush_cap ? 2 * r->flush_cap : 256;
            struct bucket *grown = realloc(r->flush, cap * sizeof *grown);
            if (!grown)
                return out_of_memory(r);
            r->flush = grown;
            r->flush_cap = cap;
        }
        r->flush[r->flush_n++] = s->items[i];
    }
    return 0;
}

/* W follows the newest ts, but never runs ahead of the wall clock (a unit
 * whose clock is fast must not push everyone else onto the late path). */
static int64_t advance_watermark(const struct rollup *r, int64_t now_ms)
{
    if (r->max_ts == INT64_MIN)
        return r->h.watermark;
    int64_t w = rollup_floor(min64(r->max_ts, now_ms) - ROLLUP_LAG_MS, ROLLUP_MINUTE_MS);
    return max64(r->h.watermark, w);
}

int rollup_flush(struct rollup *r, int64_t now_ms)
{
    if (r->broken)
        return -1;
    int64_t w = advance_watermark(r, now_ms);
    r->flush_n = 0;
    r->next_watermark = w;
    if (collect(r, &r->late, INT64_MAX) != 0 || collect(r, &r->pending, w) != 0)
        return -1;
    if (r->flush_n == 0 && w == r->h.watermark)
        return 0;
    uint64_t t0 = util_mono_ns();
    /* Key order: B-tree locality, and each hour's minutes side by side. */
    if (r->flush_n > 1)
        qsort(r->flush, r->flush_n, sizeof *r->flush, by_series_minute);
    if (write_minutes(r) != 0 || write_hours(r) != 0)
        return -1;
    if (w != r->h.watermark && set_meta(r, "watermark", w) != 0)
        return -1;
    loopwatch_note(w != r->h.watermark ? "rollup flush (W moved)" : "rollup flush (late)", t0);
    return 0;
}

void rollup_committed(struct rollup *r)
{
    set_clear(&r->late);
    if (r->next_watermark > r->h.watermark) {
        r->h.watermark = r->next_watermark;
        if (set_drop_below(&r->pending, r->h.watermark) != 0) {
            /* The rows are written; only the index could not be rebuilt. */
            out_of_memory(r);
        }
    }
}

/* ---- loading state from the database ----------------------------------- */

static int load_max_ts(struct rollup *r)
{
    sqlite3_stmt *st = r->st[RS_MAX_TS];
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_fail(r, st);
    r->max_ts = sqlite3_column_type(st, 0) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* Rebuilds the pending buckets of one series from its raw samples >= W. */
static int load_pending_series(struct rollup *r, int64_t series)
{
    sqlite3_stmt *st = r->st[RS_RAW_RANGE];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, r->h.watermark);
    sqlite3_bind_int64(st, 3, INT64_MAX);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 0);
        struct bucket *b = set_get(&r->pending, series, rollup_floor(ts, ROLLUP_MINUTE_MS));
        if (!b) {
            sqlite3_reset(st);
            return out_of_memory(r);
        }
        rollup_agg_add(&b->agg, ts, sqlite3_column_double(st, 1));
    }
    if (rc != SQLITE_DONE)
        return db_fail(r, st);
    sqlite3_reset(st);
    return 0;
}

/* Up to `cap` series ids after `after`, in order. Returns how many, or -1. */
static int next_series_ids(struct rollup *r, int64_t after, int64_t *ids, int cap)
{
    sqlite3_stmt *st = r->st[RS_SERIES_IDS];
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, cap);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    if (rc != SQLITE_DONE)
        return db_fail(r, st);
    sqlite3_reset(st);
    return n;
}

static int load_pending(struct rollup *r)
{
    int64_t ids[256], after = INT64_MIN;
    int n;
    do {
        n = next_series_ids(r, after, ids, 256);
        for (int i = 0; i < n; i++)
            if (load_pending_series(r, ids[i]) != 0)
                return -1;
        if (n > 0)
            after = ids[n - 1];
    } while (n == 256);
    return n < 0 ? -1 : 0;
}

int rollup_reload(struct rollup *r)
{
    set_free(&r->late);
    set_free(&r->pending);
    r->broken = false;
    if (rollup_read_horizons(r->db, &r->h) != 0 || load_max_ts(r) != 0 || load_pending(r) != 0) {
        r->broken = true; /* refuse to flush until a reload succeeds */
        return -1;
    }
    r->next_watermark = r->h.watermark;
    return 0;
}

/* ---- retention ---------------------------------------------------------- */

/* Deletes up to `budget` rows of one series below `cut` (bound finds the ts
 * of the row just past the budget). Returns rows deleted or -1; *more says
 * rows below `cut` remain. */
static int delete_bounded(struct rollup *r, enum rollup_stmt bound, enum rollup_stmt del,
                          int64_t series, int64_t cut, int budget, bool *more)
{
    sqlite3_stmt *st = r->st[bound];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, cut);
    sqlite3_bind_int(st, 3, budget);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(r, st);
    *more = rc == SQLITE_ROW;
    int64_t limit = *more ? sqlite3_column_int64(st, 0) : cut;
    sqlite3_reset(st);
    st = r->st[del];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, limit);
    if (step_done(r, st) != 0)
        return -1;
    return sqlite3_changes(r->db);
}

/* Prunes series after the cursor until the row budget or the visit budget
 * runs out. Returns rows deleted or -1. */
static int prune_series(struct rollup *r, const struct rollup_horizons *h, int max_rows)
{
    int64_t ids[PRUNE_SERIES_PER_CALL];
    int n = next_series_ids(r, r->prune_cursor, ids, PRUNE_SERIES_PER_CALL);
    if (n < 0)
        return -1;
    int deleted = 0;
    for (int i = 0; i < n && deleted < max_rows; i++) {
        bool more_raw, more_minutes = false;
        int d = delete_bounded(r, RS_RAW_PRUNE_BOUND, RS_RAW_PRUNE, ids[i], h->raw_floor,
                               max_rows - deleted, &more_raw);
        if (d < 0)
            return -1;
        deleted += d;
        if (deleted < max_rows) {
            d = delete_bounded(r, RS_MINUTE_PRUNE_BOUND, RS_MINUTE_PRUNE, ids[i], h->minute_floor,
                               max_rows - deleted, &more_minutes);
            if (d < 0)
                return -1;
            deleted += d;
        }
        if (more_raw || more_minutes || deleted >= max_rows)
            return deleted; /* resume at this series next time */
        r->prune_cursor = ids[i];
    }
    if (n < PRUNE_SERIES_PER_CALL && deleted < max_rows)
        r->prune_cursor = INT64_MIN; /* a full pass is done: start over next time */
    return deleted;
}

/* Floors only rise; RF never passes W (raw above W is not rolled up yet),
 * MF never passes RF. */
static struct rollup_horizons prune_horizons(const struct rollup *r, int64_t now_ms,
                                             int retention_days)
{
    struct rollup_horizons h = r->h;
    int minute_days = retention_days > ROLLUP_MINUTE_RETENTION_DAYS ? retention_days
                                                                    : ROLLUP_MINUTE_RETENTION_DAYS;
    int64_t raw_cut = rollup_floor(now_ms - retention_days * ROLLUP_DAY_MS, ROLLUP_MINUTE_MS);
    h.raw_floor = max64(h.raw_floor, min64(raw_cut, h.watermark));
    int64_t minute_cut = rollup_floor(now_ms - minute_days * ROLLUP_DAY_MS, ROLLUP_HOUR_MS);
    h.minute_floor =
        max64(h.minute_floor, min64(minute_cut, rollup_floor(h.raw_floor, ROLLUP_HOUR_MS)));
    return h;
}

int rollup_prune(struct rollup *r, int64_t now_ms, int retention_days, int max_rows)
{
    if (max_rows <= 0 || retention_days <= 0)
        return 0;
    struct rollup_horizons h = prune_horizons(r, now_ms, retention_days);
    if (exec_simple(r, "BEGIN") != 0)
        return -1;
    int deleted = -1;
    if ((h.raw_floor == r->h.raw_floor || set_meta(r, "raw_floor", h.raw_floor) == 0) &&
        (h.minute_floor == r->h.minute_floor || set_meta(r, "minute_floor", h.minute_floor) == 0))
        deleted = prune_series(r, &h, max_rows);
    if (deleted < 0 || exec_simple(r, "COMMIT") != 0) {
        exec_simple(r, "ROLLBACK");
        return -1;
    }
    r->h.raw_floor = h.raw_floor;
    r->h.minute_floor = h.minute_floor;
    return deleted;
}
