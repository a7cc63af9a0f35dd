/* SPDX-License-Identifier: Apache-2.0 */
/* identity.c - the controller's identity component: Certify over gRPC */
#include "conduit/identity.h"
#include "conduit/inject.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conduit/json.h"
#include "conduit/log.h"
#include "identity.pb-c.h"

#define CERTIFY_PATH "/io.linkerd.proxy.identity.Identity/Certify"
#define NSTATUS	     17 /* gRPC statuses 0..16 */

struct identity {
	struct identity_config cfg;
	char *suffix; /* "serviceaccount.identity.<ns>.<trust-domain>" */
	char *issuer_dir, *anchors_file, *tokens_dir; /* cfg's, copied */
	struct pki_cert *issuer;
	struct pki_key *issuer_key;
	struct pki_cert *anchors;
	int64_t issuer_not_after;
	struct grpc_server *server;
	struct grpc_method method; /* points back at us */
	struct pending *pending;   /* TokenReviews in flight */
	size_t npending;
	struct metrics_family *m_certify;
	struct metrics_series *m_result[NSTATUS];
	struct metrics_series *m_expiry, *m_pending;
};

/* a Certify waiting for its TokenReview */
struct pending {
	struct identity *id;
	struct grpc_call *call;
	struct kube_request *req;
	struct identity_request r;
	struct pending *prev, *next;
};

/* --- checks ------------------------------------------------------------------ */

/* a DNS-1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends */
static bool dns_label(const char *s, size_t n)
{
	if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return false;
	return true;
}

