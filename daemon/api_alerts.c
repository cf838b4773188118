/* api_alerts.c — GET /api/v1/alerts and POST /api/v1/alerts/<id>/ack
 * (CONTRACT §2, §6): firing alerts from the engine's memory, a period's
 * alerts from the database, acknowledgement with an optional note. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alert_engine.h"
#include "alert_store.h"
#include "api.h"
#include "audit.h"
#include "util.h"
#include "wire.h"

#define JSON         "application/json"
#define ALERTS_PATH  "/api/v1/alerts/"
#define ACK_BODY_MAX 4096
#define NOTE_MAX     1000 /* bytes */
#define ALERTS_LIMIT 10000
#define ALERTS_PAGE  200 /* alerts read and sent at a time (~120 KiB) */

struct listing {
    struct buf *b;
    size_t n;
};

static void list_one(void *ctx, const struct alert_record *a)
{
    struct listing *l = ctx;
    buf_puts(l->b, l->n++ ? ",\n" : "\n");
    wire_alert(l->b, a);
}

/* ---- a period's alerts, streamed ---- */

/* A period's alerts can be thousands (ALERTS_LIMIT, about 6 MB): they are
 * read from the database a page at a time, on the loop (a page is a few
 * ms), and each page only when the client has taken the one before, so a
 * client that stops reading holds one page (CONTRACT §10). The answer is
 * `head` (ending with the array's '['), the alerts, ']', then `tail`. */
struct alert_stream {
    struct api *a;
    struct alert_page page; /* its cursor moves past each alert listed */
    char *program;
    struct buf head; /* written first; the array's '[' is its last byte */
    const char *tail;
    int left; /* alerts ALERTS_LIMIT still allows */
    size_t n; /* alerts listed so far */
    bool head_sent, array_done;
};

static void stream_one(void *ctx, const struct alert_record *a)
{
    struct alert_stream *s = ctx;
    struct listing l = {&s->head, s->n++};
    list_one(&l, a);
    s->page.before_fired = a->fired_at;
    s->page.before_id = a->id;
}

/* Appends the next page to s->head (which the caller then sends): 0, or -1
 * when the database could not be read. */
static int stream_page(struct alert_stream *s)
{
    int want = s->left < ALERTS_PAGE ? s->left : ALERTS_PAGE;
    if (!s->a->alerts || want == 0) { /* no engine (tests), or the limit reached */
        s->array_done = true;
        return 0;
    }
    size_t before = s->n;
    s->page.limit = want;
    if (alert_engine_each_in(s->a->alerts, &s->page, stream_one, s) != 0)
        return -1;
    int got = (int)(s->n - before);
    s->left -= got;
    s->array_done = got < want || s->left == 0;
    return 0;
}

static enum http_stream_step stream_next(void *ctx, struct buf *out)
{
    struct alert_stream *s = ctx;
    if (!s->head_sent) { /* the head and the first page, read already */
        s->head_sent = true;
        buf_append(out, s->head.data, s->head.len);
        buf_free(&s->head);
        return HTTP_STREAM_MORE;
    }
    if (s->array_done) {
        buf_puts(out, "]");
        buf_puts(out, s->tail);
        return HTTP_STREAM_DONE;
    }
    buf_init(&s->head, 0);
    int rc = stream_page(s);
    buf_append(out, s->head.data, s->head.len);
    buf_free(&s->head);
    return rc == 0 ? HTTP_STREAM_MORE : HTTP_STREAM_FAIL;
}

static void stream_release(void *ctx)
{
    struct alert_stream *s = ctx;
    buf_free(&s->head);
    free(s->program);
    free(s);
}

static const struct http_stream_ops stream_ops = {stream_next, stream_release};

/* A stream of the alerts of [from, to] (program NULL: any) after `head`
 * (taken), or NULL when out of memory. Its first page is read here. */
static struct alert_stream *stream_new(struct api *a, struct buf *head, const char *tail,
                                       int64_t from, int64_t to, const char *program)
{
    struct alert_stream *s = calloc(1, sizeof *s);
    if (!s || (program && !(s->program = strdup(program)))) {
        free(s);
        buf_free(head);
        return NULL;
    }
    s->a = a;
    s->head = *head;
    buf_init(head, 0);
    s->tail = tail;
    s->left = ALERTS_LIMIT;
    s->page = (struct alert_page){from, to, s->program, INT64_MAX, INT64_MAX, 0};
    return s;
}

