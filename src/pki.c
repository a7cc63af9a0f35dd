/* SPDX-License-Identifier: Apache-2.0 */
/* pki.c - ECDSA P-256 keys and X.509 certificates (over mbedtls) */
#include "conduit/pki.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/md.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

struct pki_key {
	mbedtls_pk_context pk;
};

struct pki_cert {
	mbedtls_x509_crt crt;
};

/* One DRBG for the process, seeded from the OS on first use. */
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static bool drbg_ready;

static void set_err(char *err, size_t errlen, const char *what, int mret)
{
	char why[128];

	if (!err || !errlen)
		return;
	if (mret) {
		mbedtls_strerror(mret, why, sizeof(why));
		snprintf(err, errlen, "%s: %s (mbedtls -0x%04x)", what, why,
			 (unsigned)-mret);
	} else {
		snprintf(err, errlen, "%s", what);
	}
}

static int rng(char *err, size_t errlen)
{
	static const char pers[] = "conduit-pki";
	int r;

	if (drbg_ready)
		return 0;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1);
	if (r) {
		set_err(err, errlen, "seeding the random generator", r);
		mbedtls_ctr_drbg_free(&drbg);
		mbedtls_entropy_free(&entropy);
		return -EIO;
	}
	drbg_ready = true;
	return 0;
}

int pki_random(void *ctx, unsigned char *out, size_t len)
{
	(void)ctx;
	if (rng(NULL, 0))
		return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
	return mbedtls_ctr_drbg_random(&drbg, out, len);
}

struct pki_key *pki_key_generate(char *err, size_t errlen)
{
	struct pki_key *k;
	int r;

	if (rng(err, errlen))
		return NULL;
	k = xcalloc(1, sizeof(*k));
	mbedtls_pk_init(&k->pk);
	r = mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!r)
		r = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk),
					mbedtls_ctr_drbg_random, &drbg);
	if (r) {
		set_err(err, errlen, "generating a P-256 key", r);
		pki_key_free(k);
		return NULL;
	}
	return k;
}

/*
 * mbedtls wants PEM NUL-terminated, with the NUL counted in the length;
 * DER as is. Copy into a terminated buffer when the input is PEM.
 */
static unsigned char *terminated(const void *data, size_t len, size_t *outlen)
{
	unsigned char *p = xmalloc(len + 1);

	memcpy(p, data, len);
	p[len] = '\0';
	*outlen = memmem(data, len, "-----BEGIN", 10) ? len + 1 : len;
	return p;
}

struct pki_key *pki_key_parse(const void *data, size_t len, char *err,
			      size_t errlen)
{
	struct pki_key *k;
	unsigned char *p;
	size_t n;
	int r;

	if (rng(err, errlen))
		return NULL;
	k = xcalloc(1, sizeof(*k));
	mbedtls_pk_init(&k->pk);
	p = terminated(data, len, &n);
	r = mbedtls_pk_parse_key(&k->pk, p, n, NULL, 0);
	free(p);
	if (r) {
		set_err(err, errlen, "parsing the private key", r);
		pki_key_free(k);
		return NULL;
	}
	if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		set_err(err, errlen, "parsing the private key: not an ECDSA P-256 key", 0);
		pki_key_free(k);
		return NULL;
	}
	return k;
}

void pki_key_free(struct pki_key *k)
{
	if (!k)
		return;
	mbedtls_pk_free(&k->pk);
	free(k);
}

int pki_key_write_pem(struct pki_key *k, struct buf *out)
{
	unsigned char pem[1024];
	int r;

	r = mbedtls_pk_write_key_pem(&k->pk, pem, sizeof(pem));
	if (r)
		return -EIO;
	return buf_append(out, pem, strlen((char *)pem));
}

struct pki_cert *pki_cert_parse(const void *data, size_t len, char *err,
				size_t errlen)
{
	struct pki_cert *c = xcalloc(1, sizeof(*c));
	unsigned char *p;
	size_t n;
	int r;

	mbedtls_x509_crt_init(&c->crt);
	p = terminated(data, len, &n);
	r = mbedtls_x509_crt_parse(&c->crt, p, n);
	free(p);
	/* > 0: some certificates of a bundle failed; the first must parse */
	if (r < 0 || !c->crt.raw.p) {
		set_err(err, errlen, "parsing the certificate", r < 0 ? r : 0);
		pki_cert_free(c);
		return NULL;
	}
	return c;
}

