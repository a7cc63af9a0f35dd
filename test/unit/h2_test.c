/* SPDX-License-Identifier: Apache-2.0 */
/*
 * h2_test.c - unit tests for h2.c: a client and a server h2_conn in one
 * process, over a socketpair (or the memory transport) on one ev_loop;
 * raw socket peers for garbage, silence and readers that never read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "conduit/h2.h"
#include "conduit/log.h"
#include "conduit/time.h"
#include "suites.h"

/* what the server does with a request */
enum mode {
	ECHO, /* respond at once, echo each chunk, trailers at the end */
	HOLD, /* keep the stream for the test to answer */
	SINK, /* never answer; never consume (manual flow) */
	BIG,  /* respond with big_body bytes, as fast as the queue takes */
};

struct fx;

/* one side of one stream, as the test saw it */
struct sx {
	struct fx *fx;
	struct h2_stream *s; /* NULL once closed */
	bool server;
	char path[64];
	int status;
	struct buf body;
	char trailer[64]; /* x-trailer's value */
	int heads, infos, trailers, ends, closes;
	uint32_t close_code;
	size_t big_left; /* BIG: bytes still to write */
	void *bufs[16];		  /* HOLD with fx->hold: h2_head_hold()'s */
	size_t nbufs;
	struct h2_header head[8]; /* ... and the head, pointing into them */
	size_t nhead;
	int chunks;	 /* streaming test: chunks sent */
};

struct peer {
	struct h2_conn *c;
	int closes, close_err;
	char reason[128];
	int goaways, readies;
	uint32_t goaway_error;
};

#define MAX_SX 1024

struct fx {
	struct ev_loop *loop;
	struct peer cli, srv;
	enum mode mode;
	size_t big_body;
	struct sx *sx[MAX_SX];
	int nsx;
	int requests; /* request heads the server saw */
	struct sx *held[MAX_SX];
	int nheld;
	size_t sink_bytes; /* SINK: bytes the server received */
	bool consume_all;  /* SINK: consume as it arrives */
	bool ping_pong;	   /* streaming: the client answers each echo */
	bool hold;	   /* HOLD: keep each request head's buffers */
	int pp_total;	   /* ... this many chunks */
	FILE *logs;
};

static struct fx *current;

static struct sx *sx_new(struct fx *fx, bool server)
{
	struct sx *x = calloc(1, sizeof(*x));

	ck_assert_ptr_nonnull(x);
	ck_assert_int_lt(fx->nsx, MAX_SX);
	x->fx = fx;
	x->server = server;
	buf_init(&x->body, 64u << 20);
	fx->sx[fx->nsx++] = x;
	return x;
}

static void copy_value(char *dst, size_t size, const struct h2_header *h)
{
	size_t n = MIN(size - 1, h->value_len);

	memcpy(dst, h->value, n);
	dst[n] = 0;
}

static void big_pump(struct sx *x)
{
	static const char fill[4096];

	while (x->big_left && x->s) {
		size_t n = MIN(x->big_left, sizeof(fill));

		n = MIN(n, h2_stream_send_room(x->s));
		if (!n)
			return;
		ck_assert_int_eq(h2_stream_write(x->s, fill, n), 0);
		x->big_left -= n;
	}
	if (x->s && !x->big_left)
		h2_stream_end(x->s, NULL, 0);
}

static void on_headers(struct h2_stream *s, enum h2_head kind,
		       const struct h2_header *h, size_t n, bool end)
{
	struct fx *fx = current;
	struct sx *x = h2_stream_data(s);
	const struct h2_header *f;

	(void)end;
	if (kind == H2_HEAD_REQUEST) {
		static const struct h2_header resp[] = {
		    H2_HEADER(":status", "200"),
		    H2_HEADER("content-type", "text/plain"),
		};

		x = sx_new(fx, true);
		x->s = s;
		h2_stream_set_data(s, x);
		fx->requests++;
		f = h2_header_find(h, n, ":path");
		if (f)
			copy_value(x->path, sizeof(x->path), f);
		x->heads++;
		switch (fx->mode) {
		case ECHO:
			ck_assert_int_eq(h2_stream_respond(s, resp, 2, 0), 0);
			break;
		case HOLD:
		case SINK:
			ck_assert_int_lt(fx->nheld, MAX_SX);
			fx->held[fx->nheld++] = x;
			if (fx->hold && n <= ARRAY_SIZE(x->head)) {
				/* too little room: nothing held */
				ck_assert_uint_eq(h2_head_hold(s, x->bufs, 2 * n - 1), 0);
				x->nbufs = h2_head_hold(s, x->bufs, ARRAY_SIZE(x->bufs));
				ck_assert_uint_eq(x->nbufs, 2 * n);
				memcpy(x->head, h, n * sizeof(*h));
				x->nhead = n;
			}
			break;
		case BIG:
			ck_assert_int_eq(h2_stream_respond(s, resp, 2, 0), 0);
			x->big_left = fx->big_body;
			big_pump(x);
			break;
		}
		return;
	}
	ck_assert_ptr_nonnull(x);
	if (kind == H2_HEAD_INFO) {
		x->infos++;
		return;
	}
	if (kind == H2_HEAD_RESPONSE) {
		x->heads++;
		f = h2_header_find(h, n, ":status");
		ck_assert_ptr_nonnull(f);
		x->status = atoi(f->value);
		return;
	}
	x->trailers++;
	f = h2_header_find(h, n, "x-trailer");
	if (f)
		copy_value(x->trailer, sizeof(x->trailer), f);
}

