/* SPDX-License-Identifier: Apache-2.0 */
/*
 * controller.c - `conduit controller`: the control plane
 *
 *   conduit controller [--components LIST] (--cluster-dir DIR | --kubeconfig FILE) [flags]
 *
 * Runs the named components (destination, identity, public-api,
 * injector, web) over one cluster cache until SIGTERM/SIGINT (the cache
 * only for the components that read it). Exit 1 when a component cannot
 * start, 2 on
 * a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "applets.h"
#include "conduit/controller.h"
#include "conduit/flag.h"
#include "conduit/time.h"
#include "conduit/web.h"

static int flag_components(const char *arg, void *value, char *err,
			   size_t errlen)
{
	return controller_parse_components(arg, value, err, errlen);
}

static int flag_addr(const char *arg, void *value, char *err, size_t errlen)
{
	return sock_addr_parse(arg, value, err, errlen) < 0 ? -EINVAL : 0;
}

static int flag_log(const char *arg, void *value, char *err, size_t errlen)
{
	if (log_level_parse(arg, value)) {
		snprintf(err, errlen, "want error, warn, info, debug or trace");
		return -EINVAL;
	}
	return 0;
}

/* flag_api_url - http://HOST:PORT (resolved later, at start) */
static int flag_api_url(const char *arg, void *value, char *err, size_t errlen)
{
	char host[256];
	int port;

	if (web_parse_upstream(arg, host, sizeof(host), &port, err, errlen))
		return -EINVAL;
	*(const char **)value = arg;
	return 0;
}

/* flag_prom_url - an http:// URL (resolved later, at start) */
static int flag_prom_url(const char *arg, void *value, char *err, size_t errlen)
{
	if (strncmp(arg, "http://", 7) || !arg[7] || arg[7] == '/') {
		snprintf(err, errlen, "want http://HOST:PORT%s",
			 !strncmp(arg, "https://", 8) ? " (https is not supported)" : "");
		return -EINVAL;
	}
	*(const char **)value = arg;
	return 0;
}

/* flag_hosts - --enforced-host: a comma-separated list of names, kept */
#define MAX_HOSTS 32
struct host_list {
	char buf[2048];
	const char *v[MAX_HOSTS];
	size_t n;
};

