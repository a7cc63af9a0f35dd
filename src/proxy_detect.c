/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_detect.c - which protocol an accepted connection speaks, from its first bytes */
#include "conduit/proxy_detect.h"

#include <string.h>

/* RFC 9110 5.6.2: tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* a request-target byte: visible ASCII, or obs-text some clients send */
static bool is_target_char(unsigned char c)
{
	return c > ' ' && c != 0x7f;
}

/*
 * request_line - UNKNOWN while p[0..len) may still grow into a request
 * line, HTTP1 once one is complete, OPAQUE as soon as it cannot be one.
 */
static enum proxy_proto request_line(const unsigned char *p, size_t len)
{
	static const char version[] = "HTTP/1.";
	size_t i = 0, start;

	/* method */
	while (i < len && is_tchar(p[i]))
		i++;
	if (i > PROXY_DETECT_MAX_METHOD)
		return PROXY_PROTO_OPAQUE;
	if (i == len)
		return PROXY_PROTO_UNKNOWN;
	if (i == 0 || p[i] != ' ')
		return PROXY_PROTO_OPAQUE;
	i++;
	/* request-target */
	start = i;
	while (i < len && is_target_char(p[i]))
		i++;
	if (i == len)
		return PROXY_PROTO_UNKNOWN;
	if (i == start || p[i] != ' ')
		return PROXY_PROTO_OPAQUE;
	i++;
	/* "HTTP/1." DIGIT */
	for (size_t k = 0; k < sizeof(version) - 1; k++, i++) {
		if (i == len)
			return PROXY_PROTO_UNKNOWN;
		if (p[i] != (unsigned char)version[k])
			return PROXY_PROTO_OPAQUE;
	}
	if (i == len)
		return PROXY_PROTO_UNKNOWN;
	if (p[i] < '0' || p[i] > '9')
		return PROXY_PROTO_OPAQUE;
	i++;
	/* end of line */
	if (i == len)
		return PROXY_PROTO_UNKNOWN;
	if (p[i] == '\n')
		return PROXY_PROTO_HTTP1;
	if (p[i] != '\r')
		return PROXY_PROTO_OPAQUE;
	i++;
	if (i == len)
		return PROXY_PROTO_UNKNOWN;
	return p[i] == '\n' ? PROXY_PROTO_HTTP1 : PROXY_PROTO_OPAQUE;
}

enum proxy_proto proxy_detect(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n = MIN(len, (size_t)PROXY_H2_PREFACE_LEN);

	if (!len)
		return PROXY_PROTO_UNKNOWN;
	/* the preface first: its first line looks like a request line
	 * ("PRI * HTTP/2.0") that the HTTP/1 check would refuse */
	if (memcmp(p, PROXY_H2_PREFACE, n) == 0)
		return len >= PROXY_H2_PREFACE_LEN ? PROXY_PROTO_HTTP2 :
						     PROXY_PROTO_UNKNOWN;
	return request_line(p, len);
}

const char *proxy_proto_name(enum proxy_proto p)
{
	switch (p) {
	case PROXY_PROTO_OPAQUE:
		return "opaque";
	case PROXY_PROTO_HTTP1:
		return "http/1";
	case PROXY_PROTO_HTTP2:
		return "h2";
	case PROXY_PROTO_UNKNOWN:
		break;
	}
	return "unknown";
}
