/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netlist_fuzz.c - libFuzzer target for the port and CIDR list parsers:
 * a parse either fails with a one-line reason or yields entries within
 * bounds (1 <= lo <= hi, prefix <= 32/128, host bits clear), and the
 * entries formatted back parse to the same list.
 *   make B=build build/fuzz/bin/netlist
 *   build/fuzz/bin/netlist -max_total_time=30 test/fuzz/corpus/netlist
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/netlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int r, const char *err)
{
	BUG_ON(r != 0 && r != -EINVAL && r != -E2BIG);
	if (r)
		BUG_ON(!err[0] || strchr(err, '\n') || strlen(err) >= 200);
	else
		BUG_ON(err[0]);
}

static void check_ports(const struct netlist_ports *p)
{
	struct netlist_ports again = { 0 };
	struct buf b;
	char r[16], err[200];

	BUG_ON(p->n > NETLIST_MAX);
	buf_init(&b, 0);
	for (size_t i = 0; i < p->n; i++) {
		BUG_ON(p->v[i].lo < 1 || p->v[i].lo > p->v[i].hi);
		BUG_ON(!netlist_ports_contain(p, p->v[i].lo));
		BUG_ON(!netlist_ports_contain(p, p->v[i].hi));
		for (size_t j = 0; j < i; j++)
			BUG_ON(p->v[i].lo == p->v[j].lo && p->v[i].hi == p->v[j].hi);
		BUG_ON(buf_printf(&b, "%s%s", i ? "," : "",
				  netlist_format_range(&p->v[i], r, sizeof(r))));
	}
	BUG_ON(netlist_parse_ports(buf_cstr(&b) ? buf_cstr(&b) : "", &again,
				   err, sizeof(err)));
	BUG_ON(again.n != p->n);
	BUG_ON(p->n && memcmp(again.v, p->v, p->n * sizeof(*p->v)));
	netlist_ports_release(&again);
	buf_release(&b);
}

static void check_cidrs(const struct netlist_cidrs *c)
{
	struct netlist_cidrs again = { 0 };
	struct buf b;
	char s[NETLIST_CIDR_STRLEN], err[200];

	BUG_ON(c->n > NETLIST_MAX);
	buf_init(&b, 0);
	for (size_t i = 0; i < c->n; i++) {
		const struct netlist_cidr *x = &c->v[i];
		unsigned bits = x->family == AF_INET ? 32 : 128;

		BUG_ON(x->family != AF_INET && x->family != AF_INET6);
		BUG_ON(x->prefix > bits);
		for (unsigned bit = x->prefix; bit < bits; bit++)
			BUG_ON(x->addr[bit / 8] & (0x80 >> (bit % 8)));
		BUG_ON(buf_printf(&b, "%s%s", i ? "," : "",
				  netlist_format_cidr(x, s, sizeof(s))));
	}
	BUG_ON(netlist_parse_cidrs(buf_cstr(&b) ? buf_cstr(&b) : "", &again,
				   err, sizeof(err)));
	BUG_ON(again.n != c->n);
	for (size_t i = 0; i < c->n; i++)
		BUG_ON(again.v[i].family != c->v[i].family ||
		       again.v[i].prefix != c->v[i].prefix ||
		       memcmp(again.v[i].addr, c->v[i].addr, 16));
	netlist_cidrs_release(&again);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netlist_ports p = { 0 };
	struct netlist_cidrs c = { 0 };
	char *s, err[200];
	int r;

	if (size > 16384)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = netlist_parse_ports(s, &p, err, sizeof(err));
	check_err(r, err);
	if (!r)
		check_ports(&p);
	r = netlist_parse_cidrs(s, &c, err, sizeof(err));
	check_err(r, err);
	if (!r)
		check_cidrs(&c);
	netlist_ports_release(&p);
	netlist_cidrs_release(&c);
	free(s);
	return 0;
}
