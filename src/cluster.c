/* SPDX-License-Identifier: Apache-2.0 */
/* cluster.c - the controller's cache of Pods, Services, EndpointSlices, ReplicaSets */
#include "conduit/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTENERS 8

struct cl_service {
	char *ns, *name;
	struct cluster_label *selector; /* NULL with nselector 0: none */
	size_t nselector;
	bool has_selector;
	struct cluster_port *ports;
	size_t nports;
};

struct cl_slice_ep {
	char **addrs;
	size_t naddrs;
	bool ready, serving, terminating;
	char *pod; /* targetRef name (kind Pod), or NULL */
	char *node, *zone;
};

struct cl_slice {
	char *ns, *name;
	char *svc_key; /* "ns/service" from kubernetes.io/service-name */
	struct cluster_port *ports;
	size_t nports;
	struct cl_slice_ep *eps;
	size_t neps;
};

/* the slices of one service: an index, so a lookup is not a scan */
struct slice_list {
	struct cl_slice **v;
	size_t n, cap;
};

struct cl_rs {
	char *ns, *name;
	char *owner_kind, *owner_name; /* the controller owner, or NULL */
};

struct cluster {
	struct cluster_config cfg;
	struct map pods;	 /* "ns/name" -> struct cluster_pod */
	struct map pods_by_ip;	 /* ip -> struct cluster_pod (running) */
	struct map services;	 /* "ns/name" -> struct cl_service */
	struct map slices;	 /* "ns/name" -> struct cl_slice */
	struct map slices_by_svc; /* "ns/svc" -> struct slice_list */
	struct map rss;		 /* "ns/name" -> struct cl_rs */
	uint64_t generation;
	bool synced;
	struct {
		cluster_on_change fn;
		void *arg;
	} listeners[MAX_LISTENERS];
	size_t nlisteners;
};

/* --- reading Kubernetes JSON ---------------------------------------------- */

static const char *jstr(const struct json *j, const char *key)
{
	return json_string(json_get(j, key));
}

/* jpath - a dotted path of object keys ("metadata.name") */
static const struct json *jpath(const struct json *j, const char *path)
{
	char key[64];

	while (j && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		j = json_get(j, key);
		path += n + (dot ? 1 : 0);
	}
	return j;
}

static const char *jpath_str(const struct json *j, const char *path)
{
	return json_string(jpath(j, path));
}

static char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* jbool - a JSON bool, or dflt when absent or null (Kubernetes' *bool) */
static bool jbool(const struct json *j, bool dflt)
{
	bool v;

	return json_bool(j, &v) ? v : dflt;
}

/* jint - a JSON number that is an integer in [lo, hi] */
static bool jint(const struct json *j, long lo, long hi, long *out)
{
	double d;

	if (!json_number(j, &d) || d != (double)(long)d || d < lo || d > hi)
		return false;
	*out = (long)d;
	return true;
}

static void labels_free(struct cluster_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

/* labels_read - an object of string values into an array (others skipped) */
static struct cluster_label *labels_read(const struct json *obj, size_t *n)
{
	size_t cap = json_count(obj), k = 0;
	struct cluster_label *l;

	*n = 0;
	if (json_type(obj) != JSON_OBJECT || !cap)
		return NULL;
	l = xcalloc(cap, sizeof(*l));
	for (const struct json *c = json_child(obj); c; c = json_next(c)) {
		if (!json_string(c))
			continue;
		l[k].key = xstrdup(json_key(c));
		l[k].value = xstrdup(json_string(c));
		k++;
	}
	*n = k;
	return l;
}

const char *cluster_label_get(const struct cluster_label *l, size_t n,
			      const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].key, key))
			return l[i].value;
	return NULL;
}

static void ports_free(struct cluster_port *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].target_name);
	}
	free(p);
}

/*
 * ports_read - a ports array: each item's name and number (under
 * numkey), and, for a Service, its targetPort (a number or a name;
 * absent: the port). Returns 0 or -EINVAL with why.
 */
