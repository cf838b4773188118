/* backup.c — see backup.h. */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "headlog.h"
#include "store.h"

/* How long to wait while pantaud holds a lock SQLite's readers must respect
 * (a WAL recovery or a checkpoint's restart): readers are rarely blocked. */
#define BACKUP_BUSY_MS 10000

/* Creates dest's temporary file 0600 before SQLite opens it, so the copy is
 * never readable by others, whatever the umask. */
static int create_private(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Copies src into the open connection dst in one step (-1: every page), so
 * the copy is one read transaction's snapshot; then makes it one file. */
static int copy_into(sqlite3 *src, sqlite3 *dst, char *err, size_t errlen)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        snprintf(err, errlen, "cannot start the backup: %s", sqlite3_errmsg(dst));
        return -1;
    }
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "copying: %s", sqlite3_errstr(rc));
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "finishing the copy: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

struct head_copy {
    struct store *copy;
    uint64_t put, lost;
};

static int copy_point(void *ctx, int64_t series, int64_t ts, double value, int64_t commit_ms)
{
    struct head_copy *h = ctx;
    int rc = store_put_point(h->copy, series, ts, value);
    if (rc == STORE_OK)
        h->put++;
    else
        h->lost++;
    /* A group per 4096 samples: memory stays small for a large head. */
    if ((h->put & 4095) == 0 && store_commit(h->copy) != STORE_OK)
        return -1;
    return 0;
}

/* pantaud's head (store.h: its newest samples, in memory and in the log
 * "<database>-head") is no part of the database file: the copy, opened as
 * a store, takes the log's samples and writes them as chunk rows when it
 * closes. The flushes the log records are not followed: some may be later
 * than the copy's snapshot, and a sample merged twice is stored once. */
static int copy_head(const char *log_path, const char *tmp, char *err, size_t errlen)
{
    struct head_copy h = {0};
    if (store_open(&h.copy, tmp) != 0) {
        snprintf(err, errlen, "cannot open the copy %s as a store (see the log)", tmp);
        return -1;
    }
    struct headlog_replay cb = {copy_point, NULL, &h};
    int rc = headlog_read(log_path, &cb, NULL);
    if (rc == 0 && store_commit(h.copy) != STORE_OK)
        rc = -1;
    store_close(h.copy); /* writes the head as chunk rows, empties its log */
    char copy_log[4200];
    snprintf(copy_log, sizeof copy_log, "%s-head", tmp);
    unlink(copy_log);
    if (rc != 0) {
        snprintf(err, errlen, "copying the head from %s failed (see the log)", log_path);
        return -1;
    }
    if (h.lost)
        fprintf(stderr, "pantaud: backup: %llu samples of the head name no series of the copy\n",
                (unsigned long long)h.lost);
    return 0;
}

/* The copy as one self-contained file (store_open left it in WAL mode). */
static int one_file(const char *tmp, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "finishing the copy: %s", db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int backup_run(const char *db_path, const char *dest, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "path too long: %s", dest);
        return -1;
    }
    sqlite3 *src = NULL, *dst = NULL;
    int rc = -1;
    /* The log's lock before the snapshot: no compaction can then drop
     * samples that a flush after the snapshot wrote elsewhere. */
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s-head", db_path);
    int log_lock = headlog_lock_shared(log_path);
    /* Read-only and never created: a wrong path is an error, not an empty copy. */
    if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", db_path,
                 src ? sqlite3_errmsg(src) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(src, BACKUP_BUSY_MS);
    if (create_private(tmp, err, errlen) != 0)
        goto out;
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", tmp,
                 dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out_unlink;
    }
    if (copy_into(src, dst, err, errlen) != 0)
        goto out_unlink;
    if (sqlite3_close(dst) != SQLITE_OK) {
        snprintf(err, errlen, "closing %s: %s", tmp, sqlite3_errmsg(dst));
        goto out_unlink;
    }
    dst = NULL;
    if (log_lock >= 0 &&
        (copy_head(log_path, tmp, err, errlen) != 0 || one_file(tmp, err, errlen) != 0))
        goto out_unlink;
    if (fsync_path(tmp) != 0 || rename(tmp, dest) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", dest, strerror(errno));
        goto out_unlink;
    }
    rc = 0;
    goto out;
out_unlink:
    sqlite3_close(dst);
    dst = NULL;
    unlink(tmp);
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    if (log_lock >= 0)
        close(log_lock);
    return rc;
}
