/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpd_fuzz.c - libFuzzer target for httpd.c: the bytes of a client
 * connection (requests, pipelined, with queries, headers and bodies) fed
 * over a socketpair in pieces to a server with small limits, whose routes
 * answer at once, as a stream, or read every accessor. The first byte
 * sets the piece size.
 *   make build/fuzz/bin/httpd
 *   build/fuzz/bin/httpd -max_total_time=60 test/fuzz/corpus/httpd
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct httpd *srv;

static void h_read_all(struct httpd_req *req, void *arg)
{
	volatile size_t x = 0;
	const char *n, *v;
	size_t len;

	(void)arg;
	for (size_t i = 0; i < httpd_req_query_count(req); i++) {
		httpd_req_query_at(req, i, &n, &v);
		x += strlen(n) + strlen(v);
	}
	for (size_t i = 0; i < httpd_req_header_count(req); i++) {
		httpd_req_header_at(req, i, &n, &v);
		x += strlen(n) + strlen(v);
	}
	x += strlen(httpd_req_body(req, &len)) + len;
	x += strlen(httpd_req_target(req)) + strlen(httpd_req_path(req));
	(void)httpd_req_query(req, "a");
	(void)httpd_req_header(req, "host");
	httpd_respond_text(req, 200, "ok\n");
}

static void h_stream(struct httpd_req *req, void *arg)
{
	(void)arg;
	if (httpd_stream_start(req, 200, "text/plain", NULL, 0))
		return;
	if (httpd_stream_write(req, "a\n", 2))
		return;
	httpd_stream_end(req);
}

static void init(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	srv = httpd_new(&(struct httpd_config){.loop = loop,
					       .max_head = 1024,
					       .max_headers = 16,
					       .max_body = 512,
					       .max_conns = 4,
					       .name = "fuzz"});
	httpd_route(srv, NULL, "/a", h_read_all, NULL);
	httpd_route_prefix(srv, "GET", "/s", h_stream, NULL);
	httpd_route(srv, "POST", "/p", h_read_all, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sink[65536];
	size_t piece, at = 1;
	int sv[2];

	if (!size)
		return 0;
	if (!loop)
		init();
	piece = (size_t)(data[0] % 64) + 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		abort();
	if (httpd_adopt(srv, sv[0], NULL))
		abort();
	while (at < size) {
		size_t n = size - at < piece ? size - at : piece;
		ssize_t w = write(sv[1], data + at, n);

		if (w <= 0)
			break;
		at += (size_t)w;
		ev_run(loop, EVRUN_NOWAIT);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 4; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
	}
	close(sv[1]);
	for (int i = 0; i < 2; i++)
		ev_run(loop, EVRUN_NOWAIT);
	if (httpd_conns(srv))
		abort(); /* the close was seen: nothing may stay open */
	return 0;
}
