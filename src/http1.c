/* SPDX-License-Identifier: Apache-2.0 */
/* http1.c - an incremental HTTP/1.x message parser with limits (over http-parser) */
#include "conduit/http1.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conduit/buf.h"

/* Where a string lives in the head buffer: offsets survive its growth. */
struct span {
	uint32_t off;
	uint32_t len;
};

struct field {
	struct span name;
	struct span value;
};

enum {
	ST_HEADERS,  /* before HTTP1_HEAD */
	ST_BODY,     /* between HTTP1_HEAD and HTTP1_DONE */
	ST_DONE,     /* after HTTP1_DONE: the next byte starts a message */
	ST_TUNNEL,   /* after the HTTP1_DONE of an upgrade */
};

struct http1_parser {
	http_parser hp;
	enum http1_kind kind;
	struct http1_limits lim;
	int state;
	/* the head: start-line text and every field, copied, bounded */
	struct buf head;
	struct span text;	/* request-target, or a response's reason */
	struct field *fields;	/* headers, then trailers */
	size_t nfields, cap;
	size_t nheaders;	/* fields before the body: the rest are trailers */
	bool in_name;		/* the last callback was a piece of a name */
	bool no_body;		/* http1_expect_no_body() */
	uint64_t body_bytes;
	int64_t content_length;
	/* set by callbacks, read by http1_parse() */
	int error;		/* negative errno from a callback */
	const char *reason;
	struct http1_event ev;
	char method[24];
};

static const struct http_parser_settings settings;

void http1_parser_reset(struct http1_parser *p)
{
	http_parser_init(&p->hp, p->kind == HTTP1_REQUEST ? HTTP_REQUEST :
							    HTTP_RESPONSE);
	p->hp.data = p;
	p->state = ST_DONE;
	buf_clear(&p->head);
	p->text = (struct span){ 0, 0 };
	p->nfields = p->nheaders = 0;
	p->in_name = false;
	p->no_body = false;
	p->body_bytes = 0;
	p->content_length = -1;
	p->error = 0;
	p->reason = NULL;
	p->method[0] = '\0';
}

struct http1_parser *http1_parser_new(enum http1_kind kind,
				      const struct http1_limits *lim)
{
	struct http1_parser *p = xcalloc(1, sizeof(*p));

	p->kind = kind;
	if (lim)
		p->lim = *lim;
	if (!p->lim.max_head)
		p->lim.max_head = HTTP1_DEFAULT_MAX_HEAD;
	if (!p->lim.max_headers)
		p->lim.max_headers = HTTP1_DEFAULT_MAX_HEADERS;
	/* spans are 32-bit */
	p->lim.max_head = MIN(p->lim.max_head, (size_t)UINT32_MAX);
	buf_init(&p->head, p->lim.max_head);
	http1_parser_reset(p);
	return p;
}

void http1_parser_free(struct http1_parser *p)
{
	if (!p)
		return;
	buf_release(&p->head);
	free(p->fields);
	free(p);
}

/* fail - record why a callback stops the parser; nonzero stops it */
static int fail(struct http1_parser *p, int err, const char *reason)
{
	p->error = err;
	p->reason = reason;
	return 1;
}

/* store - append a piece of the head to span s (pieces arrive in order) */
static int store(struct http1_parser *p, struct span *s, const char *at,
		 size_t len)
{
	int r;

	if (!s->len)
		s->off = (uint32_t)buf_len(&p->head);
	r = buf_append(&p->head, at, len);
	if (r == -ENOBUFS)
		return fail(p, -E2BIG, "header section too large");
	if (r)
		return fail(p, -ENOMEM, "out of memory");
	s->len += (uint32_t)len;
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	struct http1_parser *p = hp->data;

	buf_clear(&p->head);
	p->text = (struct span){ 0, 0 };
	p->nfields = p->nheaders = 0;
	p->in_name = false;
	p->body_bytes = 0;
	p->content_length = -1;
	p->method[0] = '\0';
	p->state = ST_HEADERS;
	return 0;
}

