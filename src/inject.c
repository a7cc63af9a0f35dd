/* SPDX-License-Identifier: Apache-2.0 */
/* inject.c - add the proxy to Kubernetes objects, and take it out again */
#include "conduit/inject.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/buf.h"
#include "conduit/log.h"
#include "conduit/pki.h"
#include "conduit/manifest.h"
#include "conduit/netlist.h"

#define PROXY_NAME "conduit-proxy"
#define INIT_NAME "conduit-init"
#define TOKEN_VOLUME "conduit-identity-token"
#define ANN_INJECT "conduit.io/inject"
#define ANN_CREATED_BY "conduit.io/created-by"
#define ANN_PROXY_VERSION "conduit.io/proxy-version"
#define LABEL_CP_NS "conduit.io/control-plane-ns"
#define LABEL_CP_COMPONENT "conduit.io/control-plane-component"
#define LABEL_PROXY_PREFIX "conduit.io/proxy-"
#define CONFIG_PREFIX "config.conduit.io/"

/* Sidecars of other meshes: a pod with one of these is not ours to touch. */
static const char *const other_meshes[] = {
	"istio-proxy", "istio-init", "linkerd-proxy", "linkerd-init",
};

/* Kinds with pods, and where their pod template lives. */
static const struct {
	const char *kind;
	const char *label; /* conduit.io/proxy-<label> */
	const char *path;  /* to the pod template; NULL: the object is the pod */
} kinds[] = {
	{ "Deployment", "deployment", "spec.template" },
	{ "StatefulSet", "statefulset", "spec.template" },
	{ "DaemonSet", "daemonset", "spec.template" },
	{ "ReplicaSet", "replicaset", "spec.template" },
	{ "ReplicationController", "replicationcontroller", "spec.template" },
	{ "Job", "job", "spec.template" },
	{ "CronJob", "cronjob", "spec.jobTemplate.spec.template" },
	{ "Pod", "pod", NULL },
};

int inject_read_trust_anchors(const char *path, struct buf *out, char *err,
			      size_t errlen)
{
	struct pki_cert *ca;
	struct pki_cert_info info;
	char why[256];
	int r = buf_read_file(out, path, err, errlen);

	if (r)
		return r;
	if (!buf_cstr(out))
		goto nomem;
	ca = pki_cert_parse(buf_head(out), buf_len(out), why, sizeof(why));
	if (!ca) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -EINVAL;
	}
	pki_cert_get_info(ca, &info);
	pki_cert_free(ca);
	if (!info.is_ca) {
		snprintf(err, errlen, "%s: not a CA certificate (basicConstraints "
				      "CA:TRUE)", path);
		return -EINVAL;
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: too large", path);
	return -EFBIG;
}

void inject_config_defaults(struct inject_config *c, const char *version,
			    const char *image)
{
	memset(c, 0, sizeof(*c));
	c->proxy_image = image;
	c->init_image = image;
	c->image_pull_policy = "IfNotPresent";
	c->version = version;
	c->created_by = "conduit/cli";
	c->control_plane_ns = "conduit";
	c->cluster_domain = "cluster.local";
	c->proxy_uid = 2102;
	c->inbound_port = 4143;
	c->outbound_port = 4140;
	c->admin_port = 4191;
	c->control_port = 4190;
	c->skip_inbound_ports = "";
	c->skip_outbound_ports = "";
	c->proxy_log_level = "info";
	c->cpu_request = c->cpu_limit = "";
	c->memory_request = c->memory_limit = "";
	c->native_sidecar = true;
}

/* an image reference: registry/path:tag or @digest, no blanks or quotes */
static bool image_ref(const char *s)
{
	if (!*s || strlen(s) > 512)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("./-_:@+", *s)))
			return false;
	return true;
}

/* a Kubernetes quantity: digits, an optional fraction, a suffix */
static bool quantity(const char *s)
{
	static const char *const suffixes[] = { "",   "m",  "k",  "M",  "G",
						"T",  "P",  "E",  "Ki", "Mi",
						"Gi", "Ti", "Pi", "Ei" };
	const char *p = s;

	if (!isdigit((unsigned char)*p) && *p != '.')
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (strcmp(p, suffixes[i]) == 0)
			return true;
	return false;
}

