/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc_frame_fuzz.c - libFuzzer target for grpc.c's byte parsers: the
 * incremental message reader (fed in pieces; every message it hands over
 * lies within its bound, and the pieces add up), grpc_frame_unpack() into
 * the destination API's Update (the message a proxy reads from the
 * network most), grpc-timeout values, and percent-decoding (with encode
 * then decode giving back the input).
 *   make B=build build/fuzz/bin/grpc_frame
 *   build/fuzz/bin/grpc_frame -max_total_time=60 test/fuzz/corpus/grpc_frame
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/grpc.h"
#include "destination.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t msgs, bytes, max;
};

static int on_message(void *arg, const uint8_t *msg, size_t len)
{
	struct seen *s = arg;
	volatile uint8_t x = 0;

	BUG_ON(len > s->max);
	for (size_t i = 0; i < len; i++)
		x ^= msg[i];
	s->msgs++;
	s->bytes += len + GRPC_FRAME_HEADER;
	return s->msgs > 64; /* stopping is a path too */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grpc_reader r;
	struct seen seen = {0};
	size_t at, piece;
	struct buf a, b;
	int64_t ns;
	int rv = 0;

	if (!size)
		return 0;
	piece = (data[0] & 0x1f) + 1;
	seen.max = data[0] & 0x20 ? 64 : 4096;

	/* the reader, in pieces */
	grpc_reader_init(&r, seen.max);
	for (at = 1; at < size && !rv; at += piece)
		rv = grpc_reader_feed(&r, data + at, MIN(piece, size - at),
				      on_message, &seen);
	if (!rv)
		BUG_ON(seen.bytes > size - 1);
	(void)grpc_reader_partial(&r);
	grpc_reader_release(&r);

	/* one framed Update, as the proxy's destination client reads it */
	for (at = 1; at < size;) {
		ProtobufCMessage *m;
		ssize_t n = grpc_frame_unpack(
		    &io__linkerd__proxy__destination__update__descriptor,
		    data + at, size - at, 1u << 16, &m);

		if (n <= 0)
			break;
		BUG_ON(!m || (size_t)n > size - at);
		protobuf_c_message_free_unpacked(m, NULL);
		at += (size_t)n;
	}

	/* header values */
	(void)grpc_timeout_parse((const char *)data + 1, size - 1, &ns);
	buf_init(&a, 0);
	buf_init(&b, 0);
	BUG_ON(grpc_percent_decode(&a, (const char *)data + 1, size - 1));
	BUG_ON(buf_len(&a) > size - 1);
	BUG_ON(grpc_percent_encode(&b, (const char *)data + 1, size - 1));
	buf_clear(&a);
	BUG_ON(
	    grpc_percent_decode(&a, (const char *)buf_head(&b), buf_len(&b)));
	BUG_ON(buf_len(&a) != size - 1);
	BUG_ON(size > 1 && memcmp(buf_head(&a), data + 1, size - 1));
	buf_release(&a);
	buf_release(&b);
	return 0;
}
