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

#endif
