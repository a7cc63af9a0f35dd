/* SPDX-License-Identifier: Apache-2.0 */
/* json_test.c - unit tests for json.c: parse errors, builders, readers */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/json.h"
#include "suites.h"

static struct json *parse_ok(const char *text)
{
	char err[128] = "";
	struct json *j = json_parse(text, strlen(text), err, sizeof(err));

	ck_assert_msg(j != NULL, "%s: %s", text, err);
	return j;
}

static double number(const struct json *j)
{
	double v = NAN;

	ck_assert(json_number(j, &v));
	return v;
}

START_TEST(test_parse_document)
{
	static const char doc[] =
		"{\n"
		"  \"name\": \"web\",\n"
		"  \"replicas\": 3,\n"
		"  \"ratio\": -0.25e1,\n"
		"  \"tls\": true,\n"
		"  \"debug\": false,\n"
		"  \"owner\": null,\n"
		"  \"ports\": [80, 443],\n"
		"  \"labels\": {\"app\": \"web\", \"tier\": \"front\"},\n"
		"  \"note\": \"caf\\u00e9 \\\"quoted\\\"\\n\"\n"
		"}\n";
	struct json *j = parse_ok(doc), *ports, *labels;
	bool b;

	ck_assert_int_eq(json_type(j), JSON_OBJECT);
	ck_assert_uint_eq(json_count(j), 9);
	ck_assert_str_eq(json_string(json_get(j, "name")), "web");
	ck_assert_double_eq(number(json_get(j, "replicas")), 3);
	ck_assert_double_eq(number(json_get(j, "ratio")), -2.5);
	ck_assert(json_bool(json_get(j, "tls"), &b) && b);
	ck_assert(json_bool(json_get(j, "debug"), &b) && !b);
	ck_assert_int_eq(json_type(json_get(j, "owner")), JSON_NULL);
	ports = json_get(j, "ports");
	ck_assert_int_eq(json_type(ports), JSON_ARRAY);
	ck_assert_uint_eq(json_count(ports), 2);
	ck_assert_double_eq(number(json_at(ports, 1)), 443);
	labels = json_get(j, "labels");
	ck_assert_str_eq(json_string(json_get(labels, "tier")), "front");
	/* escapes are decoded, \u00e9 to UTF-8 */
	ck_assert_str_eq(json_string(json_get(j, "note")),
			 "caf\xc3\xa9 \"quoted\"\n");
	json_free(j);
}
END_TEST

START_TEST(test_parse_scalars)
{
	struct json *j;
	double v;
	bool b;

	j = parse_ok("42");
	ck_assert(json_number(j, &v) && v == 42);
	json_free(j);
	j = parse_ok(" \"s\" ");
	ck_assert_str_eq(json_string(j), "s");
	json_free(j);
	j = parse_ok("true");
	ck_assert(json_bool(j, &b) && b);
	json_free(j);
	j = parse_ok("null");
	ck_assert_int_eq(json_type(j), JSON_NULL);
	json_free(j);
	j = parse_ok("[]");
	ck_assert_uint_eq(json_count(j), 0);
	ck_assert_ptr_null(json_child(j));
	json_free(j);
	j = parse_ok("\t{ }\r\n");
	ck_assert_int_eq(json_type(j), JSON_OBJECT);
	json_free(j);
}
END_TEST

START_TEST(test_parse_needs_no_nul)
{
	/* only len bytes are read: what follows is not the document's */
	static const char text[] = "[1,2]garbage";
	char err[128];
	struct json *j = json_parse(text, 5, err, sizeof(err));

	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_count(j), 2);
	json_free(j);

	/* a buffer with no terminator at all */
	{
		char *buf = malloc(4);
		memcpy(buf, "true", 4);
		j = json_parse(buf, 4, err, sizeof(err));
		ck_assert_int_eq(json_type(j), JSON_BOOL);
		json_free(j);
		free(buf);
	}
}
END_TEST

