/* SPDX-License-Identifier: Apache-2.0 */
/* stats.c - the public API's embedded metrics store */
#include "conduit/stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/map.h"
#include "conduit/metrics.h"
#include "conduit/promtext.h"

struct auth_counts {
	char *authority;
	struct stats_counts c;
};

struct snap {
	double t;
	struct stats_counts in;
	double tcp_open;
	struct auth_counts *out;
	size_t nout;
};

struct pod_ring {
	struct snap *v; /* keep slots */
	size_t keep;
	size_t head;	/* the next slot written */
	size_t count;
};

struct stats_store {
	size_t keep;
	struct map pods; /* key -> struct pod_ring */
};

static void snap_release(struct snap *s)
{
	for (size_t i = 0; i < s->nout; i++)
		free(s->out[i].authority);
	free(s->out);
	memset(s, 0, sizeof(*s));
}

static void ring_free(void *v)
{
	struct pod_ring *r = v;

	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		snap_release(&r->v[i]);
	free(r->v);
	free(r);
}

struct stats_store *stats_store_new(size_t keep)
{
	struct stats_store *s = xcalloc(1, sizeof(*s));

	s->keep = keep < 2 ? 2 : keep;
	return s;
}

void stats_store_free(struct stats_store *s)
{
	if (!s)
		return;
	map_release(&s->pods, ring_free);
	free(s);
}

void stats_forget(struct stats_store *s, const char *key)
{
	ring_free(map_del(&s->pods, key));
}

void stats_retain(struct stats_store *s, bool (*alive)(void *arg, const char *key),
		  void *arg)
{
	for (struct map_iter it = MAP_ITER; map_next(&s->pods, &it);)
		if (!alive(arg, it.key))
			ring_free(map_del(&s->pods, it.key));
}

size_t stats_pods(const struct stats_store *s)
{
	return map_len(&s->pods);
}

/* --- ingest ---------------------------------------------------------------------- */

/* bucket_index - the bucket of an le label value, or -1 */
static int bucket_index(const char *le)
{
	char *end;
	double v;

	if (!strcmp(le, "+Inf"))
		return STATS_NBUCKETS - 1;
	v = strtod(le, &end);
	if (*end)
		return -1;
	for (size_t i = 0; i < metrics_latency_ms_nbounds; i++)
		if (metrics_latency_ms_bounds[i] == v)
			return (int)i;
	return -1;
}

static struct stats_counts *counts_for(struct snap *s, const char *dir,
				       const char *authority)
{
	if (!dir)
		return NULL;
	if (!strcmp(dir, "inbound"))
		return &s->in;
	if (strcmp(dir, "outbound"))
		return NULL;
	authority = authority ? authority : "";
	for (size_t i = 0; i < s->nout; i++)
		if (!strcmp(s->out[i].authority, authority))
			return &s->out[i].c;
	if (s->nout == STATS_MAX_AUTHORITIES)
		return NULL;
	s->out = xrealloc(s->out, (s->nout + 1) * sizeof(*s->out));
	memset(&s->out[s->nout], 0, sizeof(s->out[0]));
	s->out[s->nout].authority = xstrdup(authority);
	return &s->out[s->nout++].c;
}

static int take_sample(void *arg, const struct promtext_sample *p)
{
	struct snap *s = arg;
	const char *dir = promtext_label(p, "direction");
	struct stats_counts *c;

	if (!isfinite(p->value) || p->value < 0)
		return 0;
	if (!strcmp(p->name, "response_total")) {
		const char *cls = promtext_label(p, "classification");

		if (!(c = counts_for(s, dir, promtext_label(p, "authority"))))
			return 0;
		const char *tls = promtext_label(p, "tls");

		if (cls && !strcmp(cls, "success"))
			c->success += p->value;
		else if (cls)
			c->failure += p->value;
		if (cls && tls && !strcmp(tls, "true"))
			c->secured += p->value;
	} else if (!strcmp(p->name, "response_latency_ms_bucket")) {
		const char *le = promtext_label(p, "le");
		int i = le ? bucket_index(le) : -1;

		if (i >= 0 &&
		    (c = counts_for(s, dir, promtext_label(p, "authority"))))
			c->buckets[i] += p->value;
	} else if (!strcmp(p->name, "tcp_read_bytes_total") ||
		   !strcmp(p->name, "tcp_write_bytes_total")) {
		const char *peer = promtext_label(p, "peer");

		if (dir && !strcmp(dir, "inbound") && peer && !strcmp(peer, "src")) {
			if (p->name[4] == 'r')
				s->in.read_bytes += p->value;
			else
				s->in.write_bytes += p->value;
		}
	} else if (!strcmp(p->name, "tcp_open_connections")) {
		const char *peer = promtext_label(p, "peer");

		if (dir && !strcmp(dir, "inbound") && peer &&
		    !strcmp(peer, "src"))
			s->tcp_open += p->value;
	}
	return 0;
}

int stats_ingest(struct stats_store *s, const char *key, double t,
		 const char *text, size_t len, char *err, size_t errlen)
{
	struct snap snap = { .t = t };
	struct pod_ring *r;
	int rc;

	rc = promtext_parse(text, len, take_sample, &snap, err, errlen);
	if (rc) {
		snap_release(&snap);
		return -EINVAL;
	}
	if (!(r = map_get(&s->pods, key))) {
		r = xcalloc(1, sizeof(*r));
		r->v = xcalloc(s->keep, sizeof(*r->v));
		r->keep = s->keep;
		map_put(&s->pods, key, r);
	}
	if (r->count == s->keep)
		snap_release(&r->v[r->head]);
	else
		r->count++;
	r->v[r->head] = snap;
	r->head = (r->head + 1) % s->keep;
	return 0;
}