static int ports_read(const struct json *arr, const char *numkey,
		      bool service, struct cluster_port **out, size_t *n,
		      char *why, size_t whylen)
{
	size_t cap = json_count(arr);
	struct cluster_port *p;

	*out = NULL;
	*n = 0;
	if (!arr || json_type(arr) == JSON_NULL)
		return 0;
	if (json_type(arr) != JSON_ARRAY) {
		snprintf(why, whylen, "ports: not a list");
		return -EINVAL;
	}
	if (!cap)
		return 0;
	p = xcalloc(cap, sizeof(*p));
	for (size_t i = 0; i < cap; i++) {
		const struct json *e = json_at(arr, i), *t;
		const char *name = jstr(e, "name");
		long v;

		if (!jint(json_get(e, numkey), 1, 65535, &v)) {
			snprintf(why, whylen, "ports[%zu].%s: not a port number",
				 i, numkey);
			ports_free(p, i);
			return -EINVAL;
		}
		p[i].name = xstrdup(name ? name : "");
		p[i].port = (int)v;
		if (!service)
			continue;
		t = json_get(e, "targetPort");
		if (!t || json_type(t) == JSON_NULL)
			p[i].target_port = p[i].port;
		else if (json_string(t))
			p[i].target_name = xstrdup(json_string(t));
		else if (jint(t, 1, 65535, &v))
			p[i].target_port = (int)v;
		else {
			snprintf(why, whylen,
				 "ports[%zu].targetPort: not a port number or name",
				 i);
			ports_free(p, i + 1);
			return -EINVAL;
		}
	}
	*out = p;
	*n = cap;
	return 0;
}

/* --- object lifecycles ----------------------------------------------------- */

static void pod_free(void *v)
{
	struct cluster_pod *p = v;

	if (!p)
		return;
	free(p->ns);
	free(p->name);
	free(p->ip);
	free(p->phase);
	free(p->node);
	free(p->sa);
	free(p->owner_kind);
	free(p->owner_name);
	free(p->rs_name);
	labels_free(p->labels, p->nlabels);
	ports_free(p->ports, p->nports);
	free(p);
}

static void service_free(void *v)
{
	struct cl_service *s = v;

	if (!s)
		return;
	free(s->ns);
	free(s->name);
	labels_free(s->selector, s->nselector);
	ports_free(s->ports, s->nports);
	free(s);
}

static void slice_free(void *v)
{
	struct cl_slice *s = v;

	if (!s)
		return;
	for (size_t i = 0; i < s->neps; i++) {
		for (size_t k = 0; k < s->eps[i].naddrs; k++)
			free(s->eps[i].addrs[k]);
		free(s->eps[i].addrs);
		free(s->eps[i].pod);
		free(s->eps[i].node);
		free(s->eps[i].zone);
	}
	free(s->eps);
	ports_free(s->ports, s->nports);
	free(s->ns);
	free(s->name);
	free(s->svc_key);
	free(s);
}

static void rs_free(void *v)
{
	struct cl_rs *r = v;

	if (!r)
		return;
	free(r->ns);
	free(r->name);
	free(r->owner_kind);
	free(r->owner_name);
	free(r);
}

static void slice_list_free(void *v)
{
	struct slice_list *l = v;

	if (l)
		free(l->v);
	free(l);
}

/* controller_owner - the ownerReference with controller: true */
static const struct json *controller_owner(const struct json *obj)
{
	const struct json *refs = jpath(obj, "metadata.ownerReferences");

	for (size_t i = 0; i < json_count(refs); i++) {
		const struct json *r = json_at(refs, i);

		if (jbool(json_get(r, "controller"), false))
			return r;
	}
	return NULL;
}

/* pod_set_owner - from the pod's ReplicaSet to its Deployment, if known */
static void pod_set_owner(struct cluster *cl, struct cluster_pod *p)
{
	char key[512];
	struct cl_rs *rs;

	if (!p->rs_name)
		return;
	snprintf(key, sizeof(key), "%s/%s", p->ns, p->rs_name);
	rs = map_get(&cl->rss, key);
	free(p->owner_kind);
	free(p->owner_name);
	if (rs && rs->owner_kind) {
		p->owner_kind = xstrdup(rs->owner_kind);
		p->owner_name = xstrdup(rs->owner_name);
	} else {
		p->owner_kind = xstrdup("ReplicaSet");
		p->owner_name = xstrdup(p->rs_name);
	}
}

