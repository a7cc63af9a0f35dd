/* SPDX-License-Identifier: Apache-2.0 */
/* buf_test.c - unit tests for buf.c: appends, the limit, fd I/O */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "suites.h"

static void assert_contents(const struct buf *b, const char *want)
{
	ck_assert_uint_eq(buf_len(b), strlen(want));
	ck_assert_mem_eq(buf_head(b), want, strlen(want));
}

/* nonblocking_pipe - p[0] read end, p[1] write end, both non-blocking */
static void nonblocking_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void nonblocking_socketpair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
}

static void write_all(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

START_TEST(test_init_empty)
{
	struct buf b, u;

	buf_init(&b, 100);
	ck_assert_uint_eq(buf_len(&b), 0);
	ck_assert_uint_eq(buf_room(&b), 100);
	buf_init(&u, 0); /* 0: no limit */
	ck_assert_uint_eq(buf_room(&u), SIZE_MAX);
	buf_release(&b);
	buf_release(&u);
	/* release leaves an empty, usable buffer with the same limit */
	ck_assert_uint_eq(buf_len(&b), 0);
	ck_assert_uint_eq(buf_room(&b), 100);
}
END_TEST

START_TEST(test_append_consume)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_append_str(&b, "hello"), 0);
	ck_assert_int_eq(buf_append(&b, " world!", 6), 0);
	assert_contents(&b, "hello world");
	buf_consume(&b, 6);
	assert_contents(&b, "world");
	ck_assert_int_eq(buf_append_str(&b, "wide"), 0);
	assert_contents(&b, "worldwide");
	buf_consume(&b, 9);
	ck_assert_uint_eq(buf_len(&b), 0);
	ck_assert_int_eq(buf_append_str(&b, "again"), 0);
	assert_contents(&b, "again");
	ck_assert_int_eq(buf_append(&b, "x", 0), 0);
	assert_contents(&b, "again");
	buf_release(&b);
}
END_TEST

START_TEST(test_consume_zero_and_all)
{
	struct buf b;

	buf_init(&b, 0);
	buf_append_str(&b, "abc");
	buf_consume(&b, 0);
	assert_contents(&b, "abc");
	buf_consume(&b, 3);
	ck_assert_uint_eq(buf_len(&b), 0);
	buf_release(&b);
}
END_TEST

START_TEST(test_consume_past_len_is_a_bug)
{
	struct buf b;

	buf_init(&b, 0);
	buf_append_str(&b, "abc");
	buf_consume(&b, 4);
}
END_TEST

START_TEST(test_reserve_commit)
{
	struct buf b;

	buf_init(&b, 64);
	buf_append_str(&b, "head:");
	ck_assert_int_eq(buf_reserve(&b, 10), 0);
	memcpy(buf_tail(&b), "0123456789", 10);
	buf_commit(&b, 4);
	assert_contents(&b, "head:0123");
	/* a reservation counts against the limit */
	ck_assert_int_eq(buf_reserve(&b, 64 - 9), 0);
	ck_assert_int_eq(buf_reserve(&b, 64 - 9 + 1), -ENOBUFS);
	memset(buf_tail(&b), 'z', 64 - 9);
	buf_commit(&b, 64 - 9);
	ck_assert_uint_eq(buf_len(&b), 64);
	ck_assert_uint_eq(buf_room(&b), 0);
	ck_assert_int_eq(buf_reserve(&b, 1), -ENOBUFS);
	ck_assert_int_eq(buf_reserve(&b, 0), 0);
	buf_release(&b);
}
END_TEST

START_TEST(test_reserve_after_consume)
{
	struct buf b;

	/* consumed bytes give their room back */
	buf_init(&b, 16);
	buf_append_str(&b, "0123456789abcdef");
	buf_consume(&b, 10);
	ck_assert_int_eq(buf_reserve(&b, 10), 0);
	memcpy(buf_tail(&b), "ghijklmnop", 10);
	buf_commit(&b, 10);
	assert_contents(&b, "abcdefghijklmnop");
	buf_release(&b);
}
END_TEST

START_TEST(test_limit_all_or_nothing)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append_str(&b, "12345678"), 0);
	ck_assert_int_eq(buf_append_str(&b, "abc"), -ENOBUFS);
	assert_contents(&b, "12345678"); /* nothing partially appended */
	ck_assert_uint_eq(buf_room(&b), 2);
	ck_assert_int_eq(buf_append_str(&b, "ab"), 0);
	assert_contents(&b, "12345678ab");
	ck_assert_uint_eq(buf_room(&b), 0);
	ck_assert_int_eq(buf_append_str(&b, "c"), -ENOBUFS);
	ck_assert_int_eq(buf_append(&b, "c", 0), 0);
	assert_contents(&b, "12345678ab");

	/* consuming makes room again, and the contents slide correctly */
	buf_consume(&b, 4);
	ck_assert_uint_eq(buf_room(&b), 4);
	ck_assert_int_eq(buf_append_str(&b, "WXYZ"), 0);
	assert_contents(&b, "5678abWXYZ");
	buf_release(&b);
}
END_TEST

