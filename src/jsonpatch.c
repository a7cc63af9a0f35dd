/* SPDX-License-Identifier: Apache-2.0 */
/* jsonpatch.c - JSON Patch (RFC 6902): make one from two documents, apply one */
#include "conduit/jsonpatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/buf.h"

/* --- diff ------------------------------------------------------------------ */

struct differ {
	struct json *ops;
	struct buf path; /* the JSON Pointer of the node being compared */
	int err;
};

int jsonpatch_pointer_escape(struct buf *out, const char *key)
{
	int r = buf_append(out, "/", 1);

	for (; !r && *key; key++) {
		if (*key == '~')
			r = buf_append(out, "~0", 2);
		else if (*key == '/')
			r = buf_append(out, "~1", 2);
		else
			r = buf_append(out, key, 1);
	}
	return r;
}

static void op(struct differ *d, const char *name, const struct json *value)
{
	struct json *o;

	if (d->err)
		return;
	if (!buf_cstr(&d->path)) {
		d->err = -ENOMEM;
		return;
	}
	o = json_new_object();
	if (!o || json_set_string(o, "op", name) ||
	    json_set_string(o, "path", (const char *)buf_head(&d->path))) {
		json_free(o);
		d->err = -ENOMEM;
		return;
	}
	if (value && json_set(o, "value", json_copy(value))) {
		json_free(o);
		d->err = -ENOMEM;
		return;
	}
	json_push(d->ops, o);
}

/* the path's length, to cut back to after a child */
static size_t enter_key(struct differ *d, const char *key)
{
	size_t at = buf_len(&d->path);

	if (!d->err && jsonpatch_pointer_escape(&d->path, key))
		d->err = -ENOMEM;
	return at;
}

static size_t enter_index(struct differ *d, size_t i)
{
	size_t at = buf_len(&d->path);

	if (!d->err && buf_printf(&d->path, "/%zu", i))
		d->err = -ENOMEM;
	return at;
}

static void leave(struct differ *d, size_t at)
{
	d->path.len = at;
}

static void diff(struct differ *d, const struct json *a, const struct json *b);

static void diff_objects(struct differ *d, const struct json *a,
			 const struct json *b)
{
	const struct json *x;
	size_t at;

	for (x = json_child(a); x; x = json_next(x)) {
		if (!json_get(b, json_key(x))) {
			at = enter_key(d, json_key(x));
			op(d, "remove", NULL);
			leave(d, at);
		}
	}
	for (x = json_child(a); x; x = json_next(x)) {
		const struct json *y = json_get(b, json_key(x));

		if (y) {
			at = enter_key(d, json_key(x));
			diff(d, x, y);
			leave(d, at);
		}
	}
	for (x = json_child(b); x; x = json_next(x)) {
		if (!json_get(a, json_key(x))) {
			at = enter_key(d, json_key(x));
			op(d, "add", x);
			leave(d, at);
		}
	}
}

/* the elements of an array, for indexing in O(1) */
static const struct json **elements(const struct json *arr, size_t *n)
{
	const struct json **v;
	const struct json *x;
	size_t i = 0;

	*n = 0;
	for (x = json_child(arr); x; x = json_next(x))
		(*n)++;
	v = xcalloc(*n ? *n : 1, sizeof(*v));
	for (x = json_child(arr); x; x = json_next(x))
		v[i++] = x;
	return v;
}

static void diff_arrays(struct differ *d, const struct json *a,
			const struct json *b)
{
	size_t na, nb, head = 0, tail = 0, ma, mb, m, at;
	const struct json **va = elements(a, &na), **vb = elements(b, &nb);

	while (head < na && head < nb && json_equal(va[head], vb[head]))
		head++;
	while (tail < na - head && tail < nb - head &&
	       json_equal(va[na - 1 - tail], vb[nb - 1 - tail]))
		tail++;
	ma = na - head - tail;
	mb = nb - head - tail;
	m = ma < mb ? ma : mb;
	for (size_t i = 0; i < m; i++) {
		at = enter_index(d, head + i);
		diff(d, va[head + i], vb[head + i]);
		leave(d, at);
	}
	/* each removal shifts the rest down: the same index every time */
	for (size_t i = m; i < ma; i++) {
		at = enter_index(d, head + m);
		op(d, "remove", NULL);
		leave(d, at);
	}
	for (size_t i = m; i < mb; i++) {
		at = enter_index(d, head + i);
		op(d, "add", vb[head + i]);
		leave(d, at);
	}
	free(va);
	free(vb);
}

