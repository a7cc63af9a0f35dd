/* SPDX-License-Identifier: Apache-2.0 */
/* injector.c - the proxy injector: a mutating admission webhook over HTTPS */
#include "conduit/injector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conduit/base64.h"
#include "conduit/buf.h"
#include "conduit/httpd.h"
#include "conduit/jsonpatch.h"
#include "conduit/kube_client.h"
#include "conduit/kube_config.h"
#include "conduit/kube_informer.h"
#include "conduit/log.h"
#include "conduit/tls.h"
#include "conduit/yaml.h"

#define ANN_INJECT "conduit.io/inject"
#define RELOAD_INTERVAL 10.0 /* s between looks at the certificate files */

static const char *const result_names[INJECTOR_NRESULTS] = {
	[INJECTOR_INJECTED] = "injected",
	[INJECTOR_SKIPPED] = "skipped",
	[INJECTOR_DISABLED] = "disabled",
	[INJECTOR_ALREADY] = "already_injected",
	[INJECTOR_REFUSED] = "refused",
	[INJECTOR_BAD_REQUEST] = "bad_request",
};

const char *injector_result_name(enum injector_result r)
{
	return r < INJECTOR_NRESULTS ? result_names[r] : "?";
}

/* --- the review ------------------------------------------------------------ */

/* an annotation, or NULL */
static const char *annotation(const struct json *obj, const char *key)
{
	return json_string(json_get(json_get(json_get(obj, "metadata"),
					     "annotations"), key));
}

/* inject's label for an owner kind ("deployment"), or NULL */
static const char *kind_label(const char *kind)
{
	static const char *const kinds[][2] = {
		{ "Deployment", "deployment" },
		{ "StatefulSet", "statefulset" },
		{ "DaemonSet", "daemonset" },
		{ "ReplicaSet", "replicaset" },
		{ "ReplicationController", "replicationcontroller" },
		{ "Job", "job" },
		{ "CronJob", "cronjob" },
	};

	for (size_t i = 0; kind && i < ARRAY_SIZE(kinds); i++)
		if (strcmp(kind, kinds[i][0]) == 0)
			return kinds[i][1];
	return NULL;
}

/*
 * owner - the workload a pod belongs to, as inject names it: the
 * controlling owner reference; a ReplicaSet named <deployment>-<hash>
 * whose hash is the pod's pod-template-hash label is its Deployment's (so
 * the Deployment controller's naming, not an API call, says it). name
 * points into obj or into buf. NULL label: the pod itself.
 */
static void owner(const struct json *obj, const char **label,
		  const char **name, char *buf, size_t buflen)
{
	const struct json *refs = json_get(json_get(obj, "metadata"),
					   "ownerReferences");
	const struct json *ref = NULL, *r;
	const char *kind, *n, *hash;
	size_t nl, hl;

	*label = *name = NULL;
	for (r = json_child(refs); r; r = json_next(r)) {
		bool ctl = false;

		if (json_bool(json_get(r, "controller"), &ctl) && ctl) {
			ref = r;
			break;
		}
	}
	if (!ref)
		return;
	kind = json_string(json_get(ref, "kind"));
	n = json_string(json_get(ref, "name"));
	if (!kind_label(kind) || !n || !*n)
		return;
	*label = kind_label(kind);
	*name = n;
	hash = json_string(json_get(json_get(json_get(obj, "metadata"), "labels"),
				    "pod-template-hash"));
	if (strcmp(kind, "ReplicaSet") || !hash || !*hash)
		return;
	nl = strlen(n);
	hl = strlen(hash);
	if (nl > hl + 1 && n[nl - hl - 1] == '-' && !strcmp(n + nl - hl, hash) &&
	    nl - hl - 1 < buflen) {
		memcpy(buf, n, nl - hl - 1);
		buf[nl - hl - 1] = '\0';
		*label = "deployment";
		*name = buf;
	}
}

