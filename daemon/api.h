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

struct alert_engine;
struct federation;
struct alert_record;
struct people;
struct checkpointer;
struct loopwatch;
struct kpi_engine;
struct query_pool;
struct webhook;

struct api {
    const struct cfg *cfg;
    struct store *store;
    struct ingest *ingest;
    struct live *live;
    struct http_server *http;
    struct query_pool *queries;       /* NULL: query endpoints answer 503 */
    struct kpi_engine *kpis;          /* the catalog's programs and KPIs */
    struct alert_engine *alerts;      /* the catalog's rules and the alerts */
    struct webhook *webhook;          /* NULL without [alerts] webhook */
    struct checkpointer *checkpoints; /* NULL: no checkpoint figures in /metrics */
    struct loopwatch *loopwatch;      /* NULL: no loop-turn figures in /metrics */
    struct people *people;            /* accounts, sessions, audit (api_users.c) */
    struct federation *fed;           /* CONTRACT §7 (api_federation.c) */
    uv_loop_t *loop;
    int64_t started_ms;
    /* POST /api/v1/reload: returns the number of problems (0 = reloaded),
     * each appended to `problems` as {"file","line","problem"} (comma-
     * separated, no brackets). */
    int (*reload)(void *ctx, struct buf *problems);
    void *reload_ctx;
    /* Reports and imports running ([http] max_heavy at most), and how many
     * were turned away busy. */
    int heavy_running;
    uint64_t heavy_refused;
};

/* Answers that may be large (/series, /query) are read and written in
 * chunks of about this many bytes, as the client reads (CONTRACT §10). */
#define API_ANSWER_CHUNK (128 * 1024)

/* The http_route_fn: ctx is a struct api. */
void api_route(void *ctx, struct http_request *r);
/* The least role r's route needs (an http_route_role_fn), so http.c can
 * refuse a request before reading its body; ROLE_NONE without a route. */
enum http_role api_route_role(void *ctx, const struct http_request *r);

/* A slot for a report or an import (CONTRACT §10): true when one of the
 * [http] max_heavy slots was free and is now taken (give it back with
 * api_heavy_give when the work is done); false when all are taken, having
 * answered 503 busy with Retry-After at once (nothing is queued). */
bool api_heavy_take(struct api *a, struct http_request *r);
void api_heavy_give(struct api *a);

/* GET /api/v1/query and /api/v1/export.csv (api_query.c), and the time
 * arguments every endpoint reads the same way: api_time_arg undoes the
 * form decoding of '+' (RFC 3339 offsets), api_read_range reads from/to
 * with CONTRACT §2's defaults (answering 400 itself when false). */
const char *api_time_arg(const struct http_request *r, const char *name, char *buf, size_t len);
bool api_read_range(struct http_request *r, int64_t *from, int64_t *to);

struct query_req;

/* The first bad parameter of a request: its name (pointing into the request
 * or static) and why, for the 400 answer. */
struct api_bad {
    const char *param, *why;
};
/* The query's parameters of /query (export false) or /export.csv (true),
 * checked: filters, from/to (to defaulting to now_ms), and for /query step,
 * points, agg and tz. Pure: answers nothing; on false *bad says why. *q's
 * strings point into the request. */
bool api_query_params(const struct http_request *r, int64_t now_ms, bool export,
                      struct query_req *q, struct api_bad *bad);
void api_query(struct api *a, struct http_request *r);
/* GET /api/v1/series with its checked filter (strings into the request). */
struct query_filter;
void api_series(struct api *a, struct http_request *r, const struct query_filter *f);
void api_export(struct api *a, struct http_request *r);

/* /api/v1/programs, /programs/<id>, /dimensions, /report (api_programs.c). */
void api_programs(struct api *a, struct http_request *r);
void api_program(struct api *a, struct http_request *r, const char *id);
void api_dimensions(struct api *a, struct http_request *r);
void api_report(struct api *a, struct http_request *r);

