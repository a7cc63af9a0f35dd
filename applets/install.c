/* SPDX-License-Identifier: Apache-2.0 */
/*
 * install.c - `conduit install`: print the control plane's manifests
 *
 *   conduit install [-n NS] [flags] | kubectl apply -f -
 *
 * Everything is rendered and checked before a byte is written: a bad flag
 * or certificate file prints one error and nothing on stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "applets.h"
#include "conduit/flag.h"
#include "conduit/install.h"
#include "conduit/manifest.h"
#include "conduit/version.h"

int applet_install(int argc, char **argv)
{
	struct install_config c;
	const char *output = "yaml", *registry = NULL;
	bool classic = false;
	char repo[300];
	enum manifest_format fmt;
	struct yml_stream docs;
	struct buf out;
	char err[1024];
	int r, rc = 1;

	install_config_defaults(&c, version_string());
	const struct flag flags[] = {
		{ FLAG_STRING, 'n', "conduit-namespace", &c.namespace_, "NS",
		  "Namespace of the control plane" },
		{ FLAG_STRING, 0, "registry", &registry, "REGISTRY",
		  "Registry of the conduit image: REGISTRY/conduit:VERSION" },
		{ FLAG_STRING, 0, "image-repo", &c.image_repo, "REPO",
		  "The whole repository of the conduit image: REPO:VERSION" },
		{ FLAG_STRING, 0, "version", &c.version, "VERSION",
		  "Tag of the conduit image" },
		{ FLAG_STRING, 0, "image-pull-policy", &c.image_pull_policy, "POLICY",
		  "Always, IfNotPresent or Never" },
		{ FLAG_INT, 0, "controller-replicas", &c.controller_replicas, "N",
		  "Replicas of each control-plane component", NULL, 1, 100 },
		{ FLAG_BOOL, 0, "ha", &c.ha, NULL,
		  "High availability: at least 3 replicas, spread over nodes" },
		{ FLAG_STRING, 0, "log-level", &c.log_level, "LEVEL",
		  "Log level of the control plane and its proxies" },
		{ FLAG_BOOL, 0, "prometheus", &c.prometheus, NULL,
		  "Install conduit's Prometheus (false: stats come from the "
		  "controller's own scraper)" },
		{ FLAG_STRING, 0, "prometheus-image", &c.prometheus_image, "IMAGE",
		  "Image of the Prometheus Deployment" },
		{ FLAG_STRING, 0, "identity-trust-anchors-file", &c.trust_anchors_file,
		  "FILE", "PEM trust anchors (default: generated, 1 year)" },
		{ FLAG_STRING, 0, "identity-issuer-certificate-file", &c.issuer_cert_file,
		  "FILE", "PEM issuer certificate, chaining to the trust anchors" },
		{ FLAG_STRING, 0, "identity-issuer-key-file", &c.issuer_key_file, "FILE",
		  "PEM issuer private key (ECDSA P-256)" },
		{ FLAG_INT, 0, "identity-issuer-lifetime-days", &c.issuer_lifetime_days,
		  "DAYS", "Lifetime of a generated issuer", NULL, 1, 36500 },
		{ FLAG_BOOL, 0, "classic-sidecar", &classic, NULL,
		  "Proxies as classic sidecar containers (Kubernetes before 1.29)" },
		{ FLAG_STRING, 'o', "output", &output, "FORMAT", "yaml or json" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "install",
		.usage = "conduit install [flags]",
		.summary = "Print the control plane's Kubernetes manifests",
		.details = "  conduit install | kubectl apply -f -\n\n"
			   "Prints, in apply order: the namespace, service accounts, RBAC\n"
			   "with least privilege, the identity trust anchor and issuer, the\n"
			   "controller, identity, proxy-injector and web Deployments (each\n"
			   "injected with the proxy) and their Services, Prometheus, and the\n"
			   "proxy injector's MutatingWebhookConfiguration.",
		.flags = flags,
		.max_args = 0,
	};

	r = flag_parse(&cmd, &argc, &argv);
	if (r)
		return flag_exit_code(r);
	c.native_sidecar = !classic;
	if (registry) {
		snprintf(repo, sizeof(repo), "%s/conduit", registry);
		c.image_repo = repo;
	}
	if (manifest_parse_format(output, &fmt))
		return flag_usage_error(&cmd, "invalid value \"%s\" for flag -o: want yaml or json",
					output);
	yml_stream_init(&docs);
	buf_init(&out, 0);
	r = install_render(&c, &docs, err, sizeof(err));
	if (r && registry && str_has_prefix(err, "--image-repo"))
		snprintf(err, sizeof(err), "--registry: \"%.200s\" is not a registry "
					   "(host[:port][/path], lower case, no scheme)",
			 registry);
	if (r) {
		fprintf(stderr, "conduit install: %s\n", err);
		rc = r == -EINVAL && str_has_prefix(err, "--") ? 2 : 1;
		goto out;
	}
	if (manifest_write(&docs, fmt, &out, err, sizeof(err))) {
		fprintf(stderr, "conduit install: %s\n", err);
		goto out;
	}
	if (manifest_flush(&out)) {
		perror("conduit install: writing stdout");
		goto out;
	}
	rc = 0;
out:
	buf_release(&out);
	yml_stream_release(&docs);
	return rc;
}
