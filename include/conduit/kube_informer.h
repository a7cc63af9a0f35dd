/* SPDX-License-Identifier: Apache-2.0 */
/* kube_informer.h - list, then watch, one resource into a store */
#ifndef CONDUIT_KUBE_INFORMER_H
#define CONDUIT_KUBE_INFORMER_H

#include <stdint.h>

#include "conduit/base.h"
#include "conduit/json.h"
#include "conduit/kube_client.h"
#include "conduit/kube_store.h"

/*
 * An informer keeps a local copy of every object of one resource (in one
 * namespace or all, optionally filtered by a label selector) and tells its
 * consumer what changed:
 *
 *   1. list, paginated (limit=500 and continue tokens), into its store;
 *   2. watch from the list's resourceVersion, with allowWatchBookmarks and
 *      a timeoutSeconds drawn from [watch_min_s, watch_max_s];
 *   3. a watch that ends normally is resumed from the last resourceVersion
 *      seen (an event or a BOOKMARK), with no re-list;
 *   4. 410 Gone (the HTTP status, or an ERROR event with code 410 in the
 *      stream, or an expired continue token) re-lists: the store then
 *      emits exactly the difference (ADDED for new objects, MODIFIED for a
 *      changed resourceVersion, DELETED for objects gone), so a consumer
 *      never sees a re-list as anything but real changes;
 *   5. connection errors, stalls (no byte for idle_timeout_ms), 429 and
 *      5xx retry after an exponential backoff with jitter, honouring
 *      Retry-After, capped at backoff_max_ms; a watch resumes from the
 *      last resourceVersion, a list starts over. 401/403 and other
 *      errors are reported through on_error and retried the same way.
 *
 * Every object handed to the consumer has kind and apiVersion set (list
 * items lack them on the wire).
 */

/* A resource: where it lives in the API. */
struct kube_resource {
	const char *prefix;	 /* "/api/v1", "/apis/apps/v1" */
	const char *plural;	 /* "pods" */
	const char *kind;	 /* "Pod" */
	const char *api_version; /* "v1", "apps/v1" */
	bool namespaced;
};

extern const struct kube_resource kube_res_services; /* v1 Service */
extern const struct kube_resource
    kube_res_endpointslices;			      /* discovery.k8s.io/v1 */
extern const struct kube_resource kube_res_endpoints; /* v1 Endpoints */
extern const struct kube_resource kube_res_pods;      /* v1 Pod */
extern const struct kube_resource kube_res_replicasets; /* apps/v1 */
extern const struct kube_resource kube_res_deployments; /* apps/v1 */
extern const struct kube_resource kube_res_namespaces;	/* v1, cluster-scoped */
extern const struct kube_resource kube_res_serviceaccounts; /* v1 */
extern const struct kube_resource kube_res_configmaps;	    /* v1 */

/*
 * kube_resource_find - by plural ("pods"), kind ("Pod", any case) or the
 * kubectl short name ("po", "svc", "ep", "eps", "rs", "deploy", "ns",
 * "sa", "cm").
 * NULL when unknown.
 */
const struct kube_resource *kube_resource_find(const char *name);

struct kube_informer;

/*
 * What the consumer is told. All three may be NULL. Callbacks run from
 * the loop; they must not free the informer.
 */
struct kube_informer_ops {
	/* an object changed; obj borrowed for the call (for DELETED: its
	 * last state) */
	void (*on_event)(void *arg, enum kube_event_type type,
			 const struct json *obj);
	/* the first list is complete, and again after each re-list's diff */
	void (*on_synced)(void *arg);
	/* a failure, retried by the informer: for a log line ("watch pods:
	 * 403 Forbidden: <the server's message>") */
	void (*on_error)(void *arg, const char *msg);
};

/* Tunables; a zero field takes the default in brackets. */
struct kube_informer_tuning {
	int page_size;	     /* list limit (500) */
	int watch_min_s;     /* watch timeoutSeconds drawn from */
	int watch_max_s;     /*   [min, max] (300, 600) */
	int idle_timeout_ms; /* a stream silent this long is dead (90000;
			      * bookmarks come about once a minute) */
	int backoff_base_ms; /* first retry delay (500) */
	int backoff_max_ms;  /* delay cap (30000) */
	size_t max_line;     /* bytes per watch event (16 MiB) */
};

/* Counters, for /metrics and for tests. */
struct kube_informer_stats {
	uint64_t lists;	     /* complete lists started (first + re-lists) */
	uint64_t list_pages; /* list requests answered 200 */
	uint64_t relists;    /* re-lists caused by 410 Gone */
	uint64_t watches;    /* watch requests started */
	uint64_t watch_ends; /* watches that ended normally (resumed) */
	uint64_t reconnects; /* retries after an error (list or watch) */
	uint64_t errors;     /* on_error calls */
	uint64_t events[3];  /* emitted, by enum kube_event_type */
	uint64_t bookmarks;  /* BOOKMARK events */
	size_t objects;	     /* in the store now */
	int64_t last_event_wall_ns; /* when an event was last emitted, or 0 */
	bool synced;		    /* the first list is complete */
};

/*
 * kube_informer_new - an informer for res (borrowed, static) in namespace
 * ns (NULL or "" for all namespaces, or a cluster-scoped resource) with
 * the label selector sel (NULL for none), both copied, calling ops (copied)
 * with arg. It starts on the next loop iteration: call kube_informer_tune
 * before running the loop to change its tunables. client is borrowed and
 * must outlive the informer. Returns the informer (never NULL: dies on
 * OOM). Free with kube_informer_free().
 */
struct kube_informer *kube_informer_new(struct kube_client *client,
					const struct kube_resource *res,
					const char *ns, const char *sel,
					const struct kube_informer_ops *ops,
					void *arg);
/* kube_informer_free - stop (cancelling any request) and free; NULL ok */
void kube_informer_free(struct kube_informer *inf);

/* kube_informer_tune - set the tunables (zero fields: defaults) */
void kube_informer_tune(struct kube_informer *inf,
			const struct kube_informer_tuning *t);

/* kube_informer_stats - the counters now */
void kube_informer_stats(const struct kube_informer *inf,
			 struct kube_informer_stats *out);

/* kube_informer_store - the objects (borrowed; read-only for consumers) */
const struct kube_store *kube_informer_store(const struct kube_informer *inf);

/* kube_informer_rv - the last resourceVersion seen ("" before a list) */
const char *kube_informer_rv(const struct kube_informer *inf);

/* kube_informer_resource - what it watches */
const struct kube_resource *
kube_informer_resource(const struct kube_informer *inf);

/*
 * Backoff: the delay before retry number attempt+1 is base * 2^attempt
 * capped at max, with "equal jitter" (a uniform draw in [d/2, d] from
 * rnd), and never less than a Retry-After (retry_after_s >= 0) capped at
 * max. Embedded; zero fields take 500 ms and 30 s.
 */
struct kube_backoff {
	int base_ms;
	int max_ms;
	unsigned attempt; /* retries since the last success */
};

/* kube_backoff_next - the delay for the next retry (ms); counts it */
int kube_backoff_next(struct kube_backoff *b, int retry_after_s, uint32_t rnd);
/* kube_backoff_reset - a success: the next delay is the base again */
void kube_backoff_reset(struct kube_backoff *b);

#endif
