/* SPDX-License-Identifier: Apache-2.0 */
/* flag.c - command-line flags with environment fallbacks, and usage text */
#include "conduit/flag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conduit/time.h"

int flag_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "t" };
	static const char *const no[] = { "false", "0", "no", "off", "f" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void vreport(const struct flag_cmd *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s %s: ", base_progname(), cmd->name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nRun '%s %s --help' for usage.\n", base_progname(),
		cmd->name);
}

int flag_usage_error(const struct flag_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	return 2;
}

PRINTF_LIKE(2, 3)
static int report(const struct flag_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * set_value - store arg into f's value. `where` names the source for
 * messages: "flag --x" or "environment variable X".
 */
static int set_value(const struct flag_cmd *cmd, const struct flag *f,
		     const char *arg, const char *where)
{
	char err[256] = "";
	long long v;
	char *end;
	int64_t ns;
	int r;

	switch (f->type) {
	case FLAG_BOOL:
		if (flag_parse_bool(arg, f->value))
			return report(cmd, "invalid value \"%s\" for %s: want true or false",
				      arg, where);
		return 0;
	case FLAG_STRING:
		*(const char **)f->value = arg;
		return 0;
	case FLAG_INT:
		errno = 0;
		v = strtoll(arg, &end, 10);
		if (!*arg || *end || errno)
			return report(cmd, "invalid value \"%s\" for %s: not an integer",
				      arg, where);
		if ((f->min || f->max) && (v < f->min || v > f->max))
			return report(cmd, "invalid value \"%s\" for %s: out of range %lld-%lld",
				      arg, where, f->min, f->max);
		*(long long *)f->value = v;
		return 0;
	case FLAG_DURATION:
		r = time_parse_duration(arg, &ns);
		if (r)
			return report(cmd, "invalid value \"%s\" for %s: %s", arg,
				      where,
				      r == -ERANGE ? "too large" :
				      "not a duration (e.g. 100ms, 10s, 1m30s)");
		*(int64_t *)f->value = ns;
		return 0;
	case FLAG_FUNC:
		if (f->parse(arg, f->value, err, sizeof(err)))
			return report(cmd, "invalid value \"%s\" for %s: %s", arg,
				      where, err[0] ? err : "invalid");
		return 0;
	case FLAG_END:
		break;
	}
	BUG_ON(1);
}

static const struct flag *find_long(const struct flag *flags, const char *name,
				    size_t len)
{
	for (; flags->type != FLAG_END; flags++)
		if (strlen(flags->long_name) == len &&
		    strncmp(flags->long_name, name, len) == 0)
			return flags;
	return NULL;
}

static const struct flag *find_short(const struct flag *flags, char c)
{
	for (; flags->type != FLAG_END; flags++)
		if (flags->short_name == c)
			return flags;
	return NULL;
}

/* given_on_command_line - whether argv sets f (before any "--") */
static bool given_on_command_line(const struct flag *f, int argc, char **argv)
{
	size_t n = strlen(f->long_name);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (a[0] != '-')
			continue;
		if (a[1] == '-' ? strncmp(a + 2, f->long_name, n) == 0 &&
					  (a[2 + n] == '\0' || a[2 + n] == '=') :
				  f->short_name && a[1] == f->short_name)
			return true;
	}
	return false;
}

/*
 * parse_env - the environment variables of the flags argv does not set: a
 * bad value in a variable the command line overrides is not an error.
 */
static int parse_env(const struct flag_cmd *cmd, int argc, char **argv)
{
	for (const struct flag *f = cmd->flags; f && f->type != FLAG_END; f++) {
		const char *v;
		char where[160];

		if (!f->env || given_on_command_line(f, argc, argv))
			continue;
		v = getenv(f->env);
		if (!v || !*v)
			continue;
		snprintf(where, sizeof(where), "environment variable %s", f->env);
		if (set_value(cmd, f, v, where))
			return -EINVAL;
	}
	return 0;
}