static void diff(struct differ *d, const struct json *a, const struct json *b)
{
	if (d->err || json_equal(a, b))
		return;
	if (json_type(a) == JSON_OBJECT && json_type(b) == JSON_OBJECT)
		diff_objects(d, a, b);
	else if (json_type(a) == JSON_ARRAY && json_type(b) == JSON_ARRAY)
		diff_arrays(d, a, b);
	else
		op(d, "replace", b);
}

struct json *jsonpatch_diff(const struct json *from, const struct json *to)
{
	struct differ d = { .ops = json_new_array() };

	if (!d.ops)
		return NULL;
	buf_init(&d.path, 0);
	diff(&d, from, to);
	buf_release(&d.path);
	if (d.err) {
		json_free(d.ops);
		return NULL;
	}
	return d.ops;
}

/* --- apply ----------------------------------------------------------------- */

/*
 * A parsed JSON Pointer: its segments, unescaped, in one allocation.
 */
struct pointer {
	char **seg;
	size_t n;
	char *mem;
};

static void pointer_release(struct pointer *p)
{
	free(p->seg);
	free(p->mem);
}

static int pointer_parse(const char *s, struct pointer *p, const char **why)
{
	size_t len = strlen(s), n = 0;
	char *o;

	memset(p, 0, sizeof(*p));
	if (*s && *s != '/') {
		*why = "a JSON Pointer starts with '/'";
		return -EINVAL;
	}
	for (const char *c = s; *c; c++)
		n += *c == '/';
	p->seg = xcalloc(n ? n : 1, sizeof(*p->seg));
	p->mem = o = xmalloc(len + 1);
	for (const char *c = s; *c;) {
		c++; /* the '/' */
		p->seg[p->n++] = o;
		for (; *c && *c != '/'; c++) {
			if (*c != '~') {
				*o++ = *c;
				continue;
			}
			if (c[1] != '0' && c[1] != '1') {
				*why = "'~' not followed by 0 or 1";
				pointer_release(p);
				return -EINVAL;
			}
			*o++ = c[1] == '0' ? '~' : '/';
			c++;
		}
		*o++ = '\0';
	}
	return 0;
}

/* an array index: "0", or digits without a leading zero; "-" is past
 * the end */
static bool index_of(const char *s, size_t count, bool dash_ok, size_t *out)
{
	size_t v = 0;

	if (dash_ok && strcmp(s, "-") == 0) {
		*out = count;
		return true;
	}
	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 9)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* the node the first n segments name, or NULL */
static struct json *walk(struct json *doc, const struct pointer *p, size_t n)
{
	struct json *j = doc;

	for (size_t i = 0; j && i < n; i++) {
		size_t k;

		if (json_type(j) == JSON_OBJECT)
			j = json_get(j, p->seg[i]);
		else if (json_type(j) == JSON_ARRAY &&
			 index_of(p->seg[i], json_count(j), false, &k))
			j = json_at(j, k);
		else
			j = NULL;
	}
	return j;
}

/* take the node p names out of doc (p not the root); NULL with why */
static struct json *take(struct json *doc, const struct pointer *p,
			 const char **why)
{
	struct json *parent = walk(doc, p, p->n - 1), *j = NULL;
	const char *last = p->seg[p->n - 1];
	size_t k;

	if (json_type(parent) == JSON_OBJECT)
		j = json_get(parent, last);
	else if (json_type(parent) == JSON_ARRAY &&
		 index_of(last, json_count(parent), false, &k))
		j = json_at(parent, k);
	if (!j) {
		*why = "no such member or element";
		return NULL;
	}
	return json_detach(parent, j);
}

/* put value (owned) where p names; add inserts into arrays, replace
 * overwrites; the root is replaced */
