/* SPDX-License-Identifier: Apache-2.0 */
/* yaml.h - YAML (and JSON) manifests: read to a tree, edit, write back */
#ifndef CONDUIT_YAML_H
#define CONDUIT_YAML_H

#include <sys/types.h>

#include "conduit/base.h"
#include "conduit/buf.h"
#include "conduit/json.h"

/*
 * The YAML module reads a multi-document stream (YAML, or JSON, which
 * libyaml reads as flow YAML: a JSON manifest gives the same tree as its
 * YAML twin, with positions and the same checks; one JSON value per
 * document, so `{...}{...}` without `---` is refused) into one tree per
 * document, lets the manifest code walk and edit it, and writes it back as
 * clean block YAML or converts it to JSON for `-o json`. libyaml is
 * included only by yaml.c, and because libyaml owns the `yaml_` prefix
 * this module's prefix is `yml_`. A %YAML 1.2 directive changes nothing:
 * scalars are always typed as below.
 *
 * The tree. A node is a mapping (pairs in document order), a sequence or a
 * scalar. Every scalar has a type and its text:
 *   - quoted and block scalars ('8080', "true", |...) are YML_STR;
 *   - plain scalars are typed as kubectl does (sigs.k8s.io/yaml over
 *     go-yaml v2, YAML 1.1 style): "", ~, null, Null, NULL are YML_NULL;
 *     y Y yes Yes YES on On ON true True TRUE (and the same for false: n no
 *     off false) are YML_BOOL; integers (underscores ignored; 0x, 0o, 0b
 *     and leading-0 octal) are YML_INT; floats (1.5, .5, 1e3, .inf, .nan)
 *     are YML_FLOAT; anything else, timestamps included, is YML_STR;
 *   - an explicit tag wins: !!str (and !!binary, !!timestamp, !, any
 *     unknown tag) makes a string; !!int, !!float, !!bool, !!null make that
 *     type and the text must read as it, else the parse fails.
 * The text is kept as written (0x1F stays 0x1F, yes stays yes), so an
 * edited manifest differs from its source only where it was edited. Tags
 * are kept and written back. Comments, anchors and styles are not kept:
 * an alias is expanded into a copy of its anchor's node, and the writer
 * chooses each scalar's style (see yml_write).
 *
 * Merge keys (`<<: *base`, `<<: [*a, *b]`) are supported as go-yaml and so
 * kubectl do: the merged pairs take the place of the `<<` pair, keys the
 * mapping itself has win, earlier sources win over later ones. A quoted
 * "<<" is an ordinary key.
 *
 * Duplicate keys in one mapping are an error (Kubernetes rejects them);
 * keys compare by their text, so `1:` and `"1":` are the same key, as they
 * are in JSON. Only scalar keys are supported.
 *
 * Every scalar's text is valid UTF-8 without NUL bytes: the parser refuses
 * anything else, and the constructors replace invalid bytes with U+FFFD.
 *
 * Ownership: each node owns its children (and a mapping its keys); a
 * document is its root node; struct yml_stream owns its roots. Functions
 * that put a node into a tree take ownership of it (also when they fail,
 * when they free it). Pointers returned by lookups are borrowed from the
 * tree and valid until that part of it is changed or freed. Nodes are
 * malloc'd one by one, so edits never leak and subtrees move freely
 * between documents.
 */
struct yml_node;

enum yml_type {
	YML_INVALID = 0, /* a NULL node */
	YML_NULL,
	YML_BOOL,
	YML_INT,
	YML_FLOAT,
	YML_STR,
	YML_SEQ,
	YML_MAP,
};

/*
 * Limits on hostile input. Each one fails the parse with a
 * "<name>:<line>:<col>: <why>" message at the place it was crossed.
 */
#define YML_MAX_INPUT	    (64u << 20) /* bytes of input */
#define YML_MAX_DEPTH	    64		/* nested collections */
#define YML_MAX_DOCS	    100000	/* documents in a stream */
#define YML_MAX_SCALAR	    (8u << 20)	/* bytes in one scalar */
#define YML_MAX_DOC_NODES   1000000	/* nodes in one document */
#define YML_MAX_NODES	    5000000	/* nodes in a stream */
#define YML_MAX_ALIAS_NODES 1000000	/* nodes copied by aliases, a stream */
#define YML_MAX_ALIAS_BYTES (64u << 20) /* scalar bytes copied by aliases */
/* max_depth above this is lowered to it: the tree code recurses */
#define YML_DEPTH_CEILING   1000

/*
 * struct yml_limits: what yml_parse() accepts. A zero field means the
 * default above, so `{ .max_depth = 16 }` changes one limit. The nesting
 * depth is counted on libyaml's event stream and the parse stops at the
 * event that crosses it (libyaml 0.2.5 itself has no depth limit). Alias
 * expansion (billion laughs) is bounded by the alias limits, counted
 * before each copy is made; a copy also may not nest deeper than
 * max_depth.
 */
