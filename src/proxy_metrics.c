/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_metrics.c - the proxy's metric families and its per-target series */
#include "conduit/proxy_metrics.h"
#include "conduit/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the tcp_* labels before the workload ones */
enum { L_DIRECTION, L_PEER, L_TLS, L_CLIENT_ID, L_SERVER_ID, L_TARGET, L_TCP };
#define MAX_WORKLOAD 3
/* the HTTP labels before the dst_* ones */
#define H_FIXED 6

struct entry {
	struct entry *next;
	enum proxy_dir dir;
	struct sock_addr target;
	char *tls_id; /* the peer's identity (owned); NULL: not TLS */
	struct proxy_target_metrics m;
};

struct http_entry {
	struct http_entry *next;
	enum proxy_dir dir;
	struct sock_addr target;
	char *tls_id; /* as in struct entry */
	uint64_t hash;
	char *dst[DSC_LABELS]; /* dst_* values (owned; NULL: none) */
	struct proxy_http_metrics m;
};

#define MAX_HTTP_ENTRIES 5000

struct proxy_metrics {
	struct metrics_registry *reg;
	struct metrics_family *requests, *responses, *latency;
	/* the HTTP cache: chained hash on (dir, target, authority) */
	struct http_entry **htable;
	size_t hbuckets, hn;
	struct metrics_family *open_total, *close_total, *open_conns;
	struct metrics_family *read_bytes, *write_bytes, *refused;
	/* workload labels: names borrowed (static or cfg's), values copied */
	const char *work_names[MAX_WORKLOAD];
	char *work_values[MAX_WORKLOAD];
	size_t nwork;
	/* the target cache: chained hash, grown at load 1 */
	struct entry **table;
	size_t nbuckets, n;
	/* past the cap every target shares these, never written out */
	struct proxy_target_metrics overflow;
	struct metrics_series sink[2][5];
	struct metrics_series *refused_series[2][PROXY_REFUSE_NREASONS];
	const char *plain_tls; /* the tls label of a plaintext connection */
};

static const char *const reason_names[] = {
	[PROXY_REFUSE_MAX_CONNECTIONS] = "max_connections",
	[PROXY_REFUSE_NO_DESTINATION] = "no_destination",
	[PROXY_REFUSE_LOOP] = "loop",
};

static struct metrics_family *family(struct proxy_metrics *pm,
				     enum metrics_type type, const char *name,
				     const char *help, const char *const *first,
				     size_t nfirst)
{
	const char *names[METRICS_MAX_LABELS];
	struct metrics_family *f;
	size_t n = 0;

	for (size_t i = 0; i < nfirst; i++)
		names[n++] = first[i];
	for (size_t i = 0; i < pm->nwork; i++)
		names[n++] = pm->work_names[i];
	f = metrics_family_new(pm->reg, type, name, help, names, n, NULL, 0);
	BUG_ON(!f); /* fixed names, checked labels */
	return f;
}

static void add_work(struct proxy_metrics *pm, const char *name,
		     const char *value)
{
	if (!value || !*value)
		return;
	pm->work_names[pm->nwork] = name;
	pm->work_values[pm->nwork] = xstrdup(value);
	pm->nwork++;
}

struct proxy_metrics *proxy_metrics_new(const struct proxy_config *cfg)
{
	static const char *const tcp_labels[] = { "direction", "peer", "tls",
						  "client_id", "server_id",
						  "target_addr" };
	static const char *const refused_labels[] = { "direction", "reason" };
	struct proxy_metrics *pm = xcalloc(1, sizeof(*pm));

	pm->reg = metrics_registry_new();
	pm->plain_tls = "disabled";
	BUG_ON(metrics_register_process(pm->reg));
	add_work(pm, "namespace", cfg->pod_namespace);
	add_work(pm, "pod", cfg->pod_name);
	if (cfg->workload_label[0])
		add_work(pm, cfg->workload_label, cfg->workload_name);

	pm->open_total = family(pm, METRICS_COUNTER, "tcp_open_total",
				"Total count of opened connections.",
				tcp_labels, L_TCP);
	pm->close_total = family(pm, METRICS_COUNTER, "tcp_close_total",
				 "Total count of closed connections.",
				 tcp_labels, L_TCP);
	pm->open_conns = family(pm, METRICS_GAUGE, "tcp_open_connections",
				"Number of currently-open connections.",
				tcp_labels, L_TCP);
	pm->read_bytes = family(pm, METRICS_COUNTER, "tcp_read_bytes_total",
				"Total count of bytes read from peers.",
				tcp_labels, L_TCP);
	pm->write_bytes = family(pm, METRICS_COUNTER, "tcp_write_bytes_total",
				 "Total count of bytes written to peers.",
				 tcp_labels, L_TCP);
	pm->refused = family(pm, METRICS_COUNTER, "tcp_refused_total",
			     "Total count of accepted connections closed at "
			     "once, by reason.",
			     refused_labels, ARRAY_SIZE(refused_labels));

