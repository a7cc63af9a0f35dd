/* SPDX-License-Identifier: Apache-2.0 */
/* tls_relay.h - mutual TLS between meshed proxies, as an in-process relay */
#ifndef CONDUIT_TLS_RELAY_H
#define CONDUIT_TLS_RELAY_H

#include <ev.h>
#include <stdint.h>

#include "conduit/base.h"
#include "conduit/sock.h"

/*
 * The proxy's handlers (HTTP/1, HTTP/2, TCP with splice) work on plain
 * file descriptors and the kernel has no kTLS, so TLS between proxies is
 * a relay: TLS on the TCP socket on one side, plaintext on one end of an
 * AF_UNIX SOCK_STREAM socketpair on the other. The handler uses the
 * other end of the pair as if it were the connection.
 *
 *    peer proxy  <== TLS ==>  relay  <-- plaintext -->  handler
 *                 (TCP fd)          (socketpair)       (plain_fd)
 *
 * TLS 1.2 only, ECDHE-ECDSA with AES-128-GCM, AES-256-GCM or
 * ChaCha20-Poly1305; certificates are ECDSA P-256 (DESIGN.md §3). The
 * identity of a proxy is the first dNSName subjectAltName of its leaf
 * ("web.emojivoto.serviceaccount.identity.conduit.cluster.local").
 * mbedtls is included only by tls_relay.c.
 *
 * Sessions are resumed (RFC 5077 tickets, an hour): a client keeps the
 * last session of each server identity and address, so a connection per
 * request costs symmetric crypto only after the first.
 *
 * Memory: a relay holds one 16 KiB buffer per direction (from the end of
 * its handshake), plus mbedtls's record buffers (about 16.6 KiB in, 16.6
 * KiB out) and session (the peer's certificate): about 70 KiB in all,
 * whatever the traffic, and what the kernel buffers in the sockets. A
 * direction stops reading its source while its buffer waits for the
 * other side (backpressure both ways).
 */

/* --- credentials ------------------------------------------------------------- */

/*
 * struct tls_mesh - the trust anchors and our identity (certificate,
 * intermediates, key). The identity is replaced by tls_mesh_set_cert():
 * new connections use the new one, connections already made keep theirs
 * (each relay holds a reference to the credentials it started with).
 */
struct tls_mesh;

/*
 * tls_mesh_new - anchors_pem: one or more PEM CA certificates (copied)
 * the peers' chains must lead to. The mesh starts without a certificate:
 * it can make client relays (that present none), not server relays.
 * Returns the mesh, or NULL with "anchors: <why>" in err. Free with
 * tls_mesh_free().
 */
struct tls_mesh *tls_mesh_new(const void *anchors_pem, size_t len, char *err,
			      size_t errlen);

/* tls_mesh_free - relays made from m may outlive it; NULL is a no-op */
void tls_mesh_free(struct tls_mesh *m);

/*
 * tls_mesh_set_cert - our identity: key (PEM or DER, ECDSA P-256), leaf
 * (DER) and ninter intermediates (DER, the leaf's issuer first); all
 * copied. Checked: the key is P-256 and the leaf's, the leaf has a
 * dNSName subjectAltName, and the chain leads to the anchors. The
 * validity period is not checked here (the peers check it: a clock
 * behind the issuer's must not leave a proxy without credentials).
 * Returns 0, or -EINVAL with "<what>: <why>" in err, the credentials in
 * use unchanged.
 */
int tls_mesh_set_cert(struct tls_mesh *m, const void *key, size_t key_len,
		      const void *leaf_der, size_t leaf_len,
		      const void *const *inter_der, const size_t *inter_len,
		      size_t ninter, char *err, size_t errlen);

/* tls_mesh_has_cert - whether set_cert succeeded once (server relays) */
bool tls_mesh_has_cert(const struct tls_mesh *m);

/* --- relays ------------------------------------------------------------------ */

struct tls_relay;

/*
 * struct tls_relay_group - the live relays of one loop, owned by the
 * caller (the proxy), embedded: for counting them and closing them all at
 * shutdown. The reaper frees finished relays after the loop iteration
 * (a callback never frees what it runs in); it does not keep the loop
 * alive on its own.
 */
struct tls_relay_group {
	struct ev_loop *loop;
	struct tls_relay *head; /* every relay not yet freed */
	struct tls_relay *dead; /* finished, freed by the reaper */
	size_t active;		/* relays that still hold sockets */
	ev_check reaper;
	uint64_t handshakes;	 /* completed, both sides */
	uint64_t client_resumed; /* of the client's, resumed sessions (no
				  * ECDHE, no signatures) */
};

void tls_relay_group_init(struct tls_relay_group *g, struct ev_loop *loop);

/*
 * tls_relay_group_count - relays that still hold sockets (handshaking or
 * relaying); a proxy drains until it is 0
 */
size_t tls_relay_group_count(const struct tls_relay_group *g);

/*
 * tls_relay_group_free_all - close and free every relay at once, TCP
 * sockets reset, no callback; every relay handle becomes invalid. The
 * group stays usable. Not from inside a relay's callback.
 */
void tls_relay_group_free_all(struct tls_relay_group *g);

/* tls_relay_group_release - free_all, then stop the reaper */
void tls_relay_group_release(struct tls_relay_group *g);

