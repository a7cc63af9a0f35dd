/* SPDX-License-Identifier: Apache-2.0 */
/* injector_test.c - AdmissionReviews in, patches that make inject's pods out; garbage refused */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/base64.h"
#include "conduit/buf.h"
#include "conduit/inject.h"
#include "conduit/injector.h"
#include "conduit/jsonpatch.h"
#include "conduit/yaml.h"
#include "suites.h"

static struct inject_config cfg;
static struct json *ns_ann; /* what the namespace lookup answers */

static const struct json *lookup(void *arg, const char *ns)
{
	(void)arg;
	return strcmp(ns, "app") == 0 ? ns_ann : NULL;
}

static struct injector_review_config rc = {
	.inject = &cfg, .ns_annotations = lookup,
};

static void setup(void)
{
	inject_config_defaults(&cfg, "v9.9.9", "localhost/conduit:v9.9.9");
	cfg.created_by = "conduit/proxy-injector";
	ns_ann = NULL;
}

static void teardown(void)
{
	json_free(ns_ann);
	ns_ann = NULL;
}

static struct json *J(const char *text)
{
	char err[256];
	struct json *j = json_parse(text, strlen(text), err, sizeof(err));

	ck_assert_msg(j != NULL, "%s: %s", text, err);
	return j;
}

/* a review of obj (JSON text) in namespace app */
static char *review_of(const char *op, const char *obj)
{
	char *s = xmalloc(strlen(obj) + 512);

	sprintf(s, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		   "\"request\":{\"uid\":\"u-1\",\"kind\":{\"group\":\"\",\"version\":\"v1\","
		   "\"kind\":\"Pod\"},\"operation\":\"%s\",\"namespace\":\"app\","
		   "\"object\":%s}}", op, obj);
	return s;
}

struct answer {
	enum injector_result res;
	char why[600];
	struct json *resp;  /* the answer's response */
	struct json *doc;   /* the whole answer */
	struct json *patched; /* obj with the patch applied, or NULL */
};

static void ask(const char *op, const char *obj, struct answer *a)
{
	char *body = review_of(op, obj), *out = NULL, err[256];
	const char *patch;

	memset(a, 0, sizeof(*a));
	a->res = injector_review(&rc, body, strlen(body), &out, a->why, sizeof(a->why));
	ck_assert_msg(a->res != INJECTOR_BAD_REQUEST, "%s", a->why);
	ck_assert_ptr_nonnull(out);
	a->doc = J(out);
	a->resp = json_get(a->doc, "response");
	ck_assert_str_eq(json_string(json_get(a->doc, "kind")), "AdmissionReview");
	ck_assert_str_eq(json_string(json_get(a->doc, "apiVersion")), "admission.k8s.io/v1");
	ck_assert_str_eq(json_string(json_get(a->resp, "uid")), "u-1");
	{
		bool allowed = false;

		ck_assert(json_bool(json_get(a->resp, "allowed"), &allowed) && allowed);
	}
	patch = json_string(json_get(a->resp, "patch"));
	if (patch) {
		struct buf raw;
		struct json *p;

		ck_assert_str_eq(json_string(json_get(a->resp, "patchType")), "JSONPatch");
		buf_init(&raw, 0);
		ck_assert_int_eq(base64_decode(patch, strlen(patch), &raw), 0);
		p = json_parse((const char *)buf_head(&raw), buf_len(&raw), err, sizeof(err));
		ck_assert_msg(p != NULL, "%s", err);
		a->patched = J(obj);
		ck_assert_msg(jsonpatch_apply(&a->patched, p, err, sizeof(err)) == 0, "%s", err);
		json_free(p);
		buf_release(&raw);
	}
	free(body);
	free(out);
}

static void answer_free(struct answer *a)
{
	json_free(a->doc);
	json_free(a->patched);
}

static const char *warning(const struct answer *a)
{
	return json_string(json_at(json_get(a->resp, "warnings"), 0));
}

/* the template conduit inject makes of a Deployment "web" with tmpl */
static struct json *inject_deployment(const char *tmpl_json, const struct inject_config *c)
{
	char *text = xmalloc(strlen(tmpl_json) + 256), err[256];
	struct json *in, *out, *t;
	struct yml_node *tree;
	struct inject_report rep;

