/* SPDX-License-Identifier: Apache-2.0 */
/* nft.c - a small nf_tables client: tables, nat chains and rules over netlink */
#include "conduit/nft.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

/*
 * The layout, as nft(8) 1.0 sends it (`nft --debug=mnl` shows the same
 * bytes). Every message is a struct nlmsghdr, a struct nfgenmsg and
 * attributes (struct nlattr, 4-byte aligned, nested ones flagged
 * NLA_F_NESTED); numbers are big-endian, compared data (ports, addresses,
 * interface names) is in the byte order it has in the packet, UIDs in host
 * order:
 *
 *   BATCH_BEGIN  nfgenmsg{AF_UNSPEC, v0, res_id=htons(NFNL_SUBSYS_NFTABLES)}
 *   NEWTABLE     NAME, FLAGS(0)
 *   NEWCHAIN     TABLE, NAME, TYPE "nat", POLICY, HOOK{HOOKNUM, PRIORITY}
 *   NEWRULE      TABLE, CHAIN, EXPRESSIONS{ELEM{NAME, DATA{...}}...},
 *                USERDATA (TLVs: type 0 = comment, len, "text\0")
 *   BATCH_END
 *
 * Every message but BEGIN and END carries NLM_F_ACK, so the kernel
 * answers each with an NLMSG_ERROR (0 = ACK); the answers are queued while
 * sendmsg() runs the batch, so they are all there when it returns.
 */

_Static_assert((int)NFT_FAMILY_IP == (int)NFPROTO_IPV4, "family ip");
_Static_assert((int)NFT_FAMILY_IP6 == (int)NFPROTO_IPV6, "family ip6");
_Static_assert((int)NFT_HOOK_PREROUTING == (int)NF_INET_PRE_ROUTING, "prerouting");
_Static_assert((int)NFT_HOOK_OUTPUT == (int)NF_INET_LOCAL_OUT, "output");
_Static_assert(NFT_POLICY_ACCEPT == NF_ACCEPT, "accept");
_Static_assert(NFT_DATA_MAX == NFT_REG_SIZE, "one 128-bit register");

#define COMMENT_UDATA_TYPE 0 /* NFTNL_UDATA_RULE_COMMENT (libnftnl) */
#define DUMP_BUF_SIZE (128 * 1024)

/* --- names ---------------------------------------------------------------- */

const char *nft_family_name(enum nft_family family)
{
	switch (family) {
	case NFT_FAMILY_IP:
		return "ip";
	case NFT_FAMILY_IP6:
		return "ip6";
	}
	return "?";
}

const char *nft_errno_name(int errnum)
{
	const char *s = strerrorname_np(errnum);

	return s ? s : "E?";
}

/* --- the model ------------------------------------------------------------ */

void nft_table_init(struct nft_table *t, enum nft_family family,
		    const char *name)
{
	memset(t, 0, sizeof(*t));
	t->family = family;
	BUG_ON(str_copy(t->name, name, sizeof(t->name)) >= sizeof(t->name));
}

void nft_table_release(struct nft_table *t)
{
	free(t->chains);
	free(t->rules);
	t->chains = NULL;
	t->rules = NULL;
	t->nchains = t->nrules = 0;
	t->flags = 0;
}

struct nft_chain *nft_table_add_chain(struct nft_table *t, const char *name,
				      const char *type, enum nft_hook hook,
				      int32_t priority)
{
	struct nft_chain *c;

	t->chains = xrealloc(t->chains, (t->nchains + 1) * sizeof(*c));
	c = &t->chains[t->nchains++];
	memset(c, 0, sizeof(*c));
	BUG_ON(str_copy(c->name, name, sizeof(c->name)) >= sizeof(c->name));
	BUG_ON(str_copy(c->type, type, sizeof(c->type)) >= sizeof(c->type));
	c->base = true;
	c->hook = hook;
	c->priority = priority;
	c->policy = NFT_POLICY_ACCEPT;
	return c;
}

struct nft_rule *nft_table_add_rule(struct nft_table *t, const char *chain,
				    const char *comment)
{
	struct nft_rule *r;

	t->rules = xrealloc(t->rules, (t->nrules + 1) * sizeof(*r));
	r = &t->rules[t->nrules++];
	memset(r, 0, sizeof(*r));
	BUG_ON(str_copy(r->chain, chain, sizeof(r->chain)) >= sizeof(r->chain));
	if (comment) {
		BUG_ON(strchr(comment, '"'));
		BUG_ON(str_copy(r->comment, comment, sizeof(r->comment)) >=
		       sizeof(r->comment));
	}
	return r;
}

void nft_rule_add_expr(struct nft_rule *r, const struct nft_expr *e)
{
	BUG_ON(r->nexpr >= NFT_RULE_MAX_EXPRS);
	r->expr[r->nexpr++] = *e;
}

PRINTF_LIKE(2, 3) static void text_add(struct nft_rule *r, const char *fmt, ...)
{
	size_t len = strlen(r->text);
	va_list ap;
	int n;

	if (len) {
		BUG_ON(len + 1 >= sizeof(r->text));
		r->text[len++] = ' ';
		r->text[len] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(r->text + len, sizeof(r->text) - len, fmt, ap);
	va_end(ap);
	BUG_ON(n < 0 || (size_t)n >= sizeof(r->text) - len);
}

static struct nft_expr *expr_new(struct nft_rule *r, enum nft_expr_type type)
{
	struct nft_expr *e;

	BUG_ON(r->nexpr >= NFT_RULE_MAX_EXPRS);
	e = &r->expr[r->nexpr++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	return e;
}

static void add_meta(struct nft_rule *r, uint32_t key)
{
	struct nft_expr *e = expr_new(r, NFT_EXPR_META);

	e->key = key;
	e->dreg = NFT_REG_1;
}

static void add_payload(struct nft_rule *r, uint32_t base, uint32_t offset,
			uint32_t len)
{
	struct nft_expr *e = expr_new(r, NFT_EXPR_PAYLOAD);

	e->base = base;
	e->offset = offset;
	e->len = len;
	e->dreg = NFT_REG_1;
}

static void add_cmp(struct nft_rule *r, uint32_t op, const void *data,
		    size_t len)
{
	struct nft_expr *e = expr_new(r, NFT_EXPR_CMP);

	BUG_ON(len > sizeof(e->data));
	e->sreg = NFT_REG_1;
	e->op = op;
	memcpy(e->data, data, len);
	e->data_len = (uint32_t)len;
}

void nft_match_tcp(struct nft_rule *r)
{
	uint8_t proto = IPPROTO_TCP;

	add_meta(r, NFT_META_L4PROTO);
	add_cmp(r, NFT_CMP_EQ, &proto, 1);
	text_add(r, "meta l4proto tcp");
}

void nft_match_tcp_dport(struct nft_rule *r, uint16_t lo, uint16_t hi)
{
	uint8_t proto = IPPROTO_TCP;
	uint16_t be_lo = htons(lo), be_hi = htons(hi);

	BUG_ON(lo > hi);
	add_meta(r, NFT_META_L4PROTO);
	add_cmp(r, NFT_CMP_EQ, &proto, 1);
	add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	/*
	 * A range as two compares, not a range expression: that is what nft
	 * generates for "tcp dport 1-2", so a ruleset loaded with `nft -f`
	 * from our --simulate text is the same, expression for expression.
	 */
	if (lo == hi) {
		add_cmp(r, NFT_CMP_EQ, &be_lo, 2);
		text_add(r, "tcp dport %u", lo);
	} else {
		add_cmp(r, NFT_CMP_GTE, &be_lo, 2);
		add_cmp(r, NFT_CMP_LTE, &be_hi, 2);
		text_add(r, "tcp dport %u-%u", lo, hi);
	}
}

void nft_match_skuid(struct nft_rule *r, uint32_t uid)
{
	add_meta(r, NFT_META_SKUID);
	add_cmp(r, NFT_CMP_EQ, &uid, sizeof(uid));
	text_add(r, "meta skuid %u", uid);
}

void nft_match_skgid(struct nft_rule *r, uint32_t gid)
{
	add_meta(r, NFT_META_SKGID);
	add_cmp(r, NFT_CMP_EQ, &gid, sizeof(gid));
	text_add(r, "meta skgid %u", gid);
}

void nft_match_oifname(struct nft_rule *r, const char *ifname)
{
	char name[IFNAMSIZ] = { 0 };

	BUG_ON(strlen(ifname) >= sizeof(name) || strchr(ifname, '"'));
	memcpy(name, ifname, strlen(ifname));
	add_meta(r, NFT_META_OIFNAME);
	add_cmp(r, NFT_CMP_EQ, name, sizeof(name));
	text_add(r, "oifname \"%s\"", ifname);
}

void nft_match_addr(struct nft_rule *r, enum nft_family family, bool source,
		    const uint8_t *addr, unsigned prefix)
{
	bool v4 = family == NFT_FAMILY_IP;
	unsigned alen = v4 ? 4 : 16;
	/* offsetof(struct iphdr, saddr/daddr), (struct ipv6hdr, ...) */
	uint32_t off = v4 ? (source ? 12 : 16) : (source ? 8 : 24);
	char a[INET6_ADDRSTRLEN];

	BUG_ON(prefix > alen * 8);
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, addr, a, sizeof(a)))
		BUG_ON(1);
	if (prefix == alen * 8) {
		add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen);
		add_cmp(r, NFT_CMP_EQ, addr, alen);
		text_add(r, "%s %s %s", v4 ? "ip" : "ip6",
			 source ? "saddr" : "daddr", a);
		return;
	}
	if (prefix && prefix % 8 == 0) {
		/* nft loads only the prefix's bytes: no mask needed */
		add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, prefix / 8);
		add_cmp(r, NFT_CMP_EQ, addr, prefix / 8);
	} else {
		struct nft_expr *e;

		add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen);
		e = expr_new(r, NFT_EXPR_BITWISE);
		e->sreg = NFT_REG_1;
		e->dreg = NFT_REG_1;
		e->len = alen;
		e->data_len = alen;
		for (unsigned i = 0; i < alen; i++) {
			unsigned bit = i * 8;

			if (bit + 8 <= prefix)
				e->data[i] = 0xff;
			else if (bit < prefix)
				e->data[i] = (uint8_t)(0xff << (8 - (prefix - bit)));
		}
		add_cmp(r, NFT_CMP_EQ, addr, alen);
	}
	text_add(r, "%s %s %s/%u", v4 ? "ip" : "ip6", source ? "saddr" : "daddr",
		 a, prefix);
}

