/* test_storage.c — issue 20's store (head + head log + chunk rows) against
 * its headers, not its code: samples go in through the real store (late, out
 * of order, replaced, flushed into chunk rows by a fake clock, pruned,
 * crashed, converted from schema 6) and every answer of query.h is compared
 * with a brute force over an in-memory model of the raw samples. */
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "check.h"
#include "harness.h"
#include "query.h"
#include "schema.h"
#include "store.h"

#define MIN  INT64_C(60000)
#define HOUR INT64_C(3600000)
#define DAY  INT64_C(86400000)
#define T0   INT64_C(1780000000000) /* 2026-05-28T20:26:40Z: ragged, and in the past */
#define PROG "stortest"

static char db_path[512];

static const char *fresh_db(const char *name)
{
    char p[600];
    snprintf(db_path, sizeof db_path, "%s/%s.db", harness_tmpdir(), name);
    static const char *const tails[] = {"", "-wal", "-shm", "-head"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, tails[i]);
        unlink(p);
    }
    return db_path;
}

static int64_t fl(int64_t x, int64_t m)
{
    return (x >= 0 ? x / m : -((-x + m - 1) / m)) * m;
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33) % n;
}

/* ---- the model: what the store should hold --------------------------------
 * Series i is PROG/u/m {"s":"0i"}: query order (labels) is index order. */
#define MS 10
#define MK 12000
static struct {
    int n_series, n_slots;
    int64_t t0, grid;
    int64_t raw_floor; /* raw reads give nothing below this (retention) */
    int64_t id[MS];
    bool present[MS][MK];
    double value[MS][MK];
} M;

static void model_reset(int n_series, int n_slots, int64_t t0, int64_t grid)
{
    memset(&M, 0, sizeof M);
    M.n_series = n_series, M.n_slots = n_slots, M.t0 = t0, M.grid = grid;
    M.raw_floor = INT64_MIN;
}

static int64_t slot_ts(int k)
{
    return M.t0 + (int64_t)k * M.grid;
}

static const char *labels_of(int series)
{
    static char buf[MS][24];
    snprintf(buf[series], sizeof buf[series], "{\"s\":\"%02d\"}", series);
    return buf[series];
}

static int index_of(int64_t id)
{
    for (int i = 0; i < M.n_series; i++)
        if (M.id[i] == id)
            return i;
    return -1;
}

/* Into the model, and into the store when s is not NULL. */
static int put_ts(struct store *s, int series, int64_t ts, int slot, double v)
{
    if (slot >= 0) {
        M.present[series][slot] = true;
        M.value[series][slot] = v;
    }
    if (!s)
        return 0;
    struct sample x = {.program = PROG,
                       .unit = "u",
                       .metric = "m",
                       .labels_json = labels_of(series),
                       .ts = ts,
                       .has_ts = true,
                       .value = v,
                       .element = -1};
    int64_t id = 0;
    int rc = store_append(s, &x, ts, &id);
    if (rc == STORE_OK)
        M.id[series] = id;
    return rc;
}

static int put(struct store *s, int series, int slot, double v)
{
    return put_ts(s, series, slot_ts(slot), slot, v);
}

static const struct query_filter all_series = {.program = PROG};

/* ---- brute force --------------------------------------------------------- */

struct acc {
    double min, max, sum, abs_sum, last;
    int64_t n, last_ts;
};

static void acc_add(struct acc *a, int64_t ts, double v)
{
    if (!a->n || v < a->min)
        a->min = v;
    if (!a->n || v > a->max)
        a->max = v;
    a->sum += v;
    a->abs_sum += fabs(v);
    a->n++;
    a->last = v; /* slots ascend: the latest ts so far */
    a->last_ts = ts;
}

static double acc_value(const struct acc *a, enum query_agg agg)
{
    const double by_agg[] = {a->sum / (double)a->n, a->min, a->max, a->sum, (double)a->n, a->last};
    return by_agg[agg]; /* QUERY_AVG, MIN, MAX, SUM, COUNT, LAST */
}

static int64_t want_ts[MK + 8];
static double want_v[MK + 8], want_tol[MK + 8];

/* The answer from the model alone (step 0: raw, above M.raw_floor). */
static int expect(int series, int64_t from, int64_t to, int64_t step, int64_t tz,
                  enum query_agg agg)
{
    int n = 0;
    struct acc a = {0};
    int64_t cur = INT64_MIN;
    for (int k = 0; k < M.n_slots; k++) {
        int64_t ts = slot_ts(k);
        if (!M.present[series][k] || ts < from || ts > to)
            continue;
        double v = M.value[series][k];
        if (!step) {
            if (ts >= M.raw_floor)
                want_ts[n] = ts, want_v[n] = v, want_tol[n++] = 0;
            continue;
        }
        int64_t b = fl(ts + tz, step) - tz;
        if (b != cur && a.n) {
            want_ts[n] = cur, want_v[n] = acc_value(&a, agg);
            want_tol[n++] = agg == QUERY_SUM ? a.abs_sum : a.abs_sum / (double)a.n;
            a = (struct acc){0};
        }
        cur = b;
        acc_add(&a, ts, v);
    }
    if (step && a.n) {
        want_ts[n] = cur, want_v[n] = acc_value(&a, agg);
        want_tol[n++] = agg == QUERY_SUM ? a.abs_sum : a.abs_sum / (double)a.n;
    }
    return n;
}

static struct acc expect_agg(int series, int64_t from, int64_t to)
{
    struct acc a = {0};
    for (int k = 0; k < M.n_slots; k++)
        if (M.present[series][k] && slot_ts(k) >= from && slot_ts(k) <= to)
            acc_add(&a, slot_ts(k), M.value[series][k]);
    return a;
}

static int64_t model_count(int64_t from, int64_t to)
{
    int64_t n = 0;
    for (int i = 0; i < M.n_series; i++)
        for (int k = 0; k < M.n_slots; k++)
            n += M.present[i][k] && slot_ts(k) >= from && slot_ts(k) <= to &&
                 slot_ts(k) >= M.raw_floor;
    return n;
}

/* Sums may differ in the last bits (another order of additions). */
static bool near(double got, double want, double scale)
{
    return fabs(got - want) <= 1e-12 * (scale + 1e-300);
}

static int quiet; /* a comparison whose failure is expected to be tried again */

/* Says why a comparison failed (unless quiet); returns -1. */
__attribute__((format(printf, 1, 2))) static int say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!quiet) {
        fputs("  ", stderr);
        vfprintf(stderr, fmt, ap);
    }
    va_end(ap);
    return -1;
}

/* ---- what query_run delivers --------------------------------------------- */

static int64_t got_ts[MS][MK + 8];
static double got_v[MS][MK + 8];
static int got_n[MS];

struct collect {
    int cur, last_idx, n_series, bad_order;
};

static int c_begin(void *ctx, const struct query_series *s)
{
    struct collect *c = ctx;
    int idx = index_of(s->id);
    if (idx < 0)
        return 1;
    c->bad_order |= idx <= c->last_idx;
    c->cur = c->last_idx = idx;
    got_n[idx] = 0;
    c->n_series++;
    return 0;
}

static int c_point(void *ctx, int64_t ts, double v)
{
    struct collect *c = ctx;
    int *n = &got_n[c->cur];
    if (*n >= MK + 8)
        return 1;
    got_ts[c->cur][*n] = ts;
    got_v[c->cur][(*n)++] = v;
    return 0;
}

/* query_run == the model: raw (step 0) bit for bit; buckets exact, but
 * for sum and avg (relative to the sum of the magnitudes). */
