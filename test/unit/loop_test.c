/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loop_test.c - unit tests for loop.c: stop/reload signals and the reaper.
 * The signal tests raise real signals: run them forked (Check's default).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conduit/log.h"
#include "conduit/loop.h"
#include "conduit/time.h"
#include "suites.h"

/*
 * A test loop: `kick` raises the signals in `plan`, one per tick, from
 * inside the loop; `guard` ends the run if nothing else did.
 */
struct sigtest {
	struct ev_loop *loop;
	struct loop_signals sig;
	ev_timer kick;
	ev_timer guard;
	int plan[4];
	int nplan, next;
	int stops, reloads, stop_signum;
	bool guard_fired;
	bool stop_ends_run; /* on_stop stops the guard: the loop drains */
	FILE *logs;
};

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sigtest *t = container_of(w, struct sigtest, kick);

	(void)revents;
	if (t->next < t->nplan)
		raise(t->plan[t->next++]);
	if (t->next == t->nplan)
		ev_timer_stop(loop, w);
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sigtest *t = container_of(w, struct sigtest, guard);

	(void)revents;
	t->guard_fired = true;
	ev_break(loop, EVBREAK_ALL);
}

static void on_stop(struct loop_signals *s, int signum)
{
	struct sigtest *t = container_of(s, struct sigtest, sig);

	t->stops++;
	t->stop_signum = signum;
	if (t->stop_ends_run)
		ev_timer_stop(t->loop, &t->guard);
}

static void on_reload(struct loop_signals *s)
{
	struct sigtest *t = container_of(s, struct sigtest, sig);

	t->reloads++;
}

enum {
	WITH_STOP = 1 << 0,	/* install on_stop */
	WITH_RELOAD = 1 << 1,	/* install on_reload */
	STOP_ENDS_RUN = 1 << 2, /* on_stop stops the guard timer */
};

/*
 * run_signals - raise the signals of plan (0-terminated) from inside a
 * fresh loop, with the callbacks `flags` asks for, until the loop ends or
 * `guard` seconds pass.
 */
static void run_signals(struct sigtest *t, const int *plan, unsigned flags,
			double guard)
{
	memset(t, 0, sizeof(*t));
	t->stop_ends_run = flags & STOP_ENDS_RUN;
	/* the stop/reload messages go to a log nobody reads */
	t->logs = fopen("/dev/null", "w");
	log_set_output(t->logs);
	for (; *plan; plan++)
		t->plan[t->nplan++] = *plan;
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(t->loop);
	loop_signals_init(&t->sig, t->loop,
			  flags & WITH_STOP ? on_stop : NULL,
			  flags & WITH_RELOAD ? on_reload : NULL);
	ev_timer_init(&t->kick, on_kick, 0.001, 0.02);
	ev_timer_start(t->loop, &t->kick);
	ev_timer_init(&t->guard, on_guard, guard, 0);
	ev_timer_start(t->loop, &t->guard);
	ev_run(t->loop, 0);
}

static void sigtest_release(struct sigtest *t)
{
	ev_timer_stop(t->loop, &t->kick);
	ev_timer_stop(t->loop, &t->guard);
	loop_signals_release(&t->sig);
	ev_loop_destroy(t->loop);
	log_set_output(NULL);
	fclose(t->logs);
}

