/* SPDX-License-Identifier: Apache-2.0 */
/* kube_store.c - objects by namespace/name, and re-list differences */
#include "conduit/kube_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/kube_watch.h"

struct entry {
	struct entry *next; /* same bucket */
	char *key;	    /* "ns/name" or "name" */
	uint64_t hash;
	struct json *obj; /* owned */
	unsigned gen;	  /* the generation it was last seen in */
};

struct kube_store {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	unsigned gen;
};

static const char *const event_names[] = {"ADDED", "MODIFIED", "DELETED"};

const char *kube_event_type_name(enum kube_event_type t)
{
	return (size_t)t < ARRAY_SIZE(event_names) ? event_names[t] : "?";
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static char *key_of(const char *ns, const char *name)
{
	return ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
}

struct kube_store *kube_store_new(void)
{
	struct kube_store *s = xcalloc(1, sizeof(*s));

	s->nbuckets = 64;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	return s;
}

static void entry_free(struct entry *e)
{
	free(e->key);
	json_free(e->obj);
	free(e);
}

void kube_store_free(struct kube_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct entry *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(s->buckets);
	free(s);
}

size_t kube_store_count(const struct kube_store *s)
{
	return s->count;
}

static struct entry **slot(const struct kube_store *s, const char *key,
			   uint64_t h)
{
	struct entry **p = &s->buckets[h & (s->nbuckets - 1)];

	while (*p && ((*p)->hash != h || strcmp((*p)->key, key)))
		p = &(*p)->next;
	return p;
}

static void grow(struct kube_store *s)
{
	size_t n = s->nbuckets * 2;
	struct entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < s->nbuckets; i++) {
		struct entry *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

int kube_store_put(struct kube_store *s, struct json *obj,
		   enum kube_event_type *change, const struct json **stored)
{
	const char *name = kube_object_name(obj), *rv, *old_rv;
	struct entry **p, *e;
	char *key;
	uint64_t h;

	if (!name) {
		json_free(obj);
		return -EINVAL;
	}
	key = key_of(kube_object_namespace(obj), name);
	h = fnv1a(key);
	p = slot(s, key, h);
	if ((e = *p)) {
		free(key);
		e->gen = s->gen;
		rv = kube_object_rv(obj);
		old_rv = kube_object_rv(e->obj);
		if (rv && old_rv && !strcmp(rv, old_rv)) {
			json_free(obj);
			if (stored)
				*stored = e->obj;
			return 1;
		}
		json_free(e->obj);
		e->obj = obj;
		*change = KUBE_MODIFIED;
		if (stored)
			*stored = obj;
		return 0;
	}
	e = xcalloc(1, sizeof(*e));
	e->key = key;
	e->hash = h;
	e->obj = obj;
	e->gen = s->gen;
	*p = e;
	s->count++;
	if (s->count > s->nbuckets)
		grow(s);
	*change = KUBE_ADDED;
	if (stored)
		*stored = obj;
	return 0;
}

struct json *kube_store_delete(struct kube_store *s, const struct json *obj)
{
	const char *name = kube_object_name(obj);
	struct entry **p, *e;
	struct json *old;
	char *key;

	if (!name)
		return NULL;
	key = key_of(kube_object_namespace(obj), name);
	p = slot(s, key, fnv1a(key));
	free(key);
	if (!(e = *p))
		return NULL;
	*p = e->next;
	old = e->obj;
	e->obj = NULL;
	entry_free(e);
	s->count--;
	return old;
}

const struct json *kube_store_get(const struct kube_store *s, const char *ns,
				  const char *name)
{
	char *key = key_of(ns, name);
	struct entry *e = *slot(s, key, fnv1a(key));

	free(key);
	return e ? e->obj : NULL;
}

void kube_store_begin_list(struct kube_store *s)
{
	s->gen++;
}

size_t kube_store_sweep(struct kube_store *s,
			void (*fn)(void *arg, const struct json *obj),
			void *arg)
{
	size_t removed = 0;

	for (size_t i = 0; i < s->nbuckets; i++) {
		struct entry **p = &s->buckets[i];

		while (*p) {
			struct entry *e = *p;

			if (e->gen == s->gen) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			s->count--;
			removed++;
			if (fn)
				fn(arg, e->obj);
			entry_free(e);
		}
	}
	return removed;
}

size_t kube_store_foreach(const struct kube_store *s,
			  void (*fn)(void *arg, const struct json *obj),
			  void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct entry *e = s->buckets[i]; e; e = e->next, n++)
			fn(arg, e->obj);
	return n;
}
