/* test_query.c — the read side against an independent brute force: samples
 * go in through the real store (late, out of order, replaced), queries come
 * out of query.c (rollups + raw edges), and every answer is compared with a
 * computation over an in-memory model of the raw samples. */
#include <sqlite3.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "query.h"
#include "agg.h"
#include "store.h"
#include "util.h"

#define MIN  INT64_C(60000)
#define HOUR INT64_C(3600000)
#define DAY  INT64_C(86400000)
#define TQ   INT64_C(1780000000000) /* 2026-05-28T20:26:40Z: ragged, and in the past */

static char db_path[512];

static const char *fresh_db(const char *name)
{
    snprintf(db_path, sizeof db_path, "%s/%s.db", harness_tmpdir(), name);
    unlink(db_path);
    return db_path;
}

/* ---- results collected from the sink ------------------------------------ */

struct got_series {
    char name[200]; /* "program/unit/metric labels" */
    int n, cap;
    int64_t *ts;
    double *v;
};

struct got {
    struct got_series s[16];
    int n;
    int64_t abort_after; /* stop after this many points (0: never) */
    int64_t points;
};

static int on_begin(void *ctx, const struct query_series *s)
{
    struct got *g = ctx;
    if (g->n == 16)
        return 1;
    struct got_series *gs = &g->s[g->n++];
    memset(gs, 0, sizeof *gs);
    snprintf(gs->name, sizeof gs->name, "%s/%s/%s %s", s->program, s->unit, s->metric,
             s->labels_json);
    return 0;
}

static int on_point(void *ctx, int64_t ts, double v)
{
    struct got *g = ctx;
    struct got_series *gs = &g->s[g->n - 1];
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? 2 * gs->cap : 64;
        gs->ts = realloc(gs->ts, (size_t)gs->cap * sizeof *gs->ts);
        gs->v = realloc(gs->v, (size_t)gs->cap * sizeof *gs->v);
        if (!gs->ts || !gs->v)
            return 1;
    }
    gs->ts[gs->n] = ts;
    gs->v[gs->n++] = v;
    g->points++;
    return g->abort_after && g->points >= g->abort_after;
}

static void got_free(struct got *g)
{
    for (int i = 0; i < g->n; i++) {
        free(g->s[i].ts);
        free(g->s[i].v);
    }
    memset(g, 0, sizeof *g);
}

static const struct query_sink collect = {NULL, on_begin, on_point, NULL};

static int run(struct query_db *q, const struct query_req *req, struct got *g)
{
    struct query_sink sink = collect;
    sink.ctx = g;
    return query_run(q, req, &sink, NULL);
}

/* ---- the model and its brute force -------------------------------------- */

#define N_SERIES 3
#define GRID     997   /* ms between model slots: nothing lines up with minutes */
#define N_SLOTS  22000 /* about 6 h 6 min */

static const char *const units[N_SERIES] = {"pasar-bandar-jaya", "pasar-bandar-jaya", "pasar-kota"};
static const char *const labels[N_SERIES] = {"{\"commodity\":\"beras-medium\"}",
                                             "{\"commodity\":\"gula-pasir\"}",
                                             "{\"commodity\":\"beras-medium\"}"};

static struct {
    bool present[N_SERIES][N_SLOTS];
    double value[N_SERIES][N_SLOTS];
} model;

static int64_t slot_ts(int k)
{
    return TQ + (int64_t)k * GRID;
}

static int put(struct store *s, int series, int k, double v)
{
    struct sample x = {.program = "simas-bapokting",
                       .unit = units[series],
                       .metric = "price",
                       .labels_json = labels[series],
                       .ts = slot_ts(k),
                       .value = v};
    model.present[series][k] = true;
    model.value[series][k] = v;
    return store_append(s, &x, slot_ts(k), NULL);
}

static int64_t fl(int64_t x, int64_t m)
{
    return (x >= 0 ? x / m : -((-x + m - 1) / m)) * m;
}

struct acc {
    double min, max, sum, last;
    int64_t n, last_ts;
};

static double acc_value(const struct acc *a, enum query_agg agg)
{
    switch (agg) {
    case QUERY_MIN:
        return a->min;
    case QUERY_MAX:
        return a->max;
    case QUERY_SUM:
        return a->sum;
    case QUERY_COUNT:
        return (double)a->n;
    case QUERY_LAST:
        return a->last;
    default:
        return a->sum / (double)a->n;
    }
}

