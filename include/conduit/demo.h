/* SPDX-License-Identifier: Apache-2.0 */
/* demo.h - `conduit demo`: the mesh and the sample app as processes on one machine */
#ifndef CONDUIT_DEMO_H
#define CONDUIT_DEMO_H

#include "conduit/base.h"

/*
 * The demo writes the sample app's cluster as YAML (namespace emojivoto:
 * a Pod and ReplicaSet per Deployment emoji, voting, web and vote-bot;
 * Services emoji-svc:8080, voting-svc:8080, web-svc:80), starts
 * `conduit controller --cluster-dir` on it (destination, public API and
 * the dashboard),
 * and for each pod a `conduit proxy` on the pod's address 127.N.0.x
 * (inbound on the app's port, forwarding to the app on 127.N.1.x) and
 * the app (`conduit demo-app`), whose calls go to its own proxy's
 * outbound port naming the service, as an injected pod's would. Every
 * process is a child in its own process group, logging to a file in the
 * state directory; the demo stops them all (TERM, then KILL) when it
 * ends, and removes the directory.
 */

struct demo_config {
	const char *api_addr;	/* the public API (127.0.0.1:8085) */
	const char *web_addr;	/* the dashboard (127.0.0.1:8084) */
	int rate;		/* the bot's requests per second (10) */
	int subnet;		/* N of 127.N.x.y (10) */
	double refresh;		/* s between stat tables (2) */
	double scrape_interval; /* s between the API's scrapes (2) */
	double duration;	/* s; 0: until SIGINT/SIGTERM */
	bool keep;		/* keep the state directory */
};

void demo_config_init(struct demo_config *cfg);

/* demo_web_url - "http://ADDR/" for web_addr (a wildcard: loopback), in buf */
char *demo_web_url(const char *web_addr, char *buf, size_t size);

/* demo_run - run it; returns the exit code (0, or 1 when a part failed) */
int demo_run(const struct demo_config *cfg);

#endif
