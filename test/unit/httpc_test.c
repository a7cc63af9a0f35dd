/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpc_test.c - unit tests for httpc.c: the client against our httpd in
 * the same process and loop, and against raw sockets that answer what no
 * polite server would (a close after one answer, silence, a body to the
 * close, a refused port); httpc_run against a forked server.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conduit/httpc.h"
#include "conduit/httpd.h"
#include "conduit/time.h"
#include "suites.h"

static struct ev_loop *loop;
static struct httpd *srv;
static struct httpc *cl;
static struct sock_addr addr; /* the httpd */

/* the last outcome */
static struct {
	int done, err, status;
	char body[8192];
	char ctype[64];
	char lines[8][64];
	int nlines, heads;
	int64_t at;
	int cancel_after; /* lines */
} out;

static struct httpd_req *held;

static void h_hello(struct httpd_req *req, void *arg)
{
	const char *host = httpd_req_header(req, "host");
	const char *x = httpd_req_header(req, "x-test");
	char text[256];

	(void)arg;
	snprintf(text, sizeof(text), "hello %s %s %s", httpd_req_method(req),
		 host ? host : "-", x ? x : "-");
	httpd_respond_text(req, 200, text);
}

static void h_echo(struct httpd_req *req, void *arg)
{
	size_t len;
	const char *body = httpd_req_body(req, &len);

	(void)arg;
	httpd_respond(req, 200, "application/json", NULL, 0, body, len);
}

static void h_big(struct httpd_req *req, void *arg)
{
	static char big[100000];

	(void)arg;
	memset(big, 'b', sizeof(big));
	httpd_respond(req, 200, "text/plain", NULL, 0, big, sizeof(big));
}

static void h_stream(struct httpd_req *req, void *arg)
{
	(void)arg;
	held = req;
	httpd_stream_start(req, 200, "application/x-ndjson", NULL, 0);
	httpd_stream_write(req, "{\"n\":1}\n{\"n\":", 13);
	httpd_stream_write(req, "2}\r\n", 4);
}

static void setup(void)
{
	char err[64];

	loop = ev_loop_new(EVFLAG_AUTO);
	srv = httpd_new(&(struct httpd_config){.loop = loop, .name = "srv"});
	httpd_route(srv, "GET", "/hello", h_hello, NULL);
	httpd_route(srv, "POST", "/echo", h_echo, NULL);
	httpd_route(srv, "GET", "/big", h_big, NULL);
	httpd_route(srv, "GET", "/stream", h_stream, NULL);
	ck_assert_int_eq(
	    sock_addr_parse("127.0.0.1:0", &addr, err, sizeof(err)), 0);
	ck_assert_int_eq(httpd_listen(srv, &addr), 0);
	httpd_local_addr(srv, &addr);
	cl = httpc_new(&(struct httpc_config){.loop = loop});
	ck_assert_ptr_nonnull(cl);
	memset(&out, 0, sizeof(out));
	held = NULL;
}

static void teardown(void)
{
	httpc_free(cl);
	httpd_free(srv);
	ev_loop_destroy(loop);
}

static void on_done(struct httpc_call *call, const struct httpc_resp *resp,
		    void *arg)
{
	const char *ct = httpc_resp_header(resp, "Content-Type");

	(void)call;
	(void)arg;
	out.done++;
	out.err = resp->err;
	out.status = resp->status;
	out.at = time_mono_ns();
	snprintf(out.body, sizeof(out.body), "%.*s", (int)resp->body_len,
		 resp->body);
	snprintf(out.ctype, sizeof(out.ctype), "%s", ct ? ct : "");
}

static void on_head(struct httpc_call *call, const struct httpc_resp *resp,
		    void *arg)
{
	(void)call;
	(void)arg;
	out.heads++;
	out.status = resp->status;
}

static int on_line(struct httpc_call *call, const char *p, size_t n, void *arg)
{
	(void)call;
	(void)arg;
	ck_assert_int_lt(out.nlines, 8);
	snprintf(out.lines[out.nlines++], 64, "%.*s", (int)n, p);
	return out.cancel_after && out.nlines == out.cancel_after;
}

/* wait - run the loop until n outcomes arrived, or secs */
static void wait_done(int n, double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);

	while (out.done < n && time_mono_ns() < end)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(200);
}

static void run_for(double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);

	while (time_mono_ns() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
}

static struct httpc_req req_to(const char *method, const char *path)
{
	return (struct httpc_req){
	    .addr = addr,
	    .method = method,
	    .path = path,
	    .on_done = on_done,
	    .timeout = 2,
	};
}

