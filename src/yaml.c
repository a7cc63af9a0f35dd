/* SPDX-License-Identifier: Apache-2.0 */
/* yaml.c - YAML (and JSON) manifests: read to a tree, edit, write back */
#include "conduit/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- nodes --------------------------------------------------------------- */

struct yml_pair {
	struct yml_node *key;	/* a scalar */
	struct yml_node *value; /* NULL only while the parser waits for it */
};

#define NODE_MERGE 0x1 /* a plain (or !!merge) `<<`: a merge key */

struct yml_node {
	unsigned char type;  /* enum yml_type */
	unsigned char flags; /* NODE_* */
	unsigned line, col;  /* where it starts, from 1; 0 if built */
	char *tag;	     /* explicit tag, owned, or NULL */
	size_t n;	     /* sequence items or mapping pairs */
	size_t cap;	     /* slots allocated for them */
	union {
		struct yml_node **items; /* YML_SEQ */
		struct yml_pair *pairs;	 /* YML_MAP */
		void *mem;
	};
	size_t len;  /* scalar text bytes */
	char text[]; /* scalar text, NUL-terminated (scalars only) */
};

static bool is_scalar(const struct yml_node *n)
{
	return n && n->type >= YML_NULL && n->type <= YML_STR;
}

/* node_alloc - a node of type; scalars get a copy of text[0..len) */
static struct yml_node *node_alloc(enum yml_type type, const char *text,
				   size_t len)
{
	bool scalar = type != YML_SEQ && type != YML_MAP;
	struct yml_node *n;

	if (scalar && len > SIZE_MAX / 2)
		return NULL;
	n = malloc(sizeof(*n) + (scalar ? len + 1 : 0));
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = type;
	if (scalar) {
		if (len)
			memcpy(n->text, text, len);
		n->text[len] = '\0';
		n->len = len;
	}
	return n;
}

void yml_free(struct yml_node *n)
{
	size_t i;

	if (!n)
		return;
	if (n->type == YML_SEQ) {
		for (i = 0; i < n->n; i++)
			yml_free(n->items[i]);
	} else if (n->type == YML_MAP) {
		for (i = 0; i < n->n; i++) {
			yml_free(n->pairs[i].key);
			yml_free(n->pairs[i].value);
		}
	}
	free(n->mem);
	free(n->tag);
	free(n);
}

/* reserve_one - room for one more item or pair */
static int reserve_one(struct yml_node *n)
{
	size_t size = n->type == YML_SEQ ? sizeof(*n->items) : sizeof(*n->pairs);
	size_t cap;
	void *p;

	if (n->n < n->cap)
		return 0;
	cap = n->cap ? n->cap * 2 : 4;
	if (cap > SIZE_MAX / size)
		return -ENOMEM;
	p = realloc(n->mem, cap * size);
	if (!p)
		return -ENOMEM;
	n->mem = p;
	n->cap = cap;
	return 0;
}

static struct yml_node *copy_node(const struct yml_node *n)
{
	struct yml_node *c = node_alloc(n->type, n->text, n->len);
	size_t i, size;

	if (!c)
		return NULL;
	c->flags = n->flags;
	c->line = n->line;
	c->col = n->col;
	if (n->tag && !(c->tag = strdup(n->tag)))
		goto out_free;
	if (is_scalar(n) || !n->n)
		return c;
	size = n->type == YML_SEQ ? sizeof(*n->items) : sizeof(*n->pairs);
	c->mem = malloc(n->n * size);
	if (!c->mem)
		goto out_free;
	c->cap = n->n;
	for (i = 0; i < n->n; i++) {
		if (n->type == YML_SEQ) {
			c->items[i] = copy_node(n->items[i]);
			if (!c->items[i])
				goto out_free;
			c->n++;
			continue;
		}
		c->pairs[i].value = NULL;
		c->pairs[i].key = copy_node(n->pairs[i].key);
		if (!c->pairs[i].key)
			goto out_free;
		c->n++;
		if (n->pairs[i].value) {
			c->pairs[i].value = copy_node(n->pairs[i].value);
			if (!c->pairs[i].value)
				goto out_free;
		}
	}
	return c;
out_free:
	yml_free(c);
	return NULL;
}

