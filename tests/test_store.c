/* test_store.c — the store against real SQLite files in a temp dir. */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "checkpoint.h"
#include "harness.h"
#include "headlog.h"
#include "schema.h"
#include "store.h"
#include "util.h"

static char db_path[512];

/* A fresh database path per case. */
static const char *fresh_db(const char *name)
{
    snprintf(db_path, sizeof db_path, "%s/%s.db", harness_tmpdir(), name);
    unlink(db_path);
    return db_path;
}

static struct sample sample(const char *metric, const char *labels, int64_t ts, double v)
{
    struct sample s = {.program = "simas-bapokting",
                       .unit = "pasar-bandar-jaya",
                       .metric = metric,
                       .labels_json = labels,
                       .ts = ts,
                       .value = v};
    return s;
}

#define T0 1795000000000LL

TEST(store_creates_schema)
{
    struct store *s;
    const char *p = fresh_db("schema");
    CHECK(store_open(&s, p) == 0);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "PRAGMA user_version"), schema_version);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('series','chunks','units')"),
              3);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = "
                                 "'wal'"),
              1);
}

TEST(store_refuses_newer_schema)
{
    struct store *s;
    sqlite3 *db;
    const char *p = fresh_db("newer");
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(store_open(&s, p) != 0);
}

TEST(store_duplicate_replaces)
{
    struct store *s;
    const char *p = fresh_db("dup");
    CHECK(store_open(&s, p) == 0);
    struct sample a = sample("price", "{\"commodity\":\"beras-medium\"}", T0, 14500);
    struct sample b = sample("price", "{\"commodity\":\"beras-medium\"}", T0, 14700);
    CHECK(store_append(s, &a, T0 + 5, NULL) == 0);
    CHECK(store_commit(s) == 0);
    CHECK(store_append(s, &b, T0 + 9, NULL) == 0);
    CHECK(store_append(s, &b, T0 + 9, NULL) == 0); /* twice in one group, too */
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 1);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series"), 1);
    CHECK_DBL(harness_sql_double(p, "SELECT last_value FROM chunks"), 14700);
    CHECK_DBL(harness_sql_double(p, "SELECT sum_value FROM chunks"), 14700); /* not 29200 */
}

TEST(store_labels_make_distinct_series)
{
    struct store *s;
    const char *p = fresh_db("labels");
    CHECK(store_open(&s, p) == 0);
    struct sample a = sample("price", "{\"commodity\":\"beras-medium\"}", T0, 14500);
    struct sample b = sample("price", "{\"commodity\":\"gula-pasir\"}", T0, 17000);
    struct sample c = sample("price", "{}", T0, 1);
    CHECK(store_append(s, &a, T0, NULL) == 0);
    CHECK(store_append(s, &b, T0, NULL) == 0);
    CHECK(store_append(s, &c, T0, NULL) == 0);
    CHECK(store_commit(s) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(st.series, 3);
    CHECK_INT(st.stored_total, 3);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 3);
}

TEST(store_late_and_out_of_order)
{
    struct store *s;
    const char *p = fresh_db("late");
    CHECK(store_open(&s, p) == 0);
    /* Arrival order 3, 1, 2 (an offline buffer flushed late). */
    int64_t order[] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        struct sample x = sample("stock", "{}", T0 + order[i] * 1000, (double)order[i]);
        CHECK(store_append(s, &x, T0 + 10000 + i, NULL) == 0);
    }
    CHECK(store_commit(s) == 0);
    /* A sample older than all of them, in a later group. */
    struct sample old = sample("stock", "{}", T0 - 86400000, 0.5);
    CHECK(store_append(s, &old, T0 + 20000, NULL) == 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 4);
    /* "last" follows device time, not arrival: the late flush must not move it back. */
    CHECK_INT(harness_sql_int(p, "SELECT last_ts FROM series"), T0 + 3000);
    CHECK_DBL(harness_sql_double(p, "SELECT last_value FROM series"), 3);
    CHECK_INT(harness_sql_int(p, "SELECT min(start) FROM chunks"), T0 - 86400000);
}

