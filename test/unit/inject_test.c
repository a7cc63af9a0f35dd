/* SPDX-License-Identifier: Apache-2.0 */
/* inject_test.c - unit tests for inject.c and install.c on parsed trees */
#include <errno.h>
#include <string.h>

#include "conduit/inject.h"
#include "conduit/install.h"
#include "suites.h"

static char err[1024];

static const char deployment[] =
	"apiVersion: apps/v1\n"
	"kind: Deployment\n"
	"metadata:\n"
	"  name: web\n"
	"spec:\n"
	"  selector:\n"
	"    matchLabels: {app: web}\n"
	"  template:\n"
	"    metadata:\n"
	"      labels: {app: web}\n"
	"    spec:\n"
	"      containers:\n"
	"      - name: web\n"
	"        image: web:1\n";

static struct yml_node *parse(const char *text)
{
	struct yml_stream s;
	struct yml_node *doc;

	yml_stream_init(&s);
	ck_assert_msg(yml_parse(&s, text, strlen(text), "test", NULL, err,
				sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(s.count, 1);
	doc = s.docs[0];
	s.count = 0;
	yml_stream_release(&s);
	return doc;
}

static void config(struct inject_config *c)
{
	inject_config_defaults(c, "v9.9.9", "localhost/conduit:v9.9.9");
}

START_TEST(test_inject_adds_and_uninject_removes)
{
	struct yml_node *orig = parse(deployment), *d = yml_copy(orig), *again;
	struct inject_config c;
	struct inject_report r;
	struct yml_node *spec, *inits;

	config(&c);
	inject_report_init(&r);
	ck_assert_int_eq(inject_doc(d, &c, &r), 0);
	ck_assert_uint_eq(r.injected, 1);
	ck_assert_uint_eq(r.refused, 0);
	spec = yml_get_path(d, "spec.template.spec");
	inits = yml_get(spec, "initContainers");
	ck_assert_uint_eq(yml_count(inits), 2);
	ck_assert_str_eq(yml_str(yml_get(yml_at(inits, 0), "name")), "conduit-init");
	ck_assert_str_eq(yml_str(yml_get(yml_at(inits, 1), "name")), "conduit-proxy");
	ck_assert_str_eq(yml_str(yml_get(yml_at(inits, 1), "restartPolicy")), "Always");
	/* initContainers lands before containers, where people write it */
	ck_assert_int_lt(yml_index(spec, "initContainers"), yml_index(spec, "containers"));
	ck_assert_str_eq(yml_str(yml_get_path(d, "spec.template.metadata.annotations")
				 ? yml_get(yml_get_path(d, "spec.template.metadata.annotations"),
					   "conduit.io/proxy-version")
				 : NULL), "v9.9.9");
	ck_assert_ptr_nonnull(strstr(buf_cstr(&r.lines), "deployment \"web\" injected"));

	/* idempotent */
	again = yml_copy(d);
	ck_assert_int_eq(inject_doc(again, &c, &r), 0);
	ck_assert(yml_equal(again, d));

	/* uninject gives back the original fields */
	ck_assert_int_eq(uninject_doc(again, &r), 0);
	ck_assert_uint_eq(r.uninjected, 1);
	ck_assert(yml_equal(again, orig));

	yml_free(orig);
	yml_free(d);
	yml_free(again);
	inject_report_release(&r);
}
END_TEST

START_TEST(test_classic_sidecar)
{
	struct yml_node *d = parse(deployment);
	struct inject_config c;
	struct inject_report r;
	struct yml_node *spec;

	config(&c);
	c.native_sidecar = false;
	inject_report_init(&r);
	ck_assert_int_eq(inject_doc(d, &c, &r), 0);
	spec = yml_get_path(d, "spec.template.spec");
	ck_assert_uint_eq(yml_count(yml_get(spec, "initContainers")), 1);
	ck_assert_str_eq(yml_str(yml_get_path(spec, "containers.0.name")), "conduit-proxy");
	ck_assert_str_eq(yml_str(yml_get_path(spec, "containers.1.name")), "web");
	ck_assert_ptr_null(yml_get_path(spec, "containers.0.restartPolicy"));
	yml_free(d);
	inject_report_release(&r);
}
END_TEST

START_TEST(test_refusals_leave_the_object_alone)
{
	static const char *const bad[] = {
		"kind: Pod\nmetadata: {name: h}\nspec:\n  hostNetwork: true\n"
		"  containers: [{name: a, image: a}]\n",
		"kind: Pod\nmetadata: {name: i}\nspec:\n"
		"  containers: [{name: a, image: a}, {name: linkerd-proxy, image: l}]\n",
		"kind: Deployment\nmetadata: {name: nospec}\n",
		"kind: Pod\nmetadata:\n  name: o\n  annotations:\n"
		"    config.conduit.io/skip-inbound-ports: \"99999\"\n"
		"spec:\n  containers: [{name: a, image: a}]\n",
		"- not an object\n",
	};
	struct inject_config c;

	config(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct yml_node *d = parse(bad[i]), *copy = yml_copy(d);
		struct inject_report r;

		inject_report_init(&r);
		ck_assert_int_eq(inject_doc(d, &c, &r), 0);
		ck_assert_msg(r.refused == 1, "case %zu: %s", i, buf_cstr(&r.lines));
		ck_assert_uint_eq(r.injected, 0);
		ck_assert(yml_equal(d, copy));
		yml_free(d);
		yml_free(copy);
		inject_report_release(&r);
	}
}
END_TEST

START_TEST(test_overrides_and_disabled)
{
	struct yml_node *d = parse(
		"kind: Pod\nmetadata:\n  name: p\n  annotations:\n"
		"    config.conduit.io/skip-outbound-ports: \"5432,6379\"\n"
		"    config.conduit.io/proxy-log-level: debug\n"
		"spec:\n  containers: [{name: a, image: a}]\n");
	struct yml_node *off = parse(
		"kind: Pod\nmetadata:\n  name: q\n  annotations:\n"
		"    conduit.io/inject: disabled\n"
		"spec:\n  containers: [{name: a, image: a}]\n");
	struct inject_config c;
	struct inject_report r;
	struct yml_node *init, *args, *env;
	bool found = false;

	config(&c);
	inject_report_init(&r);
	ck_assert_int_eq(inject_doc(d, &c, &r), 0);
	init = yml_get_path(d, "spec.initContainers.0");
	args = yml_get(init, "args");
	for (size_t i = 0; i + 1 < yml_count(args); i++)
		if (strcmp(yml_text(yml_at(args, i)), "--outbound-ports-to-ignore") == 0) {
			ck_assert_str_eq(yml_text(yml_at(args, i + 1)), "5432,6379");
			found = true;
		}
	ck_assert(found);
	env = yml_get_path(d, "spec.initContainers.1.env");
	found = false;
	for (size_t i = 0; i < yml_count(env); i++)
		if (strcmp(yml_str(yml_get(yml_at(env, i), "name")), "CONDUIT_PROXY_LOG") == 0)
			found = strcmp(yml_str(yml_get(yml_at(env, i), "value")), "debug") == 0;
	ck_assert(found);
	ck_assert_str_eq(yml_str(yml_get_path(d, "metadata.labels")
				 ? yml_get(yml_get_path(d, "metadata.labels"),
					   "conduit.io/proxy-pod")
				 : NULL), "p");

	ck_assert_int_eq(inject_doc(off, &c, &r), 0);
	ck_assert_uint_eq(r.injected, 1);
	ck_assert_ptr_null(yml_get_path(off, "spec.initContainers"));
	yml_free(d);
	yml_free(off);
	inject_report_release(&r);
}
END_TEST

START_TEST(test_config_check)
{
	struct inject_config c;

	config(&c);
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), 0);
	c.skip_inbound_ports = "80,abc";
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(str_has_prefix(err, "--skip-inbound-ports: "), "%s", err);
	config(&c);
	c.proxy_image = "bad image";
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), -EINVAL);
	config(&c);
	c.memory_limit = "12Zi";
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), -EINVAL);
	c.memory_limit = "1.5Gi";
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), 0);
	c.control_plane_ns = "-bad";
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), -EINVAL);
	config(&c);
	c.outbound_port = c.inbound_port;
	ck_assert_int_eq(inject_config_check(&c, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(test_install_render)
{
	struct install_config c;
	struct yml_stream s;
	size_t deployments = 0;

	install_config_defaults(&c, "v9.9.9");
	yml_stream_init(&s);
	ck_assert_msg(install_render(&c, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(yml_str(yml_get(s.docs[0], "kind")), "Namespace");
	for (size_t i = 0; i < s.count; i++) {
		const char *k = yml_str(yml_get(s.docs[i], "kind"));

		if (strcmp(k, "Deployment") != 0)
			continue;
		deployments++;
		ck_assert_str_eq(yml_str(yml_get_path(s.docs[i],
				 "spec.template.spec.initContainers.1.name")), "conduit-proxy");
	}
	ck_assert_uint_eq(deployments, 5);
	yml_stream_release(&s);

	c.namespace_ = "Not_A_Label";
	yml_stream_init(&s);
	ck_assert_int_eq(install_render(&c, &s, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(s.count, 0);
	ck_assert_msg(str_has_prefix(err, "--conduit-namespace"), "%s", err);
	yml_stream_release(&s);
}
END_TEST

Suite *inject_suite(void)
{
	Suite *s = suite_create("inject");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_inject_adds_and_uninject_removes);
	tcase_add_test(tc, test_classic_sidecar);
	tcase_add_test(tc, test_refusals_leave_the_object_alone);
	tcase_add_test(tc, test_overrides_and_disabled);
	tcase_add_test(tc, test_config_check);
	tcase_add_test(tc, test_install_render);
	suite_add_tcase(s, tc);
	return s;
}
