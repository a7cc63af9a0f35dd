/* SPDX-License-Identifier: Apache-2.0 */
/* tls.c - TLS 1.2 clients and servers on non-blocking sockets (mbedtls) */
#include "conduit/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "conduit/pki.h"

struct tls_client {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;   /* trusted CAs */
	mbedtls_x509_crt cert; /* our certificate, if any */
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	bool insecure;
};

/*
 * A server's credentials: what the connections made with them share.
 * Reference-counted, so a reload never pulls them from under a
 * connection; each has its own random generator for the same reason.
 */
struct tls_cred {
	unsigned refs;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert; /* the leaf, then intermediates */
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int64_t not_after;
};

/* what identifies a file's version on disk */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct tls_server {
	char *cert_file, *key_file;
	struct file_id cert_id, key_id;
	struct tls_cred *cred; /* one reference */
};

struct tls_conn {
	struct tls_client *client; /* NULL for a server connection */
	struct tls_cred *cred;	   /* a server connection's reference */
	size_t wpending;	   /* a record of this many bytes is made
				    * but not yet sent */
	mbedtls_ssl_context ssl;
	int fd;			/* borrowed */
	bool want_write;	/* the last -EAGAIN waits for POLLOUT */
	bool ip;		/* host is an IP literal: checked by hand */
	unsigned char addr[16]; /* that address, network order */
	size_t addr_len;	/* 4 or 16 */
	char error[400];
};

static void mbed_err(char *err, size_t errlen, const char *what, int r)
{
	char why[120];

	mbedtls_strerror(r, why, sizeof(why));
	snprintf(err, errlen, "%s: %s (mbedtls -0x%04x)", what, why,
		 (unsigned)-r);
}

/*
 * parse_nul - mbedtls reads PEM only from a NUL-terminated buffer whose
 * length counts the NUL; DER is taken as is. Copy and terminate.
 */
static int parse_crt(mbedtls_x509_crt *crt, const void *p, size_t len)
{
	unsigned char *copy = xmalloc(len + 1);
	int r;

	memcpy(copy, p, len);
	copy[len] = '\0';
	r = mbedtls_x509_crt_parse(crt, copy, len + 1);
	free(copy);
	return r;
}

static int parse_key(mbedtls_pk_context *pk, const void *p, size_t len)
{
	unsigned char *copy = xmalloc(len + 1);
	int r;

	memcpy(copy, p, len);
	copy[len] = '\0';
	r = mbedtls_pk_parse_key(pk, copy, len + 1, NULL, 0);
	mbedtls_platform_zeroize(copy, len);
	free(copy);
	return r;
}

struct tls_client *tls_client_new(const struct tls_client_opts *o, char *err,
				  size_t errlen)
{
	static const char pers[] = "conduit-tls";
	struct tls_client *c = xcalloc(1, sizeof(*c));
	int r;

	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->cert);
	mbedtls_pk_init(&c->key);
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	c->insecure = o->insecure;

	r = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
				  (const unsigned char *)pers,
				  sizeof(pers) - 1);
	if (r) {
		mbed_err(err, errlen, "seeding the random generator", r);
		goto out_free;
	}
	if (o->ca && o->ca_len) {
		r = parse_crt(&c->ca, o->ca, o->ca_len);
		if (r < 0) { /* > 0: some certificates of a bundle skipped */
			mbed_err(err, errlen, "CA certificate", r);
			goto out_free;
		}
	} else if (!o->insecure) {
		snprintf(err, errlen,
			 "CA certificate: none given, and the server "
			 "is to be verified");
		goto out_free;
	}
	if ((o->cert && o->cert_len) != (o->key && o->key_len)) {
		snprintf(err, errlen, "client certificate: %s without %s",
			 o->cert_len ? "a certificate" : "a key",
			 o->cert_len ? "its key" : "a certificate");
		goto out_free;
	}
	if (o->cert && o->cert_len) {
		r = parse_crt(&c->cert, o->cert, o->cert_len);
		if (r) {
			mbed_err(err, errlen, "client certificate", r);
			goto out_free;
		}
		r = parse_key(&c->key, o->key, o->key_len);
		if (r) {
			mbed_err(err, errlen, "client key", r);
			goto out_free;
		}
		r = mbedtls_pk_check_pair(&c->cert.pk, &c->key);
		if (r) {
			mbed_err(err, errlen,
				 "client key: does not match the certificate",
				 r);
			goto out_free;
		}
	}
	r = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
					MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT);
	if (r) {
		mbed_err(err, errlen, "TLS configuration", r);
		goto out_free;
	}
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&c->conf, o->insecure
						? MBEDTLS_SSL_VERIFY_NONE
						: MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	if (o->cert && o->cert_len) {
		r = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key);
		if (r) {
			mbed_err(err, errlen, "client certificate", r);
			goto out_free;
		}
	}
	return c;

