/* SPDX-License-Identifier: Apache-2.0 */
/* httpd.c - an HTTP/1.1 server on libev: routes, async answers, streams */
#include "conduit/httpd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/arena.h"
#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/log.h"
#include "conduit/loop.h"
#include "conduit/pool.h"

#define LINGER_TIMEOUT 2.0  /* s to wait for the client's FIN after an error */
#define MAX_QUERY      64   /* query parameters in one request */
#define READ_SLACK     4096 /* input buffered past one head */

struct route {
	struct route *next;
	char *method; /* NULL: any */
	char *path;
	size_t len;
	bool prefix;
	httpd_handler fn;
	void *arg;
};

struct kv {
	const char *name;
	const char *value;
};

enum req_state {
	RQ_READING, /* being parsed (or nothing yet) */
	RQ_HANDLER, /* dispatched: the handler owns it, no answer yet */
	RQ_STREAM,  /* the handler owns it and streams the answer */
	RQ_DONE,    /* answered: the answer is queued */
};

struct httpd_req {
	struct conn *conn;
	enum req_state state;
	struct arena arena; /* this request's strings */
	const char *method, *path, *target;
	struct kv *headers, *query;
	size_t nheaders, nquery;
	struct buf body;
	bool head_only; /* HEAD: no body in the answer */
	bool chunked;	/* the stream is chunked (not HTTP/1.0) */
	bool http10;	/* an HTTP/1.0 client: keep-alive is opt-in */
	void *data;
	void (*on_cancel)(struct httpd_req *req, void *arg);
	void *cancel_arg;
};

enum conn_phase {
	PH_IDLE,    /* between requests: idle_timeout */
	PH_REQUEST, /* a request is arriving: request_timeout */
	PH_HANDLER, /* the handler has it, nothing to write: no timer */
	PH_WRITE,   /* output waits for the client: write_timeout */
	PH_LINGER,  /* answered an error and shut down: wait for the FIN */
};

struct conn {
	struct httpd *srv;
	struct conn *prev, *next;
	struct loop_reap reap;
	int fd;
	struct sock_addr peer;
	ev_io rd, wr;
	ev_timer timer;
	enum conn_phase phase;
	struct buf in, out;
	struct http1_parser *parser;
	struct httpd_req req;
	bool close_after; /* Connection: close, an error, or shutdown */
	bool closed;	  /* the socket is closed */
	bool orphan;	  /* closed while a handler owns req: freed
			   * once it answers */
	bool in_process;  /* process() is on the stack */
	struct tls_conn *tls; /* HTTPS, or NULL */
	bool handshaking;     /* TLS: no HTTP yet */
	bool sniffed;	      /* TLS: the first byte was looked at */
};

struct httpd {
	struct httpd_config cfg;
	struct ev_loop *loop;
	struct loop_reaper reaper;
	struct route *routes, **routes_tail;
	struct pool pool;
	struct conn *conns;
	size_t nconns;
	struct conn *orphans; /* closed, their request still owned */
	uint64_t requests;
	struct loop_listener listener;
	bool shutting;
};

static void process(struct conn *c);

/* --- helpers -------------------------------------------------------------- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

ssize_t httpd_url_decode(const char *s, size_t n, bool plus, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			ch = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (ch == '+' && plus) {
			ch = ' ';
		}
		if (ch == '\0')
			return -EINVAL;
		out[o++] = ch;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* a header name or value that would break the framing */
