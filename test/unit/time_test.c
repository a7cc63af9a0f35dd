/* SPDX-License-Identifier: Apache-2.0 */
/*
 * time_test.c - unit tests for time.c: clocks, durations, RFC 3339.
 * Durations read as Go's time.ParseDuration does: a number needs a digit
 * on one side of its point (".5s" and "1.s" are fine, "." is not), "0" is
 * the only number without a unit, and signs are refused.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "conduit/base.h"
#include "conduit/time.h"
#include "suites.h"

#define MS NSEC_PER_MSEC
#define SEC NSEC_PER_SEC
#define MINUTE (60 * SEC)
#define HOUR (3600 * SEC)

START_TEST(test_mono_non_decreasing)
{
	int64_t prev = time_mono_ns(), prev_ms = time_mono_ms();

	ck_assert_int_gt(prev, 0);
	for (int i = 0; i < 100000; i++) {
		int64_t now = time_mono_ns(), now_ms = time_mono_ms();

		ck_assert_int_ge(now, prev);
		ck_assert_int_ge(now_ms, prev_ms);
		prev = now;
		prev_ms = now_ms;
	}
	/* the two clocks agree */
	ck_assert_int_le(prev / MS - time_mono_ms(), 0);
	ck_assert_int_ge(prev / MS - time_mono_ms(), -1000);
}
END_TEST

START_TEST(test_mono_advances)
{
	struct timespec ts = { 0, 20 * MS };
	int64_t t0 = time_mono_ns(), m0 = time_mono_ms();

	nanosleep(&ts, NULL);
	ck_assert_int_ge(time_mono_ns() - t0, 20 * MS);
	ck_assert_int_ge(time_mono_ms() - m0, 19);
}
END_TEST

START_TEST(test_wall)
{
	int64_t wall = time_wall_ns();
	int64_t now = (int64_t)time(NULL) * SEC;

	ck_assert_int_ge(wall, now - 2 * SEC);
	ck_assert_int_le(wall, now + 2 * SEC);
}
END_TEST

START_TEST(test_parse_good)
{
	static const struct {
		const char *in;
		int64_t want;
	} cases[] = {
		{ "0", 0 },
		{ "0s", 0 },
		{ "0ms", 0 },
		{ "100ms", 100 * MS },
		{ "1.5s", 1500 * MS },
		{ "1m30s", 90 * SEC },
		{ "2h", 2 * HOUR },
		{ "1us", 1000 },
		{ "1\xc2\xb5s", 1000 },	 /* µs, micro sign */
		{ "1\xce\xbcs", 1000 },	 /* μs, Greek mu */
		{ "300ns", 300 },
		{ "1h0m0s", HOUR },
		{ "1h2m3s4ms5us6ns", HOUR + 2 * MINUTE + 3 * SEC + 4 * MS + 5000 + 6 },
		{ "250ms", 250 * MS },
		{ "90s", 90 * SEC },
		{ "1.25m", 75 * SEC },
		{ "0.5h", 30 * MINUTE },
		{ ".5s", 500 * MS },	 /* as Go: no digit before the point */
		{ "1.s", SEC },		 /* as Go: no digit after the point */
		{ "1.000000001s", SEC + 1 },
		{ "1.0000000001s", SEC }, /* below 1ns is dropped */
		{ "007s", 7 * SEC },
		{ "1s1s", 2 * SEC },	 /* units may repeat, as in Go */
		{ "1ms1m", MS + MINUTE },	 /* "ms" is not read as "m" + "s" */
		{ "10m", 10 * MINUTE },
		{ "9223372036854775807ns", INT64_MAX },
		{ "2562047h47m16.854775807s", INT64_MAX },
		{ "0.000000000000000000001h", 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t ns = -1;
		int r = time_parse_duration(cases[i].in, &ns);

		ck_assert_msg(r == 0, "\"%s\": %d", cases[i].in, r);
		ck_assert_msg(ns == cases[i].want, "\"%s\": %lld, want %lld",
			      cases[i].in, (long long)ns,
			      (long long)cases[i].want);
	}
}
END_TEST

START_TEST(test_parse_bad)
{
	static const char *const bad[] = {
		"", "5", "ms", "1x", "-1s", "+1s", "1", "s", ".", ".s",
		"1 s", " 1s", "1s ", "1m30", "1.5", "1.5.5s", "1e3s", "1sm",
		"1S", "1Ms", "00", "0x10s", "1ms-", "1h-1m", "1mn", "1d",
		"\xc2\xb5s", /* µs with no number */
		"1\xc2s",     /* half a µ */
		"one",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t ns = 12345;
		int r = time_parse_duration(bad[i], &ns);

		ck_assert_msg(r == -EINVAL, "\"%s\": %d", bad[i], r);
		ck_assert_int_eq(ns, 12345); /* untouched on error */
	}
	ck_assert_int_eq(time_parse_duration(NULL, &(int64_t){ 0 }), -EINVAL);
}
END_TEST

START_TEST(test_parse_overflow)
{
	static const char *const big[] = {
		"9223372036854775808ns",
		"9223372036854775807ns1ns",
		"2562047h47m16.854775808s",
		"2562048h",
		"9223372036855ms",
		"18446744073709551616ns",
		/* 20 digits: wraps a uint64 if unchecked */
		"20000000000000000000ns",
		"99999999999999999999s",
		"123456789012345678901234567890ns",
		"9223372036854775807h",
		"5124095576030431h",
	};

	for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
		int64_t ns = 12345;
		int r = time_parse_duration(big[i], &ns);

		ck_assert_msg(r == -ERANGE, "\"%s\": %d (%lld)", big[i], r,
			      (long long)ns);
		ck_assert_int_eq(ns, 12345);
	}
}
END_TEST