/* a DNS-1123 subdomain: labels joined by dots, 253 at most */
static bool dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (!n || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!dns_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

int identity_parse_name(const char *name, const char *suffix, char *sa,
			char *ns, char *why, size_t whylen)
{
	size_t n = strlen(name), sn = strlen(suffix), pn;
	const char *dot;

	if (n > 253) {
		snprintf(why, whylen, "identity is %zu bytes, over 253", n);
		return -EINVAL;
	}
	if (n <= sn + 1 || name[n - sn - 1] != '.' ||
	    memcmp(name + n - sn, suffix, sn)) {
		snprintf(why, whylen, "identity %.253s: want <serviceaccount>.<namespace>.%s",
			 name, suffix);
		return -EINVAL;
	}
	pn = n - sn - 1; /* <sa>.<ns> */
	dot = memrchr(name, '.', pn);
	if (!dot || !dns_subdomain(name, (size_t)(dot - name)) ||
	    !dns_label(dot + 1, pn - (size_t)(dot - name) - 1)) {
		snprintf(why, whylen, "identity %.253s: want <serviceaccount>.<namespace>.%s "
				      "(a ServiceAccount name and a namespace name, lowercase)",
			 name, suffix);
		return -EINVAL;
	}
	memcpy(sa, name, (size_t)(dot - name));
	sa[dot - name] = '\0';
	memcpy(ns, dot + 1, pn - (size_t)(dot - name) - 1);
	ns[pn - (size_t)(dot - name) - 1] = '\0';
	return 0;
}

void identity_request_release(struct identity_request *r)
{
	free(r->token);
	pki_csr_free(r->csr);
	memset(r, 0, sizeof(*r));
}

int identity_parse_request(const uint8_t *msg, size_t len, const char *suffix,
			   struct identity_request *out, char *why,
			   size_t whylen)
{
	Io__Linkerd__Proxy__Identity__CertifyRequest *req;
	struct pki_csr_info info;
	char e[256];
	int status = GRPC_INVALID_ARGUMENT;

	memset(out, 0, sizeof(*out));
	req = io__linkerd__proxy__identity__certify_request__unpack(NULL, len, msg);
	if (!req) {
		snprintf(why, whylen, "CertifyRequest: not a valid message");
		return GRPC_INVALID_ARGUMENT;
	}
	if (identity_parse_name(req->identity, suffix, out->sa, out->ns, why,
				whylen))
		goto fail;
	snprintf(out->name, sizeof(out->name), "%s", req->identity);

	if (!req->token.len || req->token.len > IDENTITY_MAX_TOKEN) {
		status = GRPC_FAILED_PRECONDITION;
		snprintf(why, whylen, "token: %zu bytes (want 1 to %u)",
			 req->token.len, IDENTITY_MAX_TOKEN);
		goto fail;
	}
	for (size_t i = 0; i < req->token.len; i++) {
		if (req->token.data[i] < 0x21 || req->token.data[i] > 0x7e) {
			status = GRPC_FAILED_PRECONDITION;
			snprintf(why, whylen, "token: byte %zu is not printable ASCII", i);
			goto fail;
		}
	}
	out->token = xstrndup((const char *)req->token.data, req->token.len);
	out->token_len = req->token.len;

	out->csr = pki_csr_parse(req->certificate_signing_request.data,
				 req->certificate_signing_request.len, e,
				 sizeof(e));
	if (!out->csr) {
		snprintf(why, whylen, "%s", e);
		goto fail;
	}
	pki_csr_get_info(out->csr, &info);
	if (info.n_dns_names != 1 || info.n_other_names) {
		snprintf(why, whylen, "certificate signing request: %zu DNS and %zu other "
				      "subjectAltNames; want exactly one, the DNS name %s",
			 info.n_dns_names, info.n_other_names, out->name);
		goto fail;
	}
	if (info.dns_name0_len != strlen(out->name) ||
	    strcmp(info.dns_name0, out->name)) {
		snprintf(why, whylen, "certificate signing request: its DNS name %.253s is not the identity %s",
			 info.dns_name0, out->name);
		goto fail;
	}
	io__linkerd__proxy__identity__certify_request__free_unpacked(req, NULL);
	return GRPC_OK;
fail:
	io__linkerd__proxy__identity__certify_request__free_unpacked(req, NULL);
	identity_request_release(out);
	return status;
}

int identity_review_verdict(const char *body, size_t len, const char *ns,
			    const char *sa, char *why, size_t whylen)
{
	struct json *root, *st, *user;
	const char *kind, *username, *error;
	char want[400];
	bool authed = false;
	int status;

	root = json_parse(body, len, why, whylen);
	if (!root)
		return GRPC_UNAVAILABLE;
	kind = json_string(json_get(root, "kind"));
	st = json_get(root, "status");
	if (!kind || strcmp(kind, "TokenReview") || !st) {
		snprintf(why, whylen, "the API server's answer is not a TokenReview status");
		status = GRPC_UNAVAILABLE;
		goto out;
	}
	json_bool(json_get(st, "authenticated"), &authed);
	if (!authed) {
		error = json_string(json_get(st, "error"));
		snprintf(why, whylen, "the token authenticates no one%s%.300s",
			 error ? ": " : "", error ? error : "");
		status = GRPC_FAILED_PRECONDITION;
		goto out;
	}
	user = json_get(st, "user");
	username = user ? json_string(json_get(user, "username")) : NULL;
	snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", ns, sa);
	if (!username || strcmp(username, want)) {
		snprintf(why, whylen, "the token is %.300s's, not %s's",
			 username ? username : "(no username)", want);
		status = GRPC_PERMISSION_DENIED;
		goto out;
	}
	status = GRPC_OK;
out:
	json_free(root);
	return status;
}

/* --- files ------------------------------------------------------------------- */

static bool exists(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, R_OK) == 0;
}

