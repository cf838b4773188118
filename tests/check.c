/* check.c — runner for the cases declared with check.h. */
#include "check.h"

int check_run(const char *suite, const struct check_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    /* Optional filter: CHECK_ONLY=name runs one case. */
    const char *only = getenv("CHECK_ONLY");

    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        check_failed_ = 0;
        cases[i].fn();
        if (check_failed_) {
            failed++;
            printf("not ok %zu - %s\n", i + 1, cases[i].name);
        } else {
            passed++;
            printf("ok %zu - %s\n", i + 1, cases[i].name);
        }
        fflush(stdout);
    }
    printf("# %s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}