static void on_data(struct h2_stream *s, const uint8_t *p, size_t n)
{
	struct fx *fx = current;
	struct sx *x = h2_stream_data(s);

	if (x->server && fx->mode == SINK) {
		fx->sink_bytes += n;
		if (fx->consume_all)
			ck_assert_int_eq(h2_stream_consume(s, n), 0);
		return;
	}
	ck_assert_int_eq(buf_append(&x->body, p, n), 0);
	if (x->server && fx->mode == ECHO) {
		ck_assert_int_eq(h2_stream_write(s, p, n), 0);
		return;
	}
	if (!x->server && fx->ping_pong) {
		/* each echo brings the next chunk: a conversation */
		if (x->chunks < fx->pp_total) {
			char chunk[32];
			int len =
			    snprintf(chunk, sizeof(chunk), "[%d]", x->chunks++);

			ck_assert_int_eq(h2_stream_write(s, chunk, (size_t)len),
					 0);
		} else if (x->chunks == fx->pp_total) {
			x->chunks++;
			ck_assert_int_eq(h2_stream_end(s, NULL, 0), 0);
		}
	}
}

static void on_end(struct h2_stream *s)
{
	struct fx *fx = current;
	struct sx *x = h2_stream_data(s);

	x->ends++;
	if (x->server && fx->mode == ECHO) {
		static const struct h2_header tr[] = {
		    H2_HEADER("x-trailer", "done"),
		};

		ck_assert_int_eq(h2_stream_end(s, tr, 1), 0);
	}
}

static void on_sent(struct h2_stream *s, size_t n)
{
	struct sx *x = h2_stream_data(s);

	(void)n;
	if (x->server && x->big_left)
		big_pump(x);
}

static void on_stream_close(struct h2_stream *s, uint32_t error)
{
	struct sx *x = h2_stream_data(s);

	ck_assert_ptr_nonnull(x);
	x->closes++;
	x->close_code = error;
	x->s = NULL;
}

static struct peer *peer_of(struct h2_conn *c)
{
	return h2_conn_data(c);
}

static void on_ready(struct h2_conn *c)
{
	peer_of(c)->readies++;
}

static void on_goaway(struct h2_conn *c, uint32_t last_id, uint32_t error)
{
	struct peer *p = peer_of(c);

	(void)last_id;
	p->goaways++;
	p->goaway_error = error;
}

static void on_close(struct h2_conn *c, int err)
{
	struct peer *p = peer_of(c);

	p->closes++;
	p->close_err = err;
	str_copy(p->reason, h2_conn_reason(c), sizeof(p->reason));
}

static const struct h2_callbacks cbs = {
    .on_headers = on_headers,
    .on_data = on_data,
    .on_end = on_end,
    .on_sent = on_sent,
    .on_stream_close = on_stream_close,
    .on_ready = on_ready,
    .on_goaway = on_goaway,
    .on_close = on_close,
};

static void nonblocking_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
}

static struct h2_conn *conn_new(struct fx *fx, struct peer *p,
				enum h2_role role, const struct h2_limits *lim,
				int fd)
{
	struct h2_config cfg = {
	    .role = role,
	    .loop = fx->loop,
	    .cb = &cbs,
	    .data = p,
	    .name = role == H2_SERVER ? "test-server" : "test-client",
	};

	if (lim)
		cfg.lim = *lim;
	p->c = h2_conn_new(&cfg, fd);
	ck_assert_ptr_nonnull(p->c);
	return p->c;
}

static void fx_init(struct fx *fx, enum mode mode)
{
	memset(fx, 0, sizeof(*fx));
	current = fx;
	fx->mode = mode;
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(fx->loop);
	fx->logs = fopen("/dev/null", "w");
	log_set_output(fx->logs);
}

/* fx_pair - a client and a server connection over a socketpair */
static void fx_pair(struct fx *fx, const struct h2_limits *cli,
		    const struct h2_limits *srv)
{
	int sv[2];

	nonblocking_pair(sv);
	conn_new(fx, &fx->cli, H2_CLIENT, cli, sv[0]);
	conn_new(fx, &fx->srv, H2_SERVER, srv, sv[1]);
}

static void fx_release(struct fx *fx)
{
	h2_conn_free(fx->cli.c);
	h2_conn_free(fx->srv.c);
	for (int i = 0; i < fx->nsx; i++) {
		buf_release(&fx->sx[i]->body);
		free(fx->sx[i]);
	}
	ev_loop_destroy(fx->loop);
	log_set_output(NULL);
	fclose(fx->logs);
	current = NULL;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* run - turn the loop until pred(fx) holds; false after secs */
static bool run(struct fx *fx, bool (*pred)(struct fx *), double secs)
{
	ev_timer tick;
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);
	bool ok = false;

	ev_timer_init(&tick, on_tick, 0.005, 0.005);
	ev_timer_start(fx->loop, &tick);
	while (time_mono_ns() < end) {
		if (pred && pred(fx)) {
			ok = true;
			break;
		}
		ev_run(fx->loop, EVRUN_ONCE);
	}
	ev_timer_stop(fx->loop, &tick);
	return ok;
}

