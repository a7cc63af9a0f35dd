/* SPDX-License-Identifier: Apache-2.0 */
/* sock_test.c - unit tests for sock.c: addresses and real loopback sockets */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conduit/sock.h"
#include "suites.h"

static struct sock_addr parse_ok(const char *s)
{
	struct sock_addr a;
	char err[128] = "";

	ck_assert_msg(sock_addr_parse(s, &a, err, sizeof(err)) == 0,
		      "\"%s\": %s", s, err);
	return a;
}

static const char *fmt(const struct sock_addr *a)
{
	static char buf[SOCK_ADDR_STRLEN];

	return sock_addr_format(a, buf, sizeof(buf));
}

/* wait_for - poll one fd for events, failing the test after 5 seconds */
static void wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert(p.revents & (events | POLLERR | POLLHUP));
}

static bool has_flag(int fd, int get, int flag)
{
	return fcntl(fd, get) & flag;
}

/*
 * connected_pair - listen on addr (port 0), connect and accept. Fills in
 * the listener, client and server fds. Returns false when the address
 * family is unavailable here (no IPv6).
 */
static bool connected_pair(const char *addr, int *lfd, int *cfd, int *sfd,
			   struct sock_addr *peer)
{
	struct sock_addr a = parse_ok(addr), bound;

	*lfd = sock_listen(&a, 16, 0);
	if (*lfd == -EAFNOSUPPORT || *lfd == -EADDRNOTAVAIL)
		return false;
	ck_assert_msg(*lfd >= 0, "listen %s: %s", addr, strerror(-*lfd));
	ck_assert_int_eq(sock_local_addr(*lfd, &bound), 0);
	ck_assert_int_ne(sock_addr_port(&bound), 0);
	*cfd = sock_connect(&bound);
	ck_assert_msg(*cfd >= 0, "connect %s: %s", fmt(&bound),
		      strerror(-*cfd));
	wait_for(*cfd, POLLOUT);
	ck_assert_int_eq(sock_error(*cfd), 0);
	wait_for(*lfd, POLLIN);
	*sfd = sock_accept(*lfd, peer);
	ck_assert_msg(*sfd >= 0, "accept: %s", strerror(-*sfd));
	return true;
}

START_TEST(test_parse_good)
{
	static const struct {
		const char *in;
		int family, port;
		const char *ip, *formatted;
	} cases[] = {
		{ "1.2.3.4:80", AF_INET, 80, "1.2.3.4", "1.2.3.4:80" },
		{ "[::1]:8080", AF_INET6, 8080, "::1", "[::1]:8080" },
		{ ":4143", AF_INET, 4143, "0.0.0.0", "0.0.0.0:4143" },
		{ "*:80", AF_INET, 80, "0.0.0.0", "0.0.0.0:80" },
		{ "[::]:0", AF_INET6, 0, "::", "[::]:0" },
		{ "0.0.0.0:0", AF_INET, 0, "0.0.0.0", "0.0.0.0:0" },
		{ "255.255.255.255:65535", AF_INET, 65535, "255.255.255.255",
		  "255.255.255.255:65535" },
		{ "10.0.0.1:080", AF_INET, 80, "10.0.0.1", "10.0.0.1:80" },
		{ "[::ffff:127.0.0.1]:1", AF_INET6, 1, "::ffff:127.0.0.1",
		  "[::ffff:127.0.0.1]:1" },
		{ "[2001:db8::1]:443", AF_INET6, 443, "2001:db8::1",
		  "[2001:db8::1]:443" },
	};
	char ip[SOCK_ADDR_STRLEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sock_addr a = parse_ok(cases[i].in);

		ck_assert_int_eq(a.u.sa.sa_family, cases[i].family);
		ck_assert_uint_eq(a.len, cases[i].family == AF_INET ?
						 sizeof(struct sockaddr_in) :
						 sizeof(struct sockaddr_in6));
		ck_assert_int_eq(sock_addr_port(&a), cases[i].port);
		ck_assert_str_eq(sock_addr_format_ip(&a, ip, sizeof(ip)),
				 cases[i].ip);
		ck_assert_str_eq(fmt(&a), cases[i].formatted);
	}
}
END_TEST

