// SPDX-License-Identifier: Apache-2.0
/*
 * check.c - `conduit check`: the checks, each a GET (or an access review)
 * to the Kubernetes API server, run one after the other on a private
 * loop. A failing check is retried until --wait runs out, then printed
 * with its reason; a check that needs an earlier one (the API answering)
 * is skipped when that one failed.
 */
#include "conduit/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conduit/base64.h"
#include "conduit/buf.h"
#include "conduit/json.h"
#include "conduit/kube_client.h"
#include "conduit/kube_config.h"
#include "conduit/pki.h"
#include "conduit/version.h"

#define OK_MARK "\xe2\x88\x9a"	 /* √ */
#define FAIL_MARK "\xc3\x97"	 /* × */
#define WARN_MARK "\xe2\x80\xbc" /* ‼ */

struct checker {
	const struct check_opts *o;
	struct ev_loop *loop;
	struct kube_config cfg;
	struct kube_client *client;
	bool failed;
	unsigned sections;
	char k8s_version[64]; /* the server's gitVersion */
	/* the answer of the request in flight */
	bool done;
	int status, error;
	char *body;
	size_t body_len;
	char message[256];
};

int check_parse_k8s_version(const char *s, int *major, int *minor)
{
	char *end;
	long ma, mi;

	/* digits right after 'v' and '.': strtol would take a sign or
	 * spaces too */
	if (!s || *s != 'v' || s[1] < '0' || s[1] > '9')
		return -EINVAL;
	ma = strtol(s + 1, &end, 10);
	if (end == s + 1 || *end != '.' || ma < 1 || ma > 99)
		return -EINVAL;
	s = end + 1;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	mi = strtol(s, &end, 10);
	if (end == s || mi < 0 || mi > 999 || (*end && *end != '.' && *end != '+' &&
					       *end != '-'))
		return -EINVAL;
	*major = (int)ma;
	*minor = (int)mi;
	return 0;
}

/* --- requests ---------------------------------------------------------------- */

static void on_done(void *arg, const struct kube_response *resp)
{
	struct checker *k = arg;

	k->done = true;
	k->status = resp->status;
	k->error = resp->error;
	snprintf(k->message, sizeof(k->message), "%s",
		 resp->message ? resp->message : "");
	if (resp->body) {
		k->body = xstrndup(resp->body, resp->body_len);
		k->body_len = resp->body_len;
	}
	ev_break(k->loop, EVBREAK_ALL);
}

/*
 * request - method path (body: JSON or NULL); *out the parsed answer of a
 * 2xx (NULL otherwise). Returns the HTTP status, or a negative errno with
 * the reason in why.
 */
static int request(struct checker *k, const char *method, const char *path,
		   const char *body, struct json **out, char *why, size_t whylen)
{
	struct kube_request_opts o = {
		.method = method,
		.path = path,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.connect_timeout_ms = 5000,
		.idle_timeout_ms = 10000,
		.total_timeout_ms = 15000,
	};
	char perr[128];
	int st;

	*out = NULL;
	k->done = false;
	k->error = k->status = 0;
	free(k->body);
	k->body = NULL;
	if (!kube_request_start(k->client, &o, on_done, k)) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	ev_run(k->loop, 0);
	if (k->error) {
		snprintf(why, whylen, "%s", k->message);
		return k->error;
	}
	st = k->status;
	if (st >= 200 && st < 300) {
		*out = json_parse(k->body ? k->body : "", k->body_len, perr,
				  sizeof(perr));
		if (!*out) {
			snprintf(why, whylen, "the answer to %s is not JSON: %s",
				 path, perr);
			return -EPROTO;
		}
	} else {
		char m[200];

		snprintf(why, whylen, "%s %s: %d %s", method, path, st,
			 kube_status_message(k->body ? k->body : "", k->body_len,
					     m, sizeof(m)));
	}
	return st;
}

