/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_relay_test.c - mutual TLS relays: real handshakes over loopback TCP
 * on an ev_loop (each wait bounded), credentials, and the ClientHello
 * parser on bytes the mbedtls client really sends
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conduit/base64.h"
#include "conduit/buf.h"
#include "conduit/log.h"
#include "conduit/pki.h"
#include "conduit/sock.h"
#include "conduit/tls.h"
#include "conduit/tls_relay.h"
#include "suites.h"

#define WEB "web.emojivoto.serviceaccount.identity.conduit.cluster.local"
#define EMOJI "emoji.emojivoto.serviceaccount.identity.conduit.cluster.local"
#define VOTING "voting.emojivoto.serviceaccount.identity.conduit.cluster.local"

static char err[512];

/* --- certificates ------------------------------------------------------------ */

struct ca {
	struct pki_key *key;
	struct pki_cert *cert;
	struct buf pem;
};

/* a leaf: its key (PEM) and certificate (DER) */
struct leaf {
	struct buf key;
	struct buf der;
};

static struct ca root, other; /* two unrelated trust anchors */

static void ca_make(struct ca *ca, const char *cn, const struct ca *issuer)
{
	int64_t now = time(NULL);
	struct pki_cert_spec s = {
		.common_name = cn,
		.not_before = now - 3600,
		.not_after = now + 86400,
		.is_ca = true,
		.max_path_len = -1,
	};

	ca->key = pki_key_generate(err, sizeof(err));
	ck_assert_msg(ca->key, "%s", err);
	buf_init(&ca->pem, 0);
	ck_assert_msg(pki_cert_issue(&s, ca->key, issuer ? issuer->cert : NULL,
				     issuer ? issuer->key : ca->key, &ca->pem,
				     NULL, err, sizeof(err)) == 0,
		      "%s", err);
	ca->cert = pki_cert_parse(buf_head(&ca->pem), buf_len(&ca->pem), err,
				  sizeof(err));
	ck_assert_msg(ca->cert, "%s", err);
}

static void ca_free(struct ca *ca)
{
	pki_key_free(ca->key);
	pki_cert_free(ca->cert);
	buf_release(&ca->pem);
}

/*
 * leaf_eku - name (NULL: no SAN) valid from now+from to now+to, for
 * servers and/or clients
 */
static void leaf_eku(struct leaf *l, const struct ca *issuer, const char *name,
		     int64_t from, int64_t to, bool server, bool client)
{
	int64_t now = time(NULL);
	const char *names[] = {name, "extra.example"};
	struct pki_cert_spec s = {
		.common_name = name ? name : "no-san",
		.dns_names = names,
		.n_dns_names = name ? 2 : 0,
		.not_before = now + from,
		.not_after = now + to,
		.server_auth = server,
		.client_auth = client,
	};
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	struct buf pem;

	ck_assert_msg(k, "%s", err);
	buf_init(&l->key, 0);
	buf_init(&l->der, 0);
	buf_init(&pem, 0);
	ck_assert_int_eq(pki_key_write_pem(k, &l->key), 0);
	ck_assert_msg(pki_cert_issue(&s, k, issuer->cert, issuer->key, &pem,
				     &l->der, err, sizeof(err)) == 0,
		      "%s", err);
	buf_release(&pem);
	pki_key_free(k);
}

static void leaf_make(struct leaf *l, const struct ca *issuer,
		      const char *name, int64_t from, int64_t to)
{
	leaf_eku(l, issuer, name, from, to, true, true);
}

static void leaf_free(struct leaf *l)
{
	buf_release(&l->key);
	buf_release(&l->der);
}

static void set_cert(struct tls_mesh *m, const struct leaf *l)
{
	ck_assert_msg(tls_mesh_set_cert(m, buf_head(&l->key), buf_len(&l->key),
					buf_head(&l->der), buf_len(&l->der),
					NULL, NULL, 0, err, sizeof(err)) == 0,
		      "%s", err);
}

/* mesh - trusting anchors, with identity name issued by issuer (or none) */
static struct tls_mesh *mesh(const struct buf *anchors, const struct ca *issuer,
			     const char *name)
{
	struct tls_mesh *m = tls_mesh_new(buf_head(anchors), buf_len(anchors),
					  err, sizeof(err));

	ck_assert_msg(m, "%s", err);
	ck_assert(!tls_mesh_has_cert(m));
	if (name) {
		struct leaf l;

		leaf_make(&l, issuer, name, -60, 86400);
		set_cert(m, &l);
		leaf_free(&l);
		ck_assert(tls_mesh_has_cert(m));
	}
	return m;
}

static void setup(void)
{
	ca_make(&root, "root.conduit.cluster.local", NULL);
	ca_make(&other, "other.example", NULL);
}

static void teardown(void)
{
	ca_free(&root);
	ca_free(&other);
}

/* --- a world: a loop, a group, a listener whose connections get server
 * relays ------------------------------------------------------------------- */

#define MAXC 16

struct srv_res {
	bool done;
	bool greet;	/* write "!" and SHUT_WR when ready */
	int fd;		/* the plain end, or -1 */
	char id[256];	/* the peer id, or why */
};

struct cli_res {
	bool failed;
	int calls;
	char why[400];
	struct tls_relay *cancel; /* on_fail cancels it (a no-op there) */
};

struct world;

/* a connection whose ClientHello is being read before its relay starts */
struct detect {
	ev_io io;
	struct world *w;
	int fd, idx;
	uint8_t buf[TLS_CLIENT_HELLO_MAX + 64];
	size_t len;
};

struct world {
	struct ev_loop *loop;
	struct tls_relay_group g;   /* the server relays */
	struct tls_relay_group cg;  /* the client relays */
	struct tls_relay_group *cgp; /* where client() puts them: &cg or &g */
	ev_timer tick;
	struct tls_mesh *smesh;
	int lfd;
	struct sock_addr addr;
	ev_io accept_io;
	enum { SERVE, DETECT, SILENT } mode;
	double timeout;
	bool greet;  /* see struct srv_res */
	int last_client_tcp, last_server_tcp; /* relays' sockets, to look at */
	int tcp_buf; /* SO_SNDBUF/SO_RCVBUF for accepted sockets, if > 0 */
	struct srv_res srv[MAXC];
	struct tls_relay *srv_relay[MAXC];
	int nsrv;
	int silent[MAXC]; /* accepted and never answered */
	int nsilent;
	struct detect *det[MAXC];
	int sni_ret[MAXC];
	char sni[MAXC][256];
	uint8_t hello[TLS_CLIENT_HELLO_MAX + 64]; /* the last ClientHello */
	size_t hello_len;
	FILE *logs;
	char *log_text;
	size_t log_len;
};

static void on_srv_ready(void *arg, int fd, const char *id_or_why)
{
	struct srv_res *s = arg;

	ck_assert(!s->done); /* exactly once */
	s->done = true;
	s->fd = fd;
	snprintf(s->id, sizeof(s->id), "%s", id_or_why);
	if (fd >= 0 && s->greet) {
		ck_assert_int_eq(send(fd, "!", 1, MSG_NOSIGNAL), 1);
		shutdown(fd, SHUT_WR);
	}
}

static void on_cli_fail(void *arg, const char *why)
{
	struct cli_res *c = arg;

	c->failed = true;
	c->calls++;
	snprintf(c->why, sizeof(c->why), "%s", why);
	if (c->cancel)
		tls_relay_cancel(c->cancel);
}

static void serve(struct world *w, int fd, const void *prefix, size_t plen)
{
	int i = w->nsrv++;

	ck_assert_int_lt(i, MAXC);
	w->last_server_tcp = fd;
	w->srv[i].fd = -1;
	w->srv[i].greet = w->greet;
	w->srv_relay[i] = tls_relay_server(&w->g, w->smesh, fd, prefix, plen,
					   w->timeout, on_srv_ready, &w->srv[i]);
	ck_assert_ptr_nonnull(w->srv_relay[i]);
}