	sprintf(text, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		      "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":%s}}", tmpl_json);
	in = J(text);
	tree = yml_from_json(in, err, sizeof(err));
	ck_assert_msg(tree != NULL, "%s", err);
	inject_report_init(&rep);
	ck_assert_int_eq(inject_doc(tree, c, &rep), 0);
	ck_assert_uint_eq(rep.injected, 1);
	inject_report_release(&rep);
	out = yml_to_json(tree, NULL, err, sizeof(err));
	t = json_copy(json_get(json_get(out, "spec"), "template"));
	json_free(out);
	json_free(in);
	yml_free(tree);
	free(text);
	return t;
}

static const char tmpl[] =
	"{\"metadata\":{\"labels\":{\"app\":\"web\"},"
	"\"annotations\":{\"conduit.io/inject\":\"enabled\","
	"\"config.conduit.io/skip-inbound-ports\":\"9000\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"web:1\","
	"\"ports\":[{\"containerPort\":8080}],\"resources\":{\"limits\":{\"cpu\":0.5}}}]}}";

/* a pod of that Deployment, as its ReplicaSet creates it */
static char *deployment_pod(const char *labels_extra, const char *annotations,
			    const char *spec_extra)
{
	char *s = xmalloc(4096);

	snprintf(s, 4096,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
		 "\"generateName\":\"web-7c9d8f6b5-\",\"namespace\":\"app\","
		 "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7c9d8f6b5\"%s},"
		 "\"annotations\":{%s},"
		 "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
		 "\"name\":\"web-7c9d8f6b5\",\"uid\":\"x\",\"controller\":true}]},"
		 "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"web:1\","
		 "\"ports\":[{\"containerPort\":8080}],\"resources\":{\"limits\":{\"cpu\":0.5}}}]%s}}",
		 labels_extra, annotations, spec_extra);
	return s;
}

static void assert_same_pod(const struct json *patched, const struct json *want)
{
	struct json *labels = json_copy(json_get(json_get(patched, "metadata"), "labels"));

	ck_assert_ptr_nonnull(labels);
	json_free(json_detach(labels, json_get(labels, "pod-template-hash")));
	ck_assert(json_equal(json_get(patched, "spec"), json_get(want, "spec")));
	ck_assert(json_equal(labels, json_get(json_get(want, "metadata"), "labels")));
	ck_assert(json_equal(json_get(json_get(patched, "metadata"), "annotations"),
			     json_get(json_get(want, "metadata"), "annotations")));
	json_free(labels);
}

