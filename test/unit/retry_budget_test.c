/* SPDX-License-Identifier: Apache-2.0 */
/* retry_budget_test.c - unit tests for retry_budget.c */
#include "conduit/retry_budget.h"
#include "suites.h"

/* no traffic: the floor alone, 10/s x 10 s */
START_TEST(test_floor)
{
	struct retry_budget b;
	int n = 0;

	retry_budget_init(&b, 0, 0, 0);
	while (retry_budget_withdraw(&b, 100.5) && n < 1000)
		n++;
	ck_assert_int_eq(n, 100);
	/* a window later the floor is back */
	ck_assert(retry_budget_withdraw(&b, 111.0));
}
END_TEST

/* 1000 requests a second: 20% of them on top of the floor */
START_TEST(test_ratio)
{
	struct retry_budget b;
	int n = 0;

	retry_budget_init(&b, 0.2, 10, 10);
	for (int s = 0; s < 10; s++)
		for (int i = 0; i < 1000; i++)
			retry_budget_deposit(&b, 1000 + s + 0.5);
	while (retry_budget_withdraw(&b, 1009.9) && n < 100000)
		n++;
	ck_assert_int_eq(n, 2000 + 100);
	ck_assert(!retry_budget_withdraw(&b, 1009.9));
}
END_TEST

/* a failing service: retries never exceed ratio x requests + floor */
START_TEST(test_storm_bounded)
{
	struct retry_budget b;
	long reqs = 0, tries = 0;

	retry_budget_init(&b, 0.2, 10, 10);
	for (int t = 0; t < 60 * 100; t++) { /* 60 s, 100 requests/s */
		double now = 5000 + t / 100.0;

		retry_budget_deposit(&b, now);
		reqs++;
		/* every request fails and wants 3 retries */
		for (int k = 0; k < 3; k++)
			tries += retry_budget_withdraw(&b, now);
	}
	/* 20% of 6000, plus the floor of 10/s over 60 s */
	ck_assert_int_le(tries, (long)(0.2 * reqs) + 10 * 60 + 100);
	ck_assert_int_ge(tries, (long)(0.2 * reqs));
}
END_TEST

Suite *retry_budget_suite(void)
{
	Suite *s = suite_create("retry_budget");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_floor);
	tcase_add_test(tc, test_ratio);
	tcase_add_test(tc, test_storm_bounded);
	suite_add_tcase(s, tc);
	return s;
}