static struct sx *request(struct fx *fx, const char *method, const char *path,
			  const char *body, bool end)
{
	struct h2_header h[] = {
	    h2_header_str(":method", method),
	    H2_HEADER(":scheme", "http"),
	    H2_HEADER(":authority", "test"),
	    h2_header_str(":path", path),
	};
	struct sx *x = sx_new(fx, false);
	struct h2_stream *s;

	ck_assert_int_eq(h2_conn_request(fx->cli.c, h, ARRAY_SIZE(h),
					 !body && end ? H2_END : 0, x, &s),
			 0);
	x->s = s;
	if (body) {
		ck_assert_int_eq(h2_stream_write(s, body, strlen(body)), 0);
		if (end)
			ck_assert_int_eq(h2_stream_end(s, NULL, 0), 0);
	}
	return x;
}

static struct sx *last_client;

static bool client_closed(struct fx *fx)
{
	(void)fx;
	return last_client->closes > 0;
}

static bool both_closed(struct fx *fx)
{
	return fx->cli.closes && fx->srv.closes;
}

static bool srv_closed(struct fx *fx)
{
	return fx->srv.closes > 0;
}

static const char *body_str(struct sx *x)
{
	return buf_cstr(&x->body);
}

START_TEST(test_request_response_trailers)
{
	struct fx fx;
	struct sx *a, *b;

	fx_init(&fx, ECHO);
	fx_pair(&fx, NULL, NULL);
	a = request(&fx, "POST", "/echo", "hello, h2", true);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(a->status, 200);
	ck_assert_str_eq(body_str(a), "hello, h2");
	ck_assert_int_eq(a->trailers, 1);
	ck_assert_str_eq(a->trailer, "done");
	ck_assert_int_eq(a->ends, 1);
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	ck_assert_int_eq(fx.cli.readies, 1);
	ck_assert_int_eq(fx.srv.readies, 1);

	/* a bodiless request on the same connection */
	b = request(&fx, "GET", "/empty", NULL, true);
	last_client = b;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(b->status, 200);
	ck_assert_uint_eq(buf_len(&b->body), 0);
	ck_assert_str_eq(b->trailer, "done");
	ck_assert_uint_eq(b->close_code, H2_NO_ERROR);
	ck_assert_int_eq(fx.requests, 2);
	ck_assert_str_eq(fx.sx[1]->path, "/echo");
	ck_assert_int_eq(fx.cli.closes + fx.srv.closes, 0);
	fx_release(&fx);
}
END_TEST

START_TEST(test_streaming_both_ways)
{
	struct fx fx;
	struct sx *a;
	struct buf want;

	fx_init(&fx, ECHO);
	fx_pair(&fx, NULL, NULL);
	fx.ping_pong = true;
	fx.pp_total = 50;
	/* the first chunk starts it; each echo sends the next */
	a = request(&fx, "POST", "/chat", "[start]", false);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	buf_init(&want, 0);
	buf_append_str(&want, "[start]");
	for (int i = 0; i < 50; i++)
		buf_printf(&want, "[%d]", i);
	ck_assert_str_eq(body_str(a), buf_cstr(&want));
	ck_assert_str_eq(a->trailer, "done");
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	buf_release(&want);
	fx_release(&fx);
}
END_TEST

static struct sx *writer;
static size_t writer_total, writer_goal;

/* writer_pump - write 4 KiB chunks while the queue takes them */
static void writer_pump(void)
{
	static const char chunk[4096];

	while (writer->s && writer_total < writer_goal) {
		int rv = h2_stream_write(writer->s, chunk, sizeof(chunk));

		if (rv == -ENOBUFS)
			return;
		ck_assert_int_eq(rv, 0);
		writer_total += sizeof(chunk);
	}
}

static void on_tick_pump(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	writer_pump();
}

static bool sink_has_all(struct fx *fx)
{
	return fx->sink_bytes == writer_goal;
}

START_TEST(test_flow_control_backpressure)
{
	struct h2_limits srv = {
	    .manual_flow = true, .stream_window = 65535, .conn_window = 65535};
	struct h2_limits cli = {.stream_send_max = 16384};
	struct h2_stats st;
	struct fx fx;
	ev_timer pump;

	fx_init(&fx, SINK);
	fx_pair(&fx, &cli, &srv);
	writer = request(&fx, "POST", "/upload", NULL, false);
	writer_total = 0;
	writer_goal = 4u << 20;
	ev_timer_init(&pump, on_tick_pump, 0.001, 0.002);
	ev_timer_start(fx.loop, &pump);

	/* the server passes nothing on: one window crosses, then the
	 * writer's queue fills and stays full */
	run(&fx, NULL, 0.4);
	ck_assert_uint_eq(fx.sink_bytes, 65535);
	ck_assert_uint_eq(h2_stream_unconsumed(fx.held[0]->s), 65535);
	ck_assert_uint_lt(h2_stream_send_room(writer->s), 4096);
	writer_pump();
	ck_assert_uint_le(h2_stream_queued(writer->s), 16384);
	ck_assert_uint_le(writer_total, 65535 + 16384 + 4096);
	h2_conn_stats(fx.cli.c, &st);
	ck_assert_uint_le(st.queued, 16384);
	ck_assert_uint_lt(st.out_peak, 64u << 10);

	/* the owner passes it on: the rest flows, 4 MiB through a 64 KiB
	 * window */
	ck_assert_int_eq(h2_stream_consume(fx.held[0]->s, 65535), 0);
	ck_assert_int_eq(h2_stream_consume(fx.held[0]->s, 1), -EINVAL);
	fx.consume_all = true;
	ck_assert(run(&fx, sink_has_all, 20));
	ck_assert_uint_eq(writer_total, writer_goal);
	h2_conn_stats(fx.cli.c, &st);
	ck_assert_uint_le(st.out_peak, 64u << 10);
	ev_timer_stop(fx.loop, &pump);
	fx_release(&fx);
}
END_TEST

