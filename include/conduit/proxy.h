/* SPDX-License-Identifier: Apache-2.0 */
/* proxy.h - the sidecar proxy: listeners, accepted connections, protocol handlers */
#ifndef CONDUIT_PROXY_H
#define CONDUIT_PROXY_H

#include <ev.h>
#include <string.h>

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/log.h"
#include "conduit/loop.h"
#include "conduit/pool.h"
#include "conduit/proxy_config.h"
#include "conduit/proxy_detect.h"
#include "conduit/proxy_metrics.h"
#include "conduit/retry_budget.h"
#include "conduit/sock.h"
#include "conduit/tls_relay.h"

/*
 * A connection's life:
 *
 *   accept ──> route ──> DETECTING ──> handler ──> CLOSED ──> reaped
 *     │          │           │
 *     │          │           └─ first bytes decide the protocol (or the
 *     │          │              detect timeout, EOF or a full buffer:
 *     │          │              opaque); detection-disabled ports skip it
 *     │          └─ target: --inbound-forward, else SO_ORIGINAL_DST
 *     │             (inbound: 127.0.0.1:<port>); none, or one of our own
 *     │             listeners: closed, counted in tcp_refused_total
 *     └─ past --max-connections: closed at once, counted
 *
 * The accepted connection (struct proxy_conn) carries what every protocol
 * needs: the client socket, the direction, the target, its metrics, and
 * the bytes read while detecting. Detection hands it to the handler of the
 * protocol it found (struct proxy_handler): the handler's start() takes
 * the socket and those bytes (to send first, or to parse first) and owns
 * the connection until it calls proxy_conn_close().
 *
 * HTTP/1 is served by proxy_http1.h, HTTP/2 (and gRPC) by proxy_h2.h;
 * opaque TCP is relayed by proxy_tcp.h.
 */

#define PROXY_DETECT_BUF (8u << 10) /* bytes read before calling it opaque */

struct proxy;
struct proxy_conn;

/*
 * A protocol handler. Each callback gets the connection; the handler's
 * own state hangs off c->ctx (allocated in start(), from its own pool).
 */
struct proxy_handler {
	const char *name;
	/*
	 * start - take over c: serve c->fd, beginning with the bytes in
	 * c->prefix (already read from the client; the handler may steal
	 * the buffer). Returns 0, or a negative errno: c is then closed.
	 */
	int (*start)(struct proxy_conn *c);
	/*
	 * drain - the proxy is shutting down: finish in-flight work and
	 * close when idle (HTTP/2 sends GOAWAY). May be NULL (TCP: a
	 * relayed stream has no request boundary to stop at).
	 */
	void (*drain)(struct proxy_conn *c);
	/*
	 * stop - close everything the handler opened (watchers, upstream
	 * sockets) now, updating its metrics. Called once, from
	 * proxy_conn_close(); the client socket is closed after it.
	 */
	void (*stop)(struct proxy_conn *c);
	/* release - free c->ctx; runs from the reaper, after the iteration */
	void (*release)(struct proxy_conn *c);
};

enum proxy_conn_state {
	PROXY_CONN_DETECTING, /* reading the first bytes */
	PROXY_CONN_HANDLED,   /* a handler owns it */
	PROXY_CONN_CLOSED,    /* closed, waiting for the reaper */
};

struct proxy_conn {
	struct proxy *px;
	struct proxy_conn *prev, *next; /* px->conns */
	struct loop_reap reap;
	enum proxy_conn_state state;
	enum proxy_dir dir;
	enum proxy_proto proto;	/* what detection found */
	bool detect_skipped;	/* a detection-disabled port */
	bool detect_timed_out;
	int fd;			/* the accepted socket; -1 once closed */
	struct sock_addr peer;	/* the client */
	struct sock_addr target; /* where the connection goes */
	struct proxy_target_metrics *metrics; /* borrowed from px->metrics */
	int64_t accepted_ns;	/* time_mono_ns() at accept */
	/* detection */
	ev_io io;
	ev_timer timer;
	struct buf prefix;	/* bytes read while detecting */
	bool counted;		/* in the tcp_* series (from dispatch) */
	/* mesh TLS: an inbound client that spoke TLS to our identity */
	struct tls_relay *relay; /* handshaking: owns the socket */
	bool tls;		/* fd is the relay's plaintext end */
	char tls_id[256];	/* the client's identity ("" none) */
	/* the handler */
	const struct proxy_handler *handler;
	void *ctx;
};

