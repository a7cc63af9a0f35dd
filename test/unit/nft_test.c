/* SPDX-License-Identifier: Apache-2.0 */
/* nft_test.c - unit tests for nft.c: message bytes, batches, ACKs, decoding */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "conduit/buf.h"
#include "conduit/nft.h"
#include "suites.h"

/*
 * The expected bytes below are what `nft --debug=mnl -f` (nftables 1.0.6)
 * sent for
 *
 *   table ip t {
 *     chain c {
 *       type nat hook output priority -100; policy accept;
 *       meta skuid 2102 return comment "proxy-init/ignore-uid"
 *       meta l4proto tcp redirect to :4140
 *     }
 *   }
 *
 * except for the nlmsg_flags, which nft's dump does not show in full: ours
 * are REQUEST|ACK|CREATE (0x405) and, for rules, |APPEND (0xc05).
 */
static const uint8_t begin_bytes[] = {
	0x14, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, /* len 20, BATCH_BEGIN, REQUEST */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 0, pid 0 */
	0x00, 0x00, 0x00, 0x0a,				/* AF_UNSPEC, v0, res_id 10 (BE) */
};

static const uint8_t table_bytes[] = {
	0x24, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x05, 0x04, /* len 36, NEWTABLE, 0x405 */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 1 */
	0x02, 0x00, 0x00, 0x00,				/* NFPROTO_IPV4 */
	0x06, 0x00, 0x01, 0x00, 't', 0x00, 0x00, 0x00,	/* NAME "t" */
	0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, /* FLAGS 0 */
};

static const uint8_t chain_bytes[] = {
	0x48, 0x00, 0x00, 0x00, 0x03, 0x0a, 0x05, 0x04, /* len 72, NEWCHAIN */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 2 */
	0x02, 0x00, 0x00, 0x00,
	0x06, 0x00, 0x01, 0x00, 't', 0x00, 0x00, 0x00,	 /* TABLE */
	0x06, 0x00, 0x03, 0x00, 'c', 0x00, 0x00, 0x00,	 /* NAME */
	0x08, 0x00, 0x07, 0x00, 'n', 'a', 't', 0x00,	 /* TYPE */
	0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01,	 /* POLICY accept */
	0x14, 0x00, 0x04, 0x80,				 /* HOOK (nested) */
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03,	 /*   HOOKNUM output */
	0x08, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0x9c,	 /*   PRIORITY -100 */
};

static const uint8_t uid_rule_bytes[] = {
	0xc4, 0x00, 0x00, 0x00, 0x06, 0x0a, 0x05, 0x0c, /* len 196, NEWRULE, 0xc05 */
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 3 */
	0x02, 0x00, 0x00, 0x00,
	0x06, 0x00, 0x01, 0x00, 't', 0x00, 0x00, 0x00, /* TABLE */
	0x06, 0x00, 0x02, 0x00, 'c', 0x00, 0x00, 0x00, /* CHAIN */
	0x84, 0x00, 0x04, 0x80,			       /* EXPRESSIONS */
	0x24, 0x00, 0x01, 0x80,			       /*  ELEM */
	0x09, 0x00, 0x01, 0x00, 'm', 'e', 't', 'a', 0x00, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, /* KEY skuid */
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, /* DREG 1 */
	0x2c, 0x00, 0x01, 0x80,
	0x08, 0x00, 0x01, 0x00, 'c', 'm', 'p', 0x00,
	0x20, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, /* SREG 1 */
	0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, /* OP eq */
	0x0c, 0x00, 0x03, 0x80,
	0x08, 0x00, 0x01, 0x00, 0x36, 0x08, 0x00, 0x00, /* 2102, host order */
	0x30, 0x00, 0x01, 0x80,
	0x0e, 0x00, 0x01, 0x00, 'i', 'm', 'm', 'e', 'd', 'i', 'a', 't', 'e',
	0x00, 0x00, 0x00,
	0x1c, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, /* DREG verdict */
	0x10, 0x00, 0x02, 0x80,
	0x0c, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xfb, /* NFT_RETURN */
	0x1c, 0x00, 0x07, 0x00, 0x00, 0x16,		/* USERDATA: comment, 22 */
	'p', 'r', 'o', 'x', 'y', '-', 'i', 'n', 'i', 't', '/', 'i', 'g', 'n',
	'o', 'r', 'e', '-', 'u', 'i', 'd', 0x00,
};

