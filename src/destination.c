/* SPDX-License-Identifier: Apache-2.0 */
/* destination.c - the controller's destination component: Destination.Get over gRPC */
#include "conduit/destination.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/arena.h"
#include "conduit/log.h"
#include "destination.pb-c.h"

#define RETRY_SLOW 0.1 /* s: a stream whose client was slow tries again */

typedef Io__Linkerd__Proxy__Destination__Update Update;
typedef Io__Linkerd__Proxy__Destination__WeightedAddrSet WeightedAddrSet;
typedef Io__Linkerd__Proxy__Destination__WeightedAddr WeightedAddr;
typedef Io__Linkerd__Proxy__Destination__WeightedAddr__MetricLabelsEntry
	AddrLabel;
typedef Io__Linkerd__Proxy__Destination__WeightedAddrSet__MetricLabelsEntry
	SetLabel;
typedef Io__Linkerd__Proxy__Destination__AddrSet AddrSet;
typedef Io__Linkerd__Proxy__Destination__NoEndpoints NoEndpoints;
typedef Io__Linkerd__Proxy__Net__TcpAddress TcpAddress;
typedef Io__Linkerd__Proxy__Net__IPAddress IPAddress;
typedef Io__Linkerd__Proxy__Net__IPv6 IPv6;

/*
 * An address, compact and ordered: a stream keeps one per endpoint it
 * announced (a struct sock_addr is 132 bytes; 1,000 streams on a service
 * of 500 endpoints would keep 66 MB of them).
 */
struct akey {
	uint8_t ip[16];	 /* IPv4: the first 4 bytes */
	uint32_t scope;	 /* IPv6 scope id */
	uint16_t port;
	uint8_t v6;
};

/* what a stream last told its client about one address */
struct sent_addr {
	struct akey key;
	uint64_t sig; /* hash of labels and identity: a change is re-sent
		       * as an add */
};

struct sub {
	struct destination *d;
	struct sub *prev, *next;
	struct grpc_call *call;
	char ns[64], svc[64];
	int port;
	bool by_ip;		/* the path was an IP:port */
	struct sock_addr ip;
	bool dirty;		/* the cache changed since the last send */
	bool sent_any;		/* the first answer went out */
	int last_empty;		/* -1: not sent; else the exists of the last
				 * no_endpoints, while the set is empty */
	struct sent_addr *sent;
	size_t nsent;
};

struct destination {
	struct destination_config cfg;
	struct grpc_server *server;
	struct grpc_method *methods; /* the table, pointing back at us */
	struct sub *subs;
	ev_timer flush;		/* coalesces changes; retries slow streams */
	bool flush_armed;
	struct destination_stats stats;
	struct metrics_series *m_streams, *m_updates, *m_gets;
};

/* --- wire conversions ------------------------------------------------------- */

void destination_tcp_addr(const struct sock_addr *a, TcpAddress *t,
			  IPAddress *ip, IPv6 *ip6)
{
	io__linkerd__proxy__net__tcp_address__init(t);
	io__linkerd__proxy__net__ipaddress__init(ip);
	io__linkerd__proxy__net__ipv6__init(ip6);
	t->ip = ip;
	t->port = (uint32_t)sock_addr_port(a);
	if (a->u.sa.sa_family == AF_INET6) {
		const uint8_t *b = a->u.in6.sin6_addr.s6_addr;

		for (int i = 0; i < 8; i++) {
			ip6->first = ip6->first << 8 | b[i];
			ip6->last = ip6->last << 8 | b[8 + i];
		}
		ip->ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6;
		ip->ipv6 = ip6;
	} else {
		ip->ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4;
		ip->ipv4 = ntohl(a->u.in4.sin_addr.s_addr);
	}
}

