/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_config_test.c - unit tests for proxy_config.c */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/flag.h"
#include "conduit/json.h"
#include "conduit/proxy_config.h"
#include "conduit/time.h"
#include "suites.h"

static const char *const env_vars[] = {
	"CONDUIT_PROXY_INBOUND_LISTEN_ADDR",
	"CONDUIT_PROXY_OUTBOUND_LISTEN_ADDR",
	"CONDUIT_PROXY_ADMIN_LISTEN_ADDR",
	"CONDUIT_PROXY_CONTROL_LISTEN_ADDR",
	"CONDUIT_PROXY_INBOUND_FORWARD",
	"CONDUIT_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
	"CONDUIT_PROXY_OUTBOUND_PORTS_DISABLE_PROTOCOL_DETECTION",
	"CONDUIT_PROXY_INBOUND_CONNECT_TIMEOUT",
	"CONDUIT_PROXY_OUTBOUND_CONNECT_TIMEOUT",
	"CONDUIT_PROXY_DETECT_TIMEOUT",
	"CONDUIT_PROXY_TCP_IDLE_TIMEOUT",
	"CONDUIT_PROXY_SHUTDOWN_GRACE",
	"CONDUIT_PROXY_ADMIN_REQUEST_TIMEOUT",
	"CONDUIT_PROXY_MAX_CONNECTIONS",
	"CONDUIT_PROXY_H2_MAX_CONCURRENT_STREAMS",
	"CONDUIT_PROXY_H2_MAX_HEADER_LIST_SIZE",
	"CONDUIT_PROXY_H2_MAX_PENDING_REQUESTS",
	"CONDUIT_PROXY_H2_IDLE_TIMEOUT",
	"CONDUIT_PROXY_H2_UPSTREAM_IDLE_TIMEOUT",
	"CONDUIT_PROXY_ADMIN_SHUTDOWN",
	"CONDUIT_PROXY_LOG",
	"CONDUIT_PROXY_POD_NAMESPACE",
	"CONDUIT_PROXY_POD_NAME",
	"CONDUIT_PROXY_WORKLOAD_KIND",
	"CONDUIT_PROXY_WORKLOAD_NAME",
};

static void clear_env(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_vars); i++)
		unsetenv(env_vars[i]);
}

/* parse - run proxy_config_parse over a NULL-terminated argument list */
static int parse(struct proxy_config *cfg, char **args)
{
	char *argv[32] = { "proxy" };
	char **av = argv;
	int argc = 1;

	for (; *args; args++)
		argv[argc++] = *args;
	proxy_config_init(cfg);
	return proxy_config_parse(cfg, &argc, &av);
}

START_TEST(test_defaults)
{
	struct proxy_config cfg;
	char b[256];

	clear_env();
	ck_assert_int_eq(parse(&cfg, (char *[]){ NULL }), FLAG_OK);
	ck_assert_str_eq(proxy_addrs_format(&cfg.inbound_listen, b, sizeof(b)),
			 "0.0.0.0:4143");
	ck_assert_str_eq(proxy_addrs_format(&cfg.outbound_listen, b, sizeof(b)),
			 "127.0.0.1:4140");
	ck_assert_str_eq(proxy_addrs_format(&cfg.admin_listen, b, sizeof(b)),
			 "0.0.0.0:4191");
	ck_assert_str_eq(proxy_addrs_format(&cfg.control_listen, b, sizeof(b)),
			 "0.0.0.0:4190");
	ck_assert(!cfg.has_inbound_forward);
	ck_assert_str_eq(proxy_ports_format(&cfg.inbound_no_detect, b, sizeof(b)),
			 "25,587,3306,4444,5432,6379,9300,11211");
	ck_assert(proxy_ports_contain(&cfg.outbound_no_detect, 3306));
	ck_assert(!proxy_ports_contain(&cfg.inbound_no_detect, 80));
	ck_assert_int_eq(cfg.inbound_connect_timeout, 100 * NSEC_PER_MSEC);
	ck_assert_int_eq(cfg.outbound_connect_timeout, NSEC_PER_SEC);
	ck_assert_int_eq(cfg.detect_timeout, 10 * NSEC_PER_SEC);
	ck_assert_int_eq(cfg.shutdown_grace, 25 * NSEC_PER_SEC);
	ck_assert_int_eq(cfg.tcp_idle_timeout, 0);
	ck_assert_int_eq(cfg.max_connections, 10000);
	ck_assert_int_eq(cfg.h2_max_concurrent_streams, 100);
	ck_assert_int_eq(cfg.h2_max_header_list, 64 << 10);
	ck_assert_int_eq(cfg.h2_max_pending, 1000);
	ck_assert_int_eq(cfg.h2_idle_timeout, 120 * NSEC_PER_SEC);
	ck_assert_int_eq(cfg.h2_upstream_idle_timeout, 60 * NSEC_PER_SEC);
	ck_assert(!cfg.admin_shutdown);
	ck_assert_int_eq(cfg.log_level, LOG_INFO);
	ck_assert_str_eq(cfg.workload_label, "");
}
END_TEST

