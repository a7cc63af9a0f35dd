/* SPDX-License-Identifier: Apache-2.0 */
/*
 * top.c - `conduit top`: the busiest paths, live
 *
 *   conduit top RESOURCE[/NAME] [NAME] [-n NS] [--max-rps N] [--refresh D]
 *
 * Reads the tap stream of RESOURCE and keeps, per source, destination,
 * method and path: the count, the best, worst and last latency and the
 * success rate; shows the busiest first, redrawn in place on a terminal,
 * one table per refresh otherwise. Pod names come from the API's pod
 * list. Exit 1 when the API cannot answer, 2 on a usage error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "conduit/cli.h"
#include "conduit/flag.h"
#include "conduit/httpc.h"
#include "conduit/json.h"
#include "conduit/map.h"
#include "conduit/public_api.h"
#include "conduit/time.h"

#define MAX_ROWS 20

struct path_row {
	char src[128], dst[128], method[16], path[256];
	uint64_t count, ok;
	double best, worst, last; /* ms */
};

struct pending {
	struct path_row *row;
	bool failed; /* a 5xx head */
};

struct top {
	const char *api;
	bool tty;
	double refresh;
	int64_t last_draw;
	struct map rows;  /* "src|dst|method|path" -> struct path_row */
	struct map open;  /* tap id -> struct pending: requests in flight */
	struct map names; /* ip -> pod name */
	bool failed;
	char err[300];
};

static const char *str(const struct json *o, const char *k)
{
	const char *s = json_string(json_get(o, k));

	return s ? s : "";
}

/* load_names - ip -> "pod" from /api/v1/pods */
static void load_names(struct top *t)
{
	struct json *doc, *pods;
	char err[300];

	if (cli_api_get(t->api, "/api/v1/pods", &doc, err, sizeof(err)) < 0)
		return;
	pods = json_get(doc, "pods");
	for (size_t i = 0; i < json_count(pods); i++) {
		const struct json *p = json_at(pods, i);
		const char *ip = str(p, "ip");

		if (*ip)
			free(map_put(&t->names, ip, xstrdup(str(p, "name"))));
	}
	json_free(doc);
}

/* who - a pod name for an "ip:port", else the address */
static void who(struct top *t, const char *addr, char *out, size_t size)
{
	char ip[64];
	const char *colon = strrchr(addr, ':'), *name;
	size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

	snprintf(ip, sizeof(ip), "%.*s", (int)MIN(n, sizeof(ip) - 1), addr);
	name = map_get(&t->names, ip);
	snprintf(out, size, "%s", name ? name : *addr ? addr : "-");
}

static int row_cmp(const void *a, const void *b)
{
	const struct path_row *x = *(const struct path_row *const *)a;
	const struct path_row *y = *(const struct path_row *const *)b;

	return x->count < y->count ? 1 : x->count > y->count ? -1
							      : strcmp(x->path, y->path);
}

static void draw(struct top *t)
{
	static const char *const head[] = { "SOURCE", "DESTINATION", "METHOD",
					    "PATH", "COUNT", "BEST", "WORST",
					    "LAST", "SUCCESS_RATE" };
	const struct path_row **v = xcalloc(map_len(&t->rows) + 1, sizeof(*v));
	struct cli_table tab;
	size_t n = 0;

	for (struct map_iter it = MAP_ITER; map_next(&t->rows, &it);)
		v[n++] = it.value;
	qsort(v, n, sizeof(*v), row_cmp);
	cli_table_init(&tab, ARRAY_SIZE(head), head);
	for (size_t i = 0; i < n && i < MAX_ROWS; i++) {
		const struct path_row *r = v[i];
		char count[24], best[24], worst[24], last[24], sr[24];
		const char *cells[9];

		snprintf(count, sizeof(count), "%llu", (unsigned long long)r->count);
		snprintf(best, sizeof(best), "%.1fms", r->best);
		snprintf(worst, sizeof(worst), "%.1fms", r->worst);
		snprintf(last, sizeof(last), "%.1fms", r->last);
		snprintf(sr, sizeof(sr), "%.2f%%", 100.0 * (double)r->ok / (double)r->count);
		cells[0] = r->src;
		cells[1] = r->dst;
		cells[2] = r->method;
		cells[3] = r->path;
		cells[4] = count;
		cells[5] = best;
		cells[6] = worst;
		cells[7] = last;
		cells[8] = sr;
		cli_table_add(&tab, cells);
	}
	if (t->tty)
		fputs("\033[H\033[2J", stdout);
	if (n)
		cli_table_print(&tab, stdout);
	else
		printf("(no requests yet)\n");
	putchar('\n');
	fflush(stdout);
	cli_table_release(&tab);
	free(v);
}

