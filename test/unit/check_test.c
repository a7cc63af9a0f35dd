/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_test.c - unit tests for check.c: the Kubernetes version parser
 * (and its garbage), and the checks' verdicts where no cluster answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/check.h"
#include "suites.h"

START_TEST(versions)
{
	static const struct {
		const char *s;
		int major, minor;
	} good[] = {
		{ "v1.34.4", 1, 34 },
		{ "v1.29.0-eks-1234", 1, 29 },
		{ "v1.28+", 1, 28 },
		{ "v1.21.14+k3s1", 1, 21 },
		{ "v2.0", 2, 0 },
	};
	static const char *const bad[] = {
		"", "1.34.4", "v", "v1", "v1.", "v.34", "v1.x", "vx.1",
		"v1.34x", "v0.1", "v100.1", "v1.1000", "v-1.2", "\xff\xfe",
		"v1.+8", "v+1.2", "v 1.2", "v1. 2",
	};
	int ma, mi;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(check_parse_k8s_version(good[i].s, &ma, &mi) == 0,
			      "%s", good[i].s);
		ck_assert_int_eq(ma, good[i].major);
		ck_assert_int_eq(mi, good[i].minor);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(check_parse_k8s_version(bad[i], &ma, &mi) < 0,
			      "\"%s\" parsed", bad[i]);
	ck_assert_int_lt(check_parse_k8s_version(NULL, &ma, &mi), 0);
}
END_TEST

/* run with a kubeconfig whose server refuses: fails at the API, says so */
START_TEST(dead_server)
{
	char path[64], *text = NULL;
	size_t len = 0;
	FILE *f, *out = open_memstream(&text, &len);
	struct check_opts o = { .cp_ns = "conduit", .out = out };

	snprintf(path, sizeof(path), "/tmp/check_test.%d.kubeconfig", (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
	      "    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\n"
	      "users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n"
	      "  context: {cluster: c, user: u}\ncurrent-context: x\n", f);
	fclose(f);
	o.kubeconfig = path;
	ck_assert_int_eq(check_run(&o), 1);
	fclose(out);
	ck_assert_msg(strstr(text, "\xe2\x88\x9a can initialize the client\n"), "%s", text);
	ck_assert_msg(strstr(text, "\xc3\x97 can query the Kubernetes API\n"), "%s", text);
	ck_assert_msg(strstr(text, "Connection refused"), "%s", text);
	ck_assert_msg(strstr(text, "Status check results are \xc3\x97\n"), "%s", text);
	/* nothing past the failed API check */
	ck_assert_ptr_null(strstr(text, "conduit-existence"));
	free(text);
	unlink(path);
}
END_TEST

Suite *check_suite(void)
{
	Suite *s = suite_create("check");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, versions);
	tcase_add_test(tc, dead_server);
	suite_add_tcase(s, tc);
	return s;
}