START_TEST(test_limit_single_big_append)
{
	struct buf b;
	char big[1000];

	memset(big, 'q', sizeof(big));
	buf_init(&b, 999);
	ck_assert_int_eq(buf_append(&b, big, sizeof(big)), -ENOBUFS);
	ck_assert_uint_eq(buf_len(&b), 0);
	ck_assert_int_eq(buf_append(&b, big, sizeof(big) - 1), 0);
	ck_assert_uint_eq(buf_len(&b), 999);
	ck_assert_mem_eq(buf_head(&b), big, 999);
	buf_release(&b);
}
END_TEST

START_TEST(test_printf)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "%s-%d", "pod", 7), 0);
	ck_assert_int_eq(buf_printf(&b, "/%05.1f", 2.5), 0);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	assert_contents(&b, "pod-7/002.5");
	buf_consume(&b, 4);
	ck_assert_int_eq(buf_printf(&b, "!"), 0);
	assert_contents(&b, "7/002.5!");
	buf_release(&b);
}
END_TEST

START_TEST(test_printf_grows)
{
	struct buf b;
	char big[5000];

	memset(big, 'g', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(buf_len(&b), 5000 + 1);
	ck_assert_int_eq(buf_head(&b)[0], '<');
	ck_assert_mem_eq(buf_head(&b) + 1, big, sizeof(big) - 1);
	ck_assert_int_eq(buf_head(&b)[5000], '>');
	buf_release(&b);
}
END_TEST

START_TEST(test_printf_exactly_at_limit)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_printf(&b, "%d", 1234567890), 0);
	assert_contents(&b, "1234567890");
	ck_assert_uint_eq(buf_room(&b), 0);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	ck_assert_int_eq(buf_printf(&b, "x"), -ENOBUFS);
	assert_contents(&b, "1234567890");
	buf_release(&b);

	/* at the limit after earlier data, and after a consume */
	buf_init(&b, 10);
	buf_append_str(&b, "abc");
	ck_assert_int_eq(buf_printf(&b, "%s", "defghij"), 0);
	assert_contents(&b, "abcdefghij");
	buf_consume(&b, 5);
	ck_assert_int_eq(buf_printf(&b, "%05d", 42), 0);
	assert_contents(&b, "fghij00042");
	buf_release(&b);
}
END_TEST

START_TEST(test_printf_over_limit)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_printf(&b, "%s", "12345678901"), -ENOBUFS);
	ck_assert_uint_eq(buf_len(&b), 0);
	buf_append_str(&b, "abcd");
	ck_assert_int_eq(buf_printf(&b, "%s", "1234567"), -ENOBUFS);
	assert_contents(&b, "abcd"); /* nothing partially appended */
	ck_assert_int_eq(buf_printf(&b, "%s", "123456"), 0);
	assert_contents(&b, "abcd123456");
	buf_release(&b);

	/* over the limit when the allocation has spare room already */
	buf_init(&b, 300);
	buf_append_str(&b, "x");
	ck_assert_int_eq(buf_printf(&b, "%0300d", 1), -ENOBUFS);
	assert_contents(&b, "x");
	ck_assert_int_eq(buf_printf(&b, "%0299d", 1), 0);
	ck_assert_uint_eq(buf_len(&b), 300);
	ck_assert_int_eq(buf_head(&b)[299], '1');
	buf_release(&b);
}
END_TEST

START_TEST(test_cstr)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	s = buf_cstr(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	buf_append_str(&b, "hello world");
	buf_consume(&b, 6);
	s = buf_cstr(&b);
	ck_assert_str_eq(s, "world");
	ck_assert_uint_eq(buf_len(&b), 5); /* the NUL is not data */
	buf_append_str(&b, "!");
	ck_assert_str_eq(buf_cstr(&b), "world!");
	buf_release(&b);
}
END_TEST

START_TEST(test_cstr_at_limit)
{
	struct buf b;

	/* the terminator is not data: a full buffer still gets one */
	buf_init(&b, 5);
	ck_assert_int_eq(buf_append_str(&b, "abcde"), 0);
	ck_assert_uint_eq(buf_room(&b), 0);
	ck_assert_str_eq(buf_cstr(&b), "abcde");
	ck_assert_uint_eq(buf_len(&b), 5);
	ck_assert_int_eq(buf_append_str(&b, "f"), -ENOBUFS);
	buf_consume(&b, 2);
	ck_assert_int_eq(buf_append_str(&b, "fg"), 0);
	ck_assert_str_eq(buf_cstr(&b), "cdefg");
	buf_release(&b);
}
END_TEST

