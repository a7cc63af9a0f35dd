/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc_test.c - unit tests for grpc.c: framing, header values, and a
 * server and a client in one process on loopback (plus raw h2 clients
 * for requests no gRPC client would send).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/grpc.h"
#include "conduit/log.h"
#include "conduit/time.h"
#include "destination.pb-c.h"
#include "suites.h"

/* --- framing and header values ------------------------------------------ */

START_TEST(test_frame_pack_unpack)
{
	Io__Linkerd__Proxy__Destination__GetDestination m =
	    IO__LINKERD__PROXY__DESTINATION__GET_DESTINATION__INIT;
	ProtobufCMessage *out;
	struct buf b;
	ssize_t n;

	m.scheme = "k8s";
	m.path = "web.default.svc.cluster.local:80";
	buf_init(&b, 0);
	ck_assert_int_eq(grpc_frame_pack(&b, &m.base), 0);
	ck_assert_uint_eq(buf_len(&b),
			  5 + protobuf_c_message_get_packed_size(&m.base));
	ck_assert_uint_eq(buf_head(&b)[0], 0);
	ck_assert_uint_eq(buf_head(&b)[4], buf_len(&b) - 5);

	/* short input: need more */
	ck_assert_int_eq(
	    grpc_frame_unpack(m.base.descriptor, buf_head(&b), 4, 0, &out), 0);
	ck_assert_int_eq(grpc_frame_unpack(m.base.descriptor, buf_head(&b),
					   buf_len(&b) - 1, 0, &out),
			 0);
	n = grpc_frame_unpack(m.base.descriptor, buf_head(&b), buf_len(&b), 0,
			      &out);
	ck_assert_int_eq(n, (ssize_t)buf_len(&b));
	ck_assert_str_eq(
	    ((Io__Linkerd__Proxy__Destination__GetDestination *)out)->path,
	    "web.default.svc.cluster.local:80");
	protobuf_c_message_free_unpacked(out, NULL);
	/* over the max */
	ck_assert_int_eq(grpc_frame_unpack(m.base.descriptor, buf_head(&b),
					   buf_len(&b), 10, &out),
			 -EMSGSIZE);
	/* compressed flag */
	buf_head(&b)[0] = 1;
	ck_assert_int_eq(grpc_frame_unpack(m.base.descriptor, buf_head(&b),
					   buf_len(&b), 0, &out),
			 -EPROTO);
	/* not a message of that type */
	buf_clear(&b);
	grpc_frame_append(&b, "\xff\xff\xff", 3);
	ck_assert_int_eq(grpc_frame_unpack(m.base.descriptor, buf_head(&b),
					   buf_len(&b), 0, &out),
			 -EPROTO);
	ck_assert_ptr_null(out);
	buf_release(&b);
}
END_TEST

struct msgs {
	char got[16][64];
	int n;
	int stop_after;
};

static int collect(void *arg, const uint8_t *msg, size_t len)
{
	struct msgs *m = arg;

	ck_assert_int_lt(m->n, 16);
	ck_assert_uint_lt(len, 64);
	memcpy(m->got[m->n], msg, len);
	m->got[m->n][len] = 0;
	m->n++;
	return m->stop_after && m->n == m->stop_after ? 7 : 0;
}