void nft_stmt_return(struct nft_rule *r)
{
	struct nft_expr *e = expr_new(r, NFT_EXPR_IMMEDIATE);

	e->dreg = NFT_REG_VERDICT;
	e->verdict = NFT_RETURN;
	text_add(r, "return");
}

void nft_stmt_redirect(struct nft_rule *r, uint16_t port)
{
	struct nft_expr *e = expr_new(r, NFT_EXPR_IMMEDIATE);
	uint16_t be = htons(port);

	e->dreg = NFT_REG_1;
	memcpy(e->data, &be, 2);
	e->data_len = 2;
	e = expr_new(r, NFT_EXPR_REDIR);
	e->sreg = NFT_REG_1;
	e->sreg2 = NFT_REG_1; /* the kernel reports max = min */
	e->flags = NF_NAT_RANGE_PROTO_SPECIFIED;
	text_add(r, "redirect to :%u", port);
}

/* --- text ------------------------------------------------------------------ */

static const char *hook_name(enum nft_hook hook)
{
	switch (hook) {
	case NFT_HOOK_PREROUTING:
		return "prerouting";
	case NFT_HOOK_OUTPUT:
		return "output";
	}
	return "?";
}

PRINTF_LIKE(2, 3) static void xbuf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (r)
		die("out of memory");
}

void nft_table_format(const struct nft_table *t, bool replace, struct buf *out)
{
	const char *fam = nft_family_name(t->family);

	if (replace)
		xbuf_printf(out, "table %s %s\ndelete table %s %s\n", fam,
			    t->name, fam, t->name);
	xbuf_printf(out, "table %s %s {\n", fam, t->name);
	for (size_t i = 0; i < t->nchains; i++) {
		const struct nft_chain *c = &t->chains[i];

		if (i)
			xbuf_printf(out, "\n");
		xbuf_printf(out, "\tchain %s {\n", c->name);
		if (c->base) {
			xbuf_printf(out, "\t\ttype %s hook %s priority ", c->type,
				    hook_name(c->hook));
			/* nft's name for it, as `nft list` prints it */
			if (c->hook == NFT_HOOK_PREROUTING &&
			    c->priority == NFT_PRIO_DSTNAT)
				xbuf_printf(out, "dstnat");
			else
				xbuf_printf(out, "%d", c->priority);
			xbuf_printf(out, "; policy %s;\n",
				    c->policy == NFT_POLICY_ACCEPT ? "accept" :
								     "drop");
		}
		for (size_t j = 0; j < t->nrules; j++) {
			const struct nft_rule *r = &t->rules[j];

			if (strcmp(r->chain, c->name) != 0)
				continue;
			xbuf_printf(out, "\t\t%s", r->text);
			if (r->comment[0])
				xbuf_printf(out, " comment \"%s\"", r->comment);
			xbuf_printf(out, "\n");
		}
		xbuf_printf(out, "\t}\n");
	}
	xbuf_printf(out, "}\n");
}

static const char *meta_key_name(uint32_t key)
{
	switch (key) {
	case NFT_META_L4PROTO:
		return "l4proto";
	case NFT_META_SKUID:
		return "skuid";
	case NFT_META_SKGID:
		return "skgid";
	case NFT_META_OIFNAME:
		return "oifname";
	case NFT_META_IIFNAME:
		return "iifname";
	case NFT_META_MARK:
		return "mark";
	case NFT_META_NFPROTO:
		return "nfproto";
	}
	return NULL;
}

static const char *cmp_op_name(uint32_t op)
{
	static const char *const names[] = { "eq", "neq", "lt", "lte", "gt",
					     "gte" };

	return op < ARRAY_SIZE(names) ? names[op] : "?";
}

static const char *verdict_name(int32_t v)
{
	switch (v) {
	case NF_ACCEPT:
		return "accept";
	case NF_DROP:
		return "drop";
	case NFT_CONTINUE:
		return "continue";
	case NFT_BREAK:
		return "break";
	case NFT_JUMP:
		return "jump";
	case NFT_GOTO:
		return "goto";
	case NFT_RETURN:
		return "return";
	}
	return "?";
}

/* words - data as nft's debug output shows it: 32-bit words, host order */
static size_t words(char *p, size_t size, const uint8_t *data, uint32_t len)
{
	size_t n = 0;

	for (uint32_t i = 0; i < len && n < size; i += 4) {
		uint32_t w = 0;

		memcpy(&w, data + i, MIN(4u, len - i));
		n += (size_t)snprintf(p + n, size - n, "%s0x%08x", i ? " " : "",
				      w);
	}
	return MIN(n, size);
}

