/* SPDX-License-Identifier: Apache-2.0 */
/* netlist_test.c - unit tests for netlist.c: port and CIDR lists */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conduit/netlist.h"
#include "suites.h"

/* ports_str - the list back as text, "25,4444-4450" */
static const char *ports_str(const struct netlist_ports *p, char *buf,
			     size_t size)
{
	size_t n = 0;
	char r[16];

	buf[0] = '\0';
	for (size_t i = 0; i < p->n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "," : "",
				      netlist_format_range(&p->v[i], r, sizeof(r)));
	return buf;
}

static const char *cidrs_str(const struct netlist_cidrs *c, char *buf,
			     size_t size)
{
	size_t n = 0;
	char r[NETLIST_CIDR_STRLEN];

	buf[0] = '\0';
	for (size_t i = 0; i < c->n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "," : "",
				      netlist_format_cidr(&c->v[i], r, sizeof(r)));
	return buf;
}

START_TEST(test_ports_good)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "   ", "" },
		{ "80", "80" },
		{ "25,587,3306,4444-4450", "25,587,3306,4444-4450" },
		{ " 25 , 587\t", "25,587" },
		{ "1,65535", "1,65535" },
		{ "1-65535", "1-65535" },
		{ "5-5", "5" },
		{ "080", "80" },
		{ "25,25,26-27,26-27", "25,26-27" },
	};
	struct netlist_ports p = { 0 };
	char err[128], out[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_msg(netlist_parse_ports(cases[i].in, &p, err, sizeof(err)) == 0,
			      "%s: %s", cases[i].in, err);
		ck_assert_str_eq(ports_str(&p, out, sizeof(out)), cases[i].out);
		ck_assert_str_eq(err, "");
	}
	netlist_ports_release(&p);
	ck_assert_ptr_null(p.v);
	ck_assert_uint_eq(p.n, 0);
}
END_TEST

START_TEST(test_ports_bad)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "70000", "port 70000 out of range 1-65535" },
		{ "25,70000", "port 70000 out of range 1-65535" },
		{ "0", "port 0 out of range 1-65535" },
		{ "99999999999999999999", "port 99999999999999999999 out of range 1-65535" },
		{ "4450-4444", "bad port range \"4450-4444\": 4450 > 4444" },
		{ "4444-", "bad port range \"4444-\": want PORT-PORT" },
		{ "-5", "bad port range \"-5\": want PORT-PORT" },
		{ "1-70000", "port 70000 out of range 1-65535" },
		{ "http", "bad port \"http\": not a number" },
		{ "1-2-3", "bad port \"1-2-3\": not a number" },
		{ "+80", "bad port \"+80\": not a number" },
		{ "8 0", "bad port \"8 0\": not a number" },
		{ "25,,587", "empty entry in list \"25,,587\"" },
		{ "25,", "empty entry in list \"25,\"" },
		{ ",", "empty entry in list \",\"" },
		/* whatever the input, the message stays one printable line */
		{ "8\n0", "bad port \"8\\x0a0\": not a number" },
		{ "\"x", "bad port \"\\\"x\": not a number" },
		{ "1234567890123456789012345678901234567890123456789012345678901234567890",
		  "port 1234567890123456789012345678901234567890123456789012345678901234... "
		  "out of range 1-65535" },
	};
	struct netlist_ports p = { 0 };
	char err[128];

	/* a failed parse leaves the previous value alone */
	ck_assert_int_eq(netlist_parse_ports("8080", &p, err, sizeof(err)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_msg(netlist_parse_ports(cases[i].in, &p, err, sizeof(err)) ==
				      -EINVAL,
			      "%s accepted", cases[i].in);
		ck_assert_str_eq(err, cases[i].err);
		ck_assert_uint_eq(p.n, 1);
		ck_assert_uint_eq(p.v[0].lo, 8080);
	}
	netlist_ports_release(&p);
}
END_TEST

