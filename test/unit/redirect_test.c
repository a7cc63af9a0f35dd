/* SPDX-License-Identifier: Apache-2.0 */
/* redirect_test.c - unit tests for redirect.c: proxy-init's rules */
#include <errno.h>
#include <string.h>

#include "conduit/buf.h"
#include "conduit/redirect.h"
#include "suites.h"

/* What `conduit proxy-init --simulate` prints with no flags. */
static const char default_text[] =
	"table ip conduit_proxy_init\n"
	"delete table ip conduit_proxy_init\n"
	"table ip conduit_proxy_init {\n"
	"\tchain PROXY_INIT_REDIRECT {\n"
	"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	"\t\ttcp dport 4190 return comment \"proxy-init/ignore-inbound-port-4190\"\n"
	"\t\ttcp dport 4191 return comment \"proxy-init/ignore-inbound-port-4191\"\n"
	"\t\tmeta l4proto tcp redirect to :4143 comment \"proxy-init/redirect-all-inbound-to-4143\"\n"
	"\t}\n"
	"\n"
	"\tchain PROXY_INIT_OUTPUT {\n"
	"\t\ttype nat hook output priority -100; policy accept;\n"
	"\t\tmeta skuid 2102 return comment \"proxy-init/ignore-uid\"\n"
	"\t\toifname \"lo\" return comment \"proxy-init/ignore-loopback\"\n"
	"\t\tmeta l4proto tcp redirect to :4140 comment \"proxy-init/redirect-all-outbound-to-4140\"\n"
	"\t}\n"
	"}\n";

static char *format(const struct redirect_config *c, bool cleanup,
		    struct buf *b)
{
	buf_init(b, 0);
	redirect_format(c, cleanup, b);
	return buf_cstr(b);
}

START_TEST(test_default_ruleset)
{
	struct redirect_config c;
	struct buf b;

	redirect_config_init(&c);
	ck_assert_str_eq(format(&c, false, &b), default_text);
	buf_release(&b);
	redirect_config_release(&c);
}
END_TEST

START_TEST(test_cleanup_text)
{
	struct redirect_config c;
	struct buf b;

	redirect_config_init(&c);
	ck_assert_str_eq(format(&c, true, &b),
			 "table ip conduit_proxy_init\n"
			 "delete table ip conduit_proxy_init\n"
			 "table ip6 conduit_proxy_init\n"
			 "delete table ip6 conduit_proxy_init\n");
	buf_release(&b);
	redirect_config_release(&c);
}
END_TEST

/* rule_comments - the comments of table t's rules in chain, joined by ' ' */
static const char *rule_comments(const struct nft_table *t, const char *chain,
				 struct buf *b)
{
	buf_init(b, 0);
	for (size_t i = 0; i < t->nrules; i++)
		if (strcmp(t->rules[i].chain, chain) == 0)
			buf_printf(b, "%s%s", buf_len(b) ? " " : "",
				   t->rules[i].comment);
	return buf_cstr(b) ? buf_cstr(b) : "";
}

