/* SPDX-License-Identifier: Apache-2.0 */
/* netlist.c - port lists with ranges and CIDR lists, as flags spell them */
#include "conduit/netlist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void netlist_ports_init(struct netlist_ports *p)
{
	p->v = NULL;
	p->n = 0;
}

void netlist_ports_release(struct netlist_ports *p)
{
	free(p->v);
	netlist_ports_init(p);
}

void netlist_cidrs_init(struct netlist_cidrs *c)
{
	c->v = NULL;
	c->n = 0;
}

void netlist_cidrs_release(struct netlist_cidrs *c)
{
	free(c->v);
	netlist_cidrs_init(c);
}

/* One entry of a list: [p, p+len), blanks already trimmed. */
struct token {
	const char *p;
	size_t len;
};

/*
 * show - [p, p+len) for an error message: printable ASCII as is, '"' and
 * '\\' escaped, other bytes as \xNN, cut with "..." past 64 bytes, so
 * that a message stays one short line whatever the input.
 */
static const char *show(const char *p, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (i == 64 || n + 8 >= size) {
			n += (size_t)snprintf(out + n, size - n, "...");
			break;
		}
		if (c == '"' || c == '\\')
			n += (size_t)snprintf(out + n, size - n, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return out;
}

#define SHOW_MAX 128 /* what show() writes at most, NUL included */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * next_token - the entry starting at *s, trimmed; advances *s past the
 * comma. Returns false at the end of the string.
 */
static bool next_token(const char **s, struct token *t)
{
	const char *p = *s, *end;

	if (!p)
		return false;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	*s = *end ? end + 1 : NULL;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	t->p = p;
	t->len = (size_t)(end - p);
	return true;
}

static bool all_blank(const char *s)
{
	while (is_blank(*s))
		s++;
	return *s == '\0';
}

/*
 * parse_u - the decimal number in [p, p+len) into *out, saturating at
 * limit+1 so that "99999999999" is "too large", not a wrapped value.
 * Returns false unless it is all digits (and at least one).
 */
static bool parse_u(const char *p, size_t len, unsigned long limit,
		    unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (v <= limit)
			v = v * 10 + (unsigned long)(p[i] - '0');
	}
	*out = v > limit ? limit + 1 : v;
	return true;
}

/* parse_port - one port of a token; the message names `what` */
static int parse_port(const char *p, size_t len, const struct token *t,
		      uint16_t *out, char *err, size_t errlen)
{
	unsigned long v;

	char shown[SHOW_MAX];

	if (!parse_u(p, len, 65535, &v)) {
		snprintf(err, errlen, "bad port \"%s\": not a number",
			 show(t->p, t->len, shown, sizeof(shown)));
		return -EINVAL;
	}
	if (v < 1 || v > 65535) {
		snprintf(err, errlen, "port %s out of range 1-65535",
			 show(p, len, shown, sizeof(shown)));
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_range(const struct token *t, struct netlist_port_range *r,
		       char *err, size_t errlen)
{
	const char *dash = memchr(t->p, '-', t->len);
	char shown[SHOW_MAX];
	size_t n1, n2;
	int ret;

	if (!dash) {
		ret = parse_port(t->p, t->len, t, &r->lo, err, errlen);
		r->hi = r->lo;
		return ret;
	}
	n1 = (size_t)(dash - t->p);
	n2 = t->len - n1 - 1;
	if (n1 == 0 || n2 == 0) {
		snprintf(err, errlen, "bad port range \"%s\": want PORT-PORT",
			 show(t->p, t->len, shown, sizeof(shown)));
		return -EINVAL;
	}
	ret = parse_port(t->p, n1, t, &r->lo, err, errlen);
	if (!ret)
		ret = parse_port(dash + 1, n2, t, &r->hi, err, errlen);
	if (ret)
		return ret;
	if (r->lo > r->hi) {
		snprintf(err, errlen, "bad port range \"%s\": %u > %u",
			 show(t->p, t->len, shown, sizeof(shown)), r->lo, r->hi);
		return -EINVAL;
	}
	return 0;
}

/*
 * Both lists share the walk: blank string -> empty list; an empty entry
 * between commas is an error (a stray comma usually hides a typo).
 */
static int empty_entry(const char *s, char *err, size_t errlen)
{
	char shown[SHOW_MAX];

	snprintf(err, errlen, "empty entry in list \"%s\"",
		 show(s, strlen(s), shown, sizeof(shown)));
	return -EINVAL;
}

static int too_many(char *err, size_t errlen)
{
	snprintf(err, errlen, "too many entries (at most %d)", NETLIST_MAX);
	return -E2BIG;
}

int netlist_parse_ports(const char *s, struct netlist_ports *out, char *err,
			size_t errlen)
{
	struct netlist_ports l = { NULL, 0 };
	const char *cur = s;
	struct token t;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (all_blank(s))
		goto done;
	while (next_token(&cur, &t)) {
		struct netlist_port_range r;
		bool dup = false;

		if (t.len == 0) {
			ret = empty_entry(s, err, errlen);
			goto out_free;
		}
		ret = parse_range(&t, &r, err, errlen);
		if (ret)
			goto out_free;
		for (size_t i = 0; i < l.n && !dup; i++)
			dup = l.v[i].lo == r.lo && l.v[i].hi == r.hi;
		if (dup)
			continue;
		if (l.n == NETLIST_MAX) {
			ret = too_many(err, errlen);
			goto out_free;
		}
		l.v = xrealloc(l.v, (l.n + 1) * sizeof(*l.v));
		l.v[l.n++] = r;
	}
done:
	netlist_ports_release(out);
	*out = l;
	return 0;
out_free:
	free(l.v);
	return ret;
}

/* mask_host_bits - clear the bits past prefix */
static void mask_host_bits(struct netlist_cidr *c)
{
	size_t nbytes = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < nbytes; i++) {
		unsigned bit = (unsigned)i * 8;

		if (bit >= c->prefix)
			c->addr[i] = 0;
		else if (c->prefix - bit < 8)
			c->addr[i] &= (uint8_t)(0xff << (8 - (c->prefix - bit)));
	}
}

static int parse_cidr(const struct token *t, struct netlist_cidr *c, char *err,
		      size_t errlen)
{
	const char *slash = memchr(t->p, '/', t->len);
	size_t alen = slash ? (size_t)(slash - t->p) : t->len;
	char addr[INET6_ADDRSTRLEN + 8], shown[SHOW_MAX];
	unsigned long prefix;
	unsigned max;

	memset(c, 0, sizeof(*c));
	if (alen >= sizeof(addr))
		goto bad_addr;
	memcpy(addr, t->p, alen);
	addr[alen] = '\0';
	c->family = memchr(addr, ':', alen) ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, addr, c->addr) != 1)
		goto bad_addr;
	max = c->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = t->len - alen - 1;

		if (!parse_u(p, plen, 999, &prefix)) {
			snprintf(err, errlen,
				 "bad CIDR \"%s\": prefix length is not a number",
				 show(t->p, t->len, shown, sizeof(shown)));
			return -EINVAL;
		}
		if (prefix > max) {
			snprintf(err, errlen,
				 "bad CIDR \"%s\": prefix length %.*s > %u",
				 show(t->p, t->len, shown, sizeof(shown)),
				 (int)MIN(plen, 64), p, max);
			return -EINVAL;
		}
	}
	c->prefix = (unsigned)prefix;
	mask_host_bits(c);
	return 0;
