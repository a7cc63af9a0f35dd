/* SPDX-License-Identifier: Apache-2.0 */
/* json.c - JSON documents over cJSON */
#include "conduit/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C(j) ((cJSON *)(j))
#define J(c) ((struct json *)(c))

static void locate(const char *text, const char *at, size_t *line,
		   size_t *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/*
 * error_at - where parsing text failed. cJSON clamps an error at the end
 * of its input to the last byte, so "[1," (truncated) and "[1,]" (bad)
 * would both point at the last byte. Parsed again with a NUL appended,
 * a truncated text fails on the NUL, one past its last byte.
 */
static const char *error_at(const char *text, size_t len)
{
	const char *end = NULL;
	char *copy = malloc(len + 1);
	cJSON *c;

	if (!copy)
		return text + len;
	memcpy(copy, text, len);
	copy[len] = '\0';
	c = cJSON_ParseWithLengthOpts(copy, len + 1, &end, false);
	if (c) { /* not expected: the NUL cannot complete a value */
		cJSON_Delete(c);
		end = NULL;
	}
	if (!end || end < copy || end > copy + len)
		end = copy + len;
	text += end - copy;
	free(copy);
	return text;
}

struct json *json_parse(const char *text, size_t len, char *err,
			size_t errlen)
{
	const char *end = NULL;
	size_t line, col;
	cJSON *c;

	if (len > JSON_MAX_INPUT) {
		snprintf(err, errlen, "input of %zu bytes is larger than the %u limit",
			 len, JSON_MAX_INPUT);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		locate(text, memchr(text, '\0', len), &line, &col);
		snprintf(err, errlen, "line %zu, column %zu: NUL byte in JSON text",
			 line, col);
		return NULL;
	}
	c = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!c) {
		end = error_at(text, len);
		locate(text, end, &line, &col);
		snprintf(err, errlen, "line %zu, column %zu: %s", line, col,
			 end == text + len ? "unexpected end of input" :
					     "invalid JSON");
		return NULL;
	}
	/* only whitespace may follow the value */
	while (end < text + len && strchr(" \t\r\n", *end))
		end++;
	if (end < text + len) {
		locate(text, end, &line, &col);
		snprintf(err, errlen, "line %zu, column %zu: data after the JSON value",
			 line, col);
		cJSON_Delete(c);
		return NULL;
	}
	return J(c);
}

void json_free(struct json *j)
{
	cJSON_Delete(C(j));
}

struct json *json_new_object(void)
{
	return J(cJSON_CreateObject());
}

struct json *json_new_array(void)
{
	return J(cJSON_CreateArray());
}

struct json *json_new_string(const char *s)
{
	return J(cJSON_CreateString(s));
}

struct json *json_new_number(double v)
{
	return J(cJSON_CreateNumber(v));
}

struct json *json_new_bool(bool v)
{
	return J(cJSON_CreateBool(v));
}

struct json *json_new_null(void)
{
	return J(cJSON_CreateNull());
}

int json_set(struct json *obj, const char *key, struct json *value)
{
	if (!cJSON_IsObject(C(obj)) || !value) {
		cJSON_Delete(C(value));
		return -EINVAL;
	}
	if (cJSON_GetObjectItemCaseSensitive(C(obj), key))
		cJSON_ReplaceItemInObjectCaseSensitive(C(obj), key, C(value));
	else
		cJSON_AddItemToObject(C(obj), key, C(value));
	return 0;
}

int json_push(struct json *arr, struct json *value)
{
	if (!cJSON_IsArray(C(arr)) || !value) {
		cJSON_Delete(C(value));
		return -EINVAL;
	}
	cJSON_AddItemToArray(C(arr), C(value));
	return 0;
}

int json_set_string(struct json *obj, const char *key, const char *s)
{
	return json_set(obj, key, json_new_string(s));
}

int json_set_number(struct json *obj, const char *key, double v)
{
	return json_set(obj, key, json_new_number(v));
}

int json_set_bool(struct json *obj, const char *key, bool v)
{
	return json_set(obj, key, json_new_bool(v));
}

char *json_print(const struct json *j, bool pretty)
{
	char *s = pretty ? cJSON_Print(C(j)) : cJSON_PrintUnformatted(C(j));
	size_t tabs = 0;
	char *in, *out, *o;

	if (!s || !pretty)
		return s;
	/* cJSON indents with tabs; kubectl and friends use two spaces */
	for (in = s; *in; in++)
		tabs += *in == '\t';
	o = out = xmalloc(strlen(s) + tabs + 1);
	for (in = s; *in; in++) {
		if (*in != '\t')
			*o++ = *in;
		else if (in > s && in[-1] == ':')
			*o++ = ' '; /* "key":<tab>value -> "key": value */
		else
			o += sprintf(o, "  ");
	}
	*o = '\0';
	cJSON_free(s);
	return out;
}

