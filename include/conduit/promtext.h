/* SPDX-License-Identifier: Apache-2.0 */
/* promtext.h - a reader of the Prometheus text exposition format (0.0.4) */
#ifndef CONDUIT_PROMTEXT_H
#define CONDUIT_PROMTEXT_H

#include <sys/types.h>

#include "conduit/base.h"

/*
 * Reads what a /metrics endpoint answers: one sample a line,
 * `name{label="value",...} value [timestamp]`, with `# HELP` / `# TYPE`
 * and other comments skipped, label values unescaped (\\, \", \n), values
 * as Go's ParseFloat reads them (NaN, +Inf, -Inf included). Bounded: a
 * line of at most PROMTEXT_MAX_LINE bytes, PROMTEXT_MAX_LABELS labels.
 */

#define PROMTEXT_MAX_LINE (64u << 10)
#define PROMTEXT_MAX_LABELS 32

struct promtext_label {
	const char *name, *value; /* NUL-terminated, valid for the call */
};

struct promtext_sample {
	const char *name;
	struct promtext_label labels[PROMTEXT_MAX_LABELS];
	size_t nlabels;
	double value;
};

/*
 * promtext_parse - call fn(arg, sample) for every sample of text[0..len)
 * (the sample is borrowed for the call). fn returns 0 to go on, anything
 * else to stop: then that is returned. Returns 0, or -EINVAL with
 * "line N: why" in err for the first malformed line (samples before it
 * were delivered).
 */
int promtext_parse(const char *text, size_t len,
		   int (*fn)(void *arg, const struct promtext_sample *s),
		   void *arg, char *err, size_t errlen);

/* promtext_label - the value of label name in s, or NULL */
const char *promtext_label(const struct promtext_sample *s, const char *name);

#endif
