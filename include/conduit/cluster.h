/* SPDX-License-Identifier: Apache-2.0 */
/* cluster.h - the controller's view of the cluster: one cache, many readers */
#ifndef CONDUIT_CLUSTER_H
#define CONDUIT_CLUSTER_H

#include "conduit/base.h"
#include "conduit/json.h"
#include "conduit/map.h"
#include "conduit/sock.h"

/*
 * The cache holds what service discovery and the public API need from
 * four kinds: Pods, Services, EndpointSlices (discovery.k8s.io/v1) and
 * ReplicaSets (a pod's Deployment is its ReplicaSet's owner). Sources
 * feed it objects as Kubernetes JSON (the API server's informers, or the
 * files of a --cluster-dir); the cache keeps only the fields it uses, in
 * C structs, so 10,000 endpoints cost a few MiB.
 *
 * A Service's endpoints come from its EndpointSlices. In local mode
 * (derive_endpoints) there is no endpoints controller, so a Service with
 * a selector and no slice gets them from the ready Pods it selects, the
 * way the endpoints controller would compute them.
 *
 * Every change bumps the cache's generation and calls the listeners with
 * the namespace it touched, so readers recompute only what may have
 * changed (a pod change touches the services of its namespace).
 */

struct cluster_config {
	bool derive_endpoints;	     /* local mode: see above */
	const char *cluster_domain;  /* "cluster.local" */
	const char *identity_domain; /* "<cp-ns>.<cluster-domain>": a meshed
				      * pod's TLS identity is
				      * <sa>.<ns>.serviceaccount.identity.<it> */
};

struct cluster_label {
	char *key, *value;
};

struct cluster_port {
	char *name;	    /* may be "" */
	int port;	    /* Service: port; slice and pod: the port */
	int target_port;    /* Service: a number, or 0 with target_name */
	char *target_name;  /* Service: a named targetPort, or NULL */
};

struct cluster_pod {
	char *ns, *name;
	char *ip;	  /* status.podIP, or NULL */
	char *phase;	  /* status.phase */
	char *node, *sa;  /* spec.nodeName, spec.serviceAccountName */
	char *owner_kind; /* "Deployment" (through its ReplicaSet),
			   * "ReplicaSet", "StatefulSet", ... or NULL */
	char *owner_name;
	char *rs_name;	  /* the owning ReplicaSet, when there is one */
	bool ready;	  /* condition Ready is True */
	bool terminating; /* metadata.deletionTimestamp is set */
	bool meshed;	  /* it has a conduit-proxy container */
	bool has_identity; /* and that proxy has an identity (trust anchors,
			    * not CONDUIT_PROXY_IDENTITY_DISABLED) */
	int admin_port;	  /* the proxy's admin port (conduit-admin: 4191) */
	int tap_port;	  /* its control port (conduit-tap: 4190) */
	struct cluster_label *labels;
	size_t nlabels;
	struct cluster_port *ports; /* every container's named ports */
	size_t nports;
};

/* an endpoint of a service port, with what the proxy labels metrics by */
struct cluster_endpoint {
	struct sock_addr addr;
	const struct cluster_pod *pod; /* NULL when the slice names none */
	char ip[64];
	int port;
	bool ready, serving, terminating;
	char *node, *zone;	/* borrowed; may be NULL */
};

struct cluster;

/* cluster_listener - called after every change, with its namespace */
typedef void (*cluster_on_change)(void *arg, const char *ns);

/* cluster_new - an empty cache (cfg copied, strings too) */
struct cluster *cluster_new(const struct cluster_config *cfg);
void cluster_free(struct cluster *cl);

/*
 * cluster_listen - call fn(arg, ns) after each change (ns NULL: every
 * namespace, as when the cache becomes synced); up to 8 listeners.
 * Returns 0 or -ENOSPC.
 */
int cluster_listen(struct cluster *cl, cluster_on_change fn, void *arg);
/* cluster_unlisten - remove a listener (fn and arg as given) */
void cluster_unlisten(struct cluster *cl, cluster_on_change fn, void *arg);

