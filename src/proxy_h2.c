/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_h2.c - the proxy's HTTP/2 and gRPC handler: streams over pooled upstream connections */
#include "conduit/proxy_h2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conduit/arena.h"
#include "conduit/grpc.h"
#include "conduit/discovery.h"
#include "conduit/resolve.h"
#include "conduit/log.h"
#include "conduit/proxy_tap.h"
#include "conduit/time.h"

#define STREAM_WINDOW (256u << 10) /* our stream window, either side */
#define CLIENT_CONN_WINDOW (1u << 20)
/* an upstream connection carries many clients' streams: a slow reader
 * holds back its stream's window of it, not the whole connection */
#define UP_CONN_WINDOW (4u << 20)
#define REPLAY_MAX (64u << 10) /* request body kept for a retry */
/* ... and all a client connection's requests keep at most this much:
 * a retry is worth little memory */
#define CONN_REPLAY_MAX (512u << 10)
/* a request's held body: pending (at most our window), or for a retry */
#define BODY_MAX (STREAM_WINDOW + REPLAY_MAX)
#define MAX_RETRIES 2
#define MAX_FIELDS H2_DEFAULT_MAX_HEADER_FIELDS
#define PICK_MAX 64 /* upstream connections to one address, at most */

/* --- pure helpers --------------------------------------------------------- */

/* NAME_IS - name[0..len) is the literal lit */
#define NAME_IS(name, len, lit)                                                \
	((len) == sizeof(lit) - 1 && !memcmp((name), (lit), sizeof(lit) - 1))

bool proxy_h2_drop_field(const char *name, size_t nlen, const char *value,
			 size_t vlen)
{
	/* every field of every head and trailer block passes here: one
	 * length test for most of them */
	switch (nlen) {
	case 2:
		/* TE may only say "trailers" in HTTP/2 (RFC 9113 8.2.2) */
		return NAME_IS(name, nlen, "te") &&
		       !(vlen == 8 && !strncasecmp(value, "trailers", 8));
	case 7:
		return NAME_IS(name, nlen, "upgrade");
	case 10:
		return NAME_IS(name, nlen, "connection") ||
		       NAME_IS(name, nlen, "keep-alive");
	case 16:
		return NAME_IS(name, nlen, "proxy-connection");
	case 17:
		return NAME_IS(name, nlen, "transfer-encoding");
	default:
		return false;
	}
}

bool proxy_h2_is_grpc(const struct h2_header *h, size_t n)
{
	const struct h2_header *ct = h2_header_find(h, n, "content-type");

	return ct && ct->value_len >= 16 &&
	       !strncasecmp(ct->value, "application/grpc", 16) &&
	       (ct->value_len == 16 || ct->value[16] == '+' ||
		ct->value[16] == ';');
}

int proxy_h2_fail_status(enum proxy_h2_fail why, int *grpc)
{
	*grpc = GRPC_UNAVAILABLE;
	switch (why) {
	case PROXY_H2_REFUSED:
	case PROXY_H2_LOST:
		return 502;
	case PROXY_H2_UNAVAILABLE:
		return 503;
	case PROXY_H2_CONNECT_TIMEOUT:
		return 504;
	case PROXY_H2_RESPONSE_TIMEOUT:
	case PROXY_H2_DEADLINE:
		*grpc = GRPC_DEADLINE_EXCEEDED;
		return 504;
	}
	return 502;
}

int proxy_h2_pick(const struct proxy_h2_load *l, size_t n)
{
	int best = -1;
	uint32_t room = 0;
	bool best_ready = false;

	for (size_t i = 0; i < n; i++) {
		uint32_t r;

		if (l[i].closing || l[i].streams >= l[i].max)
			continue;
		r = l[i].max - l[i].streams;
		/* a connected one beats any still connecting */
		if (best < 0 || (!l[i].connecting && !best_ready) ||
		    (!l[i].connecting == best_ready && r > room)) {
			best = (int)i;
			room = r;
			best_ready = !l[i].connecting;
		}
	}
	return best;
}

/* --- state ---------------------------------------------------------------- */

struct up;
struct hconn;

enum req_state {
	REQ_ROUTING, /* waiting for proxy_h2_routed() */
	REQ_QUEUED,  /* waiting for its upstream connection to connect */
	REQ_OPEN,    /* forwarded: su is its upstream stream */
	REQ_DONE,    /* answered by the proxy, or upstream side over */
};

/* one proxied request: a client stream and its upstream stream */
struct proxy_h2_req {
	struct hconn *hc;		     /* the client connection */
	struct proxy_h2_req *prev, *next;    /* hc->reqs */
	struct proxy_h2_req *qnext;	     /* up->qhead */
	struct h2_stream *sc;		     /* client side; NULL once closed */
	struct h2_stream *su;		     /* upstream side; NULL if none */
	struct up *up;			     /* su's connection, or queued on */
	enum req_state state;
	struct arena arena;		     /* the headers and trailers below */
	struct held *held;		     /* buffers they point into */
	struct h2_header *head, *trailers;   /* the request's, filtered */
	size_t nhead, ntrailers;
	const char *authority, *path;	     /* in head */
	size_t authority_len;
	struct buf body;		     /* request body held: while
					      * pending, and for a retry */
	size_t skip;			     /* su on_sent bytes that sc
					      * acknowledged before (replay) */
	ev_timer timer;			     /* grpc-timeout or response timeout */
	struct sock_addr addr;		     /* the upstream */
	struct proxy_http_metrics *hm;
	bool req_counted; /* request_total counted in hm's series */
	int64_t start_ns, head_ns;
	uint64_t up_bytes, down_bytes;
	int status;			     /* the response's; 0: none yet */
	int grpc_status;		     /* -1: none */
	uint32_t reset;			     /* a reset seen, for the log */
	int retries;
	const char *answer;		     /* the proxy's answer, if any */
	bool grpc;
	bool deadline;			     /* timer is the grpc-timeout */
	bool req_ended;			     /* the client ended its side */
	bool req_fwd_ended;		     /* ... and su was told */
	bool replayable;		     /* body holds all of it */
	bool resp_head, resp_ended;	     /* sent to the client */
	/* service discovery (outbound, a service's authority) */
	struct dsc_endpoint *ep;	     /* the endpoint picked, held */
	bool ep_busy;			     /* counted pending on it */
	int route_tries;		     /* endpoints that refused it */
	char *route_name;		     /* in arena, while waiting */
	struct dsc_wait wait;
	struct resolve_req *dns;	     /* explicit mode: the authority's
					      * lookup in flight */
	struct proxy_tap_req tap;	     /* who taps it */
	bool tapped;			     /* its request-init went out */
};

/* the client connection: proxy_conn's ctx */
struct hconn {
	struct proxy_conn *c;
	struct h2_conn *h2;
	struct pool req_pool;
	struct proxy_h2_req *reqs;
	struct proxy_http_metrics *hm; /* the last authority's */
	size_t held;		       /* bytes in its requests' bodies */
	uint64_t in_seen, out_seen;    /* bytes counted into src metrics */
	uint64_t requests;
	bool gone;
};

/* one pooled upstream connection */
struct up {
	struct proxy_h2 *ph;
	struct up *prev, *next; /* ph->ups */
	enum proxy_dir dir;
	struct sock_addr addr;
	char *tls_id;		/* the server's identity (mesh TLS); NULL */
	struct proxy_target_metrics *m;
	int fd;			/* connecting: ours; then h2's */
	ev_io cio;		/* connecting: writable */
	ev_timer ctimer;	/* connecting: the connect timeout */
	struct h2_conn *h2;	/* NULL while connecting */
	struct proxy_h2_req *qhead, *qtail; /* waiting for the connection */
	uint32_t nqueued, nstreams;
	uint64_t in_seen, out_seen;
	bool goaway;
};

