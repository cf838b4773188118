/* test_kpi.c — the KPI arithmetic of CONTRACT §5.1–5.3 (kpi.h), table-driven,
 * written against the contract and the header only. Every expected value is
 * computed by hand below; KPIs and catalogs are built in C directly.
 *
 * Times. DAY(n) is the UTC midnight of day n since 1970-01-01 (n * 86400000).
 * A local midnight of day n in a zone of offset `off` is DAY(n) - off; the
 * end of that day (the next local midnight - 1 ms) is DAY(n + 1) - off - 1.
 * Day numbers, from the anchors of test_util.c (2000-01-01 = 10957,
 * 2024-02-29 = 19782) and the month lengths; weekday of day n is
 * (n + 3) mod 7 with 0 = Monday (1970-01-01, day 0, was a Thursday):
 *   2024-01-01 = 19782 - 59 (Jan 31 + Feb 28 days)        = 19723  Mon
 *   2024-02-01 = 19723 + 31                                = 19754  Thu
 *   2024-02-29                                             = 19782  Thu
 *   2024-03-01 = 19754 + 29 (leap February)                = 19783  Fri
 *   2025-01-01 = 19723 + 366                               = 20089  Wed
 *   2026-01-01 = 20089 + 365                               = 20454  Thu
 *   2026-02-01 = 20454 + 31                                = 20485  Sun
 *   2026-02-15 = 20485 + 14                                = 20499  Sun
 *   2026-02-23 = 20485 + 22                                = 20507  Mon
 *   2026-02-28 = 20485 + 27                                = 20512  Sat
 *   2026-03-01 = 20485 + 28 (February 2026 has 28 days)    = 20513  Sun
 *   2026-03-02                                             = 20514  Mon
 *   2026-03-09                                             = 20521  Mon
 *   2026-04-01 = 20454 + 31 + 28 + 31 (= 90)               = 20544  Wed
 *   2026-06-30 = 20544 + 30 + 31 + 29                      = 20634  Tue
 *   2026-07-01 = 20544 + 30 + 31 + 30 (= 91)               = 20635  Wed
 *   2026-10-01 = 20635 + 31 + 31 + 30 (= 92)               = 20727  Thu
 *   2026-12-01 = 20727 + 31 + 30                           = 20788  Tue
 *   2026-12-15 = 20788 + 14                                = 20802  Tue
 *   2026-12-28 = 20788 + 27                                = 20815  Mon
 *   2026-12-31 = 20788 + 30                                = 20818  Thu
 *   2027-01-01 = 20454 + 365                               = 20819  Fri
 *   2027-01-02                                             = 20820  Sat
 *   2027-01-04                                             = 20822  Mon
 *   2027-02-01 = 20819 + 31                                = 20850  Mon
 *   2027-04-01 = 20819 + 31 + 28 + 31                      = 20909  Thu
 *   2028-01-01 = 20819 + 365                               = 21184  Sat
 *   1969-12-01 = 0 - 31                                    =   -31  Mon
 *   1969-12-29 = 0 - 3                                     =    -3  Mon
 *   1969-12-31                                             =    -1  Wed
 *   1970-01-05                                             =     4  Mon
 * E.g. t = 2026-12-31T17:30:00Z = DAY(20818) + 17 h 30 min
 *        = 1798675200000 + 63000000 = 1798738200000 ms,
 * which in WIB (+07:00) is 2027-01-01T00:30 local: the day, week, month,
 * quarter and year of 2027 (the week of Monday 2026-12-28); in UTC and in
 * -03:30 (2026-12-31T14:00 local) it is still 2026. */
#include "check.h"
#include "kpi.h"

#include <stdbool.h>
#include <stdint.h>

#define MS_MIN INT64_C(60000)
#define MS_H   INT64_C(3600000)
#define DAY(n) ((int64_t)(n)*INT64_C(86400000))
#define UTC    INT64_C(0)
#define WIB    (7 * MS_H)                  /* +07:00 */
#define WITA   (8 * MS_H)                  /* +08:00 */
#define WIT    (9 * MS_H)                  /* +09:00 */
#define NEG    (-(3 * MS_H + 30 * MS_MIN)) /* -03:30 = -12600000 */

/* t of the new-year rows: 2026-12-31T17:30:00Z (see the top). */
#define NY (DAY(20818) + 17 * MS_H + 30 * MS_MIN)

static const char *status_str(int s)
{
    /* The contract's names, independent of kpi_status_name. */
    static const char *const names[] = {"missed",      "worsening", "off_track", "at_risk",
                                        "not_started", "no_data",   "on_track",  "achieved"};
    return s >= 0 && s < 8 ? names[s] : "?";
}

#define CHECK_STATUS(a, b)                                                                         \
    do {                                                                                           \
        int a_ = (int)(a), b_ = (int)(b);                                                          \
        if (a_ != b_)                                                                              \
            CHECK_FAIL_("%s == %d (%s), expected %d (%s)", #a, a_, status_str(a_), b_,             \
                        status_str(b_));                                                           \
    } while (0)

#define ROW_CASE(name, ...) CASE(name),

/* ---- §5.1 periods ---------------------------------------------------------- */