struct yml_node *yml_copy(const struct yml_node *n)
{
	return n ? copy_node(n) : NULL;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/*
 * utf8_decode - the character at s[0..n): its length (1-4) and code point,
 * or 0 for an invalid sequence (overlong, surrogate, past U+10FFFF,
 * truncated).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* sanitize - s[0..n) with invalid UTF-8 and NUL bytes as U+FFFD, in a
 * new string (caller frees), its length in *outlen; NULL on OOM */
static char *sanitize(const char *s, size_t n, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, len = 0;
	uint32_t cp;
	char *out, *o;

	while (i < n) {
		k = u[i] ? utf8_decode(u + i, n - i, &cp) : 0;
		len += k ? k : 3;
		i += k ? k : 1;
	}
	o = out = malloc(len + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n;) {
		k = u[i] ? utf8_decode(u + i, n - i, &cp) : 0;
		if (k) {
			memcpy(o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	*o = '\0';
	*outlen = len;
	return out;
}

/* line_break - length of the line break at s (CRLF, CR, LF, NEL, LS, PS,
 * the ones libyaml counts), or 0 */
static size_t line_break(const unsigned char *s, size_t n)
{
	if (s[0] == '\r')
		return n > 1 && s[1] == '\n' ? 2 : 1;
	if (s[0] == '\n')
		return 1;
	if (n > 1 && s[0] == 0xC2 && s[1] == 0x85)
		return 2;
	if (n > 2 && s[0] == 0xE2 && s[1] == 0x80 &&
	    (s[2] == 0xA8 || s[2] == 0xA9))
		return 3;
	return 0;
}

/* char_len - bytes of the (possibly invalid) character at s */
static size_t char_len(const unsigned char *s, size_t n)
{
	size_t k = 1;

	while (k < n && k < 4 && (s[k] & 0xC0) == 0x80)
		k++;
	return k;
}

/*
 * walk_to - from the start of s, count lines and characters as libyaml
 * does until byte offset off (stop_off) or 0-based line:col (else); the
 * position or offset reached is returned through the pointers.
 */
static void walk_to(const char *text, size_t len, size_t *off, size_t *line,
		    size_t *col, bool stop_off)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, l = 0, c = 0, k;

	while (i < len) {
		if (stop_off ? i >= *off : (l > *line || (l == *line && c >= *col)))
			break;
		k = line_break(s + i, len - i);
		if (k) {
			i += k;
			l++;
			c = 0;
			continue;
		}
		i += char_len(s + i, len - i);
		c++;
	}
	*off = i;
	*line = l;
	*col = c;
}

/* ---- plain scalar types (go-yaml v2's resolve, as kubectl reads) -------- */

static const char *const bool_true[] = {
	"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
};
static const char *const bool_false[] = {
	"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
};
static const char *const null_words[] = { "~", "null", "Null", "NULL" };
static const char *const float_words[] = {
	".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
	"-.INF", ".nan", ".NaN", ".NAN",
};

static bool word_in(const char *s, size_t n, const char *const *list,
		    size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && !memcmp(list[i], s, n))
			return true;
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/*
 * struct intval: an integer as Go's strconv.ParseInt(s, 0, 64) reads it
 * (sign; 0x, 0o, 0b or leading-0 octal; underscores already removed).
 */
struct intval {
	bool neg, sign;	 /* '-' / any sign was written */
	bool overflow;	 /* magnitude does not fit 64 bits */
	uint64_t mag;	 /* magnitude, when !overflow */
	double d;	 /* the value as a double, always */
};

static bool parse_int(const char *p, size_t n, struct intval *v)
{
	size_t i = 0;
	int base = 10, dv;

	memset(v, 0, sizeof(*v));
	if (i < n && (p[i] == '+' || p[i] == '-')) {
		v->sign = true;
		v->neg = p[i] == '-';
		i++;
	}
	if (i < n && p[i] == '0' && i + 1 < n) {
		char x = p[i + 1];

		if (x == 'x' || x == 'X')
			base = 16, i += 2;
		else if (x == 'o' || x == 'O')
			base = 8, i += 2;
		else if (x == 'b' || x == 'B')
			base = 2, i += 2;
		else
			base = 8, i += 1; /* 0777: the 0 is the prefix */
		if (i == n && base != 8)
			return false;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		dv = digit_value(p[i]);
		if (dv >= base)
			return false;
		if (v->mag > (UINT64_MAX - (uint64_t)dv) / (uint64_t)base)
			v->overflow = true;
		else
			v->mag = v->mag * (uint64_t)base + (uint64_t)dv;
		v->d = v->d * base + dv;
	}
	if (v->neg)
		v->d = -v->d;
	return true;
}

/* int_fits - whether ParseInt or ParseUint would take it (64 bits) */
static bool int_fits(const struct intval *v)
{
	if (v->overflow)
		return false;
	if (!v->sign)
		return true; /* ParseUint */
	return v->mag <= (uint64_t)INT64_MAX + (v->neg ? 1 : 0);
}

/* float_syntax - ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool float_syntax(const char *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	if (i < n && p[i] == '.') {
		for (d = ++i; i < n && is_digit(p[i]); i++)
			;
		if (i == d)
			return false;
	} else {
		for (d = i; i < n && is_digit(p[i]); i++)
			;
		if (i == d)
			return false;
		if (i < n && p[i] == '.')
			for (i++; i < n && is_digit(p[i]); i++)
				;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = i; i < n && is_digit(p[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* float_value - strtod of p[0..n) (n small enough for a copy) */
static double float_value(const char *p, size_t n)
{
	char stack[128], *b = n < sizeof(stack) ? stack : malloc(n + 1);
	double d;

	if (!b)
		return NAN;
	memcpy(b, p, n);
	b[n] = '\0';
	d = strtod(b, NULL);
	if (b != stack)
		free(b);
	return d;
}

/* strip_underscores - p[0..n) without '_' in a buffer (stack if it fits) */
static char *strip_underscores(const char *s, size_t n, char *stack,
			       size_t size, size_t *outn)
{
	char *p = n < size ? stack : malloc(n + 1);
	size_t m = 0;

	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			p[m++] = s[i];
	p[m] = '\0';
	*outn = m;
	return p;
}

/* number_type - a plain scalar starting with a sign or a digit */
static enum yml_type number_type(const char *s, size_t n)
{
	char stack[128], *p;
	enum yml_type t = YML_STR;
	struct intval v;
	bool is_int;
	size_t m;

	p = strip_underscores(s, n, stack, sizeof(stack), &m);
	if (!p)
		return YML_STR;
	is_int = parse_int(p, m, &v);
	if (is_int && int_fits(&v))
		t = YML_INT;
	else if (float_syntax(p, m) && !isinf(float_value(p, m)))
		t = YML_FLOAT;
	else if (is_int && !v.sign) /* past 64 bits: go-yaml's big.Int */
		t = YML_INT;
	if (p != stack)
		free(p);
	return t;
}

/* resolve - the type of a plain, untagged scalar */
static enum yml_type resolve(const char *s, size_t n)
{
	char c;

	if (!n)
		return YML_NULL;
	c = s[0];
	if (strchr("yYnNtTfFoO~", c)) {
		if (word_in(s, n, bool_true, ARRAY_SIZE(bool_true)) ||
		    word_in(s, n, bool_false, ARRAY_SIZE(bool_false)))
			return YML_BOOL;
		if (word_in(s, n, null_words, ARRAY_SIZE(null_words)))
			return YML_NULL;
		return YML_STR;
	}
	if (c != '.' && c != '+' && c != '-' && !is_digit(c))
		return YML_STR;
	if (word_in(s, n, float_words, ARRAY_SIZE(float_words)))
		return YML_FLOAT;
	if (c == '.') /* Go's ParseFloat on the text as it is */
		return float_syntax(s, n) && !isinf(float_value(s, n)) ?
			       YML_FLOAT :
			       YML_STR;
	return number_type(s, n);
}

static bool bool_value(const struct yml_node *n)
{
	return word_in(n->text, n->len, bool_true, ARRAY_SIZE(bool_true));
}

/* int_value - the value of a YML_INT's text */
static bool int_value(const struct yml_node *n, struct intval *v)
{
	char stack[128], *p;
	size_t m;
	bool ok;

	p = strip_underscores(n->text, n->len, stack, sizeof(stack), &m);
	if (!p)
		return false;
	ok = parse_int(p, m, v);
	if (!ok && float_syntax(p, m)) { /* "08": an int-looking float */
		memset(v, 0, sizeof(*v));
		v->overflow = true;
		v->d = float_value(p, m);
		ok = true;
	}
	if (p != stack)
		free(p);
	return ok;
}

/* number_value - a YML_INT or YML_FLOAT as a double */
static double number_value(const struct yml_node *n)
{
	struct intval v;
	char stack[128], *p;
	size_t m;
	double d;

	if (n->type == YML_INT)
		return int_value(n, &v) ? v.d : NAN;
	if (word_in(n->text, n->len, float_words, ARRAY_SIZE(float_words))) {
		if (strchr(n->text, 'n') || strchr(n->text, 'N'))
			return NAN;
		return n->text[0] == '-' ? -INFINITY : INFINITY;
	}
	p = strip_underscores(n->text, n->len, stack, sizeof(stack), &m);
	if (!p)
		return NAN;
	d = float_value(p, m);
	if (p != stack)
		free(p);
	return d;
}

/* ---- key sets: duplicate keys and merges ------------------------------- */

struct keyset {
	const struct yml_node **slot; /* open addressing by key text */
	size_t mask;
};

static uint64_t hash_text(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static bool same_key(const struct yml_node *a, const struct yml_node *b)
{
	return a->len == b->len && !memcmp(a->text, b->text, a->len);
}

static int keyset_init(struct keyset *ks, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	ks->slot = calloc(cap, sizeof(*ks->slot));
	ks->mask = cap - 1;
	return ks->slot ? 0 : -ENOMEM;
}

/* keyset_add - add key, or return the equal key already in the set */
static const struct yml_node *keyset_add(struct keyset *ks,
					 const struct yml_node *key)
{
	size_t i = hash_text(key->text, key->len) & ks->mask;

	for (; ks->slot[i]; i = (i + 1) & ks->mask)
		if (same_key(ks->slot[i], key))
			return ks->slot[i];
	ks->slot[i] = key;
	return NULL;
}

/*
 * find_dup - the first key of map that repeats an earlier one (and that
 * one in *first), or NULL. Small mappings compare pairwise; larger ones
 * hash, so a mapping of thousands of keys stays linear. -ENOMEM in *rc.
 */
static const struct yml_node *find_dup(const struct yml_node *map,
				       const struct yml_node **first, int *rc)
{
	const struct yml_node *dup = NULL;
	struct keyset ks;
	size_t i, j;

	*rc = 0;
	if (map->n <= 8) {
		for (j = 1; j < map->n; j++)
			for (i = 0; i < j; i++)
				if (same_key(map->pairs[i].key,
					     map->pairs[j].key)) {
					*first = map->pairs[i].key;
					return map->pairs[j].key;
				}
		return NULL;
	}
	if ((*rc = keyset_init(&ks, map->n)))
		return NULL;
	for (j = 0; j < map->n && !dup; j++) {
		*first = keyset_add(&ks, map->pairs[j].key);
		if (*first)
			dup = map->pairs[j].key;
	}
	free(ks.slot);
	return dup;
}

/* show - up to 60 bytes of s for a message, controls as '?' */
static const char *show(const char *s, size_t n, char *buf, size_t size)
{
	size_t i, m = MIN(n, size - 4);

	for (i = 0; i < m; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	/* do not cut a UTF-8 sequence in two */
	while (m < n && i > 0 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
		i--;
	if (m < n && i > 0 && (unsigned char)buf[i - 1] >= 0xC0)
		i--;
	if (m < n)
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

/* ---- reading ------------------------------------------------------------- */

struct frame {
	struct yml_node *node; /* the open collection, already in the tree */
	char *anchor;	       /* its anchor, or NULL */
	uint64_t anchor_seq;   /* which definition of that anchor it is */
	bool want_value;       /* mapping: the last pair waits for its value */
	bool merge;	       /* mapping: has a `<<` key */
};

struct anchor {
	char *name;	       /* owned; NULL: a free slot */
	struct yml_node *node; /* borrowed from the document; NULL while the
				* anchored collection is still open */
	uint64_t seq;	       /* definition number, for redefinitions */
	size_t nodes, bytes;   /* what a copy costs */
	unsigned height;       /* nesting levels of node (0: a scalar) */
};

struct reader {
	const char *name;
	const char *text;
	size_t len;
	struct yml_limits lim;
	char *err;
	size_t errlen;
	int rc; /* the first error */
	yaml_parser_t parser;
	struct frame *stack; /* open collections, lim.max_depth of them */
	unsigned depth;
	struct yml_node *root; /* the document being read */
	struct yml_node *grave; /* merged-away nodes, freed with the document */
	struct anchor *anchors;
	size_t anchor_cap, anchor_used;
	uint64_t anchor_seq;
	size_t docs, nodes, doc_nodes, alias_nodes, alias_bytes;
	struct yml_stream out; /* finished documents */
};

PRINTF_LIKE(5, 6)
static int fail(struct reader *r, int rc, size_t line, size_t col,
		const char *fmt, ...)
{
	char why[320];
	va_list ap;

	if (r->rc)
		return r->rc;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (r->errlen)
		snprintf(r->err, r->errlen, "%s:%zu:%zu: %s", r->name, line,
			 col, why);
	r->rc = rc;
	return rc;
}

#define FAIL_AT(r, rc, mark, ...) \
	fail(r, rc, (mark).line + 1, (mark).column + 1, __VA_ARGS__)

/* oom - out of memory, where libyaml is reading */
static int oom(struct reader *r)
{
	return FAIL_AT(r, -ENOMEM, r->parser.mark, "out of memory");
}

/* fail_off - an error at byte offset off of the input */
PRINTF_LIKE(4, 5)
static int fail_off(struct reader *r, int rc, size_t off, const char *fmt,
		    ...)
{
	size_t line, col;
	char why[320];
	va_list ap;

	walk_to(r->text, r->len, &off, &line, &col, true);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return fail(r, rc, line + 1, col + 1, "%s", why);
}

/*
 * check_chars - what libyaml's reader would refuse, refused here with a
 * position: UTF-16, invalid UTF-8, NUL and the other control characters
 * (tab, LF, CR and NEL are fine), U+FFFE and U+FFFF.
 */
static int check_chars(struct reader *r)
{
	const unsigned char *s = (const unsigned char *)r->text;
	size_t i = 0, n = r->len, k;
	uint32_t cp;

	if (n >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) ||
		       (s[0] == 0xFE && s[1] == 0xFF)))
		return fail(r, -EINVAL, 1, 1,
			    "UTF-16 input is not supported (convert it to UTF-8)");
	while (i < n) {
		unsigned char c = s[i];

		if ((c >= 0x20 && c < 0x7F) || c == '\n' || c == '\t' ||
		    c == '\r') {
			i++;
			continue;
		}
		if (!c)
			return fail_off(r, -EINVAL, i, "NUL byte in the input");
		if (c < 0x80)
			return fail_off(r, -EINVAL, i,
					"control character 0x%02X in the input",
					c);
		k = utf8_decode(s + i, n - i, &cp);
		if (!k)
			return fail_off(r, -EINVAL, i,
					"invalid UTF-8 byte 0x%02X in the input",
					c);
		if ((cp < 0xA0 && cp != 0x85) || cp == 0xFFFE || cp == 0xFFFF)
			return fail_off(r, -EINVAL, i,
					"control character U+%04X in the input",
					(unsigned)cp);
		i += k;
	}
	return 0;
}

/* libyaml_error - translate the parser's error, once, at the edge */
static int libyaml_error(struct reader *r)
{
	yaml_parser_t *p = &r->parser;
	size_t off = 0, line, col;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return oom(r);
	case YAML_READER_ERROR:
		/* check_chars caught these already; keep a position anyway */
		return fail_off(r, -EINVAL, MIN(p->problem_offset, r->len),
				"%s", problem);
	default:
		break;
	}
	line = p->problem_mark.line;
	col = p->problem_mark.column;
	walk_to(r->text, r->len, &off, &line, &col, false);
	if (off < r->len && r->text[off] == '\t')
		return FAIL_AT(r, -EINVAL, p->problem_mark,
			       "tab character where YAML wants spaces "
			       "(indent with spaces only)");
	if (off >= r->len && strstr(problem, "end of stream"))
		problem = "unexpected end of input (truncated?)";
	if (p->context)
		return FAIL_AT(r, -EINVAL, p->problem_mark, "%s (%s at %zu:%zu)",
			       problem, p->context, p->context_mark.line + 1,
			       p->context_mark.column + 1);
	return FAIL_AT(r, -EINVAL, p->problem_mark, "%s", problem);
}

/* count_nodes - n more nodes at line:col (from 1), within the limits? */
static int count_nodes(struct reader *r, size_t n, size_t line, size_t col)
{
	r->doc_nodes += n;
	r->nodes += n;
	if (r->doc_nodes > r->lim.max_doc_nodes)
		return fail(r, -E2BIG, line, col,
			    "document has more than %zu nodes",
			    r->lim.max_doc_nodes);
	if (r->nodes > r->lim.max_nodes)
		return fail(r, -E2BIG, line, col,
			    "stream has more than %zu nodes", r->lim.max_nodes);
	return 0;
}

#define COUNT_AT(r, n, mark) \
	count_nodes(r, n, (mark).line + 1, (mark).column + 1)

/*
 * expand - nodes (with bytes of scalar text) copied by an alias or a merge
 * key at line:col: within the alias limits (billion laughs) and the node
 * limits? Counted before the copy is made.
 */
static int expand(struct reader *r, size_t nodes, size_t bytes, size_t line,
		  size_t col)
{
	if (nodes > r->lim.max_alias_nodes - r->alias_nodes)
		return fail(r, -E2BIG, line, col,
			    "aliases expand to more than %zu nodes",
			    r->lim.max_alias_nodes);
	if (bytes > r->lim.max_alias_bytes - r->alias_bytes)
		return fail(r, -E2BIG, line, col,
			    "aliases expand to more than %zu bytes",
			    r->lim.max_alias_bytes);
	r->alias_nodes += nodes;
	r->alias_bytes += bytes;
	return count_nodes(r, nodes, line, col);
}

/* ---- anchors: one table per document, names hashed ---------------------- */

static void anchors_reset(struct reader *r)
{
	for (size_t i = 0; i < r->anchor_cap; i++)
		free(r->anchors[i].name);
	free(r->anchors);
	r->anchors = NULL;
	r->anchor_cap = r->anchor_used = 0;
}

static struct anchor *anchor_find(struct reader *r, const char *name)
{
	size_t i;

	if (!r->anchor_cap)
		return NULL;
	i = hash_text(name, strlen(name)) & (r->anchor_cap - 1);
	for (; r->anchors[i].name; i = (i + 1) & (r->anchor_cap - 1))
		if (!strcmp(r->anchors[i].name, name))
			return &r->anchors[i];
	return NULL;
}

/* anchor_define - a new definition of name (node NULL while it is open);
 * returns its definition number through *seq */
static int anchor_define(struct reader *r, const char *name,
			 struct yml_node *node, uint64_t *seq)
{
	struct anchor *a = anchor_find(r, name);
	size_t i;

	if (!a) {
		if (2 * (r->anchor_used + 1) > r->anchor_cap) {
			size_t cap = r->anchor_cap ? 2 * r->anchor_cap : 16;
			struct anchor *old = r->anchors, *tab;
			size_t oldcap = r->anchor_cap;

			tab = calloc(cap, sizeof(*tab));
			if (!tab)
				return -ENOMEM;
			for (size_t j = 0; j < oldcap; j++) {
				if (!old[j].name)
					continue;
				i = hash_text(old[j].name,
					      strlen(old[j].name)) & (cap - 1);
				while (tab[i].name)
					i = (i + 1) & (cap - 1);
				tab[i] = old[j];
			}
			free(old);
			r->anchors = tab;
			r->anchor_cap = cap;
		}
		i = hash_text(name, strlen(name)) & (r->anchor_cap - 1);
		while (r->anchors[i].name)
			i = (i + 1) & (r->anchor_cap - 1);
		a = &r->anchors[i];
		a->name = strdup(name);
		if (!a->name)
			return -ENOMEM;
		r->anchor_used++;
	}
	a->node = node;
	a->seq = *seq = ++r->anchor_seq;
	a->nodes = a->bytes = 0;
	a->height = 0;
	return 0;
}

/* measure - nodes, scalar bytes and nesting height of n */
static void measure(const struct yml_node *n, size_t *nodes, size_t *bytes,
		    unsigned *height)
{
	unsigned h, max = 0;

	(*nodes)++;
	if (is_scalar(n)) {
		*bytes += n->len;
		*height = 0;
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		if (n->type == YML_MAP) {
			(*nodes)++;
			*bytes += n->pairs[i].key->len;
			measure(n->pairs[i].value, nodes, bytes, &h);
		} else {
			measure(n->items[i], nodes, bytes, &h);
		}
		max = MAX(max, h);
	}
	*height = max + 1;
}

static void anchor_complete(struct reader *r, const char *name, uint64_t seq,
			    struct yml_node *node)
{
	struct anchor *a = anchor_find(r, name);

	/* a later definition of the same name (inside this node) wins */
	if (!a || a->seq != seq)
		return;
	a->node = node;
	measure(node, &a->nodes, &a->bytes, &a->height);
}

/* ---- building ------------------------------------------------------------ */

/* attach - put a new node where the event stream says (takes ownership) */
static int attach(struct reader *r, struct yml_node *node, yaml_mark_t m)
{
	struct frame *f;
	struct yml_node *p;

	if (!r->depth) {
		BUG_ON(r->root);
		r->root = node;
		return 0;
	}
	f = &r->stack[r->depth - 1];
	p = f->node;
	if (reserve_one(p)) {
		yml_free(node);
		return oom(r);
	}
	if (p->type == YML_SEQ) {
		p->items[p->n++] = node;
	} else if (f->want_value) {
		p->pairs[p->n - 1].value = node;
		f->want_value = false;
	} else {
		if (!is_scalar(node)) {
			yml_free(node);
			return FAIL_AT(r, -EINVAL, m,
				       "only scalar mapping keys are supported");
		}
		p->pairs[p->n].key = node;
		p->pairs[p->n++].value = NULL;
		f->want_value = true;
		f->merge |= node->flags & NODE_MERGE;
	}
	return 0;
}

static bool in_key_position(const struct reader *r)
{
	const struct frame *f = r->depth ? &r->stack[r->depth - 1] : NULL;

	return f && f->node->type == YML_MAP && !f->want_value;
}

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* scalar_type - the type of a scalar event by its tag and style */
static int scalar_type(struct reader *r, const yaml_event_t *ev,
		       enum yml_type *type)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	static const struct {
		const char *name;
		enum yml_type type;
	} std[] = {
		{ "null", YML_NULL },
		{ "bool", YML_BOOL },
		{ "int", YML_INT },
		{ "float", YML_FLOAT },
	};
	char shown[80];
	enum yml_type got;

	*type = YML_STR;
	if (!tag) {
		if (plain)
			*type = resolve(text, len);
		return 0;
	}
	if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)))
		return 0; /* "!", local and unknown tags: a string */
	tag += strlen(YAML_TAG_PREFIX);
	for (size_t i = 0; i < ARRAY_SIZE(std); i++) {
		if (strcmp(tag, std[i].name))
			continue;
		got = resolve(text, len);
		if (got == std[i].type ||
		    (std[i].type == YML_FLOAT && got == YML_INT)) {
			*type = std[i].type;
			return 0;
		}
		return FAIL_AT(r, -EINVAL, ev->start_mark,
			       "\"%s\" cannot be read as !!%s",
			       show(text, len, shown, sizeof(shown)), tag);
	}
	return 0;
}