static int on_text(http_parser *hp, const char *at, size_t len)
{
	struct http1_parser *p = hp->data;

	return store(p, &p->text, at, len);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct http1_parser *p = hp->data;

	/* a name piece after anything but a name piece starts a field;
	 * later pieces (the name was split across reads) extend it */
	if (!p->in_name) {
		if (p->nfields >= p->lim.max_headers)
			return fail(p, -E2BIG, "too many header fields");
		if (p->nfields == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 16;
			struct field *f;

			cap = MIN(cap, p->lim.max_headers);
			f = realloc(p->fields, cap * sizeof(*f));
			if (!f)
				return fail(p, -ENOMEM, "out of memory");
			p->fields = f;
			p->cap = cap;
		}
		memset(&p->fields[p->nfields], 0, sizeof(struct field));
		p->nfields++;
		if (p->state == ST_HEADERS)
			p->nheaders = p->nfields;
		p->in_name = true;
	}
	return store(p, &p->fields[p->nfields - 1].name, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct http1_parser *p = hp->data;

	p->in_name = false;
	if (!len)
		return 0;
	return store(p, &p->fields[p->nfields - 1].value, at, len);
}

static bool span_ieq(const struct http1_parser *p, struct span s,
		     const char *name)
{
	size_t n = strlen(name);

	return s.len == n &&
	       strncasecmp((const char *)buf_head(&p->head) + s.off, name, n) == 0;
}

/* fail_head - fail() for on_headers_complete, where 1 means "no body" */
static int fail_head(struct http1_parser *p, int err, const char *reason)
{
	fail(p, err, reason);
	return -1;
}

static int on_headers_complete(http_parser *hp)
{
	struct http1_parser *p = hp->data;
	bool cl = false, te = false;

	/* http-parser refuses two Content-Lengths and chunked with a length;
	 * refuse any Transfer-Encoding with a Content-Length too (RFC 9112
	 * 6.3: a smuggling vector whichever one a peer believes) */
	for (size_t i = 0; i < p->nheaders; i++) {
		cl |= span_ieq(p, p->fields[i].name, "content-length");
		te |= span_ieq(p, p->fields[i].name, "transfer-encoding");
	}
	if (cl && te)
		return fail_head(p, -EPROTO,
				 "both Content-Length and Transfer-Encoding");
	/* http-parser takes any digit: HTTP/2.0 or 9.9 is not HTTP/1 */
	if (hp->http_major != 1)
		return fail_head(p, -EPROTO, "unsupported HTTP version");
	if (p->kind == HTTP1_REQUEST)
		str_copy(p->method, http_method_str(hp->method),
			 sizeof(p->method));
	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length != ULLONG_MAX)
		p->content_length = (int64_t)hp->content_length;
	if (p->lim.max_body && p->content_length > 0 &&
	    (uint64_t)p->content_length > p->lim.max_body)
		return fail_head(p, -EMSGSIZE, "body too large");
	p->state = ST_BODY;
	p->in_name = false;
	p->ev.type = HTTP1_HEAD;
	http_parser_pause(hp, 1);
	if (p->kind == HTTP1_RESPONSE && p->no_body)
		return 1; /* no body follows */
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	struct http1_parser *p = hp->data;

	p->body_bytes += len;
	if (p->lim.max_body && p->body_bytes > p->lim.max_body)
		return fail(p, -EMSGSIZE, "body too large");
	p->ev.type = HTTP1_BODY;
	p->ev.body = at;
	p->ev.body_len = len;
	http_parser_pause(hp, 1);
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct http1_parser *p = hp->data;

	p->state = hp->upgrade ? ST_TUNNEL : ST_DONE;
	p->no_body = false;
	p->ev.type = HTTP1_DONE;
	http_parser_pause(hp, 1);
	return 0;
}

static const struct http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_text,
	.on_status = on_text,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static int parser_error(struct http1_parser *p, enum http_errno e)
{
	p->reason = e == HPE_INVALID_EOF_STATE ? "truncated message" :
						 http_errno_description(e);
	p->error = e == HPE_HEADER_OVERFLOW ? -E2BIG : -EPROTO;
	return p->error;
}

ssize_t http1_parse(struct http1_parser *p, const char *data, size_t len,
		    struct http1_event *ev)
{
	enum http_errno e;
	size_t n;

