/* SPDX-License-Identifier: Apache-2.0 */
/* proxy.c - the sidecar proxy: listeners, accepted connections, protocol handlers */
#include "conduit/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conduit/discovery.h"
#include "conduit/resolve.h"
#include "conduit/log.h"
#include "conduit/proxy_admin.h"
#include "conduit/proxy_h2.h"
#include "conduit/proxy_http1.h"
#include "conduit/proxy_identity.h"
#include "conduit/proxy_tap.h"
#include "conduit/proxy_tcp.h"
#include "conduit/time.h"
#include "conduit/tls_relay.h"

#define ACCEPT_BATCH 64		 /* accepts per listener wakeup */
#define ACCEPT_PAUSE 0.1	 /* s to wait when out of descriptors */
#define TLS_HANDSHAKE_EXTRA 2.0	 /* s a mesh TLS handshake may add to the
				  * connect timeout */
#define LISTEN_BACKLOG 1024
#define LINGER_MAX 64		 /* control connections closing at once */
#define LINGER_TIMEOUT 2.0	 /* s to wait for the peer's FIN */
#define DETECT_STEP 1024	 /* bytes per read while detecting */

static const char *const role_names[] = {
	[PROXY_LISTEN_INBOUND] = "inbound",
	[PROXY_LISTEN_OUTBOUND] = "outbound",
	[PROXY_LISTEN_ADMIN] = "admin",
	[PROXY_LISTEN_CONTROL] = "control",
};

/* --- handlers ------------------------------------------------------------ */

const struct proxy_handler *proxy_handler_for(enum proxy_proto proto)
{
	switch (proto) {
	case PROXY_PROTO_HTTP1:
		return &proxy_http1_handler;
	case PROXY_PROTO_HTTP2:
		return &proxy_h2_handler;
	case PROXY_PROTO_OPAQUE:
	case PROXY_PROTO_UNKNOWN:
		break;
	}
	return &proxy_tcp_handler;
}

int64_t proxy_connect_timeout(const struct proxy_conn *c)
{
	const struct proxy_config *cfg = c->px->cfg;

	return c->dir == PROXY_INBOUND ? cfg->inbound_connect_timeout :
					 cfg->outbound_connect_timeout;
}

/* --- pipes --------------------------------------------------------------- */

