/* live_client.h — live.c's client entry points below the lws callback, for
 * tests (tests/test_live.c, tests/fuzz/fuzz_live.c) that drive a client
 * without a socket (wsi NULL) through the same code paths the callback
 * uses. Not for other modules: they talk to live.h. */
#ifndef PANTAU_LIVE_CLIENT_H
#define PANTAU_LIVE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "live.h"

struct lws;
struct live_client;

size_t live__client_size(void);
int live__client_open(struct live *l, struct live_client *c, struct lws *wsi);
void live__client_close(struct live *l, struct live_client *c);
int live__client_message(struct live *l, struct live_client *c, const char *data, size_t len);
bool live__client_next_frame(struct live *l, struct live_client *c, struct buf *out);
size_t live__client_pending(const struct live_client *c);

#endif
