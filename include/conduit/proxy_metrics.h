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
 *     {direction, peer="src|dst", tls, client_id, server_id, target_addr,
 *      <workload labels>}
 *   tcp_refused_total{direction, reason, <workload labels>}
 *     connections accepted and closed at once: max_connections,
 *     no_destination (not redirected, no --inbound-forward), loop
 *
 * peer="src" is the accepted side (bytes read from it are what the client
 * sent), peer="dst" the side the proxy connected to. The workload labels
 * are namespace, pod and <kind>=<name> (deployment="web"), each present
 * when configured.
 *
 * tls is "true" for a connection secured by mesh TLS, with the peer's
 * identity in client_id (inbound: the client's certificate; absent when
 * it showed none) or server_id (outbound: the identity the server
 * proved); for a plaintext one "no_identity" when this proxy has an
 * identity and "disabled" when it has none.
 * A connection finds its series once, at accept, through a cache keyed by
 * direction and target (one hash lookup), and then only adds to them.
 *
 * HTTP (request-level, Linkerd's names; the HTTP handlers record them):
 *
 *   request_total                             counter
 *     {direction, authority, tls, client_id, server_id, target_addr,
 *      <dst_* labels of an
 *      endpoint discovery chose>, <workload labels>}
 *   response_total                            counter
 *     {..., classification="success|failure", status_code,
 *      grpc_status_code}
 *   response_latency_ms                       histogram (DESIGN.md bounds)
 *     {..., status_code}: request start to response headers
 *
 * success is a status below 500 (a 4xx is the client's failure, not the
 * server's) with no gRPC status or gRPC status 0 (OK); grpc_status_code
 * is "" (no label, to Prometheus) for a response that carried none. A handler finds the series of a (direction, target,
 * authority) once (proxy_metrics_http), and of a status within it once
 * (proxy_metrics_http_status): the first PROXY_HTTP_STATUSES statuses are
 * kept in the entry, so recording a response is a short scan and three
 * adds, with no allocation. Past 5000 authorities the authority label of
 * new ones is "" (bounded memory against a client sending random Hosts).
 * HTTP/1 records with no gRPC status; the HTTP/2 handler passes the
 * grpc-status of the trailers (or of a Trailers-Only head).
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

/* one status code's series within an HTTP entry */
struct proxy_http_status {
	int code;
	int grpc;			/* grpc-status, or -1: none */
	struct metrics_series *total;	/* response_total */
	struct metrics_series *latency; /* response_latency_ms */
};

#define PROXY_HTTP_STATUSES 16

/* the HTTP series of one (direction, target, authority) */
struct proxy_http_metrics {
	struct metrics_series *request_total;
	char *authority;	/* the key as given (owned) */
	size_t authority_len;
	struct proxy_http_status st[PROXY_HTTP_STATUSES];
	size_t nst;
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
 * target secured with tls_id (the peer's identity, "" when it has none;
 * NULL: plaintext), created on first use. Never NULL; borrowed, valid until
 * proxy_metrics_free(). Past METRICS_DEFAULT_MAX_SERIES targets the
 * series are shared overflow ones that are not written out.
 */
struct proxy_target_metrics *proxy_metrics_target(struct proxy_metrics *pm,
						  enum proxy_dir dir,
						  const struct sock_addr *target,
						  const char *tls_id);

/*
 * proxy_metrics_set_identity - this proxy has an identity: plaintext
 * connections are labelled tls="no_identity" (default "disabled")
 */
void proxy_metrics_set_identity(struct proxy_metrics *pm, bool enabled);

/*
 * proxy_metrics_http - the HTTP series for requests in direction dir to
 * target over a connection secured with tls_id (as for
 * proxy_metrics_target) with this authority (the Host header, any bytes; alen of them),
 * created on first use. Never NULL; borrowed, valid until
 * proxy_metrics_free().
 */
struct proxy_http_metrics *proxy_metrics_http(struct proxy_metrics *pm,
					      enum proxy_dir dir,
					      const struct sock_addr *target,
					      const char *tls_id,
					      const char *authority,
					      size_t alen);

/*
 * proxy_metrics_http_dst - the same for an endpoint service discovery
 * chose: dst (DSC_LABELS values in dsc_label_names' order, NULL ones
 * left out) adds its dst_namespace, dst_service, dst_pod, ... labels.
 * dst NULL: proxy_metrics_http.
 */
struct proxy_http_metrics *
proxy_metrics_http_dst(struct proxy_metrics *pm, enum proxy_dir dir,
		       const struct sock_addr *target, const char *tls_id,
		       const char *authority, size_t alen, char *const *dst);

/*
 * proxy_metrics_http_status - the series of status code in hm (found in
 * hm, else created and kept there while it has room). Never NULL;
 * borrowed like hm.
 */
const struct proxy_http_status *
proxy_metrics_http_status(struct proxy_metrics *pm,
			  struct proxy_http_metrics *hm, int code);

/*
 * proxy_metrics_grpc_status - the same for a response with gRPC status
 * grpc (-1: none, as proxy_metrics_http_status): its own response_total
 * series, the latency series of its HTTP status. Never NULL.
 */
const struct proxy_http_status *
proxy_metrics_grpc_status(struct proxy_metrics *pm,
			  struct proxy_http_metrics *hm, int code, int grpc);

/* proxy_metrics_refused - count one refused connection */
void proxy_metrics_refused(struct proxy_metrics *pm, enum proxy_dir dir,
			   enum proxy_refuse_reason why);

#endif
