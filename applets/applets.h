/* SPDX-License-Identifier: Apache-2.0 */
/* applets.h - the applet table: one line per applet */
#ifndef CONDUIT_APPLETS_H
#define CONDUIT_APPLETS_H

/*
 * APPLET(ident, "name", "summary"): implemented by
 *     int applet_<ident>(int argc, char **argv)
 * in applets/<ident>.c; argv[0] is the applet's name.
 * STUB(ident, "name", "summary"): registered but not built yet; it
 * answers --help and otherwise says "not implemented yet" and exits 1.
 *
 * Adding an applet: write applets/<ident>.c and add (or turn a STUB
 * into) one line here. Keep the list sorted by name: --list prints it
 * in this order.
 */
#define APPLET_LIST(APPLET, STUB)                                              \
	APPLET(check, "check", "Check the mesh's installation and health")     \
	APPLET(controller, "controller", "Run the control plane components")   \
	APPLET(dashboard, "dashboard", "Open the mesh dashboard in a browser") \
	APPLET(demo, "demo", "Run the whole mesh and a sample app on this machine") \
	APPLET(demo_app, "demo-app", "Run one service of the emojivoto sample app") \
	APPLET(edges, "edges", "Show who talks to whom, and whether it is secured") \
	APPLET(get, "get", "List meshed resources")                              \
	APPLET(inject, "inject", "Add the proxy to Kubernetes manifests")        \
	APPLET(install, "install", "Print the control plane's Kubernetes manifests") \
	APPLET(proxy, "proxy", "Run the sidecar data plane proxy")               \
	APPLET(proxy_init, "proxy-init", "Install the traffic redirect rules in a pod's network namespace") \
	APPLET(stat, "stat", "Show success rate, request rate and latency")    \
	APPLET(tap, "tap", "Watch live requests")                                \
	APPLET(top, "top", "Show the busiest paths, live")                       \
	APPLET(uninject, "uninject", "Remove the proxy from Kubernetes manifests") \
	APPLET(version, "version", "Print the client and server version information")

#define APPLET_DECLARE(ident, name, summary) \
	int applet_##ident(int argc, char **argv);
#define APPLET_IGNORE(ident, name, summary)
APPLET_LIST(APPLET_DECLARE, APPLET_IGNORE)
#undef APPLET_DECLARE
#undef APPLET_IGNORE

#endif