/* on_detect - read until the parser has its answer, as the proxy will */
static void on_detect(struct ev_loop *loop, ev_io *io, int revents)
{
	struct detect *d = container_of(io, struct detect, io);
	struct world *w = d->w;
	ssize_t n;
	int r;

	(void)revents;
	n = recv(d->fd, d->buf + d->len, sizeof(d->buf) - d->len, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	ck_assert_int_gt(n, 0);
	d->len += (size_t)n;
	r = tls_client_hello_sni(d->buf, d->len, w->sni[d->idx],
				 sizeof(w->sni[d->idx]));
	if (r == -EAGAIN)
		return;
	w->sni_ret[d->idx] = r;
	memcpy(w->hello, d->buf, d->len);
	w->hello_len = d->len;
	ev_io_stop(loop, io);
	w->det[d->idx] = NULL;
	serve(w, d->fd, d->buf, d->len);
	free(d);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct world *w = container_of(io, struct world, accept_io);
	struct sock_addr peer;
	int fd = sock_accept(w->lfd, &peer);

	(void)revents;
	if (fd < 0)
		return;
	if (w->tcp_buf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &w->tcp_buf,
			   sizeof(w->tcp_buf));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &w->tcp_buf,
			   sizeof(w->tcp_buf));
	}
	if (w->mode == SILENT) {
		ck_assert_int_lt(w->nsilent, MAXC);
		w->silent[w->nsilent++] = fd;
	} else if (w->mode == DETECT) {
		struct detect *d = xcalloc(1, sizeof(*d));

		d->w = w;
		d->fd = fd;
		d->idx = w->nsrv;
		w->det[d->idx] = d;
		ev_io_init(&d->io, on_detect, fd, EV_READ);
		ev_io_start(loop, &d->io);
	} else {
		serve(w, fd, NULL, 0);
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
}

static void world_init(struct world *w, struct tls_mesh *smesh)
{
	char e[64];

	memset(w, 0, sizeof(*w));
	w->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(w->loop);
	tls_relay_group_init(&w->g, w->loop);
	tls_relay_group_init(&w->cg, w->loop);
	w->cgp = &w->cg;
	/* EVRUN_ONCE returns at least every millisecond */
	ev_timer_init(&w->tick, on_tick, 0.001, 0.001);
	ev_timer_start(w->loop, &w->tick);
	w->smesh = smesh;
	w->timeout = 3;
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &w->addr, e, sizeof(e)),
			 0);
	w->lfd = sock_listen(&w->addr, 64, 0);
	ck_assert_int_ge(w->lfd, 0);
	ck_assert_int_eq(sock_local_addr(w->lfd, &w->addr), 0);
	ev_io_init(&w->accept_io, on_accept, w->lfd, EV_READ);
	ev_io_start(w->loop, &w->accept_io);
	w->logs = open_memstream(&w->log_text, &w->log_len);
	log_set_output(w->logs);
	log_set_level(LOG_INFO);
}

static void world_free(struct world *w)
{
	tls_relay_group_release(&w->g);
	tls_relay_group_release(&w->cg);
	for (int i = 0; i < MAXC; i++) {
		if (w->det[i]) {
			ev_io_stop(w->loop, &w->det[i]->io);
			close(w->det[i]->fd);
			free(w->det[i]);
		}
		if (i < w->nsrv && w->srv[i].fd >= 0)
			close(w->srv[i].fd);
	}
	for (int i = 0; i < w->nsilent; i++)
		close(w->silent[i]);
	ev_io_stop(w->loop, &w->accept_io);
	ev_timer_stop(w->loop, &w->tick);
	close(w->lfd);
	ev_loop_destroy(w->loop);
	log_set_output(NULL);
	fclose(w->logs);
	free(w->log_text);
}

/* count - the world's live relays */
static size_t count(const struct world *w)
{
	return tls_relay_group_count(&w->g) + tls_relay_group_count(&w->cg);
}

/* log_count - lines logged so far that hold s */
static int log_count(struct world *w, const char *s)
{
	int n = 0;

	fflush(w->logs);
	for (const char *p = w->log_text; p && (p = strstr(p, s)); p++)
		n++;
	return n;
}

#define SPIN_FOR(w, secs, cond)                                               \
	do {                                                                  \
		double t0_ = ev_time();                                       \
		while (!(cond)) {                                             \
			if (ev_time() - t0_ > (secs))                         \
				ck_abort_msg("line %d: timed out waiting "    \
					     "for %s",                        \
					     __LINE__, #cond);                \
			ev_run((w)->loop, EVRUN_ONCE);                        \
		}                                                             \
	} while (0)
#define SPIN(w, cond) SPIN_FOR(w, 5.0, cond)

/* spin_secs - run the loop for a while */
static void spin_secs(struct world *w, double secs)
{
	double t0 = ev_time();

	while (ev_time() - t0 < secs)
		ev_run(w->loop, EVRUN_ONCE);
}

static struct tls_relay *client(struct world *w, struct tls_mesh *m,
				const char *id, int *pfd, struct cli_res *res)
{
	int fd = sock_connect(&w->addr);
	struct tls_relay *r;

	ck_assert_int_ge(fd, 0);
	w->last_client_tcp = fd; /* the relay's now: for looking only */
	memset(res, 0, sizeof(*res));
	r = tls_relay_client(w->cgp, m, fd, &w->addr, id, w->timeout, pfd,
			     on_cli_fail, res);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(*pfd, 0);
	return r;
}

/* app_write - write it all to a non-blocking fd, running the loop */
static void app_write(struct world *w, int fd, const void *p, size_t len)
{
	size_t off = 0;
	double t0 = ev_time();

	while (off < len) {
		ssize_t n = send(fd, (const char *)p + off, len - off,
				 MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (errno == EAGAIN)
			ev_run(w->loop, EVRUN_ONCE);
		else
			ck_abort_msg("send: %s", strerror(errno));
		ck_assert(ev_time() - t0 < 5);
	}
}

/*
 * app_read_eof - read until EOF into out (NUL-terminated), running the
 * loop. Returns the length, or -errno when the read failed.
 */
static ssize_t app_read_eof(struct world *w, int fd, char *out, size_t size)
{
	size_t len = 0;
	double t0 = ev_time();

	for (;;) {
		ssize_t n = recv(fd, out + len, size - 1 - len, 0);

		if (n > 0) {
			len += (size_t)n;
			ck_assert_uint_lt(len, size - 1);
		} else if (n == 0) {
			break;
		} else if (errno == EAGAIN) {
			ev_run(w->loop, EVRUN_ONCE);
		} else {
			return -errno;
		}
		ck_assert_msg(ev_time() - t0 < 5, "no EOF");
	}
	out[len] = '\0';
	return (ssize_t)len;
}

/* plain_dead - the caller's end: EOF or a reset, and never a byte */
static void plain_dead(struct world *w, int p)
{
	char got[64];
	ssize_t n = app_read_eof(w, p, got, sizeof(got));

	ck_assert_msg(n == 0 || n == -ECONNRESET, "read %zd", n);
}

/* nodelay - TCP_NODELAY is on: see test_latency */
static bool nodelay(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len),
			 0);
	return on;
}

/* --- mTLS -------------------------------------------------------------------- */

START_TEST(test_mtls)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct tls_relay *c1, *c2;
	struct cli_res cr1, cr2;
	struct world w;
	char got[256];
	int p1, p2, s;

	world_init(&w, sm);
	w.mode = DETECT;

	/* bytes written before the handshake wait in the pair */
	c1 = client(&w, cm, EMOJI, &p1, &cr1);
	app_write(&w, p1, "GET /hello", 10);
	ck_assert_int_eq(shutdown(p1, SHUT_WR), 0);
	ck_assert_uint_eq(count(&w), 1);
	SPIN(&w, w.srv[0].done);
	ck_assert_int_eq(w.sni_ret[0], 1);
	ck_assert_str_eq(w.sni[0], EMOJI); /* SNI = the expected identity */
	s = w.srv[0].fd;
	ck_assert_msg(s >= 0, "%s", w.srv[0].id);
	ck_assert_str_eq(w.srv[0].id, WEB);
	ck_assert_uint_eq(count(&w), 2);
	ck_assert(nodelay(w.last_client_tcp) && nodelay(w.last_server_tcp));

	/* half-close: the client is done writing, still gets the answer */
	ck_assert_int_eq(app_read_eof(&w, s, got, sizeof(got)), 10);
	ck_assert_str_eq(got, "GET /hello");
	app_write(&w, s, "200 ok", 6);
	ck_assert_int_eq(shutdown(s, SHUT_WR), 0);
	ck_assert_int_eq(app_read_eof(&w, p1, got, sizeof(got)), 6);
	ck_assert_str_eq(got, "200 ok");
	close(p1);
	close(s);
	w.srv[0].fd = -1;
	SPIN(&w, count(&w) == 0);
	ck_assert(!cr1.failed);

	/* the other way: the server is done first, the client goes on */
	c2 = client(&w, cm, EMOJI, &p2, &cr2);
	SPIN(&w, w.srv[1].done);
	s = w.srv[1].fd;
	ck_assert_str_eq(w.srv[1].id, WEB);
	app_write(&w, s, "banner", 6);
	ck_assert_int_eq(shutdown(s, SHUT_WR), 0);
	ck_assert_int_eq(app_read_eof(&w, p2, got, sizeof(got)), 6);
	ck_assert_str_eq(got, "banner");
	app_write(&w, p2, "bye", 3);
	ck_assert_int_eq(shutdown(p2, SHUT_WR), 0);
	ck_assert_int_eq(app_read_eof(&w, s, got, sizeof(got)), 3);
	ck_assert_str_eq(got, "bye");
	SPIN(&w, count(&w) == 0);
	close(p2);
	close(s);
	w.srv[1].fd = -1;

	/* finished client relays wait for their caller to let go */
	tls_relay_cancel(c1);
	tls_relay_cancel(c2);
	ck_assert_ptr_nonnull(w.cg.dead);
	spin_secs(&w, 0.01);
	ck_assert_ptr_null(w.g.head);
	ck_assert_ptr_null(w.cg.head);
	ck_assert_ptr_null(w.cg.dead);
	ck_assert(!cr2.failed);
	ck_assert_int_eq(log_count(&w, "failed"), 0);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/* a caller that closes its end entirely: the relay ends, no reset */
