/* SPDX-License-Identifier: Apache-2.0 */
/* embed.h - files compiled into the binary (manifests/, web/) */
#ifndef CONDUIT_EMBED_H
#define CONDUIT_EMBED_H

#include <stddef.h>

struct embed_file {
	const char *path;	   /* as in the source tree: "manifests/x.yml" */
	const unsigned char *data; /* NUL-terminated; static */
	size_t len;		   /* without the NUL */
};

/* the table, ending with a NULL path; generated at build time */
extern const struct embed_file embed_files[];

/* embed_find - the file at path, or NULL */
const struct embed_file *embed_find(const char *path);

#endif