START_TEST(test_inject_like_inject)
{
	struct json *want = inject_deployment(tmpl, &cfg);
	char *pod = deployment_pod("", "\"conduit.io/inject\":\"enabled\","
				   "\"config.conduit.io/skip-inbound-ports\":\"9000\"", "");
	struct answer a;

	ask("CREATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_INJECTED);
	ck_assert_ptr_null(json_get(a.resp, "warnings"));
	ck_assert_ptr_nonnull(a.patched);
	/* the patched pod is the Deployment's injected template, labelled
	 * as the Deployment's (not the ReplicaSet's) */
	assert_same_pod(a.patched, want);
	answer_free(&a);

	/* classic sidecars: the same, through a patch into containers */
	cfg.native_sidecar = false;
	json_free(want);
	want = inject_deployment(tmpl, &cfg);
	ask("CREATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_INJECTED);
	assert_same_pod(a.patched, want);
	answer_free(&a);
	json_free(want);
	free(pod);
}
END_TEST

START_TEST(test_namespace)
{
	char *pod = deployment_pod("", "", "");
	struct answer a;
	const struct json *env;
	bool debug = false;

	/* nobody asked: allowed as it is, silently */
	ask("CREATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_SKIPPED);
	ck_assert_ptr_null(json_get(a.resp, "patch"));
	ck_assert_ptr_null(json_get(a.resp, "warnings"));
	answer_free(&a);

	/* the namespace asks, with an override of its own */
	ns_ann = J("{\"conduit.io/inject\":\"enabled\","
		   "\"config.conduit.io/proxy-log-level\":\"debug\"}");
	ask("CREATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_INJECTED);
	env = json_get(json_at(json_get(json_get(a.patched, "spec"), "initContainers"), 1), "env");
	for (const struct json *e = json_child(env); e; e = json_next(e))
		if (!strcmp(json_string(json_get(e, "name")), "CONDUIT_PROXY_LOG"))
			debug = !strcmp(json_string(json_get(e, "value")), "debug");
	ck_assert(debug);
	answer_free(&a);
	free(pod);

	/* the pod's own word wins over the namespace's */
	pod = deployment_pod("", "\"conduit.io/inject\":\"disabled\"", "");
	ask("CREATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_DISABLED);
	ck_assert_ptr_null(json_get(a.resp, "patch"));
	ck_assert_str_eq(warning(&a), "not injected: the pod has conduit.io/inject: disabled");
	answer_free(&a);
	free(pod);

	/* a bad override: allowed, uninjected, with the reason */
	pod = deployment_pod("", "\"config.conduit.io/proxy-log-level\":\"loud\"", "");
	ask("CREATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_REFUSED);
	ck_assert_msg(strstr(warning(&a), "annotation config.conduit.io/proxy-log-level"),
		      "%s", warning(&a));
	answer_free(&a);
	free(pod);

	/* not a CREATE: passes */
	pod = deployment_pod("", "", "");
	ask("UPDATE", pod, &a);
	ck_assert_int_eq(a.res, INJECTOR_SKIPPED);
	ck_assert_ptr_null(json_get(a.resp, "patch"));
	answer_free(&a);
	free(pod);
}
END_TEST

START_TEST(test_refused)
{
	static const struct {
		const char *spec_extra;
		enum injector_result res;
		const char *warning;
	} cases[] = {
		{ ",\"hostNetwork\":true", INJECTOR_REFUSED,
		  "not injected: hostNetwork is enabled: the proxy cannot intercept" },
		{ ",\"initContainers\":[{\"name\":\"istio-init\",\"image\":\"i\"}]",
		  INJECTOR_REFUSED, "not injected: the pod already has another mesh's sidecar (istio-init)" },
		{ ",\"initContainers\":[{\"name\":\"conduit-proxy\",\"image\":\"i\"}]",
		  INJECTOR_ALREADY, "not injected: the pod already has conduit-proxy" },
	};
	struct answer a;

	/* a shape inject cannot add to: refused, not an error */
	ask("CREATE", "{\"kind\":\"Pod\",\"metadata\":{\"labels\":\"x\",\"annotations\":"
		      "{\"conduit.io/inject\":\"enabled\"}},\"spec\":{\"containers\":[]}}", &a);
	ck_assert_int_eq(a.res, INJECTOR_REFUSED);
	ck_assert_str_eq(warning(&a), "not injected: metadata.labels is not a mapping");
	answer_free(&a);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *pod = deployment_pod("", "\"conduit.io/inject\":\"enabled\"",
					   cases[i].spec_extra);

		ask("CREATE", pod, &a);
		ck_assert_int_eq(a.res, cases[i].res);
		ck_assert_ptr_null(json_get(a.resp, "patch"));
		ck_assert_msg(warning(&a) && str_has_prefix(warning(&a), cases[i].warning),
			      "case %zu: %s", i, warning(&a));
		answer_free(&a);
		free(pod);
	}
}
END_TEST

START_TEST(test_owners)
{
	static const struct {
		const char *owner; /* kind, name */
		const char *label, *value;
	} cases[] = {
		{ "\"kind\":\"StatefulSet\",\"name\":\"db\"", "conduit.io/proxy-statefulset", "db" },
		{ "\"kind\":\"Job\",\"name\":\"once\"", "conduit.io/proxy-job", "once" },
		/* a ReplicaSet not named after the hash: its own */
		{ "\"kind\":\"ReplicaSet\",\"name\":\"plain\"", "conduit.io/proxy-replicaset", "plain" },
		{ "\"kind\":\"Unknown\",\"name\":\"x\"", "conduit.io/proxy-pod", "solo-" },
	};
	struct answer a;
	char pod[1024];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(pod, sizeof(pod),
			 "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"generateName\":\"solo-\","
			 "\"labels\":{\"pod-template-hash\":\"abc\"},"
			 "\"annotations\":{\"conduit.io/inject\":\"enabled\"},"
			 "\"ownerReferences\":[{\"apiVersion\":\"v1\",%s,\"uid\":\"u\",\"controller\":true}]},"
			 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}", cases[i].owner);
		ask("CREATE", pod, &a);
		ck_assert_int_eq(a.res, INJECTOR_INJECTED);
		ck_assert_str_eq(json_string(json_get(json_get(json_get(a.patched, "metadata"),
							       "labels"), cases[i].label)),
				 cases[i].value);
		answer_free(&a);
	}
}
END_TEST

START_TEST(test_garbage)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
		{ "", "body: not JSON: " },
		{ "{", "body: not JSON: " },
		{ "\xff\xfe", "body: not valid UTF-8 at byte 0" },
		{ "[]", "kind: not an AdmissionReview" },
		{ "{\"kind\":\"Admission\xc3\x28\"}", "body: not valid UTF-8 at byte 18" },
		{ "{\"k\":\"\xed\xa0\x80\"}", "body: not valid UTF-8 at byte 6" },
		{ "{\"k\":\"\xf0\x9f\x98\"}", "body: not valid UTF-8 at byte 6" },
		{ "{\"k\":\"a\\u0000b\"}", "body: a \\u0000 escape (no NUL can be patched) at byte 7" },
		{ "{\"kind\":\"AdmissionReview\"}", "apiVersion: want admission.k8s.io/v1" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"v1\"}", "apiVersion: want" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\"}",
		  "request: missing or not an object" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":[]}",
		  "request: missing or not an object" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{}}",
		  "request.uid: missing" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":7}}",
		  "request.uid: missing" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"u\"}}",
		  "request.object: missing or not an object" },
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"u\",\"object\":\"pod\"}}",
		  "request.object: missing or not an object" },
		/* duplicate keys: no tree can hold them */
		{ "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{\"uid\":\"u\","
		  "\"object\":{\"kind\":\"Pod\",\"metadata\":{\"annotations\":{\"conduit.io/inject\":\"enabled\"}},"
		  "\"spec\":{\"containers\":[{\"name\":\"a\",\"name\":\"b\"}]}}}}",
		  "request.object: " },
	};
	char why[600], *out;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum injector_result r = injector_review(&rc, cases[i].body, strlen(cases[i].body),
							 &out, why, sizeof(why));

		ck_assert_msg(r == INJECTOR_BAD_REQUEST, "case %zu: %d", i, r);
		ck_assert_ptr_null(out);
		ck_assert_msg(str_has_prefix(why, cases[i].why), "case %zu: %s", i, why);
	}
	/* deep nesting, a huge body: refused, not crashed */
	{
		size_t n = 200000;
		char *deep = xmalloc(2 * n + 1);

		memset(deep, '[', n);
		memset(deep + n, ']', n);
		deep[2 * n] = '\0';
		ck_assert_int_eq(injector_review(&rc, deep, 2 * n, &out, why, sizeof(why)),
				 INJECTOR_BAD_REQUEST);
		ck_assert_int_eq(injector_review(&rc, deep, INJECTOR_MAX_BODY + 1, &out, why,
						 sizeof(why)), INJECTOR_BAD_REQUEST);
		ck_assert(str_has_prefix(why, "body: over"));
		free(deep);
	}
	/* a pod nested past the YAML tree's depth */
	{
		struct buf b;
		enum injector_result r;

		buf_init(&b, 0);
		buf_printf(&b, "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\","
			       "\"request\":{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":"
			       "{\"conduit.io/inject\":\"enabled\"}},\"spec\":{\"containers\":[],\"x\":");
		for (int i = 0; i < 200; i++)
			buf_append(&b, "[", 1);
		for (int i = 0; i < 200; i++)
			buf_append(&b, "]", 1);
		buf_append_str(&b, "}}}}");
		r = injector_review(&rc, (char *)buf_head(&b), buf_len(&b), &out, why, sizeof(why));
		ck_assert_msg(r == INJECTOR_BAD_REQUEST, "%d %s", r, why);
		ck_assert_msg(str_has_prefix(why, "request.object: "), "%s", why);
		buf_release(&b);
	}
	ck_assert_str_eq(injector_result_name(INJECTOR_ALREADY), "already_injected");
}
END_TEST

Suite *injector_suite(void)
{
	Suite *s = suite_create("injector");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_inject_like_inject);
	tcase_add_test(tc, test_namespace);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_owners);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	return s;
}
