/* test_store.c — the store against real SQLite files in a temp dir. */
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "checkpoint.h"
#include "harness.h"
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
                                 "('series','samples','units')"),
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 1);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM series"), 1);
    CHECK_DBL(harness_sql_double(p, "SELECT value FROM samples"), 14700);
    CHECK_INT(harness_sql_int(p, "SELECT arrival FROM samples"), T0 + 9);
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 3);
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 4);
    /* "last" follows device time, not arrival: the late flush must not move it back. */
    CHECK_INT(harness_sql_int(p, "SELECT last_ts FROM series"), T0 + 3000);
    CHECK_DBL(harness_sql_double(p, "SELECT last_value FROM series"), 3);
    CHECK_INT(harness_sql_int(p, "SELECT min(ts) FROM samples"), T0 - 86400000);
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 2);
    CHECK_INT(harness_sql_int(p, "SELECT last_ts FROM series"), T0 + 60000);
    CHECK_INT(harness_sql_int(p, "SELECT online FROM units"), 1);
    CHECK_INT(harness_sql_int(p, "SELECT last_seen FROM units"), T0 + 60000);
    CHECK_DBL(harness_sql_double(p, "SELECT lat FROM units"), -4.9);
}

/* A unit's last_seen is a cache of its samples' arrival: its row is
 * rewritten only once the cache runs STORE_LAST_SEEN_LAG_MS ahead, so a
 * crash (here: the committed rows, read by another connection while the
 * store stays open) finds it less than that behind; what the store
 * answers is exact, and a clean close writes it exactly. */
TEST(store_unit_last_seen_row_lags_less_than_the_bound)
{
    struct store *s;
    const char *p = fresh_db("last_seen");
    CHECK(store_open(&s, p) == 0);
    int writes = 0;
    int64_t row = 0;
    for (int i = 0; i <= 25; i++) {
        int64_t arrival = T0 + i * 100;
        struct sample x = sample("price", "{}", T0 + i, i);
        CHECK_INT(store_append(s, &x, arrival, NULL), 0);
        CHECK(store_commit(s) == 0);
        int64_t now = harness_sql_int(p, "SELECT last_seen FROM units");
        CHECK(arrival - now < STORE_LAST_SEEN_LAG_MS);
        writes += now != row;
        row = now;
        struct store_unit_view v;
        CHECK(store_get_unit(s, "simas-bapokting", "pasar-bandar-jaya", &v) == 0);
        CHECK_INT(v.last_seen, arrival);
    }
    CHECK_INT(writes, 3); /* T0, T0 + 1000, T0 + 2000: not 26 */
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 26);
    /* A position is written at once (the samples do not keep it). */
    struct sample m = sample("price", "{}", T0 + 26, 26);
    m.has_position = true;
    m.lat = -4.9;
    m.lon = 105.2;
    CHECK_INT(store_append(s, &m, T0 + 2600, NULL), 0);
    CHECK(store_commit(s) == 0);
    CHECK_INT(harness_sql_int(p, "SELECT last_seen FROM units"), T0 + 2600);
    CHECK_DBL(harness_sql_double(p, "SELECT lat FROM units"), -4.9);
    struct sample z = sample("price", "{}", T0 + 27, 27);
    CHECK_INT(store_append(s, &z, T0 + 2700, NULL), 0);
    CHECK(store_commit(s) == 0);
    CHECK_INT(harness_sql_int(p, "SELECT last_seen FROM units"), T0 + 2600);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT last_seen FROM units"), T0 + 2700);
    /* A group still open at close is committed, even with no unit behind. */
    CHECK(store_open(&s, p) == 0);
    struct sample w = sample("price", "{}", T0 + 28, 28);
    CHECK_INT(store_append(s, &w, T0 + 2700, NULL), 0);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 29);
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 5000);
    CHECK_INT(harness_sql_int(p, "SELECT sum(last_ts - 1795000000000) FROM series"),
              /* each series' last is its largest i: 4500..4999 */ (4500 + 4999) * 500 / 2);
}