/* get - GET the path fmt formats (a 2xx's JSON in *out, as request) */
static int get(struct checker *k, struct json **out, char *why, size_t whylen,
	       const char *fmt, ...)
{
	char path[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return request(k, "GET", path, NULL, out, why, whylen);
}

/* --- output ------------------------------------------------------------------ */

static void section(struct checker *k, const char *name)
{
	size_t n = strlen(name);

	fprintf(k->o->out, "%s%s\n", k->sections++ ? "\n" : "", name);
	while (n--)
		fputc('-', k->o->out);
	fputc('\n', k->o->out);
}

enum verdict { PASS, WARN, FAIL };

/*
 * A check: fn fills why (and hint) and returns its verdict; FAIL is
 * retried every second until --wait is over.
 */
typedef enum verdict check_fn(struct checker *k, char *why, size_t whylen,
			      char *hint, size_t hintlen);

static bool run(struct checker *k, const char *what, check_fn *fn)
{
	char why[512] = "", hint[256] = "";
	double until = ev_time() + k->o->wait;
	enum verdict v;

	for (;;) {
		why[0] = hint[0] = 0;
		v = fn(k, why, sizeof(why), hint, sizeof(hint));
		if (v != FAIL || ev_time() + 1 > until)
			break;
		sleep(1);
	}
	fprintf(k->o->out, "%s %s\n",
		v == PASS ? OK_MARK : v == WARN ? WARN_MARK : FAIL_MARK, what);
	if (v != PASS && why[0])
		fprintf(k->o->out, "    %s\n", why);
	if (v != PASS && hint[0])
		fprintf(k->o->out, "    see: %s\n", hint);
	if (v == FAIL)
		k->failed = true;
	fflush(k->o->out);
	return v != FAIL;
}

/* --- kubernetes-api ----------------------------------------------------------- */

static enum verdict c_client(struct checker *k, char *why, size_t n,
			     char *hint, size_t hn)
{
	char e[400];
	int r;

	if (k->client)
		return PASS;
	r = kube_config_auto(k->o->kubeconfig, k->o->context, &k->cfg, e,
			     sizeof(e));
	if (r < 0) {
		snprintf(why, n, "%s", r == -ENOENT ? "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a pod" : e);
		snprintf(hint, hn, "--kubeconfig FILE, or export KUBECONFIG");
		return FAIL;
	}
	k->client = kube_client_new(k->loop, &k->cfg, e, sizeof(e));
	if (!k->client) {
		snprintf(why, n, "%s", e);
		kube_config_release(&k->cfg);
		return FAIL;
	}
	return PASS;
}

static enum verdict c_api(struct checker *k, char *why, size_t n, char *hint,
			  size_t hn)
{
	struct json *j;
	int st = request(k, "GET", "/version", NULL, &j, why, n);

	(void)hint;
	(void)hn;
	if (st != 200)
		return FAIL;
	snprintf(k->k8s_version, sizeof(k->k8s_version), "%s",
		 json_string(json_get(j, "gitVersion")) ?
			 json_string(json_get(j, "gitVersion")) : "");
	json_free(j);
	return PASS;
}

static enum verdict c_version(struct checker *k, char *why, size_t n,
			      char *hint, size_t hn)
{
	int major, minor;

	if (check_parse_k8s_version(k->k8s_version, &major, &minor) < 0) {
		snprintf(why, n, "cannot read the server's version \"%s\"",
			 k->k8s_version);
		return WARN;
	}
	if (major == 1 && minor < CHECK_MIN_MINOR) {
		snprintf(why, n, "the server runs %s; the mesh needs 1.%d or newer",
			 k->k8s_version, CHECK_MIN_MINOR);
		return FAIL;
	}
	if (major == 1 && minor < CHECK_NATIVE_SIDECAR_MINOR) {
		snprintf(why, n, "the server runs %s: no native sidecars (1.%d+)",
			 k->k8s_version, CHECK_NATIVE_SIDECAR_MINOR);
		snprintf(hint, hn, "inject with --native-sidecar=false");
		return WARN;
	}
	return PASS;
}

/* --- pre-install ------------------------------------------------------------- */

static enum verdict c_ns_absent(struct checker *k, char *why, size_t n,
				char *hint, size_t hn)
{
	struct json *j;
	int st;

	st = get(k, &j, why, n, "/api/v1/namespaces/%s", k->o->cp_ns);
	json_free(j);
	if (st == 404) {
		why[0] = 0;
		return PASS;
	}
	if (st == 200) {
		snprintf(why, n, "namespace %s exists: the control plane may be installed already",
			 k->o->cp_ns);
		snprintf(hint, hn, "conduit check (without --pre), or install with -n OTHER");
	}
	return FAIL;
}

/* may this user create a <resource> of <group> (in ns, or cluster-wide)? */
static enum verdict can_create(struct checker *k, const char *group,
			       const char *resource, const char *ns, char *why,
			       size_t n)
{
	char body[600];
	struct json *j;
	bool allowed = false;
	int st;

	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
		 "\"spec\":{\"resourceAttributes\":{\"verb\":\"create\",\"group\":\"%s\","
		 "\"resource\":\"%s\"%s%s%s}}}",
		 group, resource, ns ? ",\"namespace\":\"" : "", ns ? ns : "",
		 ns ? "\"" : "");
	st = request(k, "POST",
		     "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
		     body, &j, why, n);
	if (st != 201 && st != 200)
		return FAIL;
	json_bool(json_get(json_get(j, "status"), "allowed"), &allowed);
	json_free(j);
	if (!allowed) {
		snprintf(why, n, "not allowed to create %s%s%s", resource,
			 ns ? " in " : " (cluster-wide)", ns ? ns : "");
		return FAIL;
	}
	return PASS;
}

