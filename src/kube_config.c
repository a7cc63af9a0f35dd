/* SPDX-License-Identifier: Apache-2.0 */
/* kube_config.c - kubeconfigs, merged as kubectl does, and in-cluster */
#include "conduit/kube_config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conduit/base64.h"
#include "conduit/buf.h"
#include "conduit/yaml.h"

/* no credential or kubeconfig file is anywhere near this */
#define FILE_MAX (16u << 20)

/* one kubeconfig file of the merge */
struct kc_file {
	char *name; /* as messages call it */
	char *dir;  /* resolves relative file names in it */
	struct yml_stream s;
	const struct yml_node *root; /* its first document, a mapping */
};

/* a named entry (cluster, user, context) found in a file */
struct kc_entry {
	const struct kc_file *file;
	const char *section;	     /* "clusters" */
	size_t index;		     /* position in that sequence */
	const struct yml_node *item; /* the sequence item */
	const struct yml_node *body; /* item.<cluster|user|context> */
};

/* read_file - the whole file into out (a limit of FILE_MAX). 0 or -errno */
static int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	buf_init(out, FILE_MAX);
	do
		n = buf_read_fd(out, fd, FILE_MAX);
	while (n > 0);
	close(fd);
	if (n == -EAGAIN)
		n = 0;
	if (n < 0) {
		buf_release(out);
		return n == -ENOBUFS ? -EFBIG : (int)n;
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static void set_where(char *dst, size_t size, const struct kc_entry *e,
		      const struct yml_node *at, const char *key)
{
	const struct yml_node *n = at ? at : e->item;

	snprintf(dst, size, "%s:%u:%u: %s[%zu].%s", e->file->name, yml_line(n),
		 yml_col(n), e->section, e->index, key);
}

/* fail_at - "kubeconfig: <where>: <why>" into err; returns -EINVAL */
PRINTF_LIKE(6, 7)
static int fail_at(char *err, size_t errlen, const struct kc_entry *e,
		   const struct yml_node *at, const char *key, const char *fmt,
		   ...)
{
	char where[512], why[512];
	va_list ap;

	set_where(where, sizeof(where), e, at, key);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "kubeconfig: %s: %s", where, why);
	return -EINVAL;
}

/* string value of key in map, NULL when missing or empty */
static const char *str_at(const struct yml_node *map, const char *key)
{
	const char *s = yml_text(yml_get(map, key));

	return s && *s && yml_type(yml_get(map, key)) != YML_NULL ? s : NULL;
}

/*
 * find - the first entry called name in section across the files, in
 * order: kubectl's merge keeps the first file's definition of a name.
 */
static bool find(const struct kc_file *files, size_t nfiles,
		 const char *section, const char *body_key, const char *name,
		 struct kc_entry *e)
{
	for (size_t f = 0; f < nfiles; f++) {
		const struct yml_node *seq = yml_get(files[f].root, section);

		for (size_t i = 0;
		     i < yml_count(seq) && yml_type(seq) == YML_SEQ; i++) {
			const struct yml_node *it = yml_at(seq, i);
			const char *n = str_at(it, "name");

			if (!n || strcmp(n, name))
				continue;
			e->file = &files[f];
			e->section = section;
			e->index = i;
			e->item = it;
			e->body = yml_get(it, body_key);
			return true;
		}
	}
	return false;
}

/*
 * load_bytes - the value of "<key>-data" (base64) or "<key>" (a file
 * relative to the kubeconfig) into *p, *len (NULL when neither is set).
 */
static int load_bytes(const struct kc_entry *e, const char *key,
		      unsigned char **p, size_t *len, char *err, size_t errlen)
{
	char data_key[64], where[512];
	const struct yml_node *n;
	const char *s;
	struct buf b;
	int r;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	if ((s = str_at(e->body, data_key))) {
		n = yml_get(e->body, data_key);
		buf_init(&b, FILE_MAX);
		r = base64_decode(s, strlen(s), &b);
		if (r || !buf_len(&b)) {
			buf_release(&b);
			return fail_at(err, errlen, e, n, data_key,
				       "not valid base64");
		}
		goto out_take;
	}
	if ((s = str_at(e->body, key))) {
		char *path = s[0] == '/' ? xstrdup(s)
					 : xasprintf("%s/%s", e->file->dir, s);

		n = yml_get(e->body, key);
		r = read_file(path, &b);
		if (r) {
			set_where(where, sizeof(where), e, n, key);
			snprintf(err, errlen, "kubeconfig: %s: %s: %s", where,
				 path, strerror(-r));
			free(path);
			return r == -ENOENT   ? -ENOENT
			       : r == -EACCES ? -EACCES
					      : -EINVAL;
		}
		free(path);
		goto out_take;
	}
	*p = NULL;
	*len = 0;
	return 0;

out_take:
	*len = buf_len(&b);
	*p = xmalloc(*len + 1);
	memcpy(*p, buf_head(&b), *len);
	(*p)[*len] = '\0';
	buf_release(&b);
	return 0;
}

