/* live.c — see live.h.
 *
 * Memory model. A committed sample is serialized once into a struct
 * live_msg (its JSON object plus its program/unit/metric for re-filtering)
 * and every matching client's queue holds a counted reference to it, so 200
 * screens watching the same sample cost one copy of its text plus 200
 * pointers. Alerts and unit changes are whole frames shared the same way.
 * A client's queue is a ring of such pointers that grows on demand. Its
 * bound is queue_max entries, except that one publish call (one committed
 * group) never pushes out entries of the same call: a client that keeps up
 * loses nothing when a burst (units flushing their offline buffers) commits
 * more than queue_max samples at once. So a queue holds at most
 * max(queue_max, one group's matching samples). When the bound is hit the
 * oldest entries go and, if samples, are counted for the client's next
 * {"type":"dropped"} frame.
 *
 * Filter index. Every client's filters are subscriptions in one trie of
 * program/unit/metric levels shared by all clients: a node's literal
 * children are found through one hash table keyed by (parent, literal), its
 * "+" child (also a final "#", as every topic has three levels) hangs on it
 * directly. A sample p/u/m visits at most 2 nodes per level (the literal
 * child and "+"), so it costs a few hash lookups whatever the number of
 * clients; a frame with a level that stands for any value (a kpi's unit and
 * metric, a unit frame's metric) visits every child at that level, i.e. only
 * filters that match it. A client reached twice (two of its filters match)
 * is taken once (a mark per lookup). A client that has not subscribed holds
 * one "+/+/+" subscription (everything). Nodes are freed when their last
 * subscription goes, so churning subscribes costs no memory.
 *
 * Yielding. A publish fans out until it has run LIVE_SLICE_NS; what is left
 * of the group (serialized) and everything published after it wait in
 * `backlog`, drained in slices on the following loop turns in order, so a
 * series' samples keep their order and no later group overtakes.
 *
 * Writing. Every frame is built in one scratch buffer (LWS_PRE in front) and
 * handed to lws_write, only while lws_send_pipe_choked() says the socket
 * takes more. lws copies whatever the kernel did not take (at most one
 * frame: LIVE_FRAME_MAX for batched samples) and reports choked until it has
 * flushed it, so the most a stalled client pins is its ring, the kernel's
 * socket buffers and one frame in lws. Control replies (hello, pong, error)
 * wait in a short list of their own and go first; a client that keeps
 * sending requests without reading the replies has its reads paused. */
#include "live.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "live_client.h"
#include "log.h"
#include "loopwatch.h"
#include "util.h"

#define LIVE_FRAME_MAX    (256 * 1024)     /* bytes of one batched samples frame */
#define LIVE_RX_MAX       (64 * 1024)      /* bytes of one client message */
#define LIVE_FILTERS_MAX  16               /* default [live] max_filters */
#define LIVE_QUEUE_BYTES  (1024 * 1024)    /* default [live] queue_bytes */
#define LIVE_PER_CRED     100              /* default [live] max_per_credential */
#define LIVE_SLICE_NS     (3 * 1000000ull) /* a fan-out yields after this long */
#define LIVE_SNAP_SLOTS   8192             /* cache slots one snapshot frame looks at, at most */
#define LIVE_INDEX_MIN    64               /* hash buckets of the filter index at first */
#define LIVE_FILTER_LEN   256              /* bytes of one filter */
#define LIVE_REPLIES_SOFT 32               /* pending replies: stop reading the client */
#define LIVE_REPLIES_HARD 256              /* pending replies: close it (should not happen) */
#define LIVE_RING_MIN     64
/* Holding writes back (see request_writes): judged every HOLD_WINDOW_NS by
 * the share of the loop's time spent writing to clients. */
#define HOLD_WINDOW_NS (250 * 1000000ull)
#define HOLD_ABOVE     0.15 /* writing takes more: hold writes longer (1, 2, 4... ms) */
#define HOLD_BELOW     0.05 /* writing takes less: hold them half as long (to 0) */
#define HOLD_MAX_MS    16
#define LIVE_PATH      "/api/v1/live"

#ifndef PANTAU_VERSION
#define PANTAU_VERSION "unknown"
#endif

/* One serialized sample or one whole frame, shared by client queues. */
struct live_msg {
    uint32_t refs;     /* queue slots holding it */
    bool is_sample;    /* a sample object (batched) or a complete frame */
    uint32_t len;      /* bytes of JSON at text */
    uint32_t level[3]; /* offsets in text of program, unit, metric; 0: any */
    char text[];       /* JSON '\0' then each level given, '\0'-ended */
};

/* A reply owned by one client: hello, pong, error. */
struct live_reply {
    struct live_reply *next;
    size_t len;
    char json[];
};

struct live_ring {
    struct live_msg **slot;
    size_t cap, head, count;
    size_t bytes; /* JSON of the entries */
};

/* A node of the filter index (see the top of the file). */
struct live_node {
    struct live_node *parent;
    struct live_node *hnext;               /* chain in the index's bucket */
    struct live_node *kids;                /* literal children */
    struct live_node *prev_kid, *next_kid; /* siblings among parent->kids */
    struct live_node *plus;                /* the "+" child */
    struct live_sub *subs;                 /* depth 3: subscriptions ending here */
    size_t refs;                           /* subscriptions at or below */
    uint64_t hash;                         /* of (parent, literal) */
    char literal[];                        /* "+" for a plus child */
};

/* One client filter in the index. */
struct live_sub {
    struct live_sub *prev, *next; /* in leaf->subs */
    struct live_client *c;
    struct live_node *leaf;
};

/* Live connections of one credential (a token; a session later). */
struct live_cred {
    struct live_cred *prev, *next;
    size_t conns;
    char key[];
};

/* A message waiting for its fan-out (see Yielding) and its group. */
struct live_pending {
    struct live_msg *m;
    uint64_t gen;
};

/* Per connection; lws allocates it zeroed (per_session_data_size). */
struct live_client {
    struct live_client *prev, *next; /* live.clients */
    struct lws *wsi;                 /* NULL in unit tests */
    bool linked;
    bool write_asked; /* lws_callback_on_writable pending */
    bool rx_paused;   /* lws_rx_flow_control(0) while replies pile up */
    struct live_ring ring;
    uint64_t mark;         /* the index lookup that last reached this client */
    struct live_sub *subs; /* its filters in the index */
    size_t n_subs;
    struct live_cred *cred; /* NULL: none */
    bool snap_active;       /* a snapshot is being sent */
    bool snap_sent;         /* ... and has sent a frame */
    bool snap_done_once;    /* a snapshot was accepted before (snap_at) */
    uint64_t snap_at_ns;
    struct store_series_cursor snap_cur;
    uint64_t fresh_gen; /* publish call that the entries counted by fresh came from */
    size_t fresh;       /* newest entries queued by that call: never dropped by it */
    uint64_t dropped;   /* samples discarded since the last "dropped" frame */
    struct live_reply *reply_head, *reply_tail;
    size_t replies;
    bool subscribed; /* false: everything ("#") */
    char **filters;
    size_t n_filters;
    struct buf rx; /* a client message arriving in fragments */
    bool rx_binary;
};

