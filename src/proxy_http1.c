/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_http1.c - the proxy's HTTP/1.1 handler: keep-alive, streamed bodies, tunnels */
#include "conduit/proxy_http1.h"
#include "conduit/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/discovery.h"
#include "conduit/log.h"
#include "conduit/proxy_tap.h"
#include "conduit/proxy_tcp.h"
#include "conduit/time.h"

/* an input buffer holds a whole head (64 KiB) and some */
#define IN_MAX (HTTP1_DEFAULT_MAX_HEAD + (16u << 10))
/* parse (and so produce) more only while the output is below this */
#define OUT_HIGH (64u << 10)
/* one parsed piece (a head, or a body piece of at most IN_MAX) fits */
#define OUT_MAX (OUT_HIGH + IN_MAX + (8u << 10))
#define STEP_ROUNDS 16 /* read/parse/write rounds per wakeup: fairness */

/* --- pure helpers ------------------------------------------------------- */

/* IEQ - name[0..len) is the literal lit, ASCII case-insensitively */
#define IEQ(name, len, lit)                                                    \
	((len) == sizeof(lit) - 1 && !strncasecmp((name), (lit), sizeof(lit) - 1))

/* fixed_hop - a hop-by-hop field whatever Connection says: one length
 * test for most fields (every field of every head passes here) */
static bool fixed_hop(const char *name, size_t len)
{
	switch (len) {
	case 2:
		return IEQ(name, len, "te");
	case 7:
		return IEQ(name, len, "trailer") || IEQ(name, len, "upgrade");
	case 10:
		return IEQ(name, len, "connection") ||
		       IEQ(name, len, "keep-alive");
	case 16:
		return IEQ(name, len, "proxy-connection");
	case 17:
		return IEQ(name, len, "transfer-encoding");
	default:
		return false;
	}
}

bool proxy_http1_hop_by_hop(const char *name, size_t len, const char *conn,
			    size_t conn_len)
{
	if (fixed_hop(name, len))
		return true;
	/* Connection: a comma-separated list of field names (RFC 9110 7.6.1) */
	for (size_t i = 0; conn && i < conn_len;) {
		size_t s, e;

		while (i < conn_len && (conn[i] == ' ' || conn[i] == '\t' ||
					conn[i] == ','))
			i++;
		s = i;
		while (i < conn_len && conn[i] != ',')
			i++;
		e = i;
		while (e > s && (conn[e - 1] == ' ' || conn[e - 1] == '\t'))
			e--;
		if (e > s && e - s == len && strncasecmp(conn + s, name, len) == 0)
			return true;
	}
	return false;
}

enum proxy_http1_framing
proxy_http1_request_framing(const struct http1_parser *req)
{
	if (http1_chunked(req))
		return PROXY_H1_CHUNKED;
	if (http1_content_length(req) >= 0)
		return PROXY_H1_LENGTH;
	return PROXY_H1_NONE;
}

enum proxy_http1_framing
proxy_http1_response_framing(const struct http1_parser *resp,
			     bool head_request, int client_version)
{
	int s = http1_status(resp);

	if (head_request || (s >= 100 && s < 200) || s == 204 || s == 304)
		return PROXY_H1_NONE;
	if (http1_chunked(resp))
		return client_version >= 11 ? PROXY_H1_CHUNKED : PROXY_H1_EOF;
	if (http1_content_length(resp) >= 0)
		return PROXY_H1_LENGTH;
	return PROXY_H1_EOF;
}

#define CONN_FIELDS 8 /* Connection fields kept at hand (more: slow path) */

/* dropped - is the field called name hop-by-hop in p: fixed, or named
 * by any of p's Connection fields (for a head with many of them) */
static bool dropped(const struct http1_parser *p, struct http1_str name)
{
	size_t n = http1_header_count(p);

	if (fixed_hop(name.p, name.len))
		return true;
	for (size_t i = 0; i < n; i++) {
		struct http1_str k, v;

		http1_header_at(p, i, &k, &v);
		if (IEQ(k.p, k.len, "connection") &&
		    proxy_http1_hop_by_hop(name.p, name.len, v.p, v.len))
			return true;
	}
	return false;
}

/*
 * put_field - "name: value\r\n" into out by memcpy (buf_printf's format
 * parsing was a third of a proxied HTTP/1.1 request's instructions)
 */
static int put_field(struct buf *out, struct http1_str k, struct http1_str v)
{
	unsigned char *t;
	int r = buf_reserve(out, k.len + v.len + 4);

	if (r)
		return r;
	t = buf_tail(out);
	memcpy(t, k.p, k.len);
	t += k.len;
	*t++ = ':';
	*t++ = ' ';
	if (v.len)
		memcpy(t, v.p, v.len);
	t += v.len;
	*t++ = '\r';
	*t = '\n';
	buf_commit(out, k.len + v.len + 4);
	return 0;
}

/* put_start - the request or status line */
static int put_start(struct buf *out, const struct http1_parser *p,
		     enum http1_kind kind)
{
	struct http1_str t = http1_target(p);
	int status = http1_status(p);
	unsigned char *o;
	size_t mlen = 0;
	int r;

	if (kind == HTTP1_REQUEST) {
		mlen = strlen(http1_method(p));
		r = buf_reserve(out, mlen + 1 + t.len + 11);
	} else if (status < 100 || status > 999) {
		return buf_printf(out, "HTTP/1.1 %d %.*s\r\n", status,
				  (int)t.len, t.p);
	} else {
		r = buf_reserve(out, 13 + t.len + 2);
	}
	if (r)
		return r;
	o = buf_tail(out);
	if (kind == HTTP1_REQUEST) {
		memcpy(o, http1_method(p), mlen);
		o[mlen] = ' ';
		memcpy(o + mlen + 1, t.p, t.len);
		memcpy(o + mlen + 1 + t.len, " HTTP/1.1\r\n", 11);
		buf_commit(out, mlen + t.len + 12);
		return 0;
	}
	memcpy(o, "HTTP/1.1 ", 9);
	o[9] = (unsigned char)('0' + status / 100);
	o[10] = (unsigned char)('0' + status / 10 % 10);
	o[11] = (unsigned char)('0' + status % 10);
	o[12] = ' ';
	if (t.len) /* a reason phrase may be empty (and t.p NULL) */
		memcpy(o + 13, t.p, t.len);
	memcpy(o + 13 + t.len, "\r\n", 2);
	buf_commit(out, t.len + 15);
	return 0;
}

