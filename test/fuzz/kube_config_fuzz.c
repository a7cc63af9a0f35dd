/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kube_config_fuzz.c - libFuzzer target for kubeconfig parsing
 * (kube_config_load_text): whatever the bytes, a result or a refusal that
 * says where ("kubeconfig: ..."), nothing leaked either way. File names it
 * meets resolve under an empty directory, and servers that are names fail
 * (no lookups are made for them: the host must be an IP literal here).
 *   make build/fuzz/bin/kube_config
 *   build/fuzz/bin/kube_config -max_total_time=20 test/fuzz/corpus/kube_config
 */
#include <stdint.h>
#include <string.h>

#include "conduit/kube_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config c;
	char err[1024] = "";
	int r;

	/* a name in the server would be resolved: keep the fuzzer offline */
	if (memmem(data, size, "://", 3)) {
		const uint8_t *p = memmem(data, size, "://", 3) + 3;

		if (p < data + size &&
		    ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return 0;
	}
	r = kube_config_load_text((const char *)data, size, "fuzz.yml",
				  "/nonexistent-dir", NULL, &c, err,
				  sizeof(err));
	if (r) {
		BUG_ON(r > 0);
		BUG_ON(strncmp(err, "kubeconfig: ", 12) != 0);
		BUG_ON(c.server || c.host || c.ca || c.token);
		return 0;
	}
	BUG_ON(!c.server || !c.host || !c.context);
	BUG_ON(c.port < 1 || c.port > 65535);
	BUG_ON(!c.cert != !c.key);
	kube_config_release(&c);
	return 0;
}
