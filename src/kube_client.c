/* SPDX-License-Identifier: Apache-2.0 */
/* kube_client.c - HTTP/1.1 requests to the Kubernetes API on libev */
#include "conduit/kube_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/json.h"
#include "conduit/sock.h"
#include "conduit/tls.h"
#include "conduit/version.h"

#define READ_CHUNK (64u << 10)
/* raw bytes held between reads: the parser consumes them as they come */
#define IN_MAX (1u << 20)

struct kube_client {
	struct ev_loop *loop;
	const struct kube_config *cfg; /* borrowed */
	struct tls_client *tls;	       /* NULL for http:// */
	struct kube_config tok;	       /* token and token_file only (owned) */
};

enum req_state {
	REQ_CONNECTING,
	REQ_HANDSHAKE,
	REQ_SENDING,
	REQ_RECEIVING,
	REQ_FAILED, /* failed before the loop ran: done from a timer */
};

struct kube_request {
	struct kube_client *c;
	enum req_state state;
	kube_done_fn *done;
	kube_data_fn *on_data;
	void *arg;
	char *what; /* "GET /api/v1/pods", for messages */
	size_t max_body;
	ev_tstamp connect_timeout, idle_timeout;

	int fd;
	ev_io io;
	ev_timer timer; /* connect, then idle (ev_timer_again) */
	ev_timer total; /* the whole request, when bounded */
	struct tls_conn *tls;
	struct http1_parser *parser;
	struct buf out;	 /* request bytes not yet sent */
	struct buf in;	 /* response bytes not yet parsed */
	struct buf body; /* collected body */
	int status;
	int retry_after;
	bool streaming; /* a 2xx body goes to on_data */
	bool in_cb;	/* inside on_data: cancel is deferred */
	bool cancelled;
	int error;
	char msg[512];
};

struct kube_client *kube_client_new(struct ev_loop *loop,
				    const struct kube_config *cfg, char *err,
				    size_t errlen)
{
	struct kube_client *c = xcalloc(1, sizeof(*c));
	char why[512];

	c->loop = loop;
	c->cfg = cfg;
	if (cfg->https) {
		struct tls_client_opts o = {
		    .ca = cfg->ca,
		    .ca_len = cfg->ca_len,
		    .cert = cfg->cert,
		    .cert_len = cfg->cert_len,
		    .key = cfg->key,
		    .key_len = cfg->key_len,
		    .insecure = cfg->insecure,
		};

		c->tls = tls_client_new(&o, why, sizeof(why));
		if (!c->tls) {
			snprintf(err, errlen, "kube client: %s: %s",
				 cfg->server, why);
			free(c);
			return NULL;
		}
	}
	if (cfg->token)
		c->tok.token = xstrdup(cfg->token);
	if (cfg->token_file) {
		c->tok.token_file = xstrdup(cfg->token_file);
		c->tok.token_mtime = cfg->token_mtime;
		c->tok.token_size = cfg->token_size;
	}
	return c;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	tls_client_free(c->tls);
	kube_config_release(&c->tok);
	free(c);
}

struct ev_loop *kube_client_loop(const struct kube_client *c)
{
	return c->loop;
}

static void req_free(struct kube_request *r)
{
	ev_io_stop(r->c->loop, &r->io);
	ev_timer_stop(r->c->loop, &r->timer);
	ev_timer_stop(r->c->loop, &r->total);
	tls_conn_free(r->tls);
	if (r->fd >= 0)
		close(r->fd);
	http1_parser_free(r->parser);
	buf_release(&r->out);
	buf_release(&r->in);
	buf_release(&r->body);
	free(r->what);
	free(r);
}

/* finish - end the request: done with what is known, then free it */
static void finish(struct kube_request *r, int error)
{
	struct kube_response resp = {
	    .status = r->status,
	    .error = error,
	    .message = error ? r->msg : "",
	    .retry_after = r->retry_after,
	};

	ev_io_stop(r->c->loop, &r->io);
	ev_timer_stop(r->c->loop, &r->timer);
	ev_timer_stop(r->c->loop, &r->total);
	if (!error) {
		char *b = buf_cstr(&r->body);

		resp.body = b ? b : "";
		resp.body_len = buf_len(&r->body);
	}
	r->done(r->arg, &resp);
	req_free(r);
}