/* X(name, period, tz offset, t, from, to) — both ends inclusive. */
#define CAL_ROWS(X)                                                                                \
    /* 2026-12-31T17:30Z is 2027-01-01T00:30 in WIB */                                             \
    X(day_wib_new_year, PERIOD_DAY, WIB, NY, DAY(20819) - WIB, DAY(20820) - WIB - 1)               \
    X(week_wib_new_year, PERIOD_WEEK, WIB, NY, DAY(20815) - WIB, DAY(20822) - WIB - 1)             \
    X(month_wib_new_year, PERIOD_MONTH, WIB, NY, DAY(20819) - WIB, DAY(20850) - WIB - 1)           \
    X(quarter_wib_new_year, PERIOD_QUARTER, WIB, NY, DAY(20819) - WIB, DAY(20909) - WIB - 1)       \
    X(year_wib_new_year, PERIOD_YEAR, WIB, NY, DAY(20819) - WIB, DAY(21184) - WIB - 1)             \
    /* the same instant is still 2026-12-31 in UTC and in -03:30 (14:00 local) */                  \
    X(day_utc_new_year_eve, PERIOD_DAY, UTC, NY, DAY(20818), DAY(20819) - 1)                       \
    X(year_utc_new_year_eve, PERIOD_YEAR, UTC, NY, DAY(20454), DAY(20819) - 1)                     \
    X(day_neg_new_year_eve, PERIOD_DAY, NEG, NY, DAY(20818) - NEG, DAY(20819) - NEG - 1)           \
    X(month_neg_new_year_eve, PERIOD_MONTH, NEG, NY, DAY(20788) - NEG, DAY(20819) - NEG - 1)       \
    X(quarter_neg_new_year_eve, PERIOD_QUARTER, NEG, NY, DAY(20727) - NEG, DAY(20819) - NEG - 1)   \
    X(year_neg_new_year_eve, PERIOD_YEAR, NEG, NY, DAY(20454) - NEG, DAY(20819) - NEG - 1)         \
    /* the last ms of a local day, and the first of the next */                                    \
    X(day_wib_last_ms, PERIOD_DAY, WIB, DAY(20819) - WIB - 1, DAY(20818) - WIB,                    \
      DAY(20819) - WIB - 1)                                                                        \
    X(day_wib_first_ms, PERIOD_DAY, WIB, DAY(20819) - WIB, DAY(20819) - WIB, DAY(20820) - WIB - 1) \
    /* weeks start on Monday: Sunday 2026-03-01 23:59:59.999 WITA, Monday 00:00 */                 \
    X(week_wita_sunday_last_ms, PERIOD_WEEK, WITA, DAY(20514) - WITA - 1, DAY(20507) - WITA,       \
      DAY(20514) - WITA - 1)                                                                       \
    X(week_wita_monday_first_ms, PERIOD_WEEK, WITA, DAY(20514) - WITA, DAY(20514) - WITA,          \
      DAY(20521) - WITA - 1)                                                                       \
    /* Sunday 2026-03-01T05:00 WIT = Saturday 2026-02-28T20:00Z */                                 \
    X(week_wit_sunday_utc_saturday, PERIOD_WEEK, WIT, DAY(20512) + 20 * MS_H, DAY(20507) - WIT,    \
      DAY(20514) - WIT - 1)                                                                        \
    /* Sunday 2026-03-01T22:00 at -03:30 = Monday 2026-03-02T01:30Z */                             \
    X(week_neg_sunday_utc_monday, PERIOD_WEEK, NEG, DAY(20514) + 90 * MS_MIN, DAY(20507) - NEG,    \
      DAY(20514) - NEG - 1)                                                                        \
    /* February of a leap year (29 days) and of 2026 (28 days), in WIT */                          \
    X(month_feb_2024_wit, PERIOD_MONTH, WIT, DAY(19782) + 12 * MS_H - WIT, DAY(19754) - WIT,       \
      DAY(19783) - WIT - 1)                                                                        \
    X(month_feb_2026_wit, PERIOD_MONTH, WIT, DAY(20512) + 23 * MS_H - WIT, DAY(20485) - WIT,       \
      DAY(20513) - WIT - 1)                                                                        \
    /* December: its end is next year's first local midnight - 1 ms */                             \
    X(month_dec_2026_wita, PERIOD_MONTH, WITA, DAY(20802) - WITA, DAY(20788) - WITA,               \
      DAY(20819) - WITA - 1)                                                                       \
    /* each quarter from its first ms; Q2 from its last month; Q4 at its last ms */                \
    X(quarter_q1_first_ms, PERIOD_QUARTER, WIB, DAY(20454) - WIB, DAY(20454) - WIB,                \
      DAY(20544) - WIB - 1)                                                                        \
    X(quarter_q2_first_ms, PERIOD_QUARTER, WIB, DAY(20544) - WIB, DAY(20544) - WIB,                \
      DAY(20635) - WIB - 1)                                                                        \
    X(quarter_q2_june, PERIOD_QUARTER, WIB, DAY(20634) + 12 * MS_H - WIB, DAY(20544) - WIB,        \
      DAY(20635) - WIB - 1)                                                                        \
    X(quarter_q3_first_ms, PERIOD_QUARTER, WIB, DAY(20635) - WIB, DAY(20635) - WIB,                \
      DAY(20727) - WIB - 1)                                                                        \
    X(quarter_q4_first_ms, PERIOD_QUARTER, WIB, DAY(20727) - WIB, DAY(20727) - WIB,                \
      DAY(20819) - WIB - 1)                                                                        \
    X(quarter_q4_last_ms, PERIOD_QUARTER, WIB, DAY(20819) - WIB - 1, DAY(20727) - WIB,             \
      DAY(20819) - WIB - 1)                                                                        \
    X(quarter_q3_last_ms, PERIOD_QUARTER, WIB, DAY(20727) - WIB - 1, DAY(20635) - WIB,             \
      DAY(20727) - WIB - 1)                                                                        \
    /* the leap year 2024 at its last ms in WIT */                                                 \
    X(year_2024_wit_last_ms, PERIOD_YEAR, WIT, DAY(20089) - WIT - 1, DAY(19723) - WIT,             \
      DAY(20089) - WIT - 1)                                                                        \
    X(year_2025_wit_first_ms, PERIOD_YEAR, WIT, DAY(20089) - WIT, DAY(20089) - WIT,                \
      DAY(20454) - WIT - 1)                                                                        \
    /* around the epoch (negative ms: floor, not truncation) */                                    \
    /* 1969-12-31T20:00Z = -4 h is 1970-01-01T03:00 WIB */                                         \
    X(day_wib_before_epoch, PERIOD_DAY, WIB, -4 * MS_H, DAY(0) - WIB, DAY(1) - WIB - 1)            \
    /* 1970-01-01T01:00Z is 1969-12-31T21:30 at -03:30 */                                          \
    X(day_neg_after_epoch, PERIOD_DAY, NEG, MS_H, DAY(-1) - NEG, DAY(0) - NEG - 1)                 \
    X(month_neg_epoch, PERIOD_MONTH, NEG, 0, DAY(-31) - NEG, DAY(0) - NEG - 1)                     \
    X(year_neg_epoch, PERIOD_YEAR, NEG, 0, DAY(-365) - NEG, DAY(0) - NEG - 1)                      \
    X(week_utc_epoch, PERIOD_WEEK, UTC, 0, DAY(-3), DAY(4) - 1)                                    \
    X(week_wib_before_epoch, PERIOD_WEEK, WIB, -WIB, DAY(-3) - WIB, DAY(4) - WIB - 1)

static void run_cal(enum kpi_period p, int64_t tz, int64_t t, int64_t want_from, int64_t want_to)
{
    int64_t from = 1, to = 2;
    kpi_calendar_period(p, tz, t, &from, &to);
    CHECK_INT(from, want_from);
    CHECK_INT(to, want_to);

    /* kpi_period_at of a KPI with that period says the same. */
    struct catalog_kpi k = {0};
    k.period = p;
    from = 1;
    to = 2;
    kpi_period_at(&k, tz, t, &from, &to);
    CHECK_INT(from, want_from);
    CHECK_INT(to, want_to);
}

#define CAL_TEST(name, p, tz, t, from, to)                                                         \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_cal(p, tz, t, from, to);                                                               \
    }

CAL_ROWS(CAL_TEST)

TEST(period_total_unbounded)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_TOTAL;
    int64_t ts[] = {NY, 0, INT64_C(-1000000000000), INT64_C(4102444800000)};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        int64_t from = 1, to = 2;
        kpi_period_at(&k, WIB, ts[i], &from, &to);
        CHECK_INT(from, INT64_MIN);
        CHECK_INT(to, INT64_MAX);
    }
}

/* A range is as stored in the KPI: 2026-01-01..2026-06-30 in WIB, from the
 * first local midnight to the end of the last day, whatever T is. */
TEST(period_range_as_stored)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_RANGE;
    k.range_from = DAY(20454) - WIB;   /* 2026-01-01T00:00 WIB = 1767200400000 */
    k.range_to = DAY(20635) - WIB - 1; /* 2026-07-01T00:00 WIB - 1 = 1782838799999 */
    CHECK_INT(k.range_from, INT64_C(1767200400000));
    CHECK_INT(k.range_to, INT64_C(1782838799999));
    int64_t ts[] = {k.range_from, DAY(20544), k.range_to, k.range_from - 1, k.range_to + 1, NY};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        int64_t from = 1, to = 2;
        kpi_period_at(&k, WIB, ts[i], &from, &to);
        CHECK_INT(from, INT64_C(1767200400000));
        CHECK_INT(to, INT64_C(1782838799999));
    }
}

