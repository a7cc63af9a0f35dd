/* SPDX-License-Identifier: Apache-2.0 */
/* flag_test.c - unit tests for flag.c: flag forms, env, errors, usage */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/flag.h"
#include "conduit/time.h"
#include "suites.h"

/* --- the command under test ------------------------------------------------ */

static bool verbose, tls;
static const char *addr;
static long long port, workers;
static int64_t timeout;
static int mode;

static int parse_mode(const char *arg, void *value, char *err, size_t errlen)
{
	static const char *const modes[] = { "strict", "lax", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		if (strcmp(arg, modes[i]) == 0) {
			*(int *)value = (int)i;
			return 0;
		}
	}
	snprintf(err, errlen, "want strict, lax or off");
	return -EINVAL;
}

static const struct flag test_flags[] = {
	{ .type = FLAG_BOOL, .short_name = 'v', .long_name = "verbose",
	  .value = &verbose, .help = "log more", .env = "TEST_VERBOSE" },
	{ .type = FLAG_BOOL, .long_name = "tls", .value = &tls,
	  .help = "use TLS" },
	{ .type = FLAG_STRING, .short_name = 'a', .long_name = "addr",
	  .value = &addr, .arg_name = "ADDR", .help = "listen address",
	  .env = "TEST_ADDR" },
	{ .type = FLAG_INT, .short_name = 'p', .long_name = "port",
	  .value = &port, .arg_name = "PORT", .help = "port to use",
	  .env = "TEST_PORT", .min = 1, .max = 65535 },
	{ .type = FLAG_INT, .long_name = "workers", .value = &workers,
	  .arg_name = "N", .help = "worker count" },
	{ .type = FLAG_DURATION, .short_name = 't', .long_name = "timeout",
	  .value = &timeout, .arg_name = "DURATION",
	  .help = "how long to wait", .env = "TEST_TIMEOUT" },
	{ .type = FLAG_FUNC, .short_name = 'm', .long_name = "mode",
	  .value = &mode, .arg_name = "MODE", .help = "checking mode",
	  .env = "TEST_MODE", .parse = parse_mode, .def_text = "strict" },
	{ FLAG_END },
};

static const struct flag_cmd test_cmd = {
	.name = "test",
	.usage = "conduit test [flags] [FILE...]",
	.summary = "Test the flag parser.",
	.flags = test_flags,
	.min_args = 0,
	.max_args = -1,
};

static const char *const test_env[] = {
	"TEST_VERBOSE", "TEST_ADDR", "TEST_PORT", "TEST_TIMEOUT", "TEST_MODE",
};

static void setup(void)
{
	verbose = false;
	tls = true;
	addr = "0.0.0.0:4143";
	port = 4143;
	workers = 0;
	timeout = 10 * NSEC_PER_SEC;
	mode = 0;
	for (size_t i = 0; i < ARRAY_SIZE(test_env); i++)
		unsetenv(test_env[i]);
}

/* --- running flag_parse with stdout and stderr captured -------------------- */

struct capture {
	int fd, saved;
	FILE *tmp;
};

static void capture_begin(struct capture *c, int fd)
{
	fflush(stdout);
	fflush(stderr);
	c->fd = fd;
	c->tmp = tmpfile();
	ck_assert_ptr_nonnull(c->tmp);
	c->saved = dup(fd);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(fileno(c->tmp), fd), fd);
}

/* capture_end - restore the fd; returns what was written, caller frees */
static char *capture_end(struct capture *c)
{
	long n;
	char *s;

	fflush(stdout);
	fflush(stderr);
	ck_assert_int_eq(dup2(c->saved, c->fd), c->fd);
	close(c->saved);
	n = ftell(c->tmp);
	s = malloc((size_t)n + 1);
	rewind(c->tmp);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, c->tmp), (size_t)n);
	s[n] = '\0';
	fclose(c->tmp);
	return s;
}