/* upload - a request carrying n bytes of 'a', then its end */
static struct sx *upload(struct fx *fx, const char *path, size_t n)
{
	struct sx *a = request(fx, "POST", path, NULL, false);
	char *big = malloc(n);

	memset(big, 'a', n);
	ck_assert_int_eq(h2_stream_set_send_max(a->s, n), 0);
	ck_assert_int_eq(h2_stream_write(a->s, big, n), 0);
	ck_assert_int_eq(h2_stream_end(a->s, NULL, 0), 0);
	free(big);
	return a;
}

static size_t sink_goal;

static bool sink_reached(struct fx *fx)
{
	return fx->sink_bytes >= sink_goal;
}

START_TEST(test_unconsumed_window_released_on_close)
{
	static const struct h2_header resp[] = {H2_HEADER(":status", "204")};
	struct h2_limits srv = {
	    .manual_flow = true, .stream_window = 65535, .conn_window = 65535};
	struct fx fx;
	struct sx *a;

	/* streams that end with data never consumed must give their share
	 * of the connection window back, or the next stream starves: one
	 * closes normally, one is reset by the server, a third must still
	 * get all its bytes through a 64 KiB connection window */
	fx_init(&fx, SINK);
	fx_pair(&fx, NULL, &srv);
	a = upload(&fx, "/one", 30000);
	sink_goal = 30000;
	ck_assert(run(&fx, sink_reached, 5));
	ck_assert_int_eq(h2_stream_respond(fx.held[0]->s, resp, 1, H2_END), 0);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	ck_assert_int_eq(a->status, 204);

	a = upload(&fx, "/two", 30000);
	sink_goal = 60000;
	ck_assert(run(&fx, sink_reached, 5));
	ck_assert_int_eq(h2_stream_reset(fx.held[1]->s, H2_CANCEL), 0);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_uint_eq(a->close_code, H2_CANCEL);

	upload(&fx, "/three", 30000);
	sink_goal = 90000;
	ck_assert(run(&fx, sink_reached, 5));
	ck_assert_uint_eq(fx.sink_bytes, 90000);
	fx_release(&fx);
}
END_TEST

static struct sx *request_fields(struct fx *fx, size_t nfields,
				 size_t value_len)
{
	struct h2_header *h = calloc(nfields + 4, sizeof(*h));
	char *value = malloc(value_len + 1);
	char(*names)[32] = calloc(nfields, 32);
	struct sx *x = sx_new(fx, false);
	struct h2_stream *s;

	memset(value, 'v', value_len);
	value[value_len] = 0;
	h[0] = h2_header_str(":method", "GET");
	h[1] = h2_header_str(":scheme", "http");
	h[2] = h2_header_str(":authority", "test");
	h[3] = h2_header_str(":path", "/big");
	for (size_t i = 0; i < nfields; i++) {
		snprintf(names[i], 32, "x-f%zu", i);
		h[4 + i] = h2_header_str(names[i], value);
	}
	ck_assert_int_eq(
	    h2_conn_request(fx->cli.c, h, nfields + 4, H2_END, x, &s), 0);
	x->s = s;
	free(h);
	free(value);
	free(names);
	return x;
}

START_TEST(test_header_list_too_large)
{
	struct h2_limits srv = {.max_header_list = 8192,
				.max_header_fields = 50};
	struct fx fx;
	struct sx *a;

	fx_init(&fx, ECHO);
	fx_pair(&fx, NULL, &srv);

	/* too many fields: 4 pseudo-headers and 60 small ones */
	a = request_fields(&fx, 60, 4);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_uint_eq(a->close_code, H2_PROTOCOL_ERROR);
	ck_assert_int_eq(a->heads, 0);

	/* too many bytes: 3 fields of 3000 */
	a = request_fields(&fx, 3, 3000);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_uint_eq(a->close_code, H2_PROTOCOL_ERROR);
	ck_assert_int_eq(fx.requests, 0); /* the owner never saw either */

	/* the connection lives on */
	a = request(&fx, "POST", "/after", "still here", true);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(a->status, 200);
	ck_assert_str_eq(body_str(a), "still here");
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	ck_assert_int_eq(fx.requests, 1);

	/* just under both limits passes: 46 fields, 2 of 3000 bytes */
	a = request_fields(&fx, 46, 4);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(a->status, 200);
	a = request_fields(&fx, 2, 3000);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(a->status, 200);
	ck_assert_int_eq(fx.cli.closes + fx.srv.closes, 0);
	fx_release(&fx);
}
END_TEST

/* drain - read from fd until EOF; true when EOF came within secs */
static bool drain_to_eof(struct fx *fx, int fd, double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);
	char b[4096];

	while (time_mono_ns() < end) {
		ssize_t n = read(fd, b, sizeof(b));

		if (n == 0)
			return true;
		if (n < 0 && errno != EAGAIN)
			return true; /* reset: closed too */
		run(fx, NULL, 0.01);
	}
	return false;
}

START_TEST(test_garbage_instead_of_preface)
{
	static const char *garbage[] = {
	    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	    "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
	};

	for (size_t i = 0; i < ARRAY_SIZE(garbage); i++) {
		struct fx fx;
		int sv[2];

		fx_init(&fx, ECHO);
		nonblocking_pair(sv);
		conn_new(&fx, &fx.srv, H2_SERVER, NULL, sv[1]);
		ck_assert_int_eq(write(sv[0], garbage[i], strlen(garbage[i])),
				 (ssize_t)strlen(garbage[i]));
		ck_assert(run(&fx, srv_closed, 5));
		ck_assert_int_eq(fx.srv.close_err, -EPROTO);
		ck_assert_msg(strstr(fx.srv.reason, "preface"), "reason: %s",
			      fx.srv.reason);
		ck_assert(drain_to_eof(&fx, sv[0], 2));
		close(sv[0]);
		fx_release(&fx);
	}
}
END_TEST

