/* users.h — accounts and sessions (CONTRACT §8) in the store's database.
 *
 * Its tables (users, sessions) are made by migration 4 of schema.c.
 * Owns the statements on one connection: the store's write connection in
 * the daemon (loop thread only), or the command line's own (pantaud user
 * ...). Every read goes to the database, never to a cache, so a change made
 * by the command line while pantaud runs (a deleted user, a new password)
 * holds at the next request.
 *
 * Passwords are stored only as Argon2id strings (libsodium's
 * crypto_pwhash_str: salted, memory-hard, tens of ms). users_hash and
 * users_verify are the slow part and thread-free: the daemon calls them in
 * its hashing child processes (hasher.h), never on the loop.
 *
 * A session id is 256 random bits, handed to the browser as 64 hex digits
 * (the pantau_session cookie) and stored only as its SHA-256, with the user
 * and the time of its last use; a user's sessions are deleted with the user
 * or a new password, and one idle longer than idle_ms is gone. */
#ifndef PANTAU_USERS_H
#define PANTAU_USERS_H

#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define USERS_NAME_MAX     64   /* a slug */
#define USERS_PASSWORD_MIN 10   /* characters (bytes of UTF-8 counted as characters) */
#define USERS_PASSWORD_MAX 1024 /* bytes: longer is refused before hashing */
#define USERS_PROGRAMS_MAX 4096 /* bytes of the comma-separated list */
#define USERS_SID_HEX      64   /* the cookie's value */
#define USERS_HASH_MAX     crypto_pwhash_STRBYTES

struct users;

struct user_rec {
    char name[USERS_NAME_MAX + 1];
    char role[16];                         /* viewer, operator, admin */
    char programs[USERS_PROGRAMS_MAX + 1]; /* "a,b"; "" when not limited */
    char hash[USERS_HASH_MAX];
};

/* Prepares the statements on db. 0 or -1 (logged). */
int users_open(struct users **out, sqlite3 *db);
void users_close(struct users *u); /* NULL is a no-op */

/* True when at least one account exists (then authentication is needed). */
bool users_any(struct users *u);

/* 1 and *out, 0 when there is no such user, -1 on a database error. */
int users_get(struct users *u, const char *name, struct user_rec *out);

#define USERS_EXISTS (-2)
/* 0, USERS_EXISTS, or -1. programs "" when not limited. */
int users_add(struct users *u, const char *name, const char *role, const char *programs,
              const char *hash);
/* 1, 0 when unknown, -1. Ends the user's sessions too. */
int users_set_hash(struct users *u, const char *name, const char *hash);
/* 1, 0 when unknown, -1. Ends the user's sessions at once. */
int users_del(struct users *u, const char *name);

/* Every account by name; fn gets a record without its hash. 0 or -1. */
int users_each(struct users *u, void (*fn)(void *ctx, const struct user_rec *r), void *ctx);

/* A new session for name: its cookie value (64 hex digits) into sid.
 * 0 or -1. */
int users_session_new(struct users *u, const char *name, int64_t now_ms,
                      char sid[USERS_SID_HEX + 1]);
/* The session of a cookie value: 1 with *out (no hash) and *session_id,
 * and its last use moved to now (written at most every touch_ms); 0 when
 * unknown, malformed, of a deleted user, or idle longer than idle_ms
 * (then deleted); -1 on a database error. */
int users_session_find(struct users *u, const char *sid, int64_t now_ms, int64_t idle_ms,
                       struct user_rec *out, int64_t *session_id);
/* Ends one session. 0 or -1. */
int users_session_end(struct users *u, int64_t session_id);
/* Deletes sessions idle longer than idle_ms; their number or -1. */
int users_session_prune(struct users *u, int64_t now_ms, int64_t idle_ms);

/* ---- pure checks, any thread ---- */

/* viewer, operator or admin. */
bool users_role_valid(const char *role);
/* A comma-separated list of 1..64 slugs, no duplicates; "" is valid (not
 * limited). */
bool users_programs_valid(const char *csv);
/* True when csv is "" (not limited) or lists program. */
bool users_programs_allow(const char *csv, const char *program);
/* Characters of UTF-8 text at least USERS_PASSWORD_MIN, bytes at most
 * USERS_PASSWORD_MAX. */
bool users_password_ok(const char *pw, size_t len);

/* ---- hashing, any thread (slow on purpose) ---- */

/* Argon2id at libsodium's interactive cost. 0 or -1 (out of memory). */
int users_hash(const char *pw, size_t len, char out[USERS_HASH_MAX]);
/* True when pw matches hash. hash NULL or "": checks against a fixed dummy
 * hash of the same cost, so an unknown user costs what a known one does,
 * and returns false. */
bool users_verify(const char *hash, const char *pw, size_t len);

#endif