static void fmt_time(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int load_issuer(struct identity *id, char *err, size_t errlen)
{
	const char *crt_name = "tls.crt", *key_name = "tls.key";
	char crt_path[4096], key_path[4096], why[512], t[32];
	struct buf b;
	struct pki_cert_info info;
	int64_t now = time(NULL);
	int r = -EINVAL;

	if (!exists(id->issuer_dir, crt_name) && exists(id->issuer_dir, "crt.pem")) {
		crt_name = "crt.pem";
		key_name = "key.pem";
	}
	snprintf(crt_path, sizeof(crt_path), "%s/%s", id->issuer_dir, crt_name);
	snprintf(key_path, sizeof(key_path), "%s/%s", id->issuer_dir, key_name);
	buf_init(&b, 1 << 20);

	if (buf_read_file(&b, id->anchors_file, why, sizeof(why))) {
		snprintf(err, errlen, "trust anchors: %s", why);
		goto out;
	}
	id->anchors = pki_cert_parse(buf_head(&b), buf_len(&b), why, sizeof(why));
	if (!id->anchors) {
		snprintf(err, errlen, "trust anchors %s: %s", id->anchors_file, why);
		goto out;
	}
	buf_clear(&b);
	if (buf_read_file(&b, crt_path, why, sizeof(why))) {
		snprintf(err, errlen, "issuer certificate (tls.crt or crt.pem in --identity-issuer-dir): %s",
			 why);
		goto out;
	}
	id->issuer = pki_cert_parse(buf_head(&b), buf_len(&b), why, sizeof(why));
	if (!id->issuer) {
		snprintf(err, errlen, "issuer certificate %s: %s", crt_path, why);
		goto out;
	}
	buf_clear(&b);
	if (buf_read_file(&b, key_path, why, sizeof(why))) {
		snprintf(err, errlen, "issuer key: %s", why);
		goto out;
	}
	id->issuer_key = pki_key_parse(buf_head(&b), buf_len(&b), why, sizeof(why));
	if (!id->issuer_key) {
		snprintf(err, errlen, "issuer key %s: %s", key_path, why);
		goto out;
	}
	pki_cert_get_info(id->issuer, &info);
	if (!info.is_ca) {
		snprintf(err, errlen, "issuer certificate %s: not a CA (basicConstraints CA:TRUE)",
			 crt_path);
		goto out;
	}
	if (!pki_key_matches_cert(id->issuer_key, id->issuer)) {
		snprintf(err, errlen, "issuer key %s: not the key of %s", key_path,
			 crt_path);
		goto out;
	}
	if (info.not_after <= now) {
		fmt_time(info.not_after, t, sizeof(t));
		snprintf(err, errlen, "issuer certificate %s: expired at %s", crt_path, t);
		goto out;
	}
	if (info.not_before > now) {
		fmt_time(info.not_before, t, sizeof(t));
		snprintf(err, errlen, "issuer certificate %s: not valid before %s",
			 crt_path, t);
		goto out;
	}
	if (pki_cert_verify(id->issuer, id->anchors, why, sizeof(why))) {
		snprintf(err, errlen, "issuer certificate %s: %s (against the trust anchors %s)",
			 crt_path, why, id->anchors_file);
		goto out;
	}
	id->issuer_not_after = info.not_after;
	fmt_time(info.not_after, t, sizeof(t));
	log_info("identity: issuer loaded", "issuer=%s expires=%s anchors=%s",
		 log_quote(why, sizeof(why), info.subject), t, id->anchors_file);
	r = 0;
out:
	buf_release(&b);
	return r;
}

/* --- tokens, local mode ------------------------------------------------------ */

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned char d = an != bn;

	for (size_t i = 0; i < an && i < bn; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/*
 * local_verdict - which file of tokens_dir (named <ns>.<sa>, holding
 * that ServiceAccount's token) holds the request's token. Small local
 * files, read on the loop: local mode serves a laptop, not a fleet.
 */
static int local_verdict(struct identity *id, const struct identity_request *r,
			 char *why, size_t whylen)
{
	char want[400], path[4096], other[300] = "";
	struct dirent *de;
	DIR *d;
	int status = GRPC_FAILED_PRECONDITION;
	struct buf b;

	d = opendir(id->tokens_dir);
	if (!d) {
		snprintf(why, whylen, "tokens directory %s: %s", id->tokens_dir,
			 strerror(errno));
		return GRPC_UNAVAILABLE;
	}
	snprintf(want, sizeof(want), "%s.%s", r->ns, r->sa);
	buf_init(&b, IDENTITY_MAX_TOKEN + 64);
	while ((de = readdir(d))) {
		char e[256];
		size_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", id->tokens_dir, de->d_name);
		buf_clear(&b);
		if (buf_read_file(&b, path, e, sizeof(e)))
			continue; /* a directory, a file too large */
		n = buf_len(&b);
		while (n && (buf_head(&b)[n - 1] == '\n' || buf_head(&b)[n - 1] == '\r' ||
			     buf_head(&b)[n - 1] == ' ' || buf_head(&b)[n - 1] == '\t'))
			n--;
		if (!same((const char *)buf_head(&b), n, r->token, r->token_len))
			continue;
		if (!strcmp(de->d_name, want)) {
			status = GRPC_OK;
			break;
		}
		snprintf(other, sizeof(other), "%s", de->d_name);
		status = GRPC_PERMISSION_DENIED;
	}
	closedir(d);
	buf_release(&b);
	if (status == GRPC_FAILED_PRECONDITION)
		snprintf(why, whylen, "the token authenticates no one (no file of %s holds it)",
			 id->tokens_dir);
	else if (status == GRPC_PERMISSION_DENIED)
		snprintf(why, whylen, "the token is %.200s's (<namespace>.<serviceaccount>), not %.300s's",
			 other, want);
	return status;
}

/* --- Certify ------------------------------------------------------------------ */

static void count(struct identity *id, int status)
{
	if (!id->m_certify || status < 0 || status >= NSTATUS)
		return;
	if (!id->m_result[status]) {
		char v[32];
		const char *vals[] = { v };

		snprintf(v, sizeof(v), "%s", grpc_status_name(status));
		for (char *p = v; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		id->m_result[status] = metrics_series_get(id->m_certify, vals);
	}
	metrics_counter_inc(id->m_result[status]);
}

static void finish(struct identity *id, struct grpc_call *call,
		   const char *name, int status, const char *why)
{
	char q[300], w[600];

	count(id, status);
	if (status != GRPC_OK)
		log_info("identity: certify refused", "identity=%s status=%s why=%s",
			 log_quote(q, sizeof(q), name ? name : ""),
			 grpc_status_name(status), log_quote(w, sizeof(w), why));
	grpc_call_finish(call, status, status == GRPC_OK ? NULL : why);
}

/* issue and answer: the request passed every check */
static void grant(struct identity *id, struct grpc_call *call,
		  struct identity_request *r)
{
	Io__Linkerd__Proxy__Identity__CertifyResponse resp =
		IO__LINKERD__PROXY__IDENTITY__CERTIFY_RESPONSE__INIT;
	Google__Protobuf__Timestamp until = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ProtobufCBinaryData inter;
	const char *names[] = { r->name };
	int64_t now = time(NULL);
	struct pki_cert_spec spec = {
		.common_name = r->name,
		.dns_names = names,
		.n_dns_names = 1,
		.not_before = now - id->cfg.clock_skew,
		.not_after = now + id->cfg.lifetime,
		.server_auth = true,
		.client_auth = true,
	};
	char err[256], q[300], t[32], e[300];
	struct buf der;
	size_t ilen;

	if (now >= id->issuer_not_after) {
		finish(id, call, r->name, GRPC_UNAVAILABLE, "the issuer certificate has expired");
		return;
	}
	if (spec.not_after > id->issuer_not_after)
		spec.not_after = id->issuer_not_after;
	buf_init(&der, 64 << 10);
	if (pki_csr_issue(&spec, r->csr, id->issuer, id->issuer_key, &der, err,
			  sizeof(err))) {
		log_error("identity: cannot issue", "identity=%s error=%s",
			  log_quote(q, sizeof(q), r->name),
			  log_quote(e, sizeof(e), err));
		finish(id, call, r->name, GRPC_INTERNAL, err);
		buf_release(&der);
		return;
	}
	resp.leaf_certificate.data = buf_head(&der);
	resp.leaf_certificate.len = buf_len(&der);
	inter.data = (uint8_t *)pki_cert_der(id->issuer, &ilen);
	inter.len = ilen;
	resp.n_intermediate_certificates = 1;
	resp.intermediate_certificates = &inter;
	until.seconds = spec.not_after;
	resp.valid_until = &until;
	if (grpc_call_send_message(call, &resp.base)) {
		finish(id, call, r->name, GRPC_INTERNAL, "cannot send the response");
	} else {
		fmt_time(spec.not_after, t, sizeof(t));
		log_info("identity: certified", "identity=%s valid_until=%s",
			 log_quote(q, sizeof(q), r->name), t);
		finish(id, call, r->name, GRPC_OK, NULL);
	}
	buf_release(&der);
}

static void pending_free(struct pending *p)
{
	struct identity *id = p->id;

	if (p->prev)
		p->prev->next = p->next;
	else
		id->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	id->npending--;
	if (id->m_pending)
		metrics_gauge_set(id->m_pending, (double)id->npending);
	identity_request_release(&p->r);
	free(p);
}

static void on_review(void *arg, const struct kube_response *resp)
{
	struct pending *p = arg;
	struct identity *id = p->id;
	char why[600], m[300];
	int status;

	p->req = NULL;
	grpc_call_set_data(p->call, NULL);
	if (resp->error) {
		snprintf(why, sizeof(why), "TokenReview: the API server did not answer: %s",
			 resp->message && *resp->message ? resp->message : strerror(-resp->error));
		status = GRPC_UNAVAILABLE;
	} else if (resp->status != 200 && resp->status != 201) {
		kube_status_message(resp->body, resp->body_len, m, sizeof(m));
		log_warn("identity: TokenReview failed", "status=%d message=%s%s",
			 resp->status, log_quote(why, sizeof(why), m),
			 resp->status == 403 ? " hint=\"the identity's ClusterRole must allow create tokenreviews\"" : "");
		snprintf(why, sizeof(why), "TokenReview: the API server answered %d: %s",
			 resp->status, m);
		status = GRPC_UNAVAILABLE;
	} else {
		status = identity_review_verdict(resp->body, resp->body_len,
						 p->r.ns, p->r.sa, why, sizeof(why));
	}
	if (status == GRPC_OK)
		grant(id, p->call, &p->r);
	else
		finish(id, p->call, p->r.name, status, why);
	pending_free(p);
}

static int start_review(struct identity *id, struct pending *p)
{
	struct json *o = json_new_object(), *spec = json_new_object();
	struct kube_request_opts opts = {
		.method = "POST",
		.path = "/apis/authentication.k8s.io/v1/tokenreviews",
		.max_body = 1 << 20,
		.connect_timeout_ms = id->cfg.review_timeout_ms,
		.idle_timeout_ms = id->cfg.review_timeout_ms,
		.total_timeout_ms = id->cfg.review_timeout_ms,
	};
	char *body;

	json_set_string(o, "apiVersion", "authentication.k8s.io/v1");
	json_set_string(o, "kind", "TokenReview");
	json_set_string(spec, "token", p->r.token);
	{
		/* only a token made for us: one for another audience (the
		 * API server's own) proves nothing here, and could be
		 * replayed by whoever it was given to */
		struct json *aud = json_new_array();

		json_push(aud, json_new_string(INJECT_IDENTITY_AUDIENCE));
		json_set(spec, "audiences", aud);
	}
	json_set(o, "spec", spec);
	body = json_print(o, false);
	json_free(o);
	if (!body)
		return -ENOMEM;
	opts.body = body;
	opts.body_len = strlen(body);
	p->req = kube_request_start(id->cfg.kube, &opts, on_review, p);
	/* the body holds the token: do not leave it in freed memory */
	explicit_bzero(body, opts.body_len);
	free(body);
	return p->req ? 0 : -ENOMEM;
}

static void on_certify(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct identity *id = grpc_call_method_data(call);
	struct identity_request r;
	struct pending *p;
	char why[600];
	int status;

	status = identity_parse_request(msg, len, id->suffix, &r, why, sizeof(why));
	if (status != GRPC_OK) {
		finish(id, call, r.name[0] ? r.name : NULL, status, why);
		return;
	}
	if (id->tokens_dir) {
		status = local_verdict(id, &r, why, sizeof(why));
		if (status == GRPC_OK)
			grant(id, call, &r);
		else
			finish(id, call, r.name, status, why);
		identity_request_release(&r);
		return;
	}
	if (id->npending >= id->cfg.max_pending) {
		finish(id, call, r.name, GRPC_RESOURCE_EXHAUSTED,
		       "too many token reviews in flight");
		identity_request_release(&r);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->id = id;
	p->call = call;
	p->r = r;
	p->next = id->pending;
	if (id->pending)
		id->pending->prev = p;
	id->pending = p;
	id->npending++;
	if (id->m_pending)
		metrics_gauge_set(id->m_pending, (double)id->npending);
	if (start_review(id, p)) {
		finish(id, call, r.name, GRPC_INTERNAL, "cannot start the TokenReview");
		pending_free(p);
		return;
	}
	grpc_call_set_data(call, p);
}

static void on_certify_cancel(struct grpc_call *call)
{
	struct pending *p = grpc_call_data(call);

	if (!p)
		return;
	count(p->id, GRPC_CANCELLED);
	kube_request_cancel(p->req);
	pending_free(p);
}

/* --- lifecycle ------------------------------------------------------------------ */

static void collect(struct metrics_registry *r, void *arg)
{
	struct identity *id = arg;

	(void)r;
	metrics_gauge_set(id->m_expiry, (double)id->issuer_not_after);
}

struct identity *identity_new(const struct identity_config *cfg, char *err,
			      size_t errlen)
{
	struct identity *id;
	struct grpc_server_config sc = {
		.loop = cfg->loop,
		.nmethods = 1,
		/* a token and a CSR, each at most 16 KiB */
		.max_recv_message = 64 << 10,
		.max_send_message = 64 << 10,
		.max_conns = 10000,
		.name = "identity",
	};
	char suffix[512];

	if (!cfg->issuer_dir) {
		snprintf(err, errlen, "no issuer: give --identity-issuer-dir DIR (tls.crt, tls.key)");
		return NULL;
	}
	if (!!cfg->tokens_dir == !!cfg->kube) {
		snprintf(err, errlen, cfg->kube ? "tokens: both a tokens directory and the Kubernetes API"
						: "tokens: nothing to check them with: give --identity-tokens-dir DIR in local mode");
		return NULL;
	}
	id = xcalloc(1, sizeof(*id));
	id->cfg = *cfg;
	if (!id->cfg.controller_ns)
		id->cfg.controller_ns = "conduit";
	if (!id->cfg.trust_domain)
		id->cfg.trust_domain = "cluster.local";
	if (id->cfg.lifetime <= 0)
		id->cfg.lifetime = 86400;
	if (id->cfg.clock_skew < 0)
		id->cfg.clock_skew = 0;
	if (!id->cfg.review_timeout_ms)
		id->cfg.review_timeout_ms = 10000;
	if (!id->cfg.max_pending)
		id->cfg.max_pending = 1000;
	snprintf(suffix, sizeof(suffix), "serviceaccount.identity.%s.%s",
		 id->cfg.controller_ns, id->cfg.trust_domain);
	id->suffix = xstrdup(suffix);
	id->issuer_dir = xstrdup(cfg->issuer_dir);
	if (cfg->trust_anchors_file) {
		id->anchors_file = xstrdup(cfg->trust_anchors_file);
	} else {
		char path[4096];

		snprintf(path, sizeof(path), "%s/ca.crt", cfg->issuer_dir);
		id->anchors_file = xstrdup(path);
	}
	id->tokens_dir = cfg->tokens_dir ? xstrdup(cfg->tokens_dir) : NULL;
	if (load_issuer(id, err, errlen))
		goto fail;
	if (id->tokens_dir) {
		DIR *d = opendir(id->tokens_dir);

		if (!d) {
			snprintf(err, errlen, "tokens directory %s: %s", id->tokens_dir,
				 strerror(errno));
			goto fail;
		}
		closedir(d);
	}
	id->method.path = CERTIFY_PATH;
	id->method.on_call = on_certify;
	id->method.on_cancel = on_certify_cancel;
	id->method.data = id;
	sc.methods = &id->method;
	id->server = grpc_server_new(&sc);
	if (!id->server) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->metrics) {
		static const char *const result[] = { "result" };

		id->m_certify = metrics_family_new(cfg->metrics, METRICS_COUNTER,
						   "identity_certify_requests_total",
						   "Certify calls by result (the gRPC status)",
						   result, 1, NULL, 0);
		metrics_family_set_max_series(id->m_certify, NSTATUS);
		id->m_expiry = metrics_series_get(
			metrics_family_new(cfg->metrics, METRICS_GAUGE,
					   "identity_cert_expiration_timestamp_seconds",
					   "When the issuer certificate expires (Unix seconds)",
					   NULL, 0, NULL, 0),
			NULL);
		id->m_pending = metrics_series_get(
			metrics_family_new(cfg->metrics, METRICS_GAUGE,
					   "identity_token_reviews_pending",
					   "TokenReviews in flight", NULL, 0, NULL, 0),
			NULL);
		metrics_registry_add_collector(cfg->metrics, collect, id);
	}
	return id;
fail:
	identity_free(id);
	return NULL;
}

int identity_listen(struct identity *id, const struct sock_addr *a)
{
	return grpc_server_listen(id->server, a);
}

int identity_local_addr(const struct identity *id, struct sock_addr *out)
{
	return grpc_server_local_addr(id->server, out);
}

bool identity_ready(const struct identity *id)
{
	return id->issuer && time(NULL) < id->issuer_not_after;
}

int64_t identity_issuer_expiry(const struct identity *id)
{
	return id->issuer_not_after;
}

void identity_free(struct identity *id)
{
	if (!id)
		return;
	/* the server cancels every call: on_certify_cancel frees pending */
	grpc_server_free(id->server);
	while (id->pending) {
		kube_request_cancel(id->pending->req);
		pending_free(id->pending);
	}
	pki_cert_free(id->issuer);
	pki_cert_free(id->anchors);
	pki_key_free(id->issuer_key);
	free(id->suffix);
	free(id->issuer_dir);
	free(id->anchors_file);
	free(id->tokens_dir);
	free(id);
}