static int cmp_run(struct query_db *q, int64_t from, int64_t to, int64_t step, int64_t tz,
                   enum query_agg agg)
{
    struct query_req req = {
        .filter = all_series, .from = from, .to = to, .step = step, .agg = agg, .tz_offset_ms = tz};
    struct collect c = {.last_idx = -1};
    memset(got_n, 0, sizeof got_n);
    struct query_sink sink = {&c, c_begin, c_point, NULL};
    int rc = query_run(q, &req, &sink, NULL);
    if (rc != QUERY_OK || c.n_series != M.n_series || c.bad_order)
        return say("query_run: status %d (%s), %d series of %d%s\n", rc, query_error(q), c.n_series,
                   M.n_series, c.bad_order ? ", out of order" : "");
    bool exact = agg != QUERY_SUM && agg != QUERY_AVG;
    for (int i = 0; i < M.n_series; i++) {
        int n = expect(i, from, to, step, tz, agg);
        for (int j = 0; j < n || j < got_n[i]; j++) {
            double g = j < got_n[i] ? got_v[i][j] : 0, w = j < n ? want_v[j] : 0;
            if (j < n && j < got_n[i] && got_ts[i][j] == want_ts[j] &&
                (!step   ? memcmp(&g, &w, sizeof g) == 0
                 : exact ? g == w
                         : near(g, w, want_tol[j])))
                continue;
            return say("[%lld, %lld] step %lld tz %lld %s series %d: %d points, want %d; at %d: "
                       "got %lld %.17g, want %lld %.17g\n",
                       (long long)from, (long long)to, (long long)step, (long long)tz,
                       query_agg_name(agg), i, got_n[i], n, j,
                       (long long)(j < got_n[i] ? got_ts[i][j] : 0), g,
                       (long long)(j < n ? want_ts[j] : 0), w);
        }
    }
    return 0;
}

static int cmp_raw(struct query_db *q, int64_t from, int64_t to)
{
    return cmp_run(q, from, to, 0, 0, QUERY_AVG);
}

static int cmp_one_agg(const struct rollup_agg *g, const struct acc *w, const char *what, int i)
{
    bool ok = g->count == w->n;
    if (ok && w->n)
        ok = g->min == w->min && g->max == w->max && near(g->sum, w->sum, w->abs_sum) &&
             g->last == w->last && g->last_ts == w->last_ts;
    if (!ok)
        say("%s series %d: count %lld sum %.17g min %g max %g last %g@%lld; want count %lld sum "
            "%.17g min %g max %g last %g@%lld\n",
            what, i, (long long)g->count, g->sum, g->min, g->max, g->last, (long long)g->last_ts,
            (long long)w->n, w->sum, w->min, w->max, w->last, (long long)w->last_ts);
    return ok ? 0 : -1;
}

static struct rollup_agg sagg[MS];
static bool sagg_seen[MS];

static bool sa_keep(void *ctx, const struct query_series *s)
{
    return true;
}

static int sa_add(void *ctx, const struct query_series *s, const struct rollup_agg *a)
{
    int i = index_of(s->id);
    if (i < 0 || sagg_seen[i])
        return 1;
    sagg_seen[i] = true;
    sagg[i] = *a;
    return 0;
}

/* query_aggregate (and, for a range in bounds, query_series_aggregate) of
 * every series over [from, to]. */
static int cmp_aggregate(struct query_db *q, int64_t from, int64_t to)
{
    int64_t ids[MS], f[MS], t[MS];
    struct rollup_agg out[MS];
    for (int i = 0; i < M.n_series; i++)
        ids[i] = M.id[i], f[i] = from, t[i] = to;
    int rc = query_aggregate(q, ids, f, t, (size_t)M.n_series, out);
    if (rc != QUERY_OK)
        return say("query_aggregate: %d %s\n", rc, query_error(q));
    for (int i = 0; i < M.n_series; i++) {
        struct acc w = expect_agg(i, from, to);
        if (cmp_one_agg(&out[i], &w, "query_aggregate", i) != 0)
            return -1;
    }
    if (from == INT64_MIN)
        return 0;
    memset(sagg_seen, 0, sizeof sagg_seen);
    struct query_aggregate_sink sink = {NULL, sa_keep, sa_add};
    rc = query_series_aggregate(q, &all_series, from, to, &sink);
    if (rc != QUERY_OK)
        return say("query_series_aggregate: %d %s\n", rc, query_error(q));
    for (int i = 0; i < M.n_series; i++) {
        struct acc w = expect_agg(i, from, to);
        if (!sagg_seen[i] || cmp_one_agg(&sagg[i], &w, "query_series_aggregate", i) != 0)
            return say("query_series_aggregate: series %d %s\n", i,
                       sagg_seen[i] ? "differs" : "not reported");
    }
    return 0;
}

/* query_count_raw, and with a limit below the count: limit + 1. */
static int cmp_count(struct query_db *q, int64_t from, int64_t to)
{
    int64_t n = -1, capped = -1, want = model_count(from, to);
    int rc = query_count_raw(q, &all_series, from, to, INT64_C(1) << 40, &n);
    if (rc == QUERY_OK && want > 2)
        rc = query_count_raw(q, &all_series, from, to, want / 2, &capped);
    if (rc != QUERY_OK || n != want || (want > 2 && capped != want / 2 + 1))
        return say("query_count_raw [%lld, %lld]: %d, %lld (capped at %lld: %lld), want %lld\n",
                   (long long)from, (long long)to, rc, (long long)n, (long long)want / 2,
                   (long long)capped, (long long)want);
    return 0;
}

/* The export's rows, in (series id, ts) order. */
static struct exp_row {
    int64_t id, ts;
    double v;
} * exp_rows;
static size_t exp_n, exp_cap;

static int exp_fn(void *ctx, const struct query_series *s, int64_t ts, double v)
{
    if (exp_n == exp_cap) {
        exp_cap = exp_cap ? 2 * exp_cap : 4096;
        struct exp_row *r = realloc(exp_rows, exp_cap * sizeof *r);
        if (!r)
            return 1;
        exp_rows = r;
    }
    exp_rows[exp_n++] = (struct exp_row){s->id, ts, v};
    return 0;
}

/* One export chunk; between chunks, between(ctx) may change the store. */
static int export_all(struct query_db *q, int64_t from, int64_t to, int max_rows,
                      void (*between)(void *), void *ctx)
{
    struct query_export_cursor cur = {0};
    exp_n = 0;
    for (int calls = 0; !cur.done; calls++) {
        if (calls > 100000)
            return say("export: no end\n");
        int n = query_export_chunk(q, &all_series, from, to, &cur, max_rows, exp_fn, NULL);
        if (n < 0 || n > max_rows)
            return say("export chunk: %d (%s)\n", n, query_error(q));
        if (between && !cur.done)
            between(ctx);
    }
    return 0;
}

/* The rows delivered == the model's, in (series id, ts) order (ids ascend
 * with the model's index in every case here). */
static int cmp_export_rows(int64_t from, int64_t to)
{
    size_t r = 0;
    for (int i = 0; i < M.n_series; i++) {
        int w = expect(i, from, to, 0, 0, QUERY_AVG);
        for (int j = 0; j < w; j++, r++) {
            if (r < exp_n && exp_rows[r].id == M.id[i] && exp_rows[r].ts == want_ts[j] &&
                memcmp(&exp_rows[r].v, &want_v[j], sizeof(double)) == 0)
                continue;
            return say("export row %zu of %zu: got series %lld ts %lld %.17g, want %lld %lld "
                       "%.17g\n",
                       r, exp_n, (long long)(r < exp_n ? exp_rows[r].id : 0),
                       (long long)(r < exp_n ? exp_rows[r].ts : 0), r < exp_n ? exp_rows[r].v : 0,
                       (long long)M.id[i], (long long)want_ts[j], want_v[j]);
        }
    }
    return r == exp_n ? 0 : say("export: %zu rows, want %zu\n", exp_n, r);
}

