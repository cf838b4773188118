/* api_users.c — CONTRACT §8 over HTTP: accounts (/api/v1/users), sign-in
 * (/login, /logout, /me), the audit log (/audit, /audit/verify), and what
 * other handlers ask of it: who acts (api_actor_of), program scope
 * (api_actor_may) and audit events (api_audit).
 *
 * Loop thread. Owns the accounts' statements (users.h, on the store's
 * connection), the counts of failed sign-ins per name (a table of
 * [http] login_track entries), and the queue of password hashing jobs:
 * at most [http] login_workers run at once in the hasher's low-priority
 * child processes (hasher.h: not threads of pantaud, whose hashing slowed
 * the loop), at most [http] login_queue wait, past which a sign-in is
 * answered 503 busy at once; a sign-in whose hashing child died is
 * answered 503 busy too. The audit listing and its verification read on
 * the query pool's connections. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "catalog.h"
#include "hasher.h"
#include "kpi_engine.h"
#include "log.h"
#include "loopwatch.h"
#include "query_pool.h"
#include "users.h"
#include "util.h"

#define JSON            "application/json"
#define LOGIN_PATH      "/api/v1/login"
#define USERS_PATH      "/api/v1/users"
#define USERS_PREFIX    "/api/v1/users/"
#define PASSWORD_SUFFIX "/password" /* POST /api/v1/users/<name>/password */
/* A body holds a name, a password and a program list, each bounded
 * (users.h); twice their sum leaves room for JSON's escapes. */
#define BODY_MAX       (2 * (USERS_NAME_MAX + USERS_PASSWORD_MAX + USERS_PROGRAMS_MAX) + 256)
#define LOCK_FAILURES  5       /* CONTRACT §8 */
#define LOCK_WINDOW_MS 300000  /* 5 failures within 5 minutes ... */
#define LOCK_MS        300000  /* ... lock the name for 5 minutes */
#define PRUNE_EVERY_MS 3600000 /* idle sessions and old audit events */

/* Whether the session cookie gets Secure: [http] secure_cookies (on by
 * default behind a configured proxy). r NULL: the client has gone. */
static bool cookie_secure(const struct http_request *r)
{
    return r && http_secure_cookies(r);
}

/* The client's address: the TCP peer, or behind a trusted [http] proxy the
 * address the proxy names (http.h's client_ip). */
static void client_addr(struct http_request *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s", r->client_ip);
}

struct login_fail {
    char name[USERS_NAME_MAX + 1]; /* "" = free */
    int64_t at[LOCK_FAILURES];     /* the last failures, a ring */
    int n;
    int64_t locked_until, last;
};

struct hash_job {
    struct hasher_job hj; /* first: a hasher_job * is a hash_job * */
    struct people *p;
    struct hash_job *next;
    void (*done)(struct hash_job *j); /* loop thread */
};

struct people {
    struct api *api;
    struct users *users;
    sqlite3 *db;
    struct audit_writer *audit; /* on db */
    struct login_fail *fails;
    int n_fails;
    int running, waiting;
    struct hash_job *head, *tail;
    struct hasher *hasher;
    int64_t pruned_at;
};

/* ---- hashing off the loop ---- */

static void job_start(struct people *p, struct hash_job *j);

static void job_done(struct hasher_job *hj)
{
    struct hash_job *j = (struct hash_job *)hj;
    struct people *p = j->p;
    p->running--;
    if (p->head && p->running < p->api->cfg->login_workers) {
        struct hash_job *next = p->head;
        if (!(p->head = next->next))
            p->tail = NULL;
        p->waiting--;
        job_start(p, next);
    }
    j->done(j); /* also when cancelled at stop or failed: done still frees */
}

static void job_start(struct people *p, struct hash_job *j)
{
    j->hj.done = job_done;
    p->running++;
    hasher_submit(p->hasher, &j->hj);
}

/* Runs j now or when a worker frees; false (nothing queued) when the queue
 * is full. */
static bool job_submit(struct people *p, struct hash_job *j)
{
    const struct cfg *c = p->api->cfg;
    j->p = p;
    j->next = NULL;
    if (p->running < c->login_workers) {
        job_start(p, j);
        return true;
    }
    if (p->waiting >= c->login_queue)
        return false;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->waiting++;
    return true;
}

/* ---- set-up ---- */

