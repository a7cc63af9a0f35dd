/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc_peer.c - conduit's gRPC server and client as a test program, for
 * test/integ/35-grpc.sh to check against real grpcio peers. Built only
 * for tests (build/test/grpc-peer), never shipped.
 *
 *   grpc-peer serve ADDR [max_recv=BYTES]
 *       serve conduit.test.Echo on ADDR (port 0: any); prints
 *       "listening HOST:PORT", then one line per cancelled call
 *       ("cancelled PATH"); stops on SIGTERM
 *   grpc-peer call ADDR METHOD [key=value ...]
 *       one call to the Echo service at ADDR; METHOD is unary, stream or
 *       fail; keys: message, delay (ms), count, interval (ms), code,
 *       timeout (seconds), cancel_after (messages), wait (1: wait for
 *       ready). Prints "reply: MESSAGE SEQ" per reply, then
 *       "status: CODE NAME MESSAGE" (or "cancelled after N"); exits 0
 *       when the call ran to an end (whatever its status), 1 on errors,
 *       2 on usage errors
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/grpc.h"
#include "conduit/log.h"
#include "conduit/loop.h"
#include "echo.pb-c.h"

static struct ev_loop *loop;

/* --- server --------------------------------------------------------------- */

/* a reply sent later: delayed unary replies and stream items */
struct later {
	struct grpc_call *call;
	ev_timer t;
	char *message;
	uint32_t left, seq;
	bool stream;
};

static void later_free(struct later *l)
{
	ev_timer_stop(loop, &l->t);
	free(l->message);
	free(l);
}

static int send_reply(struct grpc_call *call, const char *message, uint32_t seq)
{
	Conduit__Test__EchoReply r = CONDUIT__TEST__ECHO_REPLY__INIT;

	r.message = (char *)message;
	r.seq = seq;
	return grpc_call_send_message(call, &r.base);
}

static void on_later(struct ev_loop *l, ev_timer *w, int revents)
{
	struct later *lt = container_of(w, struct later, t);
	char msg[512];
	int rv;

	(void)l;
	(void)revents;
	if (!lt->stream) {
		rv = send_reply(lt->call, lt->message, 0);
		grpc_call_finish(lt->call, rv ? GRPC_INTERNAL : GRPC_OK,
				 rv ? strerror(-rv) : NULL);
		later_free(lt);
		return;
	}
	if (!lt->left) {
		grpc_call_finish(lt->call, GRPC_OK, NULL);
		later_free(lt);
		return;
	}
	snprintf(msg, sizeof(msg), "%s %u", lt->message, lt->seq);
	rv = send_reply(lt->call, msg, lt->seq);
	if (rv == -ENOBUFS)
		return; /* the client is slow: the next tick tries again */
	if (rv) {
		grpc_call_finish(lt->call, GRPC_INTERNAL, strerror(-rv));
		later_free(lt);
		return;
	}
	lt->seq++;
	lt->left--;
}

static void on_cancel(struct grpc_call *call)
{
	printf("cancelled %s\n", grpc_call_path(call));
	fflush(stdout);
	later_free(grpc_call_data(call));
}

static struct later *later_new(struct grpc_call *call, const char *message,
			       double after, double every)
{
	struct later *l = calloc(1, sizeof(*l));

	l->call = call;
	l->message = strdup(message ? message : "");
	grpc_call_set_data(call, l);
	ev_timer_init(&l->t, on_later, after, every);
	ev_timer_start(loop, &l->t);
	return l;
}

static void h_unary(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	Conduit__Test__EchoRequest *req =
	    conduit__test__echo_request__unpack(NULL, len, msg);

	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "bad EchoRequest");
		return;
	}
	/* always answered from the loop: a delay of 0 is the next tick */
	later_new(call, req->message, req->delay_ms / 1000.0, 0);
	conduit__test__echo_request__free_unpacked(req, NULL);
}