	{
		const char *http_labels[H_FIXED + DSC_LABELS + 3] = {
			"direction", "authority", "tls", "client_id",
			"server_id", "target_addr",
		};
		const char *lat_labels[H_FIXED + DSC_LABELS + 1];

		for (size_t i = 0; i < DSC_LABELS; i++)
			http_labels[H_FIXED + i] = dsc_label_names[i];
		http_labels[H_FIXED + DSC_LABELS] = "classification";
		http_labels[H_FIXED + DSC_LABELS + 1] = "status_code";
		http_labels[H_FIXED + DSC_LABELS + 2] = "grpc_status_code";
		memcpy(lat_labels, http_labels,
		       (H_FIXED + DSC_LABELS) * sizeof(char *));
		lat_labels[H_FIXED + DSC_LABELS] = "status_code";

		pm->requests = family(pm, METRICS_COUNTER, "request_total",
				      "Total count of HTTP requests.",
				      http_labels, H_FIXED + DSC_LABELS);
		pm->responses = family(pm, METRICS_COUNTER, "response_total",
				       "Total count of HTTP responses.",
				       http_labels, ARRAY_SIZE(http_labels));
		pm->latency = family(pm, METRICS_HISTOGRAM,
				     "response_latency_ms",
				     "Elapsed times between a request's "
				     "start and its response's headers.",
				     lat_labels, ARRAY_SIZE(lat_labels));
		pm->hbuckets = 64;
		pm->htable = xcalloc(pm->hbuckets, sizeof(struct http_entry *));
	}
	pm->nbuckets = 64;
	pm->table = xcalloc(pm->nbuckets, sizeof(struct entry *));
	for (size_t i = 0; i < 2; i++) {
		struct proxy_tcp_series *s = i ? &pm->overflow.dst :
						 &pm->overflow.src;

		s->open_total = &pm->sink[i][0];
		s->close_total = &pm->sink[i][1];
		s->open_conns = &pm->sink[i][2];
		s->read_bytes = &pm->sink[i][3];
		s->write_bytes = &pm->sink[i][4];
	}
	return pm;
}

void proxy_metrics_free(struct proxy_metrics *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < pm->nbuckets; i++) {
		struct entry *e = pm->table[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->tls_id);
			free(e);
		}
	}
	free(pm->table);
	for (size_t i = 0; i < pm->hbuckets; i++) {
		struct http_entry *e = pm->htable[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->m.authority);
			free(e->tls_id);
			for (size_t k = 0; k < DSC_LABELS; k++)
				free(e->dst[k]);
			free(e);
		}
	}
	free(pm->htable);
	for (size_t i = 0; i < pm->nwork; i++)
		free(pm->work_values[i]);
	metrics_registry_free(pm->reg);
	free(pm);
}

struct metrics_registry *proxy_metrics_registry(struct proxy_metrics *pm)
{
	return pm->reg;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash(enum proxy_dir dir, const struct sock_addr *a,
		     const char *tls_id)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int port = sock_addr_port(a);

	h = fnv(h, &dir, sizeof(dir));
	h = fnv(h, &port, sizeof(port));
	if (tls_id)
		h = fnv(h, tls_id, strlen(tls_id) + 1);
	if (a->u.sa.sa_family == AF_INET6)
		return fnv(h, &a->u.in6.sin6_addr, 16);
	return fnv(h, &a->u.in4.sin_addr, 4);
}

/* same_tls - two connections' peers are secured alike (NULL: plaintext) */
static bool same_tls(const char *a, const char *b)
{
	return !a == !b && (!a || !strcmp(a, b));
}

void proxy_metrics_set_identity(struct proxy_metrics *pm, bool enabled)
{
	pm->plain_tls = enabled ? "no_identity" : "disabled";
}

/* tls_values - the tls, client_id and server_id label values at v */
static void tls_values(const struct proxy_metrics *pm, enum proxy_dir dir,
		       const char *tls_id, const char **v)
{
	v[0] = tls_id ? "true" : pm->plain_tls;
	v[1] = tls_id && dir == PROXY_INBOUND ? tls_id : "";
	v[2] = tls_id && dir == PROXY_OUTBOUND ? tls_id : "";
}

