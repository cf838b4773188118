/* ingest.h — from MQTT message to committed sample, on the loop thread.
 *
 * Owns the ingest_queue (the spool, "<database>-spool"), the MQTT client
 * (ingest_mqtt) and the reject log. Uses, but does not own, the store. Each
 * loop turn drains the queue into one store group and commits it: at most
 * one group per turn, and under load a commit at least every
 * commit_interval_ms (the turn ends and yields to other loop work, then
 * continues). Only a committed group leaves the spool.
 *
 * Nothing is dropped when a write fails for a reason that may pass (the
 * write lock held by another process, a full or failing disk: STORE_RETRY):
 * the group's messages stay in the spool, ingest stops reading (the spool
 * fills, Paho's thread waits, the broker keeps the rest) and tries the same
 * messages again after 250 ms, backing off to 2 s, until they commit. They
 * are counted (messages, samples, rejections) once, when first read.
 *
 * Data entered by people over HTTP (CONTRACT §1.1) takes the same path:
 * ingest_submit parses it with the same parse_message on the same topic
 * form, counts rejections in the same reject log, and appends to the same
 * store group, so observers see those samples as they see MQTT ones. */
#ifndef PANTAU_INGEST_H
#define PANTAU_INGEST_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "rejects.h"
#include "store.h"

struct ingest;

/* The live delay histogram: from an MQTT message's arrival (Paho's
 * callback) to its samples going to the websocket clients, after their
 * COMMIT. Upper bounds in µs; the last bucket takes the rest. */
#define INGEST_DELAY_BUCKETS 13
extern const unsigned ingest_delay_bounds_us[INGEST_DELAY_BUCKETS - 1];

struct ingest_stats {
    uint64_t messages;       /* MQTT messages taken from the queue */
    uint64_t samples;        /* samples appended (committed or not yet) */
    uint64_t presence;       /* $status messages */
    uint64_t rejected;       /* rejections (per element or per message) */
    uint64_t producer_waits; /* times Paho's thread waited on a full queue */
    uint64_t queued;         /* messages waiting now */
    uint64_t unreleased;     /* messages acknowledged to the broker, not yet committed */
    uint64_t spool_bytes;    /* of the spool those take */
    uint64_t spool_size;
    uint64_t replayed; /* messages found in the spool at start */
    bool held;         /* writes have failed for a second or more: ingest waits */
    int64_t held_since_ms;
    bool mqtt_connected;
    bool mqtt_subscribed;
    uint64_t mqtt_connects;
    /* samples per delay bucket (not cumulative), and the sum of delays in
     * µs (both ends on the wall clock, to 4 µs). */
    uint64_t delay_samples[INGEST_DELAY_BUCKETS];
    uint64_t delay_us_sum;
};

/* Told after each successful commit (loop thread): the group's samples in
 * arrival order (valid only during the call), and presence changes. */
struct ingest_observer {
    void (*samples)(void *ctx, const struct sample *samples, size_t n);
    void (*presence)(void *ctx, const char *program, const char *unit);
    void *ctx;
};

/* Starts consuming; returns at once (the broker may not be up yet). */
int ingest_start(struct ingest **out, uv_loop_t *loop, const struct cfg *cfg, struct store *store);

void ingest_set_observer(struct ingest *in, const struct ingest_observer *obs);

/* Stops taking messages, disconnects, stores and commits everything already
 * received, frees `in`, then calls done(ctx) on the loop thread. */
void ingest_stop(struct ingest *in, void (*done)(void *ctx), void *ctx);

void ingest_get_stats(struct ingest *in, struct ingest_stats *out);
const struct rejects *ingest_rejects(const struct ingest *in);

/* One message entered over HTTP: a payload of CONTRACT §1 form 1, 2 or 3
 * for the topic <prefix>/<path>. */
struct ingest_entry {
    const char *path; /* "<program>/<unit>/<metric>" */
    const void *payload;
    size_t len;
    int64_t arrival_ms; /* the default ts and the reference for "in the future" */
    /* Shown as the topic in the reject log; NULL: the topic. */
    const char *source;
    /* Told of each rejection after it is counted (element: index in an
     * array, -1 for the whole message or a single sample). May be NULL. */
    void (*on_reject)(void *ctx, enum parse_reason reason, int element, const char *detail);
    void *ctx;
};

/* The programs samples and $status may name (CONTRACT §10: with a
 * catalog, others are rejected as unknown_program): a copy of ids[0..n) is
 * kept; ids NULL takes every program (the default). Loop thread; applies
 * from the next message. Returns 0, or -1 (out of memory: unchanged). */
int ingest_set_programs(struct ingest *in, const char *const *ids, int n);

/* Parses e into the open store group (beginning one if needed). `$status`
 * is refused (bad_topic): presence is MQTT's. Nothing is committed: call
 * ingest_commit before answering. Returns the number of samples appended. */
int ingest_submit(struct ingest *in, const struct ingest_entry *e);

/* Counts a message refused before it could be parsed (e.g. too large, a
 * malformed CSV row) as MQTT rejections are counted, and tells e->on_reject. */
void ingest_reject(struct ingest *in, const struct ingest_entry *e, enum parse_reason reason,
                   const char *detail);

/* Commits the open group and tells the observers, as the MQTT path does
 * every loop turn. Returns 0, or -1 if the group was rolled back. */
int ingest_commit(struct ingest *in);

/* CONTRACT §7, a hub ([federation] hub): a message on
 * "<[federation] prefix>/<id>/state" goes to fn instead of parse.c's sample
 * path, inside the open store group (fn may write on store_db: its rows
 * commit or roll back with the group, and after a rollback fn is called
 * again with the same message, so it must be idempotent). fn returns 0
 * (taken), 1 (rejected: counted as bad_state with *why) or STORE_RETRY.
 * Without a handler such messages are rejected as bad_state. */
struct ingest_state_handler {
    int (*fn)(void *ctx, const char *region_id, const char *payload, size_t len, int64_t arrival_ms,
              const char **why);
    void *ctx;
};
void ingest_set_state_handler(struct ingest *in, const struct ingest_state_handler *h);

/* CONTRACT §7, a regency ([federation] publish): hands the latest STATE to
 * the MQTT client's publisher thread (ingest_mqtt_offer; the loop never
 * calls Paho). Loop thread. Returns 0 or -1. */
int ingest_offer_state(struct ingest *in, const char *topic, const char *payload, size_t len);
/* offered, sent, acked, failed (see ingest_mqtt.h); zeros while stopping. */
void ingest_state_stats(struct ingest *in, uint64_t out[4]);

/* One log line with the counters (for the periodic stats and shutdown). */
void ingest_log_stats(struct ingest *in, const char *when);

#endif
