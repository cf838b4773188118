/* store.h — the time-series store: one SQLite database in WAL mode plus the
 * head (head.h) and its log, written only by the loop thread through this
 * module.
 *
 * Owns: the write connection, its prepared statements, the in-memory caches
 * of series (key -> id, last sample) and units (presence, last seen,
 * position), the head, the head log ("<database>-head", headlog.h), and
 * the open group. Callers group writes:
 *     store_begin(); store_append() ...; store_commit();
 *
 * Where a sample goes (issue 20): store_append puts it in the head (memory,
 * where readers see it at once: query.h) and in the group's log record;
 * store_commit commits the group's rows (a new series, a unit's presence)
 * and then writes its log record with one write(). So a commit costs the
 * disk the sample's ~13 bytes of log, not a B-tree page. Durability is
 * SQLite's with synchronous = NORMAL: a commit survives the process (a
 * crash, SIGKILL), and a power cut takes what the kernel had not written
 * yet (an fdatasync every 10 s, on a worker, bounds it). At open the log
 * is replayed into the head.
 *
 * store_flush, from a timer, writes the head's points of every clock hour
 * that ended more than STORE_FLUSH_GRACE_MS ago as chunk rows
 * (chunkstore.h): each series' hour once, compressed, with its aggregate —
 * which is also the hour's rollup. A late sample goes to the head like any
 * other and is merged into its hour's rows by the next flush, which also
 * writes the series' last and its unit's row. Other units' rows are
 * written with a flush every STORE_POSITION_LAG_MS when their position
 * moved, every STORE_LAST_SEEN_LAG_MS when only last_seen did: after a
 * crash the log's replay brings last_seen back (as the time of the commit
 * that held the unit's sample); a position may be that much behind.
 *
 * Identity (CONTRACT §1): a series is (program, unit, metric, labels); a
 * sample is (series, ts); appending a sample that exists replaces its value
 * (a redelivered QoS 1 message is harmless). The arrival time of a sample
 * is not kept (the unit's last_seen is).
 *
 * Retention: store_prune drops the data of chunk rows older than the
 * horizon in bounded batches, keeping their aggregates (hours are answered
 * for ever).
 *
 * Schema version lives in PRAGMA user_version; store_open migrates older
 * databases forward (schema 6's samples and rollups are converted to chunk
 * rows: store_convert.h) and refuses newer ones. */
#ifndef PANTAU_STORE_H
#define PANTAU_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "dict.h"
#include "sample.h"

struct store;

struct store_stats {
    uint64_t stored_total;  /* samples committed (replacements included) */
    uint64_t commits;       /* transactions committed */
    uint64_t commit_errors; /* transactions rolled back by an error */
    uint64_t retries;       /* of those, rolled back to be tried again (STORE_RETRY) */
    uint64_t lost_total;    /* samples SQLite refused for good */
    uint64_t series;        /* series known */
    uint64_t units;         /* units known */
    uint64_t head_points;   /* samples in the head (not yet in chunk rows) */
    uint64_t head_bytes;    /* memory the head holds for them */
    uint64_t log_bytes;     /* size of the head log */
    bool writable;          /* false after a failed commit, until one succeeds (not
                               for SQLITE_BUSY: another writer, not a broken disk) */
    int last_error;         /* SQLite's primary code for the last failure, 0 once a
                               commit succeeds */
    bool corrupt;           /* store_corrupt() */
};

/* A unit's row may lag its position in memory by about this, and its
 * last_seen by STORE_LAST_SEEN_LAG_MS (the head log gives last_seen back
 * after a crash: the row's lag is lost only for a position). A series'
 * row holds its last as of the flush that last wrote its points. */
#define STORE_POSITION_LAG_MS  60000
#define STORE_LAST_SEEN_LAG_MS 600000

/* An hour is written as chunk rows this long after it ended: a unit a
 * little late still lands in the head, not in a rewrite of its rows. */
#define STORE_FLUSH_GRACE_MS (5 * 60000)

/* The head holds at most this many points by default: past the limit
 * (store_set_head_max), store_flush writes whole heads early. */
#define STORE_DEFAULT_HEAD_MAX_POINTS 16000000

/* The head log is compacted once it passes max(this, twice the head). */
#define STORE_HEADLOG_MIN_COMPACT (64ull << 20)

/* How long a write waits for another process's write lock before the
 * group fails with STORE_RETRY (the loop waits with it). */
#define STORE_BUSY_WAIT_MS 100

/* What SQLite's result code means ("database is locked"). */
const char *store_error_text(int code);

/* Opens (creating if needed) and migrates the database at path. Returns 0
 * and *out, or -1 with the reason logged. */
int store_open(struct store **out, const char *path);