static void prune(struct people *p)
{
    int64_t now = util_now_ms();
    if (!p->users)
        return;
    if (p->pruned_at && now - p->pruned_at < PRUNE_EVERY_MS)
        return;
    p->pruned_at = now;
    users_session_prune(p->users, now, (int64_t)p->api->cfg->session_idle_s * 1000);
    int n = audit_prune(p->db, p->api->cfg->audit_retention_days, now);
    if (n > 0)
        log_info("audit: %d event(s) older than %d days pruned", n,
                 p->api->cfg->audit_retention_days);
}

int api_people_open(struct people **out, struct api *a, sqlite3 *db)
{
    if (sodium_init() < 0) {
        log_error("people: libsodium cannot start");
        return -1;
    }
    struct people *p = calloc(1, sizeof *p);
    if (!p || !(p->fails = calloc((size_t)a->cfg->login_track, sizeof *p->fails))) {
        free(p);
        return -1;
    }
    p->api = a;
    p->db = db;
    p->n_fails = a->cfg->login_track;
    if (users_open(&p->users, db) != 0 || audit_writer_open(&p->audit, db) != 0 ||
        hasher_start(&p->hasher, a->loop, a->cfg->login_workers) != 0) {
        users_close(p->users);
        audit_writer_close(p->audit);
        free(p->fails);
        free(p);
        return -1;
    }
    prune(p);
    *out = p;
    return 0;
}

void api_people_stop(struct people *p)
{
    if (!p)
        return;
    users_close(p->users); /* before the store closes its connection */
    p->users = NULL;
    audit_writer_close(p->audit);
    p->audit = NULL;
    p->db = NULL;
    /* The jobs still queued or done are answered now, as jobs that finish
     * while pantaud stops always were: with no accounts, "stopping". */
    hasher_stop(p->hasher);
}

void api_people_free(struct people *p)
{
    if (!p)
        return;
    users_close(p->users);
    audit_writer_close(p->audit);
    hasher_free(p->hasher);
    free(p->fails);
    free(p);
}

/* ---- who acts ---- */

static enum http_role role_of(const char *name)
{
    return strcmp(name, "admin") == 0      ? ROLE_ADMIN
           : strcmp(name, "operator") == 0 ? ROLE_OPERATOR
           : strcmp(name, "viewer") == 0   ? ROLE_VIEWER
                                           : ROLE_NONE;
}

enum http_role api_session_lookup(void *ctx, const char *sid, struct http_request *r)
{
    struct people *p = ctx;
    struct user_rec u;
    int64_t id;
    if (!p->users || users_session_find(p->users, sid, util_now_ms(),
                                        (int64_t)p->api->cfg->session_idle_s * 1000, &u, &id) != 1)
        return ROLE_NONE;
    snprintf(r->user, sizeof r->user, "%s", u.name);
    r->session = id;
    return role_of(u.role);
}

bool api_accounts_exist(void *ctx)
{
    struct people *p = ctx;
    return p->users && users_any(p->users);
}

void api_actor_of(struct api *a, struct http_request *r, struct api_actor *who)
{
    memset(who, 0, sizeof *who);
    snprintf(who->role, sizeof who->role, "%s", http_role_name(r->role));
    client_addr(r, who->ip, sizeof who->ip);
    if (!r->user[0] || !a->people || !a->people->users)
        return;
    struct user_rec u;
    if (users_get(a->people->users, r->user, &u) == 1) {
        snprintf(who->user, sizeof who->user, "%s", u.name);
        snprintf(who->programs, sizeof who->programs, "%s", u.programs);
    }
}

bool api_actor_may(const struct api_actor *who, const char *program)
{
    return !who->user[0] || users_programs_allow(who->programs, program);
}

const char *api_actor_name(const struct api_actor *who)
{
    return who->user[0] ? who->user : who->role;
}

void api_audit(struct api *a, const struct api_actor *who, const char *action, const char *target,
               const char *detail)
{
    if (!a->people || !a->people->audit)
        return;
    struct audit_event e = {
        .user = who && who->user[0] ? who->user : NULL,
        .role = who && who->role[0] && strcmp(who->role, "none") != 0 ? who->role : NULL,
        .action = action,
        .target = target,
        .detail = detail,
        .ip = who && who->ip[0] ? who->ip : NULL,
    };
    if (audit_writer_append(a->people->audit, &e) < 0)
        log_error("audit: the %s event could not be written", action);
    prune(a->people);
}

/* ---- USER objects ---- */

