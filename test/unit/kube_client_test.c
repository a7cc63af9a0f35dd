/* SPDX-License-Identifier: Apache-2.0 */
/* kube_client_test.c - the client against a scripted server */
#include <errno.h>
#include <string.h>

#include "conduit/kube_client.h"
#include "kube_fake.h"
#include "suites.h"

struct result {
	bool done;
	int status, error, retry_after;
	char message[512];
	struct buf body; /* collected or streamed */
	int stop_after;	 /* on_data: fail after this many pieces */
	int pieces;
};

static void on_done(void *arg, const struct kube_response *r)
{
	struct result *res = arg;

	res->done = true;
	res->status = r->status;
	res->error = r->error;
	res->retry_after = r->retry_after;
	snprintf(res->message, sizeof(res->message), "%s", r->message);
	if (r->body)
		buf_append(&res->body, r->body, r->body_len);
}

static int on_data(void *arg, const char *p, size_t len)
{
	struct result *res = arg;

	res->pieces++;
	buf_append(&res->body, p, len);
	if (res->stop_after && res->pieces >= res->stop_after)
		return -ECANCELED;
	return 0;
}

struct fx {
	struct fake_env env;
	struct result res;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	fake_env_init(&f->env);
	buf_init(&f->res.body, 0);
}

static void fx_release(struct fx *f)
{
	buf_release(&f->res.body);
	fake_env_release(&f->env);
}

START_TEST(test_get_and_post)
{
	struct fx f;
	struct kube_request_opts o = {.path = "/api/v1/namespaces"};
	static const char review[] = "{\"kind\":\"TokenReview\"}";

	fx_init(&f);
	fake_add_json_fixture(&f.env.srv, "namespaces-list.json");
	fake_add_status(&f.env.srv, 201, NULL, "{\"status\":{}}", 13);
	ck_assert_ptr_nonnull(kube_request_start(f.env.c, &o, on_done, &f.res));
	ck_assert(!f.res.done); /* never from inside start */
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, 0);
	ck_assert_int_eq(f.res.status, 200);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&f.res.body), "\"kube-system\""));
	ck_assert(str_has_prefix(f.env.srv.requests[0],
				 "GET /api/v1/namespaces HTTP/1.1\r\n"));
	if (!strstr(f.env.srv.requests[0], "Authorization: Bearer sekret\r\n"))
		ck_abort_msg("%s", f.env.srv.requests[0]);
	ck_assert_ptr_nonnull(
	    strstr(f.env.srv.requests[0], "Host: 127.0.0.1:"));

	memset(&f.res.done, 0, sizeof(f.res.done));
	buf_clear(&f.res.body);
	o = (struct kube_request_opts){
	    .method = "POST",
	    .path = "/apis/authentication.k8s.io/v1/tokenreviews",
	    .body = review,
	    .body_len = strlen(review),
	};
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.status, 201);
	ck_assert_str_eq(buf_cstr(&f.res.body), "{\"status\":{}}");
	ck_assert_ptr_nonnull(strstr(f.env.srv.requests[1],
				     "Content-Type: application/json\r\n"));
	ck_assert_str_eq(f.env.srv.bodies[1], review);
	fx_release(&f);
}
END_TEST

START_TEST(test_status_and_retry_after)
{
	struct fx f;
	struct kube_request_opts o = {.path = "/api/v1/pods"};
	static const char forbidden[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
	    "\"message\":\"pods is forbidden: User \\\"x\\\" cannot list "
	    "resource\","
	    "\"reason\":\"Forbidden\",\"code\":403}";
	char msg[256];

	fx_init(&f);
	fake_add_status(&f.env.srv, 429, "Retry-After: 7\r\n", "{}", 2);
	fake_add_status(&f.env.srv, 403, NULL, forbidden, strlen(forbidden));
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.status, 429);
	ck_assert_int_eq(f.res.retry_after, 7);
	f.res.done = false;
	buf_clear(&f.res.body);
	o.on_data = on_data; /* an error body is collected, never streamed */
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.status, 403);
	ck_assert_int_eq(f.res.retry_after, -1);
	ck_assert_int_eq(f.res.pieces, 0);
	ck_assert_str_eq(kube_status_message((char *)buf_head(&f.res.body),
					     buf_len(&f.res.body), msg,
					     sizeof(msg)),
			 "pods is forbidden: User \"x\" cannot list resource");
	ck_assert_str_eq(
	    kube_status_message("oops\nno json", 12, msg, sizeof(msg)),
	    "oops no json");
	fx_release(&f);
}
END_TEST