START_TEST(test_read_fd)
{
	struct buf b;
	int p[2];

	nonblocking_pipe(p);
	buf_init(&b, 0);
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), -EAGAIN);
	write_all(p[1], "hello");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 5);
	assert_contents(&b, "hello");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), -EAGAIN);
	write_all(p[1], " world");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 6);
	assert_contents(&b, "hello world"); /* appended */
	write_all(p[1], "bye");
	close(p[1]);
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 3);
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 0); /* EOF */
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 0);
	assert_contents(&b, "hello worldbye");
	close(p[0]);
	buf_release(&b);
}
END_TEST

START_TEST(test_read_fd_most)
{
	struct buf b;
	int p[2];

	nonblocking_pipe(p);
	buf_init(&b, 0);
	write_all(p[1], "0123456789");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 3), 3);
	assert_contents(&b, "012");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 100), 7);
	assert_contents(&b, "0123456789");
	close(p[0]);
	close(p[1]);
	buf_release(&b);
}
END_TEST

START_TEST(test_read_fd_limit)
{
	struct buf b;
	int p[2];

	nonblocking_pipe(p);
	buf_init(&b, 4);
	write_all(p[1], "0123456789");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 4);
	assert_contents(&b, "0123");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), -ENOBUFS);
	assert_contents(&b, "0123");
	buf_consume(&b, 3);
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 3);
	assert_contents(&b, "3456");
	buf_consume(&b, 4);
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), 3);
	assert_contents(&b, "789");
	ck_assert_int_eq(buf_read_fd(&b, p[0], 4096), -EAGAIN);
	close(p[0]);
	close(p[1]);
	buf_release(&b);
}
END_TEST

START_TEST(test_read_fd_errors)
{
	struct buf b;
	int p[2];

	buf_init(&b, 0);
	ck_assert_int_eq(buf_read_fd(&b, -1, 100), -EBADF);
	nonblocking_pipe(p);
	/* reading the write end of a pipe */
	ck_assert_int_eq(buf_read_fd(&b, p[1], 100), -EBADF);
	ck_assert_uint_eq(buf_len(&b), 0);
	close(p[0]);
	close(p[1]);
	buf_release(&b);
}
END_TEST

START_TEST(test_write_fd)
{
	struct buf b;
	char out[64];
	int sv[2];

	nonblocking_socketpair(sv);
	buf_init(&b, 0);
	ck_assert_int_eq(buf_write_fd(&b, sv[0]), 0); /* nothing to write */
	buf_append_str(&b, "skip:payload");
	buf_consume(&b, 5);
	ck_assert_int_eq(buf_write_fd(&b, sv[0]), 7);
	ck_assert_uint_eq(buf_len(&b), 0); /* written bytes are consumed */
	ck_assert_int_eq(read(sv[1], out, sizeof(out)), 7);
	ck_assert_mem_eq(out, "payload", 7);
	close(sv[0]);
	close(sv[1]);
	buf_release(&b);
}
END_TEST

START_TEST(test_write_fd_short_then_eagain)
{
	size_t total = 8u << 20, got = 0;
	struct buf b, in;
	ssize_t n;
	int sv[2];

	nonblocking_socketpair(sv);
	buf_init(&b, 0);
	buf_init(&in, 0);
	ck_assert_int_eq(buf_reserve(&b, total), 0);
	for (size_t i = 0; i < total; i++)
		buf_tail(&b)[i] = (unsigned char)(i * 7 + i / 251);
	buf_commit(&b, total);

	/* the socket buffer takes only part of 8 MiB: a short write */
	n = buf_write_fd(&b, sv[0]);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (ssize_t)total);
	ck_assert_uint_eq(buf_len(&b), total - (size_t)n);
	ck_assert_int_eq(buf_write_fd(&b, sv[0]), -EAGAIN);
	ck_assert_uint_eq(buf_len(&b), total - (size_t)n);

	/* drain and check that the bytes arrive in order */
	while (got < total) {
		n = buf_read_fd(&in, sv[1], 1u << 20);
		if (n == -EAGAIN) {
			ck_assert_int_ge(buf_write_fd(&b, sv[0]), 0);
			continue;
		}
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_uint_eq(buf_len(&b), 0);
	ck_assert_uint_eq(buf_len(&in), total);
	for (size_t i = 0; i < total; i++)
		if (buf_head(&in)[i] != (unsigned char)(i * 7 + i / 251))
			ck_abort_msg("byte %zu differs", i);
	close(sv[0]);
	close(sv[1]);
	buf_release(&b);
	buf_release(&in);
}
END_TEST

