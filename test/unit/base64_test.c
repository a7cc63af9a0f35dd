/* SPDX-License-Identifier: Apache-2.0 */
/* base64_test.c - unit tests for base64.c (RFC 4648 test vectors) */
#include <errno.h>
#include <string.h>

#include "conduit/base64.h"
#include "suites.h"

static const char *const vec[][2] = {
	{ "", "" },	       { "f", "Zg==" },		{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },     { "foob", "Zm9vYg==" },	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(test_vectors)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_clear(&b);
		ck_assert_int_eq(base64_encode(vec[i][0], strlen(vec[i][0]), &b), 0);
		ck_assert_str_eq(buf_cstr(&b), vec[i][1]);
		buf_clear(&b);
		ck_assert_int_eq(base64_decode(vec[i][1], strlen(vec[i][1]), &b), 0);
		ck_assert_str_eq(buf_cstr(&b), vec[i][0]);
	}
	buf_release(&b);
}
END_TEST

START_TEST(test_binary_round_trip)
{
	unsigned char data[1000];
	struct buf e, d;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	buf_init(&e, 0);
	buf_init(&d, 0);
	ck_assert_int_eq(base64_encode(data, sizeof(data), &e), 0);
	ck_assert_uint_eq(buf_len(&e), 1336);
	ck_assert_int_eq(base64_decode((char *)buf_head(&e), buf_len(&e), &d), 0);
	ck_assert_uint_eq(buf_len(&d), sizeof(data));
	ck_assert_mem_eq(buf_head(&d), data, sizeof(data));
	buf_release(&e);
	buf_release(&d);
}
END_TEST

START_TEST(test_garbage)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(base64_decode("Zm9v!", 5, &b), -EINVAL);
	ck_assert_int_eq(base64_decode("Zg=", 3, &b), -EINVAL);
	ck_assert_int_eq(base64_decode("=Zg=", 4, &b), -EINVAL);
	buf_release(&b);
}
END_TEST

Suite *base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_binary_round_trip);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	return s;
}