static int cmp_export(struct query_db *q, int64_t from, int64_t to, int max_rows)
{
    return export_all(q, from, to, max_rows, NULL, NULL) != 0 ? -1 : cmp_export_rows(from, to);
}

static int last_bad;

static int last_fn(void *ctx, const struct query_series *s)
{
    int i = index_of(s->id), k = M.n_slots - 1;
    while (i >= 0 && k >= 0 && !M.present[i][k])
        k--;
    if (i < 0 || k < 0 || !s->has_last || s->last_ts != slot_ts(k) ||
        memcmp(&s->last_value, &M.value[i][k], sizeof(double)) != 0) {
        say("series_list %s: last %s %lld %.17g, want %lld %.17g\n", s->labels_json,
            s->has_last ? "yes" : "no", (long long)s->last_ts, s->last_value,
            (long long)(k >= 0 ? slot_ts(k) : 0), i >= 0 && k >= 0 ? M.value[i][k] : 0);
        last_bad = 1;
    }
    return 0;
}

static int cmp_last(struct query_db *q)
{
    last_bad = 0;
    int rc = query_series_list(q, &all_series, last_fn, NULL);
    return rc == QUERY_OK && !last_bad ? 0 : -1;
}

static const int64_t steps[] = {MIN, 7 * MIN, HOUR, DAY};
static const int64_t tzs[] = {0, 7 * HOUR, -(3 * HOUR + 30 * MIN)};

/* Everything query.h answers, against the model (random ranges from seed). */
static int check_all(struct query_db *q, uint64_t seed)
{
    uint64_t keep = rng_state;
    rng_state = seed;
    int64_t lo = M.t0 - HOUR, hi = slot_ts(M.n_slots) + HOUR, span = hi - lo;
    int64_t a = lo + (int64_t)rnd((uint32_t)(span / 1000)) * 1000 + rnd(1000);
    int64_t b = lo + (int64_t)rnd((uint32_t)(span / 1000)) * 1000 + rnd(1000);
    if (a > b) {
        int64_t t = a;
        a = b, b = t;
    }
    int bad = cmp_raw(q, lo, hi) || cmp_raw(q, a, b);
    for (size_t i = 0; !bad && i < sizeof steps / sizeof steps[0]; i++)
        for (int agg = 0; !bad && agg <= QUERY_LAST; agg++) {
            int64_t tz = tzs[rnd(3)];
            bool whole = rnd(2);
            bad = cmp_run(q, whole ? lo : a, whole ? hi : b, steps[i], tz, agg);
        }
    bad = bad || cmp_aggregate(q, a, b) || cmp_aggregate(q, INT64_MIN, INT64_MAX) ||
          cmp_count(q, a, b) || cmp_count(q, lo, hi) || cmp_export(q, lo, hi, 97) ||
          cmp_export(q, a, b, 13) || cmp_last(q);
    rng_state = keep;
    return bad ? -1 : 0;
}

/* Flushes every series that is due at now (in calls of max_series). */
static int flush_all(struct store *s, int64_t now, size_t max_series)
{
    for (int calls = 0; calls < 100000; calls++) {
        int rc = store_flush(s, now, max_series);
        if (rc < 0 || (size_t)rc > max_series)
            return -1;
        if ((size_t)rc < max_series)
            return 0;
    }
    return -1;
}

/* ---- case 1: a random model ---------------------------------------------- */

#define R_SERIES 4

static const double specials[] = {-0.0, 0.0, 5e-324, 0x1p-1022, 0.1, 1e-15, 9007199254740993.0};

static double gen_value(int series, int slot)
{
    switch (series) {
    case 0: /* a counter */
        return (double)(slot * 3 + (int)rnd(3));
    case 1: /* one-decimal readings */
        return (double)rnd(4000) / 10;
    case 2: /* every bit of precision, now and then a value codecs get wrong */
        if (rnd(40) == 0)
            return specials[rnd(sizeof specials / sizeof specials[0])];
        return ((double)rnd(1u << 31) * 2147483648.0 + rnd(1u << 31)) / 4611686018427387904.0 *
                   2000 -
               1000;
    default: /* a price that moves in steps */
        return 12500 + 250 * (double)rnd(3);
    }
}

/* One group: mostly new samples at the front, some late (hours back), some
 * out of order near the front, duplicates with the same or a new value. */
static int gen_group(struct store *s, int *cursor)
{
    int n = 1 + (int)rnd(40), failed = 0;
    for (int i = 0; i < n; i++) {
        int series = (int)rnd(R_SERIES), kind = (int)rnd(100), slot;
        if (kind < 65)
            slot = *cursor + (int)rnd(3);
        else if (kind < 75)
            slot = (int)rnd((uint32_t)*cursor + 1);
        else
            slot = *cursor - (int)rnd(kind < 90 ? 30 : 600);
        if (slot < 0 || slot >= M.n_slots)
            continue;
        if (slot > *cursor && slot < M.n_slots - 5)
            *cursor = slot;
        double v = gen_value(series, slot);
        if (kind >= 95 && M.present[series][slot])
            v = M.value[series][slot]; /* a redelivery */
        failed |= put(s, series, slot, v) != STORE_OK;
    }
    return failed ? -1 : 0;
}

/* check_all through a query_db of its own on s's head. */
static int check_store(const char *p, struct store *s, uint64_t seed)
{
    struct query_db *q;
    if (query_open(&q, p, store_head(s)) != 0)
        return say("query_open failed\n");
    int bad = check_all(q, seed);
    query_close(q);
    return bad;
}

/* store_close, then store_open again: the head replayed from its log. */
static int reopen(struct store **s, const char *p)
{
    store_close(*s);
    return store_open(s, p);
}

