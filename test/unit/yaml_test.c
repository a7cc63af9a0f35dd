/* SPDX-License-Identifier: Apache-2.0 */
/* yaml_test.c - unit tests for yaml.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conduit/buf.h"
#include "conduit/json.h"
#include "conduit/yaml.h"
#include "suites.h"

static char err[512];

/* parse - text into s (initialized here); asserts success */
static void parse(struct yml_stream *s, const char *text)
{
	int rc;

	yml_stream_init(s);
	rc = yml_parse(s, text, strlen(text), "t.yaml", NULL, err, sizeof(err));
	ck_assert_msg(rc == 0, "parse failed: %s", err);
}

/* parse_fail - the error code; err holds the message; nothing appended */
static int parse_fail_lim(const char *text, size_t len,
			  const struct yml_limits *lim)
{
	struct yml_stream s;
	int rc;

	yml_stream_init(&s);
	rc = yml_parse(&s, text, len, "t.yaml", lim, err, sizeof(err));
	ck_assert_msg(rc < 0, "parse of %.40s should fail", text);
	ck_assert_uint_eq(s.count, 0);
	ck_assert_ptr_null(s.docs);
	return rc;
}

static int parse_fail(const char *text)
{
	return parse_fail_lim(text, strlen(text), NULL);
}

#define ck_err(prefix, why)                                             \
	do {                                                            \
		ck_assert_msg(str_has_prefix(err, prefix),              \
			      "error \"%s\" should start with \"%s\"", err, \
			      prefix);                                  \
		ck_assert_msg(strstr(err, why),                         \
			      "error \"%s\" should say \"%s\"", err, why); \
	} while (0)

static char *write_stream(const struct yml_stream *s)
{
	struct buf b;
	char *out;

	buf_init(&b, 0);
	ck_assert_int_eq(yml_write_stream(&b, s), 0);
	out = xstrdup(buf_cstr(&b) ? buf_cstr(&b) : "");
	buf_release(&b);
	return out;
}

static char *write_node(const struct yml_node *n)
{
	struct buf b;
	char *out;

	buf_init(&b, 0);
	ck_assert_int_eq(yml_write(&b, n), 0);
	out = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return out;
}

/*
 * roundtrip - write(read(text)); asserts that reading that back and
 * writing it again gives the same bytes and an equal tree. Caller frees.
 */
static char *roundtrip(const char *text)
{
	struct yml_stream a, b;
	char *w1, *w2;

	parse(&a, text);
	w1 = write_stream(&a);
	parse(&b, w1);
	w2 = write_stream(&b);
	ck_assert_str_eq(w1, w2);
	ck_assert_uint_eq(a.count, b.count);
	for (size_t i = 0; i < a.count; i++)
		ck_assert(yml_equal(a.docs[i], b.docs[i]));
	free(w2);
	yml_stream_release(&a);
	yml_stream_release(&b);
	return w1;
}

#define ck_roundtrip(in, want)                 \
	do {                                   \
		char *got_ = roundtrip(in);    \
		ck_assert_str_eq(got_, want);  \
		free(got_);                    \
	} while (0)

static const char deployment[] =
	"# a comment that is dropped\n"
	"apiVersion: apps/v1\n"
	"kind: Deployment\n"
	"metadata:\n"
	"  name: web\n"
	"  namespace: emojivoto\n"
	"  labels: {app: web, 'version': v1}\n"
	"  annotations:\n"
	"    prometheus.io/port: \"8080\"\n"
	"    prometheus.io/scrape: 'true'\n"
	"    description: >\n"
	"      folded text\n"
	"      on two lines\n"
	"spec:\n"
	"  replicas: 3\n"
	"  selector:\n"
	"    matchLabels:\n"
	"      app: web\n"
	"  template:\n"
	"    metadata:\n"
	"      labels:\n"
	"        app: web\n"
	"    spec:\n"
	"      containers:\n"
	"        - name: web\n"
	"          image: \"buoyantio/emojivoto-web:v11\"\n"
	"          args: [\"--addr=:8080\", -v, '2']\n"
	"          env:\n"
	"            - name: WEB_PORT\n"
	"              value: \"8080\"\n"
	"            - name: DEBUG\n"
	"              value: \"no\"\n"
	"            - {name: EMPTY, value: \"\"}\n"
	"          ports:\n"
	"            - name: http\n"
	"              containerPort: 8080\n"
	"              protocol: TCP\n"
	"          readinessProbe:\n"
	"            httpGet: {path: /ready, port: 8080}\n"
	"            initialDelaySeconds: 0x0A\n"
	"          resources:\n"
	"            limits: {cpu: 500m, memory: 64Mi}\n"
	"            requests:\n"
	"          command:\n"
	"          - /bin/sh\n"
	"          - -c\n"
	"          - |\n"
	"            echo start\n"
	"              indented: yes\n"
	"            exec web\n"
	"      nodeSelector: {}\n"
	"      tolerations: []\n";

static const char deployment_out[] =
	"apiVersion: apps/v1\n"
	"kind: Deployment\n"
	"metadata:\n"
	"  name: web\n"
	"  namespace: emojivoto\n"
	"  labels:\n"
	"    app: web\n"
	"    version: v1\n"
	"  annotations:\n"
	"    prometheus.io/port: \"8080\"\n"
	"    prometheus.io/scrape: \"true\"\n"
	"    description: |\n"
	"      folded text on two lines\n"
	"spec:\n"
	"  replicas: 3\n"
	"  selector:\n"
	"    matchLabels:\n"
	"      app: web\n"
	"  template:\n"
	"    metadata:\n"
	"      labels:\n"
	"        app: web\n"
	"    spec:\n"
	"      containers:\n"
	"      - name: web\n"
	"        image: buoyantio/emojivoto-web:v11\n"
	"        args:\n"
	"        - --addr=:8080\n"
	"        - -v\n"
	"        - \"2\"\n"
	"        env:\n"
	"        - name: WEB_PORT\n"
	"          value: \"8080\"\n"
	"        - name: DEBUG\n"
	"          value: \"no\"\n"
	"        - name: EMPTY\n"
	"          value: \"\"\n"
	"        ports:\n"
	"        - name: http\n"
	"          containerPort: 8080\n"
	"          protocol: TCP\n"
	"        readinessProbe:\n"
	"          httpGet:\n"
	"            path: /ready\n"
	"            port: 8080\n"
	"          initialDelaySeconds: 0x0A\n"
	"        resources:\n"
	"          limits:\n"
	"            cpu: 500m\n"
	"            memory: 64Mi\n"
	"          requests:\n"
	"        command:\n"
	"        - /bin/sh\n"
	"        - -c\n"
	"        - |\n"
	"          echo start\n"
	"            indented: yes\n"
	"          exec web\n"
	"      nodeSelector: {}\n"
	"      tolerations: []\n";