static int check_ports(const char *flag, const char *v, char *err,
		       size_t errlen)
{
	struct netlist_ports p;
	char why[200];

	netlist_ports_init(&p);
	if (netlist_parse_ports(v, &p, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", flag, why);
		return -EINVAL;
	}
	netlist_ports_release(&p);
	return 0;
}

int inject_config_check(const struct inject_config *c, char *err,
			size_t errlen)
{
	static const char *const policies[] = { "Always", "IfNotPresent", "Never" };
	const struct {
		const char *flag;
		long long v;
	} ports[] = {
		{ "--inbound-port", c->inbound_port },
		{ "--outbound-port", c->outbound_port },
		{ "--admin-port", c->admin_port },
		{ "--control-port", c->control_port },
	};
	const struct {
		const char *flag, *v;
	} quantities[] = {
		{ "--proxy-cpu-request", c->cpu_request },
		{ "--proxy-cpu-limit", c->cpu_limit },
		{ "--proxy-memory-request", c->memory_request },
		{ "--proxy-memory-limit", c->memory_limit },
	};
	enum log_level level;
	bool ok = false;

	if (!image_ref(c->proxy_image)) {
		snprintf(err, errlen, "--proxy-image: \"%s\" is not an image reference",
			 c->proxy_image);
		return -EINVAL;
	}
	if (!image_ref(c->init_image)) {
		snprintf(err, errlen, "--init-image: \"%s\" is not an image reference",
			 c->init_image);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++)
		ok |= strcmp(c->image_pull_policy, policies[i]) == 0;
	if (!ok) {
		snprintf(err, errlen, "--image-pull-policy: \"%s\" is not Always, "
				      "IfNotPresent or Never", c->image_pull_policy);
		return -EINVAL;
	}
	if (log_level_parse(c->proxy_log_level, &level)) {
		snprintf(err, errlen, "--proxy-log-level: \"%s\" is not one of error, "
				      "warn, info, debug, trace", c->proxy_log_level);
		return -EINVAL;
	}
	if (!manifest_dns_label(c->control_plane_ns)) {
		snprintf(err, errlen, "--conduit-namespace: \"%s\" is not a valid "
				      "namespace name (a DNS-1123 label)",
			 c->control_plane_ns);
		return -EINVAL;
	}
	if (c->proxy_uid < 1 || c->proxy_uid > 2147483647) {
		snprintf(err, errlen, "--proxy-uid: %lld is not a non-root UID",
			 c->proxy_uid);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
		if (ports[i].v < 1 || ports[i].v > 65535) {
			snprintf(err, errlen, "%s: %lld out of range 1-65535",
				 ports[i].flag, ports[i].v);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (ports[i].v == ports[j].v) {
				snprintf(err, errlen, "%s and %s are both %lld",
					 ports[j].flag, ports[i].flag, ports[i].v);
				return -EINVAL;
			}
	}
	if (check_ports("--skip-inbound-ports", c->skip_inbound_ports, err, errlen) ||
	    check_ports("--skip-outbound-ports", c->skip_outbound_ports, err, errlen))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(quantities); i++)
		if (*quantities[i].v && !quantity(quantities[i].v)) {
			snprintf(err, errlen, "%s: \"%s\" is not a quantity (e.g. 100m, 64Mi)",
				 quantities[i].flag, quantities[i].v);
			return -EINVAL;
		}
	return 0;
}

void inject_report_init(struct inject_report *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->lines, 0);
}

void inject_report_release(struct inject_report *r)
{
	buf_release(&r->lines);
}

/* --- small tree helpers -------------------------------------------------- */

/* all-or-nothing building: the first failure sticks, later calls no-op */
struct build {
	int err;
};

static struct yml_node *checked(struct build *b, struct yml_node *n)
{
	if (!n)
		b->err = -ENOMEM;
	return n;
}

static void put(struct build *b, struct yml_node *map, const char *key,
		struct yml_node *v)
{
	if (b->err || !v) {
		yml_free(v);
		if (!b->err)
			b->err = -ENOMEM;
		return;
	}
	b->err = yml_set(map, key, v);
}

static void put_str(struct build *b, struct yml_node *map, const char *key,
		    const char *s)
{
	put(b, map, key, yml_new_str(s));
}

static void seq_insert(struct build *b, struct yml_node *seq, size_t pos,
		       struct yml_node *v)
{
	if (b->err || !v) {
		yml_free(v);
		if (!b->err)
			b->err = -ENOMEM;
		return;
	}
	b->err = yml_seq_insert(seq, pos, v);
}

static void push(struct build *b, struct yml_node *seq, struct yml_node *v)
{
	seq_insert(b, seq, yml_count(seq), v);
}

static const char *str_at(const struct yml_node *n, const char *path)
{
	return yml_str(yml_get_path(n, path));
}

/* an annotation or label value, whatever scalar type the YAML gave it */
static const char *meta_value(const struct yml_node *meta, const char *map,
			      const char *key)
{
	return yml_text(yml_get(yml_get(meta, map), key));
}

/* --- uninject -------------------------------------------------------------- */

static bool remove_named(struct yml_node *spec, const char *list,
			 const char *name)
{
	struct yml_node *seq = yml_get(spec, list);
	bool removed = false;

	for (size_t i = yml_count(seq); i-- > 0;) {
		const char *n = str_at(yml_at(seq, i), "name");

		if (n && strcmp(n, name) == 0) {
			yml_remove_at(seq, i);
			removed = true;
		}
	}
	if (removed && yml_type(seq) == YML_SEQ && !yml_count(seq))
		yml_delete(spec, list);
	return removed;
}

/* drop keys of meta.<map> that match; the map goes too if it empties */
static bool remove_meta(struct yml_node *meta, const char *map,
			bool (*match)(const char *key))
{
	struct yml_node *m = yml_get(meta, map);
	bool removed = false;

	for (size_t i = yml_count(m); i-- > 0;) {
		if (yml_type(m) == YML_MAP && match(yml_key(m, i))) {
			yml_remove_at(m, i);
			removed = true;
		}
	}
	if (removed && !yml_count(m))
		yml_delete(meta, map);
	return removed;
}

static bool is_our_label(const char *k)
{
	return strcmp(k, LABEL_CP_NS) == 0 || str_has_prefix(k, LABEL_PROXY_PREFIX);
}

