/* SPDX-License-Identifier: Apache-2.0 */
/* install.h - the control plane's Kubernetes objects, rendered */
#ifndef CONDUIT_INSTALL_H
#define CONDUIT_INSTALL_H

#include "conduit/yaml.h"

/*
 * `conduit install` renders manifests/install.yml (and prometheus.yml),
 * embedded in the binary, with validated values; generates or loads the
 * identity trust anchor and issuer and the proxy injector's serving
 * certificate; injects every control-plane pod (the mesh meshes itself);
 * and orders the objects for `kubectl apply`.
 */
struct install_config {
	const char *namespace_;	  /* conduit */
	const char *image_repo;	  /* localhost/conduit (the build's) */
	const char *version;	  /* the CLI's version */
	const char *image_pull_policy; /* IfNotPresent */
	const char *log_level;	  /* info: controller and proxies */
	long long controller_replicas; /* 1; --ha makes it 3 */
	bool ha;		  /* replicas and pod anti-affinity */
	bool prometheus;	  /* install conduit's Prometheus */
	const char *prometheus_image;
	const char *cluster_domain; /* cluster.local */
	/* identity: PEM files, or NULL to generate at install time */
	const char *trust_anchors_file;
	const char *issuer_cert_file;
	const char *issuer_key_file;
	long long issuer_lifetime_days; /* generated issuer: 365 */
	long long anchor_lifetime_days; /* generated anchor: 365 */
	bool native_sidecar;	  /* the proxies of the control plane */
};

/*
 * install_identity_new - a new trust anchor (its key thrown away) and an
 * issuer CA under it for the identity component of namespace ns: PEM
 * appended to anchors, issuer_crt and issuer_key. The issuer never
 * outlives the anchor. Returns 0 or a negative errno with err set.
 */
struct buf;
int install_identity_new(const char *ns, const char *cluster_domain,
			 int64_t anchor_days, int64_t issuer_days,
			 struct buf *anchors, struct buf *issuer_crt,
			 struct buf *issuer_key, char *err, size_t errlen);

void install_config_defaults(struct install_config *c, const char *version);

/*
 * install_render - append the control plane's objects to out, in apply
 * order. Returns 0, or -EINVAL with "--flag: why" or "<file>: why" in err
 * for bad values and bad certificate files (nothing appended then).
 */
int install_render(const struct install_config *c, struct yml_stream *out,
		   char *err, size_t errlen);

#endif
