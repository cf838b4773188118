/* http.c — see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libwebsockets.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "log.h"

#define WRITE_PIECE (64 * 1024) /* bytes handed to lws per writable callback */
#define BODY_MAX    (64 * 1024) /* request bodies (POST) but streamed ones */
/* After an answer given before its body was read, the rest of a body up to
 * this size is read and dropped, so the connection stays usable and the
 * client surely reads the answer; a larger rest closes the connection. */
#define DRAIN_MAX     (1024 * 1024)
#define CHUNK_HDR_MAX 16 /* "%zx\r\n" in front of a chunk */
/* Request heads over HEAD_MAX get 431. lws holds up to HEAD_SPACE bytes of
 * them; beyond that it drops the connection (it has no hook to answer), so
 * the gap between the two is where a JSON 431 can still be sent. */
#define HEAD_MAX   8192
#define HEAD_SPACE 32768
/* Connections kept free of max_conns below the fd limit: files, SQLite,
 * MQTT and the connections of exempt addresses. */
#define FD_RESERVE   256
#define PEER_BUCKETS 1024 /* addresses with connections, hashed */
#define MAX_PROXIES  16
#define SECURITY_HEADERS                                                                           \
    "content-security-policy: default-src 'self'; frame-ancestors 'none'\r\n"                      \
    "x-content-type-options: nosniff\r\n"                                                          \
    "referrer-policy: no-referrer\r\n"

struct http_deferred {
    struct http_conn *conn; /* NULL once the client is gone */
};

struct http_body {
    struct http_conn *conn; /* NULL once the client is gone */
    const struct http_body_ops *ops;
    void *ctx;
    bool paused;
};

struct http_stream {
    struct http_conn *conn; /* NULL once the client is gone */
    const struct http_stream_ops *ops;
    void *ctx;
    struct buf chunk;
    bool waiting; /* `next` said LATER: http_stream_resume will follow */
    bool done;
};

/* The connections of one client address (TCP peer), while it has any. */
struct http_peer {
    struct http_peer *next; /* in its bucket */
    int conns;
    char addr[HTTP_ADDR_MAX];
};

/* One accepted TCP connection, from accept to close whatever protocol it
 * comes to speak (lws's opaque user data of the wsi; freed at
 * LWS_CALLBACK_WSI_DESTROY). Lives in the server's list for the rate check. */
struct http_sock {
    struct http_sock *prev, *next;
    struct lws *wsi;
    struct http_peer *peer; /* NULL: an exempt address, not counted */
    char addr[HTTP_ADDR_MAX];
    /* The body's rate: at least min_rate_bytes in each window from
     * window_start (ms, loop time) while reading. */
    bool rate_on;
    uint64_t window_start;
    int64_t window_bytes;
};

/* Per connection (lws's per-session data, zeroed by lws); reused by the
 * requests of one keep-alive connection, so reset per request. */
struct http_conn {
    struct http_server *server;
    struct lws *wsi;
    struct http_request req;
    bool awaiting_body; /* a POST body (unused, at most BODY_MAX) is still coming */
    bool body_pending;  /* a body was announced and is not all in yet */
    bool answer_done;   /* answer written; waiting for the body's end to complete */
    int64_t content_length, body_received;
    struct http_body *body_stream; /* the handler reading the body as a stream */
    /* the answer */
    bool answered;
    bool close_after; /* close once answered (401, 403): no body is read */
    bool headers_sent;
    bool head_only;
    int status;
    const char *content_type;
    char disposition[160];
    int retry_after; /* seconds, for a Retry-After header; 0: none */
    struct buf body;
    size_t body_sent;
    struct http_deferred *deferred;
    struct http_stream *stream;
    char set_cookie[256]; /* "" or a Set-Cookie value (http_set_cookie) */
};

struct http_server {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_protocols protocols[3];
    struct lws_protocol_vhost_options pvo, pvo_default;
    http_route_fn route;
    void *route_ctx;
    http_streams_body_fn streams_body;
    http_route_role_fn route_role;
    char *dashboard_dir; /* realpath, or NULL when it does not exist */
    struct cfg_token *tokens;
    int n_tokens;
    uint64_t requests;
    /* connections */
    struct http_peer *peers[PEER_BUCKETS];
    struct http_sock *socks;   /* every connection, newest first */
    struct http_sock *pending; /* accepted, not yet bound to its wsi */
    int n_socks;
    int max_conns, max_per_ip, rate_bytes, rate_window_ms;
    char proxies[MAX_PROXIES][HTTP_ADDR_MAX];
    int n_proxies;
    bool secure_cookies;
    lws_callback_function *ws_callback; /* live's, which ws_callback wraps */
    uv_timer_t rate_timer;
    bool rate_timer_on;
    enum http_role (*session_lookup)(void *ctx, const char *sid, struct http_request *r);
    bool (*accounts_exist)(void *ctx);
    void *people_ctx;
};

/* ---- pure helpers ---- */

int http_addr_normal(const char *addr, char *out, size_t len)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, addr, bin) == 1)
        return inet_ntop(AF_INET, bin, out, (socklen_t)len) ? 0 : -1;
    if (inet_pton(AF_INET6, addr, bin) != 1)
        return -1;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(bin, mapped, sizeof mapped) == 0)
        return inet_ntop(AF_INET, bin + 12, out, (socklen_t)len) ? 0 : -1;
    return inet_ntop(AF_INET6, bin, out, (socklen_t)len) ? 0 : -1;
}

static bool is_proxy(const char (*proxies)[HTTP_ADDR_MAX], int n, const char *addr)
{
    for (int i = 0; i < n; i++)
        if (strcmp(proxies[i], addr) == 0)
            return true;
    return false;
}

void http_client_addr(const char *peer, const char *xff, const char (*proxies)[HTTP_ADDR_MAX],
                      int n, char *out)
{
    snprintf(out, HTTP_ADDR_MAX, "%s", peer);
    if (!xff || !is_proxy(proxies, n, peer))
        return;
    /* From the right: each proxy appended the address it heard from. */
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        char entry[64], norm[HTTP_ADDR_MAX];
        if ((size_t)(b - a) >= sizeof entry)
            return;
        memcpy(entry, a, (size_t)(b - a));
        entry[b - a] = '\0';
        if (http_addr_normal(entry, norm, sizeof norm) != 0)
            return; /* not an address: trust nothing further left */
        snprintf(out, HTTP_ADDR_MAX, "%s", norm);
        if (!is_proxy(proxies, n, norm))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

/* Splits an authority "host[:port]" ("[v6][:port]") of length len: the host
 * (brackets kept) into host, the port into *port (0 when absent). */
static bool split_authority(const char *s, size_t len, char *host, size_t hostlen, int *port)
{
    const char *colon = NULL;
    *port = 0;
    if (len == 0 || memchr(s, '@', len) || memchr(s, '/', len) || memchr(s, '?', len) ||
        memchr(s, '#', len))
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        if ((size_t)(close + 1 - s) < len) {
            if (close[1] != ':')
                return false;
            colon = close + 1;
        }
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
            return false;
    }
    size_t hlen = colon ? (size_t)(colon - s) : len;
    if (hlen == 0 || hlen >= hostlen)
        return false;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (colon) {
        const char *p = colon + 1, *end = s + len;
        if (p == end || end - p > 5)
            return false;
        for (; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                return false;
            *port = *port * 10 + (*p - '0');
        }
        if (*port < 1 || *port > 65535)
            return false;
    }
    return true;
}

