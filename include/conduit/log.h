/* SPDX-License-Identifier: Apache-2.0 */
/* log.h - leveled logfmt logging to stderr */
#ifndef CONDUIT_LOG_H
#define CONDUIT_LOG_H

#include <stdio.h>

#include "conduit/base.h"

/*
 * One line per event, logfmt (key=value, values with spaces or quotes are
 * quoted):
 *
 *   ts=2026-11-25T06:19:00.123Z level=info component=proxy msg="listening" addr=0.0.0.0:4143
 *
 * The message is quoted by the logger. The key=value tail is the caller's
 * printf format; use log_quote() for values a user or peer controls.
 */
enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

extern enum log_level log_current_level;

/*
 * log_level_parse - "error|warn|info|debug|trace" (also "warning") into
 * *out. Returns 0, or -EINVAL for anything else.
 */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* log_set_level - events above this level are dropped (cheaply) */
void log_set_level(enum log_level level);

/*
 * log_set_component - the component=... field of every line; borrowed,
 * must outlive all logging. NULL omits the field.
 */
void log_set_component(const char *component);

/* log_set_output - where lines go (default stderr); for tests */
void log_set_output(FILE *f);

/*
 * log_write - write one event. Callers use the macros, which skip the
 * call (and argument evaluation) when the level is disabled. kv may be
 * NULL or "" for a message alone.
 */
PRINTF_LIKE(3, 4)
void log_write(enum log_level level, const char *msg, const char *kv, ...);

#define log_enabled(lvl) ((lvl) <= log_current_level)
#define LOG_AT(lvl, msg, ...)                                  \
	do {                                                   \
		if (log_enabled(lvl))                          \
			log_write(lvl, msg, __VA_ARGS__);      \
	} while (0)
/* log_error("msg", "key=%s n=%d", a, b); the kv format may be "" */
#define log_error(msg, ...) LOG_AT(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG_AT(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG_AT(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) LOG_AT(LOG_DEBUG, msg, __VA_ARGS__)
#define log_trace(msg, ...) LOG_AT(LOG_TRACE, msg, __VA_ARGS__)

/*
 * log_quote - s as a logfmt value: unchanged when it is a plain token,
 * else double-quoted with \" \\ \n \t and \xNN escapes. Writes into buf
 * (truncating with "..." when it does not fit) and returns buf.
 */
const char *log_quote(char *buf, size_t size, const char *s);

#endif
