/* SPDX-License-Identifier: Apache-2.0 */
/* sock.c - socket addresses and non-blocking socket helpers */
#include "conduit/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netfilter_ipv4.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* from linux/netfilter_ipv6/ip6_tables.h, which drags in kernel types */
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static int fail(char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

int sock_ip_parse(const char *s, struct sock_addr *out)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *pct;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->u.in4.sin_addr) == 1) {
		out->u.in4.sin_family = AF_INET;
		out->len = sizeof(out->u.in4);
		return 0;
	}
	if (strlen(s) >= sizeof(host))
		return -EINVAL;
	strcpy(host, s);
	/* a zone: fe80::1%eth0 */
	pct = strchr(host, '%');
	if (pct) {
		*pct++ = '\0';
		out->u.in6.sin6_scope_id = if_nametoindex(pct);
		if (!out->u.in6.sin6_scope_id)
			return -EINVAL;
	}
	if (inet_pton(AF_INET6, host, &out->u.in6.sin6_addr) == 1) {
		out->u.in6.sin6_family = AF_INET6;
		out->len = sizeof(out->u.in6);
		return 0;
	}
	return -EINVAL;
}

int sock_addr_parse(const char *s, struct sock_addr *out, char *err,
		    size_t errlen)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *colon, *port_s;
	size_t hlen;
	char *end;
	long port;

	if (!s || !*s)
		return fail(err, errlen, "empty address");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return fail(err, errlen, "missing ']' after IPv6 address");
		if (close[1] != ':')
			return fail(err, errlen, "missing port after ']'");
		hlen = (size_t)(close - s - 1);
		if (hlen >= sizeof(host))
			return fail(err, errlen, "address too long");
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		port_s = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return fail(err, errlen, "missing port (want HOST:PORT)");
		if (memchr(s, ':', (size_t)(colon - s)))
			return fail(err, errlen,
				    "IPv6 address needs brackets: [ADDR]:PORT");
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host))
			return fail(err, errlen, "address too long");
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		port_s = colon + 1;
	}
	if (!*port_s)
		return fail(err, errlen, "missing port (want HOST:PORT)");
	errno = 0;
	port = strtol(port_s, &end, 10);
	/* digits only: strtol alone would take " 80", "+80" and "-1" */
	if (*end || port_s[0] < '0' || port_s[0] > '9' || errno)
		return fail(err, errlen, "port is not a number");
	if (port < 0 || port > 65535)
		return fail(err, errlen, "port out of range 0-65535");
	if (!host[0] || strcmp(host, "*") == 0)
		strcpy(host, "0.0.0.0");
	if (sock_ip_parse(host, out))
		return fail(err, errlen,
			    "not an IP address (names are not resolved here)");
	sock_addr_set_port(out, (int)port);
	return 0;
}

char *sock_addr_format_ip(const struct sock_addr *a, char *buf, size_t size)
{
	const void *src = a->u.sa.sa_family == AF_INET6 ?
				  (const void *)&a->u.in6.sin6_addr :
				  (const void *)&a->u.in4.sin_addr;

	if ((a->u.sa.sa_family != AF_INET && a->u.sa.sa_family != AF_INET6) ||
	    !inet_ntop(a->u.sa.sa_family, src, buf, (socklen_t)size)) {
		snprintf(buf, size, "?");
		return buf;
	}
	/* the zone is part of the address: fe80::1%eth0 and fe80::1%eth1
	 * are different peers, and sock_ip_parse() reads it back */
	if (a->u.sa.sa_family == AF_INET6 && a->u.in6.sin6_scope_id) {
		char name[IF_NAMESIZE];
		size_t n = strlen(buf);

		if (if_indextoname(a->u.in6.sin6_scope_id, name))
			snprintf(buf + n, size - n, "%%%s", name);
		else
			snprintf(buf + n, size - n, "%%%u",
				 (unsigned)a->u.in6.sin6_scope_id);
	}
	return buf;
}

