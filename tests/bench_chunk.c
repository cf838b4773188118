/* bench_chunk.c — figures, not pass/fail (make bench, part chunk): the chunk
 * codec (chunk.c) on every shape of chunk_shapes.h at 64, 256 and 1024
 * points, bytes per point all in (header included), each beside its goal
 * (<= 2.5 B for the regular shapes with jitter at 256 points, issue 20), and
 * encode and decode speed in points/s (goals 20 M and 50 M). Every chunk is
 * decoded and compared, so a figure is never of a lossy run. Speeds are per
 * second of this thread's CPU time: the machine may be shared, and a wall
 * clock would measure the neighbours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk.h"
#include "chunk_shapes.h"

#define CHUNKS     64 /* chunks per shape and size, averaged */
#define GOAL_BYTES 2.5
#define GOAL_ENC   20e6
#define GOAL_DEC   50e6

static const size_t sizes[] = {64, 256, 1024};

static uint64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int same(const struct chunk_point *a, const struct chunk_point *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (a[k].ts != b[k].ts || memcmp(&a[k].value, &b[k].value, sizeof(double)) != 0)
            return 0;
    return 1;
}

/* Bytes per point of shape over CHUNKS chunks of n points; -1 if one did not
 * read back. Adds to the time spent encoding and decoding. */
static double bytes_per_point(enum shape shape, int jitter, size_t n, double *enc_s, double *dec_s,
                              uint64_t *points)
{
    struct chunk_point *pts = malloc(n * sizeof *pts), *back = malloc(n * sizeof *back);
    uint8_t *buf = malloc(chunk_bound(n));
    uint64_t seed = 42 + (uint64_t)shape * 1000 + (uint64_t)n + (uint64_t)jitter;
    size_t total = 0;
    int ok = pts && back && buf;
    for (int c = 0; ok && c < CHUNKS; c++) {
        shape_fill(pts, n, shape, jitter, INT64_C(1780000000000) + c * INT64_C(86400000), &seed);
        int reps = (int)(65536 / n);
        size_t len = 0;
        uint64_t t0 = cpu_ns();
        for (int r = 0; r < reps; r++)
            len = chunk_encode(pts, n, buf);
        uint64_t t1 = cpu_ns();
        long got = 0;
        for (int r = 0; r < reps; r++)
            got = chunk_decode(buf, len, back, n);
        uint64_t t2 = cpu_ns();
        *enc_s += (double)(t1 - t0) / 1e9;
        *dec_s += (double)(t2 - t1) / 1e9;
        *points += (uint64_t)reps * n;
        total += len;
        ok = got == (long)n && same(pts, back, n);
    }
    free(pts);
    free(back);
    free(buf);
    return ok ? (double)total / (double)(CHUNKS * n) : -1;
}

/* Per CPU second, over what timed. */
struct speed {
    double enc_s, dec_s;
    uint64_t points;
};

static void print_speed(const char *what, const struct speed *sp)
{
    double enc = (double)sp->points / sp->enc_s, dec = (double)sp->points / sp->dec_s;
    printf("  %-34s encode %5.1f M/s (goal %.0f M, %.2fx), decode %5.1f M/s (goal %.0f M, %.2fx)\n",
           what, enc / 1e6, GOAL_ENC / 1e6, enc / GOAL_ENC, dec / 1e6, GOAL_DEC / 1e6,
           dec / GOAL_DEC);
}

int main(void)
{
    printf("  chunk codec: bytes per point (all in), %d chunks each; goal <= %.1f B for the\n"
           "  regular shapes with jitter at 256 points\n",
           CHUNKS, GOAL_BYTES);
    printf("  %-10s %-8s %8s %8s %8s\n", "shape", "cadence", "64", "256", "1024");
    struct speed all[3] = {{0}}, regular = {0};
    int bad = 0;
    for (int jitter = 1; jitter >= 0; jitter--)
        for (int s = 0; s < SHAPES; s++) {
            int is_regular = s == SHAPE_COUNTER || s == SHAPE_PRICE || s == SHAPE_READING;
            printf("  %-10s %-8s", shape_names[s], jitter ? "60s+ms" : "10s");
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                struct speed one = {0};
                double b = bytes_per_point((enum shape)s, jitter, sizes[i], &one.enc_s, &one.dec_s,
                                           &one.points);
                bad |= b < 0;
                printf(" %8.3f", b);
                all[i].enc_s += one.enc_s;
                all[i].dec_s += one.dec_s;
                all[i].points += one.points;
                if (is_regular && jitter && sizes[i] == 256) {
                    regular.enc_s += one.enc_s;
                    regular.dec_s += one.dec_s;
                    regular.points += one.points;
                }
            }
            printf("%s\n", is_regular && jitter ? "  (goal at 256: 2.5)" : "");
        }
    printf("  points per CPU second:\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "every shape, %zu points:", sizes[i]);
        print_speed(what, &all[i]);
    }
    print_speed("regular with jitter, 256 points:", &regular);
    if (bad)
        printf("  a chunk did not read back bit for bit: the figures above are void\n");
    return bad;
}
