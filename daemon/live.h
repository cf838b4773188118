/* live.h — the live websocket, GET /api/v1/live (CONTRACT §3).
 *
 * Owns every websocket client: its subscription filters, its bounded queue
 * of pending samples, its pending control frames. Loop thread only (lws is
 * not thread-safe); http.c owns the lws context and registers live's
 * protocol (live_protocol_init fills the lws_protocols entry).
 *
 * Fan-out: ingest calls live_publish_samples once per committed group.
 * The clients' filters live in one index (a trie over program/unit/metric
 * shared by all clients, "+" and a final "#" as wildcard children), so
 * finding who wants a sample costs a few hash lookups, not a look at every
 * client's every filter. Each sample is serialized to JSON once,
 * reference-counted, and queued for every client whose filters match; a
 * client's writable callback sends everything pending as ONE "samples"
 * frame (no frame per sample under load; a frame is cut at 256 KiB and the
 * rest follows at once). A fan-out that runs past a few ms (a group matched
 * by very many clients) goes on at the next loop turn, before anything
 * published later: the loop is never stalled by it. While writing to the
 * clients takes a large share of the loop (hundreds of screens), writes are
 * held back a few ms (at most 16) so that each frame carries several
 * commits; with a few screens every commit is written at once (live.c,
 * request_writes). A client's queue holds at most `queue_max` entries (or
 * one committed group if that is larger: a burst never pushes out its own
 * samples) and at most `queue_bytes` bytes of JSON: past either the oldest
 * go, and the client gets {"type":"dropped","count":N} before its next
 * samples. A client that stops reading costs at most its queue (plus what
 * lws buffers for one frame) and never delays ingest or other clients.
 * Alert, unit and kpi frames go, in order with the samples, to the clients
 * whose filters select them as CONTRACT §3 says: as a sample of the alert's
 * program/unit/metric (a silent alert: any metric of its unit), a unit
 * frame as any metric of that unit, a kpi frame as any of its program.
 *
 * Limits (CONTRACT §10): at most max_filters filters per subscribe (more:
 * {"type":"error","error":"too_many_filters"}, the subscribe not applied);
 * at most max_per_credential connections per credential (the token; a
 * session later), the next upgrade answered 429 too_many_connections; with
 * no tokens configured (loopback, or an open deployment behind the per-IP
 * bound) there is no credential and only max_clients applies.
 *
 * Snapshot: {"op":"subscribe",...,"snapshot":true} makes the next frames the
 * client gets "samples" frames (each at most 256 KiB, at least one even when
 * nothing matches) with the latest sample of every series the filters
 * match, read from the store's in-memory series cache (no database read) as
 * the client reads: each writable callback resumes a walk over the cache
 * and builds one frame, so a client that never reads holds one frame, not
 * the snapshot. Live samples that arrive meanwhile wait in the client's
 * queue and follow the snapshot, so the client ends with the latest value
 * of every series (a series updated during the walk may come twice, in
 * order). At most one snapshot per snapshot_interval_ms per client: a
 * subscribe asking for another sooner gets {"type":"error","error":
 * "too_many_snapshots"}, but its filters still apply (the client is told it
 * has no new picture and may ask again later; dropping the filters too
 * would leave it on filters it no longer wants). */
#ifndef PANTAU_LIVE_H
#define PANTAU_LIVE_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sample.h"
#include "store.h"

struct live;

struct live_opts {
    uv_loop_t *loop;               /* for the coalescing timer and for a fan-out that
                                      yields; NULL: every write at once, no yielding */
    size_t queue_max;              /* entries pending per client (> 0) */
    size_t queue_bytes;            /* bytes of JSON pending per client; 0: 1 MiB */
    size_t max_clients;            /* further upgrades are refused (> 0) */
    size_t max_filters;            /* per subscribe; 0: 16 */
    size_t max_per_credential;     /* live connections per token; 0: 100 */
    uint64_t snapshot_interval_ms; /* between one client's snapshots; 0: no limit */
    const char *version;
};

int live_init(struct live **out, struct store *store, const struct live_opts *opts);
/* Closes the coalescing timer (before the loop ends); writes are then asked
 * for at once. NULL is a no-op. */
void live_stop(struct live *l);
/* Frees the live state. lws must already have closed every client. */
void live_free(struct live *l);

/* Fills the lws protocol entry ("pantau.v1") whose callback serves clients. */
void live_protocol_init(struct live *l, struct lws_protocols *proto);

/* Decides whether a websocket upgrade may proceed (authentication). lws
 * delivers LWS_CALLBACK_HTTP_CONFIRM_UPGRADE to the protocol a connection is
 * bound to at that moment, which is the vhost's default protocol (live's,
 * so that clients offering no subprotocol reach it), not the HTTP one: so
 * live's callback makes the decision. It refuses any path but
 * /api/v1/live and more than max_clients itself, then asks `admit`. Return
 * 0 to accept, -1 to hang up, 1 if admit has sent an HTTP response itself
 * (e.g. 401 with the JSON error, via lws_return_http_status). On accepting,
 * admit writes into cred (cred_len bytes) the key the connection counts
 * against for max_per_credential, "" for none (no tokens configured); live
 * then answers 429 itself when that credential has max_per_credential
 * connections. admit must not touch lws's per-session `user` memory: it is
 * live's. Without an admit function every upgrade on the path is accepted,
 * with no credential. */
#define LIVE_CRED_MAX 80
typedef int (*live_admit_fn)(void *ctx, struct lws *wsi, char *cred, size_t cred_len);
void live_set_admit(struct live *l, live_admit_fn admit, void *ctx);

/* Committed samples, in arrival order. */
void live_publish_samples(struct live *l, const struct sample *samples, size_t n);
/* A unit's state changed: unit_json is the object as in /api/v1/units. */
void live_publish_unit(struct live *l, const char *program, const char *unit,
                       const char *unit_json);
/* An alert fired, resolved or was acknowledged: alert_json is the object as
 * in /api/v1/alerts; metric NULL for a silent alert. */
void live_publish_alert(struct live *l, const char *program, const char *unit, const char *metric,
                        const char *alert_json);
/* A KPI's current or status changed: kpi_json is the KPI object as in
 * /api/v1/programs. Goes to clients whose filters match any unit and
 * metric of the program. */
void live_publish_kpi(struct live *l, const char *program, const char *kpi_json);

struct live_stats {
    uint64_t clients;     /* connected now */
    uint64_t frames_sent; /* samples frames */
    uint64_t samples_sent;
    uint64_t samples_dropped; /* discarded from slow clients' queues */
    uint64_t fanout_yields;   /* publishes continued on a later loop turn */
    uint64_t refused_filters, refused_snapshots, refused_credential;
    uint64_t hold_ms; /* writes are held back this long now, to coalesce */
    uint64_t hold_ms_max;
};
void live_get_stats(const struct live *l, struct live_stats *out);

/* True if topic "program/unit/metric" matches an MQTT-style filter
 * ("+" one level, "#" the rest, only as the last level). A NULL unit or
 * metric stands for any value: the filter matches if some value would.
 * Pure; exposed for tests. */
bool live_filter_match(const char *filter, const char *program, const char *unit,
                       const char *metric);
/* True if the filter is well-formed (at most 3 levels unless it ends in #,
 * '#' only last and alone in its level, '+' alone in its level). */
bool live_filter_valid(const char *filter);

#endif
