/* parse.h — CONTRACT §1: turns one MQTT message (topic + payload) into
 * samples, presence changes and rejections. Pure: no I/O, no global state,
 * thread-agnostic; everything it emits points into memory that is valid only
 * during the sink call (copy what you keep).
 *
 * One message yields, through the sink, either
 *   - one presence change (topic ends in "$status"), or
 *   - zero or more samples and zero or more rejections: a bare number or an
 *     object gives one or the other; an array gives one per element (a valid
 *     element is emitted even when its neighbours are rejected), or one
 *     rejection for the whole message (bad JSON, >1000 elements, ...).
 * Every rejection carries a reason from enum parse_reason; the caller counts
 * them (one per rejected element or per whole message, as CONTRACT §1 says). */
#ifndef PANTAU_PARSE_H
#define PANTAU_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "util.h"

#define PARSE_MAX_PAYLOAD     (64 * 1024) /* bytes; larger is rejected whole */
#define PARSE_MAX_BATCH       1000        /* elements of a JSON array */
#define PARSE_MAX_LABELS      SAMPLE_MAX_LABELS
#define PARSE_LABEL_KEY_MAX   SAMPLE_LABEL_KEY_MAX
#define PARSE_LABEL_VALUE_MAX SAMPLE_LABEL_VALUE_MAX
#define PARSE_MIN_TS_MS       946684800000LL /* 2000-01-01T00:00:00Z */
#define PARSE_MAX_FUTURE_MS   (5 * 60 * 1000)
#define PARSE_LABELS_JSON_MAX SAMPLE_LABELS_JSON_MAX

/* Why a message or element was rejected. Names (parse_reason_name) are the
 * `reason` label of pantau_rejected_total: keep them stable. */
enum parse_reason {
    PARSE_BAD_TOPIC,           /* not <prefix>/<program>/<unit>/<metric> with slugs */
    PARSE_TOO_LARGE,           /* payload over 64 KiB */
    PARSE_BAD_JSON,            /* not JSON (or invalid UTF-8, duplicate keys, too deep) */
    PARSE_BAD_PAYLOAD,         /* JSON, but not a number, object or array (e.g. "1") */
    PARSE_BAD_BATCH,           /* an empty array or one over 1000 elements */
    PARSE_BAD_ELEMENT,         /* an array element that is not an object */
    PARSE_BAD_VALUE,           /* value missing, not a number, or not finite */
    PARSE_BAD_TS,              /* ts neither integer ms nor RFC 3339 with offset */
    PARSE_TS_TOO_OLD,          /* ts before 2000-01-01 */
    PARSE_TS_IN_FUTURE,        /* ts more than 5 minutes after arrival */
    PARSE_BAD_LABELS,          /* labels not an object of <=8 valid key/string pairs */
    PARSE_BAD_POSITION,        /* lat/lon not numbers in range, or only one given */
    PARSE_BAD_METRIC,          /* "metric" override is not a slug */
    PARSE_BAD_STATUS,          /* $status payload other than online/offline */
    PARSE_SERIES_LIMIT,        /* would start a series past [store] max_series_per_unit or
                                  max_series (ingest) */
    PARSE_BAD_ROW,             /* a CSV row that is not 6 fields (import.csv) */
    PARSE_UNIT_LIMIT,          /* would start a unit past [store] max_units (ingest) */
    PARSE_UNKNOWN_PROGRAM,     /* a program the catalog does not list (ingest) */
    PARSE_RETAINED_WITHOUT_TS, /* a retained sample without ts: replayed on every
                                  reconnect, it would be stored again (ingest) */
    PARSE_BAD_STATE,           /* a federation STATE that is not valid, or not of its
                                  topic's regency (federation.h, on a hub) */
    PARSE_REASON_COUNT
};

const char *parse_reason_name(enum parse_reason reason);

struct parse_sink {
    void *ctx;
    void (*on_sample)(void *ctx, const struct sample *s);
    /* element: index in the array, or -1 for the whole message. */
    void (*on_reject)(void *ctx, enum parse_reason reason, int element, const char *detail);
    void (*on_presence)(void *ctx, const char *program, const char *unit, bool online);
};

/* Parses one message. `prefix` is the topic prefix without trailing slash
 * (may have several levels: "kab/lamteng/pantau"). `topic` is NUL-terminated;
 * `payload` is `len` bytes, not NUL-terminated. `arrival_ms` is the default
 * ts and the reference for "in the future". Calls the sink synchronously.
 * Returns the number of samples emitted. */
int parse_message(const char *prefix, const char *topic, const void *payload, size_t len,
                  int64_t arrival_ms, const struct parse_sink *sink);

/* True if s[0..n) is exactly one number in JSON's grammar. */
bool parse_is_json_number(const char *s, size_t n);

/* RFC 3339 date-time with offset ("2026-11-22T08:15:00+07:00",
 * "2026-11-22T01:15:00.250Z") to epoch ms. Returns 0 or -1. */
int parse_rfc3339(const char *s, int64_t *out_ms);

/* A time parameter as the HTTP API takes it: integer epoch ms or RFC 3339. */
int parse_time_param(const char *s, int64_t *out_ms);

#endif
