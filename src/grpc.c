/* SPDX-License-Identifier: Apache-2.0 */
/* grpc.c - gRPC over h2: a method-table server, a reconnecting client */
#include "conduit/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/log.h"
#include "conduit/loop.h"
#include "conduit/time.h"

#define CT_GRPC	     "application/grpc"
#define MAX_META     (64u << 10) /* request headers kept for metadata */

static const char *const status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *grpc_status_name(int status)
{
	if (status >= 0 && (size_t)status < ARRAY_SIZE(status_names))
		return status_names[status];
	return "UNKNOWN";
}

int grpc_status_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

int grpc_status_from_h2(uint32_t error)
{
	switch (error) {
	case H2_REFUSED_STREAM:
	case H2_CONNECTION_LOST:
		return GRPC_UNAVAILABLE;
	case H2_CANCEL:
		return GRPC_CANCELLED;
	case H2_ENHANCE_YOUR_CALM:
		return GRPC_RESOURCE_EXHAUSTED;
	case H2_INADEQUATE_SECURITY:
		return GRPC_PERMISSION_DENIED;
	default:
		return GRPC_INTERNAL;
	}
}

/* --- framing ------------------------------------------------------------ */

static void put_prefix(uint8_t hdr[GRPC_FRAME_HEADER], size_t len)
{
	hdr[0] = 0;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

static uint32_t get_len(const uint8_t *p)
{
	return (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 8 | p[4];
}

int grpc_frame_append(struct buf *out, const void *msg, size_t len)
{
	uint8_t hdr[GRPC_FRAME_HEADER];
	int rv;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	put_prefix(hdr, len);
	rv = buf_reserve(out, GRPC_FRAME_HEADER + len);
	if (rv)
		return rv;
	buf_append(out, hdr, sizeof(hdr));
	return buf_append(out, msg, len);
}

int grpc_pack(struct buf *out, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	int rv = buf_reserve(out, n);

	if (rv)
		return rv;
	buf_commit(out, protobuf_c_message_pack(m, buf_tail(out)));
	return 0;
}

int grpc_frame_pack(struct buf *out, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t hdr[GRPC_FRAME_HEADER];
	int rv;

	if (n > UINT32_MAX)
		return -EMSGSIZE;
	rv = buf_reserve(out, GRPC_FRAME_HEADER + n);
	if (rv)
		return rv;
	put_prefix(hdr, n);
	buf_append(out, hdr, sizeof(hdr));
	buf_commit(out, protobuf_c_message_pack(m, buf_tail(out)));
	return 0;
}

ssize_t grpc_frame_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p,
			  size_t n, size_t max, ProtobufCMessage **out)
{
	uint32_t len;

	*out = NULL;
	if (!max)
		max = GRPC_DEFAULT_MAX_MESSAGE;
	if (n < GRPC_FRAME_HEADER)
		return 0;
	if (p[0] != 0)
		return -EPROTO;
	len = get_len(p);
	if (len > max)
		return -EMSGSIZE;
	if (n - GRPC_FRAME_HEADER < len)
		return 0;
	*out = protobuf_c_message_unpack(d, NULL, len, p + GRPC_FRAME_HEADER);
	if (!*out)
		return -EPROTO;
	return (ssize_t)(GRPC_FRAME_HEADER + len);
}

void grpc_reader_init(struct grpc_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : GRPC_DEFAULT_MAX_MESSAGE;
	buf_init(&r->msg, r->max);
}

void grpc_reader_release(struct grpc_reader *r)
{
	buf_release(&r->msg);
}

bool grpc_reader_partial(const struct grpc_reader *r)
{
	return r->in_body || r->hdr_len;
}

int grpc_reader_feed(struct grpc_reader *r, const uint8_t *p, size_t n,
		     int (*on_message)(void *arg, const uint8_t *msg,
				       size_t len),
		     void *arg)
{
	static const uint8_t empty[1];
	int rv;

	if (r->err)
		return r->err;
	while (n) {
		size_t k;

		if (!r->in_body) {
			k = MIN(n, GRPC_FRAME_HEADER - r->hdr_len);
			memcpy(r->hdr + r->hdr_len, p, k);
			r->hdr_len += k;
			p += k;
			n -= k;
			if (r->hdr_len < GRPC_FRAME_HEADER)
				return 0;
			r->hdr_len = 0;
			/* we never announce compression: a compressed
			 * message, or any other flag, is a protocol error */
			if (r->hdr[0] != 0)
				return r->err = -EPROTO;
			r->need = get_len(r->hdr);
			if (r->need > r->max)
				return r->err = -EMSGSIZE;
			r->in_body = true;
			buf_clear(&r->msg);
			if (!r->need) {
				r->in_body = false;
				rv = on_message(arg, empty, 0);
				if (rv)
					return rv;
				continue;
			}
		}
		if (!buf_len(&r->msg) && n >= r->need) {
			/* whole in this piece: no copy */
			const uint8_t *m = p;
			size_t len = r->need;

			p += len;
			n -= len;
			r->in_body = false;
			rv = on_message(arg, m, len);
			if (rv)
				return rv;
			continue;
		}
		k = MIN(n, r->need - buf_len(&r->msg));
		if (buf_append(&r->msg, p, k))
			return r->err = -ENOMEM;
		p += k;
		n -= k;
		if (buf_len(&r->msg) == r->need) {
			r->in_body = false;
			rv = on_message(arg, buf_head(&r->msg), r->need);
			buf_clear(&r->msg);
			if (rv)
				return rv;
		}
	}
	return 0;
}

/* --- header values ------------------------------------------------------ */

int grpc_timeout_parse(const char *s, size_t len, int64_t *ns)
{
	int64_t v = 0, unit;

	if (len < 2 || len > 9)
		return -EINVAL;
	for (size_t i = 0; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	switch (s[len - 1]) {
	case 'H':
		unit = 3600 * NSEC_PER_SEC;
		break;
	case 'M':
		unit = 60 * NSEC_PER_SEC;
		break;
	case 'S':
		unit = NSEC_PER_SEC;
		break;
	case 'm':
		unit = NSEC_PER_MSEC;
		break;
	case 'u':
		unit = NSEC_PER_USEC;
		break;
	case 'n':
		unit = 1;
		break;
	default:
		return -EINVAL;
	}
	/* 8 digits of hours is 3.6e17 ns: no overflow */
	*ns = v * unit;
	return 0;
}

char *grpc_timeout_format(int64_t ns, char *buf, size_t size)
{
	static const struct {
		int64_t ns;
		char unit;
	} units[] = {
	    {1, 'n'},
	    {NSEC_PER_USEC, 'u'},
	    {NSEC_PER_MSEC, 'm'},
	    {NSEC_PER_SEC, 'S'},
	    {60 * NSEC_PER_SEC, 'M'},
	    {3600 * NSEC_PER_SEC, 'H'},
	};
	int64_t v = 0;
	char unit = 'H';

	if (ns < 1)
		ns = 1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		/* rounded up: the server never gets a shorter deadline */
		v = (ns + units[i].ns - 1) / units[i].ns;
		unit = units[i].unit;
		if (v <= 99999999)
			break;
	}
	if (v > 99999999)
		v = 99999999;
	snprintf(buf, size, "%lld%c", (long long)v, unit);
	return buf;
}

int grpc_percent_encode(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int rv;

		if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
			rv = buf_append(out, &ch, 1);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			rv = buf_append(out, e, 3);
		}
		if (rv)
			return rv;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int grpc_percent_decode(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int rv;

		if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			ch = (unsigned char)(hexval(s[i + 1]) << 4 |
					     hexval(s[i + 2]));
			i += 2;
		}
		rv = buf_append(out, &ch, 1);
		if (rv)
			return rv;
	}
	return 0;
}

