/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kube_fake.h - for the kube_* unit suites: fixture files recorded from a
 * real apiserver (test/unit/fixtures/kube), and a scripted HTTP/1.1
 * server on the test's libev loop that answers each request with the next
 * canned response (raw bytes, as a real apiserver sent them).
 */
#ifndef CONDUIT_TEST_KUBE_FAKE_H
#define CONDUIT_TEST_KUBE_FAKE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/kube_client.h"
#include "conduit/kube_config.h"
#include "conduit/sock.h"
#include "suites.h"

/* the fixtures sit beside this header, wherever the tests run from */
static inline void fixture_load(const char *name, struct buf *out)
{
	char path[512];
	const char *dir = getenv("CONDUIT_KUBE_FIXTURES");
	int fd;

	if (dir) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	} else {
		const char *slash = strrchr(__FILE__, '/');

		snprintf(path, sizeof(path), "%.*s/fixtures/kube/%s",
			 slash ? (int)(slash - __FILE__) : 1,
			 slash ? __FILE__ : ".", name);
	}
	fd = open(path, O_RDONLY);
	if (fd < 0)
		ck_abort_msg("fixture %s: %s", path, strerror(errno));
	buf_init(out, 0);
	while (buf_read_fd(out, fd, 1 << 20) > 0)
		;
	close(fd);
	ck_assert_uint_gt(buf_len(out), 0);
}

/* fixture_body - the body of a recorded raw HTTP/1.1 response (de-chunked) */
static inline void fixture_body(const char *name, struct buf *body, int *status)
{
	struct http1_parser *p = http1_parser_new(HTTP1_RESPONSE, NULL);
	struct buf raw;
	size_t off = 0;

	fixture_load(name, &raw);
	buf_init(body, 0);
	for (;;) {
		struct http1_event ev;
		ssize_t n = http1_parse(p, (char *)buf_head(&raw) + off,
					buf_len(&raw) - off, &ev);

		ck_assert_int_ge(n, 0);
		if (ev.type == HTTP1_HEAD && status)
			*status = http1_status(p);
		if (ev.type == HTTP1_BODY)
			buf_append(body, ev.body, ev.body_len);
		off += (size_t)n;
		if (ev.type == HTTP1_DONE ||
		    (ev.type == HTTP1_NONE && off == buf_len(&raw)))
			break;
	}
	http1_parser_free(p);
	buf_release(&raw);
}

/* one canned answer: the raw bytes; keep_open leaves the stream hanging */
struct fake_resp {
	char *data;
	size_t len;
	bool keep_open;
};

#define FAKE_MAX 64

struct fake_conn {
	struct fake_srv *srv;
	int fd;
	ev_io io;
	struct buf in, out;
	int answered; /* 1: answered, stream open; 2: close once written */
};

struct fake_srv {
	struct ev_loop *loop;
	int lfd;
	int port;
	ev_io accept_io;
	struct fake_resp resp[FAKE_MAX];
	size_t nresp, next;
	char *requests[FAKE_MAX];  /* request heads seen, in order */
	ev_tstamp times[FAKE_MAX]; /* when each came */
	size_t nrequests;
	char *bodies[FAKE_MAX]; /* their bodies (Content-Length only) */
	struct fake_conn *conns[FAKE_MAX];
	size_t nconns;
};

/* fake_add - queue raw response bytes (copied) */
static inline void fake_add(struct fake_srv *s, const void *data, size_t len,
			    bool keep_open)
{
	ck_assert_uint_lt(s->nresp, FAKE_MAX);
	s->resp[s->nresp].data = xmalloc(len + 1);
	memcpy(s->resp[s->nresp].data, data, len);
	s->resp[s->nresp].len = len;
	s->resp[s->nresp].keep_open = keep_open;
	s->nresp++;
}

/* fake_add_json - a 200 (or status) response with this body */
static inline void fake_add_status(struct fake_srv *s, int status,
				   const char *extra_headers, const char *body,
				   size_t len)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b,
		   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		   "%sContent-Length: %zu\r\n\r\n",
		   status, http1_status_text(status),
		   extra_headers ? extra_headers : "", len);
	buf_append(&b, body, len);
	fake_add(s, buf_head(&b), buf_len(&b), false);
	buf_release(&b);
}

static inline void fake_add_fixture(struct fake_srv *s, const char *name,
				    bool keep_open)
{
	struct buf b;

	fixture_load(name, &b);
	fake_add(s, buf_head(&b), buf_len(&b), keep_open);
	buf_release(&b);
}

static inline void fake_add_json_fixture(struct fake_srv *s, const char *name)
{
	struct buf b;

	fixture_load(name, &b);
	fake_add_status(s, 200, NULL, (char *)buf_head(&b), buf_len(&b));
	buf_release(&b);
}

static inline void fake_conn_close(struct fake_conn *c)
{
	struct fake_srv *s = c->srv;

	ev_io_stop(s->loop, &c->io);
	close(c->fd);
	buf_release(&c->in);
	buf_release(&c->out);
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i] == c)
			s->conns[i] = s->conns[--s->nconns];
	free(c);
}

