/* SPDX-License-Identifier: Apache-2.0 */
/* dashboard.c - `conduit dashboard`: find the web component, or forward a local port to it */
#include "conduit/dashboard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/httpc.h"
#include "conduit/httpd.h"
#include "conduit/json.h"
#include "conduit/log.h"
#include "conduit/web.h"

/* --- local ---------------------------------------------------------------------- */

/* is_dashboard - GET / at r->addr is the dashboard's page: 0, or why */
static int is_dashboard(const struct httpc_req *api, char *err, size_t errlen)
{
	struct httpc_req r = *api;
	struct httpc_result res;
	int rc;

	r.path = "/";
	rc = httpc_run(&r, &res);
	if (!rc && (res.status != 200 || !res.content_type ||
		    strncmp(res.content_type, "text/html", 9) ||
		    !strstr(res.body, "conduit dashboard"))) {
		snprintf(err, errlen, "GET / answered %d %s, not its page",
			 res.status, res.content_type ? res.content_type : "");
		rc = -EPROTONOSUPPORT;
	} else if (rc) {
		snprintf(err, errlen, "%s", strerror(-rc));
	}
	httpc_result_release(&res);
	return rc;
}

int dashboard_check_local(const struct sock_addr *addr, double wait, char *err,
			  size_t errlen)
{
	struct httpc_req r = { 0 };
	double waited = 0;
	int rc;

	r.addr = *addr;
	r.path = "/api/v1/version";
	r.timeout = 2;
	r.flags = HTTPC_NO_REUSE;
	for (;;) {
		struct httpc_result res;

		rc = is_dashboard(&r, err, errlen);
		if (rc == -EPROTONOSUPPORT)
			return rc;
		if (!rc) {
			rc = httpc_run(&r, &res);
			if (!rc && res.status == 200) {
				httpc_result_release(&res);
				return 0;
			}
			if (!rc) {
				struct json *j = json_parse(res.body, res.body_len, NULL, 0);
				const char *m = j ? json_string(json_get(j, "error")) : NULL;

				if (m)
					snprintf(err, errlen, "%s", m);
				else
					snprintf(err, errlen, "it answered %d", res.status);
				json_free(j);
				rc = -EPROTO;
			} else {
				snprintf(err, errlen, "%s", strerror(-rc));
			}
			httpc_result_release(&res);
		}
		/* a 502 is the API behind it: the dashboard says so itself */
		if (rc == -EPROTO || waited >= wait)
			return rc;
		usleep(200000);
		waited += 0.2 + (rc == -ETIMEDOUT ? r.timeout : 0);
	}
}

/* --- the API server's service proxy --------------------------------------------------- */

char *dashboard_proxy_path(const char *ns, const char *target, char *buf,
			   size_t size)
{
	int n = snprintf(buf, size,
			 "/api/v1/namespaces/%s/services/conduit-web:http/proxy%s",
			 ns, target);

	return n < 0 || (size_t)n >= size ? NULL : buf;
}

const char *dashboard_content_type(const char *path)
{
	char name[160];

	if (!strncmp(path, "/api/v1/tap", 11) && (!path[11] || path[11] == '?'))
		return "application/x-ndjson";
	if (!strncmp(path, "/api/", 5))
		return "application/json";
	snprintf(name, sizeof(name), "%s%.*s",
		 !strcmp(path, "/") ? "/index.html" : "",
		 (int)strcspn(path, "?"), !strcmp(path, "/") ? "" : path);
	return web_content_type(name);
}

struct dashboard_fwd {
	struct kube_client *kube;
	char *ns;
	struct httpd *httpd;
	struct sock_addr addr;
};

/* one browser request on its way through the API server */
struct fwd_call {
	struct dashboard_fwd *f;
	struct httpd_req *req; /* NULL once it is over */
	struct kube_request *kr;
	bool started;
	char type[64];
};

static void on_browser_gone(struct httpd_req *req, void *arg)
{
	struct fwd_call *c = arg;

	(void)req;
	kube_request_cancel(c->kr);
	free(c);
}