int proxy_pipe_get(struct proxy *px, int fds[2])
{
	if (px->pipes.n) {
		px->pipes.n--;
		fds[0] = px->pipes.fds[px->pipes.n][0];
		fds[1] = px->pipes.fds[px->pipes.n][1];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	return 0;
}

void proxy_pipe_put(struct proxy *px, int fds[2])
{
	if (fds[0] < 0)
		return;
	if (px->pipes.n < PROXY_PIPE_CACHE && !px->draining) {
		px->pipes.fds[px->pipes.n][0] = fds[0];
		px->pipes.fds[px->pipes.n][1] = fds[1];
		px->pipes.n++;
	} else {
		close(fds[0]);
		close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}

/* --- connections ------------------------------------------------------ */

static void conn_free(struct loop_reap *r)
{
	struct proxy_conn *c = container_of(r, struct proxy_conn, reap);
	struct proxy *px = c->px;

	if (c->handler && c->handler->release)
		c->handler->release(c);
	buf_release(&c->prefix);
	pool_put(&px->conn_pool, c);
}

static void maybe_done_draining(struct proxy *px)
{
	if (px->draining && !px->nconns) {
		log_info("drained: every connection is closed", "");
		ev_break(px->loop, EVBREAK_ALL);
	}
}

void proxy_conn_close(struct proxy_conn *c)
{
	struct proxy *px = c->px;

	if (c->state == PROXY_CONN_CLOSED)
		return;
	c->state = PROXY_CONN_CLOSED;
	ev_io_stop(px->loop, &c->io);
	ev_timer_stop(px->loop, &c->timer);
	if (c->handler && c->handler->stop)
		c->handler->stop(c);
	if (c->relay) {
		tls_relay_cancel(c->relay); /* closes the socket it held */
		c->relay = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->counted) {
		metrics_counter_inc(c->metrics->src.close_total);
		metrics_gauge_add(c->metrics->src.open_conns, -1);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->nconns--;
	loop_reaper_defer(&px->reaper, &c->reap);
	maybe_done_draining(px);
}

void proxy_conn_abort(struct proxy_conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	proxy_conn_close(c);
}

static void dispatch(struct proxy_conn *c, enum proxy_proto proto)
{
	struct proxy *px = c->px;
	char peer[SOCK_ADDR_STRLEN], target[SOCK_ADDR_STRLEN];

	ev_io_stop(px->loop, &c->io);
	ev_timer_stop(px->loop, &c->timer);
	/* counted once it is known how the client is secured */
	c->metrics = proxy_metrics_target(px->metrics, c->dir, &c->target,
					  proxy_conn_tls_id(c));
	c->counted = true;
	metrics_counter_inc(c->metrics->src.open_total);
	metrics_gauge_add(c->metrics->src.open_conns, 1);
	if (buf_len(&c->prefix))
		metrics_counter_add(c->metrics->src.read_bytes,
				    (double)buf_len(&c->prefix));
	if (!c->target.len && proto != PROXY_PROTO_HTTP1 &&
	    proto != PROXY_PROTO_HTTP2) {
		/* explicit outbound: only HTTP names where it goes */
		log_info("explicit outbound connection is not HTTP: closing",
			 "peer=%s proto=%s hint=%s",
			 sock_addr_format(&c->peer, peer, sizeof(peer)),
			 proxy_proto_name(proto),
			 "\"opaque TCP needs a redirect (proxy-init)\"");
		proxy_metrics_refused(px->metrics, c->dir,
				      PROXY_REFUSE_NO_DESTINATION);
		proxy_conn_close(c);
		return;
	}
	c->proto = proto;
	c->state = PROXY_CONN_HANDLED;
	c->handler = proxy_handler_for(proto);
	log_debug("protocol detected",
		  "dir=%s proto=%s handler=%s peer=%s target=%s bytes=%zu "
		  "skipped=%s timed_out=%s",
		  proxy_dir_name(c->dir), proxy_proto_name(proto),
		  c->handler->name, sock_addr_format(&c->peer, peer, sizeof(peer)),
		  sock_addr_format(&c->target, target, sizeof(target)),
		  buf_len(&c->prefix), c->detect_skipped ? "true" : "false",
		  c->detect_timed_out ? "true" : "false");
	if (c->handler->start(c))
		proxy_conn_close(c);
}

/* --- mesh TLS, inbound -------------------------------------------------- */

static void start_detecting(struct proxy_conn *c);

static void on_tls_ready(void *arg, int fd, const char *id_or_why)
{
	struct proxy_conn *c = arg;
	char p[SOCK_ADDR_STRLEN], q[300];

	c->relay = NULL; /* it owns the socket, and frees itself */
	if (fd < 0) {
		/* the relay logged why */
		log_debug("mesh TLS handshake failed: closing",
			 "peer=%s error=%s",
			 sock_addr_format(&c->peer, p, sizeof(p)),
			 log_quote(q, sizeof(q), id_or_why));
		proxy_conn_close(c);
		return;
	}
	c->fd = fd;
	c->tls = true;
	str_copy(c->tls_id, id_or_why, sizeof(c->tls_id));
	log_debug("mesh TLS accepted", "peer=%s client_id=%s",
		  sock_addr_format(&c->peer, p, sizeof(p)),
		  log_quote(q, sizeof(q), c->tls_id));
	/* what the client says inside decides the protocol */
	start_detecting(c);
}

/*
 * maybe_tls - the client's first bytes are a TLS ClientHello for our
 * identity: hand the socket to a TLS relay and detect the protocol in the
 * plaintext once the handshake is done. Returns true when c was taken
 * (or waits for the rest of the ClientHello), false to detect as usual
 * (not TLS, or TLS for another name: relayed as it is, to an app that
 * terminates its own TLS).
 */
static bool maybe_tls(struct proxy_conn *c, bool eof)
{
	struct proxy *px = c->px;
	char sni[256];
	int r;

	if (c->dir != PROXY_INBOUND || c->tls || !px->local_id ||
	    *(const uint8_t *)buf_head(&c->prefix) != 0x16)
		return false;
	r = tls_client_hello_sni(buf_head(&c->prefix), buf_len(&c->prefix),
				 sni, sizeof(sni));
	if (r == -EAGAIN)
		return !eof && buf_room(&c->prefix) > 0;
	if (r != 1 || strcmp(sni, px->local_id))
		return false;
	ev_io_stop(px->loop, &c->io);
	ev_timer_stop(px->loop, &c->timer);
	c->relay = tls_relay_server(&px->relays, px->mesh, c->fd,
				    buf_head(&c->prefix), buf_len(&c->prefix),
				    (double)px->cfg->detect_timeout /
					    NSEC_PER_SEC,
				    on_tls_ready, c);
	c->fd = -1; /* the relay's now, even when it failed */
	buf_consume(&c->prefix, buf_len(&c->prefix));
	if (!c->relay)
		proxy_conn_close(c);
	return true;
}

static void on_detect_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_conn *c = container_of(w, struct proxy_conn, io);
	enum proxy_proto proto;
	char e[64];
	ssize_t n;

	(void)loop;
	(void)revents;
	/* a step at a time: a request line is short, and what is read here
	 * is held until it is relayed */
	n = buf_read_fd(&c->prefix, c->fd,
			MIN(buf_room(&c->prefix), (size_t)DETECT_STEP));
	if (n == -EAGAIN)
		return;
	if (n < 0) {
		log_debug("read failed while detecting", "dir=%s error=%s",
			  proxy_dir_name(c->dir), proxy_errstr((int)-n, e, sizeof(e)));
		proxy_conn_close(c);
		return;
	}
	if (buf_len(&c->prefix) && maybe_tls(c, n == 0))
		return;
	proto = proxy_detect(buf_head(&c->prefix), buf_len(&c->prefix));
	/* the client closed, or said more than any request line: a client
	 * that half-closes at once still gets its relay */
	if (proto == PROXY_PROTO_UNKNOWN && (n == 0 || !buf_room(&c->prefix)))
		proto = PROXY_PROTO_OPAQUE;
	if (proto != PROXY_PROTO_UNKNOWN)
		dispatch(c, proto);
}

static void on_detect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_conn *c = container_of(w, struct proxy_conn, timer);

	(void)loop;
	(void)revents;
	c->detect_timed_out = true;
	dispatch(c, PROXY_PROTO_OPAQUE);
}

static bool same_ip(const struct sock_addr *a, const struct sock_addr *b)
{
	struct sock_addr x = *a, y = *b;

	sock_addr_set_port(&x, 0);
	sock_addr_set_port(&y, 0);
	return sock_addr_equal(&x, &y);
}

/*
 * is_own - would connecting to target reach one of our listeners? Loop
 * protection: a redirected connection whose original destination is the
 * proxy itself would otherwise come back to it, and again, forever.
 */
static bool is_any(const struct sock_addr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->u.sa.sa_family == AF_INET)
		return a->u.in4.sin_addr.s_addr == htonl(INADDR_ANY);
	return !memcmp(&a->u.in6.sin6_addr, &any6, sizeof(any6));
}

