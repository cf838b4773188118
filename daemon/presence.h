/* presence.h — field units' status (CONTRACT §2 /api/v1/units, §3 unit
 * frames): online, offline (its last $status said so) or stale (not
 * offline, but silent longer than its program's stale_after), worked out
 * from the store's units cache and told whenever it changes: when a unit
 * first appears, when a $status arrives, when a stale unit is heard from
 * again, and when a unit goes stale (noticed by a timer within check_ms).
 *
 * Owns, per unit, the status last told. Loop thread. A committed group
 * costs one look at the store's unit count, plus a lookup per unit in the
 * group while some unit is stale or a unit appeared. The timer's pass is
 * O(units) (about 0.5 µs a unit: 5 ms at [store] max_units = 10,000). */
#ifndef PANTAU_PRESENCE_H
#define PANTAU_PRESENCE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sample.h"
#include "store.h"

enum unit_status { UNIT_ONLINE, UNIT_OFFLINE, UNIT_STALE };

const char *presence_status_name(enum unit_status s);

/* The rule itself, pure: offline if its last $status said so; stale if
 * silent for more than stale_ms at `now`; online otherwise. */
enum unit_status presence_status_of(const struct store_unit_view *u, int64_t now, int64_t stale_ms);

struct presence;

struct presence_opts {
    uv_loop_t *loop;
    struct store *store;
    /* How long units of `program` may be silent. */
    int64_t (*stale_ms)(void *ctx, const char *program);
    /* The unit's status changed (or a $status arrived); u is valid during
     * the call. */
    void (*changed)(void *ctx, const struct store_unit_view *u, int64_t now);
    void *ctx;
    int64_t check_ms; /* default 5000 */
};

int presence_start(struct presence **out, const struct presence_opts *o);

/* ingest's observers: a group committed; a $status arrived (always told). */
void presence_samples(struct presence *p, const struct sample *s, size_t n);
void presence_status(struct presence *p, const char *program, const char *unit);

/* Every unit checked now (the timer's work; exposed for tests). */
void presence_check(struct presence *p);

void presence_stop(struct presence *p);
void presence_free(struct presence *p); /* after uv_run returned; NULL is a no-op */

#endif
