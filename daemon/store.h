/* store.h — the time-series store: one SQLite database in WAL mode, written
 * only by the loop thread through this module.
 *
 * Owns: the write connection, its prepared statements, the in-memory caches
 * of series (key -> id, last sample) and units (presence, last seen,
 * position), and the open transaction. Callers group writes:
 *     store_begin(); store_append() ...; store_commit();
 * and the store turns a group into one SQLite transaction. Series and unit
 * rows are updated from the caches at commit, once per group, not per sample.
 *
 * Identity (CONTRACT §1): a series is (program, unit, metric, labels); a
 * sample is (series, ts); appending a sample that exists replaces its value
 * (a redelivered QoS 1 message is harmless). The device's ts and the arrival
 * time are both kept.
 *
 * Schema version lives in PRAGMA user_version; store_open migrates older
 * databases forward and refuses newer ones. */
#ifndef PANTAU_STORE_H
#define PANTAU_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

struct store;

struct store_stats {
    uint64_t stored_total;    /* samples committed (replacements included) */
    uint64_t commits;         /* transactions committed */
    uint64_t commit_errors;   /* transactions rolled back by an error */
    uint64_t lost_total;      /* samples in rolled-back transactions */
    uint64_t series;          /* series known */
    uint64_t units;           /* units known */
    bool writable;            /* false after a failed commit, until one succeeds */
};

/* Opens (creating if needed) and migrates the database at path. Returns 0
 * and *out, or -1 with the reason logged. */
int store_open(struct store **out, const char *path);

/* Commits anything pending and closes. NULL is a no-op. */
void store_close(struct store *s);

/* Starts a group if none is open. Returns 0 or -1. */
int store_begin(struct store *s);

/* True while a group is open, and since when (monotonic ns). */
bool store_in_group(const struct store *s, uint64_t *since_ns);

/* Adds or replaces one sample, inside an open group (begins one if needed).
 * `arrival_ms` is when pantaud received it. Also marks the unit as seen and,
 * with a position, moves it. Returns 0 or -1 (logged, rate-limited). */
int store_append(struct store *s, const struct parse_sample *sample, int64_t arrival_ms);

/* Records a unit's presence ($status online/offline) at time ts_ms. */
int store_presence(struct store *s, const char *program, const char *unit, bool online,
                   int64_t ts_ms);

/* Commits the open group (no-op without one). On failure the group is rolled
 * back, its samples counted as lost, and -1 returned. */
int store_commit(struct store *s);

void store_get_stats(const struct store *s, struct store_stats *out);

#endif
