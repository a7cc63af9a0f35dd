/* SPDX-License-Identifier: Apache-2.0 */
/* jsonpatch.h - JSON Patch (RFC 6902): make one from two documents, apply one */
#ifndef CONDUIT_JSONPATCH_H
#define CONDUIT_JSONPATCH_H

#include "conduit/json.h"

/*
 * The admission webhook answers with a JSON Patch that turns the object
 * it was sent into the injected one. jsonpatch_diff makes that patch;
 * jsonpatch_apply is the other half, for tests and fuzzing (the
 * Kubernetes API server applies the webhook's patches itself).
 */

/*
 * jsonpatch_diff - a patch (a JSON array of add, remove and replace
 * operations) that turns from into to. Objects are compared member by
 * member (removed members first, in from's order; then changed ones, in
 * from's order; then added ones, in to's order). Arrays keep their common
 * head and tail; the elements between are compared pairwise, and what is
 * left over is removed or added, so a container put in front of a list
 * is one "add" at index 0 and not a rewrite of the list. Everything else
 * that differs is a "replace". from and to are borrowed; equal documents
 * give []. NULL on OOM. Caller frees with json_free().
 */
struct json *jsonpatch_diff(const struct json *from, const struct json *to);

/*
 * jsonpatch_apply - apply patch to *doc in place (the root may be
 * replaced: *doc changes then). Operations add, remove, replace, move,
 * copy and test, JSON Pointers with ~0 and ~1 escapes, "-" for the end of
 * an array. All or nothing: on error *doc is as it was. Returns 0, or
 * -EINVAL with "operation N (op PATH): why" in err.
 */
int jsonpatch_apply(struct json **doc, const struct json *patch, char *err,
		    size_t errlen);

/* jsonpatch_pointer_escape - append key as one JSON Pointer segment
 * ("/" then key with ~ as ~0 and / as ~1) to out. 0, -ENOBUFS, -ENOMEM */
struct buf;
int jsonpatch_pointer_escape(struct buf *out, const char *key);

#endif
