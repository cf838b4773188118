/* audit.h — the audit log of CONTRACT §8: who did what, append-only and
 * hash-chained, in the store's database (tables `audit` and
 * `audit_anchor`, made by migration 4 of schema.c).
 *
 * An event is {"id","ts","user","role","action","target","detail","ip",
 * "hash"}; its hash is the lowercase hex SHA-256 of the previous event's
 * hash (64 zeros for the first) followed by the event's canonical JSON
 * without "hash": no spaces, keys in that order, strings escaped as
 * JavaScript's JSON.stringify escapes them (so a client recomputes the
 * chain from /api/v1/audit's answer), `detail` written as stored.
 *
 * The pure parts (canonical form, chain, text cleaning) are thread-free;
 * audit_append, audit_list, audit_verify and audit_prune run on whichever
 * thread owns the connection they are given (the loop's, or the command
 * line's). Nothing here ever updates or deletes an event but audit_prune,
 * which drops events older than the retention (at least 400 days). */
#ifndef PANTAU_AUDIT_H
#define PANTAU_AUDIT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define AUDIT_HASH_HEX 64
#define AUDIT_TEXT_MAX 128 /* bytes kept of a free text (a name given at sign-in) */

struct audit_event {
    int64_t id, ts;
    const char *user;   /* NULL: a token, a failed sign-in, the command line */
    const char *role;   /* NULL when no role acted */
    const char *action; /* login login_failed logout ack ingest import reload ... */
    const char *target; /* NULL when none */
    const char *detail; /* a JSON object as text (no spaces), or NULL */
    const char *ip;     /* NULL on the command line */
};

/* The event's canonical JSON without "hash" (CONTRACT §8), appended to b. */
void audit_event_json(struct buf *b, const struct audit_event *e);

/* hex(SHA-256(prev_hex || json)) into out (65 bytes, NUL-terminated). */
void audit_chain_hash(const char *prev_hex, const char *json, size_t len,
                      char out[AUDIT_HASH_HEX + 1]);

/* A JSON string as JavaScript's JSON.stringify writes it, appended to b. */
void audit_json_str(struct buf *b, const char *s);

/* Copies s into out (cap bytes) as valid UTF-8, each invalid byte replaced
 * by U+FFFD, cut on a character boundary to fit. */
void audit_clean_text(const char *s, size_t len, char *out, size_t cap);

/* Appends one event (its id and ts are chosen here: the next id, now) in a
 * transaction of its own when none is open, else inside the open one.
 * Returns the event's id, or -1 (logged). Prepares its statements for this
 * one event: for the command line and tests. */
int64_t audit_append(sqlite3 *db, const struct audit_event *e);

/* The same with statements prepared once, for a connection that appends
 * often (the loop's: a sign-in's event must not parse SQL). Closed before
 * its connection; open returns 0 or -1 (logged). */
struct audit_writer;
int audit_writer_open(struct audit_writer **out, sqlite3 *db);
int64_t audit_writer_append(struct audit_writer *w, const struct audit_event *e);
void audit_writer_close(struct audit_writer *w);

/* Events newest first, filtered (0 / NULL: no filter), at most `limit`, as
 * ",\n"-separated JSON objects with their hash. Returns the count or -1. */
struct audit_filter {
    int64_t from, to;
    const char *user, *action;
    int limit;
};
int audit_list(sqlite3 *db, const struct audit_filter *f, struct buf *out);

/* Recomputes the chain. Returns 1 when every event follows from its
 * predecessor (*events = their count), 0 with *first_bad = the first id
 * that does not (or whose predecessor is missing), -1 on a read error.
 * The oldest kept event follows from the anchor audit_prune leaves (the
 * last pruned event's id and hash), or from 64 zeros as id 1. */
int audit_verify(sqlite3 *db, int64_t *events, int64_t *first_bad);

/* Deletes events older than `days` (cfg: at least 400) and keeps the last
 * deleted one's id and hash as the anchor the rest verifies from. Returns
 * the number deleted or -1. */
int audit_prune(sqlite3 *db, int days, int64_t now_ms);

/* True for a known action name. */
bool audit_action_known(const char *action);

#endif
