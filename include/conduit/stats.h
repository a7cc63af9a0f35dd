/* SPDX-License-Identifier: Apache-2.0 */
/* stats.h - the public API's embedded metrics store: scraped proxy counters over time */
#ifndef CONDUIT_STATS_H
#define CONDUIT_STATS_H

#include "conduit/base.h"

/*
 * The embedded stats backend keeps, for every meshed pod, a ring of
 * snapshots of what its proxy's /metrics said (one per scrape): inbound
 * responses by success and failure, the inbound latency histogram, open
 * inbound TCP connections, and the same counts per outbound authority.
 * A window's figures are the differences between the newest snapshot and
 * the newest one at least `window` older (the oldest one for a young
 * pod), as Prometheus' increase() would compute them, counter resets
 * included. Memory is bounded: `keep` snapshots a pod, 64 authorities a
 * snapshot.
 */

#define STATS_NBUCKETS 26 /* Linkerd's 25 latency bounds and +Inf */
#define STATS_MAX_AUTHORITIES 64

struct stats_counts {
	double success, failure;
	double secured;	/* responses over mesh TLS (tls="true"), of both */
	double buckets[STATS_NBUCKETS]; /* cumulative, like le buckets */
	double read_bytes, write_bytes;	/* inbound: from and to clients */
};

struct stats_store;

/* stats_store_new - keep at most `keep` snapshots a pod */
struct stats_store *stats_store_new(size_t keep);
void stats_store_free(struct stats_store *s);

/*
 * stats_ingest - one scrape of pod `key` ("ns/name") at time t (seconds,
 * monotonic for that pod): the /metrics text. Returns 0, or -EINVAL with
 * the reason in err (the text is not Prometheus' format: nothing kept).
 */
int stats_ingest(struct stats_store *s, const char *key, double t,
		 const char *text, size_t len, char *err, size_t errlen);

/* stats_forget - drop a pod (deleted from the cluster) */
void stats_forget(struct stats_store *s, const char *key);
/* stats_retain - keep only the pods for which alive(arg, key) is true */
void stats_retain(struct stats_store *s, bool (*alive)(void *arg, const char *key),
		  void *arg);
/* stats_pods - pods with at least one snapshot */
size_t stats_pods(const struct stats_store *s);

/* what one pod did over a window */
struct stats_window {
	bool has_data;		/* two snapshots span some time */
	double seconds;		/* the time they span */
	struct stats_counts in; /* inbound differences */
	double tcp_open;	/* inbound connections open now */
};

/* stats_pod_window - pod key's inbound figures over window seconds */
void stats_pod_window(const struct stats_store *s, const char *key,
		      double window, struct stats_window *out);

/*
 * stats_pod_outbound - call fn(arg, authority, counts, seconds) for each
 * authority pod `key` sent requests to within the window (counts are the
 * differences; authorities with no request in it are skipped).
 */
void stats_pod_outbound(const struct stats_store *s, const char *key,
			double window,
			void (*fn)(void *arg, const char *authority,
				   const struct stats_counts *c, double seconds),
			void *arg);

/* stats_counts_add - a += b */
void stats_counts_add(struct stats_counts *a, const struct stats_counts *b);
/*
 * stats_quantile - the q-quantile (0..1) of the latency histogram in c,
 * in ms, interpolated within its bucket like histogram_quantile(); NaN
 * when c counts nothing. In the +Inf bucket: the highest finite bound.
 */
double stats_quantile(const struct stats_counts *c, double q);

/*
 * stats_put - add to pod key's figures over the last `seconds` as another
 * backend computed them (the Prometheus one: promql.h), for a store used
 * only that way. authority NULL: inbound counts c and open connections
 * tcp_open; else that authority's outbound counts (tcp_open ignored; past
 * STATS_MAX_AUTHORITIES dropped). c NULL: the pod is known, nothing
 * counted. Afterwards stats_pod_window and stats_pod_outbound answer, for
 * any window, with has_data, these seconds and the sums put.
 */
void stats_put(struct stats_store *s, const char *key, double seconds,
	       const char *authority, const struct stats_counts *c,
	       double tcp_open);

#endif
