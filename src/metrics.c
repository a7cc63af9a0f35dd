/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c - a Prometheus registry: counters, gauges, histograms, text format */
#include "conduit/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conduit/log.h"
#include "conduit/time.h"

const double metrics_latency_ms_bounds[] = {
	1,    2,    3,    4,    5,     10,    20,    30,    40,
	50,   100,  200,  300,  400,   500,   1000,  2000,  3000,
	4000, 5000, 10000, 20000, 30000, 40000, 50000,
};
const size_t metrics_latency_ms_nbounds = ARRAY_SIZE(metrics_latency_ms_bounds);

#define MAX_COLLECTORS 8
/* one rendered label set; values come from configuration and addresses */
#define MAX_LABEL_TEXT (16u << 10)

struct metrics_family {
	struct metrics_registry *reg;
	enum metrics_type type;
	char *name;
	char *help;
	char **label_names;	/* nlabels names, owned */
	size_t nlabels;
	double *bounds;		/* histogram bounds, owned */
	char **bound_text;	/* each bound as le="..." writes it */
	size_t nbounds;
	/* sorted by labels (strcmp), so lookup is a binary search and the
	 * output order does not depend on creation order */
	struct metrics_series **series;
	size_t nseries, cap;
	size_t max_series;
	bool overflowed;	/* the cap was hit (warned once) */
	struct metrics_series overflow; /* absorbs updates past the cap */
};

struct collector {
	void (*fn)(struct metrics_registry *r, void *arg);
	void *arg;
};

struct metrics_registry {
	struct metrics_family **families; /* sorted by name */
	size_t nfamilies, cap;
	struct collector collectors[MAX_COLLECTORS];
	size_t ncollectors;
	struct process_metrics *process; /* metrics_register_process's */
};

struct metrics_registry *metrics_registry_new(void)
{
	return xcalloc(1, sizeof(struct metrics_registry));
}

static void series_free(struct metrics_series *s)
{
	free(s->labels);
	free(s->buckets);
	free(s);
}

static void family_free(struct metrics_family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f->series[i]);
	free(f->series);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	for (size_t i = 0; i < f->nbounds; i++)
		free(f->bound_text[i]);
	free(f->bound_text);
	free(f->bounds);
	free(f->overflow.buckets);
	free(f->overflow.labels);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_registry_free(struct metrics_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfamilies; i++)
		family_free(r->families[i]);
	free(r->families);
	free(r->process);
	free(r);
}

static bool name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (colon && c == ':')
		return true;
	return !first && c >= '0' && c <= '9';
}

bool metrics_valid_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!name_char(*p, p == s, true))
			return false;
	return true;
}

bool metrics_valid_label_name(const char *s)
{
	if (!s || !*s || str_has_prefix(s, "__"))
		return false;
	for (const char *p = s; *p; p++)
		if (!name_char(*p, p == s, false))
			return false;
	return true;
}

char *metrics_format_value(double v, char *buf, size_t size)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		/* an integer: no exponent, no fraction, and no "-0" */
		snprintf(buf, size, "%.0f", v == 0 ? 0.0 : v);
	} else {
		/* the shortest of %.15g..%.17g that reads back exactly */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	return buf;
}

static size_t family_index(const struct metrics_registry *r, const char *name,
			   bool *found)
{
	size_t lo = 0, hi = r->nfamilies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->families[mid]->name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct metrics_family *metrics_family_find(const struct metrics_registry *r,
					   const char *name)
{
	bool found;
	size_t i = family_index(r, name, &found);

	return found ? r->families[i] : NULL;
}

/* insert p at index i of an array of pointers, growing it */
static void ptr_insert(void ***arr, size_t *n, size_t *cap, size_t i, void *p)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*arr = xrealloc(*arr, *cap * sizeof(void *));
	}
	memmove(*arr + i + 1, *arr + i, (*n - i) * sizeof(void *));
	(*arr)[i] = p;
	(*n)++;
}

