/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_metrics.h - the proxy's metric families and its per-target series */
#ifndef CONDUIT_PROXY_METRICS_H
#define CONDUIT_PROXY_METRICS_H

#include "conduit/metrics.h"
#include "conduit/proxy_config.h"
#include "conduit/sock.h"

/*
 * Linkerd's names and labels (DESIGN.md 3), so its dashboards work:
 *
 *   tcp_open_total, tcp_close_total           counters
 *   tcp_open_connections                      gauge
 *   tcp_read_bytes_total, tcp_write_bytes_total  counters
 *     {direction, peer="src|dst", tls, target_addr, <workload labels>}
 *   tcp_refused_total{direction, reason, <workload labels>}
 *     connections accepted and closed at once: max_connections,
 *     no_destination (not redirected, no --inbound-forward), loop
 *
 * peer="src" is the accepted side (bytes read from it are what the client
 * sent), peer="dst" the side the proxy connected to. The workload labels
 * are namespace, pod and <kind>=<name> (deployment="web"), each present
 * when configured.
 *
 * A connection finds its series once, at accept, through a cache keyed by
 * direction and target (one hash lookup), and then only adds to them.
 */

/* one peer's tcp_* series */
struct proxy_tcp_series {
	struct metrics_series *open_total;
	struct metrics_series *close_total;
	struct metrics_series *open_conns;
	struct metrics_series *read_bytes;
	struct metrics_series *write_bytes;
};

/* everything a connection to one target records */
struct proxy_target_metrics {
	struct proxy_tcp_series src;
	struct proxy_tcp_series dst;
};

enum proxy_refuse_reason {
	PROXY_REFUSE_MAX_CONNECTIONS,
	PROXY_REFUSE_NO_DESTINATION,
	PROXY_REFUSE_LOOP,
	PROXY_REFUSE_NREASONS,
};

struct proxy_metrics;

/*
 * proxy_metrics_new - register the families (and the process_* ones) in
 * a new registry, with cfg's workload labels (copied). Free with
 * proxy_metrics_free(), which frees the registry too.
 */
struct proxy_metrics *proxy_metrics_new(const struct proxy_config *cfg);
void proxy_metrics_free(struct proxy_metrics *pm);

/* proxy_metrics_registry - the registry, for /metrics; borrowed */
struct metrics_registry *proxy_metrics_registry(struct proxy_metrics *pm);

/*
 * proxy_metrics_target - the series for connections in direction dir to
 * target, created on first use. Never NULL; borrowed, valid until
 * proxy_metrics_free(). Past METRICS_DEFAULT_MAX_SERIES targets the
 * series are shared overflow ones that are not written out.
 */
struct proxy_target_metrics *proxy_metrics_target(struct proxy_metrics *pm,
						  enum proxy_dir dir,
						  const struct sock_addr *target);

/* proxy_metrics_refused - count one refused connection */
void proxy_metrics_refused(struct proxy_metrics *pm, enum proxy_dir dir,
			   enum proxy_refuse_reason why);

#endif