START_TEST(test_deployment_roundtrip)
{
	struct yml_stream s;
	struct yml_node *d, *c;
	long long i;
	bool b;

	ck_roundtrip(deployment, deployment_out);
	/* and the kubectl-style output reads back as itself */
	ck_roundtrip(deployment_out, deployment_out);

	parse(&s, deployment);
	ck_assert_uint_eq(s.count, 1);
	d = s.docs[0];
	ck_assert_str_eq(yml_str(yml_get(d, "kind")), "Deployment");
	c = yml_get_path(d, "spec.template.spec.containers.0");
	ck_assert_str_eq(yml_str(yml_get(c, "name")), "web");
	ck_assert_int_eq(yml_type(yml_get_path(c, "ports.0.containerPort")),
			 YML_INT);
	ck_assert(yml_int(yml_get_path(c, "readinessProbe.initialDelaySeconds"),
			  &i));
	ck_assert_int_eq(i, 10);
	/* quoted numbers and bools stay strings */
	ck_assert_str_eq(yml_str(yml_get_path(c, "env.0.value")), "8080");
	ck_assert_str_eq(yml_str(yml_get_path(c, "env.1.value")), "no");
	ck_assert(!yml_bool(yml_get_path(c, "env.1.value"), &b));
	ck_assert_int_eq(yml_type(yml_get_path(c, "resources.requests")),
			 YML_NULL);
	ck_assert_str_eq(yml_str(yml_get_path(c, "command.2")),
			 "echo start\n  indented: yes\nexec web\n");
	/* positions: line and column from 1 */
	ck_assert_uint_eq(yml_line(c), 25);
	ck_assert_uint_eq(yml_col(c), 11);
	/* a block mapping starts at its first key */
	ck_assert_uint_eq(yml_line(yml_get(d, "spec")), 15);
	ck_assert_uint_eq(yml_col(yml_get(d, "spec")), 3);
	ck_assert_uint_eq(yml_line(yml_key_at(d, 3)), 14);
	ck_assert_uint_eq(yml_col(yml_key_at(d, 3)), 1);
	ck_assert_ptr_null(yml_get_path(d, "spec.nope"));
	ck_assert_ptr_null(yml_get_path(d, "spec.template.spec.containers.1"));
	ck_assert_ptr_null(yml_get_path(d, "spec."));
	ck_assert_ptr_eq(yml_get_path(d, ""), d);
	yml_stream_release(&s);
}
END_TEST

START_TEST(test_multi_document)
{
	static const char in[] = "---\n"
				 "kind: Service\n"
				 "metadata: {name: a}\n"
				 "...\n"
				 "---\n"
				 "# only a comment\n"
				 "---\n"
				 "kind: ConfigMap\n"
				 "data:\n"
				 "  k: v\n"
				 "---\n"
				 "- 1\n"
				 "- two\n"
				 "--- plain root\n";
	static const char out[] = "kind: Service\n"
				  "metadata:\n"
				  "  name: a\n"
				  "---\n"
				  "null\n"
				  "---\n"
				  "kind: ConfigMap\n"
				  "data:\n"
				  "  k: v\n"
				  "---\n"
				  "- 1\n"
				  "- two\n"
				  "---\n"
				  "plain root\n";
	struct yml_stream s;

	parse(&s, in);
	ck_assert_uint_eq(s.count, 5);
	ck_assert_int_eq(yml_type(s.docs[1]), YML_NULL);
	ck_assert_int_eq(yml_type(s.docs[3]), YML_SEQ);
	yml_stream_release(&s);
	ck_roundtrip(in, out);
	/* nothing but comments: no document at all */
	parse(&s, "# nothing\n\n");
	ck_assert_uint_eq(s.count, 0);
	yml_stream_release(&s);
	parse(&s, "");
	ck_assert_uint_eq(s.count, 0);
	yml_stream_release(&s);
	/* parse appends to what the stream holds */
	parse(&s, "a: 1\n");
	ck_assert_int_eq(yml_parse(&s, "b: 2\n", 5, "x", NULL, err,
				   sizeof(err)), 0);
	ck_assert_uint_eq(s.count, 2);
	ck_assert_int_eq(yml_parse(&s, "b: [\n", 5, "x", NULL, err,
				   sizeof(err)), -EINVAL);
	ck_assert_uint_eq(s.count, 2);
	yml_stream_release(&s);
}
END_TEST

START_TEST(test_list)
{
	static const char in[] = "apiVersion: v1\n"
				 "kind: List\n"
				 "items:\n"
				 "- apiVersion: v1\n"
				 "  kind: Service\n"
				 "  metadata: {name: web-svc}\n"
				 "- apiVersion: apps/v1\n"
				 "  kind: Deployment\n"
				 "  metadata: {name: web}\n";
	struct yml_stream s;
	struct yml_node *items;
	char *out;

	parse(&s, in);
	items = yml_list_items(s.docs[0]);
	ck_assert_ptr_nonnull(items);
	ck_assert_uint_eq(yml_count(items), 2);
	ck_assert_str_eq(yml_str(yml_get(yml_at(items, 1), "kind")),
			 "Deployment");
	ck_assert_str_eq(yml_str(yml_get_path(s.docs[0], "items.0.metadata.name")),
			 "web-svc");
	out = write_stream(&s);
	ck_assert_str_eq(out, "apiVersion: v1\n"
			      "kind: List\n"
			      "items:\n"
			      "- apiVersion: v1\n"
			      "  kind: Service\n"
			      "  metadata:\n"
			      "    name: web-svc\n"
			      "- apiVersion: apps/v1\n"
			      "  kind: Deployment\n"
			      "  metadata:\n"
			      "    name: web\n");
	free(out);
	yml_stream_release(&s);

	parse(&s, "kind: PodList\nitems: []\n---\nkind: Pod\nitems: []\n"
		  "---\nkind: List\nitems: {}\n");
	ck_assert_ptr_nonnull(yml_list_items(s.docs[0]));
	ck_assert_uint_eq(yml_count(yml_list_items(s.docs[0])), 0);
	ck_assert_ptr_null(yml_list_items(s.docs[1]));
	ck_assert_ptr_null(yml_list_items(s.docs[2]));
	yml_stream_release(&s);
}
END_TEST

