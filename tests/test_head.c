/* test_head.c — the in-memory head: puts, reads, the flush cursor, and the
 * reader grace period that lets a query see every sample exactly once
 * while chunks are flushed beside it. */
#include "check.h"
#include "head.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static long read_all(struct head *h, int64_t series, struct chunk_point **buf, size_t *cap)
{
    return head_read(h, series, INT64_MIN, INT64_MAX, buf, cap);
}

TEST(head_put_appends_inserts_replaces)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    static const struct {
        int64_t ts;
        double value;
        int rc;
        double old;
    } puts[] = {
        {10, 1.0, HEAD_NEW, 0},         {20, 2.0, HEAD_NEW, 0},        {30, 3.0, HEAD_NEW, 0},
        {15, 1.5, HEAD_NEW, 0},         {20, 2.5, HEAD_REPLACED, 2},   {5, 0.5, HEAD_NEW, 0},
        {30, 3.5, HEAD_REPLACED, 3},    {5, 0.25, HEAD_REPLACED, 0.5}, {-7, -1, HEAD_NEW, 0},
        {15, 1.75, HEAD_REPLACED, 1.5},
    };
    for (size_t i = 0; i < sizeof puts / sizeof puts[0]; i++) {
        double old = -99;
        CHECK_INT(head_put(h, 42, puts[i].ts, puts[i].value, &old), puts[i].rc);
        if (puts[i].rc == HEAD_REPLACED)
            CHECK_DBL(old, puts[i].old);
        else
            CHECK_DBL(old, -99); /* untouched */
    }
    CHECK_INT(head_put(h, 42, 40, 4.0, NULL), HEAD_NEW);
    CHECK_INT(head_put(h, 42, 40, 4.5, NULL), HEAD_REPLACED);
    static const struct chunk_point want[] = {{-7, -1},  {5, 0.25}, {10, 1.0}, {15, 1.75},
                                              {20, 2.5}, {30, 3.5}, {40, 4.5}};
    struct chunk_point *buf = NULL;
    size_t cap = 0;
    CHECK_INT(read_all(h, 42, &buf, &cap), 7);
    for (size_t i = 0; i < 7; i++) {
        CHECK_INT(buf[i].ts, want[i].ts);
        CHECK(buf[i].value == want[i].value);
    }
    struct head_stats st;
    head_get_stats(h, &st);
    CHECK_INT(st.series, 1);
    CHECK_INT(st.points, 7);
    CHECK(st.bytes >= 7 * sizeof(struct chunk_point));
    CHECK_INT(st.drops_waiting, 0);
    free(buf);
    head_free(h);
}

TEST(head_many_series_across_stripes)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    enum { N = 20000, P = 6 };
    /* descending ts within each series: every put after the first inserts at
     * the front; ids spread (negative ones too) */
    for (int p = P - 1; p >= 0; p--)
        for (int64_t i = 0; i < N; i++)
            CHECK_INT(head_put(h, i * 7919 - 50000, 1000 + p * 10, (double)(i + p), NULL),
                      HEAD_NEW);
    struct head_stats st;
    head_get_stats(h, &st);
    CHECK_INT(st.series, N);
    CHECK_INT(st.points, N * P);
    struct chunk_point *buf = NULL, last;
    size_t cap = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t id = i * 7919 - 50000;
        CHECK_INT(read_all(h, id, &buf, &cap), P);
        for (int p = 0; p < P; p++) {
            CHECK_INT(buf[p].ts, 1000 + p * 10);
            CHECK(buf[p].value == (double)(i + p));
        }
        CHECK(head_last(h, id, &last));
        CHECK_INT(last.ts, 1000 + (P - 1) * 10);
    }
    CHECK(!head_last(h, 1, &last)); /* 1 is not i * 7919 - 50000 for any i */
    CHECK_INT(read_all(h, 1, &buf, &cap), 0);
    free(buf);
    head_free(h);
}

