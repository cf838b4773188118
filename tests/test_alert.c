/* test_alert.c — the rule semantics of CONTRACT §6 (alert.h), table-driven:
 * every condition at its exact bounds, hysteresis, `for` in sample time
 * just under and at the duration, silence with an explicit clock, and the
 * Indonesian wording of messages. Expected values are worked out by hand
 * from the contract's sentences, quoted where they decide a row. */
#include "alert.h"
#include "check.h"

#define MIN INT64_C(60000)

static struct catalog_rule rule(enum rule_condition c, double threshold, double clear,
                                int64_t for_ms)
{
    return (struct catalog_rule){
        .id = "r", .condition = c, .threshold = threshold, .clear = clear, .for_ms = for_ms};
}

/* "above = X holds for a sample with value > X; below = X for value < X.
 * clear = Y ends a firing alert when a sample has value <= Y (above) or
 * >= Y (below)." The reference forms compare against R · (1 ± P/100). */
TEST(holds_and_clears_at_the_exact_bounds)
{
    static const struct {
        enum rule_condition cond;
        double threshold, clear, value, ref;
        bool holds, clears;
    } rows[] = {
        {RULE_ABOVE, 100, 90, 100.0001, 0, true, false},
        {RULE_ABOVE, 100, 90, 100, 0, false, false}, /* on X: does not hold */
        {RULE_ABOVE, 100, 90, 95, 0, false, false},  /* between: neither */
        {RULE_ABOVE, 100, 90, 90, 0, false, true},   /* on Y: clears */
        {RULE_ABOVE, 100, 100, 100, 0, false, true}, /* clear defaults to X */
        {RULE_BELOW, 10, 12, 9.99, 0, true, false},
        {RULE_BELOW, 10, 12, 10, 0, false, false},
        {RULE_BELOW, 10, 12, 11, 0, false, false},
        {RULE_BELOW, 10, 12, 12, 0, false, true},
        /* R = 1000, P = 10 %: bound 1100; C = 5 %: 1050 */
        {RULE_ABOVE_REFERENCE, 10, 5, 1100.5, 1000, true, false},
        {RULE_ABOVE_REFERENCE, 10, 5, 1100, 1000, false, false},
        {RULE_ABOVE_REFERENCE, 10, 5, 1050, 1000, false, true},
        {RULE_ABOVE_REFERENCE, 10, 5, 1050.5, 1000, false, false},
        /* below 20 %: 800; clear 10 %: 900 */
        {RULE_BELOW_REFERENCE, 20, 10, 799, 1000, true, false},
        {RULE_BELOW_REFERENCE, 20, 10, 800, 1000, false, false},
        {RULE_BELOW_REFERENCE, 20, 10, 899, 1000, false, false},
        {RULE_BELOW_REFERENCE, 20, 10, 900, 1000, false, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct catalog_rule r = rule(rows[i].cond, rows[i].threshold, rows[i].clear, 0);
        if (alert_holds(&r, rows[i].value, rows[i].ref) != rows[i].holds)
            CHECK_FAIL_("row %zu: holds should be %d", i, rows[i].holds);
        if (alert_clears(&r, rows[i].value, rows[i].ref) != rows[i].clears)
            CHECK_FAIL_("row %zu: clears should be %d", i, rows[i].clears);
    }
}

struct step_row {
    int64_t ts;
    double value;
    enum alert_step want;
    int64_t at; /* fired_at / resolved_at when want is FIRE / RESOLVE */
};

static void run_steps(const struct catalog_rule *r, const struct step_row *rows, size_t n,
                      double ref, const char *what)
{
    struct alert_run run = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t at = -1;
        enum alert_step got = alert_step_value(r, &run, rows[i].ts, rows[i].value, ref, &at);
        if (got != rows[i].want)
            CHECK_FAIL_("%s, step %zu (ts %lld value %g): step %d, expected %d", what, i,
                        (long long)rows[i].ts, rows[i].value, got, rows[i].want);
        if ((got == ALERT_FIRE || got == ALERT_RESOLVE) && at != rows[i].at)
            CHECK_FAIL_("%s, step %zu: at %lld, expected %lld", what, i, (long long)at,
                        (long long)rows[i].at);
    }
}

/* "at once when for is 0; fired_at = that ts"; "a firing alert resolves at
 * the first latest sample that meets the clear bound". */
TEST(for_zero_fires_at_once_and_resolves_at_the_clear_bound)
{
    struct catalog_rule r = rule(RULE_ABOVE, 100, 90, 0);
    static const struct step_row rows[] = {
        {1000, 50, ALERT_NONE, 0},       {2000, 101, ALERT_FIRE, 2000},
        {3000, 150, ALERT_UPDATE, 0},    {4000, 95, ALERT_UPDATE, 0}, /* hysteresis band */
        {5000, 90, ALERT_RESOLVE, 5000}, {6000, 95, ALERT_NONE, 0},
        {7000, 101, ALERT_FIRE, 7000}, /* a new alert */
    };
    run_steps(&r, rows, sizeof rows / sizeof rows[0], 0, "for 0");
}