START_TEST(test_caller_closes)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	char got[64];
	int p;

	world_init(&w, sm);
	c = client(&w, cm, EMOJI, &p, &cr);
	SPIN(&w, w.srv[0].done);
	ck_assert_int_ge(w.srv[0].fd, 0);
	app_write(&w, p, "x", 1);
	close(p); /* like a pool dropping an idle connection */
	/* the server's side sees the byte, then a clean EOF */
	ck_assert_int_eq(app_read_eof(&w, w.srv[0].fd, got, sizeof(got)), 1);
	/* the client relay ends though the server holds its side open:
	 * nobody would read what came back */
	SPIN(&w, tls_relay_group_count(&w.cg) == 0);
	ck_assert_uint_eq(tls_relay_group_count(&w.g), 1);
	close(w.srv[0].fd);
	w.srv[0].fd = -1;
	SPIN(&w, count(&w) == 0);
	ck_assert(!cr.failed);
	tls_relay_cancel(c);
	ck_assert_int_eq(log_count(&w, "failed"), 0);

	/* a caller that closes with bytes it did not read resets its end:
	 * the relay resets the TCP side, the server relay fails */
	c = client(&w, cm, EMOJI, &p, &cr);
	SPIN(&w, w.srv[1].done);
	app_write(&w, w.srv[1].fd, "unread", 6);
	SPIN(&w, recv(p, got, sizeof(got), MSG_PEEK) == 6);
	close(p);
	plain_dead(&w, w.srv[1].fd);
	SPIN(&w, count(&w) == 0);
	ck_assert(!cr.failed); /* the caller's own doing */
	tls_relay_cancel(c);
	ck_assert_int_eq(log_count(&w, "TLS relay failed"), 1);
	ck_assert_int_eq(log_count(&w, "side=server"), 1);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/* a proxy not yet certified: taken, with an empty identity */
START_TEST(test_client_without_cert)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, NULL, NULL);
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	char got[64];
	int p;

	world_init(&w, sm);
	c = client(&w, cm, EMOJI, &p, &cr);
	SPIN(&w, w.srv[0].done);
	ck_assert_msg(w.srv[0].fd >= 0, "%s", w.srv[0].id);
	ck_assert_str_eq(w.srv[0].id, "");
	app_write(&w, w.srv[0].fd, "hi", 2);
	shutdown(w.srv[0].fd, SHUT_WR);
	ck_assert_int_eq(app_read_eof(&w, p, got, sizeof(got)), 2);
	ck_assert(!cr.failed);
	tls_relay_cancel(c);
	close(p);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/*
 * busy_time - seconds this thread ran or waited to run: on the CPU plus
 * on a run queue (/proc/thread-self/schedstat), or CPU time alone when
 * the kernel does not say
 */