START_TEST(test_get_post_and_reuse)
{
	struct httpc_header h[] = {{"X-Test", "yes"}};
	struct httpc_req r = req_to("GET", "/hello");

	r.authority = "web-svc.emojivoto:80";
	r.headers = h;
	r.nheaders = 1;
	ck_assert_int_eq(httpc_request(cl, &r, NULL), 0);
	ck_assert_int_eq(out.done, 0); /* never from inside the call */
	wait_done(1, 2);
	ck_assert_int_eq(out.err, 0);
	ck_assert_int_eq(out.status, 200);
	ck_assert_str_eq(out.body, "hello GET web-svc.emojivoto:80 yes");
	ck_assert_str_eq(out.ctype, "text/plain; charset=utf-8");
	ck_assert_uint_eq(httpc_idle(cl), 1);

	r = req_to("POST", "/echo");
	r.body = "{\"a\":1}";
	r.body_len = 7;
	ck_assert_int_eq(httpc_request(cl, &r, NULL), 0);
	wait_done(2, 2);
	ck_assert_int_eq(out.status, 200);
	ck_assert_str_eq(out.body, "{\"a\":1}");
	/* both on one connection; without Host, the address names it */
	r = req_to("GET", "/hello");
	ck_assert_int_eq(httpc_request(cl, &r, NULL), 0);
	wait_done(3, 2);
	ck_assert(strstr(out.body, "hello GET 127.0.0.1:"));
	ck_assert_uint_eq(httpd_conns(srv), 1);
	ck_assert_uint_eq(httpc_calls(cl), 0);

	/* HEAD: no body whatever Content-Length says */
	r = req_to("HEAD", "/hello");
	ck_assert_int_eq(httpc_request(cl, &r, NULL), 0);
	wait_done(4, 2);
	ck_assert_int_eq(out.status, 200);
	ck_assert_str_eq(out.body, "");
	/* 404 is an answer, not an error */
	r = req_to("GET", "/nope");
	httpc_request(cl, &r, NULL);
	wait_done(5, 2);
	ck_assert_int_eq(out.err, 0);
	ck_assert_int_eq(out.status, 404);
}
END_TEST

START_TEST(test_bad_requests)
{
	struct httpc_header h[] = {{"X-Evil", "a\r\nb: c"}};
	struct httpc_req r = req_to("GET", "/hello");

	r.headers = h;
	r.nheaders = 1;
	ck_assert_int_eq(httpc_request(cl, &r, NULL), -EINVAL);
	r = req_to("GET", "hello");
	ck_assert_int_eq(httpc_request(cl, &r, NULL), -EINVAL);
	r = req_to("GET", "/a b");
	ck_assert_int_eq(httpc_request(cl, &r, NULL), -EINVAL);
	r = req_to("GET", "/");
	r.on_done = NULL;
	ck_assert_int_eq(httpc_request(cl, &r, NULL), -EINVAL);
	ck_assert_uint_eq(httpc_calls(cl), 0);
}
END_TEST

START_TEST(test_refused_and_max_body)
{
	struct httpc_req r = req_to("GET", "/big");
	struct sock_addr closed;
	char err[64];
	int fd;

	r.max_body = 1000;
	httpc_request(cl, &r, NULL);
	wait_done(1, 2);
	ck_assert_int_eq(out.err, -EMSGSIZE);
	r.max_body = 0;
	httpc_request(cl, &r, NULL);
	wait_done(2, 2);
	ck_assert_int_eq(out.err, 0);
	ck_assert_uint_eq(strlen(out.body), sizeof(out.body) - 1);

	/* a port nobody listens on: bind one, close it */
	sock_addr_parse("127.0.0.1:0", &closed, err, sizeof(err));
	fd = sock_listen(&closed, 1, 0);
	sock_local_addr(fd, &closed);
	close(fd);
	r = req_to("GET", "/");
	r.addr = closed;
	ck_assert_int_eq(httpc_request(cl, &r, NULL), 0);
	ck_assert_int_eq(out.done, 2);
	wait_done(3, 2);
	ck_assert_int_eq(out.err, -ECONNREFUSED);
	ck_assert_int_eq(out.status, 0);
}
END_TEST

/* a raw server: accepts, answers each request with `answer`, then closes
 * the connection when close_after */
static struct {
	int lfd;
	int fds[4];
	int nfds;
	const char *answer;
	bool close_after;
	bool silent;
	ev_io w;
} raw;

