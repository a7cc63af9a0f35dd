/* SPDX-License-Identifier: Apache-2.0 */
/* arena_test.c - unit tests for arena.c: alignment, bounds, reset */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/arena.h"
#include "suites.h"

START_TEST(test_alloc_alignment)
{
	static const size_t sizes[] = { 1, 2, 3, 8, 15, 16, 17, 31, 100, 1000 };
	unsigned char *p[ARRAY_SIZE(sizes)];
	struct arena a;

	arena_init(&a, 256, 0);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = arena_alloc(&a, sizes[i]);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_msg((uintptr_t)p[i] % 16 == 0, "%zu bytes at %p",
			      sizes[i], (void *)p[i]);
		memset(p[i], (int)i + 1, sizes[i]);
	}
	/* no allocation overwrote another */
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		for (size_t j = 0; j < sizes[i]; j++)
			ck_assert_int_eq(p[i][j], i + 1);
	arena_release(&a);
}
END_TEST

START_TEST(test_alloc_zero)
{
	struct arena a;
	void *x, *y;

	arena_init(&a, 0, 0);
	x = arena_alloc(&a, 0);
	y = arena_alloc(&a, 0);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	ck_assert_ptr_ne(x, y);
	arena_release(&a);
}
END_TEST

START_TEST(test_strdup)
{
	struct arena a;
	const char *src = "conduit-proxy";
	char *s, *t, *e;

	arena_init(&a, 64, 0);
	s = arena_strdup(&a, src);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_ne(s, src);
	ck_assert_str_eq(s, src);
	t = arena_strndup(&a, "abcdef", 3);
	ck_assert_str_eq(t, "abc");
	e = arena_strdup(&a, "");
	ck_assert_str_eq(e, "");
	ck_assert_str_eq(s, src); /* untouched by later copies */
	/* a copy longer than a block */
	{
		char big[300];

		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ck_assert_str_eq(arena_strdup(&a, big), big);
	}
	/* strndup copies exactly n bytes, NULs included */
	t = arena_strndup(&a, "a\0b", 3);
	ck_assert_mem_eq(t, "a\0b", 4);
	arena_release(&a);
}
END_TEST

START_TEST(test_max_bound)
{
	struct arena a;

	arena_init(&a, 64, 64);
	ck_assert_ptr_nonnull(arena_alloc(&a, 32));
	ck_assert_ptr_nonnull(arena_alloc(&a, 32));
	ck_assert_uint_eq(a.used, 64);
	ck_assert_ptr_null(arena_alloc(&a, 1));
	ck_assert_ptr_null(arena_strdup(&a, "x"));
	ck_assert_uint_eq(a.used, 64);
	arena_reset(&a);
	ck_assert_ptr_nonnull(arena_alloc(&a, 64));
	ck_assert_ptr_null(arena_alloc(&a, 1));
	arena_reset(&a);
	ck_assert_ptr_null(arena_alloc(&a, 65));
	ck_assert_ptr_nonnull(arena_alloc(&a, 64));
	arena_release(&a);
}
END_TEST

START_TEST(test_max_counts_aligned_sizes)
{
	struct arena a;

	/* each allocation takes whole 16-byte units out of max */
	arena_init(&a, 0, 48);
	ck_assert_ptr_nonnull(arena_alloc(&a, 1));
	ck_assert_ptr_nonnull(arena_alloc(&a, 17));
	ck_assert_uint_eq(a.used, 48);
	ck_assert_ptr_null(arena_alloc(&a, 1));
	arena_release(&a);
}
END_TEST

START_TEST(test_oversized)
{
	struct arena a;
	unsigned char *small1, *big, *small2, *big2;

	arena_init(&a, 256, 0);
	small1 = arena_alloc(&a, 16);
	big = arena_alloc(&a, 10000);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq((uintptr_t)big % 16, 0);
	memset(big, 0x5a, 10000);
	/* the current block's free space stays in use after a big one */
	small2 = arena_alloc(&a, 16);
	ck_assert_ptr_eq(small2, small1 + 16);
	big2 = arena_alloc(&a, 257);
	ck_assert_ptr_nonnull(big2);
	memset(big2, 0xa5, 257);
	for (size_t i = 0; i < 10000; i++)
		ck_assert_int_eq(big[i], 0x5a);
	ck_assert_uint_eq(a.used, 16 + 10000 + 16 + 272);
	arena_release(&a);

	/* an oversized first allocation */
	arena_init(&a, 64, 0);
	big = arena_alloc(&a, 1000);
	ck_assert_ptr_nonnull(big);
	memset(big, 1, 1000);
	small1 = arena_alloc(&a, 8);
	ck_assert_ptr_nonnull(small1);
	ck_assert(small1 + 8 <= big || small1 >= big + 1000);
	arena_release(&a);
}
END_TEST

