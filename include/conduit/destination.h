/* SPDX-License-Identifier: Apache-2.0 */
/* destination.h - the controller's destination component: Destination.Get over gRPC */
#ifndef CONDUIT_DESTINATION_H
#define CONDUIT_DESTINATION_H

#include <ev.h>

#include "conduit/cluster.h"
#include "conduit/grpc.h"
#include "conduit/metrics.h"
#include "net.pb-c.h"

/*
 * io.linkerd.proxy.destination.Destination (linkerd2-proxy-api's message
 * shapes and field numbers, ../shared/WIRE.md), so a Linkerd proxy can use
 * our controller and our proxy Linkerd's:
 *
 *   Get(GetDestination{path = "<svc>.<ns>.svc.<domain>:<port>"})
 *     -> stream Update: first the whole set (`add`), or `no_endpoints`
 *        {exists} when there is none; then the differences as the cluster
 *        changes: `add` for new or changed addresses (labels, identity),
 *        `remove` for addresses gone, `no_endpoints{exists}` when the set
 *        empties or the service goes away. A path that is an IP:port
 *        answers that one address (with its pod's labels when a pod has
 *        the IP). A malformed path: INVALID_ARGUMENT.
 *   GetProfile(GetDestination) -> one default DestinationProfile (its
 *        fully qualified name and the default retry budget), held open.
 *
 * Every address carries metric labels (pod, deployment or another owner
 * kind, serviceaccount; the set: namespace, service), a meshed pod's TLS
 * identity and the h2 protocol hint (meshed proxies speak HTTP/2 between
 * them). Changes are coalesced: a burst of cache events becomes one
 * recomputation per subscribed stream, on the next loop iteration, for
 * the streams of the namespace that changed. A stream whose client reads
 * too slowly keeps its place and gets the then-current difference once
 * it has room.
 */

struct destination;

struct destination_config {
	struct ev_loop *loop;
	struct cluster *cluster;	  /* borrowed, outlives it */
	struct metrics_registry *metrics; /* borrowed; may be NULL */
	size_t max_streams;		  /* open Get streams (100000) */
	size_t max_conns;		  /* client connections (10000) */
};

struct destination_stats {
	uint64_t gets, profiles, invalid;
	uint64_t updates_sent, recomputes;
	size_t streams;
};

/* destination_new - the component (not listening); NULL on no memory */
struct destination *destination_new(const struct destination_config *cfg);
/* destination_listen - serve on a; 0 or a negative errno */
int destination_listen(struct destination *d, const struct sock_addr *a);
int destination_local_addr(const struct destination *d, struct sock_addr *out);
void destination_stats(const struct destination *d,
		       struct destination_stats *out);
/* destination_shutdown - stop accepting; streams end with the server */
void destination_free(struct destination *d);

/*
 * destination_tcp_addr / destination_sock_addr - between a sock_addr and
 * the wire's TcpAddress (IPv4 host order, IPv6 as two 64-bit halves).
 * destination_tcp_addr fills t, ip and ip6 (caller storage, linked
 * together). destination_sock_addr returns 0 or -EINVAL (no or bad IP).
 */
void destination_tcp_addr(const struct sock_addr *a,
			  Io__Linkerd__Proxy__Net__TcpAddress *t,
			  Io__Linkerd__Proxy__Net__IPAddress *ip,
			  Io__Linkerd__Proxy__Net__IPv6 *ip6);
int destination_sock_addr(const Io__Linkerd__Proxy__Net__TcpAddress *t,
			  struct sock_addr *out);

#endif
