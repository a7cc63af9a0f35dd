/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_admin.c - the proxy's admin HTTP/1.1 server: metrics, probes, shutdown */
#include "conduit/proxy_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/log.h"
#include "conduit/pool.h"
#include "conduit/time.h"

#define MAX_CONNS 64		  /* admin connections at once */
#define MAX_HEAD (16u << 10)	  /* request line and headers */
#define MAX_BODY (64u << 10)	  /* nothing here takes a body */
#define IN_MAX (MAX_HEAD + 4096)  /* read buffer */
#define OUT_MAX (64u << 20)	  /* one response (a /metrics text) */
#define IDLE_TIMEOUT 120.0	  /* s between keep-alive requests */
#define WRITE_TIMEOUT 30.0	  /* s for a client to take a response */
#define LINGER_TIMEOUT 2.0	  /* s to wait for the FIN after an error */

enum conn_phase {
	PH_IDLE,	/* between requests */
	PH_REQUEST,	/* a request began: the request timeout runs */
	PH_WRITE,	/* a response is being written */
	PH_LINGER,	/* answered and shut down: waiting for the FIN */
};

struct conn {
	struct proxy_admin *admin;
	struct conn *prev, *next;
	struct loop_reap reap;
	int fd;
	struct sock_addr peer;
	ev_io rd, wr;
	ev_timer timer;
	enum conn_phase phase;
	struct buf in, out;
	struct http1_parser *parser;
	bool close_after;	/* Connection: close, or an error */
	bool shutdown_after;	/* POST /shutdown: act once it is sent */
	bool head_only;		/* HEAD: headers without the body */
	bool responded;		/* an answer is queued (or being written) */
	bool closed;
	/* the request being read */
	char path[64];
	char method[16];
};

struct proxy_admin {
	struct ev_loop *loop;
	struct loop_reaper *reaper;
	struct proxy_admin_config cfg;
	struct proxy_admin_ops ops;
	struct pool pool;
	struct conn *conns;
	size_t nconns;
};

static void conn_free(struct loop_reap *r)
{
	struct conn *c = container_of(r, struct conn, reap);
	struct proxy_admin *a = c->admin;

	http1_parser_free(c->parser);
	buf_release(&c->in);
	buf_release(&c->out);
	pool_put(&a->pool, c);
}

static void conn_close(struct conn *c)
{
	struct proxy_admin *a = c->admin;

	if (c->closed)
		return;
	c->closed = true;
	ev_io_stop(a->loop, &c->rd);
	ev_io_stop(a->loop, &c->wr);
	ev_timer_stop(a->loop, &c->timer);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->nconns--;
	loop_reaper_defer(a->reaper, &c->reap);
}

static void set_timer(struct conn *c, double secs)
{
	ev_timer_stop(c->admin->loop, &c->timer);
	ev_timer_set(&c->timer, secs, 0);
	ev_timer_start(c->admin->loop, &c->timer);
}

static void set_phase(struct conn *c, enum conn_phase ph)
{
	struct proxy_admin *a = c->admin;

	c->phase = ph;
	switch (ph) {
	case PH_IDLE:
		set_timer(c, IDLE_TIMEOUT);
		break;
	case PH_REQUEST:
		/* from the first byte to the last: trickling bytes does not
		 * buy a slow client more time */
		set_timer(c, (double)a->cfg.request_timeout / NSEC_PER_SEC);
		break;
	case PH_WRITE:
		set_timer(c, WRITE_TIMEOUT);
		break;
	case PH_LINGER:
		set_timer(c, LINGER_TIMEOUT);
		break;
	}
}

/* respond - queue a whole response; body may be NULL */
static void respond(struct conn *c, int status, const char *ctype,
		    const char *extra, const void *body, size_t len)
{
	int r;

	c->responded = true;
	r = buf_printf(&c->out,
		       "HTTP/1.1 %d %s\r\n"
		       "Content-Type: %s\r\n"
		       "Content-Length: %zu\r\n"
		       "%s%s"
		       "\r\n",
		       status, http1_status_text(status), ctype, len,
		       extra ? extra : "", c->close_after ? "Connection: close\r\n" : "");
	if (!r && !c->head_only && len)
		r = buf_append(&c->out, body, len);
	if (r) {
		/* only a response bigger than OUT_MAX gets here */
		log_warn("admin response too large", "path=%s bytes=%zu",
			 c->path, len);
		buf_clear(&c->out);
		c->close_after = true;
		buf_printf(&c->out,
			   "HTTP/1.1 500 Internal Server Error\r\n"
			   "Content-Length: 0\r\nConnection: close\r\n\r\n");
	}
}

