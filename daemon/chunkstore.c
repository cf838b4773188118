/* chunkstore.c — see chunkstore.h. */
#include "chunkstore.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

enum chunk_stmt { CS_HOUR, CS_DELETE_DATA, CS_INSERT, CS_RANGE, CS_PRUNE, CS_COUNT };

#define ROW_COLUMNS "start, n, sum_value, min_value, max_value, last_ts, last_value, data"

static const char *const chunk_sql[CS_COUNT] = {
    [CS_HOUR] = "SELECT " ROW_COLUMNS " FROM chunks WHERE series = ?1 AND start >= ?2"
                " AND start < ?3 ORDER BY start",
    [CS_DELETE_DATA] = "DELETE FROM chunks WHERE series = ?1 AND start >= ?2 AND start < ?3"
                       " AND data IS NOT NULL",
    /* OR REPLACE: a row past retention (no data) may start at the very ts
     * of a late sample; the new row supersedes it. */
    [CS_INSERT] = "INSERT OR REPLACE INTO chunks (series, start, n, sum_value, min_value,"
                  " max_value, last_ts, last_value, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                  " ?8, ?9)",
    [CS_RANGE] = "SELECT " ROW_COLUMNS " FROM chunks WHERE series = ?1 AND start >= ?2"
                 " AND start < ?3 ORDER BY start",
    [CS_PRUNE] = "UPDATE chunks SET data = NULL WHERE series = ?1 AND start IN (SELECT start"
                 " FROM chunks WHERE series = ?1 AND start < ?2 AND data IS NOT NULL"
                 " ORDER BY start LIMIT ?3)",
};

struct points {
    struct chunk_point *p;
    size_t n, cap;
};

struct chunkstore {
    sqlite3 *db;
    sqlite3_stmt *st[CS_COUNT];
    struct points old, merged, decoded;
    uint8_t *enc;
    size_t enc_cap;
};

