/* SPDX-License-Identifier: Apache-2.0 */
/* identity.h - the controller's identity component: the CA that certifies proxies */
#ifndef CONDUIT_IDENTITY_H
#define CONDUIT_IDENTITY_H

#include <ev.h>

#include "conduit/buf.h"
#include "conduit/grpc.h"
#include "conduit/kube_client.h"
#include "conduit/metrics.h"
#include "conduit/pki.h"
#include "conduit/sock.h"

/*
 * io.linkerd.proxy.identity.Identity/Certify (WIRE.md):
 *
 *   CertifyRequest{identity, token, certificate_signing_request (DER)}
 *     -> CertifyResponse{leaf_certificate (DER),
 *                        intermediate_certificates [the issuer (DER)],
 *                        valid_until}
 *
 * A request is granted when
 *  - identity is <sa>.<ns>.serviceaccount.identity.<controller-ns>.<trust-domain>
 *    (sa a DNS subdomain, ns a DNS label);
 *  - the CSR parses, its key is ECDSA P-256, its self-signature verifies
 *    and it names exactly one subjectAltName, a dNSName equal to identity;
 *  - the token authenticates ServiceAccount <ns>/<sa>: in Kubernetes mode
 *    by a TokenReview (authentication.k8s.io/v1, audience
 *    identity.conduit.io: the projected token inject mounts), asynchronously, whose
 *    user must be system:serviceaccount:<ns>:<sa>; in local mode by the
 *    file <ns>.<sa> of tokens_dir, which holds that ServiceAccount's token.
 *
 * Statuses: INVALID_ARGUMENT (not a message, a bad name, a bad CSR, SANs
 * other than the one), FAILED_PRECONDITION (the token authenticates no
 * one), PERMISSION_DENIED (it authenticates someone else),
 * UNAVAILABLE (the API server did not answer within review_timeout, or
 * refused the review), RESOURCE_EXHAUSTED (max_pending reviews in flight).
 *
 * The leaf certificate: the CSR's public key; subject CN and one DNS SAN
 * = identity; valid from now - clock_skew to now + lifetime (never past
 * the issuer's own expiry); keyUsage digitalSignature; extKeyUsage
 * serverAuth and clientAuth; signed by the issuer (SHA-256).
 */

struct identity;

struct identity_config {
	struct ev_loop *loop;
	struct metrics_registry *metrics; /* borrowed; may be NULL */
	/* the issuer: tls.crt + tls.key (install's kubernetes.io/tls
	 * Secret, mounted), else crt.pem + key.pem */
	const char *issuer_dir;
	const char *trust_anchors_file; /* NULL: <issuer_dir>/ca.crt */
	const char *controller_ns;	/* "conduit" */
	const char *trust_domain;	/* "cluster.local" */
	int64_t lifetime;		/* leaf lifetime, seconds (86400) */
	int64_t clock_skew;		/* leaf backdate, seconds (20) */
	const char *tokens_dir;		/* local mode: token files */
	struct kube_client *kube;	/* Kubernetes mode; borrowed */
	int review_timeout_ms;		/* a TokenReview, whole (10000) */
	size_t max_pending;		/* reviews in flight (1000) */
};

/*
 * identity_new - load and check the issuer and trust anchors (PEM; the
 * key ECDSA P-256, the certificate a CA matching it, chaining to the
 * anchors, valid now). Exactly one of tokens_dir and kube must be set.
 * Returns the component (not listening), or NULL with "what: why" in err.
 */
struct identity *identity_new(const struct identity_config *cfg, char *err,
			      size_t errlen);

/* identity_listen - serve Certify on a; 0 or a negative errno */
int identity_listen(struct identity *id, const struct sock_addr *a);
int identity_local_addr(const struct identity *id, struct sock_addr *out);

/* identity_ready - the issuer is loaded and valid now */
bool identity_ready(const struct identity *id);

/* identity_issuer_expiry - the issuer's notAfter, Unix seconds */
int64_t identity_issuer_expiry(const struct identity *id);

/* identity_free - cancel the calls in flight, close. NULL is a no-op. */
void identity_free(struct identity *id);

/* --- the request's checks (no I/O: for tests and the fuzzer) ------------ */

struct identity_request {
	char name[254];	 /* the identity */
	char sa[254];	 /* its ServiceAccount */
	char ns[64];	 /* and namespace */
	char *token;	 /* NUL-terminated, printable ASCII; owned */
	size_t token_len;
	struct pki_csr *csr; /* owned */
};

#define IDENTITY_MAX_TOKEN (16u << 10)

/*
 * identity_parse_name - split name (<sa>.<ns>.<suffix>, suffix
 * "serviceaccount.identity.<controller-ns>.<trust-domain>") into sa and
 * ns (sizes as in struct identity_request). 0, or -EINVAL with why.
 */
int identity_parse_name(const char *name, const char *suffix, char *sa,
			char *ns, char *why, size_t whylen);

/*
 * identity_parse_request - unpack a CertifyRequest msg[0..len) and run
 * every check but the token's: the name (against suffix), the token's
 * form (1..IDENTITY_MAX_TOKEN printable bytes), the CSR and its one SAN.
 * Returns GRPC_OK with out filled (release with
 * identity_request_release), or a gRPC status with why (out released).
 */
int identity_parse_request(const uint8_t *msg, size_t len, const char *suffix,
			   struct identity_request *out, char *why,
			   size_t whylen);
void identity_request_release(struct identity_request *r);

/*
 * identity_review_verdict - what a TokenReview response body says about
 * a request for ns/sa: GRPC_OK (the user is system:serviceaccount:ns:sa),
 * GRPC_PERMISSION_DENIED (authenticated as someone else),
 * GRPC_FAILED_PRECONDITION (not authenticated), GRPC_UNAVAILABLE (not a
 * TokenReview), with why.
 */
int identity_review_verdict(const char *body, size_t len, const char *ns,
			    const char *sa, char *why, size_t whylen);

#endif
