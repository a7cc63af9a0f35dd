/* SPDX-License-Identifier: Apache-2.0 */
/* pki.h - ECDSA P-256 keys and X.509 certificates (over mbedtls) */
#ifndef CONDUIT_PKI_H
#define CONDUIT_PKI_H

#include <stdint.h>

#include "conduit/base.h"
#include "conduit/buf.h"

/*
 * What install needs (a trust anchor, an issuer, the injector's serving
 * certificate) and identity will need (sign leaf certificates). Keys are
 * ECDSA P-256, signatures SHA-256, as DESIGN.md §3 fixes for the mesh.
 * mbedtls is included by pki.c only. Errors are written as one line into
 * err ("what: why (mbedtls -0x....)").
 */
struct pki_key;
struct pki_cert;

/* pki_key_generate - a new P-256 key; caller frees with pki_key_free() */
struct pki_key *pki_key_generate(char *err, size_t errlen);
/* pki_key_parse - a PEM or DER private key (EC only); NULL + err on error */
struct pki_key *pki_key_parse(const void *data, size_t len, char *err,
			      size_t errlen);
void pki_key_free(struct pki_key *k);
/* pki_key_write_pem - append the key as "EC PRIVATE KEY" PEM. 0 or -errno */
int pki_key_write_pem(struct pki_key *k, struct buf *out);

/* pki_cert_parse - the first certificate of a PEM or DER blob */
struct pki_cert *pki_cert_parse(const void *data, size_t len, char *err,
				size_t errlen);
void pki_cert_free(struct pki_cert *c);

/* What to put in a new certificate. */
struct pki_cert_spec {
	const char *common_name;      /* subject CN */
	const char *const *dns_names; /* subjectAltName DNS entries */
	size_t n_dns_names;
	int64_t not_before;	      /* Unix seconds */
	int64_t not_after;	      /* Unix seconds */
	bool is_ca;		      /* basicConstraints CA:TRUE, keyCertSign */
	int max_path_len;	      /* for a CA; -1: no limit */
	bool server_auth;	      /* extendedKeyUsage serverAuth */
	bool client_auth;	      /* extendedKeyUsage clientAuth */
};

/*
 * pki_cert_issue - sign a certificate for subject_key as spec says, by
 * issuer/issuer_key, or self-signed when issuer is NULL (then issuer_key
 * must be subject_key). Appends PEM to out (and DER to der, if not NULL).
 * Returns 0, or -EINVAL (bad spec, issuer not a CA) / -EIO with err set.
 */
int pki_cert_issue(const struct pki_cert_spec *spec, struct pki_key *subject_key,
		   const struct pki_cert *issuer, struct pki_key *issuer_key,
		   struct buf *out, struct buf *der, char *err, size_t errlen);

/* Facts about a parsed certificate. */
struct pki_cert_info {
	char subject[256];  /* "CN=..." */
	char issuer[256];
	int64_t not_before; /* Unix seconds */
	int64_t not_after;
	bool is_ca;
	size_t n_dns_names;
	char dns_name0[256]; /* the first DNS SAN, or "" */
};

int pki_cert_get_info(const struct pki_cert *c, struct pki_cert_info *info);

/*
 * A parsed PEM blob may hold a bundle (trust anchors, a chain): its
 * certificates in order. pki_cert_count - how many; pki_cert_get_info_at
 * - the facts of the i-th (0 is the first, pki_cert_get_info's). Returns
 * 0, -ENOENT past the end, or -EINVAL.
 */
size_t pki_cert_count(const struct pki_cert *c);
int pki_cert_get_info_at(const struct pki_cert *c, size_t i,
			 struct pki_cert_info *info);

/*
 * pki_cert_append_der - add one DER certificate at the end of c's bundle
 * (a leaf's intermediates after it, so pki_cert_verify can build the
 * path through them). Returns 0, or -EBADMSG with err set (c unchanged).
 */
int pki_cert_append_der(struct pki_cert *c, const void *der, size_t len,
			char *err, size_t errlen);

/*
 * pki_cert_verify - 0 when c (its first certificate; the rest of its
 * bundle are intermediates it may chain through) chains to trust (a CA
 * certificate, or a bundle of them) and is valid now; -EBADMSG with the
 * reasons in err otherwise.
 */
int pki_cert_verify(const struct pki_cert *c, const struct pki_cert *trust,
		    char *err, size_t errlen);

/* pki_key_matches_cert - whether the key is the certificate's public key */
bool pki_key_matches_cert(struct pki_key *k, const struct pki_cert *c);

/* pki_cert_der - the certificate's DER bytes (the first of a bundle);
 * borrowed, valid as long as c */
const uint8_t *pki_cert_der(const struct pki_cert *c, size_t *len);

/* --- certificate signing requests (PKCS#10) ----------------------------- */

/* the largest CSR pki_csr_parse reads */
#define PKI_CSR_MAX (16u << 10)

struct pki_csr;

/*
 * pki_csr_parse - a DER PKCS#10 request: parsed, its key an ECDSA P-256
 * key, its self-signature verified, its subjectAltName entries (from
 * the extensionRequest attribute) counted. Returns the CSR (free with
 * pki_csr_free()), or NULL with "what: why" in err: not DER, trailing
 * bytes, too large (PKI_CSR_MAX), not P-256, a bad signature, a broken
 * extension.
 */
struct pki_csr *pki_csr_parse(const void *der, size_t len, char *err,
			      size_t errlen);
void pki_csr_free(struct pki_csr *csr);

/* What a CSR asks for. */
struct pki_csr_info {
	size_t n_dns_names;   /* dNSName entries */
	size_t n_other_names; /* every other GeneralName (URI, IP, email...) */
	const char *dns_name0; /* the first dNSName, NUL-terminated; borrowed
				* from the CSR; "" when none */
	size_t dns_name0_len;  /* its length on the wire (a NUL inside makes
				* it differ from strlen) */
};

void pki_csr_get_info(const struct pki_csr *csr, struct pki_csr_info *info);

/*
 * pki_csr_issue - sign a certificate for the CSR's public key as spec
 * says (the CSR's own names are ignored: spec's are used), by
 * issuer/issuer_key. Appends the DER to der. Returns 0, or -EINVAL /
 * -EIO with err set as pki_cert_issue.
 */
int pki_csr_issue(const struct pki_cert_spec *spec, struct pki_csr *csr,
		  const struct pki_cert *issuer, struct pki_key *issuer_key,
		  struct buf *der, char *err, size_t errlen);

/*
 * pki_csr_write - a DER CSR for key with subject CN cn and these DNS
 * subjectAltNames (what a proxy sends to identity's Certify; tests).
 * Appends to der. Returns 0, or -EINVAL / -EIO with err set.
 */
int pki_csr_write(struct pki_key *key, const char *cn,
		  const char *const *dns_names, size_t n_dns_names,
		  struct buf *der, char *err, size_t errlen);

/*
 * pki_x509_time_unix - an mbedtls certificate time (UTC) as Unix seconds;
 * for the TLS layer, which holds mbedtls certificates itself
 */
struct mbedtls_x509_time;
int64_t pki_x509_time_unix(const struct mbedtls_x509_time *t);

/*
 * pki_random - len random bytes into out from the process's one DRBG
 * (seeded from the OS on first use), in the shape mbedtls takes for its
 * f_rng (ctx is unused), so the TLS layer shares the generator. Returns
 * 0, or a nonzero mbedtls error when the generator cannot be seeded.
 */
int pki_random(void *ctx, unsigned char *out, size_t len);

#endif
