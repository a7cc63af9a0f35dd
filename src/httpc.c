/* SPDX-License-Identifier: Apache-2.0 */
/* httpc.c - an asynchronous HTTP/1.1 client on libev, answers or streams */
#include "conduit/httpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conduit/arena.h"
#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/log.h"
#include "conduit/loop.h"

#define IN_MAX		 (64u << 10) /* read buffer: a head, or body pieces */
#define HEAD_MAX	 (32u << 10) /* an answer's status line and headers */
#define DEFAULT_TIMEOUT	 30.0
#define DEFAULT_MAX_BODY (4u << 20)

struct hconn {
	struct httpc *cl;
	struct hconn *prev, *next; /* the idle list */
	struct loop_reap reap;
	int fd;
	struct sock_addr addr;
	ev_io rd, wr;
	ev_timer idle;
	struct buf in, out;
	struct http1_parser *parser;
	struct httpc_call *call; /* NULL: idle */
	bool connecting;
	bool in_idle; /* on the idle list */
	bool reused;  /* carried an answer before */
	bool closed;
};

struct httpc_call {
	struct httpc *cl;
	struct httpc_call *prev, *next; /* every call in flight */
	struct loop_reap reap;
	struct httpc_req req; /* copy; strings in arena */
	struct arena arena;   /* the request's and answer's strings */
	struct buf wire;      /* the request as sent (for a retry) */
	struct buf body;      /* whole answer, or a partial line */
	struct hconn *conn;
	ev_timer timer; /* deadline, or a failure to report */
	int err;	/* to report from the loop */
	int status;
	struct httpc_header *headers;
	size_t nheaders;
	bool head_seen;
	bool got_bytes; /* the connection answered something */
	bool retried;
	bool over; /* on_done ran or cancelled */
};

struct httpc {
	struct httpc_config cfg;
	struct ev_loop *loop;
	struct loop_reaper reaper;
	struct httpc_call *calls;
	size_t ncalls;
	struct hconn *idle;
	size_t nidle;
};

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents);

/* --- connections ------------------------------------------------------------
 */

static void hconn_free(struct loop_reap *r)
{
	struct hconn *hc = container_of(r, struct hconn, reap);

	http1_parser_free(hc->parser);
	buf_release(&hc->in);
	buf_release(&hc->out);
	free(hc);
}

static void idle_unlink(struct hconn *hc)
{
	struct httpc *cl = hc->cl;

	if (!hc->in_idle)
		return;
	hc->in_idle = false;
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		cl->idle = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	hc->prev = hc->next = NULL;
	cl->nidle--;
	ev_timer_stop(cl->loop, &hc->idle);
}

static void hconn_close(struct hconn *hc)
{
	struct httpc *cl = hc->cl;

	if (hc->closed)
		return;
	hc->closed = true;
	idle_unlink(hc);
	hc->call = NULL;
	ev_io_stop(cl->loop, &hc->rd);
	ev_io_stop(cl->loop, &hc->wr);
	ev_timer_stop(cl->loop, &hc->idle);
	close(hc->fd);
	loop_reaper_defer(&cl->reaper, &hc->reap);
}

static void on_idle_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	hconn_close(container_of(w, struct hconn, idle));
}

static struct hconn *hconn_new(struct httpc *cl, const struct sock_addr *a,
			       int *err)
{
	struct hconn *hc;
	int fd = sock_connect(a);

	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	sock_set_nodelay(fd);
	hc = xcalloc(1, sizeof(*hc));
	hc->cl = cl;
	hc->fd = fd;
	hc->addr = *a;
	hc->reap.free = hconn_free;
	hc->connecting = true;
	buf_init(&hc->in, IN_MAX);
	buf_init(&hc->out, 0);
	hc->parser = http1_parser_new(
	    HTTP1_RESPONSE, &(struct http1_limits){.max_head = HEAD_MAX});
	if (!hc->parser) {
		close(fd);
		free(hc);
		*err = -ENOMEM;
		return NULL;
	}
	ev_io_init(&hc->rd, conn_on_read, fd, EV_READ);
	ev_io_init(&hc->wr, conn_on_write, fd, EV_WRITE);
	ev_timer_init(&hc->idle, on_idle_timeout, 0, 0);
	return hc;
}

