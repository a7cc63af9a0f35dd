/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.c - `conduit version`: print the client and server versions
 *
 *   conduit version [--client] [--short] [-o json]
 *
 * The server version comes from the public API, which is not built yet:
 * until then the server is reported "unavailable".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/flag.h"
#include "conduit/json.h"
#include "conduit/version.h"

int applet_version(int argc, char **argv)
{
	bool client_only = false, short_out = false;
	const char *output = "";
	const struct flag flags[] = {
		{ FLAG_BOOL, 0, "client", &client_only, NULL,
		  "Print the client version only" },
		{ FLAG_BOOL, 0, "short", &short_out, NULL,
		  "Print the version number(s) only" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT",
		  "Output format: json (default: text)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "version",
		.usage = "conduit version [flags]",
		.summary = "Print the client and server version information",
		.flags = flags,
	};
	const char *server = "unavailable";
	int r;

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	if (*output && strcmp(output, "json") != 0)
		return flag_usage_error(&cmd, "invalid value \"%s\" for flag -o: want json",
					output);
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
		return 0;
	}
	if (short_out) {
		puts(version_string());
		if (!client_only)
			puts(server);
		return 0;
	}
	printf("Client version: %s\n", version_string());
	if (!client_only)
		printf("Server version: %s\n", server);
	return 0;
}
