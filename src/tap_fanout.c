/* SPDX-License-Identifier: Apache-2.0 */
/* tap_fanout.c - the controller's side of tap: many proxies, one JSON-lines stream */
#include "conduit/tap_fanout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/destination.h"
#include "conduit/grpc.h"
#include "conduit/json.h"
#include "conduit/log.h"
#include "conduit/map.h"
#include "tap.pb-c.h"

#define OBSERVE "/io.linkerd.proxy.tap.Tap/Observe"

struct fan;

struct leg {
	struct fan *f;
	size_t idx;
	struct tap_target t;
	struct grpc_client *client;
	struct grpc_call *call;
	bool done;
};

struct fan {
	struct ev_loop *loop;
	struct httpd_req *req;
	struct leg *legs;
	size_t n, live;
	double max_rps, tokens;
	ev_tstamp last_fill;
	struct map admitted; /* "leg:stream" of requests being shown */
	ev_timer reaper;     /* frees clients outside their callbacks */
	bool ended;
};

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE",
				       "PATCH", "OPTIONS", "CONNECT", "HEAD",
				       "TRACE" };

static void fmt_addr(const Io__Linkerd__Proxy__Net__TcpAddress *t, char *buf,
		     size_t size)
{
	struct sock_addr a;

	if (!t || destination_sock_addr(t, &a) < 0)
		str_copy(buf, "", size);
	else
		sock_addr_format(&a, buf, size);
}

static double us(const Google__Protobuf__Duration *d)
{
	return d ? (double)d->seconds * 1e6 + (double)d->nanos / 1e3 : 0;
}

/* fan_end - end the HTTP stream (once); legs are freed by the reaper */
static void fan_end(struct fan *f)
{
	if (f->ended)
		return;
	f->ended = true;
	if (f->req)
		httpd_stream_end(f->req);
	f->req = NULL;
	ev_timer_start(f->loop, &f->reaper);
}

static void on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fan *f = container_of(w, struct fan, reaper);

	(void)revents;
	ev_timer_stop(loop, w);
	for (size_t i = 0; i < f->n; i++) {
		if (f->legs[i].call && !f->legs[i].done)
			grpc_call_cancel(f->legs[i].call);
		grpc_client_free(f->legs[i].client);
	}
	map_release(&f->admitted, NULL);
	free(f->legs);
	free(f);
}

/* admit - the token bucket: may this request be shown? */
static bool admit(struct fan *f)
{
	ev_tstamp now = ev_now(f->loop);

	f->tokens += (now - f->last_fill) * f->max_rps;
	if (f->tokens > f->max_rps)
		f->tokens = f->max_rps;
	f->last_fill = now;
	if (f->tokens < 1)
		return false;
	f->tokens -= 1;
	return true;
}

/* meta_label - the value of label key in meta, or NULL */
static const char *
meta_label(const Io__Linkerd__Proxy__Tap__TapEvent__EndpointMeta *meta,
	   const char *key)
{
	for (size_t i = 0; meta && i < meta->n_labels; i++)
		if (meta->labels[i] && meta->labels[i]->key &&
		    !strcmp(meta->labels[i]->key, key))
			return meta->labels[i]->value;
	return NULL;
}

