/* test_rollup.c — rollups against a brute-force computation over an
 * in-memory model of every sample, through the real store and SQLite files:
 * random inserts, late and out-of-order samples, duplicates with changed and
 * unchanged values, rolled-back groups, reopening, retention, migration. */
#include <sqlite3.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "rollup.h"
#include "schema.h"
#include "store.h"
#include "util.h"

static char db_path[512];

static const char *fresh_db(const char *name)
{
    snprintf(db_path, sizeof db_path, "%s/%s.db", harness_tmpdir(), name);
    unlink(db_path);
    return db_path;
}

#define T0       1780000000000LL /* 26 min 40 s past an hour (2026-05-28): ragged, and past */
#define N_SERIES 3
#define GRID     7000 /* the model's ts grid (ms) */
#define N_SLOTS  2400 /* 4 h 40 min of grid */
/* A commit whose newest sample has this value fails (trigger below). */
#define POISON 12345.5

static const char *const series_labels[N_SERIES] = {"{\"k\":\"s0\"}", "{\"k\":\"s1\"}",
                                                    "{\"k\":\"s2\"}"};

/* What the store should hold: model.value[series][slot] when present. */
struct model {
    bool present[N_SERIES][N_SLOTS];
    double value[N_SERIES][N_SLOTS];
};

static int64_t slot_ts(int slot)
{
    return T0 + (int64_t)slot * GRID;
}

static struct sample sample_of(int series, int64_t ts, double v)
{
    return (struct sample){.program = "paduka-lamteng",
                           .unit = "van-03",
                           .metric = "documents_issued",
                           .labels_json = series_labels[series],
                           .ts = ts,
                           .value = v};
}

static int put(struct store *s, struct model *m, int series, int slot, double v)
{
    struct sample x = sample_of(series, slot_ts(slot), v);
    m->present[series][slot] = true;
    m->value[series][slot] = v;
    return store_append(s, &x, slot_ts(slot), NULL);
}

/* ---- brute force -------------------------------------------------------- */

struct row {
    int series;
    int64_t ts;
    double min, max, sum, last;
    int64_t n, last_ts;
};

/* Rows of width `size` from the model's samples with ts < below. */
static size_t brute_force(const struct model *m, int64_t size, int64_t below, struct row *out,
                          size_t cap)
{
    size_t n = 0;
    for (int s = 0; s < N_SERIES; s++) {
        for (int k = 0; k < N_SLOTS; k++) {
            int64_t ts = slot_ts(k);
            if (!m->present[s][k] || ts >= below)
                continue;
            int64_t start = ts - ts % size;
            double v = m->value[s][k];
            struct row *r = n ? &out[n - 1] : NULL;
            if (!r || r->series != s || r->ts != start) {
                if (n == cap)
                    return n;
                r = &out[n++];
                *r = (struct row){s, start, v, v, 0, v, 0, ts};
            }
            r->min = v < r->min ? v : r->min;
            r->max = v > r->max ? v : r->max;
            r->sum += v;
            r->n++;
            r->last = v; /* slots ascend, so the last seen has the latest ts */
            r->last_ts = ts;
        }
    }
    return n;
}

static size_t read_rows(sqlite3 *db, const char *table, struct row *out, size_t cap)
{
    char sql[512];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql,
             "SELECT s.labels, r.ts, min_value, max_value, sum_value, n, r.last_value, r.last_ts"
             " FROM %s r JOIN series s ON s.id = r.series ORDER BY s.labels, r.ts",
             table);
    size_t n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    while (n < cap && sqlite3_step(st) == SQLITE_ROW) {
        const char *labels = (const char *)sqlite3_column_text(st, 0);
        out[n++] = (struct row){labels[7] - '0',
                                sqlite3_column_int64(st, 1),
                                sqlite3_column_double(st, 2),
                                sqlite3_column_double(st, 3),
                                sqlite3_column_double(st, 4),
                                sqlite3_column_double(st, 6),
                                sqlite3_column_int64(st, 5),
                                sqlite3_column_int64(st, 7)};
    }
    sqlite3_finalize(st);
    return n;
}

#define ROWS_MAX (N_SERIES * N_SLOTS)
static struct row want[ROWS_MAX], got[ROWS_MAX];

/* 0 if `table` equals the brute force below W; else prints the first
 * difference and returns -1. Values are multiples of 1/4: sums are exact. */