START_TEST(test_reader_pieces)
{
	struct grpc_reader r;
	struct msgs m = {0};
	struct buf b;

	buf_init(&b, 0);
	grpc_frame_append(&b, "one", 3);
	grpc_frame_append(&b, "", 0);
	grpc_frame_append(&b, "three", 5);
	/* byte by byte */
	grpc_reader_init(&r, 64);
	for (size_t i = 0; i < buf_len(&b); i++) {
		ck_assert_int_eq(
		    grpc_reader_feed(&r, buf_head(&b) + i, 1, collect, &m), 0);
		/* mid-prefix, mid-body: partial; after "one" (8 bytes): not */
		if (i == 0 || i == 6)
			ck_assert(grpc_reader_partial(&r));
		if (i == 7)
			ck_assert(!grpc_reader_partial(&r));
	}
	ck_assert(!grpc_reader_partial(&r));
	ck_assert_int_eq(m.n, 3);
	ck_assert_str_eq(m.got[0], "one");
	ck_assert_str_eq(m.got[1], "");
	ck_assert_str_eq(m.got[2], "three");
	grpc_reader_release(&r);

	/* all at once; the callback stops the feed */
	memset(&m, 0, sizeof(m));
	m.stop_after = 2;
	grpc_reader_init(&r, 64);
	ck_assert_int_eq(
	    grpc_reader_feed(&r, buf_head(&b), buf_len(&b), collect, &m), 7);
	ck_assert_int_eq(m.n, 2);
	grpc_reader_release(&r);

	/* over the max: refused from the prefix, before any body */
	memset(&m, 0, sizeof(m));
	grpc_reader_init(&r, 4);
	ck_assert_int_eq(
	    grpc_reader_feed(&r, buf_head(&b), buf_len(&b), collect, &m),
	    -EMSGSIZE);
	ck_assert_int_eq(m.n, 2); /* "one" and "" fit, "three" does not */
	ck_assert_int_eq(
	    grpc_reader_feed(&r, (const uint8_t *)"x", 1, collect, &m),
	    -EMSGSIZE);
	grpc_reader_release(&r);

	/* compressed, and a flag that is no flag */
	grpc_reader_init(&r, 64);
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t *)"\1\0\0\0\1x", 6,
					  collect, &m),
			 -EPROTO);
	grpc_reader_release(&r);
	grpc_reader_init(&r, 64);
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t *)"\x80\0\0\0\1x",
					  6, collect, &m),
			 -EPROTO);
	grpc_reader_release(&r);
	buf_release(&b);
}
END_TEST

START_TEST(test_timeout_values)
{
	int64_t ns;
	char b[16];

	ck_assert_int_eq(grpc_timeout_parse("100m", 4, &ns), 0);
	ck_assert_int_eq(ns, 100 * NSEC_PER_MSEC);
	ck_assert_int_eq(grpc_timeout_parse("1H", 2, &ns), 0);
	ck_assert_int_eq(ns, 3600 * NSEC_PER_SEC);
	ck_assert_int_eq(grpc_timeout_parse("99999999S", 9, &ns), 0);
	ck_assert_int_eq(ns, 99999999 * NSEC_PER_SEC);
	ck_assert_int_eq(grpc_timeout_parse("5n", 2, &ns), 0);
	ck_assert_int_eq(ns, 5);
	ck_assert_int_eq(grpc_timeout_parse("123456789S", 10, &ns), -EINVAL);
	ck_assert_int_eq(grpc_timeout_parse("S", 1, &ns), -EINVAL);
	ck_assert_int_eq(grpc_timeout_parse("10s", 3, &ns), -EINVAL);
	ck_assert_int_eq(grpc_timeout_parse("-1S", 3, &ns), -EINVAL);
	ck_assert_int_eq(grpc_timeout_parse("1 S", 3, &ns), -EINVAL);

	ck_assert_str_eq(grpc_timeout_format(25 * NSEC_PER_MSEC, b, sizeof(b)),
			 "25000000n");
	ck_assert_str_eq(grpc_timeout_format(250 * NSEC_PER_MSEC, b, sizeof(b)),
			 "250000u");
	ck_assert_str_eq(grpc_timeout_format(2 * NSEC_PER_SEC, b, sizeof(b)),
			 "2000000u");
	ck_assert_str_eq(grpc_timeout_format(1, b, sizeof(b)), "1n");
	ck_assert_str_eq(
	    grpc_timeout_format(200000 * NSEC_PER_SEC, b, sizeof(b)),
	    "200000S");
	ck_assert_str_eq(
	    grpc_timeout_format(100000000 * NSEC_PER_SEC, b, sizeof(b)),
	    "1666667M");
	ck_assert_int_eq(grpc_timeout_parse(b, strlen(b), &ns), 0);
	ck_assert_int_ge(ns, 200000 * NSEC_PER_SEC);
}
END_TEST

