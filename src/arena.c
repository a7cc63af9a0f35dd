/* SPDX-License-Identifier: Apache-2.0 */
/* arena.c - per-request bump allocators freed all at once */
#include "conduit/arena.h"
#include "conduit/pool.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define ALIGN_UP(n) (((n) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

struct arena_block {
	struct arena_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
};

#define BLOCK_HDR ALIGN_UP(sizeof(struct arena_block))
_Static_assert(BLOCK_HDR == ARENA_BLOCK_HDR, "arena.h says what a header takes");

void arena_init(struct arena *a, size_t block_size, size_t max)
{
	a->head = NULL;
	a->block_size = block_size ? block_size : 4096;
	a->used = 0;
	a->max = max;
}

void arena_release(struct arena *a)
{
	struct arena_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		pool_free(b);
	}
	arena_init(a, a->block_size, a->max);
}

void arena_reset(struct arena *a)
{
	struct arena_block *keep = a->head, *b, *next;

	if (!keep)
		return;
	/* keep the oldest default-sized block: it is what the next use needs */
	for (b = a->head; b; b = b->next)
		if (b->size == a->block_size)
			keep = b;
	for (b = a->head; b; b = next) {
		next = b->next;
		if (b != keep)
			pool_free(b);
	}
	keep->next = NULL;
	keep->used = 0;
	a->head = keep;
	a->used = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t need = ALIGN_UP(n ? n : 1);
	void *p;

	/* refuse sizes that wrap when rounded up or when a block header is
	 * added: they would become a tiny block handed out as a huge one */
	if (need < n || need > SIZE_MAX - BLOCK_HDR ||
	    (a->max && need > a->max - MIN(a->used, a->max)))
		return NULL;
	if (!b || b->size - b->used < need) {
		size_t size = MAX(a->block_size, need);

		b = pool_malloc(BLOCK_HDR + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		/* an oversized block goes behind the current one, so the
		 * current block's free space stays usable */
		if (size > a->block_size && a->head) {
			b->next = a->head->next;
			a->head->next = b;
			b->used = need;
			a->used += need;
			return (char *)b + BLOCK_HDR;
		}
		b->next = a->head;
		a->head = b;
	}
	p = (char *)b + BLOCK_HDR + b->used;
	b->used += need;
	a->used += need;
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}
