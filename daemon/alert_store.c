/* alert_store.c — see alert_store.h. */
#include "alert_store.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT,
    ST_MAX_ID,
    ST_FIRING,
    ST_IN,
    ST_GET,
    ST_PRUNE,
    ST_COUNT
};

#define COLUMNS                                                                                    \
    "id, rule, severity, program, unit, metric, labels, series, since, fired_at, resolved_at,"     \
    " value, reference, deviation, message, acked_at, acked_by, ack_note, escalated_at"

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT] = "INSERT OR REPLACE INTO alerts (" COLUMNS ")"
               " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_MAX_ID] = "SELECT ifnull(max(id), 0) FROM alerts",
    [ST_FIRING] = "SELECT " COLUMNS " FROM alerts WHERE resolved_at IS NULL",
    [ST_IN] = "SELECT " COLUMNS " FROM alerts"
              " WHERE fired_at <= ?1 AND (resolved_at IS NULL OR resolved_at >= ?2)"
              " AND (?3 IS NULL OR program = ?3) AND (fired_at < ?5 OR (fired_at = ?5 AND id < ?6))"
              " ORDER BY fired_at DESC, id DESC LIMIT ?4",
    [ST_GET] = "SELECT " COLUMNS " FROM alerts WHERE id = ?",
    [ST_PRUNE] = "DELETE FROM alerts WHERE rowid IN (SELECT rowid FROM alerts"
                 " WHERE resolved_at IS NOT NULL AND resolved_at < ? LIMIT ?)",
};

struct alert_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

int alert_store_open(struct alert_store **out, sqlite3 *db)
{
    struct alert_store *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->db = db;
    if (db_prepare_all(db, sql, s->st, ST_COUNT, "alerts") != 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void alert_store_close(struct alert_store *s)
{
    if (!s)
        return;
    db_finalize_all(s->st, ST_COUNT);
    free(s);
}

/* Steps a statement that returns no rows and resets it. */
static int run(struct alert_store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return 0;
    log_error("alerts: %s: %s", sql[which], sqlite3_errmsg(s->db));
    return -1;
}

int alert_store_begin(struct alert_store *s)
{
    return run(s, ST_BEGIN);
}

int alert_store_commit(struct alert_store *s)
{
    if (run(s, ST_COMMIT) == 0)
        return 0;
    if (!sqlite3_get_autocommit(s->db))
        run(s, ST_ROLLBACK);
    return -1;
}

void alert_store_rollback(struct alert_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        run(s, ST_ROLLBACK);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, bool has, double v)
{
    if (has)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

int alert_store_put(struct alert_store *s, const struct alert_record *a)
{
    sqlite3_stmt *st = s->st[ST_PUT];
    sqlite3_bind_int64(st, 1, a->id);
    bind_text(st, 2, a->rule);
    bind_text(st, 3, catalog_severity_name(a->severity));
    bind_text(st, 4, a->program);
    bind_text(st, 5, a->unit);
    bind_text(st, 6, a->metric);
    bind_text(st, 7, a->labels_json);
    bind_time(st, 8, a->series);
    sqlite3_bind_int64(st, 9, a->since);
    sqlite3_bind_int64(st, 10, a->fired_at);
    bind_time(st, 11, a->resolved_at);
    bind_real(st, 12, a->has_value, a->value);
    bind_real(st, 13, a->has_reference, a->reference);
    bind_real(st, 14, a->has_deviation, a->deviation);
    bind_text(st, 15, a->message ? a->message : "");
    bind_time(st, 16, a->acked_at);
    bind_text(st, 17, a->acked_by);
    bind_text(st, 18, a->ack_note);
    bind_time(st, 19, a->escalated_at);
    return run(s, ST_PUT);
}

int64_t alert_store_max_id(struct alert_store *s)
{
    sqlite3_stmt *st = s->st[ST_MAX_ID];
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return id;
}

/* Column i as a string the row points into (valid until the next step). */
static char *text(sqlite3_stmt *st, int i)
{
    return (char *)sqlite3_column_text(st, i);
}

static bool real(sqlite3_stmt *st, int i, double *out)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return false;
    *out = sqlite3_column_double(st, i);
    return true;
}

static enum rule_severity severity_of(const char *name)
{
    for (int i = SEVERITY_INFO; i <= SEVERITY_CRITICAL; i++)
        if (name && strcmp(name, catalog_severity_name(i)) == 0)
            return i;
    return SEVERITY_WARNING;
}

/* The current row as a record whose strings point into the row. */
static void row(sqlite3_stmt *st, struct alert_record *a)
{
    *a = (struct alert_record){
        .id = sqlite3_column_int64(st, 0),
        .rule = text(st, 1),
        .severity = severity_of(text(st, 2)),
        .program = text(st, 3),
        .unit = text(st, 4),
        .metric = text(st, 5),
        .labels_json = text(st, 6),
        .series = sqlite3_column_int64(st, 7),
        .since = sqlite3_column_int64(st, 8),
        .fired_at = sqlite3_column_int64(st, 9),
        .resolved_at = sqlite3_column_int64(st, 10),
        .message = text(st, 14),
        .acked_at = sqlite3_column_int64(st, 15),
        .acked_by = text(st, 16),
        .ack_note = text(st, 17),
        .escalated_at = sqlite3_column_int64(st, 18),
    };
    a->has_value = real(st, 11, &a->value);
    a->has_reference = real(st, 12, &a->reference);
    a->has_deviation = real(st, 13, &a->deviation);
}

static int each(struct alert_store *s, int which, alert_store_fn fn, void *ctx)
{
    sqlite3_stmt *st = s->st[which];
    struct alert_record a;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row(st, &a);
        fn(ctx, &a);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE)
        return 0;
    log_error("alerts: reading: %s", sqlite3_errmsg(s->db));
    return -1;
}

int alert_store_each_firing(struct alert_store *s, alert_store_fn fn, void *ctx)
{
    return each(s, ST_FIRING, fn, ctx);
}

int alert_store_each_in(struct alert_store *s, const struct alert_page *pg, alert_store_fn fn,
                        void *ctx)
{
    sqlite3_stmt *st = s->st[ST_IN];
    sqlite3_bind_int64(st, 1, pg->to);
    sqlite3_bind_int64(st, 2, pg->from);
    bind_text(st, 3, pg->program);
    sqlite3_bind_int(st, 4, pg->limit);
    sqlite3_bind_int64(st, 5, pg->before_fired);
    sqlite3_bind_int64(st, 6, pg->before_id);
    return each(s, ST_IN, fn, ctx);
}

struct got {
    struct alert_record *out;
    int found;
};

static void copy_row(void *ctx, const struct alert_record *a)
{
    struct got *g = ctx;
    g->found = alert_record_copy(g->out, a) == 0 ? 1 : -1;
}

int alert_store_get(struct alert_store *s, int64_t id, struct alert_record *out)
{
    struct got g = {out, 0};
    sqlite3_bind_int64(s->st[ST_GET], 1, id);
    if (each(s, ST_GET, copy_row, &g) != 0) {
        if (g.found > 0)
            alert_record_free(out);
        return -1;
    }
    return g.found;
}

int alert_store_prune(struct alert_store *s, int64_t before, int max_rows)
{
    sqlite3_stmt *st = s->st[ST_PRUNE];
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, max_rows);
    if (run(s, ST_PRUNE) != 0)
        return -1;
    return sqlite3_changes(s->db);
}
