/* SPDX-License-Identifier: Apache-2.0 */
/* kube_informer_test.c - informers against recorded answers */
#include <errno.h>
#include <string.h>

#include "conduit/kube_informer.h"
#include "conduit/kube_watch.h"
#include "kube_fake.h"
#include "suites.h"

struct rec {
	size_t events[3];
	size_t synced;
	size_t errors;
	char first_error[1024];
	char last_error[1024];
	struct buf log; /* "ADDED name rv" lines */
};

static void on_event(void *arg, enum kube_event_type t, const struct json *obj)
{
	struct rec *r = arg;

	r->events[t]++;
	/* every object carries its type, list items included */
	ck_assert_str_eq(json_string(json_get(obj, "kind")), "Pod");
	ck_assert_str_eq(json_string(json_get(obj, "apiVersion")), "v1");
	/* kept slim: what no reader uses is dropped before the store */
	ck_assert_ptr_null(json_get(json_get(obj, "metadata"), "managedFields"));
	ck_assert_ptr_null(json_get(json_get(json_get(obj, "metadata"), "annotations"),
				    "kubectl.kubernetes.io/last-applied-configuration"));
	buf_printf(&r->log, "%s %s %s\n", kube_event_type_name(t),
		   kube_object_name(obj), kube_object_rv(obj));
}

static void on_synced(void *arg)
{
	((struct rec *)arg)->synced++;
}

static void on_error(void *arg, const char *msg)
{
	struct rec *r = arg;

	if (!r->errors++)
		snprintf(r->first_error, sizeof(r->first_error), "%s", msg);
	snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
}

static const struct kube_informer_ops ops = {
    .on_event = on_event,
    .on_synced = on_synced,
    .on_error = on_error,
};

struct fx {
	struct fake_env env;
	struct kube_informer *inf;
	struct rec rec;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	fake_env_init(&f->env);
	buf_init(&f->rec.log, 0);
}

static void fx_start(struct fx *f, const char *ns, const char *sel)
{
	struct kube_informer_tuning t = {
	    .idle_timeout_ms = 300,
	    .backoff_base_ms = 20,
	    .backoff_max_ms = 2000,
	    .watch_min_s = 60,
	    .watch_max_s = 120,
	};

	f->inf =
	    kube_informer_new(f->env.c, &kube_res_pods, ns, sel, &ops, &f->rec);
	kube_informer_tune(f->inf, &t);
}

static void fx_release(struct fx *f)
{
	kube_informer_free(f->inf);
	buf_release(&f->rec.log);
	fake_env_release(&f->env);
}

/* wait until the server saw n requests */
static void wait_requests(struct fx *f, size_t n, double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (f->env.srv.nrequests < n) {
		if (ev_time() > end)
			ck_abort_msg("%zu requests, not %zu, within %.1f s",
				     f->env.srv.nrequests, n, secs);
		run_for(f->env.loop, 0.02);
	}
}

/* a recorded list page with its continue token removed and rv replaced */
static void add_last_page(struct fake_srv *s, const char *fixture,
			  const char *rv)
{
	struct buf b;
	char err[64];
	struct json *doc, *meta;
	char *text;

	fixture_load(fixture, &b);
	doc = json_parse((char *)buf_head(&b), buf_len(&b), err, sizeof(err));
	meta = json_get(doc, "metadata");
	json_free(json_detach(meta, json_get(meta, "continue")));
	json_set_string(meta, "resourceVersion", rv);
	text = json_print(doc, false);
	fake_add_status(s, 200, NULL, text, strlen(text));
	free(text);
	json_free(doc);
	buf_release(&b);
}

