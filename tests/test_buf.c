/* test_buf.c — the JSON and CSV writers every HTTP answer and websocket
 * frame goes through. */
#include "buf.h"
#include "check.h"

#include <jansson.h>

static const char *json_str(struct buf *b, const char *s)
{
    buf_reset(b);
    buf_json_str(b, s);
    return b->data;
}

TEST(buf_json_str_escapes)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_STR(json_str(&b, ""), "\"\"");
    CHECK_STR(json_str(&b, "pasar-bandar-jaya"), "\"pasar-bandar-jaya\"");
    CHECK_STR(json_str(&b, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    CHECK_STR(json_str(&b, "tab\there\nnl\x01"), "\"tab\\u0009here\\u000anl\\u0001\"");
    CHECK_STR(json_str(&b, "Pasar Bandar Jaya \xc3\xbc"), "\"Pasar Bandar Jaya \xc3\xbc\"");
    buf_free(&b);
}

TEST(buf_json_num_round_trips)
{
    static const double values[] = {0,
                                    1,
                                    -1,
                                    14500,
                                    0.1,
                                    -1.5,
                                    1e-300,
                                    1.7976931348623157e308,
                                    3.141592653589793,
                                    1e15,
                                    1e16,
                                    123456789.125};
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        buf_reset(&b);
        buf_json_num(&b, values[i]);
        json_error_t err;
        json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &err);
        CHECK(j != NULL);
        CHECK(json_number_value(j) == values[i]);
        json_decref(j);
    }
    buf_reset(&b);
    buf_json_num(&b, 14500);
    CHECK_STR(b.data, "14500");
    buf_reset(&b);
    buf_json_num(&b, NAN);
    CHECK_STR(b.data, "null");
    buf_free(&b);
}

TEST(buf_json_bytes_replaces_invalid_utf8)
{
    struct buf b;
    buf_init(&b, 0);
    /* a valid 2-byte char, a stray continuation, an overlong '/', a surrogate,
     * a truncated 3-byte sequence at the end */
    static const char in[] = "\xc3\xbc\x80 \xc0\xaf \xed\xa0\x80 ok\"\xe2\x82";
    buf_json_bytes(&b, in, sizeof in - 1);
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &err);
    CHECK(j != NULL); /* always valid JSON, whatever the payload was */
    CHECK(json_is_string(j));
    CHECK(strncmp(json_string_value(j), "\xc3\xbc\xef\xbf\xbd", 5) == 0);
    CHECK(strstr(json_string_value(j), "ok\"") != NULL);
    json_decref(j);
    buf_free(&b);
}

TEST(buf_csv_quoted_doubles_quotes)
{
    struct buf b;
    buf_init(&b, 0);
    buf_csv_quoted(&b, "{\"commodity\":\"beras-medium\"}");
    CHECK_STR(b.data, "\"{\"\"commodity\"\":\"\"beras-medium\"\"}\"");
    buf_reset(&b);
    buf_csv_quoted(&b, "{}");
    CHECK_STR(b.data, "\"{}\"");
    buf_free(&b);
}

TEST(buf_reserve_stays_in_front)
{
    struct buf b;
    buf_init(&b, 16);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    CHECK(!buf_failed(&b));
    CHECK(buf_front(&b) + 16 == (unsigned char *)b.data);
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK_INT(b.len, strlen(b.data));
    buf_free(&b);
}

TEST_MAIN(CASE(buf_json_str_escapes), CASE(buf_json_num_round_trips),
          CASE(buf_json_bytes_replaces_invalid_utf8), CASE(buf_csv_quoted_doubles_quotes),
          CASE(buf_reserve_stays_in_front))
