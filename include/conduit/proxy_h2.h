/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_h2.h - the proxy's HTTP/2 and gRPC handler: streams over pooled upstream connections */
#ifndef CONDUIT_PROXY_H2_H
#define CONDUIT_PROXY_H2_H

#include "conduit/h2.h"
#include "conduit/proxy.h"

/*
 * The handler for connections detected as HTTP/2 (prior knowledge, h2c).
 * The client connection is an h2 server (h2.h) fed first with the bytes
 * read while detecting. Each request stream is forwarded, as its own
 * stream, to an upstream h2 client connection:
 *
 *   - Upstream connections are pooled and multiplexed: one pool per proxy,
 *     shared by every client connection, keyed by direction and upstream
 *     address. A request takes the connected connection with the most
 *     room (streams below the peer's SETTINGS_MAX_CONCURRENT_STREAMS,
 *     no GOAWAY), else one still connecting, else a new one is opened
 *     (at most 64 to one address; past it: 503).
 *     While one connects its requests wait in its queue (at most
 *     --h2-max-pending-requests per address; past it: 503). A connection
 *     with no stream for --h2-upstream-idle-timeout is closed (GOAWAY).
 *   - Headers are forwarded minus the connection-specific fields of RFC
 *     9113 8.2.2 (connection, keep-alive, proxy-connection,
 *     transfer-encoding, upgrade, and te other than "trailers"); trailers
 *     both ways; 1xx heads are not forwarded (h2.h answers once).
 *   - DATA with end-to-end flow control: bytes from one side are written
 *     straight from nghttp2's input into the other side's stream send
 *     queue (one copy, the least h2.h's API allows; a request body of up
 *     to 64 KiB is also kept for a retry), and acknowledged to their
 *     sender (WINDOW_UPDATE, h2_stream_consume) only once they left that
 *     queue for the other connection. A peer that does not read stops
 *     the peer writing to it; memory is bounded by the stream windows
 *     (256 KiB each way) and the connection windows (1 MiB a client,
 *     4 MiB an upstream).
 *   - RST_STREAM both ways: a client's reset resets the upstream stream
 *     (CANCEL when the client's connection was lost); an upstream's reset
 *     after the response head resets the client's stream with the same
 *     code. A stream the upstream refused (REFUSED_STREAM, or above the
 *     last stream id of its GOAWAY: not processed) is retried on another
 *     connection, up to twice, when its request body is still held (up to
 *     64 KiB a request, 512 KiB a client connection, is kept until the
 *     response head for that).
 *   - The proxy's own answers, before any response head went out: 502
 *     upstream refused or reset the stream, or connection refused or lost;
 *     503 nothing can serve (no address, queue full); 504
 *     connect timeout, or no response head within --http-response-timeout
 *     of the request's end (not for gRPC: its streams may be long). Each
 *     has `conduit-proxy-error: <reason>` and a text/plain body. A gRPC
 *     request (content-type application/grpc*) gets instead HTTP 200
 *     Trailers-Only with grpc-status UNAVAILABLE (14), or
 *     DEADLINE_EXCEEDED (4) when its grpc-timeout ran out, a grpc-message
 *     and the conduit-proxy-error field. grpc-timeout is honoured (at the
 *     deadline the upstream stream is cancelled) and forwarded less the
 *     time the request waited for an address or a connection.
 *   - GOAWAY: an upstream's GOAWAY takes its connection out of the pool
 *     (its streams in flight finish); drain() sends GOAWAY to the client
 *     (h2_conn_shutdown: in-flight streams finish).
 *   - Limits, each from proxy_config: --h2-max-concurrent-streams per
 *     client connection (SETTINGS; extra streams refused),
 *     --h2-max-header-list-size for header blocks from either side
 *     (counted while decoding by h2.c: the stream is reset with
 *     PROTOCOL_ERROR), the pending queue above, the direction's connect
 *     timeout, --h2-idle-timeout for a client connection with no stream.
 *     Floods (rapid reset, protocol errors) are h2.c's: GOAWAY
 *     ENHANCE_YOUR_CALM.
 *   - Metrics (proxy_metrics.h): request_total at the request head;
 *     response_total{classification,status_code,grpc_status_code} and
 *     response_latency_ms (request to response head) when the stream is
 *     over, the gRPC status from the trailers or the Trailers-Only head.
 *     A stream reset before any response head counts no response. One
 *     debug line per stream.
 */
extern const struct proxy_handler proxy_h2_handler;

