/* SPDX-License-Identifier: Apache-2.0 */
/* sock.h - socket addresses and non-blocking socket helpers */
#ifndef CONDUIT_SOCK_H
#define CONDUIT_SOCK_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "conduit/base.h"

/* An IPv4 or IPv6 socket address with its length. */
struct sock_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

/* "[ffff:...:ffff%ifname]:65535" plus NUL */
#define SOCK_ADDR_STRLEN (INET6_ADDRSTRLEN + 24)

/*
 * sock_addr_parse - "1.2.3.4:80", "[::1]:80", "::1" with no port is
 * refused, ":80" (the IPv4 wildcard) and "*:80" likewise. Literal
 * addresses only: names are resolved elsewhere (asynchronously). Returns
 * 0, or -EINVAL with a reason in err (e.g. "port 70000 out of range").
 */
int sock_addr_parse(const char *s, struct sock_addr *out, char *err,
		    size_t errlen);

/*
 * sock_ip_parse - a literal IPv4 or IPv6 address without a port, into out
 * with port 0. Returns 0 or -EINVAL.
 */
int sock_ip_parse(const char *s, struct sock_addr *out);

/*
 * sock_addr_format - "1.2.3.4:80" or "[::1]:80" into buf (at least
 * SOCK_ADDR_STRLEN). Returns buf.
 */
char *sock_addr_format(const struct sock_addr *a, char *buf, size_t size);
/* sock_addr_format_ip - the address alone, without port or brackets */
char *sock_addr_format_ip(const struct sock_addr *a, char *buf, size_t size);

int sock_addr_port(const struct sock_addr *a);
void sock_addr_set_port(struct sock_addr *a, int port);
bool sock_addr_equal(const struct sock_addr *a, const struct sock_addr *b);
bool sock_addr_is_loopback(const struct sock_addr *a);

enum sock_flags {
	SOCK_REUSEPORT = 1 << 0, /* several listeners (workers) on one port */
	SOCK_V6ONLY = 1 << 1,	 /* an IPv6 listener that refuses IPv4 */
};

/*
 * sock_listen - a non-blocking, close-on-exec TCP listener with
 * SO_REUSEADDR (and SO_REUSEPORT with that flag). Returns the fd, or a
 * negative errno.
 */
int sock_listen(const struct sock_addr *a, int backlog, unsigned flags);

/*
 * sock_connect - start a non-blocking connect. Returns the fd (the
 * connection may still be in progress: wait for writability, then check
 * sock_error()), or a negative errno if it failed at once.
 */
int sock_connect(const struct sock_addr *a);

/*
 * sock_accept - accept4() a non-blocking, close-on-exec connection.
 * Returns the fd, -EAGAIN when none is waiting, or a negative errno.
 */
int sock_accept(int lfd, struct sock_addr *peer);

/* sock_error - SO_ERROR of fd as a negative errno, or 0 */
int sock_error(int fd);
int sock_set_nonblock(int fd);
int sock_set_nodelay(int fd);
/* sock_local_addr / sock_peer_addr - getsockname / getpeername */
int sock_local_addr(int fd, struct sock_addr *out);
int sock_peer_addr(int fd, struct sock_addr *out);

/*
 * sock_original_dst - the destination a NAT redirect rewrote, read with
 * SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6). Returns 0, or a
 * negative errno (-ENOENT when the connection was not redirected).
 */
int sock_original_dst(int fd, struct sock_addr *out);

/*
 * sock_addr_resolve - like sock_addr_parse, but the host may also be a
 * name ("emoji-svc.emojivoto:8080", "localhost:8085"), looked up with
 * getaddrinfo (the first TCP address; IPv4 and IPv6 as configured).
 * BLOCKING: for start-up and one-shot CLIs only, never from a loop
 * callback. Returns 0, or -EINVAL (malformed) / -ENOENT (no such name,
 * or the lookup failed) with the reason in err.
 */
int sock_addr_resolve(const char *s, struct sock_addr *out, char *err,
		      size_t errlen);

#endif