TEST(storage_random_model)
{
    const char *p = fresh_db("random");
    struct store *s;
    model_reset(R_SERIES, MK, T0, 1777);
    rng_state = 20;
    CHECK(store_open(&s, p) == 0);
    for (int i = 0; i < R_SERIES; i++) /* ids in index order */
        CHECK(put(s, i, i, gen_value(i, i)) == STORE_OK);
    CHECK(store_commit(s) == STORE_OK);
    int cursor = R_SERIES;
    for (int g = 0; g < 600; g++) {
        CHECK(gen_group(s, &cursor) == 0);
        CHECK(store_commit(s) == STORE_OK);
        if (g % 7 == 6) {
            int64_t now = slot_ts(cursor) + (int64_t)rnd(60000);
            CHECK(flush_all(s, now, 1 + rnd(3)) == 0);
        }
        if (g % 50 == 49 && check_store(p, s, (uint64_t)g) != 0)
            CHECK_FAIL_("after group %d, with the head", g);
        if (g % 100 == 99 && (reopen(&s, p) != 0 || check_store(p, s, (uint64_t)g + 1) != 0))
            CHECK_FAIL_("after group %d, reopened", g);
    }
    if (cursor < M.n_slots / 2) /* hours of data, most of it in chunk rows */
        CHECK_FAIL_("the front reached slot %d of %d", cursor, M.n_slots);
    /* Everything into chunk rows; the head empties. */
    CHECK(flush_all(s, slot_ts(M.n_slots) + DAY, 2) == 0);
    CHECK(flush_all(s, slot_ts(M.n_slots) + DAY, 2) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(st.head_points, 0);
    CHECK(check_store(p, s, 7) == 0);
    CHECK(reopen(&s, p) == 0);
    CHECK(check_store(p, s, 8) == 0);
    store_close(s);
    /* The whole file (every module's tables: ~48 pages even when empty),
     * and the chunks table alone (its pages, from SQLite's dbstat). */
    int64_t n = model_count(INT64_MIN, INT64_MAX);
    int64_t bytes =
        (harness_sql_int(p, "PRAGMA page_count") - harness_sql_int(p, "PRAGMA freelist_count")) *
        harness_sql_int(p, "PRAGMA page_size");
    int64_t chunks = harness_sql_int(p, "SELECT sum(pgsize) FROM dbstat WHERE name = 'chunks'");
    printf("# storage: %.1f bytes per sample in the file, %.1f in the chunks table (%lld "
           "samples of 4 series, %lld and %lld bytes in pages)\n",
           (double)bytes / (double)n, (double)chunks / (double)n, (long long)n, (long long)bytes,
           (long long)chunks);
}

/* An hour of more than CHUNKSTORE_MAX_POINTS (4096) samples is several
 * rows; late samples and replacements merge into them. */
TEST(storage_hour_of_many_rows)
{
    const char *p = fresh_db("manyrows");
    struct store *s;
    model_reset(1, 10800, fl(T0, HOUR) + 250, 500); /* 2 Hz for 90 minutes */
    rng_state = 9;
    CHECK(store_open(&s, p) == 0);
    for (int k = 0; k < M.n_slots; k += 1 + (k % 7 == 3)) { /* some gaps, filled late */
        CHECK(put(s, 0, k, (double)rnd(100000) / 100) == STORE_OK);
        if (k % 1000 == 0)
            CHECK(store_commit(s) == STORE_OK);
    }
    CHECK(store_commit(s) == STORE_OK);
    CHECK(flush_all(s, fl(T0, HOUR) + 2 * HOUR + 10 * MIN, 1) == 0);
    CHECK(harness_sql_int(p, "SELECT count(*) FROM chunks") >= 3);
    CHECK(check_store(p, s, 1) == 0);
    for (int k = 3; k < M.n_slots; k += 7) /* the gaps, and replacements */
        CHECK(put(s, 0, k + (int)rnd(2), (double)rnd(100000) / 100) == STORE_OK);
    CHECK(store_commit(s) == STORE_OK);
    CHECK(check_store(p, s, 2) == 0);
    CHECK(flush_all(s, fl(T0, HOUR) + 3 * HOUR, 1) == 0);
    CHECK(check_store(p, s, 3) == 0);
    CHECK(reopen(&s, p) == 0);
    CHECK(check_store(p, s, 4) == 0);
    CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM chunks"), model_count(INT64_MIN, INT64_MAX));
    store_close(s);
}

/* A group that fails leaves nothing behind: not in the head for readers,
 * not in chunk rows after a flush, not after a replay. The group holds new
 * samples and replacements of known series, then new series until one
 * fails: with refuse, its row is refused (a trigger: STORE_REFUSED, the
 * group goes on); else the disk is full (max_page_count: STORE_RETRY, the
 * whole group rolled back, and here not appended again). */
static int filler_series;

static int count_filler(void *ctx, const struct query_series *s)
{
    filler_series++;
    return 0;
}

static void failed_group(bool refuse)
{
    const char *p = fresh_db(refuse ? "refused" : "retry");
    struct store *s;
    static struct {
        bool present[MS][MK];
        double value[MS][MK];
    } saved;
    model_reset(3, 400, fl(T0, HOUR) + 999, 30000);
    CHECK(store_open(&s, p) == 0);
    for (int k = 0; k < 100; k++)
        for (int i = 0; i < 3; i++)
            CHECK(put(s, i, k, k * 10 + i) == STORE_OK);
    CHECK(store_commit(s) == STORE_OK);
    CHECK(store_test_exec(s, refuse ? "CREATE TRIGGER poison BEFORE INSERT ON series WHEN"
                                      " NEW.program = 'filler' BEGIN SELECT RAISE(ABORT,"
                                      " 'injected'); END"
                                    : "PRAGMA max_page_count = 1") == 0);
    memcpy(saved.present, M.present, sizeof saved.present);
    memcpy(saved.value, M.value, sizeof saved.value);
    for (int k = 100; k < 200; k++)
        for (int i = 0; i < 3; i++)
            CHECK(put(s, i, k, k + i) == STORE_OK);
    for (int k = 50; k < 60; k++)
        CHECK(put(s, 0, k, -k) == STORE_OK); /* replacements */
    int rc = STORE_OK;
    for (int j = 0; j < 2000 && rc == STORE_OK; j++) {
        char labels[96];
        snprintf(labels, sizeof labels, "{\"x\":\"%060d\"}", j);
        struct sample x = {.program = "filler",
                           .unit = "u",
                           .metric = "m",
                           .labels_json = labels,
                           .ts = T0,
                           .has_ts = true,
                           .value = 1,
                           .element = -1};
        rc = store_append(s, &x, T0, NULL);
    }
    int rc_commit = store_commit(s);
    printf("# %s: the failed append returned %d, the commit %d\n", refuse ? "refused" : "retry", rc,
           rc_commit);
    CHECK_INT(rc, refuse ? STORE_REFUSED : STORE_RETRY);
    CHECK(store_test_exec(s, refuse ? "DROP TRIGGER poison" : "PRAGMA max_page_count = 100000") ==
          0);
    if (rc == STORE_RETRY || rc == STORE_GROUP_LOST || rc_commit != STORE_OK) {
        memcpy(M.present, saved.present, sizeof saved.present);
        memcpy(M.value, saved.value, sizeof saved.value);
    }
    for (int stage = 0; stage < 4; stage++) { /* head, a good group, a flush, a replay */
        if (stage == 1) {
            for (int k = 200; k < 300; k++)
                for (int i = 0; i < 3; i++)
                    CHECK(put(s, i, k, k) == STORE_OK);
            CHECK(store_commit(s) == STORE_OK);
        }
        CHECK(stage != 2 || flush_all(s, slot_ts(M.n_slots) + DAY, 3) == 0);
        CHECK(stage != 3 || reopen(&s, p) == 0);
        struct query_db *q;
        struct query_filter filler = {.program = "filler"};
        CHECK(query_open(&q, p, store_head(s)) == 0);
        filler_series = 0;
        int bad = check_all(q, (uint64_t)stage) ||
                  query_series_list(q, &filler, count_filler, NULL) != QUERY_OK ||
                  filler_series != 0;
        query_close(q);
        if (bad)
            CHECK_FAIL_("stage %d (0: the head, 1: a good group after, 2: flushed, 3: replayed)",
                        stage);
    }
    store_close(s);
}

TEST(storage_refused_sample)
{
    failed_group(true);
}

TEST(storage_rolled_back_group)
{
    failed_group(false);
}

/* ---- case 2: readers during flush ---------------------------------------- */

/* Four series every 10 s for hours, nothing flushed yet. */
static void fill_regular(struct store *s, int n_slots, int per_group)
{
    for (int k = 0; k < n_slots; k++) {
        for (int i = 0; i < M.n_series; i++)
            put(s, i, k, (double)((k * 7 + i) % 100) / 10);
        if (k % per_group == per_group - 1)
            store_commit(s);
    }
    store_commit(s);
}

struct between_ctx {
    struct store *s;
    struct query_db *q;
    int64_t now;
    int flushes, bad;
};

/* Between two read transactions: one series' hours into chunk rows, and
 * every other read must still see each sample once. */
static void flush_one(void *ctx)
{
    struct between_ctx *b = ctx;
    int rc = store_flush(b->s, b->now, 1);
    b->flushes += rc > 0;
    b->bad |= rc < 0 || cmp_count(b->q, -QUERY_TS_LIMIT, QUERY_TS_LIMIT) != 0;
}

static int rc_sink_points;

static int rc_point(void *ctx, int64_t ts, double v)
{
    c_point(ctx, ts, v);
    return ++rc_sink_points % 23 == 0 ? QUERY_SINK_FULL : 0;
}

TEST(storage_readers_during_flush)
{
    const char *p = fresh_db("flushread");
    struct store *s;
    struct query_db *q, *q2;
    model_reset(4, 1800, fl(T0, HOUR) + 777, 10000); /* 5 hours */
    CHECK(store_open(&s, p) == 0);
    fill_regular(s, M.n_slots, 100);
    CHECK(query_open(&q, p, store_head(s)) == 0);
    CHECK(query_open(&q2, p, store_head(s)) == 0);
    int64_t lo = M.t0 - HOUR, hi = slot_ts(M.n_slots) + HOUR;
    /* An export whose chunks straddle flushes of one series each. */
    struct between_ctx b = {s, q2, fl(M.t0, HOUR) + 3 * HOUR + 10 * MIN, 0, 0};
    CHECK(export_all(q, lo, hi, 50, flush_one, &b) == 0);
    CHECK(cmp_export_rows(lo, hi) == 0);
    CHECK(!b.bad);
    CHECK_INT(b.flushes, 4);
    /* query_run in chunks (buckets, then raw), the next hours flushed
     * between the chunks of the first pass. */
    static const struct {
        int64_t step;
        enum query_agg agg;
    } passes[] = {{7 * MIN, QUERY_SUM}, {HOUR, QUERY_LAST}, {0, QUERY_AVG}};
    b.now += 2 * HOUR;
    b.flushes = 0;
    for (size_t pi = 0; pi < sizeof passes / sizeof passes[0]; pi++) {
        struct query_req req = {.filter = all_series,
                                .from = lo,
                                .to = hi,
                                .step = passes[pi].step,
                                .agg = passes[pi].agg};
        struct query_cursor cur = {0};
        struct collect c = {.last_idx = -1};
        struct query_sink sink = {&c, c_begin, rc_point, NULL};
        memset(got_n, 0, sizeof got_n);
        for (int calls = 0; !cur.done && calls < 10000; calls++) {
            CHECK_INT(query_run_chunk(q, &req, &cur, &sink, NULL), QUERY_OK);
            if (!cur.done)
                flush_one(&b);
        }
        query_cursor_free(&cur);
        CHECK(cur.done && !b.bad && c.n_series == 4 && !c.bad_order);
        for (int i = 0; i < 4; i++) {
            int n = expect(i, lo, hi, req.step, 0, req.agg);
            CHECK_INT(got_n[i], n);
            for (int j = 0; j < n; j++)
                if (got_ts[i][j] != want_ts[j] ||
                    !(!req.step              ? memcmp(&got_v[i][j], &want_v[j], sizeof(double)) == 0
                      : req.agg == QUERY_SUM ? near(got_v[i][j], want_v[j], want_tol[j])
                                             : got_v[i][j] == want_v[j]))
                    CHECK_FAIL_("pass %zu series %d point %d: %lld %.17g, want %lld %.17g", pi, i,
                                j, (long long)got_ts[i][j], got_v[i][j], (long long)want_ts[j],
                                want_v[j]);
        }
    }
    CHECK_INT(b.flushes, 4);
    CHECK(check_all(q, 3) == 0);
    query_close(q);
    query_close(q2);
    store_close(s);
}

struct reader {
    const char *path;
    struct head *head;
    atomic_llong appended, committed; /* samples: before append / after commit */
    atomic_int done, bad;
    atomic_int queries;
    char why[256];
};

/* Counts all samples in a loop: never fewer than were committed before the
 * call, never more than were appended after it, never fewer than before. */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct query_db *q;
    long long prev = 0;
    time_t t0 = time(NULL);
    if (query_open(&q, r->path, r->head) != 0)
        return atomic_store(&r->bad, 1), NULL;
    for (; !atomic_load(&r->done) && r->queries < 200000 && time(NULL) < t0 + 60;
         atomic_fetch_add(&r->queries, 1)) {
        int64_t n = -1, ids[4] = {1, 2, 3, 4}, f[4], t[4];
        struct rollup_agg out[4];
        long long lo = atomic_load(&r->committed);
        int rc = r->queries % 2 ? query_count_raw(q, &all_series, -QUERY_TS_LIMIT, QUERY_TS_LIMIT,
                                                  INT64_C(1) << 40, &n)
                                : QUERY_OK;
        if (r->queries % 2 == 0) { /* an aggregate over all time obeys the same bounds */
            for (int i = 0; i < 4; i++)
                f[i] = INT64_MIN, t[i] = INT64_MAX;
            rc = query_aggregate(q, ids, f, t, 4, out);
            n = out[0].count + out[1].count + out[2].count + out[3].count;
        }
        long long hi = atomic_load(&r->appended);
        if (rc != QUERY_OK || n < lo || n > hi || n < prev) {
            snprintf(r->why, sizeof r->why,
                     "%s %d: %lld, committed before %lld, appended after "
                     "%lld, previous %lld",
                     r->queries % 2 ? "count_raw" : "aggregate", rc, (long long)n, lo, hi, prev);
            atomic_store(&r->bad, 1);
            break;
        }
        prev = n;
    }
    query_close(q);
    return NULL;
}

