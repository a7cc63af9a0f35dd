/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonpatch_fuzz.c - libFuzzer target for jsonpatch_apply() and
 * jsonpatch_diff(): the input is "DOC\nPATCH" (two JSON texts). A patch
 * that fails says which operation and leaves the document as it was; one
 * that applies gives a document whose diff from the original applies to
 * the original and gives it back. Documents with a repeated member
 * name are left out: a JSON Pointer cannot name the second one.
 *   make build/fuzz/bin/jsonpatch
 *   build/fuzz/bin/jsonpatch -max_total_time=20 test/fuzz/corpus/jsonpatch
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/jsonpatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a document with a repeated member name: a patch cannot tell the two
 * apart (RFC 6902 leaves them undefined), so no diff can round-trip */
static bool has_dups(const struct json *j)
{
	for (const struct json *c = json_child(j); c; c = json_next(c)) {
		if (json_type(j) == JSON_OBJECT)
			for (const struct json *d = json_next(c); d; d = json_next(d))
				if (!strcmp(json_key(c), json_key(d)))
					return true;
		if (has_dups(c))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl = memchr(data, '\n', size);
	struct json *doc, *orig, *patch, *diff;
	char err[300];

	if (!nl)
		return 0;
	doc = json_parse(text, (size_t)(nl - text), err, sizeof(err));
	patch = json_parse(nl + 1, size - (size_t)(nl - text) - 1, err, sizeof(err));
	if (!doc || !patch || has_dups(doc) || has_dups(patch))
		goto out;
	orig = json_copy(doc);
	if (jsonpatch_apply(&doc, patch, err, sizeof(err))) {
		BUG_ON(strncmp(err, "operation ", 10) && strncmp(err, "a JSON Patch", 12));
		BUG_ON(!json_equal(doc, orig));
	} else {
		diff = jsonpatch_diff(orig, doc);
		BUG_ON(!diff);
		BUG_ON(jsonpatch_apply(&orig, diff, err, sizeof(err)));
		BUG_ON(!json_equal(orig, doc));
		json_free(diff);
	}
	json_free(orig);
out:
	json_free(doc);
	json_free(patch);
	return 0;
}
