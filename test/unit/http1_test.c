/* SPDX-License-Identifier: Apache-2.0 */
/* http1_test.c - unit tests for http1.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/http1.h"
#include "suites.h"

/* What a caller saw of a stream of messages, flattened into text. */
struct seen {
	char log[8192]; /* "HEAD GET /a h=v;h=v|BODY 5|DONE ka|" ... */
	char body[4096];
	size_t body_len;
	int err;
};

static void append(struct seen *s, const char *fmt, const char *a, size_t n)
{
	size_t len = strlen(s->log);

	snprintf(s->log + len, sizeof(s->log) - len, fmt, (int)n, a);
}

static void on_head(struct http1_parser *p, struct seen *s)
{
	struct http1_str t = http1_target(p), name, value;

	append(s, "HEAD %.*s", http1_method(p), strlen(http1_method(p)));
	if (!*http1_method(p)) {
		char st[16];

		snprintf(st, sizeof(st), "%d", http1_status(p));
		append(s, "%.*s", st, strlen(st));
	}
	append(s, " %.*s ", t.p, t.len);
	for (size_t i = 0; i < http1_header_count(p); i++) {
		http1_header_at(p, i, &name, &value);
		append(s, "%.*s=", name.p, name.len);
		append(s, "%.*s;", value.p, value.len);
	}
	append(s, "%.*s|", "", 0);
}

static void on_done(struct http1_parser *p, struct seen *s)
{
	struct http1_str name, value;

	append(s, "DONE%.*s", http1_keep_alive(p) ? " ka" : "", 3);
	for (size_t i = 0; i < http1_trailer_count(p); i++) {
		http1_trailer_at(p, i, &name, &value);
		append(s, " t:%.*s=", name.p, name.len);
		append(s, "%.*s", value.p, value.len);
	}
	append(s, "%.*s|", "", 0);
}

/*
 * feed - parse data, delivered in pieces at the given cut points (sorted,
 * ncuts of them), the way a caller with a buffer would: bytes not
 * consumed stay and are fed again with the next piece.
 */
static void feed(struct http1_parser *p, const char *data, size_t len,
		 const size_t *cuts, size_t ncuts, struct seen *s)
{
	char pending[8192];
	size_t have = 0, at = 0;

	memset(s, 0, sizeof(*s));
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;

		memcpy(pending + have, data + at, end - at);
		have += end - at;
		at = end;
		for (;;) {
			struct http1_event ev;
			ssize_t n = http1_parse(p, pending, have, &ev);

			if (n < 0) {
				s->err = (int)n;
				return;
			}
			if (ev.type == HTTP1_HEAD)
				on_head(p, s);
			if (ev.type == HTTP1_BODY) {
				ck_assert_uint_le(s->body_len + ev.body_len,
						  sizeof(s->body));
				memcpy(s->body + s->body_len, ev.body, ev.body_len);
				s->body_len += ev.body_len;
			}
			if (ev.type == HTTP1_DONE)
				on_done(p, s);
			memmove(pending, pending + n, have - (size_t)n);
			have -= (size_t)n;
			if (ev.type == HTTP1_NONE)
				break;
		}
	}
}

static void parse_all(enum http1_kind kind, const struct http1_limits *lim,
		      const char *data, struct seen *s)
{
	struct http1_parser *p = http1_parser_new(kind, lim);

	feed(p, data, strlen(data), NULL, 0, s);
	http1_parser_free(p);
}

START_TEST(test_get)
{
	struct seen s;

	parse_all(HTTP1_REQUEST, NULL,
		  "GET /metrics?x=1 HTTP/1.1\r\nHost: a:4191\r\nAccept: */*\r\n"
		  "X-Empty:\r\n\r\n",
		  &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_str_eq(s.log, "HEAD GET /metrics?x=1 Host=a:4191;Accept=*/*;"
				"X-Empty=;|DONE ka|");
}
END_TEST

START_TEST(test_accessors)
{
	static const char req[] = "POST /shutdown HTTP/1.0\r\nContent-Length: 3"
				  "\r\nX-A: 1\r\nx-a: 2\r\n\r\nabc";
	struct http1_parser *p = http1_parser_new(HTTP1_REQUEST, NULL);
	struct http1_event ev;
	struct http1_str v;
	ssize_t n;

	n = http1_parse(p, req, strlen(req), &ev);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ev.type, HTTP1_HEAD);
	ck_assert_str_eq(http1_method(p), "POST");
	ck_assert_int_eq(http1_version(p), 10);
	ck_assert_int_eq(http1_content_length(p), 3);
	ck_assert(!http1_chunked(p));
	ck_assert(http1_header_get(p, "X-A", &v));
	ck_assert_int_eq((int)v.len, 1);
	ck_assert_int_eq(v.p[0], '1');
	ck_assert(!http1_header_get(p, "missing", &v));
	n += http1_parse(p, req + n, strlen(req) - (size_t)n, &ev);
	ck_assert_int_eq(ev.type, HTTP1_BODY);
	ck_assert_int_eq((int)ev.body_len, 3);
	ck_assert(memcmp(ev.body, "abc", 3) == 0);
	http1_parse(p, req + n, strlen(req) - (size_t)n, &ev);
	ck_assert_int_eq(ev.type, HTTP1_DONE);
	/* HTTP/1.0 without keep-alive closes */
	ck_assert(!http1_keep_alive(p));
	http1_parser_free(p);
}
END_TEST

