/* headlog.c — see headlog.h.
 *
 * The file: an 8-byte header ("PHLG", then the format's version as a
 * little-endian u32), then records:
 *   u32 length     bytes of type + payload (little-endian)
 *   u32 checksum   CRC-32C of the length's 4 bytes, the type and the payload
 *   u8  type       HL_SAMPLES or HL_FLUSHED
 *   payload
 * SAMPLES: commit ms (zigzag varint), count (varint), then per sample the
 *   series (varint of its 64 bits), ts (zigzag varint of the delta from the
 *   previous ts of the record, the first from 0) and the value (8 bytes,
 *   little-endian IEEE 754 bits: exact, NaN payloads included).
 * FLUSHED: count (varint), then per entry the series (varint) and before
 *   (zigzag varint). One record holds a commit's FLUSHED entries.
 * Varints are LEB128 (7 bits a byte, low first); zigzag maps small negative
 * deltas (late samples) to small numbers.
 *
 * Opening: a stale "<path>.new" (a compaction cut short before its rename)
 * is removed; the old file is whole. Records are read in order; the first
 * that is incomplete, fails its checksum or does not decode exactly ends
 * the replay and the file is cut there. When that record is the last one
 * (the common case: a crash during a write) it is logged as a warning with
 * the bytes cut. When whole records follow it (damage in the middle: a bad
 * disk, a stray write) nothing after it is trusted either: a record cannot
 * be told from garbage once one length is in doubt, and replaying records
 * after a missing one could resurrect values a lost record replaced. It is
 * logged as an error with the offset and the bytes lost; the samples in
 * them were acknowledged, so the operator must know. A record's samples are
 * handed over only after the whole record decoded: never garbage.
 *
 * A commit's two records are checked one by one: a crash that tore its
 * FLUSHED record replays its samples without it, which is harmless (those
 * points are flushed again, and a chunk write merges).
 *
 * Writing: a commit's bytes are assembled in one buffer and written with
 * pwrite at the size known to be whole; a failure or a short write is cut
 * back with ftruncate, so a later commit starts at a record boundary (and
 * overwrites a tail that a failed ftruncate left). */
#include "headlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define HL_MAGIC       "PHLG"
#define HL_VERSION     1u
#define HL_HEADER      8
#define HL_REC_HEAD    8                    /* length + checksum */
#define HL_RECORD_MAX  (256u * 1024 * 1024) /* type + payload */
#define HL_SAMPLE_MAX  (10 + 10 + 8)        /* one sample's bytes at most */
#define HL_PREFIX_MAX  (HL_REC_HEAD + 1 + 10 + 10)
#define HL_SERIES_MAX  ((HL_RECORD_MAX - HL_PREFIX_MAX) / HL_SAMPLE_MAX) /* a record's */
#define HL_WRITE_CHUNK (1u << 20) /* compaction writes this much at once */

enum { HL_SAMPLES = 1, HL_FLUSHED = 2 };

struct hl_bytes {
    uint8_t *p;
    size_t len, cap;
};

struct headlog {
    int fd;
    char *path;
    uint64_t size; /* bytes known whole: the next record goes here */
    struct hl_bytes samples, flushed, out;
    uint64_t n_samples, n_flushed;
    int64_t prev_ts;
    struct headlog_stats stats;
    struct log_limit errors;
};

static headlog_pwrite_fn hl_pwrite = pwrite;

void headlog_test_set_pwrite(headlog_pwrite_fn fn)
{
    hl_pwrite = fn ? fn : pwrite;
}

/* CRC-32C (Castagnoli), slicing by 8: about 1 byte a cycle. */
static uint32_t hl_crc_table[8][256];
static pthread_once_t hl_crc_once = PTHREAD_ONCE_INIT;

static void hl_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        hl_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            hl_crc_table[t][i] =
                (hl_crc_table[t - 1][i] >> 8) ^ hl_crc_table[0][hl_crc_table[t - 1][i] & 0xff];
}

