/* SPDX-License-Identifier: Apache-2.0 */
/* h2.c - HTTP/2 connections over sockets or memory, on libev (nghttp2) */
#include "conduit/h2.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "conduit/buf.h"
#include "conduit/log.h"
#include "conduit/pool.h"
#include "conduit/time.h"

#define READ_CHUNK     (16u << 10)  /* one read(); one h2_conn_input() bite */
#define READ_BUDGET    (1u << 20)   /* bytes read per wakeup: fairness */
#define FLUSH_ROUNDS   16	    /* output rounds per wakeup: fairness */
#define OUT_SLACK      (256u << 10) /* a frame may overshoot conn_send_max */
#define STACK_NV       32	    /* header fields converted without malloc */
#define FIELD_OVERHEAD 32	    /* per field, as RFC 9113 6.5.2 counts */

/*
 * one decoded field: nghttp2's reference-counted buffers, held (incref)
 * from on_header until the block is delivered. Static-table names and
 * values are nghttp2's constants, the others its decoder's allocations;
 * either way the bytes are NUL-terminated and nothing is copied (a copy
 * of every field into a buffer of ours cost 4,100 instructions a
 * proxied request, 13% of them; bench/NOTES.md).
 */
struct field {
	nghttp2_rcbuf *name, *value;
};

struct h2_stream {
	struct h2_conn *c;
	struct h2_stream *prev, *next; /* c->streams */
	struct h2_stream *sent_next;   /* c->sent_list */
	int32_t id;
	void *data;	     /* the owner's */
	struct buf sendq;    /* body bytes nghttp2 has not taken */
	/* trailers to end with: the owner's (h2_stream_end_no_copy), or
	 * tcopy, one allocation holding the array and its bytes */
	const struct h2_header *trailers;
	void *tcopy;
	size_t ntrailers;
	size_t sent;	     /* left sendq, not yet reported */
	size_t unconsumed;   /* manual flow: delivered, unacked */
	uint32_t reset_code; /* what we reset it with */
	bool announced;	     /* the owner knows the stream */
	bool responded;	     /* server: response head submitted */
	bool provider;	     /* nghttp2 pulls the body from sendq */
	bool deferred;	     /* ... and is waiting for bytes */
	bool ended;	     /* our side: no more body after sendq */
	bool remote_ended;   /* the peer ended its side */
	bool reset;	     /* RST_STREAM sent or queued */
	bool final_seen;     /* client: the final response head */
	bool answered;	     /* server: response HEADERS went out */
	bool in_sent_list;
	bool not_sent; /* client: HEADERS failed to go out */
};

struct h2_conn {
	enum h2_role role;
	struct ev_loop *loop; /* NULL: memory transport, no timers */
	const struct h2_callbacks *cb;
	void *data;
	struct h2_limits lim;
	const char *name;
	nghttp2_session *sess;
	int fd; /* -1: memory transport (or closed) */
	ev_io rd, wr;
	ev_prepare flushw;	 /* flushes submissions made outside
				  * our callbacks, once per iteration */
	ev_timer settings_timer; /* SETTINGS ACK; then the linger */
	ev_timer idle_timer;
	ev_tstamp last_active;
	struct buf out; /* frames waiting for the socket */
	struct buf initial; /* read by the owner before us: fed first */
	size_t out_peak;
	struct pool stream_pool;
	struct h2_stream *streams;
	size_t nstreams;
	size_t queued;		     /* bytes in every stream's sendq */
	struct h2_stream *sent_list; /* streams with on_sent to report */
	bool not_sent;		     /* some stream has not_sent set */
	/* the header block being decoded (blocks never interleave):
	 * fields[i] holds the buffers hv[i] points into */
	struct field *fields;
	struct h2_header *hv;
	struct h2_stream *delivering; /* inside on_headers: its stream */
	size_t nfields, hbytes;
	/* flood guard: fixed one-second windows */
	int64_t rst_window, err_window;
	uint32_t rst_count, err_count;
	size_t release; /* connection window to give back */
	uint64_t bytes_in, bytes_out;
	int depth;     /* our frames on the stack */
	int close_err; /* closing: on_close's err */
	int term_err;  /* on_close's err once nghttp2 ends */
	char reason[128];
	char nglast[96];      /* nghttp2's last error message */
	bool closing;	      /* close when the stack unwinds */
	bool goaway_on_close; /* ... after one try to send GOAWAY */
	bool closed;	      /* on_close ran */
	bool free_pending;
	bool terminating; /* a GOAWAY with error is on its way */
	bool lingering;	  /* settings_timer is the linger */
	bool settings_acked, peer_settings;
	bool shutdown; /* h2_conn_shutdown() was called */
	bool goaway_recv;
	bool eof;
};

static const struct h2_callbacks no_callbacks;

static const char *const error_names[] = {
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
};

const char *h2_error_name(uint32_t code)
{
	if (code < ARRAY_SIZE(error_names))
		return error_names[code];
	if (code == H2_CONNECTION_LOST)
		return "CONNECTION_LOST";
	return "UNKNOWN";
}

static const char *cname(const struct h2_conn *c)
{
	return c->name		      ? c->name
	       : c->role == H2_SERVER ? "h2-server"
				      : "h2-client";
}

static void set_reason(struct h2_conn *c, const char *reason)
{
	if (!c->reason[0] && reason)
		str_copy(c->reason, reason, sizeof(c->reason));
}

/*
 * fail - a fatal error: the connection closes (on_close(err)) when our
 * frames unwind. The first error wins. Returns err for tail calls.
 */
static int fail(struct h2_conn *c, int err, const char *reason)
{
	if (!c->closing) {
		c->closing = true;
		c->close_err = err;
		set_reason(c, reason);
	}
	return err;
}

static void kick(struct h2_conn *c);

/*
 * linger - a GOAWAY with an error is on its way: close with err once it
 * is sent, or when settings_timeout runs out (a peer that does not read
 * cannot hold us)
 */
static void linger(struct h2_conn *c, int err, const char *reason)
{
	if (c->terminating || c->closing)
		return;
	c->terminating = true;
	c->term_err = err;
	set_reason(c, reason);
	if (c->loop && c->lim.settings_timeout > 0) {
		c->lingering = true;
		ev_timer_stop(c->loop, &c->settings_timer);
		ev_timer_set(&c->settings_timer, c->lim.settings_timeout, 0);
		ev_timer_start(c->loop, &c->settings_timer);
	}
}