static int compare_table(sqlite3 *db, const struct model *m, const char *table, int64_t size,
                         int64_t w)
{
    size_t nw = brute_force(m, size, w, want, ROWS_MAX);
    size_t ng = read_rows(db, table, got, ROWS_MAX);
    for (size_t i = 0; i < nw || i < ng; i++) {
        const struct row *a = i < nw ? &want[i] : NULL, *b = i < ng ? &got[i] : NULL;
        if (a && b && a->series == b->series && a->ts == b->ts && a->min == b->min &&
            a->max == b->max && a->sum == b->sum && a->n == b->n && a->last == b->last &&
            a->last_ts == b->last_ts)
            continue;
        fprintf(stderr, "  %s row %zu (W %lld): want", table, i, (long long)w);
        if (a)
            fprintf(stderr, " s%d %lld min %g max %g sum %g n %lld last %g@%lld", a->series,
                    (long long)a->ts, a->min, a->max, a->sum, (long long)a->n, a->last,
                    (long long)a->last_ts);
        fprintf(stderr, "; got");
        if (b)
            fprintf(stderr, " s%d %lld min %g max %g sum %g n %lld last %g@%lld", b->series,
                    (long long)b->ts, b->min, b->max, b->sum, (long long)b->n, b->last,
                    (long long)b->last_ts);
        fputc('\n', stderr);
        return -1;
    }
    return 0;
}

/* Rollup tables == brute force over the model below W, and the raw table
 * holds exactly the model. */
static int check_against_model(const char *path, const struct model *m, int64_t *w_out)
{
    sqlite3 *db;
    struct rollup_horizons h;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        rollup_read_horizons(db, &h) != 0)
        goto out;
    if (compare_table(db, m, "rollup_1m", ROLLUP_MINUTE_MS, h.watermark) != 0 ||
        compare_table(db, m, "rollup_1h", ROLLUP_HOUR_MS, h.watermark) != 0)
        goto out;
    int64_t n_model = 0;
    for (int s = 0; s < N_SERIES; s++)
        for (int k = 0; k < N_SLOTS; k++)
            n_model += m->present[s][k];
    size_t n_raw = brute_force(m, 1, INT64_MAX, want, ROWS_MAX);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM samples", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == n_model &&
        (size_t)n_model == n_raw)
        rc = 0;
    else
        fprintf(stderr, "  samples: want %lld rows\n", (long long)n_model);
    sqlite3_finalize(st);
    if (w_out)
        *w_out = h.watermark;
out:
    sqlite3_close(db);
    return rc;
}

static int exec_on(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db) == SQLITE_OK ? sqlite3_exec(db, sql, NULL, NULL, NULL) : -1;
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static void poison_commits(const char *path)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER poison BEFORE UPDATE ON series WHEN NEW.last_value = %.1f"
             " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
             POISON);
    if (exec_on(path, sql) != 0)
        fprintf(stderr, "  could not create the poison trigger\n");
}

/* ---- cases ---------------------------------------------------------------- */

TEST(rollup_schema_version)
{
    struct store *s;
    const char *p = fresh_db("schema");
    CHECK(store_open(&s, p) == 0);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "PRAGMA user_version"), schema_version);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('rollup_1m','rollup_1h','store_meta')"),
              3);
    CHECK_INT(harness_sql_int(p, "SELECT value FROM store_meta WHERE key = 'watermark'"), 0);
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33) % n;
}

/* A value that is a multiple of 1/4 in [-500, 500]. */
static double rnd_value(void)
{
    return ((double)rnd(4001) - 2000) / 4;
}

/* One group of random samples around `cursor`: mostly new ones at the front,
 * some late (anywhere behind), some redeliveries and changed duplicates. */
static int random_group(struct store *s, struct model *m, int *cursor, bool poison)
{
    int n = 1 + (int)rnd(40), failed = 0;
    for (int i = 0; i < n; i++) {
        int series = (int)rnd(N_SERIES), slot, kind = (int)rnd(100);
        if (kind < 70) {
            slot = *cursor + (int)rnd(4);
        } else if (kind < 85) {
            slot = (int)rnd((uint32_t)(*cursor + 1)); /* late, often behind W */
        } else {
            slot = *cursor - (int)rnd(40); /* near the front: often a duplicate */
        }
        if (slot < 0 || slot >= N_SLOTS - 1)
            continue;
        double v = kind >= 95 && m->present[series][slot] ? m->value[series][slot] : rnd_value();
        failed |= put(s, m, series, slot, v) != 0;
    }
    if (*cursor < N_SLOTS - 10)
        *cursor += (int)rnd(4);
    if (poison) /* the newest sample of a series: its series row update fails */
        failed |= put(s, m, 0, *cursor + 5, POISON) != 0;
    return failed ? -1 : 0;
}