/* --- queries ------------------------------------------------------------------------ */

/* at - the i-th newest snapshot (0: the newest; i < count) */
static const struct snap *at(const struct pod_ring *r, size_t i)
{
	return &r->v[(r->head + r->keep - 1 - i) % r->keep];
}

/*
 * span - the newest snapshot and the base of a window: the newest one at
 * least `window` older, else the oldest. False with fewer than two.
 */
static bool span(const struct pod_ring *r, double window,
		 const struct snap **last, const struct snap **base)
{
	if (!r || r->count < 2)
		return false;
	*last = at(r, 0);
	*base = at(r, r->count - 1);
	for (size_t i = 1; i < r->count; i++) {
		if (at(r, i)->t <= (*last)->t - window) {
			*base = at(r, i);
			break;
		}
	}
	return (*last)->t > (*base)->t;
}

/* delta - a counter's increase; a drop is a restart: count from zero */
static double delta(double now, double then)
{
	return now >= then ? now - then : now;
}

static void counts_delta(struct stats_counts *out, const struct stats_counts *a,
			 const struct stats_counts *b)
{
	out->success = delta(a->success, b->success);
	out->failure = delta(a->failure, b->failure);
	out->secured = delta(a->secured, b->secured);
	out->read_bytes = delta(a->read_bytes, b->read_bytes);
	out->write_bytes = delta(a->write_bytes, b->write_bytes);
	for (int i = 0; i < STATS_NBUCKETS; i++)
		out->buckets[i] = delta(a->buckets[i], b->buckets[i]);
}

void stats_pod_window(const struct stats_store *s, const char *key,
		      double window, struct stats_window *out)
{
	const struct pod_ring *r = map_get(&s->pods, key);
	const struct snap *last, *base;

	memset(out, 0, sizeof(*out));
	if (r && r->count)
		out->tcp_open = at(r, 0)->tcp_open;
	if (!span(r, window, &last, &base))
		return;
	out->has_data = true;
	out->seconds = last->t - base->t;
	counts_delta(&out->in, &last->in, &base->in);
}

static const struct stats_counts *find_auth(const struct snap *s,
					    const char *authority)
{
	static const struct stats_counts zero;

	for (size_t i = 0; i < s->nout; i++)
		if (!strcmp(s->out[i].authority, authority))
			return &s->out[i].c;
	return &zero;
}

void stats_pod_outbound(const struct stats_store *s, const char *key,
			double window,
			void (*fn)(void *arg, const char *authority,
				   const struct stats_counts *c, double seconds),
			void *arg)
{
	const struct pod_ring *r = map_get(&s->pods, key);
	const struct snap *last, *base;

	if (!span(r, window, &last, &base))
		return;
	for (size_t i = 0; i < last->nout; i++) {
		struct stats_counts d;

		counts_delta(&d, &last->out[i].c,
			     find_auth(base, last->out[i].authority));
		if (d.success + d.failure > 0)
			fn(arg, last->out[i].authority, &d,
			   last->t - base->t);
	}
}

void stats_counts_add(struct stats_counts *a, const struct stats_counts *b)
{
	a->success += b->success;
	a->failure += b->failure;
	a->secured += b->secured;
	a->read_bytes += b->read_bytes;
	a->write_bytes += b->write_bytes;
	for (int i = 0; i < STATS_NBUCKETS; i++)
		a->buckets[i] += b->buckets[i];
}

double stats_quantile(const struct stats_counts *c, double q)
{
	const double *bound = metrics_latency_ms_bounds;
	double total = c->buckets[STATS_NBUCKETS - 1], rank, prev = 0;

	if (!(total > 0))
		return NAN;
	rank = q * total;
	for (int i = 0; i < STATS_NBUCKETS; i++) {
		double lo, hi;

		if (c->buckets[i] < rank) {
			prev = c->buckets[i];
			continue;
		}
		if (i == STATS_NBUCKETS - 1)
			return bound[STATS_NBUCKETS - 2];
		lo = i ? bound[i - 1] : 0;
		hi = bound[i];
		if (c->buckets[i] == prev)
			return hi;
		return lo + (hi - lo) * (rank - prev) / (c->buckets[i] - prev);
	}
	return bound[STATS_NBUCKETS - 2];
}

/* --- figures computed elsewhere ----------------------------------------------- */

void stats_put(struct stats_store *s, const char *key, double seconds,
	       const char *authority, const struct stats_counts *c,
	       double tcp_open)
{
	struct pod_ring *r = map_get(&s->pods, key);
	struct stats_counts *to;
	struct snap *last;

	if (!r) {
		/* two snapshots: nothing at 0, everything at `seconds` */
		r = xcalloc(1, sizeof(*r));
		r->keep = s->keep;
		r->v = xcalloc(r->keep, sizeof(*r->v));
		r->v[1].t = seconds > 0 ? seconds : 1;
		r->count = 2;
		r->head = 2 % r->keep;
		map_put(&s->pods, key, r);
	}
	last = (struct snap *)at(r, 0);
	if (!authority)
		last->tcp_open += tcp_open;
	if (!c)
		return;
	to = counts_for(last, authority ? "outbound" : "inbound", authority);
	if (to)
		stats_counts_add(to, c);
}