/* --- calls ------------------------------------------------------------- */

struct sconn;
struct cconn;

struct grpc_call {
	bool server;
	struct ev_loop *loop;
	struct h2_stream *st; /* NULL once the stream closed */
	void *data;	      /* the owner's */
	char *path;
	ev_timer deadline; /* also: a failure delivered later */
	struct grpc_reader rd;
	struct grpc_call *prev, *next; /* the server's or client's list */
	/* server */
	struct grpc_server *srv;
	const struct grpc_method *m;
	struct buf req;	 /* the request message */
	struct buf meta; /* request headers: name\0value\0... */
	int nmsgs;
	bool owned;	 /* the handler holds it */
	bool dispatched; /* on_call ran */
	bool finished;	 /* the status is on its way */
	bool headers_sent;
	/* client */
	struct grpc_client *cl;
	const struct grpc_call_ops *ops;
	struct buf out; /* the framed request */
	struct buf msg; /* grpc-message, decoded */
	unsigned flags;
	int http_status;
	int status;
	int fail_status; /* >= 0: deliver this from the timer */
	int in_cb;	 /* inside on_message */
	bool have_status;
	bool got_head;
	bool bad_type;
	bool pending;  /* not yet on a connection */
	bool detached; /* on_status ran or cancelled */
	bool retried;
};

void *grpc_call_data(const struct grpc_call *call)
{
	return call->data;
}

void grpc_call_set_data(struct grpc_call *call, void *data)
{
	call->data = data;
}

void *grpc_call_method_data(const struct grpc_call *call)
{
	return call->m ? call->m->data : NULL;
}

const char *grpc_call_path(const struct grpc_call *call)
{
	return call->path ? call->path : "";
}

