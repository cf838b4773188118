/* parse.c — see parse.h. JSON is read by jansson: it enforces JSON's number
 * grammar (no hex, inf, nan, '+' or '.5'), rejects invalid UTF-8, duplicate
 * keys (with JSON_REJECT_DUPLICATES) and nesting beyond its depth limit, so
 * nothing here re-implements a lexer. */
#include "parse.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[PARSE_REASON_COUNT] = {
    [PARSE_BAD_TOPIC] = "bad_topic",
    [PARSE_TOO_LARGE] = "too_large",
    [PARSE_BAD_JSON] = "bad_json",
    [PARSE_BAD_PAYLOAD] = "bad_payload",
    [PARSE_BAD_BATCH] = "bad_batch",
    [PARSE_BAD_ELEMENT] = "bad_element",
    [PARSE_BAD_VALUE] = "bad_value",
    [PARSE_BAD_TS] = "bad_ts",
    [PARSE_TS_TOO_OLD] = "ts_too_old",
    [PARSE_TS_IN_FUTURE] = "ts_in_future",
    [PARSE_BAD_LABELS] = "bad_labels",
    [PARSE_BAD_POSITION] = "bad_position",
    [PARSE_BAD_METRIC] = "bad_metric",
    [PARSE_BAD_STATUS] = "bad_status",
    [PARSE_SERIES_LIMIT] = "series_limit",
    [PARSE_BAD_ROW] = "bad_row",
    [PARSE_UNIT_LIMIT] = "unit_limit",
    [PARSE_UNKNOWN_PROGRAM] = "unknown_program",
    [PARSE_RETAINED_WITHOUT_TS] = "retained_without_ts",
    [PARSE_BAD_STATE] = "bad_state",
};

const char *parse_reason_name(enum parse_reason reason)
{
    if ((unsigned)reason >= PARSE_REASON_COUNT)
        return "unknown";
    return reason_names[reason];
}

/* The parts of a topic after the prefix, NUL-terminated copies. */
struct topic {
    char program[SLUG_MAX + 1];
    char unit[SLUG_MAX + 1];
    char metric[SLUG_MAX + 1];
    bool is_status;
};

/* Everything one message's elements share. */
struct message {
    const struct topic *topic;
    int64_t arrival_ms;
    const struct parse_sink *sink;
    int samples;
};

static void reject(const struct message *m, enum parse_reason reason, int element,
                   const char *detail)
{
    if (m->sink->on_reject)
        m->sink->on_reject(m->sink->ctx, reason, element, detail);
}