/* park - keep a connection whose answer ended cleanly, or close it */
static void park(struct hconn *hc)
{
	struct httpc *cl = hc->cl;

	hc->call = NULL;
	if (cl->nidle >= cl->cfg.max_idle || buf_len(&hc->in)) {
		hconn_close(hc);
		return;
	}
	hc->reused = true;
	hc->in_idle = true;
	http1_parser_reset(hc->parser);
	hc->next = cl->idle;
	if (cl->idle)
		cl->idle->prev = hc;
	cl->idle = hc;
	cl->nidle++;
	ev_io_stop(cl->loop, &hc->wr);
	/* reading on: the server's close (or junk) ends it at once */
	ev_io_start(cl->loop, &hc->rd);
	ev_timer_set(&hc->idle, cl->cfg.idle_timeout, 0);
	ev_timer_start(cl->loop, &hc->idle);
}

/* --- calls ---------------------------------------------------------------- */

static void call_free(struct loop_reap *r)
{
	struct httpc_call *call = container_of(r, struct httpc_call, reap);

	arena_release(&call->arena);
	buf_release(&call->wire);
	buf_release(&call->body);
	free(call);
}

/* call_end - unlink, stop, free after this iteration (no callback) */
static void call_end(struct httpc_call *call)
{
	struct httpc *cl = call->cl;

	call->over = true;
	ev_timer_stop(cl->loop, &call->timer);
	if (call->conn) {
		struct hconn *hc = call->conn;

		call->conn = NULL;
		if (hc->call == call)
			hconn_close(hc);
	}
	if (call->prev)
		call->prev->next = call->next;
	else
		cl->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	cl->ncalls--;
	loop_reaper_defer(&cl->reaper, &call->reap);
}

/* call_done - report the outcome once, then end */
static void call_done(struct httpc_call *call, int err)
{
	struct httpc_resp resp = {
	    .err = err,
	    .status = call->head_seen ? call->status : 0,
	    .body = "",
	    .headers = call->headers,
	    .nheaders = call->head_seen ? call->nheaders : 0,
	};

	if (call->over)
		return;
	call->over = true;
	if (!err && !call->req.on_data && buf_cstr(&call->body)) {
		resp.body = (const char *)buf_head(&call->body);
		resp.body_len = buf_len(&call->body);
	}
	if (err) {
		char a[SOCK_ADDR_STRLEN];

		log_debug("request failed",
			  "client=%s addr=%s path=%s reason=\"%s\"",
			  call->cl->cfg.name,
			  sock_addr_format(&call->req.addr, a, sizeof(a)),
			  call->req.path, strerror(-err));
	}
	call->req.on_done(call, &resp, call->req.arg);
	call->over = false;
	call_end(call);
}

/* fail_later - report err from the loop, not from the caller's stack */
static void fail_later(struct httpc_call *call, int err)
{
	struct ev_loop *loop = call->cl->loop;

	call->err = err;
	ev_timer_stop(loop, &call->timer);
	ev_timer_set(&call->timer, 0, 0);
	ev_timer_start(loop, &call->timer);
}

static void on_call_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpc_call *call = container_of(w, struct httpc_call, timer);

	(void)loop;
	(void)revents;
	call_done(call, call->err ? call->err : -ETIMEDOUT);
}

static bool idempotent(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
	       !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS");
}

/* attach - put the call on an idle connection to its address, or a new one */
static int attach(struct httpc_call *call, bool fresh)
{
	struct httpc *cl = call->cl;
	struct hconn *hc = NULL;
	int err = 0;

	if (!fresh && !(call->req.flags & HTTPC_NO_REUSE))
		for (hc = cl->idle; hc; hc = hc->next)
			if (sock_addr_equal(&hc->addr, &call->req.addr))
				break;
	if (hc) {
		idle_unlink(hc);
	} else {
		hc = hconn_new(cl, &call->req.addr, &err);
		if (!hc)
			return err;
	}
	hc->call = call;
	call->conn = hc;
	call->got_bytes = false;
	buf_clear(&hc->out);
	if (buf_append(&hc->out, buf_head(&call->wire), buf_len(&call->wire))) {
		hconn_close(hc);
		call->conn = NULL;
		return -ENOMEM;
	}
	if (!strcmp(call->req.method, "HEAD"))
		http1_expect_no_body(hc->parser);
	ev_io_start(cl->loop, &hc->wr);
	ev_io_start(cl->loop, &hc->rd);
	return 0;
}

/*
 * conn_failed - the connection broke during the call: retry once on a
 * new connection when a reused one was found closed before any answer
 * to an idempotent request, else report err.
 */