static int on_scalar(struct reader *r, const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	struct yml_node *n;
	enum yml_type type;
	uint64_t seq;
	int rc;

	if (len > r->lim.max_scalar)
		return FAIL_AT(r, -E2BIG, ev->start_mark,
			       "scalar of %zu bytes is larger than the %zu-byte limit",
			       len, r->lim.max_scalar);
	if (memchr(text, '\0', len))
		return FAIL_AT(r, -EINVAL, ev->start_mark,
			       "NUL character (\\0) in a scalar");
	if ((rc = scalar_type(r, ev, &type)))
		return rc;
	if ((rc = COUNT_AT(r, 1, ev->start_mark)))
		return rc;
	n = node_alloc(type, text, len);
	if (!n || (tag && !(n->tag = strdup(tag)))) {
		yml_free(n);
		return oom(r);
	}
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	if (len == 2 && !memcmp(text, "<<", 2) &&
	    ((!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) ||
	     (tag && !strcmp(tag, YAML_TAG_PREFIX "merge"))))
		n->flags |= NODE_MERGE;
	if (anchor) {
		if (anchor_define(r, anchor, n, &seq)) {
			yml_free(n);
			return oom(r);
		}
		anchor_complete(r, anchor, seq, n);
	}
	return attach(r, n, ev->start_mark);
}

