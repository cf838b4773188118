/* api_alerts.c — GET /api/v1/alerts and POST /api/v1/alerts/<id>/ack
 * (CONTRACT §2, §6): firing alerts from the engine's memory, a period's
 * alerts from the database, acknowledgement with an optional note. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alert_engine.h"
#include "api.h"
#include "audit.h"
#include "util.h"
#include "wire.h"

#define JSON         "application/json"
#define ALERTS_PATH  "/api/v1/alerts/"
#define ACK_BODY_MAX 4096
#define NOTE_MAX     1000 /* bytes */
#define ALERTS_LIMIT 10000

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

void api_alerts_array(struct api *a, struct buf *b, int64_t from, int64_t to)
{
    struct listing l = {b, 0};
    buf_puts(b, "[");
    if (a->alerts)
        alert_engine_each_in(a->alerts, from, to, NULL, ALERTS_LIMIT, list_one, &l);
    buf_puts(b, "]");
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
    if (a->alerts && !all)
        alert_engine_each_firing(a->alerts, program, list_one, &l);
    else if (a->alerts &&
             alert_engine_each_in(a->alerts, from, to, program, ALERTS_LIMIT, list_one, &l) != 0) {
        buf_free(&b);
        http_reply_error(r, 503, "unavailable", "the alerts could not be read; retry");
        return;
    }
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
