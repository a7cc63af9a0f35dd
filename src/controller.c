/* SPDX-License-Identifier: Apache-2.0 */
/* controller.c - `conduit controller`: the control plane's components in one process */
#include "conduit/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/cluster_dir.h"
#include "conduit/cluster_kube.h"
#include "conduit/destination.h"
#include "conduit/injector.h"
#include "conduit/identity.h"
#include "conduit/kube_client.h"
#include "conduit/kube_config.h"
#include "conduit/json.h"
#include "conduit/loop.h"
#include "conduit/metrics.h"
#include "conduit/proxy_admin.h"
#include "conduit/public_api.h"
#include "conduit/version.h"
#include "conduit/web.h"

struct controller {
	const struct controller_config *cfg;
	struct ev_loop *loop;
	struct loop_signals signals;
	struct loop_reaper reaper;
	struct metrics_registry *metrics;
	struct cluster *cluster;
	struct cluster_dir *dir;
	struct cluster_kube *kube;
	struct destination *destination;
	struct public_api *public_api;
	struct injector *injector;
	struct web *web;
	struct identity *identity;
	struct kube_config id_kcfg; /* identity's TokenReviews */
	struct kube_client *id_kube;
	struct proxy_admin *admin;
	int admin_fd;
	ev_io admin_io;
	char *env_json;
	bool synced;
	/* gauges refreshed at each scrape */
	struct metrics_series *m_objects[4];
	struct metrics_series *m_dir[5];
	struct metrics_series *m_synced;
};

static const char *const kinds[] = { "Pod", "Service", "EndpointSlice",
				     "ReplicaSet" };

void controller_config_init(struct controller_config *cfg)
{
	char err[64];

	memset(cfg, 0, sizeof(*cfg));
	cfg->components = CONTROLLER_DESTINATION;
	cfg->cluster_dir_interval = 1.0;
	cfg->scrape_interval = 10.0;
	cfg->controller_ns = "conduit";
	cfg->cluster_domain = "cluster.local";
	cfg->log_level = LOG_INFO;
	sock_addr_parse("0.0.0.0:8086", &cfg->destination_addr, err,
			sizeof(err));
	sock_addr_parse("0.0.0.0:8085", &cfg->public_api_addr, err,
			sizeof(err));
	sock_addr_parse("0.0.0.0:9996", &cfg->admin_addr, err, sizeof(err));
	sock_addr_parse("0.0.0.0:8443", &cfg->injector_addr, err, sizeof(err));
	cfg->injector_tls_dir = "/var/run/conduit/tls";
	inject_config_defaults(&cfg->inject, version_string(), version_image());
	cfg->inject.created_by = "conduit/proxy-injector";
	sock_addr_parse("0.0.0.0:8084", &cfg->web_addr, err, sizeof(err));
	sock_addr_parse("0.0.0.0:8080", &cfg->identity_addr, err, sizeof(err));
	cfg->identity_lifetime = 86400;
	cfg->identity_clock_skew = 20;
}

int controller_parse_components(const char *s, unsigned *out, char *err,
				size_t errlen)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
		{ "destination", CONTROLLER_DESTINATION },
		{ "public-api", CONTROLLER_PUBLIC_API },
		{ "identity", CONTROLLER_IDENTITY },
		/* tap is fanned out by the public API (GET /api/v1/tap):
		 * naming it asks for the public API */
		{ "tap", CONTROLLER_PUBLIC_API },
		{ "injector", CONTROLLER_INJECTOR },
		{ "web", CONTROLLER_WEB },
	};
	unsigned bits = 0;

	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		bool found = false;

		for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
			if (strlen(known[i].name) == n &&
			    !strncmp(known[i].name, s, n)) {
				bits |= known[i].bit;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, errlen,
				 "unknown component \"%.*s\" (want destination, identity, public-api, tap, injector, web)",
				 (int)n, s);
			return -EINVAL;
		}
		s += n + (comma ? 1 : 0);
	}
	if (!bits) {
		snprintf(err, errlen, "no component named");
		return -EINVAL;
	}
	*out = bits;
	return 0;
}