/* the pools of a proxy: px->h2 */
struct proxy_h2 {
	struct proxy *px;
	struct up *ups;
	size_t nups;
};

static void req_answer(struct proxy_h2_req *r, enum proxy_h2_fail why,
		       const char *reason);
static void req_open(struct proxy_h2_req *r, struct up *u);
static void req_maybe_free(struct proxy_h2_req *r);

static struct proxy *req_px(const struct proxy_h2_req *r)
{
	return r->hc->c->px;
}

static struct ev_loop *req_loop(const struct proxy_h2_req *r)
{
	return r->hc->c->px->loop;
}

/* --- metrics ------------------------------------------------------------- */

/* count_bytes - add what h2 moved since the last time to a peer's series */
static void count_bytes(struct h2_conn *h2, struct proxy_tcp_series *s,
			uint64_t *in_seen, uint64_t *out_seen)
{
	struct h2_stats st;

	if (!h2)
		return;
	h2_conn_stats(h2, &st);
	if (st.bytes_in > *in_seen)
		metrics_counter_add(s->read_bytes, (double)(st.bytes_in - *in_seen));
	if (st.bytes_out > *out_seen)
		metrics_counter_add(s->write_bytes,
				    (double)(st.bytes_out - *out_seen));
	*in_seen = MAX(*in_seen, st.bytes_in);
	*out_seen = MAX(*out_seen, st.bytes_out);
}

/* --- the upstream pool ----------------------------------------------------- */

static const struct h2_callbacks up_callbacks;

static struct proxy_h2 *pools(struct proxy *px)
{
	if (!px->h2) {
		px->h2 = xcalloc(1, sizeof(*px->h2));
		px->h2->px = px;
	}
	return px->h2;
}

static void up_unlink(struct up *u)
{
	struct proxy_h2 *ph = u->ph;

	if (u->prev)
		u->prev->next = u->next;
	else
		ph->ups = u->next;
	if (u->next)
		u->next->prev = u->prev;
	ph->nups--;
}

static void up_dequeue(struct up *u, struct proxy_h2_req *r)
{
	struct proxy_h2_req **pp, *prev = NULL;

	for (pp = &u->qhead; *pp; prev = *pp, pp = &(*pp)->qnext) {
		if (*pp != r)
			continue;
		*pp = r->qnext;
		if (u->qtail == r)
			u->qtail = prev;
		u->nqueued--;
		r->qnext = NULL;
		return;
	}
}

/* up_free - u is done: unlinked, its watchers stopped, its h2 freed */
static void up_free(struct up *u)
{
	struct ev_loop *loop = u->ph->px->loop;
	char a[SOCK_ADDR_STRLEN];

	ev_io_stop(loop, &u->cio);
	ev_timer_stop(loop, &u->ctimer);
	if (u->h2) {
		count_bytes(u->h2, &u->m->dst, &u->in_seen, &u->out_seen);
		h2_conn_free(u->h2);
		metrics_counter_inc(u->m->dst.close_total);
		metrics_gauge_add(u->m->dst.open_conns, -1);
	} else if (u->fd >= 0) {
		close(u->fd);
	}
	log_debug("h2: upstream connection closed", "dir=%s addr=%s",
		  proxy_dir_name(u->dir),
		  sock_addr_format(&u->addr, a, sizeof(a)));
	up_unlink(u);
	free(u->tls_id);
	free(u);
}

static void route(struct proxy_h2_req *r);

/* req_tls_id - the identity r's upstream must prove (NULL: plaintext) */
static const char *tls_id_to(const struct proxy_h2_req *r,
			     const struct sock_addr *addr)
{
	return r->ep && addr && sock_addr_equal(&r->ep->addr, addr) ?
		       proxy_upstream_tls(req_px(r), r->ep->identity) :
		       NULL;
}

static const char *req_tls_id(const struct proxy_h2_req *r)
{
	return tls_id_to(r, &r->addr);
}

/*
 * try_elsewhere - r's endpoint refused the connection before r reached
 * it: it backs off and r is routed again (to another endpoint, when the
 * service has one), twice at most. True when r was re-routed.
 */
static bool try_elsewhere(struct proxy_h2_req *r)
{
	struct proxy *px = r->hc->c->px;

	if (!r->ep || r->route_tries >= 2 ||
	    !retry_budget_withdraw(&px->retries, ev_now(px->loop)))
		return false;
	dsc_connect_failed(r->hc->c->px->discovery, r->ep);
	r->route_tries++;
	route(r);
	return true;
}

/* up_fail - the connection did not come up: its queue gets answers */
static void up_fail(struct up *u, enum proxy_h2_fail why, const char *reason)
{
	while (u->qhead) {
		struct proxy_h2_req *r = u->qhead;

		up_dequeue(u, r);
		r->up = NULL;
		r->state = REQ_DONE;
		if (why == PROXY_H2_REFUSED && try_elsewhere(r))
			continue;
		req_answer(r, why, reason);
	}
	up_free(u);
}

static double secs(int64_t ns)
{
	return (double)ns / NSEC_PER_SEC;
}

static void on_up_connected(struct ev_loop *loop, ev_io *w, int revents)
{
	struct up *u = container_of(w, struct up, cio);
	struct proxy *px = u->ph->px;
	const struct proxy_config *cfg = px->cfg;
	struct h2_config hc = {
		.role = H2_CLIENT,
		.loop = loop,
		.cb = &up_callbacks,
		.data = u,
		.name = "h2-upstream",
		.lim = {
			.stream_window = STREAM_WINDOW,
			.conn_window = UP_CONN_WINDOW,
			.max_header_list = (size_t)cfg->h2_max_header_list,
			.max_header_fields = MAX_FIELDS,
			.stream_send_max = STREAM_WINDOW + REPLAY_MAX,
			.idle_timeout = cfg->h2_upstream_idle_timeout ?
				secs(cfg->h2_upstream_idle_timeout) : -1,
			.manual_flow = true,
		},
	};
	char a[SOCK_ADDR_STRLEN], e[64];
	int err = sock_error(u->fd);

	(void)revents;
	ev_io_stop(loop, &u->cio);
	ev_timer_stop(loop, &u->ctimer);
	if (err) {
		/* at debug: each request it fails says so at info */
		log_debug("h2: upstream connect failed",
			  "dir=%s addr=%s error=%s", proxy_dir_name(u->dir),
			  sock_addr_format(&u->addr, a, sizeof(a)),
			  proxy_errstr(-err, e, sizeof(e)));
		up_fail(u, PROXY_H2_REFUSED,
			err == -ECONNREFUSED ? "upstream connection refused" :
					       "upstream connect failed");
		return;
	}
	sock_set_nodelay(u->fd);
	u->h2 = h2_conn_new(&hc, u->fd); /* owns the fd, even on failure */
	u->fd = -1;
	if (!u->h2) {
		up_fail(u, PROXY_H2_UNAVAILABLE, "out of memory");
		return;
	}
	metrics_counter_inc(u->m->dst.open_total);
	metrics_gauge_add(u->m->dst.open_conns, 1);
	log_debug("h2: upstream connected", "dir=%s addr=%s queued=%u",
		  proxy_dir_name(u->dir),
		  sock_addr_format(&u->addr, a, sizeof(a)), u->nqueued);
	while (u->qhead) {
		struct proxy_h2_req *r = u->qhead;

		up_dequeue(u, r);
		req_open(r, u);
	}
}