START_TEST(test_parse_errors)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{ "", "empty address" },
		{ "1.2.3.4", "missing port (want HOST:PORT)" },
		{ "1.2.3.4:", "missing port (want HOST:PORT)" },
		{ "1.2.3.4:70000", "port out of range 0-65535" },
		{ "1.2.3.4:65536", "port out of range 0-65535" },
		{ "::1:80", "IPv6 address needs brackets: [ADDR]:PORT" },
		{ "::1", "IPv6 address needs brackets: [ADDR]:PORT" },
		{ "[::1]80", "missing port after ']'" },
		{ "[::1]", "missing port after ']'" },
		{ "[::1", "missing ']' after IPv6 address" },
		{ "[::1]:", "missing port (want HOST:PORT)" },
		{ "host:80", "not an IP address (names are not resolved here)" },
		{ "localhost:80",
		  "not an IP address (names are not resolved here)" },
		{ "1.2.3:80", "not an IP address (names are not resolved here)" },
		{ "1.2.3.4.5:80",
		  "not an IP address (names are not resolved here)" },
		{ "[1.2.3]:80",
		  "not an IP address (names are not resolved here)" },
		{ "[fe80::1%no-such-if0]:80",
		  "not an IP address (names are not resolved here)" },
		{ "1.2.3.4:-1", "port is not a number" },
		{ "1.2.3.4:+80", "port is not a number" },
		{ "1.2.3.4:8x", "port is not a number" },
		{ "1.2.3.4:0x50", "port is not a number" },
		{ "1.2.3.4: 80", "port is not a number" },
		{ "1.2.3.4:\t80", "port is not a number" },
		{ "1.2.3.4:80 ", "port is not a number" },
		{ "1.2.3.4:99999999999999999999", "port is not a number" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sock_addr a;
		char err[128] = "";

		ck_assert_msg(sock_addr_parse(cases[i].in, &a, err,
					      sizeof(err)) == -EINVAL,
			      "\"%s\" parsed", cases[i].in);
		ck_assert_msg(strcmp(err, cases[i].why) == 0,
			      "\"%s\": \"%s\", want \"%s\"", cases[i].in, err,
			      cases[i].why);
	}
}
END_TEST

START_TEST(test_parse_error_buffer)
{
	struct sock_addr a;
	char err[8];

	/* no room for a reason is fine, a short one is truncated */
	ck_assert_int_eq(sock_addr_parse("nope", &a, NULL, 0), -EINVAL);
	ck_assert_int_eq(sock_addr_parse(NULL, &a, NULL, 0), -EINVAL);
	ck_assert_int_eq(sock_addr_parse("nope", &a, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "missing");
}
END_TEST

START_TEST(test_format_round_trip)
{
	static const char *const addrs[] = {
		"1.2.3.4:80",	   "0.0.0.0:0",	     "[::1]:8080",
		"[::]:4143",	   "[fe80::1]:9",    "[2001:db8::a:b]:65535",
		"127.0.0.1:4191",  "[::ffff:10.0.0.1]:53",
	};

	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		struct sock_addr a = parse_ok(addrs[i]), b;

		ck_assert_str_eq(fmt(&a), addrs[i]);
		b = parse_ok(fmt(&a));
		ck_assert(sock_addr_equal(&a, &b));
	}
}
END_TEST

START_TEST(test_format_zone_round_trip)
{
	struct sock_addr a, b;
	char want[64], ip[SOCK_ADDR_STRLEN], name[IF_NAMESIZE];
	unsigned idx = if_nametoindex("lo");

	if (!idx || !if_indextoname(idx, name))
		return; /* no loopback interface here */
	snprintf(want, sizeof(want), "[fe80::1%%%s]:80", name);
	a = parse_ok(want);
	ck_assert_uint_eq(a.u.in6.sin6_scope_id, idx);
	/* the zone is part of the address: formatting keeps it */
	ck_assert_str_eq(fmt(&a), want);
	b = parse_ok(fmt(&a));
	ck_assert(sock_addr_equal(&a, &b));
	snprintf(want, sizeof(want), "fe80::1%%%s", name);
	ck_assert_str_eq(sock_addr_format_ip(&a, ip, sizeof(ip)), want);
	ck_assert_int_eq(sock_ip_parse(want, &b), 0);
	ck_assert_uint_eq(b.u.in6.sin6_scope_id, idx);
}
END_TEST

START_TEST(test_format_unknown_family)
{
	struct sock_addr a;
	char buf[SOCK_ADDR_STRLEN];

	memset(&a, 0, sizeof(a));
	a.u.sa.sa_family = AF_UNIX;
	ck_assert_str_eq(sock_addr_format_ip(&a, buf, sizeof(buf)), "?");
}
END_TEST