static void h_stream(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	Conduit__Test__StreamRequest *req =
	    conduit__test__stream_request__unpack(NULL, len, msg);
	struct later *l;
	double every;

	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "bad StreamRequest");
		return;
	}
	every = (req->interval_ms ? req->interval_ms : 1) / 1000.0;
	l = later_new(call, req->message, every, every);
	l->stream = true;
	l->left = req->count;
	conduit__test__stream_request__free_unpacked(req, NULL);
}

static void h_fail(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	Conduit__Test__FailRequest *req =
	    conduit__test__fail_request__unpack(NULL, len, msg);

	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "bad FailRequest");
		return;
	}
	grpc_call_finish(call, (int)req->code, req->message);
	conduit__test__fail_request__free_unpacked(req, NULL);
}

static void on_cancel_plain(struct grpc_call *call)
{
	printf("cancelled %s\n", grpc_call_path(call));
	fflush(stdout);
}

static const struct grpc_method methods[] = {
    {"/conduit.test.Echo/Unary", h_unary, on_cancel, NULL},
    {"/conduit.test.Echo/ServerStream", h_stream, on_cancel, NULL},
    {"/conduit.test.Echo/Fail", h_fail, on_cancel_plain, NULL},
};

static struct grpc_server *server;

static void on_stop(struct loop_signals *s, int signum)
{
	(void)signum;
	grpc_server_free(server);
	server = NULL;
	ev_break(s->loop, EVBREAK_ALL);
}

static int serve(const char *addr, int argc, char **argv)
{
	struct grpc_server_config cfg = {
	    .loop = loop,
	    .methods = methods,
	    .nmethods = ARRAY_SIZE(methods),
	    .name = "grpc-peer",
	};
	struct loop_signals sig;
	struct sock_addr a;
	char err[128], buf[SOCK_ADDR_STRLEN];
	int rv;

	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "max_recv=", 9))
			cfg.max_recv_message = strtoul(argv[i] + 9, NULL, 10);
		else
			die("serve: unknown option \"%s\"", argv[i]);
	}
	if (sock_addr_parse(addr, &a, err, sizeof(err)))
		die("serve: \"%s\": %s", addr, err);
	server = grpc_server_new(&cfg);
	rv = grpc_server_listen(server, &a);
	if (rv)
		die("serve: listen on %s: %s", addr, strerror(-rv));
	grpc_server_local_addr(server, &a);
	printf("listening %s\n", sock_addr_format(&a, buf, sizeof(buf)));
	fflush(stdout);
	loop_signals_init(&sig, loop, on_stop, NULL);
	ev_run(loop, 0);
	loop_signals_release(&sig);
	grpc_server_free(server);
	return 0;
}

/* --- client ------------------------------------------------------------- */

struct opts {
	const char *message;
	unsigned delay, count, interval, code, cancel_after;
	double timeout;
	bool wait;
};

static struct opts o = {.message = "", .count = 3, .interval = 10};
static int replies;
static bool finished;

static void on_message(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	Conduit__Test__EchoReply *r =
	    conduit__test__echo_reply__unpack(NULL, len, msg);

	if (!r) {
		printf("reply: (not an EchoReply: %zu bytes)\n", len);
	} else {
		printf("reply: %s %u\n", r->message, r->seq);
		conduit__test__echo_reply__free_unpacked(r, NULL);
	}
	fflush(stdout);
	if (o.cancel_after && ++replies == (int)o.cancel_after) {
		grpc_call_cancel(call);
		printf("cancelled after %d\n", replies);
		fflush(stdout);
		finished = true;
	}
}

static void on_status(struct grpc_call *call, int status, const char *message)
{
	(void)call;
	printf("status: %d %s %s\n", status, grpc_status_name(status), message);
	fflush(stdout);
	finished = true;
}

static const struct grpc_call_ops ops = {on_message, on_status};

static void on_quit(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (finished)
		ev_break(l, EVBREAK_ALL);
}

