/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_identity_test.c - unit tests for proxy_identity.c: the checks of
 * its settings (and proxy_config's identity flags), and the certification
 * state machine on a real loop against a real identity component (local
 * mode, a temporary issuer and tokens directory), or a tiny gRPC server
 * answering crafted CertifyResponses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conduit/flag.h"
#include "conduit/grpc.h"
#include "conduit/identity.h"
#include "conduit/log.h"
#include "conduit/pki.h"
#include "conduit/proxy_config.h"
#include "conduit/proxy_identity.h"
#include "conduit/resolve.h"
#include "conduit/time.h"
#include "identity.pb-c.h"
#include "suites.h"

#define WEB "web.emojivoto.serviceaccount.identity.conduit.cluster.local"
#define VOTING "voting.emojivoto.serviceaccount.identity.conduit.cluster.local"
#define CERTIFY "/io.linkerd.proxy.identity.Identity/Certify"

static char err[600];

/* --- a CA: a root and an issuer under it ------------------------------------- */

struct ca {
	struct pki_key *rk, *ik;
	struct pki_cert *rc, *ic;
	struct buf rpem, ipem, ider;
};

static struct pki_cert *cert_of(const struct buf *b)
{
	struct pki_cert *c = pki_cert_parse(buf_head(b), buf_len(b), err,
					    sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static void ca_make(struct ca *ca, const char *name)
{
	int64_t now = time(NULL);
	char rn[128], in[128];
	struct pki_cert_spec root = {
		.common_name = rn,
		.not_before = now - 3600,
		.not_after = now + 86400 * 30,
		.is_ca = true,
		.max_path_len = -1,
	};
	struct pki_cert_spec iss = {
		.common_name = in,
		.not_before = now - 3600,
		.not_after = now + 86400 * 10,
		.is_ca = true,
		.max_path_len = 0,
	};

	snprintf(rn, sizeof(rn), "root.%s", name);
	snprintf(in, sizeof(in), "identity.%s", name);
	ca->rk = pki_key_generate(err, sizeof(err));
	ca->ik = pki_key_generate(err, sizeof(err));
	ck_assert(ca->rk && ca->ik);
	buf_init(&ca->rpem, 0);
	buf_init(&ca->ipem, 0);
	buf_init(&ca->ider, 0);
	ck_assert_int_eq(pki_cert_issue(&root, ca->rk, NULL, ca->rk, &ca->rpem,
					NULL, err, sizeof(err)), 0);
	ca->rc = cert_of(&ca->rpem);
	ck_assert_int_eq(pki_cert_issue(&iss, ca->ik, ca->rc, ca->rk, &ca->ipem,
					&ca->ider, err, sizeof(err)), 0);
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
	buf_release(&ca->ider);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void write_str(const char *dir, const char *name, const char *s)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, s, strlen(s));
}

static void rm_rf(const char *dir)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* --- settings ------------------------------------------------------------------- */

START_TEST(test_check_name)
{
	static const char *const good[] = {
		WEB, "a.b", "a-b.c0", "x.y.z",
	};
	static const struct {
		const char *name, *why;
	} bad[] = {
		{ "", "empty" },
		{ "web", "a single label" },
		{ "Web.emojivoto", "'W'" },
		{ "web_x.emojivoto", "'_'" },
		{ "web..emojivoto", "label 2 is empty" },
		{ ".web", "label 1 is empty" },
		{ "web.", "label 2 is empty" },
		{ "-web.ns", "starts or ends with '-'" },
		{ "web-.ns", "starts or ends with '-'" },
		{ "web.ns/x", "'/'" },
		{ "web ns.x", "' '" },
	};
	char big[300], why[200];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(proxy_identity_check_name(good[i], why, sizeof(why)) == 0,
			      "%s: %s", good[i], why);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why[0] = 0;
		ck_assert_int_eq(proxy_identity_check_name(bad[i].name, why,
							   sizeof(why)), -EINVAL);
		ck_assert_msg(strstr(why, bad[i].why), "\"%s\": %s", bad[i].name,
			      why);
	}
	ck_assert_int_eq(proxy_identity_check_name(NULL, why, sizeof(why)), -EINVAL);
	/* a 64-character label; a 254-character name */
	memset(big, 'a', sizeof(big));
	big[64] = '\0';
	strcat(big, ".ns");
	ck_assert_int_eq(proxy_identity_check_name(big, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "too long"));
	for (int i = 0; i < 254; i++)
		big[i] = i % 2 ? '.' : 'a';
	big[253] = 'a';
	big[254] = '\0';
	ck_assert_int_eq(proxy_identity_check_name(big, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "over 253"));
}
END_TEST

START_TEST(test_check_anchors)
{
	struct ca a, b;
	struct buf two, leaf, cut;
	struct pki_key *k = pki_key_generate(err, sizeof(err));
	const char *names[] = { WEB };
	int64_t now = time(NULL);
	struct pki_cert_spec ls = {
		.common_name = WEB,
		.dns_names = names,
		.n_dns_names = 1,
		.not_before = now - 10,
		.not_after = now + 3600,
	};
	char why[400];

	ca_make(&a, "a.test");
	ca_make(&b, "b.test");
	ck_assert_int_eq(proxy_identity_check_anchors((char *)buf_head(&a.rpem),
						      buf_len(&a.rpem), why,
						      sizeof(why)), 1);
	/* a bundle of two roots (a rotation) */
	buf_init(&two, 0);
	buf_append(&two, buf_head(&a.rpem), buf_len(&a.rpem));
	buf_append(&two, buf_head(&b.rpem), buf_len(&b.rpem));
	ck_assert_int_eq(proxy_identity_check_anchors((char *)buf_head(&two),
						      buf_len(&two), why,
						      sizeof(why)), 2);
	/* the second one broken in its base64: refused, not half taken */
	buf_init(&cut, 0);
	buf_append(&cut, buf_head(&two), buf_len(&two));
	buf_head(&cut)[buf_len(&a.rpem) + 100] = '*';
	ck_assert_int_eq(proxy_identity_check_anchors((char *)buf_head(&cut),
						      buf_len(&cut), why,
						      sizeof(why)), -EINVAL);
	ck_assert_msg(strstr(why, "1 of 2 certificates do not parse"), "%s", why);
	/* a leaf is no anchor */
	buf_init(&leaf, 0);
	ck_assert_int_eq(pki_cert_issue(&ls, k, a.ic, a.ik, &leaf, NULL, err,
					sizeof(err)), 0);
	ck_assert_int_eq(proxy_identity_check_anchors((char *)buf_head(&leaf),
						      buf_len(&leaf), why,
						      sizeof(why)), -EINVAL);
	ck_assert_msg(strstr(why, "certificate 1 (CN=" WEB ") is not a CA"), "%s", why);
	/* garbage, nothing, a key */
	ck_assert_int_eq(proxy_identity_check_anchors("garbage", 7, why, sizeof(why)),
			 -EINVAL);
	ck_assert_msg(strstr(why, "no PEM certificate"), "%s", why);
	ck_assert_int_eq(proxy_identity_check_anchors("", 0, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "empty");
	ck_assert_int_eq(proxy_identity_check_anchors(
				 "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
				 60, why, sizeof(why)), -EINVAL);
	ck_assert_msg(strstr(why, "certificate 1: parsing the certificate"), "%s", why);
	buf_release(&two);
	buf_release(&cut);
	buf_release(&leaf);
	pki_key_free(k);
	ca_free(&a);
	ca_free(&b);
}
END_TEST

static const char *const id_env[] = {
	"CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS",
	"CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS_FILE",
	"CONDUIT_PROXY_IDENTITY_DISABLED",
	"CONDUIT_PROXY_IDENTITY_LOCAL_NAME",
	"CONDUIT_PROXY_IDENTITY_SVC_ADDR",
	"CONDUIT_PROXY_IDENTITY_TOKEN_FILE",
};

static void clear_id_env(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(id_env); i++)
		unsetenv(id_env[i]);
}

/* parse - proxy_config_parse over a NULL-terminated list, stderr kept */
static int parse(struct proxy_config *cfg, char **args, char *out, size_t size)
{
	char *argv[32] = { "proxy" };
	char **av = argv;
	int argc = 1, r, saved;
	FILE *f = tmpfile();
	size_t n;

	for (; *args; args++)
		argv[argc++] = *args;
	ck_assert_ptr_nonnull(f);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(f), 2);
	proxy_config_init(cfg);
	r = proxy_config_parse(cfg, &argc, &av);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
	return r;
}