START_TEST(test_percent_encoding)
{
	static const char msg[] =
	    "no such pod \"web-1\": 100% gone \xc3\xa9t\xc3\xa9\n";
	struct buf e, d;

	buf_init(&e, 0);
	buf_init(&d, 0);
	ck_assert_int_eq(grpc_percent_encode(&e, msg, strlen(msg)), 0);
	ck_assert_str_eq(buf_cstr(&e),
			 "no such pod \"web-1\": 100%25 gone %C3%A9t%C3%A9%0A");
	ck_assert_int_eq(
	    grpc_percent_decode(&d, (const char *)buf_head(&e), buf_len(&e)),
	    0);
	ck_assert_str_eq(buf_cstr(&d), msg);
	/* broken escapes stay as they are */
	buf_clear(&d);
	ck_assert_int_eq(grpc_percent_decode(&d, "50%% %zz %4", 11), 0);
	ck_assert_str_eq(buf_cstr(&d), "50%% %zz %4");
	buf_release(&e);
	buf_release(&d);

	ck_assert_str_eq(grpc_status_name(GRPC_UNAVAILABLE), "UNAVAILABLE");
	ck_assert_str_eq(grpc_status_name(99), "UNKNOWN");
	ck_assert_int_eq(grpc_status_from_http(404), GRPC_UNIMPLEMENTED);
	ck_assert_int_eq(grpc_status_from_http(503), GRPC_UNAVAILABLE);
	ck_assert_int_eq(grpc_status_from_http(500), GRPC_UNKNOWN);
	ck_assert_int_eq(grpc_status_from_h2(H2_CANCEL), GRPC_CANCELLED);
	ck_assert_int_eq(grpc_status_from_h2(H2_REFUSED_STREAM),
			 GRPC_UNAVAILABLE);
	ck_assert_int_eq(grpc_status_from_h2(H2_PROTOCOL_ERROR), GRPC_INTERNAL);
}
END_TEST

/* --- a server and a client on loopback -------------------------------- */

struct gx;

/* a streaming call the server pushes messages on from a timer */
struct push {
	struct gx *gx;
	struct grpc_call *call;
	ev_timer t;
	int left, sent;
};

struct result {
	char msgs[32][128];
	int nmsgs;
	int status; /* -1 until on_status */
	char message[256];
	struct grpc_call *call;
	int cancel_after; /* cancel once this many messages came */
};

struct gx {
	struct ev_loop *loop;
	struct grpc_server *srv;
	struct grpc_client *cl;
	struct sock_addr addr;
	int calls, cancels, finishes;
	struct grpc_call *hung[8];
	int nhung;
	char last_meta[64];
	FILE *logs;
};

static struct gx *gcur;

static void push_free(struct push *p)
{
	ev_timer_stop(p->gx->loop, &p->t);
	free(p);
}

static void on_push(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct push *p = container_of(w, struct push, t);
	char m[32];
	int len;

	(void)loop;
	(void)revents;
	if (!p->left) {
		ck_assert_int_eq(grpc_call_finish(p->call, GRPC_OK, NULL), 0);
		p->gx->finishes++;
		push_free(p);
		return;
	}
	len = snprintf(m, sizeof(m), "update-%d", p->sent++);
	ck_assert_int_eq(grpc_call_send(p->call, m, (size_t)len), 0);
	p->left--;
}

static void h_unary(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	const char *ua = grpc_call_metadata(call, "user-agent");

	gcur->calls++;
	str_copy(gcur->last_meta, ua ? ua : "", sizeof(gcur->last_meta));
	ck_assert_int_eq(grpc_call_send(call, msg, len), 0);
	ck_assert_int_eq(grpc_call_finish(call, GRPC_OK, NULL), 0);
	ck_assert_int_eq(grpc_call_finish(call, GRPC_OK, NULL), -EPIPE);
}

static void h_stream(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct push *p = calloc(1, sizeof(*p));
	char n[16];

	gcur->calls++;
	snprintf(n, sizeof(n), "%.*s", (int)MIN(len, 15), (const char *)msg);
	p->gx = gcur;
	p->call = call;
	p->left = atoi(n);
	grpc_call_set_data(call, p);
	/* every update later, from a timer: the call stays open */
	ev_timer_init(&p->t, on_push, 0.01, 0.01);
	ev_timer_start(gcur->loop, &p->t);
}

static void h_stream_cancel(struct grpc_call *call)
{
	gcur->cancels++;
	push_free(grpc_call_data(call));
}

