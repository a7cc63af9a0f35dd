/* SPDX-License-Identifier: Apache-2.0 */
/* base64.c - standard base64 over mbedtls */
#include "conduit/base64.h"

#include <errno.h>
#include <mbedtls/base64.h>

int base64_encode(const void *data, size_t len, struct buf *out)
{
	size_t need = (len + 2) / 3 * 4 + 1, olen = 0;
	int r;

	r = buf_reserve(out, need);
	if (r)
		return r;
	if (mbedtls_base64_encode(buf_tail(out), need, &olen, data, len))
		return -EINVAL;
	buf_commit(out, olen);
	return 0;
}

int base64_decode(const char *text, size_t len, struct buf *out)
{
	size_t need = len / 4 * 3 + 3, olen = 0;
	int r;

	/* padded only: a length that is not a multiple of 4 is truncated */
	if (len % 4)
		return -EINVAL;
	r = buf_reserve(out, need);
	if (r)
		return r;
	if (mbedtls_base64_decode(buf_tail(out), need, &olen,
				  (const unsigned char *)text, len))
		return -EINVAL;
	buf_commit(out, olen);
	return 0;
}
