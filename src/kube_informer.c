/* SPDX-License-Identifier: Apache-2.0 */
/* kube_informer.c - list, then watch, one resource into a store */
#include "conduit/kube_informer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conduit/buf.h"
#include "conduit/http1.h"
#include "conduit/kube_watch.h"
#include "conduit/time.h"

const struct kube_resource kube_res_services = {"/api/v1", "services",
						"Service", "v1", true};
const struct kube_resource kube_res_endpointslices = {
    "/apis/discovery.k8s.io/v1", "endpointslices", "EndpointSlice",
    "discovery.k8s.io/v1", true};
const struct kube_resource kube_res_endpoints = {"/api/v1", "endpoints",
						 "Endpoints", "v1", true};
const struct kube_resource kube_res_pods = {"/api/v1", "pods", "Pod", "v1",
					    true};
const struct kube_resource kube_res_replicasets = {
    "/apis/apps/v1", "replicasets", "ReplicaSet", "apps/v1", true};
const struct kube_resource kube_res_deployments = {
    "/apis/apps/v1", "deployments", "Deployment", "apps/v1", true};
const struct kube_resource kube_res_namespaces = {"/api/v1", "namespaces",
						  "Namespace", "v1", false};
const struct kube_resource kube_res_configmaps = {"/api/v1", "configmaps",
						  "ConfigMap", "v1", true};
const struct kube_resource kube_res_serviceaccounts = {
    "/api/v1", "serviceaccounts", "ServiceAccount", "v1", true};

static const struct {
	const struct kube_resource *res;
	const char *shortname;
} resources[] = {
    {&kube_res_services, "svc"},   {&kube_res_endpointslices, "eps"},
    {&kube_res_endpoints, "ep"},   {&kube_res_pods, "po"},
    {&kube_res_replicasets, "rs"}, {&kube_res_deployments, "deploy"},
    {&kube_res_namespaces, "ns"},  {&kube_res_serviceaccounts, "sa"},
    {&kube_res_configmaps, "cm"},
};

const struct kube_resource *kube_resource_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(resources); i++) {
		const struct kube_resource *r = resources[i].res;

		if (!strcmp(name, r->plural) || !strcasecmp(name, r->kind) ||
		    !strcmp(name, resources[i].shortname))
			return r;
	}
	return NULL;
}

