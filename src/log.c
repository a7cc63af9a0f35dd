/* SPDX-License-Identifier: Apache-2.0 */
/* log.c - leveled logfmt logging to stderr */
#include "conduit/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum log_level log_current_level = LOG_INFO;
static const char *component;
static FILE *out;

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn",   [LOG_INFO] = "info",
	[LOG_DEBUG] = "debug", [LOG_TRACE] = "trace",
};

int log_level_parse(const char *s, enum log_level *level)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*level = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= ARRAY_SIZE(level_names))
		return "unknown";
	return level_names[level];
}

void log_set_level(enum log_level level)
{
	log_current_level = level;
}

void log_set_component(const char *name)
{
	component = name;
}

void log_set_output(FILE *f)
{
	out = f;
}

static bool is_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			return false;
	}
	return true;
}

/* escape - c as it appears inside a quoted value; returns its length */
static size_t escape(unsigned char c, char esc[5])
{
	if (c == '"' || c == '\\') {
		esc[0] = '\\';
		esc[1] = (char)c;
		return 2;
	}
	if (c == '\n') {
		memcpy(esc, "\\n", 2);
		return 2;
	}
	if (c == '\t') {
		memcpy(esc, "\\t", 2);
		return 2;
	}
	if (c < ' ' || c == 0x7f) {
		snprintf(esc, 5, "\\x%02x", c);
		return 4;
	}
	esc[0] = (char)c;
	return 1;
}

const char *log_quote(char *buf, size_t size, const char *s)
{
	size_t n = 0, need = 3; /* two quotes and the terminator */
	char esc[5];

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	if (is_plain(s)) {
		if (str_copy(buf, s, size) >= size)
			memcpy(buf + size - 4, "...", 4);
		return buf;
	}
	for (const char *p = s; *p; p++)
		need += escape((unsigned char)*p, esc);
	buf[n++] = '"';
	for (; *s; s++) {
		size_t len = escape((unsigned char)*s, esc);

		/* when it does not all fit, keep room for '..."' and the
		 * terminator */
		if (need > size && n + len + 5 > size) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(buf + n, esc, len);
		n += len;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

void log_write(enum log_level level, const char *msg, const char *kv, ...)
{
	char line[4096], ts[32], q[1024];
	struct timespec now;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	r = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s", ts,
		     now.tv_nsec / 1000000, log_level_name(level));
	n = (size_t)r;
	if (component)
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      " component=%s", component);
	/* msg is always quoted (msg="listening"), even when it is a plain
	 * token, so the field reads the same on every line */
	log_quote(q, sizeof(q), msg);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      q[0] == '"' ? " msg=%s" : " msg=\"%s\"", q);
	if (kv && *kv && n < sizeof(line) - 2) {
		va_list ap;

		line[n++] = ' ';
		va_start(ap, kv);
		r = vsnprintf(line + n, sizeof(line) - n, kv, ap);
		va_end(ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* one fwrite per line, so lines from several threads never interleave */
	fwrite(line, 1, n, out ? out : stderr);
	fflush(out ? out : stderr);
}
