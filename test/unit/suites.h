/* SPDX-License-Identifier: Apache-2.0 */
/* suites.h - the unit suites: one line per test/unit/<module>_test.c */
#ifndef CONDUIT_TEST_SUITES_H
#define CONDUIT_TEST_SUITES_H

#include <check.h>

/* SUITE(module): test/unit/<module>_test.c defines Suite *module_suite(void) */
#define SUITE_LIST(SUITE) \
	SUITE(base)      \
	SUITE(map)       \
	SUITE(cluster)   \
	SUITE(discovery) \
	SUITE(promtext)  \
	SUITE(stats)     \
	SUITE(retry_budget) \
	SUITE(pki)       \
	SUITE(identity)  \
	SUITE(tmpl)      \
	SUITE(base64)    \
	SUITE(proto)     \
	SUITE(log)       \
	SUITE(buf)       \
	SUITE(pool)      \
	SUITE(arena)     \
	SUITE(time)      \
	SUITE(sock)      \
	SUITE(resolve)   \
	SUITE(check)     \
	SUITE(loop)      \
	SUITE(flag)      \
	SUITE(json)      \
	SUITE(promql)    \
	SUITE(netlist)   \
	SUITE(nft)       \
	SUITE(redirect)  \
	SUITE(yaml)      \
	SUITE(inject)    \
	SUITE(metrics)   \
	SUITE(http1)     \
	SUITE(proxy_detect)\
	SUITE(proxy_http1) \
	SUITE(proxy_h2)    \
	SUITE(proxy_config)\
	SUITE(proxy_identity)\
	SUITE(h2)        \
	SUITE(grpc)      \
	SUITE(httpd)     \
	SUITE(httpc)     \
	SUITE(demoapp)   \
	SUITE(tls)       \
	SUITE(tls_relay) \
	SUITE(kube_config) \
	SUITE(kube_client) \
	SUITE(kube_watch) \
	SUITE(kube_store) \
	SUITE(kube_informer) \
	SUITE(jsonpatch)  \
	SUITE(injector)   \
	SUITE(web) \
	SUITE(dashboard)

#define SUITE_DECLARE(m) Suite *m##_suite(void);
SUITE_LIST(SUITE_DECLARE)
#undef SUITE_DECLARE

#endif
