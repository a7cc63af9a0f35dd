/* SPDX-License-Identifier: Apache-2.0 */
/* redirect.c - proxy-init's policy: which nf_tables rules send a pod's TCP to its proxy */
#include "conduit/redirect.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const uint16_t redirect_always_ignored[2] = { 4190, 4191 };

void redirect_config_init(struct redirect_config *c)
{
	memset(c, 0, sizeof(*c));
	c->inbound_port = REDIRECT_INBOUND_PORT;
	c->outbound_port = REDIRECT_OUTBOUND_PORT;
	c->proxy_uid = REDIRECT_PROXY_UID;
	c->proxy_gid = -1;
	netlist_ports_init(&c->inbound_ignore);
	netlist_ports_init(&c->outbound_ignore);
	netlist_ports_init(&c->redirect_ports);
	netlist_cidrs_init(&c->subnets_ignore);
}

void redirect_config_release(struct redirect_config *c)
{
	netlist_ports_release(&c->inbound_ignore);
	netlist_ports_release(&c->outbound_ignore);
	netlist_ports_release(&c->redirect_ports);
	netlist_cidrs_release(&c->subnets_ignore);
}

static void ignore_port(struct nft_table *t, const char *chain,
			const char *dir, const struct netlist_port_range *p)
{
	char comment[NFT_COMMENT_MAX], ports[16];
	struct nft_rule *r;

	snprintf(comment, sizeof(comment), "proxy-init/ignore-%s-port-%s", dir,
		 netlist_format_range(p, ports, sizeof(ports)));
	r = nft_table_add_rule(t, chain, comment);
	nft_match_tcp_dport(r, p->lo, p->hi);
	nft_stmt_return(r);
}

static void ignore_subnets(struct nft_table *t, const char *chain,
			   const char *dir, bool source,
			   const struct netlist_cidrs *subnets)
{
	int af = t->family == NFT_FAMILY_IP ? AF_INET : AF_INET6;

	for (size_t i = 0; i < subnets->n; i++) {
		const struct netlist_cidr *s = &subnets->v[i];
		char comment[NFT_COMMENT_MAX], cidr[NETLIST_CIDR_STRLEN];
		struct nft_rule *r;

		if (s->family != af)
			continue;
		snprintf(comment, sizeof(comment),
			 "proxy-init/ignore-%s-subnet-%s", dir,
			 netlist_format_cidr(s, cidr, sizeof(cidr)));
		r = nft_table_add_rule(t, chain, comment);
		nft_match_addr(r, t->family, source, s->addr, s->prefix);
		nft_stmt_return(r);
	}
}

static void build_inbound(const struct redirect_config *c, struct nft_table *t)
{
	const char *chain = REDIRECT_CHAIN_INBOUND;
	char comment[NFT_COMMENT_MAX], ports[16];
	struct nft_rule *r;

	nft_table_add_chain(t, chain, "nat", NFT_HOOK_PREROUTING,
			    NFT_PRIO_DSTNAT);
	for (size_t i = 0; i < ARRAY_SIZE(redirect_always_ignored); i++) {
		struct netlist_port_range p = { redirect_always_ignored[i],
						redirect_always_ignored[i] };

		ignore_port(t, chain, "inbound", &p);
	}
	for (size_t i = 0; i < c->inbound_ignore.n; i++) {
		const struct netlist_port_range *p = &c->inbound_ignore.v[i];
		bool dup = false;

		/* 4190 and 4191 have their rules already */
		for (size_t j = 0; j < ARRAY_SIZE(redirect_always_ignored); j++)
			dup |= p->lo == p->hi &&
			       p->lo == redirect_always_ignored[j];
		if (!dup)
			ignore_port(t, chain, "inbound", p);
	}
	ignore_subnets(t, chain, "inbound", true, &c->subnets_ignore);
	if (!c->redirect_ports.n) {
		snprintf(comment, sizeof(comment),
			 "proxy-init/redirect-all-inbound-to-%u", c->inbound_port);
		r = nft_table_add_rule(t, chain, comment);
		nft_match_tcp(r);
		nft_stmt_redirect(r, c->inbound_port);
		return;
	}
	for (size_t i = 0; i < c->redirect_ports.n; i++) {
		const struct netlist_port_range *p = &c->redirect_ports.v[i];

		snprintf(comment, sizeof(comment),
			 "proxy-init/redirect-inbound-port-%s-to-%u",
			 netlist_format_range(p, ports, sizeof(ports)),
			 c->inbound_port);
		r = nft_table_add_rule(t, chain, comment);
		nft_match_tcp_dport(r, p->lo, p->hi);
		nft_stmt_redirect(r, c->inbound_port);
	}
}

