/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h - what the API-reading CLI commands share: the API client, tables */
#ifndef CONDUIT_CLI_H
#define CONDUIT_CLI_H

#include <stdio.h>

#include "conduit/base.h"
#include "conduit/json.h"

/*
 * Where the public API is: --api-addr, else $CONDUIT_API_ADDR (HOST:PORT,
 * straight to it); else, when a kubeconfig is found (as kubectl finds
 * one), through the Kubernetes API server's service proxy to the Service
 * conduit-api in $CONDUIT_NAMESPACE (conduit), like Conduit's CLI; else
 * this address (a local `conduit demo`).
 */
#define CLI_DEFAULT_API_ADDR "127.0.0.1:8085"

/* cli_api_addr - the flag's value, else the environment, else "" (auto) */
const char *cli_api_addr(const char *flag_value);

/*
 * cli_api_get - GET path from the public API at addr (HOST:PORT, an IP
 * literal) and parse the JSON answer into *out (caller frees). Returns 0;
 * or -ECONNREFUSED & co. with "cannot reach the public API at ADDR: why"
 * in err; or -EPROTO with the API's own error message (a 400 or 404).
 */
int cli_api_get(const char *addr, const char *path, struct json **out,
		char *err, size_t errlen);

/*
 * cli_resource_arg - RESOURCE[/NAME] [NAME] from the positionals: the
 * canonical resource (public_api_parse_resource), or NULL when unknown;
 * type holds what the user wrote for the type, *name the name or NULL
 */
const char *cli_resource_arg(int argc, char **argv, char *type, size_t size,
			     const char **name);

/* cli_tap_path - the /api/v1/tap request path for these filters */
char *cli_tap_path(char *buf, size_t size, const char *res, const char *ns,
		   const char *name, long long max_rps, const char *method,
		   const char *path, const char *authority);

/*
 * cli_api_stream - GET path (a stream of JSON lines) and call
 * on_line(arg, line, n) for each line (without its newline; non-zero
 * stops). Returns 0 when the stream ended, or as cli_api_get.
 */
int cli_api_stream(const char *addr, const char *path,
		   int (*on_line)(void *arg, const char *line, size_t n),
		   void *arg, char *err, size_t errlen);

/* cli_url_escape - s with everything but [A-Za-z0-9._~-] as %XX, into
 * buf; returns buf */
char *cli_url_escape(const char *s, char *buf, size_t size);

/*
 * A table as kubectl prints one: a header row, columns padded to their
 * widest cell plus three spaces, no trailing blanks.
 */
struct cli_table {
	size_t ncols, nrows, cap;
	char **cells; /* (nrows + 1) * ncols, the header first */
};

void cli_table_init(struct cli_table *t, size_t ncols,
		    const char *const *headers);
/* cli_table_add - one row of ncols cells (copied) */
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_release(struct cli_table *t);

/* value formatters: "-" for null or missing */
char *cli_fmt_percent(const struct json *v, char *buf, size_t size);
char *cli_fmt_rps(const struct json *v, char *buf, size_t size);
char *cli_fmt_ms(const struct json *v, char *buf, size_t size);

/*
 * cli_print_stat - the rows of a /api/v1/stat answer as `conduit stat`'s
 * table (NAMESPACE first when all_ns; MESHED and TCP_CONN are "-" for
 * service and authority, which count outbound traffic); wide adds the
 * inbound bytes a second read from and written to clients
 */
void cli_print_stat(FILE *f, const struct json *rows, bool all_ns,
		    const char *res, bool wide);

#endif
