/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_tap.h - the proxy's tap server: live request events on the control port */
#ifndef CONDUIT_PROXY_TAP_H
#define CONDUIT_PROXY_TAP_H

#include <stdlib.h>

#include "conduit/proxy.h"

/*
 * io.linkerd.proxy.tap.Tap/Observe on the control port (4190): a client
 * sends an ObserveRequest (a Match tree over source and destination
 * addresses and ports, authority, path and method; `limit` requests at
 * most, 0 for no limit) and gets a TapEvent stream: request-init,
 * response-init and response-end of every matching HTTP request the
 * proxy handles, both directions. Events are lossy by design: a tap
 * whose client reads too slowly misses events, the proxy never waits.
 *
 * Until identity exists a tap is allowed only from the addresses in
 * --tap-allow (default loopback): a connection from elsewhere gets
 * GOAWAY. With nobody tapping, a request costs one branch.
 */

#define PROXY_TAP_MAX 16     /* taps open at once */
#define PROXY_TAP_PER_REQ 4  /* taps one request reports to */

/* a request's tap state: embedded in the handlers' request state */
struct proxy_tap_req {
	uint32_t ids[PROXY_TAP_PER_REQ]; /* the taps that matched */
	uint8_t n;
	bool responded;
	uint64_t stream;
	int64_t start_ns, rsp_ns;
	struct sock_addr src, dst;
	enum proxy_dir dir;
	/* how the peer was secured (inbound: the client; outbound: the
	 * server): tls "true", "no_identity" or "disabled" as in the
	 * metrics; peer_id its identity (malloc'd; NULL: none) */
	const char *tls;
	char *peer_id;
};

struct proxy_tap;

/* proxy_tap_new - the tap server of px (NULL on no memory) */
struct proxy_tap *proxy_tap_new(struct proxy *px);
void proxy_tap_free(struct proxy_tap *t);

/* proxy_tap_count - taps open now */
size_t proxy_tap_count(const struct proxy_tap *t);

/* proxy_tap_accept - a control-port connection (takes fd) */
void proxy_tap_accept(struct proxy_tap *t, int fd, const struct sock_addr *peer);

/*
 * proxy_tap_request - a request began: remember which taps match it and
 * send them request-init. method, authority and path need not be
 * NUL-terminated. tls_id: the peer's identity when the hop is mesh TLS
 * ("" for a client without a certificate), NULL for plaintext; inbound
 * the peer is the client, outbound the server. Costs one test when
 * nobody taps: call it always.
 */
void proxy_tap_request_slow(struct proxy_tap *t, struct proxy_tap_req *r,
			    enum proxy_dir dir, const struct sock_addr *src,
			    const struct sock_addr *dst, const char *tls_id,
			    const char *method, size_t mlen,
			    const char *authority, size_t alen,
			    const char *path, size_t plen);

static inline void proxy_tap_request(struct proxy *px, struct proxy_tap_req *r,
				     enum proxy_dir dir,
				     const struct sock_addr *src,
				     const struct sock_addr *dst,
				     const char *tls_id,
				     const char *method, size_t mlen,
				     const char *authority, size_t alen,
				     const char *path, size_t plen)
{
	r->n = 0;
	if (px->ntaps)
		proxy_tap_request_slow(px->tap, r, dir, src, dst, tls_id,
				       method, mlen, authority, alen, path,
				       plen);
}

/* proxy_tap_response - the response head (its status); r->n == 0: no-op */
void proxy_tap_response_slow(struct proxy_tap *t, struct proxy_tap_req *r,
			     int status);
static inline void proxy_tap_response(struct proxy *px,
				      struct proxy_tap_req *r, int status)
{
	if (r->n)
		proxy_tap_response_slow(px->tap, r, status);
}
/*
 * proxy_tap_end - the exchange is over: grpc_status (-1: none),
 * reset_code (the HTTP/2 error when it was reset, else 0), body bytes of
 * the response. Nothing is sent after.
 */
void proxy_tap_end_slow(struct proxy_tap *t, struct proxy_tap_req *r,
			int grpc_status, uint32_t reset_code, uint64_t bytes);
static inline void proxy_tap_end(struct proxy *px, struct proxy_tap_req *r,
				 int grpc_status, uint32_t reset_code,
				 uint64_t bytes)
{
	if (r->n)
		proxy_tap_end_slow(px->tap, r, grpc_status, reset_code, bytes);
	r->n = 0;
}

/* proxy_tap_req_release - what r holds, once r is done with (after its
 * proxy_tap_end, or instead of it) */
static inline void proxy_tap_req_release(struct proxy_tap_req *r)
{
	free(r->peer_id);
	r->peer_id = NULL;
	r->n = 0;
}

#endif