int destination_sock_addr(const TcpAddress *t, struct sock_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!t || !t->ip || t->port > 65535)
		return -EINVAL;
	if (t->ip->ip_case == IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4) {
		out->u.in4.sin_family = AF_INET;
		out->u.in4.sin_addr.s_addr = htonl(t->ip->ipv4);
		out->len = sizeof(out->u.in4);
	} else if (t->ip->ip_case == IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV6 &&
		   t->ip->ipv6) {
		uint8_t *b = out->u.in6.sin6_addr.s6_addr;

		for (int i = 0; i < 8; i++) {
			b[i] = (uint8_t)(t->ip->ipv6->first >> (56 - 8 * i));
			b[8 + i] = (uint8_t)(t->ip->ipv6->last >> (56 - 8 * i));
		}
		out->u.in6.sin6_family = AF_INET6;
		out->len = sizeof(out->u.in6);
	} else {
		return -EINVAL;
	}
	sock_addr_set_port(out, (int)t->port);
	return 0;
}

/* --- the desired set ---------------------------------------------------------- */

/* an address to announce, with its labels */
struct want {
	struct akey key;
	struct sock_addr addr;
	const struct cluster_pod *pod;
	char identity[256];
	uint64_t sig;
};

/*
 * The addresses of one service port, computed once per flush for every
 * stream that asks for it, sorted by key so each stream's difference is
 * one merge: O(n) a stream rather than O(n^2) (500 endpoints x 1,000
 * streams was 250 million comparisons a change).
 */
struct want_set {
	struct want *w;
	ssize_t n; /* or -ENOENT: no such service or port */
};

static void akey_of(const struct sock_addr *a, struct akey *k)
{
	memset(k, 0, sizeof(*k));
	k->port = (uint16_t)sock_addr_port(a);
	if (a->u.sa.sa_family == AF_INET6) {
		memcpy(k->ip, &a->u.in6.sin6_addr, 16);
		k->scope = a->u.in6.sin6_scope_id;
		k->v6 = 1;
	} else {
		memcpy(k->ip, &a->u.in4.sin_addr, 4);
	}
}

static void akey_addr(const struct akey *k, struct sock_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (k->v6) {
		a->u.in6.sin6_family = AF_INET6;
		memcpy(&a->u.in6.sin6_addr, k->ip, 16);
		a->u.in6.sin6_scope_id = k->scope;
		a->len = sizeof(a->u.in6);
	} else {
		a->u.in4.sin_family = AF_INET;
		memcpy(&a->u.in4.sin_addr, k->ip, 4);
		a->len = sizeof(a->u.in4);
	}
	sock_addr_set_port(a, k->port);
}

static int akey_cmp(const struct akey *a, const struct akey *b)
{
	int c = memcmp(a->ip, b->ip, sizeof(a->ip));

	if (c)
		return c;
	if (a->v6 != b->v6)
		return a->v6 < b->v6 ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1;
	return 0;
}

static int want_cmp(const void *a, const void *b)
{
	return akey_cmp(&((const struct want *)a)->key,
			&((const struct want *)b)->key);
}

