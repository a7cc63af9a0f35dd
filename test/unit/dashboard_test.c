/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dashboard_test.c - unit tests for dashboard.c: the API server path a
 * request is forwarded to, and the type its answer gets; the local check
 * against something that is not the dashboard, and nothing at all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conduit/dashboard.h"
#include "suites.h"

START_TEST(test_proxy_path)
{
	char buf[128];

	ck_assert_str_eq(dashboard_proxy_path("conduit", "/", buf, sizeof(buf)),
			 "/api/v1/namespaces/conduit/services/conduit-web:http/proxy/");
	ck_assert_str_eq(dashboard_proxy_path("mesh", "/api/v1/stat?resource=pod", buf,
					      sizeof(buf)),
			 "/api/v1/namespaces/mesh/services/conduit-web:http/proxy/api/v1/stat?resource=pod");
	ck_assert_ptr_null(dashboard_proxy_path("conduit", "/api/v1/stat?resource=pod",
						buf, 40));
}
END_TEST

START_TEST(test_content_type)
{
	ck_assert_str_eq(dashboard_content_type("/"), "text/html; charset=utf-8");
	ck_assert_str_eq(dashboard_content_type("/index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(dashboard_content_type("/app.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(dashboard_content_type("/app.js?v=2"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(dashboard_content_type("/style.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(dashboard_content_type("/api/v1/stat"), "application/json");
	ck_assert_str_eq(dashboard_content_type("/api/v1/tap"), "application/x-ndjson");
	ck_assert_str_eq(dashboard_content_type("/api/v1/tap?resource=pod"),
			 "application/x-ndjson");
	ck_assert_str_eq(dashboard_content_type("/api/v1/taps"), "application/json");
	ck_assert_str_eq(dashboard_content_type("/x"), "application/octet-stream");
}
END_TEST

START_TEST(test_check_local_nothing_there)
{
	struct sock_addr a;
	char err[200];

	/* port 1 on loopback: nobody listens (refused at once) */
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:1", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(dashboard_check_local(&a, 0.3, err, sizeof(err)),
			 -ECONNREFUSED);
	ck_assert_str_eq(err, strerror(ECONNREFUSED));
}
END_TEST

Suite *dashboard_suite(void)
{
	Suite *s = suite_create("dashboard");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_proxy_path);
	tcase_add_test(tc, test_content_type);
	tcase_add_test(tc, test_check_local_nothing_there);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);
	return s;
}
