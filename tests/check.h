/* check.h — a tiny table-driven test framework for pantau's C tests.
 *
 * Each test file defines its cases with TEST(name) { ... } and lists them in
 * one TEST_MAIN(...) at the bottom. A failed CHECK prints file:line and what
 * was expected, marks the case failed and returns from it. Output is TAP-like:
 *   ok 3 - parse_bare_number
 *   not ok 4 - parse_rejects_nan
 *   # test_parse: 51 passed, 1 failed
 * scripts/run-tests sums the last lines of every binary. */
#ifndef PANTAU_CHECK_H
#define PANTAU_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_case {
    const char *name;
    void (*fn)(void);
};

extern int check_failed_; /* set by CHECK in the running case */

#define TEST(name) static void name(void)

#define CHECK_FAIL_(...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        check_failed_ = 1;                                                                         \
        return;                                                                                    \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            CHECK_FAIL_("CHECK(%s) failed", #cond);                                                \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            CHECK_FAIL_("%s == %lld, expected %s == %lld", #a, a_, #b, b_);                        \
    } while (0)

#define CHECK_DBL(a, b)                                                                            \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= 1e-9 * (fabs(b_) + 1)))                                             \
            CHECK_FAIL_("%s == %.17g, expected %.17g", #a, a_, b_);                                \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            CHECK_FAIL_("%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)",                   \
                        b_ ? b_ : "(null)");                                                       \
    } while (0)

/* Runs every case; exit status 1 if any failed. */
int check_run(const char *suite, const struct check_case *cases, size_t n);

#define TEST_MAIN(...)                                                                             \
    int check_failed_;                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct check_case cases_[] = {__VA_ARGS__};                                   \
        const char *suite_ = strrchr(argv[0], '/');                                                \
        (void)argc;                                                                                \
        return check_run(suite_ ? suite_ + 1 : argv[0], cases_, sizeof cases_ / sizeof cases_[0]); \
    }

#define CASE(fn)                                                                                   \
    {                                                                                              \
#fn, fn                                                                                    \
    }

#endif