static void conn_failed(struct hconn *hc, int err)
{
	struct httpc_call *call = hc->call;
	bool retry = call && hc->reused && !call->got_bytes && !call->retried &&
		     idempotent(call->req.method);

	hconn_close(hc);
	if (!call)
		return;
	call->conn = NULL;
	if (retry) {
		call->retried = true;
		err = attach(call, true);
		if (!err)
			return;
	}
	call_done(call, err);
}

/* deliver - hand body bytes to the caller; false when the call ended */
static bool deliver(struct httpc_call *call, const char *p, size_t n)
{
	int r;

	if (!call->req.on_data) {
		if (buf_append(&call->body, p, n)) {
			call_done(call, -EMSGSIZE);
			return false;
		}
		return true;
	}
	if (!(call->req.flags & HTTPC_LINES)) {
		r = call->req.on_data(call, p, n, call->req.arg);
		if (r && !call->over)
			httpc_cancel(call);
		return !call->over;
	}
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		const char *line = p;
		size_t len = take;

		if (buf_append(&call->body, p, take)) {
			call_done(call, -EMSGSIZE);
			return false;
		}
		p += take;
		n -= take;
		if (!nl)
			break;
		p++; /* the newline */
		n--;
		line = (const char *)buf_head(&call->body);
		len = buf_len(&call->body);
		if (len && line[len - 1] == '\r')
			len--;
		r = call->req.on_data(call, line ? line : "", len,
				      call->req.arg);
		if (r && !call->over)
			httpc_cancel(call);
		if (call->over)
			return false;
		buf_clear(&call->body);
	}
	return true;
}

/* on_head - copy the status and headers out of the parser */
static int on_head(struct httpc_call *call, struct http1_parser *p)
{
	struct http1_str name, value;

	call->status = http1_status(p);
	call->nheaders = http1_header_count(p);
	call->headers = arena_alloc(&call->arena, (call->nheaders + 1) *
						      sizeof(*call->headers));
	if (!call->headers)
		return -ENOMEM;
	for (size_t i = 0; i < call->nheaders; i++) {
		http1_header_at(p, i, &name, &value);
		call->headers[i].name =
		    arena_strndup(&call->arena, name.p, name.len);
		call->headers[i].value =
		    arena_strndup(&call->arena, value.p, value.len);
		if (!call->headers[i].name || !call->headers[i].value)
			return -ENOMEM;
	}
	return 0;
}

/* answer_done - a whole answer arrived: keep the connection, report */
static void answer_done(struct hconn *hc)
{
	struct httpc_call *call = hc->call;
	bool keep =
	    http1_keep_alive(hc->parser) && !(call->req.flags & HTTPC_NO_REUSE);

	if (call->req.on_data && (call->req.flags & HTTPC_LINES) &&
	    buf_len(&call->body)) {
		/* a last line without its newline */
		if (!deliver(call, "\n", 1))
			return;
	}
	call->conn = NULL;
	if (keep)
		park(hc);
	else
		hconn_close(hc);
	call_done(call, 0);
}

/* parse - what arrived on a connection with a call */
static void parse(struct hconn *hc)
{
	while (hc->call && !hc->closed && buf_len(&hc->in)) {
		struct httpc_call *call = hc->call;
		struct http1_event ev;
		ssize_t n =
		    http1_parse(hc->parser, (const char *)buf_head(&hc->in),
				buf_len(&hc->in), &ev);

		if (n < 0) {
			conn_failed(hc, n == -ENOMEM ? -ENOMEM : -EPROTO);
			return;
		}
		if (ev.type == HTTP1_BODY && call->head_seen &&
		    !deliver(call, ev.body, ev.body_len))
			return;
		buf_consume(&hc->in, (size_t)n);
		if (ev.type == HTTP1_HEAD) {
			int st = http1_status(hc->parser);

			if (st >= 100 && st < 200)
				continue; /* 100 Continue and friends: skipped
					   */
			if (on_head(call, hc->parser)) {
				conn_failed(hc, -ENOMEM);
				return;
			}
			call->head_seen = true;
			if (call->req.on_data) {
				struct httpc_resp resp = {
				    .status = call->status,
				    .body = "",
				    .headers = call->headers,
				    .nheaders = call->nheaders,
				};

				/* a stream may last: the deadline was for
				 * its head */
				ev_timer_stop(call->cl->loop, &call->timer);
				if (call->req.on_head)
					call->req.on_head(call, &resp,
							  call->req.arg);
				if (call->over)
					return;
			}
		} else if (ev.type == HTTP1_DONE) {
			if (!call->head_seen) {
				/* an interim answer ended: the real one next */
				http1_parser_reset(hc->parser);
				if (!strcmp(call->req.method, "HEAD"))
					http1_expect_no_body(hc->parser);
				continue;
			}
			answer_done(hc);
			return;
		} else if (ev.type == HTTP1_NONE) {
			break;
		}
	}
}

