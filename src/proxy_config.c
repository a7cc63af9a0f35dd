/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_config.c - `conduit proxy` configuration: CONDUIT_PROXY_* variables and flags */
#include "conduit/proxy_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/flag.h"
#include "conduit/json.h"
#include "conduit/metrics.h"
#include "conduit/proxy_identity.h"
#include "conduit/resolve.h"
#include "conduit/time.h"

#define DEF_INBOUND "0.0.0.0:4143"
#define DEF_OUTBOUND "127.0.0.1:4140"
#define DEF_ADMIN "0.0.0.0:4191"
#define DEF_CONTROL "0.0.0.0:4190"
/* server-first protocols: SMTP, submission, MySQL, Galera, PostgreSQL,
 * Redis, Elasticsearch transport, memcached (as Linkerd) */
#define DEF_NO_DETECT "25,587,3306,4444,5432,6379,9300,11211"

static void set_default_addrs(struct proxy_addrs *a, const char *s)
{
	char err[128];

	BUG_ON(proxy_addrs_parse(s, a, err, sizeof(err)));
}

void proxy_config_init(struct proxy_config *cfg)
{
	char err[128];

	memset(cfg, 0, sizeof(*cfg));
	set_default_addrs(&cfg->inbound_listen, DEF_INBOUND);
	set_default_addrs(&cfg->outbound_listen, DEF_OUTBOUND);
	set_default_addrs(&cfg->admin_listen, DEF_ADMIN);
	set_default_addrs(&cfg->control_listen, DEF_CONTROL);
	BUG_ON(proxy_ports_parse(DEF_NO_DETECT, &cfg->inbound_no_detect, err,
				 sizeof(err)));
	cfg->outbound_no_detect = cfg->inbound_no_detect;
	cfg->inbound_connect_timeout = 100 * NSEC_PER_MSEC;
	cfg->outbound_connect_timeout = 1 * NSEC_PER_SEC;
	cfg->detect_timeout = 10 * NSEC_PER_SEC;
	cfg->tcp_idle_timeout = 0;
	cfg->http_response_timeout = 10 * NSEC_PER_SEC;
	cfg->http_header_timeout = 10 * NSEC_PER_SEC;
	/* under Kubernetes' default terminationGracePeriodSeconds (30 s), so
	 * the proxy ends the drain itself, exits 0 and is not SIGKILLed */
	cfg->shutdown_grace = 25 * NSEC_PER_SEC;
	cfg->admin_request_timeout = 10 * NSEC_PER_SEC;
	cfg->max_connections = 10000;
	cfg->resolv_conf = "/etc/resolv.conf";
	cfg->h2_max_concurrent_streams = 100;
	cfg->h2_max_header_list = 64 << 10;
	cfg->h2_max_pending = 1000;
	cfg->h2_idle_timeout = 120 * NSEC_PER_SEC;
	cfg->h2_upstream_idle_timeout = 60 * NSEC_PER_SEC;
	cfg->log_level = LOG_INFO;
	cfg->identity_token_file = PROXY_IDENTITY_TOKEN_FILE;
}

void proxy_config_release(struct proxy_config *cfg)
{
	free(cfg->identity_anchors);
	cfg->identity_anchors = NULL;
	cfg->identity_anchors_len = 0;
}

/* --- port sets --------------------------------------------------------- */