static double busy_time(void)
{
	unsigned long long run, wait;
	struct timespec ts;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");
	int n = f ? fscanf(f, "%llu %llu", &run, &wait) : 0;

	if (f)
		fclose(f);
	if (n == 2)
		return (double)(run + wait) * 1e-9;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Latency: mbedtls sends handshake messages and records one by one; with
 * Nagle on, the handshake and the first record wait for the peer's
 * delayed ACK (40 ms each time). Both ends are in this process, so the
 * time a first round trip spends blocked (wall clock minus running or
 * waiting for a CPU: the handshake's crypto is slow under ASan, and the
 * machine may be busy) is the waiting on the network. The best of 5.
 * (The relays' sockets are checked for TCP_NODELAY in test_mtls too.)
 */
START_TEST(test_latency)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct world w;
	double best = 1, worst = 0;

	world_init(&w, sm);
	for (int i = 0; i < 5; i++) {
		struct cli_res cr;
		double t0 = ev_time(), b0 = busy_time(), idle;
		char c;
		int p;

		client(&w, cm, EMOJI, &p, &cr);
		app_write(&w, p, "?", 1);
		SPIN(&w, w.srv[i].done);
		ck_assert_int_ge(w.srv[i].fd, 0);
		SPIN(&w, recv(w.srv[i].fd, &c, 1, 0) == 1);
		app_write(&w, w.srv[i].fd, "!", 1);
		SPIN(&w, recv(p, &c, 1, 0) == 1);
		idle = (ev_time() - t0) - (busy_time() - b0);
		best = MIN(best, idle);
		worst = MAX(worst, ev_time() - t0);
		close(p);
	}
	if (getenv("TLS_RELAY_TEST_VERBOSE"))
		fprintf(stderr, "first round trip: idle %.1f ms, up to %.1f ms\n",
			best * 1e3, worst * 1e3);
	ck_assert_double_lt(best, 0.020);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/* --- 20 MiB each way, slow consumers ----------------------------------------- */

#define XFER (20u << 20)
#define BOUND (4u << 20) /* bytes in flight a direction may hold at most */

static uint8_t pattern(size_t i, unsigned dir)
{
	return (uint8_t)(((i * 2654435761u) >> 13) ^ (i >> 10) ^ dir);
}

struct flow {
	int wfd, rfd;
	unsigned dir;
	size_t sent, got;
	size_t eagain;	   /* writes refused: the writer was held back */
	size_t max_flight; /* most bytes sent and not yet read */
};

static void flow_write(struct flow *f)
{
	uint8_t chunk[64 << 10];

	while (f->sent < XFER) {
		size_t n = MIN(sizeof(chunk), XFER - f->sent);
		ssize_t k;

		for (size_t i = 0; i < n; i++)
			chunk[i] = pattern(f->sent + i, f->dir);
		k = send(f->wfd, chunk, n, MSG_NOSIGNAL);
		if (k < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			f->eagain++;
			break;
		}
		f->sent += (size_t)k;
	}
	f->max_flight = MAX(f->max_flight, f->sent - f->got);
}

/* flow_read - at most most bytes: a slow consumer */
static void flow_read(struct flow *f, size_t most)
{
	uint8_t buf[16 << 10];

	while (most) {
		ssize_t k = recv(f->rfd, buf, MIN(sizeof(buf), most), 0);

		if (k < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			return;
		}
		ck_assert_int_gt(k, 0); /* no EOF before the end */
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != pattern(f->got + (size_t)i, f->dir))
				ck_abort_msg("dir %u: byte %zu differs",
					     f->dir, f->got + (size_t)i);
		f->got += (size_t)k;
		most -= (size_t)k;
	}
}

static size_t heap_used(void)
{
	return mallinfo2().uordblks;
}

START_TEST(test_transfer)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct flow up = {.dir = 0}, down = {.dir = 0x5a};
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	size_t heap0, heap_max = 0;
	int p, fd, small = 64 << 10;
	double t0, last;
	char got[8];

	world_init(&w, sm);
	w.tcp_buf = small;
	/* a client TCP socket with small buffers too, so the bound below is
	 * the relays' and the pairs', not the kernel's autotuning */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert(connect(fd, &w.addr.u.sa, w.addr.len) == 0 ||
		  errno == EINPROGRESS);
	memset(&cr, 0, sizeof(cr));
	c = tls_relay_client(&w.cg, cm, fd, &w.addr, EMOJI, 3, &p,
			     on_cli_fail, &cr);
	ck_assert_ptr_nonnull(c);
	SPIN(&w, w.srv[0].done);
	ck_assert_int_ge(w.srv[0].fd, 0);
	up.wfd = p;
	up.rfd = w.srv[0].fd;
	down.wfd = w.srv[0].fd;
	down.rfd = p;
	heap0 = heap_used();

	/* nobody reads: both writers are stopped well before 20 MiB */
	t0 = last = ev_time();
	while (ev_time() - last < 0.2) {
		size_t before = up.sent + down.sent;

		flow_write(&up);
		flow_write(&down);
		if (up.sent + down.sent != before)
			last = ev_time();
		ev_run(w.loop, EVRUN_ONCE);
		ck_assert(ev_time() - t0 < 5);
	}
	if (getenv("TLS_RELAY_TEST_VERBOSE"))
		fprintf(stderr, "stalled at %zu/%zu\n", up.sent, down.sent);
	ck_assert_uint_gt(up.eagain, 0);
	ck_assert_uint_gt(down.eagain, 0);
	ck_assert_uint_lt(up.sent, BOUND);
	ck_assert_uint_lt(down.sent, BOUND);
	ck_assert_uint_gt(up.sent, 64 << 10); /* and they did move */
	ck_assert_uint_gt(down.sent, 64 << 10);
	heap_max = MAX(heap_max, heap_used());

	/* slow readers, 64 KiB each per iteration, until all is through */
	t0 = ev_time();
	while (up.got < XFER || down.got < XFER) {
		flow_write(&up);
		flow_write(&down);
		ev_run(w.loop, EVRUN_ONCE);
		flow_read(&up, 64 << 10);
		flow_read(&down, 64 << 10);
		heap_max = MAX(heap_max, heap_used());
		ck_assert_msg(ev_time() - t0 < 20, "up %zu down %zu", up.got,
			      down.got);
	}
	if (getenv("TLS_RELAY_TEST_VERBOSE"))
		fprintf(stderr,
			"refused writes %zu/%zu, most in flight %zu/%zu, "
			"heap +%zu, %.3fs\n",
			up.eagain, down.eagain, up.max_flight, down.max_flight,
			heap_max - heap0, ev_time() - t0);
	ck_assert_uint_lt(up.max_flight, BOUND);
	ck_assert_uint_lt(down.max_flight, BOUND);
	/* the relays buffer nothing beyond their fixed buffers */
	ck_assert_uint_lt(heap_max - heap0, 1u << 20);

	/* then both ends close their writing side, and all ends */
	shutdown(p, SHUT_WR);
	shutdown(w.srv[0].fd, SHUT_WR);
	ck_assert_int_eq(app_read_eof(&w, p, got, sizeof(got)), 0);
	ck_assert_int_eq(app_read_eof(&w, w.srv[0].fd, got, sizeof(got)), 0);
	SPIN(&w, count(&w) == 0);
	ck_assert(!cr.failed);
	tls_relay_cancel(c);
	close(p);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/* small_write - n pattern bytes into f's writer, all of them */
static void small_write(struct world *w, struct flow *f, size_t n)
{
	uint8_t chunk[4096];

	ck_assert_uint_le(n, sizeof(chunk));
	for (size_t i = 0; i < n; i++)
		chunk[i] = pattern(f->sent + i, f->dir);
	for (size_t off = 0; off < n;) {
		ssize_t k = send(f->wfd, chunk + off, n - off, MSG_NOSIGNAL);

		if (k < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			ev_run(w->loop, EVRUN_NOWAIT);
			continue;
		}
		off += (size_t)k;
	}
	f->sent += n;
}

/*
 * Many small writes of odd sizes both ways, the relays run between some
 * of them: records of every small size, several of them arriving in one
 * read (the relay reads ahead of mbedtls), each byte checked where it
 * lands.
 */
START_TEST(test_small_records)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct flow up = {.dir = 0x33}, down = {.dir = 0xa7};
	struct cli_res cr;
	struct world w;
	int p;

	world_init(&w, sm);
	(void)client(&w, cm, EMOJI, &p, &cr);
	app_write(&w, p, "?", 1); /* the server's app end exists once used */
	SPIN(&w, w.srv[0].done);
	ck_assert_int_ge(w.srv[0].fd, 0);
	{
		char c;

		SPIN(&w, recv(w.srv[0].fd, &c, 1, 0) == 1);
	}
	up.wfd = p;
	up.rfd = w.srv[0].fd;
	down.wfd = w.srv[0].fd;
	down.rfd = p;
	for (unsigned i = 0; i < 3000; i++) {
		small_write(&w, &up, (i * 37u) % 1499 + 1);
		small_write(&w, &down, (i * 53u) % 4001 + 1);
		if (i % 5 == 0)
			ev_run(w.loop, EVRUN_NOWAIT);
		if (i % 7 == 0) {
			flow_read(&up, 1u << 20);
			flow_read(&down, 1u << 20);
		}
	}
	{
		double t0 = ev_time();

		while (up.got < up.sent || down.got < down.sent) {
			ev_run(w.loop, EVRUN_NOWAIT);
			flow_read(&up, 1u << 20);
			flow_read(&down, 1u << 20);
			ck_assert_msg(ev_time() - t0 < 10, "up %zu/%zu down %zu/%zu",
				      up.got, up.sent, down.got, down.sent);
		}
	}
	ck_assert(!cr.failed);
	close(p);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/* --- failures ---------------------------------------------------------------- */

/*
 * refused - a handshake between sm and cm (expecting server_id) fails:
 * the server's on_ready(-1) holds srv_why, the client's on_fail cli_why
 */
static void refused(struct tls_mesh *sm, struct tls_mesh *cm,
		    const char *server_id, const char *srv_why,
		    const char *cli_why)
{
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	int p;

	world_init(&w, sm);
	c = client(&w, cm, server_id, &p, &cr);
	/* what the caller writes at once never reaches the server's app */
	app_write(&w, p, "secret", 6);
	SPIN(&w, cr.failed && w.srv[0].done);
	ck_assert_int_eq(cr.calls, 1);
	ck_assert_int_eq(w.srv[0].fd, -1);
	ck_assert_msg(strstr(w.srv[0].id, srv_why), "server: %s",
		      w.srv[0].id);
	ck_assert_msg(strstr(cr.why, cli_why), "client: %s", cr.why);
	plain_dead(&w, p);
	close(p);
	(void)c; /* on_fail ran: the handle is gone */
	SPIN(&w, count(&w) == 0);
	/* one line per side */
	ck_assert_int_eq(log_count(&w, "TLS handshake failed"), 2);
	ck_assert_int_eq(log_count(&w, "side=client target=127.0.0.1:"), 1);
	world_free(&w);
}

START_TEST(test_wrong_anchors)
{
	struct buf both;
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&other.pem, &other, WEB);
	struct tls_mesh *cm2;

	/* the client does not trust the server */
	refused(sm, cm, EMOJI, "the client sent alert",
		"handshake: the server's certificate is not trusted: "
		"The certificate is not correctly signed by the trusted CA");
	/* the server does not trust the client */
	buf_init(&both, 0);
	buf_append(&both, buf_head(&root.pem), buf_len(&root.pem));
	buf_append(&both, buf_head(&other.pem), buf_len(&other.pem));
	cm2 = mesh(&both, &other, WEB);
	refused(sm, cm2, EMOJI,
		"handshake: the client's certificate is not trusted: "
		"The certificate is not correctly signed by the trusted CA",
		"handshake: the server sent alert");
	buf_release(&both);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
	tls_mesh_free(cm2);
}
END_TEST

START_TEST(test_wrong_identity)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB), *wild;

	refused(sm, cm, VOTING, "the client sent alert",
		"handshake: the server's certificate is not trusted: it is "
		"not for " VOTING);
	/* a wildcard does not stand for an identity (mbedtls alone would
	 * take it) */
	wild = mesh(&root.pem, &root,
		    "*.emojivoto.serviceaccount.identity.conduit.cluster.local");
	refused(wild, cm, EMOJI, "the client sent alert",
		"handshake: the server's certificate is not trusted: it is "
		"not for " EMOJI);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
	tls_mesh_free(wild);
}
END_TEST

