/* webhook.h — alert notifications POSTed to one URL (CONTRACT §6,
 * "Notifications"), and escalations (§8) to a second one when configured,
 * from a durable outbox.
 *
 * The alert engine writes each transition as a row of `webhook_outbox`
 * (alert_store.c owns the table) with webhook_enqueue, inside its own
 * transaction, and calls webhook_kick after the COMMIT. This module sends
 * each row's body and deletes the row on a 2xx answer. Anything else (another
 * status, a refused or dropped connection, a timeout, a reply that is not
 * HTTP) is a failed attempt: the row is tried again after first_retry_ms,
 * doubling up to max_retry_ms, until it is older than give_up_ms. Each row
 * has a destination (enum webhook_dest), chosen when it is enqueued. Rows of
 * one alert for one destination go out one at a time in id order, so a dead
 * escalation endpoint never holds back the webhook's notifications; other
 * rows may be in flight together (at most WEBHOOK_MAX_INFLIGHT). Rows survive
 * a restart: webhook_start sends what a previous run left; an escalation
 * row whose URL is no longer configured goes to `url`, and a row for `url`
 * waits in the outbox while `url` is not configured.
 *
 * All I/O is libcurl's multi interface driven by the loop (a uv_poll_t per
 * socket, a uv_timer_t for curl's timeouts): a slow, dead or garbage-answering
 * endpoint never blocks the loop. A second timer wakes the module when the
 * earliest waiting row is due; nothing polls while nothing is due. One cost
 * stays on the loop: the first https connection of a day parses the CA bundle
 * (about 40 ms; curl keeps the result 24 h).
 *
 * Owns: the curl multi handle and its transfers, the poll and timer handles,
 * its prepared statements on the store's write connection (store_db). Loop
 * thread only, and never while a store group is open. */
#ifndef PANTAU_WEBHOOK_H
#define PANTAU_WEBHOOK_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define WEBHOOK_MAX_INFLIGHT 4

struct webhook;

/* Where a row goes (the outbox's `dest`). */
enum webhook_dest {
    WEBHOOK_NOTIFY = 0,   /* url: every transition ([alerts] webhook) */
    WEBHOOK_ESCALATE = 1, /* escalate_url: escalations ([alerts] escalate_webhook) */
};

struct webhook_opts {
    uv_loop_t *loop;
    sqlite3 *db;                /* the store's write connection (store_db) */
    const char *url;            /* http:// or https:// (copied); NULL: none */
    const char *token;          /* NULL or "": no Authorization; else Bearer <token> (copied) */
    const char *escalate_url;   /* likewise, for escalations; NULL: they go to url */
    const char *escalate_token; /* its own Bearer token (url's is not sent there) */
    int64_t max_pending;        /* rows kept at most; the oldest beyond it are dropped (10000) */
    int64_t first_retry_ms;     /* delay after the first failed attempt (2000; CONTRACT: < 10 s) */
    int64_t max_retry_ms;       /* the delay doubles up to this (600000) */
    int64_t give_up_ms;         /* a row older than this is dropped (25 h; CONTRACT: >= 24 h) */
    int64_t timeout_ms;         /* one attempt, connect to last byte (10000) */
};

struct webhook_stats {
    uint64_t delivered; /* rows answered with 2xx */
    uint64_t failures;  /* failed attempts */
    uint64_t dropped;   /* rows deleted unsent: over max_pending or older than give_up_ms
                         * (counted when deleted, even if the caller then rolls back) */
    uint64_t pending;   /* rows in the outbox now (recounted at each kick) */
};

/* Prepares the statements and starts sending what the outbox holds. At least
 * one of url and escalate_url is given. Returns 0 and *out, or -1 (logged;
 * *out untouched). */
int webhook_start(struct webhook **out, const struct webhook_opts *o);

/* The destination of an escalation (escalation true) or of another
 * transition: WEBHOOK_ESCALATE when escalate_url is set, else WEBHOOK_NOTIFY
 * when url is set, else -1 (not sent). */
int webhook_dest_for(const struct webhook *w, bool escalation);

/* Inserts one notification for alert_id to dest (body: the whole JSON,
 * copied), created and due at now_ms, inside the caller's open transaction
 * if there is one (a savepoint of its own otherwise), then deletes the
 * oldest rows beyond max_pending (counted as dropped). Returns 0, or -1
 * (logged) with nothing written. The row goes out at the next kick (or any
 * later pump). */
int webhook_enqueue(struct webhook *w, int64_t alert_id, int dest, const char *body,
                    int64_t now_ms);

/* Committed rows are waiting: sends what is due now. Call after COMMIT. */
void webhook_kick(struct webhook *w);

void webhook_get_stats(const struct webhook *w, struct webhook_stats *out);

/* Cancels the transfers in flight (their rows stay, attempts unchanged),
 * finalizes the statements (call it before store_close), closes every handle.
 * The loop then ends once it has run the close callbacks. Idempotent. */
void webhook_stop(struct webhook *w);

/* After uv_run has returned. NULL is a no-op. */
void webhook_free(struct webhook *w);

#endif
