/* SPDX-License-Identifier: Apache-2.0 */
/* base.h - macros and die-on-failure helpers every module uses */
#ifndef CONDUIT_BASE_H
#define CONDUIT_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* container_of - from a pointer to a member back to its owning struct */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define UNUSED __attribute__((unused))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

/*
 * BUG_ON - an always-on assertion for broken invariants (never for input a
 * user can cause). Prints where and aborts, so a core dump or sanitizer
 * report shows the stack.
 */
#define BUG_ON(cond)                                            \
	do {                                                    \
		if (unlikely(cond))                             \
			bug_at(__FILE__, __LINE__, #cond);       \
	} while (0)

NORETURN void bug_at(const char *file, int line, const char *what);

/*
 * die - print "<prog>: <message>" on stderr and exit(1). Only for startup
 * and one-shot CLI applets, never in a long-running loop.
 */
NORETURN PRINTF_LIKE(1, 2) void die(const char *fmt, ...);
/* die_errno - like die, appending ": <strerror(errno)>" */
NORETURN PRINTF_LIKE(1, 2) void die_errno(const char *fmt, ...);

/* The program name used as the prefix of die() messages; borrowed. */
void base_set_progname(const char *name);
const char *base_progname(void);

/* x-prefixed allocation helpers: die on out-of-memory, never return NULL */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf - allocate a formatted string; caller frees */
PRINTF_LIKE(1, 2) char *xasprintf(const char *fmt, ...);

/* str_has_prefix / str_has_suffix - predicates on NUL-terminated strings */
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/*
 * str_copy - copy at most size-1 bytes and always terminate (size > 0).
 * Returns strlen(src), so truncation is detectable (>= size).
 */
size_t str_copy(char *dst, const char *src, size_t size);

#endif