static void programs_json(struct buf *b, const char *programs)
{
    if (!programs || !*programs) {
        buf_puts(b, "null");
        return;
    }
    buf_puts(b, "[\"");
    for (const char *c = programs; *c; c++) /* slugs: nothing to escape */
        if (*c == ',')
            buf_puts(b, "\",\"");
        else
            buf_append(b, c, 1);
    buf_puts(b, "\"]");
}

static void user_json(struct buf *b, const char *name, const char *role, const char *programs)
{
    buf_puts(b, "{\"name\":");
    buf_json_str(b, name);
    buf_puts(b, ",\"role\":");
    buf_json_str(b, role);
    buf_puts(b, ",\"programs\":");
    programs_json(b, programs);
    buf_puts(b, "}");
}

static void reply_user(struct http_body *body, int status, const struct user_rec *u)
{
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"user\":");
    user_json(&b, u->name, u->role, u->programs);
    buf_puts(&b, "}\n");
    http_body_reply(body, status, JSON, &b);
}

/* ---- bodies ---- */

/* True when path is USERS_PREFIX "<slug>" PASSWORD_SUFFIX; the slug into
 * name (USERS_NAME_MAX + 1 bytes) unless NULL. */
static bool passwd_target(const char *path, char *name)
{
    size_t np = strlen(USERS_PREFIX), ns = strlen(PASSWORD_SUFFIX), n = strlen(path);
    if (n <= np + ns || strncmp(path, USERS_PREFIX, np) != 0 ||
        strcmp(path + n - ns, PASSWORD_SUFFIX) != 0)
        return false;
    size_t len = n - np - ns;
    if (len > USERS_NAME_MAX || !util_is_slug(path + np, len))
        return false;
    if (name) {
        memcpy(name, path + np, len);
        name[len] = '\0';
    }
    return true;
}

bool api_people_streams_body(void *ctx, const struct http_request *r)
{
    return api_streams_body(ctx, r) || strcmp(r->path, LOGIN_PATH) == 0 ||
           strcmp(r->path, USERS_PATH) == 0 || passwd_target(r->path, NULL);
}

/* A JSON body read as a stream, then a job on a worker (hashing). */
struct body_req {
    struct hash_job job; /* first: a job is its request */
    struct api *a;
    struct http_body *body;
    struct buf text;
    bool too_large, gone, working;
    struct api_actor who;
    /* parsed */
    char name[AUDIT_TEXT_MAX + 1]; /* the name given (cleaned) */
    char role[16];
    char programs[USERS_PROGRAMS_MAX + 1];
    char *password;
    size_t password_len;
    /* the account and the worker's result */
    struct user_rec rec;
    bool known, ok;
};

static void body_free(struct body_req *q)
{
    if (q->password) {
        sodium_memzero(q->password, q->password_len);
        free(q->password);
    }
    sodium_memzero(q->rec.hash, sizeof q->rec.hash);
    sodium_memzero(q->job.hj.out, sizeof q->job.hj.out);
    buf_free(&q->text);
    free(q);
}

static void body_data(void *ctx, const char *p, size_t len)
{
    struct body_req *q = ctx;
    if (q->text.len + len > BODY_MAX)
        q->too_large = true;
    else
        buf_append(&q->text, p, len);
}

static void body_gone(void *ctx)
{
    struct body_req *q = ctx;
    if (q->working) {
        q->gone = true; /* the job's done frees it */
        return;
    }
    http_body_reply(q->body, 0, NULL, NULL);
    body_free(q);
}

/* The body as a JSON object; NULL after answering 400 or 413. */
static json_t *body_json(struct body_req *q)
{
    if (q->too_large) {
        http_body_reply_error(q->body, 413, "too_large", "the body is limited to %d bytes",
                              BODY_MAX);
        return NULL;
    }
    json_error_t err;
    json_t *doc = q->text.len ? json_loadb(q->text.data, q->text.len, 0, &err) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        http_body_reply_error(q->body, 400, "bad_json", "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* Copies a string member's bytes (which may hold NULs) into a new
 * allocation for the password; false if missing or not a string. */
static bool take_password(struct body_req *q, json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v))
        return false;
    q->password_len = json_string_length(v);
    if (!(q->password = malloc(q->password_len + 1)))
        return false;
    memcpy(q->password, json_string_value(v), q->password_len + 1);
    return true;
}

