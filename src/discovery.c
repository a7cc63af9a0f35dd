/* SPDX-License-Identifier: Apache-2.0 */
/* discovery.c - the proxy's service discovery client and load balancer */
#include "conduit/discovery.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conduit/destination.h"
#include "conduit/grpc.h"
#include "conduit/log.h"
#include "conduit/map.h"
#include "destination.pb-c.h"

#define GET_PATH "/io.linkerd.proxy.destination.Destination/Get"
#define RESUB_MIN 0.5  /* s: first delay before re-opening a stream */
#define RESUB_MAX 10.0 /* s */
#define FAIL_MAX 30.0  /* s: longest connect-failure backoff */

struct dsc_service {
	struct discovery *d;
	char *name;
	struct grpc_call *call;
	enum dsc_state state;
	bool answered;	 /* a first answer came (state is meaningful) */
	bool fresh;	 /* the stream's next update replaces the set */
	bool final;	 /* the controller refused the name: no resubscribe */
	struct dsc_endpoint **eps;
	size_t neps, cap;
	struct dsc_wait *waits;
	ev_timer wait_timer; /* resolve_timeout for the first answer */
	ev_timer resub;	     /* re-open the stream after a backoff */
	double backoff;
	ev_tstamp last_used;
};

struct discovery {
	struct discovery_config cfg;
	struct grpc_client *client;
	struct map services; /* name -> struct dsc_service */
	ev_timer gc;
	uint64_t rng;
	struct discovery_stats stats;
};

static const struct grpc_call_ops get_ops;

/* --- names -------------------------------------------------------------------- */

bool discovery_name(const char *host, size_t len, char *out, size_t size)
{
	char h[256], *colon;
	const char *port = "80";
	size_t dots = 0;
	struct sock_addr sa;

	if (!len || len >= sizeof(h) || host[0] == '[')
		return false;
	memcpy(h, host, len);
	h[len] = 0;
	for (char *p = h; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		dots += *p == '.';
	}
	if ((colon = strrchr(h, ':'))) {
		*colon = 0;
		port = colon + 1;
		if (!*port || strspn(port, "0123456789") != strlen(port))
			return false;
	}
	if (h[0] && h[strlen(h) - 1] == '.') /* a rooted FQDN */
		h[strlen(h) - 1] = 0, dots--;
	if (!dots || !sock_ip_parse(h, &sa))
		return false;
	/* svc.ns, svc.ns.svc and the full form all name the service */
	if (str_has_suffix(h, ".svc.cluster.local"))
		return (size_t)snprintf(out, size, "%s:%s", h, port) < size;
	if (str_has_suffix(h, ".svc"))
		return (size_t)snprintf(out, size, "%s.cluster.local:%s", h,
					port) < size;
	if (dots == 1)
		return (size_t)snprintf(out, size, "%s.svc.cluster.local:%s", h,
					port) < size;
	return false;
}

bool discovery_cluster_name(const char *host, size_t len)
{
	char out[256];

	if (!discovery_name(host, len, out, sizeof(out)))
		return false;
	/* the canonical form adds what a short name leaves out: compare
	 * the host as given */
	for (size_t n = len; n > 0; n--) {
		if (host[n - 1] == ':') {
			len = n - 1;
			break;
		}
	}
	if (len && host[len - 1] == '.')
		len--;
	return (len >= 4 && !strncasecmp(host + len - 4, ".svc", 4)) ||
	       (len >= 18 && !strncasecmp(host + len - 18, ".svc.cluster.local", 18));
}

/* --- endpoints ------------------------------------------------------------------ */

const char *const dsc_label_names[DSC_LABELS] = {
	"dst_namespace", "dst_service",	    "dst_pod",
	"dst_serviceaccount", "dst_deployment", "dst_statefulset",
	"dst_daemonset", "dst_replicaset",  "dst_job",
};

static void labels_free(struct dsc_endpoint *e)
{
	for (size_t i = 0; i < DSC_LABELS; i++) {
		free(e->labels[i]);
		e->labels[i] = NULL;
	}
}

static void label_set(struct dsc_endpoint *e, const char *key, const char *value)
{
	for (size_t i = 0; i < DSC_LABELS; i++) {
		if (strcmp(dsc_label_names[i] + 4, key))
			continue;
		free(e->labels[i]);
		e->labels[i] = value && *value ? xstrdup(value) : NULL;
		return;
	}
}