static uint32_t hl_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = hl_crc_table[7][lo & 0xff] ^ hl_crc_table[6][(lo >> 8) & 0xff] ^
              hl_crc_table[5][(lo >> 16) & 0xff] ^ hl_crc_table[4][lo >> 24] ^
              hl_crc_table[3][p[4]] ^ hl_crc_table[2][p[5]] ^ hl_crc_table[1][p[6]] ^
              hl_crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ hl_crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* --- bytes ------------------------------------------------------------ */

/* Room for n more bytes; NULL when out of memory (nothing changed). */
static uint8_t *hl_room(struct hl_bytes *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap += cap / 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return NULL;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void hl_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t hl_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t hl_put_uvar(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t hl_put_svar(uint8_t *p, int64_t v)
{
    return hl_put_uvar(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static size_t hl_put_double(uint8_t *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i));
    return 8;
}

/* A reader over one record's payload; ok turns false on any misfit. */
struct hl_cur {
    const uint8_t *p, *end;
    bool ok;
};

static uint64_t hl_get_uvar(struct hl_cur *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            break;
        uint8_t b = *c->p++;
        if (shift == 63 && b > 1)
            break; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->ok = false;
    return 0;
}

static int64_t hl_get_svar(struct hl_cur *c)
{
    uint64_t u = hl_get_uvar(c);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static double hl_get_double(struct hl_cur *c)
{
    if (c->end - c->p < 8) {
        c->ok = false;
        return 0;
    }
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)c->p[i] << (8 * i);
    c->p += 8;
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* --- replay ----------------------------------------------------------- */

/* Decodes one payload; with rp NULL only checks it. Returns 0, -1 when it
 * does not decode exactly, or the callback's non-zero. */
static int hl_payload(const uint8_t *p, size_t n, const struct headlog_replay *rp, uint64_t *count)
{
    struct hl_cur c = {p + 1, p + n, true};
    if (p[0] == HL_SAMPLES) {
        int64_t commit = hl_get_svar(&c);
        uint64_t k = hl_get_uvar(&c);
        if (!c.ok || k > n / 10)
            return -1;
        uint64_t ts = 0;
        for (uint64_t i = 0; i < k && c.ok; i++) {
            int64_t series = (int64_t)hl_get_uvar(&c);
            ts += (uint64_t)hl_get_svar(&c); /* wraps as the writer's delta did */
            double v = hl_get_double(&c);
            if (c.ok && rp && rp->sample) {
                int rc = rp->sample(rp->ctx, series, (int64_t)ts, v, commit);
                if (rc)
                    return rc;
            }
        }
        *count += k;
    } else if (p[0] == HL_FLUSHED) {
        uint64_t k = hl_get_uvar(&c);
        if (!c.ok || k > n / 2)
            return -1;
        for (uint64_t i = 0; i < k && c.ok; i++) {
            int64_t series = (int64_t)hl_get_uvar(&c);
            int64_t before = hl_get_svar(&c);
            if (c.ok && rp && rp->flushed) {
                int rc = rp->flushed(rp->ctx, series, before);
                if (rc)
                    return rc;
            }
        }
    } else {
        return -1;
    }
    return c.ok && c.p == c.end ? 0 : -1;
}

/* The length of the whole record at p (avail bytes there), 0 when it is
 * incomplete or damaged (*why says which). */
static size_t hl_record_at(const uint8_t *p, uint64_t avail, const char **why)
{
    if (avail < HL_REC_HEAD + 1) {
        *why = "incomplete";
        return 0;
    }
    uint32_t len = hl_get_u32(p);
    if (len == 0 || len > HL_RECORD_MAX) {
        *why = "a bad length";
        return 0;
    }
    if (avail - HL_REC_HEAD < len) {
        *why = "incomplete";
        return 0;
    }
    uint32_t crc = hl_crc32c(hl_crc32c(0, p, 4), p + HL_REC_HEAD, len);
    if (crc != hl_get_u32(p + 4)) {
        *why = "a bad checksum";
        return 0;
    }
    uint64_t ignored = 0;
    if (hl_payload(p + HL_REC_HEAD, len, NULL, &ignored) != 0) {
        *why = "undecodable";
        return 0;
    }
    return HL_REC_HEAD + (size_t)len;
}

/* How many whole records follow the damaged one at off, going by its length
 * (0 when its length runs to or past the end: a torn tail). Bounded: one
 * pass over the rest. */
static uint64_t hl_whole_after(const uint8_t *map, uint64_t size, uint64_t off)
{
    if (size - off < HL_REC_HEAD)
        return 0;
    uint64_t o = off + HL_REC_HEAD + hl_get_u32(map + off), n = 0;
    const char *why;
    size_t len;
    while (o < size && (len = hl_record_at(map + o, size - o, &why)) != 0) {
        n++;
        o += len;
    }
    return o < size && n == 0 ? 1 : n; /* bytes follow that are not a record: still damage */
}

/* Replays the records of map[HL_HEADER, size); *end gets where the whole
 * ones end. Returns 0, or -1 when a callback stopped it. */
static int hl_replay(struct headlog *l, const uint8_t *map, uint64_t size,
                     const struct headlog_replay *rp, uint64_t *samples, uint64_t *end)
{
    uint64_t off = HL_HEADER;
    const char *why = NULL;
    while (off < size) {
        size_t len = hl_record_at(map + off, size - off, &why);
        if (!len)
            break;
        int rc = hl_payload(map + off + HL_REC_HEAD, len - HL_REC_HEAD, rp, samples);
        if (rc) {
            log_error("head log %s: replay stopped at offset %llu (%d)", l->path,
                      (unsigned long long)off, rc);
            return -1;
        }
        off += len;
    }
    *end = off;
    if (off == size)
        return 0;
    uint64_t lost = hl_whole_after(map, size, off);
    if (lost)
        log_error("head log %s: record at offset %llu is %s, with %llu whole-looking records "
                  "after it; cut %llu bytes from there (their samples are lost)",
                  l->path, (unsigned long long)off, why, (unsigned long long)lost,
                  (unsigned long long)(size - off));
    else
        log_warn("head log %s: cut a torn tail of %llu bytes at offset %llu (%s record)", l->path,
                 (unsigned long long)(size - off), (unsigned long long)off, why);
    return 0;
}

/* --- files ------------------------------------------------------------ */

static int hl_write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = hl_pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int hl_sync_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -1;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 || fsync(fd) != 0 ? -1 : 0;
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

static char *hl_new_path(const char *path)
{
    size_t n = strlen(path);
    char *p = malloc(n + 5);
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, ".new", 5);
    }
    return p;
}

/* A fresh file (or one torn while its header was written): header, synced. */
static int hl_write_header(int fd, const char *path)
{
    uint8_t head[HL_HEADER];
    memcpy(head, HL_MAGIC, 4);
    hl_put_u32(head + 4, HL_VERSION);
    if (ftruncate(fd, 0) != 0 || hl_write_all(fd, head, sizeof head, 0) != 0 ||
        fdatasync(fd) != 0 || hl_sync_dir(path) != 0)
        return -1;
    return 0;
}

/* Checks the header, replays, cuts a bad tail. */
static int hl_load(struct headlog *l, const struct headlog_replay *rp, uint64_t *samples)
{
    struct stat sb;
    if (fstat(l->fd, &sb) != 0) {
        log_error("head log %s: %s", l->path, strerror(errno));
        return -1;
    }
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t head[HL_HEADER] = {0};
    if (size < HL_HEADER) { /* new, or a crash while it was being made */
        if (size && (pread(l->fd, head, size, 0) != (ssize_t)size ||
                     memcmp(head, HL_MAGIC, size < 4 ? size : 4) != 0)) {
            log_error("head log %s: not a head log (%llu bytes)", l->path,
                      (unsigned long long)size);
            return -1;
        }
        if (hl_write_header(l->fd, l->path) != 0) {
            log_error("head log %s: cannot write its header: %s", l->path, strerror(errno));
            return -1;
        }
        l->size = HL_HEADER;
        return 0;
    }
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, l->fd, 0);
    if (map == MAP_FAILED) {
        log_error("head log %s: cannot map it: %s", l->path, strerror(errno));
        return -1;
    }
    int rc = -1;
    uint64_t end = 0;
    if (memcmp(map, HL_MAGIC, 4) != 0)
        log_error("head log %s: not a head log", l->path);
    else if (hl_get_u32(map + 4) != HL_VERSION)
        log_error("head log %s: format version %u, this pantaud reads %u", l->path,
                  hl_get_u32(map + 4), HL_VERSION);
    else
        rc = hl_replay(l, map, size, rp, samples, &end);
    munmap((void *)map, size);
    if (rc)
        return -1;
    if (end < size) {
        if (ftruncate(l->fd, (off_t)end) != 0 || fdatasync(l->fd) != 0) {
            log_error("head log %s: cannot cut its tail: %s", l->path, strerror(errno));
            return -1;
        }
        l->stats.cut_bytes = size - end;
    }
    l->size = end;
    return 0;
}

