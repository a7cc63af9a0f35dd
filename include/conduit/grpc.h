/* SPDX-License-Identifier: Apache-2.0 */
/* grpc.h - gRPC over h2: a method-table server, a reconnecting client */
#ifndef CONDUIT_GRPC_H
#define CONDUIT_GRPC_H

#include <ev.h>
#include <protobuf-c/protobuf-c.h>

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/h2.h"
#include "conduit/sock.h"

/*
 * gRPC's HTTP/2 mapping (PROTOCOL-HTTP2.md): a call is a POST to
 * /<package>.<Service>/<Method> with content-type application/grpc; each
 * message is a 1-byte compressed flag, a 4-byte big-endian length and the
 * protobuf bytes; the status is in the trailers grpc-status and
 * grpc-message (percent-encoded), or in the response head alone
 * ("Trailers-Only") when the call fails before any message.
 *
 * Unary and server-streaming calls: the client sends one message and
 * half-closes; the server answers with any number of messages, then a
 * status. Messages are never compressed (we announce identity only).
 *
 * Both sides are driven by the caller's ev_loop. Handlers and callbacks
 * run from it, never from inside the call that started them (a client
 * call that cannot even start fails with on_status in a later loop
 * iteration).
 */

enum grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* grpc_status_name - "OK", "CANCELLED", ... ("UNKNOWN" out of range) */
const char *grpc_status_name(int status);

/* grpc_status_from_http - the status for an HTTP status other than 200
 * (the gRPC spec's table: 404 UNIMPLEMENTED, 503 UNAVAILABLE, ...) */
int grpc_status_from_http(int http_status);

/* grpc_status_from_h2 - the status for a stream reset with this HTTP/2
 * error (CANCEL: CANCELLED, REFUSED_STREAM: UNAVAILABLE, ...) */
int grpc_status_from_h2(uint32_t error);

#define GRPC_FRAME_HEADER	 5
#define GRPC_DEFAULT_MAX_MESSAGE (4u << 20)

/* --- framing ------------------------------------------------------------ */

/*
 * grpc_frame_append - append msg[0..len) with its 5-byte prefix to out.
 * Returns 0, -EMSGSIZE (len does not fit 32 bits), -ENOBUFS or -ENOMEM.
 */
int grpc_frame_append(struct buf *out, const void *msg, size_t len);

/* grpc_pack - append m's protobuf encoding (no prefix) to out; 0 or <0 */
int grpc_pack(struct buf *out, const ProtobufCMessage *m);

/* grpc_frame_pack - append m, prefixed, to out; 0 or <0 as above */
int grpc_frame_pack(struct buf *out, const ProtobufCMessage *m);

/*
 * grpc_frame_unpack - parse one prefixed message of type d from p[0..n),
 * at most max bytes (0: GRPC_DEFAULT_MAX_MESSAGE). Returns the bytes
 * consumed (> 0) with the message in *out (free it with
 * protobuf_c_message_free_unpacked(*out, NULL)), 0 when p holds less
 * than a whole message, or -EMSGSIZE (over max), -EPROTO (compressed
 * flag, or not a valid message of type d).
 */
ssize_t grpc_frame_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p,
			  size_t n, size_t max, ProtobufCMessage **out);

/*
 * An incremental reader of prefixed messages arriving in pieces (DATA
 * frames). It keeps at most one partial message; a message that lies
 * within one piece is handed over without a copy.
 */
struct grpc_reader {
	struct buf msg; /* a message split across pieces */
	uint8_t hdr[GRPC_FRAME_HEADER];
	size_t hdr_len; /* prefix bytes seen */
	size_t need;	/* the current message's length */
	size_t max;	/* largest message accepted */
	bool in_body;	/* the prefix is complete */
	int err;	/* a sticky error */
};

void grpc_reader_init(struct grpc_reader *r, size_t max);
void grpc_reader_release(struct grpc_reader *r);

/*
 * grpc_reader_feed - take p[0..n) and call on_message(arg, msg, len) for
 * each complete message (msg borrowed for the call). on_message returns
 * 0 to go on, or anything else to stop: feed returns that value. Returns
 * 0, -EMSGSIZE (a prefix announces more than max), -EPROTO (the
 * compressed flag is set, or the flag byte is neither 0 nor 1), -ENOMEM;
 * errors are sticky.
 */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *p, size_t n,
		     int (*on_message)(void *arg, const uint8_t *msg,
				       size_t len),
		     void *arg);

/* grpc_reader_partial - a message was started and not finished (at the
 * end of the stream: it was truncated) */
bool grpc_reader_partial(const struct grpc_reader *r);

/* --- header values ------------------------------------------------------ */

