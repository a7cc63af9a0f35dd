/* SPDX-License-Identifier: Apache-2.0 */
/* public_api.c - the controller's public API: JSON over HTTP/1.1 */
#include "conduit/public_api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/httpc.h"
#include "conduit/httpd.h"
#include "conduit/json.h"
#include "conduit/log.h"
#include "conduit/map.h"
#include "conduit/promql.h"
#include "conduit/stats.h"
#include "conduit/tap_fanout.h"
#include "conduit/time.h"
#include "conduit/version.h"

#define MAX_WINDOW 3600.0
#define MIN_WINDOW 10.0

struct public_api {
	struct public_api_config cfg;
	struct httpd *httpd;
	struct httpc *httpc;
	struct stats_store *stats;
	struct promql *prom; /* --prometheus-url: stats from there */
	ev_timer scrape;
	struct map inflight; /* pod key -> struct scrape_call */
	struct metrics_series *m_scrapes, *m_scrape_errors;
};

struct scrape_call {
	struct public_api *pa;
	char key[256];
};

/* --- scraping ------------------------------------------------------------------ */

static void on_scraped(struct httpc_call *call, const struct httpc_resp *resp,
		       void *arg)
{
	struct scrape_call *sc = arg;
	struct public_api *pa = sc->pa;
	char err[160], q[200];

	(void)call;
	map_del(&pa->inflight, sc->key);
	if (resp->err || resp->status != 200) {
		if (pa->m_scrape_errors)
			metrics_counter_inc(pa->m_scrape_errors);
		log_debug("public-api: scrape failed", "pod=%s status=%d error=%s",
			  sc->key, resp->status,
			  resp->err ? strerror(-resp->err) : "-");
	} else if (stats_ingest(pa->stats, sc->key, ev_now(pa->cfg.loop),
				resp->body, resp->body_len, err, sizeof(err))) {
		if (pa->m_scrape_errors)
			metrics_counter_inc(pa->m_scrape_errors);
		log_warn("public-api: a proxy's /metrics is not Prometheus text",
			 "pod=%s error=%s", sc->key, log_quote(q, sizeof(q), err));
	} else if (pa->m_scrapes) {
		metrics_counter_inc(pa->m_scrapes);
	}
	free(sc);
}

static void scrape_pod(struct public_api *pa, const struct cluster_pod *p)
{
	struct scrape_call *sc;
	struct httpc_req r = { 0 };
	char key[256], auth[96];

	snprintf(key, sizeof(key), "%s/%s", p->ns, p->name);
	if (map_get(&pa->inflight, key))
		return; /* the last one is still running: a slow proxy */
	if (sock_ip_parse(p->ip, &r.addr) < 0)
		return;
	sock_addr_set_port(&r.addr, p->admin_port);
	sock_addr_format(&r.addr, auth, sizeof(auth));
	sc = xcalloc(1, sizeof(*sc));
	sc->pa = pa;
	str_copy(sc->key, key, sizeof(sc->key));
	r.authority = auth;
	r.path = "/metrics";
	r.timeout = MAX(1.0, pa->cfg.scrape_interval * 0.8);
	r.max_body = 16u << 20;
	r.on_done = on_scraped;
	r.arg = sc;
	if (httpc_request(pa->httpc, &r, NULL) < 0) {
		free(sc);
		return;
	}
	map_put(&pa->inflight, key, sc);
}

static bool pod_alive(void *arg, const char *key)
{
	return map_get(arg, key) != NULL;
}

static void on_scrape_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct public_api *pa = container_of(w, struct public_api, scrape);
	const struct cluster_pod **pods;
	ssize_t n = cluster_pods(pa->cfg.cluster, NULL, &pods);
	struct map alive = MAP_INIT;

	(void)loop;
	(void)revents;
	for (ssize_t i = 0; i < n; i++) {
		const struct cluster_pod *p = pods[i];
		char key[256];

		if (!p->meshed || !p->ip || strcmp(p->phase, "Running"))
			continue;
		snprintf(key, sizeof(key), "%s/%s", p->ns, p->name);
		map_put(&alive, key, (void *)p);
		scrape_pod(pa, p);
	}
	free(pods);
	/* pods gone from the cluster: their history goes too */
	stats_retain(pa->stats, pod_alive, &alive);
	map_release(&alive, NULL);
}