int kube_backoff_next(struct kube_backoff *b, int retry_after_s, uint32_t rnd)
{
	int64_t base = b->base_ms > 0 ? b->base_ms : 500;
	int64_t max = b->max_ms > 0 ? b->max_ms : 30000;
	int64_t d = base;

	for (unsigned i = 0; i < b->attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	d = d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
	if (retry_after_s >= 0) {
		int64_t ra = MIN((int64_t)retry_after_s * 1000, max);

		d = MAX(d, ra);
	}
	if (b->attempt < 64)
		b->attempt++;
	return (int)d;
}

void kube_backoff_reset(struct kube_backoff *b)
{
	b->attempt = 0;
}

enum inf_state {
	INF_IDLE, /* waiting for the timer: start or retry */
	INF_LISTING,
	INF_WATCHING,
};

struct kube_informer {
	struct kube_client *client; /* borrowed */
	const struct kube_resource *res;
	char *ns;  /* NULL: all namespaces */
	char *sel; /* NULL: no label selector */
	struct kube_informer_ops ops;
	void *arg;
	struct kube_informer_tuning tune;

	enum inf_state state;
	bool list_next;		  /* the timer starts a list (else a watch) */
	struct kube_request *req; /* the request in flight, or NULL */
	ev_timer timer;
	struct kube_store *store;
	struct kube_watch_decoder dec;
	struct kube_backoff backoff;
	char *rv;	     /* last resourceVersion seen */
	char *cont;	     /* continue token of the list in progress */
	bool gone;	     /* the stream said 410 */
	bool reported;	     /* the stream's own ERROR was reported */
	bool watch_progress; /* the current watch delivered an event */
	ev_tstamp watch_started;
	uint32_t rnd; /* xorshift state */
	struct kube_informer_stats st;
};

static uint32_t next_rand(struct kube_informer *inf)
{
	uint32_t x = inf->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return inf->rnd = x ? x : 0x9e3779b9u;
}

static const char *what_ns(const struct kube_informer *inf)
{
	return inf->ns ? inf->ns : "";
}

PRINTF_LIKE(2, 3)
static void report(struct kube_informer *inf, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	inf->st.errors++;
	if (inf->ops.on_error)
		inf->ops.on_error(inf->arg, msg);
}

static void set_rv(struct kube_informer *inf, const char *rv)
{
	if (!rv || !*rv || (inf->rv && !strcmp(inf->rv, rv)))
		return;
	free(inf->rv);
	inf->rv = xstrdup(rv);
}

static void emit(struct kube_informer *inf, enum kube_event_type t,
		 const struct json *obj)
{
	inf->st.events[t]++;
	inf->st.last_event_wall_ns = time_wall_ns();
	if (inf->ops.on_event)
		inf->ops.on_event(inf->arg, t, obj);
}

static void schedule(struct kube_informer *inf, bool list, double delay_s)
{
	inf->state = INF_IDLE;
	inf->list_next = list;
	ev_timer_stop(kube_client_loop(inf->client), &inf->timer);
	ev_timer_set(&inf->timer, delay_s, 0);
	ev_timer_start(kube_client_loop(inf->client), &inf->timer);
}

/* retry - after an error: back off, then list again or resume the watch */
static void retry(struct kube_informer *inf, bool list, int retry_after)
{
	int ms = kube_backoff_next(&inf->backoff, retry_after, next_rand(inf));

	inf->st.reconnects++;
	schedule(inf, list, ms / 1e3);
}

/* base_path - "/api/v1/namespaces/ns/pods?" with the selector */
static void base_path(struct kube_informer *inf, struct buf *b)
{
	buf_printf(b, "%s", inf->res->prefix);
	if (inf->ns && inf->res->namespaced) {
		buf_append_str(b, "/namespaces/");
		kube_path_escape(b, inf->ns);
	}
	buf_printf(b, "/%s?", inf->res->plural);
	if (inf->sel) {
		buf_append_str(b, "labelSelector=");
		kube_path_escape(b, inf->sel);
		buf_append_str(b, "&");
	}
}

static void on_list_done(void *arg, const struct kube_response *resp);
static void on_watch_done(void *arg, const struct kube_response *resp);
static int on_watch_data(void *arg, const char *p, size_t len);

static void start_list(struct kube_informer *inf)
{
	struct kube_request_opts o = {0};
	struct buf path;

	buf_init(&path, 0);
	base_path(inf, &path);
	buf_printf(&path, "limit=%d", inf->tune.page_size);
	if (inf->cont) {
		buf_append_str(&path, "&continue=");
		kube_path_escape(&path, inf->cont);
	} else {
		inf->st.lists++;
		kube_store_begin_list(inf->store);
	}
	o.path = buf_cstr(&path);
	o.idle_timeout_ms = inf->tune.idle_timeout_ms;
	inf->state = INF_LISTING;
	inf->req = kube_request_start(inf->client, &o, on_list_done, inf);
	buf_release(&path);
}

static void start_watch(struct kube_informer *inf)
{
	struct kube_request_opts o = {0};
	int span = inf->tune.watch_max_s - inf->tune.watch_min_s;
	int timeout =
	    inf->tune.watch_min_s +
	    (span > 0 ? (int)(next_rand(inf) % (uint32_t)(span + 1)) : 0);
	struct buf path;

	buf_init(&path, 0);
	base_path(inf, &path);
	buf_printf(&path,
		   "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d"
		   "&resourceVersion=",
		   timeout);
	kube_path_escape(&path, inf->rv ? inf->rv : "");
	o.path = buf_cstr(&path);
	o.idle_timeout_ms = inf->tune.idle_timeout_ms;
	o.on_data = on_watch_data;
	kube_watch_decoder_reset(&inf->dec);
	inf->gone = false;
	inf->reported = false;
	inf->watch_progress = false;
	inf->watch_started = ev_now(kube_client_loop(inf->client));
	inf->st.watches++;
	inf->state = INF_WATCHING;
	inf->req = kube_request_start(inf->client, &o, on_watch_done, inf);
	buf_release(&path);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct kube_informer *inf =
	    container_of(w, struct kube_informer, timer);

	(void)loop;
	(void)revents;
	if (inf->list_next || !inf->rv)
		start_list(inf);
	else
		start_watch(inf);
}

/* fill - list items lack kind and apiVersion: give them the watch's */
static void fill_type(struct kube_informer *inf, struct json *obj)
{
	if (!json_string(json_get(obj, "kind")))
		json_set_string(obj, "kind", inf->res->kind);
	if (!json_string(json_get(obj, "apiVersion")))
		json_set_string(obj, "apiVersion", inf->res->api_version);
}

/*
 * slim - drop what no reader of the cache looks at before it is kept
 * (client-go informers' transform does the same): managedFields, the
 * last-applied annotation kubectl writes. Most of an object's bytes.
 */
static void slim(struct json *obj)
{
	struct json *meta = json_get(obj, "metadata"), *x;

	if ((x = json_get(meta, "managedFields")))
		json_free(json_detach(meta, x));
	if ((x = json_get(json_get(meta, "annotations"),
			  "kubectl.kubernetes.io/last-applied-configuration")))
		json_free(json_detach(json_get(meta, "annotations"), x));
}

static void put(struct kube_informer *inf, struct json *obj)
{
	enum kube_event_type t;
	const struct json *stored;

	slim(obj);
	if (kube_store_put(inf->store, obj, &t, &stored) == 0)
		emit(inf, t, stored);
}

static void on_swept(void *arg, const struct json *obj)
{
	emit(arg, KUBE_DELETED, obj);
}

/* describe - "list pods in namespace x" for messages */
static void describe(struct kube_informer *inf, const char *verb, char *buf,
		     size_t size)
{
	snprintf(buf, size, "%s %s%s%s%s%s", verb, inf->res->plural,
		 inf->ns && inf->res->namespaced ? " in namespace " : "",
		 inf->ns && inf->res->namespaced ? what_ns(inf) : "",
		 inf->sel ? " with labels " : "", inf->sel ? inf->sel : "");
}

/* http_error - report a non-2xx answer and decide what comes next */
static void http_error(struct kube_informer *inf, const char *verb,
		       const struct kube_response *resp, bool list)
{
	char what[256], msg[512];

	describe(inf, verb, what, sizeof(what));
	kube_status_message(resp->body, resp->body_len, msg, sizeof(msg));
	report(inf, "%s: %d %s: %s", what, resp->status,
	       http1_status_text(resp->status), msg);
	retry(inf, list, resp->retry_after);
}

static void on_list_done(void *arg, const struct kube_response *resp)
{
	struct kube_informer *inf = arg;
	char what[256], err[256];
	struct json *doc, *items, *meta;
	const char *cont, *rv;

	inf->req = NULL;
	if (resp->error) {
		describe(inf, "list", what, sizeof(what));
		report(inf, "%s: %s", what, resp->message);
		free(inf->cont);
		inf->cont = NULL;
		retry(inf, true, -1);
		return;
	}
	if (resp->status == 410 && inf->cont) {
		/* the continue token expired: the snapshot is gone */
		free(inf->cont);
		inf->cont = NULL;
		inf->st.relists++;
		schedule(inf, true, 0);
		return;
	}
	if (resp->status != 200) {
		free(inf->cont);
		inf->cont = NULL;
		http_error(inf, "list", resp, true);
		return;
	}
	doc = json_parse(resp->body, resp->body_len, err, sizeof(err));
	items = json_get(doc, "items");
	meta = json_get(doc, "metadata");
	rv = json_string(json_get(meta, "resourceVersion"));
	if (!doc ||
	    (json_type(items) != JSON_ARRAY && json_type(items) != JSON_NULL) ||
	    !rv) {
		describe(inf, "list", what, sizeof(what));
		report(inf, "%s: the answer is not a list: %s", what,
		       doc ? "no items or no metadata.resourceVersion" : err);
		json_free(doc);
		free(inf->cont);
		inf->cont = NULL;
		retry(inf, true, -1);
		return;
	}
	inf->st.list_pages++;
	while (json_child(items)) {
		/* move each item out of the document into the store */
		struct json *it = json_detach(items, json_child(items));

		if (!kube_object_name(it)) {
			json_free(it);
			continue;
		}
		fill_type(inf, it);
		put(inf, it);
	}
	cont = json_string(json_get(meta, "continue"));
	free(inf->cont);
	inf->cont = cont && *cont ? xstrdup(cont) : NULL;
	if (inf->cont) {
		json_free(doc);
		start_list(inf);
		return;
	}
	set_rv(inf, rv);
	json_free(doc);
	kube_store_sweep(inf->store, on_swept, inf);
	kube_backoff_reset(&inf->backoff);
	inf->st.synced = true;
	if (inf->ops.on_synced)
		inf->ops.on_synced(inf->arg);
	start_watch(inf);
}

static int on_watch_event(void *arg, struct kube_watch_event *ev)
{
	struct kube_informer *inf = arg;
	struct json *obj, *old;
	char what[256];

	switch (ev->type) {
	case KUBE_WATCH_ADDED:
	case KUBE_WATCH_MODIFIED:
		obj = kube_watch_take(ev);
		set_rv(inf, ev->rv);
		fill_type(inf, obj);
		put(inf, obj);
		break;
	case KUBE_WATCH_DELETED:
		set_rv(inf, ev->rv);
		old = kube_store_delete(inf->store, ev->object);
		if (old) {
			fill_type(inf, ev->object);
			emit(inf, KUBE_DELETED, ev->object);
			json_free(old);
		}
		break;
	case KUBE_WATCH_BOOKMARK:
		inf->st.bookmarks++;
		set_rv(inf, ev->rv);
		break;
	case KUBE_WATCH_ERROR:
		if (ev->code == 410) {
			inf->gone = true;
			return -ESTALE;
		}
		describe(inf, "watch", what, sizeof(what));
		report(inf, "%s: ERROR event %d: %s", what, ev->code,
		       ev->message);
		inf->reported = true;
		return -EPROTO;
	}
	inf->watch_progress = true;
	return 0;
}

static int on_watch_data(void *arg, const char *p, size_t len)
{
	struct kube_informer *inf = arg;
	int r = kube_watch_decode(&inf->dec, p, len, on_watch_event, inf);

	if (r < 0 && inf->req)
		kube_request_fail_message(inf->req, inf->dec.err);
	return r;
}

static void on_watch_done(void *arg, const struct kube_response *resp)
{
	struct kube_informer *inf = arg;
	char what[256];
	bool progress = inf->watch_progress;

	inf->req = NULL;
	if (progress)
		kube_backoff_reset(&inf->backoff);
	if (inf->gone || resp->status == 410) {
		inf->st.relists++;
		schedule(inf, true, 0);
		return;
	}
	if (resp->error) {
		if (!inf->reported) {
			describe(inf, "watch", what, sizeof(what));
			report(inf, "%s: %s", what, resp->message);
		}
		retry(inf, false, -1);
		return;
	}
	if (resp->status != 200) {
		http_error(inf, "watch", resp, false);
		return;
	}
	if (kube_watch_pending(&inf->dec)) {
		describe(inf, "watch", what, sizeof(what));
		report(inf, "%s: the stream ended in the middle of an event",
		       what);
		retry(inf, false, -1);
		return;
	}
	inf->st.watch_ends++;
	/* a normal end: resume at once, unless the server ends watches
	 * as soon as they start (then pace ourselves) */
	if (!progress &&
	    ev_now(kube_client_loop(inf->client)) - inf->watch_started < 1)
		retry(inf, false, -1);
	else
		schedule(inf, false, 0);
}

struct kube_informer *kube_informer_new(struct kube_client *client,
					const struct kube_resource *res,
					const char *ns, const char *sel,
					const struct kube_informer_ops *ops,
					void *arg)
{
	struct kube_informer *inf = xcalloc(1, sizeof(*inf));

	inf->client = client;
	inf->res = res;
	inf->ns = ns && *ns && res->namespaced ? xstrdup(ns) : NULL;
	inf->sel = sel && *sel ? xstrdup(sel) : NULL;
	if (ops)
		inf->ops = *ops;
	inf->arg = arg;
	inf->store = kube_store_new();
	inf->rnd = (uint32_t)time_mono_ns() ^ ((uint32_t)getpid() << 16) ^
		   (uint32_t)(uintptr_t)inf;
	kube_informer_tune(inf, NULL);
	ev_init(&inf->timer, on_timer);
	schedule(inf, true, 0);
	return inf;
}

void kube_informer_tune(struct kube_informer *inf,
			const struct kube_informer_tuning *t)
{
	struct kube_informer_tuning z = {0};

	if (!t)
		t = &z;
	inf->tune = *t;
	if (inf->tune.page_size <= 0)
		inf->tune.page_size = 500;
	if (inf->tune.watch_min_s <= 0)
		inf->tune.watch_min_s = 300;
	if (inf->tune.watch_max_s <= 0)
		inf->tune.watch_max_s = 600;
	if (inf->tune.watch_max_s < inf->tune.watch_min_s)
		inf->tune.watch_max_s = inf->tune.watch_min_s;
	if (inf->tune.idle_timeout_ms <= 0)
		inf->tune.idle_timeout_ms = 90000;
	inf->backoff.base_ms = inf->tune.backoff_base_ms;
	inf->backoff.max_ms = inf->tune.backoff_max_ms;
	kube_watch_decoder_release(&inf->dec);
	kube_watch_decoder_init(&inf->dec, inf->tune.max_line);
}

void kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return;
	kube_request_cancel(inf->req);
	ev_timer_stop(kube_client_loop(inf->client), &inf->timer);
	kube_store_free(inf->store);
	kube_watch_decoder_release(&inf->dec);
	free(inf->rv);
	free(inf->cont);
	free(inf->ns);
	free(inf->sel);
	free(inf);
}

void kube_informer_stats(const struct kube_informer *inf,
			 struct kube_informer_stats *out)
{
	*out = inf->st;
	out->objects = kube_store_count(inf->store);
}

const struct kube_store *kube_informer_store(const struct kube_informer *inf)
{
	return inf->store;
}

const char *kube_informer_rv(const struct kube_informer *inf)
{
	return inf->rv ? inf->rv : "";
}

const struct kube_resource *
kube_informer_resource(const struct kube_informer *inf)
{
	return inf->res;
}
