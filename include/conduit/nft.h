/* SPDX-License-Identifier: Apache-2.0 */
/* nft.h - a small nf_tables client: tables, nat chains and rules over netlink */
#ifndef CONDUIT_NFT_H
#define CONDUIT_NFT_H

#include <stdint.h>
#include <sys/types.h>

#include "conduit/base.h"
#include "conduit/buf.h"

/*
 * What proxy-init needs from nf_tables, spoken directly to the kernel over
 * an AF_NETLINK/NETLINK_NETFILTER socket (no libnftnl, no libmnl, no nft
 * binary: the image is FROM scratch). Three parts:
 *
 *  - a model: struct nft_table holds base chains and rules; a rule is a
 *    list of expressions (struct nft_expr) plus a comment. The builders
 *    (nft_match_*, nft_stmt_*) append the expressions nft(8) 1.0 itself
 *    generates for the same syntax, and the syntax alongside, so that
 *    nft_table_format() prints a file `nft -f` turns into the very same
 *    kernel objects;
 *  - a batch: every change goes in one NFNL_MSG_BATCH_BEGIN/END batch,
 *    which the kernel applies all or nothing; each message asks for an ACK
 *    and an error is mapped back to the message that caused it;
 *  - listing: a table's chains and rules read back (GET dumps) and decoded
 *    into the same model, so that "what is installed" and "what we would
 *    install" compare expression by expression (nft_table_compare).
 *
 * The kernel UAPI headers are included by nft.c only; the few constants
 * callers need are mirrored below (nft.c checks they agree).
 */

enum nft_family {
	NFT_FAMILY_IP = 2,   /* NFPROTO_IPV4: table ip */
	NFT_FAMILY_IP6 = 10, /* NFPROTO_IPV6: table ip6 */
};

enum nft_hook {
	NFT_HOOK_PREROUTING = 0, /* NF_INET_PRE_ROUTING */
	NFT_HOOK_OUTPUT = 3,	 /* NF_INET_LOCAL_OUT */
};

#define NFT_PRIO_DSTNAT (-100) /* nft's "dstnat" (NF_IP_PRI_NAT_DST) */
#define NFT_POLICY_ACCEPT 1    /* NF_ACCEPT */

#define NFT_NAME_MAX 256      /* table and chain names (NFT_NAME_MAXLEN) */
#define NFT_COMMENT_MAX 128   /* nft's limit on a rule comment */
#define NFT_RULE_MAX_EXPRS 12 /* more than any rule we build needs */
#define NFT_RULE_TEXT_MAX 256 /* a rule's nft syntax, comment excluded */
#define NFT_DATA_MAX 16	      /* one 128-bit register (an IPv6 address) */

enum nft_expr_type {
	NFT_EXPR_NONE = 0,
	NFT_EXPR_META,	    /* meta load KEY => dreg */
	NFT_EXPR_PAYLOAD,   /* payload load len @ base + offset => dreg */
	NFT_EXPR_CMP,	    /* cmp OP sreg data */
	NFT_EXPR_RANGE,	    /* range OP sreg data .. data2 */
	NFT_EXPR_BITWISE,   /* dreg = (sreg & data) ^ data2, len bytes */
	NFT_EXPR_IMMEDIATE, /* dreg = data, or a verdict when dreg is 0 */
	NFT_EXPR_REDIR,	    /* redir to the port in sreg (.. sreg2) */
	NFT_EXPR_OTHER,	    /* decoded: an expression this module never
			     * builds (counter, log, ...); name says which */
};

/*
 * One expression, as flat as the kernel's attributes: fields a type does
 * not use stay zero, so two expressions compare field by field whichever
 * way they were made (built here, or decoded from a kernel dump).
 * Register numbers and the numeric values are the kernel's (NFT_REG_1 = 1,
 * NFT_META_SKUID, NFT_CMP_EQ, NFT_RETURN, ...).
 */