START_TEST(test_list_watch_relist)
{
	struct kube_informer_stats st;
	struct fx f;

	fx_init(&f);
	/* a paginated list, a watch that ends normally, a watch that says
	 * 410 in its stream, a re-list, and a watch that stalls */
	fake_add_json_fixture(&f.env.srv, "pods-list-page1.json");
	fake_add_json_fixture(&f.env.srv, "pods-list-page2.json");
	fake_add_fixture(&f.env.srv, "pods-watch.http", false);
	fake_add_fixture(&f.env.srv, "pods-watch-410.http", false);
	add_last_page(&f.env.srv, "pods-list-page2.json", "500");
	fake_add(&f.env.srv,
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 47,
		 true);
	fake_add(&f.env.srv,
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 47,
		 true);
	fx_start(&f, "fx", NULL);
	wait_requests(&f, 7, 10);

	ck_assert(str_has_prefix(
	    f.env.srv.requests[0],
	    "GET /api/v1/namespaces/fx/pods?limit=500 HTTP/1.1"));
	ck_assert(str_has_prefix(
	    f.env.srv.requests[1],
	    "GET /api/v1/namespaces/fx/pods?limit=500&continue=eyJ"));
	ck_assert(str_has_prefix(
	    f.env.srv.requests[2],
	    "GET /api/v1/namespaces/fx/pods?watch=1&allowWatchBookmarks=true"
	    "&timeoutSeconds="));
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[2], "&resourceVersion=360 "));
	/* the normal end resumes from the last resourceVersion, no list */
	ck_assert_ptr_nonnull(strstr(f.env.srv.requests[3], "watch=1"));
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[3], "&resourceVersion=424 "));
	/* the 410 re-lists from scratch */
	ck_assert(str_has_prefix(
	    f.env.srv.requests[4],
	    "GET /api/v1/namespaces/fx/pods?limit=500 HTTP/1.1"));
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[5], "&resourceVersion=500 "));
	/* the stalled stream is abandoned and resumed where it was */
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[6], "&resourceVersion=500 "));

	kube_informer_stats(f.inf, &st);
	ck_assert(st.synced);
	ck_assert_uint_eq(f.rec.synced, 2);
	ck_assert_uint_eq(st.lists, 2);
	ck_assert_uint_eq(st.list_pages, 3);
	ck_assert_uint_eq(st.relists, 1);
	ck_assert_uint_eq(st.watch_ends, 1);
	ck_assert_uint_ge(st.watches, 4);
	ck_assert_uint_ge(st.reconnects, 1);
	ck_assert_uint_eq(st.bookmarks, 1);
	/* list 3 + watch 2 added, 11 modified; the re-list kept one pod
	 * unchanged (no event) and deleted the other four */
	ck_assert_uint_eq(st.events[KUBE_ADDED], 5);
	ck_assert_uint_eq(st.events[KUBE_MODIFIED], 11);
	ck_assert_uint_eq(st.events[KUBE_DELETED], 4);
	ck_assert_uint_eq(f.rec.events[KUBE_DELETED], 4);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_ptr_nonnull(kube_store_get(kube_informer_store(f.inf), "fx",
					     "web-79cc8fcdf5-ltrn4"));
	ck_assert_str_eq(kube_informer_rv(f.inf), "500");
	ck_assert_int_gt(st.last_event_wall_ns, 0);
	ck_assert_ptr_nonnull(
	    strstr(f.rec.last_error, "watch pods in namespace fx: "));
	ck_assert_ptr_nonnull(
	    strstr(f.rec.last_error, "no data from the server"));
	fx_release(&f);
}
END_TEST

START_TEST(test_forbidden_then_retry_after)
{
	static const char forbidden[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	    "\"status\":"
	    "\"Failure\",\"message\":\"pods is forbidden: User "
	    "\\\"system:serviceaccount:t:nobody\\\" cannot list resource "
	    "\\\"pods\\\" "
	    "in API group \\\"\\\" at the cluster "
	    "scope\",\"reason\":\"Forbidden\","
	    "\"details\":{\"kind\":\"pods\"},\"code\":403}";
	struct kube_informer_stats st;
	struct fx f;

	fx_init(&f);
	fake_add_status(&f.env.srv, 403, NULL, forbidden, strlen(forbidden));
	fake_add_status(&f.env.srv, 503, "Retry-After: 1\r\n", "{}", 2);
	add_last_page(&f.env.srv, "pods-list-page2.json", "77");
	fake_add(&f.env.srv,
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 47,
		 true);
	fx_start(&f, NULL, "app=web");
	wait_requests(&f, 1, 5);
	run_for(f.env.loop, 0.1);
	ck_assert_str_eq(
	    f.rec.first_error,
	    "list pods with labels app=web: 403 Forbidden: pods is forbidden: "
	    "User \"system:serviceaccount:t:nobody\" cannot list resource "
	    "\"pods\" in API group \"\" at the cluster scope");
	ck_assert(str_has_prefix(
	    f.env.srv.requests[0],
	    "GET /api/v1/pods?labelSelector=app%3Dweb&limit=500 "));
	wait_requests(&f, 4, 10);
	/* Retry-After: 1 is honoured (the backoff alone would be ~40 ms) */
	ck_assert(f.env.srv.times[2] - f.env.srv.times[1] >= 0.95);
	ck_assert_ptr_nonnull(
	    strstr(f.rec.last_error, "503 Service Unavailable"));
	kube_informer_stats(f.inf, &st);
	ck_assert(st.synced);
	ck_assert_uint_eq(st.errors, 2);
	ck_assert_uint_eq(st.reconnects, 2);
	ck_assert_uint_eq(st.lists, 3);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[3], "labelSelector=app%3Dweb&watch=1"));
	fx_release(&f);
}
END_TEST