int headlog_open(struct headlog **out, const char *path, const struct headlog_replay *replay,
                 uint64_t *replayed_samples)
{
    pthread_once(&hl_crc_once, hl_crc_init);
    struct headlog *l = calloc(1, sizeof *l);
    char *tmp = hl_new_path(path);
    if (l)
        l->fd = -1;
    if (!l || !tmp || !(l->path = strdup(path))) {
        log_error("head log %s: out of memory", path);
        goto fail;
    }
    if (unlink(tmp) == 0)
        log_warn("head log %s: removed %s, a compaction cut short", path, tmp);
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l->fd < 0) {
        log_error("head log %s: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t samples = 0;
    if (hl_load(l, replay, &samples) != 0)
        goto fail;
    if (replayed_samples)
        *replayed_samples = samples;
    l->stats.size = l->size;
    free(tmp);
    *out = l;
    return 0;
fail:
    free(tmp);
    headlog_close(l);
    return -1;
}

void headlog_close(struct headlog *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        if (fdatasync(l->fd) != 0)
            log_error("head log %s: sync: %s", l->path, strerror(errno));
        close(l->fd);
    }
    free(l->samples.p);
    free(l->flushed.p);
    free(l->out.p);
    free(l->path);
    free(l);
}

/* --- writing ---------------------------------------------------------- */

