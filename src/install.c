/* SPDX-License-Identifier: Apache-2.0 */
/* install.c - the control plane's Kubernetes objects, rendered */
#include "conduit/install.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conduit/base64.h"
#include "conduit/embed.h"
#include "conduit/inject.h"
#include "conduit/log.h"
#include "conduit/manifest.h"
#include "conduit/pki.h"
#include "conduit/tmpl.h"
#include "conduit/version.h"

#define DAY (24 * 3600)

void install_config_defaults(struct install_config *c, const char *version)
{
	memset(c, 0, sizeof(*c));
	c->namespace_ = "conduit";
	c->image_repo = version_image_repo();
	c->version = version;
	c->image_pull_policy = "IfNotPresent";
	c->log_level = "info";
	c->controller_replicas = 1;
	c->prometheus = true;
	c->prometheus_image = "prom/prometheus:v2.53.2";
	c->cluster_domain = "cluster.local";
	c->issuer_lifetime_days = 365;
	c->anchor_lifetime_days = 365;
	c->native_sidecar = true;
}

/* --- validation ------------------------------------------------------------ */

/* an image repository: host[:port]/path, lower case, no scheme, no tag */
static bool repo_ok(const char *s)
{
	const char *slash = strrchr(s, '/');

	if (!*s || strlen(s) > 255 || strstr(s, "://") || s[strlen(s) - 1] == '/')
		return false;
	/* a ':' after the last '/' is a tag: the version supplies that */
	if (strchr(slash ? slash : s, ':'))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    !strchr(".-_:/", *s))
			return false;
	return true;
}

/* an image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static int check(const struct install_config *c, char *err, size_t errlen)
{
	enum log_level level;

	if (!manifest_dns_label(c->namespace_)) {
		snprintf(err, errlen, "--conduit-namespace: \"%s\" is not a valid "
				      "namespace name (lower case letters, digits and '-', "
				      "at most 63)", c->namespace_);
		return -EINVAL;
	}
	if (!repo_ok(c->image_repo)) {
		snprintf(err, errlen, "--image-repo: \"%s\" is not an image repository "
				      "(host[:port]/path, lower case, no scheme or tag)",
			 c->image_repo);
		return -EINVAL;
	}
	if (!tag_ok(c->version)) {
		snprintf(err, errlen, "--version: \"%s\" is not a valid image tag",
			 c->version);
		return -EINVAL;
	}
	if (c->controller_replicas < 1 || c->controller_replicas > 100) {
		snprintf(err, errlen, "--controller-replicas: %lld out of range 1-100",
			 c->controller_replicas);
		return -EINVAL;
	}
	if (log_level_parse(c->log_level, &level)) {
		snprintf(err, errlen, "--log-level: \"%s\" is not one of error, warn, "
				      "info, debug, trace", c->log_level);
		return -EINVAL;
	}
	if (!!c->issuer_cert_file != !!c->issuer_key_file ||
	    (c->issuer_cert_file && !c->trust_anchors_file)) {
		snprintf(err, errlen, "--identity-issuer-certificate-file, "
				      "--identity-issuer-key-file and "
				      "--identity-trust-anchors-file go together");
		return -EINVAL;
	}
	if (c->trust_anchors_file && !c->issuer_cert_file) {
		snprintf(err, errlen, "--identity-trust-anchors-file needs the issuer "
				      "that chains to it (--identity-issuer-certificate-file "
				      "and --identity-issuer-key-file)");
		return -EINVAL;
	}
	if (c->issuer_lifetime_days < 1 || c->anchor_lifetime_days < 1 ||
	    c->issuer_lifetime_days > 36500 || c->anchor_lifetime_days > 36500) {
		snprintf(err, errlen, "identity lifetimes must be 1-36500 days");
		return -EINVAL;
	}
	return 0;
}

/* --- certificates ------------------------------------------------------------ */

/* The PEM texts that go into the manifests. */
struct pems {
	struct buf anchors, issuer_crt, issuer_key;
	struct buf injector_ca, injector_crt, injector_key;
};

static int issue_pair(const struct pki_cert_spec *spec, struct pki_key *issuer_key,
		      const struct pki_cert *issuer, struct buf *crt,
		      struct buf *key_pem, struct pki_key **key_out,
		      struct pki_cert **cert_out, char *err, size_t errlen)
{
	struct pki_key *k = pki_key_generate(err, errlen);
	int r;

	if (!k)
		return -EIO;
	r = pki_cert_issue(spec, k, issuer, issuer ? issuer_key : k, crt, NULL,
			   err, errlen);
	if (!r)
		r = pki_key_write_pem(k, key_pem);
	if (!r && cert_out) {
		*cert_out = pki_cert_parse(buf_head(crt), buf_len(crt), err, errlen);
		if (!*cert_out)
			r = -EIO;
	}
	if (!r && key_out)
		*key_out = k;
	else
		pki_key_free(k);
	return r;
}

