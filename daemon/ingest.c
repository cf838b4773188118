/* ingest.c — see ingest.h. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "ingest_mqtt.h"
#include "ingest_queue.h"
#include "log.h"
#include "loopwatch.h"
#include "parse.h"
#include "util.h"

/* After a failed write the group is tried again after this long, doubling
 * up to the maximum: a lock another process holds for seconds costs the
 * loop one STORE_BUSY_WAIT_MS wait per try, not a blocked loop. */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 2000
/* A group that commits at its first retry was held back by a moment's
 * contention (pantaud's own checkpoint may hold the write lock that long):
 * not news. Longer, it is logged and /healthz says so. */
#define HELD_NEWS_MS 1000

/* The live delay's buckets (ingest.h): 0.25 ms to 10 s. */
const unsigned ingest_delay_bounds_us[INGEST_DELAY_BUCKETS - 1] = {
    250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 10000000};

/* The samples of the open store group, kept until it commits so observers
 * (the live websocket) see only what is in the database. Strings live in
 * `text`; `at` holds their offsets (pointers would move as text grows). */
struct pending_sample {
    size_t program, unit, metric, labels;
    int64_t ts, series, arrival_us; /* arrival_us -1: not MQTT's (no live delay) */
    double value;
};

struct pending {
    struct pending_sample *at;
    size_t n, cap;
    struct buf text;
    struct sample *view; /* rebuilt for the observer */
    size_t view_cap;
    /* presence changes: "program\0unit\0" pairs */
    struct buf presence;
    size_t n_presence;
};

/* The message being parsed: from the MQTT queue or from HTTP. */
struct source {
    const char *topic;
    const char *payload;
    size_t payload_len, payload_total;
    int64_t arrival_ms;
    int64_t arrival_us; /* MQTT: the live delay's start; HTTP: -1 */
    bool retained;      /* MQTT: replayed by the broker on subscribe */
    bool again;         /* MQTT: parsed before, in a group that failed: counted then */
    const struct ingest_entry *entry; /* HTTP: told of rejections; NULL for MQTT */
    int stored;                       /* samples appended */
};

struct ingest {
    uv_loop_t *loop;
    uv_async_t wake;  /* Paho thread -> loop: the queue is no longer empty */
    uv_timer_t retry; /* trying a failed group again */
    int handles_open;
    bool queue_open;
    struct ingest_queue queue;
    struct ingest_mqtt *mqtt;
    struct store *store;
    struct rejects rejects;
    char *prefix;
    uint64_t budget_ns;
    int64_t retention_ms;
    struct ingest_stats stats;
    struct source *current; /* the message being parsed */
    struct log_limit store_errors;
    struct ingest_observer observer;
    struct pending pending;
    /* With a catalog (and [ingest] catalog_only): the programs it lists;
     * samples and $status of any other are refused. NULL: all taken. */
    struct dict *programs;
    /* A write failed for a reason that may pass (STORE_RETRY): the rest of
     * the group is skipped, and what the group read waits in the spool. */
    bool failed;
    bool held;   /* not reading: the retry timer runs */
    bool warned; /* the hold was logged */
    bool stopping;
    uint64_t retry_ms;
    int64_t held_since_ms;
    uint64_t again_left; /* messages to read again that were counted */
    uint64_t replayed;   /* messages found in the spool at start */
    char *state_prefix;  /* a hub's [federation] prefix; NULL: not a hub */
    struct ingest_state_handler state;
    void (*done)(void *ctx);
    void *done_ctx;
};

static size_t pending_str(struct pending *p, const char *s)
{
    size_t at = p->text.len;
    buf_append(&p->text, s, strlen(s) + 1);
    return at;
}

static void pending_add(struct pending *p, const struct sample *s, int64_t series,
                        int64_t arrival_us)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct pending_sample *grown = realloc(p->at, cap * sizeof *grown);
        if (!grown)
            return; /* observers miss it; the database has it */
        p->at = grown;
        p->cap = cap;
    }
    struct pending_sample *ps = &p->at[p->n++];
    ps->program = pending_str(p, s->program);
    ps->unit = pending_str(p, s->unit);
    ps->metric = pending_str(p, s->metric);
    ps->labels = pending_str(p, s->labels_json);
    ps->ts = s->ts;
    ps->series = series;
    ps->arrival_us = arrival_us;
    ps->value = s->value;
}