/* terminate - GOAWAY with code (last stream: the last we processed) */
static void terminate(struct h2_conn *c, uint32_t code, int err,
		      const char *reason)
{
	if (c->terminating || c->closing)
		return;
	if (nghttp2_session_terminate_session(c->sess, code)) {
		fail(c, -ENOMEM, reason);
		return;
	}
	linger(c, err, reason);
}

/* rate - count one event in this second's window; true past limit */
static bool rate(int64_t *window, uint32_t *count, uint32_t limit)
{
	int64_t now = time_mono_ns() / NSEC_PER_SEC;

	if (*window != now) {
		*window = now;
		*count = 0;
	}
	return ++*count > limit;
}

static void count_error(struct h2_conn *c)
{
	if (rate(&c->err_window, &c->err_count, c->lim.max_errors))
		terminate(c, H2_ENHANCE_YOUR_CALM, -EPROTO,
			  "flood: too many protocol errors");
}

/* --- streams ------------------------------------------------------------ */

static struct h2_stream *stream_of(struct h2_conn *c, int32_t id)
{
	return nghttp2_session_get_stream_user_data(c->sess, id);
}

static struct h2_stream *stream_new(struct h2_conn *c, int32_t id, void *data)
{
	struct h2_stream *s = pool_get(&c->stream_pool);

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->id = id;
	s->data = data;
	buf_init(&s->sendq, c->lim.stream_send_max);
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	c->nstreams++;
	return s;
}

static void sent_list_remove(struct h2_conn *c, struct h2_stream *s)
{
	struct h2_stream **pp;

	if (!s->in_sent_list)
		return;
	for (pp = &c->sent_list; *pp; pp = &(*pp)->sent_next) {
		if (*pp == s) {
			*pp = s->sent_next;
			break;
		}
	}
	s->in_sent_list = false;
}

/*
 * stream_destroy - s is over: tell the owner (if it knew of s), settle
 * its flow-control debt and free it.
 */
static void stream_destroy(struct h2_conn *c, struct h2_stream *s,
			   uint32_t error)
{
	sent_list_remove(c, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	c->nstreams--;
	c->queued -= buf_len(&s->sendq);
	/* data the owner never acknowledged still counts against the
	 * connection window: give it back, or the connection starves */
	c->release += s->unconsumed;
	if (s->id > 0 && !c->closed)
		nghttp2_session_set_stream_user_data(c->sess, s->id, NULL);
	if (s->announced && c->cb->on_stream_close)
		c->cb->on_stream_close(s, error);
	buf_release(&s->sendq);
	pool_free(s->tcopy);
	pool_put(&c->stream_pool, s);
}

/* --- output ----------------------------------------------------------- */

static ssize_t out_write(struct h2_conn *c)
{
	size_t total = 0;

	while (buf_len(&c->out)) {
		ssize_t n = send(c->fd, buf_head(&c->out), buf_len(&c->out),
				 MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, buf_head(&c->out), buf_len(&c->out));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return total ? (ssize_t)total : -EAGAIN;
			return -errno;
		}
		buf_consume(&c->out, (size_t)n);
		c->bytes_out += (uint64_t)n;
		total += (size_t)n;
	}
	return (ssize_t)total;
}

/* report_sent - on_sent for every stream whose queue was drained into
 * frames; outside nghttp2's callbacks, so the owner may do anything */
static void report_sent(struct h2_conn *c)
{
	while (c->sent_list) {
		struct h2_stream *s = c->sent_list;
		size_t n = s->sent;

		c->sent_list = s->sent_next;
		s->in_sent_list = false;
		s->sent = 0;
		if (n && s->announced && !s->reset && c->cb->on_sent)
			c->cb->on_sent(s, n);
	}
}

/* drop_not_sent - requests whose HEADERS could not go out and that
 * nghttp2 will not close: close them ourselves (safe to retry) */
static void drop_not_sent(struct h2_conn *c)
{
	struct h2_stream *s, *next;

	c->not_sent = false;
	for (s = c->streams; s; s = next) {
		next = s->next;
		if (s->not_sent)
			stream_destroy(
			    c, s, s->reset ? s->reset_code : H2_REFUSED_STREAM);
	}
}

/*
 * produce - move nghttp2's frames into c->out until it is full or
 * nghttp2 has nothing more, reporting on_sent as queues drain.
 */
static int produce(struct h2_conn *c)
{
	for (;;) {
		if (c->release) {
			nghttp2_session_consume_connection(c->sess, c->release);
			c->release = 0;
		}
		while (buf_len(&c->out) < c->lim.conn_send_max) {
			const uint8_t *p;
			ssize_t n = nghttp2_session_mem_send(c->sess, &p);

			if (n < 0)
				return fail(c, -EPROTO,
					    nghttp2_strerror((int)n));
			if (!n)
				break;
			if (buf_append(&c->out, p, (size_t)n) < 0)
				return fail(c, -ENOMEM, "output buffer full");
		}
		if (buf_len(&c->out) > c->out_peak)
			c->out_peak = buf_len(&c->out);
		if (c->not_sent)
			drop_not_sent(c);
		if (!c->sent_list)
			return 0;
		/* the owner may queue more: make frames of that too */
		report_sent(c);
		if (c->closing)
			return c->close_err;
	}
}

