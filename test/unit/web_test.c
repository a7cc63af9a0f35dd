/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web_test.c - unit tests for web.c: the Host check (and garbage in it),
 * the asset table and content types, --public-api-url parsing; then the
 * component in this process with our httpd as its public API and our
 * httpc as the browser: routing, 403, 404, 405, ETag/304, /api/ proxied
 * (a stream passed on line by line before it ends), 502 when the API is
 * down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/embed.h"
#include "conduit/httpc.h"
#include "conduit/httpd.h"
#include "conduit/web.h"
#include "suites.h"

/* --- the Host check ---------------------------------------------------------- */

static const char *const hosts[] = { "localhost", "conduit-web.conduit.svc",
				     "conduit-web.conduit.svc.cluster.local" };

START_TEST(test_host_allowed)
{
	static const char *const yes[] = {
		"localhost", "localhost:8084", "LocalHost:50750", "localhost.",
		"127.0.0.1", "127.0.0.1:8084", "10.1.2.3:80", "[::1]",
		"[::1]:8084", "[fe80::1]:1", "conduit-web.conduit.svc:8084",
		"conduit-web.conduit.svc.cluster.local",
		"CONDUIT-WEB.conduit.svc.cluster.local.:8084",
	};
	static const char *const no[] = {
		"", "evil.example.com", "evil.example.com:8084",
		"localhost.evil.com", "conduit-web.other.svc",
		"127.0.0.1.nip.io", "localhost:", "localhost:99999",
		"localhost:80x", "localhost:123456", "[::1", "[::1]x",
		"[127.0.0.1]:80", "[nope]:80", "local host", "localhost\r\n",
		"localhost/x", "::1", "conduit-web.conduit.svc.cluster",
		"xn--80ak6aa92e.com", ":8084", "localhost:8084:1",
	};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		ck_assert_msg(web_host_allowed(yes[i], hosts, ARRAY_SIZE(hosts)),
			      "%s refused", yes[i]);
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		ck_assert_msg(!web_host_allowed(no[i], hosts, ARRAY_SIZE(hosts)),
			      "%s allowed", no[i]);
	ck_assert(!web_host_allowed(NULL, hosts, ARRAY_SIZE(hosts)));
	/* no list: IP literals only; "*": anything well-formed */
	ck_assert(web_host_allowed("127.0.0.1:1", NULL, 0));
	ck_assert(!web_host_allowed("localhost", NULL, 0));
	{
		const char *star[] = { "*" };

		ck_assert(web_host_allowed("anything.example:1", star, 1));
		ck_assert(!web_host_allowed("bad host", star, 1));
	}
}
END_TEST

START_TEST(test_host_garbage)
{
	char s[600];
	unsigned seed = 7;

	/* random bytes, long names, lone brackets: an answer, never a crash */
	for (int round = 0; round < 5000; round++) {
		size_t n = (size_t)(rand_r(&seed) % (sizeof(s) - 1));

		for (size_t i = 0; i < n; i++)
			s[i] = (char)(1 + rand_r(&seed) % 255);
		s[n] = 0;
		(void)web_host_allowed(s, hosts, ARRAY_SIZE(hosts));
	}
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = 0;
	ck_assert(!web_host_allowed(s, hosts, ARRAY_SIZE(hosts)));
	s[0] = '[';
	ck_assert(!web_host_allowed(s, hosts, ARRAY_SIZE(hosts)));
}
END_TEST

START_TEST(test_default_hosts)
{
	char d[WEB_DEFAULT_HOSTS][WEB_HOST_MAX];

	ck_assert_uint_eq(web_default_hosts("mesh", "example.org", d), 3);
	ck_assert_str_eq(d[0], "localhost");
	ck_assert_str_eq(d[1], "conduit-web.mesh.svc");
	ck_assert_str_eq(d[2], "conduit-web.mesh.svc.example.org");
}
END_TEST

/* --- assets and the upstream flag --------------------------------------------- */

