/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kube_watch.c - informers for the kinds given, one JSON line per event,
 * for shell tests on a real apiserver (test/k8s/20-kube-client.sh). Built
 * only for tests (build/test/kube-watch), never shipped.
 *
 *   kube-watch [--kubeconfig F] [--context C] [--in-cluster]
 *              [-n NS] [-l SELECTOR] [--idle-timeout MS]
 *              [--watch-timeout MIN[-MAX]] [--backoff-max MS]
 *              [--page-size N] KIND...
 *
 * Without --kubeconfig or --in-cluster: kube_config_auto (KUBECONFIG,
 * else the pod's ServiceAccount in a pod, else ~/.kube/config).
 * KIND: pods, services, endpointslices, replicasets, namespaces, ... (or
 * Pod, po, svc). Lines on stdout, flushed one by one:
 *   {"type":"ADDED","kind":"Pod","ns":"default","name":"web-1","rv":"123"}
 *   {"type":"SYNCED","kind":"Pod","objects":3}
 *   {"type":"ERROR","kind":"Pod","msg":"watch pods: 403 Forbidden: ..."}
 *   {"type":"STATS","kind":"Pod","lists":1,...}   on SIGUSR1 and at exit
 *   {"type":"STORE","kind":"Pod","objects":["default/web-1",...]}  likewise
 * SIGTERM or SIGINT: the STATS and STORE lines, then exit 0. Exits 1 when
 * the configuration cannot be read, 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/json.h"
#include "conduit/kube.h"
#include "conduit/log.h"

struct watched {
	struct kube_informer *inf;
	const struct kube_resource *res;
};

static struct watched *watched;
static size_t nwatched;
static struct ev_loop *loop;

static void print_json(struct json *j)
{
	char *s = json_print(j, false);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(s);
	json_free(j);
}

static struct json *line(const char *type, const struct watched *w)
{
	struct json *j = json_new_object();

	json_set_string(j, "type", type);
	json_set_string(j, "kind", w->res->kind);
	return j;
}

static void on_event(void *arg, enum kube_event_type t, const struct json *obj)
{
	struct json *j = line(kube_event_type_name(t), arg);
	const char *ns = kube_object_namespace(obj);

	json_set_string(j, "ns", ns ? ns : "");
	json_set_string(j, "name", kube_object_name(obj));
	json_set_string(j, "rv",
			kube_object_rv(obj) ? kube_object_rv(obj) : "");
	print_json(j);
}

static void on_synced(void *arg)
{
	struct watched *w = arg;
	struct json *j = line("SYNCED", w);
	struct kube_informer_stats st;

	kube_informer_stats(w->inf, &st);
	json_set_number(j, "objects", (double)st.objects);
	print_json(j);
}

static void on_error(void *arg, const char *msg)
{
	struct watched *w = arg;
	struct json *j = line("ERROR", w);
	char q[1024];

	log_warn("kube informer", "kind=%s error=%s", w->res->kind,
		 log_quote(q, sizeof(q), msg));
	json_set_string(j, "msg", msg);
	print_json(j);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n;
};

static void collect(void *arg, const struct json *obj)
{
	struct names *n = arg;
	const char *ns = kube_object_namespace(obj);

	n->v = xrealloc(n->v, (n->n + 1) * sizeof(*n->v));
	n->v[n->n++] = ns ? xasprintf("%s/%s", ns, kube_object_name(obj))
			  : xstrdup(kube_object_name(obj));
}

static void dump(void)
{
	for (size_t i = 0; i < nwatched; i++) {
		struct watched *w = &watched[i];
		struct kube_informer_stats st;
		struct json *j = line("STATS", w), *arr;
		struct names n = {0};

		kube_informer_stats(w->inf, &st);
		json_set_number(j, "lists", (double)st.lists);
		json_set_number(j, "list_pages", (double)st.list_pages);
		json_set_number(j, "relists", (double)st.relists);
		json_set_number(j, "watches", (double)st.watches);
		json_set_number(j, "watch_ends", (double)st.watch_ends);
		json_set_number(j, "reconnects", (double)st.reconnects);
		json_set_number(j, "errors", (double)st.errors);
		json_set_number(j, "added", (double)st.events[KUBE_ADDED]);
		json_set_number(j, "modified",
				(double)st.events[KUBE_MODIFIED]);
		json_set_number(j, "deleted", (double)st.events[KUBE_DELETED]);
		json_set_number(j, "bookmarks", (double)st.bookmarks);
		json_set_number(j, "objects", (double)st.objects);
		json_set_number(j, "last_event_ms",
				(double)(st.last_event_wall_ns / 1000000));
		json_set_bool(j, "synced", st.synced);
		json_set_string(j, "rv", kube_informer_rv(w->inf));
		print_json(j);

		kube_store_foreach(kube_informer_store(w->inf), collect, &n);
		if (n.n)
			qsort(n.v, n.n, sizeof(*n.v), cmp_str);
		j = line("STORE", w);
		arr = json_new_array();
		for (size_t k = 0; k < n.n; k++) {
			json_push(arr, json_new_string(n.v[k]));
			free(n.v[k]);
		}
		free(n.v);
		json_set(j, "objects", arr);
		print_json(j);
	}
}

static void on_usr1(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	dump();
}

static void on_stop(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static NORETURN void usage(int code)
{
	fprintf(
	    code ? stderr : stdout,
	    "usage: kube-watch [--kubeconfig F] [--context C] [--in-cluster] "
	    "[-n NS] [-l SELECTOR]\n"
	    "                  [--idle-timeout MS] [--watch-timeout MIN[-MAX]] "
	    "[--backoff-max MS] [--page-size N] KIND...\n");
	exit(code);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"context", required_argument, NULL, 'c'},
	    {"in-cluster", no_argument, NULL, 'i'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"selector", required_argument, NULL, 'l'},
	    {"idle-timeout", required_argument, NULL, 'I'},
	    {"watch-timeout", required_argument, NULL, 'W'},
	    {"backoff-max", required_argument, NULL, 'B'},
	    {"page-size", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *kubeconfig = NULL, *context = NULL, *ns = NULL, *sel = NULL;
	struct kube_informer_tuning tune = {0};
	struct kube_informer_ops ops = {
	    .on_event = on_event,
	    .on_synced = on_synced,
	    .on_error = on_error,
	};
	bool in_cluster = false;
	struct kube_config cfg;
	struct kube_client *client;
	ev_signal usr1, term, intr;
	char err[1024];
	int c, r;

	base_set_progname("kube-watch");
	log_set_component("kube-watch");
	while ((c = getopt_long(argc, argv, "n:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'c':
			context = optarg;
			break;
		case 'i':
			in_cluster = true;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'l':
			sel = optarg;
			break;
		case 'I':
			tune.idle_timeout_ms = atoi(optarg);
			break;
		case 'B':
			tune.backoff_max_ms = atoi(optarg);
			break;
		case 'P':
			tune.page_size = atoi(optarg);
			break;
		case 'W':
			tune.watch_min_s = atoi(optarg);
			tune.watch_max_s = strchr(optarg, '-')
					       ? atoi(strchr(optarg, '-') + 1)
					       : tune.watch_min_s;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind == argc)
		usage(2);
	r = in_cluster
		? kube_config_in_cluster(NULL, &cfg, err, sizeof(err))
		: kube_config_auto(kubeconfig, context, &cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "kube-watch: %s\n", err);
		return 1;
	}
	loop = EV_DEFAULT;
	client = kube_client_new(loop, &cfg, err, sizeof(err));
	if (!client) {
		fprintf(stderr, "kube-watch: %s\n", err);
		kube_config_release(&cfg);
		return 1;
	}
	watched = xcalloc((size_t)(argc - optind), sizeof(*watched));
	for (int i = optind; i < argc; i++) {
		struct watched *w = &watched[nwatched];

		w->res = kube_resource_find(argv[i]);
		if (!w->res) {
			fprintf(stderr, "kube-watch: unknown kind %s\n",
				argv[i]);
			return 2;
		}
		w->inf = kube_informer_new(client, w->res, ns, sel, &ops, w);
		kube_informer_tune(w->inf, &tune);
		nwatched++;
	}
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&usr1, on_usr1, SIGUSR1);
	ev_signal_init(&term, on_stop, SIGTERM);
	ev_signal_init(&intr, on_stop, SIGINT);
	ev_signal_start(loop, &usr1);
	ev_signal_start(loop, &term);
	ev_signal_start(loop, &intr);
	ev_run(loop, 0);
	dump();
	for (size_t i = 0; i < nwatched; i++)
		kube_informer_free(watched[i].inf);
	free(watched);
	kube_client_free(client);
	kube_config_release(&cfg);
	ev_signal_stop(loop, &usr1);
	ev_signal_stop(loop, &term);
	ev_signal_stop(loop, &intr);
	return 0;
}
