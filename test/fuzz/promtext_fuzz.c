/* SPDX-License-Identifier: Apache-2.0 */
/*
 * promtext_fuzz.c - libFuzzer target for the Prometheus text reader
 * (promtext.c): any bytes; every sample delivered has a valid name and
 * NUL-terminated labels.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/promtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *arg, const struct promtext_sample *s)
{
	(void)arg;
	if (!s->name[0] || s->nlabels > PROMTEXT_MAX_LABELS)
		abort();
	for (size_t i = 0; i < s->nlabels; i++)
		if (!s->labels[i].name[0] || strlen(s->labels[i].value) > PROMTEXT_MAX_LINE)
			abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];

	promtext_parse((const char *)data, size, check, NULL, err, sizeof(err));
	return 0;
}
