/* SPDX-License-Identifier: Apache-2.0 */
/*
 * promql_test.c - unit tests for promql.c: query building and escaping,
 * URLs, vector answers and garbage, and whole fetches against our httpd
 * playing Prometheus in the same loop (answers, a PromQL error, garbage,
 * a refused port, a cancel).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/httpd.h"
#include "conduit/json.h"
#include "conduit/promql.h"
#include "suites.h"

START_TEST(test_duration)
{
	char b[32];

	ck_assert_int_eq(promql_duration(60, b, sizeof(b)), 0);
	ck_assert_str_eq(b, "60s");
	ck_assert_int_eq(promql_duration(3600, b, sizeof(b)), 0);
	ck_assert_str_eq(b, "3600s");
	ck_assert_int_eq(promql_duration(1.5, b, sizeof(b)), 0);
	ck_assert_str_eq(b, "1500ms");
	ck_assert_int_eq(promql_duration(0, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(promql_duration(-1, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(promql_duration(NAN, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(promql_duration(1e9, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(promql_duration(60, b, 3), -ENOSPC);
}
END_TEST

START_TEST(test_quote)
{
	char b[64];

	ck_assert_int_eq(promql_quote("demo", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "\"demo\"");
	ck_assert_int_eq(promql_quote("a\"b\\c\nd", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "\"a\\\"b\\\\c\\nd\"");
	ck_assert_int_eq(promql_quote("", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "\"\"");
	ck_assert_int_eq(promql_quote("demo", b, 6), -ENOSPC);
	ck_assert_int_eq(promql_quote("demo", b, 7), 0);
	ck_assert_int_eq(promql_quote("\"", b, 4), -ENOSPC);
}
END_TEST

START_TEST(test_delta)
{
	char b[512];

	ck_assert_int_eq(promql_delta("response_total",
				      "direction=\"inbound\"",
				      "namespace, pod", 60, b, sizeof(b)),
			 0);
	ck_assert_str_eq(b,
			 "(sum by (namespace, pod) (response_total{direction=\"inbound\"})"
			 " - sum by (namespace, pod) (response_total{direction=\"inbound\"} offset 60s)) >= 0"
			 " or sum by (namespace, pod) (response_total{direction=\"inbound\"})");
	ck_assert_int_eq(promql_delta("m", "", "pod", 0, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(promql_delta("m", "", "pod", 60, b, 20), -ENOSPC);
}
END_TEST

START_TEST(test_url_encode)
{
	char b[64];

	ck_assert_int_eq(promql_url_encode("up{a=\"b c\"}", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "up%7Ba%3D%22b%20c%22%7D");
	ck_assert_int_eq(promql_url_encode("a-b_c.d~", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "a-b_c.d~");
	ck_assert_int_eq(promql_url_encode("\xff", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "%FF");
	ck_assert_int_eq(promql_url_encode("abc", b, 3), -ENOSPC);
	ck_assert_int_eq(promql_url_encode("{", b, 3), -ENOSPC);
	ck_assert_int_eq(promql_url_encode("{", b, 4), 0);
}
END_TEST

START_TEST(test_url_parse)
{
	struct sock_addr a;
	char prefix[32], err[200], text[SOCK_ADDR_STRLEN];

	ck_assert_int_eq(promql_url_parse("http://127.0.0.1:9090", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 0);
	ck_assert_str_eq(sock_addr_format(&a, text, sizeof(text)), "127.0.0.1:9090");
	ck_assert_str_eq(prefix, "");
	ck_assert_int_eq(promql_url_parse("http://127.0.0.1:9090/prom//", &a,
					  prefix, sizeof(prefix), err, sizeof(err)),
			 0);
	ck_assert_str_eq(prefix, "/prom");
	ck_assert_int_eq(promql_url_parse("http://127.0.0.1", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 0);
	ck_assert_str_eq(sock_addr_format(&a, text, sizeof(text)), "127.0.0.1:80");
	ck_assert_int_eq(promql_url_parse("http://[::1]:9090/", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 0);
	ck_assert_str_eq(sock_addr_format(&a, text, sizeof(text)), "[::1]:9090");
	ck_assert_int_eq(promql_url_parse("https://127.0.0.1:9090", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "https is not supported"));
	ck_assert_int_eq(promql_url_parse("127.0.0.1:9090", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(promql_url_parse("http://", &a, prefix, sizeof(prefix),
					  err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(promql_url_parse("http://u@127.0.0.1:1", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(promql_url_parse("http://127.0.0.1:1/?q", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(promql_url_parse("http://127.0.0.1:99999", &a, prefix,
					  sizeof(prefix), err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(promql_url_parse("http://127.0.0.1:1/a-prefix-far-too-long-for-thirty-two-bytes",
					  &a, prefix, sizeof(prefix), err, sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(test_le_index)
{
	ck_assert_int_eq(promql_le_index("1"), 0);
	ck_assert_int_eq(promql_le_index("30"), 7);
	ck_assert_int_eq(promql_le_index("1e+04"), 20);
	ck_assert_int_eq(promql_le_index("10000.0"), 20);
	ck_assert_int_eq(promql_le_index("+Inf"), STATS_NBUCKETS - 1);
	ck_assert_int_eq(promql_le_index("7"), -1);
	ck_assert_int_eq(promql_le_index(""), -1);
	ck_assert_int_eq(promql_le_index("30ms"), -1);
}
END_TEST

/* collect - what a parse passed */
struct seen {
	int n;
	char pods[4][32];
	double values[4];
	int stop_at; /* non-zero: return 7 at that sample */
};