START_TEST(test_sigterm_calls_on_stop_once)
{
	static const int plan[] = { SIGTERM, 0 };
	struct sigtest t;

	/* on_stop does not end the run: the loop goes on until the guard */
	run_signals(&t, plan, WITH_STOP | WITH_RELOAD, 0.3);
	ck_assert_int_eq(t.stops, 1);
	ck_assert_int_eq(t.stop_signum, SIGTERM);
	ck_assert_int_eq(t.sig.stop_requests, 1);
	ck_assert_int_eq(t.sig.last_signal, SIGTERM);
	ck_assert_int_eq(t.reloads, 0);
	ck_assert(t.guard_fired);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_graceful_stop_drains)
{
	static const int plan[] = { SIGTERM, 0 };
	struct sigtest t;
	int64_t t0 = time_mono_ns();

	/* on_stop stops the last watcher: the loop ends by itself, since
	 * the signal watchers do not keep it alive */
	run_signals(&t, plan, WITH_STOP | STOP_ENDS_RUN, 5);
	ck_assert_int_eq(t.stops, 1);
	ck_assert(!t.guard_fired);
	ck_assert_int_lt(time_mono_ns() - t0, 4 * NSEC_PER_SEC);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_sigint_calls_on_stop)
{
	static const int plan[] = { SIGINT, 0 };
	struct sigtest t;

	run_signals(&t, plan, WITH_STOP | WITH_RELOAD, 0.3);
	ck_assert_int_eq(t.stops, 1);
	ck_assert_int_eq(t.stop_signum, SIGINT);
	ck_assert_int_eq(t.sig.last_signal, SIGINT);
	ck_assert(t.guard_fired);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_second_stop_signal_breaks)
{
	static const int plan[] = { SIGTERM, SIGTERM, 0 };
	struct sigtest t;
	int64_t t0 = time_mono_ns();

	run_signals(&t, plan, WITH_STOP | WITH_RELOAD, 5);
	ck_assert(!t.guard_fired);
	ck_assert_int_lt(time_mono_ns() - t0, 4 * NSEC_PER_SEC);
	ck_assert_int_eq(t.stops, 1); /* on_stop ran for the first only */
	ck_assert_int_eq(t.sig.stop_requests, 2);
	ck_assert_int_eq(t.sig.last_signal, SIGTERM);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_sigint_after_sigterm_breaks)
{
	static const int plan[] = { SIGTERM, SIGINT, 0 };
	struct sigtest t;

	run_signals(&t, plan, WITH_STOP | WITH_RELOAD, 5);
	ck_assert(!t.guard_fired);
	ck_assert_int_eq(t.stops, 1);
	ck_assert_int_eq(t.stop_signum, SIGTERM);
	ck_assert_int_eq(t.sig.stop_requests, 2);
	/* the signal that asked to stop first */
	ck_assert_int_eq(t.sig.last_signal, SIGTERM);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_sighup_calls_on_reload)
{
	static const int plan[] = { SIGHUP, SIGHUP, 0 };
	struct sigtest t;

	run_signals(&t, plan, WITH_STOP | WITH_RELOAD, 0.3);
	ck_assert_int_eq(t.reloads, 2);
	ck_assert_int_eq(t.stops, 0);
	ck_assert_int_eq(t.sig.stop_requests, 0);
	ck_assert(t.guard_fired); /* a reload never stops the loop */
	sigtest_release(&t);
}
END_TEST

START_TEST(test_sighup_without_on_reload)
{
	static const int plan[] = { SIGHUP, 0 };
	struct sigtest t;

	run_signals(&t, plan, WITH_STOP, 0.3);
	ck_assert_int_eq(t.stops, 0);
	ck_assert(t.guard_fired);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_no_on_stop_breaks)
{
	static const int plan[] = { SIGTERM, 0 };
	struct sigtest t;
	int64_t t0 = time_mono_ns();

	run_signals(&t, plan, 0, 5);
	ck_assert(!t.guard_fired);
	ck_assert_int_lt(time_mono_ns() - t0, 4 * NSEC_PER_SEC);
	ck_assert_int_eq(t.sig.stop_requests, 1);
	ck_assert_int_eq(t.sig.last_signal, SIGTERM);
	sigtest_release(&t);
}
END_TEST

START_TEST(test_sigpipe_ignored)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct loop_signals s;
	struct sigaction sa;

	loop_signals_init(&s, loop, NULL, NULL);
	ck_assert_int_eq(sigaction(SIGPIPE, NULL, &sa), 0);
	ck_assert(sa.sa_handler == SIG_IGN);
	raise(SIGPIPE); /* survives */
	loop_signals_release(&s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_watchers_do_not_keep_loop_alive)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct loop_signals s;
	struct loop_reaper rp;
	int64_t t0 = time_mono_ns();

	loop_signals_init(&s, loop, on_stop, on_reload);
	loop_reaper_init(&rp, loop);
	/* nothing else to wait for: ev_run returns at once */
	ev_run(loop, 0);
	ck_assert_int_lt(time_mono_ns() - t0, NSEC_PER_SEC);
	ck_assert(ev_is_active(&s.term));
	ck_assert(ev_is_active(&s.intr));
	ck_assert(ev_is_active(&s.hup));
	loop_reaper_release(&rp);
	loop_signals_release(&s);
	ck_assert(!ev_is_active(&s.term));
	ck_assert(!ev_is_active(&s.intr));
	ck_assert(!ev_is_active(&s.hup));
	ck_assert(!ev_is_active(&rp.check));
	ev_run(loop, 0);
	ck_assert_int_lt(time_mono_ns() - t0, NSEC_PER_SEC);
	ev_loop_destroy(loop);
}
END_TEST