/* Damage (CONTRACT §10). store_watch_corruption, called once before any
 * SQLite use in the process, has SQLite's error log report every
 * SQLITE_CORRUPT or SQLITE_NOTADB that any connection meets, on any thread
 * (the loop's writes, the query pool's reads, the checkpointer);
 * store_corrupt is then true for good (any thread). Returns 0 or -1. */
int store_watch_corruption(void);
bool store_corrupt(void);

/* Before store_open: runs PRAGMA quick_check on an existing database, for
 * at most max_s seconds (past that it is abandoned, logged, and counts as
 * passed; 0 skips it). A damaged one is refused (logged: restore a backup
 * or use --salvage), or with salvage renamed with its -wal and -shm to
 * <path>.damaged-<UTC time> (logged) so that store_open starts empty.
 * Returns 0 to go on, -1 to refuse. */
int store_check_at_start(const char *path, int max_s, bool salvage);

/* Commits anything pending and closes. NULL is a no-op. */
void store_close(struct store *s);

/* Starts a group if none is open. Returns 0 or -1. */
int store_begin(struct store *s);

/* True while a group is open, and since when (monotonic ns). */
bool store_in_group(const struct store *s, uint64_t *since_ns);

/* What a write returns (store_append, store_presence, store_commit; an int
 * holding one of these, as query.h's calls do):
 * - STORE_RETRY: the write failed for a reason that may pass (another
 *   process holds the write lock, the disk is full or failing): the whole
 *   group was rolled back and nothing is counted lost; the caller keeps
 *   what it appended to the group and appends it all again later;
 * - STORE_REFUSED: SQLite refused this sample for good (logged,
 *   rate-limited, counted lost); the group goes on;
 * - STORE_GROUP_LOST: such a refusal also rolled back the whole group
 *   (every sample of it is lost; the next append starts a new group);
 * - a limit (nothing was written; the group goes on): STORE_UNIT_LIMIT, the
 *   sample's unit is new and max_units are known; STORE_UNIT_SERIES_LIMIT,
 *   its series is new and its unit already has max_series_per_unit series;
 *   STORE_SERIES_LIMIT, its series is new and max_series are known in all
 *   (store_set_unit_limits, store_set_max_series). */
enum store_result {
    STORE_OK = 0,
    STORE_REFUSED = -1,
    STORE_GROUP_LOST = -2,
    STORE_SERIES_LIMIT = -3,
    STORE_RETRY = -4,
    STORE_UNIT_LIMIT = -5,
    STORE_UNIT_SERIES_LIMIT = -6,
};

/* Adds or replaces one sample, inside an open group (begins one if needed).
 * `arrival_ms` is when pantaud received it. Also marks the unit as seen and,
 * with a position, moves it. Returns a store_result. On STORE_OK,
 * *series_id (if not NULL) is the id of the sample's series. */
#define STORE_DEFAULT_MAX_SERIES          1000000
#define STORE_DEFAULT_MAX_UNITS           10000
#define STORE_DEFAULT_MAX_SERIES_PER_UNIT 1000
int store_append(struct store *s, const struct sample *sample, int64_t arrival_ms,
                 int64_t *series_id);

/* Records a unit's presence ($status online/offline) at time ts_ms; with
 * heard, the unit also counts as heard from then (last_seen). Returns
 * STORE_OK, STORE_RETRY (as store_append), STORE_UNIT_LIMIT (a new unit
 * past max_units: nothing recorded) or STORE_REFUSED. */
int store_presence(struct store *s, const char *program, const char *unit, bool online,
                   int64_t ts_ms, bool heard);

/* Commits the open group (no-op without one). On failure the group is rolled
 * back and STORE_RETRY returned (as store_append: nothing counted lost), or
 * STORE_REFUSED if retrying cannot help (its samples counted lost). */
int store_commit(struct store *s);

void store_get_stats(const struct store *s, struct store_stats *out);

/* The write connection, for modules that keep their own tables in the same
 * database (alert_store.h, webhook.h). Loop thread only, and only outside a
 * group: a group never stays open across loop callbacks (ingest and the
 * HTTP entry commit before returning), so a module's own BEGIN ... COMMIT
 * is a transaction of its own. */
struct sqlite3;
struct sqlite3 *store_db(struct store *s);

/* With on false, commits never checkpoint the WAL (wal_autocheckpoint = 0):
 * pantaud leaves that to checkpoint.c, off the loop. Default on. */
int store_set_autocheckpoint(struct store *s, bool on);

/* The WAL file is cut back to this many bytes whenever the checkpointer
 * restarts it (PRAGMA journal_size_limit): without it, the file kept the
 * size of the longest burst for good. Default STORE_DEFAULT_WAL_SIZE_LIMIT.
 * Returns 0 or -1. */