static void conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct hconn *hc = container_of(w, struct hconn, rd);
	struct httpc_call *call = hc->call;
	struct http1_event ev;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = buf_read_fd(&hc->in, hc->fd, buf_room(&hc->in));
	if (n == -EAGAIN)
		return;
	if (!call) {
		/* idle: a close, or bytes nobody asked for */
		hconn_close(hc);
		return;
	}
	if (n > 0 || n == -ENOBUFS) {
		call->got_bytes = true;
		parse(hc);
		return;
	}
	if (n < 0) {
		conn_failed(hc, (int)n);
		return;
	}
	/* EOF: an answer that runs to the close ends here */
	parse(hc);
	if (hc->closed || hc->call != call)
		return;
	if (call->head_seen && http1_finish(hc->parser, &ev) == 0 &&
	    ev.type == HTTP1_DONE) {
		/* the body ran to the close: a last line may lack "\n" */
		if (call->req.on_data && (call->req.flags & HTTPC_LINES) &&
		    buf_len(&call->body) && !deliver(call, "\n", 1))
			return;
		hc->call = NULL;
		call->conn = NULL;
		hconn_close(hc);
		call_done(call, 0);
		return;
	}
	conn_failed(hc, -ECONNRESET);
}

static void conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct hconn *hc = container_of(w, struct hconn, wr);
	ssize_t n;
	int err;

	(void)revents;
	if (hc->connecting) {
		err = sock_error(hc->fd);
		if (err) {
			conn_failed(hc, err);
			return;
		}
		hc->connecting = false;
	}
	n = buf_write_fd(&hc->out, hc->fd);
	if (n < 0 && n != -EAGAIN) {
		conn_failed(hc, (int)n);
		return;
	}
	if (!buf_len(&hc->out))
		ev_io_stop(loop, w);
}

/* --- the API ----------------------------------------------------------------
 */

