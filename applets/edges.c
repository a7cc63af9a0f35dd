/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edges.c - `conduit edges`: who talks to whom
 *
 *   conduit edges [deployment|pod] [-n NS | -A] [-t WINDOW] [-o table|json]
 *
 * One line per source and destination that exchanged requests in the
 * window, from the sources' proxies' outbound counters. Exit 1 when the
 * API cannot answer, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/flag.h"
#include "conduit/public_api.h"

int applet_edges(int argc, char **argv)
{
	const char *ns = "default", *window = "1m", *output = "table";
	const char *api = NULL, *res = "deployment";
	bool all = false;
	const struct flag flags[] = {
		{ FLAG_STRING, 'n', "namespace", &ns, "NS",
		  "The namespace of the sources (default \"default\")" },
		{ FLAG_BOOL, 'A', "all-namespaces", &all, NULL,
		  "Every namespace" },
		{ FLAG_STRING, 't', "time-window", &window, "WINDOW",
		  "The window: 10s, 1m, 10m, 1h (default 1m)" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT",
		  "Output: table or json (default table)" },
		{ FLAG_STRING, 0, "api-addr", &api, "HOST:PORT",
		  "The public API (default $CONDUIT_API_ADDR, else 127.0.0.1:8085)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "edges",
		.usage = "conduit edges [deployment|pod] [-n NS | -A] [-t WINDOW] [-o table|json]",
		.summary = "Show who talks to whom, and whether it is secured",
		.flags = flags,
		.min_args = 0,
		.max_args = 1,
	};
	static const char *const head[] = { "SRC", "DST", "SRC_NS", "DST_NS",
					    "SECURED" };
	char path[400], e1[200], e2[100], err[300];
	struct json *doc, *edges;
	struct cli_table t;
	int r;

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	if (argc && !(res = public_api_parse_resource(argv[0])))
		return flag_usage_error(&cmd, "unknown resource type \"%s\": want deployment or pod",
					argv[0]);
	if (strcmp(res, "deployment") && strcmp(res, "pod"))
		return flag_usage_error(&cmd, "edges are by deployment or pod, not %s", res);
	if (strcmp(output, "table") && strcmp(output, "json"))
		return flag_usage_error(&cmd, "invalid value \"%s\" for -o: want table or json",
					output);
	snprintf(path, sizeof(path), "/api/v1/edges?resource=%s&namespace=%s&window=%s",
		 res, all ? "" : cli_url_escape(ns, e1, sizeof(e1)),
		 cli_url_escape(window, e2, sizeof(e2)));
	if (cli_api_get(cli_api_addr(api), path, &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "conduit edges: %s\n", err);
		return 1;
	}
	edges = json_get(doc, "edges");
	if (!strcmp(output, "json")) {
		char *text = json_print(edges, true);

		puts(text);
		free(text);
		json_free(doc);
		return 0;
	}
	cli_table_init(&t, ARRAY_SIZE(head), head);
	for (size_t i = 0; i < json_count(edges); i++) {
		const struct json *e = json_at(edges, i);
		bool sec = false;
		const char *cells[5];

		json_bool(json_get(e, "secured"), &sec);
		cells[0] = json_string(json_get(e, "src"));
		cells[1] = json_string(json_get(e, "dst"));
		cells[2] = json_string(json_get(e, "src_namespace"));
		cells[3] = json_string(json_get(e, "dst_namespace"));
		cells[4] = sec ? "\u221a" : "-";
		cli_table_add(&t, cells);
	}
	if (json_count(edges))
		cli_table_print(&t, stdout);
	else
		printf("No edges found.\n");
	cli_table_release(&t);
	json_free(doc);
	return 0;
}