START_TEST(test_options)
{
	struct redirect_config c;
	struct nft_table t;
	struct buf b;
	char err[128];

	redirect_config_init(&c);
	c.inbound_port = 5000;
	c.outbound_port = 5001;
	c.proxy_gid = 3000;
	ck_assert_int_eq(netlist_parse_ports("4191,3306,4444-4450",
					     &c.inbound_ignore, err, sizeof(err)), 0);
	ck_assert_int_eq(netlist_parse_ports("25", &c.outbound_ignore, err,
					     sizeof(err)), 0);
	ck_assert_int_eq(netlist_parse_cidrs("10.0.0.0/8,fd00::/8",
					     &c.subnets_ignore, err, sizeof(err)), 0);
	ck_assert_int_eq(netlist_parse_ports("8080,9000-9001", &c.redirect_ports,
					     err, sizeof(err)), 0);

	redirect_build(&c, NFT_FAMILY_IP, &t);
	ck_assert_str_eq(rule_comments(&t, REDIRECT_CHAIN_INBOUND, &b),
			 "proxy-init/ignore-inbound-port-4190 "
			 "proxy-init/ignore-inbound-port-4191 "
			 "proxy-init/ignore-inbound-port-3306 "
			 "proxy-init/ignore-inbound-port-4444-4450 "
			 "proxy-init/ignore-inbound-subnet-10.0.0.0/8 "
			 "proxy-init/redirect-inbound-port-8080-to-5000 "
			 "proxy-init/redirect-inbound-port-9000-9001-to-5000");
	buf_release(&b);
	ck_assert_str_eq(rule_comments(&t, REDIRECT_CHAIN_OUTBOUND, &b),
			 "proxy-init/ignore-uid proxy-init/ignore-gid "
			 "proxy-init/ignore-loopback "
			 "proxy-init/ignore-outbound-port-25 "
			 "proxy-init/ignore-outbound-subnet-10.0.0.0/8 "
			 "proxy-init/redirect-all-outbound-to-5001");
	buf_release(&b);
	ck_assert_str_eq(t.rules[t.nrules - 1].text,
			 "meta l4proto tcp redirect to :5001");
	ck_assert_str_eq(t.rules[6].text, "tcp dport 9000-9001 redirect to :5000");
	ck_assert_str_eq(t.rules[8].text, "meta skgid 3000 return");
	nft_table_release(&t);

	/* the IPv6 table gets the IPv6 subnets only */
	redirect_build(&c, NFT_FAMILY_IP6, &t);
	ck_assert_str_eq(t.rules[4].text, "ip6 saddr fd00::/8 return");
	ck_assert_str_eq(t.rules[4].comment, "proxy-init/ignore-inbound-subnet-fd00::/8");
	ck_assert_str_eq(t.rules[11].text, "ip6 daddr fd00::/8 return");
	ck_assert_uint_eq(t.nrules, 13);
	nft_table_release(&t);
	redirect_config_release(&c);
}
END_TEST

START_TEST(test_ipv6_and_no_uid)
{
	struct redirect_config c;
	struct buf b;
	const char *text;

	redirect_config_init(&c);
	c.ipv6 = true;
	c.proxy_uid = -1;
	text = format(&c, false, &b);
	ck_assert_ptr_nonnull(strstr(text, "table ip conduit_proxy_init {"));
	ck_assert_ptr_nonnull(strstr(text, "delete table ip6 conduit_proxy_init\n"
					   "table ip6 conduit_proxy_init {"));
	ck_assert_ptr_null(strstr(text, "skuid"));
	buf_release(&b);
	redirect_config_release(&c);
}
END_TEST

START_TEST(test_error_hints)
{
	struct nft_error e = { .err = -EPERM };

	ck_assert_str_eq(redirect_error_hint(&e),
			 "CAP_NET_ADMIN is missing in this network namespace");
	e.err = -ENOENT;
	str_copy(e.what, "add chain ip conduit_proxy_init X", sizeof(e.what));
	ck_assert_ptr_nonnull(strstr(redirect_error_hint(&e), "nat chain type"));
	e.err = -EINVAL;
	str_copy(e.what, "get table ip6 conduit_proxy_init", sizeof(e.what));
	ck_assert_ptr_nonnull(strstr(redirect_error_hint(&e), "CONFIG_NF_TABLES"));
	e.err = -EEXIST;
	ck_assert_str_eq(redirect_error_hint(&e), "");
}
END_TEST

START_TEST(test_enter_missing_netns)
{
	char msg[256];

	ck_assert_int_eq(redirect_enter_netns("/nonexistent/netns", msg, sizeof(msg)),
			 -ENOENT);
	ck_assert_str_eq(msg, "--netns /nonexistent/netns: No such file or directory "
			      "(ENOENT)");
}
END_TEST

Suite *redirect_suite(void)
{
	Suite *s = suite_create("redirect");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_default_ruleset);
	tcase_add_test(tc, test_cleanup_text);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_ipv6_and_no_uid);
	tcase_add_test(tc, test_error_hints);
	tcase_add_test(tc, test_enter_missing_netns);
	suite_add_tcase(s, tc);
	return s;
}