static inline void fake_on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_conn *c = container_of(w, struct fake_conn, io);
	struct fake_srv *s = c->srv;

	(void)loop;
	if ((revents & EV_READ)) {
		ssize_t n = buf_read_fd(&c->in, c->fd, 1 << 20);
		char *head = buf_cstr(&c->in), *end;

		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			fake_conn_close(c);
			return;
		}
		end = head ? strstr(head, "\r\n\r\n") : NULL;
		if (!c->answered && end) {
			const char *cl = strcasestr(head, "Content-Length: ");
			size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;

			if (buf_len(&c->in) < (size_t)(end + 4 - head) + want)
				return;
			c->answered = true;
			if (s->nrequests < FAKE_MAX) {
				s->bodies[s->nrequests] =
				    xstrndup(end + 4, want);
				s->times[s->nrequests] = ev_time();
				s->requests[s->nrequests++] =
				    xstrndup(head, (size_t)(end + 2 - head));
			}
			if (s->next < s->nresp) {
				struct fake_resp *r = &s->resp[s->next++];

				buf_append(&c->out, r->data, r->len);
				if (!r->keep_open)
					c->answered = 2;
			}
			ev_io_stop(s->loop, &c->io);
			ev_io_set(&c->io, c->fd, EV_READ | EV_WRITE);
			ev_io_start(s->loop, &c->io);
		}
	}
	if ((revents & EV_WRITE)) {
		if (buf_len(&c->out) && buf_write_fd(&c->out, c->fd) < 0 &&
		    errno != EAGAIN) {
			fake_conn_close(c);
			return;
		}
		if (!buf_len(&c->out)) {
			if (c->answered ==
			    2) { /* done: close, the client reads EOF */
				fake_conn_close(c);
				return;
			}
			ev_io_stop(s->loop, &c->io);
			ev_io_set(&c->io, c->fd, EV_READ);
			ev_io_start(s->loop, &c->io);
		}
	}
}

static inline void fake_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_srv *s = container_of(w, struct fake_srv, accept_io);
	int fd;

	(void)revents;
	while ((fd = sock_accept(s->lfd, NULL)) >= 0) {
		struct fake_conn *c = xcalloc(1, sizeof(*c));

		c->srv = s;
		c->fd = fd;
		buf_init(&c->in, 0);
		buf_init(&c->out, 0);
		ck_assert_uint_lt(s->nconns, FAKE_MAX);
		s->conns[s->nconns++] = c;
		ev_io_init(&c->io, fake_on_conn, fd, EV_READ);
		ev_io_start(loop, &c->io);
	}
}

static inline void fake_start(struct fake_srv *s, struct ev_loop *loop)
{
	struct sock_addr a;
	char err[64];

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err)),
			 0);
	s->lfd = sock_listen(&a, 16, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(sock_local_addr(s->lfd, &a), 0);
	s->port = sock_addr_port(&a);
	ev_io_init(&s->accept_io, fake_on_accept, s->lfd, EV_READ);
	ev_io_start(loop, &s->accept_io);
}

/* fake_drop_streams - close every open connection (cut the streams) */
static inline void fake_drop_streams(struct fake_srv *s)
{
	while (s->nconns)
		fake_conn_close(s->conns[0]);
}

static inline void fake_stop(struct fake_srv *s)
{
	fake_drop_streams(s);
	ev_io_stop(s->loop, &s->accept_io);
	close(s->lfd);
	for (size_t i = 0; i < s->nresp; i++)
		free(s->resp[i].data);
	for (size_t i = 0; i < s->nrequests; i++) {
		free(s->requests[i]);
		free(s->bodies[i]);
	}
}

/* fake_config - a plain-HTTP kube_config for the fake server */
static inline void fake_config(const struct fake_srv *s,
			       struct kube_config *cfg)
{
	char text[256], err[256];

	snprintf(
	    text, sizeof(text),
	    "clusters: [{name: f, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
	    "users: [{name: u, user: {token: sekret}}]\n"
	    "contexts: [{name: f, context: {cluster: f, user: u}}]\n"
	    "current-context: f\n",
	    s->port);
	if (kube_config_load_text(text, strlen(text), "fake", NULL, NULL, cfg,
				  err, sizeof(err)))
		ck_abort_msg("%s", err);
}

/* a loop, a fake server, a client configured for it */
struct fake_env {
	struct ev_loop *loop;
	struct fake_srv srv;
	struct kube_config cfg;
	struct kube_client *c;
};

static inline void fake_env_init(struct fake_env *e)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	e->loop = ev_loop_new(EVFLAG_AUTO);
	fake_start(&e->srv, e->loop);
	fake_config(&e->srv, &e->cfg);
	e->c = kube_client_new(e->loop, &e->cfg, err, sizeof(err));
	ck_assert_ptr_nonnull(e->c);
}

static inline void fake_env_release(struct fake_env *e)
{
	kube_client_free(e->c);
	fake_stop(&e->srv);
	kube_config_release(&e->cfg);
	ev_loop_destroy(e->loop);
}

/* run_until - run the loop until *flag or the time is up (then fail) */
static inline void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static inline void run_until(struct ev_loop *loop, const bool *flag,
			     double secs)
{
	ev_tstamp end = ev_time() + secs;
	ev_timer tick;

	/* a tick, so that EVRUN_ONCE returns even when nothing happens */
	ev_timer_init(&tick, on_tick, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	while (!*flag) {
		if (ev_time() > end) {
			ev_timer_stop(loop, &tick);
			ck_abort_msg("not done within %.1f s", secs);
		}
		ev_run(loop, EVRUN_ONCE);
	}
	ev_timer_stop(loop, &tick);
}

/* run_for - run the loop for secs */
static inline void run_for(struct ev_loop *loop, double secs)
{
	ev_tstamp end = ev_time() + secs;
	ev_timer tick;

	ev_timer_init(&tick, on_tick, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	while (ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
}

#endif