static int put(struct json **doc, const struct pointer *p, struct json *value,
	       bool insert, const char **why)
{
	struct json *parent;
	const char *last;
	size_t k;

	if (!p->n) {
		json_free(*doc);
		*doc = value;
		return 0;
	}
	parent = walk(*doc, p, p->n - 1);
	last = p->seg[p->n - 1];
	if (json_type(parent) == JSON_OBJECT) {
		if (!insert && !json_get(parent, last)) {
			*why = "no such member to replace";
			json_free(value);
			return -EINVAL;
		}
		if (json_set(parent, last, value))
			return -ENOMEM;
		return 0;
	}
	if (json_type(parent) == JSON_ARRAY &&
	    index_of(last, json_count(parent), insert, &k)) {
		if (insert ? k > json_count(parent) : k >= json_count(parent)) {
			*why = "array index out of range";
			json_free(value);
			return -EINVAL;
		}
		return insert ? json_insert(parent, k, value)
			      : json_replace_at(parent, k, value);
	}
	*why = parent ? "not a member name or array index of its parent"
		      : "the parent does not exist";
	json_free(value);
	return -EINVAL;
}

static int apply_one(struct json **doc, const struct json *o, const char **why)
{
	const char *name = json_string(json_get(o, "op"));
	const char *path = json_string(json_get(o, "path"));
	const char *from = json_string(json_get(o, "from"));
	const struct json *value = json_get(o, "value");
	struct pointer p, f;
	struct json *j;
	int r;

	if (json_type(o) != JSON_OBJECT) {
		*why = "not an object";
		return -EINVAL;
	}
	if (!name || !path) {
		*why = "\"op\" and \"path\" are required strings";
		return -EINVAL;
	}
	if (pointer_parse(path, &p, why))
		return -EINVAL;
	r = -EINVAL;
	if (!strcmp(name, "add") || !strcmp(name, "replace") ||
	    !strcmp(name, "test")) {
		if (!value) {
			*why = "\"value\" is required";
		} else if (!strcmp(name, "test")) {
			r = json_equal(walk(*doc, &p, p.n), value) ? 0 : -EINVAL;
			if (r)
				*why = "the value differs";
		} else if (!strcmp(name, "replace") && !walk(*doc, &p, p.n)) {
			*why = "no such member or element to replace";
		} else {
			r = put(doc, &p, json_copy(value), !strcmp(name, "add"), why);
		}
	} else if (!strcmp(name, "remove")) {
		if (!p.n) {
			*why = "the root cannot be removed";
		} else if ((j = take(*doc, &p, why))) {
			json_free(j);
			r = 0;
		}
	} else if (!strcmp(name, "move") || !strcmp(name, "copy")) {
		if (!from) {
			*why = "\"from\" is required";
		} else if (!pointer_parse(from, &f, why)) {
			bool move = !strcmp(name, "move");

			if (move && !f.n) {
				*why = "the root cannot be moved";
			} else if (move && strncmp(path, from, strlen(from)) == 0 &&
				   (path[strlen(from)] == '/' || !path[strlen(from)])) {
				*why = "a value cannot move into itself";
			} else if (!(j = move ? take(*doc, &f, why)
					      : json_copy(walk(*doc, &f, f.n)))) {
				if (!move)
					*why = "\"from\" names nothing";
			} else {
				r = put(doc, &p, j, true, why);
			}
			pointer_release(&f);
		}
	} else {
		*why = "unknown op (want add, remove, replace, move, copy, test)";
	}
	pointer_release(&p);
	return r;
}

int jsonpatch_apply(struct json **doc, const struct json *patch, char *err,
		    size_t errlen)
{
	struct json *work;
	const struct json *o;
	size_t i = 0;

	if (json_type(patch) != JSON_ARRAY) {
		snprintf(err, errlen, "a JSON Patch is an array of operations");
		return -EINVAL;
	}
	work = json_copy(*doc);
	if (!work && *doc)
		return -ENOMEM;
	for (o = json_child(patch); o; o = json_next(o), i++) {
		const char *why = "out of memory";
		int r = apply_one(&work, o, &why);

		if (r) {
			const char *name = json_string(json_get(o, "op"));
			const char *path = json_string(json_get(o, "path"));

			snprintf(err, errlen, "operation %zu (%s %s): %s", i,
				 name ? name : "?", path ? path : "?", why);
			json_free(work);
			return r == -ENOMEM ? -ENOMEM : -EINVAL;
		}
	}
	json_free(*doc);
	*doc = work;
	return 0;
}
