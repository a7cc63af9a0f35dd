/* SPDX-License-Identifier: Apache-2.0 */
/* loop.h - libev helpers: signals, deferred frees */
#ifndef CONDUIT_LOOP_H
#define CONDUIT_LOOP_H

#include <ev.h>

#include "conduit/base.h"

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

#endif