struct metrics_family *metrics_family_new(struct metrics_registry *r,
					  enum metrics_type type,
					  const char *name, const char *help,
					  const char *const *label_names,
					  size_t nlabels, const double *bounds,
					  size_t nbounds)
{
	struct metrics_family *f;
	bool found;
	size_t at;
	char tmp[32];

	if (!metrics_valid_name(name) || nlabels > METRICS_MAX_LABELS)
		return NULL;
	for (size_t i = 0; i < nlabels; i++) {
		if (!metrics_valid_label_name(label_names[i]))
			return NULL;
		if (type == METRICS_HISTOGRAM && !strcmp(label_names[i], "le"))
			return NULL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(label_names[i], label_names[j]))
				return NULL;
	}
	if (type == METRICS_HISTOGRAM && !bounds) {
		bounds = metrics_latency_ms_bounds;
		nbounds = metrics_latency_ms_nbounds;
	}
	for (size_t i = 0; type == METRICS_HISTOGRAM && i < nbounds; i++)
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return NULL;
	at = family_index(r, name, &found);
	if (found)
		return NULL;

	f = xcalloc(1, sizeof(*f));
	f->reg = r;
	f->type = type;
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->nlabels = nlabels;
	f->label_names = xcalloc(nlabels ? nlabels : 1, sizeof(char *));
	for (size_t i = 0; i < nlabels; i++)
		f->label_names[i] = xstrdup(label_names[i]);
	f->max_series = METRICS_DEFAULT_MAX_SERIES;
	f->overflow.family = f;
	f->overflow.labels = xstrdup("");
	if (type == METRICS_HISTOGRAM) {
		f->nbounds = nbounds;
		f->bounds = xcalloc(nbounds ? nbounds : 1, sizeof(double));
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->bound_text = xcalloc(nbounds ? nbounds : 1, sizeof(char *));
		for (size_t i = 0; i < nbounds; i++)
			f->bound_text[i] = xstrdup(
				metrics_format_value(bounds[i], tmp, sizeof(tmp)));
		f->overflow.buckets = xcalloc(nbounds + 1, sizeof(uint64_t));
		f->overflow.bounds = f->bounds;
		f->overflow.nbounds = nbounds;
	}
	ptr_insert((void ***)&r->families, &r->nfamilies, &r->cap, at, f);
	return f;
}

void metrics_family_set_max_series(struct metrics_family *f, size_t max)
{
	f->max_series = max;
}

size_t metrics_series_count(const struct metrics_family *f)
{
	return f->nseries;
}

/*
 * utf8_len - the length of the valid UTF-8 sequence at p (at most n
 * bytes), or 0 when it is not one. Prometheus refuses label values that
 * are not UTF-8, so bad bytes are replaced rather than passed on.
 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* append_label_value - v escaped as the text format wants: \\ \" \n */
static int append_label_value(struct buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);
	int r = 0;

	while (n && !r) {
		size_t len = utf8_len(p, n);

		if (!len) {
			r = buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD */
			len = 1;
		} else if (*p == '\\') {
			r = buf_append(b, "\\\\", 2);
		} else if (*p == '"') {
			r = buf_append(b, "\\\"", 2);
		} else if (*p == '\n') {
			r = buf_append(b, "\\n", 2);
		} else {
			r = buf_append(b, p, len);
		}
		p += len;
		n -= len;
	}
	return r;
}

static int render_labels(const struct metrics_family *f,
			 const char *const *values, struct buf *b)
{
	int r = 0;
	bool first = true;

	for (size_t i = 0; i < f->nlabels && !r; i++) {
		/* an empty value is the same as no label to Prometheus:
		 * left out, as Linkerd leaves out what does not apply */
		if (!values[i] || !values[i][0])
			continue;
		r = buf_printf(b, "%s%s=\"", first ? "" : ",", f->label_names[i]);
		first = false;
		if (!r)
			r = append_label_value(b, values[i]);
		if (!r)
			r = buf_append(b, "\"", 1);
	}
	return r;
}

