/* dict.h — a string-keyed hash map (open addressing, linear probing) for the
 * loop's in-memory caches: series ids, unit state. Keys are copied and owned
 * by the dict; values are the caller's pointers (never freed by the dict).
 * Not thread-safe. Entries are never removed one by one (the caches only
 * grow, bounded by their owners); dict_free drops everything. */
#ifndef PANTAU_DICT_H
#define PANTAU_DICT_H

#include <stdbool.h>
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

/* A place in a walk over a dict (dict_scan); zeroed: the start. */
struct dict_cursor {
    size_t pos; /* next slot */
    size_t cap; /* the table's size when the walk began */
};

/* Resumes a walk at *cur: calls fn for the entries of at most max_slots
 * slots, in slot order, until fn returns false (that entry is offered again
 * on the next call). Returns true when the walk is complete. Entries are
 * never removed, so a walk offers every entry that exists from its start to
 * its end at least once; entries added meanwhile may or may not be offered.
 * When the table grew between two calls (its slots moved) the walk starts
 * over: entries already offered are offered again. */
bool dict_scan(const struct dict *d, struct dict_cursor *cur, size_t max_slots,
               bool (*fn)(void *ctx, const char *key, void *value), void *ctx);

#endif
