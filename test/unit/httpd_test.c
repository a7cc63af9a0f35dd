/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpd_test.c - unit tests for httpd.c: a server on loopback in this
 * process, driven by raw sockets (so every byte on the wire is checked):
 * routing, 404/405, HEAD, queries, bodies, keep-alive and pipelining,
 * limits and timeouts, async answers, streams and their cancellation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/httpd.h"
#include "conduit/time.h"
#include "suites.h"

static struct ev_loop *loop;
static struct httpd *srv;
static struct sock_addr addr;

/* what the handlers saw or did */
static struct httpd_req *held; /* an async or streaming request */
static int cancels;
static int stream_err;
static int stream_sent;

static void h_hello(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_respond_text(req, 200, "hello\n");
}

static void h_query(struct httpd_req *req, void *arg)
{
	char text[256];
	const char *a = httpd_req_query(req, "a"),
		   *b = httpd_req_query(req, "b");
	const char *c = httpd_req_query(req, "c");

	(void)arg;
	snprintf(text, sizeof(text), "a=[%s] b=[%s] c=[%s] n=%zu path=%s",
		 a ? a : "-", b ? b : "-", c ? c : "-",
		 httpd_req_query_count(req), httpd_req_path(req));
	httpd_respond_text(req, 200, text);
}

static void h_echo(struct httpd_req *req, void *arg)
{
	size_t len;
	const char *body = httpd_req_body(req, &len);
	const char *ua = httpd_req_header(req, "x-who");
	struct httpd_header h[] = {{"X-Who", ua ? ua : "nobody"}};

	(void)arg;
	httpd_respond(req, 201, "application/octet-stream", h, 1, body, len);
}

static void h_files(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_respond_text(req, 200, httpd_req_path(req));
}

static void on_cancel(struct httpd_req *req, void *arg)
{
	(void)arg;
	ck_assert_ptr_eq(req, held);
	held = NULL;
	cancels++;
}

static void h_later(struct httpd_req *req, void *arg)
{
	(void)arg;
	held = req;
	httpd_req_on_cancel(req, on_cancel, NULL);
}

static void h_stream(struct httpd_req *req, void *arg)
{
	(void)arg;
	held = req;
	httpd_req_on_cancel(req, on_cancel, NULL);
	ck_assert_int_eq(
	    httpd_stream_start(req, 200, "application/json", NULL, 0), 0);
}

static void h_badheader(struct httpd_req *req, void *arg)
{
	struct httpd_header h[] = {{"X-Bad", "a\r\nInjected: yes"}};

	(void)arg;
	ck_assert_int_eq(httpd_respond(req, 200, "text/plain", h, 1, "x", 1),
			 -EINVAL);
}

static void start_server(struct httpd_config *cfg)
{
	char err[64];

	loop = ev_loop_new(EVFLAG_AUTO);
	cfg->loop = loop;
	srv = httpd_new(cfg);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(httpd_route(srv, "GET", "/hello", h_hello, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, "GET", "/q", h_query, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, "POST", "/echo", h_echo, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, "PUT", "/echo", h_echo, NULL), 0);
	ck_assert_int_eq(
	    httpd_route_prefix(srv, "GET", "/files/", h_files, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, "GET", "/later", h_later, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, "GET", "/stream", h_stream, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, NULL, "/bad", h_badheader, NULL), 0);
	ck_assert_int_eq(httpd_route(srv, "GET", "nope", h_hello, NULL),
			 -EINVAL);
	ck_assert_int_eq(
	    sock_addr_parse("127.0.0.1:0", &addr, err, sizeof(err)), 0);
	ck_assert_int_eq(httpd_listen(srv, &addr), 0);
	ck_assert_int_eq(httpd_listen(srv, &addr), -EALREADY);
	ck_assert_int_eq(httpd_local_addr(srv, &addr), 0);
	held = NULL;
	cancels = stream_err = stream_sent = 0;
}

static void setup(void)
{
	struct httpd_config cfg = {.name = "test"};

	start_server(&cfg);
}

static void teardown(void)
{
	httpd_free(srv);
	ev_loop_destroy(loop);
}

