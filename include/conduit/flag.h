/* SPDX-License-Identifier: Apache-2.0 */
/* flag.h - command-line flags with environment fallbacks, and usage text */
#ifndef CONDUIT_FLAG_H
#define CONDUIT_FLAG_H

#include <stdio.h>

#include "conduit/base.h"

/*
 * An applet describes its flags in a table; flag_parse() reads the
 * environment variables named there, then argv (flags win over the
 * environment), and leaves the positional arguments. Accepted forms:
 * --name=value, --name value, -n value, -nvalue, --bool, --bool=false,
 * and "--" to end flags. Flags and positionals may be mixed (as kubectl
 * and cobra allow). "-h"/"--help" print the usage on stdout.
 *
 * Every error names the flag (or variable) and the value and why it was
 * refused, on one line.
 */
enum flag_type {
	FLAG_END = 0,
	FLAG_BOOL,     /* bool *                                        */
	FLAG_STRING,   /* const char ** (points into argv or environ)    */
	FLAG_INT,      /* long long *, within [min, max]                 */
	FLAG_DURATION, /* int64_t * nanoseconds ("100ms", "1m30s")       */
	FLAG_FUNC,     /* parse(arg, value, err, errlen) decides         */
};

struct flag {
	enum flag_type type;
	char short_name;       /* 0: none */
	const char *long_name; /* without the dashes; NULL only for FLAG_END */
	void *value;
	const char *arg_name;  /* shown in usage: --addr ADDR */
	const char *help;
	const char *env;       /* environment variable, or NULL */
	long long min, max;    /* FLAG_INT bounds (both 0: any value) */
	/* FLAG_FUNC: 0, or -EINVAL with the reason in err */
	int (*parse)(const char *arg, void *value, char *err, size_t errlen);
	const char *def_text;  /* usage's "(default ...)" for FLAG_FUNC */
};

struct flag_cmd {
	const char *name;    /* "version", "proxy-init": used in messages */
	const char *usage;   /* "conduit version [flags]" */
	const char *summary; /* one line */
	const char *details; /* paragraphs after the summary, or NULL */
	const struct flag *flags; /* ends with { FLAG_END } */
	int min_args, max_args;   /* positional bounds; max -1: any */
};

enum {
	FLAG_OK = 0,
	FLAG_HELP = 1, /* usage printed: the applet exits 0 */
};

/*
 * flag_parse - parse the environment and argv[1..argc) (argv[0] is the
 * applet's name). On success *argc and *argv describe the positional
 * arguments only (argv is permuted in place; (*argv)[0] is the first
 * positional). Returns FLAG_OK, FLAG_HELP, or -EINVAL after printing
 * "conduit <cmd>: <error>" and a hint on stderr.
 */
int flag_parse(const struct flag_cmd *cmd, int *argc, char ***argv);

/* flag_exit_code - what an applet returns for flag_parse()'s result */
static inline int flag_exit_code(int r)
{
	return r == FLAG_HELP ? 0 : 2;
}

/* flag_usage - print the usage text of cmd on f */
void flag_usage(const struct flag_cmd *cmd, FILE *f);

/*
 * flag_usage_error - "conduit <cmd>: <message>" plus the --help hint on
 * stderr, for errors the applet finds itself (e.g. a missing argument).
 * Returns 2, the usage-error exit code.
 */
PRINTF_LIKE(2, 3) int flag_usage_error(const struct flag_cmd *cmd,
				       const char *fmt, ...);

/* flag_parse_bool - "true/false/1/0/yes/no/on/off"; 0 or -EINVAL */
int flag_parse_bool(const char *s, bool *out);

#endif