/* The literal of the top comment, so the DAY() arithmetic is pinned too. */
TEST(period_new_year_literals)
{
    CHECK_INT(NY, INT64_C(1798738200000));
    int64_t from = 1, to = 2;
    kpi_calendar_period(PERIOD_DAY, WIB, INT64_C(1798738200000), &from, &to);
    CHECK_INT(from, INT64_C(1798736400000)); /* 2027-01-01T00:00+07 = 2026-12-31T17:00Z */
    CHECK_INT(to, INT64_C(1798822799999));   /* 2027-01-02T00:00+07 - 1 ms */
}

/* ---- §5.1 current ---------------------------------------------------------- */

static struct rollup_agg agg_of(const int64_t *ts, const double *v, int n)
{
    struct rollup_agg a;
    rollup_agg_init(&a);
    for (int i = 0; i < n; i++)
        rollup_agg_add(&a, ts[i], v[i]);
    return a;
}

/* Four series, added in this order:
 *   A van-01: (1000, 2) (2000, 4) (3000, 6)  sum 12, n 3, min 2, max 6, last 6 @3000
 *   B van-02: (5000, 1)                      sum 1,  n 1, min 1, max 1, last 1 @5000
 *   E van-03: no sample                      adds nothing, not even a unit
 *   C van-01: (2500, 20) (4000, -3)          sum 17, n 2, min -3, max 20, last -3 @4000
 * Together: sum 30, count 6, avg 30 / 6 = 5 (the mean of the series' means
 * would be (4 + 1 + 8.5) / 3 = 4.5), min -3, max 20, last 1 (B's @5000 is the
 * latest, though C was added after it), units 2 (van-01, van-02). */
static void add_four(struct kpi_acc *a)
{
    static const int64_t ta[] = {1000, 2000, 3000}, tb[] = {5000}, tc[] = {2500, 4000};
    static const double va[] = {2, 4, 6}, vb[] = {1}, vc[] = {20, -3};
    struct rollup_agg sa = agg_of(ta, va, 3), sb = agg_of(tb, vb, 1), se = agg_of(NULL, NULL, 0),
                      sc = agg_of(tc, vc, 2);
    kpi_acc_add(a, "van-01", &sa);
    kpi_acc_add(a, "van-02", &sb);
    kpi_acc_add(a, "van-03", &se);
    kpi_acc_add(a, "van-01", &sc);
}

/* X(name, agg, value) */
#define ACC_ROWS(X)                                                                                \
    X(acc_sum, KPI_SUM, 30)                                                                        \
    X(acc_count, KPI_COUNT, 6)                                                                     \
    X(acc_avg_is_total_over_count, KPI_AVG, 5)                                                     \
    X(acc_min, KPI_MIN, -3)                                                                        \
    X(acc_max, KPI_MAX, 20)                                                                        \
    X(acc_last_latest_ts, KPI_LAST, 1)                                                             \
    X(acc_units_distinct_nonempty, KPI_UNITS, 2)

static void run_acc(enum kpi_agg agg, double want)
{
    struct kpi_acc a;
    kpi_acc_init(&a, agg);
    add_four(&a);
    double v = -12345;
    bool ok = kpi_acc_value(&a, &v);
    bool failed = a.failed;
    kpi_acc_free(&a);
    CHECK(!failed);
    CHECK(ok);
    CHECK_DBL(v, want);
}

#define ACC_TEST(name, agg, want)                                                                  \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_acc(agg, want);                                                                        \
    }

ACC_ROWS(ACC_TEST)

static const enum kpi_agg all_aggs[] = {KPI_SUM, KPI_COUNT, KPI_AVG,   KPI_MIN,
                                        KPI_MAX, KPI_LAST,  KPI_UNITS, KPI_DISTINCT};

TEST(acc_no_series_is_null)
{
    for (size_t i = 0; i < sizeof all_aggs / sizeof all_aggs[0]; i++) {
        struct kpi_acc a;
        kpi_acc_init(&a, all_aggs[i]);
        double v = -12345;
        bool ok = kpi_acc_value(&a, &v);
        kpi_acc_free(&a);
        CHECK(!ok);
    }
}

TEST(acc_only_empty_series_is_null)
{
    for (size_t i = 0; i < sizeof all_aggs / sizeof all_aggs[0]; i++) {
        struct kpi_acc a;
        kpi_acc_init(&a, all_aggs[i]);
        struct rollup_agg e = agg_of(NULL, NULL, 0);
        kpi_acc_add(&a, "van-01", &e);
        kpi_acc_add(&a, "van-02", &e);
        double v = -12345;
        bool ok = kpi_acc_value(&a, &v);
        kpi_acc_free(&a);
        CHECK(!ok);
    }
}

/* distinct:<label>: keys are the series' label values.
 *   "kampung-a" (100, 1)       counts
 *   NULL        (200, 1)       lacks the label: does not count
 *   "kampung-b" (300, 1)       counts
 *   "kampung-a" (400, 1)       already seen
 *   "kampung-c" no sample      adds nothing
 * -> 2. */
TEST(acc_distinct)
{
    struct kpi_acc a;
    kpi_acc_init(&a, KPI_DISTINCT);
    static const double one[] = {1};
    static const int64_t t1[] = {100}, t2[] = {200}, t3[] = {300}, t4[] = {400};
    struct rollup_agg s1 = agg_of(t1, one, 1), s2 = agg_of(t2, one, 1), s3 = agg_of(t3, one, 1),
                      s4 = agg_of(t4, one, 1), se = agg_of(NULL, NULL, 0);
    kpi_acc_add(&a, "kampung-a", &s1);
    kpi_acc_add(&a, NULL, &s2);
    kpi_acc_add(&a, "kampung-b", &s3);
    kpi_acc_add(&a, "kampung-a", &s4);
    kpi_acc_add(&a, "kampung-c", &se);
    double v = -12345;
    bool ok = kpi_acc_value(&a, &v);
    bool failed = a.failed;
    kpi_acc_free(&a);
    CHECK(!failed);
    CHECK(ok);
    CHECK_DBL(v, 2);
}

/* The set owns its keys: a caller's buffer reused between calls. */
TEST(acc_units_keys_copied)
{
    struct kpi_acc a;
    kpi_acc_init(&a, KPI_UNITS);
    static const double one[] = {1};
    static const int64_t t1[] = {100};
    struct rollup_agg s = agg_of(t1, one, 1);
    char key[16];
    snprintf(key, sizeof key, "van-01");
    kpi_acc_add(&a, key, &s);
    snprintf(key, sizeof key, "van-02");
    kpi_acc_add(&a, key, &s);
    snprintf(key, sizeof key, "van-01");
    kpi_acc_add(&a, key, &s);
    double v = -12345;
    bool ok = kpi_acc_value(&a, &v);
    kpi_acc_free(&a);
    CHECK(ok);
    CHECK_DBL(v, 2);
}

/* Equal last_ts across series: the later call wins. */
TEST(acc_last_tie_later_call_wins)
{
    static const int64_t t[] = {7000};
    static const double v5[] = {5}, v9[] = {9};
    struct rollup_agg x = agg_of(t, v5, 1), y = agg_of(t, v9, 1);
    struct kpi_acc a;
    double v = -12345;

    kpi_acc_init(&a, KPI_LAST);
    kpi_acc_add(&a, NULL, &x);
    kpi_acc_add(&a, NULL, &y);
    CHECK(kpi_acc_value(&a, &v));
    kpi_acc_free(&a);
    CHECK_DBL(v, 9);

    kpi_acc_init(&a, KPI_LAST);
    kpi_acc_add(&a, NULL, &y);
    kpi_acc_add(&a, NULL, &x);
    CHECK(kpi_acc_value(&a, &v));
    kpi_acc_free(&a);
    CHECK_DBL(v, 5);
}