static int on_alias(struct reader *r, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = anchor_find(r, name);
	struct yml_node *n;
	char shown[80];
	int rc;

	show(name, strlen(name), shown, sizeof(shown));
	if (!a)
		return FAIL_AT(r, -EINVAL, ev->start_mark,
			       "unknown alias *%s (no anchor &%s before it in this document)",
			       shown, shown);
	if (!a->node)
		return FAIL_AT(r, -EINVAL, ev->start_mark,
			       "alias *%s refers to a collection that contains it",
			       shown);
	if (in_key_position(r) && !is_scalar(a->node))
		return FAIL_AT(r, -EINVAL, ev->start_mark,
			       "only scalar mapping keys are supported");
	if (r->depth + a->height > r->lim.max_depth)
		return FAIL_AT(r, -E2BIG, ev->start_mark,
			       "alias *%s nests deeper than %u levels", shown,
			       r->lim.max_depth);
	rc = expand(r, a->nodes, a->bytes, ev->start_mark.line + 1,
		    ev->start_mark.column + 1);
	if (rc)
		return rc;
	n = copy_node(a->node);
	if (!n)
		return oom(r);
	n->flags &= ~NODE_MERGE; /* as go-yaml: an alias is never a merge key */
	return attach(r, n, ev->start_mark);
}