int kube_parse_server(const char *url, struct kube_config *cfg, char *err,
		      size_t errlen)
{
	const char *p, *host, *host_end, *slash;
	long port;

	if (str_has_prefix(url, "https://")) {
		cfg->https = true;
		p = url + 8;
	} else if (str_has_prefix(url, "http://")) {
		cfg->https = false;
		p = url + 7;
	} else {
		snprintf(err, errlen,
			 "server %s: not an http:// or https:// URL", url);
		return -EINVAL;
	}
	slash = p + strcspn(p, "/?#");
	if (*slash && *slash != '/') {
		snprintf(err, errlen,
			 "server %s: a query or fragment is not allowed", url);
		return -EINVAL;
	}
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(slash - host));
		if (!host_end) {
			snprintf(err, errlen,
				 "server %s: no ] after the IPv6 address", url);
			return -EINVAL;
		}
		p = host_end + 1;
	} else {
		host = p;
		host_end = memchr(host, ':', (size_t)(slash - host));
		if (!host_end)
			host_end = slash;
		p = host_end;
	}
	if (host_end == host || memchr(host, '@', (size_t)(host_end - host))) {
		snprintf(err, errlen, "server %s: no host", url);
		return -EINVAL;
	}
	port = cfg->https ? 443 : 80;
	if (p < slash) {
		char *end;

		if (*p != ':' || p + 1 == slash) {
			snprintf(err, errlen, "server %s: bad port", url);
			return -EINVAL;
		}
		errno = 0;
		port = strtol(p + 1, &end, 10);
		if (end != slash || port < 1 || port > 65535 || errno) {
			snprintf(err, errlen, "server %s: bad port", url);
			return -EINVAL;
		}
	}
	free(cfg->host);
	free(cfg->path_prefix);
	cfg->host = xstrndup(host, (size_t)(host_end - host));
	cfg->port = (int)port;
	/* "https://h/" and "https://h" are the same server */
	cfg->path_prefix = xstrdup(slash);
	if (*cfg->path_prefix &&
	    cfg->path_prefix[strlen(cfg->path_prefix) - 1] == '/')
		cfg->path_prefix[strlen(cfg->path_prefix) - 1] = '\0';
	return 0;
}

/* resolve - cfg->host to cfg->addr: a literal, else getaddrinfo once */
static int resolve(struct kube_config *cfg, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int r;

	if (sock_ip_parse(cfg->host, &cfg->addr) == 0) {
		sock_addr_set_port(&cfg->addr, cfg->port);
		return 0;
	}
	r = getaddrinfo(cfg->host, NULL, &hints, &res);
	if (r || !res) {
		snprintf(err, errlen, "server %s: cannot resolve %s: %s",
			 cfg->server, cfg->host, gai_strerror(r));
		return -ENOENT;
	}
	memcpy(&cfg->addr.u.sa, res->ai_addr, res->ai_addrlen);
	cfg->addr.len = res->ai_addrlen;
	sock_addr_set_port(&cfg->addr, cfg->port);
	freeaddrinfo(res);
	return 0;
}

static int read_token(struct kube_config *cfg, char *err, size_t errlen)
{
	struct stat st;
	struct buf b;
	size_t len;
	char *tok;
	int r;

	r = stat(cfg->token_file, &st) < 0 ? -errno
					   : read_file(cfg->token_file, &b);
	if (r) {
		snprintf(err, errlen, "token file: %s: %s", cfg->token_file,
			 strerror(-r));
		return r == -ENOENT ? -ENOENT : r == -EACCES ? -EACCES : -EIO;
	}
	len = buf_len(&b);
	tok = xstrndup(len ? (const char *)buf_head(&b) : "", len);
	buf_release(&b);
	/* the kubelet writes the bare token; people add a newline */
	while (len && strchr(" \t\r\n", tok[len - 1]))
		tok[--len] = '\0';
	while (len && strchr(" \t\r\n", tok[0]))
		memmove(tok, tok + 1, len--);
	if (!len || strpbrk(tok, " \t\r\n")) {
		snprintf(err, errlen, "token file: %s: %s", cfg->token_file,
			 len ? "not a single token" : "empty");
		free(tok);
		return -EINVAL;
	}
	free(cfg->token);
	cfg->token = tok;
	cfg->token_mtime = st.st_mtim;
	cfg->token_size = st.st_size;
	return 0;
}