int proxy_http1_write_head(const struct http1_parser *p, enum http1_kind kind,
			   unsigned flags, struct buf *out)
{
	struct http1_str conn[CONN_FIELDS];
	size_t n = http1_header_count(p), nconn = 0;
	int r;

	/* the Connection fields, once: they name more fields to drop (this
	 * was a scan of every field for every field) */
	for (size_t i = 0; i < n; i++) {
		struct http1_str k, v;

		http1_header_at(p, i, &k, &v);
		if (IEQ(k.p, k.len, "connection") && nconn++ < CONN_FIELDS)
			conn[nconn - 1] = v;
	}
	r = put_start(out, p, kind);
	for (size_t i = 0; i < n && !r; i++) {
		struct http1_str k, v;
		bool drop = false;

		http1_header_at(p, i, &k, &v);
		if ((flags & PROXY_H1_HEAD_UPGRADE) && IEQ(k.p, k.len, "upgrade"))
			; /* kept: the upgrade is what is asked for */
		else if (fixed_hop(k.p, k.len))
			drop = true;
		else if (nconn > CONN_FIELDS)
			drop = dropped(p, k);
		else
			for (size_t c = 0; c < nconn && !drop; c++)
				drop = proxy_http1_hop_by_hop(
				    k.p, k.len, conn[c].p, conn[c].len);
		if (!drop)
			r = put_field(out, k, v);
	}
	if (!r && (flags & PROXY_H1_HEAD_CHUNKED))
		r = buf_append_str(out, "transfer-encoding: chunked\r\n");
	if (!r && (flags & PROXY_H1_HEAD_UPGRADE))
		r = buf_append_str(out, "connection: upgrade\r\n");
	else if (!r && (flags & PROXY_H1_HEAD_CLOSE))
		r = buf_append_str(out, "connection: close\r\n");
	if (!r)
		r = buf_append(out, "\r\n", 2);
	return r;
}

int proxy_http1_write_error(struct buf *out, int status, const char *reason)
{
	return buf_printf(out,
			  "HTTP/1.1 %d %s\r\n"
			  "content-type: text/plain\r\n"
			  "content-length: %zu\r\n"
			  "conduit-proxy-error: %s\r\n"
			  "connection: close\r\n"
			  "\r\n"
			  "%s\n",
			  status, http1_status_text(status), strlen(reason) + 1,
			  reason, reason);
}

/* --- the handler -------------------------------------------------------- */

struct h1 {
	struct proxy_conn *c;
	struct loop_reap reap;	/* freed this way after a tunnel takeover */
	bool gone;		/* closed or handed over: touch nothing */
	bool c_ready, s_ready;	/* the socket may have bytes to read */
	/* the client: c->fd */
	ev_io crd, cwr;
	ev_timer ctimer;	/* request head / keep-alive idle timeout */
	struct buf cin;		/* from the client, not yet parsed */
	struct buf cout;	/* to the client */
	struct http1_parser *req;
	bool c_eof;		/* the client sent its FIN */
	bool client_close;	/* close once cout is out; read no more */
	bool partial;		/* bytes of a request head were parsed */
	bool draining;
	bool lingering;		/* answered and shut: reading to the client's FIN */
	/* the upstream */
	int sfd;		/* -1: none */
	bool connecting;
	bool s_counted;		/* its dst open metrics are taken */
	bool s_eof;
	ev_io srd, swr;
	ev_timer stimer;	/* connect, then response timeout */
	ev_idle resume;		/* more work was left after STEP_ROUNDS */
	struct buf sin;		/* from the upstream, not yet parsed */
	struct buf sout;	/* to the upstream */
	struct http1_parser *resp;
	/* the exchange in flight */
	bool active;		/* a request head was parsed, not yet answered */
	bool req_done;		/* its end was parsed (and queued in sout) */
	bool resp_head;		/* the final response head went to cout */
	bool interim;		/* the response being parsed is a 1xx */
	bool head_req, connect_req, upgrade;
	bool close_after;	/* close the client after this exchange */
	bool tunnel;		/* relay opaquely once the 101/2xx is parsed */
	enum proxy_http1_framing req_out, resp_out;
	int version;		/* the client's: 10, 11 */
	int64_t start_ns;	/* the request head was parsed */
	struct proxy_http_metrics *hm;
	bool req_counted;	/* request_total counted, in hm's series */
	uint64_t requests;
	/* outbound routing by Host through service discovery */
	struct sock_addr upstream;	/* where sfd goes */
	struct dsc_endpoint *ep;	/* the endpoint sfd goes to, held */
	bool ep_busy;			/* a request on ep is counted pending */
	char route[256];		/* the service ep belongs to */
	/* explicit outbound, a Host no service answers for: the Host itself
	 * (an IP:port, or a name resolved with DNS) */
	char direct[256];		/* the authority sfd was opened for */
	struct resolve_req *dns;	/* its lookup in flight */
	bool in_lookup;			/* inside resolver_start() */
	struct dsc_wait wait;		/* waiting for a first answer */
	unsigned tries;			/* endpoints that failed this request */
	struct proxy_tap_req tap;	/* who taps the exchange in flight */
	uint64_t resp_bytes;		/* its response body so far */
};

static void step(struct h1 *h);

static struct ev_loop *hloop(const struct h1 *h)
{
	return h->c->px->loop;
}

static void watch(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on)
		ev_io_start(loop, w);
	else
		ev_io_stop(loop, w);
}

static void timer_arm(struct ev_loop *loop, ev_timer *t, int64_t ns)
{
	ev_timer_stop(loop, t);
	if (ns <= 0)
		return;
	ev_timer_set(t, (double)ns / NSEC_PER_SEC, 0);
	ev_timer_start(loop, t);
}