static int on_start(struct reader *r, const yaml_event_t *ev)
{
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	const char *tag = (const char *)(map ? ev->data.mapping_start.tag :
					       ev->data.sequence_start.tag);
	const char *anchor =
		(const char *)(map ? ev->data.mapping_start.anchor :
				     ev->data.sequence_start.anchor);
	struct yml_node *n;
	struct frame *f;
	int rc;

	/* before anything is built: libyaml itself has no depth limit */
	if (r->depth >= r->lim.max_depth)
		return FAIL_AT(r, -E2BIG, ev->start_mark,
			       "nesting deeper than %u levels",
			       r->lim.max_depth);
	if (in_key_position(r))
		return FAIL_AT(r, -EINVAL, ev->start_mark,
			       "only scalar mapping keys are supported");
	if ((rc = COUNT_AT(r, 1, ev->start_mark)))
		return rc;
	n = node_alloc(map ? YML_MAP : YML_SEQ, NULL, 0);
	if (!n || (tag && !(n->tag = strdup(tag)))) {
		yml_free(n);
		return oom(r);
	}
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	if ((rc = attach(r, n, ev->start_mark)))
		return rc;
	f = &r->stack[r->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	if (anchor) {
		f->anchor = strdup(anchor);
		if (!f->anchor || anchor_define(r, anchor, NULL, &f->anchor_seq))
			return oom(r);
	}
	return 0;
}

/* bury - keep n (no longer in the tree) alive until the document ends:
 * anchors may still point into it. Room was made by grave_reserve(). */
static void bury(struct reader *r, struct yml_node *n)
{
	BUG_ON(r->grave->n >= r->grave->cap);
	r->grave->items[r->grave->n++] = n;
}

static int grave_reserve(struct reader *r, size_t more)
{
	struct yml_node *g = r->grave;
	void *p;

	if (!g && !(g = r->grave = yml_new_seq()))
		return -ENOMEM;
	if (g->cap - g->n >= more)
		return 0;
	p = realloc(g->mem, (g->n + more) * sizeof(*g->items));
	if (!p)
		return -ENOMEM;
	g->mem = p;
	g->cap = g->n + more;
	return 0;
}

/* copy_pair - *out = a copy of q, counted as expansion at `at` */
static int copy_pair(struct reader *r, const struct yml_pair *q,
		     const struct yml_node *at, struct yml_pair *out)
{
	size_t nodes = 1, bytes = q->key->len;
	unsigned height;
	int rc;

	measure(q->value, &nodes, &bytes, &height);
	if ((rc = expand(r, nodes, bytes, at->line, at->col)))
		return rc;
	out->key = copy_node(q->key);
	out->value = copy_node(q->value);
	if (out->key && out->value)
		return 0;
	yml_free(out->key);
	yml_free(out->value);
	return oom(r);
}

/*
 * merge - replace each `<<` pair of map by copies of the pairs of its
 * mapping (or of each mapping of its sequence, earlier ones first) that
 * map does not have already: go-yaml's rules, so kubectl reads the same.
 * Nothing that an anchor may point at is changed or freed: the sources
 * are copied (and the copies counted like alias expansion), and the `<<`
 * pairs are buried until the document ends.
 */
static int merge(struct reader *r, struct yml_node *map)
{
	struct yml_pair *out;
	struct keyset ks;
	size_t total = 0, k = 0, i, j, s, merges = 0;
	bool *copied;
	int rc = 0;

	for (i = 0; i < map->n; i++) {
		struct yml_node *v = map->pairs[i].value;

		if (!(map->pairs[i].key->flags & NODE_MERGE)) {
			total++;
			continue;
		}
		merges++;
		if (v->type == YML_MAP) {
			total += v->n;
			continue;
		}
		for (j = 0; v->type == YML_SEQ && j < v->n; j++)
			if (v->items[j]->type != YML_MAP)
				break;
		if (v->type != YML_SEQ || j < v->n)
			return fail(r, -EINVAL, v->line, v->col,
				    "merge key << needs a mapping or a sequence of mappings");
		for (j = 0; j < v->n; j++)
			total += v->items[j]->n;
	}
	total = MAX(total, 1);
	if (grave_reserve(r, 2 * merges) || keyset_init(&ks, total))
		return oom(r);
	out = malloc(total * sizeof(*out));
	copied = calloc(total, sizeof(*copied));
	if (!out || !copied) {
		rc = oom(r);
		goto out_free;
	}
	for (i = 0; i < map->n; i++)
		if (!(map->pairs[i].key->flags & NODE_MERGE))
			keyset_add(&ks, map->pairs[i].key);
	for (i = 0; i < map->n && !rc; i++) {
		struct yml_pair *p = &map->pairs[i];
		struct yml_node *v = p->value, *src;

		if (!(p->key->flags & NODE_MERGE)) {
			out[k++] = *p;
			continue;
		}
		for (s = 0; !rc && s < (v->type == YML_MAP ? 1 : v->n); s++) {
			src = v->type == YML_MAP ? v : v->items[s];
			for (j = 0; !rc && j < src->n; j++) {
				struct yml_pair *q = &src->pairs[j];

				if (keyset_add(&ks, q->key))
					continue;
				rc = copy_pair(r, q, p->key, &out[k]);
				if (!rc)
					copied[k++] = true;
			}
		}
	}
	if (rc) {
		for (i = 0; i < k; i++) {
			if (!copied[i])
				continue;
			yml_free(out[i].key);
			yml_free(out[i].value);
		}
		goto out_free;
	}
	for (i = 0; i < map->n; i++) {
		if (!(map->pairs[i].key->flags & NODE_MERGE))
			continue;
		bury(r, map->pairs[i].key);
		bury(r, map->pairs[i].value);
	}
	free(map->pairs);
	map->pairs = out;
	out = NULL;
	map->n = k;
	map->cap = total;
out_free:
	free(copied);
	free(out);
	free(ks.slot);
	return rc;
}

static int on_end(struct reader *r)
{
	struct frame *f = &r->stack[--r->depth];
	struct yml_node *n = f->node;
	const struct yml_node *dup, *first = NULL;
	char shown[80];
	int rc = 0;

	if (n->type == YML_MAP) {
		dup = find_dup(n, &first, &rc);
		if (rc)
			rc = oom(r);
		else if (dup)
			rc = fail(r, -EINVAL, dup->line, dup->col,
				  "duplicate key \"%s\" (first at %u:%u)",
				  show(dup->text, dup->len, shown, sizeof(shown)),
				  first->line, first->col);
		else if (f->merge)
			rc = merge(r, n);
	}
	if (!rc && f->anchor)
		anchor_complete(r, f->anchor, f->anchor_seq, n);
	free(f->anchor);
	f->anchor = NULL;
	return rc;
}

static int on_event(struct reader *r, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++r->docs > r->lim.max_docs)
			return FAIL_AT(r, -E2BIG, ev->start_mark,
				       "more than %zu documents",
				       r->lim.max_docs);
		r->doc_nodes = 0;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		anchors_reset(r);
		yml_free(r->grave);
		r->grave = NULL;
		if (yml_stream_push(&r->out, r->root)) {
			r->root = NULL;
			return oom(r);
		}
		r->root = NULL;
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(r, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(r, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return on_start(r, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(r);
	default:
		return 0;
	}
}

static void limits(struct yml_limits *l, const struct yml_limits *in)
{
	static const struct yml_limits def = {
		.max_input = YML_MAX_INPUT,
		.max_depth = YML_MAX_DEPTH,
		.max_docs = YML_MAX_DOCS,
		.max_scalar = YML_MAX_SCALAR,
		.max_doc_nodes = YML_MAX_DOC_NODES,
		.max_nodes = YML_MAX_NODES,
		.max_alias_nodes = YML_MAX_ALIAS_NODES,
		.max_alias_bytes = YML_MAX_ALIAS_BYTES,
	};

	*l = def;
	if (!in)
		return;
#define TAKE(f) \
	if (in->f) \
		l->f = in->f
	TAKE(max_input);
	TAKE(max_depth);
	TAKE(max_docs);
	TAKE(max_scalar);
	TAKE(max_doc_nodes);
	TAKE(max_nodes);
	TAKE(max_alias_nodes);
	TAKE(max_alias_bytes);
#undef TAKE
	l->max_depth = MIN(l->max_depth, YML_DEPTH_CEILING);
}

static int read_events(struct reader *r)
{
	yaml_event_t ev;
	bool done;
	int rc;

	for (;;) {
		if (!yaml_parser_parse(&r->parser, &ev))
			return libyaml_error(r);
		rc = on_event(r, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (rc || done)
			return rc;
	}
}

static int stream_reserve(struct yml_stream *s, size_t more)
{
	size_t cap = s->cap ? s->cap : 8;
	struct yml_node **p;

	if (more > SIZE_MAX / sizeof(*p) - s->count)
		return -ENOMEM;
	if (s->count + more <= s->cap)
		return 0;
	while (cap < s->count + more)
		cap *= 2;
	p = realloc(s->docs, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->docs = p;
	s->cap = cap;
	return 0;
}

int yml_parse(struct yml_stream *out, const char *text, size_t len,
	      const char *name, const struct yml_limits *lim, char *err,
	      size_t errlen)
{
	struct reader r = {
		.name = name ? name : "<input>",
		.text = text,
		.len = len,
		.err = err,
		.errlen = err ? errlen : 0,
	};
	int rc;

	if (r.errlen)
		err[0] = '\0';
	limits(&r.lim, lim);
	yml_stream_init(&r.out);
	if (len > r.lim.max_input)
		return fail_off(&r, -E2BIG, r.lim.max_input,
				"input of %zu bytes is larger than the %zu-byte limit",
				len, r.lim.max_input);
	if ((rc = check_chars(&r)))
		return rc;
	r.stack = calloc(r.lim.max_depth, sizeof(*r.stack));
	if (!r.stack || !yaml_parser_initialize(&r.parser)) {
		free(r.stack);
		return oom(&r);
	}
	yaml_parser_set_encoding(&r.parser, YAML_UTF8_ENCODING);
	/* libyaml asserts on a NULL input, even an empty one */
	yaml_parser_set_input_string(&r.parser,
				     (const unsigned char *)(text ? text : ""),
				     len);
	rc = read_events(&r);
	if (!rc && r.out.count && stream_reserve(out, r.out.count))
		rc = oom(&r);
	if (!rc && r.out.count) {
		memcpy(out->docs + out->count, r.out.docs,
		       r.out.count * sizeof(*r.out.docs));
		out->count += r.out.count;
		r.out.count = 0;
	}
	/* on error: the open frames' nodes all hang from root */
	while (r.depth)
		free(r.stack[--r.depth].anchor);
	yml_free(r.root);
	yml_free(r.grave);
	yml_stream_release(&r.out);
	anchors_reset(&r);
	free(r.stack);
	yaml_parser_delete(&r.parser);
	return rc;
}

/* ---- streams ------------------------------------------------------------- */

void yml_stream_init(struct yml_stream *s)
{
	s->docs = NULL;
	s->count = s->cap = 0;
}

void yml_stream_release(struct yml_stream *s)
{
	for (size_t i = 0; i < s->count; i++)
		yml_free(s->docs[i]);
	free(s->docs);
	yml_stream_init(s);
}

int yml_stream_push(struct yml_stream *s, struct yml_node *doc)
{
	if (stream_reserve(s, 1)) {
		yml_free(doc);
		return -ENOMEM;
	}
	s->docs[s->count++] = doc;
	return 0;
}

/* ---- writing ------------------------------------------------------------- */

struct writer {
	struct buf *b;
	int rc; /* the first error; later writes are skipped */
};

static void put(struct writer *w, const void *s, size_t n)
{
	if (!w->rc)
		w->rc = buf_append(w->b, s, n);
}

static void puts_(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void pad(struct writer *w, size_t n)
{
	static const char spaces[] = "                                ";

	while (n) {
		size_t k = MIN(n, sizeof(spaces) - 1);

		put(w, spaces, k);
		n -= k;
	}
}

enum style { PLAIN, SINGLE, DOUBLE, LITERAL };

/* needs_escape - a character only double quotes can carry */
static bool needs_escape(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF;
}

/* looks_timestamp - YYYY-M...: go-yaml and kubectl quote these */
static bool looks_timestamp(const char *s, size_t n)
{
	return n > 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) &&
	       is_digit(s[3]) && s[4] == '-' && is_digit(s[5]);
}

/* looks_base60 - ^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$, a YAML
 * 1.1 sexagesimal number that go-yaml quotes for other parsers' sake */
static bool looks_base60(const char *s, size_t n)
{
	size_t i = 0, groups = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i >= n || !is_digit(s[i]))
		return false;
	while (i < n && (is_digit(s[i]) || s[i] == '_'))
		i++;
	while (i < n && s[i] == ':') {
		i++;
		if (i + 1 < n && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1]))
			i += 2;
		else if (i < n && is_digit(s[i]))
			i++;
		else
			return false;
		groups++;
	}
	if (!groups)
		return false;
	if (i < n && s[i] == '.')
		for (i++; i < n && (is_digit(s[i]) || s[i] == '_'); i++)
			;
	return i == n;
}

/* literal_ok - a multi-line string a block literal carries exactly */
static bool literal_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	/* a first line starting blank would need an indentation indicator */
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
		return false;
	while (i < n) {
		k = utf8_decode(u + i, n - i, &cp);
		if (!k)
			return false;
		if (cp == '\n') {
			/* trailing blanks on a line: kubectl quotes too */
			if (s[i - 1] == ' ' || s[i - 1] == '\t')
				return false;
		} else if (cp != '\t' && needs_escape(cp)) {
			return false;
		}
		i += k;
	}
	return s[n - 1] != ' ' && s[n - 1] != '\t';
}

static enum style choose_style(const struct yml_node *n, bool key)
{
	const unsigned char *u = (const unsigned char *)n->text;
	const char *s = n->text;
	size_t len = n->len, i, k;
	bool multiline = false, escape = false;
	uint32_t cp;

