/* SPDX-License-Identifier: Apache-2.0 */
/* stats_test.c - unit tests for stats.c: windows, resets, quantiles */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conduit/metrics.h"
#include "conduit/stats.h"
#include "suites.h"

/* scrape - a /metrics text with ok/fail inbound responses, all in the
 * 10 ms bucket (le 10 and above), and out requests to a.b:80 */
static void scrape(struct stats_store *s, const char *key, double t, int ok,
		   int fail, int out)
{
	char text[4096];
	size_t n = 0;
	char err[128];

	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "# TYPE response_total counter\n"
			      "response_total{direction=\"inbound\",classification=\"success\",status_code=\"200\"} %d\n"
			      "response_total{direction=\"inbound\",classification=\"failure\",status_code=\"500\"} %d\n"
			      "response_total{direction=\"outbound\",authority=\"a.b:80\",classification=\"success\"} %d\n"
			      "tcp_open_connections{direction=\"inbound\",peer=\"src\"} 3\n"
			      "tcp_open_connections{direction=\"inbound\",peer=\"dst\"} 7\n",
			      ok, fail, out);
	for (size_t i = 0; i < metrics_latency_ms_nbounds; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "response_latency_ms_bucket{direction=\"inbound\",le=\"%g\"} %d\n",
				      metrics_latency_ms_bounds[i],
				      metrics_latency_ms_bounds[i] >= 10 ? ok + fail : 0);
	snprintf(text + n, sizeof(text) - n,
		 "response_latency_ms_bucket{direction=\"inbound\",le=\"+Inf\"} %d\n",
		 ok + fail);
	ck_assert_int_eq(stats_ingest(s, key, t, text, strlen(text), err,
				      sizeof(err)),
			 0);
}

static double seen_out;

static void on_out(void *arg, const char *authority, const struct stats_counts *c,
		   double seconds)
{
	(void)arg;
	ck_assert_str_eq(authority, "a.b:80");
	seen_out = (c->success + c->failure) / seconds;
}

START_TEST(test_windows)
{
	struct stats_store *s = stats_store_new(400);
	struct stats_window w;

	stats_pod_window(s, "ns/p", 60, &w);
	ck_assert(!w.has_data);
	scrape(s, "ns/p", 100, 0, 0, 0);
	stats_pod_window(s, "ns/p", 60, &w);
	ck_assert(!w.has_data); /* one scrape spans no time */
	for (int i = 1; i <= 12; i++)
		scrape(s, "ns/p", 100 + 10 * i, 90 * i, 10 * i, 20 * i);
	/* 1m: from t=160 to t=220: 540 ok, 60 failed */
	stats_pod_window(s, "ns/p", 60, &w);
	ck_assert(w.has_data);
	ck_assert_double_eq(w.seconds, 60);
	ck_assert_double_eq(w.in.success, 540);
	ck_assert_double_eq(w.in.failure, 60);
	ck_assert_double_eq(w.tcp_open, 3);
	/* 1h: everything since the first scrape */
	stats_pod_window(s, "ns/p", 3600, &w);
	ck_assert_double_eq(w.seconds, 120);
	ck_assert_double_eq(w.in.success, 1080);
	stats_pod_outbound(s, "ns/p", 60, on_out, NULL);
	ck_assert_double_eq(seen_out, 2); /* 120 in 60 s */
	/* a proxy restart: the counters start again from zero */
	scrape(s, "ns/p", 230, 5, 0, 0);
	stats_pod_window(s, "ns/p", 10, &w);
	ck_assert_double_eq(w.in.success, 5);
	ck_assert_double_eq(w.in.failure, 0);
	stats_forget(s, "ns/p");
	ck_assert_uint_eq(stats_pods(s), 0);
	stats_store_free(s);
}
END_TEST

START_TEST(test_ring_bounded)
{
	struct stats_store *s = stats_store_new(5);
	struct stats_window w;

	for (int i = 0; i < 50; i++)
		scrape(s, "ns/p", i, i, 0, 0);
	/* only the last 5 kept: the widest window spans 4 intervals */
	stats_pod_window(s, "ns/p", 3600, &w);
	ck_assert_double_eq(w.seconds, 4);
	ck_assert_double_eq(w.in.success, 4);
	stats_store_free(s);
}
END_TEST