/* FNV-1a, 64 bits, of s and a separator */
static uint64_t sig_add(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

/* signature - what an address's announcement says besides the address */
static uint64_t signature(const struct want *w)
{
	const struct cluster_pod *p = w->pod;
	uint64_t h = 0xcbf29ce484222325ull;

	if (!p)
		return h;
	h = sig_add(h, p->name);
	h = sig_add(h, p->owner_kind);
	h = sig_add(h, p->owner_name);
	h = sig_add(h, p->sa);
	h = sig_add(h, w->identity);
	h = sig_add(h, p->meshed ? "meshed" : "");
	return sig_add(h, p->node);
}

static void want_fill(struct cluster *cl, struct want *w,
		      const struct sock_addr *a, const struct cluster_pod *pod)
{
	w->addr = *a;
	akey_of(a, &w->key);
	w->pod = pod;
	cluster_pod_identity(cl, pod, w->identity, sizeof(w->identity));
	w->sig = signature(w);
}

/*
 * desired - the addresses s should know now, sorted by key, into ws
 * (free ws->w with free()); ws->n is their count, or -ENOENT when the
 * service (or its port) does not exist
 */
static void desired(struct sub *s, struct want_set *ws)
{
	struct cluster *cl = s->d->cfg.cluster;
	struct cluster_endpoint *eps = NULL;
	size_t n = 0;
	int r;

	ws->w = NULL;
	if (s->by_ip) {
		char ip[SOCK_ADDR_STRLEN];

		ws->w = xcalloc(1, sizeof(*ws->w));
		want_fill(cl, ws->w, &s->ip,
			  cluster_pod_by_ip(cl, sock_addr_format_ip(&s->ip, ip,
								    sizeof(ip))));
		ws->n = 1;
		return;
	}
	r = cluster_endpoints(cl, s->ns, s->svc, s->port, &eps, &n);
	if (r < 0) {
		ws->n = r;
		return;
	}
	ws->w = n ? xcalloc(n, sizeof(*ws->w)) : NULL;
	for (size_t i = 0; i < n; i++)
		want_fill(cl, &ws->w[i], &eps[i].addr, eps[i].pod);
	free(eps);
	if (n > 1)
		qsort(ws->w, n, sizeof(*ws->w), want_cmp);
	ws->n = (ssize_t)n;
}

static void want_set_free(void *v)
{
	struct want_set *ws = v;

	if (ws)
		free(ws->w);
	free(ws);
}

/* --- building updates ----------------------------------------------------------- */

static AddrLabel *addr_label(struct arena *a, const char *k, const char *v)
{
	AddrLabel *l = arena_alloc(a, sizeof(*l));

	io__linkerd__proxy__destination__weighted_addr__metric_labels_entry__init(l);
	l->key = arena_strdup(a, k);
	l->value = arena_strdup(a, v);
	return l;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static WeightedAddr *weighted(struct arena *a, const struct want *w)
{
	WeightedAddr *wa = arena_alloc(a, sizeof(*wa));
	TcpAddress *t = arena_alloc(a, sizeof(*t));
	IPAddress *ip = arena_alloc(a, sizeof(*ip));
	IPv6 *ip6 = arena_alloc(a, sizeof(*ip6));
	const struct cluster_pod *p = w->pod;
	AddrLabel **labels = arena_alloc(a, 4 * sizeof(*labels));
	size_t n = 0;

	io__linkerd__proxy__destination__weighted_addr__init(wa);
	destination_tcp_addr(&w->addr, t, ip, ip6);
	wa->addr = t;
	wa->weight = 10000;
	if (p) {
		labels[n++] = addr_label(a, "pod", p->name);
		labels[n++] = addr_label(a, "serviceaccount", p->sa);
		if (p->owner_kind && p->owner_name) {
			char kind[64];

			str_copy(kind, p->owner_kind, sizeof(kind));
			lower(kind);
			labels[n++] = addr_label(a, kind, p->owner_name);
		}
	}
	wa->metric_labels = labels;
	wa->n_metric_labels = n;
	if (w->identity[0]) {
		Io__Linkerd__Proxy__Destination__TlsIdentity *id =
			arena_alloc(a, sizeof(*id));
		Io__Linkerd__Proxy__Destination__TlsIdentity__DnsLikeIdentity
			*dns = arena_alloc(a, sizeof(*dns));

		io__linkerd__proxy__destination__tls_identity__init(id);
		io__linkerd__proxy__destination__tls_identity__dns_like_identity__init(dns);
		dns->name = arena_strdup(a, w->identity);
		id->strategy_case =
			IO__LINKERD__PROXY__DESTINATION__TLS_IDENTITY__STRATEGY_DNS_LIKE_IDENTITY;
		id->dns_like_identity = dns;
		wa->tls_identity = id;
	}
	if (w->pod && w->pod->meshed) {
		/* a proxy is there, with or without an identity */
		Io__Linkerd__Proxy__Destination__ProtocolHint *hint =
			arena_alloc(a, sizeof(*hint));
		Io__Linkerd__Proxy__Destination__ProtocolHint__H2 *h2 =
			arena_alloc(a, sizeof(*h2));

		io__linkerd__proxy__destination__protocol_hint__init(hint);
		io__linkerd__proxy__destination__protocol_hint__h2__init(h2);
		hint->protocol_case =
			IO__LINKERD__PROXY__DESTINATION__PROTOCOL_HINT__PROTOCOL_H2;
		hint->h2 = h2;
		wa->protocol_hint = hint;
	}
	return wa;
}

static int send_update(struct sub *s, Update *u)
{
	int r = grpc_call_send_message(s->call, &u->base);

	if (!r) {
		s->d->stats.updates_sent++;
		if (s->d->m_updates)
			metrics_counter_inc(s->d->m_updates);
	}
	return r;
}

static int send_no_endpoints(struct sub *s, bool exists)
{
	Update u = IO__LINKERD__PROXY__DESTINATION__UPDATE__INIT;
	NoEndpoints ne = IO__LINKERD__PROXY__DESTINATION__NO_ENDPOINTS__INIT;
	int r;

	ne.exists = exists;
	u.update_case = IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_NO_ENDPOINTS;
	u.no_endpoints = &ne;
	if ((r = send_update(s, &u)))
		return r;
	s->last_empty = exists;
	s->sent_any = true;
	return 0;
}

static void sent_clear(struct sub *s)
{
	free(s->sent);
	s->sent = NULL;
	s->nsent = 0;
}

/*
 * sync_sub - tell s's client the difference between what it knows and
 * w[0..n) (sorted by key; n < 0: no such service), what the cache says.
 * s->sent is sorted the same way, so the difference is one merge.
 * Returns 0, or -ENOBUFS (the client is slow: try again later; what it
 * knows is still exact), or another error.
 */
static int sync_sub(struct sub *s, const struct want *w, ssize_t n)
{
	struct arena a;
	Update u = IO__LINKERD__PROXY__DESTINATION__UPDATE__INIT;
	int r = 0;

	s->d->stats.recomputes++;
	if (n <= 0) {
		bool exists = n == 0;

		if (s->sent_any && s->nsent == 0 && s->last_empty == exists)
			return 0;
		if ((r = send_no_endpoints(s, exists)))
			return r;
		sent_clear(s);
		return 0;
	}
	arena_init(&a, 4096, 0);
	/* gone: one remove */
	{
		AddrSet rm = IO__LINKERD__PROXY__DESTINATION__ADDR_SET__INIT;
		TcpAddress **v = arena_alloc(&a, (s->nsent + 1) * sizeof(*v));
		size_t j = 0;

		for (size_t i = 0; i < s->nsent; i++) {
			struct sock_addr sa;
			int c = 1;

			while (j < (size_t)n &&
			       (c = akey_cmp(&w[j].key, &s->sent[i].key)) < 0)
				j++;
			if (j < (size_t)n && c == 0)
				continue;
			akey_addr(&s->sent[i].key, &sa);
			v[rm.n_addrs] = arena_alloc(&a, sizeof(TcpAddress));
			destination_tcp_addr(&sa, v[rm.n_addrs],
					     arena_alloc(&a, sizeof(IPAddress)),
					     arena_alloc(&a, sizeof(IPv6)));
			rm.n_addrs++;
		}
		rm.addrs = v;
		if (rm.n_addrs) {
			u.update_case =
				IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_REMOVE;
			u.remove = &rm;
			r = send_update(s, &u);
		}
	}
	/* new or changed: one add */
	if (!r) {
		WeightedAddrSet add =
			IO__LINKERD__PROXY__DESTINATION__WEIGHTED_ADDR_SET__INIT;
		WeightedAddr **v = arena_alloc(&a, (size_t)n * sizeof(*v));
		SetLabel l[2], *lp[2] = { &l[0], &l[1] };
		size_t j = 0;

		for (ssize_t i = 0; i < n; i++) {
			int c = 1;

			while (j < s->nsent &&
			       (c = akey_cmp(&s->sent[j].key, &w[i].key)) < 0)
				j++;
			if (j < s->nsent && c == 0 && s->sent[j].sig == w[i].sig)
				continue;
			v[add.n_addrs++] = weighted(&a, &w[i]);
		}
		add.addrs = v;
		if (!s->by_ip) {
			io__linkerd__proxy__destination__weighted_addr_set__metric_labels_entry__init(&l[0]);
			io__linkerd__proxy__destination__weighted_addr_set__metric_labels_entry__init(&l[1]);
			l[0].key = "namespace";
			l[0].value = s->ns;
			l[1].key = "service";
			l[1].value = s->svc;
			add.metric_labels = lp;
			add.n_metric_labels = 2;
		}
		if (add.n_addrs) {
			u.update_case =
				IO__LINKERD__PROXY__DESTINATION__UPDATE__UPDATE_ADD;
			u.add = &add;
			r = send_update(s, &u);
		}
	}
	arena_release(&a);
	if (r) {
		/* a remove may have gone out without its add: resend both
		 * later from scratch rather than keep a half-known state */
		return r;
	}
	if (s->nsent != (size_t)n) {
		free(s->sent);
		s->sent = xcalloc((size_t)n, sizeof(*s->sent));
	}
	for (ssize_t i = 0; i < n; i++) {
		s->sent[i].key = w[i].key;
		s->sent[i].sig = w[i].sig;
	}
	s->nsent = (size_t)n;
	s->sent_any = true;
	s->last_empty = -1;
	return 0;
}

static void sub_end(struct sub *s, int status, const char *msg)
{
	struct destination *d = s->d;

	if (s->prev)
		s->prev->next = s->next;
	else
		d->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	d->stats.streams--;
	if (d->m_streams)
		metrics_gauge_add(d->m_streams, -1);
	sent_clear(s);
	if (s->call) {
		grpc_call_set_data(s->call, NULL);
		if (status >= 0)
			grpc_call_finish(s->call, status, msg);
	}
	free(s);
}

static void arm_flush(struct destination *d, double after)
{
	if (d->flush_armed)
		return;
	d->flush_armed = true;
	ev_timer_set(&d->flush, after, 0);
	ev_timer_start(d->cfg.loop, &d->flush);
}

static void on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct destination *d = container_of(w, struct destination, flush);
	struct map sets = MAP_INIT; /* "svc.ns:port" -> struct want_set */
	bool slow = false;

	(void)loop;
	(void)revents;
	d->flush_armed = false;
	/* not listed yet: every answer would be "no such service" */
	if (!cluster_synced(d->cfg.cluster))
		return; /* the sync calls the listener, which re-arms */
	for (struct sub *s = d->subs, *next; s; s = next) {
		struct want_set one, *ws = &one;
		char key[160];
		int r;

		next = s->next;
		if (!s->dirty)
			continue;
		if (s->by_ip) {
			desired(s, &one);
		} else {
			/* the cache does not change during the walk: one
			 * computation serves every stream of the service */
			snprintf(key, sizeof(key), "%s.%s:%d", s->svc, s->ns,
				 s->port);
			if (!(ws = map_get(&sets, key))) {
				ws = xcalloc(1, sizeof(*ws));
				desired(s, ws);
				map_put(&sets, key, ws);
			}
		}
		r = sync_sub(s, ws->w, ws->n);
		if (ws == &one)
			free(one.w);
		if (r == -ENOBUFS) {
			slow = true;
			continue;
		}
		s->dirty = false;
		if (r) {
			log_warn("destination: stream failed", "path=%s.%s:%d error=%s",
				 s->svc, s->ns, s->port, strerror(-r));
			sub_end(s, GRPC_INTERNAL, "cannot send the update");
		}
	}
	map_release(&sets, want_set_free);
	if (slow)
		arm_flush(d, RETRY_SLOW);
}

static void on_cluster_change(void *arg, const char *ns)
{
	struct destination *d = arg;
	bool any = false;

	for (struct sub *s = d->subs; s; s = s->next) {
		if (!ns || s->by_ip || !strcmp(s->ns, ns)) {
			s->dirty = true;
			any = true;
		}
	}
	if (any)
		arm_flush(d, 0);
}

/* --- the gRPC methods ------------------------------------------------------------ */

static struct destination *call_dest(struct grpc_call *call)
{
	return grpc_call_method_data(call);
}

/*
 * parse_path - a service authority, or an IP:port. 0, or -EINVAL with
 * the reason in why.
 */
static int parse_path(struct sub *s, const char *path)
{
	char err[64];

	if (!sock_addr_parse(path, &s->ip, err, sizeof(err)) &&
	    sock_addr_port(&s->ip) > 0) {
		s->by_ip = true;
		return 0;
	}
	return cluster_parse_authority(s->d->cfg.cluster, path, s->svc,
				       sizeof(s->svc), s->ns, sizeof(s->ns),
				       &s->port);
}

static void on_get(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct destination *d = call_dest(call);
	Io__Linkerd__Proxy__Destination__GetDestination *req;
	struct sub *s;
	char q[300], why[320];

	d->stats.gets++;
	if (d->m_gets)
		metrics_counter_inc(d->m_gets);
	req = io__linkerd__proxy__destination__get_destination__unpack(NULL, len,
									 msg);
	if (!req) {
		d->stats.invalid++;
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "GetDestination: not a valid message");
		return;
	}
	if (d->stats.streams >= d->cfg.max_streams) {
		protobuf_c_message_free_unpacked(&req->base, NULL);
		grpc_call_finish(call, GRPC_RESOURCE_EXHAUSTED,
				 "too many destination streams");
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->last_empty = -1;
	if (parse_path(s, req->path) < 0) {
		d->stats.invalid++;
		snprintf(why, sizeof(why),
			 "path %s: want <service>.<namespace>.svc.<cluster-domain>:<port> or <ip>:<port>",
			 log_quote(q, sizeof(q), req->path));
		log_info("destination: invalid path", "path=%s",
			 log_quote(q, sizeof(q), req->path));
		protobuf_c_message_free_unpacked(&req->base, NULL);
		free(s);
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT, why);
		return;
	}
	log_debug("destination: get", "path=%s", log_quote(q, sizeof(q), req->path));
	protobuf_c_message_free_unpacked(&req->base, NULL);
	s->call = call;
	grpc_call_set_data(call, s);
	s->next = d->subs;
	if (d->subs)
		d->subs->prev = s;
	d->subs = s;
	d->stats.streams++;
	if (d->m_streams)
		metrics_gauge_add(d->m_streams, 1);
	s->dirty = true;
	arm_flush(d, 0);
}

