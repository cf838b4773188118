/* test_headlog.c — the head's log: round trips, torn and damaged tails, a
 * disk that fills up, compaction (and what postpones it), and its figures. */
#include "check.h"
#include "head.h"
#include "headlog.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- what replay hands over ------------------------------------------- */

struct event {
    char type; /* 's' sample, 'f' flushed */
    int64_t series, ts;
    uint64_t bits; /* the value's, to compare NaN and -0 exactly */
    int64_t commit_ms;
};

struct events {
    struct event *v;
    size_t n, cap;
    struct head *h; /* when set, replay into it as the store would */
};

static int ev_push(struct events *e, struct event x)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
        if (!e->v)
            return 1;
    }
    e->v[e->n++] = x;
    return 0;
}

static uint64_t bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static int ev_sample(void *ctx, int64_t series, int64_t ts, double value, int64_t commit_ms)
{
    struct events *e = ctx;
    if (e->h && head_put(e->h, series, ts, value, NULL) == HEAD_NOMEM)
        return 1;
    return ev_push(e, (struct event){'s', series, ts, bits_of(value), commit_ms});
}

static int ev_flushed(void *ctx, int64_t series, int64_t before)
{
    struct events *e = ctx;
    if (e->h) {
        if (head_flushed(e->h, series, before) != 0)
            return 1;
        head_reclaim(e->h);
    }
    return ev_push(e, (struct event){'f', series, before, 0, 0});
}

static int open_log(struct headlog **l, const char *path, struct events *e, uint64_t *n)
{
    e->n = 0;
    struct headlog_replay rp = {ev_sample, ev_flushed, e};
    return headlog_open(l, path, &rp, n);
}

/* a's first n events are b's n. */
static bool starts_with(const struct events *a, const struct event *b, size_t n)
{
    if (a->n < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct event *x = &a->v[i], *y = &b[i];
        if (x->type != y->type || x->series != y->series || x->ts != y->ts || x->bits != y->bits ||
            x->commit_ms != y->commit_ms)
            return false;
    }
    return true;
}

static bool same_events(const struct events *a, const struct event *b, size_t n)
{
    return a->n == n && starts_with(a, b, n);
}

/* A fresh directory per case, removed with what is in it. */
struct dir {
    char path[64], log[96];
};

static void dir_make(struct dir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/test_headlog.XXXXXX");
    if (!mkdtemp(d->path))
        abort();
    snprintf(d->log, sizeof d->log, "%s/pantau.db-head", d->path);
}

static void dir_remove(struct dir *d)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", d->path);
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : UINT64_MAX;
}