static void pending_clear(struct pending *p)
{
    p->n = 0;
    p->n_presence = 0;
    buf_reset(&p->text);
    buf_reset(&p->presence);
}

static void pending_free(struct pending *p)
{
    free(p->at);
    free(p->view);
    buf_free(&p->text);
    buf_free(&p->presence);
}

static void count_delay(struct ingest_stats *st, int64_t delay_us)
{
    if (delay_us < 0)
        delay_us = 0; /* the wall clock stepped back */
    int i = 0;
    while (i < INGEST_DELAY_BUCKETS - 1 && (uint64_t)delay_us > ingest_delay_bounds_us[i])
        i++;
    st->delay_samples[i]++;
    st->delay_us_sum += (uint64_t)delay_us;
}

/* The group committed: tell the observer, in arrival order. */
static void pending_publish(struct ingest *in)
{
    struct pending *p = &in->pending;
    if (buf_failed(&p->text) || buf_failed(&p->presence)) {
        log_limited(&in->store_errors, LOG_LVL_ERROR, "ingest: out of memory for live updates");
        pending_clear(p);
        return;
    }
    if (p->n && in->observer.samples) {
        if (p->n > p->view_cap) {
            struct sample *grown = realloc(p->view, p->n * sizeof *grown);
            if (!grown) {
                pending_clear(p);
                return;
            }
            p->view = grown;
            p->view_cap = p->n;
        }
        for (size_t i = 0; i < p->n; i++) {
            const struct pending_sample *ps = &p->at[i];
            p->view[i] = (struct sample){.program = p->text.data + ps->program,
                                         .unit = p->text.data + ps->unit,
                                         .metric = p->text.data + ps->metric,
                                         .labels_json = p->text.data + ps->labels,
                                         .ts = ps->ts,
                                         .value = ps->value,
                                         .series = ps->series};
        }
        in->observer.samples(in->observer.ctx, p->view, p->n);
        int64_t now = util_now_us();
        for (size_t i = 0; i < p->n; i++)
            if (p->at[i].arrival_us >= 0) /* MQTT's: an import's rows would count its length */
                count_delay(&in->stats, now - p->at[i].arrival_us);
    }
    const char *pair = p->presence.data;
    for (size_t i = 0; i < p->n_presence && in->observer.presence; i++) {
        const char *unit = pair + strlen(pair) + 1;
        in->observer.presence(in->observer.ctx, pair, unit);
        pair = unit + strlen(unit) + 1;
    }
    pending_clear(p);
}

/* Commits the open group; observers hear only of what committed. Returns
 * STORE_OK, STORE_RETRY or STORE_REFUSED (as store_commit). */
static int commit(struct ingest *in)
{
    uint64_t t0 = util_mono_ns();
    int rc = in->failed ? STORE_RETRY : store_commit(in->store);
    loopwatch_note("commit", t0);
    in->failed = false;
    if (rc == STORE_OK)
        pending_publish(in);
    else
        pending_clear(&in->pending);
    return rc;
}

void ingest_set_observer(struct ingest *in, const struct ingest_observer *obs)
{
    in->observer = *obs;
}

static void on_reject(void *ctx, enum parse_reason reason, int element, const char *detail);

/* False (and the rejection counted) if a program the catalog does not list. */
static bool program_known(struct ingest *in, const char *program, int element)
{
    if (!in->programs || dict_get(in->programs, program, strlen(program)))
        return true;
    on_reject(in, PARSE_UNKNOWN_PROGRAM, element, "a program the catalog does not list");
    return false;
}

/* What a store limit refused, as the reject log says it. */
static void limit_reject(struct ingest *in, int rc, int element)
{
    if (rc == STORE_UNIT_LIMIT)
        on_reject(in, PARSE_UNIT_LIMIT, element, "too many units ([store] max_units)");
    else if (rc == STORE_UNIT_SERIES_LIMIT)
        on_reject(in, PARSE_SERIES_LIMIT, element,
                  "too many series of this unit ([store] max_series_per_unit)");
    else
        on_reject(in, PARSE_SERIES_LIMIT, element, "too many series ([store] max_series)");
}