static void raw_serve(void)
{
	char buf[4096];

	for (;;) {
		int fd = accept4(raw.lfd, NULL, NULL, SOCK_NONBLOCK);

		if (fd < 0)
			break;
		ck_assert_int_lt(raw.nfds, 4);
		raw.fds[raw.nfds++] = fd;
	}
	for (int i = 0; i < raw.nfds; i++) {
		ssize_t n;

		if (raw.fds[i] < 0)
			continue;
		n = read(raw.fds[i], buf, sizeof(buf));
		if (n > 0 && !raw.silent) {
			ck_assert_int_gt(
			    write(raw.fds[i], raw.answer, strlen(raw.answer)),
			    0);
			if (raw.close_after) {
				close(raw.fds[i]);
				raw.fds[i] = -1;
			}
		}
	}
}

static void on_raw(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	raw_serve();
}

static ev_timer raw_tick;

static void on_raw_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	raw_serve();
}

static struct sock_addr raw_start(const char *answer, bool close_after)
{
	struct sock_addr a;
	char err[64];

	memset(&raw, 0, sizeof(raw));
	raw.answer = answer;
	raw.close_after = close_after;
	sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err));
	raw.lfd = sock_listen(&a, 8, 0);
	ck_assert_int_ge(raw.lfd, 0);
	sock_local_addr(raw.lfd, &a);
	ev_io_init(&raw.w, on_raw, raw.lfd, EV_READ);
	ev_io_start(loop, &raw.w);
	ev_timer_init(&raw_tick, on_raw_tick, 0.005, 0.005);
	ev_timer_start(loop, &raw_tick);
	return a;
}

static void raw_stop(void)
{
	ev_io_stop(loop, &raw.w);
	ev_timer_stop(loop, &raw_tick);
	close(raw.lfd);
	for (int i = 0; i < raw.nfds; i++)
		if (raw.fds[i] >= 0)
			close(raw.fds[i]);
}

START_TEST(test_stale_connection_retried)
{
	struct httpc_req r = req_to("GET", "/");

	r.addr =
	    raw_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
	httpc_request(cl, &r, NULL);
	wait_done(1, 2);
	ck_assert_int_eq(out.status, 200);
	ck_assert_str_eq(out.body, "ok");
	ck_assert_uint_eq(httpc_idle(cl), 1);
	/* the server drops the idle connection; the client has not seen it
	 * yet when the next request goes out on it */
	close(raw.fds[0]);
	raw.fds[0] = -1;
	httpc_request(cl, &r, NULL);
	wait_done(2, 2);
	ck_assert_int_eq(out.err, 0);
	ck_assert_int_eq(out.status, 200);
	ck_assert_int_eq(raw.nfds, 2); /* a second connection */
	/* not for POST: that one fails */
	close(raw.fds[1]);
	raw.fds[1] = -1;
	r.method = "POST";
	httpc_request(cl, &r, NULL);
	wait_done(3, 2);
	ck_assert_int_lt(out.err, 0);
	raw_stop();
}
END_TEST