static bool is_proxy_label(const char *k)
{
	return str_has_prefix(k, LABEL_PROXY_PREFIX);
}

static bool is_our_annotation(const char *k)
{
	return strcmp(k, ANN_CREATED_BY) == 0 || strcmp(k, ANN_PROXY_VERSION) == 0;
}

static bool is_control_plane(const struct yml_node *meta)
{
	return meta_value(meta, "labels", LABEL_CP_COMPONENT) != NULL;
}

/* take the proxy out of a pod template (metadata + spec) */
static bool uninject_template(struct yml_node *tmpl)
{
	struct yml_node *meta = yml_get(tmpl, "metadata");
	struct yml_node *spec = yml_get(tmpl, "spec");
	bool had = false;

	had |= remove_named(spec, "containers", PROXY_NAME);
	had |= remove_named(spec, "initContainers", PROXY_NAME);
	had |= remove_named(spec, "initContainers", INIT_NAME);
	had |= remove_named(spec, "volumes", TOKEN_VOLUME);
	/* the control plane's own labels name its namespace: not ours */
	if (!is_control_plane(meta))
		had |= remove_meta(meta, "labels", is_our_label);
	else
		had |= remove_meta(meta, "labels", is_proxy_label);
	had |= remove_meta(meta, "annotations", is_our_annotation);
	/* inject made metadata when the template had none */
	if (had && yml_type(meta) == YML_MAP && !yml_count(meta))
		yml_delete(tmpl, "metadata");
	return had;
}

/* --- inject ---------------------------------------------------------------- */

/* The settings for one workload: the config, overridden by annotations. */
struct workload {
	struct inject_config c;
	const char *kind_label; /* deployment, statefulset, ... */
	const char *name;
	bool is_identity; /* the identity component: certified by itself */
	char ns_buf[64];
};

/* config.conduit.io/<flag> annotations that override a flag */
static const struct {
	const char *key;
	size_t off;
} overrides[] = {
#define O(k, f) { CONFIG_PREFIX k, offsetof(struct inject_config, f) }
	O("skip-inbound-ports", skip_inbound_ports),
	O("skip-outbound-ports", skip_outbound_ports),
	O("proxy-log-level", proxy_log_level),
	O("proxy-image", proxy_image),
	O("init-image", init_image),
	O("image-pull-policy", image_pull_policy),
	O("proxy-cpu-request", cpu_request),
	O("proxy-cpu-limit", cpu_limit),
	O("proxy-memory-request", memory_request),
	O("proxy-memory-limit", memory_limit),
#undef O
};

void inject_config_override(struct inject_config *c,
			    const struct yml_node *annotations)
{
	const char *v;

	for (size_t i = 0; i < ARRAY_SIZE(overrides); i++) {
		v = yml_text(yml_get(annotations, overrides[i].key));
		if (v)
			*(const char **)((char *)c + overrides[i].off) = v;
	}
	v = yml_text(yml_get(annotations, CONFIG_PREFIX "native-sidecar"));
	if (v)
		c->native_sidecar = strcmp(v, "false") != 0;
}

static int apply_overrides(struct workload *w, const struct yml_node *meta,
			   char *err, size_t errlen)
{
	const char *v;

	inject_config_override(&w->c, yml_get(meta, "annotations"));
	/* the mesh meshes itself: a control-plane pod talks to its own
	 * namespace, whatever the command says */
	v = meta_value(meta, "labels", LABEL_CP_NS);
	if (v && is_control_plane(meta))
		w->c.control_plane_ns = v;
	if (inject_config_check(&w->c, err, errlen)) {
		/* name the annotation rather than the flag */
		char why[512], msg[600];

		str_copy(why, err, sizeof(why));
		snprintf(msg, sizeof(msg), "annotation %s%s", CONFIG_PREFIX,
			 why[0] == '-' ? why + 2 : why);
		str_copy(err, msg, errlen);
		return -EINVAL;
	}
	return 0;
}

static struct yml_node *env_value(struct build *b, const char *name,
				  const char *value)
{
	struct yml_node *e = checked(b, yml_new_map());

	if (!e)
		return NULL;
	put_str(b, e, "name", name);
	put_str(b, e, "value", value);
	return e;
}

static struct yml_node *env_field(struct build *b, const char *name,
				  const char *field)
{
	struct yml_node *e = checked(b, yml_new_map());
	struct yml_node *from = checked(b, yml_new_map());
	struct yml_node *ref = checked(b, yml_new_map());

	if (!e || !from || !ref) {
		yml_free(e);
		yml_free(from);
		yml_free(ref);
		return NULL;
	}
	put_str(b, ref, "fieldPath", field);
	put(b, from, "fieldRef", ref);
	put_str(b, e, "name", name);
	put(b, e, "valueFrom", from);
	return e;
}

static struct yml_node *http_probe(struct build *b, const char *path,
				   long long port)
{
	struct yml_node *probe = checked(b, yml_new_map());
	struct yml_node *get = checked(b, yml_new_map());

	if (!probe || !get) {
		yml_free(probe);
		yml_free(get);
		return NULL;
	}
	put_str(b, get, "path", path);
	put(b, get, "port", yml_new_int(port));
	put(b, probe, "httpGet", get);
	return probe;
}