/* --- admin ------------------------------------------------------------------- */

static bool admin_ready(void *arg)
{
	struct controller *c = arg;

	if (c->kube && !c->synced && cluster_kube_synced(c->kube)) {
		c->synced = true;
		log_info("controller: the cache has its first full view", "pods=%zu services=%zu endpointslices=%zu",
			 cluster_count(c->cluster, "Pod"),
			 cluster_count(c->cluster, "Service"),
			 cluster_count(c->cluster, "EndpointSlice"));
	}
	if (c->injector && !injector_ready(c->injector))
		return false;
	if (c->identity && !identity_ready(c->identity))
		return false;
	return c->synced;
}

static void on_admin_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct controller *c = container_of(w, struct controller, admin_io);

	(void)loop;
	(void)revents;
	for (int i = 0; i < 64; i++) {
		struct sock_addr peer;
		int fd = sock_accept(c->admin_fd, &peer);

		if (fd < 0)
			break;
		proxy_admin_accept(c->admin, fd, &peer);
	}
}

static void collect(struct metrics_registry *r, void *arg)
{
	struct controller *c = arg;

	(void)r;
	admin_ready(c); /* refreshes synced */
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		metrics_gauge_set(c->m_objects[i],
				  (double)cluster_count(c->cluster, kinds[i]));
	metrics_gauge_set(c->m_synced, c->synced);
	if (c->dir) {
		struct cluster_dir_stats st;

		cluster_dir_stats(c->dir, &st);
		metrics_gauge_set(c->m_dir[0], (double)st.scans);
		metrics_gauge_set(c->m_dir[1], (double)st.errors);
		metrics_gauge_set(c->m_dir[2], (double)st.events[0]);
		metrics_gauge_set(c->m_dir[3], (double)st.events[1]);
		metrics_gauge_set(c->m_dir[4], (double)st.events[2]);
	}
}