/*
 * grpc_timeout_parse - a grpc-timeout value, s[0..len): 1 to 8 digits
 * and a unit (H M S m u n), into *ns. Returns 0 or -EINVAL.
 */
int grpc_timeout_parse(const char *s, size_t len, int64_t *ns);

/*
 * grpc_timeout_format - ns (> 0) as a grpc-timeout value, in the finest
 * unit that fits 8 digits, rounded up. Returns buf (at least 10 bytes).
 */
char *grpc_timeout_format(int64_t ns, char *buf, size_t size);

/*
 * grpc_percent_encode - s[0..n) as a grpc-message value: bytes outside
 * 0x20-0x7e and '%' become %XX. Appends to out; 0, -ENOBUFS, -ENOMEM.
 */
int grpc_percent_encode(struct buf *out, const char *s, size_t n);

/*
 * grpc_percent_decode - the reverse; a '%' not followed by two hex
 * digits is kept as it is (the spec says: do not fail). Appends to out
 * (not NUL-terminated); 0, -ENOBUFS, -ENOMEM.
 */
int grpc_percent_decode(struct buf *out, const char *s, size_t n);

/* --- server --------------------------------------------------------------- */

struct grpc_server;
struct grpc_call;

struct grpc_method {
	const char *path; /* "/package.Service/Method" */
	/*
	 * on_call - a call arrived with its request message msg[0..len)
	 * (borrowed for the call; unpack it with the generated
	 * ..._unpack()). Answer with grpc_call_send() and end with
	 * grpc_call_finish(), here or later (a stream stays open as long
	 * as the handler likes). Until one of grpc_call_finish() or
	 * on_cancel, the handler owns the call.
	 */
	void (*on_call)(struct grpc_call *call, const uint8_t *msg, size_t len);
	/*
	 * on_cancel - the call ended before grpc_call_finish(): the client
	 * cancelled (RST_STREAM), its deadline passed, the connection was
	 * lost, or the server is being freed. Drop every reference (a
	 * subscription): call is freed when this returns. May be NULL.
	 */
	void (*on_cancel)(struct grpc_call *call);
	void *data; /* grpc_call_method_data() */
};

struct grpc_server_config {
	struct ev_loop *loop;
	const struct grpc_method *methods; /* borrowed; outlive the server */
	size_t nmethods;
	size_t max_recv_message; /* request bytes (4 MiB) */
	size_t max_send_message; /* a response message, and what one call
				  * may have queued (4 MiB) */
	size_t max_conns;	 /* open connections (1024) */
	struct h2_limits h2;	 /* each connection's (zeros: defaults) */
	const char *name;	 /* for log lines; borrowed, may be NULL */
};

/* grpc_server_new - a server (not listening yet); NULL on no memory.
 * The config is copied; the method table is borrowed. */
struct grpc_server *grpc_server_new(const struct grpc_server_config *cfg);

/*
 * grpc_server_listen - listen on a (port 0: any). Returns 0, -EALREADY
 * (listening), or the negative errno of socket/bind/listen.
 */
int grpc_server_listen(struct grpc_server *s, const struct sock_addr *a);

/* grpc_server_local_addr - where it listens. 0, or -ENOTCONN. */
int grpc_server_local_addr(const struct grpc_server *s, struct sock_addr *out);

/*
 * grpc_server_adopt - serve an already accepted connection (takes fd,
 * closed on failure). Returns 0, -EMFILE (max_conns), -ENOMEM.
 */
int grpc_server_adopt(struct grpc_server *s, int fd);

/*
 * grpc_server_shutdown - stop accepting and send every connection a
 * graceful GOAWAY: calls in flight go on; connections close when their
 * calls are done. Open-ended streams keep theirs: finish them, or free
 * the server.
 */
void grpc_server_shutdown(struct grpc_server *s);

size_t grpc_server_conns(const struct grpc_server *s);
size_t grpc_server_calls(const struct grpc_server *s);

/*
 * grpc_server_free - close everything: each call its handler owns gets
 * on_cancel first. Not from inside the server's own handlers. NULL is a
 * no-op.
 */
void grpc_server_free(struct grpc_server *s);

/* The call's owner data (server handler or client caller). */
void *grpc_call_data(const struct grpc_call *call);
void grpc_call_set_data(struct grpc_call *call, void *data);

/* grpc_call_method_data - server: the data of the call's grpc_method */
void *grpc_call_method_data(const struct grpc_call *call);

/* grpc_call_path - "/package.Service/Method"; borrowed */
const char *grpc_call_path(const struct grpc_call *call);

/*
 * grpc_call_metadata - server: the request header called name
 * (lowercase), NUL-terminated, borrowed for the call's life; NULL when
 * absent.
 */
const char *grpc_call_metadata(const struct grpc_call *call, const char *name);