/* --- helpers ---------------------------------------------------------------------- */

const char *public_api_parse_resource(const char *s)
{
	static const struct {
		const char *canon;
		const char *names[4];
	} res[] = {
		{ "deployment", { "deployment", "deployments", "deploy", NULL } },
		{ "pod", { "pod", "pods", "po", NULL } },
		{ "namespace", { "namespace", "namespaces", "ns", NULL } },
		{ "service", { "service", "services", "svc", NULL } },
		{ "authority", { "authority", "authorities", "au", NULL } },
	};

	for (size_t i = 0; s && i < ARRAY_SIZE(res); i++)
		for (size_t k = 0; res[i].names[k]; k++)
			if (!strcmp(s, res[i].names[k]))
				return res[i].canon;
	return NULL;
}

static void respond_error(struct httpd_req *req, int status, const char *msg)
{
	struct json *o = json_new_object();
	char *text;

	json_set_string(o, "error", msg);
	text = json_print(o, false);
	httpd_respond_json(req, status, text);
	free(text);
	json_free(o);
}

static void respond(struct httpd_req *req, struct json *o)
{
	char *text = json_print(o, false);

	httpd_respond_json(req, 200, text);
	free(text);
	json_free(o);
}

/* query_ns - the namespace parameter: NULL for every one */
static const char *query_ns(struct httpd_req *req)
{
	const char *ns = httpd_req_query(req, "namespace");

	return ns && *ns ? ns : NULL;
}

/* query_window - the window in seconds, or a 400 answered (returns < 0) */
static double query_window(struct httpd_req *req, char *text, size_t size)
{
	const char *w = httpd_req_query(req, "window");
	int64_t ns;
	char msg[160];

	if (!w || !*w)
		w = "1m";
	if (time_parse_duration(w, &ns) < 0 ||
	    (double)ns / NSEC_PER_SEC < MIN_WINDOW ||
	    (double)ns / NSEC_PER_SEC > MAX_WINDOW) {
		snprintf(msg, sizeof(msg),
			 "invalid window \"%.40s\": want a duration from 10s to 1h (10s, 1m, 10m, 1h)",
			 w);
		respond_error(req, 400, msg);
		return -1;
	}
	str_copy(text, w, size);
	return (double)ns / NSEC_PER_SEC;
}

static struct json *num_or_null(double v)
{
	return isfinite(v) ? json_new_number(v) : json_new_null();
}

/* --- /api/v1/version, /api/v1/pods ---------------------------------------------- */

static void on_version(struct httpd_req *req, void *arg)
{
	struct json *o = json_new_object();

	(void)arg;
	json_set_string(o, "version", version_string());
	respond(req, o);
}

static void on_pods(struct httpd_req *req, void *arg)
{
	struct public_api *pa = arg;
	const struct cluster_pod **pods;
	ssize_t n = cluster_pods(pa->cfg.cluster, query_ns(req), &pods);
	struct json *o = json_new_object(), *arr = json_new_array();

	for (ssize_t i = 0; i < n; i++) {
		const struct cluster_pod *p = pods[i];
		struct json *j = json_new_object();

		json_set_string(j, "namespace", p->ns);
		json_set_string(j, "name", p->name);
		json_set_string(j, "status", p->terminating ? "Terminating" : p->phase);
		json_set_bool(j, "ready", p->ready);
		json_set_bool(j, "meshed", p->meshed);
		json_set_string(j, "ip", p->ip ? p->ip : "");
		json_set_string(j, "owner_kind", p->owner_kind ? p->owner_kind : "");
		json_set_string(j, "owner", p->owner_name ? p->owner_name : "");
		json_push(arr, j);
	}
	free(pods);
	json_set(o, "pods", arr);
	respond(req, o);
}

