/* fuzz_parse.c — libFuzzer target for parse_message (CONTRACT §1): the
 * input is "<topic>\n<payload>"; without a newline it is all payload on a
 * valid topic. The sink reads every string it is given, so a bad pointer
 * or a missing NUL shows under ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define ARRIVAL_MS 1795000000000LL

static size_t touched;

static void on_sample(void *ctx, const struct sample *s)
{
    touched += strlen(s->program) + strlen(s->unit) + strlen(s->metric) + strlen(s->labels_json);
}

static void on_reject(void *ctx, enum parse_reason reason, int element, const char *detail)
{
    touched += strlen(parse_reason_name(reason)) + (detail ? strlen(detail) : 0);
}

static void on_presence(void *ctx, const char *program, const char *unit, bool online)
{
    touched += strlen(program) + strlen(unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct parse_sink sink = {NULL, on_sample, on_reject, on_presence};
    const uint8_t *nl = memchr(data, '\n', size);
    char *topic;
    const uint8_t *payload = data;
    size_t len = size;
    if (nl) {
        topic = strndup((const char *)data, (size_t)(nl - data));
        payload = nl + 1;
        len = size - (size_t)(nl - data) - 1;
    } else {
        topic = strdup("pantau/prog/unit-1/metric");
    }
    if (!topic)
        return 0;
    parse_message("pantau", topic, payload, len, ARRIVAL_MS, &sink);
    parse_message("kab/lamteng/pantau", topic, payload, len, ARRIVAL_MS, &sink);
    free(topic);
    return 0;
}