static void h_fail(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	char m[256];
	char *sep;

	gcur->calls++;
	snprintf(m, sizeof(m), "%.*s", (int)MIN(len, 255), (const char *)msg);
	sep = strchr(m, ':');
	ck_assert_ptr_nonnull(sep);
	*sep = 0;
	ck_assert_int_eq(grpc_call_finish(call, atoi(m), sep + 1), 0);
}

static void h_hang(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	gcur->calls++;
	ck_assert_int_lt(gcur->nhung, 8);
	gcur->hung[gcur->nhung++] = call;
}

static void h_hang_cancel(struct grpc_call *call)
{
	gcur->cancels++;
	for (int i = 0; i < gcur->nhung; i++)
		if (gcur->hung[i] == call)
			gcur->hung[i] = NULL;
}

static void h_big(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	char n[16];
	size_t size;
	char *big;

	snprintf(n, sizeof(n), "%.*s", (int)MIN(len, 15), (const char *)msg);
	size = (size_t)atol(n);
	big = malloc(size);
	memset(big, 'b', size);
	ck_assert_int_eq(grpc_call_send(call, big, size), 0);
	ck_assert_int_eq(grpc_call_finish(call, GRPC_OK, NULL), 0);
	free(big);
}

static const struct grpc_method methods[] = {
    {"/test.Echo/Unary", h_unary, NULL, NULL},
    {"/test.Echo/Stream", h_stream, h_stream_cancel, NULL},
    {"/test.Echo/Fail", h_fail, NULL, NULL},
    {"/test.Echo/Hang", h_hang, h_hang_cancel, NULL},
    {"/test.Echo/Big", h_big, NULL, NULL},
};

static void on_message(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct result *r = grpc_call_data(call);

	ck_assert_int_lt(r->nmsgs, 32);
	snprintf(r->msgs[r->nmsgs++], 128, "%.*s", (int)MIN(len, 127),
		 (const char *)msg);
	if (r->cancel_after && r->nmsgs == r->cancel_after) {
		grpc_call_cancel(call);
		r->call = NULL;
	}
}

static void on_status(struct grpc_call *call, int status, const char *message)
{
	struct result *r = grpc_call_data(call);

	ck_assert_int_eq(r->status, -1);
	r->status = status;
	str_copy(r->message, message, sizeof(r->message));
	r->call = NULL;
}

static const struct grpc_call_ops ops = {on_message, on_status};

static void gx_server(struct gx *gx, size_t max_recv)
{
	struct grpc_server_config cfg = {
	    .loop = gx->loop,
	    .methods = methods,
	    .nmethods = ARRAY_SIZE(methods),
	    .max_recv_message = max_recv,
	    .name = "test",
	};
	char err[64];

	gx->srv = grpc_server_new(&cfg);
	ck_assert_ptr_nonnull(gx->srv);
	if (!sock_addr_port(&gx->addr))
		ck_assert_int_eq(
		    sock_addr_parse("127.0.0.1:0", &gx->addr, err, sizeof(err)),
		    0);
	ck_assert_int_eq(grpc_server_listen(gx->srv, &gx->addr), 0);
	ck_assert_int_eq(grpc_server_local_addr(gx->srv, &gx->addr), 0);
}

static void gx_client(struct gx *gx, size_t max_recv)
{
	struct grpc_client_config cfg = {
	    .loop = gx->loop,
	    .addr = gx->addr,
	    .max_recv_message = max_recv,
	    .backoff_base = 0.05,
	    .backoff_max = 0.2,
	    .name = "test-client",
	};

	gx->cl = grpc_client_new(&cfg);
	ck_assert_ptr_nonnull(gx->cl);
}

static void gx_init(struct gx *gx)
{
	memset(gx, 0, sizeof(*gx));
	gcur = gx;
	gx->loop = ev_loop_new(EVFLAG_AUTO);
	gx->logs = fopen("/dev/null", "w");
	log_set_output(gx->logs);
}

static void gx_release(struct gx *gx)
{
	grpc_client_free(gx->cl);
	grpc_server_free(gx->srv);
	ev_loop_destroy(gx->loop);
	log_set_output(NULL);
	fclose(gx->logs);
	gcur = NULL;
}