/* the answer: the review's own apiVersion and kind, the response */
static char *answer(const char *api_version, const char *uid,
		    const char *patch_b64, const char *warning)
{
	struct json *review = json_new_object();
	struct json *resp = json_new_object();
	char *text;

	json_set_string(review, "apiVersion", api_version);
	json_set_string(review, "kind", "AdmissionReview");
	json_set_string(resp, "uid", uid);
	json_set_bool(resp, "allowed", true);
	if (patch_b64) {
		json_set_string(resp, "patchType", "JSONPatch");
		json_set_string(resp, "patch", patch_b64);
	}
	if (warning) {
		struct json *w = json_new_array();

		json_push(w, json_new_string(warning));
		json_set(resp, "warnings", w);
	}
	json_set(review, "response", resp);
	text = json_print(review, false);
	json_free(review);
	if (!text)
		die("out of memory");
	return text;
}

PRINTF_LIKE(3, 4)
static enum injector_result bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return INJECTOR_BAD_REQUEST;
}

/*
 * mutate - inject the pod (obj, borrowed) with c; on success *patch_b64
 * is the base64 JSON Patch. Returns the result, why says it in words.
 */
static enum injector_result mutate(const struct json *obj,
				   const struct inject_config *c,
				   const struct json *ns_ann, char **patch_b64,
				   char *why, size_t whylen)
{
	struct yml_node *tree, *ns_tree = NULL;
	struct json *from = NULL, *to = NULL, *patch = NULL;
	struct inject_config cfg = *c;
	struct inject_report rep;
	enum injector_result res = INJECTOR_REFUSED;
	const char *label, *name;
	char owner_buf[256], e[300];
	struct buf b64;
	char *text;

	*patch_b64 = NULL;
	tree = yml_from_json(obj, e, sizeof(e));
	if (!tree)
		return bad(why, whylen, "request.object: %s", e);
	if (ns_ann) {
		ns_tree = yml_from_json(ns_ann, e, sizeof(e));
		/* a namespace the API server holds is readable: if not,
		 * its overrides are left out rather than failing pods */
		inject_config_override(&cfg, ns_tree);
	}
	/* what the patch is made against: the object as the tree reads it,
	 * so only what inject changed differs */
	from = yml_to_json(tree, "request.object", e, sizeof(e));
	if (!from) {
		res = bad(why, whylen, "%s", e);
		goto out;
	}
	owner(obj, &label, &name, owner_buf, sizeof(owner_buf));
	inject_report_init(&rep);
	{
		int r = inject_object_as(tree, &cfg, label, name, &rep);

		if (r == -ENOMEM)
			die("out of memory");
		if (r) {
			/* the tree may be half changed: no patch from it */
			inject_report_release(&rep);
			snprintf(why, whylen, "cannot inject: %s", strerror(-r));
			goto out;
		}
	}
	snprintf(why, whylen, "%s", rep.last_why);
	switch (rep.last) {
	case INJECT_INJECTED:
		res = INJECTOR_INJECTED;
		break;
	case INJECT_DISABLED:
		res = INJECTOR_DISABLED;
		break;
	case INJECT_SKIPPED:
		res = INJECTOR_SKIPPED;
		break;
	default:
		res = INJECTOR_REFUSED;
		break;
	}
	inject_report_release(&rep);
	if (res != INJECTOR_INJECTED)
		goto out;
	to = yml_to_json(tree, "request.object", e, sizeof(e));
	patch = to ? jsonpatch_diff(from, to) : NULL;
	text = patch ? json_print(patch, false) : NULL;
	if (!text) {
		res = bad(why, whylen, "request.object: %s", to ? "out of memory" : e);
		goto out;
	}
	buf_init(&b64, 0);
	if (base64_encode(text, strlen(text), &b64) || !buf_cstr(&b64))
		die("out of memory");
	*patch_b64 = xstrdup((const char *)buf_head(&b64));
	buf_release(&b64);
	free(text);
out:
	json_free(from);
	json_free(to);
	json_free(patch);
	yml_free(tree);
	yml_free(ns_tree);
	return res;
}

