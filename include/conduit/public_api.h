/* SPDX-License-Identifier: Apache-2.0 */
/* public_api.h - the controller's public API: JSON over HTTP/1.1 for the CLI and dashboard */
#ifndef CONDUIT_PUBLIC_API_H
#define CONDUIT_PUBLIC_API_H

#include <ev.h>

#include "conduit/cluster.h"
#include "conduit/metrics.h"
#include "conduit/sock.h"

/*
 * GET /api/v1/version                      {"version": "..."}
 * GET /api/v1/pods?namespace=              {"pods": [...]}
 * GET /api/v1/stat?resource=&namespace=&name=&window=
 *     resource: deployment, pod, namespace (inbound traffic of their
 *     meshed pods), service, authority (outbound traffic to them)
 *     window: 10s to 1h (default 1m)       {"window": "1m", "rows": [...]}
 * GET /api/v1/edges?resource=deployment|pod&namespace=&window=
 *                                          {"edges": [...]}
 * Errors: {"error": "<what>"} with 400 (bad parameter) or 404 (no such
 * resource). namespace empty or absent: every namespace.
 *
 * Stats come from the embedded backend: the API scrapes every meshed,
 * running pod's proxy (/metrics on its conduit-admin port) every
 * scrape_interval and keeps an hour of snapshots (stats.h). Or, with
 * prometheus_url, from a Prometheus that scrapes the proxies (promql.h):
 * the same answers, computed from PromQL, given when the queries return;
 * 503 {"error"} when it cannot be reached, 502 when it answers garbage.
 */

struct public_api_config {
	struct ev_loop *loop;
	struct cluster *cluster;	  /* borrowed */
	struct metrics_registry *metrics; /* borrowed; may be NULL */
	double scrape_interval;		  /* s (10) */
	const char *prometheus_url;	  /* http://HOST:PORT, or NULL (the
					   * embedded scraper); copied */
};

struct public_api;

/* public_api_new - NULL (logged) when prometheus_url is not an http://
 * URL that resolves */
struct public_api *public_api_new(const struct public_api_config *cfg);
/* public_api_listen - 0 or a negative errno */
int public_api_listen(struct public_api *pa, const struct sock_addr *a);
void public_api_free(struct public_api *pa);

/* public_api_parse_resource - "deploy", "deployments", "po", "svc", ...
 * to the canonical singular; NULL when unknown */
const char *public_api_parse_resource(const char *s);

#endif
