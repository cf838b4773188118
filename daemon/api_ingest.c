/* api_ingest.c — CONTRACT §1.1, data entered by people:
 *   POST /api/v1/ingest/<program>/<unit>/<metric>   one payload of §1
 *   POST /api/v1/import.csv                          export.csv's format
 *
 * Both hand every sample to ingest_submit, so validation, reject counting
 * and the store path (and the observers of committed samples) are MQTT's.
 * Both read their body as a stream (http_body_stream): an ingest payload is
 * kept up to 64 KiB; an import is parsed as it arrives and stored in bounded
 * steps, with the socket paused while a step waits, so that a 256 MiB import
 * is never in memory and the loop keeps serving MQTT and the websockets. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "csv.h"
#include "log.h"
#include "parse.h"
#include "util.h"

#define JSON              "application/json"
#define INGEST_PATH       "/api/v1/ingest/"
#define IMPORT_PATH       "/api/v1/import.csv"
#define IMPORT_HEADER     "ts,program,unit,metric,labels,value"
#define IMPORT_FIELDS     CSV_FIELDS
#define IMPORT_STEP_ROWS  4096            /* rows parsed before the socket pauses */
#define IMPORT_STEP_BYTES (1024 * 1024)   /* ... or bytes of them (rows may be 16 KiB) */
#define IMPORT_BUDGET_NS  (10 * 1000000u) /* storing, per loop turn */
#define IMPORT_LISTED     100             /* rejections listed in the answer */
#define IMPORT_SOURCE_MAX 200             /* "import.csv line L: p/u/m" */

bool api_streams_body(void *ctx, const struct http_request *r)
{
    return strcmp(r->path, IMPORT_PATH) == 0 ||
           strncmp(r->path, INGEST_PATH, strlen(INGEST_PATH)) == 0 || api_alert_ack_path(r->path) ||
           api_evaluations_streams_body(r);
}

/* ---- POST /api/v1/ingest/<program>/<unit>/<metric> ---- */

struct post_ingest {
    struct api *a;
    struct http_body *body;
    const char *path; /* into path_buf: <program>/<unit>/<metric> */
    char path_buf[512];
    struct buf payload;
    size_t n_rejected;
    struct buf rejected; /* ,{"index":I,"reason":"…"} */
    bool whole;          /* the message or its single sample was rejected */
    enum parse_reason whole_reason;
    char whole_detail[160];
    struct api_actor who; /* CONTRACT §8: scope and the audit event */
};

static void post_ingest_free(struct post_ingest *p)
{
    buf_free(&p->payload);
    buf_free(&p->rejected);
    free(p);
}

static void ingest_rejected(void *ctx, enum parse_reason reason, int element, const char *detail)
{
    struct post_ingest *p = ctx;
    if (element < 0) {
        p->whole = true;
        p->whole_reason = reason;
        snprintf(p->whole_detail, sizeof p->whole_detail, "%s", detail);
        return;
    }
    buf_printf(&p->rejected, "%s{\"index\":%d,\"reason\":\"%s\"}", p->n_rejected++ ? "," : "",
               element, parse_reason_name(reason));
}

static struct ingest_entry post_ingest_entry(struct post_ingest *p)
{
    return (struct ingest_entry){.path = p->path,
                                 .payload = p->payload.data ? p->payload.data : "",
                                 .len = p->payload.len,
                                 .arrival_ms = util_now_ms(),
                                 .on_reject = ingest_rejected,
                                 .ctx = p};
}

/* Answers 400 too_large at once (counted as MQTT's would be): the rest of the
 * body is not worth reading. */
static void post_ingest_too_large(struct post_ingest *p)
{
    struct ingest_entry e = post_ingest_entry(p);
    ingest_reject(p->a->ingest, &e, PARSE_TOO_LARGE, "payload over 64 KiB");
    http_body_reply_error(p->body, 400, parse_reason_name(PARSE_TOO_LARGE),
                          "payloads are limited to %d bytes", PARSE_MAX_PAYLOAD);
    post_ingest_free(p);
}

