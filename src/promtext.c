/* SPDX-License-Identifier: Apache-2.0 */
/* promtext.c - a reader of the Prometheus text exposition format (0.0.4) */
#include "conduit/promtext.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* parse_value - a float as Prometheus writes one; false if it is not */
static bool parse_value(const char *s, double *out)
{
	char *end;

	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return true;
	}
	if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
		*out = INFINITY;
		return true;
	}
	if (!strcmp(s, "-Inf")) {
		*out = -INFINITY;
		return true;
	}
	/* strtod takes hex floats and "inf"/"nan" spellings: refuse them */
	if (!*s || strpbrk(s, "xXnNiI"))
		return false;
	*out = strtod(s, &end);
	return *end == 0;
}

/*
 * parse_line - one sample line, edited in place (NULs cut its pieces).
 * Returns NULL or why it is malformed.
 */
static const char *parse_line(char *p, struct promtext_sample *s)
{
	char *val, *ts;

	s->nlabels = 0;
	if (!name_start(*p))
		return "a metric name must start with a letter, '_' or ':'";
	s->name = p;
	while (name_char(*p))
		p++;
	if (*p == '{') {
		*p++ = 0;
		for (;;) {
			char *name, *w;

			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '}') {
				p++;
				break;
			}
			if (!name_start(*p) || *p == ':')
				return "a label name must start with a letter or '_'";
			if (s->nlabels == PROMTEXT_MAX_LABELS)
				return "too many labels";
			name = p;
			while (name_char(*p) && *p != ':')
				p++;
			if (*p != '=')
				return "a label name must be followed by '='";
			*p++ = 0;
			if (*p++ != '"')
				return "a label value must be quoted";
			/* unescape in place: the value only shrinks */
			s->labels[s->nlabels].name = name;
			s->labels[s->nlabels].value = w = p;
			while (*p && *p != '"') {
				if (*p == '\\') {
					p++;
					if (*p == 'n')
						*w++ = '\n';
					else if (*p == '\\' || *p == '"')
						*w++ = *p;
					else
						return "a bad escape in a label value";
					p++;
				} else {
					*w++ = *p++;
				}
			}
			if (*p != '"')
				return "an unterminated label value";
			*w = 0;
			p++;
			s->nlabels++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return "labels must be separated by ','";
		}
	} else if (*p && *p != ' ' && *p != '\t') {
		return "a bad character in the metric name";
	} else if (*p) {
		*p++ = 0;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	val = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p)
		*p++ = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	ts = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p)
		*p++ = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return "trailing text after the timestamp";
	if (!parse_value(val, &s->value))
		return "the value is not a number";
	if (*ts) {
		char *end;

		strtoll(ts, &end, 10);
		if (*end || end == ts)
			return "the timestamp is not an integer";
	}
	return NULL;
}

int promtext_parse(const char *text, size_t len,
		   int (*fn)(void *arg, const struct promtext_sample *s),
		   void *arg, char *err, size_t errlen)
{
	char *line = malloc(PROMTEXT_MAX_LINE + 1);
	struct promtext_sample *s = malloc(sizeof(*s));
	size_t lineno = 0, i = 0;
	int r = 0;

	if (!line || !s) {
		free(line);
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (i < len && !r) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		const char *why;
		char *p;

		lineno++;
		if (n > PROMTEXT_MAX_LINE) {
			snprintf(err, errlen, "line %zu: longer than %u bytes",
				 lineno, PROMTEXT_MAX_LINE);
			r = -EINVAL;
			break;
		}
		if (memchr(text + i, 0, n)) {
			snprintf(err, errlen, "line %zu: a NUL byte", lineno);
			r = -EINVAL;
			break;
		}
		memcpy(line, text + i, n);
		line[n] = 0;
		i += n + 1;
		if (n && line[n - 1] == '\r')
			line[n - 1] = 0;
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if ((why = parse_line(p, s))) {
			snprintf(err, errlen, "line %zu: %s", lineno, why);
			r = -EINVAL;
			break;
		}
		r = fn(arg, s);
	}
	free(line);
	free(s);
	return r;
}

const char *promtext_label(const struct promtext_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}
