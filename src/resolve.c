// SPDX-License-Identifier: Apache-2.0
/*
 * resolve.c - c-ares on libev: the channel tells us which sockets it
 * wants watched (ARES_OPT_SOCK_STATE_CB); an ev_io per socket hands
 * readiness back with ares_process_fd, and one timer drives c-ares'
 * retransmits and timeouts.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/resolve.h"

#define HOST_MAX 253 /* the longest DNS name */

struct rs_watch {
	ev_io io;
	struct resolver *r;
	struct rs_watch *next;
};

struct resolver {
	struct ev_loop *loop;
	ares_channel channel;
	ev_timer timer;
	struct rs_watch *watches;
};

struct rs_lookup {
	struct resolver *r;
	resolve_cb cb; /* NULL: cancelled */
	void *arg;
	int port;
	bool *answered; /* set while resolver_start waits for a sync answer */
};

static void arm_timer(struct resolver *r)
{
	struct timeval tv, *t;

	ev_timer_stop(r->loop, &r->timer);
	t = ares_timeout(r->channel, NULL, &tv);
	if (!t)
		return;
	ev_timer_set(&r->timer, (double)t->tv_sec + (double)t->tv_usec / 1e6,
		     0);
	ev_timer_start(r->loop, &r->timer);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rs_watch *rw = container_of(w, struct rs_watch, io);
	struct resolver *r = rw->r;
	int fd = w->fd;

	(void)loop;
	/* may close fd and free rw through on_sock_state */
	ares_process_fd(r->channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
			(revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	arm_timer(r);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct resolver *r = container_of(t, struct resolver, timer);

	(void)loop;
	(void)revents;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct resolver *r = data;
	struct rs_watch **pp = &r->watches, *rw;

	while (*pp && (*pp)->io.fd != fd)
		pp = &(*pp)->next;
	rw = *pp;
	if (!readable && !writable) {
		if (rw) {
			ev_io_stop(r->loop, &rw->io);
			*pp = rw->next;
			free(rw);
		}
		return;
	}
	if (!rw) {
		rw = calloc(1, sizeof(*rw));
		if (!rw)
			return; /* c-ares times the query out */
		rw->r = r;
		rw->next = r->watches;
		r->watches = rw;
		ev_init(&rw->io, on_io);
	} else {
		ev_io_stop(r->loop, &rw->io);
	}
	ev_io_set(&rw->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(r->loop, &rw->io);
}

struct resolver *resolver_new(struct ev_loop *loop, const char *resolv_conf,
			      char *err, size_t errlen)
{
	static bool lib_ready;
	struct resolver *r;
	struct ares_options o = { 0 };
	int mask = ARES_OPT_SOCK_STATE_CB, rc;

	if (!lib_ready) {
		rc = ares_library_init(ARES_LIB_INIT_ALL);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
			return NULL;
		}
		lib_ready = true;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->loop = loop;
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = r;
	if (resolv_conf && *resolv_conf) {
		o.resolvconf_path = (char *)resolv_conf;
		mask |= ARES_OPT_RESOLVCONF;
	}
	rc = ares_init_options(&r->channel, &o, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	ev_init(&r->timer, on_timer);
	return r;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	/* every pending callback runs with ARES_EDESTRUCTION; the
	 * sockets close through on_sock_state */
	ares_destroy(r->channel);
	ev_timer_stop(r->loop, &r->timer);
	while (r->watches) {
		struct rs_watch *rw = r->watches;

		r->watches = rw->next;
		ev_io_stop(r->loop, &rw->io);
		free(rw);
	}
	free(r);
}

static const char *status_text(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		return "no such name";
	case ARES_ECONNREFUSED:
		return "connection refused by the DNS server";
	case ARES_ETIMEOUT:
		return "timed out";
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return "resolver shut down";
	case ARES_ESERVFAIL:
		return "the DNS server failed (SERVFAIL)";
	case ARES_EREFUSED:
		return "the DNS server refused the query";
	default:
		return ares_strerror(status);
	}
}

static void on_answer(void *arg, int status, int timeouts,
		      struct ares_addrinfo *res)
{
	struct rs_lookup *l = arg;
	struct sock_addr addrs[RESOLVE_MAX_ADDRS];
	size_t n = 0;

	(void)timeouts;
	/* IPv4 first: the pod network is IPv4 unless it is IPv6 only */
	for (int pass = 0; pass < 2 && status == ARES_SUCCESS && res; pass++) {
		for (struct ares_addrinfo_node *a = res->nodes;
		     a && n < RESOLVE_MAX_ADDRS; a = a->ai_next) {
			int fam = pass ? AF_INET6 : AF_INET;

			if (a->ai_family != fam ||
			    a->ai_addrlen > sizeof(addrs[n].u))
				continue;
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n].u, a->ai_addr, a->ai_addrlen);
			addrs[n].len = a->ai_addrlen;
			sock_addr_set_port(&addrs[n], l->port);
			n++;
		}
	}
	if (res)
		ares_freeaddrinfo(res);
	if (l->answered)
		*l->answered = true;
	if (l->cb)
		l->cb(l->arg, n ? addrs : NULL, n,
		      n ? NULL
			: status == ARES_SUCCESS ? "no address in the answer"
						 : status_text(status));
	free(l);
}

int resolver_start(struct resolver *r, const char *host, int port,
		   resolve_cb cb, void *arg, struct resolve_req **out)
{
	struct ares_addrinfo_hints h = { .ai_family = AF_UNSPEC,
					 .ai_socktype = SOCK_STREAM };
	struct rs_lookup *l;
	bool answered = false;

	if (out)
		*out = NULL;
	if (!host || !*host || strlen(host) > HOST_MAX)
		return -EINVAL;
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct rs_lookup){ .r = r, .cb = cb, .arg = arg, .port = port,
				 .answered = &answered };
	ares_getaddrinfo(r->channel, host, NULL, &h, on_answer, l);
	if (!answered) {
		l->answered = NULL;
		if (out)
			*out = (struct resolve_req *)l;
	}
	arm_timer(r);
	return 0;
}