static int parse_port(const char *s, size_t len, long *out, char *err,
		      size_t errlen)
{
	char tmp[16];
	char *end;
	long v;

	if (!len || len >= sizeof(tmp)) {
		snprintf(err, errlen, "bad port \"%.*s\"", (int)MIN(len, 32u), s);
		return -EINVAL;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!isdigit((unsigned char)tmp[0])) {
		snprintf(err, errlen, "bad port \"%s\": not a number", tmp);
		return -EINVAL;
	}
	errno = 0;
	v = strtol(tmp, &end, 10);
	if (*end || errno) {
		snprintf(err, errlen, "bad port \"%s\": not a number", tmp);
		return -EINVAL;
	}
	if (v < 1 || v > 65535) {
		snprintf(err, errlen, "port %s out of range 1-65535", tmp);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int proxy_ports_parse(const char *s, struct proxy_ports *out, char *err,
		      size_t errlen)
{
	struct proxy_ports set;
	const char *p = s;

	memset(&set, 0, sizeof(set));
	while (*p) {
		const char *end = strchr(p, ',');
		const char *a = p, *b, *dash;
		long lo, hi;

		if (!end)
			end = p + strlen(p);
		b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b) {
			/* "" is the empty list; an empty entry inside one is a typo */
			if (*end || p != s) {
				snprintf(err, errlen, "empty entry in port list");
				return -EINVAL;
			}
			break;
		}
		dash = memchr(a, '-', (size_t)(b - a));
		if (dash) {
			if (parse_port(a, (size_t)(dash - a), &lo, err, errlen) ||
			    parse_port(dash + 1, (size_t)(b - dash - 1), &hi, err,
				       errlen))
				return -EINVAL;
			if (lo > hi) {
				snprintf(err, errlen,
					 "bad port range \"%.*s\": %ld > %ld",
					 (int)(b - a), a, lo, hi);
				return -EINVAL;
			}
		} else {
			if (parse_port(a, (size_t)(b - a), &lo, err, errlen))
				return -EINVAL;
			hi = lo;
		}
		for (long port = lo; port <= hi; port++)
			set.bits[port / 64] |= 1ull << (port % 64);
		p = *end ? end + 1 : end;
		if (*end && !*p) {
			snprintf(err, errlen, "empty entry in port list");
			return -EINVAL;
		}
	}
	*out = set;
	return 0;
}

char *proxy_ports_format(const struct proxy_ports *p, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int port = 1; port < 65536; port++) {
		int hi = port;

		if (!proxy_ports_contain(p, port))
			continue;
		while (hi + 1 < 65536 && proxy_ports_contain(p, hi + 1))
			hi++;
		if (n < size)
			n += (size_t)snprintf(buf + n, size - n,
					      hi > port ? "%s%d-%d" : "%s%d",
					      n ? "," : "", port, hi);
		port = hi;
	}
	return buf;
}

/* --- address lists ------------------------------------------------------ */

int proxy_addrs_parse(const char *s, struct proxy_addrs *out, char *err,
		      size_t errlen)
{
	struct proxy_addrs list = { .n = 0 };
	const char *p = s;

	do {
		const char *end = strchr(p, ',');
		char one[SOCK_ADDR_STRLEN + 8], why[96];
		const char *a = p, *b;

		if (!end)
			end = p + strlen(p);
		b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if ((size_t)(b - a) >= sizeof(one)) {
			snprintf(err, errlen, "address too long");
			return -EINVAL;
		}
		memcpy(one, a, (size_t)(b - a));
		one[b - a] = '\0';
		if (list.n == PROXY_MAX_ADDRS) {
			snprintf(err, errlen, "more than %d addresses",
				 PROXY_MAX_ADDRS);
			return -EINVAL;
		}
		if (sock_addr_parse(one, &list.a[list.n], why, sizeof(why))) {
			snprintf(err, errlen, "\"%s\": %s", one, why);
			return -EINVAL;
		}
		for (size_t i = 0; i < list.n; i++) {
			if (sock_addr_equal(&list.a[i], &list.a[list.n])) {
				snprintf(err, errlen, "\"%s\" given twice", one);
				return -EINVAL;
			}
		}
		list.n++;
		p = *end ? end + 1 : end;
	} while (*p);
	*out = list;
	return 0;
}

char *proxy_addrs_format(const struct proxy_addrs *a, char *buf, size_t size)
{
	char one[SOCK_ADDR_STRLEN];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "," : "",
				      sock_addr_format(&a->a[i], one,
						       sizeof(one)));
	return buf;
}

/* --- flag callbacks ------------------------------------------------------ */

static int flag_addrs(const char *arg, void *value, char *err, size_t errlen)
{
	return proxy_addrs_parse(arg, value, err, errlen);
}

static int flag_ports(const char *arg, void *value, char *err, size_t errlen)
{
	return proxy_ports_parse(arg, value, err, errlen);
}

static int flag_log(const char *arg, void *value, char *err, size_t errlen)
{
	if (log_level_parse(arg, value)) {
		snprintf(err, errlen, "want error, warn, info, debug or trace");
		return -EINVAL;
	}
	return 0;
}

/* the labels every proxy series has: the workload label must not be one */
static const char *const reserved_labels[] = {
	"direction", "peer", "tls", "target_addr", "namespace", "pod",
	"authority", "reason",
};

