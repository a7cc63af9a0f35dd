/* SPDX-License-Identifier: Apache-2.0 */
/* cli.c - what the API-reading CLI commands share: the API client, tables */
#include "conduit/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/buf.h"
#include "conduit/httpc.h"
#include "conduit/kube_client.h"
#include "conduit/kube_config.h"
#include "conduit/public_api.h"

const char *cli_api_addr(const char *flag_value)
{
	const char *env = getenv("CONDUIT_API_ADDR");

	if (flag_value && *flag_value)
		return flag_value;
	return env && *env ? env : "";
}

/* --- through the Kubernetes API server's service proxy ----------------------- */

struct kube_call {
	struct ev_loop *loop;
	bool done;
	int status, error;
	char *body;
	size_t body_len;
	char message[256];
	/* streaming */
	int (*on_line)(void *arg, const char *line, size_t n);
	void *arg;
	struct buf line;
};

static void kube_done(void *arg, const struct kube_response *resp)
{
	struct kube_call *k = arg;

	k->done = true;
	k->status = resp->status;
	k->error = resp->error;
	snprintf(k->message, sizeof(k->message), "%s", resp->message ? resp->message : "");
	if (resp->body) {
		k->body = xstrndup(resp->body, resp->body_len);
		k->body_len = resp->body_len;
	}
	ev_break(k->loop, EVBREAK_ALL);
}

static int kube_data(void *arg, const char *p, size_t n)
{
	struct kube_call *k = arg;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (buf_append(&k->line, &p[i], 1))
				return -EMSGSIZE;
			continue;
		}
		if (k->on_line(k->arg, (const char *)buf_head(&k->line),
			       buf_len(&k->line)))
			return -ECANCELED;
		buf_clear(&k->line);
	}
	return 0;
}

/*
 * kube_get - GET the public API's path through the API server:
 * /api/v1/namespaces/<cp-ns>/services/conduit-api:http/proxy<path>.
 * Returns 0 with the answer in k, -ENOENT when there is no kubeconfig,
 * or another negative errno with the reason in err.
 */
static int kube_get(struct kube_call *k, const char *path, char *err,
		    size_t errlen)
{
	struct kube_config cfg;
	struct kube_client *c;
	struct kube_request_opts o = { 0 };
	const char *ns = getenv("CONDUIT_NAMESPACE");
	char full[2048], e[400];
	int r;

	r = kube_config_auto(NULL, NULL, &cfg, e, sizeof(e));
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0) {
		snprintf(err, errlen, "%s", e);
		return r;
	}
	k->loop = ev_loop_new(EVFLAG_AUTO);
	c = k->loop ? kube_client_new(k->loop, &cfg, e, sizeof(e)) : NULL;
	if (!c) {
		snprintf(err, errlen, "%s", k->loop ? e : "cannot create an event loop");
		if (k->loop)
			ev_loop_destroy(k->loop);
		kube_config_release(&cfg);
		return -EINVAL;
	}
	snprintf(full, sizeof(full),
		 "/api/v1/namespaces/%s/services/conduit-api:http/proxy%s",
		 ns && *ns ? ns : "conduit", path);
	o.path = full;
	o.connect_timeout_ms = 10000;
	o.idle_timeout_ms = k->on_line ? 0 : 30000;
	if (k->on_line) {
		buf_init(&k->line, 1u << 20);
		o.on_data = kube_data;
	}
	if (kube_request_start(c, &o, kube_done, k))
		ev_run(k->loop, 0);
	kube_client_free(c);
	ev_loop_destroy(k->loop);
	if (k->on_line)
		buf_release(&k->line);
	if (k->error) {
		snprintf(err, errlen,
			 "cannot reach the public API through the Kubernetes API server %s: %s",
			 cfg.server ? cfg.server : "", k->message);
		kube_config_release(&cfg);
		free(k->body);
		return k->error;
	}
	kube_config_release(&cfg);
	return 0;
}

/* answer - a JSON answer of the API, or its error message in err */
static int answer(int status, const char *body, size_t len, struct json **out,
		  char *err, size_t errlen)
{
	char perr[160];
	struct json *j = json_parse(body ? body : "", body ? len : 0, perr,
				    sizeof(perr));

	if (status != 200) {
		const char *m = j ? json_string(json_get(j, "error")) : NULL;

		if (m)
			snprintf(err, errlen, "%s", m);
		else
			snprintf(err, errlen, "the public API answered %d", status);
		json_free(j);
		return -EPROTO;
	}
	if (!j) {
		snprintf(err, errlen, "the public API's answer is not JSON: %s", perr);
		return -EPROTO;
	}
	*out = j;
	return 0;
}