/*
 * tls_relay_server - the server side of an accepted TCP connection fd
 * (taken: the relay closes it). prefix[0..plen) are bytes already read
 * from fd (the start of the ClientHello, read while detecting the
 * protocol; copied), fed to mbedtls before the socket is read. The
 * client's certificate is optional: when it presents one, the chain must
 * lead to the anchors and the leaf must have a dNSName, else the
 * handshake fails.
 *
 * The handshake must end within handshake_timeout seconds (<= 0: 10).
 * Then on_ready(arg, plain_fd, peer_id) runs once: plain_fd is the
 * caller's end of the socketpair (non-blocking, close-on-exec; the
 * caller owns and closes it), peer_id the client's identity, "" when it
 * presented no certificate (borrowed for the call). Or, on failure,
 * on_ready(arg, -1, why) runs once with a short reason ("handshake: the
 * client's certificate is not trusted: ..."), also logged.
 *
 * After on_ready the handle is no longer the caller's: the relay copies
 * bytes both ways (an EOF on either side becomes a close_notify and
 * shutdown(SHUT_WR), or a shutdown(SHUT_WR) of the plain end, once the
 * bytes before it are through; a reset or TLS error on one side closes
 * the other hard) and frees itself when both directions are done.
 *
 * Returns the relay, or NULL with errno set and fd closed, no callback:
 * ENOKEY (the mesh has no certificate yet), ENOMEM.
 */
struct tls_relay *tls_relay_server(struct tls_relay_group *g,
				   struct tls_mesh *m, int fd,
				   const void *prefix, size_t plen,
				   double handshake_timeout,
				   void (*on_ready)(void *arg, int plain_fd,
						    const char *peer_id_or_why),
				   void *arg);

/*
 * tls_relay_client - the client side of a TCP socket fd whose
 * non-blocking connect() is in progress or done (taken: the relay closes
 * it). target is where fd connects, for log lines (borrowed for the
 * call; NULL: unknown). server_id is the identity the server must prove
 * (copied): its leaf must name it as a dNSName subjectAltName, exactly
 * (no wildcard), and chain to the anchors; it is also sent as SNI. The
 * client presents our certificate when the mesh has one.
 *
 * Returns at once with *plain_fd the caller's end of the socketpair
 * (non-blocking, close-on-exec; the caller owns and closes it): the
 * caller proceeds as if connected, and what it writes waits in the pair
 * until the handshake is done. The connect and the handshake must end
 * within handshake_timeout seconds (<= 0: 10).
 *
 * On failure (connect refused or timed out, handshake, verification, or
 * later a reset or TLS error from the server) the relay logs one line
 * with the target and the reason, closes its end of the pair (the caller
 * reads EOF, or ECONNRESET when the relay had not read all it wrote; no
 * byte from the server ever reached it if the handshake failed), then
 * calls on_fail(arg, why) when set and the caller has not cancelled. So
 * a caller tells a TLS failure from an upstream that closed cleanly.
 *
 * The handle stays valid (and arg in use) until on_fail ran or the
 * caller called tls_relay_cancel(): a caller that frees arg must cancel
 * first, even after a successful handshake. With on_fail NULL the handle
 * is not the caller's at all (do not keep it, or cancel it): the relay
 * frees itself when done, and closing plain_fd is how the caller ends it.
 *
 * Returns the relay, or NULL with errno set and fd closed: EMFILE/ENFILE
 * (socketpair), ENOMEM.
 */
struct tls_relay *tls_relay_client(struct tls_relay_group *g,
				   struct tls_mesh *m, int fd,
				   const struct sock_addr *target,
				   const char *server_id,
				   double handshake_timeout, int *plain_fd,
				   void (*on_fail)(void *arg, const char *why),
				   void *arg);

/*
 * tls_relay_cancel - the caller lets go of r: no callback runs after this
 * and the handle becomes invalid. Before the handshake is done the relay
 * is dropped (TCP reset); after it, the relay goes on relaying what is
 * in flight on its own (a client relay's caller cancels when it closes
 * plain_fd). A no-op inside r's own callback, where r is already let go.
 */
void tls_relay_cancel(struct tls_relay *r);

/* --- ClientHello ------------------------------------------------------------- */

/* the largest ClientHello tls_client_hello_sni reads (handshake header too) */
#define TLS_CLIENT_HELLO_MAX (16u << 10)

/*
 * tls_client_hello_sni - p[0..n) the first bytes a client sent. A
 * ClientHello split over several handshake records is put together.
 * Returns:
 *   1             a ClientHello with a server_name extension: its
 *                 host_name, NUL-terminated, in out[0..outlen)
 *   0             a complete ClientHello without a host_name
 *   -EAGAIN       a plausible start: more bytes are needed
 *   -EPROTO       not a TLS handshake record holding a ClientHello, a
 *                 malformed one, one over TLS_CLIENT_HELLO_MAX, or a
 *                 host_name with bytes outside printable ASCII
 *   -ENAMETOOLONG the host_name does not fit in out (with its NUL)
 * out is written only when 1 is returned.
 */
int tls_client_hello_sni(const uint8_t *p, size_t n, char *out,
			 size_t outlen);

#endif