static bool is_wildcard(const struct sock_addr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->u.sa.sa_family == AF_INET)
		return a->u.in4.sin_addr.s_addr == htonl(INADDR_ANY);
	return a->u.sa.sa_family == AF_INET6 &&
	       memcmp(&a->u.in6.sin6_addr, &any6, sizeof(any6)) == 0;
}

bool proxy_config_is_own_addr(const struct proxy_config *cfg,
			      const struct sock_addr *a)
{
	const struct proxy_addrs *own[] = {
		&cfg->inbound_listen, &cfg->outbound_listen, &cfg->admin_listen,
		&cfg->control_listen,
	};

	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		for (size_t j = 0; j < own[i]->n; j++) {
			const struct sock_addr *l = &own[i]->a[j];

			if (sock_addr_port(l) != sock_addr_port(a))
				continue;
			if (is_wildcard(l) || sock_addr_equal(l, a))
				return true;
		}
	}
	return false;
}

#define ANCHORS_MAX (1u << 20) /* a trust anchor bundle file */

/* read_anchors - the file's text into cfg->identity_anchors */
static int read_anchors(struct proxy_config *cfg, const char *path, char *err,
			size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n, cap = 0;
	char *p = NULL;

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "%s", strerror(e));
		return -e;
	}
	do {
		if (cap - cfg->identity_anchors_len < 4096) {
			cap = cap ? 2 * cap : 8192;
			p = xrealloc(p, cap + 1);
			cfg->identity_anchors = p;
		}
		n = fread(p + cfg->identity_anchors_len, 1,
			  cap - cfg->identity_anchors_len, f);
		cfg->identity_anchors_len += n;
	} while (n && cfg->identity_anchors_len <= ANCHORS_MAX);
	if (ferror(f)) {
		snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if (cfg->identity_anchors_len > ANCHORS_MAX) {
		snprintf(err, errlen, "larger than %u bytes", ANCHORS_MAX);
		return -EFBIG;
	}
	if (p)
		p[cfg->identity_anchors_len] = '\0';
	return 0;
}

/*
 * check_identity - identity is on when trust anchors are given (and not
 * disabled): then every identity setting must be there and sound, or the
 * proxy does not start (a proxy that can never be certified would stay
 * unready forever, saying why only in its log).
 */
static int check_identity(struct proxy_config *cfg, const struct flag_cmd *cmd)
{
	const bool text = cfg->identity_trust_anchors && *cfg->identity_trust_anchors;
	const bool file = cfg->identity_trust_anchors_file &&
			  *cfg->identity_trust_anchors_file;
	const char *where;
	char err[400], host[256];
	int port;

	proxy_config_release(cfg);
	cfg->identity_enabled = false;
	if (cfg->identity_disabled || (!text && !file))
		return 0;
	if (text && file) {
		flag_usage_error(cmd, "--identity-trust-anchors and --identity-trust-anchors-file "
				      "(or their CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS* variables) "
				      "are both set: give one");
		return -EINVAL;
	}
	if (file) {
		where = "--identity-trust-anchors-file";
		if (read_anchors(cfg, cfg->identity_trust_anchors_file, err,
				 sizeof(err))) {
			flag_usage_error(cmd, "%s %s: cannot read it: %s", where,
					 cfg->identity_trust_anchors_file, err);
			return -EINVAL;
		}
	} else {
		where = "--identity-trust-anchors (CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS)";
		cfg->identity_anchors_len = strlen(cfg->identity_trust_anchors);
		cfg->identity_anchors = xstrdup(cfg->identity_trust_anchors);
	}
	if (proxy_identity_check_anchors(cfg->identity_anchors,
					 cfg->identity_anchors_len, err,
					 sizeof(err)) < 0) {
		flag_usage_error(cmd, "%s%s%s: not trust anchors: %s", where,
				 file ? " " : "",
				 file ? cfg->identity_trust_anchors_file : "", err);
		return -EINVAL;
	}
	if (!cfg->identity_local_name || !*cfg->identity_local_name) {
		flag_usage_error(cmd, "identity is on (trust anchors are given) but "
				      "--identity-local-name (CONDUIT_PROXY_IDENTITY_LOCAL_NAME) "
				      "is not set (set it, or --identity-disabled)");
		return -EINVAL;
	}
	if (proxy_identity_check_name(cfg->identity_local_name, err, sizeof(err))) {
		flag_usage_error(cmd, "invalid value \"%s\" for --identity-local-name: %s",
				 cfg->identity_local_name, err);
		return -EINVAL;
	}
	if (!cfg->identity_svc_addr || !*cfg->identity_svc_addr) {
		flag_usage_error(cmd, "identity is on (trust anchors are given) but "
				      "--identity-svc-addr (CONDUIT_PROXY_IDENTITY_SVC_ADDR) "
				      "is not set (set it, or --identity-disabled)");
		return -EINVAL;
	}
	if (resolve_split_host_port(cfg->identity_svc_addr, host, sizeof(host),
				    &port, err, sizeof(err))) {
		flag_usage_error(cmd, "invalid value \"%s\" for --identity-svc-addr: %s (want HOST:PORT)",
				 cfg->identity_svc_addr, err);
		return -EINVAL;
	}
	if (cfg->identity_svc_name && *cfg->identity_svc_name &&
	    proxy_identity_check_name(cfg->identity_svc_name, err, sizeof(err))) {
		flag_usage_error(cmd, "invalid value \"%s\" for --identity-svc-name: %s",
				 cfg->identity_svc_name, err);
		return -EINVAL;
	}
	if (!cfg->identity_token_file || !*cfg->identity_token_file) {
		flag_usage_error(cmd, "--identity-token-file (CONDUIT_PROXY_IDENTITY_TOKEN_FILE) is empty");
		return -EINVAL;
	}
	cfg->identity_enabled = true;
	return 0;
}

