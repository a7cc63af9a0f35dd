/* SPDX-License-Identifier: Apache-2.0 */
/* proxy_identity.h - the proxy's key, and its certificate from the identity component */
#ifndef CONDUIT_PROXY_IDENTITY_H
#define CONDUIT_PROXY_IDENTITY_H

#include <ev.h>
#include <stdint.h>

#include "conduit/base.h"
#include "conduit/metrics.h"

/*
 * The proxy's side of io.linkerd.proxy.identity.Identity/Certify
 * (WIRE.md, DESIGN.md 3 "Identity bootstrap"):
 *
 *   start ──> key (ECDSA P-256, in memory, made once) + CSR (CN and one
 *     │       DNS SAN = the local name, DER, made once)
 *     v
 *   attempt: resolve svc_addr (c-ares; an IP:port at once) ──> read the
 *     │      token file (again each time: projected tokens rotate) ──>
 *     │      Certify{identity, token, CSR}, `timeout` for the whole call
 *     v
 *   check the answer: the leaf parses, carries our public key, has
 *     │   exactly one DNS SAN, the local name, chains to the trust anchors
 *     │   through the returned intermediates and is valid now
 *     ├─ good: keep it (the previous one is dropped), on_cert(), the
 *     │        metrics, one info line; renew at 70% of what is left of
 *     │        its life (now to notAfter), as Linkerd does
 *     └─ any failure (DNS, token file, gRPC status, a bad answer): the
 *              reason is kept (proxy_identity_last_error), one warn line
 *              (an error line when the token file cannot be read), and a
 *              retry after an exponential backoff with jitter, from
 *              backoff_min doubling to backoff_max, forever; while a
 *              certificate is held the retry never comes later than its
 *              notAfter. A certificate held stays in use until a new one
 *              arrives.
 *
 * Metrics (in cfg->metrics when given):
 *   identity_cert_expiration_timestamp_seconds  gauge: the current leaf's
 *       notAfter, Unix seconds (0 before the first)
 *   identity_cert_refresh_total                 counter: certificates
 *       accepted. Linkerd's proxy calls it identity_cert_refresh_count;
 *       a counter here ends in _total, as Prometheus' conventions and
 *       promtool check metrics want, and as every other counter of ours.
 *
 * The Certify channel is what cfg->connect makes: the proxy gives TLS to
 * the identity service's own identity (--identity-svc-name), verified
 * against the same trust anchors, so the ServiceAccount token never
 * crosses the network in the clear; without a name (the identity
 * component's own proxy, over loopback; local mode) it is plaintext gRPC,
 * and the answer is trusted only through the chain check above. The
 * private key never leaves the process.
 *
 * One loop; every callback runs from it. Not thread-safe.
 */

struct proxy_identity;
struct resolver;
struct sock_addr;

/* the default token file: the projected ServiceAccount token inject mounts */
#define PROXY_IDENTITY_TOKEN_FILE "/var/run/secrets/conduit.io/identity/token"

/* the largest token file read (the identity component's own bound) */
#define PROXY_IDENTITY_MAX_TOKEN (16u << 10)

/*
 * The credentials of one certification. Everything is borrowed: valid
 * for the on_cert call only (copy what you keep), or, from
 * proxy_identity_current(), until the next certification or
 * proxy_identity_free().
 */
struct proxy_identity_cert {
	const char *name;		/* local identity */
	const uint8_t *key_pem;		/* the private key, PEM ("EC PRIVATE
					 * KEY"); the same for every
					 * certification */
	size_t key_len;
	const uint8_t *leaf_der;	/* the leaf certificate, DER */
	size_t leaf_len;
	const uint8_t *const *inter_der; /* the intermediates, DER, leaf's
					  * issuer first, as the answer
					  * listed them */
	const size_t *inter_len;
	size_t ninter;
	int64_t not_after;		/* Unix seconds */
};

