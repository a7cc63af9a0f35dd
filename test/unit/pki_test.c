/* SPDX-License-Identifier: Apache-2.0 */
/* pki_test.c - unit tests for pki.c: keys, certificates, chains */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "conduit/pki.h"
#include "suites.h"

static char err[512];

static struct pki_cert *issue(const struct pki_cert_spec *spec,
			      struct pki_key *key, struct pki_cert *issuer,
			      struct pki_key *issuer_key)
{
	struct buf pem;
	struct pki_cert *c;

	buf_init(&pem, 0);
	ck_assert_msg(pki_cert_issue(spec, key, issuer, issuer_key, &pem, NULL,
				     err, sizeof(err)) == 0, "%s", err);
	ck_assert(memmem(buf_head(&pem), buf_len(&pem),
			 "-----BEGIN CERTIFICATE-----", 27));
	c = pki_cert_parse(buf_head(&pem), buf_len(&pem), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	buf_release(&pem);
	return c;
}

static struct pki_cert_spec ca_spec(const char *cn, int64_t now)
{
	struct pki_cert_spec s = {
		.common_name = cn,
		.not_before = now - 60,
		.not_after = now + 365 * 86400,
		.is_ca = true,
		.max_path_len = -1,
	};
	return s;
}

START_TEST(test_chain)
{
	int64_t now = time(NULL);
	static const char *const names[] = {
		"web.emojivoto.serviceaccount.identity.conduit.cluster.local",
		"web.emojivoto.svc",
	};
	struct pki_cert_spec root = ca_spec("root.conduit.cluster.local", now);
	struct pki_cert_spec mid = ca_spec("identity.conduit.cluster.local", now);
	struct pki_cert_spec leaf = {
		.common_name = names[0],
		.dns_names = names,
		.n_dns_names = 2,
		.not_before = now - 60,
		.not_after = now + 86400,
		.server_auth = true,
		.client_auth = true,
	};
	struct pki_key *rk = pki_key_generate(err, sizeof(err));
	struct pki_key *mk = pki_key_generate(err, sizeof(err));
	struct pki_key *lk = pki_key_generate(err, sizeof(err));
	struct pki_cert *rc, *mc, *lc;
	struct pki_cert_info info;

	ck_assert(rk && mk && lk);
	rc = issue(&root, rk, NULL, rk);
	mc = issue(&mid, mk, rc, rk);
	lc = issue(&leaf, lk, mc, mk);

	ck_assert_int_eq(pki_cert_get_info(rc, &info), 0);
	ck_assert_str_eq(info.subject, "CN=root.conduit.cluster.local");
	ck_assert_str_eq(info.issuer, "CN=root.conduit.cluster.local");
	ck_assert(info.is_ca);

	ck_assert_int_eq(pki_cert_get_info(lc, &info), 0);
	ck_assert_str_eq(info.issuer, "CN=identity.conduit.cluster.local");
	ck_assert(!info.is_ca);
	ck_assert_uint_eq(info.n_dns_names, 2);
	ck_assert_str_eq(info.dns_name0, names[0]);
	/* X.509 stores seconds: the window survives the round trip */
	ck_assert_int_eq(info.not_before, now - 60);
	ck_assert_int_eq(info.not_after, now + 86400);

	ck_assert_int_eq(pki_cert_verify(mc, rc, err, sizeof(err)), 0);
	ck_assert(pki_key_matches_cert(lk, lc));
	ck_assert(!pki_key_matches_cert(mk, lc));
	/* the leaf does not chain to itself, the root is not signed by the leaf */
	ck_assert_int_eq(pki_cert_verify(rc, mc, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "does not verify"), "%s", err);

	pki_cert_free(rc);
	pki_cert_free(mc);
	pki_cert_free(lc);
	pki_key_free(rk);
	pki_key_free(mk);
	pki_key_free(lk);
}
END_TEST

/* bundles: count, the facts of each, a leaf's intermediates appended */
START_TEST(test_bundles)
{
	int64_t now = time(NULL);
	static const char *const names[] = { "web.ns.example" };
	struct pki_cert_spec root = ca_spec("root.example", now);
	struct pki_cert_spec mid = ca_spec("mid.example", now);
	struct pki_cert_spec leaf = {
		.common_name = names[0],
		.dns_names = names,
		.n_dns_names = 1,
		.not_before = now - 60,
		.not_after = now + 86400,
	};
	struct pki_key *rk = pki_key_generate(err, sizeof(err));
	struct pki_key *mk = pki_key_generate(err, sizeof(err));
	struct pki_key *lk = pki_key_generate(err, sizeof(err));
	struct pki_cert *rc, *mc, *chain, *both;
	struct pki_cert_info info;
	struct buf pem, lder, mder;

	buf_init(&pem, 0);
	buf_init(&lder, 0);
	buf_init(&mder, 0);
	rc = issue(&root, rk, NULL, rk);
	mid.max_path_len = 0;
	ck_assert_int_eq(pki_cert_issue(&mid, mk, rc, rk, &pem, &mder, err,
					sizeof(err)), 0);
	mc = pki_cert_parse(buf_head(&mder), buf_len(&mder), err, sizeof(err));
	ck_assert_ptr_nonnull(mc);
	ck_assert_int_eq(pki_cert_issue(&leaf, lk, mc, mk, &pem, &lder, err,
					sizeof(err)), 0);
	/* pem holds mid then leaf: a bundle of two */
	both = pki_cert_parse(buf_head(&pem), buf_len(&pem), err, sizeof(err));
	ck_assert_ptr_nonnull(both);
	ck_assert_uint_eq(pki_cert_count(both), 2);
	ck_assert_uint_eq(pki_cert_count(rc), 1);
	ck_assert_int_eq(pki_cert_get_info_at(both, 0, &info), 0);
	ck_assert_str_eq(info.subject, "CN=mid.example");
	ck_assert(info.is_ca);
	ck_assert_int_eq(pki_cert_get_info_at(both, 1, &info), 0);
	ck_assert_str_eq(info.subject, "CN=web.ns.example");
	ck_assert_str_eq(info.dns_name0, "web.ns.example");
	ck_assert(!info.is_ca);
	ck_assert_int_eq(pki_cert_get_info_at(both, 2, &info), -ENOENT);

	/* the leaf alone does not reach the root; with its intermediate
	 * appended it does */
	chain = pki_cert_parse(buf_head(&lder), buf_len(&lder), err, sizeof(err));
	ck_assert_ptr_nonnull(chain);
	ck_assert_int_eq(pki_cert_verify(chain, rc, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(pki_cert_append_der(chain, "\x30\x03\x02\x01\x00", 5,
					     err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "parsing the certificate"), "%s", err);
	ck_assert_uint_eq(pki_cert_count(chain), 1); /* unchanged */
	ck_assert_int_eq(pki_cert_append_der(chain, buf_head(&mder), buf_len(&mder),
					     err, sizeof(err)), 0);
	ck_assert_uint_eq(pki_cert_count(chain), 2);
	ck_assert_msg(pki_cert_verify(chain, rc, err, sizeof(err)) == 0, "%s", err);
	/* and not to another root */
	{
		struct pki_key *ok = pki_key_generate(err, sizeof(err));
		struct pki_cert *oc = issue(&root, ok, NULL, ok);

		ck_assert_int_eq(pki_cert_verify(chain, oc, err, sizeof(err)), -EBADMSG);
		pki_cert_free(oc);
		pki_key_free(ok);
	}
	pki_cert_free(chain);
	pki_cert_free(both);
	pki_cert_free(mc);
	pki_cert_free(rc);
	pki_key_free(rk);
	pki_key_free(mk);
	pki_key_free(lk);
	buf_release(&pem);
	buf_release(&lder);
	buf_release(&mder);
}
END_TEST

START_TEST(test_expired_does_not_verify)
{
	int64_t now = time(NULL);
	struct pki_cert_spec root = ca_spec("root", now);
	struct pki_cert_spec old = {
		.common_name = "old",
		.not_before = now - 10 * 86400,
		.not_after = now - 86400,
	};
	struct pki_key *rk = pki_key_generate(err, sizeof(err));
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	struct pki_cert *rc = issue(&root, rk, NULL, rk);
	struct pki_cert *c = issue(&old, k, rc, rk);

	ck_assert_int_eq(pki_cert_verify(c, rc, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "expired"), "%s", err);
	pki_cert_free(rc);
	pki_cert_free(c);
	pki_key_free(rk);
	pki_key_free(k);
}
END_TEST

START_TEST(test_bad_specs)
{
	int64_t now = time(NULL);
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	struct pki_key *k2 = pki_key_generate(err, sizeof(err));
	struct pki_cert_spec s = ca_spec("ok", now);
	struct pki_cert_spec leaf = { .common_name = "leaf",
				      .not_before = now,
				      .not_after = now + 60 };
	struct pki_cert *ca, *notca;
	struct buf out;

	buf_init(&out, 0);
	s.common_name = "a,b=c";
	ck_assert_int_eq(pki_cert_issue(&s, k, NULL, k, &out, NULL, err, sizeof(err)),
			 -EINVAL);
	s.common_name = "ok";
	s.not_after = s.not_before;
	ck_assert_int_eq(pki_cert_issue(&s, k, NULL, k, &out, NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "not_after"), "%s", err);
	s = ca_spec("ok", now);
	/* self-signed with someone else's key */
	ck_assert_int_eq(pki_cert_issue(&s, k, NULL, k2, &out, NULL, err, sizeof(err)),
			 -EINVAL);
	ca = issue(&s, k, NULL, k);
	/* the issuer key must belong to the issuer certificate */
	ck_assert_int_eq(pki_cert_issue(&leaf, k2, ca, k2, &out, NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "does not match"), "%s", err);
	/* a leaf cannot issue */
	notca = issue(&leaf, k2, ca, k);
	ck_assert_int_eq(pki_cert_issue(&leaf, k2, notca, k2, &out, NULL, err,
					sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a CA"), "%s", err);
	ck_assert_uint_eq(buf_len(&out), 0);
	buf_release(&out);
	pki_cert_free(ca);
	pki_cert_free(notca);
	pki_key_free(k);
	pki_key_free(k2);
}
END_TEST

START_TEST(test_key_pem_round_trip)
{
	struct pki_key *k = pki_key_generate(err, sizeof(err)), *k2;
	int64_t now = time(NULL);
	struct pki_cert_spec s = ca_spec("x", now);
	struct pki_cert *c = issue(&s, k, NULL, k);
	struct buf pem;

	buf_init(&pem, 0);
	ck_assert_int_eq(pki_key_write_pem(k, &pem), 0);
	ck_assert(memmem(buf_head(&pem), buf_len(&pem),
			 "-----BEGIN EC PRIVATE KEY-----", 30));
	k2 = pki_key_parse(buf_head(&pem), buf_len(&pem), err, sizeof(err));
	ck_assert_msg(k2 != NULL, "%s", err);
	ck_assert(pki_key_matches_cert(k2, c));
	buf_release(&pem);
	pki_key_free(k);
	pki_key_free(k2);
	pki_cert_free(c);
}
END_TEST

START_TEST(test_der_output)
{
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	int64_t now = time(NULL);
	struct pki_cert_spec s = ca_spec("der", now);
	struct buf pem, der;
	struct pki_cert *c;

	buf_init(&pem, 0);
	buf_init(&der, 0);
	ck_assert_int_eq(pki_cert_issue(&s, k, NULL, k, &pem, &der, err, sizeof(err)), 0);
	ck_assert_uint_gt(buf_len(&der), 100);
	ck_assert_uint_eq(buf_head(&der)[0], 0x30); /* SEQUENCE */
	c = pki_cert_parse(buf_head(&der), buf_len(&der), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(pki_key_matches_cert(k, c));
	pki_cert_free(c);
	buf_release(&pem);
	buf_release(&der);
	pki_key_free(k);
}
END_TEST

START_TEST(test_garbage_is_an_error)
{
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64!\n"
				   "-----END CERTIFICATE-----\n";
	static const unsigned char bin[] = { 0x30, 0x82, 0xff, 0xff, 0x00 };
	char rsa_hint[] = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";

	ck_assert_ptr_null(pki_cert_parse(junk, strlen(junk), err, sizeof(err)));
	ck_assert_msg(strstr(err, "parsing the certificate"), "%s", err);
	ck_assert_ptr_null(pki_cert_parse(bin, sizeof(bin), err, sizeof(err)));
	ck_assert_ptr_null(pki_cert_parse("", 0, err, sizeof(err)));
	ck_assert_ptr_null(pki_key_parse(junk, strlen(junk), err, sizeof(err)));
	ck_assert_ptr_null(pki_key_parse(rsa_hint, strlen(rsa_hint), err, sizeof(err)));
	ck_assert_msg(strstr(err, "private key"), "%s", err);
}
END_TEST

Suite *pki_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_chain);
	tcase_add_test(tc, test_bundles);
	tcase_add_test(tc, test_expired_does_not_verify);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_key_pem_round_trip);
	tcase_add_test(tc, test_der_output);
	tcase_add_test(tc, test_garbage_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
