/* SPDX-License-Identifier: Apache-2.0 */
/* time.c - monotonic clocks and Go-style durations */
#include "conduit/time.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conduit/base.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t time_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / NSEC_PER_MSEC;
}

int64_t time_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	/* longest names first so "ms" is not read as "m" + "s" */
	{ "ns", 1 },
	{ "us", NSEC_PER_USEC },
	{ "\xc2\xb5s", NSEC_PER_USEC }, /* µs, U+00B5 */
	{ "\xce\xbcs", NSEC_PER_USEC }, /* μs, U+03BC */
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC },
	{ "h", 3600 * NSEC_PER_SEC },
};

int time_parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	while (*s) {
		uint64_t whole = 0, frac = 0, scale = 1;
		bool digits = false;
		int64_t unit = 0;
		size_t ulen = 0;
		__int128 v;

		while (*s >= '0' && *s <= '9') {
			uint64_t d = (uint64_t)(*s++ - '0');

			/* check before multiplying: whole * 10 can wrap */
			if (whole > ((uint64_t)INT64_MAX - d) / 10)
				return -ERANGE;
			whole = whole * 10 + d;
			digits = true;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				/* beyond 1e-18 of a unit nothing is representable */
				if (scale < 1000000000000000000ULL) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
				s++;
				digits = true;
			}
		}
		if (!digits)
			return -EINVAL;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].name);

			if (strncmp(s, units[i].name, n) == 0 && n > ulen) {
				unit = units[i].ns;
				ulen = n;
			}
		}
		if (!unit)
			return -EINVAL;
		s += ulen;
		v = (__int128)whole * unit + (__int128)frac * unit / scale;
		if (v > INT64_MAX - total)
			return -ERANGE;
		total += (int64_t)v;
	}
	*out = total;
	return 0;
}

char *time_format_duration(int64_t ns, char *buf, size_t size)
{
	char tmp[64];
	size_t n = 0;
	uint64_t u;
	bool neg = ns < 0;

	u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	if (u == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	if (u < (uint64_t)NSEC_PER_SEC) {
		/* sub-second: one unit, with decimals as needed */
		const char *unit = "ns";
		uint64_t div = 1;
		char frac[16] = "";

		if (u >= (uint64_t)NSEC_PER_MSEC) {
			unit = "ms";
			div = NSEC_PER_MSEC;
		} else if (u >= (uint64_t)NSEC_PER_USEC) {
			unit = "us";
			div = NSEC_PER_USEC;
		}
		if (u % div) {
			int w = div == NSEC_PER_MSEC ? 6 : 3;
			size_t l;

			snprintf(frac, sizeof(frac), ".%0*llu", w,
				 (unsigned long long)(u % div));
			l = strlen(frac);
			while (l > 1 && frac[l - 1] == '0')
				frac[--l] = '\0';
		}
		snprintf(buf, size, "%s%llu%s%s", neg ? "-" : "",
			 (unsigned long long)(u / div), frac, unit);
		return buf;
	}
	if (neg)
		tmp[n++] = '-';
	if (u >= 3600ULL * NSEC_PER_SEC)
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%lluh",
				      (unsigned long long)(u / (3600ULL * NSEC_PER_SEC)));
	if (u >= 60ULL * NSEC_PER_SEC)
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llum",
				      (unsigned long long)(u / (60ULL * NSEC_PER_SEC) % 60));
	n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llu",
			      (unsigned long long)(u / NSEC_PER_SEC % 60));
	if (u % NSEC_PER_SEC) {
		char frac[16];
		size_t l;

		snprintf(frac, sizeof(frac), ".%09llu",
			 (unsigned long long)(u % NSEC_PER_SEC));
		l = strlen(frac);
		while (frac[l - 1] == '0')
			frac[--l] = '\0';
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%s", frac);
	}
	snprintf(tmp + n, sizeof(tmp) - n, "s");
	snprintf(buf, size, "%s", tmp);
	return buf;
}

char *time_format_rfc3339(int64_t wall_ns, char *buf, size_t size)
{
	time_t t = (time_t)(wall_ns / NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}
