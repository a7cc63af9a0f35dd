/* SPDX-License-Identifier: Apache-2.0 */
/* pool_test.c - unit tests for pool.c: reuse, the bound, alignment */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/pool.h"
#include "suites.h"

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* assert_disjoint - n objects of size bytes never overlap */
static void assert_disjoint(void **objs, size_t n, size_t size)
{
	void **sorted = malloc(n * sizeof(*sorted));

	memcpy(sorted, objs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_ge((uintptr_t)sorted[i] - (uintptr_t)sorted[i - 1],
				  size);
	free(sorted);
}

START_TEST(test_get_put_reuse)
{
	struct pool p;
	void *a, *b, *c;

	pool_init(&p, 40, 4, 0);
	a = pool_get(&p);
	b = pool_get(&p);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(p.live, 2);
	memset(a, 0xaa, 40);
	memset(b, 0xbb, 40);
	pool_put(&p, a);
	ck_assert_uint_eq(p.live, 1);
	/* a freed object is handed out again at once */
	c = pool_get(&p);
	ck_assert_ptr_eq(c, a);
	pool_put(&p, b);
	pool_put(&p, c);
	ck_assert_uint_eq(p.live, 0);
	pool_release(&p);
}
END_TEST

START_TEST(test_put_null)
{
	struct pool p;

	pool_init(&p, 8, 0, 0);
	pool_put(&p, NULL);
	ck_assert_uint_eq(p.live, 0);
	ck_assert_ptr_nonnull(pool_get(&p));
	pool_put(&p, NULL);
	ck_assert_uint_eq(p.live, 1);
	pool_release(&p);
}
END_TEST

START_TEST(test_put_too_many_is_a_bug)
{
	struct pool p;
	void *a;

	pool_init(&p, 8, 0, 0);
	a = pool_get(&p);
	pool_put(&p, a);
	pool_put(&p, a);
}
END_TEST

START_TEST(test_max_bound)
{
	struct pool p;
	void *objs[3];

	pool_init(&p, 64, 16, 3);
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = pool_get(&p);
		ck_assert_ptr_nonnull(objs[i]);
	}
	ck_assert_ptr_null(pool_get(&p));
	ck_assert_ptr_null(pool_get(&p));
	ck_assert_uint_eq(p.live, 3);
	pool_put(&p, objs[1]);
	objs[1] = pool_get(&p);
	ck_assert_ptr_nonnull(objs[1]);
	ck_assert_ptr_null(pool_get(&p));
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++)
		pool_put(&p, objs[i]);
	pool_release(&p);
}
END_TEST

START_TEST(test_max_bound_across_chunks)
{
	struct pool p;
	void *objs[10];

	/* the bound holds when it is not a multiple of the chunk */
	pool_init(&p, 24, 4, 10);
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = pool_get(&p);
		ck_assert_ptr_nonnull(objs[i]);
		memset(objs[i], (int)i, 24);
	}
	ck_assert_ptr_null(pool_get(&p));
	assert_disjoint(objs, ARRAY_SIZE(objs), 24);
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++)
		for (size_t j = 0; j < 24; j++)
			ck_assert_int_eq(((unsigned char *)objs[i])[j], i);
	pool_release(&p);
}
END_TEST

START_TEST(test_peak_live)
{
	struct pool p;
	void *objs[5];

	pool_init(&p, 16, 2, 0);
	ck_assert_uint_eq(p.live, 0);
	ck_assert_uint_eq(p.peak, 0);
	for (size_t i = 0; i < 5; i++)
		objs[i] = pool_get(&p);
	ck_assert_uint_eq(p.live, 5);
	ck_assert_uint_eq(p.peak, 5);
	for (size_t i = 0; i < 3; i++)
		pool_put(&p, objs[i]);
	ck_assert_uint_eq(p.live, 2);
	ck_assert_uint_eq(p.peak, 5);
	objs[0] = pool_get(&p);
	ck_assert_uint_eq(p.live, 3);
	ck_assert_uint_eq(p.peak, 5);
	pool_put(&p, objs[0]);
	pool_put(&p, objs[3]);
	pool_put(&p, objs[4]);
	ck_assert_uint_eq(p.live, 0);
	ck_assert_uint_eq(p.peak, 5);
	pool_release(&p);
	ck_assert_uint_eq(p.live, 0);
	ck_assert_uint_eq(p.peak, 0);
}
END_TEST

START_TEST(test_alignment)
{
	static const size_t sizes[] = { 1, 7, 8, 15, 16, 17, 24, 33, 100 };

	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct pool p;
		void *objs[20];

		pool_init(&p, sizes[s], 3, 0);
		for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
			objs[i] = pool_get(&p);
			ck_assert_msg((uintptr_t)objs[i] % 16 == 0,
				      "size %zu object %zu at %p", sizes[s], i,
				      objs[i]);
			memset(objs[i], (int)i + 1, sizes[s]);
		}
		assert_disjoint(objs, ARRAY_SIZE(objs), sizes[s]);
		/* every object keeps its bytes while the others are written */
		for (size_t i = 0; i < ARRAY_SIZE(objs); i++)
			for (size_t j = 0; j < sizes[s]; j++)
				ck_assert_int_eq(((unsigned char *)objs[i])[j],
						 i + 1);
		pool_release(&p);
	}
}
END_TEST

