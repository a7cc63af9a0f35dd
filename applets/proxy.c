/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.c - `conduit proxy`: the sidecar data plane
 *
 *   conduit proxy [flags]
 *
 * Configured by CONDUIT_PROXY_* environment variables (as the injected
 * sidecar is) or the matching flags (`conduit proxy --help`). Runs until
 * SIGTERM/SIGINT (or POST /shutdown when enabled), drains, exits 0.
 * Exit 1 when a listener cannot be opened, 2 on a usage error (identity
 * settings included: with trust anchors, a local name and the identity
 * component's address are required and checked before anything starts).
 */
#include <stdlib.h>

#include <ev.h>

#include "applets.h"
#include "conduit/flag.h"
#include "conduit/log.h"
#include "conduit/proxy.h"
#include "conduit/version.h"

int applet_proxy(int argc, char **argv)
{
	struct proxy_config *cfg = xmalloc(sizeof(*cfg));
	struct ev_loop *loop;
	struct proxy *px;
	int r;

	proxy_config_init(cfg);
	r = proxy_config_parse(cfg, &argc, &argv);
	if (r) {
		proxy_config_release(cfg);
		free(cfg);
		return flag_exit_code(r);
	}
	log_set_level(cfg->log_level);
	log_set_component("proxy");
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop)
		die("cannot create the event loop (bad $LIBEV_FLAGS?)");
	px = proxy_new(cfg, loop);
	r = proxy_start(px);
	if (r) {
		proxy_free(px);
		proxy_config_release(cfg);
		free(cfg);
		return 1;
	}
	log_info("proxy started", "version=%s", version_string());
	r = proxy_run(px);
	proxy_free(px);
	proxy_config_release(cfg);
	free(cfg);
	return r;
}