#define STORE_DEFAULT_WAL_SIZE_LIMIT (64LL << 20)
int store_set_wal_size_limit(struct store *s, int64_t bytes);

/* At most this many series in all; default STORE_DEFAULT_MAX_SERIES (a
 * guard on memory: each costs ~200 bytes of cache). */
void store_set_max_series(struct store *s, uint64_t max_series);
/* At most max_units units, each with at most max_series_per_unit series
 * (CONTRACT §10); defaults STORE_DEFAULT_MAX_UNITS and
 * STORE_DEFAULT_MAX_SERIES_PER_UNIT. Units and series already known stay. */
void store_set_unit_limits(struct store *s, uint64_t max_units, uint64_t max_series_per_unit);

/* After a failed write, and at least 10 s after it, tries a tiny write (no
 * open group needed) so that health recovers when the disk does, even with
 * no samples arriving. Returns 0 if the database counts as writable. */
int store_probe_writable(struct store *s);
/* Tests only: pretend the last write failure happened ms earlier. */
void store_test_age_failure(struct store *s, int64_t ms);
/* Tests only: runs sql on the write connection (e.g. a page limit). */
int store_test_exec(struct store *s, const char *sql);

/* Retention: commits any open group, then in one transaction of its own
 * drops the data of at most max_rows chunk rows older than retention_days
 * before now_ms (their aggregates stay), looking at a bounded number of
 * series. Call it from a timer every few seconds; a return of max_rows
 * means more may be waiting (call again soon); less, that a pass over the
 * series ended (call again later: a pass may end on a short count while
 * rows older than the horizon wait for the next). Returns rows changed or
 * -1 (logged). */
int store_prune(struct store *s, int64_t now_ms, int retention_days, int max_rows);

/* Writes as chunk rows the head's points of hours that ended more than
 * STORE_FLUSH_GRACE_MS before now_ms, for at most max_series series (one
 * transaction; the next call goes on with the next series), and the rows
 * of units that lag (see above). No group may be open (it returns 0 if
 * one is). Returns the series written (0: nothing was due), or STORE_RETRY
 * (logged; nothing lost: the points stay in the head). Call it from a timer
 * every second or so, and again at once while it returns max_series. */
int store_flush(struct store *s, int64_t now_ms, size_t max_series);

/* Puts (series, ts, value) into the head and the open group's log record,
 * as store_append does for a sample of a series the database already has
 * (`pantaud --backup` moving a running pantaud's head into its copy).
 * Returns a store_result (STORE_REFUSED: no such series). */
int store_put_point(struct store *s, int64_t series, int64_t ts, double value);

/* The head's bound in points (STORE_DEFAULT_HEAD_MAX_POINTS). */
void store_set_head_max(struct store *s, uint64_t points);

/* For the head log's fdatasync, off the loop (it waits for the disk): a
 * descriptor of the log the caller syncs and closes on another thread.
 * -1 on failure. */
int store_sync_fd(struct store *s);

/* The head, for the read side (query.h): valid until store_close. */
struct head *store_head(struct store *s);

/* Views of the in-memory caches, valid only during the callback. */
struct store_series_view {
    const char *program, *unit, *metric, *labels_json;
    int64_t id;
    bool has_last;
    int64_t last_ts; /* device time of the latest sample */
    double last_value;
};

struct store_unit_view {
    const char *program, *unit;
    int online; /* -1 never said, 0 offline, 1 online ($status) */
    int64_t status_ts, last_seen;
    bool has_position;
    double lat, lon;
};

typedef void (*store_series_fn)(void *ctx, const struct store_series_view *v);
typedef void (*store_unit_fn)(void *ctx, const struct store_unit_view *v);

/* Every series / unit known, in no particular order. Loop thread. */
void store_each_series(const struct store *s, store_series_fn fn, void *ctx);
void store_each_unit(const struct store *s, store_unit_fn fn, void *ctx);
/* A resumable walk over the series cache, for work spread over several
 * loop turns (live's snapshots). Zeroed: the start. */
struct store_series_cursor {
    struct dict_cursor at;
};
typedef bool (*store_series_scan_fn)(void *ctx, const struct store_series_view *v);
/* Offers the series of at most max_slots cache slots from *cur on, until
 * fn returns false (that series is offered again next time). Returns true
 * when the walk is complete. Every series that exists from the walk's
 * start to its end is offered at least once (dict_scan). Loop thread. */
bool store_scan_series(const struct store *s, struct store_series_cursor *cur, size_t max_slots,
                       store_series_scan_fn fn, void *ctx);
/* One unit's view (valid until the next store call), or -1 if unknown. */
int store_get_unit(const struct store *s, const char *program, const char *unit,
                   struct store_unit_view *out);

#endif