START_TEST(test_config)
{
	char dir[] = "/tmp/pid-config.XXXXXX", path[600], bad[600], out[2048];
	struct proxy_config cfg;
	struct ca ca;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ca_make(&ca, "cfg.test");
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	write_file(path, buf_head(&ca.rpem), buf_len(&ca.rpem));
	snprintf(bad, sizeof(bad), "%s/bad.crt", dir);
	write_file(bad, "not a certificate\n", 18);
	clear_id_env();

	/* no anchors: off, whatever else is set (injected pods today) */
	setenv("CONDUIT_PROXY_IDENTITY_SVC_ADDR", "conduit-identity.conduit.svc.cluster.local:8080", 1);
	setenv("CONDUIT_PROXY_IDENTITY_LOCAL_NAME", WEB, 1);
	ck_assert_int_eq(parse(&cfg, (char *[]){ NULL }, out, sizeof(out)), FLAG_OK);
	ck_assert(!cfg.identity_enabled);
	ck_assert_str_eq(cfg.identity_token_file, PROXY_IDENTITY_TOKEN_FILE);
	proxy_config_release(&cfg);

	/* anchors from the environment, as text: on */
	setenv("CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS", buf_cstr(&ca.rpem), 1);
	ck_assert_int_eq(parse(&cfg, (char *[]){ NULL }, out, sizeof(out)), FLAG_OK);
	ck_assert(cfg.identity_enabled);
	ck_assert_uint_eq(cfg.identity_anchors_len, buf_len(&ca.rpem));
	ck_assert(!memcmp(cfg.identity_anchors, buf_head(&ca.rpem), buf_len(&ca.rpem)));
	ck_assert_str_eq(cfg.identity_local_name, WEB);
	proxy_config_release(&cfg);

	/* disabled wins (the variable, and the flag) */
	setenv("CONDUIT_PROXY_IDENTITY_DISABLED", "1", 1);
	ck_assert_int_eq(parse(&cfg, (char *[]){ NULL }, out, sizeof(out)), FLAG_OK);
	ck_assert(!cfg.identity_enabled);
	proxy_config_release(&cfg);
	unsetenv("CONDUIT_PROXY_IDENTITY_DISABLED");
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-disabled", NULL }, out,
			       sizeof(out)), FLAG_OK);
	ck_assert(!cfg.identity_enabled);
	proxy_config_release(&cfg);

	/* text and file at once */
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", path, NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "are both set: give one"), "%s", out);
	proxy_config_release(&cfg);
	unsetenv("CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS");

	/* from a file; the token file and name by flag */
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", path,
						 "--identity-token-file", "/t",
						 "--identity-local-name", VOTING, NULL },
			       out, sizeof(out)), FLAG_OK);
	ck_assert(cfg.identity_enabled);
	ck_assert_str_eq(cfg.identity_token_file, "/t");
	ck_assert_str_eq(cfg.identity_local_name, VOTING);
	ck_assert_uint_eq(cfg.identity_anchors_len, buf_len(&ca.rpem));
	proxy_config_release(&cfg);

	/* missing name, missing address: exit 2 saying which */
	unsetenv("CONDUIT_PROXY_IDENTITY_LOCAL_NAME");
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", path, NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "--identity-local-name (CONDUIT_PROXY_IDENTITY_LOCAL_NAME) is not set"),
		      "%s", out);
	ck_assert_int_eq(flag_exit_code(-EINVAL), 2);
	proxy_config_release(&cfg);
	setenv("CONDUIT_PROXY_IDENTITY_LOCAL_NAME", WEB, 1);
	unsetenv("CONDUIT_PROXY_IDENTITY_SVC_ADDR");
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", path, NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "--identity-svc-addr (CONDUIT_PROXY_IDENTITY_SVC_ADDR) is not set"),
		      "%s", out);
	proxy_config_release(&cfg);
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", path,
						 "--identity-svc-addr", "identity", NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "invalid value \"identity\" for --identity-svc-addr: no port"),
		      "%s", out);
	proxy_config_release(&cfg);
	setenv("CONDUIT_PROXY_IDENTITY_SVC_ADDR", "127.0.0.1:8080", 1);

	/* a bad name */
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", path,
						 "--identity-local-name", "Web.ns", NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "invalid value \"Web.ns\" for --identity-local-name: character 1 'W'"),
		      "%s", out);
	proxy_config_release(&cfg);

	/* bad anchors: a file that is not PEM, a missing file, bad text */
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", bad, NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "--identity-trust-anchors-file ") &&
			      strstr(out, "bad.crt: not trust anchors: no PEM certificate"),
		      "%s", out);
	proxy_config_release(&cfg);
	snprintf(bad, sizeof(bad), "%s/missing.crt", dir);
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors-file", bad, NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "missing.crt: cannot read it: No such file or directory"),
		      "%s", out);
	proxy_config_release(&cfg);
	ck_assert_int_eq(parse(&cfg, (char *[]){ "--identity-trust-anchors",
						 "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
						 NULL },
			       out, sizeof(out)), -EINVAL);
	ck_assert_msg(strstr(out, "--identity-trust-anchors (CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS): not trust anchors: certificate 1: "),
		      "%s", out);
	proxy_config_release(&cfg);

	clear_id_env();
	ca_free(&ca);
	rm_rf(dir);
}
END_TEST

