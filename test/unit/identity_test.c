/* SPDX-License-Identifier: Apache-2.0 */
/* identity_test.c - unit tests for identity.c and pki.c's CSRs: names, CSR checks, issuing, the issuer */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conduit/identity.h"
#include "conduit/pki.h"
#include "identity.pb-c.h"
#include "suites.h"

#define SUFFIX "serviceaccount.identity.conduit.cluster.local"
#define WEB    "web.emojivoto." SUFFIX

static char err[512];

static void csr_for(struct pki_key *k, const char *const *names, size_t n,
		    struct buf *der)
{
	buf_init(der, 0);
	ck_assert_msg(pki_csr_write(k, "proxy", names, n, der, err,
				    sizeof(err)) == 0, "%s", err);
}

/* a packed CertifyRequest */
static void request(struct buf *out, const char *name, const char *token,
		    const struct buf *csr)
{
	Io__Linkerd__Proxy__Identity__CertifyRequest r =
		IO__LINKERD__PROXY__IDENTITY__CERTIFY_REQUEST__INIT;
	size_t n;

	r.identity = (char *)name;
	r.token.data = (uint8_t *)token;
	r.token.len = strlen(token);
	r.certificate_signing_request.data = csr ? buf_head(csr) : NULL;
	r.certificate_signing_request.len = csr ? buf_len(csr) : 0;
	n = io__linkerd__proxy__identity__certify_request__get_packed_size(&r);
	buf_init(out, 0);
	ck_assert_int_eq(buf_reserve(out, n), 0);
	io__linkerd__proxy__identity__certify_request__pack(&r, buf_tail(out));
	buf_commit(out, n);
}

static int parse(const struct buf *msg, struct identity_request *r, char *why)
{
	return identity_parse_request(buf_head(msg), buf_len(msg), SUFFIX, r, why,
				      256);
}

