/* SPDX-License-Identifier: Apache-2.0 */
/* buf.c - growable byte buffers with a hard size limit */
#include "conduit/buf.h"
#include "conduit/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_MIN_CAP 256

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX;
}

void buf_release(struct buf *b)
{
	pool_free(b->data);
	buf_init(b, b->max);
}

void buf_clear(struct buf *b)
{
	b->off = b->len = 0;
}

size_t buf_room(const struct buf *b)
{
	return b->max - b->len;
}

/*
 * reserve - room for n bytes at the tail; slack bytes of n may lie past
 * max (the NUL terminator of buf_cstr/buf_printf, which is not data).
 */
static int reserve(struct buf *b, size_t n, size_t slack)
{
	size_t need, cap;
	unsigned char *p;

	if (n - MIN(n, slack) > b->max - b->len)
		return -ENOBUFS;
	if (b->off + b->len + n <= b->cap)
		return 0;
	need = b->len + n;
	/* Slide the readable bytes down when that frees enough room. */
	if (need <= b->cap) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->max != SIZE_MAX && cap > b->max + slack)
		cap = MAX(b->max + slack, need);
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	p = pool_realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	return reserve(b, n, 0);
}

void buf_commit(struct buf *b, size_t n)
{
	BUG_ON(b->off + b->len + n > b->cap);
	b->len += n;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r;

	if (!n)
		return 0;
	r = buf_reserve(b, n);
	if (r)
		return r;
	memcpy(buf_tail(b), p, n);
	b->len += n;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap - b->off - b->len;
	va_list ap2;
	int n, r = 0;

	va_copy(ap2, ap);
	n = vsnprintf(room ? (char *)buf_tail(b) : NULL, room, fmt, ap);
	if (n < 0) {
		r = -EINVAL;
	} else if ((size_t)n > buf_room(b)) {
		r = -ENOBUFS;
	} else if ((size_t)n >= room) {
		r = reserve(b, (size_t)n + 1, 1);
		if (!r)
			vsnprintf((char *)buf_tail(b), (size_t)n + 1, fmt, ap2);
	}
	va_end(ap2);
	if (!r)
		b->len += (size_t)n;
	return r;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	BUG_ON(n > b->len);
	b->len -= n;
	b->off = b->len ? b->off + n : 0;
}

ssize_t buf_read_fd(struct buf *b, int fd, size_t most)
{
	size_t total = 0;

	while (total < most) {
		size_t want = MIN(most - total, 16384);
		ssize_t n;
		int r;

		want = MIN(want, buf_room(b));
		if (!want)
			return total ? (ssize_t)total : -ENOBUFS;
		r = buf_reserve(b, want);
		if (r)
			return total ? (ssize_t)total : r;
		n = read(fd, buf_tail(b), want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return total ? (ssize_t)total : -EAGAIN;
			return total ? (ssize_t)total : -errno;
		}
		if (n == 0)
			return (ssize_t)total;
		b->len += (size_t)n;
		total += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	return (ssize_t)total;
}

ssize_t buf_write_fd(struct buf *b, int fd)
{
	size_t total = 0;

	while (b->len) {
		ssize_t n = write(fd, buf_head(b), b->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return total ? (ssize_t)total : -EAGAIN;
			return -errno;
		}
		buf_consume(b, (size_t)n);
		total += (size_t)n;
	}
	return (ssize_t)total;
}

char *buf_cstr(struct buf *b)
{
	if (reserve(b, 1, 1))
		return NULL;
	buf_tail(b)[0] = '\0';
	return (char *)buf_head(b);
}

int buf_read_file(struct buf *b, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	do
		n = buf_read_fd(b, fd, SIZE_MAX);
	while (n > 0 || n == -EAGAIN);
	close(fd);
	if (n == -ENOBUFS) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, b->max);
		return -EFBIG;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror((int)-n));
		return (int)n;
	}
	return 0;
}