/* --- the Prometheus backend (--prometheus-url) ---------------------------------- */

/* a stat or edges request waiting for Prometheus */
struct prom_ask {
	struct public_api *pa;
	struct httpd_req *req;
	httpd_handler again;	   /* the handler, run again with the answer */
	struct promql_fetch *fetch; /* NULL once over */
	struct stats_store *store; /* the answer, while `again` runs */
};

static void on_prom_cancel(struct httpd_req *req, void *arg)
{
	struct prom_ask *a = arg;

	(void)req;
	promql_fetch_cancel(a->fetch);
	free(a);
}

static void on_prom_answer(void *arg, struct stats_store *store, int status,
			   const char *err)
{
	struct prom_ask *a = arg;

	a->fetch = NULL;
	httpd_req_on_cancel(a->req, NULL, NULL);
	if (status != 200) {
		respond_error(a->req, status, err);
	} else {
		a->store = store;
		a->again(a->req, a->pa); /* answers: a->req is over */
	}
	free(a);
}

/*
 * stats_source - the figures a stat or edges request reads: the embedded
 * store; or, with Prometheus, NULL the first time (the queries are sent,
 * the request is owned until again(req) runs with the answer, or an
 * error is answered) and the answer the second time.
 */
static const struct stats_store *stats_source(struct public_api *pa,
					      struct httpd_req *req,
					      httpd_handler again, unsigned what,
					      const char *ns, double window)
{
	struct prom_ask *a = httpd_req_data(req);

	if (!pa->prom)
		return pa->stats;
	if (a)
		return a->store;
	a = xcalloc(1, sizeof(*a));
	a->pa = pa;
	a->req = req;
	a->again = again;
	if (promql_fetch(pa->prom, what, ns, window, on_prom_answer, a,
			 &a->fetch) < 0) {
		respond_error(req, 400, "invalid namespace: too long for a query");
		free(a);
		return NULL;
	}
	httpd_req_set_data(req, a);
	httpd_req_on_cancel(req, on_prom_cancel, a);
	return NULL;
}

/* --- /api/v1/stat ------------------------------------------------------------------- */

struct row {
	char ns[64], name[256];
	unsigned meshed, total;
	struct stats_counts c;
	double rps;
	double read_bps, write_bps; /* inbound bytes a second, from/to clients */
	double tcp;
	bool has_data;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static struct row *row_get(struct rows *r, const char *ns, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].ns, ns) && !strcmp(r->v[i].name, name))
			return &r->v[i];
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	memset(&r->v[r->n], 0, sizeof(r->v[0]));
	str_copy(r->v[r->n].ns, ns, sizeof(r->v[0].ns));
	str_copy(r->v[r->n].name, name, sizeof(r->v[0].name));
	return &r->v[r->n++];
}

/* group_of - the row name of pod p for resource, or NULL (not in one) */
static const char *group_of(const struct cluster_pod *p, const char *res)
{
	if (!strcmp(res, "pod"))
		return p->name;
	if (!strcmp(res, "namespace"))
		return p->ns;
	if (p->owner_kind && !strcmp(p->owner_kind, "Deployment"))
		return p->owner_name;
	return NULL;
}

static void add_window(struct row *row, const struct stats_counts *c,
		       double seconds)
{
	stats_counts_add(&row->c, c);
	if (seconds > 0) {
		row->rps += (c->success + c->failure) / seconds;
		row->read_bps += c->read_bytes / seconds;
		row->write_bps += c->write_bytes / seconds;
	}
	row->has_data = true;
}

struct out_ctx {
	struct public_api *pa;
	struct rows *rows;
	const char *res, *ns, *name;
};

