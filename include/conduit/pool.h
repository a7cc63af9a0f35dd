/* SPDX-License-Identifier: Apache-2.0 */
/* pool.h - fixed-size object pools for the hot path */
#ifndef CONDUIT_POOL_H
#define CONDUIT_POOL_H

#include "conduit/base.h"

/*
 * struct pool: a free list of same-sized objects for the hot path
 * (connections, streams). Memory is taken from malloc in chunks of
 * `per_chunk` objects and kept until pool_release(); pool_put() makes an
 * object reusable at once. `max` bounds how many objects may be live
 * (0: no bound), so a flood of connections meets a limit, not the OOM
 * killer.
 */
struct pool_chunk;

struct pool {
	size_t size;		  /* object size, rounded up for alignment */
	size_t per_chunk;	  /* objects per malloc'd chunk */
	size_t max;		  /* most live objects (0: unbounded) */
	size_t live;		  /* objects handed out now */
	size_t peak;		  /* most objects ever live at once */
	void *free_list;	  /* reusable objects, linked through their first word */
	struct pool_chunk *chunks; /* every chunk, for pool_release() */
};

void pool_init(struct pool *p, size_t size, size_t per_chunk, size_t max);
/* pool_release - free every chunk; objects still live become invalid */
void pool_release(struct pool *p);
/* pool_get - an object (contents undefined), or NULL at max or on OOM */
void *pool_get(struct pool *p);
/* pool_put - give an object back (NULL is a no-op) */
void pool_put(struct pool *p, void *obj);

/*
 * Size-class caches for short-lived allocations of any size: malloc's
 * API with a free list per size class (32 bytes to 4 KiB) in front of
 * it. A freed block goes to its class's list while the lists hold less
 * than 512 KiB (a class may always keep 16 blocks), and the next
 * allocation of that class takes it back in a few instructions; past the
 * bound, and for sizes above 4 KiB, it is malloc() and free(). glibc's
 * own per-thread cache holds 7 blocks a size, which a proxy with a few
 * hundred streams in flight overruns at every burst (its _int_malloc and
 * _int_free were 7% of the proxy's instructions; bench/NOTES.md); a
 * bound per class (64 KiB) still sent one block a request back to glibc.
 * The lists are per thread.
 * nghttp2 (through its nghttp2_mem), struct buf, struct arena and the
 * h2 streams' trailers allocate here.
 *
 * Every block carries a 16-byte header (its class), so a block from here
 * is freed only with pool_free() and resized only with pool_realloc(),
 * and a pointer from malloc() never goes to pool_free(). Blocks are
 * 16-aligned. Under AddressSanitizer nothing is cached (every free is a
 * free(), so use-after-free is still caught).
 */
void *pool_malloc(size_t n);
void *pool_calloc(size_t n, size_t size);
/* pool_realloc - realloc(); n == 0 frees p and returns NULL */
void *pool_realloc(void *p, size_t n);
/* pool_free - free a block of pool_malloc() & co (NULL is a no-op) */
void pool_free(void *p);
/* pool_trim - free() every cached block of this thread */
void pool_trim(void);
/* pool_cached - bytes cached by this thread (blocks' sizes, headers not
 * counted) */
size_t pool_cached(void);

#endif