static int64_t want_ts[N_SLOTS + 1];
static double want_v[N_SLOTS + 1];

/* The answer computed from the model alone. Returns the number of points. */
static int oracle(int series, int64_t from, int64_t to, int64_t step, int64_t tz,
                  enum query_agg agg)
{
    int n = 0;
    struct acc a = {0};
    int64_t cur = INT64_MIN;
    for (int k = 0; k < N_SLOTS; k++) {
        int64_t ts = slot_ts(k);
        if (!model.present[series][k] || ts < from || ts > to)
            continue;
        double v = model.value[series][k];
        if (!step) {
            want_ts[n] = ts;
            want_v[n++] = v;
            continue;
        }
        int64_t b = fl(ts + tz, step) - tz;
        if (b != cur) {
            if (a.n) {
                want_ts[n] = cur;
                want_v[n++] = acc_value(&a, agg);
            }
            a = (struct acc){v, v, 0, v, 0, ts};
            cur = b;
        }
        a.min = v < a.min ? v : a.min;
        a.max = v > a.max ? v : a.max;
        a.sum += v;
        a.n++;
        a.last = v; /* slots ascend: the latest ts so far */
        a.last_ts = ts;
    }
    if (step && a.n) {
        want_ts[n] = cur;
        want_v[n++] = acc_value(&a, agg);
    }
    return n;
}

/* 0 if the collected series `gs` equals the oracle's points. */
static int same_points(const struct got_series *gs, int n, const char *what)
{
    if (gs->n != n) {
        fprintf(stderr, "  %s: %d points, want %d\n", what, gs->n, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        double a = gs->v[i], b = want_v[i];
        if (gs->ts[i] != want_ts[i] || !(fabs(a - b) <= 1e-9 * (fabs(b) + 1))) {
            fprintf(stderr, "  %s: point %d is %lld %.17g, want %lld %.17g\n", what, i,
                    (long long)gs->ts[i], a, (long long)want_ts[i], b);
            return -1;
        }
    }
    return 0;
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33) % n;
}

/* The model's series, stored through the store: mostly in order with gaps,
 * some late samples anywhere behind, some duplicates with new values. */
static void fill_random(const char *path, uint64_t seed, int n_ops)
{
    struct store *s;
    memset(&model, 0, sizeof model);
    rng_state = seed;
    if (store_open(&s, path) != 0)
        return;
    int cursor = 0;
    for (int i = 0; i < n_ops && cursor < N_SLOTS; i++) {
        int series = (int)rnd(N_SERIES), kind = (int)rnd(100), k;
        if (kind < 80)
            k = cursor += (int)rnd(3);
        else if (kind < 90)
            k = (int)rnd((uint32_t)cursor + 1);
        else
            k = cursor - (int)rnd(200);
        if (k >= 0 && k < N_SLOTS)
            put(s, series, k, ((double)rnd(8001) - 4000) / 4);
        if (i % 200 == 199)
            store_commit(s);
    }
    store_close(s);
}

static struct query_req req_for(int64_t from, int64_t to, int64_t step, int64_t tz,
                                enum query_agg agg)
{
    struct query_req r = {.filter = {.program = "simas-bapokting", .metric = "price"},
                          .from = from,
                          .to = to,
                          .step = step,
                          .agg = agg,
                          .tz_offset_ms = tz};
    return r;
}

/* Runs req and compares every series with the oracle. */
static int check_req(struct query_db *q, const struct query_req *req, int64_t oracle_from,
                     int64_t oracle_to)
{
    struct got g = {0};
    int rc = run(q, req, &g), bad = 0;
    if (rc != QUERY_OK || g.n != N_SERIES) {
        fprintf(stderr, "  query: status %d, %d series: %s\n", rc, g.n, query_error(q));
        bad = 1;
    }
    for (int i = 0; !bad && i < N_SERIES; i++) {
        char what[256];
        int n = oracle(i, oracle_from, oracle_to, req->step, req->tz_offset_ms, req->agg);
        snprintf(what, sizeof what, "series %d from %lld to %lld step %lld tz %lld %s", i,
                 (long long)req->from, (long long)req->to, (long long)req->step,
                 (long long)req->tz_offset_ms, query_agg_name(req->agg));
        bad = same_points(&g.s[i], n, what) != 0;
    }
    got_free(&g);
    return bad ? -1 : 0;
}

