/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_sni_fuzz.c - libFuzzer target for tls_client_hello_sni(): only the
 * documented answers; a name is printable ASCII that fits with its NUL;
 * a name too long for 64 bytes is the same name in 1 KiB; and an answer
 * other than -EAGAIN never changes with more bytes (so a prefix that is
 * answered stays answered the same way when the rest arrives).
 *   make build/fuzz/bin/tls_sni
 *   build/fuzz/bin/tls_sni -max_total_time=20
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/tls_relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sni(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	int r = tls_client_hello_sni(p, n, out, outlen);

	BUG_ON(r != 1 && r != 0 && r != -EAGAIN && r != -EPROTO &&
	       r != -ENAMETOOLONG);
	if (r == 1) {
		size_t len = strlen(out);

		BUG_ON(!len || len >= outlen);
		for (size_t i = 0; i < len; i++)
			BUG_ON(out[i] < 0x21 || out[i] > 0x7e);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char small[64], big[1024], again[1024];
	uint8_t *more;
	int r, r2;

	r = sni(data, size, small, sizeof(small));
	r2 = sni(data, size, big, sizeof(big));
	if (r == -ENAMETOOLONG)
		BUG_ON(r2 != -ENAMETOOLONG &&
		       !(r2 == 1 && strlen(big) >= sizeof(small)));
	else
		BUG_ON(r != r2 || (r == 1 && strcmp(small, big)));

	/* a prefix's answer holds for the whole */
	if (size > 1) {
		int rp = sni(data, size - 1, again, sizeof(again));

		BUG_ON(rp != -EAGAIN && rp != r2);
		rp = sni(data, size / 2, again, sizeof(again));
		BUG_ON(rp != -EAGAIN && rp != r2);
	}
	/* and bytes after it do not matter */
	if (r2 != -EAGAIN) {
		more = malloc(size + 7);
		if (!more)
			return 0;
		memcpy(more, data, size);
		memcpy(more + size, "\x16\x03\x01\x00\x01\x01\x00", 7);
		BUG_ON(sni(more, size + 7, again, sizeof(again)) != r2);
		BUG_ON(r2 == 1 && strcmp(again, big));
		free(more);
	}
	return 0;
}