static enum verdict c_rights(struct checker *k, char *why, size_t n,
			     char *hint, size_t hn)
{
	static const struct {
		const char *group, *resource;
		bool namespaced;
	} need[] = {
		{ "", "namespaces", false },
		{ "rbac.authorization.k8s.io", "clusterroles", false },
		{ "rbac.authorization.k8s.io", "clusterrolebindings", false },
		{ "admissionregistration.k8s.io", "mutatingwebhookconfigurations", false },
		{ "", "serviceaccounts", true },
		{ "", "services", true },
		{ "", "secrets", true },
		{ "", "configmaps", true },
		{ "apps", "deployments", true },
	};

	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		if (can_create(k, need[i].group, need[i].resource,
			       need[i].namespaced ? k->o->cp_ns : NULL, why,
			       n) != PASS) {
			snprintf(hint, hn, "install needs cluster-admin-like rights");
			return FAIL;
		}
	}
	return PASS;
}

/* --- the control plane -------------------------------------------------------- */

static enum verdict c_ns(struct checker *k, char *why, size_t n, char *hint,
			 size_t hn)
{
	struct json *j;
	int st;

	st = get(k, &j, why, n, "/api/v1/namespaces/%s", k->o->cp_ns);
	json_free(j);
	if (st == 404) {
		snprintf(why, n, "no namespace %s", k->o->cp_ns);
		snprintf(hint, hn, "conduit install | kubectl apply -f -");
	}
	return st == 200 ? PASS : FAIL;
}

static const char *const components[] = { "conduit-controller",
					   "conduit-identity",
					   "conduit-proxy-injector",
					   "conduit-web" };

static enum verdict c_deployments(struct checker *k, char *why, size_t n,
				  char *hint, size_t hn)
{
	struct json *j, *items;
	size_t len = 0;
	int st;

	st = get(k, &j, why, n,
		"/apis/apps/v1/namespaces/%s/deployments", k->o->cp_ns);
	if (st != 200)
		return FAIL;
	items = json_get(j, "items");
	for (size_t c = 0; c < ARRAY_SIZE(components); c++) {
		const struct json *d = NULL;
		double want = 1, avail = 0;

		for (size_t i = 0; i < json_count(items) && !d; i++) {
			const char *nm = json_string(json_get(json_get(json_at(items, i), "metadata"), "name"));

			if (nm && !strcmp(nm, components[c]))
				d = json_at(items, i);
		}
		if (!d) {
			len += (size_t)snprintf(why + len, len < n ? n - len : 0,
						"%s%s missing", len ? "; " : "",
						components[c]);
			continue;
		}
		json_number(json_get(json_get(d, "spec"), "replicas"), &want);
		json_number(json_get(json_get(d, "status"), "availableReplicas"), &avail);
		if (avail < want)
			len += (size_t)snprintf(why + len, len < n ? n - len : 0,
						"%s%s: %.0f of %.0f available",
						len ? "; " : "", components[c], avail, want);
	}
	json_free(j);
	if (len) {
		snprintf(hint, hn, "kubectl get pods -n %s", k->o->cp_ns);
		return FAIL;
	}
	return PASS;
}

/*
 * pods_ready - every pod of ns (that the selector picks) Running, its
 * containers and its conduit-proxy ready; *meshed counts those with a
 * proxy. Fills why with the first few that are not.
 */