static struct model model, saved;

TEST(rollup_random_matches_brute_force)
{
    struct store *s;
    const char *p = fresh_db("random");
    rng_state = 42;
    memset(&model, 0, sizeof model);
    CHECK(store_open(&s, p) == 0);
    store_close(s);
    poison_commits(p);
    CHECK(store_open(&s, p) == 0);
    int cursor = 0, rolled_back = 0, w_moves = 0;
    int64_t w = 0, last_w = 0;
    for (int g = 0; g < 600; g++) {
        bool poison = rnd(20) == 0;
        saved = model;
        CHECK(random_group(s, &model, &cursor, poison) == 0);
        if (poison) {
            CHECK(store_commit(s) != 0);
            model = saved; /* the whole group is gone */
            rolled_back++;
        } else {
            CHECK(store_commit(s) == 0);
        }
        if (g % 97 == 96) { /* reopening rebuilds the buckets above W from raw */
            store_close(s);
            CHECK(store_open(&s, p) == 0);
        }
        if (g % 25 == 24) {
            CHECK(check_against_model(p, &model, &w) == 0);
            w_moves += w != last_w;
            last_w = w;
        }
    }
    /* A sample far ahead moves W past everything else. */
    CHECK(put(s, &model, 1, N_SLOTS - 1, 1) == 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK(check_against_model(p, &model, &w) == 0);
    CHECK(w > slot_ts(N_SLOTS - 30));
    CHECK(rolled_back > 10);
    CHECK(w_moves > 10);
}

/* Deterministic late / duplicate cases, one group at a time. */
TEST(rollup_late_and_duplicates_table)
{
    struct store *s;
    const char *p = fresh_db("table");
    memset(&model, 0, sizeof model);
    CHECK(store_open(&s, p) == 0);
    static const struct {
        int series, slot;
        double value;
    } steps[] = {
        {0, 100, 5},  {0, 101, 7}, {0, 102, 1}, /* minute of slot 100..102 */
        {0, 900, 3},                            /* moves W past slot 100 */
        {0, 101, 2},                            /* late duplicate, changed: recompute */
        {0, 99, -4},                            /* late, new: merge */
        {0, 102, 1},                            /* redelivery, same value */
        {0, 103, 8},                            /* late, new last of its minute? */
        {1, 100, 6},                            /* another series, same minute */
        {0, 900, 9},                            /* duplicate of the newest (pending) */
        {0, 1500, 1},                           /* W passes 900 */
        {0, 900, 10},                           /* ... now late: recompute */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        CHECK(put(s, &model, steps[i].series, steps[i].slot, steps[i].value) == 0);
        CHECK(store_commit(s) == 0);
        if (check_against_model(p, &model, NULL) != 0)
            CHECK_FAIL_("after step %zu", i);
    }
    store_close(s);
}

/* Several samples of one bucket replaced within one group. */
TEST(rollup_replace_twice_in_one_group)
{
    struct store *s;
    const char *p = fresh_db("twice");
    memset(&model, 0, sizeof model);
    CHECK(store_open(&s, p) == 0);
    CHECK(put(s, &model, 2, 10, 1) == 0);
    CHECK(put(s, &model, 2, 11, 2) == 0);
    CHECK(put(s, &model, 2, 500, 2) == 0);
    CHECK(store_commit(s) == 0);
    CHECK(put(s, &model, 2, 10, 100) == 0);
    CHECK(put(s, &model, 2, 10, -100) == 0);
    CHECK(put(s, &model, 2, 11, 50) == 0);
    CHECK(put(s, &model, 2, 12, 51) == 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK(check_against_model(p, &model, NULL) == 0);
    CHECK_INT(harness_sql_int(p, "SELECT CAST(max(max_value) AS INTEGER) FROM rollup_1m"), 51);
}

static int64_t sql_int(const char *path, const char *fmt, int64_t arg)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, (long long)arg);
    return harness_sql_int(path, sql);
}

#define DAY ROLLUP_DAY_MS

/* 10 days of one sample every 5 minutes for 2 series. */
static void fill_days(struct store *s, int days)
{
    for (int64_t t = 0; t < days * DAY; t += 5 * ROLLUP_MINUTE_MS) {
        for (int series = 0; series < 2; series++) {
            struct sample x = sample_of(series, T0 + t, (double)(t / 300000 % 7));
            store_append(s, &x, T0 + t, NULL);
        }
        if (t % ROLLUP_HOUR_MS == 0)
            store_commit(s);
    }
    store_commit(s);
}

