/* SPDX-License-Identifier: Apache-2.0 */
/* dashboard.h - `conduit dashboard`: find the web component, or forward a local port to it */
#ifndef CONDUIT_DASHBOARD_H
#define CONDUIT_DASHBOARD_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/kube_client.h"
#include "conduit/sock.h"

/*
 * Two ways to the dashboard, as the other CLI commands reach the API:
 *
 *   local    the web component answers at an address of this machine
 *            (`conduit demo`, a controller run by hand): check that
 *            GET /api/v1/version answers through it, print its URL;
 *   cluster  through the Kubernetes API server's service proxy to the
 *            Service conduit-web (port "http") of the control plane's
 *            namespace: a local listener forwards every GET there and
 *            streams the answer back (a tap too), as `kubectl proxy`
 *            would, but for this one Service.
 */

/*
 * dashboard_check_local - GET http://addr/ (the dashboard's page) and
 * /api/v1/version through it, retried every 200 ms until wait seconds
 * pass. Returns 0 (the web component and the API behind it answer),
 * -EPROTO with the API's error in err (the dashboard answers, the API
 * behind it does not: it shows that itself), -EPROTONOSUPPORT (something
 * else answers there), or the transport error, with why in err.
 */
int dashboard_check_local(const struct sock_addr *addr, double wait, char *err,
			  size_t errlen);

/*
 * dashboard_proxy_path - the API server path for a dashboard request
 * target ("/app.js", "/api/v1/stat?x=y") into buf: the service proxy of
 * conduit-web:http in namespace ns. Returns buf, or NULL when it does not
 * fit.
 */
char *dashboard_proxy_path(const char *ns, const char *target, char *buf,
			   size_t size);

/*
 * dashboard_content_type - the type of an answer to path (the API
 * server's proxy does not pass it on in a stream): JSON for /api/, JSON
 * lines for /api/v1/tap, else the asset's (web_content_type).
 */
const char *dashboard_content_type(const char *path);

struct dashboard_fwd;

/*
 * dashboard_fwd_new - serve on addr (port 0: any) and forward through
 * kube (borrowed; its loop) to conduit-web in ns (copied). NULL with why
 * in err when it cannot listen.
 */
struct dashboard_fwd *dashboard_fwd_new(struct kube_client *kube,
					const char *ns,
					const struct sock_addr *addr, char *err,
					size_t errlen);
/* dashboard_fwd_addr - where it listens */
void dashboard_fwd_addr(const struct dashboard_fwd *f, struct sock_addr *out);
/* dashboard_fwd_free - close it; requests in flight are cancelled */
void dashboard_fwd_free(struct dashboard_fwd *f);

#endif
