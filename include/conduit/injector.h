/* SPDX-License-Identifier: Apache-2.0 */
/* injector.h - the proxy injector: a mutating admission webhook over HTTPS */
#ifndef CONDUIT_INJECTOR_H
#define CONDUIT_INJECTOR_H

#include <ev.h>

#include "conduit/inject.h"
#include "conduit/json.h"
#include "conduit/metrics.h"
#include "conduit/sock.h"

/*
 * The controller's `injector` component (DESIGN.md §4). The Kubernetes
 * API server sends it an AdmissionReview (admission.k8s.io/v1) for every
 * Pod created in a namespace the MutatingWebhookConfiguration `conduit
 * install` writes selects, over HTTPS (POST /inject); it answers with the
 * same review, allowed, and when the pod is to be meshed a JSON Patch
 * that makes it what `conduit inject` makes of it (the same code:
 * inject_object_as()).
 *
 * A pod is injected when its own annotation conduit.io/inject is
 * "enabled", or when it has none (or another value than "disabled") and
 * its namespace's is "enabled". config.conduit.io/<flag> annotations of
 * the namespace, then of the pod, override the injector's flags, as they
 * override `conduit inject`'s. A pod made by a Deployment (through a
 * ReplicaSet carrying its pod-template-hash) is labelled as the
 * Deployment's, as inject labels the Deployment's template; other owners
 * (StatefulSet, DaemonSet, Job, ...) by their own kind and name.
 *
 * Never injected, but allowed as they are with a warning saying why:
 * a pod with conduit.io/inject: disabled, one that already has the proxy,
 * hostNetwork pods, pods with another mesh's sidecar, bad override
 * annotations. Pods nobody asked to mesh pass silently.
 */

/* What a review came to: the reviews_total metric's result label. */
enum injector_result {
	INJECTOR_INJECTED,     /* a patch that adds the proxy */
	INJECTOR_SKIPPED,      /* not asked for (or not a CREATE): as it is */
	INJECTOR_DISABLED,     /* conduit.io/inject: disabled: warned */
	INJECTOR_ALREADY,      /* already has conduit-proxy: warned */
	INJECTOR_REFUSED,      /* hostNetwork, another mesh, ...: warned */
	INJECTOR_BAD_REQUEST,  /* not a review we can read: HTTP 400 */
	INJECTOR_NRESULTS,
};

/* injector_result_name - "injected", "skipped", ... "bad_request" */
const char *injector_result_name(enum injector_result r);

/*
 * injector_ns_fn - the annotations of namespace ns (a JSON object,
 * borrowed until the review returns), or NULL when it has none or is not
 * known
 */
typedef const struct json *injector_ns_fn(void *arg, const char *ns);

struct injector_review_config {
	const struct inject_config *inject; /* the injector's flags */
	injector_ns_fn *ns_annotations;	    /* NULL: pod annotations only */
	void *arg;
};

/* Bodies bigger than this are refused (HTTP 413) before parsing. */
#define INJECTOR_MAX_BODY (4u << 20)

/*
 * injector_review - answer the AdmissionReview body[0..len). For every
 * result but INJECTOR_BAD_REQUEST, *out is the answer (an AdmissionReview
 * with response.uid = request.uid, allowed: true, and patchType
 * "JSONPatch" with a base64 patch when injected; caller frees with
 * free()), and why says what happened in words (the warning sent, or why
 * it was skipped). For INJECTOR_BAD_REQUEST, *out is NULL and why says
 * what is wrong and where ("request.uid: missing"). Never fails
 * otherwise (out of memory dies, as xmalloc does).
 */
enum injector_result injector_review(const struct injector_review_config *rc,
				     const char *body, size_t len, char **out,
				     char *why, size_t whylen);

struct injector;

struct injector_config {
	struct ev_loop *loop;
	struct metrics_registry *metrics; /* injector_* series; borrowed,
					   * required */
	const char *tls_dir;	/* tls.crt and tls.key; re-read on change */
	struct sock_addr addr;	/* HTTPS listener (0.0.0.0:8443) */
	/* namespaces from the Kubernetes API (kube_config_auto with these),
	 * or, when !use_kube, from nowhere: pod annotations only */
	bool use_kube;
	const char *kubeconfig, *context;
	/* the trust anchors (PEM, a CA) injected proxies get, or NULL: no
	 * identity for them. Read at start, and again when the file changes
	 * (kubelet swaps a ConfigMap's files on update); a bad new file is
	 * logged and the anchors before it stay. Overrides
	 * inject.trust_anchors_pem. */
	const char *trust_anchors_file;
	struct inject_config inject; /* strings borrowed, outlive the injector */
};

/*
 * injector_new - load the certificate, listen, and start watching
 * namespaces. NULL with the reason in err (a missing or bad certificate,
 * an address in use, no Kubernetes configuration).
 */
struct injector *injector_new(const struct injector_config *cfg, char *err,
			      size_t errlen);
void injector_free(struct injector *inj);

/* injector_ready - the certificate is loaded and, with the Kubernetes
 * API, every namespace listed once */
bool injector_ready(const struct injector *inj);

/* injector_local_addr - where it listens (port 0 resolved): 0 or -errno */
int injector_local_addr(const struct injector *inj, struct sock_addr *out);

#endif