enum cluster_op {
	CLUSTER_UPSERT, /* ADDED or MODIFIED */
	CLUSTER_DELETE,
};

/*
 * cluster_apply - add, replace or delete the object obj (Kubernetes
 * JSON: kind, metadata.namespace, metadata.name, ...). A kind the cache
 * does not keep is ignored (returns 0). Returns 1 when the cache changed,
 * 0 when not, or -EINVAL with "<Kind> <ns>/<name>: why" in err when obj
 * lacks what its kind needs (no name, a port that is not a number...).
 * An object without a namespace goes to "default".
 */
int cluster_apply(struct cluster *cl, enum cluster_op op,
		  const struct json *obj, char *err, size_t errlen);

/* cluster_kept_kind - does the cache keep objects of this kind? */
bool cluster_kept_kind(const char *kind);

/*
 * cluster_set_synced / cluster_synced - whether the cache has its source's
 * first full view (true from cluster_new; a source that lists sets it
 * false until its lists are done). Readers hold their answers until then,
 * so "no such service" is never said of a service not listed yet.
 */
void cluster_set_synced(struct cluster *cl, bool synced);
bool cluster_synced(const struct cluster *cl);

/* cluster_generation - bumped by every change */
uint64_t cluster_generation(const struct cluster *cl);

/* counts by kind, for /metrics: "Pod", "Service", "EndpointSlice",
 * "ReplicaSet"; 0 for others */
size_t cluster_count(const struct cluster *cl, const char *kind);

/*
 * cluster_parse_authority - split "<svc>.<ns>.svc.<cluster-domain>:<port>"
 * (also "<svc>.<ns>:<port>" and "<svc>.<ns>.svc:<port>") into its parts.
 * Returns 0, or -EINVAL (not a service name: no port, a bad label, or
 * another domain).
 */
int cluster_parse_authority(const struct cluster *cl, const char *authority,
			    char *svc, size_t svclen, char *ns, size_t nslen,
			    int *port);

/*
 * cluster_service_exists - is there a Service ns/name?
 */
bool cluster_service_exists(const struct cluster *cl, const char *ns,
			    const char *name);

/*
 * cluster_endpoints - the endpoints of service port `port` of ns/svc,
 * usable ones only (the ready ones; when none is ready, those terminating
 * but still serving, as kube-proxy falls back to them), into a new
 * array *out of *n entries (free with free(); pointers in it are
 * borrowed until the next change). Returns 0 (possibly no endpoints),
 * -ENOENT (no such service, or no such port on it), -ENOMEM.
 */
int cluster_endpoints(const struct cluster *cl, const char *ns,
		      const char *svc, int port, struct cluster_endpoint **out,
		      size_t *n);

/* cluster_pod - the pod ns/name, or NULL (borrowed until the next change) */
const struct cluster_pod *cluster_pod(const struct cluster *cl,
				      const char *ns, const char *name);
/* cluster_pod_by_ip - a running pod with this IP, or NULL */
const struct cluster_pod *cluster_pod_by_ip(const struct cluster *cl,
					    const char *ip);

/*
 * cluster_pods - every pod, in namespace ns (NULL: all), sorted by
 * namespace then name, into a new array of borrowed pointers (free it
 * with free()). Returns the count, or -ENOMEM.
 */
ssize_t cluster_pods(const struct cluster *cl, const char *ns,
		     const struct cluster_pod ***out);

/*
 * cluster_pod_identity - the TLS identity of a meshed pod into buf
 * ("<sa>.<ns>.serviceaccount.identity.<identity-domain>"); "" when the
 * pod is not meshed or its proxy has no identity. Returns buf.
 */
char *cluster_pod_identity(const struct cluster *cl,
			   const struct cluster_pod *p, char *buf, size_t size);

/* cluster_label_get - a label's value or NULL */
const char *cluster_label_get(const struct cluster_label *l, size_t n,
			      const char *key);

#endif
