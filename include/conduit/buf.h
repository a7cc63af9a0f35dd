/* SPDX-License-Identifier: Apache-2.0 */
/* buf.h - growable byte buffers with a hard size limit */
#ifndef CONDUIT_BUF_H
#define CONDUIT_BUF_H

#include <stdarg.h>
#include <sys/types.h>

#include "conduit/base.h"

/*
 * A byte buffer: readable bytes are data[off .. off+len). Appends go at the
 * end; consuming advances off, and the space is reclaimed lazily (on the
 * next append that needs it), so a read/consume cycle never memmoves more
 * than it must. Every buffer has a limit: data that comes from the network
 * can never grow it past max, and appends past it fail with -ENOBUFS.
 *
 * Embedded: buf_init / buf_release; buf_clear empties it and keeps memory.
 */
struct buf {
	unsigned char *data;	/* the allocation, NULL until first append */
	size_t off;		/* first readable byte */
	size_t len;		/* readable bytes */
	size_t cap;		/* allocated bytes */
	size_t max;		/* hard limit on len (0: SIZE_MAX) */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* buf_clear - drop the contents, keep the allocation */
void buf_clear(struct buf *b);

static inline unsigned char *buf_head(const struct buf *b)
{
	/* NULL + 0 is undefined behaviour: an unused buffer has no head */
	return b->data ? b->data + b->off : NULL;
}

static inline size_t buf_len(const struct buf *b)
{
	return b->len;
}

/* buf_room - bytes that may still be appended before hitting max */
size_t buf_room(const struct buf *b);

/*
 * buf_reserve - make room for n more bytes at buf_tail(). Returns 0, or
 * -ENOBUFS when len + n would pass max, or -ENOMEM.
 */
int buf_reserve(struct buf *b, size_t n);

/* buf_tail - where the next append goes; valid after buf_reserve() */
static inline unsigned char *buf_tail(const struct buf *b)
{
	return b->data + b->off + b->len;
}

/* buf_commit - n bytes were written at buf_tail() (n <= reserved) */
void buf_commit(struct buf *b, size_t n);

/* buf_append - copy n bytes in. 0, -ENOBUFS or -ENOMEM */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* buf_printf - append formatted text. 0, -ENOBUFS or -ENOMEM */
PRINTF_LIKE(2, 3) int buf_printf(struct buf *b, const char *fmt, ...);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* buf_consume - drop n bytes from the front (n <= len) */
void buf_consume(struct buf *b, size_t n);

/*
 * buf_read_fd - read(2) from fd into the buffer until it would block, the
 * peer closes, the limit is reached or at most `most` bytes were read.
 * Returns bytes read (> 0), 0 on EOF, -EAGAIN when nothing was available,
 * -ENOBUFS when the buffer is full, or another negative errno.
 */
ssize_t buf_read_fd(struct buf *b, int fd, size_t most);

/*
 * buf_write_fd - write(2) the readable bytes to fd and consume what was
 * written. Returns bytes written (>= 0; may be short), -EAGAIN if nothing
 * could be written, or another negative errno.
 */
ssize_t buf_write_fd(struct buf *b, int fd);

/*
 * buf_read_file - append the whole file at path (up to the buffer's
 * limit). Returns 0, or a negative errno with "<path>: <why>" in err.
 */
int buf_read_file(struct buf *b, const char *path, char *err, size_t errlen);

/*
 * buf_cstr - NUL-terminate the contents (not counted in len) and return
 * them, or NULL on -ENOBUFS/-ENOMEM.
 */
char *buf_cstr(struct buf *b);

#endif
