/* test_kpi_engine.c — the KPI engine on a real SQLite store, a real
 * query_pool and a libuv loop: current from rollups plus raw edges, late and
 * duplicate samples, label and unit filters, distinct and units counts, the
 * report's values as of two times, a catalog swap, and `changed` calls. */
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "harness.h"
#include "kpi_engine.h"
#include "log.h"
#include "query_pool.h"
#include "store.h"
#include "util.h"

#define HOUR INT64_C(3600000)
#define DAY  INT64_C(86400000)

/* 2026-01-01T00:00:00+07:00 */
#define JAN1_WIB (util_days_from_civil(2026, 1, 1) * DAY - 7 * HOUR)

static const char catalog_text[] =
    "[regency]\nid = uji\nname = Kabupaten Uji\ntimezone = WIB\n\n"
    "[program paduka]\nname = PADUKA\ndimension = governance\n\n"
    "[kpi paduka/docs]\nname = Dokumen\nmetric = docs\nagg = sum\n"
    "period = 2026-01-01..2026-01-31\ntarget = 100\n\n"
    "[kpi paduka/ktp]\nname = KTP\nmetric = docs\nlabels = doc=ktp\nagg = count\n"
    "period = 2026-01-01..2026-01-31\ntarget = 10\n\n"
    "[kpi paduka/kampung]\nname = Kampung\nmetric = docs\nlabels = kampung=*\n"
    "agg = distinct:kampung\nperiod = 2026-01-01..2026-01-31\ntarget = 311\n\n"
    "[kpi paduka/vans]\nname = Van\nmetric = docs\nunits = van-01, van-02\nagg = units\n"
    "period = 2026-01-01..2026-01-31\ntarget = 2\n\n"
    "[kpi paduka/latest]\nname = Terakhir\nmetric = docs\nagg = last\n"
    "period = total\nstart = 2025-01-01\ndeadline = 2027-01-01\ntarget = 50\n\n"
    "[kpi paduka/running]\nname = Berjalan\nmetric = docs\nunits = van-09\nagg = sum\n"
    "period = total\nstart = 2020-01-01\ndeadline = 2040-01-01\ntarget = 1000\n";

struct env {
    uv_loop_t loop;
    struct store *store;
    struct query_pool *pool;
    struct kpi_engine *engine;
    int changed;
    bool synced;
    struct kpi_report report;
    bool has_from[8], has_to[8];
    double at_from[8], at_to[8];
    bool reported;
};

static void on_changed(void *ctx, int kpi, const struct kpi_eval *ev)
{
    ((struct env *)ctx)->changed++;
}

static void on_sync(void *ctx)
{
    ((struct env *)ctx)->synced = true;
}

static void append(struct env *e, const char *unit, const char *labels, int64_t ts, double v)
{
    struct sample s = {.program = "paduka",
                       .unit = unit,
                       .metric = "docs",
                       .labels_json = labels,
                       .ts = ts,
                       .value = v};
    store_append(e->store, &s, ts, &s.series); /* as ingest hands it on */
    store_commit(e->store);
    kpi_engine_samples(e->engine, &s, 1);
}

/* Runs the loop until the engine reflects everything appended. */
static bool sync_engine(struct env *e)
{
    e->synced = false;
    if (kpi_engine_sync(e->engine, on_sync, e) != 0)
        return false;
    for (int i = 0; i < 500 && !e->synced; i++)
        uv_run(&e->loop, UV_RUN_ONCE);
    return e->synced;
}

static int env_open(struct env *e)
{
    char db[512];
    snprintf(db, sizeof db, "%s/kpi-%d.db", harness_tmpdir(), (int)util_mono_ns() % 100000);
    unlink(db);
    memset(e, 0, sizeof *e);
    if (uv_loop_init(&e->loop) || store_open(&e->store, db) ||
        query_pool_open(&e->pool, &e->loop, db, store_head(e->store)))
        return -1;
    struct catalog *c = harness_catalog(catalog_text);
    struct kpi_engine_opts o = {
        .loop = &e->loop, .store = e->store, .pool = e->pool, .changed = on_changed, .ctx = e};
    return c ? kpi_engine_start(&e->engine, &o, c) : -1;
}

static void env_close(struct env *e)
{
    kpi_engine_stop(e->engine);
    for (int i = 0; i < 100 && uv_run(&e->loop, UV_RUN_NOWAIT); i++)
        usleep(1000);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    kpi_engine_free(e->engine);
    query_pool_close(e->pool);
    store_close(e->store);
    uv_loop_close(&e->loop);
}

static double current(struct env *e, int kpi, bool *has)
{
    struct kpi_eval ev;
    kpi_engine_eval(e->engine, kpi, util_now_ms(), &ev);
    *has = ev.has_current;
    return ev.current;
}

