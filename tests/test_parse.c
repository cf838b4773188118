/* test_parse.c — CONTRACT §1 (MQTT topic and payload rules) against parse.h.
 *
 * Written against the contract and the header, not the implementation. Every
 * row of the tables below is one case: a message goes through parse_message
 * and the test asserts exactly what the sink received (samples with every
 * field, rejections with reason and element index, presence) and the return
 * value (the number of samples emitted). Payloads are copied into a heap
 * buffer of exactly `len` bytes, so under ASan any read past the payload (it
 * is not NUL-terminated) is caught. */
#include "check.h"
#include "parse.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Arrival time of every message: 2026-11-22T02:00:00Z. */
#define ARR INT64_C(1795312800000)
/* 2026-11-22T01:15:00Z = 2026-11-22T08:15:00+07:00 */
#define T0115 INT64_C(1795310100000)
/* Default topic and what it splits into. */
#define TOPIC      "pantau/paduka-lamteng/van-03/documents_issued"
#define TOPIC_PROG "paduka-lamteng"
#define TOPIC_UNIT "van-03"
#define TOPIC_MET  "documents_issued"
#define STATUS     "pantau/pjs/truck-07/$status"

#define A10    "aaaaaaaaaa"
#define SLUG64 A10 A10 A10 A10 A10 A10 "aaaa"
#define SLUG65 SLUG64 "a"
#define V10    "vvvvvvvvvv"
#define VAL64  V10 V10 V10 V10 V10 V10 "vvvv"
#define VAL65  VAL64 "v"
#define KEY32  "abcdefghijklmnopqrstuvwxyz012345"
#define KEY33  KEY32 "6"
#define UE     "\xc3\xbc" /* ü: 2 bytes of UTF-8 */
#define UE8    UE UE UE UE UE UE UE UE
#define UE32   UE8 UE8 UE8 UE8 /* 32 characters, 64 bytes */

/* ---- a sink that records everything (copies: strings die after the call) ---- */

struct got_sample {
    char *program, *unit, *metric, *labels;
    int64_t ts;
    double value;
    bool has_position;
    double lat, lon;
    bool has_ts;
};

struct got_reject {
    enum parse_reason reason;
    int element;
    char *detail;
};

struct collect {
    struct got_sample *s;
    size_t ns, cap_s;
    struct got_reject *r;
    size_t nr, cap_r;
    int npresence;
    char *p_program, *p_unit;
    bool online;
    int nulls; /* NULL strings handed to the sink */
};