/* All negative values: min -7, max -2 (not a 0 from an initial state);
 * sum -9 over 2 -> avg -4.5. */
TEST(acc_negative_min_max_avg)
{
    static const int64_t t1[] = {10}, t2[] = {20};
    static const double v1[] = {-7}, v2[] = {-2};
    struct rollup_agg x = agg_of(t1, v1, 1), y = agg_of(t2, v2, 1);
    const enum kpi_agg aggs[] = {KPI_MIN, KPI_MAX, KPI_AVG, KPI_SUM};
    const double want[] = {-7, -2, -4.5, -9};
    for (int i = 0; i < 4; i++) {
        struct kpi_acc a;
        double v = -12345;
        kpi_acc_init(&a, aggs[i]);
        kpi_acc_add(&a, NULL, &y);
        kpi_acc_add(&a, NULL, &x);
        bool ok = kpi_acc_value(&a, &v);
        kpi_acc_free(&a);
        CHECK(ok);
        CHECK_DBL(v, want[i]);
    }
}

/* ---- §5.2 progress and status ---------------------------------------------- */

/* S = 2026-01-01T00:00 WIB = DAY(20454) - WIB = 1767200400000; D = S + 4000000,
 * so T = S + 1000000 / 2000000 / 3000000 / 4000000 gives f = 0.25 / 0.5 /
 * 0.75 / 1 exactly. Most rows use B = 0, G = 1, so progress = current exactly
 * and R = progress / f is exact for f a power of two: 0.475 / 0.5 is the
 * double 0.95 and 0.3 / 0.5 the double 0.6, so the boundaries are compared
 * against the very constants 0.95 and 0.6. */
#define S0       (DAY(20454) - WIB)
#define SPAN     INT64_C(4000000)
#define D0       (S0 + SPAN)
#define BELOW(x) nextafter((x), -1.0)

/* X(name, B, G, T - S, has current, current, status, progress, expected,
 *   has projected, projected, has eta, eta - S)
 * Without a current, progress is not checked (it is absent). eta is
 * S + (T - S) / progress; the contract does not say how it rounds to ms, so
 * it is checked to +-1 ms (the values below are the exact quotients, floored). */
#define EVAL_ROWS(X)                                                                               \
    /* no_data comes first, even after the deadline; expected is still B + (G - B) f */            \
    X(eval_no_data_mid, 0, 1, 2000000, false, 0, KPI_NO_DATA, 0, 0.5, false, 0, false, 0)          \
    X(eval_no_data_after_deadline, 0, 1, SPAN + 1, false, 0, KPI_NO_DATA, 0, 1, false, 0, false,   \
      0)                                                                                           \
    X(eval_no_data_before_start, 0, 1, -1, false, 0, KPI_NO_DATA, 0, 0, false, 0, false, 0)        \
    /* achieved: progress >= 1, before missed and not_started */                                   \
    X(eval_achieved_exactly_1, 0, 1, 2000000, true, 1, KPI_ACHIEVED, 1, 0.5, true, 2, false, 0)    \
    X(eval_achieved_over, 0, 1, 1000000, true, 1.25, KPI_ACHIEVED, 1.25, 0.25, true, 5, false, 0)  \
    X(eval_achieved_after_deadline, 0, 1, SPAN + 1, true, 1, KPI_ACHIEVED, 1, 1, true, 1, false,   \
      0)                                                                                           \
    X(eval_achieved_before_start, 0, 1, -1000, true, 1, KPI_ACHIEVED, 1, 0, false, 0, false, 0)    \
    /* just below 1 one ms after D: missed; at D itself: R = progress */                           \
    X(eval_missed_below_1, 0, 1, SPAN + 1, true, BELOW(1.0), KPI_MISSED, BELOW(1.0), 1, true,      \
      BELOW(1.0), true, SPAN + 1)                                                                  \
    X(eval_missed_one_ms_late, 0, 1, SPAN + 1, true, 0.5, KPI_MISSED, 0.5, 1, true, 0.5, true,     \
      2 * (SPAN + 1))                                                                              \
    X(eval_off_track_at_deadline, 0, 1, SPAN, true, 0.5, KPI_OFF_TRACK, 0.5, 1, true, 0.5, true,   \
      2 * SPAN)                                                                                    \
    X(eval_missed_negative, 0, 1, SPAN + 1, true, -0.5, KPI_MISSED, -0.5, 1, true, -0.5, false, 0) \
    /* f = 0 at T = S and before S: not_started; projected absent */                               \
    X(eval_not_started_at_start, 0, 1, 0, true, 0.5, KPI_NOT_STARTED, 0.5, 0, false, 0, true, 0)   \
    X(eval_not_started_before_start, 0, 1, -1000, true, 0.5, KPI_NOT_STARTED, 0.5, 0, false, 0,    \
      true, -2000)                                                                                 \
    X(eval_not_started_negative, 0, 1, -1, true, -0.5, KPI_NOT_STARTED, -0.5, 0, false, 0, false,  \
      0)                                                                                           \
    /* one ms after S: f = 1 / 4000000 > 0, R = 0.5 * 4000000 */                                   \
    X(eval_on_track_one_ms_in, 0, 1, 1, true, 0.5, KPI_ON_TRACK, 0.5, 0.00000025, true, 2000000,   \
      true, 2)                                                                                     \
    /* R = 0.95 exactly (f = 1 and f = 0.5), and the double just below */                          \
    X(eval_on_track_r095_f1, 0, 1, SPAN, true, 0.95, KPI_ON_TRACK, 0.95, 1, true, 0.95, true,      \
      4210526) /* 4000000 / 0.95 = 4210526.3 */                                                    \
    X(eval_at_risk_below_r095_f1, 0, 1, SPAN, true, BELOW(0.95), KPI_AT_RISK, BELOW(0.95), 1,      \
      true, BELOW(0.95), true, 4210526)                                                            \
    X(eval_on_track_r095_f05, 0, 1, 2000000, true, 0.475, KPI_ON_TRACK, 0.475, 0.5, true, 0.95,    \
      true, 4210526) /* 2000000 / 0.475 = 4210526.3 */                                             \
    X(eval_at_risk_below_r095_f05, 0, 1, 2000000, true, BELOW(0.475), KPI_AT_RISK, BELOW(0.475),   \
      0.5, true, 2 * BELOW(0.475), true, 4210526)                                                  \
    /* R = 0.6 exactly and just below */                                                           \
    X(eval_at_risk_r06_f1, 0, 1, SPAN, true, 0.6, KPI_AT_RISK, 0.6, 1, true, 0.6, true, 6666666)   \
    X(eval_off_track_below_r06_f1, 0, 1, SPAN, true, BELOW(0.6), KPI_OFF_TRACK, BELOW(0.6), 1,     \
      true, BELOW(0.6), true, 6666666)                                                             \
    X(eval_at_risk_r06_f05, 0, 1, 2000000, true, 0.3, KPI_AT_RISK, 0.3, 0.5, true, 0.6, true,      \
      6666666) /* 2000000 / 0.3 = 6666666.7 */                                                     \
    X(eval_off_track_below_r06_f05, 0, 1, 2000000, true, BELOW(0.3), KPI_OFF_TRACK, BELOW(0.3),    \
      0.5, true, 2 * BELOW(0.3), true, 6666666)                                                    \
    /* R = 0 exactly: off_track, eta absent; R < 0: worsening */                                   \
    X(eval_off_track_r0, 0, 1, 2000000, true, 0, KPI_OFF_TRACK, 0, 0.5, true, 0, false, 0)         \
    X(eval_worsening_just_below_0, 0, 1, 2000000, true, -0x1p-40, KPI_WORSENING, -0x1p-40, 0.5,    \
      true, -0x1p-39, false, 0)                                                                    \
    X(eval_worsening, 0, 1, 2000000, true, -0.25, KPI_WORSENING, -0.25, 0.5, true, -0.5, false, 0) \
    X(eval_on_track_ahead, 0, 1, 2000000, true, 0.75, KPI_ON_TRACK, 0.75, 0.5, true, 1.5, true,    \
      2666666) /* 2000000 / 0.75 = 2666666.7 */                                                    \
    X(eval_off_track_f075, 0, 1, 3000000, true, 0.25, KPI_OFF_TRACK, 0.25, 0.75, true,             \
      0.33333333333333333, true, 12000000) /* R = 1/3; 3000000 / 0.25 */                           \
    /* B = 100, G = 300, f = 0.25, current 250: progress 150 / 200 = 0.75, R = 3;                  \
     * expected 100 + 200 * 0.25 = 150; projected 100 + 150 / 0.25 = 700;                          \
     * eta S + 1000000 / 0.75 = S + 1333333.3 */                                                   \
    X(eval_general_b100_g300, 100, 300, 1000000, true, 250, KPI_ON_TRACK, 0.75, 150, true, 700,    \
      true, 1333333)                                                                               \
    /* decreasing (stunting %): B = 28.3, G = 14, G - B = -14.3, f = 0.5;                          \
     * expected 28.3 - 14.3 * 0.5 = 21.15 */                                                       \
    /* current 21.15: progress -7.15 / -14.3 = 0.5, R = 1; projected 28.3 - 7.15 / 0.5 = 14;       \
     * eta S + 2000000 / 0.5 = S + 4000000 */                                                      \
    X(eval_decreasing_on_track, 28.3, 14, 2000000, true, 21.15, KPI_ON_TRACK, 0.5, 21.15, true,    \
      14, true, 4000000)                                                                           \
    /* current 23: progress -5.3 / -14.3 = 0.370629..., R = 0.741258... */                         \
    X(eval_decreasing_at_risk, 28.3, 14, 2000000, true, 23, KPI_AT_RISK, 5.3 / 14.3, 21.15, true,  \
      17.7, true, 5396226) /* 28.3 - 5.3 / 0.5; 2000000 * 14.3 / 5.3 = 5396226.4 */                \
    /* current 30 (worse than the baseline): progress 1.7 / -14.3 = -0.118881...; projected        \
     * 28.3 + 1.7 / 0.5 = 31.7 */                                                                  \
    X(eval_decreasing_worsening, 28.3, 14, 2000000, true, 30, KPI_WORSENING, -1.7 / 14.3, 21.15,   \
      true, 31.7, false, 0)                                                                        \
    X(eval_decreasing_achieved_exactly, 28.3, 14, 2000000, true, 14, KPI_ACHIEVED, 1, 21.15, true, \
      -0.3, false, 0) /* projected 28.3 - 14.3 / 0.5 */                                            \
    X(eval_decreasing_achieved_over, 28.3, 14, 2000000, true, 13.5, KPI_ACHIEVED, 14.8 / 14.3,     \
      21.15, true, -1.3, false, 0) /* 28.3 - 14.8 / 0.5 */

