/* chunk.h — the compressed chunk of one series' samples (issue 20): a run of
 * (ts, value) points, ts strictly increasing, packed into a few bytes a point
 * and read back bit for bit (lossless: -0.0, NaN payloads, infinities and
 * subnormals included).
 *
 * Pure: no I/O, no globals, no allocation; any thread may call any function
 * at any time. The caller owns every buffer. The store (store.c) decides
 * what a chunk holds and where it is kept; this module only packs and unpacks.
 *
 * Format, version 1 (a varint is LEB128, 7 bits a byte, low first; "zz"
 * means zigzag-mapped, so small negatives stay small):
 *
 *   byte      version (1)
 *   varint    n, the number of points (1..CHUNK_MAX_POINTS)
 *   seq       the timestamps (below)
 *   byte      value mode: 0 = XOR, 1 = decimal
 *     XOR:     8 bytes, the first value's IEEE 754 bits, little-endian
 *     decimal: byte e (0..CHUNK_MAX_DECIMALS), then a seq of the integers m,
 *              each value being exactly (double)m / 10^e
 *   bits      the timestamps' residuals, then the values' (residuals or XOR
 *             words), most significant bit first, zero-padded to a byte;
 *             nothing may follow.
 *
 * A seq codes integers x[0..n) (wrapping 64-bit arithmetic) in the kind k
 * that is cheapest for the chunk: differences of order k (0, 1 or 2), or
 * k = 3, a grid: x[k] = x[0] + k * step + r[k] (timestamps only). A header
 *   byte k; zz varints of the first terms (k = 1: x[0]; k = 2: x[0] and
 *   x[1]-x[0]; k = 3: x[0] and step); zz varint base; byte w (0..64);
 *   byte x (0 or w < x <= 64)
 * and, in the bits, one code per residual r (the k-th difference at each
 * index from k on; for a grid, from 1 on): zz(r - base) in w bits. With
 * x > 0, the all-ones code of w bits is an escape followed by the code in x
 * bits (the rare wide residual: a gap in a cadence, a price step). base is
 * the median residual (for a grid, the middle of their range) and w the
 * width that makes the chunk smallest. So a 60 s cadence with 0..999 ms of
 * jitter costs 10 bits a timestamp on its grid (11 as steps of 60 s +-999
 * ms, 15 in Gorilla's delta-of-delta buckets), an exact cadence 0, a
 * counter's increments 3 bits and a price that rarely moves ~1.
 *
 * Decimal values: a chunk is decimal when one e makes every value an integer
 * m with |m| < 2^53 and (double)m / 10^e equal to it bit for bit (-0.0 and
 * NaN never are); one-decimal readings, prices and counters are. Otherwise
 * values are Gorilla's XOR of each value's bits with the previous one's:
 * '0' same value; '10' + the bits inside the previous window; '11' + 6 bits
 * leading zeros + 6 bits length-1 + the bits (the window starts as all 64).
 */
#ifndef PANTAU_CHUNK_H
#define PANTAU_CHUNK_H

#include <stddef.h>
#include <stdint.h>

struct chunk_point {
    int64_t ts;
    double value;
};

#define CHUNK_VERSION      1
#define CHUNK_MAX_POINTS   65536
#define CHUNK_MAX_DECIMALS 15 /* the largest e a decimal chunk may use */

/* Bytes that always suffice to encode n points. */
size_t chunk_bound(size_t n);

/* Encodes pts[0..n), 1 <= n <= CHUNK_MAX_POINTS, ts strictly increasing (the
 * caller guarantees; asserted in debug builds), into out (chunk_bound(n)
 * bytes). Returns the length written. */
size_t chunk_encode(const struct chunk_point *pts, size_t n, uint8_t *out);

/* The number of points, read from the header alone; -1 if it is not a chunk. */
long chunk_count(const uint8_t *data, size_t len);

/* Decodes into out (room for max points). Returns the number of points, or
 * -1 if data is damaged, truncated, has trailing bytes, or holds more than
 * max points. Never reads outside data[0, len) or writes outside out[0, max);
 * never crashes or loops on any input; what it returns has strictly
 * increasing ts (a chunk that would decode otherwise is damaged: -1). A
 * damaged chunk may still decode (there is no checksum): the store's pages
 * are the integrity layer, this only refuses what cannot be a chunk. */
long chunk_decode(const uint8_t *data, size_t len, struct chunk_point *out, size_t max);

#endif
