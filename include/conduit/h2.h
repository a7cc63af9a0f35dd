/* SPDX-License-Identifier: Apache-2.0 */
/* h2.h - HTTP/2 connections over sockets or memory, on libev (nghttp2) */
#ifndef CONDUIT_H2_H
#define CONDUIT_H2_H

#include <ev.h>
#include <string.h>
#include <sys/types.h>

#include "conduit/base.h"

/*
 * One struct h2_conn per HTTP/2 connection, in either role, wrapping an
 * nghttp2 session (nghttp2.h stays inside src/h2.c). Two transports:
 *
 *   socket  h2_conn_new() with a connected non-blocking fd: the connection
 *           owns the fd and two ev_io watchers embedded in it. Reads loop
 *           until EAGAIN (at most 1 MiB per wakeup, so one busy peer cannot
 *           starve the others on the loop); everything nghttp2 has to send
 *           is batched into one output buffer and written with one send()
 *           per round, never one syscall per frame.
 *   memory  fd < 0: the owner feeds the peer's bytes with h2_conn_input()
 *           and takes what to send with h2_conn_output(). For fuzzing, and
 *           for transports h2 does not know (TLS will sit here).
 *
 * Streams are struct h2_stream, owned by their connection: a server learns
 * of one in on_headers (H2_HEAD_REQUEST), a client makes one with
 * h2_conn_request(). A stream handle stays valid until on_stream_close
 * returns, and is never touched after that.
 *
 * Sending: headers (h2_stream_respond, or h2_conn_request), then body
 * bytes into the stream's bounded send queue (h2_stream_write), then
 * h2_stream_end() with or without trailers. nghttp2 pulls from the queue
 * as flow-control windows allow; on_sent reports what left it. Submissions
 * made inside a callback go out when the callback's event is done;
 * submissions made elsewhere (a timer) are flushed once per loop
 * iteration, from an ev_prepare watcher, so many writes become one send().
 *
 * Receiving: on_headers (the list is borrowed for the call), on_data
 * (borrowed bytes), on_end when the peer ended its side. With
 * lim.manual_flow, received DATA is acknowledged to the peer (window
 * updates) only when the owner calls h2_stream_consume(): a proxy consumes
 * what it forwarded once the other side's on_sent says it left, so a slow
 * reader on one side stops the writer on the other with no unbounded
 * buffer in between (with the sender's queue bound at least the receive
 * window, forwarded data always fits). Otherwise nghttp2 acknowledges data
 * as it arrives.
 *
 * Memory bounds, all in struct h2_limits (zero means the default):
 * concurrent streams the peer may open, header list size and field count
 * (counted while decoding: a block over either gets its stream reset with
 * PROTOCOL_ERROR; the connection lives on; one field over 64 KiB is an
 * HPACK error nghttp2 ends the connection for), each stream's send queue, and
 * the connection's output buffer: while it is full no more frames are
 * made and nothing is read from the peer, so a peer that does not read
 * cannot make us buffer its answers. A peer that resets too many streams
 * before their answer (rapid reset) or makes too many protocol errors per
 * second gets GOAWAY ENHANCE_YOUR_CALM and is closed.
 *
 * Freeing: h2_conn_free() may be called anywhere, from any of this
 * connection's callbacks included: inside one, the free waits until the
 * connection's own code has unwound (nothing is freed under a running
 * callback).
 */

struct h2_conn;
struct h2_stream;

enum h2_role {
	H2_CLIENT,
	H2_SERVER,
};

/* HTTP/2 error codes (RFC 9113 section 7), and one of ours */
enum h2_error {
	H2_NO_ERROR = 0x0,
	H2_PROTOCOL_ERROR = 0x1,
	H2_INTERNAL_ERROR = 0x2,
	H2_FLOW_CONTROL_ERROR = 0x3,
	H2_SETTINGS_TIMEOUT = 0x4,
	H2_STREAM_CLOSED = 0x5,
	H2_FRAME_SIZE_ERROR = 0x6,
	H2_REFUSED_STREAM = 0x7,
	H2_CANCEL = 0x8,
	H2_COMPRESSION_ERROR = 0x9,
	H2_CONNECT_ERROR = 0xa,
	H2_ENHANCE_YOUR_CALM = 0xb,
	H2_INADEQUATE_SECURITY = 0xc,
	H2_HTTP_1_1_REQUIRED = 0xd,
	/* never on the wire: the connection ended under an open stream */
	H2_CONNECTION_LOST = 0x10000,
};

