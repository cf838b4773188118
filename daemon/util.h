/* util.h — small pure helpers shared by the daemon, the simulator and tests:
 * clocks, slugs, strict number parsing. No state, no allocation. */
#ifndef PANTAU_UTIL_H
#define PANTAU_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLUG_MAX 64

/* Wall-clock time as Unix epoch milliseconds (what goes on the wire). */
int64_t util_now_ms(void);
/* The wall clock in µs (the live delay's precision). */
int64_t util_now_us(void);
/* Monotonic time in nanoseconds, for intervals and benchmarks. */
uint64_t util_mono_ns(void);

/* True if s[0..len) is a slug: [a-z0-9][a-z0-9_-]{0,63}. */
bool util_is_slug(const char *s, size_t len);

/* True if s is a label key (CONTRACT §1): [a-z0-9_]{1,32}. NULL is false. */
bool util_is_label_key(const char *s);

/* Strict decimal integer: optional '-', digits only, the whole string, no
 * overflow, within [min, max]. Returns 0 or -1 (and leaves *out alone). */
int util_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Strict finite double: the whole string must be consumed by strtod. */
int util_parse_double(const char *s, double *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
int64_t util_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse: the date of a day counted from 1970-01-01. */
void util_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