bool http_origin_matches(const char *origin, const char *host)
{
    int default_port;
    const char *auth;
    if (!origin || !host)
        return false;
    if (strncasecmp(origin, "http://", 7) == 0) {
        default_port = 80;
        auth = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        default_port = 443;
        auth = origin + 8;
    } else {
        return false; /* "null", file:, chrome-extension: ... */
    }
    char oh[256], hh[256];
    int op, hp;
    if (!split_authority(auth, strlen(auth), oh, sizeof oh, &op) ||
        !split_authority(host, strlen(host), hh, sizeof hh, &hp))
        return false;
    return strcasecmp(oh, hh) == 0 && (op ? op : default_port) == (hp ? hp : default_port);
}

/* ---- connections (CONTRACT §10) ---- */

static bool exempt(const struct http_server *h, const char *addr)
{
    return strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0 ||
           is_proxy((const char(*)[HTTP_ADDR_MAX])h->proxies, h->n_proxies, addr);
}

static struct http_peer **peer_slot(struct http_server *h, const char *addr)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const char *p = addr; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 16777619u;
    struct http_peer **slot = &h->peers[hash % PEER_BUCKETS];
    while (*slot && strcmp((*slot)->addr, addr) != 0)
        slot = &(*slot)->next;
    return slot;
}

static void sock_free(struct http_server *h, struct http_sock *s)
{
    if (s->peer && --s->peer->conns == 0) {
        struct http_peer **slot = peer_slot(h, s->peer->addr);
        *slot = s->peer->next;
        free(s->peer);
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        h->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->n_socks--;
    free(s);
}

/* A new TCP connection (LWS_CALLBACK_FILTER_NETWORK_CONNECTION): counted,
 * or closed at once past max_conns_per_ip or max_conns. Returns non-zero
 * to close. lws binds it to its wsi right after (NEW_CLIENT_INSTANTIATED),
 * unless adoption fails first: then the next accept frees the record. */
static int on_accept(struct http_server *h, const struct lws_filter_network_conn_args *f)
{
    char addr[HTTP_ADDR_MAX] = "?", text[HTTP_ADDR_MAX];
    const void *bin = f->cli_addr.ss_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)&f->cli_addr)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)&f->cli_addr)->sin_addr;
    if (inet_ntop(f->cli_addr.ss_family, bin, text, sizeof text))
        http_addr_normal(text, addr, sizeof addr);
    if (h->pending) {
        sock_free(h, h->pending);
        h->pending = NULL;
    }
    bool free_pass = exempt(h, addr);
    if (!free_pass && h->n_socks >= h->max_conns) {
        log_debug("http: %s: connection refused: %d connections in all", addr, h->n_socks);
        return 1;
    }
    struct http_peer **slot = free_pass ? NULL : peer_slot(h, addr), *peer = NULL;
    if (slot && (peer = *slot) != NULL && peer->conns >= h->max_per_ip) {
        log_debug("http: %s: connection refused: %d connections from it", addr, peer->conns);
        return 1;
    }
    struct http_sock *s = calloc(1, sizeof *s);
    if (!s || (slot && !peer && !(peer = calloc(1, sizeof *peer)))) {
        free(s);
        return 1;
    }
    if (slot && !*slot) {
        snprintf(peer->addr, sizeof peer->addr, "%s", addr);
        *slot = peer;
    }
    if (peer)
        peer->conns++;
    s->peer = peer;
    snprintf(s->addr, sizeof s->addr, "%s", addr);
    s->next = h->socks;
    if (h->socks)
        h->socks->prev = s;
    h->socks = s;
    h->n_socks++;
    h->pending = s;
    return 0;
}

/* The client's address of a request on wsi (see http_request.client_ip). */
static void client_addr(struct http_server *h, struct lws *wsi, char *out)
{
    struct http_sock *s = lws_get_opaque_user_data(wsi);
    const char *peer = s ? s->addr : "?";
    char xff[1024];
    bool has_xff =
        h->n_proxies > 0 && lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) > 0;
    http_client_addr(peer, has_xff ? xff : NULL, (const char(*)[HTTP_ADDR_MAX])h->proxies,
                     h->n_proxies, out);
}

/* A body is coming: it must keep up min_rate_bytes per window. */
static void rate_start(struct lws *wsi)
{
    struct http_sock *s = lws_get_opaque_user_data(wsi);
    if (!s)
        return;
    struct http_server *h = lws_context_user(lws_get_context(wsi));
    s->rate_on = true;
    s->window_start = uv_now(h->loop);
    s->window_bytes = 0;
}

static void rate_stop(struct lws *wsi)
{
    struct http_sock *s = lws_get_opaque_user_data(wsi);
    if (s)
        s->rate_on = false;
}

static void rate_count(struct lws *wsi, size_t len)
{
    struct http_sock *s = lws_get_opaque_user_data(wsi);
    if (!s || !s->rate_on)
        return;
    struct http_server *h = lws_context_user(lws_get_context(wsi));
    s->window_bytes += (int64_t)len;
    if (s->window_bytes >= h->rate_bytes) { /* this window is done: the next one */
        s->window_start = uv_now(h->loop);
        s->window_bytes = 0;
    }
}

/* Every so often: close the connections whose body fell below the rate.
 * (lws closes a head that takes longer than the window itself: its
 * timeout_secs_ah_idle. It restarts its own body timeout at every piece,
 * however small, so the body's rate is ours to check.) */
static void rate_sweep(uv_timer_t *t)
{
    struct http_server *h = t->data;
    uint64_t now = uv_now(h->loop);
    for (struct http_sock *s = h->socks, *next; s; s = next) {
        next = s->next; /* closing s may free it */
        if (!s->rate_on || !s->wsi || now - s->window_start < (uint64_t)h->rate_window_ms)
            continue;
        s->rate_on = false;
        log_debug("http: %s: closed: body slower than %d bytes per %d s", s->addr, h->rate_bytes,
                  h->rate_window_ms / 1000);
        /* At once: outside lws's service an async kill waits for lws's next
         * timer, which may be far off. */
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_SYNC);
    }
}

static int add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    static const char *const headers[][2] = {
        {"content-security-policy:", "default-src 'self'; frame-ancestors 'none'"},
        {"x-content-type-options:", "nosniff"},
        {"referrer-policy:", "no-referrer"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)headers[i][0],
                                        (const unsigned char *)headers[i][1],
                                        (int)strlen(headers[i][1]), p, end))
            return -1;
    return 0;
}