static void on_event(struct top *t, const struct json *o)
{
	const char *type = str(o, "type"), *id = str(o, "id");
	struct pending *pd;
	double v;

	if (!strcmp(type, "req")) {
		struct path_row *r;
		char key[700], src[128], dst[128];
		const char *path = str(o, "path");
		size_t plen = strcspn(path, "?");

		who(t, str(o, "src"), src, sizeof(src));
		who(t, str(o, "dst"), dst, sizeof(dst));
		/* outbound: the destination is the authority until routed */
		if (!strcmp(dst, "-"))
			snprintf(dst, sizeof(dst), "%s", str(o, "authority"));
		snprintf(key, sizeof(key), "%s|%s|%s|%.*s", src, dst,
			 str(o, "method"), (int)plen, path);
		if (!(r = map_get(&t->rows, key))) {
			r = xcalloc(1, sizeof(*r));
			str_copy(r->src, src, sizeof(r->src));
			str_copy(r->dst, dst, sizeof(r->dst));
			str_copy(r->method, str(o, "method"), sizeof(r->method));
			snprintf(r->path, sizeof(r->path), "%.*s", (int)plen, path);
			r->best = INFINITY;
			map_put(&t->rows, key, r);
		}
		pd = xcalloc(1, sizeof(*pd));
		pd->row = r;
		free(map_put(&t->open, id, pd));
		return;
	}
	if (!(pd = map_get(&t->open, id)))
		return;
	if (!strcmp(type, "rsp")) {
		/* a 5xx fails it; its end may also say a gRPC failure */
		if (json_number(json_get(o, "status"), &v) && v >= 500)
			pd->failed = true;
		return;
	}
	if (!strcmp(type, "end")) {
		struct path_row *r = pd->row;
		double ms = json_number(json_get(o, "duration_us"), &v) ? v / 1000 : 0;
		double g = -1;

		json_number(json_get(o, "grpc_status"), &g);
		r->count++;
		r->ok += !pd->failed && g <= 0;
		r->last = ms;
		r->best = MIN(r->best, ms);
		r->worst = MAX(r->worst, ms);
		free(map_del(&t->open, id));
	}
}

static int on_line(void *arg, const char *p, size_t n)
{
	struct top *t = arg;
	struct json *o;
	char err[96];
	int64_t now = time_mono_ns();

	if (!n)
		return 0;
	o = json_parse(p, n, err, sizeof(err));
	if (!o)
		return 0;
	if (json_get(o, "error") && !json_get(o, "type")) {
		snprintf(t->err, sizeof(t->err), "%s", str(o, "error"));
		t->failed = true;
	} else {
		on_event(t, o);
	}
	json_free(o);
	if (!t->failed && (double)(now - t->last_draw) / NSEC_PER_SEC >= t->refresh) {
		t->last_draw = now;
		draw(t);
	}
	return 0;
}

int applet_top(int argc, char **argv)
{
	const char *ns = "default", *api = NULL, *res, *name = NULL;
	long long max_rps = 100;
	int64_t refresh = NSEC_PER_SEC;
	const struct flag flags[] = {
		{ FLAG_STRING, 'n', "namespace", &ns, "NS",
		  "The namespace (default \"default\")" },
		{ FLAG_INT, 0, "max-rps", &max_rps, "N",
		  "Requests a second to sample at most (default 100)", NULL, 1, 100000 },
		{ FLAG_DURATION, 0, "refresh", &refresh, "DURATION",
		  "Time between redraws (default 1s)" },
		{ FLAG_STRING, 0, "api-addr", &api, "HOST:PORT",
		  "The public API (default $CONDUIT_API_ADDR, else 127.0.0.1:8085)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "top",
		.usage = "conduit top RESOURCE[/NAME] [NAME] [-n NS] [--max-rps N] [--refresh D]",
		.summary = "Show the busiest paths, live",
		.details = "RESOURCE is deployment (deploy), pod (po) or namespace (ns). Sampled\n"
			   "from tap: every request the resource's proxies handle, up to --max-rps.",
		.flags = flags,
		.min_args = 1,
		.max_args = 2,
	};
	struct top t = { .refresh = 1 };
	char q[1200], rbuf[64];
	int rc;

	rc = flag_parse(&cmd, &argc, &argv);
	if (rc)
		return flag_exit_code(rc);
	res = cli_resource_arg(argc, argv, rbuf, sizeof(rbuf), &name);
	if (!res || (strcmp(res, "deployment") && strcmp(res, "pod") &&
		     strcmp(res, "namespace")))
		return flag_usage_error(&cmd, "unknown resource type \"%s\": want deployment, pod or namespace",
					rbuf);
	t.api = cli_api_addr(api);
	t.tty = isatty(1);
	t.refresh = (double)refresh / NSEC_PER_SEC;
	t.last_draw = time_mono_ns();
	load_names(&t);
	cli_tap_path(q, sizeof(q), res, ns, name, max_rps, NULL, NULL, NULL);
	rc = cli_api_stream(t.api, q, on_line, &t, t.err, sizeof(t.err));
	if (rc)
		t.failed = true;
	if (t.failed) {
		fprintf(stderr, "conduit top: %s\n", t.err);
		return 1;
	}
	draw(&t);
	map_release(&t.rows, free);
	map_release(&t.open, free);
	map_release(&t.names, free);
	return 0;
}
