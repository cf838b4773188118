/* backup.c — see backup.h. */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int backup_run(const char *db_path, const char *dest, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "path too long: %s", dest);
        return -1;
    }
    sqlite3 *src = NULL, *dst = NULL;
    int rc = -1;
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
    return rc;
}
