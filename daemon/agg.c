/* agg.c — see agg.h. */
#include "agg.h"

void rollup_agg_init(struct rollup_agg *a)
{
    *a = (struct rollup_agg){.last_ts = INT64_MIN};
}

bool rollup_agg_empty(const struct rollup_agg *a)
{
    return a->last_ts == INT64_MIN;
}

void rollup_agg_add(struct rollup_agg *a, int64_t ts, double value)
{
    if (rollup_agg_empty(a)) {
        *a = (struct rollup_agg){value, value, value, value, 1, ts};
        return;
    }
    if (value < a->min)
        a->min = value;
    if (value > a->max)
        a->max = value;
    a->sum += value;
    a->count++;
    if (ts >= a->last_ts) {
        a->last_ts = ts;
        a->last = value;
    }
}

void rollup_agg_merge(struct rollup_agg *into, const struct rollup_agg *from)
{
    if (rollup_agg_empty(from))
        return;
    if (rollup_agg_empty(into)) {
        *into = *from;
        return;
    }
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
    into->sum += from->sum;
    into->count += from->count;
    if (from->last_ts >= into->last_ts) {
        into->last_ts = from->last_ts;
        into->last = from->last;
    }
}

int64_t rollup_floor(int64_t x, int64_t m)
{
    int64_t q = x / m;
    if (x % m != 0 && x < 0)
        q--;
    return q * m;
}

int64_t rollup_ceil(int64_t x, int64_t m)
{
    int64_t f = rollup_floor(x, m);
    return f == x ? x : f + m;
}
