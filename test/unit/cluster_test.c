/* SPDX-License-Identifier: Apache-2.0 */
/* cluster_test.c - unit tests for cluster.c and cluster_dir.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conduit/cluster.h"
#include "conduit/cluster_dir.h"
#include "suites.h"

static struct cluster *new_cache(bool derive)
{
	struct cluster_config cfg = { .derive_endpoints = derive };

	return cluster_new(&cfg);
}

/* put - apply a JSON text; returns cluster_apply's result */
static int put(struct cluster *cl, enum cluster_op op, const char *text)
{
	char err[256] = "";
	struct json *j = json_parse(text, strlen(text), err, sizeof(err));
	int r;

	ck_assert_msg(j, "bad fixture: %s", err);
	r = cluster_apply(cl, op, j, err, sizeof(err));
	json_free(j);
	return r;
}

static const char *SVC =
	"{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
	"\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":["
	"{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"},"
	"{\"name\":\"admin\",\"port\":9000,\"targetPort\":9001}]}}";

static const char *SLICE =
	"{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"shop\","
	"\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
	"\"ports\":[{\"name\":\"http\",\"port\":8080},{\"name\":\"admin\",\"port\":9001}],"
	"\"endpoints\":["
	"{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true},"
	"\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"nodeName\":\"n1\",\"zone\":\"z1\"},"
	"{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
	"{\"addresses\":[\"10.0.0.3\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}},"
	"{\"addresses\":[\"fd00::4\"]}]}";

static const char *POD_WEB1 =
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\","
	"\"labels\":{\"app\":\"web\"},\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
	"\"name\":\"web-5d8\",\"controller\":true}]},"
	"\"spec\":{\"serviceAccountName\":\"web-sa\",\"nodeName\":\"n1\",\"containers\":["
	"{\"name\":\"app\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]},"
	"{\"name\":\"conduit-proxy\",\"env\":[{\"name\":\"CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS\","
	"\"value\":\"-----BEGIN CERTIFICATE-----\"}],"
	"\"ports\":[{\"name\":\"conduit-proxy\",\"containerPort\":4143},"
	"{\"name\":\"conduit-admin\",\"containerPort\":4191}]}]},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\","
	"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";

static const char *POD_NOID =
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-2\",\"namespace\":\"shop\"},"
	"\"spec\":{\"serviceAccountName\":\"web-sa\",\"containers\":["
	"{\"name\":\"conduit-proxy\",\"env\":[{\"name\":\"CONDUIT_PROXY_IDENTITY_TRUST_ANCHORS\","
	"\"value\":\"x\"},{\"name\":\"CONDUIT_PROXY_IDENTITY_DISABLED\",\"value\":\"true\"}]}]},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\"}}";

static const char *RS =
	"{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web-5d8\",\"namespace\":\"shop\","
	"\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"web\",\"controller\":true}]}}";

static const struct cluster_endpoint *find_ep(const struct cluster_endpoint *v,
					      size_t n, const char *ip)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].ip, ip))
			return &v[i];
	return NULL;
}