static void io_set(struct h2_conn *c, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(c->loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(c->loop, w);
}

static void update_watchers(struct h2_conn *c)
{
	bool full = buf_len(&c->out) >= c->lim.conn_send_max;

	if (c->fd < 0 || c->closed)
		return;
	io_set(c, &c->wr, buf_len(&c->out) > 0);
	/* the peer gets no more of our attention while it is not reading
	 * what we already owe it */
	io_set(c, &c->rd,
	       !full && !c->eof && !c->terminating &&
		   nghttp2_session_want_read(c->sess));
}

static int feed(struct h2_conn *c, const uint8_t *p, size_t n);

/*
 * write_failed - the peer is gone, but it may have said why first (a
 * GOAWAY sent just before it closed): read what it left, then close
 */
static void write_failed(struct h2_conn *c, int err)
{
	uint8_t tmp[READ_CHUNK];

	buf_clear(&c->out); /* nothing more will be written */
	for (size_t total = 0; !c->closing && total < READ_BUDGET;) {
		ssize_t n = read(c->fd, tmp, sizeof(tmp));

		if (n <= 0)
			break;
		total += (size_t)n;
		c->bytes_in += (uint64_t)n;
		feed(c, tmp, (size_t)n);
	}
	fail(c, c->term_err ? c->term_err : err, "write failed");
}

/* flush - produce and write until the socket is full or all is out */
static void flush(struct h2_conn *c)
{
	for (int round = 0; round < FLUSH_ROUNDS; round++) {
		ssize_t w;

		if (produce(c) < 0 || c->closing)
			return;
		if (c->fd < 0 || !buf_len(&c->out))
			break;
		w = out_write(c);
		if (w < 0 && w != -EAGAIN) {
			write_failed(c, (int)w);
			return;
		}
		if (buf_len(&c->out)) {
			/* the socket is full: fill our buffer to its bound,
			 * so a peer that does not read stops being read */
			if (produce(c) < 0)
				return;
			break;
		}
		if (!nghttp2_session_want_write(c->sess))
			break;
		if (round == FLUSH_ROUNDS - 1)
			kick(c); /* more to say: next iteration */
	}
	update_watchers(c);
}

static bool done(struct h2_conn *c)
{
	return !nghttp2_session_want_read(c->sess) &&
	       !nghttp2_session_want_write(c->sess) && !buf_len(&c->out);
}

static void conn_close(struct h2_conn *c, int err)
{
	char q[160];

	if (c->closed)
		return;
	c->closed = true;
	if (c->loop) {
		ev_timer_stop(c->loop, &c->settings_timer);
		ev_timer_stop(c->loop, &c->idle_timer);
		ev_prepare_stop(c->loop, &c->flushw);
	}
	if (c->fd >= 0) {
		/* one try at what is left (a GOAWAY, mostly) */
		if (buf_len(&c->out))
			(void)out_write(c);
		ev_io_stop(c->loop, &c->rd);
		ev_io_stop(c->loop, &c->wr);
		close(c->fd);
		c->fd = -1;
	}
	if (!c->reason[0])
		set_reason(c, err ? strerror(-err) : "done");
	log_debug("h2 connection closed",
		  "conn=%s err=%d reason=%s streams=%zu in=%llu out=%llu",
		  cname(c), err, log_quote(q, sizeof(q), c->reason),
		  c->nstreams, (unsigned long long)c->bytes_in,
		  (unsigned long long)c->bytes_out);
	while (c->streams)
		stream_destroy(c, c->streams, H2_CONNECTION_LOST);
	if (c->cb->on_close)
		c->cb->on_close(c, err);
}

/* settle - the outermost frame unwinds: write, notice the end, close */
static void settle(struct h2_conn *c)
{
	if (c->closed)
		return;
	if (c->closing && c->goaway_on_close) {
		c->goaway_on_close = false;
		(void)produce(c);
	}
	if (!c->closing)
		flush(c);
	if (c->closing)
		conn_close(c, c->close_err);
	else if (done(c))
		conn_close(c, c->term_err);
}

static void destroy(struct h2_conn *c);

static inline void enter(struct h2_conn *c)
{
	c->depth++;
}

/* leave - end of an event's processing; true if c was freed */
static bool leave(struct h2_conn *c)
{
	if (c->depth == 1)
		settle(c);
	if (--c->depth == 0 && c->free_pending) {
		destroy(c);
		return true;
	}
	return false;
}

/* kick - output is due: flushed when our frames unwind, or (from the
 * owner's own events) once, before the loop next blocks */
/* inside on_prepare: libev has queued this round's prepare watchers */
static _Thread_local int in_prepare;

static void kick(struct h2_conn *c)
{
	if (!c->loop || c->closed || ev_is_active(&c->flushw))
		return;
	ev_prepare_start(c->loop, &c->flushw);
	/* kicked from another connection's flush (a proxy forwarding
	 * between two): a watcher started now would wait for the next
	 * round, after the loop blocked; run it in this one */
	if (in_prepare)
		ev_feed_event(c->loop, &c->flushw, EV_PREPARE);
}

/* leave_api - end of an owner's call: flush later, in one batch */
static void leave_api(struct h2_conn *c)
{
	if (c->depth == 1)
		kick(c);
	if (--c->depth == 0 && c->free_pending)
		destroy(c);
}

/* --- nghttp2 callbacks ---------------------------------------------- */

static ssize_t on_read_body(nghttp2_session *sess, int32_t id, uint8_t *out,
			    size_t len, uint32_t *flags,
			    nghttp2_data_source *src, void *ud);

static int submit_trailers(struct h2_conn *c, struct h2_stream *s);

static ssize_t on_read_body(nghttp2_session *sess, int32_t id, uint8_t *out,
			    size_t len, uint32_t *flags,
			    nghttp2_data_source *src, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s = src->ptr;
	size_t n = MIN(len, buf_len(&s->sendq));

	(void)sess;
	(void)id;
	if (n) {
		memcpy(out, buf_head(&s->sendq), n);
		buf_consume(&s->sendq, n);
		c->queued -= n;
		s->sent += n;
		if (!s->in_sent_list) {
			s->in_sent_list = true;
			s->sent_next = c->sent_list;
			c->sent_list = s;
		}
	}
	if (!buf_len(&s->sendq) && s->ended) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (s->ntrailers) {
			if (submit_trailers(c, s))
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		}
		return (ssize_t)n;
	}
	if (!n) {
		s->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

/* fields_release - let go of the decoded block's buffers */
static void fields_release(struct h2_conn *c)
{
	for (size_t i = 0; i < c->nfields; i++) {
		nghttp2_rcbuf_decref(c->fields[i].name);
		nghttp2_rcbuf_decref(c->fields[i].value);
	}
	c->nfields = 0;
	c->hbytes = 0;
}

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *f,
			    void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	fields_release(c);
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST || c->role != H2_SERVER)
		return 0;
	s = stream_new(c, f->hd.stream_id, NULL);
	if (!s) {
		/* at the stream bound (or out of memory): refuse it, the
		 * client may retry it elsewhere */
		nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE,
					  f->hd.stream_id, H2_REFUSED_STREAM);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	nghttp2_session_set_stream_user_data(sess, f->hd.stream_id, s);
	return 0;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *f,
		     nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags,
		     void *ud)
{
	struct h2_conn *c = ud;
	nghttp2_vec n = nghttp2_rcbuf_get_buf(name);
	nghttp2_vec v = nghttp2_rcbuf_get_buf(value);
	struct h2_header *h;

	(void)flags;
	c->hbytes += n.len + v.len + FIELD_OVERHEAD;
	if (c->nfields >= c->lim.max_header_fields ||
	    c->hbytes > c->lim.max_header_list) {
		struct h2_stream *s = stream_of(c, f->hd.stream_id);
		char q[64];

		log_debug("header list over the limit: resetting the stream",
			  "conn=%s stream=%d fields=%zu bytes=%zu last=%s",
			  cname(c), f->hd.stream_id, c->nfields + 1, c->hbytes,
			  log_quote(q, sizeof(q), (const char *)n.base));
		/* PROTOCOL_ERROR, not the INTERNAL_ERROR nghttp2 would
		 * send: queued first, it is the one that goes out */
		nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE,
					  f->hd.stream_id, H2_PROTOCOL_ERROR);
		if (s) {
			s->reset = true;
			s->reset_code = H2_PROTOCOL_ERROR;
		}
		count_error(c);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	nghttp2_rcbuf_incref(name);
	nghttp2_rcbuf_incref(value);
	c->fields[c->nfields].name = name;
	c->fields[c->nfields].value = value;
	h = &c->hv[c->nfields++];
	h->name = (const char *)n.base;
	h->name_len = n.len;
	h->value = (const char *)v.base;
	h->value_len = v.len;
	return 0;
}