int kube_config_refresh_token(struct kube_config *cfg, char *err, size_t errlen)
{
	struct stat st;

	if (!cfg->token_file)
		return 0;
	if (stat(cfg->token_file, &st) == 0 && cfg->token &&
	    st.st_mtim.tv_sec == cfg->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == cfg->token_mtime.tv_nsec &&
	    st.st_size == cfg->token_size)
		return 0;
	return read_token(cfg, err, errlen);
}

void kube_config_release(struct kube_config *cfg)
{
	free(cfg->server);
	free(cfg->host);
	free(cfg->path_prefix);
	free(cfg->ca);
	if (cfg->key)
		memset(cfg->key, 0, cfg->key_len);
	free(cfg->cert);
	free(cfg->key);
	if (cfg->token)
		memset(cfg->token, 0, strlen(cfg->token));
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->namespace);
	free(cfg->context);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

/* resolve_config - the merged files into out */
static int resolve_config(struct kc_file *files, size_t nfiles,
			  const char *context, const char *source,
			  struct kube_config *out, char *err, size_t errlen)
{
	struct kc_entry ctx, cl, us;
	const char *cluster, *user, *server, *s;
	char where[512], why[256];
	const struct yml_node *n;
	bool b;
	int r;

	if (!context) {
		for (size_t f = 0; f < nfiles && !context; f++)
			context = str_at(files[f].root, "current-context");
		if (!context) {
			snprintf(err, errlen,
				 "kubeconfig: %s: no current-context is set "
				 "and no context was given",
				 source);
			return -EINVAL;
		}
	}
	if (!find(files, nfiles, "contexts", "context", context, &ctx)) {
		snprintf(err, errlen,
			 "kubeconfig: %s: context \"%s\" not found", source,
			 context);
		return -EINVAL;
	}
	if (yml_type(ctx.body) != YML_MAP) {
		return fail_at(err, errlen, &ctx, ctx.body, "context",
			       "missing or not a mapping");
	}
	cluster = str_at(ctx.body, "cluster");
	user = str_at(ctx.body, "user");
	if (!cluster) {
		return fail_at(err, errlen, &ctx, ctx.body, "context.cluster",
			       "context \"%s\" names no cluster", context);
	}
	if (!find(files, nfiles, "clusters", "cluster", cluster, &cl)) {
		return fail_at(err, errlen, &ctx, yml_get(ctx.body, "cluster"),
			       "context.cluster", "cluster \"%s\" not found",
			       cluster);
	}
	if (yml_type(cl.body) != YML_MAP) {
		return fail_at(err, errlen, &cl, cl.body, "cluster",
			       "missing or not a mapping");
	}
	us.body = NULL;
	if (user && !find(files, nfiles, "users", "user", user, &us)) {
		return fail_at(err, errlen, &ctx, yml_get(ctx.body, "user"),
			       "context.user", "user \"%s\" not found", user);
	}
	if (user && yml_type(us.body) != YML_MAP &&
	    yml_type(us.body) != YML_NULL) {
		return fail_at(err, errlen, &us, us.body, "user",
			       "not a mapping");
	}

