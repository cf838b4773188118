/* audit.c — see audit.h. */
#include "audit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static const char *const actions[] = {"login",    "login_failed", "logout",     "ack",
                                      "ingest",   "import",       "reload",     "evaluation",
                                      "user_add", "user_del",     "user_passwd"};

bool audit_action_known(const char *action)
{
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i], action) == 0)
            return true;
    return false;
}

/* ---- the canonical form (pure) ---- */

void audit_json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(b, "\"", 1);
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c != '\0' && c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(b, run, (size_t)(s - run));
        if (c == '\0')
            break;
        /* JSON.stringify's escapes: the short ones where JSON has them. */
        const char *short_esc = c == '"'    ? "\\\""
                                : c == '\\' ? "\\\\"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                            : NULL;
        if (short_esc) {
            buf_puts(b, short_esc);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, esc, sizeof esc);
        }
        run = s + 1;
    }
    buf_append(b, "\"", 1);
}

static void str_or_null(struct buf *b, const char *s)
{
    if (s)
        audit_json_str(b, s);
    else
        buf_puts(b, "null");
}

void audit_event_json(struct buf *b, const struct audit_event *e)
{
    buf_printf(b, "{\"id\":%lld,\"ts\":%lld,\"user\":", (long long)e->id, (long long)e->ts);
    str_or_null(b, e->user);
    buf_puts(b, ",\"role\":");
    str_or_null(b, e->role);
    buf_puts(b, ",\"action\":");
    audit_json_str(b, e->action);
    buf_puts(b, ",\"target\":");
    str_or_null(b, e->target);
    buf_puts(b, ",\"detail\":");
    buf_puts(b, e->detail ? e->detail : "null");
    buf_puts(b, ",\"ip\":");
    str_or_null(b, e->ip);
    buf_puts(b, "}");
}

void audit_chain_hash(const char *prev_hex, const char *json, size_t len,
                      char out[AUDIT_HASH_HEX + 1])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)prev_hex, AUDIT_HASH_HEX);
    crypto_hash_sha256_update(&st, (const unsigned char *)json, len);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, AUDIT_HASH_HEX + 1, h, sizeof h);
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

void audit_clean_text(const char *s, size_t len, char *out, size_t cap)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = p[i] ? utf8_len(p + i, len - i) : 0;
        const char *piece = n ? s + i : fffd;
        size_t plen = n ? n : 3;
        if (o + plen + 1 > cap)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        i += n ? n : 1;
    }
    if (cap)
        out[o] = '\0';
}

/* ---- the table ---- */

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("audit: %s: %s", sql, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

struct audit_writer {
    sqlite3 *db;
    sqlite3_stmt *head, *insert;
};

int audit_writer_open(struct audit_writer **out, sqlite3 *db)
{
    /* The previous event's hash: the newest row's, else the anchor's, else
     * none; and one past the largest id ever given. */
    static const char head_sql[] =
        "SELECT (SELECT hash FROM audit ORDER BY id DESC LIMIT 1),"
        " (SELECT hash FROM audit_anchor),"
        " max(ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0),"
        "     ifnull((SELECT id FROM audit_anchor), 0)) + 1";
    static const char insert_sql[] =
        "INSERT INTO audit (id, ts, user, role, action, target, detail, ip,"
        " hash) VALUES (?,?,?,?,?,?,?,?,?)";
    struct audit_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->db = db;
    if (sqlite3_prepare_v3(db, head_sql, -1, SQLITE_PREPARE_PERSISTENT, &w->head, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &w->insert, NULL) !=
            SQLITE_OK) {
        log_error("audit: %s", sqlite3_errmsg(db));
        audit_writer_close(w);
        return -1;
    }
    *out = w;
    return 0;
}

void audit_writer_close(struct audit_writer *w)
{
    if (!w)
        return;
    sqlite3_finalize(w->head);
    sqlite3_finalize(w->insert);
    free(w);
}

/* The previous event's hash (64 zeros for the first) and the next id. */
static int chain_head(struct audit_writer *w, int64_t *next_id, char prev[AUDIT_HASH_HEX + 1])
{
    sqlite3_stmt *st = w->head;
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 0);
        if (!h)
            h = sqlite3_column_text(st, 1);
        snprintf(prev, AUDIT_HASH_HEX + 1, "%s",
                 h ? (const char *)h
                   : "0000000000000000000000000000000000000000000000000000000000000000");
        *next_id = sqlite3_column_int64(st, 2);
        rc = 0;
    }
    if (rc)
        log_error("audit: reading the chain's head: %s", sqlite3_errmsg(w->db));
    sqlite3_reset(st);
    return rc;
}