/* h2_error_name - "NO_ERROR", "CANCEL", ...; "UNKNOWN" for others */
const char *h2_error_name(uint32_t code);

/*
 * A header field. Received fields are NUL-terminated as well (the
 * lengths are exact); pseudo-headers (":method", ":status", ...) come
 * first, as on the wire. Names are lowercase on the wire (HTTP/2).
 */
struct h2_header {
	const char *name;
	const char *value;
	size_t name_len;
	size_t value_len;
};

/* H2_HEADER("content-type", "application/grpc") - from string literals */
#define H2_HEADER(n, v)                                                        \
	{                                                                      \
		(n), (v), sizeof(n) - 1, sizeof(v) - 1                         \
	}

/* h2_header_str - a field from two NUL-terminated strings (borrowed) */
static inline struct h2_header h2_header_str(const char *name,
					     const char *value)
{
	struct h2_header h = {name, value, strlen(name), strlen(value)};

	return h;
}

/*
 * h2_header_find - the first field called name (exact, lowercase) in
 * h[0..n), or NULL. Returns a pointer into h. Inline: with a literal
 * name the compiler knows its length (the proxy looks for several names
 * in every head).
 */
static inline const struct h2_header *
h2_header_find(const struct h2_header *h, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == len && !memcmp(h[i].name, name, len))
			return &h[i];
	return NULL;
}

/* Limits; a zero field takes the default in brackets. */
struct h2_limits {
	uint32_t max_streams;	   /* SETTINGS_MAX_CONCURRENT_STREAMS (100) */
	uint32_t stream_window;	   /* our initial stream window (256 KiB) */
	uint32_t conn_window;	   /* our connection window (1 MiB) */
	size_t max_header_list;	   /* a received header block: name + value
				    * + 32 bytes per field, as
				    * SETTINGS_MAX_HEADER_LIST_SIZE counts
				    * (64 KiB) */
	size_t max_header_fields;  /* fields in one received block (100) */
	size_t stream_send_max;	   /* one stream's send queue (32 KiB) */
	size_t conn_send_max;	   /* output not yet written (1 MiB) */
	uint32_t max_early_resets; /* RST_STREAMs per second on streams we
				    * had not answered yet (100) */
	uint32_t max_errors;	   /* peer protocol errors per second (20) */
	double idle_timeout;	   /* seconds with no open stream before a
				    * GOAWAY (120; < 0: never) */
	double settings_timeout;   /* seconds for our SETTINGS to be
				    * acknowledged (10; < 0: never); also how
				    * long a failed connection lingers to
				    * flush its GOAWAY */
	bool manual_flow;	   /* acknowledge DATA only through
				    * h2_stream_consume() */
};

#define H2_DEFAULT_MAX_STREAMS	     100
#define H2_DEFAULT_STREAM_WINDOW     (256u << 10)
#define H2_DEFAULT_CONN_WINDOW	     (1u << 20)
#define H2_DEFAULT_MAX_HEADER_LIST   (64u << 10)
#define H2_DEFAULT_MAX_HEADER_FIELDS 100
#define H2_DEFAULT_STREAM_SEND_MAX   (32u << 10)
#define H2_DEFAULT_CONN_SEND_MAX     (1u << 20)
#define H2_DEFAULT_MAX_EARLY_RESETS  100
#define H2_DEFAULT_MAX_ERRORS	     20
#define H2_DEFAULT_IDLE_TIMEOUT	     120.0
#define H2_DEFAULT_SETTINGS_TIMEOUT  10.0

/* What a received header block is. */
enum h2_head {
	H2_HEAD_REQUEST,  /* server: a new request (the stream is new) */
	H2_HEAD_INFO,	  /* client: a 1xx response; the final one follows */
	H2_HEAD_RESPONSE, /* client: the final response head */
	H2_HEAD_TRAILERS, /* either: trailers (always with end of stream) */
};