START_TEST(test_names)
{
	char sa[254], ns[64], why[256];

	ck_assert_int_eq(identity_parse_name(WEB, SUFFIX, sa, ns, why, sizeof(why)), 0);
	ck_assert_str_eq(sa, "web");
	ck_assert_str_eq(ns, "emojivoto");
	/* a ServiceAccount name may hold dots; a namespace may not */
	ck_assert_int_eq(identity_parse_name("a.b-c.ns." SUFFIX, SUFFIX, sa, ns,
					     why, sizeof(why)), 0);
	ck_assert_str_eq(sa, "a.b-c");
	ck_assert_str_eq(ns, "ns");
	static const char *const bad[] = {
		"",
		SUFFIX,
		"." SUFFIX,
		"web." SUFFIX,			     /* no namespace */
		".emojivoto." SUFFIX,		     /* empty sa */
		"web..emojivoto." SUFFIX,	     /* empty label */
		"Web.emojivoto." SUFFIX,	     /* uppercase */
		"web.emojivoto-." SUFFIX,	     /* ends with '-' */
		"web_x.emojivoto." SUFFIX,	     /* '_' */
		"web.emojivoto.serviceaccount.identity.conduit.other.local",
		"web.emojivoto." SUFFIX ".",
		"web.emojivotoserviceaccount.identity.conduit.cluster.local",
		"web.emojivoto.xserviceaccount.identity.conduit.cluster.local",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(identity_parse_name(bad[i], SUFFIX, sa, ns, why,
						  sizeof(why)) == -EINVAL,
			      "accepted %s", bad[i]);
	/* a 64-byte namespace, a 254-byte name */
	char name[400];

	snprintf(name, sizeof(name), "web.%064d.%s", 0, SUFFIX);
	ck_assert_int_eq(identity_parse_name(name, SUFFIX, sa, ns, why, sizeof(why)), -EINVAL);
	memset(name, 'a', 300);
	snprintf(name + 220, sizeof(name) - 220, ".ns.%s", SUFFIX);
	ck_assert_int_eq(identity_parse_name(name, SUFFIX, sa, ns, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "over 253"));
}
END_TEST

START_TEST(test_request_checks)
{
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	const char *one[] = { WEB };
	const char *two[] = { WEB, "x.emojivoto." SUFFIX };
	const char *other[] = { "voting.emojivoto." SUFFIX };
	struct buf csr, msg;
	struct identity_request r;
	char why[256];

	ck_assert_ptr_nonnull(k);
	csr_for(k, one, 1, &csr);
	request(&msg, WEB, "tok", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_OK);
	ck_assert_str_eq(r.name, WEB);
	ck_assert_str_eq(r.sa, "web");
	ck_assert_str_eq(r.ns, "emojivoto");
	ck_assert_str_eq(r.token, "tok");
	ck_assert_ptr_nonnull(r.csr);
	identity_request_release(&r);
	buf_release(&msg);

	/* the wrong name in the request */
	request(&msg, "voting.emojivoto." SUFFIX, "tok", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(why, "is not the identity"));
	ck_assert_ptr_null(r.csr);
	buf_release(&msg);
	/* a name outside the trust domain */
	request(&msg, "web.emojivoto.serviceaccount.identity.x.y", "tok", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
	buf_release(&msg);
	/* no token, a token with a control byte */
	request(&msg, WEB, "", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_FAILED_PRECONDITION);
	buf_release(&msg);
	request(&msg, WEB, "tok\nen", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_FAILED_PRECONDITION);
	buf_release(&msg);
	buf_release(&csr);

	/* two SANs, no SAN, another name's SAN */
	csr_for(k, two, 2, &csr);
	request(&msg, WEB, "tok", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
	ck_assert_msg(strstr(why, "2 DNS and 0 other") != NULL, "%s", why);
	buf_release(&msg);
	buf_release(&csr);
	csr_for(k, NULL, 0, &csr);
	request(&msg, WEB, "tok", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
	ck_assert_msg(strstr(why, "0 DNS and 0 other") != NULL, "%s", why);
	buf_release(&msg);
	buf_release(&csr);
	csr_for(k, other, 1, &csr);
	request(&msg, WEB, "tok", &csr);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
	buf_release(&msg);
	buf_release(&csr);

	/* no CSR at all */
	request(&msg, WEB, "tok", NULL);
	ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(why, "empty"));
	buf_release(&msg);
	pki_key_free(k);
}
END_TEST

/* garbage: random messages, random CSRs, every truncation and byte flip
 * of a good CSR; never a crash, never OK for a broken CSR */
START_TEST(test_garbage)
{
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	const char *one[] = { WEB };
	struct identity_request r;
	struct buf csr, msg, junk;
	uint8_t rnd[2048];
	char why[256];
	unsigned seed = 42;

	csr_for(k, one, 1, &csr);
	for (int i = 0; i < 500; i++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(rnd));

		for (size_t j = 0; j < n; j++)
			rnd[j] = (uint8_t)rand_r(&seed);
		ck_assert_int_ne(identity_parse_request(rnd, n, SUFFIX, &r, why,
							sizeof(why)), GRPC_OK);
		buf_init(&junk, 0);
		buf_append(&junk, rnd, n);
		request(&msg, WEB, "tok", &junk);
		ck_assert_int_eq(parse(&msg, &r, why), GRPC_INVALID_ARGUMENT);
		buf_release(&msg);
		buf_release(&junk);
	}
	for (size_t n = 0; n < buf_len(&csr); n++) {
		struct pki_csr *c = pki_csr_parse(buf_head(&csr), n, err, sizeof(err));

		ck_assert_msg(c == NULL, "a CSR cut at %zu parsed", n);
		ck_assert_uint_gt(strlen(err), 0);
	}
	for (size_t i = 0; i < buf_len(&csr); i++) {
		struct pki_csr *c;

		buf_head(&csr)[i] ^= 0x41;
		c = pki_csr_parse(buf_head(&csr), buf_len(&csr), err, sizeof(err));
		/* a flip in the signed part or the signature never verifies;
		 * what may still parse is a flip in the algorithm's framing
		 * that means the same; either way no crash */
		pki_csr_free(c);
		buf_head(&csr)[i] ^= 0x41;
	}
	/* trailing bytes */
	buf_append(&csr, "x", 1);
	ck_assert_ptr_null(pki_csr_parse(buf_head(&csr), buf_len(&csr), err, sizeof(err)));
	/* too large */
	{
		uint8_t *big = calloc(1, PKI_CSR_MAX + 1);

		ck_assert_ptr_null(pki_csr_parse(big, PKI_CSR_MAX + 1, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "over"));
		free(big);
	}
	buf_release(&csr);
	pki_key_free(k);
}
END_TEST

static struct pki_cert *cert_of(struct buf *pem)
{
	struct pki_cert *c = pki_cert_parse(buf_head(pem), buf_len(pem), err,
					    sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

/* a root and an issuer (pathlen 0) under it */
struct ca {
	struct pki_key *rk, *ik;
	struct pki_cert *rc, *ic;
	struct buf rpem, ipem;
};

static void ca_make(struct ca *ca, int64_t issuer_nb, int64_t issuer_na)
{
	int64_t now = time(NULL);
	struct pki_cert_spec root = {
		.common_name = "root.conduit.cluster.local",
		.not_before = now - 3600,
		.not_after = now + 86400 * 30,
		.is_ca = true,
		.max_path_len = -1,
	};
	struct pki_cert_spec iss = {
		.common_name = "identity.conduit.cluster.local",
		.not_before = now + issuer_nb,
		.not_after = now + issuer_na,
		.is_ca = true,
		.max_path_len = 0,
	};

	ca->rk = pki_key_generate(err, sizeof(err));
	ca->ik = pki_key_generate(err, sizeof(err));
	buf_init(&ca->rpem, 0);
	buf_init(&ca->ipem, 0);
	ck_assert_int_eq(pki_cert_issue(&root, ca->rk, NULL, ca->rk, &ca->rpem,
					NULL, err, sizeof(err)), 0);
	ca->rc = cert_of(&ca->rpem);
	ck_assert_int_eq(pki_cert_issue(&iss, ca->ik, ca->rc, ca->rk, &ca->ipem,
					NULL, err, sizeof(err)), 0);
	ca->ic = cert_of(&ca->ipem);
}

static void ca_free(struct ca *ca)
{
	pki_key_free(ca->rk);
	pki_key_free(ca->ik);
	pki_cert_free(ca->rc);
	pki_cert_free(ca->ic);
	buf_release(&ca->rpem);
	buf_release(&ca->ipem);
}

START_TEST(test_issue_chain)
{
	struct ca ca;
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	const char *one[] = { WEB };
	int64_t now = time(NULL);
	struct pki_cert_spec leaf = {
		.common_name = WEB,
		.dns_names = one,
		.n_dns_names = 1,
		.not_before = now - 20,
		.not_after = now + 86400,
		.server_auth = true,
		.client_auth = true,
	};
	struct buf csr, der;
	struct pki_cert *lc;
	struct pki_cert_info info;
	struct pki_csr *c;
	const uint8_t *p;
	size_t n;

	ca_make(&ca, -3600, 86400 * 10);
	csr_for(k, one, 1, &csr);
	c = pki_csr_parse(buf_head(&csr), buf_len(&csr), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	buf_init(&der, 0);
	ck_assert_msg(pki_csr_issue(&leaf, c, ca.ic, ca.ik, &der, err, sizeof(err)) == 0,
		      "%s", err);
	lc = pki_cert_parse(buf_head(&der), buf_len(&der), err, sizeof(err));
	ck_assert_msg(lc != NULL, "%s", err);
	ck_assert(pki_key_matches_cert(k, lc)); /* the CSR's key */
	pki_cert_get_info(lc, &info);
	ck_assert(!info.is_ca);
	ck_assert_uint_eq(info.n_dns_names, 1);
	ck_assert_str_eq(info.dns_name0, WEB);
	ck_assert_str_eq(info.subject, "CN=" WEB);
	ck_assert_str_eq(info.issuer, "CN=identity.conduit.cluster.local");
	ck_assert_int_eq(info.not_after - info.not_before, 86400 + 20);
	/* the leaf alone does not verify against the root; it does against
	 * the issuer, which does against the root */
	ck_assert_int_eq(pki_cert_verify(lc, ca.rc, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(pki_cert_verify(lc, ca.ic, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(pki_cert_verify(ca.ic, ca.rc, err, sizeof(err)) == 0, "%s", err);
	p = pki_cert_der(ca.ic, &n);
	ck_assert_uint_gt(n, 100);
	ck_assert_uint_eq(p[0], 0x30); /* a DER SEQUENCE */
	/* an issuer that is not a CA cannot sign */
	buf_clear(&der);
	ck_assert_int_eq(pki_csr_issue(&leaf, c, lc, k, &der, err, sizeof(err)), -EINVAL);
	/* the wrong issuer key */
	ck_assert_int_eq(pki_csr_issue(&leaf, c, ca.ic, ca.rk, &der, err, sizeof(err)), -EINVAL);
	pki_cert_free(lc);
	pki_csr_free(c);
	buf_release(&der);
	buf_release(&csr);
	pki_key_free(k);
	ca_free(&ca);
}
END_TEST

static void write_file(const char *dir, const char *name, const void *p,
		       size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void issuer_dir(const char *dir, struct ca *ca)
{
	struct buf key;

	buf_init(&key, 0);
	ck_assert_int_eq(pki_key_write_pem(ca->ik, &key), 0);
	write_file(dir, "tls.crt", buf_head(&ca->ipem), buf_len(&ca->ipem));
	write_file(dir, "tls.key", buf_head(&key), buf_len(&key));
	write_file(dir, "ca.crt", buf_head(&ca->rpem), buf_len(&ca->rpem));
	buf_release(&key);
}

static struct identity *load(const char *dir, const char *tokens)
{
	struct identity_config cfg = {
		.loop = EV_DEFAULT,
		.issuer_dir = dir,
		.tokens_dir = tokens,
	};

	return identity_new(&cfg, err, sizeof(err));
}

START_TEST(test_issuer_load)
{
	char dir[] = "/tmp/identity-test.XXXXXX";
	struct identity *id;
	struct ca ca, other;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* good */
	ca_make(&ca, -3600, 86400 * 10);
	issuer_dir(dir, &ca);
	id = load(dir, dir);
	ck_assert_msg(id != NULL, "%s", err);
	ck_assert(identity_ready(id));
	ck_assert_int_gt(identity_issuer_expiry(id), time(NULL) + 86400 * 9);
	identity_free(id);
	/* no way to check tokens */
	ck_assert_ptr_null(load(dir, NULL));
	ck_assert_ptr_nonnull(strstr(err, "--identity-tokens-dir"));
	ca_free(&ca);

	/* expired */
	ca_make(&ca, -86400 * 10, -60);
	issuer_dir(dir, &ca);
	ck_assert_ptr_null(load(dir, dir));
	ck_assert_msg(strstr(err, "tls.crt: expired at ") != NULL, "%s", err);
	ca_free(&ca);
	/* not yet valid */
	ca_make(&ca, 3600, 86400);
	issuer_dir(dir, &ca);
	ck_assert_ptr_null(load(dir, dir));
	ck_assert_msg(strstr(err, "not valid before") != NULL, "%s", err);
	ca_free(&ca);
	/* chains to other anchors */
	ca_make(&ca, -3600, 86400);
	ca_make(&other, -3600, 86400);
	issuer_dir(dir, &ca);
	write_file(dir, "ca.crt", buf_head(&other.rpem), buf_len(&other.rpem));
	ck_assert_ptr_null(load(dir, dir));
	ck_assert_msg(strstr(err, "certificate does not verify") != NULL, "%s", err);
	/* a key that is not the issuer's */
	issuer_dir(dir, &ca);
	{
		struct buf key;

		buf_init(&key, 0);
		pki_key_write_pem(other.ik, &key);
		write_file(dir, "tls.key", buf_head(&key), buf_len(&key));
		buf_release(&key);
	}
	ck_assert_ptr_null(load(dir, dir));
	ck_assert_msg(strstr(err, "not the key of") != NULL, "%s", err);
	/* garbage anchors */
	issuer_dir(dir, &ca);
	write_file(dir, "ca.crt", "garbage", 7);
	ck_assert_ptr_null(load(dir, dir));
	ck_assert_msg(strstr(err, "trust anchors") != NULL, "%s", err);
	ca_free(&ca);
	ca_free(&other);

	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

START_TEST(test_review_verdict)
{
	char why[512];
	static const char ok[] =
		"{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\","
		"\"status\":{\"authenticated\":true,\"user\":{\"username\":"
		"\"system:serviceaccount:emojivoto:web\",\"uid\":\"1\"}}}";
	static const char other[] =
		"{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,"
		"\"user\":{\"username\":\"system:serviceaccount:emojivoto:voting\"}}}";
	static const char no[] =
		"{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":false,"
		"\"error\":\"invalid bearer token\"}}";
	static const char *const junk[] = { "", "{", "[]", "{\"kind\":\"Status\"}",
					    "{\"kind\":\"TokenReview\"}" };

	ck_assert_int_eq(identity_review_verdict(ok, strlen(ok), "emojivoto", "web",
						 why, sizeof(why)), GRPC_OK);
	ck_assert_int_eq(identity_review_verdict(other, strlen(other), "emojivoto",
						 "web", why, sizeof(why)),
			 GRPC_PERMISSION_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "system:serviceaccount:emojivoto:voting"));
	ck_assert_int_eq(identity_review_verdict(no, strlen(no), "emojivoto", "web",
						 why, sizeof(why)),
			 GRPC_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(why, "invalid bearer token"));
	/* a user name that only starts like the wanted one */
	ck_assert_int_eq(identity_review_verdict(ok, strlen(ok), "emojivoto", "we",
						 why, sizeof(why)),
			 GRPC_PERMISSION_DENIED);
	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		ck_assert_int_eq(identity_review_verdict(junk[i], strlen(junk[i]),
							 "emojivoto", "web", why,
							 sizeof(why)),
				 GRPC_UNAVAILABLE);
}
END_TEST

Suite *identity_suite(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_request_checks);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_issue_chain);
	tcase_add_test(tc, test_issuer_load);
	tcase_add_test(tc, test_review_verdict);
	suite_add_tcase(s, tc);
	return s;
}