static void conn_close(struct h1 *h)
{
	h->gone = true;
	proxy_conn_close(h->c);
}

static void conn_abort(struct h1 *h)
{
	h->gone = true;
	proxy_conn_abort(h->c);
}

/* ep_finish - the request on h->ep is over (rtt_ns < 0: it failed) */
static void ep_finish(struct h1 *h, int64_t rtt_ns)
{
	if (h->ep && h->ep_busy) {
		dsc_done(h->c->px->discovery, h->ep, rtt_ns);
		h->ep_busy = false;
	}
}

/* server_close - drop the upstream connection (reset it if asked) */
static void server_close(struct h1 *h, bool reset)
{
	struct proxy_conn *c = h->c;
	struct ev_loop *loop = hloop(h);

	ev_io_stop(loop, &h->srd);
	ev_io_stop(loop, &h->swr);
	ev_timer_stop(loop, &h->stimer);
	if (h->sfd >= 0) {
		if (reset) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(h->sfd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		}
		close(h->sfd);
		h->sfd = -1;
	}
	if (h->s_counted) {
		metrics_counter_inc(c->metrics->dst.close_total);
		metrics_gauge_add(c->metrics->dst.open_conns, -1);
		h->s_counted = false;
	}
	h->connecting = false;
	h->s_eof = false;
	buf_clear(&h->sin);
	buf_clear(&h->sout);
	http1_parser_reset(h->resp);
	ep_finish(h, -1);
	if (h->ep) {
		dsc_release(h->ep);
		h->ep = NULL;
	}
	h->route[0] = 0;
}

static void log_answer(struct h1 *h, int status, const char *reason)
{
	char a[SOCK_ADDR_STRLEN], p[SOCK_ADDR_STRLEN], q[96];

	log_info("http/1: the proxy answers",
		 "dir=%s peer=%s target=%s status=%d reason=%s",
		 proxy_dir_name(h->c->dir),
		 sock_addr_format(&h->c->peer, p, sizeof(p)),
		 sock_addr_format(&h->upstream, a, sizeof(a)), status,
		 log_quote(q, sizeof(q), reason));
}

/*
 * count_request - request_total, once the series is known: at the
 * connect (after discovery chose the endpoint, whose dst_* labels the
 * series carries), on a reused upstream, or with the proxy's own answer
 */
static void count_request(struct h1 *h)
{
	if (h->req_counted || !h->hm)
		return;
	h->req_counted = true;
	metrics_counter_inc(h->hm->request_total);
}

static void count_response(struct h1 *h, int status)
{
	const struct proxy_http_status *st;
	int64_t ns = time_mono_ns() - h->start_ns;

	if (!h->hm)
		return;
	count_request(h);
	st = proxy_metrics_http_status(h->c->px->metrics, h->hm, status);
	metrics_counter_inc(st->total);
	metrics_histogram_observe(st->latency, (double)ns / NSEC_PER_MSEC);
}

/*
 * answer - the proxy's own answer to the client, then close: the upstream
 * is dropped (reset: whatever it had of the request is void). When the
 * response already started there is nothing to say but a reset.
 */
static void answer(struct h1 *h, int status, const char *reason)
{
	server_close(h, true);
	if (h->resp_head) {
		conn_abort(h);
		return;
	}
	log_answer(h, status, reason);
	if (h->active) {
		count_response(h, status);
		proxy_tap_response(h->c->px, &h->tap, status);
		proxy_tap_end(h->c->px, &h->tap, -1, 0, 0);
	}
	h->active = false;
	h->client_close = true;
	ev_timer_stop(hloop(h), &h->ctimer);
	buf_clear(&h->cout);
	if (proxy_http1_write_error(&h->cout, status, reason))
		conn_close(h);
}

/* --- the upstream connection ----------------------------------------------- */

static void connect_endpoint(struct h1 *h, struct dsc_service *svc,
			     const char *name);
static bool is_direct(const struct h1 *h);
static void route_direct(struct h1 *h);

/*
 * connect_failed - the upstream refused or timed out before any of the
 * request reached it. A service endpoint backs off and the request tries
 * another one (twice at most); else the client gets 502, or 504 for a
 * timeout.
 */
static void connect_failed(struct h1 *h, int err)
{
	struct proxy_conn *c = h->c;
	char e[64], a[SOCK_ADDR_STRLEN], name[256];
	struct buf keep;

	log_info("http/1: connect failed", "dir=%s target=%s error=%s",
		 proxy_dir_name(c->dir),
		 sock_addr_format(&h->upstream, a, sizeof(a)),
		 proxy_errstr(-err, e, sizeof(e)));
	if (h->ep && h->route[0] && h->tries < 2 &&
	    retry_budget_withdraw(&c->px->retries, ev_now(hloop(h)))) {
		dsc_connect_failed(c->px->discovery, h->ep);
		str_copy(name, h->route, sizeof(name));
		/* the request waits in sout: keep it across the close */
		keep = h->sout;
		buf_init(&h->sout, keep.max);
		server_close(h, false);
		buf_release(&h->sout);
		h->sout = keep;
		h->tries++;
		connect_endpoint(h, discovery_lookup(c->px->discovery, name),
				 name);
		return;
	}
	if (h->ep)
		dsc_connect_failed(c->px->discovery, h->ep);
	if (err == -ETIMEDOUT)
		answer(h, 504, "upstream connect timeout");
	else
		answer(h, 502, err == -ECONNREFUSED ? "upstream connection refused"
						    : "upstream connect failed");
}

static void on_connect_done(struct h1 *h)
{
	struct proxy_conn *c = h->c;
	int err = sock_error(h->sfd);

	if (err) {
		connect_failed(h, err);
		return;
	}
	h->connecting = false;
	h->s_counted = true;
	metrics_counter_inc(c->metrics->dst.open_total);
	metrics_gauge_add(c->metrics->dst.open_conns, 1);
	ev_timer_stop(hloop(h), &h->stimer);
	if (h->req_done && !h->resp_head)
		timer_arm(hloop(h), &h->stimer, c->px->cfg->http_response_timeout);
}