START_TEST(test_write_fd_epipe)
{
	struct buf b;
	int sv[2];

	signal(SIGPIPE, SIG_IGN);
	nonblocking_socketpair(sv);
	close(sv[1]);
	buf_init(&b, 0);
	buf_append_str(&b, "lost");
	ck_assert_int_eq(buf_write_fd(&b, sv[0]), -EPIPE);
	assert_contents(&b, "lost");
	close(sv[0]);
	buf_release(&b);
}
END_TEST

START_TEST(test_large_round_trip)
{
	size_t total = 3u << 20, sent = 0;
	struct buf out, relay, in;
	char chunk[4099];
	int sv[2];

	/* 3 MiB through a socketpair in odd-sized pieces, via a bounded
	 * relay buffer that is read into and written from in turns */
	nonblocking_socketpair(sv);
	buf_init(&out, 0);
	buf_init(&relay, 10000);
	buf_init(&in, 0);
	while (sent < total) {
		size_t n = MIN(sizeof(chunk), total - sent);

		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)((sent + i) % 253);
		ck_assert_int_eq(buf_append(&out, chunk, n), 0);
		sent += n;
	}
	while (buf_len(&in) < total) {
		ssize_t r;

		if (buf_len(&out)) {
			r = buf_write_fd(&out, sv[0]);
			ck_assert(r > 0 || r == -EAGAIN);
		}
		r = buf_read_fd(&relay, sv[1], 7777);
		ck_assert(r > 0 || r == -EAGAIN || r == -ENOBUFS);
		ck_assert_uint_le(buf_len(&relay), 10000);
		ck_assert_int_eq(buf_append(&in, buf_head(&relay),
					    buf_len(&relay)),
				 0);
		buf_consume(&relay, buf_len(&relay));
	}
	ck_assert_uint_eq(buf_len(&in), total);
	for (size_t i = 0; i < total; i++)
		if (buf_head(&in)[i] != (unsigned char)(i % 253))
			ck_abort_msg("byte %zu differs", i);
	close(sv[0]);
	close(sv[1]);
	buf_release(&out);
	buf_release(&relay);
	buf_release(&in);
}
END_TEST

START_TEST(test_clear_reuse)
{
	struct buf b;
	unsigned char *data;

	buf_init(&b, 32);
	buf_append_str(&b, "first contents");
	buf_consume(&b, 6);
	data = b.data;
	buf_clear(&b);
	ck_assert_uint_eq(buf_len(&b), 0);
	ck_assert_uint_eq(buf_room(&b), 32);
	ck_assert_int_eq(buf_append_str(&b, "second"), 0);
	assert_contents(&b, "second");
	ck_assert_ptr_eq(b.data, data); /* the allocation is kept */
	buf_clear(&b);
	ck_assert_int_eq(buf_printf(&b, "%032d", 0), 0);
	ck_assert_uint_eq(buf_len(&b), 32);
	buf_clear(&b);
	ck_assert_int_eq(buf_append_str(&b, "third"), 0);
	ck_assert_str_eq(buf_cstr(&b), "third");

	buf_release(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_int_eq(buf_append_str(&b, "after release"), 0);
	assert_contents(&b, "after release");
	ck_assert_int_eq(buf_append_str(&b, "0123456789abcdefghij"), -ENOBUFS);
	buf_release(&b);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("append");

	tcase_add_test(tc, test_init_empty);
	tcase_add_test(tc, test_append_consume);
	tcase_add_test(tc, test_consume_zero_and_all);
	tcase_add_test_raise_signal(tc, test_consume_past_len_is_a_bug,
				    SIGABRT);
	tcase_add_test(tc, test_reserve_commit);
	tcase_add_test(tc, test_reserve_after_consume);
	tcase_add_test(tc, test_limit_all_or_nothing);
	tcase_add_test(tc, test_limit_single_big_append);
	tcase_add_test(tc, test_clear_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("printf");
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_printf_grows);
	tcase_add_test(tc, test_printf_exactly_at_limit);
	tcase_add_test(tc, test_printf_over_limit);
	tcase_add_test(tc, test_cstr);
	tcase_add_test(tc, test_cstr_at_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("fd");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_read_fd);
	tcase_add_test(tc, test_read_fd_most);
	tcase_add_test(tc, test_read_fd_limit);
	tcase_add_test(tc, test_read_fd_errors);
	tcase_add_test(tc, test_write_fd);
	tcase_add_test(tc, test_write_fd_short_then_eagain);
	tcase_add_test(tc, test_write_fd_epipe);
	tcase_add_test(tc, test_large_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