START_TEST(test_answers_of_every_shape)
{
	struct httpc_req r = req_to("GET", "/");

	/* a body that runs to the close */
	r.addr = raw_start(
	    "HTTP/1.0 200 OK\r\nContent-Type: text/x\r\n\r\nto the end", true);
	httpc_request(cl, &r, NULL);
	wait_done(1, 2);
	ck_assert_int_eq(out.err, 0);
	ck_assert_str_eq(out.body, "to the end");
	ck_assert_str_eq(out.ctype, "text/x");
	ck_assert_uint_eq(httpc_idle(cl), 0);
	raw_stop();
	/* chunked, after a 100 Continue */
	r.addr = raw_start(
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
	    false);
	httpc_request(cl, &r, NULL);
	wait_done(2, 2);
	ck_assert_int_eq(out.status, 201);
	ck_assert_str_eq(out.body, "abcd");
	raw_stop();
	/* not HTTP */
	r.addr = raw_start("SSH-2.0-OpenSSH\r\n", false);
	httpc_request(cl, &r, NULL);
	wait_done(3, 2);
	ck_assert_int_eq(out.err, -EPROTO);
	raw_stop();
	/* cut short */
	r.addr =
	    raw_start("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);
	httpc_request(cl, &r, NULL);
	wait_done(4, 2);
	ck_assert_int_eq(out.err, -ECONNRESET);
	raw_stop();
}
END_TEST

START_TEST(test_timeout)
{
	struct httpc_req r = req_to("GET", "/");
	int64_t t0 = time_mono_ns();

	r.addr = raw_start("", false);
	raw.silent = true;
	r.timeout = 0.2;
	httpc_request(cl, &r, NULL);
	wait_done(1, 2);
	ck_assert_int_eq(out.err, -ETIMEDOUT);
	ck_assert_int_ge(out.at - t0, 190 * NSEC_PER_MSEC);
	ck_assert_int_lt(out.at - t0, 1000 * NSEC_PER_MSEC);
	raw_stop();
}
END_TEST

START_TEST(test_stream_lines_and_cancel)
{
	struct httpc_req r = req_to("GET", "/stream");
	struct httpc_call *call;

	r.on_head = on_head;
	r.on_data = on_line;
	r.flags = HTTPC_LINES;
	r.timeout = 0.2;
	ck_assert_int_eq(httpc_request(cl, &r, &call), 0);
	run_for(0.05);
	ck_assert_int_eq(out.heads, 1);
	ck_assert_int_eq(out.status, 200);
	ck_assert_int_eq(out.nlines, 2);
	ck_assert_str_eq(out.lines[0], "{\"n\":1}");
	ck_assert_str_eq(out.lines[1], "{\"n\":2}");
	/* the deadline was for the head: the stream lives on */
	run_for(0.3);
	ck_assert_int_eq(out.done, 0);
	httpd_stream_write(held, "last", 4);
	httpd_stream_end(held);
	held = NULL;
	wait_done(1, 2);
	ck_assert_int_eq(out.err, 0);
	ck_assert_int_eq(out.nlines, 3);
	ck_assert_str_eq(out.lines[2], "last");

	/* on_data says stop: cancelled, no on_done; the server sees it go */
	memset(&out, 0, sizeof(out));
	out.cancel_after = 1;
	ck_assert_int_eq(httpc_request(cl, &r, &call), 0);
	run_for(0.05);
	ck_assert_int_eq(out.nlines, 1);
	ck_assert_int_eq(out.done, 0);
	ck_assert_uint_eq(httpc_calls(cl), 0);
	ck_assert_int_eq(httpd_stream_write(held, "x\n", 2), -EPIPE);
	held = NULL;

	/* httpc_cancel from outside */
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(httpc_request(cl, &r, &call), 0);
	run_for(0.02);
	httpc_cancel(call);
	run_for(0.05);
	ck_assert_int_eq(out.done, 0);
	ck_assert_uint_eq(httpc_calls(cl), 0);
}
END_TEST

static int count_chunks(struct httpc_call *call, const char *p, size_t n,
			void *arg)
{
	(void)call;
	(void)p;
	*(size_t *)arg += n;
	return 0;
}

static void on_child_stop(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

START_TEST(test_run_on_private_loop)
{
	struct httpc_result res;
	struct httpc_req r = req_to("GET", "/hello");
	pid_t pid;
	size_t streamed = 0;

	/* the server in a child: httpc_run blocks this process */
	httpc_free(cl);
	cl = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ev_timer stop;

		ev_loop_fork(loop);
		ev_timer_init(&stop, on_child_stop, 5, 0);
		ev_timer_start(loop, &stop);
		ev_run(loop, 0);
		_exit(0);
	}
	r.on_done = NULL;
	ck_assert_int_eq(httpc_run(&r, &res), 0);
	ck_assert_int_eq(res.status, 200);
	ck_assert(str_has_prefix(res.body, "hello GET"));
	ck_assert_str_eq(res.content_type, "text/plain; charset=utf-8");
	httpc_result_release(&res);
	r.path = "/big";
	r.on_data = count_chunks;
	r.arg = &streamed;
	ck_assert_int_eq(httpc_run(&r, &res), 0);
	ck_assert_int_eq(res.status, 200);
	ck_assert_uint_eq(streamed, 100000);
	httpc_result_release(&res);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cl = httpc_new(&(struct httpc_config){.loop = loop});
}
END_TEST

Suite *httpc_suite(void)
{
	Suite *s = suite_create("httpc");
	TCase *tc = tcase_create("client");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_get_post_and_reuse);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_refused_and_max_body);
	tcase_add_test(tc, test_stale_connection_retried);
	tcase_add_test(tc, test_answers_of_every_shape);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_stream_lines_and_cancel);
	tcase_add_test(tc, test_run_on_private_loop);
	suite_add_tcase(s, tc);
	return s;
}