/*
 * text_problem - where body is not what the API server sends: JSON is
 * UTF-8 (RFC 8259), and Go's encoder never writes invalid bytes. The
 * manifest tree replaces them (and \u0000) with U+FFFD, so a patch made
 * from such a tree could name members the real object does not have:
 * refuse them up front. Returns the offset of the first problem, or -1.
 */
static ssize_t text_problem(const unsigned char *p, size_t n, const char **what)
{
	size_t i = 0, slashes = 0;

	while (i < n) {
		unsigned c = p[i], need, cp;

		if (c == '\\') {
			slashes++;
			i++;
			continue;
		}
		if (c == 'u' && slashes % 2 && i + 5 <= n &&
		    !memcmp(p + i, "u0000", 5)) {
			*what = "a \\u0000 escape (no NUL can be patched)";
			return (ssize_t)i - 1;
		}
		slashes = 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		*what = "not valid UTF-8";
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return (ssize_t)i;
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				return (ssize_t)i;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return (ssize_t)i;
		i += need + 1;
	}
	return -1;
}

enum injector_result injector_review(const struct injector_review_config *rc,
				     const char *body, size_t len, char **out,
				     char *why, size_t whylen)
{
	const char *api_version, *uid, *op, *ns, *mine, *theirs = NULL;
	const struct json *req, *obj, *spec, *ns_ann = NULL;
	enum injector_result res;
	char *patch = NULL, e[300];
	bool host_network = false;
	struct json *review;

	*out = NULL;
	if (len > INJECTOR_MAX_BODY)
		return bad(why, whylen, "body: over %u bytes", INJECTOR_MAX_BODY);
	{
		const char *what = "";
		ssize_t at = text_problem((const unsigned char *)body, len, &what);

		if (at >= 0)
			return bad(why, whylen, "body: %s at byte %zd", what, at);
	}
	review = json_parse(body, len, e, sizeof(e));
	if (!review)
		return bad(why, whylen, "body: not JSON: %s", e);
	res = INJECTOR_BAD_REQUEST;
	api_version = json_string(json_get(review, "apiVersion"));
	if (json_type(review) != JSON_OBJECT ||
	    strcmp(json_string(json_get(review, "kind")) ?: "", "AdmissionReview")) {
		bad(why, whylen, "kind: not an AdmissionReview");
		goto out;
	}
	if (!api_version || (strcmp(api_version, "admission.k8s.io/v1") &&
			     strcmp(api_version, "admission.k8s.io/v1beta1"))) {
		bad(why, whylen, "apiVersion: want admission.k8s.io/v1, not \"%s\"",
		    api_version ? api_version : "");
		goto out;
	}
	req = json_get(review, "request");
	if (json_type(req) != JSON_OBJECT) {
		bad(why, whylen, "request: missing or not an object");
		goto out;
	}
	uid = json_string(json_get(req, "uid"));
	if (!uid || !*uid) {
		bad(why, whylen, "request.uid: missing or not a string");
		goto out;
	}
	op = json_string(json_get(req, "operation"));
	obj = json_get(req, "object");
	if (op && strcmp(op, "CREATE")) {
		/* the webhook asks for CREATE only; anything else passes */
		res = INJECTOR_SKIPPED;
		snprintf(why, whylen, "operation %s: only CREATE is injected", op);
		*out = answer(api_version, uid, NULL, NULL);
		goto out;
	}
	if (json_type(obj) != JSON_OBJECT) {
		bad(why, whylen, "request.object: missing or not an object");
		goto out;
	}
	ns = json_string(json_get(req, "namespace"));
	if (!ns || !*ns)
		ns = json_string(json_get(json_get(obj, "metadata"), "namespace"));
	if (ns && *ns && rc->ns_annotations)
		ns_ann = rc->ns_annotations(rc->arg, ns);
	if (ns_ann)
		theirs = json_string(json_get(ns_ann, ANN_INJECT));
	mine = annotation(obj, ANN_INJECT);
	spec = json_get(obj, "spec");
	/* the pod's own word wins; else the namespace's */
	if (mine && !strcmp(mine, "disabled")) {
		res = INJECTOR_DISABLED;
		snprintf(why, whylen, "not injected: the pod has %s: disabled",
			 ANN_INJECT);
	} else if (!(mine && !strcmp(mine, "enabled")) &&
		   !(theirs && !strcmp(theirs, "enabled"))) {
		res = INJECTOR_SKIPPED;
		snprintf(why, whylen, "neither the pod nor namespace %s has %s: "
				      "enabled", ns ? ns : "", ANN_INJECT);
		*out = answer(api_version, uid, NULL, NULL);
		goto out;
	} else if (json_bool(json_get(spec, "hostNetwork"), &host_network) &&
		   host_network) {
		/* inject says the same; said here before any conversion */
		res = INJECTOR_REFUSED;
		snprintf(why, whylen, "not injected: hostNetwork is enabled: the "
				      "proxy cannot intercept a pod that shares "
				      "the node's network");
	} else {
		struct yml_node *s = yml_from_json(spec, e, sizeof(e));

		if (s && inject_has_proxy(s)) {
			res = INJECTOR_ALREADY;
			snprintf(why, whylen, "not injected: the pod already has "
					      "conduit-proxy");
		} else {
			char w[400];

			res = mutate(obj, rc->inject, ns_ann, &patch, w, sizeof(w));
			if (res == INJECTOR_INJECTED)
				snprintf(why, whylen, "injected");
			else if (res == INJECTOR_BAD_REQUEST)
				snprintf(why, whylen, "%s", w);
			else
				snprintf(why, whylen, "not injected: %s", w);
		}
		yml_free(s);
	}
	if (res == INJECTOR_BAD_REQUEST)
		goto out;
	*out = answer(api_version, uid, patch,
		      res == INJECTOR_INJECTED || res == INJECTOR_SKIPPED
			  ? NULL : why);
out:
	free(patch);
	json_free(review);
	return res;
}