TEST(store_unwritable_path_fails_cleanly)
{
    struct store *s = NULL;
    CHECK(store_open(&s, "/nonexistent-dir/x/pantau.db") != 0);
    CHECK(s == NULL);
}

TEST(store_health_recovers_by_probe)
{
    struct store *s;
    sqlite3 *db;
    const char *p = fresh_db("probe");
    CHECK(store_open(&s, p) == 0);
    /* Another connection makes every sample insert fail (a full disk, say). */
    CHECK(sqlite3_open(p, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TRIGGER fail BEFORE INSERT ON samples BEGIN "
                       "SELECT RAISE(ABORT, 'injected failure'); END",
                       NULL, NULL, NULL) == SQLITE_OK);
    struct sample a = sample("price", "{}", T0, 1);
    CHECK(store_append(s, &a, T0, NULL) != 0);
    CHECK(store_commit(s) == 0); /* the group commits; the sample is counted lost */
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(!st.writable);
    CHECK_INT(st.lost_total, 1);
    /* The disk is back, but no sample arrives: health must not stay degraded. */
    CHECK(sqlite3_exec(db, "DROP TRIGGER fail", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(store_probe_writable(s) != 0); /* a failure stands for 10 s first */
    store_test_age_failure(s, 10000);
    CHECK(store_probe_writable(s) == 0);
    store_get_stats(s, &st);
    CHECK(st.writable);
    store_close(s);
}

/* A full disk in the middle of a group: the whole group is rolled back and
 * nothing counted lost (STORE_RETRY: the caller appends it again), the store
 * never writes outside a transaction, and once there is room again the
 * same groups, appended again, are all stored. */
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
    CHECK(store_test_exec(s, "PRAGMA max_page_count = 45") == 0);
    bool failed[20] = {false};
    int n_failed = 0;
    for (int g = 0; g < 20; g++) {
        int rc = append_group(s, g);
        CHECK(rc == 0 || rc == STORE_RETRY);
        failed[g] = rc != 0;
        n_failed += failed[g];
    }
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK(n_failed > 0 && n_failed < 20);
    CHECK(!st.writable);
    CHECK_INT(st.last_error, SQLITE_FULL);
    CHECK_INT(st.lost_total, 0);
    CHECK_INT(st.retries, n_failed);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), (20 - n_failed) * 200);
    /* Room again: the failed groups, appended again, all commit. */
    CHECK(store_test_exec(s, "PRAGMA max_page_count = 100000") == 0);
    for (int g = 0; g < 20; g++)
        if (failed[g])
            CHECK(append_group(s, g) == 0);
    store_get_stats(s, &st);
    CHECK(st.writable);
    store_close(s);
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 20 * 200);
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 4);
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
    for (int i = 0; i < 3000; i++) { /* > 2000 frames: a commit writes a few pages */
        char labels[64];
        snprintf(labels, sizeof labels, "{\"kampung\":\"k%d\"}", i % 300);
        struct sample x = sample("documents_issued", labels, T0 + i, i);
        CHECK_INT(store_append(s, &x, T0, NULL), 0);
        CHECK(store_commit(s) == 0);
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
    CHECK_INT(harness_sql_int(p, "SELECT count(*) FROM samples"), 3001);
}

TEST_MAIN(CASE(store_creates_schema), CASE(store_refuses_newer_schema),
          CASE(store_duplicate_replaces), CASE(store_labels_make_distinct_series),
          CASE(store_late_and_out_of_order), CASE(store_reopen_keeps_series_and_units),
          CASE(store_unit_last_seen_row_lags_less_than_the_bound), CASE(store_presence_offline),
          CASE(store_many_series_one_group), CASE(store_unwritable_path_fails_cleanly),
          CASE(store_health_recovers_by_probe), CASE(store_full_disk_mid_group),
          CASE(store_refuses_series_past_the_limit),
          CASE(checkpointer_catches_up_and_the_wal_restarts))
