/* buf.h — a growable byte buffer for building HTTP bodies, websocket frames
 * and CSV. Owns its memory. On allocation failure the buffer is marked
 * failed, further appends are ignored, and buf_failed() says so: callers
 * check once at the end instead of after every append. */
#ifndef PANTAU_BUF_H
#define PANTAU_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;
    size_t len, cap;
    size_t reserve; /* bytes kept free before data (LWS_PRE for lws_write) */
    bool failed;
};

/* `reserve` bytes stay free in front of data, for the writer's own header. */
void buf_init(struct buf *b, size_t reserve);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, memory kept */

void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included; invalid UTF-8 is not checked. */
void buf_json_str(struct buf *b, const char *s);
/* len bytes as a JSON string; bytes that are not valid UTF-8 become U+FFFD,
 * so any payload can be shown. */
void buf_json_bytes(struct buf *b, const void *data, size_t len);
/* A double as JSON: shortest round-trip form; non-finite as null. */
void buf_json_num(struct buf *b, double v);
/* The identity every series object of the API and the websocket starts
 * with: {"program":..,"unit":..,"metric":..,"labels":{..} (open: the
 * caller adds its fields and the closing brace). labels_json is canonical
 * JSON already (sample.h) and goes in as is. */
void buf_json_series_head(struct buf *b, const char *program, const char *unit, const char *metric,
                          const char *labels_json);
/* s as one RFC 4180 CSV field in double quotes (inner quotes doubled). */
void buf_csv_quoted(struct buf *b, const char *s);

/* Start of the writable area in front of data (data - reserve). */
static inline unsigned char *buf_front(struct buf *b)
{
    return (unsigned char *)b->data - b->reserve;
}

static inline bool buf_failed(const struct buf *b)
{
    return b->failed;
}

#endif