static size_t series_index(const struct metrics_family *f, const char *labels,
			   bool *found)
{
	size_t lo = 0, hi = f->nseries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->series[mid]->labels, labels);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct metrics_series *overflow(struct metrics_family *f,
				       const char *why)
{
	if (!f->overflowed) {
		f->overflowed = true;
		log_warn("metric series dropped", "metric=%s reason=%s max=%zu",
			 f->name, why, f->max_series);
	}
	return &f->overflow;
}

struct metrics_series *metrics_series_get(struct metrics_family *f,
					  const char *const *values)
{
	struct metrics_series *s;
	struct buf b;
	char *labels;
	bool found;
	size_t at;

	buf_init(&b, MAX_LABEL_TEXT);
	if (render_labels(f, values, &b) || !(labels = buf_cstr(&b))) {
		buf_release(&b);
		return overflow(f, "labels_too_long");
	}
	at = series_index(f, labels, &found);
	if (found) {
		buf_release(&b);
		return f->series[at];
	}
	if (f->max_series && f->nseries >= f->max_series) {
		buf_release(&b);
		return overflow(f, "too_many_series");
	}
	s = xcalloc(1, sizeof(*s));
	s->family = f;
	s->labels = xstrdup(labels);
	buf_release(&b);
	if (f->type == METRICS_HISTOGRAM) {
		s->buckets = xcalloc(f->nbounds + 1, sizeof(uint64_t));
		s->bounds = f->bounds;
		s->nbounds = f->nbounds;
	}
	ptr_insert((void ***)&f->series, &f->nseries, &f->cap, at, s);
	return s;
}

void metrics_histogram_observe(struct metrics_series *s, double v)
{
	size_t lo = 0, hi = s->nbounds;

	/* the first bound >= v; nbounds (the +Inf bucket) when none is */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (isnan(v))
		lo = s->nbounds;
	s->buckets[lo]++;
	s->count++;
	s->sum += v;
}

int metrics_registry_add_collector(struct metrics_registry *r,
				   void (*fn)(struct metrics_registry *r,
					      void *arg),
				   void *arg)
{
	if (r->ncollectors == MAX_COLLECTORS)
		return -ENOSPC;
	r->collectors[r->ncollectors].fn = fn;
	r->collectors[r->ncollectors].arg = arg;
	r->ncollectors++;
	return 0;
}

static int write_help(struct buf *out, const char *help)
{
	int r = 0;

	for (const char *p = help; *p && !r; p++) {
		if (*p == '\\')
			r = buf_append(out, "\\\\", 2);
		else if (*p == '\n')
			r = buf_append(out, "\\n", 2);
		else
			r = buf_append(out, p, 1);
	}
	return r;
}

static const char *type_name(enum metrics_type t)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_GAUGE:
		return "gauge";
	case METRICS_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static int write_histogram(struct buf *out, const struct metrics_family *f,
			   const struct metrics_series *s)
{
	const char *sep = s->labels[0] ? "," : "";
	uint64_t cum = 0;
	char v[40];
	int r = 0;

	for (size_t i = 0; i < f->nbounds && !r; i++) {
		cum += s->buckets[i];
		r = buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name,
			       s->labels, sep, f->bound_text[i],
			       (unsigned long long)cum);
	}
	cum += s->buckets[f->nbounds];
	if (!r)
		r = buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name,
			       s->labels, sep, (unsigned long long)cum);
	if (!r)
		r = buf_printf(out, "%s_sum%s%s%s %s\n", f->name,
			       s->labels[0] ? "{" : "", s->labels,
			       s->labels[0] ? "}" : "",
			       metrics_format_value(s->sum, v, sizeof(v)));
	if (!r)
		r = buf_printf(out, "%s_count%s%s%s %llu\n", f->name,
			       s->labels[0] ? "{" : "", s->labels,
			       s->labels[0] ? "}" : "",
			       (unsigned long long)s->count);
	return r;
}