PRINTF_LIKE(3, 4)
static void fail(struct kube_request *r, int error, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->what);
	if (n < 0 || (size_t)n >= sizeof(r->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	finish(r, error);
}

void kube_request_fail_message(struct kube_request *r, const char *msg)
{
	snprintf(r->msg, sizeof(r->msg), "%s: %s", r->what, msg);
}

static void set_events(struct kube_request *r, int events)
{
	if (r->io.events == events && ev_is_active(&r->io))
		return;
	ev_io_stop(r->c->loop, &r->io);
	ev_io_set(&r->io, r->fd, events);
	ev_io_start(r->c->loop, &r->io);
}

static void start_receiving(struct kube_request *r)
{
	r->state = REQ_RECEIVING;
	set_events(r, EV_READ);
	ev_timer_stop(r->c->loop, &r->timer);
	r->timer.repeat = r->idle_timeout;
	ev_timer_again(r->c->loop, &r->timer);
}

/* send_some - write what is left; true when the request is out */
static bool send_some(struct kube_request *r)
{
	while (buf_len(&r->out)) {
		ssize_t n;

		if (r->tls) {
			n = tls_conn_write(r->tls, buf_head(&r->out),
					   buf_len(&r->out));
			if (n > 0)
				buf_consume(&r->out, (size_t)n);
		} else {
			n = buf_write_fd(&r->out, r->fd);
		}
		if (n == -EAGAIN) {
			set_events(r, r->tls && !tls_conn_wants_write(r->tls)
					  ? EV_READ
					  : EV_WRITE);
			return false;
		}
		if (n < 0) {
			fail(r, (int)n, "sending the request: %s",
			     r->tls ? tls_conn_error(r->tls)
				    : strerror((int)-n));
			return false;
		}
	}
	start_receiving(r);
	return true;
}

/*
 * on_head - the status line and headers are in: decide where the body
 * goes. A streamed body is only a 2xx one: an error's body is a Status.
 */
static void on_head(struct kube_request *r)
{
	struct http1_str v;

	r->status = http1_status(r->parser);
	r->streaming = r->on_data && r->status >= 200 && r->status < 300;
	r->retry_after = -1;
	if (http1_header_get(r->parser, "Retry-After", &v) && v.len &&
	    v.len < 10) {
		char tmp[12];
		char *end;
		long s;

		memcpy(tmp, v.p, v.len);
		tmp[v.len] = '\0';
		s = strtol(tmp, &end, 10);
		if (*end == '\0' && s >= 0)
			r->retry_after = (int)s;
	}
}

/*
 * parse_in - run the parser over what was read. Returns 1 when the
 * response is complete (finished: r is gone), -1 when r failed (gone),
 * 0 to read more.
 */
static int parse_in(struct kube_request *r)
{
	for (;;) {
		struct http1_event ev;
		ssize_t n =
		    http1_parse(r->parser, (const char *)buf_head(&r->in),
				buf_len(&r->in), &ev);

		if (n == -EMSGSIZE) {
			fail(r, -EMSGSIZE,
			     "response body larger than %zu bytes",
			     r->max_body);
			return -1;
		}
		if (n < 0) {
			fail(r, -EPROTO, "bad response from the server: %s",
			     http1_error_reason(r->parser));
			return -1;
		}
		switch (ev.type) {
		case HTTP1_NONE:
			buf_consume(&r->in, (size_t)n);
			return 0;
		case HTTP1_HEAD:
			on_head(r);
			break;
		case HTTP1_BODY:
			if (r->streaming) {
				int rc;

				r->in_cb = true;
				rc = r->on_data(r->arg, ev.body, ev.body_len);
				r->in_cb = false;
				if (r->cancelled) {
					req_free(r);
					return -1;
				}
				if (rc < 0) {
					if (!r->msg[0])
						kube_request_fail_message(
						    r, strerror(-rc));
					finish(r, rc);
					return -1;
				}
			} else if (buf_append(&r->body, ev.body, ev.body_len)) {
				fail(r, -EMSGSIZE,
				     "response body larger than %zu bytes",
				     r->max_body);
				return -1;
			}
			break;
		case HTTP1_DONE:
			if (http1_status(r->parser) < 200) {
				break; /* 100 Continue: the real response
					  follows */
			}
			finish(r, 0);
			return 1;
		}
		buf_consume(&r->in, (size_t)n);
	}
}

static void on_eof(struct kube_request *r)
{
	struct http1_event ev;

	if (http1_finish(r->parser, &ev) == 0 && ev.type == HTTP1_DONE) {
		finish(r, 0);
		return;
	}
	if (!r->status)
		fail(r, -ECONNRESET,
		     "the server closed the connection before "
		     "answering");
	else
		fail(r, -ECONNRESET,
		     "the server closed the connection in the "
		     "middle of the response (status %d)",
		     r->status);
}

static void receive(struct kube_request *r)
{
	for (;;) {
		ssize_t n;
		int pr;

		if (buf_reserve(&r->in, READ_CHUNK)) {
			fail(r, -ENOBUFS,
			     "response data the parser does not take");
			return;
		}
		if (r->tls)
			n = tls_conn_read(r->tls, buf_tail(&r->in), READ_CHUNK);
		else if ((n = read(r->fd, buf_tail(&r->in), READ_CHUNK)) < 0)
			n = -errno;
		if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR) {
			if (r->tls)
				set_events(r, tls_conn_wants_write(r->tls)
						  ? EV_WRITE
						  : EV_READ);
			return;
		}
		if (n < 0) {
			fail(r, (int)n, "reading the response: %s",
			     r->tls ? tls_conn_error(r->tls)
				    : strerror((int)-n));
			return;
		}
		if (n == 0) {
			on_eof(r);
			return;
		}
		buf_commit(&r->in, (size_t)n);
		ev_timer_again(r->c->loop, &r->timer);
		pr = parse_in(r);
		if (pr)
			return;
	}
}