TEST(store_reopen_keeps_series_and_units)
{
    struct store *s;
    const char *p = fresh_db("reopen");
    CHECK(store_open(&s, p) == 0);
    struct sample a = sample("price", "{\"commodity\":\"cabai-merah\"}", T0, 52000);
    a.has_position = true;
    a.lat = -4.9;
    a.lon = 105.2;
    CHECK(store_append(s, &a, T0, NULL) == 0);
    CHECK(store_presence(s, "simas-bapokting", "pasar-bandar-jaya", true, T0 + 1, true) == 0);
    store_close(s); /* commits the open group */

    CHECK(store_open(&s, p) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(st.series, 1);
    CHECK_INT(st.units, 1);
    /* The same series after reopening: an id from the cache, not a new row. */
    struct sample b = sample("price", "{\"commodity\":\"cabai-merah\"}", T0 + 60000, 53000);
    CHECK(store_append(s, &b, T0 + 60000, NULL) == 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series"), 1);
    CHECK_INT(harness_count_samples(p, NULL), 2);
    CHECK_INT(harness_sql_int(p, "SELECT last_ts FROM series"), T0 + 60000);
    CHECK_INT(harness_sql_int(p, "SELECT online FROM units"), 1);
    CHECK_INT(harness_sql_int(p, "SELECT last_seen FROM units"), T0 + 60000);
    CHECK_DBL(harness_sql_double(p, "SELECT lat FROM units"), -4.9);
}

/* A unit's last_seen is a cache of its samples' arrival: its row is
 * written by store_flush once the cache runs STORE_LAST_SEEN_LAG_MS ahead
 * of it (a position: STORE_POSITION_LAG_MS), so the committed rows (read
 * here by another connection while the store stays open) are at most that
 * far behind; what the store answers is exact, and a clean close writes it
 * exactly. Arrivals and the flushes' now_ms go a minute apart, as if 25
 * minutes went by; the samples' ts lie hours ahead, so no flush of their
 * hour writes the unit's row on the way. */
#define LAG_STEP_MS 60000

static int64_t unit_row_last_seen(const char *p)
{
    return harness_sql_int(p, "SELECT coalesce(max(last_seen), 0) FROM units");
}

TEST(store_unit_last_seen_row_lags_less_than_the_bound)
{
    struct store *s;
    const char *p = fresh_db("last_seen");
    CHECK(store_open(&s, p) == 0);
    const int64_t base = util_now_ms(); /* after the open: the first batches count from here */
    const int64_t ahead = base + 3 * 3600000;
    int writes = 0;
    int64_t row = 0;
    for (int i = 0; i <= 25; i++) {
        int64_t arrival = base + i * LAG_STEP_MS;
        struct sample x = sample("price", "{}", ahead + i, i);
        CHECK_INT(store_append(s, &x, arrival, NULL), 0);
        CHECK(store_commit(s) == 0);
        CHECK(store_flush(s, arrival, 1024) >= 0);
        int64_t now = unit_row_last_seen(p);
        /* Every arrival at least the bound (and a step) old is in the row. */
        if (arrival - base >= STORE_LAST_SEEN_LAG_MS)
            CHECK(now >= arrival - STORE_LAST_SEEN_LAG_MS - LAG_STEP_MS);
        CHECK(now <= arrival);
        writes += now != row;
        row = now;
        struct store_unit_view v;
        CHECK(store_get_unit(s, "simas-bapokting", "pasar-bandar-jaya", &v) == 0);
        CHECK_INT(v.last_seen, arrival);
    }
    CHECK_INT(writes, 2); /* at +10 and +20 minutes: not 26 */
    /* A position reaches the row within STORE_POSITION_LAG_MS; last_seen
     * alone does not go with it. */
    struct sample m = sample("price", "{}", ahead + 26, 26);
    m.has_position = true;
    m.lat = -4.9;
    m.lon = 105.2;
    int64_t at = base + 26 * LAG_STEP_MS;
    CHECK_INT(store_append(s, &m, at, NULL), 0);
    CHECK(store_commit(s) == 0);
    CHECK(store_flush(s, at + STORE_POSITION_LAG_MS, 1024) >= 0);
    CHECK_DBL(harness_sql_double(p, "SELECT lat FROM units"), -4.9);
    CHECK(unit_row_last_seen(p) >= at - STORE_LAST_SEEN_LAG_MS - LAG_STEP_MS);
    struct sample z = sample("price", "{}", ahead + 27, 27);
    CHECK_INT(store_append(s, &z, at + 1000, NULL), 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK_INT(unit_row_last_seen(p), at + 1000);
    CHECK_INT(harness_count_samples(p, NULL), 28); /* the close wrote the head */
    /* A group still open at close is committed, even with no unit behind. */
    CHECK(store_open(&s, p) == 0);
    struct sample w = sample("price", "{}", ahead + 28, 28);
    CHECK_INT(store_append(s, &w, at + 1000, NULL), 0);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 29);
}

/* A crash (the process gone with no store_close) loses nothing committed:
 * the head log's replay puts the samples back in the head and the unit's
 * last_seen back to the commit's time, though neither row was written. */
TEST(store_crash_replays_the_head_and_last_seen)
{
    struct store *s;
    const char *p = fresh_db("crash");
    int64_t before = util_now_ms();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (store_open(&s, p) != 0)
            _exit(1);
        for (int i = 0; i < 100; i++) {
            struct sample x = sample("price", "{}", T0 + i, i);
            if (store_append(s, &x, util_now_ms(), NULL) != 0 || store_commit(s) != 0)
                _exit(1);
        }
        _exit(0); /* as SIGKILL would: no close, no flush */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int64_t after = util_now_ms();
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM units"), 0);
    CHECK_INT(harness_count_samples(p, NULL), 0);
    CHECK(store_open(&s, p) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(st.head_points, 100);
    struct store_unit_view v;
    CHECK(store_get_unit(s, "simas-bapokting", "pasar-bandar-jaya", &v) == 0);
    CHECK(v.last_seen >= before && v.last_seen <= after);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 100);
    CHECK(unit_row_last_seen(p) >= before);
}

TEST(store_presence_offline)
{
    struct store *s;
    const char *p = fresh_db("presence");
    CHECK(store_open(&s, p) == 0);
    CHECK(store_presence(s, "pjs", "truck-07", true, T0, true) == 0);
    CHECK(store_presence(s, "pjs", "truck-07", false, T0 + 5, true) == 0);
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT online FROM units WHERE unit = 'truck-07'"), 0);
    CHECK_INT(harness_sql_int(p, "SELECT status_ts FROM units"), T0 + 5);
}

TEST(store_many_series_one_group)
{
    struct store *s;
    const char *p = fresh_db("many");
    char labels[64];
    CHECK(store_open(&s, p) == 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(labels, sizeof labels, "{\"kampung\":\"k%d\"}", i % 500);
        struct sample x = sample("documents_issued", labels, T0 + i, i);
        CHECK(store_append(s, &x, T0 + i, NULL) == 0);
    }
    CHECK(store_commit(s) == 0);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series"), 500);
    CHECK_INT(harness_count_samples(p, NULL), 5000);
    CHECK_INT(harness_sql_int(p, "SELECT sum(last_ts - 1795000000000) FROM series"),
              /* each series' last is its largest i: 4500..4999 */ (4500 + 4999) * 500 / 2);
}

TEST(store_unwritable_path_fails_cleanly)
{
    struct store *s = NULL;
    CHECK(store_open(&s, "/nonexistent-dir/x/pantau.db") != 0);
    CHECK(s == NULL);
}

/* A disk for the head log that takes budget bytes more, then is full: the
 * write that passes it falls short, the next ones fail with ENOSPC. */
static long long log_budget = -1; /* -1: no limit */

static ssize_t budget_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (log_budget < 0)
        return pwrite(fd, buf, n, off);
    if (log_budget == 0) {
        errno = ENOSPC;
        return -1;
    }
    size_t take = (long long)n < log_budget ? n : (size_t)log_budget;
    ssize_t w = pwrite(fd, buf, take, off);
    if (w > 0)
        log_budget -= w;
    return w;
}

static void log_disk(long long budget)
{
    log_budget = budget;
    headlog_test_set_pwrite(budget < 0 ? NULL : budget_pwrite);
}

static int count_sample(void *ctx, int64_t series, int64_t ts, double value, int64_t commit_ms)
{
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The samples the head log holds: what a crash now would keep. */
static int64_t log_samples(const char *db)
{
    char path[600];
    uint64_t n = 0, seen = 0;
    snprintf(path, sizeof path, "%s-head", db);
    struct headlog_replay r = {.sample = count_sample, .ctx = &n};
    return headlog_read(path, &r, &seen) == 0 ? (int64_t)n : -1;
}

struct last_ctx {
    int64_t last_ts;
};

static void last_of(void *ctx, const struct store_series_view *v)
{
    ((struct last_ctx *)ctx)->last_ts = v->last_ts;
}

/* The head log cannot be written (a full disk): the group fails with
 * STORE_RETRY, nothing counted lost, health says not writable; with the
 * disk back and no sample arriving, a probe recovers health, and the group
 * appended again is stored. */
TEST(store_health_recovers_by_probe)
{
    struct store *s;
    const char *p = fresh_db("probe");
    CHECK(store_open(&s, p) == 0);
    struct sample a = sample("price", "{}", T0, 1);
    CHECK_INT(store_append(s, &a, T0, NULL), 0);
    CHECK(store_commit(s) == 0);
    log_disk(0);
    struct sample b = sample("price", "{}", T0 + 1, 2);
    CHECK_INT(store_append(s, &b, T0, NULL), 0);
    CHECK_INT(store_commit(s), STORE_RETRY);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(!st.writable);
    CHECK_INT(st.last_error, SQLITE_FULL);
    CHECK_INT(st.lost_total, 0);
    CHECK_INT(st.retries, 1);
    CHECK_INT(st.head_points, 1); /* readers never saw what failed */
    struct store_unit_view uv;
    struct last_ctx lc = {0};
    store_each_series(s, last_of, &lc);
    CHECK_INT(lc.last_ts, T0); /* nor the caches: the group's last is undone */
    CHECK(store_get_unit(s, "simas-bapokting", "pasar-bandar-jaya", &uv) == 0);
    /* The disk is back, but no sample arrives: health must not stay degraded. */
    log_disk(-1);
    CHECK(store_probe_writable(s) != 0); /* a failure stands for 10 s first */
    store_test_age_failure(s, 10000);
    CHECK(store_probe_writable(s) == 0);
    store_get_stats(s, &st);
    CHECK(st.writable);
    CHECK_INT(store_append(s, &b, T0, NULL), 0); /* the caller's retry */
    CHECK(store_commit(s) == 0);
    CHECK_INT(log_samples(p), 2);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 2);
    CHECK_DBL(harness_sql_double(p, "SELECT sum_value FROM chunks"), 3);
}

/* SQLite fails while store_flush writes chunk rows (another connection's
 * trigger on chunks: a failing disk, say): STORE_RETRY, the points stay in
 * the head and its log, health says not writable until a probe; the next
 * flush writes them all. */
TEST(store_flush_failure_keeps_the_head)
{
    struct store *s;
    sqlite3 *db;
    char labels[64];
    const char *p = fresh_db("flushfail");
    CHECK(store_open(&s, p) == 0);
    for (int i = 0; i < 300; i++) {
        snprintf(labels, sizeof labels, "{\"kampung\":\"k%d\"}", i % 30);
        struct sample x = sample("documents_issued", labels, T0 + i * 60000, i);
        CHECK_INT(store_append(s, &x, T0, NULL), 0);
    }
    CHECK(store_commit(s) == 0);
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TRIGGER fail BEFORE INSERT ON chunks BEGIN "
                       "SELECT RAISE(ABORT, 'injected failure'); END",
                       NULL, NULL, NULL) == SQLITE_OK);
    int64_t later = T0 + 10 * 3600000LL; /* every hour of them is due */
    CHECK_INT(store_flush(s, later, 1024), STORE_RETRY);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(!st.writable);
    CHECK_INT(st.lost_total, 0);
    CHECK_INT(st.head_points, 300);
    CHECK_INT(harness_count_samples(p, NULL), 0);
    CHECK_INT(log_samples(p), 300);
    CHECK(sqlite3_exec(db, "DROP TRIGGER fail", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    store_test_age_failure(s, 10000);
    CHECK(store_probe_writable(s) == 0);
    CHECK_INT(store_flush(s, later, 1024), 30);
    CHECK_INT(harness_count_samples(p, NULL), 300);
    store_get_stats(s, &st);
    CHECK(st.writable);
    CHECK_INT(st.head_points, 0);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 300);
    CHECK_INT(harness_sql_int(p, "SELECT CAST(sum(sum_value) AS INTEGER) FROM chunks"),
              299 * 300 / 2);
}