static void respond_text(struct conn *c, int status, const char *text)
{
	respond(c, status, "text/plain; charset=utf-8", NULL, text,
		strlen(text));
}

/* an error the client caused: answer, then close */
static void respond_error(struct conn *c, int status, const char *why)
{
	char a[SOCK_ADDR_STRLEN];
	char text[128];

	log_debug("bad admin request", "peer=%s status=%d reason=%s",
		  sock_addr_format(&c->peer, a, sizeof(a)), status, why);
	c->close_after = true;
	c->head_only = false;
	snprintf(text, sizeof(text), "%s\n", why);
	respond_text(c, status, text);
}

static void respond_405(struct conn *c, const char *allow)
{
	static const char text[] = "method not allowed\n";
	char extra[64];

	snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
	respond(c, 405, "text/plain; charset=utf-8", extra, text,
		sizeof(text) - 1);
}

static bool method_is(const struct conn *c, const char *m)
{
	return strcmp(c->method, m) == 0;
}

/* route - answer the request whose head and body were read */
static void route(struct conn *c)
{
	struct proxy_admin *a = c->admin;
	bool get = method_is(c, "GET") || method_is(c, "HEAD");
	const char *p = c->path;

	c->head_only = method_is(c, "HEAD");
	if (!strcmp(p, "/shutdown")) {
		if (!method_is(c, "POST"))
			respond_405(c, "POST");
		else if (!a->cfg.allow_shutdown)
			respond_text(c, 404,
				     "shutdown is not enabled (--admin-shutdown)\n");
		else if (!sock_addr_is_loopback(&c->peer))
			respond_text(c, 403,
				     "shutdown is accepted from localhost only\n");
		else {
			respond_text(c, 200, "shutdown\n");
			c->shutdown_after = true;
		}
		return;
	}
	if (strcmp(p, "/metrics") && strcmp(p, "/ready") && strcmp(p, "/live") &&
	    strcmp(p, "/env.json")) {
		respond_text(c, 404, "not found\n");
		return;
	}
	if (!get) {
		respond_405(c, "GET, HEAD");
		return;
	}
	if (!strcmp(p, "/live")) {
		respond_text(c, 200, "live\n");
	} else if (!strcmp(p, "/ready")) {
		if (a->ops.ready && a->ops.ready(a->ops.arg))
			respond_text(c, 200, "ready\n");
		else
			respond_text(c, 503, "not ready\n");
	} else if (!strcmp(p, "/env.json")) {
		respond(c, 200, "application/json", NULL, a->cfg.env_json,
			strlen(a->cfg.env_json));
	} else {
		struct buf text;

		buf_init(&text, OUT_MAX);
		if (metrics_write_text(a->cfg.metrics, &text)) {
			respond_text(c, 500, "metrics too large\n");
		} else {
			respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
				NULL, buf_head(&text), buf_len(&text));
		}
		buf_release(&text);
	}
}

/* on_head - remember what route() needs: the parser forgets it at DONE */
static void on_head(struct conn *c)
{
	struct http1_str t = http1_target(c->parser);
	const char *q = memchr(t.p, '?', t.len);
	size_t n = q ? (size_t)(q - t.p) : t.len;

	str_copy(c->method, http1_method(c->parser), sizeof(c->method));
	if (n >= sizeof(c->path))
		n = 0; /* no such path: a 404 */
	memcpy(c->path, t.p, n);
	c->path[n] = '\0';
}

/*
 * flush - write what is queued. Returns true when it is all written and
 * the connection goes on (read the next request); false when it waits
 * for the socket, lingers before closing, or was closed.
 */
static bool flush(struct conn *c)
{
	struct proxy_admin *a = c->admin;
	ssize_t n;

	if (c->closed)
		return false;
	if (buf_len(&c->out)) {
		n = buf_write_fd(&c->out, c->fd);
		if (n < 0 && n != -EAGAIN) {
			conn_close(c);
			return false;
		}
	}
	if (buf_len(&c->out)) {
		/* the client is slow to read: stop reading it meanwhile */
		if (c->phase != PH_WRITE)
			set_phase(c, PH_WRITE);
		ev_io_stop(a->loop, &c->rd);
		ev_io_start(a->loop, &c->wr);
		return false;
	}
	ev_io_stop(a->loop, &c->wr);
	if (c->shutdown_after) {
		c->shutdown_after = false;
		if (a->ops.shutdown)
			a->ops.shutdown(a->ops.arg);
	}
	if (c->close_after) {
		if (c->phase != PH_LINGER) {
			/* a FIN, then wait for the client's: closing with
			 * unread bytes would reset the answer away */
			shutdown(c->fd, SHUT_WR);
			set_phase(c, PH_LINGER);
		}
		ev_io_start(a->loop, &c->rd);
		return false;
	}
	if (c->responded) {
		/* the answer is out: the next request gets its own timer */
		c->responded = false;
		set_phase(c, PH_IDLE);
	}
	ev_io_start(a->loop, &c->rd);
	return true;
}