static bool is_own(const struct proxy *px, const struct sock_addr *target)
{
	bool local = sock_addr_is_loopback(target);

	for (size_t i = 0; !local && i < px->nlocal_ips; i++)
		local = same_ip(&px->local_ips[i], target);
	for (size_t i = 0; i < px->nlisteners; i++) {
		const struct sock_addr *l = &px->listeners[i].addr;

		if (sock_addr_port(l) != sock_addr_port(target))
			continue;
		/* a wildcard listener takes every local address; one bound
		 * to an address only that one (pods on 127.0.x.y in local
		 * mode share ports on distinct addresses) */
		if (same_ip(l, target) || (local && is_any(l)))
			return true;
	}
	return false;
}

/*
 * route - where c goes. Returns 0, or the reason to refuse it.
 */
static int route(struct proxy_conn *c, enum proxy_refuse_reason *why)
{
	const struct proxy_config *cfg = c->px->cfg;
	struct sock_addr orig, local;
	char a[SOCK_ADDR_STRLEN], p[SOCK_ADDR_STRLEN], q[80];
	int r;

	if (c->dir == PROXY_INBOUND && cfg->has_inbound_forward) {
		c->target = cfg->inbound_forward;
	} else {
		r = sock_original_dst(c->fd, &orig);
		if (!r)
			r = sock_local_addr(c->fd, &local);
		/* no NAT entry, or one that did not rewrite: not redirected */
		if ((r || sock_addr_equal(&orig, &local)) &&
		    c->dir == PROXY_OUTBOUND) {
			/* explicit outbound: each HTTP request's authority
			 * says where it goes (a service through discovery,
			 * else the Host itself); no target for the
			 * connection */
			memset(&c->target, 0, sizeof(c->target));
			return 0;
		}
		if (r || sock_addr_equal(&orig, &local)) {
			log_info("connection was not redirected and has no "
				 "forward address: closing",
				 "dir=%s peer=%s hint=%s", proxy_dir_name(c->dir),
				 sock_addr_format(&c->peer, p, sizeof(p)),
				 log_quote(q, sizeof(q),
					   c->dir == PROXY_INBOUND ?
						   "set --inbound-forward for explicit mode" :
						   "outbound needs a redirect (proxy-init)"));
			*why = PROXY_REFUSE_NO_DESTINATION;
			return -ENOENT;
		}
		if (c->dir == PROXY_INBOUND) {
			/* inbound goes to the app on this pod's loopback */
			const char *lo = orig.u.sa.sa_family == AF_INET6 ?
						 "::1" : "127.0.0.1";

			BUG_ON(sock_ip_parse(lo, &c->target));
			sock_addr_set_port(&c->target, sock_addr_port(&orig));
		} else {
			c->target = orig;
		}
	}
	if (is_own(c->px, &c->target)) {
		log_warn("connection would loop back into the proxy: closing",
			 "dir=%s peer=%s target=%s", proxy_dir_name(c->dir),
			 sock_addr_format(&c->peer, p, sizeof(p)),
			 sock_addr_format(&c->target, a, sizeof(a)));
		*why = PROXY_REFUSE_LOOP;
		return -ELOOP;
	}
	return 0;
}

static void refuse(struct proxy *px, enum proxy_dir dir, int fd,
		   enum proxy_refuse_reason why)
{
	proxy_metrics_refused(px->metrics, dir, why);
	close(fd);
}