/* labels_take - the dst_* labels from the set's and the address's */
static void labels_take(struct dsc_endpoint *e,
			const Io__Linkerd__Proxy__Destination__WeightedAddrSet *set,
			const Io__Linkerd__Proxy__Destination__WeightedAddr *w)
{
	labels_free(e);
	for (size_t i = 0; i < set->n_metric_labels; i++)
		label_set(e, set->metric_labels[i]->key,
			  set->metric_labels[i]->value);
	for (size_t i = 0; i < w->n_metric_labels; i++)
		label_set(e, w->metric_labels[i]->key, w->metric_labels[i]->value);
}

static void ep_unref(struct dsc_endpoint *e)
{
	if (--e->refs)
		return;
	free(e->identity);
	labels_free(e);
	free(e);
}

static void set_remove_at(struct dsc_service *s, size_t i)
{
	struct dsc_endpoint *e = s->eps[i];

	s->eps[i] = s->eps[--s->neps];
	e->removed = true;
	s->d->stats.endpoints--;
	ep_unref(e);
}

static void set_clear(struct dsc_service *s)
{
	while (s->neps)
		set_remove_at(s, s->neps - 1);
}

static ssize_t set_find(const struct dsc_service *s, const struct sock_addr *a)
{
	for (size_t i = 0; i < s->neps; i++)
		if (sock_addr_equal(&s->eps[i]->addr, a))
			return (ssize_t)i;
	return -1;
}

static void apply_add(struct dsc_service *s,
		      const Io__Linkerd__Proxy__Destination__WeightedAddrSet *set)
{
	for (size_t i = 0; i < set->n_addrs; i++) {
		const Io__Linkerd__Proxy__Destination__WeightedAddr *w =
			set->addrs[i];
		struct sock_addr a;
		struct dsc_endpoint *e;
		ssize_t k;

		if (destination_sock_addr(w->addr, &a) < 0)
			continue;
		k = set_find(s, &a);
		if (k >= 0) {
			e = s->eps[k];
			free(e->identity);
		} else {
			e = xcalloc(1, sizeof(*e));
			e->addr = a;
			e->refs = 1;
			e->ewma_ns = s->d->cfg.default_rtt * 1e9;
			e->ewma_at = ev_now(s->d->cfg.loop);
			if (s->neps == s->cap) {
				s->cap = s->cap ? 2 * s->cap : 8;
				s->eps = xrealloc(s->eps,
						  s->cap * sizeof(*s->eps));
			}
			s->eps[s->neps++] = e;
			s->d->stats.endpoints++;
		}
		e->identity = xstrdup(
			w->tls_identity && w->tls_identity->dns_like_identity
				? w->tls_identity->dns_like_identity->name
				: "");
		e->h2 = w->protocol_hint && w->protocol_hint->protocol_case ==
			IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_H2;
		labels_take(e, set, w);
	}
}

static void apply_remove(struct dsc_service *s,
			 const Io__Linkerd__Proxy__Destination__AddrSet *set)
{
	for (size_t i = 0; i < set->n_addrs; i++) {
		struct sock_addr a;
		ssize_t k;

		if (destination_sock_addr(set->addrs[i], &a) < 0)
			continue;
		if ((k = set_find(s, &a)) >= 0)
			set_remove_at(s, (size_t)k);
	}
}

/* --- waits ---------------------------------------------------------------------- */

static void wake(struct dsc_service *s)
{
	ev_timer_stop(s->d->cfg.loop, &s->wait_timer);
	while (s->waits) {
		struct dsc_wait *w = s->waits;

		dsc_wait_cancel(w);
		w->fn(w->arg, s->state);
	}
}

void dsc_service_wait(struct dsc_service *s, struct dsc_wait *w,
		      void (*fn)(void *arg, enum dsc_state st), void *arg)
{
	w->svc = s;
	w->fn = fn;
	w->arg = arg;
	w->prev = NULL;
	w->next = s->waits;
	if (s->waits)
		s->waits->prev = w;
	s->waits = w;
	if (!ev_is_active(&s->wait_timer)) {
		ev_timer_set(&s->wait_timer, s->d->cfg.resolve_timeout, 0);
		ev_timer_start(s->d->cfg.loop, &s->wait_timer);
	}
}

void dsc_wait_cancel(struct dsc_wait *w)
{
	struct dsc_service *s = w->svc;

	if (!s)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		s->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->svc = NULL;
	w->next = w->prev = NULL;
}

static void on_wait_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct dsc_service *s = container_of(t, struct dsc_service, wait_timer);

	(void)loop;
	(void)revents;
	log_info("discovery: no answer in time", "service=%s", s->name);
	wake(s); /* with the state as it is: DSC_PENDING */
}

/* --- the stream ----------------------------------------------------------------- */