static int client(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, &addr.u.sa, addr.len), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_all(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static char got[256 << 10];
static size_t got_len;
static bool got_eof;

/*
 * pump - run the server's loop and read what fd receives, until `until`
 * appears in it (NULL: until EOF) or secs pass. Returns what came
 * (NUL-terminated, kept from earlier calls until reset_got()).
 */
static const char *pump(int fd, const char *until, double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);

	while (time_mono_ns() < end) {
		ssize_t n;

		ev_run(loop, EVRUN_NOWAIT);
		n = read(fd, got + got_len, sizeof(got) - 1 - got_len);
		if (n > 0) {
			got_len += (size_t)n;
			got[got_len] = 0;
		} else if (n == 0 || (n < 0 && errno != EAGAIN)) {
			got_eof = true;
			break;
		}
		if (until && strstr(got, until))
			break;
		if (n <= 0)
			usleep(1000);
	}
	got[got_len] = 0;
	return got;
}

static void reset_got(void)
{
	got_len = 0;
	got[0] = 0;
	got_eof = false;
}

static void run_for(double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);

	while (time_mono_ns() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

/* exchange - one request on a new connection, the answer until EOF or idle */
static const char *exchange(const char *request, const char *until)
{
	int fd = client();

	reset_got();
	send_all(fd, request);
	pump(fd, until, 2);
	close(fd);
	return got;
}

START_TEST(test_get_and_headers)
{
	const char *r =
	    exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", "hello\n");

	ck_assert_str_eq(r, "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Length: 6\r\n\r\nhello\n");
	r = exchange("GET /hello HTTP/1.0\r\n\r\n", NULL);
	ck_assert(strstr(r, "Connection: close\r\n"));
	ck_assert(strstr(r, "\r\n\r\nhello\n"));
	ck_assert(got_eof);
	ck_assert_uint_eq(httpd_requests(srv), 2);
	/* HTTP/1.0 asking for keep-alive gets it, and says so */
	{
		int fd = client();

		reset_got();
		send_all(
		    fd,
		    "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
		pump(fd, "hello\n", 2);
		ck_assert(strstr(got, "Connection: keep-alive\r\n"));
		send_all(fd, "GET /hello HTTP/1.0\r\n\r\n");
		pump(fd, NULL, 2);
		ck_assert(got_eof);
		ck_assert(strstr(got, "Connection: close\r\n\r\nhello\n"));
		close(fd);
	}
}
END_TEST

START_TEST(test_head_404_405)
{
	const char *r = exchange("HEAD /hello HTTP/1.1\r\nHost: x\r\n"
				 "Connection: close\r\n\r\n",
				 NULL);

	ck_assert(strstr(r, "Content-Length: 6\r\n"));
	ck_assert(str_has_suffix(r, "\r\n\r\n")); /* no body */
	r = exchange("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", "found\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 404 Not Found\r\n"));
	r = exchange("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n", "allowed\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
	ck_assert(strstr(r, "Allow: GET, HEAD\r\n"));
	r = exchange("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", "allowed\n");
	ck_assert(strstr(r, "Allow: POST, PUT\r\n"));
	/* a prefix route */
	r = exchange("GET /files/a/b.txt HTTP/1.1\r\nHost: x\r\n\r\n", "b.txt");
	ck_assert(strstr(r, "\r\n\r\n/files/a/b.txt"));
	r = exchange("GET /files HTTP/1.1\r\nHost: x\r\n\r\n", "found\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 404"));
}
END_TEST

START_TEST(test_query)
{
	const char *r =
	    exchange("GET /q?a=x%20y&b=1+2&c&=skip&&d=%zz HTTP/1.1\r\n"
		     "Host: x\r\n\r\n",
		     "path=");

	ck_assert(strstr(r, "a=[x y] b=[1 2] c=[] n=5 path=/q"));
	r = exchange("GET /q?a=%00 HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 400"));
}
END_TEST

START_TEST(test_url_decode)
{
	char out[32];

	ck_assert_int_eq(httpd_url_decode("a%41+b%2", 8, true, out), 6);
	ck_assert_str_eq(out, "aA b%2");
	ck_assert_int_eq(httpd_url_decode("a+b%3a", 6, false, out), 4);
	ck_assert_str_eq(out, "a+b:");
	ck_assert_int_eq(httpd_url_decode("%", 1, true, out), 1);
	ck_assert_int_eq(httpd_url_decode("x%00", 4, true, out), -EINVAL);
	ck_assert_int_eq(httpd_url_decode("", 0, true, out), 0);
}
END_TEST