static void deliver_end(struct h2_conn *c, struct h2_stream *s)
{
	if (s->remote_ended)
		return;
	s->remote_ended = true;
	if (s->announced && !s->reset && c->cb->on_end)
		c->cb->on_end(s);
}

static void deliver_headers(struct h2_conn *c, struct h2_stream *s,
			    const nghttp2_frame *f)
{
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
	enum h2_head kind;

	if (c->role == H2_SERVER) {
		kind = f->headers.cat == NGHTTP2_HCAT_REQUEST
			   ? H2_HEAD_REQUEST
			   : H2_HEAD_TRAILERS;
		if (kind == H2_HEAD_REQUEST)
			s->announced = true;
	} else if (!s->final_seen) {
		const struct h2_header *st =
		    h2_header_find(c->hv, c->nfields, ":status");

		kind = H2_HEAD_RESPONSE;
		if (st && st->value_len == 3 && st->value[0] == '1' && !end)
			kind = H2_HEAD_INFO;
		else
			s->final_seen = true;
	} else {
		kind = H2_HEAD_TRAILERS;
	}
	if (s->announced && !s->reset && c->cb->on_headers) {
		c->delivering = s; /* h2_head_hold() */
		c->cb->on_headers(s, kind, c->hv, c->nfields, end);
		c->delivering = NULL;
	}
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *f,
			 void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	(void)sess;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		s = stream_of(c, f->hd.stream_id);
		if (s)
			deliver_headers(c, s, f);
		fields_release(c);
		if (s && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			deliver_end(c, s);
		break;
	case NGHTTP2_DATA:
		s = stream_of(c, f->hd.stream_id);
		if (s && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			deliver_end(c, s);
		break;
	case NGHTTP2_SETTINGS:
		if (f->hd.flags & NGHTTP2_FLAG_ACK) {
			if (!c->settings_acked && c->loop && !c->lingering)
				ev_timer_stop(c->loop, &c->settings_timer);
			c->settings_acked = true;
		} else if (!c->peer_settings) {
			c->peer_settings = true;
			if (c->cb->on_ready)
				c->cb->on_ready(c);
		}
		break;
	case NGHTTP2_RST_STREAM:
		s = stream_of(c, f->hd.stream_id);
		/* rapid reset: streams opened and dropped before we could
		 * answer cost us work and the peer nothing */
		if (c->role == H2_SERVER && (!s || !s->answered) &&
		    rate(&c->rst_window, &c->rst_count,
			 c->lim.max_early_resets))
			terminate(c, H2_ENHANCE_YOUR_CALM, -EPROTO,
				  "flood: too many stream resets");
		break;
	case NGHTTP2_GOAWAY: {
		char why[80];

		c->goaway_recv = true;
		if (f->goaway.error_code != H2_NO_ERROR && !c->term_err) {
			snprintf(why, sizeof(why), "peer sent GOAWAY %s",
				 h2_error_name(f->goaway.error_code));
			c->term_err = -EPROTO;
			set_reason(c, why);
		}
		if (c->cb->on_goaway)
			c->cb->on_goaway(c, (uint32_t)f->goaway.last_stream_id,
					 f->goaway.error_code);
		break;
	}
	case NGHTTP2_PING:
		if ((f->hd.flags & NGHTTP2_FLAG_ACK) && c->shutdown &&
		    !memcmp(f->ping.opaque_data, "shutdown", 8))
			nghttp2_submit_goaway(
			    c->sess, NGHTTP2_FLAG_NONE,
			    nghttp2_session_get_last_proc_stream_id(c->sess),
			    H2_NO_ERROR, NULL, 0);
		break;
	default:
		break;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id,
			 const uint8_t *data, size_t len, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s = stream_of(c, id);

	(void)flags;
	if (!s || s->reset || !s->announced) {
		/* nobody will pass these on: acknowledge them now */
		if (c->lim.manual_flow)
			nghttp2_session_consume(sess, id, len);
		return 0;
	}
	if (c->lim.manual_flow)
		s->unconsumed += len;
	if (c->cb->on_data)
		c->cb->on_data(s, data, len);
	return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t error,
			   void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s = stream_of(c, id);

	(void)sess;
	if (s)
		stream_destroy(c, s, error);
	return 0;
}

static int on_frame_send(nghttp2_session *sess, const nghttp2_frame *f,
			 void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	if (f->hd.type == NGHTTP2_GOAWAY &&
	    f->goaway.error_code != H2_NO_ERROR) {
		/* nghttp2 ends the connection over a protocol error */
		if (!c->terminating) {
			char why[128];

			snprintf(why, sizeof(why), "sent GOAWAY %s%s%s",
				 h2_error_name(f->goaway.error_code),
				 c->nglast[0] ? ": " : "", c->nglast);
			linger(c, -EPROTO, why);
		}
		return 0;
	}
	if (c->role != H2_SERVER ||
	    (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA))
		return 0;
	s = stream_of(c, f->hd.stream_id);
	if (!s)
		return 0;
	s->answered = true;
	/* the response is complete and the request is not: ask the client
	 * to stop sending it (RFC 9113 8.1) */
	if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->remote_ended &&
	    !s->reset) {
		s->reset = true;
		s->reset_code = H2_NO_ERROR;
		nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, s->id,
					  H2_NO_ERROR);
	}
	return 0;
}