static void subscribe(struct dsc_service *s)
{
	Io__Linkerd__Proxy__Destination__GetDestination req =
		IO__LINKERD__PROXY__DESTINATION__GET_DESTINATION__INIT;
	uint8_t buf[600];
	size_t n;

	req.scheme = "k8s";
	req.path = s->name;
	n = io__linkerd__proxy__destination__get_destination__get_packed_size(&req);
	if (n > sizeof(buf))
		return;
	io__linkerd__proxy__destination__get_destination__pack(&req, buf);
	s->fresh = true;
	if (grpc_client_call(s->d->client, GET_PATH, buf, n, 0,
			     GRPC_WAIT_FOR_READY, &get_ops, s, &s->call) < 0)
		s->call = NULL;
}

static void on_resub(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct dsc_service *s = container_of(t, struct dsc_service, resub);

	(void)loop;
	(void)revents;
	s->d->stats.resubscribes++;
	subscribe(s);
}

static void on_update(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct dsc_service *s = grpc_call_data(call);
	Io__Linkerd__Proxy__Destination__Update *u;

	u = io__linkerd__proxy__destination__update__unpack(NULL, len, msg);
	if (!u) {
		log_warn("discovery: a bad update; ignored", "service=%s",
			 s->name);
		return;
	}
	s->d->stats.updates++;
	s->backoff = RESUB_MIN;
	if (s->fresh) {
		set_clear(s);
		s->fresh = false;
	}
	switch (u->update_case) {
	case IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD:
		apply_add(s, u->add);
		break;
	case IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_REMOVE:
		apply_remove(s, u->remove);
		break;
	case IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS:
		set_clear(s);
		break;
	default:
		break;
	}
	if (s->neps)
		s->state = DSC_READY;
	else if (u->update_case ==
		 IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS)
		s->state = u->no_endpoints->exists ? DSC_EMPTY : DSC_NOT_FOUND;
	else
		s->state = DSC_EMPTY;
	s->answered = true;
	log_debug("discovery: update", "service=%s endpoints=%zu", s->name,
		  s->neps);
	protobuf_c_message_free_unpacked(&u->base, NULL);
	wake(s);
}

static void on_stream_status(struct grpc_call *call, int status,
			     const char *message)
{
	struct dsc_service *s = grpc_call_data(call);
	char q[256];

	s->call = NULL;
	if (status == GRPC_INVALID_ARGUMENT || status == GRPC_UNIMPLEMENTED) {
		/* the controller will never know this name */
		log_info("discovery: the controller refused the name",
			 "service=%s status=%s message=%s", s->name,
			 grpc_status_name(status),
			 log_quote(q, sizeof(q), message ? message : ""));
		s->final = true;
		s->state = DSC_NOT_FOUND;
		s->answered = true;
		wake(s);
		return;
	}
	log_info("discovery: stream ended; keeping the last endpoints",
		 "service=%s status=%s endpoints=%zu retry_in=%.1fs", s->name,
		 grpc_status_name(status), s->neps, s->backoff);
	ev_timer_set(&s->resub, s->backoff, 0);
	ev_timer_start(s->d->cfg.loop, &s->resub);
	s->backoff = MIN(s->backoff * 2, RESUB_MAX);
}

static const struct grpc_call_ops get_ops = {
	.on_message = on_update,
	.on_status = on_stream_status,
};

static void service_free(void *v)
{
	struct dsc_service *s = v;

	if (!s)
		return;
	ev_timer_stop(s->d->cfg.loop, &s->wait_timer);
	ev_timer_stop(s->d->cfg.loop, &s->resub);
	while (s->waits)
		dsc_wait_cancel(s->waits);
	if (s->call)
		grpc_call_cancel(s->call);
	set_clear(s);
	free(s->eps);
	free(s->name);
	free(s);
}

struct dsc_service *discovery_lookup(struct discovery *d, const char *name)
{
	struct dsc_service *s = map_get(&d->services, name);

	d->stats.lookups++;
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->d = d;
		s->name = xstrdup(name);
		s->state = DSC_PENDING;
		s->backoff = RESUB_MIN;
		ev_timer_init(&s->wait_timer, on_wait_timeout, 0, 0);
		ev_timer_init(&s->resub, on_resub, 0, 0);
		map_put(&d->services, name, s);
		d->stats.services++;
		subscribe(s);
	}
	s->last_used = ev_now(d->cfg.loop);
	return s;
}

enum dsc_state dsc_service_state(const struct dsc_service *s)
{
	return s->state;
}

/* --- balancing ------------------------------------------------------------------ */

static uint64_t rnd(struct discovery *d)
{
	/* xorshift64*: cheap, and good enough to pick two of n */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 2685821657736338717ull;
}

