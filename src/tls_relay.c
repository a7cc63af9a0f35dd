/* SPDX-License-Identifier: Apache-2.0 */
/* tls_relay.c - mutual TLS between meshed proxies, as an in-process relay */
#include "conduit/tls_relay.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "conduit/log.h"
#include "conduit/pki.h"

#define RELAY_BUF (16u << 10)	/* a direction's buffer: one full record */
#define READ_AHEAD (4u << 10)	/* TLS bytes read ahead of mbedtls: a small
				 * record's header and body in one recv */
#define PUMP_ROUNDS 16		/* buffers per direction per wakeup */
#define HANDSHAKE_TIMEOUT 10.0	/* seconds, when the caller gives <= 0 */
#define ID_MAX 256		/* an identity, with its NUL */
#define WHY_MAX 320		/* a failure's reason */
#define SAN_DNS (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)
#define TICKET_LIFETIME 3600	/* s a session may be resumed (RFC 5077) */
#define SESSION_SLOTS 64	/* client sessions kept, by server and address */

/* DESIGN.md §3: ECDHE-ECDSA, AEAD only */
static const int suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};

/* key exchange on X25519 or P-256; P-256 must stay: mbedtls also checks
 * the peer's certificate key against this list */
static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_NONE,
};

/* --- credentials ------------------------------------------------------------- */

/*
 * What the connections made at one time share: the anchors, our chain
 * and key, and the two configurations that point at them. Reference
 * counted: tls_mesh_set_cert() never pulls them from under a relay.
 */
/*
 * Session resumption: a full handshake costs both sides an ECDHE and
 * ECDSA signatures and checks (about 7 ms of CPU each, measured, with
 * mbedtls 2.28 on P-256), an HTTP/1 client that opens a connection per
 * request would pay it every time. A server issues session tickets
 * (RFC 5077, keys of its own credentials, so a new certificate starts
 * new tickets) and a client keeps the last session of each (server
 * identity, address) in a small direct-mapped table of its credentials:
 * the next connection there resumes with the ticket, symmetric crypto
 * only. The peer's certificate travels in the session, so a resumed
 * server still knows the client's identity (checked again for expiry).
 */
struct session_slot {
	bool used;
	char key[ID_MAX + SOCK_ADDR_STRLEN]; /* "<server id> <address>" */
	mbedtls_ssl_session s;
};

struct cred {
	unsigned refs;
	bool has_cert;
	mbedtls_x509_crt anchors;
	mbedtls_x509_crt chain; /* the leaf, then the intermediates */
	mbedtls_pk_context key;
	mbedtls_ssl_config server; /* set up only with a certificate */
	mbedtls_ssl_config client;
	mbedtls_ssl_ticket_context ticket;   /* server: ticket keys */
	struct session_slot *sessions;	     /* client: SESSION_SLOTS */
};

struct tls_mesh {
	unsigned char *anchors; /* the PEM (or DER), NUL-terminated */
	size_t anchors_len;	/* as mbedtls wants it: PEM counts the NUL */
	struct cred *cred;	/* one reference */
};

static void mbed_err(char *err, size_t errlen, const char *what, int r)
{
	char why[120];

	mbedtls_strerror(r, why, sizeof(why));
	snprintf(err, errlen, "%s: %s (mbedtls -0x%04x)", what, why,
		 (unsigned)-r);
}

/*
 * terminated - mbedtls reads PEM only from a NUL-terminated buffer whose
 * length counts the NUL, DER as it is: a copy with a NUL, and the length
 * to give mbedtls
 */
static unsigned char *terminated(const void *p, size_t len, size_t *mlen)
{
	unsigned char *copy = xmalloc(len + 1);

	memcpy(copy, p, len);
	copy[len] = '\0';
	*mlen = memmem(p, len, "-----BEGIN", 10) ? len + 1 : len;
	return copy;
}

/*
 * first_dns - the first dNSName subjectAltName of crt into out (ID_MAX),
 * when there is one made of printable ASCII only (it goes into log lines
 * and policy decisions). Returns whether it did.
 */
static bool first_dns(const mbedtls_x509_crt *crt, char *out)
{
	const mbedtls_x509_sequence *s;

	for (s = &crt->subject_alt_names; s && s->buf.p; s = s->next) {
		if (s->buf.tag != SAN_DNS)
			continue;
		if (!s->buf.len || s->buf.len >= ID_MAX)
			return false;
		for (size_t i = 0; i < s->buf.len; i++)
			if (s->buf.p[i] < 0x21 || s->buf.p[i] > 0x7e)
				return false;
		memcpy(out, s->buf.p, s->buf.len);
		out[s->buf.len] = '\0';
		return true;
	}
	return false;
}