int cli_api_get(const char *addr, const char *path, struct json **out,
		char *err, size_t errlen)
{
	struct httpc_req r = { 0 };
	struct httpc_result res;
	char why[96];
	int rc;

	*out = NULL;
	if (!*addr) {
		struct kube_call k = { 0 };

		rc = kube_get(&k, path, err, errlen);
		if (rc != -ENOENT) {
			if (rc)
				return rc;
			rc = answer(k.status, k.body, k.body_len, out, err, errlen);
			free(k.body);
			return rc;
		}
		addr = CLI_DEFAULT_API_ADDR; /* no kubeconfig: a local API */
	}
	if (sock_addr_parse(addr, &r.addr, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "invalid API address \"%s\": %s", addr, why);
		return -EINVAL;
	}
	r.path = path;
	r.timeout = 10;
	r.max_body = 64u << 20;
	r.flags = HTTPC_NO_REUSE;
	rc = httpc_run(&r, &res);
	if (rc)
		snprintf(err, errlen, "cannot reach the public API at %s: %s",
			 addr, strerror(-rc));
	else
		rc = answer(res.status, res.body, res.body_len, out, err, errlen);
	httpc_result_release(&res);
	return rc;
}

struct line_fwd {
	int (*on_line)(void *arg, const char *line, size_t n);
	void *arg;
	int status;
	struct buf error; /* a non-200 answer's body: its error message */
};

static void fwd_head(struct httpc_call *call, const struct httpc_resp *resp,
		     void *arg)
{
	struct line_fwd *f = arg;

	(void)call;
	f->status = resp->status;
}

static int fwd_line(struct httpc_call *call, const char *p, size_t n, void *arg)
{
	struct line_fwd *f = arg;

	(void)call;
	if (f->status != 200) {
		buf_append(&f->error, p, n); /* bounded: the rest is cut */
		return 0;
	}
	return f->on_line(f->arg, p, n);
}

int cli_api_stream(const char *addr, const char *path,
		   int (*on_line)(void *arg, const char *line, size_t n),
		   void *arg, char *err, size_t errlen)
{
	struct httpc_req r = { 0 };
	struct httpc_result res;
	struct line_fwd f = { on_line, arg, 0, { 0 } };
	struct json *j = NULL;
	char why[96];
	int rc;

	if (!*addr) {
		struct kube_call k = { .on_line = on_line, .arg = arg };

		rc = kube_get(&k, path, err, errlen);
		if (rc != -ENOENT) {
			if (!rc && k.status != 200) {
				rc = answer(k.status, k.body, k.body_len, &j, err, errlen);
				json_free(j);
			}
			free(k.body);
			return rc;
		}
		addr = CLI_DEFAULT_API_ADDR;
	}
	if (sock_addr_parse(addr, &r.addr, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "invalid API address \"%s\": %s", addr, why);
		return -EINVAL;
	}
	r.path = path;
	r.timeout = 10;
	r.max_body = 1u << 20;
	r.flags = HTTPC_LINES | HTTPC_NO_REUSE;
	r.on_head = fwd_head;
	r.on_data = fwd_line;
	r.arg = &f;
	buf_init(&f.error, 64u << 10);
	rc = httpc_run(&r, &res);
	if (rc) {
		snprintf(err, errlen, "cannot reach the public API at %s: %s",
			 addr, strerror(-rc));
	} else if (res.status != 200) {
		rc = answer(res.status, (const char *)buf_head(&f.error),
			    buf_len(&f.error), &j, err, errlen);
		json_free(j);
	}
	buf_release(&f.error);
	httpc_result_release(&res);
	return rc;
}

char *cli_url_escape(const char *s, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s && n + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._~-", c)) {
			buf[n++] = (char)c;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = 0;
	return buf;
}

void cli_table_init(struct cli_table *t, size_t ncols,
		    const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->cap = 16;
	t->cells = xcalloc(t->cap * ncols, sizeof(char *));
	for (size_t i = 0; i < ncols; i++)
		t->cells[i] = xstrdup(headers[i]);
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows + 2 > t->cap) {
		t->cap *= 2;
		t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
	}
	t->nrows++;
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));

	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++)
			w[c] = MAX(w[c], strlen(t->cells[r * t->ncols + c]));
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 < t->ncols)
				fprintf(f, "%-*s   ", (int)w[c], s);
			else
				fprintf(f, "%s", s);
		}
		fputc('\n', f);
	}
	free(w);
}