static void on_up_connect_timeout(struct ev_loop *loop, ev_timer *w,
				  int revents)
{
	struct up *u = container_of(w, struct up, ctimer);

	(void)loop;
	(void)revents;
	up_fail(u, PROXY_H2_CONNECT_TIMEOUT, "upstream connect timeout");
}

/*
 * up_new - start connecting to addr, with mesh TLS to tls_id (NULL:
 * plaintext); NULL with *err when that failed
 */
static struct up *up_new(struct proxy_h2 *ph, enum proxy_dir dir,
			 const struct sock_addr *addr, const char *tls_id,
			 int64_t timeout, int *err)
{
	struct up *u;
	int fd = proxy_upstream_connect(ph->px, addr, tls_id);

	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	u = xcalloc(1, sizeof(*u));
	u->ph = ph;
	u->dir = dir;
	u->addr = *addr;
	u->tls_id = tls_id ? xstrdup(tls_id) : NULL;
	u->fd = fd;
	u->m = proxy_metrics_target(ph->px->metrics, dir, addr, tls_id);
	ev_io_init(&u->cio, on_up_connected, fd, EV_WRITE);
	ev_timer_init(&u->ctimer, on_up_connect_timeout, secs(timeout), 0);
	ev_io_start(ph->px->loop, &u->cio);
	if (timeout > 0)
		ev_timer_start(ph->px->loop, &u->ctimer);
	u->next = ph->ups;
	if (ph->ups)
		ph->ups->prev = u;
	ph->ups = u;
	ph->nups++;
	return u;
}

static void up_load(const struct up *u, struct proxy_h2_load *l)
{
	l->connecting = !u->h2;
	l->closing = u->goaway || (u->h2 && !h2_conn_can_submit(u->h2));
	l->streams = u->nstreams + u->nqueued;
	l->max = u->h2 ? h2_conn_peer_max_streams(u->h2) :
			 H2_DEFAULT_MAX_STREAMS;
}

/*
 * up_for - the upstream connection r goes on (connected or connecting),
 * or NULL after answering r itself
 */
static struct up *up_for(struct proxy_h2_req *r)
{
	struct proxy_conn *c = r->hc->c;
	struct proxy_h2 *ph = pools(c->px);
	struct proxy_h2_load load[PICK_MAX];
	struct up *cand[PICK_MAX], *u;
	size_t n = 0, queued = 0;
	const char *tls_id = req_tls_id(r);
	int i, err;

	for (u = ph->ups; u; u = u->next) {
		if (u->dir != c->dir || !sock_addr_equal(&u->addr, &r->addr) ||
		    !u->tls_id != !tls_id ||
		    (tls_id && strcmp(u->tls_id, tls_id)))
			continue;
		queued += u->nqueued;
		if (n < PICK_MAX) {
			up_load(u, &load[n]);
			cand[n++] = u;
		}
	}
	i = proxy_h2_pick(load, n);
	if (i >= 0 && cand[i]->h2)
		return cand[i];
	/* it would wait for a connection: bounded */
	if (queued >= (size_t)c->px->cfg->h2_max_pending) {
		req_answer(r, PROXY_H2_UNAVAILABLE, "too many pending requests");
		return NULL;
	}
	if (i >= 0)
		return cand[i];
	if (n == PICK_MAX) {
		/* a peer that allows few streams does not get a connection
		 * per request */
		req_answer(r, PROXY_H2_UNAVAILABLE,
			   "upstream connections at the limit");
		return NULL;
	}
	u = up_new(ph, c->dir, &r->addr, tls_id, proxy_connect_timeout(c),
		   &err);
	if (!u && try_elsewhere(r))
		return NULL;
	if (!u)
		req_answer(r, PROXY_H2_REFUSED,
			   err == -ECONNREFUSED ? "upstream connection refused" :
						  "upstream connect failed");
	return u;
}

void proxy_h2_free(struct proxy *px)
{
	struct proxy_h2 *ph = px->h2;

	if (!ph)
		return;
	while (ph->ups)
		up_free(ph->ups); /* queues are empty: no client is left */
	free(ph);
	px->h2 = NULL;
}

/* --- routing ----------------------------------------------------------------- */

struct proxy_conn *proxy_h2_req_conn(const struct proxy_h2_req *req)
{
	return req->hc->c;
}

const char *proxy_h2_req_header(const struct proxy_h2_req *req,
				const char *name, size_t *len)
{
	const struct h2_header *h = h2_header_find(req->head, req->nhead, name);

	if (!h)
		return NULL;
	if (len)
		*len = h->value_len;
	return h->value;
}

/* ep_finish - r's request on its endpoint is over (rtt < 0: failed) */
static void ep_finish(struct proxy_h2_req *r, int64_t rtt_ns)
{
	if (r->ep && r->ep_busy) {
		dsc_done(r->hc->c->px->discovery, r->ep, rtt_ns);
		r->ep_busy = false;
	}
}

/*
 * count_request - request_total, once: when r is routed (after discovery
 * chose its endpoint, whose dst_* labels the series carries), or when it
 * ends before that
 */
static void count_request(struct proxy_h2_req *r)
{
	if (r->req_counted || !r->hm)
		return;
	r->req_counted = true;
	metrics_counter_inc(r->hm->request_total);
}

static void ep_drop(struct proxy_h2_req *r)
{
	ep_finish(r, -1);
	if (r->ep) {
		dsc_release(r->ep);
		r->ep = NULL;
	}
}

static void route_direct(struct proxy_h2_req *r, const char *authority,
			 size_t alen);

/* route_state - answer r's routing once discovery knows svc */
static void route_state(struct proxy_h2_req *r, struct dsc_service *svc,
			enum dsc_state st)
{
	struct proxy_conn *c = r->hc->c;
	struct dsc_endpoint *e;

	switch (st) {
	case DSC_READY:
		if ((e = dsc_pick(svc))) {
			r->ep = e;
			r->ep_busy = true;
			/* the endpoint's series: its dst_* labels */
			if (r->hm)
				r->hm = proxy_metrics_http_dst(
					c->px->metrics, c->dir, &e->addr,
					proxy_upstream_tls(c->px, e->identity),
					r->hm->authority, r->hm->authority_len,
					e->labels);
			proxy_h2_routed(r, &e->addr, 0);
			return;
		}
		break;
	case DSC_NOT_FOUND:
		/* not a service the mesh knows: where it was going, or in
		 * explicit mode where the authority says */
		if (c->target.len)
			proxy_h2_routed(r, &c->target, 0);
		else if (!discovery_cluster_name(r->authority, r->authority_len))
			route_direct(r, r->authority, r->authority_len);
		else
			break; /* the controller's word is final */
		return;
	case DSC_EMPTY:
	case DSC_PENDING:
		break;
	}
	proxy_h2_routed(r, NULL, -ENOENT);
}

static void on_resolved(void *arg, enum dsc_state st)
{
	struct proxy_h2_req *r = arg;
	struct dsc_service *svc =
		discovery_lookup(r->hc->c->px->discovery, r->route_name);

	route_state(r, svc, st);
}

/*
 * proxy_h2_route - outbound, with discovery, for an authority naming a
 * service: an endpoint of it (P2C over peak-EWMA), waiting for
 * discovery's first answer when needed; otherwise the connection's
 * target (none in explicit outbound mode: UNAVAILABLE).
 */
