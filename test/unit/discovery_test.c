/* SPDX-License-Identifier: Apache-2.0 */
/* discovery_test.c - unit tests for discovery.c (names) and destination.c (addresses) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conduit/json.h"

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

START_TEST(test_cluster_names)
{
	static const struct {
		const char *host;
		bool cluster;
	} cases[] = {
		{ "web.demo.svc.cluster.local:8080", true },
		{ "web.demo.svc.cluster.local.", true },
		{ "Web.Demo.SVC:80", true },
		{ "web.demo.svc", true },
		{ "web.demo", false },	  /* a service, or example.com */
		{ "example.com:443", false },
		{ "web.example.test", false },
		{ "10.0.0.1:80", false },
		{ "svc", false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(discovery_cluster_name(cases[i].host,
						     strlen(cases[i].host)) ==
				      cases[i].cluster,
			      "%s", cases[i].host);
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


/* --- the balancer, against a real destination server in this process --- */

struct bal {
	struct ev_loop *loop;
	struct cluster *cl;
	struct destination *dst;
	struct discovery *d;
};

static void bal_put(struct bal *b, enum cluster_op op, const char *text)
{
	char err[256] = "";
	struct json *j = json_parse(text, strlen(text), err, sizeof(err));

	ck_assert_msg(j, "bad fixture: %s", err);
	ck_assert_msg(cluster_apply(b->cl, op, j, err, sizeof(err)) >= 0, "%s", err);
	json_free(j);
}

static void bal_pod(struct bal *b, enum cluster_op op, int n)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-%d\",\"namespace\":\"shop\","
		 "\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
		 "\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]},"
		 "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.9.0.%d\","
		 "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 n, n);
	bal_put(b, op, text);
}

static void bal_start(struct bal *b, int npods)
{
	struct cluster_config cc = { .derive_endpoints = true };
	struct destination_config dc = { 0 };
	struct discovery_config qc = { 0 };
	struct sock_addr a;
	char err[64];

	b->loop = ev_loop_new(EVFLAG_AUTO);
	b->cl = cluster_new(&cc);
	bal_put(b, CLUSTER_UPSERT,
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
		"\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":["
		"{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"}]}}");
	for (int i = 1; i <= npods; i++)
		bal_pod(b, CLUSTER_UPSERT, i);
	cluster_set_synced(b->cl, true);
	dc.loop = b->loop;
	dc.cluster = b->cl;
	b->dst = destination_new(&dc);
	ck_assert_ptr_nonnull(b->dst);
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(destination_listen(b->dst, &a), 0);
	ck_assert_int_eq(destination_local_addr(b->dst, &qc.addr), 0);
	qc.loop = b->loop;
	b->d = discovery_new(&qc);
}

static void bal_stop(struct bal *b)
{
	discovery_free(b->d);
	destination_free(b->dst);
	cluster_free(b->cl);
	ev_loop_destroy(b->loop);
}

#define WEB "web.shop.svc.cluster.local:80"

/* bal_until - run the loop until the service has n endpoints (5 s) */
static struct dsc_service *bal_until(struct bal *b, size_t n)
{
	struct dsc_service *s = NULL;
	struct discovery_stats st;

	for (int i = 0; i < 500; i++) {
		s = discovery_lookup(b->d, WEB);
		discovery_stats(b->d, &st);
		if (dsc_service_state(s) == DSC_READY && st.endpoints == n)
			return s;
		ev_run(b->loop, EVRUN_ONCE | EVRUN_NOWAIT);
		usleep(10000);
	}
	ck_abort_msg("the service never reached %zu endpoints", n);
	return s;
}

static int ep_index(const struct dsc_endpoint *e)
{
	return ntohl(e->addr.u.in4.sin_addr.s_addr) & 0xff;
}

/*
 * A thousand requests a second, open loop, on a virtual clock: endpoint
 * 3 answers in 50 ms, the others in 10 ms. Requests in flight count as
 * pending, so the balancer sees both latency and load.
 */
