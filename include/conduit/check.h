/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.h - `conduit check`: is the cluster ready for the mesh (--pre),
 * is the control plane healthy, are the proxies of a namespace healthy
 * (--proxy). Linkerd's `check` output: sections of "√ what" / "× what"
 * (with the reason and a hint below) / "‼ what" (a warning), then
 * "Status check results are √" or "×".
 */
#ifndef CONDUIT_CHECK_H
#define CONDUIT_CHECK_H

#include <stdio.h>

#include "conduit/base.h"

struct check_opts {
	const char *kubeconfig; /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
	const char *context;
	const char *cp_ns;	/* the control plane's namespace ("conduit") */
	bool pre;		/* before install: can the mesh go in? */
	const char *proxy_ns;	/* also the data plane of this namespace */
	double wait;		/* seconds to retry a failing check (0: none) */
	FILE *out;
};

/*
 * check_run - run the checks, print as they go. Returns 0 when none
 * failed (warnings allowed), 1 otherwise.
 */
int check_run(const struct check_opts *o);

/*
 * check_parse_k8s_version - major and minor from a /version answer's
 * gitVersion ("v1.34.4", "v1.29.0-eks-1234"). Returns 0, or -EINVAL.
 */
int check_parse_k8s_version(const char *s, int *major, int *minor);

/* the oldest Kubernetes with native sidecars (inject's default) */
#define CHECK_NATIVE_SIDECAR_MINOR 29
/* the oldest Kubernetes the mesh runs on at all (EndpointSlice v1) */
#define CHECK_MIN_MINOR 21

#endif
