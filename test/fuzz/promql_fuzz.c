/* SPDX-License-Identifier: Apache-2.0 */
/*
 * promql_fuzz.c - libFuzzer target for promql_parse_vector(), the reader
 * of Prometheus' /api/v1/query answers: any bytes (read as given, no
 * terminator); a refusal always says why and passes nothing; what is
 * passed has a label object and labels that are strings or absent.
 *   make B=build build/fuzz/bin/promql
 *   build/fuzz/bin/promql -max_total_time=20 test/fuzz/corpus/promql
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/json.h"
#include "conduit/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *arg, const struct promql_sample *s)
{
	size_t *n = arg;
	const char *le;

	BUG_ON(json_type(s->metric) != JSON_OBJECT);
	for (struct json *l = json_child(s->metric); l; l = json_next(l))
		BUG_ON(!json_key(l));
	if ((le = promql_label(s, "le")))
		BUG_ON(promql_le_index(le) >= STATS_NBUCKETS);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	size_t n = 0;
	int rc;

	rc = promql_parse_vector((const char *)data, size, 64, check, &n, err,
				 sizeof(err));
	BUG_ON(rc && rc != -EPROTO && rc != -EREMOTEIO && rc != -E2BIG);
	BUG_ON(rc && (!err[0] || n));
	BUG_ON(n > 64);
	return 0;
}