static void conn_accept(struct proxy *px, struct proxy_listener *l, int fd,
			const struct sock_addr *peer)
{
	enum proxy_dir dir = l->role == PROXY_LISTEN_INBOUND ? PROXY_INBOUND :
							      PROXY_OUTBOUND;
	const struct proxy_ports *no_detect;
	enum proxy_refuse_reason why;
	struct proxy_conn *c;

	c = pool_get(&px->conn_pool);
	if (!c) {
		/* one line a second at most: a flood must not flood the log */
		if (ev_now(px->loop) - px->last_refuse_log >= 1.0) {
			px->last_refuse_log = ev_now(px->loop);
			log_warn("too many connections: closing new ones",
				 "dir=%s max=%lld", proxy_dir_name(dir),
				 px->cfg->max_connections);
		}
		refuse(px, dir, fd, PROXY_REFUSE_MAX_CONNECTIONS);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->px = px;
	c->dir = dir;
	c->fd = fd;
	c->peer = *peer;
	c->accepted_ns = time_mono_ns();
	c->reap.free = conn_free;
	buf_init(&c->prefix, PROXY_DETECT_BUF);
	if (route(c, &why)) {
		refuse(px, dir, fd, why);
		pool_put(&px->conn_pool, c);
		return;
	}
	sock_set_nodelay(fd);
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->nconns++;
	c->state = PROXY_CONN_DETECTING;
	ev_timer_init(&c->timer, on_detect_timeout,
		      (double)px->cfg->detect_timeout / NSEC_PER_SEC, 0);

	no_detect = dir == PROXY_INBOUND ? &px->cfg->inbound_no_detect :
					   &px->cfg->outbound_no_detect;
	if (proxy_ports_contain(no_detect, sock_addr_port(&c->target))) {
		c->detect_skipped = true;
		dispatch(c, PROXY_PROTO_OPAQUE);
		return;
	}
	start_detecting(c);
}

/* start_detecting - read c's first bytes (again after TLS) */
static void start_detecting(struct proxy_conn *c)
{
	struct proxy *px = c->px;

	ev_io_init(&c->io, on_detect_read, c->fd, EV_READ);
	ev_io_start(px->loop, &c->io);
	ev_timer_set(&c->timer, (double)px->cfg->detect_timeout / NSEC_PER_SEC,
		     0);
	if (px->cfg->detect_timeout > 0) /* 0: wait for bytes, or EOF */
		ev_timer_start(px->loop, &c->timer);
}

/* --- mesh TLS, outbound ------------------------------------------------- */

const char *proxy_upstream_tls(const struct proxy *px, const char *identity)
{
	return px->local_id && identity && *identity ? identity : NULL;
}

int proxy_upstream_connect(struct proxy *px, const struct sock_addr *addr,
			   const char *identity)
{
	int fd = sock_connect(addr), plain;

	if (fd < 0 || !proxy_upstream_tls(px, identity))
		return fd;
	/* the caller sees a connected socket at once: the relay bounds the
	 * connect and the handshake together */
	if (!tls_relay_client(&px->relays, px->mesh, fd, addr, identity,
			      (double)px->cfg->outbound_connect_timeout /
					      NSEC_PER_SEC +
				      TLS_HANDSHAKE_EXTRA,
			      &plain, NULL, NULL))
		return -errno; /* the relay closed fd */
	return plain;
}

/* --- control port: tap is not served yet --------------------------------- */

struct linger_conn {
	struct proxy *px;
	struct linger_conn *prev, *next; /* px->lingers */
	int fd;
	ev_io io;
	ev_timer timer;
	struct loop_reap reap;
};

static void linger_free(struct loop_reap *r)
{
	struct linger_conn *lc = container_of(r, struct linger_conn, reap);

	pool_put(&lc->px->linger_pool, lc);
}

static void linger_end(struct linger_conn *lc)
{
	struct proxy *px = lc->px;

	ev_io_stop(px->loop, &lc->io);
	ev_timer_stop(px->loop, &lc->timer);
	close(lc->fd);
	if (lc->prev)
		lc->prev->next = lc->next;
	else
		px->lingers = lc->next;
	if (lc->next)
		lc->next->prev = lc->prev;
	loop_reaper_defer(&px->reaper, &lc->reap);
}

static void on_linger_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct linger_conn *lc = container_of(w, struct linger_conn, io);
	char sink[4096];
	ssize_t n;

	(void)loop;
	(void)revents;
	n = read(lc->fd, sink, sizeof(sink));
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	linger_end(lc);
}

static void on_linger_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	linger_end(container_of(w, struct linger_conn, timer));
}

/*
 * control_accept - without a tap server (out of memory at start): say so.
 * Until then a client is told so politely, in HTTP/2 (tap is gRPC): an
 * empty SETTINGS and a GOAWAY(NO_ERROR, last stream 0) that says no
 * stream was or will be processed, so a gRPC client fails fast with
 * UNAVAILABLE and retries elsewhere. Then a FIN, and the socket is kept
 * until the peer's FIN (or 2 s) so the frames are not lost to a reset.
 */
static void control_accept(struct proxy *px, int fd)
{
	static const char debug[] = "tap is not served yet";
	unsigned char frames[9 + 9 + 8 + sizeof(debug) - 1];
	size_t glen = 8 + sizeof(debug) - 1;
	struct linger_conn *lc;
	ssize_t n;

	memset(frames, 0, sizeof(frames));
	frames[3] = 0x4; /* SETTINGS, empty, stream 0 */
	frames[9] = (unsigned char)(glen >> 16);
	frames[10] = (unsigned char)(glen >> 8);
	frames[11] = (unsigned char)glen;
	frames[12] = 0x7; /* GOAWAY, stream 0, last 0, NO_ERROR */
	memcpy(frames + 26, debug, sizeof(debug) - 1);
	n = write(fd, frames, sizeof(frames));
	(void)n; /* a fresh socket takes 56 bytes; if not, the FIN says it */
	shutdown(fd, SHUT_WR);
	lc = pool_get(&px->linger_pool);
	if (!lc) {
		close(fd);
		return;
	}
	lc->px = px;
	lc->fd = fd;
	lc->reap = (struct loop_reap){ .free = linger_free };
	lc->prev = NULL;
	lc->next = px->lingers;
	if (px->lingers)
		px->lingers->prev = lc;
	px->lingers = lc;
	ev_io_init(&lc->io, on_linger_read, fd, EV_READ);
	ev_timer_init(&lc->timer, on_linger_timeout, LINGER_TIMEOUT, 0);
	ev_io_start(px->loop, &lc->io);
	ev_timer_start(px->loop, &lc->timer);
}

