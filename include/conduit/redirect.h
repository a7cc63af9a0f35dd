/* SPDX-License-Identifier: Apache-2.0 */
/* redirect.h - proxy-init's policy: which nf_tables rules send a pod's TCP to its proxy */
#ifndef CONDUIT_REDIRECT_H
#define CONDUIT_REDIRECT_H

#include <stdint.h>

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/netlist.h"
#include "conduit/nft.h"

/*
 * One table per address family, so that nothing else in the pod's network
 * namespace is touched: `table ip conduit_proxy_init` (and `table ip6
 * conduit_proxy_init` with ipv6), each with two nat base chains:
 *
 *   PROXY_INIT_REDIRECT  hook prerouting, priority dstnat (-100)
 *     tcp dport 4190 return            proxy-init/ignore-inbound-port-4190
 *     tcp dport 4191 return            proxy-init/ignore-inbound-port-4191
 *     tcp dport P return               proxy-init/ignore-inbound-port-P
 *     ip saddr CIDR return             proxy-init/ignore-inbound-subnet-CIDR
 *     meta l4proto tcp redirect to :4143
 *                                      proxy-init/redirect-all-inbound-to-4143
 *     (or, with ports to redirect, one "tcp dport P redirect to :4143"
 *      per entry: proxy-init/redirect-inbound-port-P-to-4143)
 *
 *   PROXY_INIT_OUTPUT    hook output, priority -100
 *     meta skuid 2102 return           proxy-init/ignore-uid
 *     meta skgid G return              proxy-init/ignore-gid (when set)
 *     oifname "lo" return              proxy-init/ignore-loopback
 *     tcp dport P return               proxy-init/ignore-outbound-port-P
 *     ip daddr CIDR return             proxy-init/ignore-outbound-subnet-CIDR
 *     meta l4proto tcp redirect to :4140
 *                                      proxy-init/redirect-all-outbound-to-4140
 *
 * Subnets apply to the table of their family (IPv6 ones only with ipv6).
 * Traffic leaving through lo (127.0.0.0/8, ::1, and the pod's own address)
 * is never redirected.
 */
#define REDIRECT_TABLE "conduit_proxy_init"
#define REDIRECT_CHAIN_INBOUND "PROXY_INIT_REDIRECT"
#define REDIRECT_CHAIN_OUTBOUND "PROXY_INIT_OUTPUT"

#define REDIRECT_INBOUND_PORT 4143
#define REDIRECT_OUTBOUND_PORT 4140
#define REDIRECT_PROXY_UID 2102

struct redirect_config {
	uint16_t inbound_port;	/* where inbound TCP goes (4143) */
	uint16_t outbound_port; /* where outbound TCP goes (4140) */
	int64_t proxy_uid;	/* its traffic is never redirected; -1: none */
	int64_t proxy_gid;	/* likewise; -1: none (the default) */
	struct netlist_ports inbound_ignore;  /* besides 4190 and 4191 */
	struct netlist_ports outbound_ignore;
	struct netlist_ports redirect_ports;  /* inbound ports to redirect;
					       * empty: all of them */
	struct netlist_cidrs subnets_ignore;  /* inbound by source, outbound
					       * by destination */
	bool ipv6;			      /* also the ip6 table */
};

/* The proxy's admin and tap ports: never redirected inbound. */
extern const uint16_t redirect_always_ignored[2];

/* redirect_config_init - the defaults above; _release frees the lists */
void redirect_config_init(struct redirect_config *c);
void redirect_config_release(struct redirect_config *c);

/*
 * redirect_build - the table of one family that c asks for, into *out
 * (initialized here; the caller releases it).
 */
void redirect_build(const struct redirect_config *c, enum nft_family family,
		    struct nft_table *out);

/*
 * redirect_format - what a run installs, in `nft -f` syntax, appended to
 * out: for each family "table F T", "delete table F T" and the table, so
 * that `nft -f` of the text does exactly what the run's batch does.
 * With cleanup, the text of a cleanup instead (add and delete each table).
 */
void redirect_format(const struct redirect_config *c, bool cleanup,
		     struct buf *out);

/*
 * redirect_install - replace our tables with what c asks for, in one
 * atomic batch: the wanted families' tables are replaced (created if
 * absent), an ip6 table left by an earlier --ipv6 run is deleted when c
 * does not want it. On any error nothing changed. *nrules (may be NULL)
 * gets the number of rules installed. Returns 0 or a negative errno with
 * *err naming the step.
 */
int redirect_install(const struct redirect_config *c, size_t *nrules,
		     struct nft_error *err);

/*
 * redirect_cleanup - delete our tables (both families), in one batch.
 * *ndeleted (may be NULL) gets how many existed. Returns 0 or a negative
 * errno with *err filled.
 */
int redirect_cleanup(size_t *ndeleted, struct nft_error *err);

/*
 * redirect_verify - do the installed tables equal what c would install?
 * Returns 0 when they do, 1 when not (the first difference in why), or a
 * negative errno with *err filled when they could not be read.
 */
int redirect_verify(const struct redirect_config *c, char *why, size_t size,
		    struct nft_error *err);

/*
 * redirect_enter_netns - join the network namespace at path (a
 * /proc/PID/ns/net or /var/run/netns/NAME file). Returns 0, or a negative
 * errno with the reason in msg.
 */
int redirect_enter_netns(const char *path, char *msg, size_t size);

/*
 * redirect_error_hint - what a kernel errno most likely means here, e.g.
 * "CAP_NET_ADMIN is missing" for -EPERM; "" when nothing useful.
 */
const char *redirect_error_hint(const struct nft_error *err);

#endif
