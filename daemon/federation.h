/* federation.h — CONTRACT §7: a regency's STATE published upward, and a
 * hub's collection of every region's STATEs. Loop thread only.
 *
 * Publishing ([federation] publish): a 1-second timer takes a fingerprint
 * of what §7 calls a change (each program's progress and health, each
 * KPI's current and status, each firing alert's id, state and
 * acknowledgement, the online/offline/stale unit counts). When it differs
 * from the published one and 10 s have passed since the last publish, or
 * when `heartbeat` has passed whatever changed, the STATE is built (after
 * kpi_engine_sync, so it holds what committed) and handed to
 * ingest_offer_state. The loop never calls Paho for it: ingest_mqtt's
 * publisher thread sends the latest offer (QoS 1, retained) and resends
 * after a reconnect what was not acknowledged; an offer not yet sent is
 * replaced by the next. Why a thread (ARCHITECTURE's deadlock rule):
 * on_message runs holding Paho's global mutex (mqttasync_mutex, shared by
 * every MQTTAsync client of the process, so a second client would not
 * help) and may wait there for a full spool that only the loop empties; a
 * Paho call from the loop would then wait for ever. The publisher thread
 * may wait instead, holding nothing the loop needs.
 *
 * The hub ([federation] hub): ingest hands it each message of
 * "<prefix>/<id>/state" (federation_take_state) inside ingest's open
 * group; a valid STATE (federation_state.h) is stored in fed_states keyed
 * by (region, generated_at) with the arrival of its first copy, and the
 * region's latest (greatest generated_at) kept in memory for /regions. A
 * bad one is refused as bad_state, never stored. Owns the in-memory
 * regions, a prune timer (a minute after start, then hourly: states older
 * than thin_after_days keep only the last of each hour of each region;
 * older than state_retention_days none but each region's latest), and the
 * statements on the store's connection. */
#ifndef PANTAU_FEDERATION_H
#define PANTAU_FEDERATION_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "cfg.h"

struct federation;
struct store;
struct ingest;
struct kpi_engine;
struct alert_engine;
struct catalog;

struct federation_opts {
    uv_loop_t *loop;
    const struct cfg *cfg;
    struct store *store;
    struct ingest *ingest;
    struct kpi_engine *kpis; /* its catalog: the regency, the programs, a hub's regions */
    struct alert_engine *alerts;
    /* How long units of `program` may be silent (the unit counts). */
    int64_t (*unit_stale_ms)(void *ctx, const char *program);
    void *ctx;
};

/* Starts what cfg asks (nothing when neither publish nor hub), registers
 * the hub's state handler with ingest, and loads the regions' latest
 * states. Returns 0 or -1 (logged). */
int federation_start(struct federation **out, const struct federation_opts *o);

/* The ingest_state_handler of a hub: see ingest.h. */
int federation_take_state(void *ctx, const char *region_id, const char *payload, size_t len,
                          int64_t arrival_ms, const char **why);

/* {"regions":[REGION...]} as of now (§7's order; the catalog's regions
 * never heard included, waiting). Also for a non-hub (then only the
 * catalog's). */
void federation_regions_json(struct federation *f, struct buf *b, int64_t now_ms);
/* {"region":REGION,"state":STATE or null}; -1 when the region is unknown. */
int federation_region_json(struct federation *f, const char *id, struct buf *b, int64_t now_ms);

/* A copy of what a worker needs to list regions as of a past time: the
 * catalog's expected regions and the staleness bound. */
struct federation_expected {
    int n;
    struct federation_expected_region {
        char *id, *name, *code, *province;
    } * at;
    int64_t stale_ms;
};
int federation_expected_copy(struct federation *f, struct federation_expected *out);
void federation_expected_free(struct federation_expected *e);
/* Worker thread: {"regions"...}'s array of every REGION as of as_of from the
 * read-only connection db (each region's latest STATE with generated_at <=
 * as_of; stale as of as_of), in /regions' order, into b. 0 or -1. */
struct sqlite3;
int federation_regions_as_of(struct sqlite3 *db, const struct federation_expected *e, int64_t as_of,
                             struct buf *b);

/* True when this pantaud is a hub / publishes. */
bool federation_is_hub(const struct federation *f);

struct federation_stats {
    uint64_t states_taken, states_duplicate, published_offers;
    int regions;
};
void federation_get_stats(const struct federation *f, struct federation_stats *out);

/* Stops the timers (call before ingest_stop: no more offers). NULL: no-op. */
void federation_stop(struct federation *f);
/* Finalizes its statements on the store's connection (after ingest's last
 * commit, before store_close); later states are refused with STORE_RETRY,
 * so they stay in the spool for the next start. NULL: no-op. */
void federation_close_db(struct federation *f);
void federation_free(struct federation *f); /* after uv_run returned; NULL is a no-op */

#endif