/* up_identity - the identity of the endpoint h connects to, if any */
static const char *up_identity(const struct h1 *h)
{
	return h->ep && sock_addr_equal(&h->ep->addr, &h->upstream) ?
		       h->ep->identity :
		       NULL;
}

static void server_connect(struct h1 *h)
{
	struct proxy_conn *c = h->c;
	int fd;

	if (!h->upstream.len) {
		/* explicit outbound and the Host names no known service */
		answer(h, 502, "no destination for this authority");
		return;
	}
	count_request(h);
	fd = proxy_upstream_connect(c->px, &h->upstream, up_identity(h));
	if (fd < 0) {
		connect_failed(h, fd);
		return;
	}
	sock_set_nodelay(fd);
	h->sfd = fd;
	h->s_ready = true;
	h->connecting = true;
	ev_io_set(&h->srd, fd, EV_READ);
	ev_io_set(&h->swr, fd, EV_WRITE);
	timer_arm(hloop(h), &h->stimer, proxy_connect_timeout(c));
}

static void on_stimer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h1 *h = container_of(w, struct h1, stimer);

	(void)loop;
	(void)revents;
	if (h->connecting)
		connect_failed(h, -ETIMEDOUT);
	else
		answer(h, 504, "upstream response timeout");
	if (!h->gone)
		step(h);
}

/* --- routing ---------------------------------------------------------------- */

/* connect_endpoint - send the request to an endpoint of service svc */
static void connect_endpoint(struct h1 *h, struct dsc_service *svc,
			     const char *name)
{
	struct dsc_endpoint *e = dsc_pick(svc);

	if (!e) {
		answer(h, 503, "no endpoints");
		return;
	}
	if (h->hm)
		h->hm = proxy_metrics_http_dst(h->c->px->metrics, h->c->dir,
					       &e->addr,
					       proxy_upstream_tls(h->c->px,
								  e->identity),
					       h->hm->authority,
					       h->hm->authority_len, e->labels);
	h->ep = e;
	h->ep_busy = true;
	h->upstream = e->addr;
	str_copy(h->route, name, sizeof(h->route));
	server_connect(h);
}

/* route_state - go on with the request once discovery knows svc */
static void route_state(struct h1 *h, struct dsc_service *svc,
			const char *name, enum dsc_state st)
{
	switch (st) {
	case DSC_READY:
		connect_endpoint(h, svc, name);
		break;
	case DSC_EMPTY:
		answer(h, 503, "no endpoints");
		break;
	case DSC_NOT_FOUND:
		/* not a service the mesh knows: where it was going, or in
		 * explicit mode where the Host says */
		if (is_direct(h) && h->hm &&
		    !discovery_cluster_name(h->hm->authority,
					    h->hm->authority_len)) {
			route_direct(h);
			break;
		}
		h->upstream = h->c->target;
		server_connect(h);
		break;
	case DSC_PENDING:
		answer(h, 503, "service discovery timed out");
		break;
	}
}

static void on_resolved(void *arg, enum dsc_state st)
{
	struct h1 *h = arg;
	char name[256];

	if (h->gone)
		return;
	str_copy(name, h->route, sizeof(name));
	h->route[0] = 0;
	route_state(h, discovery_lookup(h->c->px->discovery, name), name, st);
	if (!h->gone)
		step(h);
}

/*
 * route_name - the service the request goes to (outbound, with discovery,
 * a Host naming a service) into name; false (name "") otherwise
 */
static bool route_name(struct h1 *h, struct http1_str host, char *name,
		       size_t size)
{
	struct proxy_conn *c = h->c;

	name[0] = 0;
	return c->dir == PROXY_OUTBOUND && c->px->discovery &&
	       !h->connect_req && discovery_name(host.p, host.len, name, size);
}

/* explicit outbound: no original destination, the Host says where */
static bool is_direct(const struct h1 *h)
{
	return h->c->dir == PROXY_OUTBOUND && !h->c->target.len;
}

/* is_direct_to - was the upstream opened for hm's authority? */
static bool is_direct_to(const struct h1 *h, const struct proxy_http_metrics *hm)
{
	return hm && strlen(h->direct) == hm->authority_len &&
	       !strncasecmp(h->direct, hm->authority, hm->authority_len);
}

static void direct_connect(struct h1 *h, const struct sock_addr *a)
{
	if (proxy_is_own(h->c->px, a)) {
		answer(h, 502, "the Host is this proxy (a loop)");
		return;
	}
	h->upstream = *a;
	server_connect(h);
}

static void on_direct_resolved(void *arg, const struct sock_addr *addrs,
			       size_t n, const char *error)
{
	struct h1 *h = arg;
	char why[160];

	h->dns = NULL;
	if (h->gone)
		return;
	if (n) {
		direct_connect(h, &addrs[0]);
	} else {
		snprintf(why, sizeof(why), "cannot resolve the Host: %s", error);
		answer(h, 502, why);
	}
	if (!h->in_lookup && !h->gone)
		step(h);
}

/*
 * route_direct - explicit outbound and no service for the Host: the Host
 * itself, an IP:port or a name DNS resolves (c-ares, never blocking;
 * port 80 by default)
 */
static void route_direct(struct h1 *h)
{
	struct resolver *r;
	struct sock_addr a;
	char host[256];
	int port, rc;

	if (!h->hm || resolve_split_authority(h->hm->authority,
					      h->hm->authority_len, host,
					      sizeof(host), &port, 80) < 0) {
		answer(h, 400, "no usable Host to route by");
		return;
	}
	str_copy(h->direct, h->hm->authority,
		 MIN(sizeof(h->direct), h->hm->authority_len + 1));
	if (sock_ip_parse(host, &a) == 0) {
		sock_addr_set_port(&a, port);
		direct_connect(h, &a);
		return;
	}
	if (!(r = proxy_resolver(h->c->px))) {
		answer(h, 502, "no DNS resolver");
		return;
	}
	h->in_lookup = true;
	rc = resolver_start(r, host, port, on_direct_resolved, h, &h->dns);
	h->in_lookup = false;
	if (rc < 0)
		answer(h, 400, "the Host is not a host name");
}

