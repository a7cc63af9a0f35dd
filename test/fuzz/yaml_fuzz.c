/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml_fuzz.c - libFuzzer target for the YAML module: parse any bytes; on
 * success write the stream, parse that again and write it again: the two
 * writes must be byte for byte the same and the trees equal. The JSON
 * conversion and deep copy run on every document too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/buf.h"
#include "conduit/json.h"
#include "conduit/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* text - the bytes of b ("" when empty: buf_head() of an unused buf is
 * NULL) */
static const char *text(const struct buf *b)
{
	return b && buf_len(b) ? (const char *)buf_head(b) : "";
}

static void check(bool ok, const char *what, const struct buf *a,
		  const struct buf *b)
{
	if (ok)
		return;
	fprintf(stderr, "yaml_fuzz: %s\n--- first\n%.*s\n--- second\n%.*s\n",
		what, (int)buf_len(a), text(a), b ? (int)buf_len(b) : 0,
		text(b));
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yml_stream s, again;
	struct buf w1, w2;
	char err[512];
	int rc;

	yml_stream_init(&s);
	yml_stream_init(&again);
	buf_init(&w1, 0);
	buf_init(&w2, 0);
	if (yml_parse(&s, (const char *)data, size, "fuzz", NULL, err,
		      sizeof(err))) {
		/* every error names the place */
		check(!strncmp(err, "fuzz:", 5), err, &w1, NULL);
		goto out;
	}
	check(!yml_write_stream(&w1, &s), "write failed", &w1, NULL);
	rc = yml_parse(&again, text(&w1), buf_len(&w1),
		       "written", NULL, err, sizeof(err));
	check(!rc, err, &w1, NULL);
	check(!yml_write_stream(&w2, &again), "second write failed", &w1, NULL);
	check(buf_len(&w1) == buf_len(&w2) &&
		      !memcmp(text(&w1), text(&w2), buf_len(&w1)),
	      "write(read(write(t))) != write(t)", &w1, &w2);
	check(s.count == again.count, "document count changed", &w1, &w2);
	for (size_t i = 0; i < s.count; i++) {
		struct yml_node *copy = yml_copy(s.docs[i]), *back;
		struct json *j;

		check(yml_equal(s.docs[i], again.docs[i]),
		      "tree changed across write and read", &w1, &w2);
		check(yml_equal(copy, s.docs[i]), "copy differs", &w1, NULL);
		yml_free(copy);
		j = yml_to_json(s.docs[i], "fuzz", err, sizeof(err));
		if (!j)
			continue;
		back = yml_from_json(j, err, sizeof(err));
		if (back) {
			struct buf w3;

			buf_init(&w3, 0);
			check(!yml_write(&w3, back), "json write failed", &w1,
			      NULL);
			buf_release(&w3);
		}
		yml_free(back);
		json_free(j);
	}
out:
	buf_release(&w1);
	buf_release(&w2);
	yml_stream_release(&s);
	yml_stream_release(&again);
	return 0;
}