/* load and check the identity files: the issuer chains to the anchors,
 * is a CA, is valid now, and its key is its own */
static int load_identity(const struct install_config *c, struct pems *p,
			 char *err, size_t errlen)
{
	struct pki_cert *anchors = NULL, *issuer = NULL;
	struct pki_key *key = NULL;
	struct pki_cert_info info;
	char why[512];
	int r;

	if ((r = buf_read_file(&p->anchors, c->trust_anchors_file, err, errlen)) ||
	    (r = buf_read_file(&p->issuer_crt, c->issuer_cert_file, err, errlen)) ||
	    (r = buf_read_file(&p->issuer_key, c->issuer_key_file, err, errlen)))
		return r;
	r = -EINVAL;
	anchors = pki_cert_parse(buf_head(&p->anchors), buf_len(&p->anchors), why,
				 sizeof(why));
	if (!anchors) {
		snprintf(err, errlen, "%s: %s", c->trust_anchors_file, why);
		goto out;
	}
	issuer = pki_cert_parse(buf_head(&p->issuer_crt), buf_len(&p->issuer_crt),
				why, sizeof(why));
	if (!issuer) {
		snprintf(err, errlen, "%s: %s", c->issuer_cert_file, why);
		goto out;
	}
	key = pki_key_parse(buf_head(&p->issuer_key), buf_len(&p->issuer_key), why,
			    sizeof(why));
	if (!key) {
		snprintf(err, errlen, "%s: %s", c->issuer_key_file, why);
		goto out;
	}
	pki_cert_get_info(issuer, &info);
	if (!info.is_ca) {
		snprintf(err, errlen, "%s: the issuer certificate is not a CA "
				      "(basicConstraints CA:TRUE)", c->issuer_cert_file);
		goto out;
	}
	if (!pki_key_matches_cert(key, issuer)) {
		snprintf(err, errlen, "%s: the key does not belong to %s",
			 c->issuer_key_file, c->issuer_cert_file);
		goto out;
	}
	if (pki_cert_verify(issuer, anchors, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s (against %s)", c->issuer_cert_file, why,
			 c->trust_anchors_file);
		goto out;
	}
	r = 0;
out:
	pki_cert_free(anchors);
	pki_cert_free(issuer);
	pki_key_free(key);
	return r;
}

int install_identity_new(const char *ns, const char *cluster_domain,
			 int64_t anchor_days, int64_t issuer_days,
			 struct buf *anchors, struct buf *issuer_crt,
			 struct buf *issuer_key, char *err, size_t errlen)
{
	int64_t now = time(NULL);
	char anchor_cn[300], issuer_cn[300];
	struct pki_cert_spec anchor = {
		.common_name = anchor_cn,
		.not_before = now - 300,
		.not_after = now + anchor_days * DAY,
		.is_ca = true,
		.max_path_len = -1,
	};
	struct pki_cert_spec issuer = {
		.common_name = issuer_cn,
		.not_before = now - 300,
		.not_after = now + issuer_days * DAY,
		.is_ca = true,
		.max_path_len = 0,
	};
	struct pki_key *ak = NULL;
	struct pki_cert *ac = NULL;
	struct buf anchor_key;
	int r;

	snprintf(anchor_cn, sizeof(anchor_cn), "root.%s.%s", ns, cluster_domain);
	snprintf(issuer_cn, sizeof(issuer_cn), "identity.%s.%s", ns,
		 cluster_domain);
	/* the issuer may not outlive the anchor it chains to */
	if (issuer.not_after > anchor.not_after)
		issuer.not_after = anchor.not_after;
	buf_init(&anchor_key, 0);
	r = issue_pair(&anchor, NULL, NULL, anchors, &anchor_key, &ak, &ac, err,
		       errlen);
	if (!r)
		r = issue_pair(&issuer, ak, ac, issuer_crt, issuer_key, NULL, NULL,
			       err, errlen);
	/* the anchor's key is not kept anywhere: nothing else can be signed
	 * by it, and a later rotation brings a new anchor */
	buf_release(&anchor_key);
	pki_key_free(ak);
	pki_cert_free(ac);
	return r;
}