TEST(storage_reader_thread_during_flush)
{
    const char *p = fresh_db("thread");
    struct store *s;
    model_reset(4, 4000, fl(T0, HOUR) + 333, 10000); /* 11 hours */
    rng_state = 11;
    CHECK(store_open(&s, p) == 0);
    for (int i = 0; i < 4; i++) /* ids 1..4 */
        CHECK(put(s, i, 0, 0) == STORE_OK);
    CHECK(store_commit(s) == STORE_OK);
    CHECK(M.id[3] == 4);
    static struct reader r;
    r.path = p, r.head = store_head(s);
    atomic_store(&r.appended, 4);
    atomic_store(&r.committed, 4);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, reader_main, &r) == 0);
    for (int k = 1, g = 0; k < M.n_slots && !atomic_load(&r.bad); g++) {
        for (int j = 0; j < 5 && k < M.n_slots; j++, k++)
            for (int i = 0; i < 4; i++) {
                atomic_fetch_add(&r.appended, 1);
                put(s, i, k, (double)(k % 50));
            }
        for (int j = 0; j < 2; j++) /* replacements, often of flushed samples */
            put(s, (int)rnd(4), (int)rnd((uint32_t)k), 100 + rnd(100));
        if (store_commit(s) != STORE_OK || (g % 4 == 3 && flush_all(s, slot_ts(k), 1) != 0))
            break;
        atomic_store(&r.committed, atomic_load(&r.appended));
        for (int w = 0; w < 50 && atomic_load(&r.queries) < g / 4; w++)
            usleep(200); /* the reader keeps up (a busy machine starves it) */
    }
    atomic_store(&r.done, 1);
    pthread_join(th, NULL);
    if (atomic_load(&r.bad))
        CHECK_FAIL_("reader: %s", r.why);
    CHECK(atomic_load(&r.queries) >= 10);
    CHECK_INT(atomic_load(&r.committed), 4 * M.n_slots);
    CHECK(check_store(p, s, 11) == 0); /* every replacement kept */
    printf("# reader thread: %d queries beside the writer\n", atomic_load(&r.queries));
    store_close(s);
}

/* ---- case 3: crash --------------------------------------------------------- */

#define CRASH_GROUPS 150

/* The child's work, and the parent's model of it: groups from a seed,
 * flushed now and then; after each commit, its number to ack_fd. */
static void crash_work(struct store *s, int groups, int ack_fd)
{
    model_reset(R_SERIES, 6000, T0, 3000);
    rng_state = 33;
    for (int i = 0; i < R_SERIES; i++) { /* ids 1..4 in index order */
        put(s, i, i, gen_value(i, i));
        M.id[i] = i + 1;
    }
    if (s && store_commit(s) != STORE_OK)
        _exit(3);
    int cursor = R_SERIES;
    for (int g = 0; g < groups; g++) {
        gen_group(s, &cursor);
        if (s && store_commit(s) != STORE_OK)
            _exit(3);
        if (ack_fd >= 0 && write(ack_fd, &g, sizeof g) != sizeof g)
            _exit(4);
        if (s && g % 9 == 8 && g < groups - 2)
            flush_all(s, slot_ts(cursor), 2);
    }
}