static bool is_proxy_container(const struct json *c)
{
	const char *n = jstr(c, "name");

	return n && !strcmp(n, "conduit-proxy");
}

/*
 * proxy_has_identity - the proxy container c is given trust anchors and
 * identity is not disabled: it gets a certificate and accepts mesh TLS
 */
static bool proxy_has_identity(const struct json *c)
{
	const struct json *env = json_get(c, "env");
	bool anchors = false, disabled = false;

	for (size_t i = 0; i < json_count(env); i++) {
		const struct json *e = json_at(env, i);
		const char *n = jstr(e, "name"), *v = jstr(e, "value");

		if (!n)
			continue;
		if (!strcmp(n, "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS") ||
		    !strcmp(n, "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE"))
			anchors = true;
		else if (!strcmp(n, "CONDUIT_PROXY_IDENTITY_DISABLED"))
			disabled = v && *v && strcmp(v, "false") &&
				   strcmp(v, "0");
	}
	return anchors && !disabled;
}

/* pod_read_containers - meshed?, the admin port, every named port */
static void pod_read_containers(struct cluster_pod *p, const struct json *spec)
{
	static const char *const lists[] = { "containers", "initContainers" };
	size_t cap = 0, k = 0;

	p->admin_port = 4191;
	p->tap_port = 4190;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const struct json *cs = json_get(spec, lists[l]);

		for (size_t i = 0; i < json_count(cs); i++)
			cap += json_count(json_get(json_at(cs, i), "ports"));
	}
	if (cap)
		p->ports = xcalloc(cap, sizeof(*p->ports));
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const struct json *cs = json_get(spec, lists[l]);

		for (size_t i = 0; i < json_count(cs); i++) {
			const struct json *c = json_at(cs, i);
			const struct json *ports = json_get(c, "ports");
			bool proxy = is_proxy_container(c);

			p->meshed |= proxy;
			if (proxy)
				p->has_identity = proxy_has_identity(c);
			for (size_t j = 0; j < json_count(ports) && k < cap; j++) {
				const struct json *pt = json_at(ports, j);
				const char *name = jstr(pt, "name");
				long v;

				if (!jint(json_get(pt, "containerPort"), 1, 65535,
					  &v))
					continue;
				if (proxy && name && !strcmp(name, "conduit-admin"))
					p->admin_port = (int)v;
				if (proxy && name && !strcmp(name, "conduit-tap"))
					p->tap_port = (int)v;
				p->ports[k].name = xstrdup(name ? name : "");
				p->ports[k].port = (int)v;
				k++;
			}
		}
	}
	p->nports = k;
}

static bool pod_running(const struct cluster_pod *p)
{
	return p->ip && p->phase && strcmp(p->phase, "Succeeded") &&
	       strcmp(p->phase, "Failed");
}

static struct cluster_pod *pod_read(const struct json *obj, const char *ns,
				    const char *name)
{
	struct cluster_pod *p = xcalloc(1, sizeof(*p));
	const struct json *spec = json_get(obj, "spec");
	const struct json *status = json_get(obj, "status");
	const struct json *conds = json_get(status, "conditions");
	const struct json *owner = controller_owner(obj);

	p->ns = xstrdup(ns);
	p->name = xstrdup(name);
	p->ip = xstrdup_or_null(jstr(status, "podIP"));
	if (p->ip && !*p->ip) {
		free(p->ip);
		p->ip = NULL;
	}
	p->phase = xstrdup(jstr(status, "phase") ? jstr(status, "phase")
						 : "Pending");
	p->node = xstrdup_or_null(jstr(spec, "nodeName"));
	p->sa = xstrdup(jstr(spec, "serviceAccountName")
			       ? jstr(spec, "serviceAccountName")
			       : "default");
	for (size_t i = 0; i < json_count(conds); i++) {
		const struct json *c = json_at(conds, i);
		const char *t = jstr(c, "type"), *s = jstr(c, "status");

		if (t && s && !strcmp(t, "Ready"))
			p->ready = !strcmp(s, "True");
	}
	p->terminating = jpath(obj, "metadata.deletionTimestamp") &&
			 json_type(jpath(obj, "metadata.deletionTimestamp")) !=
				 JSON_NULL;
	p->labels = labels_read(jpath(obj, "metadata.labels"), &p->nlabels);
	if (owner && jstr(owner, "kind") && jstr(owner, "name")) {
		if (!strcmp(jstr(owner, "kind"), "ReplicaSet"))
			p->rs_name = xstrdup(jstr(owner, "name"));
		p->owner_kind = xstrdup(jstr(owner, "kind"));
		p->owner_name = xstrdup(jstr(owner, "name"));
	}
	pod_read_containers(p, spec);
	return p;
}

