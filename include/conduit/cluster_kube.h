/* SPDX-License-Identifier: Apache-2.0 */
/* cluster_kube.h - the cluster cache fed by the Kubernetes API (list, then watch) */
#ifndef CONDUIT_CLUSTER_KUBE_H
#define CONDUIT_CLUSTER_KUBE_H

#include <ev.h>

#include "conduit/cluster.h"
#include "conduit/metrics.h"

/*
 * One informer per kind the cache keeps (Pods, Services, EndpointSlices,
 * ReplicaSets), all namespaces, over one client: kubeconfig (--kubeconfig,
 * $KUBECONFIG, ~/.kube/config) or, inside a pod, its ServiceAccount. The
 * informers re-list, resume and back off by themselves (kube_informer.h);
 * every error they meet (a 403 from a missing RBAC rule, a dead API
 * server) is logged with the server's words and retried, never fatal.
 * Ready once every kind had its first full list.
 */

struct cluster_kube;

/*
 * cluster_kube_new - connect cl to the API server. kubeconfig NULL: the
 * default files, then in-cluster. Returns NULL with the reason in err
 * (no configuration found, a broken kubeconfig, bad TLS material).
 */
struct cluster_kube *cluster_kube_new(struct ev_loop *loop, struct cluster *cl,
				      const char *kubeconfig,
				      const char *context, char *err,
				      size_t errlen);
void cluster_kube_free(struct cluster_kube *k);

/* cluster_kube_synced - every kind had its first full list */
bool cluster_kube_synced(const struct cluster_kube *k);

/*
 * cluster_kube_metrics - register kube_informer_* series (lists,
 * re-lists, watches, reconnects, errors, events, objects, synced, per
 * resource), refreshed at each scrape
 */
void cluster_kube_metrics(struct cluster_kube *k, struct metrics_registry *r);

#endif
