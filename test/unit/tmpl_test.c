/* SPDX-License-Identifier: Apache-2.0 */
/* tmpl_test.c - unit tests for tmpl.c */
#include <errno.h>
#include <string.h>

#include "conduit/tmpl.h"
#include "suites.h"

static char err[256];

static const char *render(const char *t, const struct tmpl_var *v, size_t n,
			  struct buf *out)
{
	buf_clear(out);
	ck_assert_msg(tmpl_render(t, strlen(t), v, n, out, err, sizeof(err)) == 0,
		      "%s", err);
	return buf_cstr(out);
}

START_TEST(test_substitution)
{
	static const struct tmpl_var v[] = {
		{ "namespace", "conduit" },
		{ "replicas", "3" },
		{ "empty", "" },
	};
	struct buf out;

	buf_init(&out, 0);
	ck_assert_str_eq(render("name: {{namespace}}\nn: {{replicas}}{{empty}}\n",
				v, 3, &out),
			 "name: conduit\nn: 3\n");
	ck_assert_str_eq(render("no placeholders", v, 3, &out), "no placeholders");
	ck_assert_str_eq(render("a-{{namespace}}-{{namespace}}", v, 3, &out),
			 "a-conduit-conduit");
	/* a lone brace is text */
	ck_assert_str_eq(render("x: {a} }} {", v, 3, &out), "x: {a} }} {");
	buf_release(&out);
}
END_TEST

START_TEST(test_multiline_keeps_column)
{
	static const struct tmpl_var v[] = {
		{ "pem", "-----BEGIN X-----\nAAAA\n-----END X-----\n" },
	};
	struct buf out;

	buf_init(&out, 0);
	ck_assert_str_eq(render("data:\n  ca.crt: |\n    {{pem}}\nnext: 1\n", v, 1, &out),
			 "data:\n  ca.crt: |\n    -----BEGIN X-----\n    AAAA\n"
			 "    -----END X-----\nnext: 1\n");
	buf_release(&out);
}
END_TEST

START_TEST(test_errors)
{
	static const struct tmpl_var v[] = { { "a", "1" } };
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(tmpl_render("x\ny: {{b}}\n", 10, v, 1, &out, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 2: unknown placeholder {{b}}");
	ck_assert_int_eq(tmpl_render("x: {{a\n}}", 9, v, 1, &out, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "line 1: unterminated placeholder");
	ck_assert_int_eq(tmpl_render("{{a", 3, v, 1, &out, err, sizeof(err)), -EINVAL);
	buf_release(&out);
	/* a bounded buffer reports -ENOBUFS */
	buf_init(&out, 4);
	ck_assert_int_eq(tmpl_render("{{a}}{{a}}{{a}}{{a}}{{a}}", 25, v, 1, &out, err,
				     sizeof(err)), -ENOBUFS);
	buf_release(&out);
}
END_TEST

Suite *tmpl_suite(void)
{
	Suite *s = suite_create("tmpl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_substitution);
	tcase_add_test(tc, test_multiline_keeps_column);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return s;
}