static struct cl_service *service_read(const struct json *obj, const char *ns,
				       const char *name, char *why,
				       size_t whylen)
{
	struct cl_service *s = xcalloc(1, sizeof(*s));
	const struct json *spec = json_get(obj, "spec");
	const struct json *sel = json_get(spec, "selector");

	s->ns = xstrdup(ns);
	s->name = xstrdup(name);
	s->has_selector = json_type(sel) == JSON_OBJECT && json_count(sel);
	s->selector = labels_read(sel, &s->nselector);
	if (ports_read(json_get(spec, "ports"), "port", true, &s->ports,
		       &s->nports, why, whylen)) {
		service_free(s);
		return NULL;
	}
	return s;
}

static int slice_read_endpoint(struct cl_slice_ep *e, const struct json *j,
			       size_t i, char *why, size_t whylen)
{
	const struct json *addrs = json_get(j, "addresses");
	const struct json *cond = json_get(j, "conditions");
	const struct json *ref = json_get(j, "targetRef");
	const char *zone = jstr(j, "zone");

	e->ready = jbool(json_get(cond, "ready"), true);
	/* serving is new in 1.20+: absent, it follows ready */
	e->serving = jbool(json_get(cond, "serving"), e->ready);
	e->terminating = jbool(json_get(cond, "terminating"), false);
	e->addrs = xcalloc(json_count(addrs) + 1, sizeof(char *));
	for (size_t k = 0; k < json_count(addrs); k++) {
		const char *a = json_string(json_at(addrs, k));
		struct sock_addr sa;

		if (!a || sock_ip_parse(a, &sa) < 0) {
			snprintf(why, whylen,
				 "endpoints[%zu].addresses[%zu]: not an IP address",
				 i, k);
			return -EINVAL;
		}
		e->addrs[e->naddrs++] = xstrdup(a);
	}
	if (ref && jstr(ref, "kind") && !strcmp(jstr(ref, "kind"), "Pod"))
		e->pod = xstrdup_or_null(jstr(ref, "name"));
	e->node = xstrdup_or_null(jstr(j, "nodeName"));
	e->zone = xstrdup_or_null(zone);
	return 0;
}

static struct cl_slice *slice_read(const struct json *obj, const char *ns,
				   const char *name, char *why, size_t whylen)
{
	struct cl_slice *s = xcalloc(1, sizeof(*s));
	const char *svc;
	const struct json *eps = json_get(obj, "endpoints");

	s->ns = xstrdup(ns);
	s->name = xstrdup(name);
	/* the label's key has dots: look it up by hand */
	svc = json_string(json_get(jpath(obj, "metadata.labels"),
				   "kubernetes.io/service-name"));
	if (svc)
		s->svc_key = xasprintf("%s/%s", ns, svc);
	if (ports_read(json_get(obj, "ports"), "port", false, &s->ports,
		       &s->nports, why, whylen))
		goto bad;
	if (json_count(eps))
		s->eps = xcalloc(json_count(eps), sizeof(*s->eps));
	for (size_t i = 0; i < json_count(eps); i++) {
		s->neps++;
		if (slice_read_endpoint(&s->eps[i], json_at(eps, i), i, why,
					whylen))
			goto bad;
	}
	return s;
bad:
	slice_free(s);
	return NULL;
}