START_TEST(test_assets)
{
	const struct embed_file *f = web_asset("/");

	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->path, "web/index.html");
	ck_assert_ptr_eq(web_asset("/index.html"), f);
	ck_assert_ptr_nonnull(web_asset("/app.js"));
	ck_assert_ptr_nonnull(web_asset("/style.css"));
	ck_assert_ptr_nonnull(web_asset("/favicon.svg"));
	/* nothing outside web/, no traversal, no manifests */
	ck_assert_ptr_null(web_asset("/nope.html"));
	ck_assert_ptr_null(web_asset("/../manifests/install.yml"));
	ck_assert_ptr_null(web_asset("/web/index.html"));
	ck_assert_ptr_null(web_asset("//index.html"));
	ck_assert_ptr_null(web_asset("/.index.html"));
	ck_assert_ptr_null(web_asset("index.html"));
	ck_assert_ptr_null(web_asset(""));
	ck_assert_ptr_null(web_asset(NULL));
	ck_assert_str_eq(web_content_type("web/index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(web_content_type("web/app.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(web_content_type("web/style.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(web_content_type("web/favicon.svg"), "image/svg+xml");
	ck_assert_str_eq(web_content_type("web/x.bin"), "application/octet-stream");
	ck_assert_str_eq(web_content_type("noext"), "application/octet-stream");
}
END_TEST

START_TEST(test_parse_upstream)
{
	static const char *const bad[] = {
		"https://x:1", "ftp://x:1", "http://x", "http://x:0",
		"http://x:65536", "http://x:1/api", "http://:80", "x",
		"http://[::1:80", "http://[::1]", "http://x:80a", "",
		"http://a b:80", "http://a\"b:80", "http://a\nb:80",
	};
	char host[256], err[128];
	int port;

	ck_assert_int_eq(web_parse_upstream("http://conduit-api.conduit.svc.cluster.local:8085",
					    host, sizeof(host), &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "conduit-api.conduit.svc.cluster.local");
	ck_assert_int_eq(port, 8085);
	ck_assert_int_eq(web_parse_upstream("http://127.0.0.1:1/", host, sizeof(host),
					    &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(web_parse_upstream("[::1]:8085", host, sizeof(host), &port,
					    err, sizeof(err)), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 8085);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		ck_assert_msg(web_parse_upstream(bad[i], host, sizeof(host), &port,
						 err, sizeof(err)) == -EINVAL,
			      "%s accepted", bad[i]);
		ck_assert_msg(err[0], "no reason for %s", bad[i]);
	}
	ck_assert_int_eq(web_parse_upstream("http://aaaa:1", host, 4, &port, err,
					    sizeof(err)), -EINVAL);
}
END_TEST

/* --- the component, live ------------------------------------------------------ */

static struct ev_loop *loop;
static struct httpd *api;   /* plays the public API */
static struct web *web;
static struct sock_addr api_addr, web_addr;
static struct httpd_req *tap_req; /* the stream the fake API holds */
static struct metrics_registry *reg;

static struct {
	int done, status, err;
	char body[70000];
	size_t len;
	char ctype[80], etag[40], cache[40], allow[40];
	int lines_before_end; /* stream lines that arrived while open */
} got;

static void h_version(struct httpd_req *req, void *arg)
{
	const char *host = httpd_req_header(req, "host");
	char text[200];

	(void)arg;
	snprintf(text, sizeof(text), "{\"version\":\"test\",\"host\":\"%s\"}",
		 host ? host : "");
	httpd_respond_json(req, 200, text);
}

static void h_missing(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_respond_json(req, 404, "{\"error\":\"deployment/x not found\"}");
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents);
static ev_timer tick;
static int ticks;

static void h_tap(struct httpd_req *req, void *arg)
{
	(void)arg;
	tap_req = req;
	httpd_stream_start(req, 200, "application/x-ndjson", NULL, 0);
	ticks = 0;
	ev_timer_init(&tick, on_tick, 0.05, 0.05);
	ev_timer_start(loop, &tick);
}

/* the fake API writes a line every 50 ms, ends after 3 */
static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "{\"type\":\"req\",\"n\":%d}\n", ticks);

	(void)revents;
	if (ticks == 3) {
		ev_timer_stop(l, w);
		httpd_stream_end(tap_req);
		tap_req = NULL;
		return;
	}
	ticks++;
	httpd_stream_write(tap_req, line, (size_t)n);
}

static void on_head(struct httpc_call *c, const struct httpc_resp *r, void *arg)
{
	const char *v;

	(void)c;
	(void)arg;
	got.status = r->status;
	if ((v = httpc_resp_header(r, "content-type")))
		snprintf(got.ctype, sizeof(got.ctype), "%s", v);
}

static int on_data(struct httpc_call *c, const char *p, size_t n, void *arg)
{
	(void)c;
	(void)arg;
	if (got.len + n < sizeof(got.body)) {
		memcpy(got.body + got.len, p, n);
		got.len += n;
	}
	if (tap_req)
		got.lines_before_end++;
	return 0;
}

static void on_done(struct httpc_call *c, const struct httpc_resp *r, void *arg)
{
	const char *v;

	(void)c;
	(void)arg;
	got.done = 1;
	got.err = r->err;
	if (r->status)
		got.status = r->status;
	if (r->body_len && r->body_len < sizeof(got.body)) {
		memcpy(got.body, r->body, r->body_len);
		got.len = r->body_len;
	}
	got.body[got.len] = 0;
	if ((v = httpc_resp_header(r, "content-type")))
		snprintf(got.ctype, sizeof(got.ctype), "%s", v);
	if ((v = httpc_resp_header(r, "etag")))
		snprintf(got.etag, sizeof(got.etag), "%s", v);
	if ((v = httpc_resp_header(r, "cache-control")))
		snprintf(got.cache, sizeof(got.cache), "%s", v);
	if ((v = httpc_resp_header(r, "allow")))
		snprintf(got.allow, sizeof(got.allow), "%s", v);
	ev_break(loop, EVBREAK_ALL);
}

/* get - one request to the web component, run to its end */
static void get(const char *method, const char *path, const char *host,
		const char *inm, bool stream)
{
	struct httpc_config cc = { .loop = loop };
	struct httpc *cl = httpc_new(&cc);
	struct httpc_header h = { "If-None-Match", inm };
	struct httpc_req r = {
		.addr = web_addr,
		.method = method,
		.authority = host,
		.path = path,
		.headers = inm ? &h : NULL,
		.nheaders = inm ? 1 : 0,
		.timeout = 5,
		.flags = HTTPC_NO_REUSE | (stream ? HTTPC_LINES : 0),
		.on_done = on_done,
		.on_head = stream ? on_head : NULL,
		.on_data = stream ? on_data : NULL,
	};

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(httpc_request(cl, &r, NULL), 0);
	ev_run(loop, 0);
	ck_assert(got.done);
	httpc_free(cl);
}

static void setup(void)
{
	struct httpd_config hc = { 0 };
	struct web_config wc = { 0 };
	char err[64];

	loop = ev_loop_new(EVFLAG_AUTO);
	hc.loop = loop;
	api = httpd_new(&hc);
	httpd_route(api, "GET", "/api/v1/version", h_version, NULL);
	httpd_route(api, "GET", "/api/v1/stat", h_missing, NULL);
	httpd_route(api, "GET", "/api/v1/tap", h_tap, NULL);
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &api_addr, err, sizeof(err)), 0);
	ck_assert_int_eq(httpd_listen(api, &api_addr), 0);
	ck_assert_int_eq(httpd_local_addr(api, &api_addr), 0);
	wc.loop = loop;
	wc.api_addr = api_addr;
	wc.api_authority = "conduit-api.conduit.svc.cluster.local:8085";
	wc.controller_ns = "conduit";
	wc.cluster_domain = "cluster.local";
	wc.metrics = reg = metrics_registry_new();
	web = web_new(&wc);
	ck_assert_ptr_nonnull(web);
	ck_assert_int_eq(web_listen(web, &api_addr) , -EADDRINUSE);
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &web_addr, err, sizeof(err)), 0);
	ck_assert_int_eq(web_listen(web, &web_addr), 0);
	ck_assert_int_eq(web_local_addr(web, &web_addr), 0);
}