START_TEST(test_ip_parse)
{
	struct sock_addr a;
	char ip[SOCK_ADDR_STRLEN];

	ck_assert_int_eq(sock_ip_parse("10.1.2.3", &a), 0);
	ck_assert_int_eq(a.u.sa.sa_family, AF_INET);
	ck_assert_int_eq(sock_addr_port(&a), 0);
	ck_assert_str_eq(sock_addr_format_ip(&a, ip, sizeof(ip)), "10.1.2.3");
	ck_assert_int_eq(sock_ip_parse("2001:db8::1", &a), 0);
	ck_assert_int_eq(a.u.sa.sa_family, AF_INET6);
	ck_assert_int_eq(sock_addr_port(&a), 0);
	ck_assert_int_eq(sock_ip_parse("1.2.3.4:80", &a), -EINVAL);
	ck_assert_int_eq(sock_ip_parse("[::1]", &a), -EINVAL);
	ck_assert_int_eq(sock_ip_parse("", &a), -EINVAL);
	ck_assert_int_eq(sock_ip_parse("example.com", &a), -EINVAL);
	ck_assert_int_eq(sock_ip_parse("::1%", &a), -EINVAL);
	ck_assert_int_eq(
		sock_ip_parse("1111:2222:3333:4444:5555:6666:7777:8888%"
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			      &a),
		-EINVAL);
}
END_TEST

START_TEST(test_port_and_equal)
{
	struct sock_addr a = parse_ok("1.2.3.4:80"), b = parse_ok("1.2.3.4:80");
	struct sock_addr c = parse_ok("[::1]:80"), d = parse_ok("[::1]:80");
	struct sock_addr m = parse_ok("[::ffff:1.2.3.4]:80");

	ck_assert(sock_addr_equal(&a, &b));
	ck_assert(sock_addr_equal(&c, &d));
	sock_addr_set_port(&b, 81);
	ck_assert_int_eq(sock_addr_port(&b), 81);
	ck_assert(!sock_addr_equal(&a, &b));
	sock_addr_set_port(&d, 65535);
	ck_assert_int_eq(sock_addr_port(&d), 65535);
	ck_assert_str_eq(fmt(&d), "[::1]:65535");
	ck_assert(!sock_addr_equal(&c, &d));
	ck_assert(!sock_addr_equal(&a, &c));
	/* a v4-mapped address is another family */
	ck_assert(!sock_addr_equal(&a, &m));
	b = parse_ok("1.2.3.5:80");
	ck_assert(!sock_addr_equal(&a, &b));
}
END_TEST