static int insert(struct audit_writer *w, const struct audit_event *e, const char *hash)
{
    sqlite3_stmt *st = w->insert;
    sqlite3_bind_int64(st, 1, e->id);
    sqlite3_bind_int64(st, 2, e->ts);
    bind_opt(st, 3, e->user);
    bind_opt(st, 4, e->role);
    bind_opt(st, 5, e->action);
    bind_opt(st, 6, e->target);
    bind_opt(st, 7, e->detail);
    bind_opt(st, 8, e->ip);
    bind_opt(st, 9, hash);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc)
        log_error("audit: writing an event: %s", sqlite3_errmsg(w->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int64_t audit_writer_append(struct audit_writer *w, const struct audit_event *in)
{
    sqlite3 *db = w->db;
    /* Our own write transaction when none is open: another process (the
     * command line) must not append between reading the head and writing. */
    bool own = sqlite3_get_autocommit(db);
    if (own && exec(db, "BEGIN IMMEDIATE") != 0)
        return -1;
    struct audit_event e = *in;
    char prev[AUDIT_HASH_HEX + 1], hash[AUDIT_HASH_HEX + 1];
    struct buf json;
    buf_init(&json, 0);
    int rc = chain_head(w, &e.id, prev);
    if (rc == 0) {
        e.ts = util_now_ms();
        audit_event_json(&json, &e);
        rc = buf_failed(&json) ? -1 : 0;
    }
    if (rc == 0) {
        audit_chain_hash(prev, json.data, json.len, hash);
        rc = insert(w, &e, hash);
    }
    buf_free(&json);
    if (own && (rc != 0 || exec(db, "COMMIT") != 0)) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return rc == 0 ? e.id : -1;
}

int64_t audit_append(sqlite3 *db, const struct audit_event *e)
{
    struct audit_writer *w;
    if (audit_writer_open(&w, db) != 0)
        return -1;
    int64_t id = audit_writer_append(w, e);
    audit_writer_close(w);
    return id;
}

#define ROW_COLUMNS "id, ts, user, role, action, target, detail, ip, hash"

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void row_event(sqlite3_stmt *st, struct audit_event *e)
{
    e->id = sqlite3_column_int64(st, 0);
    e->ts = sqlite3_column_int64(st, 1);
    e->user = col(st, 2);
    e->role = col(st, 3);
    e->action = col(st, 4);
    e->target = col(st, 5);
    e->detail = col(st, 6);
    e->ip = col(st, 7);
    if (!e->action)
        e->action = "";
}

int audit_list(sqlite3 *db, const struct audit_filter *f, struct buf *out)
{
    static const char sql[] = "SELECT " ROW_COLUMNS " FROM audit"
                              " WHERE ts >= ?1 AND ts <= ?2 AND (?3 IS NULL OR user = ?3)"
                              " AND (?4 IS NULL OR action = ?4) ORDER BY id DESC LIMIT ?5";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, f->from);
    sqlite3_bind_int64(st, 2, f->to);
    bind_opt(st, 3, f->user);
    bind_opt(st, 4, f->action);
    sqlite3_bind_int(st, 5, f->limit);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_event e;
        row_event(st, &e);
        buf_puts(out, n++ ? ",\n" : "\n");
        audit_event_json(out, &e);
        out->len--; /* reopen the object for its hash */
        buf_puts(out, ",\"hash\":");
        audit_json_str(out, col(st, 8) ? col(st, 8) : "");
        buf_puts(out, "}");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}

/* The anchor's id and hash, else 0 and 64 zeros. */
static int anchor(sqlite3 *db, int64_t *id, char hash[AUDIT_HASH_HEX + 1])
{
    sqlite3_stmt *st;
    *id = 0;
    memset(hash, '0', AUDIT_HASH_HEX);
    hash[AUDIT_HASH_HEX] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT id, hash FROM audit_anchor", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && col(st, 1)) {
        *id = sqlite3_column_int64(st, 0);
        snprintf(hash, AUDIT_HASH_HEX + 1, "%s", col(st, 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int audit_verify(sqlite3 *db, int64_t *events, int64_t *first_bad)
{
    char prev[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
    int64_t prev_id;
    sqlite3_stmt *st;
    *events = 0;
    *first_bad = 0;
    if (anchor(db, &prev_id, prev) != 0 ||
        sqlite3_prepare_v2(db, "SELECT " ROW_COLUMNS " FROM audit ORDER BY id", -1, &st, NULL) !=
            SQLITE_OK)
        return -1;
    struct buf json;
    buf_init(&json, 0);
    int rc, result = 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_event e;
        row_event(st, &e);
        const char *have = col(st, 8);
        buf_reset(&json);
        audit_event_json(&json, &e);
        audit_chain_hash(prev, json.data ? json.data : "", json.len, want);
        if (e.id != prev_id + 1 || !have || strcmp(have, want) != 0 || buf_failed(&json)) {
            *first_bad = e.id;
            result = 0;
            break;
        }
        memcpy(prev, have, sizeof prev);
        prev_id = e.id;
        (*events)++;
    }
    buf_free(&json);
    sqlite3_finalize(st);
    return result == 0 ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int audit_prune(sqlite3 *db, int days, int64_t now_ms)
{
    int64_t before = now_ms - (int64_t)days * 86400000LL;
    bool own = sqlite3_get_autocommit(db);
    if (own && exec(db, "BEGIN IMMEDIATE") != 0)
        return -1;
    sqlite3_stmt *st = NULL, *del = NULL;
    int n = -1;
    /* The newest event to go becomes the anchor, then it and all older go. */
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO audit_anchor (one, id, hash)"
                           " SELECT 1, id, hash FROM audit WHERE ts < ?1 ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "DELETE FROM audit WHERE id <= ifnull((SELECT id FROM audit_anchor), 0)",
                           -1, &del, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, before);
        if (sqlite3_step(st) == SQLITE_DONE && sqlite3_step(del) == SQLITE_DONE)
            n = sqlite3_changes(db);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(del);
    if (own && (n < 0 || exec(db, "COMMIT") != 0)) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return n;
}
