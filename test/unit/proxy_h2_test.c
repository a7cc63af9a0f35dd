/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_h2_test.c - unit tests for proxy_h2.c (its pure helpers) */
#include <string.h>

#include "conduit/grpc.h"
#include "conduit/proxy_h2.h"
#include "conduit/proxy_metrics.h"
#include "suites.h"

static bool drop(const char *name, const char *value)
{
	return proxy_h2_drop_field(name, strlen(name), value, strlen(value));
}

START_TEST(test_drop_field)
{
	/* connection-specific: never forwarded (RFC 9113 8.2.2) */
	ck_assert(drop("connection", "close"));
	ck_assert(drop("keep-alive", "timeout=5"));
	ck_assert(drop("proxy-connection", "keep-alive"));
	ck_assert(drop("transfer-encoding", "chunked"));
	ck_assert(drop("upgrade", "h2c"));
	/* TE only as "trailers" (gRPC needs it) */
	ck_assert(!drop("te", "trailers"));
	ck_assert(!drop("te", "Trailers"));
	ck_assert(drop("te", "gzip"));
	ck_assert(drop("te", "trailers, gzip"));
	/* end-to-end fields and pseudo-headers pass */
	ck_assert(!drop(":path", "/"));
	ck_assert(!drop(":authority", "web:80"));
	ck_assert(!drop("content-type", "application/grpc"));
	ck_assert(!drop("grpc-timeout", "1S"));
	ck_assert(!drop("host", "web"));
	ck_assert(!drop("connectionx", ""));
	ck_assert(!drop("tex", "gzip"));
	ck_assert(!drop("", ""));
}
END_TEST

static bool grpc_ct(const char *ct)
{
	struct h2_header h[] = {
		H2_HEADER(":method", "POST"),
		h2_header_str("content-type", ct),
	};

	return proxy_h2_is_grpc(h, ARRAY_SIZE(h));
}

START_TEST(test_is_grpc)
{
	struct h2_header none[] = { H2_HEADER(":method", "GET") };

	ck_assert(grpc_ct("application/grpc"));
	ck_assert(grpc_ct("application/grpc+proto"));
	ck_assert(grpc_ct("Application/GRPC+json"));
	ck_assert(grpc_ct("application/grpc;charset=utf-8"));
	ck_assert(!grpc_ct("application/grpc-web"));
	ck_assert(!grpc_ct("application/grpcx"));
	ck_assert(!grpc_ct("application/json"));
	ck_assert(!grpc_ct("application/grp"));
	ck_assert(!grpc_ct(""));
	ck_assert(!proxy_h2_is_grpc(none, ARRAY_SIZE(none)));
}
END_TEST

START_TEST(test_fail_status)
{
	int grpc = -1;

	ck_assert_int_eq(proxy_h2_fail_status(PROXY_H2_REFUSED, &grpc), 502);
	ck_assert_int_eq(grpc, GRPC_UNAVAILABLE);
	ck_assert_int_eq(proxy_h2_fail_status(PROXY_H2_LOST, &grpc), 502);
	ck_assert_int_eq(grpc, GRPC_UNAVAILABLE);
	ck_assert_int_eq(proxy_h2_fail_status(PROXY_H2_UNAVAILABLE, &grpc), 503);
	ck_assert_int_eq(grpc, GRPC_UNAVAILABLE);
	/* a connect timeout may succeed elsewhere: UNAVAILABLE, retryable */
	ck_assert_int_eq(proxy_h2_fail_status(PROXY_H2_CONNECT_TIMEOUT, &grpc),
			 504);
	ck_assert_int_eq(grpc, GRPC_UNAVAILABLE);
	ck_assert_int_eq(proxy_h2_fail_status(PROXY_H2_RESPONSE_TIMEOUT, &grpc),
			 504);
	ck_assert_int_eq(grpc, GRPC_DEADLINE_EXCEEDED);
	ck_assert_int_eq(proxy_h2_fail_status(PROXY_H2_DEADLINE, &grpc), 504);
	ck_assert_int_eq(grpc, GRPC_DEADLINE_EXCEEDED);
}
END_TEST