/* ---- requests ---- */

const char *http_arg(const struct http_request *r, const char *name)
{
    for (int i = 0; i < r->n_args; i++)
        if (strcmp(r->args[i].name, name) == 0)
            return r->args[i].value;
    return NULL;
}

bool http_role_allows(enum http_role role, enum http_role needed)
{
    return role >= needed;
}

const char *http_role_name(enum http_role role)
{
    switch (role) {
    case ROLE_VIEWER:
        return "viewer";
    case ROLE_OPERATOR:
        return "operator";
    case ROLE_ADMIN:
        return "admin";
    default:
        return "none";
    }
}

static enum http_role role_of_cfg(enum cfg_role role)
{
    switch (role) {
    case CFG_ROLE_ADMIN:
        return ROLE_ADMIN;
    case CFG_ROLE_OPERATOR:
        return ROLE_OPERATOR;
    default:
        return ROLE_VIEWER;
    }
}

static void release_stream(struct http_stream *s)
{
    if (s->ops->release)
        s->ops->release(s->ctx);
    buf_free(&s->chunk);
    free(s);
}

static void free_args(struct http_request *r)
{
    for (int i = 0; i < r->n_args; i++) {
        free(r->args[i].name);
        free(r->args[i].value);
    }
    r->n_args = 0;
}

static void reset_conn(struct http_conn *c)
{
    struct http_body *gone = c->body_stream;
    if (gone) {
        gone->conn = NULL;
        c->body_stream = NULL;
    }
    free_args(&c->req);
    buf_free(&c->body);
    if (c->deferred)
        c->deferred->conn = NULL;
    if (c->stream) {
        c->stream->conn = NULL;
        if (!c->stream->waiting)
            release_stream(c->stream);
    }
    struct http_server *server = c->server;
    struct lws *wsi = c->wsi;
    memset(c, 0, sizeof *c);
    c->server = server;
    c->wsi = wsi;
    buf_init(&c->body, LWS_PRE);
    if (gone) /* last: the handler may answer (and free the handle) at once */
        gone->ops->gone(gone->ctx);
}