static struct body_req *body_start(struct api *a, struct http_request *r,
                                   const struct http_body_ops *ops)
{
    struct body_req *q = calloc(1, sizeof *q);
    if (!q) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return NULL;
    }
    q->a = a;
    buf_init(&q->text, 0);
    api_actor_of(a, r, &q->who);
    if (!(q->body = http_body_stream(r, ops, q))) {
        body_free(q);
        return NULL;
    }
    return q;
}

/* A route whose body becomes a body_req, when accounts are there. */
static void people_body(struct api *a, struct http_request *r, const struct http_body_ops *ops)
{
    if (!a->people) {
        http_reply_error(r, 503, "unavailable", "accounts are not available");
        return;
    }
    body_start(a, r, ops);
}

/* Queues q's hashing (op: a new hash of q->password; or q->password
 * against q->rec.hash when q->known, else against a dummy) in a hasher
 * child, done on the loop; when the queue is full, answers 503 busy with
 * `busy` and frees q. */
static void hash_submit(struct body_req *q, enum hasher_op op, void (*done)(struct hash_job *),
                        const char *busy)
{
    q->job.hj.op = op;
    q->job.hj.password = q->password;
    q->job.hj.password_len = q->password_len;
    q->job.hj.hash = op == HASHER_VERIFY && q->known ? q->rec.hash : NULL;
    q->job.done = done;
    q->working = true;
    if (job_submit(q->a->people, &q->job))
        return;
    q->working = false;
    http_body_reply_error(q->body, 503, "busy", "%s", busy);
    body_free(q);
}

/* The hasher's answer: q->ok, and for a new hash q->rec.hash. */
static void hash_result(struct body_req *q)
{
    struct hasher_job *hj = &q->job.hj;
    q->ok = hj->result == HASHER_OK;
    if (q->ok && hj->op == HASHER_HASH)
        memcpy(q->rec.hash, hj->out, sizeof q->rec.hash);
}

/* ---- POST /api/v1/login ---- */

static struct login_fail *fail_slot(struct people *p, const char *name, bool make, int64_t now)
{
    struct login_fail *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < p->n_fails; i++) {
        struct login_fail *f = &p->fails[i];
        if (f->name[0] && strcmp(f->name, name) == 0)
            return f;
        bool stale = !f->name[0] || (now - f->last > LOCK_WINDOW_MS && now >= f->locked_until);
        if (stale && !free_slot)
            free_slot = f;
        if (!oldest || f->last < oldest->last)
            oldest = f;
    }
    if (!make)
        return NULL;
    struct login_fail *f = free_slot ? free_slot : oldest; /* full: forget the oldest */
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static bool locked(struct people *p, const char *name, int64_t now)
{
    struct login_fail *f = fail_slot(p, name, false, now);
    return f && now < f->locked_until;
}

static void count_failure(struct people *p, const char *name, int64_t now)
{
    struct login_fail *f = fail_slot(p, name, true, now);
    f->at[f->n++ % LOCK_FAILURES] = now;
    f->last = now;
    /* The 5th failure within the window locks the name. */
    if (f->n >= LOCK_FAILURES && now - f->at[f->n % LOCK_FAILURES] <= LOCK_WINDOW_MS) {
        f->locked_until = now + LOCK_MS;
        f->n = 0;
        log_warn("login: %s locked for %d minutes after %d failed sign-ins", name, LOCK_MS / 60000,
                 LOCK_FAILURES);
    }
}

/* BEGIN IMMEDIATE when no transaction is open: whether this call opened
 * one (and must end it with tx_end). */
static bool tx_begin(sqlite3 *db)
{
    return sqlite3_get_autocommit(db) &&
           sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
}