static void grow(struct proxy_metrics *pm)
{
	size_t n = pm->nbuckets * 2;
	struct entry **t = xcalloc(n, sizeof(*t));

	for (size_t i = 0; i < pm->nbuckets; i++) {
		struct entry *e = pm->table[i], *next;

		for (; e; e = next) {
			size_t b = hash(e->dir, &e->target, e->tls_id) &
				   (n - 1);

			next = e->next;
			e->next = t[b];
			t[b] = e;
		}
	}
	free(pm->table);
	pm->table = t;
	pm->nbuckets = n;
}

static void peer_series(struct proxy_metrics *pm, struct proxy_tcp_series *s,
			const char *const *values)
{
	s->open_total = metrics_series_get(pm->open_total, values);
	s->close_total = metrics_series_get(pm->close_total, values);
	s->open_conns = metrics_series_get(pm->open_conns, values);
	s->read_bytes = metrics_series_get(pm->read_bytes, values);
	s->write_bytes = metrics_series_get(pm->write_bytes, values);
}

struct proxy_target_metrics *proxy_metrics_target(struct proxy_metrics *pm,
						  enum proxy_dir dir,
						  const struct sock_addr *target,
						  const char *tls_id)
{
	const char *values[METRICS_MAX_LABELS];
	char addr[SOCK_ADDR_STRLEN];
	struct entry *e;
	size_t b = hash(dir, target, tls_id) & (pm->nbuckets - 1);

	for (e = pm->table[b]; e; e = e->next)
		if (e->dir == dir && sock_addr_equal(&e->target, target) &&
		    same_tls(e->tls_id, tls_id))
			return &e->m;
	/* two series per target in each family */
	if (pm->n * 2 + 2 > METRICS_DEFAULT_MAX_SERIES)
		return &pm->overflow;

	e = xcalloc(1, sizeof(*e));
	e->dir = dir;
	e->target = *target;
	e->tls_id = tls_id ? xstrdup(tls_id) : NULL;
	values[L_DIRECTION] = proxy_dir_name(dir);
	tls_values(pm, dir, tls_id, &values[L_TLS]);
	values[L_TARGET] = sock_addr_format(target, addr, sizeof(addr));
	for (size_t i = 0; i < pm->nwork; i++)
		values[L_TCP + i] = pm->work_values[i];
	values[L_PEER] = "src";
	peer_series(pm, &e->m.src, values);
	values[L_PEER] = "dst";
	peer_series(pm, &e->m.dst, values);

	e->next = pm->table[b];
	pm->table[b] = e;
	if (++pm->n > pm->nbuckets)
		grow(pm);
	return &e->m;
}

void proxy_metrics_refused(struct proxy_metrics *pm, enum proxy_dir dir,
			   enum proxy_refuse_reason why)
{
	struct metrics_series **s = &pm->refused_series[dir][why];

	/* created on first use: a proxy that never refuses shows none */
	if (!*s) {
		const char *values[METRICS_MAX_LABELS];

		values[0] = proxy_dir_name(dir);
		values[1] = reason_names[why];
		for (size_t i = 0; i < pm->nwork; i++)
			values[2 + i] = pm->work_values[i];
		*s = metrics_series_get(pm->refused, values);
	}
	metrics_counter_inc(*s);
}

/* --- HTTP ---------------------------------------------------------------- */

static void http_grow(struct proxy_metrics *pm)
{
	size_t n = pm->hbuckets * 2;
	struct http_entry **t = xcalloc(n, sizeof(*t));

	for (size_t i = 0; i < pm->hbuckets; i++) {
		struct http_entry *e = pm->htable[i], *next;

		for (; e; e = next) {
			size_t b = e->hash & (n - 1);

			next = e->next;
			e->next = t[b];
			t[b] = e;
		}
	}
	free(pm->htable);
	pm->htable = t;
	pm->hbuckets = n;
}

/* http_values - the label values shared by the HTTP families, in order;
 * returns how many (the caller appends its own after them) */
static size_t http_values(const struct proxy_metrics *pm,
			  const struct http_entry *e, const char **values,
			  char *addr, size_t addrlen)
{
	values[0] = proxy_dir_name(e->dir);
	values[1] = e->m.authority;
	tls_values(pm, e->dir, e->tls_id, &values[2]);
	values[5] = sock_addr_format(&e->target, addr, addrlen);
	for (size_t i = 0; i < DSC_LABELS; i++)
		values[H_FIXED + i] = e->dst[i];
	return H_FIXED + DSC_LABELS;
}

