/* SPDX-License-Identifier: Apache-2.0 */
/* kube_config.h - where the Kubernetes API is, how to log in to it */
#ifndef CONDUIT_KUBE_CONFIG_H
#define CONDUIT_KUBE_CONFIG_H

#include <sys/types.h>
#include <time.h>

#include "conduit/base.h"
#include "conduit/sock.h"

/*
 * A resolved client configuration: one server, its CA, one set of
 * credentials. Read from a kubeconfig (kube_config_load) or from the
 * ServiceAccount a pod runs as (kube_config_in_cluster). Embedded; release
 * with kube_config_release(). Every pointer is owned by the struct.
 */
struct kube_config {
	char *server; /* the URL as written: "https://10.0.0.1:6443" */
	bool https;   /* else plain HTTP (tests) */
	char *host;   /* the server's name or IP, no brackets: for TLS */
	int port;
	struct sock_addr addr; /* where to connect (resolved at load time) */
	char *path_prefix;     /* a path in the server URL ("" or "/k8s") */

	unsigned char *ca; /* CA certificate(s), PEM or DER, or NULL */
	size_t ca_len;
	bool insecure;	     /* insecure-skip-tls-verify */
	unsigned char *cert; /* client certificate, PEM or DER, or NULL */
	size_t cert_len;
	unsigned char *key; /* its private key */
	size_t key_len;

	char *token;		     /* bearer token, or NULL */
	char *token_file;	     /* re-read when it changes, or NULL */
	struct timespec token_mtime; /* of token_file when token was read */
	off_t token_size;

	char *namespace; /* the context's namespace (or the pod's), or NULL */
	char *context;	 /* the context used, NULL in-cluster */
	char *source;	 /* where it came from, for messages */
};

/* the ServiceAccount files a pod sees, and the default kubeconfig */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/*
 * kube_config_load - read a kubeconfig. path: that one file; NULL: the
 * files in $KUBECONFIG (':'-separated, merged as kubectl merges them: the
 * first file to name a cluster, user or context wins, and the first
 * current-context set wins; files that do not exist are skipped), else
 * ~/.kube/config. context: that context, NULL for current-context.
 * Supported: server (https or http, IP literal or a name resolved here
 * with getaddrinfo), certificate-authority(-data), insecure-skip-tls-verify,
 * client-certificate(-data), client-key(-data), token, tokenFile, the
 * context's namespace. Relative file names are relative to the kubeconfig
 * that names them. exec and auth-provider credentials are refused.
 *
 * Returns 0, or a negative errno with "<what>: <where>: <why>" in err
 * (where is file:line:col and the key path):
 *   -ENOENT  no kubeconfig, or a file it names is missing
 *   -EINVAL  malformed: not YAML, missing context/cluster/user, bad
 *            base64, bad server URL, unsupported credentials
 *   -EACCES  a file cannot be read
 *   -ENOMEM
 * On error out is left released (nothing to free).
 */
int kube_config_load(const char *path, const char *context,
		     struct kube_config *out, char *err, size_t errlen);

/*
 * kube_config_load_text - the same from a kubeconfig held in memory (for
 * tests and fuzzing); name is what messages call it, dir resolves relative
 * file names (NULL: the current directory). Returns as kube_config_load.
 */
int kube_config_load_text(const char *text, size_t len, const char *name,
			  const char *dir, const char *context,
			  struct kube_config *out, char *err, size_t errlen);

/*
 * kube_config_in_cluster - the pod's own ServiceAccount: dir/token (a
 * token file, re-read when the kubelet rotates it), dir/ca.crt,
 * dir/namespace, and KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT
 * (an IPv6 host is bracketed in the URL). dir NULL: KUBE_SA_DIR.
 * Returns 0, -ENOENT (not in a pod: the variables or files are missing),
 * -EINVAL, -EACCES, -ENOMEM, with the reason in err.
 */
int kube_config_in_cluster(const char *dir, struct kube_config *out, char *err,
			   size_t errlen);

/*
 * kube_config_auto - what a program run anywhere wants, as client-go's
 * defaults do: path (a --kubeconfig flag) when given; else $KUBECONFIG
 * when set; else the in-cluster ServiceAccount when
 * KUBERNETES_SERVICE_HOST is set (in a pod); else ~/.kube/config.
 * context as for kube_config_load (ignored in-cluster). Returns as
 * kube_config_load or kube_config_in_cluster, whichever was used.
 */
int kube_config_auto(const char *path, const char *context,
		     struct kube_config *out, char *err, size_t errlen);

/*
 * kube_config_refresh_token - when token_file changed since it was read
 * (mtime or size), read it again into token. Cheap (one stat) when it did
 * not. Returns 0 (unchanged or re-read), or a negative errno with the
 * reason in err; the old token is kept then.
 */
int kube_config_refresh_token(struct kube_config *cfg, char *err,
			      size_t errlen);

/* kube_config_release - free everything; the struct reads as zeroed */
void kube_config_release(struct kube_config *cfg);

/*
 * kube_parse_server - split a server URL ("https://h:6443/prefix",
 * "http://[::1]:8080", "https://h" meaning port 443) into cfg's https,
 * host, port and path_prefix (the address is not resolved). Returns 0 or
 * -EINVAL with the reason in err.
 */
int kube_parse_server(const char *url, struct kube_config *cfg, char *err,
		      size_t errlen);

#endif