TEST(head_read_ranges)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    for (int64_t ts = 0; ts < 100; ts += 10)
        head_put(h, 7, ts, (double)ts, NULL);
    static const struct {
        int64_t from, to;
        long n;
        int64_t first;
    } cases[] = {
        {0, 90, 10, 0},         {1, 89, 8, 10},
        {10, 10, 1, 10},        {11, 19, 0, 0},
        {90, INT64_MAX, 1, 90}, {INT64_MIN, -1, 0, 0},
        {INT64_MIN, 0, 1, 0},   {50, 40, 0, 0},
        {95, 1000, 0, 0},       {INT64_MIN, INT64_MAX, 10, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct chunk_point *buf = NULL;
        size_t cap = 0;
        long n = head_read(h, 7, cases[i].from, cases[i].to, &buf, &cap);
        CHECK_INT(n, cases[i].n);
        CHECK(cap >= (size_t)n);
        if (n > 0)
            CHECK_INT(buf[0].ts, cases[i].first);
        for (long k = 1; k < n; k++)
            CHECK(buf[k].ts == buf[k - 1].ts + 10);
        free(buf);
    }
    struct chunk_point last;
    CHECK(head_last(h, 7, &last));
    CHECK_INT(last.ts, 90);
    head_free(h);
}

struct offers {
    int64_t ids[256];
    size_t n[256];
    int count;
    int stop_after; /* fn returns 1 on this offer (0: never) */
};

static int record_offer(void *ctx, int64_t series, const struct chunk_point *pts, size_t n)
{
    struct offers *o = ctx;
    if (o->count < 256) {
        o->ids[o->count] = series;
        o->n[o->count] = n;
    }
    o->count++;
    for (size_t i = 1; i < n; i++)
        if (pts[i].ts <= pts[i - 1].ts)
            return 1;
    return o->stop_after && o->count == o->stop_after;
}

TEST(head_each_before_cursor)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    for (int64_t s = 1; s <= 100; s++)
        for (int64_t ts = 0; ts < 10; ts++)
            head_put(h, s, ts, 0, NULL);
    for (int64_t ts = 5; ts < 10; ts++) /* 101: nothing before 5 */
        head_put(h, 101, ts, 0, NULL);
    bool seen[102] = {false};
    static const size_t want[] = {30, 30, 30, 10};
    for (int call = 0; call < 4; call++) {
        struct offers o = {.count = 0};
        CHECK_INT(head_each_before(h, 5, 30, record_offer, &o), want[call]);
        CHECK_INT(o.count, want[call]);
        for (int i = 0; i < o.count; i++) {
            CHECK(o.ids[i] >= 1 && o.ids[i] <= 100);
            CHECK(!seen[o.ids[i]]); /* the cursor goes on: no series twice */
            seen[o.ids[i]] = true;
            CHECK_INT(o.n[i], 5);
            CHECK_INT(head_flushed(h, o.ids[i], 5), 0);
        }
        if (call < 3)
            continue;
        /* a reader inside: the drops wait, and flushed series are not offered again */
        unsigned t = head_reader_enter(h);
        CHECK_INT(head_reclaim(h), 0);
        CHECK_INT(head_each_before(h, 5, 30, record_offer, &o), 0);
        head_put(h, 1, 4, 0.4, NULL); /* cancels series 1's drop: offered again */
        CHECK_INT(head_each_before(h, 5, 30, record_offer, &o), 1);
        CHECK_INT(o.ids[o.count - 1], 1);
        CHECK_INT(head_flushed(h, 1, 5), 0);
        head_reader_exit(h, t);
        CHECK_INT(head_reclaim(h), 100 * 5);
    }
    for (int s = 1; s <= 100; s++)
        CHECK(seen[s]);
    CHECK_INT(head_each_before(h, 5, 30, record_offer, &(struct offers){.count = 0}), 0);
    for (int64_t s = 1; s <= 100; s++)
        head_put(h, s, 0, 0, NULL);
    /* round again from where it stopped; fn's non-zero stops early */
    struct offers o = {.stop_after = 3};
    CHECK_INT(head_each_before(h, 5, 30, record_offer, &o), 3);
    CHECK_INT(head_each_before(h, 0, 30, record_offer, &o), 0); /* nothing before 0 */
    CHECK_INT(head_each_before(h, 5, 0, record_offer, &o), 0);
    /* head_each: every series with all its points */
    struct offers all = {.count = 0};
    head_each(h, record_offer, &all);
    CHECK_INT(all.count, 101);
    head_free(h);
}

static void put_range(struct head *h, int64_t series, int64_t from, int64_t to)
{
    for (int64_t ts = from; ts < to; ts++)
        head_put(h, series, ts, (double)ts, NULL);
}