START_TEST(test_ports_limit)
{
	struct netlist_ports p = { 0 };
	char s[NETLIST_MAX * 7], err[128];
	size_t n = 0;

	for (int i = 1; i <= NETLIST_MAX; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%d", i > 1 ? "," : "", i);
	ck_assert_int_eq(netlist_parse_ports(s, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, NETLIST_MAX);
	snprintf(s + n, sizeof(s) - n, ",9999");
	ck_assert_int_eq(netlist_parse_ports(s, &p, err, sizeof(err)), -E2BIG);
	ck_assert_str_eq(err, "too many entries (at most 256)");
	ck_assert_uint_eq(p.n, NETLIST_MAX);
	/* a long bad token is cut to fit, never overflows */
	memset(s, '9', 300);
	s[300] = '\0';
	ck_assert_int_eq(netlist_parse_ports(s, &p, err, 16), -EINVAL);
	ck_assert_uint_eq(strlen(err), 15);
	netlist_ports_release(&p);
}
END_TEST

START_TEST(test_ports_contain)
{
	struct netlist_ports p = { 0 };
	char err[64];

	ck_assert_int_eq(netlist_parse_ports("25,4444-4450,65535", &p, err, sizeof(err)), 0);
	ck_assert(netlist_ports_contain(&p, 25));
	ck_assert(netlist_ports_contain(&p, 4444));
	ck_assert(netlist_ports_contain(&p, 4447));
	ck_assert(netlist_ports_contain(&p, 4450));
	ck_assert(netlist_ports_contain(&p, 65535));
	ck_assert(!netlist_ports_contain(&p, 24));
	ck_assert(!netlist_ports_contain(&p, 4451));
	ck_assert(!netlist_ports_contain(&p, 0));
	netlist_ports_release(&p);
	ck_assert(!netlist_ports_contain(&p, 25));
}
END_TEST

START_TEST(test_cidrs_good)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "10.0.0.0/8,fd00::/8", "10.0.0.0/8,fd00::/8" },
		{ " 192.168.1.0/24 ,\t::1/128 ", "192.168.1.0/24,::1/128" },
		{ "10.1.2.3", "10.1.2.3/32" },
		{ "2001:db8::1", "2001:db8::1/128" },
		{ "0.0.0.0/0,::/0", "0.0.0.0/0,::/0" },
		/* host bits are cleared, as Go's net.ParseCIDR does */
		{ "10.1.2.3/8", "10.0.0.0/8" },
		{ "192.168.255.255/12", "192.160.0.0/12" },
		{ "fd12:3456::1/20", "fd12:3000::/20" },
		{ "10.0.0.0/8,10.9.9.9/8", "10.0.0.0/8" },
		{ "::ffff:10.0.0.1/128", "::ffff:10.0.0.1/128" },
	};
	struct netlist_cidrs c = { 0 };
	char err[128], out[512];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_msg(netlist_parse_cidrs(cases[i].in, &c, err, sizeof(err)) == 0,
			      "%s: %s", cases[i].in, err);
		ck_assert_str_eq(cidrs_str(&c, out, sizeof(out)), cases[i].out);
	}
	ck_assert_int_eq(netlist_parse_cidrs("10.0.0.0/8,fd00::/8", &c, err,
					     sizeof(err)), 0);
	ck_assert_int_eq(c.v[0].family, AF_INET);
	ck_assert_uint_eq(c.v[0].prefix, 8);
	ck_assert_uint_eq(c.v[0].addr[0], 10);
	ck_assert_int_eq(c.v[1].family, AF_INET6);
	ck_assert_uint_eq(c.v[1].addr[0], 0xfd);
	netlist_cidrs_release(&c);
}
END_TEST

START_TEST(test_cidrs_bad)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "10.0.0.0/33", "bad CIDR \"10.0.0.0/33\": prefix length 33 > 32" },
		{ "fd00::/129", "bad CIDR \"fd00::/129\": prefix length 129 > 128" },
		{ "10.0.0.0/99999", "bad CIDR \"10.0.0.0/99999\": prefix length 99999 > 32" },
		{ "10.0.0.0/", "bad CIDR \"10.0.0.0/\": prefix length is not a number" },
		{ "10.0.0.0/x", "bad CIDR \"10.0.0.0/x\": prefix length is not a number" },
		{ "10.0.0.0/-1", "bad CIDR \"10.0.0.0/-1\": prefix length is not a number" },
		{ "10.0.0/8", "bad CIDR \"10.0.0/8\": not an IPv4 or IPv6 address" },
		{ "10.0.0.256/8", "bad CIDR \"10.0.0.256/8\": not an IPv4 or IPv6 address" },
		{ "/8", "bad CIDR \"/8\": not an IPv4 or IPv6 address" },
		{ "fd00:::/8", "bad CIDR \"fd00:::/8\": not an IPv4 or IPv6 address" },
		{ "example.com", "bad CIDR \"example.com\": not an IPv4 or IPv6 address" },
		{ "10.0.0.0/8,,fd00::/8", "empty entry in list \"10.0.0.0/8,,fd00::/8\"" },
		{ "10.0.0.0/8 10.1.0.0/16",
		  "bad CIDR \"10.0.0.0/8 10.1.0.0/16\": prefix length is not a number" },
	};
	struct netlist_cidrs c = { 0 };
	char err[128];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_msg(netlist_parse_cidrs(cases[i].in, &c, err, sizeof(err)) ==
				      -EINVAL,
			      "%s accepted", cases[i].in);
		ck_assert_str_eq(err, cases[i].err);
		ck_assert_uint_eq(c.n, 0);
	}
}
END_TEST

START_TEST(test_flag_callbacks)
{
	struct netlist_ports p = { 0 };
	struct netlist_cidrs c = { 0 };
	char err[128];

	/* given twice (environment, then flag): the last value wins */
	ck_assert_int_eq(netlist_flag_ports("1,2", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(netlist_flag_ports("3", &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0].lo, 3);
	ck_assert_int_eq(netlist_flag_ports("0", &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "port 0 out of range 1-65535");
	ck_assert_int_eq(netlist_flag_cidrs("10.0.0.0/8", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_int_eq(netlist_flag_cidrs("nope", &c, err, sizeof(err)), -EINVAL);
	netlist_ports_release(&p);
	netlist_cidrs_release(&c);
}
END_TEST

Suite *netlist_suite(void)
{
	Suite *s = suite_create("netlist");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ports_good);
	tcase_add_test(tc, test_ports_bad);
	tcase_add_test(tc, test_ports_limit);
	tcase_add_test(tc, test_ports_contain);
	tcase_add_test(tc, test_cidrs_good);
	tcase_add_test(tc, test_cidrs_bad);
	tcase_add_test(tc, test_flag_callbacks);
	suite_add_tcase(s, tc);
	return s;
}