/* COMMIT, or ROLLBACK when !ok or the commit fails: whether it committed. */
static bool tx_end(sqlite3 *db, bool ok)
{
    if (ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return true;
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

static void login_ok(struct body_req *q)
{
    struct people *p = q->a->people;
    char sid[USERS_SID_HEX + 1], cookie[256];
    struct api_actor who = q->who;
    snprintf(who.user, sizeof who.user, "%s", q->rec.name);
    snprintf(who.role, sizeof who.role, "%s", q->rec.role);
    /* The session and its audit event in one transaction: one commit (one
     * WAL append) per sign-in on the loop, not two. */
    bool own = tx_begin(p->db);
    bool ok = users_session_new(p->users, q->rec.name, util_now_ms(), sid) == 0;
    if (ok)
        api_audit(q->a, &who, "login", q->rec.name, NULL);
    if (own)
        ok = tx_end(p->db, ok);
    if (!ok) {
        sodium_memzero(sid, sizeof sid);
        http_body_reply_error(q->body, 503, "unavailable", "the database cannot be written");
        return;
    }
    snprintf(cookie, sizeof cookie, "pantau_session=%s; HttpOnly; SameSite=Strict; Path=/%s", sid,
             cookie_secure(http_body_request(q->body)) ? "; Secure" : "");
    sodium_memzero(sid, sizeof sid);
    http_set_cookie(http_body_request(q->body), cookie);
    sodium_memzero(cookie, sizeof cookie);
    reply_user(q->body, 200, &q->rec);
}

static void login_finish(struct body_req *q);

/* A sign-in's answer on the loop (noted, so that a slow turn names it). */
static void login_done(struct hash_job *j)
{
    uint64_t t0 = util_mono_ns();
    login_finish((struct body_req *)j);
    loopwatch_note("sign-in", t0);
}

static void login_finish(struct body_req *q)
{
    q->working = false;
    if (q->gone) {
        http_body_reply(q->body, 0, NULL, NULL);
        body_free(q);
        return;
    }
    if (!q->a->people->users) { /* stopping */
        http_body_reply_error(q->body, 503, "unavailable", "pantaud is stopping");
        body_free(q);
        return;
    }
    hash_result(q);
    if (q->job.hj.result == HASHER_FAILED) { /* not the client's fault: no failure counted */
        http_body_reply_error(q->body, 503, "busy", "the password could not be checked now; retry");
        body_free(q);
        return;
    }
    if (q->ok && q->known) {
        struct login_fail *f = fail_slot(q->a->people, q->name, false, util_now_ms());
        if (f)
            f->name[0] = '\0'; /* a success forgets the failures before it */
        login_ok(q);
    } else {
        count_failure(q->a->people, q->name, util_now_ms());
        struct api_actor who = {0};
        snprintf(who.ip, sizeof who.ip, "%s", q->who.ip);
        api_audit(q->a, &who, "login_failed", q->name, NULL);
        http_body_reply_error(q->body, 401, "bad_credentials", "wrong user name or password");
    }
    body_free(q);
}

static void login_end(void *ctx)
{
    struct body_req *q = ctx;
    struct people *p = q->a->people;
    json_t *doc = p->users ? body_json(q) : NULL;
    if (!p->users)
        http_body_reply_error(q->body, 503, "unavailable", "pantaud is stopping");
    if (!doc)
        goto out;
    json_t *user = json_object_get(doc, "user");
    if (!json_is_string(user) || !take_password(q, doc, "password")) {
        http_body_reply_error(q->body, 400, "bad_json",
                              "the body must be {\"user\": \"...\", \"password\": \"...\"}");
        goto out;
    }
    const char *name = json_string_value(user);
    audit_clean_text(name, json_string_length(user), q->name, USERS_NAME_MAX + 1);
    int64_t now = util_now_ms();
    if (locked(p, q->name, now)) {
        http_body_reply_error(q->body, 429, "too_many_attempts",
                              "too many failed sign-ins for this name; try again in %d minutes",
                              LOCK_MS / 60000);
        goto out;
    }
    /* An unknown name (or one that cannot be a name) is checked against a
     * dummy hash: the answer and its time are those of a wrong password. */
    bool slug = util_is_slug(name, json_string_length(user));
    int found = slug ? users_get(p->users, name, &q->rec) : 0;
    if (found < 0) {
        http_body_reply_error(q->body, 503, "unavailable", "the database cannot be read");
        goto out;
    }
    q->known = found == 1 && q->password_len <= USERS_PASSWORD_MAX;
    json_decref(doc);
    hash_submit(q, HASHER_VERIFY, login_done, "too many sign-ins at once; retry shortly");
    return;
out:
    json_decref(doc);
    body_free(q);
}

static const struct http_body_ops login_ops = {body_data, login_end, body_gone};

void api_login(struct api *a, struct http_request *r)
{
    people_body(a, r, &login_ops);
}

/* ---- POST /api/v1/logout, GET /api/v1/me ---- */

void api_logout(struct api *a, struct http_request *r)
{
    struct buf b;
    buf_init(&b, 0);
    if (r->session && a->people) {
        struct api_actor who;
        api_actor_of(a, r, &who);
        users_session_end(a->people->users, r->session);
        api_audit(a, &who, "logout", r->user, NULL);
        char cookie[160];
        snprintf(cookie, sizeof cookie,
                 "pantau_session=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/%s",
                 cookie_secure(r) ? "; Secure" : "");
        http_set_cookie(r, cookie);
    }
    buf_printf(&b, "{\"logged_out\":%s}\n", r->session ? "true" : "false");
    http_reply(r, 200, JSON, &b);
}

void api_me(struct api *a, struct http_request *r)
{
    struct buf b;
    struct user_rec u;
    buf_init(&b, 0);
    if (r->session && a->people && users_get(a->people->users, r->user, &u) == 1) {
        buf_puts(&b, "{\"user\":");
        user_json(&b, u.name, u.role, u.programs);
        buf_puts(&b, "}\n");
    } else {
        buf_printf(&b, "{\"user\":null,\"role\":\"%s\"}\n", http_role_name(r->role));
    }
    http_reply(r, 200, JSON, &b);
}

/* ---- /api/v1/users ---- */

struct listing {
    struct buf *b;
    int n;
};

static void list_one(void *ctx, const struct user_rec *u)
{
    struct listing *l = ctx;
    buf_puts(l->b, l->n++ ? ",\n" : "\n");
    user_json(l->b, u->name, u->role, u->programs);
}

void api_users_list(struct api *a, struct http_request *r)
{
    struct buf b;
    struct listing l = {&b, 0};
    buf_init(&b, 0);
    buf_puts(&b, "{\"users\":[");
    if (!a->people || users_each(a->people->users, list_one, &l) != 0) {
        buf_free(&b);
        http_reply_error(r, 503, "unavailable", "the accounts cannot be read");
        return;
    }
    buf_puts(&b, "]}\n");
    http_reply(r, 200, JSON, &b);
}

/* "programs": null or an array of slugs (known to the catalog, when one is
 * loaded), into q->programs as "a,b". False after answering 400. */
static bool read_programs(struct body_req *q, json_t *v)
{
    q->programs[0] = '\0';
    if (!v || json_is_null(v))
        return true;
    const struct catalog *c = q->a->kpis ? kpi_engine_catalog(q->a->kpis) : NULL;
    size_t i, len = 0;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0)
        goto bad;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        size_t n = s ? strlen(s) : 0;
        if (!s || len + n + 2 > sizeof q->programs)
            goto bad;
        if (c && util_is_slug(s, n) && catalog_find_program(c, s) < 0) {
            http_body_reply_error(q->body, 400, "unknown_program", "the catalog has no program %s",
                                  s);
            return false;
        }
        len +=
            (size_t)snprintf(q->programs + len, sizeof q->programs - len, "%s%s", i ? "," : "", s);
    }
    if (users_programs_valid(q->programs))
        return true;
bad:
    http_body_reply_error(q->body, 400, "bad_parameter",
                          "programs must be null or a list of distinct program ids (slugs)");
    return false;
}

