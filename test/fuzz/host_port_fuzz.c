/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host_port_fuzz.c - libFuzzer target for resolve_split_host_port(): every
 * refusal carries a reason; an accepted split gives a non-empty host that
 * fits and a port in 1-65535, and host:port (bracketed when it holds a
 * colon) splits back to the same.
 *   make build/fuzz/bin/host_port
 *   build/fuzz/bin/host_port -max_total_time=20
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), host[256], again[256], err[96] = "";
	char text[300];
	int port, port2;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (resolve_split_host_port(s, host, sizeof(host), &port, err,
				    sizeof(err))) {
		BUG_ON(!err[0]);
	} else {
		BUG_ON(!host[0] || port < 1 || port > 65535);
		snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
			 host, port);
		if (!strchr(host, ']') && !strchr(host, '[')) {
			BUG_ON(resolve_split_host_port(text, again, sizeof(again),
						       &port2, err, sizeof(err)));
			BUG_ON(strcmp(host, again) || port != port2);
		}
	}
	free(s);
	return 0;
}
