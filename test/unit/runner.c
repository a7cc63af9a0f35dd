/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runner.c - the one Check runner for every unit suite.
 *   build/test/unit                    all suites
 *   CK_RUN_SUITE=buf build/test/unit   one suite (Check reads the variable)
 *   CK_FORK=no                         no fork per test, for gdb
 * Ends with "unit: N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int run, failed;

#define SUITE_ADD(m) srunner_add_suite(sr, m##_suite());
	SUITE_LIST(SUITE_ADD)
#undef SUITE_ADD
	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	printf("unit: %d passed, %d failed\n", run - failed, failed);
	return failed || !run ? EXIT_FAILURE : EXIT_SUCCESS;
}