TEST(head_flushed_reclaim_without_readers)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    put_range(h, 1, 0, 10);
    put_range(h, 2, 0, 10);
    CHECK_INT(head_flushed(h, 1, 5), 0);
    CHECK_INT(head_flushed(h, 2, 0), 0);  /* nothing before 0: no drop */
    CHECK_INT(head_flushed(h, 99, 5), 0); /* an unknown series */
    struct head_stats st;
    head_get_stats(h, &st);
    CHECK_INT(st.drops_waiting, 1);
    struct chunk_point *buf = NULL;
    size_t cap = 0;
    CHECK_INT(read_all(h, 1, &buf, &cap), 10); /* queued, not applied */
    CHECK_INT(head_reclaim(h), 5);
    CHECK_INT(read_all(h, 1, &buf, &cap), 5);
    CHECK_INT(buf[0].ts, 5);
    head_get_stats(h, &st);
    CHECK_INT(st.drops_waiting, 0);
    CHECK_INT(st.points, 15);
    CHECK_INT(st.series, 2);
    CHECK_INT(head_flushed(h, 1, 100), 0); /* all of it */
    CHECK_INT(head_reclaim(h), 5);
    head_get_stats(h, &st);
    CHECK_INT(st.series, 1);
    CHECK_INT(st.points, 10);
    CHECK_INT(read_all(h, 1, &buf, &cap), 0);
    CHECK_INT(head_reclaim(h), 0);
    free(buf);
    head_free(h);
}

TEST(head_reader_inside_keeps_points)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    put_range(h, 1, 0, 10);
    unsigned early = head_reader_enter(h); /* its snapshot predates the chunk */
    CHECK_INT(head_flushed(h, 1, 5), 0);
    CHECK_INT(head_reclaim(h), 0);
    unsigned late = head_reader_enter(h); /* entered after: has the chunk */
    struct chunk_point *buf = NULL;
    size_t cap = 0;
    CHECK_INT(read_all(h, 1, &buf, &cap), 10); /* the early reader still sees them */
    CHECK_INT(head_reclaim(h), 0);
    head_reader_exit(h, early);
    CHECK_INT(head_reclaim(h), 5); /* the late reader does not hold it up */
    CHECK_INT(read_all(h, 1, &buf, &cap), 5);
    /* the late reader now holds up a drop queued while it is inside */
    CHECK_INT(head_flushed(h, 1, 8), 0);
    CHECK_INT(head_reclaim(h), 0);
    CHECK_INT(read_all(h, 1, &buf, &cap), 5);
    head_reader_exit(h, late);
    CHECK_INT(head_reclaim(h), 3);
    CHECK_INT(read_all(h, 1, &buf, &cap), 2);
    free(buf);
    head_free(h);
}

TEST(head_put_cancels_waiting_drop)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    put_range(h, 1, 0, 10);
    put_range(h, 2, 0, 10);
    unsigned t = head_reader_enter(h);
    CHECK_INT(head_flushed(h, 1, 5), 0);
    CHECK_INT(head_flushed(h, 2, 5), 0);
    CHECK_INT(head_reclaim(h), 0);
    CHECK_INT(head_put(h, 1, 12, 12, NULL), HEAD_NEW); /* not in the range: keeps it */
    struct head_stats st;
    head_get_stats(h, &st);
    CHECK_INT(st.drops_waiting, 2);
    double old = 0;
    CHECK_INT(head_put(h, 1, 3, 33, &old), HEAD_REPLACED); /* a replacement of a flushed point */
    CHECK_DBL(old, 3);
    head_get_stats(h, &st);
    CHECK_INT(st.drops_waiting, 1);
    head_reader_exit(h, t);
    CHECK_INT(head_reclaim(h), 5); /* series 2 only */
    struct chunk_point *buf = NULL;
    size_t cap = 0;
    CHECK_INT(read_all(h, 1, &buf, &cap), 11);
    CHECK(buf[3].value == 33);
    CHECK_INT(read_all(h, 2, &buf, &cap), 5);
    /* the next flush writes them again, and then they go */
    CHECK_INT(head_flushed(h, 1, 5), 0);
    CHECK_INT(head_reclaim(h), 5);
    CHECK_INT(read_all(h, 1, &buf, &cap), 6);
    free(buf);
    head_free(h);
}

