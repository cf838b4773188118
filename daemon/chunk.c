/* chunk.c — the chunk codec (format in chunk.h). */
#include "chunk.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#define CHUNK_MODE_XOR     0
#define CHUNK_MODE_DECIMAL 1
#define CHUNK_ORDERS       3 /* differences of order 0, 1, 2 */
#define CHUNK_GRID         3 /* a seq kind after them: x[0] + k * step + r */
#define CHUNK_KINDS        4
#define CHUNK_GRID_ROUND   1000 /* a grid's step: the median step to the second */
#define CHUNK_SAMPLE       31   /* residuals sampled to estimate the median */
#define CHUNK_2P53         9007199254740992.0

/* 10^e is exact in a double for every e here, so (double)m / 10^e is one
 * correctly rounded division: the same on every IEEE 754 machine. */
static const double chunk_p10[CHUNK_MAX_DECIMALS + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static uint64_t chunk_zz(uint64_t v)
{
    return (v << 1) ^ (0 - (v >> 63));
}

static uint64_t chunk_unzz(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

static int64_t chunk_signed(uint64_t u)
{
    int64_t s;
    memcpy(&s, &u, sizeof s);
    return s;
}

static uint64_t chunk_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double chunk_double(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static unsigned chunk_bitlen(uint64_t z)
{
    return z ? 64u - (unsigned)__builtin_clzll(z) : 0u;
}

/* ---- bytes: varints ---- */

static uint8_t *chunk_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static size_t chunk_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Reads a varint at *p (< end) into *v; returns 0, or -1 if it runs past end
 * or past 64 bits. */
static int chunk_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

static int chunk_get_byte(const uint8_t **p, const uint8_t *end, unsigned *v)
{
    if (*p >= end)
        return -1;
    *v = *(*p)++;
    return 0;
}

/* ---- bits: most significant first ---- */

struct chunk_bw {
    uint8_t *p;
    uint64_t acc; /* the low n bits are pending */
    unsigned n;   /* < 64 between calls */
};

/* w <= 32 bits, v < 2^w: whole 64-bit words go out as they fill. */
static inline void chunk_put32(struct chunk_bw *b, uint64_t v, unsigned w)
{
    if (b->n + w < 64) {
        b->acc = b->acc << w | v;
        b->n += w;
        return;
    }
    unsigned rest = b->n + w - 64; /* < 32: the bits of v left over */
    uint64_t word = b->acc << (64 - b->n) | v >> rest;
    for (int i = 0; i < 8; i++)
        b->p[i] = (uint8_t)(word >> (56 - 8 * i));
    b->p += 8;
    b->acc = v & ((UINT64_C(1) << rest) - 1);
    b->n = rest;
}

/* v < 2^w, w <= 64. */
static inline void chunk_put(struct chunk_bw *b, uint64_t v, unsigned w)
{
    if (w > 32) {
        chunk_put32(b, v >> 32, w - 32);
        v &= 0xffffffff;
        w = 32;
    }
    chunk_put32(b, v, w);
}

static uint8_t *chunk_flush(struct chunk_bw *b)
{
    if (b->n) {
        uint64_t word = b->acc << (64 - b->n);
        for (unsigned i = 0; i < (b->n + 7) / 8; i++)
            *b->p++ = (uint8_t)(word >> (56 - 8 * i));
    }
    b->n = 0;
    return b->p;
}

/* A reader past the end reads zeros; the caller checks where it stopped
 * (chunk_br_done), so no read needs its own bound check. */
struct chunk_br {
    const uint8_t *d;
    size_t len;
    uint64_t pos; /* in bits */
};

/* The 64 bits from pos on. */
static inline uint64_t chunk_window(const struct chunk_br *b)
{
    size_t at = (size_t)(b->pos >> 3);
    uint64_t v = 0;
    if (at < b->len && b->len - at >= 8) {
        const uint8_t *q = b->d + at;
        v = (uint64_t)q[0] << 56 | (uint64_t)q[1] << 48 | (uint64_t)q[2] << 40 |
            (uint64_t)q[3] << 32 | (uint64_t)q[4] << 24 | (uint64_t)q[5] << 16 |
            (uint64_t)q[6] << 8 | (uint64_t)q[7];
    } else {
        for (size_t i = 0; i < 8 && at < b->len && i < b->len - at; i++)
            v |= (uint64_t)b->d[at + i] << (56 - 8 * i);
    }
    return v << (b->pos & 7);
}

/* w <= 56 bits. */
static inline uint64_t chunk_get56(struct chunk_br *b, unsigned w)
{
    if (w == 0)
        return 0;
    uint64_t v = chunk_window(b) >> (64 - w);
    b->pos += w;
    return v;
}

static inline uint64_t chunk_get(struct chunk_br *b, unsigned w)
{
    if (w <= 56)
        return chunk_get56(b, w);
    uint64_t hi = chunk_get56(b, w - 32);
    return hi << 32 | chunk_get56(b, 32);
}

/* 0 if the reader stopped in the last byte with only zero padding after. */
static int chunk_br_done(const struct chunk_br *b)
{
    uint64_t total = (uint64_t)b->len * 8;
    if (b->pos > total || total - b->pos >= 8)
        return -1;
    if (b->pos == total)
        return 0;
    return (chunk_window(b) >> (64 - (total - b->pos))) == 0 ? 0 : -1;
}

/* ---- decimal values ---- */

/* v * scale rounded, for |v * scale| < 2^53: the one expression both the
 * check and the encoder use, so the m they see is the same. */
static inline int64_t chunk_round(double v, double scale)
{
    double t = v * scale;
    return (int64_t)(t < 0 ? t - 0.5 : t + 0.5);
}

/* The integer m with (double)m / 10^e == v bit for bit, |m| < 2^53, if any. */
static int chunk_decimal(double v, unsigned e, int64_t *m)
{
    if (!(fabs(v * chunk_p10[e]) < CHUNK_2P53))
        return 0;
    int64_t r = chunk_round(v, chunk_p10[e]);
    if (r <= -(INT64_C(1) << 53) || r >= (INT64_C(1) << 53))
        return 0;
    if (chunk_bits((double)r / chunk_p10[e]) != chunk_bits(v))
        return 0;
    *m = r;
    return 1;
}

/* The smallest e (found going up) at which every value is decimal, or -1.
 * Scans round the chunk until n values in a row fit the same e: at most
 * (CHUNK_MAX_DECIMALS + 2) * n checks. */
static int chunk_pick_e(const struct chunk_point *pts, size_t n)
{
    unsigned e = 0;
    size_t run = 0;
    int64_t m;
    for (size_t k = 0; run < n; k = k + 1 == n ? 0 : k + 1) {
        while (!chunk_decimal(pts[k].value, e, &m)) {
            if (++e > CHUNK_MAX_DECIMALS)
                return -1;
            run = 0;
        }
        run++;
    }
    return (int)e;
}

/* ---- seq: integers by differences (chunk.h) ---- */

/* Where a seq's integers come from: the timestamps, or the values as m. */
struct chunk_src {
    const struct chunk_point *pts;
    int decimal;  /* 0: x = ts; 1: x = m at scale */
    double scale; /* 10^e */
};

static inline uint64_t chunk_x(const struct chunk_src *s, size_t k)
{
    if (!s->decimal)
        return (uint64_t)s->pts[k].ts;
    /* Only for values chunk_pick_e has checked: within +-2^53. */
    return (uint64_t)chunk_round(s->pts[k].value, s->scale);
}

/* The order-th difference at k (k >= order). */
static uint64_t chunk_diff(const struct chunk_src *s, size_t k, unsigned order)
{
    uint64_t x = chunk_x(s, k);
    if (order == 0)
        return x;
    uint64_t x1 = chunk_x(s, k - 1);
    if (order == 1)
        return x - x1;
    return x - 2 * x1 + chunk_x(s, k - 2);
}

struct chunk_seq {
    unsigned order, w, x;
    uint64_t first[2]; /* x[0], x[1] - x[0]: the first `order` of them; or
                          x[0], step (CHUNK_GRID) */
    uint64_t base;
    uint64_t bits; /* of the residuals */
};

/* The median of a quarter of the residuals (at least 7, at most
 * CHUNK_SAMPLE) spread over the chunk: a fair guess at the typical step. */
static uint64_t chunk_median(const struct chunk_src *s, size_t n, unsigned order)
{
    size_t nres = n - order, m = nres / 4;
    m = m < 7 ? 7 : m > CHUNK_SAMPLE ? CHUNK_SAMPLE : m;
    m = m > nres ? nres : m;
    int64_t v[CHUNK_SAMPLE];
    for (size_t i = 0; i < m; i++) {
        int64_t r = chunk_signed(chunk_diff(s, order + i * nres / m, order));
        size_t j = i;
        for (; j > 0 && v[j - 1] > r; j--)
            v[j] = v[j - 1];
        v[j] = r;
    }
    return (uint64_t)v[m / 2];
}

struct chunk_hist {
    uint32_t len[65];  /* residual codes by bit length */
    uint32_t ones[65]; /* of those, the all-ones codes (an escape's) */
};

/* The cheapest w and x for the codes counted in h: in w bits, with the
 * all-ones code escaping to the widest length, or plainly in the widest. */
static void chunk_widths(const struct chunk_hist *h, uint64_t nres, struct chunk_seq *q)
{
    unsigned widest = 0;
    for (unsigned b = 0; b <= 64; b++)
        if (h->len[b])
            widest = b;
    q->w = widest;
    q->x = 0;
    q->bits = nres * widest;
    uint64_t upto = 0; /* codes of at most w bits */
    for (unsigned w = 0; w < widest; w++) {
        upto += h->len[w];
        uint64_t fit = upto - h->ones[w];
        uint64_t bits = nres * w + (nres - fit) * widest;
        if (bits < q->bits) {
            q->w = w;
            q->x = widest;
            q->bits = bits;
        }
    }
}

/* How many first terms a seq's header holds; its residuals start there. */
static unsigned chunk_initials(unsigned order)
{
    return order == CHUNK_GRID ? 1 : order;
}

static size_t chunk_seq_header_len(const struct chunk_seq *q)
{
    size_t len = 3 + chunk_varint_len(chunk_zz(q->base));
    for (unsigned i = 0; i < (q->order == CHUNK_GRID ? 2u : q->order); i++)
        len += chunk_varint_len(chunk_zz(q->first[i]));
    return len;
}

static inline void chunk_count_code(struct chunk_hist *h, uint64_t r, uint64_t base)
{
    uint64_t z = chunk_zz(r - base);
    unsigned b = chunk_bitlen(z);
    h->len[b]++;
    if ((z & (z + 1)) == 0)
        h->ones[b]++;
}

/* The grid for timestamps: a step of the median step rounded to the
 * second, and as base the middle of the residuals' range, so a cadence with
 * 0..999 ms of jitter costs 10 bits a point, not the 11 of its steps'
 * -999..+999. 0 if there is no such step (then no grid). */
static int chunk_grid(const struct chunk_src *s, size_t n, uint64_t median, struct chunk_seq *q)
{
    int64_t med = chunk_signed(median);
    if (n < 2 || med < CHUNK_GRID_ROUND / 2 || med > INT64_MAX / 2)
        return 0;
    uint64_t step = (uint64_t)(med + CHUNK_GRID_ROUND / 2) / CHUNK_GRID_ROUND * CHUNK_GRID_ROUND;
    uint64_t x0 = chunk_x(s, 0), g = x0;
    int64_t lo = 0, hi = 0;
    for (size_t k = 1; k < n; k++) {
        g += step;
        int64_t r = chunk_signed(chunk_x(s, k) - g);
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    q->order = CHUNK_GRID;
    q->first[0] = x0;
    q->first[1] = step;
    q->base = (uint64_t)lo + ((uint64_t)hi - (uint64_t)lo) / 2;
    return 1;
}

/* Chooses the kind (an order from lowest <= 1 on, or a grid for
 * timestamps), base and widths that make the seq of n >= 1 smallest.
 * Timestamps start at order 1: as themselves they would cost the chunk's
 * span in bits each. */
static void chunk_plan(const struct chunk_src *s, size_t n, unsigned lowest, struct chunk_seq *best)
{
    struct chunk_seq q[CHUNK_KINDS] = {{0}};
    struct chunk_hist h[CHUNK_KINDS];
    memset(h, 0, sizeof h);
    unsigned orders = n < CHUNK_ORDERS ? (unsigned)n + 1 : CHUNK_ORDERS; /* order <= n */
    for (unsigned o = 0; o < orders; o++) {
        q[o].order = o;
        q[o].base = o >= lowest ? chunk_median(s, n, o) : 0;
    }
    int grid = !s->decimal && chunk_grid(s, n, q[1].base, &q[CHUNK_GRID]);
    uint64_t x0 = chunk_x(s, 0), x1 = n > 1 ? chunk_x(s, 1) : 0;
    q[1].first[0] = q[2].first[0] = x0;
    q[2].first[1] = x1 - x0;
    chunk_count_code(&h[0], x0, q[0].base);
    if (n > 1) {
        chunk_count_code(&h[0], x1, q[0].base);
        chunk_count_code(&h[1], x1 - x0, q[1].base);
    }
    uint64_t base0 = q[0].base, base1 = q[1].base, base2 = q[2].base, d = x1 - x0;
    uint64_t step = q[CHUNK_GRID].first[1], g = x0 + step, baseg = q[CHUNK_GRID].base;
    if (grid && n > 1)
        chunk_count_code(&h[CHUNK_GRID], x1 - g, baseg);
    for (size_t k = 2; k < n; k++) {
        uint64_t x = chunk_x(s, k);
        uint64_t dx = x - x1;
        if (lowest == 0)
            chunk_count_code(&h[0], x, base0);
        chunk_count_code(&h[1], dx, base1);
        chunk_count_code(&h[2], dx - d, base2);
        if (grid) {
            g += step;
            chunk_count_code(&h[CHUNK_GRID], x - g, baseg);
        }
        x1 = x;
        d = dx;
    }
    *best = q[lowest];
    uint64_t best_bits = UINT64_MAX;
    for (unsigned o = lowest; o < CHUNK_KINDS; o++) {
        if (o >= orders && !(o == CHUNK_GRID && grid))
            continue;
        chunk_widths(&h[o], n - chunk_initials(o), &q[o]);
        uint64_t bits = q[o].bits + 8 * chunk_seq_header_len(&q[o]);
        if (bits < best_bits) {
            best_bits = bits;
            *best = q[o];
        }
    }
}

static uint8_t *chunk_put_seq_header(uint8_t *p, const struct chunk_seq *q)
{
    *p++ = (uint8_t)q->order;
    for (unsigned i = 0; i < (q->order == CHUNK_GRID ? 2u : q->order); i++)
        p = chunk_put_varint(p, chunk_zz(q->first[i]));
    p = chunk_put_varint(p, chunk_zz(q->base));
    *p++ = (uint8_t)q->w;
    *p++ = (uint8_t)q->x;
    return p;
}

static void chunk_put_seq(struct chunk_bw *b, const struct chunk_src *s, size_t n,
                          const struct chunk_seq *q)
{
    uint64_t esc = q->w == 64 ? UINT64_MAX : (UINT64_C(1) << q->w) - 1;
    uint64_t x2 = 0, x1 = 0, g = q->first[0];
    for (size_t k = 0; k < n; k++) {
        uint64_t x = chunk_x(s, k), r;
        if (q->order == CHUNK_GRID) {
            r = x - g;
            g += q->first[1];
        } else {
            r = q->order == 0 ? x : q->order == 1 ? x - x1 : x - 2 * x1 + x2;
        }
        x2 = x1;
        x1 = x;
        if (k < chunk_initials(q->order))
            continue;
        uint64_t z = chunk_zz(r - q->base);
        if (q->x && z >= esc) {
            chunk_put(b, esc, q->w);
            chunk_put(b, z, q->x);
        } else {
            chunk_put(b, z, q->w);
        }
    }
}

/* ---- XOR values ---- */

static void chunk_put_xor(struct chunk_bw *b, const struct chunk_point *pts, size_t n)
{
    uint64_t prev = chunk_bits(pts[0].value);
    unsigned lead = 0, len = 64; /* the window */
    for (size_t k = 1; k < n; k++) {
        uint64_t v = chunk_bits(pts[k].value), x = v ^ prev;
        prev = v;
        if (x == 0) {
            chunk_put(b, 0, 1);
            continue;
        }
        unsigned lz = (unsigned)__builtin_clzll(x), tz = (unsigned)__builtin_ctzll(x);
        if (lz >= lead && tz >= 64 - lead - len) {
            chunk_put(b, 2, 2);
            chunk_put(b, x >> (64 - lead - len), len);
        } else {
            lead = lz;
            len = 64 - lz - tz;
            chunk_put(b, 3, 2);
            chunk_put(b, lead, 6);
            chunk_put(b, len - 1, 6);
            chunk_put(b, x >> tz, len);
        }
    }
}

/* ---- the chunk ---- */

size_t chunk_bound(size_t n)
{
    /* Headers (version, count, two seq headers) under 80 bytes; a
     * timestamp's residual at most 64 bits, a value's at most 78 (XOR). */
    return 80 + 18 * n;
}

size_t chunk_encode(const struct chunk_point *pts, size_t n, uint8_t *out)
{
    assert(n >= 1 && n <= CHUNK_MAX_POINTS);
#ifndef NDEBUG
    for (size_t k = 1; k < n; k++)
        assert(pts[k].ts > pts[k - 1].ts);
#endif
    uint8_t *p = out;
    *p++ = CHUNK_VERSION;
    p = chunk_put_varint(p, n);
    struct chunk_src ts = {.pts = pts};
    struct chunk_seq tq, vq;
    chunk_plan(&ts, n, 1, &tq);
    p = chunk_put_seq_header(p, &tq);
    int e = chunk_pick_e(pts, n);
    struct chunk_src vs = {.pts = pts, .decimal = 1, .scale = e >= 0 ? chunk_p10[e] : 1};
    if (e >= 0) {
        *p++ = CHUNK_MODE_DECIMAL;
        *p++ = (uint8_t)e;
        chunk_plan(&vs, n, 0, &vq);
        p = chunk_put_seq_header(p, &vq);
    } else {
        *p++ = CHUNK_MODE_XOR;
        uint64_t v = chunk_bits(pts[0].value);
        for (int i = 0; i < 8; i++)
            *p++ = (uint8_t)(v >> (8 * i));
    }
    struct chunk_bw b = {.p = p};
    chunk_put_seq(&b, &ts, n, &tq);
    if (e >= 0)
        chunk_put_seq(&b, &vs, n, &vq);
    else
        chunk_put_xor(&b, pts, n);
    return (size_t)(chunk_flush(&b) - out);
}

/* The version and the count; p is left after them. */
static long chunk_header(const uint8_t **p, const uint8_t *end)
{
    unsigned version;
    uint64_t n;
    if (chunk_get_byte(p, end, &version) || version != CHUNK_VERSION ||
        chunk_get_varint(p, end, &n) || n < 1 || n > CHUNK_MAX_POINTS)
        return -1;
    return (long)n;
}

long chunk_count(const uint8_t *data, size_t len)
{
    const uint8_t *p = data;
    return chunk_header(&p, data + len);
}

static int chunk_get_seq_header(const uint8_t **p, const uint8_t *end, size_t n,
                                struct chunk_seq *q)
{
    memset(q, 0, sizeof *q);
    if (chunk_get_byte(p, end, &q->order) || q->order >= CHUNK_KINDS ||
        chunk_initials(q->order) > n)
        return -1;
    for (unsigned i = 0; i < (q->order == CHUNK_GRID ? 2u : q->order); i++) {
        if (chunk_get_varint(p, end, &q->first[i]))
            return -1;
        q->first[i] = chunk_unzz(q->first[i]);
    }
    if (chunk_get_varint(p, end, &q->base) || chunk_get_byte(p, end, &q->w) ||
        chunk_get_byte(p, end, &q->x) || q->w > 64 || q->x > 64 || (q->x && q->x <= q->w))
        return -1;
    q->base = chunk_unzz(q->base);
    return 0;
}

/* Reads n integers of seq q; hands each to the caller's loop through out
 * (ts) or as m (values). Returns 0, or -1 if the ts do not increase or an m
 * is out of range. */
static int chunk_get_seq(struct chunk_br *b, const struct chunk_seq *q, size_t n,
                         struct chunk_point *out, int decimal, double scale)
{
    uint64_t esc = q->w == 64 ? UINT64_MAX : (UINT64_C(1) << q->w) - 1;
    uint64_t x = 0, d = 0, g = q->first[0];
    for (size_t k = 0; k < n; k++) {
        if (k < chunk_initials(q->order)) {
            d = q->first[k];
            x = k == 0 ? d : x + d;
        } else {
            uint64_t z = chunk_get(b, q->w);
            if (q->x && z == esc)
                z = chunk_get(b, q->x);
            uint64_t r = chunk_unzz(z) + q->base;
            if (q->order == 0)
                x = r;
            else if (q->order == 1)
                x += r;
            else if (q->order == 2)
                x += (d += r);
            else
                x = (g += q->first[1]) + r;
        }
        int64_t s = chunk_signed(x);
        if (!decimal) {
            if (k > 0 && s <= out[k - 1].ts)
                return -1;
            out[k].ts = s;
        } else {
            if (s <= -(INT64_C(1) << 53) || s >= (INT64_C(1) << 53))
                return -1;
            out[k].value = scale == 1 ? (double)s : (double)s / scale;
        }
    }
    return 0;
}

static int chunk_get_xor(struct chunk_br *b, uint64_t first, size_t n, struct chunk_point *out)
{
    uint64_t prev = first;
    unsigned lead = 0, len = 64;
    out[0].value = chunk_double(first);
    for (size_t k = 1; k < n; k++) {
        uint64_t tag = chunk_get56(b, 1);
        if (tag) {
            if (chunk_get56(b, 1)) {
                lead = (unsigned)chunk_get56(b, 6);
                len = (unsigned)chunk_get56(b, 6) + 1;
                if (lead + len > 64)
                    return -1;
            }
            prev ^= chunk_get(b, len) << (64 - lead - len);
        }
        out[k].value = chunk_double(prev);
    }
    return 0;
}

long chunk_decode(const uint8_t *data, size_t len, struct chunk_point *out, size_t max)
{
    const uint8_t *p = data, *end = data + len;
    long n = chunk_header(&p, end);
    if (n < 0 || (size_t)n > max)
        return -1;
    struct chunk_seq tq, vq;
    unsigned mode, e = 0;
    uint64_t first = 0;
    if (chunk_get_seq_header(&p, end, (size_t)n, &tq) || chunk_get_byte(&p, end, &mode))
        return -1;
    if (mode == CHUNK_MODE_DECIMAL) {
        if (chunk_get_byte(&p, end, &e) || e > CHUNK_MAX_DECIMALS ||
            chunk_get_seq_header(&p, end, (size_t)n, &vq))
            return -1;
    } else if (mode == CHUNK_MODE_XOR) {
        if (end - p < 8)
            return -1;
        for (int i = 0; i < 8; i++)
            first |= (uint64_t)*p++ << (8 * i);
    } else {
        return -1;
    }
    struct chunk_br b = {.d = p, .len = (size_t)(end - p)};
    if (chunk_get_seq(&b, &tq, (size_t)n, out, 0, 1))
        return -1;
    if (mode == CHUNK_MODE_DECIMAL ? chunk_get_seq(&b, &vq, (size_t)n, out, 1, chunk_p10[e])
                                   : chunk_get_xor(&b, first, (size_t)n, out))
        return -1;
    return chunk_br_done(&b) ? -1 : n;
}