START_TEST(test_authority)
{
	struct cluster *cl = new_cache(false);
	char svc[64], ns[64];
	int port;
	static const char *const bad[] = {
		"web", "web.shop", "web:80", "web.shop:0", "web.shop:65536",
		"web.shop:8x", "Web.shop:80", "web.shop.svc.other.local:80",
		"web.shop.cluster:80", "web..shop:80", ".shop:80",
		"web.shop.svc.cluster.local.evil:80", "10.0.0.1:80", "",
	};

	ck_assert_int_eq(cluster_parse_authority(cl, "web.shop.svc.cluster.local:80",
						 svc, sizeof(svc), ns,
						 sizeof(ns), &port),
			 0);
	ck_assert_str_eq(svc, "web");
	ck_assert_str_eq(ns, "shop");
	ck_assert_int_eq(port, 80);
	ck_assert_int_eq(cluster_parse_authority(cl, "web.shop:8080", svc,
						 sizeof(svc), ns, sizeof(ns),
						 &port),
			 0);
	ck_assert_int_eq(port, 8080);
	ck_assert_int_eq(cluster_parse_authority(cl, "web.shop.svc:1", svc,
						 sizeof(svc), ns, sizeof(ns),
						 &port),
			 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(cluster_parse_authority(cl, bad[i], svc,
						      sizeof(svc), ns,
						      sizeof(ns), &port) ==
				      -EINVAL,
			      "accepted %s", bad[i]);
	cluster_free(cl);
}
END_TEST

START_TEST(test_slices)
{
	struct cluster *cl = new_cache(false);
	struct cluster_endpoint *v;
	const struct cluster_endpoint *e;
	size_t n;

	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n),
			 -ENOENT);
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, SVC), 1);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 81, &v, &n),
			 -ENOENT);
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, SLICE), 1);
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, POD_WEB1), 1);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n), 0);
	/* ready and no-conditions; not the stopped, nor the terminating
	 * one still serving while ready ones exist */
	ck_assert_uint_eq(n, 2);
	e = find_ep(v, n, "10.0.0.1");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->port, 8080);
	ck_assert_int_eq(sock_addr_port(&e->addr), 8080);
	ck_assert_ptr_nonnull(e->pod);
	ck_assert_str_eq(e->pod->name, "web-1");
	ck_assert_str_eq(e->zone, "z1");
	ck_assert_ptr_null(find_ep(v, n, "10.0.0.2"));
	ck_assert_ptr_null(find_ep(v, n, "10.0.0.3"));
	e = find_ep(v, n, "fd00::4");
	ck_assert(e && e->ready && e->addr.u.sa.sa_family == AF_INET6);
	free(v);
	/* only terminating ones left (a one-replica rollout): the one still
	 * serving is used, the stopped one never */
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT,
			     "{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"shop\","
			     "\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
			     "\"ports\":[{\"name\":\"http\",\"port\":8080}],\"endpoints\":["
			     "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
			     "{\"addresses\":[\"10.0.0.3\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}}]}"),
			 1);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	e = find_ep(v, n, "10.0.0.2");
	ck_assert(e && e->terminating && e->serving && !e->ready);
	free(v);
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, SLICE), 1);
	/* the other service port maps to the slice port of the same name */
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 9000, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].port, 9001);
	free(v);
	/* deleting the slice empties the service; twice is no change */
	ck_assert_int_eq(put(cl, CLUSTER_DELETE, SLICE), 1);
	ck_assert_int_eq(put(cl, CLUSTER_DELETE, SLICE), 0);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	cluster_free(cl);
}
END_TEST

START_TEST(test_pod_owner_identity)
{
	struct cluster *cl = new_cache(false);
	const struct cluster_pod *p;
	char id[256];

	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, POD_WEB1), 1);
	p = cluster_pod(cl, "shop", "web-1");
	ck_assert_ptr_nonnull(p);
	/* the ReplicaSet is not known yet */
	ck_assert_str_eq(p->owner_kind, "ReplicaSet");
	ck_assert_str_eq(p->owner_name, "web-5d8");
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, RS), 1);
	p = cluster_pod(cl, "shop", "web-1");
	ck_assert_str_eq(p->owner_kind, "Deployment");
	ck_assert_str_eq(p->owner_name, "web");
	ck_assert(p->meshed && p->ready && !p->terminating);
	ck_assert_int_eq(p->admin_port, 4191);
	ck_assert_str_eq(p->sa, "web-sa");
	ck_assert_ptr_eq(cluster_pod_by_ip(cl, "10.0.0.1"), p);
	ck_assert_str_eq(cluster_pod_identity(cl, p, id, sizeof(id)),
			 "web-sa.shop.serviceaccount.identity.conduit.cluster.local");
	/* a proxy without trust anchors, or with identity disabled, has no
	 * identity: peers must not expect TLS from it */
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, POD_NOID), 1);
	p = cluster_pod(cl, "shop", "web-2");
	ck_assert(p && p->meshed && !p->has_identity);
	ck_assert_str_eq(cluster_pod_identity(cl, p, id, sizeof(id)), "");
	ck_assert_int_eq(put(cl, CLUSTER_DELETE, POD_NOID), 1);
	p = cluster_pod(cl, "shop", "web-1");
	ck_assert_uint_eq(cluster_count(cl, "Pod"), 1);
	ck_assert_uint_eq(cluster_count(cl, "ReplicaSet"), 1);
	ck_assert_int_eq(put(cl, CLUSTER_DELETE, POD_WEB1), 1);
	ck_assert_ptr_null(cluster_pod_by_ip(cl, "10.0.0.1"));
	cluster_free(cl);
}
END_TEST