static int on_frame_not_send(nghttp2_session *sess, const nghttp2_frame *f,
			     int lib_error, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	(void)lib_error;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (nghttp2_session_find_stream(sess, f->hd.stream_id))
		return 0; /* nghttp2 closes it: on_stream_close follows */
	for (s = c->streams; s; s = s->next) {
		if (s->id == f->hd.stream_id) {
			s->not_sent = true;
			c->not_sent = true;
		}
	}
	return 0;
}

static int on_invalid_frame(nghttp2_session *sess, const nghttp2_frame *f,
			    int lib_error, void *ud)
{
	struct h2_conn *c = ud;

	(void)sess;
	log_debug("h2 protocol error from the peer",
		  "conn=%s stream=%d type=%u error=%s", cname(c),
		  f->hd.stream_id, f->hd.type, nghttp2_strerror(lib_error));
	count_error(c);
	return 0;
}

static int on_error(nghttp2_session *sess, int lib_error, const char *msg,
		    size_t len, void *ud)
{
	struct h2_conn *c = ud;

	(void)sess;
	(void)lib_error;
	snprintf(c->nglast, sizeof(c->nglast), "%.*s", (int)len, msg);
	return 0;
}

/* --- events ----------------------------------------------------------- */

/* feed - the peer's bytes into nghttp2 */
static int feed(struct h2_conn *c, const uint8_t *p, size_t n)
{
	ssize_t rv = nghttp2_session_mem_recv(c->sess, p, n);

	if (c->loop)
		c->last_active = ev_now(c->loop);
	if (rv >= 0)
		return 0;
	if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
		/* not HTTP/2 at all: a GOAWAY, one try, and goodbye */
		nghttp2_session_terminate_session(c->sess, H2_PROTOCOL_ERROR);
		c->goaway_on_close = true;
		return fail(c, -EPROTO, "bad client preface");
	}
	if (rv == NGHTTP2_ERR_FLOODED)
		return fail(c, -EPROTO, "flood: peer does not read our acks");
	return fail(c, rv == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO,
		    nghttp2_strerror((int)rv));
}

static void peer_eof(struct h2_conn *c)
{
	c->eof = true;
	if (c->term_err)
		fail(c, c->term_err, "peer closed after GOAWAY");
	else if (c->nstreams)
		fail(c, -ECONNRESET, "peer closed with streams open");
	else
		fail(c, c->term_err, "peer closed");
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct h2_conn *c = container_of(w, struct h2_conn, rd);
	uint8_t tmp[READ_CHUNK];
	size_t total = 0;

	(void)loop;
	(void)revents;
	enter(c);
	while (!c->closing && !c->terminating && total < READ_BUDGET) {
		ssize_t n = read(c->fd, tmp, sizeof(tmp));

		if (n > 0) {
			total += (size_t)n;
			c->bytes_in += (uint64_t)n;
			if (feed(c, tmp, (size_t)n))
				break;
			/* a short read drained the socket: the next read
			 * would be EAGAIN (the watcher says when there is
			 * more, EOF included) */
			if ((size_t)n < sizeof(tmp))
				break;
			continue;
		}
		if (n == 0) {
			peer_eof(c);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			fail(c, -errno, "read failed");
		break;
	}
	leave(c);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct h2_conn *c = container_of(w, struct h2_conn, wr);

	(void)loop;
	(void)revents;
	enter(c);
	leave(c);
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct h2_conn *c = container_of(w, struct h2_conn, flushw);

	(void)revents;
	ev_prepare_stop(loop, w);
	in_prepare++;
	enter(c);
	if (buf_len(&c->initial) && !c->closed && !c->closing) {
		c->bytes_in += buf_len(&c->initial);
		feed(c, buf_head(&c->initial), buf_len(&c->initial));
		buf_release(&c->initial);
	}
	if (c->fd < 0 && !c->closed && !c->closing) {
		(void)produce(c);
		if (buf_len(&c->out) && c->cb->on_output)
			c->cb->on_output(c);
	}
	leave(c);
	in_prepare--;
}

static void on_settings_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h2_conn *c = container_of(w, struct h2_conn, settings_timer);

	(void)loop;
	(void)revents;
	enter(c);
	if (c->lingering) {
		fail(c, c->term_err, NULL);
	} else if (!c->settings_acked) {
		nghttp2_session_terminate_session(c->sess, H2_SETTINGS_TIMEOUT);
		c->goaway_on_close = true;
		fail(c, -ETIMEDOUT, "SETTINGS not acknowledged in time");
	}
	leave(c);
}

static void on_idle_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct h2_conn *c = container_of(w, struct h2_conn, idle_timer);
	ev_tstamp idle = ev_now(loop) - c->last_active;

	(void)revents;
	if (c->nstreams || idle < c->lim.idle_timeout) {
		w->repeat = c->nstreams ? c->lim.idle_timeout
					: c->lim.idle_timeout - idle;
		ev_timer_again(loop, w);
		return;
	}
	enter(c);
	terminate(c, H2_NO_ERROR, 0, "idle timeout");
	leave(c);
}

/* --- connection ------------------------------------------------------ */

static void limits_default(struct h2_limits *l)
{
	if (!l->max_streams)
		l->max_streams = H2_DEFAULT_MAX_STREAMS;
	if (!l->stream_window)
		l->stream_window = H2_DEFAULT_STREAM_WINDOW;
	if (!l->conn_window)
		l->conn_window = H2_DEFAULT_CONN_WINDOW;
	if (l->stream_window > NGHTTP2_MAX_WINDOW_SIZE)
		l->stream_window = NGHTTP2_MAX_WINDOW_SIZE;
	if (l->conn_window > NGHTTP2_MAX_WINDOW_SIZE)
		l->conn_window = NGHTTP2_MAX_WINDOW_SIZE;
	if (!l->max_header_list)
		l->max_header_list = H2_DEFAULT_MAX_HEADER_LIST;
	if (!l->max_header_fields)
		l->max_header_fields = H2_DEFAULT_MAX_HEADER_FIELDS;
	if (!l->stream_send_max)
		l->stream_send_max = H2_DEFAULT_STREAM_SEND_MAX;
	if (!l->conn_send_max)
		l->conn_send_max = H2_DEFAULT_CONN_SEND_MAX;
	if (!l->max_early_resets)
		l->max_early_resets = H2_DEFAULT_MAX_EARLY_RESETS;
	if (!l->max_errors)
		l->max_errors = H2_DEFAULT_MAX_ERRORS;
	if (l->idle_timeout == 0)
		l->idle_timeout = H2_DEFAULT_IDLE_TIMEOUT;
	if (l->settings_timeout == 0)
		l->settings_timeout = H2_DEFAULT_SETTINGS_TIMEOUT;
}