static struct catalog_kpi kpi_total(double b, double g, int64_t s, int64_t d)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_TOTAL;
    k.agg = KPI_SUM;
    k.baseline = b;
    k.target = g;
    k.has_start = true;
    k.start = s;
    k.has_deadline = true;
    k.deadline = d;
    return k;
}

/* An output struct with every field wrong, so a field left unset shows. */
static struct kpi_eval eval_poison(void)
{
    struct kpi_eval e = {0};
    e.t = e.period_from = e.period_to = e.start = e.deadline = e.eta = 42;
    e.has_current = e.has_progress = e.has_projected = e.has_eta = true;
    e.current = e.progress = e.expected = e.projected = -99999;
    e.status = KPI_STATUS_COUNT;
    return e;
}

#define CHECK_ETA(e, want)                                                                         \
    do {                                                                                           \
        int64_t w_ = (want), d_ = (e).eta - w_;                                                    \
        if (d_ < -1 || d_ > 1)                                                                     \
            CHECK_FAIL_("eta == %" PRId64 ", expected %" PRId64 " (+-1 ms)", (e).eta, w_);         \
    } while (0)

static void run_eval(double b, double g, int64_t dt, bool has_cur, double cur, enum kpi_status st,
                     double prog, double expected, bool has_proj, double proj, bool has_eta,
                     int64_t eta_dt)
{
    struct catalog_kpi k = kpi_total(b, g, S0, D0);
    struct kpi_eval e = eval_poison();
    int64_t t = S0 + dt;
    kpi_evaluate(&k, WIB, t, has_cur, cur, &e);
    CHECK_STATUS(e.status, st);
    CHECK_INT(e.t, t);
    CHECK_INT(e.period_from, INT64_MIN);
    CHECK_INT(e.period_to, INT64_MAX);
    CHECK_INT(e.start, S0);
    CHECK_INT(e.deadline, D0);
    CHECK_INT(e.has_current, has_cur);
    if (has_cur)
        CHECK_DBL(e.current, cur);
    CHECK_INT(e.has_progress, has_cur);
    if (has_cur)
        CHECK_DBL(e.progress, prog);
    CHECK_DBL(e.expected, expected);
    CHECK_INT(e.has_projected, has_proj);
    if (has_proj)
        CHECK_DBL(e.projected, proj);
    CHECK_INT(e.has_eta, has_eta);
    if (has_eta)
        CHECK_ETA(e, S0 + eta_dt);
}

#define EVAL_TEST(name, b, g, dt, has_cur, cur, st, prog, exp, has_proj, proj, has_eta, eta_dt)    \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_eval(b, g, dt, has_cur, cur, st, prog, exp, has_proj, proj, has_eta, eta_dt);          \
    }

EVAL_ROWS(EVAL_TEST)

/* CONTRACT §10: a current that is not finite is no data (two finite samples
 * of 1.7e308 sum to inf); as the accumulator never gives one, kpi_evaluate
 * refuses one too. X(name, current) */
#define NONFINITE_ROWS(X)                                                                          \
    X(eval_inf_is_no_data, INFINITY)                                                               \
    X(eval_minus_inf_is_no_data, -INFINITY)                                                        \
    X(eval_nan_is_no_data, NAN)

static void run_nonfinite(double cur)
{
    struct catalog_kpi k = kpi_total(0, 1, S0, D0);
    struct kpi_eval e = eval_poison();
    kpi_evaluate(&k, WIB, S0 + 2000000, true, cur, &e);
    CHECK_STATUS(e.status, KPI_NO_DATA);
    CHECK(!e.has_current);
    CHECK(!e.has_progress);
    CHECK(!e.has_projected);
    CHECK(!e.has_eta);
}

#define NONFINITE_TEST(name, cur)                                                                  \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_nonfinite(cur);                                                                        \
    }