/* --- listeners ------------------------------------------------------------ */

static void listeners_set(struct proxy *px, bool on)
{
	for (size_t i = 0; i < px->nlisteners; i++) {
		struct proxy_listener *l = &px->listeners[i];

		if (l->fd < 0)
			continue;
		if (on)
			ev_io_start(px->loop, &l->io);
		else
			ev_io_stop(px->loop, &l->io);
	}
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = container_of(w, struct proxy, accept_pause);

	(void)loop;
	(void)revents;
	listeners_set(px, true);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_listener *l = container_of(w, struct proxy_listener, io);
	struct proxy *px = l->px;
	struct sock_addr peer;
	char a[SOCK_ADDR_STRLEN], e[64];

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH && l->fd >= 0; i++) {
		int fd = sock_accept(l->fd, &peer);

		if (fd == -EAGAIN)
			return;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS ||
		    fd == -ENOMEM) {
			/* the connection waits in the backlog: accepting again
			 * at once would spin, so let closes free descriptors */
			log_warn("cannot accept: out of resources, pausing",
				 "listener=%s error=%s", role_names[l->role],
				 proxy_errstr(-fd, e, sizeof(e)));
			listeners_set(px, false);
			ev_timer_set(&px->accept_pause, ACCEPT_PAUSE, 0);
			ev_timer_start(px->loop, &px->accept_pause);
			return;
		}
		if (fd < 0) {
			log_warn("accept failed", "listener=%s addr=%s error=%s",
				 role_names[l->role],
				 sock_addr_format(&l->addr, a, sizeof(a)),
				 proxy_errstr(-fd, e, sizeof(e)));
			return;
		}
		switch (l->role) {
		case PROXY_LISTEN_ADMIN:
			proxy_admin_accept(px->admin, fd, &peer);
			break;
		case PROXY_LISTEN_CONTROL:
			if (px->tap)
				proxy_tap_accept(px->tap, fd, &peer);
			else
				control_accept(px, fd);
			break;
		case PROXY_LISTEN_INBOUND:
		case PROXY_LISTEN_OUTBOUND:
			conn_accept(px, l, fd, &peer);
			break;
		}
	}
}

static void listener_close(struct proxy *px, struct proxy_listener *l)
{
	if (l->fd < 0)
		return;
	ev_io_stop(px->loop, &l->io);
	close(l->fd);
	l->fd = -1;
}

static int listen_all(struct proxy *px, enum proxy_listener_role role,
		      const struct proxy_addrs *addrs)
{
	bool has4 = false;
	char a[SOCK_ADDR_STRLEN], e[64];

	for (size_t i = 0; i < addrs->n; i++)
		has4 |= addrs->a[i].u.sa.sa_family == AF_INET;
	for (size_t i = 0; i < addrs->n; i++) {
		struct proxy_listener *l = &px->listeners[px->nlisteners];
		/* [::] alone takes IPv4 too; beside an IPv4 address, v6 only */
		unsigned flags = has4 ? SOCK_V6ONLY : 0;
		int fd;

		BUG_ON(px->nlisteners == PROXY_MAX_LISTENERS);
		fd = sock_listen(&addrs->a[i], LISTEN_BACKLOG, flags);
		if (fd < 0) {
			log_error("cannot listen", "listener=%s addr=%s error=%s",
				  role_names[role],
				  sock_addr_format(&addrs->a[i], a, sizeof(a)),
				  proxy_errstr(-fd, e, sizeof(e)));
			return fd;
		}
		l->px = px;
		l->fd = fd;
		l->role = role;
		if (sock_local_addr(fd, &l->addr))
			l->addr = addrs->a[i];
		ev_io_init(&l->io, on_accept, fd, EV_READ);
		ev_io_start(px->loop, &l->io);
		px->nlisteners++;
		log_info("listening", "listener=%s addr=%s", role_names[role],
			 sock_addr_format(&l->addr, a, sizeof(a)));
	}
	return 0;
}

/* --- lifecycle -------------------------------------------------------------- */

static bool admin_ready(void *arg)
{
	struct proxy *px = arg;

	return px->ready &&
	       (!px->identity || proxy_identity_certified(px->identity));
}

static void admin_why_not_ready(void *arg, char *buf, size_t size)
{
	struct proxy *px = arg;
	const char *last;

	/* listeners not up yet, or draining: the plain "not ready" */
	if (!px->ready || !px->identity)
		return;
	last = proxy_identity_last_error(px->identity);
	snprintf(buf, size, "identity: not certified yet%s%s%s",
		 *last ? " (last attempt: " : "", last, *last ? ")" : "");
}