/* --- the routing hook: where a request goes ------------------------------ */

/*
 * One proxied request (opaque). Its address is asked for once per
 * request, and again before each retry, through proxy_h2_route().
 */
struct proxy_h2_req;

/*
 * proxy_h2_route - choose the upstream address of req, a request that
 * arrived on client connection c (c->dir, c->target, c->peer) for
 * authority[0..alen) (":authority", else "host"; borrowed for the call).
 *
 * The answer is proxy_h2_routed(), now (before returning) or later from
 * the loop. Until it comes the request is pending: its body is held (up
 * to the stream window; the client is not acknowledged more) and its
 * timers (grpc-timeout) run. If the request ends before the answer (the
 * client resets it, its connection closes, its deadline passes),
 * proxy_h2_route_cancel(req) is called, and req must not be used after.
 *
 * Today this answers at once with c->target, as the HTTP/1 handler uses
 * it; service discovery replaces its body (ask the destination API for
 * the authority, answer when it answers).
 */
void proxy_h2_route(struct proxy_conn *c, struct proxy_h2_req *req,
		    const char *authority, size_t alen);

/* proxy_h2_req_conn - the client connection req arrived on (borrowed) */
struct proxy_conn *proxy_h2_req_conn(const struct proxy_h2_req *req);

/*
 * proxy_h2_req_header - the value of req's header field name (lowercase;
 * pseudo-headers too: ":path"), NUL-terminated, with its length in *len
 * (may be NULL); NULL if absent. Borrowed: valid while req is.
 */
const char *proxy_h2_req_header(const struct proxy_h2_req *req,
				const char *name, size_t *len);

/* proxy_h2_route_cancel - req is gone: forget it (today: nothing to do) */
void proxy_h2_route_cancel(struct proxy_h2_req *req);

/*
 * proxy_h2_routed - the answer for req: the upstream address (copied), or
 * err < 0 and addr NULL when nothing can serve it (the client gets 503 /
 * UNAVAILABLE). Once per proxy_h2_route() call; never after
 * proxy_h2_route_cancel().
 */
void proxy_h2_routed(struct proxy_h2_req *req, const struct sock_addr *addr,
		     int err);

/* proxy_h2_free - close every pooled upstream connection of px; at exit,
 * after every client connection is closed */
void proxy_h2_free(struct proxy *px);

/* --- pure helpers, exposed for the unit tests ----------------------------- */

/*
 * proxy_h2_drop_field - must the field name[0..nlen) (lowercase, as on
 * the wire) with value[0..vlen) not be forwarded: connection-specific
 * (RFC 9113 8.2.2)?
 */
bool proxy_h2_drop_field(const char *name, size_t nlen, const char *value,
			 size_t vlen);

/* proxy_h2_is_grpc - does the content-type in h[0..n) say gRPC? */
bool proxy_h2_is_grpc(const struct h2_header *h, size_t n);

/* Why the proxy answers a request itself. */
enum proxy_h2_fail {
	PROXY_H2_REFUSED,	   /* connect refused, stream refused or reset */
	PROXY_H2_LOST,		   /* the upstream connection ended under it */
	PROXY_H2_UNAVAILABLE,	   /* nothing can serve: no address, queue
				    * full */
	PROXY_H2_CONNECT_TIMEOUT,  /* the upstream did not connect in time */
	PROXY_H2_RESPONSE_TIMEOUT, /* no response head in time */
	PROXY_H2_DEADLINE,	   /* the request's grpc-timeout ran out */
};

/*
 * proxy_h2_fail_status - the HTTP status a plain request gets for why
 * (502, 503, 504), and in *grpc the grpc-status a gRPC one gets
 * (UNAVAILABLE; DEADLINE_EXCEEDED for a deadline or response timeout).
 */
int proxy_h2_fail_status(enum proxy_h2_fail why, int *grpc);

/* One upstream connection's load, as the pool sees it. */
struct proxy_h2_load {
	bool connecting; /* not connected yet */
	bool closing;	 /* GOAWAY sent or received: takes no more */
	uint32_t streams; /* open, plus queued while connecting */
	uint32_t max;	  /* the peer's max concurrent streams */
};

/*
 * proxy_h2_pick - which of l[0..n) takes one more request: the connected
 * one with the most room, else the connecting one with the most room.
 * Returns its index, or -1: none has room (open a new connection).
 */
int proxy_h2_pick(const struct proxy_h2_load *l, size_t n);

#endif