/* Which way a listener's connections go, or that it is a service port. */
enum proxy_listener_role {
	PROXY_LISTEN_INBOUND,
	PROXY_LISTEN_OUTBOUND,
	PROXY_LISTEN_ADMIN,
	PROXY_LISTEN_CONTROL,
};

struct proxy_listener {
	struct proxy *px;
	ev_io io;
	int fd;
	enum proxy_listener_role role;
	struct sock_addr addr;	/* as bound */
};

#define PROXY_MAX_LISTENERS (4 * PROXY_MAX_ADDRS)
#define PROXY_MAX_LOCAL_IPS 32
#define PROXY_PIPE_CACHE 64

/* A cache of empty pipes for splice(2), so a connection costs no pipe2(). */
struct proxy_pipes {
	int fds[PROXY_PIPE_CACHE][2];
	size_t n;
};

struct proxy_admin;
struct proxy_h2;
struct linger_conn;
struct discovery;
struct proxy_identity;
struct proxy_tap;
struct resolver;
struct tls_mesh;

struct proxy {
	struct ev_loop *loop;
	const struct proxy_config *cfg; /* borrowed */
	struct loop_signals signals;
	struct loop_reaper reaper;
	struct proxy_metrics *metrics;
	struct proxy_admin *admin;
	struct discovery *discovery;	/* NULL: no service discovery */
	struct proxy_identity *identity; /* NULL: identity off */
	struct resolver *resolver;	/* DNS (c-ares); NULL until needed */
	bool resolver_failed;		/* c-ares could not start */
	ev_timer dst_retry;		/* resolve the destination again */
	unsigned dst_failures;		/* lookups failed in a row */
	struct proxy_tap *tap;		/* the control port's tap server */
	struct retry_budget retries;	/* bounds retries on other endpoints */
	size_t ntaps;			/* taps open: 0 costs nothing */
	struct proxy_listener listeners[PROXY_MAX_LISTENERS];
	size_t nlisteners;
	ev_timer accept_pause;	/* out of fds: retry accepting later */
	/* this host's addresses, for loop protection */
	struct sock_addr local_ips[PROXY_MAX_LOCAL_IPS];
	size_t nlocal_ips;
	/* proxied connections: a bounded pool, and a list for shutdown */
	struct pool conn_pool;
	struct proxy_conn *conns;
	size_t nconns;
	/* handler state: opaque TCP relays and their pipes */
	struct pool tcp_pool;
	struct proxy_pipes pipes;
	/* HTTP/2: pooled upstream connections (proxy_h2.c) */
	struct proxy_h2 *h2;
	/* linger-closes of control connections */
	struct pool linger_pool;
	struct linger_conn *lingers;
	ev_tstamp last_refuse_log;	/* rate limit of "too many" lines */
	bool signals_on;
	/* lifecycle */
	bool ready;		/* listeners up, not draining */
	bool draining;		/* a stop was asked for */
	ev_timer grace;		/* the drain's deadline */
	char *env_json;		/* /env.json, rendered once */
	/* mesh TLS (with identity): the anchors and our certificate, and
	 * the relays that terminate and originate it; NULL: identity off */
	struct tls_mesh *mesh;
	struct tls_relay_group relays;
	char *local_id;	/* our identity, once certified: inbound TLS for
			 * it is terminated, outbound TLS originated */
};

/*
 * proxy_new - build the proxy for cfg (borrowed: must outlive it) on
 * loop: metrics, pools, admin server. Listeners open in proxy_start().
 * Free with proxy_free().
 */