static bool held_one(struct fx *fx)
{
	return fx->nheld >= 1;
}

static bool cli_goaway(struct fx *fx)
{
	return fx->cli.goaways > 0;
}

START_TEST(test_goaway_drains)
{
	static const struct h2_header resp[] = {H2_HEADER(":status", "200")};
	struct fx fx;
	struct sx *a;
	struct h2_stream *s;

	fx_init(&fx, HOLD);
	fx_pair(&fx, NULL, NULL);
	a = request(&fx, "GET", "/slow", NULL, true);
	ck_assert(run(&fx, held_one, 5));
	ck_assert_int_eq(h2_conn_shutdown(fx.srv.c), 0);
	ck_assert(run(&fx, cli_goaway, 5));
	/* the final GOAWAY names the stream in flight: it is served */
	run(&fx, NULL, 0.1);
	ck_assert(!h2_conn_can_submit(fx.cli.c));
	ck_assert_int_eq(h2_conn_request(fx.cli.c, resp, 1, H2_END, NULL, &s),
			 -ENOTCONN);
	ck_assert_int_eq(fx.cli.closes + fx.srv.closes, 0);
	ck_assert_int_eq(a->closes, 0);

	ck_assert_int_eq(h2_stream_respond(fx.held[0]->s, resp, 1, 0), 0);
	ck_assert_int_eq(h2_stream_write(fx.held[0]->s, "late", 4), 0);
	ck_assert_int_eq(h2_stream_end(fx.held[0]->s, NULL, 0), 0);
	ck_assert(run(&fx, both_closed, 5));
	ck_assert_int_eq(a->status, 200);
	ck_assert_str_eq(body_str(a), "late");
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	ck_assert_int_eq(fx.srv.close_err, 0);
	ck_assert_int_eq(fx.cli.close_err, 0);
	ck_assert_uint_eq(fx.cli.goaway_error, H2_NO_ERROR);
	fx_release(&fx);
}
END_TEST

static bool held_two(struct fx *fx)
{
	return fx->nheld >= 2;
}

/*
 * a head and trailers sent with H2_NO_COPY / h2_stream_end_no_copy come
 * from the caller's memory: it must stay until the stream closes (under
 * ASan a read after that is caught); copied trailers are lowercased
 */
START_TEST(test_no_copy)
{
	struct fx fx;
	struct sx *a;
	struct h2_stream *s;
	static const char req0[] = ":method\0GET\0:scheme\0http\0"
				   ":authority\0test\0:path\0/no-copy";
	static const char resp0[] = ":status\0" "203\0" "x-trailer\0kept";
	char *req = malloc(sizeof(req0)), *resp = malloc(sizeof(resp0));
	struct h2_header *h = calloc(5, sizeof(*h)), *t = calloc(1, sizeof(*t));
	static const struct h2_header upper[] = {
	    H2_HEADER("X-Trailer", "copied"),
	};
	char *p = req;

	memcpy(req, req0, sizeof(req0));
	memcpy(resp, resp0, sizeof(resp0));
	for (int i = 0; i < 4; i++) {
		h[i].name = p;
		h[i].name_len = strlen(p);
		p += h[i].name_len + 1;
		h[i].value = p;
		h[i].value_len = strlen(p);
		p += h[i].value_len + 1;
	}
	fx_init(&fx, HOLD);
	fx_pair(&fx, NULL, NULL);
	a = sx_new(&fx, false);
	ck_assert_int_eq(h2_conn_request(fx.cli.c, h, 4, H2_NO_COPY | H2_END, a,
					 &s),
			 0);
	a->s = s;
	last_client = a;
	ck_assert(run(&fx, held_one, 5));
	ck_assert_str_eq(fx.held[0]->path, "/no-copy");
	h[0].name = resp;
	h[0].name_len = 7;
	h[0].value = resp + 8;
	h[0].value_len = 3;
	t->name = resp + 12;
	t->name_len = 9;
	t->value = resp + 22;
	t->value_len = 4;
	ck_assert_int_eq(h2_stream_respond(fx.held[0]->s, h, 1, H2_NO_COPY), 0);
	ck_assert_int_eq(h2_stream_write(fx.held[0]->s, "body", 4), 0);
	ck_assert_int_eq(h2_stream_end_no_copy(fx.held[0]->s, t, 1), 0);
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(a->status, 203);
	ck_assert_str_eq(body_str(a), "body");
	ck_assert_str_eq(a->trailer, "kept");
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	/* both streams are closed: the memory may go */
	free(req);
	free(resp);
	free(h);
	free(t);

	/* h2_stream_end copies and lowercases */
	a = request(&fx, "GET", "/copy", NULL, true);
	last_client = a;
	ck_assert(run(&fx, held_two, 5));
	{
		static const struct h2_header r[] = {
		    H2_HEADER(":status", "200"),
		};

		ck_assert_int_eq(h2_stream_respond(fx.held[1]->s, r, 1, 0), 0);
		ck_assert_int_eq(h2_stream_end(fx.held[1]->s, upper, 1), 0);
	}
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_str_eq(a->trailer, "copied");
	ck_assert_uint_eq(a->close_code, H2_NO_ERROR);
	fx_release(&fx);
}
END_TEST