void cli_table_release(struct cli_table *t)
{
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

char *cli_fmt_percent(const struct json *v, char *buf, size_t size)
{
	double d;

	if (!json_number(v, &d))
		return str_copy(buf, "-", size), buf;
	snprintf(buf, size, "%.2f%%", d * 100);
	return buf;
}

char *cli_fmt_rps(const struct json *v, char *buf, size_t size)
{
	double d;

	if (!json_number(v, &d))
		return str_copy(buf, "-", size), buf;
	snprintf(buf, size, "%.1frps", d);
	return buf;
}

char *cli_fmt_ms(const struct json *v, char *buf, size_t size)
{
	double d;

	if (!json_number(v, &d))
		return str_copy(buf, "-", size), buf;
	if (d < 10)
		snprintf(buf, size, "%.1fms", d);
	else
		snprintf(buf, size, "%.0fms", d);
	return buf;
}

void cli_print_stat(FILE *f, const struct json *rows, bool all_ns,
		    const char *res, bool wide)
{
	static const char *const head[] = { "NAMESPACE", "NAME", "MESHED",
					    "SUCCESS", "RPS", "LATENCY_P50",
					    "LATENCY_P95", "LATENCY_P99",
					    "TCP_CONN", "READ_BYTES/SEC",
					    "WRITE_BYTES/SEC" };
	bool out = !strcmp(res, "authority") || !strcmp(res, "service");
	size_t skip = all_ns ? 0 : 1, ncols = ARRAY_SIZE(head) - (wide ? 0 : 2);
	struct cli_table t;

	cli_table_init(&t, ncols - skip, head + skip);
	for (size_t i = 0; i < json_count(rows); i++) {
		const struct json *r = json_at(rows, i);
		char meshed[32], sr[32], rps[32], p50[32], p95[32], p99[32], tcp[32];
		char rb[32], wb[32];
		const char *cells[11];
		double m = 0, tot = 0, tc = 0, v;

		json_number(json_get(r, "meshed_pods"), &m);
		json_number(json_get(r, "total_pods"), &tot);
		json_number(json_get(r, "tcp_open_connections"), &tc);
		if (out)
			snprintf(meshed, sizeof(meshed), "-");
		else
			snprintf(meshed, sizeof(meshed), "%.0f/%.0f", m, tot);
		snprintf(tcp, sizeof(tcp), out ? "-" : "%.0f", tc);
		if (json_number(json_get(r, "read_bytes_per_sec"), &v))
			snprintf(rb, sizeof(rb), "%.1fB/s", v);
		else
			snprintf(rb, sizeof(rb), "-");
		if (json_number(json_get(r, "write_bytes_per_sec"), &v))
			snprintf(wb, sizeof(wb), "%.1fB/s", v);
		else
			snprintf(wb, sizeof(wb), "-");
		cells[0] = json_string(json_get(r, "namespace"));
		cells[1] = json_string(json_get(r, "name"));
		cells[2] = meshed;
		cells[3] = cli_fmt_percent(json_get(r, "success_rate"), sr, sizeof(sr));
		cells[4] = cli_fmt_rps(json_get(r, "rps"), rps, sizeof(rps));
		cells[5] = cli_fmt_ms(json_get(r, "latency_ms_p50"), p50, sizeof(p50));
		cells[6] = cli_fmt_ms(json_get(r, "latency_ms_p95"), p95, sizeof(p95));
		cells[7] = cli_fmt_ms(json_get(r, "latency_ms_p99"), p99, sizeof(p99));
		cells[8] = tcp;
		cells[9] = rb;
		cells[10] = wb;
		cli_table_add(&t, cells + skip);
	}
	if (!json_count(rows))
		fprintf(f, "No resources found.\n");
	else
		cli_table_print(&t, f);
	cli_table_release(&t);
}

const char *cli_resource_arg(int argc, char **argv, char *type, size_t size,
			     const char **name)
{
	char *slash;

	str_copy(type, argv[0], size);
	*name = NULL;
	if ((slash = strchr(type, '/'))) {
		*slash = 0;
		*name = argv[0] + (slash - type) + 1;
	} else if (argc > 1) {
		*name = argv[1];
	}
	return public_api_parse_resource(type);
}

char *cli_tap_path(char *buf, size_t size, const char *res, const char *ns,
		   const char *name, long long max_rps, const char *method,
		   const char *path, const char *authority)
{
	char e[5][200];
	bool by_ns = !strcmp(res, "namespace");

	snprintf(buf, size,
		 "/api/v1/tap?resource=%s&namespace=%s&name=%s&max_rps=%lld&method=%s&path=%s&authority=%s",
		 res, cli_url_escape(by_ns && name ? name : ns, e[0], 200),
		 name && !by_ns ? cli_url_escape(name, e[1], 200) : "", max_rps,
		 method ? cli_url_escape(method, e[2], 200) : "",
		 path ? cli_url_escape(path, e[3], 200) : "",
		 authority ? cli_url_escape(authority, e[4], 200) : "");
	return buf;
}
