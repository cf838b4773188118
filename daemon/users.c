/* users.c — see users.h. */
#include "users.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "util.h"

enum {
    ST_ANY,
    ST_GET,
    ST_ADD,
    ST_SET_HASH,
    ST_DEL,
    ST_EACH,
    ST_SESSION_NEW,
    ST_SESSION_FIND,
    ST_SESSION_TOUCH,
    ST_SESSION_END,
    ST_SESSION_PRUNE,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_ANY] = "SELECT EXISTS (SELECT 1 FROM users)",
    [ST_GET] = "SELECT name, role, programs, hash FROM users WHERE name = ?",
    [ST_ADD] = "INSERT INTO users (name, role, programs, hash, created) VALUES (?,?,?,?,?)",
    [ST_SET_HASH] = "UPDATE users SET hash = ? WHERE name = ?",
    [ST_DEL] = "DELETE FROM users WHERE name = ?",
    [ST_EACH] = "SELECT name, role, programs FROM users ORDER BY name",
    [ST_SESSION_NEW] = "INSERT INTO sessions (sid_hash, user, created, last_used) VALUES (?,?,?,?)",
    [ST_SESSION_FIND] = "SELECT s.id, s.last_used, u.name, u.role, u.programs FROM sessions s"
                        " JOIN users u ON u.name = s.user WHERE s.sid_hash = ?",
    [ST_SESSION_TOUCH] = "UPDATE sessions SET last_used = ? WHERE id = ?",
    [ST_SESSION_END] = "DELETE FROM sessions WHERE id = ?",
    [ST_SESSION_PRUNE] = "DELETE FROM sessions WHERE last_used < ?",
};

struct users {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

int users_open(struct users **out, sqlite3 *db)
{
    struct users *u = calloc(1, sizeof *u);
    if (!u)
        return -1;
    u->db = db;
    if (db_prepare_all(db, sql, u->st, ST_COUNT, "users") != 0) {
        free(u);
        return -1;
    }
    *out = u;
    return 0;
}

void users_close(struct users *u)
{
    if (!u)
        return;
    db_finalize_all(u->st, ST_COUNT);
    free(u);
}

/* Steps st once; SQLITE_ROW, SQLITE_DONE or an error (logged). The caller
 * resets. */
static int step(struct users *u, int which)
{
    int rc = sqlite3_step(u->st[which]);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT)
        log_error("users: %s: %s", sql[which], sqlite3_errmsg(u->db));
    return rc;
}

static void done(struct users *u, int which)
{
    sqlite3_reset(u->st[which]);
    sqlite3_clear_bindings(u->st[which]);
}

static void text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", v ? (const char *)v : "");
}

bool users_any(struct users *u)
{
    bool any = step(u, ST_ANY) == SQLITE_ROW && sqlite3_column_int(u->st[ST_ANY], 0);
    done(u, ST_ANY);
    return any;
}