START_TEST(test_quantiles)
{
	struct stats_counts c;

	memset(&c, 0, sizeof(c));
	ck_assert(isnan(stats_quantile(&c, 0.5)));
	/* 100 requests: 50 in (0,1], 50 in (10,20] */
	for (int i = 0; i < STATS_NBUCKETS; i++)
		c.buckets[i] = i == 0 ? 50 : i < 6 ? 50 : 100;
	ck_assert_double_eq_tol(stats_quantile(&c, 0.5), 1, 1e-9);
	ck_assert_double_eq_tol(stats_quantile(&c, 0.75), 15, 1e-9);
	ck_assert_double_eq_tol(stats_quantile(&c, 0.99), 19.8, 1e-9);
	/* everything over the last bound: the last finite bound */
	memset(&c, 0, sizeof(c));
	c.buckets[STATS_NBUCKETS - 1] = 10;
	ck_assert_double_eq(stats_quantile(&c, 0.5), 50000);
}
END_TEST

START_TEST(test_garbage)
{
	struct stats_store *s = stats_store_new(10);
	char err[128];

	ck_assert_int_eq(stats_ingest(s, "ns/p", 1, "<html>oops</html>", 17,
				      err, sizeof(err)),
			 -EINVAL);
	ck_assert_uint_eq(stats_pods(s), 0);
	/* odd values are ignored, not stored */
	{
		const char *t =
			"response_total{direction=\"inbound\",classification=\"success\"} NaN\n"
			"response_total{direction=\"inbound\",classification=\"success\"} -4\n"
			"response_latency_ms_bucket{direction=\"inbound\",le=\"7\"} 9\n";
		struct stats_window w;

		ck_assert_int_eq(stats_ingest(s, "ns/p", 1, t, strlen(t), err,
					      sizeof(err)),
				 0);
		ck_assert_int_eq(stats_ingest(s, "ns/p", 2, t, strlen(t), err,
					      sizeof(err)),
				 0);
		stats_pod_window(s, "ns/p", 10, &w);
		ck_assert(w.has_data);
		ck_assert_double_eq(w.in.success, 0);
		ck_assert_double_eq(w.in.buckets[STATS_NBUCKETS - 1], 0);
	}
	stats_store_free(s);
}
END_TEST

/* stats_put: figures computed elsewhere read back through the queries */
static void count_out(void *arg, const char *authority,
		      const struct stats_counts *c, double seconds)
{
	double *n = arg;

	ck_assert_str_eq(authority, "a.b:80");
	ck_assert_double_eq(seconds, 60);
	*n += c->success + c->failure;
}

START_TEST(test_put)
{
	struct stats_store *s = stats_store_new(2);
	struct stats_counts c = { .success = 8, .failure = 2 };
	struct stats_window w;
	double out = 0;

	c.buckets[6] = 10;
	c.buckets[STATS_NBUCKETS - 1] = 10;
	stats_put(s, "ns/p", 60, NULL, &c, 0);
	stats_put(s, "ns/p", 60, NULL, &c, 0);
	stats_put(s, "ns/p", 60, NULL, NULL, 3);
	stats_put(s, "ns/p", 60, "a.b:80", &c, 99);
	stats_put(s, "ns/idle", 60, NULL, NULL, 0);
	ck_assert_uint_eq(stats_pods(s), 2);
	stats_pod_window(s, "ns/p", 10, &w);
	ck_assert(w.has_data);
	ck_assert_double_eq(w.seconds, 60);
	ck_assert_double_eq(w.in.success, 16);
	ck_assert_double_eq(w.in.failure, 4);
	ck_assert_double_eq(w.in.buckets[6], 20);
	ck_assert_double_eq(w.tcp_open, 3); /* the outbound's 99 ignored */
	stats_pod_outbound(s, "ns/p", 3600, count_out, &out);
	ck_assert_double_eq(out, 10);
	stats_pod_window(s, "ns/idle", 60, &w);
	ck_assert(w.has_data);
	ck_assert_double_eq(w.in.success + w.in.failure, 0);
	stats_pod_window(s, "ns/nosuch", 60, &w);
	ck_assert(!w.has_data);
	stats_store_free(s);
}
END_TEST

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_windows);
	tcase_add_test(tc, test_ring_bounded);
	tcase_add_test(tc, test_quantiles);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_put);
	suite_add_tcase(s, tc);
	return s;
}
