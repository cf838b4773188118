/* test_store_limits.c — CONTRACT §10 "Units and series": a client making
 * up units or label values is refused past [store] max_units and
 * max_series_per_unit, without taking capacity from the others; the
 * presence pass stays cheap at the unit limit. Real SQLite files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "harness.h"
#include "presence.h"
#include "store.h"
#include "util.h"

#define T0 1795000000000LL

static char db_path[512];

static const char *fresh_db(const char *name)
{
    snprintf(db_path, sizeof db_path, "%s/%s.db", harness_tmpdir(), name);
    unlink(db_path);
    return db_path;
}

static struct sample sample_of(const char *unit, const char *labels, int64_t ts, double v)
{
    struct sample s = {.program = "pjs",
                       .unit = unit,
                       .metric = "pickups",
                       .labels_json = labels,
                       .ts = ts,
                       .value = v};
    return s;
}

/* Resident set in KiB, from /proc/self/statm. */
static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* (a) 20,000 $status and samples for made-up units past max_units = 1,000:
 * each refused as STORE_UNIT_LIMIT, nothing grows, known units go on. */
TEST(store_refuses_units_past_max_units)
{
    struct store *s;
    char unit[32];
    const char *p = fresh_db("units");
    CHECK(store_open(&s, p) == 0);
    store_set_unit_limits(s, 1000, 1000);
    for (int i = 0; i < 1000; i++) {
        snprintf(unit, sizeof unit, "truck-%d", i);
        CHECK_INT(store_presence(s, "pjs", unit, true, T0, true), 0);
    }
    CHECK(store_commit(s) == 0);
    long rss0 = rss_kib();
    int refused = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(unit, sizeof unit, "fake-%d", i);
        struct sample x = sample_of(unit, "{}", T0, 1);
        int rc =
            i % 2 ? store_presence(s, "pjs", unit, true, T0, true) : store_append(s, &x, T0, NULL);
        refused += rc == STORE_UNIT_LIMIT;
    }
    CHECK(store_commit(s) == 0);
    long grown = rss_kib() - rss0;
    CHECK_INT(refused, 20000);
    /* A known unit still reports, and starts a series. */
    CHECK_INT(store_presence(s, "pjs", "truck-7", false, T0 + 1, true), 0);
    struct sample ok = sample_of("truck-7", "{}", T0 + 1, 5);
    CHECK_INT(store_append(s, &ok, T0 + 1, NULL), 0);
    CHECK(store_commit(s) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(st.units, 1000);
    CHECK(st.writable);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM units"), 1000);
    CHECK_INT(harness_sql_int(p, "SELECT online FROM units WHERE unit = 'truck-7'"), 0);
    printf("# 20,000 refused units: RSS grew %ld KiB\n", grown);
    CHECK(grown < 2048);
}

/* (b) one unit making 1,200 series with max_series_per_unit = 1,000: its
 * 200 extra refused; another unit's new series stored; after a restart the
 * count holds (it is loaded from the series table). */
TEST(store_refuses_series_past_max_series_per_unit)
{
    struct store *s;
    char labels[64];
    const char *p = fresh_db("unit_series");
    CHECK(store_open(&s, p) == 0);
    store_set_unit_limits(s, 10000, 1000);
    int refused = 0;
    for (int i = 0; i < 1200; i++) {
        snprintf(labels, sizeof labels, "{\"serial\":\"s%d\"}", i);
        struct sample x = sample_of("truck-1", labels, T0, i);
        int rc = store_append(s, &x, T0, NULL);
        if (rc == STORE_UNIT_SERIES_LIMIT)
            refused++;
        else
            CHECK_INT(rc, 0);
    }
    struct sample other = sample_of("truck-2", "{\"serial\":\"s5000\"}", T0, 1);
    CHECK_INT(store_append(s, &other, T0, NULL), 0);
    struct sample known = sample_of("truck-1", "{\"serial\":\"s3\"}", T0 + 1, 1);
    CHECK_INT(store_append(s, &known, T0 + 1, NULL), 0);
    CHECK(store_commit(s) == 0);
    CHECK_INT(refused, 200);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series WHERE unit = 'truck-1'"), 1000);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series WHERE unit = 'truck-2'"), 1);

    CHECK(store_open(&s, p) == 0);
    store_set_unit_limits(s, 10000, 1000);
    struct sample more = sample_of("truck-1", "{\"serial\":\"s9999\"}", T0, 1);
    CHECK_INT(store_append(s, &more, T0, NULL), STORE_UNIT_SERIES_LIMIT);
    CHECK_INT(store_append(s, &known, T0 + 2, NULL), 0);
    struct sample more2 = sample_of("truck-2", "{\"serial\":\"s9999\"}", T0, 1);
    CHECK_INT(store_append(s, &more2, T0, NULL), 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
}