/*
 * The owner's callbacks; any may be NULL. They run from the loop (or from
 * h2_conn_input() in the memory transport) and may call any function of
 * this header, h2_conn_free() included.
 */
struct h2_callbacks {
	/*
	 * on_headers - a header block arrived on s. h[0..n) is borrowed for
	 * the call. end: the peer ended its side with this block (on_end
	 * follows). For H2_HEAD_REQUEST the stream is new: set its data
	 * with h2_stream_set_data() here.
	 */
	void (*on_headers)(struct h2_stream *s, enum h2_head kind,
			   const struct h2_header *h, size_t n, bool end);
	/*
	 * on_data - body bytes, borrowed for the call. With manual flow
	 * control, pass them on and acknowledge with h2_stream_consume().
	 */
	void (*on_data)(struct h2_stream *s, const uint8_t *p, size_t n);
	/* on_end - the peer ended its side of s (after its last data) */
	void (*on_end)(struct h2_stream *s);
	/*
	 * on_sent - n bytes left s's send queue for the connection: room
	 * for more (h2_stream_send_room()); the proxy acknowledges that
	 * much on the stream it forwards from.
	 */
	void (*on_sent)(struct h2_stream *s, size_t n);
	/*
	 * on_stream_close - s is finished: error is H2_NO_ERROR when both
	 * sides ended, the RST_STREAM code (sent or received: H2_CANCEL,
	 * H2_REFUSED_STREAM for a request the peer never took, ...), or
	 * H2_CONNECTION_LOST. s is freed when this returns. A server
	 * stream reset before its request head was delivered (too large)
	 * gets no callback at all: the owner never saw it.
	 */
	void (*on_stream_close)(struct h2_stream *s, uint32_t error);
	/*
	 * on_ready - the peer's first SETTINGS arrived: it speaks HTTP/2
	 * (a client resets its reconnect backoff here).
	 */
	void (*on_ready)(struct h2_conn *c);
	/*
	 * on_goaway - the peer sent GOAWAY: no new streams on c; streams
	 * above last_id close with H2_REFUSED_STREAM (safe to retry).
	 */
	void (*on_goaway)(struct h2_conn *c, uint32_t last_id, uint32_t error);
	/*
	 * on_output - memory transport only: h2_conn_output() has bytes
	 * (after an event not caused by h2_conn_input()).
	 */
	void (*on_output)(struct h2_conn *c);
	/*
	 * on_close - the connection is over, once; every open stream got
	 * on_stream_close before. err: 0 orderly (GOAWAY exchanged, idle
	 * timeout, peer closed with no stream open), -EPROTO (a protocol
	 * error, a bad preface, a flood, GOAWAY with an error),
	 * -ETIMEDOUT (SETTINGS not acknowledged), -ECONNRESET (the peer
	 * closed or reset with streams open), -ECONNABORTED
	 * (h2_conn_abort()), or another negative errno from the socket.
	 * h2_conn_reason() says more. The owner frees c (here is fine).
	 */
	void (*on_close)(struct h2_conn *c, int err);
};

struct h2_config {
	enum h2_role role;
	struct ev_loop *loop;	       /* NULL: no timers (memory only) */
	const struct h2_callbacks *cb; /* borrowed; outlives the connection */
	void *data;		       /* the owner's (h2_conn_data()) */
	struct h2_limits lim;	       /* copied; zeros are defaults */
	const char *name; /* for log lines; borrowed, may be NULL */
	/*
	 * bytes the owner already read from fd (a proxy's protocol
	 * detection), copied: processed first, as if read from the socket,
	 * in the loop iteration that made the connection. Needs a loop.
	 */
	const void *initial;
	size_t initial_len;
};

/*
 * h2_conn_new - an HTTP/2 connection on fd (connected, non-blocking; the
 * connection takes ownership and closes it), or on the memory transport
 * when fd < 0. Our SETTINGS are queued at once (a client's preface too).
 * Returns the connection (free with h2_conn_free()), or NULL on a bad
 * config (no loop with an fd) or out of memory; fd is closed then too.
 */
