/* SPDX-License-Identifier: Apache-2.0 */
/* log_test.c - unit tests for log.c: levels, logfmt lines, log_quote */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/log.h"
#include "suites.h"

/* Lines are captured in memory; every test starts from the defaults. */
static FILE *cap;
static char *cap_text;
static size_t cap_len;

static void setup(void)
{
	cap_text = NULL;
	cap = open_memstream(&cap_text, &cap_len);
	ck_assert_ptr_nonnull(cap);
	log_set_output(cap);
	log_set_level(LOG_INFO);
	log_set_component(NULL);
}

static void teardown(void)
{
	log_set_output(NULL);
	log_set_component(NULL);
	log_set_level(LOG_INFO);
	if (cap)
		fclose(cap);
	cap = NULL;
	free(cap_text);
	cap_text = NULL;
}

/* captured - everything logged so far, NUL-terminated */
static const char *captured(void)
{
	fflush(cap);
	return cap_text ? cap_text : "";
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static void assert_matches(const char *s, const char *pattern)
{
	regex_t re;

	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&re, s, 0, NULL, 0) == 0,
		      "\"%s\" does not match /%s/", s, pattern);
	regfree(&re);
}

START_TEST(test_level_parse)
{
	static const struct {
		const char *in;
		enum log_level want;
	} good[] = {
		{ "error", LOG_ERROR }, { "warn", LOG_WARN },
		{ "warning", LOG_WARN }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG }, { "trace", LOG_TRACE },
		{ "INFO", LOG_INFO },	{ "Warning", LOG_WARN },
	};
	static const char *const bad[] = {
		"", "inf", "infos", "warnings", "fatal", " info", "info ", "0",
	};
	enum log_level l;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		l = (enum log_level)-1;
		ck_assert_msg(log_level_parse(good[i].in, &l) == 0, "%s",
			      good[i].in);
		ck_assert_int_eq(l, good[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		l = LOG_TRACE;
		ck_assert_msg(log_level_parse(bad[i], &l) == -EINVAL, "\"%s\"",
			      bad[i]);
		ck_assert_int_eq(l, LOG_TRACE); /* untouched on error */
	}
}
END_TEST

START_TEST(test_level_name)
{
	ck_assert_str_eq(log_level_name(LOG_ERROR), "error");
	ck_assert_str_eq(log_level_name(LOG_WARN), "warn");
	ck_assert_str_eq(log_level_name(LOG_INFO), "info");
	ck_assert_str_eq(log_level_name(LOG_DEBUG), "debug");
	ck_assert_str_eq(log_level_name(LOG_TRACE), "trace");
	ck_assert_str_eq(log_level_name((enum log_level)42), "unknown");
	ck_assert_str_eq(log_level_name((enum log_level)-1), "unknown");
}
END_TEST

START_TEST(test_line_shape)
{
	log_set_component("proxy");
	log_info("listening", "addr=%s workers=%d", "0.0.0.0:4143", 2);
	assert_matches(captured(),
		       "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
		       "[0-9]{2}\\.[0-9]{3}Z level=info component=proxy "
		       "msg=\"listening\" addr=0\\.0\\.0\\.0:4143 workers=2\n$");
}
END_TEST

START_TEST(test_line_without_component_or_kv)
{
	log_warn("disk almost full", "");
	log_error("gone", NULL);
	assert_matches(captured(), "^ts=[^ ]+ level=warn msg=\"disk almost full\"\n"
				   "ts=[^ ]+ level=error msg=\"gone\"\n$");
	ck_assert_ptr_null(strstr(captured(), "component="));
}
END_TEST

START_TEST(test_line_msg_escaped)
{
	log_info("say \"hi\"\nthen\\leave", "peer=%s", "1.2.3.4:5");
	/* one event, one line: the newline in the message is escaped */
	ck_assert_uint_eq(count_char(captured(), '\n'), 1);
	ck_assert_ptr_nonnull(
		strstr(captured(),
		       " msg=\"say \\\"hi\\\"\\nthen\\\\leave\" peer=1.2.3.4:5\n"));
}
END_TEST

START_TEST(test_line_kv_quoted_value)
{
	char q[64];

	log_info("request", "path=%s", log_quote(q, sizeof(q), "/a b\"c"));
	ck_assert_ptr_nonnull(
		strstr(captured(), " msg=\"request\" path=\"/a b\\\"c\"\n"));
}
END_TEST

START_TEST(test_line_level_names)
{
	log_set_level(LOG_TRACE);
	log_error("e", "");
	log_warn("w", "");
	log_info("i", "");
	log_debug("d", "");
	log_trace("t", "");
	assert_matches(captured(), "^ts=[^ ]+ level=error msg=\"e\"\n"
				   "ts=[^ ]+ level=warn msg=\"w\"\n"
				   "ts=[^ ]+ level=info msg=\"i\"\n"
				   "ts=[^ ]+ level=debug msg=\"d\"\n"
				   "ts=[^ ]+ level=trace msg=\"t\"\n$");
}
END_TEST

