/* SPDX-License-Identifier: Apache-2.0 */
/*
 * get.c - `conduit get pods`: the pods the control plane knows
 *
 *   conduit get pods [-n NS | -A] [-o table|json]
 *
 * NAME, READY (the pod's Ready condition), STATUS, MESHED (a conduit-proxy
 * beside it), OWNER. Exit 1 when the API cannot answer, 2 on a usage
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/flag.h"

int applet_get(int argc, char **argv)
{
	const char *ns = "default", *output = "table", *api = NULL;
	bool all = false;
	const struct flag flags[] = {
		{ FLAG_STRING, 'n', "namespace", &ns, "NS",
		  "The namespace (default \"default\")" },
		{ FLAG_BOOL, 'A', "all-namespaces", &all, NULL,
		  "Every namespace" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT",
		  "Output: table or json (default table)" },
		{ FLAG_STRING, 0, "api-addr", &api, "HOST:PORT",
		  "The public API (default $CONDUIT_API_ADDR, else 127.0.0.1:8085)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "get",
		.usage = "conduit get pods [-n NS | -A] [-o table|json]",
		.summary = "List meshed resources",
		.flags = flags,
		.min_args = 1,
		.max_args = 1,
	};
	static const char *const head[] = { "NAMESPACE", "NAME", "READY",
					    "STATUS", "MESHED", "OWNER" };
	char path[300], e1[200], err[300];
	struct json *doc, *pods;
	struct cli_table t;
	size_t skip;
	int r;

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	if (strcmp(argv[0], "pods") && strcmp(argv[0], "pod") &&
	    strcmp(argv[0], "po"))
		return flag_usage_error(&cmd, "unknown resource type \"%s\": want pods",
					argv[0]);
	if (strcmp(output, "table") && strcmp(output, "json"))
		return flag_usage_error(&cmd, "invalid value \"%s\" for -o: want table or json",
					output);
	snprintf(path, sizeof(path), "/api/v1/pods?namespace=%s",
		 all ? "" : cli_url_escape(ns, e1, sizeof(e1)));
	if (cli_api_get(cli_api_addr(api), path, &doc, err, sizeof(err)) < 0) {
		fprintf(stderr, "conduit get: %s\n", err);
		return 1;
	}
	pods = json_get(doc, "pods");
	if (!strcmp(output, "json")) {
		char *text = json_print(pods, true);

		puts(text);
		free(text);
		json_free(doc);
		return 0;
	}
	skip = all ? 0 : 1;
	cli_table_init(&t, ARRAY_SIZE(head) - skip, head + skip);
	for (size_t i = 0; i < json_count(pods); i++) {
		const struct json *p = json_at(pods, i);
		bool ready = false, meshed = false;
		char owner[300];
		const char *cells[6];
		const char *ok = json_string(json_get(p, "owner_kind"));

		json_bool(json_get(p, "ready"), &ready);
		json_bool(json_get(p, "meshed"), &meshed);
		snprintf(owner, sizeof(owner), "%s%s%s", ok && *ok ? ok : "-",
			 ok && *ok ? "/" : "",
			 ok && *ok ? json_string(json_get(p, "owner")) : "");
		for (char *c = owner; *c && *c != '/'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		cells[0] = json_string(json_get(p, "namespace"));
		cells[1] = json_string(json_get(p, "name"));
		cells[2] = ready ? "true" : "false";
		cells[3] = json_string(json_get(p, "status"));
		cells[4] = meshed ? "yes" : "no";
		cells[5] = owner;
		cli_table_add(&t, cells + skip);
	}
	if (json_count(pods))
		cli_table_print(&t, stdout);
	else
		printf("No pods found.\n");
	cli_table_release(&t);
	json_free(doc);
	return 0;
}
