/* ingest.c — see ingest.h. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ingest_mqtt.h"
#include "ingest_queue.h"
#include "log.h"
#include "parse.h"
#include "util.h"

#define TAKE_BATCH 256 /* messages per lock of the queue */

/* The samples of the open store group, kept until it commits so observers
 * (the live websocket) see only what is in the database. Strings live in
 * `text`; `at` holds their offsets (pointers would move as text grows). */
struct pending_sample {
    size_t program, unit, metric, labels;
    int64_t ts, series;
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
    bool retained;                    /* MQTT: replayed by the broker on subscribe */
    const struct ingest_entry *entry; /* HTTP: told of rejections; NULL for MQTT */
    int stored;                       /* samples appended */
};

struct ingest {
    uv_loop_t *loop;
    uv_async_t wake; /* Paho thread -> loop: the queue is no longer empty */
    struct ingest_queue queue;
    struct ingest_msg *taken; /* taken from the queue, not yet processed */
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
    void (*done)(void *ctx);
    void *done_ctx;
};

static size_t pending_str(struct pending *p, const char *s)
{
    size_t at = p->text.len;
    buf_append(&p->text, s, strlen(s) + 1);
    return at;
}

static void pending_add(struct pending *p, const struct sample *s, int64_t series)
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
    }
    const char *pair = p->presence.data;
    for (size_t i = 0; i < p->n_presence && in->observer.presence; i++) {
        const char *unit = pair + strlen(pair) + 1;
        in->observer.presence(in->observer.ctx, pair, unit);
        pair = unit + strlen(unit) + 1;
    }
    pending_clear(p);
}

/* Commits the open group; observers hear only of what committed. */
static int commit(struct ingest *in)
{
    if (store_commit(in->store) == 0) {
        pending_publish(in);
        return 0;
    }
    pending_clear(&in->pending);
    return -1;
}

void ingest_set_observer(struct ingest *in, const struct ingest_observer *obs)
{
    in->observer = *obs;
}

static void on_reject(void *ctx, enum parse_reason reason, int element, const char *detail);

static void on_sample(void *ctx, const struct sample *s)
{
    struct ingest *in = ctx;
    /* Past the raw horizon the sample's raw row would be pruned, and a
     * redelivery of it could not be told from a new one (CONTRACT §1 takes
     * late samples back to that horizon). */
    if (s->ts < in->current->arrival_ms - in->retention_ms) {
        on_reject(ctx, PARSE_TS_TOO_OLD, s->element, "older than the raw retention horizon");
        return;
    }
    in->stats.samples++;
    int64_t series;
    int rc = store_append(in->store, s, in->current->arrival_ms, &series);
    if (rc == STORE_SERIES_LIMIT) {
        on_reject(ctx, PARSE_SERIES_LIMIT, s->element, "too many series ([store] max_series)");
        return;
    }
    if (rc != 0) {
        log_limited(&in->store_errors, LOG_LVL_ERROR, "ingest: a sample of %s/%s/%s not stored",
                    s->program, s->unit, s->metric);
        if (rc == STORE_GROUP_LOST) /* none of the group is stored: tell no one of it */
            pending_clear(&in->pending);
        return;
    }
    in->current->stored++;
    if (in->observer.samples)
        pending_add(&in->pending, s, series);
}