	server = str_at(cl.body, "server");
	if (!server) {
		return fail_at(err, errlen, &cl, cl.body, "cluster.server",
			       "cluster \"%s\" has no server", cluster);
	}
	out->server = xstrdup(server);
	if (kube_parse_server(server, out, why, sizeof(why))) {
		return fail_at(err, errlen, &cl, yml_get(cl.body, "server"),
			       "cluster.server", "%s", why);
	}
	n = yml_get(cl.body, "insecure-skip-tls-verify");
	if (n && yml_type(n) != YML_NULL) {
		if (!yml_bool(n, &b)) {
			return fail_at(err, errlen, &cl, n,
				       "cluster.insecure-skip-tls-verify",
				       "not true or false");
		}
		out->insecure = b;
	}
	cl.section = "clusters";
	r = load_bytes(&cl, "certificate-authority", &out->ca, &out->ca_len,
		       err, errlen);
	if (r)
		return r;
	if (us.body && yml_type(us.body) == YML_MAP) {
		static const char *const unsupported[] = {
		    "exec", "auth-provider", "username", "password"};

		for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
			n = yml_get(us.body, unsupported[i]);
			if (!n || yml_type(n) == YML_NULL)
				continue;
			return fail_at(
			    err, errlen, &us, n, unsupported[i],
			    "user \"%s\": %s credentials are not "
			    "supported (use a client certificate or a "
			    "token)",
			    user, unsupported[i]);
		}
		r = load_bytes(&us, "client-certificate", &out->cert,
			       &out->cert_len, err, errlen);
		if (!r)
			r = load_bytes(&us, "client-key", &out->key,
				       &out->key_len, err, errlen);
		if (r)
			return r;
		if (!out->cert != !out->key) {
			return fail_at(
			    err, errlen, &us, us.body,
			    out->cert ? "client-key" : "client-certificate",
			    "user \"%s\" has a client %s without its %s", user,
			    out->cert ? "certificate" : "key",
			    out->cert ? "key" : "certificate");
		}
		if ((s = str_at(us.body, "token")))
			out->token = xstrdup(s);
		if ((s = str_at(us.body, "tokenFile"))) {
			out->token_file =
			    s[0] == '/' ? xstrdup(s)
					: xasprintf("%s/%s", us.file->dir, s);
			if (!out->token) {
				r = read_token(out, why, sizeof(why));
				if (r) {
					set_where(where, sizeof(where), &us,
						  yml_get(us.body, "tokenFile"),
						  "user.tokenFile");
					snprintf(err, errlen,
						 "kubeconfig: %s: %s", where,
						 why);
					return r;
				}
			}
		}
	}
	if ((s = str_at(ctx.body, "namespace")))
		out->namespace = xstrdup(s);
	out->context = xstrdup(context);
	out->source = xstrdup(source);
	r = resolve(out, why, sizeof(why));
	if (r) {
		set_where(where, sizeof(where), &cl, yml_get(cl.body, "server"),
			  "cluster.server");
		snprintf(err, errlen, "kubeconfig: %s: %s", where, why);
		return r;
	}
	return 0;
}