static void on_sample(void *ctx, const struct sample *s)
{
    struct ingest *in = ctx;
    if (!program_known(in, s->program, s->element))
        return;
    /* The broker replays a retained message on every (re)subscribe, each
     * time with a new arrival time: only a sample carrying its own ts is the
     * same sample again (CONTRACT §10). Per element, as §1 treats arrays. */
    if (in->current->retained && !s->has_ts) {
        on_reject(ctx, PARSE_RETAINED_WITHOUT_TS, s->element, "retained message without ts");
        return;
    }
    /* Past the raw horizon the sample's raw row would be pruned, and a
     * redelivery of it could not be told from a new one (CONTRACT §1 takes
     * late samples back to that horizon). */
    if (s->ts < in->current->arrival_ms - in->retention_ms) {
        on_reject(ctx, PARSE_TS_TOO_OLD, s->element, "older than the raw retention horizon");
        return;
    }
    if (!in->current->again)
        in->stats.samples++;
    if (in->failed)
        return; /* the group is rolled back: this sample is read again with it */
    int64_t series;
    int rc = store_append(in->store, s, in->current->arrival_ms, &series);
    if (rc == STORE_RETRY) {
        in->failed = true;
        return;
    }
    if (rc == STORE_SERIES_LIMIT || rc == STORE_UNIT_LIMIT || rc == STORE_UNIT_SERIES_LIMIT) {
        limit_reject(in, rc, s->element);
        return;
    }
    if (rc != STORE_OK) {
        log_limited(&in->store_errors, LOG_LVL_ERROR, "ingest: a sample of %s/%s/%s not stored",
                    s->program, s->unit, s->metric);
        if (rc == STORE_GROUP_LOST) /* none of the group is stored: tell no one of it */
            pending_clear(&in->pending);
        return;
    }
    in->current->stored++;
    if (in->observer.samples)
        pending_add(&in->pending, s, series, in->current->arrival_us);
}

static void on_reject(void *ctx, enum parse_reason reason, int element, const char *detail)
{
    struct ingest *in = ctx;
    const struct source *m = in->current;
    const struct ingest_entry *e = m->entry;
    const char *shown = e && e->source ? e->source : m->topic;
    if (m->again)
        return; /* counted when it was first read */
    in->stats.rejected++;
    rejects_add(&in->rejects, m->arrival_ms, reason, element, detail, shown, m->payload,
                m->payload_len, m->payload_total);
    log_debug("ingest: rejected %s (%s) on %s", parse_reason_name(reason), detail, shown);
    if (e && e->on_reject)
        e->on_reject(e->ctx, reason, element, detail);
}

static void on_presence(void *ctx, const char *program, const char *unit, bool online)
{
    struct ingest *in = ctx;
    if (!in->current->again)
        in->stats.presence++;
    if (!program_known(in, program, -1))
        return;
    if (in->failed)
        return;
    /* A retained $status the broker replays when pantaud (re)subscribes is
     * not the unit speaking: it may correct the status, but it is not
     * "heard from" (last_seen, silence) for a unit already known. */
    struct store_unit_view known;
    bool replay = in->current->retained && store_get_unit(in->store, program, unit, &known) == 0 &&
                  known.last_seen > 0;
    if (replay && known.online == (int)online)
        return;
    int rc = store_presence(in->store, program, unit, online, in->current->arrival_ms, !replay);
    if (rc == STORE_RETRY)
        in->failed = true;
    if (rc == STORE_UNIT_LIMIT)
        limit_reject(in, rc, -1);
    if (rc == 0 && in->observer.presence) {
        buf_puts(&in->pending.presence, program);
        buf_append(&in->pending.presence, "", 1);
        buf_puts(&in->pending.presence, unit);
        buf_append(&in->pending.presence, "", 1);
        in->pending.n_presence++;
    }
}

