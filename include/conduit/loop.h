/* SPDX-License-Identifier: Apache-2.0 */
/* loop.h - libev helpers: signals, deferred frees */
#ifndef CONDUIT_LOOP_H
#define CONDUIT_LOOP_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/sock.h"

/*
 * Signals every long-running applet handles the same way:
 *   SIGTERM, SIGINT - graceful stop: on_stop() runs once (stop accepting,
 *                     drain). A second one stops the loop at once.
 *   SIGHUP          - on_reload() (re-read configuration), if set.
 *   SIGPIPE         - ignored: a peer that goes away is an EPIPE, not a
 *                     death.
 * Without on_stop the first signal breaks the loop.
 */
struct loop_signals {
	struct ev_loop *loop;
	ev_signal term;
	ev_signal intr;
	ev_signal hup;
	int stop_requests; /* SIGTERM/SIGINT seen so far */
	int last_signal;   /* the signal that asked to stop, or 0 */
	void (*on_stop)(struct loop_signals *s, int signum);
	void (*on_reload)(struct loop_signals *s);
};

/* loop_signals_init - install the watchers on loop; callbacks may be NULL */
void loop_signals_init(struct loop_signals *s, struct ev_loop *loop,
		       void (*on_stop)(struct loop_signals *, int),
		       void (*on_reload)(struct loop_signals *));
void loop_signals_release(struct loop_signals *s);

/*
 * Deferred frees: a callback never frees the object it belongs to while
 * libev may still touch it. It queues the object with loop_reaper_defer()
 * and the reaper's check watcher frees it after the loop iteration.
 */
struct loop_reap {
	struct loop_reap *next;
	void (*free)(struct loop_reap *r);
	bool queued;
};

struct loop_reaper {
	struct ev_loop *loop;
	ev_check check;
	struct loop_reap *head;
};

void loop_reaper_init(struct loop_reaper *rp, struct ev_loop *loop);
/* loop_reaper_release - free everything still queued, stop the watcher */
void loop_reaper_release(struct loop_reaper *rp);
/* loop_reaper_defer - free r with r->free after this iteration (once) */
void loop_reaper_defer(struct loop_reaper *rp, struct loop_reap *r);
/* loop_reaper_run - free what is queued now; returns how many */
int loop_reaper_run(struct loop_reaper *rp);

/*
 * A listening socket on a loop: each accepted connection (non-blocking,
 * close-on-exec) goes to on_accept, which owns its fd. At most 64 accepts
 * per wakeup, so a flood of connections cannot starve the loop. Embedded:
 * loop_listener_init, then _start / _stop (stop also closes).
 */
struct loop_listener {
	struct ev_loop *loop;
	ev_io io;
	int fd;			/* -1 while not listening */
	const char *name;	/* for log lines; borrowed */
	void (*on_accept)(struct loop_listener *l, int fd,
			  const struct sock_addr *peer);
};

void loop_listener_init(struct loop_listener *l, struct ev_loop *loop,
			const char *name,
			void (*on_accept)(struct loop_listener *l, int fd,
					  const struct sock_addr *peer));
/*
 * loop_listener_start - listen on a (port 0: any) with a backlog of 128.
 * Returns 0, -EALREADY (listening), or the negative errno of
 * socket/bind/listen.
 */
int loop_listener_start(struct loop_listener *l, const struct sock_addr *a);
/* loop_listener_addr - where it listens: 0, or -ENOTCONN */
int loop_listener_addr(const struct loop_listener *l, struct sock_addr *out);
/* loop_listener_stop - stop and close; a no-op when not listening */
void loop_listener_stop(struct loop_listener *l);

#endif