static int make_injector_tls(const struct install_config *c, struct pems *p,
			     char *err, size_t errlen)
{
	int64_t now = time(NULL);
	char cn[300], n1[300], n2[300], n3[300];
	const char *names[] = { n1, n2, n3 };
	struct pki_cert_spec ca = {
		.common_name = cn,
		.not_before = now - 300,
		.not_after = now + 10 * 365 * DAY,
		.is_ca = true,
		.max_path_len = 0,
	};
	struct pki_cert_spec leaf = {
		.common_name = n2,
		.dns_names = names,
		.n_dns_names = 3,
		.not_before = now - 300,
		.not_after = now + 10 * 365 * DAY,
		.server_auth = true,
	};
	struct pki_key *cak = NULL;
	struct pki_cert *cac = NULL;
	struct buf ca_key;
	int r;

	snprintf(cn, sizeof(cn), "conduit-proxy-injector-ca.%s", c->namespace_);
	snprintf(n1, sizeof(n1), "conduit-proxy-injector.%s", c->namespace_);
	snprintf(n2, sizeof(n2), "conduit-proxy-injector.%s.svc", c->namespace_);
	snprintf(n3, sizeof(n3), "conduit-proxy-injector.%s.svc.%s", c->namespace_,
		 c->cluster_domain);
	buf_init(&ca_key, 0);
	r = issue_pair(&ca, NULL, NULL, &p->injector_ca, &ca_key, &cak, &cac, err,
		       errlen);
	if (!r)
		r = issue_pair(&leaf, cak, cac, &p->injector_crt, &p->injector_key,
			       NULL, NULL, err, errlen);
	buf_release(&ca_key);
	pki_key_free(cak);
	pki_cert_free(cac);
	return r;
}

/* --- rendering ------------------------------------------------------------- */

/* base64 of b as a NUL-terminated heap string */
static char *b64(const struct buf *b)
{
	struct buf o;
	char *s;

	buf_init(&o, 0);
	if (base64_encode(buf_head(b), buf_len(b), &o) || !buf_cstr(&o)) {
		buf_release(&o);
		return NULL;
	}
	s = xstrdup((char *)buf_head(&o));
	buf_release(&o);
	return s;
}

/* kinds in the order `kubectl apply` should create them (as Helm does) */
static const char *const kind_order[] = {
	"Namespace",	  "ServiceAccount", "Secret",
	"ConfigMap",	  "ClusterRole",    "ClusterRoleBinding",
	"Role",		  "RoleBinding",    "Service",
	"Deployment",	  "MutatingWebhookConfiguration",
};

static size_t kind_rank(const struct yml_node *doc)
{
	const char *k = yml_str(yml_get(doc, "kind"));

	for (size_t i = 0; k && i < ARRAY_SIZE(kind_order); i++)
		if (strcmp(k, kind_order[i]) == 0)
			return i;
	return ARRAY_SIZE(kind_order);
}

