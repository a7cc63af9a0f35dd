/* SPDX-License-Identifier: Apache-2.0 */
/* kube_config_test.c - kubeconfigs good and broken, in-cluster */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conduit/kube_config.h"
#include "suites.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/kube-config-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *path_in(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path_in(name), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64 */
#define CA_B64	 "Q0EtQllURVM=" /* "CA-BYTES" */
#define CERT_B64 "Q0VSVA=="	/* "CERT" */
#define KEY_B64	 "S0VZ"		/* "KEY" */

static const char good[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "clusters:\n"
    "- name: prod\n"
    "  cluster:\n"
    "    server: https://10.1.2.3:6443\n"
    "    certificate-authority-data: " CA_B64 "\n"
    "- name: dev\n"
    "  cluster:\n"
    "    server: http://[::1]:8080/prefix/\n"
    "    insecure-skip-tls-verify: true\n"
    "users:\n"
    "- name: admin\n"
    "  user:\n"
    "    client-certificate-data: " CERT_B64 "\n"
    "    client-key-data: " KEY_B64 "\n"
    "- name: bot\n"
    "  user:\n"
    "    token: abc.def\n"
    "contexts:\n"
    "- name: prod-admin\n"
    "  context: {cluster: prod, user: admin, namespace: web}\n"
    "- name: dev-bot\n"
    "  context: {cluster: dev, user: bot}\n"
    "current-context: prod-admin\n";

START_TEST(test_inline_current_context)
{
	struct kube_config c;
	char err[512] = "";

	ck_assert_int_eq(kube_config_load_text(good, strlen(good), "k.yml",
					       NULL, NULL, &c, err,
					       sizeof(err)),
			 0);
	ck_assert_str_eq(c.server, "https://10.1.2.3:6443");
	ck_assert(c.https);
	ck_assert_str_eq(c.host, "10.1.2.3");
	ck_assert_int_eq(c.port, 6443);
	ck_assert_int_eq(sock_addr_port(&c.addr), 6443);
	ck_assert_str_eq(c.path_prefix, "");
	ck_assert_uint_eq(c.ca_len, 8);
	ck_assert_mem_eq(c.ca, "CA-BYTES", 8);
	ck_assert_mem_eq(c.cert, "CERT", 4);
	ck_assert_mem_eq(c.key, "KEY", 3);
	ck_assert_ptr_null(c.token);
	ck_assert_str_eq(c.namespace, "web");
	ck_assert_str_eq(c.context, "prod-admin");
	ck_assert(!c.insecure);
	kube_config_release(&c);
	ck_assert_ptr_null(c.server);
}
END_TEST

START_TEST(test_explicit_context)
{
	struct kube_config c;
	char err[512] = "", ip[64];

	ck_assert_int_eq(kube_config_load_text(good, strlen(good), "k.yml",
					       NULL, "dev-bot", &c, err,
					       sizeof(err)),
			 0);
	ck_assert(!c.https);
	ck_assert_str_eq(c.host, "::1");
	ck_assert_int_eq(c.port, 8080);
	ck_assert_str_eq(sock_addr_format_ip(&c.addr, ip, sizeof(ip)), "::1");
	ck_assert_str_eq(c.path_prefix, "/prefix");
	ck_assert(c.insecure);
	ck_assert_str_eq(c.token, "abc.def");
	ck_assert_ptr_null(c.cert);
	ck_assert_ptr_null(c.namespace);
	kube_config_release(&c);
}
END_TEST

START_TEST(test_files_relative_to_kubeconfig)
{
	struct kube_config c;
	char err[512] = "", text[1024];

	ck_assert_int_eq(mkdir(path_in("pki"), 0700), 0);
	write_file("pki/ca.crt", "PEM-CA");
	write_file("pki/me.crt", "PEM-CERT");
	write_file("pki/me.key", "PEM-KEY");
	write_file("tok", "  tok-1\n");
	snprintf(
	    text, sizeof(text),
	    "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1\n"
	    "    certificate-authority: pki/ca.crt\n"
	    "users:\n- name: u\n  user:\n    client-certificate: pki/me.crt\n"
	    "    client-key: %s/pki/me.key\n    tokenFile: tok\n"
	    "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
	    "current-context: x\n",
	    dir);
	write_file("config", text);
	if (kube_config_load(path_in("config"), NULL, &c, err, sizeof(err)))
		ck_abort_msg("%s", err);
	ck_assert_int_eq(c.port, 443);
	ck_assert_str_eq((char *)c.ca, "PEM-CA");
	ck_assert_str_eq((char *)c.cert, "PEM-CERT");
	ck_assert_str_eq((char *)c.key, "PEM-KEY");
	ck_assert_str_eq(c.token, "tok-1");
	ck_assert_str_eq(c.token_file, path_in("tok"));
	kube_config_release(&c);
}
END_TEST

START_TEST(test_kubeconfig_merge)
{
	struct kube_config c;
	char err[512] = "", env[1024];

	/* the first file to define a name wins; the first current-context */
	write_file(
	    "a",
	    "current-context: one\n"
	    "clusters:\n- name: c\n  cluster: {server: 'http://10.0.0.1:1'}\n"
	    "contexts:\n- name: one\n  context: {cluster: c, user: u}\n");
	write_file(
	    "b",
	    "current-context: two\n"
	    "clusters:\n- name: c\n  cluster: {server: 'http://10.0.0.2:2'}\n"
	    "- name: d\n  cluster: {server: 'http://10.0.0.3:3'}\n"
	    "users:\n- name: u\n  user: {token: from-b}\n"
	    "contexts:\n- name: one\n  context: {cluster: d}\n"
	    "- name: two\n  context: {cluster: d, user: u}\n");
	snprintf(env, sizeof(env), "%s::%s:%s", path_in("a"),
		 path_in("missing"), path_in("b"));
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(kube_config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.context, "one");
	ck_assert_str_eq(c.server, "http://10.0.0.1:1");
	ck_assert_str_eq(c.token, "from-b");
	kube_config_release(&c);
	ck_assert_int_eq(kube_config_load(NULL, "two", &c, err, sizeof(err)),
			 0);
	ck_assert_str_eq(c.server, "http://10.0.0.3:3");
	kube_config_release(&c);

	snprintf(env, sizeof(env), "%s:%s", path_in("none1"), path_in("none2"));
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(kube_config_load(NULL, NULL, &c, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "none of its files exists"));
	/* an explicit path must exist */
	ck_assert_int_eq(
	    kube_config_load(path_in("none1"), NULL, &c, err, sizeof(err)),
	    -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "none1: No such file"));
	unsetenv("KUBECONFIG");
	setenv("HOME", dir, 1);
	ck_assert_int_eq(kube_config_load(NULL, NULL, &c, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/.kube/config"));
}
END_TEST

/* broken kubeconfigs: each refused with what, where and why */
static const struct {
	const char *name;
	const char *text;
	const char *context;
	int rc;
	const char *want[3]; /* substrings of the message */
} broken[] = {
    {"garbage", "{{{ ]]", NULL, -EINVAL, {"kubeconfig: k.yml:1:"}},
    {"a list", "- a\n- b\n", NULL, -EINVAL, {"k.yml:1:1: not a kubeconfig"}},
    {"clusters not a list",
     "clusters: 3\n",
     NULL,
     -EINVAL,
     {"k.yml:1:11: clusters: not a list"}},
    {"no current context",
     "clusters: []\n",
     NULL,
     -EINVAL,
     {"no current-context"}},
    {"missing context",
     "current-context: nope\ncontexts: []\n",
     NULL,
     -EINVAL,
     {"context \"nope\" not found"}},
    {"missing cluster",
     "contexts:\n- name: x\n  context: {cluster: gone, user: u}\n",
     "x",
     -EINVAL,
     {"k.yml:3:", "contexts[0].context.cluster", "cluster \"gone\" not found"}},
    {"missing user",
     "clusters:\n- name: c\n  cluster: {server: 'https://1.2.3.4'}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: ghost}\n",
     "x",
     -EINVAL,
     {"contexts[0].context.user", "user \"ghost\" not found"}},
    {"no server",
     "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -EINVAL,
     {"clusters[0].cluster.server", "has no server"}},
    {"bad server",
     "clusters:\n- name: c\n  cluster: {server: 'ftp://h'}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -EINVAL,
     {"k.yml:3:21: clusters[0].cluster.server",
      "not an http:// or https:// URL"}},
    {"bad port",
     "clusters:\n- name: c\n  cluster: {server: 'https://h:99999'}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -EINVAL,
     {"bad port"}},
    {"bad base64",
     "clusters:\n- name: c\n  cluster: {server: 'https://1.2.3.4'}\n"
     "users:\n- name: u\n  user:\n    client-certificate-data: '!!notb64'\n"
     "    client-key-data: " KEY_B64 "\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "x",
     -EINVAL,
     {"k.yml:7:30: users[0].client-certificate-data", "not valid base64"}},
    {"bad CA base64",
     "clusters:\n- name: c\n  cluster:\n    server: 'https://1.2.3.4'\n"
     "    certificate-authority-data: 'abc'\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -EINVAL,
     {"clusters[0].certificate-authority-data: not valid base64"}},
    {"unreadable CA",
     "clusters:\n- name: c\n  cluster:\n    server: 'https://1.2.3.4'\n"
     "    certificate-authority: /nonexistent/ca.crt\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -ENOENT,
     {"clusters[0].certificate-authority",
      "/nonexistent/ca.crt: No such file"}},
    {"CA is a directory",
     "clusters:\n- name: c\n  cluster:\n    server: 'https://1.2.3.4'\n"
     "    certificate-authority: /\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -EINVAL,
     {"certificate-authority", "Is a directory"}},
    {"cert without key",
     "clusters:\n- name: c\n  cluster: {server: 'https://1.2.3.4'}\n"
     "users:\n- name: u\n  user: {client-certificate-data: " CERT_B64 "}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "x",
     -EINVAL,
     {"client certificate without its key"}},
    {"exec credentials",
     "clusters:\n- name: c\n  cluster: {server: 'https://1.2.3.4'}\n"
     "users:\n- name: u\n  user:\n    exec: {command: aws}\n"
     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
     "x",
     -EINVAL,
     {"users[0].exec", "exec credentials are not supported"}},
    {"insecure not a bool",
     "clusters:\n- name: c\n  cluster: {server: 'https://1.2.3.4', "
     "insecure-skip-tls-verify: maybe}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -EINVAL,
     {"insecure-skip-tls-verify: not true or false"}},
    {"unresolvable name",
     "clusters:\n- name: c\n  cluster: {server: "
     "'https://no-such-host.invalid'}\n"
     "contexts:\n- name: x\n  context: {cluster: c}\n",
     "x",
     -ENOENT,
     {"cannot resolve no-such-host.invalid"}},
};

START_TEST(test_broken)
{
	struct kube_config c;
	char err[512] = "";
	int rc;

	rc = kube_config_load_text(broken[_i].text, strlen(broken[_i].text),
				   "k.yml", "/", broken[_i].context, &c, err,
				   sizeof(err));
	if (rc != broken[_i].rc)
		ck_abort_msg("%s: rc %d, want %d (%s)", broken[_i].name, rc,
			     broken[_i].rc, err);
	for (size_t k = 0; k < 3 && broken[_i].want[k]; k++)
		if (!strstr(err, broken[_i].want[k]))
			ck_abort_msg("%s: message \"%s\" lacks \"%s\"",
				     broken[_i].name, err, broken[_i].want[k]);
	ck_assert(str_has_prefix(err, "kubeconfig: "));
	ck_assert_ptr_null(c.server);
}
END_TEST

START_TEST(test_parse_server)
{
	struct kube_config c = {0};
	char err[256];

	ck_assert_int_eq(
	    kube_parse_server("https://[fd00::1]:6443", &c, err, sizeof(err)),
	    0);
	ck_assert_str_eq(c.host, "fd00::1");
	ck_assert_int_eq(c.port, 6443);
	ck_assert_int_eq(
	    kube_parse_server("http://api.example/", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.host, "api.example");
	ck_assert_int_eq(c.port, 80);
	ck_assert_str_eq(c.path_prefix, "");
	ck_assert_int_eq(
	    kube_parse_server("https://[::1", &c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(
	    kube_parse_server("https://:443", &c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_parse_server("https://h:", &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(kube_parse_server("https://h:0", &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(kube_parse_server("https://u@h", &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(
	    kube_parse_server("https://h?x=1", &c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(kube_parse_server("h:443", &c, err, sizeof(err)),
			 -EINVAL);
	kube_config_release(&c);
}
END_TEST

START_TEST(test_in_cluster)
{
	struct kube_config c;
	char err[512] = "", ip[64];

	write_file("token", "first-token\n");
	write_file("ca.crt", "PEM");
	write_file("namespace", "apps");
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(kube_config_in_cluster(dir, &c, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "not in a pod"));

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(kube_config_in_cluster(dir, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.server, "https://[fd00:10:96::1]:443");
	ck_assert_str_eq(sock_addr_format(&c.addr, ip, sizeof(ip)),
			 "[fd00:10:96::1]:443");
	ck_assert_str_eq(c.token, "first-token");
	ck_assert_str_eq(c.namespace, "apps");
	ck_assert_str_eq((char *)c.ca, "PEM");

	/* unchanged: nothing re-read; rotated: the new token */
	ck_assert_int_eq(kube_config_refresh_token(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.token, "first-token");
	write_file("token", "second-longer-token");
	ck_assert_int_eq(kube_config_refresh_token(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.token, "second-longer-token");
	/* a broken rotation keeps the token that works */
	write_file("token", "");
	ck_assert_int_eq(kube_config_refresh_token(&c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_str_eq(c.token, "second-longer-token");
	kube_config_release(&c);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	write_file("token", "third");
	unlink(path_in("ca.crt"));
	ck_assert_int_eq(kube_config_in_cluster(dir, &c, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "ca.crt: No such file"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(test_auto)
{
	struct kube_config c;
	char err[512] = "", env[300];

	write_file(
	    "config",
	    "current-context: x\n"
	    "clusters: [{name: c, cluster: {server: 'http://10.0.0.9:1'}}]\n"
	    "contexts: [{name: x, context: {cluster: c}}]\n");
	/* in a pod (the service variables) with no KUBECONFIG: in-cluster,
	 * here from the default directory, which this machine lacks */
	unsetenv("KUBECONFIG");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (access(KUBE_SA_DIR "/token", F_OK) != 0) { /* not run in a pod */
		ck_assert_int_eq(
		    kube_config_auto(NULL, NULL, &c, err, sizeof(err)),
		    -ENOENT);
		ck_assert(str_has_prefix(err, "in-cluster config: "));
	}
	/* a flag or KUBECONFIG wins over the pod's ServiceAccount */
	ck_assert_int_eq(
	    kube_config_auto(path_in("config"), NULL, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.server, "http://10.0.0.9:1");
	kube_config_release(&c);
	snprintf(env, sizeof(env), "%s", path_in("config"));
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(kube_config_auto(NULL, NULL, &c, err, sizeof(err)), 0);
	kube_config_release(&c);
	/* not in a pod: ~/.kube/config */
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	ck_assert_int_eq(mkdir(path_in(".kube"), 0700), 0);
	ck_assert_int_eq(rename(path_in("config"), path_in(".kube/config")), 0);
	setenv("HOME", dir, 1);
	ck_assert_int_eq(kube_config_auto(NULL, NULL, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.context, "x");
	kube_config_release(&c);
}
END_TEST

Suite *kube_config_suite(void)
{
	Suite *s = suite_create("kube_config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_inline_current_context);
	tcase_add_test(tc, test_explicit_context);
	tcase_add_test(tc, test_files_relative_to_kubeconfig);
	tcase_add_test(tc, test_kubeconfig_merge);
	tcase_add_loop_test(tc, test_broken, 0, (int)ARRAY_SIZE(broken));
	tcase_add_test(tc, test_parse_server);
	tcase_add_test(tc, test_in_cluster);
	tcase_add_test(tc, test_auto);
	suite_add_tcase(s, tc);
	return s;
}
