/* SPDX-License-Identifier: Apache-2.0 */
/* loop.c - libev helpers: signals, deferred frees */
#include "conduit/loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "conduit/log.h"

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct loop_signals *s = w->data;

	(void)revents;
	s->stop_requests++;
	if (!s->last_signal)
		s->last_signal = w->signum;
	if (s->stop_requests > 1 || !s->on_stop) {
		if (s->stop_requests > 1)
			log_warn("second stop signal, stopping now",
				 "signal=%d", w->signum);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	log_info("stop signal, shutting down gracefully", "signal=%d",
		 w->signum);
	s->on_stop(s, w->signum);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct loop_signals *s = w->data;

	(void)loop;
	(void)revents;
	log_info("SIGHUP", "reload=%s", s->on_reload ? "yes" : "no");
	if (s->on_reload)
		s->on_reload(s);
}

void loop_signals_init(struct loop_signals *s, struct ev_loop *loop,
		       void (*on_stop)(struct loop_signals *, int),
		       void (*on_reload)(struct loop_signals *))
{
	s->loop = loop;
	s->stop_requests = 0;
	s->last_signal = 0;
	s->on_stop = on_stop;
	s->on_reload = on_reload;
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&s->term, on_stop_signal, SIGTERM);
	ev_signal_init(&s->intr, on_stop_signal, SIGINT);
	ev_signal_init(&s->hup, on_hup, SIGHUP);
	s->term.data = s->intr.data = s->hup.data = s;
	ev_signal_start(loop, &s->term);
	ev_signal_start(loop, &s->intr);
	ev_signal_start(loop, &s->hup);
	/* signal watchers must not keep the loop alive on their own */
	ev_unref(loop);
	ev_unref(loop);
	ev_unref(loop);
}

void loop_signals_release(struct loop_signals *s)
{
	ev_ref(s->loop);
	ev_ref(s->loop);
	ev_ref(s->loop);
	ev_signal_stop(s->loop, &s->term);
	ev_signal_stop(s->loop, &s->intr);
	ev_signal_stop(s->loop, &s->hup);
}

int loop_reaper_run(struct loop_reaper *rp)
{
	int n = 0;

	/* a free may queue more objects: loop until the list stays empty */
	while (rp->head) {
		struct loop_reap *r = rp->head;

		rp->head = r->next;
		r->queued = false;
		r->free(r);
		n++;
	}
	return n;
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	struct loop_reaper *rp = container_of(w, struct loop_reaper, check);

	(void)loop;
	(void)revents;
	loop_reaper_run(rp);
}

void loop_reaper_init(struct loop_reaper *rp, struct ev_loop *loop)
{
	rp->loop = loop;
	rp->head = NULL;
	ev_check_init(&rp->check, on_check);
	/*
	 * Check watchers are queued after each poll together with that
	 * iteration's events. At the lowest priority the reaper runs after
	 * every other callback of the iteration, so what they defer is freed
	 * before the loop blocks again, not after the next event wakes it.
	 */
	ev_set_priority(&rp->check, EV_MINPRI);
	ev_check_start(loop, &rp->check);
	ev_unref(loop);
}

void loop_reaper_release(struct loop_reaper *rp)
{
	loop_reaper_run(rp);
	ev_ref(rp->loop);
	ev_check_stop(rp->loop, &rp->check);
}

void loop_reaper_defer(struct loop_reaper *rp, struct loop_reap *r)
{
	if (r->queued)
		return;
	r->queued = true;
	r->next = rp->head;
	rp->head = r;
}

/* --- listeners --------------------------------------------------------------- */

#define ACCEPT_BATCH 64 /* accepts per wakeup */

static void on_listener(struct ev_loop *loop, ev_io *w, int revents)
{
	struct loop_listener *l = container_of(w, struct loop_listener, io);

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH && l->fd >= 0; i++) {
		struct sock_addr peer;
		int fd = sock_accept(l->fd, &peer);

		if (fd == -EAGAIN || fd == -EINTR)
			return;
		if (fd < 0) {
			/* EMFILE and friends: the next wakeup tries again */
			log_warn("accept failed", "server=%s reason=\"%s\"",
				 l->name ? l->name : "-", strerror(-fd));
			return;
		}
		l->on_accept(l, fd, &peer);
	}
}

void loop_listener_init(struct loop_listener *l, struct ev_loop *loop,
			const char *name,
			void (*on_accept)(struct loop_listener *l, int fd,
					  const struct sock_addr *peer))
{
	memset(l, 0, sizeof(*l));
	l->loop = loop;
	l->fd = -1;
	l->name = name;
	l->on_accept = on_accept;
}

int loop_listener_start(struct loop_listener *l, const struct sock_addr *a)
{
	int fd;

	if (l->fd >= 0)
		return -EALREADY;
	fd = sock_listen(a, 128, 0);
	if (fd < 0)
		return fd;
	l->fd = fd;
	ev_io_init(&l->io, on_listener, fd, EV_READ);
	ev_io_start(l->loop, &l->io);
	return 0;
}

int loop_listener_addr(const struct loop_listener *l, struct sock_addr *out)
{
	if (l->fd < 0)
		return -ENOTCONN;
	return sock_local_addr(l->fd, out);
}

void loop_listener_stop(struct loop_listener *l)
{
	if (l->fd < 0)
		return;
	ev_io_stop(l->loop, &l->io);
	close(l->fd);
	l->fd = -1;
}
