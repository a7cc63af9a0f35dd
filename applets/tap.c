/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.c - `conduit tap`: watch live requests
 *
 *   conduit tap RESOURCE[/NAME] [NAME] [-n NS] [--max-rps N] [--method M]
 *               [--path PREFIX] [--authority A] [-o json]
 *
 * One line per event, as Linkerd prints them:
 *   req id=0:1 proxy=in  src=... dst=... tls=true :method=GET :authority=... :path=...
 *   rsp id=0:1 proxy=in  src=... dst=... tls=true :status=200 latency=812µs
 *   end id=0:1 proxy=in  src=... dst=... tls=true grpc-status=OK duration=940µs response-length=123B
 * Runs until interrupted or until every tapped proxy is gone. Exit 1 when
 * the API cannot answer (or the resource does not exist), 2 on a usage
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/flag.h"
#include "conduit/grpc.h"
#include "conduit/httpc.h"
#include "conduit/json.h"
#include "conduit/public_api.h"

struct tap_cli {
	bool json;
	bool failed;
	char err[300];
};

static const char *str(const struct json *o, const char *k)
{
	const char *s = json_string(json_get(o, k));

	return s ? s : "";
}

static double num(const struct json *o, const char *k, double dflt)
{
	double v;

	return json_number(json_get(o, k), &v) ? v : dflt;
}

static void print_event(const struct json *o)
{
	const char *type = str(o, "type");

	if (!strcmp(type, "error")) {
		fprintf(stderr, "conduit tap: %s/%s: %s\n", str(o, "namespace"),
			str(o, "pod"), str(o, "error"));
		return;
	}
	printf("%s id=%s proxy=%-3s src=%s dst=%s tls=%s", type, str(o, "id"),
	       str(o, "proxy"), str(o, "src"), str(o, "dst"), str(o, "tls"));
	if (!strcmp(type, "req")) {
		printf(" :method=%s :authority=%s :path=%s\n", str(o, "method"),
		       str(o, "authority"), str(o, "path"));
	} else if (!strcmp(type, "rsp")) {
		printf(" :status=%.0f latency=%.0f\u00b5s\n", num(o, "status", 0),
		       num(o, "latency_us", 0));
	} else {
		double g = num(o, "grpc_status", -1), rst = num(o, "reset", 0);

		if (g >= 0)
			printf(" grpc-status=%s", grpc_status_name((int)g));
		if (rst)
			printf(" reset-error=%.0f", rst);
		printf(" duration=%.0f\u00b5s response-length=%.0fB\n",
		       num(o, "duration_us", 0), num(o, "response_bytes", 0));
	}
}

static int on_line(void *arg, const char *p, size_t n)
{
	struct tap_cli *t = arg;
	struct json *o;
	char err[96];

	if (!n)
		return 0;
	if (t->json) {
		fwrite(p, 1, n, stdout);
		putchar('\n');
		fflush(stdout);
		return 0;
	}
	o = json_parse(p, n, err, sizeof(err));
	if (!o) {
		/* not an event: the API's error answer (a 404) */
		snprintf(t->err, sizeof(t->err), "%.*s", (int)MIN(n, 250), p);
		t->failed = true;
		return 0;
	}
	if (json_get(o, "error") && !json_get(o, "type")) {
		snprintf(t->err, sizeof(t->err), "%s", str(o, "error"));
		t->failed = true;
	} else {
		print_event(o);
		fflush(stdout);
	}
	json_free(o);
	return 0;
}

int applet_tap(int argc, char **argv)
{
	const char *ns = "default", *output = "", *api = NULL;
	const char *method = NULL, *path = NULL, *authority = NULL, *res, *name = NULL;
	long long max_rps = 100;
	const struct flag flags[] = {
		{ FLAG_STRING, 'n', "namespace", &ns, "NS",
		  "The namespace (default \"default\")" },
		{ FLAG_INT, 0, "max-rps", &max_rps, "N",
		  "Requests a second to show at most (default 100)", NULL, 1, 100000 },
		{ FLAG_STRING, 0, "method", &method, "METHOD",
		  "Only requests with this method" },
		{ FLAG_STRING, 0, "path", &path, "PREFIX",
		  "Only requests whose path starts with PREFIX" },
		{ FLAG_STRING, 0, "authority", &authority, "AUTHORITY",
		  "Only requests to this :authority / Host" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT",
		  "Output: json (one event a line; default: text)" },
		{ FLAG_STRING, 0, "api-addr", &api, "HOST:PORT",
		  "The public API (default $CONDUIT_API_ADDR, else 127.0.0.1:8085)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "tap",
		.usage = "conduit tap RESOURCE[/NAME] [NAME] [-n NS] [--max-rps N] [--method M] [--path P] [--authority A] [-o json]",
		.summary = "Watch live requests",
		.details = "RESOURCE is deployment (deploy), pod (po) or namespace (ns). Every\n"
			   "request its meshed pods' proxies handle, both directions, until Ctrl-C.",
		.flags = flags,
		.min_args = 1,
		.max_args = 2,
	};
	char q[1200], rbuf[64];
	struct tap_cli t = { 0 };
	int rc;

	rc = flag_parse(&cmd, &argc, &argv);
	if (rc)
		return flag_exit_code(rc);
	res = cli_resource_arg(argc, argv, rbuf, sizeof(rbuf), &name);
	if (!res || (strcmp(res, "deployment") && strcmp(res, "pod") &&
		     strcmp(res, "namespace")))
		return flag_usage_error(&cmd, "unknown resource type \"%s\": want deployment, pod or namespace",
					rbuf);
	if (*output && strcmp(output, "json"))
		return flag_usage_error(&cmd, "invalid value \"%s\" for -o: want json", output);
	t.json = !strcmp(output, "json");
	cli_tap_path(q, sizeof(q), res, ns, name, max_rps, method, path, authority);
	rc = cli_api_stream(cli_api_addr(api), q, on_line, &t, t.err, sizeof(t.err));
	if (rc)
		t.failed = true;
	if (t.failed) {
		fprintf(stderr, "conduit tap: %s\n", t.err);
		return 1;
	}
	return 0;
}
