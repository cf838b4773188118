/* http.h — the HTTP server and websocket endpoint, on pantaud's libuv loop
 * (libwebsockets with a foreign loop). Loop thread only.
 *
 * Owns the lws context, the per-connection HTTP state, bearer-token auth and
 * the static dashboard files. It parses each request (method, path, decoded
 * query arguments, role from the token) and hands /api/..., /healthz and
 * /metrics to a route handler (api.c); it writes what the handler answers.
 * Websocket upgrades are served by the protocol http_opts.ws_protocol names
 * (live.c's); http_admit_upgrade is their token check. It knows nothing
 * else of the websocket.
 *
 * A handler answers at once (http_reply*) or later: http_defer() returns a
 * handle the handler completes from the loop thread when its work is done
 * (e.g. after a query ran on a worker thread); if the client has gone away
 * meanwhile, the reply is dropped and nothing dangles. A streamed reply
 * (http_stream) pulls chunks from a producer until it says it is done, with
 * chunked transfer encoding, so memory does not grow with the response.
 *
 * Request bodies: routes that http_opts.streams_body names are dispatched as
 * soon as the head is in and read their body as a stream (http_body_stream),
 * with the socket paused while they work (so a 256 MiB CSV import is never
 * held in memory). Other requests' bodies are limited to 64 KiB (413).
 *
 * Hostile clients (CONTRACT §10): every accepted connection is counted by
 * its TCP peer's address ([http] max_conns_per_ip; 127.0.0.1, ::1 and the
 * trusted proxies exempt) and in all ([http] max_conns); past either it is
 * closed at once. A request head must arrive whole within [http]
 * min_rate_window seconds, a body at min_rate_bytes per window at least,
 * else the connection is closed. A request refused with 401 or 403 is
 * answered and its connection closed without reading its body. A request
 * authorized by a cookie that changes anything (POST, DELETE) needs an
 * Origin naming the Host it was sent to (403 bad_origin), and so does a
 * websocket upgrade authorized by a cookie that carries an Origin. Every
 * answer carries the security headers (CSP, nosniff, no-referrer). */
#ifndef PANTAU_HTTP_H
#define PANTAU_HTTP_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "cfg.h"

struct http_server;

enum http_method { HTTP_GET, HTTP_POST, HTTP_HEAD, HTTP_DELETE, HTTP_OTHER };
/* Where a request's credential came from. A cookie is the only one a
 * browser sends by itself (to a request another site's page makes), so
 * only a cookie-authorized change must prove its Origin. */
enum http_cred { HTTP_CRED_NONE, HTTP_CRED_HEADER, HTTP_CRED_QUERY, HTTP_CRED_COOKIE };
/* A ladder (CONTRACT §2): viewer reads; operator also enters data and
 * acknowledges alerts; admin may do everything, plus rejects and reload. */
enum http_role { ROLE_NONE, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };

/* True if `role` may do what `needed` may. */
bool http_role_allows(enum http_role role, enum http_role needed);
/* "viewer", "operator", "admin" ("none" for ROLE_NONE). */
const char *http_role_name(enum http_role role);

#define HTTP_MAX_ARGS 32
#define HTTP_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

struct http_arg {
    char *name, *value; /* decoded; owned by the request */
};

struct http_request {
    struct http_conn *conn; /* internal */
    enum http_method method;
    char path[512]; /* decoded path, no query */
    struct http_arg args[HTTP_MAX_ARGS];
    int n_args;
    enum http_role role; /* from the token; ROLE_ADMIN when auth is off */
    enum http_cred cred; /* HTTP_CRED_NONE when auth is off or not needed */
    /* The client's address as text: the TCP peer's, or, when that peer is a
     * trusted [http] proxy, the right-most X-Forwarded-For address that is
     * not a trusted proxy. */
    char client_ip[HTTP_ADDR_MAX];
    /* Signed in (CONTRACT §8): the user's name and session id from the
     * pantau_session cookie; "" and 0 for a token or without auth. */
    char user[65];
    int64_t session;
};