START_TEST(test_format_exact)
{
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1ns" },
		{ 999, "999ns" },
		{ 1000, "1us" },
		{ 1500, "1.5us" },
		{ 1001, "1.001us" },
		{ MS, "1ms" },
		{ 1500 * 1000, "1.5ms" },
		{ MS + 1, "1.000001ms" },
		{ 100 * MS, "100ms" },
		{ 250 * MS, "250ms" },
		{ 999999999, "999.999999ms" },
		{ SEC, "1s" },
		{ 1500 * MS, "1.5s" },
		{ SEC + 1, "1.000000001s" },
		{ 59 * SEC, "59s" },
		{ 60 * SEC, "1m0s" },
		{ 90 * SEC, "1m30s" },
		{ 90 * SEC + 500 * MS, "1m30.5s" },
		{ HOUR, "1h0m0s" },
		{ 2 * HOUR, "2h0m0s" },
		{ HOUR + MINUTE + SEC, "1h1m1s" },
		{ 100 * HOUR, "100h0m0s" },
		{ INT64_MAX, "2562047h47m16.854775807s" },
		{ -1500 * MS, "-1.5s" },
		{ -1, "-1ns" },
		{ -250 * MS, "-250ms" },
		{ -90 * SEC, "-1m30s" },
		{ INT64_MIN, "-2562047h47m16.854775808s" },
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ck_assert_ptr_eq(time_format_duration(cases[i].ns, buf,
						      sizeof(buf)),
				 buf);
		ck_assert_str_eq(buf, cases[i].want);
	}
}
END_TEST

START_TEST(test_format_small_buffer)
{
	char buf[4];

	/* truncated, but always terminated */
	ck_assert_str_eq(time_format_duration(90 * SEC, buf, sizeof(buf)),
			 "1m3");
	ck_assert_str_eq(time_format_duration(250 * MS, buf, sizeof(buf)),
			 "250");
}
END_TEST

START_TEST(test_round_trip_canonical)
{
	static const char *const canon[] = {
		"0s",	   "1ns",	  "999ns",    "1us",	"1.5us",
		"1ms",	   "1.5ms",	  "250ms",    "1s",	"1.5s",
		"59.999s", "1m0s",	  "1m30s",    "1h0m0s", "2h30m0.001s",
		"1h1m1s",  "24h0m0s", "2562047h47m16.854775807s",
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(canon); i++) {
		int64_t ns;

		ck_assert_msg(time_parse_duration(canon[i], &ns) == 0, "%s",
			      canon[i]);
		ck_assert_str_eq(time_format_duration(ns, buf, sizeof(buf)),
				 canon[i]);
	}
}
END_TEST

START_TEST(test_round_trip_values)
{
	uint64_t x = 88172645463325252ULL;
	char buf[64];

	/* parse(format(ns)) == ns over every magnitude */
	for (int i = 0; i < 20000; i++) {
		int64_t ns, back;

		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		ns = (int64_t)(x >> (1 + i % 63));
		time_format_duration(ns, buf, sizeof(buf));
		ck_assert_msg(time_parse_duration(buf, &back) == 0, "%s", buf);
		ck_assert_msg(back == ns, "%lld -> %s -> %lld", (long long)ns,
			      buf, (long long)back);
	}
}
END_TEST

START_TEST(test_rfc3339)
{
	char buf[64];

	ck_assert_str_eq(time_format_rfc3339(0, buf, sizeof(buf)),
			 "1970-01-01T00:00:00Z");
	ck_assert_str_eq(time_format_rfc3339(1700000000 * SEC, buf,
					     sizeof(buf)),
			 "2023-11-14T22:13:20Z");
	/* sub-second parts are dropped, never rounded up */
	ck_assert_str_eq(time_format_rfc3339(1700000000 * SEC + 999999999, buf,
					     sizeof(buf)),
			 "2023-11-14T22:13:20Z");
	ck_assert_str_eq(time_format_rfc3339(951782400 * SEC, buf, sizeof(buf)),
			 "2000-02-29T00:00:00Z");
	ck_assert_ptr_eq(time_format_rfc3339(0, buf, sizeof(buf)), buf);
}
END_TEST

START_TEST(test_rfc3339_now)
{
	char buf[64];
	struct tm tm = { 0 };
	const char *end;
	int64_t wall = time_wall_ns();

	time_format_rfc3339(wall, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), strlen("2026-11-25T06:19:00Z"));
	end = strptime(buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ck_assert_ptr_nonnull(end);
	ck_assert_str_eq(end, "");
	ck_assert_int_eq((int64_t)timegm(&tm), wall / SEC);
}
END_TEST

Suite *time_suite(void)
{
	Suite *s = suite_create("time");
	TCase *tc = tcase_create("clock");

	tcase_add_test(tc, test_mono_non_decreasing);
	tcase_add_test(tc, test_mono_advances);
	tcase_add_test(tc, test_wall);
	suite_add_tcase(s, tc);

	tc = tcase_create("duration");
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_parse_overflow);
	tcase_add_test(tc, test_format_exact);
	tcase_add_test(tc, test_format_small_buffer);
	tcase_add_test(tc, test_round_trip_canonical);
	tcase_add_test(tc, test_round_trip_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc3339");
	tcase_add_test(tc, test_rfc3339);
	tcase_add_test(tc, test_rfc3339_now);
	suite_add_tcase(s, tc);
	return s;
}
