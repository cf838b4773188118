/* chunk_shapes.h — the series shapes test_chunk.c and bench_chunk.c encode:
 * what field units send (a counter, a price in steps, a one-decimal reading,
 * a constant) and the fallback (random float64), on a 60 s cadence with
 * 0..999 ms of jitter or an exact 10 s one. A fixed-seed PRNG, so every run
 * builds the same chunks. */
#ifndef PANTAU_CHUNK_SHAPES_H
#define PANTAU_CHUNK_SHAPES_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"

enum shape { SHAPE_COUNTER, SHAPE_PRICE, SHAPE_READING, SHAPE_RANDOM, SHAPE_CONSTANT, SHAPES };

static const char *const shape_names[SHAPES] = {"counter", "price", "reading", "random",
                                                "constant"};

/* splitmix64 */
static inline uint64_t shape_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t shape_below(uint64_t *s, uint64_t n)
{
    return shape_rand(s) % n;
}

/* n points of shape from ts0: jitter != 0 is the 60 s cadence plus
 * 0..999 ms, else an exact 10 s. */
static inline void shape_fill(struct chunk_point *p, size_t n, enum shape shape, int jitter,
                              int64_t ts0, uint64_t *seed)
{
    int64_t counter = 1000 + (int64_t)shape_below(seed, 100000), price = 14500;
    int64_t tenths = 253; /* 25.3 */
    for (size_t k = 0; k < n; k++) {
        p[k].ts = jitter ? ts0 + (int64_t)k * 60000 + (int64_t)shape_below(seed, 1000)
                         : ts0 + (int64_t)k * 10000;
        switch (shape) {
        case SHAPE_COUNTER:
            counter += (int64_t)shape_below(seed, 6);
            p[k].value = (double)counter;
            break;
        case SHAPE_PRICE:
            if (shape_below(seed, 50) == 0) /* 2% of samples move a step */
                price += shape_below(seed, 2) ? 250 : -250;
            p[k].value = (double)price;
            break;
        case SHAPE_READING: /* drifts by -0.2..+0.2, as a parsed "25.3" is */
            tenths += (int64_t)shape_below(seed, 5) - 2;
            p[k].value = (double)tenths / 10;
            break;
        case SHAPE_RANDOM:
            p[k].value = (double)(shape_rand(seed) >> 11) / 9007199254740992.0 * 100;
            break;
        default:
            p[k].value = 42;
            break;
        }
    }
}

#endif
