/* federation_state.h — CONTRACT §7's objects, pure: a STATE checked against
 * its shape and summed up, the REGION folded from it, the order of
 * /api/v1/regions, and the fingerprint of what makes a regency publish.
 *
 * No I/O, no globals: any thread (the hub's loop checks arrivals; query
 * workers fold stored states for history and evaluations). Table-tested in
 * tests/test_federation.c. */
#ifndef PANTAU_FEDERATION_STATE_H
#define PANTAU_FEDERATION_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "kpi.h"

/* A STATE's generated_at may be at most this far ahead of the hub's clock. */
#define FED_MAX_FUTURE_MS (5 * 60 * 1000)

/* What a REGION says of its latest STATE. Strings borrow from the json_t
 * the summary was made from (fed_state_check) unless copied. */
struct fed_summary {
    const char *id, *name, *code, *province; /* code, province: NULL for null */
    int64_t generated_at;
    int programs;      /* how many */
    int alerts_firing; /* the STATE's alerts array's length */
    bool has_progress; /* mean of the programs' progress, null as 0 */
    double progress;
    bool has_health; /* the worst of their health, §5.3's order */
    enum kpi_status health;
    bool dim_has[DIM_COUNT]; /* each dimension's progress (null: false) */
    double dim_progress[DIM_COUNT];
    const json_t *dimensions; /* the STATE's dimensions array */
    const json_t *units;      /* the STATE's units object */
};

/* Checks root against §7's STATE: the regency (id equal to topic_id, name,
 * code and province strings or null, a code NN or NN.NN, timezone),
 * generated_at (an integer in [2000-01-01, now_ms + 5 min]), programs
 * (PROGRAM objects: id, name, dimension, status, progress, health, kpis),
 * the six dimensions in order, alerts (objects with an id and a state) and
 * units (online, offline, stale counts). Returns 0 with *out filled, or -1
 * with *why a static sentence. */
int fed_state_check(const json_t *root, const char *topic_id, int64_t now_ms,
                    struct fed_summary *out, const char **why);

/* The history entry's "dimensions" object: {"governance":P,...} (P null
 * when the dimension's progress is). */
void fed_dims_object(struct buf *b, const struct fed_summary *s);

/* One REGION as /api/v1/regions writes it. Everything the summary does not
 * hold comes from here: */
struct fed_region_view {
    const char *id, *name, *code, *province;
    bool heard;        /* false: never heard (waiting): every STATE field null */
    int64_t last_seen; /* arrival of the latest STATE's first copy */
    bool has_progress;
    double progress;
    int health; /* enum kpi_status, or -1 for null */
    int programs, alerts_firing;
    const char *dimensions_json; /* the latest STATE's array, as JSON text */
    const char *units_json;      /* its units object */
};
/* stale: never heard, or last_seen older than stale_ms at now_ms. */
void fed_region_json(struct buf *b, const struct fed_region_view *r, int64_t now_ms,
                     int64_t stale_ms);

/* /regions' order: by code (those without one last), then by id. qsort's. */
int fed_region_order(const char *code_a, const char *id_a, const char *code_b, const char *id_b);

/* FNV-1a 64 over bytes, continued from h (start with FED_FP_INIT): the
 * publisher's fingerprint of what a change is (§7). */
#define FED_FP_INIT 14695981039346656037ULL
uint64_t fed_fp(uint64_t h, const void *data, size_t len);

#endif