/* --- the cache -------------------------------------------------------------- */

struct cluster *cluster_new(const struct cluster_config *cfg)
{
	struct cluster *cl = xcalloc(1, sizeof(*cl));

	cl->synced = true;
	cl->cfg.derive_endpoints = cfg->derive_endpoints;
	cl->cfg.cluster_domain =
		xstrdup(cfg->cluster_domain ? cfg->cluster_domain
					    : "cluster.local");
	cl->cfg.identity_domain =
		xstrdup(cfg->identity_domain ? cfg->identity_domain
					     : "conduit.cluster.local");
	return cl;
}

void cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	map_release(&cl->pods_by_ip, NULL);
	map_release(&cl->pods, pod_free);
	map_release(&cl->slices_by_svc, slice_list_free);
	map_release(&cl->slices, slice_free);
	map_release(&cl->services, service_free);
	map_release(&cl->rss, rs_free);
	free((char *)cl->cfg.cluster_domain);
	free((char *)cl->cfg.identity_domain);
	free(cl);
}

int cluster_listen(struct cluster *cl, cluster_on_change fn, void *arg)
{
	if (cl->nlisteners >= MAX_LISTENERS)
		return -ENOSPC;
	cl->listeners[cl->nlisteners].fn = fn;
	cl->listeners[cl->nlisteners].arg = arg;
	cl->nlisteners++;
	return 0;
}

void cluster_unlisten(struct cluster *cl, cluster_on_change fn, void *arg)
{
	for (size_t i = 0; i < cl->nlisteners; i++) {
		if (cl->listeners[i].fn != fn || cl->listeners[i].arg != arg)
			continue;
		memmove(&cl->listeners[i], &cl->listeners[i + 1],
			(cl->nlisteners - i - 1) * sizeof(cl->listeners[0]));
		cl->nlisteners--;
		return;
	}
}

void cluster_set_synced(struct cluster *cl, bool synced)
{
	bool was = cl->synced;

	cl->synced = synced;
	if (synced && !was)
		for (size_t i = 0; i < cl->nlisteners; i++)
			cl->listeners[i].fn(cl->listeners[i].arg, NULL);
}

bool cluster_synced(const struct cluster *cl)
{
	return cl->synced;
}

uint64_t cluster_generation(const struct cluster *cl)
{
	return cl->generation;
}

static void changed(struct cluster *cl, const char *ns)
{
	cl->generation++;
	for (size_t i = 0; i < cl->nlisteners; i++)
		cl->listeners[i].fn(cl->listeners[i].arg, ns);
}

bool cluster_kept_kind(const char *kind)
{
	return kind && (!strcmp(kind, "Pod") || !strcmp(kind, "Service") ||
			!strcmp(kind, "EndpointSlice") ||
			!strcmp(kind, "ReplicaSet"));
}

size_t cluster_count(const struct cluster *cl, const char *kind)
{
	if (!strcmp(kind, "Pod"))
		return map_len(&cl->pods);
	if (!strcmp(kind, "Service"))
		return map_len(&cl->services);
	if (!strcmp(kind, "EndpointSlice"))
		return map_len(&cl->slices);
	if (!strcmp(kind, "ReplicaSet"))
		return map_len(&cl->rss);
	return 0;
}

static void ip_index_del(struct cluster *cl, struct cluster_pod *p)
{
	if (p && p->ip && map_get(&cl->pods_by_ip, p->ip) == p)
		map_del(&cl->pods_by_ip, p->ip);
}

static void apply_pod(struct cluster *cl, const char *key,
		      struct cluster_pod *p)
{
	struct cluster_pod *old = p ? map_put(&cl->pods, key, p)
				    : map_del(&cl->pods, key);

	ip_index_del(cl, old);
	pod_free(old);
	if (p) {
		pod_set_owner(cl, p);
		if (pod_running(p))
			map_put(&cl->pods_by_ip, p->ip, p);
	}
}