static void on_get_cancel(struct grpc_call *call)
{
	struct sub *s = grpc_call_data(call);

	if (!s)
		return;
	s->call = NULL;
	sub_end(s, -1, NULL);
}

static void on_profile(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct destination *d = call_dest(call);
	Io__Linkerd__Proxy__Destination__GetDestination *req;
	Io__Linkerd__Proxy__Destination__DestinationProfile p =
		IO__LINKERD__PROXY__DESTINATION__DESTINATION_PROFILE__INIT;
	Io__Linkerd__Proxy__Destination__RetryBudget b =
		IO__LINKERD__PROXY__DESTINATION__RETRY_BUDGET__INIT;
	Google__Protobuf__Duration ttl = GOOGLE__PROTOBUF__DURATION__INIT;
	char svc[64], ns[64], fqn[256];
	int port;

	d->stats.profiles++;
	req = io__linkerd__proxy__destination__get_destination__unpack(NULL, len,
									 msg);
	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "GetDestination: not a valid message");
		return;
	}
	fqn[0] = 0;
	if (!cluster_parse_authority(d->cfg.cluster, req->path, svc,
				     sizeof(svc), ns, sizeof(ns), &port))
		snprintf(fqn, sizeof(fqn), "%s.%s.svc.cluster.local", svc, ns);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	b.retry_ratio = 0.2f;
	b.min_retries_per_second = 10;
	ttl.seconds = 10;
	b.ttl = &ttl;
	p.retry_budget = &b;
	p.fully_qualified_name = fqn;
	if (grpc_call_send_message(call, &p.base))
		grpc_call_finish(call, GRPC_INTERNAL, "cannot send the profile");
	/* held open: profiles do not change until routes exist */
}