out_free:
	tls_client_free(c);
	return NULL;
}

void tls_client_free(struct tls_client *c)
{
	if (!c)
		return;
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->cert);
	mbedtls_pk_free(&c->key);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	free(c);
}

static int on_send(void *ctx, const unsigned char *p, size_t len)
{
	struct tls_conn *t = ctx;
	ssize_t n = write(t->fd, p, len);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	t->want_write = false;
	return errno == EPIPE || errno == ECONNRESET
		   ? MBEDTLS_ERR_NET_CONN_RESET
		   : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int on_recv(void *ctx, unsigned char *p, size_t len)
{
	struct tls_conn *t = ctx;
	ssize_t n = read(t->fd, p, len);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
				   : MBEDTLS_ERR_NET_RECV_FAILED;
}

struct tls_conn *tls_conn_new(struct tls_client *c, int fd, const char *host)
{
	struct tls_conn *t = xcalloc(1, sizeof(*t));

	t->client = c;
	t->fd = fd;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &c->conf)) {
		tls_conn_free(t);
		return NULL;
	}
	if (inet_pton(AF_INET, host, t->addr) == 1) {
		t->ip = true;
		t->addr_len = 4;
	} else if (inet_pton(AF_INET6, host, t->addr) == 1) {
		t->ip = true;
		t->addr_len = 16;
	} else if (mbedtls_ssl_set_hostname(&t->ssl, host)) {
		tls_conn_free(t);
		return NULL;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, on_send, on_recv, NULL);
	return t;
}

static void cred_put(struct tls_cred *c);

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	mbedtls_ssl_free(&t->ssl);
	cred_put(t->cred);
	free(t);
}

/* --- server ------------------------------------------------------------------ */

static void cred_put(struct tls_cred *c)
{
	if (!c || --c->refs)
		return;
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->cert);
	mbedtls_pk_free(&c->key);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	free(c);
}

static struct tls_cred *cred_load(const char *cert_file, const char *key_file,
				  char *err, size_t errlen)
{
	static const char pers[] = "conduit-tls-server";
	/* ALPN: the webhook's clients speak HTTP/1.1 (kube-apiserver offers
	 * h2 and http/1.1 and takes what we pick) */
	static const char *alpn[] = { "http/1.1", NULL };
	struct tls_cred *c = xcalloc(1, sizeof(*c));
	int r;

	c->refs = 1;
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->cert);
	mbedtls_pk_init(&c->key);
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	r = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1);
	if (r) {
		mbed_err(err, errlen, "seeding the random generator", r);
		goto out_free;
	}
	r = mbedtls_x509_crt_parse_file(&c->cert, cert_file);
	if (r) {
		mbed_err(err, errlen, cert_file, r);
		goto out_free;
	}
	r = mbedtls_pk_parse_keyfile(&c->key, key_file, NULL);
	if (r) {
		mbed_err(err, errlen, key_file, r);
		goto out_free;
	}
	r = mbedtls_pk_check_pair(&c->cert.pk, &c->key);
	if (r) {
		char what[600];

		snprintf(what, sizeof(what), "%s: not the key of %s", key_file,
			 cert_file);
		mbed_err(err, errlen, what, r);
		goto out_free;
	}
	c->not_after = pki_x509_time_unix(&c->cert.valid_to);
	r = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_SERVER,
					MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT);
	if (r) {
		mbed_err(err, errlen, "TLS configuration", r);
		goto out_free;
	}
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	r = mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn);
	if (!r)
		r = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key);
	if (r) {
		mbed_err(err, errlen, cert_file, r);
		goto out_free;
	}
	return c;

out_free:
	cred_put(c);
	return NULL;
}