START_TEST(test_json_manifest)
{
	static const char in[] =
		"{\n"
		"\t\"apiVersion\": \"v1\",\n"
		"\t\"kind\": \"Pod\",\n"
		"\t\"metadata\": {\"name\": \"p\", \"annotations\": "
		"{\"a/b\": \"8080\", \"c\": \"true\"}},\n"
		"\t\"spec\": {\"containers\": [{\"name\": \"c\", \"ports\": "
		"[{\"containerPort\": 80}], \"x\": 1.5, \"y\": null, "
		"\"z\": false, \"s\": \"a\\/b\\u00e9\\n\"}]}\n"
		"}\n";
	static const char want[] = "apiVersion: v1\n"
				   "kind: Pod\n"
				   "metadata:\n"
				   "  name: p\n"
				   "  annotations:\n"
				   "    a/b: \"8080\"\n"
				   "    c: \"true\"\n"
				   "spec:\n"
				   "  containers:\n"
				   "  - name: c\n"
				   "    ports:\n"
				   "    - containerPort: 80\n"
				   "    x: 1.5\n"
				   "    \"y\": null\n" /* YAML 1.1: y is a bool */
				   "    z: false\n"
				   "    s: |\n"
				   "      a/b\xc3\xa9\n";
	struct yml_stream s;
	struct json *j;
	char *text;

	ck_roundtrip(in, want);
	parse(&s, in);
	j = yml_to_json(s.docs[0], "t.yaml", err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	text = json_print(j, false);
	ck_assert_str_eq(text,
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
			 "{\"name\":\"p\",\"annotations\":{\"a/b\":\"8080\","
			 "\"c\":\"true\"}},\"spec\":{\"containers\":[{\"name\":"
			 "\"c\",\"ports\":[{\"containerPort\":80}],\"x\":1.5,"
			 "\"y\":null,\"z\":false,\"s\":\"a/b\xc3\xa9\\n\"}]}}");
	free(text);
	json_free(j);
	yml_stream_release(&s);
}
END_TEST

/* each string, as the value of a key, is written as want and reads back
 * as the same string */
START_TEST(test_quoting)
{
	static const struct {
		const char *s, *want;
	} cases[] = {
		{ "web", "web" },
		{ "1.2.3", "1.2.3" },
		{ "v1", "v1" },
		{ "500m", "500m" },
		{ "a:b", "a:b" },
		{ "http://x:80/p?q=1#f", "http://x:80/p?q=1#f" },
		{ "it's", "it's" },
		{ "-x", "-x" },
		{ "--port=8080", "--port=8080" },
		{ "a#b", "a#b" },
		{ "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9" },
		{ "0x", "0x" },
		{ "1e999", "1e999" },
		{ "<<x", "<<x" },
		/* would read back as another type: double quotes */
		{ "8080", "\"8080\"" },
		{ "-1", "\"-1\"" },
		{ "+1", "\"+1\"" },
		{ "1.5", "\"1.5\"" },
		{ ".5", "\".5\"" },
		{ "1e3", "\"1e3\"" },
		{ "1_000", "\"1_000\"" },
		{ "0x1F", "\"0x1F\"" },
		{ "0o17", "\"0o17\"" },
		{ "0b101", "\"0b101\"" },
		{ "0777", "\"0777\"" },
		{ "08", "\"08\"" },
		{ "99999999999999999999", "\"99999999999999999999\"" },
		{ ".inf", "\".inf\"" },
		{ "-.Inf", "\"-.Inf\"" },
		{ ".NaN", "\".NaN\"" },
		{ "true", "\"true\"" },
		{ "False", "\"False\"" },
		{ "yes", "\"yes\"" },
		{ "No", "\"No\"" },
		{ "on", "\"on\"" },
		{ "OFF", "\"OFF\"" },
		{ "y", "\"y\"" },
		{ "n", "\"n\"" },
		{ "null", "\"null\"" },
		{ "Null", "\"Null\"" },
		{ "~", "\"~\"" },
		{ "", "\"\"" },
		{ "2021-01-02", "\"2021-01-02\"" },
		{ "2021-01-02T03:04:05Z", "\"2021-01-02T03:04:05Z\"" },
		{ "1:20", "\"1:20\"" },
		{ "-1:20:30.5", "\"-1:20:30.5\"" },
		{ "<<", "\"<<\"" },
		/* plain style cannot carry it: single quotes */
		{ " lead", "' lead'" },
		{ "trail ", "'trail '" },
		{ "a: b", "'a: b'" },
		{ "a:", "'a:'" },
		{ "a #b", "'a #b'" },
		{ "#x", "'#x'" },
		{ "- x", "'- x'" },
		{ "-", "'-'" },
		{ "---", "'---'" },
		{ "--- x", "'--- x'" },
		{ "...", "'...'" },
		{ "*a", "'*a'" },
		{ "&a", "'&a'" },
		{ "!a", "'!a'" },
		{ "|", "'|'" },
		{ ">", "'>'" },
		{ "%x", "'%x'" },
		{ "@x", "'@x'" },
		{ "`x", "'`x'" },
		{ "{a}", "'{a}'" },
		{ "[a]", "'[a]'" },
		{ ",a", "',a'" },
		{ "?", "'?'" },
		{ "? a", "'? a'" },
		{ ":a", "':a'" },
		{ "'q'", "'''q'''" },
		{ "\"q\"", "'\"q\"'" },
		/* needs escapes: double quotes */
		{ "a\tb", "\"a\\tb\"" },
		{ "\x01\x1b\x7f", "\"\\x01\\e\\x7F\"" },
		{ "bell\a\b\v\f\r", "\"bell\\a\\b\\v\\f\\r\"" },
		{ "nel\xc2\x85", "\"nel\\N\"" },
		{ "c1\xc2\x80", "\"c1\\x80\"" },
		{ "ls\xe2\x80\xa8ps\xe2\x80\xa9", "\"ls\\Lps\\P\"" },
		{ "\xef\xbb\xbf" "bom", "\"\\uFEFFbom\"" },
		{ "back\\slash \"q\"\t", "\"back\\\\slash \\\"q\\\"\\t\"" },
		/* multi-line: block literals when they carry it exactly */
		{ "a\nb", "|-\n  a\n  b" },
		{ "a\nb\n", "|\n  a\n  b" },
		{ "a\n\nb\n\n\n", "|+\n  a\n\n  b\n\n" },
		{ "one line\n", "|\n  one line" },
		{ "a\n  indented\n\ttab\n# not a comment\n---\n",
		  "|\n  a\n    indented\n  \ttab\n  # not a comment\n  ---" },
		{ " lead\nx", "\" lead\\nx\"" },
		{ "\nfirst empty", "\"\\nfirst empty\"" },
		{ "trail \nx", "\"trail \\nx\"" },
		{ "x\ntrail ", "\"x\\ntrail \"" },
		{ "cr\r\nlf", "\"cr\\r\\nlf\"" },
		{ "\n", "\"\\n\"" },
	};
	char in[512], want[512], *got;
	struct yml_stream s;
	struct yml_node *m;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		m = yml_new_map();
		ck_assert_int_eq(yml_set(m, "k", yml_new_str(cases[i].s)), 0);
		got = write_node(m);
		snprintf(want, sizeof(want), "k: %s\n", cases[i].want);
		ck_assert_msg(!strcmp(got, want), "case %zu: got \"%s\" want \"%s\"",
			      i, got, want);
		/* reads back as the same string, and writes the same */
		parse(&s, got);
		ck_assert_msg(yml_str(yml_get(s.docs[0], "k")) &&
				      !strcmp(yml_str(yml_get(s.docs[0], "k")),
					      cases[i].s),
			      "case %zu: read back differs", i);
		ck_assert(yml_equal(m, s.docs[0]));
		yml_stream_release(&s);
		free(got);

		/* as a key too (never a block literal) */
		yml_free(m);
		m = yml_new_map();
		ck_assert_int_eq(yml_set(m, cases[i].s, yml_new_int(1)), 0);
		got = write_node(m);
		parse(&s, got);
		ck_assert_msg(yml_key(s.docs[0], 0) &&
				      !strcmp(yml_key(s.docs[0], 0), cases[i].s),
			      "case %zu: key read back differs: %s", i, got);
		yml_stream_release(&s);
		free(got);
		yml_free(m);
	}
	/* in a sequence and as a document, too */
	snprintf(in, sizeof(in), "- \"8080\"\n- ' x'\n- |-\n  a\n  b\n- \n");
	ck_roundtrip(in, "- \"8080\"\n- ' x'\n- |-\n  a\n  b\n-\n");
	ck_roundtrip("--- |\n  doc\n  text\n", "|\n  doc\n  text\n");
	ck_roundtrip("--- \"8080\"\n", "\"8080\"\n");
	ck_roundtrip("--- '--- x'\n", "'--- x'\n");
	ck_roundtrip("\"\"\n", "\"\"\n");
}
END_TEST