static struct yml_node *port(struct build *b, const char *name, long long p)
{
	struct yml_node *m = checked(b, yml_new_map());

	if (!m)
		return NULL;
	put_str(b, m, "name", name);
	put(b, m, "containerPort", yml_new_int(p));
	return m;
}

static struct yml_node *str_seq(struct build *b, const char *const *v, size_t n)
{
	struct yml_node *s = checked(b, yml_new_seq());

	for (size_t i = 0; s && i < n; i++)
		push(b, s, yml_new_str(v[i]));
	return s;
}

static struct yml_node *resources(struct build *b, const struct inject_config *c)
{
	struct yml_node *r, *req, *lim;

	if (!*c->cpu_request && !*c->memory_request && !*c->cpu_limit &&
	    !*c->memory_limit)
		return NULL;
	r = checked(b, yml_new_map());
	if (!r)
		return NULL;
	if (*c->cpu_request || *c->memory_request) {
		req = checked(b, yml_new_map());
		if (req && *c->cpu_request)
			put_str(b, req, "cpu", c->cpu_request);
		if (req && *c->memory_request)
			put_str(b, req, "memory", c->memory_request);
		put(b, r, "requests", req);
	}
	if (*c->cpu_limit || *c->memory_limit) {
		lim = checked(b, yml_new_map());
		if (lim && *c->cpu_limit)
			put_str(b, lim, "cpu", c->cpu_limit);
		if (lim && *c->memory_limit)
			put_str(b, lim, "memory", c->memory_limit);
		put(b, r, "limits", lim);
	}
	return r;
}

static bool has_identity(const struct inject_config *c)
{
	return c->trust_anchors_pem && *c->trust_anchors_pem;
}

/*
 * identity_env - where the proxy gets its certificate, and what it
 * trusts; or that it has no identity. Proxies ask the identity Service
 * over TLS to the identity pod's own identity (its proxy terminates it);
 * the identity component's own proxy asks the component beside it, in
 * plaintext over loopback: it cannot reach the Service before it is
 * ready, nor prove anything before it is certified.
 */
static void identity_env(struct build *b, struct yml_node *env,
			 const struct workload *w)
{
	const struct inject_config *c = &w->c;
	char v[512];

	if (!has_identity(c)) {
		push(b, env, env_value(b, "CONDUIT_PROXY_IDENTITY_DISABLED",
				       "true"));
		return;
	}
	if (w->is_identity)
		str_copy(v, "127.0.0.1:8080", sizeof(v));
	else
		snprintf(v, sizeof(v), "conduit-identity.%s.svc.%s:8080",
			 c->control_plane_ns, c->cluster_domain);
	push(b, env, env_value(b, "CONDUIT_PROXY_IDENTITY_SVC_ADDR", v));
	if (!w->is_identity) {
		/* Certify over TLS: the identity pod's proxy terminates it */
		snprintf(v, sizeof(v),
			 "conduit-identity.%s.serviceaccount.identity.%s.%s",
			 c->control_plane_ns, c->control_plane_ns,
			 c->cluster_domain);
		push(b, env, env_value(b, "CONDUIT_PROXY_IDENTITY_SVC_NAME", v));
	}
	snprintf(v, sizeof(v),
		 "$(CONDUIT_PROXY_POD_SERVICEACCOUNT).$(CONDUIT_PROXY_POD_NAMESPACE)"
		 ".serviceaccount.identity.%s.%s", c->control_plane_ns,
		 c->cluster_domain);
	push(b, env, env_value(b, "CONDUIT_PROXY_IDENTITY_LOCAL_NAME", v));
	push(b, env, env_value(b, "CONDUIT_PROXY_IDENTITY_TOKEN_FILE",
			       INJECT_IDENTITY_TOKEN_DIR "/token"));
	push(b, env, env_value(b, "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS",
			       c->trust_anchors_pem));
}

/*
 * existing_anchors - the trust anchors of a proxy already in the pod spec
 * (a copy to free), or NULL
 */
static char *existing_anchors(const struct yml_node *spec)
{
	static const char *const lists[] = { "initContainers", "containers" };

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const struct yml_node *cs = yml_get(spec, lists[l]);

		for (size_t i = 0; i < yml_count(cs); i++) {
			const struct yml_node *ct = yml_at(cs, i), *env;
			const char *n = str_at(ct, "name");

			if (!n || strcmp(n, PROXY_NAME))
				continue;
			env = yml_get(ct, "env");
			for (size_t k = 0; k < yml_count(env); k++) {
				const char *en = str_at(yml_at(env, k), "name");
				const char *v = str_at(yml_at(env, k), "value");

				if (en && v && *v &&
				    !strcmp(en, "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS"))
					return xstrdup(v);
			}
		}
	}
	return NULL;
}

/* token_volume - the projected ServiceAccount token the proxy presents */
static struct yml_node *token_volume(struct build *b)
{
	struct yml_node *v = checked(b, yml_new_map());
	struct yml_node *proj = checked(b, yml_new_map());
	struct yml_node *sources = checked(b, yml_new_seq());
	struct yml_node *src = checked(b, yml_new_map());
	struct yml_node *tok = checked(b, yml_new_map());

