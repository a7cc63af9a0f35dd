/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s_version_fuzz.c - libFuzzer target for check_parse_k8s_version(): any
 * bytes, no crash; what it accepts starts with "v<major>.<minor>" and the
 * numbers it gives print back to that prefix.
 *   make build/fuzz/bin/k8s_version
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), pre[32];
	int ma, mi;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (check_parse_k8s_version(s, &ma, &mi) == 0) {
		snprintf(pre, sizeof(pre), "v%d.%d", ma, mi);
		/* leading zeros ("v01.2") parse to the same numbers */
		BUG_ON(ma < 1 || mi < 0 || (strncmp(s, pre, strlen(pre)) &&
					    !strchr(s, '0')));
	}
	free(s);
	return 0;
}