static void routed_direct(struct proxy_h2_req *r, const struct sock_addr *a)
{
	if (proxy_is_own(r->hc->c->px, a))
		proxy_h2_routed(r, NULL, -ELOOP);
	else
		proxy_h2_routed(r, a, 0);
}

static void on_direct_resolved(void *arg, const struct sock_addr *addrs,
			       size_t n, const char *error)
{
	struct proxy_h2_req *r = arg;
	char q[128], a[128], e[96];

	r->dns = NULL;
	if (n) {
		routed_direct(r, &addrs[0]);
		return;
	}
	log_info("explicit outbound: cannot resolve the authority",
		 "authority=%s error=%s",
		 log_quote(q, sizeof(q), (snprintf(a, sizeof(a), "%.*s",
						     (int)r->authority_len,
						     r->authority ? r->authority : ""),
					    a)),
		 log_quote(e, sizeof(e), error));
	proxy_h2_routed(r, NULL, -EHOSTUNREACH);
}

/*
 * route_direct - explicit outbound (no original destination) and no
 * service for the authority: the authority itself, an IP:port or a name
 * DNS resolves (c-ares, never blocking; port 80 by default)
 */
static void route_direct(struct proxy_h2_req *r, const char *authority,
			 size_t alen)
{
	struct resolver *res;
	struct sock_addr a;
	char host[256];
	int port;

	if (!authority || resolve_split_authority(authority, alen, host,
						  sizeof(host), &port, 80) < 0) {
		proxy_h2_routed(r, NULL, -ENOENT);
		return;
	}
	if (sock_ip_parse(host, &a) == 0) {
		sock_addr_set_port(&a, port);
		routed_direct(r, &a);
		return;
	}
	if (!(res = proxy_resolver(r->hc->c->px))) {
		proxy_h2_routed(r, NULL, -ENOENT);
		return;
	}
	if (resolver_start(res, host, port, on_direct_resolved, r, &r->dns) < 0)
		proxy_h2_routed(r, NULL, -EINVAL);
}

void proxy_h2_route(struct proxy_conn *c, struct proxy_h2_req *req,
		    const char *authority, size_t alen)
{
	struct discovery *d = c->px->discovery;
	struct dsc_service *svc;
	char name[256];

	ep_drop(req);
	if (c->dir != PROXY_OUTBOUND || !d || !authority ||
	    !discovery_name(authority, alen, name, sizeof(name))) {
		if (c->target.len)
			proxy_h2_routed(req, &c->target, 0);
		else
			route_direct(req, authority, alen);
		return;
	}
	svc = discovery_lookup(d, name);
	if (dsc_service_state(svc) == DSC_PENDING) {
		req->route_name = arena_strdup(&req->arena, name);
		if (!req->route_name) {
			proxy_h2_routed(req, NULL, -ENOMEM);
			return;
		}
		dsc_service_wait(svc, &req->wait, on_resolved, req);
		return;
	}
	route_state(req, svc, dsc_service_state(svc));
}

void proxy_h2_route_cancel(struct proxy_h2_req *req)
{
	dsc_wait_cancel(&req->wait);
	resolver_cancel(req->dns);
	req->dns = NULL;
}

/* tap_begin - request-init to the taps, once r knows where it goes */
static void tap_begin(struct proxy_h2_req *r, const struct sock_addr *addr)
{
	struct proxy_conn *c = r->hc->c;
	const struct h2_header *m = h2_header_find(r->head, r->nhead, ":method");

	r->tapped = true;
	proxy_tap_request(c->px, &r->tap, c->dir, &c->peer,
			  addr ? addr : &c->target,
			  c->dir == PROXY_INBOUND ? proxy_conn_tls_id(c) :
						    tls_id_to(r, addr),
			  m ? m->value : "",
			  m ? m->value_len : 0, r->authority, r->authority_len,
			  r->path, r->path ? strlen(r->path) : 0);
}

void proxy_h2_routed(struct proxy_h2_req *r, const struct sock_addr *addr,
		     int err)
{
	struct up *u;

	BUG_ON(r->state != REQ_ROUTING);
	r->state = REQ_DONE; /* answered: nothing to cancel any more */
	count_request(r);
	if (!r->tapped)
		tap_begin(r, addr);
	if (err || !addr) {
		req_answer(r, PROXY_H2_UNAVAILABLE, "no upstream address");
		return;
	}
	r->addr = *addr;
	u = up_for(r);
	if (!u)
		return;
	if (u->h2) {
		req_open(r, u);
		return;
	}
	r->state = REQ_QUEUED;
	r->up = u;
	r->qnext = NULL;
	if (u->qtail)
		u->qtail->qnext = r;
	else
		u->qhead = r;
	u->qtail = r;
	u->nqueued++;
}

/* route - (re)start r's routing */
static void route(struct proxy_h2_req *r)
{
	r->state = REQ_ROUTING;
	r->up = NULL;
	proxy_h2_route(r->hc->c, r, r->authority, r->authority_len);
}

/* --- requests ---------------------------------------------------------------- */

/* filter - h[0..n) without connection-specific fields into out (room for
 * MAX_FIELDS); returns how many */
static size_t filter(const struct h2_header *h, size_t n, struct h2_header *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < MAX_FIELDS; i++)
		if (!proxy_h2_drop_field(h[i].name, h[i].name_len, h[i].value,
					 h[i].value_len))
			out[k++] = h[i];
	return k;
}

/* the buffers of one head h2_head_hold() keeps for r: in r's arena */
struct held {
	struct held *next;
	size_t n;
	void *bufs[];
};

/*
 * keep - h[0..n) without connection-specific fields, for as long as r
 * lives (until both of r's streams closed, or with the client
 * connection), NULL when over r's arena: so it goes out on the other
 * side with H2_NO_COPY. Inside the head's callback the fields' own
 * buffers are held (h2_head_hold): no byte is copied; else one copy in
 * r's arena, every name and value NUL-terminated.
 */