static void post_ingest_data(void *ctx, const char *data, size_t len)
{
    struct post_ingest *p = ctx;
    if (p->payload.len + len > PARSE_MAX_PAYLOAD) {
        post_ingest_too_large(p);
        return;
    }
    buf_append(&p->payload, data, len);
}

static void post_ingest_end(void *ctx)
{
    struct post_ingest *p = ctx;
    struct ingest_entry e = post_ingest_entry(p);
    int stored = ingest_submit(p->a->ingest, &e);
    int rc = ingest_commit(p->a->ingest);
    if (p->whole) {
        http_body_reply_error(p->body, 400, parse_reason_name(p->whole_reason), "rejected: %s",
                              p->whole_detail);
    } else if (rc != 0 || buf_failed(&p->payload) || buf_failed(&p->rejected)) {
        http_body_reply_error(p->body, 503, "unavailable", "the database cannot be written");
    } else {
        struct buf b;
        buf_init(&b, 0);
        buf_printf(&b, "{\"stored\":%d,\"rejected\":[", stored);
        buf_append(&b, p->rejected.data ? p->rejected.data : "", p->rejected.len);
        buf_puts(&b, "]}\n");
        char detail[64];
        snprintf(detail, sizeof detail, "{\"stored\":%d,\"rejected\":%zu}", stored, p->n_rejected);
        api_audit(p->a, &p->who, "ingest", p->path, detail);
        http_body_reply(p->body, 200, JSON, &b);
    }
    post_ingest_free(p);
}

static void post_ingest_gone(void *ctx)
{
    struct post_ingest *p = ctx;
    http_body_reply(p->body, 0, NULL, NULL);
    post_ingest_free(p);
}

static const struct http_body_ops post_ingest_ops = {post_ingest_data, post_ingest_end,
                                                     post_ingest_gone};

void api_ingest(struct api *a, struct http_request *r)
{
    struct post_ingest *p = calloc(1, sizeof *p);
    if (!p) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    p->a = a;
    snprintf(p->path_buf, sizeof p->path_buf, "%s", r->path + strlen(INGEST_PATH));
    p->path = p->path_buf;
    api_actor_of(a, r, &p->who);
    char program[SLUG_MAX + 2];
    snprintf(program, sizeof program, "%.*s", (int)strcspn(p->path, "/"), p->path);
    if (!api_actor_may(&p->who, program)) {
        http_reply_error(r, 403, "forbidden_program", "%s may not enter data for program %s",
                         p->who.user, program);
        free(p);
        return;
    }
    buf_init(&p->payload, 0);
    buf_init(&p->rejected, 0);
    if (!(p->body = http_body_stream(r, &post_ingest_ops, p))) {
        post_ingest_free(p);
        return;
    }
    if (http_body_length(r) > PARSE_MAX_PAYLOAD)
        post_ingest_too_large(p);
}

/* ---- POST /api/v1/import.csv ---- */

/* A parsed row waiting in the step buffer, followed by path and payload. */
struct step_row {
    int64_t line;
    const char *detail; /* a static string, for a row refused before parsing */
    int reason;         /* -1: to be parsed; else refused with this reason */
    unsigned path_len, payload_len;
};

struct import {
    struct api *a;
    struct http_body *body;
    uv_idle_t idle; /* runs the step while the loop has nothing else to do */
    bool idle_active;
    struct csv csv;
    bool header_seen, ended, finished;
    struct buf step; /* struct step_row + bytes, ... */
    size_t step_rows, step_at;
    int64_t current_line;
    uint64_t stored, rejected_count;
    size_t listed;
    struct buf rejected;  /* ,{"line":L,"reason":"…"} */
    struct buf scratch;   /* payload being built */
    struct api_actor who; /* CONTRACT §8: scope and the audit event */
};

static void import_closed(uv_handle_t *h)
{
    struct import *imp = h->data;
    api_heavy_give(imp->a);
    csv_free(&imp->csv);
    buf_free(&imp->step);
    buf_free(&imp->rejected);
    buf_free(&imp->scratch);
    free(imp);
}