static const int64_t steps[] = {1000, 30000,    MIN,      90000,    5 * MIN, 7 * MIN,
                                HOUR, 90 * MIN, 2 * HOUR, 3 * HOUR, DAY};
static const int64_t tzs[] = {0, 7 * HOUR, 8 * HOUR, 9 * HOUR, -(3 * HOUR + 30 * MIN)};

/* ---- cases ---------------------------------------------------------------- */

TEST(query_random_equals_brute_force)
{
    const char *p = fresh_db("random");
    fill_random(p, 1, 40000);
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    CHECK(harness_sql_int(p, "SELECT count(*) FROM chunks") > 0); /* the close wrote the head */
    rng_state = 99;
    for (int i = 0; i < 400; i++) {
        int64_t a = TQ - HOUR + (int64_t)rnd(8 * 3600) * 1000 + rnd(1000);
        int64_t b = TQ - HOUR + (int64_t)rnd(8 * 3600) * 1000 + rnd(1000);
        if (a > b) {
            int64_t t = a;
            a = b;
            b = t;
        }
        if (i % 10 == 0) /* aligned ranges too */
            a = fl(a, HOUR), b = fl(b, HOUR) + HOUR - 1;
        struct query_req req =
            req_for(a, b, steps[rnd(sizeof steps / sizeof steps[0])],
                    tzs[rnd(sizeof tzs / sizeof tzs[0])], (enum query_agg)rnd(QUERY_LAST + 1));
        if (check_req(q, &req, a, b) != 0)
            CHECK_FAIL_("random query %d", i);
    }
    query_close(q);
}

TEST(query_raw_samples_inclusive_range)
{
    const char *p = fresh_db("random2");
    fill_random(p, 2, 30000);
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    int64_t from = slot_ts(1000), to = slot_ts(3000); /* both ends: samples or not */
    struct query_req req = req_for(from, to, 0, 0, QUERY_AVG);
    CHECK(check_req(q, &req, from, to) == 0);
    req = req_for(TQ - DAY, TQ + DAY, 0, 0, QUERY_MAX);
    CHECK(check_req(q, &req, TQ - DAY, TQ + DAY) == 0);
    query_close(q);
}

/* A grid every 10 s over 3 hours from an hour boundary, value 1. */
static void fill_grid(const char *path, int64_t start, int hours, int64_t every)
{
    struct store *s;
    if (store_open(&s, path) != 0)
        return;
    for (int64_t t = 0; t < hours * HOUR; t += every) {
        struct sample x = {.program = "pjs",
                           .unit = "truck-07",
                           .metric = "pickups",
                           .labels_json = "{}",
                           .ts = start + t,
                           .value = 1};
        store_append(s, &x, start + t, NULL);
    }
    store_close(s);
}