static struct h2_header *keep(struct proxy_h2_req *r, struct h2_stream *s,
			      const struct h2_header *h, size_t n,
			      size_t *kept)
{
	size_t bytes = (n ? n : 1) * sizeof(struct h2_header), k = 0;
	struct h2_header *out;
	struct held *hd;
	char *p;

	hd = arena_alloc(&r->arena, bytes + sizeof(*hd) + 2 * n * sizeof(void *));
	if (hd && (hd->n = h2_head_hold(s, hd->bufs, 2 * n))) {
		hd->next = r->held;
		r->held = hd;
		out = (struct h2_header *)(hd->bufs + 2 * n);
		for (size_t i = 0; i < n; i++)
			if (!proxy_h2_drop_field(h[i].name, h[i].name_len,
						 h[i].value, h[i].value_len))
				out[k++] = h[i];
		*kept = k;
		return out;
	}
	for (size_t i = 0; i < n; i++)
		bytes += h[i].name_len + h[i].value_len + 2;
	out = arena_alloc(&r->arena, bytes);
	if (!out)
		return NULL;
	p = (char *)(out + (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		if (proxy_h2_drop_field(h[i].name, h[i].name_len, h[i].value,
					h[i].value_len))
			continue;
		out[k].name = p;
		out[k].name_len = h[i].name_len;
		memcpy(p, h[i].name, h[i].name_len);
		p += h[i].name_len;
		*p++ = '\0';
		out[k].value = p;
		out[k].value_len = h[i].value_len;
		memcpy(p, h[i].value, h[i].value_len);
		p += h[i].value_len;
		*p++ = '\0';
		k++;
	}
	*kept = k;
	return out;
}

static void timer_arm(struct proxy_h2_req *r, int64_t ns, bool deadline)
{
	ev_timer_stop(req_loop(r), &r->timer);
	r->deadline = deadline;
	if (ns <= 0)
		return;
	ev_timer_set(&r->timer, secs(ns), 0);
	ev_timer_start(req_loop(r), &r->timer);
}

/* drop_body - no more retries: the held body goes */
static void drop_body(struct proxy_h2_req *r)
{
	r->replayable = false;
	r->hc->held -= buf_len(&r->body);
	buf_release(&r->body);
	buf_init(&r->body, BODY_MAX);
}

/* hold_body - keep n more body bytes in r (pending, or for a retry) */
static int hold_body(struct proxy_h2_req *r, const void *p, size_t n)
{
	int err = buf_append(&r->body, p, n);

	if (!err)
		r->hc->held += n;
	return err;
}

/* up_reset - cancel r's upstream stream (its close comes later) */
static void up_reset(struct proxy_h2_req *r, uint32_t code)
{
	if (r->su)
		h2_stream_reset(r->su, code);
}

/* leave_queue - r no longer waits for an address or a connection */
static void leave_queue(struct proxy_h2_req *r)
{
	if (r->state == REQ_ROUTING)
		proxy_h2_route_cancel(r);
	else if (r->state == REQ_QUEUED && r->up)
		up_dequeue(r->up, r);
	if (r->state == REQ_ROUTING || r->state == REQ_QUEUED) {
		r->state = REQ_DONE;
		r->up = NULL;
	}
}

static void log_answer(struct proxy_h2_req *r, int status, int grpc,
		       const char *reason)
{
	char a[SOCK_ADDR_STRLEN], p[SOCK_ADDR_STRLEN], q[96];

	log_info("h2: the proxy answers",
		 "dir=%s peer=%s target=%s status=%d grpc_status=%d reason=%s",
		 proxy_dir_name(r->hc->c->dir),
		 sock_addr_format(&r->hc->c->peer, p, sizeof(p)),
		 sock_addr_format(&r->hc->c->target, a, sizeof(a)), status,
		 r->grpc ? grpc : -1, log_quote(q, sizeof(q), reason));
}

/*
 * req_answer - the proxy's own answer to r (see proxy_h2.h), when no
 * response head went out yet; else all it can do is reset. The upstream
 * stream, if any, is cancelled.
 */
static void req_answer(struct proxy_h2_req *r, enum proxy_h2_fail why,
		       const char *reason)
{
	int grpc, status = proxy_h2_fail_status(why, &grpc);
	char gs[24], clen[24];
	struct buf msg;

	leave_queue(r);
	r->state = REQ_DONE;
	ev_timer_stop(req_loop(r), &r->timer);
	up_reset(r, H2_CANCEL);
	drop_body(r);
	if (!r->sc)
		return;
	if (r->resp_head) {
		h2_stream_reset(r->sc, H2_CANCEL);
		return;
	}
	log_answer(r, status, grpc, reason);
	r->answer = reason;
	r->resp_head = r->resp_ended = true;
	r->head_ns = time_mono_ns();
	snprintf(gs, sizeof(gs), "%d", r->grpc ? grpc : status);
	if (r->grpc) {
		struct h2_header h[] = {
			H2_HEADER(":status", "200"),
			H2_HEADER("content-type", "application/grpc"),
			h2_header_str("grpc-status", gs),
			H2_HEADER("grpc-message", ""),
			h2_header_str("conduit-proxy-error", reason),
		};

		buf_init(&msg, 1024);
		if (!grpc_percent_encode(&msg, reason, strlen(reason))) {
			h[3].value = (const char *)buf_head(&msg);
			h[3].value_len = buf_len(&msg);
		}
		r->status = 200;
		r->grpc_status = grpc;
		if (h2_stream_respond(r->sc, h, ARRAY_SIZE(h), H2_END))
			h2_stream_reset(r->sc, H2_INTERNAL_ERROR);
		buf_release(&msg);
		return;
	}
	snprintf(clen, sizeof(clen), "%zu", strlen(reason) + 1);
	{
		struct h2_header h[] = {
			h2_header_str(":status", gs),
			H2_HEADER("content-type", "text/plain"),
			h2_header_str("content-length", clen),
			h2_header_str("conduit-proxy-error", reason),
		};

		r->status = status;
		if (h2_stream_respond(r->sc, h, ARRAY_SIZE(h), 0) ||
		    h2_stream_write(r->sc, reason, strlen(reason)) ||
		    h2_stream_write(r->sc, "\n", 1) ||
		    h2_stream_end(r->sc, NULL, 0))
			h2_stream_reset(r->sc, H2_INTERNAL_ERROR);
	}
}

/*
 * req_open - send r on u (connected): the head, the body held, the end
 * if it came. A refusal to open goes back to routing (another
 * connection) while retries are left.
 */
/* deadline_left - the grpc-timeout the upstream gets: what is left of
 * the client's after the time r waited (for an address, a connection) */
static void deadline_left(struct proxy_h2_req *r)
{
	char v[16], *copy;
	double left;

	if (!r->deadline || !ev_is_active(&r->timer))
		return;
	left = ev_timer_remaining(req_loop(r), &r->timer);
	grpc_timeout_format(MAX((int64_t)(left * NSEC_PER_SEC), 1), v,
			    sizeof(v));
	for (size_t i = 0; i < r->nhead; i++) {
		struct h2_header *h = &r->head[i];

		if (!NAME_IS(h->name, h->name_len, "grpc-timeout"))
			continue;
		copy = arena_strdup(&r->arena, v);
		if (copy) {
			h->value = copy;
			h->value_len = strlen(copy);
		}
	}
}

static void req_open(struct proxy_h2_req *r, struct up *u)
{
	bool end = r->req_ended && !buf_len(&r->body) && !r->ntrailers;
	int err;

	r->up = u;
	deadline_left(r);
	/* the head lives in r's arena until su closes: not copied again */
	err = h2_conn_request(u->h2, r->head, r->nhead,
			      H2_NO_COPY | (end ? H2_END : 0), r, &r->su);
	if (err) {
		r->su = NULL;
		u->goaway = true; /* it takes no more */
		if (err == -ENOTCONN && r->retries++ < MAX_RETRIES) {
			route(r);
			return;
		}
		r->state = REQ_DONE;
		req_answer(r, PROXY_H2_REFUSED, "upstream refused the stream");
		return;
	}
	r->state = REQ_OPEN;
	u->nstreams++;
	r->req_fwd_ended = end;
	if (buf_len(&r->body)) {
		/* bytes the client was acknowledged for before (sent on a
		 * stream that was then refused) are not acknowledged again */
		r->skip = buf_len(&r->body) - h2_stream_unconsumed(r->sc);
		if (h2_stream_write(r->su, buf_head(&r->body), buf_len(&r->body))) {
			req_answer(r, PROXY_H2_UNAVAILABLE, "upstream queue full");
			return;
		}
		if (buf_len(&r->body) > REPLAY_MAX)
			drop_body(r);
	}
	if (r->req_ended && !r->req_fwd_ended) {
		r->req_fwd_ended = true;
		h2_stream_end(r->su, r->trailers, r->ntrailers);
	}
}

static void on_req_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_h2_req *r = container_of(w, struct proxy_h2_req, timer);

	(void)loop;
	(void)revents;
	if (r->deadline)
		req_answer(r, PROXY_H2_DEADLINE, "grpc-timeout exceeded");
	else
		req_answer(r, PROXY_H2_RESPONSE_TIMEOUT,
			   "upstream response timeout");
	req_maybe_free(r);
}