/*
 * grpc_call_send - server: send one response message msg[0..len)
 * (copied; the response head goes out with the first). Returns 0,
 * -ENOBUFS (the call's queue is full: the client is slow; try later or
 * give up), -EMSGSIZE (over max_send_message), -EPIPE (finished or
 * cancelled), -ENOMEM.
 */
int grpc_call_send(struct grpc_call *call, const void *msg, size_t len);

/* grpc_call_send_message - grpc_call_send of a packed protobuf message */
int grpc_call_send_message(struct grpc_call *call, const ProtobufCMessage *m);

/*
 * grpc_call_finish - server: end the call with status and message (may
 * be NULL; percent-encoded for the wire). The handler lets go: call may
 * be freed from now on. Returns 0, or -EPIPE if the handler did not own
 * the call.
 */
int grpc_call_finish(struct grpc_call *call, int status, const char *message);

/* --- client ------------------------------------------------------------- */

struct grpc_client;

struct grpc_client_config {
	struct ev_loop *loop;
	struct sock_addr addr;	   /* the server */
	const char *authority;	   /* :authority (default: addr); copied */
	size_t max_recv_message;   /* response messages (4 MiB) */
	size_t max_send_message;   /* request messages (4 MiB) */
	double connect_timeout;	   /* seconds (20) */
	double backoff_base;	   /* first reconnect delay (1 s) */
	double backoff_max;	   /* longest (120 s) */
	double backoff_multiplier; /* (1.6) */
	double backoff_jitter;	   /* +- this fraction (0.2) */
	struct h2_limits h2;	   /* the connection's (zeros: defaults) */
	const char *name;	   /* for log lines; borrowed, may be NULL */
	/*
	 * connect - start a non-blocking connection to addr, as
	 * sock_connect() (the default when NULL) does: the fd, or a
	 * negative errno. A transport of the caller's (a TLS relay's
	 * plaintext end) goes here.
	 */
	int (*connect)(void *arg, const struct sock_addr *addr);
	void *connect_arg;
};

/*
 * grpc_client_new - a client for one server; connects on the first call.
 * Calls share one connection; when it fails, the next attempt waits an
 * exponential backoff with jitter (reset once a server answers with
 * HTTP/2 SETTINGS). After a GOAWAY the connection finishes its streams
 * while new calls get a new one; a call the server refused unseen
 * (REFUSED_STREAM) is retried once there. Returns NULL on no memory.
 */
struct grpc_client *grpc_client_new(const struct grpc_client_config *cfg);

/*
 * grpc_client_free - drop the connection and every call, with no
 * callback. Not from inside the client's own callbacks. NULL: no-op.
 */
void grpc_client_free(struct grpc_client *cl);

/* grpc_client_connected - a connection is up (TCP connected) */
bool grpc_client_connected(const struct grpc_client *cl);

struct grpc_call_ops {
	/* on_message - one response message, borrowed for the call */
	void (*on_message)(struct grpc_call *call, const uint8_t *msg,
			   size_t len);
	/*
	 * on_status - the call is over, once: the server's status and
	 * message (percent-decoded, NUL-terminated, borrowed for the
	 * call), or the client's (UNAVAILABLE: no connection;
	 * DEADLINE_EXCEEDED; RESOURCE_EXHAUSTED: a message over the max;
	 * INTERNAL: a protocol error). call is freed when this returns.
	 */
	void (*on_status)(struct grpc_call *call, int status,
			  const char *message);
};

enum {
	/* wait for a connection (up to the deadline) instead of failing
	 * at once with UNAVAILABLE while reconnecting after a failure */
	GRPC_WAIT_FOR_READY = 1 << 0,
};

/*
 * grpc_client_call - start a unary or server-streaming call to path with
 * request message req[0..len) (copied). timeout: seconds until
 * DEADLINE_EXCEEDED (sent to the server as grpc-timeout), <= 0 for none.
 * ops is borrowed (outlives the call); data is the caller's. Stores the
 * call in *out. Returns 0 (every outcome then arrives through on_status),
 * -EINVAL (a path not starting with '/'), -EMSGSIZE, -ENOMEM.
 */
int grpc_client_call(struct grpc_client *cl, const char *path, const void *req,
		     size_t len, double timeout, unsigned flags,
		     const struct grpc_call_ops *ops, void *data,
		     struct grpc_call **out);

/*
 * grpc_call_cancel - client: give up on the call: RST_STREAM CANCEL to
 * the server, no further callback, call is invalid after this. Server:
 * the handler lets go of the call the same way (the client sees the
 * stream reset). Calling it for a call already over is a bug.
 */
void grpc_call_cancel(struct grpc_call *call);

#endif