int chunkstore_open(struct chunkstore **out, sqlite3 *db)
{
    struct chunkstore *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("chunkstore: out of memory");
        return -1;
    }
    c->db = db;
    if (db_prepare_all(db, chunk_sql, c->st, CS_COUNT, "chunkstore") != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void chunkstore_close(struct chunkstore *c)
{
    if (!c)
        return;
    db_finalize_all(c->st, CS_COUNT);
    free(c->old.p);
    free(c->merged.p);
    free(c->decoded.p);
    free(c->enc);
    free(c);
}

static int reserve(struct points *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < n)
        cap += cap / 2;
    struct chunk_point *p = realloc(b->p, cap * sizeof *p);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void chunkstore_agg(const struct chunk_point *pts, size_t n, struct rollup_agg *out)
{
    rollup_agg_init(out);
    for (size_t i = 0; i < n; i++)
        rollup_agg_add(out, pts[i].ts, pts[i].value);
}

static void read_row(sqlite3_stmt *st, struct chunkstore_row *r)
{
    r->start = sqlite3_column_int64(st, 0);
    r->agg.count = sqlite3_column_int64(st, 1);
    r->agg.sum = sqlite3_column_double(st, 2);
    r->agg.min = sqlite3_column_double(st, 3);
    r->agg.max = sqlite3_column_double(st, 4);
    r->agg.last_ts = sqlite3_column_int64(st, 5);
    r->agg.last = sqlite3_column_double(st, 6);
    r->data = sqlite3_column_blob(st, 7);
    r->len = (size_t)sqlite3_column_bytes(st, 7);
}

long chunkstore_decode(struct chunkstore *c, const struct chunkstore_row *row,
                       const struct chunk_point **out)
{
    if (!row->data)
        return 0;
    long n = chunk_count(row->data, row->len);
    if (n < 0 || reserve(&c->decoded, (size_t)n) != 0)
        n = -1;
    else
        n = chunk_decode(row->data, row->len, c->decoded.p, c->decoded.cap);
    if (n < 0) {
        log_error("chunkstore: a damaged chunk (start %lld, %zu bytes) is skipped",
                  (long long)row->start, row->len);
        return -1;
    }
    *out = c->decoded.p;
    return n;
}

/* The hour's rows with data, decoded into c->old (in ts order: rows never
 * overlap). Returns how many such rows there were, or -1. */
static int read_hour(struct chunkstore *c, int64_t series, int64_t hour)
{
    sqlite3_stmt *st = c->st[CS_HOUR];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, hour);
    sqlite3_bind_int64(st, 3, hour + ROLLUP_HOUR_MS);
    c->old.n = 0;
    int rows = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct chunkstore_row r;
        read_row(st, &r);
        if (!r.data)
            continue;
        const struct chunk_point *pts;
        long n = chunkstore_decode(c, &r, &pts);
        rows++;
        if (n <= 0)
            continue; /* a damaged row is replaced by what the merge keeps */
        if (reserve(&c->old, c->old.n + (size_t)n) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        memcpy(c->old.p + c->old.n, pts, (size_t)n * sizeof *pts);
        c->old.n += (size_t)n;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? rows : -1;
}

/* old and new merged into c->merged, new winning an equal ts. */
static int merge(struct chunkstore *c, const struct chunk_point *pts, size_t n)
{
    if (reserve(&c->merged, c->old.n + n) != 0)
        return -1;
    const struct chunk_point *a = c->old.p;
    size_t i = 0, j = 0, k = 0;
    while (i < c->old.n || j < n) {
        if (j == n || (i < c->old.n && a[i].ts < pts[j].ts))
            c->merged.p[k++] = a[i++];
        else {
            if (i < c->old.n && a[i].ts == pts[j].ts)
                i++;
            c->merged.p[k++] = pts[j++];
        }
    }
    c->merged.n = k;
    return 0;
}

static int insert_row(struct chunkstore *c, int64_t series, const struct chunk_point *pts, size_t n)
{
    size_t need = chunk_bound(n);
    if (need > c->enc_cap) {
        uint8_t *e = realloc(c->enc, need);
        if (!e)
            return -1;
        c->enc = e;
        c->enc_cap = need;
    }
    size_t len = chunk_encode(pts, n, c->enc);
    struct rollup_agg a;
    chunkstore_agg(pts, n, &a);
    sqlite3_stmt *st = c->st[CS_INSERT];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, pts[0].ts);
    sqlite3_bind_int64(st, 3, a.count);
    sqlite3_bind_double(st, 4, a.sum);
    sqlite3_bind_double(st, 5, a.min);
    sqlite3_bind_double(st, 6, a.max);
    sqlite3_bind_int64(st, 7, a.last_ts);
    sqlite3_bind_double(st, 8, a.last);
    sqlite3_bind_blob(st, 9, c->enc, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* pts as few rows as CHUNKSTORE_MAX_POINTS allows, of near-equal size. */
static int insert_rows(struct chunkstore *c, int64_t series, const struct chunk_point *pts,
                       size_t n)
{
    size_t rows = (n + CHUNKSTORE_MAX_POINTS - 1) / CHUNKSTORE_MAX_POINTS;
    for (size_t r = 0, at = 0; r < rows; r++) {
        size_t len = (n - at) / (rows - r);
        if (insert_row(c, series, pts + at, len) != 0)
            return -1;
        at += len;
    }
    return 0;
}

int chunkstore_put_hour(struct chunkstore *c, int64_t series, const struct chunk_point *pts,
                        size_t n)
{
    if (n == 0)
        return 0;
    int64_t hour = rollup_floor(pts[0].ts, ROLLUP_HOUR_MS);
    int rows = read_hour(c, series, hour);
    if (rows < 0)
        return -1;
    if (rows == 0)
        return insert_rows(c, series, pts, n);
    if (merge(c, pts, n) != 0)
        return -1;
    sqlite3_stmt *st = c->st[CS_DELETE_DATA];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, hour);
    sqlite3_bind_int64(st, 3, hour + ROLLUP_HOUR_MS);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return insert_rows(c, series, c->merged.p, c->merged.n);
}

int chunkstore_each(struct chunkstore *c, int64_t series, int64_t from, int64_t to,
                    int (*fn)(void *ctx, const struct chunkstore_row *row), void *ctx)
{
    sqlite3_stmt *st = c->st[CS_RANGE];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    int rc, stop = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct chunkstore_row r;
        read_row(st, &r);
        if ((stop = fn(ctx, &r)) != 0)
            break;
    }
    sqlite3_reset(st);
    if (stop)
        return stop;
    return rc == SQLITE_DONE ? 0 : -1;
}

int chunkstore_prune(struct chunkstore *c, int64_t series, int64_t before, int max_rows)
{
    sqlite3_stmt *st = c->st[CS_PRUNE];
    sqlite3_bind_int64(st, 1, series);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int(st, 3, max_rows);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(c->db) : -1;
}