/*
 * nghttp2's allocations go to the size-class caches (pool.h): it makes
 * about 8 a proxied request (on each side the head's field array, its
 * outbound item and the stream; a DATA item) and frees them within the
 * request, at a rate glibc's own small cache does not keep up with.
 */
static void *ng_malloc(size_t n, void *ud)
{
	(void)ud;
	return pool_malloc(n);
}

static void ng_free(void *p, void *ud)
{
	(void)ud;
	pool_free(p);
}

static void *ng_calloc(size_t n, size_t size, void *ud)
{
	(void)ud;
	return pool_calloc(n, size);
}

static void *ng_realloc(void *p, size_t n, void *ud)
{
	(void)ud;
	return pool_realloc(p, n);
}

static nghttp2_mem ng_mem = {NULL, ng_malloc, ng_free, ng_calloc, ng_realloc};

static int session_new(struct h2_conn *c)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	nghttp2_settings_entry iv[5];
	size_t niv = 0;
	int rv;

	if (nghttp2_session_callbacks_new(&cbs))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(
	    cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback2(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
							     on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	    cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
							       on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
							     on_frame_send);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(
	    cbs, on_frame_not_send);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
	    cbs, on_invalid_frame);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cbs);
		return -ENOMEM;
	}
	if (c->lim.manual_flow)
		nghttp2_option_set_no_auto_window_update(opt, 1);
	if (c->role == H2_SERVER)
		rv = nghttp2_session_server_new3(&c->sess, cbs, c, opt, &ng_mem);
	else
		rv = nghttp2_session_client_new3(&c->sess, cbs, c, opt, &ng_mem);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	if (rv)
		return -ENOMEM;

	if (c->role == H2_SERVER)
		iv[niv++] = (nghttp2_settings_entry){
		    NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		    c->lim.max_streams};
	else
		iv[niv++] =
		    (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
	iv[niv++] = (nghttp2_settings_entry){
	    NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, c->lim.stream_window};
	iv[niv++] = (nghttp2_settings_entry){
	    NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
	    (uint32_t)MIN(c->lim.max_header_list, UINT32_MAX)};
	/* no RFC 7540 priorities: nghttp2 then keeps no dependency tree
	 * and no closed streams for it (1.5% of a proxied request) */
	iv[niv++] = (nghttp2_settings_entry){
	    NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1};
	if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, niv))
		return -ENOMEM;
	if (c->lim.conn_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE &&
	    nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0,
						  (int32_t)c->lim.conn_window))
		return -ENOMEM;
	return 0;
}

struct h2_conn *h2_conn_new(const struct h2_config *cfg, int fd)
{
	struct h2_conn *c;
	int one = 1;

