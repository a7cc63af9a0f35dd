/* SPDX-License-Identifier: Apache-2.0 */
/* web.c - the dashboard component: embedded assets, /api/ proxied to the public API */
#include "conduit/web.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conduit/demoapp.h"
#include "conduit/embed.h"
#include "conduit/httpc.h"
#include "conduit/httpd.h"
#include "conduit/log.h"

struct web {
	struct web_config cfg;
	char **hosts; /* the allow-list, owned */
	size_t nhosts;
	char *api_authority;
	struct httpd *httpd;
	struct httpc *httpc;
	struct metrics_series *m_assets, *m_api, *m_forbidden, *m_not_found,
		*m_api_errors;
};

/* a GET /api/... on its way to the public API and back */
struct api_call {
	struct web *w;
	struct httpd_req *req;
	struct httpc_call *call;
	bool started; /* the answer's head went to the client */
};

/* --- the Host check --------------------------------------------------------- */

bool web_host_allowed(const char *host, const char *const *hosts, size_t n)
{
	char name[WEB_HOST_MAX], ipbuf[WEB_HOST_MAX];
	struct sock_addr a;
	const char *port = NULL;
	size_t len = 0;

	if (!host || !*host)
		return false;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		if (!end || (size_t)(end - host - 1) >= sizeof(ipbuf))
			return false;
		memcpy(ipbuf, host + 1, (size_t)(end - host - 1));
		ipbuf[end - host - 1] = 0;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return false;
		if (sock_ip_parse(ipbuf, &a) < 0 || !strchr(ipbuf, ':'))
			return false;
	} else {
		const char *colon = strchr(host, ':');

		len = colon ? (size_t)(colon - host) : strlen(host);
		if (!len || len >= sizeof(name))
			return false;
		if (colon)
			port = colon + 1;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)host[i];

			if (!isalnum(c) && c != '-' && c != '.' && c != '_')
				return false;
			name[i] = (char)tolower(c);
		}
		name[len] = 0;
		if (len > 1 && name[len - 1] == '.')
			name[--len] = 0;
	}
	if (port) {
		size_t i;

		for (i = 0; port[i]; i++)
			if (!isdigit((unsigned char)port[i]) || i >= 5)
				return false;
		if (!i || atoi(port) > 65535)
			return false;
	}
	if (host[0] == '[')
		return true; /* an IPv6 literal */
	if (sock_ip_parse(name, &a) == 0)
		return true; /* an IPv4 literal */
	for (size_t i = 0; i < n; i++) {
		const char *h = hosts[i];
		size_t hl = strlen(h);

		if (!strcmp(h, "*"))
			return true;
		if (hl > 1 && h[hl - 1] == '.')
			hl--;
		if (hl == len && !strncasecmp(h, name, len))
			return true;
	}
	return false;
}

size_t web_default_hosts(const char *ns, const char *domain,
			 char out[][WEB_HOST_MAX])
{
	str_copy(out[0], "localhost", WEB_HOST_MAX);
	snprintf(out[1], WEB_HOST_MAX, "conduit-web.%s.svc", ns);
	snprintf(out[2], WEB_HOST_MAX, "conduit-web.%s.svc.%s", ns, domain);
	return WEB_DEFAULT_HOSTS;
}

/* --- assets --------------------------------------------------------------------- */

const struct embed_file *web_asset(const char *path)
{
	char name[128];

	if (!path || path[0] != '/')
		return NULL;
	if (!strcmp(path, "/"))
		path = "/index.html";
	/* one level, no dot files: web/<name> and nothing else embedded */
	if (strchr(path + 1, '/') || path[1] == '.' || !path[1] ||
	    strlen(path) + 4 > sizeof(name))
		return NULL;
	snprintf(name, sizeof(name), "web%s", path);
	return embed_find(name);
}

const char *web_content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".json", "application/json" },
	};
	const char *dot = path ? strrchr(path, '.') : NULL;

	for (size_t i = 0; dot && i < ARRAY_SIZE(types); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* etag - a strong validator from the content: FNV-1a, 64 bits */
static void etag(const struct embed_file *f, char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < f->len; i++) {
		h ^= f->data[i];
		h *= 0x100000001b3ull;
	}
	snprintf(out, size, "\"%016llx\"", (unsigned long long)h);
}

/* etag_matches - does If-None-Match (a list, or "*") name tag? */
static bool etag_matches(const char *inm, const char *tag)
{
	size_t tl = strlen(tag);

	if (!inm)
		return false;
	if (!strcmp(inm, "*"))
		return true;
	for (const char *p = inm; (p = strstr(p, tag)); p += tl) {
		/* W/"x" matches too: weak comparison, as RFC 9110 wants here */
		char after = p[tl];

		if (after == 0 || after == ',' || after == ' ')
			return true;
	}
	return false;
}