	if (!v || !proj || !sources || !src || !tok) {
		yml_free(v);
		yml_free(proj);
		yml_free(sources);
		yml_free(src);
		yml_free(tok);
		return NULL;
	}
	put_str(b, v, "name", TOKEN_VOLUME);
	put_str(b, tok, "audience", INJECT_IDENTITY_AUDIENCE);
	put(b, tok, "expirationSeconds", yml_new_int(86400));
	put_str(b, tok, "path", "token");
	put(b, src, "serviceAccountToken", tok);
	push(b, sources, src);
	put(b, proj, "sources", sources);
	put(b, v, "projected", proj);
	return v;
}

static struct yml_node *proxy_container(struct build *b, const struct workload *w)
{
	const struct inject_config *c = &w->c;
	struct yml_node *ct = checked(b, yml_new_map());
	struct yml_node *env, *ports, *sc, *caps, *probe;
	char v[512];
	static const char *const args[] = { "proxy" };
	static const char *const drop[] = { "ALL" };

	if (!ct)
		return NULL;
	put_str(b, ct, "name", PROXY_NAME);
	put_str(b, ct, "image", c->proxy_image);
	put_str(b, ct, "imagePullPolicy", c->image_pull_policy);
	put(b, ct, "args", str_seq(b, args, 1));

	env = checked(b, yml_new_seq());
	if (env) {
		/* the downward API first: later values refer to them */
		push(b, env, env_field(b, "CONDUIT_PROXY_POD_NAME", "metadata.name"));
		push(b, env, env_field(b, "CONDUIT_PROXY_POD_NAMESPACE",
				       "metadata.namespace"));
		push(b, env, env_field(b, "CONDUIT_PROXY_POD_SERVICEACCOUNT",
				       "spec.serviceAccountName"));
		push(b, env, env_value(b, "CONDUIT_PROXY_WORKLOAD_KIND", w->kind_label));
		push(b, env, env_value(b, "CONDUIT_PROXY_WORKLOAD_NAME", w->name));
		push(b, env, env_value(b, "CONDUIT_PROXY_LOG", c->proxy_log_level));
		snprintf(v, sizeof(v), "0.0.0.0:%lld", c->inbound_port);
		push(b, env, env_value(b, "CONDUIT_PROXY_INBOUND_LISTEN_ADDR", v));
		snprintf(v, sizeof(v), "127.0.0.1:%lld", c->outbound_port);
		push(b, env, env_value(b, "CONDUIT_PROXY_OUTBOUND_LISTEN_ADDR", v));
		snprintf(v, sizeof(v), "0.0.0.0:%lld", c->admin_port);
		push(b, env, env_value(b, "CONDUIT_PROXY_ADMIN_LISTEN_ADDR", v));
		snprintf(v, sizeof(v), "0.0.0.0:%lld", c->control_port);
		push(b, env, env_value(b, "CONDUIT_PROXY_CONTROL_LISTEN_ADDR", v));
		snprintf(v, sizeof(v), "conduit-dst.%s.svc.%s:8086",
			 c->control_plane_ns, c->cluster_domain);
		push(b, env, env_value(b, "CONDUIT_PROXY_DESTINATION_SVC_ADDR", v));
		snprintf(v, sizeof(v), "conduit-identity.%s.svc.%s:8080",
			 c->control_plane_ns, c->cluster_domain);
		identity_env(b, env, w);
		put(b, ct, "env", env);
	}
	if (has_identity(c)) {
		struct yml_node *mounts = checked(b, yml_new_seq());
		struct yml_node *m = checked(b, yml_new_map());

		if (mounts && m) {
			put_str(b, m, "name", TOKEN_VOLUME);
			put_str(b, m, "mountPath", INJECT_IDENTITY_TOKEN_DIR);
			put(b, m, "readOnly", yml_new_bool(true));
			push(b, mounts, m);
			put(b, ct, "volumeMounts", mounts);
		} else {
			yml_free(mounts);
			yml_free(m);
		}
	}
	ports = checked(b, yml_new_seq());
	if (ports) {
		push(b, ports, port(b, "conduit-proxy", c->inbound_port));
		push(b, ports, port(b, "conduit-admin", c->admin_port));
		put(b, ct, "ports", ports);
	}
	put(b, ct, "readinessProbe", http_probe(b, "/ready", c->admin_port));
	probe = http_probe(b, "/live", c->admin_port);
	if (probe)
		put(b, probe, "initialDelaySeconds", yml_new_int(10));
	put(b, ct, "livenessProbe", probe);
	if (c->native_sidecar) {
		/* the kubelet starts the app once this passes; the identity
		 * component's proxy is certified by the app beside it, so it
		 * cannot wait for that: it starts once it is live */
		probe = http_probe(b, w->is_identity && has_identity(c) ?
					      "/live" :
					      "/ready",
				   c->admin_port);
		if (probe) {
			put(b, probe, "periodSeconds", yml_new_int(1));
			put(b, probe, "failureThreshold", yml_new_int(120));
		}
		put(b, ct, "startupProbe", probe);
		put_str(b, ct, "restartPolicy", "Always");
	}
	if (resources(b, c))
		put(b, ct, "resources", resources(b, c));
	sc = checked(b, yml_new_map());
	if (sc) {
		put(b, sc, "runAsUser", yml_new_int(c->proxy_uid));
		put(b, sc, "runAsNonRoot", yml_new_bool(true));
		put(b, sc, "readOnlyRootFilesystem", yml_new_bool(true));
		put(b, sc, "allowPrivilegeEscalation", yml_new_bool(false));
		caps = checked(b, yml_new_map());
		if (caps)
			put(b, caps, "drop", str_seq(b, drop, 1));
		put(b, sc, "capabilities", caps);
		put(b, ct, "securityContext", sc);
	}
	put_str(b, ct, "terminationMessagePolicy", "FallbackToLogsOnError");
	return ct;
}