/* Answers with `head` (taken), the alerts of [from, to] and `tail`: whole
 * when they fit in one page, else streamed. Exactly one of r and d is
 * given (a request answered now, or a deferred one). */
static void stream_answer(struct api *a, struct http_request *r, struct http_deferred *d,
                          struct buf *head, const char *tail, int64_t from, int64_t to,
                          const char *program)
{
    struct alert_stream *s = stream_new(a, head, tail, from, to, program);
    int rc = s ? stream_page(s) : -1;
    if (rc == 0 && s->array_done) { /* it all fits: one answer */
        struct buf b = s->head;
        buf_init(&s->head, 0);
        buf_puts(&b, "]");
        buf_puts(&b, tail);
        stream_release(s);
        if (r)
            http_reply(r, 200, JSON, &b);
        else
            http_deferred_reply(d, 200, JSON, &b);
        return;
    }
    if (rc != 0) {
        if (s)
            stream_release(s);
        if (r)
            http_reply_error(r, 503, "unavailable", "the alerts could not be read; retry");
        else
            http_deferred_reply_error(d, 503, "unavailable", "the alerts could not be read; retry");
        return;
    }
    if (r)
        http_stream_start(r, JSON, NULL, &stream_ops, s);
    else
        http_deferred_stream(d, JSON, &stream_ops, s);
}

void api_alerts_answer(struct api *a, struct http_deferred *d, struct buf *head, const char *tail,
                       int64_t from, int64_t to)
{
    buf_puts(head, "[");
    stream_answer(a, NULL, d, head, tail, from, to, NULL);
}

void api_alerts(struct api *a, struct http_request *r)
{
    const char *state = http_arg(r, "state"), *program = http_arg(r, "program");
    bool all = state && strcmp(state, "all") == 0;
    if (state && !all && strcmp(state, "active") != 0) {
        http_reply_error(r, 400, "bad_parameter", "state must be active or all");
        return;
    }
    if (program && !util_is_slug(program, strlen(program))) {
        http_reply_error(r, 400, "bad_parameter",
                         "program must be a slug ([a-z0-9][a-z0-9_-]{0,63})");
        return;
    }
    int64_t from, to;
    if (!api_read_range(r, &from, &to))
        return;
    struct buf b;
    struct listing l = {&b, 0};
    buf_init(&b, 0);
    buf_puts(&b, "{\"alerts\":[");
    if (all) {
        stream_answer(a, r, NULL, &b, "}\n", from, to, program);
        return;
    }
    if (a->alerts)
        alert_engine_each_firing(a->alerts, program, list_one, &l);
    buf_puts(&b, "]}\n");
    http_reply(r, 200, JSON, &b);
}

/* ---- POST /api/v1/alerts/<id>/ack ---- */

struct ack_req {
    struct api *a;
    struct http_body *body;
    int64_t id;
    struct api_actor who; /* acked_by and the program scope (CONTRACT §8) */
    struct buf text;
    bool too_large;
};

static void ack_free(struct ack_req *q)
{
    buf_free(&q->text);
    free(q);
}

static void ack_data(void *ctx, const char *p, size_t len)
{
    struct ack_req *q = ctx;
    if (q->text.len + len > ACK_BODY_MAX)
        q->too_large = true;
    else
        buf_append(&q->text, p, len);
}

/* The optional {"note": "..."}: 0 with *note (NULL when none), or -1 after
 * answering 400. */