static void noop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* spin - turn the loop until *r has a status, or secs pass */
static bool spin(struct gx *gx, const int *flag, int want, double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);
	ev_timer tick;
	bool ok = false;

	ev_timer_init(&tick, noop, 0.005, 0.005);
	ev_timer_start(gx->loop, &tick);
	while (time_mono_ns() < end) {
		if (flag && *flag >= want) {
			ok = true;
			break;
		}
		ev_run(gx->loop, EVRUN_ONCE);
	}
	ev_timer_stop(gx->loop, &tick);
	return ok;
}

static bool wait_status(struct gx *gx, struct result *r, double secs)
{
	return spin(gx, &r->status, 0, secs);
}

static void call(struct gx *gx, struct result *r, const char *path,
		 const char *req, double timeout, unsigned flags)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	ck_assert_int_eq(grpc_client_call(gx->cl, path, req, strlen(req),
					  timeout, flags, &ops, r, &r->call),
			 0);
}

START_TEST(test_unary_call)
{
	struct gx gx;
	struct result r;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Unary", "ping", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_OK);
	ck_assert_int_eq(r.nmsgs, 1);
	ck_assert_str_eq(r.msgs[0], "ping");
	ck_assert_str_eq(gx.last_meta, "conduit-grpc");
	/* an empty request message is a message */
	call(&gx, &r, "/test.Echo/Unary", "", 0, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_OK);
	ck_assert_int_eq(r.nmsgs, 1);
	ck_assert_str_eq(r.msgs[0], "");
	ck_assert(grpc_client_connected(gx.cl));
	ck_assert_uint_eq(grpc_server_conns(gx.srv), 1);
	gx_release(&gx);
}
END_TEST

START_TEST(test_server_streaming_pushed_later)
{
	struct gx gx;
	struct result r, u;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Stream", "5", 0, 0);
	/* a unary call on the same connection meanwhile */
	call(&gx, &u, "/test.Echo/Unary", "between", 0, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_OK);
	ck_assert_int_eq(r.nmsgs, 5);
	for (int i = 0; i < 5; i++) {
		char want[32];

		snprintf(want, sizeof(want), "update-%d", i);
		ck_assert_str_eq(r.msgs[i], want);
	}
	ck_assert_int_eq(u.status, GRPC_OK);
	ck_assert_int_eq(gx.finishes, 1);
	ck_assert_int_eq(gx.cancels, 0);
	gx_release(&gx);
}
END_TEST

START_TEST(test_client_cancel)
{
	struct gx gx;
	struct result r, u;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Stream", "100", 0, 0);
	r.cancel_after = 2;
	/* the server hears of it and drops its subscription */
	ck_assert(spin(&gx, &gx.cancels, 1, 5));
	ck_assert_int_eq(r.nmsgs, 2);
	ck_assert_int_eq(r.status, -1); /* no callback after cancel */
	ck_assert_uint_eq(grpc_server_calls(gx.srv), 0);
	/* the connection is fine */
	call(&gx, &u, "/test.Echo/Unary", "after", 5, 0);
	ck_assert(wait_status(&gx, &u, 5));
	ck_assert_int_eq(u.status, GRPC_OK);

	/* cancelling a call still waiting for its connection */
	grpc_client_free(gx.cl);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Unary", "never", 0, 0);
	grpc_call_cancel(r.call);
	spin(&gx, NULL, 0, 0.1);
	ck_assert_int_eq(r.status, -1);
	gx_release(&gx);
}
END_TEST

START_TEST(test_unknown_method_and_errors)
{
	struct gx gx;
	struct result r;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Nope", "x", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_UNIMPLEMENTED);
	ck_assert_str_eq(r.message, "unknown method /test.Echo/Nope");
	ck_assert_int_eq(r.nmsgs, 0);

	/* spaces, quotes, percent signs, newlines and UTF-8 come through */
	call(&gx, &r, "/test.Echo/Fail",
	     "9:pod \"web-1\" is 100% not ready: caf\xc3\xa9 "
	     "\xe2\x9c\x97\nsecond line",
	     5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_FAILED_PRECONDITION);
	ck_assert_str_eq(r.message, "pod \"web-1\" is 100% not ready: "
				    "caf\xc3\xa9 \xe2\x9c\x97\nsecond line");
	ck_assert_int_eq(
	    grpc_client_call(gx.cl, "no-slash", "", 0, 0, 0, &ops, &r, &r.call),
	    -EINVAL);
	gx_release(&gx);
}
END_TEST