const char *nft_expr_format(const struct nft_expr *e, char *buf, size_t size)
{
	char d1[96] = "", d2[96] = "";
	const char *k;

	words(d1, sizeof(d1), e->data, e->data_len);
	words(d2, sizeof(d2), e->data2, e->data_len);
	switch (e->type) {
	case NFT_EXPR_META:
		k = meta_key_name(e->key);
		if (k)
			snprintf(buf, size, "[ meta load %s => reg %u ]", k,
				 e->dreg);
		else
			snprintf(buf, size, "[ meta load key %u => reg %u ]",
				 e->key, e->dreg);
		break;
	case NFT_EXPR_PAYLOAD:
		snprintf(buf, size, "[ payload load %ub @ %s header + %u => reg %u ]",
			 e->len,
			 e->base == NFT_PAYLOAD_LL_HEADER	 ? "link" :
			 e->base == NFT_PAYLOAD_NETWORK_HEADER	 ? "network" :
			 e->base == NFT_PAYLOAD_TRANSPORT_HEADER ? "transport" :
								   "inner",
			 e->offset, e->dreg);
		break;
	case NFT_EXPR_CMP:
		snprintf(buf, size, "[ cmp %s reg %u %s ]", cmp_op_name(e->op),
			 e->sreg, d1);
		break;
	case NFT_EXPR_RANGE:
		snprintf(buf, size, "[ range %s reg %u %s %s ]",
			 e->op == NFT_RANGE_EQ ? "eq" : "neq", e->sreg, d1, d2);
		break;
	case NFT_EXPR_BITWISE:
		snprintf(buf, size, "[ bitwise reg %u = ( reg %u & %s ) ^ %s ]",
			 e->dreg, e->sreg, d1, d2);
		break;
	case NFT_EXPR_IMMEDIATE:
		if (e->dreg == NFT_REG_VERDICT)
			snprintf(buf, size, "[ immediate reg 0 %s ]",
				 verdict_name(e->verdict));
		else
			snprintf(buf, size, "[ immediate reg %u %s ]", e->dreg,
				 d1);
		break;
	case NFT_EXPR_REDIR:
		if (e->sreg2 != e->sreg)
			snprintf(buf, size,
				 "[ redir proto_min reg %u proto_max reg %u flags 0x%x ]",
				 e->sreg, e->sreg2, e->flags);
		else if (e->sreg)
			snprintf(buf, size, "[ redir proto_min reg %u flags 0x%x ]",
				 e->sreg, e->flags);
		else
			snprintf(buf, size, "[ redir flags 0x%x ]", e->flags);
		break;
	case NFT_EXPR_OTHER:
		snprintf(buf, size, "[ %s ]", e->name);
		break;
	case NFT_EXPR_NONE:
		snprintf(buf, size, "[ ? ]");
		break;
	}
	return buf;
}

/* --- comparing ------------------------------------------------------------- */

bool nft_expr_equal(const struct nft_expr *a, const struct nft_expr *b)
{
	return a->type == b->type && strcmp(a->name, b->name) == 0 &&
	       a->dreg == b->dreg && a->sreg == b->sreg &&
	       a->sreg2 == b->sreg2 && a->key == b->key && a->base == b->base &&
	       a->offset == b->offset && a->len == b->len && a->op == b->op &&
	       a->verdict == b->verdict && a->flags == b->flags &&
	       a->data_len == b->data_len &&
	       memcmp(a->data, b->data, sizeof(a->data)) == 0 &&
	       memcmp(a->data2, b->data2, sizeof(a->data2)) == 0;
}

bool nft_rule_equal(const struct nft_rule *a, const struct nft_rule *b)
{
	if (strcmp(a->chain, b->chain) != 0 || a->nexpr != b->nexpr ||
	    strcmp(a->comment, b->comment) != 0)
		return false;
	for (size_t i = 0; i < a->nexpr; i++)
		if (!nft_expr_equal(&a->expr[i], &b->expr[i]))
			return false;
	return true;
}

bool nft_chain_equal(const struct nft_chain *a, const struct nft_chain *b)
{
	if (strcmp(a->name, b->name) != 0 || a->base != b->base)
		return false;
	if (!a->base)
		return true;
	return strcmp(a->type, b->type) == 0 && a->hook == b->hook &&
	       a->priority == b->priority && a->policy == b->policy;
}

/* describe_rule - the rule's text, else its expressions, and its comment */
static void describe_rule(const struct nft_rule *r, struct buf *b)
{
	char e[256];

	if (r->text[0]) {
		xbuf_printf(b, "\"%s\"", r->text);
	} else {
		for (size_t i = 0; i < r->nexpr; i++)
			xbuf_printf(b, "%s%s", i ? " " : "",
				    nft_expr_format(&r->expr[i], e, sizeof(e)));
	}
	if (r->comment[0])
		xbuf_printf(b, " comment \"%s\"", r->comment);
}

static const struct nft_chain *find_chain(const struct nft_table *t,
					  const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (strcmp(t->chains[i].name, name) == 0)
			return &t->chains[i];
	return NULL;
}

/* next_rule - the next rule of chain at or after *i, or NULL */
static const struct nft_rule *next_rule(const struct nft_table *t,
					const char *chain, size_t *i)
{
	for (; *i < t->nrules; (*i)++)
		if (strcmp(t->rules[*i].chain, chain) == 0)
			return &t->rules[(*i)++];
	return NULL;
}

static int differ(struct buf *b, char *why, size_t size)
{
	str_copy(why, buf_cstr(b) ? buf_cstr(b) : "out of memory", size);
	buf_release(b);
	return 1;
}

int nft_table_compare(const struct nft_table *want,
		      const struct nft_table *have, char *why, size_t size)
{
	const char *fam = nft_family_name(want->family);
	struct buf b;

	buf_init(&b, 0);
	if (have->flags != want->flags) {
		xbuf_printf(&b, "table %s %s: flags 0x%x%s, want 0x%x", fam,
			    want->name, have->flags,
			    have->flags & NFT_TABLE_F_DORMANT ? " (dormant)" : "",
			    want->flags);
		return differ(&b, why, size);
	}
	for (size_t i = 0; i < have->nchains; i++) {
		if (!find_chain(want, have->chains[i].name)) {
			xbuf_printf(&b, "table %s %s: unexpected chain %s", fam,
				    want->name, have->chains[i].name);
			return differ(&b, why, size);
		}
	}
	for (size_t i = 0; i < want->nchains; i++) {
		const struct nft_chain *wc = &want->chains[i];
		const struct nft_chain *hc = find_chain(have, wc->name);
		const struct nft_rule *wr, *hr;
		size_t wi = 0, hi = 0, n = 0;

		if (!hc) {
			xbuf_printf(&b, "table %s %s: chain %s missing", fam,
				    want->name, wc->name);
			return differ(&b, why, size);
		}
		if (!nft_chain_equal(wc, hc)) {
			xbuf_printf(&b, "chain %s %s: type %s hook %s priority %d"
					" policy %u, want type %s hook %s priority %d policy %u",
				    fam, wc->name, hc->type, hook_name(hc->hook),
				    hc->priority, hc->policy, wc->type,
				    hook_name(wc->hook), wc->priority, wc->policy);
			return differ(&b, why, size);
		}
		for (;;) {
			wr = next_rule(want, wc->name, &wi);
			hr = next_rule(have, wc->name, &hi);
			n++;
			if (!wr && !hr)
				break;
			if (wr && hr && nft_rule_equal(wr, hr))
				continue;
			xbuf_printf(&b, "chain %s %s rule %zu: ", fam, wc->name, n);
			if (!hr) {
				xbuf_printf(&b, "missing ");
				describe_rule(wr, &b);
			} else if (!wr) {
				xbuf_printf(&b, "unexpected ");
				describe_rule(hr, &b);
			} else {
				xbuf_printf(&b, "is ");
				describe_rule(hr, &b);
				xbuf_printf(&b, ", want ");
				describe_rule(wr, &b);
			}
			return differ(&b, why, size);
		}
	}
	buf_release(&b);
	if (size)
		why[0] = '\0';
	return 0;
}

/* --- encoding -------------------------------------------------------------- */

static void put(struct buf *b, const void *p, size_t n)
{
	if (buf_append(b, p, n))
		die("out of memory");
}

static void pad(struct buf *b)
{
	static const uint8_t zero[NLA_ALIGNTO];
	size_t n = NLA_ALIGN(buf_len(b)) - buf_len(b);

	if (n)
		put(b, zero, n);
}

static void put_attr(struct buf *b, uint16_t type, const void *data,
		     size_t len)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len),
			    .nla_type = type };

	BUG_ON(NLA_HDRLEN + len > UINT16_MAX);
	put(b, &a, sizeof(a));
	put(b, data, len);
	pad(b);
}

