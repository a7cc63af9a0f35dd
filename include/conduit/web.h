/* SPDX-License-Identifier: Apache-2.0 */
/* web.h - the dashboard component: embedded assets, /api/ proxied to the public API */
#ifndef CONDUIT_WEB_H
#define CONDUIT_WEB_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/metrics.h"
#include "conduit/sock.h"

/*
 * The web component serves the dashboard (the .html, .css, .js and .svg of web/,
 * compiled into the binary) and forwards every GET under /api/ to the
 * public API, streaming the answer through as it arrives (a tap never
 * waits in a buffer here):
 *
 *   GET /, /index.html        the dashboard (its pages are #fragments)
 *   GET /app.js, /style.css   ... every embedded web/ file by its name
 *   GET /api/...              the public API's answer, status and body
 *   anything else             404; a method other than GET/HEAD: 405
 *
 * Assets carry their content type, an ETag (answered with 304 to
 * If-None-Match) and Cache-Control: no-cache (revalidate each time: the
 * names carry no version), plus nosniff, a same-origin Content Security
 * Policy and frame-ancestors 'none'.
 *
 * DNS rebinding: a request whose Host is not allowed gets a 403 before
 * anything else. Allowed: any IP literal (127.0.0.1:8084, [::1]), and the
 * names of the allow-list (localhost and the Service's names by default);
 * a port is ignored; "*" in the list allows every host. Like Linkerd's
 * --enforced-host.
 */

struct web_config {
	struct ev_loop *loop;
	struct sock_addr api_addr;    /* the public API */
	const char *api_authority;    /* its Host: (NULL: api_addr as text);
				       * copied */
	const char *const *hosts;     /* allowed Host names, nhosts of them
				       * (copied); NULL: web_default_hosts */
	size_t nhosts;
	const char *controller_ns;    /* for the default hosts ("conduit") */
	const char *cluster_domain;   /* ditto ("cluster.local") */
	struct metrics_registry *metrics; /* borrowed; may be NULL */
};

struct web;

/* web_new - the component, not listening (cfg copied). Free: web_free */
struct web *web_new(const struct web_config *cfg);
/* web_listen - 0 or a negative errno */
int web_listen(struct web *w, const struct sock_addr *a);
/* web_local_addr - where it listens: 0 or -ENOTCONN */
int web_local_addr(const struct web *w, struct sock_addr *out);
/* web_free - close everything; proxied calls in flight end. NULL: no-op */
void web_free(struct web *w);

/*
 * web_host_allowed - may a request with this Host header value (NULL:
 * none) be served? Any IP literal with or without a port; else the name
 * (case-insensitive, one trailing dot ignored, port ignored) must equal
 * one of hosts[0..n), or hosts hold "*". A malformed value (a bad port,
 * an unclosed '[', characters no host name has) is refused.
 */
bool web_host_allowed(const char *host, const char *const *hosts, size_t n);

/*
 * web_default_hosts - the default allow-list into out (at least
 * WEB_DEFAULT_HOSTS entries, each of size WEB_HOST_MAX): localhost,
 * conduit-web.<ns>.svc and conduit-web.<ns>.svc.<domain>. Returns the count.
 */
#define WEB_DEFAULT_HOSTS 3
#define WEB_HOST_MAX 256
size_t web_default_hosts(const char *ns, const char *domain,
			 char out[][WEB_HOST_MAX]);

/*
 * web_asset - the embedded file a request path names ("/" is
 * web/index.html; only names directly under web/), or NULL.
 * web_content_type - its MIME type by extension
 * ("application/octet-stream" when unknown).
 */
struct embed_file;
const struct embed_file *web_asset(const char *path);
const char *web_content_type(const char *path);

/*
 * web_parse_upstream - the public API from --public-api-url:
 * "http://HOST:PORT[/]" or "HOST:PORT" into host (a name or an IP
 * literal, brackets removed) and *port. Returns 0, or -EINVAL with why in
 * err (https, a path, no port, ...).
 */
int web_parse_upstream(const char *url, char *host, size_t hostlen,
		       int *port, char *err, size_t errlen);

/*
 * web_resolve_upstream - --public-api-url to an address: the host looked
 * up (getaddrinfo), else through the Kubernetes service variables of
 * namespace ns; tried `attempts` times a second apart while the name is
 * unknown (DNS may lag at pod start). BLOCKING: at start-up only.
 * authority gets "HOST:PORT" as given (the Host the API is asked with).
 * Returns 0, or -EINVAL / -ENOENT with why in err.
 */
int web_resolve_upstream(const char *url, const char *ns, int attempts,
			 struct sock_addr *out, char *authority,
			 size_t authlen, char *err, size_t errlen);

#endif