static struct yml_node *init_container(struct build *b, const struct workload *w)
{
	const struct inject_config *c = &w->c;
	struct yml_node *ct = checked(b, yml_new_map());
	struct yml_node *args, *sc, *caps;
	static const char *const add[] = { "NET_ADMIN", "NET_RAW" };
	static const char *const drop[] = { "ALL" };
	char v[512];

	if (!ct)
		return NULL;
	put_str(b, ct, "name", INIT_NAME);
	put_str(b, ct, "image", c->init_image);
	put_str(b, ct, "imagePullPolicy", c->image_pull_policy);
	args = checked(b, yml_new_seq());
	if (args) {
		push(b, args, yml_new_str("proxy-init"));
		push(b, args, yml_new_str("--incoming-proxy-port"));
		snprintf(v, sizeof(v), "%lld", c->inbound_port);
		push(b, args, yml_new_str(v));
		push(b, args, yml_new_str("--outgoing-proxy-port"));
		snprintf(v, sizeof(v), "%lld", c->outbound_port);
		push(b, args, yml_new_str(v));
		push(b, args, yml_new_str("--proxy-uid"));
		snprintf(v, sizeof(v), "%lld", c->proxy_uid);
		push(b, args, yml_new_str(v));
		/* the proxy's own admin and control ports are never redirected */
		push(b, args, yml_new_str("--inbound-ports-to-ignore"));
		snprintf(v, sizeof(v), "%lld,%lld%s%s", c->control_port,
			 c->admin_port, *c->skip_inbound_ports ? "," : "",
			 c->skip_inbound_ports);
		push(b, args, yml_new_str(v));
		if (*c->skip_outbound_ports) {
			push(b, args, yml_new_str("--outbound-ports-to-ignore"));
			push(b, args, yml_new_str(c->skip_outbound_ports));
		}
		put(b, ct, "args", args);
	}
	sc = checked(b, yml_new_map());
	if (sc) {
		put(b, sc, "privileged", yml_new_bool(false));
		put(b, sc, "runAsUser", yml_new_int(0));
		put(b, sc, "runAsNonRoot", yml_new_bool(false));
		put(b, sc, "readOnlyRootFilesystem", yml_new_bool(true));
		put(b, sc, "allowPrivilegeEscalation", yml_new_bool(false));
		caps = checked(b, yml_new_map());
		if (caps) {
			put(b, caps, "add", str_seq(b, add, 2));
			put(b, caps, "drop", str_seq(b, drop, 1));
		}
		put(b, sc, "capabilities", caps);
		put(b, ct, "securityContext", sc);
	}
	put_str(b, ct, "terminationMessagePolicy", "FallbackToLogsOnError");
	return ct;
}

static int inject_template(struct yml_node *tmpl, const struct workload *w)
{
	struct build b = { 0 };
	struct yml_node *meta = checked(&b, yml_ensure(tmpl, "metadata", YML_MAP));
	struct yml_node *spec = yml_get(tmpl, "spec");
	struct yml_node *inits, *containers, *labels, *ann;
	char v[256];

	if (b.err)
		return b.err;
	containers = yml_get(spec, "containers");
	/* a new initContainers goes just before containers, where people
	 * write it */
	if (yml_index(spec, "initContainers") < 0 &&
	    yml_index(spec, "containers") >= 0) {
		b.err = yml_insert(spec, (size_t)yml_index(spec, "containers"),
				   "initContainers", yml_new_seq());
		if (b.err)
			return b.err;
	}
	inits = checked(&b, yml_ensure(spec, "initContainers", YML_SEQ));
	labels = checked(&b, yml_ensure(meta, "labels", YML_MAP));
	ann = checked(&b, yml_ensure(meta, "annotations", YML_MAP));
	if (b.err)
		return b.err;
	seq_insert(&b, inits, 0, init_container(&b, w));
	if (w->c.native_sidecar)
		seq_insert(&b, inits, 1, proxy_container(&b, w));
	else
		seq_insert(&b, containers, 0, proxy_container(&b, w));
	if (has_identity(&w->c)) {
		struct yml_node *vols =
			checked(&b, yml_ensure(spec, "volumes", YML_SEQ));

		if (vols)
			push(&b, vols, token_volume(&b));
	}
	snprintf(v, sizeof(v), "%s %s", w->c.created_by, w->c.version);
	put_str(&b, ann, ANN_CREATED_BY, v);
	put_str(&b, ann, ANN_PROXY_VERSION, w->c.version);
	if (!is_control_plane(meta))
		put_str(&b, labels, LABEL_CP_NS, w->c.control_plane_ns);
	snprintf(v, sizeof(v), "%s%s", LABEL_PROXY_PREFIX, w->kind_label);
	put_str(&b, labels, v, w->name);
	return b.err;
}

