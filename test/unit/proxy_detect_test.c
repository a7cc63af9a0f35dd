/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_detect_test.c - unit tests for proxy_detect.c */
#include <string.h>

#include "conduit/proxy_detect.h"
#include "suites.h"

static enum proxy_proto detect(const char *s)
{
	return proxy_detect(s, strlen(s));
}

START_TEST(test_h2_preface)
{
	ck_assert_int_eq(detect(PROXY_H2_PREFACE), PROXY_PROTO_HTTP2);
	ck_assert_int_eq(detect(PROXY_H2_PREFACE "\x00\x00\x12\x04"),
			 PROXY_PROTO_HTTP2);
	/* every proper prefix: read more */
	for (size_t i = 0; i < PROXY_H2_PREFACE_LEN; i++)
		ck_assert_int_eq(proxy_detect(PROXY_H2_PREFACE, i),
				 PROXY_PROTO_UNKNOWN);
	/* a truncated preface that goes wrong is not HTTP/2 */
	ck_assert_int_eq(detect("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
			 PROXY_PROTO_OPAQUE);
	ck_assert_int_eq(detect("PRI * HTTP/2.0\r\nSM"), PROXY_PROTO_OPAQUE);
	/* "PRI" as an HTTP/1 method is still a request line */
	ck_assert_int_eq(detect("PRI * HTTP/1.1\r\n"), PROXY_PROTO_HTTP1);
}
END_TEST

START_TEST(test_request_lines)
{
	static const char *const good[] = {
		"GET / HTTP/1.1\r\n",
		"GET /metrics?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /api/v1/stat HTTP/1.0\r\n",
		"OPTIONS * HTTP/1.1\r\n",
		"CONNECT db.svc:5432 HTTP/1.1\r\n",
		"GET http://web.default.svc.cluster.local/ HTTP/1.1\r\n",
		"M-SEARCH * HTTP/1.1\r\n",
		"GET / HTTP/1.1\n", /* a bare LF, as lenient servers take it */
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		const char *line = good[i];
		size_t eol = (size_t)(strchr(line, '\n') - line) + 1;

		ck_assert_int_eq(detect(line), PROXY_PROTO_HTTP1);
		/* up to the end of the line, always "read more" */
		for (size_t n = 0; n < eol; n++)
			if (proxy_detect(line, n) != PROXY_PROTO_UNKNOWN)
				ck_abort_msg("\"%s\" decided after %zu bytes",
					     line, n);
	}
}
END_TEST

START_TEST(test_opaque)
{
	static const char *const bad[] = {
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc", /* TLS ClientHello */
		"SSH-2.0-OpenSSH_9.2\r\n",
		"*1\r\n$4\r\nPING\r\n", /* redis */
		" GET / HTTP/1.1\r\n",
		"GET  / HTTP/1.1\r\n",
		"GET / HTTP/1.1 \r\n",
		"GET / HTTP/2.0\r\n",
		"GET / http/1.1\r\n",
		"GET / HTTP/1.x\r\n",
		"GET / HTTP/1.1\rX",
		"GET / HTTP/1.10\r\n",
		"GET /\x01 HTTP/1.1\r\n",
		"GET\r\n",
		"\r\n",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n", /* no such method */
		"\x00\x00\x00\x00",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len = bad[i][0] ? strlen(bad[i]) : 4;

		if (proxy_detect(bad[i], len) != PROXY_PROTO_OPAQUE)
			ck_abort_msg("case %zu not opaque", i);
	}
	/* undecided is not opaque: the caller decides on a full buffer */
	ck_assert_int_eq(detect("GET /a-very-long-path-without-end"),
			 PROXY_PROTO_UNKNOWN);
	ck_assert_int_eq(proxy_detect("", 0), PROXY_PROTO_UNKNOWN);
}
END_TEST

/* once decided, more bytes never change the answer */
START_TEST(test_decision_is_final)
{
	static const char *const inputs[] = {
		PROXY_H2_PREFACE "more",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"SSH-2.0-x\r\n",
		"PRI * HTTP/2.0\r\n\r\nXX",
		"GET / HTTP/1.1\rX more",
	};

	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		size_t len = strlen(inputs[i]);
		enum proxy_proto first = PROXY_PROTO_UNKNOWN;

		for (size_t n = 0; n <= len; n++) {
			enum proxy_proto p = proxy_detect(inputs[i], n);

			if (first == PROXY_PROTO_UNKNOWN)
				first = p;
			else
				ck_assert_int_eq(p, first);
		}
		ck_assert_int_ne(first, PROXY_PROTO_UNKNOWN);
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(proxy_proto_name(PROXY_PROTO_HTTP1), "http/1");
	ck_assert_str_eq(proxy_proto_name(PROXY_PROTO_HTTP2), "h2");
	ck_assert_str_eq(proxy_proto_name(PROXY_PROTO_OPAQUE), "opaque");
	ck_assert_str_eq(proxy_proto_name(PROXY_PROTO_UNKNOWN), "unknown");
}
END_TEST

Suite *proxy_detect_suite(void)
{
	Suite *s = suite_create("proxy_detect");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_h2_preface);
	tcase_add_test(tc, test_request_lines);
	tcase_add_test(tc, test_opaque);
	tcase_add_test(tc, test_decision_is_final);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}
