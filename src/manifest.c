/* SPDX-License-Identifier: Apache-2.0 */
/* manifest.c - read Kubernetes manifests from files, dirs, stdin; write them */
#include "conduit/manifest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conduit/json.h"

/* read all of fd into b, refusing more than YML_MAX_INPUT bytes */
static int slurp(int fd, struct buf *b, const char *name, char *err,
		 size_t errlen)
{
	for (;;) {
		ssize_t n = buf_read_fd(b, fd, SIZE_MAX);

		if (n == 0)
			return 0;
		if (n == -EAGAIN || n == -EINTR)
			continue;
		if (n == -ENOBUFS) {
			snprintf(err, errlen, "%s: larger than the %u MiB input limit",
				 name, YML_MAX_INPUT >> 20);
			return -E2BIG;
		}
		if (n < 0) {
			snprintf(err, errlen, "%s: read: %s", name, strerror((int)-n));
			return (int)n;
		}
	}
}

static int read_file(const char *path, const char *name, struct yml_stream *out,
		     char *err, size_t errlen)
{
	struct buf b;
	int fd, r;

	buf_init(&b, YML_MAX_INPUT + 1);
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		buf_release(&b);
		return -errno;
	}
	r = slurp(fd, &b, name, err, errlen);
	if (fd != STDIN_FILENO)
		close(fd);
	if (!r)
		r = yml_parse(out, (const char *)buf_head(&b), buf_len(&b), name,
			      NULL, err, errlen);
	buf_release(&b);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool manifest_name(const char *n)
{
	return str_has_suffix(n, ".yml") || str_has_suffix(n, ".yaml") ||
	       str_has_suffix(n, ".json");
}

static int read_path(const char *path, int depth, struct yml_stream *out,
		     char *err, size_t errlen)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int r = 0;

	if (strcmp(path, "-") == 0)
		return read_file("-", "<stdin>", out, err, errlen);
	if (stat(path, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return read_file(path, path, out, err, errlen);
	if (depth > 32) {
		snprintf(err, errlen, "%s: directories nested too deep (a loop?)", path);
		return -ELOOP;
	}
	d = opendir(path);
	if (!d) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		char *full;
		struct stat s2;

		if (de->d_name[0] == '.')
			continue;
		full = xasprintf("%s/%s", path, de->d_name);
		if (stat(full, &s2) || !(S_ISDIR(s2.st_mode) || manifest_name(de->d_name))) {
			free(full);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = full;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (!r)
			r = read_path(names[i], depth + 1, out, err, errlen);
		free(names[i]);
	}
	free(names);
	return r;
}

int manifest_read(const char *const *paths, size_t n, struct yml_stream *out,
		  char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int r = read_path(paths[i], 0, out, err, errlen);

		if (r)
			return r;
	}
	return 0;
}

int manifest_parse_format(const char *s, enum manifest_format *out)
{
	if (strcmp(s, "yaml") == 0)
		*out = MANIFEST_YAML;
	else if (strcmp(s, "json") == 0)
		*out = MANIFEST_JSON;
	else
		return -EINVAL;
	return 0;
}

int manifest_write(const struct yml_stream *s, enum manifest_format f,
		   struct buf *out, char *err, size_t errlen)
{
	struct json *list = NULL, *items = NULL, *one = NULL;
	size_t docs = 0;
	char *text;
	int r = 0;

	if (f == MANIFEST_YAML) {
		bool first = true;

		for (size_t i = 0; i < s->count && !r; i++) {
			if (yml_type(s->docs[i]) == YML_NULL)
				continue;
			if (!first)
				r = buf_append_str(out, "---\n");
			if (!r)
				r = yml_write(out, s->docs[i]);
			first = false;
		}
		if (r)
			snprintf(err, errlen, "writing YAML: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < s->count; i++)
		docs += yml_type(s->docs[i]) != YML_NULL;
	/* one object as itself; none or several as a List */
	if (docs != 1) {
		list = json_new_object();
		items = json_new_array();
		json_set_string(list, "apiVersion", "v1");
		json_set_string(list, "kind", "List");
		json_set(list, "items", items);
	}
	for (size_t i = 0; i < s->count; i++) {
		struct json *j;

		if (yml_type(s->docs[i]) == YML_NULL)
			continue;
		j = yml_to_json(s->docs[i], NULL, err, errlen);
		if (!j) {
			json_free(list);
			return -EINVAL;
		}
		if (list)
			json_push(items, j);
		else
			one = j;
	}
	if (list)
		json_set(list, "metadata", json_new_object());
	text = json_print(list ? list : one, true);
	if (!text) {
		r = -ENOMEM;
	} else {
		r = buf_append_str(out, text);
		if (!r)
			r = buf_append(out, "\n", 1);
	}
	free(text);
	json_free(list ? list : one);
	if (r)
		snprintf(err, errlen, "writing JSON: %s", strerror(-r));
	return r;
}

int manifest_flush(const struct buf *b)
{
	const unsigned char *p = buf_head(b);
	size_t left = buf_len(b);

	while (left) {
		ssize_t n = write(STDOUT_FILENO, p, left);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

bool manifest_dns_label(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '-')
			return false;
	return true;
}