struct nft_expr {
	enum nft_expr_type type;
	char name[16];	   /* NFT_EXPR_OTHER: the kernel's expression name */
	uint32_t dreg;	   /* meta, payload, bitwise, immediate: destination */
	uint32_t sreg;	   /* cmp, range, bitwise: source; redir: proto min */
	uint32_t sreg2;	   /* redir: proto max register (the kernel reports
			    * proto min here when none was given) */
	uint32_t key;	   /* meta: NFT_META_* key */
	uint32_t base;	   /* payload: NFT_PAYLOAD_{NETWORK,TRANSPORT}_HEADER */
	uint32_t offset;   /* payload: byte offset in that header */
	uint32_t len;	   /* payload, bitwise: bytes */
	uint32_t op;	   /* cmp: NFT_CMP_*; range: NFT_RANGE_* */
	int32_t verdict;   /* immediate with dreg 0: NFT_RETURN, NF_ACCEPT.. */
	uint32_t flags;	   /* redir: NF_NAT_RANGE_* */
	uint8_t data[NFT_DATA_MAX];  /* cmp value; range from; bitwise mask;
				      * immediate value */
	uint8_t data2[NFT_DATA_MAX]; /* range to; bitwise xor */
	uint32_t data_len; /* bytes of data (and data2) in use */
};

struct nft_rule {
	char chain[NFT_NAME_MAX];
	struct nft_expr expr[NFT_RULE_MAX_EXPRS];
	size_t nexpr;
	char comment[NFT_COMMENT_MAX];	/* "" when none */
	char text[NFT_RULE_TEXT_MAX];	/* builders: the nft syntax; "" when
					 * decoded from the kernel */
	uint64_t handle;		/* decoded: the kernel's handle */
};

struct nft_chain {
	char name[NFT_NAME_MAX];
	bool base;	    /* has a hook (all ours do) */
	char type[16];	    /* base chains: "nat", "filter", "route" */
	enum nft_hook hook; /* base chains */
	int32_t priority;   /* base chains */
	uint32_t policy;    /* base chains: NFT_POLICY_ACCEPT */
};

/* A table with its chains and rules, rules in chain order. */
struct nft_table {
	enum nft_family family;
	char name[NFT_NAME_MAX];
	uint32_t flags;		  /* NFT_TABLE_F_*: ours are 0; read back, a
				   * dormant table (0x1) holds inactive rules */
	struct nft_chain *chains; /* nchains, heap */
	size_t nchains;
	struct nft_rule *rules;	  /* nrules, heap */
	size_t nrules;
};

/* nft_family_name - "ip" or "ip6" */
const char *nft_family_name(enum nft_family family);

/* Embedded: nft_table_init / nft_table_release (frees chains and rules). */
void nft_table_init(struct nft_table *t, enum nft_family family,
		    const char *name);
void nft_table_release(struct nft_table *t);

/*
 * nft_table_add_chain - append a base chain, policy accept. Returns it;
 * borrowed, valid until the next add or release.
 */
struct nft_chain *nft_table_add_chain(struct nft_table *t, const char *name,
				      const char *type, enum nft_hook hook,
				      int32_t priority);

/*
 * nft_table_add_rule - append an empty rule to chain, with comment (NULL
 * or "" for none; at most NFT_COMMENT_MAX-1 bytes, no '"'). Fill it with
 * the builders below. Returns it; borrowed, valid until the next add or
 * release.
 */
struct nft_rule *nft_table_add_rule(struct nft_table *t, const char *chain,
				    const char *comment);

/*
 * Rule builders: each appends the expressions nft generates for the
 * syntax in quotes, and that syntax to rule->text. Too many expressions
 * for one rule is a bug (BUG_ON), never input.
 */