static void put_str(struct buf *b, uint16_t type, const char *s)
{
	put_attr(b, type, s, strlen(s) + 1);
}

static void put_be32(struct buf *b, uint16_t type, uint32_t v)
{
	v = htonl(v);
	put_attr(b, type, &v, sizeof(v));
}

/* nest_begin - open a nested attribute; returns its offset for nest_end */
static size_t nest_begin(struct buf *b, uint16_t type)
{
	struct nlattr a = { .nla_len = 0, .nla_type = type | NLA_F_NESTED };
	size_t off = buf_len(b);

	put(b, &a, sizeof(a));
	return off;
}

static void nest_end(struct buf *b, size_t off)
{
	uint16_t len = (uint16_t)(buf_len(b) - off);

	BUG_ON(buf_len(b) - off > UINT16_MAX);
	memcpy(buf_head(b) + off, &len, sizeof(len));
}

/* put_data - NFTA_*_DATA: a nested NFTA_DATA_VALUE */
static void put_data(struct buf *b, uint16_t type, const uint8_t *data,
		     uint32_t len)
{
	size_t n = nest_begin(b, type);

	put_attr(b, NFTA_DATA_VALUE, data, len);
	nest_end(b, n);
}

static size_t msg_begin(struct buf *b, uint16_t type, uint16_t flags,
			uint32_t seq, uint8_t family, uint16_t res_id)
{
	struct nlmsghdr h = {
		.nlmsg_len = 0,
		.nlmsg_type = type,
		.nlmsg_flags = flags,
		.nlmsg_seq = seq,
		.nlmsg_pid = 0,
	};
	struct nfgenmsg g = {
		.nfgen_family = family,
		.version = NFNETLINK_V0,
		.res_id = htons(res_id),
	};
	size_t off = buf_len(b);

	put(b, &h, sizeof(h));
	put(b, &g, sizeof(g));
	return off;
}

static void msg_end(struct buf *b, size_t off)
{
	uint32_t len = (uint32_t)(buf_len(b) - off);

	memcpy(buf_head(b) + off, &len, sizeof(len));
}

static uint16_t nft_type(int msg)
{
	return (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg);
}

static void put_expr(struct buf *b, const struct nft_expr *e)
{
	size_t elem = nest_begin(b, NFTA_LIST_ELEM), data, n, v;

	switch (e->type) {
	case NFT_EXPR_META:
		put_str(b, NFTA_EXPR_NAME, "meta");
		data = nest_begin(b, NFTA_EXPR_DATA);
		put_be32(b, NFTA_META_KEY, e->key);
		put_be32(b, NFTA_META_DREG, e->dreg);
		break;
	case NFT_EXPR_PAYLOAD:
		put_str(b, NFTA_EXPR_NAME, "payload");
		data = nest_begin(b, NFTA_EXPR_DATA);
		put_be32(b, NFTA_PAYLOAD_DREG, e->dreg);
		put_be32(b, NFTA_PAYLOAD_BASE, e->base);
		put_be32(b, NFTA_PAYLOAD_OFFSET, e->offset);
		put_be32(b, NFTA_PAYLOAD_LEN, e->len);
		break;
	case NFT_EXPR_CMP:
		put_str(b, NFTA_EXPR_NAME, "cmp");
		data = nest_begin(b, NFTA_EXPR_DATA);
		put_be32(b, NFTA_CMP_SREG, e->sreg);
		put_be32(b, NFTA_CMP_OP, e->op);
		put_data(b, NFTA_CMP_DATA, e->data, e->data_len);
		break;
	case NFT_EXPR_RANGE:
		put_str(b, NFTA_EXPR_NAME, "range");
		data = nest_begin(b, NFTA_EXPR_DATA);
		put_be32(b, NFTA_RANGE_SREG, e->sreg);
		put_be32(b, NFTA_RANGE_OP, e->op);
		put_data(b, NFTA_RANGE_FROM_DATA, e->data, e->data_len);
		put_data(b, NFTA_RANGE_TO_DATA, e->data2, e->data_len);
		break;
	case NFT_EXPR_BITWISE:
		put_str(b, NFTA_EXPR_NAME, "bitwise");
		data = nest_begin(b, NFTA_EXPR_DATA);
		put_be32(b, NFTA_BITWISE_SREG, e->sreg);
		put_be32(b, NFTA_BITWISE_DREG, e->dreg);
		put_be32(b, NFTA_BITWISE_LEN, e->len);
		put_data(b, NFTA_BITWISE_MASK, e->data, e->data_len);
		put_data(b, NFTA_BITWISE_XOR, e->data2, e->data_len);
		break;
	case NFT_EXPR_IMMEDIATE:
		put_str(b, NFTA_EXPR_NAME, "immediate");
		data = nest_begin(b, NFTA_EXPR_DATA);
		put_be32(b, NFTA_IMMEDIATE_DREG, e->dreg);
		if (e->dreg == NFT_REG_VERDICT) {
			n = nest_begin(b, NFTA_IMMEDIATE_DATA);
			v = nest_begin(b, NFTA_DATA_VERDICT);
			put_be32(b, NFTA_VERDICT_CODE, (uint32_t)e->verdict);
			nest_end(b, v);
			nest_end(b, n);
		} else {
			put_data(b, NFTA_IMMEDIATE_DATA, e->data, e->data_len);
		}
		break;
	case NFT_EXPR_REDIR:
		put_str(b, NFTA_EXPR_NAME, "redir");
		data = nest_begin(b, NFTA_EXPR_DATA);
		if (e->sreg)
			put_be32(b, NFTA_REDIR_REG_PROTO_MIN, e->sreg);
		if (e->sreg2 && e->sreg2 != e->sreg)
			put_be32(b, NFTA_REDIR_REG_PROTO_MAX, e->sreg2);
		if (e->flags)
			put_be32(b, NFTA_REDIR_FLAGS, e->flags);
		break;
	case NFT_EXPR_NONE:
	case NFT_EXPR_OTHER:
	default:
		BUG_ON(1); /* never built, only decoded */
		return;
	}
	nest_end(b, data);
	nest_end(b, elem);
}

/* put_comment - NFTA_RULE_USERDATA: one TLV, type 0, the comment and NUL */
static void put_comment(struct buf *b, const char *comment)
{
	uint8_t tlv[2 + NFT_COMMENT_MAX];
	size_t len = strlen(comment) + 1;

	BUG_ON(len > NFT_COMMENT_MAX);
	tlv[0] = COMMENT_UDATA_TYPE;
	tlv[1] = (uint8_t)len;
	memcpy(tlv + 2, comment, len);
	put_attr(b, NFTA_RULE_USERDATA, tlv, 2 + len);
}

PRINTF_LIKE(3, 4)
static uint32_t batch_note(struct nft_batch *b, bool ack, const char *fmt, ...)
{
	struct nft_batch_msg *m;
	va_list ap;

	BUG_ON(b->ended);
	b->msgs = xrealloc(b->msgs, (b->nmsgs + 1) * sizeof(*m));
	m = &b->msgs[b->nmsgs++];
	memset(m, 0, sizeof(*m));
	m->seq = b->seq++;
	m->ack = ack;
	va_start(ap, fmt);
	vsnprintf(m->what, sizeof(m->what), fmt, ap);
	va_end(ap);
	return m->seq;
}