struct live {
    struct store *store;
    size_t queue_max, queue_bytes, max_clients, max_filters, max_per_credential;
    uint64_t snapshot_interval_ns;
    /* The filter index. */
    struct live_node *root; /* never freed before live_free */
    struct live_node **bucket;
    size_t n_buckets, n_nodes;
    uint64_t mark;             /* counts index lookups */
    struct live_client **hits; /* the clients one lookup reached */
    size_t n_hits, hits_cap;
    /* Credentials with live connections, and the one an upgrade was just
     * confirmed under (taken at ESTABLISHED: lws runs both in one go). */
    struct live_cred *creds;
    struct lws *confirmed_wsi;
    char confirmed_cred[LIVE_CRED_MAX];
    /* Fan-out left for later loop turns (see Yielding). */
    struct live_pending *backlog;
    size_t bl_head, bl_len, bl_cap;
    uv_timer_t drain_timer;
    bool drain_armed;
    char *version;
    struct live_client *clients;
    size_t n_clients;
    uint64_t publish_gen; /* counts publish calls */
    struct buf frame;     /* scratch for each outgoing frame, LWS_PRE reserved */
    struct buf sample;    /* scratch for serializing one sample */
    struct live_stats stats;
    struct log_limit oom, refused;
    live_admit_fn admit;
    void *admit_ctx;
    /* Coalescing under load (request_writes); no timer without a loop. */
    uv_timer_t hold_timer;
    bool has_timer, hold_armed, stopping;
    unsigned hold_ms;
    uint64_t window_start_ns, window_write_ns;
};

static void cred_release(struct live *l, struct live_cred *k);
static void backlog_drain(struct live *l);

/* ---- filters ---- */

static bool level_is(const char *level, size_t len, const char *what)
{
    return strlen(what) == len && memcmp(level, what, len) == 0;
}

bool live_filter_valid(const char *filter)
{
    size_t total = strlen(filter);
    if (total == 0 || total >= LIVE_FILTER_LEN)
        return false;
    const char *level = filter;
    for (int n = 1;; n++) {
        const char *slash = strchr(level, '/');
        size_t len = slash ? (size_t)(slash - level) : strlen(level);
        if (level_is(level, len, "#"))
            return slash == NULL && n <= 4; /* "p/u/m/#" still matches p/u/m */
        if (n > 3)
            return false;
        /* A literal level that is not a slug could never match anything. */
        if (!level_is(level, len, "+") && !util_is_slug(level, len))
            return false;
        if (!slash)
            return true;
        level = slash + 1;
    }
}

bool live_filter_match(const char *filter, const char *program, const char *unit,
                       const char *metric)
{
    const char *topic[3] = {program, unit, metric};
    const char *level = filter;
    for (int i = 0; i < 3; i++) {
        const char *slash = strchr(level, '/');
        size_t len = slash ? (size_t)(slash - level) : strlen(level);
        if (level_is(level, len, "#"))
            return true;
        if (topic[i] && !level_is(level, len, "+") && !level_is(level, len, topic[i]))
            return false;
        if (!slash)
            return i == 2; /* the filter ended before the topic did */
        level = slash + 1;
    }
    /* The topic ended: only a trailing "#" (its parent match) is left. */
    return strcmp(level, "#") == 0;
}

static bool client_wants(const struct live_client *c, const char *program, const char *unit,
                         const char *metric)
{
    if (!c->subscribed)
        return true;
    for (size_t i = 0; i < c->n_filters; i++)
        if (live_filter_match(c->filters[i], program, unit, metric))
            return true;
    return false;
}

static void free_filters(char **filters, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(filters[i]);
    free(filters);
}

/* The levels a valid filter selects: lit[i] (len[i] bytes), NULL for any
 * ("+", or every level from a "#" on: a topic always has three). False if
 * it selects no topic (fewer than three levels and no "#"). */
static bool filter_levels(const char *filter, const char *lit[3], size_t len[3])
{
    const char *level = filter;
    for (int i = 0; i < 3; i++) {
        const char *slash = strchr(level, '/');
        size_t n = slash ? (size_t)(slash - level) : strlen(level);
        if (level_is(level, n, "#")) {
            for (; i < 3; i++)
                lit[i] = NULL, len[i] = 0;
            return true;
        }
        lit[i] = level_is(level, n, "+") ? NULL : level;
        len[i] = n;
        if (!slash)
            return i == 2;
        level = slash + 1;
    }
    return strcmp(level, "#") == 0; /* "p/u/m/#" selects p/u/m */
}

/* ---- the filter index (see the top of the file) ---- */