static void on_event(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct leg *l = grpc_call_data(call);
	struct fan *f = l->f;
	Io__Linkerd__Proxy__Tap__TapEvent *ev;
	Io__Linkerd__Proxy__Tap__TapEvent__Http *h;
	struct json *o;
	char id[64], key[64], src[SOCK_ADDR_STRLEN], dst[SOCK_ADDR_STRLEN], *text;
	uint64_t stream = 0;

	if (f->ended)
		return;
	ev = io__linkerd__proxy__tap__tap_event__unpack(NULL, len, msg);
	if (!ev || ev->event_case != IO__LINKERD__PROXY__TAP__TAP_EVENT__EVENT_HTTP ||
	    !ev->http) {
		if (ev)
			protobuf_c_message_free_unpacked(&ev->base, NULL);
		return;
	}
	h = ev->http;
	o = json_new_object();
	switch (h->event_case) {
	case IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__EVENT_REQUEST_INIT:
		stream = h->request_init->id ? h->request_init->id->stream : 0;
		snprintf(key, sizeof(key), "%zu:%llu", l->idx, (unsigned long long)stream);
		if (!admit(f))
			goto skip;
		map_put(&f->admitted, key, f);
		json_set_string(o, "type", "req");
		if (h->request_init->method) {
			const Io__Linkerd__Proxy__HttpTypes__HttpMethod *m =
				h->request_init->method;

			json_set_string(o, "method",
					m->type_case == IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_REGISTERED &&
							(size_t)m->registered < ARRAY_SIZE(methods)
						? methods[m->registered]
					: m->type_case == IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_UNREGISTERED
						? m->unregistered
						: "");
		}
		json_set_string(o, "authority", h->request_init->authority);
		json_set_string(o, "path", h->request_init->path);
		break;
	case IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__EVENT_RESPONSE_INIT:
		stream = h->response_init->id ? h->response_init->id->stream : 0;
		snprintf(key, sizeof(key), "%zu:%llu", l->idx, (unsigned long long)stream);
		if (!map_get(&f->admitted, key))
			goto skip;
		json_set_string(o, "type", "rsp");
		json_set_number(o, "status", h->response_init->http_status);
		json_set_number(o, "latency_us",
				(double)(long long)us(h->response_init->since_request_init));
		break;
	case IO__LINKERD__PROXY__TAP__TAP_EVENT__HTTP__EVENT_RESPONSE_END:
		stream = h->response_end->id ? h->response_end->id->stream : 0;
		snprintf(key, sizeof(key), "%zu:%llu", l->idx, (unsigned long long)stream);
		if (!map_del(&f->admitted, key))
			goto skip;
		json_set_string(o, "type", "end");
		if (h->response_end->eos &&
		    h->response_end->eos->end_case == IO__LINKERD__PROXY__TAP__EOS__END_GRPC_STATUS_CODE)
			json_set_number(o, "grpc_status",
					h->response_end->eos->grpc_status_code);
		if (h->response_end->eos &&
		    h->response_end->eos->end_case == IO__LINKERD__PROXY__TAP__EOS__END_RESET_ERROR_CODE)
			json_set_number(o, "reset", h->response_end->eos->reset_error_code);
		json_set_number(o, "duration_us",
				(double)(long long)us(h->response_end->since_request_init));
		json_set_number(o, "response_bytes", (double)h->response_end->response_bytes);
		break;
	default:
		goto skip;
	}
	snprintf(id, sizeof(id), "%zu:%llu", l->idx, (unsigned long long)stream);
	fmt_addr(ev->source, src, sizeof(src));
	fmt_addr(ev->destination, dst, sizeof(dst));
	json_set_string(o, "id", id);
	json_set_string(o, "namespace", l->t.ns);
	json_set_string(o, "pod", l->t.pod);
	json_set_string(o, "proxy",
			ev->proxy_direction == IO__LINKERD__PROXY__TAP__TAP_EVENT__PROXY_DIRECTION__INBOUND
				? "in" : "out");
	json_set_string(o, "src", src);
	json_set_string(o, "dst", dst);
	{
		/* the proxy's: the client's security inbound, the server's
		 * outbound (an older proxy says nothing: not known) */
		const Io__Linkerd__Proxy__Tap__TapEvent__EndpointMeta *meta =
			ev->proxy_direction == IO__LINKERD__PROXY__TAP__TAP_EVENT__PROXY_DIRECTION__INBOUND
				? ev->source_meta : ev->destination_meta;
		const char *tls = meta_label(meta, "tls");
		const char *peer = meta_label(meta, ev->proxy_direction ==
							    IO__LINKERD__PROXY__TAP__TAP_EVENT__PROXY_DIRECTION__INBOUND
						    ? "client_id" : "server_id");

		json_set_string(o, "tls", tls ? tls : "unknown");
		if (peer)
			json_set_string(o, ev->proxy_direction ==
						   IO__LINKERD__PROXY__TAP__TAP_EVENT__PROXY_DIRECTION__INBOUND
					       ? "client_id" : "server_id", peer);
	}
	text = json_print(o, false);
	if (text) {
		size_t n = strlen(text);

		text[n] = '\n';
		if (httpd_stream_write(f->req, text, n + 1) < 0) {
			/* the client is gone or too slow: req is over */
			f->req = NULL;
			fan_end(f);
		}
		free(text);
	}
skip:
	json_free(o);
	protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void on_leg_status(struct grpc_call *call, int status, const char *msg)
{
	struct leg *l = grpc_call_data(call);
	struct fan *f = l->f;

	l->done = true;
	l->call = NULL;
	if (status != GRPC_OK && !f->ended) {
		log_info("tap: a proxy's tap ended", "pod=%s/%s status=%s message=\"%s\"",
			 l->t.ns, l->t.pod, grpc_status_name(status), msg ? msg : "");
		if (f->req) {
			char line[400];
			int n = snprintf(line, sizeof(line),
					 "{\"type\":\"error\",\"namespace\":\"%s\",\"pod\":\"%s\",\"error\":\"tap of this pod ended: %s\"}\n",
					 l->t.ns, l->t.pod, grpc_status_name(status));

			if (httpd_stream_write(f->req, line, (size_t)n) < 0)
				f->req = NULL;
		}
	}
	if (--f->live == 0 || !f->req)
		fan_end(f);
}

static const struct grpc_call_ops leg_ops = {
	.on_message = on_event,
	.on_status = on_leg_status,
};

static void on_client_gone(struct httpd_req *req, void *arg)
{
	struct fan *f = arg;

	(void)req;
	f->req = NULL;
	fan_end(f);
}

/* observe_request - the match tree for p, packed into buf: its length
 * (0 for no filter), or -1 when it does not fit */
static ssize_t observe_request(const struct tap_params *p, uint8_t *buf,
			       size_t size)
{
	Io__Linkerd__Proxy__Tap__ObserveRequest r = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__INIT;
	Io__Linkerd__Proxy__Tap__ObserveRequest__Match all = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__INIT;
	Io__Linkerd__Proxy__Tap__ObserveRequest__Match__Seq seq = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__SEQ__INIT;
	Io__Linkerd__Proxy__Tap__ObserveRequest__Match m[3], *mp[3];
	Io__Linkerd__Proxy__Tap__ObserveRequest__Match__Http h[3];
	Io__Linkerd__Proxy__Tap__ObserveRequest__Match__Http__StringMatch sm[2];
	Io__Linkerd__Proxy__HttpTypes__HttpMethod meth = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__INIT;
	size_t k = 0, n;

	for (int i = 0; i < 3; i++) {
		io__linkerd__proxy__tap__observe_request__match__init(&m[i]);
		io__linkerd__proxy__tap__observe_request__match__http__init(&h[i]);
		m[i].match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_HTTP;
		m[i].http = &h[i];
		mp[i] = &m[i];
	}
	for (int i = 0; i < 2; i++)
		io__linkerd__proxy__tap__observe_request__match__http__string_match__init(&sm[i]);
	if (p->method && *p->method) {
		meth.type_case = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_UNREGISTERED;
		meth.unregistered = (char *)p->method;
		for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
			if (!strcmp(methods[i], p->method)) {
				meth.type_case = IO__LINKERD__PROXY__HTTP_TYPES__HTTP_METHOD__TYPE_REGISTERED;
				meth.registered = (Io__Linkerd__Proxy__HttpTypes__HttpMethod__Registered)i;
			}
		}
		h[k].match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__MATCH_METHOD;
		h[k++].method = &meth;
	}
	if (p->path && *p->path) {
		sm[0].match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__STRING_MATCH__MATCH_PREFIX;
		sm[0].prefix = (char *)p->path;
		h[k].match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__MATCH_PATH;
		h[k++].path = &sm[0];
	}
	if (p->authority && *p->authority) {
		sm[1].match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__STRING_MATCH__MATCH_EXACT;
		sm[1].exact = (char *)p->authority;
		h[k].match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__HTTP__MATCH_AUTHORITY;
		h[k++].authority = &sm[1];
	}
	if (k) {
		seq.n_matches = k;
		seq.matches = mp;
		all.match_case = IO__LINKERD__PROXY__TAP__OBSERVE_REQUEST__MATCH__MATCH_ALL;
		all.all = &seq;
		r.match = &all;
	}
	n = io__linkerd__proxy__tap__observe_request__get_packed_size(&r);
	if (n > size)
		return -1;
	return (ssize_t)io__linkerd__proxy__tap__observe_request__pack(&r, buf);
}

