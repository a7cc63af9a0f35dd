/* SPDX-License-Identifier: Apache-2.0 */
/* discovery.h - the proxy's service discovery client and load balancer */
#ifndef CONDUIT_DISCOVERY_H
#define CONDUIT_DISCOVERY_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/sock.h"

/*
 * The outbound proxy asks the destination component (Destination.Get) for
 * the endpoints of each service a request names (`:authority` / Host:
 * "<svc>.<ns>.svc.cluster.local:<port>", the port defaulting to 80), keeps
 * one stream per service it uses (dropped after `idle` unused), and picks
 * an endpoint per request with power-of-two-choices over peak-EWMA
 * latency: cost = ewma_rtt * (pending + 1), a new endpoint starting at
 * `default_rtt`, the average decaying with time constant `decay`, a
 * slower sample raising it at once (peak). An endpoint whose connect
 * failed is left out for a backoff (1 s doubling to 30 s) unless every
 * endpoint is failing.
 *
 * When the controller is unreachable the last endpoints known stay in use
 * and the stream is re-opened with backoff; a re-opened stream's first
 * update replaces the set, so nothing stale survives a controller restart.
 */

struct discovery;
struct dsc_service;

/*
 * The destination's metric labels an endpoint carries into the proxy's
 * outbound HTTP series (Linkerd's dst_* labels): the set's namespace and
 * service, the address's pod, serviceaccount and owner. Other keys are
 * dropped (a fixed set keeps the series bounded).
 */
enum {
	DSC_LABEL_NAMESPACE,
	DSC_LABEL_SERVICE,
	DSC_LABEL_POD,
	DSC_LABEL_SERVICEACCOUNT,
	DSC_LABEL_DEPLOYMENT,
	DSC_LABEL_STATEFULSET,
	DSC_LABEL_DAEMONSET,
	DSC_LABEL_REPLICASET,
	DSC_LABEL_JOB,
	DSC_LABELS
};
/* "dst_namespace", "dst_service", ... in the order above */
extern const char *const dsc_label_names[DSC_LABELS];

struct dsc_endpoint {
	struct sock_addr addr;
	char *identity;	     /* TLS identity, "" when not meshed */
	bool h2;	     /* protocol hint: a meshed proxy, speaks HTTP/2 */
	/* dst_* label values (owned; NULL: none), dsc_label_names' order */
	char *labels[DSC_LABELS];
	/* balancer state */
	double ewma_ns;
	ev_tstamp ewma_at;
	unsigned pending;
	ev_tstamp failed_until;
	unsigned failures;
	uint64_t picks;
	/* lifetime: the set holds one reference, each user one */
	unsigned refs;
	bool removed;
};

struct discovery_config {
	struct ev_loop *loop;
	struct sock_addr addr;	/* the destination component */
	double default_rtt;	/* s (0.030) */
	double decay;		/* s (10) */
	double idle;		/* s a service may go unused (60) */
	double resolve_timeout; /* s to wait for a first answer (3) */
};

/* discovery_new - a client (connects on the first lookup) */
struct discovery *discovery_new(const struct discovery_config *cfg);
void discovery_free(struct discovery *d);

enum dsc_state {
	DSC_PENDING,   /* asked, no answer yet */
	DSC_READY,     /* endpoints known (maybe none: DSC_EMPTY) */
	DSC_EMPTY,     /* the service exists and has no endpoint */
	DSC_NOT_FOUND, /* no such service: route as if undiscovered */
};

/*
 * discovery_name - is host (a Host header or :authority, not
 * NUL-terminated) a service name discovery should resolve? Writes the
 * canonical "<svc>.<ns>.svc.cluster.local:<port>" into out. IP literals
 * and single-label names are not.
 */
bool discovery_name(const char *host, size_t len, char *out, size_t size);

/*
 * discovery_cluster_name - does host (as above) spell out a cluster
 * service name (ending .svc or .svc.cluster.local)? For those the
 * controller's "no such service" is final: no DNS fallback.
 */
bool discovery_cluster_name(const char *host, size_t len);

/*
 * discovery_lookup - the service for a canonical name (from
 * discovery_name), subscribing on first use. Borrowed: valid until the
 * loop runs again (idle services are freed from a timer).
 */
struct dsc_service *discovery_lookup(struct discovery *d, const char *name);
enum dsc_state dsc_service_state(const struct dsc_service *s);

/*
 * A wait for a pending service: fn(arg, state) runs once, from the
 * loop, when the first answer comes or resolve_timeout passes (then with
 * DSC_PENDING). Embedded in the caller's state; cancel it before freeing
 * that state.
 */
struct dsc_wait {
	struct dsc_wait *next, *prev;
	struct dsc_service *svc;
	void (*fn)(void *arg, enum dsc_state st);
	void *arg;
};
void dsc_service_wait(struct dsc_service *s, struct dsc_wait *w,
		      void (*fn)(void *arg, enum dsc_state st), void *arg);
void dsc_wait_cancel(struct dsc_wait *w);

/*
 * dsc_pick - an endpoint by P2C/peak-EWMA for one request: NULL when the
 * service has none. The caller holds a reference (the endpoint outlives
 * its removal from the set until dsc_release()) and one pending request.
 * dsc_begin - another request on an endpoint the caller holds (a reused
 * connection). dsc_done - a request is over: its latency to the response
 * head (negative: it failed before one). dsc_connect_failed - the
 * endpoint refused or timed out: it backs off.
 */
struct dsc_endpoint *dsc_pick(struct dsc_service *s);
void dsc_begin(struct dsc_endpoint *e);
void dsc_done(struct discovery *d, struct dsc_endpoint *e, int64_t rtt_ns);
void dsc_release(struct dsc_endpoint *e);
void dsc_connect_failed(struct discovery *d, struct dsc_endpoint *e);

/* counts for /metrics and tests */
struct discovery_stats {
	uint64_t lookups, updates, resubscribes;
	size_t services, endpoints;
	bool connected;
};
void discovery_stats(const struct discovery *d, struct discovery_stats *out);

#endif