static int collect(void *arg, const struct promql_sample *s)
{
	struct seen *x = arg;
	const char *pod = promql_label(s, "pod");

	if (x->n < 4) {
		snprintf(x->pods[x->n], sizeof(x->pods[0]), "%s", pod ? pod : "-");
		x->values[x->n] = s->value;
	}
	x->n++;
	return x->stop_at && x->n == x->stop_at ? 7 : 0;
}

static int parse(const char *body, size_t max, struct seen *x, char *err,
		 size_t errlen)
{
	return promql_parse_vector(body, strlen(body), max, collect, x, err,
				   errlen);
}

START_TEST(test_parse_vector)
{
	const char *good =
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{\"namespace\":\"demo\",\"pod\":\"server-1\"},\"value\":[1700000000.5,\"100\"]},"
		"{\"metric\":{\"pod\":7},\"value\":[1700000000,\"NaN\"]},"
		"{\"metric\":{},\"value\":[1700000000,\"+Inf\"]}]}}";
	struct seen x = { 0 };
	char err[400];

	ck_assert_int_eq(parse(good, 10, &x, err, sizeof(err)), 0);
	ck_assert_int_eq(x.n, 3);
	ck_assert_str_eq(x.pods[0], "server-1");
	ck_assert_double_eq(x.values[0], 100);
	ck_assert_str_eq(x.pods[1], "-"); /* not a string: absent */
	ck_assert(isnan(x.values[1]));
	ck_assert(isinf(x.values[2]));

	memset(&x, 0, sizeof(x));
	x.stop_at = 2;
	ck_assert_int_eq(parse(good, 10, &x, err, sizeof(err)), 7);
	ck_assert_int_eq(x.n, 2);

	memset(&x, 0, sizeof(x));
	ck_assert_int_eq(parse(good, 2, &x, err, sizeof(err)), -E2BIG);
	ck_assert_int_eq(x.n, 0);
	ck_assert_ptr_nonnull(strstr(err, "3 series"));

	memset(&x, 0, sizeof(x));
	ck_assert_int_eq(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
			       10, &x, err, sizeof(err)),
			 0);
	ck_assert_int_eq(x.n, 0);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *const garbage[] = {
		"",
		"<html>404</html>",
		"{\"status\":\"success\"}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\"}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
		"{\"status\":\"weird\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
		"{\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
		"[1,2,3]",
		/* a matrix, a scalar */
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"2\"]}}",
		/* bad elements: the good first one is not passed either */
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,1]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,\"1x\"]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,\"\"]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":[],\"value\":[1,\"1\"]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[\"1\",\"1\"]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,\"1\",2]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{}}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		"{\"metric\":{},\"value\":[1,\"1\"]},7]}}",
	};
	struct seen x;
	char err[400];

	for (size_t i = 0; i < ARRAY_SIZE(garbage); i++) {
		memset(&x, 0, sizeof(x));
		err[0] = '\0';
		ck_assert_msg(parse(garbage[i], 10, &x, err, sizeof(err)) == -EPROTO,
			      "garbage %zu", i);
		ck_assert_msg(x.n == 0, "garbage %zu passed samples", i);
		ck_assert_msg(err[0], "garbage %zu: no reason", i);
	}
	memset(&x, 0, sizeof(x));
	ck_assert_int_eq(parse("{\"status\":\"error\",\"errorType\":\"bad_data\","
			       "\"error\":\"1:5: parse error: unexpected \\\"}\\\"\"}",
			       10, &x, err, sizeof(err)),
			 -EREMOTEIO);
	ck_assert_str_eq(err, "bad_data: 1:5: parse error: unexpected \"}\"");
	ck_assert_int_eq(parse("{\"status\":\"error\"}", 10, &x, err, sizeof(err)),
			 -EREMOTEIO);
	ck_assert_str_eq(err, "error: (no message)");
}
END_TEST

