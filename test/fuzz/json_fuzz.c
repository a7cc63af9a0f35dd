/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_fuzz.c - libFuzzer target for json_parse() and json_print(): input
 * is read as the exact bytes given (no terminator, so ASan sees any read
 * past the end); every refusal says where; whatever parses prints, compact
 * and pretty, to text that parses again to the same document.
 *   make B=build build/fuzz/bin/json
 *   build/fuzz/bin/json -max_total_time=20 test/fuzz/corpus/json
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* walk - read every value through the accessors */
static size_t walk(const struct json *j, int depth)
{
	size_t n = 1;
	double d;
	bool b;

	BUG_ON(depth > 1001);
	switch (json_type(j)) {
	case JSON_STRING:
		BUG_ON(!json_string(j));
		break;
	case JSON_NUMBER:
		BUG_ON(!json_number(j, &d));
		break;
	case JSON_BOOL:
		BUG_ON(!json_bool(j, &b));
		break;
	case JSON_ARRAY:
	case JSON_OBJECT: {
		size_t i = 0;

		for (struct json *c = json_child(j); c; c = json_next(c), i++) {
			BUG_ON(json_type(j) == JSON_OBJECT && !json_key(c));
			if (json_type(j) == JSON_ARRAY)
				BUG_ON(json_at(j, i) != c);
			n += walk(c, depth + 1);
		}
		BUG_ON(i != json_count(j));
		break;
	}
	case JSON_NULL:
		break;
	case JSON_INVALID:
		BUG_ON(1);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128] = "", *compact, *pretty, *again;
	struct json *j, *k;

	j = json_parse((const char *)data, size, err, sizeof(err));
	if (!j) {
		BUG_ON(strncmp(err, "line ", 5) != 0);
		return 0;
	}
	walk(j, 0);
	compact = json_print(j, false);
	pretty = json_print(j, true);
	BUG_ON(!compact || !pretty);
	BUG_ON(strchr(pretty, '\t'));

	k = json_parse(pretty, strlen(pretty), err, sizeof(err));
	BUG_ON(!k);
	again = json_print(k, false);
	BUG_ON(strcmp(again, compact));
	free(again);
	json_free(k);

	k = json_parse(compact, strlen(compact), err, sizeof(err));
	BUG_ON(!k);
	again = json_print(k, false);
	BUG_ON(strcmp(again, compact));
	free(again);
	json_free(k);

	free(compact);
	free(pretty);
	json_free(j);
	return 0;
}