struct h2_conn *h2_conn_new(const struct h2_config *cfg, int fd);

/*
 * h2_conn_free - close (without callbacks) and free; open streams are
 * dropped silently. Inside this connection's callbacks the free is
 * deferred until they unwind. NULL is a no-op.
 */
void h2_conn_free(struct h2_conn *c);

void *h2_conn_data(const struct h2_conn *c);
void h2_conn_set_data(struct h2_conn *c, void *data);
enum h2_role h2_conn_role(const struct h2_conn *c);

/*
 * h2_conn_can_submit - true while new requests may go out on c: not
 * closed, no GOAWAY sent or received.
 */
bool h2_conn_can_submit(const struct h2_conn *c);

/*
 * h2_conn_peer_max_streams - the peer's SETTINGS_MAX_CONCURRENT_STREAMS:
 * how many streams we may have open on c at once. Until the peer's
 * SETTINGS arrive, at most 100 (RFC 9113 recommends no less).
 */
uint32_t h2_conn_peer_max_streams(const struct h2_conn *c);

/* h2_conn_closed - true once on_close has run (or is running) */
bool h2_conn_closed(const struct h2_conn *c);

/* h2_conn_reason - why c closed or is closing, for logs ("" if not) */
const char *h2_conn_reason(const struct h2_conn *c);

struct h2_stats {
	size_t streams;	    /* open streams we know of */
	size_t out_len;	    /* output buffered, not yet written */
	size_t out_peak;    /* most output ever buffered at once */
	size_t queued;	    /* bytes in all streams' send queues */
	uint64_t bytes_in;  /* read from the peer */
	uint64_t bytes_out; /* written to the peer */
	bool reading;	    /* socket transport: reading from the peer */
};
void h2_conn_stats(const struct h2_conn *c, struct h2_stats *st);

/*
 * h2_conn_shutdown - graceful close: GOAWAY (a server first announces it,
 * then, once a PING shows the peer saw it, names the last stream it will
 * serve); streams in flight finish, then the connection closes with
 * on_close(0). Streams that never end keep it open: the owner aborts
 * after its own deadline. Returns 0, or -ENOTCONN if c is closed.
 */
int h2_conn_shutdown(struct h2_conn *c);

/*
 * h2_conn_abort - GOAWAY with error (H2_NO_ERROR is fine) and close at
 * once: streams get H2_CONNECTION_LOST, on_close gets -ECONNABORTED. Not
 * synchronous: it happens when the current callback unwinds, or in this
 * loop iteration. No-op on a closed connection.
 */
void h2_conn_abort(struct h2_conn *c, uint32_t error);

/*
 * h2_conn_input - memory transport: the peer's bytes. Processes them
 * (callbacks run, on_close included) and returns how many were taken:
 * fewer than n while the output buffer is full (take output, then feed
 * the rest) or once the connection is ending (a GOAWAY with an error:
 * the rest would be ignored); -EPIPE when it is closed; -EINVAL on a
 * socket connection. Output is made here and in h2_conn_output(), and
 * from the loop when there is one (then on_output says so).
 */
ssize_t h2_conn_input(struct h2_conn *c, const void *p, size_t n);

/*
 * h2_conn_output - memory transport: the bytes to send to the peer now,
 * borrowed until the next call on c; returns their length (0: none).
 * Mark what was sent with h2_conn_output_consume().
 */
size_t h2_conn_output(struct h2_conn *c, const uint8_t **p);
void h2_conn_output_consume(struct h2_conn *c, size_t n);

/* Submit flags. */
enum {
	H2_END = 1 << 0, /* no body: END_STREAM on the headers */
	/*
	 * the fields' bytes (names lowercase) are the caller's and stay
	 * valid and unchanged until the stream's on_stream_close returns
	 * or the connection is freed: nghttp2 references them instead of
	 * copying each name and value (a proxy keeps a request's head for
	 * as long as its streams anyway)
	 */
	H2_NO_COPY = 1 << 1,
};