/* req_finish - the record of a request that is over: metrics, a line */
static void req_finish(struct proxy_h2_req *r)
{
	struct proxy *px = req_px(r);
	char a[SOCK_ADDR_STRLEN], q1[96], q2[96];

	if (r->tap.n) {
		if (r->status)
			proxy_tap_response(px, &r->tap, r->status);
		proxy_tap_end(px, &r->tap, r->grpc ? r->grpc_status : -1,
			      r->reset, r->down_bytes);
	}
	count_request(r);
	if (r->status && r->hm) {
		const struct proxy_http_status *st = proxy_metrics_grpc_status(
		    px->metrics, r->hm, r->status, r->grpc ? r->grpc_status : -1);

		metrics_counter_inc(st->total);
		metrics_histogram_observe(st->latency,
					  (double)(r->head_ns - r->start_ns) /
					      NSEC_PER_MSEC);
	}
	if (!log_enabled(LOG_DEBUG))
		return;
	log_debug("h2 stream",
		  "dir=%s upstream=%s authority=%s path=%s status=%d "
		  "grpc_status=%d reset=%s answer=%s retries=%d up_bytes=%llu "
		  "down_bytes=%llu ms=%.3f",
		  proxy_dir_name(r->hc->c->dir),
		  sock_addr_format(&r->addr, a, sizeof(a)),
		  log_quote(q1, sizeof(q1), r->authority ? r->authority : ""),
		  log_quote(q2, sizeof(q2), r->path ? r->path : ""), r->status,
		  r->grpc_status, r->reset ? h2_error_name(r->reset) : "none",
		  r->answer ? "true" : "false", r->retries,
		  (unsigned long long)r->up_bytes,
		  (unsigned long long)r->down_bytes,
		  (double)(time_mono_ns() - r->start_ns) / NSEC_PER_MSEC);
}

static void req_free(struct proxy_h2_req *r)
{
	struct hconn *hc = r->hc;

	req_finish(r);
	dsc_wait_cancel(&r->wait);
	ep_drop(r);
	count_bytes(hc->h2, &hc->c->metrics->src, &hc->in_seen, &hc->out_seen);
	ev_timer_stop(req_loop(r), &r->timer);
	proxy_tap_req_release(&r->tap);
	for (struct held *hd = r->held; hd; hd = hd->next)
		h2_head_release(hd->bufs, hd->n);
	arena_release(&r->arena);
	drop_body(r);
	if (r->prev)
		r->prev->next = r->next;
	else
		hc->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pool_put(&hc->req_pool, r);
}

/* req_maybe_free - free r once neither side nor a queue holds it */
static void req_maybe_free(struct proxy_h2_req *r)
{
	if (r->sc || r->su || r->state == REQ_ROUTING ||
	    r->state == REQ_QUEUED)
		return;
	req_free(r);
}

/* --- the client side ----------------------------------------------------------- */