int users_get(struct users *u, const char *name, struct user_rec *out)
{
    sqlite3_stmt *st = u->st[ST_GET];
    text(st, 1, name);
    int rc = step(u, ST_GET);
    if (rc == SQLITE_ROW) {
        copy_col(st, 0, out->name, sizeof out->name);
        copy_col(st, 1, out->role, sizeof out->role);
        copy_col(st, 2, out->programs, sizeof out->programs);
        copy_col(st, 3, out->hash, sizeof out->hash);
    }
    done(u, ST_GET);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int users_add(struct users *u, const char *name, const char *role, const char *programs,
              const char *hash)
{
    sqlite3_stmt *st = u->st[ST_ADD];
    text(st, 1, name);
    text(st, 2, role);
    text(st, 3, programs);
    text(st, 4, hash);
    sqlite3_bind_int64(st, 5, util_now_ms());
    int rc = step(u, ST_ADD);
    done(u, ST_ADD);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? USERS_EXISTS : -1;
}

int users_set_hash(struct users *u, const char *name, const char *hash)
{
    sqlite3_stmt *st = u->st[ST_SET_HASH];
    text(st, 1, hash);
    text(st, 2, name);
    int rc = step(u, ST_SET_HASH);
    done(u, ST_SET_HASH);
    return rc == SQLITE_DONE ? sqlite3_changes(u->db) > 0 : -1;
}

int users_del(struct users *u, const char *name)
{
    text(u->st[ST_DEL], 1, name);
    int rc = step(u, ST_DEL);
    done(u, ST_DEL);
    return rc == SQLITE_DONE ? sqlite3_changes(u->db) > 0 : -1;
}

int users_each(struct users *u, void (*fn)(void *ctx, const struct user_rec *r), void *ctx)
{
    sqlite3_stmt *st = u->st[ST_EACH];
    struct user_rec r;
    int rc;
    memset(r.hash, 0, sizeof r.hash);
    while ((rc = step(u, ST_EACH)) == SQLITE_ROW) {
        copy_col(st, 0, r.name, sizeof r.name);
        copy_col(st, 1, r.role, sizeof r.role);
        copy_col(st, 2, r.programs, sizeof r.programs);
        fn(ctx, &r);
    }
    done(u, ST_EACH);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- sessions ---- */

/* SHA-256 of the 32 bytes a cookie's 64 hex digits stand for; false when
 * the value is not exactly that. */
static bool sid_hash(const char *sid, unsigned char out[crypto_hash_sha256_BYTES])
{
    unsigned char raw[32];
    size_t n = 0;
    if (strlen(sid) != USERS_SID_HEX ||
        sodium_hex2bin(raw, sizeof raw, sid, USERS_SID_HEX, NULL, &n, NULL) != 0 || n != sizeof raw)
        return false;
    crypto_hash_sha256(out, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    return true;
}

int users_session_new(struct users *u, const char *name, int64_t now_ms,
                      char sid[USERS_SID_HEX + 1])
{
    unsigned char raw[32], h[crypto_hash_sha256_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(sid, USERS_SID_HEX + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    sid_hash(sid, h);
    sqlite3_stmt *st = u->st[ST_SESSION_NEW];
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    text(st, 2, name);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, now_ms);
    int rc = step(u, ST_SESSION_NEW);
    done(u, ST_SESSION_NEW);
    return rc == SQLITE_DONE ? 0 : -1;
}

int users_session_end(struct users *u, int64_t session_id)
{
    sqlite3_bind_int64(u->st[ST_SESSION_END], 1, session_id);
    int rc = step(u, ST_SESSION_END);
    done(u, ST_SESSION_END);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* How stale a session's last use may be written: a request writes the row
 * at most this often, so a screen's polling is not a write per request. */
static int64_t touch_ms(int64_t idle_ms)
{
    int64_t t = idle_ms / 20;
    return t > 60000 ? 60000 : t;
}

int users_session_find(struct users *u, const char *sid, int64_t now_ms, int64_t idle_ms,
                       struct user_rec *out, int64_t *session_id)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    if (!sid_hash(sid, h))
        return 0;
    sqlite3_stmt *st = u->st[ST_SESSION_FIND];
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    int rc = step(u, ST_SESSION_FIND);
    int64_t last = 0;
    if (rc == SQLITE_ROW) {
        *session_id = sqlite3_column_int64(st, 0);
        last = sqlite3_column_int64(st, 1);
        copy_col(st, 2, out->name, sizeof out->name);
        copy_col(st, 3, out->role, sizeof out->role);
        copy_col(st, 4, out->programs, sizeof out->programs);
        out->hash[0] = '\0';
    }
    done(u, ST_SESSION_FIND);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -1;
    if (now_ms - last > idle_ms) {
        users_session_end(u, *session_id);
        return 0;
    }
    if (now_ms - last >= touch_ms(idle_ms)) {
        sqlite3_stmt *t = u->st[ST_SESSION_TOUCH];
        sqlite3_bind_int64(t, 1, now_ms);
        sqlite3_bind_int64(t, 2, *session_id);
        step(u, ST_SESSION_TOUCH); /* a failed touch only shortens the session */
        done(u, ST_SESSION_TOUCH);
    }
    return 1;
}

int users_session_prune(struct users *u, int64_t now_ms, int64_t idle_ms)
{
    sqlite3_bind_int64(u->st[ST_SESSION_PRUNE], 1, now_ms - idle_ms);
    int rc = step(u, ST_SESSION_PRUNE);
    done(u, ST_SESSION_PRUNE);
    return rc == SQLITE_DONE ? sqlite3_changes(u->db) : -1;
}

/* ---- pure checks ---- */

bool users_role_valid(const char *role)
{
    return strcmp(role, "viewer") == 0 || strcmp(role, "operator") == 0 ||
           strcmp(role, "admin") == 0;
}

/* Calls fn for each element of csv; stops (returning false) where it does. */
static bool each_program(const char *csv, bool (*fn)(void *ctx, const char *p, size_t n), void *ctx)
{
    for (const char *p = csv; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!fn(ctx, p, n))
            return false;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return fn(ctx, p, 0); /* a trailing comma: an empty element */
    }
    return true;
}

struct programs_check {
    const char *csv;
    int count;
};

static bool program_ok(void *ctx, const char *p, size_t n)
{
    struct programs_check *c = ctx;
    if (!util_is_slug(p, n) || ++c->count > 1000)
        return false;
    /* No duplicate: an earlier element equal to this one. */
    for (const char *q = c->csv; q < p;) {
        const char *comma = strchr(q, ',');
        if ((size_t)(comma - q) == n && memcmp(q, p, n) == 0)
            return false;
        q = comma + 1;
    }
    return true;
}

bool users_programs_valid(const char *csv)
{
    struct programs_check c = {csv, 0};
    return strlen(csv) <= USERS_PROGRAMS_MAX && each_program(csv, program_ok, &c);
}

struct programs_find {
    const char *want;
    bool found;
};

static bool program_is(void *ctx, const char *p, size_t n)
{
    struct programs_find *f = ctx;
    if (strlen(f->want) == n && memcmp(f->want, p, n) == 0)
        f->found = true;
    return !f->found;
}

bool users_programs_allow(const char *csv, const char *program)
{
    struct programs_find f = {program, false};
    if (!csv || !*csv)
        return true;
    each_program(csv, program_is, &f);
    return f.found;
}

bool users_password_ok(const char *pw, size_t len)
{
    size_t chars = 0;
    if (len > USERS_PASSWORD_MAX || memchr(pw, '\0', len))
        return false;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)pw[i] & 0xC0) != 0x80; /* count lead bytes */
    return chars >= USERS_PASSWORD_MIN;
}

/* ---- hashing ---- */

int users_hash(const char *pw, size_t len, char out[USERS_HASH_MAX])
{
    return crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
               ? 0
               : -1;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[USERS_HASH_MAX];

static void make_dummy(void)
{
    unsigned char raw[16];
    char pw[33];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
    if (users_hash(pw, strlen(pw), dummy_hash) != 0)
        dummy_hash[0] = '\0';
}

bool users_verify(const char *hash, const char *pw, size_t len)
{
    bool real = hash && *hash;
    if (!real) {
        pthread_once(&dummy_once, make_dummy);
        hash = dummy_hash;
    }
    bool ok = crypto_pwhash_str_verify(hash, pw, len) == 0;
    return real && ok;
}