	*ev = (struct http1_event){ HTTP1_NONE, NULL, 0 };
	if (p->error)
		return p->error;
	if (p->state == ST_TUNNEL) {
		if (!len)
			return 0;
		p->reason = "data after a protocol switch";
		return p->error = -EPROTO;
	}
	if (!len)
		return 0;
	p->ev = *ev;
	n = http_parser_execute(&p->hp, &settings, data, len);
	e = HTTP_PARSER_ERRNO(&p->hp);
	if (e == HPE_PAUSED) {
		http_parser_pause(&p->hp, 0);
		*ev = p->ev;
		return (ssize_t)n;
	}
	if (p->error)
		return p->error;
	if (e != HPE_OK)
		return parser_error(p, e);
	return (ssize_t)n;
}

int http1_finish(struct http1_parser *p, struct http1_event *ev)
{
	enum http_errno e;

	*ev = (struct http1_event){ HTTP1_NONE, NULL, 0 };
	if (p->error)
		return p->error;
	if (p->state == ST_TUNNEL)
		return 0;
	p->ev = *ev;
	/* a zero-length execute is http-parser's end of input */
	http_parser_execute(&p->hp, &settings, NULL, 0);
	e = HTTP_PARSER_ERRNO(&p->hp);
	if (e == HPE_PAUSED) {
		http_parser_pause(&p->hp, 0);
		*ev = p->ev;
		return 0;
	}
	if (p->error)
		return p->error;
	if (e != HPE_OK)
		return parser_error(p, e);
	return 0;
}

const char *http1_error_reason(const struct http1_parser *p)
{
	return p->reason ? p->reason : "";
}

const char *http1_method(const struct http1_parser *p)
{
	return p->method;
}

static struct http1_str span_str(const struct http1_parser *p, struct span s)
{
	struct http1_str r = { "", 0 };

	if (s.len) {
		r.p = (const char *)buf_head(&p->head) + s.off;
		r.len = s.len;
	}
	return r;
}

struct http1_str http1_target(const struct http1_parser *p)
{
	return span_str(p, p->text);
}

int http1_status(const struct http1_parser *p)
{
	return p->hp.status_code;
}

int http1_version(const struct http1_parser *p)
{
	return p->hp.http_major * 10 + p->hp.http_minor;
}

size_t http1_header_count(const struct http1_parser *p)
{
	return p->nheaders;
}

void http1_header_at(const struct http1_parser *p, size_t i,
		     struct http1_str *name, struct http1_str *value)
{
	BUG_ON(i >= p->nheaders);
	*name = span_str(p, p->fields[i].name);
	*value = span_str(p, p->fields[i].value);
}

bool http1_header_get(const struct http1_parser *p, const char *name,
		      struct http1_str *value)
{
	for (size_t i = 0; i < p->nheaders; i++) {
		if (span_ieq(p, p->fields[i].name, name)) {
			*value = span_str(p, p->fields[i].value);
			return true;
		}
	}
	return false;
}

size_t http1_trailer_count(const struct http1_parser *p)
{
	return p->nfields - p->nheaders;
}

void http1_trailer_at(const struct http1_parser *p, size_t i,
		      struct http1_str *name, struct http1_str *value)
{
	BUG_ON(p->nheaders + i >= p->nfields);
	*name = span_str(p, p->fields[p->nheaders + i].name);
	*value = span_str(p, p->fields[p->nheaders + i].value);
}

bool http1_keep_alive(const struct http1_parser *p)
{
	return p->state != ST_TUNNEL && http_should_keep_alive(&p->hp);
}

bool http1_upgrade(const struct http1_parser *p)
{
	return p->hp.upgrade;
}

bool http1_chunked(const struct http1_parser *p)
{
	return p->hp.flags & F_CHUNKED;
}

int64_t http1_content_length(const struct http1_parser *p)
{
	return p->content_length;
}

void http1_expect_no_body(struct http1_parser *p)
{
	p->no_body = true;
}

const char *http1_status_text(int status)
{
	switch (status) {
#define XX(num, name, string) \
	case num:             \
		return #string;
		HTTP_STATUS_MAP(XX)
#undef XX
	}
	return "";
}
