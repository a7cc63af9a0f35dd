/* SPDX-License-Identifier: Apache-2.0 */
/* promql.c - the public API's Prometheus backend: PromQL over Prometheus' HTTP API */
#include "conduit/promql.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/httpc.h"
#include "conduit/json.h"
#include "conduit/log.h"
#include "conduit/metrics.h"

#define MAX_QUERY 2048 /* one PromQL query, before encoding */
#define MAX_PATH (3 * MAX_QUERY + 512)

/* --- query building ------------------------------------------------------------ */

int promql_duration(double seconds, char *out, size_t size)
{
	double ms = round(seconds * 1000);
	int n;

	if (!(ms >= 1) || ms > 86400e3)
		return -EINVAL;
	if (fmod(ms, 1000) == 0)
		n = snprintf(out, size, "%.0fs", ms / 1000);
	else
		n = snprintf(out, size, "%.0fms", ms);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

int promql_quote(const char *s, char *out, size_t size)
{
	size_t n = 0;

	if (size < 3)
		return -ENOSPC;
	out[n++] = '"';
	for (; *s; s++) {
		const char *esc = NULL;

		switch (*s) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		}
		if (esc) {
			if (n + 2 + 2 > size)
				return -ENOSPC;
			out[n++] = esc[0];
			out[n++] = esc[1];
		} else {
			if (n + 1 + 2 > size)
				return -ENOSPC;
			out[n++] = *s;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
	return 0;
}

int promql_delta(const char *metric, const char *match, const char *by,
		 double window, char *out, size_t size)
{
	char w[32];
	int n;

	if (promql_duration(window, w, sizeof(w)) < 0)
		return -EINVAL;
	/* the newest minus the one a window ago; a drop (a restart) and a
	 * series younger than the window count from zero: stats.c's delta() */
	n = snprintf(out, size,
		     "(sum by (%s) (%s{%s}) - sum by (%s) (%s{%s} offset %s)) >= 0"
		     " or sum by (%s) (%s{%s})",
		     by, metric, match, by, metric, match, w, by, metric, match);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

int promql_url_encode(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '~' || c == '-') {
			if (n + 1 >= size)
				return -ENOSPC;
			out[n++] = (char)c;
		} else {
			if (n + 3 >= size)
				return -ENOSPC;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= size)
		return -ENOSPC;
	out[n] = '\0';
	return 0;
}

/* --- answers ------------------------------------------------------------------- */

const char *promql_label(const struct promql_sample *s, const char *name)
{
	return json_string(json_get(s->metric, name));
}

int promql_le_index(const char *le)
{
	char *end;
	double v;

	if (!strcmp(le, "+Inf"))
		return STATS_NBUCKETS - 1;
	v = strtod(le, &end);
	if (end == le || *end)
		return -1;
	for (size_t i = 0; i < metrics_latency_ms_nbounds; i++)
		if (metrics_latency_ms_bounds[i] == v)
			return (int)i;
	return -1;
}

/* sample_value - [T, "V"]: V as a number (Prometheus writes "NaN", "+Inf") */
static int sample_value(const struct json *pair, double *out)
{
	const char *v = json_string(json_at(pair, 1));
	double t;
	char *end;

	if (json_type(pair) != JSON_ARRAY || json_count(pair) != 2 ||
	    !json_number(json_at(pair, 0), &t) || !v || !*v)
		return -EPROTO;
	*out = strtod(v, &end);
	return *end ? -EPROTO : 0;
}

int promql_parse_vector(const char *body, size_t len, size_t max_samples,
			int (*fn)(void *arg, const struct promql_sample *s),
			void *arg, char *err, size_t errlen)
{
	char why[128];
	struct json *doc = json_parse(body, len, why, sizeof(why));
	const struct json *data, *result;
	const char *status, *type;
	size_t i = 0;
	int rc = 0;

	if (!doc) {
		snprintf(err, errlen, "not JSON: %s", why);
		return -EPROTO;
	}
	status = json_string(json_get(doc, "status"));
	if (status && !strcmp(status, "error")) {
		const char *et = json_string(json_get(doc, "errorType"));
		const char *e = json_string(json_get(doc, "error"));

		snprintf(err, errlen, "%.60s: %.300s", et ? et : "error",
			 e ? e : "(no message)");
		rc = -EREMOTEIO;
		goto out;
	}
	data = json_get(doc, "data");
	type = json_string(json_get(data, "resultType"));
	result = json_get(data, "result");
	if (!status || strcmp(status, "success") || !type ||
	    json_type(result) != JSON_ARRAY) {
		snprintf(err, errlen, "not a Prometheus query answer (no status success with data.result)");
		rc = -EPROTO;
		goto out;
	}
	if (strcmp(type, "vector")) {
		snprintf(err, errlen, "a %.20s answer, not a vector", type);
		rc = -EPROTO;
		goto out;
	}
	if (json_count(result) > max_samples) {
		snprintf(err, errlen, "%zu series, over the limit of %zu",
			 json_count(result), max_samples);
		rc = -E2BIG;
		goto out;
	}
	/* check everything first: a bad answer passes no sample at all */
	for (const struct json *e = json_child(result); e; e = json_next(e), i++) {
		double v;

		if (json_type(json_get(e, "metric")) != JSON_OBJECT ||
		    sample_value(json_get(e, "value"), &v) < 0) {
			snprintf(err, errlen,
				 "result %zu: want {\"metric\": {...}, \"value\": [time, \"number\"]}",
				 i);
			rc = -EPROTO;
			goto out;
		}
	}
	for (const struct json *e = json_child(result); e && !rc; e = json_next(e)) {
		struct promql_sample s = { .metric = json_get(e, "metric") };

		sample_value(json_get(e, "value"), &s.value);
		rc = fn(arg, &s);
	}
out:
	json_free(doc);
	return rc;
}

/* --- the client ------------------------------------------------------------------ */

struct promql {
	struct promql_config cfg;
	char *url;
	char prefix[256];
	struct sock_addr addr;
	char authority[SOCK_ADDR_STRLEN];
	struct httpc *httpc;
};

int promql_url_parse(const char *url, struct sock_addr *addr, char *prefix,
		     size_t prefix_size, char *err, size_t errlen)
{
	const char *host = url + 7, *slash;
	char hostport[300], why[160];
	size_t n;
	int rc;

	if (strncmp(url, "http://", 7)) {
		snprintf(err, errlen, "\"%.100s\": want http://HOST:PORT%s", url,
			 !strncmp(url, "https://", 8) ? " (no TLS: https is not supported)" : "");
		return -EINVAL;
	}
	slash = strchr(host, '/');
	n = slash ? (size_t)(slash - host) : strlen(host);
	if (!n || n >= sizeof(hostport) || memchr(host, '@', n) ||
	    strpbrk(url, "?# ")) {
		snprintf(err, errlen, "\"%.100s\": want http://HOST:PORT[/PREFIX]", url);
		return -EINVAL;
	}
	memcpy(hostport, host, n);
	hostport[n] = '\0';
	/* no port: http's own */
	if (!strchr(hostport, ':') || hostport[n - 1] == ']')
		str_copy(hostport + n, ":80", sizeof(hostport) - n);
	rc = sock_addr_resolve(hostport, addr, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "\"%.100s\": %s", url, why);
		return rc;
	}
	slash = slash ? slash : "";
	n = strlen(slash);
	while (n && slash[n - 1] == '/')
		n--;
	if (n >= prefix_size) {
		snprintf(err, errlen, "\"%.100s\": path prefix too long", url);
		return -EINVAL;
	}
	memcpy(prefix, slash, n);
	prefix[n] = '\0';
	return 0;
}

struct promql *promql_new(const struct promql_config *cfg, char *err,
			  size_t errlen)
{
	struct promql *p;
	struct httpc_config hc = { .loop = cfg->loop, .max_idle = 16,
				   .name = "prometheus" };
	struct sock_addr addr;
	char prefix[256];

	if (!cfg->loop || !cfg->url) {
		snprintf(err, errlen, "no loop or no URL");
		return NULL;
	}
	if (promql_url_parse(cfg->url, &addr, prefix, sizeof(prefix), err,
			     errlen) < 0)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->cfg = *cfg;
	p->url = xstrdup(cfg->url);
	p->cfg.url = p->url;
	if (p->cfg.timeout <= 0)
		p->cfg.timeout = 5;
	if (!p->cfg.max_body)
		p->cfg.max_body = 16u << 20;
	if (!p->cfg.max_samples)
		p->cfg.max_samples = 200000;
	p->addr = addr;
	str_copy(p->prefix, prefix, sizeof(p->prefix));
	sock_addr_format(&addr, p->authority, sizeof(p->authority));
	p->httpc = httpc_new(&hc);
	return p;
}

void promql_free(struct promql *p)
{
	if (!p)
		return;
	httpc_free(p->httpc);
	free(p->url);
	free(p);
}

const char *promql_url(const struct promql *p)
{
	return p->url;
}

/* --- a fetch: the queries of one stat or edges answer ------------------------------ */

enum qkind { Q_RESP_IN, Q_LAT_IN, Q_TCP_IN, Q_UP, Q_RESP_OUT, Q_LAT_OUT, Q_N };

struct query {
	struct promql_fetch *f;
	enum qkind kind;
	struct httpc_call *call; /* NULL once over */
};

struct promql_fetch {
	struct promql *p;
	promql_fetch_done done;
	void *arg;
	double window;
	struct stats_store *store;
	struct query q[Q_N];
	size_t pending;
};

/* build - the query of kind k over ns (NULL: all) into out */
static int build(enum qkind k, const char *ns, double window, char *out,
		 size_t size)
{
	char nsq[300] = "", in[400], outb[400];
	int n;

	if (ns && promql_quote(ns, nsq, sizeof(nsq)) < 0)
		return -ENOSPC;
	snprintf(in, sizeof(in), "direction=\"inbound\"%s%s", ns ? ",namespace=" : "", nsq);
	snprintf(outb, sizeof(outb), "direction=\"outbound\"%s%s", ns ? ",namespace=" : "", nsq);
	switch (k) {
	case Q_RESP_IN:
		return promql_delta("response_total", in,
				    "namespace, pod, classification", window, out, size);
	case Q_LAT_IN:
		return promql_delta("response_latency_ms_bucket", in,
				    "namespace, pod, le", window, out, size);
	case Q_RESP_OUT:
		return promql_delta("response_total", outb,
				    "namespace, pod, authority, classification, tls",
				    window, out, size);
	case Q_LAT_OUT:
		return promql_delta("response_latency_ms_bucket", outb,
				    "namespace, pod, authority, le", window, out, size);
	case Q_TCP_IN:
		n = snprintf(out, size,
			     "sum by (namespace, pod) (tcp_open_connections{%s,peer=\"src\"})",
			     in);
		break;
	case Q_UP:
		/* the pods Prometheus scrapes (its target labels name them, as
		 * install's config does): known, if nothing else */
		n = snprintf(out, size, "max by (namespace, pod) (up%s%s%s) > 0",
			     ns ? "{namespace=" : "", nsq, ns ? "}" : "");
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

static int take(void *arg, const struct promql_sample *s)
{
	struct query *q = arg;
	struct promql_fetch *f = q->f;
	const char *ns = promql_label(s, "namespace");
	const char *pod = promql_label(s, "pod");
	const char *cls, *le, *auth = NULL;
	struct stats_counts c = { 0 };
	char key[256];
	int i;

	if (!ns || !pod || !isfinite(s->value) || s->value < 0)
		return 0;
	snprintf(key, sizeof(key), "%s/%s", ns, pod);
	switch (q->kind) {
	case Q_RESP_OUT:
		auth = promql_label(s, "authority");
		auth = auth ? auth : "";
		/* fall through */
	case Q_RESP_IN:
		if (!(cls = promql_label(s, "classification")))
			return 0;
		if (!strcmp(cls, "success"))
			c.success = s->value;
		else
			c.failure = s->value;
		if (promql_label(s, "tls") && !strcmp(promql_label(s, "tls"), "true"))
			c.secured = s->value;
		break;
	case Q_LAT_OUT:
		auth = promql_label(s, "authority");
		auth = auth ? auth : "";
		/* fall through */
	case Q_LAT_IN:
		le = promql_label(s, "le");
		if (!le || (i = promql_le_index(le)) < 0)
			return 0;
		c.buckets[i] = s->value;
		break;
	case Q_TCP_IN:
		stats_put(f->store, key, f->window, NULL, NULL, s->value);
		return 0;
	case Q_UP:
		stats_put(f->store, key, f->window, NULL, NULL, 0);
		return 0;
	default:
		return 0;
	}
	stats_put(f->store, key, f->window, auth, &c, 0);
	return 0;
}

static void fetch_free(struct promql_fetch *f)
{
	for (size_t i = 0; i < Q_N; i++)
		if (f->q[i].call)
			httpc_cancel(f->q[i].call);
	stats_store_free(f->store);
	free(f);
}

static void fetch_fail(struct promql_fetch *f, int status, const char *err)
{
	char q[400];

	log_warn("public-api: Prometheus query failed", "url=%s status=%d error=%s",
		 f->p->url, status, log_quote(q, sizeof(q), err));
	f->done(f->arg, NULL, status, err);
	fetch_free(f);
}

static void on_answer(struct httpc_call *call, const struct httpc_resp *resp,
		      void *arg)
{
	struct query *q = arg;
	struct promql_fetch *f = q->f;
	const char *url = f->p->url;
	char err[512], why[400];
	int rc;

	(void)call;
	q->call = NULL;
	f->pending--;
	if (resp->err == -ETIMEDOUT) {
		snprintf(err, sizeof(err), "Prometheus at %s did not answer in %gs",
			 url, f->p->cfg.timeout);
		fetch_fail(f, 503, err);
		return;
	}
	if (resp->err == -EMSGSIZE) {
		snprintf(err, sizeof(err), "Prometheus at %s answered more than %zu bytes",
			 url, f->p->cfg.max_body);
		fetch_fail(f, 502, err);
		return;
	}
	if (resp->err) {
		snprintf(err, sizeof(err), "cannot reach Prometheus at %s: %s",
			 url, strerror(-resp->err));
		fetch_fail(f, 503, err);
		return;
	}
	/* a query Prometheus refuses is a 400 or 422 with a JSON error */
	rc = promql_parse_vector(resp->body, resp->body_len, f->p->cfg.max_samples,
				 take, q, why, sizeof(why));
	if (rc == -EREMOTEIO) {
		snprintf(err, sizeof(err), "Prometheus at %s refused a query: %s", url, why);
		fetch_fail(f, 502, err);
		return;
	}
	if (rc || resp->status != 200) {
		snprintf(err, sizeof(err), "Prometheus at %s answered %d: %s", url,
			 resp->status, rc ? why : "not a success");
		fetch_fail(f, 502, err);
		return;
	}
	if (!f->pending) {
		f->done(f->arg, f->store, 200, NULL);
		fetch_free(f);
	}
}

int promql_fetch(struct promql *p, unsigned what, const char *ns,
		 double window, promql_fetch_done done, void *arg,
		 struct promql_fetch **out)
{
	struct promql_fetch *f;
	bool want[Q_N] = {
		[Q_RESP_IN] = what & PROMQL_INBOUND,
		[Q_LAT_IN] = what & PROMQL_INBOUND,
		[Q_TCP_IN] = what & PROMQL_INBOUND,
		[Q_UP] = what & PROMQL_INBOUND,
		[Q_RESP_OUT] = what & (PROMQL_OUTBOUND | PROMQL_OUTBOUND_LATENCY),
		[Q_LAT_OUT] = what & PROMQL_OUTBOUND_LATENCY,
	};
	char *query, *path, *enc;
	int rc = 0;

	if (promql_duration(window, (char[32]){ 0 }, 32) < 0)
		return -EINVAL;
	f = xcalloc(1, sizeof(*f));
	f->p = p;
	f->done = done;
	f->arg = arg;
	f->window = window;
	f->store = stats_store_new(2);
	query = xcalloc(1, MAX_QUERY);
	enc = xcalloc(1, 3 * MAX_QUERY + 1);
	path = xcalloc(1, MAX_PATH);
	for (size_t k = 0; k < Q_N && !rc; k++) {
		struct httpc_req r = { 0 };

		if (!want[k])
			continue;
		f->q[k].f = f;
		f->q[k].kind = (enum qkind)k;
		if ((rc = build((enum qkind)k, ns, window, query, MAX_QUERY)) < 0 ||
		    (rc = promql_url_encode(query, enc, 3 * MAX_QUERY + 1)) < 0)
			break;
		snprintf(path, MAX_PATH, "%s/api/v1/query?query=%s", p->prefix, enc);
		r.addr = p->addr;
		r.authority = p->authority;
		r.path = path;
		r.timeout = p->cfg.timeout;
		r.max_body = p->cfg.max_body;
		r.on_done = on_answer;
		r.arg = &f->q[k];
		if ((rc = httpc_request(p->httpc, &r, &f->q[k].call)) < 0)
			break;
		f->pending++;
	}
	free(query);
	free(enc);
	free(path);
	if (rc < 0 || !f->pending) {
		fetch_free(f);
		return rc < 0 ? rc : -EINVAL;
	}
	if (out)
		*out = f;
	return 0;
}

void promql_fetch_cancel(struct promql_fetch *f)
{
	if (f)
		fetch_free(f);
}