int metrics_write_text(struct metrics_registry *r, struct buf *out)
{
	char v[40];
	int rc = 0;

	for (size_t i = 0; i < r->ncollectors; i++)
		r->collectors[i].fn(r, r->collectors[i].arg);
	for (size_t i = 0; i < r->nfamilies && !rc; i++) {
		const struct metrics_family *f = r->families[i];

		/* a family with no series says nothing (as client_golang) */
		if (!f->nseries)
			continue;
		rc = buf_printf(out, "# HELP %s ", f->name);
		if (!rc)
			rc = write_help(out, f->help);
		if (!rc)
			rc = buf_printf(out, "\n# TYPE %s %s\n", f->name,
					type_name(f->type));
		for (size_t j = 0; j < f->nseries && !rc; j++) {
			const struct metrics_series *s = f->series[j];

			if (f->type == METRICS_HISTOGRAM) {
				rc = write_histogram(out, f, s);
				continue;
			}
			rc = buf_printf(out, "%s%s%s%s %s\n", f->name,
					s->labels[0] ? "{" : "", s->labels,
					s->labels[0] ? "}" : "",
					metrics_format_value(s->value, v,
							     sizeof(v)));
		}
	}
	return rc;
}

/* --- process metrics ------------------------------------------------------ */

struct process_metrics {
	struct metrics_series *cpu, *rss, *vsz, *fds, *max_fds;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* opendir's own descriptor */
}

static void collect_process(struct metrics_registry *r, void *arg)
{
	struct process_metrics *pm = arg;
	unsigned long long vsz, rss;
	long page = sysconf(_SC_PAGESIZE);
	struct rusage ru;
	struct rlimit rl;
	char text[128];
	ssize_t n;
	int fd, fds;

	(void)r;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		metrics_gauge_set(pm->cpu, (double)ru.ru_utime.tv_sec +
					   (double)ru.ru_stime.tv_sec +
					   (double)(ru.ru_utime.tv_usec +
						    ru.ru_stime.tv_usec) / 1e6);
	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n > 0) {
			text[n] = '\0';
			if (sscanf(text, "%llu %llu", &vsz, &rss) == 2) {
				metrics_gauge_set(pm->vsz, (double)vsz * page);
				metrics_gauge_set(pm->rss, (double)rss * page);
			}
		}
	}
	fds = count_fds();
	if (fds >= 0)
		metrics_gauge_set(pm->fds, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metrics_gauge_set(pm->max_fds, rl.rlim_cur == RLIM_INFINITY ?
						       INFINITY :
						       (double)rl.rlim_cur);
}

static struct metrics_series *plain(struct metrics_registry *r,
				    enum metrics_type type, const char *name,
				    const char *help)
{
	struct metrics_family *f =
		metrics_family_new(r, type, name, help, NULL, 0, NULL, 0);

	return f ? metrics_series_get(f, NULL) : NULL;
}

int metrics_register_process(struct metrics_registry *r)
{
	struct process_metrics *pm;
	struct metrics_series *start;

	if (r->process)
		return -EEXIST;
	pm = r->process = xcalloc(1, sizeof(*pm));

	start = plain(r, METRICS_GAUGE, "process_start_time_seconds",
		      "Start time of the process since unix epoch in seconds.");
	pm->cpu = plain(r, METRICS_COUNTER, "process_cpu_seconds_total",
			"Total user and system CPU time spent in seconds.");
	pm->rss = plain(r, METRICS_GAUGE, "process_resident_memory_bytes",
			"Resident memory size in bytes.");
	pm->vsz = plain(r, METRICS_GAUGE, "process_virtual_memory_bytes",
			"Virtual memory size in bytes.");
	pm->fds = plain(r, METRICS_GAUGE, "process_open_fds",
			"Number of open file descriptors.");
	pm->max_fds = plain(r, METRICS_GAUGE, "process_max_fds",
			    "Maximum number of open file descriptors.");
	if (!start || !pm->cpu || !pm->rss || !pm->vsz || !pm->fds ||
	    !pm->max_fds)
		return -EEXIST;
	/* registration happens as the process starts: close enough, and
	 * it needs neither /proc/self/stat nor the boot time */
	metrics_gauge_set(start, (double)(time_wall_ns() / NSEC_PER_MSEC) / 1e3);
	return metrics_registry_add_collector(r, collect_process, pm);
}
