/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve.h - asynchronous DNS on a libev loop, with c-ares.
 *
 * One resolver per loop; lookups never block it. The servers, search
 * list and ndots come from a resolv.conf (by default /etc/resolv.conf,
 * which in a pod is the kubelet's: cluster DNS and the namespace's search
 * path), so "conduit-dst.conduit.svc.cluster.local" resolves the way the
 * pod's other processes see it.
 */
#ifndef CONDUIT_RESOLVE_H
#define CONDUIT_RESOLVE_H

#include <ev.h>

#include "conduit/sock.h"

struct resolver;

/* at most this many addresses reach a callback */
#define RESOLVE_MAX_ADDRS 16

/*
 * resolve_cb - the answer to one lookup, exactly once: addrs[0..n) with
 * the port of the request (n > 0), or n == 0 and error saying why
 * ("no such name", "connection refused by the DNS server", "timed out",
 * "resolver shut down" when the resolver is freed first). Both are
 * borrowed for the call.
 */
typedef void (*resolve_cb)(void *arg, const struct sock_addr *addrs, size_t n,
			   const char *error);

/*
 * resolver_new - a resolver on loop reading resolv_conf (NULL: the
 * system's). Returns NULL with the reason in err when c-ares cannot
 * start (an unreadable file is not an error: c-ares then asks
 * 127.0.0.1).
 */
struct resolver *resolver_new(struct ev_loop *loop, const char *resolv_conf,
			      char *err, size_t errlen);

/*
 * resolver_free - cancel every lookup (each callback runs once with
 * "resolver shut down") and release the resolver. NULL: no-op.
 */
void resolver_free(struct resolver *r);

/*
 * resolver_lookup - resolve host (a name, or a literal IP which answers
 * at once) to IPv4 and IPv6 addresses, IPv4 first, each with port.
 * Returns 0 (cb runs later, maybe before this returns for a literal), or
 * -EINVAL for an empty or over-long name (cb does not run).
 */
int resolver_lookup(struct resolver *r, const char *host, int port,
		    resolve_cb cb, void *arg);

/*
 * resolver_start - resolver_lookup for a caller that may go away first:
 * *out is a handle for resolver_cancel() while the lookup is pending, or
 * NULL when cb already ran (a literal, /etc/hosts) or on error. Returns
 * 0 or -EINVAL / -ENOMEM (cb does not run).
 */
struct resolve_req;
int resolver_start(struct resolver *r, const char *host, int port,
		   resolve_cb cb, void *arg, struct resolve_req **out);
/* resolver_cancel - cb of a pending lookup will not run. NULL: no-op. */
void resolver_cancel(struct resolve_req *q);

/*
 * resolve_split_host_port - "name:port" or "[v6]:port" into host (NUL
 * terminated, at most hostlen - 1 chars) and *port. Returns 0, or
 * -EINVAL with the reason in err.
 */
int resolve_split_host_port(const char *s, char *host, size_t hostlen,
			    int *port, char *err, size_t errlen);

/*
 * resolve_split_authority - an HTTP authority (Host header, :authority,
 * CONNECT target; len bytes, not NUL-terminated): "name", "name:port",
 * "[v6]" or "[v6]:port", the port defaulting to default_port. Returns 0
 * or -EINVAL.
 */
int resolve_split_authority(const char *s, size_t len, char *host,
			    size_t hostlen, int *port, int default_port);

#endif
