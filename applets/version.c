/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.c - `conduit version`: print the client and server versions
 *
 *   conduit version [--client] [--short] [-o json]
 *
 * The server version comes from the public API (--api-addr,
 * $CONDUIT_API_ADDR, default 127.0.0.1:8085): "unavailable", and exit 2,
 * when it cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/flag.h"
#include "conduit/json.h"
#include "conduit/version.h"

int applet_version(int argc, char **argv)
{
	bool client_only = false, short_out = false;
	const char *output = "", *api = NULL;
	const struct flag flags[] = {
		{ FLAG_BOOL, 0, "client", &client_only, NULL,
		  "Print the client version only" },
		{ FLAG_BOOL, 0, "short", &short_out, NULL,
		  "Print the version number(s) only" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT",
		  "Output format: json (default: text)" },
		{ FLAG_STRING, 0, "api-addr", &api, "HOST:PORT",
		  "The public API (default $CONDUIT_API_ADDR, else 127.0.0.1:8085)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "version",
		.usage = "conduit version [flags]",
		.summary = "Print the client and server version information",
		.flags = flags,
	};
	const char *server = "unavailable";
	struct json *answer = NULL;
	char err[300];
	int r, rc = 0;

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	if (*output && strcmp(output, "json") != 0)
		return flag_usage_error(&cmd, "invalid value \"%s\" for flag -o: want json",
					output);
	if (!client_only) {
		if (cli_api_get(cli_api_addr(api), "/api/v1/version", &answer,
				err, sizeof(err)) == 0 &&
		    json_string(json_get(answer, "version")))
			server = json_string(json_get(answer, "version"));
		else
			rc = 2;
	}
	if (strcmp(output, "json") == 0) {
		struct json *doc = json_new_object();
		char *text;

		json_set_string(doc, "clientVersion", version_string());
		if (!client_only)
			json_set_string(doc, "serverVersion", server);
		text = json_print(doc, true);
		puts(text);
		free(text);
		json_free(doc);
	} else if (short_out) {
		puts(version_string());
		if (!client_only)
			puts(server);
	} else {
		printf("Client version: %s\n", version_string());
		if (!client_only)
			printf("Server version: %s\n", server);
	}
	if (rc)
		fprintf(stderr, "conduit version: %s\n", err);
	json_free(answer);
	return rc;
}
