/* SPDX-License-Identifier: Apache-2.0 */
/* tap_fanout.h - the controller's side of tap: many proxies, one JSON-lines stream */
#ifndef CONDUIT_TAP_FANOUT_H
#define CONDUIT_TAP_FANOUT_H

#include <ev.h>

#include "conduit/httpd.h"
#include "conduit/sock.h"

/*
 * One `GET /api/v1/tap` of the public API: an Observe call to each target
 * pod's proxy (its control port), the events merged into one stream of
 * JSON lines on the HTTP request, one line a flushed chunk:
 *
 *   {"type":"req","id":"1:7","pod":"web-1","namespace":"emojivoto",
 *    "proxy":"in","src":"127.10.0.4:40112","dst":"127.10.1.3:8080",
 *    "tls":"true","client_id":"vote-bot.emojivoto.serviceaccount...",
 *    "method":"GET","authority":"web-svc...","path":"/api/list"}
 *   {"type":"rsp",...,"status":200,"latency_us":812}
 *   {"type":"end",...,"grpc_status":2,"reset":0,"duration_us":940,
 *    "response_bytes":123}
 *
 * tls and client_id (inbound) or server_id (outbound) say how the
 * proxy's peer was secured, as the proxy's metrics label it: "true" (mesh
 * TLS), "no_identity" or "disabled" (plaintext; identity on or off);
 * "unknown" when the proxy did not say.
 *
 * Requests beyond max_rps (a token bucket over request-init events) are
 * dropped whole: their rsp and end lines too. The stream ends when the
 * client goes away (every Observe is cancelled) or every proxy has ended
 * its side.
 */

struct tap_target {
	struct sock_addr addr; /* the pod's proxy control port */
	char ns[64], pod[128];
};

struct tap_params {
	double max_rps;		/* requests a second (100) */
	const char *method;	/* exact, or NULL */
	const char *path;	/* prefix, or NULL */
	const char *authority;	/* exact, or NULL */
};

/*
 * tap_fanout_start - take over req (answered as a stream from now on)
 * and tap the n targets. Returns 0, or a negative errno after answering
 * req with an error.
 */
int tap_fanout_start(struct ev_loop *loop, struct httpd_req *req,
		     const struct tap_target *t, size_t n,
		     const struct tap_params *p);

#endif