static void on_outbound(void *arg, const char *authority,
			const struct stats_counts *c, double seconds)
{
	struct out_ctx *x = arg;
	char svc[64], ns[64], host[300];
	int port;
	struct row *row;

	if (!strcmp(x->res, "authority")) {
		if (x->name && strcmp(x->name, authority))
			return;
		row = row_get(x->rows, "", authority);
		add_window(row, c, seconds);
		return;
	}
	/* service: the authority names it; the port defaults to 80 */
	snprintf(host, sizeof(host), strchr(authority, ':') ? "%s" : "%s:80",
		 authority);
	if (cluster_parse_authority(x->pa->cfg.cluster, host, svc, sizeof(svc),
				    ns, sizeof(ns), &port) < 0)
		return;
	if ((x->ns && strcmp(x->ns, ns)) || (x->name && strcmp(x->name, svc)))
		return;
	row = row_get(x->rows, ns, svc);
	add_window(row, c, seconds);
}

static struct json *row_json(const char *res, const struct row *r,
			     bool bytes_known)
{
	struct json *j = json_new_object();
	double total = r->c.success + r->c.failure;

	json_set_string(j, "type", res);
	json_set_string(j, "namespace", r->ns);
	json_set_string(j, "name", r->name);
	json_set_number(j, "meshed_pods", r->meshed);
	json_set_number(j, "total_pods", r->total);
	json_set_number(j, "requests", total);
	json_set_number(j, "failures", r->c.failure);
	json_set(j, "success_rate",
		 total > 0 ? json_new_number(r->c.success / total)
			   : json_new_null());
	json_set(j, "rps", r->has_data ? json_new_number(r->rps)
				       : json_new_null());
	json_set(j, "latency_ms_p50", num_or_null(stats_quantile(&r->c, 0.5)));
	json_set(j, "latency_ms_p95", num_or_null(stats_quantile(&r->c, 0.95)));
	json_set(j, "latency_ms_p99", num_or_null(stats_quantile(&r->c, 0.99)));
	json_set_number(j, "tcp_open_connections", r->tcp);
	/* inbound bytes come from the scraped TCP counters: not for
	 * service/authority rows, nor from the Prometheus backend yet */
	json_set(j, "read_bytes_per_sec",
		 bytes_known && r->has_data ? json_new_number(r->read_bps)
					    : json_new_null());
	json_set(j, "write_bytes_per_sec",
		 bytes_known && r->has_data ? json_new_number(r->write_bps)
					    : json_new_null());
	return j;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

static void on_stat(struct httpd_req *req, void *arg)
{
	struct public_api *pa = arg;
	const char *res = public_api_parse_resource(httpd_req_query(req, "resource"));
	const char *ns = query_ns(req), *name = httpd_req_query(req, "name");
	struct rows rows = { 0 };
	const struct cluster_pod **pods;
	const struct stats_store *store;
	struct json *o, *arr;
	char wtext[32], msg[300];
	double window;
	ssize_t n;

	if (!res) {
		snprintf(msg, sizeof(msg),
			 "invalid resource \"%.60s\": want deployment, pod, namespace, service or authority",
			 httpd_req_query(req, "resource") ? httpd_req_query(req, "resource") : "");
		respond_error(req, 400, msg);
		return;
	}
	if ((window = query_window(req, wtext, sizeof(wtext))) < 0)
		return;
	store = stats_source(pa, req, on_stat,
			     !strcmp(res, "service") || !strcmp(res, "authority")
				     ? PROMQL_OUTBOUND | PROMQL_OUTBOUND_LATENCY
				     : PROMQL_INBOUND,
			     ns, window);
	if (!store)
		return; /* asking Prometheus: on_stat runs again with its answer */
	if (name && !*name)
		name = NULL;
	n = cluster_pods(pa->cfg.cluster, ns, &pods);
	if (!strcmp(res, "service") || !strcmp(res, "authority")) {
		struct out_ctx x = { pa, &rows, res, ns, name };

		for (ssize_t i = 0; i < n; i++) {
			char key[256];

			snprintf(key, sizeof(key), "%s/%s", pods[i]->ns,
				 pods[i]->name);
			stats_pod_outbound(store, key, window, on_outbound, &x);
		}
		if (!strcmp(res, "service") && name && ns && !rows.n &&
		    cluster_service_exists(pa->cfg.cluster, ns, name))
			row_get(&rows, ns, name);
	} else {
		for (ssize_t i = 0; i < n; i++) {
			const struct cluster_pod *p = pods[i];
			const char *g = group_of(p, res);
			struct stats_window w;
			struct row *row;
			char key[256];

			if (!g || (name && strcmp(name, g)) ||
			    !strcmp(p->phase, "Succeeded") ||
			    !strcmp(p->phase, "Failed"))
				continue;
			row = row_get(&rows, !strcmp(res, "namespace") ? "" : p->ns, g);
			row->total++;
			row->meshed += p->meshed;
			snprintf(key, sizeof(key), "%s/%s", p->ns, p->name);
			stats_pod_window(store, key, window, &w);
			row->tcp += w.tcp_open;
			if (w.has_data)
				add_window(row, &w.in, w.seconds);
		}
	}
	free(pods);
	if (name && !rows.n && strcmp(res, "authority")) {
		snprintf(msg, sizeof(msg), "%s/%.100s not found%s%.60s", res,
			 name, ns ? " in namespace " : "", ns ? ns : "");
		respond_error(req, 404, msg);
		free(rows.v);
		return;
	}
	if (rows.n) /* qsort(NULL, 0) is undefined: UBSan stops there */
		qsort(rows.v, rows.n, sizeof(*rows.v), row_cmp);
	o = json_new_object();
	arr = json_new_array();
	for (size_t i = 0; i < rows.n; i++)
		json_push(arr, row_json(res, &rows.v[i],
					!pa->prom && strcmp(res, "service") &&
						strcmp(res, "authority")));
	json_set_string(o, "resource", res);
	json_set_string(o, "window", wtext);
	json_set(o, "rows", arr);
	free(rows.v);
	respond(req, o);
}

/* --- /api/v1/edges ------------------------------------------------------------------- */

struct edge_ctx {
	struct public_api *pa;
	const struct cluster_pod *src;
	const char *res;
	struct json *edges;
	struct map seen; /* "src|dst" -> struct json row */
};

/*
 * add_edge - requests (secured of them over mesh TLS) from x's source to
 * dst; an edge is secured when every request on it was
 */
static void add_edge(struct edge_ctx *x, const char *dst_ns, const char *dst,
		     double requests, double secured)
{
	const char *src = !strcmp(x->res, "pod") ? x->src->name
						 : group_of(x->src, "deployment");
	char key[700];
	struct json *e;
	double v;

	if (!src)
		return;
	snprintf(key, sizeof(key), "%s|%s|%s|%s", x->src->ns, src, dst_ns, dst);
	if ((e = map_get(&x->seen, key))) {
		double s;

		json_number(json_get(e, "requests"), &v);
		json_number(json_get(e, "secured_requests"), &s);
		json_set_number(e, "requests", v + requests);
		json_set_number(e, "secured_requests", s + secured);
		json_set_bool(e, "secured", s + secured >= v + requests);
		return;
	}
	e = json_new_object();
	json_set_string(e, "src", src);
	json_set_string(e, "src_namespace", x->src->ns);
	json_set_string(e, "dst", dst);
	json_set_string(e, "dst_namespace", dst_ns);
	json_set_bool(e, "secured", requests > 0 && secured >= requests);
	json_set_number(e, "requests", requests);
	json_set_number(e, "secured_requests", secured);
	json_push(x->edges, e);
	map_put(&x->seen, key, e);
}

static void on_edge(void *arg, const char *authority,
		    const struct stats_counts *c, double seconds)
{
	struct edge_ctx *x = arg;
	char svc[64], ns[64], host[300];
	struct cluster_endpoint *eps;
	size_t n;
	int port;
	double requests = c->success + c->failure;
	bool any = false;

	(void)seconds;
	snprintf(host, sizeof(host), strchr(authority, ':') ? "%s" : "%s:80",
		 authority);
	if (cluster_parse_authority(x->pa->cfg.cluster, host, svc, sizeof(svc),
				    ns, sizeof(ns), &port) < 0 ||
	    cluster_endpoints(x->pa->cfg.cluster, ns, svc, port, &eps, &n) < 0) {
		add_edge(x, "", authority, requests, c->secured);
		return;
	}
	/* the service's pods now: by deployment (or pod) */
	for (size_t i = 0; i < n; i++) {
		const struct cluster_pod *p = eps[i].pod;
		const char *dst = p ? (!strcmp(x->res, "pod") ? p->name
							      : group_of(p, "deployment"))
				    : NULL;
		bool dup = false;

		if (!dst)
			continue;
		for (size_t k = 0; k < i && !dup; k++)
			dup = eps[k].pod && eps[k].pod->owner_name && p->owner_name &&
			      !strcmp(x->res, "deployment") &&
			      !strcmp(eps[k].pod->owner_name, p->owner_name);
		if (dup)
			continue;
		add_edge(x, p->ns, dst, requests, c->secured);
		any = true;
	}
	free(eps);
	if (!any)
		add_edge(x, ns, svc, requests, c->secured);
}

static void on_edges(struct httpd_req *req, void *arg)
{
	struct public_api *pa = arg;
	const char *res = public_api_parse_resource(httpd_req_query(req, "resource"));
	const struct cluster_pod **pods;
	const struct stats_store *store;
	struct edge_ctx x = { .pa = pa };
	struct json *o;
	char wtext[32];
	double window;
	ssize_t n;

	if (!res)
		res = "deployment";
	if (strcmp(res, "deployment") && strcmp(res, "pod")) {
		respond_error(req, 400, "edges are by deployment or pod");
		return;
	}
	if ((window = query_window(req, wtext, sizeof(wtext))) < 0)
		return;
	if (!(store = stats_source(pa, req, on_edges, PROMQL_OUTBOUND,
				   query_ns(req), window)))
		return; /* asking Prometheus: on_edges runs again with its answer */
	x.res = res;
	x.edges = json_new_array();
	n = cluster_pods(pa->cfg.cluster, query_ns(req), &pods);
	for (ssize_t i = 0; i < n; i++) {
		char key[256];

		if (!pods[i]->meshed)
			continue;
		x.src = pods[i];
		snprintf(key, sizeof(key), "%s/%s", pods[i]->ns, pods[i]->name);
		stats_pod_outbound(store, key, window, on_edge, &x);
	}
	free(pods);
	map_release(&x.seen, NULL);
	o = json_new_object();
	json_set_string(o, "window", wtext);
	json_set(o, "edges", x.edges);
	respond(req, o);
}

/* --- /api/v1/tap ---------------------------------------------------------------------- */

static void on_tap(struct httpd_req *req, void *arg)
{
	struct public_api *pa = arg;
	const char *res = public_api_parse_resource(httpd_req_query(req, "resource"));
	const char *ns = query_ns(req), *name = httpd_req_query(req, "name");
	const char *rps = httpd_req_query(req, "max_rps");
	struct tap_params tp = {
		.method = httpd_req_query(req, "method"),
		.path = httpd_req_query(req, "path"),
		.authority = httpd_req_query(req, "authority"),
	};
	const struct cluster_pod **pods;
	struct tap_target *t;
	size_t nt = 0, found = 0;
	char msg[300], *end;
	ssize_t n;

	if (!res || (strcmp(res, "deployment") && strcmp(res, "pod") &&
		     strcmp(res, "namespace"))) {
		respond_error(req, 400, "tap: want resource deployment, pod or namespace");
		return;
	}
	if (name && !*name)
		name = NULL;
	tp.max_rps = 100;
	if (rps && *rps) {
		tp.max_rps = strtod(rps, &end);
		if (*end || !(tp.max_rps > 0) || tp.max_rps > 100000) {
			respond_error(req, 400, "invalid max_rps: want a number above 0");
			return;
		}
	}
	n = cluster_pods(pa->cfg.cluster, ns, &pods);
	t = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*t));
	for (ssize_t i = 0; i < n; i++) {
		const struct cluster_pod *p = pods[i];
		const char *g = group_of(p, res);

		if (!g || (name && strcmp(g, name)))
			continue;
		found++;
		if (!p->meshed || !p->ip || strcmp(p->phase, "Running") ||
		    sock_ip_parse(p->ip, &t[nt].addr) < 0)
			continue;
		sock_addr_set_port(&t[nt].addr, p->tap_port);
		str_copy(t[nt].ns, p->ns, sizeof(t[nt].ns));
		str_copy(t[nt].pod, p->name, sizeof(t[nt].pod));
		nt++;
	}
	free(pods);
	if (!nt) {
		snprintf(msg, sizeof(msg), "%s%s%.100s %s%s%.60s",
			 res, name ? "/" : "", name ? name : "",
			 found ? "has no meshed running pod" : "not found",
			 ns ? " in namespace " : "", ns ? ns : "");
		respond_error(req, 404, msg);
		free(t);
		return;
	}
	tap_fanout_start(pa->cfg.loop, req, t, nt, &tp);
	free(t);
}

