/* SPDX-License-Identifier: Apache-2.0 */
/* time.h - monotonic clocks and Go-style durations ("100ms", "1m30s") */
#ifndef CONDUIT_TIME_H
#define CONDUIT_TIME_H

#include <stdint.h>
#include <stddef.h>

#define NSEC_PER_USEC 1000LL
#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC 1000000000LL

/* time_mono_ns - CLOCK_MONOTONIC in nanoseconds: for intervals only */
int64_t time_mono_ns(void);
/* time_mono_ms - CLOCK_MONOTONIC in milliseconds */
int64_t time_mono_ms(void);
/* time_wall_ns - CLOCK_REALTIME in nanoseconds since the epoch */
int64_t time_wall_ns(void);

/*
 * time_parse_duration - a duration as Go and Kubernetes write it: one or
 * more <number><unit> with units ns, us (or µs), ms, s, m, h, decimals
 * allowed ("1.5s", "1m30s", "250ms"); "0" alone is zero. Negative values
 * are refused. Stores nanoseconds in *ns. Returns 0, -EINVAL (malformed:
 * no unit, unknown unit, empty) or -ERANGE (overflows int64 ns).
 */
int time_parse_duration(const char *s, int64_t *ns);

/*
 * time_format_duration - ns as the shortest Go-style string ("1m30s",
 * "250ms", "1.5s", "0s") into buf. Returns buf.
 */
char *time_format_duration(int64_t ns, char *buf, size_t size);

/* time_format_rfc3339 - wall ns as "2026-11-25T06:19:00Z"; returns buf */
char *time_format_rfc3339(int64_t wall_ns, char *buf, size_t size);

#endif