static int read_args(struct http_conn *c)
{
    char frag[4096];
    struct http_request *r = &c->req;
    for (int i = 0; r->n_args < HTTP_MAX_ARGS; i++) {
        int n = lws_hdr_copy_fragment(c->wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        char *eq = strchr(frag, '=');
        struct http_arg *a = &r->args[r->n_args];
        a->name = eq ? strndup(frag, (size_t)(eq - frag)) : strdup(frag);
        a->value = strdup(eq ? eq + 1 : "");
        if (!a->name || !a->value) {
            free(a->name);
            free(a->value);
            return -1;
        }
        r->n_args++;
    }
    return 0;
}

/* Compares in time that depends only on the secret's length. */
static bool token_equal(const char *given, size_t glen, const char *secret)
{
    size_t slen = strlen(secret);
    unsigned char diff = glen != slen;
    for (size_t i = 0; i < slen; i++)
        diff |= (unsigned char)secret[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    return diff == 0;
}

static enum http_role role_of_token(const struct http_server *h, const char *given)
{
    enum http_role role = ROLE_NONE;
    size_t glen = strlen(given);
    for (int i = 0; i < h->n_tokens; i++) { /* no early exit: same work for any token */
        enum http_role r = role_of_cfg(h->tokens[i].role);
        if (token_equal(given, glen, h->tokens[i].secret) && r > role)
            role = r;
    }
    return role;
}

#define TOKEN_COOKIE "pantau_token="

/* The value of our cookie in a Cookie header, or NULL. */
static const char *cookie_token(char *cookies)
{
    for (char *p = cookies; (p = strstr(p, TOKEN_COOKIE)) != NULL; p++) {
        if (p != cookies && p[-1] != ' ' && p[-1] != ';')
            continue; /* "xpantau_token=" is another cookie */
        char *v = p + strlen(TOKEN_COOKIE), *end = strchr(v, ';');
        if (end)
            *end = '\0';
        return v;
    }
    return NULL;
}

/* ?access_token= into buf; NULL if absent. Tokens hold no spaces: a space
 * is a '+' the query decoding ate. */
static const char *query_token(struct http_conn *c, char *buf, size_t len)
{
    const char *arg = http_arg(&c->req, "access_token");
    if (!arg)
        return NULL;
    snprintf(buf, len, "%s", arg);
    for (char *p = buf; (p = strchr(p, ' ')) != NULL; p++)
        *p = '+';
    return buf;
}

#define SESSION_COOKIE "pantau_session="

/* CONTRACT §8: a signed-in browser's session cookie (before the token
 * cookie: a browser may hold both). ROLE_NONE without one. */
static enum http_role session_role(struct http_conn *c)
{
    struct http_server *h = c->server;
    char cookies[2048];
    if (!h->session_lookup ||
        lws_hdr_copy(c->wsi, cookies, sizeof cookies, WSI_TOKEN_HTTP_COOKIE) <= 0)
        return ROLE_NONE;
    for (char *p = cookies; (p = strstr(p, SESSION_COOKIE)) != NULL; p++) {
        if (p != cookies && p[-1] != ' ' && p[-1] != ';')
            continue;
        char *v = p + strlen(SESSION_COOKIE);
        v[strcspn(v, "; ")] = '\0';
        enum http_role role = h->session_lookup(h->people_ctx, v, &c->req);
        if (role != ROLE_NONE) /* a cookie: its changes must prove their Origin */
            c->req.cred = HTTP_CRED_COOKIE;
        return role;
    }
    return ROLE_NONE;
}

/* Bearer header, else ?access_token= (a browser's websocket and page loads
 * cannot set headers), else the cookie a page load with ?access_token= set
 * (so a wall screen's assets, API calls and websocket need no token in
 * their URLs). Sets c->req.cred to where the token came from. */
static enum http_role authenticate(struct http_conn *c)
{
    struct http_server *h = c->server;
    char auth[512], token[512];
    c->req.cred = HTTP_CRED_NONE;
    if (h->n_tokens == 0 && !(h->accounts_exist && h->accounts_exist(h->people_ctx)))
        return ROLE_ADMIN;
    enum http_role session = session_role(c);
    if (session != ROLE_NONE)
        return session;
    if (lws_hdr_copy(c->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncasecmp(auth, "Bearer ", 7) == 0) {
        c->req.cred = HTTP_CRED_HEADER;
        return role_of_token(h, auth + 7);
    }
    if (query_token(c, token, sizeof token)) {
        c->req.cred = HTTP_CRED_QUERY;
        return role_of_token(h, token);
    }
    const char *cookie = lws_hdr_copy(c->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_COOKIE) > 0
                             ? cookie_token(auth)
                             : NULL;
    if (!cookie)
        return ROLE_NONE;
    c->req.cred = HTTP_CRED_COOKIE;
    return role_of_token(h, cookie);
}

/* True when the request's Origin header names the Host it was sent to. */
static bool same_origin(struct lws *wsi)
{
    char origin[256], host[256];
    return lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0 &&
           lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0 &&
           http_origin_matches(origin, host);
}

/* CONTRACT §10: a change authorized by a cookie (which a browser sends with
 * another site's requests too) must come from a page of ours. With auth off
 * a browser's cross-site change is refused as well when it says so (an
 * Origin that does not match); scripts send none. */
static bool origin_refused(struct http_conn *c)
{
    struct http_request *r = &c->req;
    if (r->method == HTTP_GET || r->method == HTTP_HEAD)
        return false; /* every other method may change something */
    if (r->cred == HTTP_CRED_COOKIE)
        return !same_origin(c->wsi);
    return r->cred == HTTP_CRED_NONE && lws_hdr_total_length(c->wsi, WSI_TOKEN_ORIGIN) > 0 &&
           !same_origin(c->wsi);
}

/* ---- answers ---- */

static const char *method_name(enum http_method m)
{
    static const char *const names[] = {"GET", "POST", "HEAD", "DELETE", "OTHER"};
    return names[m];
}

static void answer(struct http_conn *c, int status, const char *content_type, struct buf *body)
{
    log_debug("http: %s %s %s -> %d", c->req.client_ip, method_name(c->req.method), c->req.path,
              status);
    /* CONTRACT §10: a refused request's body is not read. */
    c->close_after = status == 401 || status == 403;
    c->answered = true;
    c->status = status;
    c->content_type = content_type;
    buf_free(&c->body);
    if (body) {
        c->body = *body;
        buf_init(body, body->reserve);
    }
    c->server->requests++;
    lws_callback_on_writable(c->wsi);
}

static void body_with_reserve(struct buf *dst, struct buf *src)
{
    /* lws_write needs LWS_PRE bytes in front of what it sends. */
    if (src->reserve >= LWS_PRE) {
        *dst = *src;
        buf_init(src, src->reserve);
        return;
    }
    buf_init(dst, LWS_PRE);
    buf_append(dst, src->data ? src->data : "", src->len);
    buf_free(src);
}

void http_reply(struct http_request *r, int status, const char *content_type, struct buf *body)
{
    struct buf b;
    body_with_reserve(&b, body);
    answer(r->conn, status, content_type, &b);
}

static void error_body(struct buf *b, const char *code, const char *fmt, va_list ap)
{
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    buf_init(b, LWS_PRE);
    buf_puts(b, "{\"error\":");
    buf_json_str(b, code);
    buf_puts(b, ",\"message\":");
    buf_json_str(b, message);
    buf_puts(b, "}\n");
}

void http_reply_error(struct http_request *r, int status, const char *code, const char *fmt, ...)
{
    struct buf b;
    va_list ap;
    va_start(ap, fmt);
    error_body(&b, code, fmt, ap);
    va_end(ap);
    answer(r->conn, status, "application/json", &b);
}

void http_reply_busy(struct http_request *r, int retry_after_s, const char *fmt, ...)
{
    struct buf b;
    va_list ap;
    va_start(ap, fmt);
    error_body(&b, "busy", fmt, ap);
    va_end(ap);
    r->conn->retry_after = retry_after_s;
    answer(r->conn, 503, "application/json", &b);
}

static void conn_error(struct http_conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void conn_error(struct http_conn *c, int status, const char *code, const char *fmt, ...)
{
    struct buf b;
    va_list ap;
    va_start(ap, fmt);
    error_body(&b, code, fmt, ap);
    va_end(ap);
    answer(c, status, "application/json", &b);
}

struct http_deferred *http_defer(struct http_request *r)
{
    struct http_deferred *d = calloc(1, sizeof *d);
    if (!d) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return NULL;
    }
    d->conn = r->conn;
    r->conn->deferred = d;
    /* The work may take a while: lws must not time the connection out. */
    lws_set_timeout(r->conn->wsi, NO_PENDING_TIMEOUT, 0);
    return d;
}

bool http_deferred_gone(const struct http_deferred *d)
{
    return d->conn == NULL;
}

void http_deferred_reply(struct http_deferred *d, int status, const char *content_type,
                         struct buf *body)
{
    if (d->conn) {
        d->conn->deferred = NULL;
        http_reply(&d->conn->req, status, content_type, body);
    } else {
        buf_free(body);
    }
    free(d);
}

void http_deferred_reply_error(struct http_deferred *d, int status, const char *code,
                               const char *fmt, ...)
{
    struct buf b;
    va_list ap;
    va_start(ap, fmt);
    error_body(&b, code, fmt, ap);
    va_end(ap);
    http_deferred_reply(d, status, "application/json", &b);
}

void http_set_cookie(struct http_request *r, const char *value)
{
    snprintf(r->conn->set_cookie, sizeof r->conn->set_cookie, "%s", value);
}

bool http_secure_cookies(const struct http_request *r)
{
    return r->conn->server->secure_cookies;
}

/* ---- streamed request bodies ---- */

struct http_request *http_body_request(struct http_body *b)
{
    return b->conn ? &b->conn->req : NULL;
}

struct http_body *http_body_stream(struct http_request *r, const struct http_body_ops *ops,
                                   void *ctx)
{
    struct http_body *b = calloc(1, sizeof *b);
    if (!b) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return NULL;
    }
    b->conn = r->conn;
    b->ops = ops;
    b->ctx = ctx;
    r->conn->body_stream = b;
    return b;
}

int64_t http_body_length(const struct http_request *r)
{
    return r->conn->content_length;
}

void http_body_pause(struct http_body *b)
{
    if (b->conn && !b->paused && b->conn->body_pending) {
        b->paused = true;
        rate_stop(b->conn->wsi); /* we are not reading: the client is not slow */
        lws_rx_flow_control(b->conn->wsi, 0);
    }
}

void http_body_resume(struct http_body *b)
{
    if (b->conn && b->paused) {
        b->paused = false;
        rate_start(b->conn->wsi);
        /* Called from outside lws's callbacks: apply the change now. */
        lws_rx_flow_control(b->conn->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
    }
}

void http_body_reply(struct http_body *b, int status, const char *content_type, struct buf *body)
{
    struct http_conn *c = b->conn;
    if (c) {
        http_body_resume(b); /* a rest of the body is drained, or the next request read */
        c->body_stream = NULL;
        http_reply(&c->req, status, content_type, body);
    } else if (body) {
        buf_free(body);
    }
    free(b);
}

void http_body_reply_error(struct http_body *b, int status, const char *code, const char *fmt, ...)
{
    struct buf e;
    va_list ap;
    va_start(ap, fmt);
    error_body(&e, code, fmt, ap);
    va_end(ap);
    http_body_reply(b, status, "application/json", &e);
}

struct http_stream *http_stream_start(struct http_request *r, const char *content_type,
                                      const char *filename, const struct http_stream_ops *ops,
                                      void *ctx)
{
    struct http_conn *c = r->conn;
    struct http_stream *s = calloc(1, sizeof *s);
    if (!s) {
        if (ops->release)
            ops->release(ctx);
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return NULL;
    }
    s->conn = c;
    s->ops = ops;
    s->ctx = ctx;
    buf_init(&s->chunk, LWS_PRE + CHUNK_HDR_MAX);
    c->stream = s;
    if (filename)
        snprintf(c->disposition, sizeof c->disposition, "attachment; filename=\"%s\"", filename);
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    answer(c, 200, content_type, NULL);
    return s;
}

struct http_stream *http_deferred_stream(struct http_deferred *d, const char *content_type,
                                         const struct http_stream_ops *ops, void *ctx)
{
    struct http_conn *c = d->conn;
    free(d);
    if (!c) {
        if (ops->release)
            ops->release(ctx);
        return NULL;
    }
    c->deferred = NULL;
    return http_stream_start(&c->req, content_type, NULL, ops, ctx);
}

void http_stream_resume(struct http_stream *s)
{
    s->waiting = false;
    if (!s->conn) {
        release_stream(s);
        return;
    }
    lws_callback_on_writable(s->conn->wsi);
}

/* ---- writing ---- */

static int write_headers(struct http_conn *c)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof hdr - 1;
    lws_filepos_t len = c->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)c->body.len;
    if (lws_add_http_common_headers(c->wsi, (unsigned)c->status, c->content_type, len, &p, end) ||
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        add_security_headers(c->wsi, &p, end))
        return -1;
    if (c->close_after && lws_add_http_header_by_name(c->wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (c->stream &&
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"transfer-encoding:",
                                    (const unsigned char *)"chunked", 7, &p, end))
        return -1;
    if (c->set_cookie[0] &&
        lws_add_http_header_by_name(
            c->wsi, (const unsigned char *)"set-cookie:", (const unsigned char *)c->set_cookie,
            (int)strlen(c->set_cookie), &p, end))
        return -1;
    if (c->disposition[0] &&
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"content-disposition:",
                                    (const unsigned char *)c->disposition,
                                    (int)strlen(c->disposition), &p, end))
        return -1;
    char retry[16];
    int rn = snprintf(retry, sizeof retry, "%d", c->retry_after);
    if (c->retry_after > 0 &&
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"retry-after:",
                                    (const unsigned char *)retry, rn, &p, end))
        return -1;
    if (lws_finalize_write_http_header(c->wsi, start, &p, end))
        return -1;
    c->headers_sent = true;
    return 0;
}