static int on_fwd_data(void *arg, const char *p, size_t n)
{
	struct fwd_call *c = arg;
	static const struct httpd_header h[] = { { "Cache-Control", "no-cache" } };

	if (!c->req)
		return -EPIPE;
	if (!c->started) {
		c->started = true;
		if (httpd_stream_start(c->req, 200, c->type, h, ARRAY_SIZE(h)) < 0) {
			httpd_req_on_cancel(c->req, NULL, NULL);
			c->req = NULL;
			return -EPIPE;
		}
	}
	if (httpd_stream_write(c->req, p, n) < 0) {
		c->req = NULL; /* over, and no on_cancel follows */
		return -EPIPE;
	}
	return 0;
}

static void on_fwd_done(void *arg, const struct kube_response *resp)
{
	struct fwd_call *c = arg;
	char msg[300], json[400];

	if (c->req) {
		httpd_req_on_cancel(c->req, NULL, NULL);
		if (c->started) {
			httpd_stream_end(c->req);
		} else if (resp->error) {
			/* a message of ours or of a Go error: no quotes kept */
			snprintf(msg, sizeof(msg), "%s", resp->message ? resp->message : "");
			for (char *p = msg; *p; p++)
				if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
					*p = '\'';
			snprintf(json, sizeof(json),
				 "{\"error\":\"cannot reach the dashboard through the Kubernetes API server: %s\"}",
				 msg);
			httpd_respond_json(c->req, 502, json);
		} else {
			/* an API server's Status (the Service is missing) or the
			 * dashboard's own error, passed on as it came */
			httpd_respond(c->req, resp->status ? resp->status : 502,
				      resp->status >= 200 && resp->status < 300
					      ? c->type
					      : "application/json",
				      NULL, 0, resp->body, resp->body ? resp->body_len : 0);
		}
	}
	free(c);
}

static void on_fwd_request(struct httpd_req *req, void *arg)
{
	struct dashboard_fwd *f = arg;
	const char *target = httpd_req_target(req);
	struct kube_request_opts o = { 0 };
	struct fwd_call *c;
	char path[2048];

	if (!dashboard_proxy_path(f->ns, target, path, sizeof(path))) {
		httpd_respond_text(req, 414, "414 URI too long\n");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->f = f;
	c->req = req;
	str_copy(c->type, dashboard_content_type(httpd_req_path(req)),
		 sizeof(c->type));
	o.path = path;
	o.connect_timeout_ms = 10000;
	/* a tap may be quiet for long; anything else answers at once */
	o.idle_timeout_ms = !strcmp(c->type, "application/x-ndjson") ? 24 * 3600 * 1000
								     : 30000;
	o.on_data = on_fwd_data;
	c->kr = kube_request_start(f->kube, &o, on_fwd_done, c);
	if (!c->kr) {
		free(c);
		httpd_respond_text(req, 503, "503 out of memory\n");
		return;
	}
	httpd_req_on_cancel(req, on_browser_gone, c);
}

struct dashboard_fwd *dashboard_fwd_new(struct kube_client *kube,
					const char *ns,
					const struct sock_addr *addr, char *err,
					size_t errlen)
{
	struct dashboard_fwd *f = xcalloc(1, sizeof(*f));
	struct httpd_config hc = { .loop = kube_client_loop(kube),
				   .name = "dashboard" };
	char a[SOCK_ADDR_STRLEN];
	int r;

	f->kube = kube;
	f->ns = xstrdup(ns);
	f->httpd = httpd_new(&hc);
	/* GET (and HEAD) only: the dashboard changes nothing */
	httpd_route_prefix(f->httpd, "GET", "/", on_fwd_request, f);
	r = httpd_listen(f->httpd, addr);
	if (r < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s",
			 sock_addr_format(addr, a, sizeof(a)), strerror(-r));
		dashboard_fwd_free(f);
		return NULL;
	}
	httpd_local_addr(f->httpd, &f->addr);
	return f;
}

void dashboard_fwd_addr(const struct dashboard_fwd *f, struct sock_addr *out)
{
	*out = f->addr;
}

void dashboard_fwd_free(struct dashboard_fwd *f)
{
	if (!f)
		return;
	httpd_free(f->httpd); /* cancels the calls in flight */
	free(f->ns);
	free(f);
}
