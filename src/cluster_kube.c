/* SPDX-License-Identifier: Apache-2.0 */
/* cluster_kube.c - the cluster cache fed by the Kubernetes API (list, then watch) */
#include "conduit/cluster_kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/kube_client.h"
#include "conduit/kube_config.h"
#include "conduit/kube_informer.h"
#include "conduit/log.h"

#define NKINDS 4

struct kind_src {
	struct cluster_kube *k;
	const struct kube_resource *res;
	struct kube_informer *inf;
	bool synced;
	struct metrics_series *m[8];
};

struct cluster_kube {
	struct cluster *cl;
	struct kube_config cfg;
	struct kube_client *client;
	struct kind_src kinds[NKINDS];
};

static void on_event(void *arg, enum kube_event_type type,
		     const struct json *obj)
{
	struct kind_src *ks = arg;
	char err[512], q[600];

	if (cluster_apply(ks->k->cl,
			  type == KUBE_DELETED ? CLUSTER_DELETE : CLUSTER_UPSERT,
			  obj, err, sizeof(err)) < 0)
		log_warn("kubernetes: object refused", "resource=%s error=%s",
			 ks->res->plural, log_quote(q, sizeof(q), err));
}

static void on_synced(void *arg)
{
	struct kind_src *ks = arg;

	if (!ks->synced)
		log_info("kubernetes: listed", "resource=%s", ks->res->plural);
	ks->synced = true;
	if (cluster_kube_synced(ks->k))
		cluster_set_synced(ks->k->cl, true);
}

static void on_error(void *arg, const char *msg)
{
	struct kind_src *ks = arg;
	char q[600];

	log_warn("kubernetes: request failed; retrying", "resource=%s error=%s",
		 ks->res->plural, log_quote(q, sizeof(q), msg));
}

static const struct kube_informer_ops ops = {
	.on_event = on_event,
	.on_synced = on_synced,
	.on_error = on_error,
};

struct cluster_kube *cluster_kube_new(struct ev_loop *loop, struct cluster *cl,
				      const char *kubeconfig,
				      const char *context, char *err,
				      size_t errlen)
{
	const struct kube_resource *res[NKINDS] = {
		&kube_res_pods, &kube_res_services, &kube_res_endpointslices,
		&kube_res_replicasets,
	};
	struct cluster_kube *k = xcalloc(1, sizeof(*k));
	char e1[400], e2[400];
	int r;

	k->cl = cl;
	r = kube_config_load(kubeconfig, context, &k->cfg, e1, sizeof(e1));
	if (r == -ENOENT && !kubeconfig) {
		/* no kubeconfig anywhere: maybe we run in a pod */
		r = kube_config_in_cluster(NULL, &k->cfg, e2, sizeof(e2));
		if (r < 0) {
			snprintf(err, errlen, "no Kubernetes configuration: %s; in-cluster: %s",
				 e1, e2);
			free(k);
			return NULL;
		}
	} else if (r < 0) {
		snprintf(err, errlen, "%s", e1);
		free(k);
		return NULL;
	}
	k->client = kube_client_new(loop, &k->cfg, err, errlen);
	if (!k->client) {
		kube_config_release(&k->cfg);
		free(k);
		return NULL;
	}
	cluster_set_synced(cl, false);
	log_info("kubernetes: API client ready", "source=%s", k->cfg.source ? k->cfg.source : "-");
	for (int i = 0; i < NKINDS; i++) {
		k->kinds[i].k = k;
		k->kinds[i].res = res[i];
		k->kinds[i].inf = kube_informer_new(k->client, res[i], NULL, NULL,
						    &ops, &k->kinds[i]);
	}
	return k;
}

void cluster_kube_free(struct cluster_kube *k)
{
	if (!k)
		return;
	for (int i = 0; i < NKINDS; i++)
		kube_informer_free(k->kinds[i].inf);
	kube_client_free(k->client);
	kube_config_release(&k->cfg);
	free(k);
}

bool cluster_kube_synced(const struct cluster_kube *k)
{
	for (int i = 0; i < NKINDS; i++)
		if (!k->kinds[i].synced)
			return false;
	return true;
}

static void collect(struct metrics_registry *r, void *arg)
{
	struct cluster_kube *k = arg;

	(void)r;
	for (int i = 0; i < NKINDS; i++) {
		struct kind_src *ks = &k->kinds[i];
		struct kube_informer_stats st;

		kube_informer_stats(ks->inf, &st);
		metrics_gauge_set(ks->m[0], (double)st.lists);
		metrics_gauge_set(ks->m[1], (double)st.relists);
		metrics_gauge_set(ks->m[2], (double)st.watches);
		metrics_gauge_set(ks->m[3], (double)st.reconnects);
		metrics_gauge_set(ks->m[4], (double)st.errors);
		metrics_gauge_set(ks->m[5], (double)(st.events[0] + st.events[1] + st.events[2]));
		metrics_gauge_set(ks->m[6], (double)st.objects);
		metrics_gauge_set(ks->m[7], st.synced);
	}
}

void cluster_kube_metrics(struct cluster_kube *k, struct metrics_registry *r)
{
	static const struct {
		enum metrics_type type;
		const char *name, *help;
	} fam[8] = {
		{ METRICS_COUNTER, "kube_informer_lists_total", "Complete lists (first and re-lists)" },
		{ METRICS_COUNTER, "kube_informer_relists_total", "Re-lists after 410 Gone" },
		{ METRICS_COUNTER, "kube_informer_watches_total", "Watch requests started" },
		{ METRICS_COUNTER, "kube_informer_reconnects_total", "Retries after an error" },
		{ METRICS_COUNTER, "kube_informer_errors_total", "Failed requests" },
		{ METRICS_COUNTER, "kube_informer_events_total", "Object changes applied" },
		{ METRICS_GAUGE, "kube_informer_objects", "Objects in the informer's store" },
		{ METRICS_GAUGE, "kube_informer_synced", "1 once the first list is complete" },
	};
	static const char *const label[] = { "resource" };

	for (int f = 0; f < 8; f++) {
		struct metrics_family *mf = metrics_family_new(
			r, fam[f].type, fam[f].name, fam[f].help, label, 1, NULL, 0);

		for (int i = 0; i < NKINDS; i++)
			k->kinds[i].m[f] = metrics_series_get(mf, &k->kinds[i].res->plural);
	}
	metrics_registry_add_collector(r, collect, k);
}