/* the result of the last run() */
static int pos_argc;
static char **pos_argv;
static char *out_text, *err_text;

/*
 * run - flag_parse(cmd) over "test" plus the NULL-terminated arguments.
 * Leaves the positionals in pos_argc/pos_argv and what was printed in
 * out_text/err_text.
 */
static int run(const struct flag_cmd *cmd, ...)
{
	static char *vec[32];
	struct capture out, err;
	const char *a;
	va_list ap;
	int n = 0, r;

	vec[n++] = (char *)"test";
	va_start(ap, cmd);
	while ((a = va_arg(ap, const char *)))
		vec[n++] = (char *)a;
	va_end(ap);
	vec[n] = NULL;
	pos_argc = n;
	pos_argv = vec;
	free(out_text);
	free(err_text);
	capture_begin(&out, STDOUT_FILENO);
	capture_begin(&err, STDERR_FILENO);
	r = flag_parse(cmd, &pos_argc, &pos_argv);
	err_text = capture_end(&err);
	out_text = capture_end(&out);
	return r;
}

static void teardown(void)
{
	free(out_text);
	free(err_text);
	out_text = err_text = NULL;
	setup();
}

/* assert_error - r is -EINVAL and stderr is the message and the hint */
static void assert_error(int r, const char *cmd, const char *msg)
{
	char want[512];

	ck_assert_int_eq(r, -EINVAL);
	snprintf(want, sizeof(want),
		 "conduit %s: %s\nRun 'conduit %s --help' for usage.\n", cmd,
		 msg, cmd);
	ck_assert_str_eq(err_text, want);
	ck_assert_str_eq(out_text, "");
}

static void assert_positionals(const char *const *want, int n)
{
	ck_assert_int_eq(pos_argc, n);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(pos_argv[i], want[i]);
	ck_assert_ptr_null(pos_argv[n]);
}

#define RUN(...) run(&test_cmd, __VA_ARGS__, (const char *)NULL)
#define RUN0() run(&test_cmd, (const char *)NULL)

/* --- forms ------------------------------------------------------------------ */

START_TEST(test_long_forms)
{
	ck_assert_int_eq(RUN("--addr=1.2.3.4:80"), FLAG_OK);
	ck_assert_str_eq(addr, "1.2.3.4:80");
	ck_assert_int_eq(RUN("--addr", "5.6.7.8:90"), FLAG_OK);
	ck_assert_str_eq(addr, "5.6.7.8:90");
	ck_assert_int_eq(RUN("--port=80", "--timeout", "1m30s"), FLAG_OK);
	ck_assert_int_eq(port, 80);
	ck_assert_int_eq(timeout, 90 * NSEC_PER_SEC);
	/* a value may contain '=' */
	ck_assert_int_eq(RUN("--addr=a=b"), FLAG_OK);
	ck_assert_str_eq(addr, "a=b");
	/* an empty value is a value */
	ck_assert_int_eq(RUN("--addr="), FLAG_OK);
	ck_assert_str_eq(addr, "");
	ck_assert_int_eq(pos_argc, 0);
	ck_assert_str_eq(err_text, "");
}
END_TEST

START_TEST(test_short_forms)
{
	ck_assert_int_eq(RUN("-a", "1.1.1.1:1"), FLAG_OK);
	ck_assert_str_eq(addr, "1.1.1.1:1");
	ck_assert_int_eq(RUN("-a2.2.2.2:2"), FLAG_OK);
	ck_assert_str_eq(addr, "2.2.2.2:2");
	ck_assert_int_eq(RUN("-a=3.3.3.3:3"), FLAG_OK);
	ck_assert_str_eq(addr, "3.3.3.3:3");
	ck_assert_int_eq(RUN("-p", "8080", "-t100ms", "-m", "lax"), FLAG_OK);
	ck_assert_int_eq(port, 8080);
	ck_assert_int_eq(timeout, 100 * NSEC_PER_MSEC);
	ck_assert_int_eq(mode, 1);
	ck_assert_int_eq(RUN("-p8081"), FLAG_OK);
	ck_assert_int_eq(port, 8081);
}
END_TEST