/* Ends the import: answers (or, client gone, just frees the handle) and
 * frees it once the idle handle is closed. */
static void import_finish(struct import *imp, int status, struct buf *answer)
{
    imp->finished = true;
    http_body_reply(imp->body, status, JSON, answer);
    uv_close((uv_handle_t *)&imp->idle, import_closed);
}

static void import_fail(struct import *imp, int status, const char *code, const char *message)
{
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"error\":");
    buf_json_str(&b, code);
    buf_puts(&b, ",\"message\":");
    buf_json_str(&b, message);
    buf_puts(&b, "}\n");
    import_finish(imp, status, &b);
}

static void import_rejected(void *ctx, enum parse_reason reason, int element, const char *detail)
{
    struct import *imp = ctx;
    imp->rejected_count++;
    if (imp->listed++ < IMPORT_LISTED)
        buf_printf(&imp->rejected, "%s{\"line\":%lld,\"reason\":\"%s\"}",
                   imp->listed > 1 ? "," : "", (long long)imp->current_line,
                   parse_reason_name(reason));
}

/* A row of a program the signed-in user may not enter (CONTRACT §8): not a
 * bad message, so not counted in /metrics' rejects. */
static void import_forbidden(struct import *imp, int64_t line)
{
    imp->rejected_count++;
    if (imp->listed++ < IMPORT_LISTED)
        buf_printf(&imp->rejected, "%s{\"line\":%lld,\"reason\":\"forbidden_program\"}",
                   imp->listed > 1 ? "," : "", (long long)line);
}

static bool import_may(const struct import *imp, const char *path)
{
    char program[SLUG_MAX + 2];
    snprintf(program, sizeof program, "%.*s", (int)strcspn(path, "/"), path);
    return api_actor_may(&imp->who, program);
}

/* ---- the rows, CSV -> step ---- */

static void step_add(struct import *imp, int64_t line, int reason, const char *detail,
                     const char *path, size_t path_len, const struct buf *payload)
{
    struct step_row h = {.line = line,
                         .detail = detail,
                         .reason = reason,
                         .path_len = (unsigned)path_len,
                         .payload_len = payload ? (unsigned)payload->len : 0};
    buf_append(&imp->step, &h, sizeof h);
    buf_append(&imp->step, path, path_len);
    if (payload)
        buf_append(&imp->step, payload->data, payload->len);
    imp->step_rows++;
}

/* A field as a JSON number when it is one, else as a JSON string, which
 * parse_message then rejects exactly as it would in a payload (bad_ts,
 * bad_value). Never spliced unchecked: a field cannot add keys. */
static void json_number_or_string(struct buf *b, const char *s, size_t len)
{
    if (parse_is_json_number(s, len))
        buf_append(b, s, len);
    else
        buf_json_bytes(b, s, len);
}

/* True if s is exactly one JSON value (so splicing it adds nothing else). */
static bool is_one_json_value(const char *s, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    json_decref(v);
    return v != NULL;
}

/* A data row -> <program>/<unit>/<metric> and {"ts":..,"value":..,"labels":..},
 * the payload an MQTT unit would send for it. */
static void import_row(struct import *imp)
{
    const struct csv *c = &imp->csv;
    size_t len[IMPORT_FIELDS];
    const char *f[IMPORT_FIELDS];
    if (c->n_fields != IMPORT_FIELDS || c->too_long || c->has_nul || c->unterminated) {
        const char *why = c->too_long  ? "row longer than 16 KiB"
                          : c->has_nul ? "NUL byte in row"
                          : c->unterminated
                              ? "a quoted field is not closed"
                              : "a row has 6 fields: ts,program,unit,metric,labels,value";
        step_add(imp, c->row_line, PARSE_BAD_ROW, why, "", 0, NULL);
        return;
    }
    for (int i = 0; i < IMPORT_FIELDS; i++)
        f[i] = csv_field(c, i, &len[i]);
    if (len[4] && !is_one_json_value(f[4], len[4])) {
        step_add(imp, c->row_line, PARSE_BAD_LABELS, "labels is not a JSON object", "", 0, NULL);
        return;
    }
    char path[3 * (SLUG_MAX + 1) + 8];
    int n = snprintf(path, sizeof path, "%.*s/%.*s/%.*s", (int)len[1], f[1], (int)len[2], f[2],
                     (int)len[3], f[3]);
    if (n < 0 || (size_t)n >= sizeof path) {
        step_add(imp, c->row_line, PARSE_BAD_TOPIC, "program, unit or metric is not a slug", "", 0,
                 NULL);
        return;
    }
    struct buf *b = &imp->scratch;
    buf_reset(b);
    buf_puts(b, "{\"ts\":");
    json_number_or_string(b, f[0], len[0]);
    buf_puts(b, ",\"value\":");
    json_number_or_string(b, f[5], len[5]);
    if (len[4]) {
        buf_puts(b, ",\"labels\":");
        buf_append(b, f[4], len[4]);
    }
    buf_puts(b, "}");
    step_add(imp, c->row_line, -1, NULL, path, (size_t)n, b);
}