static void build_outbound(const struct redirect_config *c,
			   struct nft_table *t)
{
	const char *chain = REDIRECT_CHAIN_OUTBOUND;
	char comment[NFT_COMMENT_MAX];
	struct nft_rule *r;

	/*
	 * The output hook at the same priority as the inbound one (nft has no
	 * name for -100 there); only the order within each chain matters.
	 */
	nft_table_add_chain(t, chain, "nat", NFT_HOOK_OUTPUT, NFT_PRIO_DSTNAT);
	/* first: the proxy's own connections must never loop back to it */
	if (c->proxy_uid >= 0) {
		r = nft_table_add_rule(t, chain, "proxy-init/ignore-uid");
		nft_match_skuid(r, (uint32_t)c->proxy_uid);
		nft_stmt_return(r);
	}
	if (c->proxy_gid >= 0) {
		r = nft_table_add_rule(t, chain, "proxy-init/ignore-gid");
		nft_match_skgid(r, (uint32_t)c->proxy_gid);
		nft_stmt_return(r);
	}
	r = nft_table_add_rule(t, chain, "proxy-init/ignore-loopback");
	nft_match_oifname(r, "lo");
	nft_stmt_return(r);
	for (size_t i = 0; i < c->outbound_ignore.n; i++)
		ignore_port(t, chain, "outbound", &c->outbound_ignore.v[i]);
	ignore_subnets(t, chain, "outbound", false, &c->subnets_ignore);
	snprintf(comment, sizeof(comment), "proxy-init/redirect-all-outbound-to-%u",
		 c->outbound_port);
	r = nft_table_add_rule(t, chain, comment);
	nft_match_tcp(r);
	nft_stmt_redirect(r, c->outbound_port);
}

void redirect_build(const struct redirect_config *c, enum nft_family family,
		    struct nft_table *out)
{
	nft_table_init(out, family, REDIRECT_TABLE);
	build_inbound(c, out);
	build_outbound(c, out);
}

static const enum nft_family families[] = { NFT_FAMILY_IP, NFT_FAMILY_IP6 };

static bool wanted(const struct redirect_config *c, enum nft_family f)
{
	return f == NFT_FAMILY_IP || c->ipv6;
}

void redirect_format(const struct redirect_config *c, bool cleanup,
		     struct buf *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		const char *fam = nft_family_name(families[i]);
		struct nft_table t;

		if (cleanup) {
			/* "table" first: deleting a missing table is an error */
			if (buf_printf(out, "table %s %s\ndelete table %s %s\n",
				       fam, REDIRECT_TABLE, fam, REDIRECT_TABLE))
				die("out of memory");
			continue;
		}
		if (!wanted(c, families[i]))
			continue;
		redirect_build(c, families[i], &t);
		nft_table_format(&t, true, out);
		nft_table_release(&t);
	}
}

/* batch_seq - a sequence number unlikely to match a stale answer */
static uint32_t batch_seq(void)
{
	return (uint32_t)time(NULL);
}

/* table_exists - 1, 0, or a negative errno with *err filled */
static int table_exists(struct nft_sock *s, enum nft_family family,
			struct nft_error *err)
{
	struct nft_table t;
	int r;

	nft_table_init(&t, family, REDIRECT_TABLE);
	r = nft_list_table(s, family, REDIRECT_TABLE, &t, err);
	nft_table_release(&t);
	if (r == -ENOENT)
		return 0;
	return r ? r : 1;
}

int redirect_install(const struct redirect_config *c, size_t *nrules,
		     struct nft_error *err)
{
	struct nft_batch b;
	struct nft_sock s;
	size_t n = 0;
	int r;

	r = nft_open(&s, err);
	if (r)
		return r;
	nft_batch_init(&b, batch_seq());
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		struct nft_table t;