/* Returns -1 to close, 1 when the transaction is complete, 0 for more. */
static int write_body_piece(struct http_conn *c)
{
    size_t left = c->body.len - c->body_sent;
    if (c->head_only || left == 0)
        return 1;
    size_t n = left > WRITE_PIECE ? WRITE_PIECE : left;
    bool last = n == left;
    unsigned char *at = (unsigned char *)c->body.data + c->body_sent;
    /* lws_write may overwrite LWS_PRE bytes in front: save and restore them
     * when they are body bytes already sent. */
    unsigned char saved[LWS_PRE] = {0};
    if (c->body_sent)
        memcpy(saved, at - LWS_PRE, LWS_PRE);
    int w = lws_write(c->wsi, at, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    if (c->body_sent)
        memcpy(at - LWS_PRE, saved, LWS_PRE);
    if (w < 0)
        return -1;
    c->body_sent += n;
    return last ? 1 : 0;
}

static int write_chunk(struct http_conn *c, struct buf *chunk, bool final)
{
    char head[CHUNK_HDR_MAX + 1];
    int hn = 0;
    if (chunk->len) { /* an empty chunk would read as the end: send none */
        hn = snprintf(head, sizeof head, "%zx\r\n", chunk->len);
        buf_append(chunk, "\r\n", 2);
    }
    if (final)
        buf_append(chunk, "0\r\n\r\n", 5);
    if (buf_failed(chunk))
        return -1;
    if (!chunk->len)
        return 0;
    unsigned char *start = (unsigned char *)chunk->data - hn;
    memcpy(start, head, (size_t)hn);
    int w = lws_write(c->wsi, start, chunk->len + (size_t)hn,
                      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    buf_reset(chunk);
    return w < 0 ? -1 : 0;
}

/* Returns -1 to close, 1 when complete, 0 for more. */
static int write_stream(struct http_conn *c)
{
    struct http_stream *s = c->stream;
    if (s->waiting)
        return 0;
    enum http_stream_step step = s->ops->next(s->ctx, &s->chunk);
    switch (step) {
    case HTTP_STREAM_LATER:
        s->waiting = true;
        return 0;
    case HTTP_STREAM_MORE:
        if (s->chunk.len && write_chunk(c, &s->chunk, false) != 0)
            return -1;
        lws_callback_on_writable(c->wsi);
        return 0;
    case HTTP_STREAM_DONE:
        return write_chunk(c, &s->chunk, true) == 0 ? 1 : -1;
    case HTTP_STREAM_FAIL:
    default:
        return -1; /* headers are out: a cut chunked body tells the client */
    }
}

/* The next request may start once the body of this one is all read: until
 * then lws would take the rest of the body for the next request's head. */
static int answer_written(struct http_conn *c)
{
    if (c->close_after)
        return -1;
    if (c->body_pending) {
        if (c->content_length - c->body_received > DRAIN_MAX)
            return -1; /* not worth reading: close */
        c->answer_done = true;
        return 0;
    }
    reset_conn(c);
    return lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

static int on_writable(struct http_conn *c)
{
    if (!c->answered || c->answer_done)
        return 0;
    if (!c->headers_sent) {
        if (write_headers(c) != 0)
            return -1;
        if (!c->head_only) {
            lws_callback_on_writable(c->wsi); /* body on the next callback */
            return 0;
        }
    }
    int rc = c->head_only ? 1 : c->stream ? write_stream(c) : write_body_piece(c);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (!c->stream)
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    return answer_written(c);
}

/* ---- static files ---- */

static bool path_is_safe(const char *path)
{
    /* No "..", no hidden files, no backslashes: a plain tree of files. */
    return path[0] == '/' && !strstr(path, "/.") && !strchr(path, '\\');
}

/* set_cookie: the page was opened with ?access_token=; hand the token back
 * as an HttpOnly cookie for its assets, API calls and websocket. */
static int serve_static(struct http_conn *c, bool set_cookie)
{
    struct http_server *h = c->server;
    const char *path = strcmp(c->req.path, "/") == 0 ? "/index.html" : c->req.path;
    char file[PATH_MAX], real[PATH_MAX];
    struct stat st;

    if (c->req.method != HTTP_GET && c->req.method != HTTP_HEAD) {
        conn_error(c, 405, "method_not_allowed", "only GET and HEAD on %s", c->req.path);
        return 0;
    }
    if (!h->dashboard_dir || !path_is_safe(path) ||
        snprintf(file, sizeof file, "%s%s", h->dashboard_dir, path) >= (int)sizeof file ||
        !realpath(file, real) || strncmp(real, h->dashboard_dir, strlen(h->dashboard_dir)) != 0 ||
        stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        conn_error(c, 404, "not_found", "no such page: %s", c->req.path);
        return 0;
    }
    const char *mime = lws_get_mimetype(real, NULL);
    bool html = mime && strcmp(mime, "text/html") == 0;
    /* HTML revalidates (a new dashboard shows at once); files under
     * /assets/ carry a hash of their content in their name (the build
     * writes them so) and never change; anything else caches briefly. */
    const char *cache = html                                ? "no-cache"
                        : strncmp(path, "/assets/", 8) == 0 ? "public, max-age=31536000, immutable"
                                                            : "max-age=300";
    char headers[1024];
    int hlen = snprintf(headers, sizeof headers, "cache-control: %s\r\n" SECURITY_HEADERS, cache);
    char buf[300];
    const char *token = set_cookie ? query_token(c, buf, sizeof buf) : NULL;
    if (token && strlen(token) < 256)
        hlen += snprintf(headers + hlen, sizeof headers - (size_t)hlen,
                         "set-cookie: " TOKEN_COOKIE "%s; Path=/; HttpOnly; SameSite=Strict%s\r\n",
                         token, h->secure_cookies ? "; Secure" : "");
    h->requests++;
    log_debug("http: %s %s %s -> file", c->req.client_ip, method_name(c->req.method), c->req.path);
    int n =
        lws_serve_http_file(c->wsi, real, mime ? mime : "application/octet-stream", headers, hlen);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(c->wsi)))
        return -1;
    return 0;
}

/* ---- dispatch ---- */

static enum http_method method_of(struct lws *wsi)
{
    char *uri;
    int len;
    switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
    case LWSHUMETH_GET:
        return HTTP_GET;
    case LWSHUMETH_POST:
        return HTTP_POST;
    case LWSHUMETH_HEAD:
        return HTTP_HEAD;
    case LWSHUMETH_DELETE:
        return HTTP_DELETE;
    default:
        return HTTP_OTHER;
    }
}