char *sock_addr_format(const struct sock_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN + IF_NAMESIZE];

	sock_addr_format_ip(a, ip, sizeof(ip));
	if (a->u.sa.sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%d", ip, sock_addr_port(a));
	else
		snprintf(buf, size, "%s:%d", ip, sock_addr_port(a));
	return buf;
}

int sock_addr_port(const struct sock_addr *a)
{
	if (a->u.sa.sa_family == AF_INET6)
		return ntohs(a->u.in6.sin6_port);
	return ntohs(a->u.in4.sin_port);
}

void sock_addr_set_port(struct sock_addr *a, int port)
{
	if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons((uint16_t)port);
	else
		a->u.in4.sin_port = htons((uint16_t)port);
}

bool sock_addr_equal(const struct sock_addr *a, const struct sock_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in4.sin_port == b->u.in4.sin_port &&
		       a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
		       memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0 &&
		       a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
	return false;
}

bool sock_addr_is_loopback(const struct sock_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
	if (a->u.sa.sa_family == AF_INET6) {
		const struct in6_addr *ip = &a->u.in6.sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(ip))
			return true;
		return IN6_IS_ADDR_V4MAPPED(ip) && ip->s6_addr[12] == 127;
	}
	return false;
}

int sock_listen(const struct sock_addr *a, int backlog, unsigned flags)
{
	int one = 1, fd, r;

	fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto out_errno;
	if ((flags & SOCK_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto out_errno;
	if (a->u.sa.sa_family == AF_INET6) {
		int v6only = !!(flags & SOCK_V6ONLY);

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			       sizeof(v6only)))
			goto out_errno;
	}
	if (bind(fd, &a->u.sa, a->len))
		goto out_errno;
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN))
		goto out_errno;
	return fd;
out_errno:
	r = -errno;
	close(fd);
	return r;
}

int sock_connect(const struct sock_addr *a)
{
	int fd, r;

	fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (connect(fd, &a->u.sa, a->len) && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int sock_accept(int lfd, struct sock_addr *peer)
{
	struct sock_addr tmp;
	struct sock_addr *p = peer ? peer : &tmp;
	int fd;

	for (;;) {
		p->len = sizeof(p->u);
		fd = accept4(lfd, &p->u.sa, &p->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

int sock_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

int sock_set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -errno;
	return 0;
}

int sock_local_addr(int fd, struct sock_addr *out)
{
	out->len = sizeof(out->u);
	if (getsockname(fd, &out->u.sa, &out->len))
		return -errno;
	return 0;
}

int sock_peer_addr(int fd, struct sock_addr *out)
{
	out->len = sizeof(out->u);
	if (getpeername(fd, &out->u.sa, &out->len))
		return -errno;
	return 0;
}

int sock_original_dst(int fd, struct sock_addr *out)
{
	struct sock_addr local;
	int r;

	r = sock_local_addr(fd, &local);
	if (r)
		return r;
	memset(out, 0, sizeof(*out));
	if (local.u.sa.sa_family == AF_INET6) {
		out->len = sizeof(out->u.in6);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &out->u.in6,
			       &out->len))
			return -errno;
	} else {
		out->len = sizeof(out->u.in4);
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &out->u.in4,
			       &out->len))
			return -errno;
	}
	return 0;
}

int sock_addr_resolve(const char *s, struct sock_addr *out, char *err,
		      size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *colon;
	char host[256];
	int r;

	if (sock_addr_parse(s, out, err, errlen) == 0)
		return 0;
	/* a name: NAME:PORT (an IPv6 literal was refused above already) */
	colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon == s || s[0] == '[' ||
	    memchr(s, ':', (size_t)(colon - s)))
		return -EINVAL; /* err says why */
	if ((size_t)(colon - s) >= sizeof(host))
		return fail(err, errlen, "host name too long");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
		return fail(err, errlen, "port is not a number in 0-65535");
	r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r || !res) {
		if (err && errlen)
			snprintf(err, errlen, "cannot resolve \"%s\": %s", host,
				 gai_strerror(r));
		if (res)
			freeaddrinfo(res);
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->u.ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
