/* headlog.h — the head's log: what makes the in-memory head (head.h) as
 * durable as a SQLite commit, for a few bytes a sample.
 *
 * The file "<database>-head" holds, after a header, records appended in
 * commit order. A record is its payload's length and checksum, then one of:
 *   SAMPLES  the samples of one commit: the commit's wall-clock time, then
 *            per sample its series id, ts (as a delta from the record's
 *            previous ts) and the value's 8 bytes;
 *   FLUSHED  (series, before): that series' points with ts < before are in
 *            chunk rows (committed in SQLite), so the samples logged before
 *            this record with those (series, ts) need no replay.
 * Replaying the records in order into an empty head rebuilds the head as it
 * was, less what was flushed (a replacement logged after a FLUSHED record
 * is replayed: it is newer than its chunk).
 *
 * Durability is SQLite's with synchronous = NORMAL: a commit is one write()
 * (in the page cache when it returns: it survives the process, not a power
 * cut); an fdatasync of headlog_dup_fd's descriptor, from a timer on a
 * worker, bounds what a power cut takes. A write that fails or falls short
 * is cut back (ftruncate to the last whole record), so the file never holds
 * a torn record in its middle; at open a torn or damaged tail (a crash
 * during a write) is cut and logged with its size, and everything before
 * it is replayed.
 *
 * The file would grow for ever: when it passes max(limit, 2 x the head's
 * bytes), headlog_compact writes a new one holding just the head (one
 * SAMPLES record per series), syncs it and renames it over the old one, so
 * a crash leaves either file whole. A process holding a shared flock on the
 * file (`pantaud --backup` reading it beside its database snapshot)
 * postpones the compaction.
 *
 * Threads: the loop thread only (the store's). */
#ifndef PANTAU_HEADLOG_H
#define PANTAU_HEADLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "head.h"

struct headlog;

/* What replay hands over, in log order. A non-zero return stops the open
 * (it fails). */
struct headlog_replay {
    int (*sample)(void *ctx, int64_t series, int64_t ts, double value, int64_t commit_ms);
    int (*flushed)(void *ctx, int64_t series, int64_t before);
    void *ctx;
};

/* Opens path (created 0600 if missing), replays it, and positions for
 * appends. *replayed_samples (may be NULL) gets how many samples replay
 * handed over. Returns 0, or -1 with the reason logged (a file that is not
 * a head log, an unreadable one). */
int headlog_open(struct headlog **out, const char *path, const struct headlog_replay *replay,
                 uint64_t *replayed_samples);
/* Writes nothing pending (pending samples are lost: call commit first),
 * syncs and closes. NULL is a no-op. */
void headlog_close(struct headlog *l);

/* Buffers one sample for the next commit. Returns 0, or -1 when out of
 * memory. */
int headlog_add(struct headlog *l, int64_t series, int64_t ts, double value);
/* Buffers a FLUSHED record for the next commit (or the next
 * headlog_write_flushed). Returns 0 or -1 (out of memory). */
int headlog_add_flushed(struct headlog *l, int64_t series, int64_t before);
/* Writes what is buffered (one SAMPLES record, then the FLUSHED ones) with
 * one write(). Returns 0; or -1 (logged, errno kept: ENOSPC, EIO...) with
 * the file cut back and the buffer kept, so a later call writes it all. */
int headlog_commit(struct headlog *l, int64_t now_ms);
/* Forgets what is buffered (the group it belonged to was rolled back). */
void headlog_discard(struct headlog *l);

/* A duplicate of the file's descriptor, for an fdatasync on another thread
 * (the disk may take long; a compaction meanwhile closes only its own).
 * The caller closes it. -1 on failure. */
int headlog_dup_fd(const struct headlog *l);

/* Whether the file has outgrown the head it holds (see above). */
bool headlog_wants_compaction(const struct headlog *l, uint64_t head_bytes, uint64_t limit);
/* Rewrites the file from the head (nothing may be buffered). Returns 0,
 * 1 when postponed (another process holds the file: try later), or -1
 * (logged; the old file stays in use). */
int headlog_compact(struct headlog *l, struct head *h, int64_t now_ms);

/* For another process (`pantaud --backup`): takes a shared flock on the
 * log at path (postponing its compaction) and returns the fd holding it
 * (close it to let go), or -1 when there is no log (errno ENOENT) or it
 * cannot be opened. */
int headlog_lock_shared(const char *path);
/* Reads the log at path without changing it and hands its SAMPLES records
 * over (replay->flushed may be NULL: such records are then skipped). A torn
 * tail ends the read (a writer may be appending). Returns 0, or -1
 * (logged) for a file that is not a head log. */
int headlog_read(const char *path, const struct headlog_replay *replay, uint64_t *samples);

struct headlog_stats {
    uint64_t size;        /* bytes of the file */
    uint64_t records;     /* written since open */
    uint64_t compactions; /* done since open */
    uint64_t cut_bytes;   /* of a damaged tail cut at open */
};
void headlog_get_stats(const struct headlog *l, struct headlog_stats *out);

/* Tests only: every write of the log goes through fn (NULL: pwrite again),
 * to make a disk that fills up. */
typedef ssize_t (*headlog_pwrite_fn)(int fd, const void *buf, size_t n, off_t off);
void headlog_test_set_pwrite(headlog_pwrite_fn fn);

#endif
