/* test_chunk.c — the chunk codec (chunk.c): every point back bit for bit
 * (edge timestamps, every special double, decimals that are not), the
 * shapes of chunk_shapes.h within generous size bounds, and damaged input
 * (every truncation, trailing bytes, bit flips, random bytes) refused or
 * read as strictly increasing points without a read outside the chunk (run
 * it under make SANITIZE=1: each chunk is decoded from a heap copy of
 * exactly its length). */
#include "check.h"
#include "chunk.h"
#include "chunk_shapes.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Decodes a heap copy of exactly len bytes (ASan sees a read past it). */
static long decode_copy(const uint8_t *data, size_t len, struct chunk_point *out, size_t max)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -2;
    memcpy(copy, data, len);
    long n = chunk_decode(copy, len, out, max);
    free(copy);
    return n;
}

/* Encodes pts, checks the bound, the count and that decoding gives every
 * point back bit for bit; returns the length, or 0 after a failed check
 * (printed). */
static size_t round_trip(const struct chunk_point *pts, size_t n)
{
    size_t bound = chunk_bound(n);
    uint8_t *buf = malloc(bound);
    struct chunk_point *back = malloc(n * sizeof *back);
    size_t len = 0;
    if (buf && back) {
        len = chunk_encode(pts, n, buf);
        long got = len <= bound ? decode_copy(buf, len, back, n) : -3;
        if (got != (long)n || chunk_count(buf, len) != (long)n) {
            fprintf(stderr, "  n %zu: length %zu of %zu, decoded %ld\n", n, len, bound, got);
            len = 0;
        }
        for (size_t k = 0; len && k < n; k++)
            if (back[k].ts != pts[k].ts || bits_of(back[k].value) != bits_of(pts[k].value)) {
                fprintf(stderr,
                        "  n %zu: point %zu is %" PRId64 " %a (%016" PRIx64 "), "
                        "was %" PRId64 " %a (%016" PRIx64 ")\n",
                        n, k, back[k].ts, back[k].value, bits_of(back[k].value), pts[k].ts,
                        pts[k].value, bits_of(pts[k].value));
                len = 0;
            }
    }
    free(buf);
    free(back);
    return len;
}

static void fill_ts(struct chunk_point *p, size_t n, int64_t t0, int64_t step)
{
    for (size_t k = 0; k < n; k++)
        p[k].ts = t0 + (int64_t)k * step;
}

TEST(chunk_one_and_two_points)
{
    static const int64_t ts[] = {0, 1, -1, INT64_MIN, INT64_MAX, 1780000000000};
    static const double vs[] = {0, 25.3, -0.0, 1.7e308, 14500, 0.30000000000000004};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        struct chunk_point one = {ts[i], vs[i]};
        size_t len = round_trip(&one, 1);
        CHECK(len > 0 && len <= 26); /* header, ts as a varint, a value */
        if (ts[i] == INT64_MAX)
            continue;
        struct chunk_point two[2] = {{ts[i], vs[i]}, {ts[i] + 1, vs[(i + 1) % 6]}};
        CHECK(round_trip(two, 2) > 0);
    }
}

/* Gaps of any size, up to INT64_MIN to INT64_MAX: the differences wrap in
 * 64 bits and still decode to the same ts. */