/* --- fetches against a Prometheus of our own -------------------------------- */

static struct ev_loop *loop;
static struct httpd *srv;
static struct sock_addr srv_addr;
static int mode;	   /* what the fake Prometheus answers */
static int queries;	   /* asked so far */
static char last_query[2048];

enum { ANSWER, PROMQL_ERROR, GARBAGE, SILENT };

static const char *vector(const char *result)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[%s]}}",
		 result);
	return buf;
}

/* h_query - answers by what the query asks */
static void h_query(struct httpd_req *req, void *arg)
{
	const char *q = httpd_req_query(req, "query");
	const char *body = vector("");

	(void)arg;
	queries++;
	snprintf(last_query, sizeof(last_query), "%s", q ? q : "");
	if (mode == SILENT)
		return; /* owned and never answered: the client times out */
	if (mode == GARBAGE) {
		httpd_respond_text(req, 200, "hello");
		return;
	}
	if (mode == PROMQL_ERROR) {
		httpd_respond_json(req, 400,
				   "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"nope\"}");
		return;
	}
	if (strstr(q, "response_total{direction=\"inbound\"") &&
	    strstr(q, "classification"))
		body = vector("{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\",\"classification\":\"success\"},\"value\":[1,\"80\"]},"
			      "{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\",\"classification\":\"failure\"},\"value\":[1,\"20\"]},"
			      "{\"metric\":{\"pod\":\"no-namespace\",\"classification\":\"success\"},\"value\":[1,\"5\"]},"
			      "{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-2\",\"classification\":\"success\"},\"value\":[1,\"-3\"]}");
	else if (strstr(q, "response_latency_ms_bucket{direction=\"inbound\""))
		body = vector("{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\",\"le\":\"20\"},\"value\":[1,\"0\"]},"
			      "{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\",\"le\":\"30\"},\"value\":[1,\"100\"]},"
			      "{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\",\"le\":\"+Inf\"},\"value\":[1,\"100\"]},"
			      "{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\",\"le\":\"7\"},\"value\":[1,\"100\"]}");
	else if (strstr(q, "tcp_open_connections"))
		body = vector("{\"metric\":{\"namespace\":\"demo\",\"pod\":\"s-1\"},\"value\":[1,\"3\"]}");
	else if (strstr(q, "up"))
		body = vector("{\"metric\":{\"namespace\":\"demo\",\"pod\":\"c-1\"},\"value\":[1,\"1\"]}");
	else if (strstr(q, "response_total{direction=\"outbound\""))
		body = vector("{\"metric\":{\"namespace\":\"demo\",\"pod\":\"c-1\",\"authority\":\"s.demo:80\",\"classification\":\"success\"},\"value\":[1,\"9\"]},"
			      "{\"metric\":{\"namespace\":\"demo\",\"pod\":\"c-1\",\"classification\":\"failure\"},\"value\":[1,\"1\"]}");
	httpd_respond_json(req, 200, body);
}