START_TEST(test_scalar_types)
{
	static const struct {
		const char *text;
		enum yml_type type;
	} cases[] = {
		{ "", YML_NULL },	  { "~", YML_NULL },
		{ "null", YML_NULL },	  { "NULL", YML_NULL },
		{ "nULL", YML_STR },	  { "true", YML_BOOL },
		{ "yes", YML_BOOL },	  { "Y", YML_BOOL },
		{ "off", YML_BOOL },	  { "oFF", YML_STR },
		{ "12", YML_INT },	  { "-12", YML_INT },
		{ "+12", YML_INT },	  { "0x1f", YML_INT },
		{ "0o17", YML_INT },	  { "017", YML_INT },
		{ "0b11", YML_INT },	  { "1_000", YML_INT },
		{ "0", YML_INT },	  { "-0x10", YML_INT },
		{ "18446744073709551615", YML_INT },
		{ "0xFFFFFFFFFFFFFFFFFF", YML_INT },
		{ "1.5", YML_FLOAT },	  { "1.", YML_FLOAT },
		{ ".5", YML_FLOAT },	  { "-1e-3", YML_FLOAT },
		{ "08", YML_FLOAT },	  { "1e5", YML_FLOAT },
		{ ".inf", YML_FLOAT },	  { "-.INF", YML_FLOAT },
		{ ".nan", YML_FLOAT },	  { "18446744073709551616", YML_FLOAT },
		{ "1e999", YML_STR },	  { "0x", YML_STR },
		{ "1.2.3", YML_STR },	  { "-", YML_STR },
		{ "2001-12-14", YML_STR }, { "1:20", YML_STR },
		{ "_1", YML_STR },	  { ".", YML_STR },
		{ "web", YML_STR },	  { "<<", YML_STR },
	};
	struct yml_node *n;
	long long i;
	double d;
	bool b;

	for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
		n = yml_new_plain(cases[k].text);
		ck_assert_msg(yml_type(n) == cases[k].type,
			      "\"%s\": type %d, want %d", cases[k].text,
			      yml_type(n), cases[k].type);
		ck_assert_str_eq(yml_text(n), cases[k].text);
		yml_free(n);
	}
	n = yml_new_plain("0x1F");
	ck_assert(yml_int(n, &i));
	ck_assert_int_eq(i, 31);
	ck_assert(yml_float(n, &d));
	ck_assert(d == 31.0);
	yml_free(n);
	n = yml_new_plain("-9223372036854775808");
	ck_assert(yml_int(n, &i));
	ck_assert(i == INT64_MIN);
	yml_free(n);
	n = yml_new_plain("18446744073709551615");
	ck_assert(!yml_int(n, &i)); /* an int, but not a long long */
	yml_free(n);
	n = yml_new_plain("On");
	ck_assert(yml_bool(n, &b) && b);
	ck_assert(!yml_int(n, &i));
	yml_free(n);
	n = yml_new_float(3);
	ck_assert_str_eq(yml_text(n), "3.0");
	yml_free(n);
	n = yml_new_float(0.1);
	ck_assert_str_eq(yml_text(n), "0.1");
	yml_free(n);
	n = yml_new_float(1e300);
	ck_assert_int_eq(yml_type(n), YML_FLOAT);
	ck_assert_str_eq(yml_text(n), "1e+300");
	yml_free(n);
	n = yml_new_int(-42);
	ck_assert_str_eq(yml_text(n), "-42");
	yml_free(n);
	/* invalid UTF-8 and NUL become U+FFFD */
	n = yml_new_strn("a\xff" "b\0c", 5);
	ck_assert_str_eq(yml_str(n), "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
	yml_free(n);
}
END_TEST

START_TEST(test_tags)
{
	struct yml_stream s;
	struct yml_node *d;

	ck_roundtrip("a: !!str 8080\n"
		     "b: !!int \"42\"\n"
		     "c: !!float 1\n"
		     "d: !local x\n"
		     "e: !<tag:example.com,2000:app/x> val\n"
		     "f: !!binary aGVsbG8=\n"
		     "g: ! 12\n"
		     "h: !!null\n"
		     "i: !t {}\n"
		     "j: !t\n"
		     "- 1\n"
		     "k: !!map\n"
		     "  x: 1\n"
		     "l:\n"
		     "- !t\n"
		     "  x: 1\n"
		     "!!str 1: key\n",
		     "a: !!str \"8080\"\n"
		     "b: !!int 42\n"
		     "c: !!float 1\n"
		     "d: !local x\n"
		     "e: !<tag:example.com,2000:app/x> val\n"
		     "f: !!binary aGVsbG8=\n"
		     "g: ! \"12\"\n"
		     "h: !!null\n"
		     "i: !t {}\n"
		     "j: !t\n"
		     "  - 1\n"
		     "k: !!map\n"
		     "  x: 1\n"
		     "l:\n"
		     "- !t\n"
		     "  x: 1\n"
		     "!!str \"1\": key\n");
	parse(&s, "a: !!str 8080\nb: !!int \"42\"\nc: !!float 1\ng: ! 12\n"
		  "d: !local x\n");
	d = s.docs[0];
	ck_assert_int_eq(yml_type(yml_get(d, "a")), YML_STR);
	ck_assert_str_eq(yml_tag(yml_get(d, "a")), "tag:yaml.org,2002:str");
	ck_assert_int_eq(yml_type(yml_get(d, "b")), YML_INT);
	ck_assert_int_eq(yml_type(yml_get(d, "c")), YML_FLOAT);
	ck_assert_int_eq(yml_type(yml_get(d, "g")), YML_STR);
	ck_assert_str_eq(yml_tag(yml_get(d, "d")), "!local");
	yml_stream_release(&s);
	/* a tag with characters that need %-escapes reads back the same */
	ck_roundtrip("a: !<tag:x,2000:%20%C3%A9!> v\nb: !e%21x v\n",
		     "a: !<tag:x,2000:%20%C3%A9!> v\nb: !e%21x v\n");
	/* and a type tag the text does not fit is an error */
	ck_assert_int_eq(parse_fail("a: !!int abc\n"), -EINVAL);
	ck_err("t.yaml:1:4: ", "\"abc\" cannot be read as !!int");
	ck_assert_int_eq(parse_fail("a: !!bool 1\n"), -EINVAL);
	ck_err("t.yaml:1:4: ", "cannot be read as !!bool");
}
END_TEST

START_TEST(test_key_order_and_keys)
{
	static const char in[] = "zeta: 1\nalpha: 2\nmid: 3\n8080: port\n"
				 "yes: bool-key\n\"quoted\": q\n";
	struct yml_stream s;

	ck_roundtrip(in, "zeta: 1\nalpha: 2\nmid: 3\n8080: port\n"
			 "yes: bool-key\nquoted: q\n");
	parse(&s, in);
	ck_assert_str_eq(yml_key(s.docs[0], 0), "zeta");
	ck_assert_str_eq(yml_key(s.docs[0], 3), "8080");
	ck_assert_int_eq(yml_type(yml_key_at(s.docs[0], 3)), YML_INT);
	ck_assert_str_eq(yml_str(yml_get(s.docs[0], "8080")), "port");
	ck_assert_str_eq(yml_str(yml_get(s.docs[0], "yes")), "bool-key");
	yml_stream_release(&s);
	/* complex keys are refused, explicit scalar keys are fine */
	ck_roundtrip("? a\n: 1\n? |\n  b\n: 2\n", "a: 1\n\"b\\n\": 2\n");
	ck_assert_int_eq(parse_fail("? [a]\n: 1\n"), -EINVAL);
	ck_err("t.yaml:1:3: ", "only scalar mapping keys");
	ck_assert_int_eq(parse_fail("{a: 1}: 1\n"), -EINVAL);
	ck_err("t.yaml:1:1: ", "only scalar mapping keys");
	ck_assert_int_eq(parse_fail("a: &x [1]\n*x : 2\n"), -EINVAL);
	ck_err("t.yaml:2:1: ", "only scalar mapping keys");
}
END_TEST

