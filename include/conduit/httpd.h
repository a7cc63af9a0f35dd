/* SPDX-License-Identifier: Apache-2.0 */
/* httpd.h - an HTTP/1.1 server on libev: routes, async answers, streams */
#ifndef CONDUIT_HTTPD_H
#define CONDUIT_HTTPD_H

#include <ev.h>
#include <sys/types.h>

#include "conduit/base.h"
#include "conduit/sock.h"
#include "conduit/tls.h"

/*
 * A small HTTP/1.1 server for JSON APIs, probes and event streams, driven
 * by the caller's ev_loop (parsing is http1.c's).
 *
 *   struct httpd *s = httpd_new(&(struct httpd_config){ .loop = loop });
 *   httpd_route(s, "GET", "/api/v1/version", on_version, NULL);
 *   httpd_route_prefix(s, "GET", "/static/", on_static, NULL);
 *   httpd_listen(s, &addr);
 *
 * A handler receives a request whose head and body were read, and
 * answers in one of three ways:
 *   at once     httpd_respond() (or _text/_json) before it returns;
 *   later       return without answering: the handler owns the request
 *               until it answers from another callback (an upstream
 *               reply). httpd_req_on_cancel() says when the client left;
 *   as a stream httpd_stream_start(), then httpd_stream_write() per event
 *               (one chunk each, written at once), httpd_stream_end().
 *               Each stream's output queue is bounded: a client that does
 *               not read is dropped, the write fails and the stream is
 *               over.
 *
 * Connections: keep-alive, pipelining (answered in order, one request at
 * a time: the next is parsed once the previous answer is written), HEAD
 * wherever GET is routed (the body is left out, its length kept).
 * Errors the server answers itself, then closes: 400 (malformed or
 * ambiguous framing), 408 (the request took longer than request_timeout
 * from its first byte to its last), 413 (body over max_body), 431 (head
 * over max_head or max_headers). No route for the path: 404; a route for
 * the path but not the method: 405 with Allow. A connection idle between
 * requests longer than idle_timeout, or whose client takes nothing for
 * write_timeout while an answer waits, is closed. Past max_conns a new
 * connection is closed at once.
 *
 * Nothing a client sends is trusted: every buffer is bounded by the
 * limits below.
 */

struct httpd;
struct httpd_req;

/* A header field for an answer: name and value, borrowed for the call. */
struct httpd_header {
	const char *name;
	const char *value;
};

/*
 * httpd_handler - a request arrived (head and body complete). arg is the
 * route's. The handler owns req until it answers (httpd_respond*,
 * httpd_stream_end, or a failed stream write) or its on_cancel runs.
 */
typedef void (*httpd_handler)(struct httpd_req *req, void *arg);

struct httpd_config {
	struct ev_loop *loop;
	size_t max_conns;	 /* connections at once (256) */
	size_t max_head;	 /* request line + headers (16 KiB) */
	size_t max_headers;	 /* header fields (64) */
	size_t max_body;	 /* request body (1 MiB) */
	size_t max_response;	 /* one queued answer (64 MiB) */
	size_t max_stream_queue; /* a stream's unsent bytes (256 KiB) */
	double request_timeout;	 /* s, first byte to last (10) */
	double idle_timeout;	 /* s between keep-alive requests (120) */
	double write_timeout;	 /* s without write progress (30) */
	const char *name;	 /* for log lines ("http"); borrowed */
	/* HTTPS: every connection is TLS with this server's credentials
	 * (borrowed; free it after the httpd). The handshake counts
	 * against request_timeout. A client that speaks plain HTTP to it
	 * gets a plain-text 400 saying so, then the connection closes. */
	struct tls_server *tls;
};

/*
 * httpd_new - a server with no routes, not listening (cfg copied, name
 * borrowed). NULL without a loop. Free with httpd_free().
 */
struct httpd *httpd_new(const struct httpd_config *cfg);

/*
 * httpd_free - close every connection and the listener. A request a
 * handler still owns gets its on_cancel first; one without on_cancel
 * becomes invalid. Not from inside a handler. NULL is a no-op.
 */
void httpd_free(struct httpd *s);

/*
 * httpd_route - serve method (NULL: any method; "GET" also serves HEAD)
 * on exactly path. httpd_route_prefix - on every path that starts with
 * prefix. The first route added that matches wins. Strings are copied.
 * Returns 0, -EINVAL (path not starting with '/'), -ENOMEM.
 */
int httpd_route(struct httpd *s, const char *method, const char *path,
		httpd_handler fn, void *arg);
int httpd_route_prefix(struct httpd *s, const char *method, const char *prefix,
		       httpd_handler fn, void *arg);

/*
 * httpd_listen - accept connections on a (port 0: any). Returns 0,
 * -EALREADY, or the negative errno of socket/bind/listen.
 */
int httpd_listen(struct httpd *s, const struct sock_addr *a);

/* httpd_local_addr - where it listens: 0, or -ENOTCONN */
int httpd_local_addr(const struct httpd *s, struct sock_addr *out);

