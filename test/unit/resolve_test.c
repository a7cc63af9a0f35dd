/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve_test.c - unit tests for resolve.c: HOST:PORT splitting (and its
 * garbage), and lookups on a real loop that need no DNS server: literal
 * addresses, /etc/hosts' localhost, and a server that refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/resolve.h"
#include "suites.h"

START_TEST(split_good)
{
	char host[256], err[96];
	int port = 0;

	ck_assert_int_eq(resolve_split_host_port("conduit-dst.conduit.svc.cluster.local:8086",
						 host, sizeof(host), &port, err,
						 sizeof(err)), 0);
	ck_assert_str_eq(host, "conduit-dst.conduit.svc.cluster.local");
	ck_assert_int_eq(port, 8086);
	ck_assert_int_eq(resolve_split_host_port("[fd00::1]:443", host,
						 sizeof(host), &port, err,
						 sizeof(err)), 0);
	ck_assert_str_eq(host, "fd00::1");
	ck_assert_int_eq(port, 443);
	ck_assert_int_eq(resolve_split_host_port("10.0.0.1:1", host,
						 sizeof(host), &port, err,
						 sizeof(err)), 0);
	ck_assert_str_eq(host, "10.0.0.1");
}
END_TEST

START_TEST(split_garbage)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "", "empty address" },
		{ "name", "no port" },
		{ ":80", "empty host" },
		{ "name:", "bad port" },
		{ "name:0", "bad port" },
		{ "name:65536", "bad port" },
		{ "name:80x", "bad port" },
		{ "name:-1", "bad port" },
		{ "[::1]", "want [IPv6]:PORT" },
		{ "[::1:80", "want [IPv6]:PORT" },
		{ "[]:80", "empty host" },
	};
	char host[256], err[96];
	int port;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_int_lt(resolve_split_host_port(bad[i].in, host,
							 sizeof(host), &port,
							 err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, bad[i].why), "\"%s\": \"%s\"",
			      bad[i].in, err);
	}
	/* over-long names are refused, not truncated */
	{
		char big[400];

		memset(big, 'a', sizeof(big));
		strcpy(big + 300, ":80");
		ck_assert_int_lt(resolve_split_host_port(big, host, sizeof(host),
							 &port, err,
							 sizeof(err)), 0);
		ck_assert(strstr(err, "too long"));
	}
}
END_TEST

struct answer {
	int calls;
	size_t n;
	struct sock_addr addrs[RESOLVE_MAX_ADDRS];
	char error[96];
};

static void on_answer(void *arg, const struct sock_addr *addrs, size_t n,
		      const char *error)
{
	struct answer *a = arg;

	a->calls++;
	a->n = n;
	if (n)
		memcpy(a->addrs, addrs, n * sizeof(*addrs));
	snprintf(a->error, sizeof(a->error), "%s", error ? error : "");
}

/* run the loop until the answer came (bounded: 10 s) */
static void wait_answer(struct ev_loop *loop, struct answer *a)
{
	for (int i = 0; i < 1000 && !a->calls; i++)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(10000);
	ck_assert_int_eq(a->calls, 1);
}

static char *conf(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/resolve_test.%d.conf", (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(lookups)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char err[96], s[SOCK_ADDR_STRLEN];
	/* no DNS server there: port 53 of an address nobody uses */
	const char *path = conf("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
	struct resolver *r = resolver_new(loop, path, err, sizeof(err));
	struct answer a = { 0 };

	ck_assert_ptr_nonnull(r);
	/* a literal answers without DNS, with the port */
	ck_assert_int_eq(resolver_lookup(r, "10.1.2.3", 8086, on_answer, &a), 0);
	wait_answer(loop, &a);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_str_eq(sock_addr_format(&a.addrs[0], s, sizeof(s)), "10.1.2.3:8086");

	/* /etc/hosts' localhost, IPv4 first */
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(resolver_lookup(r, "localhost", 80, on_answer, &a), 0);
	wait_answer(loop, &a);
	ck_assert_uint_ge(a.n, 1);
	ck_assert_str_eq(sock_addr_format(&a.addrs[0], s, sizeof(s)), "127.0.0.1:80");

	/* a name only DNS could answer, and no server: an error, in time */
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(resolver_lookup(r, "conduit-dst.conduit.svc.cluster.local",
					 8086, on_answer, &a), 0);
	wait_answer(loop, &a);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_msg(a.error[0], "an error says why");

	/* empty and over-long names: refused at once, no callback */
	memset(&a, 0, sizeof(a));
	ck_assert_int_lt(resolver_lookup(r, "", 80, on_answer, &a), 0);
	{
		char big[300];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		ck_assert_int_lt(resolver_lookup(r, big, 80, on_answer, &a), 0);
	}
	ck_assert_int_eq(a.calls, 0);

	/* freed with a lookup in flight: its callback runs once, saying so */
	ck_assert_int_eq(resolver_lookup(r, "pending.example.invalid", 80,
					 on_answer, &a), 0);
	resolver_free(r);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_str_eq(a.error, "resolver shut down");
	unlink(path);
	ev_loop_destroy(loop);
}
END_TEST

Suite *resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, split_good);
	tcase_add_test(tc, split_garbage);
	tcase_add_test(tc, lookups);
	suite_add_tcase(s, tc);
	return s;
}