static uint64_t node_hash(const struct live_node *parent, const char *lit, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then the parent mixed in */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)lit[i];
        h *= 1099511628211ULL;
    }
    h ^= (uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static struct live_node *index_find(const struct live *l, const struct live_node *parent,
                                    const char *lit, size_t len, uint64_t h)
{
    if (!l->n_buckets)
        return NULL;
    for (struct live_node *n = l->bucket[h & (l->n_buckets - 1)]; n; n = n->hnext)
        if (n->hash == h && n->parent == parent && memcmp(n->literal, lit, len) == 0 &&
            n->literal[len] == '\0')
            return n;
    return NULL;
}

static bool index_grow(struct live *l)
{
    size_t cap = l->n_buckets ? l->n_buckets * 2 : LIVE_INDEX_MIN;
    struct live_node **b = calloc(cap, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < l->n_buckets; i++) {
        struct live_node *next;
        for (struct live_node *n = l->bucket[i]; n; n = next) {
            next = n->hnext;
            n->hnext = b[n->hash & (cap - 1)];
            b[n->hash & (cap - 1)] = n;
        }
    }
    free(l->bucket);
    l->bucket = b;
    l->n_buckets = cap;
    return true;
}

static struct live_node *node_new(struct live_node *parent, const char *lit, size_t len, uint64_t h)
{
    struct live_node *n = calloc(1, sizeof *n + len + 1);
    if (n) {
        n->parent = parent;
        n->hash = h;
        memcpy(n->literal, lit, len);
    }
    return n;
}

/* parent's child for lit (NULL: the "+" child), made if missing; NULL when
 * out of memory. */
static struct live_node *index_child(struct live *l, struct live_node *parent, const char *lit,
                                     size_t len)
{
    if (!lit) {
        if (!parent->plus)
            parent->plus = node_new(parent, "+", 1, 0);
        return parent->plus;
    }
    uint64_t h = node_hash(parent, lit, len);
    struct live_node *n = index_find(l, parent, lit, len, h);
    if (n)
        return n;
    if (l->n_nodes + 1 > l->n_buckets && !index_grow(l))
        return NULL;
    if (!(n = node_new(parent, lit, len, h)))
        return NULL;
    size_t b = h & (l->n_buckets - 1);
    n->hnext = l->bucket[b];
    l->bucket[b] = n;
    n->next_kid = parent->kids;
    if (parent->kids)
        parent->kids->prev_kid = n;
    parent->kids = n;
    l->n_nodes++;
    return n;
}

static void node_free(struct live *l, struct live_node *n)
{
    struct live_node *p = n->parent;
    if (p->plus == n) {
        p->plus = NULL;
    } else {
        struct live_node **at = &l->bucket[n->hash & (l->n_buckets - 1)];
        while (*at != n)
            at = &(*at)->hnext;
        *at = n->hnext;
        if (n->prev_kid)
            n->prev_kid->next_kid = n->next_kid;
        else
            p->kids = n->next_kid;
        if (n->next_kid)
            n->next_kid->prev_kid = n->prev_kid;
        l->n_nodes--;
    }
    free(n);
}

/* Frees n and its ancestors while no subscription is left at or below. */
static void index_prune(struct live *l, struct live_node *n)
{
    while (n != l->root && n->refs == 0) {
        struct live_node *p = n->parent;
        node_free(l, n);
        n = p;
    }
}

/* Links sub under the levels lit/len (NULL: any). -1: out of memory. */
static int index_add(struct live *l, struct live_sub *sub, const char *const lit[3],
                     const size_t len[3])
{
    struct live_node *n = l->root;
    for (int i = 0; i < 3; i++) {
        struct live_node *k = index_child(l, n, lit[i], len[i]);
        if (!k) {
            index_prune(l, n);
            return -1;
        }
        n = k;
    }
    sub->leaf = n;
    sub->prev = NULL;
    sub->next = n->subs;
    if (n->subs)
        n->subs->prev = sub;
    n->subs = sub;
    for (; n; n = n->parent)
        n->refs++;
    return 0;
}

static void index_remove(struct live *l, struct live_sub *sub)
{
    struct live_node *leaf = sub->leaf;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        leaf->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    for (struct live_node *n = leaf; n; n = n->parent)
        n->refs--;
    index_prune(l, leaf);
}

static void index_hit(struct live *l, struct live_client *c)
{
    if (c->mark == l->mark)
        return; /* another of its filters matched too */
    if (l->n_hits == l->hits_cap) {
        size_t cap = l->hits_cap ? 2 * l->hits_cap : 64;
        struct live_client **h = realloc(l->hits, cap * sizeof *h);
        if (!h) {
            log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory matching filters");
            return;
        }
        l->hits = h;
        l->hits_cap = cap;
    }
    c->mark = l->mark;
    l->hits[l->n_hits++] = c;
}

static void index_visit(struct live *l, const struct live_node *n, int depth,
                        const char *const lv[3])
{
    if (depth == 3) {
        for (const struct live_sub *s = n->subs; s; s = s->next)
            index_hit(l, s->c);
        return;
    }
    if (n->plus)
        index_visit(l, n->plus, depth + 1, lv);
    if (!lv[depth]) { /* any value: every literal child matches */
        for (const struct live_node *k = n->kids; k; k = k->next_kid)
            index_visit(l, k, depth + 1, lv);
        return;
    }
    size_t len = strlen(lv[depth]);
    const struct live_node *k = index_find(l, n, lv[depth], len, node_hash(n, lv[depth], len));
    if (k)
        index_visit(l, k, depth + 1, lv);
}

/* The clients some filter of which selects program/unit/metric (NULL: any
 * value), each once, into l->hits; returns how many. */
static size_t index_lookup(struct live *l, const char *program, const char *unit,
                           const char *metric)
{
    const char *lv[3] = {program, unit, metric};
    l->mark++;
    l->n_hits = 0;
    if (l->root->refs)
        index_visit(l, l->root, 0, lv);
    return l->n_hits;
}

static void client_clear_subs(struct live *l, struct live_client *c)
{
    for (size_t i = 0; i < c->n_subs; i++)
        index_remove(l, &c->subs[i]);
    free(c->subs);
    c->subs = NULL;
    c->n_subs = 0;
}

/* Makes filters (owned; n of them) the client's, in the index too. -1 when
 * out of memory: nothing changed, filters not taken. */
static int client_set_filters(struct live *l, struct live_client *c, char **filters, size_t n)
{
    struct live_sub *subs = calloc(n ? n : 1, sizeof *subs);
    if (!subs)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *lit[3];
        size_t len[3];
        if (!filter_levels(filters[i], lit, len))
            continue; /* selects nothing */
        subs[k].c = c;
        if (index_add(l, &subs[k], lit, len) != 0) {
            while (k)
                index_remove(l, &subs[--k]);
            free(subs);
            return -1;
        }
        k++;
    }
    client_clear_subs(l, c);
    c->subs = subs;
    c->n_subs = k;
    free_filters(c->filters, c->n_filters);
    c->filters = filters;
    c->n_filters = n;
    return 0;
}

/* Until it subscribes, a client receives everything: "#". */
static int client_set_everything(struct live *l, struct live_client *c)
{
    char **all = calloc(1, sizeof *all);
    if (!all || !(all[0] = strdup("#"))) {
        free(all);
        return -1;
    }
    if (client_set_filters(l, c, all, 1) != 0) {
        free_filters(all, 1);
        return -1;
    }
    return 0;
}

/* ---- shared messages ---- */

static void msg_unref(struct live_msg *m)
{
    if (--m->refs == 0)
        free(m);
}

/* A new message with refs 0 holding json and the levels that select it
 * (NULL: any). */
static struct live_msg *msg_new(const char *json, size_t len, bool is_sample, const char *program,
                                const char *unit, const char *metric)
{
    const char *levels[3] = {program, unit, metric};
    size_t lens[3] = {0, 0, 0}, extra = 0;
    for (int i = 0; i < 3; i++)
        if (levels[i])
            extra += (lens[i] = strlen(levels[i])) + 1;
    if (len > UINT32_MAX - extra - 1)
        return NULL;
    struct live_msg *m = malloc(sizeof *m + len + 1 + extra);
    if (!m)
        return NULL;
    m->refs = 0;
    m->is_sample = is_sample;
    m->len = (uint32_t)len;
    memcpy(m->text, json, len);
    m->text[len] = '\0';
    size_t off = len + 1;
    for (int i = 0; i < 3; i++) {
        m->level[i] = levels[i] ? (uint32_t)off : 0;
        if (levels[i]) {
            memcpy(m->text + off, levels[i], lens[i] + 1);
            off += lens[i] + 1;
        }
    }
    return m;
}

/* The level that selects m, NULL for any. */
static const char *msg_level(const struct live_msg *m, int i)
{
    return m->level[i] ? m->text + m->level[i] : NULL;
}

static void append_sample_json(struct buf *b, const char *program, const char *unit,
                               const char *metric, const char *labels_json, int64_t ts,
                               double value)
{
    buf_json_series_head(b, program, unit, metric, labels_json);
    buf_printf(b, ",\"ts\":%lld,\"value\":", (long long)ts);
    buf_json_num(b, value);
    buf_puts(b, "}");
}