static bool is_api_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0;
}

/* The whole body is in: a streaming handler hears of it; the answer waits
 * for it no longer. Returns -1 to close. */
static int body_complete(struct http_conn *c)
{
    c->body_pending = false;
    if (c->answer_done) {
        reset_conn(c);
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }
    struct http_body *b = c->body_stream;
    if (b) {
        /* Storing what came may take a while: lws must not time out. */
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
        b->ops->end(b->ctx);
    }
    return 0;
}

static void body_data(struct http_conn *c, const char *in, size_t len)
{
    rate_count(c->wsi, len);
    c->body_received += (int64_t)len;
    if (c->body_stream)
        c->body_stream->ops->data(c->body_stream->ctx, in, len);
}

static int dispatch(struct http_conn *c)
{
    struct http_request *r = &c->req;
    if (!is_api_path(r->path)) {
        /* lws owns a file transfer to its end and may free this connection
         * state without a CLOSED_HTTP: let go of the arguments now. */
        int rc = serve_static(c, r->cred == HTTP_CRED_QUERY && r->role != ROLE_NONE &&
                                     c->server->n_tokens);
        free_args(r);
        return rc;
    }
    c->server->route(c->server->route_ctx, r);
    if (c->body_stream && !c->body_pending) /* a streamed route, but no body */
        body_complete(c);
    return 0;
}

/* CONTRACT §2 and §10, decided on the head alone so that a refused body is
 * never read: with tokens, everything but /healthz, the sign-in and the
 * dashboard's files needs one; a cookie's change needs our Origin. Returns true
 * when the request was answered (401 or 403). */
static bool refused(struct http_conn *c)
{
    struct http_request *r = &c->req;
    /* CONTRACT §2, §8: with tokens or accounts everything but /healthz and
     * the sign-in itself needs a credential (the dashboard's files: below). */
    if (strcmp(r->path, "/healthz") == 0 || strcmp(r->path, "/api/v1/login") == 0)
        return false;
    r->role = authenticate(c);
    /* CONTRACT §8 (a note on §2's "the dashboard's files too"): the
     * dashboard's files hold no data and must load for a browser with no
     * credential yet, which then shows its sign-in form. Only GET and HEAD
     * (any other method is refused unread); every API path needs one. */
    if (r->role == ROLE_NONE && !is_api_path(r->path) &&
        (r->method == HTTP_GET || r->method == HTTP_HEAD))
        return false;
    if (r->role == ROLE_NONE) {
        conn_error(c, 401, "unauthorized",
                   "a valid token is required (Authorization: Bearer, ?access_token= or "
                   "the pantau_token cookie)");
        return true;
    }
    if (origin_refused(c)) {
        conn_error(c, 403, "bad_origin",
                   "a change authorized by a cookie must come from this site's pages (the "
                   "Origin header must name the host and port it is sent to)");
        return true;
    }
    struct http_server *h = c->server;
    enum http_role need =
        h->route_role && is_api_path(r->path) ? h->route_role(h->route_ctx, r) : ROLE_NONE;
    if (!http_role_allows(r->role, need)) {
        conn_error(c, 403, "forbidden", "%s needs the %s role", r->path, http_role_name(need));
        return true;
    }
    return false;
}

/* Bytes of the request head lws parsed into known headers (custom headers
 * are not enumerable in lws 4.1, so a head of many of them can pass). */
static size_t head_size(struct lws *wsi)
{
    size_t n = 0;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (len > 0)
            n += (size_t)len;
    }
    return n;
}