/* Parses one message into the open group. Returns the samples appended. */
static int ingest_source(struct ingest *in, struct source *m)
{
    static const struct parse_sink sink_template = {
        .on_sample = on_sample, .on_reject = on_reject, .on_presence = on_presence};
    struct parse_sink sink = sink_template;
    sink.ctx = in;
    in->current = m;
    if (m->payload_total > m->payload_len) /* truncated on arrival: too large */
        on_reject(in, PARSE_TOO_LARGE, -1, "payload over 64 KiB");
    else
        parse_message(in->prefix, m->topic, m->payload, m->payload_len, m->arrival_ms, &sink);
    in->current = NULL;
    return m->stored;
}

/* A hub's STATE message: to the federation, never a sample. */
static void ingest_state(struct ingest *in, struct source *m)
{
    char id[SLUG_MAX + 1];
    const char *start = m->topic + strlen(in->state_prefix) + 1;
    size_t idlen = strcspn(start, "/");
    const char *why = "no federation hub to take it";
    in->current = m;
    if (m->payload_total > m->payload_len) {
        on_reject(in, PARSE_BAD_STATE, -1, "payload over [federation] max_state_bytes");
    } else if (idlen > SLUG_MAX || !util_is_slug(start, idlen)) {
        on_reject(in, PARSE_BAD_STATE, -1, "the topic's regency id is not a slug");
    } else {
        memcpy(id, start, idlen);
        id[idlen] = '\0';
        int rc = in->state.fn ? in->state.fn(in->state.ctx, id, m->payload, m->payload_len,
                                             m->arrival_ms, &why)
                              : 1;
        if (rc == STORE_RETRY)
            in->failed = true;
        else if (rc != 0)
            on_reject(in, PARSE_BAD_STATE, -1, why);
    }
    in->current = NULL;
}

void ingest_set_state_handler(struct ingest *in, const struct ingest_state_handler *h)
{
    in->state = *h;
}

int ingest_offer_state(struct ingest *in, const char *topic, const char *payload, size_t len)
{
    return in->mqtt ? ingest_mqtt_offer(in->mqtt, topic, payload, len) : -1;
}

void ingest_state_stats(struct ingest *in, uint64_t out[4])
{
    struct ingest_mqtt_pub_stats ps = {0};
    if (in->mqtt)
        ingest_mqtt_pub_stats(in->mqtt, &ps);
    out[0] = ps.offered;
    out[1] = ps.sent;
    out[2] = ps.acked;
    out[3] = ps.failed;
}

static void ingest_one(struct ingest *in, const struct ingest_msg *m)
{
    struct source src = {.topic = m->topic,
                         .payload = m->payload,
                         .payload_len = m->payload_len,
                         .payload_total = m->payload_total,
                         .arrival_ms = m->arrival_ms,
                         .arrival_us = m->arrival_us,
                         .retained = m->retained,
                         .again = in->again_left > 0};
    if (src.again)
        in->again_left--;
    else
        in->stats.messages++;
    if (in->state_prefix &&
        ingest_mqtt_is_state_topic(in->state_prefix, m->topic, strlen(m->topic))) {
        ingest_state(in, &src);
        return;
    }
    ingest_source(in, &src);
}

/* <prefix>/<path> into buf; false if it does not fit (then no topic it
 * could be is valid anyway). */
static bool entry_topic(const struct ingest *in, const struct ingest_entry *e, char *buf,
                        size_t len)
{
    int n = snprintf(buf, len, "%s/%s", in->prefix, e->path);
    return n > 0 && (size_t)n < len;
}

int ingest_submit(struct ingest *in, const struct ingest_entry *e)
{
    char topic[4 * (SLUG_MAX + 2) + 256];
    if (!entry_topic(in, e, topic, sizeof topic)) {
        ingest_reject(in, e, PARSE_BAD_TOPIC, "topic too long");
        return 0;
    }
    /* A person cannot vouch for a unit's presence; parse_message would
     * take $status as a presence change. */
    if (strchr(e->path, '$')) {
        ingest_reject(in, e, PARSE_BAD_TOPIC, "$status is MQTT only");
        return 0;
    }
    struct source src = {.topic = topic,
                         .payload = e->payload,
                         .payload_len = e->len,
                         .payload_total = e->len,
                         .arrival_ms = e->arrival_ms,
                         .arrival_us = -1,
                         .entry = e};
    return ingest_source(in, &src);
}

