/* SPDX-License-Identifier: Apache-2.0 */
/* tmpl.h - {{name}} placeholders in embedded text templates */
#ifndef CONDUIT_TMPL_H
#define CONDUIT_TMPL_H

#include "conduit/buf.h"

/*
 * The smallest template language that renders our manifests: "{{name}}"
 * is replaced by the value of name. A value of several lines keeps the
 * placeholder's column: every line after the first is indented by as many
 * spaces as stood before the placeholder on its line, so a PEM block under
 * "key: |" stays inside the block scalar. Values are never interpreted, so
 * callers validate what they substitute (a namespace is a DNS label, ...).
 */
struct tmpl_var {
	const char *name;
	const char *value;
};

/*
 * tmpl_render - render text (len bytes) with vars (n of them) onto out.
 * Returns 0, or -EINVAL with "line L: unknown placeholder {{x}}" or
 * "line L: unterminated placeholder" in err (out may hold a prefix), or
 * -ENOBUFS / -ENOMEM from the buffer.
 */
int tmpl_render(const char *text, size_t len, const struct tmpl_var *vars,
		size_t n, struct buf *out, char *err, size_t errlen);

#endif
