/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_admin.c - the proxy's admin HTTP server: metrics, probes, shutdown */
#include "conduit/proxy_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/buf.h"
#include "conduit/httpd.h"
#include "conduit/log.h"
#include "conduit/time.h"

/*
 * The HTTP/1.1 side (keep-alive, pipelining, limits, timeouts, HEAD,
 * 404/405) is httpd's; this file is the routes.
 */
#define MAX_CONNS 64	      /* admin connections at once */
#define MAX_HEAD  (16u << 10) /* request line and headers */
#define MAX_BODY  (64u << 10) /* nothing here takes a body */
#define OUT_MAX	  (64u << 20) /* one response (a /metrics text) */

struct proxy_admin {
	struct ev_loop *loop;
	struct proxy_admin_config cfg;
	struct proxy_admin_ops ops;
	struct httpd *http;
	ev_timer shutdown_w; /* POST /shutdown acts once answered */
};

static void on_live(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_respond_text(req, 200, "live\n");
}

static void on_ready(struct httpd_req *req, void *arg)
{
	struct proxy_admin *a = arg;

	char why[600] = "", body[640];

	if (a->ops.ready && a->ops.ready(a->ops.arg)) {
		httpd_respond_text(req, 200, "ready\n");
		return;
	}
	if (a->ops.why_not_ready)
		a->ops.why_not_ready(a->ops.arg, why, sizeof(why));
	snprintf(body, sizeof(body), "not ready%s%s\n", why[0] ? ": " : "", why);
	httpd_respond_text(req, 503, body);
}

static void on_env(struct httpd_req *req, void *arg)
{
	struct proxy_admin *a = arg;

	httpd_respond_json(req, 200, a->cfg.env_json);
}

static void on_metrics(struct httpd_req *req, void *arg)
{
	struct proxy_admin *a = arg;
	struct buf text;

	buf_init(&text, OUT_MAX);
	if (metrics_write_text(a->cfg.metrics, &text))
		httpd_respond_text(req, 500, "metrics too large\n");
	else
		httpd_respond(req, 200,
			      "text/plain; version=0.0.4; charset=utf-8", NULL,
			      0, buf_head(&text), buf_len(&text));
	buf_release(&text);
}

static void on_shutdown_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_admin *a = container_of(w, struct proxy_admin, shutdown_w);

	(void)loop;
	(void)revents;
	if (a->ops.shutdown)
		a->ops.shutdown(a->ops.arg);
}

static void on_shutdown(struct httpd_req *req, void *arg)
{
	struct proxy_admin *a = arg;

	if (!a->cfg.allow_shutdown) {
		httpd_respond_text(
		    req, 404, "shutdown is not enabled (--admin-shutdown)\n");
	} else if (!sock_addr_is_loopback(httpd_req_peer(req))) {
		httpd_respond_text(
		    req, 403, "shutdown is accepted from localhost only\n");
	} else {
		/* the answer is written before the loop comes back: act
		 * in the next iteration */
		httpd_respond_text(req, 200, "shutdown\n");
		ev_timer_start(a->loop, &a->shutdown_w);
	}
}

void proxy_admin_accept(struct proxy_admin *a, int fd,
			const struct sock_addr *peer)
{
	httpd_adopt(a->http, fd, peer);
}

struct proxy_admin *proxy_admin_new(struct ev_loop *loop,
				    struct loop_reaper *reaper,
				    const struct proxy_admin_config *cfg,
				    const struct proxy_admin_ops *ops)
{
	struct proxy_admin *a = xcalloc(1, sizeof(*a));
	struct httpd_config hc = {
	    .loop = loop,
	    .max_conns = MAX_CONNS,
	    .max_head = MAX_HEAD,
	    .max_headers = 64,
	    .max_body = MAX_BODY,
	    .max_response = OUT_MAX,
	    .request_timeout = (double)cfg->request_timeout / NSEC_PER_SEC,
	    .name = "admin",
	};

	(void)reaper; /* httpd reaps its own connections */
	a->loop = loop;
	a->cfg = *cfg;
	a->ops = *ops;
	ev_timer_init(&a->shutdown_w, on_shutdown_timer, 0, 0);
	a->http = httpd_new(&hc);
	if (!a->http)
		die("admin: cannot create the HTTP server");
	httpd_route(a->http, "GET", "/metrics", on_metrics, a);
	httpd_route(a->http, "GET", "/ready", on_ready, a);
	httpd_route(a->http, "GET", "/live", on_live, a);
	httpd_route(a->http, "GET", "/env.json", on_env, a);
	httpd_route(a->http, "POST", "/shutdown", on_shutdown, a);
	return a;
}

void proxy_admin_free(struct proxy_admin *a)
{
	if (!a)
		return;
	ev_timer_stop(a->loop, &a->shutdown_w);
	httpd_free(a->http);
	free(a);
}