void pki_cert_free(struct pki_cert *c)
{
	if (!c)
		return;
	mbedtls_x509_crt_free(&c->crt);
	free(c);
}

static void x509_time(int64_t t, char out[15])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

/* ADD - run one mbedtls_asn1_write_* step, adding its length to len */
#define ADD(expr)                          \
	do {                               \
		int r_ = (expr);           \
		if (r_ < 0)                \
			return r_;         \
		len += (size_t)r_;         \
	} while (0)

/* seal - put "SEQUENCE <len>" in front of the len bytes at *p */
static int seal(unsigned char **p, unsigned char *buf, size_t len,
		unsigned char **start)
{
	size_t body = len;

	ADD(mbedtls_asn1_write_len(p, buf, body));
	ADD(mbedtls_asn1_write_tag(p, buf,
				   MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*start = *p;
	return (int)len;
}

/* write SEQUENCE { [2] IA5String ... } backwards into buf; <0 on error */
static int write_san(unsigned char *buf, size_t size, unsigned char **start,
		     const char *const *names, size_t n)
{
	unsigned char *p = buf + size;
	size_t len = 0;

	for (size_t i = n; i-- > 0;)
		ADD(mbedtls_asn1_write_tagged_string(
			&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME,
			names[i], strlen(names[i])));
	return seal(&p, buf, len, start);
}

/* write SEQUENCE { OID ... } of the extended key usages; <0 on error */
static int write_eku(unsigned char *buf, size_t size, unsigned char **start,
		     bool server, bool client)
{
	unsigned char *p = buf + size;
	size_t len = 0;

	if (client)
		ADD(mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_CLIENT_AUTH,
					   MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
	if (server)
		ADD(mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH,
					   MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
	return seal(&p, buf, len, start);
}

#undef ADD

/* issue - pki_cert_issue for any public key; out may be NULL (no PEM) */
static int issue(const struct pki_cert_spec *spec, mbedtls_pk_context *subject_pk,
		 const struct pki_cert *issuer, struct pki_key *issuer_key,
		 struct buf *out, struct buf *der, char *err, size_t errlen)
{
	mbedtls_x509write_cert w;
	unsigned char serial_bytes[16], ext[4096], *start;
	char subject[300], issuer_name[300], nb[15], na[15];
	unsigned char pem[8192];
	mbedtls_mpi serial;
	int r, n, ret = -EIO;
	const char *what = "";

	if (!spec->common_name || !*spec->common_name ||
	    strpbrk(spec->common_name, ",=+<>#;\\\"")) {
		set_err(err, errlen, "certificate: the common name is empty or has "
				     "characters a DN cannot hold", 0);
		return -EINVAL;
	}
	if (spec->not_after <= spec->not_before) {
		set_err(err, errlen, "certificate: not_after is not after not_before", 0);
		return -EINVAL;
	}
	if (issuer && !issuer->crt.ca_istrue) {
		set_err(err, errlen, "certificate: the issuer is not a CA", 0);
		return -EINVAL;
	}
	if (!issuer && &issuer_key->pk != subject_pk) {
		set_err(err, errlen, "certificate: self-signed needs issuer_key == subject_key", 0);
		return -EINVAL;
	}
	if (issuer && !pki_key_matches_cert(issuer_key, issuer)) {
		set_err(err, errlen, "certificate: the issuer key does not match the "
				     "issuer certificate", 0);
		return -EINVAL;
	}
	if (rng(err, errlen))
		return -EIO;

	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, subject_pk);
	mbedtls_x509write_crt_set_issuer_key(&w, &issuer_key->pk);

	/* 127 random bits: positive, unique */
	what = "serial number";
	r = mbedtls_ctr_drbg_random(&drbg, serial_bytes, sizeof(serial_bytes));
	if (r)
		goto out;
	serial_bytes[0] &= 0x7f;
	serial_bytes[0] |= 0x01;
	r = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof(serial_bytes));
	if (!r)
		r = mbedtls_x509write_crt_set_serial(&w, &serial);
	if (r)
		goto out;

	what = "names";
	snprintf(subject, sizeof(subject), "CN=%s", spec->common_name);
	if (issuer) {
		n = mbedtls_x509_dn_gets(issuer_name, sizeof(issuer_name),
					 &issuer->crt.subject);
		r = n < 0 ? n : 0;
		if (r)
			goto out;
	} else {
		snprintf(issuer_name, sizeof(issuer_name), "%s", subject);
	}
	r = mbedtls_x509write_crt_set_subject_name(&w, subject);
	if (!r)
		r = mbedtls_x509write_crt_set_issuer_name(&w, issuer_name);
	if (r)
		goto out;

	what = "validity";
	x509_time(spec->not_before, nb);
	x509_time(spec->not_after, na);
	r = mbedtls_x509write_crt_set_validity(&w, nb, na);
	if (r)
		goto out;

	what = "extensions";
	r = mbedtls_x509write_crt_set_basic_constraints(
		&w, spec->is_ca, spec->is_ca ? spec->max_path_len : 0);
	if (!r)
		r = mbedtls_x509write_crt_set_key_usage(
			&w, spec->is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN |
						  MBEDTLS_X509_KU_CRL_SIGN |
						  MBEDTLS_X509_KU_DIGITAL_SIGNATURE :
					  MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (!r)
		r = mbedtls_x509write_crt_set_subject_key_identifier(&w);
	if (!r)
		r = mbedtls_x509write_crt_set_authority_key_identifier(&w);
	if (r)
		goto out;
	if (spec->n_dns_names) {
		n = write_san(ext, sizeof(ext), &start, spec->dns_names,
			      spec->n_dns_names);
		r = n < 0 ? n : mbedtls_x509write_crt_set_extension(
				&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
				start, (size_t)n);
		if (r)
			goto out;
	}
	if (spec->server_auth || spec->client_auth) {
		n = write_eku(ext, sizeof(ext), &start, spec->server_auth,
			      spec->client_auth);
		r = n < 0 ? n : mbedtls_x509write_crt_set_extension(
				&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
				start, (size_t)n);
		if (r)
			goto out;
	}

	what = "signing";
	if (der) {
		unsigned char dbuf[4096];

		/* mbedtls writes DER at the end of the buffer */
		n = mbedtls_x509write_crt_der(&w, dbuf, sizeof(dbuf),
					      mbedtls_ctr_drbg_random, &drbg);
		r = n < 0 ? n : 0;
		if (r)
			goto out;
		if (buf_append(der, dbuf + sizeof(dbuf) - n, (size_t)n)) {
			r = 0;
			what = "out of buffer space";
			goto out;
		}
	}
	if (!out) {
		ret = 0;
		goto out;
	}
	r = mbedtls_x509write_crt_pem(&w, pem, sizeof(pem),
				      mbedtls_ctr_drbg_random, &drbg);
	if (r)
		goto out;
	if (buf_append(out, pem, strlen((char *)pem))) {
		what = "out of buffer space";
		goto out;
	}
	ret = 0;
out:
	if (ret) {
		char msg[64];

		snprintf(msg, sizeof(msg), "certificate: %s", what);
		set_err(err, errlen, msg, r);
	}
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	return ret;
}

int pki_cert_issue(const struct pki_cert_spec *spec, struct pki_key *subject_key,
		   const struct pki_cert *issuer, struct pki_key *issuer_key,
		   struct buf *out, struct buf *der, char *err, size_t errlen)
{
	return issue(spec, &subject_key->pk, issuer, issuer_key, out, der, err,
		     errlen);
}

int64_t pki_x509_time_unix(const struct mbedtls_x509_time *t)
{
	struct tm tm = {
		.tm_year = t->year - 1900,
		.tm_mon = t->mon - 1,
		.tm_mday = t->day,
		.tm_hour = t->hour,
		.tm_min = t->min,
		.tm_sec = t->sec,
	};

	return (int64_t)timegm(&tm);
}

static int crt_info(const mbedtls_x509_crt *crt, struct pki_cert_info *info)
{
	const mbedtls_x509_sequence *san;

	memset(info, 0, sizeof(*info));
	if (mbedtls_x509_dn_gets(info->subject, sizeof(info->subject),
				 &crt->subject) < 0 ||
	    mbedtls_x509_dn_gets(info->issuer, sizeof(info->issuer),
				 &crt->issuer) < 0)
		return -EINVAL;
	info->not_before = pki_x509_time_unix(&crt->valid_from);
	info->not_after = pki_x509_time_unix(&crt->valid_to);
	info->is_ca = crt->ca_istrue;
	for (san = &crt->subject_alt_names; san && san->buf.p; san = san->next) {
		if (san->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
				     MBEDTLS_X509_SAN_DNS_NAME))
			continue;
		if (!info->n_dns_names++)
			snprintf(info->dns_name0, sizeof(info->dns_name0), "%.*s",
				 (int)san->buf.len, (const char *)san->buf.p);
	}
	return 0;
}

int pki_cert_get_info(const struct pki_cert *c, struct pki_cert_info *info)
{
	return crt_info(&c->crt, info);
}

size_t pki_cert_count(const struct pki_cert *c)
{
	size_t n = 0;

	for (const mbedtls_x509_crt *crt = &c->crt; crt && crt->raw.p;
	     crt = crt->next)
		n++;
	return n;
}

int pki_cert_get_info_at(const struct pki_cert *c, size_t i,
			 struct pki_cert_info *info)
{
	const mbedtls_x509_crt *crt = &c->crt;

	for (; i && crt && crt->raw.p; i--)
		crt = crt->next;
	if (!crt || !crt->raw.p)
		return -ENOENT;
	return crt_info(crt, info);
}

int pki_cert_append_der(struct pki_cert *c, const void *der, size_t len,
			char *err, size_t errlen)
{
	int r = mbedtls_x509_crt_parse_der(&c->crt, der, len);

	if (r) {
		set_err(err, errlen, "parsing the certificate", r);
		return -EBADMSG;
	}
	return 0;
}

int pki_cert_verify(const struct pki_cert *c, const struct pki_cert *trust,
		    char *err, size_t errlen)
{
	uint32_t flags = 0;
	int r;

	r = mbedtls_x509_crt_verify((mbedtls_x509_crt *)&c->crt,
				    (mbedtls_x509_crt *)&trust->crt, NULL, NULL,
				    &flags, NULL, NULL);
	if (r) {
		char why[512];

		if (mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags) < 0)
			snprintf(why, sizeof(why), "verification failed");
		/* one line: "a; b" instead of "a\nb\n" */
		for (char *nl = why; (nl = strchr(nl, '\n'));) {
			if (!nl[1]) {
				*nl = '\0';
				break;
			}
			*nl = ';';
		}
		snprintf(err, errlen, "certificate does not verify: %s", why);
		return -EBADMSG;
	}
	return 0;
}

bool pki_key_matches_cert(struct pki_key *k, const struct pki_cert *c)
{
	return mbedtls_pk_check_pair((mbedtls_pk_context *)&c->crt.pk, &k->pk) == 0;
}

const uint8_t *pki_cert_der(const struct pki_cert *c, size_t *len)
{
	*len = c->crt.raw.len;
	return c->crt.raw.p;
}

/* --- certificate signing requests ---------------------------------------- */

struct pki_csr {
	mbedtls_x509_csr csr;
	size_t n_dns, n_other;
	char dns0[256]; /* the first dNSName (cut at 255 bytes) */
	size_t dns0_len;
};

#define CONSTRUCTED_SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

static bool oid_is(const unsigned char *p, size_t len, const char *oid,
		   size_t oid_len)
{
	return len == oid_len && !memcmp(p, oid, len);
}

/* GeneralNames ::= SEQUENCE OF GeneralName, in p[0..end) */
static int count_names(struct pki_csr *c, unsigned char *p,
		       const unsigned char *end)
{
	size_t len;

	if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQ) ||
	    p + len != end)
		return -EBADMSG;
	while (p < end) {
		unsigned char tag = *p++;

		if (mbedtls_asn1_get_len(&p, end, &len))
			return -EBADMSG;
		if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
			    MBEDTLS_X509_SAN_DNS_NAME)) {
			if (!c->n_dns++) {
				size_t n = len < sizeof(c->dns0) ? len :
								   sizeof(c->dns0) - 1;

				memcpy(c->dns0, p, n);
				c->dns0[n] = '\0';
				c->dns0_len = len;
			}
		} else {
			c->n_other++;
		}
		p += len;
	}
	return 0;
}