/* upstream_fits - can the kept-alive upstream carry a request to name? */
static bool upstream_fits(const struct h1 *h, const char *name)
{
	if (h->sfd < 0)
		return false;
	if (!name[0])
		return !h->ep && (!h->direct[0] || is_direct_to(h, h->hm));
	return h->ep && !h->ep->removed && !strcmp(h->route, name);
}

/*
 * route - where the request just parsed goes (the upstream that did not
 * fit it is closed already). Inbound, and outbound without discovery or
 * for a Host that names no service: the connection's target. Outbound
 * with discovery: an endpoint of the service, the kept-alive one while it
 * stays in the service's set; while discovery has no answer yet the
 * request waits (its body is held by the bounded output buffer).
 */
static void route(struct h1 *h, const char *name)
{
	struct proxy_conn *c = h->c;
	struct dsc_service *svc;

	if (h->sfd >= 0) {
		if (h->ep) {
			dsc_begin(h->ep);
			h->ep_busy = true;
		}
		count_request(h);
		return;
	}
	if (!name[0]) {
		if (is_direct(h)) {
			route_direct(h);
			return;
		}
		h->upstream = c->target;
		server_connect(h);
		return;
	}
	svc = discovery_lookup(c->px->discovery, name);
	if (dsc_service_state(svc) == DSC_PENDING) {
		str_copy(h->route, name, sizeof(h->route));
		dsc_service_wait(svc, &h->wait, on_resolved, h);
		return;
	}
	route_state(h, svc, name, dsc_service_state(svc));
}

/* --- requests -------------------------------------------------------------- */

static void on_request_head(struct h1 *h)
{
	struct proxy_conn *c = h->c;
	struct http1_parser *req = h->req;
	struct http1_str host = { "", 0 };
	unsigned flags = 0;
	char name[256];

	h->active = true;
	h->partial = false;
	h->req_done = h->resp_head = h->interim = h->tunnel = false;
	h->requests++;
	h->tries = 0;
	retry_budget_deposit(&c->px->retries, ev_now(hloop(h)));
	h->start_ns = time_mono_ns();
	h->resp_bytes = 0;
	ev_timer_stop(hloop(h), &h->ctimer);
	h->head_req = !strcmp(http1_method(req), "HEAD");
	h->connect_req = !strcmp(http1_method(req), "CONNECT");
	h->upgrade = http1_upgrade(req);
	h->version = http1_version(req);
	h->close_after = h->version < 11 || !http1_keep_alive(req) ||
			 h->draining;
	if (h->connect_req)
		host = http1_target(req);
	else
		http1_header_get(req, "host", &host);
	if (!h->hm || h->hm->authority_len != host.len ||
	    memcmp(h->hm->authority, host.p, host.len))
		h->hm = proxy_metrics_http(c->px->metrics, c->dir, &c->target,
					   proxy_conn_tls_id(c), host.p,
					   host.len);
	h->req_counted = false;
	if (h->draining) {
		answer(h, 503, "proxy draining");
		return;
	}
	route_name(h, host, name, sizeof(name));
	if (h->sfd >= 0 && !upstream_fits(h, name))
		server_close(h, false); /* before the head goes into sout */
	h->req_out = proxy_http1_request_framing(req);
	if (h->req_out == PROXY_H1_CHUNKED)
		flags |= PROXY_H1_HEAD_CHUNKED;
	if (h->upgrade && !h->connect_req)
		flags |= PROXY_H1_HEAD_UPGRADE;
	if (proxy_http1_write_head(req, HTTP1_REQUEST, flags, &h->sout)) {
		answer(h, 431, "request head too large");
		return;
	}
	if (h->head_req || h->connect_req)
		http1_expect_no_body(h->resp);
	route(h, name);
	if (!h->gone) {
		struct http1_str t = http1_target(req);
		const char *m = http1_method(req);

		proxy_tap_request(c->px, &h->tap, c->dir, &c->peer,
				  h->upstream.len ? &h->upstream : &c->target,
				  c->dir == PROXY_INBOUND ? proxy_conn_tls_id(c) :
				  h->ep ? proxy_upstream_tls(c->px, h->ep->identity) :
					  NULL,
				  m, strlen(m), host.p, host.len, t.p, t.len);
	}
}

static int put_chunk(struct buf *b, const char *p, size_t n)
{
	int r = buf_printf(b, "%zx\r\n", n);

	if (!r)
		r = buf_append(b, p, n);
	if (!r)
		r = buf_append(b, "\r\n", 2);
	return r;
}

/* put_last_chunk - the 0-size chunk, the trailers of p, the blank line */
static int put_last_chunk(struct buf *b, const struct http1_parser *p)
{
	int r = buf_append_str(b, "0\r\n");

	for (size_t i = 0; i < http1_trailer_count(p) && !r; i++) {
		struct http1_str k, v;

		http1_trailer_at(p, i, &k, &v);
		r = buf_printf(b, "%.*s: %.*s\r\n", (int)k.len, k.p,
			       (int)v.len, v.p);
	}
	if (!r)
		r = buf_append_str(b, "\r\n");
	return r;
}

/* put_body - a body piece out, framed as f */
static int put_body(struct buf *b, enum proxy_http1_framing f,
		    const struct http1_event *ev)
{
	if (!ev->body_len)
		return 0;
	if (f == PROXY_H1_CHUNKED)
		return put_chunk(b, ev->body, ev->body_len);
	return buf_append(b, ev->body, ev->body_len);
}

static void request_error(struct h1 *h, int err)
{
	const char *why = http1_error_reason(h->req);
	char a[SOCK_ADDR_STRLEN], q[96];

	log_info("http/1: bad request", "dir=%s peer=%s error=%s",
		 proxy_dir_name(h->c->dir),
		 sock_addr_format(&h->c->peer, a, sizeof(a)),
		 log_quote(q, sizeof(q), why));
	if (err == -E2BIG)
		answer(h, 431, why);
	else if (err == -EMSGSIZE)
		answer(h, 413, why);
	else
		answer(h, 400, why);
}