TEST(query_edge_buckets_are_partial)
{
    const char *p = fresh_db("edges");
    int64_t h = fl(TQ, HOUR);
    fill_grid(p, h, 3, 10000);
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    static const struct {
        int64_t from, to, step;
        int n;
        int64_t ts[4], count[4];
    } cases[] = {
        {30 * MIN + 5000, 2 * HOUR + 15 * MIN, HOUR, 3, {0, HOUR, 2 * HOUR}, {179, 360, 91}},
        {0, 3 * HOUR, HOUR, 3, {0, HOUR, 2 * HOUR}, {360, 360, 360}},
        {59 * MIN, HOUR, HOUR, 2, {0, HOUR}, {6, 1}},
        {10000, 10000, MIN, 1, {0}, {1}},
        {10001, 19999, MIN, 0, {0}, {0}},
        {-HOUR, -1, HOUR, 0, {0}, {0}},
        {HOUR + 30000,
         2 * HOUR - 30000,
         20 * MIN,
         3,
         {HOUR, HOUR + 20 * MIN, HOUR + 40 * MIN},
         {117, 120, 118}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query_req req = {.filter = {.program = "pjs"},
                                .from = h + cases[i].from,
                                .to = h + cases[i].to,
                                .step = cases[i].step,
                                .agg = QUERY_COUNT};
        struct got g = {0};
        CHECK_INT(run(q, &req, &g), QUERY_OK);
        CHECK_INT(g.n, 1);
        if (g.s[0].n != cases[i].n)
            CHECK_FAIL_("case %zu: %d buckets, want %d", i, g.s[0].n, cases[i].n);
        for (int j = 0; j < cases[i].n; j++) {
            CHECK_INT(g.s[0].ts[j], h + cases[i].ts[j]);
            CHECK_INT(g.s[0].v[j], cases[i].count[j]);
        }
        got_free(&g);
    }
    query_close(q);
}

TEST(query_tz_day_buckets_start_at_local_midnight)
{
    const char *p = fresh_db("tz");
    int64_t d = fl(TQ, DAY) - 3 * DAY; /* a UTC midnight */
    fill_grid(p, d, 72, HOUR);         /* one sample per hour for 3 days */
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    static const struct {
        int64_t tz, first_ts; /* relative to d */
        int first_count, n;
    } cases[] = {
        {0, 0, 24, 3},
        {7 * HOUR, -7 * HOUR, 17, 4}, /* WIB: 17:00 UTC the day before */
        {8 * HOUR, -8 * HOUR, 16, 4}, /* WITA */
        {9 * HOUR, -9 * HOUR, 15, 4}, /* WIT */
        {-(3 * HOUR + 30 * MIN), -DAY + 3 * HOUR + 30 * MIN, 4, 4}, /* -03:30 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query_req req = {.filter = {.program = "pjs", .metric = "pickups"},
                                .from = d - DAY,
                                .to = d + 4 * DAY,
                                .step = DAY,
                                .agg = QUERY_COUNT,
                                .tz_offset_ms = cases[i].tz};
        struct got g = {0};
        CHECK_INT(run(q, &req, &g), QUERY_OK);
        CHECK_INT(g.s[0].n, cases[i].n);
        CHECK_INT(g.s[0].ts[0], d + cases[i].first_ts);
        CHECK_INT(g.s[0].v[0], cases[i].first_count);
        double total = 0;
        for (int j = 0; j < g.s[0].n; j++)
            total += g.s[0].v[j];
        CHECK_INT(total, 72);
        got_free(&g);
    }
    query_close(q);
}

/* One minute holding 5 samples stored out of order; every agg, before and
 * after the watermark passes the minute (raw, then rollups). */
TEST(query_agg_kinds)
{
    const char *p = fresh_db("aggs");
    int64_t m = fl(TQ, MIN);
    static const struct {
        int64_t at;
        double v;
    } in[] = {{30000, 3}, {10000, 1}, {50000, 4}, {20000, 1}, {40000, 5}};
    static const struct {
        enum query_agg agg;
        double want;
    } cases[] = {{QUERY_AVG, 2.8}, {QUERY_MIN, 1},   {QUERY_MAX, 5},
                 {QUERY_SUM, 14},  {QUERY_COUNT, 5}, {QUERY_LAST, 4}};
    struct store *s;
    CHECK(store_open(&s, p) == 0);
    for (size_t i = 0; i < 5; i++) {
        struct sample x = {.program = "pjs",
                           .unit = "truck-07",
                           .metric = "pickups",
                           .labels_json = "{}",
                           .ts = m + in[i].at,
                           .value = in[i].v};
        CHECK(store_append(s, &x, m, NULL) == 0);
        CHECK(store_commit(s) == 0);
    }
    struct query_db *q;
    CHECK(query_open(&q, p, store_head(s)) == 0);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct query_req req = {.filter = {.program = "pjs", .metric = "pickups"},
                                    .from = m - HOUR,
                                    .to = m + HOUR,
                                    .step = pass ? HOUR : MIN,
                                    .agg = cases[i].agg};
            struct got g = {0};
            CHECK_INT(run(q, &req, &g), QUERY_OK);
            CHECK_INT(g.s[0].n, 1);
            CHECK_DBL(g.s[0].v[0], cases[i].want);
            got_free(&g);
        }
        /* A later sample, and the minute's hour written as a chunk row. */
        struct sample later = {.program = "pjs",
                               .unit = "truck-07",
                               .metric = "other",
                               .labels_json = "{}",
                               .ts = m + HOUR,
                               .value = 0};
        CHECK(store_append(s, &later, m, NULL) == 0);
        CHECK(store_commit(s) == 0);
        CHECK(store_flush(s, m + 3 * HOUR, 100) > 0);
    }
    CHECK(harness_sql_int(p, "SELECT count(*) FROM chunks") > 0);
    store_close(s);
    query_close(q);
}

static int64_t count_buckets(int64_t from, int64_t to, int64_t step, int64_t tz)
{
    return (fl(to + tz, step) - fl(from + tz, step)) / step + 1;
}

TEST(query_pick_step_table)
{
    static const struct {
        int64_t span;
        int points;
        int64_t step;
    } cases[] = {
        {DAY, 1000, 2 * MIN}, {365 * DAY, 1000, 9 * HOUR}, {HOUR, 1000, 4000},
        {HOUR, 60, MIN},      {10 * DAY, 240, HOUR},       {1000, 1000, 1},
        {7 * DAY, 168, HOUR},
    };
    int64_t from = fl(TQ, DAY);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t s = query_pick_step(from, from + cases[i].span - 1, cases[i].points, 0);
        if (s != cases[i].step)
            CHECK_FAIL_("case %zu: step %lld, want %lld", i, (long long)s,
                        (long long)cases[i].step);
    }
    CHECK_INT(query_pick_step(from, from - 1, 10, 0), 0);
    CHECK_INT(query_pick_step(from, from + 10, 0, 0), 0);
    rng_state = 5;
    for (int i = 0; i < 5000; i++) {
        int64_t a = TQ + (int64_t)rnd(1u << 30) * 37, b = a + (int64_t)rnd(1u << 31) * 19;
        int n = 1 + (int)rnd(i % 2 ? 5 : 2000);
        int64_t tz = tzs[rnd(5)], s = query_pick_step(a, b, n, tz);
        if (s <= 0 || count_buckets(a, b, s, tz) > n)
            CHECK_FAIL_("%lld..%lld points %d: step %lld gives %lld buckets", (long long)a,
                        (long long)b, n, (long long)s, (long long)count_buckets(a, b, s, tz));
        if ((s >= MIN && s % MIN) || (s >= HOUR && s % HOUR))
            CHECK_FAIL_("step %lld is not a whole minute or hour", (long long)s);
    }
}