static pid_t crash_child(const char *p, int ack_fd)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct store *s;
        if (store_open(&s, p) != 0)
            _exit(2);
        crash_work(s, CRASH_GROUPS, ack_fd);
        _exit(0); /* no store_close */
    }
    return pid;
}

/* The store at p holds the model of `groups` or of `groups + alt` groups. */
static int check_replay(const char *p, int groups, int alt)
{
    struct store *s;
    struct query_db *q;
    if (store_open(&s, p) != 0)
        return say("store_open failed\n");
    int bad = -1;
    for (int i = alt ? 0 : 1; i < 2 && bad; i++) {
        crash_work(NULL, groups + (i == 0 ? alt : 0), -1);
        if (query_open(&q, p, store_head(s)) != 0)
            break;
        quiet = i == 0;
        bad = check_all(q, 5);
        quiet = 0;
        query_close(q);
    }
    store_close(s);
    return bad;
}

TEST(storage_crash_exit_without_close)
{
    const char *p = fresh_db("crash");
    int status;
    pid_t pid = crash_child(p, -1);
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(check_replay(p, CRASH_GROUPS, 0) == 0);

    /* The same work again; then a torn tail of the head log: at most the
     * last group goes. */
    p = fresh_db("torn");
    pid = crash_child(p, -1);
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char head[600];
    snprintf(head, sizeof head, "%s-head", p);
    struct stat sb;
    CHECK(stat(head, &sb) == 0 && sb.st_size > 16);
    CHECK(truncate(head, sb.st_size - 3) == 0);
    CHECK(check_replay(p, CRASH_GROUPS - 1, 1) == 0);
}

TEST(storage_crash_sigkill_mid_stream)
{
    for (int round = 0; round < 3; round++) {
        char name[32];
        snprintf(name, sizeof name, "kill%d", round);
        const char *p = fresh_db(name);
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = crash_child(p, fds[1]);
        close(fds[1]);
        CHECK(pid > 0);
        int want = 20 + 40 * round, g = -1, last = -1;
        while (last < want && read(fds[0], &g, sizeof g) == sizeof g)
            last = g;
        kill(pid, SIGKILL);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        while (read(fds[0], &g, sizeof g) == sizeof g) /* acks still in the pipe */
            last = g;
        close(fds[0]);
        CHECK(last >= want || (WIFEXITED(status) && last == CRASH_GROUPS - 1));
        /* Groups 0..last committed; the one after may be too. */
        if (check_replay(p, last + 1, last + 1 < CRASH_GROUPS) != 0)
            CHECK_FAIL_("round %d: killed after group %d", round, last);
    }
}

/* ---- case 4: retention ----------------------------------------------------- */

TEST(storage_retention_keeps_aggregates)
{
    const char *p = fresh_db("retention");
    struct store *s;
    struct query_db *q;
    model_reset(3, 5666, fl(T0, HOUR) - 4 * DAY + 17123, 61000); /* 4 days */
    rng_state = 4;
    CHECK(store_open(&s, p) == 0);
    for (int k = 0; k < M.n_slots; k++) {
        for (int i = 0; i < 3; i++)
            CHECK(put(s, i, k, (double)rnd(1000) / 10) == STORE_OK);
        if (k % 100 == 99) {
            CHECK(store_commit(s) == STORE_OK);
            CHECK(flush_all(s, slot_ts(k), 3) == 0);
        }
    }
    CHECK(store_commit(s) == STORE_OK);
    int64_t now = slot_ts(M.n_slots) + HOUR, horizon = now - 2 * DAY;
    CHECK(flush_all(s, now, 3) == 0);
    /* A pass over the series may end with a 0 while rows wait (the header
     * promises only that max_rows means more may be waiting): done after
     * a few 0s in a row. */
    int rc, calls = 0, total = 0, zeros = 0;
    for (; zeros < 5 && calls < 10000; calls++) {
        CHECK((rc = store_prune(s, now, 2, 7)) >= 0 && rc <= 7);
        total += rc;
        zeros = rc ? 0 : zeros + 1;
    }
    if (total < 3 * 48 - 3 || total > 3 * 50) /* two days of hours, three series */
        CHECK_FAIL_("store_prune: %d rows in %d calls", total, calls);
    int64_t lo = fl(M.t0, HOUR), hi = fl(slot_ts(M.n_slots), HOUR) + HOUR - 1;
    int64_t cut = fl(horizon, HOUR);
    for (int stage = 0; stage < 2; stage++) {
        CHECK(stage == 0 || reopen(&s, p) == 0);
        CHECK(query_open(&q, p, store_head(s)) == 0);
        M.raw_floor = INT64_MAX; /* below the cut: nothing raw */
        int bad = cmp_raw(q, lo, cut - 1) || cmp_count(q, lo, cut - 1);
        M.raw_floor = INT64_MIN;
        bad = bad || cmp_raw(q, cut + HOUR, hi) || cmp_count(q, cut + HOUR, hi);
        for (int agg = 0; !bad && agg <= QUERY_LAST; agg++)
            bad = cmp_run(q, lo, hi, HOUR, 0, agg) || cmp_run(q, lo, hi, DAY, 0, agg) ||
                  cmp_run(q, lo, hi, DAY, 7 * HOUR, agg);
        bad = bad || cmp_aggregate(q, INT64_MIN, INT64_MAX) || cmp_aggregate(q, lo, hi);
        query_close(q);
        if (bad)
            CHECK_FAIL_("stage %d (now %lld, horizon %lld)", stage, (long long)now,
                        (long long)horizon);
    }
    /* Past retention the edges snap to whole rows (an hour each here): a
     * range counts the rows whose start (first sample) lies in it. */
    CHECK(query_open(&q, p, store_head(s)) == 0);
    for (int r = 0; r < 20; r++) {
        int64_t f = lo + (int64_t)rnd((uint32_t)((cut - lo) / 1000)) * 1000, t = cut - 1;
        if (r % 2 == 0) /* a few hours from the middle of one */
            f = fl(f, HOUR) + 30 * MIN, t = f + 3 * HOUR < cut ? f + 3 * HOUR : cut - 1;
        int64_t ids[3], fs[3], ts[3];
        struct rollup_agg got[3];
        for (int i = 0; i < 3; i++)
            ids[i] = M.id[i], fs[i] = f, ts[i] = t;
        CHECK_INT(query_aggregate(q, ids, fs, ts, 3, got), QUERY_OK);
        for (int i = 0; i < 3; i++) {
            struct acc w = {0};
            int64_t row = INT64_MIN; /* the hour whose row holds slot k, if it counts */
            for (int k = 0; k < M.n_slots; k++) {
                int64_t h = fl(slot_ts(k), HOUR);
                if (M.present[i][k] && row != h && row != -h) /* its first sample */
                    row = slot_ts(k) >= f && slot_ts(k) <= t ? h : -h;
                if (M.present[i][k] && row == h)
                    acc_add(&w, slot_ts(k), M.value[i][k]);
            }
            if (cmp_one_agg(&got[i], &w, "snapped aggregate", i) != 0)
                CHECK_FAIL_("range %d [%lld, %lld]", r, (long long)f, (long long)t);
        }
    }
    query_close(q);
    /* A late sample into a pruned hour: a row of its own; the hour counts it. */
    int64_t late = slot_ts(100) + 1;
    CHECK(put_ts(s, 1, late, -1, 1000) == STORE_OK);
    CHECK(store_commit(s) == STORE_OK);
    CHECK(flush_all(s, now, 3) == 0);
    CHECK(query_open(&q, p, store_head(s)) == 0);
    int64_t id = M.id[1], f = fl(late, HOUR), t = f + HOUR - 1;
    struct rollup_agg a;
    CHECK_INT(query_aggregate(q, &id, &f, &t, 1, &a), QUERY_OK);
    struct acc w = expect_agg(1, f, t);
    CHECK_INT(a.count, w.n + 1);
    CHECK(near(a.sum, w.sum + 1000, w.abs_sum + 1000));
    CHECK(a.max == 1000);
    query_close(q);
    store_close(s);
}

