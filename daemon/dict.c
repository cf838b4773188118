/* dict.c — see dict.h. FNV-1a hashing; grows at 50% load so probes stay short. */
#include "dict.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void dict_init(struct dict *d)
{
    memset(d, 0, sizeof *d);
}

void dict_free(struct dict *d)
{
    for (size_t i = 0; i < d->cap; i++)
        free(d->slots[i].key);
    free(d->slots);
    dict_init(d);
}

static struct dict_slot *find_slot(struct dict_slot *slots, size_t cap, const char *key, size_t len,
                                   uint64_t hash)
{
    size_t mask = cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct dict_slot *s = &slots[i];
        if (!s->key || (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

void *dict_get(const struct dict *d, const char *key, size_t len)
{
    if (d->cap == 0)
        return NULL;
    struct dict_slot *s = find_slot(d->slots, d->cap, key, len, hash_bytes(key, len));
    return s->key ? s->value : NULL;
}

static int grow(struct dict *d)
{
    size_t cap = d->cap ? d->cap * 2 : 64;
    struct dict_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < d->cap; i++) {
        struct dict_slot *old = &d->slots[i];
        if (old->key)
            *find_slot(slots, cap, old->key, old->key_len, old->hash) = *old;
    }
    free(d->slots);
    d->slots = slots;
    d->cap = cap;
    return 0;
}

int dict_put(struct dict *d, const char *key, size_t len, void *value)
{
    if ((d->used + 1) * 2 > d->cap && grow(d) != 0)
        return -1;
    uint64_t hash = hash_bytes(key, len);
    struct dict_slot *s = find_slot(d->slots, d->cap, key, len, hash);
    if (!s->key) {
        char *copy = malloc(len + 1);
        if (!copy)
            return -1;
        memcpy(copy, key, len);
        copy[len] = '\0';
        s->key = copy;
        s->key_len = len;
        s->hash = hash;
        d->used++;
    }
    s->value = value;
    return 0;
}

void dict_each(const struct dict *d, void (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].key)
            fn(ctx, d->slots[i].key, d->slots[i].value);
}

bool dict_scan(const struct dict *d, struct dict_cursor *cur, size_t max_slots,
               bool (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    if (cur->cap != d->cap) { /* the first call, or the table grew: (re)start */
        cur->cap = d->cap;
        cur->pos = 0;
    }
    for (size_t n = 0; cur->pos < d->cap && n < max_slots; n++) {
        const struct dict_slot *s = &d->slots[cur->pos];
        if (s->key && !fn(ctx, s->key, s->value))
            return false;
        cur->pos++;
    }
    return cur->pos >= d->cap;
}