START_TEST(test_derived_endpoints)
{
	struct cluster *cl = new_cache(true);
	struct cluster_endpoint *v;
	size_t n;
	const char *not_ready =
		"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-2\",\"namespace\":\"shop\","
		"\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
		"\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\"}}";
	const char *other =
		"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"db-1\",\"namespace\":\"shop\","
		"\"labels\":{\"app\":\"db\"}},\"spec\":{\"containers\":[{\"name\":\"db\","
		"\"ports\":[{\"name\":\"http\",\"containerPort\":5432}]}]},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.8\","
		"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";

	put(cl, CLUSTER_UPSERT, SVC);
	put(cl, CLUSTER_UPSERT, POD_WEB1);
	put(cl, CLUSTER_UPSERT, not_ready);
	put(cl, CLUSTER_UPSERT, other);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].ip, "10.0.0.1");
	ck_assert_int_eq(v[0].port, 8080); /* the named targetPort */
	free(v);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 9000, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].port, 9001); /* the numbered one */
	free(v);
	/* a slice, once there is one, is what counts */
	put(cl, CLUSTER_UPSERT, SLICE);
	ck_assert_int_eq(cluster_endpoints(cl, "shop", "web", 80, &v, &n), 0);
	ck_assert_uint_eq(n, 2); /* its two ready ones */
	free(v);
	cluster_free(cl);
}
END_TEST

static int calls;
static char last_ns[64];

static void on_change(void *arg, const char *ns)
{
	(void)arg;
	calls++;
	str_copy(last_ns, ns, sizeof(last_ns));
}

START_TEST(test_bad_objects_and_listeners)
{
	struct cluster *cl = new_cache(false);
	char err[256] = "";
	struct json *j;
	static const char *const bad[] = {
		"{\"kind\":\"Service\",\"metadata\":{\"namespace\":\"a\"}}",
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":[{\"port\":\"x\"}]}}",
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":[{\"port\":70000}]}}",
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":{}}}",
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":[{\"port\":1,\"targetPort\":true}]}}",
		"{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"e\"},\"endpoints\":[{\"addresses\":[\"not-an-ip\"]}]}",
		"{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"e\"},\"endpoints\":[{\"addresses\":[7]}]}",
	};

	ck_assert_int_eq(cluster_listen(cl, on_change, NULL), 0);
	calls = 0;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
		ck_assert_ptr_nonnull(j);
		err[0] = 0;
		ck_assert_int_eq(cluster_apply(cl, CLUSTER_UPSERT, j, err,
					       sizeof(err)),
				 -EINVAL);
		ck_assert_msg(strlen(err) > 10, "no reason for %s", bad[i]);
		json_free(j);
	}
	ck_assert_int_eq(calls, 0);
	/* an unknown kind, or garbage shapes, are ignored */
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}"), 0);
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, "[1,2]"), 0);
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT, "{\"kind\":7}"), 0);
	/* a pod of odd shapes is kept with what makes sense */
	ck_assert_int_eq(put(cl, CLUSTER_UPSERT,
			     "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":[1]},"
			     "\"spec\":{\"containers\":{}},\"status\":{\"podIP\":5}}"),
			 1);
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(last_ns, "default");
	ck_assert_ptr_null(cluster_pod(cl, "default", "p")->ip);
	cluster_free(cl);
}
END_TEST