const char *grpc_call_metadata(const struct grpc_call *call, const char *name)
{
	const char *p = (const char *)buf_head(&call->meta);
	const char *end = p + buf_len(&call->meta);

	while (p && p < end) {
		const char *value = p + strlen(p) + 1;

		if (!strcmp(p, name))
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

static void call_release(struct grpc_call *call)
{
	ev_timer_stop(call->loop, &call->deadline);
	grpc_reader_release(&call->rd);
	buf_release(&call->req);
	buf_release(&call->meta);
	buf_release(&call->out);
	buf_release(&call->msg);
	free(call->path);
	free(call);
}

/* --- server --------------------------------------------------------------- */

struct sconn {
	struct grpc_server *srv;
	struct h2_conn *h2;
	struct sconn *prev, *next;
};

struct grpc_server {
	struct ev_loop *loop;
	struct grpc_server_config cfg;
	struct loop_listener listener;
	struct sconn *conns;
	size_t nconns;
	struct grpc_call *calls;
	size_t ncalls;
	bool shutting_down;
};

static const char *sname(const struct grpc_server *s)
{
	return s->cfg.name ? s->cfg.name : "grpc-server";
}

static void srv_call_free(struct grpc_call *call)
{
	struct grpc_server *s = call->srv;

	if (call->prev)
		call->prev->next = call->next;
	else
		s->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	s->ncalls--;
	if (call->st)
		h2_stream_set_data(call->st, NULL);
	call_release(call);
}

/*
 * send_status - end the call with status: in the trailers after the
 * messages, or alone in the response head (Trailers-Only)
 */
static void send_status(struct grpc_call *call, int http, int status,
			const char *message)
{
	char code[16], hs[8];
	struct buf enc;
	struct h2_header h[5];
	size_t n = 0;

	if (call->finished || !call->st)
		return;
	call->finished = true;
	ev_timer_stop(call->loop, &call->deadline);
	buf_init(&enc, 16u << 10);
	if (message && *message &&
	    grpc_percent_encode(&enc, message, strlen(message)))
		buf_clear(&enc); /* too long for a header: leave it out */
	snprintf(code, sizeof(code), "%d", status);
	snprintf(hs, sizeof(hs), "%d", http);
	if (!call->headers_sent) {
		h[n++] = h2_header_str(":status", hs);
		h[n++] = (struct h2_header)H2_HEADER("content-type", CT_GRPC);
	}
	h[n++] = h2_header_str("grpc-status", code);
	if (buf_len(&enc)) {
		h[n] = (struct h2_header){"grpc-message",
					  (const char *)buf_head(&enc), 12,
					  buf_len(&enc)};
		n++;
	}
	if (!call->headers_sent) {
		call->headers_sent = true;
		h2_stream_respond(call->st, h, n, H2_END);
	} else {
		h2_stream_end(call->st, h, n);
	}
	if (status != GRPC_OK)
		log_debug("grpc call failed", "server=%s path=%s status=%s",
			  sname(call->srv), grpc_call_path(call),
			  grpc_status_name(status));
	buf_release(&enc);
}

static void srv_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct grpc_call *call = container_of(w, struct grpc_call, deadline);

	(void)loop;
	(void)revents;
	if (call->owned) {
		/* the handler lets go first, then the client hears why */
		call->owned = false;
		if (call->m->on_cancel)
			call->m->on_cancel(call);
	}
	send_status(call, 200, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

static bool grpc_content_type(const struct h2_header *ct)
{
	size_t n = sizeof(CT_GRPC) - 1;

	if (!ct || ct->value_len < n || memcmp(ct->value, CT_GRPC, n))
		return false;
	return ct->value_len == n || ct->value[n] == '+' || ct->value[n] == ';';
}

static const struct grpc_method *lookup(const struct grpc_server *s,
					const char *path)
{
	for (size_t i = 0; i < s->cfg.nmethods; i++)
		if (!strcmp(s->cfg.methods[i].path, path))
			return &s->cfg.methods[i];
	return NULL;
}

static void srv_on_headers(struct h2_stream *st, enum h2_head kind,
			   const struct h2_header *h, size_t n, bool end)
{
	struct sconn *sc = h2_conn_data(h2_stream_conn(st));
	struct grpc_server *s = sc->srv;
	const struct h2_header *f;
	struct grpc_call *call;
	char why[160];
	int64_t ns;

	(void)end;
	if (kind != H2_HEAD_REQUEST)
		return; /* a client's trailers: nothing for us */
	call = calloc(1, sizeof(*call));
	if (!call) {
		h2_stream_reset(st, H2_REFUSED_STREAM);
		return;
	}
	call->server = true;
	call->loop = s->loop;
	call->srv = s;
	call->st = st;
	call->fail_status = -1;
	ev_timer_init(&call->deadline, srv_on_deadline, 0, 0);
	grpc_reader_init(&call->rd, s->cfg.max_recv_message);
	buf_init(&call->req, s->cfg.max_recv_message);
	buf_init(&call->meta, MAX_META);
	buf_init(&call->out, 0);
	buf_init(&call->msg, 0);
	call->next = s->calls;
	if (s->calls)
		s->calls->prev = call;
	s->calls = call;
	s->ncalls++;
	h2_stream_set_data(st, call);
	for (size_t i = 0; i < n; i++) {
		if (buf_append(&call->meta, h[i].name, h[i].name_len + 1) ||
		    buf_append(&call->meta, h[i].value, h[i].value_len + 1))
			break;
	}
	f = h2_header_find(h, n, ":path");
	call->path = f ? strndup(f->value, f->value_len) : strdup("");
	if (!call->path) {
		h2_stream_reset(st, H2_INTERNAL_ERROR);
		return;
	}

	f = h2_header_find(h, n, ":method");
	if (!f || strcmp(f->value, "POST")) {
		send_status(call, 405, GRPC_INTERNAL,
			    "invalid gRPC request method");
		return;
	}
	f = h2_header_find(h, n, "content-type");
	if (!grpc_content_type(f)) {
		snprintf(why, sizeof(why),
			 "invalid gRPC request content-type \"%.64s\"",
			 f ? f->value : "");
		send_status(call, 415, GRPC_INTERNAL, why);
		return;
	}
	f = h2_header_find(h, n, "grpc-encoding");
	if (f && strcmp(f->value, "identity")) {
		snprintf(why, sizeof(why),
			 "grpc-encoding \"%.64s\" is not supported", f->value);
		send_status(call, 200, GRPC_UNIMPLEMENTED, why);
		return;
	}
	call->m = lookup(s, call->path);
	if (!call->m) {
		snprintf(why, sizeof(why), "unknown method %.128s", call->path);
		send_status(call, 200, GRPC_UNIMPLEMENTED, why);
		return;
	}
	f = h2_header_find(h, n, "grpc-timeout");
	if (f) {
		if (grpc_timeout_parse(f->value, f->value_len, &ns)) {
			send_status(call, 200, GRPC_INTERNAL,
				    "malformed grpc-timeout");
			return;
		}
		ev_timer_set(&call->deadline, (double)ns / NSEC_PER_SEC, 0);
		ev_timer_start(s->loop, &call->deadline);
	}
}

static int srv_on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct grpc_call *call = arg;

	if (++call->nmsgs > 1)
		return 1;
	return buf_append(&call->req, msg, len);
}

static void srv_on_data(struct h2_stream *st, const uint8_t *p, size_t n)
{
	struct grpc_call *call = h2_stream_data(st);
	char why[128];
	int rv;

	if (!call || call->finished || call->dispatched)
		return;
	rv = grpc_reader_feed(&call->rd, p, n, srv_on_msg, call);
	if (!rv)
		return;
	if (rv == -EMSGSIZE) {
		snprintf(why, sizeof(why),
			 "request message larger than max (%zu vs. %zu)",
			 call->rd.need, call->rd.max);
		send_status(call, 200, GRPC_RESOURCE_EXHAUSTED, why);
	} else if (rv == -EPROTO) {
		send_status(call, 200, GRPC_INTERNAL,
			    call->rd.hdr[0] == 1
				? "compressed message without grpc-encoding"
				: "invalid message flag");
	} else if (rv == 1) {
		send_status(call, 200, GRPC_INTERNAL,
			    "more than one request message");
	} else {
		send_status(call, 200, GRPC_INTERNAL, strerror(-rv));
	}
}

static void srv_on_end(struct h2_stream *st)
{
	struct grpc_call *call = h2_stream_data(st);

	if (!call || call->finished || call->dispatched)
		return;
	if (grpc_reader_partial(&call->rd)) {
		send_status(call, 200, GRPC_INTERNAL,
			    "truncated request message");
		return;
	}
	if (!call->nmsgs) {
		send_status(call, 200, GRPC_INTERNAL,
			    "missing request message");
		return;
	}
	/* a response message as large as the max must fit the queue */
	h2_stream_set_send_max(st, call->srv->cfg.max_send_message +
				       GRPC_FRAME_HEADER);
	call->dispatched = true;
	call->owned = true;
	call->m->on_call(call,
			 buf_head(&call->req) ? buf_head(&call->req)
					      : (const uint8_t *)"",
			 buf_len(&call->req));
}

static void srv_on_stream_close(struct h2_stream *st, uint32_t error)
{
	struct grpc_call *call = h2_stream_data(st);

	(void)error;
	if (!call)
		return;
	call->st = NULL;
	ev_timer_stop(call->loop, &call->deadline);
	if (call->owned) {
		call->owned = false;
		if (call->m->on_cancel)
			call->m->on_cancel(call);
	}
	srv_call_free(call);
}

static void srv_on_close(struct h2_conn *h2, int err)
{
	struct sconn *sc = h2_conn_data(h2);
	struct grpc_server *s = sc->srv;

	(void)err;
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	s->nconns--;
	h2_conn_free(h2);
	free(sc);
}

static const struct h2_callbacks srv_callbacks = {
    .on_headers = srv_on_headers,
    .on_data = srv_on_data,
    .on_end = srv_on_end,
    .on_stream_close = srv_on_stream_close,
    .on_close = srv_on_close,
};

int grpc_server_adopt(struct grpc_server *s, int fd)
{
	struct h2_config cfg = {
	    .role = H2_SERVER,
	    .loop = s->loop,
	    .cb = &srv_callbacks,
	    .lim = s->cfg.h2,
	    .name = sname(s),
	};
	struct sconn *sc;

	if (s->nconns >= s->cfg.max_conns) {
		close(fd);
		return -EMFILE;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		close(fd);
		return -ENOMEM;
	}
	sc->srv = s;
	cfg.data = sc;
	sc->h2 = h2_conn_new(&cfg, fd);
	if (!sc->h2) {
		free(sc);
		return -ENOMEM;
	}
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	s->nconns++;
	if (s->shutting_down)
		h2_conn_shutdown(sc->h2);
	return 0;
}

static void on_accept(struct loop_listener *l, int fd,
		      const struct sock_addr *peer)
{
	struct grpc_server *s = container_of(l, struct grpc_server, listener);
	int rv;

	(void)peer;
	rv = grpc_server_adopt(s, fd);
	if (rv)
		log_warn("connection refused", "server=%s error=\"%s\" conns=%zu",
			 sname(s), strerror(-rv), s->nconns);
}

struct grpc_server *grpc_server_new(const struct grpc_server_config *cfg)
{
	struct grpc_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->loop = cfg->loop;
	loop_listener_init(&s->listener, s->loop, cfg->name, on_accept);
	if (!s->cfg.max_recv_message)
		s->cfg.max_recv_message = GRPC_DEFAULT_MAX_MESSAGE;
	if (!s->cfg.max_send_message)
		s->cfg.max_send_message = GRPC_DEFAULT_MAX_MESSAGE;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 1024;
	return s;
}

int grpc_server_listen(struct grpc_server *s, const struct sock_addr *a)
{
	return loop_listener_start(&s->listener, a);
}

int grpc_server_local_addr(const struct grpc_server *s, struct sock_addr *out)
{
	return loop_listener_addr(&s->listener, out);
}

void grpc_server_shutdown(struct grpc_server *s)
{
	s->shutting_down = true;
	loop_listener_stop(&s->listener);
	for (struct sconn *sc = s->conns; sc; sc = sc->next)
		h2_conn_shutdown(sc->h2);
}

size_t grpc_server_conns(const struct grpc_server *s)
{
	return s->nconns;
}

size_t grpc_server_calls(const struct grpc_server *s)
{
	return s->ncalls;
}

void grpc_server_free(struct grpc_server *s)
{
	if (!s)
		return;
	loop_listener_stop(&s->listener);
	/* handlers let go first, while everything is still valid */
	for (struct grpc_call *call = s->calls; call; call = call->next) {
		if (call->owned) {
			call->owned = false;
			if (call->m->on_cancel)
				call->m->on_cancel(call);
		}
	}
	while (s->calls)
		srv_call_free(s->calls);
	while (s->conns) {
		struct sconn *sc = s->conns;

		s->conns = sc->next;
		h2_conn_free(sc->h2);
		free(sc);
	}
	free(s);
}

int grpc_call_send(struct grpc_call *call, const void *msg, size_t len)
{
	static const struct h2_header head[] = {
	    H2_HEADER(":status", "200"),
	    H2_HEADER("content-type", CT_GRPC),
	    H2_HEADER("grpc-accept-encoding", "identity"),
	};
	uint8_t hdr[GRPC_FRAME_HEADER];
	int rv;

	if (!call->server || !call->owned || !call->st)
		return -EPIPE;
	if (len > call->srv->cfg.max_send_message)
		return -EMSGSIZE;
	if (h2_stream_send_room(call->st) < GRPC_FRAME_HEADER + len)
		return -ENOBUFS;
	if (!call->headers_sent) {
		rv = h2_stream_respond(call->st, head, ARRAY_SIZE(head), 0);
		if (rv)
			return rv == -ENOMEM ? rv : -EPIPE;
		call->headers_sent = true;
	}
	put_prefix(hdr, len);
	rv = h2_stream_write(call->st, hdr, sizeof(hdr));
	if (!rv)
		rv = h2_stream_write(call->st, msg, len);
	return rv;
}

int grpc_call_send_message(struct grpc_call *call, const ProtobufCMessage *m)
{
	struct buf b;
	int rv;

	buf_init(&b, 0);
	rv = grpc_pack(&b, m);
	if (!rv)
		rv = grpc_call_send(
		    call, buf_head(&b) ? buf_head(&b) : (const uint8_t *)"",
		    buf_len(&b));
	buf_release(&b);
	return rv;
}

int grpc_call_finish(struct grpc_call *call, int status, const char *message)
{
	if (!call->server || !call->owned)
		return -EPIPE;
	call->owned = false;
	send_status(call, 200, status, message);
	return 0;
}

/* --- client ------------------------------------------------------------- */

enum cstate {
	C_IDLE, /* no connection; the next call connects */
	C_CONNECTING,
	C_READY,   /* cl->cur takes calls */
	C_BACKOFF, /* the last attempt failed: waiting to retry */
};

struct cconn {
	struct grpc_client *cl;
	struct h2_conn *h2;
	struct cconn *next; /* cl->draining */
	bool ready;	    /* the server's SETTINGS arrived */
};

struct grpc_client {
	struct ev_loop *loop;
	struct grpc_client_config cfg;
	char *authority;
	char addr[SOCK_ADDR_STRLEN];
	enum cstate state;
	int fd; /* connecting */
	ev_io connw;
	ev_timer connect_timer;
	ev_timer backoff_timer;
	struct cconn *cur;
	struct cconn *draining; /* after GOAWAY: streams finishing */
	struct grpc_call *calls, *calls_tail;
	unsigned attempts; /* failed connects since the last success */
	uint64_t rng;
	char last_error[192];
};

static const char *clname(const struct grpc_client *cl)
{
	return cl->cfg.name ? cl->cfg.name : "grpc-client";
}

static void cl_call_free(struct grpc_call *call)
{
	struct grpc_client *cl = call->cl;

	if (call->prev)
		call->prev->next = call->next;
	else
		cl->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	else
		cl->calls_tail = call->prev;
	if (call->st)
		h2_stream_set_data(call->st, NULL);
	call_release(call);
}

/*
 * deliver - the call is over for its owner: on_status, once. Freed now
 * when no stream holds it, else when the stream closes (reset it when
 * the server may still be sending).
 */
static void deliver(struct grpc_call *call, int status, const char *message,
		    bool reset)
{
	if (call->detached)
		return;
	call->detached = true;
	call->pending = false;
	ev_timer_stop(call->loop, &call->deadline);
	if (status != GRPC_OK)
		log_debug("grpc call failed", "client=%s path=%s status=%s",
			  clname(call->cl), call->path,
			  grpc_status_name(status));
	if (call->ops && call->ops->on_status)
		call->ops->on_status(call, status, message ? message : "");
	if (call->st) {
		if (reset)
			h2_stream_reset(call->st, H2_CANCEL);
		return;
	}
	if (!call->in_cb)
		cl_call_free(call);
}

/* fail_later - deliver status from the call's timer: never inside the
 * caller's own grpc_client_call() */
static void fail_later(struct grpc_call *call, int status, const char *message)
{
	call->pending = false;
	call->fail_status = status;
	buf_clear(&call->msg);
	buf_append_str(&call->msg, message);
	ev_timer_stop(call->loop, &call->deadline);
	ev_timer_set(&call->deadline, 0, 0);
	ev_timer_start(call->loop, &call->deadline);
}

static void cl_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct grpc_call *call = container_of(w, struct grpc_call, deadline);

	(void)loop;
	(void)revents;
	if (call->fail_status >= 0)
		deliver(call, call->fail_status, buf_cstr(&call->msg), true);
	else
		deliver(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded",
			true);
}

static double jitter01(struct grpc_client *cl)
{
	/* xorshift64*: backoff jitter needs no strong randomness */
	cl->rng ^= cl->rng >> 12;
	cl->rng ^= cl->rng << 25;
	cl->rng ^= cl->rng >> 27;
	return (double)((cl->rng * 0x2545F4914F6CDD1DULL) >> 11) /
	       (double)(1ULL << 53);
}

static double backoff_delay(struct grpc_client *cl)
{
	double d = cl->cfg.backoff_base;

	for (unsigned i = 0; i < cl->attempts && d < cl->cfg.backoff_max; i++)
		d *= cl->cfg.backoff_multiplier;
	if (d > cl->cfg.backoff_max)
		d = cl->cfg.backoff_max;
	d *= 1 + cl->cfg.backoff_jitter * (2 * jitter01(cl) - 1);
	return d > 0 ? d : 0;
}

static bool any_pending(const struct grpc_client *cl)
{
	for (const struct grpc_call *c = cl->calls; c; c = c->next)
		if (c->pending)
			return true;
	return false;
}

static void client_connect(struct grpc_client *cl);

static void connect_failed(struct grpc_client *cl, int err, const char *what)
{
	double delay = backoff_delay(cl);

	cl->state = C_BACKOFF;
	cl->attempts++;
	snprintf(cl->last_error, sizeof(cl->last_error), "%s %s: %s", what,
		 cl->addr, strerror(-err));
	log_debug("grpc connection failed",
		  "client=%s addr=%s error=\"%s\" retry_in=%.3fs", clname(cl),
		  cl->addr, strerror(-err), delay);
	ev_timer_set(&cl->backoff_timer, delay, 0);
	ev_timer_start(cl->loop, &cl->backoff_timer);
	/* fail fast, unless the call said it would wait */
	for (struct grpc_call *c = cl->calls; c; c = c->next)
		if (c->pending && !(c->flags & GRPC_WAIT_FOR_READY))
			fail_later(c, GRPC_UNAVAILABLE, cl->last_error);
}

static void submit(struct grpc_client *cl, struct grpc_call *call)
{
	char timeout[16];
	struct h2_header h[9] = {
	    H2_HEADER(":method", "POST"),
	    H2_HEADER(":scheme", "http"),
	    h2_header_str(":path", call->path),
	    h2_header_str(":authority", cl->authority),
	    H2_HEADER("content-type", CT_GRPC),
	    H2_HEADER("te", "trailers"),
	    H2_HEADER("user-agent", "conduit-grpc"),
	};
	size_t n = 7;
	struct h2_stream *st;
	int rv;

	if (ev_is_active(&call->deadline)) {
		double left = ev_timer_remaining(cl->loop, &call->deadline);

		h[n++] = h2_header_str(
		    "grpc-timeout",
		    grpc_timeout_format((int64_t)(left * NSEC_PER_SEC), timeout,
					sizeof(timeout)));
	}
	rv = h2_conn_request(cl->cur->h2, h, n, 0, call, &st);
	if (rv) {
		fail_later(call, GRPC_UNAVAILABLE, "cannot start a stream");
		return;
	}
	call->pending = false;
	call->st = st;
	h2_stream_set_send_max(st, buf_len(&call->out));
	if (h2_stream_write(st, buf_head(&call->out), buf_len(&call->out)) ||
	    h2_stream_end(st, NULL, 0))
		h2_stream_reset(st, H2_INTERNAL_ERROR);
}

/* retire - the current connection takes no new streams (GOAWAY, or it is
 * ending): its streams finish there, new calls get a new connection */
static void retire(struct grpc_client *cl)
{
	struct cconn *cc = cl->cur;

	cl->cur = NULL;
	cc->next = cl->draining;
	cl->draining = cc;
	cl->state = C_IDLE;
}

static void submit_pending(struct grpc_client *cl)
{
	for (struct grpc_call *c = cl->calls; c; c = c->next) {
		if (!c->pending || c->detached)
			continue;
		if (cl->state != C_READY)
			return;
		if (!h2_conn_can_submit(cl->cur->h2)) {
			retire(cl);
			client_connect(cl);
			return;
		}
		submit(cl, c);
	}
}

/* client_kick - calls are waiting: get them a connection */
static void client_kick(struct grpc_client *cl)
{
	switch (cl->state) {
	case C_READY:
		submit_pending(cl);
		break;
	case C_IDLE:
		client_connect(cl);
		break;
	case C_CONNECTING:
		break;
	case C_BACKOFF:
		for (struct grpc_call *c = cl->calls; c; c = c->next)
			if (c->pending && !(c->flags & GRPC_WAIT_FOR_READY))
				fail_later(c, GRPC_UNAVAILABLE, cl->last_error);
		break;
	}
}

static void parse_status(struct grpc_call *call, const struct h2_header *h,
			 size_t n)
{
	const struct h2_header *f = h2_header_find(h, n, "grpc-status");
	int v = 0;

	if (f) {
		for (size_t i = 0; i < f->value_len && v < 1000; i++) {
			if (f->value[i] < '0' || f->value[i] > '9') {
				v = GRPC_UNKNOWN;
				break;
			}
			v = v * 10 + (f->value[i] - '0');
		}
		call->have_status = f->value_len > 0;
		call->status = v;
	}
	f = h2_header_find(h, n, "grpc-message");
	if (f) {
		buf_clear(&call->msg);
		grpc_percent_decode(&call->msg, f->value, f->value_len);
	}
}

static void cl_on_headers(struct h2_stream *st, enum h2_head kind,
			  const struct h2_header *h, size_t n, bool end)
{
	struct grpc_call *call = h2_stream_data(st);
	const struct h2_header *f;

	(void)end;
	if (!call || call->detached)
		return;
	if (kind == H2_HEAD_RESPONSE) {
		call->got_head = true;
		f = h2_header_find(h, n, ":status");
		call->http_status = f ? atoi(f->value) : 0;
		call->bad_type =
		    !grpc_content_type(h2_header_find(h, n, "content-type"));
		parse_status(call, h, n); /* Trailers-Only */
	} else if (kind == H2_HEAD_TRAILERS) {
		parse_status(call, h, n);
	}
}

static int cl_on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct grpc_call *call = arg;

	if (call->detached)
		return 1;
	if (call->ops->on_message) {
		call->in_cb++;
		call->ops->on_message(call, msg, len);
		call->in_cb--;
	}
	return call->detached ? 1 : 0;
}