		if (!wanted(c, families[i])) {
			r = table_exists(&s, families[i], err);
			if (r < 0)
				goto out;
			if (r)
				nft_batch_del_table(&b, families[i], REDIRECT_TABLE);
			continue;
		}
		redirect_build(c, families[i], &t);
		nft_batch_replace_table(&b, &t);
		n += t.nrules;
		nft_table_release(&t);
	}
	nft_batch_end(&b);
	r = nft_batch_send(&s, &b, err);
	if (!r && nrules)
		*nrules = n;
out:
	nft_batch_release(&b);
	nft_close(&s);
	return r < 0 ? r : 0;
}

int redirect_cleanup(size_t *ndeleted, struct nft_error *err)
{
	struct nft_batch b;
	struct nft_sock s;
	size_t n = 0;
	int r;

	r = nft_open(&s, err);
	if (r)
		return r;
	nft_batch_init(&b, batch_seq());
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		r = table_exists(&s, families[i], err);
		if (r < 0)
			goto out;
		if (r) {
			nft_batch_del_table(&b, families[i], REDIRECT_TABLE);
			n++;
		}
	}
	nft_batch_end(&b);
	r = n ? nft_batch_send(&s, &b, err) : 0;
	if (!r && ndeleted)
		*ndeleted = n;
out:
	nft_batch_release(&b);
	nft_close(&s);
	return r < 0 ? r : 0;
}

int redirect_verify(const struct redirect_config *c, char *why, size_t size,
		    struct nft_error *err)
{
	struct nft_sock s;
	int r;

	r = nft_open(&s, err);
	if (r)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(families) && !r; i++) {
		const char *fam = nft_family_name(families[i]);
		struct nft_table want, have;

		nft_table_init(&have, families[i], REDIRECT_TABLE);
		r = nft_list_table(&s, families[i], REDIRECT_TABLE, &have, err);
		if (!wanted(c, families[i])) {
			if (!r) {
				snprintf(why, size,
					 "table %s %s exists but is not wanted "
					 "(installed with --ipv6?)",
					 fam, REDIRECT_TABLE);
				r = 1;
			} else if (r == -ENOENT) {
				r = 0;
			}
		} else if (r == -ENOENT) {
			snprintf(why, size, "table %s %s is missing", fam,
				 REDIRECT_TABLE);
			r = 1;
		} else if (!r) {
			redirect_build(c, families[i], &want);
			r = nft_table_compare(&want, &have, why, size);
			nft_table_release(&want);
		}
		nft_table_release(&have);
	}
	nft_close(&s);
	return r;
}

int redirect_enter_netns(const char *path, char *msg, size_t size)
{
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, size, "--netns %s: %s (%s)", path, strerror(-r),
			 nft_errno_name(-r));
		return r;
	}
	if (setns(fd, CLONE_NEWNET)) {
		r = -errno;
		snprintf(msg, size, "--netns %s: setns: %s (%s)%s", path,
			 strerror(-r), nft_errno_name(-r),
			 r == -EINVAL ? ": not a network namespace" :
			 r == -EPERM  ? ": CAP_SYS_ADMIN is missing" : "");
	}
	close(fd);
	return r;
}

const char *redirect_error_hint(const struct nft_error *err)
{
	switch (-err->err) {
	case EPERM:
		return "CAP_NET_ADMIN is missing in this network namespace";
	case EOPNOTSUPP:
		return "the kernel has no nf_tables (CONFIG_NF_TABLES)";
	case EPROTONOSUPPORT:
		return "the kernel has no nfnetlink (CONFIG_NETFILTER_NETLINK)";
	case ENOENT:
		if (str_has_prefix(err->what, "add chain"))
			return "the kernel has no nat chain type (CONFIG_NFT_NAT)";
		if (str_has_prefix(err->what, "add rule"))
			return "an expression's module is missing (nft_redir? CONFIG_NFT_REDIR)";
		return "";
	case EINVAL:
		/* nfnetlink answers a request for a missing subsystem so */
		if (str_has_prefix(err->what, "get ") ||
		    str_has_prefix(err->what, "list "))
			return "the kernel may lack nf_tables (CONFIG_NF_TABLES)";
		return "";
	case EAFNOSUPPORT:
		return "the kernel lacks this address family in nf_tables";
	}
	return "";
}
