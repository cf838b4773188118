/* fuzz_live.c — libFuzzer target for the websocket client messages
 * (CONTRACT §3): one fake client (no lws connection, as in test_live.c)
 * gets the input as one text message, then a sample is published and every
 * frame pending is taken, so filters and replies built from the input are
 * exercised too. */
#include <libwebsockets.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "live_client.h"

static void drain(struct live *l, struct live_client *c)
{
    struct buf f;
    buf_init(&f, LWS_PRE);
    for (int i = 0; i < 16 && live__client_next_frame(l, c, &f); i++)
        buf_reset(&f);
    buf_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct live *l = NULL;
    struct live_opts o = {.queue_max = 64, .max_clients = 4, .version = "fuzz"};
    if (live_init(&l, NULL, &o) != 0)
        return 0;
    struct live_client *c = calloc(1, live__client_size());
    if (c && live__client_open(l, c, NULL) == 0) {
        drain(l, c); /* hello */
        live__client_message(l, c, (const char *)data, size);
        struct sample s = {.program = "prog",
                           .unit = "unit-1",
                           .metric = "metric",
                           .labels_json = "{}",
                           .ts = 1795000000000LL,
                           .value = 1};
        live_publish_samples(l, &s, 1);
        drain(l, c);
        live__client_close(l, c);
    }
    free(c);
    live_free(l);
    return 0;
}
