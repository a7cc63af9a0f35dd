/* SPDX-License-Identifier: Apache-2.0 */
/* pool.c - fixed-size object pools for the hot path */
#include "conduit/pool.h"

#include <stdint.h>
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

/* --- size-class caches ----------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define CACHE_BYTES 0 /* ASan sees every free */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE_BYTES 0
#endif
#endif
#ifndef CACHE_BYTES
#define CACHE_BYTES (512u << 10) /* cached by a thread, at most... */
#endif
#define CACHE_MIN 16 /* ... but a class may always keep this many blocks */
#define CLASS_MAX 4096		/* larger sizes go to malloc() */
#define LARGE	  0xffffu	/* the class of a malloc()'d block */

/* the header before every block: 16 bytes keep the block 16-aligned */
struct mhdr {
	uint32_t cls;
	uint32_t pad[3];
};

_Static_assert(sizeof(struct mhdr) == 16, "header keeps 16-alignment");

static const uint32_t class_size[] = {
	32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096,
};

#define NCLASS ARRAY_SIZE(class_size)

struct mcache {
	void *head;	/* free blocks, linked through their first word */
	uint32_t n;	/* blocks in the list */
};

static _Thread_local struct mcache caches[NCLASS];
static _Thread_local size_t cached; /* bytes in all the lists */

/* class_of[(n + 15) / 16]: the smallest class holding n <= CLASS_MAX */
static unsigned char class_of[CLASS_MAX / 16 + 1];

__attribute__((constructor)) static void class_of_init(void)
{
	unsigned k = 0;

	for (size_t j = 0; j < ARRAY_SIZE(class_of); j++) {
		while (class_size[k] < j * 16)
			k++;
		class_of[j] = (unsigned char)k;
	}
}

static inline unsigned size_class(size_t n)
{
	return class_of[(n + 15) >> 4];
}

/* cache_full - a freed block of class cls goes back to free() */
static inline bool cache_full(unsigned cls)
{
	return !CACHE_BYTES || (cached + class_size[cls] > CACHE_BYTES &&
				caches[cls].n >= CACHE_MIN);
}

void *pool_malloc(size_t n)
{
	struct mhdr *h;
	unsigned cls;

	if (n > CLASS_MAX) {
		if (n > SIZE_MAX - sizeof(*h))
			return NULL;
		h = malloc(sizeof(*h) + n);
		if (!h)
			return NULL;
		h->cls = LARGE;
		return h + 1;
	}
	cls = size_class(n);
	if (caches[cls].head) {
		void *p = caches[cls].head;

		caches[cls].head = *(void **)p;
		caches[cls].n--;
		cached -= class_size[cls];
		return p;
	}
	h = malloc(sizeof(*h) + class_size[cls]);
	if (!h)
		return NULL;
	h->cls = cls;
	return h + 1;
}

void *pool_calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = pool_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void pool_free(void *p)
{
	struct mhdr *h;
	unsigned cls;

	if (!p)
		return;
	h = (struct mhdr *)p - 1;
	cls = h->cls;
	if (cls == LARGE || cache_full(cls)) {
		free(h);
		return;
	}
	*(void **)p = caches[cls].head;
	caches[cls].head = p;
	caches[cls].n++;
	cached += class_size[cls];
}

void *pool_realloc(void *p, size_t n)
{
	struct mhdr *h;
	size_t have;
	void *q;

	if (!p)
		return pool_malloc(n);
	if (!n) {
		pool_free(p);
		return NULL;
	}
	h = (struct mhdr *)p - 1;
	if (h->cls == LARGE && n > CLASS_MAX) {
		if (n > SIZE_MAX - sizeof(*h))
			return NULL;
		h = realloc(h, sizeof(*h) + n);
		return h ? h + 1 : NULL;
	}
	if (h->cls != LARGE && n <= class_size[h->cls])
		return p; /* it fits where it is */
	/* a large block's usable size is at least CLASS_MAX */
	have = h->cls == LARGE ? CLASS_MAX : class_size[h->cls];
	q = pool_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, MIN(have, n));
	pool_free(p);
	return q;
}

void pool_trim(void)
{
	for (unsigned cls = 0; cls < NCLASS; cls++) {
		while (caches[cls].head) {
			void *p = caches[cls].head;

			caches[cls].head = *(void **)p;
			free((struct mhdr *)p - 1);
		}
		caches[cls].n = 0;
	}
	cached = 0;
}

size_t pool_cached(void)
{
	return cached;
}