NONFINITE_ROWS(NONFINITE_TEST)

/* X(name, agg, value of each of two samples): sum and avg of two 1.7e308
 * overflow to inf, so no value; min, max and last stay finite. */
#define HUGE_ROWS(X)                                                                               \
    X(acc_huge_sum_is_null, KPI_SUM, false)                                                        \
    X(acc_huge_avg_is_null, KPI_AVG, false)                                                        \
    X(acc_huge_max_is_finite, KPI_MAX, true)                                                       \
    X(acc_huge_last_is_finite, KPI_LAST, true)                                                     \
    X(acc_huge_count_is_finite, KPI_COUNT, true)

static void run_huge(enum kpi_agg agg, bool want_value)
{
    static const int64_t t[] = {1000, 2000};
    static const double v[] = {1.7e308, 1.7e308};
    struct rollup_agg x = agg_of(t, v, 2);
    struct kpi_acc a;
    double out = -12345;
    kpi_acc_init(&a, agg);
    kpi_acc_add(&a, "van-01", &x);
    bool ok = kpi_acc_value(&a, &out);
    kpi_acc_free(&a);
    CHECK_INT(ok, want_value);
    if (ok)
        CHECK(isfinite(out));
}

#define HUGE_TEST(name, agg, want)                                                                 \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_huge(agg, want);                                                                       \
    }

HUGE_ROWS(HUGE_TEST)

/* Defaults: no start, no deadline, period month, WIB, T = 2026-02-15T00:00 WIB.
 *   S = 2026-02-01T00:00 WIB = DAY(20485) - WIB = 1769878800000
 *   D = 2026-03-01T00:00 WIB - 1 = DAY(20513) - WIB - 1 = 1772298000000 - 1
 *   D - S = 28 days - 1 ms = 2419199999;  T - S = 14 days = 1209600000
 *   f = 1209600000 / 2419199999 = 0.50000000020668 (just over a half)
 * B = 0, G = 100, current 50: progress 0.5; expected 100 f = 50.0000000207;
 * R = 0.5 / f = 0.99999999959 -> on_track; projected 50 / f = 99.99999996;
 * eta = S + 1209600000 / 0.5 = S + 2419200000 = D + 1. */
TEST(eval_default_start_deadline_month)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_MONTH;
    k.baseline = 0;
    k.target = 100;
    struct kpi_eval e = eval_poison();
    int64_t t = DAY(20499) - WIB;
    kpi_evaluate(&k, WIB, t, true, 50, &e);
    double f = 1209600000.0 / 2419199999.0;
    CHECK_INT(e.t, t);
    CHECK_INT(e.period_from, INT64_C(1769878800000));
    CHECK_INT(e.period_to, INT64_C(1772297999999));
    CHECK_INT(e.start, INT64_C(1769878800000));
    CHECK_INT(e.deadline, INT64_C(1772297999999));
    CHECK(e.has_progress);
    CHECK_DBL(e.progress, 0.5);
    CHECK_DBL(e.expected, 100 * f);
    CHECK(e.has_projected);
    CHECK_DBL(e.projected, 50 / f);
    CHECK(e.has_eta);
    CHECK_ETA(e, INT64_C(1772298000000));
    CHECK_STATUS(e.status, KPI_ON_TRACK);
}

/* At the first ms of the month with defaults, f = 0: not_started, expected B. */
TEST(eval_default_month_first_ms_not_started)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_MONTH;
    k.baseline = 10;
    k.target = 20;
    struct kpi_eval e = eval_poison();
    int64_t t = DAY(20485) - WIB;
    kpi_evaluate(&k, WIB, t, true, 12.5, &e);
    CHECK_INT(e.start, t);
    CHECK_INT(e.deadline, DAY(20513) - WIB - 1);
    CHECK_DBL(e.progress, 0.25);
    CHECK_DBL(e.expected, 10);
    CHECK(!e.has_projected);
    CHECK(e.has_eta);
    CHECK_ETA(e, t); /* S + 0 / 0.25 */
    CHECK_STATUS(e.status, KPI_NOT_STARTED);
}

/* Only the deadline defaults: period year in WIT, start 2026-07-01 WIT, T =
 * 2026-10-01T00:00 WIT.
 *   S = DAY(20635) - WIT;  D = 2027-01-01T00:00 WIT - 1 = DAY(20819) - WIT - 1
 *   T - S = 92 days = 7948800000;  D - S = 184 days - 1 ms = 15897599999
 *   f = 7948800000 / 15897599999 = 0.500000000031
 * B = 0, G = 8, current 2: progress 0.25, R = 0.49999999997 -> off_track;
 * expected 8 f; projected 2 / f; eta S + 92 days / 0.25 = S + 368 days. */
TEST(eval_default_deadline_only_year_wit)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_YEAR;
    k.baseline = 0;
    k.target = 8;
    k.has_start = true;
    k.start = DAY(20635) - WIT;
    struct kpi_eval e = eval_poison();
    int64_t t = DAY(20727) - WIT;
    kpi_evaluate(&k, WIT, t, true, 2, &e);
    double f = 7948800000.0 / 15897599999.0;
    CHECK_INT(e.period_from, DAY(20454) - WIT);
    CHECK_INT(e.period_to, DAY(20819) - WIT - 1);
    CHECK_INT(e.start, DAY(20635) - WIT);
    CHECK_INT(e.deadline, DAY(20819) - WIT - 1);
    CHECK_DBL(e.progress, 0.25);
    CHECK_DBL(e.expected, 8 * f);
    CHECK(e.has_projected);
    CHECK_DBL(e.projected, 2 / f);
    CHECK(e.has_eta);
    CHECK_ETA(e, DAY(20635) - WIT + DAY(368));
    CHECK_STATUS(e.status, KPI_OFF_TRACK);
}

/* Only the start defaults: period quarter in WITA, deadline 2026-05-15
 * (end of day), T = 2026-05-16T00:00 WITA = D + 1 -> missed.
 *   S = Q2 start = DAY(20544) - WITA
 *   2026-05-15 = 20544 + 30 + 14 = 20588; D = DAY(20589) - WITA - 1
 *   f = 1 (clamped); expected G. */
TEST(eval_default_start_only_quarter_wita)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_QUARTER;
    k.baseline = 0;
    k.target = 4;
    k.has_deadline = true;
    k.deadline = DAY(20589) - WITA - 1;
    struct kpi_eval e = eval_poison();
    int64_t t = DAY(20589) - WITA;
    kpi_evaluate(&k, WITA, t, true, 3, &e);
    CHECK_INT(e.period_from, DAY(20544) - WITA);
    CHECK_INT(e.period_to, DAY(20635) - WITA - 1);
    CHECK_INT(e.start, DAY(20544) - WITA);
    CHECK_INT(e.deadline, DAY(20589) - WITA - 1);
    CHECK_DBL(e.progress, 0.75);
    CHECK_DBL(e.expected, 4);
    CHECK(e.has_projected);
    CHECK_DBL(e.projected, 3);
    CHECK(e.has_eta); /* 0 < 0.75 < 1, even when late */
    CHECK_STATUS(e.status, KPI_MISSED);
}

/* A range without start/deadline: S and D are the range's ends.
 * 2026-01-01..2026-06-30 WIB; T = 2026-04-01T00:00 WIB.
 *   S = DAY(20454) - WIB, D = DAY(20635) - WIB - 1
 *   T - S = 90 days = 7776000000; D - S = 181 days - 1 ms = 15638399999
 * B = 0, G = 1, no data: no_data, expected = f. */