static void cl_on_data(struct h2_stream *st, const uint8_t *p, size_t n)
{
	struct grpc_call *call = h2_stream_data(st);
	int rv;

	if (!call || call->detached || call->http_status != 200 ||
	    call->bad_type)
		return;
	rv = grpc_reader_feed(&call->rd, p, n, cl_on_msg, call);
	if (rv == -EMSGSIZE)
		deliver(call, GRPC_RESOURCE_EXHAUSTED,
			"response message larger than max", true);
	else if (rv < 0)
		deliver(call, GRPC_INTERNAL, "malformed response message",
			true);
}

static void cl_on_end(struct h2_stream *st)
{
	struct grpc_call *call = h2_stream_data(st);
	char why[64];
	int status;

	if (!call || call->detached)
		return;
	if (call->http_status != 200 && !call->have_status) {
		snprintf(why, sizeof(why), "HTTP status %d", call->http_status);
		deliver(call, grpc_status_from_http(call->http_status), why,
			false);
		return;
	}
	if (call->bad_type && !call->have_status) {
		deliver(call, GRPC_UNKNOWN,
			"not a gRPC response (content-type)", false);
		return;
	}
	if (grpc_reader_partial(&call->rd)) {
		deliver(call, GRPC_INTERNAL, "truncated response message",
			false);
		return;
	}
	if (!call->have_status) {
		deliver(call, GRPC_UNKNOWN, "no grpc-status in the trailers",
			false);
		return;
	}
	status = call->status;
	deliver(call, status, buf_cstr(&call->msg), false);
}