static void admin_shutdown(void *arg)
{
	log_info("shutdown requested on the admin port", "");
	proxy_shutdown(arg);
}

static void on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = container_of(w, struct proxy, grace);

	(void)revents;
	log_warn("grace period over: closing the remaining connections",
		 "connections=%zu", px->nconns);
	while (px->conns)
		proxy_conn_close(px->conns);
	ev_break(loop, EVBREAK_ALL);
}

void proxy_shutdown(struct proxy *px)
{
	char d[32];

	if (px->draining)
		return;
	px->draining = true;
	px->ready = false;
	log_info("draining", "connections=%zu grace=%s", px->nconns,
		 time_format_duration(px->cfg->shutdown_grace, d, sizeof(d)));
	/* stop taking connections; the admin port stays for probes and a
	 * last scrape, and does not hold the exit back */
	for (size_t i = 0; i < px->nlisteners; i++)
		if (px->listeners[i].role != PROXY_LISTEN_ADMIN)
			listener_close(px, &px->listeners[i]);
	for (struct proxy_conn *c = px->conns, *next; c; c = next) {
		next = c->next;
		if (c->handler && c->handler->drain)
			c->handler->drain(c);
	}
	if (!px->nconns) {
		maybe_done_draining(px);
		return;
	}
	ev_timer_init(&px->grace, on_grace,
		      (double)px->cfg->shutdown_grace / NSEC_PER_SEC, 0);
	ev_timer_start(px->loop, &px->grace);
}

static void on_stop(struct loop_signals *s, int signum)
{
	struct proxy *px = container_of(s, struct proxy, signals);

	(void)signum;
	proxy_shutdown(px);
}

static void find_local_ips(struct proxy *px)
{
	struct ifaddrs *list, *ifa;

	if (getifaddrs(&list))
		return;
	for (ifa = list; ifa && px->nlocal_ips < PROXY_MAX_LOCAL_IPS;
	     ifa = ifa->ifa_next) {
		struct sock_addr *a = &px->local_ips[px->nlocal_ips];

		if (!ifa->ifa_addr)
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET) {
			memcpy(&a->u.in4, ifa->ifa_addr, sizeof(a->u.in4));
			a->len = sizeof(a->u.in4);
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			memcpy(&a->u.in6, ifa->ifa_addr, sizeof(a->u.in6));
			a->len = sizeof(a->u.in6);
		} else {
			continue;
		}
		px->nlocal_ips++;
	}
	freeifaddrs(list);
}

/*
 * raise_fd_limit - a proxy holds two sockets per connection (and two pipe
 * pairs while splicing): take the hard limit the container allows.
 */
static void raise_fd_limit(const struct proxy_config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)cfg->max_connections * 2 + 64)
		log_warn("descriptor limit below what --max-connections needs",
			 "limit=%llu max_connections=%lld need=%lld",
			 (unsigned long long)rl.rlim_cur, cfg->max_connections,
			 cfg->max_connections * 2 + 64);
}

bool proxy_is_own(const struct proxy *px, const struct sock_addr *a)
{
	return is_own(px, a);
}

struct resolver *proxy_resolver(struct proxy *px)
{
	char err[96];

	if (!px->resolver && !px->resolver_failed) {
		px->resolver = resolver_new(px->loop, px->cfg->resolv_conf, err,
					    sizeof(err));
		if (!px->resolver) {
			px->resolver_failed = true;
			log_warn("no DNS resolver: names cannot be resolved",
				 "error=%s", err);
		}
	}
	return px->resolver;
}

/*
 * The destination component's address is normally a name
 * (conduit-dst.<ns>.svc.cluster.local:8086): it is resolved with c-ares,
 * never blocking the loop. Until it resolves the proxy routes by original
 * destination (service discovery degraded, not an error: /ready stays
 * up), retrying with a backoff and saying why.
 */
#define DST_RETRY_MAX 30.0 /* s */

static void discovery_on(struct proxy *px, const struct sock_addr *a)
{
	struct discovery_config dc = { .loop = px->loop, .addr = *a };
	char as[SOCK_ADDR_STRLEN], q[128];

	px->discovery = discovery_new(&dc);
	log_info("service discovery on", "destination=%s addr=%s",
		 log_quote(q, sizeof(q), px->cfg->destination_addr),
		 sock_addr_format(a, as, sizeof(as)));
}

static void dst_lookup(struct proxy *px);

static void on_dst_resolved(void *arg, const struct sock_addr *addrs, size_t n,
			    const char *error)
{
	struct proxy *px = arg;
	char q[128], e[128];
	double back;

	if (n) {
		if (px->dst_failures)
			log_info("the destination component's name resolves now",
				 "after_failures=%u", px->dst_failures);
		px->dst_failures = 0;
		discovery_on(px, &addrs[0]);
		return;
	}
	if (!px->resolver)
		return; /* shutting down */
	back = MIN(DST_RETRY_MAX, (double)(1u << MIN(px->dst_failures, 5u)));
	px->dst_failures++;
	/* the first failure, then one line in ten: a cluster without
	 * DNS must not fill the log */
	if (px->dst_failures % 10 == 1)
		log_warn("service discovery degraded: cannot resolve the destination "
			 "component; routing by original destination meanwhile",
			 "destination=%s error=%s failures=%u retry_in=%.0fs",
			 log_quote(q, sizeof(q), px->cfg->destination_addr),
			 log_quote(e, sizeof(e), error), px->dst_failures, back);
	ev_timer_set(&px->dst_retry, back, 0);
	ev_timer_start(px->loop, &px->dst_retry);
}

