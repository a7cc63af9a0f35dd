/* SPDX-License-Identifier: Apache-2.0 */
/* map.h - a string-keyed hash map of pointers (chained, grows by doubling) */
#ifndef CONDUIT_MAP_H
#define CONDUIT_MAP_H

#include "conduit/base.h"

/*
 * Keys are copied (NUL-terminated strings); values are the caller's
 * pointers. Lookups are O(1) on average; the table doubles when it holds
 * more entries than buckets, so memory is about 48 bytes an entry plus
 * its key. Iteration order is unspecified and changes when the map grows;
 * do not insert while iterating (deleting the current entry is fine).
 */
struct map_entry {
	struct map_entry *next;
	void *value;
	uint32_t hash;
	char key[]; /* NUL-terminated */
};

struct map {
	struct map_entry **buckets;
	size_t nbuckets; /* 0 or a power of two */
	size_t len;
};

#define MAP_INIT { NULL, 0, 0 }

void map_init(struct map *m);
/* map_release - free every entry (and each value with free_value when it
 * is not NULL); the map is empty and usable again */
void map_release(struct map *m, void (*free_value)(void *value));

/* map_get - the value for key, or NULL */
void *map_get(const struct map *m, const char *key);
/*
 * map_put - set key to value. Returns the value it replaced (NULL when
 * the key is new): the caller frees it. Dies on out-of-memory, like the
 * x-helpers (maps are the control plane's state, not the data path's).
 */
void *map_put(struct map *m, const char *key, void *value);
/* map_del - remove key; returns its value (NULL when absent) */
void *map_del(struct map *m, const char *key);
static inline size_t map_len(const struct map *m) { return m->len; }

/*
 * An iterator: for (struct map_iter it = MAP_ITER; map_next(m, &it);)
 * uses it.key and it.value. map_del(m, it.key) of the current entry is
 * allowed during the walk.
 */
struct map_iter {
	size_t bucket;		/* the next bucket to walk */
	struct map_entry *next; /* the next entry in the current one */
	const char *key;
	void *value;
};
#define MAP_ITER { 0, NULL, NULL, NULL }
bool map_next(const struct map *m, struct map_iter *it);

/* map_hash - the 32-bit FNV-1a hash of s (exposed for tests) */
uint32_t map_hash(const char *s);

#endif