static void cl_on_stream_close(struct h2_stream *st, uint32_t error)
{
	struct grpc_call *call = h2_stream_data(st);
	struct grpc_client *cl;
	char why[256];

	if (!call)
		return;
	cl = call->cl;
	call->st = NULL;
	if (call->detached) {
		cl_call_free(call);
		return;
	}
	if (error == H2_REFUSED_STREAM && !call->got_head && !call->retried) {
		/* the server never saw it (GOAWAY, stream limit): once
		 * more, on a connection that takes it */
		call->retried = true;
		call->pending = true;
		client_kick(cl);
		return;
	}
	if (error == H2_CONNECTION_LOST)
		snprintf(why, sizeof(why), "connection lost: %s",
			 h2_conn_reason(h2_stream_conn(st)));
	else
		snprintf(why, sizeof(why), "stream reset: %s",
			 h2_error_name(error));
	/* no stream holds the call now: deliver frees it */
	deliver(call, grpc_status_from_h2(error), why, false);
}

static void cl_on_ready(struct h2_conn *h2)
{
	struct cconn *cc = h2_conn_data(h2);

	cc->ready = true;
	cc->cl->attempts = 0;
}

static void cl_on_goaway(struct h2_conn *h2, uint32_t last_id, uint32_t error)
{
	struct cconn *cc = h2_conn_data(h2);
	struct grpc_client *cl = cc->cl;

	(void)last_id;
	(void)error;
	if (cl->cur != cc)
		return;
	retire(cl);
	if (any_pending(cl))
		client_connect(cl);
}