/* every split of a message into two reads, and byte by byte, reads the same */
static void check_splits(enum http1_kind kind, const char *msg)
{
	struct http1_parser *p = http1_parser_new(kind, NULL);
	size_t len = strlen(msg);
	size_t *cuts = xcalloc(len, sizeof(size_t));
	struct seen whole, part;

	feed(p, msg, len, NULL, 0, &whole);
	ck_assert_int_eq(whole.err, 0);
	for (size_t i = 1; i < len; i++) {
		http1_parser_reset(p);
		feed(p, msg, len, &i, 1, &part);
		ck_assert_int_eq(part.err, 0);
		ck_assert_str_eq(part.log, whole.log);
		ck_assert_uint_eq(part.body_len, whole.body_len);
		ck_assert(memcmp(part.body, whole.body, whole.body_len) == 0);
	}
	for (size_t i = 0; i + 1 < len; i++)
		cuts[i] = i + 1;
	http1_parser_reset(p);
	feed(p, msg, len, cuts, len - 1, &part);
	ck_assert_int_eq(part.err, 0);
	ck_assert_str_eq(part.log, whole.log);
	ck_assert_uint_eq(part.body_len, whole.body_len);
	ck_assert(memcmp(part.body, whole.body, whole.body_len) == 0);
	free(cuts);
	http1_parser_free(p);
}

