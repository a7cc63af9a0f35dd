/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_tap.c - the proxy's tap server: live request events on the control port */
#include "conduit/proxy_tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conduit/destination.h"
#include "conduit/grpc.h"
#include "conduit/log.h"
#include "conduit/netlist.h"
#include "conduit/time.h"
#include "tap.pb-c.h"

typedef Io__Linkerd__Proxy__Tap__ObserveRequest ObserveRequest;
typedef Io__Linkerd__Proxy__Tap__ObserveRequest__Match Match;
typedef Io__Linkerd__Proxy__Tap__TapEvent TapEvent;
typedef Io__Linkerd__Proxy__Tap__TapEvent__Http TapHttp;

struct tap {
	uint32_t id;		/* 0: the slot is free */
	struct grpc_call *call;
	ObserveRequest *req;	/* unpacked; its match tree */
	uint32_t limit, seen;	/* requests: most (0: any), so far */
};

struct proxy_tap {
	struct proxy *px;
	struct grpc_server *server;
	struct tap taps[PROXY_TAP_MAX];
	struct grpc_method methods[1];
	uint32_t next_id;
	uint64_t next_stream;
};

/* --- matching ------------------------------------------------------------------ */

struct req_view {
	const struct sock_addr *src, *dst;
	const char *method, *authority, *path;
	size_t mlen, alen, plen;
};