static const uint8_t redirect_rule_bytes[] = {
	0xc8, 0x00, 0x00, 0x00, 0x06, 0x0a, 0x05, 0x0c, /* len 200 */
	0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 4 */
	0x02, 0x00, 0x00, 0x00,
	0x06, 0x00, 0x01, 0x00, 't', 0x00, 0x00, 0x00,
	0x06, 0x00, 0x02, 0x00, 'c', 0x00, 0x00, 0x00,
	0xa4, 0x00, 0x04, 0x80,
	0x24, 0x00, 0x01, 0x80,
	0x09, 0x00, 0x01, 0x00, 'm', 'e', 't', 'a', 0x00, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x10, /* KEY l4proto */
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x2c, 0x00, 0x01, 0x80,
	0x08, 0x00, 0x01, 0x00, 'c', 'm', 'p', 0x00,
	0x20, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x0c, 0x00, 0x03, 0x80,
	0x05, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, /* IPPROTO_TCP, 1 byte */
	0x2c, 0x00, 0x01, 0x80,
	0x0e, 0x00, 0x01, 0x00, 'i', 'm', 'm', 'e', 'd', 'i', 'a', 't', 'e',
	0x00, 0x00, 0x00,
	0x18, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, /* DREG 1 */
	0x0c, 0x00, 0x02, 0x80,
	0x06, 0x00, 0x01, 0x00, 0x10, 0x2c, 0x00, 0x00, /* 4140, big-endian */
	0x24, 0x00, 0x01, 0x80,
	0x0a, 0x00, 0x01, 0x00, 'r', 'e', 'd', 'i', 'r', 0x00, 0x00, 0x00,
	0x14, 0x00, 0x02, 0x80,
	0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, /* REG_PROTO_MIN 1 */
	0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x02, /* FLAGS PROTO_SPECIFIED */
};

static const uint8_t end_bytes[] = {
	0x14, 0x00, 0x00, 0x00, 0x11, 0x00, 0x01, 0x00, /* BATCH_END */
	0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 5 */
	0x00, 0x00, 0x00, 0x0a,
};

/* the table above, built with the builders */
static void sample_table(struct nft_table *t)
{
	struct nft_rule *r;

	nft_table_init(t, NFT_FAMILY_IP, "t");
	nft_table_add_chain(t, "c", "nat", NFT_HOOK_OUTPUT, -100);
	r = nft_table_add_rule(t, "c", "proxy-init/ignore-uid");
	nft_match_skuid(r, 2102);
	nft_stmt_return(r);
	r = nft_table_add_rule(t, "c", NULL);
	nft_match_tcp(r);
	nft_stmt_redirect(r, 4140);
}

static void sample_batch(struct nft_batch *b, struct nft_table *t)
{
	sample_table(t);
	nft_batch_init(b, 0);
	nft_batch_add_table(b, t->family, t->name);
	nft_batch_add_chain(b, t->family, t->name, &t->chains[0]);
	nft_batch_add_rule(b, t->family, t->name, &t->rules[0]);
	nft_batch_add_rule(b, t->family, t->name, &t->rules[1]);
	nft_batch_end(b);
}

/* expect_at - the bytes at *off equal want; advance *off */
static void expect_at(const struct nft_batch *b, size_t *off,
		      const uint8_t *want, size_t len)
{
	ck_assert_uint_ge(buf_len(&b->buf), *off + len);
	ck_assert_mem_eq(buf_head(&b->buf) + *off, want, len);
	*off += len;
}