/* --- the server ------------------------------------------------------------ */

struct injector {
	struct injector_config cfg;
	struct ev_loop *loop;
	struct tls_server *tls;
	struct httpd *httpd;
	ev_timer reload;
	char cert_file[4096], key_file[4096];
	struct kube_config kcfg;
	struct kube_client *kube;
	struct kube_informer *namespaces;
	struct metrics_series *m_reviews[INJECTOR_NRESULTS];
	struct metrics_series *m_not_after, *m_reloads, *m_anchor_reloads;
	/* cfg.trust_anchors_file's text, and which file it was read from
	 * (a change of inode, size or mtime reads it again) */
	struct buf anchors;
	struct stat anchors_st;
};

/*
 * One review, while its namespace is looked up: a namespace the informer
 * has not seen yet (created a moment ago) is asked for once, directly,
 * before the pod is let through uninjected.
 */
struct review {
	struct injector *inj;
	struct httpd_req *req;
	struct kube_request *kr;
	struct json *ns_obj;   /* the namespace fetched, or NULL */
	char missed[256];      /* the namespace the store did not have */
};

static const struct json *ns_annotations(void *arg, const char *ns)
{
	struct review *rv = arg;
	const struct json *o;

	if (rv->ns_obj)
		return json_get(json_get(rv->ns_obj, "metadata"), "annotations");
	if (!rv->inj->namespaces)
		return NULL;
	o = kube_store_get(kube_informer_store(rv->inj->namespaces), NULL, ns);
	if (!o && strlen(ns) < sizeof(rv->missed))
		strcpy(rv->missed, ns);
	return json_get(json_get(o, "metadata"), "annotations");
}

static void on_ns_fetched(void *arg, const struct kube_response *resp);

