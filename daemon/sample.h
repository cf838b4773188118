/* sample.h — one sample as it travels from the parser to the store, the live
 * push and the KPI engine (CONTRACT §1: a series is program, unit, metric and
 * labels; a sample is a series and a ts). Plain data owned by no module: its
 * strings point into memory that is valid only during the call handing it
 * over (copy what you keep). */
#ifndef PANTAU_SAMPLE_H
#define PANTAU_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#define SAMPLE_MAX_LABELS      8
#define SAMPLE_LABEL_KEY_MAX   32
#define SAMPLE_LABEL_VALUE_MAX 64
/* Room for the canonical labels JSON: 8 keys of 32 and values of 64 bytes,
 * every value byte escaped as \u00XX in the worst case, plus punctuation. */
#define SAMPLE_LABELS_JSON_MAX                                                                     \
    (2 + SAMPLE_MAX_LABELS * (SAMPLE_LABEL_KEY_MAX + 6 * SAMPLE_LABEL_VALUE_MAX + 6))

/* Strings are NUL-terminated; labels_json is the canonical form of the
 * labels: compact JSON, keys sorted, "{}" when there are none. */
struct sample {
    const char *program, *unit, *metric;
    const char *labels_json;
    int64_t ts;  /* device time, epoch ms (arrival time if absent) */
    bool has_ts; /* the payload gave ts (not the arrival time) */
    double value;
    bool has_position;
    double lat, lon;
    int element;    /* index in a batch, -1 for a payload of one sample */
    int64_t series; /* the store's id of its series once stored; 0 before */
};

#endif