static int flag_hosts(const char *arg, void *value, char *err, size_t errlen)
{
	struct host_list *l = value;
	char *save = NULL, *tok;

	if (strlen(arg) >= sizeof(l->buf)) {
		snprintf(err, errlen, "too long");
		return -EINVAL;
	}
	str_copy(l->buf, arg, sizeof(l->buf));
	l->n = 0;
	for (tok = strtok_r(l->buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (l->n == MAX_HOSTS) {
			snprintf(err, errlen, "more than %d names", MAX_HOSTS);
			return -EINVAL;
		}
		l->v[l->n++] = tok;
	}
	if (!l->n) {
		snprintf(err, errlen, "no name (\"*\" allows every host)");
		return -EINVAL;
	}
	return 0;
}

int applet_controller(int argc, char **argv)
{
	static struct host_list hosts;
	struct controller_config cfg;
	int64_t interval = NSEC_PER_SEC, scrape = 10 * NSEC_PER_SEC;
	const char *tap_addr = NULL, *init_image = NULL;
	int64_t id_life = 24 * 3600 * NSEC_PER_SEC, id_skew = 20 * NSEC_PER_SEC;
	struct ev_loop *loop;
	int r;

	controller_config_init(&cfg);
	{
		const struct flag flags[] = {
			{ FLAG_FUNC, 0, "components", &cfg.components, "LIST",
			  "Components to run, comma-separated: destination, identity, public-api, tap (served by the public API), injector, web (the dashboard)",
			  "CONDUIT_CONTROLLER_COMPONENTS", 0, 0, flag_components,
			  "destination" },
			{ FLAG_STRING, 0, "cluster-dir", &cfg.cluster_dir, "DIR",
			  "Local mode: read Pods, Services, EndpointSlices and ReplicaSets from the YAML files in DIR (re-read when they change)",
			  "CONDUIT_CONTROLLER_CLUSTER_DIR" },
			{ FLAG_DURATION, 0, "cluster-dir-interval", &interval,
			  "DURATION", "How often to look for changes in --cluster-dir",
			  NULL },
			{ FLAG_STRING, 0, "kubeconfig", &cfg.kubeconfig, "FILE",
			  "Kubernetes API: this kubeconfig (default $KUBECONFIG, ~/.kube/config, then in-cluster)",
			  "KUBECONFIG" },
			{ FLAG_STRING, 0, "context", &cfg.context, "NAME",
			  "The kubeconfig context to use", NULL },
			{ FLAG_STRING, 0, "controller-namespace", &cfg.controller_ns,
			  "NS", "The control plane's namespace (identities are <sa>.<ns>.serviceaccount.identity.<NS>.<cluster-domain>)",
			  NULL },
			{ FLAG_STRING, 0, "cluster-domain", &cfg.cluster_domain,
			  "DOMAIN", "The cluster's DNS domain", NULL },
			{ FLAG_FUNC, 0, "destination-addr", &cfg.destination_addr,
			  "ADDR", "Destination gRPC listener", NULL, 0, 0,
			  flag_addr, "0.0.0.0:8086" },
			{ FLAG_FUNC, 0, "public-api-addr", &cfg.public_api_addr,
			  "ADDR", "Public API listener", NULL, 0, 0, flag_addr,
			  "0.0.0.0:8085" },
			{ FLAG_FUNC, 0, "web-addr", &cfg.web_addr, "ADDR",
			  "web: the dashboard's listener", NULL, 0, 0,
			  flag_addr, "0.0.0.0:8084" },
			{ FLAG_FUNC, 0, "public-api-url", &cfg.public_api_url,
			  "URL", "web: the public API the dashboard reads (http://HOST:PORT; a name is resolved once, at start; default: this process's public API, else http://127.0.0.1:8085)",
			  "CONDUIT_PUBLIC_API_URL", 0, 0, flag_api_url },
			{ FLAG_FUNC, 0, "enforced-host", &hosts, "LIST",
			  "web: the Host names the dashboard answers (comma-separated; \"*\": any); IP literals are always allowed; others get 403 (DNS rebinding protection)",
			  NULL, 0, 0, flag_hosts,
			  "localhost,conduit-web.NS.svc,conduit-web.NS.svc.DOMAIN" },
			{ FLAG_FUNC, 0, "identity-addr", &cfg.identity_addr,
			  "ADDR", "Identity gRPC listener (Certify)", NULL, 0, 0,
			  flag_addr, "0.0.0.0:8080" },
			{ FLAG_STRING, 0, "identity-issuer-dir", &cfg.identity_issuer_dir,
			  "DIR", "identity: the issuer certificate and ECDSA P-256 key, PEM, as tls.crt and tls.key (install's Secret conduit-identity-issuer) or crt.pem and key.pem; ca.crt there is the default trust anchors",
			  "CONDUIT_IDENTITY_ISSUER_DIR" },
			{ FLAG_STRING, 0, "identity-trust-anchors-file", &cfg.identity_trust_anchors_file,
			  "FILE", "identity: the trust anchors (PEM) the issuer must chain to (default <issuer-dir>/ca.crt)",
			  "CONDUIT_IDENTITY_TRUST_ANCHORS_FILE" },
			{ FLAG_STRING, 0, "identity-trust-domain", &cfg.identity_trust_domain,
			  "DOMAIN", "identity: identities are <sa>.<ns>.serviceaccount.identity.<controller-namespace>.<DOMAIN> (default: --cluster-domain)",
			  NULL },
			{ FLAG_DURATION, 0, "identity-issuance-lifetime", &id_life,
			  "DURATION", "identity: how long a proxy's certificate is valid (never past the issuer's expiry)",
			  NULL },
			{ FLAG_DURATION, 0, "identity-clock-skew-allowance", &id_skew,
			  "DURATION", "identity: a certificate is valid from this long before it was issued",
			  NULL },
			{ FLAG_STRING, 0, "identity-tokens-dir", &cfg.identity_tokens_dir,
			  "DIR", "identity, local mode: the ServiceAccount tokens, one file per account named <namespace>.<serviceaccount> holding its token (without it, outside local mode: a TokenReview to the Kubernetes API)",
			  "CONDUIT_IDENTITY_TOKENS_DIR" },
			{ FLAG_STRING, 0, "tap-addr", &tap_addr, "ADDR",
			  "Reserved for a gRPC tap API; tap is served by the public API's /api/v1/tap today",
			  NULL },
			{ FLAG_FUNC, 0, "injector-addr", &cfg.injector_addr,
			  "ADDR", "injector: HTTPS admission webhook listener (POST /inject)",
			  NULL, 0, 0, flag_addr, "0.0.0.0:8443" },
			{ FLAG_STRING, 0, "injector-tls-dir", &cfg.injector_tls_dir,
			  "DIR", "injector: tls.crt and tls.key (PEM) of the webhook, re-read when they change",
			  NULL },
			{ FLAG_STRING, 0, "proxy-image", &cfg.inject.proxy_image,
			  "IMAGE", "injector: image of the conduit-proxy container",
			  NULL },
			{ FLAG_STRING, 0, "init-image", &init_image,
			  "IMAGE", "injector: image of the conduit-init container (default: --proxy-image)",
			  NULL },
			{ FLAG_STRING, 0, "image-pull-policy",
			  &cfg.inject.image_pull_policy, "POLICY",
			  "injector: Always, IfNotPresent or Never", NULL },
			{ FLAG_STRING, 0, "proxy-log-level",
			  &cfg.inject.proxy_log_level, "LEVEL",
			  "injector: the injected proxies' log level", NULL },
			{ FLAG_BOOL, 0, "native-sidecar", &cfg.inject.native_sidecar,
			  NULL, "injector: inject the proxy as a native sidecar (Kubernetes 1.29+)",
			  NULL },
			{ FLAG_FUNC, 0, "admin-addr", &cfg.admin_addr, "ADDR",
			  "Admin listener: /metrics, /ready, /live", NULL, 0, 0,
			  flag_addr, "0.0.0.0:9996" },
			{ FLAG_DURATION, 0, "scrape-interval", &scrape,
			  "DURATION", "public-api: how often to scrape every meshed pod's proxy /metrics",
			  NULL },
			{ FLAG_FUNC, 0, "prometheus-url", &cfg.prometheus_url,
			  "URL", "public-api: answer stat and edges with PromQL from this Prometheus (http://HOST:PORT[/PREFIX]; no TLS; resolved once, at start) instead of scraping the proxies itself",
			  "CONDUIT_CONTROLLER_PROMETHEUS_URL", 0, 0, flag_prom_url },
			{ FLAG_FUNC, 0, "log-level", &cfg.log_level, "LEVEL",
			  "Log level: error, warn, info, debug, trace",
			  "CONDUIT_CONTROLLER_LOG", 0, 0, flag_log, "info" },
			{ FLAG_END },
		};
		const struct flag_cmd cmd = {
			.name = "controller",
			.usage = "conduit controller [--components LIST] (--cluster-dir DIR | --kubeconfig FILE) [flags]",
			.summary = "Run the control plane components",
			.details = "Service discovery (destination, gRPC) and the public API over one cache of the cluster's Pods, Services, EndpointSlices and ReplicaSets; identity (gRPC Certify), the CA that signs the proxies' certificates; the proxy injector (an HTTPS admission webhook: POST /inject) with the namespaces it reads itself; the dashboard (web), which reads the public API only.",
			.flags = flags,
			.min_args = 0,
			.max_args = 0,
		};

		r = flag_parse(&cmd, &argc, &argv);
		if (r)
			return flag_exit_code(r);
		if (interval <= 0)
			return flag_usage_error(&cmd, "--cluster-dir-interval must be positive");
		if (scrape < NSEC_PER_SEC / 10)
			return flag_usage_error(&cmd, "--scrape-interval must be at least 100ms");
		/* short lifetimes are for tests (a proxy renews at 70%) */
		if (id_life < 10 * NSEC_PER_SEC)
			return flag_usage_error(&cmd, "--identity-issuance-lifetime must be at least 10s");
		if (id_skew < 0)
			return flag_usage_error(&cmd, "--identity-clock-skew-allowance must not be negative");
	}
	(void)tap_addr;
	cfg.inject.init_image = init_image ? init_image : cfg.inject.proxy_image;
	if (hosts.n) {
		cfg.web_hosts = hosts.v;
		cfg.nweb_hosts = hosts.n;
	}
	cfg.cluster_dir_interval = (double)interval / NSEC_PER_SEC;
	cfg.scrape_interval = (double)scrape / NSEC_PER_SEC;
	cfg.identity_lifetime = id_life / NSEC_PER_SEC;
	cfg.identity_clock_skew = id_skew / NSEC_PER_SEC;
	log_set_level(cfg.log_level);
	log_set_component("controller");
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop)
		die("cannot create the event loop (bad $LIBEV_FLAGS?)");
	return controller_run(&cfg, loop);
}