/* parse_request - parse and forward what cin holds, as far as allowed;
 * returns whether anything moved */
static bool parse_request(struct h1 *h)
{
	bool moved = false;

	while (!h->gone && buf_len(&h->cin)) {
		struct http1_event ev;
		ssize_t n;
		int r = 0;

		if (h->client_close)
			break;
		if (h->active && (h->req_done || buf_len(&h->sout) >= OUT_HIGH))
			break;
		n = http1_parse(h->req, (const char *)buf_head(&h->cin),
				buf_len(&h->cin), &ev);
		if (n < 0) {
			request_error(h, (int)n);
			return true;
		}
		moved = true;
		switch (ev.type) {
		case HTTP1_NONE:
			if (!h->active && n > 0)
				h->partial = true;
			break;
		case HTTP1_HEAD:
			buf_consume(&h->cin, (size_t)n);
			n = 0;
			on_request_head(h);
			break;
		case HTTP1_BODY:
			r = put_body(&h->sout, h->req_out, &ev);
			break;
		case HTTP1_DONE:
			if (h->req_out == PROXY_H1_CHUNKED)
				r = put_last_chunk(&h->sout, h->req);
			h->req_done = true;
			if (h->sfd >= 0 && !h->connecting && !h->resp_head)
				timer_arm(hloop(h), &h->stimer,
					  h->c->px->cfg->http_response_timeout);
			break;
		}
		if (r) {
			answer(h, 400, "request framing overflow");
			return true;
		}
		if (!h->gone && n > 0)
			buf_consume(&h->cin, (size_t)n);
		if (ev.type == HTTP1_NONE)
			break;
	}
	return moved;
}

/* --- responses ------------------------------------------------------------- */

static void on_response_head(struct h1 *h)
{
	struct http1_parser *resp = h->resp;
	int status = http1_status(resp);
	unsigned flags = 0;

	if (status >= 100 && status < 200 && status != 101) {
		/* 100 Continue and friends: passed on, the real one follows */
		h->interim = true;
		if (proxy_http1_write_head(resp, HTTP1_RESPONSE, 0, &h->cout))
			answer(h, 502, "upstream response head too large");
		return;
	}
	ev_timer_stop(hloop(h), &h->stimer);
	if (status == 101 && !(h->upgrade && !h->connect_req)) {
		answer(h, 502, "upstream switched protocols unasked");
		return;
	}
	count_response(h, status);
	proxy_tap_response(h->c->px, &h->tap, status);
	if (status == 101) {
		h->tunnel = true;
		flags |= PROXY_H1_HEAD_UPGRADE;
	} else if (h->connect_req && status >= 200 && status < 300) {
		h->tunnel = true;
	} else {
		h->resp_out = proxy_http1_response_framing(resp, h->head_req,
							   h->version);
		/* a length-less body ends with the connection; a refused
		 * upgrade or CONNECT leaves the parsers out of step */
		if (h->resp_out == PROXY_H1_EOF || h->upgrade || h->connect_req)
			h->close_after = true;
		if (h->resp_out == PROXY_H1_CHUNKED)
			flags |= PROXY_H1_HEAD_CHUNKED;
		if (h->close_after)
			flags |= PROXY_H1_HEAD_CLOSE;
	}
	if (proxy_http1_write_head(resp, HTTP1_RESPONSE, flags, &h->cout)) {
		answer(h, 502, "upstream response head too large");
		return;
	}
	h->resp_head = true;
	ep_finish(h, time_mono_ns() - h->start_ns);
}

/* exchange_done - the response is complete: keep or drop the upstream,
 * then wait for the next request (or close) */
static void exchange_done(struct h1 *h)
{
	struct proxy_conn *c = h->c;

	proxy_tap_end(c->px, &h->tap, -1, 0, h->resp_bytes);
	if (h->tunnel) {
		h->active = false; /* step() hands the connection over */
		return;
	}
	if (!http1_keep_alive(h->resp) || !h->req_done ||
	    buf_len(&h->sout) || h->s_eof)
		server_close(h, !h->req_done);
	h->active = false;
	if (h->close_after || !h->req_done || h->c_eof || h->draining) {
		h->client_close = true;
		return;
	}
	timer_arm(hloop(h), &h->ctimer, c->px->cfg->http_header_timeout);
}

static bool parse_response(struct h1 *h)
{
	bool moved = false;

	while (!h->gone && buf_len(&h->sin)) {
		struct http1_event ev;
		ssize_t n;
		int r = 0;

		if (!h->active) {
			/* bytes nobody asked for: that upstream is out of
			 * step, drop it */
			server_close(h, true);
			return true;
		}
		if (buf_len(&h->cout) >= OUT_HIGH)
			break;
		n = http1_parse(h->resp, (const char *)buf_head(&h->sin),
				buf_len(&h->sin), &ev);
		if (n < 0) {
			answer(h, 502, "malformed upstream response");
			return true;
		}
		moved = true;
		switch (ev.type) {
		case HTTP1_NONE:
			break;
		case HTTP1_HEAD:
			buf_consume(&h->sin, (size_t)n);
			n = 0;
			on_response_head(h);
			break;
		case HTTP1_BODY:
			r = put_body(&h->cout, h->resp_out, &ev);
			h->resp_bytes += ev.body_len;
			break;
		case HTTP1_DONE:
			if (h->interim) {
				h->interim = false;
				if (h->head_req || h->connect_req)
					http1_expect_no_body(h->resp);
				break;
			}
			if (h->resp_out == PROXY_H1_CHUNKED)
				r = put_last_chunk(&h->cout, h->resp);
			buf_consume(&h->sin, (size_t)n);
			n = 0;
			exchange_done(h);
			if (h->tunnel)
				return true;
			break;
		}
		if (r) {
			conn_abort(h);
			return true;
		}
		if (!h->gone && n > 0)
			buf_consume(&h->sin, (size_t)n);
		if (ev.type == HTTP1_NONE || ev.type == HTTP1_DONE)
			break;
	}
	return moved;
}