static void teardown(void)
{
	web_free(web);
	httpd_free(api);
	metrics_registry_free(reg);
	ev_loop_destroy(loop);
}

START_TEST(test_serves_assets)
{
	char tag[40];

	get("GET", "/", "localhost:8084", NULL, false);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(got.ctype, "text/html; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(got.body, "<script src=\"app.js\""));
	ck_assert_str_eq(got.cache, "no-cache");
	ck_assert_int_eq(got.etag[0], '"');
	snprintf(tag, sizeof(tag), "%s", got.etag);
	get("GET", "/index.html", "127.0.0.1:8084", tag, false);
	ck_assert_int_eq(got.status, 304);
	ck_assert_uint_eq(got.len, 0);
	get("GET", "/index.html", "127.0.0.1", "\"other\"", false);
	ck_assert_int_eq(got.status, 200);
	get("GET", "/app.js?v=1", "[::1]:8084", NULL, false);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(got.ctype, "text/javascript; charset=utf-8");
	ck_assert_str_ne(got.etag, tag);
	get("GET", "/style.css", "conduit-web.conduit.svc.cluster.local:8084", NULL, false);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(got.ctype, "text/css; charset=utf-8");
	get("HEAD", "/", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 200);
	ck_assert_uint_eq(got.len, 0);
}
END_TEST