static void cl_on_close(struct h2_conn *h2, int err)
{
	struct cconn *cc = h2_conn_data(h2);
	struct grpc_client *cl = cc->cl;

	if (cl->cur == cc) {
		cl->cur = NULL;
		if (cc->ready) {
			cl->state = C_IDLE;
		} else {
			/* not even SETTINGS: that attempt failed */
			connect_failed(cl, err ? err : -ECONNRESET,
				       "handshake with");
		}
	} else {
		for (struct cconn **pp = &cl->draining; *pp;
		     pp = &(*pp)->next) {
			if (*pp == cc) {
				*pp = cc->next;
				break;
			}
		}
	}
	h2_conn_free(h2);
	free(cc);
	if (cl->state == C_IDLE && any_pending(cl))
		client_connect(cl);
}

static const struct h2_callbacks cl_callbacks = {
    .on_headers = cl_on_headers,
    .on_data = cl_on_data,
    .on_end = cl_on_end,
    .on_stream_close = cl_on_stream_close,
    .on_ready = cl_on_ready,
    .on_goaway = cl_on_goaway,
    .on_close = cl_on_close,
};

static void on_connected(struct ev_loop *loop, ev_io *w, int revents)
{
	struct grpc_client *cl = container_of(w, struct grpc_client, connw);
	struct h2_config cfg = {
	    .role = H2_CLIENT,
	    .loop = loop,
	    .cb = &cl_callbacks,
	    .lim = cl->cfg.h2,
	    .name = clname(cl),
	};
	struct cconn *cc;
	int fd = cl->fd, err;

	(void)revents;
	ev_io_stop(loop, w);
	ev_timer_stop(loop, &cl->connect_timer);
	cl->fd = -1;
	err = sock_error(fd);
	if (err) {
		close(fd);
		connect_failed(cl, err, "connect to");
		return;
	}
	cc = calloc(1, sizeof(*cc));
	if (!cc) {
		close(fd);
		connect_failed(cl, -ENOMEM, "connect to");
		return;
	}
	cc->cl = cl;
	cfg.data = cc;
	cc->h2 = h2_conn_new(&cfg, fd);
	if (!cc->h2) {
		free(cc);
		connect_failed(cl, -ENOMEM, "connect to");
		return;
	}
	cl->cur = cc;
	cl->state = C_READY;
	submit_pending(cl);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct grpc_client *cl =
	    container_of(w, struct grpc_client, connect_timer);

	(void)revents;
	ev_io_stop(loop, &cl->connw);
	close(cl->fd);
	cl->fd = -1;
	connect_failed(cl, -ETIMEDOUT, "connect to");
}

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct grpc_client *cl =
	    container_of(w, struct grpc_client, backoff_timer);

	(void)loop;
	(void)revents;
	cl->state = C_IDLE;
	if (any_pending(cl))
		client_connect(cl);
}