/* The value of query argument `name`, or NULL. */
const char *http_arg(const struct http_request *r, const char *name);

/* Answer now. The body is taken (moved out of *body). */
void http_reply(struct http_request *r, int status, const char *content_type, struct buf *body);
/* {"error": code, "message": ...} with status. */
void http_reply_error(struct http_request *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 503 {"error":"busy", ...} with `Retry-After: retry_after_s`: a limit of
 * work at once is reached; the client should come back, nothing is queued. */
void http_reply_busy(struct http_request *r, int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answer later. The returned handle stays valid until passed to
 * http_deferred_reply (exactly once), whatever the client does. */
struct http_deferred;
struct http_deferred *http_defer(struct http_request *r);
void http_deferred_reply(struct http_deferred *d, int status, const char *content_type,
                         struct buf *body);
/* The JSON error {"error": code, "message": ...} as the deferred answer. */
void http_deferred_reply_error(struct http_deferred *d, int status, const char *code,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
bool http_deferred_gone(const struct http_deferred *d); /* client disconnected */

/* Streamed answer: status 200, chunked. `next` is called on the loop thread
 * whenever the previous chunk has been written; it appends the next chunk to
 * `out` (possibly after asynchronous work: return HTTP_STREAM_LATER and call
 * http_stream_resume when the chunk is ready), or says the stream is done.
 * `release` is called exactly once at the end (done, error, or client gone). */
enum http_stream_step { HTTP_STREAM_MORE, HTTP_STREAM_LATER, HTTP_STREAM_DONE, HTTP_STREAM_FAIL };
struct http_stream_ops {
    enum http_stream_step (*next)(void *ctx, struct buf *out);
    void (*release)(void *ctx);
};
struct http_stream;
struct http_stream *http_stream_start(struct http_request *r, const char *content_type,
                                      const char *filename, const struct http_stream_ops *ops,
                                      void *ctx);
/* A deferred answer that turned out large becomes a streamed one (as
 * http_stream_start; d is freed). NULL when the client has gone (release
 * was called) or out of memory (answered). */
struct http_stream *http_deferred_stream(struct http_deferred *d, const char *content_type,
                                         const struct http_stream_ops *ops, void *ctx);
/* After HTTP_STREAM_LATER: the chunk (in the buf `next` got) is ready. */
void http_stream_resume(struct http_stream *s);

/* Streamed request body. The handler, called when the head is in, takes the
 * body with http_body_stream (or answers at once: the body is then
 * discarded and the connection closed after the answer). Then http.c calls
 * `data` with each piece as it arrives, `end` once when the body is
 * complete, or `gone` once if the client disconnects first. The handler
 * answers exactly once with http_body_reply (also after `gone`, to free the
 * handle), which it may do before the body is complete. */
struct http_body_ops {
    void (*data)(void *ctx, const char *p, size_t len);
    void (*end)(void *ctx);
    void (*gone)(void *ctx);
};
struct http_body;
/* NULL (and an answer sent) when out of memory. */
struct http_body *http_body_stream(struct http_request *r, const struct http_body_ops *ops,
                                   void *ctx);
/* Content-Length of the request, 0 without a body. */
int64_t http_body_length(const struct http_request *r);
/* Stop / restart reading the socket: `data` may still get what lws has
 * already read, but no more arrives until resumed. */
void http_body_pause(struct http_body *b);
void http_body_resume(struct http_body *b);
/* Frees b. After `gone`, status and body are ignored (body may be NULL). */
void http_body_reply(struct http_body *b, int status, const char *content_type, struct buf *body);
void http_body_reply_error(struct http_body *b, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A Set-Cookie header on the answer to come (value: "name=...; flags"). */
void http_set_cookie(struct http_request *r, const char *value);
/* The request a streamed body belongs to; NULL once its client is gone. */
struct http_request *http_body_request(struct http_body *b);
/* Whether cookies pantaud sets carry Secure ([http] secure_cookies). */
bool http_secure_cookies(const struct http_request *r);

typedef void (*http_route_fn)(void *ctx, struct http_request *r);
/* True for the requests whose handler streams its body (see above). */
typedef bool (*http_streams_body_fn)(void *ctx, const struct http_request *r);
/* The least role the request's route needs (ROLE_NONE: none, or no such
 * route), asked when the head is in, so that a 403 is answered and the
 * connection closed before any body is read (CONTRACT §10). */
typedef enum http_role (*http_route_role_fn)(void *ctx, const struct http_request *r);

struct http_opts {
    const struct cfg *cfg;
    http_route_fn route; /* /api/..., /healthz, /metrics */
    void *route_ctx;
    http_streams_body_fn streams_body; /* NULL: none; called with route_ctx */
    http_route_role_fn route_role;     /* NULL: the route handler checks alone */
    /* The websocket protocol served beside HTTP (live.c fills it), made the
     * vhost's default so clients offering no subprotocol reach it. */
    struct lws_protocols ws_protocol;
    /* Accounts (api_users.c; CONTRACT §8), NULL without: the role of a
     * pantau_session cookie's session (filling r->user and r->session;
     * ROLE_NONE when unknown or expired), and whether accounts exist
     * (authentication is then needed even without tokens). */
    enum http_role (*session_lookup)(void *ctx, const char *sid, struct http_request *r);
    bool (*accounts_exist)(void *ctx);
    void *people_ctx;
};

/* Whether a websocket upgrade may proceed: the token check every request
 * gets (a live_admit_fn; ctx is the http_server). 0 accept (cred then holds
 * the credential live counts connections under: "t<i>" for the i-th token,
 * "" without tokens), 1 answered (401), -1 hang up. */
int http_admit_upgrade(void *server, struct lws *wsi, char *cred, size_t cred_len);

/* Pure helpers (table-tested in tests/test_http.c). */

/* True when `origin` (an Origin header: "scheme://host[:port]") names the
 * same host and port as `host` (a Host header: "host[:port]"): hosts
 * compared without case, IPv6 in brackets, a missing port is the scheme's
 * (80 for http, 443 for https; the Host header's missing port is the
 * Origin's scheme's, since behind a TLS proxy the scheme may differ).
 * "null", other schemes, paths and user names never match. */
bool http_origin_matches(const char *origin, const char *host);

/* `addr` (IPv4 or IPv6 text) in canonical text form into out (IPv4-mapped
 * IPv6 as IPv4). Returns 0, or -1 if it is not an address. */
int http_addr_normal(const char *addr, char *out, size_t len);

/* The client's address into out (HTTP_ADDR_MAX): `peer` itself unless it is
 * one of the `n` trusted `proxies`; then the right-most address of the
 * X-Forwarded-For list `xff` that is not a proxy (the left-most when all
 * are); `peer` when xff is NULL, empty or that entry is not an address.
 * All addresses in canonical form (http_addr_normal). */
void http_client_addr(const char *peer, const char *xff, const char (*proxies)[HTTP_ADDR_MAX],
                      int n, char *out);

/* Listens on cfg->listen. Returns 0 or -1 (logged). */
int http_start(struct http_server **out, uv_loop_t *loop, const struct http_opts *opts);
/* First half of shutdown, while the loop runs: stop listening, close
 * connections (lws closes its handles). */
void http_stop(struct http_server *h);
/* Second half, after uv_run has returned: frees the context. */
void http_free(struct http_server *h);

/* Replaces the token table (SIGHUP). Takes effect for new requests. */
void http_set_tokens(struct http_server *h, const struct cfg *cfg);

uint64_t http_requests_total(const struct http_server *h);

#endif