static bool held_three(struct fx *fx)
{
	return fx->nheld >= 3;
}

/* the proxy forwards a head without copying it: h2_head_hold() keeps
 * the decoded fields' buffers past the callback, while the connection
 * decodes more heads (ASan sees any use after their release) */
START_TEST(test_head_hold)
{
	struct fx fx;
	struct sx *a;
	void *bufs[8];

	fx_init(&fx, HOLD);
	fx.hold = true;
	fx_pair(&fx, NULL, NULL);
	request(&fx, "GET", "/held/first", NULL, true);
	request(&fx, "POST", "/held/second", NULL, true);
	a = request(&fx, "GET", "/held/third", NULL, true);
	ck_assert(run(&fx, held_three, 5));
	for (int i = 0; i < 3; i++) {
		static const char *const want[] = {"/held/first", "/held/second",
						   "/held/third"};
		struct sx *x = fx.held[i];
		const struct h2_header *f = h2_header_find(x->head, x->nhead, ":path");

		ck_assert_uint_eq(x->nbufs, 2 * x->nhead);
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(f->value_len, strlen(want[i]));
		ck_assert_str_eq(f->value, want[i]); /* NUL-terminated */
		f = h2_header_find(x->head, x->nhead, ":authority");
		ck_assert_ptr_nonnull(f);
		ck_assert_str_eq(f->value, "test");
	}
	/* outside a head's callback there is nothing to hold */
	ck_assert_uint_eq(h2_head_hold(fx.held[0]->s, bufs, ARRAY_SIZE(bufs)), 0);
	/* answered after the streams' heads were decoded: still there */
	{
		static const struct h2_header r[] = {
		    H2_HEADER(":status", "200"),
		};

		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(h2_stream_respond(fx.held[i]->s, r, 1, H2_END), 0);
	}
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	ck_assert_int_eq(a->status, 200);
	for (int i = 0; i < 3; i++) {
		const struct h2_header *f =
		    h2_header_find(fx.held[i]->head, fx.held[i]->nhead, ":method");

		ck_assert_ptr_nonnull(f);
		ck_assert_str_eq(f->value, i == 1 ? "POST" : "GET");
		h2_head_release(fx.held[i]->bufs, fx.held[i]->nbufs);
	}
	fx_release(&fx);
}
END_TEST

START_TEST(test_request_after_goaway_refused)
{
	struct fx fx;
	struct sx *a;
	struct h2_stream *s;
	struct h2_header h[] = {
	    H2_HEADER(":method", "GET"),
	    H2_HEADER(":scheme", "http"),
	    H2_HEADER(":authority", "t"),
	    H2_HEADER(":path", "/"),
	};

	fx_init(&fx, HOLD);
	fx_pair(&fx, NULL, NULL);
	a = request(&fx, "GET", "/held", NULL, true);
	ck_assert(run(&fx, held_one, 5));
	ck_assert_int_eq(h2_conn_shutdown(fx.srv.c), 0);
	ck_assert(run(&fx, cli_goaway, 5));
	ck_assert_int_eq(h2_conn_request(fx.cli.c, h, 4, H2_END, NULL, &s),
			 -ENOTCONN);
	ck_assert_ptr_null(s);
	/* the owner gives up on the held stream: everything closes */
	ck_assert_int_eq(h2_stream_reset(fx.held[0]->s, H2_CANCEL), 0);
	ck_assert(run(&fx, both_closed, 5));
	ck_assert_uint_eq(a->close_code, H2_CANCEL);
	fx_release(&fx);
}
END_TEST

/* --- memory transport ---------------------------------------------- */

/* shuttle - move output between two memory connections until quiet */
static void shuttle(struct h2_conn *a, struct h2_conn *b)
{
	for (int round = 0; round < 100; round++) {
		const uint8_t *p;
		size_t n, moved = 0;

		while ((n = h2_conn_output(a, &p))) {
			ssize_t used = h2_conn_input(b, p, n);

			if (used <= 0)
				break;
			h2_conn_output_consume(a, (size_t)used);
			moved += (size_t)used;
		}
		while ((n = h2_conn_output(b, &p))) {
			ssize_t used = h2_conn_input(a, p, n);

			if (used <= 0)
				break;
			h2_conn_output_consume(b, (size_t)used);
			moved += (size_t)used;
		}
		if (!moved)
			return;
	}
}

START_TEST(test_memory_transport)
{
	struct h2_config ccfg = {.role = H2_CLIENT, .cb = &cbs};
	struct h2_config scfg = {.role = H2_SERVER, .cb = &cbs};
	struct fx fx;
	struct sx *a;
	const uint8_t *p;

	fx_init(&fx, ECHO);
	ccfg.data = &fx.cli;
	scfg.data = &fx.srv;
	fx.cli.c = h2_conn_new(&ccfg, -1);
	fx.srv.c = h2_conn_new(&scfg, -1);
	ck_assert_ptr_nonnull(fx.cli.c);
	ck_assert_ptr_nonnull(fx.srv.c);
	/* the client's preface is ready before anything happens */
	ck_assert_uint_gt(h2_conn_output(fx.cli.c, &p), 24);
	ck_assert_mem_eq(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);

	a = request(&fx, "POST", "/mem", "in memory", true);
	shuttle(fx.cli.c, fx.srv.c);
	ck_assert_int_eq(a->status, 200);
	ck_assert_str_eq(body_str(a), "in memory");
	ck_assert_str_eq(a->trailer, "done");
	ck_assert_int_eq(a->closes, 1);

	ck_assert_int_eq(h2_conn_shutdown(fx.cli.c), 0);
	shuttle(fx.cli.c, fx.srv.c);
	ck_assert_int_eq(fx.cli.closes, 1);
	ck_assert_int_eq(fx.srv.closes, 1);
	ck_assert_int_eq(fx.cli.close_err, 0);
	ck_assert_int_eq(fx.srv.close_err, 0);
	ck_assert_int_eq(h2_conn_input(fx.srv.c, "x", 1), -EPIPE);
	fx_release(&fx);
}
END_TEST