TEST(head_put_between_offer_and_flushed_keeps_points)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    put_range(h, 1, 0, 10);
    struct offers o = {.count = 0};
    CHECK_INT(head_each_before(h, 5, 10, record_offer, &o), 1);
    CHECK_INT(head_put(h, 1, 2, 22, NULL), HEAD_REPLACED); /* the chunk has the old value */
    CHECK_INT(head_flushed(h, 1, 5), 0);
    CHECK_INT(head_reclaim(h), 0);
    struct chunk_point *buf = NULL;
    size_t cap = 0;
    CHECK_INT(read_all(h, 1, &buf, &cap), 10);
    /* offered again, no put in between: dropped */
    CHECK_INT(head_each_before(h, 5, 10, record_offer, &o), 1);
    CHECK_INT(head_put(h, 1, 20, 20, NULL), HEAD_NEW); /* after the range: harmless */
    CHECK_INT(head_flushed(h, 1, 5), 0);
    CHECK_INT(head_reclaim(h), 5);
    free(buf);
    head_free(h);
}

TEST(head_shrinks_after_a_burst)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    put_range(h, 1, 0, 100000);
    struct head_stats st;
    head_get_stats(h, &st);
    CHECK(st.bytes >= 100000 * sizeof(struct chunk_point));
    CHECK(st.bytes <= 100000 * sizeof(struct chunk_point) * 3 / 2 + 1024);
    CHECK_INT(head_flushed(h, 1, 99990), 0);
    CHECK_INT(head_reclaim(h), 99990);
    head_get_stats(h, &st);
    CHECK_INT(st.points, 10);
    CHECK(st.bytes <= 32 * sizeof(struct chunk_point));
    CHECK_INT(head_flushed(h, 1, 100000), 0);
    CHECK_INT(head_reclaim(h), 10);
    head_get_stats(h, &st);
    CHECK_INT(st.bytes, 0); /* an empty series costs its slot only */
    head_free(h);
}

/* --- the threaded test: readers against the loop's puts and flushes ---- */

enum { TH_SERIES = 16, TH_KEEP = 24 };

struct th {
    struct head *h;
    _Atomic int64_t put_upto[TH_SERIES];  /* ts < this have been put */
    _Atomic int64_t committed[TH_SERIES]; /* "chunks" hold every ts < this */
    _Atomic bool done;
    _Atomic long checks, failures;
};

static double th_value(int64_t s, int64_t ts)
{
    return (double)ts * 10 + (double)s;
}

struct th_flush {
    struct th *t;
    int64_t before;
    int64_t offered[TH_SERIES];
    int n;
};

static int th_offer(void *ctx, int64_t series, const struct chunk_point *pts, size_t n)
{
    struct th_flush *f = ctx;
    f->offered[f->n++] = series;
    return 0;
}

static void *th_reader(void *arg)
{
    struct th *t = arg;
    struct chunk_point *buf = NULL;
    size_t cap = 0;
    unsigned seed = (unsigned)(uintptr_t)&buf;
    while (!atomic_load(&t->done)) {
        int64_t s = rand_r(&seed) % TH_SERIES;
        unsigned ticket = head_reader_enter(t->h);
        int64_t upto = atomic_load(&t->put_upto[s]);    /* what was put... */
        int64_t chunks = atomic_load(&t->committed[s]); /* ...and the snapshot */
        if (rand_r(&seed) % 4 == 0)
            usleep(20); /* a query that takes its time between snapshot and head */
        long n = head_read(t->h, s, 0, upto - 1, &buf, &cap);
        /* every ts in [chunks, upto) must be in the head, right-valued */
        long k = 0;
        for (int64_t ts = chunks; ts < upto && n >= 0; ts++) {
            while (k < n && buf[k].ts < ts)
                k++;
            if (k >= n || buf[k].ts != ts || buf[k].value != th_value(s, ts)) {
                atomic_fetch_add(&t->failures, 1);
                break;
            }
        }
        head_reader_exit(t->h, ticket);
        atomic_fetch_add(&t->checks, 1);
    }
    free(buf);
    return NULL;
}