START_TEST(test_flags_and_env)
{
	char *args[] = {
		"--inbound-forward", "127.0.0.1:8080",
		"--inbound-ports-disable-protocol-detection=7, 1000-1002",
		"--detect-timeout", "250ms", /* beats the variable */
		"--max-connections", "5",
		"--admin-shutdown", "--log=debug", NULL,
	};
	struct proxy_config cfg;
	char b[256];

	clear_env();
	setenv("CONDUIT_PROXY_OUTBOUND_CONNECT_TIMEOUT", "3s", 1);
	setenv("CONDUIT_PROXY_DETECT_TIMEOUT", "5s", 1);
	setenv("CONDUIT_PROXY_INBOUND_LISTEN_ADDR", "0.0.0.0:4143, [::]:4143", 1);
	setenv("CONDUIT_PROXY_WORKLOAD_KIND", "Deployment", 1);
	setenv("CONDUIT_PROXY_WORKLOAD_NAME", "web", 1);
	setenv("CONDUIT_PROXY_LOG", "warn", 1);
	ck_assert_int_eq(parse(&cfg, args), FLAG_OK);
	ck_assert(cfg.has_inbound_forward);
	ck_assert_str_eq(sock_addr_format(&cfg.inbound_forward, b, sizeof(b)),
			 "127.0.0.1:8080");
	ck_assert_str_eq(proxy_ports_format(&cfg.inbound_no_detect, b, sizeof(b)),
			 "7,1000-1002");
	/* the outbound list keeps its default */
	ck_assert(proxy_ports_contain(&cfg.outbound_no_detect, 25));
	ck_assert_int_eq(cfg.detect_timeout, 250 * NSEC_PER_MSEC);
	ck_assert_int_eq(cfg.outbound_connect_timeout, 3 * NSEC_PER_SEC);
	ck_assert_int_eq(cfg.max_connections, 5);
	ck_assert(cfg.admin_shutdown);
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	ck_assert_uint_eq(cfg.inbound_listen.n, 2);
	ck_assert_str_eq(proxy_addrs_format(&cfg.inbound_listen, b, sizeof(b)),
			 "0.0.0.0:4143,[::]:4143");
	ck_assert_str_eq(cfg.workload_label, "deployment");
	clear_env();
}
END_TEST

START_TEST(test_errors)
{
	static char *const bad[][3] = {
		{ "--inbound-ports-disable-protocol-detection", "70000" },
		{ "--inbound-ports-disable-protocol-detection", "0" },
		{ "--inbound-ports-disable-protocol-detection", "5-1" },
		{ "--inbound-ports-disable-protocol-detection", "1,,2" },
		{ "--inbound-ports-disable-protocol-detection", "1," },
		{ "--inbound-ports-disable-protocol-detection", "http" },
		{ "--inbound-listen-addr", "localhost:4143" },
		{ "--inbound-listen-addr", "1.2.3.4:1,1.2.3.4:1" },
		{ "--inbound-listen-addr", "1.1.1.1:1,1.1.1.2:1,1.1.1.3:1,1.1.1.4:1,1.1.1.5:1" },
		{ "--inbound-forward", "127.0.0.1" },
		{ "--inbound-forward", "127.0.0.1:0" },
		/* a forward to the proxy itself would loop */
		{ "--inbound-forward", "127.0.0.1:4143" },
		{ "--inbound-forward", "10.0.0.1:4191" },
		{ "--detect-timeout", "10" },
		{ "--max-connections", "0" },
		{ "--log", "verbose" },
		{ "--workload-kind", "Replica-Set" },
		{ "--workload-kind", "Pod" },
		{ "--no-such-flag", "1" },
	};
	struct proxy_config cfg;

	clear_env();
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *args[] = { bad[i][0], bad[i][1], NULL };

		if (parse(&cfg, args) != -EINVAL)
			ck_abort_msg("%s %s accepted", bad[i][0], bad[i][1]);
	}
	setenv("CONDUIT_PROXY_MAX_CONNECTIONS", "lots", 1);
	ck_assert_int_eq(parse(&cfg, (char *[]){ NULL }), -EINVAL);
	clear_env();
}
END_TEST