TEST(query_points_at_most_n)
{
    const char *p = fresh_db("random2");
    fill_random(p, 2, 30000);
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    static const int points[] = {1, 2, 7, 50, 100, 1000};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        struct query_req req = req_for(TQ + 1234, TQ + 5 * HOUR + 777, 0, 7 * HOUR, QUERY_AVG);
        req.points = points[i];
        struct got g = {0};
        int64_t step;
        struct query_sink sink = collect;
        sink.ctx = &g;
        CHECK_INT(query_run(q, &req, &sink, &step), QUERY_OK);
        CHECK(step > 0);
        for (int j = 0; j < g.n; j++)
            CHECK(g.s[j].n <= points[i]);
        got_free(&g);
        /* The same step given explicitly: the same answer as the brute force. */
        req.points = 0;
        req.step = step;
        CHECK(check_req(q, &req, req.from, req.to) == 0);
    }
    query_close(q);
}

static void add_series(struct store *s, const char *program, const char *unit, const char *metric,
                       const char *labels_json, int64_t ts, double v)
{
    struct sample x = {.program = program,
                       .unit = unit,
                       .metric = metric,
                       .labels_json = labels_json,
                       .ts = ts,
                       .value = v};
    store_append(s, &x, ts, NULL);
}

static const char *filters_db(void)
{
    const char *p = fresh_db("filters");
    struct store *s;
    if (store_open(&s, p) != 0)
        return p;
    add_series(s, "simas-bapokting", "pasar-a", "price", "{\"commodity\":\"beras\"}", TQ, 1);
    add_series(s, "simas-bapokting", "pasar-a", "price", "{\"commodity\":\"gula\"}", TQ, 2);
    add_series(s, "simas-bapokting", "pasar-b", "price",
               "{\"commodity\":\"beras\",\"grade\":\"1\"}", TQ, 3);
    add_series(s, "simas-bapokting", "pasar-b", "price",
               "{\"commodity\":\"beras\",\"grade\":\"1\"}", TQ + 5000, 4);
    add_series(s, "simas-bapokting", "pasar-b", "stock", "{}", TQ, 5);
    add_series(s, "pjs", "pasar-a", "price", "{}", TQ, 6);
    store_close(s);
    return p;
}

