/* SPDX-License-Identifier: Apache-2.0 */
/* discovery_test.c - unit tests for discovery.c (names) and destination.c (addresses) */
#include <errno.h>
#include <string.h>

#include "conduit/destination.h"
#include "conduit/discovery.h"
#include "suites.h"

static const char *canon(const char *host)
{
	static char out[256];

	if (!discovery_name(host, strlen(host), out, sizeof(out)))
		return "-";
	return out;
}

START_TEST(test_names)
{
	ck_assert_str_eq(canon("web-svc.demo.svc.cluster.local:8080"),
			 "web-svc.demo.svc.cluster.local:8080");
	ck_assert_str_eq(canon("web-svc.demo.svc.cluster.local"),
			 "web-svc.demo.svc.cluster.local:80");
	ck_assert_str_eq(canon("Web-Svc.Demo"), "web-svc.demo.svc.cluster.local:80");
	ck_assert_str_eq(canon("web-svc.demo:9"), "web-svc.demo.svc.cluster.local:9");
	ck_assert_str_eq(canon("web-svc.demo.svc:9"),
			 "web-svc.demo.svc.cluster.local:9");
	ck_assert_str_eq(canon("web-svc.demo.svc.cluster.local.:81"),
			 "web-svc.demo.svc.cluster.local:81");
	/* not services: IPs, single labels, other domains, bad ports */
	ck_assert_str_eq(canon("10.0.0.1:80"), "-");
	ck_assert_str_eq(canon("10.0.0.1"), "-");
	ck_assert_str_eq(canon("[::1]:80"), "-");
	ck_assert_str_eq(canon("localhost:80"), "-");
	ck_assert_str_eq(canon("example.com.evil.org"), "-");
	ck_assert_str_eq(canon("a.b:"), "-");
	ck_assert_str_eq(canon("a.b:8x"), "-");
	ck_assert_str_eq(canon(""), "-");
}
END_TEST

START_TEST(test_tcp_addr_round_trip)
{
	static const char *const addrs[] = { "10.1.2.3:8080", "[fd00::1:2]:443",
					     "[::ffff:1.2.3.4]:1", "0.0.0.0:65535" };

	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		struct sock_addr a, b;
		Io__Linkerd__Proxy__Net__TcpAddress t;
		Io__Linkerd__Proxy__Net__IPAddress ip;
		Io__Linkerd__Proxy__Net__IPv6 ip6;
		char err[64];

		ck_assert_int_eq(sock_addr_parse(addrs[i], &a, err, sizeof(err)), 0);
		destination_tcp_addr(&a, &t, &ip, &ip6);
		ck_assert_int_eq(destination_sock_addr(&t, &b), 0);
		ck_assert_msg(sock_addr_equal(&a, &b), "%s", addrs[i]);
	}
	{
		Io__Linkerd__Proxy__Net__TcpAddress t = IO__LINKERD__PROXY__NET__TCP_ADDRESS__INIT;
		Io__Linkerd__Proxy__Net__IPAddress ip = IO__LINKERD__PROXY__NET__IPADDRESS__INIT;
		struct sock_addr b;

		ck_assert_int_eq(destination_sock_addr(&t, &b), -EINVAL);
		t.ip = &ip; /* no address set */
		ck_assert_int_eq(destination_sock_addr(&t, &b), -EINVAL);
		ip.ip_case = IO__LINKERD__PROXY__NET__IPADDRESS__IP_IPV4;
		t.port = 70000;
		ck_assert_int_eq(destination_sock_addr(&t, &b), -EINVAL);
	}
	{
		/* 10.0.0.1 is 0x0a000001 on the wire: host order */
		struct sock_addr a;
		Io__Linkerd__Proxy__Net__TcpAddress t;
		Io__Linkerd__Proxy__Net__IPAddress ip;
		Io__Linkerd__Proxy__Net__IPv6 ip6;
		char err[64];

		sock_addr_parse("10.0.0.1:80", &a, err, sizeof(err));
		destination_tcp_addr(&a, &t, &ip, &ip6);
		ck_assert_uint_eq(ip.ipv4, 0x0a000001u);
		ck_assert_uint_eq(t.port, 80);
	}
}
END_TEST

Suite *discovery_suite(void)
{
	Suite *s = suite_create("discovery");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_tcp_addr_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