static void fetch_setup(void)
{
	char err[64];

	loop = ev_loop_new(EVFLAG_AUTO);
	srv = httpd_new(&(struct httpd_config){ .loop = loop });
	httpd_route(srv, "GET", "/prom/api/v1/query", h_query, NULL);
	sock_addr_parse("127.0.0.1:0", &srv_addr, err, sizeof(err));
	ck_assert_int_eq(httpd_listen(srv, &srv_addr), 0);
	httpd_local_addr(srv, &srv_addr);
	mode = ANSWER;
	queries = 0;
}

static void fetch_teardown(void)
{
	httpd_free(srv);
	ev_loop_destroy(loop);
}

/* the outcome of a fetch */
static struct {
	int done, status;
	char err[600];
	struct stats_window w_s1, w_c1;
	double out_req;
	char out_auth[2][64];
	int nout;
	size_t pods;
} got;

static void on_out(void *arg, const char *authority,
		   const struct stats_counts *c, double seconds)
{
	(void)arg;
	(void)seconds;
	if (got.nout < 2)
		snprintf(got.out_auth[got.nout], sizeof(got.out_auth[0]), "%s", authority);
	got.nout++;
	got.out_req += c->success + c->failure;
}

static void on_fetched(void *arg, struct stats_store *store, int status,
		       const char *err)
{
	(void)arg;
	got.done++;
	got.status = status;
	snprintf(got.err, sizeof(got.err), "%s", err ? err : "");
	if (store) {
		stats_pod_window(store, "demo/s-1", 60, &got.w_s1);
		stats_pod_window(store, "demo/c-1", 60, &got.w_c1);
		stats_pod_outbound(store, "demo/c-1", 60, on_out, NULL);
		got.pods = stats_pods(store);
	}
	ev_break(loop, EVBREAK_ALL);
}

static struct promql *client(int port, double timeout)
{
	char url[64], err[200];
	struct promql *p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/prom/", port);
	p = promql_new(&(struct promql_config){ .loop = loop, .url = url,
						.timeout = timeout },
		       err, sizeof(err));
	ck_assert_msg(p != NULL, "%s", err);
	ck_assert_str_eq(promql_url(p), url);
	return p;
}