static int on_http(struct http_conn *c, struct lws *wsi, const char *uri)
{
    c->wsi = wsi;
    reset_conn(c);
    c->req.conn = c;
    c->req.method = method_of(wsi);
    c->head_only = c->req.method == HTTP_HEAD;
    client_addr(c->server, wsi, c->req.client_ip);
    if (head_size(wsi) > HEAD_MAX) {
        conn_error(c, 431, "request_too_large", "request headers are limited to %d bytes",
                   HEAD_MAX);
        return 0;
    }
    if (strlen(uri) >= sizeof c->req.path) {
        conn_error(c, 414, "uri_too_long", "the path is longer than %zu bytes",
                   sizeof c->req.path - 1);
        return 0;
    }
    snprintf(c->req.path, sizeof c->req.path, "%s", uri);
    if (read_args(c) != 0) {
        conn_error(c, 503, "out_of_memory", "the server is out of memory");
        return 0;
    }
    char len_s[32];
    if (lws_hdr_copy(wsi, len_s, sizeof len_s, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        atoll(len_s) > 0) {
        c->content_length = atoll(len_s);
        c->body_pending = true;
        rate_start(c->wsi);
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0 && c->req.n_args == HTTP_MAX_ARGS) {
        conn_error(c, 431, "too_many_arguments", "at most %d query arguments", HTTP_MAX_ARGS);
        return 0;
    }
    if (refused(c))
        return 0; /* its body unread: answer_written closes */
    struct http_server *h = c->server;
    if (c->req.method == HTTP_POST && h->streams_body && h->streams_body(h->route_ctx, &c->req)) {
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
            conn_error(c, 411, "length_required", "send the body with a Content-Length");
            return 0;
        }
        return dispatch(c); /* the handler reads the body as it comes */
    }
    if (c->body_pending) {
        if (c->content_length > BODY_MAX) {
            conn_error(c, 413, "body_too_large", "request bodies are limited to %d bytes",
                       BODY_MAX);
            return 0;
        }
        c->awaiting_body = true; /* dispatch once the body is in */
        return 0;
    }
    return dispatch(c);
}

/* Answers a refused websocket upgrade with `status` and the JSON error. */
static int refuse_upgrade(struct lws *wsi, unsigned status, const char *body)
{
    unsigned char head[LWS_PRE + 1024], *start = head + LWS_PRE, *p = start;
    unsigned char *end = head + sizeof head;
    size_t len = strlen(body);
    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
        add_security_headers(wsi, &p, end) || lws_finalize_http_header(wsi, &p, end))
        return -1;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0 ||
        lws_write(wsi, (unsigned char *)body, len, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return 1;
}

/* The key a live connection counts against ([live] max_per_credential):
 * "s<id>" for a signed-in session, "t<i>" for the i-th configured token,
 * in authenticate's order of sources; "" with neither (no such bound: see
 * live.h). Only the index is kept, never the token. */
static void upgrade_credential(struct http_conn *c, char *out, size_t len)
{
    struct http_server *h = c->server;
    char auth[512], token[512];
    const char *given = NULL;
    out[0] = '\0';
    if (c->req.session) { /* signed in (authenticate found the session) */
        snprintf(out, len, "s%lld", (long long)c->req.session);
        return;
    }
    if (lws_hdr_copy(c->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncasecmp(auth, "Bearer ", 7) == 0)
        given = auth + 7;
    else if (!(given = query_token(c, token, sizeof token)) &&
             lws_hdr_copy(c->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_COOKIE) > 0)
        given = cookie_token(auth);
    for (int i = 0; given && i < h->n_tokens; i++)
        if (token_equal(given, strlen(given), h->tokens[i].secret)) {
            snprintf(out, len, "t%d", i);
            return;
        }
}

/* Websocket upgrades need a valid token, as every other request does, and
 * one authorized by a cookie that says where its page comes from (Origin;
 * browsers always send it) must come from ours. lws asks the vhost's
 * default protocol, live's, to confirm an upgrade (live checks the path),
 * so live calls this hook (live_set_admit). lws's `user` there is live's
 * memory: use a connection record of our own. */
int http_admit_upgrade(void *ctx, struct lws *wsi, char *cred, size_t cred_len)
{
    struct http_conn c;
    memset(&c, 0, sizeof c);
    c.server = ctx;
    c.wsi = wsi;
    c.req.conn = &c;
    char client[HTTP_ADDR_MAX];
    client_addr(c.server, wsi, client);
    enum http_role role = read_args(&c) == 0 ? authenticate(&c) : ROLE_NONE;
    enum http_cred how = c.req.cred;
    if (role != ROLE_NONE)
        upgrade_credential(&c, cred, cred_len);
    reset_conn(&c);
    if (role == ROLE_NONE) {
        log_debug("http: %s: websocket upgrade refused: no valid token", client);
        return refuse_upgrade(wsi, HTTP_STATUS_UNAUTHORIZED,
                              "{\"error\":\"unauthorized\",\"message\":\"a valid token is "
                              "required (Authorization: Bearer or access_token)\"}");
    }
    if (how == HTTP_CRED_COOKIE && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
        !same_origin(wsi)) {
        log_debug("http: %s: websocket upgrade refused: foreign Origin", client);
        return refuse_upgrade(wsi, HTTP_STATUS_FORBIDDEN,
                              "{\"error\":\"bad_origin\",\"message\":\"a websocket authorized "
                              "by a cookie must be opened by this site's pages\"}");
    }
    return 0;
}

/* The connection on_accept let in, now adopted by lws: bind its record. */
static void bind_pending(struct http_server *h, struct lws *wsi)
{
    if (h->pending) {
        h->pending->wsi = wsi;
        lws_set_opaque_user_data(wsi, h->pending);
        h->pending = NULL;
    }
}

/* The websocket protocol's callback, wrapped: lws tells the vhost's default
 * protocol (the websocket's, see http_start) of a new connection, and the
 * connection's record is bound to it there. The rest goes to live. */
static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct http_server *h = lws_context_user(lws_get_context(wsi));
    if (reason == LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED)
        bind_pending(h, wsi);
    return h->ws_callback(wsi, reason, user, in, len);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct http_conn *c = user;
    struct http_server *h = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        c->server = h;
        return on_http(c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        body_data(c, in, len);
        return 0;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return on_accept(h, user);
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: /* if ours were the default */
        bind_pending(h, wsi);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY: {
        struct http_sock *s = lws_get_opaque_user_data(wsi);
        if (s) {
            lws_set_opaque_user_data(wsi, NULL);
            sock_free(h, s);
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        rate_stop(wsi);
        if (c->awaiting_body) {
            c->awaiting_body = false;
            c->body_pending = false;
            return dispatch(c);
        }
        return body_complete(c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writable(c);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c->server)
            reset_conn(c);
        buf_free(&c->body);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- lifecycle ---- */

static void lws_log_to_ours(int level, const char *line)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", line);
    size_t n = strlen(copy);
    while (n && (copy[n - 1] == '\n' || copy[n - 1] == '\r'))
        copy[--n] = '\0';
    if (level & LLL_ERR)
        log_error("lws: %s", copy);
    else
        log_warn("lws: %s", copy);
}

void http_set_tokens(struct http_server *h, const struct cfg *cfg)
{
    for (int i = 0; i < h->n_tokens; i++)
        free(h->tokens[i].secret);
    free(h->tokens);
    h->tokens = NULL;
    h->n_tokens = 0;
    if (cfg->n_tokens == 0)
        return;
    h->tokens = calloc((size_t)cfg->n_tokens, sizeof *h->tokens);
    if (!h->tokens) {
        log_error("http: out of memory for tokens");
        return;
    }
    for (int i = 0; i < cfg->n_tokens; i++) {
        h->tokens[i].role = cfg->tokens[i].role;
        if (!(h->tokens[i].secret = strdup(cfg->tokens[i].secret)))
            break;
        h->n_tokens++;
    }
}

/* lws takes an address or an interface name, not a host name: resolve
 * "localhost" and the like to their first address, in place. */
static int numeric_host(char *host, size_t len)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    int rc =
        getnameinfo(res->ai_addr, res->ai_addrlen, host, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return rc == 0 ? 0 : -1;
}

static int add_proxy(void *ctx, const char *addr)
{
    struct http_server *h = ctx;
    if (h->n_proxies == MAX_PROXIES) {
        log_warn("http: more than %d proxies: %s and later ones are not trusted", MAX_PROXIES,
                 addr);
        return -1;
    }
    if (http_addr_normal(addr, h->proxies[h->n_proxies], HTTP_ADDR_MAX) == 0)
        h->n_proxies++;
    return 0;
}

/* Every connection is a file descriptor: take what the hard limit allows,
 * and keep max_conns below it with room for the rest (FD_RESERVE), so that
 * at the limit a new connection from a counted address is closed by us
 * rather than failing accept() while others wait. */
static void fit_fd_limit(struct http_server *h)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            log_debug("http: open files limit raised from %llu to %llu", (unsigned long long)was,
                      (unsigned long long)rl.rlim_cur);
        else
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)h->max_conns + FD_RESERVE > rl.rlim_cur) {
        int fit = rl.rlim_cur > 2 * FD_RESERVE ? (int)(rl.rlim_cur - FD_RESERVE) : FD_RESERVE;
        log_warn("http: max_conns lowered from %d to %d to fit the open files limit (%llu)",
                 h->max_conns, fit, (unsigned long long)rl.rlim_cur);
        h->max_conns = fit;
    }
}

