/* SPDX-License-Identifier: Apache-2.0 */
/* kube_watch.h - the watch stream: JSON lines decoded as they come */
#ifndef CONDUIT_KUBE_WATCH_H
#define CONDUIT_KUBE_WATCH_H

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/json.h"

/*
 * A watch response body is a stream of JSON objects, one per line
 * ({"type":"ADDED","object":{...}}\n), cut into arbitrary pieces by TCP,
 * TLS and chunked encoding. The decoder takes the pieces as they come,
 * holds at most one partial line (bounded), and hands each complete event
 * to a callback. Embedded: _init / _release.
 */
enum kube_watch_type {
	KUBE_WATCH_ADDED,
	KUBE_WATCH_MODIFIED,
	KUBE_WATCH_DELETED,
	KUBE_WATCH_BOOKMARK,
	KUBE_WATCH_ERROR, /* object is a Status: code, reason, message */
};

struct kube_watch_event {
	enum kube_watch_type type;
	struct json *object; /* borrowed for the call; the callback may
			      * take it with kube_watch_take() */
	const char *rv;	     /* object.metadata.resourceVersion, or NULL */
	int code;	     /* ERROR: the Status code (410 for Gone), else 0 */
	const char *message; /* ERROR: the Status message, or "" */
	struct json *doc;    /* the whole event (internal) */
};

/* one line of a watch may not be longer than this by default */
#define KUBE_WATCH_MAX_LINE (16u << 20)

struct kube_watch_decoder {
	struct buf line; /* the partial line so far */
	size_t events;	 /* events decoded */
	char err[256];	 /* why the last call failed */
};

/* kube_watch_decoder_init - max_line bytes per event (0: KUBE_WATCH_MAX_LINE)
 */
void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line);
void kube_watch_decoder_release(struct kube_watch_decoder *d);
/* kube_watch_decoder_reset - drop a partial line: a new stream starts */
void kube_watch_decoder_reset(struct kube_watch_decoder *d);

/* return 0 to go on, a negative errno to stop decoding with it */
typedef int kube_watch_event_fn(void *arg, struct kube_watch_event *ev);

/*
 * kube_watch_decode - feed the next len bytes of the stream; fn runs for
 * every event they complete, in order. Blank lines are skipped. Returns 0,
 * or (with the reason in d->err):
 *   -EMSGSIZE  a line longer than max_line
 *   -EPROTO    a line that is not a watch event (not JSON, no type, an
 *              unknown type, no object, an ADDED/MODIFIED/DELETED object
 *              without metadata.name)
 *   fn's own negative return
 * After an error the stream is unusable: reset before feeding another.
 */
int kube_watch_decode(struct kube_watch_decoder *d, const char *p, size_t len,
		      kube_watch_event_fn *fn, void *arg);

/* kube_watch_pending - bytes of an incomplete line held (0 at a clean end) */
size_t kube_watch_pending(const struct kube_watch_decoder *d);

/*
 * kube_watch_take - from inside the callback: take ownership of the
 * event's object (caller frees with json_free()); ev->object is NULL
 * afterwards. NULL if it was taken already.
 */
struct json *kube_watch_take(struct kube_watch_event *ev);

/* kube_watch_type_name - "ADDED", ... */
const char *kube_watch_type_name(enum kube_watch_type t);

/*
 * kube_object_rv, kube_object_name, kube_object_namespace - the
 * metadata fields of an object (borrowed), or NULL
 */
const char *kube_object_rv(const struct json *obj);
const char *kube_object_name(const struct json *obj);
const char *kube_object_namespace(const struct json *obj);

#endif
