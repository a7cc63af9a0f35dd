/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http1_fuzz.c - libFuzzer target for the HTTP/1 message parser (http1.c)
 *
 * The first byte picks requests or responses and the read size; the rest
 * is fed the way a connection would: in pieces, keeping what was not
 * consumed. Every accessor is read at each event, and limits are small so
 * the error paths run too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/http1.h"

static void touch(const struct http1_str *s)
{
	volatile char c = 0;

	for (size_t i = 0; i < s->len; i++)
		c ^= s->p[i];
	(void)c;
}

static void read_head(struct http1_parser *p)
{
	struct http1_str t = http1_target(p), n, v;

	touch(&t);
	(void)http1_method(p);
	(void)http1_status(p);
	(void)http1_version(p);
	(void)http1_content_length(p);
	(void)http1_chunked(p);
	(void)http1_keep_alive(p);
	(void)http1_header_get(p, "content-length", &v);
	for (size_t i = 0; i < http1_header_count(p); i++) {
		http1_header_at(p, i, &n, &v);
		touch(&n);
		touch(&v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_limits lim = { .max_head = 512, .max_headers = 8,
				    .max_body = 256 };
	struct http1_parser *p;
	char pending[4096];
	size_t have = 0, at = 1, piece;
	uint8_t ctl;

	if (!size)
		return 0;
	ctl = data[0];
	piece = (ctl >> 1 & 0x1f) + 1; /* 1..32 bytes per read */
	p = http1_parser_new(ctl & 1 ? HTTP1_RESPONSE : HTTP1_REQUEST, &lim);
	if (ctl & 0x40)
		http1_expect_no_body(p);
	while (at < size) {
		size_t n = size - at < piece ? size - at : piece;

		if (have + n > sizeof(pending))
			break;
		memcpy(pending + have, data + at, n);
		have += n;
		at += n;
		for (;;) {
			struct http1_event ev;
			ssize_t used = http1_parse(p, pending, have, &ev);

			if (used < 0)
				goto out;
			if ((size_t)used > have)
				abort();
			if (ev.type == HTTP1_HEAD)
				read_head(p);
			if (ev.type == HTTP1_BODY) {
				struct http1_str b = { ev.body, ev.body_len };

				/* a body piece lies inside what was fed */
				if (ev.body < pending ||
				    ev.body + ev.body_len > pending + have)
					abort();
				touch(&b);
			}
			if (ev.type == HTTP1_DONE) {
				struct http1_str n2, v;

				for (size_t i = 0; i < http1_trailer_count(p); i++) {
					http1_trailer_at(p, i, &n2, &v);
					touch(&n2);
					touch(&v);
				}
				(void)http1_upgrade(p);
			}
			memmove(pending, pending + used, have - (size_t)used);
			have -= (size_t)used;
			if (ev.type == HTTP1_NONE)
				break;
		}
	}
	{
		struct http1_event ev;

		(void)http1_finish(p, &ev);
	}
out:
	http1_parser_free(p);
	return 0;
}