/* Whether requests need a credential. Accounts, when they exist, count. */
static bool auth_configured(const struct http_server *h)
{
    return h->n_tokens > 0;
}

int http_start(struct http_server **out, uv_loop_t *loop, const struct http_opts *opts)
{
    char host[256];
    int port;
    struct http_server *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    if (cfg_split_listen(opts->cfg->listen, host, sizeof host, &port) != 0 ||
        numeric_host(host, sizeof host) != 0) {
        log_error("http: bad listen address %s", opts->cfg->listen);
        free(h);
        return -1;
    }
    h->loop = loop;
    h->route = opts->route;
    h->route_ctx = opts->route_ctx;
    h->streams_body = opts->streams_body;
    h->route_role = opts->route_role;
    h->session_lookup = opts->session_lookup;
    h->accounts_exist = opts->accounts_exist;
    h->people_ctx = opts->people_ctx;
    h->dashboard_dir = realpath(opts->cfg->dashboard_dir, NULL);
    if (!h->dashboard_dir)
        log_warn("http: dashboard directory %s not found; serving the API only",
                 opts->cfg->dashboard_dir);
    http_set_tokens(h, opts->cfg);
    const struct cfg *cfg = opts->cfg;
    h->max_conns = cfg->http_max_conns;
    h->max_per_ip = cfg->http_max_conns_per_ip;
    h->rate_bytes = cfg->http_min_rate_bytes;
    h->rate_window_ms = cfg->http_min_rate_window * 1000;
    if (cfg->http_proxy)
        cfg_each_proxy(cfg->http_proxy, add_proxy, h);
    h->secure_cookies = cfg->http_secure_cookies < 0 ? h->n_proxies > 0 : cfg->http_secure_cookies;
    fit_fd_limit(h);

    h->protocols[0].name = "http";
    h->protocols[0].callback = http_callback;
    h->protocols[0].per_session_data_size = sizeof(struct http_conn);
    h->protocols[1] = opts->ws_protocol;
    h->ws_callback = opts->ws_protocol.callback;
    h->protocols[1].callback = ws_callback;
    /* A client that offers no subprotocol gets the vhost's default one. */
    h->pvo_default = (struct lws_protocol_vhost_options){NULL, NULL, "default", "1"};
    h->pvo = (struct lws_protocol_vhost_options){NULL, &h->pvo_default, h->protocols[1].name, ""};

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    void *foreign_loops[1] = {loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (!strchr(host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign_loops;
    info.port = port;
    info.iface = host;
    info.protocols = h->protocols;
    info.pvo = &h->pvo;
    info.user = h;
    info.vhost_name = "pantau";
    info.server_string = "pantau";
    info.max_http_header_data = HEAD_SPACE;
    info.timeout_secs = 30;
    /* A request head must be in within the window (lws times it from the
     * first byte; heads are far below min_rate_bytes). */
    info.timeout_secs_ah_idle = (unsigned)cfg->http_min_rate_window;
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        log_error("http: cannot start libwebsockets for %s (is libwebsockets-evlib-uv "
                  "installed?)",
                  opts->cfg->listen);
        http_free(h);
        return -1;
    }
    /* lws 4.1 returns a context even when its vhost could not listen (port
     * taken, no such address): check, or pantaud would run deaf. The caller
     * must still stop and free h, since the context holds loop handles. */
    *out = h;
    struct lws_vhost *vh = lws_get_vhost_by_name(h->ctx, "pantau");
    int bound = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (bound <= 0) {
        log_error("http: cannot listen on %s (is the port taken?)", opts->cfg->listen);
        return -1;
    }
    log_info("http: listening on %s:%d%s", info.iface, bound,
             auth_configured(h) ? "" : " (no tokens configured: no authentication)");
    if (!auth_configured(h) && !cfg_is_loopback(host))
        log_warn("http: %s:%d is reachable beyond this machine and no [auth] tokens are "
                 "configured: anyone who reaches it may read everything, enter data and "
                 "acknowledge alerts",
                 info.iface, bound);
    uv_timer_init(loop, &h->rate_timer);
    h->rate_timer.data = h;
    h->rate_timer_on = true;
    uv_timer_start(&h->rate_timer, rate_sweep, 250, 250);
    uv_unref((uv_handle_t *)&h->rate_timer);
    return 0;
}

void http_stop(struct http_server *h)
{
    if (h && h->rate_timer_on) {
        h->rate_timer_on = false;
        uv_close((uv_handle_t *)&h->rate_timer, NULL);
    }
    if (h && h->ctx)
        lws_context_destroy(h->ctx); /* first call: starts closing lws's handles */
}

void http_free(struct http_server *h)
{
    if (!h)
        return;
    if (h->ctx)
        lws_context_destroy(h->ctx); /* second call, loop done: frees the context */
    struct cfg empty = {0};
    http_set_tokens(h, &empty);
    if (h->pending)
        sock_free(h, h->pending);
    while (h->socks) /* none after lws's WSI_DESTROYs; for a failed start */
        sock_free(h, h->socks);
    free(h->dashboard_dir);
    free(h);
}

uint64_t http_requests_total(const struct http_server *h)
{
    return h->requests;
}