/* A flush that fails part-way is rolled back whole, the series' rows (their
 * last) it had written included: the next flush writes them again. Each of
 * three series in turn fails, so that some are written before it. */
TEST(store_flush_failure_writes_the_rows_again)
{
    for (int bad = 1; bad <= 3; bad++) {
        struct store *s;
        sqlite3 *db;
        char name[32], labels[32], sql[160];
        snprintf(name, sizeof name, "flushrows%d", bad);
        const char *p = fresh_db(name);
        CHECK(store_open(&s, p) == 0);
        for (int i = 0; i < 3; i++) {
            snprintf(labels, sizeof labels, "{\"k\":\"%d\"}", i);
            struct sample x = sample("stock", labels, T0 + i, 10 + i);
            CHECK_INT(store_append(s, &x, T0, NULL), 0);
        }
        CHECK(store_commit(s) == 0);
        CHECK(sqlite3_open(p, &db) == SQLITE_OK);
        snprintf(sql, sizeof sql,
                 "CREATE TRIGGER fail BEFORE INSERT ON chunks WHEN NEW.series = %d BEGIN "
                 "SELECT RAISE(ABORT, 'injected failure'); END",
                 bad);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
        CHECK_INT(store_flush(s, T0 + 86400000, 1024), STORE_RETRY);
        CHECK(sqlite3_exec(db, "DROP TRIGGER fail", NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
        CHECK_INT(store_flush(s, T0 + 86400000, 1024), 3);
        store_close(s);
        CHECK_INT(harness_count_samples(p, NULL), 3);
        CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series WHERE last_ts = " /* all three */
                                     "1795000000000 + id - 1 AND last_value = 9 + id"),
                  3);
    }
}