/* --- lifecycle --------------------------------------------------------------------- */

struct public_api *public_api_new(const struct public_api_config *cfg)
{
	struct public_api *pa = xcalloc(1, sizeof(*pa));
	struct httpd_config hc = { .loop = cfg->loop, .name = "public-api" };
	struct httpc_config cc = { .loop = cfg->loop, .max_idle = 256,
				   .name = "scraper" };
	double every;
	char err[300], q[400];

	pa->cfg = *cfg;
	if (cfg->prometheus_url) {
		struct promql_config qc = { .loop = cfg->loop,
					    .url = cfg->prometheus_url };

		if (!(pa->prom = promql_new(&qc, err, sizeof(err)))) {
			log_error("public-api: cannot use --prometheus-url",
				  "error=%s", log_quote(q, sizeof(q), err));
			free(pa);
			return NULL;
		}
	}
	if (pa->cfg.scrape_interval <= 0)
		pa->cfg.scrape_interval = 10;
	every = pa->cfg.scrape_interval;
	pa->httpd = httpd_new(&hc);
	pa->httpc = httpc_new(&cc);
	/* an hour of snapshots, and one more to span it */
	pa->stats = stats_store_new((size_t)(MAX_WINDOW / every) + 2);
	httpd_route(pa->httpd, "GET", "/api/v1/version", on_version, pa);
	httpd_route(pa->httpd, "GET", "/api/v1/pods", on_pods, pa);
	httpd_route(pa->httpd, "GET", "/api/v1/stat", on_stat, pa);
	httpd_route(pa->httpd, "GET", "/api/v1/edges", on_edges, pa);
	httpd_route(pa->httpd, "GET", "/api/v1/tap", on_tap, pa);
	if (cfg->metrics) {
		struct metrics_family *f;

		f = metrics_family_new(cfg->metrics, METRICS_COUNTER,
				       "public_api_scrapes_total",
				       "Proxy /metrics scraped", NULL, 0, NULL, 0);
		pa->m_scrapes = f ? metrics_series_get(f, NULL) : NULL;
		f = metrics_family_new(cfg->metrics, METRICS_COUNTER,
				       "public_api_scrape_errors_total",
				       "Proxy /metrics scrapes that failed",
				       NULL, 0, NULL, 0);
		pa->m_scrape_errors = f ? metrics_series_get(f, NULL) : NULL;
	}
	ev_timer_init(&pa->scrape, on_scrape_timer, 0.1, every);
	if (!pa->prom) /* else Prometheus scrapes */
		ev_timer_start(cfg->loop, &pa->scrape);
	return pa;
}

int public_api_listen(struct public_api *pa, const struct sock_addr *a)
{
	return httpd_listen(pa->httpd, a);
}

void public_api_free(struct public_api *pa)
{
	if (!pa)
		return;
	ev_timer_stop(pa->cfg.loop, &pa->scrape);
	httpd_free(pa->httpd); /* cancels the Prometheus fetches */
	promql_free(pa->prom);
	httpc_free(pa->httpc); /* calls in flight end without callback */
	map_release(&pa->inflight, free);
	stats_store_free(pa->stats);
	free(pa);
}