/*
 * h2_conn_request - client: start a request with headers h[0..n) (copied,
 * the bytes only without H2_NO_COPY; include :method, :scheme,
 * :authority, :path). With H2_END it has no
 * body; else write it with h2_stream_write() and finish with
 * h2_stream_end(). data is the stream's owner data. Stores the stream in
 * *out. Returns 0, -ENOTCONN (closed or GOAWAY), -EINVAL (a server
 * connection, no headers), -ENOMEM.
 */
int h2_conn_request(struct h2_conn *c, const struct h2_header *h, size_t n,
		    unsigned flags, void *data, struct h2_stream **out);

struct h2_conn *h2_stream_conn(const struct h2_stream *s);

/*
 * h2_head_hold - inside on_headers(s, ...): keep the buffers the head's
 * fields point into past the callback, until h2_head_release(). The
 * caller gives room for 2 * n pointers (n: the callback's field count);
 * returns how many it stored (2 * n), or 0 outside the callback, where
 * the caller copies instead. The bytes are NUL-terminated, as during the
 * callback. The proxy holds what it forwards instead of copying it.
 */
size_t h2_head_hold(struct h2_stream *s, void **bufs, size_t room);
void h2_head_release(void **bufs, size_t n);

uint32_t h2_stream_id(const struct h2_stream *s);
void *h2_stream_data(const struct h2_stream *s);
void h2_stream_set_data(struct h2_stream *s, void *data);

/*
 * h2_stream_respond - server: the response head h[0..n) (copied, the
 * bytes only without H2_NO_COPY; begins with :status). With H2_END there
 * is no body; else the body comes from
 * h2_stream_write() and h2_stream_end(). Once a server's response has
 * ended, a request still being received is stopped with RST_STREAM
 * NO_ERROR (RFC 9113 8.1). Returns 0, -EALREADY (responded before),
 * -EPIPE (reset or closed), -EINVAL (a client stream), -ENOMEM.
 */
int h2_stream_respond(struct h2_stream *s, const struct h2_header *h, size_t n,
		      unsigned flags);

/*
 * h2_stream_write - queue n body bytes (copied). All or nothing: returns
 * 0, -ENOBUFS when they do not fit in the send queue (wait for on_sent),
 * -EPIPE after h2_stream_end() or a reset/close, or -ENOMEM.
 */
int h2_stream_write(struct h2_stream *s, const void *p, size_t n);

/* h2_stream_send_room - bytes h2_stream_write() would take now */
size_t h2_stream_send_room(const struct h2_stream *s);

/* h2_stream_queued - bytes waiting in s's send queue */
size_t h2_stream_queued(const struct h2_stream *s);

/*
 * h2_stream_set_send_max - this stream's send queue bound (for a message
 * larger than the default). Returns 0, or -EINVAL below what is queued.
 */
int h2_stream_set_send_max(struct h2_stream *s, size_t max);

/*
 * h2_stream_end - end our side once the queue drains, with trailers
 * t[0..n) (copied; n == 0: none). Returns 0, -EALREADY (ended before),
 * -EPIPE (reset or closed), -ENOMEM.
 */
int h2_stream_end(struct h2_stream *s, const struct h2_header *t, size_t n);

/*
 * h2_stream_end_no_copy - h2_stream_end() with trailers the caller keeps:
 * t[0..n), the array and the bytes it points to (names lowercase), stay
 * valid and unchanged until s's on_stream_close returns or the
 * connection is freed. Same returns (never -ENOMEM).
 */
int h2_stream_end_no_copy(struct h2_stream *s, const struct h2_header *t,
			  size_t n);

/*
 * h2_stream_reset - RST_STREAM with error; on_stream_close(error) follows
 * (not from inside this call). Data still arriving is dropped (and
 * acknowledged). Returns 0, or -EPIPE if s is already reset or closing.
 */
int h2_stream_reset(struct h2_stream *s, uint32_t error);

/*
 * h2_stream_consume - manual flow control: n bytes delivered by on_data
 * were passed on; the peer may send that much more. Returns 0, -EINVAL
 * (more than delivered and not yet consumed; or automatic flow control).
 */
int h2_stream_consume(struct h2_stream *s, size_t n);

/* h2_stream_unconsumed - bytes delivered and not yet consumed */
size_t h2_stream_unconsumed(const struct h2_stream *s);

#endif