int headlog_add(struct headlog *l, int64_t series, int64_t ts, double value)
{
    uint8_t *p = hl_room(&l->samples, HL_SAMPLE_MAX);
    if (!p)
        return -1;
    size_t n = hl_put_uvar(p, (uint64_t)series);
    n += hl_put_svar(p + n, (int64_t)((uint64_t)ts - (uint64_t)l->prev_ts));
    n += hl_put_double(p + n, value);
    l->samples.len += n;
    l->prev_ts = ts;
    l->n_samples++;
    return 0;
}

int headlog_add_flushed(struct headlog *l, int64_t series, int64_t before)
{
    uint8_t *p = hl_room(&l->flushed, 20);
    if (!p)
        return -1;
    size_t n = hl_put_uvar(p, (uint64_t)series);
    n += hl_put_svar(p + n, before);
    l->flushed.len += n;
    l->n_flushed++;
    return 0;
}

/* Appends to out one record: type, the prefix's two varints (b set when
 * the record has one), then body. */
static int hl_record(struct hl_bytes *out, int type, bool two, int64_t a, uint64_t b,
                     const uint8_t *body, size_t body_len)
{
    uint8_t *p = hl_room(out, HL_PREFIX_MAX + body_len);
    if (!p)
        return -1;
    size_t n = HL_REC_HEAD;
    p[n++] = (uint8_t)type;
    if (two)
        n += hl_put_svar(p + n, a);
    n += hl_put_uvar(p + n, b);
    memcpy(p + n, body, body_len);
    n += body_len;
    hl_put_u32(p, (uint32_t)(n - HL_REC_HEAD));
    hl_put_u32(p + 4, hl_crc32c(hl_crc32c(0, p, 4), p + HL_REC_HEAD, n - HL_REC_HEAD));
    out->len += n;
    return 0;
}

static void hl_clear_pending(struct headlog *l)
{
    l->samples.len = l->flushed.len = 0;
    l->n_samples = l->n_flushed = 0;
    l->prev_ts = 0;
}