/* How long a unit of `program` may be silent before it is stale: the
 * program's stale_after in the catalog, else [units] stale_after. */
int64_t api_unit_stale_ms(const struct api *a, const char *program);

/* GET /api/v1/alerts and POST /api/v1/alerts/<id>/ack (api_alerts.c);
 * the ack reads its body as a stream. */
void api_alerts(struct api *a, struct http_request *r);
void api_alert_ack(struct api *a, struct http_request *r);
bool api_alert_ack_path(const char *path); /* for api_streams_body */
/* For the report: answers d with `head` (taken), a JSON array of every
 * alert whose firing overlaps [from, to], then `tail` (after the array's
 * ']'); streamed as the client reads when it is more than a page. */
void api_alerts_answer(struct api *a, struct http_deferred *d, struct buf *head, const char *tail,
                       int64_t from, int64_t to);

/* POST /api/v1/ingest/<program>/<unit>/<metric> and POST /api/v1/import.csv
 * (api_ingest.c, CONTRACT §1.1); both read their bodies as streams, so
 * api_streams_body (an http_streams_body_fn) names them to http.c. */
void api_ingest(struct api *a, struct http_request *r);
void api_import(struct api *a, struct http_request *r);
bool api_streams_body(void *ctx, const struct http_request *r);

/* ---- CONTRACT §7: federation (api_federation.c) ---- */
void api_regions(struct api *a, struct http_request *r);
void api_region(struct api *a, struct http_request *r); /* /regions/<id>[/history] */
void api_evaluations(struct api *a, struct http_request *r);
void api_evaluation(struct api *a, struct http_request *r); /* /evaluations/<id> */
void api_evaluation_create(struct api *a, struct http_request *r);
bool api_evaluations_streams_body(const struct http_request *r); /* its POST */

/* ---- CONTRACT §8: people (api_users.c) ---- */

/* Who acts in a request, copied at its start (a streamed body's handler
 * finishes after the request's fields may be gone): the signed-in user
 * ("" for a token or without auth), the role's name, the client's
 * address and the user's programs ("" when not limited). */
struct api_actor {
    char user[65];
    char role[16];
    char ip[64];
    char programs[4097];
};

/* Opens the accounts' statements on db (the store's connection). 0 or -1. */
int api_people_open(struct people **out, struct api *a, struct sqlite3 *db);
/* Lets go of the store's connection (before store_close); later requests
 * get 503 or no session. */
void api_people_stop(struct people *p);
void api_people_free(struct people *p); /* after uv_run returned; NULL is a no-op */
/* For http_opts (ctx: the struct people). */
enum http_role api_session_lookup(void *ctx, const char *sid, struct http_request *r);
bool api_accounts_exist(void *ctx);
/* api_streams_body plus the login's and the accounts' bodies (ctx: struct api). */
bool api_people_streams_body(void *ctx, const struct http_request *r);

void api_actor_of(struct api *a, struct http_request *r, struct api_actor *who);
/* Program scope: true when who may enter data for or acknowledge program. */
bool api_actor_may(const struct api_actor *who, const char *program);
/* Appends an audit event by who (NULL: nobody signed in, e.g. a failed
 * sign-in with only an address in ip). detail: a JSON object or NULL. */
void api_audit(struct api *a, const struct api_actor *who, const char *action, const char *target,
               const char *detail);
/* The name acked_by gets: the user's, else the role's. */
const char *api_actor_name(const struct api_actor *who);

void api_login(struct api *a, struct http_request *r);
void api_logout(struct api *a, struct http_request *r);
void api_me(struct api *a, struct http_request *r);
void api_users_list(struct api *a, struct http_request *r);
void api_users_add(struct api *a, struct http_request *r);
void api_users_del(struct api *a, struct http_request *r);
/* POST /api/v1/users/<name>/password: an admin resets a password. */
void api_users_passwd(struct api *a, struct http_request *r);
void api_audit_list(struct api *a, struct http_request *r);
void api_audit_verify(struct api *a, struct http_request *r);

#endif
