/* test_util.c — the pure helpers of util.h: slugs (CONTRACT's
 * [a-z0-9][a-z0-9_-]{0,63}), strict number parsing, civil dates, clocks. */
#include "check.h"
#include "util.h"

#include <stdbool.h>
#include <time.h>

#define A10    "aaaaaaaaaa"
#define SLUG64 A10 A10 A10 A10 A10 A10 "aaaa"

/* X(name, string, expected) — util_is_slug over the whole string. */
#define SLUG_ROWS(X)                                                                               \
    X(slug_one_letter, "a", true)                                                                  \
    X(slug_one_digit, "0", true)                                                                   \
    X(slug_dash_underscore, "paduka-lamteng_2", true)                                              \
    X(slug_64, SLUG64, true)                                                                       \
    X(slug_65, SLUG64 "a", false)                                                                  \
    X(slug_empty, "", false)                                                                       \
    X(slug_leading_dash, "-a", false)                                                              \
    X(slug_leading_underscore, "_a", false)                                                        \
    X(slug_uppercase, "Pjs", false)                                                                \
    X(slug_space, "a b", false)                                                                    \
    X(slug_slash, "a/b", false)                                                                    \
    X(slug_dot, "a.b", false)                                                                      \
    X(slug_plus, "a+", false)                                                                      \
    X(slug_high_byte, "a\xc3\xbc", false)

#define SLUG_TEST(name, str, want)                                                                 \
    TEST(name)                                                                                     \
    {                                                                                              \
        CHECK_INT(util_is_slug(str, strlen(str)), want);                                           \
    }
#define ROW_CASE(name, ...) CASE(name),

SLUG_ROWS(SLUG_TEST)

TEST(slug_respects_len)
{
    CHECK(util_is_slug("abc/def", 3));
    CHECK(!util_is_slug("abc/def", 4));
    CHECK(!util_is_slug("abc", 0));
}

/* X(name, string, min, max, expected rc, expected value) */
#define INT_ROWS(X)                                                                                \
    X(int_plain, "42", 0, 100, 0, 42)                                                              \
    X(int_negative, "-7", -10, 10, 0, -7)                                                          \
    X(int_zero, "0", 0, 0, 0, 0)                                                                   \
    X(int_at_max, "100", 0, 100, 0, 100)                                                           \
    X(int_above_max, "101", 0, 100, -1, 0)                                                         \
    X(int_below_min, "-1", 0, 100, -1, 0)                                                          \
    X(int_int64_max, "9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX)                    \
    X(int_int64_min, "-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN)                   \
    X(int_overflow, "9223372036854775808", INT64_MIN, INT64_MAX, -1, 0)                            \
    X(int_empty, "", 0, 100, -1, 0)                                                                \
    X(int_plus, "+1", 0, 100, -1, 0)                                                               \
    X(int_leading_space, " 1", 0, 100, -1, 0)                                                      \
    X(int_trailing_space, "1 ", 0, 100, -1, 0)                                                     \
    X(int_trailing_garbage, "3x", 0, 100, -1, 0)                                                   \
    X(int_minus_only, "-", -10, 10, -1, 0)                                                         \
    X(int_double_minus, "--1", -10, 10, -1, 0)                                                     \
    X(int_real, "1.5", 0, 100, -1, 0)                                                              \
    X(int_hex, "0x10", 0, 100, -1, 0)

static void run_int(const char *s, int64_t min, int64_t max, int rc, int64_t want)
{
    int64_t out = 12345;
    int got = util_parse_int(s, min, max, &out);
    CHECK_INT(got, rc);
    CHECK_INT(out, rc == 0 ? want : 12345); /* left alone on failure */
}

#define INT_TEST(name, s, min, max, rc, want)                                                      \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_int(s, min, max, rc, want);                                                            \
    }

INT_ROWS(INT_TEST)

/* X(name, string, expected rc, expected value) */
#define DBL_ROWS(X)                                                                                \
    X(dbl_plain, "1.5", 0, 1.5)                                                                    \
    X(dbl_negative_exponent, "-2e3", 0, -2000)                                                     \
    X(dbl_integer, "7", 0, 7)                                                                      \
    X(dbl_empty, "", -1, 0)                                                                        \
    X(dbl_leading_space, " 1", -1, 0)                                                              \
    X(dbl_trailing_garbage, "1x", -1, 0)                                                           \
    X(dbl_trailing_space, "1 ", -1, 0)                                                             \
    X(dbl_inf, "inf", -1, 0)                                                                       \
    X(dbl_nan, "nan", -1, 0)                                                                       \
    X(dbl_overflow, "1e999", -1, 0)

static void run_dbl(const char *s, int rc, double want)
{
    double out = 0.125;
    int got = util_parse_double(s, &out);
    CHECK_INT(got, rc);
    CHECK_DBL(out, rc == 0 ? want : 0.125);
}

#define DBL_TEST(name, s, rc, want)                                                                \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_dbl(s, rc, want);                                                                      \
    }

DBL_ROWS(DBL_TEST)

TEST(days_from_civil)
{
    CHECK_INT(util_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(util_days_from_civil(1969, 12, 31), -1);
    CHECK_INT(util_days_from_civil(2000, 1, 1), 10957);
    CHECK_INT(util_days_from_civil(2000, 3, 1), 11017); /* 2000 is a leap year */
    CHECK_INT(util_days_from_civil(2024, 2, 29), 19782);
    CHECK_INT(util_days_from_civil(2100, 3, 1), 47541); /* 2100 is not */
    CHECK_INT(util_days_from_civil(0, 3, 1), -719468);
}

TEST(clocks)
{
    int64_t now = util_now_ms();
    int64_t sys = (int64_t)time(NULL) * 1000;
    CHECK(now > sys - 2000 && now < sys + 2000);
    uint64_t a = util_mono_ns(), b = util_mono_ns();
    CHECK(b >= a);
}

TEST_MAIN(SLUG_ROWS(ROW_CASE) CASE(slug_respects_len),
          INT_ROWS(ROW_CASE) DBL_ROWS(ROW_CASE) CASE(days_from_civil), CASE(clocks))
