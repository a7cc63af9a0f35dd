/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kube_watch_fuzz.c - libFuzzer target for the watch-stream decoder: the
 * input, after its first byte, is a watch response body; it is decoded
 * whole and again cut into pieces whose sizes come from the first byte,
 * with a small line limit so the limit is reached too. Both runs must
 * deliver the same events (or fail the same way); every event has what
 * the decoder promises (a name unless BOOKMARK or ERROR, a
 * resourceVersion for a BOOKMARK).
 *   make build/fuzz/bin/kube_watch
 *   build/fuzz/bin/kube_watch -max_total_time=20 test/fuzz/corpus/kube_watch
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "conduit/kube_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	uint64_t hash;
	size_t n;
};

static int on_ev(void *arg, struct kube_watch_event *ev)
{
	struct trace *t = arg;
	const char *name = kube_object_name(ev->object);

	BUG_ON(!ev->object);
	if (ev->type == KUBE_WATCH_BOOKMARK)
		BUG_ON(!ev->rv);
	else if (ev->type != KUBE_WATCH_ERROR)
		BUG_ON(!name);
	t->hash = t->hash * 31 + (uint64_t)ev->type + 1;
	for (const char *p = name ? name : ""; *p; p++)
		t->hash = t->hash * 131 + (unsigned char)*p;
	t->n++;
	/* taking the object must leave the event consistent */
	if (t->n % 3 == 0)
		json_free(kube_watch_take(ev));
	return 0;
}

static int run(const uint8_t *p, size_t len, size_t step, struct trace *t)
{
	struct kube_watch_decoder d;
	int r = 0;

	kube_watch_decoder_init(&d, 4096);
	for (size_t off = 0; off < len && !r; off += step) {
		size_t n = len - off < step ? len - off : step;

		r = kube_watch_decode(&d, (const char *)p + off, n, on_ev, t);
		BUG_ON(r && !d.err[0]);
		BUG_ON(kube_watch_pending(&d) > 4096);
	}
	kube_watch_decoder_release(&d);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole = {0}, cut = {0};
	size_t step;
	int r1, r2;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	r1 = run(data + 1, size - 1, size, &whole);
	r2 = run(data + 1, size - 1, step, &cut);
	BUG_ON(r1 != r2);
	if (!r1) {
		BUG_ON(whole.n != cut.n);
		BUG_ON(whole.hash != cut.hash);
	}
	return 0;
}
