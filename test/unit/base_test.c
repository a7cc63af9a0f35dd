/* SPDX-License-Identifier: Apache-2.0 */
/* base_test.c - unit tests for base.c */
#include <stdlib.h>
#include <string.h>

#include "conduit/base.h"
#include "suites.h"

struct outer {
	int a;
	long member;
};

START_TEST(test_container_of)
{
	struct outer o;

	ck_assert_ptr_eq(container_of(&o.member, struct outer, member), &o);
}
END_TEST

START_TEST(test_str_helpers)
{
	char buf[4];

	ck_assert(str_has_prefix("conduit-proxy", "conduit-"));
	ck_assert(!str_has_prefix("con", "conduit-"));
	ck_assert(str_has_suffix("a.yaml", ".yaml"));
	ck_assert(!str_has_suffix("yaml", ".yaml"));
	ck_assert_uint_eq(str_copy(buf, "abcdef", sizeof(buf)), 6);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(str_copy(buf, "ab", sizeof(buf)), 2);
	ck_assert_str_eq(buf, "ab");
}
END_TEST

START_TEST(test_xasprintf)
{
	char *s = xasprintf("%s-%d", "pod", 7);
	char *d = xstrndup("abcdef", 3);

	ck_assert_str_eq(s, "pod-7");
	ck_assert_str_eq(d, "abc");
	free(s);
	free(d);
}
END_TEST

START_TEST(test_bug_on_aborts)
{
	BUG_ON(1 + 1 == 2);
}
END_TEST

START_TEST(test_die_exits_1)
{
	die("bad %s", "thing");
}
END_TEST

Suite *base_suite(void)
{
	Suite *s = suite_create("base");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_container_of);
	tcase_add_test(tc, test_str_helpers);
	tcase_add_test(tc, test_xasprintf);
	tcase_add_test_raise_signal(tc, test_bug_on_aborts, 6);
	tcase_add_exit_test(tc, test_die_exits_1, 1);
	suite_add_tcase(s, tc);
	return s;
}
