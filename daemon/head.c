/* head.c — see head.h.
 *
 * Layout. HEAD_STRIPES stripes, chosen by the top bits of a mixed hash of
 * the series id; each has a mutex and an open-addressing table (linear
 * probing, power-of-two size, at most 3/4 full) of series records. A
 * record is never removed (a series with no points keeps its slot, as
 * head.h says), so the table needs no tombstones. A record's points are one
 * array sorted by ts, grown by half; after a drop leaves it mostly empty
 * (n < cap / 4) it is shrunk, so a burst does not pin its memory for ever.
 *
 * Who touches what. Only the loop thread writes (records, tables, arrays)
 * and it always writes under the stripe's mutex. Readers (head_read,
 * head_last) only read, and only under the mutex. So the loop thread may
 * read its own structures without the mutex (nobody else writes them):
 * head_each_before and head_each hand out a series' array to a callback
 * with no lock held, and the callback may take its time without holding up
 * a reader. The callback must not call head_put or the drops (it would
 * move the array under itself).
 *
 * Readers and drops (the grace period). Two reader counters and an index
 * `cur` saying which one new readers join:
 *   enter: i = cur; counter[i]++; if cur is still i, the ticket is i; else
 *          counter[i]-- and try again (the loop flipped in between);
 *   exit:  counter[ticket]--.
 * head_flushed appends (series, before, the series' drop generation) to
 * the `next` list. head_reclaim: if a `waiting` list is there, it is
 * applied once counter[waiting_idx] is 0; then, if `next` has entries and
 * nothing waits, the loop flips cur (waiting_idx = the old cur), `next`
 * becomes `waiting`, and it is tried at once (with no reader inside, a
 * drop is applied by the same call that saw it queued).
 * Why it is enough: a reader R that needs a drop's points entered before
 * its snapshot, which began before the chunk's commit, which came before
 * head_flushed queued the drop, which came before the flip F that made its
 * list wait. If R's ticket is the index F flipped away from, the list waits
 * for R's counter. If R's ticket is the other one, a flip F' towards F's
 * old index came after R entered and before F; F' made a list wait for R's
 * counter, and F only happens once that list is applied, i.e. once R's
 * counter was seen at 0 after F': R had left before F. All these atomics
 * are sequentially consistent: R's increment, then its re-read of cur, are
 * ordered with the loop's flip, then its read of the counter, so the loop
 * cannot miss a reader that saw the old index. A reader whose increment
 * comes after the loop read the counter 0 entered after the drop was
 * queued: its snapshot has the chunk, it does not need the points. A
 * reader racing with a flip only delays a list (its transient increment),
 * and retries at most once per flip.
 *
 * The flush cursor. head_each_before goes round the slots of every stripe
 * from where its last call stopped, at most one round a call, so every
 * series gets its turn however small max_series is. A series whose points
 * before `before` are all covered by its queued drops is not offered again
 * while those drops wait for their readers: its chunk has them already.
 *
 * Cancelling. A series' record holds how many of its drops are queued, the
 * largest `before` among them and a generation. A put with ts < that
 * `before` bumps the generation: the queued entries no longer match it and
 * are skipped when their list is applied (the points stay for the next
 * flush). A put between head_each_before's offer of a series and the
 * head_flushed of that offer, into the range offered, is the same case
 * seen earlier: the chunk lacks it, so that head_flushed queues nothing.
 * Cancelling is never unsafe: it only keeps points longer.
 *
 * Counters for head_get_stats are relaxed atomics: written by the loop
 * thread, read by anyone. */
#include "head.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_STRIPE_BITS 6
#define HEAD_STRIPES     (1u << HEAD_STRIPE_BITS)
#define HEAD_TABLE_MIN   16
#define HEAD_POINTS_MIN  8

struct head_series {
    int64_t id;
    struct chunk_point *pts;
    size_t n, cap;
    /* drops (loop thread only; readers never look at these) */
    int64_t drop_before;   /* largest before of the queued drops */
    int64_t min_put;       /* least ts put since the offer (when offered) */
    uint32_t drop_gen;     /* bumped when its queued drops are cancelled */
    uint32_t drops_queued; /* entries of this generation in next/waiting */
    bool used;
    bool offered; /* by head_each_before, not yet head_flushed */
};

struct head_stripe {
    pthread_mutex_t mu;
    struct head_series *slots;
    size_t cap, count; /* cap a power of two */
};

struct head_drop {
    int64_t series, before;
    uint32_t gen;
};