static const struct httpd_header security[] = {
	{ "X-Content-Type-Options", "nosniff" },
	{ "Content-Security-Policy",
	  "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
};

static void serve_asset(struct web *w, struct httpd_req *req)
{
	const char *path = httpd_req_path(req);
	const struct embed_file *f = web_asset(path);
	struct httpd_header h[ARRAY_SIZE(security) + 2];
	char tag[24];
	size_t nh = 0;

	if (!f) {
		if (w->m_not_found)
			metrics_counter_inc(w->m_not_found);
		httpd_respond_text(req, 404, "404 page not found\n");
		return;
	}
	if (w->m_assets)
		metrics_counter_inc(w->m_assets);
	etag(f, tag, sizeof(tag));
	for (size_t i = 0; i < ARRAY_SIZE(security); i++)
		h[nh++] = security[i];
	h[nh++] = (struct httpd_header){ "ETag", tag };
	h[nh++] = (struct httpd_header){ "Cache-Control", "no-cache" };
	if (etag_matches(httpd_req_header(req, "If-None-Match"), tag)) {
		httpd_respond(req, 304, NULL, h, nh, NULL, 0);
		return;
	}
	httpd_respond(req, 200, web_content_type(f->path), h, nh, f->data,
		      f->len);
}

/* --- /api/: to the public API and back, streamed -------------------------------- */

static void api_error(struct api_call *a, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void api_error(struct api_call *a, int status, const char *fmt, ...)
{
	char msg[300], json[400];
	va_list ap;
	size_t n = 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the message is ours: no quote or backslash but in an address */
	for (const char *p = msg; *p && n + 3 < sizeof(msg); p++)
		if (*p != '"' && *p != '\\')
			msg[n++] = *p;
	msg[n] = 0;
	snprintf(json, sizeof(json), "{\"error\":\"%s\"}", msg);
	if (a->w->m_api_errors)
		metrics_counter_inc(a->w->m_api_errors);
	httpd_respond_json(a->req, status, json);
}

static void on_client_gone(struct httpd_req *req, void *arg)
{
	struct api_call *a = arg;

	(void)req;
	httpc_cancel(a->call);
	free(a);
}

static void on_api_head(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg)
{
	struct api_call *a = arg;
	const char *type = httpc_resp_header(resp, "Content-Type");
	struct httpd_header h[] = {
		{ "Cache-Control", "no-store" },
		{ "X-Content-Type-Options", "nosniff" },
		/* no proxy on the way may hold a tap back */
		{ "X-Accel-Buffering", "no" },
	};

	(void)call;
	a->started = true;
	if (httpd_stream_start(a->req, resp->status,
			       type ? type : "application/json", h,
			       ARRAY_SIZE(h)) < 0) {
		/* the client got a 500 and req is over: stop listening */
		httpd_req_on_cancel(a->req, NULL, NULL);
		a->req = NULL;
	}
}

static int on_api_data(struct httpc_call *call, const char *p, size_t n,
		       void *arg)
{
	struct api_call *a = arg;

	(void)call;
	if (a->req && httpd_stream_write(a->req, p, n) == 0)
		return 0;
	/* the client is gone (or read too slowly): req is over, no
	 * on_cancel follows; non-zero cancels the call, no on_done either */
	free(a);
	return 1;
}

static void on_api_done(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg)
{
	struct api_call *a = arg;
	char addr[SOCK_ADDR_STRLEN];

	(void)call;
	if (a->req) {
		httpd_req_on_cancel(a->req, NULL, NULL);
		if (a->started) {
			httpd_stream_end(a->req);
		} else {
			sock_addr_format(&a->w->cfg.api_addr, addr, sizeof(addr));
			log_warn("web: the public API did not answer",
				 "addr=%s error=%s", addr, strerror(-resp->err));
			api_error(a, resp->err == -ETIMEDOUT ? 504 : 502,
				  "cannot reach the public API at %s: %s", addr,
				  strerror(-resp->err));
		}
	}
	free(a);
}

static void proxy_api(struct web *w, struct httpd_req *req)
{
	struct api_call *a = xcalloc(1, sizeof(*a));
	struct httpc_req r = { 0 };
	struct httpc_header accept = { "Accept", "application/json" };
	int rc;

	if (w->m_api)
		metrics_counter_inc(w->m_api);
	a->w = w;
	a->req = req;
	r.addr = w->cfg.api_addr;
	r.authority = w->api_authority;
	r.path = httpd_req_target(req);
	r.headers = &accept;
	r.nheaders = 1;
	r.timeout = 30; /* up to the head: a stream then lasts */
	r.max_body = 1u << 20; /* only bounds a line; pieces are passed on */
	r.on_head = on_api_head;
	r.on_data = on_api_data;
	r.on_done = on_api_done;
	r.arg = a;
	rc = httpc_request(w->httpc, &r, &a->call);
	if (rc < 0) {
		api_error(a, 400, "cannot forward this request: %s",
			  strerror(-rc));
		free(a);
		return;
	}
	httpd_req_on_cancel(req, on_client_gone, a);
}

/* --- routing ---------------------------------------------------------------------- */

static void on_request(struct httpd_req *req, void *arg)
{
	struct web *w = arg;
	const char *host = httpd_req_header(req, "Host");
	const char *path = httpd_req_path(req);

	if (!web_host_allowed(host, (const char *const *)w->hosts, w->nhosts)) {
		char q[300];

		if (w->m_forbidden)
			metrics_counter_inc(w->m_forbidden);
		log_info("web: refused a request for another host (DNS rebinding?)",
			 "host=%s", log_quote(q, sizeof(q), host ? host : ""));
		httpd_respond_text(req, 403,
				   "403 forbidden: this Host is not allowed (see --enforced-host)\n");
		return;
	}
	if (!strncmp(path, "/api/", 5)) {
		if (strcmp(httpd_req_method(req), "GET")) {
			struct httpd_header allow = { "Allow", "GET" };

			httpd_respond(req, 405, "text/plain; charset=utf-8",
				      &allow, 1, "405 method not allowed\n", 23);
			return;
		}
		proxy_api(w, req);
		return;
	}
	serve_asset(w, req);
}

/* --- lifecycle ---------------------------------------------------------------------- */

struct web *web_new(const struct web_config *cfg)
{
	struct web *w;
	/* an API answer is passed on as it comes, not held whole: a stat of
	 * a big cluster may be megabytes, so a client gets that much room
	 * before it is dropped for reading too slowly (a tap is bounded by
	 * its max_rps) */
	struct httpd_config hc = { .loop = cfg->loop, .name = "web",
				   .max_conns = 128,
				   .max_stream_queue = 2u << 20 };
	struct httpc_config cc = { .loop = cfg->loop, .max_idle = 16,
				   .name = "web-api" };
	char def[WEB_DEFAULT_HOSTS][WEB_HOST_MAX], a[SOCK_ADDR_STRLEN];

	if (!cfg->loop)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->cfg = *cfg;
	if (cfg->hosts) {
		w->nhosts = cfg->nhosts;
		w->hosts = xcalloc(w->nhosts ? w->nhosts : 1, sizeof(char *));
		for (size_t i = 0; i < w->nhosts; i++)
			w->hosts[i] = xstrdup(cfg->hosts[i]);
	} else {
		w->nhosts = web_default_hosts(
		    cfg->controller_ns ? cfg->controller_ns : "conduit",
		    cfg->cluster_domain ? cfg->cluster_domain : "cluster.local",
		    def);
		w->hosts = xcalloc(w->nhosts, sizeof(char *));
		for (size_t i = 0; i < w->nhosts; i++)
			w->hosts[i] = xstrdup(def[i]);
	}
	w->api_authority = xstrdup(cfg->api_authority
					   ? cfg->api_authority
					   : sock_addr_format(&cfg->api_addr, a,
							      sizeof(a)));
	w->cfg.hosts = NULL;
	w->cfg.api_authority = NULL;
	w->httpd = httpd_new(&hc);
	w->httpc = httpc_new(&cc);
	httpd_route_prefix(w->httpd, "GET", "/", on_request, w);
	if (cfg->metrics) {
		static const char *const label[] = { "outcome" };
		static const char *const v[][1] = { { "asset" }, { "api" },
						    { "forbidden" },
						    { "not_found" } };
		struct metrics_family *f;

		f = metrics_family_new(cfg->metrics, METRICS_COUNTER,
				       "web_requests_total",
				       "Dashboard requests, by what became of them",
				       label, 1, NULL, 0);
		if (f) {
			w->m_assets = metrics_series_get(f, v[0]);
			w->m_api = metrics_series_get(f, v[1]);
			w->m_forbidden = metrics_series_get(f, v[2]);
			w->m_not_found = metrics_series_get(f, v[3]);
		}
		f = metrics_family_new(cfg->metrics, METRICS_COUNTER,
				       "web_api_errors_total",
				       "Dashboard API requests the public API did not answer",
				       NULL, 0, NULL, 0);
		w->m_api_errors = f ? metrics_series_get(f, NULL) : NULL;
	}
	return w;
}

int web_listen(struct web *w, const struct sock_addr *a)
{
	return httpd_listen(w->httpd, a);
}

int web_local_addr(const struct web *w, struct sock_addr *out)
{
	return httpd_local_addr(w->httpd, out);
}

void web_free(struct web *w)
{
	if (!w)
		return;
	httpd_free(w->httpd); /* cancels the calls in flight */
	httpc_free(w->httpc);
	for (size_t i = 0; i < w->nhosts; i++)
		free(w->hosts[i]);
	free(w->hosts);
	free(w->api_authority);
	free(w);
}

/* --- the upstream ------------------------------------------------------------------- */

int web_parse_upstream(const char *url, char *host, size_t hostlen,
		       int *port, char *err, size_t errlen)
{
	const char *p = url, *colon, *end;
	char *e;
	long v;
	size_t n;

	if (!strncmp(p, "https://", 8)) {
		snprintf(err, errlen, "https is not supported: want http://HOST:PORT");
		return -EINVAL;
	}
	if (!strncmp(p, "http://", 7))
		p += 7;
	else if (strstr(p, "://")) {
		snprintf(err, errlen, "want http://HOST:PORT");
		return -EINVAL;
	}
	end = p + strlen(p);
	if (end > p && end[-1] == '/')
		end--;
	if (memchr(p, '/', (size_t)(end - p))) {
		snprintf(err, errlen, "a path is not supported: want http://HOST:PORT");
		return -EINVAL;
	}
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb || rb[1] != ':') {
			snprintf(err, errlen, "want http://[IPv6]:PORT");
			return -EINVAL;
		}
		n = (size_t)(rb - p - 1);
		p++;
		colon = rb + 1;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if (!colon) {
			snprintf(err, errlen, "no port: want http://HOST:PORT");
			return -EINVAL;
		}
		n = (size_t)(colon - p);
	}
	if (!n || n >= hostlen) {
		snprintf(err, errlen, "no host, or one too long");
		return -EINVAL;
	}
	errno = 0;
	v = strtol(colon + 1, &e, 10);
	if (e != end || colon + 1 == end || errno || v < 1 || v > 65535) {
		snprintf(err, errlen, "the port is not a number from 1 to 65535");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!isalnum(c) && !strchr(".-_:%", c)) {
			snprintf(err, errlen, "the host holds a character no host name has");
			return -EINVAL;
		}
	}
	memcpy(host, p, n);
	host[n] = 0;
	*port = (int)v;
	return 0;
}