static uint8_t *file_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n ? *n : 1);
    if (p && fread(p, 1, *n, f) != *n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static void file_write(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

/* Three commits of a test's log and the events they replay to; sizes[i]
 * is the file's size after commit i (sizes[0]: the header alone). */
struct three {
    struct event want[64];
    size_t n_want[4]; /* events replayed after i commits */
    uint64_t sizes[4];
};

static int write_three(const char *path, struct three *t)
{
    struct headlog *l;
    struct events e = {0};
    if (open_log(&l, path, &e, NULL) != 0)
        return -1;
    free(e.v);
    size_t n = 0;
    t->sizes[0] = file_size(path);
    t->n_want[0] = 0;
    for (int c = 1; c <= 3; c++) {
        int64_t commit = 1700000000000 + c * 1000;
        for (int i = 0; i < 5; i++) {
            int64_t series = c * 100 + i, ts = 1700000000000 + i * 997 - c * 5000;
            double v = c * 1.5 + i;
            if (headlog_add(l, series, ts, v) != 0)
                return -1;
            t->want[n++] = (struct event){'s', series, ts, bits_of(v), commit};
        }
        if (headlog_add_flushed(l, c * 100, 1700000000000 + c) != 0)
            return -1;
        t->want[n++] = (struct event){'f', c * 100, 1700000000000 + c, 0, 0};
        if (headlog_commit(l, commit) != 0)
            return -1;
        t->sizes[c] = file_size(path);
        t->n_want[c] = n;
    }
    headlog_close(l);
    return 0;
}

TEST(headlog_round_trip)
{
    struct dir d;
    dir_make(&d);
    struct headlog *l;
    struct events e = {0};
    uint64_t n = 99;
    CHECK_INT(open_log(&l, d.log, &e, &n), 0);
    CHECK_INT(n, 0);
    CHECK_INT(file_size(d.log), 8); /* the header */
    static const struct {
        int64_t series, ts;
        double v;
    } in[] = {
        {1, 1700000000000, 21.5},    {1, 1700000000000, 21.75}, /* a replacement, logged as it came
                                                                 */
        {2000, 1699999999000, -0.0}, {INT64_MAX, INT64_MIN, 1e308}, {0, INT64_MAX, -1e-308},
        {-5, 0, 3.141592653589793},  {77, 1700000000123, 0.1},
    };
    struct event want[32];
    size_t nw = 0;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        CHECK_INT(headlog_add(l, in[i].series, in[i].ts, in[i].v), 0);
        want[nw++] = (struct event){'s', in[i].series, in[i].ts, bits_of(in[i].v), 123456};
    }
    double nan_payload;
    uint64_t nan_bits = 0x7ff8000000000abcULL;
    memcpy(&nan_payload, &nan_bits, sizeof nan_payload);
    CHECK_INT(headlog_add(l, 3, 5, nan_payload), 0);
    want[nw++] = (struct event){'s', 3, 5, nan_bits, 123456};
    CHECK_INT(headlog_add_flushed(l, 1, 1700000000001), 0);
    CHECK_INT(headlog_add_flushed(l, 2000, -7), 0);
    want[nw++] = (struct event){'f', 1, 1700000000001, 0, 0};
    want[nw++] = (struct event){'f', 2000, -7, 0, 0};
    CHECK_INT(headlog_commit(l, 123456), 0);
    /* a rolled-back group leaves nothing */
    CHECK_INT(headlog_add(l, 9, 9, 9), 0);
    headlog_discard(l);
    CHECK_INT(headlog_commit(l, 7), 0);
    /* a commit of flushed records only, then one of samples only */
    CHECK_INT(headlog_add_flushed(l, 2000, 1699999999001), 0);
    want[nw++] = (struct event){'f', 2000, 1699999999001, 0, 0};
    CHECK_INT(headlog_commit(l, 200000), 0);
    CHECK_INT(headlog_add(l, 2000, 1699999999000, 8), 0); /* newer than its chunk */
    want[nw++] = (struct event){'s', 2000, 1699999999000, bits_of(8), -300};
    CHECK_INT(headlog_commit(l, -300), 0);
    struct headlog_stats st;
    headlog_get_stats(l, &st);
    CHECK_INT(st.records, 4);
    CHECK_INT(st.size, file_size(d.log));
    CHECK_INT(st.cut_bytes, 0);
    headlog_close(l);

    CHECK_INT(open_log(&l, d.log, &e, &n), 0);
    CHECK_INT(n, 9);
    CHECK(same_events(&e, want, nw));
    headlog_get_stats(l, &st);
    CHECK_INT(st.cut_bytes, 0);
    CHECK_INT(st.records, 0);
    /* appends after a replay go on from its end */
    CHECK_INT(headlog_add(l, 4, 4, 4), 0);
    want[nw++] = (struct event){'s', 4, 4, bits_of(4), 1};
    CHECK_INT(headlog_commit(l, 1), 0);
    headlog_close(l);
    CHECK_INT(open_log(&l, d.log, &e, &n), 0);
    CHECK(same_events(&e, want, nw));
    headlog_close(l);
    free(e.v);
    dir_remove(&d);
}

TEST(headlog_torn_tail_at_every_offset)
{
    struct dir d;
    dir_make(&d);
    struct three t;
    CHECK_INT(write_three(d.log, &t), 0);
    size_t size;
    uint8_t *whole = file_read(d.log, &size);
    CHECK(whole && size == t.sizes[3]);
    struct events e = {0};
    for (uint64_t cut = t.sizes[2]; cut < t.sizes[3]; cut++) {
        file_write(d.log, whole, cut);
        struct headlog *l;
        uint64_t n;
        CHECK_INT(open_log(&l, d.log, &e, &n), 0);
        /* the commit is two records: its samples, then its flushed ones */
        uint64_t kept = file_size(d.log);
        CHECK(kept == t.sizes[2] || (kept > t.sizes[2] && kept <= cut));
        CHECK(same_events(&e, t.want, kept == t.sizes[2] ? t.n_want[2] : t.n_want[3] - 1));
        struct headlog_stats st;
        headlog_get_stats(l, &st);
        CHECK_INT(st.cut_bytes, cut - kept);
        if (cut % 7 == 0) { /* and the log goes on after the cut */
            CHECK_INT(headlog_add(l, 1, 2, 3), 0);
            CHECK_INT(headlog_commit(l, 4), 0);
            headlog_close(l);
            CHECK_INT(open_log(&l, d.log, &e, &n), 0);
            CHECK(starts_with(&e, t.want, t.n_want[2]));
            headlog_get_stats(l, &st);
            CHECK_INT(st.cut_bytes, 0);
        }
        headlog_close(l);
    }
    free(whole);
    free(e.v);
    dir_remove(&d);
}

TEST(headlog_flipped_byte_in_last_record_is_cut)
{
    struct dir d;
    dir_make(&d);
    struct three t;
    CHECK_INT(write_three(d.log, &t), 0);
    size_t size;
    uint8_t *whole = file_read(d.log, &size);
    CHECK(whole);
    struct events e = {0};
    /* the third commit is two records; any byte of them, any flip */
    for (uint64_t at = t.sizes[2]; at < t.sizes[3]; at++) {
        for (int bit = 0; bit < 8; bit += 3) {
            whole[at] ^= (uint8_t)(1u << bit);
            file_write(d.log, whole, size);
            whole[at] ^= (uint8_t)(1u << bit);
            struct headlog *l;
            CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
            /* its records up to the flipped one replay, nothing after */
            CHECK(e.n >= t.n_want[2] && e.n < t.n_want[3]);
            CHECK(starts_with(&e, t.want, e.n));
            CHECK(file_size(d.log) < t.sizes[3]);
            headlog_close(l);
        }
    }
    free(whole);
    free(e.v);
    dir_remove(&d);
}

/* Damage in the middle: nothing from the damaged record on is replayed
 * (and the file is cut there, with an error in the log). */
TEST(headlog_flipped_byte_in_middle_record_cuts_from_there)
{
    struct dir d;
    dir_make(&d);
    struct three t;
    CHECK_INT(write_three(d.log, &t), 0);
    size_t size;
    uint8_t *whole = file_read(d.log, &size);
    CHECK(whole);
    struct events e = {0};
    for (uint64_t at = t.sizes[1]; at < t.sizes[2]; at += 5) {
        whole[at] ^= 0x10;
        file_write(d.log, whole, size);
        whole[at] ^= 0x10;
        struct headlog *l;
        CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
        CHECK(e.n >= t.n_want[1] && e.n < t.n_want[2]);
        CHECK(starts_with(&e, t.want, e.n));
        struct headlog_stats st;
        headlog_get_stats(l, &st);
        CHECK(st.cut_bytes > t.sizes[3] - t.sizes[2]); /* the third commit went too */
        headlog_close(l);
    }
    free(whole);
    free(e.v);
    dir_remove(&d);
}

/* A disk that fills up: the hook writes `budget` bytes, then ENOSPC. */
static long write_budget;
static int write_calls;

static ssize_t short_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    write_calls++;
    if (write_budget <= 0) {
        errno = ENOSPC;
        return -1;
    }
    size_t k = n < (size_t)write_budget ? n : (size_t)write_budget;
    if (k > 3)
        k = k / 2; /* short writes on the way */
    write_budget -= (long)k;
    return pwrite(fd, buf, k, off);
}