/* --- reaper -------------------------------------------------------------- */

struct obj {
	struct loop_reap reap;
	struct loop_reaper *rp;
	int *freed;	    /* shared counter */
	int order;	    /* value of *freed when this one went */
	struct obj *chain;  /* deferred by this one's free */
};

static void obj_free(struct loop_reap *r)
{
	struct obj *o = container_of(r, struct obj, reap);

	o->order = ++*o->freed;
	if (o->chain)
		loop_reaper_defer(o->rp, &o->chain->reap);
}

static void obj_init(struct obj *o, struct loop_reaper *rp, int *freed)
{
	memset(o, 0, sizeof(*o));
	o->reap.free = obj_free;
	o->rp = rp;
	o->freed = freed;
}

struct reaptest {
	struct loop_reaper rp;
	ev_timer defer_timer;
	ev_timer later;
	struct obj a;
	int freed;
	int freed_in_callback; /* *freed right after deferring */
	int freed_at_later;
};

static void on_defer_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct reaptest *t = container_of(w, struct reaptest, defer_timer);

	(void)loop;
	(void)revents;
	loop_reaper_defer(&t->rp, &t->a.reap);
	loop_reaper_defer(&t->rp, &t->a.reap); /* twice: freed once */
	t->freed_in_callback = t->freed;
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct reaptest *t = container_of(w, struct reaptest, later);

	(void)loop;
	(void)revents;
	t->freed_at_later = t->freed;
}

START_TEST(test_reaper_frees_after_iteration)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct reaptest t;
	int64_t t0;

	memset(&t, 0, sizeof(t));
	loop_reaper_init(&t.rp, loop);
	obj_init(&t.a, &t.rp, &t.freed);
	ev_timer_init(&t.defer_timer, on_defer_timer, 0.001, 0);
	ev_timer_start(loop, &t.defer_timer);
	ev_timer_init(&t.later, on_later, 2, 0);
	ev_timer_start(loop, &t.later);

	/* one iteration: the timer defers, the reaper frees at its end,
	 * not when the next event (2 s away) wakes the loop */
	t0 = time_mono_ns();
	ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(t.freed_in_callback, 0); /* alive in the callback */
	ck_assert_int_eq(t.freed, 1);
	ck_assert_int_lt(time_mono_ns() - t0, NSEC_PER_SEC);
	ck_assert(!t.a.reap.queued);

	ev_timer_stop(loop, &t.later);
	ev_run(loop, 0);
	ck_assert_int_eq(t.freed, 1); /* once, though deferred twice */
	loop_reaper_release(&t.rp);
	ck_assert_int_eq(t.freed, 1);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_reaper_last_iteration)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct reaptest t;

	/* deferred by the loop's last watcher: still freed before ev_run
	 * returns */
	memset(&t, 0, sizeof(t));
	loop_reaper_init(&t.rp, loop);
	obj_init(&t.a, &t.rp, &t.freed);
	ev_timer_init(&t.defer_timer, on_defer_timer, 0.001, 0);
	ev_timer_start(loop, &t.defer_timer);
	ev_run(loop, 0);
	ck_assert_int_eq(t.freed_in_callback, 0);
	ck_assert_int_eq(t.freed, 1);
	loop_reaper_release(&t.rp);
	ck_assert_int_eq(t.freed, 1);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_reaper_defer_twice_frees_once)
{
	struct loop_reaper rp;
	struct obj a, b;
	int freed = 0;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

	loop_reaper_init(&rp, loop);
	obj_init(&a, &rp, &freed);
	obj_init(&b, &rp, &freed);
	loop_reaper_defer(&rp, &a.reap);
	loop_reaper_defer(&rp, &b.reap);
	loop_reaper_defer(&rp, &a.reap);
	loop_reaper_defer(&rp, &b.reap);
	ck_assert(a.reap.queued);
	ck_assert_int_eq(loop_reaper_run(&rp), 2);
	ck_assert_int_eq(freed, 2);
	ck_assert(!a.reap.queued);
	ck_assert(!b.reap.queued);
	ck_assert_int_eq(loop_reaper_run(&rp), 0);
	/* once freed, an object may be queued again (a reused slot) */
	loop_reaper_defer(&rp, &a.reap);
	ck_assert_int_eq(loop_reaper_run(&rp), 1);
	ck_assert_int_eq(freed, 3);
	loop_reaper_release(&rp);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_reaper_free_queues_more)
{
	struct loop_reaper rp;
	struct obj conn, stream1, stream2;
	int freed = 0;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

	/* freeing a connection queues its stream, which queues another */
	loop_reaper_init(&rp, loop);
	obj_init(&conn, &rp, &freed);
	obj_init(&stream1, &rp, &freed);
	obj_init(&stream2, &rp, &freed);
	conn.chain = &stream1;
	stream1.chain = &stream2;
	loop_reaper_defer(&rp, &conn.reap);
	ck_assert_int_eq(loop_reaper_run(&rp), 3);
	ck_assert_int_eq(conn.order, 1);
	ck_assert_int_eq(stream1.order, 2);
	ck_assert_int_eq(stream2.order, 3);
	ck_assert_int_eq(loop_reaper_run(&rp), 0);

	/* and the same from inside the loop */
	freed = 0;
	loop_reaper_defer(&rp, &conn.reap);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(freed, 3);
	loop_reaper_release(&rp);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_reaper_release_frees_queued)
{
	struct loop_reaper rp;
	struct obj a, b;
	int freed = 0;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

	loop_reaper_init(&rp, loop);
	obj_init(&a, &rp, &freed);
	obj_init(&b, &rp, &freed);
	a.chain = &b;
	loop_reaper_defer(&rp, &a.reap);
	loop_reaper_release(&rp);
	ck_assert_int_eq(freed, 2);
	ev_loop_destroy(loop);
}
END_TEST