struct head_drops {
    struct head_drop *v;
    size_t n, cap;
};

struct head {
    struct head_stripe stripes[HEAD_STRIPES];
    _Atomic unsigned cur;   /* the counter new readers join */
    _Atomic long inside[2]; /* readers inside, by ticket */
    struct head_drops next, waiting;
    unsigned waiting_idx;
    size_t cursor_stripe, cursor_slot; /* head_each_before's */
    _Atomic uint64_t n_series, n_points, n_bytes, n_drops;
};

static uint64_t head_hash(int64_t id)
{
    uint64_t x = (uint64_t)id; /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static struct head_stripe *head_stripe_of(struct head *h, uint64_t hash)
{
    return &h->stripes[hash >> (64 - HEAD_STRIPE_BITS)];
}

static void head_add_stat(_Atomic uint64_t *c, int64_t delta)
{
    atomic_fetch_add_explicit(c, (uint64_t)delta, memory_order_relaxed);
}

int head_create(struct head **out)
{
    struct head *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    for (size_t i = 0; i < HEAD_STRIPES; i++) {
        struct head_stripe *st = &h->stripes[i];
        pthread_mutex_init(&st->mu, NULL);
        st->slots = calloc(HEAD_TABLE_MIN, sizeof *st->slots);
        st->cap = HEAD_TABLE_MIN;
        if (!st->slots) {
            head_free(h);
            return -1;
        }
    }
    *out = h;
    return 0;
}

void head_free(struct head *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < HEAD_STRIPES; i++) {
        struct head_stripe *st = &h->stripes[i];
        for (size_t j = 0; st->slots && j < st->cap; j++)
            free(st->slots[j].pts);
        free(st->slots);
        pthread_mutex_destroy(&st->mu);
    }
    free(h->next.v);
    free(h->waiting.v);
    free(h);
}

/* The record of id in st, or NULL. Caller holds st->mu, or is the loop. */
static struct head_series *head_find_in(struct head_stripe *st, uint64_t hash, int64_t id)
{
    size_t mask = st->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct head_series *s = &st->slots[i];
        if (!s->used)
            return NULL;
        if (s->id == id)
            return s;
    }
}

static struct head_series *head_find(struct head *h, int64_t id, struct head_stripe **st_out)
{
    uint64_t hash = head_hash(id);
    struct head_stripe *st = head_stripe_of(h, hash);
    *st_out = st;
    return head_find_in(st, hash, id);
}

/* Doubles st's table. Loop thread, under st->mu. */
static int head_table_grow(struct head_stripe *st)
{
    size_t cap = st->cap * 2, mask = cap - 1;
    struct head_series *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t j = 0; j < st->cap; j++) {
        if (!st->slots[j].used)
            continue;
        size_t i = head_hash(st->slots[j].id) & mask;
        while (slots[i].used)
            i = (i + 1) & mask;
        slots[i] = st->slots[j];
    }
    free(st->slots);
    st->slots = slots;
    st->cap = cap;
    return 0;
}

/* The record of id, made if missing (NULL: out of memory). Loop thread,
 * under st->mu. */
static struct head_series *head_find_or_add(struct head_stripe *st, uint64_t hash, int64_t id)
{
    struct head_series *s = head_find_in(st, hash, id);
    if (s)
        return s;
    if ((st->count + 1) * 4 > st->cap * 3 && head_table_grow(st) != 0)
        return NULL;
    size_t mask = st->cap - 1, i = hash & mask;
    while (st->slots[i].used)
        i = (i + 1) & mask;
    s = &st->slots[i];
    *s = (struct head_series){.id = id, .used = true, .drop_before = INT64_MIN};
    st->count++;
    return s;
}

/* Sets s's array to cap points (0 frees it). Under the stripe's mutex. */
static int head_resize(struct head *h, struct head_series *s, size_t cap)
{
    struct chunk_point *p = NULL;
    if (cap) {
        p = realloc(s->pts, cap * sizeof *p);
        if (!p)
            return -1;
    } else {
        free(s->pts);
    }
    head_add_stat(&h->n_bytes, ((int64_t)cap - (int64_t)s->cap) * (int64_t)sizeof *p);
    s->pts = p;
    s->cap = cap;
    return 0;
}

/* The index of the first point with ts >= ts (n when none). */
static size_t head_lower_bound(const struct chunk_point *p, size_t n, int64_t ts)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A put at ts into the range of s's queued drops, or of its pending offer,
 * keeps those points (see the top of the file). */