static struct live_msg *sample_msg_new(struct live *l, const struct sample *s)
{
    buf_reset(&l->sample);
    append_sample_json(&l->sample, s->program, s->unit, s->metric, s->labels_json, s->ts, s->value);
    if (buf_failed(&l->sample))
        return NULL;
    return msg_new(l->sample.data, l->sample.len, true, s->program, s->unit, s->metric);
}

/* ---- a client's queue ---- */

static struct live_msg *ring_at(const struct live_ring *r, size_t i)
{
    return r->slot[(r->head + i) % r->cap];
}

static struct live_msg *ring_pop(struct live_ring *r)
{
    struct live_msg *m = r->slot[r->head];
    r->head = (r->head + 1) % r->cap;
    r->count--;
    r->bytes -= m->len;
    return m;
}

/* Doubles the ring's room, keeping the order. */
static bool ring_grow(struct live_ring *r)
{
    size_t cap = r->cap ? r->cap * 2 : LIVE_RING_MIN;
    if (cap > SIZE_MAX / sizeof(struct live_msg *))
        return false;
    struct live_msg **slot = malloc(cap * sizeof *slot);
    if (!slot)
        return false;
    for (size_t i = 0; i < r->count; i++)
        slot[i] = ring_at(r, i);
    free(r->slot);
    r->slot = slot;
    r->cap = cap;
    r->head = 0;
    return true;
}

static void ring_clear(struct live_ring *r)
{
    while (r->count)
        msg_unref(ring_pop(r));
    free(r->slot);
    memset(r, 0, sizeof *r);
}

/* Discards the oldest entry to make room; a sample is counted as dropped. */
static void client_drop_oldest(struct live *l, struct live_client *c)
{
    struct live_msg *m = ring_pop(&c->ring);
    if (m->is_sample) {
        c->dropped++;
        l->stats.samples_dropped++;
    }
    msg_unref(m);
}

/* Queues m (taking a reference), first discarding the oldest entries over
 * the bounds: queue_max entries (except those of this same group `gen`: a
 * burst never pushes out its own samples) and queue_bytes (always: a
 * client that does not read must not hold more). */
static void client_push(struct live *l, struct live_client *c, struct live_msg *m, uint64_t gen)
{
    struct live_ring *r = &c->ring;
    if (c->fresh_gen != gen) {
        c->fresh_gen = gen;
        c->fresh = 0;
    }
    while (r->count && ((r->count >= l->queue_max && r->count > c->fresh) ||
                        r->bytes + m->len > l->queue_bytes)) {
        client_drop_oldest(l, c);
        if (c->fresh > r->count)
            c->fresh = r->count;
    }
    if (r->count == r->cap && !ring_grow(r)) {
        if (r->count == 0) { /* not even the first slot: count the loss */
            c->dropped += m->is_sample;
            l->stats.samples_dropped += m->is_sample;
            return;
        }
        client_drop_oldest(l, c); /* out of memory: make room at any price */
        if (c->fresh > r->count)
            c->fresh = r->count;
    }
    r->slot[(r->head + r->count) % r->cap] = m;
    r->count++;
    r->bytes += m->len;
    c->fresh++;
    m->refs++;
}

/* Keeps only what the client's (new) filters want, in order. Whole frames
 * (alerts, units) stay; with a snapshot coming, pending samples are
 * superseded by it and go too. */
static void client_refilter(struct live_client *c, bool drop_samples)
{
    struct live_ring *r = &c->ring;
    size_t n = r->count;
    c->fresh = 0;
    for (size_t i = 0; i < n; i++) {
        struct live_msg *m = ring_pop(r);
        bool keep =
            !m->is_sample ||
            (!drop_samples && client_wants(c, msg_level(m, 0), msg_level(m, 1), msg_level(m, 2)));
        if (!keep) {
            msg_unref(m);
            continue;
        }
        r->slot[(r->head + r->count) % r->cap] = m;
        r->count++;
        r->bytes += m->len;
    }
}

/* Asks lws for a writable callback once per batch of work, not per sample. */
static void client_want_write(struct live_client *c)
{
    if (c->wsi && !c->write_asked) {
        c->write_asked = true;
        lws_callback_on_writable(c->wsi);
    }
}

/* ---- replies ---- */

/* Queues a reply; returns -1 when the client must be closed. */
static int client_reply(struct live *l, struct live_client *c, const struct buf *b)
{
    if (buf_failed(b)) {
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a reply");
        return -1;
    }
    if (c->replies >= LIVE_REPLIES_HARD) {
        log_warn("live: a client has %zu replies unread; closing it", c->replies);
        return -1;
    }
    struct live_reply *r = malloc(sizeof *r + b->len + 1);
    if (!r) {
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a reply");
        return -1;
    }
    r->next = NULL;
    r->len = b->len;
    memcpy(r->json, b->data, b->len + 1);
    if (c->reply_tail)
        c->reply_tail->next = r;
    else
        c->reply_head = r;
    c->reply_tail = r;
    c->replies++;
    if (c->replies >= LIVE_REPLIES_SOFT && c->wsi && !c->rx_paused) {
        c->rx_paused = true; /* it sends faster than it reads: stop reading */
        lws_rx_flow_control(c->wsi, 0);
    }
    client_want_write(c);
    return 0;
}

static int reply_error(struct live *l, struct live_client *c, const char *code, const char *message)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"type\":\"error\",\"error\":\"%s\",\"message\":", code);
    buf_json_str(&b, message);
    buf_puts(&b, "}");
    int rc = client_reply(l, c, &b);
    buf_free(&b);
    return rc;
}

static int reply_text(struct live *l, struct live_client *c, const char *json)
{
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, json);
    int rc = client_reply(l, c, &b);
    buf_free(&b);
    return rc;
}

static void free_replies(struct live_client *c)
{
    while (c->reply_head) {
        struct live_reply *r = c->reply_head;
        c->reply_head = r->next;
        free(r);
    }
    c->reply_tail = NULL;
    c->replies = 0;
}

/* ---- client requests ---- */

struct snapshot_ctx {
    const struct live_client *c;
    struct buf *b;
    size_t n;
};

/* Adds v's latest sample to the frame if the client wants it; false when
 * the frame is full (v goes in the next one). */
static bool snapshot_series(void *ctx, const struct store_series_view *v)
{
    struct snapshot_ctx *s = ctx;
    if (!v->has_last || !client_wants(s->c, v->program, v->unit, v->metric))
        return true;
    size_t mark = s->b->len;
    if (s->n)
        buf_puts(s->b, ",");
    append_sample_json(s->b, v->program, v->unit, v->metric, v->labels_json, v->last_ts,
                       v->last_value);
    if (s->n && s->b->len + 2 > LIVE_FRAME_MAX && !buf_failed(s->b)) {
        s->b->len = mark; /* full: this one starts the next frame */
        return false;
    }
    s->n++;
    return true;
}

/* Builds the snapshot's next samples frame into out, from where its walk
 * over the store's series cache stopped: up to LIVE_FRAME_MAX bytes, looking
 * at no more than LIVE_SNAP_SLOTS slots (a bound on the loop's time). False
 * when that found nothing to send yet (the caller asks for another writable
 * callback); the walk's last frame is sent even when empty if it is the
 * snapshot's only one, so the screen knows its picture is complete. */
