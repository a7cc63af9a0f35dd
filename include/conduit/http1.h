/* SPDX-License-Identifier: Apache-2.0 */
/* http1.h - an incremental HTTP/1.x message parser with limits (over http-parser) */
#ifndef CONDUIT_HTTP1_H
#define CONDUIT_HTTP1_H

#include <sys/types.h>

#include "conduit/base.h"

/*
 * One parser per connection direction, parsing one message after another
 * (keep-alive, pipelining). The caller keeps its input in its own buffer
 * and feeds it with http1_parse(), which consumes bytes up to the next
 * event and stops there:
 *
 *   HTTP1_HEAD  the start line and headers are complete: read them with
 *               the accessors below (copied into the parser, bounded)
 *   HTTP1_BODY  a piece of body, pointing into the caller's input (not
 *               copied: forward it or use it before dropping that input).
 *               The piece lies within the bytes fed, but its last byte
 *               may lie past the count returned: http-parser reads that
 *               byte again to end the message (never reporting it twice),
 *               so keep the unconsumed bytes as always and count body
 *               bytes from the events, not from the returns
 *   HTTP1_DONE  the message is complete (trailers, if chunked, are
 *               readable now); the next call starts the next message
 *   HTTP1_NONE  every byte fed was consumed with no event: feed more
 *
 * Stopping at each event is what lets a proxy hold a request after its
 * head while it picks and connects an upstream, forward body pieces only
 * as fast as the other side takes them, and answer pipelined requests in
 * order: bytes not consumed stay in the caller's buffer.
 *
 * Limits are enforced while parsing, before anything is stored: the head
 * (start line plus every header name and value, trailers included) and
 * the number of fields are bounded, and so is the body. Ambiguous framing
 * (Content-Length with Transfer-Encoding, two Content-Lengths, a bad
 * chunk size) is an error, never guessed at.
 */

enum http1_kind {
	HTTP1_REQUEST,
	HTTP1_RESPONSE,
};

struct http1_limits {
	size_t max_head;     /* start line + header bytes (0: 64 KiB) */
	size_t max_headers;  /* header and trailer fields (0: 100) */
	uint64_t max_body;   /* body bytes per message (0: unbounded) */
};

#define HTTP1_DEFAULT_MAX_HEAD (64u << 10)
#define HTTP1_DEFAULT_MAX_HEADERS 100

enum http1_event_type {
	HTTP1_NONE = 0,
	HTTP1_HEAD,
	HTTP1_BODY,
	HTTP1_DONE,
};

struct http1_event {
	enum http1_event_type type;
	const char *body;   /* HTTP1_BODY: inside the input just parsed */
	size_t body_len;
};

/* A string that is not NUL-terminated. */
struct http1_str {
	const char *p;
	size_t len;
};

struct http1_parser;

/*
 * http1_parser_new - a parser for requests or responses; lim may be NULL
 * for the defaults (copied). Free with http1_parser_free().
 */
struct http1_parser *http1_parser_new(enum http1_kind kind,
				      const struct http1_limits *lim);
void http1_parser_free(struct http1_parser *p);
/* http1_parser_reset - forget everything, ready for a new connection */
void http1_parser_reset(struct http1_parser *p);

/*
 * http1_parse - parse from data[0..len) up to and including the next
 * event, stored in *ev. Returns the bytes consumed (0..len; the caller
 * drops them, after using a HTTP1_BODY piece), or:
 *   -EPROTO    malformed or ambiguous message (answer 400)
 *   -E2BIG     head or field count over the limit (answer 431)
 *   -EMSGSIZE  body over the limit (answer 413)
 *   -ENOMEM    out of memory
 * An error is final: later calls return it again. After a HTTP1_DONE of
 * a message that switches protocols (http1_upgrade()), the bytes that
 * follow are not HTTP/1: the parser refuses them with -EPROTO.
 */
ssize_t http1_parse(struct http1_parser *p, const char *data, size_t len,
		    struct http1_event *ev);

/*
 * http1_finish - the peer closed its side: a message whose body runs to
 * the end of the connection (a response without length) is done now.
 * Returns 0 with *ev HTTP1_DONE (that message ended) or HTTP1_NONE (the
 * close fell between messages), or -EPROTO for a message cut short.
 */
int http1_finish(struct http1_parser *p, struct http1_event *ev);

/* http1_error_reason - why the last error happened, for a log line */
const char *http1_error_reason(const struct http1_parser *p);

/*
 * Accessors, valid from HTTP1_HEAD until the next call to http1_parse()
 * after HTTP1_DONE. Strings are borrowed from the parser.
 */
/* http1_method - "GET", "POST", ... (requests) */
const char *http1_method(const struct http1_parser *p);
/* http1_target - the request-target as sent: "/metrics?x=1" */
struct http1_str http1_target(const struct http1_parser *p);
/* http1_status - the status code (responses) */
int http1_status(const struct http1_parser *p);
/* http1_version - 10 for HTTP/1.0, 11 for HTTP/1.1 */
int http1_version(const struct http1_parser *p);

size_t http1_header_count(const struct http1_parser *p);
/* http1_header_at - field i (0 <= i < count) */
void http1_header_at(const struct http1_parser *p, size_t i,
		     struct http1_str *name, struct http1_str *value);
/*
 * http1_header_get - the value of the first field called name (ASCII
 * case-insensitive). Returns false when there is none.
 */
bool http1_header_get(const struct http1_parser *p, const char *name,
		      struct http1_str *value);

/* trailers of a chunked message: valid after HTTP1_DONE */
size_t http1_trailer_count(const struct http1_parser *p);
void http1_trailer_at(const struct http1_parser *p, size_t i,
		      struct http1_str *name, struct http1_str *value);

/* http1_keep_alive - may the connection carry another message after this? */
bool http1_keep_alive(const struct http1_parser *p);
/* http1_upgrade - CONNECT, or an Upgrade the message asks for (101 for a
 * response): after HTTP1_DONE the connection is a tunnel */
bool http1_upgrade(const struct http1_parser *p);
/* http1_chunked - Transfer-Encoding: chunked */
bool http1_chunked(const struct http1_parser *p);
/* http1_content_length - the declared Content-Length, or -1 */
int64_t http1_content_length(const struct http1_parser *p);

/*
 * http1_expect_no_body - the response being parsed answers a HEAD
 * request (or is a 304), so it has no body whatever its headers say.
 * Call before its HTTP1_HEAD; applies to that one message.
 */
void http1_expect_no_body(struct http1_parser *p);

/* http1_status_text - "Not Found" for 404; "" for unknown codes */
const char *http1_status_text(int status);

#endif