static int call(const char *addr, const char *method, int argc, char **argv)
{
	struct grpc_client_config cfg = {.loop = loop, .name = "grpc-peer"};
	struct grpc_client *cl;
	struct grpc_call *c;
	const char *path;
	struct buf req;
	char err[128];
	ev_timer quit;
	int rv;

	for (int i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');

		if (!v)
			die("call: \"%s\" is not key=value", argv[i]);
		*v++ = 0;
		if (!strcmp(argv[i], "message"))
			o.message = v;
		else if (!strcmp(argv[i], "delay"))
			o.delay = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "count"))
			o.count = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "interval"))
			o.interval = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "code"))
			o.code = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "timeout"))
			o.timeout = atof(v);
		else if (!strcmp(argv[i], "cancel_after"))
			o.cancel_after = (unsigned)atoi(v);
		else if (!strcmp(argv[i], "wait"))
			o.wait = atoi(v);
		else
			die("call: unknown key \"%s\"", argv[i]);
	}
	if (sock_addr_parse(addr, &cfg.addr, err, sizeof(err)))
		die("call: \"%s\": %s", addr, err);
	buf_init(&req, 0);
	if (!strcmp(method, "unary")) {
		Conduit__Test__EchoRequest m =
		    CONDUIT__TEST__ECHO_REQUEST__INIT;

		m.message = (char *)o.message;
		m.delay_ms = o.delay;
		grpc_pack(&req, &m.base);
		path = "/conduit.test.Echo/Unary";
	} else if (!strcmp(method, "stream")) {
		Conduit__Test__StreamRequest m =
		    CONDUIT__TEST__STREAM_REQUEST__INIT;

		m.message = (char *)o.message;
		m.count = o.count;
		m.interval_ms = o.interval;
		grpc_pack(&req, &m.base);
		path = "/conduit.test.Echo/ServerStream";
	} else if (!strcmp(method, "fail")) {
		Conduit__Test__FailRequest m =
		    CONDUIT__TEST__FAIL_REQUEST__INIT;

		m.message = (char *)o.message;
		m.code = o.code;
		grpc_pack(&req, &m.base);
		path = "/conduit.test.Echo/Fail";
	} else {
		die("call: unknown method \"%s\" (unary, stream, fail)",
		    method);
	}
	cl = grpc_client_new(&cfg);
	rv =
	    grpc_client_call(cl, path, buf_head(&req), buf_len(&req), o.timeout,
			     o.wait ? GRPC_WAIT_FOR_READY : 0, &ops, NULL, &c);
	if (rv)
		die("call: %s", strerror(-rv));
	buf_release(&req);
	ev_timer_init(&quit, on_quit, 0.01, 0.01);
	ev_timer_start(loop, &quit);
	ev_run(loop, 0);
	/* a cancel's RST_STREAM leaves in the next iterations */
	if (o.cancel_after) {
		ev_timer_stop(loop, &quit);
		ev_timer_init(&quit, on_quit, 0.2, 0);
		ev_timer_start(loop, &quit);
		ev_run(loop, 0);
	}
	ev_timer_stop(loop, &quit);
	grpc_client_free(cl);
	return 0;
}

int main(int argc, char **argv)
{
	enum log_level lvl = LOG_WARN;
	const char *env = getenv("GRPC_PEER_LOG");

	base_set_progname("grpc-peer");
	if (env)
		log_level_parse(env, &lvl);
	log_set_level(lvl);
	loop = ev_default_loop(0);
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argc - 3, argv + 3);
	if (argc >= 4 && !strcmp(argv[1], "call"))
		return call(argv[2], argv[3], argc - 4, argv + 4);
	fprintf(
	    stderr,
	    "usage: grpc-peer serve ADDR [max_recv=N]\n"
	    "       grpc-peer call ADDR unary|stream|fail [key=value ...]\n");
	return 2;
}