START_TEST(test_long_key)
{
	struct yml_node *m = yml_new_map(), *seq = yml_new_seq(), *item;
	char key[1500], *out;
	struct yml_stream s;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	ck_assert_int_eq(yml_set(m, key, yml_new_str("v")), 0);
	ck_assert_int_eq(yml_set(m, "short", yml_new_int(1)), 0);
	item = yml_copy(m);
	ck_assert_int_eq(yml_push(seq, item), 0);
	ck_assert_int_eq(yml_set(m, "list", seq), 0);
	out = write_node(m);
	ck_assert(str_has_prefix(out, "? kkkk"));
	ck_assert_ptr_nonnull(strstr(out, "k\n: v\nshort: 1\nlist:\n- ? kkk"));
	ck_assert_ptr_nonnull(strstr(out, "k\n  : v\n  short: 1\n"));
	parse(&s, out);
	ck_assert(yml_equal(s.docs[0], m));
	ck_assert_str_eq(yml_str(yml_get(s.docs[0], key)), "v");
	yml_stream_release(&s);
	free(out);
	yml_free(m);
}
END_TEST

START_TEST(test_edit_api)
{
	struct yml_node *m = yml_new_map(), *meta, *ann, *seq, *v, *c;
	char *out;

	ck_assert_int_eq(yml_set(m, "apiVersion", yml_new_str("v1")), 0);
	ck_assert_int_eq(yml_set(m, "kind", yml_new_str("Pod")), 0);
	ck_assert_int_eq(yml_set(m, "spec", yml_new_map()), 0);
	/* insert keeps the others in place */
	meta = yml_new_map();
	ck_assert_int_eq(yml_insert(m, 2, "metadata", meta), 0);
	ck_assert_int_eq(yml_insert(m, 0, "kind", yml_new_null()), -EEXIST);
	ck_assert_int_eq(yml_insert(m, 9, "x", yml_new_null()), -EINVAL);
	ck_assert_int_eq(yml_set(meta, "name", yml_new_str("p")), 0);
	ck_assert_int_eq(yml_set(meta, "annotations", yml_new_null()), 0);
	/* ensure replaces a null in place and reuses what is there */
	ann = yml_ensure(meta, "annotations", YML_MAP);
	ck_assert_ptr_nonnull(ann);
	ck_assert_ptr_eq(yml_ensure(meta, "annotations", YML_MAP), ann);
	ck_assert_ptr_null(yml_ensure(meta, "name", YML_MAP));
	ck_assert_int_eq(yml_set(ann, "conduit.io/inject", yml_new_str("enabled")),
			 0);
	ck_assert_int_eq(yml_set(ann, "port", yml_new_str("8080")), 0);
	seq = yml_ensure(yml_get(m, "spec"), "containers", YML_SEQ);
	ck_assert_ptr_nonnull(seq);
	c = yml_new_map();
	ck_assert_int_eq(yml_set(c, "name", yml_new_str("app")), 0);
	ck_assert_int_eq(yml_push(seq, c), 0);
	c = yml_new_map();
	ck_assert_int_eq(yml_set(c, "name", yml_new_str("conduit-proxy")), 0);
	ck_assert_int_eq(yml_set(c, "ports", yml_new_seq()), 0);
	ck_assert_int_eq(yml_push(yml_get(c, "ports"), yml_new_int(4143)), 0);
	ck_assert_int_eq(yml_seq_insert(seq, 0, c), 0);
	ck_assert_int_eq(yml_seq_insert(seq, 5, yml_new_null()), -EINVAL);
	/* set replaces in place */
	ck_assert_int_eq(yml_set(m, "kind", yml_new_str("Pod")), 0);
	ck_assert_int_eq(yml_set(m, "kind", NULL), -EINVAL);
	ck_assert_int_eq(yml_set(seq, "x", yml_new_null()), -EINVAL);
	ck_assert_int_eq(yml_push(m, yml_new_null()), -EINVAL);
	ck_assert_int_eq(yml_index(m, "metadata"), 2);
	ck_assert_int_eq(yml_index(m, "nope"), -ENOENT);
	out = write_node(m);
	ck_assert_str_eq(out, "apiVersion: v1\n"
			      "kind: Pod\n"
			      "metadata:\n"
			      "  name: p\n"
			      "  annotations:\n"
			      "    conduit.io/inject: enabled\n"
			      "    port: \"8080\"\n"
			      "spec:\n"
			      "  containers:\n"
			      "  - name: conduit-proxy\n"
			      "    ports:\n"
			      "    - 4143\n"
			      "  - name: app\n");
	free(out);
	ck_assert_str_eq(yml_str(yml_get(yml_get(m, "metadata"), "name")), "p");
	ck_assert_str_eq(yml_str(yml_get_path(m, "spec.containers.1.name")),
			 "app");

	/* copy and equality */
	c = yml_copy(m);
	ck_assert(yml_equal(c, m));
	ck_assert_int_eq(yml_set(yml_get(c, "metadata"), "name", yml_new_str("q")),
			 0);
	ck_assert(!yml_equal(c, m));
	yml_free(c);

	/* delete, detach, remove */
	ck_assert_int_eq(yml_remove_at(seq, 0), 0);
	ck_assert_int_eq(yml_remove_at(seq, 5), -ENOENT);
	ck_assert_uint_eq(yml_count(seq), 1);
	v = yml_detach(ann, "port");
	ck_assert_str_eq(yml_str(v), "8080");
	yml_free(v);
	ck_assert_ptr_null(yml_detach(ann, "port"));
	ck_assert_int_eq(yml_delete(meta, "annotations"), 0);
	ck_assert_int_eq(yml_delete(meta, "annotations"), -ENOENT);
	ck_assert_int_eq(yml_remove_at(m, 0), 0);
	out = write_node(m);
	ck_assert_str_eq(out, "kind: Pod\n"
			      "metadata:\n"
			      "  name: p\n"
			      "spec:\n"
			      "  containers:\n"
			      "  - name: app\n");
	free(out);
	yml_free(m);

	/* readers accept NULL */
	ck_assert_int_eq(yml_type(NULL), YML_INVALID);
	ck_assert_ptr_null(yml_get(NULL, "a"));
	ck_assert_ptr_null(yml_at(NULL, 0));
	ck_assert_uint_eq(yml_count(NULL), 0);
	ck_assert_ptr_null(yml_text(NULL));
	ck_assert_ptr_null(yml_copy(NULL));
	ck_assert(yml_equal(NULL, NULL));
	yml_free(NULL);
}
END_TEST