/* a report line: `deployment "web" injected` */
PRINTF_LIKE(4, 5)
static void report(struct inject_report *r, const char *kind, const char *name,
		   const char *fmt, ...)
{
	char lower[64];
	va_list ap;
	size_t i;

	for (i = 0; kind[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)kind[i]);
	lower[i] = '\0';
	buf_printf(&r->lines, "%s \"%s\" ", lower, name);
	va_start(ap, fmt);
	buf_vprintf(&r->lines, fmt, ap);
	va_end(ap);
	buf_append(&r->lines, "\n", 1);
}

static bool other_mesh(const struct yml_node *spec, const char **which)
{
	static const char *const lists[] = { "containers", "initContainers" };

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const struct yml_node *seq = yml_get(spec, lists[l]);

		for (size_t i = 0; i < yml_count(seq); i++) {
			const char *n = str_at(yml_at(seq, i), "name");

			for (size_t m = 0; n && m < ARRAY_SIZE(other_meshes); m++)
				if (strcmp(n, other_meshes[m]) == 0) {
					*which = other_meshes[m];
					return true;
				}
		}
	}
	return false;
}

static struct yml_node *find_template(struct yml_node *obj, const char *kind,
				      const char **label, bool *found_kind)
{
	*found_kind = false;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (strcmp(kind, kinds[i].kind) != 0)
			continue;
		*found_kind = true;
		*label = kinds[i].label;
		return kinds[i].path ? yml_get_path(obj, kinds[i].path) : obj;
	}
	return NULL;
}

/* what happened to the last object, for callers that take one at a time */
PRINTF_LIKE(3, 4)
static void outcome(struct inject_report *r, enum inject_result res,
		    const char *fmt, ...)
{
	va_list ap;

	r->last = res;
	va_start(ap, fmt);
	vsnprintf(r->last_why, sizeof(r->last_why), fmt, ap);
	va_end(ap);
}

/*
 * inject_object - inject (or uninject) one object. as_label and as_name,
 * when not NULL, name the workload instead of the object's kind and name
 * (the webhook's Pod, made by a Deployment).
 */
