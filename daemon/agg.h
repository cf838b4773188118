/* agg.h — an aggregate of samples (min, max, sum, count, last) and the
 * bucket arithmetic every time range in pantau uses. Pure: no I/O, no
 * SQLite, no state; any thread. The rollup tables (rollup.h), query buckets
 * (query.h) and KPI values (kpi.h) are all made of it. */
#ifndef PANTAU_AGG_H
#define PANTAU_AGG_H

#include <stdbool.h>
#include <stdint.h>

#define ROLLUP_MINUTE_MS INT64_C(60000)
#define ROLLUP_HOUR_MS   INT64_C(3600000)
#define ROLLUP_DAY_MS    INT64_C(86400000)

/* An aggregate of samples: the contents of one rollup row, a query bucket,
 * or a delta. Empty when last_ts == INT64_MIN. A delta from a replacement
 * below RF has count 0 but a value (its min/max/last are the new value). */
struct rollup_agg {
    double min, max, sum, last;
    int64_t count, last_ts;
};

void rollup_agg_init(struct rollup_agg *a);
bool rollup_agg_empty(const struct rollup_agg *a);
/* Adds one sample. Equal ts: the later call wins "last" (a replacement). */
void rollup_agg_add(struct rollup_agg *a, int64_t ts, double value);
/* Merges `from` into `into`; on equal last_ts, `from` wins. */
void rollup_agg_merge(struct rollup_agg *into, const struct rollup_agg *from);

/* floor(x / m) * m for any sign of x (m > 0). */
int64_t rollup_floor(int64_t x, int64_t m);
/* The smallest multiple of m that is >= x. */
int64_t rollup_ceil(int64_t x, int64_t m);

#endif