	if (!cfg || (fd >= 0 && !cfg->loop))
		goto out_close;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_close;
	c->role = cfg->role;
	c->loop = cfg->loop;
	c->cb = cfg->cb ? cfg->cb : &no_callbacks;
	c->data = cfg->data;
	c->lim = cfg->lim;
	c->name = cfg->name;
	c->fd = fd;
	limits_default(&c->lim);
	buf_init(&c->out, c->lim.conn_send_max + OUT_SLACK);
	buf_init(&c->initial, 0);
	if (cfg->initial_len &&
	    (!c->loop || buf_append(&c->initial, cfg->initial, cfg->initial_len)))
		goto out_free;
	pool_init(&c->stream_pool, sizeof(struct h2_stream), 8,
		  c->role == H2_SERVER ? c->lim.max_streams + 8 : 0);
	c->fields = calloc(c->lim.max_header_fields, sizeof(*c->fields));
	c->hv = calloc(c->lim.max_header_fields, sizeof(*c->hv));
	if (!c->fields || !c->hv || session_new(c))
		goto out_free;
	if (fd >= 0) {
		/* our writes are batched already: never wait for more */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
		ev_io_init(&c->rd, on_readable, fd, EV_READ);
		ev_io_init(&c->wr, on_writable, fd, EV_WRITE);
	}
	if (c->loop) {
		ev_prepare_init(&c->flushw, on_prepare);
		ev_init(&c->settings_timer, on_settings_timer);
		ev_init(&c->idle_timer, on_idle_timer);
		c->last_active = ev_now(c->loop);
		if (c->lim.settings_timeout > 0) {
			ev_timer_set(&c->settings_timer,
				     c->lim.settings_timeout, 0);
			ev_timer_start(c->loop, &c->settings_timer);
		}
		if (c->lim.idle_timeout > 0) {
			c->idle_timer.repeat = c->lim.idle_timeout;
			ev_timer_again(c->loop, &c->idle_timer);
		}
		/* the preface goes out in this iteration */
		kick(c);
	}
	return c;

out_free:
	if (c->sess)
		nghttp2_session_del(c->sess);
	free(c->fields);
	free(c->hv);
	buf_release(&c->out);
	buf_release(&c->initial);
	pool_release(&c->stream_pool);
	free(c);
out_close:
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void destroy(struct h2_conn *c)
{
	if (!c->closed) {
		/* silent close: the owner is gone */
		c->cb = &no_callbacks;
		conn_close(c, 0);
	}
	fields_release(c); /* the buffers are the session's: first */
	nghttp2_session_del(c->sess);
	free(c->fields);
	free(c->hv);
	buf_release(&c->out);
	buf_release(&c->initial);
	pool_release(&c->stream_pool);
	free(c);
}

void h2_conn_free(struct h2_conn *c)
{
	if (!c)
		return;
	/* no callback reaches an owner that let go */
	c->cb = &no_callbacks;
	if (c->depth) {
		c->free_pending = true;
		return;
	}
	destroy(c);
}

void *h2_conn_data(const struct h2_conn *c)
{
	return c->data;
}

void h2_conn_set_data(struct h2_conn *c, void *data)
{
	c->data = data;
}

enum h2_role h2_conn_role(const struct h2_conn *c)
{
	return c->role;
}

bool h2_conn_can_submit(const struct h2_conn *c)
{
	return !c->closed && !c->closing && !c->terminating && !c->shutdown &&
	       !c->goaway_recv;
}

uint32_t h2_conn_peer_max_streams(const struct h2_conn *c)
{
	uint32_t v = nghttp2_session_get_remote_settings(
	    c->sess, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

	return c->peer_settings ? v : MIN(v, (uint32_t)H2_DEFAULT_MAX_STREAMS);
}

bool h2_conn_closed(const struct h2_conn *c)
{
	return c->closed;
}

const char *h2_conn_reason(const struct h2_conn *c)
{
	return c->reason;
}

void h2_conn_stats(const struct h2_conn *c, struct h2_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->streams = c->nstreams;
	st->out_len = buf_len(&c->out);
	st->out_peak = c->out_peak;
	st->queued = c->queued;
	st->bytes_in = c->bytes_in;
	st->bytes_out = c->bytes_out;
	st->reading = c->fd >= 0 && ev_is_active(&c->rd);
}

int h2_conn_shutdown(struct h2_conn *c)
{
	if (c->closed || c->closing)
		return -ENOTCONN;
	if (c->shutdown || c->terminating)
		return 0;
	c->shutdown = true;
	set_reason(c, "shutdown");
	enter(c);
	if (c->role == H2_SERVER) {
		/* announce, then name the last stream once a PING round
		 * trip shows the client saw the announcement: requests in
		 * flight meanwhile are still served, none is lost */
		nghttp2_submit_shutdown_notice(c->sess);
		nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE,
				    (const uint8_t *)"shutdown");
	} else {
		nghttp2_submit_goaway(
		    c->sess, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(c->sess),
		    H2_NO_ERROR, NULL, 0);
	}
	leave_api(c);
	return 0;
}

void h2_conn_abort(struct h2_conn *c, uint32_t error)
{
	if (c->closed || c->closing)
		return;
	enter(c);
	nghttp2_session_terminate_session(c->sess, error);
	c->goaway_on_close = true;
	fail(c, -ECONNABORTED, "aborted");
	leave_api(c);
}

ssize_t h2_conn_input(struct h2_conn *c, const void *p, size_t n)
{
	const uint8_t *in = p;
	size_t used = 0;

	if (c->fd >= 0)
		return -EINVAL;
	if (c->closed || c->closing)
		return -EPIPE;
	enter(c);
	while (used < n && !c->closing && !c->terminating) {
		size_t k = MIN(n - used, READ_CHUNK);

		(void)produce(c);
		if (buf_len(&c->out) >= c->lim.conn_send_max)
			break; /* the peer must take our output first */
		c->bytes_in += k;
		if (feed(c, in + used, k))
			break;
		used += k;
	}
	leave(c);
	return (ssize_t)used;
}

size_t h2_conn_output(struct h2_conn *c, const uint8_t **p)
{
	*p = NULL;
	if (c->fd >= 0)
		return 0;
	enter(c);
	if (leave(c))
		return 0;
	*p = buf_head(&c->out);
	return buf_len(&c->out);
}

void h2_conn_output_consume(struct h2_conn *c, size_t n)
{
	if (c->fd >= 0)
		return;
	n = MIN(n, buf_len(&c->out));
	buf_consume(&c->out, n);
	c->bytes_out += n;
	if (c->closed)
		return;
	enter(c);
	leave(c);
}

/* --- submitting ------------------------------------------------------- */

/*
 * to_nv - h[0..n) as nghttp2 fields, in stackv when they fit. Returns
 * the array (free it when != stackv) or NULL. With H2_NO_COPY in flags
 * nghttp2 references the bytes instead of copying (and lowercasing) them:
 * it reads them only while it makes the frame, which it does only for a
 * stream still open (a HEADERS frame for a closed or cancelled stream is
 * dropped unread), so bytes that live as long as our stream do.
 */
static nghttp2_nv *to_nv(const struct h2_header *h, size_t n, unsigned flags,
			 nghttp2_nv *stackv)
{
	nghttp2_nv *nv = n <= STACK_NV ? stackv : malloc(n * sizeof(*nv));
	uint8_t nvf = flags & H2_NO_COPY ? NGHTTP2_NV_FLAG_NO_COPY_NAME |
						   NGHTTP2_NV_FLAG_NO_COPY_VALUE
					 : NGHTTP2_NV_FLAG_NONE;

	if (!nv)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		nv[i].name = (uint8_t *)(uintptr_t)h[i].name;
		nv[i].namelen = h[i].name_len;
		nv[i].value = (uint8_t *)(uintptr_t)h[i].value;
		nv[i].valuelen = h[i].value_len;
		nv[i].flags = nvf;
	}
	return nv;
}

/* submit_trailers - s's trailers: lowercase, and alive as long as s
 * (the owner's, or tcopy), so nghttp2 need not copy them */
static int submit_trailers(struct h2_conn *c, struct h2_stream *s)
{
	nghttp2_nv stackv[STACK_NV];
	nghttp2_nv *nv = to_nv(s->trailers, s->ntrailers, H2_NO_COPY, stackv);
	int rv;

	if (!nv)
		return -ENOMEM;
	rv = nghttp2_submit_trailer(c->sess, s->id, nv, s->ntrailers);
	if (nv != stackv)
		free(nv);
	return rv ? -ENOMEM : 0;
}

int h2_conn_request(struct h2_conn *c, const struct h2_header *h, size_t n,
		    unsigned flags, void *data, struct h2_stream **out)
{
	nghttp2_nv stackv[STACK_NV], *nv;
	nghttp2_data_provider prd;
	struct h2_stream *s;
	int32_t id;

	*out = NULL;
	if (c->role != H2_CLIENT || !n)
		return -EINVAL;
	if (!h2_conn_can_submit(c))
		return -ENOTCONN;
	nv = to_nv(h, n, flags, stackv);
	if (!nv)
		return -ENOMEM;
	s = stream_new(c, 0, data);
	if (!s) {
		if (nv != stackv)
			free(nv);
		return -ENOMEM;
	}
	s->announced = true;
	s->ended = flags & H2_END;
	s->provider = !s->ended;
	prd.source.ptr = s;
	prd.read_callback = on_read_body;
	enter(c);
	id = nghttp2_submit_request(c->sess, NULL, nv, n,
				    s->provider ? &prd : NULL, s);
	if (nv != stackv)
		free(nv);
	if (id < 0) {
		s->announced = false; /* never existed for the owner */
		stream_destroy(c, s, H2_REFUSED_STREAM);
		leave_api(c);
		return id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -ENOTCONN;
	}
	s->id = id;
	*out = s;
	leave_api(c);
	return 0;
}