struct yml_limits {
	size_t max_input;
	unsigned max_depth;
	size_t max_docs;
	size_t max_scalar;
	size_t max_doc_nodes;
	size_t max_nodes;
	size_t max_alias_nodes;
	size_t max_alias_bytes;
};

/* struct yml_stream: the documents of a stream, in order. Embedded. */
struct yml_stream {
	struct yml_node **docs; /* roots, owned */
	size_t count;		/* documents */
	size_t cap;		/* allocated slots */
};

void yml_stream_init(struct yml_stream *s);
/* yml_stream_release - free every document; the stream is empty again */
void yml_stream_release(struct yml_stream *s);
/* yml_stream_push - append a document (takes ownership). 0 or -ENOMEM */
int yml_stream_push(struct yml_stream *s, struct yml_node *doc);

/*
 * yml_parse - read every document of the YAML or JSON text[0..len) and
 * append them to out (initialized by the caller; documents already in it
 * are kept). name is what messages call the input ("app.yaml", "<stdin>").
 * lim may be NULL for the defaults. A stream with no document (empty, or
 * only comments) appends nothing; an empty document (`---` alone) is a
 * YML_NULL root. Refused: invalid UTF-8, NUL and other control
 * characters, UTF-16, tabs used as indentation, syntax errors, truncated
 * input, duplicate keys, non-scalar keys, unknown or recursive aliases,
 * bad merge keys, NUL escapes in scalars, anything over a limit.
 *
 * Returns 0; -EINVAL for input that is not valid YAML by these rules,
 * -E2BIG for input over a limit, -ENOMEM. On error nothing is appended and
 * err holds "<name>:<line>:<col>: <why>" (line and column from 1; the
 * column counts characters).
 */
int yml_parse(struct yml_stream *out, const char *text, size_t len,
	      const char *name, const struct yml_limits *lim, char *err,
	      size_t errlen);

/*
 * yml_write - append doc as block YAML to out, ending with a newline:
 * 2-space indentation; a sequence under a key at the key's own indent and
 * a mapping in a sequence as `- key: v`, as kubectl writes them; `{}` and
 * `[]` for empty collections. A string is written plain unless it would
 * read back as something else (a number, bool, null, timestamp, `<<`) or
 * has characters plain style cannot carry (leading or trailing blanks,
 * ": ", " #", an indicator first, ...): then double-quoted when it would
 * read back as another type or needs escapes, else single-quoted.
 * Multi-line strings are block literals (`|`, `|-`, `|+`) when that
 * round-trips, else double-quoted with escapes. Keys longer than 1000
 * bytes use the explicit `? key` form. The same tree always writes the same
 * bytes, and reading them back gives a tree that writes the same bytes.
 * Returns 0, -ENOBUFS (out's limit) or -ENOMEM; on error out is left as
 * it was.
 */
int yml_write(struct buf *out, const struct yml_node *doc);
/* yml_write_stream - every document, with "---\n" between them */
int yml_write_stream(struct buf *out, const struct yml_stream *s);

/*
 * yml_to_json - a JSON value for n: mappings become objects (same key
 * order; keys are the key's text), sequences arrays, scalars by their type
 * (integers stay integers: 8080, 0x1F90 -> 8080; precision beyond 2^53 is
 * lost, as in cJSON). Linear in the size of n. NULL with
 * "<name>:<line>:<col>: <why>" in err (name may be NULL) for .inf and .nan
 * (no JSON form) and for a document over JSON_MAX_INPUT bytes as JSON;
 * also NULL on OOM. Caller frees with json_free().
 */
struct json *yml_to_json(const struct yml_node *n, const char *name,
			 char *err, size_t errlen);

/*
 * yml_from_json - a tree for a JSON value (borrowed): objects become
 * mappings in the same key order, strings YML_STR, integral numbers YML_INT
 * ("8080"), others YML_FLOAT. Refuses duplicate keys and nesting deeper
 * than YML_MAX_DEPTH (what yml_parse could read back). NULL with the
 * reason in err on error or OOM. Caller frees with yml_free().
 */
struct yml_node *yml_from_json(const struct json *j, char *err,
			       size_t errlen);

/*
 * Constructors: a new node, caller owns it (yml_free), NULL on OOM.
 * yml_new_str and yml_new_strn make a string (invalid UTF-8 and NUL bytes
 * become U+FFFD); yml_new_plain makes the scalar a plain `text` would
 * read as ("8080" -> YML_INT, "yes" -> YML_BOOL, "web" -> YML_STR).
 */
struct yml_node *yml_new_map(void);
struct yml_node *yml_new_seq(void);
struct yml_node *yml_new_str(const char *s);
struct yml_node *yml_new_strn(const char *s, size_t n);
struct yml_node *yml_new_plain(const char *text);
struct yml_node *yml_new_int(long long v);
struct yml_node *yml_new_float(double v);
struct yml_node *yml_new_bool(bool v);
struct yml_node *yml_new_null(void);

