/* SPDX-License-Identifier: Apache-2.0 */
/*
 * web_host_fuzz.c - libFuzzer target for the dashboard's Host check and
 * its --public-api-url parser: any bytes get an answer, never a crash; an
 * allowed Host is an IP literal or a listed name (with at most a port);
 * a parsed URL has a host and a port in 1..65535, and parses again to the
 * same from "http://HOST:PORT".
 *   make build/fuzz/bin/web_host
 *   build/fuzz/bin/web_host -max_total_time=30 test/fuzz/corpus/web_host
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/base.h"
#include "conduit/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "localhost",
					     "conduit-web.conduit.svc" };
	char host[256], again[256], url[300], err[200];
	int port, port2;
	char *s;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (web_host_allowed(s, hosts, ARRAY_SIZE(hosts))) {
		/* what is allowed has no byte a Host name cannot hold */
		BUG_ON(!*s || strpbrk(s, " /\\\r\n\t@?#"));
	}
	err[0] = 0;
	if (web_parse_upstream(s, host, sizeof(host), &port, err,
			       sizeof(err)) == 0) {
		BUG_ON(!host[0] || port < 1 || port > 65535);
		snprintf(url, sizeof(url),
			 strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d",
			 host, port);
		if (!strchr(host, '/') && !strchr(host, ']') &&
		    !strchr(host, '[') && (strchr(host, ':') || !strstr(host, "://")))
			if (web_parse_upstream(url, again, sizeof(again), &port2,
					       err, sizeof(err)) == 0)
				BUG_ON(strcmp(again, host) || port2 != port);
	} else {
		BUG_ON(!err[0]);
	}
	free(s);
	return 0;
}