struct proxy *proxy_new(const struct proxy_config *cfg, struct ev_loop *loop);
void proxy_free(struct proxy *px);

/*
 * proxy_start - bind every listener and start accepting; install the
 * SIGTERM/SIGINT drain; with identity on, start certifying (/ready
 * answers 503 until the first certificate). Returns 0, or a negative
 * errno after logging what failed (an address, the identity's key).
 */
int proxy_start(struct proxy *px);

/*
 * proxy_run - run the loop until the drain ends (every connection done,
 * or the grace period over) or a second signal. Returns the exit code: 0.
 */
int proxy_run(struct proxy *px);

/*
 * proxy_shutdown - begin the graceful stop (SIGTERM, POST /shutdown):
 * close the proxy listeners, report not ready, drain connections for up
 * to cfg->shutdown_grace, then break the loop. Idempotent.
 */
void proxy_shutdown(struct proxy *px);

/*
 * proxy_conn_close - end c: the handler's stop(), then the client socket,
 * metrics and the connection count; c is freed after this loop
 * iteration. Safe from any callback of c; idempotent.
 */
void proxy_conn_close(struct proxy_conn *c);

/*
 * proxy_conn_abort - like proxy_conn_close, but the client gets a TCP
 * reset (SO_LINGER 0) instead of a FIN: used when the upstream reset, so
 * the client sees what happened.
 */
void proxy_conn_abort(struct proxy_conn *c);

/* proxy_errstr - strerror(err) as a logfmt value ("Connection refused"
 * quoted), in buf; returns buf */
static inline const char *proxy_errstr(int err, char *buf, size_t size)
{
	return log_quote(buf, size, strerror(err));
}

/*
 * proxy_conn_tls_id - how c's client is secured, for the metrics: its
 * identity ("" when it showed no certificate) when it spoke mesh TLS,
 * else NULL
 */
static inline const char *proxy_conn_tls_id(const struct proxy_conn *c)
{
	return c->tls ? c->tls_id : NULL;
}

/*
 * proxy_upstream_tls - would a connection to an endpoint with this
 * identity (discovery's; NULL or "" for none) be mesh TLS? Returns the
 * identity when it would (this proxy holds a certificate and the endpoint
 * has an identity), else NULL.
 */
const char *proxy_upstream_tls(const struct proxy *px, const char *identity);

/*
 * proxy_upstream_connect - start a non-blocking connection to addr, as
 * sock_connect(). When proxy_upstream_tls(px, identity) says so, the
 * connection is mesh TLS: the socket goes to a TLS relay that proves our
 * identity, checks the server's, and returns the plaintext end of the
 * relay, which the caller uses as if it were the socket (a failed
 * handshake resets it). Returns the fd or a negative errno.
 */
int proxy_upstream_connect(struct proxy *px, const struct sock_addr *addr,
			   const char *identity);

/* proxy_handler_for - the handler that serves proto */
const struct proxy_handler *proxy_handler_for(enum proxy_proto proto);

/* proxy_connect_timeout - the connect timeout for c's direction, ns */
int64_t proxy_connect_timeout(const struct proxy_conn *c);

/*
 * proxy_pipe_get / proxy_pipe_put - an empty non-blocking pipe pair from
 * the cache (or pipe2()); give back only empty pipes (else close them).
 * get returns 0 or a negative errno (-EMFILE: relay without splice).
 */
int proxy_pipe_get(struct proxy *px, int fds[2]);
void proxy_pipe_put(struct proxy *px, int fds[2]);

/*
 * proxy_is_own - would connecting to a reach one of this proxy's own
 * listeners (a loop)?
 */
bool proxy_is_own(const struct proxy *px, const struct sock_addr *a);

/*
 * proxy_resolver - the proxy's DNS resolver (c-ares, --resolv-conf),
 * made on first use; NULL (logged once) when c-ares cannot start.
 */
struct resolver *proxy_resolver(struct proxy *px);

#endif