START_TEST(test_bool_forms)
{
	ck_assert_int_eq(RUN("--verbose"), FLAG_OK);
	ck_assert(verbose);
	ck_assert_int_eq(RUN("--verbose=false"), FLAG_OK);
	ck_assert(!verbose);
	ck_assert_int_eq(RUN("-v"), FLAG_OK);
	ck_assert(verbose);
	ck_assert_int_eq(RUN("-v=0"), FLAG_OK);
	ck_assert(!verbose);
	ck_assert_int_eq(RUN("--tls=false"), FLAG_OK);
	ck_assert(!tls);
	ck_assert_int_eq(RUN("--tls=YES"), FLAG_OK);
	ck_assert(tls);
	/* a bool never takes the next argument: "false" is positional */
	verbose = false;
	ck_assert_int_eq(RUN("--verbose", "false"), FLAG_OK);
	ck_assert(verbose);
	assert_positionals((const char *const[]){ "false" }, 1);
}
END_TEST

START_TEST(test_last_wins)
{
	ck_assert_int_eq(RUN("--port", "1", "-p", "2", "--port=3"), FLAG_OK);
	ck_assert_int_eq(port, 3);
}
END_TEST

START_TEST(test_values_that_look_like_flags)
{
	ck_assert_int_eq(RUN("--addr", "-x", "--workers", "-5"), FLAG_OK);
	ck_assert_str_eq(addr, "-x");
	ck_assert_int_eq(workers, -5);
	ck_assert_int_eq(RUN("-a", "--"), FLAG_OK);
	ck_assert_str_eq(addr, "--");
	ck_assert_int_eq(pos_argc, 0);
}
END_TEST

START_TEST(test_double_dash_ends_flags)
{
	ck_assert_int_eq(RUN("a", "--", "--verbose", "-p", "x", "--"), FLAG_OK);
	assert_positionals((const char *const[]){ "a", "--verbose", "-p", "x",
						  "--" },
			   5);
	ck_assert(!verbose);
	ck_assert_int_eq(port, 4143);
}
END_TEST

START_TEST(test_positionals_mixed)
{
	ck_assert_int_eq(RUN("one", "--port", "80", "two", "-v", "three", "-",
			     "--addr=x:1"),
			 FLAG_OK);
	assert_positionals((const char *const[]){ "one", "two", "three", "-" },
			   4);
	ck_assert_int_eq(port, 80);
	ck_assert(verbose);
	ck_assert_str_eq(addr, "x:1");
}
END_TEST

START_TEST(test_no_arguments)
{
	ck_assert_int_eq(RUN0(), FLAG_OK);
	ck_assert_int_eq(pos_argc, 0);
	ck_assert_ptr_null(pos_argv[0]);
	/* the defaults are untouched */
	ck_assert_str_eq(addr, "0.0.0.0:4143");
	ck_assert_int_eq(port, 4143);
	ck_assert(tls);
	ck_assert_str_eq(out_text, "");
	ck_assert_str_eq(err_text, "");
}
END_TEST

START_TEST(test_int_bounds)
{
	ck_assert_int_eq(RUN("--port", "1"), FLAG_OK);
	ck_assert_int_eq(port, 1);
	ck_assert_int_eq(RUN("--port", "65535"), FLAG_OK);
	ck_assert_int_eq(port, 65535);
	/* no bounds: any long long */
	ck_assert_int_eq(RUN("--workers", "-9223372036854775808"), FLAG_OK);
	ck_assert_int_eq(workers, INT64_MIN);
	ck_assert_int_eq(RUN("--workers", "9223372036854775807"), FLAG_OK);
	ck_assert_int_eq(workers, INT64_MAX);
}
END_TEST