static void register_metrics(struct controller *c)
{
	static const char *const kind_label[] = { "kind" };
	static const char *const event_label[] = { "type" };
	struct metrics_family *f;

	metrics_register_process(c->metrics);
	f = metrics_family_new(c->metrics, METRICS_GAUGE, "cluster_cache_objects",
			       "Objects in the controller's cluster cache",
			       kind_label, 1, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		c->m_objects[i] = metrics_series_get(f, &kinds[i]);
	f = metrics_family_new(c->metrics, METRICS_GAUGE, "cluster_cache_synced",
			       "1 once the cache has its first full view",
			       NULL, 0, NULL, 0);
	c->m_synced = metrics_series_get(f, NULL);
	if (c->dir) {
		static const char *const types[] = { "added", "modified",
						     "deleted" };

		f = metrics_family_new(c->metrics, METRICS_COUNTER,
				       "cluster_dir_scans_total",
				       "Re-scans of --cluster-dir", NULL, 0,
				       NULL, 0);
		c->m_dir[0] = metrics_series_get(f, NULL);
		f = metrics_family_new(c->metrics, METRICS_COUNTER,
				       "cluster_dir_errors_total",
				       "Files or objects of --cluster-dir refused",
				       NULL, 0, NULL, 0);
		c->m_dir[1] = metrics_series_get(f, NULL);
		f = metrics_family_new(c->metrics, METRICS_COUNTER,
				       "cluster_dir_events_total",
				       "Objects of --cluster-dir added, modified, deleted",
				       event_label, 1, NULL, 0);
		for (size_t i = 0; i < 3; i++)
			c->m_dir[2 + i] = metrics_series_get(f, &types[i]);
	}
	metrics_registry_add_collector(c->metrics, collect, c);
}

static char *env_json(const struct controller_config *cfg)
{
	struct json *o = json_new_object();
	char a[SOCK_ADDR_STRLEN], *s;

	json_set_string(o, "version", version_string());
	json_set_string(o, "cluster_dir", cfg->cluster_dir ? cfg->cluster_dir : "");
	json_set_string(o, "controller_namespace", cfg->controller_ns);
	json_set_string(o, "cluster_domain", cfg->cluster_domain);
	json_set_string(o, "destination_addr",
			sock_addr_format(&cfg->destination_addr, a, sizeof(a)));
	if (cfg->components & CONTROLLER_IDENTITY)
		json_set_string(o, "identity_addr",
				sock_addr_format(&cfg->identity_addr, a, sizeof(a)));
	json_set_string(o, "admin_addr",
			sock_addr_format(&cfg->admin_addr, a, sizeof(a)));
	s = json_print(o, true);
	json_free(o);
	return s;
}

static int listen_admin(struct controller *c)
{
	struct proxy_admin_config acfg = {
		.metrics = c->metrics,
		.env_json = c->env_json,
		.request_timeout = 10 * (int64_t)1000000000,
	};
	struct proxy_admin_ops ops = { .ready = admin_ready, .arg = c };
	char a[SOCK_ADDR_STRLEN], e[128];

	c->admin = proxy_admin_new(c->loop, &c->reaper, &acfg, &ops);
	c->admin_fd = sock_listen(&c->cfg->admin_addr, 128, 0);
	if (c->admin_fd < 0) {
		log_error("controller: cannot listen", "component=admin addr=%s error=%s",
			  sock_addr_format(&c->cfg->admin_addr, a, sizeof(a)),
			  log_quote(e, sizeof(e), strerror(-c->admin_fd)));
		return -1;
	}
	ev_io_init(&c->admin_io, on_admin_accept, c->admin_fd, EV_READ);
	ev_io_start(c->loop, &c->admin_io);
	return 0;
}

static void on_stop(struct loop_signals *s, int signum)
{
	log_info("controller: stopping", "signal=%d", signum);
	ev_break(s->loop, EVBREAK_ALL);
}

/* --- run ------------------------------------------------------------------------- */

static int start_source(struct controller *c)
{
	char err[512], q[600];

	if (!c->cfg->cluster_dir) {
		c->kube = cluster_kube_new(c->loop, c->cluster, c->cfg->kubeconfig,
					   c->cfg->context, err, sizeof(err));
		if (!c->kube) {
			log_error("controller: cannot reach the Kubernetes API",
				  "error=%s hint=\"give --kubeconfig, or --cluster-dir DIR for local mode\"",
				  log_quote(q, sizeof(q), err));
			return -1;
		}
		return 0;
	}
	c->dir = cluster_dir_new(c->loop, c->cfg->cluster_dir, c->cluster,
				 c->cfg->cluster_dir_interval, err, sizeof(err));
	if (!c->dir) {
		log_error("controller: cannot read the cluster directory",
			  "error=%s", log_quote(q, sizeof(q), err));
		return -1;
	}
	c->synced = true;
	log_info("controller: cluster directory read", "dir=%s pods=%zu services=%zu endpointslices=%zu",
		 log_quote(q, sizeof(q), c->cfg->cluster_dir),
		 cluster_count(c->cluster, "Pod"),
		 cluster_count(c->cluster, "Service"),
		 cluster_count(c->cluster, "EndpointSlice"));
	return 0;
}

static int start_destination(struct controller *c)
{
	struct destination_config dc = {
		.loop = c->loop,
		.cluster = c->cluster,
		.metrics = c->metrics,
	};
	char a[SOCK_ADDR_STRLEN], e[128];
	int r;

	c->destination = destination_new(&dc);
	if (!c->destination)
		return -1;
	r = destination_listen(c->destination, &c->cfg->destination_addr);
	if (r < 0) {
		log_error("controller: cannot listen",
			  "component=destination addr=%s error=%s",
			  sock_addr_format(&c->cfg->destination_addr, a,
					   sizeof(a)),
			  log_quote(e, sizeof(e), strerror(-r)));
		return -1;
	}
	log_info("controller: destination listening", "addr=%s",
		 sock_addr_format(&c->cfg->destination_addr, a, sizeof(a)));
	return 0;
}

static int start_public_api(struct controller *c)
{
	struct public_api_config pc = {
		.loop = c->loop,
		.cluster = c->cluster,
		.metrics = c->metrics,
		.scrape_interval = c->cfg->scrape_interval,
		.prometheus_url = c->cfg->prometheus_url,
	};
	char a[SOCK_ADDR_STRLEN], e[128];
	int r;

	c->public_api = public_api_new(&pc);
	if (!c->public_api)
		return -1;
	r = public_api_listen(c->public_api, &c->cfg->public_api_addr);
	if (r < 0) {
		log_error("controller: cannot listen",
			  "component=public-api addr=%s error=%s",
			  sock_addr_format(&c->cfg->public_api_addr, a, sizeof(a)),
			  log_quote(e, sizeof(e), strerror(-r)));
		return -1;
	}
	if (c->cfg->prometheus_url)
		log_info("controller: public API listening", "addr=%s prometheus=%s",
			 sock_addr_format(&c->cfg->public_api_addr, a, sizeof(a)),
			 c->cfg->prometheus_url);
	else
		log_info("controller: public API listening", "addr=%s scrape_interval=%gs",
			 sock_addr_format(&c->cfg->public_api_addr, a, sizeof(a)),
			 c->cfg->scrape_interval);
	return 0;
}

static int start_injector(struct controller *c)
{
	struct injector_config ic = {
		.loop = c->loop,
		.metrics = c->metrics,
		.tls_dir = c->cfg->injector_tls_dir,
		.addr = c->cfg->injector_addr,
		.use_kube = !c->cfg->cluster_dir,
		.kubeconfig = c->cfg->kubeconfig,
		.context = c->cfg->context,
		.inject = c->cfg->inject,
	};
	char a[SOCK_ADDR_STRLEN], err[600], q[700];

	ic.inject.control_plane_ns = c->cfg->controller_ns;
	ic.inject.cluster_domain = c->cfg->cluster_domain;
	/* install's ConfigMap conduit-identity-trust-roots, mounted: the
	 * proxies the webhook injects get identities (re-read on change) */
	ic.trust_anchors_file = c->cfg->identity_trust_anchors_file;
	if (!ic.trust_anchors_file) {
		log_warn("controller: injected proxies get no identity",
			 "hint=%s",
			 log_quote(q, sizeof(q),
				   "give --identity-trust-anchors-file for "
				   "mutual TLS between them"));
	}
	c->injector = injector_new(&ic, err, sizeof(err));
	if (!c->injector) {
		log_error("controller: cannot start the injector", "error=%s",
			  log_quote(q, sizeof(q), err));
		return -1;
	}
	log_info("controller: injector listening", "addr=%s tls_dir=%s kube_api=%s",
		 sock_addr_format(&c->cfg->injector_addr, a, sizeof(a)),
		 c->cfg->injector_tls_dir, ic.use_kube ? "namespaces" : "none");
	return 0;
}

/*
 * start_web - the dashboard, reading --public-api-url; else the public
 * API of this process, when it runs here; else the default address
 */
static int start_web(struct controller *c)
{
	struct web_config wc = {
		.loop = c->loop,
		.hosts = c->cfg->web_hosts,
		.nhosts = c->cfg->nweb_hosts,
		.controller_ns = c->cfg->controller_ns,
		.cluster_domain = c->cfg->cluster_domain,
		.metrics = c->metrics,
	};
	char a[SOCK_ADDR_STRLEN], api[SOCK_ADDR_STRLEN], auth[300], e[300];
	char q[2][400];
	int r;

	if (c->cfg->public_api_url) {
		r = web_resolve_upstream(c->cfg->public_api_url,
					 c->cfg->controller_ns, 30, &wc.api_addr,
					 auth, sizeof(auth), e, sizeof(e));
		if (r < 0) {
			log_error("controller: cannot use --public-api-url",
				  "url=%s error=%s",
				  log_quote(q[0], sizeof(q[0]), c->cfg->public_api_url),
				  log_quote(q[1], sizeof(q[1]), e));
			return -1;
		}
		wc.api_authority = auth;
	} else if (c->public_api) {
		/* a wildcard listener is reached on loopback */
		char ip[SOCK_ADDR_STRLEN];

		wc.api_addr = c->cfg->public_api_addr;
		sock_addr_format_ip(&wc.api_addr, ip, sizeof(ip));
		if (!strcmp(ip, "0.0.0.0") || !strcmp(ip, "::")) {
			sock_ip_parse(ip[0] == ':' ? "::1" : "127.0.0.1",
				      &wc.api_addr);
			sock_addr_set_port(&wc.api_addr,
					   sock_addr_port(&c->cfg->public_api_addr));
		}
	} else {
		sock_addr_parse("127.0.0.1:8085", &wc.api_addr, e, sizeof(e));
	}
	c->web = web_new(&wc);
	r = c->web ? web_listen(c->web, &c->cfg->web_addr) : -ENOMEM;
	if (r < 0) {
		log_error("controller: cannot listen", "component=web addr=%s error=%s",
			  sock_addr_format(&c->cfg->web_addr, a, sizeof(a)),
			  log_quote(e, sizeof(e), strerror(-r)));
		return -1;
	}
	log_info("controller: web listening", "addr=%s public_api=%s",
		 sock_addr_format(&c->cfg->web_addr, a, sizeof(a)),
		 sock_addr_format(&wc.api_addr, api, sizeof(api)));
	return 0;
}

/*
 * identity_kube - the API client identity's TokenReviews go through: the
 * same configuration the cache's client would use (--kubeconfig, the
 * default files, then in-cluster)
 */
static int identity_kube(struct controller *c, char *err, size_t errlen)
{
	char e1[400], e2[400];
	int r;

	r = kube_config_load(c->cfg->kubeconfig, c->cfg->context, &c->id_kcfg, e1,
			     sizeof(e1));
	if (r == -ENOENT && !c->cfg->kubeconfig) {
		r = kube_config_in_cluster(NULL, &c->id_kcfg, e2, sizeof(e2));
		if (r < 0) {
			snprintf(err, errlen, "no Kubernetes configuration: %s; in-cluster: %s",
				 e1, e2);
			return r;
		}
	} else if (r < 0) {
		snprintf(err, errlen, "%s", e1);
		return r;
	}
	c->id_kube = kube_client_new(c->loop, &c->id_kcfg, err, errlen);
	return c->id_kube ? 0 : -EINVAL;
}

static int start_identity(struct controller *c)
{
	const struct controller_config *cfg = c->cfg;
	struct identity_config ic = {
		.loop = c->loop,
		.metrics = c->metrics,
		.issuer_dir = cfg->identity_issuer_dir,
		.trust_anchors_file = cfg->identity_trust_anchors_file,
		.controller_ns = cfg->controller_ns,
		.trust_domain = cfg->identity_trust_domain ?
					cfg->identity_trust_domain :
					cfg->cluster_domain,
		.lifetime = cfg->identity_lifetime,
		.clock_skew = cfg->identity_clock_skew,
		.tokens_dir = cfg->identity_tokens_dir,
	};
	char a[SOCK_ADDR_STRLEN], e[128], err[1024], q[1100];
	int r;

	if (!cfg->identity_tokens_dir) {
		if (cfg->cluster_dir) {
			log_error("controller: identity cannot check tokens",
				  "hint=\"local mode (--cluster-dir) checks them against --identity-tokens-dir DIR\"");
			return -1;
		}
		if (identity_kube(c, err, sizeof(err)) < 0) {
			log_error("controller: identity cannot reach the Kubernetes API",
				  "error=%s hint=\"give --kubeconfig, or --cluster-dir DIR and --identity-tokens-dir DIR for local mode\"",
				  log_quote(q, sizeof(q), err));
			return -1;
		}
		ic.kube = c->id_kube;
	}
	c->identity = identity_new(&ic, err, sizeof(err));
	if (!c->identity) {
		log_error("controller: identity cannot start", "error=%s",
			  log_quote(q, sizeof(q), err));
		return -1;
	}
	r = identity_listen(c->identity, &cfg->identity_addr);
	if (r < 0) {
		log_error("controller: cannot listen",
			  "component=identity addr=%s error=%s",
			  sock_addr_format(&cfg->identity_addr, a, sizeof(a)),
			  log_quote(e, sizeof(e), strerror(-r)));
		return -1;
	}
	log_info("controller: identity listening", "addr=%s tokens=%s trust_domain=%s",
		 sock_addr_format(&cfg->identity_addr, a, sizeof(a)),
		 ic.kube ? "TokenReview" : "files", ic.trust_domain);
	return 0;
}

int controller_run(const struct controller_config *cfg, struct ev_loop *loop)
{
	struct controller *c = xcalloc(1, sizeof(*c));
	char idom[256];
	struct cluster_config cc = {
		.derive_endpoints = cfg->cluster_dir != NULL,
		.cluster_domain = cfg->cluster_domain,
		.identity_domain = idom,
	};
	int rc = 1;

	snprintf(idom, sizeof(idom), "%s.%s", cfg->controller_ns,
		 cfg->cluster_domain);
	c->cfg = cfg;
	c->loop = loop;
	c->admin_fd = -1;
	loop_reaper_init(&c->reaper, loop);
	loop_signals_init(&c->signals, loop, on_stop, NULL);
	c->metrics = metrics_registry_new();
	c->cluster = cluster_new(&cc);
	c->env_json = env_json(cfg);
	/* the cache only for the components that read it */
	if (cfg->components & (CONTROLLER_DESTINATION | CONTROLLER_PUBLIC_API)) {
		if (start_source(c) < 0)
			goto out;
	} else {
		c->synced = true;
	}
	register_metrics(c);
	if (c->kube)
		cluster_kube_metrics(c->kube, c->metrics);
	if (listen_admin(c) < 0)
		goto out;
	if ((cfg->components & CONTROLLER_DESTINATION) &&
	    start_destination(c) < 0)
		goto out;
	if ((cfg->components & CONTROLLER_PUBLIC_API) &&
	    start_public_api(c) < 0)
		goto out;
	if ((cfg->components & CONTROLLER_INJECTOR) && start_injector(c) < 0)
		goto out;
	if ((cfg->components & CONTROLLER_WEB) && start_web(c) < 0)
		goto out;
	if ((cfg->components & CONTROLLER_IDENTITY) && start_identity(c) < 0)
		goto out;
	log_info("controller started", "version=%s", version_string());
	ev_run(loop, 0);
	rc = 0;
out:
	injector_free(c->injector);
	web_free(c->web);
	public_api_free(c->public_api);
	destination_free(c->destination);
	identity_free(c->identity);
	kube_client_free(c->id_kube);
	kube_config_release(&c->id_kcfg);
	if (c->admin_fd >= 0) {
		ev_io_stop(loop, &c->admin_io);
		close(c->admin_fd);
	}
	if (c->admin)
		proxy_admin_free(c->admin);
	cluster_dir_free(c->dir);
	cluster_kube_free(c->kube);
	cluster_free(c->cluster);
	metrics_registry_free(c->metrics);
	loop_signals_release(&c->signals);
	loop_reaper_release(&c->reaper);
	free(c->env_json);
	free(c);
	return rc;
}