START_TEST(test_split_everywhere)
{
	check_splits(HTTP1_REQUEST,
		     "POST /upload/file HTTP/1.1\r\nHost: example.com\r\n"
		     "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
		     "hello world"
		     "GET /next HTTP/1.1\r\nUser-Agent: curl/7.88\r\n\r\n");
	check_splits(HTTP1_REQUEST,
		     "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
		     "Grpc-Status: 0\r\nX-T: y\r\n\r\n");
	check_splits(HTTP1_RESPONSE,
		     "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
		     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(test_chunked_trailers)
{
	struct seen s;

	parse_all(HTTP1_REQUEST, NULL,
		  "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n0\r\nGrpc-Status: 0\r\n\r\n",
		  &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_str_eq(s.log, "HEAD PUT /c Transfer-Encoding=chunked;|"
				"DONE ka t:Grpc-Status=0|");
	ck_assert_uint_eq(s.body_len, 5);
}
END_TEST

START_TEST(test_pipelined)
{
	struct seen s;

	parse_all(HTTP1_REQUEST, NULL,
		  "GET /a HTTP/1.1\r\nA: 1\r\n\r\n"
		  "GET /b HTTP/1.1\r\nB: 2\r\n\r\n"
		  "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
		  &s);
	ck_assert_int_eq(s.err, 0);
	/* each message's headers alone: nothing carries over */
	ck_assert_str_eq(s.log, "HEAD GET /a A=1;|DONE ka|"
				"HEAD GET /b B=2;|DONE ka|"
				"HEAD GET /c Connection=close;|DONE|");
}
END_TEST

START_TEST(test_head_limits)
{
	const struct http1_limits small = { .max_head = 64, .max_headers = 3 };
	struct seen s;
	char big[256];

	/* a long target */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + 200, " HTTP/1.1\r\n\r\n", 14);
	parse_all(HTTP1_REQUEST, &small, big, &s);
	ck_assert_int_eq(s.err, -E2BIG);
	/* a long header value */
	parse_all(HTTP1_REQUEST, &small,
		  "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789\r\n\r\n",
		  &s);
	ck_assert_int_eq(s.err, -E2BIG);
	/* too many fields */
	parse_all(HTTP1_REQUEST, &small,
		  "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", &s);
	ck_assert_int_eq(s.err, -E2BIG);
	/* at the limits: fine */
	parse_all(HTTP1_REQUEST, &small,
		  "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &s);
	ck_assert_int_eq(s.err, 0);
}
END_TEST

START_TEST(test_body_limits)
{
	const struct http1_limits lim = { .max_body = 10 };
	struct seen s;

	/* a declared length over the limit fails at the head */
	parse_all(HTTP1_REQUEST, &lim,
		  "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &s);
	ck_assert_int_eq(s.err, -EMSGSIZE);
	ck_assert_str_eq(s.log, "");
	/* chunks fail once they pass it */
	parse_all(HTTP1_REQUEST, &lim,
		  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n",
		  &s);
	ck_assert_int_eq(s.err, -EMSGSIZE);
	parse_all(HTTP1_REQUEST, &lim,
		  "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_uint_eq(s.body_len, 10);
}
END_TEST

START_TEST(test_garbage_and_smuggling)
{
	static const char *const bad[] = {
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"BREW /pot HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
		"Content-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\n\r\n",
	};
	struct http1_parser *p;
	struct http1_event ev;
	struct seen s;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		parse_all(HTTP1_REQUEST, NULL, bad[i], &s);
		if (s.err != -EPROTO)
			ck_abort_msg("case %zu: err %d, want -EPROTO (%s)", i,
				     s.err, s.log);
	}
	/* an error is final */
	p = http1_parser_new(HTTP1_REQUEST, NULL);
	ck_assert_int_eq(http1_parse(p, "\x01\x02", 2, &ev), -EPROTO);
	ck_assert_int_eq(http1_parse(p, "GET / HTTP/1.1\r\n\r\n", 18, &ev),
			 -EPROTO);
	ck_assert_str_ne(http1_error_reason(p), "");
	http1_parser_free(p);
}
END_TEST

START_TEST(test_upgrade_and_connect)
{
	static const char req[] = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"
				  "\x00\x01tunnel bytes";
	struct http1_parser *p = http1_parser_new(HTTP1_REQUEST, NULL);
	struct http1_event ev;
	struct seen s;
	size_t at = 0;
	ssize_t n;

	do {
		n = http1_parse(p, req + at, sizeof(req) - 1 - at, &ev);
		ck_assert_int_ge(n, 0);
		at += (size_t)n;
	} while (ev.type != HTTP1_DONE);
	ck_assert(http1_upgrade(p));
	ck_assert(!http1_keep_alive(p));
	/* the tunnel's bytes are left to the caller */
	ck_assert_int_eq((int)(sizeof(req) - 1 - at), 14);
	ck_assert_int_eq(http1_parse(p, req + at, 1, &ev), -EPROTO);
	http1_parser_free(p);

	/* a WebSocket upgrade: the same, after its (empty) message */
	parse_all(HTTP1_REQUEST, NULL,
		  "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
		  "Upgrade: websocket\r\n\r\n\x81\x05hello",
		  &s);
	ck_assert_int_eq(s.err, -EPROTO);
	ck_assert_str_eq(s.log, "HEAD GET /ws Connection=Upgrade;"
				"Upgrade=websocket;|DONE|");
}
END_TEST

START_TEST(test_responses)
{
	struct http1_parser *p;
	struct http1_event ev;
	struct seen s;
	static const char eof_body[] = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil close";

	parse_all(HTTP1_RESPONSE, NULL,
		  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno",
		  &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_str_eq(s.log, "HEAD 503 Service Unavailable Content-Length=2;|DONE ka|");

	/* a body that runs to the close ends with http1_finish */
	p = http1_parser_new(HTTP1_RESPONSE, NULL);
	feed(p, eof_body, strlen(eof_body), NULL, 0, &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_uint_eq(s.body_len, 11);
	ck_assert_int_eq(http1_finish(p, &ev), 0);
	ck_assert_int_eq(ev.type, HTTP1_DONE);
	http1_parser_free(p);

	/* a close between messages is fine; inside one it is not */
	p = http1_parser_new(HTTP1_RESPONSE, NULL);
	ck_assert_int_eq(http1_finish(p, &ev), 0);
	ck_assert_int_eq(ev.type, HTTP1_NONE);
	feed(p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 40, NULL, 0,
	     &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_uint_eq(s.body_len, 2);
	ck_assert_int_eq(http1_finish(p, &ev), -EPROTO);
	http1_parser_free(p);

	/* the answer to a HEAD has no body whatever it declares */
	p = http1_parser_new(HTTP1_RESPONSE, NULL);
	http1_expect_no_body(p);
	feed(p, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
		"HTTP/1.1 204 No Content\r\n\r\n", 67, NULL, 0, &s);
	ck_assert_int_eq(s.err, 0);
	ck_assert_str_eq(s.log, "HEAD 200 OK Content-Length=100;|DONE ka|"
				"HEAD 204 No Content |DONE ka|");
	ck_assert_uint_eq(s.body_len, 0);
	http1_parser_free(p);

	ck_assert_str_eq(http1_status_text(404), "Not Found");
	ck_assert_str_eq(http1_status_text(431), "Request Header Fields Too Large");
	ck_assert_str_eq(http1_status_text(999), "");
}
END_TEST

Suite *http1_suite(void)
{
	Suite *s = suite_create("http1");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_accessors);
	tcase_add_test(tc, test_split_everywhere);
	tcase_add_test(tc, test_chunked_trailers);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_head_limits);
	tcase_add_test(tc, test_body_limits);
	tcase_add_test(tc, test_garbage_and_smuggling);
	tcase_add_test(tc, test_upgrade_and_connect);
	tcase_add_test(tc, test_responses);
	suite_add_tcase(s, tc);
	return s;
}