static void on_guard(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

/* run_loop - until a fetch is over, at most 5 s */
static void run_loop(void)
{
	ev_timer guard;

	ev_timer_init(&guard, on_guard, 5, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	ev_timer_stop(loop, &guard);
}

START_TEST(test_fetch_inbound)
{
	struct promql *p = client(sock_addr_port(&srv_addr), 5);

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(promql_fetch(p, PROMQL_INBOUND, "demo", 60, on_fetched,
				      NULL, NULL),
			 0);
	ck_assert_int_eq(got.done, 0); /* never from inside */
	run_loop();
	ck_assert_int_eq(got.done, 1);
	ck_assert_int_eq(got.status, 200);
	ck_assert_int_eq(queries, 4);
	ck_assert(got.w_s1.has_data);
	ck_assert_double_eq(got.w_s1.seconds, 60);
	ck_assert_double_eq(got.w_s1.in.success, 80);
	ck_assert_double_eq(got.w_s1.in.failure, 20);
	ck_assert_double_eq(got.w_s1.in.buckets[7], 100);
	ck_assert_double_eq(got.w_s1.in.buckets[STATS_NBUCKETS - 1], 100);
	ck_assert_double_eq(got.w_s1.tcp_open, 3);
	/* no namespace, or a negative count (s-2): skipped */
	ck_assert_uint_eq(got.pods, 2);
	ck_assert_double_eq(stats_quantile(&got.w_s1.in, 0.5), 25);
	/* known from up alone: data, nothing counted */
	ck_assert(got.w_c1.has_data);
	ck_assert_double_eq(got.w_c1.in.success + got.w_c1.in.failure, 0);
	promql_free(p);
}
END_TEST

START_TEST(test_fetch_outbound)
{
	struct promql *p = client(sock_addr_port(&srv_addr), 5);

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(promql_fetch(p, PROMQL_OUTBOUND, NULL, 600, on_fetched,
				      NULL, NULL),
			 0);
	run_loop();
	ck_assert_int_eq(got.status, 200);
	ck_assert_int_eq(queries, 1);
	ck_assert_ptr_nonnull(strstr(last_query, "offset 600s"));
	ck_assert_int_eq(got.nout, 2);
	ck_assert_double_eq(got.out_req, 10);
	promql_free(p);
}
END_TEST

START_TEST(test_fetch_errors)
{
	struct promql *p = client(sock_addr_port(&srv_addr), 0.3);
	struct promql_fetch *f;
	struct promql *down;
	struct sock_addr a;
	char err[64];
	int fd;

	memset(&got, 0, sizeof(got));
	mode = PROMQL_ERROR;
	ck_assert_int_eq(promql_fetch(p, PROMQL_INBOUND, "de\"mo", 60, on_fetched,
				      NULL, NULL),
			 0);
	run_loop();
	ck_assert_int_eq(got.done, 1); /* once, though four failed */
	ck_assert_int_eq(got.status, 502);
	ck_assert_ptr_nonnull(strstr(got.err, "refused a query: bad_data: nope"));
	ck_assert_ptr_nonnull(strstr(last_query, "namespace=\"de\\\"mo\""));

	memset(&got, 0, sizeof(got));
	mode = GARBAGE;
	ck_assert_int_eq(promql_fetch(p, PROMQL_OUTBOUND, NULL, 60, on_fetched,
				      NULL, NULL),
			 0);
	run_loop();
	ck_assert_int_eq(got.status, 502);
	ck_assert_ptr_nonnull(strstr(got.err, "answered 200: not JSON"));

	memset(&got, 0, sizeof(got));
	mode = SILENT;
	ck_assert_int_eq(promql_fetch(p, PROMQL_OUTBOUND, NULL, 60, on_fetched,
				      NULL, NULL),
			 0);
	run_loop();
	ck_assert_int_eq(got.status, 503);
	ck_assert_ptr_nonnull(strstr(got.err, "did not answer in 0.3s"));

	/* a cancel: no callback */
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(promql_fetch(p, PROMQL_INBOUND, NULL, 60, on_fetched,
				      NULL, &f),
			 0);
	promql_fetch_cancel(f);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(got.done, 0);
	ck_assert_int_eq(promql_fetch(p, PROMQL_INBOUND, NULL, 0, on_fetched,
				      NULL, NULL),
			 -EINVAL);
	promql_free(p);

	/* nobody there: 503 naming the URL */
	sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err));
	fd = sock_listen(&a, 1, 0);
	ck_assert_int_ge(fd, 0);
	sock_local_addr(fd, &a);
	close(fd);
	down = client(sock_addr_port(&a), 2);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(promql_fetch(down, PROMQL_OUTBOUND, NULL, 60, on_fetched,
				      NULL, NULL),
			 0);
	run_loop();
	ck_assert_int_eq(got.status, 503);
	ck_assert_ptr_nonnull(strstr(got.err, "cannot reach Prometheus at http://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(got.err, "Connection refused"));
	promql_free(down);
}
END_TEST

Suite *promql_suite(void)
{
	Suite *s = suite_create("promql");
	TCase *tc = tcase_create("core");
	TCase *tf = tcase_create("fetch");

	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_delta);
	tcase_add_test(tc, test_url_encode);
	tcase_add_test(tc, test_url_parse);
	tcase_add_test(tc, test_le_index);
	tcase_add_test(tc, test_parse_vector);
	tcase_add_test(tc, test_parse_errors);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, fetch_setup, fetch_teardown);
	tcase_set_timeout(tf, 10);
	tcase_add_test(tf, test_fetch_inbound);
	tcase_add_test(tf, test_fetch_outbound);
	tcase_add_test(tf, test_fetch_errors);
	suite_add_tcase(s, tf);
	return s;
}
