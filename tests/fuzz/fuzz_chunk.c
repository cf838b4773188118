/* fuzz_chunk.c — libFuzzer target for the chunk codec (chunk.c). The first
 * byte picks what the rest is:
 *   even: a chunk, decoded into exactly as many points as its header says
 *         (a heap block, so a write past it shows under ASan): -1, or
 *         strictly increasing ts; with room for one point fewer, -1;
 *   odd:  points built from the bytes (cadences with jitter, on a grid or
 *         not, gaps up to int64's end, decimals at every e, raw bit
 *         patterns), encoded and decoded: every ts and every value's bits
 *         must come back, else abort.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

static uint64_t take(const uint8_t **p, const uint8_t *end, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && *p < end; i++)
        v = v << 8 | *(*p)++;
    return v;
}

static void decode(const uint8_t *data, size_t size)
{
    long n = chunk_count(data, size);
    if (n < 0) {
        if (chunk_decode(data, size, NULL, 0) != -1)
            __builtin_trap();
        return;
    }
    struct chunk_point *out = malloc((size_t)n * sizeof *out);
    if (!out)
        return;
    long got = chunk_decode(data, size, out, (size_t)n);
    if (got != -1 && got != n)
        __builtin_trap();
    for (long k = 1; k < got; k++)
        if (out[k].ts <= out[k - 1].ts)
            __builtin_trap();
    if (chunk_decode(data, size, out, (size_t)n - 1) != -1)
        __builtin_trap();
    free(out);
}

/* The next point's ts step and value from the bytes; 0 when the bytes or
 * int64 run out. */
static int next_point(const uint8_t **p, const uint8_t *end, struct chunk_point *pt, int first,
                      int64_t *m, unsigned e, int64_t *slot)
{
    if (*p >= end)
        return 0;
    unsigned ctl = *(*p)++;
    uint64_t step, jitter = 0;
    switch (ctl & 3) {
    case 0:
        step = 60000 + take(p, end, 2) % 1000;
        break;
    case 1: /* the next 60 s slot after *slot (the last point's) plus 0..999 ms */
        jitter = take(p, end, 2) % 1000;
        step = (uint64_t)*slot + 60000 + jitter - (uint64_t)pt->ts;
        break;
    case 2:
        step = 1 + take(p, end, 2);
        break;
    default: /* any gap, up to past int64's end */
        step = take(p, end, 8) >> ((ctl >> 2) & 63);
        step += step < UINT64_MAX;
        break;
    }
    if (first)
        pt->ts = (int64_t)(take(p, end, 8) >> 1) - (int64_t)(take(p, end, 1) << 55);
    else if (step > (uint64_t)INT64_MAX - (uint64_t)pt->ts)
        return 0;
    else
        pt->ts = (int64_t)((uint64_t)pt->ts + step);
    *slot = (int64_t)((uint64_t)pt->ts - jitter);
    switch ((ctl >> 4) & 3) {
    case 0: /* the same value again */
        break;
    case 1: /* a decimal moving a little */
        *m += (int64_t)take(p, end, 1) - 128;
        pt->value = (double)*m / pow(10, e);
        break;
    case 2: /* any bits */
    {
        uint64_t bits = take(p, end, 8);
        memcpy(&pt->value, &bits, sizeof bits);
        break;
    }
    default: /* a decimal anywhere within +-2^53 */
        *m = (int64_t)(take(p, end, 7) & ((UINT64_C(1) << 53) - 1)) - (INT64_C(1) << 52);
        pt->value = (double)*m / pow(10, e);
        break;
    }
    return 1;
}

static void round_trip(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    unsigned e = (unsigned)take(&p, end, 1) % 18;
    size_t most = size < CHUNK_MAX_POINTS ? size : CHUNK_MAX_POINTS;
    struct chunk_point *pts = malloc((most + 1) * sizeof *pts), *back;
    if (!pts)
        return;
    size_t n = 0;
    int64_t m = 0, slot = 0;
    struct chunk_point pt = {0, 0};
    while (n < most && next_point(&p, end, &pt, n == 0, &m, e, &slot))
        pts[n++] = pt;
    uint8_t *buf = n ? malloc(chunk_bound(n)) : NULL;
    back = n ? malloc(n * sizeof *back) : NULL;
    if (buf && back) {
        size_t len = chunk_encode(pts, n, buf);
        if (len > chunk_bound(n) || chunk_count(buf, len) != (long)n ||
            chunk_decode(buf, len, back, n) != (long)n)
            __builtin_trap();
        for (size_t k = 0; k < n; k++)
            if (back[k].ts != pts[k].ts || memcmp(&back[k].value, &pts[k].value, 8) != 0)
                __builtin_trap();
    }
    free(pts);
    free(buf);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        round_trip(data + 1, size - 1);
    else
        decode(data + 1, size - 1);
    return 0;
}