TEST(headlog_enospc_leaves_the_file_whole)
{
    struct dir d;
    dir_make(&d);
    struct three t;
    CHECK_INT(write_three(d.log, &t), 0);
    struct headlog *l;
    struct events e = {0};
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    for (int i = 0; i < 50; i++)
        CHECK_INT(headlog_add(l, 500 + i, 1700000000000 + i, i), 0);
    CHECK_INT(headlog_add_flushed(l, 500, 1700000000001), 0);
    write_budget = 100; /* part of the commit fits */
    write_calls = 0;
    headlog_test_set_pwrite(short_pwrite);
    errno = 0;
    CHECK_INT(headlog_commit(l, 5), -1);
    CHECK_INT(errno, ENOSPC);
    CHECK(write_calls > 2);                  /* short writes were continued before it failed */
    CHECK_INT(file_size(d.log), t.sizes[3]); /* cut back: whole */
    CHECK_INT(headlog_commit(l, 6), -1);     /* still full */
    CHECK_INT(file_size(d.log), t.sizes[3]);
    write_budget = 1 << 20; /* room again; writes still come short */
    CHECK_INT(headlog_commit(l, 7), 0);
    headlog_test_set_pwrite(NULL);
    headlog_close(l);
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK_INT(e.n, t.n_want[3] + 51); /* every sample of the failed commits */
    CHECK(starts_with(&e, t.want, t.n_want[3]));
    CHECK_INT(e.v[t.n_want[3]].series, 500);
    CHECK_INT(e.v[t.n_want[3]].commit_ms, 7);
    CHECK_INT(e.v[e.n - 1].type, 'f');
    struct headlog_stats st;
    headlog_get_stats(l, &st);
    CHECK_INT(st.cut_bytes, 0);
    headlog_close(l);
    free(e.v);
    dir_remove(&d);
}

