/* SPDX-License-Identifier: Apache-2.0 */
/* cluster_dir.h - local mode: a directory of Kubernetes YAML feeding the cache */
#ifndef CONDUIT_CLUSTER_DIR_H
#define CONDUIT_CLUSTER_DIR_H

#include <ev.h>

#include "conduit/cluster.h"

/*
 * `conduit controller --cluster-dir DIR` reads Pods, Services,
 * EndpointSlices and ReplicaSets (one or several documents a file, `List`
 * kinds too) from the *.yml, *.yaml and *.json files directly in DIR, and feeds
 * them to the cache as an informer would: ADDED for a new object,
 * MODIFIED when its text changed, DELETED when it left (its file was
 * edited or removed). Other kinds are skipped.
 *
 * DIR is re-scanned every `interval` seconds; a file is re-read only when
 * its size, mtime or inode changed (editors that write a new file and
 * rename it are seen too). A file that does not parse, or an object the
 * cache refuses, is reported once ("<file>:<line>:<col>: why") and the
 * objects the file held before stay as they were, so a half-saved edit
 * never deletes a service.
 */

struct cluster_dir;

struct cluster_dir_stats {
	uint64_t scans;	    /* rescans of the directory */
	uint64_t reads;	    /* files (re-)read */
	uint64_t errors;    /* files or objects refused */
	uint64_t events[3]; /* added, modified, deleted */
	size_t objects;	    /* kept objects */
	size_t files;
};

/*
 * cluster_dir_new - read dir once into cl (the first scan happens here;
 * errors in it are reported like later ones), then re-scan it every
 * interval seconds (0: never) on loop. Returns NULL with the reason in
 * err when dir cannot be opened.
 */
struct cluster_dir *cluster_dir_new(struct ev_loop *loop, const char *dir,
				    struct cluster *cl, double interval,
				    char *err, size_t errlen);
void cluster_dir_free(struct cluster_dir *d);

/* cluster_dir_scan - re-scan now; returns the number of changes applied */
size_t cluster_dir_scan(struct cluster_dir *d);

void cluster_dir_stats(const struct cluster_dir *d,
		       struct cluster_dir_stats *out);

#endif
