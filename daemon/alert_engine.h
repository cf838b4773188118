/* alert_engine.h — applies the catalog's rules (CONTRACT §6) to the samples
 * that commit and to the units' silence, and keeps the alerts. Loop thread.
 *
 * Owns, for the catalog in use: per series that a rule reads, its latest
 * sample and each rule's run (alert.h); per reference and match values, R
 * (its latest sample by ts) and the series that use it; per silent rule and
 * unit, its run; every firing alert (in memory, and in the alerts table
 * through alert_store.h) with its escalation deadline (CONTRACT §8); the
 * timer that checks silence, escalates, and writes what could not be
 * written.
 *
 * Cost: a committed sample costs one lookup of its series id (a series no
 * rule reads is remembered as such) plus, for the rules that read it, one
 * step each; a change of R re-steps the series that use it. History is
 * never scanned. Transitions are written in one transaction per committed
 * group, with their notifications (the webhook outbox) in the same one, so
 * a restart neither forgets a firing alert nor fires it twice. A value that
 * only follows the latest sample while firing is written by the timer.
 *
 * The catalog is borrowed: the caller keeps it alive until it hands over
 * the next one (alert_engine_set_catalog) or stops the engine. */
#ifndef PANTAU_ALERT_ENGINE_H
#define PANTAU_ALERT_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "alert.h"
#include "catalog.h"
#include "sample.h"

struct alert_engine;
struct store;

struct alert_engine_opts {
    uv_loop_t *loop;
    struct store *store; /* its write connection and its series and units caches */
    /* An alert fired, resolved, was acknowledged or escalated (event
     * "firing", "resolved", "acked", "escalated"): told at once, for the
     * live push. */
    void (*changed)(void *ctx, const char *event, const struct alert_record *a);
    /* May be NULL. The notification of that change: a malloc'd body to keep
     * (NULL: none), then handed to persist_note (with the same event, a
     * string literal) inside the transaction that stores the change, and
     * persisted() told after it committed. */
    char *(*note)(void *ctx, const char *event, const struct alert_record *a);
    int (*persist_note)(void *ctx, int64_t alert_id, const char *event, const char *body);
    void (*persisted)(void *ctx);
    void *ctx;
    int64_t check_ms;     /* silence and escalation checks, deferred writes; default 5000 */
    int retention_days;   /* resolved alerts are kept max(this, 400) days */
    int64_t (*now)(void); /* arrival-time clock; NULL: util_now_ms (tests inject one) */
};

/* Loads the firing alerts from the database and starts with catalog c;
 * escalates at once those due while pantaud was down. Returns 0 or -1. */
int alert_engine_start(struct alert_engine **out, const struct alert_engine_opts *o,
                       const struct catalog *c);

/* Switches to catalog c (the old one may be freed after this returns).
 * Firing alerts of rules that remain stay firing; those of rules that are
 * gone resolve now. The new rule's `escalate` (or its absence) applies to
 * the firing alerts not yet escalated, counted from their fired_at: one
 * already past a shorter deadline escalates now. Returns 0 or -1 (out of
 * memory: state is rebuilt on the next sample as far as memory allows). */
int alert_engine_set_catalog(struct alert_engine *e, const struct catalog *c);

/* ingest's observers: samples committed (with their series ids); a
 * $status arrived. */
void alert_engine_samples(struct alert_engine *e, const struct sample *s, size_t n);
void alert_engine_presence(struct alert_engine *e, const char *program, const char *unit);

/* What the timer does: checks every silent rule's units, escalates the
 * alerts due (by the clock, opts.now), writes deferred changes. Exposed for
 * tests. */
void alert_engine_tick(struct alert_engine *e);

typedef void (*alert_engine_fn)(void *ctx, const struct alert_record *a);

/* Every firing alert of `program` (NULL: all), newest fired_at first. */
void alert_engine_each_firing(struct alert_engine *e, const char *program, alert_engine_fn fn,
                              void *ctx);
struct alert_page;
/* One page (alert_store.h) of the alerts whose firing overlaps [from, to]
 * (from the database, after writing what is pending), newest first. 0 or
 * -1. */
int alert_engine_each_in(struct alert_engine *e, const struct alert_page *pg, alert_engine_fn fn,
                         void *ctx);

/* Acknowledges alert id by `role` with an optional note (NULL). A second
 * acknowledgement changes nothing. *out is a copy of the alert (free with
 * alert_record_free). Returns 1, 0 when there is no such alert, -1 on a
 * database error. */
int alert_engine_ack(struct alert_engine *e, int64_t id, const char *role, const char *note,
                     struct alert_record *out);

/* A copy of alert id (free with alert_record_free), for a check before an
 * acknowledgement (its program's scope, CONTRACT §8). 1, 0 when there is
 * no such alert, -1 on a database error. */
int alert_engine_get(struct alert_engine *e, int64_t id, struct alert_record *out);

/* For /metrics: firing alerts per severity, and fired alerts per rule id
 * since start (fn once per rule ever fired or in the catalog). */
void alert_engine_firing_counts(const struct alert_engine *e, uint64_t out[3]);
void alert_engine_each_fired_total(const struct alert_engine *e,
                                   void (*fn)(void *ctx, const char *rule, uint64_t n), void *ctx);
/* Escalated alerts per rule id since start (fn once per rule ever escalated
 * or with `escalate` in the catalog). */
void alert_engine_each_escalated_total(const struct alert_engine *e,
                                       void (*fn)(void *ctx, const char *rule, uint64_t n),
                                       void *ctx);

/* Writes what is pending, finalizes its statements (call it before
 * store_close) and stops the timer; free after uv_run returns. After stop,
 * reads and acknowledgements answer -1. */
void alert_engine_stop(struct alert_engine *e);
void alert_engine_free(struct alert_engine *e); /* NULL is a no-op */

#endif
