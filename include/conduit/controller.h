/* SPDX-License-Identifier: Apache-2.0 */
/* controller.h - `conduit controller`: the control plane's components in one process */
#ifndef CONDUIT_CONTROLLER_H
#define CONDUIT_CONTROLLER_H

#include <ev.h>

#include "conduit/cluster.h"
#include "conduit/inject.h"
#include "conduit/log.h"
#include "conduit/sock.h"

/*
 * One process runs the components named by --components over one cluster
 * cache, fed either by the Kubernetes API (--kubeconfig, or in-cluster)
 * or by a directory of YAML (--cluster-dir, local mode). Every component
 * listens on its own address; the admin address serves /metrics, /ready
 * (200 once the cache has its first full view, and the identity issuer is
 * loaded and unexpired) and /live. The cache is kept only for the
 * components that read it (destination, public-api): identity alone
 * needs no more of the API than TokenReviews (install's RBAC).
 */

enum controller_component {
	CONTROLLER_DESTINATION = 1u << 0,
	CONTROLLER_PUBLIC_API = 1u << 1,
	CONTROLLER_INJECTOR = 1u << 2,
	CONTROLLER_WEB = 1u << 3,
	CONTROLLER_IDENTITY = 1u << 4,
};

struct controller_config {
	unsigned components;	  /* CONTROLLER_* bits */
	const char *cluster_dir;  /* local mode, or NULL */
	double cluster_dir_interval; /* seconds between re-scans (1) */
	const char *kubeconfig;	  /* NULL: $KUBECONFIG, ~/.kube/config,
				   * in-cluster */
	const char *context;
	const char *controller_ns;  /* "conduit" */
	const char *cluster_domain; /* "cluster.local" */
	struct sock_addr destination_addr; /* 0.0.0.0:8086 */
	struct sock_addr public_api_addr;  /* 0.0.0.0:8085 */
	struct sock_addr admin_addr;	   /* 0.0.0.0:9996 */
	struct sock_addr web_addr;	   /* web: 0.0.0.0:8084 */
	const char *public_api_url;	   /* web: the API it reads (NULL: this
					    * process's, else 127.0.0.1:8085) */
	const char *const *web_hosts;	   /* web: allowed Hosts (NULL: the
					    * defaults of web.h) */
	size_t nweb_hosts;
	struct sock_addr identity_addr;	   /* 0.0.0.0:8080 */
	const char *identity_issuer_dir;   /* tls.crt, tls.key (ca.crt) */
	const char *identity_trust_anchors_file; /* NULL: issuer dir's ca.crt */
	const char *identity_trust_domain; /* NULL: cluster_domain */
	const char *identity_tokens_dir;   /* local mode: <ns>.<sa> files */
	int64_t identity_lifetime;	   /* leaf seconds (86400) */
	int64_t identity_clock_skew;	   /* leaf backdate seconds (20) */
	double scrape_interval;		   /* public-api: s between scrapes */
	const char *prometheus_url;	   /* public-api: stats from there */
	enum log_level log_level;
	/* injector: the HTTPS webhook; tls.crt and tls.key in its dir; the
	 * inject flags it injects with (control_plane_ns and cluster_domain
	 * are taken from the two above at run time) */
	struct sock_addr injector_addr; /* 0.0.0.0:8443 */
	const char *injector_tls_dir;	/* /var/run/conduit/tls */
	struct inject_config inject;
};

/* controller_config_init - the defaults above */
void controller_config_init(struct controller_config *cfg);

/*
 * controller_parse_components - "destination,public-api" into bits.
 * Returns 0, or -EINVAL with the unknown name (or the component that is
 * not built yet) in err.
 */
int controller_parse_components(const char *s, unsigned *out, char *err,
				size_t errlen);

/*
 * controller_run - start everything cfg asks for on loop, run until
 * SIGTERM/SIGINT, stop. Returns the exit code: 0, or 1 when something
 * could not start (logged).
 */
int controller_run(const struct controller_config *cfg, struct ev_loop *loop);

#endif
