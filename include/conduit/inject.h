/* SPDX-License-Identifier: Apache-2.0 */
/* inject.h - add the proxy to Kubernetes objects, and take it out again */
#ifndef CONDUIT_INJECT_H
#define CONDUIT_INJECT_H

#include "conduit/buf.h"
#include "conduit/yaml.h"

/*
 * What `conduit inject` adds to a pod template (DESIGN.md §5):
 *   - init container conduit-init: `conduit proxy-init` with the ports, the
 *     proxy UID and the ignore lists; NET_ADMIN and NET_RAW, not privileged;
 *   - the proxy conduit-proxy: `conduit proxy` as UID 2102, ports 4143
 *     (conduit-proxy) and 4191 (conduit-admin), /ready and /live probes,
 *     CONDUIT_PROXY_* env (pod identity through the downward API); by
 *     default a native sidecar (an init container with restartPolicy:
 *     Always, Kubernetes 1.29+) so the app starts after it and Jobs end;
 *   - labels conduit.io/control-plane-ns and conduit.io/proxy-<kind>,
 *     annotations conduit.io/created-by and conduit.io/proxy-version.
 *
 * Per-workload settings: annotations config.conduit.io/<flag> on the pod
 * template (skip-inbound-ports, skip-outbound-ports, proxy-log-level,
 * proxy-cpu-request, ... the flag names) override the command's flags, as
 * Linkerd's config.linkerd.io annotations do. They belong to the user:
 * inject reads them and uninject leaves them.
 *
 * Inject is idempotent: it first takes out whatever an earlier inject
 * added, so inject(inject(x)) == inject(x), and uninject(inject(x)) has
 * the same fields as x.
 */
struct inject_config {
	const char *proxy_image;       /* conduit.io/conduit:<version> */
	const char *init_image;	       /* the same image: one binary */
	const char *image_pull_policy; /* IfNotPresent */
	const char *version;	       /* conduit.io/proxy-version */
	const char *created_by;	       /* "conduit/cli <version>" */
	const char *control_plane_ns;  /* conduit */
	const char *cluster_domain;    /* cluster.local */
	long long proxy_uid;	       /* 2102 */
	long long inbound_port;	       /* 4143 */
	long long outbound_port;       /* 4140 */
	long long admin_port;	       /* 4191 */
	long long control_port;	       /* 4190 */
	const char *skip_inbound_ports;	 /* "" or a validated port list */
	const char *skip_outbound_ports; /* "" or a validated port list */
	const char *proxy_log_level;	 /* info */
	const char *cpu_request, *cpu_limit;	   /* "" when unset */
	const char *memory_request, *memory_limit; /* "" when unset */
	bool native_sidecar;			   /* true */
	/*
	 * The mesh's trust anchors (PEM): with them the proxy gets an
	 * identity from the identity component (a projected ServiceAccount
	 * token, audience INJECT_IDENTITY_AUDIENCE) and speaks mutual TLS
	 * to meshed peers; NULL or "": identity disabled, plaintext only.
	 */
	const char *trust_anchors_pem;
};

/* the audience of the token a proxy presents to the identity component */
#define INJECT_IDENTITY_AUDIENCE "identity.conduit.io"
/* where the proxy finds that token */
#define INJECT_IDENTITY_TOKEN_DIR "/var/run/secrets/conduit.io/identity"

/*
 * inject_read_trust_anchors - read the trust anchors file (PEM: at least
 * one CA certificate) into out, NUL-terminated, for trust_anchors_pem.
 * Returns 0 or a negative errno with "<path>: <why>" in err.
 */
struct buf;
int inject_read_trust_anchors(const char *path, struct buf *out, char *err,
			      size_t errlen);

/* inject_config_defaults - the defaults above for this version */
void inject_config_defaults(struct inject_config *c, const char *version,
			    const char *image);

/*
 * inject_config_check - validate every value (ports and ranges, log
 * level, quantities, image references, namespace). Returns 0, or -EINVAL
 * with "--flag: why" in err.
 */
int inject_config_check(const struct inject_config *c, char *err,
			size_t errlen);

/* What happened to one object. */
enum inject_result {
	INJECT_INJECTED,     /* pod template changed */
	INJECT_UNINJECTED,   /* uninject: the proxy was taken out */
	INJECT_ANNOTATED,    /* a Namespace got conduit.io/inject: enabled */
	INJECT_SKIPPED,	     /* a kind without pods: passed through */
	INJECT_DISABLED,     /* conduit.io/inject: disabled: left alone */
	INJECT_REFUSED,	     /* hostNetwork, another mesh's sidecar: error */
	INJECT_INVALID,	     /* not an object we can read: error */
};

/*
 * One report line per object, Linkerd style, written to stderr by the
 * applet: `deployment "web" injected`, `service "web-svc" skipped`, and
 * for refusals a reason after a ‼ warning line.
 */
struct inject_report {
	struct buf lines;  /* the report, one object a line */
	size_t injected;   /* objects whose pods now have the proxy */
	size_t uninjected; /* uninject: objects whose proxy went */
	size_t refused;	   /* hostNetwork, other meshes, bad objects */
	size_t total;	   /* objects seen, List items counted singly */
	enum inject_result last; /* what happened to the last object */
	char last_why[400];	 /* and why, in words ("hostNetwork is ...") */
};

void inject_report_init(struct inject_report *r);
void inject_report_release(struct inject_report *r);

/*
 * inject_doc - inject every injectable object of doc (an object or a
 * List), in place. Returns 0, or -ENOMEM. Refusals are not errors here:
 * they are counted in the report (and the object is left unchanged).
 */
int inject_doc(struct yml_node *doc, const struct inject_config *c,
	       struct inject_report *r);

/*
 * inject_object_as - inject one object (not a List) as inject_doc does,
 * but name the workload as_label/as_name (conduit.io/proxy-<as_label>:
 * as_name and the CONDUIT_PROXY_WORKLOAD_* env) instead of the object's
 * own kind and name; either may be NULL for the object's. For the
 * webhook, whose Pods are made by a Deployment or a Job. r->last and
 * r->last_why say what happened. Returns 0, or -ENOMEM.
 */
int inject_object_as(struct yml_node *obj, const struct inject_config *c,
		     const char *as_label, const char *as_name,
		     struct inject_report *r);

/*
 * inject_config_override - apply the config.conduit.io/<flag> entries of
 * an annotations mapping (borrowed: c points into it afterwards) to c,
 * as inject does with a workload's own. Values are not checked here:
 * inject_config_check() (which every injection runs) does that.
 */
void inject_config_override(struct inject_config *c,
			    const struct yml_node *annotations);

/* inject_has_proxy - a pod spec with a container named conduit-proxy */
bool inject_has_proxy(const struct yml_node *pod_spec);

/*
 * uninject_doc - remove what inject added from every object of doc, in
 * place: the two containers, the labels and annotations inject sets, and
 * the collections that held only them. Returns 0 or -ENOMEM.
 */
int uninject_doc(struct yml_node *doc, struct inject_report *r);

#endif
