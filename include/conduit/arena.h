/* SPDX-License-Identifier: Apache-2.0 */
/* arena.h - per-request bump allocators freed all at once */
#ifndef CONDUIT_ARENA_H
#define CONDUIT_ARENA_H

#include "conduit/base.h"

/*
 * struct arena: a bump allocator for short-lived allocations that die
 * together (one request's headers, one parsed document). arena_alloc()
 * never frees singly; arena_reset() frees everything at once and keeps one
 * default-sized block for reuse. `max` bounds the bytes handed out, so a
 * hostile input meets a limit.
 */
struct arena_block;

struct arena {
	struct arena_block *head; /* current block; older ones chained */
	size_t block_size;	  /* default block size */
	size_t used;		  /* bytes handed out since the last reset */
	size_t max;		  /* most bytes handed out (0: unbounded) */
};

/* the bytes a block's header takes from its allocation */
#define ARENA_BLOCK_HDR 32
/* ARENA_BLOCK_FIT(n) - the block_size whose allocation is n bytes */
#define ARENA_BLOCK_FIT(n) ((n) - ARENA_BLOCK_HDR)

void arena_init(struct arena *a, size_t block_size, size_t max);
void arena_release(struct arena *a);
/* arena_reset - forget every allocation; keeps one block for reuse */
void arena_reset(struct arena *a);
/* arena_alloc - n bytes, 16-aligned; NULL past max or on OOM */
void *arena_alloc(struct arena *a, size_t n);
/* arena_strndup - copy of s[0..n) plus NUL; NULL past max or on OOM */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

#endif