START_TEST(test_parse_errors)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		const char *err;
	} cases[] = {
		{ "", 0, "line 1, column 1: unexpected end of input" },
		{ "   \n  ", 0, "line 2, column 3: unexpected end of input" },
		{ "{\"a\":", 0, "line 1, column 6: unexpected end of input" },
		{ "{\"a\": 1", 0, "line 1, column 8: unexpected end of input" },
		{ "[1,\n2,\n", 0, "line 3, column 1: unexpected end of input" },
		{ "[", 0, "line 1, column 2: unexpected end of input" },
		{ "[1,]", 0, "line 1, column 4: invalid JSON" },
		{ "{\"a\" 1}", 0, "line 1, column 6: invalid JSON" },
		{ "{\n  \"a\": 1,\n  \"b\": x\n}", 0,
		  "line 3, column 8: invalid JSON" },
		{ "{\"a\":1} x", 0,
		  "line 1, column 9: data after the JSON value" },
		{ "{}\n\n  {}", 0,
		  "line 3, column 3: data after the JSON value" },
		{ "1 2", 0, "line 1, column 3: data after the JSON value" },
		{ "{\"a\":\0}", 7, "line 1, column 6: NUL byte in JSON text" },
		{ "[1,\n\0]", 6, "line 2, column 1: NUL byte in JSON text" },
		{ "\0", 1, "line 1, column 1: NUL byte in JSON text" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = cases[i].len ? cases[i].len :
					    strlen(cases[i].text);
		char err[128] = "";
		struct json *j = json_parse(cases[i].text, len, err,
					    sizeof(err));

		ck_assert_msg(j == NULL, "case %zu parsed", i);
		ck_assert_msg(strcmp(err, cases[i].err) == 0,
			      "case %zu: \"%s\", want \"%s\"", i, err,
			      cases[i].err);
	}
}
END_TEST

START_TEST(test_parse_errors_located)
{
	/* malformed values: the place is what matters, with the line and
	 * column format */
	static const char *const bad[] = {
		"tru", "nul", "\"abc", "[1 2]", "{\"a\":}", "-", "01x",
		"[\"a\" \"b\"]", "{1:2}", "{'a': 1}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char err[128] = "";
		size_t line, col;

		ck_assert_ptr_null(json_parse(bad[i], strlen(bad[i]), err,
					      sizeof(err)));
		ck_assert_msg(sscanf(err, "line %zu, column %zu: ", &line,
				     &col) == 2,
			      "%s: %s", bad[i], err);
		ck_assert_uint_eq(line, 1);
		ck_assert_uint_le(col, strlen(bad[i]) + 1);
	}
}
END_TEST

START_TEST(test_parse_deep_nesting)
{
	enum { LIMIT = 1000 };
	char *text = malloc(2 * (LIMIT + 1));
	char err[128] = "";
	struct json *j;

	/* cJSON's limit: 1000 levels parse, 1001 do not */
	memset(text, '[', LIMIT);
	memset(text + LIMIT, ']', LIMIT);
	j = json_parse(text, 2 * LIMIT, err, sizeof(err));
	ck_assert_msg(j != NULL, "%s", err);
	json_free(j);

	memset(text, '[', LIMIT + 1);
	memset(text + LIMIT + 1, ']', LIMIT + 1);
	ck_assert_ptr_null(json_parse(text, 2 * (LIMIT + 1), err,
				      sizeof(err)));
	ck_assert_str_eq(err, "line 1, column 1001: invalid JSON");
	free(text);
}
END_TEST

START_TEST(test_parse_too_big)
{
	char err[128] = "", tiny[] = "[]";

	/* refused on its length alone, before a byte is read */
	ck_assert_ptr_null(json_parse(tiny, (size_t)JSON_MAX_INPUT + 1, err,
				      sizeof(err)));
	ck_assert_str_eq(err, "input of 67108865 bytes is larger than the "
			      "67108864 limit");
}
END_TEST

START_TEST(test_parse_no_err_buffer)
{
	ck_assert_ptr_null(json_parse("[", 1, NULL, 0));
	ck_assert_ptr_null(json_parse("[]x", 3, NULL, 0));
	ck_assert_ptr_null(json_parse("\0", 1, NULL, 0));
}
END_TEST

START_TEST(test_build_print_compact)
{
	struct json *o = json_new_object(), *tags = json_new_array();
	char *s;

	ck_assert_int_eq(json_set_string(o, "name", "conduit"), 0);
	ck_assert_int_eq(json_set_number(o, "port", 4143), 0);
	ck_assert_int_eq(json_set_bool(o, "tls", true), 0);
	ck_assert_int_eq(json_push(tags, json_new_string("a")), 0);
	ck_assert_int_eq(json_push(tags, json_new_number(1.5)), 0);
	ck_assert_int_eq(json_push(tags, json_new_bool(false)), 0);
	ck_assert_int_eq(json_set(o, "tags", tags), 0);
	ck_assert_int_eq(json_set(o, "none", json_new_null()), 0);
	ck_assert_int_eq(json_set(o, "empty", json_new_object()), 0);
	ck_assert_int_eq(json_set_string(o, "esc", "a\"b\\c\nd\te"), 0);
	s = json_print(o, false);
	ck_assert_str_eq(s, "{\"name\":\"conduit\",\"port\":4143,\"tls\":true,"
			    "\"tags\":[\"a\",1.5,false],\"none\":null,"
			    "\"empty\":{},\"esc\":\"a\\\"b\\\\c\\nd\\te\"}");
	free(s);
	json_free(o);
}
END_TEST