/* review - answer rv->req now, or start the namespace lookup; true when
 * answered (rv is the caller's to free then) */
static bool review(struct review *rv)
{
	struct injector *inj = rv->inj;
	struct injector_review_config rc = {
		.inject = &inj->cfg.inject,
		.ns_annotations = ns_annotations,
		.arg = rv,
	};
	char why[600], q[700], a[SOCK_ADDR_STRLEN];
	struct httpd_req *req = rv->req;
	enum injector_result res;
	const char *body;
	size_t len;
	char *out;

	body = httpd_req_body(req, &len);
	rv->missed[0] = '\0';
	res = injector_review(&rc, body, len, &out, why, sizeof(why));
	if (res == INJECTOR_SKIPPED && rv->missed[0] && !rv->ns_obj && !rv->kr) {
		struct kube_request_opts o = { .total_timeout_ms = 3000 };
		struct buf path;

		buf_init(&path, 0);
		buf_append_str(&path, "/api/v1/namespaces/");
		kube_path_escape(&path, rv->missed);
		o.path = buf_cstr(&path);
		rv->kr = o.path ? kube_request_start(inj->kube, &o, on_ns_fetched, rv)
				: NULL;
		buf_release(&path);
		if (rv->kr) {
			free(out);
			return false;
		}
	}
	metrics_counter_inc(inj->m_reviews[res]);
	if (res == INJECTOR_BAD_REQUEST) {
		log_warn("injector: bad review", "peer=%s error=%s",
			 sock_addr_format(httpd_req_peer(req), a, sizeof(a)),
			 log_quote(q, sizeof(q), why));
		snprintf(q, sizeof(q), "bad AdmissionReview: %s\n", why);
		httpd_respond_text(req, 400, q);
		return true;
	}
	if (res == INJECTOR_SKIPPED)
		log_debug("injector: review", "result=%s why=%s",
			  injector_result_name(res), log_quote(q, sizeof(q), why));
	else
		log_info("injector: review", "result=%s why=%s",
			 injector_result_name(res), log_quote(q, sizeof(q), why));
	httpd_respond_json(req, 200, out);
	free(out);
	return true;
}

static void review_free(struct review *rv)
{
	json_free(rv->ns_obj);
	free(rv);
}

static void on_ns_fetched(void *arg, const struct kube_response *resp)
{
	struct review *rv = arg;
	char e[300], q[400];

	rv->kr = NULL;
	if (resp->status == 200) {
		rv->ns_obj = json_parse(resp->body, resp->body_len, e, sizeof(e));
	} else {
		log_warn("injector: cannot read the namespace (the pod goes "
			 "uninjected)", "namespace=%s status=%d error=%s",
			 rv->missed, resp->status,
			 log_quote(q, sizeof(q), resp->status
				   ? kube_status_message(resp->body, resp->body_len, e, sizeof(e))
				   : resp->message));
	}
	if (!rv->ns_obj)
		rv->ns_obj = json_new_object(); /* known now: not there */
	review(rv);
	review_free(rv);
}