START_TEST(test_duration_and_func)
{
	ck_assert_int_eq(RUN("--timeout=0", "--mode=off"), FLAG_OK);
	ck_assert_int_eq(timeout, 0);
	ck_assert_int_eq(mode, 2);
	ck_assert_int_eq(RUN("-t", "1.5s", "-mstrict"), FLAG_OK);
	ck_assert_int_eq(timeout, 1500 * NSEC_PER_MSEC);
	ck_assert_int_eq(mode, 0);
}
END_TEST

/* --- environment ------------------------------------------------------------ */

START_TEST(test_env_fallback)
{
	setenv("TEST_PORT", "9090", 1);
	setenv("TEST_ADDR", "10.0.0.1:9090", 1);
	setenv("TEST_VERBOSE", "true", 1);
	setenv("TEST_TIMEOUT", "2s", 1);
	setenv("TEST_MODE", "off", 1);
	ck_assert_int_eq(RUN0(), FLAG_OK);
	ck_assert_int_eq(port, 9090);
	ck_assert_str_eq(addr, "10.0.0.1:9090");
	ck_assert(verbose);
	ck_assert_int_eq(timeout, 2 * NSEC_PER_SEC);
	ck_assert_int_eq(mode, 2);
}
END_TEST

START_TEST(test_env_empty_ignored)
{
	setenv("TEST_PORT", "", 1);
	setenv("TEST_ADDR", "", 1);
	ck_assert_int_eq(RUN0(), FLAG_OK);
	ck_assert_int_eq(port, 4143);
	ck_assert_str_eq(addr, "0.0.0.0:4143");
}
END_TEST

START_TEST(test_flag_over_env)
{
	setenv("TEST_PORT", "9090", 1);
	setenv("TEST_VERBOSE", "true", 1);
	setenv("TEST_ADDR", "10.0.0.1:9090", 1);
	ck_assert_int_eq(RUN("--port", "80", "--verbose=false", "-a", "x:1"),
			 FLAG_OK);
	ck_assert_int_eq(port, 80);
	ck_assert(!verbose);
	ck_assert_str_eq(addr, "x:1");
}
END_TEST

START_TEST(test_bad_env_overridden_by_flag)
{
	/* the command line wins: its variable is not even read */
	setenv("TEST_PORT", "abc", 1);
	setenv("TEST_VERBOSE", "maybe", 1);
	ck_assert_int_eq(RUN("--port=81", "-v"), FLAG_OK);
	ck_assert_int_eq(port, 81);
	ck_assert(verbose);
	ck_assert_int_eq(RUN("-p", "82", "--verbose"), FLAG_OK);
	ck_assert_int_eq(port, 82);
}
END_TEST

START_TEST(test_help_shows_defaults)
{
	/* neither the environment nor earlier flags change the defaults that
	 * --help prints */
	setenv("TEST_PORT", "9090", 1);
	ck_assert_int_eq(RUN("--port", "80", "--help"), FLAG_HELP);
	ck_assert_ptr_nonnull(strstr(out_text, "(default 4143)"));
	ck_assert_ptr_null(strstr(out_text, "9090"));
	ck_assert_ptr_null(strstr(out_text, "(default 80)"));
	/* after "--", -h is an argument */
	ck_assert_int_eq(RUN("--", "-h"), FLAG_OK);
}
END_TEST

START_TEST(test_env_errors)
{
	setenv("TEST_PORT", "abc", 1);
	assert_error(RUN0(), "test",
		     "invalid value \"abc\" for environment variable "
		     "TEST_PORT: not an integer");
	setenv("TEST_PORT", "70000", 1);
	assert_error(RUN0(), "test",
		     "invalid value \"70000\" for environment variable "
		     "TEST_PORT: out of range 1-65535");
	unsetenv("TEST_PORT");
	setenv("TEST_VERBOSE", "maybe", 1);
	assert_error(RUN0(), "test",
		     "invalid value \"maybe\" for environment variable "
		     "TEST_VERBOSE: want true or false");
	unsetenv("TEST_VERBOSE");
	setenv("TEST_TIMEOUT", "soon", 1);
	assert_error(RUN0(), "test",
		     "invalid value \"soon\" for environment variable "
		     "TEST_TIMEOUT: not a duration (e.g. 100ms, 10s, 1m30s)");
	unsetenv("TEST_TIMEOUT");
	setenv("TEST_MODE", "loud", 1);
	assert_error(RUN0(), "test",
		     "invalid value \"loud\" for environment variable "
		     "TEST_MODE: want strict, lax or off");
}
END_TEST