static void with_work(struct proxy_metrics *pm, const char **values, size_t n)
{
	for (size_t i = 0; i < pm->nwork; i++)
		values[n + i] = pm->work_values[i];
}

/* dst_equal - the entry's dst_* values are these (NULL: none) */
static bool dst_equal(const struct http_entry *e, char *const *dst)
{
	for (size_t i = 0; i < DSC_LABELS; i++) {
		const char *v = dst ? dst[i] : NULL;

		if (!v != !e->dst[i] || (v && strcmp(v, e->dst[i])))
			return false;
	}
	return true;
}

struct proxy_http_metrics *proxy_metrics_http(struct proxy_metrics *pm,
					      enum proxy_dir dir,
					      const struct sock_addr *target,
					      const char *tls_id,
					      const char *authority,
					      size_t alen)
{
	return proxy_metrics_http_dst(pm, dir, target, tls_id, authority, alen,
				      NULL);
}

struct proxy_http_metrics *
proxy_metrics_http_dst(struct proxy_metrics *pm, enum proxy_dir dir,
		       const struct sock_addr *target, const char *tls_id,
		       const char *authority, size_t alen, char *const *dst)
{
	const char *values[METRICS_MAX_LABELS];
	char addr[SOCK_ADDR_STRLEN];
	struct http_entry *e;
	uint64_t h;
	size_t b, n;

	if (pm->hn >= MAX_HTTP_ENTRIES) {
		alen = 0; /* bounded: every new authority shares "" */
		dst = NULL;
	}
	h = fnv(hash(dir, target, tls_id), authority, alen);
	b = h & (pm->hbuckets - 1);
	for (e = pm->htable[b]; e; e = e->next)
		if (e->hash == h && e->dir == dir &&
		    e->m.authority_len == alen &&
		    !memcmp(e->m.authority, authority, alen) &&
		    sock_addr_equal(&e->target, target) &&
		    same_tls(e->tls_id, tls_id) && dst_equal(e, dst))
			return &e->m;

	e = xcalloc(1, sizeof(*e));
	e->dir = dir;
	e->target = *target;
	e->tls_id = tls_id ? xstrdup(tls_id) : NULL;
	e->hash = h;
	e->m.authority = xstrndup(alen ? authority : "", alen);
	e->m.authority_len = alen;
	for (size_t i = 0; dst && i < DSC_LABELS; i++)
		e->dst[i] = dst[i] ? xstrdup(dst[i]) : NULL;
	n = http_values(pm, e, values, addr, sizeof(addr));
	with_work(pm, values, n);
	e->m.request_total = metrics_series_get(pm->requests, values);
	e->next = pm->htable[b];
	pm->htable[b] = e;
	if (++pm->hn > pm->hbuckets)
		http_grow(pm);
	return &e->m;
}

const struct proxy_http_status *
proxy_metrics_http_status(struct proxy_metrics *pm,
			  struct proxy_http_metrics *hm, int code)
{
	return proxy_metrics_grpc_status(pm, hm, code, -1);
}

const struct proxy_http_status *
proxy_metrics_grpc_status(struct proxy_metrics *pm,
			  struct proxy_http_metrics *hm, int code, int grpc)
{
	struct http_entry *e = container_of(hm, struct http_entry, m);
	const char *values[METRICS_MAX_LABELS];
	char addr[SOCK_ADDR_STRLEN], num[16], gnum[16] = "";
	static struct proxy_http_status spill;
	struct proxy_http_status *st;
	size_t n;

	for (size_t i = 0; i < hm->nst; i++)
		if (hm->st[i].code == code && hm->st[i].grpc == grpc)
			return &hm->st[i];
	/* a new status, or past the room: found through the families (the
	 * registry's lookup; allocates only the first time) */
	st = hm->nst < PROXY_HTTP_STATUSES ? &hm->st[hm->nst++] : &spill;
	snprintf(num, sizeof(num), "%d", code);
	n = http_values(pm, e, values, addr, sizeof(addr));
	values[n] = num;
	with_work(pm, values, n + 1);
	if (grpc >= 0)
		snprintf(gnum, sizeof(gnum), "%d", grpc);
	st->code = code;
	st->grpc = grpc;
	st->latency = metrics_series_get(pm->latency, values);
	values[n] = code < 500 && grpc <= 0 ? "success" : "failure";
	values[n + 1] = num;
	values[n + 2] = gnum;
	with_work(pm, values, n + 3);
	st->total = metrics_series_get(pm->responses, values);
	return st;
}