static const struct grpc_method methods[] = {
	{ "/io.linkerd.proxy.destination.Destination/Get", on_get,
	  on_get_cancel, NULL },
	{ "/io.linkerd.proxy.destination.Destination/GetProfile", on_profile,
	  NULL, NULL },
};

/* --- lifecycle ---------------------------------------------------------------- */

struct destination *destination_new(const struct destination_config *cfg)
{
	struct destination *d = xcalloc(1, sizeof(*d));
	struct grpc_method *m = xcalloc(ARRAY_SIZE(methods), sizeof(*m));
	struct grpc_server_config sc = {
		.loop = cfg->loop,
		.nmethods = ARRAY_SIZE(methods),
		.max_conns = cfg->max_conns ? cfg->max_conns : 10000,
		.name = "destination",
	};

	d->cfg = *cfg;
	if (!d->cfg.max_streams)
		d->cfg.max_streams = 100000;
	memcpy(m, methods, sizeof(methods));
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		m[i].data = d;
	sc.methods = m;
	d->methods = m;
	/* many long-lived streams on one connection: a proxy has one per
	 * service it talks to */
	sc.h2.max_streams = 10000;
	d->server = grpc_server_new(&sc);
	if (!d->server) {
		free(m);
		free(d);
		return NULL;
	}
	ev_timer_init(&d->flush, on_flush, 0, 0);
	if (cfg->metrics) {
		struct metrics_family *f;

		f = metrics_family_new(cfg->metrics, METRICS_GAUGE,
				       "destination_streams",
				       "Open Destination.Get streams", NULL, 0,
				       NULL, 0);
		d->m_streams = f ? metrics_series_get(f, NULL) : NULL;
		f = metrics_family_new(cfg->metrics, METRICS_COUNTER,
				       "destination_updates_total",
				       "Updates sent on Destination.Get streams",
				       NULL, 0, NULL, 0);
		d->m_updates = f ? metrics_series_get(f, NULL) : NULL;
		f = metrics_family_new(cfg->metrics, METRICS_COUNTER,
				       "destination_gets_total",
				       "Destination.Get calls", NULL, 0, NULL, 0);
		d->m_gets = f ? metrics_series_get(f, NULL) : NULL;
	}
	cluster_listen(cfg->cluster, on_cluster_change, d);
	return d;
}

int destination_listen(struct destination *d, const struct sock_addr *a)
{
	return grpc_server_listen(d->server, a);
}

int destination_local_addr(const struct destination *d, struct sock_addr *out)
{
	return grpc_server_local_addr(d->server, out);
}

void destination_stats(const struct destination *d,
		       struct destination_stats *out)
{
	*out = d->stats;
}

void destination_free(struct destination *d)
{
	if (!d)
		return;
	cluster_unlisten(d->cfg.cluster, on_cluster_change, d);
	ev_timer_stop(d->cfg.loop, &d->flush);
	/* the server cancels every call: on_get_cancel frees the subs */
	grpc_server_free(d->server);
	while (d->subs)
		sub_end(d->subs, -1, NULL);
	free(d->methods);
	free(d);
}