/* yml_free - free n and everything under it; NULL is a no-op */
void yml_free(struct yml_node *n);
/* yml_copy - a deep copy (caller frees), NULL on OOM or when n is NULL */
struct yml_node *yml_copy(const struct yml_node *n);
/*
 * yml_equal - deep equality by meaning: same types; strings byte for byte;
 * numbers and bools by value (0x10 == 16, yes == true); sequences in order;
 * mappings with the same keys and equal values in any order. Tags and
 * positions are ignored. Two NULL pointers are equal.
 */
bool yml_equal(const struct yml_node *a, const struct yml_node *b);

/* Readers. All accept NULL (YML_INVALID, NULL, 0, false). */
enum yml_type yml_type(const struct yml_node *n);
/* yml_line, yml_col - where n starts in its source, from 1 (0 if built) */
unsigned yml_line(const struct yml_node *n);
unsigned yml_col(const struct yml_node *n);
/* yml_tag - the explicit tag as libyaml resolved it
 * ("tag:yaml.org,2002:str", "!local"), or NULL */
const char *yml_tag(const struct yml_node *n);
/* yml_text - a scalar's text (any scalar type), NULL for collections;
 * yml_len - its length in bytes */
const char *yml_text(const struct yml_node *n);
size_t yml_len(const struct yml_node *n);
/* yml_str - the text of a YML_STR, else NULL */
const char *yml_str(const struct yml_node *n);
/* yml_bool, yml_int, yml_float - the value of a YML_BOOL, a YML_INT that
 * fits a long long, a YML_INT or YML_FLOAT; false for anything else */
bool yml_bool(const struct yml_node *n, bool *out);
bool yml_int(const struct yml_node *n, long long *out);
bool yml_float(const struct yml_node *n, double *out);

/* yml_count - pairs of a mapping, items of a sequence, else 0 */
size_t yml_count(const struct yml_node *n);
/* yml_at - item i of a sequence or the value of pair i of a mapping */
struct yml_node *yml_at(const struct yml_node *n, size_t i);
/* yml_key_at - the key node of pair i of a mapping; yml_key - its text */
struct yml_node *yml_key_at(const struct yml_node *map, size_t i);
const char *yml_key(const struct yml_node *map, size_t i);
/* yml_index - the position of key in map, or -ENOENT */
ssize_t yml_index(const struct yml_node *map, const char *key);
/* yml_get - the value of key in map, or NULL (linear: maps are small) */
struct yml_node *yml_get(const struct yml_node *map, const char *key);
/*
 * yml_get_path - follow a dotted path of keys and sequence indexes from n:
 * "spec.template.spec", "spec.containers.0.name". NULL when any step is
 * missing. Keys with dots (annotation names) need yml_get().
 */
struct yml_node *yml_get_path(const struct yml_node *n, const char *path);
/*
 * yml_list_items - for a `kind: List` document (or any kind ending in
 * "List", as kubectl reads them) the `items` sequence, to walk with
 * yml_count() and yml_at(); else NULL.
 */
struct yml_node *yml_list_items(const struct yml_node *doc);

/*
 * Mapping edits. Each takes ownership of value, also on failure.
 * yml_set - replace the value of key in place, or append key: value.
 * yml_insert - put key: value at position pos (0..count); -EEXIST when
 * the key is there already. yml_ensure - the value of key when it has type
 * (YML_MAP or YML_SEQ), a new empty one in its place when it is missing or
 * null; NULL when it holds another type (or on OOM).
 * Return 0, -EINVAL (not a mapping, NULL value, bad pos), -ENOMEM.
 */
int yml_set(struct yml_node *map, const char *key, struct yml_node *value);
int yml_insert(struct yml_node *map, size_t pos, const char *key,
	       struct yml_node *value);
struct yml_node *yml_ensure(struct yml_node *map, const char *key,
			    enum yml_type type);
/* yml_delete - remove and free key: 0 or -ENOENT */
int yml_delete(struct yml_node *map, const char *key);
/* yml_detach - remove key and return its value (caller owns), or NULL */
struct yml_node *yml_detach(struct yml_node *map, const char *key);

/*
 * Sequence edits (take ownership of value). yml_push appends;
 * yml_seq_insert puts value at pos (0..count). 0, -EINVAL, -ENOMEM.
 */
int yml_push(struct yml_node *seq, struct yml_node *value);
int yml_seq_insert(struct yml_node *seq, size_t pos, struct yml_node *value);
/* yml_remove_at - remove and free item i of a sequence or pair i of a
 * mapping: 0 or -ENOENT */
int yml_remove_at(struct yml_node *n, size_t i);

#endif