/*
 * from_service_env - a Service name DNS does not know (a cluster without
 * DNS, or DNS that lags) through the variables Kubernetes sets for the
 * Services of the pod's namespace (CONDUIT_API_SERVICE_HOST)
 */
static int from_service_env(const char *host, int port, const char *ns,
			    struct sock_addr *out)
{
	char hp[300], var[96];
	const char *v;

	snprintf(hp, sizeof(hp), "%s:%d", host, port);
	if (demoapp_service_env(hp, ns, var, sizeof(var)) ||
	    !(v = getenv(var)) || !*v || sock_ip_parse(v, out) < 0)
		return -ENOENT;
	sock_addr_set_port(out, port);
	log_info("web: the public API found through the Kubernetes service environment",
		 "name=%s variable=%s addr=%s", host, var, v);
	return 0;
}

int web_resolve_upstream(const char *url, const char *ns, int attempts,
			 struct sock_addr *out, char *authority,
			 size_t authlen, char *err, size_t errlen)
{
	char host[256], hp[300], why[200];
	int port, r;

	r = web_parse_upstream(url, host, sizeof(host), &port, err, errlen);
	if (r < 0)
		return r;
	snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
		 host, port);
	str_copy(authority, hp, authlen);
	for (int i = 0;; i++) {
		r = sock_addr_resolve(hp, out, why, sizeof(why));
		if (r == -ENOENT && !from_service_env(host, port, ns, out))
			return 0;
		if (!r || r != -ENOENT || i + 1 >= attempts)
			break;
		if (i == 0)
			log_warn("web: cannot resolve the public API yet: retrying",
				 "name=%s seconds=%d", hp, attempts - 1);
		sleep(1);
	}
	if (r)
		snprintf(err, errlen, "%s", why);
	return r;
}