TEST(eval_default_range_no_data)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_RANGE;
    k.range_from = DAY(20454) - WIB;
    k.range_to = DAY(20635) - WIB - 1;
    k.baseline = 0;
    k.target = 1;
    struct kpi_eval e = eval_poison();
    kpi_evaluate(&k, WIB, DAY(20544) - WIB, false, 0, &e);
    CHECK_INT(e.period_from, DAY(20454) - WIB);
    CHECK_INT(e.period_to, DAY(20635) - WIB - 1);
    CHECK_INT(e.start, DAY(20454) - WIB);
    CHECK_INT(e.deadline, DAY(20635) - WIB - 1);
    CHECK(!e.has_current);
    CHECK(!e.has_progress);
    CHECK(!e.has_projected);
    CHECK(!e.has_eta);
    CHECK_DBL(e.expected, 7776000000.0 / 15638399999.0);
    CHECK_STATUS(e.status, KPI_NO_DATA);
}

/* Day period with defaults, T at the day's last ms: f = 1, not late. */
TEST(eval_default_day_last_ms_not_missed)
{
    struct catalog_kpi k = {0};
    k.period = PERIOD_DAY;
    k.baseline = 0;
    k.target = 2;
    struct kpi_eval e = eval_poison();
    int64_t t = DAY(20819) - WIB - 1;
    kpi_evaluate(&k, WIB, t, true, 1.5, &e);
    CHECK_INT(e.start, DAY(20818) - WIB);
    CHECK_INT(e.deadline, t);
    CHECK_DBL(e.progress, 0.75);
    CHECK_DBL(e.expected, 2);
    CHECK_DBL(e.projected, 1.5);
    CHECK_STATUS(e.status, KPI_AT_RISK); /* R = 0.75 */
}

/* ---- §5.3 programs --------------------------------------------------------- */

static struct kpi_eval ev(enum kpi_status s, bool has_progress, double progress)
{
    struct kpi_eval e = {0};
    e.status = s;
    e.has_progress = has_progress;
    e.has_current = has_progress;
    e.progress = progress;
    e.current = progress;
    return e;
}

TEST(program_no_kpis)
{
    struct kpi_summary s = {.has_progress = true, .progress = 7, .has_health = true};
    kpi_program_summary(NULL, 0, &s);
    CHECK(!s.has_progress);
    CHECK(!s.has_health);
}

/* Progress clamped to [0, 1], null as 0: (1 + 0 + 0.5 + 0 + 0.25) / 5 = 0.35
 * (the null one holds a stray 0.9 that must not count).
 * Health: worst of on_track, worsening, at_risk, no_data, achieved = worsening. */
TEST(program_mean_of_clamped)
{
    struct kpi_eval e[] = {ev(KPI_ACHIEVED, true, 1.5), ev(KPI_WORSENING, true, -0.5),
                           ev(KPI_AT_RISK, true, 0.5), ev(KPI_NO_DATA, false, 0.9),
                           ev(KPI_ON_TRACK, true, 0.25)};
    const struct kpi_eval *p[] = {&e[0], &e[1], &e[2], &e[3], &e[4]};
    struct kpi_summary s = {0};
    kpi_program_summary(p, 5, &s);
    CHECK(s.has_progress);
    CHECK_DBL(s.progress, 0.35);
    CHECK(s.has_health);
    CHECK_STATUS(s.health, KPI_WORSENING);
}

/* One KPI without data: progress 0 (not null), health no_data. */
TEST(program_one_kpi_no_data)
{
    struct kpi_eval e = ev(KPI_NO_DATA, false, 0.9);
    const struct kpi_eval *p[] = {&e};
    struct kpi_summary s = {0};
    kpi_program_summary(p, 1, &s);
    CHECK(s.has_progress);
    CHECK_DBL(s.progress, 0);
    CHECK(s.has_health);
    CHECK_STATUS(s.health, KPI_NO_DATA);
}

/* One KPI far ahead: progress clamped to 1, health achieved. */
TEST(program_one_kpi_achieved)
{
    struct kpi_eval e = ev(KPI_ACHIEVED, true, 3);
    const struct kpi_eval *p[] = {&e};
    struct kpi_summary s = {0};
    kpi_program_summary(p, 1, &s);
    CHECK_DBL(s.progress, 1);
    CHECK_STATUS(s.health, KPI_ACHIEVED);
}

/* X(name, a, b, worst): every adjacent pair of the order, both ways round.
 * Note no_data is worse than on_track. */
#define HEALTH_ROWS(X)                                                                             \
    X(health_missed_over_worsening, KPI_MISSED, KPI_WORSENING, KPI_MISSED)                         \
    X(health_worsening_over_off_track, KPI_WORSENING, KPI_OFF_TRACK, KPI_WORSENING)                \
    X(health_off_track_over_at_risk, KPI_OFF_TRACK, KPI_AT_RISK, KPI_OFF_TRACK)                    \
    X(health_at_risk_over_not_started, KPI_AT_RISK, KPI_NOT_STARTED, KPI_AT_RISK)                  \
    X(health_not_started_over_no_data, KPI_NOT_STARTED, KPI_NO_DATA, KPI_NOT_STARTED)              \
    X(health_no_data_over_on_track, KPI_NO_DATA, KPI_ON_TRACK, KPI_NO_DATA)                        \
    X(health_on_track_over_achieved, KPI_ON_TRACK, KPI_ACHIEVED, KPI_ON_TRACK)                     \
    X(health_missed_over_achieved, KPI_MISSED, KPI_ACHIEVED, KPI_MISSED)

static void run_health(enum kpi_status a, enum kpi_status b, enum kpi_status worst)
{
    struct kpi_eval ea = ev(a, true, 0.5), eb = ev(b, true, 0.5);
    const struct kpi_eval *ab[] = {&ea, &eb}, *ba[] = {&eb, &ea};
    struct kpi_summary s = {0};
    kpi_program_summary(ab, 2, &s);
    CHECK(s.has_health);
    CHECK_STATUS(s.health, worst);
    s = (struct kpi_summary){0};
    kpi_program_summary(ba, 2, &s);
    CHECK(s.has_health);
    CHECK_STATUS(s.health, worst);
}

#define HEALTH_TEST(name, a, b, worst)                                                             \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_health(a, b, worst);                                                                   \
    }

HEALTH_ROWS(HEALTH_TEST)

/* ---- §5.3 dimensions ------------------------------------------------------- */

/* Programs (dimension, status, summary progress):
 *   0 governance running  0.5
 *   1 governance planned  0.25
 *   2 governance done     null (a stray 0.9 in it must not count)
 *   3 economy    running  null (likewise)
 *   4 living     running  1
 *   5 living     done     0
 *   6 living     running  0
 * Masterplan: governance 8/10, society 2/5 given; branding not given but
 * holding stray numbers (99/99) that must be ignored.
 * Expected:
 *   governance  programs 10, running 8 (masterplan), catalogued 3,
 *               progress (0.5 + 0.25) / 2 = 0.375
 *   branding    0, 0, 0, null
 *   economy     1, 1, 1, null (its only program has no progress)
 *   living      3, 2, 3, (1 + 0 + 0) / 3 = 1/3
 *   society     5, 2, 0, null (masterplan, nothing catalogued)
 *   environment 0, 0, 0, null */
