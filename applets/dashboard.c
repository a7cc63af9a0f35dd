/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dashboard.c - `conduit dashboard`: open the mesh dashboard
 *
 *   conduit dashboard [--web-addr HOST:PORT] [--port N] [--address IP]
 *                     [--show conduit|apponly|url] [--wait DURATION]
 *
 * Local (--web-addr, --api-addr or $CONDUIT_API_ADDR given, or no
 * kubeconfig): check the web component answers there, print its URL and
 * exit. With a kubeconfig: serve 127.0.0.1:50750, forwarding to the
 * Service conduit-web through the Kubernetes API server, until Ctrl-C.
 * Exit 1 when the dashboard does not answer within --wait, 2 on a usage
 * error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/dashboard.h"
#include "conduit/flag.h"
#include "conduit/kube_config.h"
#include "conduit/log.h"
#include "conduit/loop.h"
#include "conduit/time.h"

#define DEFAULT_WEB_ADDR "127.0.0.1:8084"

struct opts {
	const char *show;
	bool browser;
	double wait;
};

/* open_browser - best effort, only where a desktop session is */
static void open_browser(const char *url)
{
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	pid_t pid;

	if ((!d || !*d) && (!w || !*w))
		return;
	pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		fprintf(stderr, "Opening %s in your browser...\n", url);
}

static int local(const char *web_addr, const struct opts *o)
{
	struct sock_addr a;
	char why[200], url[128];
	int r;

	if (sock_addr_parse(web_addr, &a, why, sizeof(why)) < 0) {
		fprintf(stderr, "conduit dashboard: invalid --web-addr \"%s\": %s\n",
			web_addr, why);
		return 2;
	}
	snprintf(url, sizeof(url), "http://%s", web_addr);
	r = dashboard_check_local(&a, o->wait, why, sizeof(why));
	if (r == -EPROTONOSUPPORT) {
		fprintf(stderr, "conduit dashboard: %s is not the conduit dashboard: %s\n",
			url, why);
		return 1;
	}
	if (r && r != -EPROTO) {
		fprintf(stderr, "conduit dashboard: the dashboard at %s does not answer: %s (is `conduit demo` or `conduit controller --components web` running? --web-addr says where)\n",
			url, why);
		return 1;
	}
	printf("Conduit dashboard available at %s\n", url);
	if (r == -EPROTO)
		fprintf(stderr, "conduit dashboard: warning: the public API behind it does not answer: %s\n",
			why);
	fflush(stdout);
	if (o->browser)
		open_browser(url);
	return 0;
}

/* --- through the API server ------------------------------------------------------ */

struct check {
	struct ev_loop *loop;
	int status, error;
	char message[256];
	bool done;
};

static void on_check(void *arg, const struct kube_response *resp)
{
	struct check *k = arg;

	k->done = true;
	k->status = resp->status;
	k->error = resp->error;
	if (resp->error)
		snprintf(k->message, sizeof(k->message), "%s", resp->message ? resp->message : "");
	else
		kube_status_message(resp->body ? resp->body : "", resp->body_len,
				    k->message, sizeof(k->message));
	ev_break(k->loop, EVBREAK_ALL);
}

static void on_stop(struct loop_signals *s, int signum)
{
	(void)signum;
	ev_break(s->loop, EVBREAK_ALL);
}

static int cluster(struct kube_config *cfg, const char *address, long long port,
		   const struct opts *o)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	const char *ns = getenv("CONDUIT_NAMESPACE");
	struct kube_client *kube;
	struct dashboard_fwd *f = NULL;
	struct loop_signals sig;
	struct sock_addr a, at;
	char err[400], path[512], url[128], ip[SOCK_ADDR_STRLEN];
	double waited = 0;
	int rc = 1;

	if (!ns || !*ns)
		ns = "conduit";
	if (sock_ip_parse(address, &a) < 0) {
		fprintf(stderr, "conduit dashboard: invalid --address \"%s\": want an IP address\n",
			address);
		return 2;
	}
	sock_addr_set_port(&a, (int)port);
	if (!(kube = kube_client_new(loop, cfg, err, sizeof(err)))) {
		fprintf(stderr, "conduit dashboard: %s\n", err);
		return 1;
	}
	/* the Service answers through the API server before we say so */
	dashboard_proxy_path(ns, "/api/v1/version", path, sizeof(path));
	for (;;) {
		struct check k = { .loop = loop };
		struct kube_request_opts ro = { .path = path,
						.connect_timeout_ms = 5000,
						.total_timeout_ms = 10000 };

		if (!kube_request_start(kube, &ro, on_check, &k))
			break;
		ev_run(loop, 0);
		/* 200; or the dashboard's own word that the API behind it
		 * is down (it shows that itself) */
		if (k.status == 200 ||
		    (k.status == 502 && strstr(k.message, "cannot reach the public API")))
			break;
		if (waited >= o->wait) {
			fprintf(stderr, "conduit dashboard: the dashboard (Service conduit-web in namespace %s) does not answer through the Kubernetes API server %s: %s\n",
				ns, cfg->server,
				*k.message ? k.message : "no answer");
			goto out;
		}
		if (waited == 0)
			fprintf(stderr, "Waiting for the dashboard (Service conduit-web in namespace %s) to answer...\n",
				ns);
		usleep(500000);
		waited += 0.5;
	}
	if (!(f = dashboard_fwd_new(kube, ns, &a, err, sizeof(err)))) {
		fprintf(stderr, "conduit dashboard: %s (--port picks another)\n", err);
		goto out;
	}
	dashboard_fwd_addr(f, &at);
	sock_addr_format_ip(&at, ip, sizeof(ip));
	snprintf(url, sizeof(url), strchr(ip, ':') ? "http://[%s]:%d" : "http://%s:%d",
		 ip, sock_addr_port(&at));
	printf("Conduit dashboard available at %s\n", url);
	fflush(stdout);
	if (o->browser)
		open_browser(url);
	loop_signals_init(&sig, loop, on_stop, NULL);
	ev_run(loop, 0);
	loop_signals_release(&sig);
	rc = 0;
