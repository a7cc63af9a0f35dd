/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_config.h - `conduit proxy` configuration: CONDUIT_PROXY_* variables and flags */
#ifndef CONDUIT_PROXY_CONFIG_H
#define CONDUIT_PROXY_CONFIG_H

#include <stdint.h>

#include "conduit/base.h"
#include "conduit/log.h"
#include "conduit/netlist.h"
#include "conduit/sock.h"

/*
 * Every setting is an environment variable (what the injected sidecar
 * uses) and a flag of the same name (for running by hand):
 * CONDUIT_PROXY_INBOUND_LISTEN_ADDR is --inbound-listen-addr. Flags win.
 * `conduit proxy --help` lists them with their defaults.
 */

/* Which way a proxied connection goes. */
enum proxy_dir {
	PROXY_INBOUND,	/* mesh -> app */
	PROXY_OUTBOUND, /* app -> mesh */
};

static inline const char *proxy_dir_name(enum proxy_dir d)
{
	return d == PROXY_INBOUND ? "inbound" : "outbound";
}

/* A listener setting may name several addresses: "0.0.0.0:4143,[::]:4143" */
#define PROXY_MAX_ADDRS 4

struct proxy_addrs {
	struct sock_addr a[PROXY_MAX_ADDRS];
	size_t n;
};

/* A set of TCP ports, as a bitmap: one test per accepted connection. */
struct proxy_ports {
	uint64_t bits[65536 / 64];
};

static inline bool proxy_ports_contain(const struct proxy_ports *p, int port)
{
	return port > 0 && port < 65536 &&
	       (p->bits[port / 64] >> (port % 64)) & 1;
}

struct proxy_config {
	struct proxy_addrs inbound_listen;   /* 0.0.0.0:4143 */
	struct proxy_addrs outbound_listen;  /* 127.0.0.1:4140 */
	struct proxy_addrs admin_listen;     /* 0.0.0.0:4191 */
	struct proxy_addrs control_listen;   /* 0.0.0.0:4190 */
	bool has_inbound_forward;	     /* explicit mode */
	/* who may open a tap on the control port (until identity) */
	struct netlist_cidrs tap_allow;
	/* the destination component (HOST:PORT, the name resolved with
	 * resolv_conf); NULL: no discovery */
	const char *destination_addr;
	const char *resolv_conf; /* DNS servers and search path */
	struct sock_addr inbound_forward;    /* where inbound traffic goes */
	/* server-first ports: no protocol detection, straight to TCP */
	struct proxy_ports inbound_no_detect;
	struct proxy_ports outbound_no_detect;
	int64_t inbound_connect_timeout;  /* ns; 100ms */
	int64_t outbound_connect_timeout; /* ns; 1s */
	int64_t detect_timeout;		  /* ns; 10s */
	int64_t tcp_idle_timeout;	  /* ns; 0: none */
	int64_t shutdown_grace;		  /* ns; 25s */
	int64_t http_response_timeout;	  /* ns; 10s: request end to headers */
	int64_t http_header_timeout;	  /* ns; 10s: a request's head, idle */
	int64_t admin_request_timeout;	  /* ns; 10s: slowloris bound */
	long long max_connections;	  /* proxied connections at once */
	/* HTTP/2 (proxy_h2.h) */
	long long h2_max_concurrent_streams; /* per client connection; 100 */
	long long h2_max_header_list;	  /* bytes of a decoded header
					   * block, either side; 64 KiB */
	long long h2_max_pending;	  /* requests waiting for one upstream
					   * address's connection; 1000 */
	int64_t h2_idle_timeout;	  /* ns; 120s: a client connection
					   * with no stream */
	int64_t h2_upstream_idle_timeout; /* ns; 60s: a pooled upstream
					   * connection with no stream */
	bool admin_shutdown;		  /* POST /shutdown allowed */
	/* identity (proxy_identity.h): on when trust anchors are given,
	 * unless identity_disabled. The strings are borrowed from
	 * environ/argv; identity_anchors is the anchors' text from either
	 * source (owned: proxy_config_release) */
	bool identity_enabled;		  /* the outcome */
	bool identity_disabled;		  /* --identity-disabled */
	const char *identity_trust_anchors;	 /* PEM text */
	const char *identity_trust_anchors_file; /* or a PEM file */
	char *identity_anchors;
	size_t identity_anchors_len;
	const char *identity_local_name;  /* required when enabled */
	const char *identity_svc_addr;	  /* HOST:PORT; required when enabled */
	const char *identity_svc_name;	  /* its identity: Certify over TLS
					   * to that name; NULL/"": plaintext */
	const char *identity_token_file;  /* re-read at every Certify */
	enum log_level log_level;
	/* who this proxy serves: metric labels; borrowed from environ/argv */
	const char *pod_namespace;
	const char *pod_name;
	const char *workload_kind; /* "Deployment": label "deployment" */
	const char *workload_name;
	char workload_label[64];   /* lowercased workload_kind, or "" */
};

/* proxy_config_init - the defaults */
void proxy_config_init(struct proxy_config *cfg);

/*
 * proxy_config_parse - read the environment and argv (as flag_parse: argv[0]
 * is the applet's name) into cfg, then check the whole (an inbound forward
 * address that is one of our own listeners, a workload kind that is not a
 * label name; with identity on, trust anchors that are CA certificates, a
 * local name that is a DNS name, an identity address that is HOST:PORT).
 * Returns FLAG_OK, FLAG_HELP (usage printed), or -EINVAL after printing
 * the error. Release cfg with proxy_config_release() either way.
 */
int proxy_config_parse(struct proxy_config *cfg, int *argc, char ***argv);

/* proxy_config_release - free what parsing allocated (the anchors' text) */
void proxy_config_release(struct proxy_config *cfg);

/*
 * proxy_config_json - the effective configuration as a JSON object keyed
 * by variable name, values as strings (unset ones null), for /env.json.
 * Caller frees with free(); NULL on OOM.
 */
char *proxy_config_json(const struct proxy_config *cfg);

/*
 * proxy_ports_parse - "25,587,4000-4100" (blanks around entries ignored;
 * "" is the empty set) into *out, replacing it only on success. Returns 0,
 * or -EINVAL with the reason in err.
 *
 * A stand-in for netlist_parse_ports() until that module lands; the
 * bitmap stays, as the per-connection lookup.
 */
int proxy_ports_parse(const char *s, struct proxy_ports *out, char *err,
		      size_t errlen);
/* proxy_ports_format - the set as "25,587,4000-4100" into buf; returns buf */
char *proxy_ports_format(const struct proxy_ports *p, char *buf, size_t size);

/*
 * proxy_config_is_own_addr - would connecting to a reach one of the
 * proxy's own listeners (same port, and a loopback target, a wildcard
 * listener, or the listener's own address)? Loop protection.
 */
bool proxy_config_is_own_addr(const struct proxy_config *cfg,
			      const struct sock_addr *a);

/*
 * proxy_addrs_parse - one address or a comma-separated list of at most
 * PROXY_MAX_ADDRS. Returns 0 or -EINVAL with the reason in err.
 */
int proxy_addrs_parse(const char *s, struct proxy_addrs *out, char *err,
		      size_t errlen);
/* proxy_addrs_format - "0.0.0.0:4143,[::]:4143" into buf; returns buf */
char *proxy_addrs_format(const struct proxy_addrs *a, char *buf, size_t size);

#endif
