/* SPDX-License-Identifier: Apache-2.0 */
/* base64.h - standard base64 (RFC 4648 §4, padded), over mbedtls */
#ifndef CONDUIT_BASE64_H
#define CONDUIT_BASE64_H

#include "conduit/buf.h"

/* base64_encode - append the encoding of data to out. 0 or -errno */
int base64_encode(const void *data, size_t len, struct buf *out);
/*
 * base64_decode - append the decoding of text to out. Returns 0, or
 * -EINVAL for a character outside the alphabet or bad padding.
 */
int base64_decode(const char *text, size_t len, struct buf *out);

#endif