static void on_reject(void *ctx, enum parse_reason reason, int element, const char *detail)
{
    struct ingest *in = ctx;
    const struct source *m = in->current;
    const struct ingest_entry *e = m->entry;
    const char *shown = e && e->source ? e->source : m->topic;
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
    in->stats.presence++;
    /* A retained $status the broker replays when pantaud (re)subscribes is
     * not the unit speaking: it may correct the status, but it is not
     * "heard from" (last_seen, silence) for a unit already known. */
    struct store_unit_view known;
    bool replay = in->current->retained && store_get_unit(in->store, program, unit, &known) == 0 &&
                  known.last_seen > 0;
    if (replay && known.online == (int)online)
        return;
    if (store_presence(in->store, program, unit, online, in->current->arrival_ms, !replay) == 0 &&
        in->observer.presence) {
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

static void ingest_one(struct ingest *in, const struct ingest_msg *m)
{
    struct source src = {.topic = m->data,
                         .payload = m->payload,
                         .payload_len = m->payload_len,
                         .payload_total = m->payload_total,
                         .arrival_ms = m->arrival_ms,
                         .retained = m->retained};
    in->stats.messages++;
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
                         .entry = e};
    in->current = &src;
    on_reject(in, reason, -1, detail);
    in->current = NULL;
}

int ingest_commit(struct ingest *in)
{
    return commit(in);
}

/* Works through the queue, a batch per lock, until it is empty or the
 * turn's budget is spent (checked after every message: one may hold 1000
 * samples). Returns true if messages may remain. */
static bool drain(struct ingest *in, bool unbounded)
{
    uint64_t start = util_mono_ns();
    for (;;) {
        if (!in->taken && !(in->taken = ingest_queue_take(&in->queue, TAKE_BATCH)))
            return false;
        struct ingest_msg *m = in->taken;
        in->taken = m->next;
        ingest_one(in, m);
        free(m);
        if (!unbounded && util_mono_ns() - start >= in->budget_ns)
            return true;
    }
}

static void on_wake(uv_async_t *h)
{
    struct ingest *in = h->data;
    bool more = drain(in, false);
    commit(in);
    if (more)
        uv_async_send(&in->wake); /* continue after the loop has polled I/O */
}

static void on_wake_closed(uv_handle_t *h);

int ingest_start(struct ingest **out, uv_loop_t *loop, const struct cfg *cfg, struct store *store)
{
    struct ingest *in = calloc(1, sizeof *in);
    if (!in)
        return -1;
    if (rejects_init(&in->rejects) != 0 || !(in->prefix = strdup(cfg->mqtt_prefix)) ||
        ingest_queue_init(&in->queue, (size_t)cfg->ingest_queue_msgs,
                          (size_t)cfg->ingest_queue_bytes, &in->wake) != 0) {
        rejects_free(&in->rejects);
        free(in->prefix);
        free(in);
        log_error("ingest: out of memory");
        return -1;
    }
    in->loop = loop;
    in->store = store;
    buf_init(&in->pending.text, 0);
    buf_init(&in->pending.presence, 0);
    in->budget_ns = (uint64_t)cfg->commit_interval_ms * 1000000u;
    in->retention_ms = cfg->retention_days * 86400000LL;
    int rc = uv_async_init(loop, &in->wake, on_wake);
    if (rc != 0) { /* not in the loop: nothing to close */
        log_error("ingest: cannot create the wake handle: %s", uv_strerror(rc));
        ingest_queue_destroy(&in->queue);
        rejects_free(&in->rejects);
        pending_free(&in->pending);
        free(in->prefix);
        free(in);
        return -1;
    }
    in->wake.data = in;

    struct ingest_mqtt_opts mo = {.uri = cfg->mqtt_uri,
                                  .client_id = cfg->mqtt_client_id,
                                  .prefix = cfg->mqtt_prefix,
                                  .username = cfg->mqtt_username,
                                  .password = cfg->mqtt_password,
                                  .ca_file = cfg->mqtt_ca_file,
                                  .cert_file = cfg->mqtt_cert_file,
                                  .key_file = cfg->mqtt_key_file,
                                  .tls_insecure = cfg->mqtt_tls_insecure,
                                  .keepalive_s = cfg->mqtt_keepalive_s};
    if (ingest_mqtt_start(&in->mqtt, loop, &mo, &in->queue) != 0) {
        /* Freed by on_wake_closed once the caller runs the loop. */
        uv_close((uv_handle_t *)&in->wake, on_wake_closed);
        return -1;
    }
    *out = in;
    return 0;
}

static void on_wake_closed(uv_handle_t *h)
{
    struct ingest *in = h->data;
    void (*done)(void *) = in->done;
    void *ctx = in->done_ctx;
    while (in->taken) { /* only after a failed start: a stop drains it */
        struct ingest_msg *next = in->taken->next;
        free(in->taken);
        in->taken = next;
    }
    ingest_queue_destroy(&in->queue);
    rejects_free(&in->rejects);
    pending_free(&in->pending);
    free(in->prefix);
    free(in);
    if (done)
        done(ctx);
}

/* Paho is gone: nothing can enter the queue any more. */
static void on_mqtt_stopped(void *ctx)
{
    struct ingest *in = ctx;
    in->mqtt = NULL;
    drain(in, true);
    commit(in);
    ingest_log_stats(in, "at exit");
    uv_close((uv_handle_t *)&in->wake, on_wake_closed);
}

void ingest_stop(struct ingest *in, void (*done)(void *ctx), void *ctx)
{
    in->done = done;
    in->done_ctx = ctx;
    ingest_mqtt_stop(in->mqtt, on_mqtt_stopped, in);
}

void ingest_get_stats(struct ingest *in, struct ingest_stats *out)
{
    *out = in->stats;
    ingest_queue_stats(&in->queue, &out->queued, &out->producer_waits);
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