START_TEST(test_oversized_messages)
{
	struct gx gx;
	struct result r;
	char big[2001];

	gx_init(&gx);
	gx_server(&gx, 1024);
	gx_client(&gx, 1000);
	memset(big, 'x', 2000);
	big[2000] = 0;
	call(&gx, &r, "/test.Echo/Unary", big, 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_RESOURCE_EXHAUSTED);
	ck_assert_msg(strstr(r.message, "2000 vs. 1024"), "%s", r.message);
	ck_assert_int_eq(gx.calls, 0);

	/* the client refuses a response over its max */
	call(&gx, &r, "/test.Echo/Big", "4000", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_RESOURCE_EXHAUSTED);
	call(&gx, &r, "/test.Echo/Big", "999", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_OK);
	ck_assert_int_eq(r.nmsgs, 1);
	gx_release(&gx);
}
END_TEST

START_TEST(test_deadline)
{
	struct gx gx;
	struct result r;
	int64_t t0;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	t0 = time_mono_ns();
	call(&gx, &r, "/test.Echo/Hang", "x", 0.15, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_DEADLINE_EXCEEDED);
	ck_assert_int_ge(time_mono_ns() - t0, 140 * NSEC_PER_MSEC);
	/* the server got the deadline too (grpc-timeout) and let go */
	ck_assert(spin(&gx, &gx.cancels, 1, 5));
	ck_assert_ptr_null(gx.hung[0]);
	spin(&gx, NULL, 0, 0.05);
	ck_assert_uint_eq(grpc_server_calls(gx.srv), 0);
	gx_release(&gx);
}
END_TEST

START_TEST(test_unavailable_then_reconnect)
{
	struct gx gx;
	struct result r, w;
	char err[64];

	gx_init(&gx);
	/* a port where nothing listens: the server takes it later */
	gx_server(&gx, 0);
	grpc_server_free(gx.srv);
	gx.srv = NULL;
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Unary", "x", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_UNAVAILABLE);
	ck_assert_msg(strstr(r.message, "refused"), "%s", r.message);
	/* in backoff: fail fast ... */
	call(&gx, &r, "/test.Echo/Unary", "x", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_UNAVAILABLE);
	/* ... unless the call waits for the connection */
	call(&gx, &w, "/test.Echo/Unary", "waited", 5, GRPC_WAIT_FOR_READY);
	spin(&gx, NULL, 0, 0.3);
	ck_assert_int_eq(w.status, -1);
	gx_server(&gx, 0);
	ck_assert(wait_status(&gx, &w, 5));
	ck_assert_int_eq(w.status, GRPC_OK);
	ck_assert_str_eq(w.msgs[0], "waited");
	(void)err;
	gx_release(&gx);
}
END_TEST

START_TEST(test_connection_lost_and_server_free)
{
	struct gx gx;
	struct result r, h;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Stream", "1000", 0, 0);
	call(&gx, &h, "/test.Echo/Hang", "x", 0, 0);
	ck_assert(spin(&gx, &r.nmsgs, 2, 5));
	ck_assert_int_eq(gx.nhung, 1);
	/* freeing the server cancels every call its handlers own */
	grpc_server_free(gx.srv);
	gx.srv = NULL;
	ck_assert_int_eq(gx.cancels, 2);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert(wait_status(&gx, &h, 5));
	ck_assert_int_eq(r.status, GRPC_UNAVAILABLE);
	ck_assert_int_eq(h.status, GRPC_UNAVAILABLE);
	gx_release(&gx);
}
END_TEST

