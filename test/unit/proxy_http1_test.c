/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_http1_test.c - unit tests for proxy_http1.c (its pure helpers) */
#include <string.h>

#include "conduit/proxy_http1.h"
#include "suites.h"

static bool hop(const char *name, const char *conn)
{
	return proxy_http1_hop_by_hop(name, strlen(name), conn,
				      conn ? strlen(conn) : 0);
}

/* parse - feed s to a new parser up to its HTTP1_HEAD; caller frees */
static struct http1_parser *parse(enum http1_kind kind, const char *s)
{
	struct http1_parser *p = http1_parser_new(kind, NULL);
	struct http1_event ev;
	size_t off = 0, len = strlen(s);

	for (;;) {
		ssize_t n = http1_parse(p, s + off, len - off, &ev);

		ck_assert_int_ge(n, 0);
		off += (size_t)n;
		if (ev.type == HTTP1_HEAD)
			return p;
		ck_assert_int_lt(off, len);
	}
}

static char *head(struct http1_parser *p, enum http1_kind kind,
		  unsigned flags, struct buf *b)
{
	buf_init(b, 1 << 20);
	ck_assert_int_eq(proxy_http1_write_head(p, kind, flags, b), 0);
	return buf_cstr(b);
}

START_TEST(test_hop_by_hop)
{
	static const char *const fixed[] = {
		"Connection", "keep-alive", "Proxy-Connection", "TE",
		"Trailer", "TRANSFER-ENCODING", "upgrade",
	};

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		ck_assert(hop(fixed[i], NULL));
	ck_assert(!hop("Host", NULL));
	ck_assert(!hop("Content-Length", NULL));
	ck_assert(!hop("te-x", NULL));
	/* named by Connection: tokens, any case, blanks and empty items */
	ck_assert(hop("X-Foo", "close, x-foo"));
	ck_assert(hop("x-bar", " ,X-Bar\t,"));
	ck_assert(!hop("x-foo", "x-foobar"));
	ck_assert(!hop("x-foobar", "x-foo"));
	ck_assert(!hop("X-Foo", "close"));
	ck_assert(!hop("x-foo", ""));
}
END_TEST

START_TEST(test_request_head)
{
	struct http1_parser *p = parse(HTTP1_REQUEST,
		"POST /a?b=1 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\n"
		"X-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
		"Transfer-Encoding: chunked\r\nProxy-Connection: x\r\n"
		"Upgrade: h2c\r\nX-End: 2\r\n\r\n");
	struct buf b;

	ck_assert_int_eq(proxy_http1_request_framing(p), PROXY_H1_CHUNKED);
	ck_assert_str_eq(head(p, HTTP1_REQUEST, PROXY_H1_HEAD_CHUNKED, &b),
			 "POST /a?b=1 HTTP/1.1\r\nHost: h\r\nX-End: 2\r\n"
			 "transfer-encoding: chunked\r\n\r\n");
	buf_release(&b);
	http1_parser_free(p);
}
END_TEST

START_TEST(test_upgrade_head)
{
	struct http1_parser *p = parse(HTTP1_REQUEST,
		"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n");
	struct buf b;

	ck_assert(http1_upgrade(p));
	ck_assert_int_eq(proxy_http1_request_framing(p), PROXY_H1_NONE);
	ck_assert_str_eq(head(p, HTTP1_REQUEST, PROXY_H1_HEAD_UPGRADE, &b),
			 "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
			 "Sec-WebSocket-Key: k\r\nconnection: upgrade\r\n\r\n");
	buf_release(&b);
	http1_parser_free(p);
}
END_TEST

START_TEST(test_response_head)
{
	struct http1_parser *p = parse(HTTP1_RESPONSE,
		"HTTP/1.1 404 Not Here\r\nContent-Length: 3\r\nKeep-Alive: x\r\n"
		"Server: s\r\n\r\n");
	struct buf b;

	ck_assert_str_eq(head(p, HTTP1_RESPONSE, PROXY_H1_HEAD_CLOSE, &b),
			 "HTTP/1.1 404 Not Here\r\nContent-Length: 3\r\n"
			 "Server: s\r\nconnection: close\r\n\r\n");
	buf_release(&b);
	http1_parser_free(p);
}
END_TEST

/* a head with more Connection fields than the writer keeps at hand, an
 * empty value, a status line without a reason phrase */