static bool header_matches(const struct csv *c)
{
    static const char *const names[IMPORT_FIELDS] = {"ts",     "program", "unit",
                                                     "metric", "labels",  "value"};
    if (c->n_fields != IMPORT_FIELDS || c->too_long || c->unterminated)
        return false;
    for (int i = 0; i < IMPORT_FIELDS; i++) {
        size_t len;
        const char *f = csv_field(c, i, &len);
        if (i == 0 && len >= 3 && memcmp(f, "\xEF\xBB\xBF", 3) == 0) {
            f += 3; /* a spreadsheet's byte order mark */
            len -= 3;
        }
        if (len != strlen(names[i]) || memcmp(f, names[i], len) != 0)
            return false;
    }
    return true;
}

/* A complete record. Returns false once the import has answered. */
static bool import_record(struct import *imp)
{
    const struct csv *c = &imp->csv;
    size_t len0;
    if (c->n_fields == 1 && (csv_field(c, 0, &len0), len0 == 0) && !c->too_long)
        return true; /* a blank line */
    if (!imp->header_seen) {
        if (!header_matches(c)) {
            import_fail(imp, 400, "bad_header", "the first line must be " IMPORT_HEADER);
            return false;
        }
        imp->header_seen = true;
        return true;
    }
    import_row(imp);
    return true;
}

static void import_turn(uv_idle_t *h);

static void import_pause_for_step(struct import *imp)
{
    http_body_pause(imp->body);
    if (!imp->idle_active) {
        imp->idle_active = true;
        uv_idle_start(&imp->idle, import_turn);
    }
}

static void import_data(void *ctx, const char *data, size_t len)
{
    struct import *imp = ctx;
    for (size_t i = 0; i < len; i++) {
        if (csv_byte(&imp->csv, data[i]) && !import_record(imp))
            return; /* answered (bad header): nothing more is read */
    }
    if (imp->step_rows >= IMPORT_STEP_ROWS || imp->step.len >= IMPORT_STEP_BYTES)
        import_pause_for_step(imp);
}

/* ---- storing a step, in bounded turns ---- */

/* Stores rows of the step for up to IMPORT_BUDGET_NS, then commits. Returns
 * 0, or -1 if the commit failed. */
static int import_store_some(struct import *imp)
{
    uint64_t start = util_mono_ns();
    int64_t now = util_now_ms();
    uint64_t appended = 0;
    char source[IMPORT_SOURCE_MAX];
    while (imp->step_at < imp->step.len) {
        struct step_row h;
        memcpy(&h, imp->step.data + imp->step_at, sizeof h);
        const char *path = imp->step.data + imp->step_at + sizeof h;
        char path_z[3 * (SLUG_MAX + 1) + 8];
        memcpy(path_z, path, h.path_len);
        path_z[h.path_len] = '\0';
        snprintf(source, sizeof source, "import.csv line %lld: %.160s", (long long)h.line, path_z);
        struct ingest_entry e = {.path = path_z,
                                 .payload = path + h.path_len,
                                 .len = h.payload_len,
                                 .arrival_ms = now,
                                 .source = source,
                                 .on_reject = import_rejected,
                                 .ctx = imp};
        imp->current_line = h.line;
        if (h.reason >= 0)
            ingest_reject(imp->a->ingest, &e, (enum parse_reason)h.reason, h.detail);
        else if (!import_may(imp, path_z))
            import_forbidden(imp, h.line);
        else
            appended += (uint64_t)ingest_submit(imp->a->ingest, &e);
        imp->step_at += sizeof h + h.path_len + h.payload_len;
        if (util_mono_ns() - start >= IMPORT_BUDGET_NS)
            break;
    }
    if (ingest_commit(imp->a->ingest) != 0)
        return -1;
    imp->stored += appended;
    return 0;
}