static bool field_ok(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

/* --- connections -----------------------------------------------------------
 */

static void conn_free(struct loop_reap *r)
{
	struct conn *c = container_of(r, struct conn, reap);

	http1_parser_free(c->parser);
	buf_release(&c->in);
	buf_release(&c->out);
	buf_release(&c->req.body);
	arena_release(&c->req.arena);
	pool_put(&c->srv->pool, c);
}

static void list_unlink(struct conn **head, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void list_push(struct conn **head, struct conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

/* orphan_release - the handler let go of an orphan's request: free it */
static void orphan_release(struct conn *c)
{
	if (!c->orphan)
		return;
	c->orphan = false;
	list_unlink(&c->srv->orphans, c);
	loop_reaper_defer(&c->srv->reaper, &c->reap);
}

static bool req_owned(const struct httpd_req *req)
{
	return req->state == RQ_HANDLER || req->state == RQ_STREAM;
}

/*
 * conn_close - close the socket now; free later. A request its handler
 * owns is cancelled (on_cancel), or, without on_cancel, kept until the
 * handler answers into the void.
 */
static void conn_close(struct conn *c)
{
	struct httpd *s = c->srv;

	if (c->closed)
		return;
	c->closed = true;
	ev_io_stop(s->loop, &c->rd);
	ev_io_stop(s->loop, &c->wr);
	ev_timer_stop(s->loop, &c->timer);
	tls_conn_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	list_unlink(&s->conns, c);
	s->nconns--;
	if (req_owned(&c->req)) {
		if (!c->req.on_cancel) {
			c->orphan = true;
			list_push(&s->orphans, c);
			return;
		}
		c->req.state = RQ_DONE;
		c->req.on_cancel(&c->req, c->req.cancel_arg);
	}
	loop_reaper_defer(&s->reaper, &c->reap);
}

static void set_timer(struct conn *c, double secs)
{
	ev_timer_stop(c->srv->loop, &c->timer);
	if (secs > 0) {
		ev_timer_set(&c->timer, secs, 0);
		ev_timer_start(c->srv->loop, &c->timer);
	}
}

static void set_phase(struct conn *c, enum conn_phase ph)
{
	const struct httpd_config *cfg = &c->srv->cfg;

	c->phase = ph;
	switch (ph) {
	case PH_IDLE:
		set_timer(c, cfg->idle_timeout);
		break;
	case PH_REQUEST:
		/* first byte to last: trickling does not buy more time */
		set_timer(c, cfg->request_timeout);
		break;
	case PH_HANDLER:
		set_timer(c, 0);
		break;
	case PH_WRITE:
		set_timer(c, cfg->write_timeout);
		break;
	case PH_LINGER:
		set_timer(c, LINGER_TIMEOUT);
		break;
	}
}

/* req_reset - ready for the next request on the connection */
static void req_reset(struct httpd_req *req)
{
	req->state = RQ_READING;
	arena_reset(&req->arena);
	buf_clear(&req->body);
	req->method = req->path = req->target = "";
	req->headers = req->query = NULL;
	req->nheaders = req->nquery = 0;
	req->head_only = req->chunked = req->http10 = false;
	req->data = NULL;
	req->on_cancel = NULL;
	req->cancel_arg = NULL;
}

/* --- transport: the socket, or TLS over it --------------------------------- */

/* conn_read - as buf_read_fd, through TLS when the server has it */
static ssize_t conn_read(struct conn *c)
{
	ssize_t n, total = 0;

	if (!c->tls)
		return buf_read_fd(&c->in, c->fd, buf_room(&c->in));
	for (;;) {
		size_t room = buf_room(&c->in);

		if (!room)
			return total ? total : -ENOBUFS;
		if (room > 16384)
			room = 16384;
		if (buf_reserve(&c->in, room))
			return total ? total : -ENOMEM;
		n = tls_conn_read(c->tls, buf_tail(&c->in), room);
		if (n > 0) {
			buf_commit(&c->in, (size_t)n);
			total += n;
			continue;
		}
		if (n == 0)
			return total;
		return total ? total : n;
	}
}

/* conn_write - as buf_write_fd, through TLS when the server has it */
static ssize_t conn_write(struct conn *c)
{
	ssize_t n, total = 0;

	if (!c->tls)
		return buf_write_fd(&c->out, c->fd);
	while (buf_len(&c->out)) {
		n = tls_conn_write(c->tls, buf_head(&c->out), buf_len(&c->out));
		if (n < 0)
			return total ? total : n;
		buf_consume(&c->out, (size_t)n);
		total += n;
	}
	return total;
}

/*
 * not_tls - the first byte says the client speaks plain HTTP to the TLS
 * port (a TLS client starts with a handshake record, 0x16): tell it so in
 * words, as Go's servers do, after taking what it sent so the close does
 * not reset the answer away.
 */
static void not_tls(struct conn *c, unsigned char first)
{
	static const char answer[] =
		"HTTP/1.0 400 Bad Request\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Connection: close\r\n\r\n"
		"Client sent an HTTP request to an HTTPS server.\n";
	char sink[4096];
	char a[SOCK_ADDR_STRLEN];

	log_debug("not a TLS client", "server=%s peer=%s first_byte=0x%02x",
		  c->srv->cfg.name, sock_addr_format(&c->peer, a, sizeof(a)),
		  first);
	while (read(c->fd, sink, sizeof(sink)) > 0)
		;
	if ((first >= 'A' && first <= 'Z') &&
	    write(c->fd, answer, sizeof(answer) - 1) < 0)
		(void)0; /* the client is gone: nothing to tell it */
	shutdown(c->fd, SHUT_WR);
	conn_close(c);
}

static void handshake(struct conn *c)
{
	struct ev_loop *loop = c->srv->loop;
	char err[400], a[SOCK_ADDR_STRLEN];
	unsigned char first;
	ssize_t n;
	int r;

	if (!c->sniffed) {
		n = recv(c->fd, &first, 1, MSG_PEEK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->sniffed = true;
		if (first != 0x16) {
			not_tls(c, first);
			return;
		}
	}
	r = tls_conn_handshake(c->tls, err, sizeof(err));
	if (r == -EAGAIN) {
		if (tls_conn_wants_write(c->tls))
			ev_io_start(loop, &c->wr);
		else
			ev_io_stop(loop, &c->wr);
		return;
	}
	if (r) {
		log_debug("TLS handshake failed", "server=%s peer=%s error=%s",
			  c->srv->cfg.name,
			  sock_addr_format(&c->peer, a, sizeof(a)), err);
		conn_close(c);
		return;
	}
	c->handshaking = false;
	ev_io_stop(loop, &c->wr);
	set_phase(c, PH_IDLE);
	/* the request may have come with the handshake's last flight */
	ev_feed_event(loop, &c->rd, EV_READ);
}

/*
 * flush - write what is queued. Returns true when everything is written
 * and the connection may read the next request; false while it waits for
 * the socket, for the handler, lingers, or was closed.
 */
static bool flush(struct conn *c)
{
	struct httpd *s = c->srv;
	ssize_t n;

	if (c->closed)
		return false;
	if (buf_len(&c->out)) {
		n = conn_write(c);
		if (n < 0 && n != -EAGAIN) {
			conn_close(c);
			return false;
		}
		if (n > 0 && c->phase == PH_WRITE)
			set_phase(c, PH_WRITE); /* progress: a fresh timeout */
	}
	if (buf_len(&c->out)) {
		if (c->phase != PH_WRITE)
			set_phase(c, PH_WRITE);
		ev_io_start(s->loop, &c->wr);
		return false;
	}
	ev_io_stop(s->loop, &c->wr);
	if (req_owned(&c->req)) {
		if (c->phase != PH_HANDLER)
			set_phase(c, PH_HANDLER);
		return false;
	}
	if (c->req.state != RQ_DONE) {
		/* still reading a request (a 100 Continue went out) */
		if (c->phase == PH_WRITE)
			set_phase(c, PH_REQUEST);
		return true;
	}
	if (c->close_after) {
		if (c->phase != PH_LINGER) {
			/* a FIN, then wait for the client's: closing with
			 * unread bytes would reset the answer away */
			if (c->tls)
				tls_conn_close_notify(c->tls);
			shutdown(c->fd, SHUT_WR);
			set_phase(c, PH_LINGER);
		}
		ev_io_start(s->loop, &c->rd);
		return false;
	}
	req_reset(&c->req);
	http1_parser_reset(c->parser);
	set_phase(c, PH_IDLE);
	ev_io_start(s->loop, &c->rd);
	return true;
}

/* kick - an answer was queued from outside process(): send it, go on */
static void kick(struct conn *c)
{
	if (c->closed) {
		orphan_release(c);
		return;
	}
	if (!c->in_process)
		process(c);
}

/*
 * queue_head - the status line and fields of an answer. length < 0: a
 * stream (chunked, or to the close for HTTP/1.0).
 */
static int queue_head(struct conn *c, int status, const char *ctype,
		      const struct httpd_header *h, size_t nh, int64_t length)
{
	const char *text = http1_status_text(status);
	int r;

	if (c->srv->shutting)
		c->close_after = true;
	r = buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", status,
		       *text ? text : "Unknown");
	if (!r && ctype)
		r = buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
	for (size_t i = 0; !r && i < nh; i++)
		r = buf_printf(&c->out, "%s: %s\r\n", h[i].name, h[i].value);
	if (!r && length >= 0)
		r = buf_printf(&c->out, "Content-Length: %lld\r\n",
			       (long long)length);
	else if (!r && c->req.chunked)
		r = buf_append_str(&c->out, "Transfer-Encoding: chunked\r\n");
	if (!r && c->close_after)
		r = buf_append_str(&c->out, "Connection: close\r\n");
	else if (!r && c->req.http10)
		/* it asked to keep the connection: say yes, or it closes */
		r = buf_append_str(&c->out, "Connection: keep-alive\r\n");
	if (!r)
		r = buf_append_str(&c->out, "\r\n");
	return r;
}

/* answer - queue a whole answer; the request is done */
static int answer(struct conn *c, int status, const char *ctype,
		  const struct httpd_header *h, size_t nh, const void *body,
		  size_t len)
{
	size_t mark = buf_len(&c->out);
	int r = 0;

	for (size_t i = 0; i < nh; i++)
		if (!field_ok(h[i].name) || !field_ok(h[i].value) ||
		    !*h[i].name)
			r = -EINVAL;
	if (ctype && !field_ok(ctype))
		r = -EINVAL;
	if (!r)
		r = queue_head(c, status, ctype, h, nh, (int64_t)len);
	if (!r && len && !c->req.head_only)
		r = buf_append(&c->out, body, len);
	if (r) {
		/* drop the partial answer: the client gets a 500 */
		log_warn(
		    "cannot answer", "server=%s path=%s status=%d reason=%s",
		    c->srv->cfg.name, c->req.path, status,
		    r == -EINVAL ? "bad header field" : "answer too large");
		c->out.len = mark;
		c->close_after = true;
		buf_printf(&c->out,
			   "HTTP/1.1 500 Internal Server Error\r\n"
			   "Content-Length: 0\r\nConnection: close\r\n\r\n");
	}
	c->req.state = RQ_DONE;
	c->srv->requests++;
	return r;
}

/* an error the client caused, while reading its request: answer, close */
static void answer_error(struct conn *c, int status, const char *why)
{
	char a[SOCK_ADDR_STRLEN], text[160];

	log_debug("bad request", "server=%s peer=%s status=%d reason=%s",
		  c->srv->cfg.name, sock_addr_format(&c->peer, a, sizeof(a)),
		  status, why);
	c->close_after = true;
	c->req.head_only = false;
	snprintf(text, sizeof(text), "%s\n", why);
	answer(c, status, "text/plain; charset=utf-8", NULL, 0, text,
	       strlen(text));
}

/* --- routing -------------------------------------------------------------- */

static bool route_path_matches(const struct route *rt, const char *path)
{
	return rt->prefix ? strncmp(path, rt->path, rt->len) == 0
			  : strcmp(path, rt->path) == 0;
}

static bool route_method_matches(const struct route *rt, const char *method)
{
	return !rt->method || !strcmp(rt->method, method) ||
	       (!strcmp(rt->method, "GET") && !strcmp(method, "HEAD"));
}

/* allow_list - "GET, HEAD, POST" for the routes of path, into buf */
static void allow_list(struct httpd *s, const char *path, char *buf,
		       size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (struct route *rt = s->routes; rt; rt = rt->next) {
		const char *m[2] = {rt->method, NULL};

		if (!route_path_matches(rt, path) || !rt->method)
			continue;
		if (!strcmp(rt->method, "GET"))
			m[1] = "HEAD";
		for (int i = 0; i < 2 && m[i]; i++) {
			size_t ml = strlen(m[i]);
			const char *hit = strstr(buf, m[i]);

			/* whole tokens only: "GET" is not in "TARGET" */
			if (hit && (hit == buf || hit[-1] == ' ') &&
			    (hit[ml] == ',' || !hit[ml]))
				continue;
			if (n + ml + 3 >= size)
				return;
			n += (size_t)snprintf(buf + n, size - n, "%s%s",
					      n ? ", " : "", m[i]);
		}
	}
}

static void dispatch(struct conn *c)
{
	struct httpd *s = c->srv;
	struct httpd_req *req = &c->req;
	bool path_known = false;

	for (struct route *rt = s->routes; rt; rt = rt->next) {
		if (!route_path_matches(rt, req->path))
			continue;
		path_known = true;
		if (!route_method_matches(rt, req->method))
			continue;
		req->state = RQ_HANDLER;
		set_phase(c, PH_HANDLER);
		rt->fn(req, rt->arg);
		return;
	}
	if (path_known) {
		char allow[128];
		struct httpd_header h = {"Allow", allow};
		static const char text[] = "method not allowed\n";

		allow_list(s, req->path, allow, sizeof(allow));
		answer(c, 405, "text/plain; charset=utf-8", &h, 1, text,
		       sizeof(text) - 1);
		return;
	}
	answer(c, 404, "text/plain; charset=utf-8", NULL, 0, "not found\n", 10);
}

/* --- reading requests ------------------------------------------------------
 */

/* parse_query - split and decode the query into req->query */
static int parse_query(struct httpd_req *req, const char *q)
{
	size_t n = 0;

	req->query = arena_alloc(&req->arena, MAX_QUERY * sizeof(*req->query));
	if (!req->query)
		return -ENOMEM;
	while (*q) {
		const char *end = strchr(q, '&'), *eq;
		size_t len = end ? (size_t)(end - q) : strlen(q);
		char *name, *value;

		eq = memchr(q, '=', len);
		if (len) {
			size_t nl = eq ? (size_t)(eq - q) : len;
			size_t vl = eq ? len - nl - 1 : 0;

			if (n == MAX_QUERY)
				return -E2BIG;
			name = arena_alloc(&req->arena, nl + 1);
			value = arena_alloc(&req->arena, vl + 1);
			if (!name || !value)
				return -ENOMEM;
			if (httpd_url_decode(q, nl, true, name) < 0 ||
			    httpd_url_decode(eq ? eq + 1 : "", vl, true,
					     value) < 0)
				return -EINVAL;
			req->query[n].name = name;
			req->query[n].value = value;
			n++;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	req->nquery = n;
	return 0;
}

/* on_head - copy what the handler needs: the parser forgets it at DONE */
static int on_head(struct conn *c)
{
	struct httpd_req *req = &c->req;
	struct http1_parser *p = c->parser;
	struct http1_str t = http1_target(p), name, value;
	const char *q;
	char *path;
	int r;

	req->method = arena_strdup(&req->arena, http1_method(p));
	req->target = arena_strndup(&req->arena, t.p, t.len);
	req->nheaders = http1_header_count(p);
	req->headers = arena_alloc(&req->arena,
				   (req->nheaders + 1) * sizeof(*req->headers));
	if (!req->method || !req->target || !req->headers)
		return -ENOMEM;
	q = strchr(req->target, '?');
	path =
	    arena_strndup(&req->arena, req->target,
			  q ? (size_t)(q - req->target) : strlen(req->target));
	if (!path)
		return -ENOMEM;
	/* a fragment is never sent, but ignore one if it is */
	if (strchr(path, '#'))
		*strchr(path, '#') = '\0';
	req->path = path;
	for (size_t i = 0; i < req->nheaders; i++) {
		http1_header_at(p, i, &name, &value);
		req->headers[i].name =
		    arena_strndup(&req->arena, name.p, name.len);
		req->headers[i].value =
		    arena_strndup(&req->arena, value.p, value.len);
		if (!req->headers[i].name || !req->headers[i].value)
			return -ENOMEM;
	}
	if (q) {
		char *qs = arena_strdup(&req->arena, q + 1);

		if (!qs)
			return -ENOMEM;
		if (strchr(qs, '#'))
			*strchr(qs, '#') = '\0';
		r = parse_query(req, qs);
		if (r)
			return r;
	}
	req->head_only = !strcmp(req->method, "HEAD");
	req->chunked = http1_version(p) >= 11;
	req->http10 = !req->chunked;
	/* a client waiting for our go-ahead before its body */
	if (http1_header_get(p, "expect", &value) && value.len == 12 &&
	    !strncasecmp(value.p, "100-continue", 12) && http1_version(p) >= 11)
		buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

/* feed - parse one event; returns false when processing must stop */
static bool feed(struct conn *c)
{
	struct http1_event ev;
	ssize_t n;
	int r;

	if (c->phase == PH_IDLE)
		set_phase(c, PH_REQUEST);
	n = http1_parse(c->parser, (const char *)buf_head(&c->in),
			buf_len(&c->in), &ev);
	if (n < 0) {
		if (n == -E2BIG)
			answer_error(c, 431, "request header fields too large");
		else if (n == -EMSGSIZE)
			answer_error(c, 413, "request body too large");
		else if (n == -ENOMEM)
			answer_error(c, 503, "out of memory");
		else
			answer_error(c, 400, http1_error_reason(c->parser));
		return false;
	}
	if (ev.type == HTTP1_BODY &&
	    buf_append(&c->req.body, ev.body, ev.body_len)) {
		answer_error(c, 413, "request body too large");
		return false;
	}
	buf_consume(&c->in, (size_t)n);
	if (ev.type == HTTP1_HEAD) {
		r = on_head(c);
		if (r == -E2BIG) {
			answer_error(c, 400, "too many query parameters");
			return false;
		}
		if (r == -EINVAL) {
			answer_error(c, 400, "a NUL byte in the query");
			return false;
		}
		if (r) {
			answer_error(c, 431, "request header fields too large");
			return false;
		}
		if (buf_len(&c->out))
			flush(c); /* 100 Continue */
	} else if (ev.type == HTTP1_DONE) {
		if (!http1_keep_alive(c->parser) || c->srv->shutting)
			c->close_after = true;
		if (!buf_cstr(&c->req.body)) {
			answer_error(c, 413, "request body too large");
			return false;
		}
		dispatch(c);
		return c->req.state == RQ_DONE;
	}
	return true;
}

/*
 * process - parse and answer buffered requests, one at a time: the next
 * is parsed only once the previous answer is written, so pipelined
 * requests are answered in order and buffers stay bounded.
 */
static void process(struct conn *c)
{
	c->in_process = true;
	do {
		while (!c->closed && c->req.state == RQ_READING &&
		       buf_len(&c->in))
			if (!feed(c))
				break;
	} while (flush(c) && buf_len(&c->in));
	c->in_process = false;
	if (c->orphan)
		return;
	/* room again after a full buffer stopped reading */
	if (!c->closed && buf_room(&c->in) && c->phase != PH_LINGER) {
		ev_io_start(c->srv->loop, &c->rd);
		/* TLS: decrypted bytes the socket will not signal again */
		if (c->tls && tls_conn_pending(c->tls))
			ev_feed_event(c->srv->loop, &c->rd, EV_READ);
	}
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, rd);
	ssize_t n;

	(void)revents;
	if (c->handshaking) {
		handshake(c);
		return;
	}
	if (c->phase == PH_LINGER) {
		char sink[4096];

		n = read(c->fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = conn_read(c);
	if (n == -EAGAIN)
		return;
	if (n == -ENOBUFS) {
		/* requests pipelined behind one not yet answered: read
		 * again once it is */
		ev_io_stop(loop, w);
		return;
	}
	if (n <= 0) {
		/* EOF or error: nobody to answer; an owned request is
		 * cancelled */
		conn_close(c);
		return;
	}
	process(c);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, wr);

	(void)loop;
	(void)revents;
	if (c->handshaking)
		handshake(c);
	else
		process(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, timer);
	char a[SOCK_ADDR_STRLEN];

	(void)loop;
	(void)revents;
	if (!c->handshaking && c->phase == PH_REQUEST &&
	    c->req.state == RQ_READING && !buf_len(&c->out)) {
		log_debug("request timed out", "server=%s peer=%s",
			  c->srv->cfg.name,
			  sock_addr_format(&c->peer, a, sizeof(a)));
		answer_error(c, 408, "request timeout");
		flush(c);
		return;
	}
	conn_close(c);
}

int httpd_adopt(struct httpd *s, int fd, const struct sock_addr *peer)
{
	struct http1_limits lim = {
	    .max_head = s->cfg.max_head,
	    .max_headers = s->cfg.max_headers,
	    .max_body = s->cfg.max_body,
	};
	struct conn *c = s->shutting ? NULL : pool_get(&s->pool);

	if (!c) {
		close(fd);
		return -EMFILE;
	}
	memset(c, 0, sizeof(*c));
	c->parser = http1_parser_new(HTTP1_REQUEST, &lim);
	if (!c->parser) {
		pool_put(&s->pool, c);
		close(fd);
		return -ENOMEM;
	}
	c->srv = s;
	c->fd = fd;
	if (peer)
		c->peer = *peer;
	else
		sock_peer_addr(fd, &c->peer);
	c->reap.free = conn_free;
	buf_init(&c->in, s->cfg.max_head + READ_SLACK);
	buf_init(&c->out, s->cfg.max_response);
	buf_init(&c->req.body, s->cfg.max_body + 1);
	arena_init(&c->req.arena, 4096, 3 * s->cfg.max_head + 4096);
	c->req.conn = c;
	req_reset(&c->req);
	ev_io_init(&c->rd, on_read, fd, EV_READ);
	ev_io_init(&c->wr, on_write, fd, EV_WRITE);
	ev_timer_init(&c->timer, on_timer, 0, 0);
	list_push(&s->conns, c);
	s->nconns++;
	if (s->cfg.tls) {
		c->tls = tls_server_conn_new(s->cfg.tls, fd);
		if (!c->tls) {
			conn_close(c);
			return -ENOMEM;
		}
		c->handshaking = true;
		/* first byte to the end of the handshake, then per request */
		set_phase(c, PH_REQUEST);
	} else {
		set_phase(c, PH_IDLE);
	}
	ev_io_start(s->loop, &c->rd);
	return 0;
}

static void on_accept(struct loop_listener *l, int fd,
		      const struct sock_addr *peer)
{
	struct httpd *s = container_of(l, struct httpd, listener);

	if (httpd_adopt(s, fd, peer) == -EMFILE)
		log_debug("too many connections: refused", "server=%s",
			  s->cfg.name);
}

/* --- the server ------------------------------------------------------------
 */

struct httpd *httpd_new(const struct httpd_config *cfg)
{
	struct httpd *s;

	if (!cfg->loop)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->loop = cfg->loop;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 256;
	if (!s->cfg.max_head)
		s->cfg.max_head = 16u << 10;
	if (!s->cfg.max_headers)
		s->cfg.max_headers = 64;
	if (!s->cfg.max_body)
		s->cfg.max_body = 1u << 20;
	if (!s->cfg.max_response)
		s->cfg.max_response = 64u << 20;
	if (!s->cfg.max_stream_queue)
		s->cfg.max_stream_queue = 256u << 10;
	if (s->cfg.request_timeout <= 0)
		s->cfg.request_timeout = 10;
	if (s->cfg.idle_timeout <= 0)
		s->cfg.idle_timeout = 120;
	if (s->cfg.write_timeout <= 0)
		s->cfg.write_timeout = 30;
	if (!s->cfg.name)
		s->cfg.name = "http";
	s->routes_tail = &s->routes;
	loop_listener_init(&s->listener, s->loop, s->cfg.name, on_accept);
	loop_reaper_init(&s->reaper, s->loop);
	pool_init(&s->pool, sizeof(struct conn), 16, s->cfg.max_conns);
	return s;
}

static int add_route(struct httpd *s, const char *method, const char *path,
		     bool prefix, httpd_handler fn, void *arg)
{
	struct route *rt;

	if (!path || path[0] != '/' || !fn)
		return -EINVAL;
	rt = xcalloc(1, sizeof(*rt));
	rt->method = method ? xstrdup(method) : NULL;
	rt->path = xstrdup(path);
	rt->len = strlen(path);
	rt->prefix = prefix;
	rt->fn = fn;
	rt->arg = arg;
	*s->routes_tail = rt;
	s->routes_tail = &rt->next;
	return 0;
}

int httpd_route(struct httpd *s, const char *method, const char *path,
		httpd_handler fn, void *arg)
{
	return add_route(s, method, path, false, fn, arg);
}

int httpd_route_prefix(struct httpd *s, const char *method, const char *prefix,
		       httpd_handler fn, void *arg)
{
	return add_route(s, method, prefix, true, fn, arg);
}

int httpd_listen(struct httpd *s, const struct sock_addr *a)
{
	return loop_listener_start(&s->listener, a);
}

int httpd_local_addr(const struct httpd *s, struct sock_addr *out)
{
	return loop_listener_addr(&s->listener, out);
}

void httpd_shutdown(struct httpd *s)
{
	struct conn *c, *next;

	s->shutting = true;
	loop_listener_stop(&s->listener);
	for (c = s->conns; c; c = next) {
		next = c->next;
		c->close_after = true;
		if (c->phase == PH_IDLE && !buf_len(&c->in))
			conn_close(c);
	}
}

size_t httpd_conns(const struct httpd *s)
{
	return s->nconns;
}

uint64_t httpd_requests(const struct httpd *s)
{
	return s->requests;
}

void httpd_free(struct httpd *s)
{
	struct route *rt, *next;

	if (!s)
		return;
	loop_listener_stop(&s->listener);
	while (s->conns)
		conn_close(s->conns);
	while (s->orphans)
		orphan_release(s->orphans);
	loop_reaper_release(&s->reaper);
	pool_release(&s->pool);
	for (rt = s->routes; rt; rt = next) {
		next = rt->next;
		free(rt->method);
		free(rt->path);
		free(rt);
	}
	free(s);
}

/* --- requests ---------------------------------------------------------------
 */

const char *httpd_req_method(const struct httpd_req *req)
{
	return req->method;
}

const char *httpd_req_path(const struct httpd_req *req)
{
	return req->path;
}

const char *httpd_req_target(const struct httpd_req *req)
{
	return req->target;
}

const char *httpd_req_query(const struct httpd_req *req, const char *name)
{
	for (size_t i = 0; i < req->nquery; i++)
		if (!strcmp(req->query[i].name, name))
			return req->query[i].value;
	return NULL;
}

size_t httpd_req_query_count(const struct httpd_req *req)
{
	return req->nquery;
}

void httpd_req_query_at(const struct httpd_req *req, size_t i,
			const char **name, const char **value)
{
	BUG_ON(i >= req->nquery);
	*name = req->query[i].name;
	*value = req->query[i].value;
}

const char *httpd_req_header(const struct httpd_req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

size_t httpd_req_header_count(const struct httpd_req *req)
{
	return req->nheaders;
}

void httpd_req_header_at(const struct httpd_req *req, size_t i,
			 const char **name, const char **value)
{
	BUG_ON(i >= req->nheaders);
	*name = req->headers[i].name;
	*value = req->headers[i].value;
}

const char *httpd_req_body(const struct httpd_req *req, size_t *len)
{
	if (len)
		*len = buf_len(&req->body);
	return buf_len(&req->body) ? (const char *)buf_head(&req->body) : "";
}

const struct sock_addr *httpd_req_peer(const struct httpd_req *req)
{
	return &req->conn->peer;
}

void *httpd_req_data(const struct httpd_req *req)
{
	return req->data;
}

void httpd_req_set_data(struct httpd_req *req, void *data)
{
	req->data = data;
}

void httpd_req_on_cancel(struct httpd_req *req,
			 void (*fn)(struct httpd_req *req, void *arg),
			 void *arg)
{
	req->on_cancel = fn;
	req->cancel_arg = arg;
}

/* --- answers ----------------------------------------------------------------
 */

int httpd_respond(struct httpd_req *req, int status, const char *content_type,
		  const struct httpd_header *h, size_t nh, const void *body,
		  size_t len)
{
	struct conn *c = req->conn;
	int r = 0;

	BUG_ON(req->state != RQ_HANDLER);
	if (c->closed)
		req->state = RQ_DONE;
	else
		r = answer(c, status, content_type, h, nh, body, len);
	kick(c);
	return r;
}

int httpd_respond_text(struct httpd_req *req, int status, const char *text)
{
	return httpd_respond(req, status, "text/plain; charset=utf-8", NULL, 0,
			     text, strlen(text));
}

int httpd_respond_json(struct httpd_req *req, int status, const char *json)
{
	return httpd_respond(req, status, "application/json", NULL, 0, json,
			     strlen(json));
}

/* stream_refuse - a stream that cannot start: the client gets a 500 */
static int stream_refuse(struct httpd_req *req, int err)
{
	httpd_respond(req, 500, NULL, NULL, 0, NULL, 0);
	return err;
}

int httpd_stream_start(struct httpd_req *req, int status,
		       const char *content_type, const struct httpd_header *h,
		       size_t nh)
{
	struct conn *c = req->conn;
	size_t mark = buf_len(&c->out);

	BUG_ON(req->state != RQ_HANDLER);
	for (size_t i = 0; i < nh; i++)
		if (!field_ok(h[i].name) || !field_ok(h[i].value) ||
		    !*h[i].name)
			return stream_refuse(req, -EINVAL);
	if (content_type && !field_ok(content_type))
		return stream_refuse(req, -EINVAL);
	req->state = RQ_STREAM;
	if (c->closed)
		return 0;
	if (!req->chunked)
		c->close_after = true; /* HTTP/1.0: the close ends the body */
	if (queue_head(c, status, content_type, h, nh, -1)) {
		c->out.len = mark;
		req->state = RQ_HANDLER;
		return stream_refuse(req, -ENOBUFS);
	}
	kick(c);
	return 0;
}

/* stream_drop - the stream fails: close without on_cancel */
static int stream_drop(struct conn *c, int err)
{
	c->req.state = RQ_DONE;
	if (!c->closed)
		conn_close(c);
	orphan_release(c);
	return err;
}

int httpd_stream_write(struct httpd_req *req, const void *p, size_t n)
{
	struct conn *c = req->conn;
	char size[24];
	int r;

	BUG_ON(req->state != RQ_STREAM);
	if (c->closed)
		return stream_drop(c, -EPIPE);
	if (!n || req->head_only)
		return 0;
	if (buf_len(&c->out) + n > c->srv->cfg.max_stream_queue) {
		char a[SOCK_ADDR_STRLEN];

		log_info("slow stream client dropped",
			 "server=%s peer=%s path=%s queued=%zu",
			 c->srv->cfg.name,
			 sock_addr_format(&c->peer, a, sizeof(a)), req->path,
			 buf_len(&c->out));
		return stream_drop(c, -ENOBUFS);
	}
	snprintf(size, sizeof(size), "%zx\r\n", n);
	r = req->chunked ? buf_append_str(&c->out, size) : 0;
	if (!r)
		r = buf_append(&c->out, p, n);
	if (!r && req->chunked)
		r = buf_append_str(&c->out, "\r\n");
	if (r)
		return stream_drop(c, -ENOBUFS);
	kick(c);
	if (c->closed)
		return stream_drop(c, -EPIPE);
	return 0;
}

size_t httpd_stream_queued(const struct httpd_req *req)
{
	return buf_len(&req->conn->out);
}

void httpd_stream_end(struct httpd_req *req)
{
	struct conn *c = req->conn;

	BUG_ON(req->state != RQ_STREAM);
	req->state = RQ_DONE;
	c->srv->requests++;
	if (!c->closed && req->chunked && !req->head_only &&
	    buf_append_str(&c->out, "0\r\n\r\n"))
		c->close_after = true; /* cannot end it cleanly: close */
	kick(c);
}