static int check(struct proxy_config *cfg, const struct flag_cmd *cmd)
{
	char a[SOCK_ADDR_STRLEN];
	size_t n;

	if (check_identity(cfg, cmd))
		return -EINVAL;
	if (cfg->has_inbound_forward && proxy_config_is_own_addr(cfg, &cfg->inbound_forward)) {
		flag_usage_error(cmd, "--inbound-forward %s is one of the proxy's own listeners",
				 sock_addr_format(&cfg->inbound_forward, a,
						  sizeof(a)));
		return -EINVAL;
	}
	cfg->workload_label[0] = '\0';
	if (!cfg->workload_kind || !*cfg->workload_kind)
		return 0;
	n = strlen(cfg->workload_kind);
	if (n >= sizeof(cfg->workload_label)) {
		flag_usage_error(cmd, "workload kind \"%s\" is too long",
				 cfg->workload_kind);
		return -EINVAL;
	}
	for (size_t i = 0; i <= n; i++)
		cfg->workload_label[i] =
			(char)tolower((unsigned char)cfg->workload_kind[i]);
	if (!metrics_valid_label_name(cfg->workload_label)) {
		flag_usage_error(cmd, "workload kind \"%s\" is not a metric label name",
				 cfg->workload_kind);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(reserved_labels); i++) {
		if (!strcmp(cfg->workload_label, reserved_labels[i])) {
			flag_usage_error(cmd, "workload kind \"%s\" clashes with the label \"%s\"",
					 cfg->workload_kind, reserved_labels[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int proxy_config_parse(struct proxy_config *cfg, int *argc, char ***argv)
{
	const char *forward = NULL;
	const struct flag flags[] = {
		{ FLAG_FUNC, 0, "inbound-listen-addr", &cfg->inbound_listen,
		  "ADDRS", "Inbound listener(s): mesh -> app",
		  "CONDUIT_PROXY_INBOUND_LISTEN_ADDR", 0, 0, flag_addrs,
		  DEF_INBOUND },
		{ FLAG_FUNC, 0, "outbound-listen-addr", &cfg->outbound_listen,
		  "ADDRS", "Outbound listener(s): app -> mesh",
		  "CONDUIT_PROXY_OUTBOUND_LISTEN_ADDR", 0, 0, flag_addrs,
		  DEF_OUTBOUND },
		{ FLAG_FUNC, 0, "admin-listen-addr", &cfg->admin_listen, "ADDRS",
		  "Admin listener(s): /metrics, /ready, /live, /env.json",
		  "CONDUIT_PROXY_ADMIN_LISTEN_ADDR", 0, 0, flag_addrs, DEF_ADMIN },
		{ FLAG_FUNC, 0, "control-listen-addr", &cfg->control_listen,
		  "ADDRS", "Control (tap) listener(s)",
		  "CONDUIT_PROXY_CONTROL_LISTEN_ADDR", 0, 0, flag_addrs,
		  DEF_CONTROL },
		{ FLAG_STRING, 0, "inbound-forward", &forward, "ADDR",
		  "Explicit mode: send inbound traffic to ADDR (the local app) "
		  "instead of the original destination",
		  "CONDUIT_PROXY_INBOUND_FORWARD" },
		{ FLAG_FUNC, 0, "tap-allow", &cfg->tap_allow, "CIDRS",
		  "Who may tap this proxy on the control port (until mTLS "
		  "identifies the tap component)",
		  "CONDUIT_PROXY_TAP_ALLOW", 0, 0, netlist_flag_cidrs,
		  "loopback" },
		{ FLAG_STRING, 0, "destination-svc-addr", &cfg->destination_addr,
		  "ADDR",
		  "Service discovery: the controller's destination component "
		  "(outbound HTTP is routed by Host/:authority to the service's "
		  "endpoints; unset: to the original destination)",
		  "CONDUIT_PROXY_DESTINATION_SVC_ADDR" },
		{ FLAG_STRING, 0, "resolv-conf", &cfg->resolv_conf, "FILE",
		  "DNS servers, search path and ndots for names such as the "
		  "destination component's",
		  "CONDUIT_PROXY_RESOLV_CONF" },
		{ FLAG_STRING, 0, "identity-trust-anchors",
		  &cfg->identity_trust_anchors, "PEM",
		  "Identity: the trust anchors (PEM text of one or more CA "
		  "certificates); identity (a certificate from the identity "
		  "component, /ready waits for it) is on when they are given",
		  "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS" },
		{ FLAG_STRING, 0, "identity-trust-anchors-file",
		  &cfg->identity_trust_anchors_file, "FILE",
		  "Identity: the trust anchors from a PEM file instead",
		  "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE" },
		{ FLAG_BOOL, 0, "identity-disabled", &cfg->identity_disabled,
		  NULL, "Identity: off, even with trust anchors",
		  "CONDUIT_PROXY_IDENTITY_DISABLED" },
		{ FLAG_STRING, 0, "identity-local-name",
		  &cfg->identity_local_name, "NAME",
		  "Identity: this proxy's name, <serviceaccount>.<namespace>."
		  "serviceaccount.identity.<controller-ns>.<domain> (required "
		  "with trust anchors)",
		  "CONDUIT_PROXY_IDENTITY_LOCAL_NAME" },
		{ FLAG_STRING, 0, "identity-svc-addr", &cfg->identity_svc_addr,
		  "ADDR",
		  "Identity: the controller's identity component, HOST:PORT "
		  "(a name is resolved with --resolv-conf; required with "
		  "trust anchors)",
		  "CONDUIT_PROXY_IDENTITY_SVC_ADDR" },
		{ FLAG_STRING, 0, "identity-svc-name", &cfg->identity_svc_name,
		  "NAME",
		  "Identity: the identity service's own identity: Certify goes "
		  "over TLS to a server proving that name (empty: plaintext, "
		  "for the identity component's own proxy and local mode)",
		  "CONDUIT_PROXY_IDENTITY_SVC_NAME" },
		{ FLAG_STRING, 0, "identity-token-file",
		  &cfg->identity_token_file, "FILE",
		  "Identity: the ServiceAccount token sent with each Certify "
		  "(read again every time: projected tokens rotate)",
		  "CONDUIT_PROXY_IDENTITY_TOKEN_FILE" },
		{ FLAG_FUNC, 0, "inbound-ports-disable-protocol-detection",
		  &cfg->inbound_no_detect, "PORTS",
		  "Inbound ports relayed as TCP at once (server-first protocols)",
		  "CONDUIT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", 0, 0,
		  flag_ports, DEF_NO_DETECT },
		{ FLAG_FUNC, 0, "outbound-ports-disable-protocol-detection",
		  &cfg->outbound_no_detect, "PORTS",
		  "Outbound ports relayed as TCP at once",
		  "CONDUIT_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", 0, 0,
		  flag_ports, DEF_NO_DETECT },
		{ FLAG_DURATION, 0, "inbound-connect-timeout",
		  &cfg->inbound_connect_timeout, "DURATION",
		  "Give up connecting to the local app after DURATION",
		  "CONDUIT_PROXY_INBOUND_CONNECT_TIMEOUT" },
		{ FLAG_DURATION, 0, "outbound-connect-timeout",
		  &cfg->outbound_connect_timeout, "DURATION",
		  "Give up connecting to a destination after DURATION",
		  "CONDUIT_PROXY_OUTBOUND_CONNECT_TIMEOUT" },
		{ FLAG_DURATION, 0, "detect-timeout", &cfg->detect_timeout,
		  "DURATION",
		  "Relay as TCP a connection whose client says nothing for DURATION",
		  "CONDUIT_PROXY_DETECT_TIMEOUT" },
		{ FLAG_DURATION, 0, "tcp-idle-timeout", &cfg->tcp_idle_timeout,
		  "DURATION",
		  "Close a relayed connection idle for DURATION (0: never)",
		  "CONDUIT_PROXY_TCP_IDLE_TIMEOUT" },
		{ FLAG_DURATION, 0, "http-response-timeout",
		  &cfg->http_response_timeout, "DURATION",
		  "HTTP/1: answer 504 when an upstream sends no response "
		  "headers within DURATION of the request's end (0: never)",
		  "CONDUIT_PROXY_HTTP_RESPONSE_TIMEOUT" },
		{ FLAG_DURATION, 0, "http-header-timeout",
		  &cfg->http_header_timeout, "DURATION",
		  "HTTP/1: close a client connection that takes longer than "
		  "DURATION to send a request's head, or idles that long "
		  "between requests (0: never)",
		  "CONDUIT_PROXY_HTTP_HEADER_TIMEOUT" },
		{ FLAG_DURATION, 0, "shutdown-grace", &cfg->shutdown_grace,
		  "DURATION",
		  "On SIGTERM, let open connections finish for up to DURATION",
		  "CONDUIT_PROXY_SHUTDOWN_GRACE" },
		{ FLAG_DURATION, 0, "admin-request-timeout",
		  &cfg->admin_request_timeout, "DURATION",
		  "Admin: time a client has to send a whole request",
		  "CONDUIT_PROXY_ADMIN_REQUEST_TIMEOUT" },
		{ FLAG_INT, 0, "max-connections", &cfg->max_connections, "N",
		  "Proxied connections at once; past it new ones are closed",
		  "CONDUIT_PROXY_MAX_CONNECTIONS", 1, 1000000 },
		{ FLAG_INT, 0, "h2-max-concurrent-streams",
		  &cfg->h2_max_concurrent_streams, "N",
		  "HTTP/2: streams a client may have open on one connection",
		  "CONDUIT_PROXY_H2_MAX_CONCURRENT_STREAMS", 1, 100000 },
		{ FLAG_INT, 0, "h2-max-header-list-size",
		  &cfg->h2_max_header_list, "BYTES",
		  "HTTP/2: largest decoded header block (names, values, 32 "
		  "bytes a field) taken from a client or an upstream",
		  "CONDUIT_PROXY_H2_MAX_HEADER_LIST_SIZE", 1024, 16 << 20 },
		{ FLAG_INT, 0, "h2-max-pending-requests",
		  &cfg->h2_max_pending, "N",
		  "HTTP/2: requests that may wait for an upstream to connect; "
		  "past it they are answered 503",
		  "CONDUIT_PROXY_H2_MAX_PENDING_REQUESTS", 1, 1000000 },
		{ FLAG_DURATION, 0, "h2-idle-timeout", &cfg->h2_idle_timeout,
		  "DURATION",
		  "HTTP/2: GOAWAY to a client connection with no stream for "
		  "DURATION (0: never)",
		  "CONDUIT_PROXY_H2_IDLE_TIMEOUT" },
		{ FLAG_DURATION, 0, "h2-upstream-idle-timeout",
		  &cfg->h2_upstream_idle_timeout, "DURATION",
		  "HTTP/2: close a pooled upstream connection with no stream "
		  "for DURATION (0: never)",
		  "CONDUIT_PROXY_H2_UPSTREAM_IDLE_TIMEOUT" },
		{ FLAG_BOOL, 0, "admin-shutdown", &cfg->admin_shutdown, NULL,
		  "Allow POST /shutdown on the admin port (from loopback only)",
		  "CONDUIT_PROXY_ADMIN_SHUTDOWN" },
		{ FLAG_FUNC, 0, "log", &cfg->log_level, "LEVEL",
		  "Log level: error, warn, info, debug, trace",
		  "CONDUIT_PROXY_LOG", 0, 0, flag_log, "info" },
		{ FLAG_STRING, 0, "pod-namespace", &cfg->pod_namespace, "NS",
		  "The pod's namespace (metric label namespace)",
		  "CONDUIT_PROXY_POD_NAMESPACE" },
		{ FLAG_STRING, 0, "pod-name", &cfg->pod_name, "NAME",
		  "The pod's name (metric label pod)",
		  "CONDUIT_PROXY_POD_NAME" },
		{ FLAG_STRING, 0, "workload-kind", &cfg->workload_kind, "KIND",
		  "The pod's owner kind: Deployment gives the label deployment",
		  "CONDUIT_PROXY_WORKLOAD_KIND" },
		{ FLAG_STRING, 0, "workload-name", &cfg->workload_name, "NAME",
		  "The pod's owner name (the workload label's value)",
		  "CONDUIT_PROXY_WORKLOAD_NAME" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "proxy",
		.usage = "conduit proxy [flags]",
		.summary = "Run the sidecar data plane proxy",
		.details =
			"Accepts redirected connections (SO_ORIGINAL_DST) on the inbound and\n"
			"outbound listeners, detects HTTP/1, HTTP/2 or opaque TCP from the first\n"
			"bytes, and relays them; serves Prometheus metrics and probes on the\n"
			"admin port. Every flag is also an environment variable (shown in [])\n"
			"and a flag wins over its variable. Listener flags take one address or a\n"
			"comma-separated list (0.0.0.0:4143,[::]:4143). SIGTERM drains: the\n"
			"listeners close and open connections get --shutdown-grace to finish.\n"
			"With trust anchors (--identity-trust-anchors or ..-file) the proxy\n"
			"gets its certificate from the identity component (Certify, with the\n"
			"--identity-token-file token), renews it at 70% of its life, and /ready\n"
			"answers 503 until the first one.",
		.flags = flags,
		.max_args = 0,
	};
	char err[160];
	int r;

	r = flag_parse(&cmd, argc, argv);
	if (r)
		return r;
	cfg->has_inbound_forward = false;
	if (forward && *forward) {
		if (sock_addr_parse(forward, &cfg->inbound_forward, err,
				    sizeof(err))) {
			flag_usage_error(&cmd, "invalid value \"%s\" for --inbound-forward: %s",
					 forward, err);
			return -EINVAL;
		}
		if (!sock_addr_port(&cfg->inbound_forward)) {
			flag_usage_error(&cmd, "invalid value \"%s\" for --inbound-forward: port 0",
					 forward);
			return -EINVAL;
		}
		cfg->has_inbound_forward = true;
	}
	return check(cfg, &cmd);
}

/* --- /env.json ---------------------------------------------------------- */

static void set_str(struct json *o, const char *key, const char *v)
{
	json_set(o, key, v && *v ? json_new_string(v) : json_new_null());
}

static void set_duration(struct json *o, const char *key, int64_t ns)
{
	char d[32];

	json_set_string(o, key, time_format_duration(ns, d, sizeof(d)));
}

char *proxy_config_json(const struct proxy_config *cfg)
{
	/* room for the longest port set: every other port, "1,3,5,..." */
	const size_t size = 32768 * 7;
	struct json *o = json_new_object();
	char *b = xmalloc(size), *text;

	set_str(o, "CONDUIT_PROXY_INBOUND_LISTEN_ADDR",
		proxy_addrs_format(&cfg->inbound_listen, b, size));
	set_str(o, "CONDUIT_PROXY_OUTBOUND_LISTEN_ADDR",
		proxy_addrs_format(&cfg->outbound_listen, b, size));
	set_str(o, "CONDUIT_PROXY_ADMIN_LISTEN_ADDR",
		proxy_addrs_format(&cfg->admin_listen, b, size));
	set_str(o, "CONDUIT_PROXY_CONTROL_LISTEN_ADDR",
		proxy_addrs_format(&cfg->control_listen, b, size));
	set_str(o, "CONDUIT_PROXY_INBOUND_FORWARD",
		cfg->has_inbound_forward ?
			sock_addr_format(&cfg->inbound_forward, b, size) :
			NULL);
	json_set_string(o, "CONDUIT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
			proxy_ports_format(&cfg->inbound_no_detect, b, size));
	json_set_string(o, "CONDUIT_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
			proxy_ports_format(&cfg->outbound_no_detect, b, size));
	set_duration(o, "CONDUIT_PROXY_INBOUND_CONNECT_TIMEOUT",
		     cfg->inbound_connect_timeout);
	set_duration(o, "CONDUIT_PROXY_OUTBOUND_CONNECT_TIMEOUT",
		     cfg->outbound_connect_timeout);
	set_duration(o, "CONDUIT_PROXY_DETECT_TIMEOUT", cfg->detect_timeout);
	set_duration(o, "CONDUIT_PROXY_TCP_IDLE_TIMEOUT", cfg->tcp_idle_timeout);
	set_duration(o, "CONDUIT_PROXY_HTTP_RESPONSE_TIMEOUT",
		     cfg->http_response_timeout);
	set_duration(o, "CONDUIT_PROXY_HTTP_HEADER_TIMEOUT",
		     cfg->http_header_timeout);
	set_duration(o, "CONDUIT_PROXY_SHUTDOWN_GRACE", cfg->shutdown_grace);
	set_duration(o, "CONDUIT_PROXY_ADMIN_REQUEST_TIMEOUT",
		     cfg->admin_request_timeout);
	snprintf(b, size, "%lld", cfg->max_connections);
	json_set_string(o, "CONDUIT_PROXY_MAX_CONNECTIONS", b);
	snprintf(b, size, "%lld", cfg->h2_max_concurrent_streams);
	json_set_string(o, "CONDUIT_PROXY_H2_MAX_CONCURRENT_STREAMS", b);
	snprintf(b, size, "%lld", cfg->h2_max_header_list);
	json_set_string(o, "CONDUIT_PROXY_H2_MAX_HEADER_LIST_SIZE", b);
	snprintf(b, size, "%lld", cfg->h2_max_pending);
	json_set_string(o, "CONDUIT_PROXY_H2_MAX_PENDING_REQUESTS", b);
	set_duration(o, "CONDUIT_PROXY_H2_IDLE_TIMEOUT", cfg->h2_idle_timeout);
	set_duration(o, "CONDUIT_PROXY_H2_UPSTREAM_IDLE_TIMEOUT",
		     cfg->h2_upstream_idle_timeout);
	json_set_string(o, "CONDUIT_PROXY_ADMIN_SHUTDOWN",
			cfg->admin_shutdown ? "true" : "false");
	json_set_string(o, "CONDUIT_PROXY_LOG", log_level_name(cfg->log_level));
	json_set_string(o, "CONDUIT_PROXY_DESTINATION_SVC_ADDR",
			cfg->destination_addr ? cfg->destination_addr : "");
	set_str(o, "CONDUIT_PROXY_POD_NAMESPACE", cfg->pod_namespace);
	set_str(o, "CONDUIT_PROXY_POD_NAME", cfg->pod_name);
	set_str(o, "CONDUIT_PROXY_WORKLOAD_KIND", cfg->workload_kind);
	set_str(o, "CONDUIT_PROXY_WORKLOAD_NAME", cfg->workload_name);
	/* the anchors' text is left out (long); where it came from is not */
	json_set_string(o, "CONDUIT_PROXY_IDENTITY_DISABLED",
			cfg->identity_disabled ? "true" : "false");
	set_str(o, "CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE",
		cfg->identity_trust_anchors_file);
	set_str(o, "CONDUIT_PROXY_IDENTITY_LOCAL_NAME", cfg->identity_local_name);
	set_str(o, "CONDUIT_PROXY_IDENTITY_SVC_ADDR", cfg->identity_svc_addr);
	set_str(o, "CONDUIT_PROXY_IDENTITY_SVC_NAME", cfg->identity_svc_name);
	set_str(o, "CONDUIT_PROXY_IDENTITY_TOKEN_FILE", cfg->identity_token_file);
	text = json_print(o, true);
	json_free(o);
	free(b);
	return text;
}