START_TEST(test_levels_filtered)
{
	int evaluated = 0;

	log_set_level(LOG_WARN);
	ck_assert(log_enabled(LOG_ERROR));
	ck_assert(log_enabled(LOG_WARN));
	ck_assert(!log_enabled(LOG_INFO));
	log_info("dropped", "n=%d", ++evaluated);
	log_debug("dropped", "n=%d", ++evaluated);
	log_trace("dropped", "n=%d", ++evaluated);
	/* disabled levels skip the call and its arguments */
	ck_assert_int_eq(evaluated, 0);
	ck_assert_str_eq(captured(), "");
	log_warn("kept", "n=%d", ++evaluated);
	log_error("kept", "n=%d", ++evaluated);
	ck_assert_int_eq(evaluated, 2);
	ck_assert_uint_eq(count_char(captured(), '\n'), 2);
	ck_assert_ptr_null(strstr(captured(), "dropped"));

	log_set_level(LOG_ERROR);
	log_warn("dropped", "");
	ck_assert_uint_eq(count_char(captured(), '\n'), 2);
}
END_TEST

START_TEST(test_long_kv_is_one_truncated_line)
{
	char *big = malloc(10000);

	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_info("big", "v=%s", big);
	ck_assert_uint_eq(count_char(captured(), '\n'), 1);
	ck_assert_uint_le(strlen(captured()), 4096);
	ck_assert(captured()[strlen(captured()) - 1] == '\n');
	ck_assert_ptr_nonnull(strstr(captured(), " v=xxxx"));
	free(big);
}
END_TEST

START_TEST(test_long_msg_truncated)
{
	char *big = malloc(5000);

	memset(big, 'm', 4999);
	big[4999] = '\0';
	log_info(big, "after=%d", 1);
	ck_assert_uint_eq(count_char(captured(), '\n'), 1);
	ck_assert_ptr_nonnull(strstr(captured(), "mmm...\" after=1\n"));
	free(big);
}
END_TEST

START_TEST(test_quote_plain_unchanged)
{
	static const char *const plain[] = {
		"proxy", "0.0.0.0:4143", "a/b-c_d.e", "x", "/healthz?x&y",
	};
	char q[64];

	for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
		ck_assert_str_eq(log_quote(q, sizeof(q), plain[i]), plain[i]);
	/* returns buf */
	ck_assert_ptr_eq(log_quote(q, sizeof(q), "x"), q);
}
END_TEST

START_TEST(test_quote_escapes)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "\"\"" },
		{ "a b", "\"a b\"" },
		{ "a=b", "\"a=b\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "C:\\dir", "\"C:\\\\dir\"" },
		{ "line1\nline2", "\"line1\\nline2\"" },
		{ "a\tb", "\"a\\tb\"" },
		{ "\x01", "\"\\x01\"" },
		{ "bell\a", "\"bell\\x07\"" },
		{ "cr\r", "\"cr\\x0d\"" },
		{ "del\x7f", "\"del\\x7f\"" },
		{ "\x1b[31m", "\"\\x1b[31m\"" },
		/* bytes >= 0x80 (UTF-8) are kept, but the value is quoted */
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	};
	char q[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ck_assert_str_eq(log_quote(q, sizeof(q), cases[i].in),
				 cases[i].want);
}
END_TEST

START_TEST(test_quote_truncates)
{
	char q[16], big[100];

	/* plain and too long: cut, with "..." at the end */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_str_eq(log_quote(q, sizeof(q), big), "aaaaaaaaaaaa...");

	/* quoted and too long: cut inside the quotes */
	big[5] = ' ';
	log_quote(q, sizeof(q), big);
	ck_assert_uint_le(strlen(q), sizeof(q) - 1);
	ck_assert_str_eq(q, "\"aaaaa aaaa...\"");

	/* an escape is never cut in half */
	memset(big, '"', sizeof(big) - 1);
	log_quote(q, sizeof(q), big);
	ck_assert_str_eq(q, "\"\\\"\\\"\\\"\\\"\\\"...\"");
	memset(big, '\x01', sizeof(big) - 1);
	log_quote(q, sizeof(q), big);
	ck_assert_str_eq(q, "\"\\x01\\x01...\"");
}
END_TEST

START_TEST(test_quote_exact_fit)
{
	char q[8];

	/* what fits is never truncated */
	ck_assert_str_eq(log_quote(q, 8, "a b c"), "\"a b c\"");
	ck_assert_str_eq(log_quote(q, 8, "a\"b"), "\"a\\\"b\"");
	ck_assert_str_eq(log_quote(q, 8, "abcdefg"), "abcdefg");
	ck_assert_str_eq(log_quote(q, 8, "abcdefgh"), "abcd...");
	/* too small for anything useful: empty, never an overflow */
	q[0] = 'x';
	ck_assert_str_eq(log_quote(q, 7, "a"), "");
	ck_assert_str_eq(log_quote(q, 8, "a b c d"), "\"a ...\"");
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("levels");

	tcase_add_test(tc, test_level_parse);
	tcase_add_test(tc, test_level_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_line_shape);
	tcase_add_test(tc, test_line_without_component_or_kv);
	tcase_add_test(tc, test_line_msg_escaped);
	tcase_add_test(tc, test_line_kv_quoted_value);
	tcase_add_test(tc, test_line_level_names);
	tcase_add_test(tc, test_levels_filtered);
	tcase_add_test(tc, test_long_kv_is_one_truncated_line);
	tcase_add_test(tc, test_long_msg_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("quote");
	tcase_add_test(tc, test_quote_plain_unchanged);
	tcase_add_test(tc, test_quote_escapes);
	tcase_add_test(tc, test_quote_truncates);
	tcase_add_test(tc, test_quote_exact_fit);
	suite_add_tcase(s, tc);
	return s;
}