/* Collects a head's content, sorted by (series, ts), for comparison. */
static int collect(void *ctx, int64_t series, const struct chunk_point *pts, size_t n)
{
    struct events *e = ctx;
    for (size_t i = 0; i < n; i++)
        if (ev_push(e, (struct event){'s', series, pts[i].ts, bits_of(pts[i].value), 0}))
            return 1;
    return 0;
}

static int cmp_event(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static bool same_head(struct head *a, struct head *b)
{
    struct events ea = {0}, eb = {0};
    head_each(a, collect, &ea);
    head_each(b, collect, &eb);
    qsort(ea.v, ea.n, sizeof *ea.v, cmp_event);
    qsort(eb.v, eb.n, sizeof *eb.v, cmp_event);
    bool same = ea.n > 0 && same_events(&ea, eb.v, eb.n);
    free(ea.v);
    free(eb.v);
    return same;
}

/* A store's life in small: puts logged, some flushed. */
static int fill(struct headlog *l, struct head *h, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        for (int64_t s = 1; s <= 50; s++) {
            int64_t ts = 1700000000000 + r * 1000 + s;
            if (head_put(h, s, ts, r * 0.5 + (double)s, NULL) == HEAD_NOMEM ||
                headlog_add(l, s, ts, r * 0.5 + (double)s) != 0)
                return -1;
        }
        if (r % 10 == 9) {
            int64_t before = 1700000000000 + (r - 5) * 1000;
            for (int64_t s = 1; s <= 50; s += 2) {
                if (head_flushed(h, s, before) != 0 || headlog_add_flushed(l, s, before) != 0)
                    return -1;
            }
            head_reclaim(h);
        }
        if (headlog_commit(l, 1700000000000 + r * 1000) != 0)
            return -1;
    }
    return 0;
}