static void head_cancel_drops(struct head *h, struct head_series *s, int64_t ts)
{
    if (s->drops_queued && ts < s->drop_before) {
        s->drop_gen++;
        head_add_stat(&h->n_drops, -(int64_t)s->drops_queued);
        s->drops_queued = 0;
        s->drop_before = INT64_MIN;
    }
    if (s->offered && ts < s->min_put)
        s->min_put = ts;
}

int head_put(struct head *h, int64_t series, int64_t ts, double value, double *old_value)
{
    uint64_t hash = head_hash(series);
    struct head_stripe *st = head_stripe_of(h, hash);
    int rc = HEAD_NOMEM;
    pthread_mutex_lock(&st->mu);
    struct head_series *s = head_find_or_add(st, hash, series);
    if (!s)
        goto out;
    /* Appends are the common case: the newest point first, then a search. */
    size_t i = s->n;
    if (s->n && ts <= s->pts[s->n - 1].ts)
        i = ts == s->pts[s->n - 1].ts ? s->n - 1 : head_lower_bound(s->pts, s->n, ts);
    if (i < s->n && s->pts[i].ts == ts) {
        if (old_value)
            *old_value = s->pts[i].value;
        s->pts[i].value = value;
        rc = HEAD_REPLACED;
    } else {
        if (s->n == s->cap && head_resize(h, s, s->cap ? s->cap + s->cap / 2 : HEAD_POINTS_MIN))
            goto out;
        memmove(&s->pts[i + 1], &s->pts[i], (s->n - i) * sizeof *s->pts);
        s->pts[i] = (struct chunk_point){ts, value};
        if (s->n++ == 0)
            head_add_stat(&h->n_series, 1);
        head_add_stat(&h->n_points, 1);
        rc = HEAD_NEW;
    }
    head_cancel_drops(h, s, ts);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

long head_read(struct head *h, int64_t series, int64_t from, int64_t to, struct chunk_point **buf,
               size_t *cap)
{
    struct head_stripe *st;
    long rc = 0;
    uint64_t hash = head_hash(series);
    st = head_stripe_of(h, hash);
    pthread_mutex_lock(&st->mu);
    struct head_series *s = head_find_in(st, hash, series);
    if (s && s->n && from <= to) {
        size_t a = head_lower_bound(s->pts, s->n, from);
        size_t b = to == INT64_MAX ? s->n : head_lower_bound(s->pts, s->n, to + 1);
        size_t n = b > a ? b - a : 0;
        if (n > *cap) {
            size_t want = n > *cap + *cap / 2 ? n : *cap + *cap / 2;
            struct chunk_point *p = realloc(*buf, want * sizeof *p);
            if (!p) {
                rc = -1;
                goto out;
            }
            *buf = p;
            *cap = want;
        }
        if (n)
            memcpy(*buf, &s->pts[a], n * sizeof *s->pts);
        rc = (long)n;
    }
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bool head_last(struct head *h, int64_t series, struct chunk_point *out)
{
    struct head_stripe *st;
    uint64_t hash = head_hash(series);
    st = head_stripe_of(h, hash);
    pthread_mutex_lock(&st->mu);
    struct head_series *s = head_find_in(st, hash, series);
    bool found = s && s->n;
    if (found)
        *out = s->pts[s->n - 1];
    pthread_mutex_unlock(&st->mu);
    return found;
}

unsigned head_reader_enter(struct head *h)
{
    for (;;) {
        unsigned i = atomic_load(&h->cur);
        atomic_fetch_add(&h->inside[i], 1);
        if (atomic_load(&h->cur) == i)
            return i;
        atomic_fetch_sub(&h->inside[i], 1); /* the loop flipped: join the new one */
    }
}

void head_reader_exit(struct head *h, unsigned ticket)
{
    atomic_fetch_sub(&h->inside[ticket & 1], 1);
}

size_t head_each_before(struct head *h, int64_t before, size_t max_series, head_points_fn fn,
                        void *ctx)
{
    size_t offered = 0, visited = 0, total = 0;
    for (size_t i = 0; i < HEAD_STRIPES; i++)
        total += h->stripes[i].cap;
    size_t si = h->cursor_stripe, j = h->cursor_slot;
    while (offered < max_series && visited < total) {
        struct head_stripe *st = &h->stripes[si];
        if (j >= st->cap) { /* the table may have grown or this is its end */
            si = (si + 1) % HEAD_STRIPES;
            j = 0;
            continue;
        }
        struct head_series *s = &st->slots[j++];
        visited++;
        if (!s->used || !s->n || s->pts[0].ts >= before)
            continue;
        size_t k = head_lower_bound(s->pts, s->n, before);
        if (s->drops_queued && head_lower_bound(s->pts, k, s->drop_before) == k)
            continue; /* all in chunks already, waiting for their readers */
        s->offered = true;
        s->min_put = INT64_MAX;
        offered++;
        if (fn(ctx, s->id, s->pts, k) != 0)
            break;
    }
    h->cursor_stripe = si;
    h->cursor_slot = j;
    return offered;
}

static int head_drops_push(struct head_drops *d, struct head_drop e)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct head_drop *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return -1;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = e;
    return 0;
}

int head_flushed(struct head *h, int64_t series, int64_t before)
{
    struct head_stripe *st;
    struct head_series *s = head_find(h, series, &st);
    if (!s || !s->n || s->pts[0].ts >= before) {
        if (s)
            s->offered = false;
        return 0; /* nothing to drop */
    }
    bool put_since_offer = s->offered && s->min_put < before;
    s->offered = false;
    if (put_since_offer)
        return 0; /* the chunk lacks that put: keep the points, flush again */
    if (head_drops_push(&h->next, (struct head_drop){series, before, s->drop_gen}) != 0)
        return -1;
    s->drops_queued++;
    if (before > s->drop_before)
        s->drop_before = before;
    head_add_stat(&h->n_drops, 1);
    return 0;
}

/* Drops the points of e, unless a put cancelled it. */
static size_t head_apply_drop(struct head *h, const struct head_drop *e)
{
    struct head_stripe *st;
    struct head_series *s = head_find(h, e->series, &st);
    if (!s || s->drop_gen != e->gen || !s->drops_queued)
        return 0;
    size_t k = head_lower_bound(s->pts, s->n, e->before);
    pthread_mutex_lock(&st->mu);
    memmove(s->pts, &s->pts[k], (s->n - k) * sizeof *s->pts);
    s->n -= k;
    if (k && s->n == 0)
        head_add_stat(&h->n_series, -1);
    if (s->n == 0)
        head_resize(h, s, 0);
    else if (s->n < s->cap / 4)
        head_resize(h, s, s->n + s->n / 2 > HEAD_POINTS_MIN ? s->n + s->n / 2 : HEAD_POINTS_MIN);
    /* (a failed shrink keeps the bigger array: nothing is lost) */
    pthread_mutex_unlock(&st->mu);
    head_add_stat(&h->n_points, -(int64_t)k);
    if (--s->drops_queued == 0)
        s->drop_before = INT64_MIN;
    head_add_stat(&h->n_drops, -1);
    return k;
}

/* Applies the waiting list if its readers are gone. */
static size_t head_try_waiting(struct head *h, bool *applied)
{
    size_t dropped = 0;
    *applied = atomic_load(&h->inside[h->waiting_idx]) == 0;
    if (!*applied)
        return 0;
    for (size_t i = 0; i < h->waiting.n; i++)
        dropped += head_apply_drop(h, &h->waiting.v[i]);
    h->waiting.n = 0;
    return dropped;
}

size_t head_reclaim(struct head *h)
{
    size_t dropped = 0;
    bool applied = true;
    if (h->waiting.n)
        dropped += head_try_waiting(h, &applied);
    if (!applied || !h->next.n)
        return dropped;
    struct head_drops t = h->waiting; /* empty now: reuse its array */
    h->waiting = h->next;
    h->next = t;
    h->waiting_idx = atomic_load(&h->cur);
    atomic_store(&h->cur, h->waiting_idx ^ 1u);
    dropped += head_try_waiting(h, &applied);
    return dropped;
}

void head_each(struct head *h, head_points_fn fn, void *ctx)
{
    for (size_t i = 0; i < HEAD_STRIPES; i++) {
        struct head_stripe *st = &h->stripes[i];
        for (size_t j = 0; j < st->cap; j++) {
            struct head_series *s = &st->slots[j];
            if (s->used && s->n && fn(ctx, s->id, s->pts, s->n) != 0)
                return;
        }
    }
}

void head_get_stats(struct head *h, struct head_stats *out)
{
    out->series = atomic_load_explicit(&h->n_series, memory_order_relaxed);
    out->points = atomic_load_explicit(&h->n_points, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&h->n_bytes, memory_order_relaxed);
    out->drops_waiting = atomic_load_explicit(&h->n_drops, memory_order_relaxed);
}
