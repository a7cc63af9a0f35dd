/* SPDX-License-Identifier: Apache-2.0 */
/* kube_watch.c - the watch stream: JSON lines decoded as they come */
#include "conduit/kube_watch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conduit/json.h"

static const char *const type_names[] = {
    [KUBE_WATCH_ADDED] = "ADDED",     [KUBE_WATCH_MODIFIED] = "MODIFIED",
    [KUBE_WATCH_DELETED] = "DELETED", [KUBE_WATCH_BOOKMARK] = "BOOKMARK",
    [KUBE_WATCH_ERROR] = "ERROR",
};

const char *kube_watch_type_name(enum kube_watch_type t)
{
	return (size_t)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

const char *kube_object_rv(const struct json *obj)
{
	return json_string(
	    json_get(json_get(obj, "metadata"), "resourceVersion"));
}

const char *kube_object_name(const struct json *obj)
{
	return json_string(json_get(json_get(obj, "metadata"), "name"));
}

const char *kube_object_namespace(const struct json *obj)
{
	return json_string(json_get(json_get(obj, "metadata"), "namespace"));
}

void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line)
{
	memset(d, 0, sizeof(*d));
	buf_init(&d->line, max_line ? max_line : KUBE_WATCH_MAX_LINE);
}

void kube_watch_decoder_release(struct kube_watch_decoder *d)
{
	buf_release(&d->line);
}

void kube_watch_decoder_reset(struct kube_watch_decoder *d)
{
	buf_clear(&d->line);
	d->err[0] = '\0';
}

size_t kube_watch_pending(const struct kube_watch_decoder *d)
{
	return buf_len(&d->line);
}

struct json *kube_watch_take(struct kube_watch_event *ev)
{
	struct json *obj = ev->object;

	ev->object = NULL;
	return json_detach(ev->doc, obj);
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r", p[i]))
			return false;
	return true;
}

/* one_line - decode and deliver one complete line */
static int one_line(struct kube_watch_decoder *d, const char *p, size_t len,
		    kube_watch_event_fn *fn, void *arg)
{
	struct kube_watch_event ev = {0};
	const char *type;
	char why[128];
	size_t i;
	double code;
	int r;

	if (blank(p, len))
		return 0;
	ev.doc = json_parse(p, len, why, sizeof(why));
	if (!ev.doc) {
		snprintf(d->err, sizeof(d->err),
			 "watch event %zu: not JSON: %s", d->events + 1, why);
		return -EPROTO;
	}
	type = json_string(json_get(ev.doc, "type"));
	ev.object = json_get(ev.doc, "object");
	if (!type) {
		snprintf(d->err, sizeof(d->err), "watch event %zu: no type",
			 d->events + 1);
		r = -EPROTO;
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(type_names); i++)
		if (!strcmp(type, type_names[i]))
			break;
	if (i == ARRAY_SIZE(type_names)) {
		snprintf(d->err, sizeof(d->err),
			 "watch event %zu: unknown type %.40s", d->events + 1,
			 type);
		r = -EPROTO;
		goto out;
	}
	ev.type = (enum kube_watch_type)i;
	if (json_type(ev.object) != JSON_OBJECT) {
		snprintf(d->err, sizeof(d->err),
			 "watch event %zu (%s): no object", d->events + 1,
			 type);
		r = -EPROTO;
		goto out;
	}
	ev.rv = kube_object_rv(ev.object);
	ev.message = "";
	if (ev.type == KUBE_WATCH_ERROR) {
		const char *m = json_string(json_get(ev.object, "message"));

		if (json_number(json_get(ev.object, "code"), &code) &&
		    code >= 0 && code < 1000)
			ev.code = (int)code;
		if (m)
			ev.message = m;
	} else if (ev.type != KUBE_WATCH_BOOKMARK &&
		   !kube_object_name(ev.object)) {
		snprintf(d->err, sizeof(d->err),
			 "watch event %zu (%s): object "
			 "without metadata.name",
			 d->events + 1, type);
		r = -EPROTO;
		goto out;
	} else if (ev.type == KUBE_WATCH_BOOKMARK && !ev.rv) {
		snprintf(d->err, sizeof(d->err),
			 "watch event %zu (BOOKMARK): no "
			 "resourceVersion",
			 d->events + 1);
		r = -EPROTO;
		goto out;
	}
	d->events++;
	r = fn(arg, &ev);
	if (r < 0 && !d->err[0])
		snprintf(d->err, sizeof(d->err), "watch event %zu: %s",
			 d->events, strerror(-r));
out:
	json_free(ev.doc);
	return r < 0 ? r : 0;
}

int kube_watch_decode(struct kube_watch_decoder *d, const char *p, size_t len,
		      kube_watch_event_fn *fn, void *arg)
{
	while (len) {
		const char *nl = memchr(p, '\n', len);
		size_t n = nl ? (size_t)(nl - p) : len;
		int r;

		if (!nl || buf_len(&d->line)) {
			/* a partial line, or the end of one begun earlier */
			if (buf_append(&d->line, p, n)) {
				snprintf(d->err, sizeof(d->err),
					 "watch event %zu: "
					 "line longer than %zu bytes",
					 d->events + 1, d->line.max);
				return -EMSGSIZE;
			}
			if (!nl)
				return 0;
			r = one_line(d, (const char *)buf_head(&d->line),
				     buf_len(&d->line), fn, arg);
			buf_clear(&d->line);
		} else {
			/* a whole line in this piece: no copy */
			if (n > d->line.max) {
				snprintf(d->err, sizeof(d->err),
					 "watch event %zu: "
					 "line longer than %zu bytes",
					 d->events + 1, d->line.max);
				return -EMSGSIZE;
			}
			r = one_line(d, p, n, fn, arg);
		}
		if (r < 0)
			return r;
		p += n + 1;
		len -= n + 1;
	}
	return 0;
}
