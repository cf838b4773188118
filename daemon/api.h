/* api.h — the HTTP API of CONTRACT §2: routes /api/v1/..., /healthz and
 * /metrics to handlers and answers in JSON (errors as {"error","message"}).
 *
 * Owns nothing but its route table; reads the store's caches, ingest's and
 * live's counters on the loop thread, and sends database queries (query,
 * export) to worker threads through query_pool so a long one never stalls
 * the loop. */
#ifndef PANTAU_API_H
#define PANTAU_API_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"
#include "http.h"
#include "ingest.h"
#include "live.h"
#include "store.h"

struct query_pool;

struct api {
    const struct cfg *cfg;
    struct store *store;
    struct ingest *ingest;
    struct live *live;
    struct http_server *http;
    struct query_pool *queries; /* NULL: query endpoints answer 503 */
    uv_loop_t *loop;
    int64_t started_ms;
    /* POST /api/v1/reload: returns the number of problems (0 = reloaded). */
    int (*reload)(void *ctx);
    void *reload_ctx;
};

/* The http_route_fn: ctx is a struct api. */
void api_route(void *ctx, struct http_request *r);

/* GET /api/v1/query and /api/v1/export.csv (api_query.c). */
void api_query(struct api *a, struct http_request *r);
void api_export(struct api *a, struct http_request *r);

/* POST /api/v1/ingest/<program>/<unit>/<metric> and POST /api/v1/import.csv
 * (api_ingest.c, CONTRACT §1.1); both read their bodies as streams, so
 * api_streams_body (an http_streams_body_fn) names them to http.c. */
void api_ingest(struct api *a, struct http_request *r);
void api_import(struct api *a, struct http_request *r);
bool api_streams_body(void *ctx, const struct http_request *r);

/* One unit as in /api/v1/units (also the payload of live "unit" frames). */
void api_unit_json(struct buf *b, const struct store_unit_view *u, int64_t now_ms,
                   int64_t stale_ms);

#endif