/* --- the directory source -------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static const char *SVC_YAML =
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: emoji-svc\n  namespace: emojivoto\n"
	"spec:\n  selector:\n    app: emoji\n  ports:\n  - name: grpc\n    port: 8080\n";
static const char *POD_YAML =
	"apiVersion: v1\nkind: List\nitems:\n"
	"- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: emoji-1\n    namespace: emojivoto\n"
	"    labels: {app: emoji}\n  spec:\n    containers: [{name: app}]\n"
	"  status:\n    phase: Running\n    podIP: 127.0.1.1\n"
	"    conditions: [{type: Ready, status: \"True\"}]\n"
	"- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: ignored}\n";

static size_t eps(struct cluster *cl)
{
	struct cluster_endpoint *v;
	size_t n;

	if (cluster_endpoints(cl, "emojivoto", "emoji-svc", 8080, &v, &n) < 0)
		return (size_t)-1;
	free(v);
	return n;
}

START_TEST(test_dir)
{
	char dir[] = "/tmp/conduit-cluster-test-XXXXXX", err[256], path[600];
	struct cluster *cl = new_cache(true);
	struct cluster_dir *d;
	struct cluster_dir_stats st;

	ck_assert_ptr_null(cluster_dir_new(NULL, "/nonexistent/dir", cl, 0,
					   err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir"));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_file(dir, "svc.yml", SVC_YAML);
	write_file(dir, "pods.yaml", POD_YAML);
	write_file(dir, "notes.txt", "not: [read");
	d = cluster_dir_new(NULL, dir, cl, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(eps(cl), 1);
	cluster_dir_stats(d, &st);
	ck_assert_uint_eq(st.objects, 2);
	ck_assert_uint_eq(st.files, 2);
	ck_assert_uint_eq(st.errors, 0);
	/* nothing changed: nothing applied, nothing re-read */
	ck_assert_uint_eq(cluster_dir_scan(d), 0);
	cluster_dir_stats(d, &st);
	ck_assert_uint_eq(st.reads, 2);
	/* a half-saved edit: reported, and the service stays */
	write_file(dir, "svc.yml", "kind: Service\nmetadata: {name: [\n");
	ck_assert_uint_eq(cluster_dir_scan(d), 0);
	ck_assert_uint_eq(eps(cl), 1);
	cluster_dir_stats(d, &st);
	ck_assert_uint_eq(st.errors, 1);
	/* fixed, with another port: modified */
	write_file(dir, "svc.yml", "kind: Service\nmetadata: {name: emoji-svc, namespace: emojivoto}\n"
				   "spec: {selector: {app: emoji}, ports: [{port: 9090, targetPort: 8080}]}\n");
	ck_assert_uint_eq(cluster_dir_scan(d), 1);
	ck_assert_uint_eq(eps(cl), (size_t)-1); /* port 8080 is gone */
	/* the pod file removed: the pod is deleted */
	snprintf(path, sizeof(path), "%s/pods.yaml", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_uint_eq(cluster_dir_scan(d), 1);
	ck_assert_ptr_null(cluster_pod(cl, "emojivoto", "emoji-1"));
	cluster_dir_stats(d, &st);
	ck_assert_uint_eq(st.events[2], 1);
	cluster_dir_free(d);
	cluster_free(cl);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_authority);
	tcase_add_test(tc, test_slices);
	tcase_add_test(tc, test_pod_owner_identity);
	tcase_add_test(tc, test_derived_endpoints);
	tcase_add_test(tc, test_bad_objects_and_listeners);
	tcase_add_test(tc, test_dir);
	suite_add_tcase(s, tc);
	return s;
}
