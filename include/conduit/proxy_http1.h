/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_http1.h - the proxy's HTTP/1.1 handler: keep-alive, streamed bodies, tunnels */
#ifndef CONDUIT_PROXY_HTTP1_H
#define CONDUIT_PROXY_HTTP1_H

#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/proxy.h"

/*
 * The handler for connections detected as HTTP/1. Requests are parsed
 * (http1.h) and forwarded one at a time to the connection's target (the
 * address the TCP relay would use: --inbound-forward, or the original
 * destination) over an upstream connection that is kept for the next
 * request of the same client connection while the upstream allows it.
 *
 *   - One request in flight per client connection: pipelined requests
 *     wait unparsed in the client's input buffer (bounded: when it is
 *     full the client is not read).
 *   - Bodies are streamed, never held whole: a piece is parsed only while
 *     the other side's output buffer is below 64 KiB, and a side is read
 *     only while its input buffer has room (backpressure both ways).
 *     Chunked bodies are re-framed (chunk by chunk, trailers forwarded);
 *     Content-Length bodies pass as they are; a response without length
 *     is relayed to the upstream's EOF and the client is then closed.
 *   - Hop-by-hop fields are dropped both ways (Connection and the fields
 *     it names, Keep-Alive, Proxy-Connection, TE, Trailer,
 *     Transfer-Encoding, Upgrade) and framing fields written anew. No Via
 *     is added: the mesh is meant to be invisible to the app (as
 *     Linkerd), and a loop is already refused at accept.
 *   - Upgrade (101) and CONNECT (2xx) become an opaque relay
 *     (proxy_tcp_adopt) with the bytes already read on both sides.
 *   - Errors the client sees are HTTP answers with a
 *     `conduit-proxy-error: <reason>` field and Connection: close: 400
 *     malformed or ambiguous request (never forwarded), 431 head too
 *     large, 413 body over the limit, 502 upstream refused, reset,
 *     closed early or malformed, 503 draining, 504 connect or response
 *     timeout (--http-response-timeout, from the request's end to the
 *     response's head, 10 s), 408 a request head not complete within
 *     --http-header-timeout (10 s; an idle keep-alive connection is
 *     closed silently after the same time).
 *   - Metrics: request_total, response_total and response_latency_ms
 *     (proxy_metrics.h) per (direction, target, Host), found once per
 *     authority; answers the proxy makes for a request it counted (502,
 *     503, 504) count as responses; a request too malformed to forward
 *     is not counted as a request at all.
 */
extern const struct proxy_handler proxy_http1_handler;

/* --- pure helpers, exposed for the unit tests ----------------------------- */

/* How a message's body is framed on the way out. */
enum proxy_http1_framing {
	PROXY_H1_NONE,	  /* no body */
	PROXY_H1_LENGTH,  /* Content-Length, passed as is */
	PROXY_H1_CHUNKED, /* chunked, re-framed */
	PROXY_H1_EOF,	  /* raw to the end of the connection */
};

/*
 * proxy_http1_hop_by_hop - is the field called name (len bytes) one the
 * proxy must not forward: a fixed hop-by-hop name, or a token of the
 * Connection value conn (conn_len bytes; NULL for none)?
 */
bool proxy_http1_hop_by_hop(const char *name, size_t len, const char *conn,
			    size_t conn_len);

/* proxy_http1_request_framing - the body of the request parsed in req
 * (after HTTP1_HEAD): chunked, Content-Length, or none */
enum proxy_http1_framing
proxy_http1_request_framing(const struct http1_parser *req);

/*
 * proxy_http1_response_framing - how the response parsed in resp (after
 * its HTTP1_HEAD) goes to a client of HTTP version client_version (10,
 * 11): no body for HEAD, 1xx, 204, 304; chunked re-framed for an
 * HTTP/1.1 client (an HTTP/1.0 one gets it raw, to EOF); Content-Length
 * as is; else to EOF.
 */
enum proxy_http1_framing
proxy_http1_response_framing(const struct http1_parser *resp,
			     bool head_request, int client_version);

/* flags of proxy_http1_write_head */
#define PROXY_H1_HEAD_CHUNKED 0x1 /* add Transfer-Encoding: chunked */
#define PROXY_H1_HEAD_CLOSE 0x2	  /* add Connection: close */
#define PROXY_H1_HEAD_UPGRADE 0x4 /* keep Upgrade, add Connection: upgrade */

/*
 * proxy_http1_write_head - append to out the head to forward for the
 * message parsed in p (after HTTP1_HEAD; kind says which it is): the
 * start line in HTTP/1.1, the end-to-end fields in order with their
 * names' case, then the fields flags ask for, and the blank line.
 * Returns 0, or -ENOBUFS / -ENOMEM (out may hold a partial head).
 */
int proxy_http1_write_head(const struct http1_parser *p, enum http1_kind kind,
			   unsigned flags, struct buf *out);

/*
 * proxy_http1_write_error - append a whole answer of the proxy's own:
 * status, a `conduit-proxy-error: <reason>` field, Connection: close, and
 * the reason as a text/plain body. Returns 0, -ENOBUFS or -ENOMEM.
 */
int proxy_http1_write_error(struct buf *out, int status, const char *reason);

#endif
