/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inject.c - `conduit inject`: add the proxy to Kubernetes manifests
 *
 *   conduit inject FILE|DIR|- ... [flags] | kubectl apply -f -
 *
 * Reads every input (directories recursively), injects every object with
 * pods, annotates Namespaces, passes everything else through in order, and
 * writes the result to stdout only when all went well: a refusal (a
 * hostNetwork pod, another mesh's sidecar), bad input or a bad flag writes
 * nothing there, so a pipe into kubectl applies nothing. The report goes to
 * stderr.
 */
#include <stdio.h>
#include <string.h>

#include "applets.h"
#include "conduit/flag.h"
#include "conduit/inject.h"
#include "conduit/manifest.h"
#include "conduit/version.h"

int applet_inject(int argc, char **argv)
{
	struct inject_config c;
	char err[1024];
	const char *output = "yaml";
	bool native = true;
	const char *anchors_file = NULL;
	struct buf anchors;
	enum manifest_format fmt;
	struct yml_stream docs;
	struct inject_report rep;
	struct buf out;
	int r, rc = 1;

	inject_config_defaults(&c, version_string(), version_image());
	const struct flag flags[] = {
		{ FLAG_STRING, 0, "proxy-image", &c.proxy_image, "IMAGE",
		  "Image of the conduit-proxy container" },
		{ FLAG_STRING, 0, "init-image", &c.init_image, "IMAGE",
		  "Image of the conduit-init container (the same binary)" },
		{ FLAG_STRING, 0, "image-pull-policy", &c.image_pull_policy, "POLICY",
		  "Always, IfNotPresent or Never" },
		{ FLAG_INT, 0, "proxy-uid", &c.proxy_uid, "UID",
		  "User ID the proxy runs as (never redirected)" },
		{ FLAG_INT, 0, "inbound-port", &c.inbound_port, "PORT",
		  "Proxy port for inbound traffic" },
		{ FLAG_INT, 0, "outbound-port", &c.outbound_port, "PORT",
		  "Proxy port for outbound traffic" },
		{ FLAG_INT, 0, "admin-port", &c.admin_port, "PORT",
		  "Proxy port for metrics and probes" },
		{ FLAG_INT, 0, "control-port", &c.control_port, "PORT",
		  "Proxy port for tap" },
		{ FLAG_STRING, 0, "skip-inbound-ports", &c.skip_inbound_ports, "PORTS",
		  "Inbound ports (and ranges: 8000-8010) that bypass the proxy" },
		{ FLAG_STRING, 0, "skip-outbound-ports", &c.skip_outbound_ports, "PORTS",
		  "Outbound ports (and ranges) that bypass the proxy" },
		{ FLAG_STRING, 0, "proxy-log-level", &c.proxy_log_level, "LEVEL",
		  "error, warn, info, debug or trace" },
		{ FLAG_STRING, 0, "proxy-cpu-request", &c.cpu_request, "QUANTITY",
		  "CPU request of the proxy (e.g. 100m)" },
		{ FLAG_STRING, 0, "proxy-cpu-limit", &c.cpu_limit, "QUANTITY",
		  "CPU limit of the proxy" },
		{ FLAG_STRING, 0, "proxy-memory-request", &c.memory_request, "QUANTITY",
		  "Memory request of the proxy (e.g. 20Mi)" },
		{ FLAG_STRING, 0, "proxy-memory-limit", &c.memory_limit, "QUANTITY",
		  "Memory limit of the proxy" },
		{ FLAG_STRING, 'n', "conduit-namespace", &c.control_plane_ns, "NS",
		  "Namespace of the control plane" },
		{ FLAG_BOOL, 0, "native-sidecar", &native, NULL,
		  "Run the proxy as a native sidecar (Kubernetes 1.29+); "
		  "false for a classic sidecar container" },
		{ FLAG_STRING, 0, "identity-trust-anchors-file", &anchors_file,
		  "FILE",
		  "Trust anchors (PEM) of the mesh: the proxies get identities and "
		  "speak mutual TLS (the ConfigMap conduit-identity-trust-roots "
		  "holds install's); without it, identity is disabled" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT", "yaml or json" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "inject",
		.usage = "conduit inject FILE|DIR|- ... [flags]",
		.summary = "Add the proxy to Kubernetes manifests",
		.details = "Injects Deployments, StatefulSets, DaemonSets, ReplicaSets,\n"
			   "ReplicationControllers, Jobs, CronJobs, Pods and the items of a\n"
			   "List; annotates Namespaces; passes other kinds through. Pod\n"
			   "annotations config.conduit.io/<flag> override the flags for that\n"
			   "workload; conduit.io/inject: disabled leaves it alone.\n\n"
			   "  conduit inject app.yml | kubectl apply -f -\n"
			   "  kubectl get deploy -o yaml | conduit inject - | kubectl apply -f -",
		.flags = flags,
		.min_args = 1,
		.max_args = -1,
	};

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	c.native_sidecar = native;
	if (manifest_parse_format(output, &fmt))
		return flag_usage_error(&cmd, "invalid value \"%s\" for flag -o: want yaml or json",
					output);
	if (inject_config_check(&c, err, sizeof(err)))
		return flag_usage_error(&cmd, "%s", err);
	buf_init(&anchors, 1u << 20);
	if (anchors_file &&
	    inject_read_trust_anchors(anchors_file, &anchors, err, sizeof(err))) {
		buf_release(&anchors);
		return flag_usage_error(&cmd, "--identity-trust-anchors-file: %s",
					err);
	}
	if (anchors_file)
		c.trust_anchors_pem = buf_cstr(&anchors);

	yml_stream_init(&docs);
	inject_report_init(&rep);
	buf_init(&out, 0);
	r = manifest_read((const char *const *)argv, (size_t)argc, &docs, err,
			  sizeof(err));
	if (r) {
		fprintf(stderr, "conduit inject: %s\n", err);
		goto out;
	}
	/* YAML: write each document as soon as it is injected and free its
	 * tree, so memory holds the input's trees and the output's text, not
	 * both trees (10,000 Deployments: a third of the peak) */
	for (size_t i = 0; i < docs.count && !r; i++) {
		r = inject_doc(docs.docs[i], &c, &rep);
		if (r || fmt != MANIFEST_YAML || yml_type(docs.docs[i]) == YML_NULL)
			continue;
		if (buf_len(&out))
			r = buf_append_str(&out, "---\n");
		if (!r)
			r = yml_write(&out, docs.docs[i]);
		yml_free(docs.docs[i]);
		docs.docs[i] = yml_new_null();
	}
	if (r) {
		fprintf(stderr, "conduit inject: %s\n", strerror(-r));
		goto out;
	}
	fwrite(buf_head(&rep.lines), 1, buf_len(&rep.lines), stderr);
	if (rep.refused) {
		fprintf(stderr, "conduit inject: %zu object%s refused: nothing written\n",
			rep.refused, rep.refused == 1 ? "" : "s");
		goto out;
	}
	if (!rep.injected) {
		fprintf(stderr, "conduit inject: no injectable object in the input "
				"(%zu object%s read): nothing written\n",
			rep.total, rep.total == 1 ? "" : "s");
		goto out;
	}
	if (fmt == MANIFEST_JSON && manifest_write(&docs, fmt, &out, err, sizeof(err))) {
		fprintf(stderr, "conduit inject: %s\n", err);
		goto out;
	}
	if (manifest_flush(&out)) {
		perror("conduit inject: writing stdout");
		goto out;
	}
	rc = 0;
out:
	buf_release(&out);
	buf_release(&anchors);
	inject_report_release(&rep);
	yml_stream_release(&docs);
	return rc;
}