START_TEST(test_refuses)
{
	get("GET", "/", "evil.example.com", NULL, false);
	ck_assert_int_eq(got.status, 403);
	get("GET", "/api/v1/version", "rebind.attacker.test:8084", NULL, false);
	ck_assert_int_eq(got.status, 403);
	get("GET", "/nope.html", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 404);
	get("GET", "/manifests/install.yml", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 404);
	get("POST", "/", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 405);
	get("DELETE", "/api/v1/version", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 405);
}
END_TEST

START_TEST(test_proxies_api)
{
	get("GET", "/api/v1/version", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(got.ctype, "application/json");
	/* the API is asked with its own name, not the browser's Host */
	ck_assert_str_eq(got.body,
			 "{\"version\":\"test\",\"host\":\"conduit-api.conduit.svc.cluster.local:8085\"}");
	ck_assert_str_eq(got.cache, "no-store");
	get("GET", "/api/v1/stat?resource=deployment&name=x", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 404);
	ck_assert_str_eq(got.body, "{\"error\":\"deployment/x not found\"}");
	get("GET", "/api/v1/nosuch", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 404);
	/* a stream is passed on as it comes, not when it ends */
	get("GET", "/api/v1/tap?resource=deployment", "localhost", NULL, true);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(got.ctype, "application/x-ndjson");
	ck_assert_int_eq(got.err, 0);
	ck_assert_int_ge(got.lines_before_end, 2);
	ck_assert_str_eq(got.body, "{\"type\":\"req\",\"n\":0}{\"type\":\"req\",\"n\":1}{\"type\":\"req\",\"n\":2}");
}
END_TEST

START_TEST(test_api_down)
{
	httpd_free(api); /* nobody listens there any more */
	api = NULL;
	get("GET", "/api/v1/version", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 502);
	ck_assert_str_eq(got.ctype, "application/json");
	ck_assert_ptr_nonnull(strstr(got.body, "{\"error\":\"cannot reach the public API at 127.0.0.1:"));
	/* the dashboard itself still loads, to say so */
	get("GET", "/", "localhost", NULL, false);
	ck_assert_int_eq(got.status, 200);
}
END_TEST

Suite *web_suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("pure");
	TCase *live = tcase_create("live");

	tcase_add_test(tc, test_host_allowed);
	tcase_add_test(tc, test_host_garbage);
	tcase_add_test(tc, test_default_hosts);
	tcase_add_test(tc, test_assets);
	tcase_add_test(tc, test_parse_upstream);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(live, setup, teardown);
	tcase_set_timeout(live, 20);
	tcase_add_test(live, test_serves_assets);
	tcase_add_test(live, test_refuses);
	tcase_add_test(live, test_proxies_api);
	tcase_add_test(live, test_api_down);
	suite_add_tcase(s, live);
	return s;
}
