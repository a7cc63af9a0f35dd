/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.c - `conduit check`: the cluster, the control plane, the proxies
 *
 *   conduit check [--pre] [--proxy -n NS] [--wait D] [--conduit-namespace NS]
 *
 * Exit 0 when every check passed (warnings allowed), 1 when one failed,
 * 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets.h"
#include "conduit/check.h"
#include "conduit/flag.h"
#include "conduit/time.h"

int applet_check(int argc, char **argv)
{
	const char *env_ns = getenv("CONDUIT_NAMESPACE");
	struct check_opts o = {
		.cp_ns = env_ns && *env_ns ? env_ns : "conduit",
		.out = stdout,
	};
	bool proxy = false;
	const char *ns = NULL;
	int64_t wait = 0;
	const struct flag flags[] = {
		{ FLAG_BOOL, 0, "pre", &o.pre, NULL,
		  "Before install: can the control plane go in?" },
		{ FLAG_BOOL, 0, "proxy", &proxy, NULL,
		  "Also check the proxies of the pods in --namespace" },
		{ FLAG_STRING, 'n', "namespace", &ns, "NS",
		  "With --proxy: the namespace whose pods to check (default \"default\")" },
		{ FLAG_STRING, 0, "conduit-namespace", &o.cp_ns, "NS",
		  "Namespace of the control plane (default $CONDUIT_NAMESPACE, else \"conduit\")" },
		{ FLAG_DURATION, 0, "wait", &wait, "DURATION",
		  "Retry a failing check for this long (e.g. 2m; default: no retry)" },
		{ FLAG_STRING, 0, "kubeconfig", &o.kubeconfig, "FILE",
		  "Kubeconfig (default $KUBECONFIG, in-cluster, ~/.kube/config)" },
		{ FLAG_STRING, 0, "context", &o.context, "NAME",
		  "Kubeconfig context (default: its current-context)" },
		{ FLAG_END },
	};
	const struct flag_cmd cmd = {
		.name = "check",
		.usage = "conduit check [flags]",
		.summary = "Check the mesh's installation and health",
		.details = "Checks that the Kubernetes API answers and runs a supported version; with --pre, that the control plane can be installed; else that it is installed and healthy (its Deployments, pods and proxies, the identity issuer and trust anchors, the injector's webhook, the public API); with --proxy, that the pods of a namespace are meshed and their proxies ready.\n\n  conduit check --pre && conduit install | kubectl apply -f -\n  conduit check --wait 2m\n  conduit check --proxy -n emojivoto",
		.flags = flags,
		.min_args = 0,
		.max_args = 0,
	};
	int r = flag_parse(&cmd, &argc, &argv);

	if (r)
		return flag_exit_code(r);
	if (ns && !proxy)
		return flag_usage_error(&cmd, "-n names the pods --proxy checks: add --proxy");
	if (wait < 0)
		return flag_usage_error(&cmd, "--wait must not be negative");
	if (proxy)
		o.proxy_ns = ns ? ns : "default";
	o.wait = (double)wait / NSEC_PER_SEC;
	return check_run(&o);
}