bad_addr:
	snprintf(err, errlen, "bad CIDR \"%s\": not an IPv4 or IPv6 address",
		 show(t->p, t->len, shown, sizeof(shown)));
	return -EINVAL;
}

static bool cidr_equal(const struct netlist_cidr *a,
		       const struct netlist_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int netlist_parse_cidrs(const char *s, struct netlist_cidrs *out, char *err,
			size_t errlen)
{
	struct netlist_cidrs l = { NULL, 0 };
	const char *cur = s;
	struct token t;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (all_blank(s))
		goto done;
	while (next_token(&cur, &t)) {
		struct netlist_cidr c;
		bool dup = false;

		if (t.len == 0) {
			ret = empty_entry(s, err, errlen);
			goto out_free;
		}
		ret = parse_cidr(&t, &c, err, errlen);
		if (ret)
			goto out_free;
		for (size_t i = 0; i < l.n && !dup; i++)
			dup = cidr_equal(&l.v[i], &c);
		if (dup)
			continue;
		if (l.n == NETLIST_MAX) {
			ret = too_many(err, errlen);
			goto out_free;
		}
		l.v = xrealloc(l.v, (l.n + 1) * sizeof(*l.v));
		l.v[l.n++] = c;
	}
done:
	netlist_cidrs_release(out);
	*out = l;
	return 0;
out_free:
	free(l.v);
	return ret;
}

bool netlist_ports_contain(const struct netlist_ports *p, uint16_t port)
{
	for (size_t i = 0; i < p->n; i++)
		if (port >= p->v[i].lo && port <= p->v[i].hi)
			return true;
	return false;
}

int netlist_flag_ports(const char *arg, void *value, char *err, size_t errlen)
{
	return netlist_parse_ports(arg, value, err, errlen) ? -EINVAL : 0;
}

int netlist_flag_cidrs(const char *arg, void *value, char *err, size_t errlen)
{
	return netlist_parse_cidrs(arg, value, err, errlen) ? -EINVAL : 0;
}

const char *netlist_format_range(const struct netlist_port_range *r, char *buf,
				 size_t size)
{
	if (r->lo == r->hi)
		snprintf(buf, size, "%u", r->lo);
	else
		snprintf(buf, size, "%u-%u", r->lo, r->hi);
	return buf;
}

const char *netlist_format_cidr(const struct netlist_cidr *c, char *buf,
				size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		str_copy(a, "?", sizeof(a));
	snprintf(buf, size, "%s/%u", a, c->prefix);
	return buf;
}