/* ---- case 5: migration from schema 6 --------------------------------------- */

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return rc == SQLITE_OK ? 0 : -1;
}

/* A schema-6 database as the old store left it: samples from raw_floor on,
 * minute rollups from minute_floor to the watermark, hour rollups below the
 * watermark. With model false, n_series series of per samples each
 * instead of the model's. */
static int build_v6(const char *p, int64_t w, int64_t rf, int64_t mf, bool model, int n_series,
                    int per)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char sql[512];
    int bad = sqlite3_open(p, &db) != SQLITE_OK || exec_sql(db, "PRAGMA journal_mode = WAL");
    for (int i = 0; !bad && i < 6; i++)
        bad = exec_sql(db, schema_migrations[i]);
    bad = bad || exec_sql(db, "PRAGMA user_version = 6") || exec_sql(db, "BEGIN");
    for (int i = 0; !bad && i < n_series; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, model ? "{\"s\":\"%02d\"}" : "{\"n\":\"%05d\"}", i);
        snprintf(sql, sizeof sql,
                 "INSERT INTO series VALUES (%d, '%s', 'u', 'm', '%s', 0, NULL, NULL)", i + 1, PROG,
                 labels);
        bad = exec_sql(db, sql);
        if (model)
            M.id[i] = i + 1;
    }
    bad = bad || sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?, ?, ?, 0)", -1, &st, NULL) !=
                     SQLITE_OK;
    for (int i = 0; !bad && i < n_series; i++)
        for (int k = 0; !bad && k < (model ? M.n_slots : per); k++) {
            if (model && !M.present[i][k])
                continue;
            sqlite3_bind_int64(st, 1, i + 1);
            sqlite3_bind_int64(st, 2, model ? slot_ts(k) : M.t0 + (int64_t)k * 397000 + i);
            sqlite3_bind_double(st, 3, model ? M.value[i][k] : (double)((k + i) % 13) / 4);
            bad = sqlite3_step(st) != SQLITE_DONE;
            sqlite3_reset(st);
        }
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "INSERT INTO rollup_1m SELECT series, ts - ts %% 60000 AS m, min(value), max(value),"
             " sum(value), count(*), 0, max(ts) FROM samples WHERE ts < %lld GROUP BY series, m",
             (long long)w);
    bad = bad || exec_sql(db, sql);
    bad = bad || exec_sql(db, "UPDATE rollup_1m SET last_value = (SELECT value FROM samples AS s"
                              " WHERE s.series = rollup_1m.series AND s.ts = rollup_1m.last_ts)");
    bad = bad || exec_sql(db, "INSERT INTO rollup_1h SELECT series, ts - ts % 3600000 AS h,"
                              " min(min_value), max(max_value), sum(sum_value), sum(n), 0,"
                              " max(last_ts) FROM rollup_1m GROUP BY series, h");
    bad = bad || exec_sql(db, "UPDATE rollup_1h SET last_value = (SELECT last_value FROM"
                              " rollup_1m AS m WHERE m.series = rollup_1h.series AND m.ts ="
                              " rollup_1h.last_ts - rollup_1h.last_ts % 60000)");
    bad = bad || exec_sql(db, "UPDATE series SET last_ts = (SELECT max(ts) FROM samples WHERE"
                              " series = series.id), last_value = (SELECT value FROM samples WHERE"
                              " series = series.id ORDER BY ts DESC LIMIT 1)");
    snprintf(sql, sizeof sql,
             "DELETE FROM samples WHERE ts < %lld; DELETE FROM rollup_1m WHERE ts < %lld;"
             "INSERT OR REPLACE INTO store_meta VALUES ('watermark', %lld), ('raw_floor', %lld),"
             " ('minute_floor', %lld); COMMIT",
             (long long)rf, (long long)mf, (long long)w, (long long)rf, (long long)mf);
    bad = bad || exec_sql(db, sql);
    sqlite3_close(db);
    return bad ? -1 : 0;
}

static int64_t sql_count(const char *p, const char *fmt, int64_t arg)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, (long long)arg);
    return harness_sql_int(p, sql);
}

/* Converted: the newest schema, the old tables and 'convert_next' gone. */
static bool converted(const char *p)
{
    return harness_sql_int(p, "PRAGMA user_version") == schema_version &&
           harness_sql_int(p, "SELECT count(*) FROM sqlite_master WHERE name IN"
                              " ('samples', 'rollup_1m', 'rollup_1h')") == 0 &&
           harness_sql_int(p, "SELECT count(*) FROM store_meta WHERE key = 'convert_next'") == 0;
}

TEST(storage_migration_from_schema_6)
{
    const char *p = fresh_db("v6");
    int64_t h0 = fl(T0, HOUR) - 10 * HOUR;
    model_reset(3, 973, h0 + 4321, 37000); /* 10 hours */
    rng_state = 6;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < M.n_slots; k++)
            if (rnd(5))
                M.present[i][k] = true, M.value[i][k] = ((double)rnd(4001) - 2000) / 4;
    int64_t mf = h0 + 3 * HOUR, rf = h0 + 5 * HOUR + 20 * MIN, w = h0 + 8 * HOUR + 13 * MIN;
    CHECK(build_v6(p, w, rf, mf, true, 3, 0) == 0);
    CHECK(sql_count(p, "SELECT count(*) FROM rollup_1m WHERE ts < %lld", rf) > 100);
    struct store *s;
    struct query_db *q;
    CHECK(store_open(&s, p) == 0);
    CHECK(schema_version >= 7 && converted(p));
    int64_t lo = h0, hi = h0 + 11 * HOUR - 1;
    for (int stage = 0; stage < 2; stage++) {
        CHECK(stage == 0 || reopen(&s, p) == 0);
        CHECK(query_open(&q, p, store_head(s)) == 0);
        M.raw_floor = rf; /* raw: the old samples exactly */
        int bad = cmp_raw(q, lo, hi) || cmp_count(q, lo, hi) || cmp_export(q, lo, hi, 100);
        M.raw_floor = INT64_MIN;
        for (int agg = 0; !bad && agg <= QUERY_LAST; agg++) /* hours, minutes: the rollups */
            bad = cmp_run(q, lo, hi, HOUR, 0, agg) || cmp_run(q, lo, hi, DAY, 7 * HOUR, agg) ||
                  cmp_run(q, mf, rf - 1, MIN, 0, agg);
        bad = bad || cmp_aggregate(q, INT64_MIN, INT64_MAX) || cmp_last(q);
        query_close(q);
        if (bad)
            CHECK_FAIL_("stage %d", stage);
    }
    store_close(s);
}

/* A count that differs stops the start and keeps the old tables: here a
 * sample whose series row is missing (no series converts it). */
TEST(storage_migration_count_check)
{
    const char *p = fresh_db("v6bad");
    model_reset(2, 100, fl(T0, HOUR) + 5, 60000);
    for (int k = 0; k < 100; k++)
        M.present[0][k] = M.present[1][k] = true, M.value[1][k] = k;
    CHECK(build_v6(p, slot_ts(50), 0, 0, true, 2, 0) == 0);
    sqlite3 *db;
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    CHECK(exec_sql(db, "INSERT INTO samples VALUES (99, 1780000000000, 1, 0)") == 0);
    sqlite3_close(db);
    struct store *s;
    CHECK(store_open(&s, p) != 0);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 201);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM rollup_1h"), 2);
}

/* The rows of sql (on table T) in p1 and p2 are the same (SQL equality:
 * REAL exact, BLOB byte for byte). */