static void on_request(struct hconn *hc, struct h2_stream *s,
		       const struct h2_header *h, size_t n, bool end)
{
	struct proxy_conn *c = hc->c;
	const struct h2_header *f;
	struct proxy_h2_req *r = pool_get(&hc->req_pool);
	int64_t ns;

	if (!r) {
		h2_stream_reset(s, H2_REFUSED_STREAM);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->hc = hc;
	r->sc = s;
	r->state = REQ_DONE;
	r->grpc_status = -1;
	r->replayable = true;
	r->start_ns = time_mono_ns();
	retry_budget_deposit(&c->px->retries, ev_now(c->px->loop));
	/* the heads and trailers kept (keep()): one block of 2 KiB holds
	 * a usual request's, its allocation pool_malloc's 2 KiB class */
	arena_init(&r->arena, ARENA_BLOCK_FIT(2048),
		   (size_t)c->px->cfg->h2_max_header_list * 4 + 4096);
	buf_init(&r->body, BODY_MAX);
	ev_timer_init(&r->timer, on_req_timer, 0, 0);
	r->next = hc->reqs;
	if (hc->reqs)
		hc->reqs->prev = r;
	hc->reqs = r;
	h2_stream_set_data(s, r);
	hc->requests++;

	r->grpc = proxy_h2_is_grpc(h, n);
	r->req_ended = end;
	r->head = keep(r, s, h, n, &r->nhead);
	f = h2_header_find(h, n, ":authority");
	if (!f)
		f = h2_header_find(h, n, "host");
	if (!hc->hm || hc->hm->authority_len != (f ? f->value_len : 0) ||
	    (f && memcmp(hc->hm->authority, f->value, f->value_len)))
		hc->hm = proxy_metrics_http(c->px->metrics, c->dir, &c->target,
					    proxy_conn_tls_id(c),
					    f ? f->value : "",
					    f ? f->value_len : 0);
	r->hm = hc->hm; /* counted once routed (count_request) */
	if (!r->head) {
		req_answer(r, PROXY_H2_UNAVAILABLE, "request head too large");
		return;
	}
	for (size_t i = 0; i < r->nhead; i++) {
		const struct h2_header *k = &r->head[i];

		if (NAME_IS(k->name, k->name_len, ":authority") ||
		    (!r->authority && NAME_IS(k->name, k->name_len, "host"))) {
			r->authority = k->value;
			r->authority_len = k->value_len;
		} else if (NAME_IS(k->name, k->name_len, ":path")) {
			r->path = k->value;
		}
	}
	/* no check of px->draining: h2_conn_shutdown() tells the client
	 * which streams it serves, and these are among them */
	f = r->grpc ? h2_header_find(h, n, "grpc-timeout") : NULL;
	if (f && !grpc_timeout_parse(f->value, f->value_len, &ns))
		timer_arm(r, ns, true);
	else if (end && !r->grpc)
		timer_arm(r, c->px->cfg->http_response_timeout, false);
	route(r);
}

static void on_client_headers(struct h2_stream *s, enum h2_head kind,
			      const struct h2_header *h, size_t n, bool end)
{
	struct hconn *hc = h2_conn_data(h2_stream_conn(s));
	struct proxy_h2_req *r = h2_stream_data(s);

	if (kind == H2_HEAD_REQUEST) {
		on_request(hc, s, h, n, end);
		return;
	}
	if (!r || kind != H2_HEAD_TRAILERS)
		return;
	/* request trailers: the end, kept for the open or a retry */
	r->trailers = keep(r, s, h, n, &r->ntrailers);
	if (!r->trailers) {
		r->ntrailers = 0;
		req_answer(r, PROXY_H2_UNAVAILABLE, "request trailers too large");
		req_maybe_free(r);
		return;
	}
	r->req_ended = true;
	if (r->state == REQ_OPEN && !r->req_fwd_ended) {
		r->req_fwd_ended = true;
		h2_stream_end(r->su, r->trailers, r->ntrailers);
	}
}

static void on_client_data(struct h2_stream *s, const uint8_t *p, size_t n)
{
	struct proxy_h2_req *r = h2_stream_data(s);

	if (!r) {
		h2_stream_consume(s, n);
		return;
	}

	r->up_bytes += n;
	if (r->state == REQ_DONE || (r->state == REQ_OPEN && !r->su)) {
		/* nobody takes it (answered, or the upstream is done) */
		h2_stream_consume(s, n);
		return;
	}
	if (r->state == REQ_OPEN) {
		if (h2_stream_write(r->su, p, n)) {
			/* the send queue is at least our window: a bug */
			h2_stream_reset(s, H2_INTERNAL_ERROR);
			up_reset(r, H2_CANCEL);
			return;
		}
		if (!r->replayable)
			return;
		if (buf_len(&r->body) + n > REPLAY_MAX ||
		    r->hc->held + n > CONN_REPLAY_MAX) {
			drop_body(r);
			return;
		}
	}
	/* pending (held until the stream opens), or kept for a retry */
	if (hold_body(r, p, n)) {
		req_answer(r, PROXY_H2_UNAVAILABLE, "request body buffer full");
		req_maybe_free(r);
	}
}

static void on_client_end(struct h2_stream *s)
{
	struct proxy_h2_req *r = h2_stream_data(s);

	if (!r)
		return;

	if (r->req_ended && r->req_fwd_ended)
		return;
	r->req_ended = true;
	if (!r->resp_head && !r->grpc && !ev_is_active(&r->timer))
		timer_arm(r, req_px(r)->cfg->http_response_timeout, false);
	if (r->state == REQ_OPEN && r->su && !r->req_fwd_ended) {
		r->req_fwd_ended = true;
		h2_stream_end(r->su, r->trailers, r->ntrailers);
	}
}

/* response bytes left the client stream's queue: the upstream may send
 * that much more */
static void on_client_sent(struct h2_stream *s, size_t n)
{
	struct proxy_h2_req *r = h2_stream_data(s);

	if (!r)
		return;

	if (r->su)
		h2_stream_consume(r->su, MIN(n, h2_stream_unconsumed(r->su)));
}

static void on_client_stream_close(struct h2_stream *s, uint32_t error)
{
	struct proxy_h2_req *r = h2_stream_data(s);

	if (!r)
		return;
	r->sc = NULL;
	if (error != H2_NO_ERROR && !r->reset)
		r->reset = error;
	leave_queue(r);
	ev_timer_stop(req_loop(r), &r->timer);
	/* the client gave up, or its response is whole while the request
	 * was still being sent: the upstream stream has no one to serve */
	if (r->su && (error != H2_NO_ERROR || !r->req_fwd_ended))
		up_reset(r, error == H2_NO_ERROR || error == H2_CONNECTION_LOST ?
				    H2_CANCEL : error);
	req_maybe_free(r);
}

static void on_client_close(struct h2_conn *h2, int err)
{
	struct hconn *hc = h2_conn_data(h2);
	char q[128];

	if (hc->gone)
		return;
	log_debug("h2: client connection over", "dir=%s err=%d reason=%s",
		  proxy_dir_name(hc->c->dir), err,
		  log_quote(q, sizeof(q), h2_conn_reason(h2)));
	proxy_conn_close(hc->c);
}

static const struct h2_callbacks client_callbacks = {
	.on_headers = on_client_headers,
	.on_data = on_client_data,
	.on_end = on_client_end,
	.on_sent = on_client_sent,
	.on_stream_close = on_client_stream_close,
	.on_close = on_client_close,
};

/* --- the upstream side ------------------------------------------------------- */

/*
 * respond - pass a response head to the client: kept in r's arena (which
 * outlives the client stream) and sent from there uncopied; when the
 * arena is full, filtered on the stack and copied by h2
 */
static int respond(struct proxy_h2_req *r, struct h2_stream *s,
		   const struct h2_header *h, size_t n, bool end)
{
	struct h2_header out[MAX_FIELDS];
	const struct h2_header *kept;
	size_t k;

	kept = keep(r, s, h, n, &k);
	if (kept)
		return h2_stream_respond(r->sc, kept, k,
					 H2_NO_COPY | (end ? H2_END : 0));
	k = filter(h, n, out);
	return h2_stream_respond(r->sc, out, k, end ? H2_END : 0);
}

/* end_with - the response's trailers to the client, kept as respond()
 * keeps a head */
static int end_with(struct proxy_h2_req *r, struct h2_stream *s,
		    const struct h2_header *h, size_t n)
{
	struct h2_header out[MAX_FIELDS];
	const struct h2_header *kept;
	size_t k;

	kept = keep(r, s, h, n, &k);
	if (kept)
		return h2_stream_end_no_copy(r->sc, kept, k);
	return h2_stream_end(r->sc, out, filter(h, n, out));
}

/* status_of - a :status field's code (nghttp2 checked: three digits) */
static int status_of(const struct h2_header *st)
{
	if (st->value_len != 3)
		return atoi(st->value);
	return (st->value[0] - '0') * 100 + (st->value[1] - '0') * 10 +
	       (st->value[2] - '0');
}

static void on_response(struct proxy_h2_req *r, struct h2_stream *s,
			const struct h2_header *h, size_t n, bool end)
{
	const struct h2_header *st = h2_header_find(h, n, ":status");

	r->resp_head = true;
	r->head_ns = time_mono_ns();
	r->status = st ? status_of(st) : 502;
	ep_finish(r, r->head_ns - r->start_ns);
	proxy_tap_response(req_px(r), &r->tap, r->status);
	if (!r->deadline)
		ev_timer_stop(req_loop(r), &r->timer);
	drop_body(r); /* answered: never retried */
	if (end) {
		const struct h2_header *g = h2_header_find(h, n, "grpc-status");

		if (g)
			r->grpc_status = atoi(g->value);
		r->resp_ended = true;
	}
	if (respond(r, s, h, n, end)) {
		h2_stream_reset(r->sc, H2_INTERNAL_ERROR);
		up_reset(r, H2_CANCEL);
	}
}

static void on_up_headers(struct h2_stream *s, enum h2_head kind,
			  const struct h2_header *h, size_t n, bool end)
{
	struct proxy_h2_req *r = h2_stream_data(s);
	const struct h2_header *g;

	if (!r || kind == H2_HEAD_INFO)
		return;
	if (!r->sc) {
		h2_stream_reset(s, H2_CANCEL);
		return;
	}
	if (kind == H2_HEAD_RESPONSE) {
		on_response(r, s, h, n, end);
		return;
	}
	/* trailers: the gRPC status lives here */
	g = h2_header_find(h, n, "grpc-status");
	if (g)
		r->grpc_status = atoi(g->value);
	r->resp_ended = true;
	ev_timer_stop(req_loop(r), &r->timer);
	if (end_with(r, s, h, n))
		h2_stream_reset(r->sc, H2_INTERNAL_ERROR);
}

static void on_up_data(struct h2_stream *s, const uint8_t *p, size_t n)
{
	struct proxy_h2_req *r = h2_stream_data(s);

	if (!r || !r->sc) {
		h2_stream_consume(s, n);
		return;
	}
	r->down_bytes += n;
	if (h2_stream_write(r->sc, p, n)) {
		/* the client stream was reset or ended: nobody reads this */
		h2_stream_consume(s, n);
		up_reset(r, H2_CANCEL);
	}
}

static void on_up_end(struct h2_stream *s)
{
	struct proxy_h2_req *r = h2_stream_data(s);

	if (!r || !r->sc || r->resp_ended)
		return;
	r->resp_ended = true;
	ev_timer_stop(req_loop(r), &r->timer);
	if (h2_stream_end(r->sc, NULL, 0))
		h2_stream_reset(r->sc, H2_INTERNAL_ERROR);
}

/* request bytes left the upstream stream's queue: the client may send
 * that much more (less what a retry sent again) */
static void on_up_sent(struct h2_stream *s, size_t n)
{
	struct proxy_h2_req *r = h2_stream_data(s);
	size_t k;

	if (!r)
		return;
	k = MIN(n, r->skip);
	r->skip -= k;
	n -= k;
	if (r->sc && n)
		h2_stream_consume(r->sc, MIN(n, h2_stream_unconsumed(r->sc)));
}

/* req_safe - r's method is safe (GET, HEAD, OPTIONS, TRACE): sending it
 * twice changes nothing at the upstream. gRPC calls are POSTs. */
static bool req_safe(const struct proxy_h2_req *r)
{
	const struct h2_header *m = h2_header_find(r->head, r->nhead, ":method");

	return m && (NAME_IS(m->value, m->value_len, "GET") ||
		     NAME_IS(m->value, m->value_len, "HEAD") ||
		     NAME_IS(m->value, m->value_len, "OPTIONS") ||
		     NAME_IS(m->value, m->value_len, "TRACE"));
}

static void on_up_stream_close(struct h2_stream *s, uint32_t error)
{
	struct up *u = h2_conn_data(h2_stream_conn(s));
	struct proxy_h2_req *r = h2_stream_data(s);

	u->nstreams--;
	count_bytes(u->h2, &u->m->dst, &u->in_seen, &u->out_seen);
	if (!r)
		return;
	r->su = NULL;
	if (error != H2_NO_ERROR && !r->reset)
		r->reset = error;
	if (r->state != REQ_OPEN || !r->sc) {
		req_maybe_free(r);
		return;
	}
	r->state = REQ_DONE;
	if (error == H2_NO_ERROR && r->resp_ended) {
		req_maybe_free(r);
		return;
	}
	if (!r->resp_head) {
		/* not processed (REFUSED_STREAM, or above a GOAWAY's last
		 * stream): safe to send again, if the body is all here */
		if (error == H2_REFUSED_STREAM && r->replayable &&
		    r->retries < MAX_RETRIES) {
			r->retries++;
			route(r);
			return;
		}
		/* the connection went away with the request maybe processed:
		 * again only a safe method (RFC 9110 9.2.1), within the retry
		 * budget (a crashing upstream does not see every request
		 * twice) */
		if (error == H2_CONNECTION_LOST && r->replayable && req_safe(r) &&
		    r->retries < MAX_RETRIES &&
		    retry_budget_withdraw(&req_px(r)->retries,
					  ev_now(req_loop(r)))) {
			r->retries++;
			route(r);
			return;
		}
		req_answer(r,
			   error == H2_CONNECTION_LOST ? PROXY_H2_LOST :
							 PROXY_H2_REFUSED,
			   error == H2_CONNECTION_LOST ?
				   "upstream connection lost" :
			   error == H2_REFUSED_STREAM ?
				   "upstream refused the stream" :
				   "upstream reset the stream");
		req_maybe_free(r);
		return;
	}
	/* mid-response: the client hears what the upstream said */
	h2_stream_reset(r->sc, error == H2_CONNECTION_LOST ? H2_INTERNAL_ERROR :
							     error);
}

static void on_up_goaway(struct h2_conn *h2, uint32_t last_id, uint32_t error)
{
	struct up *u = h2_conn_data(h2);
	char a[SOCK_ADDR_STRLEN];

	u->goaway = true;
	log_debug("h2: upstream sent GOAWAY", "addr=%s last_stream=%u error=%s",
		  sock_addr_format(&u->addr, a, sizeof(a)), last_id,
		  h2_error_name(error));
}

static void on_up_close(struct h2_conn *h2, int err)
{
	struct up *u = h2_conn_data(h2);
	char a[SOCK_ADDR_STRLEN], q[128];

	log_debug("h2: upstream connection over", "addr=%s err=%d reason=%s",
		  sock_addr_format(&u->addr, a, sizeof(a)), err,
		  log_quote(q, sizeof(q), h2_conn_reason(h2)));
	up_free(u);
}

static const struct h2_callbacks up_callbacks = {
	.on_headers = on_up_headers,
	.on_data = on_up_data,
	.on_end = on_up_end,
	.on_sent = on_up_sent,
	.on_stream_close = on_up_stream_close,
	.on_goaway = on_up_goaway,
	.on_close = on_up_close,
};

/* --- the handler ------------------------------------------------------------- */

static int h2p_start(struct proxy_conn *c)
{
	const struct proxy_config *cfg = c->px->cfg;
	struct hconn *hc = xcalloc(1, sizeof(*hc));
	struct h2_config hcfg = {
		.role = H2_SERVER,
		.loop = c->px->loop,
		.cb = &client_callbacks,
		.data = hc,
		.name = "h2-client",
		.lim = {
			.max_streams = (uint32_t)cfg->h2_max_concurrent_streams,
			.stream_window = STREAM_WINDOW,
			.conn_window = CLIENT_CONN_WINDOW,
			.max_header_list = (size_t)cfg->h2_max_header_list,
			.max_header_fields = MAX_FIELDS,
			.stream_send_max = STREAM_WINDOW,
			.idle_timeout = cfg->h2_idle_timeout ?
				secs(cfg->h2_idle_timeout) : -1,
			.manual_flow = true,
		},
		.initial = buf_head(&c->prefix),
		.initial_len = buf_len(&c->prefix),
	};
	int fd;

	hc->c = c;
	c->ctx = hc;
	/* streams outlive their client stream while the upstream one closes */
	pool_init(&hc->req_pool, sizeof(struct proxy_h2_req), 16,
		  (size_t)cfg->h2_max_concurrent_streams * 2 + 16);
	/* h2 owns a copy of the socket; c->fd stays ours (for an abort) */
	fd = dup(c->fd);
	if (fd < 0)
		return -errno;
	hc->h2 = h2_conn_new(&hcfg, fd);
	if (!hc->h2)
		return -ENOMEM;
	/* detection counted the prefix already */
	hc->in_seen = buf_len(&c->prefix);
	buf_release(&c->prefix);
	buf_init(&c->prefix, 0);
	return 0;
}

static void h2p_drain(struct proxy_conn *c)
{
	struct hconn *hc = c->ctx;

	if (hc && hc->h2 && !hc->gone)
		h2_conn_shutdown(hc->h2);
}

static void h2p_stop(struct proxy_conn *c)
{
	struct hconn *hc = c->ctx;
	char a[SOCK_ADDR_STRLEN];

	if (!hc)
		return;
	hc->gone = true;
	/* every request lets go of its upstream stream: h2_conn_free drops
	 * the client streams without callbacks */
	while (hc->reqs) {
		struct proxy_h2_req *r = hc->reqs;

		leave_queue(r);
		if (r->su) {
			h2_stream_set_data(r->su, NULL);
			h2_stream_reset(r->su, H2_CANCEL);
			r->su = NULL;
		}
		r->sc = NULL;
		req_free(r);
	}
	count_bytes(hc->h2, &c->metrics->src, &hc->in_seen, &hc->out_seen);
	h2_conn_free(hc->h2);
	hc->h2 = NULL;
	log_debug("connection closed",
		  "dir=%s proto=%s target=%s requests=%llu ms=%lld",
		  proxy_dir_name(c->dir), proxy_proto_name(c->proto),
		  sock_addr_format(&c->target, a, sizeof(a)),
		  (unsigned long long)hc->requests,
		  (long long)((time_mono_ns() - c->accepted_ns) / NSEC_PER_MSEC));
}

static void h2p_release(struct proxy_conn *c)
{
	struct hconn *hc = c->ctx;

	if (!hc)
		return;
	pool_release(&hc->req_pool);
	free(hc);
	c->ctx = NULL;
}

const struct proxy_handler proxy_h2_handler = {
	.name = "h2",
	.start = h2p_start,
	.drain = h2p_drain,
	.stop = h2p_stop,
	.release = h2p_release,
};
