/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_tcp.c - the opaque TCP relay: splice(2) both ways, half-close, backpressure */
#include "conduit/proxy_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/log.h"
#include "conduit/time.h"

#define FLOW_BUF (64u << 10)	 /* a flow's buffer when it cannot splice */
#define SPLICE_MAX (1u << 20)	 /* ask for this much; the pipe takes less */
#define PUMP_ROUNDS 16		 /* reads per wakeup: fairness */

struct tcp;

struct side {
	int fd;
	ev_io rd;	/* data: the flow out of this side */
	ev_io wr;	/* data: the flow into this side */
	const char *name;
};

/* bytes from one side to the other */
struct flow {
	struct tcp *t;
	struct side *from, *to;
	int pipe[2];		/* -1: not (yet) splicing */
	size_t in_pipe;		/* bytes in the pipe */
	struct buf buf;		/* the detection bytes; or all, without pipe */
	bool no_pipe;		/* relay through buf */
	bool eof;		/* `from` sent its FIN */
	bool shut;		/* we sent `to` a FIN */
	uint64_t bytes;		/* relayed, for the close line */
	struct metrics_series *read_bytes;  /* read from `from` */
	struct metrics_series *write_bytes; /* written to `to` */
};

struct tcp {
	struct proxy_conn *c;
	struct side client, server;
	struct flow up;		/* client -> server */
	struct flow down;	/* server -> client */
	ev_timer timer;		/* connect, then idle timeout */
	ev_tstamp last_active;
	bool connected;
	bool dst_counted;	/* dst open metrics taken */
};

/*
 * tcp_error - a read from or write to side failed (a reset, mostly): reset
 * both sides, so neither peer takes a truncated stream for a whole one.
 */