static void dst_lookup(struct proxy *px)
{
	char host[256], err[96], q[128];
	int port;

	if (resolve_split_host_port(px->cfg->destination_addr, host,
				    sizeof(host), &port, err, sizeof(err)) < 0 ||
	    resolver_lookup(px->resolver, host, port, on_dst_resolved, px) < 0) {
		log_warn("service discovery off: a bad destination address",
			 "destination=%s error=%s",
			 log_quote(q, sizeof(q), px->cfg->destination_addr),
			 err);
	}
}

static void on_dst_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	dst_lookup(container_of(t, struct proxy, dst_retry));
}

/* start_discovery - a client of the destination component if one is set */
static void start_discovery(struct proxy *px)
{
	const char *a = px->cfg->destination_addr;
	struct sock_addr sa;
	char err[96], q[128];

	if (!a || !*a)
		return;
	if (sock_addr_parse(a, &sa, err, sizeof(err)) == 0) {
		discovery_on(px, &sa);
		return;
	}
	if (!proxy_resolver(px)) {
		log_warn("service discovery off: no DNS resolver",
			 "destination=%s", log_quote(q, sizeof(q), a));
		return;
	}
	dst_lookup(px);
}

/*
 * on_cert - a certificate (the first or a renewal): new mesh TLS
 * connections use it, those made before keep theirs. From the first one
 * on, inbound TLS for our name is terminated and outbound originated.
 */
static void on_cert(void *arg, const struct proxy_identity_cert *cert)
{
	struct proxy *px = arg;
	char err[512], q[600];

	if (tls_mesh_set_cert(px->mesh, cert->key_pem, cert->key_len,
			      cert->leaf_der, cert->leaf_len,
			      (const void *const *)cert->inter_der,
			      cert->inter_len, cert->ninter, err, sizeof(err))) {
		/* proxy_identity checked the chain too: not expected */
		log_error("mesh TLS cannot use the new certificate", "error=%s",
			  log_quote(q, sizeof(q), err));
		return;
	}
	if (!px->local_id) {
		px->local_id = xstrdup(cert->name);
		log_info("mesh TLS on: terminating inbound TLS for our identity, "
			 "originating it to meshed endpoints",
			 "identity=%s", log_quote(q, sizeof(q), cert->name));
	}
}

/*
 * identity_connect - Certify over TLS to the identity service's own name:
 * the token never crosses the network in the clear, and the answer comes
 * from the real identity service (our certificate is shown once we have
 * one; before, the server accepts us without)
 */
static int identity_connect(void *arg, const struct sock_addr *addr)
{
	struct proxy *px = arg;
	int fd = sock_connect(addr), plain;

	if (fd < 0)
		return fd;
	if (!tls_relay_client(&px->relays, px->mesh, fd, addr,
			      px->cfg->identity_svc_name,
			      (double)px->cfg->outbound_connect_timeout /
					      NSEC_PER_SEC +
				      TLS_HANDSHAKE_EXTRA,
			      &plain, NULL, NULL))
		return -errno;
	return plain;
}

/*
 * start_identity - with trust anchors, get a certificate from the
 * identity component (proxy_identity.h) and keep it renewed; each one
 * goes to the mesh TLS credentials (on_cert). /ready waits for the first.
 */
static int start_identity(struct proxy *px)
{
	const struct proxy_config *cfg = px->cfg;
	struct proxy_identity_config ic = {
		.loop = px->loop,
		.metrics = proxy_metrics_registry(px->metrics),
		.trust_anchors_pem = cfg->identity_anchors,
		.trust_anchors_len = cfg->identity_anchors_len,
		.local_name = cfg->identity_local_name,
		.svc_addr = cfg->identity_svc_addr,
		.token_file = cfg->identity_token_file,
	};
	struct sock_addr sa;
	char err[512], q[600];

	proxy_metrics_set_identity(px->metrics, cfg->identity_enabled);
	if (!cfg->identity_enabled) {
		if (!cfg->identity_disabled && cfg->identity_svc_addr &&
		    *cfg->identity_svc_addr)
			log_info("identity off: no trust anchors",
				 "hint=\"set CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS to turn it on\"");
		return 0;
	}
	/* a name needs DNS; an IP:port does not */
	if (sock_addr_parse(cfg->identity_svc_addr, &sa, err, sizeof(err)))
		ic.resolver = proxy_resolver(px);
	tls_relay_group_init(&px->relays, px->loop);
	px->mesh = tls_mesh_new(cfg->identity_anchors, cfg->identity_anchors_len,
				err, sizeof(err));
	if (!px->mesh) {
		log_error("identity cannot start", "error=%s",
			  log_quote(q, sizeof(q), err));
		return -EINVAL;
	}
	ic.on_cert = on_cert;
	ic.arg = px;
	if (cfg->identity_svc_name && *cfg->identity_svc_name) {
		ic.connect = identity_connect;
		ic.connect_arg = px;
	}
	px->identity = proxy_identity_new(&ic, err, sizeof(err));
	if (!px->identity) {
		log_error("identity cannot start", "error=%s",
			  log_quote(q, sizeof(q), err));
		return -EINVAL;
	}
	proxy_identity_start(px->identity);
	return 0;
}