/* parse_file - text into f (name and dir already set) */
static int parse_file(struct kc_file *f, const char *text, size_t len,
		      char *err, size_t errlen)
{
	char why[512];

	yml_stream_init(&f->s);
	if (yml_parse(&f->s, text, len, f->name, NULL, why, sizeof(why))) {
		snprintf(err, errlen, "kubeconfig: %s", why);
		return -EINVAL;
	}
	if (f->s.count == 0 || yml_type(f->s.docs[0]) == YML_NULL) {
		/* kubectl reads an empty file as an empty config */
		f->root = NULL;
		return 0;
	}
	if (f->s.count > 1 || yml_type(f->s.docs[0]) != YML_MAP) {
		snprintf(err, errlen,
			 "kubeconfig: %s:%u:%u: not a kubeconfig "
			 "(one mapping with clusters, users, contexts)",
			 f->name, yml_line(f->s.docs[0]),
			 yml_col(f->s.docs[0]));
		return -EINVAL;
	}
	f->root = f->s.docs[0];
	static const char *const seqs[] = {"clusters", "users", "contexts"};
	for (size_t i = 0; i < ARRAY_SIZE(seqs); i++) {
		const struct yml_node *n = yml_get(f->root, seqs[i]);

		if (n && yml_type(n) != YML_SEQ && yml_type(n) != YML_NULL) {
			snprintf(err, errlen,
				 "kubeconfig: %s:%u:%u: %s: not a list",
				 f->name, yml_line(n), yml_col(n), seqs[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static void files_free(struct kc_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].name);
		free(files[i].dir);
		yml_stream_release(&files[i].s);
	}
	free(files);
}

int kube_config_load_text(const char *text, size_t len, const char *name,
			  const char *dir, const char *context,
			  struct kube_config *out, char *err, size_t errlen)
{
	struct kc_file *f = xcalloc(1, sizeof(*f));
	int r;

	memset(out, 0, sizeof(*out));
	f->name = xstrdup(name);
	f->dir = xstrdup(dir ? dir : ".");
	r = parse_file(f, text, len, err, errlen);
	if (!r)
		r = resolve_config(f, 1, context, name, out, err, errlen);
	files_free(f, 1);
	if (r)
		kube_config_release(out);
	return r;
}

int kube_config_load(const char *path, const char *context,
		     struct kube_config *out, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	struct kc_file *files = NULL;
	size_t nfiles = 0;
	char *list, *save = NULL, *home_cfg = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (path) {
		list = xstrdup(path);
	} else if (env && *env) {
		list = xstrdup(env);
	} else {
		const char *home = getenv("HOME");

		if (!home || !*home) {
			snprintf(err, errlen,
				 "kubeconfig: no --kubeconfig, no "
				 "KUBECONFIG and no HOME");
			return -ENOENT;
		}
		list = home_cfg = xasprintf("%s/.kube/config", home);
		path = home_cfg;
	}
	/* an explicit file is one name, ':' and all */
	for (char *p = path ? list : strtok_r(list, ":", &save); p;
	     p = path ? NULL : strtok_r(NULL, ":", &save)) {
		struct buf b;

		if (!*p)
			continue;
		r = read_file(p, &b);
		if (r == -ENOENT && !path) {
			r = 0; /* kubectl skips missing files of KUBECONFIG */
			continue;
		}
		if (r) {
			snprintf(err, errlen, "kubeconfig: %s: %s", p,
				 strerror(-r));
			r = r == -ENOENT   ? -ENOENT
			    : r == -EACCES ? -EACCES
					   : -EINVAL;
			goto out;
		}
		files = xrealloc(files, (nfiles + 1) * sizeof(*files));
		memset(&files[nfiles], 0, sizeof(*files));
		files[nfiles].name = xstrdup(p);
		files[nfiles].dir = dir_of(p);
		nfiles++;
		r = parse_file(&files[nfiles - 1],
			       buf_len(&b) ? (char *)buf_head(&b) : "",
			       buf_len(&b), err, errlen);
		buf_release(&b);
		if (r)
			goto out;
	}
	if (!nfiles) {
		snprintf(err, errlen,
			 "kubeconfig: KUBECONFIG=%s: none of its files exists",
			 env);
		r = -ENOENT;
		goto out;
	}
	{
		char *source = nfiles == 1
				   ? xstrdup(files[0].name)
				   : xasprintf("%s (and %zu more)",
					       files[0].name, nfiles - 1);

		r = resolve_config(files, nfiles, context, source, out, err,
				   errlen);
		free(source);
	}
out:
	files_free(files, nfiles);
	free(list);
	if (r)
		kube_config_release(out);
	return r;
}

int kube_config_in_cluster(const char *dir, struct kube_config *out, char *err,
			   size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char why[256], *path;
	struct buf b;
	int r;

	memset(out, 0, sizeof(*out));
	if (!dir)
		dir = KUBE_SA_DIR;
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen,
			 "in-cluster config: KUBERNETES_SERVICE_HOST and "
			 "KUBERNETES_SERVICE_PORT are not set (not in a pod)");
		return -ENOENT;
	}
	out->server = strchr(host, ':')
			  ? xasprintf("https://[%s]:%s", host, port)
			  : xasprintf("https://%s:%s", host, port);
	if (kube_parse_server(out->server, out, why, sizeof(why))) {
		snprintf(err, errlen,
			 "in-cluster config: KUBERNETES_SERVICE_HOST/PORT: %s",
			 why);
		r = -EINVAL;
		goto out_release;
	}
	out->token_file = xasprintf("%s/token", dir);
	r = read_token(out, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "in-cluster config: %s", why);
		goto out_release;
	}
	path = xasprintf("%s/ca.crt", dir);
	r = read_file(path, &b);
	if (r) {
		snprintf(err, errlen, "in-cluster config: CA: %s: %s", path,
			 strerror(-r));
		free(path);
		r = r == -ENOENT ? -ENOENT : r == -EACCES ? -EACCES : -EIO;
		goto out_release;
	}
	free(path);
	out->ca_len = buf_len(&b);
	out->ca = xmalloc(out->ca_len + 1);
	if (out->ca_len)
		memcpy(out->ca, buf_head(&b), out->ca_len);
	out->ca[out->ca_len] = '\0';
	buf_release(&b);
	path = xasprintf("%s/namespace", dir);
	if (read_file(path, &b) == 0) {
		char *ns = buf_cstr(&b);

		if (ns) {
			ns[strcspn(ns, " \t\r\n")] = '\0';
			if (*ns)
				out->namespace = xstrdup(ns);
		}
		buf_release(&b);
	}
	free(path);
	out->source = xasprintf("in-cluster (%s)", dir);
	r = resolve(out, why, sizeof(why));
	if (r) {
		snprintf(err, errlen, "in-cluster config: %s", why);
		goto out_release;
	}
	return 0;

out_release:
	kube_config_release(out);
	return r;
}

int kube_config_auto(const char *path, const char *context,
		     struct kube_config *out, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	if (!path && !(env && *env) && host && *host)
		return kube_config_in_cluster(NULL, out, err, errlen);
	return kube_config_load(path, context, out, err, errlen);
}