static void simulate(struct dsc_service *s, struct bal *b, int requests,
		     unsigned picks[4])
{
	enum { MAXQ = 256 };
	struct {
		struct dsc_endpoint *e;
		int done_at, lat;
	} q[MAXQ];
	int nq = 0;

	for (int t = 0; t < requests; t++) {
		for (int i = 0; i < nq;) {
			if (q[i].done_at <= t) {
				dsc_done(b->d, q[i].e, (int64_t)q[i].lat * 1000000);
				dsc_release(q[i].e);
				q[i] = q[--nq];
			} else {
				i++;
			}
		}
		struct dsc_endpoint *e = dsc_pick(s);

		ck_assert_ptr_nonnull(e);
		ck_assert_int_lt(nq, MAXQ);
		picks[ep_index(e)]++;
		q[nq].e = e;
		q[nq].lat = ep_index(e) == 3 ? 50 : 10;
		q[nq].done_at = t + q[nq].lat;
		nq++;
	}
	while (nq) {
		nq--;
		dsc_done(b->d, q[nq].e, (int64_t)q[nq].lat * 1000000);
		dsc_release(q[nq].e);
	}
}

START_TEST(test_balancer)
{
	struct bal b;
	struct dsc_service *s;
	unsigned picks[4] = { 0 };

	bal_start(&b, 3);
	s = bal_until(&b, 3);

	/* a slow endpoint gets proportionally less */
	simulate(s, &b, 6000, picks);
	ck_assert_msg(picks[3] * 3 < picks[1] && picks[3] * 3 < picks[2],
		      "slow endpoint: %u picks vs %u and %u", picks[3], picks[1],
		      picks[2]);
	ck_assert_uint_eq(picks[1] + picks[2] + picks[3], 6000);

	/* a dead one (its connects fail) gets none while it backs off */
	{
		struct dsc_endpoint *dead = NULL;

		for (int i = 0; i < 50 && !dead; i++) {
			struct dsc_endpoint *e = dsc_pick(s);

			if (ep_index(e) == 2)
				dead = e;
			else
				dsc_done(b.d, e, -1), dsc_release(e);
		}
		ck_assert_ptr_nonnull(dead);
		dsc_connect_failed(b.d, dead);
		dsc_done(b.d, dead, -1);
		dsc_release(dead);
		memset(picks, 0, sizeof(picks));
		for (int i = 0; i < 1000; i++) {
			struct dsc_endpoint *e = dsc_pick(s);

			picks[ep_index(e)]++;
			dsc_done(b.d, e, 10 * 1000000);
			dsc_release(e);
		}
		ck_assert_uint_eq(picks[2], 0);
		ck_assert_uint_eq(picks[1] + picks[3], 1000);
	}

	/* an endpoint removed from the cluster is never picked again */
	bal_pod(&b, CLUSTER_DELETE, 1);
	s = bal_until(&b, 2);
	memset(picks, 0, sizeof(picks));
	for (int i = 0; i < 500; i++) {
		struct dsc_endpoint *e = dsc_pick(s);

		picks[ep_index(e)]++;
		dsc_done(b.d, e, 10 * 1000000);
		dsc_release(e);
	}
	ck_assert_uint_eq(picks[1], 0);
	/* endpoint 2 still backs off, so 3 takes all; when every endpoint
	 * fails, they are tried anyway rather than failing the request */
	ck_assert_uint_eq(picks[3], 500);
	{
		struct dsc_endpoint *e = dsc_pick(s);

		dsc_connect_failed(b.d, e);
		dsc_done(b.d, e, -1);
		dsc_release(e);
		e = dsc_pick(s);
		ck_assert_ptr_nonnull(e);
		dsc_done(b.d, e, -1);
		dsc_release(e);
	}
	bal_stop(&b);
}
END_TEST

Suite *discovery_suite(void)
{
	Suite *s = suite_create("discovery");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_tcp_addr_round_trip);
	tcase_add_test(tc, test_cluster_names);
	tcase_add_test(tc, test_balancer);
	suite_add_tcase(s, tc);
	return s;
}