struct proxy *proxy_new(const struct proxy_config *cfg, struct ev_loop *loop)
{
	struct proxy *px = xcalloc(1, sizeof(*px));
	struct proxy_admin_config acfg;
	struct proxy_admin_ops ops = {
		.ready = admin_ready,
		.why_not_ready = admin_why_not_ready,
		.shutdown = admin_shutdown,
		.arg = px,
	};

	px->loop = loop;
	px->cfg = cfg;
	px->metrics = proxy_metrics_new(cfg);
	loop_reaper_init(&px->reaper, loop);
	pool_init(&px->conn_pool, sizeof(struct proxy_conn), 64,
		  (size_t)cfg->max_connections);
	proxy_tcp_pool_init(px);
	pool_init(&px->linger_pool, sizeof(struct linger_conn), LINGER_MAX,
		  LINGER_MAX);
	ev_timer_init(&px->accept_pause, on_accept_pause, ACCEPT_PAUSE, 0);
	ev_timer_init(&px->dst_retry, on_dst_retry, 1, 0);
	px->env_json = proxy_config_json(cfg);
	if (!px->env_json)
		die("out of memory");
	acfg = (struct proxy_admin_config){
		.metrics = proxy_metrics_registry(px->metrics),
		.env_json = px->env_json,
		.allow_shutdown = cfg->admin_shutdown,
		.request_timeout = cfg->admin_request_timeout,
	};
	px->admin = proxy_admin_new(loop, &px->reaper, &acfg, &ops);
	start_discovery(px);
	retry_budget_init(&px->retries, 0.2, 10, 10);
	px->tap = proxy_tap_new(px);
	return px;
}

int proxy_start(struct proxy *px)
{
	const struct proxy_config *cfg = px->cfg;
	int r;

	raise_fd_limit(cfg);
	find_local_ips(px);
	/* the admin port first: probes answer (503) while the rest binds */
	r = listen_all(px, PROXY_LISTEN_ADMIN, &cfg->admin_listen);
	if (!r)
		r = listen_all(px, PROXY_LISTEN_INBOUND, &cfg->inbound_listen);
	if (!r)
		r = listen_all(px, PROXY_LISTEN_OUTBOUND, &cfg->outbound_listen);
	if (!r)
		r = listen_all(px, PROXY_LISTEN_CONTROL, &cfg->control_listen);
	if (!r)
		r = start_identity(px);
	if (r)
		return r;
	loop_signals_init(&px->signals, px->loop, on_stop, NULL);
	px->signals_on = true;
	px->ready = true;
	if (cfg->has_inbound_forward) {
		char a[SOCK_ADDR_STRLEN];

		log_info("explicit mode: inbound connections go to one address",
			 "forward=%s", sock_addr_format(&cfg->inbound_forward, a,
							sizeof(a)));
	}
	return 0;
}

int proxy_run(struct proxy *px)
{
	ev_run(px->loop, 0);
	if (px->signals.stop_requests > 1)
		log_warn("stopped at once by a second signal", "connections=%zu",
			 px->nconns);
	log_info("proxy stopped", "");
	return 0;
}

void proxy_free(struct proxy *px)
{
	if (!px)
		return;
	while (px->conns)
		proxy_conn_close(px->conns);
	while (px->lingers)
		linger_end(px->lingers);
	proxy_h2_free(px);
	for (size_t i = 0; i < px->nlisteners; i++)
		listener_close(px, &px->listeners[i]);
	ev_timer_stop(px->loop, &px->grace);
	ev_timer_stop(px->loop, &px->accept_pause);
	/* before the resolver: it may hold a lookup of ours */
	proxy_identity_free(px->identity);
	px->identity = NULL;
	if (px->relays.loop) /* the relays exist only with identity */
		tls_relay_group_release(&px->relays);
	tls_mesh_free(px->mesh);
	free(px->local_id);
	{
		struct resolver *r = px->resolver;

		px->resolver = NULL; /* its callbacks now see the shutdown */
		px->resolver_failed = true; /* and none is made again */
		resolver_free(r);
		ev_timer_stop(px->loop, &px->dst_retry);
	}
	if (px->signals_on)
		loop_signals_release(&px->signals);
	proxy_admin_free(px->admin);
	proxy_tap_free(px->tap);
	loop_reaper_release(&px->reaper);
	/* after the reaper: freed handlers give their endpoints back */
	discovery_free(px->discovery);
	while (px->pipes.n) {
		px->pipes.n--;
		close(px->pipes.fds[px->pipes.n][0]);
		close(px->pipes.fds[px->pipes.n][1]);
	}
	pool_release(&px->conn_pool);
	proxy_tcp_pool_release(px);
	pool_release(&px->linger_pool);
	proxy_metrics_free(px->metrics);
	free(px->env_json);
	free(px);
}
