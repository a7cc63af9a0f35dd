/* SPDX-License-Identifier: Apache-2.0 */
/* json.h - JSON documents: parse, build, print (over cJSON) */
#ifndef CONDUIT_JSON_H
#define CONDUIT_JSON_H

#include "conduit/base.h"

/*
 * An opaque JSON value. The only module that includes cJSON is json.c;
 * everything else goes through this API. Values returned by json_get*
 * are borrowed from their document and valid until it is freed.
 */
struct json;

/* json input bigger than this is refused before parsing */
#define JSON_MAX_INPUT (64u << 20)

/*
 * json_parse - a complete JSON text of len bytes (no NUL needed). Nesting
 * is bounded (cJSON: 1000 levels). On error returns NULL and writes
 * "line L, column C: <why>" into err. Caller frees with json_free().
 */
struct json *json_parse(const char *text, size_t len, char *err,
			size_t errlen);
void json_free(struct json *j);

struct json *json_new_object(void);
struct json *json_new_array(void);
struct json *json_new_string(const char *s);
struct json *json_new_number(double v);
struct json *json_new_bool(bool v);
struct json *json_new_null(void);

/*
 * json_set - add key: value to an object (takes ownership of value,
 * replacing an existing key). json_push - append to an array (takes
 * ownership). Both return 0 or -EINVAL (not an object / array).
 */
int json_set(struct json *obj, const char *key, struct json *value);
int json_push(struct json *arr, struct json *value);
/* shorthands for json_set with a new scalar */
int json_set_string(struct json *obj, const char *key, const char *s);
int json_set_number(struct json *obj, const char *key, double v);
int json_set_bool(struct json *obj, const char *key, bool v);

/* json_print - the text of j, indented with two spaces when pretty,
 * else compact; caller frees with free(). NULL on OOM. */
char *json_print(const struct json *j, bool pretty);

enum json_type {
	JSON_INVALID = 0,
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

enum json_type json_type(const struct json *j);
/* json_get - the member named key of an object, or NULL */
struct json *json_get(const struct json *obj, const char *key);
/* json_at - element i of an array, or NULL; json_count - its length */
struct json *json_at(const struct json *arr, size_t i);
size_t json_count(const struct json *arr);
/* json_child / json_next - iterate an array or object in order */
struct json *json_child(const struct json *j);
struct json *json_next(const struct json *j);
/*
 * json_detach - take item, a member or element of parent, out of it and
 * return it (the caller owns it now: json_free()). NULL when item is
 * NULL; item must be a child of parent.
 */
struct json *json_detach(struct json *parent, struct json *item);
/*
 * json_insert - put value at index i of an array (i == count appends),
 * shifting the rest; json_replace_at - put value in place of element i
 * (freed). Both take ownership of value (freed on failure) and return 0
 * or -EINVAL (not an array, i out of range).
 */
int json_insert(struct json *arr, size_t i, struct json *value);
int json_replace_at(struct json *arr, size_t i, struct json *value);
/* json_copy - a deep copy (caller frees), NULL on OOM or for NULL */
struct json *json_copy(const struct json *j);
/*
 * json_equal - same value: same type, strings byte for byte, numbers
 * equal, arrays in order, objects with the same members in any order.
 * Two NULLs are equal.
 */
bool json_equal(const struct json *a, const struct json *b);
/* json_key - the member name of j inside its object, or NULL */
const char *json_key(const struct json *j);
/* scalar readers: NULL / false when j is NULL or of another type */
const char *json_string(const struct json *j);
bool json_number(const struct json *j, double *out);
bool json_bool(const struct json *j, bool *out);

#endif