TEST(dimensions)
{
    struct catalog_program progs[7] = {0};
    const enum catalog_dimension dims[7] = {DIM_GOVERNANCE, DIM_GOVERNANCE, DIM_GOVERNANCE,
                                            DIM_ECONOMY,    DIM_LIVING,     DIM_LIVING,
                                            DIM_LIVING};
    const enum catalog_program_status st[7] = {PROGRAM_RUNNING, PROGRAM_PLANNED, PROGRAM_DONE,
                                               PROGRAM_RUNNING, PROGRAM_RUNNING, PROGRAM_DONE,
                                               PROGRAM_RUNNING};
    static char *ids[7] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6"};
    for (int i = 0; i < 7; i++) {
        progs[i].id = ids[i];
        progs[i].name = ids[i];
        progs[i].dimension = dims[i];
        progs[i].status = st[i];
    }
    struct catalog c = {0};
    c.tz_offset_ms = WIB;
    c.programs = progs;
    c.n_programs = 7;
    c.masterplan[DIM_GOVERNANCE] = (struct catalog_masterplan){true, 8, 10};
    c.masterplan[DIM_SOCIETY] = (struct catalog_masterplan){true, 2, 5};
    c.masterplan[DIM_BRANDING] = (struct catalog_masterplan){false, 99, 99};

    struct kpi_summary sums[7] = {
        {true, 0.5, true, KPI_AT_RISK},   {true, 0.25, true, KPI_OFF_TRACK},
        {false, 0.9, false, KPI_NO_DATA}, {false, 0.9, false, KPI_NO_DATA},
        {true, 1, true, KPI_ACHIEVED},    {true, 0, true, KPI_WORSENING},
        {true, 0, true, KPI_NO_DATA},
    };
    struct kpi_dimension out[DIM_COUNT];
    for (int d = 0; d < DIM_COUNT; d++)
        out[d] = (struct kpi_dimension){-1, -1, -1, true, -1};
    kpi_dimensions(&c, sums, out);

    const struct kpi_dimension want[DIM_COUNT] = {
        [DIM_GOVERNANCE] = {10, 8, 3, true, 0.375}, [DIM_BRANDING] = {0, 0, 0, false, 0},
        [DIM_ECONOMY] = {1, 1, 1, false, 0},        [DIM_LIVING] = {3, 2, 3, true, 1.0 / 3},
        [DIM_SOCIETY] = {5, 2, 0, false, 0},        [DIM_ENVIRONMENT] = {0, 0, 0, false, 0},
    };
    for (int d = 0; d < DIM_COUNT; d++) {
        const struct kpi_dimension *g = &out[d], *w = &want[d];
        if (g->programs != w->programs || g->running != w->running ||
            g->catalogued != w->catalogued || g->has_progress != w->has_progress ||
            (w->has_progress && fabs(g->progress - w->progress) > 1e-12))
            CHECK_FAIL_("dimension %d: %d/%d/%d progress %s%.17g, expected %d/%d/%d %s%.17g", d,
                        g->programs, g->running, g->catalogued, g->has_progress ? "" : "null ",
                        g->progress, w->programs, w->running, w->catalogued,
                        w->has_progress ? "" : "null ", w->progress);
    }
}

/* A masterplan count given as 0/0 is still given (not "fall back"). */
TEST(dimensions_masterplan_zero_given)
{
    struct catalog_program p = {0};
    p.id = p.name = "p0";
    p.dimension = DIM_ENVIRONMENT;
    p.status = PROGRAM_RUNNING;
    struct catalog c = {0};
    c.programs = &p;
    c.n_programs = 1;
    c.masterplan[DIM_ENVIRONMENT] = (struct catalog_masterplan){true, 0, 0};
    struct kpi_summary s = {true, 0.5, true, KPI_ON_TRACK};
    struct kpi_dimension out[DIM_COUNT];
    kpi_dimensions(&c, &s, out);
    CHECK_INT(out[DIM_ENVIRONMENT].programs, 0);
    CHECK_INT(out[DIM_ENVIRONMENT].running, 0);
    CHECK_INT(out[DIM_ENVIRONMENT].catalogued, 1);
    CHECK(out[DIM_ENVIRONMENT].has_progress);
    CHECK_DBL(out[DIM_ENVIRONMENT].progress, 0.5);
}

/* ---- names ----------------------------------------------------------------- */

TEST(status_names)
{
    CHECK_STR(kpi_status_name(KPI_MISSED), "missed");
    CHECK_STR(kpi_status_name(KPI_WORSENING), "worsening");
    CHECK_STR(kpi_status_name(KPI_OFF_TRACK), "off_track");
    CHECK_STR(kpi_status_name(KPI_AT_RISK), "at_risk");
    CHECK_STR(kpi_status_name(KPI_NOT_STARTED), "not_started");
    CHECK_STR(kpi_status_name(KPI_NO_DATA), "no_data");
    CHECK_STR(kpi_status_name(KPI_ON_TRACK), "on_track");
    CHECK_STR(kpi_status_name(KPI_ACHIEVED), "achieved");
}

TEST(agg_names)
{
    CHECK_STR(kpi_agg_name(KPI_SUM), "sum");
    CHECK_STR(kpi_agg_name(KPI_COUNT), "count");
    CHECK_STR(kpi_agg_name(KPI_AVG), "avg");
    CHECK_STR(kpi_agg_name(KPI_MIN), "min");
    CHECK_STR(kpi_agg_name(KPI_MAX), "max");
    CHECK_STR(kpi_agg_name(KPI_LAST), "last");
    CHECK_STR(kpi_agg_name(KPI_UNITS), "units");
    CHECK_STR(kpi_agg_name(KPI_DISTINCT), "distinct");
}

TEST(period_names)
{
    CHECK_STR(kpi_period_name(PERIOD_TOTAL), "total");
    CHECK_STR(kpi_period_name(PERIOD_DAY), "day");
    CHECK_STR(kpi_period_name(PERIOD_WEEK), "week");
    CHECK_STR(kpi_period_name(PERIOD_MONTH), "month");
    CHECK_STR(kpi_period_name(PERIOD_QUARTER), "quarter");
    CHECK_STR(kpi_period_name(PERIOD_YEAR), "year");
}

TEST_MAIN(CAL_ROWS(ROW_CASE) CASE(period_total_unbounded), CASE(period_range_as_stored),
          CASE(period_new_year_literals), ACC_ROWS(ROW_CASE) CASE(acc_no_series_is_null),
          CASE(acc_only_empty_series_is_null), CASE(acc_distinct), CASE(acc_units_keys_copied),
          CASE(acc_last_tie_later_call_wins), CASE(acc_negative_min_max_avg),
          EVAL_ROWS(ROW_CASE) NONFINITE_ROWS(ROW_CASE) HUGE_ROWS(ROW_CASE)
              CASE(eval_default_start_deadline_month),
          CASE(eval_default_month_first_ms_not_started), CASE(eval_default_deadline_only_year_wit),
          CASE(eval_default_start_only_quarter_wita), CASE(eval_default_range_no_data),
          CASE(eval_default_day_last_ms_not_missed), CASE(program_no_kpis),
          CASE(program_mean_of_clamped), CASE(program_one_kpi_no_data),
          CASE(program_one_kpi_achieved), HEALTH_ROWS(ROW_CASE) CASE(dimensions),
          CASE(dimensions_masterplan_zero_given), CASE(status_names), CASE(agg_names),
          CASE(period_names))