static bool build_snapshot(struct live *l, struct live_client *c, struct buf *out)
{
    buf_puts(out, "{\"type\":\"samples\",\"samples\":[");
    struct snapshot_ctx ctx = {c, out, 0};
    bool done = !l->store ||
                store_scan_series(l->store, &c->snap_cur, LIVE_SNAP_SLOTS, snapshot_series, &ctx);
    if (done)
        c->snap_active = false;
    if (ctx.n == 0 && !(done && !c->snap_sent))
        return false;
    buf_puts(out, "]}");
    c->snap_sent = true;
    l->stats.frames_sent++;
    l->stats.samples_sent += ctx.n;
    return true;
}

/* Checks a subscribe request's filters: on success *out owns copies and
 * NULL is returned, else a message for the client (in `why` or static) and
 * *code the error's code. */
static const char *take_filters(const struct live *l, json_t *filters, char ***out, size_t *n_out,
                                const char **code, char *why, size_t why_len)
{
    *code = "bad_request";
    if (!json_is_array(filters))
        return "\"filters\" must be an array of strings";
    size_t n = json_array_size(filters);
    if (n > l->max_filters) {
        *code = "too_many_filters";
        snprintf(why, why_len, "at most %zu filters per subscribe", l->max_filters);
        return why;
    }
    char **copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy)
        return "out of memory";
    for (size_t i = 0; i < n; i++) {
        const char *f = json_string_value(json_array_get(filters, i));
        if (!f || !live_filter_valid(f)) {
            free_filters(copy, i);
            snprintf(why, why_len,
                     "filter %zu is not program/unit/metric levels of slugs or '+', with an "
                     "optional final '#'",
                     i + 1);
            return why;
        }
        if (!(copy[i] = strdup(f))) {
            free_filters(copy, i);
            return "out of memory";
        }
    }
    *out = copy;
    *n_out = n;
    return NULL;
}

/* A snapshot may start now unless the client had one within
 * snapshot_interval. */
static bool snapshot_allowed(const struct live *l, const struct live_client *c, uint64_t now)
{
    return !c->snap_done_once || l->snapshot_interval_ns == 0 ||
           now - c->snap_at_ns >= l->snapshot_interval_ns;
}

static int handle_subscribe(struct live *l, struct live_client *c, json_t *req)
{
    json_t *snapshot = json_object_get(req, "snapshot");
    if (snapshot && !json_is_boolean(snapshot))
        return reply_error(l, c, "bad_request", "\"snapshot\" must be true or false");
    char **filters, why[160];
    size_t n;
    const char *code;
    const char *problem =
        take_filters(l, json_object_get(req, "filters"), &filters, &n, &code, why, sizeof why);
    if (problem) {
        l->stats.refused_filters += strcmp(code, "too_many_filters") == 0;
        return reply_error(l, c, code, problem);
    }
    if (client_set_filters(l, c, filters, n) != 0) {
        free_filters(filters, n);
        return reply_error(l, c, "bad_request", "out of memory");
    }
    c->subscribed = true;
    bool with_snapshot = json_is_true(snapshot);
    uint64_t now = util_mono_ns();
    if (with_snapshot && !snapshot_allowed(l, c, now)) {
        /* The filters apply; only the picture is refused (see live.h). */
        client_refilter(c, false);
        l->stats.refused_snapshots++;
        snprintf(why, sizeof why, "at most one snapshot per %llu s",
                 (unsigned long long)((l->snapshot_interval_ns + 999999999) / 1000000000));
        return reply_error(l, c, "too_many_snapshots", why);
    }
    client_refilter(c, with_snapshot);
    if (with_snapshot) {
        c->snap_active = true;
        c->snap_sent = false;
        c->snap_done_once = true;
        c->snap_at_ns = now;
        memset(&c->snap_cur, 0, sizeof c->snap_cur);
        client_want_write(c);
    }
    return 0;
}

int live__client_message(struct live *l, struct live_client *c, const char *data, size_t len)
{
    json_error_t err;
    json_t *req = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!req) {
        char message[256];
        snprintf(message, sizeof message, "bad JSON: %s", err.text);
        return reply_error(l, c, "bad_request", message);
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    int rc;
    if (!json_is_object(req) || !op)
        rc = reply_error(l, c, "bad_request",
                         "expected an object with \"op\": \"subscribe\" or \"ping\"");
    else if (strcmp(op, "subscribe") == 0)
        rc = handle_subscribe(l, c, req);
    else if (strcmp(op, "ping") == 0)
        rc = reply_text(l, c, "{\"type\":\"pong\"}");
    else
        rc = reply_error(l, c, "bad_request", "unknown \"op\": expected \"subscribe\" or \"ping\"");
    json_decref(req);
    return rc;
}