out:
	dashboard_fwd_free(f);
	kube_client_free(kube);
	return rc;
}

int applet_dashboard(int argc, char **argv)
{
	const char *web_addr = NULL, *api_addr = NULL, *address = "127.0.0.1";
	const char *show = "conduit", *kubeconfig = NULL, *context = NULL;
	long long port = 50750;
	int64_t wait = 60 * NSEC_PER_SEC;
	struct kube_config cfg;
	struct opts o = { 0 };
	char err[400];
	int r;

	{
		const struct flag flags[] = {
			{ FLAG_STRING, 0, "web-addr", &web_addr, "HOST:PORT",
			  "Local mode: the web component's address (default " DEFAULT_WEB_ADDR ", where `conduit demo` serves it)",
			  "CONDUIT_WEB_ADDR" },
			{ FLAG_STRING, 0, "api-addr", &api_addr, "HOST:PORT",
			  "Given (or $CONDUIT_API_ADDR): local mode, as for the other commands",
			  "CONDUIT_API_ADDR" },
			{ FLAG_STRING, 0, "address", &address, "IP",
			  "Cluster mode: the address the local port listens on", NULL },
			{ FLAG_INT, 'p', "port", &port, "N",
			  "Cluster mode: the local port (0: any free one)", NULL, 0,
			  65535 },
			{ FLAG_STRING, 0, "show", &show, "WHAT",
			  "conduit (print the URL and open a browser when there is a desktop), apponly (the same: there is no Grafana), url (print the URL only)",
			  NULL },
			{ FLAG_DURATION, 0, "wait", &wait, "DURATION",
			  "How long to wait for the dashboard to answer", NULL },
			{ FLAG_STRING, 0, "kubeconfig", &kubeconfig, "FILE",
			  "Cluster mode: this kubeconfig (default $KUBECONFIG, ~/.kube/config)",
			  NULL },
			{ FLAG_STRING, 0, "context", &context, "NAME",
			  "The kubeconfig context to use", NULL },
			{ FLAG_END },
		};
		const struct flag_cmd cmd = {
			.name = "dashboard",
			.usage = "conduit dashboard [--web-addr HOST:PORT] [--port N] [--show conduit|apponly|url] [flags]",
			.summary = "Open the mesh dashboard in a browser",
			.details = "Local mode (--web-addr or --api-addr given, or no kubeconfig): checks that the\n"
				   "dashboard answers at --web-addr and prints its URL. With a kubeconfig: serves\n"
				   "--address:--port, forwarding to the Service conduit-web in $CONDUIT_NAMESPACE\n"
				   "(conduit) through the Kubernetes API server, until Ctrl-C.",
			.flags = flags,
			.max_args = 0,
		};

		r = flag_parse(&cmd, &argc, &argv);
		if (r)
			return flag_exit_code(r);
		if (strcmp(show, "conduit") && strcmp(show, "apponly") &&
		    strcmp(show, "url"))
			return flag_usage_error(&cmd, "invalid --show \"%s\": want conduit, apponly or url",
						show);
		if (wait < 0)
			return flag_usage_error(&cmd, "--wait must not be negative");
	}
	o.show = show;
	o.browser = strcmp(show, "url") != 0;
	o.wait = (double)wait / NSEC_PER_SEC;
	log_set_level(LOG_WARN);
	if ((web_addr && *web_addr) || *cli_api_addr(api_addr))
		return local(web_addr && *web_addr ? web_addr : DEFAULT_WEB_ADDR, &o);
	r = kube_config_auto(kubeconfig, context, &cfg, err, sizeof(err));
	if (r == -ENOENT && !kubeconfig)
		return local(DEFAULT_WEB_ADDR, &o);
	if (r < 0) {
		fprintf(stderr, "conduit dashboard: %s\n", err);
		return 1;
	}
	r = cluster(&cfg, address, port, &o);
	kube_config_release(&cfg);
	return r;
}