/* "meta l4proto tcp" */
void nft_match_tcp(struct nft_rule *r);
/* "tcp dport 80" or "tcp dport 1000-2000" (lo <= hi) */
void nft_match_tcp_dport(struct nft_rule *r, uint16_t lo, uint16_t hi);
/* "meta skuid 2102", "meta skgid 2102" */
void nft_match_skuid(struct nft_rule *r, uint32_t uid);
void nft_match_skgid(struct nft_rule *r, uint32_t gid);
/* "oifname \"lo\"" */
void nft_match_oifname(struct nft_rule *r, const char *ifname);
/*
 * "ip saddr 10.0.0.0/8", "ip6 daddr fd00::/8": family says which header
 * (it must be the table's), addr is in network byte order with its host
 * bits clear, prefix 0..32 or 0..128.
 */
void nft_match_addr(struct nft_rule *r, enum nft_family family, bool source,
		    const uint8_t *addr, unsigned prefix);
/* "return" */
void nft_stmt_return(struct nft_rule *r);
/* "redirect to :4143" */
void nft_stmt_redirect(struct nft_rule *r, uint16_t port);

/* nft_rule_add_expr - append one expression as is (tests, decoding) */
void nft_rule_add_expr(struct nft_rule *r, const struct nft_expr *e);

/*
 * nft_table_format - append t in `nft -f` syntax to out, with tabs as
 * `nft list ruleset` prints them. With replace, first the two lines
 * "table ip X" and "delete table ip X", so that loading the text replaces
 * whatever table X held, as nft_batch_replace_table() does.
 */
void nft_table_format(const struct nft_table *t, bool replace, struct buf *out);

/*
 * nft_expr_format - e as `nft --debug=netlink` shows it, e.g.
 * "[ meta load skuid => reg 1 ]", into buf; returns buf.
 */
const char *nft_expr_format(const struct nft_expr *e, char *buf, size_t size);

bool nft_expr_equal(const struct nft_expr *a, const struct nft_expr *b);
/* nft_rule_equal - same chain, expressions and comment (text and handle
 * are not compared) */
bool nft_rule_equal(const struct nft_rule *a, const struct nft_rule *b);
bool nft_chain_equal(const struct nft_chain *a, const struct nft_chain *b);

/*
 * nft_table_compare - does `have` (read from the kernel) hold exactly the
 * chains and rules of `want`, in order, with the same table flags? Returns
 * 0 when it does, else 1 with the first difference described in why (one
 * line).
 */
int nft_table_compare(const struct nft_table *want,
		      const struct nft_table *have, char *why, size_t size);

/* --- batches ------------------------------------------------------------- */

/* What one message of a batch was, to name it in an error. */
struct nft_batch_msg {
	uint32_t seq;
	bool ack;	/* NLM_F_ACK requested */
	bool acked;	/* its ACK or error came back */
	char what[96 + NFT_COMMENT_MAX]; /* "add rule ip PROXY_INIT_OUTPUT
					  * proxy-init/ignore-uid" */
};

/*
 * A batch under construction: the netlink bytes in buf, and a description
 * of every message (begin and end included) in msgs.
 */
struct nft_batch {
	struct buf buf;		     /* the whole datagram */
	uint32_t seq;		     /* the next sequence number */
	struct nft_batch_msg *msgs;  /* nmsgs, heap */
	size_t nmsgs;
	bool ended;		     /* nft_batch_end() was called */
};

/*
 * The first error of a batch or a listing, as the kernel gave it.
 */
struct nft_error {
	int err;		/* negative errno; 0: none */
	char what[96 + NFT_COMMENT_MAX]; /* the message it answers ("add rule
					  * ...", "begin batch", "list rules
					  * ...", "open netlink socket") */
	char msg[160];		/* the kernel's extended ACK text, or "" */
};

/*
 * nft_batch_init - start a batch (writes the BEGIN message, sequence
 * number seq; the following messages take seq+1, seq+2, ...).
 * nft_batch_release frees it.
 */
void nft_batch_init(struct nft_batch *b, uint32_t seq);
void nft_batch_release(struct nft_batch *b);

