/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stat.c - `conduit stat`: success rate, request rate and latency
 *
 *   conduit stat RESOURCE [NAME] [-n NS | -A] [-t WINDOW] [-o table|wide|json]
 *
 * RESOURCE is deployment (deploy), pod (po), namespace (ns), service
 * (svc) or authority (au); RESOURCE/NAME works too. Reads the public API
 * (--api-addr, $CONDUIT_API_ADDR, default 127.0.0.1:8085). Exit 1 when the
 * API cannot answer, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/flag.h"
#include "conduit/public_api.h"

int applet_stat(int argc, char **argv)
{
	const char *ns = "default", *window = "1m", *output = "table";
	const char *api = NULL, *res, *name = NULL;
	bool all = false;
	const struct flag flags[] = {
		{ FLAG_STRING, 'n', "namespace", &ns, "NS",
		  "The namespace (default \"default\")" },
		{ FLAG_BOOL, 'A', "all-namespaces", &all, NULL,
		  "Every namespace" },
		{ FLAG_STRING, 't', "time-window", &window, "WINDOW",
		  "The window: 10s, 1m, 10m, 1h (default 1m)" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT",
		  "Output: table, wide (adds bytes/s) or json (default table)" },
		{ FLAG_STRING, 0, "api-addr", &api, "HOST:PORT",
		  "The public API (default $CONDUIT_API_ADDR, else 127.0.0.1:8085)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "stat",
		.usage = "conduit stat RESOURCE [NAME] [-n NS | -A] [-t WINDOW] [-o table|wide|json]",
		.summary = "Show success rate, request rate and latency",
		.details = "RESOURCE is deployment (deploy), pod (po), namespace (ns), service (svc)\n"
			   "or authority (au); deployment, pod and namespace count the traffic their\n"
			   "meshed pods receive, service and authority the traffic sent to them.",
		.flags = flags,
		.min_args = 1,
		.max_args = 2,
	};
	char path[512], e1[200], e2[200], e3[100], err[300], rbuf[64];
	struct json *doc;
	char *slash;
	int r;

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	str_copy(rbuf, argv[0], sizeof(rbuf));
	if ((slash = strchr(rbuf, '/'))) {
		*slash = 0;
		if (argc > 1)
			return flag_usage_error(&cmd, "give NAME once: %s or %s %s",
						argv[0], rbuf, argv[1]);
		name = argv[0] + (slash - rbuf) + 1;
	} else if (argc > 1) {
		name = argv[1];
	}
	if (!(res = public_api_parse_resource(rbuf)))
		return flag_usage_error(&cmd, "unknown resource type \"%s\": want deployment, pod, namespace, service or authority",
					rbuf);
	if (strcmp(output, "table") && strcmp(output, "wide") &&
	    strcmp(output, "json"))
		return flag_usage_error(&cmd, "invalid value \"%s\" for -o: want table, wide or json",
					output);
	if (!strcmp(res, "namespace") || !strcmp(res, "authority"))
		all = true;
	snprintf(path, sizeof(path), "/api/v1/stat?resource=%s&namespace=%s&window=%s%s%s",
		 res, all ? "" : cli_url_escape(ns, e1, sizeof(e1)),
		 cli_url_escape(window, e3, sizeof(e3)), name ? "&name=" : "",
		 name ? cli_url_escape(name, e2, sizeof(e2)) : "");
	if (cli_api_get(cli_api_addr(api), path, &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "conduit stat: %s\n", err);
		return 1;
	}
	if (!strcmp(output, "json")) {
		char *text = json_print(json_get(doc, "rows"), true);

		puts(text);
		free(text);
	} else {
		cli_print_stat(stdout, json_get(doc, "rows"),
			       all && strcmp(res, "namespace"), res,
			       !strcmp(output, "wide"));
	}
	json_free(doc);
	return 0;
}