TEST(kpi_engine_current_with_filters_late_and_duplicates)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    int64_t t0 = JAN1_WIB + 10 * DAY + 9 * HOUR; /* 11 Jan, 09:00 WIB */
    append(&e, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"a\"}", t0, 4);
    append(&e, "van-02", "{\"doc\":\"kk\",\"kampung\":\"b\"}", t0 + 60000, 3);
    append(&e, "van-03", "{\"doc\":\"ktp\",\"kampung\":\"a\"}", t0 + 120000, 5);
    append(&e, "van-03", "{\"doc\":\"ktp\"}", t0 + 180000, 1);
    /* outside the range: the day before and the day after (WIB) */
    append(&e, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"z\"}", JAN1_WIB - 1, 100);
    append(&e, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"y\"}", JAN1_WIB + 31 * DAY, 100);
    CHECK(sync_engine(&e));
    bool has;
    CHECK_DBL(current(&e, 0, &has), 13); /* 4 + 3 + 5 + 1 */
    CHECK(has);
    CHECK_DBL(current(&e, 1, &has), 3);   /* three ktp samples */
    CHECK_DBL(current(&e, 2, &has), 2);   /* kampung a, b */
    CHECK_DBL(current(&e, 3, &has), 2);   /* van-01, van-02 (van-03 filtered out) */
    CHECK_DBL(current(&e, 4, &has), 100); /* the latest ts of all time */

    /* A duplicate replaces (counts once, new value); a late sample counts. */
    append(&e, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"a\"}", t0, 10);
    append(&e, "van-02", "{\"doc\":\"kk\",\"kampung\":\"c\"}", JAN1_WIB, 2);
    CHECK(sync_engine(&e));
    CHECK_DBL(current(&e, 0, &has), 21); /* 10 + 3 + 5 + 1 + 2 */
    CHECK_DBL(current(&e, 1, &has), 3);
    CHECK_DBL(current(&e, 2, &has), 3); /* a, b, c */
    env_close(&e);
}

/* Samples newer than the last read are added to it; a replacement or a late
 * sample makes the series read again from the start. */
TEST(kpi_engine_incremental_reads_stay_exact)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    const char *l = "{\"doc\":\"kk\"}";
    int64_t t = util_now_ms() - 60000;
    bool has;
    append(&e, "van-09", l, t, 1);
    CHECK(sync_engine(&e));
    CHECK_DBL(current(&e, 5, &has), 1);
    usleep(5000);
    append(&e, "van-09", l, util_now_ms(), 2); /* after the last read: merged */
    CHECK(sync_engine(&e));
    CHECK_DBL(current(&e, 5, &has), 3);
    usleep(5000);
    append(&e, "van-09", l, util_now_ms(), 4);
    append(&e, "van-09", l, t, 5); /* replaces the first: 5 + 2 + 4 */
    CHECK(sync_engine(&e));
    CHECK_DBL(current(&e, 5, &has), 11);
    append(&e, "van-09", l, t + 1000, 10); /* late */
    CHECK(sync_engine(&e));
    CHECK_DBL(current(&e, 5, &has), 21);
    for (int i = 0; i < 50; i++) { /* many small reads in a row */
        usleep(2000);
        append(&e, "van-09", l, util_now_ms(), 1);
        CHECK(sync_engine(&e));
    }
    CHECK_DBL(current(&e, 5, &has), 71);
    env_close(&e);
}

static void on_report(void *ctx, const struct kpi_report *r)
{
    struct env *e = ctx;
    e->report = *r;
    for (int i = 0; r->status == 0 && i < r->catalog->n_kpis && i < 8; i++) {
        e->has_from[i] = r->has_at_from[i];
        e->has_to[i] = r->has_at_to[i];
        e->at_from[i] = r->at_from[i];
        e->at_to[i] = r->at_to[i];
    }
    e->reported = true;
}

TEST(kpi_engine_report_as_of_two_times)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    for (int d = 0; d < 20; d++) /* one ktp document a day at 08:00 WIB, 1..20 Jan */
        append(&e, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"a\"}", JAN1_WIB + d * DAY + HOUR, 1);
    int64_t from = JAN1_WIB + 4 * DAY + 2 * HOUR; /* after the 5th */
    int64_t to = JAN1_WIB + 9 * DAY + HOUR;       /* exactly at the 10th */
    CHECK(kpi_engine_report(e.engine, from, to, on_report, &e) == 0);
    for (int i = 0; i < 500 && !e.reported; i++)
        uv_run(&e.loop, UV_RUN_ONCE);
    CHECK(e.reported);
    CHECK_INT(e.report.status, 0);
    CHECK(e.has_from[0] && e.has_to[0]);
    CHECK_DBL(e.at_from[0], 5);
    CHECK_DBL(e.at_to[0], 10); /* ts <= to counts */
    CHECK_DBL(e.at_to[4], 1);
    env_close(&e);
}

TEST(kpi_engine_catalog_swap_and_changed)
{
    struct env e;
    CHECK(env_open(&e) == 0);
    CHECK(sync_engine(&e));
    append(&e, "van-01", "{\"doc\":\"ktp\",\"kampung\":\"a\"}", JAN1_WIB + DAY, 7);
    CHECK(sync_engine(&e));
    CHECK(e.changed > 0);
    struct catalog *c = harness_catalog("[regency]\nid = baru\nname = Baru\n\n"
                                        "[program paduka]\nname = P\ndimension = living\n\n"
                                        "[kpi paduka/all]\nname = Semua\nmetric = docs\nagg = max\n"
                                        "period = total\nstart = 2020-01-01\n"
                                        "deadline = 2030-01-01\ntarget = 9\n");
    CHECK(c != NULL);
    CHECK(kpi_engine_set_catalog(e.engine, c) == 0);
    CHECK(sync_engine(&e));
    CHECK_INT(kpi_engine_catalog(e.engine)->n_kpis, 1);
    bool has;
    CHECK_DBL(current(&e, 0, &has), 7);
    env_close(&e);
}

TEST_MAIN(CASE(kpi_engine_current_with_filters_late_and_duplicates),
          CASE(kpi_engine_incremental_reads_stay_exact), CASE(kpi_engine_report_as_of_two_times),
          CASE(kpi_engine_catalog_swap_and_changed))
