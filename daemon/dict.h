/* dict.h — a string-keyed hash map (open addressing, linear probing) for the
 * loop's in-memory caches: series ids, unit state. Keys are copied and owned
 * by the dict; values are the caller's pointers (never freed by the dict).
 * Not thread-safe. Entries are never removed one by one (the caches only
 * grow, bounded by their owners); dict_free drops everything. */
#ifndef PANTAU_DICT_H
#define PANTAU_DICT_H

#include <stddef.h>
#include <stdint.h>

struct dict_slot {
    char *key; /* NULL = empty */
    size_t key_len;
    uint64_t hash;
    void *value;
};

struct dict {
    struct dict_slot *slots;
    size_t cap; /* a power of two, or 0 before the first insert */
    size_t used;
};

void dict_init(struct dict *d);
void dict_free(struct dict *d);

/* The value stored under key[0..len), or NULL. */
void *dict_get(const struct dict *d, const char *key, size_t len);

/* Stores value under a copy of the key (replacing any old value).
 * Returns 0, or -1 if out of memory (the dict is unchanged). */
int dict_put(struct dict *d, const char *key, size_t len, void *value);

/* Calls fn for every entry, in no particular order. */
void dict_each(const struct dict *d, void (*fn)(void *ctx, const char *key, void *value),
               void *ctx);

#endif