START_TEST(test_is_loopback)
{
	static const struct {
		const char *ip;
		bool loop;
	} cases[] = {
		{ "127.0.0.1", true },	     { "127.255.255.254", true },
		{ "127.1.2.3", true },	     { "128.0.0.1", false },
		{ "126.255.255.255", false }, { "10.0.0.1", false },
		{ "0.0.0.0", false },	     { "::1", true },
		{ "::", false },	     { "::2", false },
		{ "::ffff:127.0.0.1", true }, { "::ffff:127.9.9.9", true },
		{ "::ffff:10.0.0.1", false }, { "fe80::1", false },
		{ "::127.0.0.1", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sock_addr a;

		ck_assert_int_eq(sock_ip_parse(cases[i].ip, &a), 0);
		ck_assert_msg(sock_addr_is_loopback(&a) == cases[i].loop,
			      "%s", cases[i].ip);
	}
}
END_TEST

START_TEST(test_listen_connect_accept)
{
	struct sock_addr bound, peer, local, remote;
	int lfd, cfd, sfd, one = 0;
	socklen_t len = sizeof(one);
	char buf[16];

	ck_assert(connected_pair("127.0.0.1:0", &lfd, &cfd, &sfd, &peer));
	ck_assert_int_eq(sock_local_addr(lfd, &bound), 0);
	ck_assert(sock_addr_is_loopback(&bound));
	ck_assert_int_eq(bound.u.sa.sa_family, AF_INET);

	/* every fd is non-blocking and close-on-exec */
	ck_assert(has_flag(lfd, F_GETFL, O_NONBLOCK));
	ck_assert(has_flag(cfd, F_GETFL, O_NONBLOCK));
	ck_assert(has_flag(sfd, F_GETFL, O_NONBLOCK));
	ck_assert(has_flag(lfd, F_GETFD, FD_CLOEXEC));
	ck_assert(has_flag(cfd, F_GETFD, FD_CLOEXEC));
	ck_assert(has_flag(sfd, F_GETFD, FD_CLOEXEC));

	/* the accepted peer is the client, seen from both sides */
	ck_assert_int_eq(sock_local_addr(cfd, &local), 0);
	ck_assert(sock_addr_equal(&peer, &local));
	ck_assert_int_eq(sock_peer_addr(cfd, &remote), 0);
	ck_assert(sock_addr_equal(&remote, &bound));
	ck_assert_int_eq(sock_peer_addr(sfd, &remote), 0);
	ck_assert(sock_addr_equal(&remote, &local));

	/* nobody else is waiting */
	ck_assert_int_eq(sock_accept(lfd, NULL), -EAGAIN);

	ck_assert_int_eq(sock_set_nodelay(cfd), 0);
	ck_assert_int_eq(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, &len),
			 0);
	ck_assert_int_eq(one, 1);

	ck_assert_int_eq(write(cfd, "ping", 4), 4);
	wait_for(sfd, POLLIN);
	ck_assert_int_eq(read(sfd, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_int_eq(read(sfd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(cfd);
	wait_for(sfd, POLLIN);
	ck_assert_int_eq(read(sfd, buf, sizeof(buf)), 0);
	close(sfd);
	close(lfd);
}
END_TEST

START_TEST(test_accept_peer_optional)
{
	struct sock_addr a = parse_ok("127.0.0.1:0"), bound;
	int lfd, cfd, sfd;

	lfd = sock_listen(&a, 0, 0); /* backlog 0: the default */
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(sock_local_addr(lfd, &bound), 0);
	cfd = sock_connect(&bound);
	ck_assert_int_ge(cfd, 0);
	wait_for(lfd, POLLIN);
	sfd = sock_accept(lfd, NULL);
	ck_assert_int_ge(sfd, 0);
	close(sfd);
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct sock_addr a = parse_ok("127.0.0.1:0"), bound;
	int lfd, cfd;

	/* a port that was just free: nothing listens there now */
	lfd = sock_listen(&a, 1, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(sock_local_addr(lfd, &bound), 0);
	close(lfd);
	cfd = sock_connect(&bound);
	if (cfd < 0) {
		ck_assert_int_eq(cfd, -ECONNREFUSED);
		return;
	}
	wait_for(cfd, POLLOUT);
	ck_assert_int_eq(sock_error(cfd), -ECONNREFUSED);
	close(cfd);
}
END_TEST

START_TEST(test_listen_errors)
{
	struct sock_addr a = parse_ok("127.0.0.1:0"), bound;
	struct sock_addr other = parse_ok("192.0.2.1:0");
	int lfd, again;

	lfd = sock_listen(&a, 1, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(sock_local_addr(lfd, &bound), 0);
	/* the port is taken */
	again = sock_listen(&bound, 1, 0);
	ck_assert_int_eq(again, -EADDRINUSE);
	close(lfd);
	/* an address this host does not have */
	ck_assert_int_eq(sock_listen(&other, 1, 0), -EADDRNOTAVAIL);
}
END_TEST

START_TEST(test_reuseport)
{
	struct sock_addr a = parse_ok("127.0.0.1:0"), bound, second;
	int l1, l2, l3, cfd, sfd;

	l1 = sock_listen(&a, 8, SOCK_REUSEPORT);
	ck_assert_int_ge(l1, 0);
	ck_assert_int_eq(sock_local_addr(l1, &bound), 0);
	l2 = sock_listen(&bound, 8, SOCK_REUSEPORT);
	ck_assert_msg(l2 >= 0, "second listener: %s", strerror(-l2));
	ck_assert_int_eq(sock_local_addr(l2, &second), 0);
	ck_assert(sock_addr_equal(&bound, &second));
	/* without the flag the port is taken */
	l3 = sock_listen(&bound, 8, 0);
	ck_assert_int_eq(l3, -EADDRINUSE);

	/* connections reach one of the two */
	cfd = sock_connect(&bound);
	ck_assert_int_ge(cfd, 0);
	wait_for(cfd, POLLOUT);
	ck_assert_int_eq(sock_error(cfd), 0);
	{
		struct pollfd p[2] = { { .fd = l1, .events = POLLIN },
				       { .fd = l2, .events = POLLIN } };

		ck_assert_int_eq(poll(p, 2, 5000), 1);
		sfd = sock_accept(p[0].revents ? l1 : l2, NULL);
		ck_assert_int_ge(sfd, 0);
	}
	close(sfd);
	close(cfd);
	close(l1);
	close(l2);
}
END_TEST

START_TEST(test_ipv6)
{
	struct sock_addr peer, bound, any = parse_ok("[::]:0");
	int lfd, cfd, sfd, v6only = -1;
	socklen_t len = sizeof(v6only);

	if (!connected_pair("[::1]:0", &lfd, &cfd, &sfd, &peer))
		return; /* no IPv6 here: nothing to test */
	ck_assert_int_eq(peer.u.sa.sa_family, AF_INET6);
	ck_assert(sock_addr_is_loopback(&peer));
	ck_assert_int_eq(sock_local_addr(lfd, &bound), 0);
	ck_assert_str_ne(fmt(&bound), "[::1]:0");
	ck_assert(strncmp(fmt(&bound), "[::1]:", 6) == 0);
	ck_assert_int_eq(write(cfd, "v6", 2), 2);
	wait_for(sfd, POLLIN);
	close(sfd);
	close(cfd);
	close(lfd);

	/* V6ONLY is set only when asked for */
	lfd = sock_listen(&any, 1, SOCK_V6ONLY);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
				    &len),
			 0);
	ck_assert_int_eq(v6only, 1);
	close(lfd);
	lfd = sock_listen(&any, 1, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
				    &len),
			 0);
	ck_assert_int_eq(v6only, 0);
	close(lfd);
}
END_TEST

/*
 * not_made_up - sock_original_dst on a connection no NAT rule touched: an
 * error (ENOENT, or ENOPROTOOPT without conntrack) or, where conntrack
 * tracks the connection (any nat table loaded), the destination it really
 * has; never a made-up address.
 */
static void not_made_up(int fd)
{
	struct sock_addr dst, local;
	int r = sock_original_dst(fd, &dst);

	ck_assert_int_ge(r, -4095);
	if (r < 0)
		return;
	ck_assert_int_eq(sock_local_addr(fd, &local), 0);
	ck_assert(sock_addr_equal(&dst, &local));
}

START_TEST(test_original_dst_not_redirected)
{
	struct sock_addr peer;
	int lfd, cfd, sfd;

	ck_assert(connected_pair("127.0.0.1:0", &lfd, &cfd, &sfd, &peer));
	not_made_up(sfd);
	close(sfd);
	close(cfd);
	close(lfd);

	if (connected_pair("[::1]:0", &lfd, &cfd, &sfd, &peer)) {
		not_made_up(sfd);
		close(sfd);
		close(cfd);
		close(lfd);
	}
}
END_TEST

START_TEST(test_addr_resolve)
{
	struct sock_addr a;
	char err[128], buf[SOCK_ADDR_STRLEN];

	ck_assert_int_eq(sock_addr_resolve("10.1.2.3:80", &a, err, sizeof(err)), 0);
	ck_assert_str_eq(sock_addr_format(&a, buf, sizeof(buf)), "10.1.2.3:80");
	/* /etc/hosts names localhost */
	ck_assert_int_eq(sock_addr_resolve("localhost:8085", &a, err, sizeof(err)), 0);
	ck_assert(sock_addr_is_loopback(&a));
	ck_assert_int_eq(sock_addr_port(&a), 8085);
	ck_assert_int_eq(sock_addr_resolve("localhost", &a, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(sock_addr_resolve("localhost:http", &a, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(sock_addr_resolve("localhost:70000", &a, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(sock_addr_resolve("no-such-host.invalid:80", &a, err,
					   sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "no-such-host.invalid"), "%s", err);
}
END_TEST

START_TEST(test_fd_errors)
{
	struct sock_addr a;
	int p[2];

	ck_assert_int_eq(sock_local_addr(-1, &a), -EBADF);
	ck_assert_int_eq(sock_peer_addr(-1, &a), -EBADF);
	ck_assert_int_eq(sock_error(-1), -EBADF);
	ck_assert_int_eq(sock_accept(-1, &a), -EBADF);
	ck_assert_int_eq(sock_original_dst(-1, &a), -EBADF);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(sock_original_dst(p[0], &a), -ENOTSOCK);
	ck_assert_int_eq(sock_set_nodelay(p[0]), -ENOTSOCK);
	ck_assert(!has_flag(p[0], F_GETFL, O_NONBLOCK));
	ck_assert_int_eq(sock_set_nonblock(p[0]), 0);
	ck_assert(has_flag(p[0], F_GETFL, O_NONBLOCK));
	ck_assert_int_eq(sock_set_nonblock(-1), -EBADF);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *sock_suite(void)
{
	Suite *s = suite_create("sock");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_error_buffer);
	tcase_add_test(tc, test_format_round_trip);
	tcase_add_test(tc, test_format_zone_round_trip);
	tcase_add_test(tc, test_format_unknown_family);
	tcase_add_test(tc, test_ip_parse);
	tcase_add_test(tc, test_port_and_equal);
	tcase_add_test(tc, test_is_loopback);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, test_listen_connect_accept);
	tcase_add_test(tc, test_accept_peer_optional);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_listen_errors);
	tcase_add_test(tc, test_reuseport);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_original_dst_not_redirected);
	tcase_add_test(tc, test_fd_errors);
	tcase_add_test(tc, test_addr_resolve);
	suite_add_tcase(s, tc);
	return s;
}