static int inject_object(struct yml_node *obj, const struct inject_config *c,
			 struct inject_report *r, bool inject,
			 const char *as_label, const char *as_name)
{
	char *kept;
	const char *kind = str_at(obj, "kind"), *name, *label = "", *which;
	struct yml_node *tmpl, *meta, *spec;
	struct workload w;
	bool known, disabled, host_network = false;
	char why[400];
	int err;

	r->total++;
	name = str_at(obj, "metadata.name");
	if (!name)
		name = str_at(obj, "metadata.generateName");
	if (!name)
		name = "";
	if (yml_type(obj) != YML_MAP || !kind) {
		r->refused++;
		buf_printf(&r->lines, "‼ document at line %u is not a Kubernetes "
				      "object (no kind)\n", yml_line(obj));
		outcome(r, INJECT_INVALID, "not a Kubernetes object (no kind)");
		return 0;
	}
	if (strcmp(kind, "Namespace") == 0) {
		struct build b = { 0 };
		struct yml_node *m = checked(&b, yml_ensure(obj, "metadata", YML_MAP));
		struct yml_node *ann = m ? checked(&b, yml_ensure(m, "annotations", YML_MAP)) : NULL;
		const char *cur = yml_text(yml_get(ann, ANN_INJECT));

		if (b.err)
			return b.err;
		if (inject) {
			if (cur && strcmp(cur, "disabled") == 0) {
				report(r, kind, name, "skipped (%s: disabled)", ANN_INJECT);
				outcome(r, INJECT_DISABLED, "%s: disabled", ANN_INJECT);
			} else {
				put_str(&b, ann, ANN_INJECT, "enabled");
				report(r, kind, name, "annotated");
				outcome(r, INJECT_ANNOTATED, "annotated");
			}
		} else if (cur && strcmp(cur, "enabled") == 0) {
			yml_delete(ann, ANN_INJECT);
			report(r, kind, name, "uninjected");
			outcome(r, INJECT_UNINJECTED, "uninjected");
		} else {
			report(r, kind, name, "skipped");
			outcome(r, INJECT_SKIPPED, "no annotation to take out");
		}
		if (!yml_count(ann))
			yml_delete(m, "annotations");
		return b.err;
	}
	tmpl = find_template(obj, kind, &label, &known);
	if (!known) {
		report(r, kind, name, "skipped");
		outcome(r, INJECT_SKIPPED, "a %s has no pods", kind);
		return 0;
	}
	meta = yml_get(tmpl, "metadata");
	spec = yml_get(tmpl, "spec");
	if (yml_type(tmpl) != YML_MAP || yml_type(spec) != YML_MAP ||
	    yml_type(yml_get(spec, "containers")) != YML_SEQ) {
		r->refused++;
		report(r, kind, name, "not injected: no pod template with containers");
		outcome(r, INJECT_INVALID, "no pod template with containers");
		return 0;
	}
	if (!inject) {
		if (uninject_template(tmpl)) {
			r->uninjected++;
			report(r, kind, name, "uninjected");
			outcome(r, INJECT_UNINJECTED, "uninjected");
		} else {
			report(r, kind, name, "skipped (no proxy)");
			outcome(r, INJECT_SKIPPED, "no proxy");
		}
		return 0;
	}
	disabled = false;
	{
		const char *a = meta_value(yml_get(obj, "metadata"), "annotations",
					   ANN_INJECT);
		const char *t = meta_value(meta, "annotations", ANN_INJECT);

		disabled = (t && strcmp(t, "disabled") == 0) ||
			   (!t && a && strcmp(a, "disabled") == 0);
	}
	if (disabled) {
		report(r, kind, name, "skipped (%s: disabled)", ANN_INJECT);
		outcome(r, INJECT_DISABLED, "%s: disabled", ANN_INJECT);
		return 0;
	}
	{
		/* what inject_template adds to must be of the right kind */
		static const struct {
			const char *key;
			enum yml_type type;
			const char *what;
		} shapes[] = {
			{ "metadata", YML_MAP, "metadata" },
			{ "labels", YML_MAP, "metadata.labels" },
			{ "annotations", YML_MAP, "metadata.annotations" },
			{ "initContainers", YML_SEQ, "spec.initContainers" },
		};

		for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
			const struct yml_node *n =
				yml_get(i == 0 ? tmpl : i == 3 ? spec : meta, shapes[i].key);

			if (n && yml_type(n) != YML_NULL && yml_type(n) != shapes[i].type) {
				r->refused++;
				report(r, kind, name, "not injected: %s is not a %s",
				       shapes[i].what,
				       shapes[i].type == YML_MAP ? "mapping" : "list");
				outcome(r, INJECT_INVALID, "%s is not a %s", shapes[i].what,
					shapes[i].type == YML_MAP ? "mapping" : "list");
				return 0;
			}
		}
	}
	yml_bool(yml_get(spec, "hostNetwork"), &host_network);
	if (host_network) {
		r->refused++;
		buf_printf(&r->lines, "‼ hostNetwork is enabled: the proxy cannot "
				      "intercept a pod that shares the node's network\n");
		report(r, kind, name, "not injected");
		outcome(r, INJECT_REFUSED, "hostNetwork is enabled: the proxy cannot "
					   "intercept a pod that shares the node's network");
		return 0;
	}
	if (other_mesh(spec, &which)) {
		r->refused++;
		buf_printf(&r->lines, "‼ the pod already has another mesh's "
				      "sidecar (%s)\n", which);
		report(r, kind, name, "not injected");
		outcome(r, INJECT_REFUSED, "the pod already has another mesh's "
					   "sidecar (%s)", which);
		return 0;
	}
	w.c = *c;
	w.kind_label = as_label ? as_label : label;
	w.name = as_name ? as_name : name;
	{
		const struct yml_node *tmeta = yml_get(tmpl, "metadata");
		const char *comp = meta_value(tmeta, "labels",
					      LABEL_CP_COMPONENT);

		w.is_identity = comp && !strcmp(comp, "identity");
	}
	if (apply_overrides(&w, meta, why, sizeof(why))) {
		r->refused++;
		buf_printf(&r->lines, "‼ %s\n", why);
		report(r, kind, name, "not injected");
		outcome(r, INJECT_REFUSED, "%s", why);
		return 0;
	}
	/* injected before, with an identity: injected again, it keeps it
	 * unless the caller gives anchors of its own */
	kept = has_identity(&w.c) ? NULL : existing_anchors(yml_get(tmpl, "spec"));
	if (kept)
		w.c.trust_anchors_pem = kept;
	uninject_template(tmpl);
	err = inject_template(tmpl, &w);
	free(kept);
	if (err)
		return err;
	r->injected++;
	report(r, kind, name, "injected");
	outcome(r, INJECT_INJECTED, "injected");
	return 0;
}

static int walk(struct yml_node *doc, const struct inject_config *c,
		struct inject_report *r, bool inject)
{
	struct yml_node *items = yml_list_items(doc);
	int err;

	if (yml_type(doc) == YML_NULL)
		return 0; /* an empty document: nothing to do, nothing to say */
	if (!items)
		return inject_object(doc, c, r, inject, NULL, NULL);
	for (size_t i = 0; i < yml_count(items); i++) {
		err = inject_object(yml_at(items, i), c, r, inject, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

int inject_doc(struct yml_node *doc, const struct inject_config *c,
	       struct inject_report *r)
{
	return walk(doc, c, r, true);
}

int uninject_doc(struct yml_node *doc, struct inject_report *r)
{
	return walk(doc, NULL, r, false);
}

int inject_object_as(struct yml_node *obj, const struct inject_config *c,
		     const char *as_label, const char *as_name,
		     struct inject_report *r)
{
	return inject_object(obj, c, r, true, as_label, as_name);
}

bool inject_has_proxy(const struct yml_node *pod_spec)
{
	static const char *const lists[] = { "containers", "initContainers" };

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const struct yml_node *seq = yml_get(pod_spec, lists[l]);

		for (size_t i = 0; i < yml_count(seq); i++) {
			const char *n = str_at(yml_at(seq, i), "name");

			if (n && strcmp(n, PROXY_NAME) == 0)
				return true;
		}
	}
	return false;
}