/* "add table": creates it, or leaves an existing one as it is */
void nft_batch_add_table(struct nft_batch *b, enum nft_family family,
			 const char *name);
/* "delete table": the table and everything in it (it must exist) */
void nft_batch_del_table(struct nft_batch *b, enum nft_family family,
			 const char *name);
void nft_batch_add_chain(struct nft_batch *b, enum nft_family family,
			 const char *table, const struct nft_chain *c);
/* "add rule": appended to the end of r->chain */
void nft_batch_add_rule(struct nft_batch *b, enum nft_family family,
			const char *table, const struct nft_rule *r);
/*
 * nft_batch_replace_table - add table, delete table, add table, then its
 * chains and rules: the table ends up exactly as t says whether or not it
 * existed, in the same atomic batch ("table x; delete table x; table x {
 * ... }" in nft's words).
 */
void nft_batch_replace_table(struct nft_batch *b, const struct nft_table *t);
/* nft_batch_end - append the END message; no more messages after it */
void nft_batch_end(struct nft_batch *b);

/*
 * nft_batch_parse_acks - account for the netlink messages in data[0..len)
 * (what recv() returned): an ACK marks its message done, an error too and
 * is remembered. Messages with other sequence numbers are ignored.
 * Returns the first error seen so far (negative errno, with *err filled:
 * the message's description and the kernel's text), or 0; -EPROTO for
 * bytes that are not netlink messages.
 */
int nft_batch_parse_acks(struct nft_batch *b, const void *data, size_t len,
			 struct nft_error *err);

/* nft_batch_pending - messages whose ACK has not come back yet */
size_t nft_batch_pending(const struct nft_batch *b);

/* --- the socket ---------------------------------------------------------- */

struct nft_sock {
	int fd;		 /* -1 when closed */
	uint32_t portid; /* ours, as the kernel assigned it */
	uint32_t seq;	 /* next sequence number for requests */
};

/*
 * nft_open - open and bind a NETLINK_NETFILTER socket in the current
 * network namespace. Returns 0 or a negative errno with *err filled
 * (-EPROTONOSUPPORT: no nfnetlink in this kernel).
 */
int nft_open(struct nft_sock *s, struct nft_error *err);
void nft_close(struct nft_sock *s);

/*
 * nft_batch_send - send the (ended) batch and read back an ACK or error
 * for every message. The kernel applies the batch all or nothing: on any
 * error nothing changed. Returns 0, or the first error (negative errno)
 * with *err naming the message that caused it. Common ones: -EPERM (no
 * CAP_NET_ADMIN in this namespace), -EOPNOTSUPP (no nf_tables), -ENOENT
 * on an "add chain" (no nat chain type) or "add rule" (an expression's
 * module missing).
 */
int nft_batch_send(struct nft_sock *s, struct nft_batch *b,
		   struct nft_error *err);

/*
 * nft_list_table - read table `name` of family back into *out (chains in
 * kernel order, rules in chain order, with handles; no text). *out must
 * be released by the caller on every return. Returns 0, -ENOENT when there
 * is no such table, or another negative errno with *err filled.
 */
int nft_list_table(struct nft_sock *s, enum nft_family family,
		   const char *name, struct nft_table *out,
		   struct nft_error *err);

/*
 * Decoders for one netlink message of a dump (the whole message, header
 * included): the table it belongs to goes to table (size bytes). Return 0,
 * -EPROTO for a malformed message, -E2BIG for a rule of more than
 * NFT_RULE_MAX_EXPRS expressions or a name too long.
 */
int nft_decode_chain(const void *msg, size_t len, char *table, size_t size,
		     struct nft_chain *out);
int nft_decode_rule(const void *msg, size_t len, char *table, size_t size,
		    struct nft_rule *out);

/* nft_errno_name - "EPERM" for EPERM (positive), "E?" when unknown */
const char *nft_errno_name(int errnum);

#endif