START_TEST(test_expired)
{
	struct tls_mesh *good_s = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *good_c = mesh(&root.pem, &root, WEB);
	struct tls_mesh *old_s = mesh(&root.pem, NULL, NULL);
	struct tls_mesh *old_c = mesh(&root.pem, NULL, NULL);
	struct leaf l;

	/* set_cert leaves the validity period to the peers */
	leaf_make(&l, &root, EMOJI, -7200, -3600);
	set_cert(old_s, &l);
	leaf_free(&l);
	leaf_make(&l, &root, WEB, -7200, -3600);
	set_cert(old_c, &l);
	leaf_free(&l);
	refused(old_s, good_c, EMOJI, "the client sent alert",
		"The certificate validity has expired");
	refused(good_s, old_c, EMOJI,
		"the client's certificate is not trusted: The certificate "
		"validity has expired",
		"the server sent alert");
	/* not yet valid, either way */
	leaf_make(&l, &root, WEB, 3600, 7200);
	set_cert(old_c, &l);
	leaf_free(&l);
	refused(good_s, old_c, EMOJI,
		"The certificate validity starts in the future",
		"the server sent alert");
	tls_mesh_free(good_s);
	tls_mesh_free(good_c);
	tls_mesh_free(old_s);
	tls_mesh_free(old_c);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct sock_addr closed;
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	int lfd, fd, p;
	char e[64];

	world_init(&w, NULL);
	/* a port nobody listens on: bound, then closed */
	sock_addr_parse("127.0.0.1:0", &closed, e, sizeof(e));
	lfd = sock_listen(&closed, 1, 0);
	sock_local_addr(lfd, &closed);
	close(lfd);
	fd = sock_connect(&closed);
	ck_assert_int_ge(fd, 0);
	memset(&cr, 0, sizeof(cr));
	c = tls_relay_client(&w.cg, cm, fd, &closed, EMOJI, 3, &p,
			     on_cli_fail, &cr);
	ck_assert_ptr_nonnull(c);
	cr.cancel = c;
	app_write(&w, p, "early", 5);
	SPIN(&w, cr.failed);
	ck_assert_str_eq(cr.why, "connect: Connection refused");
	plain_dead(&w, p);
	close(p);
	ck_assert_int_eq(log_count(&w, "TLS handshake failed"), 1);
	ck_assert_int_eq(log_count(&w, "target=127.0.0.1:"), 1);
	ck_assert_int_eq(log_count(&w, "server_id=" EMOJI), 1);
	SPIN(&w, count(&w) == 0);
	world_free(&w);
	tls_mesh_free(cm);
}
END_TEST

START_TEST(test_handshake_timeouts)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	static const uint8_t half[] = {0x16, 0x03, 0x01, 0x00, 0x80, 0x01,
				       0x00, 0x00, 0x7c, 0x03, 0x03, 0x11};
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	double t0;
	int fd, p;

	/* a server relay fed half a ClientHello */
	world_init(&w, sm);
	w.timeout = 0.2;
	fd = sock_connect(&w.addr);
	ck_assert_int_ge(fd, 0);
	SPIN(&w, w.nsrv == 1);
	t0 = ev_time();
	app_write(&w, fd, half, sizeof(half));
	SPIN(&w, w.srv[0].done);
	ck_assert_double_ge(ev_time() - t0, 0.15);
	ck_assert_double_lt(ev_time() - t0, 1.5);
	ck_assert_int_eq(w.srv[0].fd, -1);
	ck_assert_str_eq(w.srv[0].id, "handshake: timed out after 0.2s");
	plain_dead(&w, fd); /* the peer is reset */
	close(fd);
	ck_assert_int_eq(log_count(&w, "TLS handshake failed"), 1);
	world_free(&w);

	/* a client relay whose server never answers */
	world_init(&w, sm);
	w.mode = SILENT;
	w.timeout = 0.2;
	t0 = ev_time();
	c = client(&w, cm, EMOJI, &p, &cr);
	SPIN(&w, cr.failed);
	ck_assert_double_ge(ev_time() - t0, 0.15);
	ck_assert_str_eq(cr.why, "handshake: timed out after 0.2s");
	plain_dead(&w, p);
	close(p);
	(void)c;
	SPIN(&w, count(&w) == 0);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/*
 * resets mid-stream: the side that stays closes its caller's end (which
 * may have read all that came before); a client relay also says why
 */
START_TEST(test_reset_mid_stream)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct cli_res cr;
	struct world w;
	char got[64];
	int p;

	world_init(&w, sm);
	/* the client relays go: the server relay sees the reset */
	client(&w, cm, EMOJI, &p, &cr);
	SPIN(&w, w.srv[0].done);
	app_write(&w, w.srv[0].fd, "part", 4);
	SPIN(&w, recv(p, got, sizeof(got), MSG_PEEK) == 4);
	tls_relay_group_free_all(&w.cg);
	ck_assert_int_eq(recv(p, got, sizeof(got), 0), 4);
	plain_dead(&w, p);
	ck_assert(!cr.failed); /* free_all calls nobody back */
	close(p);
	plain_dead(&w, w.srv[0].fd);
	SPIN(&w, count(&w) == 0);
	ck_assert_int_eq(log_count(&w, "TLS relay failed"), 1);
	ck_assert_int_eq(log_count(&w, "side=server"), 1);

	/* the server relays go: the client relay's on_fail says so */
	client(&w, cm, EMOJI, &p, &cr);
	SPIN(&w, w.srv[1].done);
	app_write(&w, p, "ping", 4);
	SPIN(&w, recv(w.srv[1].fd, got, sizeof(got), MSG_PEEK) == 4);
	tls_relay_group_free_all(&w.g);
	SPIN(&w, cr.failed);
	ck_assert_str_eq(cr.why, "read: Connection reset by peer");
	plain_dead(&w, p);
	close(p);
	SPIN(&w, count(&w) == 0);
	ck_assert_int_eq(log_count(&w, "TLS relay failed"), 2);
	ck_assert_int_eq(log_count(&w, "side=client target=127.0.0.1:"), 1);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

/*
 * other_client - a handshake with the world's server relays by tls.h's
 * client (no SNI, no relay), presenting l. Returns the handshake's
 * result, and then a read's (the server may refuse after its handshake).
 */
static int other_client(struct world *w, const struct leaf *l, int *read)
{
	struct tls_client_opts o = {
		.cert = buf_head(&l->der),
		.cert_len = buf_len(&l->der),
		.key = buf_head(&l->key),
		.key_len = buf_len(&l->key),
		.insecure = true,
	};
	struct tls_client *c = tls_client_new(&o, err, sizeof(err));
	double t0 = ev_time();
	struct tls_conn *t;
	char why[256], b;
	int fd, r;

	ck_assert_msg(c, "%s", err);
	fd = sock_connect(&w->addr);
	t = tls_conn_new(c, fd, "127.0.0.1");
	while ((r = tls_conn_handshake(t, why, sizeof(why))) == -EAGAIN) {
		ev_run(w->loop, EVRUN_ONCE);
		ck_assert(ev_time() - t0 < 5);
	}
	*read = -EAGAIN;
	while (!r && (*read = (int)tls_conn_read(t, &b, 1)) == -EAGAIN) {
		ev_run(w->loop, EVRUN_ONCE);
		ck_assert(ev_time() - t0 < 5);
	}
	tls_conn_free(t);
	close(fd);
	tls_client_free(c);
	return r;
}

/* clients the relays cannot make: the server relay still judges them */
START_TEST(test_other_clients)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct world w;
	struct leaf l;
	int rd;

	world_init(&w, sm);
	w.greet = true;
	/* a good certificate, no SNI: taken */
	leaf_make(&l, &root, WEB, -60, 3600);
	ck_assert_int_eq(other_client(&w, &l, &rd), 0);
	ck_assert_int_eq(rd, 1);
	ck_assert_str_eq(w.srv[0].id, WEB);
	leaf_free(&l);
	/* no dNSName: no identity, refused in the handshake */
	leaf_make(&l, &root, NULL, -60, 3600);
	ck_assert_int_eq(other_client(&w, &l, &rd), -EPROTO);
	ck_assert_int_eq(w.srv[1].fd, -1);
	ck_assert_str_eq(w.srv[1].id, "handshake: the client's certificate "
				      "names no identity (no usable dNSName)");
	leaf_free(&l);
	/* not for clients (extendedKeyUsage serverAuth only): mbedtls checks
	 * that after the handshake; refused then, before any byte */
	leaf_eku(&l, &root, WEB, -60, 3600, true, false);
	ck_assert(other_client(&w, &l, &rd) == -EPROTO || rd < 0);
	ck_assert_int_eq(w.srv[2].fd, -1);
	ck_assert_msg(strstr(w.srv[2].id, "the client's certificate is not "
					  "trusted: Usage does not match the "
					  "extendedKeyUsage extension"),
		      "%s", w.srv[2].id);
	leaf_free(&l);
	ck_assert_int_eq(log_count(&w, "TLS handshake failed"), 2);
	world_free(&w);
	tls_mesh_free(sm);
}
END_TEST

/* --- credentials ------------------------------------------------------------- */