static void tcp_error(struct tcp *t, const struct side *side, const char *op,
		      int err)
{
	struct proxy_conn *c = t->c;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char a[SOCK_ADDR_STRLEN], e[64];

	log_debug("relay failed: resetting both sides",
		  "dir=%s target=%s side=%s op=%s error=%s",
		  proxy_dir_name(c->dir),
		  sock_addr_format(&c->target, a, sizeof(a)), side->name, op,
		  proxy_errstr(err, e, sizeof(e)));
	if (t->server.fd >= 0)
		setsockopt(t->server.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	proxy_conn_abort(c);
}

static inline bool pending(const struct flow *f)
{
	return f->in_pipe || buf_len(&f->buf);
}

static inline void moved(struct flow *f, struct metrics_series *s, size_t n)
{
	metrics_counter_add(s, (double)n);
	f->t->last_active = ev_now(f->t->c->px->loop);
}

/* flush - write what the flow holds. 0 (maybe still pending) or -errno */
static int flush(struct flow *f)
{
	ssize_t n;

	if (buf_len(&f->buf)) {
		n = buf_write_fd(&f->buf, f->to->fd);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		moved(f, f->write_bytes, (size_t)n);
		f->bytes += (uint64_t)n;
		if (buf_len(&f->buf))
			return 0;
		/* the detection bytes are out: splicing needs no buffer */
		if (!f->no_pipe)
			buf_release(&f->buf);
	}
	while (f->in_pipe) {
		n = splice(f->pipe[0], NULL, f->to->fd, NULL, f->in_pipe,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n == 0)
			return -EPIPE; /* a pipe holding bytes never says EOF */
		f->in_pipe -= (size_t)n;
		f->bytes += (uint64_t)n;
		moved(f, f->write_bytes, (size_t)n);
	}
	return 0;
}

/*
 * fill - read from `from` into the (empty) flow. Returns bytes read, 0 at
 * EOF, -EAGAIN when nothing is there, or another -errno. The flow reads
 * only when empty, so a splice EAGAIN means the socket, not the pipe.
 */
static ssize_t fill(struct flow *f)
{
	struct proxy *px = f->t->c->px;
	ssize_t n;

	if (!f->no_pipe && f->pipe[0] < 0) {
		int r = proxy_pipe_get(px, f->pipe);
		char e[64];

		if (r) {
			log_debug("no pipe for splice: relaying through a buffer",
				  "error=%s", proxy_errstr(-r, e, sizeof(e)));
			f->no_pipe = true;
		}
	}
	if (f->no_pipe) {
		n = buf_read_fd(&f->buf, f->from->fd, buf_room(&f->buf));
	} else {
		do {
			n = splice(f->from->fd, NULL, f->pipe[1], NULL,
				   SPLICE_MAX, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			n = -errno;
		else
			f->in_pipe += (size_t)n;
	}
	if (n > 0)
		moved(f, f->read_bytes, (size_t)n);
	return n;
}

static void watch(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on)
		ev_io_start(loop, w);
	else
		ev_io_stop(loop, w);
}

/*
 * pump - move one flow's bytes as far as the sockets allow, then watch
 * for what would let it go on: `to` writable while bytes wait, `from`
 * readable while the flow is empty and open.
 */
static void pump(struct flow *f)
{
	struct tcp *t = f->t;
	struct ev_loop *loop = t->c->px->loop;
	int r;

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t n;

		r = flush(f);
		if (r) {
			tcp_error(t, f->to, "write", -r);
			return;
		}
		if (pending(f) || f->eof)
			break;
		n = fill(f);
		if (n == -EAGAIN) {
			/* dry and empty: the pipe goes back to the shared
			 * cache, so an idle relay holds two sockets and no
			 * pipe (fds, and the kernel's per-user pipe quota) */
			proxy_pipe_put(t->c->px, f->pipe);
			break;
		}
		if (n < 0) {
			tcp_error(t, f->from, "read", (int)-n);
			return;
		}
		if (n == 0)
			f->eof = true;
	}
	/* after the loop, not in it: an EOF read in the last round would
	 * otherwise leave the flow with no FIN sent and nothing watched */
	if (f->eof && !pending(f) && !f->shut) {
		f->shut = true;
		shutdown(f->to->fd, SHUT_WR);
	}
	watch(loop, &f->from->rd, !f->eof && !pending(f));
	watch(loop, &f->to->wr, pending(f));
	if (t->up.shut && t->down.shut)
		proxy_conn_close(t->c);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp *t = container_of(w, struct tcp, timer);
	struct proxy_conn *c = t->c;
	char a[SOCK_ADDR_STRLEN], d[32];
	ev_tstamp idle, left;

	(void)revents;
	if (!t->connected) {
		log_warn("connect timed out: closing the client connection",
			 "dir=%s target=%s timeout=%s", proxy_dir_name(c->dir),
			 sock_addr_format(&c->target, a, sizeof(a)),
			 time_format_duration(proxy_connect_timeout(c), d,
					      sizeof(d)));
		proxy_conn_close(c);
		return;
	}
	idle = (double)c->px->cfg->tcp_idle_timeout / NSEC_PER_SEC;
	left = t->last_active + idle - ev_now(loop);
	if (left > 0) {
		/* activity since the timer was set: sleep for the rest */
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	log_debug("idle timeout: closing", "dir=%s target=%s idle=%s",
		  proxy_dir_name(c->dir),
		  sock_addr_format(&c->target, a, sizeof(a)),
		  time_format_duration(c->px->cfg->tcp_idle_timeout, d,
				       sizeof(d)));
	proxy_conn_close(c);
}

static void on_connected(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp *t = w->data;
	struct proxy_conn *c = t->c;
	int64_t idle = c->px->cfg->tcp_idle_timeout;
	char a[SOCK_ADDR_STRLEN], e[64];
	int err;

	(void)revents;
	ev_io_stop(loop, w);
	ev_timer_stop(loop, &t->timer);
	err = sock_error(t->server.fd);
	if (err) {
		log_warn("connect failed: closing the client connection",
			 "dir=%s target=%s error=%s", proxy_dir_name(c->dir),
			 sock_addr_format(&c->target, a, sizeof(a)),
			 proxy_errstr(-err, e, sizeof(e)));
		proxy_conn_close(c);
		return;
	}
	t->connected = true;
	t->dst_counted = true;
	metrics_counter_inc(c->metrics->dst.open_total);
	metrics_gauge_add(c->metrics->dst.open_conns, 1);
	t->last_active = ev_now(loop);
	if (idle > 0) {
		ev_timer_set(&t->timer, (double)idle / NSEC_PER_SEC, 0);
		ev_timer_start(loop, &t->timer);
	}
	/* from now on the server's writability feeds the up flow */
	ev_io_init(&t->server.wr, on_io, t->server.fd, EV_WRITE);
	t->server.wr.data = &t->up;
	pump(&t->up);
	if (c->state != PROXY_CONN_CLOSED)
		pump(&t->down);
}

static void flow_init(struct tcp *t, struct flow *f, struct side *from,
		      struct side *to, struct metrics_series *read_bytes,
		      struct metrics_series *write_bytes)
{
	f->t = t;
	f->from = from;
	f->to = to;
	f->pipe[0] = f->pipe[1] = -1;
	buf_init(&f->buf, FLOW_BUF);
	f->read_bytes = read_bytes;
	f->write_bytes = write_bytes;
}

static int tcp_start(struct proxy_conn *c)
{
	struct proxy *px = c->px;
	struct tcp *t = pool_get(&px->tcp_pool);
	char a[SOCK_ADDR_STRLEN], e[64];
	int fd;

	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->c = c;
	c->ctx = t;
	t->client = (struct side){ .fd = c->fd, .name = "client" };
	t->server = (struct side){ .fd = -1, .name = "server" };
	flow_init(t, &t->up, &t->client, &t->server,
		  c->metrics->src.read_bytes, c->metrics->dst.write_bytes);
	flow_init(t, &t->down, &t->server, &t->client,
		  c->metrics->dst.read_bytes, c->metrics->src.write_bytes);
	/* what the client said while we listened goes first */
	buf_release(&t->up.buf);
	t->up.buf = c->prefix;
	t->up.buf.max = FLOW_BUF;
	buf_init(&c->prefix, PROXY_DETECT_BUF);
	ev_timer_init(&t->timer, on_timer, 0, 0);

	fd = sock_connect(&c->target);
	if (fd < 0) {
		log_warn("connect failed: closing the client connection",
			 "dir=%s target=%s error=%s", proxy_dir_name(c->dir),
			 sock_addr_format(&c->target, a, sizeof(a)),
			 proxy_errstr(-fd, e, sizeof(e)));
		return fd;
	}
	sock_set_nodelay(fd);
	t->server.fd = fd;
	ev_io_init(&t->client.rd, on_io, c->fd, EV_READ);
	ev_io_init(&t->client.wr, on_io, c->fd, EV_WRITE);
	ev_io_init(&t->server.rd, on_io, fd, EV_READ);
	ev_io_init(&t->server.wr, on_connected, fd, EV_WRITE);
	t->client.rd.data = &t->up;
	t->client.wr.data = &t->down;
	t->server.rd.data = &t->down;
	t->server.wr.data = t;
	/* the client's bytes wait in its socket until the server answers */
	ev_io_start(px->loop, &t->server.wr);
	if (proxy_connect_timeout(c) > 0) { /* 0: the kernel's own */
		ev_timer_set(&t->timer,
			     (double)proxy_connect_timeout(c) / NSEC_PER_SEC, 0);
		ev_timer_start(px->loop, &t->timer);
	}
	return 0;
}

/* take - move b into a flow's buffer; a flow buffer holds FLOW_BUF */
static void take(struct flow *f, struct buf *b)
{
	buf_release(&f->buf);
	f->buf = *b;
	f->buf.max = MAX((size_t)FLOW_BUF, buf_len(b));
	buf_init(b, b->max);
}

int proxy_tcp_adopt(struct proxy_conn *c, int server_fd, struct buf *up,
		    struct buf *down)
{
	struct proxy *px = c->px;
	struct tcp *t = pool_get(&px->tcp_pool);

	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->client = (struct side){ .fd = c->fd, .name = "client" };
	t->server = (struct side){ .fd = server_fd, .name = "server" };
	flow_init(t, &t->up, &t->client, &t->server,
		  c->metrics->src.read_bytes, c->metrics->dst.write_bytes);
	flow_init(t, &t->down, &t->server, &t->client,
		  c->metrics->dst.read_bytes, c->metrics->src.write_bytes);
	take(&t->up, up);
	take(&t->down, down);
	ev_timer_init(&t->timer, on_timer, 0, 0);
	ev_io_init(&t->client.rd, on_io, c->fd, EV_READ);
	ev_io_init(&t->client.wr, on_io, c->fd, EV_WRITE);
	ev_io_init(&t->server.rd, on_io, server_fd, EV_READ);
	ev_io_init(&t->server.wr, on_io, server_fd, EV_WRITE);
	t->client.rd.data = &t->up;
	t->client.wr.data = &t->down;
	t->server.rd.data = &t->down;
	t->server.wr.data = &t->up;
	t->connected = true;
	t->dst_counted = true;
	t->last_active = ev_now(px->loop);
	c->handler = &proxy_tcp_handler;
	c->ctx = t;
	if (px->cfg->tcp_idle_timeout > 0) {
		ev_timer_set(&t->timer,
			     (double)px->cfg->tcp_idle_timeout / NSEC_PER_SEC, 0);
		ev_timer_start(px->loop, &t->timer);
	}
	pump(&t->up);
	if (c->state != PROXY_CONN_CLOSED)
		pump(&t->down);
	return 0;
}

static void flow_stop(struct proxy *px, struct flow *f)
{
	if (f->in_pipe) {
		/* bytes nobody will take: the pipe cannot be reused */
		close(f->pipe[0]);
		close(f->pipe[1]);
		f->pipe[0] = f->pipe[1] = -1;
	}
	proxy_pipe_put(px, f->pipe);
	buf_release(&f->buf);
}

static void tcp_stop(struct proxy_conn *c)
{
	struct tcp *t = c->ctx;
	struct proxy *px = c->px;
	struct ev_loop *loop = px->loop;
	char a[SOCK_ADDR_STRLEN];

	if (!t)
		return;
	ev_io_stop(loop, &t->client.rd);
	ev_io_stop(loop, &t->client.wr);
	ev_io_stop(loop, &t->server.rd);
	ev_io_stop(loop, &t->server.wr);
	ev_timer_stop(loop, &t->timer);
	if (t->server.fd >= 0) {
		close(t->server.fd);
		t->server.fd = -1;
	}
	if (t->dst_counted) {
		metrics_counter_inc(c->metrics->dst.close_total);
		metrics_gauge_add(c->metrics->dst.open_conns, -1);
		t->dst_counted = false;
	}
	log_debug("connection closed",
		  "dir=%s proto=%s target=%s sent=%llu received=%llu ms=%lld",
		  proxy_dir_name(c->dir), proxy_proto_name(c->proto),
		  sock_addr_format(&c->target, a, sizeof(a)),
		  (unsigned long long)t->up.bytes,
		  (unsigned long long)t->down.bytes,
		  (long long)((time_mono_ns() - c->accepted_ns) / NSEC_PER_MSEC));
	flow_stop(px, &t->up);
	flow_stop(px, &t->down);
}

static void tcp_release(struct proxy_conn *c)
{
	if (c->ctx)
		pool_put(&c->px->tcp_pool, c->ctx);
	c->ctx = NULL;
}

const struct proxy_handler proxy_tcp_handler = {
	.name = "tcp",
	.start = tcp_start,
	.drain = NULL,
	.stop = tcp_stop,
	.release = tcp_release,
};

void proxy_tcp_pool_init(struct proxy *px)
{
	pool_init(&px->tcp_pool, sizeof(struct tcp), 64,
		  (size_t)px->cfg->max_connections);
}

void proxy_tcp_pool_release(struct proxy *px)
{
	pool_release(&px->tcp_pool);
}
