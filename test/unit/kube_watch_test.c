/* SPDX-License-Identifier: Apache-2.0 */
/* kube_watch_test.c - the decoder on recorded watch streams */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/kube_watch.h"
#include "kube_fake.h"
#include "suites.h"

/* what the callback saw: "TYPE rv" per event, and the last ERROR */
struct seen {
	struct buf log;
	size_t n[5];
	int code;
	char message[128];
	int fail_at; /* return -ESTALE at this event (1-based), 0 never */
};

static int on_ev(void *arg, struct kube_watch_event *ev)
{
	struct seen *s = arg;

	s->n[ev->type]++;
	buf_printf(&s->log, "%s %s\n", kube_watch_type_name(ev->type),
		   ev->rv ? ev->rv : "-");
	if (ev->type == KUBE_WATCH_ERROR) {
		s->code = ev->code;
		snprintf(s->message, sizeof(s->message), "%s", ev->message);
	}
	if (s->fail_at && (size_t)s->fail_at ==
			      s->n[0] + s->n[1] + s->n[2] + s->n[3] + s->n[4])
		return -ESTALE;
	return 0;
}

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->log, 0);
}

/* decode body in pieces of step bytes (0: random sizes) */
static void decode_pieces(const struct buf *body, size_t step, struct seen *s)
{
	struct kube_watch_decoder d;
	size_t off = 0;
	unsigned seed = 7;

	kube_watch_decoder_init(&d, 0);
	while (off < buf_len(body)) {
		size_t n = step ? step : 1 + (size_t)(rand_r(&seed) % 5000);

		n = MIN(n, buf_len(body) - off);
		ck_assert_int_eq(kube_watch_decode(&d,
						   (char *)buf_head(body) + off,
						   n, on_ev, s),
				 0);
		off += n;
	}
	ck_assert_uint_eq(kube_watch_pending(&d), 0);
	kube_watch_decoder_release(&d);
}

START_TEST(test_recorded_stream)
{
	struct buf body;
	struct seen whole, bytes, random;
	int status = 0;

	fixture_body("pods-watch.http", &body, &status);
	ck_assert_int_eq(status, 200);
	seen_init(&whole);
	seen_init(&bytes);
	seen_init(&random);
	decode_pieces(&body, buf_len(&body), &whole);
	/* the scale 3 -> 5 -> 2 the recording saw, and the bookmark before
	 * the timeout */
	ck_assert_uint_eq(whole.n[KUBE_WATCH_ADDED], 2);
	ck_assert_uint_eq(whole.n[KUBE_WATCH_MODIFIED], 11);
	ck_assert_uint_eq(whole.n[KUBE_WATCH_BOOKMARK], 1);
	ck_assert_uint_eq(whole.n[KUBE_WATCH_ERROR], 0);
	/* one byte at a time and at random cuts: the same events */
	decode_pieces(&body, 1, &bytes);
	decode_pieces(&body, 0, &random);
	ck_assert_str_eq(buf_cstr(&bytes.log), buf_cstr(&whole.log));
	ck_assert_str_eq(buf_cstr(&random.log), buf_cstr(&whole.log));
	buf_release(&whole.log);
	buf_release(&bytes.log);
	buf_release(&random.log);
	buf_release(&body);
}
END_TEST

START_TEST(test_recorded_deletes)
{
	struct buf body;
	struct seen s;

	fixture_body("pods-watch-delete.http", &body, NULL);
	seen_init(&s);
	decode_pieces(&body, 0, &s);
	ck_assert_uint_eq(s.n[KUBE_WATCH_DELETED], 5);
	ck_assert_uint_eq(s.n[KUBE_WATCH_ADDED], 2);
	ck_assert_uint_eq(s.n[KUBE_WATCH_BOOKMARK], 1);
	buf_release(&s.log);
	buf_release(&body);
}
END_TEST

