/* SPDX-License-Identifier: Apache-2.0 */
/* manifest.h - read Kubernetes manifests from files, dirs, stdin; write them */
#ifndef CONDUIT_MANIFEST_H
#define CONDUIT_MANIFEST_H

#include "conduit/buf.h"
#include "conduit/yaml.h"

/*
 * manifest_read - parse every input into out, in order: "-" is stdin, a
 * file is read whole, a directory is walked recursively for *.yml,
 * *.yaml and *.json files in name order (so output is reproducible).
 * Returns 0, or a negative errno with "<file>:<line>:<col>: why" or
 * "<path>: why" in err (then out holds what was read before; callers
 * print nothing). Inputs over YML_MAX_INPUT bytes are refused before
 * parsing.
 */
int manifest_read(const char *const *paths, size_t n, struct yml_stream *out,
		  char *err, size_t errlen);

enum manifest_format {
	MANIFEST_YAML,
	MANIFEST_JSON,
};

/*
 * manifest_parse_format - "yaml" or "json" (the -o flag); 0 or -EINVAL
 */
int manifest_parse_format(const char *s, enum manifest_format *out);

/*
 * manifest_write - the documents as a YAML stream ("---" between them), or
 * as JSON: one object as itself, several as a v1 List of them (as kubectl
 * prints them). Empty documents are left out. Returns 0 or a negative
 * errno with the reason in err.
 */
int manifest_write(const struct yml_stream *s, enum manifest_format f,
		   struct buf *out, char *err, size_t errlen);

/*
 * manifest_dns_label - whether s is a DNS-1123 label (a namespace's name):
 * 1-63 of [a-z0-9-], starting and ending with a letter or digit
 */
bool manifest_dns_label(const char *s);

/*
 * manifest_flush - write all of b to stdout; 0, or -errno (e.g. EPIPE)
 */
int manifest_flush(const struct buf *b);

#endif