int tap_fanout_start(struct ev_loop *loop, struct httpd_req *req,
		     const struct tap_target *t, size_t n,
		     const struct tap_params *p)
{
	struct fan *f = xcalloc(1, sizeof(*f));
	uint8_t buf[4096];
	ssize_t blen = observe_request(p, buf, sizeof(buf));

	if (blen < 0) {
		free(f);
		httpd_respond_json(req, 400, "{\"error\":\"tap filters too long\"}");
		return -EINVAL;
	}
	f->loop = loop;
	f->req = req;
	f->max_rps = p->max_rps > 0 ? p->max_rps : 100;
	f->tokens = f->max_rps;
	f->last_fill = ev_now(loop);
	f->legs = xcalloc(n, sizeof(*f->legs));
	f->n = n;
	ev_timer_init(&f->reaper, on_reap, 0, 0);
	if (httpd_stream_start(req, 200, "application/x-ndjson", NULL, 0) < 0) {
		free(f->legs);
		free(f);
		return -EINVAL;
	}
	httpd_req_on_cancel(req, on_client_gone, f);
	for (size_t i = 0; i < n; i++) {
		struct leg *l = &f->legs[i];
		struct grpc_client_config gc = {
			.loop = loop,
			.addr = t[i].addr,
			.connect_timeout = 2,
			.name = "tap",
		};

		l->f = f;
		l->idx = i;
		l->t = t[i];
		l->client = grpc_client_new(&gc);
		if (!l->client || grpc_client_call(l->client, OBSERVE, buf, (size_t)blen, 0, 0,
						   &leg_ops, l, &l->call) < 0) {
			l->done = true;
			continue;
		}
		f->live++;
	}
	if (!f->live)
		fan_end(f);
	return 0;
}
