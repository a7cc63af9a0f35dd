/* SPDX-License-Identifier: Apache-2.0 */
/* httpc.h - an asynchronous HTTP/1.1 client on libev, answers or streams */
#ifndef CONDUIT_HTTPC_H
#define CONDUIT_HTTPC_H

#include <ev.h>
#include <sys/types.h>

#include "conduit/base.h"
#include "conduit/sock.h"

/*
 * One struct httpc per loop holds the idle keep-alive connections, per
 * address, for reuse. A request (struct httpc_req, copied) goes to one
 * address with an explicit Host (the authority a mesh routes by), and its
 * outcome arrives once, from the loop (never from inside httpc_request):
 *
 *   whole    on_done(call, resp, arg): status, headers, body (at most
 *            max_body bytes: more is -EMSGSIZE), or resp->err on a
 *            transport failure (status 0);
 *   stream   with on_data set: on_head once the head is in, on_data per
 *            body piece (or per line with HTTPC_LINES, without its "\n";
 *            a line over max_body fails the call with -EMSGSIZE), then
 *            on_done with an empty body. on_data returning non-zero
 *            cancels the call (no on_done).
 *
 * The timeout covers connecting up to the end of the answer; for a
 * stream, up to its head (a stream may last as long as it likes: cancel
 * it). A request sent on a reused connection that the server had closed
 * meanwhile is retried once on a new one when its method is idempotent
 * and nothing came back. Chunked and length-delimited answers, and bodies
 * that end with the connection, are all understood; a body is decoded,
 * never the framing handed over.
 */

struct httpc;
struct httpc_call;

struct httpc_header {
	const char *name;
	const char *value;
};

struct httpc_resp {
	int err;	  /* 0, or a negative errno: -ETIMEDOUT,
			   * -ECONNREFUSED, -ECONNRESET, -EMSGSIZE (over
			   * max_body), -EPROTO (not HTTP), ... */
	int status;	  /* 0 when err is set before a head arrived */
	const char *body; /* NUL-terminated (not counted); "" if none */
	size_t body_len;
	/* headers: read with httpc_resp_header() */
	const struct httpc_header *headers;
	size_t nheaders;
};

/* httpc_resp_header - the first header called name (any case), or NULL */
const char *httpc_resp_header(const struct httpc_resp *resp, const char *name);

enum {
	HTTPC_LINES = 1 << 0,	 /* stream: on_data once per line */
	HTTPC_NO_REUSE = 1 << 1, /* a new connection, closed after */
};

struct httpc_req {
	struct sock_addr addr; /* where to connect */
	const char *method;    /* "GET" when NULL */
	const char *authority; /* Host: (NULL: addr as text) */
	const char *path;      /* "/api/v1/stat?ns=x" ("/" when NULL) */
	const struct httpc_header *headers; /* extra fields */
	size_t nheaders;
	const void *body; /* sent with Content-Length (POST, PUT) */
	size_t body_len;
	double timeout;	 /* s (30); see above for streams */
	size_t max_body; /* answer body, or one line (4 MiB) */
	unsigned flags;	 /* HTTPC_* */
	/* on_done - the call is over: the answer or an error in resp
	 * (borrowed for the callback); the call is freed afterwards */
	void (*on_done)(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg);
	/* stream mode (on_data set): on_head may be NULL; resp has the
	 * status and headers, no body */
	void (*on_head)(struct httpc_call *call, const struct httpc_resp *resp,
			void *arg);
	int (*on_data)(struct httpc_call *call, const char *p, size_t n,
		       void *arg);
	void *arg;
};

struct httpc_config {
	struct ev_loop *loop;
	size_t max_idle;     /* idle connections kept, in all (8) */
	double idle_timeout; /* s an idle connection is kept (30) */
	const char *name;    /* for log lines ("httpc"); borrowed */
};

/* httpc_new - a client on cfg->loop (copied); NULL without a loop */
struct httpc *httpc_new(const struct httpc_config *cfg);

/*
 * httpc_free - close every connection; calls in flight end with no
 * callback. Not from inside a callback of this client. NULL: no-op.
 */
void httpc_free(struct httpc *c);

/*
 * httpc_request - start a request (r and everything it points to is
 * copied). Stores the call in *out when out is not NULL (valid until
 * on_done returns or httpc_cancel). Returns 0 (the outcome then arrives
 * through on_done), or -EINVAL (no on_done, a header with CR or LF, a
 * path not starting with '/'), -ENOMEM.
 */
int httpc_request(struct httpc *c, const struct httpc_req *r,
		  struct httpc_call **out);

/* httpc_cancel - give up on a call: no callback follows; the connection
 * is closed. Safe from inside the call's own on_head / on_data. */
void httpc_cancel(struct httpc_call *call);

/* httpc_calls - calls in flight; httpc_idle - idle connections kept */
size_t httpc_calls(const struct httpc *c);
size_t httpc_idle(const struct httpc *c);

/*
 * For CLIs: httpc_run - run one request to its end on a private loop
 * (r->on_done is ignored; on_head and on_data are called as usual, a
 * stream runs until the server ends it or on_data returns non-zero).
 * Stores the outcome in *out (free with httpc_result_release()). Returns
 * 0 when an answer arrived (any status), else the transport error.
 */
struct httpc_result {
	int status;
	char *body; /* NUL-terminated; never NULL after a run */
	size_t body_len;
	char *content_type; /* or NULL */
};

int httpc_run(const struct httpc_req *r, struct httpc_result *out);
void httpc_result_release(struct httpc_result *res);

#endif