START_TEST(test_bodies)
{
	const char *r =
	    exchange("POST /echo HTTP/1.1\r\nHost: x\r\nX-Who: me\r\n"
		     "Content-Length: 5\r\n\r\nabcde",
		     "abcde");

	ck_assert(str_has_prefix(r, "HTTP/1.1 201 Created\r\n"));
	ck_assert(strstr(r, "X-Who: me\r\nContent-Length: 5\r\n\r\nabcde"));
	r = exchange(
	    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
	    "abcde");
	ck_assert(strstr(r, "Content-Length: 5\r\n\r\nabcde"));
	/* Expect: 100-continue gets the go-ahead before the body */
	{
		int fd = client();

		reset_got();
		send_all(
		    fd,
		    "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
		    "Content-Length: 2\r\n\r\n");
		ck_assert_str_eq(pump(fd, "\r\n\r\n", 2),
				 "HTTP/1.1 100 Continue\r\n\r\n");
		send_all(fd, "ok");
		ck_assert(strstr(pump(fd, "\r\n\r\nok", 2), "201 Created"));
		close(fd);
	}
}
END_TEST

START_TEST(test_keepalive_pipelining)
{
	int fd = client();

	reset_got();
	send_all(fd,
		 "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET /q?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	pump(fd, NULL, 2);
	ck_assert(got_eof);
	ck_assert_str_eq(
	    got,
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 6\r\n\r\nhello\n"
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 29\r\n\r\na=[1] b=[-] c=[-] n=1 path=/q"
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 6\r\nConnection: close\r\n\r\nhello\n");
	close(fd);
	run_for(0.02);
	ck_assert_uint_eq(httpd_conns(srv), 0);
}
END_TEST

START_TEST(test_errors)
{
	char big[20000];
	const char *r;

	r = exchange(
	    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
	    "\r\n\r\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 413 Payload Too Large\r\n"));
	ck_assert(strstr(r, "Connection: close"));
	snprintf(big, sizeof(big), "GET /hello HTTP/1.1\r\nX-Big: %0*d\r\n\r\n",
		 18000, 0);
	r = exchange(big, "\r\n\r\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 431 "));
	r = exchange("GET / HTTP/1.1\r\nContent-Length: "
		     "1\r\nTransfer-Encoding: chunked\r\n\r\n",
		     "\r\n\r\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 400 Bad Request\r\n"));
	r = exchange("\x16\x03\x01\x00\x05hello", "\r\n\r\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 400 Bad Request\r\n"));
	/* a handler's bad header field: a 500, nothing injected */
	r = exchange("GET /bad HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n");
	ck_assert(str_has_prefix(r, "HTTP/1.1 500 "));
	ck_assert(!strstr(r, "Injected"));
}
END_TEST

START_TEST(test_request_timeout)
{
	struct httpd_config cfg = {.request_timeout = 0.2, .idle_timeout = 0.3};
	int64_t t0;
	int fd;

	teardown();
	start_server(&cfg);
	fd = client();
	reset_got();
	t0 = time_mono_ns();
	send_all(fd, "GET /hello HTTP/1.1\r\nHost:");
	pump(fd, NULL, 2);
	ck_assert(str_has_prefix(got, "HTTP/1.1 408 Request Timeout\r\n"));
	ck_assert_int_ge(time_mono_ns() - t0, 180 * NSEC_PER_MSEC);
	close(fd);
	/* an idle keep-alive connection is closed after idle_timeout */
	fd = client();
	reset_got();
	pump(fd, NULL, 2);
	ck_assert(got_eof);
	ck_assert_int_eq((int)got_len, 0);
	close(fd);
}
END_TEST