void ingest_reject(struct ingest *in, const struct ingest_entry *e, enum parse_reason reason,
                   const char *detail)
{
    char topic[4 * (SLUG_MAX + 2) + 256];
    if (!entry_topic(in, e, topic, sizeof topic))
        snprintf(topic, sizeof topic, "%s/(too long)", in->prefix);
    size_t kept = e->len < REJECTS_PAYLOAD_MAX ? e->len : REJECTS_PAYLOAD_MAX;
    struct source src = {.topic = topic,
                         .payload = e->payload,
                         .payload_len = kept,
                         .payload_total = e->len,
                         .arrival_ms = e->arrival_ms,
                         .arrival_us = -1,
                         .entry = e};
    in->current = &src;
    on_reject(in, reason, -1, detail);
    in->current = NULL;
}

int ingest_commit(struct ingest *in)
{
    return commit(in) == 0 ? 0 : -1;
}

/* Works through the queue until it is empty, a write fails, or the turn's
 * budget is spent (checked after every message: one may hold 1000
 * samples). Returns true if messages may remain. */
static bool drain(struct ingest *in, bool unbounded)
{
    uint64_t start = util_mono_ns();
    struct ingest_msg m;
    bool more = false;
    while (!in->failed && ingest_queue_next(&in->queue, &m)) {
        ingest_one(in, &m);
        if (!unbounded && util_mono_ns() - start >= in->budget_ns) {
            more = true;
            break;
        }
    }
    loopwatch_note("ingest read", start);
    return more;
}

static void on_retry(uv_timer_t *t);

/* The group failed for a reason that may pass: everything it read waits in
 * the spool, ingest stops reading (the spool fills, then Paho's thread
 * waits and the broker keeps the rest), and the group is tried again. */
static void hold(struct ingest *in)
{
    in->again_left = ingest_queue_rewind(&in->queue);
    if (!in->held) {
        in->held = true;
        in->warned = false;
        in->held_since_ms = util_now_ms();
        in->retry_ms = RETRY_MIN_MS;
    } else {
        if ((in->retry_ms *= 2) > RETRY_MAX_MS)
            in->retry_ms = RETRY_MAX_MS;
        if (!in->warned) {
            struct store_stats ss;
            store_get_stats(in->store, &ss);
            in->warned = true;
            log_warn("ingest: the database cannot be written (%s): messages wait in the spool "
                     "and are tried again",
                     store_error_text(ss.last_error));
        }
    }
    if (!in->stopping)
        uv_timer_start(&in->retry, on_retry, in->retry_ms, 0);
}

/* Commits what the turn read. Committed (or refused for good, counted
 * lost), it leaves the spool; else it is held. Returns false if held. */
static bool finish_group(struct ingest *in)
{
    if (commit(in) == STORE_RETRY) {
        hold(in);
        return false;
    }
    ingest_queue_release(&in->queue);
    if (in->held && in->warned)
        log_info("ingest: the database is written again; messages held for %lld ms are stored",
                 (long long)(util_now_ms() - in->held_since_ms));
    in->held = false;
    return true;
}

static void on_wake(uv_async_t *h)
{
    struct ingest *in = h->data;
    if (in->held)
        return; /* the retry timer reads again */
    bool more = drain(in, false);
    if (finish_group(in) && more)
        uv_async_send(&in->wake); /* continue after the loop has polled I/O */
}

static void on_retry(uv_timer_t *t)
{
    struct ingest *in = t->data;
    drain(in, false);
    if (finish_group(in))
        uv_async_send(&in->wake); /* what waited behind the held group */
}

static void on_handle_closed(uv_handle_t *h);

/* The spool lives beside the database, as SQLite's -wal and -shm do; a
 * database in memory gets one in memory. So does a benchmark measuring
 * what the file costs (PANTAU_BENCH_SPOOL_IN_MEMORY: never in service). */