TEST(chunk_timestamps_at_the_limits)
{
    static const int64_t cases[][5] = {
        {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX},
        {INT64_MIN, 0, INT64_MAX - 2, INT64_MAX - 1, INT64_MAX},
        {-5000000000000, -4999999999999, -3, 7, 1780000000000},
        {1, 2, 3, 1000000000000000000, 1000000000000000001},
        {INT64_MIN, INT64_MIN + 60000, INT64_MIN + 120001, INT64_MAX - 60000, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct chunk_point p[5];
        for (int k = 0; k < 5; k++)
            p[k] = (struct chunk_point){cases[i][k], (double)k};
        CHECK(round_trip(p, 5) > 0);
    }
    /* A regular cadence with one gap of a year in it. */
    struct chunk_point p[300];
    uint64_t seed = 7;
    shape_fill(p, 300, SHAPE_COUNTER, 1, 1780000000000, &seed);
    for (int k = 150; k < 300; k++)
        p[k].ts += INT64_C(365) * 86400000;
    size_t len = round_trip(p, 300);
    CHECK(len > 0 && len < 300 * 3);
}

/* A 60 s cadence with 0..999 ms of jitter is coded on its grid: 10 bits a
 * ts (11 as steps); with a gap, a clock step or near int64's ends it still
 * reads back (as steps where the grid would cost more). */
TEST(chunk_grid_timestamps)
{
    enum { N = 1024 };
    static struct chunk_point p[N];
    uint64_t seed = 11;
    shape_fill(p, N, SHAPE_CONSTANT, 1, 1780000000000, &seed);
    size_t len = round_trip(p, N);
    CHECK(len > 0);
    if ((double)len * 8 / N > 10.2)
        CHECK_FAIL_("%.2f bits a ts on a grid with jitter", (double)len * 8 / N);
    static const int64_t starts[] = {INT64_MAX - (int64_t)N * 60000 - 1000, INT64_MIN, -30000, 0};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        shape_fill(p, N, SHAPE_READING, 1, starts[i], &seed);
        CHECK(round_trip(p, N) > 0);
        p[N / 2].ts += 50000; /* a late one, still before the next */
        CHECK(round_trip(p, N) > 0);
        for (int k = N / 3; k < N && starts[i] != starts[0]; k++)
            p[k].ts += 3600000 + 17; /* an hour's gap, off the grid */
        CHECK(round_trip(p, N) > 0);
    }
    /* Steps that round to no second, or to a huge one. */
    static const int64_t steps[] = {1, 499, 500, 1499, 1500, INT64_C(1) << 40, INT64_MAX / 1100};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        for (int k = 0; k < 1000; k++)
            p[k] = (struct chunk_point){INT64_MIN + k * steps[i] + (steps[i] > 1 ? k % 2 : 0), 1};
        CHECK(round_trip(p, 1000) > 0);
    }
}

TEST(chunk_special_doubles)
{
    const double specials[] = {0.0,
                               -0.0,
                               INFINITY,
                               -INFINITY,
                               NAN,
                               -NAN,
                               double_of(0x7ff0000000000001), /* signalling NaN */
                               double_of(0x7ff8dead0000beef), /* a payload */
                               double_of(0xfff0000000000001),
                               double_of(1),                  /* least subnormal */
                               double_of(0x000fffffffffffff), /* greatest subnormal */
                               DBL_MIN,
                               -DBL_MIN,
                               DBL_MAX,
                               -DBL_MAX,
                               1.7e308,
                               -1.7e308,
                               DBL_EPSILON,
                               1.0 / 3,
                               9007199254740992.0,
                               9007199254740993.0,
                               18446744073709551616.0,
                               -9223372036854775808.0};
    enum { N = sizeof specials / sizeof specials[0] };
    struct chunk_point p[N];
    fill_ts(p, N, 1780000000000, 60000);
    for (size_t i = 0; i < N; i++)
        p[i].value = specials[i];
    CHECK(round_trip(p, N) > 0);
    /* Each alone, and each in a chunk of otherwise decimal values (where it
     * must not pass for a decimal). */
    for (size_t i = 0; i < N; i++) {
        struct chunk_point q[4] = {{0, 1}, {1, specials[i]}, {2, 2.5}, {3, specials[i]}};
        CHECK(round_trip(q, 4) > 0);
        CHECK(round_trip(q + 1, 1) > 0);
    }
}

/* Values that look decimal and are not, decimals at e's limit, integers
 * beyond 2^53: all back exactly, decimal or not. */