START_TEST(test_body_limit)
{
	struct fx f;
	struct kube_request_opts o = {.path = "/big", .max_body = 100};
	char big[1000];

	fx_init(&f);
	memset(big, 'x', sizeof(big));
	fake_add_status(&f.env.srv, 200, NULL, big, sizeof(big));
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, -EMSGSIZE);
	ck_assert_str_eq(f.res.message,
			 "GET /big: response body larger than 100 bytes");
	fx_release(&f);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct fx f;
	struct kube_request_opts o = {.path = "/x"};
	char want[64];

	fx_init(&f);
	/* nobody listens there any more */
	ev_io_stop(f.env.loop, &f.env.srv.accept_io);
	close(f.env.srv.lfd);
	f.env.srv.lfd = open("/dev/null", O_RDONLY);
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, -ECONNREFUSED);
	ck_assert_int_eq(f.res.status, 0);
	snprintf(want, sizeof(want),
		 "connect to 127.0.0.1:%d: Connection refused", f.env.srv.port);
	ck_assert_ptr_nonnull(strstr(f.res.message, want));
	fx_release(&f);
}
END_TEST

START_TEST(test_idle_timeout)
{
	struct fx f;
	struct kube_request_opts o = {
	    .path = "/w", .idle_timeout_ms = 200, .on_data = on_data};
	static const char head[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nab\n\r\n";
	ev_tstamp t0 = ev_time();

	fx_init(&f);
	fake_add(&f.env.srv, head, strlen(head), true); /* then silence */
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, -ETIMEDOUT);
	ck_assert_int_eq(f.res.status, 200);
	ck_assert_str_eq(buf_cstr(&f.res.body), "ab\n");
	ck_assert_ptr_nonnull(strstr(f.res.message, "no data from the server"));
	ck_assert(ev_time() - t0 >= 0.19 && ev_time() - t0 < 2);
	fx_release(&f);
}
END_TEST

START_TEST(test_stream_cut_and_stop)
{
	struct fx f;
	struct kube_request_opts o = {.path = "/w", .on_data = on_data};
	static const char cut[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nab\n\r\n5\r\ncd";
	static const char two[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\na\n\r\n2\r\nb\n\r\n2\r\nc\n\r\n0\r\n\r\n";

	fx_init(&f);
	fake_add(&f.env.srv, cut, strlen(cut), false);
	fake_add(&f.env.srv, two, strlen(two), false);
	fake_add(&f.env.srv, two, strlen(two), false);
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, -ECONNRESET);
	ck_assert_ptr_nonnull(
	    strstr(f.res.message, "in the middle of the response"));

	/* the consumer ends a stream by returning an error from on_data */
	f.res.done = false;
	f.res.pieces = 0;
	f.res.stop_after = 2;
	buf_clear(&f.res.body);
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, -ECANCELED);
	ck_assert_int_eq(f.res.pieces, 2);

	/* a complete stream */
	f.res.done = false;
	f.res.pieces = 0;
	f.res.stop_after = 0;
	buf_clear(&f.res.body);
	kube_request_start(f.env.c, &o, on_done, &f.res);
	run_until(f.env.loop, &f.res.done, 5);
	ck_assert_int_eq(f.res.error, 0);
	ck_assert_str_eq(buf_cstr(&f.res.body), "a\nb\nc\n");
	fx_release(&f);
}
END_TEST

START_TEST(test_cancel)
{
	struct fx f;
	struct kube_request_opts o = {.path = "/w", .on_data = on_data};
	struct kube_request *r;

	fx_init(&f);
	/* at once, and after the stream began */
	kube_request_cancel(kube_request_start(f.env.c, &o, on_done, &f.res));
	kube_request_cancel(NULL);
	fake_add(&f.env.srv,
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 47,
		 true);
	r = kube_request_start(f.env.c, &o, on_done, &f.res);
	run_for(f.env.loop, 0.2);
	ck_assert_uint_eq(f.env.srv.nrequests, 1);
	kube_request_cancel(r);
	run_for(f.env.loop, 0.1);
	ck_assert(!f.res.done);
	fx_release(&f);
}
END_TEST

START_TEST(test_path_escape)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(kube_path_escape(&b, "app in (web, api),tier!=db"), 0);
	ck_assert_str_eq(buf_cstr(&b),
			 "app%20in%20%28web%2C%20api%29%2Ctier%21%3Ddb");
	buf_clear(&b);
	kube_path_escape(&b, "a-b_c.d~9");
	ck_assert_str_eq(buf_cstr(&b), "a-b_c.d~9");
	buf_release(&b);
}
END_TEST

Suite *kube_client_suite(void)
{
	Suite *s = suite_create("kube_client");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_get_and_post);
	tcase_add_test(tc, test_status_and_retry_after);
	tcase_add_test(tc, test_body_limit);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_stream_cut_and_stop);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_path_escape);
	suite_add_tcase(s, tc);
	return s;
}