/* --- errors ----------------------------------------------------------------- */

START_TEST(test_errors)
{
	static const struct {
		const char *args[3];
		const char *msg;
	} cases[] = {
		{ { "--nope" }, "unknown flag: --nope" },
		{ { "--nope=3" }, "unknown flag: --nope" },
		{ { "--verbos" }, "unknown flag: --verbos" },
		{ { "-z" }, "unknown shorthand flag: 'z' in -z" },
		{ { "-zvalue" }, "unknown shorthand flag: 'z' in -zvalue" },
		{ { "--port" }, "flag --port needs an argument: PORT" },
		{ { "-p" }, "flag -p needs an argument: PORT" },
		{ { "x", "--addr" }, "flag --addr needs an argument: ADDR" },
		{ { "--port", "abc" },
		  "invalid value \"abc\" for flag --port: not an integer" },
		{ { "--port=" },
		  "invalid value \"\" for flag --port: not an integer" },
		{ { "--port", "8o" },
		  "invalid value \"8o\" for flag --port: not an integer" },
		{ { "-p", "70000" },
		  "invalid value \"70000\" for flag -p: out of range 1-65535" },
		{ { "--port=0" },
		  "invalid value \"0\" for flag --port: out of range 1-65535" },
		{ { "--workers", "99999999999999999999" },
		  "invalid value \"99999999999999999999\" for flag --workers: "
		  "not an integer" },
		{ { "--timeout", "5" },
		  "invalid value \"5\" for flag --timeout: not a duration "
		  "(e.g. 100ms, 10s, 1m30s)" },
		{ { "-t", "-1s" },
		  "invalid value \"-1s\" for flag -t: not a duration "
		  "(e.g. 100ms, 10s, 1m30s)" },
		{ { "--timeout=9999999999h" },
		  "invalid value \"9999999999h\" for flag --timeout: too large" },
		{ { "--verbose=maybe" },
		  "invalid value \"maybe\" for flag --verbose: want true or "
		  "false" },
		{ { "-vx" },
		  "invalid value \"x\" for flag -v: want true or false" },
		{ { "--mode", "loud" },
		  "invalid value \"loud\" for flag --mode: want strict, lax or "
		  "off" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = run(&test_cmd, cases[i].args[0], cases[i].args[1],
			    cases[i].args[2], (const char *)NULL);

		assert_error(r, "test", cases[i].msg);
	}
}
END_TEST

START_TEST(test_error_stops_parsing)
{
	/* nothing after the bad flag is applied */
	assert_error(RUN("--port", "abc", "--verbose"), "test",
		     "invalid value \"abc\" for flag --port: not an integer");
	ck_assert(!verbose);
}
END_TEST

static int parse_silent(const char *arg, void *value, char *err,
			size_t errlen)
{
	(void)arg;
	(void)value;
	(void)err;
	(void)errlen;
	return -EINVAL;
}

START_TEST(test_func_without_reason)
{
	static int v;
	static const struct flag flags[] = {
		{ .type = FLAG_FUNC, .long_name = "x", .value = &v,
		  .parse = parse_silent },
		{ FLAG_END },
	};
	static const struct flag_cmd cmd = {
		.name = "fn", .usage = "conduit fn", .summary = "s",
		.flags = flags, .max_args = -1,
	};

	assert_error(run(&cmd, "--x=1", (const char *)NULL), "fn",
		     "invalid value \"1\" for flag --x: invalid");
}
END_TEST

START_TEST(test_positional_bounds)
{
	static const struct flag_cmd pair = {
		.name = "pair", .usage = "conduit pair SRC [DST]",
		.summary = "s", .flags = test_flags, .min_args = 1,
		.max_args = 2,
	};
	static const struct flag_cmd two = {
		.name = "two", .usage = "conduit two A B", .summary = "s",
		.min_args = 2, .max_args = 2,
	};
	static const struct flag_cmd none = {
		.name = "none", .usage = "conduit none", .summary = "s",
		.flags = test_flags, .max_args = 0,
	};

	assert_error(run(&pair, (const char *)NULL), "pair",
		     "missing argument (want conduit pair SRC [DST])");
	assert_error(run(&pair, "-v", (const char *)NULL), "pair",
		     "missing argument (want conduit pair SRC [DST])");
	ck_assert_int_eq(run(&pair, "a", (const char *)NULL), FLAG_OK);
	ck_assert_int_eq(run(&pair, "a", "-v", "b", (const char *)NULL),
			 FLAG_OK);
	assert_positionals((const char *const[]){ "a", "b" }, 2);
	assert_error(run(&pair, "a", "b", "-v", "c", "d", (const char *)NULL),
		     "pair", "too many arguments: \"c\" (want conduit pair SRC "
			     "[DST])");
	assert_error(run(&two, (const char *)NULL), "two",
		     "missing arguments (want conduit two A B)");
	assert_error(run(&two, "a", (const char *)NULL), "two",
		     "missing argument (want conduit two A B)");
	assert_error(run(&none, "-v", "x", (const char *)NULL), "none",
		     "unexpected argument \"x\"");
	/* no flag table at all */
	ck_assert_int_eq(run(&two, "a", "b", (const char *)NULL), FLAG_OK);
	assert_error(run(&two, "a", "--b", (const char *)NULL), "two",
		     "unknown flag: --b");
}
END_TEST

/* --- help and usage ----------------------------------------------------------- */

static const char usage_text[] =
	"Test the flag parser.\n"
	"\n"
	"Usage:\n"
	"  conduit test [flags] [FILE...]\n"
	"\n"
	"Flags:\n"
	"  -v, --verbose            log more [$TEST_VERBOSE]\n"
	"      --tls                use TLS (default true)\n"
	"  -a, --addr ADDR          listen address (default \"0.0.0.0:4143\") "
	"[$TEST_ADDR]\n"
	"  -p, --port PORT          port to use (default 4143) [$TEST_PORT]\n"
	"      --workers N          worker count (default 0)\n"
	"  -t, --timeout DURATION   how long to wait (default 10s) "
	"[$TEST_TIMEOUT]\n"
	"  -m, --mode MODE          checking mode (default strict) "
	"[$TEST_MODE]\n"
	"  -h, --help               help for test\n";

START_TEST(test_help)
{
	ck_assert_int_eq(RUN("--help"), FLAG_HELP);
	ck_assert_str_eq(out_text, usage_text);
	ck_assert_str_eq(err_text, "");
	/* help is handled where it appears: later arguments are not read */
	ck_assert_int_eq(RUN("a", "-h", "--nope", "--port", "x"), FLAG_HELP);
	ck_assert_str_eq(out_text, usage_text);
	ck_assert_str_eq(err_text, "");
	ck_assert_int_eq(flag_exit_code(FLAG_HELP), 0);
	ck_assert_int_eq(flag_exit_code(-EINVAL), 2);
	/* after "--" it is an argument */
	ck_assert_int_eq(RUN("--", "--help"), FLAG_OK);
	assert_positionals((const char *const[]){ "--help" }, 1);
}
END_TEST

START_TEST(test_usage_to_file)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	flag_usage(&test_cmd, f);
	fclose(f);
	ck_assert_str_eq(text, usage_text);
	free(text);
}
END_TEST