START_TEST(test_equal)
{
	struct yml_stream a, b;

	parse(&a, "x: 0x10\ny: yes\nz: [1, {p: q, r: s}]\nw: .NaN\nv: 1.0\n");
	parse(&b, "v: 1\nz: [1, {r: s, p: q}]\ny: true\nx: 16\nw: .nan\n");
	/* 1.0 is a float and 1 an int: different types */
	ck_assert(!yml_equal(a.docs[0], b.docs[0]));
	ck_assert_int_eq(yml_set(b.docs[0], "v", yml_new_float(1)), 0);
	ck_assert(yml_equal(a.docs[0], b.docs[0]));
	ck_assert(!yml_equal(yml_get(a.docs[0], "z"),
			     yml_get(b.docs[0], "y")));
	ck_assert_int_eq(yml_push(yml_get(b.docs[0], "z"), yml_new_null()), 0);
	ck_assert(!yml_equal(a.docs[0], b.docs[0]));
	yml_stream_release(&a);
	yml_stream_release(&b);
}
END_TEST

START_TEST(test_json_conversion)
{
	static const char in[] =
		"a: 8080\nb: \"8080\"\nc: yes\nd: ~\ne: 1.5\nf: 0x1F\n"
		"g: [1, two, {h: 3}]\ni: {}\nj: []\nk: -0.25\nl: 1e3\n"
		"m: 10000000000\n\"n\": 'off'\n";
	struct yml_stream s;
	struct json *j;
	struct yml_node *back;
	const char *src;
	char *text, *out;

	parse(&s, in);
	j = yml_to_json(s.docs[0], "t.yaml", err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	text = json_print(j, false);
	ck_assert_str_eq(text, "{\"a\":8080,\"b\":\"8080\",\"c\":true,\"d\":null,"
			       "\"e\":1.5,\"f\":31,\"g\":[1,\"two\",{\"h\":3}],"
			       "\"i\":{},\"j\":[],\"k\":-0.25,\"l\":1000,"
			       "\"m\":10000000000,\"n\":\"off\"}");
	back = yml_from_json(j, err, sizeof(err));
	ck_assert_ptr_nonnull(back);
	out = write_node(back);
	ck_assert_str_eq(out, "a: 8080\nb: \"8080\"\nc: true\nd: null\ne: 1.5\n"
			      "f: 31\ng:\n- 1\n- two\n- h: 3\ni: {}\nj: []\n"
			      "k: -0.25\nl: 1000\nm: 10000000000\n\"n\": \"off\"\n");
	free(out);
	yml_free(back);
	json_free(j);
	free(text);
	yml_stream_release(&s);

	/* JSON values that need a second look */
	src = "{\"x\": 1e300, \"y\": [\"yes\", 0.1, -0.0], \"z\": \"\\u0000\"}";
	j = json_parse(src, strlen(src), err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	back = yml_from_json(j, err, sizeof(err));
	ck_assert_ptr_nonnull(back);
	out = write_node(back);
	ck_assert_str_eq(out, "x: 1e+300\n\"y\":\n- \"yes\"\n- 0.1\n- 0\nz: \"\"\n");
	free(out);
	yml_free(back);
	json_free(j);

	/* duplicate keys in JSON, too deep JSON, .inf */
	j = json_parse("{\"a\": 1, \"a\": 2}", 16, err, sizeof(err));
	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_null(yml_from_json(j, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "duplicate key \"a\""));
	json_free(j);
	{
		char deep[200];

		memset(deep, '[', 65);
		memset(deep + 65, ']', 65);
		j = json_parse(deep, 130, err, sizeof(err));
		ck_assert_ptr_nonnull(j);
		ck_assert_ptr_null(yml_from_json(j, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "deeper than 64"));
		json_free(j);
		j = json_parse(deep + 1, 128, err, sizeof(err));
		back = yml_from_json(j, err, sizeof(err));
		ck_assert_ptr_nonnull(back);
		yml_free(back);
		json_free(j);
	}
	/* strings that need JSON escapes */
	parse(&s, "a: \"q\\\"\\\\\\x01\\t\\n\xc3\xa9\"\n");
	j = yml_to_json(s.docs[0], "t.yaml", err, sizeof(err));
	text = json_print(j, false);
	ck_assert_str_eq(text, "{\"a\":\"q\\\"\\\\\\u0001\\t\\n\xc3\xa9\"}");
	free(text);
	json_free(j);
	yml_stream_release(&s);
	parse(&s, "a:\n  b: [1, -.inf]\n");
	ck_assert_ptr_null(yml_to_json(s.docs[0], "t.yaml", err, sizeof(err)));
	ck_err("t.yaml:2:10: ", "-.inf has no JSON form");
	yml_stream_release(&s);
}
END_TEST

START_TEST(test_anchors_and_merge)
{
	static const char in[] =
		"base: &base\n"
		"  image: web\n"
		"  pull: Always\n"
		"  ports: &ports [80, 443]\n"
		"other: &o {pull: Never, extra: 1}\n"
		"a:\n"
		"  <<: *base\n"
		"  pull: IfNotPresent\n"
		"  name: a\n"
		"b:\n"
		"  name: b\n"
		"  <<: [*o, *base]\n"
		"c: *ports\n"
		"d: {\"<<\": literal}\n";
	static const char out[] = "base:\n"
				  "  image: web\n"
				  "  pull: Always\n"
				  "  ports:\n"
				  "  - 80\n"
				  "  - 443\n"
				  "other:\n"
				  "  pull: Never\n"
				  "  extra: 1\n"
				  "a:\n"
				  "  image: web\n"
				  "  ports:\n"
				  "  - 80\n"
				  "  - 443\n"
				  "  pull: IfNotPresent\n"
				  "  name: a\n"
				  "b:\n"
				  "  name: b\n"
				  "  pull: Never\n"
				  "  extra: 1\n"
				  "  image: web\n"
				  "  ports:\n"
				  "  - 80\n"
				  "  - 443\n"
				  "c:\n"
				  "- 80\n"
				  "- 443\n"
				  "d:\n"
				  "  \"<<\": literal\n";

	ck_roundtrip(in, out);
	/* an anchor redefined later: aliases take the latest */
	ck_roundtrip("a: &x 1\nb: *x\nc: &x 2\nd: *x\ne: &x [&x 3, *x]\n",
		     "a: 1\nb: 1\nc: 2\nd: 2\ne:\n- 3\n- 3\n");
	/* anchors on and inside merged nodes stay usable after the merge */
	ck_roundtrip("a:\n  <<: &m {x: &v 1, y: 2}\n  x: 3\ne: &k <<\nb: *m\n"
		     "c: *v\nd: *k\nf: {*k : 1}\n",
		     "a:\n  y: 2\n  x: 3\ne: \"<<\"\nb:\n  x: 1\n  y: 2\nc: 1\n"
		     "d: \"<<\"\nf:\n  \"<<\": 1\n");
	/* merges count as alias expansion */
	{
		struct yml_limits lim = { .max_alias_nodes = 3 };
		const char *in2 = "a: &a {x: 1, y: 2}\nb: {<<: *a}\nc: {<<: *a}\n";

		ck_assert_int_eq(parse_fail_lim(in2, strlen(in2), &lim), -E2BIG);
		ck_err("t.yaml:2:", "aliases expand to more than 3 nodes");
	}
	ck_assert_int_eq(parse_fail("a:\n  <<: 1\n"), -EINVAL);
	ck_err("t.yaml:2:7: ", "merge key << needs a mapping");
	ck_assert_int_eq(parse_fail("a:\n  <<: [{a: 1}, 2]\n"), -EINVAL);
	ck_err("t.yaml:2:7: ", "merge key << needs a mapping");
	ck_assert_int_eq(parse_fail("a: {<<: {a: 1}, <<: {b: 1}}\n"), -EINVAL);
	ck_err("t.yaml:1:17: ", "duplicate key \"<<\"");
}
END_TEST

/* ---- hostile input: one test per case ------------------------------- */

START_TEST(test_billion_laughs)
{
	static const char in[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct yml_limits lim = { .max_alias_nodes = 100 };
	char big[256];

	ck_assert_int_eq(parse_fail(in), -E2BIG);
	ck_err("t.yaml:6:", "aliases expand to more than 1000000 nodes");
	/* configurable */
	ck_assert_int_eq(parse_fail_lim(in, strlen(in), &lim), -E2BIG);
	ck_err("t.yaml:2:", "aliases expand to more than 100 nodes");
	/* bytes, too: a big scalar aliased many times */
	snprintf(big, sizeof(big), "a: &a %0100d\nb: [*a, *a, *a, *a]\n", 0);
	lim = (struct yml_limits){ .max_alias_bytes = 250 };
	ck_assert_int_eq(parse_fail_lim(big, strlen(big), &lim), -E2BIG);
	ck_err("t.yaml:2:", "aliases expand to more than 250 bytes");
}
END_TEST

START_TEST(test_depth_limit)
{
	char in[300];
	struct yml_limits lim = { .max_depth = 3 };
	size_t i;

	/* 64 levels are fine, the event opening the 65th stops the parse */
	memset(in, '[', 64);
	memset(in + 64, ']', 64);
	in[128] = '\0';
	{
		char *out = roundtrip(in);

		free(out);
	}
	memset(in, '[', 65);
	memset(in + 65, ']', 65);
	in[130] = '\0';
	ck_assert_int_eq(parse_fail(in), -E2BIG);
	ck_err("t.yaml:1:65: ", "nesting deeper than 64 levels");
	/* block style, configurable */
	ck_assert_int_eq(parse_fail_lim("a:\n b:\n  c:\n   d: 1\n", 20, &lim),
			 -E2BIG);
	ck_err("t.yaml:4:4: ", "nesting deeper than 3 levels");
	/* an alias may not nest deeper than the limit either */
	ck_assert_int_eq(parse_fail_lim("a: &a [[1]]\nb: [*a]\n", 20, &lim),
			 -E2BIG);
	ck_err("t.yaml:2:5: ", "alias *a nests deeper than 3 levels");
	/* a deep stream is refused fast (libyaml alone is super-linear) */
	{
		size_t n = 4u << 20;
		char *deep = xmalloc(n);
		clock_t t0 = clock();

		for (i = 0; i < n; i++)
			deep[i] = i % 2 ? '\n' : '[';
		ck_assert_int_eq(parse_fail_lim(deep, n, NULL), -E2BIG);
		ck_err("t.yaml:65:1: ", "nesting deeper than 64 levels");
		ck_assert(clock() - t0 < CLOCKS_PER_SEC);
		memset(deep, '[', n);
		ck_assert_int_eq(parse_fail_lim(deep, n, NULL), -E2BIG);
		ck_err("t.yaml:1:65: ", "nesting deeper");
		free(deep);
	}
}
END_TEST

START_TEST(test_document_limit)
{
	struct yml_limits lim = { .max_docs = 3 };
	const char *in = "a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n";

	ck_assert_int_eq(parse_fail_lim(in, strlen(in), &lim), -E2BIG);
	ck_err("t.yaml:6:1: ", "more than 3 documents");
	lim = (struct yml_limits){ .max_doc_nodes = 5 };
	in = "a: 1\nb: 2\n---\nc: [1, 2, 3]\n";
	ck_assert_int_eq(parse_fail_lim(in, strlen(in), &lim), -E2BIG);
	ck_err("t.yaml:4:", "document has more than 5 nodes");
	lim = (struct yml_limits){ .max_nodes = 8 };
	ck_assert_int_eq(parse_fail_lim(in, strlen(in), &lim), -E2BIG);
	ck_err("t.yaml:4:", "stream has more than 8 nodes");
}
END_TEST

START_TEST(test_scalar_limit)
{
	struct yml_limits lim = { .max_scalar = 16 };
	const char *in = "a: short\nb:\n  c: 'this one is longer than 16'\n";

	ck_assert_int_eq(parse_fail_lim(in, strlen(in), &lim), -E2BIG);
	ck_err("t.yaml:3:6: ", "scalar of 26 bytes is larger than the 16-byte limit");
}
END_TEST

START_TEST(test_input_limit)
{
	struct yml_limits lim = { .max_input = 10 };
	const char *in = "a: 1\nb: 2\nc: 3\n";

	ck_assert_int_eq(parse_fail_lim(in, strlen(in), &lim), -E2BIG);
	ck_err("t.yaml:3:1: ", "input of 15 bytes is larger than the 10-byte limit");
}
END_TEST

START_TEST(test_binary_garbage)
{
	static const unsigned char junk[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0 };
	char buf[4096];
	unsigned seed = 7;

	ck_assert_int_eq(parse_fail_lim((const char *)junk, sizeof(junk), NULL),
			 -EINVAL);
	ck_err("t.yaml:1:1: ", "control character 0x7F");
	/* random bytes never crash: some error every time */
	for (int round = 0; round < 200; round++) {
		struct yml_stream s;

		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(seed >> 16);
		}
		yml_stream_init(&s);
		ck_assert_int_lt(yml_parse(&s, buf, sizeof(buf), "t.yaml", NULL,
					   err, sizeof(err)), 0);
		ck_assert(str_has_prefix(err, "t.yaml:"));
		ck_assert_uint_eq(s.count, 0);
	}
}
END_TEST

START_TEST(test_invalid_utf8)
{
	ck_assert_int_eq(parse_fail("a: ok\nb: caf\xc3\n"), -EINVAL);
	ck_err("t.yaml:2:7: ", "invalid UTF-8 byte 0xC3");
	ck_assert_int_eq(parse_fail("a: \xed\xa0\x80\n"), -EINVAL); /* surrogate */
	ck_err("t.yaml:1:4: ", "invalid UTF-8");
	ck_assert_int_eq(parse_fail("a: \xc0\xaf\n"), -EINVAL); /* overlong */
	ck_err("t.yaml:1:4: ", "invalid UTF-8");
	ck_assert_int_eq(parse_fail("\xff\xfe" "a\0:\0"), -EINVAL);
	ck_err("t.yaml:1:1: ", "UTF-16 input is not supported");
	ck_assert_int_eq(parse_fail("a: \xc2\x9b\n"), -EINVAL);
	ck_err("t.yaml:1:4: ", "control character U+009B");
	/* a UTF-8 BOM is fine */
	ck_roundtrip("\xef\xbb\xbf" "a: 1\n", "a: 1\n");
}
END_TEST

START_TEST(test_nul_bytes)
{
	ck_assert_int_eq(parse_fail_lim("a: 1\nb: x\0y\n", 12, NULL), -EINVAL);
	ck_err("t.yaml:2:5: ", "NUL byte in the input");
	ck_assert_int_eq(parse_fail("a: \"x\\0y\"\n"), -EINVAL);
	ck_err("t.yaml:1:4: ", "NUL character (\\0) in a scalar");
}
END_TEST

START_TEST(test_truncated)
{
	ck_assert_int_eq(parse_fail("a: [1, 2\n"), -EINVAL);
	ck_err("t.yaml:2:1: ", "did not find expected ',' or ']'");
	ck_assert_int_eq(parse_fail("a: \"abc"), -EINVAL);
	ck_err("t.yaml:1:8: ", "unexpected end of input (truncated?) "
			       "(while scanning a quoted scalar at 1:4)");
	ck_assert_int_eq(parse_fail("a: {b: 1"), -EINVAL);
	/* libyaml puts the end of input on a line of its own */
	ck_err("t.yaml:2:1: ", "did not find expected ',' or '}'");
	ck_assert_int_eq(parse_fail("a:\n  - b\n c: d\n"), -EINVAL);
	ck_err("t.yaml:3:2: ", "did not find expected key");
}
END_TEST

START_TEST(test_tab_indentation)
{
	ck_assert_int_eq(parse_fail("a:\n\tb: 1\n"), -EINVAL);
	ck_err("t.yaml:2:1: ", "tab character where YAML wants spaces");
	ck_assert_int_eq(parse_fail("a:\n  - x\n  -\tb:\n\t\tc\n"), -EINVAL);
	ck_err("t.yaml:", "tab character");
	/* tabs inside values and flow collections are fine */
	ck_roundtrip("a: x\ty\nb: [1,\t2]\n", "a: \"x\\ty\"\nb:\n- 1\n- 2\n");
}
END_TEST

START_TEST(test_duplicate_keys)
{
	char *big;
	size_t i, off = 0;

	ck_assert_int_eq(parse_fail("metadata:\n  name: a\n  labels: {}\n"
				    "  name: b\n"),
			 -EINVAL);
	ck_err("t.yaml:4:3: ", "duplicate key \"name\" (first at 2:3)");
	/* quoted and plain spellings are the same key, as in JSON */
	ck_assert_int_eq(parse_fail("{8080: a, \"8080\": b}\n"), -EINVAL);
	ck_err("t.yaml:1:11: ", "duplicate key \"8080\" (first at 1:2)");
	/* in a large mapping (hashed): found, and fast */
	big = xmalloc(20000 * 16 + 32);
	for (i = 0; i < 20000; i++)
		off += (size_t)sprintf(big + off, "key%zu: %zu\n", i, i);
	{
		struct yml_stream s;
		clock_t t0 = clock();

		struct json *j;

		parse(&s, big);
		ck_assert_uint_eq(yml_count(s.docs[0]), 20000);
		ck_assert_str_eq(yml_text(yml_get(s.docs[0], "key19999")),
				 "19999");
		/* and converting it is linear too */
		j = yml_to_json(s.docs[0], "t.yaml", err, sizeof(err));
		ck_assert_uint_eq(json_count(j), 20000);
		ck_assert(clock() - t0 < CLOCKS_PER_SEC / 2);
		json_free(j);
		yml_stream_release(&s);
	}
	sprintf(big + off, "key777: again\n");
	ck_assert_int_eq(parse_fail(big), -EINVAL);
	ck_err("t.yaml:20001:1: ", "duplicate key \"key777\" (first at 778:1)");
	free(big);
}
END_TEST

START_TEST(test_bad_aliases)
{
	ck_assert_int_eq(parse_fail("a: 1\nb: *nope\n"), -EINVAL);
	ck_err("t.yaml:2:4: ", "unknown alias *nope");
	/* anchors do not cross documents */
	ck_assert_int_eq(parse_fail("a: &x 1\n---\nb: *x\n"), -EINVAL);
	ck_err("t.yaml:3:4: ", "unknown alias *x");
	ck_assert_int_eq(parse_fail("a: &x [1, *x]\n"), -EINVAL);
	ck_err("t.yaml:1:11: ", "alias *x refers to a collection that contains it");
}
END_TEST

START_TEST(test_syntax_errors)
{
	ck_assert_int_eq(parse_fail("a: b: c\n"), -EINVAL);
	ck_err("t.yaml:1:5: ", "mapping values are not allowed");
	ck_assert_int_eq(parse_fail("- a\nb: c\n"), -EINVAL);
	ck_err("t.yaml:2:1: ", "did not find expected");
	ck_assert_int_eq(parse_fail("%YAML 1.1\n%YAML 1.1\n---\na\n"), -EINVAL);
	ck_err("t.yaml:2:1: ", "duplicate %YAML directive");
	ck_assert_int_eq(parse_fail("a: !!int\n"), -EINVAL);
	ck_err("t.yaml:1:4: ", "cannot be read as !!int");
}
END_TEST

/* parse+write of many small documents stays linear */
START_TEST(test_many_documents)
{
	struct buf in, out;
	struct yml_stream s;
	clock_t t0;

	buf_init(&in, 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(buf_printf(&in,
					    "---\napiVersion: v1\nkind: Service\n"
					    "metadata:\n  name: svc-%d\n"
					    "spec:\n  ports:\n  - port: 80\n"
					    "    targetPort: \"8080\"\n",
					    i),
				 0);
	t0 = clock();
	yml_stream_init(&s);
	ck_assert_int_eq(yml_parse(&s, (char *)buf_head(&in), buf_len(&in),
				   "t.yaml", NULL, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(s.count, 10000);
	buf_init(&out, 0);
	ck_assert_int_eq(yml_write_stream(&out, &s), 0);
	ck_assert(clock() - t0 < 2 * CLOCKS_PER_SEC);
	ck_assert_uint_eq(buf_len(&out), buf_len(&in) - 4);
	buf_release(&out);
	buf_release(&in);
	yml_stream_release(&s);
}
END_TEST

START_TEST(test_write_errors)
{
	struct yml_node *m = yml_new_map();
	struct buf b;

	ck_assert_int_eq(yml_set(m, "key", yml_new_str("a long enough value")),
			 0);
	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "x", 1), 0);
	ck_assert_int_eq(yml_write(&b, m), -ENOBUFS);
	ck_assert_uint_eq(buf_len(&b), 1); /* left as it was */
	buf_release(&b);
	yml_free(m);
}
END_TEST

Suite *yaml_suite(void)
{
	Suite *s = suite_create("yaml");
	TCase *tc = tcase_create("tree");
	TCase *hostile = tcase_create("hostile");

	tcase_add_test(tc, test_deployment_roundtrip);
	tcase_add_test(tc, test_multi_document);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_json_manifest);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_scalar_types);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_key_order_and_keys);
	tcase_add_test(tc, test_long_key);
	tcase_add_test(tc, test_edit_api);
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_json_conversion);
	tcase_add_test(tc, test_anchors_and_merge);
	tcase_add_test(tc, test_many_documents);
	tcase_add_test(tc, test_write_errors);
	suite_add_tcase(s, tc);

	tcase_set_timeout(hostile, 20);
	tcase_add_test(hostile, test_billion_laughs);
	tcase_add_test(hostile, test_depth_limit);
	tcase_add_test(hostile, test_document_limit);
	tcase_add_test(hostile, test_scalar_limit);
	tcase_add_test(hostile, test_input_limit);
	tcase_add_test(hostile, test_binary_garbage);
	tcase_add_test(hostile, test_invalid_utf8);
	tcase_add_test(hostile, test_nul_bytes);
	tcase_add_test(hostile, test_truncated);
	tcase_add_test(hostile, test_tab_indentation);
	tcase_add_test(hostile, test_duplicate_keys);
	tcase_add_test(hostile, test_bad_aliases);
	tcase_add_test(hostile, test_syntax_errors);
	suite_add_tcase(s, hostile);
	return s;
}