/* server_eof - the upstream closed and everything it sent is parsed */
static void server_eof(struct h1 *h)
{
	struct http1_event ev;

	if (!h->active) {
		server_close(h, false);
		return;
	}
	if (!h->resp_head) {
		answer(h, 502, "upstream closed the connection");
		return;
	}
	if (http1_finish(h->resp, &ev) || ev.type != HTTP1_DONE) {
		conn_abort(h); /* a truncated response: the client must know */
		return;
	}
	exchange_done(h);
}

/* --- tunnels ------------------------------------------------------------- */

static void h1_free(struct loop_reap *r)
{
	struct h1 *h = container_of(r, struct h1, reap);

	buf_release(&h->cin);
	buf_release(&h->cout);
	buf_release(&h->sin);
	buf_release(&h->sout);
	http1_parser_free(h->req);
	http1_parser_free(h->resp);
	proxy_tap_req_release(&h->tap);
	free(h);
}

static void stop_watchers(struct h1 *h)
{
	struct ev_loop *loop = hloop(h);

	ev_io_stop(loop, &h->crd);
	ev_io_stop(loop, &h->cwr);
	ev_io_stop(loop, &h->srd);
	ev_io_stop(loop, &h->swr);
	ev_timer_stop(loop, &h->ctimer);
	ev_timer_stop(loop, &h->stimer);
	ev_idle_stop(loop, &h->resume);
}

/* tunnel - the upgrade is agreed: the relay takes both sockets and what
 * each side sent past the HTTP exchange */
static void tunnel(struct h1 *h)
{
	struct proxy_conn *c = h->c;
	char a[SOCK_ADDR_STRLEN];
	int fd = h->sfd;

	stop_watchers(h);
	if (buf_append(&h->sout, buf_head(&h->cin), buf_len(&h->cin)) ||
	    buf_append(&h->cout, buf_head(&h->sin), buf_len(&h->sin)) ||
	    proxy_tcp_adopt(c, fd, &h->sout, &h->cout)) {
		conn_close(h);
		return;
	}
	log_debug("http/1: upgraded, relaying as TCP", "dir=%s target=%s how=%s",
		  proxy_dir_name(c->dir),
		  sock_addr_format(&c->target, a, sizeof(a)),
		  h->connect_req ? "CONNECT" : "Upgrade");
	/* the relay owns the upstream socket and its metrics now */
	h->sfd = -1;
	h->s_counted = false;
	h->gone = true;
	loop_reaper_defer(&c->px->reaper, &h->reap);
}

/* --- the loop ------------------------------------------------------------ */

static int write_side(struct buf *b, int fd, struct metrics_series *s)
{
	ssize_t n = buf_write_fd(b, fd);

	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return (int)n;
	metrics_counter_add(s, (double)n);
	return n > 0;
}

/*
 * read_side - read what fd has into b. *ready: fd may have more; cleared
 * when a read comes back short or EAGAIN (drained), set again by its read
 * watcher, so a round never pays a read(2) for an empty socket.
 */
static int read_side(struct buf *b, int fd, struct metrics_series *s,
		     bool *ready)
{
	size_t room = buf_room(b);
	ssize_t n = buf_read_fd(b, fd, room);

	if (n == -EAGAIN) {
		*ready = false;
		return 0;
	}
	if (n == -ENOBUFS)
		return 0;
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENODATA; /* EOF */
	if ((size_t)n < room)
		*ready = false;
	metrics_counter_add(s, (double)n);
	return 1;
}

#define LINGER_NS (2 * NSEC_PER_SEC)

/*
 * linger - the last answer is out: send our FIN and read (discarding) to
 * the client's, for at most 2 s, so that a client still sending (a body
 * we refused) reads our answer instead of losing it to a reset.
 */
static void linger(struct h1 *h)
{
	struct proxy_conn *c = h->c;
	char sink[4096];
	ssize_t n;

	if (!h->lingering) {
		h->lingering = true;
		if (h->sfd >= 0)
			server_close(h, false);
		stop_watchers(h);
		shutdown(c->fd, SHUT_WR);
		timer_arm(hloop(h), &h->ctimer, LINGER_NS);
	}
	while (!h->c_eof) {
		n = read(c->fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ev_io_start(hloop(h), &h->crd);
			return;
		}
		if (n <= 0)
			break;
	}
	conn_close(h);
}

/*
 * step - move everything that can move: write what waits, parse what was
 * read (as far as the other side's buffer allows), read while there is
 * room; then watch for what would let it go on.
 */
