/* fuzz_query.c — libFuzzer target for the HTTP query parameters of
 * /api/v1/query and /api/v1/export.csv (api_query_params): the input is a
 * query string, split on '&' and the first '=' as http.c's read_args does
 * with what lws decoded (so any byte may be in a name or value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "query.h"

#define NOW_MS 1795000000000LL

static size_t touched;

static void check(const struct http_request *r, bool export)
{
    struct query_req q;
    struct api_bad b = {0};
    if (!api_query_params(r, NOW_MS, export, &q, &b)) {
        touched += strlen(b.param) + strlen(b.why);
        return;
    }
    if (q.from > q.to)
        __builtin_trap(); /* accepted only in order */
    for (int i = 0; i < q.filter.n_labels; i++)
        touched += strlen(q.filter.labels[i].key) + strlen(q.filter.labels[i].value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request r = {0};
    char *text = strndup((const char *)data, size); /* a NUL ends it, as in lws */
    if (!text)
        return 0;
    for (char *p = text, *next; p && r.n_args < HTTP_MAX_ARGS; p = next) {
        next = strchr(p, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(p, '=');
        struct http_arg *a = &r.args[r.n_args++];
        a->name = eq ? strndup(p, (size_t)(eq - p)) : strdup(p);
        a->value = strdup(eq ? eq + 1 : "");
    }
    bool ok = true;
    for (int i = 0; i < r.n_args; i++)
        ok &= r.args[i].name && r.args[i].value;
    if (ok) {
        check(&r, false);
        check(&r, true);
    }
    for (int i = 0; i < r.n_args; i++) {
        free(r.args[i].name);
        free(r.args[i].value);
    }
    free(text);
    return 0;
}