/* A piece of a client message; whole messages go to live__client_message. */
static int client_receive(struct live *l, struct live_client *c, const void *in, size_t len)
{
    if (lws_is_first_fragment(c->wsi))
        c->rx_binary = lws_frame_is_binary(c->wsi);
    bool last = lws_is_final_fragment(c->wsi);
    if (last && c->rx.len == 0) /* the common case: one frame, one piece */
        return c->rx_binary ? reply_error(l, c, "bad_request", "expected text frames")
                            : live__client_message(l, c, in, len);
    if (c->rx.len + len > LIVE_RX_MAX) {
        static const char why[] = "message over 64 KiB";
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    buf_append(&c->rx, in, len);
    if (buf_failed(&c->rx)) {
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a client message");
        return -1;
    }
    if (!last)
        return 0;
    int rc = c->rx_binary ? reply_error(l, c, "bad_request", "expected text frames")
                          : live__client_message(l, c, c->rx.data, c->rx.len);
    buf_free(&c->rx); /* a rare large message: do not keep its memory */
    return rc;
}

/* ---- frames to the client ---- */

/* Moves consecutive pending samples into one frame, up to LIVE_FRAME_MAX
 * bytes (at least one sample). */
static void take_samples_frame(struct live *l, struct live_client *c, struct buf *out)
{
    size_t n = 0;
    buf_puts(out, "{\"type\":\"samples\",\"samples\":[");
    while (c->ring.count && ring_at(&c->ring, 0)->is_sample) {
        struct live_msg *m = ring_at(&c->ring, 0);
        if (n && out->len + m->len + 3 > LIVE_FRAME_MAX)
            break;
        if (n)
            buf_append(out, ",", 1);
        buf_append(out, m->text, m->len);
        msg_unref(ring_pop(&c->ring));
        n++;
    }
    buf_puts(out, "]}");
    if (c->ring.count == 0 && c->ring.cap > l->queue_max)
        ring_clear(&c->ring); /* a burst grew it past the bound: give that back */
    l->stats.frames_sent++;
    l->stats.samples_sent += n;
}

bool live__client_next_frame(struct live *l, struct live_client *c, struct buf *out)
{
    buf_reset(out);
    if (c->reply_head) {
        struct live_reply *r = c->reply_head;
        buf_append(out, r->json, r->len);
        if (!(c->reply_head = r->next))
            c->reply_tail = NULL;
        c->replies--;
        free(r);
        return true;
    }
    if (c->snap_active) { /* first, so later samples update it */
        return build_snapshot(l, c, out);
    }
    if (c->dropped) { /* before the samples that follow the gap */
        buf_printf(out, "{\"type\":\"dropped\",\"count\":%llu}", (unsigned long long)c->dropped);
        c->dropped = 0;
        return true;
    }
    if (!c->ring.count)
        return false;
    struct live_msg *m = ring_at(&c->ring, 0);
    if (!m->is_sample) {
        buf_append(out, m->text, m->len);
        msg_unref(ring_pop(&c->ring));
        return true;
    }
    take_samples_frame(l, c, out);
    return true;
}

static bool client_has_pending(const struct live_client *c)
{
    return c->reply_head || c->snap_active || c->dropped || c->ring.count;
}

/* Writes frames while the socket takes them without lws buffering; asks for
 * another callback if anything is left. Returns -1 to close. */
static int client_write(struct live *l, struct live_client *c)
{
    c->write_asked = false;
    /* lws calls this only when the socket took POLLOUT and nothing of an
     * earlier frame is buffered: the first frame needs no check (which is a
     * poll(2) per call: with hundreds of clients, a syscall per frame). */
    bool first = true;
    while (client_has_pending(c) && (first || !lws_send_pipe_choked(c->wsi))) {
        first = false;
        bool snapshot = c->snap_active && !c->reply_head;
        if (!live__client_next_frame(l, c, &l->frame))
            break;
        if (buf_failed(&l->frame)) {
            log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a frame; closing");
            buf_free(&l->frame);
            return -1;
        }
        /* lws_write needs LWS_PRE writable bytes in front of the payload. */
        if (lws_write(c->wsi, (unsigned char *)l->frame.data, l->frame.len, LWS_WRITE_TEXT) < 0)
            return -1;
        if (snapshot)
            break; /* one snapshot frame per callback: other clients' turn */
    }
    if (l->frame.cap > 2 * LIVE_FRAME_MAX)
        buf_free(&l->frame); /* after a big snapshot: back to the usual size */
    if (c->rx_paused && c->replies < LIVE_REPLIES_SOFT / 2) {
        c->rx_paused = false;
        lws_rx_flow_control(c->wsi, 1);
    }
    if (client_has_pending(c))
        client_want_write(c);
    return 0;
}

/* ---- connections ---- */

size_t live__client_size(void)
{
    return sizeof(struct live_client);
}

int live__client_open(struct live *l, struct live_client *c, struct lws *wsi)
{
    if (l->n_clients >= l->max_clients) {
        log_limited(&l->refused, LOG_LVL_WARN, "live: %zu clients connected: refusing another",
                    l->n_clients);
        return -1;
    }
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    buf_init(&c->rx, 0);
    if (client_set_everything(l, c) != 0) {
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a client");
        return -1;
    }
    struct buf hello;
    buf_init(&hello, 0);
    buf_puts(&hello, "{\"type\":\"hello\",\"version\":");
    buf_json_str(&hello, l->version);
    buf_printf(&hello, ",\"server_time\":%lld}", (long long)util_now_ms());
    int rc = client_reply(l, c, &hello);
    buf_free(&hello);
    if (rc != 0) {
        free_replies(c);
        client_clear_subs(l, c);
        free_filters(c->filters, c->n_filters);
        return -1;
    }
    c->next = l->clients;
    if (l->clients)
        l->clients->prev = c;
    l->clients = c;
    c->linked = true;
    l->n_clients++;
    l->stats.clients = l->n_clients;
    return 0;
}

void live__client_close(struct live *l, struct live_client *c)
{
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->linked = false;
    l->n_clients--;
    l->stats.clients = l->n_clients;
    ring_clear(&c->ring);
    free_replies(c);
    client_clear_subs(l, c);
    cred_release(l, c->cred);
    c->cred = NULL;
    c->snap_active = false;
    free_filters(c->filters, c->n_filters);
    c->filters = NULL;
    c->n_filters = 0;
    buf_free(&c->rx);
}

size_t live__client_pending(const struct live_client *c)
{
    return c->ring.count;
}

/* Only upgrades on LIVE_PATH, and only within max_clients. */
static bool upgrade_allowed(struct live *l, struct lws *wsi)
{
    char uri[64];
    if (!l)
        return false;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, LIVE_PATH) != 0) {
        log_debug("live: websocket upgrade on another path refused");
        return false;
    }
    if (l->n_clients >= l->max_clients) {
        log_limited(&l->refused, LOG_LVL_WARN, "live: %zu clients connected: refusing another",
                    l->n_clients);
        return false;
    }
    return true;
}

/* Answers a refused upgrade with status and the JSON error, as http.c
 * answers its own. 1: answered (lws closes after it), -1: hang up. */