static void client_connect(struct grpc_client *cl)
{
	int fd;

	cl->state = C_CONNECTING;
	fd = cl->cfg.connect ?
		     cl->cfg.connect(cl->cfg.connect_arg, &cl->cfg.addr) :
		     sock_connect(&cl->cfg.addr);
	if (fd < 0) {
		connect_failed(cl, fd, "connect to");
		return;
	}
	cl->fd = fd;
	ev_io_init(&cl->connw, on_connected, fd, EV_WRITE);
	ev_io_start(cl->loop, &cl->connw);
	ev_timer_set(&cl->connect_timer, cl->cfg.connect_timeout, 0);
	ev_timer_start(cl->loop, &cl->connect_timer);
}

struct grpc_client *grpc_client_new(const struct grpc_client_config *cfg)
{
	struct grpc_client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return NULL;
	cl->cfg = *cfg;
	cl->loop = cfg->loop;
	cl->fd = -1;
	if (!cl->cfg.max_recv_message)
		cl->cfg.max_recv_message = GRPC_DEFAULT_MAX_MESSAGE;
	if (!cl->cfg.max_send_message)
		cl->cfg.max_send_message = GRPC_DEFAULT_MAX_MESSAGE;
	if (cl->cfg.connect_timeout <= 0)
		cl->cfg.connect_timeout = 20;
	if (cl->cfg.backoff_base <= 0)
		cl->cfg.backoff_base = 1;
	if (cl->cfg.backoff_max <= 0)
		cl->cfg.backoff_max = 120;
	if (cl->cfg.backoff_multiplier < 1)
		cl->cfg.backoff_multiplier = 1.6;
	if (cl->cfg.backoff_jitter <= 0 || cl->cfg.backoff_jitter >= 1)
		cl->cfg.backoff_jitter = 0.2;
	sock_addr_format(&cfg->addr, cl->addr, sizeof(cl->addr));
	cl->authority = strdup(cfg->authority ? cfg->authority : cl->addr);
	if (!cl->authority) {
		free(cl);
		return NULL;
	}
	cl->cfg.authority = cl->authority;
	cl->rng = (uint64_t)time_mono_ns() ^ (uint64_t)(uintptr_t)cl ^
		  ((uint64_t)getpid() << 32);
	if (!cl->rng)
		cl->rng = 1;
	ev_init(&cl->connect_timer, on_connect_timeout);
	ev_init(&cl->backoff_timer, on_backoff);
	return cl;
}

