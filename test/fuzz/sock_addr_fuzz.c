/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sock_addr_fuzz.c - libFuzzer target for sock_addr_parse() and
 * sock_ip_parse(): every refusal carries a reason, and every address they
 * accept formats to text that parses back to an equal address.
 *   make B=build build/fuzz/bin/sock_addr
 *   build/fuzz/bin/sock_addr -max_total_time=20 test/fuzz/corpus/sock_addr
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const char *s)
{
	char err[128] = "", text[SOCK_ADDR_STRLEN], again[SOCK_ADDR_STRLEN];
	struct sock_addr a, b;

	if (sock_addr_parse(s, &a, err, sizeof(err))) {
		BUG_ON(!err[0]);
		return;
	}
	BUG_ON(a.u.sa.sa_family != AF_INET && a.u.sa.sa_family != AF_INET6);
	sock_addr_format(&a, text, sizeof(text));
	BUG_ON(sock_addr_parse(text, &b, err, sizeof(err)));
	BUG_ON(!sock_addr_equal(&a, &b));
	/* and the text is canonical: formatting again gives the same */
	BUG_ON(strcmp(sock_addr_format(&b, again, sizeof(again)), text));
}

static void check_ip(const char *s)
{
	char text[SOCK_ADDR_STRLEN];
	struct sock_addr a, b;

	if (sock_ip_parse(s, &a))
		return;
	BUG_ON(sock_addr_port(&a) != 0);
	sock_addr_format_ip(&a, text, sizeof(text));
	BUG_ON(sock_ip_parse(text, &b));
	BUG_ON(!sock_addr_equal(&a, &b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_addr(s);
	check_ip(s);
	free(s);
	return 0;
}