	if (n->type != YML_STR)
		return PLAIN; /* the text reads back as its type */
	if (!len)
		return DOUBLE;
	for (i = 0; i < len; i += k) {
		k = utf8_decode(u + i, len - i, &cp);
		if (!k)
			return DOUBLE; /* not from here, but never plain */
		if (cp == '\n')
			multiline = true;
		else if (needs_escape(cp))
			escape = true;
	}
	if (multiline)
		return !key && literal_ok(s, len) ? LITERAL : DOUBLE;
	if (escape)
		return DOUBLE;
	/* would read back as another type: quote as kubectl does */
	if (resolve(s, len) != YML_STR || looks_timestamp(s, len) ||
	    looks_base60(s, len) || (len == 2 && !memcmp(s, "<<", 2)))
		return DOUBLE;
	if (strchr("?:,[]{}#&*!|>'\"%@` ", s[0]) ||
	    (s[0] == '-' && (len == 1 || s[1] == ' ')) ||
	    !strncmp(s, "---", 3) || !strncmp(s, "...", 3) ||
	    s[len - 1] == ' ' || s[len - 1] == ':' || memmem(s, len, ": ", 2) ||
	    memmem(s, len, " #", 2))
		return SINGLE;
	return PLAIN;
}

static void put_double(struct writer *w, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	static const char esc[] = "0abtnvfr";
	size_t i = 0, run = 0, k;
	char tmp[12];
	uint32_t cp;

	put(w, "\"", 1);
	while (i < n) {
		k = utf8_decode(u + i, n - i, &cp);
		if (!k) { /* never from here: keep it valid anyway */
			put(w, s + i - run, run);
			put(w, "\\uFFFD", 6);
			run = 0;
			i++;
			continue;
		}
		if (!needs_escape(cp) && cp != '"' && cp != '\\') {
			run += k;
			i += k;
			continue;
		}
		put(w, s + i - run, run);
		run = 0;
		if (cp == '"' || cp == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", (char)cp);
		else if (cp >= 7 && cp <= 13)
			snprintf(tmp, sizeof(tmp), "\\%c", esc[cp - 6]);
		else if (cp == 0x1B)
			snprintf(tmp, sizeof(tmp), "\\e");
		else if (cp == 0x85)
			snprintf(tmp, sizeof(tmp), "\\N");
		else if (cp == 0x2028)
			snprintf(tmp, sizeof(tmp), "\\L");
		else if (cp == 0x2029)
			snprintf(tmp, sizeof(tmp), "\\P");
		else if (cp < 0x100)
			snprintf(tmp, sizeof(tmp), "\\x%02X", (unsigned)cp);
		else
			snprintf(tmp, sizeof(tmp), "\\u%04X", (unsigned)cp);
		puts_(w, tmp);
		i += k;
	}
	put(w, s + i - run, run);
	put(w, "\"", 1);
}

static void put_single(struct writer *w, const char *s, size_t n)
{
	const char *q;

	put(w, "'", 1);
	while ((q = memchr(s, '\'', n))) {
		put(w, s, (size_t)(q - s) + 1);
		put(w, "'", 1);
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	put(w, s, n);
	put(w, "'", 1);
}

/* put_literal - "|" and the lines of s at indent ci */
static void put_literal(struct writer *w, const char *s, size_t n, size_t ci)
{
	size_t end = n, trail, i, j;

	while (end && s[end - 1] == '\n')
		end--;
	trail = n - end;
	puts_(w, trail == 0 ? "|-\n" : trail == 1 ? "|\n" : "|+\n");
	for (i = 0; i < end; i = j + 1) {
		const char *nl = memchr(s + i, '\n', end - i);

		j = nl ? (size_t)(nl - s) : end;
		if (j > i) {
			pad(w, ci);
			put(w, s + i, j - i);
		}
		put(w, "\n", 1);
	}
	for (i = 1; i < trail; i++)
		put(w, "\n", 1);
}

/* tag_char - whether c may stand unescaped in a tag we write */
static bool tag_char(unsigned char c, bool verbatim)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return true;
	if (c && strchr("-_;/?:@&=+$.~*'()", c))
		return true;
	return verbatim && c && strchr(",[]!", c);
}

static void put_tag_part(struct writer *w, const char *s, bool verbatim)
{
	char tmp[4];

	for (; *s; s++) {
		if (tag_char((unsigned char)*s, verbatim)) {
			put(w, s, 1);
			continue;
		}
		snprintf(tmp, sizeof(tmp), "%%%02X", (unsigned char)*s);
		put(w, tmp, 3);
	}
}

/* put_tag - the shortest form of tag that reads back the same */
static void put_tag(struct writer *w, const char *tag)
{
	size_t plen = strlen(YAML_TAG_PREFIX);

	if (!strncmp(tag, YAML_TAG_PREFIX, plen) && tag[plen]) {
		put(w, "!!", 2);
		put_tag_part(w, tag + plen, false);
	} else if (tag[0] == '!') {
		put(w, "!", 1);
		put_tag_part(w, tag + 1, false);
	} else {
		put(w, "!<", 2);
		put_tag_part(w, tag, true);
		put(w, ">", 1);
	}
}

/* put_scalar_inline - a scalar in a non-literal style */
static void put_scalar_inline(struct writer *w, const struct yml_node *n,
			      enum style st)
{
	if (st == DOUBLE)
		put_double(w, n->text, n->len);
	else if (st == SINGLE)
		put_single(w, n->text, n->len);
	else
		put(w, n->text, n->len);
}

enum ctx { CTX_ROOT, CTX_VALUE, CTX_ITEM };

static void write_node(struct writer *w, const struct yml_node *n, size_t ci,
		       enum ctx ctx);

static void write_key(struct writer *w, const struct yml_node *key,
		      size_t indent)
{
	size_t start = w->b->len;
	enum style st = choose_style(key, true);
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass)
			put(w, "? ", 2);
		if (key->tag) {
			put_tag(w, key->tag);
			put(w, " ", 1);
		}
		if (!key->len)
			put(w, "\"\"", 2);
		else
			put_scalar_inline(w, key, st);
		/* libyaml finds a simple key's ':' within 1024 characters */
		if (pass || w->rc || w->b->len - start <= 1000)
			break;
		w->b->len = start;
	}
	if (pass) {
		put(w, "\n", 1);
		pad(w, indent);
	}
}

static void write_pairs(struct writer *w, const struct yml_node *map,
			size_t indent, bool first_inline)
{
	for (size_t i = 0; i < map->n; i++) {
		if (i || !first_inline)
			pad(w, indent);
		write_key(w, map->pairs[i].key, indent);
		put(w, ":", 1);
		write_node(w, map->pairs[i].value, indent + 2, CTX_VALUE);
	}
}

static void write_items(struct writer *w, const struct yml_node *seq,
			size_t indent, bool first_inline)
{
	for (size_t i = 0; i < seq->n; i++) {
		if (i || !first_inline)
			pad(w, indent);
		put(w, "-", 1);
		write_node(w, seq->items[i], indent + 2, CTX_ITEM);
	}
}

/*
 * write_node - n after "key:" (CTX_VALUE) or "-" (CTX_ITEM), or as a
 * document (CTX_ROOT); ci is the column of its block content.
 */
static void write_node(struct writer *w, const struct yml_node *n, size_t ci,
		       enum ctx ctx)
{
	bool inline_first;
	enum style st;

	if (w->rc)
		return;
	if (!n) {
		puts_(w, ctx == CTX_ROOT ? "null\n" : "\n");
		return;
	}
	if (n->tag) {
		if (ctx != CTX_ROOT)
			put(w, " ", 1);
		put_tag(w, n->tag);
	}
	if (n->type == YML_MAP || n->type == YML_SEQ) {
		if (!n->n) {
			if (n->tag || ctx != CTX_ROOT)
				put(w, " ", 1);
			puts_(w, n->type == YML_MAP ? "{}\n" : "[]\n");
			return;
		}
		/* "- key: v" and "- - v" start on the dash's line */
		inline_first = ctx == CTX_ITEM && !n->tag;
		if (inline_first)
			put(w, " ", 1);
		else if (n->tag || ctx != CTX_ROOT)
			put(w, "\n", 1);
		if (ctx == CTX_ROOT)
			ci = 0;
		if (n->type == YML_MAP)
			write_pairs(w, n, ci, inline_first);
		else /* under a key, at the key's indent, as kubectl does */
			write_items(w, n,
				    ctx == CTX_VALUE && !n->tag ? ci - 2 : ci,
				    inline_first);
		return;
	}
	st = choose_style(n, false);
	if (st == PLAIN && !n->len) { /* an empty null */
		if (!n->tag && ctx == CTX_ROOT)
			puts_(w, "null");
		put(w, "\n", 1);
		return;
	}
	if (n->tag || ctx != CTX_ROOT)
		put(w, " ", 1);
	if (st == LITERAL)
		put_literal(w, n->text, n->len, ctx == CTX_ROOT ? 2 : ci);
	else {
		put_scalar_inline(w, n, st);
		put(w, "\n", 1);
	}
}

