/* SPDX-License-Identifier: Apache-2.0 */
/* map_test.c - unit tests for map.c: put, get, replace, delete, grow, walk */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/map.h"
#include "suites.h"

START_TEST(test_put_get_del)
{
	struct map m = MAP_INIT;
	int a = 1, b = 2;

	ck_assert_ptr_null(map_get(&m, "x"));
	ck_assert_ptr_null(map_del(&m, "x"));
	ck_assert_ptr_null(map_put(&m, "x", &a));
	ck_assert_ptr_eq(map_get(&m, "x"), &a);
	ck_assert_ptr_eq(map_put(&m, "x", &b), &a);
	ck_assert_ptr_eq(map_get(&m, "x"), &b);
	ck_assert_uint_eq(map_len(&m), 1);
	ck_assert_ptr_null(map_get(&m, "y"));
	ck_assert_ptr_null(map_get(&m, ""));
	ck_assert_ptr_eq(map_del(&m, "x"), &b);
	ck_assert_uint_eq(map_len(&m), 0);
	ck_assert_ptr_null(map_get(&m, "x"));
	map_release(&m, NULL);
}
END_TEST

/* 10k keys through several doublings: every one found, then deleted while
 * walking, and the walk sees each exactly once */
START_TEST(test_grow_and_walk)
{
	struct map m = MAP_INIT;
	enum { N = 10000 };
	static char seen[N];
	char key[32];
	size_t n = 0;

	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "ns/pod-%ld", i);
		ck_assert_ptr_null(map_put(&m, key, (void *)(i + 1)));
	}
	ck_assert_uint_eq(map_len(&m), N);
	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "ns/pod-%ld", i);
		ck_assert_ptr_eq(map_get(&m, key), (void *)(i + 1));
	}
	memset(seen, 0, sizeof(seen));
	for (struct map_iter it = MAP_ITER; map_next(&m, &it);) {
		long v = (long)it.value - 1;

		ck_assert(v >= 0 && v < N);
		ck_assert_int_eq(seen[v], 0);
		seen[v] = 1;
		n++;
		if (v % 2)
			ck_assert_ptr_eq(map_del(&m, it.key), it.value);
	}
	ck_assert_uint_eq(n, N);
	ck_assert_uint_eq(map_len(&m), N / 2);
	snprintf(key, sizeof(key), "ns/pod-%d", 3);
	ck_assert_ptr_null(map_get(&m, key));
	snprintf(key, sizeof(key), "ns/pod-%d", 4);
	ck_assert_ptr_eq(map_get(&m, key), (void *)5);
	map_release(&m, NULL);
	ck_assert_uint_eq(map_len(&m), 0);
}
END_TEST

START_TEST(test_release_frees_values)
{
	struct map m = MAP_INIT;

	map_put(&m, "a", xstrdup("1"));
	map_put(&m, "b", xstrdup("2"));
	free(map_put(&m, "a", xstrdup("3")));
	ck_assert_str_eq(map_get(&m, "a"), "3");
	map_release(&m, free); /* ASan finds a leak if it does not */
	ck_assert_ptr_null(map_get(&m, "a"));
	/* usable again */
	map_put(&m, "c", NULL);
	ck_assert_uint_eq(map_len(&m), 1);
	map_release(&m, NULL);
}
END_TEST

START_TEST(test_hash_known_values)
{
	/* FNV-1a 32-bit reference values */
	ck_assert_uint_eq(map_hash(""), 2166136261u);
	ck_assert_uint_eq(map_hash("a"), 0xe40c292cu);
	ck_assert_uint_eq(map_hash("foobar"), 0xbf9cf968u);
}
END_TEST

Suite *map_suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_put_get_del);
	tcase_add_test(tc, test_grow_and_walk);
	tcase_add_test(tc, test_release_frees_values);
	tcase_add_test(tc, test_hash_known_values);
	suite_add_tcase(s, tc);
	return s;
}
