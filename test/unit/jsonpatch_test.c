/* SPDX-License-Identifier: Apache-2.0 */
/* jsonpatch_test.c - JSON Patch: diffs that apply back, RFC 6902's examples, refusals */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/buf.h"
#include "conduit/jsonpatch.h"
#include "suites.h"

static struct json *J(const char *text)
{
	char err[256];
	struct json *j = json_parse(text, strlen(text), err, sizeof(err));

	ck_assert_msg(j != NULL, "%s: %s", text, err);
	return j;
}

static void assert_json(const struct json *j, const char *want)
{
	struct json *w = J(want);
	char *got = json_print(j, false);

	ck_assert_msg(json_equal(j, w), "got %s, want %s", got, want);
	free(got);
	json_free(w);
}

/* diff a into b, check the patch text, apply it to a: b */
static void roundtrip(const char *a, const char *b, const char *want_patch)
{
	struct json *ja = J(a), *jb = J(b), *p = jsonpatch_diff(ja, jb);
	char err[256];

	ck_assert_ptr_nonnull(p);
	if (want_patch)
		assert_json(p, want_patch);
	ck_assert_msg(jsonpatch_apply(&ja, p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(json_equal(ja, jb), "%s -> %s does not apply back", a, b);
	json_free(ja);
	json_free(jb);
	json_free(p);
}

START_TEST(test_diff)
{
	roundtrip("{\"a\":1}", "{\"a\":1}", "[]");
	roundtrip("{\"a\":1}", "{\"a\":2}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]");
	roundtrip("{\"a\":1,\"b\":2}", "{\"b\":2,\"c\":[3]}",
		  "[{\"op\":\"remove\",\"path\":\"/a\"},"
		  "{\"op\":\"add\",\"path\":\"/c\",\"value\":[3]}]");
	/* keys with / and ~ are escaped */
	roundtrip("{\"m\":{}}", "{\"m\":{\"conduit.io/x\":\"1\",\"a~b\":2}}",
		  "[{\"op\":\"add\",\"path\":\"/m/conduit.io~1x\",\"value\":\"1\"},"
		  "{\"op\":\"add\",\"path\":\"/m/a~0b\",\"value\":2}]");
	/* in front of a list: adds at 0 and 1, the rest kept */
	roundtrip("{\"l\":[{\"n\":\"app\"}]}",
		  "{\"l\":[{\"n\":\"init\"},{\"n\":\"proxy\"},{\"n\":\"app\"}]}",
		  "[{\"op\":\"add\",\"path\":\"/l/0\",\"value\":{\"n\":\"init\"}},"
		  "{\"op\":\"add\",\"path\":\"/l/1\",\"value\":{\"n\":\"proxy\"}}]");
	/* in the middle, at the end, removed from the middle */
	roundtrip("[1,2,5]", "[1,2,3,4,5]",
		  "[{\"op\":\"add\",\"path\":\"/2\",\"value\":3},"
		  "{\"op\":\"add\",\"path\":\"/3\",\"value\":4}]");
	roundtrip("[1]", "[1,2]", "[{\"op\":\"add\",\"path\":\"/1\",\"value\":2}]");
	roundtrip("[1,2,3,4]", "[1,4]",
		  "[{\"op\":\"remove\",\"path\":\"/1\"},{\"op\":\"remove\",\"path\":\"/1\"}]");
	/* a changed element is diffed inside */
	roundtrip("[{\"a\":1,\"b\":1}]", "[{\"a\":1,\"b\":2}]",
		  "[{\"op\":\"replace\",\"path\":\"/0/b\",\"value\":2}]");
	/* types change: replaced; the root too */
	roundtrip("{\"a\":[1]}", "{\"a\":{\"x\":1}}", NULL);
	roundtrip("[1,2]", "{\"x\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"x\":1}}]");
	roundtrip("null", "\"s\"", NULL);
	roundtrip("[[1,2],[3]]", "[[3],[1,2],[]]", NULL);
	roundtrip("{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}}}", "{\"a\":{\"b\":{\"c\":[true,{\"d\":0}],\"e\":1}}}", NULL);
}
END_TEST

/* apply patch to doc: want (a document) or an error starting with want */
static void apply(const char *doc, const char *patch, int rc, const char *want)
{
	struct json *d = J(doc), *p = J(patch), *orig = json_copy(d);
	char err[256] = "";
	int r = jsonpatch_apply(&d, p, err, sizeof(err));

	ck_assert_msg(r == rc, "%s on %s: %d (%s)", patch, doc, r, err);
	if (rc == 0) {
		assert_json(d, want);
	} else {
		ck_assert_msg(str_has_prefix(err, want), "err %s, want %s", err, want);
		/* all or nothing */
		ck_assert(json_equal(d, orig));
	}
	json_free(d);
	json_free(p);
	json_free(orig);
}

START_TEST(test_apply)
{
	/* RFC 6902 appendix A */
	apply("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]", 0,
	      "{\"baz\":\"qux\",\"foo\":\"bar\"}");
	apply("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]", 0,
	      "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
	apply("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]", 0,
	      "{\"foo\":\"bar\"}");
	apply("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]", 0,
	      "{\"foo\":[\"bar\",\"baz\"]}");
	apply("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]", 0,
	      "{\"baz\":\"boo\",\"foo\":\"bar\"}");
	apply("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
	      "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]", 0,
	      "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");
	apply("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
	      "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]", 0,
	      "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
	apply("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]", 0,
	      "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}");
	apply("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]", 0,
	      "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");
	apply("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10},"
	      "{\"op\":\"copy\",\"from\":\"/~1\",\"path\":\"/x\"}]", 0,
	      "{\"/\":9,\"~1\":10,\"x\":9}");
	apply("[1]", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{}}]", 0, "{}");

	/* refusals, each naming the operation, and nothing applied */
	apply("{}", "{}", -EINVAL, "a JSON Patch is an array");
	apply("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":1},{\"op\":\"remove\",\"path\":\"/c\"}]",
	      -EINVAL, "operation 1 (remove /c): no such member");
	apply("{}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", -EINVAL,
	      "operation 0 (add /a/b): the parent does not exist");
	apply("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", -EINVAL,
	      "operation 0 (add a): a JSON Pointer starts with '/'");
	apply("{}", "[{\"op\":\"add\",\"path\":\"/~2\",\"value\":1}]", -EINVAL,
	      "operation 0 (add /~2): '~' not followed by 0 or 1");
	apply("[1]", "[{\"op\":\"add\",\"path\":\"/5\",\"value\":1}]", -EINVAL,
	      "operation 0 (add /5): array index out of range");
	apply("[1]", "[{\"op\":\"add\",\"path\":\"/01\",\"value\":1}]", -EINVAL,
	      "operation 0 (add /01): not a member name or array index");
	apply("[1]", "[{\"op\":\"replace\",\"path\":\"/1\",\"value\":1}]", -EINVAL,
	      "operation 0 (replace /1): no such member or element to replace");
	apply("{}", "[{\"op\":\"jump\",\"path\":\"/a\"}]", -EINVAL, "operation 0 (jump /a): unknown op");
	apply("{}", "[{\"path\":\"/a\"}]", -EINVAL, "operation 0 (? /a): \"op\" and \"path\"");
	apply("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", -EINVAL, "operation 0 (add /a): \"value\" is required");
	apply("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", -EINVAL,
	      "operation 0 (test /a): the value differs");
	apply("{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]", -EINVAL,
	      "operation 0 (move /a/b): a value cannot move into itself");
	apply("{}", "[{\"op\":\"remove\",\"path\":\"\"}]", -EINVAL, "operation 0 (remove ): the root");
	apply("{}", "[7]", -EINVAL, "operation 0 (? ?): not an object");
}
END_TEST

START_TEST(test_escape)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(jsonpatch_pointer_escape(&b, "a/b~c"), 0);
	ck_assert_int_eq(jsonpatch_pointer_escape(&b, ""), 0);
	buf_cstr(&b);
	ck_assert_str_eq((char *)buf_head(&b), "/a~1b~0c/");
	buf_release(&b);
}
END_TEST

Suite *jsonpatch_suite(void)
{
	Suite *s = suite_create("jsonpatch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_apply);
	tcase_add_test(tc, test_escape);
	suite_add_tcase(s, tc);
	return s;
}