START_TEST(test_head_edges)
{
	struct buf b, in;
	struct http1_parser *p;

	buf_init(&in, 1 << 20);
	buf_append_str(&in, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 0; i < 12; i++)
		buf_printf(&in, "Connection: x-c%d\r\nX-C%d: v\r\n", i, i);
	buf_append_str(&in, "X-Empty:\r\n\r\n");
	p = parse(HTTP1_REQUEST, buf_cstr(&in));
	/* every field a Connection names goes, the twelfth's too */
	ck_assert_str_eq(head(p, HTTP1_REQUEST, 0, &b),
			 "GET / HTTP/1.1\r\nHost: h\r\nX-Empty: \r\n\r\n");
	buf_release(&b);
	buf_release(&in);
	http1_parser_free(p);

	p = parse(HTTP1_RESPONSE, "HTTP/1.1 204\r\nServer: s\r\n\r\n");
	ck_assert_str_eq(head(p, HTTP1_RESPONSE, 0, &b),
			 "HTTP/1.1 204 \r\nServer: s\r\n\r\n");
	buf_release(&b);
	http1_parser_free(p);
}
END_TEST

static enum proxy_http1_framing resp_framing(const char *s, bool head_req,
					     int version)
{
	struct http1_parser *p = http1_parser_new(HTTP1_RESPONSE, NULL);
	struct http1_event ev;
	enum proxy_http1_framing f;

	if (head_req)
		http1_expect_no_body(p);
	ck_assert_int_gt(http1_parse(p, s, strlen(s), &ev), 0);
	ck_assert_int_eq(ev.type, HTTP1_HEAD);
	f = proxy_http1_response_framing(p, head_req, version);
	http1_parser_free(p);
	return f;
}

START_TEST(test_framing)
{
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
	const char *none = "HTTP/1.1 200 OK\r\nServer: s\r\n\r\n";

	ck_assert_int_eq(resp_framing(chunked, false, 11), PROXY_H1_CHUNKED);
	ck_assert_int_eq(resp_framing(chunked, false, 10), PROXY_H1_EOF);
	ck_assert_int_eq(resp_framing(chunked, true, 11), PROXY_H1_NONE);
	ck_assert_int_eq(resp_framing(cl, false, 11), PROXY_H1_LENGTH);
	ck_assert_int_eq(resp_framing(cl, true, 11), PROXY_H1_NONE);
	ck_assert_int_eq(resp_framing(none, false, 11), PROXY_H1_EOF);
	ck_assert_int_eq(resp_framing("HTTP/1.1 204 No Content\r\n\r\n", false, 11),
			 PROXY_H1_NONE);
	ck_assert_int_eq(resp_framing("HTTP/1.1 304 Not Modified\r\n"
				      "Content-Length: 10\r\n\r\n", false, 11),
			 PROXY_H1_NONE);
	ck_assert_int_eq(resp_framing("HTTP/1.1 100 Continue\r\n\r\n", false, 11),
			 PROXY_H1_NONE);
}
END_TEST

START_TEST(test_request_framing)
{
	struct http1_parser *p;

	p = parse(HTTP1_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	ck_assert_int_eq(proxy_http1_request_framing(p), PROXY_H1_NONE);
	http1_parser_free(p);
	p = parse(HTTP1_REQUEST, "PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(proxy_http1_request_framing(p), PROXY_H1_LENGTH);
	http1_parser_free(p);
}
END_TEST

/* the upgrade's bytes after the head are left for the tunnel, whole */
START_TEST(test_upgrade_leftover)
{
	const char *s = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\n\r\nRAW";
	struct http1_parser *p = http1_parser_new(HTTP1_RESPONSE, NULL);
	struct http1_event ev;
	size_t off = 0, len = strlen(s);

	do {
		ssize_t n = http1_parse(p, s + off, len - off, &ev);

		ck_assert_int_ge(n, 0);
		off += (size_t)n;
	} while (ev.type != HTTP1_DONE);
	ck_assert_str_eq(s + off, "RAW");
	http1_parser_free(p);
}
END_TEST

START_TEST(test_error_answer)
{
	struct buf b;

	buf_init(&b, 4096);
	ck_assert_int_eq(proxy_http1_write_error(&b, 502, "upstream reset"), 0);
	ck_assert_str_eq(buf_cstr(&b),
			 "HTTP/1.1 502 Bad Gateway\r\n"
			 "content-type: text/plain\r\n"
			 "content-length: 15\r\n"
			 "conduit-proxy-error: upstream reset\r\n"
			 "connection: close\r\n\r\n"
			 "upstream reset\n");
	buf_release(&b);
}
END_TEST

Suite *proxy_http1_suite(void)
{
	Suite *s = suite_create("proxy_http1");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_hop_by_hop);
	tcase_add_test(tc, test_head_edges);
	tcase_add_test(tc, test_request_head);
	tcase_add_test(tc, test_upgrade_head);
	tcase_add_test(tc, test_response_head);
	tcase_add_test(tc, test_framing);
	tcase_add_test(tc, test_request_framing);
	tcase_add_test(tc, test_upgrade_leftover);
	tcase_add_test(tc, test_error_answer);
	suite_add_tcase(s, tc);
	return s;
}
