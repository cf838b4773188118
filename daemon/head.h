/* head.h — the newest samples of every series, in memory, until the store
 * writes them to SQLite as chunk rows (issue 20: a sample costs the disk its
 * share of a compressed chunk, not a B-tree page per commit).
 *
 * Owns: per series, its points not yet in a chunk, sorted by ts, one per ts
 * (a put of an existing ts replaces its value). Series live in stripes; each
 * stripe has its own mutex and hash table, so a reader copying one series
 * holds up the writer for one series at most.
 *
 * Threads: head_put, head_each_before, head_flushed, head_each and
 * head_reclaim are the loop thread's (the store's, the only writer); head_read,
 * head_last and head_reader_enter/exit may be called by any thread (the query
 * workers) at any time.
 *
 * How a reader sees every sample exactly once: the store takes a series'
 * points out of the head only after the chunk holding them has committed,
 * and only once every read transaction that began before that commit has
 * ended (head_flushed queues the drop; head_reclaim applies the drops whose
 * readers are gone). A reader brackets its SQLite read transaction with
 * head_reader_enter ... head_reader_exit, and reads the head inside it:
 *   - a point flushed before the reader's snapshot is in its chunks (and may
 *     still be in the head: the reader merges both, the head winning a ts
 *     both have — they hold the same value);
 *   - a point flushed after the snapshot began is still in the head, since
 *     its drop waits for this reader.
 * A point put again while its drop waits (a replacement of a flushed
 * sample) cancels that series' drop: the points stay, and the next flush
 * writes them again (a chunk write is idempotent: it merges).
 *
 * Memory: 16 bytes a point plus the arrays' slack (grown by half); a series
 * with no points left costs its slot. */
#ifndef PANTAU_HEAD_H
#define PANTAU_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h" /* struct chunk_point { int64_t ts; double value; } */

struct head;

/* 0, or -1 when out of memory. */
int head_create(struct head **out);
void head_free(struct head *h); /* NULL is a no-op */

/* Adds (series, ts) or replaces its value. Loop thread. Returns HEAD_NEW,
 * HEAD_REPLACED (*old_value, if not NULL, gets the value replaced) or
 * HEAD_NOMEM (nothing changed). */
enum { HEAD_NOMEM = -1, HEAD_REPLACED = 0, HEAD_NEW = 1 };
int head_put(struct head *h, int64_t series, int64_t ts, double value, double *old_value);

/* Any thread, between head_reader_enter and head_reader_exit: copies the
 * series' points with ts in [from, to] (ts order) into *buf, grown with
 * realloc as needed (*cap points). Returns the count, or -1 when out of
 * memory (*buf stays valid). */
long head_read(struct head *h, int64_t series, int64_t from, int64_t to, struct chunk_point **buf,
               size_t *cap);
/* The series' newest point in the head. Any thread. */
bool head_last(struct head *h, int64_t series, struct chunk_point *out);

/* A read transaction's bracket (see above). enter returns a ticket for exit. */
unsigned head_reader_enter(struct head *h);
void head_reader_exit(struct head *h, unsigned ticket);

/* Loop thread. Offers fn each series that has points with ts < before:
 * those points (valid during the call), oldest series first by slot order
 * from a cursor kept in h, at most max_series series per call. fn returns 0
 * to go on, non-zero to stop. Returns the series offered. */
typedef int (*head_points_fn)(void *ctx, int64_t series, const struct chunk_point *pts, size_t n);
size_t head_each_before(struct head *h, int64_t before, size_t max_series, head_points_fn fn,
                        void *ctx);
/* Loop thread, after the chunks of (series, ts < before) committed: queues
 * their drop (see above). Returns 0, or -1 when out of memory (the points
 * stay: they are written again by the next flush). */
int head_flushed(struct head *h, int64_t series, int64_t before);
/* Loop thread: applies queued drops that no reader can need any more.
 * Returns the points dropped. Call it often (each flush, each timer tick). */
size_t head_reclaim(struct head *h);

/* Loop thread: every series that has points, with all of them (the head
 * log's compaction). fn returns 0 to go on. */
void head_each(struct head *h, head_points_fn fn, void *ctx);

struct head_stats {
    uint64_t series; /* with at least one point */
    uint64_t points;
    uint64_t bytes; /* the arrays' capacity, in bytes */
    uint64_t drops_waiting;
};
void head_get_stats(struct head *h, struct head_stats *out); /* any thread */

#endif