/* A full disk in the middle of a run of groups: each group whose log write
 * fails (the one that falls short, and all after it) is rolled back whole
 * and nothing counted lost (STORE_RETRY: the caller appends it again), the
 * log never keeps a torn record, and once there is room again the same
 * groups, appended again, are all stored. */
static int append_group(struct store *s, int g)
{
    char labels[64];
    for (int i = 0; i < 200; i++) {
        snprintf(labels, sizeof labels, "{\"kampung\":\"k%d\"}", i);
        struct sample x = sample("documents_issued", labels, T0 + g * 1000 + i, i);
        int rc = store_append(s, &x, T0, NULL);
        if (rc != 0)
            return rc;
    }
    return store_commit(s);
}

TEST(store_full_disk_mid_group)
{
    struct store *s;
    const char *p = fresh_db("full");
    CHECK(store_open(&s, p) == 0);
    CHECK_INT(append_group(s, 0), 0);
    log_disk(8 * 200 * 13 + 100); /* room for about 8 more groups of ~13 bytes a sample */
    bool failed[20] = {false};
    int n_failed = 0;
    for (int g = 1; g < 20; g++) {
        int rc = append_group(s, g);
        CHECK(rc == 0 || rc == STORE_RETRY);
        failed[g] = rc != 0;
        n_failed += failed[g];
    }
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(n_failed > 0 && n_failed < 19);
    CHECK(!st.writable);
    CHECK_INT(st.last_error, SQLITE_FULL);
    CHECK_INT(st.lost_total, 0);
    CHECK_INT(st.retries, n_failed);
    CHECK_INT(st.head_points, (20 - n_failed) * 200);
    CHECK_INT(log_samples(p), (20 - n_failed) * 200);
    /* Room again: the failed groups, appended again, all commit. */
    log_disk(-1);
    for (int g = 1; g < 20; g++)
        if (failed[g])
            CHECK(append_group(s, g) == 0);
    store_get_stats(s, &st);
    CHECK(st.writable);
    CHECK_INT(log_samples(p), 20 * 200);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), 20 * 200);
}