TEST(headlog_compaction_replays_to_the_same_head)
{
    struct dir d;
    dir_make(&d);
    struct headlog *l;
    struct events e = {0};
    struct head *h, *h2, *h3;
    CHECK_INT(head_create(&h), 0);
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK_INT(fill(l, h, 100), 0);
    /* before compaction, the log replays to the head */
    headlog_close(l);
    CHECK_INT(head_create(&h2), 0);
    e.h = h2;
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK(same_head(h, h2));
    uint64_t before = file_size(d.log);
    CHECK(headlog_wants_compaction(l, 0, before - 1));
    CHECK(!headlog_wants_compaction(l, 0, before));
    CHECK(!headlog_wants_compaction(l, before / 2 + 1, 0));
    CHECK(headlog_wants_compaction(l, (before - 1) / 2, 0));
    CHECK(!headlog_wants_compaction(l, UINT64_MAX, 0));
    CHECK_INT(headlog_compact(l, h, 1700000999000), 0);
    struct headlog_stats st;
    headlog_get_stats(l, &st);
    CHECK_INT(st.compactions, 1);
    CHECK_INT(st.size, file_size(d.log));
    CHECK(st.size < before);
    /* the log goes on in the new file */
    CHECK_INT(fill(l, h, 20), 0);
    headlog_close(l);
    CHECK_INT(head_create(&h3), 0);
    e.h = h3;
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK(same_head(h, h3));
    headlog_close(l);
    head_free(h);
    head_free(h2);
    head_free(h3);
    free(e.v);
    dir_remove(&d);
}

TEST(headlog_stale_new_file_is_removed)
{
    struct dir d;
    dir_make(&d);
    struct three t;
    CHECK_INT(write_three(d.log, &t), 0);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.new", d.log);
    file_write(tmp, (const uint8_t *)"PHLG\1\0\0\0half a compaction", 25);
    struct headlog *l;
    struct events e = {0};
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(same_events(&e, t.want, t.n_want[3]));
    headlog_close(l);
    free(e.v);
    dir_remove(&d);
}

TEST(headlog_shared_lock_postpones_compaction)
{
    struct dir d;
    dir_make(&d);
    struct headlog *l;
    struct events e = {0};
    struct head *h;
    CHECK_INT(head_create(&h), 0);
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK_INT(fill(l, h, 10), 0);
    int fd = open(d.log, O_RDONLY | O_CLOEXEC); /* as pantaud --backup would */
    CHECK(fd >= 0);
    CHECK_INT(flock(fd, LOCK_SH), 0);
    uint64_t size = file_size(d.log);
    CHECK_INT(headlog_compact(l, h, 1), 1);
    CHECK_INT(file_size(d.log), size);
    CHECK_INT(headlog_add(l, 1, 1, 1), 0);   /* the log still works */
    CHECK_INT(headlog_compact(l, h, 1), -1); /* and refuses with a commit pending */
    CHECK_INT(headlog_commit(l, 1), 0);
    head_put(h, 1, 1, 1, NULL);
    CHECK_INT(flock(fd, LOCK_UN), 0);
    CHECK_INT(headlog_compact(l, h, 1), 0);
    close(fd);
    /* the backup's lock works on the new file too: postponed again */
    fd = open(d.log, O_RDONLY | O_CLOEXEC);
    CHECK_INT(flock(fd, LOCK_SH), 0);
    CHECK_INT(headlog_compact(l, h, 2), 1);
    close(fd);
    CHECK_INT(headlog_compact(l, h, 2), 0);
    headlog_close(l);
    struct head *h2;
    CHECK_INT(head_create(&h2), 0);
    e.h = h2;
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK(same_head(h, h2));
    headlog_close(l);
    head_free(h);
    head_free(h2);
    free(e.v);
    dir_remove(&d);
}