/* An account change; detail {"role","programs"} for an added account. */
static void audit_account(struct api *a, const struct api_actor *who, const char *action,
                          const char *name, const char *role, const char *programs)
{
    struct buf d;
    buf_init(&d, 0);
    if (role) {
        buf_printf(&d, "{\"role\":\"%s\",\"programs\":", role); /* a valid role: no escapes */
        programs_json(&d, programs);
        buf_puts(&d, "}");
    }
    api_audit(a, who, action, name, role && !buf_failed(&d) ? d.data : NULL);
    buf_free(&d);
}

static void add_done(struct hash_job *j)
{
    struct body_req *q = (struct body_req *)j;
    q->working = false;
    hash_result(q);
    if (q->gone) {
        http_body_reply(q->body, 0, NULL, NULL);
        body_free(q);
        return;
    }
    int rc = q->ok && q->a->people->users ? users_add(q->a->people->users, q->rec.name, q->rec.role,
                                                      q->rec.programs, q->rec.hash)
                                          : -1;
    if (rc == USERS_EXISTS) {
        http_body_reply_error(q->body, 409, "exists", "a user named %s exists", q->rec.name);
    } else if (rc != 0) {
        http_body_reply_error(q->body, 503, "unavailable", "the account could not be stored");
    } else {
        audit_account(q->a, &q->who, "user_add", q->rec.name, q->rec.role, q->rec.programs);
        reply_user(q->body, 201, &q->rec);
    }
    body_free(q);
}