/* dns_named - id is one of crt's dNSNames, exactly (no wildcard, no CN) */
static bool dns_named(const mbedtls_x509_crt *crt, const char *id)
{
	const mbedtls_x509_sequence *s;
	size_t len = strlen(id);

	for (s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
		if (s->buf.tag == SAN_DNS && s->buf.len == len &&
		    !strncasecmp((const char *)s->buf.p, id, len))
			return true;
	return false;
}

/* one_line - "a\nb\n" (mbedtls's verify info) as "a; b" */
static void one_line(char *s)
{
	for (char *nl = s; (nl = strchr(nl, '\n'));) {
		if (!nl[1]) {
			*nl = '\0';
			break;
		}
		*nl++ = ';';
	}
}

static void cred_put(struct cred *c)
{
	if (!c || --c->refs)
		return;
	mbedtls_ssl_config_free(&c->server);
	mbedtls_ssl_config_free(&c->client);
	mbedtls_ssl_ticket_free(&c->ticket);
	for (size_t i = 0; c->sessions && i < SESSION_SLOTS; i++)
		mbedtls_ssl_session_free(&c->sessions[i].s);
	free(c->sessions);
	mbedtls_x509_crt_free(&c->anchors);
	mbedtls_x509_crt_free(&c->chain);
	mbedtls_pk_free(&c->key);
	free(c);
}

static int conf_setup(struct cred *c, mbedtls_ssl_config *conf, int endpoint)
{
	int r;

	r = mbedtls_ssl_config_defaults(conf, endpoint,
					MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT);
	if (r)
		return r;
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(conf, suites);
	mbedtls_ssl_conf_curves(conf, curves);
	mbedtls_ssl_conf_rng(conf, pki_random, NULL);
	mbedtls_ssl_conf_ca_chain(conf, &c->anchors, NULL);
	/*
	 * A server takes clients without a certificate (a proxy not yet
	 * certified still reaches the identity service): OPTIONAL, and the
	 * relay's verify callback fails the handshake when a certificate is
	 * presented and does not verify (OPTIONAL alone would let it in).
	 */
	mbedtls_ssl_conf_authmode(conf, endpoint == MBEDTLS_SSL_IS_SERVER
						? MBEDTLS_SSL_VERIFY_OPTIONAL
						: MBEDTLS_SSL_VERIFY_REQUIRED);
	if (c->has_cert)
		return mbedtls_ssl_conf_own_cert(conf, &c->chain, &c->key);
	return 0;
}

/* load_identity - the key and chain into c, checked (see tls_mesh_set_cert) */
static int load_identity(struct cred *c, const void *key, size_t key_len,
			 const void *leaf, size_t leaf_len,
			 const void *const *inter, const size_t *inter_len,
			 size_t ninter, char *err, size_t errlen)
{
	char id[ID_MAX], why[400], what[64];
	unsigned char *copy;
	uint32_t flags = 0;
	size_t mlen;
	int r;

	if (!key || !key_len || !leaf || !leaf_len) {
		snprintf(err, errlen, "%s: none given", !leaf ? "leaf" : "key");
		return -EINVAL;
	}
	copy = terminated(key, key_len, &mlen);
	r = mbedtls_pk_parse_key(&c->key, copy, mlen, NULL, 0);
	mbedtls_platform_zeroize(copy, key_len);
	free(copy);
	if (r) {
		mbed_err(err, errlen, "key", r);
		return -EINVAL;
	}
	if (mbedtls_pk_get_type(&c->key) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(c->key)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		snprintf(err, errlen, "key: not an ECDSA P-256 key");
		return -EINVAL;
	}
	r = mbedtls_x509_crt_parse_der(&c->chain, leaf, leaf_len);
	if (r) {
		mbed_err(err, errlen, "leaf", r);
		return -EINVAL;
	}
	for (size_t i = 0; i < ninter; i++) {
		r = mbedtls_x509_crt_parse_der(&c->chain, inter[i],
					       inter_len[i]);
		if (r) {
			snprintf(what, sizeof(what), "intermediate %zu", i);
			mbed_err(err, errlen, what, r);
			return -EINVAL;
		}
	}
	r = mbedtls_pk_check_pair(&c->chain.pk, &c->key);
	if (r) {
		snprintf(err, errlen, "key: not the leaf's key");
		return -EINVAL;
	}
	if (!first_dns(&c->chain, id)) {
		snprintf(err, errlen,
			 "leaf: no dNSName subjectAltName (the identity)");
		return -EINVAL;
	}
	r = mbedtls_x509_crt_verify(&c->chain, &c->anchors, NULL, NULL, &flags,
				    NULL, NULL);
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
			     MBEDTLS_X509_BADCERT_FUTURE);
	if (r && (r != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || flags)) {
		if (r != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
			mbed_err(why, sizeof(why), "verifying", r);
		else if (mbedtls_x509_crt_verify_info(why, sizeof(why), "",
						      flags) < 0)
			snprintf(why, sizeof(why), "flags 0x%x", flags);
		one_line(why);
		snprintf(err, errlen, "leaf: does not lead to the anchors: %s",
			 why);
		return -EINVAL;
	}
	c->has_cert = true;
	return 0;
}

static struct cred *cred_new(const struct tls_mesh *m, const void *key,
			     size_t key_len, const void *leaf, size_t leaf_len,
			     const void *const *inter, const size_t *inter_len,
			     size_t ninter, char *err, size_t errlen)
{
	struct cred *c = xcalloc(1, sizeof(*c));
	int r;

	c->refs = 1;
	mbedtls_x509_crt_init(&c->anchors);
	mbedtls_x509_crt_init(&c->chain);
	mbedtls_pk_init(&c->key);
	mbedtls_ssl_config_init(&c->server);
	mbedtls_ssl_config_init(&c->client);
	mbedtls_ssl_ticket_init(&c->ticket);
	c->sessions = xcalloc(SESSION_SLOTS, sizeof(*c->sessions));
	for (size_t i = 0; i < SESSION_SLOTS; i++)
		mbedtls_ssl_session_init(&c->sessions[i].s);
	r = mbedtls_x509_crt_parse(&c->anchors, m->anchors, m->anchors_len);
	if (r) { /* > 0: some certificates of the bundle did not parse */
		if (r > 0)
			snprintf(err, errlen,
				 "anchors: %d certificates do not parse", r);
		else
			mbed_err(err, errlen, "anchors", r);
		goto out_put;
	}
	if (key && load_identity(c, key, key_len, leaf, leaf_len, inter,
				 inter_len, ninter, err, errlen))
		goto out_put;
	r = conf_setup(c, &c->client, MBEDTLS_SSL_IS_CLIENT);
	if (!r)
		mbedtls_ssl_conf_session_tickets(&c->client,
						 MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	if (!r && c->has_cert)
		r = conf_setup(c, &c->server, MBEDTLS_SSL_IS_SERVER);
	if (!r && c->has_cert)
		r = mbedtls_ssl_ticket_setup(&c->ticket, pki_random, NULL,
					     MBEDTLS_CIPHER_AES_256_GCM,
					     TICKET_LIFETIME);
	if (!r && c->has_cert)
		mbedtls_ssl_conf_session_tickets_cb(&c->server,
						    mbedtls_ssl_ticket_write,
						    mbedtls_ssl_ticket_parse,
						    &c->ticket);
	if (r) {
		mbed_err(err, errlen, "TLS configuration", r);
		goto out_put;
	}
	return c;

out_put:
	cred_put(c);
	return NULL;
}

struct tls_mesh *tls_mesh_new(const void *anchors_pem, size_t len, char *err,
			      size_t errlen)
{
	struct tls_mesh *m = xcalloc(1, sizeof(*m));

	if (!anchors_pem || !len) {
		snprintf(err, errlen, "anchors: none given");
		free(m);
		return NULL;
	}
	m->anchors = terminated(anchors_pem, len, &m->anchors_len);
	m->cred = cred_new(m, NULL, 0, NULL, 0, NULL, NULL, 0, err, errlen);
	if (!m->cred) {
		tls_mesh_free(m);
		return NULL;
	}
	return m;
}

void tls_mesh_free(struct tls_mesh *m)
{
	if (!m)
		return;
	cred_put(m->cred);
	free(m->anchors);
	free(m);
}

int tls_mesh_set_cert(struct tls_mesh *m, const void *key, size_t key_len,
		      const void *leaf_der, size_t leaf_len,
		      const void *const *inter_der, const size_t *inter_len,
		      size_t ninter, char *err, size_t errlen)
{
	struct cred *c;

	if (!key || !key_len || !leaf_der || !leaf_len) {
		snprintf(err, errlen, "%s: none given",
			 !key || !key_len ? "key" : "leaf");
		return -EINVAL;
	}
	c = cred_new(m, key, key_len, leaf_der, leaf_len, inter_der,
		     inter_len, ninter, err, errlen);
	if (!c)
		return -EINVAL;
	cred_put(m->cred);
	m->cred = c;
	return 0;
}

bool tls_mesh_has_cert(const struct tls_mesh *m)
{
	return m->cred->has_cert;
}

/* --- relays ------------------------------------------------------------------ */

enum relay_state {
	R_CONNECT,   /* client: the TCP connect is in progress */
	R_HANDSHAKE, /* the TLS handshake, under the deadline */
	R_RELAY,     /* copying bytes both ways */
	R_DONE,	     /* sockets closed, mbedtls and buffers freed */
};

/* one direction's bytes, read from its source, not yet written */
struct dir {
	unsigned char *buf; /* RELAY_BUF, in the relay's mem */
	size_t off, len;
	bool eof;	 /* the source ended */
	bool shut;	 /* the sink was told (close_notify / SHUT_WR) */
	bool want_write; /* the TLS side waits for writability (else reads) */
};

struct tls_relay {
	struct tls_relay_group *g;
	struct tls_relay *prev, *next; /* g->head list; next: g->dead too */
	struct cred *cred;	       /* a reference, until R_DONE */
	mbedtls_ssl_context ssl;
	enum relay_state state;
	bool server;
	bool attached; /* the caller holds the handle: callbacks may run */
	bool dead;     /* on g->dead, freed by the reaper */
	int tcp;       /* the TLS side */
	int plain;     /* our end of the pair; -1 before (server) and after */
	ev_io tcp_r, tcp_w, plain_r, plain_w;
	ev_timer timer; /* the handshake's deadline; later, the kick for
			 * decrypted bytes mbedtls holds (no socket says) */
	double timeout;	       /* the handshake's, for the reason */
	unsigned char *prefix; /* server: bytes read before us, fed first */
	size_t plen, poff;
	unsigned char *mem; /* both directions' buffers, while relaying */
	struct dir up;	    /* plain -> TLS */
	struct dir down;    /* TLS -> plain */
	uint32_t vflags;    /* what our verify callback saw */
	bool no_id;	    /* server: the client's leaf has no dNSName */
	struct session_slot *slot; /* client: where its session is kept */
	bool verified;		   /* the peer's chain was checked (a full
				    * handshake; a resumed one has none) */
	int sock_err;	    /* errno of the last failed send/recv on tcp */
	/*
	 * While relaying: may a read find more? Set when the socket's read
	 * watcher fires, cleared by a short read (level-triggered: if more
	 * came, the watcher fires again). No read goes only to hear EAGAIN.
	 */
	bool tcp_more, plain_more;
	unsigned char *ahead; /* READ_AHEAD, in mem: TLS bytes mbedtls has
			       * not asked for yet, [aoff, alen) */
	size_t aoff, alen;
	void (*on_ready)(void *arg, int plain_fd, const char *peer_id_or_why);
	void (*on_fail)(void *arg, const char *why);
	void *arg;
	char target[SOCK_ADDR_STRLEN]; /* for log lines */
	char id[ID_MAX]; /* client: the server's expected identity; server:
			  * the client's, once verified */
	char why[WHY_MAX];
};

static void watch(struct tls_relay *r, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(r->g->loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(r->g->loop, w);
}

static int bio_send(void *ctx, const unsigned char *p, size_t len)
{
	struct tls_relay *r = ctx;
	ssize_t n;

	do
		n = send(r->tcp, p, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	r->sock_err = errno;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int recv_error(struct tls_relay *r)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_READ;
	r->sock_err = errno;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
				   : MBEDTLS_ERR_NET_RECV_FAILED;
}

/*
 * relay_recv - TLS bytes for mbedtls while relaying. mbedtls asks for a
 * record's 5-byte header, then for its body: a small read is served from
 * READ_AHEAD bytes read at once (one recv a small record, not two), a big
 * one goes straight to mbedtls. After a short read, WANT_READ without a
 * syscall until the read watcher fires again.
 */
static int relay_recv(struct tls_relay *r, unsigned char *p, size_t len)
{
	ssize_t n;

	if (r->aoff < r->alen) {
		n = (ssize_t)MIN(len, r->alen - r->aoff);
		memcpy(p, r->ahead + r->aoff, (size_t)n);
		r->aoff += (size_t)n;
		return (int)n;
	}
	if (!r->tcp_more)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (len >= READ_AHEAD) {
		do
			n = recv(r->tcp, p, len, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 || (size_t)n < len)
			r->tcp_more = false;
		return n >= 0 ? (int)n : recv_error(r);
	}
	do
		n = recv(r->tcp, r->ahead, READ_AHEAD, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n < READ_AHEAD)
		r->tcp_more = false;
	if (n <= 0)
		return n == 0 ? 0 : recv_error(r);
	r->aoff = MIN(len, (size_t)n);
	r->alen = (size_t)n;
	memcpy(p, r->ahead, r->aoff);
	return (int)r->aoff;
}

/* bio_recv - the prefix first (the socket will not signal it), then fd */
static int bio_recv(void *ctx, unsigned char *p, size_t len)
{
	struct tls_relay *r = ctx;
	ssize_t n;

	if (r->poff < r->plen) {
		n = (ssize_t)MIN(len, r->plen - r->poff);
		memcpy(p, r->prefix + r->poff, (size_t)n);
		r->poff += (size_t)n;
		if (r->poff == r->plen) {
			free(r->prefix);
			r->prefix = NULL;
			r->plen = r->poff = 0;
		}
		return (int)n;
	}
	if (r->state == R_RELAY)
		return relay_recv(r, p, len);
	do
		n = recv(r->tcp, p, len, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	return recv_error(r);
}

/*
 * on_verify - mbedtls calls it for each certificate of the peer's chain,
 * the top first, the leaf (depth 0) last, with that certificate's flags.
 * A client checks the server's name itself: exactly, as a dNSName (mbedtls
 * would also take a wildcard, or the CN without SANs). A server fails the
 * handshake itself when a presented chain does not verify, since with
 * VERIFY_OPTIONAL mbedtls would only note it; returning an error from
 * here is what makes mbedtls abort (and send an alert).
 */
static int on_verify(void *ctx, mbedtls_x509_crt *crt, int depth,
		     uint32_t *flags)
{
	struct tls_relay *r = ctx;
	char id[ID_MAX];

	r->verified = true; /* a full handshake: a resumed one shows no chain */
	if (depth == 0 && !r->server && !dns_named(crt, r->id))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	if (depth == 0 && r->server && !*flags && !r->vflags &&
	    !first_dns(crt, id)) {
		r->no_id = true;
		*flags |= MBEDTLS_X509_BADCERT_OTHER;
	}
	r->vflags |= *flags;
	if (depth == 0 && r->server && r->vflags)
		return MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
	return 0;
}

static const char *alert_name(unsigned a)
{
	static const struct {
		unsigned char code;
		const char *name;
	} alerts[] = {
		{MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE, "unexpected_message"},
		{MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC, "bad_record_mac"},
		{MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE, "handshake_failure"},
		{MBEDTLS_SSL_ALERT_MSG_BAD_CERT, "bad_certificate"},
		{MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT, "unsupported_certificate"},
		{MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, "certificate_revoked"},
		{MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED, "certificate_expired"},
		{MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN, "certificate_unknown"},
		{MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER, "illegal_parameter"},
		{MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA, "unknown_ca"},
		{MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED, "access_denied"},
		{MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR, "decode_error"},
		{MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR, "decrypt_error"},
		{MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION, "protocol_version"},
		{MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY,
		 "insufficient_security"},
		{MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR, "internal_error"},
		{MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME, "unrecognized_name"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(alerts); i++)
		if (alerts[i].code == a)
			return alerts[i].name;
	return NULL;
}

/* ssl_why - an mbedtls error of this relay's as a short reason */
static void ssl_why(struct tls_relay *r, int ret, char *out, size_t n)
{
	const char *peer = r->server ? "client" : "server";
	const char *name;
	char why[120];

	switch (ret) {
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		/* mbedtls 2.28 leaves the alert in in_msg: level, then
		 * description */
		name = r->ssl.in_msg ? alert_name(r->ssl.in_msg[1]) : NULL;
		if (name)
			snprintf(out, n, "the %s sent alert %s", peer, name);
		else
			snprintf(out, n, "the %s sent alert %u", peer,
				 r->ssl.in_msg ? r->ssl.in_msg[1] : 0);
		break;
	case MBEDTLS_ERR_SSL_CONN_EOF:
		snprintf(out, n, "the %s closed the connection", peer);
		break;
	case MBEDTLS_ERR_NET_CONN_RESET:
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		snprintf(out, n, "%s", strerror(r->sock_err));
		break;
	case MBEDTLS_ERR_SSL_INVALID_RECORD:
	case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
		if (!r->server && r->state < R_RELAY) {
			/* a meshed proxy relays TLS for a name that is not
			 * its own to the app, which does not speak it */
			snprintf(out, n, "the server does not speak TLS as "
					 "this identity (a proxy with another "
					 "identity, or none, answered)");
			break;
		}
		/* fall through */
	default:
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(out, n, "%s (mbedtls -0x%04x)", why, (unsigned)-ret);
	}
}

/* verify_why - why the peer's certificate was refused */
static void verify_why(struct tls_relay *r, uint32_t flags, char *out,
		       size_t n)
{
	char info[400] = "", name[ID_MAX + 32] = "";

	if (r->no_id) {
		snprintf(out, n, "the client's certificate names no identity "
				 "(no usable dNSName)");
		return;
	}
	if (!r->server && (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)) {
		/* mbedtls's text speaks of the CN, not the SAN checked */
		snprintf(name, sizeof(name), "it is not for %s", r->id);
		flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	if (flags && mbedtls_x509_crt_verify_info(info, sizeof(info), "",
						  flags) < 0)
		snprintf(info, sizeof(info), "flags 0x%x", flags);
	one_line(info);
	snprintf(out, n, "the %s's certificate is not trusted: %s%s%s",
		 r->server ? "client" : "server", name,
		 name[0] && info[0] ? "; " : "", info);
}

static void relay_close(struct tls_relay *r, bool reset);

/* bury - a finished relay the caller let go of: free after the iteration */
static void bury(struct tls_relay *r)
{
	struct tls_relay_group *g = r->g;

	if (r->state != R_DONE || r->attached || r->dead)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		g->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = NULL;
	r->next = g->dead;
	g->dead = r;
	r->dead = true;
}

/*
 * relay_fail - the relay ends on an error: log why (once), close both
 * sides (TCP reset when reset), then tell the caller if it still listens.
 */
PRINTF_LIKE(4, 5)
static void relay_fail(struct tls_relay *r, bool reset, enum log_level level,
		       const char *fmt, ...)
{
	char q[WHY_MAX + 16], qid[ID_MAX + 16];
	bool handshake = r->state < R_RELAY;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	if (r->server)
		LOG_AT(level,
		       handshake ? "TLS handshake failed" : "TLS relay failed",
		       "side=server peer=%s error=%s", r->target,
		       log_quote(q, sizeof(q), r->why));
	else
		LOG_AT(level,
		       handshake ? "TLS handshake failed" : "TLS relay failed",
		       "side=client target=%s server_id=%s error=%s", r->target,
		       log_quote(qid, sizeof(qid), r->id),
		       log_quote(q, sizeof(q), r->why));
	relay_close(r, reset);
	if (r->attached) {
		r->attached = false;
		if (r->server)
			r->on_ready(r->arg, -1, r->why);
		else if (r->on_fail)
			r->on_fail(r->arg, r->why);
	}
	bury(r);
}

/* plain_failed - the caller's end failed (it reset or went away) */
static void plain_failed(struct tls_relay *r, const char *op, int err)
{
	/* the caller's own doing: no callback, and no log above debug */
	log_debug("TLS relay: the plain side failed: resetting the TLS side",
		  "side=%s peer=%s op=%s error=%s",
		  r->server ? "server" : "client", r->target, op,
		  strerror(err));
	relay_close(r, true);
	bury(r);
}

/* tls_failed - the TLS side failed while relaying */
static void tls_failed(struct tls_relay *r, const char *op, int ret)
{
	char why[WHY_MAX - 16];
	bool reset = ret == MBEDTLS_ERR_NET_CONN_RESET ||
		     ret == MBEDTLS_ERR_NET_SEND_FAILED ||
		     ret == MBEDTLS_ERR_NET_RECV_FAILED;

	ssl_why(r, ret, why, sizeof(why));
	/* a reset is the peer's way to end a connection: not a warning */
	relay_fail(r, true, reset ? LOG_INFO : LOG_WARN, "%s: %s", op, why);
}

static void relay_run(struct tls_relay *r);

/* kick - run the relay at the next iteration (bytes no socket signals) */
static void kick(struct tls_relay *r)
{
	if (ev_is_active(&r->timer))
		return;
	ev_timer_set(&r->timer, 0., 0.);
	ev_timer_start(r->g->loop, &r->timer);
}

/* peer_gone - the caller closed its end entirely (not just SHUT_WR) */
static bool peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/*
 * pump_up - plain to TLS: write what waits as records (mbedtls wants the
 * same arguments again after WANT_WRITE, and the buffer does not move
 * until it is through), then read the plain end again; at its EOF send
 * close_notify and SHUT_WR. Returns 0, or -1 when the relay ended.
 */
static int pump_up(struct tls_relay *r)
{
	struct dir *d = &r->up;

	for (int round = 0;; round++) {
		ssize_t n;

		while (d->len) {
			int w = mbedtls_ssl_write(&r->ssl, d->buf + d->off,
						  d->len);

			if (w > 0) {
				d->off += (size_t)w;
				d->len -= (size_t)w;
				continue;
			}
			if (w == MBEDTLS_ERR_SSL_WANT_WRITE ||
			    w == MBEDTLS_ERR_SSL_WANT_READ) {
				d->want_write = w == MBEDTLS_ERR_SSL_WANT_WRITE;
				return 0;
			}
			tls_failed(r, "write", w);
			return -1;
		}
		if (d->eof) {
			if (!d->shut) {
				int w = mbedtls_ssl_close_notify(&r->ssl);

				if (w == MBEDTLS_ERR_SSL_WANT_WRITE ||
				    w == MBEDTLS_ERR_SSL_WANT_READ) {
					d->want_write =
					    w == MBEDTLS_ERR_SSL_WANT_WRITE;
					return 0;
				}
				if (w) {
					tls_failed(r, "close_notify", w);
					return -1;
				}
				shutdown(r->tcp, SHUT_WR);
				d->shut = true;
			}
			return 0;
		}
		if (round == PUMP_ROUNDS || !r->plain_more)
			return 0; /* the plain end is level-triggered */
		n = recv(r->plain, d->buf, RELAY_BUF, 0);
		if (n < RELAY_BUF)
			r->plain_more = false; /* short: drained, most likely */
		if (n > 0) {
			d->off = 0;
			d->len = (size_t)n;
		} else if (n == 0) {
			d->eof = true;
			/* gone for good: nobody reads what comes back */
			if (!r->down.shut && peer_gone(r->plain)) {
				r->down.len = 0;
				r->down.eof = r->down.shut = true;
			}
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return 0;
		} else if (errno != EINTR) {
			plain_failed(r, "read", errno);
			return -1;
		}
	}
}

/*
 * pump_down - TLS to plain: write what waits to the plain end, then read
 * a record's worth; at close_notify or EOF, SHUT_WR the plain end.
 * Returns 0, or -1 when the relay ended.
 */
static int pump_down(struct tls_relay *r)
{
	struct dir *d = &r->down;

	for (int round = 0;; round++) {
		int n;

		while (d->len) {
			ssize_t w = send(r->plain, d->buf + d->off, d->len,
					 MSG_NOSIGNAL);

			if (w > 0) {
				d->off += (size_t)w;
				d->len -= (size_t)w;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return 0;
			} else if (errno != EINTR) {
				plain_failed(r, "write", errno);
				return -1;
			}
		}
		if (d->eof) {
			if (!d->shut) {
				shutdown(r->plain, SHUT_WR);
				d->shut = true;
			}
			return 0;
		}
		if (round == PUMP_ROUNDS) {
			/* the socket may have nothing more to say */
			if (mbedtls_ssl_check_pending(&r->ssl) ||
			    r->aoff < r->alen)
				kick(r);
			return 0;
		}
		n = mbedtls_ssl_read(&r->ssl, d->buf, RELAY_BUF);
		if (n > 0) {
			d->off = 0;
			d->len = (size_t)n;
		} else if (n == MBEDTLS_ERR_SSL_WANT_READ ||
			   n == MBEDTLS_ERR_SSL_WANT_WRITE) {
			d->want_write = n == MBEDTLS_ERR_SSL_WANT_WRITE;
			return 0;
		} else if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
			   n == MBEDTLS_ERR_SSL_CONN_EOF) {
			if (n != MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				log_debug("TLS relay: EOF without close_notify",
					  "side=%s peer=%s",
					  r->server ? "server" : "client",
					  r->target);
			d->eof = true;
		} else {
			tls_failed(r, "read", n);
			return -1;
		}
	}
}

/*
 * relay_run - move both directions as far as the sockets allow, then
 * watch for what lets them go on: a direction with bytes waits for its
 * sink, an empty open one for its source.
 */
static void relay_run(struct tls_relay *r)
{
	bool tcp_r = false, tcp_w = false, plain_r = false, plain_w = false;

	if (pump_down(r) || pump_up(r))
		return;
	if (r->up.shut && r->down.shut) {
		log_debug("TLS relay closed", "side=%s peer=%s",
			  r->server ? "server" : "client", r->target);
		relay_close(r, false);
		bury(r);
		return;
	}
	if (r->up.len || (r->up.eof && !r->up.shut)) {
		tcp_w |= r->up.want_write;
		tcp_r |= !r->up.want_write;
	} else if (!r->up.eof) {
		plain_r = true;
	}
	if (r->down.len) {
		plain_w = true;
	} else if (!r->down.eof) {
		tcp_w |= r->down.want_write;
		tcp_r |= !r->down.want_write;
	}
	watch(r, &r->tcp_r, tcp_r);
	watch(r, &r->tcp_w, tcp_w);
	watch(r, &r->plain_r, plain_r);
	watch(r, &r->plain_w, plain_w);
}

/*
 * make_pair - the socketpair, with the kernel's default buffers (about
 * 208 KiB a direction): larger or smaller ones (32 KiB to 1 MiB) made no
 * difference to throughput, which the crypto bounds (about 115 MiB/s
 * through a client and a server relay on one core, AES-128-GCM).
 */
static int make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		return -errno;
	return 0;
}

/* relay_start - the handshake is done: buffers, and bytes both ways */
static void relay_start(struct tls_relay *r)
{
	struct ev_loop *loop = r->g->loop;

	ev_timer_stop(loop, &r->timer);
	watch(r, &r->tcp_r, false);
	watch(r, &r->tcp_w, false);
	r->mem = xmalloc(2 * RELAY_BUF + READ_AHEAD);
	r->up.buf = r->mem;
	r->down.buf = r->mem + RELAY_BUF;
	r->ahead = r->mem + 2 * RELAY_BUF;
	r->aoff = r->alen = 0;
	r->tcp_more = r->plain_more = true;
	r->state = R_RELAY;
	log_debug("TLS session up", "side=%s peer=%s id=%s suite=%s full=%s",
		  r->server ? "server" : "client", r->target,
		  r->id[0] ? r->id : "-", mbedtls_ssl_get_ciphersuite(&r->ssl),
		  r->verified ? "true" : "false");
	if (r->server) {
		int sv[2], e = make_pair(sv);

		if (e) {
			relay_fail(r, true, LOG_WARN, "socketpair: %s",
				   strerror(-e));
			return;
		}
		r->plain = sv[0];
		ev_io_set(&r->plain_r, r->plain, EV_READ);
		ev_io_set(&r->plain_w, r->plain, EV_WRITE);
		r->attached = false; /* the handle is no longer the caller's */
		r->on_ready(r->arg, sv[1], r->id);
	}
	relay_run(r);
}

/*
 * server_check - a server's handshake is done: a client certificate, if
 * any, verified (mbedtls also checks its key usage after our callback,
 * and with VERIFY_OPTIONAL only notes a mismatch). The identity is its
 * first dNSName. Returns whether the client is taken.
 */
static bool server_check(struct tls_relay *r)
{
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&r->ssl);
	char why[WHY_MAX - 16];
	uint32_t flags;

	r->id[0] = '\0';
	if (!peer)
		return true;
	flags = mbedtls_ssl_get_verify_result(&r->ssl);
	/* a resumed session's certificate was checked when it began */
	if (mbedtls_x509_time_is_past(&peer->valid_to))
		flags |= MBEDTLS_X509_BADCERT_EXPIRED;
	if (!flags && first_dns(peer, r->id))
		return true;
	r->id[0] = '\0';
	if (!flags)
		r->no_id = true;
	mbedtls_ssl_send_alert_message(&r->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
				       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
	verify_why(r, flags | r->vflags, why, sizeof(why));
	relay_fail(r, false, LOG_WARN, "handshake: %s", why);
	return false;
}

/* session_slot_for - the slot of the client session to (id, target) */
static struct session_slot *session_slot_for(struct tls_relay *r)
{
	char key[sizeof(r->slot->key)];
	uint64_t h = 0xcbf29ce484222325ull;

	snprintf(key, sizeof(key), "%s %s", r->id, r->target);
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	r->slot = &r->cred->sessions[h % SESSION_SLOTS];
	if (!r->slot->used || strcmp(r->slot->key, key)) {
		mbedtls_ssl_session_free(&r->slot->s);
		mbedtls_ssl_session_init(&r->slot->s);
		r->slot->used = false;
		str_copy(r->slot->key, key, sizeof(r->slot->key));
	}
	return r->slot;
}

/* offer_session - a client offers the last session to the same server */
static void offer_session(struct tls_relay *r)
{
	struct session_slot *sl = session_slot_for(r);

	if (sl->used)
		mbedtls_ssl_set_session(&r->ssl, &sl->s);
}

/*
 * keep_session - after a client's handshake: a new session (a full
 * handshake, or a resumption that brought a new ticket) replaces the
 * slot's. Returns whether the session was resumed.
 */
static bool keep_session(struct tls_relay *r)
{
	struct session_slot *sl = r->slot;
	bool resumed = !r->verified;

	if (resumed && !r->ssl.session->ticket_len)
		return true;
	mbedtls_ssl_session_free(&sl->s);
	mbedtls_ssl_session_init(&sl->s);
	sl->used = !mbedtls_ssl_get_session(&r->ssl, &sl->s);
	return resumed;
}

static void handshake(struct tls_relay *r)
{
	int ret = mbedtls_ssl_handshake(&r->ssl);
	char why[WHY_MAX - 16];

	if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	    ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
		watch(r, &r->tcp_r, ret == MBEDTLS_ERR_SSL_WANT_READ);
		watch(r, &r->tcp_w, ret == MBEDTLS_ERR_SSL_WANT_WRITE);
		return;
	}
	if (ret) {
		/*
		 * The verify callback's error comes back as X509_FATAL, and
		 * then mbedtls's flags are all set: ours are the ones that
		 * tell. A client's own (VERIFY_REQUIRED) add key usage.
		 */
		uint32_t flags = r->vflags;

		if (!r->server)
			flags |= mbedtls_ssl_get_verify_result(&r->ssl);
		if (r->vflags || ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
			verify_why(r, flags, why, sizeof(why));
		else
			ssl_why(r, ret, why, sizeof(why));
		/* not a reset: the alert mbedtls sent goes out first */
		relay_fail(r, false, LOG_WARN, "handshake: %s", why);
		return;
	}
	if (r->server && !server_check(r))
		return;
	if (!r->server && keep_session(r))
		r->g->client_resumed++;
	r->g->handshakes++;
	relay_start(r);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tls_relay *r = container_of(w, struct tls_relay, timer);

	(void)loop;
	(void)revents;
	if (r->state == R_RELAY) {
		relay_run(r);
		return;
	}
	relay_fail(r, true, r->state == R_CONNECT ? LOG_INFO : LOG_WARN,
		   "%s: timed out after %gs",
		   r->state == R_CONNECT ? "connect" : "handshake", r->timeout);
}

static void step(struct tls_relay *r)
{
	int e;

	switch (r->state) {
	case R_CONNECT:
		e = sock_error(r->tcp);
		if (e) {
			relay_fail(r, true, LOG_INFO, "connect: %s",
				   strerror(-e));
			return;
		}
		r->state = R_HANDSHAKE;
		/* fall through */
	case R_HANDSHAKE:
		handshake(r);
		break;
	case R_RELAY:
		relay_run(r);
		break;
	case R_DONE:
		break;
	}
}

static void on_tcp_r(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tls_relay *r = container_of(w, struct tls_relay, tcp_r);

	(void)loop;
	(void)revents;
	r->tcp_more = true;
	step(r);
}

static void on_tcp_w(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	step(container_of(w, struct tls_relay, tcp_w));
}

static void on_plain_r(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tls_relay *r = container_of(w, struct tls_relay, plain_r);

	(void)loop;
	(void)revents;
	r->plain_more = true;
	step(r);
}

static void on_plain_w(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	step(container_of(w, struct tls_relay, plain_w));
}

/*
 * relay_close - stop, close both sides (TCP with a reset: SO_LINGER 0),
 * free what the relay holds but itself. Idempotent.
 */
static void relay_close(struct tls_relay *r, bool reset)
{
	struct ev_loop *loop = r->g->loop;

	if (r->state == R_DONE)
		return;
	ev_io_stop(loop, &r->tcp_r);
	ev_io_stop(loop, &r->tcp_w);
	ev_io_stop(loop, &r->plain_r);
	ev_io_stop(loop, &r->plain_w);
	ev_timer_stop(loop, &r->timer);
	if (r->tcp >= 0) {
		if (reset) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			setsockopt(r->tcp, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		}
		close(r->tcp);
		r->tcp = -1;
	}
	if (r->plain >= 0) {
		close(r->plain);
		r->plain = -1;
	}
	mbedtls_ssl_free(&r->ssl);
	free(r->mem);
	r->mem = NULL;
	free(r->prefix);
	r->prefix = NULL;
	cred_put(r->cred);
	r->cred = NULL;
	r->state = R_DONE;
	r->g->active--;
}

static struct tls_relay *relay_new(struct tls_relay_group *g,
				   struct cred *cred, int fd, bool server,
				   double timeout)
{
	struct tls_relay *r = xcalloc(1, sizeof(*r));

	/* mbedtls sends each record, and each handshake message, by itself:
	 * Nagle would hold the next one until the peer's delayed ACK */
	sock_set_nodelay(fd);
	r->g = g;
	r->cred = cred;
	cred->refs++;
	r->server = server;
	r->attached = true;
	r->tcp = fd;
	r->plain = -1;
	r->timeout = timeout > 0 ? timeout : HANDSHAKE_TIMEOUT;
	snprintf(r->target, sizeof(r->target), "-");
	mbedtls_ssl_init(&r->ssl);
	ev_io_init(&r->tcp_r, on_tcp_r, fd, EV_READ);
	ev_io_init(&r->tcp_w, on_tcp_w, fd, EV_WRITE);
	ev_io_init(&r->plain_r, on_plain_r, -1, EV_READ);
	ev_io_init(&r->plain_w, on_plain_w, -1, EV_WRITE);
	ev_timer_init(&r->timer, on_timer, r->timeout, 0.);
	r->next = g->head;
	if (g->head)
		g->head->prev = r;
	g->head = r;
	g->active++;
	return r;
}

/* relay_free - close (a reset) and free, whatever the state */
static void relay_free(struct tls_relay *r)
{
	relay_close(r, true);
	free(r);
}

/* relay_abort - a constructor failed: unlink and free, errno kept */
static struct tls_relay *relay_abort(struct tls_relay *r, int err)
{
	r->attached = false;
	relay_close(r, true);
	bury(r);
	errno = err;
	return NULL;
}

struct tls_relay *tls_relay_server(struct tls_relay_group *g,
				   struct tls_mesh *m, int fd,
				   const void *prefix, size_t plen,
				   double handshake_timeout,
				   void (*on_ready)(void *arg, int plain_fd,
						    const char *peer_id_or_why),
				   void *arg)
{
	struct sock_addr peer;
	struct tls_relay *r;

	BUG_ON(!on_ready);
	if (!m->cred->has_cert) {
		close(fd);
		errno = ENOKEY;
		return NULL;
	}
	r = relay_new(g, m->cred, fd, true, handshake_timeout);
	r->on_ready = on_ready;
	r->arg = arg;
	if (!sock_peer_addr(fd, &peer))
		sock_addr_format(&peer, r->target, sizeof(r->target));
	if (mbedtls_ssl_setup(&r->ssl, &r->cred->server))
		return relay_abort(r, ENOMEM);
	mbedtls_ssl_set_bio(&r->ssl, r, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_verify(&r->ssl, on_verify, r);
	if (plen) {
		r->prefix = xmalloc(plen);
		memcpy(r->prefix, prefix, plen);
		r->plen = plen;
	}
	r->state = R_HANDSHAKE;
	ev_timer_start(g->loop, &r->timer);
	/* start at the next iteration (never call back from here): the
	 * prefix may hold the whole ClientHello, which no socket signals */
	ev_feed_event(g->loop, &r->tcp_r, EV_READ);
	return r;
}

struct tls_relay *tls_relay_client(struct tls_relay_group *g,
				   struct tls_mesh *m, int fd,
				   const struct sock_addr *target,
				   const char *server_id,
				   double handshake_timeout, int *plain_fd,
				   void (*on_fail)(void *arg, const char *why),
				   void *arg)
{
	struct tls_relay *r;
	int sv[2], e;

	*plain_fd = -1;
	if (!server_id || !server_id[0] || strlen(server_id) >= ID_MAX) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	e = make_pair(sv);
	if (e) {
		close(fd);
		errno = -e;
		return NULL;
	}
	r = relay_new(g, m->cred, fd, false, handshake_timeout);
	r->on_fail = on_fail;
	r->arg = arg;
	/* without on_fail the caller keeps no handle: the relay is its own
	 * and frees itself when done */
	r->attached = on_fail != NULL;
	r->plain = sv[0];
	ev_io_set(&r->plain_r, r->plain, EV_READ);
	ev_io_set(&r->plain_w, r->plain, EV_WRITE);
	str_copy(r->id, server_id, sizeof(r->id));
	if (target)
		sock_addr_format(target, r->target, sizeof(r->target));
	if (mbedtls_ssl_setup(&r->ssl, &r->cred->client) ||
	    mbedtls_ssl_set_hostname(&r->ssl, server_id)) {
		close(sv[1]);
		return relay_abort(r, ENOMEM);
	}
	mbedtls_ssl_set_bio(&r->ssl, r, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_verify(&r->ssl, on_verify, r);
	offer_session(r);
	r->state = R_CONNECT;
	ev_timer_start(g->loop, &r->timer);
	ev_io_start(g->loop, &r->tcp_w); /* the connect's end */
	*plain_fd = sv[1];
	return r;
}

void tls_relay_cancel(struct tls_relay *r)
{
	if (!r || !r->attached)
		return; /* inside its own callback */
	r->attached = false;
	if (r->state < R_RELAY)
		relay_close(r, true);
	bury(r);
}

/* --- the group --------------------------------------------------------------- */

static void on_reap(struct ev_loop *loop, ev_check *w, int revents)
{
	struct tls_relay_group *g = container_of(w, struct tls_relay_group,
						 reaper);

	(void)loop;
	(void)revents;
	while (g->dead) {
		struct tls_relay *r = g->dead;

		g->dead = r->next;
		relay_free(r);
	}
}

void tls_relay_group_init(struct tls_relay_group *g, struct ev_loop *loop)
{
	memset(g, 0, sizeof(*g));
	g->loop = loop;
	ev_check_init(&g->reaper, on_reap);
	/* the lowest priority: after every other callback of the iteration,
	 * so what they bury is freed before the loop blocks again */
	ev_set_priority(&g->reaper, EV_MINPRI);
	ev_check_start(loop, &g->reaper);
	ev_unref(loop);
}

size_t tls_relay_group_count(const struct tls_relay_group *g)
{
	return g->active;
}

void tls_relay_group_free_all(struct tls_relay_group *g)
{
	while (g->head) {
		struct tls_relay *r = g->head;

		g->head = r->next;
		relay_free(r);
	}
	on_reap(g->loop, &g->reaper, 0);
	BUG_ON(g->active);
}

void tls_relay_group_release(struct tls_relay_group *g)
{
	tls_relay_group_free_all(g);
	ev_ref(g->loop);
	ev_check_stop(g->loop, &g->reaper);
}

/* --- ClientHello ------------------------------------------------------------- */

#define TLS_RECORD_MAX 16384 /* a plaintext record's payload, at most */

static inline size_t get16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* record_header_ok - the n (< 5 allowed) bytes of a record header seen */
static bool record_header_ok(const uint8_t *h, size_t n)
{
	return (n < 1 || h[0] == 22) &&	 /* handshake */
	       (n < 2 || h[1] == 3) &&	 /* SSL 3.0 to TLS 1.3 */
	       (n < 3 || h[2] <= 4) &&
	       (n < 5 || (get16(h + 3) && get16(h + 3) <= TLS_RECORD_MAX));
}

/*
 * hello_gather - the first need bytes of the handshake stream: in place
 * when the first record holds them, else put together in joined (need <=
 * TLS_CLIENT_HELLO_MAX). 0 with *out set, -EAGAIN or -EPROTO.
 */
static int hello_gather(const uint8_t *p, size_t n, size_t need,
			uint8_t *joined, const uint8_t **out)
{
	size_t pos = 0, got = 0;

	while (got < need) {
		size_t len, take;

		if (!record_header_ok(p + pos, MIN(n - pos, 5)))
			return -EPROTO;
		if (n - pos < 5)
			return -EAGAIN;
		len = get16(p + pos + 3);
		pos += 5;
		if (!got && len >= need) {
			if (n - pos < need)
				return -EAGAIN;
			*out = p + pos;
			return 0;
		}
		take = MIN(len, need - got);
		if (n - pos < take)
			return -EAGAIN;
		memcpy(joined + got, p + pos, take);
		got += take;
		pos += len; /* past n only when got == need: the loop ends */
	}
	*out = joined;
	return 0;
}

/* server_name - the first host_name of a server_name extension's body */
static int server_name(const uint8_t *p, size_t len, const uint8_t **name,
		       size_t *name_len)
{
	size_t pos = 2;

	if (len < 2 || get16(p) != len - 2 || len == 2)
		return -EPROTO;
	while (pos < len) {
		unsigned type;
		size_t l;

		if (len - pos < 3)
			return -EPROTO;
		type = p[pos];
		l = get16(p + pos + 1);
		pos += 3;
		if (l > len - pos)
			return -EPROTO;
		if (type == 0 && !*name) { /* host_name */
			if (!l)
				return -EPROTO;
			for (size_t i = 0; i < l; i++)
				if (p[pos + i] < 0x21 || p[pos + i] > 0x7e)
					return -EPROTO;
			*name = p + pos;
			*name_len = l;
		}
		pos += l;
	}
	return 0;
}

int tls_client_hello_sni(const uint8_t *p, size_t n, char *out,
			 size_t outlen)
{
	uint8_t joined[TLS_CLIENT_HELLO_MAX];
	const uint8_t *h, *name = NULL;
	size_t body, pos, len, name_len = 0;
	bool seen = false;
	int r;

	if (!n)
		return -EAGAIN;
	r = hello_gather(p, n, 4, joined, &h);
	if (r)
		return r;
	if (h[0] != 1) /* client_hello */
		return -EPROTO;
	body = (size_t)h[1] << 16 | get16(h + 2);
	if (body > TLS_CLIENT_HELLO_MAX - 4)
		return -EPROTO;
	r = hello_gather(p, n, 4 + body, joined, &h);
	if (r)
		return r;
	h += 4;
	/* client_version, random */
	if (body < 34 || h[0] != 3)
		return -EPROTO;
	pos = 34;
	/* session_id */
	if (body - pos < 1 || h[pos] > 32 || body - pos - 1 < h[pos])
		return -EPROTO;
	pos += 1 + (size_t)h[pos];
	/* cipher_suites */
	if (body - pos < 2)
		return -EPROTO;
	len = get16(h + pos);
	if (len < 2 || len % 2 || body - pos - 2 < len)
		return -EPROTO;
	pos += 2 + len;
	/* compression_methods */
	if (body - pos < 1 || !h[pos] || body - pos - 1 < h[pos])
		return -EPROTO;
	pos += 1 + (size_t)h[pos];
	if (pos == body)
		return 0; /* no extensions */
	if (body - pos < 2 || get16(h + pos) != body - pos - 2)
		return -EPROTO;
	pos += 2;
	while (pos < body) {
		size_t type;

		if (body - pos < 4)
			return -EPROTO;
		type = get16(h + pos);
		len = get16(h + pos + 2);
		pos += 4;
		if (len > body - pos)
			return -EPROTO;
		if (type == 0) { /* server_name: once at most */
			if (seen)
				return -EPROTO;
			seen = true;
			r = server_name(h + pos, len, &name, &name_len);
			if (r)
				return r;
		}
		pos += len;
	}
	if (!name)
		return 0;
	if (name_len >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, name, name_len);
	out[name_len] = '\0';
	return 1;
}