static enum verdict pods_ready(struct checker *k, const char *ns,
			       bool need_proxy, size_t *meshed, char *why,
			       size_t n)
{
	struct json *j, *items;
	size_t len = 0, bad = 0;
	int st;

	*meshed = 0;
	st = get(k, &j, why, n, "/api/v1/namespaces/%s/pods", ns);
	if (st != 200)
		return FAIL;
	items = json_get(j, "items");
	for (size_t i = 0; i < json_count(items); i++) {
		const struct json *p = json_at(items, i);
		const struct json *s = json_get(p, "status");
		const char *name = json_string(json_get(json_get(p, "metadata"), "name"));
		const char *phase = json_string(json_get(s, "phase"));
		bool proxy = false, proxy_ready = false, all = true;
		const char *lists[] = { "containerStatuses", "initContainerStatuses" };

		if (phase && !strcmp(phase, "Succeeded"))
			continue;
		for (size_t l = 0; l < 2; l++) {
			const struct json *cs = json_get(s, lists[l]);

			for (size_t c = 0; c < json_count(cs); c++) {
				const struct json *x = json_at(cs, c);
				const char *cn = json_string(json_get(x, "name"));
				bool ready = false;

				json_bool(json_get(x, "ready"), &ready);
				if (cn && !strcmp(cn, "conduit-proxy")) {
					proxy = true;
					proxy_ready = ready;
				} else if (l == 0 && !ready) {
					all = false;
				}
			}
		}
		*meshed += proxy;
		if ((need_proxy && !proxy) || (proxy && !proxy_ready) || !all ||
		    !phase || strcmp(phase, "Running")) {
			if (bad++ < 3)
				len += (size_t)snprintf(
					why + len, len < n ? n - len : 0,
					"%s%s: %s%s%s", len ? "; " : "",
					name ? name : "?", phase ? phase : "?",
					need_proxy && !proxy ? ", no proxy" : "",
					proxy && !proxy_ready ? ", proxy not ready" :
					!all ? ", not ready" : "");
		}
	}
	json_free(j);
	if (bad > 3 && len < n)
		snprintf(why + len, n - len, " (and %zu more)", bad - 3);
	return bad ? FAIL : PASS;
}

static enum verdict c_cp_pods(struct checker *k, char *why, size_t n,
			      char *hint, size_t hn)
{
	size_t meshed;
	enum verdict v = pods_ready(k, k->o->cp_ns, true, &meshed, why, n);

	if (v != PASS)
		snprintf(hint, hn, "kubectl describe pods -n %s", k->o->cp_ns);
	return v;
}

static enum verdict c_webhook(struct checker *k, char *why, size_t n,
			      char *hint, size_t hn)
{
	struct json *j, *hooks;
	const char *ca;
	int st;

	st = get(k, &j, why, n,
		"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/conduit-proxy-injector-%s", k->o->cp_ns);
	if (st != 200) {
		snprintf(hint, hn, "conduit install | kubectl apply -f -");
		return FAIL;
	}
	hooks = json_get(j, "webhooks");
	ca = json_string(json_get(json_get(json_at(hooks, 0), "clientConfig"), "caBundle"));
	if (!json_count(hooks) || !ca || !*ca) {
		snprintf(why, n, "the webhook configuration has no caBundle");
		json_free(j);
		return FAIL;
	}
	json_free(j);
	return PASS;
}

/* cert_check - the PEM certificate in data (base64 of a Secret or
 * ConfigMap's text) valid now and for 60 days more */
static enum verdict cert_check(const char *what, const char *pem, size_t len,
			       char *why, size_t n)
{
	struct pki_cert_info info;
	struct pki_cert *c;
	char e[200];
	time_t now = time(NULL);

	c = pki_cert_parse(pem, len, e, sizeof(e));
	if (!c) {
		snprintf(why, n, "%s: %s", what, e);
		return FAIL;
	}
	pki_cert_get_info(c, &info);
	pki_cert_free(c);
	if (info.not_after <= now || info.not_before > now) {
		snprintf(why, n, "%s is not valid now (expired or not yet valid)", what);
		return FAIL;
	}
	if (info.not_after - now < 60 * 86400) {
		snprintf(why, n, "%s expires in %lld days", what,
			 (long long)((info.not_after - now) / 86400));
		return WARN;
	}
	return PASS;
}

static enum verdict c_issuer(struct checker *k, char *why, size_t n,
			     char *hint, size_t hn)
{
	struct json *j;
	struct buf pem;
	const char *crt;
	enum verdict v;
	int st;

	st = get(k, &j, why, n,
		"/api/v1/namespaces/%s/secrets/conduit-identity-issuer", k->o->cp_ns);
	if (st != 200)
		return FAIL;
	crt = json_string(json_get(json_get(j, "data"), "tls.crt"));
	buf_init(&pem, 1 << 20);
	if (!crt || base64_decode(crt, strlen(crt), &pem) < 0 ||
	    buf_append(&pem, "", 1) < 0) {
		snprintf(why, n, "the issuer Secret has no readable tls.crt");
		v = FAIL;
	} else {
		v = cert_check("the issuer certificate", (const char *)buf_head(&pem),
			       buf_len(&pem), why, n);
	}
	if (v != PASS)
		snprintf(hint, hn, "conduit install --identity-issuer-certificate-file ... to rotate it");
	buf_release(&pem);
	json_free(j);
	return v;
}