/* --- floods, timeouts, bounds ------------------------------------------ */

static int flood_round;

static void on_flood_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fx *fx = current;

	(void)loop;
	(void)revents;
	if (fx->cli.closes || !h2_conn_can_submit(fx->cli.c)) {
		ev_timer_stop(loop, w);
		return;
	}
	/* reset what the last tick opened (their HEADERS went out), open
	 * a new batch */
	for (int i = 0; i < fx->nsx; i++) {
		struct sx *x = fx->sx[i];

		if (!x->server && x->s && x->chunks == flood_round - 1)
			h2_stream_reset(x->s, H2_CANCEL);
	}
	for (int i = 0; i < 20 && fx->nsx < MAX_SX - 40; i++) {
		struct sx *x = request(fx, "GET", "/r", NULL, true);

		x->chunks = flood_round;
	}
	flood_round++;
}

START_TEST(test_rapid_reset_flood)
{
	struct h2_limits srv = {.max_early_resets = 50};
	struct fx fx;
	ev_timer t;

	fx_init(&fx, HOLD);
	fx_pair(&fx, NULL, &srv);
	flood_round = 1;
	ev_timer_init(&t, on_flood_tick, 0.001, 0.002);
	ev_timer_start(fx.loop, &t);
	ck_assert(run(&fx, both_closed, 5));
	ev_timer_stop(fx.loop, &t);
	ck_assert_int_eq(fx.srv.close_err, -EPROTO);
	ck_assert_msg(strstr(fx.srv.reason, "resets"), "%s", fx.srv.reason);
	ck_assert_int_eq(fx.cli.goaways, 1);
	ck_assert_uint_eq(fx.cli.goaway_error, H2_ENHANCE_YOUR_CALM);
	ck_assert_int_eq(fx.cli.close_err, -EPROTO);
	fx_release(&fx);
}
END_TEST

START_TEST(test_settings_timeout)
{
	struct h2_limits srv = {.settings_timeout = 0.2};
	struct h2_config ccfg = {.role = H2_CLIENT, .cb = &cbs};
	struct fx fx;
	struct h2_conn *mem;
	const uint8_t *p;
	size_t n;
	int sv[2];
	int64_t t0;

	/* a peer that sends a proper preface and SETTINGS but never
	 * acknowledges ours: the client's first bytes from a memory
	 * connection, then silence */
	fx_init(&fx, ECHO);
	ccfg.data = &fx.cli;
	mem = h2_conn_new(&ccfg, -1);
	n = h2_conn_output(mem, &p);
	nonblocking_pair(sv);
	ck_assert_int_eq(write(sv[0], p, n), (ssize_t)n);
	conn_new(&fx, &fx.srv, H2_SERVER, &srv, sv[1]);
	t0 = time_mono_ns();
	ck_assert(run(&fx, srv_closed, 5));
	ck_assert_int_eq(fx.srv.close_err, -ETIMEDOUT);
	ck_assert_int_ge(time_mono_ns() - t0, 150 * NSEC_PER_MSEC);
	ck_assert(drain_to_eof(&fx, sv[0], 2));
	close(sv[0]);
	h2_conn_free(mem);
	fx.cli.c = NULL;
	fx_release(&fx);
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct h2_limits srv = {.idle_timeout = 0.2};
	struct fx fx;
	struct sx *a;
	int64_t t0;

	fx_init(&fx, ECHO);
	fx_pair(&fx, NULL, &srv);
	a = request(&fx, "POST", "/x", "y", true);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	t0 = time_mono_ns();
	ck_assert(run(&fx, both_closed, 5));
	ck_assert_int_ge(time_mono_ns() - t0, 100 * NSEC_PER_MSEC);
	ck_assert_int_eq(fx.srv.close_err, 0);
	ck_assert_int_eq(fx.cli.close_err, 0);
	ck_assert_int_eq(fx.cli.goaways, 1);
	ck_assert_msg(strstr(fx.srv.reason, "idle"), "%s", fx.srv.reason);
	fx_release(&fx);
}
END_TEST

