/* SPDX-License-Identifier: Apache-2.0 */
/* retry_budget.c - how many retries the proxy may add */
#include "conduit/retry_budget.h"

#include <math.h>
#include <string.h>

void retry_budget_init(struct retry_budget *b, double ratio, double min_per_sec,
		       int ttl)
{
	memset(b, 0, sizeof(*b));
	b->ratio = ratio > 0 ? ratio : 0.2;
	b->min_per_sec = min_per_sec > 0 ? min_per_sec : 10;
	b->ttl = ttl > 0 && ttl <= RETRY_BUDGET_BUCKETS ? ttl : 10;
	for (int i = 0; i < RETRY_BUDGET_BUCKETS; i++)
		b->sec[i] = -1;
}

/* bucket - the bucket of second s, emptied when it held an older one */
static int bucket(struct retry_budget *b, int64_t s)
{
	int i = (int)(s % RETRY_BUDGET_BUCKETS);

	if (b->sec[i] != s) {
		b->sec[i] = s;
		b->reqs[i] = 0;
		b->tries[i] = 0;
	}
	return i;
}

void retry_budget_deposit(struct retry_budget *b, double now)
{
	int i = bucket(b, (int64_t)floor(now));

	if (b->reqs[i] < UINT32_MAX)
		b->reqs[i]++;
}

bool retry_budget_withdraw(struct retry_budget *b, double now)
{
	int64_t s = (int64_t)floor(now);
	double reqs = 0, tries = 0;
	int i;

	for (int k = 0; k < b->ttl; k++) {
		int j = (int)((s - k) % RETRY_BUDGET_BUCKETS);

		if (s - k < 0 || b->sec[j] != s - k)
			continue;
		reqs += b->reqs[j];
		tries += b->tries[j];
	}
	if (tries + 1 > b->ratio * reqs + b->min_per_sec * b->ttl)
		return false;
	i = bucket(b, s);
	b->tries[i]++;
	return true;
}