int resolver_lookup(struct resolver *r, const char *host, int port,
		    resolve_cb cb, void *arg)
{
	return resolver_start(r, host, port, cb, arg, NULL);
}

void resolver_cancel(struct resolve_req *q)
{
	if (q)
		((struct rs_lookup *)q)->cb = NULL;
}

int resolve_split_host_port(const char *s, char *host, size_t hostlen,
			    int *port, char *err, size_t errlen)
{
	const char *colon, *h = s;
	size_t n;
	char *end;
	long p;

	if (!s || !*s) {
		snprintf(err, errlen, "empty address");
		return -EINVAL;
	}
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			snprintf(err, errlen, "want [IPv6]:PORT");
			return -EINVAL;
		}
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "no port (want HOST:PORT)");
			return -EINVAL;
		}
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostlen || n > HOST_MAX) {
		snprintf(err, errlen, n ? "host name too long" : "empty host");
		return -EINVAL;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 1 || p > 65535) {
		snprintf(err, errlen, "bad port \"%s\" (want 1-65535)", colon + 1);
		return -EINVAL;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

int resolve_split_authority(const char *s, size_t len, char *host,
			    size_t hostlen, int *port, int default_port)
{
	char buf[HOST_MAX + 16], err[64];
	const char *close;

	if (!len || len >= sizeof(buf) - 8)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (memchr(buf, '\0', len))
		return -EINVAL;
	close = strrchr(buf, ']');
	/* no port: "name", "[v6]" */
	if ((buf[0] == '[' && close && !close[1]) ||
	    (buf[0] != '[' && !strchr(buf, ':'))) {
		size_t n = buf[0] == '[' ? len - 2 : len;

		if (!n || n >= hostlen)
			return -EINVAL;
		memcpy(host, buf[0] == '[' ? buf + 1 : buf, n);
		host[n] = '\0';
		*port = default_port;
		return 0;
	}
	return resolve_split_host_port(buf, host, hostlen, port, err, sizeof(err));
}