TEST(rollup_prune_bounded_and_rollups_stay)
{
    struct store *s;
    const char *p = fresh_db("prune");
    CHECK(store_open(&s, p) == 0);
    fill_days(s, 10);
    int64_t hours_before = harness_sql_int(p, "SELECT count(*) FROM rollup_1h");
    int64_t n_before = harness_sql_int(p, "SELECT sum(n) FROM rollup_1h");
    int64_t now = T0 + 10 * DAY;
    int calls = 0, total = 0, d;
    while ((d = store_prune(s, now, 3, 500)) == 500 && calls < 1000) {
        calls++;
        total += d;
    }
    CHECK(d >= 0 && d < 500);
    total += d;
    /* 7 days of 2 series at 12 samples/hour, give or take the cut's minute. */
    CHECK(total > 7 * 24 * 12 * 2 - 10 && total <= 7 * 24 * 12 * 2 + 2);
    CHECK(calls >= 7);
    int64_t rf = rollup_floor(now - 3 * DAY, ROLLUP_MINUTE_MS);
    CHECK_INT(harness_sql_int(p, "SELECT value FROM store_meta WHERE key = 'raw_floor'"), rf);
    CHECK_INT(sql_int(p, "SELECT count(*) FROM samples WHERE ts < %lld", rf), 0);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM rollup_1h"), hours_before);
    CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM rollup_1h"), n_before);
    /* Every sample but the newest of each series (above W: not rolled up yet). */
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM rollup_1m"), 10 * 24 * 12 * 2 - 2);
    CHECK_INT(n_before, 10 * 24 * 12 * 2 - 2);

    /* Far later: raw is kept from W on (not rolled up yet); minute rows go. */
    now = T0 + 500 * DAY;
    while ((d = store_prune(s, now, 3, 100000)) > 0)
        ;
    CHECK(d == 0);
    int64_t w = harness_sql_int(p, "SELECT value FROM store_meta WHERE key = 'watermark'");
    int64_t mf = harness_sql_int(p, "SELECT value FROM store_meta WHERE key = 'minute_floor'");
    CHECK_INT(harness_sql_int(p, "SELECT value FROM store_meta WHERE key = 'raw_floor'"), w);
    CHECK_INT(mf, rollup_floor(w, ROLLUP_HOUR_MS));
    CHECK_INT(sql_int(p, "SELECT count(*) FROM rollup_1m WHERE ts < %lld", mf), 0);
    CHECK(harness_sql_int(p, "SELECT count(*) FROM rollup_1m") > 0);
    CHECK_INT(harness_sql_int(p, "SELECT sum(n) FROM rollup_1h"), n_before);
    CHECK(harness_sql_int(p, "SELECT count(*) FROM samples") > 0);
    store_close(s);
}

/* Late samples older than the raw horizon still reach the rollups; a
 * replacement there is applied as a delta (sum, count, last exact). */
TEST(rollup_late_sample_below_raw_horizon)
{
    struct store *s;
    const char *p = fresh_db("below");
    CHECK(store_open(&s, p) == 0);
    fill_days(s, 4);
    int64_t now = T0 + 4 * DAY;
    while (store_prune(s, now, 1, 100000) > 0)
        ;
    /* A pruned minute holding one sample, at 40 s. */
    int64_t minute = rollup_floor(T0 + DAY + 10 * ROLLUP_MINUTE_MS, ROLLUP_MINUTE_MS);
    int64_t hour = rollup_floor(minute, ROLLUP_HOUR_MS);
    CHECK_INT(sql_int(p, "SELECT count(*) FROM samples WHERE ts < %lld", now - 2 * DAY), 0);
    int64_t n_m = sql_int(p, "SELECT n FROM rollup_1m WHERE series = 1 AND ts = %lld", minute);
    int64_t n_h = sql_int(p, "SELECT n FROM rollup_1h WHERE series = 1 AND ts = %lld", hour);
    CHECK_INT(n_m, 1);
    CHECK_INT(n_h, 12);

    struct sample late = sample_of(0, minute + 50000, 100);
    CHECK(store_append(s, &late, now, NULL) == 0);
    CHECK(store_commit(s) == 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT sum_value FROM rollup_1m WHERE series = 1 AND ts = %lld",
             (long long)minute);
    double sum_before = harness_sql_double(p, sql);
    CHECK_INT(sql_int(p, "SELECT n FROM rollup_1m WHERE series = 1 AND ts = %lld", minute), 2);
    CHECK_INT(sql_int(p, "SELECT n FROM rollup_1h WHERE series = 1 AND ts = %lld", hour), 13);
    CHECK_INT(
        sql_int(p,
                "SELECT CAST(max_value AS INTEGER) FROM rollup_1m WHERE series = 1 AND ts = %lld",
                minute),
        100);
    CHECK_INT(sql_int(p, "SELECT last_ts FROM rollup_1m WHERE series = 1 AND ts = %lld", minute),
              minute + 50000);

    /* Its raw row is still there (until the next prune): a redelivery with a
     * changed value replaces it, as a delta. */
    late.value = 40;
    CHECK(store_append(s, &late, now, NULL) == 0);
    CHECK(store_commit(s) == 0);
    CHECK_INT(sql_int(p, "SELECT n FROM rollup_1m WHERE series = 1 AND ts = %lld", minute), 2);
    CHECK_INT(sql_int(p, "SELECT n FROM rollup_1h WHERE series = 1 AND ts = %lld", hour), 13);
    CHECK_DBL(harness_sql_double(p, sql), sum_before - 60);
    CHECK_INT(
        sql_int(p,
                "SELECT CAST(last_value AS INTEGER) FROM rollup_1m WHERE series = 1 AND ts = %lld",
                minute),
        40);
    store_close(s);
}

