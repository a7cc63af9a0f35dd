/* SPDX-License-Identifier: Apache-2.0 */
/* netlist.h - port lists with ranges and CIDR lists, as flags spell them */
#ifndef CONDUIT_NETLIST_H
#define CONDUIT_NETLIST_H

#include <stdint.h>

#include "conduit/base.h"

/*
 * The values of flags and environment variables such as
 * --outbound-ports-to-ignore=25,587,4444-4450 or
 * --subnets-to-ignore=10.0.0.0/8,fd00::/8: comma-separated entries,
 * blanks around an entry ignored, the empty string an empty list. Order
 * is kept (rules are emitted in the order given) and exact duplicates are
 * dropped. Errors name the bad entry and why, on one line, without a
 * trailing period:
 *
 *   port 70000 out of range 1-65535
 *   bad port range "4450-4444": 4450 > 4444
 *   bad CIDR "10.0.0.0/33": prefix length 33 > 32
 *
 * A list holds at most NETLIST_MAX entries: each entry becomes a rule,
 * and a typo should not make thousands.
 */
#define NETLIST_MAX 256

/* One port or an inclusive range: lo == hi for a single port. */
struct netlist_port_range {
	uint16_t lo;
	uint16_t hi;
};

struct netlist_ports {
	struct netlist_port_range *v; /* n entries, heap; NULL when n == 0 */
	size_t n;
};

/*
 * One network. Host bits are cleared while parsing ("10.1.2.3/8" is
 * 10.0.0.0/8, as Go's net.ParseCIDR and Linkerd read it); a bare address
 * is a /32 or /128.
 */
struct netlist_cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
	unsigned prefix;  /* 0..32 or 0..128 */
};

struct netlist_cidrs {
	struct netlist_cidr *v; /* n entries, heap; NULL when n == 0 */
	size_t n;
};

/* Embedded lists: zero-initialized or _init'ed; _release frees. */
void netlist_ports_init(struct netlist_ports *p);
void netlist_ports_release(struct netlist_ports *p);
void netlist_cidrs_init(struct netlist_cidrs *c);
void netlist_cidrs_release(struct netlist_cidrs *c);

/*
 * netlist_parse_ports - parse s into *out, replacing its contents only on
 * success. Returns 0, -EINVAL with the reason in err (errlen bytes,
 * always terminated), or -E2BIG past NETLIST_MAX entries (also with a
 * reason).
 */
int netlist_parse_ports(const char *s, struct netlist_ports *out, char *err,
			size_t errlen);

/* netlist_parse_cidrs - the same for a CIDR list */
int netlist_parse_cidrs(const char *s, struct netlist_cidrs *out, char *err,
			size_t errlen);

/* netlist_ports_contain - is port in one of the ranges? */
bool netlist_ports_contain(const struct netlist_ports *p, uint16_t port);

/*
 * netlist_flag_ports / netlist_flag_cidrs - FLAG_FUNC parse callbacks;
 * value is a struct netlist_ports * / struct netlist_cidrs * (zeroed or
 * _init'ed before flag_parse; the caller releases it).
 */
int netlist_flag_ports(const char *arg, void *value, char *err, size_t errlen);
int netlist_flag_cidrs(const char *arg, void *value, char *err, size_t errlen);

/*
 * netlist_format_range - "4190" or "4444-4450" into buf; returns buf.
 * netlist_format_cidr - "10.0.0.0/8" or "fd00::/8" into buf (at least
 * NETLIST_CIDR_STRLEN bytes); returns buf.
 */
#define NETLIST_CIDR_STRLEN 50
const char *netlist_format_range(const struct netlist_port_range *r, char *buf,
				 size_t size);
const char *netlist_format_cidr(const struct netlist_cidr *c, char *buf,
				size_t size);

#endif