START_TEST(test_rotation)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct tls_relay *c1, *c2;
	struct cli_res cr1, cr2;
	struct leaf l;
	struct world w;
	char got[64];
	int p1, p2;

	world_init(&w, sm);
	c1 = client(&w, cm, EMOJI, &p1, &cr1);
	SPIN(&w, w.srv[0].done);
	ck_assert_str_eq(w.srv[0].id, WEB);

	/* new credentials on both sides; the client's names another identity
	 * so the server shows which one a connection got */
	leaf_make(&l, &root, VOTING, -60, 3600);
	set_cert(cm, &l);
	leaf_free(&l);
	leaf_make(&l, &root, EMOJI, -60, 7200);
	set_cert(sm, &l);
	leaf_free(&l);
	c2 = client(&w, cm, EMOJI, &p2, &cr2);
	SPIN(&w, w.srv[1].done);
	ck_assert_str_eq(w.srv[1].id, VOTING);

	/* the meshes may go: the relays hold what they started with */
	tls_mesh_free(sm);
	tls_mesh_free(cm);
	app_write(&w, p1, "old", 3);
	shutdown(p1, SHUT_WR);
	ck_assert_int_eq(app_read_eof(&w, w.srv[0].fd, got, sizeof(got)), 3);
	ck_assert_str_eq(got, "old");
	app_write(&w, w.srv[0].fd, "still", 5);
	shutdown(w.srv[0].fd, SHUT_WR);
	ck_assert_int_eq(app_read_eof(&w, p1, got, sizeof(got)), 5);
	app_write(&w, p2, "new", 3);
	shutdown(p2, SHUT_WR);
	ck_assert_int_eq(app_read_eof(&w, w.srv[1].fd, got, sizeof(got)), 3);
	shutdown(w.srv[1].fd, SHUT_WR);
	ck_assert_int_eq(app_read_eof(&w, p2, got, sizeof(got)), 0);
	SPIN(&w, count(&w) == 0);
	ck_assert(!cr1.failed && !cr2.failed);
	tls_relay_cancel(c1);
	tls_relay_cancel(c2);
	close(p1);
	close(p2);
	world_free(&w);
}
END_TEST

/*
 * one_exchange - a client connection to w through cm expecting server
 * identity EMOJI: the server sees it as want_id; both ends closed after
 */
static void one_exchange(struct world *w, struct tls_mesh *cm,
			 const char *want_id)
{
	struct cli_res cr;
	struct tls_relay *c;
	char got[16];
	int p, i = w->nsrv;

	c = client(w, cm, EMOJI, &p, &cr);
	SPIN(w, w->srv[i].done);
	ck_assert_msg(w->srv[i].fd >= 0, "%s", w->srv[i].id);
	ck_assert_str_eq(w->srv[i].id, want_id);
	app_write(w, p, "ping", 4);
	shutdown(p, SHUT_WR);
	ck_assert_int_eq(app_read_eof(w, w->srv[i].fd, got, sizeof(got)), 4);
	shutdown(w->srv[i].fd, SHUT_WR);
	ck_assert_int_eq(app_read_eof(w, p, got, sizeof(got)), 0);
	close(p);
	close(w->srv[i].fd);
	w->srv[i].fd = -1;
	SPIN(w, count(w) == 0);
	ck_assert(!cr.failed);
	tls_relay_cancel(c);
}

/*
 * session resumption: the second connection to the same server resumes
 * (no ECDHE, no signatures) and the server still knows who the client
 * is; new credentials on either side start over with a full handshake,
 * and a client with a new certificate shows the new identity
 */
START_TEST(test_resumption)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct leaf l;
	struct world w;

	world_init(&w, sm);
	one_exchange(&w, cm, WEB);
	ck_assert_uint_eq(w.cg.handshakes, 1);
	ck_assert_uint_eq(w.cg.client_resumed, 0);
	one_exchange(&w, cm, WEB);
	ck_assert_uint_eq(w.cg.handshakes, 2);
	ck_assert_uint_eq(w.cg.client_resumed, 1);
	one_exchange(&w, cm, WEB);
	ck_assert_uint_eq(w.cg.client_resumed, 2);

	/* the server's new certificate comes with new ticket keys: the
	 * client's ticket is refused, a full handshake follows */
	leaf_make(&l, &root, EMOJI, -60, 7200);
	set_cert(sm, &l);
	leaf_free(&l);
	one_exchange(&w, cm, WEB);
	ck_assert_uint_eq(w.cg.client_resumed, 2);
	one_exchange(&w, cm, WEB);
	ck_assert_uint_eq(w.cg.client_resumed, 3);

	/* the client's new certificate: no old session is offered, and the
	 * server sees the new identity */
	leaf_make(&l, &root, VOTING, -60, 3600);
	set_cert(cm, &l);
	leaf_free(&l);
	one_exchange(&w, cm, VOTING);
	ck_assert_uint_eq(w.cg.client_resumed, 3);
	one_exchange(&w, cm, VOTING);
	ck_assert_uint_eq(w.cg.client_resumed, 4);
	ck_assert_uint_eq(w.cg.handshakes, 7);
	ck_assert_uint_eq(w.g.handshakes, 7);
	ck_assert_int_eq(log_count(&w, "failed"), 0);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

static int set_chain(struct tls_mesh *m, const struct buf *key,
		     const struct buf *leaf, const struct buf *inter)
{
	const void *p = inter ? buf_head(inter) : NULL;
	size_t len = inter ? buf_len(inter) : 0;

	return tls_mesh_set_cert(m, key ? buf_head(key) : NULL,
				 key ? buf_len(key) : 0,
				 leaf ? buf_head(leaf) : NULL,
				 leaf ? buf_len(leaf) : 0, &p, &len,
				 inter ? 1 : 0, err, sizeof(err));
}

START_TEST(test_set_cert_refusals)
{
	struct tls_mesh *m = mesh(&root.pem, NULL, NULL);
	struct leaf a, b, foreign, nosan, viamid;
	struct buf garbage, mid_der, der_key;
	struct ca mid;
	size_t n;

	leaf_make(&a, &root, WEB, -60, 3600);
	leaf_make(&b, &root, WEB, -60, 3600);
	leaf_make(&foreign, &other, WEB, -60, 3600);
	leaf_make(&nosan, &root, NULL, -60, 3600);
	buf_init(&garbage, 0);
	buf_append_str(&garbage, "-----BEGIN garbage-----\nxx\n");

	ck_assert_int_eq(set_chain(m, &b.key, &a.der, NULL), -EINVAL);
	ck_assert_str_eq(err, "key: not the leaf's key");
	ck_assert(!tls_mesh_has_cert(m));
	ck_assert_int_eq(set_chain(m, &foreign.key, &foreign.der, NULL),
			 -EINVAL);
	ck_assert_msg(str_has_prefix(err, "leaf: does not lead to the anchors: "
					  "The certificate is not correctly "
					  "signed by the trusted CA"),
		      "%s", err);
	ck_assert_int_eq(set_chain(m, &garbage, &a.der, NULL), -EINVAL);
	ck_assert_msg(str_has_prefix(err, "key: "), "%s", err);
	ck_assert_int_eq(set_chain(m, &a.key, &garbage, NULL), -EINVAL);
	ck_assert_msg(str_has_prefix(err, "leaf: "), "%s", err);
	ck_assert_int_eq(set_chain(m, &a.key, &a.der, &garbage), -EINVAL);
	ck_assert_msg(str_has_prefix(err, "intermediate 0: "), "%s", err);
	ck_assert_int_eq(set_chain(m, NULL, &a.der, NULL), -EINVAL);
	ck_assert_str_eq(err, "key: none given");
	ck_assert_int_eq(set_chain(m, &nosan.key, &nosan.der, NULL), -EINVAL);
	ck_assert_str_eq(err, "leaf: no dNSName subjectAltName (the identity)");
	ck_assert(!tls_mesh_has_cert(m));

	/* good, then a bad one: the good one stays */
	ck_assert_msg(set_chain(m, &a.key, &a.der, NULL) == 0, "%s", err);
	ck_assert(tls_mesh_has_cert(m));
	ck_assert_int_eq(set_chain(m, &b.key, &a.der, NULL), -EINVAL);
	ck_assert(tls_mesh_has_cert(m));

	/* through an intermediate, given or missing; and a DER key */
	ca_make(&mid, "identity.conduit.cluster.local", &root);
	leaf_make(&viamid, &mid, WEB, -60, 3600);
	buf_init(&mid_der, 0);
	{
		const uint8_t *d = pki_cert_der(mid.cert, &n);

		buf_append(&mid_der, d, n);
	}
	ck_assert_int_eq(set_chain(m, &viamid.key, &viamid.der, NULL), -EINVAL);
	ck_assert_msg(strstr(err, "does not lead to the anchors"), "%s", err);
	ck_assert_msg(set_chain(m, &viamid.key, &viamid.der, &mid_der) == 0,
		      "%s", err);
	/* the same key as DER */
	buf_init(&der_key, 0);
	{
		char *pem = xstrndup((char *)buf_head(&viamid.key),
				     buf_len(&viamid.key));
		char *b64 = strchr(pem, '\n') + 1, *o = b64;

		*strstr(b64, "-----END") = '\0';
		for (char *i = b64; *i; i++) /* without the newlines */
			if (*i != '\n')
				*o++ = *i;
		*o = '\0';
		ck_assert_int_eq(base64_decode(b64, strlen(b64), &der_key), 0);
		free(pem);
	}
	ck_assert_msg(set_chain(m, &der_key, &viamid.der, &mid_der) == 0,
		      "%s", err);
	buf_release(&der_key);

	/* anchors that are not certificates */
	ck_assert_ptr_null(tls_mesh_new("junk", 4, err, sizeof(err)));
	ck_assert_msg(str_has_prefix(err, "anchors: "), "%s", err);
	ck_assert_ptr_null(tls_mesh_new(NULL, 0, err, sizeof(err)));
	ck_assert_str_eq(err, "anchors: none given");

	buf_release(&mid_der);
	buf_release(&garbage);
	leaf_free(&a);
	leaf_free(&b);
	leaf_free(&foreign);
	leaf_free(&nosan);
	leaf_free(&viamid);
	ca_free(&mid);
	tls_mesh_free(m);
	tls_mesh_free(NULL);
}
END_TEST