START_TEST(test_pick)
{
	struct proxy_h2_load l[4] = { 0 };

	/* nothing yet: open one */
	ck_assert_int_eq(proxy_h2_pick(l, 0), -1);

	/* a connected one with room */
	l[0] = (struct proxy_h2_load){ false, false, 10, 100 };
	ck_assert_int_eq(proxy_h2_pick(l, 1), 0);

	/* full (at the peer's max), or going away: open another */
	l[0].streams = 100;
	ck_assert_int_eq(proxy_h2_pick(l, 1), -1);
	l[0] = (struct proxy_h2_load){ false, true, 0, 100 };
	ck_assert_int_eq(proxy_h2_pick(l, 1), -1);

	/* a connected one beats a connecting one with more room */
	l[0] = (struct proxy_h2_load){ true, false, 0, 100 };
	l[1] = (struct proxy_h2_load){ false, false, 90, 100 };
	ck_assert_int_eq(proxy_h2_pick(l, 2), 1);
	/* ... unless it is full: then wait for the connecting one */
	l[1].streams = 100;
	ck_assert_int_eq(proxy_h2_pick(l, 2), 0);

	/* among connected ones, the most room; a peer's small max counts */
	l[0] = (struct proxy_h2_load){ false, false, 5, 10 };
	l[1] = (struct proxy_h2_load){ false, false, 50, 100 };
	l[2] = (struct proxy_h2_load){ false, true, 0, 1000 };
	l[3] = (struct proxy_h2_load){ false, false, 1, 1 };
	ck_assert_int_eq(proxy_h2_pick(l, 4), 1);

	/* a peer that allows no stream at all is never picked */
	l[0] = (struct proxy_h2_load){ false, false, 0, 0 };
	ck_assert_int_eq(proxy_h2_pick(l, 1), -1);
}
END_TEST

START_TEST(test_metrics_grpc_status)
{
	struct proxy_config cfg;
	struct proxy_metrics *pm;
	struct proxy_http_metrics *hm;
	const struct proxy_http_status *ok, *ok2, *unavail, *plain;
	struct sock_addr a;
	struct buf out;
	char err[64], *text;

	proxy_config_init(&cfg);
	pm = proxy_metrics_new(&cfg);
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:8080", &a, err, sizeof(err)), 0);
	hm = proxy_metrics_http(pm, PROXY_INBOUND, &a, NULL, "web:8080", 8);
	ok = proxy_metrics_grpc_status(pm, hm, 200, 0);
	unavail = proxy_metrics_grpc_status(pm, hm, 200, 14);
	plain = proxy_metrics_http_status(pm, hm, 200);
	ok2 = proxy_metrics_grpc_status(pm, hm, 200, 0);
	/* found again in the entry: no lookup, no allocation */
	ck_assert_ptr_eq(ok, ok2);
	ck_assert_ptr_ne(ok->total, unavail->total);
	ck_assert_ptr_ne(ok->total, plain->total);
	/* one latency series per HTTP status */
	ck_assert_ptr_eq(ok->latency, unavail->latency);
	metrics_counter_inc(ok->total);
	metrics_counter_inc(unavail->total);
	metrics_counter_inc(plain->total);
	buf_init(&out, 1 << 20);
	ck_assert_int_eq(metrics_write_text(proxy_metrics_registry(pm), &out), 0);
	text = buf_cstr(&out);
	ck_assert_ptr_nonnull(strstr(text,
		"response_total{direction=\"inbound\",authority=\"web:8080\","
		"tls=\"disabled\",target_addr=\"127.0.0.1:8080\","
		"classification=\"success\",status_code=\"200\","
		"grpc_status_code=\"0\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
		"classification=\"failure\",status_code=\"200\","
		"grpc_status_code=\"14\"} 1\n"));
	/* no gRPC status: no grpc_status_code label (as Linkerd) */
	ck_assert_ptr_nonnull(strstr(text,
		"classification=\"success\",status_code=\"200\"} 1\n"));
	buf_release(&out);
	proxy_metrics_free(pm);
}
END_TEST

Suite *proxy_h2_suite(void)
{
	Suite *s = suite_create("proxy_h2");
	TCase *tc = tcase_create("helpers");

	tcase_add_test(tc, test_drop_field);
	tcase_add_test(tc, test_is_grpc);
	tcase_add_test(tc, test_fail_status);
	tcase_add_test(tc, test_pick);
	tcase_add_test(tc, test_metrics_grpc_status);
	suite_add_tcase(s, tc);
	return s;
}