static enum verdict c_anchors(struct checker *k, char *why, size_t n,
			      char *hint, size_t hn)
{
	struct json *j, *data;
	const char *pem = NULL;
	enum verdict v;
	int st;

	(void)hint;
	(void)hn;
	st = get(k, &j, why, n,
		"/api/v1/namespaces/%s/configmaps/conduit-identity-trust-roots", k->o->cp_ns);
	if (st != 200)
		return FAIL;
	data = json_get(j, "data");
	for (const struct json *d = json_child(data); d && !pem; d = json_next(d))
		pem = json_string(d);
	v = pem ? cert_check("the trust anchors", pem, strlen(pem) + 1, why, n) : FAIL;
	if (!pem)
		snprintf(why, n, "the trust anchors ConfigMap is empty");
	json_free(j);
	return v;
}

static enum verdict c_public_api(struct checker *k, char *why, size_t n,
				 char *hint, size_t hn)
{
	struct json *j;
	const char *v;
	int st;

	st = get(k, &j, why, n,
		"/api/v1/namespaces/%s/services/conduit-api:http/proxy/api/v1/version", k->o->cp_ns);
	if (st != 200) {
		snprintf(hint, hn, "kubectl logs -n %s deploy/conduit-controller -c controller",
			 k->o->cp_ns);
		return FAIL;
	}
	v = json_string(json_get(j, "version"));
	if (!v || strcmp(v, version_string())) {
		snprintf(why, n, "the control plane runs %s, this CLI is %s",
			 v ? v : "an unknown version", version_string());
		json_free(j);
		return WARN;
	}
	json_free(j);
	return PASS;
}

/* --- the data plane ----------------------------------------------------------- */

static enum verdict c_proxies(struct checker *k, char *why, size_t n,
			      char *hint, size_t hn)
{
	size_t meshed;
	enum verdict v = pods_ready(k, k->o->proxy_ns, false, &meshed, why, n);

	if (v == PASS && !meshed) {
		snprintf(why, n, "no meshed pod in %s", k->o->proxy_ns);
		snprintf(hint, hn, "conduit inject, or annotate the namespace conduit.io/inject=enabled");
		return FAIL;
	}
	return v;
}

int check_run(const struct check_opts *o)
{
	struct checker k = { .o = o };
	char title[160];

	k.loop = ev_loop_new(EVFLAG_AUTO);
	if (!k.loop) {
		fprintf(o->out, "%s cannot create an event loop\n", FAIL_MARK);
		return 1;
	}
	section(&k, "kubernetes-api");
	if (run(&k, "can initialize the client", c_client) &&
	    run(&k, "can query the Kubernetes API", c_api)) {
		section(&k, "kubernetes-version");
		run(&k, "is running a Kubernetes version the mesh supports",
		    c_version);
		if (o->pre) {
			section(&k, "pre-kubernetes-setup");
			snprintf(title, sizeof(title),
				 "control plane namespace %s does not exist yet", o->cp_ns);
			run(&k, title, c_ns_absent);
			run(&k, "can create the objects conduit install writes",
			    c_rights);
		} else {
			section(&k, "conduit-existence");
			snprintf(title, sizeof(title),
				 "control plane namespace %s exists", o->cp_ns);
			if (run(&k, title, c_ns)) {
				run(&k, "control plane Deployments are available",
				    c_deployments);
				run(&k, "control plane pods are ready, each with its proxy",
				    c_cp_pods);
				section(&k, "conduit-identity");
				run(&k, "issuer certificate is valid", c_issuer);
				run(&k, "trust anchors are valid", c_anchors);
				section(&k, "conduit-webhook");
				run(&k, "proxy-injector webhook is registered with its CA",
				    c_webhook);
				section(&k, "conduit-api");
				run(&k, "public API answers, at this CLI's version",
				    c_public_api);
			}
		}
		if (o->proxy_ns) {
			section(&k, "conduit-data-plane");
			snprintf(title, sizeof(title),
				 "pods in %s are meshed and their proxies ready",
				 o->proxy_ns);
			run(&k, title, c_proxies);
		}
	}
	fprintf(o->out, "\nStatus check results are %s\n",
		k.failed ? FAIL_MARK : OK_MARK);
	free(k.body);
	if (k.client) {
		kube_client_free(k.client);
		kube_config_release(&k.cfg);
	}
	ev_loop_destroy(k.loop);
	return k.failed ? 1 : 0;
}