/* "the alert fires when a later latest sample still holds and its ts -
 * since >= for": 15 min, just under and exactly at. */
TEST(for_counts_sample_time_just_under_and_at_the_duration)
{
    struct catalog_rule r = rule(RULE_ABOVE, 100, 100, 15 * MIN);
    static const struct step_row under[] = {
        {0, 120, ALERT_NONE, 0},            /* run starts: since 0 */
        {15 * MIN - 1, 130, ALERT_NONE, 0}, /* 1 ms short */
        {15 * MIN, 125, ALERT_FIRE, 15 * MIN},
    };
    run_steps(&r, under, 3, 0, "for 15m");
    /* "a sample that does not hold ends a run that has not fired" */
    static const struct step_row broken[] = {
        {0, 120, ALERT_NONE, 0},
        {10 * MIN, 99, ALERT_NONE, 0},  /* run ends */
        {16 * MIN, 120, ALERT_NONE, 0}, /* new run since 16 min */
        {30 * MIN, 120, ALERT_NONE, 0}, /* 14 min */
        {31 * MIN, 120, ALERT_FIRE, 31 * MIN},
    };
    run_steps(&r, broken, 5, 0, "for 15m, broken run");
    /* the same latest again (a replacement that holds) keeps the run */
    static const struct step_row replaced[] = {
        {0, 120, ALERT_NONE, 0},
        {0, 130, ALERT_NONE, 0},
        {15 * MIN, 101, ALERT_FIRE, 15 * MIN},
    };
    run_steps(&r, replaced, 3, 0, "for 15m, replaced");
}

TEST(below_and_reference_rules_step_the_same_way)
{
    struct catalog_rule below = rule(RULE_BELOW, 10, 12, 0);
    static const struct step_row b[] = {
        {1, 9, ALERT_FIRE, 1}, {2, 11, ALERT_UPDATE, 0}, {3, 12, ALERT_RESOLVE, 3}};
    run_steps(&below, b, 3, 0, "below");
    struct catalog_rule above_ref = rule(RULE_ABOVE_REFERENCE, 10, 5, 0);
    static const struct step_row a[] = {{1, 1100, ALERT_NONE, 0},
                                        {2, 1101, ALERT_FIRE, 2},
                                        {3, 1060, ALERT_UPDATE, 0},
                                        {4, 1050, ALERT_RESOLVE, 4}};
    run_steps(&above_ref, a, 4, 1000, "above_reference");
}

/* "checked at least every 10 s by arrival time (since = its last message's
 * arrival, fired_at = since + DURATION), and resolves as soon as it
 * publishes again (resolved_at = that arrival)". */
TEST(silence_fires_at_since_plus_duration_and_resolves_on_the_next_message)
{
    struct catalog_rule r = {.id = "sepi", .condition = RULE_SILENT, .silent_ms = 60 * MIN};
    struct alert_run run = {0};
    int64_t at = 0, heard = 1000;
    CHECK_INT(alert_step_silent(&r, &run, heard, heard + 60 * MIN - 1, &at), ALERT_NONE);
    CHECK_INT(alert_step_silent(&r, &run, heard, heard + 60 * MIN + 7000, &at), ALERT_FIRE);
    CHECK_INT(at, heard + 60 * MIN);
    CHECK_INT(run.since, heard);
    /* checked again: still silent, nothing new */
    CHECK_INT(alert_step_silent(&r, &run, heard, heard + 70 * MIN, &at), ALERT_NONE);
    CHECK_INT(alert_step_silent(&r, &run, heard + 75 * MIN, heard + 75 * MIN, &at), ALERT_RESOLVE);
    CHECK_INT(at, heard + 75 * MIN);
    CHECK(!run.firing);
}

TEST(deviation_needs_a_reference_other_than_zero)
{
    double d = 0;
    CHECK(alert_deviation(1150, 1000, &d));
    CHECK_DBL(d, 0.15);
    CHECK(!alert_deviation(5, 0, &d));
}