static double cost(const struct dsc_endpoint *e)
{
	return e->ewma_ns * (e->pending + 1);
}

struct dsc_endpoint *dsc_pick(struct dsc_service *s)
{
	struct discovery *d = s->d;
	ev_tstamp now = ev_now(d->cfg.loop);
	struct dsc_endpoint *cand[2] = { NULL, NULL }, *e;
	size_t healthy = 0;

	if (!s->neps)
		return NULL;
	s->last_used = now;
	for (size_t i = 0; i < s->neps; i++)
		healthy += s->eps[i]->failed_until <= now;
	if (s->neps == 1 || healthy == 1) {
		for (size_t i = 0; i < s->neps && !cand[0]; i++)
			if (s->neps == 1 || s->eps[i]->failed_until <= now)
				cand[0] = s->eps[i];
		e = cand[0];
	} else {
		/* two distinct picks among the healthy (all, if none is) */
		for (int k = 0; k < 2; k++) {
			for (int tries = 0; tries < 64; tries++) {
				e = s->eps[rnd(d) % s->neps];
				if ((healthy && e->failed_until > now) ||
				    e == cand[0])
					continue;
				cand[k] = e;
				break;
			}
		}
		if (!cand[0])
			cand[0] = s->eps[0];
		e = !cand[1] || cost(cand[0]) <= cost(cand[1]) ? cand[0]
							       : cand[1];
	}
	e->pending++;
	e->picks++;
	e->refs++;
	return e;
}

void dsc_done(struct discovery *d, struct dsc_endpoint *e, int64_t rtt_ns)
{
	if (e->pending)
		e->pending--;
	if (rtt_ns >= 0) {
		ev_tstamp now = ev_now(d->cfg.loop);
		double w = exp(-(now - e->ewma_at) / d->cfg.decay);

		if ((double)rtt_ns > e->ewma_ns)
			e->ewma_ns = (double)rtt_ns; /* peak: at once */
		else
			e->ewma_ns = e->ewma_ns * w + (double)rtt_ns * (1 - w);
		e->ewma_at = now;
		e->failures = 0;
	}
}

void dsc_begin(struct dsc_endpoint *e)
{
	e->pending++;
}

void dsc_release(struct dsc_endpoint *e)
{
	ep_unref(e);
}

void dsc_connect_failed(struct discovery *d, struct dsc_endpoint *e)
{
	double back = MIN(FAIL_MAX, (double)(1u << MIN(e->failures, 5u)));

	e->failures++;
	e->failed_until = ev_now(d->cfg.loop) + back;
}

/* --- lifecycle --------------------------------------------------------------------- */

static void on_gc(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct discovery *d = container_of(t, struct discovery, gc);
	ev_tstamp now = ev_now(loop);

	(void)revents;
	for (struct map_iter it = MAP_ITER; map_next(&d->services, &it);) {
		struct dsc_service *s = it.value;

		if (now - s->last_used < d->cfg.idle || s->waits)
			continue;
		log_debug("discovery: unused; unsubscribing", "service=%s",
			  s->name);
		service_free(map_del(&d->services, it.key));
		d->stats.services--;
	}
}

struct discovery *discovery_new(const struct discovery_config *cfg)
{
	struct discovery *d = xcalloc(1, sizeof(*d));
	struct grpc_client_config gc = {
		.loop = cfg->loop,
		.addr = cfg->addr,
		.connect_timeout = 1,
		.backoff_base = 0.5,
		.backoff_max = 10,
		.name = "destination",
	};

	d->cfg = *cfg;
	if (d->cfg.default_rtt <= 0)
		d->cfg.default_rtt = 0.030;
	if (d->cfg.decay <= 0)
		d->cfg.decay = 10;
	if (d->cfg.idle <= 0)
		d->cfg.idle = 60;
	if (d->cfg.resolve_timeout <= 0)
		d->cfg.resolve_timeout = 3;
	d->rng = (uint64_t)(ev_time() * 1e6) | 1;
	d->client = grpc_client_new(&gc);
	if (!d->client) {
		free(d);
		return NULL;
	}
	ev_timer_init(&d->gc, on_gc, d->cfg.idle / 2, d->cfg.idle / 2);
	ev_timer_start(cfg->loop, &d->gc);
	return d;
}

void discovery_free(struct discovery *d)
{
	if (!d)
		return;
	ev_timer_stop(d->cfg.loop, &d->gc);
	map_release(&d->services, service_free);
	grpc_client_free(d->client);
	free(d);
}

void discovery_stats(const struct discovery *d, struct discovery_stats *out)
{
	*out = d->stats;
	out->connected = grpc_client_connected(d->client);
}
