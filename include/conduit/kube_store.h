/* SPDX-License-Identifier: Apache-2.0 */
/* kube_store.h - objects by namespace/name, and re-list differences */
#ifndef CONDUIT_KUBE_STORE_H
#define CONDUIT_KUBE_STORE_H

#include "conduit/base.h"
#include "conduit/json.h"

/* what happened to an object, as consumers of an informer see it */
enum kube_event_type {
	KUBE_ADDED,
	KUBE_MODIFIED,
	KUBE_DELETED,
};

/* kube_event_type_name - "ADDED", "MODIFIED", "DELETED" */
const char *kube_event_type_name(enum kube_event_type t);

/*
 * A hash table from "namespace/name" (or "name" for cluster-scoped
 * objects) to the object's JSON, owned by the store. A re-list is a
 * generation: kube_store_begin_list() starts one, every object the list
 * returns is put in it, and kube_store_sweep() removes the objects the
 * list no longer had, so the consumer sees exactly the difference.
 */
struct kube_store;

struct kube_store *kube_store_new(void);
/* kube_store_free - the store and every object in it; NULL ok */
void kube_store_free(struct kube_store *s);

/* kube_store_count - objects held */
size_t kube_store_count(const struct kube_store *s);

/*
 * kube_store_put - store obj (takes ownership; it must have
 * metadata.name) under its namespace/name, marked seen in the current
 * generation. *change says what it was for the consumer: KUBE_ADDED (new),
 * KUBE_MODIFIED (resourceVersion changed) or, with a return of 1, nothing
 * (same resourceVersion: the stored object is kept, obj is freed).
 * Returns 0 (changed: *stored is the object now held, borrowed), 1
 * (unchanged), or -EINVAL (no name; obj freed).
 */
int kube_store_put(struct kube_store *s, struct json *obj,
		   enum kube_event_type *change, const struct json **stored);

/*
 * kube_store_delete - remove the object with obj's namespace/name (obj
 * borrowed). Returns the removed object (caller frees with json_free())
 * or NULL when there was none.
 */
struct json *kube_store_delete(struct kube_store *s, const struct json *obj);

/* kube_store_get - the object ns/name (ns NULL: cluster-scoped), borrowed */
const struct json *kube_store_get(const struct kube_store *s, const char *ns,
				  const char *name);

/* kube_store_begin_list - a new generation: nothing is seen in it yet */
void kube_store_begin_list(struct kube_store *s);

/*
 * kube_store_sweep - remove every object not seen since
 * kube_store_begin_list(), calling fn (if not NULL) with each one before
 * it is freed (borrowed for the call). Returns how many were removed.
 */
size_t kube_store_sweep(struct kube_store *s,
			void (*fn)(void *arg, const struct json *obj),
			void *arg);

/*
 * kube_store_foreach - fn for every object (borrowed; order unspecified).
 * fn must not change the store. Returns the number visited.
 */
size_t kube_store_foreach(const struct kube_store *s,
			  void (*fn)(void *arg, const struct json *obj),
			  void *arg);

#endif