TEST(numbers_read_as_indonesians_write_them)
{
    static const struct {
        double v;
        const char *want;
    } rows[] = {
        {15250, "15.250"},     {13300, "13.300"}, {12.5, "12,5"},  {0, "0"},
        {-0.001, "0"},         {999, "999"},      {1000, "1.000"}, {1234567.891, "1.234.567,89"},
        {-1234.5, "-1.234,5"}, {0.126, "0,13"},   {3.10, "3,1"},   {100000000, "100.000.000"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        alert_format_number(rows[i].v, out, sizeof out);
        CHECK_STR(out, rows[i].want);
    }
    alert_format_percent(0.108, out, sizeof out);
    CHECK_STR(out, "10,8 %");
    alert_format_percent(0.15, out, sizeof out);
    CHECK_STR(out, "15,0 %");
    alert_format_percent(-0.0526, out, sizeof out);
    CHECK_STR(out, "-5,3 %");
}

/* 2026-12-02T06:05:00Z = day 20789 (2026-12-01 is 20788) + 6 h 5 min. */
TEST(times_read_in_the_regency_zone)
{
    int64_t t = INT64_C(20789) * 86400000 + 6 * 3600000 + 5 * MIN;
    char out[64];
    alert_format_time(t, 7 * 3600000LL, out, sizeof out);
    CHECK_STR(out, "2 Des 2026 13.05 WIB");
    alert_format_time(t, 8 * 3600000LL, out, sizeof out);
    CHECK_STR(out, "2 Des 2026 14.05 WITA");
    alert_format_time(t, 9 * 3600000LL, out, sizeof out);
    CHECK_STR(out, "2 Des 2026 15.05 WIT");
    alert_format_time(t + 18 * 3600000LL, 7 * 3600000LL, out, sizeof out);
    CHECK_STR(out, "3 Des 2026 07.05 WIB");
    alert_format_time(t, 5 * 3600000LL + 30 * MIN, out, sizeof out);
    CHECK_STR(out, "2 Des 2026 11.35 UTC+05.30");
}

TEST(messages_fill_the_template)
{
    const char *keys[] = {"commodity"}, *values[] = {"cabai-merah"};
    struct alert_fields f = {.rule = "harga-melonjak",
                             .program = "simas-bapokting",
                             .unit = "pasar-gunung-sugih",
                             .metric = "price",
                             .label_keys = keys,
                             .label_values = values,
                             .n_labels = 1,
                             .has_value = true,
                             .value = 55250,
                             .has_reference = true,
                             .reference = 45000,
                             .has_deviation = true,
                             .deviation = 55250.0 / 45000 - 1,
                             .since = INT64_C(20789) * 86400000 + 6 * 3600000 + 5 * MIN,
                             .tz_offset_ms = 7 * 3600000LL};
    char out[256];
    alert_format_message("Harga {commodity} di {unit} {value} ({deviation} di atas acuan "
                         "{reference}) sejak {since}",
                         &f, false, out, sizeof out);
    CHECK_STR(out, "Harga cabai-merah di pasar-gunung-sugih 55.250 (22,8 % di atas acuan 45.000) "
                   "sejak 2 Des 2026 13.05 WIB");
    /* a placeholder naming nothing stays; an unclosed brace is text */
    alert_format_message("{nope} {metric} {", &f, false, out, sizeof out);
    CHECK_STR(out, "{nope} price {");
    /* the default names the rule, the unit and the value */
    alert_format_message(NULL, &f, false, out, sizeof out);
    CHECK_STR(out, "harga-melonjak: pasar-gunung-sugih price 55.250 (acuan 45.000, 22,8 %)");
    f.has_reference = f.has_deviation = false;
    alert_format_message(NULL, &f, false, out, sizeof out);
    CHECK_STR(out, "harga-melonjak: pasar-gunung-sugih price 55.250");
    struct alert_fields s = {.rule = "van-senyap",
                             .program = "paduka-lamteng",
                             .unit = "van-02",
                             .since = f.since,
                             .tz_offset_ms = 7 * 3600000LL};
    alert_format_message(NULL, &s, true, out, sizeof out);
    CHECK_STR(out, "van-senyap: van-02 tidak mengirim data sejak 2 Des 2026 13.05 WIB");
    alert_format_message("{value} {metric}", &s, true, out, sizeof out);
    CHECK_STR(out, "- -");
}

TEST(a_long_message_is_cut_on_a_character_boundary)
{
    struct alert_fields f = {.rule = "r"};
    char out[8];
    alert_format_message("ab\xc3\xa9\xc3\xa9\xc3\xa9", &f, false, out, sizeof out); /* abééé */
    CHECK_STR(out, "ab\xc3\xa9\xc3\xa9");                                           /* 6 bytes */
    char tiny[2];
    alert_format_message("{rule}{rule}", &f, false, tiny, sizeof tiny);
    CHECK_STR(tiny, "r");
}

TEST_MAIN(CASE(holds_and_clears_at_the_exact_bounds),
          CASE(for_zero_fires_at_once_and_resolves_at_the_clear_bound),
          CASE(for_counts_sample_time_just_under_and_at_the_duration),
          CASE(below_and_reference_rules_step_the_same_way),
          CASE(silence_fires_at_since_plus_duration_and_resolves_on_the_next_message),
          CASE(deviation_needs_a_reference_other_than_zero),
          CASE(numbers_read_as_indonesians_write_them), CASE(times_read_in_the_regency_zone),
          CASE(messages_fill_the_template), CASE(a_long_message_is_cut_on_a_character_boundary))