/* stable insertion sort by kind: a few dozen objects */
static void sort_by_kind(struct yml_node **v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct yml_node *x = v[i];
		size_t j = i;

		for (; j > 0 && kind_rank(v[j - 1]) > kind_rank(x); j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* --ha: spread each Deployment's replicas over nodes */
static int add_anti_affinity(struct yml_node *spec, const char *component)
{
	char text[1024];
	struct yml_stream s;
	char err[256];
	int r;

	snprintf(text, sizeof(text),
		 "podAntiAffinity:\n"
		 "  preferredDuringSchedulingIgnoredDuringExecution:\n"
		 "  - weight: 100\n"
		 "    podAffinityTerm:\n"
		 "      topologyKey: kubernetes.io/hostname\n"
		 "      labelSelector:\n"
		 "        matchLabels:\n"
		 "          conduit.io/control-plane-component: %s\n",
		 component);
	yml_stream_init(&s);
	r = yml_parse(&s, text, strlen(text), "anti-affinity", NULL, err, sizeof(err));
	BUG_ON(r || s.count != 1);
	r = yml_set(spec, "affinity", s.docs[0]);
	s.count = 0;
	yml_stream_release(&s);
	return r;
}

static int render_file(const char *path, const struct tmpl_var *vars, size_t n,
		       struct yml_stream *out, char *err, size_t errlen)
{
	const struct embed_file *f = embed_find(path);
	struct buf text;
	char why[512];
	int r;

	BUG_ON(!f);
	buf_init(&text, 0);
	r = tmpl_render((const char *)f->data, f->len, vars, n, &text, why, sizeof(why));
	if (!r)
		r = yml_parse(out, (const char *)buf_head(&text), buf_len(&text), path,
			      NULL, why, sizeof(why));
	if (r)
		snprintf(err, errlen, "rendering %s: %s", path, why);
	buf_release(&text);
	return r;
}

int install_render(const struct install_config *c, struct yml_stream *out,
		   char *err, size_t errlen)
{
	struct pems p;
	struct buf *all[] = { &p.anchors,     &p.issuer_crt,   &p.issuer_key,
			      &p.injector_ca, &p.injector_crt, &p.injector_key };
	char image[512], replicas[32];
	char *anchors_b64 = NULL, *crt_b64 = NULL, *key_b64 = NULL;
	char *inj_ca_b64 = NULL, *inj_crt_b64 = NULL, *inj_key_b64 = NULL;
	struct yml_stream docs;
	struct inject_config ic;
	struct inject_report rep;
	int r;

	r = check(c, err, errlen);
	if (r)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		buf_init(all[i], 1 << 20);
	yml_stream_init(&docs);
	inject_report_init(&rep);

	if (c->issuer_cert_file)
		r = load_identity(c, &p, err, errlen);
	else
		r = install_identity_new(c->namespace_, c->cluster_domain,
					 c->anchor_lifetime_days,
					 c->issuer_lifetime_days, &p.anchors,
					 &p.issuer_crt, &p.issuer_key, err,
					 errlen);
	if (!r)
		r = make_injector_tls(c, &p, err, errlen);
	if (r)
		goto out;
	anchors_b64 = b64(&p.anchors);
	crt_b64 = b64(&p.issuer_crt);
	key_b64 = b64(&p.issuer_key);
	inj_ca_b64 = b64(&p.injector_ca);
	inj_crt_b64 = b64(&p.injector_crt);
	inj_key_b64 = b64(&p.injector_key);
	if (!anchors_b64 || !crt_b64 || !key_b64 || !inj_ca_b64 || !inj_crt_b64 ||
	    !inj_key_b64 || !buf_cstr(&p.anchors)) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	snprintf(image, sizeof(image), "%s:%s", c->image_repo, c->version);
	snprintf(replicas, sizeof(replicas), "%lld",
		 c->ha && c->controller_replicas < 3 ? 3 : c->controller_replicas);
	{
		const struct tmpl_var vars[] = {
			{ "namespace", c->namespace_ },
			{ "image", image },
			{ "image_pull_policy", c->image_pull_policy },
			{ "log_level", c->log_level },
			{ "controller_replicas", replicas },
			{ "prometheus_image", c->prometheus_image },
			{ "trust_anchors_b64", anchors_b64 },
			{ "trust_anchors_pem", (const char *)buf_head(&p.anchors) },
			{ "issuer_crt_b64", crt_b64 },
			{ "issuer_key_b64", key_b64 },
			{ "injector_ca_b64", inj_ca_b64 },
			{ "injector_crt_b64", inj_crt_b64 },
			{ "injector_key_b64", inj_key_b64 },
			{ "native_sidecar", c->native_sidecar ? "true" : "false" },
		};

		r = render_file("manifests/install.yml", vars, ARRAY_SIZE(vars), &docs,
				err, errlen);
		if (!r && c->prometheus)
			r = render_file("manifests/prometheus.yml", vars,
					ARRAY_SIZE(vars), &docs, err, errlen);
	}
	if (r)
		goto out;

	/* the mesh meshes itself: every control-plane pod gets the proxy */
	inject_config_defaults(&ic, c->version, image);
	ic.image_pull_policy = c->image_pull_policy;
	ic.control_plane_ns = c->namespace_;
	ic.cluster_domain = c->cluster_domain;
	ic.proxy_log_level = c->log_level;
	ic.native_sidecar = c->native_sidecar;
	ic.trust_anchors_pem = (const char *)buf_head(&p.anchors);
	for (size_t i = 0; i < docs.count; i++) {
		struct yml_node *d = docs.docs[i];
		const char *kind = yml_str(yml_get(d, "kind"));

		if (!kind || strcmp(kind, "Deployment") != 0)
			continue;
		if (c->ha) {
			struct yml_node *labels =
				yml_get_path(d, "spec.template.metadata.labels");
			const char *comp = yml_text(
				yml_get(labels, "conduit.io/control-plane-component"));

			r = add_anti_affinity(yml_get_path(d, "spec.template.spec"),
					      comp ? comp : "");
			if (r)
				goto out;
		}
		r = inject_doc(d, &ic, &rep);
		if (r)
			goto out;
	}
	if (rep.refused) {
		snprintf(err, errlen, "injecting the control plane: %.*s",
			 (int)buf_len(&rep.lines), (const char *)buf_head(&rep.lines));
		r = -EINVAL;
		goto out;
	}
	sort_by_kind(docs.docs, docs.count);
	for (size_t i = 0; i < docs.count; i++) {
		r = yml_stream_push(out, docs.docs[i]);
		if (r) {
			/* what was pushed is the caller's; free the rest */
			for (size_t j = i; j < docs.count; j++)
				yml_free(docs.docs[j]);
			docs.count = 0;
			goto out;
		}
	}
	docs.count = 0;
out:
	free(anchors_b64);
	free(crt_b64);
	free(key_b64);
	free(inj_ca_b64);
	free(inj_crt_b64);
	free(inj_key_b64);
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		buf_release(all[i]);
	inject_report_release(&rep);
	yml_stream_release(&docs);
	return r;
}