START_TEST(test_watch_errors)
{
	static const char err500[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "7b\r\n{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
	    "\"apiVersion\":\"v1\","
	    "\"status\":\"Failure\",\"message\":\"internal "
	    "error\",\"code\":500}}\n\r\n0\r\n\r\n";
	static const char cut[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "20\r\n{\"type\":\"ADDED\",\"object\":{\"meta";
	static const char gone[] =
	    "HTTP/1.1 410 Gone\r\nContent-Type: "
	    "application/json\r\nContent-Length: 2\r\n\r\n{}";
	struct kube_informer_stats st;
	struct fx f;

	fx_init(&f);
	add_last_page(&f.env.srv, "pods-list-page2.json", "10");
	fake_add(&f.env.srv, err500, strlen(err500),
		 false);				 /* ERROR 500: retry */
	fake_add(&f.env.srv, cut, strlen(cut), false);	 /* cut mid-event */
	fake_add(&f.env.srv, gone, strlen(gone), false); /* HTTP 410: re-list */
	add_last_page(&f.env.srv, "pods-list-page2.json", "20");
	fake_add(&f.env.srv,
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 47,
		 true);
	fx_start(&f, "fx", NULL);
	wait_requests(&f, 6, 10);
	run_for(f.env.loop, 0.05);
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[2], "&resourceVersion=10 "));
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[3], "&resourceVersion=10 "));
	ck_assert(str_has_prefix(f.env.srv.requests[4],
				 "GET /api/v1/namespaces/fx/pods?limit=500 "));
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[5], "&resourceVersion=20 "));
	kube_informer_stats(f.inf, &st);
	ck_assert_uint_eq(st.relists, 1);
	ck_assert_uint_eq(st.lists, 2);
	ck_assert_uint_eq(st.reconnects, 2);
	ck_assert_uint_eq(st.errors, 2);
	/* the same pod twice: added once, nothing else */
	ck_assert_uint_eq(st.events[KUBE_ADDED], 1);
	ck_assert_uint_eq(st.events[KUBE_MODIFIED], 0);
	ck_assert_uint_eq(st.events[KUBE_DELETED], 0);
	ck_assert_uint_eq(f.rec.synced, 2);
	fx_release(&f);
}
END_TEST

START_TEST(test_backoff)
{
	struct kube_backoff b = {0};
	int d;

	/* equal jitter: [d/2, d] for d = 500, 1000, 2000, ... */
	ck_assert_int_eq(kube_backoff_next(&b, -1, 0), 250);
	ck_assert_int_eq(kube_backoff_next(&b, -1, 500), 1000);
	ck_assert_int_eq(kube_backoff_next(&b, -1, 0), 1000);
	ck_assert_int_eq(kube_backoff_next(&b, -1, 0), 2000);
	for (int i = 0; i < 6; i++)
		kube_backoff_next(&b, -1, 0);
	for (int i = 0; i < 100; i++) {
		d = kube_backoff_next(&b, -1, (uint32_t)i * 2654435761u);
		ck_assert_int_ge(d, 15000);
		ck_assert_int_le(d, 30000);
	}
	/* Retry-After is a floor, capped like the rest */
	kube_backoff_reset(&b);
	ck_assert_int_eq(kube_backoff_next(&b, 7, 0), 7000);
	ck_assert_int_eq(kube_backoff_next(&b, 100, 0), 30000);
	ck_assert_int_eq(kube_backoff_next(&b, 0, 0), 1000);
	kube_backoff_reset(&b);
	ck_assert_int_eq(kube_backoff_next(&b, -1, 0), 250);
	/* other bounds */
	b = (struct kube_backoff){.base_ms = 100, .max_ms = 1000};
	for (int i = 0; i < 10; i++)
		d = kube_backoff_next(&b, -1, 0xffffffffu);
	ck_assert_int_ge(d, 500);
	ck_assert_int_le(d, 1000);
}
END_TEST

START_TEST(test_resources)
{
	ck_assert_ptr_eq(kube_resource_find("pods"), &kube_res_pods);
	ck_assert_ptr_eq(kube_resource_find("Pod"), &kube_res_pods);
	ck_assert_ptr_eq(kube_resource_find("po"), &kube_res_pods);
	ck_assert_ptr_eq(kube_resource_find("endpointslices"),
			 &kube_res_endpointslices);
	ck_assert_ptr_eq(kube_resource_find("rs"), &kube_res_replicasets);
	ck_assert_ptr_eq(kube_resource_find("Namespace"), &kube_res_namespaces);
	ck_assert(!kube_res_namespaces.namespaced);
	ck_assert_str_eq(kube_res_endpointslices.prefix,
			 "/apis/discovery.k8s.io/v1");
	ck_assert_ptr_null(kube_resource_find("widgets"));
}
END_TEST

Suite *kube_informer_suite(void)
{
	Suite *s = suite_create("kube_informer");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_list_watch_relist);
	tcase_add_test(tc, test_forbidden_then_retry_after);
	tcase_add_test(tc, test_watch_errors);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_resources);
	suite_add_tcase(s, tc);
	return s;
}