TEST(store_refuses_series_past_the_limit)
{
    struct store *s;
    char labels[64];
    const char *p = fresh_db("limit");
    CHECK(store_open(&s, p) == 0);
    store_set_max_series(s, 3);
    int refused = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(labels, sizeof labels, "{\"kampung\":\"k%d\"}", i);
        struct sample x = sample("documents_issued", labels, T0, i);
        int rc = store_append(s, &x, T0, NULL);
        if (rc == STORE_SERIES_LIMIT)
            refused++;
        else
            CHECK_INT(rc, 0);
    }
    /* Known series still take samples. */
    struct sample again = sample("documents_issued", "{\"kampung\":\"k0\"}", T0 + 1, 9);
    CHECK_INT(store_append(s, &again, T0, NULL), 0);
    CHECK(store_commit(s) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_INT(refused, 2);
    CHECK(st.writable); /* a refusal is not a write failure */
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series"), 3);
    CHECK_INT(harness_count_samples(p, NULL), 4);
}

/* Frames in the WAL, as a PASSIVE checkpoint from a connection of its own
 * sees them (it reads first: a connection that has not read does nothing). */
static int wal_frames(const char *path)
{
    sqlite3 *db;
    int log = -1, done = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_exec(db, "SELECT 1 FROM sqlite_schema LIMIT 1", NULL, NULL, NULL) == SQLITE_OK)
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    sqlite3_close(db);
    return log;
}