int headlog_commit(struct headlog *l, int64_t now_ms)
{
    if (!l->n_samples && !l->n_flushed)
        return 0;
    if (l->samples.len > HL_RECORD_MAX - HL_PREFIX_MAX ||
        l->flushed.len > HL_RECORD_MAX - HL_PREFIX_MAX) {
        log_error("head log %s: a commit of over %u MiB: commit more often", l->path,
                  HL_RECORD_MAX >> 20);
        errno = EFBIG;
        return -1;
    }
    l->out.len = 0;
    uint64_t records = 0;
    if (l->n_samples && hl_record(&l->out, HL_SAMPLES, true, now_ms, l->n_samples, l->samples.p,
                                  l->samples.len) == 0)
        records++;
    if (l->n_flushed &&
        hl_record(&l->out, HL_FLUSHED, false, 0, l->n_flushed, l->flushed.p, l->flushed.len) == 0)
        records++;
    if (records != (uint64_t)(l->n_samples != 0) + (l->n_flushed != 0)) {
        errno = ENOMEM;
        log_limited(&l->errors, LOG_LVL_ERROR, "head log %s: out of memory for a commit", l->path);
        return -1;
    }
    if (hl_write_all(l->fd, l->out.p, l->out.len, l->size) != 0) {
        int err = errno;
        if (ftruncate(l->fd, (off_t)l->size) != 0)
            log_error("head log %s: cannot cut a failed write back: %s", l->path, strerror(errno));
        log_limited(&l->errors, LOG_LVL_ERROR, "head log %s: write: %s (kept for the next commit)",
                    l->path, strerror(err));
        errno = err;
        return -1;
    }
    l->size += l->out.len;
    l->stats.records += records;
    hl_clear_pending(l);
    if (l->errors.interval_ms)
        log_limit_clear(&l->errors, LOG_LVL_INFO, "head log %s: writes again", l->path);
    return 0;
}

void headlog_discard(struct headlog *l)
{
    hl_clear_pending(l);
}

int headlog_dup_fd(const struct headlog *l)
{
    return fcntl(l->fd, F_DUPFD_CLOEXEC, 0);
}

bool headlog_wants_compaction(const struct headlog *l, uint64_t head_bytes, uint64_t limit)
{
    uint64_t bound = head_bytes > UINT64_MAX / 2 ? UINT64_MAX : 2 * head_bytes;
    return l->size > (limit > bound ? limit : bound);
}

/* --- compaction ------------------------------------------------------- */

struct hl_compact {
    struct headlog *l;
    int fd;
    uint64_t off;
    int64_t now_ms;
    struct hl_bytes body;
    int err; /* errno of the first failure */
};

static int hl_compact_flush(struct hl_compact *c)
{
    if (hl_write_all(c->fd, c->l->out.p, c->l->out.len, c->off) != 0) {
        c->err = errno;
        return -1;
    }
    c->off += c->l->out.len;
    c->l->out.len = 0;
    return 0;
}

/* One SAMPLES record a series. */
static int hl_compact_series(void *ctx, int64_t series, const struct chunk_point *pts, size_t n)
{
    struct hl_compact *c = ctx;
    for (size_t done = 0; done < n;) {
        /* a series too big for one record takes several */
        size_t k = n - done < HL_SERIES_MAX ? n - done : HL_SERIES_MAX;
        c->body.len = 0;
        uint8_t *p = hl_room(&c->body, k * HL_SAMPLE_MAX);
        if (!p) {
            c->err = ENOMEM;
            return -1;
        }
        int64_t prev = 0;
        for (size_t i = done; i < done + k; i++) {
            size_t w = hl_put_uvar(p, (uint64_t)series);
            w += hl_put_svar(p + w, (int64_t)((uint64_t)pts[i].ts - (uint64_t)prev));
            w += hl_put_double(p + w, pts[i].value);
            prev = pts[i].ts;
            p += w;
            c->body.len += w;
        }
        if (hl_record(&c->l->out, HL_SAMPLES, true, c->now_ms, k, c->body.p, c->body.len) != 0) {
            c->err = ENOMEM;
            return -1;
        }
        c->l->stats.records++;
        done += k;
        if (c->l->out.len >= HL_WRITE_CHUNK && hl_compact_flush(c) != 0)
            return -1;
    }
    return 0;
}