void grpc_client_free(struct grpc_client *cl)
{
	if (!cl)
		return;
	ev_timer_stop(cl->loop, &cl->connect_timer);
	ev_timer_stop(cl->loop, &cl->backoff_timer);
	if (cl->fd >= 0) {
		ev_io_stop(cl->loop, &cl->connw);
		close(cl->fd);
	}
	while (cl->calls)
		cl_call_free(cl->calls);
	if (cl->cur) {
		h2_conn_free(cl->cur->h2);
		free(cl->cur);
	}
	while (cl->draining) {
		struct cconn *cc = cl->draining;

		cl->draining = cc->next;
		h2_conn_free(cc->h2);
		free(cc);
	}
	free(cl->authority);
	free(cl);
}

bool grpc_client_connected(const struct grpc_client *cl)
{
	return cl->state == C_READY;
}

int grpc_client_call(struct grpc_client *cl, const char *path, const void *req,
		     size_t len, double timeout, unsigned flags,
		     const struct grpc_call_ops *ops, void *data,
		     struct grpc_call **out)
{
	struct grpc_call *call;

	*out = NULL;
	if (!path || path[0] != '/' || !ops)
		return -EINVAL;
	if (len > cl->cfg.max_send_message)
		return -EMSGSIZE;
	call = calloc(1, sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->loop = cl->loop;
	call->cl = cl;
	call->ops = ops;
	call->data = data;
	call->flags = flags;
	call->fail_status = -1;
	call->path = strdup(path);
	grpc_reader_init(&call->rd, cl->cfg.max_recv_message);
	buf_init(&call->req, 0);
	buf_init(&call->meta, 0);
	buf_init(&call->out, 0);
	buf_init(&call->msg, 16u << 10);
	ev_timer_init(&call->deadline, cl_on_deadline, 0, 0);
	if (!call->path || grpc_frame_append(&call->out, req ? req : "", len)) {
		call_release(call);
		return -ENOMEM;
	}
	if (timeout > 0) {
		ev_timer_set(&call->deadline, timeout, 0);
		ev_timer_start(cl->loop, &call->deadline);
	}
	call->prev = cl->calls_tail;
	if (cl->calls_tail)
		cl->calls_tail->next = call;
	else
		cl->calls = call;
	cl->calls_tail = call;
	call->pending = true;
	*out = call;
	client_kick(cl);
	return 0;
}

void grpc_call_cancel(struct grpc_call *call)
{
	if (call->server) {
		if (!call->owned)
			return;
		call->owned = false;
		call->finished = true;
		ev_timer_stop(call->loop, &call->deadline);
		if (call->st)
			h2_stream_reset(call->st, H2_CANCEL);
		return;
	}
	if (call->detached)
		return;
	call->detached = true;
	call->pending = false;
	ev_timer_stop(call->loop, &call->deadline);
	if (call->st)
		h2_stream_reset(call->st, H2_CANCEL);
	else if (!call->in_cb)
		cl_call_free(call);
}