START_TEST(test_graceful_shutdown)
{
	struct gx gx;
	struct result r;

	gx_init(&gx);
	gx_server(&gx, 0);
	gx_client(&gx, 0);
	call(&gx, &r, "/test.Echo/Stream", "10", 0, 0);
	ck_assert(spin(&gx, &r.nmsgs, 1, 5));
	grpc_server_shutdown(gx.srv);
	/* the stream in flight is served to its end */
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_OK);
	ck_assert_int_eq(r.nmsgs, 10);
	spin(&gx, NULL, 0, 0.1);
	ck_assert_uint_eq(grpc_server_conns(gx.srv), 0);
	gx_release(&gx);
}
END_TEST

START_TEST(test_reconnect_after_idle_close)
{
	struct grpc_client_config cfg = {.backoff_base = 5};
	struct gx gx;
	struct result r;

	gx_init(&gx);
	gx_server(&gx, 0);
	cfg.loop = gx.loop;
	cfg.addr = gx.addr;
	cfg.h2.idle_timeout = 0.1;
	gx.cl = grpc_client_new(&cfg);
	call(&gx, &r, "/test.Echo/Unary", "one", 5, 0);
	ck_assert(wait_status(&gx, &r, 5));
	ck_assert_int_eq(r.status, GRPC_OK);
	/* the connection idles out (our GOAWAY) ... */
	spin(&gx, NULL, 0, 0.4);
	ck_assert(!grpc_client_connected(gx.cl));
	ck_assert_uint_eq(grpc_server_conns(gx.srv), 0);
	/* ... and the next call gets a new one at once: no backoff after
	 * a connection that worked */
	call(&gx, &r, "/test.Echo/Unary", "two", 5, 0);
	ck_assert(wait_status(&gx, &r, 1));
	ck_assert_int_eq(r.status, GRPC_OK);
	ck_assert_str_eq(r.msgs[0], "two");
	gx_release(&gx);
}
END_TEST

/* --- raw HTTP/2 requests no gRPC client would send ----------------------- */

struct raw {
	int status;
	char grpc_status[8];
	char grpc_message[128];
	int closed;
	uint32_t close_code;
	size_t body;
};

static void raw_headers(struct h2_stream *s, enum h2_head kind,
			const struct h2_header *h, size_t n, bool end)
{
	struct raw *r = h2_stream_data(s);
	const struct h2_header *f;

	(void)end;
	if (kind == H2_HEAD_RESPONSE) {
		f = h2_header_find(h, n, ":status");
		r->status = atoi(f->value);
	}
	f = h2_header_find(h, n, "grpc-status");
	if (f)
		str_copy(r->grpc_status, f->value, sizeof(r->grpc_status));
	f = h2_header_find(h, n, "grpc-message");
	if (f)
		str_copy(r->grpc_message, f->value, sizeof(r->grpc_message));
}

static void raw_data(struct h2_stream *s, const uint8_t *p, size_t n)
{
	struct raw *r = h2_stream_data(s);

	(void)p;
	r->body += n;
}

static void raw_close(struct h2_stream *s, uint32_t error)
{
	struct raw *r = h2_stream_data(s);

	r->closed = 1;
	r->close_code = error;
}

static const struct h2_callbacks raw_cbs = {
    .on_headers = raw_headers,
    .on_data = raw_data,
    .on_stream_close = raw_close,
};

/* raw_call - one request from a plain h2 client to the gRPC server */
static void raw_call(struct gx *gx, struct h2_conn *c, const char *ctype,
		     const char *extra_name, const char *extra_value,
		     const void *body, size_t len, bool end, struct raw *r)
{
	struct h2_header h[7] = {
	    H2_HEADER(":method", "POST"),
	    H2_HEADER(":scheme", "http"),
	    H2_HEADER(":authority", "test"),
	    H2_HEADER(":path", "/test.Echo/Unary"),
	    h2_header_str("content-type", ctype),
	};
	size_t n = 5;
	struct h2_stream *s;

	memset(r, 0, sizeof(*r));
	if (extra_name)
		h[n++] = h2_header_str(extra_name, extra_value);
	ck_assert_int_eq(h2_conn_request(c, h, n, 0, r, &s), 0);
	if (len)
		ck_assert_int_eq(h2_stream_write(s, body, len), 0);
	if (end)
		ck_assert_int_eq(h2_stream_end(s, NULL, 0), 0);
	ck_assert(spin(gx, &r->closed, 1, 5));
}

