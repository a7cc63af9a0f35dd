/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_admin.h - the proxy's admin HTTP/1.1 server: metrics, probes, shutdown */
#ifndef CONDUIT_PROXY_ADMIN_H
#define CONDUIT_PROXY_ADMIN_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/loop.h"
#include "conduit/metrics.h"
#include "conduit/sock.h"

/*
 * Endpoints:
 *   GET  /metrics   Prometheus text format 0.0.4
 *   GET  /ready     200 "ready\n" when ops->ready() says so, else 503
 *                   "not ready\n" (or "not ready: <why>\n")
 *   GET  /live      200 "live\n"
 *   GET  /env.json  the effective configuration
 *   POST /shutdown  graceful stop: only when enabled, only from loopback
 *   anything else   404, or 405 for a known path and another method
 * HEAD works wherever GET does. Keep-alive and pipelining (answered in
 * order, one at a time); a request has admin_request_timeout from its
 * first byte to its last (slowloris), a head of at most 16 KiB (431) and a
 * body of at most 64 KiB (413). Errors close the connection after the
 * answer.
 */

struct proxy_admin_ops {
	bool (*ready)(void *arg);
	/*
	 * why_not_ready - when ready() said no: one line saying why into
	 * buf (NUL-terminated), for the 503's body "not ready: <why>".
	 * May be NULL, or leave buf empty: the body is "not ready".
	 */
	void (*why_not_ready)(void *arg, char *buf, size_t size);
	/* shutdown - POST /shutdown was accepted and answered */
	void (*shutdown)(void *arg);
	void *arg;
};

struct proxy_admin_config {
	struct metrics_registry *metrics; /* borrowed */
	const char *env_json;		  /* borrowed */
	bool allow_shutdown;
	int64_t request_timeout;	  /* ns */
};

struct proxy_admin;

/*
 * proxy_admin_new - an admin server on loop (cfg and ops copied; what
 * they point to is borrowed). Connections are handed in by the caller's
 * listener with proxy_admin_accept(). Free with proxy_admin_free(), which
 * closes every connection.
 */
struct proxy_admin *proxy_admin_new(struct ev_loop *loop,
				    struct loop_reaper *reaper,
				    const struct proxy_admin_config *cfg,
				    const struct proxy_admin_ops *ops);
void proxy_admin_free(struct proxy_admin *a);

/*
 * proxy_admin_accept - serve the accepted, non-blocking socket fd (takes
 * ownership: closed at once when too many admin connections are open).
 */
void proxy_admin_accept(struct proxy_admin *a, int fd,
			const struct sock_addr *peer);

#endif