START_TEST(test_new_refuses)
{
	struct ca ca;
	struct proxy_identity_config pc = { .loop = EV_DEFAULT };
	struct proxy_identity *pi;
	struct metrics_registry *reg = metrics_registry_new();

	ca_make(&ca, "new.test");
	pc.trust_anchors_pem = (char *)buf_head(&ca.rpem);
	pc.trust_anchors_len = buf_len(&ca.rpem);
	pc.svc_addr = "127.0.0.1:1";
	ck_assert_ptr_null(proxy_identity_new(&pc, err, sizeof(err)));
	ck_assert_msg(strstr(err, "local name \"\": empty"), "%s", err);
	pc.local_name = WEB;
	pc.svc_addr = "127.0.0.1";
	ck_assert_ptr_null(proxy_identity_new(&pc, err, sizeof(err)));
	ck_assert_msg(strstr(err, "identity service address \"127.0.0.1\""), "%s", err);
	pc.svc_addr = "127.0.0.1:1";
	pc.trust_anchors_len = 10;
	ck_assert_ptr_null(proxy_identity_new(&pc, err, sizeof(err)));
	ck_assert_msg(strstr(err, "trust anchors: "), "%s", err);
	pc.trust_anchors_len = buf_len(&ca.rpem);
	/* good; never started: nothing sent, the getters answer */
	pc.metrics = reg;
	pi = proxy_identity_new(&pc, err, sizeof(err));
	ck_assert_msg(pi != NULL, "%s", err);
	ck_assert_str_eq(proxy_identity_name(pi), WEB);
	ck_assert(!proxy_identity_certified(pi));
	ck_assert_str_eq(proxy_identity_last_error(pi), "");
	{
		size_t n;
		const char *t = proxy_identity_trust_anchors(pi, &n);
		struct proxy_identity_cert c;

		ck_assert_uint_eq(n, buf_len(&ca.rpem));
		ck_assert(!memcmp(t, buf_head(&ca.rpem), n));
		ck_assert_uint_eq(strlen(t), n);
		ck_assert(!proxy_identity_current(pi, &c));
	}
	/* a second one in the same registry: the families are taken */
	ck_assert_ptr_null(proxy_identity_new(&pc, err, sizeof(err)));
	ck_assert_msg(strstr(err, "metrics"), "%s", err);
	proxy_identity_free(pi);
	proxy_identity_free(NULL);
	metrics_registry_free(reg);
	ca_free(&ca);
}
END_TEST

