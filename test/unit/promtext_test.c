/* SPDX-License-Identifier: Apache-2.0 */
/* promtext_test.c - unit tests for promtext.c */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conduit/promtext.h"
#include "suites.h"

static char seen[4096];

static int collect(void *arg, const struct promtext_sample *s)
{
	size_t n = strlen(seen);

	(void)arg;
	n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s", s->name);
	for (size_t i = 0; i < s->nlabels; i++)
		n += (size_t)snprintf(seen + n, sizeof(seen) - n, "|%s=%s",
				      s->labels[i].name, s->labels[i].value);
	snprintf(seen + n, sizeof(seen) - n, " %g\n", s->value);
	return 0;
}

static int parse(const char *text, char *err, size_t errlen)
{
	seen[0] = 0;
	return promtext_parse(text, strlen(text), collect, NULL, err, errlen);
}

START_TEST(test_good)
{
	char err[128];
	const char *text =
		"# HELP request_total Total requests\n"
		"# TYPE request_total counter\n"
		"request_total{direction=\"inbound\",authority=\"a.b:80\"} 12\n"
		"response_latency_ms_bucket{le=\"+Inf\",x=\"q\\\"uote\\\\ \\nnl\"} 3 1700000000000\r\n"
		"  process_start_time_seconds 1.7e9\n"
		"up{} +Inf\n"
		"nan_metric NaN\n"
		"neg{a=\"1\",} -Inf\n"
		"\n"
		"last 5";

	ck_assert_int_eq(parse(text, err, sizeof(err)), 0);
	ck_assert_str_eq(seen,
			 "request_total|direction=inbound|authority=a.b:80 12\n"
			 "response_latency_ms_bucket|le=+Inf|x=q\"uote\\ \nnl 3\n"
			 "process_start_time_seconds 1.7e+09\n"
			 "up inf\n"
			 "nan_metric nan\n"
			 "neg|a=1 -inf\n"
			 "last 5\n");
}
END_TEST

START_TEST(test_bad)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "1abc 1", "line 1: a metric name must start" },
		{ "a{b=\"c\" 1", "line 1: labels must be separated" },
		{ "a{b=c} 1", "line 1: a label value must be quoted" },
		{ "a{b=\"c} 1", "line 1: an unterminated label value" },
		{ "a{b=\"\\q\"} 1", "line 1: a bad escape" },
		{ "ok 1\na{1=\"x\"} 1", "line 2: a label name must start" },
		{ "a one", "line 1: the value is not a number" },
		{ "a 0x10", "line 1: the value is not a number" },
		{ "a infinity", "line 1: the value is not a number" },
		{ "a 1 2 3", "line 1: trailing text" },
		{ "a 1 x", "line 1: the timestamp is not an integer" },
		{ "a-b 1", "line 1: a bad character" },
		{ "a", "line 1: the value is not a number" },
	};
	char err[128];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		ck_assert_int_eq(parse(bad[i].text, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, bad[i].why), "%s: got \"%s\"",
			      bad[i].text, err);
	}
	/* a NUL byte, and a line over the limit */
	ck_assert_int_eq(promtext_parse("a 1\nb\0 2\n", 9, collect, NULL, err,
					sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line 2: a NUL byte"));
	{
		static char big[PROMTEXT_MAX_LINE + 16];

		memset(big, 'a', sizeof(big) - 1);
		ck_assert_int_eq(parse(big, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "longer than"));
	}
	/* 33 labels */
	{
		char t[1024] = "m{";

		for (int i = 0; i < 33; i++)
			snprintf(t + strlen(t), sizeof(t) - strlen(t),
				 "l%d=\"v\",", i);
		strcat(t, "} 1");
		ck_assert_int_eq(parse(t, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "too many labels"));
	}
}
END_TEST

static int stop_at_two(void *arg, const struct promtext_sample *s)
{
	int *n = arg;

	(void)s;
	return ++*n == 2 ? 42 : 0;
}

START_TEST(test_stop_and_lookup)
{
	char err[64];
	int n = 0;
	const char *t = "a 1\nb 2\nc 3\n";

	ck_assert_int_eq(promtext_parse(t, strlen(t), stop_at_two, &n, err,
					sizeof(err)),
			 42);
	ck_assert_int_eq(n, 2);
}
END_TEST

Suite *promtext_suite(void)
{
	Suite *s = suite_create("promtext");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_stop_and_lookup);
	suite_add_tcase(s, tc);
	return s;
}