static char *dup_str(struct collect *c, const char *s)
{
    if (!s) {
        c->nulls++;
        return NULL;
    }
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void on_sample(void *ctx, const struct sample *s)
{
    struct collect *c = ctx;
    if (c->ns == c->cap_s) {
        c->cap_s = c->cap_s ? 2 * c->cap_s : 16;
        c->s = realloc(c->s, c->cap_s * sizeof *c->s);
        if (!c->s)
            abort();
    }
    struct got_sample *g = &c->s[c->ns++];
    g->program = dup_str(c, s->program);
    g->unit = dup_str(c, s->unit);
    g->metric = dup_str(c, s->metric);
    g->labels = dup_str(c, s->labels_json);
    g->ts = s->ts;
    g->value = s->value;
    g->has_position = s->has_position;
    g->lat = s->lat;
    g->lon = s->lon;
    g->has_ts = s->has_ts;
}

static void on_reject(void *ctx, enum parse_reason reason, int element, const char *detail)
{
    struct collect *c = ctx;
    if (c->nr == c->cap_r) {
        c->cap_r = c->cap_r ? 2 * c->cap_r : 16;
        c->r = realloc(c->r, c->cap_r * sizeof *c->r);
        if (!c->r)
            abort();
    }
    struct got_reject *g = &c->r[c->nr++];
    g->reason = reason;
    g->element = element;
    g->detail = detail ? strdup(detail) : NULL;
}

static void on_presence(void *ctx, const char *program, const char *unit, bool online)
{
    struct collect *c = ctx;
    c->npresence++;
    free(c->p_program);
    free(c->p_unit);
    c->p_program = dup_str(c, program);
    c->p_unit = dup_str(c, unit);
    c->online = online;
}

static void collect_free(struct collect *c)
{
    for (size_t i = 0; i < c->ns; i++) {
        free(c->s[i].program);
        free(c->s[i].unit);
        free(c->s[i].metric);
        free(c->s[i].labels);
    }
    for (size_t i = 0; i < c->nr; i++)
        free(c->r[i].detail);
    free(c->s);
    free(c->r);
    free(c->p_program);
    free(c->p_unit);
    memset(c, 0, sizeof *c);
}

/* Our own names for the reasons, so a failure reads well even if
 * parse_reason_name is wrong. */
static const char *rn(int reason)
{
    static const char *const names[] = {
        "PARSE_BAD_TOPIC",  "PARSE_TOO_LARGE",    "PARSE_BAD_JSON",   "PARSE_BAD_PAYLOAD",
        "PARSE_BAD_BATCH",  "PARSE_BAD_ELEMENT",  "PARSE_BAD_VALUE",  "PARSE_BAD_TS",
        "PARSE_TS_TOO_OLD", "PARSE_TS_IN_FUTURE", "PARSE_BAD_LABELS", "PARSE_BAD_POSITION",
        "PARSE_BAD_METRIC", "PARSE_BAD_STATUS",
    };
    if (reason < 0 || reason >= (int)(sizeof names / sizeof names[0]))
        return "(out of range)";
    return names[reason];
}

static void describe(const struct collect *c, int ret)
{
    fprintf(stderr, "    got: return %d, %zu sample(s), %zu rejection(s), %d presence\n", ret,
            c->ns, c->nr, c->npresence);
    for (size_t i = 0; i < c->ns && i < 5; i++) {
        const struct got_sample *g = &c->s[i];
        fprintf(stderr, "    sample %s/%s/%s labels=%s ts=%" PRId64 " value=%.17g", g->program,
                g->unit, g->metric, g->labels, g->ts, g->value);
        if (g->has_position)
            fprintf(stderr, " lat=%.17g lon=%.17g", g->lat, g->lon);
        fputc('\n', stderr);
    }
    for (size_t i = 0; i < c->nr && i < 5; i++)
        fprintf(stderr, "    reject %s element %d: %s\n", rn((int)c->r[i].reason), c->r[i].element,
                c->r[i].detail ? c->r[i].detail : "(no detail)");
    if (c->npresence)
        fprintf(stderr, "    presence %s/%s %s\n", c->p_program, c->p_unit,
                c->online ? "online" : "offline");
}

/* Parses with the payload in a heap buffer of exactly len bytes. */
static int run_parse(const char *prefix, const char *topic, const void *payload, size_t len,
                     int64_t arrival, struct collect *c)
{
    memset(c, 0, sizeof *c);
    char *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    if (len)
        memcpy(buf, payload, len);
    struct parse_sink sink = {c, on_sample, on_reject, on_presence};
    int ret = parse_message(prefix, topic, buf, len, arrival, &sink);
    free(buf);
    return ret;
}

/* ---- checks shared by the rows and the hand-written cases ---- */

static void expect_one_reject(const struct collect *c, int ret, enum parse_reason reason,
                              int element)
{
    CHECK_INT(c->nulls, 0);
    CHECK_INT(c->ns, 0);
    CHECK_INT(c->npresence, 0);
    CHECK_INT(c->nr, 1);
    CHECK_STR(rn((int)c->r[0].reason), rn((int)reason));
    CHECK_INT(c->r[0].element, element);
    CHECK_INT(ret, 0);
}

/* A check of one outcome: the sink's record, parse_message's return, and
 * what the case expects (its own type, or NULL). */
typedef void (*check_fn)(const struct collect *c, int ret, const void *want);

/* Parses one message (arrival ARR), runs `check`, prints what was received if
 * a check failed, and frees it: what every case would otherwise repeat. */
static void parse_expect_at(const char *prefix, const char *topic, const void *payload, size_t len,
                            check_fn check, const void *want)
{
    struct collect c;
    int ret = run_parse(prefix, topic, payload, len, ARR, &c);
    check(&c, ret, want);
    if (check_failed_)
        describe(&c, ret);
    collect_free(&c);
}

static void parse_expect(const char *topic, const void *payload, size_t len, check_fn check,
                         const void *want)
{
    parse_expect_at("pantau", topic, payload, len, check, want);
}

struct want_reject {
    enum parse_reason reason;
    int element;
};

static void check_reject(const struct collect *c, int ret, const void *want)
{
    const struct want_reject *w = want;
    expect_one_reject(c, ret, w->reason, w->element);
}

/* The whole message rejected once, for `reason`. */
static void parse_expect_reject(const char *topic, const void *payload, size_t len,
                                enum parse_reason reason)
{
    struct want_reject w = {reason, -1};
    parse_expect(topic, payload, len, check_reject, &w);
}

/* ---- the table ---- */

enum expect { E_SAMPLE = 1, E_REJECT, E_PRESENCE };

struct prow {
    const char *prefix;  /* NULL: "pantau" */
    const char *topic;   /* NULL: TOPIC */
    const char *payload; /* NULL: "" */
    size_t len;          /* 0: strlen(payload) */
    enum expect expect;
    /* E_SAMPLE */
    double value;
    int64_t ts;
    const char *labels;                  /* NULL: "{}" */
    const char *program, *unit, *metric; /* NULL: TOPIC's */
    bool pos;
    double lat, lon;
    /* E_REJECT */
    enum parse_reason reason;
    int element;
    /* E_PRESENCE (program and unit as above) */
    bool online;
};

#define P(s)            .payload = (s)
#define OK(v)           .expect = E_SAMPLE, .value = (v), .ts = ARR
#define OKT(v, t)       .expect = E_SAMPLE, .value = (v), .ts = (t)
#define REJ(r)          .expect = E_REJECT, .reason = (r), .element = -1
#define REJ_AT(r, i)    .expect = E_REJECT, .reason = (r), .element = (i)
#define PRESENCE(on)    .expect = E_PRESENCE, .online = (on)
#define POS(la, lo)     .pos = true, .lat = (la), .lon = (lo)
#define PJS             .program = "pjs", .unit = "truck-07"
#define VAL1(json_tail) "{\"value\":1," json_tail "}"
#define LBL(json_obj)   "{\"value\":1,\"labels\":" json_obj "}"

/* X(name, row fields...) — one case per row. */
#define PARSE_ROWS(X)                                                                              \
    /* 1. bare numbers */                                                                          \
    X(bare_int, P("42"), OK(42))                                                                   \
    X(bare_negative_real, P("-1.5"), OK(-1.5))                                                     \
    X(bare_exponent, P("3e2"), OK(300))                                                            \
    X(bare_exponent_upper_negative, P("2.5E-3"), OK(0.0025))                                       \
    X(bare_exponent_plus_sign, P("1e+2"), OK(100))                                                 \
    X(bare_whitespace_around, P(" 7 \n"), OK(7))                                                   \
    X(bare_tab_crlf, P("\t42\r\n"), OK(42))                                                        \
    X(bare_zero, P("0"), OK(0))                                                                    \
    X(bare_negative_zero, P("-0"), OK(0))                                                          \
    X(bare_beyond_int64_is_finite, P("12345678901234567890"), OK(12345678901234567890.0))          \
    X(bare_not_nul_terminated, P("427"), .len = 2, OK(42))                                         \
    X(bare_contract_example, .topic = "pantau/pjs/truck-07/pickups", P("3"), OK(3), PJS,           \
      .metric = "pickups")                                                                         \
    X(bare_plus, P("+1"), REJ(PARSE_BAD_JSON))                                                     \
    X(bare_leading_dot, P(".5"), REJ(PARSE_BAD_JSON))                                              \
    X(bare_trailing_dot, P("1."), REJ(PARSE_BAD_JSON))                                             \
    X(bare_leading_zero, P("01"), REJ(PARSE_BAD_JSON))                                             \
    X(bare_hex, P("0x10"), REJ(PARSE_BAD_JSON))                                                    \
    X(bare_nan, P("nan"), REJ(PARSE_BAD_JSON))                                                     \
    X(bare_NaN, P("NaN"), REJ(PARSE_BAD_JSON))                                                     \
    X(bare_inf, P("inf"), REJ(PARSE_BAD_JSON))                                                     \
    X(bare_Infinity, P("Infinity"), REJ(PARSE_BAD_JSON))                                           \
    X(bare_minus_Infinity, P("-Infinity"), REJ(PARSE_BAD_JSON))                                    \
    X(bare_comma_decimal, P("1,5"), REJ(PARSE_BAD_JSON))                                           \
    X(bare_two_numbers, P("42 43"), REJ(PARSE_BAD_JSON))                                           \
    X(bare_trailing_garbage, P("42abc"), REJ(PARSE_BAD_JSON))                                      \
    X(bare_embedded_nul, P("42\0"), .len = 3, REJ(PARSE_BAD_JSON))                                 \
    X(bare_overflow_1e999, P("1e999"), REJ(PARSE_BAD_VALUE))                                       \
    X(bare_overflow_minus_1e999, P("-1e999"), REJ(PARSE_BAD_VALUE))                                \
    X(bare_json_string, P("\"1\""), REJ(PARSE_BAD_PAYLOAD))                                        \
    X(bare_true, P("true"), REJ(PARSE_BAD_PAYLOAD))                                                \
    X(bare_false, P("false"), REJ(PARSE_BAD_PAYLOAD))                                              \
    X(bare_null, P("null"), REJ(PARSE_BAD_PAYLOAD))                                                \
    X(empty_payload, P(""), REJ(PARSE_BAD_JSON))                                                   \
    X(whitespace_only_payload, P(" \n"), REJ(PARSE_BAD_JSON))                                      \
    /* 2. objects: value */                                                                        \
    X(obj_value_only, P("{\"value\": 4}"), OK(4))                                                  \
    X(obj_whitespace, P(" {\n  \"value\" : 4\n} \n"), OK(4))                                       \
    X(obj_value_negative_real, P("{\"value\":-273.15}"), OK(-273.15))                              \
    X(obj_value_beyond_int64, P("{\"value\":12345678901234567890}"), OK(12345678901234567890.0))   \
    X(obj_missing_value, P("{\"ts\":1795310100000}"), REJ(PARSE_BAD_VALUE))                        \
    X(obj_empty, P("{}"), REJ(PARSE_BAD_VALUE))                                                    \
    X(obj_value_string, P("{\"value\":\"4\"}"), REJ(PARSE_BAD_VALUE))                              \
    X(obj_value_null, P("{\"value\":null}"), REJ(PARSE_BAD_VALUE))                                 \
    X(obj_value_bool, P("{\"value\":true}"), REJ(PARSE_BAD_VALUE))                                 \
    X(obj_value_object, P("{\"value\":{}}"), REJ(PARSE_BAD_VALUE))                                 \
    X(obj_value_overflow, P("{\"value\":1e999}"), REJ(PARSE_BAD_VALUE))                            \
    /* an overflow elsewhere must not make jansson's refusals pass */                              \
    X(overflow_beside_bad_number, P("[{\"value\":1e999},{\"value\":12-34}]"), REJ(PARSE_BAD_JSON)) \
    X(overflow_beside_lone_minus, P("{\"value\":-,\"x\":1e999}"), REJ(PARSE_BAD_JSON))             \
    X(obj_duplicate_value, P("{\"value\":1,\"value\":2}"), REJ(PARSE_BAD_JSON))                    \
    X(obj_trailing_comma, P("{\"value\":1,}"), REJ(PARSE_BAD_JSON))                                \
    X(obj_single_quotes, P("{'value':1}"), REJ(PARSE_BAD_JSON))                                    \
    X(obj_unterminated, P("{\"value\":1"), REJ(PARSE_BAD_JSON))                                    \
    X(obj_trailing_garbage, P("{\"value\":1} x"), REJ(PARSE_BAD_JSON))                             \
    X(obj_two_objects, P("{\"value\":1}{\"value\":2}"), REJ(PARSE_BAD_JSON))                       \
    X(obj_trailing_nul, P("{\"value\":1}\0"), .len = 12, REJ(PARSE_BAD_JSON))                      \
    X(obj_invalid_utf8_key, P("{\"\xff\":1,\"value\":1}"), REJ(PARSE_BAD_JSON))                    \
    /* 2. objects: ts */                                                                           \
    X(ts_integer_ms, P(VAL1("\"ts\":1795310100000")), OKT(1, T0115))                               \
    X(ts_rfc3339_plus_0700, P(VAL1("\"ts\":\"2026-11-22T08:15:00+07:00\"")), OKT(1, T0115))        \
    X(ts_rfc3339_z, P(VAL1("\"ts\":\"2026-11-22T01:15:00Z\"")), OKT(1, T0115))                     \
    X(ts_rfc3339_fraction, P(VAL1("\"ts\":\"2026-11-22T01:15:00.250Z\"")), OKT(1, T0115 + 250))    \
    X(ts_rfc3339_fraction_6_digits, P(VAL1("\"ts\":\"2026-11-22T08:15:00.123456+07:00\"")),        \
      OKT(1, T0115 + 123))                                                                         \
    X(ts_rfc3339_minus_0330, P(VAL1("\"ts\":\"2026-11-21T21:45:00-03:30\"")), OKT(1, T0115))       \
    X(ts_rfc3339_lowercase_t_z, P(VAL1("\"ts\":\"2026-11-22t01:15:00z\"")), OKT(1, T0115))         \
    X(ts_string_without_offset, P(VAL1("\"ts\":\"2026-11-22T08:15:00\"")), REJ(PARSE_BAD_TS))      \
    X(ts_real_number, P(VAL1("\"ts\":1.5e12")), REJ(PARSE_BAD_TS))                                 \
    X(ts_fractional_ms, P(VAL1("\"ts\":1795310100000.5")), REJ(PARSE_BAD_TS))                      \
    X(ts_garbage_string, P(VAL1("\"ts\":\"yesterday\"")), REJ(PARSE_BAD_TS))                       \
    X(ts_digits_in_string, P(VAL1("\"ts\":\"1795310100000\"")), REJ(PARSE_BAD_TS))                 \
    X(ts_date_only, P(VAL1("\"ts\":\"2026-11-22\"")), REJ(PARSE_BAD_TS))                           \
    X(ts_real_overflow, P(VAL1("\"ts\":1e999")), REJ(PARSE_BAD_TS))                                \
    X(ts_bool, P(VAL1("\"ts\":true")), REJ(PARSE_BAD_TS))                                          \
    X(ts_object, P(VAL1("\"ts\":{}")), REJ(PARSE_BAD_TS))                                          \
    X(ts_invalid_date_feb30, P(VAL1("\"ts\":\"2026-02-30T00:00:00Z\"")), REJ(PARSE_BAD_TS))        \
    X(ts_exactly_2000, P(VAL1("\"ts\":946684800000")), OKT(1, INT64_C(946684800000)))              \
    X(ts_1ms_before_2000, P(VAL1("\"ts\":946684799999")), REJ(PARSE_TS_TOO_OLD))                   \
    X(ts_rfc3339_before_2000, P(VAL1("\"ts\":\"1999-12-31T23:59:59.999Z\"")),                      \
      REJ(PARSE_TS_TOO_OLD))                                                                       \
    X(ts_rfc3339_2000_local_but_1999_utc, P(VAL1("\"ts\":\"2000-01-01T06:59:59+07:00\"")),         \
      REJ(PARSE_TS_TOO_OLD))                                                                       \
    X(ts_zero, P(VAL1("\"ts\":0")), REJ(PARSE_TS_TOO_OLD))                                         \
    X(ts_negative, P(VAL1("\"ts\":-1")), REJ(PARSE_TS_TOO_OLD))                                    \
    X(ts_int64_min, P(VAL1("\"ts\":-9223372036854775808")), REJ(PARSE_TS_TOO_OLD))                 \
    X(ts_future_exactly_5min, P(VAL1("\"ts\":1795313100000")), OKT(1, ARR + 300000))               \
    X(ts_future_5min_1ms, P(VAL1("\"ts\":1795313100001")), REJ(PARSE_TS_IN_FUTURE))                \
    X(ts_rfc3339_future_exactly_5min, P(VAL1("\"ts\":\"2026-11-22T09:05:00+07:00\"")),             \
      OKT(1, ARR + 300000))                                                                        \
    X(ts_rfc3339_future_5min_1ms, P(VAL1("\"ts\":\"2026-11-22T02:05:00.001Z\"")),                  \
      REJ(PARSE_TS_IN_FUTURE))                                                                     \
    X(ts_int64_max, P(VAL1("\"ts\":9223372036854775807")), REJ(PARSE_TS_IN_FUTURE))                \
    /* 2. objects: labels */                                                                       \
    X(labels_contract_example,                                                                     \
      P("{\"value\": 4, \"labels\": {\"doc\": \"ktp\", \"kampung\": \"gunung-sugih\"}}"), OK(4),   \
      .labels = "{\"doc\":\"ktp\",\"kampung\":\"gunung-sugih\"}")                                  \
    X(labels_contract_example_price, .topic = "pantau/simas-bapokting/pasar-bandar-jaya/price",    \
      P("{\"value\": 14500, \"labels\": {\"commodity\": \"beras-medium\"}}"), OK(14500),           \
      .labels = "{\"commodity\":\"beras-medium\"}", .program = "simas-bapokting",                  \
      .unit = "pasar-bandar-jaya", .metric = "price")                                              \
    X(labels_sorted, P(LBL("{\"b\":\"2\",\"a\":\"1\"}")), OK(1),                                   \
      .labels = "{\"a\":\"1\",\"b\":\"2\"}")                                                       \
    X(labels_sorted_bytewise,                                                                      \
      P(LBL("{\"z\":\"1\",\"ab\":\"3\",\"a_b\":\"2\",\"a0\":\"4\",\"a\":\"5\"}")), OK(1),          \
      .labels = "{\"a\":\"5\",\"a0\":\"4\",\"a_b\":\"2\",\"ab\":\"3\",\"z\":\"1\"}")               \
    X(labels_empty_object, P(LBL("{}")), OK(1), .labels = "{}")                                    \
    X(labels_eight,                                                                                \
      P(LBL("{\"h\":\"8\",\"g\":\"7\",\"f\":\"6\",\"e\":\"5\",\"d\":\"4\",\"c\":\"3\",\"b\":"      \
            "\"2\",\"a\":\"1\"}")),                                                                \
      OK(1),                                                                                       \
      .labels = "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":"  \
                "\"7\",\"h\":\"8\"}")                                                              \
    X(labels_nine,                                                                                 \
      P(LBL("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":"      \
            "\"7\",\"h\":\"8\",\"i\":\"9\"}")),                                                    \
      REJ(PARSE_BAD_LABELS))                                                                       \
    X(labels_key_uppercase, P(LBL("{\"Doc\":\"ktp\"}")), REJ(PARSE_BAD_LABELS))                    \
    X(labels_key_dash, P(LBL("{\"a-b\":\"x\"}")), REJ(PARSE_BAD_LABELS))                           \
    X(labels_key_empty, P(LBL("{\"\":\"x\"}")), REJ(PARSE_BAD_LABELS))                             \
    X(labels_key_32, P(LBL("{\"" KEY32 "\":\"x\"}")), OK(1), .labels = "{\"" KEY32 "\":\"x\"}")    \
    X(labels_key_33, P(LBL("{\"" KEY33 "\":\"x\"}")), REJ(PARSE_BAD_LABELS))                       \
    X(labels_value_64_bytes, P(LBL("{\"a\":\"" VAL64 "\"}")), OK(1),                               \
      .labels = "{\"a\":\"" VAL64 "\"}")                                                           \
    X(labels_value_65_bytes, P(LBL("{\"a\":\"" VAL65 "\"}")), REJ(PARSE_BAD_LABELS))               \
    X(labels_value_empty, P(LBL("{\"a\":\"\"}")), REJ(PARSE_BAD_LABELS))                           \
    X(labels_value_number, P(LBL("{\"a\":1}")), REJ(PARSE_BAD_LABELS))                             \
    X(labels_value_null, P(LBL("{\"a\":null}")), REJ(PARSE_BAD_LABELS))                            \
    X(labels_value_object, P(LBL("{\"a\":{}}")), REJ(PARSE_BAD_LABELS))                            \
    X(labels_not_object_array, P(LBL("[]")), REJ(PARSE_BAD_LABELS))                                \
    X(labels_not_object_string, P(LBL("\"a\"")), REJ(PARSE_BAD_LABELS))                            \
    X(labels_utf8_multibyte, P(LBL("{\"kampung\":\"gunung-s" UE "gih\"}")), OK(1),                 \
      .labels = "{\"kampung\":\"gunung-s" UE "gih\"}")                                             \
    X(labels_utf8_64_bytes_32_chars, P(LBL("{\"a\":\"" UE32 "\"}")), OK(1),                        \
      .labels = "{\"a\":\"" UE32 "\"}")                                                            \
    X(labels_utf8_66_bytes_33_chars, P(LBL("{\"a\":\"" UE32 UE "\"}")), REJ(PARSE_BAD_LABELS))     \
    X(labels_escaped_unicode_canonical, P(LBL("{\"a\":\"\\u00fc\"}")), OK(1),                      \
      .labels = "{\"a\":\"" UE "\"}")                                                              \
    X(labels_escaped_quote, P(LBL("{\"a\":\"x\\\"y\"}")), OK(1), .labels = "{\"a\":\"x\\\"y\"}")   \
    X(labels_invalid_utf8_ff,                                                                      \
      P(LBL("{\"a\":\"x\xff"                                                                       \
            "y\"}")),                                                                              \
      REJ(PARSE_BAD_JSON))                                                                         \
    X(labels_invalid_utf8_overlong, P(LBL("{\"a\":\"\xc0\xaf\"}")), REJ(PARSE_BAD_JSON))           \
    X(labels_invalid_utf8_surrogate, P(LBL("{\"a\":\"\xed\xa0\x80\"}")), REJ(PARSE_BAD_JSON))      \
    X(labels_invalid_utf8_truncated, P(LBL("{\"a\":\"x\xc3\"}")), REJ(PARSE_BAD_JSON))             \
    X(labels_duplicate_key, P(LBL("{\"a\":\"1\",\"a\":\"2\"}")), REJ(PARSE_BAD_JSON))              \
    /* 2. objects: position */                                                                     \
    X(pos_ok, P(VAL1("\"lat\":-5.45,\"lon\":105.26")), OK(1), POS(-5.45, 105.26))                  \
    X(pos_integers, P(VAL1("\"lat\":0,\"lon\":0")), OK(1), POS(0, 0))                              \
    X(pos_bounds_south_east, P(VAL1("\"lat\":-90,\"lon\":180")), OK(1), POS(-90, 180))             \
    X(pos_bounds_north_west, P(VAL1("\"lat\":90,\"lon\":-180")), OK(1), POS(90, -180))             \
    X(pos_lat_above_90, P(VAL1("\"lat\":90.5,\"lon\":105")), REJ(PARSE_BAD_POSITION))              \
    X(pos_lat_below_minus_90, P(VAL1("\"lat\":-91,\"lon\":105")), REJ(PARSE_BAD_POSITION))         \
    X(pos_lon_above_180, P(VAL1("\"lat\":-5,\"lon\":180.01")), REJ(PARSE_BAD_POSITION))            \
    X(pos_lon_below_minus_180, P(VAL1("\"lat\":-5,\"lon\":-180.5")), REJ(PARSE_BAD_POSITION))      \
    X(pos_lat_only, P(VAL1("\"lat\":-5.45")), REJ(PARSE_BAD_POSITION))                             \
    X(pos_lon_only, P(VAL1("\"lon\":105.26")), REJ(PARSE_BAD_POSITION))                            \
    X(pos_lat_string, P(VAL1("\"lat\":\"-5.45\",\"lon\":105.26")), REJ(PARSE_BAD_POSITION))        \
    X(pos_lat_null, P(VAL1("\"lat\":null,\"lon\":105.26")), REJ(PARSE_BAD_POSITION))               \
    /* 2. objects: metric override */                                                              \
    X(metric_override, P(VAL1("\"metric\":\"queue_len\"")), OK(1), .metric = "queue_len")          \
    X(metric_override_64, P(VAL1("\"metric\":\"" SLUG64 "\"")), OK(1), .metric = SLUG64)           \
    X(metric_override_65, P(VAL1("\"metric\":\"" SLUG65 "\"")), REJ(PARSE_BAD_METRIC))             \
    X(metric_override_uppercase, P(VAL1("\"metric\":\"Queue\"")), REJ(PARSE_BAD_METRIC))           \
    X(metric_override_empty, P(VAL1("\"metric\":\"\"")), REJ(PARSE_BAD_METRIC))                    \
    X(metric_override_slash, P(VAL1("\"metric\":\"a/b\"")), REJ(PARSE_BAD_METRIC))                 \
    X(metric_override_leading_dash, P(VAL1("\"metric\":\"-x\"")), REJ(PARSE_BAD_METRIC))           \
    X(metric_override_status, P(VAL1("\"metric\":\"$status\"")), REJ(PARSE_BAD_METRIC))            \
    X(metric_override_number, P(VAL1("\"metric\":5")), REJ(PARSE_BAD_METRIC))                      \
    /* topics */                                                                                   \
    X(topic_multilevel_prefix, .prefix = "kab/lamteng/pantau",                                     \
      .topic = "kab/lamteng/pantau/pjs/truck-07/pickups", P("3"), OK(3), PJS, .metric = "pickups") \
    X(topic_multilevel_prefix_missing_level, .prefix = "kab/lamteng/pantau",                       \
      .topic = "kab/lamteng/pjs/truck-07/pickups", P("3"), REJ(PARSE_BAD_TOPIC))                   \
    X(topic_multilevel_prefix_default_topic, .prefix = "kab/lamteng/pantau",                       \
      .topic = "pantau/pjs/truck-07/pickups", P("3"), REJ(PARSE_BAD_TOPIC))                        \
    X(topic_wrong_prefix, .topic = "other/pjs/truck-07/pickups", P("3"), REJ(PARSE_BAD_TOPIC))     \
    X(topic_prefix_not_a_level, .topic = "pantaux/pjs/truck-07/pickups", P("3"),                   \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(topic_prefix_only, .topic = "pantau", P("3"), REJ(PARSE_BAD_TOPIC))                          \
    X(topic_empty, .topic = "", P("3"), REJ(PARSE_BAD_TOPIC))                                      \
    X(topic_too_few_levels, .topic = "pantau/pjs/truck-07", P("3"), REJ(PARSE_BAD_TOPIC))          \
    X(topic_too_many_levels, .topic = "pantau/pjs/truck-07/pickups/x", P("3"),                     \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(topic_uppercase_program, .topic = "pantau/PJS/truck-07/pickups", P("3"),                     \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(topic_uppercase_unit, .topic = "pantau/pjs/Truck-07/pickups", P("3"), REJ(PARSE_BAD_TOPIC))  \
    X(topic_uppercase_metric, .topic = "pantau/pjs/truck-07/Pickups", P("3"),                      \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(topic_slug_64, .topic = "pantau/" SLUG64 "/truck-07/pickups", P("3"), OK(3),                 \
      .program = SLUG64, .unit = "truck-07", .metric = "pickups")                                  \
    X(topic_slug_65, .topic = "pantau/pjs/" SLUG65 "/pickups", P("3"), REJ(PARSE_BAD_TOPIC))       \
    X(topic_empty_level, .topic = "pantau/pjs//pickups", P("3"), REJ(PARSE_BAD_TOPIC))             \
    X(topic_trailing_slash, .topic = "pantau/pjs/truck-07/pickups/", P("3"), REJ(PARSE_BAD_TOPIC)) \
    X(topic_leading_slash, .topic = "/pantau/pjs/truck-07/pickups", P("3"), REJ(PARSE_BAD_TOPIC))  \
    X(topic_slug_leading_dash, .topic = "pantau/-pjs/truck-07/pickups", P("3"),                    \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(topic_slug_leading_underscore, .topic = "pantau/pjs/_truck/pickups", P("3"),                 \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(topic_wildcard, .topic = "pantau/pjs/+/pickups", P("3"), REJ(PARSE_BAD_TOPIC))               \
    X(topic_space, .topic = "pantau/pjs/truck 07/pickups", P("3"), REJ(PARSE_BAD_TOPIC))           \
    /* presence */                                                                                 \
    X(status_online, .topic = STATUS, P("online"), PRESENCE(true), PJS)                            \
    X(status_offline, .topic = STATUS, P("offline"), PRESENCE(false), PJS)                         \
    X(status_multilevel_prefix, .prefix = "kab/lamteng/pantau",                                    \
      .topic = "kab/lamteng/pantau/pjs/truck-07/$status", P("offline"), PRESENCE(false), PJS)      \
    X(status_uppercase, .topic = STATUS, P("ONLINE"), REJ(PARSE_BAD_STATUS))                       \
    X(status_empty, .topic = STATUS, P(""), REJ(PARSE_BAD_STATUS))                                 \
    X(status_truncated_word, .topic = STATUS, P("onl"), REJ(PARSE_BAD_STATUS))                     \
    X(status_word_with_suffix, .topic = STATUS, P("onlinex"), REJ(PARSE_BAD_STATUS))               \
    X(status_json_string, .topic = STATUS, P("\"online\""), REJ(PARSE_BAD_STATUS))                 \
    X(status_number, .topic = STATUS, P("1"), REJ(PARSE_BAD_STATUS))                               \
    X(status_trailing_nul, .topic = STATUS, P("online\0"), .len = 7, REJ(PARSE_BAD_STATUS))        \
    X(status_bad_unit, .topic = "pantau/pjs/Truck/$status", P("online"), REJ(PARSE_BAD_TOPIC))     \
    X(status_too_many_levels, .topic = "pantau/pjs/truck-07/x/$status", P("online"),               \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    X(status_other_dollar_word, .topic = "pantau/pjs/truck-07/$state", P("online"),                \
      REJ(PARSE_BAD_TOPIC))                                                                        \
    /* 3. arrays with one outcome */                                                               \
    X(array_empty, P("[]"), REJ(PARSE_BAD_BATCH))                                                  \
    X(array_empty_whitespace, P("[ \n ]"), REJ(PARSE_BAD_BATCH))                                   \
    X(array_one, P("[{\"value\":1}]"), OK(1))                                                      \
    X(array_one_with_fields,                                                                       \
      P("[{\"value\":2,\"ts\":1795310100000,\"metric\":\"other\",\"labels\":{\"k\":\"v\"},"        \
        "\"lat\":1,\"lon\":2}]"),                                                                  \
      OKT(2, T0115), .metric = "other", .labels = "{\"k\":\"v\"}", POS(1, 2))                      \
    X(array_element_number, P("[1]"), REJ_AT(PARSE_BAD_ELEMENT, 0))                                \
    X(array_element_string, P("[\"x\"]"), REJ_AT(PARSE_BAD_ELEMENT, 0))                            \
    X(array_element_null, P("[null]"), REJ_AT(PARSE_BAD_ELEMENT, 0))                               \
    X(array_element_array, P("[[{\"value\":1}]]"), REJ_AT(PARSE_BAD_ELEMENT, 0))                   \
    X(array_element_bad_value, P("[{\"value\":\"x\"}]"), REJ_AT(PARSE_BAD_VALUE, 0))               \
    X(array_element_ts_in_future, P("[{\"value\":1,\"ts\":1795313100001}]"),                       \
      REJ_AT(PARSE_TS_IN_FUTURE, 0))                                                               \
    X(array_trailing_comma, P("[{\"value\":1},]"), REJ(PARSE_BAD_JSON))                            \
    X(array_bad_json_inside, P("[{\"value\":1},{]"), REJ(PARSE_BAD_JSON))                          \
    X(array_duplicate_key_in_element, P("[{\"value\":1,\"value\":2}]"), REJ(PARSE_BAD_JSON))       \
    X(array_nul_after_number, P("[1\0,{\"value\":2}]"), .len = 16, REJ(PARSE_BAD_JSON))            \
    X(array_unterminated, P("[{\"value\":1}"), REJ(PARSE_BAD_JSON))

static void check_row(const struct collect *c, int ret, const void *want)
{
    const struct prow *r = want;
    const char *program = r->program ? r->program : TOPIC_PROG;
    const char *unit = r->unit ? r->unit : TOPIC_UNIT;
    CHECK_INT(c->nulls, 0);
    switch (r->expect) {
    case E_SAMPLE: {
        CHECK_INT(c->nr, 0);
        CHECK_INT(c->npresence, 0);
        CHECK_INT(c->ns, 1);
        CHECK_INT(ret, 1);
        const struct got_sample *g = &c->s[0];
        CHECK_STR(g->program, program);
        CHECK_STR(g->unit, unit);
        CHECK_STR(g->metric, r->metric ? r->metric : TOPIC_MET);
        CHECK_STR(g->labels, r->labels ? r->labels : "{}");
        CHECK_INT(g->ts, r->ts);
        CHECK_DBL(g->value, r->value);
        CHECK_INT(g->has_position, r->pos);
        if (r->pos) {
            CHECK_DBL(g->lat, r->lat);
            CHECK_DBL(g->lon, r->lon);
        }
        break;
    }
    case E_REJECT:
        expect_one_reject(c, ret, r->reason, r->element);
        break;
    case E_PRESENCE:
        CHECK_INT(c->ns, 0);
        CHECK_INT(c->nr, 0);
        CHECK_INT(c->npresence, 1);
        CHECK_INT(ret, 0);
        CHECK_STR(c->p_program, program);
        CHECK_STR(c->p_unit, unit);
        CHECK_INT(c->online, r->online);
        break;
    }
}

static void run_row(const struct prow *r)
{
    const char *payload = r->payload ? r->payload : "";
    size_t len = r->len ? r->len : strlen(payload);
    parse_expect_at(r->prefix ? r->prefix : "pantau", r->topic ? r->topic : TOPIC, payload, len,
                    check_row, r);
}

#define ROW_TEST(name, ...)                                                                        \
    TEST(name)                                                                                     \
    {                                                                                              \
        static const struct prow row = {__VA_ARGS__};                                              \
        run_row(&row);                                                                             \
    }
#define ROW_CASE(name, ...) CASE(name),

PARSE_ROWS(ROW_TEST)

/* ---- arrays with several outcomes ---- */

/* Good elements are emitted (in order), each bad one rejected with its index. */
static void check_mixed(const struct collect *c, int ret, const void *want)
{
    CHECK_INT(c->nulls, 0);
    CHECK_INT(ret, 2);
    CHECK_INT(c->ns, 2);
    CHECK_INT(c->npresence, 0);
    CHECK_DBL(c->s[0].value, 1);
    CHECK_INT(c->s[0].ts, ARR);
    CHECK_DBL(c->s[1].value, 5);
    CHECK_INT(c->s[1].ts, T0115);
    CHECK_STR(c->s[1].labels, "{\"a\":\"1\"}");
    CHECK_INT(c->nr, 4);
    CHECK_STR(rn((int)c->r[0].reason), rn(PARSE_BAD_VALUE));
    CHECK_INT(c->r[0].element, 1);
    CHECK_STR(rn((int)c->r[1].reason), rn(PARSE_TS_TOO_OLD));
    CHECK_INT(c->r[1].element, 2);
    CHECK_STR(rn((int)c->r[2].reason), rn(PARSE_BAD_ELEMENT));
    CHECK_INT(c->r[2].element, 3);
    CHECK_STR(rn((int)c->r[3].reason), rn(PARSE_BAD_LABELS));
    CHECK_INT(c->r[3].element, 5);
}

TEST(array_mixed_good_and_bad)
{
    const char *p = "[{\"value\":1},{\"value\":\"x\"},{\"value\":3,\"ts\":1},42,"
                    "{\"value\":5,\"ts\":\"2026-11-22T08:15:00+07:00\",\"labels\":{\"a\":\"1\"}},"
                    "{\"value\":6,\"labels\":{\"A\":\"1\"}}]";
    parse_expect(TOPIC, p, strlen(p), check_mixed, NULL);
}

/* has_ts tells a device's ts from the arrival time (ingest refuses a
 * retained sample without one, CONTRACT §10): per element of an array. */
TEST(has_ts_per_element)
{
    const char *p = "[{\"value\":1},{\"value\":2,\"ts\":1795000000000},"
                    "{\"value\":3,\"ts\":\"2026-11-22T08:15:00+07:00\"}]";
    struct collect c;
    run_parse("pantau", TOPIC, p, strlen(p), ARR, &c);
    CHECK_INT(c.ns, 3);
    CHECK(!c.s[0].has_ts);
    CHECK(c.s[1].has_ts);
    CHECK(c.s[2].has_ts);
    collect_free(&c);
    run_parse("pantau", TOPIC, "42", 2, ARR, &c);
    CHECK_INT(c.ns, 1);
    CHECK(!c.s[0].has_ts);
    collect_free(&c);
}

static void check_non_objects(const struct collect *c, int ret, const void *want)
{
    CHECK_INT(ret, 2);
    CHECK_INT(c->ns, 2);
    CHECK_DBL(c->s[0].value, 1);
    CHECK_DBL(c->s[1].value, 2);
    CHECK_STR(c->s[1].metric, "other");
    CHECK_INT(c->nr, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(rn((int)c->r[i].reason), rn(PARSE_BAD_ELEMENT));
        CHECK_INT(c->r[i].element, i + 1);
    }
}

TEST(array_elements_not_objects)
{
    const char *p = "[{\"value\":1},\"x\",null,[],{\"value\":2,\"metric\":\"other\"}]";
    parse_expect(TOPIC, p, strlen(p), check_non_objects, NULL);
}

/* A non-finite or huge value in one element is that element's problem: the
 * message is valid JSON (RFC 8259 grammar) and its good elements are kept. */
static void check_overflow_element(const struct collect *c, int ret, const void *want)
{
    CHECK_INT(ret, 2);
    CHECK_INT(c->ns, 2);
    CHECK_DBL(c->s[0].value, 1);
    CHECK_DBL(c->s[1].value, 12345678901234567890.0);
    CHECK_INT(c->nr, 1);
    CHECK_STR(rn((int)c->r[0].reason), rn(PARSE_BAD_VALUE));
    CHECK_INT(c->r[0].element, 1);
}

TEST(array_overflow_element_keeps_others)
{
    const char *p = "[{\"value\":1},{\"value\":1e999},{\"value\":12345678901234567890}]";
    parse_expect(TOPIC, p, strlen(p), check_overflow_element, NULL);
}

/* "[" then n elements of {"value":i,"ts":ARR-i*1000} then "]". */
static char *make_batch(int n, size_t *len)
{
    size_t cap = 64 + (size_t)n * 48;
    char *p = malloc(cap);
    if (!p)
        abort();
    size_t off = 0;
    p[off++] = '[';
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(p + off, cap - off, "%s{\"value\":%d,\"ts\":%" PRId64 "}",
                                i ? "," : "", i, ARR - (int64_t)i * 1000);
    p[off++] = ']';
    *len = off;
    return p;
}

static void check_batch_1000(const struct collect *c, int ret, const void *want)
{
    CHECK_INT(c->nr, 0);
    CHECK_INT(c->ns, 1000);
    CHECK_INT(ret, 1000);
    for (int i = 0; i < 1000; i++) {
        CHECK_DBL(c->s[i].value, i);
        CHECK_INT(c->s[i].ts, ARR - (int64_t)i * 1000);
        CHECK_STR(c->s[i].metric, TOPIC_MET);
    }
}

TEST(array_batch_1000)
{
    size_t len;
    char *p = make_batch(1000, &len);
    CHECK(len <= PARSE_MAX_PAYLOAD);
    parse_expect(TOPIC, p, len, check_batch_1000, NULL);
    free(p);
}

TEST(array_batch_1001_rejected_once)
{
    size_t len;
    char *p = make_batch(1001, &len);
    CHECK(len <= PARSE_MAX_PAYLOAD);
    parse_expect_reject(TOPIC, p, len, PARSE_BAD_BATCH);
    free(p);
}

TEST(array_batch_1001_of_non_objects_rejected_once)
{
    size_t len = 1 + 1001 * 2;
    char *p = malloc(len);
    if (!p)
        abort();
    p[0] = '[';
    for (int i = 0; i < 1001; i++) {
        p[1 + 2 * i] = '1';
        p[2 + 2 * i] = i == 1000 ? ']' : ',';
    }
    parse_expect_reject(TOPIC, p, len, PARSE_BAD_BATCH);
    free(p);
}

/* ---- size limit ---- */

/* `head` followed by spaces up to total bytes. */
static char *padded(const char *head, size_t total)
{
    char *p = malloc(total);
    if (!p)
        abort();
    size_t n = strlen(head);
    memcpy(p, head, n);
    memset(p + n, ' ', total - n);
    return p;
}

/* One sample of value *want, and nothing else. */
static void check_one_value(const struct collect *c, int ret, const void *want)
{
    CHECK_INT(c->nr, 0);
    CHECK_INT(ret, 1);
    CHECK_INT(c->ns, 1);
    CHECK_DBL(c->s[0].value, *(const double *)want);
}

static void size_case(const char *head, size_t total, bool accepted, double value)
{
    char *p = padded(head, total);
    if (accepted)
        parse_expect(TOPIC, p, total, check_one_value, &value);
    else
        parse_expect_reject(TOPIC, p, total, PARSE_TOO_LARGE);
    free(p);
}

TEST(size_65536_object_accepted)
{
    size_case("{\"value\":1}", PARSE_MAX_PAYLOAD, true, 1);
}

TEST(size_65536_bare_number_accepted)
{
    size_case("42", 65536, true, 42);
}

TEST(size_65537_too_large)
{
    size_case("{\"value\":1}", 65537, false, 0);
}

TEST(size_65537_garbage_too_large)
{
    size_case("\xff\xfe garbage", 65537, false, 0);
}

TEST(size_65537_status_too_large)
{
    char *p = padded("online", 65537);
    parse_expect_reject(STATUS, p, 65537, PARSE_TOO_LARGE);
    free(p);
}

/* ---- nesting ---- */

static void deep_case(const char *head, char open, char close, size_t depth, const char *tail,
                      enum parse_reason reason)
{
    size_t hn = strlen(head), tn = strlen(tail);
    size_t len = hn + depth + (close ? depth : 0) + tn;
    char *p = malloc(len);
    if (!p)
        abort();
    memcpy(p, head, hn);
    memset(p + hn, open, depth);
    if (close)
        memset(p + hn + depth, close, depth);
    memcpy(p + len - tn, tail, tn);
    parse_expect_reject(TOPIC, p, len, reason);
    free(p);
}

TEST(deep_open_brackets_60000)
{
    deep_case("", '[', 0, 60000, "", PARSE_BAD_JSON);
}

TEST(deep_open_brackets_100000_too_large)
{
    deep_case("", '[', 0, 100000, "", PARSE_TOO_LARGE);
}

TEST(deep_balanced_brackets_30000)
{
    deep_case("", '[', ']', 30000, "", PARSE_BAD_JSON);
}

TEST(deep_open_braces_60000)
{
    deep_case("", '{', 0, 60000, "", PARSE_BAD_JSON);
}

TEST(deep_inside_labels)
{
    deep_case("{\"value\":1,\"labels\":{\"a\":", '[', ']', 30000, "}}", PARSE_BAD_JSON);
}

/* ---- labels at their limits ---- */

/* 8 labels, 32-byte keys given in reverse order, 64-byte values of control
 * characters (valid UTF-8, escaped in any JSON output): labels_json must fit
 * PARSE_LABELS_JSON_MAX, be compact JSON with keys sorted, and decode back. */
static void check_max_labels(const struct collect *c, int ret, const void *want)
{
    const char(*keys)[33] = want;
    CHECK_INT(c->nr, 0);
    CHECK_INT(ret, 1);
    CHECK_INT(c->ns, 1);
    const char *lj = c->s[0].labels;
    CHECK(strlen(lj) <= PARSE_LABELS_JSON_MAX);
    CHECK(strchr(lj, ' ') == NULL && strchr(lj, '\n') == NULL);
    json_error_t err;
    json_t *o = json_loads(lj, JSON_REJECT_DUPLICATES, &err);
    CHECK(o != NULL);
    int ok = json_is_object(o) && json_object_size(o) == 8;
    int i = 0;
    for (void *it = json_object_iter(o); ok && it; it = json_object_iter_next(o, it), i++) {
        json_t *v = json_object_iter_value(it);
        ok = i < 8 && strcmp(json_object_iter_key(it), keys[i]) == 0 && json_is_string(v) &&
             json_string_length(v) == 64 && json_string_value(v)[0] == (char)(i + 1);
    }
    json_decref(o);
    CHECK(ok);
}

TEST(labels_eight_at_max_lengths)
{
    char keys[8][33];
    for (int i = 0; i < 8; i++) {
        memset(keys[i], 'k', 31);
        keys[i][31] = (char)('0' + i);
        keys[i][32] = '\0';
    }
    char p[8192];
    size_t off = (size_t)snprintf(p, sizeof p, "{\"value\":1,\"labels\":{");
    for (int i = 7; i >= 0; i--) {
        off += (size_t)snprintf(p + off, sizeof p - off, "\"%s\":\"", keys[i]);
        for (int j = 0; j < 64; j++)
            off += (size_t)snprintf(p + off, sizeof p - off, "\\u%04x", i + 1);
        off += (size_t)snprintf(p + off, sizeof p - off, "\"%s", i ? "," : "}}");
    }
    parse_expect(TOPIC, p, off, check_max_labels, keys);
}

/* ---- whole-API properties ---- */

TEST(reason_names_distinct_and_stable_form)
{
    for (int i = 0; i < PARSE_REASON_COUNT; i++) {
        const char *a = parse_reason_name((enum parse_reason)i);
        CHECK(a != NULL && a[0] != '\0');
        for (const char *q = a; *q; q++)
            CHECK((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_');
        for (int j = 0; j < i; j++)
            CHECK(strcmp(a, parse_reason_name((enum parse_reason)j)) != 0);
    }
}

TEST(arrival_time_is_default_ts)
{
    struct collect c;
    int64_t arr = INT64_C(1700000000123);
    int ret = run_parse("pantau", TOPIC, "{\"value\":1}", 11, arr, &c);
    CHECK_INT(ret, 1);
    CHECK_INT(c.ns, 1);
    CHECK_INT(c.s[0].ts, arr);
    collect_free(&c);
    ret = run_parse("pantau", TOPIC, "5", 1, arr, &c);
    CHECK_INT(ret, 1);
    CHECK_INT(c.ns, 1);
    CHECK_INT(c.s[0].ts, arr);
    collect_free(&c);
}

TEST(same_message_twice_same_result)
{
    const char *p = "{\"value\":7.25,\"ts\":\"2026-11-22T08:15:00+07:00\","
                    "\"labels\":{\"y\":\"2\",\"x\":\"1\"},\"lat\":-5,\"lon\":105}";
    struct collect a, b;
    int ra = run_parse("pantau", TOPIC, p, strlen(p), ARR, &a);
    int rb = run_parse("pantau", TOPIC, p, strlen(p), ARR, &b);
    int same = ra == 1 && rb == 1 && a.ns == 1 && b.ns == 1 &&
               strcmp(a.s[0].labels, b.s[0].labels) == 0 && a.s[0].ts == b.s[0].ts &&
               a.s[0].value == b.s[0].value &&
               strcmp(a.s[0].labels, "{\"x\":\"1\",\"y\":\"2\"}") == 0;
    collect_free(&a);
    collect_free(&b);
    CHECK(same);
}

/* ---- fuzz-ish: random payloads never crash and always produce an outcome ---- */

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint32_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

static const char *const tokens[] = {
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"value\"",
    "\"ts\"",
    "\"labels\"",
    "\"lat\"",
    "\"lon\"",
    "\"metric\"",
    "\"a\"",
    "\"x\"",
    "1",
    "-",
    "2.5",
    "e9",
    "1795310100000",
    "\"2026-11-22T08:15:00+07:00\"",
    "null",
    "true",
    " ",
    "\"",
    "\\",
    "\xff",
    "\xc3\xbc",
    "0",
    "1e999",
    "online",
};

/* Pieces for structurally plausible objects: each field is present or not,
 * with a good or a bad value. */
static const char *const f_value[] = {"1", "-2.5", "3e2", "1e999", "\"x\"", "null", "{}"};
static const char *const f_ts[] = {
    "1795310100000", "\"2026-11-22T08:15:00+07:00\"", "0",
    "1.5e12",        "\"2026-11-22T08:15:00\"",       "9223372036854775807",
    "1795313100001"};
static const char *const f_labels[] = {
    "{}",        "{\"a\":\"1\"}", "{\"b\":\"2\",\"a\":\"1\"}", "{\"A\":\"1\"}", "[]",
    "{\"a\":1}", "{\"a\":\"\"}"};
static const char *const f_pos[] = {"0", "-5.4", "105.2", "91", "-181", "\"x\""};
static const char *const f_metric[] = {"\"m2\"", "\"Bad\"", "5", "\"\""};

#define PICK(a) ((a)[rng() % (sizeof(a) / sizeof((a)[0]))])
/* The first `ngood` entries of each list are valid: pick one of them 3 times in 4. */
#define FIELD(a, ngood) (rng() % 4 ? (a)[rng() % (ngood)] : PICK(a))

static size_t gen_object(char *buf, size_t cap)
{
    if (rng() % 8 == 0) /* not an object */
        return (size_t)snprintf(buf, cap, "%s", FIELD(f_value, 3));
    size_t off = 0;
    const char *sep = "{";
    if (rng() % 8) {
        off += (size_t)snprintf(buf + off, cap - off, "%s\"value\":%s", sep, FIELD(f_value, 3));
        sep = ",";
    }
    if (rng() % 2) {
        off += (size_t)snprintf(buf + off, cap - off, "%s\"ts\":%s", sep, FIELD(f_ts, 2));
        sep = ",";
    }
    if (rng() % 2) {
        off += (size_t)snprintf(buf + off, cap - off, "%s\"labels\":%s", sep, FIELD(f_labels, 3));
        sep = ",";
    }
    bool pos = rng() % 3 == 0; /* lat and lon mostly come together */
    if (pos || rng() % 16 == 0) {
        off += (size_t)snprintf(buf + off, cap - off, "%s\"lat\":%s", sep, FIELD(f_pos, 3));
        sep = ",";
    }
    if (pos || rng() % 16 == 0) {
        off += (size_t)snprintf(buf + off, cap - off, "%s\"lon\":%s", sep, FIELD(f_pos, 3));
        sep = ",";
    }
    if (rng() % 4 == 0) {
        off += (size_t)snprintf(buf + off, cap - off, "%s\"metric\":%s", sep, FIELD(f_metric, 1));
        sep = ",";
    }
    off += (size_t)snprintf(buf + off, cap - off, "%s}", sep[0] == '{' ? "{" : "");
    return off;
}

static bool is_slug_str(const char *s)
{
    return s && util_is_slug(s, strlen(s));
}

static void check_fuzz_outcome(const struct collect *c, int ret, const unsigned char *p, size_t len)
{
    CHECK_INT(c->nulls, 0);
    CHECK_INT(ret, c->ns);
    CHECK(c->ns + c->nr + (size_t)c->npresence >= 1);
    CHECK(c->npresence <= 1);
    if (c->npresence)
        CHECK(c->ns == 0 && c->nr == 0);
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    if (i == len || p[i] != '[')
        CHECK_INT(c->ns + c->nr + (size_t)c->npresence, 1);
    for (size_t k = 0; k < c->nr; k++) {
        CHECK((int)c->r[k].reason >= 0 && (int)c->r[k].reason < PARSE_REASON_COUNT);
        CHECK(c->r[k].element >= -1 && c->r[k].element < PARSE_MAX_BATCH);
        if (c->r[k].element == -1)
            CHECK(c->nr == 1 && c->ns == 0);
    }
    for (size_t k = 0; k < c->ns; k++) {
        const struct got_sample *g = &c->s[k];
        CHECK(is_slug_str(g->program) && is_slug_str(g->unit) && is_slug_str(g->metric));
        CHECK(isfinite(g->value));
        CHECK(g->ts >= PARSE_MIN_TS_MS && g->ts <= ARR + PARSE_MAX_FUTURE_MS);
        CHECK(g->labels && g->labels[0] == '{');
    }
}

TEST(fuzz_random_payloads)
{
    enum { N = 2000, MAXLEN = 1024 };
    unsigned char buf[MAXLEN];
    for (int n = 0; n < N; n++) {
        size_t len = 0;
        if (n % 3 == 2) {
            /* an object or an array of 1-5 elements, each field good or bad */
            if (rng() % 2) {
                len = gen_object((char *)buf, MAXLEN);
            } else {
                size_t k = 1 + rng() % 5;
                buf[len++] = '[';
                for (size_t e = 0; e < k && len < MAXLEN - 300; e++) {
                    if (e)
                        buf[len++] = ',';
                    len += gen_object((char *)buf + len, MAXLEN - len);
                }
                buf[len++] = ']';
            }
        } else if (n % 3 == 0) {
            len = rng() % 300;
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)rng();
        } else {
            size_t ntok = rng() % 40;
            if (rng() % 4 == 0)
                buf[len++] = '[';
            for (size_t t = 0; t < ntok; t++) {
                const char *tok = tokens[rng() % (sizeof tokens / sizeof tokens[0])];
                size_t tl = strlen(tok);
                if (len + tl > MAXLEN)
                    break;
                memcpy(buf + len, tok, tl);
                len += tl;
            }
        }
        const char *topic = n % 10 == 3 ? STATUS : TOPIC;
        if (n % 20 == 3) {
            len = rng() % 2 ? 6 : 7;
            memcpy(buf, len == 6 ? "online" : "offline", len);
        }
        struct collect c;
        int ret = run_parse("pantau", topic, buf, len, ARR, &c);
        check_fuzz_outcome(&c, ret, buf, len);
        if (check_failed_) {
            fprintf(stderr, "    fuzz iteration %d, topic %s, %zu bytes\n", n, topic, len);
            describe(&c, ret);
        }
        collect_free(&c);
        if (check_failed_)
            return;
    }
}

/* ---- parse_rfc3339 and parse_time_param directly ---- */

struct trow {
    const char *s;
    int rc;
    int64_t ms;
};

/* X(name, input, expected return, expected ms) */
#define RFC_ROWS(X)                                                                                \
    X(rfc_plus_0700, "2026-11-22T08:15:00+07:00", 0, T0115)                                        \
    X(rfc_z, "2026-11-22T01:15:00Z", 0, T0115)                                                     \
    X(rfc_fraction_3, "2026-11-22T01:15:00.250Z", 0, T0115 + 250)                                  \
    X(rfc_fraction_1, "2026-11-22T01:15:00.5Z", 0, T0115 + 500)                                    \
    X(rfc_fraction_6, "2026-11-22T01:15:00.123456Z", 0, T0115 + 123)                               \
    X(rfc_minus_0330, "2026-11-21T21:45:00-03:30", 0, T0115)                                       \
    X(rfc_minus_0000, "2026-11-22T01:15:00-00:00", 0, T0115)                                       \
    X(rfc_lowercase_t_z, "2026-11-22t01:15:00z", 0, T0115)                                         \
    X(rfc_offset_crosses_year, "2026-01-01T00:30:00+01:00", 0, INT64_C(1767223800000))             \
    X(rfc_epoch, "1970-01-01T00:00:00Z", 0, 0)                                                     \
    X(rfc_before_epoch, "1969-12-31T23:59:59Z", 0, -1000)                                          \
    X(rfc_2000, "2000-01-01T00:00:00Z", 0, INT64_C(946684800000))                                  \
    X(rfc_leap_day_2024, "2024-02-29T12:00:00Z", 0, INT64_C(1709208000000))                        \
    X(rfc_leap_day_2000, "2000-02-29T00:00:00Z", 0, INT64_C(951782400000))                         \
    X(rfc_year_9999, "9999-12-31T23:59:59Z", 0, INT64_C(253402300799000))                          \
    X(rfc_feb29_2023, "2023-02-29T00:00:00Z", -1, 0)                                               \
    X(rfc_feb29_2100, "2100-02-29T00:00:00Z", -1, 0)                                               \
    X(rfc_feb30, "2024-02-30T00:00:00Z", -1, 0)                                                    \
    X(rfc_apr31, "2026-04-31T00:00:00Z", -1, 0)                                                    \
    X(rfc_month_13, "2026-13-01T00:00:00Z", -1, 0)                                                 \
    X(rfc_month_00, "2026-00-01T00:00:00Z", -1, 0)                                                 \
    X(rfc_day_00, "2026-11-00T00:00:00Z", -1, 0)                                                   \
    X(rfc_day_32, "2026-12-32T00:00:00Z", -1, 0)                                                   \
    X(rfc_hour_24, "2026-11-22T24:00:00Z", -1, 0)                                                  \
    X(rfc_minute_60, "2026-11-22T01:60:00Z", -1, 0)                                                \
    X(rfc_second_61, "2026-11-22T01:15:61Z", -1, 0)                                                \
    X(rfc_no_offset, "2026-11-22T01:15:00", -1, 0)                                                 \
    X(rfc_offset_without_colon, "2026-11-22T08:15:00+0700", -1, 0)                                 \
    X(rfc_offset_hours_only, "2026-11-22T08:15:00+07", -1, 0)                                      \
    X(rfc_offset_hour_24, "2026-11-22T08:15:00+24:00", -1, 0)                                      \
    X(rfc_offset_minute_60, "2026-11-22T08:15:00+07:60", -1, 0)                                    \
    X(rfc_no_seconds, "2026-11-22T08:15+07:00", -1, 0)                                             \
    X(rfc_fraction_without_digits, "2026-11-22T01:15:00.Z", -1, 0)                                 \
    X(rfc_trailing_space, "2026-11-22T01:15:00Z ", -1, 0)                                          \
    X(rfc_leading_space, " 2026-11-22T01:15:00Z", -1, 0)                                           \
    X(rfc_trailing_garbage, "2026-11-22T01:15:00Zx", -1, 0)                                        \
    X(rfc_two_digit_year, "26-11-22T01:15:00Z", -1, 0)                                             \
    X(rfc_one_digit_month, "2026-1-22T01:15:00Z", -1, 0)                                           \
    X(rfc_sign_in_field, "2026-11-22T01:+5:00Z", -1, 0)                                            \
    X(rfc_space_in_field, "2026-11-22T01: 5:00Z", -1, 0)                                           \
    X(rfc_date_only, "2026-11-22", -1, 0)                                                          \
    X(rfc_epoch_digits, "1795310100000", -1, 0)                                                    \
    X(rfc_empty, "", -1, 0)

#define TP_ROWS(X)                                                                                 \
    X(tp_epoch_ms, "1795310100000", 0, T0115)                                                      \
    X(tp_zero, "0", 0, 0)                                                                          \
    X(tp_rfc3339_offset, "2026-11-22T08:15:00+07:00", 0, T0115)                                    \
    X(tp_rfc3339_fraction_z, "2026-11-22T01:15:00.250Z", 0, T0115 + 250)                           \
    X(tp_empty, "", -1, 0)                                                                         \
    X(tp_garbage, "yesterday", -1, 0)                                                              \
    X(tp_real, "1.5", -1, 0)                                                                       \
    X(tp_exponent, "1e3", -1, 0)                                                                   \
    X(tp_trailing_garbage, "123abc", -1, 0)                                                        \
    X(tp_overflow, "99999999999999999999", -1, 0)                                                  \
    X(tp_rfc3339_without_offset, "2026-11-22T08:15:00", -1, 0)                                     \
    X(tp_invalid_date, "2026-02-30T00:00:00Z", -1, 0)

static void run_trow(int (*fn)(const char *, int64_t *), const struct trow *r)
{
    int64_t out = INT64_C(-424242);
    int rc = fn(r->s, &out);
    if (r->rc == 0) {
        CHECK_INT(rc, 0);
        CHECK_INT(out, r->ms);
    } else {
        CHECK_INT(rc, -1);
    }
}

#define RFC_TEST(name, str, rc, ms)                                                                \
    TEST(name)                                                                                     \
    {                                                                                              \
        static const struct trow row = {str, rc, ms};                                              \
        run_trow(parse_rfc3339, &row);                                                             \
    }
#define TP_TEST(name, str, rc, ms)                                                                 \
    TEST(name)                                                                                     \
    {                                                                                              \
        static const struct trow row = {str, rc, ms};                                              \
        run_trow(parse_time_param, &row);                                                          \
    }
#define TROW_CASE(name, str, rc, ms) CASE(name),

RFC_ROWS(RFC_TEST)
TP_ROWS(TP_TEST)

TEST_MAIN(PARSE_ROWS(ROW_CASE) CASE(array_mixed_good_and_bad), CASE(has_ts_per_element),
          CASE(array_elements_not_objects), CASE(array_overflow_element_keeps_others),
          CASE(array_batch_1000), CASE(array_batch_1001_rejected_once),
          CASE(array_batch_1001_of_non_objects_rejected_once), CASE(size_65536_object_accepted),
          CASE(size_65536_bare_number_accepted), CASE(size_65537_too_large),
          CASE(size_65537_garbage_too_large), CASE(size_65537_status_too_large),
          CASE(deep_open_brackets_60000), CASE(deep_open_brackets_100000_too_large),
          CASE(deep_balanced_brackets_30000), CASE(deep_open_braces_60000),
          CASE(deep_inside_labels), CASE(labels_eight_at_max_lengths),
          CASE(reason_names_distinct_and_stable_form), CASE(arrival_time_is_default_ts),
          CASE(same_message_twice_same_result), CASE(fuzz_random_payloads),
          RFC_ROWS(TROW_CASE) TP_ROWS(TROW_CASE))