static void handshake(struct kube_request *r)
{
	char why[400];
	int rc = tls_conn_handshake(r->tls, why, sizeof(why));

	if (rc == -EAGAIN) {
		set_events(r,
			   tls_conn_wants_write(r->tls) ? EV_WRITE : EV_READ);
		return;
	}
	if (rc) {
		fail(r, rc, "%s", why);
		return;
	}
	r->state = REQ_SENDING;
	send_some(r);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct kube_request *r = container_of(w, struct kube_request, io);
	char addr[SOCK_ADDR_STRLEN];
	int rc;

	(void)loop;
	(void)revents;
	switch (r->state) {
	case REQ_CONNECTING:
		rc = sock_error(r->fd);
		if (rc) {
			fail(r, rc, "connect to %s: %s",
			     sock_addr_format(&r->c->cfg->addr, addr,
					      sizeof(addr)),
			     strerror(-rc));
			return;
		}
		sock_set_nodelay(r->fd);
		if (r->c->tls) {
			r->tls =
			    tls_conn_new(r->c->tls, r->fd, r->c->cfg->host);
			if (!r->tls) {
				fail(r, -ENOMEM, "TLS set-up failed");
				return;
			}
			r->state = REQ_HANDSHAKE;
			handshake(r);
			return;
		}
		r->state = REQ_SENDING;
		send_some(r);
		return;
	case REQ_HANDSHAKE:
		handshake(r);
		return;
	case REQ_SENDING:
		send_some(r);
		return;
	case REQ_RECEIVING:
		receive(r);
		return;
	case REQ_FAILED:
		return;
	}
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct kube_request *r = container_of(w, struct kube_request, timer);
	char addr[SOCK_ADDR_STRLEN];

	(void)loop;
	(void)revents;
	switch (r->state) {
	case REQ_FAILED:
		finish(r, r->error);
		return;
	case REQ_CONNECTING:
	case REQ_HANDSHAKE:
	case REQ_SENDING:
		fail(r, -ETIMEDOUT, "%s %s: no answer within %.0f s",
		     r->state == REQ_CONNECTING ? "connect to"
						: "TLS handshake with",
		     sock_addr_format(&r->c->cfg->addr, addr, sizeof(addr)),
		     r->connect_timeout);
		return;
	case REQ_RECEIVING:
		fail(r, -ETIMEDOUT, "no data from the server for %.0f s",
		     r->idle_timeout);
		return;
	}
}

static void on_total(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct kube_request *r = container_of(w, struct kube_request, total);

	(void)loop;
	(void)revents;
	fail(r, -ETIMEDOUT, "not done within %.0f s",
	     w->repeat ? w->repeat : w->at);
}

/* fail_early - end r from the loop, not from inside kube_request_start */
PRINTF_LIKE(3, 4)
static void fail_early(struct kube_request *r, int error, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->what);
	va_start(ap, fmt);
	vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	r->state = REQ_FAILED;
	r->error = error;
	ev_timer_stop(r->c->loop, &r->timer);
	ev_timer_set(&r->timer, 0, 0);
	ev_timer_start(r->c->loop, &r->timer);
}