START_TEST(test_build_print_pretty)
{
	struct json *o = json_new_object(), *meta = json_new_object();
	struct json *tags = json_new_array();
	char *s;

	json_set_string(o, "name", "conduit");
	json_set_number(o, "port", 4143);
	json_push(tags, json_new_string("a"));
	json_push(tags, json_new_string("b"));
	json_set(o, "tags", tags);
	json_set_string(meta, "tab", "x\ty");
	json_set_bool(meta, "ok", true);
	json_set(o, "meta", meta);
	json_set(o, "none", json_new_null());
	s = json_print(o, true);
	/* two-space indents, "key": value, and a tab inside a string stays
	 * an escape */
	ck_assert_str_eq(s, "{\n"
			    "  \"name\": \"conduit\",\n"
			    "  \"port\": 4143,\n"
			    "  \"tags\": [\"a\", \"b\"],\n"
			    "  \"meta\": {\n"
			    "    \"tab\": \"x\\ty\",\n"
			    "    \"ok\": true\n"
			    "  },\n"
			    "  \"none\": null\n"
			    "}");
	ck_assert_ptr_null(strchr(s, '\t'));
	free(s);
	json_free(o);
}
END_TEST

START_TEST(test_print_round_trip)
{
	static const char doc[] =
		"{\"a\":[1,2.5,-3e-07,{\"b\":null}],\"c\":\"\\u0001\\\"\","
		"\"d\":{\"e\":{\"f\":[[],{}]}},\"g\":true}";
	struct json *j = parse_ok(doc), *k;
	char *compact = json_print(j, false), *pretty = json_print(j, true);
	char *again;

	ck_assert_str_eq(compact, doc);
	k = parse_ok(pretty);
	again = json_print(k, false);
	ck_assert_str_eq(again, doc);
	free(compact);
	free(pretty);
	free(again);
	json_free(j);
	json_free(k);
}
END_TEST

START_TEST(test_set_replaces)
{
	struct json *o = json_new_object();
	char *s;

	json_set_number(o, "port", 1);
	json_set_string(o, "name", "x");
	json_set_number(o, "port", 2);
	ck_assert_uint_eq(json_count(o), 2);
	ck_assert_double_eq(number(json_get(o, "port")), 2);
	/* keys are case-sensitive: "Port" is another key */
	json_set_number(o, "Port", 3);
	ck_assert_uint_eq(json_count(o), 3);
	ck_assert_double_eq(number(json_get(o, "port")), 2);
	s = json_print(o, false);
	ck_assert_str_eq(s, "{\"port\":2,\"name\":\"x\",\"Port\":3}");
	free(s);
	json_free(o);
}
END_TEST

START_TEST(test_set_push_wrong_type)
{
	struct json *o = json_new_object(), *a = json_new_array();
	struct json *n = json_new_number(1);

	/* the value is freed even when refused (no leak under ASan) */
	ck_assert_int_eq(json_set(a, "k", json_new_number(1)), -EINVAL);
	ck_assert_int_eq(json_push(o, json_new_number(1)), -EINVAL);
	ck_assert_int_eq(json_set(n, "k", json_new_null()), -EINVAL);
	ck_assert_int_eq(json_push(n, json_new_null()), -EINVAL);
	ck_assert_int_eq(json_set(NULL, "k", json_new_null()), -EINVAL);
	ck_assert_int_eq(json_push(NULL, json_new_null()), -EINVAL);
	ck_assert_int_eq(json_set(o, "k", NULL), -EINVAL);
	ck_assert_int_eq(json_push(a, NULL), -EINVAL);
	ck_assert_int_eq(json_set_string(a, "k", "v"), -EINVAL);
	ck_assert_uint_eq(json_count(o), 0);
	ck_assert_uint_eq(json_count(a), 0);
	json_free(o);
	json_free(a);
	json_free(n);
	json_free(NULL);
}
END_TEST