void nft_batch_init(struct nft_batch *b, uint32_t seq)
{
	size_t m;

	memset(b, 0, sizeof(*b));
	buf_init(&b->buf, 0);
	b->seq = seq;
	seq = batch_note(b, false, "begin batch");
	m = msg_begin(&b->buf, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq,
		      AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	msg_end(&b->buf, m);
}

void nft_batch_release(struct nft_batch *b)
{
	buf_release(&b->buf);
	free(b->msgs);
	b->msgs = NULL;
	b->nmsgs = 0;
}

void nft_batch_end(struct nft_batch *b)
{
	uint32_t seq = batch_note(b, false, "end batch");
	size_t m = msg_begin(&b->buf, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq,
			     AF_UNSPEC, NFNL_SUBSYS_NFTABLES);

	msg_end(&b->buf, m);
	b->ended = true;
}

void nft_batch_add_table(struct nft_batch *b, enum nft_family family,
			 const char *name)
{
	uint32_t seq = batch_note(b, true, "add table %s %s",
				  nft_family_name(family), name);
	size_t m = msg_begin(&b->buf, nft_type(NFT_MSG_NEWTABLE),
			     NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, seq,
			     (uint8_t)family, 0);

	put_str(&b->buf, NFTA_TABLE_NAME, name);
	put_be32(&b->buf, NFTA_TABLE_FLAGS, 0);
	msg_end(&b->buf, m);
}

void nft_batch_del_table(struct nft_batch *b, enum nft_family family,
			 const char *name)
{
	uint32_t seq = batch_note(b, true, "delete table %s %s",
				  nft_family_name(family), name);
	size_t m = msg_begin(&b->buf, nft_type(NFT_MSG_DELTABLE),
			     NLM_F_REQUEST | NLM_F_ACK, seq, (uint8_t)family, 0);

	put_str(&b->buf, NFTA_TABLE_NAME, name);
	msg_end(&b->buf, m);
}

void nft_batch_add_chain(struct nft_batch *b, enum nft_family family,
			 const char *table, const struct nft_chain *c)
{
	uint32_t seq = batch_note(b, true, "add chain %s %s %s",
				  nft_family_name(family), table, c->name);
	size_t m = msg_begin(&b->buf, nft_type(NFT_MSG_NEWCHAIN),
			     NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, seq,
			     (uint8_t)family, 0);
	size_t hook;

	put_str(&b->buf, NFTA_CHAIN_TABLE, table);
	put_str(&b->buf, NFTA_CHAIN_NAME, c->name);
	if (c->base) {
		put_str(&b->buf, NFTA_CHAIN_TYPE, c->type);
		put_be32(&b->buf, NFTA_CHAIN_POLICY, c->policy);
		hook = nest_begin(&b->buf, NFTA_CHAIN_HOOK);
		put_be32(&b->buf, NFTA_HOOK_HOOKNUM, c->hook);
		put_be32(&b->buf, NFTA_HOOK_PRIORITY, (uint32_t)c->priority);
		nest_end(&b->buf, hook);
	}
	msg_end(&b->buf, m);
}

void nft_batch_add_rule(struct nft_batch *b, enum nft_family family,
			const char *table, const struct nft_rule *r)
{
	uint32_t seq = batch_note(b, true, "add rule %s %s %s",
				  nft_family_name(family), r->chain,
				  r->comment[0] ? r->comment : r->text);
	size_t m = msg_begin(&b->buf, nft_type(NFT_MSG_NEWRULE),
			     NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
				     NLM_F_APPEND,
			     seq, (uint8_t)family, 0);
	size_t list;

	put_str(&b->buf, NFTA_RULE_TABLE, table);
	put_str(&b->buf, NFTA_RULE_CHAIN, r->chain);
	list = nest_begin(&b->buf, NFTA_RULE_EXPRESSIONS);
	for (size_t i = 0; i < r->nexpr; i++)
		put_expr(&b->buf, &r->expr[i]);
	nest_end(&b->buf, list);
	if (r->comment[0])
		put_comment(&b->buf, r->comment);
	msg_end(&b->buf, m);
}

void nft_batch_replace_table(struct nft_batch *b, const struct nft_table *t)
{
	nft_batch_add_table(b, t->family, t->name);
	nft_batch_del_table(b, t->family, t->name);
	nft_batch_add_table(b, t->family, t->name);
	for (size_t i = 0; i < t->nchains; i++)
		nft_batch_add_chain(b, t->family, t->name, &t->chains[i]);
	for (size_t i = 0; i < t->nrules; i++)
		nft_batch_add_rule(b, t->family, t->name, &t->rules[i]);
}

/* --- decoding -------------------------------------------------------------- */

/* An attribute walk over [p, end); attr() yields the next one or NULL. */
struct attrs {
	const uint8_t *p, *end;
	bool bad; /* a malformed attribute stopped the walk */
};

static void attrs_init(struct attrs *a, const void *p, size_t len)
{
	a->p = p;
	a->end = a->p + len;
	a->bad = false;
}

static const struct nlattr *attr_next(struct attrs *a)
{
	struct nlattr h;
	const uint8_t *at = a->p;

	if ((size_t)(a->end - a->p) < NLA_HDRLEN)
		return NULL;
	memcpy(&h, a->p, sizeof(h));
	if (h.nla_len < NLA_HDRLEN || h.nla_len > a->end - a->p) {
		a->bad = true;
		return NULL;
	}
	a->p += MIN((size_t)NLA_ALIGN(h.nla_len), (size_t)(a->end - a->p));
	return (const struct nlattr *)(const void *)at;
}

static uint16_t attr_type(const struct nlattr *n)
{
	uint16_t t;

	memcpy(&t, &n->nla_type, sizeof(t));
	return t & NLA_TYPE_MASK;
}

static size_t attr_len(const struct nlattr *n)
{
	uint16_t l;

	memcpy(&l, &n->nla_len, sizeof(l));
	return l - NLA_HDRLEN;
}

static const void *attr_data(const struct nlattr *n)
{
	return (const uint8_t *)n + NLA_HDRLEN;
}

static int attr_be32(const struct nlattr *n, uint32_t *v)
{
	if (attr_len(n) != 4)
		return -EPROTO;
	memcpy(v, attr_data(n), 4);
	*v = ntohl(*v);
	return 0;
}

/* attr_str - copy a string attribute (NUL-terminated or not) */
static int attr_str(const struct nlattr *n, char *out, size_t size)
{
	size_t len = strnlen(attr_data(n), attr_len(n));

	if (len >= size)
		return -E2BIG;
	memcpy(out, attr_data(n), len);
	out[len] = '\0';
	return 0;
}

/* decode_data - an NFTA_DATA_VALUE or NFTA_DATA_VERDICT nest */
static int decode_data(const struct nlattr *n, uint8_t *data, uint32_t *len,
		       int32_t *verdict)
{
	struct attrs a, v;
	const struct nlattr *x, *y;
	uint32_t code;

	attrs_init(&a, attr_data(n), attr_len(n));
	while ((x = attr_next(&a))) {
		switch (attr_type(x)) {
		case NFTA_DATA_VALUE:
			if (attr_len(x) > NFT_DATA_MAX)
				return -EPROTO;
			memcpy(data, attr_data(x), attr_len(x));
			*len = (uint32_t)attr_len(x);
			break;
		case NFTA_DATA_VERDICT:
			if (!verdict)
				return -EPROTO;
			attrs_init(&v, attr_data(x), attr_len(x));
			while ((y = attr_next(&v))) {
				if (attr_type(y) != NFTA_VERDICT_CODE)
					continue;
				if (attr_be32(y, &code))
					return -EPROTO;
				*verdict = (int32_t)code;
			}
			if (v.bad)
				return -EPROTO;
			break;
		}
	}
	return a.bad ? -EPROTO : 0;
}

/* decode_expr_data - the attributes of one known expression into e */
static int decode_expr_data(const struct nlattr *n, struct nft_expr *e)
{
	struct attrs a;
	const struct nlattr *x;
	uint32_t len2 = 0;
	int r = 0;

	attrs_init(&a, attr_data(n), attr_len(n));
	while (!r && (x = attr_next(&a))) {
		uint16_t t = attr_type(x);

		switch (e->type) {
		case NFT_EXPR_META:
			if (t == NFTA_META_KEY)
				r = attr_be32(x, &e->key);
			else if (t == NFTA_META_DREG)
				r = attr_be32(x, &e->dreg);
			else if (t == NFTA_META_SREG)
				r = attr_be32(x, &e->sreg);
			break;
		case NFT_EXPR_PAYLOAD:
			if (t == NFTA_PAYLOAD_DREG)
				r = attr_be32(x, &e->dreg);
			else if (t == NFTA_PAYLOAD_BASE)
				r = attr_be32(x, &e->base);
			else if (t == NFTA_PAYLOAD_OFFSET)
				r = attr_be32(x, &e->offset);
			else if (t == NFTA_PAYLOAD_LEN)
				r = attr_be32(x, &e->len);
			else if (t == NFTA_PAYLOAD_SREG)
				r = attr_be32(x, &e->sreg);
			break;
		case NFT_EXPR_CMP:
			if (t == NFTA_CMP_SREG)
				r = attr_be32(x, &e->sreg);
			else if (t == NFTA_CMP_OP)
				r = attr_be32(x, &e->op);
			else if (t == NFTA_CMP_DATA)
				r = decode_data(x, e->data, &e->data_len, NULL);
			break;
		case NFT_EXPR_RANGE:
			if (t == NFTA_RANGE_SREG)
				r = attr_be32(x, &e->sreg);
			else if (t == NFTA_RANGE_OP)
				r = attr_be32(x, &e->op);
			else if (t == NFTA_RANGE_FROM_DATA)
				r = decode_data(x, e->data, &e->data_len, NULL);
			else if (t == NFTA_RANGE_TO_DATA)
				r = decode_data(x, e->data2, &len2, NULL);
			break;
		case NFT_EXPR_BITWISE:
			if (t == NFTA_BITWISE_SREG)
				r = attr_be32(x, &e->sreg);
			else if (t == NFTA_BITWISE_DREG)
				r = attr_be32(x, &e->dreg);
			else if (t == NFTA_BITWISE_LEN)
				r = attr_be32(x, &e->len);
			else if (t == NFTA_BITWISE_OP)
				r = attr_be32(x, &e->op);
			else if (t == NFTA_BITWISE_MASK)
				r = decode_data(x, e->data, &e->data_len, NULL);
			else if (t == NFTA_BITWISE_XOR)
				r = decode_data(x, e->data2, &len2, NULL);
			break;
		case NFT_EXPR_IMMEDIATE:
			if (t == NFTA_IMMEDIATE_DREG)
				r = attr_be32(x, &e->dreg);
			else if (t == NFTA_IMMEDIATE_DATA)
				r = decode_data(x, e->data, &e->data_len,
						&e->verdict);
			break;
		case NFT_EXPR_REDIR:
			if (t == NFTA_REDIR_REG_PROTO_MIN)
				r = attr_be32(x, &e->sreg);
			else if (t == NFTA_REDIR_REG_PROTO_MAX)
				r = attr_be32(x, &e->sreg2);
			else if (t == NFTA_REDIR_FLAGS)
				r = attr_be32(x, &e->flags);
			break;
		default:
			break;
		}
	}
	if (r || a.bad)
		return -EPROTO;
	/* data and data2 share data_len: a mismatch is not ours */
	if ((e->type == NFT_EXPR_RANGE || e->type == NFT_EXPR_BITWISE) &&
	    len2 != e->data_len)
		return -EPROTO;
	if (e->type == NFT_EXPR_REDIR && !e->sreg2)
		e->sreg2 = e->sreg;
	return 0;
}

static const struct {
	const char *name;
	enum nft_expr_type type;
} expr_names[] = {
	{ "meta", NFT_EXPR_META },	     { "payload", NFT_EXPR_PAYLOAD },
	{ "cmp", NFT_EXPR_CMP },	     { "range", NFT_EXPR_RANGE },
	{ "bitwise", NFT_EXPR_BITWISE },     { "immediate", NFT_EXPR_IMMEDIATE },
	{ "redir", NFT_EXPR_REDIR },
};

static int decode_expr(const struct nlattr *elem, struct nft_expr *e)
{
	struct attrs a;
	const struct nlattr *x, *data = NULL;
	char name[sizeof(e->name)] = "";

	memset(e, 0, sizeof(*e));
	attrs_init(&a, attr_data(elem), attr_len(elem));
	while ((x = attr_next(&a))) {
		if (attr_type(x) == NFTA_EXPR_NAME) {
			if (attr_str(x, name, sizeof(name)))
				str_copy(name, "(long name)", sizeof(name));
		} else if (attr_type(x) == NFTA_EXPR_DATA) {
			data = x;
		}
	}
	if (a.bad || !name[0])
		return -EPROTO;
	e->type = NFT_EXPR_OTHER;
	for (size_t i = 0; i < ARRAY_SIZE(expr_names); i++)
		if (strcmp(name, expr_names[i].name) == 0)
			e->type = expr_names[i].type;
	if (e->type == NFT_EXPR_OTHER) {
		str_copy(e->name, name, sizeof(e->name));
		return 0;
	}
	return data ? decode_expr_data(data, e) : 0;
}

/* decode_comment - the comment TLV of NFTA_RULE_USERDATA, if any */
static void decode_comment(const struct nlattr *n, char *out, size_t size)
{
	const uint8_t *p = attr_data(n);
	size_t len = attr_len(n);

	while (len >= 2) {
		size_t l = p[1];

		if (l > len - 2)
			return;
		if (p[0] == COMMENT_UDATA_TYPE && l > 0 && p[2 + l - 1] == '\0' &&
		    l <= size) {
			memcpy(out, p + 2, l);
			return;
		}
		p += 2 + l;
		len -= 2 + l;
	}
}

/*
 * msg_attrs - check that msg is a whole nf_tables message of type want
 * and start a walk over its attributes
 */
static int msg_attrs(const void *msg, size_t len, int want, struct attrs *a)
{
	struct nlmsghdr h;

	if (len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
		return -EPROTO;
	memcpy(&h, msg, sizeof(h));
	if (h.nlmsg_len > len || h.nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
		return -EPROTO;
	if (h.nlmsg_type != nft_type(want))
		return -EPROTO;
	attrs_init(a, (const uint8_t *)msg + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)),
		   h.nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct nfgenmsg)));
	return 0;
}