START_TEST(test_many_objects)
{
	enum { N = 5000 };
	struct pool p;
	void **objs = malloc(N * sizeof(*objs));

	pool_init(&p, sizeof(size_t) * 3, 8, 0);
	for (size_t round = 0; round < 3; round++) {
		for (size_t i = 0; i < N; i++) {
			size_t *o = pool_get(&p);

			ck_assert_ptr_nonnull(o);
			o[0] = i;
			o[1] = ~i;
			o[2] = round;
			objs[i] = o;
		}
		ck_assert_uint_eq(p.live, N);
		ck_assert_uint_eq(p.peak, N);
		assert_disjoint(objs, N, sizeof(size_t) * 3);
		for (size_t i = 0; i < N; i++) {
			size_t *o = objs[i];

			ck_assert_uint_eq(o[0], i);
			ck_assert_uint_eq(o[1], ~i);
			ck_assert_uint_eq(o[2], round);
		}
		/* give back every other one first, then the rest */
		for (size_t i = 0; i < N; i += 2)
			pool_put(&p, objs[i]);
		for (size_t i = 1; i < N; i += 2)
			pool_put(&p, objs[i]);
		ck_assert_uint_eq(p.live, 0);
	}
	pool_release(&p);
	free(objs);
}
END_TEST

START_TEST(test_release_reuse)
{
	struct pool p;
	void *a;

	pool_init(&p, 32, 4, 2);
	for (int i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(pool_get(&p));
	ck_assert_ptr_null(pool_get(&p));
	pool_release(&p);
	/* the settings survive a release, the objects do not */
	ck_assert_uint_eq(p.live, 0);
	a = pool_get(&p);
	ck_assert_ptr_nonnull(a);
	memset(a, 0, 32);
	ck_assert_ptr_nonnull(pool_get(&p));
	ck_assert_ptr_null(pool_get(&p));
	pool_release(&p);
	pool_release(&p); /* releasing an empty pool is harmless */
}
END_TEST

/* --- size-class caches --- */

START_TEST(test_malloc_sizes_aligned)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 32, 33, 100, 255,
					256, 257, 1000, 2048, 4095, 4096,
					4097, 100000 };
	void *p[ARRAY_SIZE(sizes)];

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = pool_malloc(sizes[i]);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)i, sizes[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		for (size_t j = 0; j < sizes[i]; j++)
			ck_assert_uint_eq(((unsigned char *)p[i])[j], i);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		pool_free(p[i]);
	pool_free(NULL);
	pool_trim();
	ck_assert_uint_eq(pool_cached(), 0);
}
END_TEST

START_TEST(test_malloc_reuse)
{
	void *a, *b;

	pool_trim();
	a = pool_malloc(200);
	pool_free(a);
	if (!pool_cached())
		return; /* AddressSanitizer: nothing is cached */
	ck_assert_uint_eq(pool_cached(), 256); /* its class */
	/* the same class takes it back at once, another does not */
	b = pool_malloc(300);
	ck_assert_ptr_ne(b, a);
	pool_free(b);
	b = pool_malloc(193);
	ck_assert_ptr_eq(b, a);
	pool_free(b);
	pool_trim();
	ck_assert_uint_eq(pool_cached(), 0);
}
END_TEST

START_TEST(test_malloc_cache_bound)
{
	enum { N = 1000 };
	void *p[N];

	pool_trim();
	for (size_t i = 0; i < N; i++)
		p[i] = pool_malloc(4000);
	for (size_t i = 0; i < N; i++)
		pool_free(p[i]);
	/* 512 KiB in all at most */
	ck_assert_uint_le(pool_cached(), 512 << 10);
	if (!pool_cached())
		return; /* AddressSanitizer: nothing is cached */
	ck_assert_uint_ge(pool_cached(), (512 << 10) - 4096);
	/* ... but another class may still keep 16 blocks */
	for (size_t i = 0; i < N; i++)
		p[i] = pool_malloc(40);
	for (size_t i = 0; i < N; i++)
		pool_free(p[i]);
	ck_assert_uint_le(pool_cached(), (512 << 10) + 16 * 64);
	ck_assert_uint_ge(pool_cached(), (512 << 10) - 4096 + 16 * 64);
	pool_trim();
	ck_assert_uint_eq(pool_cached(), 0);
}
END_TEST

START_TEST(test_realloc_keeps_bytes)
{
	unsigned char *p = pool_realloc(NULL, 10), *q;

	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 10; i++)
		p[i] = (unsigned char)i;
	/* within its class, across classes, to and from a large block */
	for (size_t n = 20; n <= 20000; n *= 3) {
		q = pool_realloc(p, n);
		ck_assert_ptr_nonnull(q);
		for (int i = 0; i < 10; i++)
			ck_assert_uint_eq(q[i], i);
		memset(q + 10, 0xee, n - 10);
		p = q;
	}
	p = pool_realloc(p, 12);
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(p[i], i);
	ck_assert_ptr_null(pool_realloc(p, 0)); /* freed */
	p = pool_calloc(100, 3);
	for (int i = 0; i < 300; i++)
		ck_assert_uint_eq(p[i], 0);
	pool_free(p);
	ck_assert_ptr_null(pool_calloc(SIZE_MAX / 2, 4));
	ck_assert_ptr_null(pool_malloc(SIZE_MAX - 4));
	pool_trim();
}
END_TEST

Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_get_put_reuse);
	tcase_add_test(tc, test_put_null);
	tcase_add_test_raise_signal(tc, test_put_too_many_is_a_bug, SIGABRT);
	tcase_add_test(tc, test_max_bound);
	tcase_add_test(tc, test_max_bound_across_chunks);
	tcase_add_test(tc, test_peak_live);
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_many_objects);
	tcase_add_test(tc, test_release_reuse);
	tcase_add_test(tc, test_malloc_sizes_aligned);
	tcase_add_test(tc, test_malloc_reuse);
	tcase_add_test(tc, test_malloc_cache_bound);
	tcase_add_test(tc, test_realloc_keeps_bytes);
	suite_add_tcase(s, tc);
	return s;
}