/*
 * httpd_adopt - serve an accepted, non-blocking socket (takes fd; it is
 * closed at once past max_conns). peer may be NULL (then getpeername).
 * Returns 0, or -EMFILE when it was refused.
 */
int httpd_adopt(struct httpd *s, int fd, const struct sock_addr *peer);

/*
 * httpd_shutdown - stop accepting; idle connections close now, the
 * others after their current answer (sent with Connection: close).
 * Streams go on until they end: end them, or free the server.
 */
void httpd_shutdown(struct httpd *s);

/* httpd_conns - open connections; httpd_requests - answered so far */
size_t httpd_conns(const struct httpd *s);
uint64_t httpd_requests(const struct httpd *s);

/* --- the request: accessors (strings borrowed, valid while req is) ------ */

const char *httpd_req_method(const struct httpd_req *req);
/* httpd_req_path - the path as sent, without the query ("/api/v1/stat") */
const char *httpd_req_path(const struct httpd_req *req);
/* httpd_req_target - the request-target as sent ("/api/v1/stat?ns=x") */
const char *httpd_req_target(const struct httpd_req *req);
/*
 * httpd_req_query - the first query parameter called name, decoded
 * ('+' and %XX); "" for "?flag" without '='; NULL when absent.
 */
const char *httpd_req_query(const struct httpd_req *req, const char *name);
size_t httpd_req_query_count(const struct httpd_req *req);
/* httpd_req_query_at - parameter i (decoded) */
void httpd_req_query_at(const struct httpd_req *req, size_t i,
			const char **name, const char **value);
/* httpd_req_header - the first header called name (any case), or NULL */
const char *httpd_req_header(const struct httpd_req *req, const char *name);
size_t httpd_req_header_count(const struct httpd_req *req);
void httpd_req_header_at(const struct httpd_req *req, size_t i,
			 const char **name, const char **value);
/* httpd_req_body - the body (NUL-terminated, not counted), len in *len */
const char *httpd_req_body(const struct httpd_req *req, size_t *len);
/* httpd_req_peer - the client's address */
const struct sock_addr *httpd_req_peer(const struct httpd_req *req);
/* the handler's own pointer, for answers given later */
void *httpd_req_data(const struct httpd_req *req);
void httpd_req_set_data(struct httpd_req *req, void *data);

/*
 * httpd_req_on_cancel - fn(req, arg) runs if the client goes away (or
 * the server is freed) while the handler owns req; req is freed when fn
 * returns. Without it the request stays valid and its answer is
 * discarded, so an answer given later is always safe.
 */
void httpd_req_on_cancel(struct httpd_req *req,
			 void (*fn)(struct httpd_req *req, void *arg),
			 void *arg);

/* --- answers -------------------------------------------------------------- */

/*
 * httpd_respond - answer with status, content_type (NULL: none), extra
 * header fields h[0..nh) and body[0..len) (all copied). Content-Length
 * and Connection are the server's. req is invalid afterwards. Returns 0,
 * -EINVAL (a header name or value with CR, LF or NUL: nothing is sent,
 * the client gets a 500), -ENOBUFS (over max_response: a 500 instead).
 * The answer is sent either way.
 */
int httpd_respond(struct httpd_req *req, int status, const char *content_type,
		  const struct httpd_header *h, size_t nh, const void *body,
		  size_t len);
/* httpd_respond_text - text/plain; charset=utf-8 */
int httpd_respond_text(struct httpd_req *req, int status, const char *text);
/* httpd_respond_json - application/json, the caller's text */
int httpd_respond_json(struct httpd_req *req, int status, const char *json);

/*
 * httpd_stream_start - answer with a body of unknown length: status,
 * content_type and extra fields now (chunked for HTTP/1.1; HTTP/1.0: the
 * body ends with the connection). Returns 0, -EINVAL as httpd_respond
 * (then the request got a 500 and is over).
 */
int httpd_stream_start(struct httpd_req *req, int status,
		       const char *content_type, const struct httpd_header *h,
		       size_t nh);

/*
 * httpd_stream_write - one chunk of p[0..n) (copied; n == 0 is a no-op),
 * written at once when the socket takes it. Returns 0, or on failure the
 * stream is over, req is invalid and no on_cancel follows: -ENOBUFS (the
 * client read too slowly: more than max_stream_queue unsent, dropped),
 * -EPIPE (the connection is gone).
 */
int httpd_stream_write(struct httpd_req *req, const void *p, size_t n);

/* httpd_stream_queued - bytes of the stream not yet sent */
size_t httpd_stream_queued(const struct httpd_req *req);

/* httpd_stream_end - the last chunk; req is invalid afterwards */
void httpd_stream_end(struct httpd_req *req);

/* --- helpers -------------------------------------------------------------- */

/*
 * httpd_url_decode - decode s[0..n) (%XX; '+' as space when plus) into
 * out (at least n + 1 bytes), NUL-terminated. A '%' not followed by two
 * hex digits is kept as it is. Returns the decoded length, or -EINVAL
 * when the result would hold a NUL byte.
 */
ssize_t httpd_url_decode(const char *s, size_t n, bool plus, char *out);

#endif