static void import_answer(struct import *imp)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"stored\":%llu,\"rejected_count\":%llu,\"rejected\":[",
               (unsigned long long)imp->stored, (unsigned long long)imp->rejected_count);
    buf_append(&b, imp->rejected.data ? imp->rejected.data : "", imp->rejected.len);
    buf_puts(&b, "]}\n");
    log_info("import.csv: %llu rows stored, %llu rejected", (unsigned long long)imp->stored,
             (unsigned long long)imp->rejected_count);
    char detail[80];
    snprintf(detail, sizeof detail, "{\"stored\":%llu,\"rejected\":%llu}",
             (unsigned long long)imp->stored, (unsigned long long)imp->rejected_count);
    api_audit(imp->a, &imp->who, "import", NULL, detail);
    import_finish(imp, 200, &b);
}

static void import_turn(uv_idle_t *h)
{
    struct import *imp = h->data;
    if (import_store_some(imp) != 0) {
        char message[160];
        snprintf(message, sizeof message,
                 "the database cannot be written; %llu rows were stored before",
                 (unsigned long long)imp->stored);
        import_fail(imp, 503, "unavailable", message);
        return;
    }
    if (buf_failed(&imp->step) || buf_failed(&imp->rejected) || buf_failed(&imp->csv.row)) {
        import_fail(imp, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    if (imp->step_at < imp->step.len)
        return; /* more of this step on the next turn */
    buf_reset(&imp->step);
    imp->step_at = imp->step_rows = 0;
    if (imp->ended) {
        import_answer(imp);
        return;
    }
    uv_idle_stop(&imp->idle);
    imp->idle_active = false;
    http_body_resume(imp->body);
}

static void import_end(void *ctx)
{
    struct import *imp = ctx;
    struct csv *c = &imp->csv;
    imp->ended = true;
    if (csv_end(c) && !import_record(imp)) /* the last row had no line end */
        return;
    if (!imp->header_seen) {
        import_fail(imp, 400, "bad_header", "the first line must be " IMPORT_HEADER);
        return;
    }
    import_pause_for_step(imp); /* store the rest, then answer */
}

static void import_gone(void *ctx)
{
    struct import *imp = ctx;
    log_info("import.csv: client gone after %llu rows stored", (unsigned long long)imp->stored);
    import_finish(imp, 0, NULL);
}

static const struct http_body_ops import_ops = {import_data, import_end, import_gone};

void api_import(struct api *a, struct http_request *r)
{
    if (http_body_length(r) > a->cfg->import_max_bytes) {
        http_reply_error(r, 413, "body_too_large",
                         "imports are limited to %lld bytes ([http] import_max_bytes)",
                         (long long)a->cfg->import_max_bytes);
        return;
    }
    if (!api_heavy_take(a, r))
        return;
    struct import *imp = calloc(1, sizeof *imp);
    if (!imp) {
        api_heavy_give(a);
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    imp->a = a;
    api_actor_of(a, r, &imp->who);
    csv_init(&imp->csv);
    buf_init(&imp->step, 0);
    buf_init(&imp->rejected, 0);
    buf_init(&imp->scratch, 0);
    uv_idle_init(a->loop, &imp->idle);
    imp->idle.data = imp;
    if (!(imp->body = http_body_stream(r, &import_ops, imp))) {
        uv_close((uv_handle_t *)&imp->idle, import_closed);
        return;
    }
}