TEST(headlog_refuses_what_is_not_a_head_log)
{
    struct dir d;
    dir_make(&d);
    struct headlog *l = NULL;
    struct events e = {0};
    file_write(d.log, (const uint8_t *)"SQLite format 3\0", 16);
    CHECK_INT(open_log(&l, d.log, &e, NULL), -1);
    CHECK_INT(file_size(d.log), 16);                       /* untouched */
    file_write(d.log, (const uint8_t *)"PHLG\2\0\0\0", 8); /* a newer format */
    CHECK_INT(open_log(&l, d.log, &e, NULL), -1);
    file_write(d.log, (const uint8_t *)"XY", 2);
    CHECK_INT(open_log(&l, d.log, &e, NULL), -1);
    file_write(d.log, (const uint8_t *)"PHL", 3); /* a crash while it was made */
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK_INT(file_size(d.log), 8);
    headlog_close(l);
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    CHECK_INT(e.n, 0);
    headlog_close(l);
    struct stat sb;
    CHECK_INT(stat(d.log, &sb), 0);
    free(e.v);
    dir_remove(&d);
    CHECK_INT(headlog_open(&l, "/nonexistent/dir/db-head", NULL, NULL), -1);
}

/* Figures: bytes a sample at a regency's everyday shape, and replay speed. */
TEST(headlog_figures)
{
    struct dir d;
    dir_make(&d);
    struct headlog *l;
    struct events e = {0};
    CHECK_INT(open_log(&l, d.log, &e, NULL), 0);
    enum { SERIES = 2000, PER_COMMIT = 100, COMMITS = 2000 };
    uint64_t seed = 42;
    int64_t now = 1700000000000;
    for (int c = 0; c < COMMITS; c++) {
        now += 1000;
        for (int i = 0; i < PER_COMMIT; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t series = 1 + (int64_t)((seed >> 33) % SERIES);
            int64_t ts = now - 900 + (int64_t)((seed >> 20) % 1000); /* ms jitter */
            double v = (double)((seed >> 40) % 10000) / 10;          /* one-decimal readings */
            CHECK_INT(headlog_add(l, series, ts, v), 0);
        }
        CHECK_INT(headlog_commit(l, now), 0);
    }
    struct headlog_stats st;
    headlog_get_stats(l, &st);
    double per = (double)(st.size - 8) / (COMMITS * PER_COMMIT);
    headlog_close(l);
    struct headlog_replay rp = {0};
    uint64_t n = 0, t0 = util_mono_ns();
    CHECK_INT(headlog_open(&l, d.log, &rp, &n), 0);
    double secs = (double)(util_mono_ns() - t0) / 1e9;
    headlog_close(l);
    printf("# headlog: %.2f B/sample (%d samples a commit over %d series); replay %.1f M "
           "samples/s (%.0f MB/s)\n",
           per, PER_COMMIT, SERIES, (double)n / secs / 1e6, (double)st.size / secs / 1e6);
    CHECK_INT(n, COMMITS * PER_COMMIT);
    CHECK(per < 16); /* ~12: 2 B series, 2 B ts delta, 8 B value, the record's share */
    free(e.v);
    dir_remove(&d);
}

TEST_MAIN(CASE(headlog_round_trip), CASE(headlog_torn_tail_at_every_offset),
          CASE(headlog_flipped_byte_in_last_record_is_cut),
          CASE(headlog_flipped_byte_in_middle_record_cuts_from_there),
          CASE(headlog_enospc_leaves_the_file_whole),
          CASE(headlog_compaction_replays_to_the_same_head),
          CASE(headlog_stale_new_file_is_removed), CASE(headlog_shared_lock_postpones_compaction),
          CASE(headlog_refuses_what_is_not_a_head_log), CASE(headlog_figures))