TEST(head_readers_see_every_point_once_flushed)
{
    struct th t = {.checks = 0};
    CHECK_INT(head_create(&t.h), 0);
    pthread_t readers[2];
    for (int i = 0; i < 2; i++)
        CHECK_INT(pthread_create(&readers[i], NULL, th_reader, &t), 0);
    int64_t next[TH_SERIES] = {0};
    uint64_t start = util_mono_ns();
    long puts = 0, flushes = 0, dropped = 0, replaced = 0, flush_errors = 0;
    /* bounded by count and time (TSan is slow) */
    while (puts < 400000 && util_mono_ns() - start < 3000000000ull) {
        for (int s = 0; s < TH_SERIES; s++) {
            head_put(t.h, s, next[s], th_value(s, next[s]), NULL);
            atomic_store(&t.put_upto[s], ++next[s]);
            puts++;
        }
        if (puts % 1024 == 0 && next[0] > 40) { /* a replacement, maybe of a flushed point */
            int s = (int)(puts / 1024) % TH_SERIES;
            int64_t ts = next[s] - 30;
            if (head_put(t.h, s, ts, th_value(s, ts), NULL) == HEAD_REPLACED)
                replaced++;
        }
        if (puts % 64 == 0) { /* flush: offer, "commit" the chunks, then flushed */
            struct th_flush f = {.t = &t, .before = next[0] - TH_KEEP};
            head_each_before(t.h, f.before, TH_SERIES, th_offer, &f);
            for (int i = 0; i < f.n; i++)
                if (atomic_load(&t.committed[f.offered[i]]) < f.before)
                    atomic_store(&t.committed[f.offered[i]], f.before);
            for (int i = 0; i < f.n; i++)
                flush_errors += head_flushed(t.h, f.offered[i], f.before) != 0;
            flushes++;
        }
        dropped += (long)head_reclaim(t.h);
    }
    atomic_store(&t.done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(readers[i], NULL);
    printf("# threaded: %ld puts, %ld flushes, %ld dropped, %ld replaced, %ld reader checks\n",
           puts, flushes, dropped, replaced, atomic_load(&t.checks));
    CHECK_INT(atomic_load(&t.failures), 0);
    CHECK_INT(flush_errors, 0);
    CHECK(atomic_load(&t.checks) > 100);
    CHECK(flushes > 10);
    dropped += (long)head_reclaim(t.h); /* no readers now: what was flushed goes */
    dropped += (long)head_reclaim(t.h);
    struct head_stats st;
    head_get_stats(t.h, &st);
    printf("# threaded: %llu points left, %llu drops waiting\n", (unsigned long long)st.points,
           (unsigned long long)st.drops_waiting);
    CHECK(dropped > puts / 2); /* the head did not just keep everything */
    CHECK(st.points <= (uint64_t)TH_SERIES * (TH_KEEP + 64 / TH_SERIES) + (uint64_t)replaced);
    CHECK_INT(st.drops_waiting, 0);
    head_free(t.h);
}

/* Figures: put throughput (appends over 2,000 series). */
TEST(head_put_throughput)
{
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    enum { SERIES = 2000, PER = 500 };
    uint64_t t0 = util_mono_ns();
    for (int64_t ts = 0; ts < PER; ts++)
        for (int64_t s = 0; s < SERIES; s++)
            head_put(h, s, 1700000000000 + ts * 1000, (double)ts, NULL);
    double secs = (double)(util_mono_ns() - t0) / 1e9;
    struct head_stats st;
    head_get_stats(h, &st);
    printf("# head_put: %.1f M points/s (%d series x %d), %.1f B/point in memory\n",
           SERIES * PER / secs / 1e6, SERIES, PER, (double)st.bytes / (double)st.points);
    CHECK_INT(st.points, SERIES * PER);
    CHECK(secs < 10); /* generous: ~0.1 s here, sanitizers and a busy machine aside */
    head_free(h);
}

TEST_MAIN(CASE(head_put_appends_inserts_replaces), CASE(head_many_series_across_stripes),
          CASE(head_read_ranges), CASE(head_each_before_cursor),
          CASE(head_flushed_reclaim_without_readers), CASE(head_reader_inside_keeps_points),
          CASE(head_put_cancels_waiting_drop),
          CASE(head_put_between_offer_and_flushed_keeps_points), CASE(head_shrinks_after_a_burst),
          CASE(head_readers_see_every_point_once_flushed), CASE(head_put_throughput))