/* Writes the head into fd (after a header). Returns 0 or -1 (c->err). */
static int hl_compact_write(struct hl_compact *c, struct head *h)
{
    struct headlog *l = c->l;
    l->out.len = 0;
    uint8_t *p = hl_room(&l->out, HL_HEADER);
    if (!p) {
        c->err = ENOMEM;
        return -1;
    }
    memcpy(p, HL_MAGIC, 4);
    hl_put_u32(p + 4, HL_VERSION);
    l->out.len = HL_HEADER;
    c->err = 0;
    head_each(h, hl_compact_series, c);
    if (c->err || hl_compact_flush(c) != 0)
        return -1;
    if (fdatasync(c->fd) != 0) {
        c->err = errno;
        return -1;
    }
    return 0;
}

int headlog_compact(struct headlog *l, struct head *h, int64_t now_ms)
{
    if (l->n_samples || l->n_flushed) {
        log_error("head log %s: compaction with a commit pending: postponed", l->path);
        return -1;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return 1;
        log_error("head log %s: lock: %s", l->path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char *tmp = hl_new_path(l->path);
    struct hl_compact c = {.l = l, .fd = -1, .now_ms = now_ms};
    if (!tmp) {
        log_error("head log %s: out of memory for a compaction", l->path);
        goto out;
    }
    c.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (c.fd < 0) {
        log_error("head log %s: %s: %s", l->path, tmp, strerror(errno));
        goto out;
    }
    if (hl_compact_write(&c, h) != 0 || rename(tmp, l->path) != 0) {
        log_error("head log %s: compaction failed: %s (the old file stays)", l->path,
                  strerror(c.err ? c.err : errno));
        close(c.fd);
        unlink(tmp);
        goto out;
    }
    if (hl_sync_dir(l->path) != 0) /* the rename is done: only its durability waits */
        log_error("head log %s: sync of its directory: %s", l->path, strerror(errno));
    close(l->fd); /* and its lock */
    l->fd = c.fd;
    l->size = c.off;
    l->stats.compactions++;
    rc = 0;
out:
    if (rc != 0)
        flock(l->fd, LOCK_UN);
    l->out.len = 0;
    free(c.body.p);
    free(tmp);
    return rc;
}

void headlog_get_stats(const struct headlog *l, struct headlog_stats *out)
{
    *out = l->stats;
    out->size = l->size;
}

/* --- another process's read (pantaud --backup) ---------------------------- */

int headlog_lock_shared(const char *path)
{
    /* A compaction may rename a new file over the path between the open and
     * the lock: the lock must hold the file the path names afterwards. */
    for (int tries = 0; tries < 10; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        struct stat held, named;
        if (flock(fd, LOCK_SH) != 0 || fstat(fd, &held) != 0) {
            close(fd);
            return -1;
        }
        if (stat(path, &named) == 0 && named.st_ino == held.st_ino && named.st_dev == held.st_dev)
            return fd;
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}

int headlog_read(const char *path, const struct headlog_replay *replay, uint64_t *samples)
{
    pthread_once(&hl_crc_once, hl_crc_init);
    struct headlog l = {.fd = -1, .path = (char *)path};
    uint64_t n = 0, end = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_error("head log %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    int rc = -1;
    if (fstat(fd, &sb) != 0 || sb.st_size < HL_HEADER) {
        rc = sb.st_size < HL_HEADER ? 0 : -1; /* empty: nothing to read */
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size;
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        log_error("head log %s: cannot map it: %s", path, strerror(errno));
        goto out;
    }
    if (memcmp(map, HL_MAGIC, 4) != 0 || hl_get_u32(map + 4) != HL_VERSION)
        log_error("head log %s: not a head log this pantaud reads", path);
    else
        rc = hl_replay(&l, map, size, replay, &n, &end);
    munmap((void *)map, size);
out:
    close(fd);
    if (samples)
        *samples = n;
    return rc;
}
