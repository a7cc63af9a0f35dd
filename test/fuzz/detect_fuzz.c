/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_fuzz.c - libFuzzer target for protocol detection (proxy_detect.c)
 *
 * Checks the contract on every prefix of the input: a decision, once
 * made, never changes with more bytes; HTTP/2 only for the preface; and
 * an HTTP/1 decision only on a line that ends in LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/proxy_detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proxy_proto first = PROXY_PROTO_UNKNOWN;
	size_t at = 0;

	for (size_t n = 0; n <= size; n++) {
		enum proxy_proto p = proxy_detect(data, n);

		if (first == PROXY_PROTO_UNKNOWN) {
			first = p;
			at = n;
		} else if (p != first) {
			abort();
		}
	}
	if (first == PROXY_PROTO_HTTP2 &&
	    (at != PROXY_H2_PREFACE_LEN ||
	     memcmp(data, PROXY_H2_PREFACE, PROXY_H2_PREFACE_LEN)))
		abort();
	if (first == PROXY_PROTO_HTTP1 && (!at || data[at - 1] != '\n'))
		abort();
	return 0;
}