/* --- the state machine --------------------------------------------------------- */

/* one test's world: a loop, a CA on disk, maybe an identity component */
struct fx {
	struct ev_loop *loop;
	char dir[64];
	char issuer[128], tokens[128], token_file[128];
	struct ca ca;
	struct identity *id;
	struct sock_addr id_addr;
	char svc[64];
	struct resolver *res;
	struct metrics_registry *reg;
	struct proxy_identity *pi;
	FILE *logs;
	/* what on_cert saw */
	int certs;
	struct buf leaf, key;
	size_t ninter;
	struct buf inter0;
	int64_t not_after;
	double cert_at[8];
};

static void fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/pid-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx->dir));
	snprintf(fx->issuer, sizeof(fx->issuer), "%s/issuer", fx->dir);
	snprintf(fx->tokens, sizeof(fx->tokens), "%s/tokens", fx->dir);
	snprintf(fx->token_file, sizeof(fx->token_file), "%s/token", fx->dir);
	ck_assert_int_eq(mkdir(fx->issuer, 0700), 0);
	ck_assert_int_eq(mkdir(fx->tokens, 0700), 0);
	ca_make(&fx->ca, "conduit.cluster.local");
	{
		struct buf key;

		buf_init(&key, 0);
		ck_assert_int_eq(pki_key_write_pem(fx->ca.ik, &key), 0);
		write_str(fx->issuer, "tls.key", buf_cstr(&key));
		buf_release(&key);
	}
	write_str(fx->issuer, "tls.crt", buf_cstr(&fx->ca.ipem));
	write_str(fx->issuer, "ca.crt", buf_cstr(&fx->ca.rpem));
	write_str(fx->tokens, "emojivoto.web", "tok-web-0123\n");
	write_str(fx->tokens, "emojivoto.voting", "tok-voting-4567\n");
	buf_init(&fx->leaf, 0);
	buf_init(&fx->key, 0);
	buf_init(&fx->inter0, 0);
	fx->reg = metrics_registry_new();
	/* the log, to read back what was said */
	fx->logs = tmpfile();
	ck_assert_ptr_nonnull(fx->logs);
	log_set_output(fx->logs);
}

