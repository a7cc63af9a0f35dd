/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demo.c - `conduit demo`: the whole mesh and a sample app on this machine
 *
 *   conduit demo [--api-addr HOST:PORT] [--web-addr HOST:PORT] [--rate N] [--refresh DURATION]
 *                [--duration DURATION] [--subnet N] [--keep]
 *
 * No cluster and no root: the controller in local mode, the emojivoto
 * sample app (conduit demo-app), one conduit proxy per pod, each pod on its
 * own loopback address, the dashboard, and a live `conduit stat deploy`
 * table. Ctrl-C
 * stops everything it started and removes its files. Exit 1 when a part
 * does not start or dies, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "applets.h"
#include "conduit/demo.h"
#include "conduit/flag.h"
#include "conduit/time.h"

int applet_demo(int argc, char **argv)
{
	struct demo_config cfg;
	int64_t refresh = 2 * NSEC_PER_SEC, duration = 0, scrape = 2 * NSEC_PER_SEC;
	long long rate = 10, subnet = 10;
	int r;

	demo_config_init(&cfg);
	{
		const struct flag flags[] = {
			{ FLAG_STRING, 0, "api-addr", &cfg.api_addr, "HOST:PORT",
			  "Where the public API listens", "CONDUIT_API_ADDR" },
			{ FLAG_STRING, 0, "web-addr", &cfg.web_addr, "HOST:PORT",
			  "Where the dashboard listens", "CONDUIT_WEB_ADDR" },
			{ FLAG_INT, 0, "rate", &rate, "N",
			  "Requests per second the traffic generator sends",
			  NULL, 1, 1000 },
			{ FLAG_DURATION, 0, "refresh", &refresh, "DURATION",
			  "How often the stat table is refreshed", NULL },
			{ FLAG_DURATION, 0, "scrape-interval", &scrape, "DURATION",
			  "How often the public API scrapes the proxies", NULL },
			{ FLAG_DURATION, 0, "duration", &duration, "DURATION",
			  "Stop after DURATION (0: at Ctrl-C)", NULL },
			{ FLAG_INT, 0, "subnet", &subnet, "N",
			  "Pods get 127.N.0.x, their apps 127.N.1.x", NULL, 1, 254 },
			{ FLAG_BOOL, 0, "keep", &cfg.keep, NULL,
			  "Keep the state directory (cluster YAML, logs) at the end" },
			{ FLAG_END },
		};
		const struct flag_cmd cmd = {
			.name = "demo",
			.usage = "conduit demo [--api-addr HOST:PORT] [--rate N] [--duration DURATION] [flags]",
			.summary = "Run the whole mesh and a sample app on this machine",
			.details = "Starts the controller in local mode, the emojivoto sample app (web, emoji,\n"
				   "voting and a traffic generator), one conduit proxy beside each service,\n"
				   "then shows `conduit stat deploy -n emojivoto` live and serves the dashboard\n"
				   "(--web-addr). Ctrl-C stops it all.",
			.flags = flags,
			.max_args = 0,
		};

		r = flag_parse(&cmd, &argc, &argv);
		if (r)
			return flag_exit_code(r);
		if (refresh < NSEC_PER_SEC / 10 || scrape < NSEC_PER_SEC / 10)
			return flag_usage_error(&cmd, "--refresh and --scrape-interval must be at least 100ms");
	}
	cfg.rate = (int)rate;
	cfg.subnet = (int)subnet;
	cfg.refresh = (double)refresh / NSEC_PER_SEC;
	cfg.scrape_interval = (double)scrape / NSEC_PER_SEC;
	cfg.duration = (double)duration / NSEC_PER_SEC;
	return demo_run(&cfg);
}