enum json_type json_type(const struct json *j)
{
	const cJSON *c = C(j);

	if (!c)
		return JSON_INVALID;
	if (cJSON_IsNull(c))
		return JSON_NULL;
	if (cJSON_IsBool(c))
		return JSON_BOOL;
	if (cJSON_IsNumber(c))
		return JSON_NUMBER;
	if (cJSON_IsString(c))
		return JSON_STRING;
	if (cJSON_IsArray(c))
		return JSON_ARRAY;
	if (cJSON_IsObject(c))
		return JSON_OBJECT;
	return JSON_INVALID;
}

struct json *json_get(const struct json *obj, const char *key)
{
	if (!cJSON_IsObject(C(obj)))
		return NULL;
	return J(cJSON_GetObjectItemCaseSensitive(C(obj), key));
}

struct json *json_at(const struct json *arr, size_t i)
{
	if (!cJSON_IsArray(C(arr)) || i > (size_t)INT32_MAX)
		return NULL;
	return J(cJSON_GetArrayItem(C(arr), (int)i));
}

size_t json_count(const struct json *arr)
{
	if (!cJSON_IsArray(C(arr)) && !cJSON_IsObject(C(arr)))
		return 0;
	return (size_t)cJSON_GetArraySize(C(arr));
}

struct json *json_child(const struct json *j)
{
	return j ? J(C(j)->child) : NULL;
}

struct json *json_next(const struct json *j)
{
	return j ? J(C(j)->next) : NULL;
}

const char *json_key(const struct json *j)
{
	return j ? C(j)->string : NULL;
}

const char *json_string(const struct json *j)
{
	return cJSON_IsString(C(j)) ? C(j)->valuestring : NULL;
}

bool json_number(const struct json *j, double *out)
{
	if (!cJSON_IsNumber(C(j)))
		return false;
	*out = C(j)->valuedouble;
	return true;
}

bool json_bool(const struct json *j, bool *out)
{
	if (!cJSON_IsBool(C(j)))
		return false;
	*out = cJSON_IsTrue(C(j));
	return true;
}

struct json *json_detach(struct json *parent, struct json *item)
{
	if (!parent || !item)
		return NULL;
	return J(cJSON_DetachItemViaPointer(C(parent), C(item)));
}

int json_insert(struct json *arr, size_t i, struct json *value)
{
	if (!cJSON_IsArray(C(arr)) || !value || i > json_count(arr) ||
	    i > (size_t)INT32_MAX) {
		json_free(value);
		return -EINVAL;
	}
	/* not cJSON_InsertItemInArray: Debian's 1.7.15 refuses any index
	 * but 0 (its corrupted-item check tests the new item's prev). Move
	 * the tail aside, append, put the tail back. */
	{
		size_t n = json_count(arr);
		cJSON *tail = cJSON_CreateArray();

		if (!tail) {
			json_free(value);
			return -ENOMEM;
		}
		for (size_t k = i; k < n; k++)
			cJSON_AddItemToArray(tail, cJSON_DetachItemFromArray(C(arr), (int)i));
		cJSON_AddItemToArray(C(arr), C(value));
		while (tail->child)
			cJSON_AddItemToArray(C(arr), cJSON_DetachItemFromArray(tail, 0));
		cJSON_Delete(tail);
	}
	return 0;
}

int json_replace_at(struct json *arr, size_t i, struct json *value)
{
	struct json *old = json_at(arr, i);

	if (!old || !value) {
		json_free(value);
		return -EINVAL;
	}
	cJSON_ReplaceItemViaPointer(C(arr), C(old), C(value));
	return 0;
}

struct json *json_copy(const struct json *j)
{
	return j ? J(cJSON_Duplicate(C(j), true)) : NULL;
}

static bool equal(const cJSON *a, const cJSON *b, int depth)
{
	const cJSON *x, *y;

	if ((a->type & 0xff) != (b->type & 0xff) || depth > 2000)
		return false;
	if (cJSON_IsArray(a)) {
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if (!equal(x, y, depth + 1))
				return false;
		return !x && !y;
	}
	if (!cJSON_IsObject(a))
		return cJSON_Compare(a, b, true);
	/* the same members in the same order: the common case, and the one
	 * that keeps equality reflexive for objects with duplicate keys */
	for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
		if (strcmp(x->string, y->string) || !equal(x, y, depth + 1))
			break;
	if (!x && !y)
		return true;
	if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
		return false;
	for (x = a->child; x; x = x->next) {
		y = cJSON_GetObjectItemCaseSensitive(b, x->string);
		if (!y || !equal(x, y, depth + 1))
			return false;
	}
	return true;
}

bool json_equal(const struct json *a, const struct json *b)
{
	if (!a || !b)
		return a == b;
	return equal(C(a), C(b), 0);
}