static const char *spool_path(const char *db_path, char *buf, size_t len)
{
    if (db_path[0] == '\0' || strcmp(db_path, ":memory:") == 0 ||
        getenv("PANTAU_BENCH_SPOOL_IN_MEMORY"))
        return NULL;
    if (strncmp(db_path, "file:", 5) == 0) {
        log_warn("ingest: the database is named by a URI: the spool is kept in memory only");
        return NULL;
    }
    int n = snprintf(buf, len, "%s-spool", db_path);
    return n > 0 && (size_t)n < len ? buf : NULL;
}

static int open_spool(struct ingest *in, const struct cfg *cfg)
{
    char path[4096];
    const char *p = spool_path(cfg->db_path, path, sizeof path);
    if (ingest_queue_open(&in->queue, p, (uint64_t)cfg->ingest_queue_bytes,
                          (size_t)cfg->ingest_queue_msgs, &in->wake, &in->replayed) != 0)
        return -1;
    in->queue_open = true;
    if (in->replayed)
        log_info("ingest: %llu messages acknowledged before the last exit are read again from %s",
                 (unsigned long long)in->replayed, p);
    return 0;
}

static void free_programs(struct dict *d)
{
    if (d) {
        dict_free(d);
        free(d);
    }
}

int ingest_set_programs(struct ingest *in, const char *const *ids, int n)
{
    struct dict *d = NULL;
    if (ids) {
        if (!(d = malloc(sizeof *d)))
            return -1;
        dict_init(d);
        for (int i = 0; i < n; i++)
            if (dict_put(d, ids[i], strlen(ids[i]), d) != 0) {
                free_programs(d);
                return -1;
            }
    }
    free_programs(in->programs);
    in->programs = d;
    return 0;
}

static void free_ingest(struct ingest *in)
{
    free_programs(in->programs);
    if (in->queue_open)
        ingest_queue_destroy(&in->queue);
    rejects_free(&in->rejects);
    pending_free(&in->pending);
    free(in->prefix);
    free(in->state_prefix);
    free(in);
}

/* Closes the loop handles; the last close frees `in`. */
static void close_handles(struct ingest *in)
{
    uv_timer_stop(&in->retry);
    uv_close((uv_handle_t *)&in->wake, on_handle_closed);
    uv_close((uv_handle_t *)&in->retry, on_handle_closed);
}

int ingest_start(struct ingest **out, uv_loop_t *loop, const struct cfg *cfg, struct store *store)
{
    struct ingest *in = calloc(1, sizeof *in);
    if (!in)
        return -1;
    buf_init(&in->pending.text, 0);
    buf_init(&in->pending.presence, 0);
    if (rejects_init(&in->rejects) != 0 || !(in->prefix = strdup(cfg->mqtt_prefix)) ||
        (cfg->fed_hub && !(in->state_prefix = strdup(cfg->fed_prefix)))) {
        free_ingest(in);
        log_error("ingest: out of memory");
        return -1;
    }
    in->loop = loop;
    in->store = store;
    in->budget_ns = (uint64_t)cfg->commit_interval_ms * 1000000u;
    in->retention_ms = cfg->retention_days * 86400000LL;
    int rc = uv_async_init(loop, &in->wake, on_wake);
    if (rc != 0) { /* not in the loop: nothing to close */
        log_error("ingest: cannot create the wake handle: %s", uv_strerror(rc));
        free_ingest(in);
        return -1;
    }
    uv_timer_init(loop, &in->retry); /* cannot fail */
    in->wake.data = in->retry.data = in;
    in->handles_open = 2;
    if (open_spool(in, cfg) != 0) {
        close_handles(in); /* frees in once the caller runs the loop */
        return -1;
    }

    struct ingest_mqtt_opts mo = {
        .uri = cfg->mqtt_uri,
        .client_id = cfg->mqtt_client_id,
        .prefix = cfg->mqtt_prefix,
        .username = cfg->mqtt_username,
        .password = cfg->mqtt_password,
        .ca_file = cfg->mqtt_ca_file,
        .cert_file = cfg->mqtt_cert_file,
        .key_file = cfg->mqtt_key_file,
        .tls_insecure = cfg->mqtt_tls_insecure,
        .keepalive_s = cfg->mqtt_keepalive_s,
        .state_prefix = cfg->fed_hub ? cfg->fed_prefix : NULL,
        /* a record must fit the spool (ingest_queue_push) */
        .state_max_bytes = (size_t)(cfg->fed_max_state_bytes < cfg->ingest_queue_bytes / 4
                                        ? cfg->fed_max_state_bytes
                                        : cfg->ingest_queue_bytes / 4)};
    if (ingest_mqtt_start(&in->mqtt, loop, &mo, &in->queue) != 0) {
        close_handles(in);
        return -1;
    }
    *out = in;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ingest *in = h->data;
    if (--in->handles_open > 0)
        return;
    void (*done)(void *) = in->done;
    void *ctx = in->done_ctx;
    free_ingest(in);
    if (done)
        done(ctx);
}