int yml_write(struct buf *out, const struct yml_node *doc)
{
	struct writer w = { .b = out };
	size_t start = out->len;

	write_node(&w, doc, 0, CTX_ROOT);
	if (w.rc)
		out->len = start;
	return w.rc;
}

int yml_write_stream(struct buf *out, const struct yml_stream *s)
{
	struct writer w = { .b = out };
	size_t start = out->len;

	for (size_t i = 0; i < s->count && !w.rc; i++) {
		if (i)
			put(&w, "---\n", 4);
		write_node(&w, s->docs[i], 0, CTX_ROOT);
	}
	if (w.rc)
		out->len = start;
	return w.rc;
}

/* ---- JSON ---------------------------------------------------------------- */

struct conv {
	const char *name;
	char *err;
	size_t errlen;
	bool failed;
};

PRINTF_LIKE(2, 3)
static void conv_fail(struct conv *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	if (!c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* put_json_string - s[0..n) as a JSON string */
static void put_json_string(struct writer *w, const char *s, size_t n)
{
	size_t i, run = 0;
	char tmp[8];

	put(w, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		put(w, s + i - run, run);
		run = 0;
		if (c == '"' || c == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c == '\n')
			snprintf(tmp, sizeof(tmp), "\\n");
		else if (c == '\t')
			snprintf(tmp, sizeof(tmp), "\\t");
		else
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		puts_(w, tmp);
	}
	put(w, s + n - run, run);
	put(w, "\"", 1);
}

/*
 * json_text - n as compact JSON text. The tree goes to cJSON through its
 * parser because json.h can only add a member after looking it up
 * (json_set), which is quadratic in a mapping's size; parsing is linear.
 */
static void json_text(struct writer *w, const struct yml_node *n,
		      struct conv *c)
{
	char tmp[40];
	double d;
	size_t i;

	if (w->rc || c->failed)
		return;
	switch (n->type) {
	case YML_NULL:
		puts_(w, "null");
		break;
	case YML_BOOL:
		puts_(w, bool_value(n) ? "true" : "false");
		break;
	case YML_INT:
	case YML_FLOAT:
		d = number_value(n);
		if (isnan(d) || isinf(d)) {
			conv_fail(c, "%s:%u:%u: %s has no JSON form", c->name,
				  n->line, n->col, n->text);
			return;
		}
		snprintf(tmp, sizeof(tmp), "%.17g", d); /* exact */
		puts_(w, tmp);
		break;
	case YML_STR:
		put_json_string(w, n->text, n->len);
		break;
	case YML_SEQ:
		put(w, "[", 1);
		for (i = 0; i < n->n; i++) {
			if (i)
				put(w, ",", 1);
			json_text(w, n->items[i], c);
		}
		put(w, "]", 1);
		break;
	case YML_MAP:
		put(w, "{", 1);
		for (i = 0; i < n->n; i++) {
			if (i)
				put(w, ",", 1);
			put_json_string(w, n->pairs[i].key->text,
					n->pairs[i].key->len);
			put(w, ":", 1);
			json_text(w, n->pairs[i].value, c);
		}
		put(w, "}", 1);
		break;
	}
}

struct json *yml_to_json(const struct yml_node *n, const char *name,
			 char *err, size_t errlen)
{
	struct conv c = {
		.name = name ? name : "<input>",
		.err = err,
		.errlen = err ? errlen : 0,
	};
	struct json *j = NULL;
	struct buf b;
	struct writer w = { .b = &b };
	char why[200];

	if (c.errlen)
		err[0] = '\0';
	if (!n)
		return json_new_null();
	buf_init(&b, JSON_MAX_INPUT);
	json_text(&w, n, &c);
	if (c.failed)
		goto out;
	if (w.rc == -ENOBUFS) {
		conv_fail(&c, "%s:%u:%u: document is larger than %u bytes as JSON",
			  c.name, n->line, n->col, JSON_MAX_INPUT);
		goto out;
	}
	if (w.rc) {
		conv_fail(&c, "out of memory");
		goto out;
	}
	j = json_parse((const char *)buf_head(&b), buf_len(&b), why,
		       sizeof(why));
	if (!j)
		conv_fail(&c, "%s:%u:%u: cannot convert to JSON: %s", c.name,
			  n->line, n->col, why);
out:
	buf_release(&b);
	return j;
}

static struct yml_node *from_json(const struct json *j, unsigned depth,
				  struct conv *c)
{
	enum json_type t = json_type(j);
	struct yml_node *n = NULL, *child;
	const struct yml_node *dup, *first;
	const struct json *it;
	char shown[80];
	double d;
	bool b;
	int rc;

	switch (t) {
	case JSON_NULL:
		n = yml_new_null();
		break;
	case JSON_BOOL:
		json_bool(j, &b);
		n = yml_new_bool(b);
		break;
	case JSON_NUMBER:
		json_number(j, &d);
		if (d == trunc(d) && d >= -9223372036854775808.0 &&
		    d < 9223372036854775808.0)
			n = yml_new_int((long long)d);
		else
			n = yml_new_float(d);
		break;
	case JSON_STRING:
		n = yml_new_str(json_string(j));
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (depth >= YML_MAX_DEPTH) {
			conv_fail(c, "JSON nests deeper than %u levels",
				  YML_MAX_DEPTH);
			return NULL;
		}
		n = t == JSON_ARRAY ? yml_new_seq() : yml_new_map();
		for (it = json_child(j); n && it; it = json_next(it)) {
			child = from_json(it, depth + 1, c);
			if (!child)
				goto out_free;
			if (t == JSON_ARRAY) {
				rc = yml_push(n, child);
			} else if ((rc = reserve_one(n))) {
				yml_free(child);
			} else {
				n->pairs[n->n].key = yml_new_str(json_key(it));
				n->pairs[n->n].value = child;
				if (!n->pairs[n->n].key) {
					yml_free(child);
					rc = -ENOMEM;
				} else {
					n->n++;
				}
			}
			if (rc)
				goto out_free;
		}
		if (n && t == JSON_OBJECT) {
			dup = find_dup(n, &first, &rc);
			if (rc)
				goto out_free;
			if (dup) {
				conv_fail(c, "duplicate key \"%s\" in a JSON object",
					  show(dup->text, dup->len, shown,
					       sizeof(shown)));
				yml_free(n);
				return NULL;
			}
		}
		break;
	default:
		conv_fail(c, "not a JSON value");
		return NULL;
	}
	if (!n)
		conv_fail(c, "out of memory");
	return n;
out_free:
	yml_free(n);
	conv_fail(c, "out of memory");
	return NULL;
}

struct yml_node *yml_from_json(const struct json *j, char *err,
			       size_t errlen)
{
	struct conv c = { .err = err, .errlen = err ? errlen : 0 };

	if (c.errlen)
		err[0] = '\0';
	return from_json(j, 0, &c);
}

/* ---- constructors and readers ------------------------------------------- */

struct yml_node *yml_new_map(void)
{
	return node_alloc(YML_MAP, NULL, 0);
}

struct yml_node *yml_new_seq(void)
{
	return node_alloc(YML_SEQ, NULL, 0);
}

static struct yml_node *new_text(const char *s, size_t n, bool plain)
{
	struct yml_node *node;
	size_t len;
	char *clean = sanitize(s ? s : "", s ? n : 0, &len);

	if (!clean)
		return NULL;
	node = node_alloc(plain ? resolve(clean, len) : YML_STR, clean, len);
	free(clean);
	return node;
}

struct yml_node *yml_new_strn(const char *s, size_t n)
{
	return new_text(s, n, false);
}

struct yml_node *yml_new_str(const char *s)
{
	return new_text(s, s ? strlen(s) : 0, false);
}

struct yml_node *yml_new_plain(const char *text)
{
	return new_text(text, text ? strlen(text) : 0, true);
}

struct yml_node *yml_new_int(long long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", v);
	return node_alloc(YML_INT, tmp, strlen(tmp));
}

struct yml_node *yml_new_float(double v)
{
	char tmp[40];
	int prec;

	if (isnan(v))
		return node_alloc(YML_FLOAT, ".nan", 4);
	if (isinf(v))
		return v > 0 ? node_alloc(YML_FLOAT, ".inf", 4) :
			       node_alloc(YML_FLOAT, "-.inf", 5);
	/* the shortest text that reads back as v */
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
	if (!strpbrk(tmp, ".e"))
		strcat(tmp, ".0"); /* 3.0 is a float; 3 would be an int */
	return node_alloc(YML_FLOAT, tmp, strlen(tmp));
}

struct yml_node *yml_new_bool(bool v)
{
	return v ? node_alloc(YML_BOOL, "true", 4) :
		   node_alloc(YML_BOOL, "false", 5);
}

struct yml_node *yml_new_null(void)
{
	return node_alloc(YML_NULL, "null", 4);
}

enum yml_type yml_type(const struct yml_node *n)
{
	return n ? (enum yml_type)n->type : YML_INVALID;
}

unsigned yml_line(const struct yml_node *n)
{
	return n ? n->line : 0;
}

unsigned yml_col(const struct yml_node *n)
{
	return n ? n->col : 0;
}

const char *yml_tag(const struct yml_node *n)
{
	return n ? n->tag : NULL;
}

const char *yml_text(const struct yml_node *n)
{
	return is_scalar(n) ? n->text : NULL;
}

size_t yml_len(const struct yml_node *n)
{
	return is_scalar(n) ? n->len : 0;
}

const char *yml_str(const struct yml_node *n)
{
	return n && n->type == YML_STR ? n->text : NULL;
}

bool yml_bool(const struct yml_node *n, bool *out)
{
	if (!n || n->type != YML_BOOL)
		return false;
	*out = bool_value(n);
	return true;
}

bool yml_int(const struct yml_node *n, long long *out)
{
	struct intval v;

	if (!n || n->type != YML_INT || !int_value(n, &v) || v.overflow)
		return false;
	if (v.neg ? v.mag > (uint64_t)INT64_MAX + 1 : v.mag > INT64_MAX)
		return false;
	*out = v.neg ? (long long)(0 - v.mag) : (long long)v.mag;
	return true;
}

bool yml_float(const struct yml_node *n, double *out)
{
	if (!n || (n->type != YML_INT && n->type != YML_FLOAT))
		return false;
	*out = number_value(n);
	return true;
}

bool yml_equal(const struct yml_node *a, const struct yml_node *b)
{
	struct intval va, vb;
	double da, db;
	size_t i, j;

	if (!a || !b)
		return a == b;
	if (a->type != b->type || a->n != b->n)
		return false;
	switch (a->type) {
	case YML_NULL:
		return true;
	case YML_BOOL:
		return bool_value(a) == bool_value(b);
	case YML_INT:
		if (int_value(a, &va) && int_value(b, &vb) && !va.overflow &&
		    !vb.overflow)
			return va.mag == vb.mag &&
			       (va.neg == vb.neg || !va.mag);
		/* fall through */
	case YML_FLOAT:
		da = number_value(a);
		db = number_value(b);
		return da == db || (isnan(da) && isnan(db));
	case YML_STR:
		return a->len == b->len && !memcmp(a->text, b->text, a->len);
	case YML_SEQ:
		for (i = 0; i < a->n; i++)
			if (!yml_equal(a->items[i], b->items[i]))
				return false;
		return true;
	case YML_MAP:
		for (i = 0; i < a->n; i++) {
			const struct yml_node *k = a->pairs[i].key;

			/* same order is the common case */
			if (same_key(b->pairs[i].key, k)) {
				j = i;
			} else {
				for (j = 0; j < b->n; j++)
					if (same_key(b->pairs[j].key, k))
						break;
				if (j == b->n)
					return false;
			}
			if (!yml_equal(a->pairs[i].value, b->pairs[j].value))
				return false;
		}
		return true;
	}
	return false;
}

size_t yml_count(const struct yml_node *n)
{
	return n && !is_scalar(n) ? n->n : 0;
}

struct yml_node *yml_at(const struct yml_node *n, size_t i)
{
	if (!n || i >= yml_count(n))
		return NULL;
	return n->type == YML_SEQ ? n->items[i] : n->pairs[i].value;
}

struct yml_node *yml_key_at(const struct yml_node *map, size_t i)
{
	if (!map || map->type != YML_MAP || i >= map->n)
		return NULL;
	return map->pairs[i].key;
}

const char *yml_key(const struct yml_node *map, size_t i)
{
	struct yml_node *k = yml_key_at(map, i);

	return k ? k->text : NULL;
}

/* find - the pair of key[0..n) in map, or -ENOENT */
static ssize_t find(const struct yml_node *map, const char *key, size_t n)
{
	if (!map || map->type != YML_MAP || !key)
		return -ENOENT;
	for (size_t i = 0; i < map->n; i++) {
		const struct yml_node *k = map->pairs[i].key;

		if (k->len == n && !memcmp(k->text, key, n))
			return (ssize_t)i;
	}
	return -ENOENT;
}

ssize_t yml_index(const struct yml_node *map, const char *key)
{
	return find(map, key, key ? strlen(key) : 0);
}

struct yml_node *yml_get(const struct yml_node *map, const char *key)
{
	ssize_t i = yml_index(map, key);

	return i < 0 ? NULL : map->pairs[i].value;
}

struct yml_node *yml_get_path(const struct yml_node *n, const char *path)
{
	const char *seg = path, *dot;
	size_t len, idx;
	ssize_t i;

	if (!path)
		return NULL;
	while (n && *seg) {
		dot = strchr(seg, '.');
		len = dot ? (size_t)(dot - seg) : strlen(seg);
		if (n->type == YML_MAP) {
			i = find(n, seg, len);
			n = i < 0 ? NULL : n->pairs[i].value;
		} else if (n->type == YML_SEQ && len && len < 19) {
			idx = 0;
			for (size_t k = 0; k < len && n; k++) {
				if (!is_digit(seg[k]))
					n = NULL;
				else
					idx = idx * 10 + (size_t)(seg[k] - '0');
			}
			n = yml_at(n, idx);
		} else {
			n = NULL;
		}
		if (!dot)
			break;
		seg = dot + 1;
		if (!*seg) /* a trailing dot names nothing */
			n = NULL;
	}
	return (struct yml_node *)n;
}

struct yml_node *yml_list_items(const struct yml_node *doc)
{
	const char *kind = yml_str(yml_get(doc, "kind"));
	struct yml_node *items;

	if (!kind || !str_has_suffix(kind, "List"))
		return NULL;
	items = yml_get(doc, "items");
	return items && items->type == YML_SEQ ? items : NULL;
}

/* ---- edits --------------------------------------------------------------- */

int yml_insert(struct yml_node *map, size_t pos, const char *key,
	       struct yml_node *value)
{
	struct yml_node *k;

	if (!map || map->type != YML_MAP || !value || !key || pos > map->n) {
		yml_free(value);
		return -EINVAL;
	}
	if (yml_index(map, key) >= 0) {
		yml_free(value);
		return -EEXIST;
	}
	k = yml_new_str(key);
	if (!k || reserve_one(map)) {
		yml_free(k);
		yml_free(value);
		return -ENOMEM;
	}
	memmove(map->pairs + pos + 1, map->pairs + pos,
		(map->n - pos) * sizeof(*map->pairs));
	map->pairs[pos].key = k;
	map->pairs[pos].value = value;
	map->n++;
	return 0;
}

int yml_set(struct yml_node *map, const char *key, struct yml_node *value)
{
	ssize_t i = yml_index(map, key);

	if (i < 0)
		return yml_insert(map, map && map->type == YML_MAP ? map->n : 0,
				  key, value);
	if (!value)
		return -EINVAL;
	yml_free(map->pairs[i].value);
	map->pairs[i].value = value;
	return 0;
}

struct yml_node *yml_ensure(struct yml_node *map, const char *key,
			    enum yml_type type)
{
	struct yml_node *v = yml_get(map, key);

	if (type != YML_MAP && type != YML_SEQ)
		return NULL;
	if (v && v->type == type)
		return v;
	if (v && v->type != YML_NULL)
		return NULL;
	v = node_alloc(type, NULL, 0);
	return yml_set(map, key, v) ? NULL : v;
}

struct yml_node *yml_detach(struct yml_node *map, const char *key)
{
	ssize_t i = yml_index(map, key);
	struct yml_node *v;

	if (i < 0)
		return NULL;
	v = map->pairs[i].value;
	yml_free(map->pairs[i].key);
	memmove(map->pairs + i, map->pairs + i + 1,
		(map->n - (size_t)i - 1) * sizeof(*map->pairs));
	map->n--;
	return v;
}

int yml_delete(struct yml_node *map, const char *key)
{
	if (yml_index(map, key) < 0)
		return -ENOENT;
	yml_free(yml_detach(map, key));
	return 0;
}

int yml_seq_insert(struct yml_node *seq, size_t pos, struct yml_node *value)
{
	if (!seq || seq->type != YML_SEQ || !value || pos > seq->n) {
		yml_free(value);
		return -EINVAL;
	}
	if (reserve_one(seq)) {
		yml_free(value);
		return -ENOMEM;
	}
	memmove(seq->items + pos + 1, seq->items + pos,
		(seq->n - pos) * sizeof(*seq->items));
	seq->items[pos] = value;
	seq->n++;
	return 0;
}

int yml_push(struct yml_node *seq, struct yml_node *value)
{
	return yml_seq_insert(seq, seq && seq->type == YML_SEQ ? seq->n : 0,
			      value);
}

int yml_remove_at(struct yml_node *n, size_t i)
{
	if (!n || is_scalar(n) || i >= n->n)
		return -ENOENT;
	if (n->type == YML_SEQ) {
		yml_free(n->items[i]);
		memmove(n->items + i, n->items + i + 1,
			(n->n - i - 1) * sizeof(*n->items));
	} else {
		yml_free(n->pairs[i].key);
		yml_free(n->pairs[i].value);
		memmove(n->pairs + i, n->pairs + i + 1,
			(n->n - i - 1) * sizeof(*n->pairs));
	}
	n->n--;
	return 0;
}