/*
 * process - parse and answer buffered requests, one at a time: the next
 * is parsed only once the previous answer is written, so pipelined
 * requests are answered in order and buffers stay bounded.
 */
static void process(struct conn *c)
{
	do {
		while (!c->closed && !c->responded && buf_len(&c->in)) {
			struct http1_event ev;
			ssize_t n;

			if (c->phase == PH_IDLE)
				set_phase(c, PH_REQUEST);
			n = http1_parse(c->parser, (const char *)buf_head(&c->in),
					buf_len(&c->in), &ev);
			if (n < 0) {
				if (n == -E2BIG)
					respond_error(c, 431, "request header fields too large");
				else if (n == -EMSGSIZE)
					respond_error(c, 413, "request body too large");
				else
					respond_error(c, 400,
						      http1_error_reason(c->parser));
				break;
			}
			buf_consume(&c->in, (size_t)n);
			if (ev.type == HTTP1_HEAD) {
				on_head(c);
			} else if (ev.type == HTTP1_DONE) {
				c->close_after = !http1_keep_alive(c->parser);
				route(c);
			}
		}
	} while (flush(c) && buf_len(&c->in));
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, rd);
	ssize_t n;

	(void)loop;
	(void)revents;
	if (c->phase == PH_LINGER) {
		char sink[4096];

		n = read(c->fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = buf_read_fd(&c->in, c->fd, buf_room(&c->in));
	if (n == -EAGAIN)
		return;
	if (n == -ENOBUFS) {
		/* a full buffer the parser has not refused: only a request
		 * arriving while an answer is pending can do that */
		ev_io_stop(loop, w);
		return;
	}
	if (n <= 0) {
		/* EOF or error: a half-sent request has nobody to answer */
		conn_close(c);
		return;
	}
	process(c);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	process(container_of(w, struct conn, wr));
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, timer);
	char a[SOCK_ADDR_STRLEN];

	(void)loop;
	(void)revents;
	if (c->phase == PH_REQUEST && !buf_len(&c->out)) {
		log_debug("admin request timed out", "peer=%s",
			  sock_addr_format(&c->peer, a, sizeof(a)));
		respond_error(c, 408, "request timeout");
		flush(c);
		return;
	}
	conn_close(c);
}

void proxy_admin_accept(struct proxy_admin *a, int fd,
			const struct sock_addr *peer)
{
	static const struct http1_limits lim = {
		.max_head = MAX_HEAD,
		.max_headers = 64,
		.max_body = MAX_BODY,
	};
	struct conn *c = pool_get(&a->pool);

	if (!c) {
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->admin = a;
	c->fd = fd;
	c->peer = *peer;
	c->reap.free = conn_free;
	buf_init(&c->in, IN_MAX);
	buf_init(&c->out, OUT_MAX);
	c->parser = http1_parser_new(HTTP1_REQUEST, &lim);
	ev_io_init(&c->rd, on_read, fd, EV_READ);
	ev_io_init(&c->wr, on_write, fd, EV_WRITE);
	ev_timer_init(&c->timer, on_timer, 0, 0);
	c->next = a->conns;
	if (a->conns)
		a->conns->prev = c;
	a->conns = c;
	a->nconns++;
	set_phase(c, PH_IDLE);
	ev_io_start(a->loop, &c->rd);
}

struct proxy_admin *proxy_admin_new(struct ev_loop *loop,
				    struct loop_reaper *reaper,
				    const struct proxy_admin_config *cfg,
				    const struct proxy_admin_ops *ops)
{
	struct proxy_admin *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->reaper = reaper;
	a->cfg = *cfg;
	a->ops = *ops;
	pool_init(&a->pool, sizeof(struct conn), 8, MAX_CONNS);
	return a;
}

void proxy_admin_free(struct proxy_admin *a)
{
	if (!a)
		return;
	while (a->conns)
		conn_close(a->conns);
	/* the reaper frees them; its owner runs it before the pool goes */
	loop_reaper_run(a->reaper);
	pool_release(&a->pool);
	free(a);
}