static bool in_netmask(const Io__Linkerd__Proxy__Tap__ObserveRequest__Match__Tcp__Netmask *n,
		       const struct sock_addr *a)
{
	struct sock_addr net;
	Io__Linkerd__Proxy__Net__TcpAddress t = IO__LINKERD__PROXY__NET__TCP_ADDRESS__INIT;
	const uint8_t *x, *y;
	unsigned bits, max;

	t.ip = n->ip;
	if (!a || destination_sock_addr(&t, &net) < 0 ||
	    net.u.sa.sa_family != a->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET) {
		x = (const uint8_t *)&net.u.in4.sin_addr;
		y = (const uint8_t *)&a->u.in4.sin_addr;
		max = 32;
	} else {
		x = net.u.in6.sin6_addr.s6_addr;
		y = a->u.in6.sin6_addr.s6_addr;
		max = 128;
	}
	bits = n->mask > max ? max : n->mask;
	for (unsigned i = 0; i < bits; i++)
		if (((x[i / 8] ^ y[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

static bool tcp_match(const Io__Linkerd__Proxy__Tap__ObserveRequest__Match__Tcp *t,
		      const struct sock_addr *a)
{
	int port;

	if (!t || !a)
		return false;
	switch (t->match_case) {
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__TCP__MATCH_NETMASK:
		return t->netmask && in_netmask(t->netmask, a);
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__TCP__MATCH_PORTS:
		port = sock_addr_port(a);
		return t->ports && port >= (int)t->ports->min &&
		       port <= (int)(t->ports->max ? t->ports->max : t->ports->min);
	default:
		return false;
	}
}

static bool str_match(const Io__Linkerd__Proxy__Tap__ObserveRequest__Match__Http__StringMatch *m,
		      const char *s, size_t n)
{
	size_t k;

	if (!m)
		return false;
	switch (m->match_case) {
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__STRING_MATCH__MATCH_EXACT:
		return strlen(m->exact) == n && !memcmp(m->exact, s, n);
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__STRING_MATCH__MATCH_PREFIX:
		k = strlen(m->prefix);
		return k <= n && !memcmp(m->prefix, s, k);
	default:
		return false;
	}
}

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE",
					"PATCH", "OPTIONS", "CONNECT", "HEAD",
					"TRACE" };

static bool method_match(const Io__Linkerd__Proxy__HttpTypes__HttpMethod *m,
			 const char *s, size_t n)
{
	const char *want;

	if (!m)
		return false;
	if (m->type_case == IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_REGISTERED)
		want = (size_t)m->registered < ARRAY_SIZE(methods)
			       ? methods[m->registered]
			       : "";
	else if (m->type_case == IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_UNREGISTERED)
		want = m->unregistered;
	else
		return false;
	return strlen(want) == n && !strncasecmp(want, s, n);
}

static bool match(const Match *m, const struct req_view *v, int depth)
{
	if (!m)
		return true; /* no match: everything */
	if (depth > 32)
		return false;
	switch (m->match_case) {
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_ALL:
		for (size_t i = 0; m->all && i < m->all->n_matches; i++)
			if (!match(m->all->matches[i], v, depth + 1))
				return false;
		return true;
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_ANY:
		for (size_t i = 0; m->any && i < m->any->n_matches; i++)
			if (match(m->any->matches[i], v, depth + 1))
				return true;
		return false;
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_NOT:
		return !match(m->not_, v, depth + 1);
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_SOURCE:
		return tcp_match(m->source, v->src);
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_DESTINATION:
		return tcp_match(m->destination, v->dst);
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_HTTP:
		if (!m->http)
			return false;
		switch (m->http->match_case) {
		case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__MATCH_AUTHORITY:
			return str_match(m->http->authority, v->authority, v->alen);
		case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__MATCH_PATH:
			return str_match(m->http->path, v->path, v->plen);
		case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__MATCH_METHOD:
			return method_match(m->http->method, v->method, v->mlen);
		default:
			return false;
		}
	case IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH__NOT_SET:
		return true;
	default:
		/* label matches: this proxy keeps no labels to match */
		return false;
	}
}

/* --- events ---------------------------------------------------------------------- */

static struct tap *find_tap(struct proxy_tap *t, uint32_t id)
{
	for (int i = 0; i < PROXY_TAP_MAX; i++)
		if (t->taps[i].id == id)
			return &t->taps[i];
	return NULL;
}

static void tap_close(struct proxy_tap *t, struct tap *tp, int status,
		      const char *msg)
{
	if (tp->call) {
		grpc_call_set_data(tp->call, NULL);
		if (status >= 0)
			grpc_call_finish(tp->call, status, msg);
	}
	if (tp->req)
		protobuf_c_message_free_unpacked(&tp->req->base, NULL);
	memset(tp, 0, sizeof(*tp));
	t->px->ntaps--;
}

/*
 * send_event - an Http event of r to every tap still open. build fills
 * the oneof; the addresses and direction are r's.
 */
static void send_event(struct proxy_tap *t, struct proxy_tap_req *r,
		       TapHttp *http)
{
	TapEvent ev = IO__LINKERD__PROXY__TAP__TAP_EVENT__INIT;
	Io__Linkerd__Proxy__Net__TcpAddress src, dst;
	Io__Linkerd__Proxy__Net__IPAddress sip, dip;
	Io__Linkerd__Proxy__Net__IPv6 s6, d6;
	Io__Linkerd__Proxy__Tap__TapEvent__EndpointMeta meta =
		IO__LINKERD__PROXY__TAP__TAP_EVENT__ENDPOINT_META__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__EndpointMeta__LabelsEntry
		tls = IO__LINKERD__PROXY__TAP__TAP_EVENT__ENDPOINT_META__LABELS_ENTRY__INIT,
		id = IO__LINKERD__PROXY__TAP__TAP_EVENT__ENDPOINT_META__LABELS_ENTRY__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__EndpointMeta__LabelsEntry *labels[2];

	destination_tcp_addr(&r->src, &src, &sip, &s6);
	destination_tcp_addr(&r->dst, &dst, &dip, &d6);
	if (r->src.len)
		ev.source = &src;
	if (r->dst.len)
		ev.destination = &dst;
	ev.proxy_direction = r->dir == PROXY_INBOUND
		? IO__LINKERD__PROXY__TAP__TAP_EVENT__PROXY_DIRECTION__INBOUND
		: IO__LINKERD__PROXY__TAP__TAP_EVENT__PROXY_DIRECTION__OUTBOUND;
	/* Linkerd's places: the client's in source_meta (inbound), the
	 * server's in destination_meta (outbound) */
	tls.key = "tls";
	tls.value = (char *)(r->tls ? r->tls : "disabled");
	labels[meta.n_labels++] = &tls;
	if (r->peer_id) {
		id.key = r->dir == PROXY_INBOUND ? "client_id" : "server_id";
		id.value = r->peer_id;
		labels[meta.n_labels++] = &id;
	}
	meta.labels = labels;
	if (r->dir == PROXY_INBOUND)
		ev.source_meta = &meta;
	else
		ev.destination_meta = &meta;
	ev.event_case = IO__LINKERD__PROXY__TAP__TAP_EVENT__EVENT_HTTP;
	ev.http = http;
	for (uint8_t i = 0; i < r->n; i++) {
		struct tap *tp = find_tap(t, r->ids[i]);

		/* a slow reader misses events: taps never hold traffic */
		if (tp && tp->call)
			grpc_call_send_message(tp->call, &ev.base);
	}
}

static void stream_id(const struct proxy_tap_req *r,
		      Io__Linkerd__Proxy__Tap__TapEvent__Http__StreamId *id)
{
	io__linkerd__proxy__tap__tap_event__http__stream_id__init(id);
	id->conn_base = 0;
	id->stream = r->stream;
}

static void duration(Google__Protobuf__Duration *d, int64_t ns)
{
	google__protobuf__duration__init(d);
	d->seconds = ns / NSEC_PER_SEC;
	d->nanos = (int32_t)(ns % NSEC_PER_SEC);
}

void proxy_tap_request_slow(struct proxy_tap *t, struct proxy_tap_req *r,
			    enum proxy_dir dir, const struct sock_addr *src,
			    const struct sock_addr *dst, const char *tls_id,
			    const char *method, size_t mlen,
			    const char *authority, size_t alen,
			    const char *path, size_t plen)
{
	struct req_view v = { src, dst, method, authority, path, mlen, alen, plen };
	TapHttp http = IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__Http__RequestInit ri =
		IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__REQUEST_INIT__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__Http__StreamId id;
	Io__Linkerd__Proxy__HttpTypes__HttpMethod m =
		IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__INIT;
	char mbuf[32], abuf[256], pbuf[1024];

	r->n = 0;
	for (int i = 0; i < PROXY_TAP_MAX && r->n < PROXY_TAP_PER_REQ; i++) {
		struct tap *tp = &t->taps[i];

		if (!tp->id || !match(tp->req->match, &v, 0))
			continue;
		r->ids[r->n++] = tp->id;
		tp->seen++;
	}
	if (!r->n)
		return;
	r->dir = dir;
	r->responded = false;
	/* the labels of the tls series in the metrics */
	r->tls = tls_id ? "true" : t->px->identity ? "no_identity" : "disabled";
	free(r->peer_id);
	r->peer_id = tls_id && *tls_id ? strdup(tls_id) : NULL;
	r->stream = ++t->next_stream;
	r->start_ns = time_mono_ns();
	memset(&r->src, 0, sizeof(r->src));
	memset(&r->dst, 0, sizeof(r->dst));
	if (src)
		r->src = *src;
	if (dst)
		r->dst = *dst;
	snprintf(mbuf, sizeof(mbuf), "%.*s", (int)mlen, method);
	snprintf(abuf, sizeof(abuf), "%.*s", (int)alen, authority ? authority : "");
	snprintf(pbuf, sizeof(pbuf), "%.*s", (int)plen, path ? path : "");
	stream_id(r, &id);
	m.type_case = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_UNREGISTERED;
	m.unregistered = mbuf;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		if (!strcmp(methods[i], mbuf)) {
			m.type_case = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_REGISTERED;
			m.registered = (Io__Linkerd__Proxy__HttpTypes__HttpMethod__Registered)i;
		}
	}
	ri.id = &id;
	ri.method = &m;
	ri.authority = abuf;
	ri.path = pbuf;
	http.event_case = IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__EVENT_REQUEST_INIT;
	http.request_init = &ri;
	send_event(t, r, &http);
	/* taps that saw their last request end after its events */
}

void proxy_tap_response_slow(struct proxy_tap *t, struct proxy_tap_req *r,
			     int status)
{
	TapHttp http = IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__Http__ResponseInit ri =
		IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__RESPONSE_INIT__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__Http__StreamId id;
	Google__Protobuf__Duration since;

	if (r->responded)
		return;
	r->responded = true;
	r->rsp_ns = time_mono_ns();
	stream_id(r, &id);
	duration(&since, r->rsp_ns - r->start_ns);
	ri.id = &id;
	ri.since_request_init = &since;
	ri.http_status = (uint32_t)status;
	http.event_case = IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__EVENT_RESPONSE_INIT;
	http.response_init = &ri;
	send_event(t, r, &http);
}

void proxy_tap_end_slow(struct proxy_tap *t, struct proxy_tap_req *r,
			int grpc_status, uint32_t reset_code, uint64_t bytes)
{
	TapHttp http = IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__Http__ResponseEnd re =
		IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__RESPONSE_END__INIT;
	Io__Linkerd__Proxy__Tap__TapEvent__Http__StreamId id;
	Io__Linkerd__Proxy__Tap__Eos eos = IO__LINKERD__PROXY__TAP__EOS__INIT;
	Google__Protobuf__Duration since_req, since_rsp;
	int64_t now = time_mono_ns();

	stream_id(r, &id);
	duration(&since_req, now - r->start_ns);
	duration(&since_rsp, r->responded ? now - r->rsp_ns : 0);
	re.id = &id;
	re.since_request_init = &since_req;
	re.since_response_init = &since_rsp;
	re.response_bytes = bytes;
	if (grpc_status >= 0) {
		eos.end_case = IO__LINKERD__PROXY__TAP__EOS__END_GRPC_STATUS_CODE;
		eos.grpc_status_code = (uint32_t)grpc_status;
		re.eos = &eos;
	} else if (reset_code) {
		eos.end_case = IO__LINKERD__PROXY__TAP__EOS__END_RESET_ERROR_CODE;
		eos.reset_error_code = reset_code;
		re.eos = &eos;
	}
	http.event_case = IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__EVENT_RESPONSE_END;
	http.response_end = &re;
	send_event(t, r, &http);
	/* a tap that has seen its limit ends once that request is over */
	for (uint8_t i = 0; i < r->n; i++) {
		struct tap *tp = find_tap(t, r->ids[i]);

		if (tp && tp->limit && tp->seen >= tp->limit)
			tap_close(t, tp, GRPC_OK, NULL);
	}
	r->n = 0;
}

/* --- the server ------------------------------------------------------------------ */

static void on_observe(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct proxy_tap *t = grpc_call_method_data(call);
	ObserveRequest *req;
	struct tap *tp = NULL;

	req = io__linkerd__proxy__tap__observe_request__unpack(NULL, len, msg);
	if (!req) {
		grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
				 "ObserveRequest: not a valid message");
		return;
	}
	for (int i = 0; i < PROXY_TAP_MAX && !tp; i++)
		if (!t->taps[i].id)
			tp = &t->taps[i];
	if (!tp) {
		protobuf_c_message_free_unpacked(&req->base, NULL);
		grpc_call_finish(call, GRPC_RESOURCE_EXHAUSTED,
				 "too many taps on this proxy");
		return;
	}
	tp->id = ++t->next_id ? t->next_id : ++t->next_id;
	tp->call = call;
	tp->req = req;
	tp->limit = req->limit;
	tp->seen = 0;
	t->px->ntaps++;
	grpc_call_set_data(call, tp);
	log_info("tap: started", "limit=%u taps=%zu", tp->limit, t->px->ntaps);
}

static void on_observe_cancel(struct grpc_call *call)
{
	struct tap *tp = grpc_call_data(call);
	struct proxy_tap *t = grpc_call_method_data(call);

	if (!tp)
		return;
	tp->call = NULL;
	tap_close(t, tp, -1, NULL);
	log_info("tap: ended", "taps=%zu", t->px->ntaps);
}

static bool allowed(const struct netlist_cidrs *allow, const struct sock_addr *a)
{
	for (size_t i = 0; i < allow->n; i++) {
		const struct netlist_cidr *c = &allow->v[i];
		const uint8_t *x;
		unsigned bits = c->prefix;

		if (c->family != a->u.sa.sa_family)
			continue;
		x = c->family == AF_INET ? (const uint8_t *)&a->u.in4.sin_addr
					 : a->u.in6.sin6_addr.s6_addr;
		{
			bool ok = true;

			for (unsigned b = 0; b < bits && ok; b++)
				ok = !(((c->addr[b / 8] ^ x[b / 8]) >> (7 - b % 8)) & 1);
			if (ok)
				return true;
		}
	}
	return false;
}

struct proxy_tap *proxy_tap_new(struct proxy *px)
{
	struct proxy_tap *t = xcalloc(1, sizeof(*t));
	struct grpc_method *m = t->methods;
	struct grpc_server_config sc = {
		.loop = px->loop,
		.methods = m,
		.nmethods = 1,
		.max_conns = 16,
		.name = "tap",
	};

	m[0] = (struct grpc_method){ "/io.linkerd.proxy.tap.Tap/Observe",
				     on_observe, on_observe_cancel, NULL };
	m[0].data = t;
	t->px = px;
	t->server = grpc_server_new(&sc);
	if (!t->server) {
		free(t);
		return NULL;
	}
	return t;
}

void proxy_tap_free(struct proxy_tap *t)
{
	if (!t)
		return;
	grpc_server_free(t->server); /* cancels every tap */
	free(t);
}

void proxy_tap_accept(struct proxy_tap *t, int fd, const struct sock_addr *peer)
{
	char a[SOCK_ADDR_STRLEN];

	/* the default (an empty list): loopback only */
	if (t->px->cfg->tap_allow.n ? !allowed(&t->px->cfg->tap_allow, peer)
				    : !sock_addr_is_loopback(peer)) {
		log_info("tap: refused: the peer is not in --tap-allow",
			 "peer=%s", sock_addr_format(peer, a, sizeof(a)));
		close(fd);
		return;
	}
	grpc_server_adopt(t->server, fd);
}

size_t proxy_tap_count(const struct proxy_tap *t)
{
	return t->px->ntaps;
}
