/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2_fuzz.c - libFuzzer target for h2.c over its memory transport: the
 * input is what the peer sends, fed in pieces to a server (or, by the
 * first byte, a client with requests in flight), whose owner answers
 * every request with headers, body and trailers, resets some streams,
 * consumes under manual flow control and drains the output now and then.
 * Limits are small so the header, queue and flood bounds trip too.
 *   make B=build build/fuzz/bin/h2
 *   build/fuzz/bin/h2 -max_total_time=60 test/fuzz/corpus/h2
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/h2.h"
#include "conduit/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned ctl; /* the first byte: knobs */
static int events;

static void touch(const void *p, size_t n)
{
	volatile uint8_t x = 0;

	for (size_t i = 0; i < n; i++)
		x ^= ((const uint8_t *)p)[i];
	(void)x;
}

static void on_headers(struct h2_stream *s, enum h2_head kind,
		       const struct h2_header *h, size_t n, bool end)
{
	static const struct h2_header resp[] = {
	    H2_HEADER(":status", "200"),
	    H2_HEADER("content-type", "application/grpc"),
	};
	static const struct h2_header tr[] = {
	    H2_HEADER("grpc-status", "0"),
	};

	(void)end;
	for (size_t i = 0; i < n; i++) {
		touch(h[i].name, h[i].name_len + 1);
		touch(h[i].value, h[i].value_len + 1);
	}
	(void)h2_header_find(h, n, ":path");
	if (kind != H2_HEAD_REQUEST)
		return;
	events++;
	if ((ctl & 0x10) && (events & 3) == 0) {
		h2_stream_reset(s, H2_CANCEL);
		return;
	}
	h2_stream_respond(s, resp, 2, 0);
	h2_stream_write(s, "\0\0\0\0\5hello", 10);
	if (!(ctl & 0x20))
		h2_stream_end(s, tr, 1);
}

static void on_data(struct h2_stream *s, const uint8_t *p, size_t n)
{
	touch(p, n);
	/* echo what fits, acknowledge it */
	h2_stream_write(s, p, MIN(n, h2_stream_send_room(s)));
	if (ctl & 0x04)
		h2_stream_consume(s, h2_stream_unconsumed(s));
}

static void on_end(struct h2_stream *s)
{
	if (ctl & 0x20)
		h2_stream_end(s, NULL, 0);
}

static void on_sent(struct h2_stream *s, size_t n)
{
	(void)s;
	(void)n;
}

static void on_stream_close(struct h2_stream *s, uint32_t error)
{
	(void)s;
	(void)h2_error_name(error);
}

static void on_goaway(struct h2_conn *c, uint32_t last, uint32_t error)
{
	(void)c;
	(void)last;
	(void)error;
}

static bool closed;

static void on_close(struct h2_conn *c, int err)
{
	(void)err;
	(void)h2_conn_reason(c);
	closed = true;
}

static const struct h2_callbacks cbs = {
    .on_headers = on_headers,
    .on_data = on_data,
    .on_end = on_end,
    .on_sent = on_sent,
    .on_stream_close = on_stream_close,
    .on_goaway = on_goaway,
    .on_close = on_close,
};

static void drain(struct h2_conn *c)
{
	const uint8_t *p;
	size_t n = h2_conn_output(c, &p);

	touch(p, n);
	h2_conn_output_consume(c, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_config cfg = {.cb = &cbs};
	struct h2_conn *c;
	size_t at = 1, piece;

	if (!size)
		return 0;
	log_set_level(LOG_ERROR);
	ctl = data[0];
	events = 0;
	closed = false;
	cfg.role = ctl & 0x01 ? H2_CLIENT : H2_SERVER;
	cfg.lim.manual_flow = ctl & 0x04;
	cfg.lim.max_header_list = ctl & 0x08 ? 512 : 0;
	cfg.lim.max_header_fields = ctl & 0x08 ? 8 : 0;
	cfg.lim.stream_send_max = 64;
	cfg.lim.conn_send_max = ctl & 0x40 ? 256 : 4096;
	cfg.lim.max_streams = 8;
	cfg.lim.stream_window = 1024;
	cfg.lim.max_errors = 4;
	cfg.lim.max_early_resets = 4;
	piece = ((ctl >> 1) & 1) ? 7 : 1024;
	c = h2_conn_new(&cfg, -1);
	if (!c)
		return 0;
	if (cfg.role == H2_CLIENT) {
		static const struct h2_header req[] = {
		    H2_HEADER(":method", "POST"),
		    H2_HEADER(":scheme", "http"),
		    H2_HEADER(":authority", "fuzz"),
		    H2_HEADER(":path", "/a.B/C"),
		};
		struct h2_stream *s;

		for (int i = 0; i < 3; i++) {
			if (!h2_conn_request(c, req, 4, i == 2 ? H2_END : 0,
					     NULL, &s) &&
			    i == 0) {
				h2_stream_write(s, "\0\0\0\0\1x", 6);
				h2_stream_end(s, NULL, 0);
			}
		}
	}
	drain(c);
	while (at < size && !closed) {
		size_t n = MIN(piece, size - at);
		ssize_t used = h2_conn_input(c, data + at, n);

		if (used < 0)
			break;
		if (!used) {
			/* the output is full, or the connection is ending:
			 * take the output and try once more */
			drain(c);
			used = h2_conn_input(c, data + at, n);
			if (used <= 0)
				break;
		}
		at += (size_t)used;
		if (ctl & 0x80)
			drain(c);
	}
	drain(c);
	if (!closed && (ctl & 0x02))
		h2_conn_shutdown(c);
	drain(c);
	h2_conn_free(c);
	return 0;
}
