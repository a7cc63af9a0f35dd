/* SPDX-License-Identifier: Apache-2.0 */
/*
 * duration_fuzz.c - libFuzzer target for time_parse_duration() and
 * time_format_duration(): a parsed duration is never negative, and it
 * formats to text that parses back to the same nanoseconds.
 *   make B=build build/fuzz/bin/duration
 *   build/fuzz/bin/duration -max_total_time=20 test/fuzz/corpus/duration
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/base.h"
#include "conduit/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* round_trip - format ns, parse it back; the same value and text */
static void round_trip(int64_t ns)
{
	char text[64], again[64];
	int64_t back = -1;

	time_format_duration(ns, text, sizeof(text));
	BUG_ON(time_parse_duration(text, &back));
	BUG_ON(back != ns);
	BUG_ON(strcmp(time_format_duration(back, again, sizeof(again)), text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), tiny[5];
	int64_t ns = -1, raw;
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = time_parse_duration(s, &ns);
	BUG_ON(r != 0 && r != -EINVAL && r != -ERANGE);
	if (r == 0) {
		BUG_ON(ns < 0);
		round_trip(ns);
	}
	free(s);

	/* the raw bytes as nanoseconds: every value formats, even into a
	 * buffer too small for it, and non-negative ones round-trip */
	if (size >= sizeof(raw)) {
		memcpy(&raw, data, sizeof(raw));
		time_format_duration(raw, tiny, sizeof(tiny));
		BUG_ON(strlen(tiny) >= sizeof(tiny));
		if (raw >= 0)
			round_trip(raw);
	}
	return 0;
}
