/* SPDX-License-Identifier: Apache-2.0 */
/* pool.c - fixed-size object pools for the hot path */
#include "conduit/pool.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define ALIGN_UP(n) (((n) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

struct pool_chunk {
	struct pool_chunk *next;
	/* objects follow, ALIGN-aligned */
};

#define CHUNK_HDR ALIGN_UP(sizeof(struct pool_chunk))

void pool_init(struct pool *p, size_t size, size_t per_chunk, size_t max)
{
	memset(p, 0, sizeof(*p));
	p->size = ALIGN_UP(MAX(size, sizeof(void *)));
	p->per_chunk = per_chunk ? per_chunk : 64;
	p->max = max;
}

void pool_release(struct pool *p)
{
	struct pool_chunk *c = p->chunks, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	pool_init(p, p->size, p->per_chunk, p->max);
}

static int pool_grow(struct pool *p)
{
	size_t n = p->per_chunk;
	struct pool_chunk *c;
	char *obj;

	if (p->max && p->max < n)
		n = p->max;
	c = malloc(CHUNK_HDR + n * p->size);
	if (!c)
		return -1;
	c->next = p->chunks;
	p->chunks = c;
	obj = (char *)c + CHUNK_HDR;
	for (size_t i = 0; i < n; i++, obj += p->size) {
		*(void **)obj = p->free_list;
		p->free_list = obj;
	}
	return 0;
}

void *pool_get(struct pool *p)
{
	void *obj;

	if (p->max && p->live >= p->max)
		return NULL;
	if (!p->free_list && pool_grow(p))
		return NULL;
	obj = p->free_list;
	p->free_list = *(void **)obj;
	p->live++;
	if (p->live > p->peak)
		p->peak = p->live;
	return obj;
}

void pool_put(struct pool *p, void *obj)
{
	if (!obj)
		return;
	BUG_ON(!p->live);
	*(void **)obj = p->free_list;
	p->free_list = obj;
	p->live--;
}