START_TEST(test_usage_shows_current_values)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	/* defaults are the values before parsing: empty strings, false
	 * bools and absent def_text show no default */
	addr = "";
	tls = false;
	timeout = 90 * NSEC_PER_SEC;
	f = open_memstream(&text, &len);
	flag_usage(&test_cmd, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "      --tls                use TLS\n"));
	ck_assert_ptr_nonnull(strstr(text, "listen address [$TEST_ADDR]\n"));
	ck_assert_ptr_nonnull(strstr(text, "how long to wait (default 1m30s)"));
	free(text);
}
END_TEST

START_TEST(test_usage_details_no_flags)
{
	static const struct flag_cmd cmd = {
		.name = "version", .usage = "conduit version",
		.summary = "Print the version.",
		.details = "Prints one line.\nThen exits.",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	flag_usage(&cmd, f);
	fclose(f);
	ck_assert_str_eq(text, "Print the version.\n"
			       "\n"
			       "Usage:\n"
			       "  conduit version\n"
			       "\n"
			       "Prints one line.\nThen exits.\n"
			       "\n"
			       "Flags:\n"
			       "  -h, --help   help for version\n");
	free(text);
}
END_TEST

START_TEST(test_usage_error)
{
	struct capture err;
	int r;

	capture_begin(&err, STDERR_FILENO);
	r = flag_usage_error(&test_cmd, "missing %s %d", "thing", 42);
	err_text = capture_end(&err);
	ck_assert_int_eq(r, 2);
	ck_assert_str_eq(err_text, "conduit test: missing thing 42\n"
				   "Run 'conduit test --help' for usage.\n");
}
END_TEST

START_TEST(test_parse_bool)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "t",
					   "TRUE", "Yes", "ON" };
	static const char *const no[] = { "false", "0", "no", "off", "f",
					  "FALSE", "No", "Off" };
	static const char *const bad[] = { "", "2", "tru", "yess", "nope",
					   " true", "true ", "y", "n" };
	bool b;

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		b = false;
		ck_assert_int_eq(flag_parse_bool(yes[i], &b), 0);
		ck_assert_msg(b, "%s", yes[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		b = true;
		ck_assert_int_eq(flag_parse_bool(no[i], &b), 0);
		ck_assert_msg(!b, "%s", no[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		b = true;
		ck_assert_msg(flag_parse_bool(bad[i], &b) == -EINVAL, "\"%s\"",
			      bad[i]);
		ck_assert(b);
	}
}
END_TEST

Suite *flag_suite(void)
{
	Suite *s = suite_create("flag");
	TCase *tc = tcase_create("forms");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_long_forms);
	tcase_add_test(tc, test_short_forms);
	tcase_add_test(tc, test_bool_forms);
	tcase_add_test(tc, test_last_wins);
	tcase_add_test(tc, test_values_that_look_like_flags);
	tcase_add_test(tc, test_double_dash_ends_flags);
	tcase_add_test(tc, test_positionals_mixed);
	tcase_add_test(tc, test_no_arguments);
	tcase_add_test(tc, test_int_bounds);
	tcase_add_test(tc, test_duration_and_func);
	suite_add_tcase(s, tc);

	tc = tcase_create("env");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_env_fallback);
	tcase_add_test(tc, test_env_empty_ignored);
	tcase_add_test(tc, test_flag_over_env);
	tcase_add_test(tc, test_bad_env_overridden_by_flag);
	tcase_add_test(tc, test_help_shows_defaults);
	tcase_add_test(tc, test_env_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_error_stops_parsing);
	tcase_add_test(tc, test_func_without_reason);
	tcase_add_test(tc, test_positional_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("usage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_usage_to_file);
	tcase_add_test(tc, test_usage_shows_current_values);
	tcase_add_test(tc, test_usage_details_no_flags);
	tcase_add_test(tc, test_usage_error);
	tcase_add_test(tc, test_parse_bool);
	suite_add_tcase(s, tc);
	return s;
}