/* The schema of version 1, as shipped (schema.c's first migration). */
static const char v1_schema[] =
    "CREATE TABLE series (id INTEGER PRIMARY KEY, program TEXT NOT NULL, unit TEXT NOT NULL,"
    " metric TEXT NOT NULL, labels TEXT NOT NULL, created INTEGER NOT NULL, last_ts INTEGER,"
    " last_value REAL, UNIQUE (program, unit, metric, labels));"
    "CREATE TABLE samples (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,"
    " arrival INTEGER NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;"
    "CREATE TABLE units (program TEXT NOT NULL, unit TEXT NOT NULL, online INTEGER,"
    " status_ts INTEGER, last_seen INTEGER, lat REAL, lon REAL, pos_ts INTEGER,"
    " PRIMARY KEY (program, unit)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

TEST(rollup_migration_backfills_existing_samples)
{
    const char *p = fresh_db("migrate");
    memset(&model, 0, sizeof model);
    sqlite3 *db;
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, v1_schema, NULL, NULL, NULL) == SQLITE_OK);
    char sql[256];
    for (int series = 0; series < N_SERIES; series++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO series VALUES (%d, 'paduka-lamteng', 'van-03', 'documents_issued',"
                 " '%s', 0, NULL, NULL)",
                 series + 1, series_labels[series]);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    }
    rng_state = 7;
    CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    for (int i = 0; i < 3000; i++) {
        int series = (int)rnd(N_SERIES), slot = (int)rnd(N_SLOTS);
        double v = rnd_value();
        model.present[series][slot] = true;
        model.value[series][slot] = v;
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO samples VALUES (%d, %lld, %.2f, 0)",
                 series + 1, (long long)slot_ts(slot), v);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    }
    CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    struct store *s;
    CHECK(store_open(&s, p) == 0);
    store_close(s);
    int64_t w;
    CHECK(check_against_model(p, &model, &w) == 0);
    CHECK(w > slot_ts(N_SLOTS - 1) - 60000); /* everything is rolled up */
}

TEST(rollup_floor_and_ceil)
{
    static const struct {
        int64_t x, m, floor, ceil;
    } cases[] = {
        {0, 60, 0, 0},
        {59, 60, 0, 60},
        {60, 60, 60, 60},
        {-1, 60, -60, 0},
        {-60, 60, -60, -60},
        {-61, 60, -120, -60},
        {T0, ROLLUP_HOUR_MS, T0 - 1600000, T0 - 1600000 + ROLLUP_HOUR_MS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(rollup_floor(cases[i].x, cases[i].m), cases[i].floor);
        CHECK_INT(rollup_ceil(cases[i].x, cases[i].m), cases[i].ceil);
    }
}

TEST_MAIN(CASE(rollup_schema_version), CASE(rollup_random_matches_brute_force),
          CASE(rollup_late_and_duplicates_table), CASE(rollup_replace_twice_in_one_group),
          CASE(rollup_prune_bounded_and_rollups_stay), CASE(rollup_late_sample_below_raw_horizon),
          CASE(rollup_migration_backfills_existing_samples), CASE(rollup_floor_and_ceil))