/* max_series stays the guard over all units together. */
TEST(store_max_series_guards_all_units)
{
    struct store *s;
    char unit[32];
    const char *p = fresh_db("all_series");
    CHECK(store_open(&s, p) == 0);
    store_set_unit_limits(s, 100, 10);
    store_set_max_series(s, 5);
    int refused = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(unit, sizeof unit, "u%d", i);
        struct sample x = sample_of(unit, "{}", T0, i);
        int rc = store_append(s, &x, T0, NULL);
        refused += rc == STORE_SERIES_LIMIT;
    }
    CHECK(store_commit(s) == 0);
    CHECK_INT(refused, 3);
    store_close(s);
}

static int64_t stale_ms(void *ctx, const char *program)
{
    return 900000;
}

static int told;
static void changed(void *ctx, const struct store_unit_view *u, int64_t now)
{
    told++;
}

/* The presence timer's pass over 10,000 units (the default max_units)
 * stays well under a loop turn's budget: about 5 ms here; bound 50 ms. */
TEST(presence_pass_at_max_units)
{
    struct store *s;
    char unit[32];
    const char *p = fresh_db("presence");
    CHECK(store_open(&s, p) == 0);
    store_set_unit_limits(s, 10001, 1000);
    int64_t now = util_now_ms();
    for (int i = 0; i < 10000; i++) {
        snprintf(unit, sizeof unit, "unit-%d", i);
        CHECK_INT(store_presence(s, "pjs", unit, true, now, true), 0);
    }
    CHECK(store_commit(s) == 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct presence *pr;
    struct presence_opts o = {
        .loop = &loop, .store = s, .stale_ms = stale_ms, .changed = changed, .ctx = NULL};
    CHECK(presence_start(&pr, &o) == 0);
    uint64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = util_mono_ns();
        presence_check(pr);
        uint64_t d = util_mono_ns() - t0;
        worst = d > worst ? d : worst;
    }
    /* A group of samples from a new unit costs a lookup, not a pass. */
    struct sample x = sample_of("new-unit", "{}", now, 1);
    CHECK_INT(store_append(s, &x, now, NULL), 0);
    CHECK(store_commit(s) == 0);
    told = 0;
    uint64_t t0 = util_mono_ns();
    presence_samples(pr, &x, 1);
    uint64_t one = util_mono_ns() - t0;
    CHECK_INT(told, 1);
    presence_stop(pr);
    uv_run(&loop, UV_RUN_DEFAULT);
    presence_free(pr);
    CHECK_INT(uv_loop_close(&loop), 0);
    store_close(s);
    printf("# presence pass over 10,000 units: worst %.2f ms; a new unit's group %.3f ms\n",
           worst / 1e6, one / 1e6);
    CHECK(worst < 50000000);
    CHECK(one < 1000000);
}

TEST_MAIN(CASE(store_refuses_units_past_max_units),
          CASE(store_refuses_series_past_max_series_per_unit),
          CASE(store_max_series_guards_all_units), CASE(presence_pass_at_max_units))