/* --- the group --------------------------------------------------------------- */

/*
 * served - the first server relay from i on that handed a plain end over,
 * or -1 (the listener may have accepted connections whose client relays
 * are gone: those fail)
 */
static int served(const struct world *w, int i)
{
	for (; i < w->nsrv; i++)
		if (w->srv[i].done && w->srv[i].fd >= 0)
			return i;
	return -1;
}

/* free_all with relays in every state: nothing leaks (ASan), no callback */
START_TEST(test_free_all)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct tls_relay *dropped, *hs;
	struct sock_addr mute;
	struct cli_res cr[6];
	struct world w;
	int p[6], raw, lfd, fd;
	char e[64];

	world_init(&w, sm);
	w.cgp = &w.g; /* one group for both sides */

	/* finished, its caller still holding it */
	client(&w, cm, EMOJI, &p[0], &cr[0]);
	SPIN(&w, w.srv[0].done);
	shutdown(p[0], SHUT_WR);
	shutdown(w.srv[0].fd, SHUT_WR);
	SPIN(&w, count(&w) == 0);
	ck_assert_ptr_nonnull(w.g.head); /* held for its caller */
	/* relaying (both sides), with bytes in flight */
	client(&w, cm, EMOJI, &p[1], &cr[1]);
	SPIN(&w, w.srv[1].done);
	app_write(&w, p[1], "in flight", 9);
	{
		char tmp[16];

		SPIN(&w, recv(w.srv[1].fd, tmp, sizeof(tmp), MSG_PEEK) == 9);
	}
	/* a server relay in its handshake: half a ClientHello */
	raw = sock_connect(&w.addr);
	SPIN(&w, w.nsrv == 3);
	app_write(&w, raw, "\x16\x03\x01\x00\x80\x01", 6);
	spin_secs(&w, 0.02);
	/* a client relay in its handshake: its peer listens, never answers */
	sock_addr_parse("127.0.0.1:0", &mute, e, sizeof(e));
	lfd = sock_listen(&mute, 4, 0);
	sock_local_addr(lfd, &mute);
	fd = sock_connect(&mute);
	memset(&cr[2], 0, sizeof(cr[2]));
	hs = tls_relay_client(&w.g, cm, fd, &mute, EMOJI, 3, &p[2],
			      on_cli_fail, &cr[2]);
	ck_assert_ptr_nonnull(hs);
	spin_secs(&w, 0.02);
	/* dropped before its handshake: buried, not yet reaped */
	dropped = client(&w, cm, EMOJI, &p[3], &cr[3]);
	tls_relay_cancel(dropped);
	ck_assert_ptr_nonnull(w.g.dead);
	/* connecting: the loop has not run since */
	client(&w, cm, EMOJI, &p[4], &cr[4]);
	ck_assert_uint_eq(count(&w), 5);

	tls_relay_group_free_all(&w.g);
	ck_assert_uint_eq(count(&w), 0);
	ck_assert_ptr_null(w.g.head);
	ck_assert_ptr_null(w.g.dead);
	for (int i = 0; i < 5; i++) {
		ck_assert(!cr[i].failed); /* no callback */
		plain_dead(&w, p[i]);	  /* every caller's end sees the end */
		close(p[i]);
	}
	ck_assert(!w.srv[2].done);
	plain_dead(&w, raw);
	{
		/* the bytes that made it, then the end */
		char got[16];
		ssize_t n = app_read_eof(&w, w.srv[1].fd, got, sizeof(got));

		ck_assert_msg(n == 9 || n == -ECONNRESET, "read %zd", n);
	}
	close(raw);
	close(lfd);
	/* the group goes on working */
	client(&w, cm, EMOJI, &p[5], &cr[5]);
	SPIN(&w, served(&w, 3) >= 0);
	ck_assert_str_eq(w.srv[served(&w, 3)].id, WEB);
	close(p[5]);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
}
END_TEST

START_TEST(test_refusals)
{
	struct tls_mesh *m = mesh(&root.pem, NULL, NULL);
	struct tls_relay_group g;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int sv[2], p;

	tls_relay_group_init(&g, loop);
	/* a server relay needs a certificate; fd is closed either way */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	errno = 0;
	ck_assert_ptr_null(tls_relay_server(&g, m, sv[0], NULL, 0, 1,
					    on_srv_ready, NULL));
	ck_assert_int_eq(errno, ENOKEY);
	ck_assert_int_eq(send(sv[1], "x", 1, MSG_NOSIGNAL), -1);
	close(sv[1]);
	/* a client relay needs an identity to check */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_ptr_null(tls_relay_client(&g, m, sv[0], NULL, "", 1, &p,
					    NULL, NULL));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(p, -1);
	ck_assert_int_eq(send(sv[1], "x", 1, MSG_NOSIGNAL), -1);
	close(sv[1]);
	ck_assert_uint_eq(tls_relay_group_count(&g), 0);
	tls_relay_group_release(&g);
	ev_loop_destroy(loop);
	tls_mesh_free(m);
}
END_TEST

/* --- ClientHello ------------------------------------------------------------- */

/* capture - the ClientHello the mbedtls client relay sends for id */
static size_t capture(const char *id, uint8_t *out)
{
	struct tls_mesh *sm = mesh(&root.pem, &root, EMOJI);
	struct tls_mesh *cm = mesh(&root.pem, &root, WEB);
	struct tls_relay *c;
	struct cli_res cr;
	struct world w;
	size_t n;
	int p;

	world_init(&w, sm);
	w.mode = DETECT;
	c = client(&w, cm, id, &p, &cr);
	SPIN(&w, w.nsrv == 1);
	n = w.hello_len;
	memcpy(out, w.hello, n);
	(void)c;
	close(p);
	world_free(&w);
	tls_mesh_free(sm);
	tls_mesh_free(cm);
	return n;
}

static size_t put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/*
 * strip_sni - the ClientHello in[0..n) (one record) without its
 * server_name extension, lengths fixed. Returns the new length.
 */
static size_t strip_sni(const uint8_t *in, size_t n, uint8_t *out)
{
	const uint8_t *h = in + 9;
	size_t pos = 34, o, ext_start, removed = 0;

	pos += 1 + h[pos];			   /* session_id */
	pos += 2 + ((size_t)h[pos] << 8 | h[pos + 1]); /* cipher_suites */
	pos += 1 + h[pos];			   /* compression */
	ext_start = pos + 2;
	memcpy(out, in, 9 + ext_start);
	o = 9 + ext_start;
	for (pos = ext_start; 9 + pos < n;) {
		size_t type = (size_t)h[pos] << 8 | h[pos + 1];
		size_t len = (size_t)h[pos + 2] << 8 | h[pos + 3];

		if (type == 0)
			removed += 4 + len;
		else {
			memcpy(out + o, h + pos, 4 + len);
			o += 4 + len;
		}
		pos += 4 + len;
	}
	ck_assert_uint_gt(removed, 0);
	put16(out + 3, o - 5);				   /* record */
	out[6] = 0;					   /* handshake */
	put16(out + 7, o - 9);
	put16(out + 9 + ext_start - 2, o - 9 - ext_start); /* extensions */
	return o;
}

/* reframe - the handshake bytes of in (one record) over records of size
 * at most frag */
static size_t reframe(const uint8_t *in, size_t n, size_t frag, uint8_t *out)
{
	size_t o = 0;

	for (size_t pos = 5; pos < n;) {
		size_t len = MIN(frag, n - pos);

		memcpy(out + o, in, 3);
		put16(out + o + 3, len);
		memcpy(out + o + 5, in + pos, len);
		o += 5 + len;
		pos += len;
	}
	return o;
}