int nft_decode_chain(const void *msg, size_t len, char *table, size_t size,
		     struct nft_chain *out)
{
	struct attrs a, h;
	const struct nlattr *x, *y;
	uint32_t v = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (size)
		table[0] = '\0';
	r = msg_attrs(msg, len, NFT_MSG_NEWCHAIN, &a);
	if (r)
		return r;
	while (!r && (x = attr_next(&a))) {
		switch (attr_type(x)) {
		case NFTA_CHAIN_TABLE:
			r = attr_str(x, table, size);
			break;
		case NFTA_CHAIN_NAME:
			r = attr_str(x, out->name, sizeof(out->name));
			break;
		case NFTA_CHAIN_TYPE:
			r = attr_str(x, out->type, sizeof(out->type));
			break;
		case NFTA_CHAIN_POLICY:
			r = attr_be32(x, &out->policy);
			break;
		case NFTA_CHAIN_HOOK:
			out->base = true;
			attrs_init(&h, attr_data(x), attr_len(x));
			while (!r && (y = attr_next(&h))) {
				if (attr_type(y) == NFTA_HOOK_HOOKNUM) {
					r = attr_be32(y, &v);
					out->hook = (enum nft_hook)v;
				} else if (attr_type(y) == NFTA_HOOK_PRIORITY) {
					r = attr_be32(y, &v);
					out->priority = (int32_t)v;
				}
			}
			if (h.bad)
				r = -EPROTO;
			break;
		}
	}
	if (!r && a.bad)
		r = -EPROTO;
	return r == -E2BIG ? r : r ? -EPROTO : 0;
}

int nft_decode_rule(const void *msg, size_t len, char *table, size_t size,
		    struct nft_rule *out)
{
	struct attrs a, l;
	const struct nlattr *x, *y;
	uint64_t handle;
	int r;

