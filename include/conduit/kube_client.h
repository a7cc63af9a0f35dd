/* SPDX-License-Identifier: Apache-2.0 */
/* kube_client.h - HTTP/1.1 requests to the Kubernetes API on libev */
#ifndef CONDUIT_KUBE_CLIENT_H
#define CONDUIT_KUBE_CLIENT_H

#include <ev.h>
#include <sys/types.h>

#include "conduit/base.h"
#include "conduit/kube_config.h"

/*
 * A client for one API server: HTTPS (TLS 1.2, the server verified
 * against the kubeconfig's CA, a client certificate or a bearer token) or
 * plain HTTP, HTTP/1.1 responses read with the http1 module (chunked or
 * sized), everything non-blocking on the caller's loop. Each request has
 * its own connection (a watch holds one for minutes; lists are rare), so
 * requests never wait behind each other.
 *
 * A request ends exactly once: its done callback runs with the status and
 * body (or the transport error), unless the caller cancelled it first.
 * The request is freed right after done returns; done may start new
 * requests but must not cancel the one that ends.
 */
struct kube_client;
struct kube_request;

/* bodies larger than this fail the request (-EMSGSIZE) */
#define KUBE_MAX_BODY (64u << 20)

struct kube_response {
	int status;	     /* HTTP status, 0 when no response came */
	int error;	     /* 0, or a negative errno (transport, limits) */
	const char *message; /* why, when error (or ""); borrowed */
	const char *body;    /* the body (NUL-terminated), when not streamed */
	size_t body_len;
	int retry_after; /* seconds of a Retry-After header, or -1 */
};

/* kube_done_fn - the request ended; resp borrowed for the call */
typedef void kube_done_fn(void *arg, const struct kube_response *resp);

/*
 * kube_data_fn - a piece of a streamed 2xx body (a watch); borrowed for
 * the call. Return 0 to go on, or a negative errno to end the request:
 * done then runs with that error and the message set here with
 * kube_request_fail_message (or a generic one).
 */
typedef int kube_data_fn(void *arg, const char *p, size_t len);

struct kube_request_opts {
	const char *method; /* "GET" (default), "POST", "DELETE", ... */
	const char
	    *path; /* "/api/v1/pods?limit=500", below the server's path */
	const char *content_type; /* of body, default application/json */
	const void *body;	  /* request body, copied; NULL for none */
	size_t body_len;
	size_t max_body;	/* response body bound (0: KUBE_MAX_BODY) */
	int connect_timeout_ms; /* TCP and TLS set-up (0: 10 s) */
	int idle_timeout_ms;	/* no byte from the server for this long
				 * ends the request with -ETIMEDOUT (0: 60 s) */
	int total_timeout_ms;	/* the whole request (0: none) */
	kube_data_fn *on_data;	/* stream a 2xx body here instead of
				 * collecting it (non-2xx bodies are still
				 * collected for their Status message) */
};

/*
 * kube_client_new - a client for cfg (borrowed for the client's life: the
 * client re-reads cfg->token_file when it changes). Parses the TLS
 * material now. Returns the client, or NULL with "<what>: <why>" in err.
 * Free with kube_client_free() after every request ended or was cancelled.
 */
struct kube_client *kube_client_new(struct ev_loop *loop,
				    const struct kube_config *cfg, char *err,
				    size_t errlen);
void kube_client_free(struct kube_client *c);

/* kube_client_loop - the loop the client runs on */
struct ev_loop *kube_client_loop(const struct kube_client *c);

/*
 * kube_request_start - send a request. opts are copied. done runs later,
 * from the loop (never from inside this call). Returns the request (valid
 * until done returns or kube_request_cancel), or NULL on OOM.
 */
struct kube_request *kube_request_start(struct kube_client *c,
					const struct kube_request_opts *opts,
					kube_done_fn *done, void *arg);

/* kube_request_cancel - end a request now; done is not called. NULL ok */
void kube_request_cancel(struct kube_request *r);

/*
 * kube_request_fail_message - from inside an on_data callback that is
 * about to return an error: the message done will carry (copied).
 */
void kube_request_fail_message(struct kube_request *r, const char *msg);

/*
 * kube_status_message - the "message" of a Kubernetes Status body, or
 * the start of the body when it is not one, into buf. Returns buf.
 */
const char *kube_status_message(const char *body, size_t len, char *buf,
				size_t size);

/*
 * kube_path_escape - s percent-encoded for a query value or a path
 * segment (unreserved characters kept) appended to out. 0 or -ENOBUFS.
 */
struct buf;
int kube_path_escape(struct buf *out, const char *s);

#endif