START_TEST(test_batch_bytes_match_nft)
{
	struct nft_batch b;
	struct nft_table t;
	size_t off = 0;

	sample_batch(&b, &t);
	expect_at(&b, &off, begin_bytes, sizeof(begin_bytes));
	expect_at(&b, &off, table_bytes, sizeof(table_bytes));
	expect_at(&b, &off, chain_bytes, sizeof(chain_bytes));
	expect_at(&b, &off, uid_rule_bytes, sizeof(uid_rule_bytes));
	expect_at(&b, &off, redirect_rule_bytes, sizeof(redirect_rule_bytes));
	expect_at(&b, &off, end_bytes, sizeof(end_bytes));
	ck_assert_uint_eq(off, buf_len(&b.buf));
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

START_TEST(test_batch_messages_described)
{
	struct nft_batch b;
	struct nft_table t;

	sample_batch(&b, &t);
	ck_assert_uint_eq(b.nmsgs, 6);
	ck_assert_str_eq(b.msgs[0].what, "begin batch");
	ck_assert(!b.msgs[0].ack);
	ck_assert_str_eq(b.msgs[1].what, "add table ip t");
	ck_assert_str_eq(b.msgs[2].what, "add chain ip t c");
	ck_assert_str_eq(b.msgs[3].what, "add rule ip c proxy-init/ignore-uid");
	/* no comment: the rule's text names it */
	ck_assert_str_eq(b.msgs[4].what,
			 "add rule ip c meta l4proto tcp redirect to :4140");
	ck_assert_str_eq(b.msgs[5].what, "end batch");
	ck_assert_uint_eq(b.msgs[5].seq, 5);
	ck_assert_uint_eq(nft_batch_pending(&b), 4);
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

START_TEST(test_replace_table_order)
{
	struct nft_batch b;
	struct nft_table t;
	const uint8_t *p;

	sample_table(&t);
	nft_batch_init(&b, 10);
	nft_batch_replace_table(&b, &t);
	nft_batch_end(&b);
	ck_assert_uint_eq(b.nmsgs, 8);
	ck_assert_str_eq(b.msgs[1].what, "add table ip t");
	ck_assert_str_eq(b.msgs[2].what, "delete table ip t");
	ck_assert_str_eq(b.msgs[3].what, "add table ip t");
	ck_assert_str_eq(b.msgs[4].what, "add chain ip t c");
	/* the DELTABLE message: type 0x0a02, REQUEST|ACK, name only */
	p = buf_head(&b.buf) + sizeof(begin_bytes) + sizeof(table_bytes);
	ck_assert_uint_eq(p[0], 28);
	ck_assert_uint_eq(p[4], 0x02);
	ck_assert_uint_eq(p[5], 0x0a);
	ck_assert_uint_eq(p[6], 0x05);
	ck_assert_uint_eq(p[7], 0x00);
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

/* the builders' expressions, as nft --debug=netlink prints them */
static void expect_exprs(const struct nft_rule *r, const char *want)
{
	struct buf b;
	char e[256];

	buf_init(&b, 0);
	for (size_t i = 0; i < r->nexpr; i++)
		buf_printf(&b, "%s%s", i ? " " : "",
			   nft_expr_format(&r->expr[i], e, sizeof(e)));
	ck_assert_str_eq(buf_cstr(&b), want);
	buf_release(&b);
}

START_TEST(test_builders_match_nft)
{
	static const uint8_t net10[4] = { 10, 0, 0, 0 };
	static const uint8_t host[4] = { 10, 1, 2, 3 };
	static const uint8_t net12[4] = { 172, 16, 0, 0 };
	static const uint8_t fd00[16] = { 0xfd };
	struct nft_table t;
	struct nft_rule *r;

	nft_table_init(&t, NFT_FAMILY_IP, "t");
	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_tcp_dport(r, 4190, 4190);
	nft_stmt_return(r);
	ck_assert_str_eq(r->text, "tcp dport 4190 return");
	expect_exprs(r, "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			"[ payload load 2b @ transport header + 2 => reg 1 ] "
			"[ cmp eq reg 1 0x00005e10 ] [ immediate reg 0 return ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_tcp_dport(r, 4444, 4450);
	ck_assert_str_eq(r->text, "tcp dport 4444-4450");
	expect_exprs(r, "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			"[ payload load 2b @ transport header + 2 => reg 1 ] "
			"[ cmp gte reg 1 0x00005c11 ] [ cmp lte reg 1 0x00006211 ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_addr(r, NFT_FAMILY_IP, true, net10, 8);
	ck_assert_str_eq(r->text, "ip saddr 10.0.0.0/8");
	expect_exprs(r, "[ payload load 1b @ network header + 12 => reg 1 ] "
			"[ cmp eq reg 1 0x0000000a ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_addr(r, NFT_FAMILY_IP, false, host, 32);
	ck_assert_str_eq(r->text, "ip daddr 10.1.2.3");
	expect_exprs(r, "[ payload load 4b @ network header + 16 => reg 1 ] "
			"[ cmp eq reg 1 0x0302010a ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_addr(r, NFT_FAMILY_IP, false, net12, 12);
	ck_assert_str_eq(r->text, "ip daddr 172.16.0.0/12");
	expect_exprs(r, "[ payload load 4b @ network header + 16 => reg 1 ] "
			"[ bitwise reg 1 = ( reg 1 & 0x0000f0ff ) ^ 0x00000000 ] "
			"[ cmp eq reg 1 0x000010ac ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_addr(r, NFT_FAMILY_IP6, false, fd00, 100);
	ck_assert_str_eq(r->text, "ip6 daddr fd00::/100");
	expect_exprs(r, "[ payload load 16b @ network header + 24 => reg 1 ] "
			"[ bitwise reg 1 = ( reg 1 & 0xffffffff 0xffffffff 0xffffffff "
			"0x000000f0 ) ^ 0x00000000 0x00000000 0x00000000 0x00000000 ] "
			"[ cmp eq reg 1 0x000000fd 0x00000000 0x00000000 0x00000000 ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_oifname(r, "lo");
	nft_stmt_return(r);
	ck_assert_str_eq(r->text, "oifname \"lo\" return");
	expect_exprs(r, "[ meta load oifname => reg 1 ] [ cmp eq reg 1 0x00006f6c "
			"0x00000000 0x00000000 0x00000000 ] [ immediate reg 0 return ]");

	r = nft_table_add_rule(&t, "c", NULL);
	nft_match_skgid(r, 2102);
	nft_match_tcp(r);
	nft_stmt_redirect(r, 4143);
	ck_assert_str_eq(r->text, "meta skgid 2102 meta l4proto tcp redirect to :4143");
	expect_exprs(r, "[ meta load skgid => reg 1 ] [ cmp eq reg 1 0x00000836 ] "
			"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			"[ immediate reg 1 0x00002f10 ] [ redir proto_min reg 1 flags 0x2 ]");
	nft_table_release(&t);
}
END_TEST

START_TEST(test_format_table)
{
	struct nft_table t;
	struct buf b;
	struct nft_rule *r;

	sample_table(&t);
	nft_table_add_chain(&t, "in", "nat", NFT_HOOK_PREROUTING, NFT_PRIO_DSTNAT);
	r = nft_table_add_rule(&t, "in", "x/y");
	nft_match_tcp(r);
	nft_stmt_redirect(r, 4143);
	buf_init(&b, 0);
	nft_table_format(&t, true, &b);
	ck_assert_str_eq(buf_cstr(&b),
			 "table ip t\n"
			 "delete table ip t\n"
			 "table ip t {\n"
			 "\tchain c {\n"
			 "\t\ttype nat hook output priority -100; policy accept;\n"
			 "\t\tmeta skuid 2102 return comment \"proxy-init/ignore-uid\"\n"
			 "\t\tmeta l4proto tcp redirect to :4140\n"
			 "\t}\n"
			 "\n"
			 "\tchain in {\n"
			 "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
			 "\t\tmeta l4proto tcp redirect to :4143 comment \"x/y\"\n"
			 "\t}\n"
			 "}\n");
	buf_release(&b);
	nft_table_release(&t);
}
END_TEST

/* the message at index i of the batch: pointer and length */
static const uint8_t *batch_msg(const struct nft_batch *b, size_t i,
				size_t *len)
{
	const uint8_t *p = buf_head(&b->buf);
	uint32_t l;

	for (;;) {
		memcpy(&l, p, 4);
		if (i-- == 0)
			break;
		p += l;
	}
	*len = l;
	return p;
}

START_TEST(test_decode_round_trip)
{
	struct nft_batch b;
	struct nft_table t;
	struct nft_chain c;
	struct nft_rule r;
	char table[64];
	const uint8_t *m;
	size_t len;

	sample_batch(&b, &t);
	m = batch_msg(&b, 2, &len);
	ck_assert_int_eq(nft_decode_chain(m, len, table, sizeof(table), &c), 0);
	ck_assert_str_eq(table, "t");
	ck_assert(nft_chain_equal(&c, &t.chains[0]));
	ck_assert_str_eq(c.type, "nat");
	ck_assert_int_eq(c.priority, -100);
	for (size_t i = 0; i < 2; i++) {
		m = batch_msg(&b, 3 + i, &len);
		ck_assert_int_eq(nft_decode_rule(m, len, table, sizeof(table), &r), 0);
		ck_assert_str_eq(table, "t");
		ck_assert(nft_rule_equal(&r, &t.rules[i]));
		ck_assert_str_eq(r.text, "");
	}
	ck_assert_str_eq(r.comment, "");
	/* a chain message is not a rule, and the reverse */
	m = batch_msg(&b, 2, &len);
	ck_assert_int_eq(nft_decode_rule(m, len, table, sizeof(table), &r), -EPROTO);
	/* every truncation is refused or decoded, never read past the end */
	m = batch_msg(&b, 3, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		int ret;

		memcpy(copy, m, n);
		ret = nft_decode_rule(copy, n, table, sizeof(table), &r);
		ck_assert(ret == -EPROTO || ret == 0);
		free(copy);
	}
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

START_TEST(test_decode_kernel_extras)
{
	/*
	 * What a kernel dump adds: a HANDLE, redir's PROTO_MAX (the kernel
	 * reports max = min), attributes in another order, attributes a
	 * newer kernel may add. Equal all the same.
	 */
	static const uint8_t msg[] = {
		0x94, 0x00, 0x00, 0x00, 0x06, 0x0a, 0x02, 0x00,
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00,
		0x06, 0x00, 0x01, 0x00, 't', 0x00, 0x00, 0x00,
		0x06, 0x00, 0x02, 0x00, 'c', 0x00, 0x00, 0x00,
		0x0c, 0x00, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x2a, /* HANDLE 42 */
		0x64, 0x00, 0x04, 0x80,
		0x2c, 0x00, 0x01, 0x80,
		0x0e, 0x00, 0x01, 0x00, 'i', 'm', 'm', 'e', 'd', 'i', 'a', 't', 'e',
		0x00, 0x00, 0x00,
		0x18, 0x00, 0x02, 0x80,
		0x0c, 0x00, 0x02, 0x80, /* DATA before DREG */
		0x06, 0x00, 0x01, 0x00, 0x10, 0x2f, 0x00, 0x00,
		0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x34, 0x00, 0x01, 0x80,
		0x0a, 0x00, 0x01, 0x00, 'r', 'e', 'd', 'i', 'r', 0x00, 0x00, 0x00,
		0x24, 0x00, 0x02, 0x80,
		0x08, 0x00, 0x0f, 0x00, 'z', 'z', 'z', 0x00, /* an unknown attribute */
		0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x02, /* FLAGS first */
		0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, /* PROTO_MIN */
		0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* PROTO_MAX */
	};
	struct nft_rule r, want;
	char table[8];

	ck_assert_int_eq(nft_decode_rule(msg, sizeof(msg), table, sizeof(table), &r), 0);
	ck_assert_uint_eq(r.handle, 42);
	ck_assert_uint_eq(r.nexpr, 2);
	memset(&want, 0, sizeof(want));
	str_copy(want.chain, "c", sizeof(want.chain));
	nft_stmt_redirect(&want, 4143);
	ck_assert(nft_expr_equal(&r.expr[0], &want.expr[0]));
	ck_assert(nft_expr_equal(&r.expr[1], &want.expr[1]));
	ck_assert_str_eq(table, "t");
	/* a table name longer than the caller's buffer */
	ck_assert_int_eq(nft_decode_rule(msg, sizeof(msg), table, 1, &r), -E2BIG);
}
END_TEST

START_TEST(test_compare)
{
	struct nft_table want, have;
	struct nft_rule *r;
	char why[512];

	sample_table(&want);
	sample_table(&have);
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	/* text and handles do not count */
	have.rules[0].text[0] = '\0';
	have.rules[0].handle = 7;
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 0);
	/* one byte of data */
	have.rules[0].expr[1].data[0] = 0x37;
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "chain ip c rule 1: is [ meta load skuid => reg 1 ] "
			      "[ cmp eq reg 1 0x00000837 ] [ immediate reg 0 return ] "
			      "comment \"proxy-init/ignore-uid\", want \"meta skuid "
			      "2102 return\" comment \"proxy-init/ignore-uid\"");
	have.rules[0].expr[1].data[0] = 0x36;
	/* a comment */
	str_copy(have.rules[1].comment, "edited", sizeof(have.rules[1].comment));
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	have.rules[1].comment[0] = '\0';
	/* one more rule */
	r = nft_table_add_rule(&have, "c", NULL);
	nft_stmt_return(r);
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "chain ip c rule 3: unexpected \"return\"");
	have.nrules--;
	/* one fewer */
	have.nrules--;
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "chain ip c rule 2: missing \"meta l4proto tcp "
			      "redirect to :4140\"");
	have.nrules++;
	/* the chain's priority */
	have.chains[0].priority = 0;
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "priority 0"));
	have.chains[0].priority = -100;
	/* someone made the table dormant */
	have.flags = 1;
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "table ip t: flags 0x1 (dormant), want 0x0");
	have.flags = 0;
	/* a chain of someone else's in our table */
	nft_table_add_chain(&have, "x", "filter", NFT_HOOK_OUTPUT, 0);
	ck_assert_int_eq(nft_table_compare(&want, &have, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "table ip t: unexpected chain x");
	nft_table_release(&want);
	nft_table_release(&have);
}
END_TEST

/*
 * Real answers, captured from a 6.18 kernel for a batch (sequence numbers
 * 100..105) of: add table, add chain, add rule (good), add rule with a
 * cmp on register 99. Three ACKs (NLM_F_CAPPED), then ERANGE for the
 * fourth message with an NLMSGERR_ATTR_OFFS TLV (NLM_F_ACK_TLVS).
 */
static const uint8_t kernel_answers[] = {
	0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x65, 0x00, 0x00, 0x00,
	0x3e, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00,
	0x00, 0x0a, 0x05, 0x04, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x66, 0x00, 0x00, 0x00,
	0x3e, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00,
	0x03, 0x0a, 0x05, 0x04, 0x66, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x67, 0x00, 0x00, 0x00,
	0x3e, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb4, 0x00, 0x00, 0x00,
	0x06, 0x0a, 0x05, 0x0c, 0x67, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x2c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03, 0x68, 0x00, 0x00, 0x00,
	0x3e, 0x64, 0x00, 0x00, 0xde, 0xff, 0xff, 0xff, 0x60, 0x00, 0x00, 0x00,
	0x06, 0x0a, 0x05, 0x0c, 0x68, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x02, 0x00, 0x28, 0x00, 0x00, 0x00,
};

static void capture_batch(struct nft_batch *b, struct nft_table *t)
{
	struct nft_rule *r;
	struct nft_expr bad = { .type = NFT_EXPR_CMP, .sreg = 99, .data_len = 1 };

	nft_table_init(t, NFT_FAMILY_IP, "t");
	nft_table_add_chain(t, "c", "nat", NFT_HOOK_OUTPUT, -100);
	r = nft_table_add_rule(t, "c", "good");
	nft_match_skuid(r, 1);
	nft_stmt_return(r);
	r = nft_table_add_rule(t, "c", "bad");
	nft_rule_add_expr(r, &bad);
	nft_batch_init(b, 100);
	nft_batch_add_table(b, t->family, t->name);
	nft_batch_add_chain(b, t->family, t->name, &t->chains[0]);
	nft_batch_add_rule(b, t->family, t->name, &t->rules[0]);
	nft_batch_add_rule(b, t->family, t->name, &t->rules[1]);
	nft_batch_end(b);
}

START_TEST(test_acks_and_error_mapped)
{
	struct nft_batch b;
	struct nft_table t;
	struct nft_error err = { 0 };

	capture_batch(&b, &t);
	ck_assert_uint_eq(nft_batch_pending(&b), 4);
	/* the first three ACKs alone: fine, one pending */
	ck_assert_int_eq(nft_batch_parse_acks(&b, kernel_answers, 3 * 36, &err), 0);
	ck_assert_uint_eq(nft_batch_pending(&b), 1);
	ck_assert_int_eq(nft_batch_parse_acks(&b, kernel_answers + 3 * 36,
					      sizeof(kernel_answers) - 3 * 36, &err),
			 -ERANGE);
	ck_assert_uint_eq(nft_batch_pending(&b), 0);
	ck_assert_int_eq(err.err, -ERANGE);
	ck_assert_str_eq(err.what, "add rule ip c bad");
	ck_assert_str_eq(err.msg, "");
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

/* put a 32-bit little-endian value (netlink headers are host order; x86) */
static void le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

START_TEST(test_error_on_begin_ends_batch)
{
	/* what a sender without CAP_NET_ADMIN gets: EPERM for the BEGIN */
	uint8_t m[36] = { 0 };
	struct nft_batch b;
	struct nft_table t;
	struct nft_error err = { 0 };

	capture_batch(&b, &t);
	le32(m, sizeof(m));
	m[4] = NLMSG_ERROR;
	m[7] = 0x01; /* NLM_F_CAPPED */
	le32(m + 8, 100);
	le32(m + 16, (uint32_t)-EPERM);
	ck_assert_int_eq(nft_batch_parse_acks(&b, m, sizeof(m), &err), -EPERM);
	ck_assert_str_eq(err.what, "begin batch");
	ck_assert_uint_eq(nft_batch_pending(&b), 0);
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

START_TEST(test_ext_ack_message)
{
	/* an error with NLMSGERR_ATTR_MSG, for the chain (seq 102) */
	uint8_t m[64] = { 0 };
	struct nft_batch b;
	struct nft_table t;
	struct nft_error err = { 0 };
	const char text[] = "no such hook";

	capture_batch(&b, &t);
	le32(m, 36 + 4 + sizeof(text) + 3);
	m[4] = NLMSG_ERROR;
	m[7] = 0x03; /* NLM_F_CAPPED | NLM_F_ACK_TLVS */
	le32(m + 8, 102);
	le32(m + 16, (uint32_t)-EOPNOTSUPP);
	le32(m + 20, 72);
	m[36] = 4 + sizeof(text);
	m[38] = 1; /* NLMSGERR_ATTR_MSG */
	memcpy(m + 40, text, sizeof(text));
	ck_assert_int_eq(nft_batch_parse_acks(&b, m, 36 + 4 + sizeof(text) + 3, &err),
			 -EOPNOTSUPP);
	ck_assert_str_eq(err.what, "add chain ip t c");
	ck_assert_str_eq(err.msg, "no such hook");
	/* the chain's error does not answer the rules */
	ck_assert_uint_eq(nft_batch_pending(&b), 3);
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

START_TEST(test_acks_malformed_and_foreign)
{
	uint8_t m[36] = { 0 };
	struct nft_batch b;
	struct nft_table t;
	struct nft_error err = { 0 };

	capture_batch(&b, &t);
	/* another sequence number: ignored */
	le32(m, sizeof(m));
	m[4] = NLMSG_ERROR;
	le32(m + 8, 7);
	le32(m + 16, (uint32_t)-EPERM);
	ck_assert_int_eq(nft_batch_parse_acks(&b, m, sizeof(m), &err), 0);
	ck_assert_uint_eq(nft_batch_pending(&b), 4);
	/* a length past the data */
	le32(m, 200);
	ck_assert_int_eq(nft_batch_parse_acks(&b, m, sizeof(m), &err), -EPROTO);
	/* an error message too short to hold its errno */
	le32(m, 18);
	le32(m + 8, 101);
	ck_assert_int_eq(nft_batch_parse_acks(&b, m, 18, &err), -EPROTO);
	ck_assert_int_eq(err.err, 0);
	nft_batch_release(&b);
	nft_table_release(&t);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(nft_family_name(NFT_FAMILY_IP), "ip");
	ck_assert_str_eq(nft_family_name(NFT_FAMILY_IP6), "ip6");
	ck_assert_str_eq(nft_errno_name(EPERM), "EPERM");
	ck_assert_str_eq(nft_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
}
END_TEST

Suite *nft_suite(void)
{
	Suite *s = suite_create("nft");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_batch_bytes_match_nft);
	tcase_add_test(tc, test_batch_messages_described);
	tcase_add_test(tc, test_replace_table_order);
	tcase_add_test(tc, test_builders_match_nft);
	tcase_add_test(tc, test_format_table);
	tcase_add_test(tc, test_decode_round_trip);
	tcase_add_test(tc, test_decode_kernel_extras);
	tcase_add_test(tc, test_compare);
	tcase_add_test(tc, test_acks_and_error_mapped);
	tcase_add_test(tc, test_error_on_begin_ends_batch);
	tcase_add_test(tc, test_ext_ack_message);
	tcase_add_test(tc, test_acks_malformed_and_foreign);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}