/* fx_identity - the identity component on addr (port 0: any) */
static void fx_identity(struct fx *fx, int64_t lifetime, const char *addr)
{
	struct identity_config ic = {
		.loop = fx->loop,
		.issuer_dir = fx->issuer,
		.tokens_dir = fx->tokens,
		.lifetime = lifetime,
		.clock_skew = 5,
	};
	struct sock_addr a;

	fx->id = identity_new(&ic, err, sizeof(err));
	ck_assert_msg(fx->id != NULL, "%s", err);
	ck_assert_int_eq(sock_addr_parse(addr, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(identity_listen(fx->id, &a), 0);
	ck_assert_int_eq(identity_local_addr(fx->id, &fx->id_addr), 0);
	sock_addr_format(&fx->id_addr, fx->svc, sizeof(fx->svc));
}

static void on_cert(void *arg, const struct proxy_identity_cert *c)
{
	struct fx *fx = arg;

	if (fx->certs < (int)ARRAY_SIZE(fx->cert_at))
		fx->cert_at[fx->certs] = (double)time_mono_ns() / NSEC_PER_SEC;
	fx->certs++;
	ck_assert_str_eq(c->name, WEB);
	buf_clear(&fx->leaf);
	buf_clear(&fx->key);
	buf_clear(&fx->inter0);
	buf_append(&fx->leaf, c->leaf_der, c->leaf_len);
	buf_append(&fx->key, c->key_pem, c->key_len);
	fx->ninter = c->ninter;
	if (c->ninter)
		buf_append(&fx->inter0, c->inter_der[0], c->inter_len[0]);
	fx->not_after = c->not_after;
}

/* fx_proxy - the proxy's identity against svc, started */
static void fx_proxy(struct fx *fx, const char *svc)
{
	struct proxy_identity_config pc = {
		.loop = fx->loop,
		.resolver = fx->res,
		.metrics = fx->reg,
		.trust_anchors_pem = (char *)buf_head(&fx->ca.rpem),
		.trust_anchors_len = buf_len(&fx->ca.rpem),
		.local_name = WEB,
		.svc_addr = svc,
		.token_file = fx->token_file,
		.timeout = 2,
		.backoff_min = 0.05,
		.backoff_max = 0.4,
		.on_cert = on_cert,
		.arg = fx,
	};

	fx->pi = proxy_identity_new(&pc, err, sizeof(err));
	ck_assert_msg(fx->pi != NULL, "%s", err);
	proxy_identity_start(fx->pi);
	proxy_identity_start(fx->pi); /* idempotent */
}

static void fx_release(struct fx *fx)
{
	proxy_identity_free(fx->pi);
	identity_free(fx->id);
	resolver_free(fx->res);
	metrics_registry_free(fx->reg);
	ev_loop_destroy(fx->loop);
	log_set_output(NULL);
	fclose(fx->logs);
	buf_release(&fx->leaf);
	buf_release(&fx->key);
	buf_release(&fx->inter0);
	ca_free(&fx->ca);
	rm_rf(fx->dir);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* spin - turn the loop until cond(fx) or secs pass; cond's last answer */
static bool spin(struct fx *fx, bool (*cond)(struct fx *), double secs)
{
	int64_t end = time_mono_ns() + (int64_t)(secs * NSEC_PER_SEC);
	ev_timer t;
	bool ok = false;

	ev_timer_init(&t, tick, 0.005, 0.005);
	ev_timer_start(fx->loop, &t);
	while (!(ok = cond(fx)) && time_mono_ns() < end)
		ev_run(fx->loop, EVRUN_ONCE);
	ev_timer_stop(fx->loop, &t);
	return ok;
}

static bool one_cert(struct fx *fx)
{
	return fx->certs >= 1;
}

static bool two_certs(struct fx *fx)
{
	return fx->certs >= 2;
}

static uint64_t failures(struct fx *fx)
{
	struct proxy_identity_stats st;

	proxy_identity_stats(fx->pi, &st);
	return st.failures;
}

static uint64_t want_failures;

static bool failed_enough(struct fx *fx)
{
	return failures(fx) >= want_failures;
}

/* fail_once_more - spin until one more attempt failed; its reason */
static const char *fail_once_more(struct fx *fx)
{
	want_failures = failures(fx) + 1;
	ck_assert_msg(spin(fx, failed_enough, 10), "no failure came: %s",
		      proxy_identity_last_error(fx->pi));
	return proxy_identity_last_error(fx->pi);
}

/*
 * fail_with - spin until an attempt fails for a reason holding want (an
 * attempt already in flight when the cause changed fails the old way
 * first: a few are allowed). Returns the reason.
 */
static const char *fail_with(struct fx *fx, const char *want)
{
	const char *why = "";

	for (int i = 0; i < 4; i++) {
		why = fail_once_more(fx);
		if (strstr(why, want))
			return why;
	}
	ck_abort_msg("no failure with \"%s\"; the last: %s", want, why);
	return why;
}

static char *log_text(struct fx *fx)
{
	static char text[1 << 16];
	size_t n;

	fflush(fx->logs);
	rewind(fx->logs);
	n = fread(text, 1, sizeof(text) - 1, fx->logs);
	text[n] = '\0';
	fseek(fx->logs, 0, SEEK_END);
	return text;
}

static char *metrics_text(struct fx *fx)
{
	static char text[1 << 14];
	struct buf b;

	buf_init(&b, sizeof(text) - 1);
	ck_assert_int_eq(metrics_write_text(fx->reg, &b), 0);
	memcpy(text, buf_head(&b), buf_len(&b));
	text[buf_len(&b)] = '\0';
	buf_release(&b);
	return text;
}

/* the credentials on_cert gave: the leaf is ours, for WEB, chains */
static void check_creds(struct fx *fx)
{
	struct pki_cert *leaf, *chain;
	struct pki_key *key;
	struct pki_cert_info info;
	int64_t now = time(NULL);

	leaf = pki_cert_parse(buf_head(&fx->leaf), buf_len(&fx->leaf), err, sizeof(err));
	ck_assert_msg(leaf != NULL, "%s", err);
	key = pki_key_parse(buf_head(&fx->key), buf_len(&fx->key), err, sizeof(err));
	ck_assert_msg(key != NULL, "%s", err);
	ck_assert(pki_key_matches_cert(key, leaf));
	ck_assert_int_eq(pki_cert_get_info(leaf, &info), 0);
	ck_assert_str_eq(info.dns_name0, WEB);
	ck_assert_str_eq(info.subject, "CN=" WEB);
	ck_assert_int_eq(info.not_after, fx->not_after);
	ck_assert_int_gt(info.not_after, now);
	ck_assert_uint_eq(fx->ninter, 1);
	ck_assert_uint_eq(buf_len(&fx->inter0), buf_len(&fx->ca.ider));
	ck_assert(!memcmp(buf_head(&fx->inter0), buf_head(&fx->ca.ider),
			  buf_len(&fx->ca.ider)));
	chain = pki_cert_parse(buf_head(&fx->leaf), buf_len(&fx->leaf), err, sizeof(err));
	ck_assert_int_eq(pki_cert_append_der(chain, buf_head(&fx->inter0),
					     buf_len(&fx->inter0), err, sizeof(err)), 0);
	ck_assert_msg(pki_cert_verify(chain, fx->ca.rc, err, sizeof(err)) == 0, "%s", err);
	pki_cert_free(chain);
	pki_cert_free(leaf);
	pki_key_free(key);
}

START_TEST(test_certify_and_renew)
{
	struct fx fx;
	struct proxy_identity_stats st;
	struct proxy_identity_cert cur;
	char svc[64], want[128], *m;
	int64_t first;

	fx_init(&fx);
	write_str(fx.dir, "token", "tok-web-0123\n");
	/* a 3 s certificate: renewed 70% into what is left, ~2 s on */
	fx_identity(&fx, 3, "127.0.0.1:0");
	/* by name, through the resolver (/etc/hosts' localhost) */
	fx.res = resolver_new(fx.loop, NULL, err, sizeof(err));
	ck_assert_msg(fx.res != NULL, "%s", err);
	snprintf(svc, sizeof(svc), "localhost:%d", sock_addr_port(&fx.id_addr));
	fx_proxy(&fx, svc);
	m = metrics_text(&fx);
	ck_assert_msg(strstr(m, "\nidentity_cert_expiration_timestamp_seconds 0\n"), "%s", m);
	ck_assert_msg(strstr(m, "\nidentity_cert_refresh_total 0\n"), "%s", m);

	ck_assert_msg(spin(&fx, one_cert, 10), "no certificate: %s",
		      proxy_identity_last_error(fx.pi));
	ck_assert(proxy_identity_certified(fx.pi));
	ck_assert_str_eq(proxy_identity_last_error(fx.pi), "");
	check_creds(&fx);
	first = fx.not_after;
	/* the leaf's life is the identity's: 3 s from the grant */
	ck_assert_int_le(first, time(NULL) + 3);
	ck_assert_int_ge(first, time(NULL) + 1);
	ck_assert(proxy_identity_current(fx.pi, &cur));
	ck_assert_int_eq(cur.not_after, first);
	ck_assert_uint_eq(cur.leaf_len, buf_len(&fx.leaf));
	ck_assert(!memcmp(cur.leaf_der, buf_head(&fx.leaf), cur.leaf_len));
	m = metrics_text(&fx);
	snprintf(want, sizeof(want), "\nidentity_cert_expiration_timestamp_seconds %lld\n",
		 (long long)first);
	ck_assert_msg(strstr(m, want), "%s", m);
	ck_assert_msg(strstr(m, "\nidentity_cert_refresh_total 1\n"), "%s", m);
	proxy_identity_stats(fx.pi, &st);
	ck_assert_uint_eq(st.certified, 1);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert(st.next_attempt > 0); /* the renewal is scheduled */
	ck_assert(strstr(log_text(&fx), "msg=\"identity: certified\" identity=" WEB " expires="));

	/* the renewal: same key, a new leaf */
	ck_assert_msg(spin(&fx, two_certs, 10), "no renewal: %s",
		      proxy_identity_last_error(fx.pi));
	check_creds(&fx);
	ck_assert_int_ge(fx.not_after, first);
	m = metrics_text(&fx);
	ck_assert_msg(strstr(m, "\nidentity_cert_refresh_total 2\n"), "%s", m);
	proxy_identity_stats(fx.pi, &st);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_uint_eq(st.attempts, 2);
	printf("# proxy_identity: renewal %.2f s after the first certificate (3 s leaf)\n",
	       fx.cert_at[1] - fx.cert_at[0]);
	fx_release(&fx);
}
END_TEST

START_TEST(test_token_problems)
{
	struct fx fx;
	const char *why;
	char *log;

	fx_init(&fx);
	fx_identity(&fx, 3600, "127.0.0.1:0");
	/* no token file yet */
	fx_proxy(&fx, fx.svc);
	why = fail_with(&fx, "No such file or directory");
	ck_assert_msg(strstr(why, "token file ") == why, "%s", why);
	log = log_text(&fx);
	ck_assert_msg(strstr(log, "level=error") && strstr(log, "msg=\"identity: certification failed\""),
		      "%s", log);
	/* an empty one */
	write_str(fx.dir, "token", "\n");
	fail_with(&fx, "token file ");
	fail_with(&fx, ": empty");
	/* someone else's token: refused by the identity component */
	write_str(fx.dir, "token", "tok-voting-4567");
	fail_with(&fx, "Certify: PERMISSION_DENIED: the token is emojivoto.voting's");
	ck_assert(!proxy_identity_certified(fx.pi));
	ck_assert_int_eq(fx.certs, 0);
	/* a token nobody has */
	write_str(fx.dir, "token", "tok-nobody");
	fail_with(&fx, "Certify: FAILED_PRECONDITION: the token authenticates no one");
	log = log_text(&fx);
	ck_assert_msg(strstr(log, "level=warn "), "%s", log);
	ck_assert_msg(strstr(log, "status=FAILED_PRECONDITION error=\"Certify: FAILED_PRECONDITION"),
		      "%s", log);
	/* fixed: certified at the next attempt (the file is read again) */
	write_str(fx.dir, "token", "tok-web-0123");
	ck_assert_msg(spin(&fx, one_cert, 10), "no certificate: %s",
		      proxy_identity_last_error(fx.pi));
	check_creds(&fx);
	ck_assert_str_eq(proxy_identity_last_error(fx.pi), "");
	{
		struct proxy_identity_stats st;

		proxy_identity_stats(fx.pi, &st);
		ck_assert_uint_eq(st.failing, 0);
		ck_assert_uint_ge(st.failures, 4);
		ck_assert_uint_eq(st.certified, 1);
	}
	fx_release(&fx);
}
END_TEST

/* --- a crafted identity server ---------------------------------------------- */

enum answer {
	ANS_OTHER_NAME,	  /* a leaf for VOTING, our key, the right issuer */
	ANS_OTHER_CA,	  /* a leaf for WEB from an unrelated CA */
	ANS_NO_CHAIN,	  /* the right leaf without its intermediate */
	ANS_OTHER_KEY,	  /* a leaf for WEB with another key */
	ANS_EXPIRED,	  /* the right leaf, expired */
	ANS_TWO_SANS,	  /* WEB and another name */
	ANS_GARBAGE,	  /* not a CertifyResponse */
	ANS_EMPTY,	  /* OK without a message */
	ANS_PEM,	  /* the leaf as PEM text */
	ANS_GOOD,	  /* for 3 s: renewed ~2 s on */
};

struct crafted {
	enum answer mode;
	struct ca *ca, *other;
	unsigned calls;
};

static struct crafted *crafted;

static void on_crafted(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct crafted *cr = crafted;
	Io__Linkerd__Proxy__Identity__CertifyRequest *req;
	Io__Linkerd__Proxy__Identity__CertifyResponse resp =
		IO__LINKERD__PROXY__IDENTITY__CERTIFY_RESPONSE__INIT;
	ProtobufCBinaryData inter;
	struct pki_csr *csr;
	struct pki_key *k = NULL;
	const char *web[] = { WEB, VOTING };
	const char *voting[] = { VOTING };
	int64_t now = time(NULL);
	struct pki_cert_spec spec = {
		.common_name = WEB,
		.dns_names = web,
		.n_dns_names = 1,
		.not_before = now - 60,
		.not_after = now + 3600,
		.server_auth = true,
		.client_auth = true,
	};
	struct ca *by = cr->ca;
	struct buf der, pem;

	cr->calls++;
	req = io__linkerd__proxy__identity__certify_request__unpack(NULL, len, msg);
	ck_assert_ptr_nonnull(req);
	ck_assert_str_eq(req->identity, WEB);
	ck_assert_uint_eq(req->token.len, 12);
	ck_assert(!memcmp(req->token.data, "tok-web-0123", 12));
	csr = pki_csr_parse(req->certificate_signing_request.data,
			    req->certificate_signing_request.len, err, sizeof(err));
	ck_assert_msg(csr != NULL, "%s", err);
	io__linkerd__proxy__identity__certify_request__free_unpacked(req, NULL);
	if (cr->mode == ANS_GARBAGE) {
		grpc_call_send(call, "\xff\xff\xff", 3);
		grpc_call_finish(call, GRPC_OK, NULL);
		pki_csr_free(csr);
		return;
	}
	if (cr->mode == ANS_EMPTY) {
		grpc_call_finish(call, GRPC_OK, NULL);
		pki_csr_free(csr);
		return;
	}
	if (cr->mode == ANS_OTHER_NAME) {
		spec.common_name = VOTING;
		spec.dns_names = voting;
	}
	if (cr->mode == ANS_TWO_SANS)
		spec.n_dns_names = 2;
	if (cr->mode == ANS_EXPIRED) {
		spec.not_before = now - 7200;
		spec.not_after = now - 3600;
	}
	if (cr->mode == ANS_OTHER_CA)
		by = cr->other;
	if (cr->mode == ANS_GOOD)
		spec.not_after = now + 3;
	buf_init(&der, 0);
	buf_init(&pem, 0);
	if (cr->mode == ANS_OTHER_KEY || cr->mode == ANS_PEM) {
		k = pki_key_generate(err, sizeof(err));
		ck_assert_int_eq(pki_cert_issue(&spec, k, by->ic, by->ik, &pem,
						&der, err, sizeof(err)), 0);
	} else {
		ck_assert_msg(pki_csr_issue(&spec, csr, by->ic, by->ik, &der, err,
					    sizeof(err)) == 0, "%s", err);
	}
	if (cr->mode == ANS_PEM) {
		resp.leaf_certificate.data = buf_head(&pem);
		resp.leaf_certificate.len = buf_len(&pem);
	} else {
		resp.leaf_certificate.data = buf_head(&der);
		resp.leaf_certificate.len = buf_len(&der);
	}
	inter.data = buf_head(&by->ider);
	inter.len = buf_len(&by->ider);
	if (cr->mode != ANS_NO_CHAIN) {
		resp.n_intermediate_certificates = 1;
		resp.intermediate_certificates = &inter;
	}
	ck_assert_int_eq(grpc_call_send_message(call, &resp.base), 0);
	grpc_call_finish(call, GRPC_OK, NULL);
	buf_release(&der);
	buf_release(&pem);
	pki_key_free(k);
	pki_csr_free(csr);
}

START_TEST(test_bad_answers)
{
	static const struct {
		enum answer mode;
		const char *why;
	} cases[] = {
		{ ANS_OTHER_NAME, "Certify answer rejected: the leaf certificate names " VOTING ", not " WEB },
		{ ANS_TWO_SANS, "the leaf certificate names " WEB " and others, not " WEB },
		{ ANS_OTHER_CA, "the leaf certificate does not chain to the trust anchors through 1 intermediate(s): certificate does not verify" },
		{ ANS_NO_CHAIN, "does not chain to the trust anchors through 0 intermediate(s)" },
		{ ANS_OTHER_KEY, "the leaf certificate (CN=" WEB ") is not for this proxy's key" },
		{ ANS_EXPIRED, "the leaf certificate is not valid now (from " },
		{ ANS_GARBAGE, "Certify answer rejected: the answer is not a CertifyResponse" },
		{ ANS_EMPTY, "Certify: OK with no CertifyResponse" },
		{ ANS_PEM, "the answer's leaf certificate is not DER" },
	};
	struct crafted cr = { 0 };
	struct grpc_method m = { .path = CERTIFY, .on_call = on_crafted };
	struct grpc_server_config sc = { .methods = &m, .nmethods = 1, .name = "crafted" };
	struct grpc_server *srv;
	struct sock_addr a;
	struct ca other;
	struct fx fx;
	char svc[64];

	fx_init(&fx);
	write_str(fx.dir, "token", "tok-web-0123");
	ca_make(&other, "other.example");
	cr.ca = &fx.ca;
	cr.other = &other;
	crafted = &cr;
	sc.loop = fx.loop;
	srv = grpc_server_new(&sc);
	ck_assert_int_eq(sock_addr_parse("127.0.0.1:0", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(grpc_server_listen(srv, &a), 0);
	ck_assert_int_eq(grpc_server_local_addr(srv, &a), 0);
	sock_addr_format(&a, svc, sizeof(svc));
	cr.mode = cases[0].mode;
	fx_proxy(&fx, svc);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *why;

		cr.mode = cases[i].mode;
		/* the attempt in flight may have had the previous mode */
		why = fail_once_more(&fx);
		if (!strstr(why, cases[i].why))
			why = fail_once_more(&fx);
		ck_assert_msg(strstr(why, cases[i].why), "case %zu: %s", i, why);
		ck_assert(!proxy_identity_certified(fx.pi));
		ck_assert_int_eq(fx.certs, 0);
	}
	ck_assert(strstr(log_text(&fx), "level=warn"));
	cr.mode = ANS_GOOD;
	ck_assert_msg(spin(&fx, one_cert, 10), "no certificate: %s",
		      proxy_identity_last_error(fx.pi));
	check_creds(&fx);
	/* a bad renewal: the certificate held stays, and stays current */
	cr.mode = ANS_OTHER_NAME;
	fail_with(&fx, "the leaf certificate names " VOTING);
	ck_assert(proxy_identity_certified(fx.pi));
	{
		struct proxy_identity_cert cur;

		ck_assert(proxy_identity_current(fx.pi, &cur));
		ck_assert_uint_eq(cur.leaf_len, buf_len(&fx.leaf));
		ck_assert(!memcmp(cur.leaf_der, buf_head(&fx.leaf), cur.leaf_len));
	}
	ck_assert_int_eq(fx.certs, 1);
	cr.mode = ANS_GOOD;
	ck_assert_msg(spin(&fx, two_certs, 10), "no renewal: %s",
		      proxy_identity_last_error(fx.pi));
	check_creds(&fx);
	grpc_server_free(srv);
	crafted = NULL;
	ca_free(&other);
	fx_release(&fx);
}
END_TEST

START_TEST(test_server_down_then_up)
{
	struct fx fx;
	struct proxy_identity_stats st;
	const char *why;
	char addr[64];
	double t0;

	fx_init(&fx);
	write_str(fx.dir, "token", "tok-web-0123");
	/* a port nobody listens on: take one, let it go */
	fx_identity(&fx, 3600, "127.0.0.1:0");
	snprintf(addr, sizeof(addr), "%s", fx.svc);
	identity_free(fx.id);
	fx.id = NULL;
	fx_proxy(&fx, addr);
	t0 = (double)time_mono_ns() / NSEC_PER_SEC;
	why = fail_once_more(&fx);
	ck_assert_msg(strstr(why, "Certify: UNAVAILABLE: ") && strstr(why, "Connection refused"),
		      "%s", why);
	for (int i = 0; i < 4; i++)
		fail_once_more(&fx);
	proxy_identity_stats(fx.pi, &st);
	ck_assert_uint_ge(st.failing, 5);
	ck_assert(!proxy_identity_certified(fx.pi));
	printf("# proxy_identity: %u failures in %.2f s (backoff 0.05 s doubling to 0.4 s)\n",
	       st.failing, (double)time_mono_ns() / NSEC_PER_SEC - t0);
	ck_assert(strstr(log_text(&fx), "status=UNAVAILABLE"));
	/* it comes up where it was */
	fx_identity(&fx, 3600, addr);
	ck_assert_msg(spin(&fx, one_cert, 10), "no certificate: %s",
		      proxy_identity_last_error(fx.pi));
	check_creds(&fx);
	proxy_identity_stats(fx.pi, &st);
	ck_assert_uint_eq(st.failing, 0);
	fx_release(&fx);
}
END_TEST

Suite *proxy_identity_suite(void)
{
	Suite *s = suite_create("proxy_identity");
	TCase *tc = tcase_create("checks");
	TCase *sm = tcase_create("certify");

	tcase_add_test(tc, test_check_name);
	tcase_add_test(tc, test_check_anchors);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_new_refuses);
	suite_add_tcase(s, tc);
	tcase_set_timeout(sm, 60);
	tcase_add_test(sm, test_certify_and_renew);
	tcase_add_test(sm, test_token_problems);
	tcase_add_test(sm, test_bad_answers);
	tcase_add_test(sm, test_server_down_then_up);
	suite_add_tcase(s, sm);
	return s;
}
