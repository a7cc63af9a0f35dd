/* SPDX-License-Identifier: Apache-2.0 */
/* map.c - a string-keyed hash map of pointers */
#include "conduit/map.h"

#include <stdlib.h>
#include <string.h>

uint32_t map_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

void map_init(struct map *m)
{
	*m = (struct map)MAP_INIT;
}

void map_release(struct map *m, void (*free_value)(void *value))
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct map_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	}
	free(m->buckets);
	map_init(m);
}

static struct map_entry **slot(const struct map *m, const char *key,
			       uint32_t h)
{
	struct map_entry **p = &m->buckets[h & (m->nbuckets - 1)];

	for (; *p; p = &(*p)->next)
		if ((*p)->hash == h && !strcmp((*p)->key, key))
			break;
	return p;
}

void *map_get(const struct map *m, const char *key)
{
	struct map_entry **p;

	if (!m->len)
		return NULL;
	p = slot(m, key, map_hash(key));
	return *p ? (*p)->value : NULL;
}

static void grow(struct map *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
	struct map_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct map_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void *map_put(struct map *m, const char *key, void *value)
{
	uint32_t h = map_hash(key);
	struct map_entry **p, *e;
	size_t klen;

	if (m->len >= m->nbuckets)
		grow(m);
	p = slot(m, key, h);
	if (*p) {
		void *old = (*p)->value;

		(*p)->value = value;
		return old;
	}
	klen = strlen(key);
	e = xmalloc(sizeof(*e) + klen + 1);
	e->next = NULL;
	e->value = value;
	e->hash = h;
	memcpy(e->key, key, klen + 1);
	*p = e;
	m->len++;
	return NULL;
}

void *map_del(struct map *m, const char *key)
{
	struct map_entry **p, *e;
	void *v;

	if (!m->len)
		return NULL;
	p = slot(m, key, map_hash(key));
	if (!(e = *p))
		return NULL;
	*p = e->next;
	v = e->value;
	free(e);
	m->len--;
	return v;
}

bool map_next(const struct map *m, struct map_iter *it)
{
	/* it->next was taken before the caller could delete the current one */
	struct map_entry *e = it->next;

	while (!e && it->bucket < m->nbuckets)
		e = m->buckets[it->bucket++];
	if (!e)
		return false;
	it->next = e->next;
	it->key = e->key;
	it->value = e->value;
	return true;
}