TEST(query_filters_labels_unit_program)
{
    const char *p = filters_db();
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    static const struct {
        const char *program, *unit, *metric, *k1, *v1, *k2, *v2;
        int n_series;
        const char *first; /* name of the first series in the answer */
    } cases[] = {
        {"simas-bapokting", NULL, "price", NULL, NULL, NULL, NULL, 3,
         "simas-bapokting/pasar-a/price {\"commodity\":\"beras\"}"},
        {"simas-bapokting", NULL, "price", "commodity", "beras", NULL, NULL, 2, NULL},
        {"simas-bapokting", "pasar-b", "price", "commodity", "beras", NULL, NULL, 1,
         "simas-bapokting/pasar-b/price {\"commodity\":\"beras\",\"grade\":\"1\"}"},
        {"simas-bapokting", NULL, "price", "grade", "1", "commodity", "beras", 1, NULL},
        {"simas-bapokting", NULL, "price", "commodity", "jagung", NULL, NULL, 0, NULL},
        {"simas-bapokting", NULL, "price", "grade", "2", NULL, NULL, 0, NULL},
        {"pjs", NULL, "price", NULL, NULL, NULL, NULL, 1, "pjs/pasar-a/price {}"},
        {NULL, "pasar-a", NULL, NULL, NULL, NULL, NULL, 3, "pjs/pasar-a/price {}"},
        {NULL, NULL, NULL, NULL, NULL, NULL, NULL, 5, NULL},
        {"simas-bapokting", "pasar-b", NULL, NULL, NULL, NULL, NULL, 2, NULL},
        {"nope", NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
        {"simas-bapokting", NULL, "price", "commodity", "beras' OR 1=1 --", NULL, NULL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query_req req = {.filter = {.program = cases[i].program,
                                           .unit = cases[i].unit,
                                           .metric = cases[i].metric},
                                .from = TQ - HOUR,
                                .to = TQ + HOUR};
        if (cases[i].k1)
            req.filter.labels[req.filter.n_labels++] =
                (struct query_label){cases[i].k1, cases[i].v1};
        if (cases[i].k2)
            req.filter.labels[req.filter.n_labels++] =
                (struct query_label){cases[i].k2, cases[i].v2};
        struct got g = {0};
        CHECK_INT(run(q, &req, &g), QUERY_OK);
        if (g.n != cases[i].n_series)
            CHECK_FAIL_("case %zu: %d series, want %d", i, g.n, cases[i].n_series);
        if (cases[i].first)
            CHECK_STR(g.s[0].name, cases[i].first);
        got_free(&g);
    }
    query_close(q);
}

static int on_list(void *ctx, const struct query_series *s)
{
    struct got *g = ctx;
    if (g->n == 16)
        return 1;
    struct got_series *gs = &g->s[g->n++];
    memset(gs, 0, sizeof *gs);
    snprintf(gs->name, sizeof gs->name, "%s/%s/%s %s %lld %g", s->program, s->unit, s->metric,
             s->labels_json, (long long)(s->last_ts - TQ), s->last_value);
    return 0;
}

TEST(query_series_list_filters)
{
    const char *p = filters_db();
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    struct got g = {0};
    struct query_filter f = {.program = "simas-bapokting", .unit = "pasar-b"};
    CHECK_INT(query_series_list(q, &f, on_list, &g), QUERY_OK);
    CHECK_INT(g.n, 2);
    CHECK_STR(g.s[0].name,
              "simas-bapokting/pasar-b/price {\"commodity\":\"beras\",\"grade\":\"1\"} "
              "5000 4");
    CHECK_STR(g.s[1].name, "simas-bapokting/pasar-b/stock {} 0 5");
    got_free(&g);
    struct query_filter all = {0};
    CHECK_INT(query_series_list(q, &all, on_list, &g), QUERY_OK);
    CHECK_INT(g.n, 5);
    got_free(&g);
    query_close(q);
}

TEST(query_empty_and_invalid)
{
    const char *p = filters_db();
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    struct got g = {0};
    /* A matching series with nothing in the range: reported, no points. */
    struct query_req req = {
        .filter = {.program = "pjs"}, .from = TQ + 1, .to = TQ + DAY, .step = HOUR};
    CHECK_INT(run(q, &req, &g), QUERY_OK);
    CHECK_INT(g.n, 1);
    CHECK_INT(g.s[0].n, 0);
    got_free(&g);
    static const struct query_req bad[] = {
        {.from = 10, .to = 9},
        {.from = 0, .to = 10, .step = -1},
        {.from = 0, .to = 10, .points = -1},
        {.from = 0, .to = 10, .tz_offset_ms = 25 * HOUR},
        {.from = -2 * QUERY_TS_LIMIT, .to = 10},
        {.filter = {.n_labels = 1, .labels = {{"Bad-Key", "x"}}}, .from = 0, .to = 10},
        {.filter = {.n_labels = 1, .labels = {{"k", NULL}}}, .from = 0, .to = 10},
        {.filter = {.n_labels = 9}, .from = 0, .to = 10},
        {.from = 0, .to = 10, .agg = (enum query_agg)42},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (run(q, &bad[i], &g) != QUERY_EINVAL)
            CHECK_FAIL_("bad request %zu accepted", i);
        CHECK(query_error(q)[0] != '\0');
        got_free(&g);
    }
    /* A sink that stops: QUERY_EABORT, and the connection stays usable. */
    struct query_req all = {.from = TQ - HOUR, .to = TQ + HOUR};
    g.abort_after = 2;
    CHECK_INT(run(q, &all, &g), QUERY_EABORT);
    got_free(&g);
    CHECK_INT(run(q, &all, &g), QUERY_OK);
    CHECK_INT(g.points, 6);
    got_free(&g);
    enum query_agg agg;
    CHECK(query_agg_parse("last", &agg) == 0 && agg == QUERY_LAST);
    CHECK(query_agg_parse("median", &agg) != 0);
    query_close(q);
}

/* ---- export -------------------------------------------------------------- */

static bool seen[N_SERIES][N_SLOTS];
static int export_dups, export_strays;

static int on_row(void *ctx, const struct query_series *s, int64_t ts, double v)
{
    int series = -1;
    for (int i = 0; i < N_SERIES; i++)
        if (strcmp(s->unit, units[i]) == 0 && strcmp(s->labels_json, labels[i]) == 0)
            series = i;
    int64_t k = (ts - TQ) / GRID;
    if (series < 0 || (ts - TQ) % GRID || k < 0 || k >= N_SLOTS || !model.present[series][k] ||
        model.value[series][k] != v) {
        export_strays++;
        return 0;
    }
    export_dups += seen[series][k];
    seen[series][k] = true;
    return 0;
}

TEST(query_export_chunks_cover_every_row_once)
{
    const char *p = fresh_db("random");
    fill_random(p, 3, 20000);
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    static const int chunk[] = {1, 7, 500, 100000};
    static const struct {
        int64_t from, to;
        int label; /* 0: all three; 1: commodity=beras-medium */
    } ranges[] = {{TQ - DAY, TQ + DAY, 0},
                  {TQ + 997 * 100, TQ + 997 * 5000, 0},
                  {TQ + 997 * 100, TQ + 997 * 5000 - 1, 1}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        for (size_t c = 0; c < sizeof chunk / sizeof chunk[0]; c++) {
            if (chunk[c] == 1 && r == 0)
                continue; /* slow under sanitizers; the 7-row chunks cover it */
            memset(seen, 0, sizeof seen);
            export_dups = export_strays = 0;
            struct query_filter f = {.program = "simas-bapokting", .metric = "price"};
            if (ranges[r].label)
                f.labels[f.n_labels++] = (struct query_label){"commodity", "beras-medium"};
            struct query_export_cursor cur = {0};
            int n, calls = 0;
            long total = 0;
            while ((n = query_export_chunk(q, &f, ranges[r].from, ranges[r].to, &cur, chunk[c],
                                           on_row, NULL)) > 0) {
                CHECK(n <= chunk[c]);
                total += n;
                calls++;
            }
            CHECK_INT(n, 0);
            CHECK(cur.done);
            CHECK_INT(export_dups, 0);
            CHECK_INT(export_strays, 0);
            long want = 0, missing = 0;
            for (int i = 0; i < N_SERIES; i++) {
                if (ranges[r].label && i == 1)
                    continue;
                for (int k = 0; k < N_SLOTS; k++) {
                    int64_t ts = slot_ts(k);
                    bool in = model.present[i][k] && ts >= ranges[r].from && ts <= ranges[r].to;
                    want += in;
                    missing += in && !seen[i][k];
                }
            }
            CHECK_INT(missing, 0);
            CHECK_INT(total, want);
            CHECK(calls >= want / chunk[c]);
        }
    }
    query_close(q);
}

/* ---- retention and concurrency -------------------------------------------- */

/* Below the raw horizon chunk rows keep their aggregates: whole hours give
 * the answer they gave before the prune; raw reads there give nothing. */
TEST(query_after_prune_keeps_hours)
{
    const char *p = fresh_db("pruned");
    fill_random(p, 11, 40000);
    struct query_db *q;
    CHECK(query_open(&q, p, NULL) == 0);
    struct store *s;
    CHECK(store_open(&s, p) == 0);
    int64_t rf = fl(TQ + 3 * HOUR, HOUR);
    while (store_prune(s, rf + DAY + 30000, 1, 5000) == 5000)
        ;
    store_close(s);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM chunks WHERE data IS NOT NULL AND start < %lld",
             (long long)rf);
    CHECK_INT(harness_sql_int(p, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM chunks WHERE data IS NULL AND start < %lld",
             (long long)rf);
    CHECK(harness_sql_int(p, sql) > 0);
    CHECK(harness_sql_int(p, "SELECT count(*) FROM chunks WHERE data IS NOT NULL") > 0);
    rng_state = 17;
    for (int i = 0; i < 200; i++) {
        int64_t step = (int64_t[]){HOUR, 2 * HOUR, DAY}[rnd(3)];
        /* Ranges of whole hours: the same answer as from the raw samples. */
        int64_t a = fl(TQ - HOUR, HOUR) + (int64_t)rnd(8) * HOUR;
        int64_t b = a + (int64_t)rnd(6) * HOUR + HOUR - 1;
        struct query_req req = req_for(a, b, step, 0, (enum query_agg)rnd(QUERY_LAST + 1));
        if (check_req(q, &req, a, b) != 0)
            CHECK_FAIL_("hour-aligned query %d", i);
    }
    struct query_req raw = req_for(TQ - HOUR, rf - 1, 0, 0, QUERY_AVG);
    struct got g = {0};
    CHECK_INT(run(q, &raw, &g), QUERY_OK);
    CHECK_INT(g.points, 0);
    got_free(&g);
    query_close(q);
}

/* A reader sees committed data only and never waits for the writer. */
TEST(query_reads_beside_an_open_group)
{
    const char *p = fresh_db("concurrent");
    struct store *s;
    CHECK(store_open(&s, p) == 0);
    add_series(s, "pjs", "truck-07", "pickups", "{}", TQ, 1);
    CHECK(store_commit(s) == 0);
    add_series(s, "pjs", "truck-07", "pickups", "{}", TQ + 1000, 2); /* group left open */
    struct query_db *q;
    CHECK(query_open(&q, p, store_head(s)) == 0);
    struct query_req req = {.filter = {.program = "pjs"}, .from = TQ, .to = TQ + HOUR};
    struct got g = {0};
    uint64_t t0 = util_mono_ns();
    CHECK_INT(run(q, &req, &g), QUERY_OK);
    CHECK(util_mono_ns() - t0 < 1000000000u);
    CHECK_INT(g.points, 1);
    got_free(&g);
    CHECK(store_commit(s) == 0);
    CHECK_INT(run(q, &req, &g), QUERY_OK);
    CHECK_INT(g.points, 2);
    got_free(&g);
    store_close(s);
    query_close(q);
}

TEST(query_open_refuses_missing_or_old_db)
{
    struct query_db *q = NULL;
    CHECK(query_open(&q, "/nonexistent-dir/pantau.db", NULL) != 0);
    const char *p = fresh_db("v0");
    sqlite3 *db;
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(query_open(&q, p, NULL) != 0);
    CHECK(q == NULL);
}

TEST_MAIN(CASE(query_random_equals_brute_force), CASE(query_raw_samples_inclusive_range),
          CASE(query_edge_buckets_are_partial), CASE(query_tz_day_buckets_start_at_local_midnight),
          CASE(query_agg_kinds), CASE(query_pick_step_table), CASE(query_points_at_most_n),
          CASE(query_filters_labels_unit_program), CASE(query_series_list_filters),
          CASE(query_empty_and_invalid), CASE(query_export_chunks_cover_every_row_once),
          CASE(query_after_prune_keeps_hours), CASE(query_reads_beside_an_open_group),
          CASE(query_open_refuses_missing_or_old_db))