/* the raw chunked response, through http1 in small reads, as the client does */
START_TEST(test_chunked_through_http1)
{
	struct http1_parser *p = http1_parser_new(HTTP1_RESPONSE, NULL);
	struct kube_watch_decoder d;
	struct buf raw, in, body;
	struct seen s, ref;
	size_t off = 0;
	unsigned seed = 3;
	bool done = false;

	fixture_load("pods-watch.http", &raw);
	fixture_body("pods-watch.http", &body, NULL);
	seen_init(&ref);
	decode_pieces(&body, buf_len(&body), &ref);
	seen_init(&s);
	kube_watch_decoder_init(&d, 0);
	buf_init(&in, 0);
	while (!done) {
		size_t n =
		    MIN(1 + (size_t)(rand_r(&seed) % 700), buf_len(&raw) - off);

		buf_append(&in, buf_head(&raw) + off, n);
		off += n;
		for (;;) {
			struct http1_event ev;
			ssize_t c = http1_parse(p, (char *)buf_head(&in),
						buf_len(&in), &ev);

			ck_assert_int_ge(c, 0);
			if (ev.type == HTTP1_BODY)
				ck_assert_int_eq(kube_watch_decode(&d, ev.body,
								   ev.body_len,
								   on_ev, &s),
						 0);
			buf_consume(&in, (size_t)c);
			if (ev.type == HTTP1_DONE)
				done = true;
			if (ev.type == HTTP1_NONE || done)
				break;
		}
		ck_assert(off < buf_len(&raw) || done);
	}
	ck_assert_str_eq(buf_cstr(&s.log), buf_cstr(&ref.log));
	kube_watch_decoder_release(&d);
	http1_parser_free(p);
	buf_release(&in);
	buf_release(&raw);
	buf_release(&body);
	buf_release(&s.log);
	buf_release(&ref.log);
}
END_TEST

START_TEST(test_error_410)
{
	struct buf body;
	struct seen s;
	int status = 0;

	fixture_body("pods-watch-410.http", &body, &status);
	ck_assert_int_eq(status, 200); /* the 410 is inside the stream */
	seen_init(&s);
	decode_pieces(&body, 0, &s);
	ck_assert_uint_eq(s.n[KUBE_WATCH_ERROR], 1);
	ck_assert_int_eq(s.code, 410);
	ck_assert_ptr_nonnull(strstr(s.message, "too old resource version"));
	buf_release(&s.log);
	buf_release(&body);
}
END_TEST

START_TEST(test_oversize_line)
{
	struct kube_watch_decoder d;
	struct seen s;
	char line[300];

	seen_init(&s);
	kube_watch_decoder_init(&d, 100);
	memset(line, 'x', sizeof(line));
	/* whole in one piece */
	ck_assert_int_eq(kube_watch_decode(&d, line, sizeof(line), on_ev, &s),
			 -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(d.err, "longer than 100 bytes"));
	kube_watch_decoder_reset(&d);
	/* a complete line, no copy: also bounded */
	line[200] = '\n';
	ck_assert_int_eq(kube_watch_decode(&d, line, 201, on_ev, &s),
			 -EMSGSIZE);
	kube_watch_decoder_reset(&d);
	/* grown over several reads, the partial line never passes the limit */
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(kube_watch_decode(&d, line, 10, on_ev, &s), 0);
	ck_assert_uint_eq(kube_watch_pending(&d), 90);
	ck_assert_int_eq(kube_watch_decode(&d, line, 20, on_ev, &s), -EMSGSIZE);
	ck_assert_uint_le(d.line.len, 100);
	kube_watch_decoder_release(&d);
	buf_release(&s.log);
}
END_TEST

static const struct {
	const char *line;
	const char *why;
} garbage[] = {
    {"not json\n", "not JSON"},
    {"{\"object\":{}}\n", "no type"},
    {"{\"type\":\"WHAT\",\"object\":{}}\n", "unknown type WHAT"},
    {"{\"type\":\"ADDED\"}\n", "no object"},
    {"{\"type\":\"ADDED\",\"object\":[]}\n", "no object"},
    {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}\n",
     "without metadata.name"},
    {"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}\n",
     "no resourceVersion"},
    {"{\"type\":\"ADDED\",\"object\":{}} trailing\n", "not JSON"},
    {"\x01\x02\n", "not JSON"},
};