static int same_rows(const char *p1, const char *p2, const char *cols, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM main.%s) - (SELECT count(*) FROM b.%s),"
             " (SELECT count(*) FROM (SELECT %s FROM main.%s EXCEPT SELECT %s FROM b.%s))",
             table, table, cols, table, cols, table);
    char *attach = sqlite3_mprintf("ATTACH %Q AS b", p2);
    int ok = sqlite3_open_v2(p1, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
             sqlite3_exec(db, attach, NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0 &&
             sqlite3_column_int64(st, 1) == 0;
    if (!ok)
        fprintf(stderr, "  %s differs (%s)\n", table, sqlite3_errmsg(db));
    sqlite3_free(attach);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok ? 0 : -1;
}

/* store_open in a child, its log (stderr) to log_path. */
static pid_t open_child(const char *p, const char *log_path)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        struct store *s;
        if (store_open(&s, p) != 0)
            _exit(2);
        store_close(s);
        _exit(0);
    }
    return pid;
}

TEST(storage_migration_resumes_after_kill)
{
    enum { SERIES = 4000, PER = 30 };
    char whole[600], killed[600], log1[600], log2[600];
    model_reset(0, 0, fl(T0, HOUR) - 5 * HOUR + 999, 1);
    int64_t w = M.t0 + 3 * HOUR, rf = fl(M.t0, HOUR) + HOUR + 7 * MIN, mf = fl(M.t0, HOUR);
    snprintf(whole, sizeof whole, "%s", fresh_db("convert_whole"));
    CHECK(build_v6(whole, w, rf, mf, false, SERIES, PER) == 0);
    snprintf(killed, sizeof killed, "%s", fresh_db("convert_killed"));
    CHECK(build_v6(killed, w, rf, mf, false, SERIES, PER) == 0);
    int64_t n_samples = harness_sql_int(killed, "SELECT count(*) FROM samples");
    snprintf(log1, sizeof log1, "%s/convert1.log", harness_tmpdir());
    snprintf(log2, sizeof log2, "%s/convert2.log", harness_tmpdir());
    unlink(log1), unlink(log2);

    /* Uninterrupted. */
    int status;
    pid_t pid = open_child(whole, log1);
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);

    /* Killed part way: once convert_next has passed a random series. */
    rng_state = (uint64_t)time(NULL);
    int64_t at = 200 + rnd(SERIES / 2), seen = -1;
    pid = open_child(killed, log2);
    CHECK(pid > 0);
    for (int i = 0; i < 20000 && harness_alive(pid); i++) {
        sqlite3 *db;
        sqlite3_stmt *st;
        if (sqlite3_open_v2(killed, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT value FROM store_meta WHERE key = 'convert_next'", -1,
                               &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                seen = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        sqlite3_close(db);
        if (seen >= at)
            break;
        usleep(500);
    }
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid);
    int64_t next =
        harness_sql_int(killed, "SELECT value FROM store_meta WHERE key = 'convert_next'");
    if (!(next > 1 && next <= SERIES))
        CHECK_FAIL_("killed at convert_next %lld (seen %lld, aimed at %lld): not part way",
                    (long long)next, (long long)seen, (long long)at);
    printf("# conversion killed at convert_next = %lld of %d series\n", (long long)next, SERIES);
    unlink(log2);
    pid = open_child(killed, log2);
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);

    for (int i = 0; i < 2; i++) {
        const char *p = i ? killed : whole;
        CHECK(converted(p));
        CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM chunks WHERE data IS NOT NULL"),
                  n_samples);
        CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM chunks"), SERIES * PER);
    }
    CHECK(n_samples == SERIES * (PER - 11));
    CHECK(same_rows(whole, killed, "*", "chunks") == 0);
    CHECK(same_rows(whole, killed, "*", "series") == 0);
    /* The log says it went on from where it was: it names that series. */
    FILE *f = fopen(log2, "r");
    char text[8192] = "", num[32], num2[32];
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[got] = 0;
    if (f)
        fclose(f);
    snprintf(num, sizeof num, " %lld ", (long long)next - 1); /* series done before */
    snprintf(num2, sizeof num2, " %lld ", (long long)next);   /* or the next one */
    if (!strstr(text, num) && !strstr(text, num2))
        CHECK_FAIL_("the resumed conversion's log does not name series %s:\n%s", num, text);
}

/* ---- case 6: store_flush's bounds ------------------------------------------ */

TEST(storage_flush_bounds_and_late_merge)
{
    const char *p = fresh_db("flush");
    struct store *s;
    struct query_db *q;
    int64_t h = fl(T0, HOUR);
    model_reset(10, 360, h + 500, 10000); /* one hour, 10 series */
    CHECK(store_open(&s, p) == 0);
    fill_regular(s, M.n_slots, 60);
    int64_t due = h + HOUR + STORE_FLUSH_GRACE_MS;
    CHECK_INT(store_flush(s, due - 1, 3), 0); /* not yet: the grace */
    CHECK(put(s, 0, 5, 1) == STORE_OK);       /* with a group open: nothing */
    CHECK_INT(store_flush(s, due + 1, 3), 0);
    CHECK(store_commit(s) == STORE_OK);
    static const int want[] = {3, 3, 3, 1, 0};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_INT(store_flush(s, due + 1 + (int64_t)i, 3), want[i]);
    CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM chunks"), 3600);
    CHECK_INT(harness_sql_int(p, "SELECT count(DISTINCT series) FROM chunks"), 10);
    store_flush(s, due + 10, 3);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(st.head_points, 0);

    /* Late into a written hour: one new ts, one replaced value. */
    CHECK(put_ts(s, 2, slot_ts(100) + 1, -1, 500) == STORE_OK);
    CHECK(put(s, 2, 200, -7.5) == STORE_OK);
    CHECK(store_commit(s) == STORE_OK);
    CHECK(query_open(&q, p, store_head(s)) == 0);
    int64_t id = M.id[2], f = h, t = h + HOUR - 1, n = 0;
    struct rollup_agg a;
    struct acc w = expect_agg(2, f, t);       /* the replacement; the new ts is not in the model */
    for (int round = 0; round < 2; round++) { /* in the head, then merged into the rows */
        CHECK_INT(query_aggregate(q, &id, &f, &t, 1, &a), QUERY_OK);
        CHECK_INT(a.count, w.n + 1);
        CHECK(near(a.sum, w.sum + 500, w.abs_sum + 500));
        CHECK(a.min == -7.5 && a.max == 500);
        CHECK_INT(query_count_raw(q, &all_series, f, t, 100000, &n), QUERY_OK);
        CHECK_INT(n, 3601);
        if (round == 0)
            CHECK_INT(store_flush(s, due + 20, 3), 1);
    }
    query_close(q);
    store_flush(s, due + 30, 3);
    CHECK_INT(sql_count(p, "SELECT sum(n) FROM chunks WHERE series = %lld", id), 361);
    CHECK_INT(
        sql_count(p, "SELECT CAST(min(min_value) * 2 AS INTEGER) FROM chunks WHERE series = %lld",
                  id),
        -15);
    CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM chunks"), 3601);
    store_get_stats(s, &st);
    CHECK_INT(st.head_points, 0);
    store_close(s);
}

TEST_MAIN(CASE(storage_refused_sample), CASE(storage_rolled_back_group),
          CASE(storage_hour_of_many_rows), CASE(storage_random_model),
          CASE(storage_readers_during_flush), CASE(storage_reader_thread_during_flush),
          CASE(storage_crash_exit_without_close), CASE(storage_crash_sigkill_mid_stream),
          CASE(storage_retention_keeps_aggregates), CASE(storage_migration_from_schema_6),
          CASE(storage_migration_resumes_after_kill), CASE(storage_migration_count_check),
          CASE(storage_flush_bounds_and_late_merge))