struct h2_conn *h2_stream_conn(const struct h2_stream *s)
{
	return s->c;
}

size_t h2_head_hold(struct h2_stream *s, void **bufs, size_t room)
{
	struct h2_conn *c = s->c;
	size_t n = c->nfields;

	if (!c->delivering || c->delivering != s || room < 2 * n)
		return 0;
	/* the references move: fields_release() finds none left */
	for (size_t i = 0; i < n; i++) {
		bufs[2 * i] = c->fields[i].name;
		bufs[2 * i + 1] = c->fields[i].value;
	}
	c->nfields = 0;
	return 2 * n;
}

void h2_head_release(void **bufs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nghttp2_rcbuf_decref(bufs[i]);
}

uint32_t h2_stream_id(const struct h2_stream *s)
{
	return (uint32_t)s->id;
}

void *h2_stream_data(const struct h2_stream *s)
{
	return s->data;
}

void h2_stream_set_data(struct h2_stream *s, void *data)
{
	s->data = data;
}

int h2_stream_respond(struct h2_stream *s, const struct h2_header *h, size_t n,
		      unsigned flags)
{
	struct h2_conn *c = s->c;
	nghttp2_nv stackv[STACK_NV], *nv;
	nghttp2_data_provider prd;
	int rv;

	if (c->role != H2_SERVER || !n)
		return -EINVAL;
	if (s->responded)
		return -EALREADY;
	if (s->reset || c->closed)
		return -EPIPE;
	nv = to_nv(h, n, flags, stackv);
	if (!nv)
		return -ENOMEM;
	if (flags & H2_END) {
		s->ended = true;
		c->queued -= buf_len(&s->sendq);
		buf_clear(&s->sendq);
	}
	s->provider = !s->ended || buf_len(&s->sendq) || s->ntrailers;
	prd.source.ptr = s;
	prd.read_callback = on_read_body;
	enter(c);
	rv = nghttp2_submit_response(c->sess, s->id, nv, n,
				     s->provider ? &prd : NULL);
	if (nv != stackv)
		free(nv);
	if (!rv)
		s->responded = true;
	leave_api(c);
	return rv == 0 ? 0 : rv == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPIPE;
}

static void resume(struct h2_conn *c, struct h2_stream *s)
{
	if (s->provider && s->deferred) {
		s->deferred = false;
		nghttp2_session_resume_data(c->sess, s->id);
	}
}

int h2_stream_write(struct h2_stream *s, const void *p, size_t n)
{
	struct h2_conn *c = s->c;
	int rv;

	if (s->ended || s->reset || c->closed)
		return -EPIPE;
	if (!n)
		return 0;
	if (n > buf_room(&s->sendq))
		return -ENOBUFS;
	rv = buf_append(&s->sendq, p, n);
	if (rv)
		return rv;
	c->queued += n;
	enter(c);
	resume(c, s);
	leave_api(c);
	return 0;
}

size_t h2_stream_send_room(const struct h2_stream *s)
{
	if (s->ended || s->reset || s->c->closed)
		return 0;
	return buf_room(&s->sendq);
}

size_t h2_stream_queued(const struct h2_stream *s)
{
	return buf_len(&s->sendq);
}

int h2_stream_set_send_max(struct h2_stream *s, size_t max)
{
	if (max < buf_len(&s->sendq))
		return -EINVAL;
	s->sendq.max = max;
	return 0;
}

/* copy_trailers - t[0..n) into one allocation (names lowercased), kept
 * by s until it closes */
static int copy_trailers(struct h2_stream *s, const struct h2_header *t,
			 size_t n)
{
	size_t bytes = n * sizeof(*t);
	struct h2_header *h;
	char *p;

	for (size_t i = 0; i < n; i++)
		bytes += t[i].name_len + t[i].value_len + 2;
	s->tcopy = pool_malloc(bytes);
	if (!s->tcopy)
		return -ENOMEM;
	h = s->tcopy;
	p = (char *)(h + n);
	for (size_t i = 0; i < n; i++) {
		h[i].name = p;
		h[i].name_len = t[i].name_len;
		for (size_t k = 0; k < t[i].name_len; k++)
			*p++ = (char)tolower((unsigned char)t[i].name[k]);
		*p++ = '\0';
		h[i].value = p;
		h[i].value_len = t[i].value_len;
		memcpy(p, t[i].value, t[i].value_len);
		p += t[i].value_len;
		*p++ = '\0';
	}
	s->trailers = h;
	return 0;
}

static int stream_end(struct h2_stream *s, const struct h2_header *t,
		      size_t n, bool copy)
{
	struct h2_conn *c = s->c;

	if (s->ended)
		return -EALREADY;
	if (s->reset || c->closed)
		return -EPIPE;
	if (n && copy && copy_trailers(s, t, n))
		return -ENOMEM;
	if (n && !copy)
		s->trailers = t;
	s->ntrailers = n;
	s->ended = true;
	enter(c);
	resume(c, s);
	leave_api(c);
	return 0;
}

int h2_stream_end(struct h2_stream *s, const struct h2_header *t, size_t n)
{
	return stream_end(s, t, n, true);
}

int h2_stream_end_no_copy(struct h2_stream *s, const struct h2_header *t,
			  size_t n)
{
	return stream_end(s, t, n, false);
}

int h2_stream_reset(struct h2_stream *s, uint32_t error)
{
	struct h2_conn *c = s->c;

	if (s->reset || c->closed)
		return -EPIPE;
	s->reset = true;
	s->reset_code = error;
	c->queued -= buf_len(&s->sendq);
	buf_clear(&s->sendq);
	enter(c);
	nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, s->id, error);
	/* what the owner did not pass on will never be: acknowledge it */
	if (c->lim.manual_flow && s->unconsumed) {
		nghttp2_session_consume(c->sess, s->id, s->unconsumed);
		s->unconsumed = 0;
	}
	leave_api(c);
	return 0;
}

int h2_stream_consume(struct h2_stream *s, size_t n)
{
	struct h2_conn *c = s->c;

	if (!c->lim.manual_flow || n > s->unconsumed)
		return -EINVAL;
	if (!n)
		return 0;
	s->unconsumed -= n;
	enter(c);
	nghttp2_session_consume(c->sess, s->id, n);
	leave_api(c);
	return 0;
}

size_t h2_stream_unconsumed(const struct h2_stream *s)
{
	return s->unconsumed;
}
