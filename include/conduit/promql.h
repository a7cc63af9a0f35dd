/* SPDX-License-Identifier: Apache-2.0 */
/* promql.h - the public API's Prometheus backend: PromQL over Prometheus' HTTP API */
#ifndef CONDUIT_PROMQL_H
#define CONDUIT_PROMQL_H

#include <ev.h>

#include "conduit/base.h"
#include "conduit/sock.h"
#include "conduit/stats.h"

struct json;

/*
 * With --prometheus-url the public API answers /api/v1/stat and
 * /api/v1/edges from a Prometheus that scrapes the proxies, instead of
 * from its own scraper. It asks per pod (sum by namespace, pod) over the
 * proxies' Linkerd-named series, puts the answers into a struct
 * stats_store (stats_put) and groups pods into deployments, namespaces
 * and services with the cluster cache, exactly as the embedded backend
 * does, so the two answer alike for the same traffic.
 *
 * A window's counts are not increase(): Prometheus extrapolates that to
 * the window's edges, so 100 requests read as 101.7. They are what the
 * embedded store computes, the newest value minus the one `window` ago,
 * a drop (a restart) counting from zero, a series younger than the
 * window counting from zero:
 *
 *   (sum by (L) (M{S}) - sum by (L) (M{S} offset W)) >= 0
 *     or sum by (L) (M{S})
 *
 * Latency quantiles are interpolated from the summed le buckets by
 * stats_quantile(), the arithmetic of histogram_quantile(). RPS is the
 * requests over the window, which is what rate() reads.
 *
 * A pod with no traffic is still known (rps 0, not "-") when its `up`
 * series carries namespace and pod target labels, as install's scrape
 * config gives them. Only http:// (no TLS); the host is resolved once, at
 * start.
 */

/* --- query building (pure) ---------------------------------------------- */

/*
 * promql_duration - seconds as a PromQL duration: "60s", "1500ms".
 * Returns 0, or -EINVAL (not above 0, over a day) / -ENOSPC.
 */
int promql_duration(double seconds, char *out, size_t size);

/*
 * promql_quote - s as a PromQL string literal with its quotes ("a\"b").
 * Returns 0, or -ENOSPC.
 */
int promql_quote(const char *s, char *out, size_t size);

/*
 * promql_delta - the query above: metric's difference over window
 * seconds, summed by the labels `by` ("namespace, pod, classification"),
 * selected by the matchers `match` ("direction=\"inbound\""; may be "").
 * Returns 0, or -EINVAL (bad window) / -ENOSPC.
 */
int promql_delta(const char *metric, const char *match, const char *by,
		 double window, char *out, size_t size);

/*
 * promql_url_encode - s for a query string: everything but
 * [A-Za-z0-9._~-] as %XX. Returns 0, or -ENOSPC.
 */
int promql_url_encode(const char *s, char *out, size_t size);

/* --- answers (pure) ------------------------------------------------------ */

/* one element of an instant vector (borrowed for the callback) */
struct promql_sample {
	const struct json *metric; /* the label object */
	double value;		   /* may be NaN or +-Inf */
};

/* promql_label - a sample's label, or NULL (absent, or not a string) */
const char *promql_label(const struct promql_sample *s, const char *name);

/*
 * promql_parse_vector - a /api/v1/query answer of len bytes (no NUL
 * needed): {"status":"success","data":{"resultType":"vector","result":
 * [{"metric":{...},"value":[T,"V"]}, ...]}}. Calls fn(arg, sample) for
 * each element, in order; fn returning non-zero stops and is returned.
 * Returns 0; -EREMOTEIO when Prometheus said "error" (its errorType and
 * error in err); -EPROTO when it is not such an answer (why in err);
 * -E2BIG past max_samples elements (none is passed then).
 */
int promql_parse_vector(const char *body, size_t len, size_t max_samples,
			int (*fn)(void *arg, const struct promql_sample *s),
			void *arg, char *err, size_t errlen);

/* promql_le_index - the stats bucket of an le label value, or -1 */
int promql_le_index(const char *le);

/* --- the client ---------------------------------------------------------- */

struct promql_config {
	struct ev_loop *loop;
	const char *url;	/* http://HOST:PORT[/PREFIX]; copied */
	double timeout;		/* s a query may take (5: under the CLI's
				 * 10, so a slow Prometheus is named) */
	size_t max_body;	/* bytes of one answer (16 MiB) */
	size_t max_samples;	/* elements of one answer (200000) */
};

/*
 * promql_url_parse - check url (http://HOST:PORT[/PREFIX], HOST a name
 * or an IP, [v6]) and resolve it (BLOCKING: at start only). Stores the
 * address and the path prefix without its trailing '/' ("" for none).
 * Returns 0, or -EINVAL / -ENOENT with the reason in err.
 */
int promql_url_parse(const char *url, struct sock_addr *addr, char *prefix,
		     size_t prefix_size, char *err, size_t errlen);

struct promql;

/* promql_new - a client (resolves the URL: BLOCKING); NULL with why in
 * err. Free with promql_free() (NULL: no-op; fetches in flight end with
 * no callback: cancel them first). */
struct promql *promql_new(const struct promql_config *cfg, char *err,
			  size_t errlen);
void promql_free(struct promql *p);

/* promql_url - the URL it asks, as given (borrowed) */
const char *promql_url(const struct promql *p);

/* what a fetch asks for */
enum {
	PROMQL_INBOUND = 1 << 0,	 /* responses, latency, TCP, up */
	PROMQL_OUTBOUND = 1 << 1,	 /* responses by authority */
	PROMQL_OUTBOUND_LATENCY = 1 << 2, /* and their latency */
};

struct promql_fetch;

/*
 * promql_fetch_done - a fetch is over. status 200: store holds every
 * pod's figures ("ns/pod" keys; borrowed, freed when the callback
 * returns). Else store is NULL and err says why: 503 (Prometheus could
 * not be reached or did not answer in time), 502 (it answered something
 * else than a vector, an error, or too much).
 */
typedef void (*promql_fetch_done)(void *arg, struct stats_store *store,
				  int status, const char *err);

/*
 * promql_fetch - ask, concurrently, what `what` needs over window
 * seconds for namespace ns (NULL: every one), and call done once, from
 * the loop. Stores the fetch in *out (may be NULL), valid until done is
 * called or promql_fetch_cancel(). Returns 0, or -EINVAL (bad window).
 */
int promql_fetch(struct promql *p, unsigned what, const char *ns,
		 double window, promql_fetch_done done, void *arg,
		 struct promql_fetch **out);

/* promql_fetch_cancel - give up: no callback follows */
void promql_fetch_cancel(struct promql_fetch *f);

#endif