START_TEST(test_garbage)
{
	struct kube_watch_decoder d;
	struct seen s;

	seen_init(&s);
	kube_watch_decoder_init(&d, 0);
	ck_assert_int_eq(kube_watch_decode(&d, garbage[_i].line,
					   strlen(garbage[_i].line), on_ev, &s),
			 -EPROTO);
	if (!strstr(d.err, garbage[_i].why))
		ck_abort_msg("\"%s\" lacks \"%s\"", d.err, garbage[_i].why);
	ck_assert_uint_eq(s.log.len, 0);
	kube_watch_decoder_release(&d);
	buf_release(&s.log);
}
END_TEST

START_TEST(test_blank_lines_and_stop)
{
	static const char stream[] =
	    "\n  \r\n"
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"resourceVersion\":\"5\"}}}\r\n"
	    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{"
	    "\"resourceVersion\":\"9\"}}}\n"
	    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"resourceVersion\":\"10\"}}}\n"
	    "{\"type\":\"ADDED\",\"obj";
	struct kube_watch_decoder d;
	struct seen s;

	seen_init(&s);
	kube_watch_decoder_init(&d, 0);
	ck_assert_int_eq(
	    kube_watch_decode(&d, stream, strlen(stream), on_ev, &s), 0);
	ck_assert_str_eq(buf_cstr(&s.log), "ADDED 5\nBOOKMARK 9\nDELETED 10\n");
	ck_assert_uint_eq(kube_watch_pending(&d), 20);
	ck_assert_uint_eq(d.events, 3);

	/* the callback's error stops decoding and is returned */
	kube_watch_decoder_reset(&d);
	buf_clear(&s.log);
	memset(s.n, 0, sizeof(s.n));
	s.fail_at = 2;
	ck_assert_int_eq(
	    kube_watch_decode(&d, stream, strlen(stream), on_ev, &s), -ESTALE);
	ck_assert_str_eq(buf_cstr(&s.log), "ADDED 5\nBOOKMARK 9\n");
	kube_watch_decoder_release(&d);
	buf_release(&s.log);
}
END_TEST

static int take_it(void *arg, struct kube_watch_event *ev)
{
	struct json **out = arg;

	*out = kube_watch_take(ev);
	ck_assert_ptr_null(ev->object);
	ck_assert_ptr_null(kube_watch_take(ev));
	return 0;
}

START_TEST(test_take)
{
	static const char line[] =
	    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":"
	    "{\"name\":\"n\",\"namespace\":\"ns\",\"resourceVersion\":\"42\"}}}"
	    "\n";
	struct kube_watch_decoder d;
	struct json *obj = NULL;

	kube_watch_decoder_init(&d, 0);
	ck_assert_int_eq(
	    kube_watch_decode(&d, line, strlen(line), take_it, &obj), 0);
	ck_assert_ptr_nonnull(obj);
	ck_assert_str_eq(kube_object_name(obj), "n");
	ck_assert_str_eq(kube_object_namespace(obj), "ns");
	ck_assert_str_eq(kube_object_rv(obj), "42");
	json_free(obj);
	kube_watch_decoder_release(&d);
}
END_TEST

Suite *kube_watch_suite(void)
{
	Suite *s = suite_create("kube_watch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_recorded_stream);
	tcase_add_test(tc, test_recorded_deletes);
	tcase_add_test(tc, test_chunked_through_http1);
	tcase_add_test(tc, test_error_410);
	tcase_add_test(tc, test_oversize_line);
	tcase_add_loop_test(tc, test_garbage, 0, (int)ARRAY_SIZE(garbage));
	tcase_add_test(tc, test_blank_lines_and_stop);
	tcase_add_test(tc, test_take);
	suite_add_tcase(s, tc);
	return s;
}