static int file_id(const char *path, struct file_id *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	return 0;
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct tls_server *tls_server_new(const char *cert_file, const char *key_file,
				  char *err, size_t errlen)
{
	struct tls_server *s = xcalloc(1, sizeof(*s));

	s->cert_file = xstrdup(cert_file);
	s->key_file = xstrdup(key_file);
	/* ids first: a change while loading shows at the next reload */
	file_id(cert_file, &s->cert_id);
	file_id(key_file, &s->key_id);
	s->cred = cred_load(cert_file, key_file, err, errlen);
	if (!s->cred) {
		tls_server_free(s);
		return NULL;
	}
	return s;
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	cred_put(s->cred);
	free(s->cert_file);
	free(s->key_file);
	free(s);
}

int tls_server_reload(struct tls_server *s, char *err, size_t errlen)
{
	struct file_id cid, kid;
	struct tls_cred *c;
	int r;

	if ((r = file_id(s->cert_file, &cid))) {
		snprintf(err, errlen, "%s: %s", s->cert_file, strerror(-r));
		return r;
	}
	if ((r = file_id(s->key_file, &kid))) {
		snprintf(err, errlen, "%s: %s", s->key_file, strerror(-r));
		return r;
	}
	if (same_file(&cid, &s->cert_id) && same_file(&kid, &s->key_id))
		return 0;
	c = cred_load(s->cert_file, s->key_file, err, errlen);
	if (!c)
		return -EINVAL; /* half-written files: tried again next time */
	s->cert_id = cid;
	s->key_id = kid;
	cred_put(s->cred);
	s->cred = c;
	return 1;
}

int64_t tls_server_not_after(const struct tls_server *s)
{
	return s->cred->not_after;
}

struct tls_conn *tls_server_conn_new(struct tls_server *s, int fd)
{
	struct tls_conn *t = xcalloc(1, sizeof(*t));

	t->fd = fd;
	t->cred = s->cred;
	t->cred->refs++;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &t->cred->conf)) {
		tls_conn_free(t);
		return NULL;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, on_send, on_recv, NULL);
	return t;
}

bool tls_conn_pending(const struct tls_conn *t)
{
	return mbedtls_ssl_get_bytes_avail(&t->ssl) > 0;
}

/* ip_in_cert - the address is one of the certificate's iPAddress SANs */
static bool ip_in_cert(const struct tls_conn *t, const mbedtls_x509_crt *crt)
{
	const mbedtls_x509_sequence *s;

	for (s = &crt->subject_alt_names; s && s->buf.p; s = s->next) {
		if (s->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7))
			continue;
		if (s->buf.len == t->addr_len &&
		    !memcmp(s->buf.p, t->addr, t->addr_len))
			return true;
	}
	return false;
}

static int map_err(struct tls_conn *t, int r, const char *what)
{
	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		t->want_write = false;
		return -EAGAIN;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->want_write = true;
		return -EAGAIN;
	}
	if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		char info[256];
		uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);

		mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
		info[strcspn(info, "\n")] = '\0';
		snprintf(t->error, sizeof(t->error),
			 "%s: the server's certificate is not trusted: %s",
			 what, info);
		return -EPROTO;
	}
	mbed_err(t->error, sizeof(t->error), what, r);
	if (r == MBEDTLS_ERR_NET_CONN_RESET)
		return -ECONNRESET;
	if (r == MBEDTLS_ERR_NET_SEND_FAILED ||
	    r == MBEDTLS_ERR_NET_RECV_FAILED)
		return -EIO;
	return -EPROTO;
}

int tls_conn_handshake(struct tls_conn *t, char *err, size_t errlen)
{
	int r = mbedtls_ssl_handshake(&t->ssl);

	if (r) {
		r = map_err(t, r, "TLS handshake");
		if (r != -EAGAIN)
			snprintf(err, errlen, "%s", t->error);
		return r;
	}
	if (t->client && t->ip && !t->client->insecure) {
		const mbedtls_x509_crt *peer =
		    mbedtls_ssl_get_peer_cert(&t->ssl);

		if (!peer || !ip_in_cert(t, peer)) {
			snprintf(
			    t->error, sizeof(t->error),
			    "TLS handshake: the server's certificate does not "
			    "name the address it was reached at");
			snprintf(err, errlen, "%s", t->error);
			return -EPROTO;
		}
	}
	return 0;
}

ssize_t tls_conn_read(struct tls_conn *t, void *p, size_t len)
{
	int r = mbedtls_ssl_read(&t->ssl, p, len);

	if (r >= 0)
		return r;
	if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	return map_err(t, r, "TLS read");
}

ssize_t tls_conn_write(struct tls_conn *t, const void *p, size_t len)
{
	int r;

	/* mbedtls 2.28 answers a retry with the length it is given, though
	 * only the record made the first time goes out: give it that one */
	if (t->wpending && len > t->wpending)
		len = t->wpending;
	r = mbedtls_ssl_write(&t->ssl, p, len);
	if (r >= 0) {
		t->wpending = 0;
		return r;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
		size_t max = (size_t)mbedtls_ssl_get_max_out_record_payload(&t->ssl);

		if (!t->wpending)
			t->wpending = len < max ? len : max;
	}
	return map_err(t, r, "TLS write");
}

void tls_conn_close_notify(struct tls_conn *t)
{
	(void)mbedtls_ssl_close_notify(&t->ssl);
}

bool tls_conn_wants_write(const struct tls_conn *t)
{
	return t->want_write;
}

const char *tls_conn_error(const struct tls_conn *t)
{
	return t->error;
}