static void add_end(void *ctx)
{
    struct body_req *q = ctx;
    json_t *doc = body_json(q), *name, *role;
    if (!doc)
        goto out;
    name = json_object_get(doc, "name");
    role = json_object_get(doc, "role");
    if (!json_is_string(name) || !util_is_slug(json_string_value(name), json_string_length(name))) {
        http_body_reply_error(q->body, 400, "bad_parameter",
                              "name must be a slug ([a-z0-9][a-z0-9_-]{0,63})");
        goto out;
    }
    if (!json_is_string(role) || !users_role_valid(json_string_value(role))) {
        http_body_reply_error(q->body, 400, "bad_parameter",
                              "role must be viewer, operator or admin");
        goto out;
    }
    if (!read_programs(q, json_object_get(doc, "programs")))
        goto out;
    if (!take_password(q, doc, "password") || !users_password_ok(q->password, q->password_len)) {
        http_body_reply_error(q->body, 400, "weak_password",
                              "the password needs at least %d characters (at most %d bytes)",
                              USERS_PASSWORD_MIN, USERS_PASSWORD_MAX);
        goto out;
    }
    snprintf(q->rec.name, sizeof q->rec.name, "%s", json_string_value(name));
    snprintf(q->rec.role, sizeof q->rec.role, "%s", json_string_value(role));
    snprintf(q->rec.programs, sizeof q->rec.programs, "%s", q->programs);
    struct user_rec old;
    int found = users_get(q->a->people->users, q->rec.name, &old);
    if (found != 0) {
        if (found > 0)
            http_body_reply_error(q->body, 409, "exists", "a user named %s exists", q->rec.name);
        else
            http_body_reply_error(q->body, 503, "unavailable", "the database cannot be read");
        goto out;
    }
    json_decref(doc);
    hash_submit(q, HASHER_HASH, add_done, "too many passwords being hashed; retry");
    return;
out:
    json_decref(doc);
    body_free(q);
}

static const struct http_body_ops add_ops = {body_data, add_end, body_gone};

void api_users_add(struct api *a, struct http_request *r)
{
    people_body(a, r, &add_ops);
}

void api_users_del(struct api *a, struct http_request *r)
{
    const char *name = r->path + strlen(USERS_PREFIX);
    struct user_rec u;
    int found =
        a->people && util_is_slug(name, strlen(name)) ? users_get(a->people->users, name, &u) : 0;
    if (found == 1)
        found = users_del(a->people->users, name);
    if (found < 0) {
        http_reply_error(r, 503, "unavailable", "the database cannot be written");
        return;
    }
    if (found == 0) {
        http_reply_error(r, 404, "not_found", "no user %s", name);
        return;
    }
    struct api_actor who;
    api_actor_of(a, r, &who);
    audit_account(a, &who, "user_del", name, NULL, NULL);
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"user\":");
    user_json(&b, u.name, u.role, u.programs);
    buf_puts(&b, "}\n");
    http_reply(r, 200, JSON, &b);
}

/* ---- POST /api/v1/users/<name>/password: an admin sets a new password ---- */

/* The same as `pantaud user passwd NAME` (users_cli.c): a new Argon2id
 * hash made on a worker, the user's sessions ended, a user_passwd event. */
static void passwd_done(struct hash_job *j)
{
    struct body_req *q = (struct body_req *)j;
    q->working = false;
    hash_result(q);
    if (q->gone) {
        http_body_reply(q->body, 0, NULL, NULL);
        body_free(q);
        return;
    }
    int rc = q->ok && q->a->people->users
                 ? users_set_hash(q->a->people->users, q->rec.name, q->rec.hash)
                 : -1;
    if (rc == 0) {
        http_body_reply_error(q->body, 404, "not_found", "no user %s", q->rec.name);
    } else if (rc < 0) {
        http_body_reply_error(q->body, 503, "unavailable", "the password could not be stored");
    } else {
        audit_account(q->a, &q->who, "user_passwd", q->rec.name, NULL, NULL);
        reply_user(q->body, 200, &q->rec);
    }
    body_free(q);
}

static void passwd_end(void *ctx)
{
    struct body_req *q = ctx;
    json_t *doc = body_json(q);
    if (!doc)
        goto out;
    if (!take_password(q, doc, "password") || !users_password_ok(q->password, q->password_len)) {
        http_body_reply_error(q->body, 400, "weak_password",
                              "the password needs at least %d characters (at most %d bytes)",
                              USERS_PASSWORD_MIN, USERS_PASSWORD_MAX);
        goto out;
    }
    json_decref(doc);
    hash_submit(q, HASHER_HASH, passwd_done, "too many passwords being hashed; retry");
    return;
out:
    json_decref(doc);
    body_free(q);
}