const char *httpc_resp_header(const struct httpc_resp *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (!strcasecmp(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

struct httpc *httpc_new(const struct httpc_config *cfg)
{
	struct httpc *cl;

	if (!cfg->loop)
		return NULL;
	cl = xcalloc(1, sizeof(*cl));
	cl->cfg = *cfg;
	cl->loop = cfg->loop;
	if (!cl->cfg.max_idle)
		cl->cfg.max_idle = 8;
	if (cl->cfg.idle_timeout <= 0)
		cl->cfg.idle_timeout = 30;
	if (!cl->cfg.name)
		cl->cfg.name = "httpc";
	loop_reaper_init(&cl->reaper, cl->loop);
	return cl;
}

void httpc_free(struct httpc *cl)
{
	if (!cl)
		return;
	while (cl->calls)
		call_end(cl->calls);
	while (cl->idle)
		hconn_close(cl->idle);
	loop_reaper_release(&cl->reaper);
	free(cl);
}

static bool field_ok(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

/* build - the request's bytes into call->wire */
static int build(struct httpc_call *call, const struct httpc_req *r)
{
	struct buf *w = &call->wire;
	char a[SOCK_ADDR_STRLEN];
	const char *host = r->authority;
	bool has_body = r->body_len || !strcmp(call->req.method, "POST") ||
			!strcmp(call->req.method, "PUT") ||
			!strcmp(call->req.method, "PATCH");
	int rv;

	if (!host)
		host = sock_addr_format(&r->addr, a, sizeof(a));
	if (!field_ok(host) || !field_ok(call->req.method) ||
	    strchr(call->req.path, ' ') || !field_ok(call->req.path))
		return -EINVAL;
	for (size_t i = 0; i < r->nheaders; i++)
		if (!field_ok(r->headers[i].name) ||
		    !field_ok(r->headers[i].value) || !*r->headers[i].name)
			return -EINVAL;
	rv = buf_printf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", call->req.method,
			call->req.path, host);
	for (size_t i = 0; !rv && i < r->nheaders; i++)
		rv = buf_printf(w, "%s: %s\r\n", r->headers[i].name,
				r->headers[i].value);
	if (!rv && has_body)
		rv = buf_printf(w, "Content-Length: %zu\r\n", r->body_len);
	if (!rv && (r->flags & HTTPC_NO_REUSE))
		rv = buf_append_str(w, "Connection: close\r\n");
	if (!rv)
		rv = buf_append_str(w, "\r\n");
	if (!rv && r->body_len)
		rv = buf_append(w, r->body, r->body_len);
	return rv;
}

int httpc_request(struct httpc *cl, const struct httpc_req *r,
		  struct httpc_call **out)
{
	struct httpc_call *call;
	int err;

	if (!r->on_done || (r->path && r->path[0] != '/'))
		return -EINVAL;
	call = xcalloc(1, sizeof(*call));
	call->cl = cl;
	call->req = *r;
	arena_init(&call->arena, 1024, 0);
	call->req.method =
	    arena_strdup(&call->arena, r->method ? r->method : "GET");
	call->req.path = arena_strdup(&call->arena, r->path ? r->path : "/");
	call->req.authority = NULL;
	call->req.headers = NULL;
	call->req.nheaders = 0;
	call->req.body = NULL;
	if (call->req.timeout <= 0)
		call->req.timeout = DEFAULT_TIMEOUT;
	if (!call->req.max_body)
		call->req.max_body = DEFAULT_MAX_BODY;
	call->reap.free = call_free;
	buf_init(&call->wire, 0);
	buf_init(&call->body, call->req.max_body);
	err = call->req.method && call->req.path ? build(call, r) : -ENOMEM;
	if (err) {
		call_free(&call->reap);
		return err == -EINVAL ? -EINVAL : -ENOMEM;
	}
	ev_timer_init(&call->timer, on_call_timer, call->req.timeout, 0);
	ev_timer_start(cl->loop, &call->timer);
	call->next = cl->calls;
	if (cl->calls)
		cl->calls->prev = call;
	cl->calls = call;
	cl->ncalls++;
	err = attach(call, false);
	if (err)
		fail_later(call, err);
	if (out)
		*out = call;
	return 0;
}

void httpc_cancel(struct httpc_call *call)
{
	if (call->over)
		return;
	call_end(call);
}

size_t httpc_calls(const struct httpc *cl)
{
	return cl->ncalls;
}

size_t httpc_idle(const struct httpc *cl)
{
	return cl->nidle;
}

/* --- one request on a private loop, for CLIs --------------------------------
 */

struct run_state {
	struct httpc_result *out;
	const struct httpc_req *user; /* the caller's callbacks and arg */
	int err;
	bool done;
};

static void run_on_head(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg)
{
	struct run_state *st = arg;

	st->out->status = resp->status;
	if (st->user->on_head)
		st->user->on_head(call, resp, st->user->arg);
}

static int run_on_data(struct httpc_call *call, const char *p, size_t n,
		       void *arg)
{
	struct run_state *st = arg;
	int r = st->user->on_data(call, p, n, st->user->arg);

	if (r)
		st->done = true; /* cancelled: no on_done follows */
	return r;
}

static void run_on_done(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg)
{
	struct run_state *st = arg;
	const char *ct = httpc_resp_header(resp, "content-type");

	(void)call;
	st->done = true;
	st->err = resp->err;
	st->out->status = resp->status;
	st->out->body = xstrndup(resp->body, resp->body_len);
	st->out->body_len = resp->body_len;
	st->out->content_type = ct ? xstrdup(ct) : NULL;
}

int httpc_run(const struct httpc_req *r, struct httpc_result *out)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct run_state st = {.out = out, .user = r};
	struct httpc_req req = *r;
	struct httpc *cl;
	int err;

	memset(out, 0, sizeof(*out));
	if (!loop)
		return -ENOMEM;
	cl = httpc_new(&(struct httpc_config){.loop = loop, .name = "cli"});
	req.on_done = run_on_done;
	req.on_head = r->on_data ? run_on_head : NULL;
	req.on_data = r->on_data ? run_on_data : NULL;
	req.arg = &st;
	req.flags |= HTTPC_NO_REUSE;
	err = httpc_request(cl, &req, NULL);
	if (!err) {
		while (!st.done)
			ev_run(loop, EVRUN_ONCE);
		err = st.err;
	}
	httpc_free(cl);
	ev_loop_destroy(loop);
	if (!out->body)
		out->body = xstrdup("");
	return err;
}

void httpc_result_release(struct httpc_result *res)
{
	free(res->body);
	free(res->content_type);
	memset(res, 0, sizeof(*res));
}