static void on_review_cancel(struct httpd_req *req, void *arg)
{
	struct review *rv = arg;

	(void)req;
	kube_request_cancel(rv->kr);
	review_free(rv);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * anchors_refresh - read the trust anchors again if their file changed
 * since: at every review and every RELOAD_INTERVAL. A file that cannot be
 * read or is not a CA is logged once (per change) and the anchors before
 * it stay.
 */
static void anchors_refresh(struct injector *inj)
{
	const char *path = inj->cfg.trust_anchors_file;
	struct stat st;
	struct buf b;
	char err[600], q[700];

	if (!path)
		return;
	if (stat(path, &st)) {
		memset(&st, 0, sizeof(st)); /* gone: logged once, until back */
		st.st_size = -1;
	}
	if (same_file(&st, &inj->anchors_st))
		return;
	inj->anchors_st = st;
	buf_init(&b, 1u << 20);
	if (inject_read_trust_anchors(path, &b, err, sizeof(err))) {
		log_warn("injector: cannot reload the trust anchors (the ones "
			 "before stay)", "error=%s", log_quote(q, sizeof(q), err));
		buf_release(&b);
		return;
	}
	if (buf_len(&b) == buf_len(&inj->anchors) &&
	    !memcmp(buf_head(&b), buf_head(&inj->anchors), buf_len(&b))) {
		buf_release(&b);
		return; /* touched, not changed */
	}
	buf_release(&inj->anchors);
	inj->anchors = b;
	inj->cfg.inject.trust_anchors_pem = buf_cstr(&inj->anchors);
	metrics_counter_inc(inj->m_anchor_reloads);
	log_info("injector: trust anchors reloaded: pods injected from now on "
		 "get them", "file=%s bytes=%zu", path, buf_len(&inj->anchors));
}

static void on_inject(struct httpd_req *req, void *arg)
{
	struct review *rv = xcalloc(1, sizeof(*rv));

	rv->inj = arg;
	rv->req = req;
	anchors_refresh(rv->inj); /* a rotation shows at the next pod */
	if (review(rv)) {
		review_free(rv);
		return;
	}
	httpd_req_on_cancel(req, on_review_cancel, rv);
}

static void on_reload(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct injector *inj = container_of(w, struct injector, reload);
	char err[600], q[700];
	int r;

	(void)loop;
	(void)revents;
	r = tls_server_reload(inj->tls, err, sizeof(err));
	if (r > 0) {
		metrics_counter_inc(inj->m_reloads);
		log_info("injector: certificate reloaded", "file=%s",
			 inj->cert_file);
	} else if (r < 0) {
		log_warn("injector: cannot reload the certificate (the old one "
			 "stays)", "error=%s", log_quote(q, sizeof(q), err));
	}
	metrics_gauge_set(inj->m_not_after,
			  (double)tls_server_not_after(inj->tls));
	anchors_refresh(inj);
}

static void on_ns_error(void *arg, const char *msg)
{
	char q[600];

	(void)arg;
	log_warn("injector: namespaces", "error=%s", log_quote(q, sizeof(q), msg));
}

static void on_ns_synced(void *arg)
{
	struct injector *inj = arg;

	log_info("injector: namespaces listed", "count=%zu",
		 kube_store_count(kube_informer_store(inj->namespaces)));
}

static void register_metrics(struct injector *inj)
{
	static const char *const result_label[] = { "result" };
	struct metrics_family *f;

	f = metrics_family_new(inj->cfg.metrics, METRICS_COUNTER,
			       "injector_reviews_total",
			       "AdmissionReviews answered, by what came of them",
			       result_label, 1, NULL, 0);
	for (size_t i = 0; i < INJECTOR_NRESULTS; i++)
		inj->m_reviews[i] = metrics_series_get(f, &result_names[i]);
	f = metrics_family_new(inj->cfg.metrics, METRICS_GAUGE,
			       "injector_cert_expiration_timestamp_seconds",
			       "When the webhook's serving certificate expires",
			       NULL, 0, NULL, 0);
	inj->m_not_after = metrics_series_get(f, NULL);
	f = metrics_family_new(inj->cfg.metrics, METRICS_COUNTER,
			       "injector_cert_reloads_total",
			       "Serving certificates re-read after their files changed",
			       NULL, 0, NULL, 0);
	inj->m_reloads = metrics_series_get(f, NULL);
	f = metrics_family_new(inj->cfg.metrics, METRICS_COUNTER,
			       "injector_trust_anchors_reloads_total",
			       "Trust anchors re-read after their file changed",
			       NULL, 0, NULL, 0);
	inj->m_anchor_reloads = metrics_series_get(f, NULL);
}

struct injector *injector_new(const struct injector_config *cfg, char *err,
			      size_t errlen)
{
	struct injector *inj = xcalloc(1, sizeof(*inj));
	struct httpd_config hc = {
		.loop = cfg->loop,
		.max_body = INJECTOR_MAX_BODY,
		.max_conns = 256,
		.request_timeout = 10,
		.name = "injector",
	};
	char e[512];
	int r;

	BUG_ON(!cfg->loop || !cfg->metrics);
	inj->cfg = *cfg;
	inj->loop = cfg->loop;
	buf_init(&inj->anchors, 1u << 20);
	register_metrics(inj);
	if (cfg->trust_anchors_file) {
		if (stat(cfg->trust_anchors_file, &inj->anchors_st))
			memset(&inj->anchors_st, 0, sizeof(inj->anchors_st));
		if (inject_read_trust_anchors(cfg->trust_anchors_file,
					      &inj->anchors, err, errlen))
			goto out_free;
		inj->cfg.inject.trust_anchors_pem = buf_cstr(&inj->anchors);
	}
	r = inject_config_check(&cfg->inject, e, sizeof(e));
	if (r) {
		snprintf(err, errlen, "%s", e);
		goto out_free;
	}
	snprintf(inj->cert_file, sizeof(inj->cert_file), "%s/tls.crt",
		 cfg->tls_dir);
	snprintf(inj->key_file, sizeof(inj->key_file), "%s/tls.key",
		 cfg->tls_dir);
	inj->tls = tls_server_new(inj->cert_file, inj->key_file, err, errlen);
	if (!inj->tls)
		goto out_free;
	metrics_gauge_set(inj->m_not_after, (double)tls_server_not_after(inj->tls));
	if (cfg->use_kube) {
		static const struct kube_informer_ops ops = {
			.on_synced = on_ns_synced,
			.on_error = on_ns_error,
		};

		r = kube_config_auto(cfg->kubeconfig, cfg->context, &inj->kcfg, e,
				     sizeof(e));
		if (r) {
			snprintf(err, errlen, "Kubernetes API (for namespaces): %s", e);
			goto out_free;
		}
		inj->kube = kube_client_new(cfg->loop, &inj->kcfg, e, sizeof(e));
		if (!inj->kube) {
			snprintf(err, errlen, "Kubernetes API (for namespaces): %s", e);
			goto out_free;
		}
		inj->namespaces = kube_informer_new(inj->kube, &kube_res_namespaces,
						    NULL, NULL, &ops, inj);
	}
	hc.tls = inj->tls;
	inj->httpd = httpd_new(&hc);
	if (httpd_route(inj->httpd, "POST", "/inject", on_inject, inj)) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	r = httpd_listen(inj->httpd, &cfg->addr);
	if (r) {
		char a[SOCK_ADDR_STRLEN];

		snprintf(err, errlen, "listening on %s: %s",
			 sock_addr_format(&cfg->addr, a, sizeof(a)), strerror(-r));
		goto out_free;
	}
	ev_timer_init(&inj->reload, on_reload, RELOAD_INTERVAL, RELOAD_INTERVAL);
	ev_timer_start(inj->loop, &inj->reload);
	return inj;

out_free:
	injector_free(inj);
	return NULL;
}

void injector_free(struct injector *inj)
{
	if (!inj)
		return;
	ev_timer_stop(inj->loop, &inj->reload);
	httpd_free(inj->httpd);
	kube_informer_free(inj->namespaces);
	kube_client_free(inj->kube);
	kube_config_release(&inj->kcfg);
	tls_server_free(inj->tls);
	buf_release(&inj->anchors);
	free(inj);
}

bool injector_ready(const struct injector *inj)
{
	struct kube_informer_stats st;

	if (!inj->tls)
		return false;
	if (!inj->namespaces)
		return true;
	kube_informer_stats(inj->namespaces, &st);
	return st.synced;
}

int injector_local_addr(const struct injector *inj, struct sock_addr *out)
{
	return httpd_local_addr(inj->httpd, out);
}
