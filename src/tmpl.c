/* SPDX-License-Identifier: Apache-2.0 */
/* tmpl.c - {{name}} placeholders in embedded text templates */
#include "conduit/tmpl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct tmpl_var *lookup(const struct tmpl_var *vars, size_t n,
				     const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return &vars[i];
	return NULL;
}

/* append value, indenting every line after the first by col spaces */
static int put_value(struct buf *out, const char *v, size_t col)
{
	int r = 0;

	for (;;) {
		const char *nl = strchr(v, '\n');
		size_t l = nl ? (size_t)(nl - v) : strlen(v);

		r = buf_append(out, v, l);
		if (r || !nl)
			return r;
		v = nl + 1;
		/* a trailing newline ends the value: the template has its own */
		if (!*v)
			return 0;
		r = buf_append(out, "\n", 1);
		for (size_t i = 0; !r && i < col; i++)
			r = buf_append(out, " ", 1);
		if (r)
			return r;
	}
}

int tmpl_render(const char *text, size_t len, const struct tmpl_var *vars,
		size_t n, struct buf *out, char *err, size_t errlen)
{
	const char *p = text, *end = text + len, *line_start = text;
	size_t line = 1;
	int r;

	while (p < end) {
		const char *open = memmem(p, (size_t)(end - p), "{{", 2);
		const char *close, *name;
		const struct tmpl_var *v;
		size_t nlen;

		if (!open)
			return buf_append(out, p, (size_t)(end - p));
		for (const char *q = p; q < open; q++)
			if (*q == '\n') {
				line++;
				line_start = q + 1;
			}
		r = buf_append(out, p, (size_t)(open - p));
		if (r)
			return r;
		name = open + 2;
		close = memmem(name, (size_t)(end - name), "}}", 2);
		if (!close || memchr(name, '\n', (size_t)(close - name))) {
			snprintf(err, errlen, "line %zu: unterminated placeholder", line);
			return -EINVAL;
		}
		nlen = (size_t)(close - name);
		v = lookup(vars, n, name, nlen);
		if (!v) {
			snprintf(err, errlen, "line %zu: unknown placeholder {{%.*s}}",
				 line, (int)MIN(nlen, 64), name);
			return -EINVAL;
		}
		r = put_value(out, v->value, (size_t)(open - line_start));
		if (r)
			return r;
		p = close + 2;
	}
	return 0;
}