START_TEST(test_async_answer_in_order)
{
	int fd = client();

	reset_got();
	send_all(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	pump(fd, "never", 0.1);
	ck_assert_ptr_nonnull(held);
	ck_assert_int_eq((int)got_len, 0); /* /hello waits for /later */
	ck_assert_str_eq(httpd_req_path(held), "/later");
	ck_assert(sock_addr_is_loopback(httpd_req_peer(held)));
	httpd_respond_json(held, 200, "{\"late\":true}");
	held = NULL;
	pump(fd, "hello\n", 2);
	ck_assert(strstr(
	    got, "Content-Type: application/json\r\n"
		 "Content-Length: 13\r\n\r\n{\"late\":true}HTTP/1.1 200 OK"));
	close(fd);

	/* the client leaves first: on_cancel */
	fd = client();
	send_all(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	run_for(0.05);
	ck_assert_ptr_nonnull(held);
	close(fd);
	run_for(0.05);
	ck_assert_int_eq(cancels, 1);
	ck_assert_ptr_null(held);
}
END_TEST

START_TEST(test_stream)
{
	int fd = client();

	reset_got();
	send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	pump(fd, "\r\n\r\n", 1);
	ck_assert(strstr(got, "Transfer-Encoding: chunked\r\n"));
	ck_assert_ptr_nonnull(held);
	ck_assert_int_eq(httpd_stream_write(held, "{\"n\":1}\n", 8), 0);
	pump(fd, "}\n\r\n", 1);
	ck_assert(strstr(got, "\r\n\r\n8\r\n{\"n\":1}\n\r\n"));
	ck_assert_int_eq(httpd_stream_write(held, "{\"n\":2}\n", 8), 0);
	httpd_stream_end(held);
	held = NULL;
	pump(fd, "0\r\n\r\n", 1);
	ck_assert(strstr(got, "8\r\n{\"n\":2}\n\r\n0\r\n\r\n"));
	/* the connection goes on */
	reset_got();
	send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert(strstr(pump(fd, "hello\n", 1), "hello\n"));
	close(fd);

	/* the client closes a stream: on_cancel */
	fd = client();
	send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	run_for(0.05);
	ck_assert_ptr_nonnull(held);
	close(fd);
	run_for(0.05);
	ck_assert_int_eq(cancels, 1);
}
END_TEST

START_TEST(test_stream_slow_client_dropped)
{
	struct httpd_config cfg = {.max_stream_queue = 64 << 10};
	char chunk[4096];
	int fd, rcv = 4096, r = 0, i;

	teardown();
	start_server(&cfg);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	ck_assert_int_eq(connect(fd, &addr.u.sa, addr.len), 0);
	send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	run_for(0.05);
	ck_assert_ptr_nonnull(held);
	memset(chunk, 'x', sizeof(chunk));
	/* the client never reads: the queue fills and the stream fails */
	for (i = 0; i < 10000 && !r; i++) {
		r = httpd_stream_write(held, chunk, sizeof(chunk));
		ev_run(loop, EVRUN_NOWAIT);
	}
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_int_lt(i, 1000);    /* bounded: socket buffers + 64 KiB */
	ck_assert_int_eq(cancels, 0); /* a failed write is the end: no cancel */
	run_for(0.02);
	ck_assert_uint_eq(httpd_conns(srv), 0);
	close(fd);
}
END_TEST

START_TEST(test_max_conns_and_shutdown)
{
	struct httpd_config cfg = {.max_conns = 2};
	int a, b, c;

	teardown();
	start_server(&cfg);
	a = client();
	b = client();
	run_for(0.05);
	c = client();
	reset_got();
	pump(c, NULL, 1);
	ck_assert(got_eof); /* the third is closed at once */
	ck_assert_uint_eq(httpd_conns(srv), 2);
	close(c);
	/* shutdown: idle connections close, a busy one after its answer */
	send_all(b, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	run_for(0.05);
	ck_assert_ptr_nonnull(held);
	httpd_shutdown(srv);
	reset_got();
	pump(a, NULL, 1);
	ck_assert(got_eof);
	httpd_respond_text(held, 200, "bye\n");
	held = NULL;
	reset_got();
	pump(b, NULL, 1);
	ck_assert(strstr(got, "Connection: close\r\n\r\nbye\n"));
	ck_assert(got_eof);
	close(a);
	close(b);
}
END_TEST

START_TEST(test_answer_after_client_left)
{
	int fd = client();

	send_all(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	run_for(0.05);
	ck_assert_ptr_nonnull(held);
	/* no on_cancel: the request stays valid for a late answer */
	httpd_req_on_cancel(held, NULL, NULL);
	close(fd);
	run_for(0.05);
	ck_assert_int_eq(cancels, 0);
	ck_assert_str_eq(httpd_req_path(held), "/later");
	ck_assert_int_eq(httpd_respond_text(held, 200, "too late\n"), 0);
	held = NULL;
	run_for(0.02);
	ck_assert_uint_eq(httpd_conns(srv), 0);
}
END_TEST

Suite *httpd_suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_get_and_headers);
	tcase_add_test(tc, test_head_404_405);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_url_decode);
	tcase_add_test(tc, test_bodies);
	tcase_add_test(tc, test_keepalive_pipelining);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_request_timeout);
	tcase_add_test(tc, test_async_answer_in_order);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_stream_slow_client_dropped);
	tcase_add_test(tc, test_max_conns_and_shutdown);
	tcase_add_test(tc, test_answer_after_client_left);
	suite_add_tcase(s, tc);
	return s;
}
