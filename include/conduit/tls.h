/* SPDX-License-Identifier: Apache-2.0 */
/* tls.h - TLS 1.2 clients and servers on non-blocking sockets (mbedtls) */
#ifndef CONDUIT_TLS_H
#define CONDUIT_TLS_H

#include <stdint.h>
#include <sys/types.h>

#include "conduit/base.h"

/*
 * The client side of TLS for programs that talk to an HTTPS server on
 * their own event loop (the Kubernetes API client). mbedtls is included
 * only by tls.c (and pki.c).
 *
 * A struct tls_client holds what every connection shares: the trusted CAs,
 * the client certificate and key, whether to verify. A struct tls_conn is
 * one connection over a connected, non-blocking fd that the caller owns
 * and polls: every call returns -EAGAIN when it must wait, and then
 * tls_conn_wants_write() says whether to wait for writability (else
 * readability).
 *
 * Verification: the server's chain must lead to one of the CAs, and the
 * name the caller gives must be in the certificate: a DNS name against
 * its dNSName entries (or CN), an IP literal against its iPAddress
 * entries (mbedtls 2.28 checks names only, so addresses are checked here).
 */
struct tls_client;
struct tls_conn;

struct tls_client_opts {
	const void *ca; /* PEM or DER CA certificates, or NULL */
	size_t ca_len;
	const void *cert; /* PEM or DER client certificate, or NULL */
	size_t cert_len;
	const void *key; /* PEM or DER private key for cert */
	size_t key_len;
	bool insecure; /* do not verify the server at all */
};

/*
 * tls_client_new - parse the CAs, certificate and key (copied; the opts
 * are borrowed for the call). Without a CA and not insecure, the server
 * cannot be verified: refused. Returns the client, or NULL with
 * "<what>: <why>" in err. Free with tls_client_free() once every
 * connection made from it is freed.
 */
struct tls_client *tls_client_new(const struct tls_client_opts *o, char *err,
				  size_t errlen);
void tls_client_free(struct tls_client *c);

/*
 * tls_conn_new - a connection over fd (borrowed: the caller closes it
 * after tls_conn_free()) to the server named host (a DNS name or an IP
 * literal, without brackets; copied). NULL on OOM.
 */
struct tls_conn *tls_conn_new(struct tls_client *c, int fd, const char *host);
void tls_conn_free(struct tls_conn *t);

/*
 * The server side: a certificate and key read from PEM files (a
 * kubernetes.io/tls Secret's tls.crt and tls.key), TLS 1.2 only, ALPN
 * http/1.1, no client certificates. The files are re-read by
 * tls_server_reload() when they change; connections already made keep the
 * credentials they started with (each holds a reference), new ones get
 * the new pair.
 */
struct tls_server;

/*
 * tls_server_new - read cert_file (PEM, the leaf first, then any
 * intermediates) and key_file (paths copied). Returns the server, or NULL
 * with "<file>: <why>" in err. Free with tls_server_free(); connections
 * made from it may outlive it.
 */
struct tls_server *tls_server_new(const char *cert_file, const char *key_file,
				  char *err, size_t errlen);
void tls_server_free(struct tls_server *s);

/*
 * tls_server_reload - re-read the files when their size, mtime or inode
 * changed (a Secret update swaps a symlink). Returns 1 when new
 * credentials are in use, 0 when nothing changed, or a negative errno
 * with the reason in err: the old pair stays in use.
 */
int tls_server_reload(struct tls_server *s, char *err, size_t errlen);

/* tls_server_not_after - the leaf's notAfter (Unix seconds) */
int64_t tls_server_not_after(const struct tls_server *s);

/*
 * tls_server_conn_new - a server connection over fd (borrowed, as for
 * tls_conn_new), with the current credentials. NULL on OOM. Use it with
 * tls_conn_handshake (0 once the client is done with its side),
 * tls_conn_read, tls_conn_write, tls_conn_free.
 */
struct tls_conn *tls_server_conn_new(struct tls_server *s, int fd);

/*
 * tls_conn_pending - decrypted bytes mbedtls holds that the socket will
 * not signal again: read them before waiting
 */
bool tls_conn_pending(const struct tls_conn *t);

/*
 * tls_conn_handshake - advance the handshake. Returns 0 once it is done
 * and the server verified, -EAGAIN to wait (see tls_conn_wants_write),
 * -EPROTO (handshake failure or verification; the reason in err) or
 * another negative errno (the socket's).
 */
int tls_conn_handshake(struct tls_conn *t, char *err, size_t errlen);

/*
 * tls_conn_read - up to len plaintext bytes. Returns the count (> 0), 0
 * when the server closed (close_notify or EOF), -EAGAIN, -EPROTO or a
 * socket errno. Call it again until -EAGAIN: mbedtls may hold decrypted
 * bytes the socket no longer signals.
 */
ssize_t tls_conn_read(struct tls_conn *t, void *p, size_t len);

/*
 * tls_conn_write - send up to len bytes. Returns the count written (> 0),
 * -EAGAIN (then call again with the same bytes, or more bytes that start
 * with them: only the record already made is sent, and counted), or a
 * negative errno.
 */
ssize_t tls_conn_write(struct tls_conn *t, const void *p, size_t len);

/* tls_conn_close_notify - tell the peer we are done (best effort) */
void tls_conn_close_notify(struct tls_conn *t);

/* tls_conn_wants_write - the last -EAGAIN waits for writability */
bool tls_conn_wants_write(const struct tls_conn *t);

/* tls_conn_error - the last error as text, for a log line */
const char *tls_conn_error(const struct tls_conn *t);

#endif