static int write_request(struct kube_request *r,
			 const struct kube_request_opts *o, const char *method)
{
	const struct kube_config *cfg = r->c->cfg;
	bool v6 = strchr(cfg->host, ':') != NULL;
	int rc;

	rc = buf_printf(&r->out,
			"%s %s%s HTTP/1.1\r\nHost: %s%s%s:%d\r\n"
			"User-Agent: conduit/%s\r\nAccept: application/json\r\n"
			"Connection: close\r\n",
			method, cfg->path_prefix ? cfg->path_prefix : "",
			o->path, v6 ? "[" : "", cfg->host, v6 ? "]" : "",
			cfg->port, version_string());
	if (!rc && r->c->tok.token)
		rc = buf_printf(&r->out, "Authorization: Bearer %s\r\n",
				r->c->tok.token);
	if (!rc && o->body)
		rc = buf_printf(
		    &r->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		    o->content_type ? o->content_type : "application/json",
		    o->body_len);
	if (!rc)
		rc = buf_append_str(&r->out, "\r\n");
	if (!rc && o->body && o->body_len)
		rc = buf_append(&r->out, o->body, o->body_len);
	return rc;
}

struct kube_request *kube_request_start(struct kube_client *c,
					const struct kube_request_opts *o,
					kube_done_fn *done, void *arg)
{
	struct kube_request *r = xcalloc(1, sizeof(*r));
	struct http1_limits lim = {0};
	const char *method = o->method ? o->method : "GET";
	char why[512];
	int rc;

	r->c = c;
	r->done = done;
	r->on_data = o->on_data;
	r->arg = arg;
	r->fd = -1;
	r->retry_after = -1;
	r->what = xasprintf("%s %s", method, o->path);
	r->max_body = o->max_body ? o->max_body : KUBE_MAX_BODY;
	r->connect_timeout =
	    (o->connect_timeout_ms ? o->connect_timeout_ms : 10000) / 1e3;
	r->idle_timeout =
	    (o->idle_timeout_ms ? o->idle_timeout_ms : 60000) / 1e3;
	buf_init(&r->out, 0);
	buf_init(&r->in, IN_MAX + READ_CHUNK);
	buf_init(&r->body, r->max_body);
	ev_init(&r->io, on_io);
	ev_init(&r->timer, on_timer);
	ev_init(&r->total, on_total);
	lim.max_body = o->on_data ? 0 : r->max_body;
	r->parser = http1_parser_new(HTTP1_RESPONSE, &lim);
	if (!r->parser) {
		req_free(r);
		return NULL;
	}
	if (o->total_timeout_ms > 0) {
		ev_timer_set(&r->total, o->total_timeout_ms / 1e3, 0);
		ev_timer_start(c->loop, &r->total);
	}
	rc = kube_config_refresh_token(&c->tok, why, sizeof(why));
	if (rc) /* keep the token we have: it may still be good */
		snprintf(r->msg, sizeof(r->msg), "%s", why);
	if (write_request(r, o, method)) {
		fail_early(r, -ENOMEM, "building the request failed");
		return r;
	}
	rc = sock_connect(&c->cfg->addr);
	if (rc < 0) {
		char addr[SOCK_ADDR_STRLEN];

		fail_early(r, rc, "connect to %s: %s",
			   sock_addr_format(&c->cfg->addr, addr, sizeof(addr)),
			   strerror(-rc));
		return r;
	}
	r->fd = rc;
	r->state = REQ_CONNECTING;
	ev_io_set(&r->io, r->fd, EV_WRITE);
	ev_io_start(c->loop, &r->io);
	ev_timer_set(&r->timer, r->connect_timeout, 0);
	ev_timer_start(c->loop, &r->timer);
	return r;
}

void kube_request_cancel(struct kube_request *r)
{
	if (!r)
		return;
	if (r->in_cb) {
		r->cancelled = true;
		return;
	}
	req_free(r);
}

const char *kube_status_message(const char *body, size_t len, char *buf,
				size_t size)
{
	char err[64];
	struct json *j = len ? json_parse(body, len, err, sizeof(err)) : NULL;
	const char *m = json_string(json_get(j, "message"));

	if (m) {
		snprintf(buf, size, "%s", m);
	} else {
		size_t n = len < 200 ? len : 200;

		snprintf(buf, size, "%.*s", (int)n, body ? body : "");
		for (char *p = buf; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
	json_free(j);
	return buf;
}

int kube_path_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			rc = buf_append(out, s, 1);
		else
			rc = buf_printf(out, "%%%c%c", hex[ch >> 4],
					hex[ch & 15]);
	}
	return rc;
}