static void step(struct h1 *h)
{
	struct proxy_conn *c = h->c;
	struct proxy_target_metrics *m = c->metrics;
	struct ev_loop *loop = hloop(h);
	bool moved = false;
	int r;

	ev_idle_stop(loop, &h->resume);
	for (int round = 0; round < STEP_ROUNDS && !h->gone; round++) {
		moved = false;

		r = write_side(&h->cout, c->fd, m->src.write_bytes);
		if (r < 0) {
			conn_close(h);
			return;
		}
		moved |= r > 0;
		if (h->client_close && !buf_len(&h->cout)) {
			linger(h);
			return;
		}
		if (h->sfd >= 0 && !h->connecting && buf_len(&h->sout)) {
			r = write_side(&h->sout, h->sfd, m->dst.write_bytes);
			if (r < 0) {
				answer(h, 502, "upstream reset the connection");
				continue;
			}
			moved |= r > 0;
		}
		moved |= parse_request(h);
		if (h->gone)
			return;
		moved |= parse_response(h);
		if (h->gone)
			return;
		if (h->tunnel && !h->active) {
			tunnel(h);
			return;
		}
		if (h->s_eof && !buf_len(&h->sin)) {
			server_eof(h);
			if (h->gone)
				return;
			moved = true;
		}
		if (h->c_eof && !h->client_close && !buf_len(&h->cin)) {
			if (!h->active) {
				h->client_close = true;
				moved = true;
			} else if (!h->req_done) {
				/* the request was cut short */
				server_close(h, true);
				conn_close(h);
				return;
			}
		}
		if (!h->c_eof && !h->client_close && h->c_ready &&
		    buf_room(&h->cin)) {
			r = read_side(&h->cin, c->fd, m->src.read_bytes,
				      &h->c_ready);
			if (r == -ENODATA) {
				h->c_eof = true;
				moved = true;
			} else if (r < 0) {
				if (h->sfd >= 0)
					server_close(h, true);
				conn_close(h);
				return;
			}
			moved |= r > 0;
		}
		if (h->sfd >= 0 && !h->connecting && !h->s_eof && h->s_ready &&
		    buf_room(&h->sin)) {
			r = read_side(&h->sin, h->sfd, m->dst.read_bytes,
				      &h->s_ready);
			if (r == -ENODATA) {
				h->s_eof = true;
				moved = true;
			} else if (r < 0) {
				if (h->active)
					answer(h, 502,
					       "upstream reset the connection");
				else
					server_close(h, false);
				moved = true;
				continue;
			}
			moved |= r > 0;
		}
		if (!moved)
			break;
	}
	if (h->gone)
		return;
	/*
	 * out of rounds with work left (pipelined requests parsed from cin,
	 * which no socket event will announce again): go on after the
	 * other connections had their turn
	 */
	if (moved)
		ev_idle_start(loop, &h->resume);
	watch(loop, &h->cwr, buf_len(&h->cout) > 0);
	watch(loop, &h->crd, !h->c_eof && !h->client_close &&
				     buf_room(&h->cin) > 0);
	watch(loop, &h->srd, h->sfd >= 0 && !h->connecting && !h->s_eof &&
				     buf_room(&h->sin) > 0);
	watch(loop, &h->swr, h->sfd >= 0 &&
				     (h->connecting || buf_len(&h->sout) > 0));
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct h1 *h = w->data;

	(void)loop;
	(void)revents;
	if (h->lingering) {
		linger(h);
		return;
	}
	if (w == &h->crd)
		h->c_ready = true;
	else if (w == &h->srd)
		h->s_ready = true;
	if (w == &h->swr && h->connecting) {
		on_connect_done(h);
		if (h->gone)
			return;
	}
	step(h);
}

static void on_resume(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct h1 *h = container_of(w, struct h1, resume);

	(void)loop;
	(void)revents;
	step(h);
}

static void on_ctimer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h1 *h = container_of(w, struct h1, ctimer);

	(void)loop;
	(void)revents;
	if (h->lingering) {
		conn_close(h);
		return;
	}
	if (h->active)
		return;
	if (h->partial || buf_len(&h->cin)) {
		answer(h, 408, "request head timeout");
		step(h);
		return;
	}
	conn_close(h); /* an idle keep-alive connection */
}

static int h1_start(struct proxy_conn *c)
{
	struct h1 *h = xcalloc(1, sizeof(*h));
	struct ev_loop *loop = c->px->loop;

	h->c = c;
	h->sfd = -1;
	h->c_ready = true; /* detection read only the start */
	h->reap.free = h1_free;
	c->ctx = h;
	/* what detection read is the start of the first request */
	h->cin = c->prefix;
	h->cin.max = MAX((size_t)IN_MAX, buf_len(&c->prefix));
	buf_init(&c->prefix, PROXY_DETECT_BUF);
	buf_init(&h->cout, OUT_MAX);
	buf_init(&h->sin, IN_MAX);
	buf_init(&h->sout, OUT_MAX);
	h->req = http1_parser_new(HTTP1_REQUEST, NULL);
	h->resp = http1_parser_new(HTTP1_RESPONSE, NULL);
	ev_io_init(&h->crd, on_io, c->fd, EV_READ);
	ev_io_init(&h->cwr, on_io, c->fd, EV_WRITE);
	ev_io_init(&h->srd, on_io, -1, EV_READ);
	ev_io_init(&h->swr, on_io, -1, EV_WRITE);
	h->crd.data = h->cwr.data = h->srd.data = h->swr.data = h;
	ev_timer_init(&h->ctimer, on_ctimer, 0, 0);
	ev_timer_init(&h->stimer, on_stimer, 0, 0);
	ev_idle_init(&h->resume, on_resume);
	timer_arm(loop, &h->ctimer, c->px->cfg->http_header_timeout);
	step(h);
	return 0;
}

static void h1_drain(struct proxy_conn *c)
{
	struct h1 *h = c->ctx;

	if (!h || h->gone)
		return;
	h->draining = true;
	if (h->active) {
		h->close_after = true;
		return;
	}
	h->client_close = true;
	step(h);
}

static void h1_stop(struct proxy_conn *c)
{
	struct h1 *h = c->ctx;
	char a[SOCK_ADDR_STRLEN];

	if (!h)
		return;
	h->gone = true;
	stop_watchers(h);
	dsc_wait_cancel(&h->wait);
	resolver_cancel(h->dns);
	h->dns = NULL;
	if (h->active)
		proxy_tap_end(c->px, &h->tap, -1, 0, h->resp_bytes);
	proxy_tap_req_release(&h->tap);
	server_close(h, false);
	log_debug("connection closed",
		  "dir=%s proto=%s target=%s requests=%llu ms=%lld",
		  proxy_dir_name(c->dir), proxy_proto_name(c->proto),
		  sock_addr_format(&c->target, a, sizeof(a)),
		  (unsigned long long)h->requests,
		  (long long)((time_mono_ns() - c->accepted_ns) / NSEC_PER_MSEC));
}

static void h1_release(struct proxy_conn *c)
{
	struct h1 *h = c->ctx;

	if (h)
		h1_free(&h->reap);
	c->ctx = NULL;
}

const struct proxy_handler proxy_http1_handler = {
	.name = "http/1",
	.start = h1_start,
	.drain = h1_drain,
	.stop = h1_stop,
	.release = h1_release,
};
