/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_detect.h - which protocol an accepted connection speaks, from its first bytes */
#ifndef CONDUIT_PROXY_DETECT_H
#define CONDUIT_PROXY_DETECT_H

#include "conduit/base.h"

/*
 * What the proxy does with a connection depends on what its client says
 * first: the HTTP/2 connection preface, an HTTP/1 request line, or
 * anything else (opaque TCP, relayed byte for byte). The detector is a
 * pure function over the bytes read so far, so the connection code can
 * call it after every read and tests can drive it byte by byte.
 */
enum proxy_proto {
	PROXY_PROTO_UNKNOWN = 0, /* not decided yet */
	PROXY_PROTO_OPAQUE,	 /* anything else: relay as TCP */
	PROXY_PROTO_HTTP1,	 /* "GET /x HTTP/1.1\r\n" */
	PROXY_PROTO_HTTP2,	 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
};

/* HTTP/2's client connection preface (RFC 9113 3.4) */
#define PROXY_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PROXY_H2_PREFACE_LEN 24

/* longest method token the HTTP/1 check accepts */
#define PROXY_DETECT_MAX_METHOD 24

/*
 * proxy_detect - decide from the first len bytes. Returns
 * PROXY_PROTO_UNKNOWN when the bytes so far are a proper prefix of the
 * preface or of a request line (read more, unless the buffer is full, the
 * peer closed, or the detect timeout fired: then it is opaque), else the
 * protocol.
 *
 * An HTTP/1 request line is: a method token (RFC 9110 tchars), one space,
 * a request-target of visible characters, one space, "HTTP/1." and a
 * digit, then CRLF (or a bare LF, as lenient servers accept).
 */
enum proxy_proto proxy_detect(const void *data, size_t len);

/* proxy_proto_name - "opaque", "http/1", "h2", or "unknown" */
const char *proxy_proto_name(enum proxy_proto p);

#endif