struct proxy_identity_config {
	struct ev_loop *loop;
	/* DNS for an svc_addr that is a name; borrowed, must outlive the
	 * identity. NULL: svc_addr must be an IP:port */
	struct resolver *resolver;
	struct metrics_registry *metrics; /* borrowed; NULL: no metrics */
	/* the trust anchors, PEM (one or more CA certificates); copied */
	const char *trust_anchors_pem;
	size_t trust_anchors_len;
	const char *local_name;	 /* <sa>.<ns>.serviceaccount.identity...;
				  * copied */
	const char *svc_addr;	 /* the identity component, HOST:PORT (a
				  * DNS name or an IP); copied */
	const char *token_file;	 /* NULL: PROXY_IDENTITY_TOKEN_FILE; copied */
	/*
	 * connect - how to reach svc_addr (NULL: plaintext TCP): the proxy
	 * gives a TLS relay that checks the identity service's name
	 */
	int (*connect)(void *arg, const struct sock_addr *addr);
	void *connect_arg;
	double timeout;		 /* s, one Certify call, whole (10) */
	double backoff_min;	 /* s, the first retry delay (1) */
	double backoff_max;	 /* s, the longest (60) */
	/*
	 * on_cert - a certificate was accepted (the first, or a renewal):
	 * cert is borrowed for the call. May be NULL. Must not free the
	 * identity.
	 */
	void (*on_cert)(void *arg, const struct proxy_identity_cert *cert);
	void *arg;
};

/*
 * proxy_identity_check_anchors - pem[0..len) holds at least one
 * certificate, every certificate in it parses and is a CA. Returns the
 * number of certificates, or -EINVAL with "why" in err (which
 * certificate, and what is wrong with it).
 */
int proxy_identity_check_anchors(const char *pem, size_t len, char *err,
				 size_t errlen);

/*
 * proxy_identity_check_name - name is a DNS name as identities are:
 * lowercase letters, digits and '-' in dot-separated labels of 1 to 63
 * characters, no label starting or ending with '-', at most 253 in all,
 * at least two labels. Returns 0, or -EINVAL with why in err.
 */
int proxy_identity_check_name(const char *name, char *err, size_t errlen);

/*
 * proxy_identity_new - check cfg (anchors, name and svc_addr as the
 * checks above; the strings are copied), make the key and the CSR,
 * register the metrics. Nothing is sent before proxy_identity_start().
 * Returns the identity (free with proxy_identity_free()), or NULL with
 * "what: why" in err.
 */
struct proxy_identity *proxy_identity_new(const struct proxy_identity_config *cfg,
					  char *err, size_t errlen);

/*
 * proxy_identity_start - begin certifying: the first attempt runs from
 * the loop, at once. Idempotent.
 */
void proxy_identity_start(struct proxy_identity *pi);

/*
 * proxy_identity_free - cancel the call, lookup and timer in flight
 * (no callback runs) and free everything, the key wiped. Not from
 * on_cert. NULL is a no-op.
 */
void proxy_identity_free(struct proxy_identity *pi);

/* proxy_identity_certified - a certificate was accepted (one is held) */
bool proxy_identity_certified(const struct proxy_identity *pi);

/* proxy_identity_name - the local identity name; borrowed */
const char *proxy_identity_name(const struct proxy_identity *pi);

/*
 * proxy_identity_trust_anchors - the trust anchors' PEM text, as given
 * (NUL-terminated; its length in *len when len is not NULL), for the TLS
 * layer's verification. Borrowed, valid as long as pi.
 */
const char *proxy_identity_trust_anchors(const struct proxy_identity *pi,
					 size_t *len);

/*
 * proxy_identity_current - the credentials held now (borrowed as struct
 * proxy_identity_cert says). Returns false, out untouched, before the
 * first certification.
 */
bool proxy_identity_current(const struct proxy_identity *pi,
			    struct proxy_identity_cert *out);

/*
 * proxy_identity_last_error - why the last attempt failed ("" when it
 * did not, or none was made): one line, for /ready and logs. Borrowed,
 * valid until the next attempt ends.
 */
const char *proxy_identity_last_error(const struct proxy_identity *pi);

/* counts, for tests and diagnostics */
struct proxy_identity_stats {
	uint64_t attempts;	 /* Certify calls made, or attempts that
				  * failed before one (DNS, token) */
	uint64_t certified;	 /* certificates accepted */
	uint64_t failures;	 /* attempts that failed */
	unsigned failing;	 /* failures since the last success */
	double next_attempt;	 /* s until the next attempt is due; -1:
				  * an attempt is in flight; 0: not
				  * started */
};
void proxy_identity_stats(const struct proxy_identity *pi,
			  struct proxy_identity_stats *out);

#endif