#define CHECKPOINT_HOURS 48 /* ~65 frames each */

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Under a steady stream of commits the WAL must be copied to the end and
 * restarted, not grow by every commit (as it did while the checkpointer's
 * connection, never having read, checkpointed nothing). */
TEST(checkpointer_catches_up_and_the_wal_restarts)
{
    struct store *s;
    const char *p = fresh_db("checkpoint");
    CHECK(store_open(&s, p) == 0);
    CHECK(store_set_autocheckpoint(s, false) == 0);
    CHECK(store_set_wal_size_limit(s, 1 << 20) == 0);
    /* > 2000 frames: hours of 300 series, each hour flushed as chunk rows
     * once it is due (a fake now_ms an hour and the grace later). */
    const int64_t hour = 3600000, t0 = T0 / hour * hour;
    const int hours = CHECKPOINT_HOURS;
    for (int h = 0; h < hours; h++) {
        for (int i = 0; i < 300; i++) {
            char labels[64];
            snprintf(labels, sizeof labels, "{\"kampung\":\"k%d\"}", i);
            struct sample x = sample("documents_issued", labels, t0 + h * hour + i, i);
            CHECK_INT(store_append(s, &x, T0, NULL), 0);
        }
        CHECK(store_commit(s) == 0);
        CHECK_INT(store_flush(s, t0 + (h + 1) * hour + STORE_FLUSH_GRACE_MS, 1024), 300);
    }
    int before = wal_frames(p);
    CHECK(before >= 2000);

    uv_loop_t loop;
    uv_timer_t deadline;
    struct checkpointer *c;
    struct checkpoint_stats st = {0};
    CHECK(uv_loop_init(&loop) == 0);
    CHECK(checkpointer_start(&c, &loop, p, 1) == 0);
    /* A WAL 4 times past the restart point is restarted even while fsyncs
     * are slow (a loaded test machine): the test does not depend on them. */
    checkpointer_set_restart_frames(c, 500);
    uv_timer_init(&loop, &deadline);
    for (int i = 0; i < 500 && st.caught_up == 0; i++) { /* up to 5 s */
        uv_timer_start(&deadline, stop_loop, 10, 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        checkpointer_get_stats(c, &st);
    }
    checkpointer_stop(c);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    checkpointer_free(c);
    CHECK_INT(uv_loop_close(&loop), 0);
    CHECK(st.caught_up >= 1);
    CHECK_INT(st.wal_frames, before);

    /* The next transaction starts the WAL again from its beginning, and
     * cuts the file back to [store] wal_size_limit (it kept its longest
     * size for good: 1.4 GiB after a 1M-sample burst). */
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", p);
    struct stat wst;
    CHECK(stat(wal, &wst) == 0 && wst.st_size > 4 << 20);
    struct sample y = sample("documents_issued", "{}", T0 + 5000, 1);
    CHECK_INT(store_append(s, &y, T0, NULL), 0);
    CHECK(store_commit(s) == 0);
    CHECK(wal_frames(p) < 100);
    CHECK(stat(wal, &wst) == 0 && wst.st_size <= 1 << 20);
    store_close(s);
    CHECK_INT(harness_count_samples(p, NULL), hours * 300 + 1);
}

TEST_MAIN(CASE(store_creates_schema), CASE(store_refuses_newer_schema),
          CASE(store_duplicate_replaces), CASE(store_labels_make_distinct_series),
          CASE(store_late_and_out_of_order), CASE(store_reopen_keeps_series_and_units),
          CASE(store_unit_last_seen_row_lags_less_than_the_bound),
          CASE(store_crash_replays_the_head_and_last_seen), CASE(store_presence_offline),
          CASE(store_many_series_one_group), CASE(store_unwritable_path_fails_cleanly),
          CASE(store_health_recovers_by_probe), CASE(store_flush_failure_keeps_the_head),
          CASE(store_flush_failure_writes_the_rows_again), CASE(store_full_disk_mid_group),
          CASE(store_refuses_series_past_the_limit),
          CASE(checkpointer_catches_up_and_the_wal_restarts))
