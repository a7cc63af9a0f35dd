/* SPDX-License-Identifier: Apache-2.0 */
/*
 * injector_fuzz.c - libFuzzer target for injector_review(): the bytes are
 * an AdmissionReview body as the webhook receives it (no terminator, so
 * ASan sees any read past the end). A refusal says why, and yields no
 * answer; anything else is an answer that parses, allowed, with the
 * request's uid, and whose patch, when there is one, applies to the
 * request's object.
 *   make build/fuzz/bin/injector
 *   build/fuzz/bin/injector -max_total_time=20 test/fuzz/corpus/injector
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/base64.h"
#include "conduit/buf.h"
#include "conduit/injector.h"
#include "conduit/jsonpatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct json *ns_enabled(void *arg, const char *ns)
{
	(void)ns;
	return arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct inject_config cfg;
	static struct json *ann;
	struct injector_review_config rc = { .inject = &cfg };
	char why[600] = "", err[300], *out;
	enum injector_result r;
	struct json *ans, *body, *req, *obj;
	const char *patch;

	if (!ann) {
		inject_config_defaults(&cfg, "v1.0.0", "localhost/conduit:v1.0.0");
		ann = json_parse("{\"conduit.io/inject\":\"enabled\"}", 31, err, sizeof(err));
	}
	/* half the inputs in a namespace that asks for the proxy */
	if (size && (data[size - 1] & 1)) {
		rc.ns_annotations = ns_enabled;
		rc.arg = ann;
	}
	r = injector_review(&rc, (const char *)data, size, &out, why, sizeof(why));
	BUG_ON(!why[0]);
	if (r == INJECTOR_BAD_REQUEST) {
		BUG_ON(out);
		return 0;
	}
	BUG_ON(!out || r >= INJECTOR_NRESULTS);
	ans = json_parse(out, strlen(out), err, sizeof(err));
	BUG_ON(!ans);
	body = json_parse((const char *)data, size, err, sizeof(err));
	req = json_get(body, "request");
	BUG_ON(!req);
	BUG_ON(strcmp(json_string(json_get(json_get(ans, "response"), "uid")),
		      json_string(json_get(req, "uid"))));
	patch = json_string(json_get(json_get(ans, "response"), "patch"));
	BUG_ON(!!patch != (r == INJECTOR_INJECTED));
	if (patch) {
		struct buf raw;
		struct json *p;

		buf_init(&raw, 0);
		BUG_ON(base64_decode(patch, strlen(patch), &raw));
		p = json_parse((const char *)buf_head(&raw), buf_len(&raw), err, sizeof(err));
		BUG_ON(!p);
		obj = json_copy(json_get(req, "object"));
		BUG_ON(jsonpatch_apply(&obj, p, err, sizeof(err)));
		json_free(obj);
		json_free(p);
		buf_release(&raw);
	}
	json_free(body);
	json_free(ans);
	free(out);
	return 0;
}