int flag_parse(const struct flag_cmd *cmd, int *argcp, char ***argvp)
{
	int argc = *argcp, npos = 0;
	char **argv = *argvp;
	bool only_pos = false;
	static const struct flag none[] = { { FLAG_END } };
	const struct flag *flags = cmd->flags ? cmd->flags : none;

	/* --help first, so the usage shows the defaults, not values that the
	 * environment or earlier flags set */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			flag_usage(cmd, stdout);
			return FLAG_HELP;
		}
	}
	if (parse_env(cmd, argc, argv))
		return -EINVAL;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], where[160];
		const struct flag *f;
		const char *val = NULL;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			argv[1 + npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			flag_usage(cmd, stdout);
			return FLAG_HELP;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			f = find_long(flags, name, len);
			if (!f)
				return report(cmd, "unknown flag: --%.*s", (int)len,
					      name);
			if (eq)
				val = eq + 1;
			snprintf(where, sizeof(where), "flag --%s", f->long_name);
		} else {
			f = find_short(flags, a[1]);
			if (!f)
				return report(cmd, "unknown shorthand flag: '%c' in %s",
					      a[1], a);
			if (a[2])
				val = a[2] == '=' ? a + 3 : a + 2;
			snprintf(where, sizeof(where), "flag -%c", f->short_name);
		}
		if (!val) {
			if (f->type == FLAG_BOOL) {
				*(bool *)f->value = true;
				continue;
			}
			if (i + 1 >= argc)
				return report(cmd, "%s needs an argument%s%s", where,
					      f->arg_name ? ": " : "",
					      f->arg_name ? f->arg_name : "");
			val = argv[++i];
		}
		if (set_value(cmd, f, val, where))
			return -EINVAL;
	}
	if (npos < cmd->min_args)
		return report(cmd, "missing argument%s (want %s)",
			      cmd->min_args - npos > 1 ? "s" : "", cmd->usage);
	if (cmd->max_args >= 0 && npos > cmd->max_args) {
		if (cmd->max_args == 0)
			return report(cmd, "unexpected argument \"%s\"", argv[1]);
		return report(cmd, "too many arguments: \"%s\" (want %s)",
			      argv[1 + cmd->max_args], cmd->usage);
	}
	*argcp = npos;
	*argvp = argv + 1;
	argv[1 + npos] = NULL;
	return FLAG_OK;
}

static void format_default(const struct flag *f, char *buf, size_t size)
{
	buf[0] = '\0';
	switch (f->type) {
	case FLAG_BOOL:
		if (*(bool *)f->value)
			snprintf(buf, size, " (default true)");
		break;
	case FLAG_STRING:
		if (*(const char **)f->value && **(const char **)f->value)
			snprintf(buf, size, " (default \"%s\")",
				 *(const char **)f->value);
		break;
	case FLAG_INT:
		snprintf(buf, size, " (default %lld)", *(long long *)f->value);
		break;
	case FLAG_DURATION: {
		char d[32];

		snprintf(buf, size, " (default %s)",
			 time_format_duration(*(int64_t *)f->value, d, sizeof(d)));
		break;
	}
	case FLAG_FUNC:
		if (f->def_text)
			snprintf(buf, size, " (default %s)", f->def_text);
		break;
	case FLAG_END:
		break;
	}
}

void flag_usage(const struct flag_cmd *cmd, FILE *out)
{
	const struct flag *f;
	size_t width = strlen("--help");
	char col[128], def[160];

	fprintf(out, "%s\n\nUsage:\n  %s\n", cmd->summary, cmd->usage);
	if (cmd->details)
		fprintf(out, "\n%s\n", cmd->details);
	for (f = cmd->flags; f && f->type != FLAG_END; f++) {
		size_t w = strlen(f->long_name) + 2 +
			   (f->arg_name ? strlen(f->arg_name) + 1 : 0);

		width = MAX(width, w);
	}
	fprintf(out, "\nFlags:\n");
	for (f = cmd->flags; f && f->type != FLAG_END; f++) {
		snprintf(col, sizeof(col), "--%s%s%s", f->long_name,
			 f->arg_name ? " " : "", f->arg_name ? f->arg_name : "");
		format_default(f, def, sizeof(def));
		if (f->short_name)
			fprintf(out, "  -%c, ", f->short_name);
		else
			fprintf(out, "      ");
		fprintf(out, "%-*s   %s%s", (int)width, col, f->help, def);
		if (f->env)
			fprintf(out, " [$%s]", f->env);
		fputc('\n', out);
	}
	fprintf(out, "  -h, %-*s   help for %s\n", (int)width, "--help",
		cmd->name);
}
