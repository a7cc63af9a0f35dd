/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity_fuzz.c - libFuzzer target for what identity's Certify reads
 * from the network: the CertifyRequest (identity_parse_request: the
 * message, the name, the token, the CSR and its SANs) and a bare CSR
 * (pki_csr_parse). Every refusal carries a reason; a request that passes
 * names a CSR whose one DNS SAN is the identity.
 *   make build/fuzz/bin/identity
 *   build/fuzz/bin/identity -max_total_time=20 test/fuzz/corpus/identity
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/identity.h"
#include "conduit/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SUFFIX "serviceaccount.identity.conduit.cluster.local"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity_request r;
	struct pki_csr_info info;
	struct pki_csr *csr;
	char why[600] = "", err[256] = "";
	int status;

	status = identity_parse_request(data, size, SUFFIX, &r, why, sizeof(why));
	if (status == GRPC_OK) {
		pki_csr_get_info(r.csr, &info);
		BUG_ON(info.n_dns_names != 1 || info.n_other_names);
		BUG_ON(strcmp(info.dns_name0, r.name));
		BUG_ON(!r.token || !r.token_len || strlen(r.token) != r.token_len);
		identity_request_release(&r);
	} else {
		BUG_ON(!why[0]);
		BUG_ON(r.csr || r.token);
	}

	csr = pki_csr_parse(data, size, err, sizeof(err));
	if (csr) {
		pki_csr_get_info(csr, &info);
		BUG_ON(!info.dns_name0);
		BUG_ON(!info.n_dns_names && info.dns_name0[0]);
		pki_csr_free(csr);
	} else {
		BUG_ON(!err[0]);
	}
	return 0;
}