START_TEST(test_impossible_sizes)
{
	struct arena a;

	/* sizes that overflow once rounded up or once a block header is
	 * added are refused, never wrapped into a tiny allocation */
	arena_init(&a, 0, 0);
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX));
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 15));
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 16));
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 31));
	ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 32));
	ck_assert_uint_eq(a.used, 0);
	/* and the arena still works */
	ck_assert_str_eq(arena_strdup(&a, "fine"), "fine");
	arena_release(&a);
}
END_TEST

START_TEST(test_reset)
{
	struct arena a;
	char *first, *p;

	arena_init(&a, 128, 0);
	first = arena_alloc(&a, 16);
	for (int i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(arena_alloc(&a, 48));
	ck_assert_ptr_nonnull(arena_alloc(&a, 5000));
	arena_reset(&a);
	ck_assert_uint_eq(a.used, 0);
	/* one default-sized block is kept and reused from its start */
	p = arena_alloc(&a, 16);
	ck_assert_ptr_eq(p, first);
	for (int round = 0; round < 5; round++) {
		char name[32];

		for (int i = 0; i < 200; i++) {
			snprintf(name, sizeof(name), "r%d-%d", round, i);
			ck_assert_str_eq(arena_strdup(&a, name), name);
		}
		arena_reset(&a);
		ck_assert_uint_eq(a.used, 0);
	}
	arena_reset(&a);
	arena_release(&a);
	/* reset and release of a never-used arena */
	arena_init(&a, 0, 0);
	arena_reset(&a);
	ck_assert_ptr_nonnull(arena_alloc(&a, 1));
	arena_release(&a);
	arena_release(&a);
}
END_TEST

START_TEST(test_reset_after_only_oversized)
{
	struct arena a;
	unsigned char *p;

	arena_init(&a, 64, 0);
	ck_assert_ptr_nonnull(arena_alloc(&a, 4096));
	arena_reset(&a);
	p = arena_alloc(&a, 64);
	ck_assert_ptr_nonnull(p);
	memset(p, 0, 64);
	p = arena_alloc(&a, 4096);
	ck_assert_ptr_nonnull(p);
	memset(p, 0, 4096);
	arena_release(&a);
}
END_TEST

START_TEST(test_many_allocations)
{
	enum { N = 20000 };
	char **strs = malloc(N * sizeof(*strs));
	struct arena a;

	arena_init(&a, 1024, 0);
	for (size_t i = 0; i < N; i++) {
		char tmp[64];
		size_t len = (size_t)snprintf(tmp, sizeof(tmp), "%zu", i);

		/* lengths vary from a few bytes to past the block size */
		if (i % 1000 == 999) {
			strs[i] = arena_alloc(&a, 2000);
			memset(strs[i], 'L', 1999);
			strs[i][1999] = '\0';
			continue;
		}
		memset(tmp + len, '.', i % 40);
		tmp[len + i % 40] = '\0';
		strs[i] = arena_strdup(&a, tmp);
		ck_assert_ptr_nonnull(strs[i]);
	}
	for (size_t i = 0; i < N; i++) {
		if (i % 1000 == 999) {
			ck_assert_uint_eq(strlen(strs[i]), 1999);
			continue;
		}
		ck_assert_uint_eq(strtoul(strs[i], NULL, 10), i);
		ck_assert_uint_eq(strspn(strs[i], "0123456789."),
				  strlen(strs[i]));
	}
	arena_release(&a);
	free(strs);
}
END_TEST

Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_alloc_alignment);
	tcase_add_test(tc, test_alloc_zero);
	tcase_add_test(tc, test_strdup);
	tcase_add_test(tc, test_max_bound);
	tcase_add_test(tc, test_max_counts_aligned_sizes);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_impossible_sizes);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_reset_after_only_oversized);
	tcase_add_test(tc, test_many_allocations);
	suite_add_tcase(s, tc);
	return s;
}