START_TEST(test_peer_that_never_reads)
{
	struct h2_limits srv = {.conn_send_max = 64u << 10,
				.stream_send_max = 8u << 10};
	struct h2_limits big = {.stream_window = 1u << 30,
				.conn_window = 1u << 30};
	struct h2_config ccfg = {.role = H2_CLIENT, .cb = &cbs, .lim = big};
	struct h2_header h[] = {
	    H2_HEADER(":method", "GET"),
	    H2_HEADER(":scheme", "http"),
	    H2_HEADER(":authority", "t"),
	    H2_HEADER(":path", "/big"),
	};
	struct h2_stats st;
	struct fx fx;
	struct h2_conn *mem;
	struct h2_stream *s;
	const uint8_t *p;
	size_t n;
	int sv[2], sndbuf = 16384;

	/* the client's bytes (preface, SETTINGS with huge windows, 50
	 * requests for 1 MiB each) come from a memory connection and go
	 * down the socket once; nobody reads the answers */
	fx_init(&fx, BIG);
	fx.big_body = 1u << 20;
	ccfg.data = &fx.cli;
	mem = h2_conn_new(&ccfg, -1);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(
		    h2_conn_request(mem, h, 4, H2_END, sx_new(&fx, false), &s),
		    0);
	n = h2_conn_output(mem, &p);
	nonblocking_pair(sv);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	ck_assert_int_eq(write(sv[0], p, n), (ssize_t)n);
	conn_new(&fx, &fx.srv, H2_SERVER, &srv, sv[1]);
	/* acknowledge the server's SETTINGS so it does not time out */
	ck_assert_int_eq(write(sv[0], "\0\0\0\4\1\0\0\0\0", 9), 9);
	run(&fx, NULL, 0.5);
	h2_conn_stats(fx.srv.c, &st);
	ck_assert_int_eq(fx.srv.closes, 0);
	ck_assert_msg(!st.reading,
		      "out %zu peak %zu queued %zu streams %zu out %llu",
		      st.out_len, st.out_peak, st.queued, st.streams,
		      (unsigned long long)st.bytes_out);
	ck_assert_uint_ge(st.out_len, 64u << 10);
	ck_assert_uint_le(st.out_peak, (64u << 10) + 16384 + 9);
	ck_assert_uint_le(st.queued, 50 * (8u << 10));
	ck_assert_int_eq(fx.requests, 50);
	close(sv[0]);
	ck_assert(run(&fx, srv_closed, 5));
	h2_conn_free(mem);
	fx.cli.c = NULL;
	fx_release(&fx);
}
END_TEST

START_TEST(test_free_inside_callback)
{
	struct fx fx;
	struct sx *a;

	/* on_close frees nothing here, but freeing the server from the
	 * client's stream close must not crash either side */
	fx_init(&fx, ECHO);
	fx_pair(&fx, NULL, NULL);
	a = request(&fx, "POST", "/x", "y", true);
	last_client = a;
	ck_assert(run(&fx, client_closed, 5));
	h2_conn_abort(fx.srv.c, H2_NO_ERROR);
	ck_assert(run(&fx, both_closed, 5));
	ck_assert_int_eq(fx.srv.close_err, -ECONNABORTED);
	ck_assert(fx.cli.close_err == 0 || fx.cli.close_err == -ECONNRESET);
	fx_release(&fx);
}
END_TEST

static void on_close_free(struct h2_conn *c, int err)
{
	struct peer *p = peer_of(c);

	on_close(c, err);
	h2_conn_free(c);
	p->c = NULL;
}

START_TEST(test_free_from_on_close)
{
	static const struct h2_callbacks freeing = {
	    .on_headers = on_headers,
	    .on_data = on_data,
	    .on_end = on_end,
	    .on_stream_close = on_stream_close,
	    .on_close = on_close_free,
	};
	struct h2_config cfg = {.role = H2_SERVER, .cb = &freeing};
	struct fx fx;
	int sv[2];

	fx_init(&fx, ECHO);
	nonblocking_pair(sv);
	cfg.loop = fx.loop;
	cfg.data = &fx.srv;
	fx.srv.c = h2_conn_new(&cfg, sv[1]);
	ck_assert_int_eq(write(sv[0], "garbage!garbage!garbage!garbage!", 32),
			 32);
	ck_assert(run(&fx, srv_closed, 5));
	ck_assert_ptr_null(fx.srv.c);
	close(sv[0]);
	fx_release(&fx);
}
END_TEST

START_TEST(test_header_helpers)
{
	struct h2_header h[] = {
	    H2_HEADER(":status", "200"),
	    H2_HEADER("content-type", "application/grpc"),
	};

	ck_assert_ptr_eq(h2_header_find(h, 2, "content-type"), &h[1]);
	ck_assert_ptr_null(h2_header_find(h, 2, "content"));
	ck_assert_uint_eq(h[1].value_len, 16);
	ck_assert_str_eq(h2_error_name(H2_CANCEL), "CANCEL");
	ck_assert_str_eq(h2_error_name(H2_CONNECTION_LOST), "CONNECTION_LOST");
	ck_assert_str_eq(h2_error_name(0x77), "UNKNOWN");
}
END_TEST

Suite *h2_suite(void)
{
	Suite *s = suite_create("h2");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_header_helpers);
	tcase_add_test(tc, test_request_response_trailers);
	tcase_add_test(tc, test_head_hold);
	tcase_add_test(tc, test_streaming_both_ways);
	tcase_add_test(tc, test_flow_control_backpressure);
	tcase_add_test(tc, test_unconsumed_window_released_on_close);
	tcase_add_test(tc, test_header_list_too_large);
	tcase_add_test(tc, test_garbage_instead_of_preface);
	tcase_add_test(tc, test_goaway_drains);
	tcase_add_test(tc, test_no_copy);
	tcase_add_test(tc, test_request_after_goaway_refused);
	tcase_add_test(tc, test_memory_transport);
	tcase_add_test(tc, test_rapid_reset_flood);
	tcase_add_test(tc, test_settings_timeout);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_peer_that_never_reads);
	tcase_add_test(tc, test_free_inside_callback);
	tcase_add_test(tc, test_free_from_on_close);
	suite_add_tcase(s, tc);
	return s;
}
