/* SPDX-License-Identifier: Apache-2.0 */
/* metrics_test.c - unit tests for metrics.c */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/metrics.h"
#include "suites.h"

static char *render(struct metrics_registry *r)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(metrics_write_text(r, &b), 0);
	s = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}

START_TEST(test_counters_and_gauges)
{
	static const char *const names[] = { "direction", "peer" };
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *open, *conns;
	struct metrics_series *in_src, *out_dst, *g;
	char *text;

	/* registered and created out of order: output is sorted anyway */
	open = metrics_family_new(r, METRICS_COUNTER, "tcp_open_total",
				  "Total count of opened connections.", names,
				  2, NULL, 0);
	conns = metrics_family_new(r, METRICS_GAUGE, "tcp_open_connections",
				   "Open now.", names, 2, NULL, 0);
	ck_assert_ptr_nonnull(open);
	ck_assert_ptr_nonnull(conns);
	out_dst = metrics_series_get(open,
				     (const char *const[]){ "outbound", "dst" });
	in_src = metrics_series_get(open,
				    (const char *const[]){ "inbound", "src" });
	ck_assert_ptr_eq(metrics_series_get(open, (const char *const[]){
						    "inbound", "src" }),
			 in_src);
	ck_assert_ptr_ne(in_src, out_dst);
	metrics_counter_inc(in_src);
	metrics_counter_add(in_src, 2);
	metrics_counter_add(out_dst, 1048576);
	g = metrics_series_get(conns, (const char *const[]){ "inbound", "src" });
	metrics_gauge_add(g, 3);
	metrics_gauge_add(g, -1);
	ck_assert_uint_eq(metrics_series_count(open), 2);

	text = render(r);
	ck_assert_str_eq(text,
			 "# HELP tcp_open_connections Open now.\n"
			 "# TYPE tcp_open_connections gauge\n"
			 "tcp_open_connections{direction=\"inbound\",peer=\"src\"} 2\n"
			 "# HELP tcp_open_total Total count of opened connections.\n"
			 "# TYPE tcp_open_total counter\n"
			 "tcp_open_total{direction=\"inbound\",peer=\"src\"} 3\n"
			 "tcp_open_total{direction=\"outbound\",peer=\"dst\"} 1048576\n");
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_no_labels_and_empty_family)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *f;
	char *text;

	f = metrics_family_new(r, METRICS_GAUGE, "up", "Up.", NULL, 0, NULL, 0);
	metrics_family_new(r, METRICS_COUNTER, "never_total", "No series.",
			   NULL, 0, NULL, 0);
	metrics_gauge_set(metrics_series_get(f, NULL), 1);
	text = render(r);
	/* a family without series writes nothing, not even HELP */
	ck_assert_str_eq(text, "# HELP up Up.\n# TYPE up gauge\nup 1\n");
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_escaping)
{
	static const char *const names[] = { "v" };
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *f;
	char *text;

	f = metrics_family_new(r, METRICS_COUNTER, "x_total",
			       "Back\\slash and\nnewline \"quotes\" stay.", names,
			       1, NULL, 0);
	metrics_counter_inc(metrics_series_get(
		f, (const char *const[]){ "a\"b\\c\nd" }));
	/* not UTF-8: replaced, as Prometheus refuses such a value */
	metrics_counter_inc(metrics_series_get(
		f, (const char *const[]){ "bad\xff\xc3" }));
	/* UTF-8 passes unchanged */
	metrics_counter_inc(metrics_series_get(
		f, (const char *const[]){ "caf\xc3\xa9" }));
	metrics_counter_inc(metrics_series_get(f, (const char *const[]){ "" }));
	text = render(r);
	ck_assert_str_eq(text,
			 "# HELP x_total Back\\\\slash and\\nnewline \"quotes\" stay.\n"
			 "# TYPE x_total counter\n"
			 "x_total 1\n"
			 "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"
			 "x_total{v=\"bad\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"
			 "x_total{v=\"caf\xc3\xa9\"} 1\n");
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_histogram_buckets)
{
	static const char *const names[] = { "direction" };
	static const double bounds[] = { 1, 5, 10 };
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *f;
	struct metrics_series *s;
	char *text;

	f = metrics_family_new(r, METRICS_HISTOGRAM, "lat_ms", "Latency.",
			       names, 1, bounds, 3);
	ck_assert_ptr_nonnull(f);
	s = metrics_series_get(f, (const char *const[]){ "inbound" });
	metrics_histogram_observe(s, 0);     /* le 1 */
	metrics_histogram_observe(s, 1);     /* le 1: a bound is inclusive */
	metrics_histogram_observe(s, 1.5);   /* le 5 */
	metrics_histogram_observe(s, 5);     /* le 5 */
	metrics_histogram_observe(s, 10);    /* le 10 */
	metrics_histogram_observe(s, 10.01); /* +Inf */
	metrics_histogram_observe(s, 1e9);   /* +Inf */
	ck_assert_uint_eq(s->buckets[0], 2);
	ck_assert_uint_eq(s->buckets[1], 2);
	ck_assert_uint_eq(s->buckets[2], 1);
	ck_assert_uint_eq(s->buckets[3], 2);
	ck_assert_uint_eq(s->count, 7);
	text = render(r);
	ck_assert_str_eq(text,
			 "# HELP lat_ms Latency.\n"
			 "# TYPE lat_ms histogram\n"
			 "lat_ms_bucket{direction=\"inbound\",le=\"1\"} 2\n"
			 "lat_ms_bucket{direction=\"inbound\",le=\"5\"} 4\n"
			 "lat_ms_bucket{direction=\"inbound\",le=\"10\"} 5\n"
			 "lat_ms_bucket{direction=\"inbound\",le=\"+Inf\"} 7\n"
			 "lat_ms_sum{direction=\"inbound\"} 1000000027.51\n"
			 "lat_ms_count{direction=\"inbound\"} 7\n");
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_histogram_latency_bounds)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *f;
	struct metrics_series *s;
	char *text, *p;
	static const char *const want[] = {
		"1", "2", "3", "4", "5", "10", "20", "30", "40", "50",
		"100", "200", "300", "400", "500", "1000", "2000", "3000",
		"4000", "5000", "10000", "20000", "30000", "40000", "50000",
		"+Inf",
	};
	size_t i = 0;

	/* NULL bounds: Linkerd's response_latency_ms buckets */
	f = metrics_family_new(r, METRICS_HISTOGRAM, "response_latency_ms",
			       "Elapsed times.", NULL, 0, NULL, 0);
	s = metrics_series_get(f, NULL);
	for (int v = 0; v <= 60000; v += 250)
		metrics_histogram_observe(s, v);
	ck_assert_uint_eq(metrics_latency_ms_nbounds, 25);
	text = render(r);
	/* every bucket line in order, cumulative counts never decreasing */
	unsigned long long last = 0;
	for (p = strstr(text, "_bucket{"); p; p = strstr(p + 1, "_bucket{")) {
		char le[32];
		unsigned long long n;

		ck_assert_int_eq(sscanf(p, "_bucket{le=\"%31[^\"]\"} %llu", le, &n),
				 2);
		ck_assert_uint_lt(i, ARRAY_SIZE(want));
		ck_assert_str_eq(le, want[i]);
		ck_assert_uint_ge(n, last);
		last = n;
		i++;
	}
	ck_assert_uint_eq(i, ARRAY_SIZE(want));
	ck_assert_uint_eq(last, 241);
	ck_assert_ptr_nonnull(strstr(text, "response_latency_ms_count 241\n"));
	/* 0 lands in le="1"; 250 in le="300"; 60000 only in +Inf */
	ck_assert_ptr_nonnull(strstr(text, "response_latency_ms_bucket{le=\"1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "response_latency_ms_bucket{le=\"300\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "response_latency_ms_bucket{le=\"50000\"} 201\n"));
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_registration_errors)
{
	static const char *const le[] = { "le" };
	static const char *const dup[] = { "a", "a" };
	static const char *const bad[] = { "__reserved" };
	static const double down[] = { 5, 1 };
	struct metrics_registry *r = metrics_registry_new();

	ck_assert_ptr_nonnull(metrics_family_new(r, METRICS_COUNTER, "a_total",
						 "", NULL, 0, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_GAUGE, "a_total", "",
					      NULL, 0, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_GAUGE, "1abc", "",
					      NULL, 0, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_GAUGE, "a-b", "",
					      NULL, 0, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_HISTOGRAM, "h", "",
					      le, 1, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_GAUGE, "g", "", dup,
					      2, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_GAUGE, "g", "", bad,
					      1, NULL, 0));
	ck_assert_ptr_null(metrics_family_new(r, METRICS_HISTOGRAM, "h", "",
					      NULL, 0, down, 2));
	ck_assert_ptr_nonnull(metrics_family_find(r, "a_total"));
	ck_assert_ptr_null(metrics_family_find(r, "g"));
	ck_assert(metrics_valid_name("a:b_c1"));
	ck_assert(!metrics_valid_label_name("a:b"));
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_max_series)
{
	static const char *const names[] = { "n" };
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *f;
	struct metrics_series *a, *b, *c;
	char *text;

	f = metrics_family_new(r, METRICS_COUNTER, "c_total", "C.", names, 1,
			       NULL, 0);
	metrics_family_set_max_series(f, 2);
	a = metrics_series_get(f, (const char *const[]){ "1" });
	b = metrics_series_get(f, (const char *const[]){ "2" });
	c = metrics_series_get(f, (const char *const[]){ "3" });
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_ne(c, a);
	ck_assert_ptr_ne(c, b);
	/* the overflow series takes updates and is never written */
	metrics_counter_add(c, 5);
	ck_assert_ptr_eq(metrics_series_get(f, (const char *const[]){ "4" }), c);
	ck_assert_uint_eq(metrics_series_count(f), 2);
	text = render(r);
	ck_assert_str_eq(text, "# HELP c_total C.\n# TYPE c_total counter\n"
			       "c_total{n=\"1\"} 0\nc_total{n=\"2\"} 0\n");
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_format_value)
{
	char b[40];

	ck_assert_str_eq(metrics_format_value(0, b, sizeof(b)), "0");
	ck_assert_str_eq(metrics_format_value(-0.0, b, sizeof(b)), "0");
	ck_assert_str_eq(metrics_format_value(42, b, sizeof(b)), "42");
	ck_assert_str_eq(metrics_format_value(-3, b, sizeof(b)), "-3");
	ck_assert_str_eq(metrics_format_value(104857600, b, sizeof(b)),
			 "104857600");
	ck_assert_str_eq(metrics_format_value(9007199254740991.0, b, sizeof(b)),
			 "9007199254740991");
	ck_assert_str_eq(metrics_format_value(0.1, b, sizeof(b)), "0.1");
	ck_assert_str_eq(metrics_format_value(0.25, b, sizeof(b)), "0.25");
	ck_assert_str_eq(metrics_format_value(1.0 / 3, b, sizeof(b)),
			 "0.3333333333333333");
	ck_assert_str_eq(metrics_format_value(1e300, b, sizeof(b)), "1e+300");
	ck_assert_str_eq(metrics_format_value(NAN, b, sizeof(b)), "NaN");
	ck_assert_str_eq(metrics_format_value(INFINITY, b, sizeof(b)), "+Inf");
	ck_assert_str_eq(metrics_format_value(-INFINITY, b, sizeof(b)), "-Inf");
}
END_TEST

START_TEST(test_process_metrics)
{
	struct metrics_registry *r = metrics_registry_new();
	char *text, *p;
	double rss = 0, start = 0;

	ck_assert_int_eq(metrics_register_process(r), 0);
	ck_assert_int_eq(metrics_register_process(r), -EEXIST);
	text = render(r);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nprocess_open_fds "));
	ck_assert_ptr_nonnull(strstr(text, "\nprocess_max_fds "));
	p = strstr(text, "\nprocess_resident_memory_bytes ");
	ck_assert_ptr_nonnull(p);
	rss = strtod(p + strlen("\nprocess_resident_memory_bytes "), NULL);
	ck_assert(rss > 100000);
	p = strstr(text, "\nprocess_start_time_seconds ");
	ck_assert_ptr_nonnull(p);
	start = strtod(p + strlen("\nprocess_start_time_seconds "), NULL);
	ck_assert(start > 1.6e9);
	free(text);
	metrics_registry_free(r);
}
END_TEST

START_TEST(test_output_limit)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_family *f;
	struct buf b;

	f = metrics_family_new(r, METRICS_GAUGE, "a_long_metric_name",
			       "Some help text.", NULL, 0, NULL, 0);
	metrics_series_get(f, NULL);
	buf_init(&b, 16);
	ck_assert_int_eq(metrics_write_text(r, &b), -ENOBUFS);
	buf_release(&b);
	metrics_registry_free(r);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_counters_and_gauges);
	tcase_add_test(tc, test_no_labels_and_empty_family);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_histogram_buckets);
	tcase_add_test(tc, test_histogram_latency_bounds);
	tcase_add_test(tc, test_registration_errors);
	tcase_add_test(tc, test_max_series);
	tcase_add_test(tc, test_format_value);
	tcase_add_test(tc, test_process_metrics);
	tcase_add_test(tc, test_output_limit);
	suite_add_tcase(s, tc);
	return s;
}