START_TEST(test_malformed_requests)
{
	struct gx gx;
	struct h2_config cfg = {.role = H2_CLIENT, .cb = &raw_cbs};
	struct h2_conn *c;
	struct raw r;
	int sv[2];

	gx_init(&gx);
	gx_server(&gx, 0);
	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	ck_assert_int_eq(grpc_server_adopt(gx.srv, sv[1]), 0);
	cfg.loop = gx.loop;
	c = h2_conn_new(&cfg, sv[0]);
	ck_assert_ptr_nonnull(c);

	/* not gRPC: HTTP 415 with an INTERNAL status */
	raw_call(&gx, c, "application/json", NULL, NULL, "{}", 2, true, &r);
	ck_assert_int_eq(r.status, 415);
	ck_assert_str_eq(r.grpc_status, "13");
	ck_assert_msg(strstr(r.grpc_message, "content-type"), "%s",
		      r.grpc_message);

	/* compressed flag set, no grpc-encoding */
	raw_call(&gx, c, "application/grpc", NULL, NULL, "\1\0\0\0\2hi", 7,
		 true, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.grpc_status, "13");
	/* a compression we do not speak */
	raw_call(&gx, c, "application/grpc", "grpc-encoding", "gzip",
		 "\1\0\0\0\2hi", 7, true, &r);
	ck_assert_str_eq(r.grpc_status, "12");
	/* truncated: the prefix promises 10 bytes, 2 come */
	raw_call(&gx, c, "application/grpc+proto", NULL, NULL, "\0\0\0\0\x0ahi",
		 7, true, &r);
	ck_assert_str_eq(r.grpc_status, "13");
	ck_assert_msg(strstr(r.grpc_message, "truncated"), "%s",
		      r.grpc_message);
	/* no message at all */
	raw_call(&gx, c, "application/grpc", NULL, NULL, NULL, 0, true, &r);
	ck_assert_str_eq(r.grpc_status, "13");
	/* two messages for a unary call */
	raw_call(&gx, c, "application/grpc", NULL, NULL,
		 "\0\0\0\0\1a\0\0\0\0\1b", 12, true, &r);
	ck_assert_str_eq(r.grpc_status, "13");
	/* a malformed grpc-timeout */
	raw_call(&gx, c, "application/grpc", "grpc-timeout", "soon",
		 "\0\0\0\0\0", 5, true, &r);
	ck_assert_str_eq(r.grpc_status, "13");
	/* an oversized prefix is refused before the body comes: the
	 * request is still open when the answer goes, so the stream is
	 * reset (NO_ERROR) after it */
	raw_call(&gx, c, "application/grpc", NULL, NULL, "\0\x7f\0\0\0", 5,
		 false, &r);
	ck_assert_str_eq(r.grpc_status, "8");
	ck_assert_uint_eq(r.close_code, H2_NO_ERROR);
	/* and a good one still works on this connection */
	raw_call(&gx, c, "application/grpc", NULL, NULL, "\0\0\0\0\2ok", 7,
		 true, &r);
	ck_assert_str_eq(r.grpc_status, "0");
	ck_assert_uint_eq(r.body, 7);
	ck_assert_uint_eq(grpc_server_calls(gx.srv), 0);
	h2_conn_free(c);
	gx_release(&gx);
}
END_TEST

Suite *grpc_suite(void)
{
	Suite *s = suite_create("grpc");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_frame_pack_unpack);
	tcase_add_test(tc, test_reader_pieces);
	tcase_add_test(tc, test_timeout_values);
	tcase_add_test(tc, test_percent_encoding);
	tcase_add_test(tc, test_unary_call);
	tcase_add_test(tc, test_server_streaming_pushed_later);
	tcase_add_test(tc, test_client_cancel);
	tcase_add_test(tc, test_unknown_method_and_errors);
	tcase_add_test(tc, test_oversized_messages);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_unavailable_then_reconnect);
	tcase_add_test(tc, test_connection_lost_and_server_free);
	tcase_add_test(tc, test_graceful_shutdown);
	tcase_add_test(tc, test_reconnect_after_idle_close);
	tcase_add_test(tc, test_malformed_requests);
	suite_add_tcase(s, tc);
	return s;
}