/* Extensions ::= SEQUENCE OF Extension, in p[0..end): the SANs */
static int read_extensions(struct pki_csr *c, unsigned char *p,
			   const unsigned char *end)
{
	size_t len;
	int r;

	if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQ) ||
	    p + len != end)
		return -EBADMSG;
	while (p < end) {
		const unsigned char *ext_end;
		unsigned char *oid;
		size_t oid_len;
		int critical;

		if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQ))
			return -EBADMSG;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID))
			return -EBADMSG;
		oid = p;
		p += oid_len;
		r = mbedtls_asn1_get_bool(&p, ext_end, &critical);
		if (r && r != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG)
			return -EBADMSG;
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) ||
		    p + len != ext_end)
			return -EBADMSG;
		if (oid_is(oid, oid_len, MBEDTLS_OID_SUBJECT_ALT_NAME,
			   MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME)) &&
		    count_names(c, p, p + len))
			return -EBADMSG;
		p += len;
	}
	return 0;
}

/*
 * read_attributes - mbedtls 2.x skips a CSR's attributes: walk the raw
 * CertificationRequestInfo { version, subject, subjectPKInfo,
 * [0] attributes } for the extensionRequest attribute ourselves.
 */
static int read_attributes(struct pki_csr *c)
{
	unsigned char *p = c->csr.cri.p;
	const unsigned char *end = p + c->csr.cri.len;
	size_t len;
	int version;

	if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQ))
		return -EBADMSG;
	end = p + len;
	if (mbedtls_asn1_get_int(&p, end, &version))
		return -EBADMSG;
	for (int i = 0; i < 2; i++) { /* subject, subjectPKInfo */
		if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQ))
			return -EBADMSG;
		p += len;
	}
	if (p == end)
		return 0;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
							MBEDTLS_ASN1_CONSTRUCTED) ||
	    p + len != end)
		return -EBADMSG;
	while (p < end) {
		const unsigned char *attr_end, *set_end;
		unsigned char *oid;
		size_t oid_len;

		if (mbedtls_asn1_get_tag(&p, end, &len, CONSTRUCTED_SEQ))
			return -EBADMSG;
		attr_end = p + len;
		if (mbedtls_asn1_get_tag(&p, attr_end, &oid_len, MBEDTLS_ASN1_OID))
			return -EBADMSG;
		oid = p;
		p += oid_len;
		if (mbedtls_asn1_get_tag(&p, attr_end, &len, MBEDTLS_ASN1_CONSTRUCTED |
								     MBEDTLS_ASN1_SET) ||
		    p + len != attr_end)
			return -EBADMSG;
		set_end = p + len;
		if (oid_is(oid, oid_len, MBEDTLS_OID_PKCS9_CSR_EXT_REQ,
			   MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS9_CSR_EXT_REQ))) {
			while (p < set_end) {
				unsigned char *start = p;

				if (mbedtls_asn1_get_tag(&p, set_end, &len,
							 CONSTRUCTED_SEQ))
					return -EBADMSG;
				p += len;
				if (read_extensions(c, start, p))
					return -EBADMSG;
			}
		}
		p = (unsigned char *)attr_end;
	}
	return 0;
}

