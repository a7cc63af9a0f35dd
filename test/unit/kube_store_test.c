/* SPDX-License-Identifier: Apache-2.0 */
/* kube_store_test.c - puts, deletes, re-list differences */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conduit/kube_store.h"
#include "conduit/kube_watch.h"
#include "kube_fake.h"
#include "suites.h"

static struct json *obj(const char *ns, const char *name, const char *rv)
{
	char text[256], err[64];
	struct json *j;

	snprintf(
	    text, sizeof(text),
	    "{\"metadata\":{%s%s%s\"name\":\"%s\",\"resourceVersion\":\"%s\"}}",
	    ns ? "\"namespace\":\"" : "", ns ? ns : "", ns ? "\"," : "", name,
	    rv);
	j = json_parse(text, strlen(text), err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(test_put_delete)
{
	struct kube_store *s = kube_store_new();
	enum kube_event_type t;
	const struct json *stored;
	struct json *o, *gone;

	ck_assert_int_eq(kube_store_put(s, obj("a", "x", "1"), &t, &stored), 0);
	ck_assert_int_eq(t, KUBE_ADDED);
	ck_assert_str_eq(kube_object_rv(stored), "1");
	/* the same name in another namespace is another object */
	ck_assert_int_eq(kube_store_put(s, obj("b", "x", "1"), &t, NULL), 0);
	ck_assert_int_eq(t, KUBE_ADDED);
	ck_assert_uint_eq(kube_store_count(s), 2);
	/* same resourceVersion: nothing to tell */
	ck_assert_int_eq(kube_store_put(s, obj("a", "x", "1"), &t, NULL), 1);
	ck_assert_int_eq(kube_store_put(s, obj("a", "x", "2"), &t, &stored), 0);
	ck_assert_int_eq(t, KUBE_MODIFIED);
	ck_assert_str_eq(kube_object_rv(kube_store_get(s, "a", "x")), "2");
	ck_assert_ptr_null(kube_store_get(s, "c", "x"));

	o = obj("a", "x", "3");
	gone = kube_store_delete(s, o);
	ck_assert_ptr_nonnull(gone);
	ck_assert_str_eq(kube_object_rv(gone), "2");
	json_free(gone);
	ck_assert_ptr_null(kube_store_delete(s, o));
	json_free(o);
	ck_assert_uint_eq(kube_store_count(s), 1);

	/* no name: refused (and freed) */
	o = json_new_object();
	ck_assert_int_eq(kube_store_put(s, o, &t, NULL), -EINVAL);
	kube_store_free(s);
	kube_store_free(NULL);
}
END_TEST

struct tally {
	size_t n;
	char names[16][64];
};

static void on_gone(void *arg, const struct json *o)
{
	struct tally *t = arg;

	if (t->n < 16)
		snprintf(t->names[t->n], 64, "%s", kube_object_name(o));
	t->n++;
}

/* load the items of a recorded list page into the store */
static size_t put_page(struct kube_store *s, const char *fixture, size_t *added,
		       size_t *modified)
{
	struct buf b;
	char err[128];
	struct json *doc, *items;
	size_t n = 0;

	fixture_load(fixture, &b);
	doc = json_parse((char *)buf_head(&b), buf_len(&b), err, sizeof(err));
	ck_assert_ptr_nonnull(doc);
	items = json_get(doc, "items");
	while (json_child(items)) {
		enum kube_event_type t;
		int r = kube_store_put(s, json_detach(items, json_child(items)),
				       &t, NULL);

		ck_assert_int_ge(r, 0);
		if (r == 0 && t == KUBE_ADDED)
			(*added)++;
		if (r == 0 && t == KUBE_MODIFIED)
			(*modified)++;
		n++;
	}
	json_free(doc);
	buf_release(&b);
	return n;
}

START_TEST(test_relist_difference)
{
	struct kube_store *s = kube_store_new();
	size_t added = 0, modified = 0;
	struct tally gone = {0};
	enum kube_event_type t;

	/* the first list: two recorded pages of a Deployment's pods */
	kube_store_begin_list(s);
	ck_assert_uint_eq(
	    put_page(s, "pods-list-page1.json", &added, &modified), 2);
	ck_assert_uint_eq(
	    put_page(s, "pods-list-page2.json", &added, &modified), 1);
	ck_assert_uint_eq(added, 3);
	ck_assert_uint_eq(modified, 0);
	ck_assert_uint_eq(kube_store_sweep(s, on_gone, &gone), 0);

	/* a re-list that has page 1 unchanged, page 2's pod gone, and one
	 * new pod: ADDED 1, MODIFIED 0, DELETED 1 and nothing else */
	added = modified = 0;
	kube_store_begin_list(s);
	put_page(s, "pods-list-page1.json", &added, &modified);
	ck_assert_int_eq(
	    kube_store_put(s, obj("fx", "newcomer", "999"), &t, NULL), 0);
	ck_assert_int_eq(t, KUBE_ADDED);
	ck_assert_uint_eq(added, 0);
	ck_assert_uint_eq(modified, 0);
	ck_assert_uint_eq(kube_store_sweep(s, on_gone, &gone), 1);
	ck_assert_uint_eq(gone.n, 1);
	ck_assert(str_has_prefix(gone.names[0], "web-"));
	ck_assert_uint_eq(kube_store_count(s), 3);

	/* an empty re-list deletes everything, each exactly once */
	gone.n = 0;
	kube_store_begin_list(s);
	ck_assert_uint_eq(kube_store_sweep(s, on_gone, &gone), 3);
	ck_assert_uint_eq(kube_store_sweep(s, on_gone, &gone), 0);
	ck_assert_uint_eq(gone.n, 3);
	ck_assert_uint_eq(kube_store_count(s), 0);
	kube_store_free(s);
}
END_TEST

static void count_it(void *arg, const struct json *o)
{
	(void)o;
	(*(size_t *)arg)++;
}

START_TEST(test_many_and_cluster_scoped)
{
	struct kube_store *s = kube_store_new();
	size_t added = 0, modified = 0, seen = 0;
	enum kube_event_type t;
	char name[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "pod-%d", i);
		ck_assert_int_eq(
		    kube_store_put(s, obj(i % 2 ? "odd" : "even", name, "1"),
				   &t, NULL),
		    0);
	}
	ck_assert_uint_eq(kube_store_count(s), 20000);
	ck_assert_ptr_nonnull(kube_store_get(s, "odd", "pod-19999"));
	ck_assert_ptr_null(kube_store_get(s, "even", "pod-19999"));
	ck_assert_uint_eq(kube_store_foreach(s, count_it, &seen), 20000);
	ck_assert_uint_eq(seen, 20000);
	kube_store_free(s);

	/* Namespaces have no namespace: keyed by name alone */
	s = kube_store_new();
	put_page(s, "namespaces-list.json", &added, &modified);
	ck_assert_uint_eq(added, 5);
	ck_assert_ptr_nonnull(kube_store_get(s, NULL, "kube-system"));
	ck_assert_ptr_nonnull(kube_store_get(s, "", "default"));
	kube_store_free(s);
}
END_TEST

Suite *kube_store_suite(void)
{
	Suite *s = suite_create("kube_store");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_put_delete);
	tcase_add_test(tc, test_relist_difference);
	tcase_add_test(tc, test_many_and_cluster_scoped);
	suite_add_tcase(s, tc);
	return s;
}