static int refuse_upgrade(struct lws *wsi, unsigned status, const char *body)
{
    unsigned char head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start;
    unsigned char *end = head + sizeof head;
    size_t len = strlen(body);
    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0 ||
        lws_write(wsi, (unsigned char *)body, len, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return 1;
}

static struct live_cred *cred_find(const struct live *l, const char *key)
{
    for (struct live_cred *k = l->creds; k; k = k->next)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

/* Counts one more connection of key ("" : none, NULL returned). The list
 * holds the credentials with connections now: a few tokens (sessions, when
 * they come, one entry each while connected); looked at per upgrade only. */
static int cred_take(struct live *l, const char *key, struct live_cred **out)
{
    *out = NULL;
    if (!key[0])
        return 0;
    struct live_cred *k = cred_find(l, key);
    if (!k) {
        size_t len = strlen(key);
        if (!(k = calloc(1, sizeof *k + len + 1)))
            return -1;
        memcpy(k->key, key, len);
        k->next = l->creds;
        if (l->creds)
            l->creds->prev = k;
        l->creds = k;
    }
    k->conns++;
    *out = k;
    return 0;
}

static void cred_release(struct live *l, struct live_cred *k)
{
    if (!k || --k->conns)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        l->creds = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k);
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (see live_set_admit): 0 accepts, -1
 * hangs up, 1 means a response was sent. The credential is kept for
 * ESTABLISHED, which lws runs for the same connection in the same go. */
static int confirm_upgrade(struct live *l, struct lws *wsi, const char *upgrade_to)
{
    if (!upgrade_to || strcmp(upgrade_to, "websocket") != 0 || !upgrade_allowed(l, wsi))
        return -1;
    char cred[LIVE_CRED_MAX] = "";
    int rc = l->admit ? l->admit(l->admit_ctx, wsi, cred, sizeof cred) : 0;
    if (rc != 0)
        return rc;
    const struct live_cred *k = cred_find(l, cred);
    if (k && k->conns >= l->max_per_credential) {
        l->stats.refused_credential++;
        log_limited(&l->refused, LOG_LVL_WARN,
                    "live: %zu connections with one credential: refusing another", k->conns);
        char body[160];
        snprintf(body, sizeof body,
                 "{\"error\":\"too_many_connections\",\"message\":\"at most %zu live "
                 "connections per token\"}",
                 l->max_per_credential);
        return refuse_upgrade(wsi, 429, body);
    }
    l->confirmed_wsi = wsi;
    snprintf(l->confirmed_cred, sizeof l->confirmed_cred, "%s", cred);
    return 0;
}

/* LWS_CALLBACK_ESTABLISHED: the client, counted under the credential its
 * upgrade was confirmed with. */
static int client_established(struct live *l, struct live_client *c, struct lws *wsi)
{
    char cred[LIVE_CRED_MAX] = "";
    if (l->confirmed_wsi == wsi) {
        memcpy(cred, l->confirmed_cred, sizeof cred);
    } else if (l->admit && l->admit(l->admit_ctx, wsi, cred, sizeof cred) != 0) {
        return -1; /* not confirmed just before (should not happen): ask again */
    }
    l->confirmed_wsi = NULL;
    const struct live_cred *k = cred_find(l, cred);
    if (k && k->conns >= l->max_per_credential)
        return -1;
    if (live__client_open(l, c, wsi) != 0)
        return -1;
    if (cred_take(l, cred, &c->cred) != 0) {
        live__client_close(l, c);
        return -1;
    }
    return 0;
}

static int live_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    struct live *l = proto ? proto->user : NULL;
    struct live_client *c = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(l, wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A second gate, however the upgrade reached this protocol. */
        return upgrade_allowed(l, wsi) ? 0 : -1;
    case LWS_CALLBACK_ESTABLISHED:
        if (!l || !c)
            return -1;
        return client_established(l, c, wsi);
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (!l || !c || !c->linked)
            return 0;
        uint64_t t0 = util_mono_ns();
        int rc = client_write(l, c);
        l->window_write_ns += util_mono_ns() - t0;
        loopwatch_note("live write", t0);
        return rc;
    }
    case LWS_CALLBACK_RECEIVE:
        return l && c && c->linked ? client_receive(l, c, in, len) : -1;
    case LWS_CALLBACK_CLOSED:
        if (l && c)
            live__client_close(l, c);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- the module ---- */

int live_init(struct live **out, struct store *store, const struct live_opts *opts)
{
    struct live *l = calloc(1, sizeof *l);
    const char *version = opts->version ? opts->version : PANTAU_VERSION;
    if (!l || !(l->version = strdup(version)) || !(l->root = calloc(1, sizeof *l->root))) {
        if (l)
            free(l->version);
        free(l);
        log_error("live: out of memory");
        return -1;
    }
    l->store = store;
    /* The defaults are the configuration's ([live] queue, max_clients). */
    l->queue_max = opts->queue_max;
    l->max_clients = opts->max_clients;
    l->queue_bytes = opts->queue_bytes ? opts->queue_bytes : LIVE_QUEUE_BYTES;
    l->max_filters = opts->max_filters ? opts->max_filters : LIVE_FILTERS_MAX;
    l->max_per_credential = opts->max_per_credential ? opts->max_per_credential : LIVE_PER_CRED;
    l->snapshot_interval_ns = opts->snapshot_interval_ms * 1000000ull;
    buf_init(&l->frame, LWS_PRE);
    buf_init(&l->sample, 0);
    if (opts->loop && uv_timer_init(opts->loop, &l->hold_timer) == 0) {
        if (uv_timer_init(opts->loop, &l->drain_timer) == 0) {
            l->hold_timer.data = l->drain_timer.data = l;
            l->has_timer = true;
        } else {
            uv_close((uv_handle_t *)&l->hold_timer, NULL);
        }
    }
    l->window_start_ns = util_mono_ns();
    *out = l;
    return 0;
}

void live_stop(struct live *l)
{
    if (!l || l->stopping)
        return;
    l->stopping = true;
    backlog_drain(l); /* not yielding any more: all of it now */
    if (l->has_timer) {
        uv_close((uv_handle_t *)&l->hold_timer, NULL);
        uv_close((uv_handle_t *)&l->drain_timer, NULL);
    }
}

void live_free(struct live *l)
{
    if (!l)
        return;
    while (l->clients) /* only in tests: lws closes real clients first */
        live__client_close(l, l->clients);
    while (l->bl_len) {
        msg_unref(l->backlog[l->bl_head].m);
        l->bl_head = (l->bl_head + 1) % l->bl_cap;
        l->bl_len--;
    }
    free(l->backlog);
    free(l->hits);
    free(l->bucket);
    free(l->root);
    buf_free(&l->frame);
    buf_free(&l->sample);
    free(l->version);
    free(l);
}

void live_protocol_init(struct live *l, struct lws_protocols *proto)
{
    memset(proto, 0, sizeof *proto);
    proto->name = "pantau.v1";
    proto->callback = live_callback;
    proto->per_session_data_size = sizeof(struct live_client);
    proto->rx_buffer_size = 4096;
    /* One send() may carry a whole batched frame (with its ws header):
     * otherwise lws would copy all but the first rx_buffer_size bytes. */
    proto->tx_packet_size = LIVE_FRAME_MAX + 16;
    proto->user = l;
}

void live_set_admit(struct live *l, live_admit_fn admit, void *ctx)
{
    l->admit = admit;
    l->admit_ctx = ctx;
}

/* Judges, once per window, how much of the loop writing to clients takes,
 * and holds writes back longer or shorter. */
static void adjust_hold(struct live *l)
{
    uint64_t now = util_mono_ns(), span = now - l->window_start_ns;
    if (span < HOLD_WINDOW_NS)
        return;
    double share = (double)l->window_write_ns / (double)span;
    if (share > HOLD_ABOVE && l->hold_ms < HOLD_MAX_MS)
        l->hold_ms = l->hold_ms ? 2 * l->hold_ms : 1;
    else if (share < HOLD_BELOW)
        l->hold_ms /= 2;
    l->window_start_ns = now;
    l->window_write_ns = 0;
    l->stats.hold_ms = l->hold_ms;
    if (l->hold_ms > l->stats.hold_ms_max)
        l->stats.hold_ms_max = l->hold_ms;
}

static void ask_pending_clients(struct live *l)
{
    for (struct live_client *c = l->clients; c; c = c->next)
        if (client_has_pending(c))
            client_want_write(c);
}

static void on_hold_timer(uv_timer_t *t)
{
    struct live *l = t->data;
    l->hold_armed = false;
    ask_pending_clients(l);
}

/* After new entries were queued: asks the clients' sockets for writes.
 * Each write is a frame, two epoll_ctl calls, a send and a wakeup of the
 * reader, per client: with hundreds of clients and a commit every
 * millisecond that is more than a core. So while writing takes a large
 * share of the loop (adjust_hold), writes are held back up to hold_ms (at
 * most HOLD_MAX_MS) from the first entry waiting, and what arrived
 * meanwhile goes in the same frames. While it takes little (a few screens),
 * hold_ms is 0 and every commit is written at once: no added latency. A
 * client that is behind anyway (its socket full, a write already asked)
 * gathers its entries into one frame in either case. */
static void request_writes(struct live *l)
{
    adjust_hold(l);
    if (!l->hold_ms || !l->has_timer || l->stopping) {
        ask_pending_clients(l);
        return;
    }
    if (!l->hold_armed) {
        l->hold_armed = true;
        uv_timer_start(&l->hold_timer, on_hold_timer, l->hold_ms, 0);
    }
}

/* ---- fan-out (see Yielding at the top of the file) ---- */

/* Queues m for every client that wants it; m's levels select. */
static void fan_out_msg(struct live *l, struct live_msg *m, uint64_t gen)
{
    size_t n = index_lookup(l, msg_level(m, 0), msg_level(m, 1), msg_level(m, 2));
    for (size_t i = 0; i < n; i++)
        client_push(l, l->hits[i], m, gen);
}

/* One committed sample to every client that wants it, serialized only if
 * one does. */
static void fan_out_sample(struct live *l, const struct sample *s, uint64_t gen)
{
    size_t n = index_lookup(l, s->program, s->unit, s->metric);
    if (!n)
        return;
    struct live_msg *m = sample_msg_new(l, s);
    if (!m) {
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a sample");
        return;
    }
    for (size_t i = 0; i < n; i++)
        client_push(l, l->hits[i], m, gen);
    if (m->refs == 0) /* every client failed to take it */
        free(m);
}

/* Keeps m (taking a reference) for a later turn's fan-out, after what
 * waits already. */
static void backlog_push(struct live *l, struct live_msg *m, uint64_t gen)
{
    if (l->bl_len == l->bl_cap) {
        size_t cap = l->bl_cap ? 2 * l->bl_cap : 256;
        struct live_pending *v = malloc(cap * sizeof *v);
        if (!v) {
            log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory; a live message is lost");
            if (m->refs == 0)
                free(m);
            return;
        }
        for (size_t i = 0; i < l->bl_len; i++)
            v[i] = l->backlog[(l->bl_head + i) % l->bl_cap];
        free(l->backlog);
        l->backlog = v;
        l->bl_cap = cap;
        l->bl_head = 0;
    }
    m->refs++;
    l->backlog[(l->bl_head + l->bl_len) % l->bl_cap] = (struct live_pending){m, gen};
    l->bl_len++;
}

static bool may_yield(const struct live *l)
{
    return l->has_timer && !l->stopping;
}

static void on_drain_timer(uv_timer_t *t);

static void arm_drain(struct live *l)
{
    if (!l->drain_armed && may_yield(l)) {
        l->drain_armed = true;
        l->stats.fanout_yields++;
        uv_timer_start(&l->drain_timer, on_drain_timer, 0, 0);
    }
}

/* Fans out waiting messages in order until the slice is used up (all of
 * them when yielding is not possible). */
static void backlog_drain(struct live *l)
{
    uint64_t t0 = util_mono_ns();
    for (size_t done = 0; l->bl_len; done++) {
        if ((done & 15) == 15 && may_yield(l) && util_mono_ns() - t0 > LIVE_SLICE_NS)
            break;
        struct live_pending p = l->backlog[l->bl_head];
        l->bl_head = (l->bl_head + 1) % l->bl_cap;
        l->bl_len--;
        fan_out_msg(l, p.m, p.gen);
        msg_unref(p.m);
    }
    if (l->bl_len)
        arm_drain(l);
    else if (l->bl_cap > 4096) {
        free(l->backlog); /* after a large backlog: give the memory back */
        l->backlog = NULL;
        l->bl_cap = l->bl_head = 0;
    }
}

static void on_drain_timer(uv_timer_t *t)
{
    struct live *l = t->data;
    l->drain_armed = false;
    uint64_t t0 = util_mono_ns();
    backlog_drain(l);
    request_writes(l);
    loopwatch_note("live publish", t0);
}

void live_publish_samples(struct live *l, const struct sample *samples, size_t n)
{
    if (!l->clients && !l->bl_len)
        return;
    uint64_t gen = ++l->publish_gen, t0 = util_mono_ns();
    size_t i = 0;
    if (!l->bl_len) {
        for (; i < n; i++) {
            if ((i & 15) == 15 && may_yield(l) && util_mono_ns() - t0 > LIVE_SLICE_NS)
                break;
            fan_out_sample(l, &samples[i], gen);
        }
    }
    for (; i < n; i++) { /* what is left waits for the next turns, in order */
        struct live_msg *m = sample_msg_new(l, &samples[i]);
        if (m)
            backlog_push(l, m, gen);
        else
            log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a sample");
    }
    if (l->bl_len)
        arm_drain(l);
    request_writes(l);
}

/* Queues one complete frame for every client whose filters select it as a
 * sample of program/unit/metric would be selected; a NULL unit or metric
 * matches any (a kpi frame counts as a sample of any unit and metric of its
 * program, a unit frame as any metric of its unit). In order with the
 * samples around it. */
static void publish_frame_json(struct live *l, const char *what, const char *frame, size_t len,
                               const char *program, const char *unit, const char *metric)
{
    if (!l->clients && !l->bl_len)
        return;
    uint64_t gen = ++l->publish_gen;
    struct live_msg *m = msg_new(frame, len, false, program, unit, metric);
    if (!m) {
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a %s frame", what);
        return;
    }
    if (l->bl_len) {
        backlog_push(l, m, gen); /* after the samples still waiting */
        return;
    }
    fan_out_msg(l, m, gen);
    if (m->refs == 0)
        free(m);
    request_writes(l);
}

/* {"type": type, type: object}, selected as a sample of program/unit/metric. */
static void publish_frame(struct live *l, const char *type, const char *object_json,
                          const char *program, const char *unit, const char *metric)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"type\":\"%s\",\"%s\":%s}", type, type, object_json);
    if (buf_failed(&b))
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a %s frame", type);
    else
        publish_frame_json(l, type, b.data, b.len, program, unit, metric);
    buf_free(&b);
}

void live_publish_kpi(struct live *l, const char *program, const char *kpi_json)
{
    if (!l->clients)
        return;
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"type\":\"kpi\",\"program\":");
    buf_json_str(&b, program);
    buf_printf(&b, ",\"kpi\":%s}", kpi_json);
    if (buf_failed(&b))
        log_limited(&l->oom, LOG_LVL_ERROR, "live: out of memory for a kpi frame");
    else
        publish_frame_json(l, "kpi", b.data, b.len, program, NULL, NULL);
    buf_free(&b);
}

void live_publish_unit(struct live *l, const char *program, const char *unit, const char *unit_json)
{
    publish_frame(l, "unit", unit_json, program, unit, NULL);
}

void live_publish_alert(struct live *l, const char *program, const char *unit, const char *metric,
                        const char *alert_json)
{
    publish_frame(l, "alert", alert_json, program, unit, metric);
}

void live_get_stats(const struct live *l, struct live_stats *out)
{
    *out = l->stats;
}