/* Paho is gone: nothing can enter the queue any more. What cannot be
 * committed now stays in the spool for the next start. */
static void on_mqtt_stopped(void *ctx)
{
    struct ingest *in = ctx;
    in->mqtt = NULL;
    in->stopping = true;
    drain(in, true);
    if (!finish_group(in)) {
        struct ingest_queue_stats qs;
        ingest_queue_stats(&in->queue, &qs);
        log_warn("ingest: %llu messages stay in the spool for the next start",
                 (unsigned long long)qs.unreleased);
    }
    ingest_log_stats(in, "at exit");
    close_handles(in);
}

void ingest_stop(struct ingest *in, void (*done)(void *ctx), void *ctx)
{
    in->done = done;
    in->done_ctx = ctx;
    ingest_mqtt_stop(in->mqtt, on_mqtt_stopped, in);
}

void ingest_get_stats(struct ingest *in, struct ingest_stats *out)
{
    struct ingest_queue_stats qs;
    *out = in->stats;
    ingest_queue_stats(&in->queue, &qs);
    out->queued = qs.waiting;
    out->producer_waits = qs.producer_waits;
    out->unreleased = qs.unreleased;
    out->spool_bytes = qs.bytes;
    out->spool_size = qs.size;
    out->replayed = in->replayed;
    out->held = in->held && util_now_ms() - in->held_since_ms >= HELD_NEWS_MS;
    out->held_since_ms = in->held_since_ms;
    if (in->mqtt) {
        out->mqtt_connected = ingest_mqtt_connected(in->mqtt);
        out->mqtt_subscribed = ingest_mqtt_subscribed(in->mqtt);
        out->mqtt_connects = ingest_mqtt_connects(in->mqtt);
    }
}

const struct rejects *ingest_rejects(const struct ingest *in)
{
    return &in->rejects;
}

void ingest_log_stats(struct ingest *in, const char *when)
{
    struct ingest_stats st;
    struct store_stats ss;
    char reasons[1024] = "";
    size_t off = 0;

    ingest_get_stats(in, &st);
    store_get_stats(in->store, &ss);
    for (int r = 0; r < PARSE_REASON_COUNT && off < sizeof reasons; r++) {
        if (in->rejects.total[r] == 0)
            continue;
        int n = snprintf(reasons + off, sizeof reasons - off, " %s=%llu", parse_reason_name(r),
                         (unsigned long long)in->rejects.total[r]);
        if (n > 0)
            off += (size_t)n;
    }
    log_info("stats %s: messages=%llu samples=%llu stored=%llu presence=%llu rejected=%llu%s%s "
             "queued=%llu waits=%llu commits=%llu commit_errors=%llu series=%llu units=%llu",
             when, (unsigned long long)st.messages, (unsigned long long)st.samples,
             (unsigned long long)ss.stored_total, (unsigned long long)st.presence,
             (unsigned long long)st.rejected, off ? " rejected_by_reason:" : "", reasons,
             (unsigned long long)st.queued, (unsigned long long)st.producer_waits,
             (unsigned long long)ss.commits, (unsigned long long)ss.commit_errors,
             (unsigned long long)ss.series, (unsigned long long)ss.units);
}