static const struct http_body_ops passwd_ops = {body_data, passwd_end, body_gone};

void api_users_passwd(struct api *a, struct http_request *r)
{
    /* <name>/password: the name is looked up before the body is read. */
    char name[USERS_NAME_MAX + 1];
    struct user_rec u;
    int found = a->people && a->people->users && passwd_target(r->path, name)
                    ? users_get(a->people->users, name, &u)
                    : 0;
    if (found < 0) {
        http_reply_error(r, 503, "unavailable", "the database cannot be read");
        return;
    }
    if (found == 0) {
        http_reply_error(r, 404, "not_found", "no such user: POST %s<name>%s", USERS_PREFIX,
                         PASSWORD_SUFFIX);
        return;
    }
    struct body_req *q = body_start(a, r, &passwd_ops);
    if (q) {
        q->rec = u;
        sodium_memzero(q->rec.hash, sizeof q->rec.hash);
    }
}

/* ---- /api/v1/audit, /api/v1/audit/verify: on a query pool thread ---- */

struct audit_call {
    struct query_job job; /* first */
    struct http_deferred *reply;
    struct audit_filter f;
    char user[USERS_NAME_MAX + 1], action[32];
    bool verify;
    struct buf out;
    int n;
    int64_t events, first_bad;
};

static void audit_work(struct query_job *job, struct query_db *db)
{
    struct audit_call *c = (struct audit_call *)job;
    sqlite3 *s = query_sqlite(db);
    c->n = c->verify ? audit_verify(s, &c->events, &c->first_bad) : audit_list(s, &c->f, &c->out);
}

static void audit_done(struct query_job *job)
{
    struct audit_call *c = (struct audit_call *)job;
    if (job->status != 0 || c->n < 0 || buf_failed(&c->out)) {
        http_deferred_reply_error(c->reply, 503, "unavailable", "the audit log cannot be read");
    } else if (c->verify) {
        struct buf b;
        buf_init(&b, 0);
        if (c->n == 1)
            buf_printf(&b, "{\"ok\":true,\"events\":%lld}\n", (long long)c->events);
        else
            buf_printf(&b, "{\"ok\":false,\"first_bad_id\":%lld}\n", (long long)c->first_bad);
        http_deferred_reply(c->reply, 200, JSON, &b);
    } else {
        buf_puts(&c->out, "]}\n");
        http_deferred_reply(c->reply, 200, JSON, &c->out);
    }
    buf_free(&c->out);
    free(c);
}

static void audit_submit(struct api *a, struct http_request *r, struct audit_call *c)
{
    c->job.work = audit_work;
    c->job.done = audit_done;
    if (!(c->reply = http_defer(r))) {
        buf_free(&c->out);
        free(c);
        return;
    }
    if (!a->queries || query_pool_submit(a->queries, &c->job) != 0) {
        c->job.status = -1;
        audit_done(&c->job);
    }
}

void api_audit_list(struct api *a, struct http_request *r)
{
    const char *user = http_arg(r, "user"), *action = http_arg(r, "action");
    if (user && !util_is_slug(user, strlen(user))) {
        http_reply_error(r, 400, "bad_parameter", "user must be a slug");
        return;
    }
    if (action && !audit_action_known(action)) {
        http_reply_error(r, 400, "bad_parameter", "no such action: %s", action);
        return;
    }
    struct audit_call *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    if (!api_read_range(r, &c->f.from, &c->f.to)) {
        free(c);
        return;
    }
    snprintf(c->user, sizeof c->user, "%s", user ? user : "");
    snprintf(c->action, sizeof c->action, "%s", action ? action : "");
    c->f.user = user ? c->user : NULL;
    c->f.action = action ? c->action : NULL;
    c->f.limit = a->cfg->audit_list_max;
    buf_init(&c->out, 0);
    buf_puts(&c->out, "{\"events\":[");
    audit_submit(a, r, c);
}

void api_audit_verify(struct api *a, struct http_request *r)
{
    struct audit_call *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_error(r, 503, "out_of_memory", "the server is out of memory");
        return;
    }
    c->verify = true;
    buf_init(&c->out, 0);
    audit_submit(a, r, c);
}