static void slice_index(struct cluster *cl, struct cl_slice *s, bool add)
{
	struct slice_list *l;

	if (!s || !s->svc_key)
		return;
	l = map_get(&cl->slices_by_svc, s->svc_key);
	if (add) {
		if (!l) {
			l = xcalloc(1, sizeof(*l));
			map_put(&cl->slices_by_svc, s->svc_key, l);
		}
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 4;
			l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		}
		l->v[l->n++] = s;
		return;
	}
	for (size_t i = 0; l && i < l->n; i++) {
		if (l->v[i] != s)
			continue;
		l->v[i] = l->v[--l->n];
		if (!l->n)
			slice_list_free(map_del(&cl->slices_by_svc, s->svc_key));
		return;
	}
}

static void apply_rs(struct cluster *cl, const char *key, struct cl_rs *r,
		     const char *ns, const char *name)
{
	rs_free(r ? map_put(&cl->rss, key, r) : map_del(&cl->rss, key));
	/* its pods' owner may have changed */
	for (struct map_iter it = MAP_ITER; map_next(&cl->pods, &it);) {
		struct cluster_pod *p = it.value;

		if (p->rs_name && !strcmp(p->rs_name, name) &&
		    !strcmp(p->ns, ns))
			pod_set_owner(cl, p);
	}
}

int cluster_apply(struct cluster *cl, enum cluster_op op,
		  const struct json *obj, char *err, size_t errlen)
{
	const char *kind = jstr(obj, "kind");
	const char *name = jpath_str(obj, "metadata.name");
	const char *ns = jpath_str(obj, "metadata.namespace");
	char key[512], why[160] = "";

	if (!cluster_kept_kind(kind))
		return 0;
	if (!ns || !*ns)
		ns = "default";
	if (!name || !*name) {
		snprintf(err, errlen, "%s %s/?: metadata.name is missing", kind,
			 ns);
		return -EINVAL;
	}
	if (snprintf(key, sizeof(key), "%s/%s", ns, name) >= (int)sizeof(key)) {
		snprintf(err, errlen, "%s %s/%s: name too long", kind, ns, name);
		return -EINVAL;
	}
	if (!strcmp(kind, "Pod")) {
		if (op == CLUSTER_DELETE && !map_get(&cl->pods, key))
			return 0;
		apply_pod(cl, key,
			  op == CLUSTER_DELETE ? NULL : pod_read(obj, ns, name));
	} else if (!strcmp(kind, "Service")) {
		struct cl_service *s = NULL;

		if (op == CLUSTER_DELETE && !map_get(&cl->services, key))
			return 0;
		if (op != CLUSTER_DELETE &&
		    !(s = service_read(obj, ns, name, why, sizeof(why))))
			goto invalid;
		service_free(s ? map_put(&cl->services, key, s)
			       : map_del(&cl->services, key));
	} else if (!strcmp(kind, "EndpointSlice")) {
		struct cl_slice *s = NULL, *old;

		if (op == CLUSTER_DELETE && !map_get(&cl->slices, key))
			return 0;
		if (op != CLUSTER_DELETE &&
		    !(s = slice_read(obj, ns, name, why, sizeof(why))))
			goto invalid;
		old = s ? map_put(&cl->slices, key, s)
			: map_del(&cl->slices, key);
		slice_index(cl, old, false);
		slice_free(old);
		slice_index(cl, s, true);
	} else {
		struct cl_rs *r = NULL;
		const struct json *owner = controller_owner(obj);

		if (op == CLUSTER_DELETE && !map_get(&cl->rss, key))
			return 0;
		if (op != CLUSTER_DELETE) {
			r = xcalloc(1, sizeof(*r));
			r->ns = xstrdup(ns);
			r->name = xstrdup(name);
			if (owner && jstr(owner, "kind") && jstr(owner, "name")) {
				r->owner_kind = xstrdup(jstr(owner, "kind"));
				r->owner_name = xstrdup(jstr(owner, "name"));
			}
		}
		apply_rs(cl, key, r, ns, name);
	}
	changed(cl, ns);
	return 1;
invalid:
	snprintf(err, errlen, "%s %s/%s: %s", kind, ns, name, why);
	return -EINVAL;
}

/* --- queries ---------------------------------------------------------------- */

