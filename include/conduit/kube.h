/* SPDX-License-Identifier: Apache-2.0 */
/* kube.h - the Kubernetes API client: config, client, informers */
#ifndef CONDUIT_KUBE_H
#define CONDUIT_KUBE_H

/*
 * One include for consumers (the controller, the CLI, identity):
 *   kube_config.h    kubeconfig (merged KUBECONFIG, contexts) and in-cluster
 *   kube_client.h    HTTPS/HTTP requests on a libev loop, cancellable
 *   kube_watch.h     the watch stream decoder (JSON lines)
 *   kube_store.h     objects by namespace/name, re-list diffs
 *   kube_informer.h  list + watch + re-list + backoff, with counters
 * A typical consumer:
 *
 *   struct kube_config cfg;
 *   if (kube_config_load(NULL, NULL, &cfg, err, sizeof(err)) &&
 *       kube_config_in_cluster(NULL, &cfg, err, sizeof(err)))
 *           die("%s", err);
 *   struct kube_client *c = kube_client_new(loop, &cfg, err, sizeof(err));
 *   struct kube_informer *pods = kube_informer_new(c, &kube_res_pods,
 *           NULL, NULL, &(struct kube_informer_ops){ .on_event = on_pod }, me);
 *   ev_run(loop, 0);
 */
#include "conduit/kube_config.h"
#include "conduit/kube_client.h"
#include "conduit/kube_watch.h"
#include "conduit/kube_store.h"
#include "conduit/kube_informer.h"

#endif
