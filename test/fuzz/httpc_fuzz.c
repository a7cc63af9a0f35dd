/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpc_fuzz.c - libFuzzer target for httpc.c: whatever a server answers
 * (status lines, headers, chunked, length or to-the-close bodies, 1xx,
 * garbage), written in pieces over loopback, to a whole-answer call or a
 * line stream with a small max_body. The call must end exactly once.
 * The first byte picks the mode and the piece size.
 *   make build/fuzz/bin/httpc
 *   build/fuzz/bin/httpc -max_total_time=60 test/fuzz/corpus/httpc
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct httpc *cl;
static struct sock_addr addr;
static int lfd = -1;
static int done;

static void on_done(struct httpc_call *call, const struct httpc_resp *resp,
		    void *arg)
{
	volatile size_t x = 0;

	(void)call;
	(void)arg;
	done++;
	if (resp->body_len > 300 || strlen(resp->body) > resp->body_len)
		abort();
	for (size_t i = 0; i < resp->nheaders; i++)
		x += strlen(resp->headers[i].name) +
		     strlen(resp->headers[i].value);
}

static int on_data(struct httpc_call *call, const char *p, size_t n, void *arg)
{
	volatile char x = 0;

	(void)call;
	(void)arg;
	if (n > 300)
		abort();
	for (size_t i = 0; i < n; i++)
		x ^= p[i];
	return n == 7; /* a cancel from inside is a path too */
}

static void init(void)
{
	char err[64];

	loop = ev_loop_new(EVFLAG_AUTO);
	cl = httpc_new(&(struct httpc_config){.loop = loop, .name = "fuzz"});
	sock_addr_parse("127.0.0.1:0", &addr, err, sizeof(err));
	lfd = sock_listen(&addr, 16, 0);
	if (lfd < 0)
		abort();
	sock_local_addr(lfd, &addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpc_req r = {.method = "GET",
			      .path = "/",
			      .timeout = 2,
			      .max_body = 300,
			      .on_done = on_done,
			      .flags = HTTPC_NO_REUSE};
	char sink[4096];
	size_t piece, at = 1;
	bool stream;
	int fd = -1;

	if (!size)
		return 0;
	if (!loop)
		init();
	stream = data[0] & 1;
	piece = (size_t)(data[0] >> 1) + 1;
	if (data[0] & 0x80)
		r.method = "HEAD";
	if (stream) {
		r.on_data = on_data;
		r.flags |= HTTPC_LINES;
	}
	r.addr = addr;
	done = 0;
	if (httpc_request(cl, &r, NULL))
		abort();
	for (int i = 0; i < 1000 && fd < 0; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		fd = accept(lfd, NULL, NULL);
	}
	if (fd < 0)
		abort();
	while (read(fd, sink, sizeof(sink)) <= 0)
		ev_run(loop, EVRUN_NOWAIT);
	while (at < size && httpc_calls(cl)) {
		size_t n = size - at < piece ? size - at : piece;
		ssize_t w = write(fd, data + at, n);

		if (w <= 0)
			break;
		at += (size_t)w;
		ev_run(loop, EVRUN_NOWAIT);
	}
	close(fd);
	for (int i = 0; i < 1000 && httpc_calls(cl); i++)
		ev_run(loop, EVRUN_ONCE);
	if (httpc_calls(cl) || done > 1)
		abort();
	ev_run(loop, EVRUN_NOWAIT);
	return 0;
}