int cluster_parse_authority(const struct cluster *cl, const char *authority,
			    char *svc, size_t svclen, char *ns, size_t nslen,
			    int *port)
{
	const char *colon = strrchr(authority, ':'), *p;
	const char *labels[8];
	size_t lens[8], n = 0;
	char *end;
	long v;

	if (!colon || colon == authority)
		return -EINVAL;
	v = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || v < 1 || v > 65535)
		return -EINVAL;
	for (p = authority; p < colon && n < ARRAY_SIZE(labels);) {
		const char *dot = memchr(p, '.', (size_t)(colon - p));
		size_t len = dot ? (size_t)(dot - p) : (size_t)(colon - p);

		if (!len || len > 63)
			return -EINVAL;
		for (size_t i = 0; i < len; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') ||
			      (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
				return -EINVAL;
		labels[n] = p;
		lens[n++] = len;
		p += len + (dot ? 1 : 0);
		if (!dot)
			break;
	}
	if (p < colon || n < 2)
		return -EINVAL;
	if (n > 2) {
		/* svc.ns.svc[.<cluster domain>] */
		size_t dlen = strlen(cl->cfg.cluster_domain);
		const char *rest = labels[2];
		size_t rlen = (size_t)(colon - rest);

		if (lens[2] != 3 || memcmp(labels[2], "svc", 3))
			return -EINVAL;
		if (n > 3 && (rlen != 4 + dlen ||
			      memcmp(rest + 4, cl->cfg.cluster_domain, dlen)))
			return -EINVAL;
	}
	if (lens[0] >= svclen || lens[1] >= nslen)
		return -EINVAL;
	memcpy(svc, labels[0], lens[0]);
	svc[lens[0]] = 0;
	memcpy(ns, labels[1], lens[1]);
	ns[lens[1]] = 0;
	*port = (int)v;
	return 0;
}

bool cluster_service_exists(const struct cluster *cl, const char *ns,
			    const char *name)
{
	char key[512];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return map_get(&cl->services, key) != NULL;
}

const struct cluster_pod *cluster_pod(const struct cluster *cl,
				      const char *ns, const char *name)
{
	char key[512];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return map_get(&cl->pods, key);
}

const struct cluster_pod *cluster_pod_by_ip(const struct cluster *cl,
					    const char *ip)
{
	return map_get(&cl->pods_by_ip, ip);
}

/* an array that grows, for the endpoints being collected */
struct ep_vec {
	struct cluster_endpoint *v;
	size_t n, cap;
};

static void ep_push(struct ep_vec *vec, const char *ip, int port,
		    const struct cluster_pod *pod, bool ready, bool serving,
		    bool terminating, char *node, char *zone)
{
	struct cluster_endpoint *e;

	if (vec->n == vec->cap) {
		vec->cap = vec->cap ? vec->cap * 2 : 8;
		vec->v = xrealloc(vec->v, vec->cap * sizeof(*vec->v));
	}
	e = &vec->v[vec->n];
	memset(e, 0, sizeof(*e));
	if (sock_ip_parse(ip, &e->addr) < 0)
		return; /* checked when the object was read */
	sock_addr_set_port(&e->addr, port);
	str_copy(e->ip, ip, sizeof(e->ip));
	e->port = port;
	e->pod = pod;
	e->ready = ready;
	e->serving = serving;
	e->terminating = terminating;
	e->node = node;
	e->zone = zone;
	vec->n++;
}

static bool selects(const struct cl_service *s, const struct cluster_pod *p)
{
	for (size_t i = 0; i < s->nselector; i++) {
		const char *v = cluster_label_get(p->labels, p->nlabels,
						  s->selector[i].key);

		if (!v || strcmp(v, s->selector[i].value))
			return false;
	}
	return true;
}

/* pod_port - a named targetPort in the pod's containers (0: none) */
static int pod_port(const struct cluster_pod *p, const char *name)
{
	for (size_t i = 0; i < p->nports; i++)
		if (!strcmp(p->ports[i].name, name))
			return p->ports[i].port;
	return 0;
}

static void derive(const struct cluster *cl, const struct cl_service *s,
		   const struct cluster_port *sp, struct ep_vec *vec)
{
	for (struct map_iter it = MAP_ITER; map_next(&cl->pods, &it);) {
		const struct cluster_pod *p = it.value;
		int port = sp->target_name ? pod_port(p, sp->target_name)
					   : sp->target_port;

		if (strcmp(p->ns, s->ns) || !pod_running(p) || !p->ready ||
		    p->terminating || !port || !selects(s, p))
			continue;
		ep_push(vec, p->ip, port, p, true, true, false, p->node, NULL);
	}
}

int cluster_endpoints(const struct cluster *cl, const char *ns,
		      const char *svc, int port, struct cluster_endpoint **out,
		      size_t *n)
{
	char key[512];
	const struct cl_service *s;
	const struct cluster_port *sp = NULL;
	const struct slice_list *l;
	struct ep_vec vec = { 0 };

	*out = NULL;
	*n = 0;
	snprintf(key, sizeof(key), "%s/%s", ns, svc);
	if (!(s = map_get(&cl->services, key)))
		return -ENOENT;
	for (size_t i = 0; i < s->nports; i++)
		if (s->ports[i].port == port)
			sp = &s->ports[i];
	if (!sp)
		return -ENOENT;
	l = map_get(&cl->slices_by_svc, key);
	if (!l && cl->cfg.derive_endpoints && s->has_selector)
		derive(cl, s, sp, &vec);
	for (size_t i = 0; l && i < l->n; i++) {
		const struct cl_slice *sl = l->v[i];
		int p = 0;

		/* the slice port is the service port of the same name */
		for (size_t k = 0; k < sl->nports; k++)
			if (!strcmp(sl->ports[k].name, sp->name))
				p = sl->ports[k].port;
		if (!p)
			continue;
		for (size_t k = 0; k < sl->neps; k++) {
			const struct cl_slice_ep *e = &sl->eps[k];
			const struct cluster_pod *pod =
				e->pod ? cluster_pod(cl, ns, e->pod) : NULL;

			/* terminating endpoints serve until they stop
			 * (a fallback: see below) */
			if (!e->ready && !e->serving)
				continue;
			for (size_t a = 0; a < e->naddrs; a++)
				ep_push(&vec, e->addrs[a], p, pod, e->ready,
					e->serving, e->terminating, e->node,
					e->zone);
		}
	}
	/*
	 * terminating-but-serving endpoints take traffic only when none is
	 * ready, as kube-proxy does: a pod being deleted gets no new
	 * requests while others can take them, and a one-replica rollout
	 * still has somewhere to send them
	 */
	{
		size_t ready = 0, k = 0;

		for (size_t i = 0; i < vec.n; i++)
			ready += vec.v[i].ready;
		for (size_t i = 0; ready && i < vec.n; i++)
			if (vec.v[i].ready)
				vec.v[k++] = vec.v[i];
		if (ready)
			vec.n = k;
	}
	*out = vec.v;
	*n = vec.n;
	return 0;
}

static int pod_cmp(const void *a, const void *b)
{
	const struct cluster_pod *x = *(const struct cluster_pod *const *)a;
	const struct cluster_pod *y = *(const struct cluster_pod *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

ssize_t cluster_pods(const struct cluster *cl, const char *ns,
		     const struct cluster_pod ***out)
{
	const struct cluster_pod **v = xcalloc(map_len(&cl->pods) + 1,
					       sizeof(*v));
	size_t n = 0;

	for (struct map_iter it = MAP_ITER; map_next(&cl->pods, &it);) {
		const struct cluster_pod *p = it.value;

		if (!ns || !strcmp(p->ns, ns))
			v[n++] = p;
	}
	qsort(v, n, sizeof(*v), pod_cmp);
	*out = v;
	return (ssize_t)n;
}

char *cluster_pod_identity(const struct cluster *cl,
			   const struct cluster_pod *p, char *buf, size_t size)
{
	if (!p || !p->meshed || !p->has_identity)
		str_copy(buf, "", size);
	else
		snprintf(buf, size, "%s.%s.serviceaccount.identity.%s", p->sa,
			 p->ns, cl->cfg.identity_domain);
	return buf;
}