START_TEST(test_navigation)
{
	struct json *j = parse_ok("{\"a\":1,\"b\":[10,20,30],\"c\":{\"d\":\"e\"}}");
	struct json *b = json_get(j, "b"), *it;
	static const char *const keys[] = { "a", "b", "c" };
	size_t n = 0;

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(json_get(j, "missing"));
	ck_assert_ptr_null(json_get(j, "A"));
	ck_assert_ptr_null(json_get(b, "a")); /* not an object */
	ck_assert_ptr_null(json_get(NULL, "a"));
	ck_assert_double_eq(number(json_at(b, 0)), 10);
	ck_assert_double_eq(number(json_at(b, 2)), 30);
	ck_assert_ptr_null(json_at(b, 3));
	ck_assert_ptr_null(json_at(b, (size_t)1 << 40));
	ck_assert_ptr_null(json_at(j, 0)); /* not an array */
	ck_assert_ptr_null(json_at(NULL, 0));
	ck_assert_uint_eq(json_count(b), 3);
	ck_assert_uint_eq(json_count(j), 3);
	ck_assert_uint_eq(json_count(json_get(j, "a")), 0);
	ck_assert_uint_eq(json_count(NULL), 0);

	/* members in document order, with their keys */
	for (it = json_child(j); it; it = json_next(it)) {
		ck_assert_uint_lt(n, ARRAY_SIZE(keys));
		ck_assert_str_eq(json_key(it), keys[n++]);
	}
	ck_assert_uint_eq(n, 3);
	n = 0;
	for (it = json_child(b); it; it = json_next(it)) {
		ck_assert_ptr_null(json_key(it)); /* array elements: none */
		ck_assert_double_eq(number(it), 10.0 * (double)++n);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_null(json_child(json_get(j, "a")));
	ck_assert_ptr_null(json_child(NULL));
	ck_assert_ptr_null(json_next(NULL));
	ck_assert_ptr_null(json_key(NULL));
	ck_assert_ptr_null(json_key(j));
	ck_assert_str_eq(json_string(json_get(json_get(j, "c"), "d")), "e");
	json_free(j);
}
END_TEST

START_TEST(test_types)
{
	struct json *j = parse_ok("[null,true,1,\"s\",[],{}]");

	ck_assert_int_eq(json_type(json_at(j, 0)), JSON_NULL);
	ck_assert_int_eq(json_type(json_at(j, 1)), JSON_BOOL);
	ck_assert_int_eq(json_type(json_at(j, 2)), JSON_NUMBER);
	ck_assert_int_eq(json_type(json_at(j, 3)), JSON_STRING);
	ck_assert_int_eq(json_type(json_at(j, 4)), JSON_ARRAY);
	ck_assert_int_eq(json_type(json_at(j, 5)), JSON_OBJECT);
	ck_assert_int_eq(json_type(NULL), JSON_INVALID);
	json_free(j);
}
END_TEST

START_TEST(test_readers_wrong_type)
{
	struct json *j = parse_ok("{\"n\":1,\"s\":\"1\",\"b\":true,\"z\":null,"
				  "\"a\":[1],\"o\":{}}");
	static const char *const all[] = { "n", "s", "b", "z", "a", "o" };

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		struct json *v = json_get(j, all[i]);
		double d = 12.5;
		bool b = false;

		ck_assert_ptr_nonnull(v);
		if (strcmp(all[i], "s") != 0)
			ck_assert_ptr_null(json_string(v));
		if (strcmp(all[i], "n") != 0) {
			ck_assert(!json_number(v, &d));
			ck_assert(d == 12.5); /* untouched */
		}
		if (strcmp(all[i], "b") != 0) {
			ck_assert(!json_bool(v, &b));
			ck_assert(!b);
		}
	}
	ck_assert_ptr_null(json_string(NULL));
	ck_assert(!json_number(NULL, &(double){ 0 }));
	ck_assert(!json_bool(NULL, &(bool){ false }));
	json_free(j);
}
END_TEST

Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_parse_document);
	tcase_add_test(tc, test_parse_scalars);
	tcase_add_test(tc, test_parse_needs_no_nul);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_errors_located);
	tcase_add_test(tc, test_parse_deep_nesting);
	tcase_add_test(tc, test_parse_too_big);
	tcase_add_test(tc, test_parse_no_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_build_print_compact);
	tcase_add_test(tc, test_build_print_pretty);
	tcase_add_test(tc, test_print_round_trip);
	tcase_add_test(tc, test_set_replaces);
	tcase_add_test(tc, test_set_push_wrong_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("read");
	tcase_add_test(tc, test_navigation);
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_readers_wrong_type);
	suite_add_tcase(s, tc);
	return s;
}