	memset(out, 0, sizeof(*out));
	if (size)
		table[0] = '\0';
	r = msg_attrs(msg, len, NFT_MSG_NEWRULE, &a);
	if (r)
		return r;
	while (!r && (x = attr_next(&a))) {
		switch (attr_type(x)) {
		case NFTA_RULE_TABLE:
			r = attr_str(x, table, size);
			break;
		case NFTA_RULE_CHAIN:
			r = attr_str(x, out->chain, sizeof(out->chain));
			break;
		case NFTA_RULE_HANDLE:
			if (attr_len(x) != 8) {
				r = -EPROTO;
				break;
			}
			memcpy(&handle, attr_data(x), 8);
			out->handle = be64toh(handle);
			break;
		case NFTA_RULE_EXPRESSIONS:
			attrs_init(&l, attr_data(x), attr_len(x));
			while (!r && (y = attr_next(&l))) {
				if (attr_type(y) != NFTA_LIST_ELEM)
					continue;
				if (out->nexpr == NFT_RULE_MAX_EXPRS)
					return -E2BIG;
				r = decode_expr(y, &out->expr[out->nexpr++]);
			}
			if (l.bad)
				r = -EPROTO;
			break;
		case NFTA_RULE_USERDATA:
			decode_comment(x, out->comment, sizeof(out->comment));
			break;
		}
	}
	if (!r && a.bad)
		r = -EPROTO;
	return r == -E2BIG ? r : r ? -EPROTO : 0;
}

/* --- ACKs and errors --------------------------------------------------------- */

static struct nft_batch_msg *find_msg(struct nft_batch *b, uint32_t seq)
{
	/* sequence numbers are consecutive from the BEGIN's */
	if (!b->nmsgs || seq - b->msgs[0].seq >= b->nmsgs)
		return NULL;
	return &b->msgs[seq - b->msgs[0].seq];
}

/*
 * ext_ack_msg - the NLMSGERR_ATTR_MSG text of an error message, which
 * follows the echoed request (only its header when NLM_F_CAPPED).
 */
static void ext_ack_msg(const struct nlmsghdr *h, const uint8_t *p,
			size_t len, char *out, size_t size)
{
	struct nlmsgerr e;
	size_t off = NLMSG_HDRLEN + sizeof(e);
	struct attrs a;
	const struct nlattr *x;

	if (size)
		out[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || len < off)
		return;
	memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e.msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += NLMSG_ALIGN(e.msg.nlmsg_len) - NLMSG_HDRLEN;
	}
	if (off > len)
		return;
	attrs_init(&a, p + off, len - off);
	while ((x = attr_next(&a)))
		if (attr_type(x) == NLMSGERR_ATTR_MSG)
			attr_str(x, out, size);
}

int nft_batch_parse_acks(struct nft_batch *b, const void *data, size_t len,
			 struct nft_error *err)
{
	const uint8_t *p = data;

	while (len >= NLMSG_HDRLEN) {
		struct nlmsghdr h;
		struct nlmsgerr e;
		struct nft_batch_msg *m;

		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
			return -EPROTO;
		m = find_msg(b, h.nlmsg_seq);
		if (h.nlmsg_type == NLMSG_ERROR && m) {
			if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(e))
				return -EPROTO;
			memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
			m->acked = true;
			if (e.error && !err->err) {
				err->err = e.error > 0 ? -e.error : e.error;
				str_copy(err->what, m->what, sizeof(err->what));
				ext_ack_msg(&h, p, h.nlmsg_len, err->msg,
					    sizeof(err->msg));
			}
			/*
			 * An error on BEGIN or END (no CAP_NET_ADMIN, no
			 * nf_tables) rejects the whole batch before any
			 * message runs: no other answer will come.
			 */
			if (e.error && !m->ack)
				for (size_t i = 0; i < b->nmsgs; i++)
					b->msgs[i].acked = true;
		}
		len -= MIN(NLMSG_ALIGN(h.nlmsg_len), len);
		p += NLMSG_ALIGN(h.nlmsg_len);
	}
	return err->err;
}

size_t nft_batch_pending(const struct nft_batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nmsgs; i++)
		n += b->msgs[i].ack && !b->msgs[i].acked;
	return n;
}

/* --- the socket ---------------------------------------------------------- */

PRINTF_LIKE(3, 4)
static int fail(struct nft_error *err, int e, const char *fmt, ...)
{
	va_list ap;

	err->err = e;
	va_start(ap, fmt);
	vsnprintf(err->what, sizeof(err->what), fmt, ap);
	va_end(ap);
	err->msg[0] = '\0';
	return e;
}

int nft_open(struct nft_sock *s, struct nft_error *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int one = 1;

	memset(err, 0, sizeof(*err));
	s->seq = 1;
	s->portid = 0;
	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (s->fd < 0)
		return fail(err, -errno, "open netlink socket (nfnetlink)");
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &salen)) {
		int e = -errno;

		nft_close(s);
		return fail(err, e, "bind netlink socket");
	}
	s->portid = sa.nl_pid;
	/*
	 * Short ACKs (no echo of our request), and the kernel's error text;
	 * both are optional, older kernels just ignore them.
	 */
	setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	return 0;
}

void nft_close(struct nft_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* grow_buf - make a socket buffer hold at least size bytes (best effort) */
static void grow_buf(int fd, int force_opt, int opt, size_t size)
{
	int cur = 0, want = size > INT_MAX / 2 ? INT_MAX / 2 : (int)size;
	socklen_t len = sizeof(cur);

	if (!getsockopt(fd, SOL_SOCKET, opt, &cur, &len) && cur >= want)
		return;
	/* the FORCE variant ignores the sysctl cap, given CAP_NET_ADMIN */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &want, sizeof(want)))
		setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want));
}

int nft_batch_send(struct nft_sock *s, struct nft_batch *b,
		   struct nft_error *err)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint8_t *rbuf;
	int r = 0;

	BUG_ON(!b->ended);
	memset(err, 0, sizeof(*err));
	/*
	 * The batch is one datagram, and every message's answer is queued
	 * before sendmsg returns: size both buffers for it (an ACK costs
	 * the receive buffer about a kilobyte of skb overhead).
	 */
	grow_buf(s->fd, SO_SNDBUFFORCE, SO_SNDBUF, buf_len(&b->buf) * 2 + 4096);
	grow_buf(s->fd, SO_RCVBUFFORCE, SO_RCVBUF, b->nmsgs * 2048 + 65536);
	if (sendto(s->fd, buf_head(&b->buf), buf_len(&b->buf), 0,
		   (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return fail(err, -errno, "send batch (%zu bytes)",
			    buf_len(&b->buf));
	rbuf = xmalloc(DUMP_BUF_SIZE);
	while (nft_batch_pending(b)) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		ssize_t n;

		n = poll(&pfd, 1, 2000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			/* the answers are queued synchronously: none is coming */
			r = err->err ? err->err :
				       fail(err, -ETIMEDOUT,
					    "read ACKs: %zu of %zu messages unanswered",
					    nft_batch_pending(b), b->nmsgs - 2);
			break;
		}
		n = recv(s->fd, rbuf, DUMP_BUF_SIZE, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			/* ENOBUFS: answers were dropped; the outcome is unknown */
			r = fail(err, -errno, "read ACKs");
			break;
		}
		r = nft_batch_parse_acks(b, rbuf, (size_t)n, err);
		if (r == -EPROTO && !err->err) {
			fail(err, r, "read ACKs: malformed answer");
			break;
		}
	}
	free(rbuf);
	return r ? r : err->err;
}

/* --- listing ----------------------------------------------------------------- */

/*
 * request - send one GET request (flags: NLM_F_DUMP or NLM_F_ACK), with
 * an optional name attribute. Returns its sequence number, or 0 with
 * *err filled.
 */
static uint32_t request(struct nft_sock *s, int msg, uint16_t flags,
			enum nft_family family, uint16_t attr, const char *name,
			struct nft_error *err, const char *what)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct buf b;
	uint32_t seq = s->seq++;
	size_t m;
	ssize_t n;

	if (seq == 0)
		seq = s->seq++;
	buf_init(&b, 0);
	m = msg_begin(&b, nft_type(msg), NLM_F_REQUEST | flags, seq,
		      (uint8_t)family, 0);
	if (name)
		put_str(&b, attr, name);
	msg_end(&b, m);
	n = sendto(s->fd, buf_head(&b), buf_len(&b), 0,
		   (struct sockaddr *)&kernel, sizeof(kernel));
	buf_release(&b);
	if (n < 0) {
		fail(err, -errno, "%s", what);
		return 0;
	}
	return seq;
}