static int accepted;

static void on_conn(struct loop_listener *l, int fd, const struct sock_addr *peer)
{
	ck_assert_str_eq(l->name, "t");
	ck_assert(sock_addr_is_loopback(peer));
	accepted++;
	close(fd);
}

START_TEST(test_listener)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct loop_listener l;
	struct sock_addr a, got;
	char err[64];
	int fds[3];

	loop_listener_init(&l, loop, "t", on_conn);
	ck_assert_int_eq(loop_listener_addr(&l, &got), -ENOTCONN);
	loop_listener_stop(&l); /* not listening: a no-op */
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(loop_listener_start(&l, &a), 0);
	ck_assert_int_eq(loop_listener_start(&l, &a), -EALREADY);
	ck_assert_int_eq(loop_listener_addr(&l, &got), 0);
	ck_assert_int_ne(sock_addr_port(&got), 0);
	accepted = 0;
	for (int i = 0; i < 3; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_eq(connect(fds[i], &got.u.sa, got.len), 0);
	}
	for (int i = 0; i < 10 && accepted < 3; i++)
		ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(accepted, 3);
	loop_listener_stop(&l);
	ck_assert_int_eq(l.fd, -1);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	ev_loop_destroy(loop);
}
END_TEST

Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("signals");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_sigterm_calls_on_stop_once);
	tcase_add_test(tc, test_graceful_stop_drains);
	tcase_add_test(tc, test_sigint_calls_on_stop);
	tcase_add_test(tc, test_second_stop_signal_breaks);
	tcase_add_test(tc, test_sigint_after_sigterm_breaks);
	tcase_add_test(tc, test_sighup_calls_on_reload);
	tcase_add_test(tc, test_sighup_without_on_reload);
	tcase_add_test(tc, test_no_on_stop_breaks);
	tcase_add_test(tc, test_sigpipe_ignored);
	tcase_add_test(tc, test_watchers_do_not_keep_loop_alive);
	suite_add_tcase(s, tc);

	tc = tcase_create("reaper");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_reaper_frees_after_iteration);
	tcase_add_test(tc, test_reaper_last_iteration);
	tcase_add_test(tc, test_reaper_defer_twice_frees_once);
	tcase_add_test(tc, test_reaper_free_queues_more);
	tcase_add_test(tc, test_reaper_release_frees_queued);
	tcase_add_test(tc, test_listener);
	suite_add_tcase(s, tc);
	return s;
}
