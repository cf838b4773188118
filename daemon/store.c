/* store.c — see store.h. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert_store.h"
#include "chunkstore.h"
#include "db.h"
#include "dict.h"
#include "head.h"
#include "headlog.h"
#include "log.h"
#include "schema.h"
#include "store_convert.h"
#include "util.h"

struct unit;

struct series {
    int64_t id;
    int64_t last_ts;
    double last_value;
    bool has_last;
    int64_t row_last_ts; /* what the series' row holds (INT64_MIN: none) */
    struct unit *unit;
};

struct unit {
    char program[SLUG_MAX + 1], name[SLUG_MAX + 1];
    int online; /* -1 unknown, 0 offline, 1 online */
    int64_t status_ts, last_seen, pos_ts;
    int64_t row_last_seen, row_pos_ts; /* what the unit's row holds (0: no row yet) */
    bool has_pos;
    double lat, lon;
    bool dirty;
    uint32_t n_series; /* series of this unit, for max_series_per_unit */
    struct unit *next_dirty;
};

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INSERT_SERIES,
    ST_UPDATE_SERIES,
    ST_UPSERT_UNIT,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT_SERIES] = "INSERT INTO series (program, unit, metric, labels, created)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_UPDATE_SERIES] = "UPDATE series SET last_ts = ?2, last_value = ?3 WHERE id = ?1",
    [ST_UPSERT_UNIT] = "INSERT INTO units (program, unit, online, status_ts, last_seen, lat, lon,"
                       " pos_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                       " ON CONFLICT (program, unit) DO UPDATE SET online = excluded.online,"
                       " status_ts = excluded.status_ts, last_seen = excluded.last_seen,"
                       " lat = excluded.lat, lon = excluded.lon, pos_ts = excluded.pos_ts",
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[ST_COUNT];
    struct chunkstore *chunks;
    struct head *head;
    struct headlog *log;
    bool opened;           /* store_open got through: close may write */
    struct dict series;    /* "program\x1funit\x1fmetric\x1flabels" -> struct series */
    struct dict units;     /* "program\x1funit" -> struct unit */
    struct series **by_id; /* series id -> its cache entry (NULL: none) */
    size_t by_id_cap;
    struct unit *dirty_units; /* rows to write with the group (presence) */
    struct group_point {
        int64_t series, ts;
        double value;
        /* The series' last before this sample, to undo a group the log
         * refused (the caches must not show what is not stored). */
        bool had_last;
        int64_t prev_ts;
        double prev_value;
    } * group; /* the open group's samples, for the head */
    size_t n_group, group_cap;
    int64_t units_written_ms; /* the last batch of units' positions */
    int64_t seen_written_ms;  /* ... that also took their last_seen */
    int64_t *flushed;         /* series ids of the flush under way */
    size_t n_flushed, flushed_cap;
    bool flush_failed;
    int64_t prune_next; /* the series id retention visits next */
    uint64_t head_max;  /* points; past it whole heads are flushed */
    bool in_group;
    uint64_t group_since_ns;
    uint64_t group_samples;
    uint64_t group_failed;    /* appends of this group that failed */
    int64_t failed_at_ms;     /* the last write failure, for store_probe_writable */
    int last_error;           /* SQLite's primary code for the last failed statement */
    uint64_t busy_since_ns;   /* the busy handler's first call for this wait */
    uint64_t max_series;      /* new series past this are refused */
    uint64_t max_units;       /* new units past this are refused */
    uint64_t max_unit_series; /* a unit's new series past this are refused */
    struct store_stats stats;
    struct log_limit write_errors;
};

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("store: %s: %s", sql, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int migrate(sqlite3 *db, const char *path)
{
    int v = db_user_version(db);
    if (v < 0)
        return -1;
    if (v > schema_version) {
        log_error("store: %s has schema version %d; this pantaud knows up to %d", path, v,
                  schema_version);
        return -1;
    }
    for (; v < schema_version; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (exec_sql(db, "BEGIN") || exec_sql(db, schema_migrations[v]) || exec_sql(db, bump) ||
            exec_sql(db, "COMMIT")) {
            exec_sql(db, "ROLLBACK");
            return -1;
        }
        log_info("store: %s migrated to schema version %d", path, v + 1);
    }
    return 0;
}

static size_t series_key(char *buf, size_t cap, const char *program, const char *unit,
                         const char *metric, const char *labels)
{
    int n = snprintf(buf, cap, "%s\x1f%s\x1f%s\x1f%s", program, unit, metric, labels);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static size_t unit_key(char *buf, size_t cap, const char *program, const char *unit)
{
    int n = snprintf(buf, cap, "%s\x1f%s", program, unit);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

#define KEY_MAX (4 * SLUG_MAX + SAMPLE_LABELS_JSON_MAX + 8)

/* Retention looks at this many series per call (a bounded pause). */
#define PRUNE_SERIES_PER_CALL 2000

static void free_value(void *ctx, const char *key, void *value)
{
    free(value);
}

static void drop_caches(struct store *s)
{
    dict_each(&s->series, free_value, NULL);
    dict_free(&s->series);
    dict_each(&s->units, free_value, NULL);
    dict_free(&s->units);
    free(s->by_id);
    s->by_id = NULL;
    s->by_id_cap = 0;
    s->dirty_units = NULL;
}

/* Files se under its id. Returns 0, or -1 when out of memory. */
static int index_series(struct store *s, struct series *se)
{
    if (se->id <= 0)
        return -1;
    if ((size_t)se->id >= s->by_id_cap) {
        size_t cap = s->by_id_cap ? s->by_id_cap : 1024;
        while (cap <= (size_t)se->id)
            cap *= 2;
        struct series **p = realloc(s->by_id, cap * sizeof *p);
        if (!p)
            return -1;
        memset(p + s->by_id_cap, 0, (cap - s->by_id_cap) * sizeof *p);
        s->by_id = p;
        s->by_id_cap = cap;
    }
    s->by_id[se->id] = se;
    return 0;
}

static struct series *series_by_id(const struct store *s, int64_t id)
{
    return id > 0 && (size_t)id < s->by_id_cap ? s->by_id[id] : NULL;
}

static struct unit *unit_get(struct store *s, const char *program, const char *name);

static int load_series(struct store *s)
{
    sqlite3_stmt *st;
    char key[KEY_MAX];
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT id, program, unit, metric, labels, last_ts, last_value FROM series", -1, &st,
        NULL);
    if (rc != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct series *se = calloc(1, sizeof *se);
        size_t n = series_key(key, sizeof key, (const char *)sqlite3_column_text(st, 1),
                              (const char *)sqlite3_column_text(st, 2),
                              (const char *)sqlite3_column_text(st, 3),
                              (const char *)sqlite3_column_text(st, 4));
        if (!se || n == 0 || dict_put(&s->series, key, n, se) != 0) {
            free(se);
            rc = SQLITE_NOMEM;
            break;
        }
        se->id = sqlite3_column_int64(st, 0);
        if (index_series(s, se) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        /* Units load first; a series whose unit has no row yet gets one in
         * the cache (written with its next sample). */
        struct unit *u = unit_get(s, (const char *)sqlite3_column_text(st, 1),
                                  (const char *)sqlite3_column_text(st, 2));
        if (u)
            u->n_series++;
        se->unit = u;
        se->has_last = sqlite3_column_type(st, 5) != SQLITE_NULL;
        se->last_ts = sqlite3_column_int64(st, 5);
        se->last_value = sqlite3_column_double(st, 6);
        se->row_last_ts = se->has_last ? se->last_ts : INT64_MIN;
        s->stats.series++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int load_units(struct store *s)
{
    sqlite3_stmt *st;
    char key[KEY_MAX];
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT program, unit, online, status_ts, last_seen, lat, lon,"
                                " pos_ts FROM units",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct unit *u = calloc(1, sizeof *u);
        if (!u) {
            rc = SQLITE_NOMEM;
            break;
        }
        snprintf(u->program, sizeof u->program, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(st, 1));
        u->online = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
        u->status_ts = sqlite3_column_int64(st, 3);
        u->last_seen = sqlite3_column_int64(st, 4);
        u->row_last_seen = u->last_seen;
        u->has_pos = sqlite3_column_type(st, 5) != SQLITE_NULL;
        u->lat = sqlite3_column_double(st, 5);
        u->lon = sqlite3_column_double(st, 6);
        u->pos_ts = sqlite3_column_int64(st, 7);
        u->row_pos_ts = u->pos_ts;
        size_t n = unit_key(key, sizeof key, u->program, u->name);
        if (n == 0 || dict_put(&s->units, key, n, u) != 0) {
            free(u);
            rc = SQLITE_NOMEM;
            break;
        }
        s->stats.units++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int load_caches(struct store *s)
{
    s->stats.series = 0;
    s->stats.units = 0;
    if (load_units(s) != 0 || load_series(s) != 0) {
        log_error("store: loading caches from %s: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* WAL lets HTTP readers run beside the writer; synchronous=NORMAL is durable
 * across a process crash (not a power cut) and avoids an fsync per commit; a
 * larger cache and rarer checkpoints measured 2.4x the rows/s with many
 * series per transaction (platform-facts.md). */
static const char *const pragmas = "PRAGMA journal_mode = WAL;"
                                   "PRAGMA synchronous = NORMAL;"
                                   "PRAGMA cache_size = -65536;"
                                   "PRAGMA wal_autocheckpoint = 20000;"
                                   "PRAGMA foreign_keys = OFF;";

/* A new database is created 0600 (the samples and alerts are the regency's,
 * not every local user's): SQLite would create it 0644 under the usual
 * umask, and it creates -wal and -shm with the database's mode. An existing
 * file keeps the mode its operator gave it. */
static void create_private(const char *path)
{
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd); /* else SQLite's open says why */
}

/* SQLite's own busy handler sleeps 1, 2, 5, 10 ms... between tries, so the
 * loop would wait up to 10 ms past the moment pantaud's checkpoint lets the
 * write lock go; this one looks every 0.2 ms, for STORE_BUSY_WAIT_MS. */
static int on_busy(void *ctx, int tries)
{
    struct store *s = ctx;
    uint64_t now = util_mono_ns();
    if (tries == 0)
        s->busy_since_ns = now;
    if (now - s->busy_since_ns >= STORE_BUSY_WAIT_MS * 1000000ull)
        return 0;
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
    return 1;
}

/* ---- damage (CONTRACT §10) ---- */

/* Set by SQLite's error log, from whichever thread's connection met it. */
static atomic_bool corrupt_seen;

static void on_sqlite_log(void *ctx, int code, const char *msg)
{
    int primary = code & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        atomic_store(&corrupt_seen, true);
}

int store_watch_corruption(void)
{
    return sqlite3_config(SQLITE_CONFIG_LOG, on_sqlite_log, NULL) == SQLITE_OK ? 0 : -1;
}

bool store_corrupt(void)
{
    return atomic_load(&corrupt_seen);
}

/* Interrupts quick_check past its deadline (monotonic ns). */
static int check_deadline(void *ctx)
{
    return util_mono_ns() > *(const uint64_t *)ctx;
}

/* Runs PRAGMA quick_check on path. Returns 0 (ok), 2 (abandoned after
 * max_s: logged), 1 (damaged: *why says how) or -1 (cannot open). */
static int quick_check(const char *path, int max_s, char *why, size_t why_len)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(why, why_len, "%s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? 1 : -1;
    }
    /* Looking must not change it: no checkpoint of its WAL on close. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    uint64_t deadline = util_mono_ns() + (uint64_t)max_s * 1000000000u;
    sqlite3_progress_handler(db, 10000, check_deadline, &deadline);
    sqlite3_stmt *st = NULL;
    int result = 0;
    rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &st, NULL);
    why[0] = '\0';
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") != 0) {
            size_t n = strlen(why);
            snprintf(why + n, why_len - n, "%s%s", n ? "; " : "", line);
            result = 1;
        }
    }
    if (rc == SQLITE_INTERRUPT) {
        result = 2;
        log_warn("store: PRAGMA quick_check of %s stopped after %d s ([store] quick_check_s): "
                 "starting unchecked",
                 path, max_s);
    } else if (rc != SQLITE_DONE && rc != SQLITE_OK && !result) {
        snprintf(why, why_len, "%s", sqlite3_errmsg(db));
        result = rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? 1 : -1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (char *c = why; *c; c++)
        if (*c == '\n')
            *c = ' '; /* one log line */
    return result;
}

/* path (and its -wal, -shm) renamed to <path>.damaged-<UTC time>. */
static int move_aside(const char *path, char *moved, size_t moved_len)
{
    char stamp[32], from[4096], to[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(moved, moved_len, "%s.damaged-%s", path, stamp);
    static const char *const tails[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s%s", path, tails[i]);
        snprintf(to, sizeof to, "%s%s", moved, tails[i]);
        if (rename(from, to) != 0 && !(i > 0 && errno == ENOENT)) {
            log_error("store: cannot move %s to %s: %s", from, to, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int store_check_at_start(const char *path, int max_s, bool salvage)
{
    if (max_s <= 0 || path[0] == '\0' || strcmp(path, ":memory:") == 0 ||
        strncmp(path, "file:", 5) == 0 || access(path, F_OK) != 0)
        return 0; /* nothing to check (a new database, or one in memory) */
    char why[512], moved[4096];
    uint64_t t0 = util_mono_ns();
    int rc = quick_check(path, max_s, why, sizeof why);
    if (rc == 2) {
        atomic_store(&corrupt_seen, false);
        return 0;
    }
    if (rc == 0) {
        log_info("store: %s passed PRAGMA quick_check in %.1f s", path,
                 (double)(util_mono_ns() - t0) / 1e9);
        atomic_store(&corrupt_seen, false);
        return 0;
    }
    if (rc < 0) {
        log_error("store: cannot check %s: %s", path, why);
        return -1;
    }
    if (!salvage) {
        log_error("store: the database %s is damaged (PRAGMA quick_check: %s). Restore a backup, "
                  "or start pantaud with --salvage to move it aside and start with an empty one",
                  path, why);
        return -1;
    }
    if (move_aside(path, moved, sizeof moved) != 0)
        return -1;
    log_warn("store: the database %s is damaged (PRAGMA quick_check: %s); --salvage moved it "
             "(and its -wal, -shm) to %s; starting with an empty database",
             path, why, moved);
    atomic_store(&corrupt_seen, false);
    return 0;
}

/* ---- the head and its log ---- */

struct replay {
    struct store *s;
    uint64_t unknown; /* samples of series the database does not have */
};

/* A logged sample goes back into the head; its series' last and its unit's
 * last_seen (the commit's time: within ms of its arrival) move with it, as
 * they did when it was first appended. */
static int replay_sample(void *ctx, int64_t series, int64_t ts, double value, int64_t commit_ms)
{
    struct replay *r = ctx;
    struct series *se = series_by_id(r->s, series);
    if (!se) {
        r->unknown++;
        return 0;
    }
    if (head_put(r->s->head, series, ts, value, NULL) == HEAD_NOMEM) {
        log_error("store: out of memory replaying the head log");
        return -1;
    }
    if (!se->has_last || ts >= se->last_ts) {
        se->has_last = true;
        se->last_ts = ts;
        se->last_value = value;
    }
    if (se->unit && commit_ms > se->unit->last_seen)
        se->unit->last_seen = commit_ms;
    return 0;
}

static int replay_flushed(void *ctx, int64_t series, int64_t before)
{
    struct replay *r = ctx;
    if (head_flushed(r->s->head, series, before) != 0)
        return -1;
    head_reclaim(r->s->head); /* no reader yet: drops at once */
    return 0;
}

static int open_head(struct store *s)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s-head", s->path) >= (int)sizeof path) {
        log_error("store: %s: path too long", s->path);
        return -1;
    }
    if (head_create(&s->head) != 0) {
        log_error("store: out of memory");
        return -1;
    }
    struct replay r = {.s = s};
    struct headlog_replay cb = {replay_sample, replay_flushed, &r};
    uint64_t replayed = 0;
    if (headlog_open(&s->log, path, &cb, &replayed) != 0)
        return -1;
    if (r.unknown)
        log_warn("store: %s: %llu samples of series the database does not know were skipped", path,
                 (unsigned long long)r.unknown);
    struct head_stats hs;
    head_get_stats(s->head, &hs);
    if (replayed)
        log_info("store: %s replayed: %llu samples, %llu in the head of %llu series", path,
                 (unsigned long long)replayed, (unsigned long long)hs.points,
                 (unsigned long long)hs.series);
    return 0;
}

void store_set_head_max(struct store *s, uint64_t points)
{
    s->head_max = points;
}

int store_sync_fd(struct store *s)
{
    return headlog_dup_fd(s->log);
}

struct head *store_head(struct store *s)
{
    return s->head;
}

int store_open(struct store **out, const char *path)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        log_error("store: out of memory");
        free(s);
        return -1;
    }
    dict_init(&s->series);
    dict_init(&s->units);
    s->max_series = STORE_DEFAULT_MAX_SERIES;
    s->max_units = STORE_DEFAULT_MAX_UNITS;
    s->max_unit_series = STORE_DEFAULT_MAX_SERIES_PER_UNIT;
    create_private(path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        log_error("store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
        goto fail;
    }
    /* The loop waits this long for another writer (a backup, the sqlite3
     * shell): short, since everything on the loop waits with it. A longer
     * hold fails the group with SQLITE_BUSY, and ingest tries it again
     * later (STORE_RETRY) instead of blocking the loop. */
    sqlite3_busy_handler(s->db, on_busy, s);
    if (exec_sql(s->db, pragmas) != 0 ||
        store_set_wal_size_limit(s, STORE_DEFAULT_WAL_SIZE_LIMIT) != 0 || migrate(s->db, path) != 0)
        goto fail;
    if (db_prepare_all(s->db, stmt_sql, s->stmt, ST_COUNT, "store") != 0)
        goto fail;
    if (chunkstore_open(&s->chunks, s->db) != 0 || store_convert(s->db, s->chunks, path) != 0 ||
        load_caches(s) != 0 || open_head(s) != 0)
        goto fail;
    s->opened = true;
    s->head_max = STORE_DEFAULT_HEAD_MAX_POINTS;
    s->units_written_ms = s->seen_written_ms = util_now_ms();
    s->stats.writable = true;
    log_info("store: %s open (schema %d, %llu series, %llu units)", path, schema_version,
             (unsigned long long)s->stats.series, (unsigned long long)s->stats.units);
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

static int write_lagging_rows(struct store *s, bool seen, bool series);
static int flush_all(struct store *s);
static int step_done(struct store *s, sqlite3_stmt *st);

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->in_group)
        store_commit(s);
    /* The head as chunk rows, then the rows kept back (units' last_seen and
     * position, series' last). What fails stays in the log for next start. */
    if (s->opened && flush_all(s) != 0)
        log_error("store: writing the head at close failed: the log keeps it for the next start");
    if (s->opened && store_begin(s) == 0) {
        s->in_group = false;
        if (write_lagging_rows(s, true, true) != 0 || step_done(s, s->stmt[ST_COMMIT]) != 0) {
            log_error("store: writing the units' and series' rows at close: %s",
                      sqlite3_errmsg(s->db));
            if (sqlite3_get_autocommit(s->db) == 0)
                step_done(s, s->stmt[ST_ROLLBACK]);
        }
    }
    headlog_close(s->log);
    head_free(s->head);
    chunkstore_close(s->chunks);
    free(s->flushed);
    free(s->group);
    db_finalize_all(s->stmt, ST_COUNT);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        log_error("store: closing %s: %s", s->path, sqlite3_errmsg(s->db));
    drop_caches(s);
    free(s->path);
    free(s);
}

/* Runs a statement that returns no rows, then resets it. */
static int step_done(struct store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        s->last_error = sqlite3_errcode(s->db) & 0xff;
        log_limited(&s->write_errors, LOG_LVL_ERROR, "store: %s: %s", sqlite3_sql(st),
                    sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* A failure that may pass: the database busy or locked by another process,
 * the disk full or failing, memory short, the file read-only for now. What
 * SQLite says is wrong with the statement itself fails again if retried. */
static bool retryable(int code)
{
    return code != SQLITE_CONSTRAINT && code != SQLITE_TOOBIG && code != SQLITE_MISMATCH &&
           code != SQLITE_RANGE;
}

/* A database another process is writing (or pantaud's own checkpoint, for
 * a moment) is busy, not unwritable: health says so only if ingest stays
 * held back (ingest.h). */
static void write_failed(struct store *s)
{
    if (s->last_error != SQLITE_BUSY && s->last_error != SQLITE_LOCKED)
        s->stats.writable = false;
    s->failed_at_ms = util_now_ms();
    s->stats.last_error = s->last_error;
}

int store_begin(struct store *s)
{
    if (s->in_group)
        return 0;
    if (step_done(s, s->stmt[ST_BEGIN]) != 0)
        return -1;
    s->in_group = true;
    s->group_since_ns = util_mono_ns();
    s->group_samples = 0;
    s->group_failed = 0;
    return 0;
}

bool store_in_group(const struct store *s, uint64_t *since_ns)
{
    if (since_ns)
        *since_ns = s->group_since_ns;
    return s->in_group;
}

static struct unit *unit_find(const struct store *s, const char *program, const char *name)
{
    char key[KEY_MAX];
    size_t n = unit_key(key, sizeof key, program, name);
    return n ? dict_get(&s->units, key, n) : NULL;
}

/* The sample's series, created if new. NULL with *limit set when a new
 * series would pass a limit (nothing written), else NULL on a failure. */
static struct series *series_get(struct store *s, const struct sample *smp, int64_t arrival_ms,
                                 struct unit **unit, int *limit)
{
    char key[KEY_MAX];
    size_t n = series_key(key, sizeof key, smp->program, smp->unit, smp->metric, smp->labels_json);
    struct series *se = dict_get(&s->series, key, n);
    if (se)
        return se;
    /* A unit inventing label values (a timestamp as a label, say) would
     * grow memory and the database without end: refuse its new series, and
     * only its own (max_series is the guard over all units together). */
    if (*unit && (*unit)->n_series >= s->max_unit_series) {
        *limit = STORE_UNIT_SERIES_LIMIT;
        return NULL;
    }
    if (s->stats.series >= s->max_series) {
        *limit = STORE_SERIES_LIMIT;
        return NULL;
    }

    sqlite3_stmt *st = s->stmt[ST_INSERT_SERIES];
    sqlite3_bind_text(st, 1, smp->program, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, smp->unit, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, smp->metric, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, smp->labels_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, arrival_ms);
    if (step_done(s, st) != 0)
        return NULL;
    se = calloc(1, sizeof *se);
    if (!se || dict_put(&s->series, key, n, se) != 0) {
        free(se);
        s->last_error = SQLITE_NOMEM; /* a retry may find memory */
        log_limited(&s->write_errors, LOG_LVL_ERROR, "store: out of memory for a series");
        return NULL;
    }
    se->id = sqlite3_last_insert_rowid(s->db);
    se->row_last_ts = INT64_MIN;
    if (index_series(s, se) != 0) {
        s->last_error = SQLITE_NOMEM;
        log_limited(&s->write_errors, LOG_LVL_ERROR, "store: out of memory for a series");
        return NULL; /* the rollback that follows rebuilds the caches */
    }
    s->stats.series++;
    if (!*unit)
        *unit = unit_get(s, smp->program, smp->unit);
    if (*unit)
        (*unit)->n_series++;
    se->unit = *unit;
    return se;
}

static struct unit *unit_get(struct store *s, const char *program, const char *name)
{
    char key[KEY_MAX];
    size_t n = unit_key(key, sizeof key, program, name);
    struct unit *u = dict_get(&s->units, key, n);
    if (u)
        return u;
    u = calloc(1, sizeof *u);
    if (!u || dict_put(&s->units, key, n, u) != 0) {
        free(u);
        log_limited(&s->write_errors, LOG_LVL_ERROR, "store: out of memory for a unit");
        return NULL;
    }
    snprintf(u->program, sizeof u->program, "%s", program);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->online = -1;
    s->stats.units++;
    return u;
}

static void unit_mark_dirty(struct store *s, struct unit *u)
{
    if (!u->dirty) {
        u->dirty = true;
        u->next_dirty = s->dirty_units;
        s->dirty_units = u;
    }
}

static void roll_back(struct store *s, bool lost);

/* The sample into the group's log record, and kept for the head: it enters
 * the head (where readers see it) once the group has committed. */
static int put_sample(struct store *s, int64_t series, const struct sample *smp)
{
    if (s->n_group == s->group_cap) {
        size_t cap = s->group_cap ? s->group_cap * 2 : 1024;
        struct group_point *g = realloc(s->group, cap * sizeof *g);
        if (!g) {
            s->last_error = SQLITE_NOMEM;
            log_limited(&s->write_errors, LOG_LVL_ERROR, "store: out of memory for a sample");
            return -1;
        }
        s->group = g;
        s->group_cap = cap;
    }
    if (headlog_add(s->log, series, smp->ts, smp->value) != 0) {
        s->last_error = SQLITE_NOMEM; /* a retry may find memory */
        log_limited(&s->write_errors, LOG_LVL_ERROR, "store: out of memory for a sample");
        return -1;
    }
    struct series *se = series_by_id(s, series);
    s->group[s->n_group++] = (struct group_point){series,       smp->ts,     smp->value,
                                                  se->has_last, se->last_ts, se->last_value};
    return 0;
}

/* The group's effect on the series' last, undone newest first. */
static void undo_last(struct store *s)
{
    for (size_t i = s->n_group; i-- > 0;) {
        struct series *se = series_by_id(s, s->group[i].series);
        if (se) {
            se->has_last = s->group[i].had_last;
            se->last_ts = s->group[i].prev_ts;
            se->last_value = s->group[i].prev_value;
        }
    }
}

/* The committed group into the head. A point the head has no memory for
 * is in the log (a restart puts it back) but not readable until then. */
static void group_to_head(struct store *s)
{
    uint64_t lost = 0;
    for (size_t i = 0; i < s->n_group; i++)
        if (head_put(s->head, s->group[i].series, s->group[i].ts, s->group[i].value, NULL) ==
            HEAD_NOMEM)
            lost++;
    if (lost)
        log_limited(&s->write_errors, LOG_LVL_ERROR,
                    "store: out of memory: %llu committed samples are readable only after a "
                    "restart",
                    (unsigned long long)lost);
    s->n_group = 0;
}

int store_append(struct store *s, const struct sample *smp, int64_t arrival_ms, int64_t *series_id)
{
    if (store_begin(s) != 0) {
        write_failed(s);
        if (retryable(s->last_error))
            return STORE_RETRY;
        s->stats.lost_total++;
        return STORE_REFUSED;
    }
    /* Limits refuse before anything is written: not a write failure. */
    struct unit *u = unit_find(s, smp->program, smp->unit);
    if (!u && s->stats.units >= s->max_units)
        return STORE_UNIT_LIMIT;
    int limit = 0;
    struct series *se = series_get(s, smp, arrival_ms, &u, &limit);
    if (!se && limit)
        return limit;
    if (!se || put_sample(s, se->id, smp) != 0) {
        if (retryable(s->last_error)) { /* the whole group waits for another try */
            s->in_group = false;
            roll_back(s, false);
            return STORE_RETRY;
        }
        s->group_failed++;
        /* Usually SQLite undid only the statement and the group goes on; but
         * it may have rolled back the whole transaction, and later
         * statements must not run outside one. */
        if (sqlite3_get_autocommit(s->db)) {
            log_limited(&s->write_errors, LOG_LVL_ERROR,
                        "store: SQLite rolled back a transaction of %llu samples",
                        (unsigned long long)s->group_samples);
            s->in_group = false;
            roll_back(s, true);
            return STORE_GROUP_LOST;
        }
        return STORE_REFUSED;
    }
    s->group_samples++;
    if (series_id)
        *series_id = se->id;

    /* The series' "last" is the sample with the latest device time, not the
     * latest arrival: a flushed offline buffer must not move it back. */
    if (!se->has_last || smp->ts >= se->last_ts) {
        se->has_last = true;
        se->last_ts = smp->ts;
        se->last_value = smp->value;
    }
    if (!u && !(u = unit_get(s, smp->program, smp->unit)))
        return STORE_OK; /* the sample is stored; only the unit's bookkeeping failed */
    /* last_seen and the position reach the unit's row with the next batch
     * of lagging rows (store_flush), not with this group: a unit's every
     * commit rewrote the units page. The head log brings last_seen back
     * after a crash (store.h). */
    if (arrival_ms > u->last_seen)
        u->last_seen = arrival_ms;
    if (smp->has_position && smp->ts >= u->pos_ts) {
        u->has_pos = true;
        u->lat = smp->lat;
        u->lon = smp->lon;
        u->pos_ts = smp->ts;
    }
    return STORE_OK;
}

int store_put_point(struct store *s, int64_t series, int64_t ts, double value)
{
    struct series *se = series_by_id(s, series);
    if (!se)
        return STORE_REFUSED;
    if (store_begin(s) != 0)
        return STORE_RETRY;
    struct sample smp = {.ts = ts, .value = value};
    if (put_sample(s, series, &smp) != 0)
        return STORE_RETRY;
    s->group_samples++;
    if (!se->has_last || ts >= se->last_ts) {
        se->has_last = true;
        se->last_ts = ts;
        se->last_value = value;
    }
    return STORE_OK;
}

int store_presence(struct store *s, const char *program, const char *unit, bool online,
                   int64_t ts_ms, bool heard)
{
    if (store_begin(s) != 0) {
        write_failed(s);
        return retryable(s->last_error) ? STORE_RETRY : STORE_REFUSED;
    }
    struct unit *u = unit_find(s, program, unit);
    if (!u && s->stats.units >= s->max_units)
        return STORE_UNIT_LIMIT; /* a made-up unit's $status must not grow memory */
    if (!u && !(u = unit_get(s, program, unit)))
        return STORE_REFUSED;
    u->online = online;
    u->status_ts = ts_ms;
    if (heard && ts_ms > u->last_seen)
        u->last_seen = ts_ms;
    unit_mark_dirty(s, u);
    return STORE_OK;
}

static int write_unit(struct store *s, struct unit *u)
{
    sqlite3_stmt *st = s->stmt[ST_UPSERT_UNIT];
    sqlite3_bind_text(st, 1, u->program, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->name, -1, SQLITE_STATIC);
    if (u->online >= 0) {
        sqlite3_bind_int(st, 3, u->online);
        sqlite3_bind_int64(st, 4, u->status_ts);
    }
    sqlite3_bind_int64(st, 5, u->last_seen);
    if (u->has_pos) {
        sqlite3_bind_double(st, 6, u->lat);
        sqlite3_bind_double(st, 7, u->lon);
        sqlite3_bind_int64(st, 8, u->pos_ts);
    }
    if (step_done(s, st) != 0)
        return -1;
    u->row_last_seen = u->last_seen; /* a rollback reloads the cache anyway */
    u->row_pos_ts = u->pos_ts;
    return 0;
}

static int flush_units(struct store *s)
{
    for (struct unit *u = s->dirty_units; u; u = u->next_dirty) {
        u->dirty = false;
        if (write_unit(s, u) != 0)
            return -1;
    }
    s->dirty_units = NULL;
    return 0;
}

/* The series' rows hold their last only as of the last flush: after the
 * caches are reloaded, the head's newer points put "last" right again. */
static void restore_from_head(struct store *s)
{
    for (size_t id = 1; id < s->by_id_cap; id++) {
        struct series *se = s->by_id[id];
        struct chunk_point p;
        if (se && head_last(s->head, se->id, &p) && (!se->has_last || p.ts >= se->last_ts)) {
            se->has_last = true;
            se->last_ts = p.ts;
            se->last_value = p.value;
        }
    }
}

/* After a rollback the caches may name series the database never got:
 * rebuild them from what was committed. With lost false the caller keeps
 * the group's samples and will append them again. */
static void roll_back(struct store *s, bool lost)
{
    int error = s->last_error; /* the failure, not the ROLLBACK's */
    if (sqlite3_get_autocommit(s->db) == 0)
        step_done(s, s->stmt[ST_ROLLBACK]);
    s->last_error = error;
    headlog_discard(s->log);
    s->n_group = 0;
    s->stats.commit_errors++;
    if (lost)
        s->stats.lost_total += s->group_samples + s->group_failed;
    else
        s->stats.retries++;
    write_failed(s);
    drop_caches(s);
    if (load_caches(s) != 0)
        log_error("store: caches could not be reloaded after a rollback");
    restore_from_head(s);
}

int store_commit(struct store *s)
{
    if (!s->in_group)
        return STORE_OK;
    s->in_group = false;
    /* The rows first (new series, presence), then the samples' log record,
     * which names those series by id. */
    if (flush_units(s) != 0 || step_done(s, s->stmt[ST_COMMIT]) != 0) {
        bool retry = retryable(s->last_error);
        log_limited(&s->write_errors, LOG_LVL_ERROR, "store: transaction of %llu samples %s",
                    (unsigned long long)s->group_samples,
                    retry ? "rolled back, to be tried again" : "rolled back and lost");
        roll_back(s, !retry);
        return retry ? STORE_RETRY : STORE_REFUSED;
    }
    if (headlog_commit(s->log, util_now_ms()) != 0) {
        s->last_error = errno == ENOSPC ? SQLITE_FULL : SQLITE_IOERR;
        undo_last(s);
        log_limited(&s->write_errors, LOG_LVL_ERROR,
                    "store: the head log refused a group of %llu samples, to be tried again",
                    (unsigned long long)s->group_samples);
        headlog_discard(s->log);
        s->n_group = 0;
        s->stats.commit_errors++;
        s->stats.retries++;
        write_failed(s);
        return STORE_RETRY;
    }
    group_to_head(s);
    s->stats.stored_total += s->group_samples;
    s->stats.commits++;
    s->stats.lost_total += s->group_failed;
    if (s->group_failed) {
        write_failed(s); /* what committed is in; health says the rest is not */
        return STORE_OK;
    }
    if (!s->stats.writable)
        log_limit_clear(&s->write_errors, LOG_LVL_INFO, "store: writes succeed again");
    s->stats.writable = true;
    s->stats.last_error = 0;
    return STORE_OK;
}

const char *store_error_text(int code)
{
    return code ? sqlite3_errstr(code) : "no error";
}

struct sqlite3 *store_db(struct store *s)
{
    return s->db;
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
    *out = s->stats;
    out->corrupt = store_corrupt();
    struct head_stats hs;
    head_get_stats(s->head, &hs);
    out->head_points = hs.points;
    out->head_bytes = hs.bytes;
    struct headlog_stats ls;
    headlog_get_stats(s->log, &ls);
    out->log_bytes = ls.size;
}

/* ---- read access to the in-memory caches (loop thread) ---- */

struct each_series_ctx {
    store_series_fn fn;
    void *ctx;
};

static void visit_series(void *ctx, const char *key, void *value)
{
    struct each_series_ctx *e = ctx;
    const struct series *se = value;
    char copy[KEY_MAX];
    char *parts[4];
    snprintf(copy, sizeof copy, "%s", key);
    char *p = copy;
    for (int i = 0; i < 4; i++) {
        parts[i] = p;
        p = strchr(p, '\x1f');
        if (p)
            *p++ = '\0';
        else if (i < 3)
            return; /* cannot happen: keys are built by series_key */
    }
    struct store_series_view v = {.program = parts[0],
                                  .unit = parts[1],
                                  .metric = parts[2],
                                  .labels_json = parts[3],
                                  .id = se->id,
                                  .has_last = se->has_last,
                                  .last_ts = se->last_ts,
                                  .last_value = se->last_value};
    e->fn(e->ctx, &v);
}

void store_each_series(const struct store *s, store_series_fn fn, void *ctx)
{
    struct each_series_ctx e = {fn, ctx};
    dict_each(&s->series, visit_series, &e);
}

struct scan_series_ctx {
    store_series_scan_fn fn;
    void *ctx;
    bool more; /* fn's answer for the last series */
};

static void scan_one(void *ctx, const struct store_series_view *v)
{
    struct scan_series_ctx *sc = ctx;
    sc->more = sc->fn(sc->ctx, v);
}

/* dict_scan's callback: visit_series with fn's answer carried back. */
static bool scan_visit(void *ctx, const char *key, void *value)
{
    struct scan_series_ctx *sc = ctx;
    struct each_series_ctx e = {scan_one, sc};
    sc->more = true;
    visit_series(&e, key, value);
    return sc->more;
}

bool store_scan_series(const struct store *s, struct store_series_cursor *cur, size_t max_slots,
                       store_series_scan_fn fn, void *ctx)
{
    struct scan_series_ctx sc = {fn, ctx, true};
    return dict_scan(&s->series, &cur->at, max_slots, scan_visit, &sc);
}

struct each_unit_ctx {
    store_unit_fn fn;
    void *ctx;
};

static void visit_unit(void *ctx, const char *key, void *value)
{
    struct each_unit_ctx *e = ctx;
    const struct unit *u = value;
    struct store_unit_view v = {.program = u->program,
                                .unit = u->name,
                                .online = u->online,
                                .status_ts = u->status_ts,
                                .last_seen = u->last_seen,
                                .has_position = u->has_pos,
                                .lat = u->lat,
                                .lon = u->lon};
    e->fn(e->ctx, &v);
}

void store_each_unit(const struct store *s, store_unit_fn fn, void *ctx)
{
    struct each_unit_ctx e = {fn, ctx};
    dict_each(&s->units, visit_unit, &e);
}

int store_get_unit(const struct store *s, const char *program, const char *unit,
                   struct store_unit_view *out)
{
    const struct unit *u = unit_find(s, program, unit);
    if (!u)
        return -1;
    *out = (struct store_unit_view){.program = u->program,
                                    .unit = u->name,
                                    .online = u->online,
                                    .status_ts = u->status_ts,
                                    .last_seen = u->last_seen,
                                    .has_position = u->has_pos,
                                    .lat = u->lat,
                                    .lon = u->lon};
    return 0;
}

/* ---- flushing the head into chunk rows ---- */

struct lagging_ctx {
    struct store *s;
    bool seen; /* last_seen alone is reason enough to write a row */
    int failed;
};

static bool unit_lags(const struct unit *u, bool seen)
{
    return u->pos_ts != u->row_pos_ts || (seen && u->last_seen != u->row_last_seen);
}

static void write_lagging_unit(void *ctx, const char *key, void *value)
{
    struct lagging_ctx *c = ctx;
    struct unit *u = value;
    if (!c->failed && unit_lags(u, c->seen))
        c->failed = write_unit(c->s, u) != 0;
}

/* The series' row gets the cache's last, if it is behind. */
static int write_series_last(struct store *s, struct series *se)
{
    if (!se || !se->has_last || se->last_ts == se->row_last_ts)
        return 0;
    sqlite3_stmt *st = s->stmt[ST_UPDATE_SERIES];
    sqlite3_bind_int64(st, 1, se->id);
    sqlite3_bind_int64(st, 2, se->last_ts);
    sqlite3_bind_double(st, 3, se->last_value);
    if (step_done(s, st) != 0)
        return -1;
    se->row_last_ts = se->last_ts;
    return 0;
}

/* In the open transaction: units whose row's position lags, with `seen`
 * also those whose last_seen lags, and with `series` every series whose
 * row's last is behind the cache (at close: while a series has points in
 * the head, readers take its last from there, and its flush writes it). */
static int write_lagging_rows(struct store *s, bool seen, bool series)
{
    for (size_t id = 1; series && id < s->by_id_cap; id++)
        if (write_series_last(s, s->by_id[id]) != 0)
            return -1;
    struct lagging_ctx c = {s, seen, 0};
    dict_each(&s->units, write_lagging_unit, &c);
    return c.failed ? -1 : 0;
}

/* head_each_before's callback: the series' points before the flush line,
 * an hour at a time, merged into its chunk rows. */
static int flush_one(void *ctx, int64_t series, const struct chunk_point *pts, size_t n)
{
    struct store *s = ctx;
    if (s->n_flushed == s->flushed_cap) {
        size_t cap = s->flushed_cap ? s->flushed_cap * 2 : 256;
        int64_t *p = realloc(s->flushed, cap * sizeof *p);
        if (!p) {
            s->last_error = SQLITE_NOMEM;
            s->flush_failed = true;
            return 1;
        }
        s->flushed = p;
        s->flushed_cap = cap;
    }
    for (size_t i = 0; i < n;) {
        int64_t end = rollup_floor(pts[i].ts, ROLLUP_HOUR_MS) + ROLLUP_HOUR_MS;
        size_t j = i + 1;
        while (j < n && pts[j].ts < end)
            j++;
        if (chunkstore_put_hour(s->chunks, series, pts + i, j - i) != 0) {
            s->last_error = sqlite3_errcode(s->db) & 0xff;
            log_limited(&s->write_errors, LOG_LVL_ERROR, "store: writing chunk rows: %s",
                        sqlite3_errmsg(s->db));
            s->flush_failed = true;
            return 1;
        }
        i = j;
    }
    /* Readers take "last" from the row once the head lets the points go;
     * and once the log lets them go, a restart takes the unit's last_seen
     * from its row. */
    struct series *se = series_by_id(s, series);
    if (write_series_last(s, se) != 0 ||
        (se && se->unit && unit_lags(se->unit, true) && write_unit(s, se->unit) != 0)) {
        s->flush_failed = true;
        return 1;
    }
    s->flushed[s->n_flushed++] = series;
    return 0;
}

/* After the flush committed: the head lets the points go (once no reader
 * needs them), and the log says so, so a restart does not flush them again. */
static void flushed(struct store *s, int64_t before, int64_t now_ms)
{
    for (size_t i = 0; i < s->n_flushed; i++) {
        head_flushed(s->head, s->flushed[i], before);
        headlog_add_flushed(s->log, s->flushed[i], before);
    }
    if (s->n_flushed && headlog_commit(s->log, now_ms) != 0)
        headlog_discard(s->log); /* harmless: a restart flushes them again */
    s->n_flushed = 0;
}

static void forget_unit_row(void *ctx, const char *key, void *value)
{
    struct unit *u = value;
    u->row_last_seen = u->row_pos_ts = 0;
}

/* A flush rolled back undid the rows it had written (the series' last, the
 * units' last_seen and position), but not the caches' note of what the rows
 * hold: without this, the next flush and the close skipped those rows for
 * good. The flushed series' rows, and with the lagging batch every row,
 * are written again by the next flush. */
static void forget_row_writes(struct store *s, bool all)
{
    for (size_t i = 0; i < s->n_flushed; i++) {
        struct series *se = series_by_id(s, s->flushed[i]);
        if (se)
            se->row_last_ts = INT64_MIN;
        if (se && se->unit)
            se->unit->row_last_seen = se->unit->row_pos_ts = 0;
    }
    if (!all)
        return;
    for (size_t id = 1; id < s->by_id_cap; id++)
        if (s->by_id[id])
            s->by_id[id]->row_last_ts = INT64_MIN;
    dict_each(&s->units, forget_unit_row, NULL);
}

/* store_flush's work, for points with ts < before. */
static int flush_before(struct store *s, int64_t before, int64_t now_ms, size_t max_series)
{
    head_reclaim(s->head);
    bool units_due = now_ms - s->units_written_ms >= STORE_POSITION_LAG_MS;
    bool seen_due = now_ms - s->seen_written_ms >= STORE_LAST_SEEN_LAG_MS;
    s->n_flushed = 0;
    s->flush_failed = false;
    if (step_done(s, s->stmt[ST_BEGIN]) != 0)
        goto fail;
    size_t n = head_each_before(s->head, before, max_series, flush_one, s);
    if (s->flush_failed || (units_due && write_lagging_rows(s, seen_due, false) != 0) ||
        step_done(s, s->stmt[ST_COMMIT]) != 0)
        goto fail;
    if (units_due)
        s->units_written_ms = now_ms;
    if (units_due && seen_due)
        s->seen_written_ms = now_ms;
    flushed(s, before, now_ms);
    head_reclaim(s->head);
    struct head_stats hs;
    head_get_stats(s->head, &hs);
    if (headlog_wants_compaction(s->log, hs.bytes, STORE_HEADLOG_MIN_COMPACT))
        headlog_compact(s->log, s->head, now_ms);
    return (int)n;
fail:
    if (sqlite3_get_autocommit(s->db) == 0)
        step_done(s, s->stmt[ST_ROLLBACK]);
    forget_row_writes(s, units_due);
    s->n_flushed = 0;
    write_failed(s);
    return STORE_RETRY;
}

int store_flush(struct store *s, int64_t now_ms, size_t max_series)
{
    if (s->in_group)
        return 0; /* never inside a group: groups do not span loop callbacks */
    /* A head past its bound (a flood of samples, hostile or not) is written
     * out whole, hours still open included: later samples of those hours
     * merge into the rows. Memory stays bounded; the disk pays. */
    struct head_stats hs;
    head_get_stats(s->head, &hs);
    if (hs.points > s->head_max)
        return flush_before(s, INT64_MAX, now_ms, max_series);
    return flush_before(s, rollup_floor(now_ms - STORE_FLUSH_GRACE_MS, ROLLUP_HOUR_MS), now_ms,
                        max_series);
}

/* A clean stop writes the whole head as chunk rows and empties the log, so
 * that the database alone holds everything: a copy of the file, the sqlite3
 * shell, or a tool reading it sees every sample. Returns 0 or -1. */
static int flush_all(struct store *s)
{
    int64_t now = util_now_ms();
    /* Bounded: a reader still inside keeps flushed points in the head, and
     * they would be offered again. */
    int n = 0;
    for (uint64_t round = 0; round <= s->stats.series / 1024 + 1; round++)
        if ((n = flush_before(s, INT64_MAX, now, 1024)) != 1024)
            break;
    if (n < 0)
        return -1;
    head_reclaim(s->head);
    return headlog_compact(s->log, s->head, now) < 0 ? -1 : 0;
}

int store_prune(struct store *s, int64_t now_ms, int retention_days, int max_rows)
{
    /* Retention runs in its own transaction: commit the open group first. */
    if (s->in_group && store_commit(s) != 0)
        return -1;
    int64_t horizon =
        rollup_floor(now_ms - (int64_t)retention_days * ROLLUP_DAY_MS, ROLLUP_HOUR_MS);
    if (step_done(s, s->stmt[ST_BEGIN]) != 0)
        return -1;
    int done = 0;
    size_t visited = 0;
    if (s->prune_next <= 0)
        s->prune_next = 1; /* a pass starts */
    while (done < max_rows && visited < PRUNE_SERIES_PER_CALL &&
           (size_t)s->prune_next < s->by_id_cap) {
        int64_t id = s->prune_next++;
        visited++;
        if (!s->by_id[id])
            continue;
        int n = chunkstore_prune(s->chunks, id, horizon, max_rows - done);
        if (n < 0) {
            done = -1;
            break;
        }
        done += n;
    }
    if (done < 0 || step_done(s, s->stmt[ST_COMMIT]) != 0) {
        if (sqlite3_get_autocommit(s->db) == 0)
            step_done(s, s->stmt[ST_ROLLBACK]);
        log_error("store: retention: %s", sqlite3_errmsg(s->db));
        return -1;
    }
    if ((size_t)s->prune_next < s->by_id_cap)
        return max_rows; /* the pass goes on: more may be waiting */
    s->prune_next = 0;
    return done;
}

#define PROBE_AFTER_MS 10000

int store_probe_writable(struct store *s)
{
    /* Health reports a failure for at least PROBE_AFTER_MS before a probe
     * may clear it: a probe that passes says little about the write that
     * failed, but lets health recover when nothing else is written. */
    if (s->stats.writable || s->in_group || util_now_ms() - s->failed_at_ms < PROBE_AFTER_MS)
        return s->stats.writable ? 0 : -1;
    /* Rewriting the schema version (same value) goes through the whole write
     * path: lock, journal, header page, commit. */
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; PRAGMA user_version = %d; COMMIT;", schema_version);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        if (sqlite3_get_autocommit(s->db) == 0)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    s->stats.writable = true;
    s->stats.last_error = 0;
    log_limit_clear(&s->write_errors, LOG_LVL_INFO, "store: writes succeed again");
    return 0;
}

void store_test_age_failure(struct store *s, int64_t ms)
{
    s->failed_at_ms -= ms;
}

int store_test_exec(struct store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int store_set_autocheckpoint(struct store *s, bool on)
{
    return exec_sql(s->db,
                    on ? "PRAGMA wal_autocheckpoint = 20000" : "PRAGMA wal_autocheckpoint = 0");
}

/* SQLite truncates the WAL on the writer's connection, at the commit after
 * a restart: the limit must be set on this one, not the checkpointer's.
 * Truncation cuts only frames already copied, so nothing is at stake. */
int store_set_wal_size_limit(struct store *s, int64_t bytes)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %lld", (long long)bytes);
    return exec_sql(s->db, sql);
}

void store_set_max_series(struct store *s, uint64_t max_series)
{
    s->max_series = max_series;
}

void store_set_unit_limits(struct store *s, uint64_t max_units, uint64_t max_series_per_unit)
{
    s->max_units = max_units;
    s->max_unit_series = max_series_per_unit;
}