static int read_note(struct ack_req *q, json_t **doc, const char **note)
{
    *doc = NULL;
    *note = NULL;
    if (q->text.len == 0)
        return 0;
    json_error_t err;
    *doc = json_loadb(q->text.data, q->text.len, 0, &err);
    json_t *n = json_is_object(*doc) ? json_object_get(*doc, "note") : NULL;
    if (!json_is_object(*doc) || (n && !json_is_string(n) && !json_is_null(n))) {
        http_body_reply_error(q->body, 400, "bad_json",
                              "the body must be a JSON object {\"note\": \"...\"}");
        return -1;
    }
    *note = json_string_value(n);
    if (*note && strlen(*note) > NOTE_MAX) {
        http_body_reply_error(q->body, 400, "bad_parameter", "note is limited to %d bytes",
                              NOTE_MAX);
        return -1;
    }
    return 0;
}

/* A user limited to some programs acknowledges only theirs: false after
 * answering 403 forbidden_program (an unknown id goes on to the 404). */
static bool ack_in_scope(struct ack_req *q)
{
    struct alert_record rec;
    if (!q->who.programs[0] || !q->a->alerts || alert_engine_get(q->a->alerts, q->id, &rec) != 1)
        return true;
    bool ok = api_actor_may(&q->who, rec.program);
    if (!ok)
        http_body_reply_error(q->body, 403, "forbidden_program",
                              "%s may not acknowledge alerts of program %s", q->who.user,
                              rec.program);
    alert_record_free(&rec);
    return ok;
}

static void ack_audit(struct ack_req *q, const char *note)
{
    char target[24];
    struct buf d;
    buf_init(&d, 0);
    snprintf(target, sizeof target, "%lld", (long long)q->id);
    if (note) {
        buf_puts(&d, "{\"note\":");
        audit_json_str(&d, note);
        buf_puts(&d, "}");
    }
    api_audit(q->a, &q->who, "ack", target, note && !buf_failed(&d) ? d.data : NULL);
    buf_free(&d);
}

static void ack_end(void *ctx)
{
    struct ack_req *q = ctx;
    json_t *doc = NULL;
    const char *note;
    if (q->too_large) {
        http_body_reply_error(q->body, 413, "too_large", "the body is limited to %d bytes",
                              ACK_BODY_MAX);
    } else if (read_note(q, &doc, &note) == 0 && ack_in_scope(q)) {
        struct alert_record rec;
        int found = q->a->alerts
                        ? alert_engine_ack(q->a->alerts, q->id, api_actor_name(&q->who), note, &rec)
                        : 0;
        if (found == 0) {
            http_body_reply_error(q->body, 404, "not_found", "no alert %lld", (long long)q->id);
        } else if (found < 0) {
            http_body_reply_error(q->body, 503, "unavailable", "the database cannot be written");
        } else {
            struct buf b;
            buf_init(&b, 0);
            buf_puts(&b, "{\"alert\":");
            wire_alert(&b, &rec);
            buf_puts(&b, "}\n");
            alert_record_free(&rec);
            ack_audit(q, note);
            http_body_reply(q->body, 200, JSON, &b);
        }
    }
    json_decref(doc);
    ack_free(q);
}

static void ack_gone(void *ctx)
{
    struct ack_req *q = ctx;
    http_body_reply(q->body, 0, NULL, NULL);
    ack_free(q);
}

static const struct http_body_ops ack_ops = {ack_data, ack_end, ack_gone};

/* "<digits>/ack" after the prefix: the id, or 0. */
static int64_t ack_id(const char *rest)
{
    char *end;
    if (*rest < '1' || *rest > '9')
        return 0;
    long long id = strtoll(rest, &end, 10);
    return strcmp(end, "/ack") == 0 && id > 0 ? id : 0;
}

bool api_alert_ack_path(const char *path)
{
    return strncmp(path, ALERTS_PATH, strlen(ALERTS_PATH)) == 0;
}

void api_alert_ack(struct api *a, struct http_request *r)
{
    int64_t id = ack_id(r->path + strlen(ALERTS_PATH));
    if (!id) {
        http_reply_error(r, 404, "not_found", "no such endpoint: %s (POST %s<id>/ack)", r->path,
                         ALERTS_PATH);
        return;
    }
    struct ack_req *q = calloc(1, sizeof *q);
    if (!q) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    q->a = a;
    q->id = id;
    api_actor_of(a, r, &q->who);
    buf_init(&q->text, 0);
    if (!(q->body = http_body_stream(r, &ack_ops, q)))
        ack_free(q);
}
