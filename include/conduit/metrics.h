/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h - a Prometheus registry: counters, gauges, histograms, text format */
#ifndef CONDUIT_METRICS_H
#define CONDUIT_METRICS_H

#include "conduit/base.h"
#include "conduit/buf.h"

/*
 * A registry holds metric families; a family holds series, one per label
 * value set. The hot path never looks anything up: a caller finds (or
 * creates) its series once, when a connection or a route is set up, keeps
 * the pointer, and updates it with an add or a store. Nothing is freed
 * before metrics_registry_free(), so a kept pointer stays valid for the
 * registry's life.
 *
 * Output is the Prometheus text format 0.0.4: HELP and TYPE lines, families
 * sorted by name, series sorted by their label text, so two scrapes of the
 * same state are byte for byte equal whatever order series were created in.
 *
 * Values are doubles: integers count exactly up to 2^53 (8 PiB of bytes),
 * and a counter may carry fractions (process_cpu_seconds_total).
 *
 * Single-threaded: one registry per worker loop.
 */

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* the most labels a family may have */
#define METRICS_MAX_LABELS 24

/*
 * Linkerd's response_latency_ms bounds (ms), +Inf implied, so its PromQL
 * and dashboards work unchanged.
 */
extern const double metrics_latency_ms_bounds[];
extern const size_t metrics_latency_ms_nbounds;

struct metrics_registry;
struct metrics_family;

/*
 * One series. Callers update it through the inline helpers below; the
 * fields are public so those stay inline and free of calls.
 */
struct metrics_series {
	struct metrics_family *family; /* owner */
	char *labels;	  /* rendered: a="x",b="y" (escaped), "" for none */
	double value;	  /* counter or gauge */
	/* histogram: counts per bucket (not cumulative; the last is +Inf) */
	uint64_t *buckets;
	const double *bounds; /* the family's, borrowed */
	size_t nbounds;	      /* bounds without +Inf */
	double sum;
	uint64_t count;
};

/* metrics_registry_new - an empty registry; free with metrics_registry_free */
struct metrics_registry *metrics_registry_new(void);
/* metrics_registry_free - everything: every series pointer dies; NULL ok */
void metrics_registry_free(struct metrics_registry *r);

/*
 * metrics_family_new - register a family. name and help are copied;
 * label_names (nlabels of them, copied) must be valid Prometheus label
 * names and not "le" for histograms. bounds (histograms only, ascending,
 * finite; copied) may be NULL for the latency bounds above. Returns the
 * family (owned by the registry), or NULL: -EEXIST (name taken) or
 * -EINVAL (a bad name), with the reason in *err when err is not NULL.
 * Registration happens at startup: callers usually die() on NULL.
 */
struct metrics_family *metrics_family_new(struct metrics_registry *r,
					  enum metrics_type type,
					  const char *name, const char *help,
					  const char *const *label_names,
					  size_t nlabels, const double *bounds,
					  size_t nbounds);

/* metrics_family_find - the family called name, or NULL */
struct metrics_family *metrics_family_find(const struct metrics_registry *r,
					   const char *name);

/*
 * metrics_family_set_max_series - cap the number of series (default
 * METRICS_DEFAULT_MAX_SERIES), so a label fed by the network (a target
 * address) cannot grow memory without bound. Past the cap,
 * metrics_series_get returns the family's overflow series: updates land
 * there and are never written out (a warning is logged once).
 */
#define METRICS_DEFAULT_MAX_SERIES 10000
void metrics_family_set_max_series(struct metrics_family *f, size_t max);

/*
 * metrics_series_get - the series of f with these label values (one per
 * label name, in order; any bytes, escaped on output; an empty or NULL
 * value leaves the label out of the text, which Prometheus reads the
 * same), created at zero
 * on first use. Never NULL: on allocation failure or past the cap it
 * returns the family's overflow series. Not for the hot path: keep the
 * pointer. Borrowed: valid until the registry is freed.
 */
struct metrics_series *metrics_series_get(struct metrics_family *f,
					  const char *const *values);

/* metrics_series_count - series in f (without the overflow one) */
size_t metrics_series_count(const struct metrics_family *f);

/* Hot-path updates: no allocation, no lookup. */
static inline void metrics_counter_add(struct metrics_series *s, double n)
{
	s->value += n;
}

static inline void metrics_counter_inc(struct metrics_series *s)
{
	s->value += 1;
}

static inline void metrics_gauge_set(struct metrics_series *s, double v)
{
	s->value = v;
}

static inline void metrics_gauge_add(struct metrics_series *s, double n)
{
	s->value += n;
}

/*
 * metrics_histogram_observe - count v in the first bucket whose bound is
 * >= v (Prometheus' le: "less than or equal"), else in +Inf. A binary
 * search over the bounds; no allocation.
 */
void metrics_histogram_observe(struct metrics_series *s, double v);

/*
 * metrics_registry_add_collector - fn(r, arg) runs at the start of every
 * metrics_write_text, to refresh values computed on demand (process
 * memory, CPU). Collectors run in the order added.
 */
int metrics_registry_add_collector(struct metrics_registry *r,
				   void (*fn)(struct metrics_registry *r,
					      void *arg),
				   void *arg);

/*
 * metrics_write_text - append the whole registry in the text format 0.0.4
 * to out. Returns 0, or -ENOBUFS / -ENOMEM when out cannot take it (out
 * then holds a truncated text: the caller discards it).
 */
int metrics_write_text(struct metrics_registry *r, struct buf *out);

/*
 * metrics_register_process - process_start_time_seconds,
 * process_cpu_seconds_total (getrusage), process_resident_memory_bytes and
 * process_virtual_memory_bytes (/proc/self/statm), process_open_fds and
 * process_max_fds, refreshed at every write. Returns 0 or -EEXIST.
 */
int metrics_register_process(struct metrics_registry *r);

/*
 * metrics_format_value - v as the text format writes it: integers without
 * a fraction, else the shortest text that reads back as v; NaN, +Inf,
 * -Inf. Returns buf (at least 32 bytes).
 */
char *metrics_format_value(double v, char *buf, size_t size);

/*
 * metrics_valid_name / metrics_valid_label_name - [a-zA-Z_:][a-zA-Z0-9_:]*
 * and [a-zA-Z_][a-zA-Z0-9_]* (labels starting "__" are reserved).
 */
bool metrics_valid_name(const char *s);
bool metrics_valid_label_name(const char *s);

#endif