/*
 * on_msg - one message of a reply, already checked for its sequence number
 * and type; returns 0 or a negative errno that ends the read.
 */
typedef int (*on_msg_fn)(const struct nlmsghdr *h, const void *msg, void *arg);

/*
 * read_reply - read the answers to request seq until NLMSG_DONE or the
 * ACK, handing every data message to on_msg. Returns 0, a negative errno
 * from the kernel or on_msg, or -EINTR when a dump was interrupted by a
 * concurrent change (the caller retries).
 */
static int read_reply(struct nft_sock *s, uint32_t seq, on_msg_fn on_msg,
		      void *arg, struct nft_error *err, const char *what)
{
	uint8_t *rbuf = xmalloc(DUMP_BUF_SIZE);
	bool done = false, intr = false;
	int r = 0;

	while (!done && !r) {
		ssize_t n = recv(s->fd, rbuf, DUMP_BUF_SIZE, MSG_TRUNC);
		const uint8_t *p = rbuf;
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(err, -errno, "%s", what);
			break;
		}
		if ((size_t)n > DUMP_BUF_SIZE) {
			r = fail(err, -EMSGSIZE, "%s: answer too large", what);
			break;
		}
		len = (size_t)n;
		while (!done && !r && len >= NLMSG_HDRLEN) {
			struct nlmsghdr h;

			memcpy(&h, p, sizeof(h));
			if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len) {
				r = fail(err, -EPROTO, "%s: malformed answer", what);
				break;
			}
			if (h.nlmsg_seq == seq) {
				if (h.nlmsg_flags & NLM_F_DUMP_INTR)
					intr = true;
				if (h.nlmsg_type == NLMSG_DONE) {
					done = true;
				} else if (h.nlmsg_type == NLMSG_ERROR) {
					struct nlmsgerr e;

					if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(e)) {
						r = fail(err, -EPROTO, "%s: malformed answer",
							 what);
						break;
					}
					memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
					done = true;
					if (e.error) {
						r = fail(err, e.error > 0 ? -e.error : e.error,
							 "%s", what);
						ext_ack_msg(&h, p, h.nlmsg_len, err->msg,
							    sizeof(err->msg));
					}
				} else if (h.nlmsg_type != NLMSG_NOOP) {
					r = on_msg(&h, p, arg);
					if (r)
						fail(err, r, "%s: bad answer", what);
				}
			}
			len -= MIN(NLMSG_ALIGN(h.nlmsg_len), len);
			p += NLMSG_ALIGN(h.nlmsg_len);
		}
	}
	free(rbuf);
	if (!r && intr)
		r = -EINTR;
	return r;
}

/* on_table - the table's flags (found says the table answered) */
struct table_reply {
	bool found;
	uint32_t flags;
};

static int on_table(const struct nlmsghdr *h, const void *msg, void *arg)
{
	struct table_reply *t = arg;
	const struct nlattr *x;
	struct attrs a;

	if (msg_attrs(msg, h->nlmsg_len, NFT_MSG_NEWTABLE, &a))
		return -EPROTO;
	while ((x = attr_next(&a)))
		if (attr_type(x) == NFTA_TABLE_FLAGS && attr_be32(x, &t->flags))
			return -EPROTO;
	t->found = true;
	return a.bad ? -EPROTO : 0;
}

static int on_chain(const struct nlmsghdr *h, const void *msg, void *arg)
{
	struct nft_table *t = arg;
	char table[NFT_NAME_MAX];
	struct nft_chain c;
	int r;

	if (h->nlmsg_type != nft_type(NFT_MSG_NEWCHAIN))
		return 0;
	r = nft_decode_chain(msg, h->nlmsg_len, table, sizeof(table), &c);
	if (r == -E2BIG) /* a name longer than ours: not our chain */
		return 0;
	if (r)
		return r;
	if (strcmp(table, t->name) != 0)
		return 0;
	t->chains = xrealloc(t->chains, (t->nchains + 1) * sizeof(c));
	t->chains[t->nchains++] = c;
	return 0;
}

static int on_rule(const struct nlmsghdr *h, const void *msg, void *arg)
{
	struct nft_table *t = arg;
	char table[NFT_NAME_MAX];
	struct nft_rule *r;
	int ret;

	if (h->nlmsg_type != nft_type(NFT_MSG_NEWRULE))
		return 0;
	t->rules = xrealloc(t->rules, (t->nrules + 1) * sizeof(*r));
	r = &t->rules[t->nrules];
	ret = nft_decode_rule(msg, h->nlmsg_len, table, sizeof(table), r);
	if (ret == -E2BIG) {
		/*
		 * More expressions than we ever build: keep it as a rule that
		 * matches nothing of ours, so that the comparison reports it.
		 */
		struct nft_expr big = { .type = NFT_EXPR_OTHER };

		str_copy(big.name, "(too many expressions)", sizeof(big.name));
		if (strcmp(table, t->name) != 0)
			return 0;
		r->nexpr = 0;
		nft_rule_add_expr(r, &big);
		ret = 0;
	}
	if (ret)
		return ret;
	if (strcmp(table, t->name) == 0)
		t->nrules++;
	return 0;
}

static int list_once(struct nft_sock *s, enum nft_family family,
		     const char *name, struct nft_table *out,
		     struct nft_error *err)
{
	const char *fam = nft_family_name(family);
	char what[NFT_NAME_MAX + 32];
	struct table_reply tr = { false, 0 };
	uint32_t seq;
	int r;

	nft_table_release(out);
	nft_table_init(out, family, name);
	snprintf(what, sizeof(what), "get table %s %s", fam, name);
	seq = request(s, NFT_MSG_GETTABLE, NLM_F_ACK, family, NFTA_TABLE_NAME,
		      name, err, what);
	if (!seq)
		return err->err;
	r = read_reply(s, seq, on_table, &tr, err, what);
	if (r == -ENOENT) {
		memset(err, 0, sizeof(*err));
		return -ENOENT;
	}
	if (r)
		return r;
	if (!tr.found)
		return fail(err, -EPROTO, "%s: no answer", what);
	out->flags = tr.flags;
	snprintf(what, sizeof(what), "list chains %s %s", fam, name);
	seq = request(s, NFT_MSG_GETCHAIN, NLM_F_DUMP, family, 0, NULL, err,
		      what);
	if (!seq)
		return err->err;
	r = read_reply(s, seq, on_chain, out, err, what);
	if (r)
		return r;
	snprintf(what, sizeof(what), "list rules %s %s", fam, name);
	seq = request(s, NFT_MSG_GETRULE, NLM_F_DUMP, family, NFTA_RULE_TABLE,
		      name, err, what);
	if (!seq)
		return err->err;
	return read_reply(s, seq, on_rule, out, err, what);
}

int nft_list_table(struct nft_sock *s, enum nft_family family,
		   const char *name, struct nft_table *out,
		   struct nft_error *err)
{
	int r = -EINTR;

	memset(err, 0, sizeof(*err));
	/* a dump that raced a change says so (NLM_F_DUMP_INTR): read again */
	for (int i = 0; i < 5 && r == -EINTR; i++) {
		memset(err, 0, sizeof(*err));
		r = list_once(s, family, name, out, err);
	}
	if (r == -EINTR)
		fail(err, r, "list table %s %s: changed while reading",
		     nft_family_name(family), name);
	return r;
}