START_TEST(test_ports)
{
	struct proxy_ports p;
	char err[128], b[64];

	ck_assert_int_eq(proxy_ports_parse("", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(proxy_ports_format(&p, b, sizeof(b)), "");
	ck_assert_int_eq(proxy_ports_parse("65535, 1 ,3-5,4", &p, err,
					   sizeof(err)), 0);
	ck_assert_str_eq(proxy_ports_format(&p, b, sizeof(b)), "1,3-5,65535");
	ck_assert(proxy_ports_contain(&p, 65535));
	ck_assert(!proxy_ports_contain(&p, 0));
	ck_assert(!proxy_ports_contain(&p, 2));
	ck_assert(!proxy_ports_contain(&p, 70000));
	ck_assert_int_eq(proxy_ports_parse("1-65535", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(proxy_ports_format(&p, b, sizeof(b)), "1-65535");
	/* a failed parse leaves the set alone */
	ck_assert_int_eq(proxy_ports_parse("99999", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "port 99999 out of range 1-65535");
	ck_assert_str_eq(proxy_ports_format(&p, b, sizeof(b)), "1-65535");
	ck_assert_int_eq(proxy_ports_parse("9-3", &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "bad port range \"9-3\": 9 > 3");
}
END_TEST

START_TEST(test_h2_limits)
{
	struct proxy_config cfg;

	clear_env();
	setenv("CONDUIT_PROXY_H2_MAX_CONCURRENT_STREAMS", "7", 1);
	setenv("CONDUIT_PROXY_H2_UPSTREAM_IDLE_TIMEOUT", "1500ms", 1);
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--h2-max-header-list-size",
						 "8192", "--h2-idle-timeout",
						 "0", NULL }),
			 FLAG_OK);
	ck_assert_int_eq(cfg.h2_max_concurrent_streams, 7);
	ck_assert_int_eq(cfg.h2_upstream_idle_timeout, 1500 * NSEC_PER_MSEC);
	ck_assert_int_eq(cfg.h2_max_header_list, 8192);
	ck_assert_int_eq(cfg.h2_idle_timeout, 0);
	/* out of range: an error, not a silent clamp */
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--h2-max-header-list-size",
						 "100", NULL }),
			 -EINVAL);
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--h2-max-pending-requests",
						 "0", NULL }),
			 -EINVAL);
	clear_env();
}
END_TEST

START_TEST(test_env_json)
{
	struct proxy_config cfg;
	struct json *doc;
	char *text, err[128];

	clear_env();
	setenv("CONDUIT_PROXY_POD_NAMESPACE", "emojivoto", 1);
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--inbound-forward",
						 "[::1]:9090", NULL }),
			 FLAG_OK);
	text = proxy_config_json(&cfg);
	ck_assert_ptr_nonnull(text);
	doc = json_parse(text, strlen(text), err, sizeof(err));
	ck_assert_msg(doc != NULL, "%s: %s", err, text);
	ck_assert_str_eq(json_string(json_get(doc, "CONDUIT_PROXY_INBOUND_FORWARD")),
			 "[::1]:9090");
	ck_assert_str_eq(json_string(json_get(doc, "CONDUIT_PROXY_DETECT_TIMEOUT")),
			 "10s");
	ck_assert_str_eq(json_string(json_get(doc, "CONDUIT_PROXY_INBOUND_CONNECT_TIMEOUT")),
			 "100ms");
	ck_assert_str_eq(json_string(json_get(doc, "CONDUIT_PROXY_POD_NAMESPACE")),
			 "emojivoto");
	ck_assert_int_eq(json_type(json_get(doc, "CONDUIT_PROXY_POD_NAME")),
			 JSON_NULL);
	ck_assert_str_eq(json_string(json_get(doc, "CONDUIT_PROXY_LOG")), "info");
	json_free(doc);
	free(text);
	clear_env();
}
END_TEST

START_TEST(test_own_addr)
{
	struct proxy_config cfg;
	struct sock_addr a;
	char err[64];

	proxy_config_init(&cfg);
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:4140", &a, err, sizeof(err)), 0);
	ck_assert(proxy_config_is_own_addr(&cfg, &a));
	ck_assert_int_eq(sock_addr_parse("10.1.2.3:4191", &a, err, sizeof(err)), 0);
	ck_assert(proxy_config_is_own_addr(&cfg, &a)); /* 0.0.0.0:4191 */
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:8080", &a, err, sizeof(err)), 0);
	ck_assert(!proxy_config_is_own_addr(&cfg, &a));
	ck_assert_int_eq(sock_addr_parse("10.1.2.3:4140", &a, err, sizeof(err)), 0);
	ck_assert(!proxy_config_is_own_addr(&cfg, &a)); /* 127.0.0.1:4140 only */
}
END_TEST

Suite *proxy_config_suite(void)
{
	Suite *s = suite_create("proxy_config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_flags_and_env);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_h2_limits);
	tcase_add_test(tc, test_env_json);
	tcase_add_test(tc, test_own_addr);
	suite_add_tcase(s, tc);
	return s;
}