TEST(chunk_decimals_and_not)
{
    static const double rows[][4] = {
        {0.1 + 0.2, 0.3, 0.1, 0.2},
        {25.3, 25.7, 25.4, 25.3},
        {1e-15, 2e-15, 123456789e-15, 3e-15},
        {1e-16, 2e-16, 3e-16, 4e-16},
        {0.123456789012345, 0.123456789012346, 0.1, 0},
        {9007199254740991.0, 9007199254740992.0, 9007199254740994.0, 1e300},
        {-9007199254740991.0, 9007199254740991.0, -1, 1},
        {4503599627370495.5, 1, 2, 3},
        {1e22, 1e-300, 5e-324, 0},
        {14500, 14750, 14500, -0.0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct chunk_point p[4];
        fill_ts(p, 4, -120000, 60000);
        for (int k = 0; k < 4; k++)
            p[k].value = rows[i][k];
        CHECK(round_trip(p, 4) > 0);
    }
    /* Every e: m / 10^e for m of 1..15 digits. */
    for (int e = 0; e <= 17; e++) {
        struct chunk_point p[64];
        uint64_t seed = (uint64_t)e;
        fill_ts(p, 64, 0, 1000);
        for (int k = 0; k < 64; k++)
            p[k].value = (double)(int64_t)(shape_below(&seed, 1000000000000000) - 500000000000000) /
                         pow(10, e);
        CHECK(round_trip(p, 64) > 0);
    }
}

/* The three regular shapes and a constant stay small; random floats stay
 * within 10 B a point (the bench prints the exact figures). */
TEST(chunk_shapes_round_trip_small)
{
    enum { N = 256 };
    static const double most[SHAPES] = {2.5, 2.5, 2.5, 10.5, 2};
    struct chunk_point p[N];
    uint64_t seed = 1;
    for (int s = 0; s < SHAPES; s++)
        for (int jitter = 0; jitter <= 1; jitter++) {
            shape_fill(p, N, (enum shape)s, jitter, 1780000000000, &seed);
            size_t len = round_trip(p, N);
            CHECK(len > 0);
            if ((double)len / N > most[s])
                CHECK_FAIL_("%s (jitter %d): %.2f B a point, more than %.1f", shape_names[s],
                            jitter, (double)len / N, most[s]);
        }
}

TEST(chunk_max_points)
{
    struct chunk_point *p = malloc(CHUNK_MAX_POINTS * sizeof *p);
    CHECK(p);
    uint64_t seed = 3;
    int ok = 1;
    for (int s = 0; s < SHAPES && ok; s++) {
        shape_fill(p, CHUNK_MAX_POINTS, (enum shape)s, s % 2, -(INT64_C(1) << 40), &seed);
        ok = round_trip(p, CHUNK_MAX_POINTS) > 0;
    }
    /* Random bits everywhere: the worst case for chunk_bound. */
    int64_t ts = INT64_MIN;
    for (size_t k = 0; k < CHUNK_MAX_POINTS && ok; k++) {
        ts += 1 + (int64_t)(shape_rand(&seed) >> 17);
        p[k] = (struct chunk_point){ts, double_of(shape_rand(&seed))};
    }
    ok = ok && round_trip(p, CHUNK_MAX_POINTS) > 0;
    free(p);
    CHECK(ok);
}

/* A chunk of n random points: shapes mixed inside it, random gaps,
 * occasional specials. */
static void random_chunk(struct chunk_point *p, size_t n, uint64_t *seed)
{
    /* From anywhere within +-2^61, so the cadence cannot overflow. */
    int64_t ts0 = (int64_t)(shape_rand(seed) >> (3 + shape_below(seed, 61)));
    shape_fill(p, n, (enum shape)shape_below(seed, SHAPES), (int)shape_below(seed, 2),
               shape_below(seed, 2) ? ts0 : -ts0, seed);
    int mess = (int)shape_below(seed, 4);
    for (size_t k = 0; k < n && mess; k++) {
        if (mess >= 2 && shape_below(seed, 16) == 0)
            p[k].value = double_of(shape_rand(seed));
        if (mess == 3 && k > 0 && shape_below(seed, 8) == 0) {
            /* A wide gap, as far as int64 allows. */
            uint64_t room = (uint64_t)INT64_MAX - (uint64_t)p[n - 1].ts;
            uint64_t gap = room ? shape_rand(seed) % room : 0;
            for (size_t j = k; j < n; j++)
                p[j].ts = (int64_t)((uint64_t)p[j].ts + gap);
        }
    }
}

TEST(chunk_random_chunks_round_trip)
{
    enum { MAXN = 1500 };
    struct chunk_point p[MAXN];
    uint64_t seed = 20;
    for (int i = 0; i < 3000; i++) {
        size_t n = 1 + (size_t)shape_below(&seed, i % 10 ? 300 : MAXN);
        random_chunk(p, n, &seed);
        size_t len = round_trip(p, n);
        if (!len)
            CHECK_FAIL_("chunk %d of %zu points did not read back", i, n);
    }
}

/* What a decode of damaged input may give: -1, or at most max points with
 * strictly increasing ts. */
static int decodes_sanely(const uint8_t *data, size_t len, size_t max)
{
    struct chunk_point *out = malloc((max ? max : 1) * sizeof *out);
    if (!out)
        return 0;
    long n = decode_copy(data, len, out, max);
    int ok = n == -1 || (n >= 1 && (size_t)n <= max);
    for (long k = 1; ok && k < n; k++)
        ok = out[k].ts > out[k - 1].ts;
    free(out);
    return ok;
}

TEST(chunk_damage_is_refused_or_sane)
{
    enum { N = 200 };
    struct chunk_point p[N], back[N];
    uint8_t buf[80 + 18 * N + 16];
    uint64_t seed = 99;
    for (int i = 0; i < 60; i++) {
        size_t n = 1 + (size_t)shape_below(&seed, N);
        random_chunk(p, n, &seed);
        size_t len = chunk_encode(p, n, buf);
        /* Every truncation is refused, and so is a byte more. */
        for (size_t cut = 0; cut < len; cut++)
            if (decode_copy(buf, cut, back, N) != -1)
                CHECK_FAIL_("chunk %d: %zu of %zu bytes decoded", i, cut, len);
        buf[len] = 0;
        CHECK_INT(decode_copy(buf, len + 1, back, N), -1);
        /* Room for one point fewer is refused. */
        CHECK_INT(decode_copy(buf, len, back, n - 1), -1);
        CHECK_INT(decode_copy(buf, len, back, n), (long)n);
        /* Bit flips: one, two, and a byte set at random. */
        for (int f = 0; f < 200; f++) {
            uint8_t copy[sizeof buf];
            memcpy(copy, buf, len);
            size_t at = (size_t)shape_below(&seed, len);
            if (f % 3 == 2)
                copy[at] = (uint8_t)shape_rand(&seed);
            else
                copy[at] ^= (uint8_t)(1u << shape_below(&seed, 8));
            if (f % 3 == 1)
                copy[shape_below(&seed, len)] ^= (uint8_t)(1u << shape_below(&seed, 8));
            if (!decodes_sanely(copy, len, N))
                CHECK_FAIL_("chunk %d: flip %d at %zu decoded to nonsense", i, f, at);
        }
    }
}

TEST(chunk_garbage_headers)
{
    static const struct {
        const char *bytes;
        size_t len;
        long count;
    } rows[] = {
        {"", 0, -1},
        {"\x01", 1, -1},                /* no count */
        {"\x02\x01", 2, -1},            /* another version */
        {"\x01\x00", 2, -1},            /* no points */
        {"\x01\x01", 2, 1},             /* a count, nothing else */
        {"\x01\x80\x80\x04", 4, 65536}, /* CHUNK_MAX_POINTS */
        {"\x01\x81\x80\x04", 4, -1},    /* one more */
        {"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, -1},
        {"\x01\x80", 2, -1}, /* a count cut short */
    };
    struct chunk_point out[4];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_INT(chunk_count((const uint8_t *)rows[i].bytes, rows[i].len), rows[i].count);
        CHECK_INT(decode_copy((const uint8_t *)rows[i].bytes, rows[i].len, out, 4), -1);
    }
    /* Random bytes after a valid start: sane, whatever they say. */
    uint64_t seed = 5;
    for (int i = 0; i < 20000; i++) {
        uint8_t b[64];
        size_t len = 2 + (size_t)shape_below(&seed, sizeof b - 2);
        for (size_t k = 0; k < len; k++)
            b[k] = (uint8_t)shape_rand(&seed);
        b[0] = CHUNK_VERSION;
        b[1] = (uint8_t)(1 + shape_below(&seed, 8));
        if (!decodes_sanely(b, len, 8))
            CHECK_FAIL_("random bytes %d decoded to nonsense", i);
    }
}

TEST_MAIN(CASE(chunk_one_and_two_points), CASE(chunk_timestamps_at_the_limits),
          CASE(chunk_grid_timestamps), CASE(chunk_special_doubles), CASE(chunk_decimals_and_not),
          CASE(chunk_shapes_round_trip_small), CASE(chunk_max_points),
          CASE(chunk_random_chunks_round_trip), CASE(chunk_damage_is_refused_or_sane),
          CASE(chunk_garbage_headers))