static int copy_level(char *dst, const char *src, size_t len)
{
    if (!util_is_slug(src, len))
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* "<prefix>/<program>/<unit>/<metric or $status>" */
static int split_topic(const char *prefix, const char *topic, struct topic *t)
{
    size_t plen = strlen(prefix);
    if (strncmp(topic, prefix, plen) != 0 || topic[plen] != '/')
        return -1;
    const char *p = topic + plen + 1;
    const char *s1 = strchr(p, '/');
    if (!s1)
        return -1;
    const char *s2 = strchr(s1 + 1, '/');
    if (!s2 || strchr(s2 + 1, '/'))
        return -1;
    if (copy_level(t->program, p, (size_t)(s1 - p)) != 0 ||
        copy_level(t->unit, s1 + 1, (size_t)(s2 - s1 - 1)) != 0)
        return -1;
    t->is_status = strcmp(s2 + 1, "$status") == 0;
    if (t->is_status) {
        t->metric[0] = '\0';
        return 0;
    }
    return copy_level(t->metric, s2 + 1, strlen(s2 + 1));
}

static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect_char(const char **p, const char *allowed)
{
    if (**p == '\0' || !strchr(allowed, **p))
        return -1;
    (*p)++;
    return 0;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* RFC 3339 §5.6 date-time; 'T'/'t' or ' ' (its §5.6 note) between date and time. */
int parse_rfc3339(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
    const char *p = s;

    if (read_digits(&p, 4, &y) || expect_char(&p, "-") || read_digits(&p, 2, &mo) ||
        expect_char(&p, "-") || read_digits(&p, 2, &d) || expect_char(&p, "Tt ") ||
        read_digits(&p, 2, &h) || expect_char(&p, ":") || read_digits(&p, 2, &mi) ||
        expect_char(&p, ":") || read_digits(&p, 2, &sec))
        return -1;
    if (*p == '.') { /* fraction: keep milliseconds, ignore finer digits */
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (read_digits(&p, 2, &oh) || expect_char(&p, ":") || read_digits(&p, 2, &om))
            return -1;
    } else {
        return -1; /* an offset is required: a local time is ambiguous */
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60 || oh > 23 || om > 59)
        return -1;
    /* A leap second (:60) counts as the first instant of the next minute. */
    int64_t secs = util_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                   sec - sign * (oh * 3600 + om * 60);
    *out_ms = secs * 1000 + ms;
    return 0;
}

int parse_time_param(const char *s, int64_t *out_ms)
{
    if (util_parse_int(s, INT64_MIN / 2, INT64_MAX / 2, out_ms) == 0)
        return 0;
    return parse_rfc3339(s, out_ms);
}

static int read_ts(const json_t *ts, int64_t arrival_ms, int64_t *out, enum parse_reason *why)
{
    *why = PARSE_BAD_TS;
    if (!ts) {
        *out = arrival_ms;
        return 0;
    }
    if (json_is_integer(ts)) {
        *out = json_integer_value(ts);
    } else if (!json_is_string(ts) || parse_rfc3339(json_string_value(ts), out) != 0) {
        return -1;
    }
    if (*out < PARSE_MIN_TS_MS) {
        *why = PARSE_TS_TOO_OLD;
        return -1;
    }
    if (*out > arrival_ms + PARSE_MAX_FUTURE_MS) {
        *why = PARSE_TS_IN_FUTURE;
        return -1;
    }
    return 0;
}

/* Writes the canonical labels JSON into buf (PARSE_LABELS_JSON_MAX bytes). */
static int read_labels(const json_t *labels, char *buf, const char **detail)
{
    if (!labels) {
        strcpy(buf, "{}");
        return 0;
    }
    if (!json_is_object(labels)) {
        *detail = "labels is not an object";
        return -1;
    }
    if (json_object_size(labels) > PARSE_MAX_LABELS) {
        *detail = "more than 8 labels";
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)labels, key, val)
    {
        if (!util_is_label_key(key)) {
            *detail = "label key is not [a-z0-9_]{1,32}";
            return -1;
        }
        size_t vlen = json_is_string(val) ? json_string_length(val) : 0;
        if (!json_is_string(val) || vlen < 1 || vlen > PARSE_LABEL_VALUE_MAX) {
            *detail = "label value is not a string of 1-64 bytes";
            return -1;
        }
    }
    size_t n = json_dumpb(labels, buf, PARSE_LABELS_JSON_MAX - 1, JSON_COMPACT | JSON_SORT_KEYS);
    if (n == 0 || n >= PARSE_LABELS_JSON_MAX - 1) {
        *detail = "labels too long";
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static int read_position(const json_t *obj, struct sample *s)
{
    const json_t *lat = json_object_get(obj, "lat");
    const json_t *lon = json_object_get(obj, "lon");
    s->has_position = false;
    if (!lat && !lon)
        return 0;
    if (!json_is_number(lat) || !json_is_number(lon))
        return -1;
    s->lat = json_number_value(lat);
    s->lon = json_number_value(lon);
    if (!(s->lat >= -90 && s->lat <= 90 && s->lon >= -180 && s->lon <= 180))
        return -1;
    s->has_position = true;
    return 0;
}

static void emit(struct message *m, const struct sample *s)
{
    m->samples++;
    if (m->sink->on_sample)
        m->sink->on_sample(m->sink->ctx, s);
}

/* One object: the whole payload (element -1) or one element of a batch. */
static void parse_object(struct message *m, const json_t *obj, int element)
{
    char labels[PARSE_LABELS_JSON_MAX];
    const char *detail = NULL;
    enum parse_reason why;
    struct sample s = {.program = m->topic->program,
                       .unit = m->topic->unit,
                       .metric = m->topic->metric,
                       .element = element};

    const json_t *value = json_object_get(obj, "value");
    if (!json_is_number(value) || !isfinite(json_number_value(value))) {
        reject(m, PARSE_BAD_VALUE, element, value ? "value is not a number" : "no value");
        return;
    }
    s.value = json_number_value(value);
    s.has_ts = json_object_get(obj, "ts") != NULL;
    if (read_ts(json_object_get(obj, "ts"), m->arrival_ms, &s.ts, &why) != 0) {
        reject(m, why, element, "ts");
        return;
    }
    const json_t *metric = json_object_get(obj, "metric");
    if (metric) {
        if (!json_is_string(metric) ||
            !util_is_slug(json_string_value(metric), json_string_length(metric))) {
            reject(m, PARSE_BAD_METRIC, element, "metric is not a slug");
            return;
        }
        s.metric = json_string_value(metric);
    }
    if (read_labels(json_object_get(obj, "labels"), labels, &detail) != 0) {
        reject(m, PARSE_BAD_LABELS, element, detail);
        return;
    }
    s.labels_json = labels;
    if (read_position(obj, &s) != 0) {
        reject(m, PARSE_BAD_POSITION, element, "lat/lon must both be numbers in range");
        return;
    }
    emit(m, &s);
}

static void parse_batch(struct message *m, const json_t *array)
{
    size_t n = json_array_size(array);
    if (n == 0 || n > PARSE_MAX_BATCH) {
        reject(m, PARSE_BAD_BATCH, -1, n == 0 ? "empty array" : "more than 1000 elements");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *el = json_array_get(array, i);
        if (json_is_object(el))
            parse_object(m, el, (int)i);
        else
            reject(m, PARSE_BAD_ELEMENT, (int)i, "array element is not an object");
    }
}

static void parse_presence(const struct message *m, const char *payload, size_t len)
{
    bool online = len == 6 && memcmp(payload, "online", 6) == 0;
    bool offline = len == 7 && memcmp(payload, "offline", 7) == 0;
    if (!online && !offline) {
        reject(m, PARSE_BAD_STATUS, -1, "$status must be online or offline");
        return;
    }
    if (m->sink->on_presence)
        m->sink->on_presence(m->sink->ctx, m->topic->program, m->topic->unit, online);
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
bool parse_is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    return i == n;
}

/* jansson refuses a number it cannot represent (1e999, or an integer beyond
 * int64) by failing the whole document. The contract wants such a value
 * judged where it stands: a huge integer is a finite number, 1e999 is a
 * non-finite value (so only its element is rejected). This rewrites every
 * number token outside strings: integers beyond int64 as doubles, overflowing
 * ones as null (then rejected as a bad value, ts or position). Rare path:
 * runs only after jansson reported a numeric overflow. */
static char *rewrite_numbers(const char *in, size_t len, size_t *out_len)
{
    char *out = malloc(len * 2 + 32), token[512];
    size_t o = 0;
    bool in_string = false;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        char c = in[i];
        if (in_string || c == '"') {
            if (in_string && c == '\\' && i + 1 < len)
                out[o++] = in[i++];
            else if (c == '"')
                in_string = !in_string;
            out[o++] = in[i++];
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            out[o++] = in[i++];
            continue;
        }
        size_t n = 0;
        bool is_int = true;
        for (; i + n < len && strchr("0123456789+-.eE", in[i + n]); n++)
            is_int = is_int && !strchr(".eE", in[i + n]);
        if (!parse_is_json_number(in + i, n)) { /* not a number: jansson will refuse it */
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
            continue;
        }
        if (n >= sizeof token) {
            memcpy(out + o, "null", 4);
            o += 4;
            i += n;
            continue;
        }
        memcpy(token, in + i, n);
        token[n] = '\0';
        i += n;
        double v = strtod(token, NULL);
        int64_t unused;
        if (!isfinite(v)) {
            memcpy(out + o, "null", 4);
            o += 4;
        } else if (is_int && util_parse_int(token, INT64_MIN, INT64_MAX, &unused) != 0) {
            o += (size_t)snprintf(out + o, 32, "%.17g", v);
        } else {
            memcpy(out + o, token, n);
            o += n;
        }
    }
    *out_len = o;
    return out;
}

static json_t *load_json(const char *payload, size_t len, const struct message *m,
                         bool *rewritten_out)
{
    const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES;
    json_error_t err;
    json_t *root = json_loadb(payload, len, flags, &err);
    if (!root && json_error_code(&err) == json_error_numeric_overflow) {
        size_t n;
        char *rewritten = rewrite_numbers(payload, len, &n);
        if (rewritten)
            root = json_loadb(rewritten, n, flags, &err);
        *rewritten_out = true;
        free(rewritten);
    }
    if (!root)
        reject(m, PARSE_BAD_JSON, -1, err.text);
    return root;
}

int parse_message(const char *prefix, const char *topic, const void *payload, size_t len,
                  int64_t arrival_ms, const struct parse_sink *sink)
{
    struct topic t;
    struct message m = {.topic = &t, .arrival_ms = arrival_ms, .sink = sink};

    if (split_topic(prefix, topic, &t) != 0) {
        reject(&m, PARSE_BAD_TOPIC, -1, "topic is not <prefix>/<program>/<unit>/<metric>");
        return 0;
    }
    if (len > PARSE_MAX_PAYLOAD) {
        reject(&m, PARSE_TOO_LARGE, -1, "payload over 64 KiB");
        return 0;
    }
    if (t.is_status) {
        parse_presence(&m, payload, len);
        return 0;
    }

    if (memchr(payload, '\0', len)) { /* jansson would skip one after a number */
        reject(&m, PARSE_BAD_JSON, -1, "NUL byte in payload");
        return 0;
    }
    bool rewritten = false;
    json_t *root = load_json(payload, len, &m, &rewritten);
    if (!root)
        return 0;
    if (json_is_number(root)) {
        struct sample s = {.program = t.program,
                           .unit = t.unit,
                           .metric = t.metric,
                           .labels_json = "{}",
                           .ts = arrival_ms,
                           .value = json_number_value(root),
                           .element = -1};
        emit(&m, &s);
    } else if (json_is_object(root)) {
        parse_object(&m, root, -1);
    } else if (json_is_array(root)) {
        parse_batch(&m, root);
    } else if (rewritten && json_is_null(root)) {
        reject(&m, PARSE_BAD_VALUE, -1, "number is not finite");
    } else {
        reject(&m, PARSE_BAD_PAYLOAD, -1, "payload is not a number, object or array");
    }
    json_decref(root);
    return m.samples;
}
