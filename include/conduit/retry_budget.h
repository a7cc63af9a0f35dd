/* SPDX-License-Identifier: Apache-2.0 */
/* retry_budget.h - how many retries the proxy may add: a ratio of requests plus a floor */
#ifndef CONDUIT_RETRY_BUDGET_H
#define CONDUIT_RETRY_BUDGET_H

#include "conduit/base.h"

/*
 * Retries stop a failing endpoint from failing requests, and would turn an
 * overloaded service into a dead one if unbounded. The budget (Linkerd's
 * and Finagle's: 20% of requests plus 10 a second, over a 10 s window)
 * allows, at any time, retries up to ratio x the requests of the last ttl
 * seconds plus min_per_sec x ttl. Counted in one-second buckets: O(1),
 * no allocation.
 */

#define RETRY_BUDGET_BUCKETS 64

struct retry_budget {
	double ratio;	    /* retries per request (0.2) */
	double min_per_sec; /* always allowed (10) */
	int ttl;	    /* window, whole seconds, <= 64 (10) */
	int64_t sec[RETRY_BUDGET_BUCKETS];    /* the second of each bucket */
	uint32_t reqs[RETRY_BUDGET_BUCKETS];  /* requests in it */
	uint32_t tries[RETRY_BUDGET_BUCKETS]; /* retries in it */
};

/* retry_budget_init - zero values take the defaults above */
void retry_budget_init(struct retry_budget *b, double ratio, double min_per_sec,
		       int ttl);
/* retry_budget_deposit - a request began at now (seconds) */
void retry_budget_deposit(struct retry_budget *b, double now);
/* retry_budget_withdraw - may one more retry go at now? counts it if so */
bool retry_budget_withdraw(struct retry_budget *b, double now);

#endif