START_TEST(test_sni_captured)
{
	static uint8_t hello[TLS_CLIENT_HELLO_MAX + 64], mod[sizeof(hello)],
	    split[2 * sizeof(hello)];
	char out[256], small[16];
	size_t n, m, s;

	n = capture(EMOJI, hello);
	ck_assert_uint_gt(n, 50);
	ck_assert_uint_eq(n, 5 + ((size_t)hello[3] << 8 | hello[4]));
	ck_assert_int_eq(tls_client_hello_sni(hello, n, out, sizeof(out)), 1);
	ck_assert_str_eq(out, EMOJI);
	/* every shorter prefix asks for more */
	for (size_t k = 0; k < n; k++)
		ck_assert_msg(tls_client_hello_sni(hello, k, out, sizeof(out)) ==
				  -EAGAIN,
			      "prefix of %zu", k);
	/* bytes after it do not matter */
	memcpy(mod, hello, n);
	memcpy(mod + n, "\x17\x03\x03garbage", 10);
	ck_assert_int_eq(tls_client_hello_sni(mod, n + 10, out, sizeof(out)), 1);
	/* too small a buffer; the NUL counts */
	ck_assert_int_eq(tls_client_hello_sni(hello, n, small, sizeof(small)),
			 -ENAMETOOLONG);
	ck_assert_int_eq(tls_client_hello_sni(hello, n, out, strlen(EMOJI)),
			 -ENAMETOOLONG);
	ck_assert_int_eq(tls_client_hello_sni(hello, n, out, strlen(EMOJI) + 1),
			 1);

	/* without the extension: complete, no name */
	m = strip_sni(hello, n, mod);
	ck_assert_uint_lt(m, n);
	ck_assert_int_eq(tls_client_hello_sni(mod, m, out, sizeof(out)), 0);
	ck_assert_int_eq(tls_client_hello_sni(mod, m - 1, out, sizeof(out)),
			 -EAGAIN);

	/* one byte per record, or a few records: put back together */
	for (size_t frag = 1; frag < n; frag = frag * 3 + 1) {
		s = reframe(hello, n, frag, split);
		ck_assert_int_eq(tls_client_hello_sni(split, s, out, sizeof(out)),
				 1);
		ck_assert_str_eq(out, EMOJI);
		ck_assert_int_eq(tls_client_hello_sni(split, s - 1, out,
						      sizeof(out)),
				 -EAGAIN);
	}

	/* damage: not a handshake record, not a ClientHello, bad lengths */
	memcpy(mod, hello, n);
	mod[0] = 0x17;
	ck_assert_int_eq(tls_client_hello_sni(mod, n, out, sizeof(out)), -EPROTO);
	ck_assert_int_eq(tls_client_hello_sni(mod, 1, out, sizeof(out)), -EPROTO);
	memcpy(mod, hello, n);
	mod[5] = 2; /* a ServerHello */
	ck_assert_int_eq(tls_client_hello_sni(mod, n, out, sizeof(out)), -EPROTO);
	memcpy(mod, hello, n);
	mod[3] = 0x40; /* a record over 16 KiB */
	mod[4] = 0x01;
	ck_assert_int_eq(tls_client_hello_sni(mod, 5, out, sizeof(out)), -EPROTO);
	memcpy(mod, hello, n);
	mod[6] = 0x01; /* a ClientHello over 16 KiB */
	ck_assert_int_eq(tls_client_hello_sni(mod, n, out, sizeof(out)), -EPROTO);
	/* the record shorter than the handshake says: more records needed,
	 * and what follows is not one */
	memcpy(mod, hello, n);
	put16(mod + 3, n - 5 - 10);
	mod[n - 10] = 0x17;
	ck_assert_int_eq(tls_client_hello_sni(mod, n - 10, out, sizeof(out)),
			 -EAGAIN);
	ck_assert_int_eq(tls_client_hello_sni(mod, n, out, sizeof(out)), -EPROTO);
	ck_assert_int_eq(tls_client_hello_sni((const uint8_t *)"GET / HTTP/1.1\r\n",
					      16, out, sizeof(out)),
			 -EPROTO);
	ck_assert_int_eq(tls_client_hello_sni(NULL, 0, out, sizeof(out)), -EAGAIN);

	/* a long name: 4 labels of 60 */
	{
		char id[256];

		memset(id, 'a', 243);
		id[60] = id[121] = id[182] = '.';
		id[243] = '\0';
		n = capture(id, hello);
		ck_assert_int_eq(tls_client_hello_sni(hello, n, out, 64),
				 -ENAMETOOLONG);
		ck_assert_int_eq(tls_client_hello_sni(hello, n, out, sizeof(out)),
				 1);
		ck_assert_str_eq(out, id);
	}
}
END_TEST

/* a ClientHello built by hand around the extensions given */
static size_t hello_with(const uint8_t *ext, size_t ext_len, bool no_ext,
			 uint8_t *out)
{
	size_t o = 9, start;

	out[0] = 0x16;
	out[1] = 3;
	out[2] = 1;
	out[5] = 1;
	out[o++] = 3;
	out[o++] = 3;
	memset(out + o, 0x42, 32); /* random */
	o += 32;
	out[o++] = 0;		   /* session_id */
	o += put16(out + o, 2);	   /* cipher_suites */
	o += put16(out + o, 0xc02b);
	out[o++] = 1; /* compression: null */
	out[o++] = 0;
	if (!no_ext) {
		o += put16(out + o, ext_len);
		if (ext_len)
			memcpy(out + o, ext, ext_len);
		o += ext_len;
	}
	start = o;
	put16(out + 3, start - 5);
	out[6] = 0;
	put16(out + 7, start - 9);
	return start;
}

START_TEST(test_sni_built)
{
	uint8_t h[512];
	char out[64];
	size_t n;
	/* server_name: list(len 8): host_name "a.b" */
#define SN(...)                              \
	((const uint8_t[]){__VA_ARGS__}),    \
	    sizeof((const uint8_t[]){__VA_ARGS__})
	n = hello_with(SN(0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', '.', 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), 1);
	ck_assert_str_eq(out, "a.b");
	/* no extensions at all; an empty list of extensions */
	n = hello_with(NULL, 0, true, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), 0);
	n = hello_with(NULL, 0, false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), 0);
	/* another extension only */
	n = hello_with(SN(0, 10, 0, 2, 0, 0), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), 0);
	/* a name type other than host_name first: skipped */
	n = hello_with(SN(0, 0, 0, 12, 0, 10, 7, 0, 1, 'x', 0, 0, 3, 'a', '.', 'b'),
		       false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), 1);
	ck_assert_str_eq(out, "a.b");
	/* server_name twice */
	n = hello_with(SN(0, 0, 0, 6, 0, 4, 0, 0, 1, 'a', 0, 0, 0, 6, 0, 4, 0,
			  0, 1, 'b'),
		       false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	/* an empty name, a NUL in it, a space, a byte over 0x7e */
	n = hello_with(SN(0, 0, 0, 5, 0, 3, 0, 0, 0), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(SN(0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', 0, 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(SN(0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', ' ', 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(SN(0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', 0xc3, 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	/* lengths that disagree: the list, the name, the extensions */
	n = hello_with(SN(0, 0, 0, 8, 0, 7, 0, 0, 3, 'a', '.', 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(SN(0, 0, 0, 8, 0, 6, 0, 0, 4, 'a', '.', 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(SN(0, 0, 0, 9, 0, 6, 0, 0, 3, 'a', '.', 'b'), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(SN(0, 0, 0, 8, 0, 6, 0, 0, 3, 'a', '.', 'b', 0), false, h);
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	/* a session id over 32 bytes */
	n = hello_with(NULL, 0, true, h);
	h[9 + 34] = 33;
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	/* no compression method; an odd cipher_suites length */
	n = hello_with(NULL, 0, true, h);
	h[n - 2] = 0;
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
	n = hello_with(NULL, 0, true, h);
	h[9 + 35 + 1] = 3;
	ck_assert_int_eq(tls_client_hello_sni(h, n, out, sizeof(out)), -EPROTO);
#undef SN
}
END_TEST

Suite *tls_relay_suite(void)
{
	Suite *s = suite_create("tls_relay");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mtls);
	tcase_add_test(tc, test_caller_closes);
	tcase_add_test(tc, test_client_without_cert);
	tcase_add_test(tc, test_latency);
	tcase_add_test(tc, test_transfer);
	tcase_add_test(tc, test_small_records);
	tcase_add_test(tc, test_wrong_anchors);
	tcase_add_test(tc, test_wrong_identity);
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_handshake_timeouts);
	tcase_add_test(tc, test_reset_mid_stream);
	tcase_add_test(tc, test_other_clients);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_resumption);
	tcase_add_test(tc, test_set_cert_refusals);
	tcase_add_test(tc, test_free_all);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_sni_captured);
	tcase_add_test(tc, test_sni_built);
	suite_add_tcase(s, tc);
	return s;
}