struct pki_csr *pki_csr_parse(const void *der, size_t len, char *err,
			      size_t errlen)
{
	struct pki_csr *c;
	const mbedtls_md_info_t *md;
	unsigned char hash[MBEDTLS_MD_MAX_SIZE];
	mbedtls_ecp_keypair *ec;
	int r;

	if (!len) {
		set_err(err, errlen, "certificate signing request: empty", 0);
		return NULL;
	}
	if (len > PKI_CSR_MAX) {
		char msg[96];

		snprintf(msg, sizeof(msg), "certificate signing request: %zu bytes, over %u",
			 len, PKI_CSR_MAX);
		set_err(err, errlen, msg, 0);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	mbedtls_x509_csr_init(&c->csr);
	r = mbedtls_x509_csr_parse_der(&c->csr, der, len);
	if (r) {
		set_err(err, errlen, "certificate signing request: not a DER PKCS#10 request", r);
		goto fail;
	}
	if (mbedtls_pk_get_type(&c->csr.pk) != MBEDTLS_PK_ECKEY ||
	    (ec = mbedtls_pk_ec(c->csr.pk))->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		set_err(err, errlen, "certificate signing request: the key is not an ECDSA P-256 key", 0);
		goto fail;
	}
	if (c->csr.sig_pk != MBEDTLS_PK_ECDSA ||
	    !(md = mbedtls_md_info_from_type(c->csr.sig_md))) {
		set_err(err, errlen, "certificate signing request: not signed with ECDSA", 0);
		goto fail;
	}
	r = mbedtls_md(md, c->csr.cri.p, c->csr.cri.len, hash);
	if (!r)
		r = mbedtls_pk_verify(&c->csr.pk, c->csr.sig_md, hash,
				      mbedtls_md_get_size(md), c->csr.sig.p,
				      c->csr.sig.len);
	if (r) {
		set_err(err, errlen, "certificate signing request: the signature does not verify", r);
		goto fail;
	}
	if (read_attributes(c)) {
		set_err(err, errlen, "certificate signing request: a malformed attribute or extension", 0);
		goto fail;
	}
	return c;
fail:
	pki_csr_free(c);
	return NULL;
}

void pki_csr_free(struct pki_csr *c)
{
	if (!c)
		return;
	mbedtls_x509_csr_free(&c->csr);
	free(c);
}

void pki_csr_get_info(const struct pki_csr *c, struct pki_csr_info *info)
{
	info->n_dns_names = c->n_dns;
	info->n_other_names = c->n_other;
	info->dns_name0 = c->dns0;
	info->dns_name0_len = c->dns0_len;
}

int pki_csr_issue(const struct pki_cert_spec *spec, struct pki_csr *csr,
		  const struct pki_cert *issuer, struct pki_key *issuer_key,
		  struct buf *der, char *err, size_t errlen)
{
	if (!issuer) {
		set_err(err, errlen, "certificate: a CSR needs an issuer", 0);
		return -EINVAL;
	}
	return issue(spec, &csr->csr.pk, issuer, issuer_key, NULL, der, err,
		     errlen);
}

int pki_csr_write(struct pki_key *key, const char *cn,
		  const char *const *dns_names, size_t n_dns_names,
		  struct buf *der, char *err, size_t errlen)
{
	mbedtls_x509write_csr w;
	unsigned char ext[4096], dbuf[4096], *start;
	char subject[300];
	int r, n, ret = -EIO;

	if (rng(err, errlen))
		return -EIO;
	if (!cn || strpbrk(cn, ",=+<>#;\\\"")) {
		set_err(err, errlen, "certificate signing request: a bad common name", 0);
		return -EINVAL;
	}
	mbedtls_x509write_csr_init(&w);
	mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&w, &key->pk);
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	r = mbedtls_x509write_csr_set_subject_name(&w, subject);
	if (!r && n_dns_names) {
		n = write_san(ext, sizeof(ext), &start, dns_names, n_dns_names);
		r = n < 0 ? n : mbedtls_x509write_csr_set_extension(
				&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
				start, (size_t)n);
	}
	if (!r) {
		n = mbedtls_x509write_csr_der(&w, dbuf, sizeof(dbuf),
					      mbedtls_ctr_drbg_random, &drbg);
		r = n < 0 ? n : 0;
	}
	if (r) {
		set_err(err, errlen, "certificate signing request: writing", r);
		goto out;
	}
	if (buf_append(der, dbuf + sizeof(dbuf) - n, (size_t)n)) {
		set_err(err, errlen, "certificate signing request: out of buffer space", 0);
		goto out;
	}
	ret = 0;
out:
	mbedtls_x509write_csr_free(&w);
	return ret;
}
